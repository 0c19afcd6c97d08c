"""What the tests share about prerequisites and the docker CLI.

A missing prerequisite skips a test with the reason, unless TUTORIAL_REQUIRE (set by CI
to what CI provides, e.g. "docker,redis,arm64") promises it: then it fails, so CI cannot
go green by skipping what it provides.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

import pytest

from tutorial.containers import LABEL, session_label
from tutorial.prereqs import promised


def need(name: str, problem: str | None) -> None:
    """Skip (or fail, where promised) when `problem` says what is missing (None: nothing)."""
    if problem is None:
        return
    if name in promised():
        pytest.fail(f"TUTORIAL_REQUIRE promises {name}, but {problem}")
    pytest.skip(problem)


def docker(*args: str, timeout: float = 60, check: bool = True,
           env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None,
           ) -> subprocess.CompletedProcess:
    """`docker ARGS...` with its output captured; AssertionError with it on failure.

    The tests' one way to call docker. Not tutorial.containers.docker, which returns
    stdout alone: tests assert on stderr apart (a clean service writes nothing there;
    BuildKit writes its build log there) and on exit statuses. `env` adds to the
    environment (DOCKER_BUILDKIT=0, HELLO_IMAGE=...), as in tutorial.shell.run.
    """
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({done.returncode}):\n"
                             f"{done.stdout}{done.stderr}")
    return done


def label_args() -> list[str]:
    """`--label` options for what a test creates: the project's label and the session's, so
    the session's safety net (conftest.py) removes it whatever happens."""
    labels = [LABEL, session_label()]
    return [arg for label in labels if label for arg in ("--label", label)]


def host_port(container: str, port: int = 8080) -> int:
    """The 127.0.0.1 port Docker published for the container's `port`."""
    for line in docker("port", container, f"{port}/tcp").stdout.splitlines():
        address, _, published = line.rpartition(":")
        if address == "127.0.0.1":
            return int(published)
    raise RuntimeError(f"{container} publishes no 127.0.0.1 port for {port}/tcp")
