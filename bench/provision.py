"""The two tools the benchmark needs besides Docker: wrk (load) and Go (the yardstick).

Idempotent: nothing happens when both are on PATH. Otherwise, as root on Debian/Ubuntu,
`apt-get install wrk golang-go`; anywhere else, a sentence that says what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

# command -> Debian package that provides it
TOOLS = {"wrk": "wrk", "go": "golang-go"}


class ToolMissing(RuntimeError):
    """A tool is absent and cannot be installed here; the message says how to get it."""


def missing_tools() -> dict[str, str]:
    return {cmd: pkg for cmd, pkg in TOOLS.items() if shutil.which(cmd) is None}


def ensure_tools(log: Callable[[str], None] = print) -> None:
    missing = missing_tools()
    if not missing:
        return
    packages = sorted(set(missing.values()))
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ToolMissing(
            f"the benchmark needs {', '.join(sorted(missing))}, which this machine lacks. "
            f"Install them (Debian/Ubuntu: `sudo apt-get install {' '.join(packages)}`; "
            "macOS: `brew install wrk go`), then run it again."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"$ apt-get install {' '.join(packages)}   # {', '.join(sorted(missing))} not found")
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise ToolMissing(f"`{' '.join(argv)}` failed ({done.returncode}):\n"
                              + "\n".join(done.stderr.strip().splitlines()[-10:]))
    still = missing_tools()
    if still:
        raise ToolMissing(f"apt-get installed {' '.join(packages)} but "
                          f"{', '.join(still)} is still not on PATH")
