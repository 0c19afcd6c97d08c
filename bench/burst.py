"""`python -m bench.burst`: 2,000 POSTs opened at once, and /readyz while they land.

A bounded measurement on loopback, outside Docker: a throw-away `redis-server` and
`python -m service` on free ports, then one burst -- every connection is opened
first, then every request is sent in the same instant -- while a second thread polls
`GET /readyz`. Prints how many POSTs were accepted (202), how many of those are in
Redis exactly once, the burst's wall time, and the slowest /readyz answer (a
Kubernetes probe gives up after its timeoutSeconds, 2 s in k8s/).

`--throughput` instead measures keep-alive POSTs per second over a few connections
(a quick loop with no wrk needed), to compare versions of the push side by side.

tests/test_attack_burst.py runs the same burst and asserts on it.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from service.server import raise_open_files_limit
from tutorial.net import free_port, wait_for_http

REQUEST_TIMEOUT = 20.0  # seconds for any one request of the burst


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


def _post(n: int) -> bytes:
    body = f"burst {n}".encode()
    return (b"POST /enqueue HTTP/1.1\r\nHost: burst\r\nContent-Type: text/plain\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


async def _burst(port: int, count: int, result: BurstResult) -> None:
    async def connect():
        return await asyncio.open_connection("127.0.0.1", port)

    conns = await asyncio.gather(*(connect() for _ in range(count)), return_exceptions=True)
    began = time.perf_counter()
    for n, conn in enumerate(conns):
        if not isinstance(conn, BaseException):
            conn[1].write(_post(n))

    async def answer(conn) -> None:
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

    await asyncio.gather(*(answer(conn) for conn in conns))
    result.seconds = time.perf_counter() - began


def _poll_readyz(port: int) -> None:
    """Child process: GET /readyz every 50 ms until stdin closes; print "status seconds".

    A process of its own, so the time measured is the service's, not time spent
    waiting for the burst client's GIL.
    """
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while not stop.is_set():
        began = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/readyz")
            status = str(conn.getresponse().status)
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
        finally:
            conn.close()
        print(status, time.perf_counter() - began, flush=True)
        stop.wait(0.05)


def burst(port: int, count: int = 2000) -> BurstResult:
    """`count` simultaneous POSTs to the service on `port`, /readyz polled meanwhile."""
    result = BurstResult(sent=count)
    raise_open_files_limit()  # one descriptor per simultaneous connection, here too
    poller = subprocess.Popen([sys.executable, "-m", "bench.burst", "--poll-readyz", str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)  # the poller is up and probing before the burst starts
        asyncio.run(_burst(port, count, result))
    finally:
        out, _ = poller.communicate("", timeout=30)
    for line in out.splitlines():
        status, seconds = line.split()
        result.readyz_statuses[int(status) if status.isdigit() else status] += 1
        result.readyz_seconds.append(float(seconds))
    return result


def throughput(port: int, seconds: float = 5.0, connections: int = 32) -> float:
    """Keep-alive POSTs per second over `connections` connections, for `seconds`."""
    async def client(deadline: float) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        body = b"throughput"
        request = (b"POST /enqueue HTTP/1.1\r\nHost: b\r\nContent-Type: text/plain\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 202"):
                raise RuntimeError(f"not accepted: {head[:60]!r}")
            done += 1
        writer.close()
        return done

    async def run() -> int:
        deadline = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(client(deadline) for _ in range(connections))))

    return asyncio.run(run()) / seconds


class _Processes:
    """redis-server and the service on free loopback ports; stopped on exit."""

    def __init__(self, service_dir: str | None) -> None:
        if shutil.which("redis-server") is None:
            raise SystemExit("python -m bench.burst: redis-server is not installed "
                             "(Debian/Ubuntu: apt-get install redis-server)")
        self.redis_port, self.port = free_port(), free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
               "QUEUE_KEY": "bench:burst", "LOG_LEVEL": "WARNING"}
        # `python -m` looks in the working directory first: another checkout's
        # service/ there runs instead of this one, to compare versions.
        self.service = subprocess.Popen(
            [sys.executable, "-m", "service", "--address", "127.0.0.1", "--port",
             str(self.port)], env=env, cwd=service_dir, stdout=subprocess.DEVNULL)
        wait_for_http(f"http://127.0.0.1:{self.port}/readyz", timeout=20)

    def redis_ids(self) -> Counter:
        import redis

        client = redis.Redis(port=self.redis_port)
        try:
            # A stream since issue 21; a list before (another checkout may run here).
            raw = ([fields[b"message"] for _, fields in client.xrange("bench:burst")]
                   if client.type("bench:burst") == b"stream"
                   else client.lrange("bench:burst", 0, -1))
            return Counter(json.loads(item)["id"] for item in raw)
        finally:
            client.close()

    def stop(self) -> None:
        for proc in (self.service, self.redis):
            proc.terminate()
            proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="POSTs in the burst")
    parser.add_argument("--throughput", action="store_true",
                        help="measure keep-alive POSTs/s instead of a burst")
    parser.add_argument("--poll-readyz", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--service-dir",
                        help="run the service/ in this directory (default: this checkout's)")
    args = parser.parse_args(argv)
    if args.poll_readyz:
        _poll_readyz(args.poll_readyz)
        return 0
    procs = _Processes(args.service_dir)
    try:
        if args.throughput:
            print(f"POST /enqueue, keep-alive, 32 connections: {throughput(procs.port):.0f} req/s")
            return 0
        result = burst(procs.port, args.count)
        stored = procs.redis_ids()
    finally:
        procs.stop()
    once = sum(1 for i in result.accepted_ids if stored[i] == 1)
    print(f"{result.sent} simultaneous POSTs in {result.seconds:.2f} s: "
          f"{result.statuses[202]} accepted ({100 * result.accepted_share:.1f} %), "
          f"statuses {dict(result.statuses)}")
    print(f"accepted and in Redis exactly once: {once} of {len(result.accepted_ids)}; "
          f"messages in Redis: {sum(stored.values())}")
    slowest = max(result.readyz_seconds, default=float("nan"))
    print(f"/readyz during the burst: {len(result.readyz_seconds)} probes, slowest "
          f"{slowest:.3f} s, statuses {dict(result.readyz_statuses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
