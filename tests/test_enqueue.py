"""POST /enqueue against a real Redis: what is accepted is queued, what is refused is not."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime

import pytest

from service.queue import REDIS_DEADLINE
from tests.redis_server import stored
from tutorial.net import fetch, wait_for_http

TEXT = {"Content-Type": "text/plain"}
JSON = {"Content-Type": "application/json"}


def queued(redis_client, key):
    return [json.loads(raw) for raw in stored(redis_client, key)]


def test_text_is_accepted_with_an_envelope(service_url, redis_client, queue_key):
    reply = fetch(service_url + "/enqueue", "POST", "hello queue", TEXT)
    assert reply.status == 202, reply.text
    answer = reply.json()
    [message] = queued(redis_client, queue_key)
    assert message["id"] == answer["id"] and len(message["id"]) == 32
    assert message["body"] == "hello queue"
    assert message["content_type"] == "text/plain"
    assert message["served_by"] == answer["served_by"] == socket.gethostname()
    assert datetime.fromisoformat(message["received_at"]).tzinfo is not None


def test_json_is_parsed_and_charset_is_fine(service_url, redis_client, queue_key):
    reply = fetch(service_url + "/enqueue", "POST", '{"order": 7, "items": ["a"]}',
                  {"Content-Type": "application/json; charset=utf-8"})
    assert reply.status == 202, reply.text
    [message] = queued(redis_client, queue_key)
    assert message["body"] == {"order": 7, "items": ["a"]}


def test_pod_name_is_who_served(start_service, redis_server, redis_client, queue_key):
    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key, POD_NAME="hello-7")
    assert fetch(url + "/enqueue", "POST", "x", TEXT).json()["served_by"] == "hello-7"
    assert queued(redis_client, queue_key)[0]["served_by"] == "hello-7"


@pytest.mark.parametrize("body, headers, status, fragment", [
    (b"", TEXT, 400, "empty"),
    (b"{not json", JSON, 400, "not valid JSON"),
    (b"\xff\xfe", TEXT, 400, "UTF-8"),
    (b"hello", {"Content-Type": "application/xml"}, 415, "text/plain or application/json"),
    (b"hello", {}, 415, "got 'none'"),
])
def test_client_mistakes_are_4xx_and_enqueue_nothing(service_url, redis_client, queue_key,
                                                     body, headers, status, fragment):
    reply = fetch(service_url + "/enqueue", "POST", body, headers)
    assert reply.status == status
    assert reply.headers["Content-Type"] == "application/json"
    assert fragment in reply.json()["error"]
    assert redis_client.xlen(queue_key) == 0


def test_limit_is_inclusive(start_service, redis_server, redis_client, queue_key):
    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key, MAX_BODY_BYTES="10")
    assert fetch(url + "/enqueue", "POST", b"x" * 10, TEXT).status == 202
    reply = fetch(url + "/enqueue", "POST", b"x" * 11, TEXT)
    assert reply.status == 413
    assert "11 bytes; the limit is 10 bytes" in reply.json()["error"]
    assert redis_client.xlen(queue_key) == 1


@pytest.mark.parametrize("size", [64 * 1024 + 1, 5 * 1024 * 1024])
def test_oversized_body_gets_a_413_not_a_reset(service_url, redis_client, queue_key, size):
    # http.client sends the whole body before reading: the worst case for a server
    # that refuses early. The client must still read the 413.
    reply = fetch(service_url + "/enqueue", "POST", b"x" * size, TEXT, timeout=20)
    assert reply.status == 413
    assert f"{size} bytes" in reply.json()["error"]
    assert redis_client.xlen(queue_key) == 0


def test_oversized_chunked_body_is_refused(service_url, redis_client, queue_key):
    host, port = service_url.removeprefix("http://").split(":")
    chunk = b"y" * 16384
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /enqueue HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(5):  # 80 KiB > 64 KiB
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert redis_client.xlen(queue_key) == 0


def test_redis_outage_is_a_fast_503_and_recovery_needs_no_restart(start_service, queue_key):
    from tests.redis_server import RedisServer

    own = RedisServer().start()
    try:
        proc, url = start_service(REDIS_URL=own.url, QUEUE_KEY=queue_key)
        assert fetch(url + "/readyz").status == 200
        assert fetch(url + "/enqueue", "POST", "before", TEXT).status == 202

        own.stop()
        began = time.monotonic()
        reply = fetch(url + "/enqueue", "POST", "during", TEXT)
        elapsed = time.monotonic() - began
        assert reply.status == 503 and reply.headers["Retry-After"] == "1"
        assert "nothing was enqueued" in reply.json()["error"]
        assert elapsed < 2.0, f"503 took {elapsed:.2f} s"
        assert fetch(url + "/readyz").status == 503
        assert fetch(url + "/healthz").status == 200  # liveness does not depend on Redis

        own.start()  # same port, empty data: a restarted Redis without persistence
        wait_for_http(url + "/readyz", timeout=10)  # the service notices Redis came back
        assert fetch(url + "/enqueue", "POST", "after", TEXT).status == 202
        assert proc.proc.poll() is None  # recovered without a restart
    finally:
        own.stop()


def test_unreachable_redis_at_start_is_not_fatal(start_service, queue_key):
    # Port 9 (discard) on loopback: nothing listens, connections are refused.
    proc, url = start_service(REDIS_URL="redis://127.0.0.1:9/0", QUEUE_KEY=queue_key)
    assert fetch(url + "/").text == "Hello World"
    assert fetch(url + "/readyz").status == 503
    assert proc.proc.poll() is None


def test_expect_100_continue_gets_413_before_sending(service_url, redis_client, queue_key):
    host, port = service_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /enqueue HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n")
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 413"), reply[:200]  # no "100 Continue" first
    assert "1000000000 bytes" in reply
    assert redis_client.xlen(queue_key) == 0


def test_a_redis_that_never_answers_is_a_503_by_the_deadline(start_service, queue_key):
    # A listening socket that accepts and never replies: the deadline (REDIS_DEADLINE,
    # 1.5 s), not the kernel, has to end the wait. Without it the request would hang past
    # the client's 60 s; 10 x the deadline tells the two apart on a loaded machine too.
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)
        url = f"redis://127.0.0.1:{blackhole.getsockname()[1]}/0"
        _, base = start_service(REDIS_URL=url, QUEUE_KEY=queue_key)
        for path, method, body in [("/enqueue", "POST", "x"), ("/readyz", "GET", None)]:
            began = time.monotonic()
            reply = fetch(base + path, method, body, TEXT if body else {}, timeout=60)
            elapsed = time.monotonic() - began
            assert reply.status == 503, (path, reply.text)
            assert elapsed < 10 * REDIS_DEADLINE, f"{path} took {elapsed:.2f} s"
            if path == "/enqueue":
                # The connection's handshake never got an answer, so the push itself was
                # never sent: here, and only in cases like it, "nothing" is certain.
                # (tests/test_attack_redis.py covers a push whose answer is lost.)
                assert "nothing was enqueued" in reply.json()["error"]
