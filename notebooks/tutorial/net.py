"""Loopback networking for the notebooks: free ports, waiting for a server, plain HTTP."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass

from tutorial.wait import wait_until


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


def fetch(
    url: str,
    method: str = "GET",
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Response:
    """One HTTP request; unlike urllib, 4xx/5xx come back as a Response, not an exception."""
    scheme, _, rest = url.partition("://")
    if scheme != "http":
        raise ValueError(f"only http:// URLs are used in this tutorial, got {url!r}")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode("utf-8")
        conn.request(method, "/" + path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return Response(reply.status, dict(reply.getheaders()), reply.read())
    finally:
        conn.close()


def wait_for_http(url: str, timeout: float = 15.0, status: int | None = 200) -> Response:
    """Poll `url` until it answers (with `status`, unless None); raise TimeoutError if not."""
    last = ["no attempt"]

    def answered() -> Response | None:
        try:
            response = fetch(url, timeout=1.0)
        except OSError as exc:
            last[0] = f"{type(exc).__name__}: {exc}"
            return None
        if status is None or response.status == status:
            return response
        last[0] = f"HTTP {response.status}"
        return None

    try:
        return wait_until(answered, timeout, f"{url} answering {status or ''}")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc} (last: {last[0]})") from None
