"""RedisQueue: group commit (pushes waiting together share one script call, each
acknowledged), idempotence per id, and a bound on what waits for Redis."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis

from service.config import Settings
from service.queue import REDIS_DEADLINE, QueueFull, QueueUnavailable, RedisQueue
from tests.redis_server import RedisServer, stored
from tutorial.net import fetch


def with_queue(use, **settings):
    """`await use(queue)` on a RedisQueue made from `settings`, closed after; its result."""
    async def go():
        queue = RedisQueue(Settings(**settings))
        try:
            return await use(queue)
        finally:
            await queue.close()
    return asyncio.run(go())


def test_concurrent_pushes_each_get_their_own_length(redis_server, redis_client, queue_key):
    lengths = with_queue(
        lambda queue: asyncio.gather(*(queue.push(str(n), {"id": str(n)}) for n in range(50))),
        redis_url=redis_server.url, queue_key=queue_key)
    assert sorted(lengths) == list(range(1, 51))  # as if pushed one by one
    # XADD appends: the stream is in arrival order, oldest first.
    order = [json.loads(raw)["id"] for raw in stored(redis_client, queue_key)]
    assert order == [str(n) for n in range(50)]


def test_a_failed_batch_fails_every_push_in_it(queue_key):
    results = with_queue(
        lambda queue: asyncio.gather(*(queue.push(str(n), {"id": n}) for n in range(5)),
                                     return_exceptions=True),
        redis_url="redis://127.0.0.1:9/0", queue_key=queue_key)
    assert all(isinstance(r, QueueUnavailable) for r in results), results


def test_pushes_in_separate_turns_still_work(redis_server, redis_client, queue_key):
    async def one_by_one(queue):
        return [await queue.push(str(n), {"id": n}) for n in range(3)]

    assert with_queue(one_by_one, redis_url=redis_server.url, queue_key=queue_key) == [1, 2, 3]
    assert redis_client.xlen(queue_key) == 3


def test_a_busy_event_loop_is_not_blamed_on_redis(redis_server, redis_client, queue_key):
    # In a burst, one turn of the event loop can take seconds. Redis answers at once,
    # but nobody reads the answer until the loop is free: that time is not Redis's.
    hog = REDIS_DEADLINE + 0.5

    async def busy(queue):
        await queue.push("warm-up", {"id": "warm-up"})  # connected
        # 1. The loop is busy before the push even leaves.
        pushing = asyncio.ensure_future(queue.push("1", {"id": "1"}))
        asyncio.get_running_loop().call_soon(time.sleep, hog)
        first = await pushing
        # 2. The loop is busy while Redis's answer waits in the socket.
        script = queue.append_script

        async def read_late(keys, args, client):
            call = asyncio.ensure_future(script(keys, args, client=client))
            for _ in range(5):
                await asyncio.sleep(0)  # the script call goes out...
            time.sleep(hog)  # ...and its answer waits while the loop is busy
            return await call
        queue.append_script = read_late
        return first, await queue.push("2", {"id": "2"})

    assert with_queue(busy, redis_url=redis_server.url, queue_key=queue_key) == (2, 3)
    assert redis_client.xlen(queue_key) == 3


def test_max_pending_refuses_at_once_and_sends_nothing(redis_server, redis_client, queue_key):
    results = with_queue(
        lambda queue: asyncio.gather(*(queue.push(str(n), {"id": n}) for n in range(25)),
                                     return_exceptions=True),
        redis_url=redis_server.url, queue_key=queue_key, max_pending=10)
    refused = [r for r in results if isinstance(r, QueueFull)]
    assert len(refused) == 15 and not any(r.maybe_queued for r in refused)
    assert redis_client.xlen(queue_key) == 10


def test_same_id_in_one_batch_is_stored_once(redis_server, redis_client, queue_key):
    lengths = with_queue(
        lambda queue: asyncio.gather(*(queue.push("same", {"n": n}) for n in range(5))),
        redis_url=redis_server.url, queue_key=queue_key)
    assert lengths == [1] * 5
    assert json.loads(stored(redis_client, queue_key)[-1]) == {"n": 0}  # the first one wins


def test_identical_bodies_with_different_ids_are_stored_separately(redis_server, redis_client,
                                                                   queue_key):
    async def three(queue):
        return [await queue.push(i, {"body": "same"}) for i in ("a", "b", "a")]

    # "a" again is a repeat: not stored
    assert with_queue(three, redis_url=redis_server.url, queue_key=queue_key) == [1, 2, 2]
    assert stored(redis_client, queue_key) == [b'{"body":"same"}'] * 2


def test_appends_use_the_registered_script_by_its_sha(redis_server, redis_client, queue_key):
    async def after_a_flush(queue):
        redis_client.script_flush()  # as after a Redis restart: EVALSHA says NOSCRIPT
        await queue.push("1", {"id": "1"})
        return queue.append_script.sha

    sha = with_queue(after_a_flush, redis_url=redis_server.url, queue_key=queue_key)
    assert redis_client.script_exists(sha) == [True]  # loaded again by redis-py's Script
    assert redis_client.xlen(queue_key) == 1


@pytest.fixture
def full_redis():
    """A Redis of its own with `maxmemory` reached under `noeviction`."""
    server = RedisServer().start()
    client = redis.Redis.from_url(server.url)
    client.set("filler", "x" * 100_000)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")
    yield server
    client.close()
    server.stop()


def test_a_full_redis_is_an_honest_503_that_stored_nothing(full_redis, start_service):
    _, url = start_service(REDIS_URL=full_redis.url, QUEUE_KEY="q")
    reply = fetch(url + "/enqueue", "POST", "x", {"Content-Type": "text/plain"})
    assert reply.status == 503, reply.text
    error = reply.json()["error"]
    assert "nothing was enqueued" in error and "maxmemory" in error, error
    client = redis.Redis.from_url(full_redis.url)
    assert client.xlen("q") == 0 and not client.keys("q:seen:*")
    client.close()
