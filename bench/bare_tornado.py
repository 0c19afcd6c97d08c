"""Bare Tornado "Hello World": the floor under the service's `GET /`, in the same image.

Tornado's defaults, one handler, nothing of ours (no request tracking, no access log):
the service's CPU per request over this one's is what our code adds. Same image, Python,
process model (one process, one event loop) and path as the service. The server options
differ in nothing a GET pays for: Tornado bounds every request head by default too (an
hour where ours says a minute; one `with_timeout` per request either way), and the body
timeout and header size limit cost nothing without a body. The access log does differ:
Tornado's INFO lines stop at the level check here (logging is not configured), while the
service writes one per request, and Docker stores it with CPU outside the container's.
The benchmark passes this file's text to `python -c`, so nothing is mounted or installed.
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
