"""`python -m bench.burst`: 2,000 POSTs opened at once, and /readyz while they land.

On loopback, outside Docker: a throw-away `redis-server` and `python -m service`, then
every connection is opened first and every request sent in the same instant, while a
second process polls `GET /readyz`. Prints how many POSTs were accepted (202), how many of
those are in Redis exactly once, and the slowest /readyz answer (a Kubernetes probe gives
up after timeoutSeconds, 2 s in k8s/). tests/test_attack_burst.py asserts on the same burst.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from service.server import raise_open_files_limit
from tutorial.load import LoadResult, post_at_once
from tutorial.net import fetch, free_port, wait_for_http
from tutorial.shell import Background

REQUEST_TIMEOUT = 20.0  # seconds for any one request of the burst
QUEUE_KEY = "bench:burst"


@dataclass
class BurstResult:
    load: LoadResult
    readyz_seconds: list[float] = field(default_factory=list)
    readyz_statuses: Counter = field(default_factory=Counter)

    @property
    def statuses(self) -> Counter:
        """The POSTs' outcomes: HTTP statuses as numbers (202, 503, ...), others by name."""
        failures = {int(k[5:]) if k.startswith("HTTP ") else k: v
                    for k, v in self.load.failures.items()}
        return Counter({202: len(self.load.accepted), **failures})

    @property
    def accepted_ids(self) -> list[str]:
        return self.load.accepted

    @property
    def accepted_share(self) -> float:
        return len(self.load.accepted) / self.load.sent if self.load.sent else 0.0


def _poll_readyz(port: int) -> int:
    """Child process: GET /readyz every 50 ms, print "status seconds", until stopped (a
    process of its own: the time measured is the service's, not the burst client's GIL)."""
    while True:
        began = time.perf_counter()
        try:
            status = str(fetch(f"http://127.0.0.1:{port}/readyz", timeout=10).status)
        except OSError as exc:
            status = type(exc).__name__
        print(status, time.perf_counter() - began, flush=True)
        time.sleep(0.05)


def burst(port: int, count: int = 2000) -> BurstResult:
    """`count` simultaneous POSTs to the service on `port`, /readyz polled meanwhile."""
    raise_open_files_limit()  # one descriptor per simultaneous connection, here too
    poller = Background([sys.executable, "-m", "bench.burst", "--poll-readyz", str(port)],
                        echo=False)
    try:
        poller.wait_for_line(r"^\S+ [\d.]+$", timeout=15)  # probing before the burst starts
        result = BurstResult(asyncio.run(post_at_once(
            f"http://127.0.0.1:{port}", count, timeout=REQUEST_TIMEOUT, body_prefix="burst")))
    finally:
        poller.stop(timeout=15)
    for status, seconds in (line.split() for line in poller.lines if line.count(" ") == 1):
        result.readyz_statuses[int(status) if status.isdigit() else status] += 1
        result.readyz_seconds.append(float(seconds))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="POSTs in the burst")
    parser.add_argument("--poll-readyz", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.poll_readyz:
        return _poll_readyz(args.poll_readyz)
    if shutil.which("redis-server") is None:
        sys.exit("python -m bench.burst: redis-server is not installed "
                 "(Debian/Ubuntu: apt-get install redis-server)")
    import redis

    redis_port, port = free_port(), free_port()
    servers = [Background(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no"], echo=False),
               Background([sys.executable, "-m", "service", "--address", "127.0.0.1",
                           "--port", str(port)], echo=False, env={
                   "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "QUEUE_KEY": QUEUE_KEY,
                   "LOG_LEVEL": "WARNING"})]
    try:
        wait_for_http(f"http://127.0.0.1:{port}/readyz", timeout=20)
        result = burst(port, args.count)
        stored = Counter(json.loads(fields[b"message"])["id"] for _, fields in
                         redis.Redis(port=redis_port).xrange(QUEUE_KEY))
    finally:
        for server in reversed(servers):
            server.stop()
    print(f"{result.load.sent} simultaneous POSTs in {result.load.seconds:.2f} s: statuses "
          f"{dict(result.statuses)}; accepted and in Redis exactly once: "
          f"{sum(stored[i] == 1 for i in result.accepted_ids)} of {len(result.accepted_ids)} "
          f"({sum(stored.values())} messages in Redis)\n/readyz during the burst: "
          f"{len(result.readyz_seconds)} probes, slowest {max(result.readyz_seconds):.3f} s, "
          f"statuses {dict(result.readyz_statuses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
