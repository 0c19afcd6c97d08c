"""Redis killed (SIGKILL) and restarted in the middle of a load, with a worker consuming.

Redis here keeps its data the way a production one should: an append-only file written
before each answer (`appendfsync always`). Then what Redis acknowledged survives the
kill, and so must every 202: each accepted id is handled by a worker at least once,
and no id is stored twice (retries after the restart are deduplicated by the "seen"
keys, which survive too). Without persistence a restarted Redis is empty: the
acknowledged messages it held are gone, which is why its data must be durable.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time

import pytest
import redis

from tests.redis_server import RedisServer
from tutorial.load import post_many
from tutorial.shell import start


@pytest.fixture
def durable_redis(tmp_path):
    server = RedisServer(None, "--appendonly", "yes", "--appendfsync", "always",
                         "--dir", str(tmp_path)).start()
    yield server
    server.stop()


def test_acknowledged_messages_survive_a_redis_kill_mid_load(durable_redis, start_service):
    key = "restart:queue"
    _, url = start_service(REDIS_URL=durable_redis.url, QUEUE_KEY=key)
    env = {"REDIS_URL": durable_redis.url, "QUEUE_KEY": key}
    worker = start([sys.executable, "-m", "service.worker", "--name", "wr", "--lease", "1",
                    "--port", "0", "--address", "127.0.0.1"], env=env, echo=False)
    try:
        # Consuming before Redis is killed: a worker that cannot reach Redis while it
        # starts exits (its supervisor restarts it); this test is about one that runs.
        worker.wait_for_line(rf"consuming {key} in group", timeout=60)

        async def load_with_a_restart():
            load = asyncio.ensure_future(post_many([url], count=1500, concurrency=20,
                                                   timeout=10, retries=5, cooldown=0.2))
            await asyncio.sleep(0.5)
            durable_redis.stop(kill=True)  # no shutdown, no final save
            await asyncio.sleep(0.3)
            durable_redis.start()  # same port, same directory: reloads the append-only file
            return await load

        began = time.monotonic()
        result = asyncio.run(load_with_a_restart())
        assert len(result.accepted) > 0 and result.failures.total() < 1500, str(result)
        drain = start([sys.executable, "-m", "service.worker", "--name", "wd", "--lease", "1",
                       "--drain", "--port", "0", "--address", "127.0.0.1"], env=env, echo=False)
        assert drain.wait(timeout=120) == 0, drain.output[-1000:]
        assert worker.proc.poll() is None, "the worker died with Redis: " + worker.output[-800:]
        assert worker.stop(signal.SIGTERM, timeout=10) == 0
    finally:
        worker.kill()
    handled = re.findall(r"handled id=(\S+)", worker.output + drain.output)
    lost = set(result.accepted) - set(handled)
    assert not lost, f"{len(lost)} accepted messages were never handled"
    client = redis.Redis.from_url(durable_redis.url)
    info = client.xinfo_stream(key)
    client.close()
    # Every entry ever added carried an id of its own: none was stored twice.
    assert info["entries-added"] == len(set(handled)), (info["entries-added"], len(set(handled)))
    assert info["length"] == 0
    print(f"{result}; {len(handled)} handlings of {len(set(handled))} ids; "
          f"Redis restarted in the middle; {time.monotonic() - began:.1f} s")
