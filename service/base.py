"""What every handler shares: request tracking for graceful shutdown, JSON errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import tornado.web

if TYPE_CHECKING:
    from service.app import Application


class ApiError(tornado.web.HTTPError):
    """An error the client is told about: its status, a sentence saying what went wrong
    and what to do, extra JSON `fields` and `headers` (e.g. Retry-After).

    Raise it from a handler; `BaseHandler.write_error` renders it. Unlike a plain
    HTTPError with a log message, it logs nothing: the access-log line says enough.
    """

    def __init__(self, status_code: int, message: str, *,
                 headers: dict[str, str] | None = None,
                 fields: dict[str, object] | None = None) -> None:
        super().__init__(status_code)
        self.message = message
        self.headers = headers or {}
        self.fields = fields or {}


def _implemented_methods(handler: type[tornado.web.RequestHandler]) -> list[str]:
    base = tornado.web.RequestHandler
    return [
        m for m in handler.SUPPORTED_METHODS
        if getattr(handler, m.lower()) is not getattr(base, m.lower())
    ]


class BaseHandler(tornado.web.RequestHandler):
    """Base class of the service's handlers: tracked while in flight, errors as JSON."""

    application: Application

    def initialize(self) -> None:
        # Track every live request so a graceful shutdown can wait for them.
        self.application.in_flight.add(self)

    def set_default_headers(self) -> None:
        # Do not advertise the server software and version ("TornadoServer/6.x"): it
        # helps nobody but someone matching versions to known vulnerabilities.
        self.clear_header("Server")
        # While the server drains, tell keep-alive clients not to reuse this connection.
        if self.application.draining:
            self.set_header("Connection", "close")

    def on_finish(self) -> None:
        self.application.in_flight.discard(self)

    def on_connection_close(self) -> None:
        self.application.in_flight.discard(self)
        # Hand on to Tornado's own: for a streamed body it ends the request that waits
        # for the rest of the body. Without it, a client that disconnects mid-upload
        # leaves its request (and what it sent) in memory for good.
        super().on_connection_close()

    def write_error(self, status_code: int, **kwargs) -> None:
        """Every error page: a small JSON document, {"error": ..., "status": ...}.

        Tornado calls it for an exception (ApiError, HTTPError, or a bug: 500) after
        clearing the headers set so far, so an ApiError's headers are set here.
        """
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        fields: dict[str, object] = {}
        if isinstance(exc, ApiError):
            message, fields = exc.message, exc.fields
            for name, value in exc.headers.items():
                self.set_header(name, value)
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        if status_code == 405:
            # Tell the client which methods this path does support (RFC 9110).
            self.set_header("Allow", ", ".join(_implemented_methods(type(self))))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, "status": status_code, **fields}))
