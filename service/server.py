"""Run the app as a process: listen, serve, and stop gracefully on SIGTERM/SIGINT.

Docker (`docker stop`) and Kubernetes (pod deletion, rolling updates) ask a container
to stop with SIGTERM and kill it a grace period later. Stopping well means: stop
accepting, let the requests already in flight finish, close, exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
import time

import tornado.httpserver
import tornado.netutil

from service import __version__
from service.app import make_app
from service.config import Settings

log = logging.getLogger("service")

# Request line plus headers. Tornado's default is 64 KiB; real requests need a few
# hundred bytes, and every open connection may hold this much while its head arrives.
MAX_HEADER_BYTES = 16 * 1024
# Connections the kernel may hold for us before we accept them. Tornado's default,
# 128, overflows in a burst: the kernel then drops new connections' SYNs and clients
# (a readiness probe too) retry only after a second. Linux caps it at somaxconn.
LISTEN_BACKLOG = 4096


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one; return the new soft limit.

    Every connection is a file descriptor. A login shell's soft limit is often 1024
    (the hard one far higher), which a burst of connections exceeds; Go's runtime lifts
    it the same way at start. Containers usually start with a high limit already.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # keep what we have: serving with the lower limit still works
    return soft


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then drain in-flight requests and return."""
    raise_open_files_limit()
    app = make_app(settings)
    # No xheaders: nothing in front of the service sets X-Forwarded-For that we could
    # trust (Docker and Kubernetes forward TCP), and a client could spoof it.
    # Timeouts: Tornado's defaults let a client trickle its headers for an hour and
    # its body forever ("slowloris"), holding a connection and its memory all along.
    # idle_connection_timeout bounds both the wait for a request's head and the idle
    # time between keep-alive requests; body_timeout bounds the body.
    server = tornado.httpserver.HTTPServer(
        app,
        idle_connection_timeout=settings.idle_timeout,
        body_timeout=settings.body_timeout,
        max_header_size=MAX_HEADER_BYTES,
    )
    sockets = tornado.netutil.bind_sockets(settings.port, settings.address,
                                           backlog=LISTEN_BACKLOG)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    log.info(
        "hello-tornado %s listening on http://%s:%d (instance %s)",
        __version__, settings.address, port, settings.instance,
    )

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, signum, stop)
    await stop.wait()

    server.stop()  # no new connections from here on
    app.draining = True
    in_flight = app.in_flight
    deadline = time.monotonic() + settings.shutdown_timeout
    while in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if in_flight:
        log.warning("shutdown: %d request(s) still running after %.1f s, closing anyway",
                    len(in_flight), settings.shutdown_timeout)
    await server.close_all_connections()
    await app.queue.close()
    log.info("shutdown complete")


def _on_signal(signum: int, stop: asyncio.Event) -> None:
    log.info("received %s: no new connections, finishing in-flight requests",
             signal.Signals(signum).name)
    stop.set()
