"""Bare Tornado "Hello World": the floor under the service's `GET /`, in the same image.

Tornado's defaults, one handler, nothing of ours (no request tracking, no timeouts, no
access log): the service's CPU per request over this one's is what our code adds. The
benchmark passes this file's text to `python -c`, so nothing is mounted or installed.
"""

import asyncio
import os

import tornado.web


class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("Hello World")


async def main() -> None:
    tornado.web.Application([(r"/", Hello)]).listen(int(os.environ["PORT"]),
                                                    os.environ["ADDRESS"])
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
