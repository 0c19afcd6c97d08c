"""The Redis side of the service: one connection pool, short timeouts, clear errors.

The HTTP handlers never wait on Redis for long: a Redis that is down or slow turns
into a quick 503 the client can retry, not a hung request.
"""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.config import Settings

# Upper bound for one Redis round trip seen from a request, connecting included.
REDIS_DEADLINE = 1.5


class QueueUnavailable(Exception):
    """Redis did not acknowledge the push. `maybe_queued` is True when it went silent
    (a timeout): the push may still have landed, so a retry may duplicate it."""

    def __init__(self, reason: str, maybe_queued: bool) -> None:
        super().__init__(reason)
        self.maybe_queued = maybe_queued


class RedisQueue:
    def __init__(self, settings: Settings) -> None:
        self.key = settings.queue_key
        # One pool per process, created lazily: the service starts even when Redis is
        # down and reconnects by itself when it returns.
        self.client = aioredis.from_url(
            settings.redis_url,
            socket_connect_timeout=0.5,
            socket_timeout=1.0,
            # One quick retry covers a connection Redis closed while idle; more would
            # only stretch the time a client waits for a 503.
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
            max_connections=64,
        )
        self._pending: list[tuple[str, asyncio.Future]] = []
        self._flushing: set[asyncio.Task] = set()

    async def push(self, envelope: dict) -> int:
        """LPUSH one message; return the queue length Redis acknowledged for it.

        Group commit: the pushes of all requests that arrive in the same turn of the
        event loop go to Redis as ONE multi-value LPUSH (atomic: all or none), and each
        request still answers only after Redis acknowledged. Under load that is one
        round trip for many messages instead of one each; alone, a push waits for
        nothing but its own round trip.
        """
        data = json.dumps(envelope, separators=(",", ":"))
        future = asyncio.get_running_loop().create_future()
        # A caller that timed out no longer awaits its future; mark a later failure as
        # seen so asyncio does not log "exception was never retrieved" for it.
        future.add_done_callback(_mark_retrieved)
        self._pending.append((data, future))
        if len(self._pending) == 1:  # first of this turn: flush once the turn ends
            asyncio.get_running_loop().call_soon(self._start_flush)
        try:
            async with asyncio.timeout(REDIS_DEADLINE):
                # shield: a request that gives up must not cancel the others' push
                return await asyncio.shield(future)
        except (RedisError, OSError, TimeoutError) as exc:
            silent = isinstance(exc, TimeoutError | RedisTimeoutError)
            raise QueueUnavailable(_describe(exc), maybe_queued=silent) from exc

    def _start_flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._flush(batch))
        self._flushing.add(task)  # keep a reference until done (asyncio holds weak ones)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self, batch: list[tuple[str, asyncio.Future]]) -> None:
        try:
            async with asyncio.timeout(REDIS_DEADLINE):
                length = await self.client.lpush(self.key, *(data for data, _ in batch))
        except (RedisError, OSError, TimeoutError) as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        # LPUSH a b c puts c at the head: message i saw the list grow to length - (n-1-i).
        for i, (_, future) in enumerate(batch):
            if not future.done():
                future.set_result(length - (len(batch) - 1 - i))

    async def ping(self) -> str | None:
        """None when Redis answers PING in time, else a short reason."""
        try:
            async with asyncio.timeout(REDIS_DEADLINE):
                await self.client.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            return _describe(exc)
        return None

    async def close(self) -> None:
        await self.client.aclose()


def _mark_retrieved(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer from Redis within {REDIS_DEADLINE} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
