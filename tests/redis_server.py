"""A real, throw-away redis-server on 127.0.0.1 (Debian's package), for the tests."""

from __future__ import annotations

import os
import shutil
import socket

from tutorial.net import free_port
from tutorial.shell import Background, start
from tutorial.wait import wait_until


def redis_problem() -> str | None:
    if shutil.which("redis-server") is None:
        return ("redis-server is not installed; on Debian/Ubuntu: "
                "`apt-get install redis-server` (.ci/run does this)")
    return None


class RedisServer:
    """redis-server, without persistence unless `options` ask for it (e.g. "--appendonly",
    "yes", "--dir", path); `stop()`/`start()` keep the same port and options."""

    def __init__(self, port: int | None = None, *options: str) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.options = options
        self.proc: Background | None = None

    def start(self) -> RedisServer:
        self.proc = start(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--protected-mode", "yes",
             "--dir", os.environ.get("TMPDIR", "/tmp"), *self.options], echo=False)
        try:
            wait_until(self.answers, 10, f"redis-server answering PING on port {self.port}")
        except TimeoutError as exc:
            said = self.proc.output
            self.stop()
            raise RuntimeError(f"{exc}; redis-server said:\n{said[-2000:]}") from None
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (Redis shuts down cleanly), or with `kill` SIGKILL: no goodbye at all."""
        if self.proc:
            self.proc.kill() if kill else self.proc.stop(timeout=10)
        self.proc = None


def stored(client, key: str) -> list[bytes]:
    """The messages in the queue stream `key`, oldest first (what the service appended)."""
    return [fields[b"message"] for _, fields in client.xrange(key)]
