"""A bounded burst of concurrent POST /enqueue requests, and what came back.

The one Python load client of the notebooks, the tests and `bench.burst` (post_at_once).
It proves "every accepted message is in Redis exactly once": the result keeps the id of
every 202, who served it, every retry and every failure by kind.

With `retries`, it behaves like a client behind a careful load balancer: a request that
failed at the connection level (refused, reset, closed before an answer, timed out) or
got `503` is sent again, with the same body and the same `Idempotency-Key` header, to
the next replica; the replica that failed is skipped for `cooldown` seconds (what a
load balancer's passive health check does). The key is what makes the retry safe: if
the first replica stored the message and only its answer was lost, the service sees the
key again and stores nothing new.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

# Safe to send again with the same Idempotency-Key. 599 is Tornado's "no HTTP answer"
# (stream closed, timeout); 503 is the service's "Redis did not answer, retry".
RETRYABLE_STATUSES = {503, 599}


@dataclass
class LoadResult:
    accepted: list[str] = field(default_factory=list)  # ids of 202 answers
    served_by: Counter = field(default_factory=Counter)  # replica -> 202 count
    failures: Counter = field(default_factory=Counter)  # messages never accepted, last reason
    retries: Counter = field(default_factory=Counter)  # retries, by the reason for each
    seconds: float = 0.0

    @property
    def error_statuses(self) -> Counter:
        """Failures where a server answered with an HTTP error status (Tornado's client
        reports a connection closed before any answer as 599, which is not one)."""
        return Counter({k: v for k, v in self.failures.items()
                        if k.startswith("HTTP ") and k != "HTTP 599"})

    @property
    def sent(self) -> int:
        """Messages sent (each counted once, however often it was retried)."""
        return len(self.accepted) + sum(self.failures.values())

    def __str__(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        text = (f"{self.sent} sent in {self.seconds:.2f} s ({rate:.0f}/s): "
                f"{len(self.accepted)} accepted, failures {dict(self.failures) or 'none'}")
        if self.retries:
            text += f", retried {dict(self.retries)}"
        return text


def _reason(exc: Exception) -> tuple[str, bool]:
    """(what went wrong, may it be retried?)"""
    if isinstance(exc, HTTPClientError):
        return f"HTTP {exc.code}", exc.code in RETRYABLE_STATUSES
    return type(exc).__name__, isinstance(exc, OSError)  # refused, reset, broken pipe


async def post_many(base_urls: Sequence[str], count: int, concurrency: int = 50,
                    timeout: float = 10.0, body_prefix: str = "message", retries: int = 0,
                    cooldown: float = 1.0) -> LoadResult:
    """POST `count` text messages ("message 0", ...) to /enqueue, spread round-robin over
    `base_urls`, at most `concurrency` at a time; a failed one is retried up to `retries`
    times on the next replica. Bounded: every attempt has a `timeout`."""
    client = AsyncHTTPClient(force_instance=True, max_clients=concurrency)
    result = LoadResult()
    targets = itertools.cycle(base_urls)
    numbers = iter(range(count))
    run = uuid.uuid4().hex[:8]  # keys unique per burst: a re-run is new data, not a repeat
    avoid_until: dict[str, float] = {}

    def pick(failed: str | None = None) -> str:
        """The next replica in turn that has not failed recently (and is not `failed`)."""
        now = time.monotonic()
        for _ in range(len(base_urls)):
            base = next(targets)
            if base != failed and avoid_until.get(base, 0.0) <= now:
                return base
        return next(targets)  # every replica failed recently: try anyway

    async def one(n: int) -> None:
        headers = {"Content-Type": "text/plain", "Idempotency-Key": f"{run}-{n}"}
        base = pick()
        for attempt in range(retries + 1):
            request = HTTPRequest(f"{base}/enqueue", method="POST", body=f"{body_prefix} {n}",
                                  headers=headers, request_timeout=timeout,
                                  connect_timeout=timeout)
            try:
                reply = await client.fetch(request)
            except (HTTPClientError, OSError) as exc:
                reason, retryable = _reason(exc)
                if not retryable or attempt == retries:
                    result.failures[reason] += 1
                    return
                result.retries[reason] += 1
                avoid_until[base] = time.monotonic() + cooldown
                base = pick(failed=base)
                continue
            answer = json.loads(reply.body)
            result.accepted.append(answer["id"])
            result.served_by[answer["served_by"]] += 1
            return

    async def lane() -> None:
        for n in numbers:  # the lanes share one iterator: `count` messages in total
            await one(n)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(lane() for _ in range(concurrency)))
    finally:
        client.close()
    result.seconds = time.perf_counter() - began
    return result


async def post_at_once(base_url: str, count: int, timeout: float = 20.0,
                       body_prefix: str = "message") -> LoadResult:
    """POST `count` messages to /enqueue in one instant: every connection is opened
    first, then every request is written, then the answers are read (a crowd arriving;
    what a burst tests is the listen backlog and a loop with thousands of requests to
    parse). post_many's Tornado client cannot hold requests back until all are
    connected: it connects inside each fetch. No retries; failures counted as there."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    result, run = LoadResult(), uuid.uuid4().hex[:8]
    conns = await asyncio.gather(*(asyncio.open_connection(host, int(port))
                                   for _ in range(count)), return_exceptions=True)
    began = time.perf_counter()
    for n, conn in enumerate(conns):
        if not isinstance(conn, BaseException):
            body = f"{body_prefix} {n}".encode()
            conn[1].write(f"POST /enqueue HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain"
                          f"\r\nIdempotency-Key: {run}-{n}\r\nConnection: close\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await asyncio.gather(*(_answer(conn, timeout, result) for conn in conns))
    result.seconds = time.perf_counter() - began
    return result


async def _answer(conn, timeout: float, result: LoadResult) -> None:
    """Read one post_at_once answer to the end (the server closes) into `result`."""
    if isinstance(conn, BaseException):
        result.failures[f"connect: {type(conn).__name__}"] += 1
        return
    reader, writer = conn
    try:
        async with asyncio.timeout(timeout):
            raw = await reader.read()
    except (TimeoutError, ConnectionError) as exc:
        result.failures[type(exc).__name__] += 1
        return
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 599  # no answer
    if status != 202:
        result.failures[f"HTTP {status}"] += 1
        return
    answer = json.loads(body)
    result.accepted.append(answer["id"])
    result.served_by[answer["served_by"]] += 1
