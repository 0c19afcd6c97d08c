"""Load with wrk: run it (one process per target URL, in parallel), parse, combine.

wrk takes one URL. For several replicas we run one wrk per replica at the same time,
each with its share of the connections, and add up what they report: this is what a
load balancer in front of the replicas would see, minus the balancer's own cost.
Latency percentiles cannot be merged exactly from three summaries; we keep the worst
of the three for each percentile (an upper bound of the merged one).

bench/report.lua makes wrk print one line `BENCH_WRK {json}` after its run.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench import BENCH_DIR

MARKER = "BENCH_WRK "
SOCKET_ERRORS = ("connect", "read", "write", "timeout")
PERCENTILES = ("p50", "p90", "p99")


class WrkFailed(RuntimeError):
    pass


@dataclass
class WrkResult:
    """What one wrk process reported. Latencies in milliseconds."""

    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    connections: int = 0
    url: str = ""
    bytes: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def non_2xx(self) -> int:
        """Responses with status > 399 (wrk's errors.status); wrk counts 3xx as success,
        and the service never answers 3xx on the paths measured."""
        return self.errors.get("status", 0)

    @property
    def socket_errors(self) -> int:
        return sum(self.errors.get(kind, 0) for kind in SOCKET_ERRORS)

    @property
    def ok(self) -> int:
        """Completed responses that were not errors: the 2xx (and 3xx) answers."""
        return self.requests - self.non_2xx


def parse(output: str, *, url: str = "", connections: int = 0) -> WrkResult:
    """The BENCH_WRK line of wrk's output (from bench/report.lua), as a WrkResult."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER):])
            break
    else:
        raise WrkFailed("wrk printed no BENCH_WRK line (was it run with -s bench/report.lua "
                        f"or bench/post.lua?). Its output:\n{output.strip()}")
    latency = {key: round(value / 1000.0, 3) for key, value in data["latency_us"].items()}
    return WrkResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        errors={key: int(value) for key, value in data["errors"].items()},
        latency_ms=latency,
        connections=connections,
        url=url,
        bytes=int(data.get("bytes", 0)),
    )


@dataclass
class LoadResult:
    """One setup under load: the sum of its wrk processes."""

    parts: list[WrkResult] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.parts)

    @property
    def rps(self) -> float:
        return sum(p.rps for p in self.parts)

    @property
    def ok(self) -> int:
        return sum(p.ok for p in self.parts)

    @property
    def non_2xx(self) -> int:
        return sum(p.non_2xx for p in self.parts)

    @property
    def socket_errors(self) -> int:
        return sum(p.socket_errors for p in self.parts)

    @property
    def connections(self) -> int:
        return sum(p.connections for p in self.parts)

    @property
    def latency_ms(self) -> dict[str, float]:
        """Worst per percentile across the parts (exact for a single part)."""
        keys = [k for k in ("p50", "p90", "p99", "max") if all(k in p.latency_ms
                                                                for p in self.parts)]
        return {k: max(p.latency_ms[k] for p in self.parts) for k in keys}

    def to_dict(self) -> dict:
        return {
            "rps": round(self.rps, 1),
            "requests": self.requests,
            "ok": self.ok,
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
            "connections": self.connections,
            "latency_ms": self.latency_ms,
            "wrk": [{"url": p.url, "connections": p.connections, "requests": p.requests,
                     "duration_s": round(p.duration_s, 3), "rps": round(p.rps, 1),
                     "errors": p.errors, "latency_ms": p.latency_ms} for p in self.parts],
        }


def split(total: int, parts: int) -> list[int]:
    """`total` connections over `parts` wrk processes, as evenly as possible."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def command(url: str, *, script: str, threads: int, connections: int, duration_s: int,
            timeout_s: int = 2) -> list[str]:
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s",
            f"--timeout={timeout_s}s", "-s", str(BENCH_DIR / script), url]


def run(urls: Sequence[str], *, script: str, threads: int, connections: int,
        duration_s: int) -> LoadResult:
    """Run one wrk per URL at the same time, `connections` shared out between them.

    Bounded: wrk stops itself after `duration_s`; a wrk still running 30 s later is
    killed, and so is every wrk when anything goes wrong (Ctrl-C included)."""
    shares = split(connections, len(urls))
    procs = []
    try:
        for url, conns in zip(urls, shares, strict=True):
            each = min(conns, per_process_threads(threads, len(urls)))
            argv = command(url, script=script, threads=each, connections=conns,
                           duration_s=duration_s)
            procs.append((url, conns, subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
        result = LoadResult()
        for url, conns, proc in procs:
            out, _ = proc.communicate(timeout=duration_s + 30)
            if proc.returncode != 0:
                raise WrkFailed(f"wrk exited {proc.returncode} for {url}:\n{out.strip()}")
            result.parts.append(parse(out, url=url, connections=conns))
        return result
    finally:
        for _, _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def per_process_threads(threads: int, processes: int) -> int:
    """Threads for each of `processes` wrk processes sharing `threads` (at least one)."""
    return max(1, threads // processes)
