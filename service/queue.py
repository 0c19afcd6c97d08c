"""The Redis side of the service: one connection pool, short deadlines, idempotent appends.

The HTTP handlers never wait on Redis for long: a Redis that is down or slow turns
into a quick 503 the client can retry, not a hung request.

The queue is a Redis stream, read by `python -m service.worker` as a consumer group.
An append is idempotent per message id: one Lua script, which Redis runs atomically,
appends a message only if its id was not seen within `dedupe_seconds`, and records the
id. So running it again after a lost answer -- our own retry, or the client's with the
same Idempotency-Key -- cannot store the message twice.

Length policy: no MAXLEN, which would drop entries no worker has read yet. Workers
delete what they acknowledged (XACK + XDEL), so the stream holds unfinished work only,
bounded by Redis's `maxmemory` under `noeviction`: a full Redis refuses the append
("OOM command not allowed") and the client gets a 503 saying nothing was enqueued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.maint_notifications import MaintNotificationsConfig

from service.config import Settings

log = logging.getLogger("queue")

# Upper bound for one Redis round trip seen from a request, connecting included.
# Counted in time the event loop was free to notice Redis's answer (see _deadline).
REDIS_DEADLINE = 1.5
_TICK = 0.05
# Batches on their way to Redis at once. Requests arriving meanwhile wait and go
# together in the next batch: under load, few round trips carry many messages.
MAX_BATCHES_IN_FLIGHT = 2

# KEYS[1] is the stream, KEYS[1+i] the "seen" key of message i; ARGV[1] is how long to
# remember an id, ARGV[1+i] message i. XADD before SET: a failing XADD marks no id as
# stored; Redis refuses a script for lack of memory only at its first write, so then
# nothing of the batch was stored. Returns the stream length after each message.
APPEND_SCRIPT = """
local lengths = {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('XADD', KEYS[1], '*', 'message', ARGV[i])
    redis.call('SET', KEYS[i], '1', 'EX', ARGV[1])
  end
  lengths[i - 1] = redis.call('XLEN', KEYS[1])
end
return lengths
"""


class QueueUnavailable(Exception):
    """Redis did not acknowledge the append. `maybe_queued` is False only when it is
    certain that the push never reached Redis; otherwise it may have been stored."""

    def __init__(self, reason: str, maybe_queued: bool) -> None:
        super().__init__(reason)
        self.maybe_queued = maybe_queued


class QueueFull(QueueUnavailable):
    """Too many messages are already waiting for Redis; this one was not sent."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} messages are already waiting for Redis", maybe_queued=False)


class RedisQueue:
    def __init__(self, settings: Settings) -> None:
        self.key = settings.queue_key
        self.dedupe_seconds = settings.dedupe_seconds
        self.max_pending = settings.max_pending
        # One pool per process, lazy: the service starts while Redis is down.
        self.client = aioredis.from_url(
            settings.redis_url,
            # A backstop only: _deadline bounds connecting without counting busy-loop time.
            socket_connect_timeout=2 * REDIS_DEADLINE,
            socket_timeout=1.0,
            retry=Retry(NoBackoff(), 0),  # _send retries an append, and counts the sends
            # Off, so the pool replaces a connection Redis closed while idle before handing
            # it out (redis-py skips that check with them on: "may have landed" 503s).
            maint_notifications_config=MaintNotificationsConfig(enabled=False),
            health_check_interval=30,
            max_connections=64,
        )
        self._waiting: list[tuple[str, str, asyncio.Future]] = []
        self._sending = 0  # messages in batches on their way to Redis
        self._batches: set[asyncio.Task] = set()
        self._scheduled = False
        self._last_answer = -1.0  # loop time Redis last answered us
        self.append_script = self.client.register_script(APPEND_SCRIPT)  # EVALSHA

    def seen_key(self, message_id: str) -> str:
        return f"{self.key}:seen:{message_id}"

    async def push(self, message_id: str, envelope: dict) -> int:
        """Append `envelope` once under `message_id`; return the stream length after it.

        Group commit: pushes arriving while a batch is on its way (or in the same turn
        of the event loop) go to Redis together in the next script call, and each
        request still answers only after Redis acknowledged. No deadline here: every
        batch has its own, and a failed batch fails the waiting ones at once.
        """
        if len(self._waiting) + self._sending >= self.max_pending:
            raise QueueFull(self.max_pending)
        data = json.dumps(envelope, separators=(",", ":"))
        future = asyncio.get_running_loop().create_future()
        future.add_done_callback(_mark_retrieved)
        self._waiting.append((message_id, data, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if not self._scheduled and self._waiting and len(self._batches) < MAX_BATCHES_IN_FLIGHT:
            self._scheduled = True  # let the rest of this loop turn join the batch
            asyncio.get_running_loop().call_soon(self._start_batch)

    def _start_batch(self) -> None:
        self._scheduled = False
        if not self._waiting or len(self._batches) >= MAX_BATCHES_IN_FLIGHT:
            return
        batch, self._waiting = self._waiting, []
        self._sending += len(batch)
        task = asyncio.ensure_future(self._send(batch))
        self._batches.add(task)  # keep a reference until done (asyncio holds weak ones)
        task.add_done_callback(lambda t: self._batch_done(t, len(batch)))

    def _batch_done(self, task: asyncio.Task, size: int) -> None:
        self._batches.discard(task)
        self._sending -= size
        self._schedule()

    async def _send(self, batch: list[tuple[str, str, asyncio.Future]]) -> None:
        keys = [self.key, *(self.seen_key(message_id) for message_id, _, _ in batch)]
        args = [self.dedupe_seconds, *(data for _, data, _ in batch)]
        sent = 0  # times the script went out
        try:
            # One pooled connection for the batch; taking it connects, and a failure
            # there sends nothing of ours: no doubt about the outcome.
            async with _deadline(REDIS_DEADLINE), self.client.client() as conn:
                for attempt in (1, 2):
                    try:
                        sent = attempt
                        lengths = await self.append_script(keys, args, client=conn)
                        break
                    except (RedisConnectionError, RedisTimeoutError, OSError):
                        # Answer lost: the script may have run. Again is safe (ids skipped).
                        if attempt == 2:
                            raise
            if not (isinstance(lengths, list) and len(lengths) == len(batch)):
                raise ResponseError(f"unexpected answer to the append: {lengths!r:.80}")
        except (RedisError, OSError, TimeoutError) as exc:
            self._last_answer = -1.0  # readiness must ask Redis again, not trust the past
            # Out of memory: refused before the first write, unless a retry (see the script)
            maybe = sent > 1 or (sent == 1 and not isinstance(exc, OutOfMemoryError))
            log.warning("append of %d message(s) failed (%s): %s", len(batch),
                        "may have landed" if maybe else "nothing stored", _detail(exc))
            for _, _, future in batch:
                _fail(future, QueueUnavailable(_reason(exc), maybe_queued=maybe))
            # Redis just failed: fail the waiting (never sent) now, not one deadline each.
            waiting, self._waiting = self._waiting, []
            for _, _, future in waiting:
                _fail(future, QueueUnavailable(_reason(exc), maybe_queued=False))
            return
        self._last_answer = asyncio.get_running_loop().time()
        for (_, _, future), length in zip(batch, lengths, strict=True):
            if not future.done():
                future.set_result(length)

    async def ping(self) -> str | None:
        """None when Redis answered a push within the last second (under load: spares
        a busy loop a round trip) or answers PING now, else a short reason."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_answer < 1.0:
            return None
        try:
            async with _deadline(REDIS_DEADLINE):
                await self.client.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("readiness: Redis did not answer PING: %s", _detail(exc))
            return _reason(exc)
        # Not remembered: only a push proves Redis took work; a probe asks again.
        return None

    async def close(self) -> None:
        await self.client.aclose()


# Only redis-py's public API is used above (from_url, client(), register_script, ping),
# and two of its knobs cannot say what a 503 must. Its `Retry` resends a command on its
# own and never tells the caller whether it went out once or twice, while "nothing was
# enqueued" is honest only if it was never sent: so its retry is off and `_send` retries
# once itself, counting the sends. Its socket timeouts count wall-clock time, including
# time the event loop spent on other requests while Redis's answer sat unread (a burst:
# false 503s): so they are only a backstop behind `_deadline`, which counts free time.


@contextlib.asynccontextmanager
async def _deadline(seconds: float):
    """asyncio.timeout(seconds), except that time the event loop spent busy elsewhere
    does not count against Redis: in a burst one loop turn can take a second, while
    Redis's answer sits unread (false 503s). A watcher counts ticks of _TICK; a late
    tick counts as at most two."""
    async with asyncio.timeout(None) as timeout:
        async def expire() -> None:
            loop = asyncio.get_running_loop()
            spent = 0.0
            while spent < seconds:
                began = loop.time()
                await asyncio.sleep(_TICK)
                spent += min(loop.time() - began, 2 * _TICK)
            timeout.reschedule(loop.time())  # due now: TimeoutError in the body

        watcher = asyncio.ensure_future(expire())
        try:
            yield
        finally:
            watcher.cancel()


def _fail(future: asyncio.Future, exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)


def _mark_retrieved(future: asyncio.Future) -> None:
    # A request whose client went away may never look at its result; that is fine.
    if not future.cancelled():
        future.exception()


def _reason(exc: BaseException) -> str:
    """What a client may know: no host names, ports or addresses (those go to the log)."""
    if isinstance(exc, TimeoutError | RedisTimeoutError):
        return f"no answer from Redis within {REDIS_DEADLINE} s"
    if isinstance(exc, RedisConnectionError | OSError):
        return "cannot reach Redis"
    if isinstance(exc, OutOfMemoryError):
        return "Redis is full (maxmemory reached); retry later"
    return "Redis refused the append"


def _detail(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no answer within {REDIS_DEADLINE} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
