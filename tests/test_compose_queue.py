"""The whole queue in Compose, as the issue's "done when" says: Redis, 3 hello replicas,
2 workers; 2,000 POSTs with Idempotency-Keys while one worker is SIGKILLed and restarted;
every accepted id handled at least once, none stored twice, no dead letters; then a
hand-made unparsable entry lands in the dead letters and the rest still drains.

The host talks to the containers through their 127.0.0.1 published ports only. The
figures are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.lab import docker
from tests.prereq import need
from tutorial.containers import images
from tutorial.load import post_many
from tutorial.net import fetch
from tutorial.prereqs import docker_problem
from tutorial.wait import wait_until

ROOT = Path(__file__).resolve().parents[1]
TAG = "hello-tornado:pytest-compose"
QUEUE = "hello:queue"


class Stack:
    """One Compose project of compose.yaml, on the image built from this checkout."""

    def __init__(self) -> None:
        self.project = f"hm-queue-{uuid.uuid4().hex[:10]}"
        self.args = ["compose", "-p", self.project]  # after `docker`
        if (ROOT / "build" / "images.env").exists():
            self.args += ["--env-file", "build/images.env"]

    def __call__(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        return docker(*self.args, *args, cwd=ROOT, env={"HELLO_IMAGE": TAG}, timeout=timeout,
                      check=check).stdout

    def port(self, service: str, port: int, index: int = 1) -> int:
        address, _, published = self("port", "--index", str(index), service,
                                     str(port)).strip().rpartition(":")
        assert address == "127.0.0.1", f"{service} is published on {address}, not loopback"
        return int(published)


@pytest.fixture(scope="module")
def stack():
    need("docker", docker_problem())
    compose = docker("compose", "version", check=False)
    need("docker", "Compose v2 (`docker compose`) is not installed" if compose.returncode
         else None)
    if not (ROOT / "build" / "images.env").exists():
        subprocess.run(["bash", "scripts/base-images.sh"], cwd=ROOT, check=True)
    docker("build", "--build-arg", f"PYTHON_IMAGE={images()['PYTHON_IMAGE']}", "-t", TAG,
           str(ROOT), timeout=900)
    compose = Stack()
    try:
        compose("up", "-d", "--wait", "--scale", "hello=3", "--scale", "worker=2")
        yield compose
    finally:
        compose("down", "-v", "-t", "2", check=False)
        docker("rmi", TAG, check=False)


def handled_ids(stack: Stack) -> list[str]:
    return re.findall(r"handled id=(\S+)", stack("logs", "--no-log-prefix", "worker"))


def test_2000_posts_with_a_worker_killed_midway_are_each_handled(stack):
    urls = [f"http://127.0.0.1:{stack.port('hello', 8080, n)}" for n in (1, 2, 3)]
    r = redis.Redis(host="127.0.0.1", port=stack.port("redis", 6379))
    victim = stack("ps", "-q", "worker").split()[0]
    wait_until(lambda: stack("logs", "worker").count("consuming hello:queue in group") == 2,
               60, "both workers read the stream", interval=0.2)

    async def load_and_kill():
        load = asyncio.ensure_future(post_many(urls, count=2000, concurrency=30, timeout=15,
                                               retries=5))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(docker, "kill", "--signal", "KILL", victim)
        held = r.xpending(QUEUE, "workers")["consumers"]
        await asyncio.to_thread(docker, "start", victim)  # same hostname: same consumer name
        return await load, held

    began = time.monotonic()
    result, held = asyncio.run(load_and_kill())
    load_seconds = time.monotonic() - began
    assert len(result.accepted) == 2000 and not result.failures, str(result)
    began = time.monotonic()
    wait_until(lambda: r.xlen(QUEUE) == 0 and r.xpending(QUEUE, "workers")["pending"] == 0,
               180, "the workers drained the stream", interval=0.2)
    drain_seconds = time.monotonic() - began
    handled = handled_ids(stack)
    lost = set(result.accepted) - set(handled)
    added = r.xinfo_stream(QUEUE)["entries-added"]
    dead = r.llen(f"{QUEUE}:dead")
    print(f"\n2,000 POSTs: {len(result.accepted)} accepted in {load_seconds:.1f} s "
          f"({result}); killed worker held {held}; drained {drain_seconds:.1f} s later; "
          f"{len(handled)} handlings of {len(set(handled))} ids, lost {len(lost)}, "
          f"entries added {added}, stored twice {added - len(set(result.accepted))}, "
          f"dead letters {dead}")
    assert not lost, f"{len(lost)} accepted messages were never handled"
    assert added == len(set(result.accepted)) == 2000, "an id was stored twice"
    assert dead == 0
    wait_until(lambda: all(c["Health"] == "healthy" for c in containers(stack)), 60,
               "the restarted worker is healthy again", interval=0.2)

    # A hand-made unparsable entry: dead-lettered at once, and what follows still drains.
    poison = r.xadd(QUEUE, {"message": "this is not JSON"})
    after = [fetch(urls[0] + "/enqueue", "POST", f"after {n}", {"Content-Type": "text/plain"})
             for n in range(5)]
    assert [a.status for a in after] == [202] * 5
    wait_until(lambda: r.llen(f"{QUEUE}:dead") == 1 and r.xlen(QUEUE) == 0, 60,
               "the poison entry is dead-lettered and the stream drained", interval=0.2)
    letter = r.lindex(f"{QUEUE}:dead", 0).decode()
    assert poison.decode() in letter and "not a queue message" in letter
    assert {a.json()["id"] for a in after} <= set(handled_ids(stack))
    # One more consumer, as a batch job: nothing is left, so it exits at once.
    drained = stack("run", "--rm", "worker", "--drain", timeout=120)
    assert f"drained {QUEUE}: 0 handled, 0 dead-lettered" in drained, drained[-1000:]
    r.close()


def containers(stack: Stack) -> list[dict]:
    text = stack("ps", "--format", "json").strip()
    return json.loads(text) if text.startswith("[") else [
        json.loads(line) for line in text.splitlines() if line.strip()]
