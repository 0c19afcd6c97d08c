"""Settings: environment variables first, command-line flags override them.

Containers and Kubernetes configure a process through its environment; people at a
terminal reach for flags. Both end up in one immutable `Settings`.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Every environment variable the service reads. The Kubernetes cross-checks use this
# list to catch a manifest that sets a variable nobody reads (usually a typo).
ENV_VARS = frozenset(
    {
        "PORT",
        "ADDRESS",
        "REDIS_URL",
        "QUEUE_KEY",
        "MAX_BODY_BYTES",
        "POD_NAME",
        "SHUTDOWN_TIMEOUT",
        "LOG_LEVEL",
        "IDLE_TIMEOUT",
        "BODY_TIMEOUT",
        "DEDUPE_SECONDS",
        "MAX_PENDING",
        "WORKER_PORT",
        "WORKER_LEASE_SECONDS",
        "WORKER_MAX_ATTEMPTS",
    }
)


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
    # `python -m service.worker` only: its /healthz port, how long a consumer may hold
    # an entry before another one claims it, and deliveries before the dead letters.
    worker_port: int = 8081
    worker_lease_seconds: float = 15.0
    worker_max_attempts: int = 5


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a whole number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {value}")
    return value


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise argparse.ArgumentTypeError(
            f"log level must be one of DEBUG, INFO, WARNING, ERROR, got {text!r}"
        )
    return level


# flag name -> (environment variable, parser, help)
_OPTIONS = {
    "port": ("PORT", _port, "TCP port to listen on (0 picks a free one)"),
    "address": ("ADDRESS", str, "address to bind; 0.0.0.0 in a container, 127.0.0.1 on a laptop"),
    "redis_url": ("REDIS_URL", str, "Redis to push received messages to"),
    "queue_key": ("QUEUE_KEY", str, "Redis stream that holds the queue"),
    "max_body_bytes": ("MAX_BODY_BYTES", _positive_int, "largest accepted request body"),
    "shutdown_timeout": (
        "SHUTDOWN_TIMEOUT",
        _positive_float,
        "seconds to let in-flight requests finish after SIGTERM",
    ),
    "log_level": ("LOG_LEVEL", _log_level, "DEBUG, INFO, WARNING or ERROR"),
    "idle_timeout": (
        "IDLE_TIMEOUT",
        _positive_float,
        "seconds a client may take to send a request's headers, or stay idle between requests",
    ),
    "body_timeout": (
        "BODY_TIMEOUT", _positive_float, "seconds a client may take to send a request body"),
    "dedupe_seconds": (
        "DEDUPE_SECONDS",
        _positive_int,
        "seconds a message id is remembered: a repeat within them is not stored again",
    ),
    "max_pending": (
        "MAX_PENDING",
        _positive_int,
        "messages waiting for Redis at once; more get a fast 503 with Retry-After",
    ),
    "worker_port": ("WORKER_PORT", _port, "TCP port of the worker's GET /healthz"),
    "worker_lease_seconds": (
        "WORKER_LEASE_SECONDS",
        _positive_float,
        "seconds a consumer may hold an entry unacknowledged before another one claims it",
    ),
    "worker_max_attempts": (
        "WORKER_MAX_ATTEMPTS",
        _positive_int,
        "deliveries of one entry before it goes to the dead letters",
    ),
}
# The worker's flags are shorter than its settings' names (--port, not --worker-port).
_FLAGS = {"worker_port": "--port", "worker_lease_seconds": "--lease",
          "worker_max_attempts": "--max-attempts"}
SERVICE_OPTIONS = tuple(name for name in _OPTIONS if name not in _FLAGS)


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
    for name in names:
        env, kind, text = _OPTIONS[name]
        parser.add_argument(
            _FLAGS.get(name, "--" + name.replace("_", "-")),
            dest=name,
            type=kind,
            default=None,
            help=f"{text} [{env}] (default: {getattr(defaults, name)})",
        )
    return parser


def settings_from(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from parsed flags, falling back to `environ`, then to the defaults.

    A bad environment variable raises ConfigError naming the variable.
    """
    environ = os.environ if environ is None else environ
    values = {}
    for name, (env, kind, _) in _OPTIONS.items():
        flag = getattr(args, name, None)
        if flag is not None:
            values[name] = flag
        elif environ.get(env, "") != "":
            try:
                values[name] = kind(environ[env])
            except argparse.ArgumentTypeError as exc:
                raise ConfigError(f"environment variable {env}: {exc}") from None
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
