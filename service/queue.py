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

from service.config import Settings

# Upper bound for one Redis round trip seen from a request, connecting included.
REDIS_DEADLINE = 1.5


class QueueUnavailable(Exception):
    """Redis could not be reached in time; nothing was enqueued by this attempt."""


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

    async def push(self, envelope: dict) -> int:
        """LPUSH one message; return the queue length Redis acknowledged."""
        data = json.dumps(envelope, separators=(",", ":"))
        try:
            async with asyncio.timeout(REDIS_DEADLINE):
                return await self.client.lpush(self.key, data)
        except (RedisError, OSError, TimeoutError) as exc:
            raise QueueUnavailable(_describe(exc)) from exc

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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer from Redis within {REDIS_DEADLINE} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
