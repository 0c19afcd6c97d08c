"""Every step file in notebooks/steps/ does what notebook 01 (and 04) say it does.

Real HTTP on loopback: in-process through Tornado's own test server, and each step as
the process a learner starts (`python -m steps.sN_... --port N`).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import tornado.testing

from steps import s1_hello, s2_health, s3_settings, s4_enqueue
from tutorial.net import fetch, free_port, wait_for_http
from tutorial.shell import Background, start
from tutorial.source import ROOT, edit_copy, unified_diff

STEPS = [s1_hello, s2_health, s3_settings, s4_enqueue]
NO_REDIS = "redis://127.0.0.1:9/0"  # port 9 (discard): nothing listens, connections refused

# The edit notebook 01 makes to a copy of s3, to have a request that takes a while.
SLOW_ROUTE = {
    "class NotFoundHandler(JSONHandler):": (
        "class SlowHandler(JSONHandler):\n"
        "    async def get(self):\n"
        '        seconds = float(self.get_argument("seconds"))\n'
        '        log.info("slow request started, %s s to go", seconds)\n'
        "        await asyncio.sleep(seconds)\n"
        '        self.write(f"done after {seconds} s")\n\n\n'
        "class NotFoundHandler(JSONHandler):"),
    '(r"/healthz", HealthHandler)]': '(r"/healthz", HealthHandler), (r"/slow", SlowHandler)]',
}


@pytest.fixture(autouse=True, scope="module")
def _remove_copies():
    """The edited copies these tests write under build/ go away afterwards."""
    yield
    for name in ("test-steps", "test-steps-diff"):
        shutil.rmtree(ROOT / "build" / name, ignore_errors=True)


def process(argv: list[str], env: dict[str, str] | None = None) -> Background:
    """A step started as a learner starts it; stdout (`output`) and stderr (`errors`) apart."""
    return start(argv, env=env, echo=False, stderr_apart=True)


@pytest.fixture
def launch():
    started: list[Background] = []

    def start(module_or_file: str, *args: str, env: dict[str, str] | None = None,
              wait: bool = True) -> tuple[Background, str]:
        port = free_port()
        target = ["-m", module_or_file] if not module_or_file.endswith(".py") else [module_or_file]
        proc = process([sys.executable, *target, "--port", str(port), *args], env)
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        if wait:
            wait_for_http(url + "/", timeout=20)
        return proc, url

    yield start
    for proc in started:
        proc.kill()


# ------------------------------------------------------------------ the files themselves


def test_s1_is_at_most_15_lines_of_code():
    code = [line for line in Path(s1_hello.__file__).read_text().splitlines() if line.strip()]
    assert len(code) <= 15, len(code)


def test_each_step_only_adds_what_its_diff_shows():
    names = [f"notebooks/steps/{m.__name__.split('.')[-1]}.py" for m in STEPS]
    for old, new in itertools.pairwise(names):
        diff = unified_diff(old, new)
        assert diff.startswith(f"--- {old}\n+++ {new}\n"), diff[:200]
        added = [line for line in diff.splitlines() if line.startswith("+") and line[1:].strip()]
        assert added, f"{new} adds nothing to {old}"
    assert "+class HealthHandler(JSONHandler):" in unified_diff(names[0], names[1])
    assert "+    def initialize(self):" in unified_diff(names[1], names[2])
    assert "+class EnqueueHandler(JSONHandler):" in unified_diff(names[2], names[3])


def test_diff_and_edit_copy():
    base = "build/test-steps-diff"
    for side, greeting in (("a", "Hello World"), ("b", "Hello, you")):
        edit_copy("notebooks/steps/s1_hello.py", f"{base}/{side}.py",
                  {'"Hello World"': json.dumps(greeting)})
    diff = unified_diff(f"{base}/a.py", f"{base}/b.py")
    assert diff.startswith(f"--- {base}/a.py\n+++ {base}/b.py\n")
    assert '-        self.write("Hello World")' in diff
    assert '+        self.write("Hello, you")' in diff
    assert unified_diff(f"{base}/a.py", f"{base}/a.py") == ""
    with pytest.raises(ValueError, match="occurs 0 times"):
        edit_copy("notebooks/steps/s1_hello.py", f"{base}/c.py", {"no such text": ""})


# ------------------------------------------------------------------ in-process HTTP


class S1Test(tornado.testing.AsyncHTTPTestCase):
    def get_app(self):
        return s1_hello.make_app()

    def test_hello_world_as_tornado_default_html(self):
        response = self.fetch("/")
        assert (response.code, response.body) == (200, b"Hello World")
        assert response.headers["Content-Type"].startswith("text/html")

    def test_unknown_path_is_an_html_404(self):
        response = self.fetch("/nope")
        assert response.code == 404
        assert response.headers["Content-Type"].startswith("text/html")


class JSONErrorsMixin:
    """What s2 adds, and what s3 and s4 must keep."""

    def test_hello_world_as_plain_text(self):
        response = self.fetch("/")
        assert (response.code, response.body) == (200, b"Hello World")
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"

    def test_healthz(self):
        response = self.fetch("/healthz")
        assert response.code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(response.body) == {"status": "ok"}

    def test_errors_are_json(self):
        not_found = self.fetch("/nope")
        wrong_method = self.fetch("/healthz", method="POST", body=b"")
        for response, status, phrase in ((not_found, 404, "Not Found"),
                                         (wrong_method, 405, "Method Not Allowed")):
            assert response.code == status
            assert response.headers["Content-Type"].startswith("application/json")
            assert json.loads(response.body) == {"error": phrase, "status": status}


class S2Test(JSONErrorsMixin, tornado.testing.AsyncHTTPTestCase):
    def get_app(self):
        return s2_health.make_app()


class S3Test(JSONErrorsMixin, tornado.testing.AsyncHTTPTestCase):
    def get_app(self):
        return s3_settings.make_app()

    def test_requests_are_untracked_once_finished(self):
        self.fetch("/")
        self.fetch("/nope")
        assert self._app.settings["in_flight"] == set()


class S4Test(JSONErrorsMixin, tornado.testing.AsyncHTTPTestCase):
    def get_app(self):
        return s4_enqueue.make_app(NO_REDIS)

    def test_enqueue_without_redis_is_a_json_503(self):
        response = self.fetch("/enqueue", method="POST", body=b"hello")
        assert response.code == 503
        assert json.loads(response.body) == {"error": "Service Unavailable", "status": 503}

    def test_empty_or_undecodable_body_is_a_400(self):
        for body in (b"", b"\xff\xfe"):
            response = self.fetch("/enqueue", method="POST", body=body)
            assert response.code == 400, body


def test_settings_flags_override_environment():
    env = {"PORT": "9001", "ADDRESS": "0.0.0.0", "SHUTDOWN_TIMEOUT": "3"}
    assert s3_settings.parse_settings([], env).port == 9001
    settings = s3_settings.parse_settings(["--port", "9002"], env)
    assert (settings.port, settings.address, settings.shutdown_timeout) == (9002, "0.0.0.0", 3.0)
    defaults = s4_enqueue.parse_settings([], {})
    assert (defaults.port, defaults.address) == (8080, "127.0.0.1")
    assert (defaults.redis_url, defaults.queue_key) == ("redis://localhost:6379/0", "hello:queue")
    assert s4_enqueue.parse_settings([], {"QUEUE_KEY": "q"}).queue_key == "q"


# ------------------------------------------------------------------ as processes


@pytest.mark.parametrize("step", STEPS, ids=lambda m: m.__name__.split(".")[-1])
def test_every_step_runs_as_a_process(launch, step):
    proc, url = launch(step.__name__, env={"REDIS_URL": NO_REDIS})
    reply = fetch(url + "/")
    assert (reply.status, reply.text) == (200, "Hello World")
    assert proc.proc.poll() is None


def test_s1_and_s2_are_killed_by_sigterm(launch):
    # No signal handler: the default action ends the process at once (status -15).
    for step in (s1_hello, s2_health):
        proc, _ = launch(step.__name__)
        assert proc.stop(signal.SIGTERM) == -signal.SIGTERM


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_s3_stops_with_status_0_and_logs_on_stdout(launch, signum):
    proc, url = launch("steps.s3_settings")
    fetch(url + "/")
    assert proc.stop(signum) == 0
    assert proc.errors == ""
    assert f"listening on {url}" in proc.output
    assert "200 GET / (127.0.0.1)" in proc.output
    assert "stopping: no new connections, 0 request(s) in flight" in proc.output
    assert proc.output.rstrip().endswith("INFO hello: stopped")


def test_s3_reads_port_from_environment_and_flag_wins(launch):
    env_port = free_port()
    # launch() passes --port with another free port: the flag wins over PORT.
    flagged, _ = launch("steps.s3_settings", env={"PORT": str(env_port)})
    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{env_port}/", timeout=2)
    assert flagged.stop() == 0
    only_env = process([sys.executable, "-m", "steps.s3_settings"], env={"PORT": str(env_port)})
    try:
        reply = wait_for_http(f"http://127.0.0.1:{env_port}/healthz", timeout=20)
        assert reply.json() == {"status": "ok"}
    finally:
        assert only_env.stop() == 0
    assert f"listening on http://127.0.0.1:{env_port}" in only_env.output


def test_s3_bad_environment_value_is_a_usage_error():
    # PYTHONPATH is how `steps` is found (root conftest.py sets it); nothing else leaks in.
    env = {"PORT": "eighty", "PATH": "/usr/bin:/bin", "PYTHONPATH": os.environ["PYTHONPATH"]}
    done = subprocess.run([sys.executable, "-m", "steps.s3_settings"], capture_output=True,
                          text=True, env=env, timeout=30)
    assert done.returncode == 2
    assert "argument --port: invalid int value: 'eighty'" in done.stderr


def _slow_copy(name: str) -> str:
    return str(edit_copy("notebooks/steps/s3_settings.py", f"build/test-steps/{name}.py",
                         SLOW_ROUTE))


def _start_slow_request(url: str, seconds: float) -> socket.socket:
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"GET /slow?seconds={seconds} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def test_s3_lets_a_request_in_flight_finish_after_sigterm(launch):
    proc, url = launch(_slow_copy("slow"))
    sock = _start_slow_request(url, 1.5)
    proc.wait_for_line(re.escape("slow request started"))
    proc.send_signal(signal.SIGTERM)
    proc.wait_for_line(re.escape("stopping: no new connections, 1 request(s) in flight"))
    with pytest.raises(OSError):  # the listening socket is closed: new clients are refused
        fetch(url + "/", timeout=2)
    reply = sock.makefile("rb").read().decode()  # until the server closes the connection
    sock.close()
    assert reply.startswith("HTTP/1.1 200 OK"), reply
    assert reply.endswith("done after 1.5 s")
    assert proc.wait() == 0  # the one SIGTERM above is enough
    assert "stopped" in proc.output


def test_s3_closes_requests_that_outlast_the_shutdown_timeout(launch):
    proc, url = launch(_slow_copy("slower"), "--shutdown-timeout", "0.5")
    sock = _start_slow_request(url, 30)
    proc.wait_for_line(re.escape("slow request started"))
    assert proc.stop(signal.SIGTERM, timeout=10) == 0  # well before the request's 30 s
    assert sock.recv(1024) == b""  # closed without an answer
    sock.close()


# ------------------------------------------------------------------ s4 with a real Redis


def test_s4_pushes_onto_the_redis_list(launch, redis_server, redis_client, queue_key):
    proc, url = launch("steps.s4_enqueue", "--queue-key", queue_key,
                       env={"REDIS_URL": redis_server.url})
    ids = []
    for body in ("first", '{"n": 2}'):
        reply = fetch(url + "/enqueue", method="POST", body=body)
        assert reply.status == 202, reply.text
        ids.append(reply.json()["id"])
    stored = [json.loads(raw) for raw in redis_client.lrange(queue_key, 0, -1)]
    # LPUSH adds at the head: the newest message comes first.
    assert stored == [{"id": ids[1], "body": '{"n": 2}'}, {"id": ids[0], "body": "first"}]
    assert fetch(url + "/enqueue", method="POST", body="").status == 400
    assert redis_client.llen(queue_key) == 2
    assert proc.stop() == 0
    assert "202 POST /enqueue" in proc.output


def test_s4_answers_503_when_redis_is_unreachable(launch):
    proc, url = launch("steps.s4_enqueue", "--redis-url", NO_REDIS)
    reply = fetch(url + "/enqueue", method="POST", body="hello")
    assert reply.status == 503
    assert reply.json() == {"error": "Service Unavailable", "status": 503}
    assert fetch(url + "/healthz").status == 200  # the process itself is fine
    assert proc.stop() == 0
