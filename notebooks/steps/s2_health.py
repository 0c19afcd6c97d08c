import argparse
import asyncio
from http import HTTPStatus

import tornado.web


class JSONHandler(tornado.web.RequestHandler):
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
    )


async def main(port):
    make_app().listen(port, address="127.0.0.1")  # loopback: only this machine can connect
    await asyncio.Event().wait()  # serve until the process is stopped


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Answer GET / with Hello World.")
    parser.add_argument("--port", type=int, default=8080)
    asyncio.run(main(parser.parse_args().port))
