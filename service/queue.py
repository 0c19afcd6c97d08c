"""The Redis side of the service: one connection pool, short deadlines, idempotent pushes.

The HTTP handlers never wait on Redis for long: a Redis that is down or slow turns
into a quick 503 the client can retry, not a hung request.

A push is idempotent per message id. One Lua script, which Redis runs atomically,
stores a message only if its id was not seen within `dedupe_seconds`, and records the
id. So when a connection breaks after Redis ran the push but before its answer came
back, running it again -- our own retry, or the client's with the same
Idempotency-Key -- cannot store the message twice.
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
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.config import Settings

log = logging.getLogger("queue")

# Upper bound for one Redis round trip seen from a request, connecting included.
# Counted in time the event loop was free to notice Redis's answer (see _deadline).
REDIS_DEADLINE = 1.5
_TICK = 0.05
# Batches on their way to Redis at once. Requests arriving meanwhile wait and go
# together in the next batch: under load, few round trips carry many messages.
MAX_BATCHES_IN_FLIGHT = 2

# KEYS[1] is the queue, KEYS[1+i] the "seen" key of message i; ARGV[1] is how long to
# remember an id, ARGV[1+i] message i. LPUSH comes before SET, so a failing LPUSH
# (say, the key holds no list) stops the script before any id is marked as stored.
# Returns, per message, the queue length after its push (or now, for a repeat).
PUSH_SCRIPT = """
local lengths = {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    lengths[i - 1] = redis.call('LPUSH', KEYS[1], ARGV[i])
    redis.call('SET', KEYS[i], '1', 'EX', ARGV[1])
  else
    lengths[i - 1] = redis.call('LLEN', KEYS[1])
  end
end
return lengths
"""


class QueueUnavailable(Exception):
    """Redis did not acknowledge the push. `maybe_queued` is False only when it is
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
        # One pool per process, created lazily: the service starts even when Redis is
        # down and reconnects by itself when it returns.
        self.client = aioredis.from_url(
            settings.redis_url,
            socket_connect_timeout=0.5,
            socket_timeout=1.0,
            # For PING: one quick retry covers a connection Redis closed while idle.
            # Pushes do their own single retry (see _send).
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
            max_connections=64,
        )
        self._waiting: list[tuple[str, str, asyncio.Future]] = []
        self._sending = 0  # messages in batches on their way to Redis
        self._batches: set[asyncio.Task] = set()
        self._scheduled = False
        self._last_answer = -1.0  # loop time Redis last answered us

    def seen_key(self, message_id: str) -> str:
        return f"{self.key}:seen:{message_id}"

    async def push(self, message_id: str, envelope: dict) -> int:
        """Store `envelope` once under `message_id`; return the queue length after it.

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
        pool = self.client.connection_pool
        sent = False
        try:
            async with _deadline(REDIS_DEADLINE):
                for attempt in (1, 2):
                    # Connecting sends nothing of ours: a failure here leaves no doubt.
                    conn = await self._connection()
                    try:
                        sent = True
                        await conn.send_command("EVAL", PUSH_SCRIPT, len(keys), *keys, *args)
                        lengths = await conn.read_response()
                        break
                    except (RedisConnectionError, RedisTimeoutError, OSError):
                        # The answer is lost: Redis may or may not have run the script.
                        # Running it again is safe, repeated ids are skipped.
                        await conn.disconnect(nowait=True)
                        if attempt == 2:
                            raise
                    except BaseException:  # a deadline hit mid-command, or an error reply
                        await conn.disconnect(nowait=True)
                        raise
                    finally:
                        await pool.release(conn)
            if not (isinstance(lengths, list) and len(lengths) == len(batch)):
                raise ResponseError(f"unexpected answer to the push: {lengths!r:.80}")
        except (RedisError, OSError, TimeoutError) as exc:
            self._last_answer = -1.0  # readiness must ask Redis again, not trust the past
            log.warning("push of %d message(s) failed (%s): %s", len(batch),
                        "may have landed" if sent else "nothing sent", _detail(exc))
            for _, _, future in batch:
                _fail(future, QueueUnavailable(_reason(exc), maybe_queued=sent))
            # Redis just failed: the messages still waiting were never sent; tell them
            # now instead of letting each batch find out after another deadline.
            waiting, self._waiting = self._waiting, []
            for _, _, future in waiting:
                _fail(future, QueueUnavailable(_reason(exc), maybe_queued=False))
            return
        self._last_answer = asyncio.get_running_loop().time()
        for (_, _, future), length in zip(batch, lengths, strict=True):
            if not future.done():
                future.set_result(length)

    async def _connection(self):
        """A pooled connection, connected and known to be open before anything is sent.

        The pool's own check is skipped when Redis maintenance notifications are on
        (redis-py's default), so a connection Redis closed while idle would only fail
        after our command went out -- and then we could no longer say it did not land.
        """
        pool = self.client.connection_pool
        conn = await pool.get_connection()
        try:
            try:
                stale = await conn.can_read()  # EOF or stray bytes: not fit to reuse
            except (RedisConnectionError, OSError):
                stale = True
            if stale:
                await conn.disconnect(nowait=True)
                await conn.connect()
        except BaseException:
            await pool.release(conn)
            raise
        return conn

    async def ping(self) -> str | None:
        """None when Redis answered a push within the last second or answers PING now,
        else a short reason (details are logged).

        Under load pushes answer all the time; taking that as the answer spares a busy
        loop one more round trip, so readiness stays quick when it matters most.
        """
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


@contextlib.asynccontextmanager
async def _deadline(seconds: float):
    """asyncio.timeout(seconds), except that time the event loop spent busy elsewhere
    does not count against Redis.

    In a burst of requests one turn of the loop can take a second; with a plain
    timeout, Redis's answer sits unread in the socket while the clock runs out, and a
    healthy Redis gets blamed (false 503s). Here a watcher counts time in ticks of
    _TICK, and a tick that came late counts as at most two ticks.
    """
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
    return "Redis refused the push"


def _detail(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no answer within {REDIS_DEADLINE} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
