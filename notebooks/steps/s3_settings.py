import argparse
import asyncio
import logging
import os
import signal
import sys
from http import HTTPStatus

import tornado.web

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


class NotFoundHandler(JSONHandler):
    def prepare(self):
        raise tornado.web.HTTPError(404)


def make_app():
    return tornado.web.Application(
        [(r"/", HelloHandler), (r"/healthz", HealthHandler)],
        default_handler_class=NotFoundHandler,  # for paths no route matches
        in_flight=set(),
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
    return parser.parse_args(argv)


async def serve(settings):
    app = make_app()
    server = app.listen(settings.port, address=settings.address)
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
    log.info("stopped")


def main(argv=None):
    settings = parse_settings(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
