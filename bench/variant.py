"""The production image built a second time, with uvloop in its lock: what would it cost?

uvloop is not in the service's lock. To decide whether it should be, the benchmark
builds the same Dockerfile with a lock that adds it (`--build-arg REQUIREMENTS=...`) and
a wheelhouse that holds its wheel (`--build-arg WHEELHOUSE=...`), traced with
EVENT_LOOP=uvloop so the slim step keeps what uvloop loads. The variant's size is
the size the production image would have; the loop comparison runs in it, asyncio
against uvloop (EVENT_LOOP), so the only difference between the two is the loop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable

from bench import BUILD_DIR, ROOT

UVLOOP = "uvloop==0.23.0"
# The lock's lines for it: the sha256 of the CPython 3.11 wheels for Linux x86_64 and
# aarch64 (pip --require-hashes checks the downloaded wheel against them).
LOCK_LINES = (
    f"{UVLOOP} \\\n"
    "    --hash=sha256:ab17b3a8aa754be0de0e397f7b95f13b14e56f077a4c6ae295e3d4afd199b325 \\\n"
    "    --hash=sha256:8fcd721113260ffb5e38bf14a8725b17d431f34209f7d1c7005b667946e630b3\n"
)
# Inside the build context: .dockerignore lets this folder through.
VARIANT_DIR = BUILD_DIR / "bench" / "variant"


def prepare(log: Callable[[str], None]) -> list[str]:
    """Write the variant's lock and fill its wheelhouse; return its `docker build` args.

    scripts/wheelhouse.sh does the download, as for the image itself: the engine's
    architecture, every wheel checked against the lock's hashes. It starts from a copy
    of build/wheelhouse, so only uvloop's wheel is fetched.
    """
    wheelhouse = VARIANT_DIR / "wheelhouse"
    shutil.rmtree(wheelhouse, ignore_errors=True)
    shutil.copytree(BUILD_DIR / "wheelhouse", wheelhouse)
    lock = VARIANT_DIR / "requirements.txt"
    lock.write_text((ROOT / "service" / "requirements.txt").read_text() + LOCK_LINES)
    log(f"$ REQUIREMENTS={lock.relative_to(ROOT)} WHEELHOUSE={wheelhouse.relative_to(ROOT)} "
        "bash scripts/wheelhouse.sh")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "wheelhouse.sh")], capture_output=True, text=True,
        timeout=300, env={**os.environ, "REQUIREMENTS": str(lock), "WHEELHOUSE": str(wheelhouse),
                          "PIP": f"{sys.executable} -m pip", "PYTHON": sys.executable})
    if done.returncode != 0:
        raise RuntimeError(f"the wheelhouse for {UVLOOP} failed:\n"
                           f"{(done.stderr or done.stdout).strip()}")
    return ["--build-arg", f"REQUIREMENTS={lock.relative_to(ROOT)}",
            "--build-arg", f"WHEELHOUSE={wheelhouse.relative_to(ROOT)}",
            "--build-arg", "EVENT_LOOP=uvloop"]
