"""tutorial.wait_until: returns the predicate's value, or names what did not happen."""

import itertools
import time

import pytest

from tutorial import wait_until


def test_returns_the_first_truthy_value():
    calls = itertools.count(1)
    assert wait_until(lambda: next(calls) >= 3 and "ready", 5, "the third call") == "ready"


def test_times_out_naming_what_it_waited_for():
    with pytest.raises(TimeoutError, match=r"not within 0\.1 s: the impossible"):
        wait_until(lambda: False, 0.1, "the impossible", interval=0.01)


def test_checks_once_more_after_the_deadline():
    # The first call outlasts the whole timeout; the second, after the deadline, counts.
    calls = itertools.count(1)

    def slow() -> bool:
        time.sleep(0.2)
        return next(calls) == 2

    assert wait_until(slow, 0.1, "a second look", interval=0) is True
