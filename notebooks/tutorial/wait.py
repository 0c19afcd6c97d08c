"""One way to wait for something: poll a predicate until it holds or time runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str,
               interval: float = 0.05) -> T:
    """Call `predicate` until it returns something truthy, and return that.

    Raises TimeoutError naming `what` after `timeout` seconds. The predicate is always
    called at least once more after the deadline, so a slow machine is not failed by a
    check that would have passed. Exceptions from the predicate propagate: catch the ones
    that mean "not yet" inside it.
    """
    deadline = time.monotonic() + timeout
    while True:
        expired = time.monotonic() >= deadline
        if result := predicate():
            return result
        if expired:
            raise TimeoutError(f"not within {timeout:g} s: {what}")
        time.sleep(interval)
