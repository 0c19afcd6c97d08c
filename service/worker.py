"""`python -m service.worker`: consume the queue, at least once, past poison messages.

The HTTP replicas LPUSH messages; a worker takes them from the other end. Taking a
message must not lose it if the worker dies halfway, so the worker never *pops*: it
atomically MOVES the message into its own processing list (BLMOVE), handles it, and
only then removes it (LREM). A worker keeps a heartbeat key alive while it runs; any
worker that finds a registered peer without a heartbeat moves that peer's unfinished
messages back onto the queue. A message may therefore be handled twice (after a crash
between handling and LREM), never zero times: handlers must be idempotent.

A message no worker can handle must not stop the queue behind it. Every take counts
an attempt (in Redis, so crashes count too). A message that cannot be parsed goes
to the dead-letter list at once; one whose handling fails (or kills the worker) is
put back at the end of the queue and tried again, up to `max_attempts` takes, then
dead-lettered. Dead letters keep the message and say why: nothing is lost silently.

Keys, for QUEUE_KEY=hello:queue:
    hello:queue                         the queue (LPUSH in, BLMOVE out)
    hello:queue:processing:<worker>     messages a worker has taken, not yet finished
    hello:queue:workers                 set of worker names that may hold messages
    hello:queue:heartbeat:<worker>      exists while that worker is alive (expires)
    hello:queue:attempts                hash: message -> times taken, while unfinished
    hello:queue:handled                 counter of handled messages
    hello:queue:dead                    dead letters: JSON {reason, attempts, message, ...}
    hello:queue:seen:<id>               written by the service: id stored recently
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from service.config import ConfigError, build_parser, settings_from
from service.logs import setup_logging

log = logging.getLogger("worker")

MAX_ATTEMPTS = 5


class Poison(Exception):
    """The message can never be handled (not a queue message at all): no retry helps."""


class Worker:
    def __init__(self, client: aioredis.Redis, queue_key: str, name: str,
                 lease_seconds: int = 15, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.client, self.queue, self.name, self.lease = client, queue_key, name, lease_seconds
        self.max_attempts = max_attempts
        self.processing = self.processing_key(name)
        self.workers = f"{queue_key}:workers"
        self.handled_key = f"{queue_key}:handled"
        self.dead_key = f"{queue_key}:dead"
        self.attempts_key = f"{queue_key}:attempts"
        self.handled = 0
        self.dead = 0

    def processing_key(self, name: str) -> str:
        return f"{self.queue}:processing:{name}"

    def heartbeat_key(self, name: str) -> str:
        return f"{self.queue}:heartbeat:{name}"

    async def beat(self) -> None:
        await self.client.set(self.heartbeat_key(self.name), "alive", ex=self.lease)

    async def recover(self) -> int:
        """Requeue what workers without a heartbeat left behind; return how many messages.

        Our own processing list counts too: if it holds anything when we start, a
        previous process with our name died while handling it.
        """
        moved = 0
        for raw_name in await self.client.smembers(self.workers):
            name = raw_name.decode()
            if name != self.name and await self.client.exists(self.heartbeat_key(name)):
                continue  # alive
            # RIGHT->RIGHT: recovered messages go to the consuming end, to be taken next.
            while await self.client.lmove(self.processing_key(name), self.queue, "RIGHT", "RIGHT"):
                moved += 1
            if name != self.name:
                await self.client.srem(self.workers, name)
        if moved:
            log.warning("recovered %d unfinished message(s) from stopped workers", moved)
        return moved

    async def handle(self, raw: bytes) -> None:
        """The work itself. Here: log it. Must be idempotent (at-least-once delivery).

        Raises Poison for what is not a queue message; any other exception counts as a
        failed attempt, retried later.
        """
        try:
            message = json.loads(raw)
            message_id = message["id"]
        except (ValueError, RecursionError, KeyError, TypeError) as exc:
            raise Poison(f"not a queue message ({type(exc).__name__}: {exc})"[:200]) from None
        log.info("handled id=%s from %s received_at=%s body=%.60r", message_id,
                 message.get("served_by"), message.get("received_at"), message.get("body"))

    async def bury(self, raw: bytes, attempts: int, reason: str) -> None:
        """Move a message from our processing list to the dead letters, with the reason."""
        letter = json.dumps({
            "reason": reason, "attempts": attempts, "worker": self.name,
            "dead_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "message": raw.decode("utf-8", "backslashreplace"),
        })
        async with self.client.pipeline(transaction=True) as pipe:
            await (pipe.lpush(self.dead_key, letter).lrem(self.processing, 1, raw)
                   .hdel(self.attempts_key, raw).execute())
        self.dead += 1
        log.error("moved a message to %s after %d attempt(s): %s: %.80r",
                  self.dead_key, attempts, reason, raw)

    async def process(self, raw: bytes) -> None:
        """Handle one message taken into our processing list, whatever it holds."""
        attempts = await self.client.hincrby(self.attempts_key, raw, 1)
        if attempts > self.max_attempts:
            # Taken that often and never finished: it kills or hangs the worker.
            await self.bury(raw, attempts - 1, f"not finished in {self.max_attempts} "
                            "attempts (the worker stopped while handling it)")
            return
        try:
            await self.handle(raw)
        except Poison as exc:
            await self.bury(raw, attempts, str(exc))
            return
        except Exception as exc:  # the work failed: retry later, a bounded number of times
            reason = f"{type(exc).__name__}: {exc}"[:200]
            if attempts >= self.max_attempts:
                await self.bury(raw, attempts, f"failed {attempts} times, last: {reason}")
                return
            log.warning("attempt %d of %d failed, back to the queue: %s",
                        attempts, self.max_attempts, reason)
            # To the back of the line (LPUSH end), so the messages behind it move on.
            async with self.client.pipeline(transaction=True) as pipe:
                await pipe.lrem(self.processing, 1, raw).lpush(self.queue, raw).execute()
            return
        # Finished: only now does the message leave Redis. One transaction, so the
        # counter never disagrees with the lists.
        async with self.client.pipeline(transaction=True) as pipe:
            await (pipe.lrem(self.processing, 1, raw).incr(self.handled_key)
                   .hdel(self.attempts_key, raw).execute())
        self.handled += 1

    async def others_hold_messages(self) -> bool:
        """True while another registered worker still has unfinished messages."""
        for raw_name in await self.client.smembers(self.workers):
            name = raw_name.decode()
            if name != self.name and await self.client.llen(self.processing_key(name)):
                return True
        return False

    async def run(self, stop: asyncio.Event, drain: bool = False) -> int:
        """Consume until `stop` is set (or, with `drain`, until nothing is left anywhere:
        the queue empty and no worker holding unfinished messages)."""
        await self.client.sadd(self.workers, self.name)
        await self.beat()
        await self.recover()
        log.info("worker %s consuming %s", self.name, self.queue)
        last_recovery = asyncio.get_running_loop().time()
        while not stop.is_set():
            now = asyncio.get_running_loop().time()
            if now - last_recovery > self.lease / 3:
                await self.beat()
                await self.recover()
                last_recovery = now
            # Wait at most 1 s so a SIGTERM is noticed quickly.
            raw = await self.client.blmove(self.queue, self.processing, 1, "RIGHT", "LEFT")
            if raw is None:
                if drain:
                    # A worker that died holding messages leaves them in its processing
                    # list; wait until its heartbeat expires and take them back.
                    await self.beat()
                    if await self.recover() or await self.others_hold_messages():
                        continue
                    break
                continue
            await self.process(raw)
        await self.client.srem(self.workers, self.name)
        await self.client.delete(self.heartbeat_key(self.name))
        log.info("worker %s stopped after %d message(s), %d moved to %s", self.name,
                 self.handled, self.dead, self.dead_key)
        return self.handled


def parse_args(argv: list[str] | None):
    parser = build_parser("python -m service.worker", ("redis_url", "queue_key", "log_level"))
    parser.description = "Consume the hello queue at least once."
    parser.add_argument("--name", default=None,
                        help="worker name, unique per worker [POD_NAME] (default: host-pid)")
    parser.add_argument("--drain", action="store_true",
                        help="exit 0 once the queue is empty instead of waiting for more")
    parser.add_argument("--lease", type=int, default=15,
                        help="seconds without a heartbeat before a worker counts as dead")
    parser.add_argument("--max-attempts", type=int, default=MAX_ATTEMPTS,
                        help="takes of one message before it goes to the dead letters")
    return parser.parse_args(argv)


async def _main(args, settings) -> int:
    client = aioredis.from_url(settings.redis_url, socket_connect_timeout=2)
    name = args.name or os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    worker = Worker(client, settings.queue_key, name, args.lease, args.max_attempts)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await worker.run(stop, drain=args.drain)
    finally:
        await client.aclose()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"python -m service.worker: error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        return asyncio.run(_main(args, settings))
    except (RedisError, OSError) as exc:
        log.error("cannot use Redis at %s: %s", settings.redis_url, exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
