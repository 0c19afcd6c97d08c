"""RedisQueue: group commit (pushes waiting together share one script call, each
acknowledged), idempotence per id, and a bound on what waits for Redis."""

from __future__ import annotations

import asyncio
import json

from service.config import Settings
from service.queue import QueueUnavailable, RedisQueue


def test_concurrent_pushes_each_get_their_own_length(redis_server, redis_client, queue_key):
    async def go():
        queue = RedisQueue(Settings(redis_url=redis_server.url, queue_key=queue_key))
        try:
            return await asyncio.gather(*(queue.push(str(n), {"id": str(n)}) for n in range(50)))
        finally:
            await queue.close()

    lengths = asyncio.run(go())
    assert sorted(lengths) == list(range(1, 51))  # as if pushed one by one
    # FIFO for the consumer, who takes from the right: oldest first.
    order = [json.loads(raw)["id"] for raw in reversed(redis_client.lrange(queue_key, 0, -1))]
    assert order == [str(n) for n in range(50)]


def test_a_failed_batch_fails_every_push_in_it(queue_key):
    async def go():
        queue = RedisQueue(Settings(redis_url="redis://127.0.0.1:9/0", queue_key=queue_key))
        try:
            return await asyncio.gather(*(queue.push(str(n), {"id": n}) for n in range(5)),
                                        return_exceptions=True)
        finally:
            await queue.close()

    results = asyncio.run(go())
    assert all(isinstance(r, QueueUnavailable) for r in results), results


def test_pushes_in_separate_turns_still_work(redis_server, redis_client, queue_key):
    async def go():
        queue = RedisQueue(Settings(redis_url=redis_server.url, queue_key=queue_key))
        try:
            return [await queue.push(str(n), {"id": n}) for n in range(3)]
        finally:
            await queue.close()

    assert asyncio.run(go()) == [1, 2, 3]
    assert redis_client.llen(queue_key) == 3
