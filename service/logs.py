"""Logging to stdout, one line per event: what `docker logs` and `kubectl logs` read."""

from __future__ import annotations

import logging
import sys

import tornado.web


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """One access-log line per request (Tornado's default, on our logger and format)."""
    status = handler.get_status()
    level = logging.INFO if status < 500 else logging.WARNING
    request = handler.request
    logging.getLogger("access").log(
        level, "%d %s %s %.1fms", status, request.method, request.uri,
        1000.0 * request.request_time(),
    )
