"""uvloop for the loop comparison: one pinned wheel, unpacked into build/bench/loop/.

The venv image has no uvloop (the service does not depend on it), so the benchmark
brings it: `pip download` of the wheel for the engine's architecture and the image's
Python (3.11), unpacked next to bench/loop_main.py into a directory that is mounted
read-only into the container. Nothing is installed into any image.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable

from bench import BENCH_DIR, BUILD_DIR
from bench.containers import docker

UVLOOP = "uvloop==0.23.0"
LOOP_DIR = BUILD_DIR / "bench" / "loop"
WHEELS = BUILD_DIR / "bench" / "wheels"
MOUNT = "/opt/loop"  # where LOOP_DIR appears in the container
# docker's architecture names -> the manylinux platform tags pip understands
PLATFORMS = {"amd64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}


def engine_arch() -> str:
    return docker("version", "--format", "{{.Server.Arch}}").strip()


def prepare(log: Callable[[str], None]) -> str:
    """build/bench/loop/ with loop_main.py and uvloop; returns the directory."""
    arch = engine_arch()
    if arch not in PLATFORMS:
        raise RuntimeError(f"no uvloop wheel platform known for a {arch} Docker engine")
    marker = LOOP_DIR / f".{UVLOOP}-{arch}"
    if not marker.exists():
        WHEELS.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
                "--platform", PLATFORMS[arch], "-d", str(WHEELS), UVLOOP]
        log(f"$ pip download --no-deps --only-binary=:all: --python-version 3.11 "
            f"--platform {PLATFORMS[arch]} {UVLOOP}")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"pip download {UVLOOP} failed:\n{done.stderr.strip()}")
        version = UVLOOP.split("==")[1]
        wheel = next(p for p in WHEELS.glob(f"uvloop-{version}-*.whl")
                     if PLATFORMS[arch].split("_", 1)[1] in p.name)
        shutil.rmtree(LOOP_DIR, ignore_errors=True)
        LOOP_DIR.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as whl:
            whl.extractall(LOOP_DIR)
        marker.touch()
    shutil.copy(BENCH_DIR / "loop_main.py", LOOP_DIR / "loop_main.py")
    return str(LOOP_DIR)
