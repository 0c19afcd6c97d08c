"""The event loop the service runs on: asyncio's own, or uvloop where it is installed.

uvloop implements asyncio's event loop on libuv, in C; Tornado runs on whichever asyncio
loop it is given, so nothing else changes. It is not in the image: `make bench` builds
the image once more with it, measures both loops there (EVENT_LOOP=asyncio / uvloop),
and decides by a rule fixed in advance (notebook 07, README: Measured).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from service.config import ConfigError

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class LoopUnavailable(ConfigError):
    """EVENT_LOOP=uvloop, but uvloop is not installed: a setting this process cannot use."""


def loop_factory(choice: str = "asyncio") -> LoopFactory | None:
    """The factory asyncio.Runner needs for `choice`; None means asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        raise LoopUnavailable(
            "EVENT_LOOP=uvloop but uvloop is not installed "
            "(pip install uvloop, or EVENT_LOOP=asyncio)") from None
    return uvloop.new_event_loop
