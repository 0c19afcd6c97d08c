"""The worker: drains the queue, recovers what a dead worker held, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid

import redis.asyncio as aioredis

from service.worker import Worker
from tutorial.shell import start


def message(n: int) -> str:
    return json.dumps({"id": uuid.uuid4().hex, "body": f"m{n}", "served_by": "test"})


def run_worker(url: str, key: str, name: str, drain: bool = True, prepare=None) -> int:
    async def go():
        client = aioredis.from_url(url)
        try:
            if prepare:
                await prepare(client)
            return await Worker(client, key, name).run(asyncio.Event(), drain=drain)
        finally:
            await client.aclose()
    return asyncio.run(go())


def test_worker_drains_the_queue_in_order(redis_server, redis_client, queue_key):
    redis_client.lpush(queue_key, *[message(n) for n in range(50)])
    assert run_worker(redis_server.url, queue_key, "w1") == 50
    assert redis_client.llen(queue_key) == 0
    assert redis_client.llen(f"{queue_key}:processing:w1") == 0
    assert int(redis_client.get(f"{queue_key}:handled")) == 50
    assert not redis_client.sismember(f"{queue_key}:workers", "w1")


def test_messages_of_a_dead_worker_are_recovered(redis_server, redis_client, queue_key):
    # "ghost" took 3 messages and died: registered, processing list full, no heartbeat.
    redis_client.sadd(f"{queue_key}:workers", "ghost")
    redis_client.rpush(f"{queue_key}:processing:ghost", *[message(n) for n in range(3)])
    redis_client.lpush(queue_key, message(99))
    assert run_worker(redis_server.url, queue_key, "w2") == 4
    assert redis_client.llen(f"{queue_key}:processing:ghost") == 0
    assert not redis_client.sismember(f"{queue_key}:workers", "ghost")


def test_a_live_peer_keeps_its_messages(redis_server, redis_client, queue_key):
    redis_client.sadd(f"{queue_key}:workers", "peer")
    redis_client.set(f"{queue_key}:heartbeat:peer", "alive", ex=60)
    redis_client.rpush(f"{queue_key}:processing:peer", message(1))
    assert run_worker(redis_server.url, queue_key, "w3") == 0
    assert redis_client.llen(f"{queue_key}:processing:peer") == 1


def test_own_leftovers_from_a_crash_are_recovered_on_start(redis_server, redis_client,
                                                           queue_key):
    # A previous process named w4 died between BLMOVE and LREM.
    redis_client.sadd(f"{queue_key}:workers", "w4")
    redis_client.rpush(f"{queue_key}:processing:w4", message(1), message(2))
    assert run_worker(redis_server.url, queue_key, "w4") == 2


def test_unparsable_messages_are_kept_aside_not_lost(redis_server, redis_client, queue_key):
    redis_client.lpush(queue_key, b"\x00not json", message(1))
    assert run_worker(redis_server.url, queue_key, "w5") == 2
    assert redis_client.lrange(f"{queue_key}:dead", 0, -1) == [b"\x00not json"]


def test_worker_process_stops_on_sigterm_with_status_0(redis_server, redis_client, queue_key):
    proc = start([sys.executable, "-m", "service.worker", "--name", "wp"],
                 env={"REDIS_URL": redis_server.url, "QUEUE_KEY": queue_key}, echo=False)
    try:
        proc.wait_for_line("worker wp consuming")
        redis_client.lpush(queue_key, message(1))
        proc.wait_for_line("handled id=")
        assert proc.stop(signal.SIGTERM, timeout=5) == 0
        assert "worker wp stopped after 1 message(s)" in proc.output
    finally:
        proc.kill()


def test_worker_without_redis_fails_clearly(queue_key):
    proc = start([sys.executable, "-m", "service.worker", "--drain"],
                 env={"REDIS_URL": "redis://127.0.0.1:9/0", "QUEUE_KEY": queue_key}, echo=False)
    assert proc.wait(timeout=15) == 1
    assert "cannot use Redis at redis://127.0.0.1:9/0" in proc.output
