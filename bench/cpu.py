"""CPU time a request costs, read from the kernel before and after a wrk run.

Requests per second say how much CPU a server *got*; CPU time per request what a request
*costs*, which barely moves when other work shares the machine. Containers: their cgroups'
counters; docker-proxy, a host process: /proc/<pid>/stat. None where the host cannot see
them (Docker Desktop keeps containers in a VM).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.lab import docker

CGROUP = Path("/sys/fs/cgroup")
Meter = Callable[[], float]  # CPU seconds used so far


def counter_file(pid: int) -> Path | None:
    """The file counting the CPU time of the cgroup that process `pid` is in."""
    proc = Path(f"/proc/{pid}/cgroup")
    for line in proc.read_text().splitlines() if proc.exists() else []:
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
    return int(text) if path.name == "cpuacct.usage" else int(
        text.split("usage_usec ", 1)[1].split()[0]) * 1000


def containers(names: list[str]) -> Meter | None:
    """CPU seconds of these containers' cgroups together."""
    pids = [int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout) for name in names]
    files = [counter_file(pid) for pid in pids]
    return None if None in files else lambda: sum(map(read_ns, files)) / 1e9


def docker_proxy(host_port: int) -> Meter | None:
    """CPU seconds of the `docker-proxy` processes forwarding 127.0.0.1:`host_port`."""
    wanted, stats = [b"-host-port", str(host_port).encode()], []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        at = argv.index(wanted[0]) if wanted[0] in argv else -1
        if argv[0].endswith(b"docker-proxy") and argv[at:at + 2] == wanted:
            stats.append(proc / "stat")
    # utime and stime: fields 14 and 15, the 12th and 13th after the ")" closing the name
    return (lambda: sum(sum(map(int, p.read_text().rsplit(")", 1)[1].split()[11:13]))
                        for p in stats) / os.sysconf("SC_CLK_TCK")) if stats else None
