import argparse
import asyncio

import tornado.web


class HelloHandler(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello World")


def make_app():
    return tornado.web.Application([(r"/", HelloHandler)])


async def main(port):
    make_app().listen(port, address="127.0.0.1")  # loopback: only this machine can connect
    await asyncio.Event().wait()  # serve until the process is stopped


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Answer GET / with Hello World.")
    parser.add_argument("--port", type=int, default=8080)
    asyncio.run(main(parser.parse_args().port))
