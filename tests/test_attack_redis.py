"""A connection to Redis that drops after Redis executed the push: stored once, told truly.

The proxy below sits between the service and a real Redis. For the pushes whose
number (0, 1, 2, ... in arrival order) is in `drops`, it forwards the command, waits
until Redis has answered (so the push has happened), then closes the service's
connection instead of relaying the answer: the classic case where a client cannot
know whether its command ran.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.redis_server import stored
from tutorial.net import fetch, free_port

TEXT = {"Content-Type": "text/plain"}
PUSHES = (b"EVALSHA",)  # what the service sends to store messages


class DroppingProxy:
    def __init__(self, upstream_port: int, drops: set[int]) -> None:
        self.upstream, self.drops, self.pushes, self.dropped = upstream_port, drops, 0, 0
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(5), "the proxy did not start"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port))
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        try:
            # redis-py waits for each answer before its next command on a connection,
            # so a request/answer relay is enough (small commands arrive in one read).
            while command := await reader.read(1 << 20):
                up_writer.write(command)
                await up_writer.drain()
                answer = await up_reader.read(1 << 20)
                if (any(name in command[:64].upper() for name in PUSHES)
                        and not answer.startswith(b"-")):
                    self.pushes += 1
                    if self.pushes - 1 in self.drops:
                        self.dropped += 1  # executed by Redis; the service never hears so
                        break
                writer.write(answer)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            up_writer.close()

    def stop(self) -> None:
        async def close():
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def proxy_to(redis_server):
    started = []

    def make(drops: set[int]) -> DroppingProxy:
        proxy = DroppingProxy(redis_server.port, drops)
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


def test_a_retried_push_is_stored_once(start_service, proxy_to, redis_client, queue_key):
    proxy = proxy_to(drops={0, 2, 4, 6, 8})
    _, url = start_service(REDIS_URL=proxy.url, QUEUE_KEY=queue_key)
    ids = set()
    for n in range(5):  # each POST: the first push lands, its answer is lost, a retry follows
        reply = fetch(url + "/enqueue", "POST", f"m{n}", TEXT)
        assert reply.status == 202, reply.text
        ids.add(reply.json()["id"])
    assert proxy.dropped == 5
    messages = stored(redis_client, queue_key)
    assert len(messages) == 5, f"{len(messages) - 5} duplicates for 5 accepted POSTs"
    assert len(ids) == 5


def test_unknown_outcome_says_so_and_a_retry_with_the_id_dedupes(start_service, proxy_to,
                                                                  redis_client, queue_key):
    # Both the push and the service's retry lose their answers: the service cannot know.
    proxy = proxy_to(drops={0, 1})
    _, url = start_service(REDIS_URL=proxy.url, QUEUE_KEY=queue_key)
    reply = fetch(url + "/enqueue", "POST", "maybe", TEXT)
    assert reply.status == 503, reply.text
    body = reply.json()
    assert "nothing was enqueued" not in body["error"]
    assert "may have been queued" in body["error"] and "Idempotency-Key" in body["error"]
    assert reply.headers["Retry-After"] == "1"
    assert redis_client.xlen(queue_key) == 1  # it had landed
    # The client does what it was told: the same body again, with the id as the key.
    again = fetch(url + "/enqueue", "POST", "maybe",
                  {**TEXT, "Idempotency-Key": body["id"]})
    assert again.status == 202 and again.json()["id"] == body["id"]
    assert redis_client.xlen(queue_key) == 1


def test_idempotency_key_is_the_id_and_repeats_store_once(service_url, redis_client,
                                                          queue_key):
    headers = {**TEXT, "Idempotency-Key": "order-42:v1.a_b"}
    replies = [fetch(service_url + "/enqueue", "POST", "pay once", headers) for _ in range(3)]
    assert [r.status for r in replies] == [202, 202, 202]
    assert {r.json()["id"] for r in replies} == {"order-42:v1.a_b"}
    [only] = stored(redis_client, queue_key)
    assert b'"id":"order-42:v1.a_b"' in only
    ttl = redis_client.ttl(f"{queue_key}:seen:order-42:v1.a_b")
    assert 590 <= ttl <= 600, ttl  # the dedupe window: 10 minutes by default
    other = fetch(service_url + "/enqueue", "POST", "x", {**TEXT, "Idempotency-Key": "other"})
    assert other.status == 202 and redis_client.xlen(queue_key) == 2


@pytest.mark.parametrize("key", ["", "a" * 129, "has space", "semi;colon", "sl/ash", "é"])
def test_bad_idempotency_keys_are_a_400(service_url, redis_client, queue_key, key):
    reply = fetch(service_url + "/enqueue", "POST", "x",
                  {**TEXT, "Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    assert reply.status == 400, reply.text
    assert "Idempotency-Key" in reply.json()["error"]
    assert redis_client.xlen(queue_key) == 0


def test_concurrent_repeats_of_one_key_store_once(start_service, redis_server, redis_client,
                                                  queue_key):
    from concurrent.futures import ThreadPoolExecutor

    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key)
    headers = {**TEXT, "Idempotency-Key": "same"}
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(
            lambda _: fetch(url + "/enqueue", "POST", "x", headers).status, range(64)))
    assert statuses == [202] * 64
    assert redis_client.xlen(queue_key) == 1
