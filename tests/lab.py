"""Containers the tests and the benchmark start: labelled, quiet, removed by label.

Notebooks show their docker commands (`tutorial.run("docker ...")`); tests, the benchmark
and the browser run call docker quietly through `docker()` here, and label what they
create, so clean-up can find it: the project's label (what `make clean` removes) and,
under pytest, the session's own (the root conftest.py removes what is left of it when
the session ends, without touching another session's or a learner's containers).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
from collections.abc import Mapping, Sequence

from tutorial.containers import LABEL
from tutorial.net import free_port

# Set by the test session (root conftest.py) and inherited by notebook kernels, so what
# notebook 07's benchmark starts under pytest carries the session's label too.
SESSION_ENV = "HELLO_MICROSERVICES_SESSION"


def session_label() -> str | None:
    session = os.environ.get(SESSION_ENV)
    return f"hello-microservices/session={session}" if session else None


class DockerError(AssertionError):
    """A docker command failed or hung; the message says which and what Docker said.
    (An AssertionError: in a test, a failed docker call reads as a failed check.)"""


def docker(*args: str, timeout: float = 120, check: bool = True,
           env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None,
           ) -> subprocess.CompletedProcess:
    """`docker ARGS...` quietly, stdout and stderr apart (a clean service writes nothing to
    stderr; BuildKit writes its log there). DockerError on failure unless not `check`.
    `env` adds to the environment (DOCKER_BUILDKIT=0, ...), as in tutorial.run."""
    command = f"docker {' '.join(args)}"
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise DockerError(f"`{command}` did not finish within {timeout} s; "
                          "is the Docker engine overloaded?") from None
    if check and done.returncode != 0:
        raise DockerError(f"`{command}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def label_args(*labels: str | None) -> list[str]:
    """`--label` options: the project's, the session's, and `labels`."""
    return [arg for label in (LABEL, session_label(), *labels) if label
            for arg in ("--label", label)]


def host_port(container: str, port: int = 8080) -> int:
    """The 127.0.0.1 port Docker published for the container's `port`."""
    for line in docker("port", container, f"{port}/tcp").stdout.splitlines():
        address, _, published = line.rpartition(":")
        if address == "127.0.0.1":
            return int(published)
    raise RuntimeError(f"{container} publishes no 127.0.0.1 port for {port}/tcp")


def leftovers(*labels: str) -> dict[str, list[str]]:
    """Names of the containers (running or not) and networks carrying all `labels`."""
    filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
    return {
        "containers": sorted(docker("ps", "-a", *filters, "--format", "{{.Names}}")
                             .stdout.split()),
        "networks": sorted(docker("network", "ls", *filters, "--format", "{{.Name}}")
                           .stdout.split()),
    }


def remove(*labels: str) -> dict[str, list[str]]:
    """Remove the containers, then the networks, carrying all `labels`; return what there
    was. Idempotent."""
    found = leftovers(*labels)
    if found["containers"]:
        docker("rm", "-f", "-v", *found["containers"], check=False)
    if found["networks"]:
        docker("network", "rm", *found["networks"], check=False)
    return found


class Lab:
    """What one owner (a benchmark run) starts, removed together by its label, also
    when the process exits; another run's or test's containers are never touched.

        lab = Lab("hello-microservices/bench=1a2b3c")
        port = lab.container("bench-1a2b3c-hello", IMAGE, publish=8080)
        lab.remove_all()
    """

    def __init__(self, label: str) -> None:
        self.label = label
        atexit.register(self._remove_quietly)

    def network(self, name: str) -> None:
        """A user-defined bridge: its containers find each other by name (Docker's DNS)."""
        docker("network", "create", *label_args(self.label), name)

    def container(self, name: str, image: str, *, network: str | None = None,
                  env: Mapping[str, str] | None = None, publish: int | None = None,
                  options: Sequence[str] = (), command: Sequence[str] = ()) -> int | None:
        """`docker run -d` one container; with `publish` (its port), published on
        127.0.0.1 only, on a port free a moment ago, which is returned."""
        argv = ["run", "-d", "--name", name, *label_args(self.label)]
        if network:
            argv += ["--network", network]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        port = None
        if publish is not None:
            port = free_port()
            argv += ["-p", f"127.0.0.1:{port}:{publish}"]
        docker(*argv, *options, image, *command)
        return port

    def leftovers(self) -> dict[str, list[str]]:
        return leftovers(LABEL, self.label)

    def remove_all(self) -> dict[str, list[str]]:
        return remove(LABEL, self.label)

    def _remove_quietly(self) -> None:
        # atexit: never raise while the process exits.
        with contextlib.suppress(OSError, DockerError, subprocess.SubprocessError):
            remove(LABEL, self.label)
