"""Drop what only debuggers read from an ELF file: DWARF (.debug_*) and the static
symbol table (.symtab, .strtab), like `strip --strip-unneeded` on a shared object.

Why in Python: neither builder image (python:3.11-slim, nor the offline stand-in
scripts/base-images.sh makes) has binutils, and PyPI wheels often ship extension
modules with debug info -- hiredis's is 83 % DWARF and symbols. Measured (issue 22):

  file (linux/amd64 wheel)  as shipped   this file   strip --strip-unneeded
  hiredis ... .so              938,712     160,432      160,072
  tornado/speedups.abi3.so      20,944      14,992       14,648

binutils drops the same sections; it also shrinks .shstrtab and the annobin notes
(.gnu.build.attributes), 704 bytes in all. Without stripping, the amd64 image is
0.78 MB larger (20.17 MB, over the 20 MB budget); the arm64 one 0.81 MB (19.87 MB).
tests/test_elf_strip.py compares this file with binutils where binutils is installed.

None of these sections is loaded at run time: they live after the loadable
segments, so the file keeps every byte up to the end of its last segment, then the
remaining sections (.shstrtab, ...) are appended and the section header table is
rewritten. Anything unusual (not 64-bit little-endian,
a dropped section inside a segment, a kept section linking to a dropped one)
leaves the file untouched.
"""

from __future__ import annotations

import struct

SECTION = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
PROGRAM = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr
SHF_ALLOC, SHF_INFO_LINK = 0x2, 0x40
SHT_NOBITS, SHT_RELA, SHT_REL = 8, 4, 9
# The static symbol table and its names: for debuggers and `nm`; the dynamic linker uses
# .dynsym/.dynstr, which are kept.
DEBUGGER_ONLY = {b".symtab", b".strtab"}


def strip_debug(data: bytes) -> bytes:
    if data[:4] != b"\x7fELF" or data[4:6] != b"\x02\x01":  # ELFCLASS64, little-endian
        return data
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    if not shoff or shentsize != SECTION.size:
        return data
    segments_end = max((PROGRAM.unpack_from(data, phoff + i * phentsize)[2]
                        + PROGRAM.unpack_from(data, phoff + i * phentsize)[5]
                        for i in range(phnum)), default=0)
    sections = [list(SECTION.unpack_from(data, shoff + i * shentsize)) for i in range(shnum)]
    names_at = sections[shstrndx][4]

    def name(s: list) -> bytes:
        return data[names_at + s[0]:data.index(b"\0", names_at + s[0])]

    drop = {i for i, s in enumerate(sections)
            if name(s).startswith(b".debug") or name(s) in DEBUGGER_ONLY}
    if not drop or any(sections[i][2] & SHF_ALLOC or sections[i][4] < segments_end for i in drop):
        return data
    keep = [i for i in range(shnum) if i not in drop]
    if any(sections[i][6] in drop for i in keep):
        return data
    new_index = {old: new for new, old in enumerate(keep)}

    out = bytearray(data[:segments_end])
    headers = []
    for i in keep:
        s = sections[i][:]
        if i and s[1] != SHT_NOBITS and s[4] >= segments_end:  # stored after the segments: move
            out += b"\0" * (-len(out) % max(s[8], 1))
            chunk = data[s[4]:s[4] + s[5]]
            s[4] = len(out)
            out += chunk
        s[6] = new_index[s[6]] if s[6] else 0  # sh_link: a section index
        if s[1] in (SHT_REL, SHT_RELA) and s[2] & SHF_INFO_LINK:
            s[7] = new_index[s[7]]
        headers.append(SECTION.pack(*s))
    out += b"\0" * (-len(out) % 8)
    struct.pack_into("<Q", out, 0x28, len(out))
    struct.pack_into("<HH", out, 0x3C, len(keep), new_index[shstrndx])
    out += b"".join(headers)
    return bytes(out)


if __name__ == "__main__":  # python elf_strip.py FILE...  (strips in place)
    import sys

    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            before = f.read()
        after = strip_debug(before)
        if after != before:
            with open(path, "wb") as f:
                f.write(after)
        print(f"{path}: {len(before)} -> {len(after)} bytes")
