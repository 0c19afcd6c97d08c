"""RedisQueue: group commit (pushes waiting together share one script call, each
acknowledged), idempotence per id, and a bound on what waits for Redis."""

from __future__ import annotations

import asyncio
import json
import time

from service.config import Settings
from service.queue import REDIS_DEADLINE, QueueFull, QueueUnavailable, RedisQueue


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


def test_a_busy_event_loop_is_not_blamed_on_redis(redis_server, redis_client, queue_key):
    # In a burst, one turn of the event loop can take seconds. Redis answers at once,
    # but nobody reads the answer until the loop is free: that time is not Redis's.
    hog = REDIS_DEADLINE + 0.5

    async def go():
        queue = RedisQueue(Settings(redis_url=redis_server.url, queue_key=queue_key))
        try:
            await queue.push("warm-up", {"id": "warm-up"})  # connected
            # 1. The loop is busy before the push even leaves.
            pushing = asyncio.ensure_future(queue.push("1", {"id": "1"}))
            asyncio.get_running_loop().call_soon(time.sleep, hog)
            first = await pushing
            # 2. The loop is busy while Redis's answer waits in the socket.
            connection = queue._connection

            async def busy_while_answer_waits():
                conn = await connection()
                read = conn.read_response

                async def read_late(*args, **kwargs):
                    conn.read_response = read
                    time.sleep(hog)
                    return await read(*args, **kwargs)
                conn.read_response = read_late
                return conn
            queue._connection = busy_while_answer_waits
            return first, await queue.push("2", {"id": "2"})
        finally:
            await queue.close()

    assert asyncio.run(go()) == (2, 3)
    assert redis_client.llen(queue_key) == 3


def test_max_pending_refuses_at_once_and_sends_nothing(redis_server, redis_client, queue_key):
    async def go():
        queue = RedisQueue(Settings(redis_url=redis_server.url, queue_key=queue_key,
                                    max_pending=10))
        try:
            return await asyncio.gather(*(queue.push(str(n), {"id": n}) for n in range(25)),
                                        return_exceptions=True)
        finally:
            await queue.close()

    results = asyncio.run(go())
    refused = [r for r in results if isinstance(r, QueueFull)]
    assert len(refused) == 15 and not any(r.maybe_queued for r in refused)
    assert redis_client.llen(queue_key) == 10


def test_same_id_in_one_batch_is_stored_once(redis_server, redis_client, queue_key):
    async def go():
        queue = RedisQueue(Settings(redis_url=redis_server.url, queue_key=queue_key))
        try:
            return await asyncio.gather(*(queue.push("same", {"n": n}) for n in range(5)))
        finally:
            await queue.close()

    assert asyncio.run(go()) == [1] * 5
    assert json.loads(redis_client.lindex(queue_key, 0)) == {"n": 0}  # the first one wins
