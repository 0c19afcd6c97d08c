"""A bounded burst of concurrent POST /enqueue requests, and what came back.

Used by notebook 04 and the tests to prove "every accepted message is in Redis": the
result keeps the id of every 202, who served it, and every failure by kind.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest


@dataclass
class LoadResult:
    accepted: list[str] = field(default_factory=list)  # ids of 202 answers
    served_by: Counter = field(default_factory=Counter)  # replica -> 202 count
    failures: Counter = field(default_factory=Counter)  # "HTTP 503" / "ConnectionRefused..."
    seconds: float = 0.0

    @property
    def error_statuses(self) -> Counter:
        """Failures where a server answered with an HTTP error status (Tornado's client
        reports a connection closed before any answer as 599, which is not one)."""
        return Counter({k: v for k, v in self.failures.items()
                        if k.startswith("HTTP ") and k != "HTTP 599"})

    @property
    def sent(self) -> int:
        return len(self.accepted) + sum(self.failures.values())

    def __str__(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (f"{self.sent} sent in {self.seconds:.2f} s ({rate:.0f}/s): "
                f"{len(self.accepted)} accepted, failures {dict(self.failures) or 'none'}")


async def post_many(base_urls: Sequence[str], count: int, concurrency: int = 50,
                    timeout: float = 10.0, body_prefix: str = "message") -> LoadResult:
    """POST `count` text messages to /enqueue, spread round-robin over `base_urls`,
    at most `concurrency` at a time. Bounded: every request has a `timeout`."""
    client = AsyncHTTPClient(force_instance=True, max_clients=concurrency)
    result = LoadResult()
    targets = itertools.cycle(base_urls)
    numbers = iter(range(count))

    async def one(n: int, base: str) -> None:
        request = HTTPRequest(f"{base}/enqueue", method="POST", body=f"{body_prefix} {n}",
                              headers={"Content-Type": "text/plain"},
                              request_timeout=timeout, connect_timeout=timeout)
        try:
            reply = await client.fetch(request)
            answer = json.loads(reply.body)
            result.accepted.append(answer["id"])
            result.served_by[answer["served_by"]] += 1
        except HTTPClientError as exc:
            result.failures[f"HTTP {exc.code}"] += 1
        except OSError as exc:
            result.failures[type(exc).__name__] += 1

    async def lane() -> None:
        for n in numbers:  # the lanes share one iterator: `count` requests in total
            await one(n, next(targets))

    began = time.perf_counter()
    try:
        await asyncio.gather(*(lane() for _ in range(concurrency)))
    finally:
        client.close()
    result.seconds = time.perf_counter() - began
    return result
