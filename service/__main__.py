"""`python -m service`: the service as a process, as it runs in a container."""

from __future__ import annotations

import asyncio
import logging
import sys

from service.config import ConfigError, load_settings
from service.logs import setup_logging
from service.server import serve


def main(argv: list[str] | None = None) -> int:
    try:
        settings = load_settings(argv)
    except ConfigError as exc:  # a bad environment variable (bad flags exit in argparse)
        print(f"python -m service: error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        with asyncio.Runner() as runner:
            runner.run(serve(settings))
    except OSError as exc:  # typically: the port is taken
        logging.getLogger("service").error(
            "cannot listen on %s:%d: %s", settings.address, settings.port, exc.strerror or exc
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
