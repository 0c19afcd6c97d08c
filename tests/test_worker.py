"""The worker: drains the stream in a consumer group, claims what a dead consumer held,
gets past poison entries (bounded deliveries, then the dead-letter list), stops on
SIGTERM, and answers /healthz."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
import uuid

import pytest
import redis.asyncio as aioredis
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

from service.config import ConfigError, settings_from
from service.worker import GROUP, MAX_ATTEMPTS, HealthHandler, Worker, parse_args
from tutorial.net import fetch
from tutorial.shell import start
from tutorial.wait import wait_until


def message(n: int, message_id: str | None = None) -> str:
    return json.dumps({"id": message_id or uuid.uuid4().hex, "body": f"m{n}",
                       "served_by": "test"})


class Stream:
    """The test's queue stream, seen from outside: add entries, read a group's state."""

    def __init__(self, url: str, client, key: str) -> None:
        self.url, self.r, self.key = url, client, key

    def add(self, *messages: str | dict) -> list[bytes]:
        return [self.r.xadd(self.key, m if isinstance(m, dict) else {"message": m})
                for m in messages]

    def take(self, consumer: str, count: int) -> list[bytes]:
        """What a consumer that reads and then dies leaves behind: pending entries."""
        self.r.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        [[_, entries]] = self.r.xreadgroup(GROUP, consumer, {self.key: ">"}, count=count)
        return [entry_id for entry_id, _ in entries]

    def pending(self) -> int:
        return self.r.xpending(self.key, GROUP)["pending"]

    def dead(self) -> list[dict]:
        return [json.loads(raw) for raw in self.r.lrange(f"{self.key}:dead", 0, -1)]

    def run(self, name: str, drain: bool = True, worker_class=Worker, **options) -> int:
        """A worker in this process, as `python -m service.worker --drain` runs it."""
        async def go():
            client = aioredis.from_url(self.url)
            try:
                worker = worker_class(client, self.key, name, **options)
                return await worker.run(asyncio.Event(), drain=drain)
            finally:
                await client.aclose()
        return asyncio.run(go())


@pytest.fixture
def stream(redis_server, redis_client, queue_key) -> Stream:
    return Stream(redis_server.url, redis_client, queue_key)


@pytest.fixture
def worker_process(redis_server, queue_key):
    """Factory: `python -m service.worker` as a process on this test's stream."""
    started = []

    def launch(*flags: str, **env: str):
        proc = start([sys.executable, "-m", "service.worker", "--address", "127.0.0.1",
                      "--port", "0", *flags],
                     env={"REDIS_URL": redis_server.url, "QUEUE_KEY": queue_key, **env},
                     echo=False)
        started.append(proc)
        return proc

    yield launch
    for proc in started:
        proc.kill()


def handled_ids(output: str) -> list[str]:
    return re.findall(r"handled id=(\w+)", output)


def test_worker_drains_the_stream(stream):
    stream.add(*[message(n) for n in range(50)])
    assert stream.run("w1") == 50
    assert stream.r.xlen(stream.key) == 0 and stream.pending() == 0  # acknowledged, deleted
    [group] = stream.r.xinfo_groups(stream.key)
    assert group["entries-read"] == 50 and group["consumers"] == 0  # w1 left the group


def test_entries_of_a_dead_consumer_are_claimed_after_the_lease(stream):
    stream.add(*[message(n) for n in range(3)])
    stream.take("ghost", 3)  # "ghost" read 3 entries and died
    stream.add(message(99))
    assert stream.run("w2", lease_seconds=0.5) == 4
    assert stream.pending() == 0 and stream.r.xlen(stream.key) == 0


def test_a_live_consumer_keeps_its_entries(stream):
    stream.add(message(1))
    [entry] = stream.take("peer", 1)

    async def one_turn():
        client = aioredis.from_url(stream.url)
        try:
            return await Worker(client, stream.key, "w3", lease_seconds=60).turn(0.1)
        finally:
            await client.aclose()

    assert asyncio.run(one_turn()) == 0  # peer's entry is not idle for a lease yet
    [row] = stream.r.xpending_range(stream.key, GROUP, "-", "+", 10)
    assert row["consumer"] == b"peer" and row["message_id"] == entry


def test_drain_waits_for_a_dead_consumers_lease_and_takes_its_entry(stream):
    # "late" took an entry, then died. --drain must not report an empty queue while
    # that entry is still unfinished: it waits for the lease and claims it.
    stream.add(message(1))
    stream.take("late", 1)
    assert stream.run("w6", lease_seconds=2) == 1
    assert stream.pending() == 0


def test_own_leftovers_from_a_crash_are_reclaimed_on_restart(stream):
    stream.add(message(1), message(2))
    stream.take("w4", 2)  # a previous process named w4 died before acknowledging
    assert stream.run("w4", lease_seconds=0.5) == 2


@pytest.mark.parametrize("entry, fragment, kept", [
    ({"message": b"this is not JSON"}, "JSONDecodeError", "this is not JSON"),
    ({"message": b"\xff\x00"}, "Error", "\\xff\x00"),
    ({"message": '{"no": "id"}'}, "KeyError", '{"no": "id"}'),
    ({"junk": "1"}, "no 'message' field", "{b'junk': b'1'}"),
])
def test_unparsable_entries_are_kept_aside_at_once(stream, entry, fragment, kept):
    [poison] = stream.add(entry)
    stream.add(message(1))
    assert stream.run("w5") == 1
    [letter] = stream.dead()
    assert "not a queue message" in letter["reason"] and fragment in letter["reason"]
    assert letter["attempts"] == 1 and letter["worker"] == "w5"
    assert letter["entry"] == poison.decode() and letter["message"] == kept
    assert stream.r.xlen(stream.key) == 0 and stream.pending() == 0


def test_deeply_nested_message_is_dead_lettered_and_the_group_moves_on(stream):
    # Valid JSON, but nested too deep for Python's parser: RecursionError on every try.
    poison = '{"id": "deep", "body": ' + "[" * 100_000 + "]" * 100_000 + "}"
    stream.add(poison, *[message(n) for n in range(3)])
    assert stream.run("w7") == 3
    [letter] = stream.dead()
    assert "RecursionError" in letter["reason"]
    assert letter["message"] == poison  # kept whole, not lost
    assert stream.r.xlen(stream.key) == 0


class FailsOnBad(Worker):
    async def handle(self, raw):
        if raw and json.loads(raw)["body"] == "bad":
            raise RuntimeError("the downstream service said no")
        await super().handle(raw)


def test_a_failing_entry_is_dead_lettered_after_n_deliveries_and_the_group_moves_on(stream):
    stream.add(json.dumps({"id": "b", "body": "bad"}), message(1), message(2))
    assert stream.run("w8", worker_class=FailsOnBad, lease_seconds=0.2) == 2
    [letter] = stream.dead()
    assert letter["attempts"] == MAX_ATTEMPTS  # Redis's delivery count, not ours
    assert f"failed {MAX_ATTEMPTS} times" in letter["reason"]
    assert "the downstream service said no" in letter["reason"]
    assert stream.r.xlen(stream.key) == 0 and stream.pending() == 0


class FailsFirstDelivery(Worker):
    """Fails the first delivery of every entry (by entry id), succeeds the second."""

    async def process(self, entry_id, fields, deliveries):
        self.seen = getattr(self, "seen", set())
        if entry_id not in self.seen:
            self.seen.add(entry_id)
            await self.client.incr(f"{self.stream}:failures")
            return False  # as a failed handling: stays pending, redelivered after the lease
        return await super().process(entry_id, fields, deliveries)


def test_identical_bodies_with_different_ids_are_counted_separately(stream):
    # Same bytes twice: each entry has its own delivery count. (A count keyed by the
    # message's bytes would give the second one the first one's failures.)
    same = message(1, "same-body")
    stream.add(same, same)
    assert stream.run("w10", worker_class=FailsFirstDelivery, lease_seconds=0.2,
                      max_attempts=2) == 2
    assert int(stream.r.get(f"{stream.key}:failures")) == 2 and stream.dead() == []


class Crash(BaseException):
    """Stands for the process dying (out of memory, segfault) while handling."""


class CrashesOnBad(Worker):
    async def handle(self, raw):
        if json.loads(raw)["body"] == "bad":
            raise Crash
        await super().handle(raw)


def test_an_entry_that_kills_the_worker_is_buried_after_max_attempts(stream):
    stream.add(json.dumps({"id": "k", "body": "bad"}), message(1))
    crashes = 0
    for _ in range(MAX_ATTEMPTS + 1):  # the worker is restarted after every crash
        try:
            handled = stream.run("w9", worker_class=CrashesOnBad, lease_seconds=0.2)
            break
        except Crash:
            crashes += 1
    assert crashes == MAX_ATTEMPTS and handled <= 1
    [letter] = stream.dead()
    assert f"not finished in {MAX_ATTEMPTS} attempts" in letter["reason"]
    assert json.loads(letter["message"])["id"] == "k"
    # The message behind it was handled (in one of the runs) and acknowledged: not dead.
    assert stream.r.xlen(stream.key) == 0 and stream.pending() == 0


def test_a_consumer_sigkilled_mid_batch_loses_nothing(stream, worker_process):
    ids = [uuid.uuid4().hex for _ in range(10_000)]  # enough to be mid-stream at the kill
    with stream.r.pipeline(transaction=False) as pipe:
        for i in ids:
            pipe.xadd(stream.key, {"message": json.dumps({"id": i, "body": "k"})})
        pipe.execute()
    first = worker_process("--name", "wk1", "--lease", "1")

    def holding() -> int:  # entries wk1 has read and not yet acknowledged
        return next((c["pending"] for c in stream.r.xpending(stream.key, GROUP)["consumers"]
                     if c["name"] == b"wk1"), 0) if stream.r.exists(stream.key) else 0

    def frozen_while_holding() -> bool:
        assert first.proc.poll() is None, first.output[-500:]
        if len(handled_ids(first.output)) < 200 or not holding():
            return False
        # Frozen, it cannot acknowledge between this look and the kill; an
        # acknowledgement already on its way to Redis lands within the pause.
        first.send_signal(signal.SIGSTOP)
        time.sleep(0.2)
        if holding():
            return True
        first.send_signal(signal.SIGCONT)
        return False

    wait_until(frozen_while_holding, 60, "wk1 frozen while it holds entries", interval=0.01)
    first.proc.kill()  # SIGKILL in the middle of a batch: no clean-up of any kind
    first.wait()
    # What it held: delivered, not acknowledged. Only XAUTOCLAIM can get these out.
    held = [row["message_id"] for row in stream.r.xpending_range(
        stream.key, GROUP, "-", "+", 1000, "wk1")]
    held_ids = {json.loads(fields[b"message"])["id"] for entry_id, fields in
                stream.r.xrange(stream.key) if entry_id in held}
    assert held_ids, "wk1 held no entry when it was killed: the test proved nothing"
    second = worker_process("--name", "wk2", "--lease", "1", "--drain")
    assert second.wait(timeout=120) == 0, second.output[-1000:]
    first_ids, second_ids = handled_ids(first.output), handled_ids(second.output)
    assert set(first_ids + second_ids) == set(ids), "a message was lost"
    assert held_ids <= set(second_ids), "wk2 did not take over what wk1 held"
    assert stream.r.xlen(stream.key) == 0 and stream.pending() == 0 and stream.dead() == []
    print(f"wk1 held {len(held_ids)} when killed; handled {len(first_ids)} + "
          f"{len(second_ids)} times for {len(ids)} ids")


def test_settings_come_from_the_environment_then_flags():
    env = {"WORKER_MAX_ATTEMPTS": "7", "WORKER_LEASE_SECONDS": "0.5", "WORKER_PORT": "9001"}
    settings = settings_from(parse_args([]), env)
    assert (settings.worker_max_attempts, settings.worker_lease_seconds,
            settings.worker_port) == (7, 0.5, 9001)
    flags = parse_args(["--max-attempts", "2", "--lease", "3", "--port", "0", "--drain"])
    settings = settings_from(flags, env)
    assert (settings.worker_max_attempts, settings.worker_lease_seconds,
            settings.worker_port, flags.drain) == (2, 3.0, 0, True)
    with pytest.raises(ConfigError, match="WORKER_LEASE_SECONDS: expected a number of seconds"):
        settings_from(parse_args([]), {"WORKER_LEASE_SECONDS": "soon"})


def test_worker_process_stops_on_sigterm_with_status_0(stream, worker_process):
    proc = worker_process("--name", "wp")
    health = proc.wait_for_line(r"health on (http://127\.0\.0\.1:\d+/healthz)").group(1)
    proc.wait_for_line("worker wp consuming")
    reply = fetch(health)
    assert reply.status == 200 and reply.json()["status"] == "ok", reply.text
    stream.add(message(1))
    proc.wait_for_line("handled id=")
    assert proc.stop(signal.SIGTERM, timeout=10) == 0
    assert "worker wp stopped after 1 message(s), 0 moved to" in proc.output


def test_healthz_says_503_when_the_loop_is_stuck(stream):
    async def ask(last_turn_ago: float) -> tuple[int, dict]:
        worker = Worker(None, stream.key, "wh", lease_seconds=1)
        worker.last_turn = asyncio.get_running_loop().time() - last_turn_ago
        [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(
            tornado.web.Application([(r"/healthz", HealthHandler, {"worker": worker})]))
        server.add_sockets([sock])
        try:
            reply = await tornado.httpclient.AsyncHTTPClient().fetch(
                f"http://127.0.0.1:{sock.getsockname()[1]}/healthz", raise_error=False)
            return reply.code, json.loads(reply.body)
        finally:
            server.stop()

    assert asyncio.run(ask(0.5))[0] == 200
    status, body = asyncio.run(ask(60))
    assert status == 503 and body["status"] == "stuck" and body["seconds_since_last_turn"] >= 60


def test_worker_without_redis_fails_clearly(queue_key):
    proc = start([sys.executable, "-m", "service.worker", "--drain", "--port", "0",
                  "--address", "127.0.0.1"],
                 env={"REDIS_URL": "redis://127.0.0.1:9/0", "QUEUE_KEY": queue_key}, echo=False)
    assert proc.wait(timeout=15) == 1
    assert "cannot use Redis at redis://127.0.0.1:9/0" in proc.output
