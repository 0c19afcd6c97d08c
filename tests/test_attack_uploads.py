"""Clients that go away halfway: nothing of theirs may stay in memory or reach the queue."""

from __future__ import annotations

import signal
import socket
import time

from tutorial.net import fetch

HEAD = (b"POST /enqueue HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 65536\r\n\r\n")
PART = b"x" * (60 * 1024)  # 4 KiB short of what was declared


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def abandon_uploads(port: int, count: int, at_once: int = 100) -> None:
    """`count` clients each declare 64 KiB, send 60 KiB and disconnect."""
    for start in range(0, count, at_once):
        socks = [socket.create_connection(("127.0.0.1", port), timeout=10)
                 for _ in range(min(at_once, count - start))]
        for sock in socks:
            sock.sendall(HEAD + PART)
        for sock in socks:
            sock.close()


def test_abandoned_uploads_do_not_leak(start_service, redis_server, redis_client, queue_key):
    proc, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key)
    port = port_of(url)

    def settled_rss() -> int:
        assert fetch(url + "/").status == 200  # the loop has caught up with the closes
        time.sleep(0.3)
        return rss_kib(proc.pid)

    # The first round leaves the allocator as high as the burst's peak (how many
    # uploads were in memory at once depends on the machine's load); a leak shows as
    # growth that repeats with every round: each kept 60 KiB body, 2,000 > 110 MiB.
    began = settled_rss()
    abandon_uploads(port, 2000)
    after_first = settled_rss()
    abandon_uploads(port, 2000)
    grown_mib = (settled_rss() - after_first) / 1024
    assert grown_mib < 40, (f"RSS grew by {grown_mib:.0f} MiB in a second round of 2,000 "
                            f"abandoned uploads (first round: "
                            f"{(after_first - began) / 1024:.0f} MiB)")
    assert fetch(url + "/enqueue", "POST", "ok", {"Content-Type": "text/plain"}).status == 202
    assert redis_client.xlen(queue_key) == 1
    # Nothing is left in flight, so a stop logs no made-up 500 for those clients.
    assert proc.stop(signal.SIGTERM) == 0
    assert " 500 " not in proc.output and "still running" not in proc.output, proc.output[-2000:]


def test_half_closed_client_is_answered_or_can_retry_safely(service_url, redis_client, queue_key):
    # The client sends a whole request, then shuts down its sending side (FIN) and waits.
    # Tornado may take the FIN for a closed connection: then the push may or may not have
    # landed and no answer comes. Either way a retry with the same Idempotency-Key must
    # end with the message stored exactly once.
    body = b"half-closed"
    key = b"half-closed-" + queue_key.encode().replace(b":", b"-")
    with socket.create_connection(("127.0.0.1", port_of(service_url)), timeout=10) as sock:
        sock.sendall(b"POST /enqueue HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                     b"Idempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s"
                     % (key, len(body), body))
        sock.shutdown(socket.SHUT_WR)
        reply = sock.recv(65536)
    if reply:
        assert reply.startswith(b"HTTP/1.1 202"), reply[:200]
    else:
        retry = fetch(service_url + "/enqueue", "POST", body,
                      headers={"Content-Type": "text/plain", "Idempotency-Key": key.decode()})
        assert retry.status == 202, retry.text
    assert redis_client.xlen(queue_key) == 1


def test_half_closed_mid_body_enqueues_nothing(service_url, redis_client, queue_key):
    with socket.create_connection(("127.0.0.1", port_of(service_url)), timeout=10) as sock:
        sock.sendall(HEAD + b"only a part")
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        assert sock.recv(65536) == b""  # closed, not kept waiting for the rest
    assert fetch(service_url + "/").status == 200
    assert redis_client.xlen(queue_key) == 0


def answer(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the one response a socket gets, read up to its Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"closed without an answer: {data!r}"
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), body


def test_slow_uploads_share_one_memory_budget(start_service, redis_server, redis_client,
                                              queue_key):
    """Many slow uploads at once hold at most MAX_BUFFERED_BYTES of bodies, not
    connections x 64 KiB: the one that does not fit is answered 503, nothing enqueued;
    the budget comes back when the holders go.

    Four uploads of 64 KiB, held open after 60 KiB, against a budget of three whole ones:
    whatever order the service reads them in, the first chunk that does not fit puts its
    upload over budget (which lets go of what it held), and the other three then fit."""
    proc, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key,
                              MAX_BUFFERED_BYTES=str(3 * 65536 + 1000))
    holders = [socket.create_connection(("127.0.0.1", port_of(url)), timeout=30)
               for _ in range(4)]
    try:
        for sock in holders:
            sock.sendall(HEAD + PART)  # 60 of 64 KiB, then nothing: held by the service
        time.sleep(0.5)  # held: what the test is about (the outcome does not depend on it)
        for sock in holders:
            sock.sendall(b"y" * (65536 - len(PART)))
        answers = sorted(answer(sock) for sock in holders)
    finally:
        for sock in holders:
            sock.close()
    assert [status for status, _ in answers] == [202, 202, 202, 503], answers
    assert b"nothing was enqueued" in answers[-1][1], answers[-1]
    assert redis_client.xlen(queue_key) == 3
    # The holders are gone: the whole budget is back, for a whole upload again.
    reply = fetch(url + "/enqueue", "POST", PART, {"Content-Type": "text/plain"})
    assert reply.status == 202, reply.text
    assert redis_client.xlen(queue_key) == 4
    assert proc.stop(signal.SIGTERM) == 0
