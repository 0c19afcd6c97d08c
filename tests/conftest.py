"""Shared fixtures: a real Redis for the whole session, a fresh queue key per test."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.prereq import need
from tests.redis_server import RedisServer, redis_problem


@pytest.fixture(scope="session")
def redis_server():
    need("redis", redis_problem())
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def queue_key(redis_client):
    """A queue of this test's own, deleted afterwards (with the worker's side keys)."""
    key = f"test:{uuid.uuid4().hex[:12]}"
    yield key
    for name in redis_client.scan_iter(f"{key}*"):
        redis_client.delete(name)


@pytest.fixture
def start_service():
    """Factory: `python -m service` as a real process on a free loopback port.

    `launch(*flags, **env)` returns (process, base_url) once it listens; with
    `listening=False` it returns at once with base_url None (for start-up failures).
    Every process is killed after the test.
    """
    import sys

    from tutorial.shell import start

    started = []

    def launch(*args: str, listening: bool = True, **env: str):
        proc = start([sys.executable, "-m", "service", "--address", "127.0.0.1", "--port", "0",
                      *args], env=env, echo=False)
        started.append(proc)
        if not listening:
            return proc, None
        port = int(proc.wait_for_line(r"listening on http://[^:]+:(\d+)").group(1))
        return proc, f"http://127.0.0.1:{port}"

    yield launch
    for proc in started:
        proc.kill()


@pytest.fixture
def service_url(start_service, redis_server, queue_key):
    """The service with Redis up and a queue of this test's own."""
    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key)
    return url
