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
from tutorial.net import fetch, free_port, wait_for_http
from tutorial.shell import Background

REQUEST_TIMEOUT = 20.0  # seconds for any one request of the burst
QUEUE_KEY = "bench:burst"


@dataclass
class BurstResult:
    sent: int
    statuses: Counter = field(default_factory=Counter)
    accepted_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    readyz_seconds: list[float] = field(default_factory=list)
    readyz_statuses: Counter = field(default_factory=Counter)

    @property
    def accepted_share(self) -> float:
        return self.statuses[202] / self.sent if self.sent else 0.0


async def _answer(conn, result: BurstResult) -> None:
    if isinstance(conn, BaseException):
        result.statuses[f"connect: {type(conn).__name__}"] += 1
        return
    reader, writer = conn
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            raw = await reader.read()
    except (TimeoutError, ConnectionError) as exc:
        result.statuses[type(exc).__name__] += 1
        return
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else "no answer"
    result.statuses[status] += 1
    if status == 202:
        result.accepted_ids.append(json.loads(body)["id"])


async def _burst(port: int, count: int, result: BurstResult) -> None:
    conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                   for _ in range(count)), return_exceptions=True)
    began = time.perf_counter()
    for n, conn in enumerate(conns):
        if not isinstance(conn, BaseException):
            body = f"burst {n}".encode()
            conn[1].write(b"POST /enqueue HTTP/1.1\r\nHost: burst\r\nContent-Type: text/plain"
                          b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                          % (len(body), body))
    await asyncio.gather(*(_answer(conn, result) for conn in conns))
    result.seconds = time.perf_counter() - began


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
    result = BurstResult(sent=count)
    raise_open_files_limit()  # one descriptor per simultaneous connection, here too
    poller = Background([sys.executable, "-m", "bench.burst", "--poll-readyz", str(port)],
                        echo=False)
    try:
        poller.wait_for_line(r"^\S+ [\d.]+$", timeout=15)  # probing before the burst starts
        asyncio.run(_burst(port, count, result))
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
    print(f"{result.sent} simultaneous POSTs in {result.seconds:.2f} s: statuses "
          f"{dict(result.statuses)}; accepted and in Redis exactly once: "
          f"{sum(stored[i] == 1 for i in result.accepted_ids)} of {len(result.accepted_ids)} "
          f"({sum(stored.values())} messages in Redis)\n/readyz during the burst: "
          f"{len(result.readyz_seconds)} probes, slowest {max(result.readyz_seconds):.3f} s, "
          f"statuses {dict(result.readyz_statuses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
