"""POST /enqueue: validate the body, wrap it in an envelope, push it onto Redis.

The body is streamed, not buffered by Tornado up front, so an oversized upload is
refused from its Content-Length before megabytes arrive, and the client still gets a
proper 413 instead of a reset connection.

Every message has an id: the client's `Idempotency-Key` header, or one made here. The
queue stores an id at most once within its dedupe window, so a client that is unsure
whether its POST landed (a timeout, a 503 that says "may have been queued") can send
it again with the same key and it is still stored exactly once.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import tornado.web

from service.base import ApiError, BaseHandler
from service.queue import QueueUnavailable

# Past the limit, read and throw away up to this much more: a client that sends its
# whole body before reading (most do, unless they use `Expect: 100-continue`) only sees
# the 413 if we read what it sends; closing on unread data makes the kernel answer with
# a reset instead. Nothing is kept, so this costs time, not memory. Bodies larger than
# limit + DRAIN_BYTES are cut off (reset) after that point.
DRAIN_BYTES = 16 * 1024 * 1024

ACCEPTED_TYPES = ("text/plain", "application/json")
# Bodies are read as UTF-8; ASCII is a subset of it. Any other declared charset is a
# 415: decoding it as UTF-8 would store the wrong text without a word.
ACCEPTED_CHARSETS = ("utf-8", "utf8", "us-ascii")

# Deeper JSON is refused (400). Real payloads nest a handful of levels; a body nested
# a thousand deep is an attack on every recursive parser downstream (the worker's too).
MAX_JSON_DEPTH = 64

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@tornado.web.stream_request_body
class EnqueueHandler(BaseHandler):
    """POST /enqueue -> 202 with the message id once Redis has acknowledged the push."""

    def initialize(self) -> None:
        super().initialize()
        self.limit: int = self.application.config.max_body_bytes
        self.chunks: list[bytes] = []
        self.received = 0
        self.held = 0  # of the application's budget of buffered bytes (MAX_BUFFERED_BYTES)
        self.over_budget = False

    def prepare(self) -> None:
        if self.request.method != "POST":
            return  # let Tornado answer 405 for the other methods
        declared = self.request.headers.get("Content-Length", "")
        size = int(declared) if declared.isdigit() else None
        if size is not None and size > self.limit and (
            size > self.limit + DRAIN_BYTES
            or self.request.headers.get("Expect", "").lower() == "100-continue"
        ):
            # Answer now, without reading. A client that asked `Expect: 100-continue`
            # never sends the body; one past the drain budget is cut off.
            raise ApiError(413, self._too_large(size), headers={"Connection": "close"})
        # Otherwise read the body (discarding what is over the limit) and answer in post().
        self.request.connection.set_max_body_size(
            size if size is not None and size > self.limit else self.limit + DRAIN_BYTES
        )

    def on_connection_close(self) -> None:
        # Let go of the body now: the handler object itself may live on a while in a
        # reference cycle (until the garbage collector's next full pass).
        self.release()
        super().on_connection_close()

    def on_finish(self) -> None:
        self.release()
        super().on_finish()

    def release(self) -> None:
        self.chunks = []
        self.application.buffered -= self.held
        self.held = 0

    def data_received(self, chunk: bytes) -> None:
        # Count bytes as they arrive (chunked uploads declare no length); keep nothing
        # past the limit, nor past the budget all uploads share (answered 503 in post).
        self.received += len(chunk)
        if self.received > self.limit or self.over_budget:
            return
        app = self.application
        if app.buffered + len(chunk) > app.config.max_buffered_bytes:
            self.over_budget = True
            self.release()
            return
        self.chunks.append(chunk)
        self.held += len(chunk)
        app.buffered += len(chunk)

    async def post(self) -> None:
        # Read and check the request: each step raises ApiError (413, 415, 400) if unfit.
        media_type = self.media_type()
        message_id = self.message_id()
        body = self.read_body(media_type)
        envelope = {
            "id": message_id,
            "body": body,
            "content_type": media_type,
            "served_by": self.application.config.instance,
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        length = await self.push(message_id, envelope)  # ApiError 503 if Redis did not ack
        self.set_status(202)
        self.write({"id": message_id, "served_by": envelope["served_by"],
                    "queue_length": length})

    def media_type(self) -> str:
        """The media type, text/plain or application/json; 413 past the size limit, 503
        past the shared memory budget, else 415."""
        if self.received > self.limit:
            raise ApiError(413, self._too_large(self.received))
        if self.over_budget:
            raise ApiError(503, "too many uploads are in memory at once; nothing was "
                           "enqueued, retry in a moment", headers={"Retry-After": "1"})
        content_type = self.request.headers.get("Content-Type", "")
        media_type, charset = _media_type(content_type)
        if media_type not in ACCEPTED_TYPES:
            raise ApiError(415, "Content-Type must be text/plain or application/json, "
                           f"got {content_type or 'none'!r}")
        if charset is not None and charset not in ACCEPTED_CHARSETS:
            raise ApiError(415, f"the charset must be utf-8, got {charset!r}")
        return media_type

    def message_id(self) -> str:
        """The client's Idempotency-Key (400 if malformed), else a new id."""
        key = self.request.headers.get("Idempotency-Key")
        if key is None:
            return uuid.uuid4().hex
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(400, "the Idempotency-Key header must be 1 to 128 "
                           "characters of A-Z a-z 0-9 . _ : -")
        return key

    def read_body(self, media_type: str) -> object:
        """The body as text, or parsed for JSON; 400 if empty, not UTF-8 or bad JSON."""
        raw = b"".join(self.chunks)
        if not raw:
            raise ApiError(400, "the request body is empty; send the data to enqueue")
        try:
            text = raw.decode("utf-8")
            return _parse_json(text) if media_type == "application/json" else text
        except UnicodeDecodeError:
            raise ApiError(400, "the request body is not valid UTF-8") from None
        except TooDeep:
            raise ApiError(400, f"the JSON body is nested deeper than {MAX_JSON_DEPTH} "
                           "levels") from None
        except ValueError as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None

    async def push(self, message_id: str, envelope: dict) -> int:
        """Append the message; the stream's length after it, or ApiError 503."""
        try:
            return await self.application.queue.push(message_id, envelope)
        except QueueUnavailable as exc:
            if not exc.maybe_queued:
                raise ApiError(503, f"the queue is unavailable, nothing was enqueued: {exc}",
                               headers={"Retry-After": "1"}) from None
            # Unknown outcome. A retry with the same id is safe: stored at most once.
            raise ApiError(
                503, f"the queue did not confirm the push ({exc}); the message may have "
                f"been queued. Retry with the header Idempotency-Key: {message_id} and it "
                "is stored at most once",
                headers={"Retry-After": "1"}, fields={"id": message_id},
            ) from None

    def _too_large(self, size: int) -> str:
        return f"the request body has {size} bytes; the limit is {self.limit} bytes"


class TooDeep(ValueError):
    pass


_INFINITY = float("inf")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (_INFINITY, -_INFINITY):  # 1e999: valid JSON, but no float can hold it
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _parse_json(text: str):
    """json.loads, strict: no NaN/Infinity, no number that overflows, bounded depth."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except RecursionError:  # the parser itself gave up, far past MAX_JSON_DEPTH
        raise TooDeep from None
    # Walk without recursion: containers only, each with its depth.
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > MAX_JSON_DEPTH:
            raise TooDeep
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return value


def _media_type(content_type: str) -> tuple[str, str | None]:
    """("text/plain", "utf-8") from "text/plain; charset=UTF-8"; charset None if absent."""
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset
