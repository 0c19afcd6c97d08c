"""A bare Tornado "Hello World", run by the benchmark inside the production image.

The floor under the service's `GET /`: Tornado's defaults, one handler, nothing of
ours (no request tracking, no timeouts, no access log). The service's CPU per request
over this one's is what our code adds; this one's over the Go server's is what Tornado
and Python cost, which no change to service/ can remove. The benchmark passes this
file's text to `python -c`, so nothing is mounted or installed.
"""

import asyncio
import os

import tornado.web


class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("Hello World")


async def main() -> None:
    app = tornado.web.Application([(r"/", Hello)])
    app.listen(int(os.environ["PORT"]), os.environ["ADDRESS"])
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
