"""Concurrency without loss: every 202 is in Redis exactly once, also across a SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections import Counter

from tests.redis_server import stored
from tutorial.load import post_at_once, post_many
from tutorial.net import free_port


def ids_in_queue(redis_client, key) -> Counter:
    return Counter(json.loads(raw)["id"] for raw in stored(redis_client, key))


def test_concurrent_posts_are_all_queued_once(service_url, redis_client, queue_key):
    result = asyncio.run(post_many([service_url], count=1000, concurrency=50))
    assert not result.failures, str(result)
    assert len(result.accepted) == 1000
    assert ids_in_queue(redis_client, queue_key) == Counter(result.accepted)


def test_sigterm_under_load_loses_no_accepted_message(start_service, redis_server,
                                                      redis_client, queue_key):
    proc, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key)
    # SIGTERM lands while the burst is running (after ~0.3 s of a several-second burst).
    timer = threading.Timer(0.3, proc.proc.send_signal, (signal.SIGTERM,))
    timer.start()
    result = asyncio.run(post_many([url], count=5000, concurrency=40, timeout=5))
    timer.cancel()
    assert proc.wait() == 0
    assert "received SIGTERM" in proc.output
    assert 0 < len(result.accepted) < 5000, str(result)  # it really stopped mid-load
    # After the stop, new connections are refused, and a request racing the close of an
    # idle keep-alive connection sees a reset, a broken pipe or a closed stream: none of
    # those was answered. An HTTP error status would be a bug.
    assert not result.error_statuses, str(result)
    queued = ids_in_queue(redis_client, queue_key)
    assert all(queued[i] == 1 for i in result.accepted), "an accepted message is missing"
    assert max(queued.values()) == 1
    # Queued but never acknowledged would need a reply lost after the push: at most one
    # per connection-level failure, and with the drain there should be none.
    assert len(set(queued) - set(result.accepted)) <= sum(result.failures.values())


def bodies_in_queue(redis_client, key) -> Counter:
    return Counter(json.loads(raw)["body"] for raw in stored(redis_client, key))


def test_retries_go_to_the_next_replica(service_url, redis_client, queue_key):
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    result = asyncio.run(post_many([nobody_listens, service_url], count=200, concurrency=10,
                                   retries=2))
    assert not result.failures, str(result)
    assert result.retries["ConnectionRefusedError"] >= 1, str(result)
    # The refused replica is skipped for a while: far fewer retries than messages.
    assert sum(result.retries.values()) < 100, str(result)
    assert len(result.accepted) == 200
    assert ids_in_queue(redis_client, queue_key) == Counter(result.accepted)
    assert bodies_in_queue(redis_client, queue_key) == Counter(
        f"message {n}" for n in range(200))


def test_without_retries_a_refused_connection_is_a_failure(service_url):
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    result = asyncio.run(post_many([nobody_listens, service_url], count=20, concurrency=2))
    assert result.failures["ConnectionRefusedError"] == 10, str(result)
    assert not result.retries
    assert len(result.accepted) == 10


def test_a_replica_stopped_mid_load_costs_the_client_nothing(start_service, redis_server,
                                                              redis_client, queue_key):
    env = {"REDIS_URL": redis_server.url, "QUEUE_KEY": queue_key}
    stopping, first = start_service(**env)
    _, second = start_service(**env)
    timer = threading.Timer(0.3, stopping.proc.send_signal, (signal.SIGTERM,))
    timer.start()
    result = asyncio.run(post_many([first, second], count=3000, concurrency=30, timeout=5,
                                   retries=3))
    timer.cancel()
    assert stopping.wait() == 0
    assert result.retries, f"the stop happened after the load: {result}"
    assert not result.failures, str(result)
    assert len(result.accepted) == 3000
    queued = ids_in_queue(redis_client, queue_key)
    assert all(queued[i] == 1 for i in result.accepted)
    # Each message once: a retry after a lost answer would show as a body stored twice
    # (unless the service dedupes the Idempotency-Key, which is why the client sends one).
    assert bodies_in_queue(redis_client, queue_key) == Counter(
        f"message {n}" for n in range(3000))


def test_post_at_once_sends_every_request_on_its_own_connection(service_url, redis_client,
                                                                queue_key):
    result = asyncio.run(post_at_once(service_url, count=300))
    assert not result.failures, str(result)
    assert len(result.accepted) == len(set(result.accepted)) == 300
    assert ids_in_queue(redis_client, queue_key) == Counter(result.accepted)
    assert bodies_in_queue(redis_client, queue_key) == Counter(
        f"message {n}" for n in range(300))


def test_post_at_once_counts_refused_connections_and_error_statuses(start_service,
                                                                    redis_server, queue_key):
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    refused = asyncio.run(post_at_once(nobody_listens, count=5))
    assert refused.failures == Counter({"connect: ConnectionRefusedError": 5})
    assert refused.sent == 5 and not refused.accepted
    # Past MAX_PENDING the service answers 503 at once: counted by status, as post_many does.
    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key, MAX_PENDING="1")
    crowded = asyncio.run(post_at_once(url, count=200))
    assert crowded.sent == 200 and crowded.failures["HTTP 503"] > 0, str(crowded)
    assert set(crowded.failures) == {"HTTP 503"}, str(crowded)
