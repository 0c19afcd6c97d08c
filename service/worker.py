"""`python -m service.worker`: consume the queue stream in a consumer group, at least once.

The replicas XADD messages to the stream QUEUE_KEY; each worker reads it as a consumer
(its own name) of the group `workers`. Redis keeps what it delivered to whom and not yet
acknowledged (the pending entries), with a delivery count per entry. So a worker reads
new entries (XREADGROUP), handles them, then acknowledges and deletes them (XACK + XDEL
in one transaction). The entries of a worker that died stay pending; once idle longer
than the lease, another worker (or its restart) claims them (XAUTOCLAIM): a message may
be handled twice, never zero times, so handlers must be idempotent. An entry that cannot
be parsed goes to the dead letters at once, one delivered `max_attempts` times without
success (it fails, or kills its worker) too: JSON {reason, attempts, worker, dead_at,
entry, message} in the list QUEUE_KEY:dead, newest first. Nothing is dropped silently.

GET /healthz on WORKER_PORT answers 200 while the consume loop turns, 503 once it is
stuck (liveness: Docker or Kubernetes restarts the worker).
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
import tornado.httpserver
import tornado.netutil
import tornado.web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.config import ConfigError, Settings, build_parser, settings_from
from service.logs import setup_logging

log = logging.getLogger("worker")

GROUP = "workers"
MAX_ATTEMPTS = Settings.worker_max_attempts
BLOCK_SECONDS = 1.0  # longest wait for new entries; a SIGTERM is noticed within it
BATCH = 50  # entries per read or claim


class Poison(Exception):
    """The entry can never be handled (not a queue message at all): no retry helps."""


class Worker:
    def __init__(self, client: aioredis.Redis, queue_key: str, name: str,
                 lease_seconds: float = Settings.worker_lease_seconds,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self.client, self.stream, self.name = client, queue_key, name
        self.lease, self.max_attempts = lease_seconds, max_attempts
        self.dead_key = f"{queue_key}:dead"
        self.handled = self.dead = 0
        self.last_turn = 0.0  # loop time the consume loop last completed a turn
        self._cursor = "0-0"  # where the next XAUTOCLAIM scan of the pending list starts
        self._next_claim = 0.0

    async def ensure_group(self) -> None:
        """Create the group (and the stream) unless it exists: every worker may try."""
        try:  # id 0: entries appended before the first worker started are read too
            await self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    async def claim(self) -> list[tuple[bytes, dict, int]]:
        """An entry unacknowledged longer than the lease, now ours, with its delivery
        count. One at a time: a poison entry's batch-mates must not share its count."""
        self._cursor, entries, *_ = await self.client.xautoclaim(
            self.stream, GROUP, self.name, int(self.lease * 1000), self._cursor, count=1)
        if not entries or entries[0][1] is None:
            return []
        [(entry_id, fields)] = entries
        row = await self.client.xpending_range(self.stream, GROUP, entry_id, entry_id, 1)
        return [(entry_id, fields, row[0]["times_delivered"] if row else 1)]

    async def read(self, block: float) -> list[tuple[bytes, dict, int]]:
        """New entries, never delivered before (so delivered once now)."""
        reply = await self.client.xreadgroup(GROUP, self.name, {self.stream: ">"},
                                             count=BATCH, block=int(block * 1000))
        return [(entry_id, fields, 1) for _, entries in reply or [] for entry_id, fields in entries]

    async def handle(self, raw: bytes | None) -> None:
        """The work itself: here, log it. Idempotent (at-least-once delivery). Raises
        Poison for what is no queue message; another exception is retried after the lease."""
        if raw is None:
            raise Poison("not a queue message (the entry has no 'message' field)")
        try:
            message = json.loads(raw)
            message_id = message["id"]
        except (ValueError, RecursionError, KeyError, TypeError) as exc:
            raise Poison(f"not a queue message ({type(exc).__name__}: {exc})"[:200]) from None
        log.info("handled id=%s from %s received_at=%s body=%.60r", message_id,
                 message.get("served_by"), message.get("received_at"), message.get("body"))

    async def process(self, entry_id: bytes, fields: dict, deliveries: int) -> bool:
        """Handle one entry; True when it is finished (to acknowledge), False to retry."""
        if deliveries > self.max_attempts:
            # Delivered that often and never acknowledged: it kills or hangs its worker.
            await self.bury(entry_id, fields, deliveries - 1, f"not finished in "
                            f"{self.max_attempts} attempts (the worker stopped while handling it)")
            return False
        try:
            await self.handle(fields.get(b"message"))
        except Poison as exc:
            await self.bury(entry_id, fields, deliveries, str(exc))
            return False
        except Exception as exc:  # the work failed: retried after the lease, a bounded number
            reason = f"{type(exc).__name__}: {exc}"[:200]
            if deliveries >= self.max_attempts:
                await self.bury(entry_id, fields, deliveries,
                                f"failed {deliveries} times, last: {reason}")
            else:
                log.warning("attempt %d of %d failed, retried after the lease: %s",
                            deliveries, self.max_attempts, reason)
            return False
        return True

    async def bury(self, entry_id: bytes, fields: dict, attempts: int, reason: str) -> None:
        """Move an entry to the dead letters, with the reason, in one transaction."""
        text = fields[b"message"].decode(errors="backslashreplace") if b"message" in fields \
            else repr(fields)
        letter = json.dumps({
            "reason": reason, "attempts": attempts, "worker": self.name,
            "dead_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "entry": entry_id.decode(), "message": text,
        })
        async with self.client.pipeline(transaction=True) as pipe:
            await (pipe.lpush(self.dead_key, letter).xack(self.stream, GROUP, entry_id)
                   .xdel(self.stream, entry_id).execute())
        self.dead += 1
        log.error("moved entry %s to %s after %d attempt(s): %s: %.80r",
                  entry_id.decode(), self.dead_key, attempts, reason, text)

    async def turn(self, block: float) -> int:
        """Claim or read a batch, handle it, acknowledge what is finished; return its size."""
        now = asyncio.get_running_loop().time()
        entries = []
        if now >= self._next_claim:
            entries = await self.claim()
            if not entries and self._cursor in ("0-0", b"0-0"):  # scanned to the end
                self._next_claim = now + self.lease / 4
        if not entries:
            entries = await self.read(block)
        done = []
        for entry_id, fields, deliveries in entries:
            if await self.process(entry_id, fields, deliveries):
                done.append(entry_id)
            self.last_turn = asyncio.get_running_loop().time()
        if done:  # acknowledged only now: a crash before this line means a redelivery
            async with self.client.pipeline(transaction=True) as pipe:
                await pipe.xack(self.stream, GROUP, *done).xdel(self.stream, *done).execute()
            self.handled += len(done)
        return len(entries)

    async def nothing_left(self) -> bool:
        pending = await self.client.xpending(self.stream, GROUP)
        return pending["pending"] == 0 and await self.client.xlen(self.stream) == 0

    async def run(self, stop: asyncio.Event, drain: bool = False) -> int:
        """Consume until `stop` is set (with `drain`: until nothing is unread or pending)."""
        loop = asyncio.get_running_loop()
        self.last_turn = loop.time()
        await self.ensure_group()
        log.info("worker %s consuming %s in group %s", self.name, self.stream, GROUP)
        while not stop.is_set():
            try:
                seen = await self.turn(0.2 if drain else BLOCK_SECONDS)
                if drain and not seen and await self.nothing_left():
                    break
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                # Redis restarting: what we held stays pending, claimed after the lease.
                log.warning("Redis did not answer (%s); trying again in 1 s", exc)
                await asyncio.sleep(1)
            except ResponseError as exc:
                if not str(exc).startswith("NOGROUP"):
                    raise
                log.warning("the group is gone (Redis lost its data?); creating it again")
                await self.ensure_group()
            self.last_turn = loop.time()
        try:  # leave the group tidy, unless we still hold entries (others claim them)
            held = (await self.client.xpending(self.stream, GROUP))["consumers"]
            if not any(c["name"].decode() == self.name for c in held):
                await self.client.xgroup_delconsumer(self.stream, GROUP, self.name)
        except RedisError as exc:
            log.warning("could not leave the group: %s", exc)
        log.info("worker %s stopped after %d message(s), %d moved to %s", self.name,
                 self.handled, self.dead, self.dead_key)
        return self.handled


class HealthHandler(tornado.web.RequestHandler):
    """GET /healthz -> 200 while the consume loop turns, 503 once it is stuck."""

    def initialize(self, worker: Worker) -> None:
        self.worker = worker

    def get(self) -> None:
        worker = self.worker
        idle = asyncio.get_running_loop().time() - worker.last_turn
        ok = idle <= 3 * BLOCK_SECONDS + worker.lease  # a turn: a block, or a lease at most
        self.set_status(200 if ok else 503)
        self.write({"status": "ok" if ok else "stuck", "worker": worker.name,
                    "seconds_since_last_turn": round(idle, 1), "handled": worker.handled})


def parse_args(argv: list[str] | None):
    parser = build_parser("python -m service.worker", ("redis_url", "queue_key", "log_level",
                          "address", "worker_port", "worker_lease_seconds", "worker_max_attempts"))
    parser.description = "Consume the hello queue stream at least once, in a consumer group."
    parser.add_argument("--name", default=None,
                        help="consumer name, unique per worker [POD_NAME] (default: host-pid)")
    parser.add_argument("--drain", action="store_true",
                        help="exit 0 once nothing is left unread or pending, instead of waiting")
    return parser.parse_args(argv)


async def _main(args, settings: Settings) -> int:
    # Reads block for BLOCK_SECONDS: the socket timeout must be longer.
    client = aioredis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=10)
    name = args.name or os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    worker = Worker(client, settings.queue_key, name, settings.worker_lease_seconds,
                    settings.worker_max_attempts)
    server = tornado.httpserver.HTTPServer(tornado.web.Application(
        [(r"/healthz", HealthHandler, {"worker": worker})], log_function=lambda handler: None))
    try:
        sockets = tornado.netutil.bind_sockets(settings.worker_port, settings.address)
    except OSError as exc:
        log.error("cannot listen on %s:%d for /healthz: %s (set WORKER_PORT or --port)",
                  settings.address, settings.worker_port, exc.strerror or exc)
        return 1
    server.add_sockets(sockets)
    log.info("worker %s health on http://%s:%d/healthz", name, settings.address,
             sockets[0].getsockname()[1])
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await worker.run(stop, drain=args.drain)
    finally:
        server.stop()
        await client.aclose()
    if args.drain and not stop.is_set():
        print(f"drained {settings.queue_key}: {worker.handled} handled, "
              f"{worker.dead} dead-lettered", flush=True)
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
