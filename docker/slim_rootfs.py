"""Assemble the smallest root filesystem that still runs the service.

Why not just copy a virtualenv onto a slim Python image? That image carries a
shell, apt, 150 MB of Debian and the whole standard library, of which the service
imports a small part. We *observe* the real service instead: run it, drive every
endpoint (exercise.py), then keep only

* the interpreter and the shared libraries its process actually mapped (the
  process reads its own /proc/self/maps at exit: under qemu-user emulation,
  e.g. an arm64 build on x86_64, /proc/<pid>/maps read from outside shows the
  emulator), under their original paths, with the symlinks the loader uses
  and /etc/ld.so.cache -- whatever the prefix (/usr/local or /usr);
* the standard-library modules it imported (the process writes sys.modules out
  at exit, so lazy and importlib.import_module imports count), plus all of
  `encodings` (codecs are imported by name on demand) -- compiled, in
  <prefix>/lib/python311.zip, which the interpreter puts on sys.path by itself;
* the locked third-party distributions with their metadata (licences
  included): pure-Python ones whole in that zip, so their lazy imports work
  too; ones with extension modules (tornado, hiredis) as directories, because
  extension modules cannot be loaded from a zip -- there, uncompressed, only
  the modules the service imported plus every extension module;
* the service itself, compiled.

Then the result is run again, chrooted and as nobody, through the same requests:
the build fails if it answers differently or prints anything on stderr.

Usage (in the builder stage, run by the venv's python, cwd = the app dir):
    python slim_rootfs.py --root /rootfs --requirements requirements.txt
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import py_compile
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

from elf_strip import strip_debug
from exercise import exercise

# The service's process environment in the image (the Dockerfile sets the same).
RUNTIME_ENV = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}
ENTRYPOINT = "/usr/local/bin/python"  # a stable path whatever the prefix
NOBODY = "65534"
# Never needed at run time, large (tornado/test alone is ~1 MB of the budget).
SKIP_DIRS = {"__pycache__", "test", "tests"}
# Type stubs, stale bytecode, and the Cython/C sources some wheels ship beside their
# extension modules: none is read at run time.
SKIP_SUFFIXES = (".pyi", ".pyc", "py.typed", ".pyx", ".pxd", ".pxi", ".c", ".h")
# Optional imports (inside `try: ... except ImportError`) that the service never
# needs, but that would drag in shared libraries. They are made unimportable
# while tracing, so the traced process behaves exactly as it will in the image.
LEFT_OUT = {
    "curses": "tornado.log: colours on a terminal only (+ ncurses, 0.55 MB)",
    "bz2": "zipfile, via importlib.metadata: bzip2 archives (+ libbz2)",
    "lzma": "zipfile, via importlib.metadata: xz archives (+ liblzma, 0.3 MB)",
    "_uuid": "uuid: only uuid1() uses it; the service calls uuid4() (+ libuuid)",
}
# glibc >= 2.35 has C.UTF-8 built in (Python's locale coercion asks for it),
# so its locale files on disk are 0.35 MB of duplicate; the gconv cache only
# serves iconv(), which Python does not use.
NOT_COPIED = ("/usr/lib/locale/", "/usr/lib/x86_64-linux-gnu/gconv/",
              "/usr/lib/aarch64-linux-gnu/gconv/")


class Rootfs:
    def __init__(self, root: str) -> None:
        self.root = root
        self.copied: set[str] = set()  # every source path asked for, as asked
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)

    def path(self, abspath: str) -> str:
        return os.path.join(self.root, abspath.lstrip("/"))

    def copy(self, src: str) -> None:
        """Copy src under its own path, recreating every symlink on the way.

        The loader opens e.g. /lib64/ld-linux-x86-64.so.2 and /lib/<triplet>/libz.so.1;
        on merged-/usr Debian /lib is a symlink and libz.so.1 another one. Keeping
        the links keeps every path the loader or ld.so.cache may use valid.
        """
        self.copied.add(src)
        parts = src.strip("/").split("/")
        current = "/"
        for i, part in enumerate(parts):
            current = os.path.join(current, part)
            dest = self.path(current)
            if os.path.islink(current):
                target = os.readlink(current)
                if not os.path.lexists(dest):
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    os.symlink(target, dest)
                resolved = os.path.normpath(os.path.join(os.path.dirname(current), target))
                return self.copy(os.path.join(resolved, *parts[i + 1:]))
            if i == len(parts) - 1:
                if not os.path.exists(dest):
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    shutil.copy2(current, dest)
            elif not os.path.isdir(current):
                raise FileNotFoundError(src)

    def write(self, abspath: str, data: bytes | str, mode: int = 0o644) -> None:
        dest = self.path(abspath)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(dest, mode)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def compiled(source: str, shown_as: str) -> bytes:
    """Bytecode without docstrings/asserts; no source check (there is no source)."""
    with tempfile.NamedTemporaryFile(suffix=".pyc") as tmp:
        py_compile.compile(source, cfile=tmp.name, dfile=shown_as, doraise=True, optimize=2,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        return read(tmp.name)


def elf_interpreter(executable: str) -> str:
    """PT_INTERP of a 64-bit little-endian ELF: the dynamic loader's path."""
    with open(executable, "rb") as f:
        data = f.read(1 << 16)
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 3:
            return data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
    raise ValueError(f"{executable} has no PT_INTERP")


def loader_aliases() -> dict[str, list[str]]:
    """real path -> the paths ld.so.cache lists for it (sonames are often symlinks)."""
    aliases: dict[str, list[str]] = {}
    listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for path in re.findall(r"=> (\S+)", listing):
        aliases.setdefault(os.path.realpath(path), []).append(path)
    return aliases


# Put on the traced process's PYTHONPATH: `site` imports it at start-up, and at exit
# it lists every module the process imported (-X importtime would miss tornado's
# importlib.import_module()) and, asked to, the files it has mapped.
SITECUSTOMIZE = """\
import atexit, os, sys

def _dump():
    with open({out!r}, "w") as f:
        for name, module in list(sys.modules.items()):
            spec = getattr(module, "__spec__", None)  # some entries are not real modules
            f.write(f"{{name}}\\t{{getattr(spec, 'origin', None)}}\\n")
    if os.environ.get("SLIM_SELF_MAPS"):  # exercise.py asks for the mappings (see there)
        with open("/proc/self/maps") as maps, open(os.environ["SLIM_SELF_MAPS"], "w") as f:
            f.write(maps.read())

atexit.register(_dump)
"""


def trace_dir() -> tuple[str, str]:
    """A PYTHONPATH entry with the exit hook and the LEFT_OUT stand-ins."""
    path = tempfile.mkdtemp()
    out = os.path.join(path, "modules.tsv")
    with open(os.path.join(path, "sitecustomize.py"), "w") as f:
        f.write(SITECUSTOMIZE.format(out=out))
    for module, why in LEFT_OUT.items():
        with open(os.path.join(path, module + ".py"), "w") as f:
            f.write(f"raise ImportError({'left out of the image: ' + why!r})\n")
    return path, out


def copy_licences(root: Rootfs, stdlib: str) -> None:
    """Ship the licence of everything copied from the base image beside it.

    Debian keeps them in /usr/share/doc/<package>/copyright; dpkg says which
    package each copied file came from. The official image's own CPython build
    is no Debian package: its LICENSE.txt sits in the stdlib directory.
    """
    packages = {"ca-certificates"}  # its bundle is generated, so dpkg does not own it
    if shutil.which("dpkg"):
        found = subprocess.run(["dpkg", "-S", *sorted(root.copied)],
                               capture_output=True, text=True).stdout  # misses are fine
        for line in found.splitlines():
            for package in line.split(": ", 1)[0].split(", "):
                packages.add(package.split(":")[0])
    seen: dict[bytes, str] = {}  # one copy of each text; e.g. python3.11's twins link to it
    for package in sorted(packages):
        path = os.path.realpath(f"/usr/share/doc/{package}/copyright")
        if not os.path.exists(path) or path in seen.values():
            continue
        text = read(path)
        if text in seen:
            os.makedirs(os.path.dirname(root.path(path)), exist_ok=True)
            os.symlink(seen[text], root.path(path))
        else:
            root.copy(path)
            seen[text] = path
    if os.path.exists(os.path.join(stdlib, "LICENSE.txt")):
        root.copy(os.path.join(stdlib, "LICENSE.txt"))


def module_name(relpath: str) -> str:
    name = relpath[:-3].replace("/", ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def runtime_files(files, site_dir):
    for f in files or ():
        parts = f.parts
        if parts[0] == ".." or SKIP_DIRS & set(parts) or f.name.endswith(SKIP_SUFFIXES):
            continue
        if parts[0].endswith(".dist-info") and f.name in ("RECORD", "INSTALLER", "REQUESTED"):
            continue  # RECORD would list .py files that are not there
        yield str(f), os.path.join(site_dir, str(f))


@dataclasses.dataclass
class Layout:
    """Where this interpreter keeps things; /usr/local or /usr, venv or not."""

    app_dir: str
    python: str = os.path.realpath(sys._base_executable)
    stdlib: str = os.path.dirname(os.__file__)
    # The build's own setting, which a venv (this process) does not redirect,
    # unlike sysconfig.get_path("platstdlib").
    dynload: str = (sysconfig.get_config_var("DESTSHARED")
                    or os.path.join(os.path.dirname(os.__file__), "lib-dynload"))
    venv_site: str = sysconfig.get_path("purelib")
    stdlib_zip: str = next(p for p in sys.path if p.endswith(".zip"))
    site_dir: str = ""

    def __post_init__(self) -> None:
        # The base interpreter's own site-packages: site.py adds it with no help
        # from PYTHONPATH, so the service imports from any working directory.
        self.site_dir = subprocess.run(
            [self.python, "-I", "-c", "import site; print(site.getsitepackages()[0])"],
            capture_output=True, text=True, check=True).stdout.strip()

    def ours(self, path: str, *more: str) -> bool:
        """Files of the venv or the service: never copied from where they are."""
        return path.startswith((self.venv_site, self.app_dir + "/", *more))


@dataclasses.dataclass
class Trace:
    statuses: list[int]
    hello: bytes
    maps: str  # its own /proc/self/maps at exit: every file it had mapped
    origins: dict[str, str]  # module name -> file (or 'built-in', 'frozen', ...)
    tracer: str


def trace(layout: Layout) -> Trace:
    """Run and drive the service in the builder; record what it used."""
    tracer, modules_tsv = trace_dir()
    statuses, hello, code, service, maps = exercise(
        [sys.executable, "-m", "service"], {**RUNTIME_ENV, "PYTHONPATH": tracer},
        cwd=layout.app_dir)
    # 200 for GET / and 202 for both valid POSTs: the success paths must be traced too.
    if code != 0 or statuses[0] != 200 or statuses[3:5] != [202, 202] or b"".join(service.stderr):
        sys.exit(f"slim_rootfs: the service misbehaved in the builder (exit {code}, "
                 f"{statuses}):\n{service.output()}")
    with open(modules_tsv) as f:
        origins = dict(line.rstrip("\n").split("\t") for line in f)
    print(f"traced: statuses {statuses}, exit code {code}, {len(origins)} modules")
    return Trace(statuses, hello, maps, origins, tracer)


def copy_interpreter_and_libraries(root: Rootfs, layout: Layout, seen: Trace) -> None:
    aliases = loader_aliases()
    mapped = set()
    for line in seen.maps.splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5].startswith("/") and not fields[5].endswith("(deleted)"):
            mapped.add(os.path.realpath(fields[5]))
    mapped |= {os.path.realpath(p) for p in aliases if "libgcc_s.so" in p}  # glibc dlopens it
    root.copy(elf_interpreter(layout.python))
    for path in sorted(mapped):
        if layout.ours(path, seen.tracer, *NOT_COPIED):
            continue  # third-party and service files are compiled in later
        root.copy(path)
        for alias in aliases.get(path, []):
            root.copy(alias)
    root.copy("/etc/ld.so.cache")
    os.makedirs(root.path(os.path.dirname(ENTRYPOINT)), exist_ok=True)
    if not os.path.lexists(root.path(ENTRYPOINT)):
        os.symlink(layout.python, root.path(ENTRYPOINT))


def add_stdlib(root: Rootfs, layout: Layout, seen: Trace, zipped: dict[str, bytes]) -> None:
    """Imported modules + encodings into the zip; extension modules on disk."""
    stdlib = layout.stdlib
    for name, origin in sorted(seen.origins.items()):
        if not os.path.isabs(origin) or layout.ours(origin, seen.tracer):
            continue  # built-in, frozen, namespace, third-party, the service, the tracer
        if origin.endswith(".so"):  # an extension module (usually in lib-dynload)
            root.copy(origin)
        elif origin.startswith(stdlib + "/") and origin.endswith(".py"):
            zipped[os.path.relpath(origin, stdlib)[:-3] + ".pyc"] = compiled(origin, origin)
        else:
            sys.exit(f"slim_rootfs: don't know where {name} ({origin}) belongs")
    # zipimport inflates the zip with zlib; where zlib is an extension module
    # (the official image) it must be there even if the service never used it.
    if "zlib" not in sys.builtin_module_names:
        import zlib
        root.copy(zlib.__file__)
    for f in sorted(os.listdir(os.path.join(stdlib, "encodings"))):
        if f.endswith(".py"):
            src = os.path.join(stdlib, "encodings", f)
            zipped["encodings/" + f[:-3] + ".pyc"] = compiled(src, src)
    # getpath looks for <prefix>/lib/python3.11/os.py(c) and .../lib-dynload to
    # find the prefix; without them every start prints "Could not find ...".
    root.write(os.path.join(stdlib, "os.pyc"), compiled(os.__file__, os.__file__))
    os.makedirs(root.path(layout.dynload), exist_ok=True)


def add_third_party(root: Rootfs, layout: Layout, requirements: str, seen: Trace,
                    zipped: dict[str, bytes]) -> None:
    with open(requirements) as f:
        wanted = re.findall(r"^([A-Za-z0-9_.-]+)==", f.read(), re.M)
    for name in wanted:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            # pip skipped it: its environment marker is false for this Python
            # (async-timeout is only needed before 3.11.3).
            print(f"third-party: {name} not installed here (marker), skipped")
            continue
        files = list(runtime_files(dist.files, layout.venv_site))
        in_zip = not any(rel.endswith(".so") for rel, _ in files)
        if not in_zip:
            # On disk .pyc files are not compressed: whole tornado would cost
            # 0.95 MB of the 20 MB budget, ~3x its zipped size. Keep the modules
            # the traced process imported; extension modules and metadata always.
            files = [(rel, src) for rel, src in files
                     if not rel.endswith(".py") or module_name(rel) in seen.origins]
        for rel, src in files:
            if rel.endswith(".py"):
                data = compiled(src, os.path.join(layout.site_dir, rel))
                rel = rel[:-3] + ".pyc"
            else:
                data = read(src)
            if in_zip and ".dist-info/" not in rel:
                zipped[rel] = data
            else:  # metadata stays a directory: importlib.metadata reads it there
                mode = 0o755 if rel.endswith(".so") else 0o644
                root.write(os.path.join(layout.site_dir, rel), data, mode)
        print(f"third-party: {name} {dist.version} ({'zip' if in_zip else 'directory'})")


def add_service(root: Rootfs, layout: Layout) -> None:
    for dirpath, dirnames, filenames in os.walk(os.path.join(layout.app_dir, "service")):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for f in filenames:
            if f.endswith(".py"):
                src = os.path.join(dirpath, f)
                rel = os.path.relpath(src, layout.app_dir)
                root.write(os.path.join(layout.site_dir, rel[:-3] + ".pyc"),
                           compiled(src, os.path.join(layout.site_dir, rel)))


def write_zip(path: str, zipped: dict[str, bytes]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name in sorted(zipped):  # fixed order and dates: a reproducible zip
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), zipped[name],
                       compress_type=zipfile.ZIP_DEFLATED)


def write_etc(root: Rootfs) -> None:
    """The few /etc files a process expects; CA certificates for TLS to Redis."""
    root.write("/etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\n"
               f"nobody:x:{NOBODY}:{NOBODY}:nobody:/nonexistent:/sbin/nologin\n")
    root.write("/etc/group", f"root:x:0:\nnogroup:x:{NOBODY}:\n")
    # Docker and Kubernetes mount their own /etc/hosts; this one serves chroot.
    root.write("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
    root.write("/etc/hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
    root.copy("/etc/ssl/certs/ca-certificates.crt")


def strip_debug_info(root: Rootfs) -> None:
    """Debug info is never loaded at run time; wheels often ship it."""
    for dirpath, _, filenames in os.walk(root.root):
        for f in filenames:
            path = os.path.join(dirpath, f)
            if not os.path.islink(path) and ".so" in f:
                data = read(path)
                stripped = strip_debug(data)
                if stripped != data:
                    with open(path, "wb") as fh:
                        fh.write(stripped)
                    print(f"stripped debug info: {path[len(root.root):]} "
                          f"{len(data)} -> {len(stripped)} bytes")


def verify(root: Rootfs, seen: Trace) -> None:
    """The same requests, chrooted into the result, as nobody: same answers, quiet."""
    chroot = shutil.which("chroot") or sys.exit("slim_rootfs: chroot (coreutils) is missing")
    argv = [chroot, f"--userspec={NOBODY}:{NOBODY}", root.root, ENTRYPOINT, "-m", "service"]
    statuses, hello, code, slim, _ = exercise(argv, RUNTIME_ENV, read_maps=False)
    stderr = b"".join(slim.stderr).decode(errors="replace")
    if (statuses, hello, code) != (seen.statuses, seen.hello, 0) or stderr:
        sys.exit("slim_rootfs: the slim root filesystem does not behave like the full one:\n"
                 f"  full: {seen.statuses} {seen.hello!r}\n"
                 f"  slim: {statuses} {hello!r} exit {code}\n{slim.output()}")
    size = sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(root.root)
               for f in fs)
    print(f"verified: the slim rootfs answers {statuses}, exits {code}, stderr empty; "
          f"{size / 1e6:.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--requirements", required=True)
    args = parser.parse_args()

    layout = Layout(app_dir=os.getcwd())
    seen = trace(layout)
    root = Rootfs(args.root)
    copy_interpreter_and_libraries(root, layout, seen)
    zipped: dict[str, bytes] = {}
    add_stdlib(root, layout, seen, zipped)
    add_third_party(root, layout, args.requirements, seen, zipped)
    add_service(root, layout)
    write_zip(root.path(layout.stdlib_zip), zipped)
    write_etc(root)
    copy_licences(root, layout.stdlib)
    strip_debug_info(root)
    verify(root, seen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
