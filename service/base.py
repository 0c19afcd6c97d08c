"""The handlers' common base: request tracking for graceful shutdown, JSON errors."""

from __future__ import annotations

import json

import tornado.web


def _implemented_methods(handler: type[tornado.web.RequestHandler]) -> list[str]:
    base = tornado.web.RequestHandler
    return [
        m for m in handler.SUPPORTED_METHODS
        if getattr(handler, m.lower()) is not getattr(base, m.lower())
    ]


class JSONErrorHandler(tornado.web.RequestHandler):
    """Base class: error pages are small JSON documents, not HTML."""

    def initialize(self) -> None:
        # Track every live request so a graceful shutdown can wait for them.
        self.application.settings["in_flight"].add(self)

    def set_default_headers(self) -> None:
        # Do not advertise the server software and version ("TornadoServer/6.x"): it
        # helps nobody but someone matching versions to known vulnerabilities.
        self.clear_header("Server")
        # While the server drains, tell keep-alive clients not to reuse this connection.
        if self.application.settings.get("draining"):
            self.set_header("Connection", "close")

    def on_finish(self) -> None:
        self.application.settings["in_flight"].discard(self)

    def on_connection_close(self) -> None:
        self.application.settings["in_flight"].discard(self)
        # Hand on to Tornado's own: for a streamed body it ends the request that waits
        # for the rest of the body. Without it, a client that disconnects mid-upload
        # leaves its request (and what it sent) in memory for good.
        super().on_connection_close()

    def write_error(self, status_code: int, **kwargs) -> None:
        """Called by send_error(status, message=..., headers={...}) and for exceptions.

        send_error() clears headers set earlier, so extra ones come in as `headers`.
        """
        for name, value in kwargs.get("headers", {}).items():
            self.set_header(name, value)
        if status_code == 405:
            # Tell the client which methods this path does support (RFC 9110).
            self.set_header("Allow", ", ".join(_implemented_methods(type(self))))
        message = kwargs.get("message") or self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if "message" not in kwargs and isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, "status": status_code,
                                **kwargs.get("fields", {})}))
