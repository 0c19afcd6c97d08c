"""The HTTP application: handlers and the `make_app` factory.

Tests, notebooks and `python -m service` all build the app through `make_app`, so
what the notebooks show is exactly what runs in the container.
"""

from __future__ import annotations

import weakref

import tornado.web

from service.base import JSONErrorHandler
from service.config import Settings
from service.enqueue import EnqueueHandler
from service.logs import log_request
from service.queue import RedisQueue


class HelloHandler(JSONErrorHandler):
    """GET / -> Hello World, as plain text."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("Hello World")


class HealthHandler(JSONErrorHandler):
    """GET /healthz -> 200 while the process can serve (liveness; never touches Redis)."""

    def get(self) -> None:
        self.write({"status": "ok", "instance": self.settings["service"].instance})


class ReadyHandler(JSONErrorHandler):
    """GET /readyz -> 200 when Redis answers PING, else 503 (readiness)."""

    async def get(self) -> None:
        queue: RedisQueue = self.settings["queue"]
        error = await queue.ping()
        if error:
            self.set_status(503)
            self.set_header("Retry-After", "1")
            self.write({"status": "unavailable", "redis": error})
        else:
            self.write({"status": "ready", "redis": "ok"})


class NotFoundHandler(JSONErrorHandler):
    """Any path no route matches -> 404 with a JSON body."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, "no such path: %s", self.request.path)


def make_app(
    settings: Settings | None = None, queue: RedisQueue | None = None
) -> tornado.web.Application:
    """Build the application. Nothing here touches the network: Redis connects lazily."""
    settings = settings or Settings()
    return tornado.web.Application(
        [
            (r"/", HelloHandler),
            (r"/healthz", HealthHandler),
            (r"/readyz", ReadyHandler),
            (r"/enqueue", EnqueueHandler),
        ],
        default_handler_class=NotFoundHandler,
        service=settings,
        queue=queue or RedisQueue(settings),
        in_flight=weakref.WeakSet(),
        log_function=log_request,
    )
