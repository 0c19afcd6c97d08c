"""HTTP framing abuse on raw sockets: slow clients, lying lengths, huge headers.

Each is answered or closed within a bound, enqueues nothing, and leaves the service
answering everybody else.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.redis_server import stored
from tutorial.net import fetch


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send `data`, then read until the server closes or `timeout` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


# The fixture sets 1 s idle and body timeouts; a connection they fail to cut stays open for
# ever, so waiting ten times that tells the two apart without failing a loaded machine.
CUT_OFF = 10


def closed_within(sock: socket.socket, seconds: float = CUT_OFF) -> bool:
    sock.settimeout(max(seconds, 0.1))
    try:
        while sock.recv(4096):
            pass
        return True  # EOF
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def timeouts_service(start_service, redis_server, queue_key):
    """The service with short client timeouts, so a test can outwait them."""
    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key,
                           IDLE_TIMEOUT="1", BODY_TIMEOUT="1")
    return url


def test_slowloris_headers_are_cut_off_while_others_are_served(timeouts_service):
    port = port_of(timeouts_service)
    socks = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never the blank line
            socks.append(sock)
        began = time.monotonic()
        assert fetch(timeouts_service + "/").text == "Hello World"
        for sock in socks:
            sock.sendall(b"X-a: b\r\n")  # trickle: one more header line
        still_open = [s for s in socks
                      if not closed_within(s, CUT_OFF - (time.monotonic() - began))]
        assert not still_open, f"{len(still_open)} trickling connections open after {CUT_OFF} s"
    finally:
        for sock in socks:
            sock.close()


def test_a_body_that_never_arrives_is_cut_off(timeouts_service, redis_client, queue_key):
    with socket.create_connection(("127.0.0.1", port_of(timeouts_service)), timeout=5) as sock:
        sock.sendall(b"POST /enqueue HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 100\r\n\r\nonly ten b")  # declares 100, sends 10
        assert closed_within(sock)
    assert redis_client.xlen(queue_key) == 0


def test_an_idle_keep_alive_connection_is_closed(timeouts_service):
    with socket.create_connection(("127.0.0.1", port_of(timeouts_service)), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_within(sock)


def test_default_timeouts_close_a_trickler_within_70_s():
    from service.config import Settings

    defaults = Settings()
    assert defaults.idle_timeout <= 60 and defaults.body_timeout <= 60


@pytest.mark.parametrize("headers", [
    b"Content-Length: abc\r\n",
    b"Content-Length: -5\r\n",
    b"Content-Length: 5, 6\r\n",
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip\r\n",
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n",  # a chunk size that is no number
])
def test_malformed_framing_is_a_400_and_enqueues_nothing(service_url, redis_client, queue_key,
                                                         headers):
    reply = exchange(port_of(service_url),
                     b"POST /enqueue HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                     + headers + b"\r\nhello")
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert redis_client.xlen(queue_key) == 0
    assert fetch(service_url + "/").status == 200


def test_a_body_longer_than_declared_is_not_a_second_message(service_url, redis_client,
                                                             queue_key):
    # Declares 5 bytes and sends more: the rest is read as the next request, which is
    # garbage, so it is refused (400, closed); only the declared 5 bytes are queued.
    reply = exchange(port_of(service_url),
                     b"POST /enqueue HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 5\r\n\r\nhelloPOST-SMUGGLED\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 202"), reply[:200]
    assert b"HTTP/1.1 400" in reply, reply[-300:]
    assert [m for m in stored(redis_client, queue_key)] and redis_client.xlen(queue_key) == 1
    assert b"SMUGGLED" not in stored(redis_client, queue_key)[-1]


@pytest.mark.parametrize("what", ["url", "header"])
def test_oversized_request_head_is_refused_without_a_hang(service_url, redis_client, queue_key,
                                                          what):
    huge = b"a" * (80 * 1024)
    head = (b"GET /" + huge + b" HTTP/1.1\r\nHost: t\r\n\r\n" if what == "url"
            else b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + huge + b"\r\n\r\n")
    began = time.monotonic()
    try:
        reply = exchange(port_of(service_url), head)
    except ConnectionResetError:
        reply = b""  # closed while we were still sending: refused too
    assert time.monotonic() - began < 4, "the service kept the connection open"
    assert reply == b"" or reply.split(b" ", 2)[1] in (b"400", b"414", b"431"), reply[:200]
    assert fetch(service_url + "/").status == 200
