"""Logging to stdout, one line per event: what `docker logs` and `kubectl logs` read."""

from __future__ import annotations

import asyncio
import io
import logging
import sys

import tornado.web

# How long a log line may wait in the buffer (see BatchedStreamHandler).
FLUSH_DELAY = 0.2


class BatchedStreamHandler(logging.StreamHandler):
    """A StreamHandler that writes access-log lines in batches, everything else at once.

    The access log writes a line per request. Written one by one, every line is a system
    call, and behind it the container runtime reads the pipe and stores the line: under
    load that cost about a fifth of the requests per second (measured side by side).
    Here the lines of the `batched` loggers collect in a buffer that goes out FLUSH_DELAY
    after the first of them at the latest (a timer on the running event loop). Any other
    line (start-up, shutdown, a warning) goes out at once, with what waited before it; so
    does a line logged where no event loop runs, and the buffer when logging shuts down
    at exit. What a batch risks: if the process is killed (SIGKILL, OOM), the access
    lines of its last FLUSH_DELAY; the same trade as nginx's `access_log ... buffer=`.

    Why not the stdlib's handlers: `StreamHandler.emit` flushes its stream after every
    record, so even on a buffered stream it makes one write per line. `MemoryHandler`
    keeps records, but flushes only when full or at a level (no time bound: a quiet
    service would sit on its last access lines; and an INFO event line such as
    "received SIGTERM" would wait too, since it cannot tell loggers apart), and its
    flush hands the records one by one to a target StreamHandler, again one write each.
    Bending it to this takes overriding shouldFlush and flush and a non-flushing target:
    more code than this class, which writes into a buffered stream and flushes it once.
    QueueHandler + QueueListener, the logging cookbook's answer to handlers that block,
    moves the writing to a thread, but still writes line by line, and handing each line
    to that thread cost more than writing it: GET / took about 1.4x the CPU per request
    with it (measured side by side, issue 22).
    """

    def __init__(self, stream, delay: float = FLUSH_DELAY,
                 batched: frozenset[str] = frozenset({"access"})) -> None:
        super().__init__(stream)
        self.delay = delay
        self.batched = batched
        self._timer: asyncio.TimerHandle | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:  # as logging.StreamHandler: report, never raise into the caller
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING or record.name not in self.batched:
            self.flush()
            return
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop in this thread: nothing would flush later
                self.flush()
                return
            self._timer = loop.call_later(self.delay, self.flush)

    def flush(self) -> None:
        with self.lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            super().flush()


def _buffered_stdout() -> io.TextIOWrapper:
    """stdout with a buffer of its own: the image sets PYTHONUNBUFFERED=1 (so that
    print() and tracebacks appear at once), which makes sys.stdout write through, and
    a batch needs a buffer to collect in."""
    raw = io.FileIO(sys.stdout.fileno(), "w", closefd=False)
    return io.TextIOWrapper(io.BufferedWriter(raw, 64 * 1024), encoding="utf-8",
                            errors="backslashreplace")


class Formatter(logging.Formatter):
    """logging.Formatter, with the time stamp formatted once a second instead of once a
    line: `time.strftime` was a sixth of what an access line cost (profiled)."""

    _second: int | None = None
    _stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:  # a new second: format it (the handler's lock is held)
            self._stamp = super().formatTime(record, datefmt)
            self._second = second
        return self._stamp


def setup_logging(level: str = "INFO") -> None:
    try:
        handler: logging.Handler = BatchedStreamHandler(_buffered_stdout())
    except (AttributeError, OSError, ValueError):  # stdout is no file (e.g. a test's capture)
        handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Every record collects the caller's file and line, the thread, the process (and on
    # 3.12+ the asyncio task); our format prints none of them. These switches, from the
    # logging HOWTO's "Optimization" section, skip that work: a quarter of the cost of an
    # access line (profiled). Without _srcfile, `stack_info=True` prints no stack either;
    # nothing here asks for one (tracebacks, exc_info, are not affected).
    logging._srcfile = None  # no sys._getframe() walk to find the caller
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.logAsyncioTasks = False


access_log = logging.getLogger("access")


def log_request(handler: tornado.web.RequestHandler) -> None:
    """One access-log line per request (Tornado's default, on our logger and format)."""
    status = handler.get_status()
    request = handler.request
    access_log.log(
        logging.INFO if status < 500 else logging.WARNING, "%d %s %s %.1fms",
        status, request.method, request.uri, 1000.0 * request.request_time(),
    )
