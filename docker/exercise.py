"""Run the real service as a process and drive it the way clients will.

Used twice by slim_rootfs.py inside the image build: once on the full Python to
see what the service really loads, and once inside the slimmed root filesystem
to prove that nothing it needs was left out.

A stand-in Redis (a few lines of RESP below) answers on loopback, so the code
paths that only run when Redis answers -- connect, HELLO, LPUSH, parsing replies
with hiredis, resolving "localhost" on the executor thread -- are exercised even
though no Redis server exists during `docker build`. It is then stopped, so the
"Redis is down" paths run too.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

# (method, path, content type, body). Statuses are not asserted here: the
# slim run must simply answer exactly like the full run did.
REQUESTS_WITH_REDIS = [
    ("GET", "/", None, None),
    ("GET", "/healthz", None, None),
    ("GET", "/readyz", None, None),
    ("POST", "/enqueue", "text/plain", b"hello"),
    ("POST", "/enqueue", "application/json", b'{"n": 1, "text": "h\\u00e9llo"}'),
    ("POST", "/enqueue", "application/json", b"{not json"),
    ("POST", "/enqueue", "application/octet-stream", b"\x00"),
    ("POST", "/enqueue", "text/plain", b"\xff\xfe"),
    # Just over the default 64 KiB limit: refused with 413 after a short drain.
    ("POST", "/enqueue", "text/plain", b"x" * (64 * 1024 + 1)),
    ("GET", "/no-such-path", None, None),
    ("DELETE", "/", None, None),
    ("GET", "/enqueue", None, None),
]
REQUESTS_WITHOUT_REDIS = [
    ("GET", "/readyz", None, None),
    ("POST", "/enqueue", "text/plain", b"hello"),
]


# Its own free_port and wait loop: it runs in the image build, where notebooks/tutorial is not.
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandInRedis:
    """Just enough RESP3 for redis-py: HELLO, PING, LPUSH, the append script; +OK for the rest."""

    def __init__(self) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.pushed = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        if not ready.wait(5):
            raise RuntimeError("the stand-in Redis did not start")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        # IPv4 only: build containers may have no ::1. The service is still
        # given "localhost", so it resolves a name as it will for "redis".
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port)
        )
        ready.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readline()
                if not header:
                    break
                args = []
                for _ in range(int(header[1:])):
                    size = int((await reader.readline())[1:])
                    args.append((await reader.readexactly(size + 2))[:-2])
                command = args[0].upper()
                if command == b"HELLO":
                    writer.write(b"%1\r\n+proto\r\n:3\r\n")
                elif command == b"PING":
                    writer.write(b"+PONG\r\n")
                elif command in (b"LPUSH", b"RPUSH"):
                    self.pushed += 1
                    writer.write(b":%d\r\n" % self.pushed)
                elif command in (b"EVAL", b"EVALSHA"):
                    # service/queue.py's append script: KEYS = queue + one key per message;
                    # it answers the queue's length after each message, so the traced run
                    # takes the 202 path, not the 503 one.
                    messages = int(args[2]) - 1
                    lengths = range(self.pushed + 1, self.pushed + messages + 1)
                    self.pushed += messages
                    writer.write(b"*%d\r\n" % messages + b"".join(b":%d\r\n" % n for n in lengths))
                else:
                    writer.write(b"+OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()
            for task in asyncio.all_tasks():  # drop the service's open connections
                if task is not asyncio.current_task():
                    task.cancel()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Service:
    """The service as a child process, with its output captured by threads."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str = "/") -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [*argv, "--port", str(self.port), "--address", "127.0.0.1"],
            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.stdout: list[bytes] = []
        self.stderr: list[bytes] = []
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(s), daemon=True).start()
        self._wait_listening()

    # Generous bounds, for failures only: under qemu-user emulation (an arm64 build on
    # x86_64) the slim interpreter took ~35 s to start on a busy 2-core machine.
    def _wait_listening(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the service exited early ({self.proc.returncode}):\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the service did not listen within {timeout} s:\n{self.output()}")

    def request(self, method: str, path: str, ctype: str | None,
                body: bytes | None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": ctype} if ctype else {})
            response = conn.getresponse()
            return response.status, response.read()
        except ConnectionError:  # the 413 path may close before we finish sending
            return -1, b""
        finally:
            conn.close()

    def stop(self) -> int:
        """SIGTERM, as `docker stop` sends it; the exit code of a graceful stop."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        time.sleep(0.1)  # let the reader threads drain the pipes
        return code

    def output(self) -> str:
        return (b"".join(self.stdout) + b"".join(self.stderr)).decode(errors="replace")


def exercise(argv: list[str], env: dict[str, str], cwd: str = "/", read_maps: bool = True):
    """Start, drive, stop. Returns (statuses, first body, exit code, service, maps).

    `maps` is what the process had mapped -- interpreter, shared libraries, extension
    modules: everything the loader really needed -- as the process itself reads it from
    /proc/self/maps when it exits (slim_rootfs.py's exit hook writes it to the file named
    by SLIM_SELF_MAPS). Not /proc/<pid>/maps from here: under qemu-user emulation (an
    arm64 build on x86_64) that shows the emulator's mappings, while the emulator
    presents the guest's own to the guest. The same code works natively.
    """
    redis = StandInRedis()
    env = {**env, "REDIS_URL": f"redis://localhost:{redis.port}/0"}
    with tempfile.TemporaryDirectory() as tmp:
        maps_file = os.path.join(tmp, "maps")
        if read_maps:
            env["SLIM_SELF_MAPS"] = maps_file
        service = Service(argv, env, cwd)
        try:
            answers = [service.request(*r) for r in REQUESTS_WITH_REDIS]
            redis.stop()
            answers += [service.request(*r) for r in REQUESTS_WITHOUT_REDIS]
        except BaseException:
            service.proc.kill()
            raise
        code = service.stop()
        maps = ""
        if read_maps:
            if not os.path.exists(maps_file):
                raise RuntimeError("the service did not report its mappings at exit "
                                   f"(exit {code}); is the exit hook on PYTHONPATH?\n"
                                   + service.output())
            with open(maps_file) as f:
                maps = f.read()
    return [status for status, _ in answers], answers[0][1], code, service, maps
