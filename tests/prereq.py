"""What the tests share about prerequisites (the docker CLI: tests/lab.py).

A missing prerequisite skips a test with the reason, unless TUTORIAL_REQUIRE (set by CI
to what CI provides, e.g. "docker,redis,arm64") promises it: then it fails, so CI cannot
go green by skipping what it provides.
"""

from __future__ import annotations

import pytest

from tutorial.prereqs import promised


def need(name: str, problem: str | None) -> None:
    """Skip (or fail, where promised) when `problem` says what is missing (None: nothing)."""
    if problem is None:
        return
    if name in promised():
        pytest.fail(f"TUTORIAL_REQUIRE promises {name}, but {problem}")
    pytest.skip(problem)
