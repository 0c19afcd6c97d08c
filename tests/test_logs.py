"""Log lines are written in batches, and none is lost or held back for long."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from service.logs import FLUSH_DELAY, BatchedStreamHandler, Formatter
from tutorial.net import fetch
from tutorial.wait import wait_until


class Recorder(io.StringIO):
    """A stream that remembers what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


@pytest.fixture
def log():
    stream = Recorder()
    name = f"test-logs-{id(stream)}"
    handler = BatchedStreamHandler(stream, delay=0.05, batched=frozenset({name}))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, stream
    handler.close()


def test_lines_logged_on_the_loop_go_out_together_after_the_delay(log):
    logger, stream = log

    async def main():
        for n in range(3):
            logger.info("line %d", n)
        assert stream.flushed == []  # buffered: no flush per line
        await asyncio.sleep(0.2)

    asyncio.run(main())
    assert stream.flushed == ["line 0\nline 1\nline 2\n"]  # one flush, every line in it


@pytest.mark.parametrize("urgent", [
    pytest.param(lambda logger: logger.warning("now"), id="a warning"),
    # a logger that is not batched: the service's start-up and shutdown lines
    pytest.param(lambda logger: logging.getLogger(logger.name + ".events").info("now"),
                 id="another logger's line"),
])
def test_other_lines_go_out_at_once_with_what_waited_before_them(log, urgent):
    logger, stream = log

    async def main():
        logger.info("served")
        urgent(logger)
        assert stream.flushed == ["served\nnow\n"]

    asyncio.run(main())


def test_without_an_event_loop_every_line_goes_out_at_once(log):
    logger, stream = log
    logger.info("before the loop")
    assert stream.flushed == ["before the loop\n"]


def test_the_formatter_writes_what_the_stdlib_one_writes_also_across_seconds():
    fmt, datefmt = "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
    ours, stdlib = Formatter(fmt, datefmt), logging.Formatter(fmt, datefmt)
    for created in (1000.1, 1000.9, 1001.0, 1000.5, 1062.0):  # same second, next, back
        record = logging.makeLogRecord({"name": "access", "levelname": "INFO",
                                        "msg": "200 GET / %.1fms", "args": (0.25,),
                                        "created": created})
        assert ours.format(record) == stdlib.format(record)


def test_access_lines_reach_stdout_soon_and_all_of_them(start_service):
    proc, url = start_service(REDIS_URL="redis://127.0.0.1:9/0")
    for _ in range(5):
        assert fetch(url + "/").status == 200
    # Every line, within the flush delay plus scheduling slack: none held until exit.
    def access_lines() -> int:
        return sum("200 GET /" in line for line in proc.lines)

    wait_until(lambda: access_lines() >= 5, FLUSH_DELAY + 2, "5 access lines on stdout",
               interval=0.02)
    assert access_lines() == 5, proc.output
    assert proc.stop() == 0
    assert "shutdown complete" in proc.output  # flushed at exit, after the loop has gone
