"""CPU time a container used, from its cgroup: the cost of a request, whatever the load.

On a machine shared with other work, requests per second say how much CPU a server
*got*; CPU time per request says what a request *costs*, which barely moves when the
machine is busy. Both come from the same wrk run: read the container's cgroup counter
before and after it.

cgroup v2: <cgroup>/cpu.stat `usage_usec`; v1: cpuacct/<cgroup>/cpuacct.usage (ns).
Where the host cannot see the containers' cgroups (Docker Desktop runs them in a VM),
`CpuMeter.of()` returns None and the report leaves the CPU columns out.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.containers import docker

CGROUP = Path("/sys/fs/cgroup")


def counter_file(pid: int) -> Path | None:
    """The file that counts the CPU time of the cgroup process `pid` is in."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "" and (CGROUP / "cgroup.controllers").exists():  # v2
            candidate = CGROUP / path.lstrip("/") / "cpu.stat"
        elif "cpuacct" in controllers.split(","):  # v1
            candidate = CGROUP / "cpuacct" / path.lstrip("/") / "cpuacct.usage"
        else:
            continue
        if candidate.exists():
            return candidate
    return None


def read_ns(path: Path) -> int:
    text = path.read_text()
    if path.name == "cpuacct.usage":
        return int(text)
    for line in text.splitlines():
        if line.startswith("usage_usec "):
            return int(line.split()[1]) * 1000
    raise ValueError(f"no usage_usec in {path}")


class CpuMeter:
    """CPU time used by a set of containers, in seconds since the meter was made."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    @classmethod
    def of(cls, containers: list[str]) -> CpuMeter | None:
        files = []
        for name in containers:
            pid = int(docker("inspect", "-f", "{{.State.Pid}}", name).strip() or 0)
            path = counter_file(pid) if pid else None
            if path is None:
                return None
            files.append(path)
        return cls(files)

    def read_s(self) -> float:
        return sum(read_ns(path) for path in self.files) / 1e9


def docker_proxy_pids(host_port: int) -> list[int]:
    """The `docker-proxy` processes that forward 127.0.0.1:`host_port` (userland proxy)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"docker-proxy") and b"-host-port" in argv:
            at = argv.index(b"-host-port")
            if at + 1 < len(argv) and argv[at + 1] == str(host_port).encode():
                pids.append(int(proc.name))
    return pids


class ProcessMeter:
    """CPU time of host processes (here: Docker's port proxy), from /proc/<pid>/stat."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    @classmethod
    def docker_proxy(cls, host_port: int) -> ProcessMeter | None:
        pids = docker_proxy_pids(host_port) if Path("/proc/self").exists() else []
        return cls(pids) if pids else None

    def read_s(self) -> float:
        total = 0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (after the name)
        return total / self.TICK
