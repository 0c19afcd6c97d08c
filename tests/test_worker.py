"""The worker: drains the queue, recovers what a dead worker held, gets past poison
messages (bounded retries, then the dead-letter list), stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
import uuid

import redis.asyncio as aioredis

from service.worker import MAX_ATTEMPTS, Worker
from tutorial.shell import start


def message(n: int) -> str:
    return json.dumps({"id": uuid.uuid4().hex, "body": f"m{n}", "served_by": "test"})


def run_worker(url: str, key: str, name: str, drain: bool = True, prepare=None,
               worker_class=Worker) -> int:
    async def go():
        client = aioredis.from_url(url)
        try:
            if prepare:
                await prepare(client)
            return await worker_class(client, key, name).run(asyncio.Event(), drain=drain)
        finally:
            await client.aclose()
    return asyncio.run(go())


def dead_letters(redis_client, key) -> list[dict]:
    return [json.loads(raw) for raw in redis_client.lrange(f"{key}:dead", 0, -1)]


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

    async def recover():
        client = aioredis.from_url(redis_server.url)
        try:
            return await Worker(client, queue_key, "w3").recover()
        finally:
            await client.aclose()

    assert asyncio.run(recover()) == 0
    assert redis_client.llen(f"{queue_key}:processing:peer") == 1


def test_drain_waits_for_a_dead_workers_lease_and_takes_its_message(redis_server, redis_client,
                                                                    queue_key):
    # "late" took a message, then died; its heartbeat has 2 s left. --drain must not
    # report an empty queue while that message is still unfinished.
    redis_client.sadd(f"{queue_key}:workers", "late")
    redis_client.set(f"{queue_key}:heartbeat:late", "alive", ex=2)
    redis_client.rpush(f"{queue_key}:processing:late", message(1))
    assert run_worker(redis_server.url, queue_key, "w6") == 1
    assert redis_client.llen(f"{queue_key}:processing:late") == 0


def test_own_leftovers_from_a_crash_are_recovered_on_start(redis_server, redis_client,
                                                           queue_key):
    # A previous process named w4 died between BLMOVE and LREM.
    redis_client.sadd(f"{queue_key}:workers", "w4")
    redis_client.rpush(f"{queue_key}:processing:w4", message(1), message(2))
    assert run_worker(redis_server.url, queue_key, "w4") == 2


def test_unparsable_messages_are_kept_aside_not_lost(redis_server, redis_client, queue_key):
    redis_client.lpush(queue_key, b"\x00not json", message(1))
    assert run_worker(redis_server.url, queue_key, "w5") == 1
    [letter] = dead_letters(redis_client, queue_key)
    assert letter["message"] == "\x00not json" and "not a queue message" in letter["reason"]
    assert letter["attempts"] == 1 and letter["worker"] == "w5"


def test_deeply_nested_message_is_dead_lettered_and_the_queue_moves_on(redis_server,
                                                                       redis_client, queue_key):
    # Valid JSON, but nested too deep for Python's parser: RecursionError on every try.
    poison = '{"id": "deep", "body": ' + "[" * 100_000 + "]" * 100_000 + "}"
    redis_client.lpush(queue_key, poison, *[message(n) for n in range(3)])
    assert run_worker(redis_server.url, queue_key, "w7") == 3
    [letter] = dead_letters(redis_client, queue_key)
    assert "RecursionError" in letter["reason"]
    assert letter["message"] == poison  # kept whole, not lost
    assert redis_client.llen(queue_key) == 0
    assert redis_client.hlen(f"{queue_key}:attempts") == 0


class FailsOnBad(Worker):
    async def handle(self, raw: bytes) -> None:
        if json.loads(raw)["body"] == "bad":
            raise RuntimeError("the downstream service said no")
        await super().handle(raw)


def test_a_failing_message_is_retried_a_bounded_number_of_times(redis_server, redis_client,
                                                                queue_key):
    bad = json.dumps({"id": "b", "body": "bad"})
    redis_client.lpush(queue_key, bad, message(1), message(2))
    assert run_worker(redis_server.url, queue_key, "w8", worker_class=FailsOnBad) == 2
    [letter] = dead_letters(redis_client, queue_key)
    assert letter["attempts"] == MAX_ATTEMPTS
    assert f"failed {MAX_ATTEMPTS} times" in letter["reason"]
    assert "the downstream service said no" in letter["reason"]
    assert redis_client.llen(queue_key) == 0


class Crash(BaseException):
    """Stands for the process dying (out of memory, segfault) while handling."""


class CrashesOnBad(Worker):
    async def handle(self, raw: bytes) -> None:
        if json.loads(raw)["body"] == "bad":
            raise Crash
        await super().handle(raw)


def test_a_message_that_kills_the_worker_is_buried_after_max_attempts(redis_server,
                                                                       redis_client, queue_key):
    redis_client.lpush(queue_key, json.dumps({"id": "k", "body": "bad"}), message(1))
    crashes = 0
    for _ in range(MAX_ATTEMPTS + 1):  # the worker is restarted after every crash
        try:
            handled = run_worker(redis_server.url, queue_key, "w9", worker_class=CrashesOnBad)
            break
        except Crash:
            crashes += 1
    assert crashes == MAX_ATTEMPTS
    assert handled == 1
    [letter] = dead_letters(redis_client, queue_key)
    assert f"not finished in {MAX_ATTEMPTS} attempts" in letter["reason"]


def test_sigkilled_worker_restarted_loses_nothing(redis_server, redis_client, queue_key):
    ids = [uuid.uuid4().hex for _ in range(2000)]
    redis_client.lpush(queue_key, *[json.dumps({"id": i, "body": "k"}) for i in ids])
    env = {"REDIS_URL": redis_server.url, "QUEUE_KEY": queue_key}
    argv = [sys.executable, "-m", "service.worker", "--name", "wk", "--drain"]
    first = start(argv, env=env, echo=False)
    try:
        deadline = time.monotonic() + 15
        while first.output.count("handled id=") < 100:
            assert time.monotonic() < deadline and first.proc.poll() is None, first.output[-500:]
            time.sleep(0.01)
        first.proc.kill()  # SIGKILL: no clean-up of any kind
        first.wait()
    finally:
        first.kill()
    second = start(argv, env=env, echo=False)
    assert second.wait(timeout=60) == 0, second.output[-1000:]
    handled = re.findall(r"handled id=(\w+)", first.output + second.output)
    assert set(handled) == set(ids), "a message was lost"
    # At least once: the one message in hand when the kill landed may be handled twice.
    assert len(handled) - len(ids) <= 1, f"{len(handled) - len(ids)} duplicates"
    assert int(redis_client.get(f"{queue_key}:handled")) == len(ids)
    assert redis_client.llen(queue_key) == 0 and redis_client.llen(f"{queue_key}:dead") == 0


def test_worker_process_stops_on_sigterm_with_status_0(redis_server, redis_client, queue_key):
    proc = start([sys.executable, "-m", "service.worker", "--name", "wp"],
                 env={"REDIS_URL": redis_server.url, "QUEUE_KEY": queue_key}, echo=False)
    try:
        proc.wait_for_line("worker wp consuming")
        redis_client.lpush(queue_key, message(1))
        proc.wait_for_line("handled id=")
        assert proc.stop(signal.SIGTERM, timeout=5) == 0
        assert "worker wp stopped after 1 message(s), 0 moved to" in proc.output
    finally:
        proc.kill()


def test_worker_without_redis_fails_clearly(queue_key):
    proc = start([sys.executable, "-m", "service.worker", "--drain"],
                 env={"REDIS_URL": "redis://127.0.0.1:9/0", "QUEUE_KEY": queue_key}, echo=False)
    assert proc.wait(timeout=15) == 1
    assert "cannot use Redis at redis://127.0.0.1:9/0" in proc.output
