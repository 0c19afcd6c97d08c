"""docker/elf_strip.py: the builder's stand-in for binutils' `strip --strip-unneeded`.

The builder image has no binutils (see the Dockerfile's comment), so the slim step
strips extension modules with this small Python file. Here it is held to the standard
tool, on the very files it strips in the image: the extension modules of the locked
wheels in build/wheelhouse/ (scripts/wheelhouse.sh fills it; `make test` runs that).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.prereq import need

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docker"))  # the builder runs it from /opt/slim, beside slim_rootfs
from elf_strip import PROGRAM, SECTION, strip_debug  # noqa: E402

WHEELHOUSE = ROOT / "build" / "wheelhouse"


def extension_modules() -> dict[str, bytes]:
    """'wheel member' -> bytes, for every .so in the wheelhouse's wheels."""
    if not WHEELHOUSE.is_dir():
        subprocess.run(["bash", "scripts/wheelhouse.sh"], cwd=ROOT, check=True,
                       env={**os.environ, "PYTHON": sys.executable}, stdout=subprocess.DEVNULL)
    found = {}
    for wheel in sorted(WHEELHOUSE.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.endswith(".so"):
                    found[name] = archive.read(name)
    return found


@pytest.fixture(scope="module")
def modules() -> dict[str, bytes]:
    found = extension_modules()
    assert any("hiredis" in name for name in found), sorted(found)
    return found


def sections(data: bytes) -> list[str]:
    """Section names, in order, from the section header table."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [SECTION.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]
    return [data[names_at + h[0]:data.index(b"\0", names_at + h[0])].decode() for h in headers]


def loaded_end(data: bytes) -> int:
    """Where the last loadable byte ends: everything before it is what the loader maps."""
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return max(PROGRAM.unpack_from(data, phoff + i * phentsize)[2]
               + PROGRAM.unpack_from(data, phoff + i * phentsize)[5] for i in range(phnum))


def without_section_fields(data: bytes) -> bytes:
    return data[:0x28] + data[0x30:0x3C] + data[0x40:]


def test_drops_debug_info_and_keeps_every_loaded_byte(modules):
    for name, data in modules.items():
        stripped = strip_debug(data)
        before, after = sections(data), sections(stripped)
        assert not [s for s in after if s.startswith(".debug") or s in (".symtab", ".strtab")]
        assert after == [s for s in before
                         if not s.startswith(".debug") and s not in (".symtab", ".strtab")]
        # What the loader maps is unchanged, but for the ELF header's pointer to the
        # section header table (e_shoff, e_shnum, e_shstrndx), which it never reads.
        end = loaded_end(data)
        assert without_section_fields(stripped[:end]) == without_section_fields(data[:end]), \
            f"{name}: a loaded byte changed"
        assert strip_debug(stripped) == stripped, f"{name}: stripping twice changed it again"
    hiredis = next(data for name, data in modules.items() if "hiredis" in name)
    assert len(strip_debug(hiredis)) < len(hiredis) / 4, "hiredis's wheel ships its DWARF"


def test_leaves_what_it_does_not_understand_alone():
    assert strip_debug(b"#!/bin/sh\necho not ELF\n") == b"#!/bin/sh\necho not ELF\n"
    elf32 = b"\x7fELF\x01\x01\x01" + bytes(45)  # ELFCLASS32: not handled, not touched
    assert strip_debug(elf32) == elf32


def test_same_sections_as_binutils_strip_unneeded(modules, tmp_path):
    """The standard tool, where it is installed and knows the wheels' architecture."""
    need("strip", None if shutil.which("strip") else
         "binutils' strip is not installed (Debian: apt-get install binutils)")
    for name, data in modules.items():
        path = tmp_path / Path(name).name
        path.write_bytes(data)
        done = subprocess.run(["strip", "--strip-unneeded", str(path)],
                              capture_output=True, text=True)
        if "recognise the format" in done.stderr or "not recognized" in done.stderr:
            need("strip", f"this strip cannot read {name}'s architecture: {done.stderr.strip()}")
        assert done.returncode == 0, done.stderr
        theirs, ours = path.read_bytes(), strip_debug(data)
        assert sections(ours) == sections(theirs), name
        # binutils also shrinks .shstrtab and the annobin notes: a few hundred bytes.
        assert len(theirs) <= len(ours) <= len(theirs) + 1024, (name, len(ours), len(theirs))


def test_a_stripped_hiredis_still_parses(modules, tmp_path):
    """Run the stripped extension module, the way the image imports it."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    wheel = next(WHEELHOUSE.glob("hiredis-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path)
    module = next((tmp_path / "hiredis").glob("*.so"))
    # The wheelhouse holds the image's wheels (CPython 3.11); CI's Python is 3.11 too.
    need("python3.11", None if module.name.endswith(suffix) else
         f"{module.name} is not for this interpreter ({suffix})")
    shipped = module.read_bytes()
    subprocess.run([sys.executable, str(ROOT / "docker" / "elf_strip.py"), str(module)],
                   check=True, capture_output=True)  # as a command, in place
    assert module.read_bytes() == strip_debug(shipped) != shipped
    parsed = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "import hiredis; r = hiredis.Reader(); r.feed(b'*2\\r\\n+OK\\r\\n:5\\r\\n'); "
         "print(r.gets())", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert parsed.returncode == 0, parsed.stderr
    assert parsed.stdout.strip() == "[b'OK', 5]"
