"""Settings: environment variables first, command-line flags override them.

Containers and Kubernetes configure a process through its environment; people at a
terminal reach for flags. Both end up in one immutable `Settings`.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A setting has a value the service cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    port: int = 8080
    address: str = "0.0.0.0"
    redis_url: str = "redis://localhost:6379/0"
    queue_key: str = "hello:queue"
    max_body_bytes: int = 64 * 1024
    instance: str = "localhost"  # who answered: POD_NAME in Kubernetes, else the hostname
    shutdown_timeout: float = 10.0
    log_level: str = "INFO"
    # Slow clients: how long a connection may take to send its request head (and sit
    # idle between keep-alive requests), and how long to send its body.
    idle_timeout: float = 60.0
    body_timeout: float = 30.0
    # How long Redis remembers a message id, so a repeated push of it is not stored twice.
    dedupe_seconds: int = 600
    # Messages waiting for Redis at once; past that, a fast 503 instead of a slow queue.
    max_pending: int = 4096
    # Request bodies held in memory at once, all connections together: 256 bodies of
    # 64 KiB. Slow uploads past it are read and dropped, then answered 503.
    max_buffered_bytes: int = 16 * 1024 * 1024
    # `python -m service.worker` only: its /healthz port, how long a consumer may hold
    # an entry before another one claims it, and deliveries before the dead letters.
    worker_port: int = 8081
    worker_lease_seconds: float = 15.0
    worker_max_attempts: int = 5


def _number(kind: type, expected: str, in_range: str, ok: Callable[[Any], bool]):
    """A parser for numbers: `kind(text)`, then `ok(value)`; each failure says which."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{in_range}, got {value}")
        return value

    return parse


_port = _number(int, "port must be a whole number", "port must be between 0 and 65535",
                lambda value: 0 <= value <= 65535)
_positive_int = _number(int, "expected a whole number", "expected a number above 0",
                        lambda value: value > 0)
_seconds = _number(float, "expected a number of seconds",
                   "expected a number of seconds above 0", lambda value: value > 0)


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise argparse.ArgumentTypeError(
            f"log level must be one of DEBUG, INFO, WARNING, ERROR, got {text!r}"
        )
    return level


@dataclass(frozen=True)
class Option:
    """One setting: its `Settings` field, environment variable, parser and help text.
    The flag is the field's name with dashes (--max-body-bytes) unless given."""

    name: str
    env: str
    parse: Callable[[str], Any]
    help: str
    flag: str = ""

    @property
    def option_string(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


# THE table of settings: env names, flags, --help and ENV_VARS all come from it.
OPTIONS = (
    Option("port", "PORT", _port, "TCP port to listen on (0 picks a free one)"),
    Option("address", "ADDRESS", str,
           "address to bind; 0.0.0.0 in a container, 127.0.0.1 on a laptop"),
    Option("redis_url", "REDIS_URL", str, "Redis to push received messages to"),
    Option("queue_key", "QUEUE_KEY", str, "Redis stream that holds the queue"),
    Option("max_body_bytes", "MAX_BODY_BYTES", _positive_int, "largest accepted request body"),
    Option("shutdown_timeout", "SHUTDOWN_TIMEOUT", _seconds,
           "seconds to let in-flight requests finish after SIGTERM"),
    Option("log_level", "LOG_LEVEL", _log_level, "DEBUG, INFO, WARNING or ERROR"),
    Option("idle_timeout", "IDLE_TIMEOUT", _seconds,
           "seconds a client may take to send a request's headers, or stay idle between requests"),
    Option("body_timeout", "BODY_TIMEOUT", _seconds,
           "seconds a client may take to send a request body"),
    Option("dedupe_seconds", "DEDUPE_SECONDS", _positive_int,
           "seconds a message id is remembered: a repeat within them is not stored again"),
    Option("max_pending", "MAX_PENDING", _positive_int,
           "messages waiting for Redis at once; more get a fast 503 with Retry-After"),
    Option("max_buffered_bytes", "MAX_BUFFERED_BYTES", _positive_int,
           "request body bytes held in memory at once, all uploads together; past it, 503"),
    # The worker's: its flags are shorter than the settings' names (--port, not --worker-port).
    Option("worker_port", "WORKER_PORT", _port, "TCP port of the worker's GET /healthz",
           flag="--port"),
    Option("worker_lease_seconds", "WORKER_LEASE_SECONDS", _seconds,
           "seconds a consumer may hold an entry unacknowledged before another one claims it",
           flag="--lease"),
    Option("worker_max_attempts", "WORKER_MAX_ATTEMPTS", _positive_int,
           "deliveries of one entry before it goes to the dead letters", flag="--max-attempts"),
)
_BY_NAME = {option.name: option for option in OPTIONS}
SERVICE_OPTIONS = tuple(option.name for option in OPTIONS if not option.name.startswith("worker_"))

# Every environment variable the service and the worker read. The Kubernetes
# cross-checks use it to catch a manifest that sets a variable nobody reads (usually a
# typo). POD_NAME has no flag: Kubernetes sets it (downward API), the hostname stands in.
ENV_VARS = frozenset({option.env for option in OPTIONS} | {"POD_NAME"})


def build_parser(
    prog: str = "python -m service", names: Sequence[str] = SERVICE_OPTIONS
) -> argparse.ArgumentParser:
    """A parser with a flag for each setting in `names` (the service's by default)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="hello-tornado: answers GET / with 'Hello World'.",
        epilog="Every flag can also be set by the environment variable in brackets.",
    )
    defaults = Settings()
    for option in (_BY_NAME[name] for name in names):
        parser.add_argument(
            option.option_string,
            dest=option.name,
            type=option.parse,
            default=None,
            help=f"{option.help} [{option.env}] (default: {getattr(defaults, option.name)})",
        )
    return parser


def settings_from(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from parsed flags, falling back to `environ`, then to the defaults.

    A bad environment variable raises ConfigError naming the variable.
    """
    environ = os.environ if environ is None else environ
    values = {}
    for option in OPTIONS:
        flag = getattr(args, option.name, None)
        if flag is not None:
            values[option.name] = flag
        elif environ.get(option.env, "") != "":
            try:
                values[option.name] = option.parse(environ[option.env])
            except argparse.ArgumentTypeError as exc:
                raise ConfigError(f"environment variable {option.env}: {exc}") from None
    instance = environ.get("POD_NAME") or socket.gethostname()
    return Settings(instance=instance, **values)


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """The service's settings: `argv` flags over `environ` (default: os.environ).

    Bad flags exit through argparse (status 2, usage printed); a bad environment
    variable raises ConfigError naming the variable.
    """
    return settings_from(build_parser().parse_args(argv), environ)
