"""The HTTP application: handlers, the `Application` that holds the shared state, and
the `make_app` factory.

Tests, notebooks and `python -m service` all build the app through `make_app`, so
what the notebooks show is exactly what runs in the container.
"""

from __future__ import annotations

import weakref

import tornado.web

from service.base import BaseHandler
from service.config import Settings
from service.enqueue import EnqueueHandler
from service.logs import log_request
from service.queue import RedisQueue


class HelloHandler(BaseHandler):
    """GET / -> Hello World, as plain text."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("Hello World")


class HealthHandler(BaseHandler):
    """GET /healthz -> 200 while the process can serve (liveness; never touches Redis)."""

    def get(self) -> None:
        self.write({"status": "ok", "instance": self.application.config.instance})


class ReadyHandler(BaseHandler):
    """GET /readyz -> 200 when Redis answers PING, else 503 (readiness)."""

    async def get(self) -> None:
        error = await self.application.queue.ping()
        if error:
            self.set_status(503)
            self.set_header("Retry-After", "1")
            self.write({"status": "unavailable", "redis": error})
        else:
            self.write({"status": "ready", "redis": "ok"})


class NotFoundHandler(BaseHandler):
    """Any path no route matches -> 404 with a JSON body."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, "no such path: %s", self.request.path)


class Application(tornado.web.Application):
    """The service's routes, plus the state its handlers share (as in Tornado's demos,
    attributes of the application, reached as `self.application.queue` and so on)."""

    def __init__(self, config: Settings, queue: RedisQueue) -> None:
        self.config = config  # the frozen Settings (Tornado's own are self.settings)
        self.queue = queue  # the Redis stream every POST /enqueue appends to
        # Requests in flight, for the graceful shutdown to wait for; weak, so a request
        # that somehow never finishes cannot keep its handler alive.
        self.in_flight: weakref.WeakSet[tornado.web.RequestHandler] = weakref.WeakSet()
        self.draining = False  # set once SIGTERM arrived: responses say Connection: close
        # Body bytes held by uploads in progress, all connections together: many slow
        # uploads at once must not hold connections x MAX_BODY_BYTES of memory.
        self.buffered = 0
        super().__init__(
            [
                (r"/", HelloHandler),
                (r"/healthz", HealthHandler),
                (r"/readyz", ReadyHandler),
                (r"/enqueue", EnqueueHandler),
            ],
            default_handler_class=NotFoundHandler,
            log_function=log_request,
        )


def make_app(settings: Settings | None = None, queue: RedisQueue | None = None) -> Application:
    """Build the application. Nothing here touches the network: Redis connects lazily."""
    settings = settings or Settings()
    return Application(settings, queue or RedisQueue(settings))
