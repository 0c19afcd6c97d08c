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

# Past the limit, read and throw away up to this much more so the client, which is
# usually still sending, gets to read the 413. Bigger uploads are cut off after it.
DRAIN_BYTES = 1024 * 1024

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
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            # Refuse before reading; Tornado discards the rest of the body, up to the
            # connection's max body size, then closes the connection.
            self.request.connection.set_max_body_size(min(int(declared), self.limit + DRAIN_BYTES))
            self.set_header("Connection", "close")
            self.send_error(413, message=self._too_large(int(declared)))
            return
        self.request.connection.set_max_body_size(self.limit + DRAIN_BYTES)

    def data_received(self, chunk: bytes) -> None:
        # Chunked uploads have no Content-Length: count as they arrive, keep nothing
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
            self.set_header("Retry-After", "1")
            self.send_error(503, message=f"the queue is unavailable, nothing was enqueued: {exc}")
            return
        self.set_status(202)
        self.write({"id": envelope["id"], "served_by": envelope["served_by"],
                    "queue_length": length})

    def _too_large(self, size: int) -> str:
        return f"the request body has {size} bytes; the limit is {self.limit} bytes"
