import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import uuid
from http import HTTPStatus

import redis.asyncio as redis
import tornado.web
from redis.exceptions import RedisError

log = logging.getLogger("hello")


class JSONHandler(tornado.web.RequestHandler):
    def initialize(self):
        # Remember every request in flight, so that a shutdown can wait for it.
        self.application.settings["in_flight"].add(self)

    def on_finish(self):
        self.application.settings["in_flight"].discard(self)

    def on_connection_close(self):
        self.application.settings["in_flight"].discard(self)

    def write_error(self, status_code, **kwargs):
        # Tornado's default error page is HTML; a program calling an API wants JSON.
        self.finish({"error": HTTPStatus(status_code).phrase, "status": status_code})


class HelloHandler(JSONHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; charset=utf-8")  # not Tornado's text/html
        self.write("Hello World")


class HealthHandler(JSONHandler):
    def get(self):
        self.write({"status": "ok"})  # a dict is sent as JSON


class EnqueueHandler(JSONHandler):
    """POST /enqueue: push the body onto a Redis list, answer 202 once Redis has it.

    The minimal correct version. The real service (service/enqueue.py) also checks the
    Content-Type and JSON bodies, answers 413 to big bodies instead of closing the
    connection, takes an Idempotency-Key so that a retried request is stored once,
    and batches the pushes of concurrent requests into one round trip.
    """

    async def post(self):
        try:
            text = self.request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise tornado.web.HTTPError(400) from None
        if not text:
            raise tornado.web.HTTPError(400)
        message = {"id": uuid.uuid4().hex, "body": text}
        try:
            await self.settings["redis"].lpush(self.settings["queue_key"], json.dumps(message))
        except (RedisError, OSError):
            # Redis is down or silent: the client should retry later. After a timeout the
            # push may still have landed, so a retry can store the message twice.
            raise tornado.web.HTTPError(503) from None
        self.set_status(202)  # Accepted: stored for later, not processed yet
        self.write({"id": message["id"]})


class NotFoundHandler(JSONHandler):
    def prepare(self):
        raise tornado.web.HTTPError(404)


def make_app(redis_url="redis://localhost:6379/0", queue_key="hello:queue"):
    return tornado.web.Application(
        [(r"/", HelloHandler), (r"/healthz", HealthHandler), (r"/enqueue", EnqueueHandler)],
        default_handler_class=NotFoundHandler,  # for paths no route matches
        in_flight=set(),
        # One connection pool per process; it connects on first use, so the service
        # starts while Redis is down. Short timeouts turn a dead Redis into a quick 503.
        redis=redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1),
        queue_key=queue_key,
    )


def parse_settings(argv=None, environ=os.environ):
    """Flags override environment variables, which override the defaults."""
    parser = argparse.ArgumentParser(
        description="Answer GET / with Hello World.",
        epilog="Each flag can also be set by the environment variable in brackets.",
    )
    # argparse converts a string default with `type` too: PORT=abc fails like --port abc.
    parser.add_argument("--port", type=int, default=environ.get("PORT", "8080"),
                        help="TCP port to listen on [PORT]")
    parser.add_argument("--address", default=environ.get("ADDRESS", "127.0.0.1"),
                        help="address to bind; 0.0.0.0 in a container [ADDRESS]")
    parser.add_argument("--shutdown-timeout", type=float,
                        default=environ.get("SHUTDOWN_TIMEOUT", "10"),
                        help="seconds requests in flight may take after SIGTERM "
                             "[SHUTDOWN_TIMEOUT]")
    parser.add_argument("--redis-url", default=environ.get("REDIS_URL", "redis://localhost:6379/0"),
                        help="the Redis that holds the queue [REDIS_URL]")
    parser.add_argument("--queue-key", default=environ.get("QUEUE_KEY", "hello:queue"),
                        help="the Redis list messages are pushed onto [QUEUE_KEY]")
    return parser.parse_args(argv)


async def serve(settings):
    app = make_app(settings.redis_url, settings.queue_key)
    # Tornado would buffer bodies up to 100 MB; a bigger one now gets its connection closed.
    server = app.listen(settings.port, address=settings.address, max_body_size=64 * 1024)
    log.info("listening on http://%s:%d", settings.address, settings.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # docker stop, Kubernetes; Ctrl-C
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

    in_flight = app.settings["in_flight"]
    log.info("stopping: no new connections, %d request(s) in flight", len(in_flight))
    server.stop()
    deadline = loop.time() + settings.shutdown_timeout
    while in_flight and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await server.close_all_connections()
    await app.settings["redis"].aclose()
    log.info("stopped")


def main(argv=None):
    settings = parse_settings(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
