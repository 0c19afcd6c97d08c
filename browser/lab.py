"""JupyterLab as `make lab` starts it, on a copy of the notebooks, for one browser run.

The command line is the Makefile's own (`make lab LAB_PORT=... LAB_DIR=...`), on a free
port, with the token JupyterLab makes and prints. Only JupyterLab's per-user state is
redirected to build/ (workspaces and settings), so a learner's own Lab settings neither
change the run nor get changed by it. Every process the Lab starts (server, kernels, what
the notebooks start) inherits LAB_ENV, so stop() can prove none of them is left.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import uuid
from pathlib import Path

from browser.workspace import BUILD, ROOT
from tutorial.net import fetch, free_port
from tutorial.shell import Background, start
from tutorial.wait import wait_until

LAB_ENV = "HELLO_MICROSERVICES_LAB"
# No update checks or news from the Lab itself: the run stays on loopback.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"checkForUpdates": False, "fetchNews": "false"},
}


class Lab:
    def __init__(self, notebook_dir: Path, state_dir: Path = BUILD / "lab-state") -> None:
        self.notebook_dir = notebook_dir
        self.state_dir = state_dir
        self.id = uuid.uuid4().hex[:12]
        self.proc: Background | None = None
        self.port = 0
        self.token = ""
        self.log = state_dir / "lab.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}{'&' if '?' in path else '?'}token={self.token}"

    def api(self, path: str, token: bool = True):
        """GET a Jupyter server API path; with token=False as a stranger would."""
        return fetch(self.url(path) if token else self.base + path, timeout=10)

    def start(self, timeout: float = 180) -> Lab:
        for name, values in SETTINGS.items():
            target = self.state_dir / "settings" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        (self.state_dir / "workspaces").mkdir(parents=True, exist_ok=True)
        env = {LAB_ENV: self.id,
               "JUPYTERLAB_SETTINGS_DIR": str(self.state_dir / "settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.state_dir / "workspaces")}
        self.port = free_port()
        # A process group of its own: stop() signals make, the server and the kernels.
        self.proc = start(["make", "--no-print-directory", "lab", f"LAB_PORT={self.port}",
                           f"LAB_DIR={os.path.relpath(self.notebook_dir, ROOT)}"],
                          cwd=ROOT, env=env, echo=False, group=True)
        try:
            found = self.proc.wait_for_line(
                rf"http://127\.0\.0\.1:{self.port}/lab\?token=([0-9a-f]{{16,}})", timeout)
        except AssertionError:  # exited, or no URL in time
            self.stop()
            raise RuntimeError(f"JupyterLab did not print its URL within {timeout} s; "
                               f"see {self.log}") from None
        self.token = found.group(1)
        return self

    def listening_addresses(self) -> set[str]:
        """Local addresses of the TCP sockets listening on the Lab's port (from /proc)."""
        found = set()
        for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, port = local.split(":")
                if state == "0A" and int(port, 16) == self.port:  # 0A: LISTEN
                    found.add(_address(address, width))
        return found

    def processes(self) -> list[str]:
        """`pid cmdline` of every live process started by this Lab (it carries LAB_ENV)."""
        mark = f"{LAB_ENV}={self.id}".encode()
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if mark in (proc / "environ").read_bytes().split(b"\0"):
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    found.append(f"{proc.name} {cmd.strip()}")
            except OSError:
                continue  # gone, or not ours to read
        return found

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM to `make lab` and the server (it shuts its kernels down), then wait;
        what they printed goes to the log."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):  # the caller checks what is left
            wait_until(lambda: not self.processes(), timeout, "the Lab's processes ending",
                       interval=0.5)
        self.proc.wait(timeout=10)
        self.log.write_text(self.proc.output)
        self.proc = None


def _address(hexaddr: str, width: int) -> str:
    if width == 8:  # IPv4, little-endian
        return ".".join(str(int(hexaddr[i:i + 2], 16)) for i in (6, 4, 2, 0))
    words = [hexaddr[i:i + 8] for i in range(0, 32, 8)]
    raw = b"".join(bytes.fromhex(w)[::-1] for w in words)
    return str(ipaddress.IPv6Address(raw))
