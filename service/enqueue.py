"""POST /enqueue: validate the body, wrap it in an envelope, push it onto Redis.

The body is streamed, not buffered by Tornado up front, so an oversized upload is
refused from its Content-Length before megabytes arrive, and the client still gets a
proper 413 instead of a reset connection.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import tornado.web

from service.base import JSONErrorHandler
from service.queue import QueueUnavailable

# Past the limit, read and throw away up to this much more: a client that sends its
# whole body before reading (most do, unless they use `Expect: 100-continue`) only sees
# the 413 if we read what it sends; closing on unread data makes the kernel answer with
# a reset instead. Nothing is kept, so this costs time, not memory. Bodies larger than
# limit + DRAIN_BYTES are cut off (reset) after that point.
DRAIN_BYTES = 16 * 1024 * 1024

ACCEPTED_TYPES = ("text/plain", "application/json")


@tornado.web.stream_request_body
class EnqueueHandler(JSONErrorHandler):
    """POST /enqueue -> 202 with the message id once Redis has acknowledged the push."""

    def initialize(self) -> None:
        super().initialize()
        self.limit: int = self.settings["service"].max_body_bytes
        self.chunks: list[bytes] = []
        self.received = 0

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
            self.send_error(413, message=self._too_large(size),
                            headers={"Connection": "close"})
            return
        # Otherwise read the body (discarding what is over the limit) and answer in post().
        self.request.connection.set_max_body_size(
            size if size is not None and size > self.limit else self.limit + DRAIN_BYTES
        )

    def data_received(self, chunk: bytes) -> None:
        # Count bytes as they arrive (chunked uploads declare no length); keep nothing
        # past the limit.
        self.received += len(chunk)
        if self.received <= self.limit:
            self.chunks.append(chunk)

    async def post(self) -> None:
        if self.received > self.limit:
            self.send_error(413, message=self._too_large(self.received))
            return
        content_type = self.request.headers.get("Content-Type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in ACCEPTED_TYPES:
            self.send_error(
                415,
                message="Content-Type must be text/plain or application/json, "
                f"got {content_type or 'none'!r}",
            )
            return
        raw = b"".join(self.chunks)
        if not raw:
            self.send_error(400, message="the request body is empty; send the data to enqueue")
            return
        try:
            text = raw.decode("utf-8")
            body = json.loads(text) if media_type == "application/json" else text
        except UnicodeDecodeError:
            self.send_error(400, message="the request body is not valid UTF-8")
            return
        except ValueError as exc:
            self.send_error(400, message=f"the request body is not valid JSON: {exc}")
            return

        envelope = {
            "id": uuid.uuid4().hex,
            "body": body,
            "content_type": media_type,
            "served_by": self.settings["service"].instance,
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        try:
            length = await self.settings["queue"].push(envelope)
        except QueueUnavailable as exc:
            outcome = ("the message may still have been queued; a retry may duplicate it"
                       if exc.maybe_queued else "nothing was enqueued")
            self.send_error(503, message=f"the queue is unavailable, {outcome}: {exc}",
                            headers={"Retry-After": "1"})
            return
        self.set_status(202)
        self.write({"id": envelope["id"], "served_by": envelope["served_by"],
                    "queue_length": length})

    def _too_large(self, size: int) -> str:
        return f"the request body has {size} bytes; the limit is {self.limit} bytes"
