"""Load with wrk: the command line the benchmark runs, and the report wrk prints.

    wrk -t2 -c32 -d4s --latency --timeout 2s -s bench/post.lua http://127.0.0.1:PORT/enqueue

wrk keeps `-c` connections busy for `-d` seconds, each sending its next request as soon as
the last answer arrives; `--latency` adds percentiles. We parse the report a terminal shows.
"""

from __future__ import annotations

import re

from bench import ROOT
from tutorial.shell import run

TO_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def command(url: str, *, script: str | None = None, threads: int = 2, connections: int = 32,
            duration_s: int = 4) -> list[str]:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency",
            "--timeout", "2s"]
    return argv + (["-s", f"bench/{script}"] if script else []) + [url]


def parse(report: str) -> dict:
    """wrk's report -> req/s, counts and latency percentiles (ms)."""
    def count(pattern: str) -> int:
        return sum(int(n) for n in re.findall(pattern, report))

    requests = re.search(r"(\d+) requests in ", report)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", report)
    if not (requests and rps):
        raise ValueError(f"not a wrk report:\n{report.strip()}")
    non_2xx = count(r"Non-2xx or 3xx responses: (\d+)")
    return {
        "rps": float(rps.group(1)), "requests": int(requests.group(1)),
        "ok": int(requests.group(1)) - non_2xx, "non_2xx": non_2xx,
        "socket_errors": count(r"(?:connect|read|write|timeout) (\d+)"),
        "latency_ms": {f"p{q}": round(float(value) * TO_MS[unit], 3) for q, value, unit
                       in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)([a-z]+)$", report, re.M)},
    }


def load(url: str, **options) -> dict:
    """Run wrk from the repository root (it prints its command line); its parsed report.
    Bounded: wrk stops by itself after `duration_s`."""
    return parse(run(command(url, **options), cwd=ROOT, quiet=True,
                     timeout=options.get("duration_s", 4) + 30))
