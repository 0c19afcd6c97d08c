"""Docker bits the notebooks share: which images to use, ports, and clean-up by label.

The commands themselves are shown and run with `tutorial.run("docker ...")`, exactly as
a learner would type them; this module only answers questions about the results.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tutorial.net import free_port
from tutorial.shell import run

ROOT = Path(__file__).resolve().parents[2]
LABEL = "app.kubernetes.io/part-of=hello-microservices"
# Set by the test session (root conftest.py) and inherited by notebook kernels: whatever
# a session starts also carries its own label, so its safety net removes only its own.
SESSION_ENV = "HELLO_MICROSERVICES_SESSION"
IMAGE = "hello-tornado:latest"
DEFAULT_IMAGES = {"PYTHON_IMAGE": "python:3.11-slim-bookworm", "REDIS_IMAGE": "redis:7-alpine"}


def session_label() -> str | None:
    session = os.environ.get(SESSION_ENV)
    return f"hello-microservices/session={session}" if session else None


def label_args() -> list[str]:
    """`--label` options for everything we create: the project label, plus the test
    session's when running under pytest."""
    labels = [LABEL, session_label()]
    return [arg for label in labels if label for arg in ("--label", label)]


def images() -> dict[str, str]:
    """The base images to use: env vars, else build/images.env, else the official ones.

    build/images.env is written by scripts/base-images.sh; on a machine that cannot
    reach a registry it names images bootstrapped locally from Debian packages.
    """
    chosen = dict(DEFAULT_IMAGES)
    env_file = ROOT / "build" / "images.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in chosen:
                chosen[key.strip()] = value.strip().strip("'\"")
    for key in chosen:
        if os.environ.get(key):
            chosen[key] = os.environ[key]
    return chosen


class DockerError(RuntimeError):
    """A docker command failed or hung; the message says which and what Docker said."""


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """`docker ARGS...` quietly; its stdout, or DockerError with what Docker said."""
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DockerError(f"`docker {' '.join(args)}` did not finish within {timeout} s; "
                          "is the Docker engine overloaded?") from None
    if check and done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip() or "no output"
        raise DockerError(f"`docker {' '.join(args)}` failed ({done.returncode}): {said}")
    return done.stdout


def inspect(name: str) -> dict:
    """`docker inspect NAME` as a dict (container, image or network)."""
    return json.loads(docker("inspect", name))[0]


def host_port(container: str, port: int = 8080) -> int:
    """The 127.0.0.1 port Docker published for the container's `port`."""
    for line in docker("port", container, f"{port}/tcp").splitlines():
        address, _, published = line.rpartition(":")
        if address == "127.0.0.1":
            return int(published)
    raise RuntimeError(f"{container} publishes no 127.0.0.1 port for {port}/tcp")


def image_exists(reference: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", reference],
                          capture_output=True).returncode == 0


def leftovers(*labels: str) -> dict[str, list[str]]:
    """Names of the containers (running or not) and networks carrying all `labels`."""
    filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
    return {
        "containers": sorted(docker("ps", "-a", *filters, "--format", "{{.Names}}").split()),
        "networks": sorted(docker("network", "ls", *filters, "--format", "{{.Name}}").split()),
    }


def remove(*labels: str, echo: bool = True) -> dict[str, list[str]]:
    """Remove the containers, then the networks, carrying all `labels`. Idempotent.

    With `echo`, the `docker rm`/`docker network rm` commands are shown as they run.
    """
    found = leftovers(*labels)
    commands = []
    if found["containers"]:
        commands.append(["docker", "rm", "-f", "-v", *found["containers"]])
    if found["networks"]:
        commands.append(["docker", "network", "rm", *found["networks"]])
    for command in commands:
        if echo:
            run(command)
        else:
            subprocess.run(command, capture_output=True, timeout=120, check=False)
    return found


class Lab:
    """The containers and networks one notebook starts, removed together by label.

    Each carries the project label (what `make clean` and the test suite's catch-all
    remove) and the notebook's own, so one notebook's clean-up never touches what
    another notebook or a test running at the same time started.

        lab = Lab("05")
        lab.network("nb05")
        port = lab.container("nb05-hello", IMAGE, network="nb05", publish=8080)
        ...
        lab.remove_all()   # also runs when the kernel exits, so a failed cell leaves nothing
    """

    def __init__(self, notebook: str, *, label: str | None = None, echo: bool = True) -> None:
        """`echo`: show each docker command and its output (notebooks) or stay quiet
        (the benchmark). `label` replaces the notebook label for other owners."""
        self.label = label or f"hello-microservices/notebook={notebook}"
        self.echo = echo
        atexit.register(self._remove_quietly)

    def _docker(self, argv: list[str]) -> None:
        if self.echo:
            run(["docker", *argv])
        else:
            docker(*argv)

    def labels(self) -> list[str]:
        """`--label` options for a `docker run` or `docker network create` of this lab."""
        return [*label_args(), "--label", self.label]

    def network(self, name: str) -> None:
        """`docker network create` a user-defined bridge: containers on it find each
        other by name (Docker's embedded DNS), as pods find a Service by name."""
        self._docker(["network", "create", *self.labels(), name])

    def container(
        self,
        name: str,
        image: str,
        *,
        network: str | None = None,
        aliases: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        publish: int | None = None,
        options: Sequence[str] = (),
        command: Sequence[str] = (),
    ) -> int | None:
        """`docker run -d` one labelled container; return the loopback port when `publish`.

        `publish` is the container's port; it is published on 127.0.0.1 only, on a port
        that was free a moment ago, so nothing outside this machine can reach it.
        """
        argv = ["run", "-d", "--name", name, *self.labels()]
        if network:
            argv += ["--network", network]
            for alias in aliases:
                argv += ["--network-alias", alias]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        port = None
        if publish is not None:
            port = free_port()
            argv += ["-p", f"127.0.0.1:{port}:{publish}"]
        self._docker([*argv, *options, image, *command])
        return port

    def leftovers(self) -> dict[str, list[str]]:
        return leftovers(LABEL, self.label)

    def remove_all(self) -> dict[str, list[str]]:
        """`docker rm -f` this lab's containers, then `docker network rm` its networks."""
        return remove(LABEL, self.label, echo=self.echo)

    def _remove_quietly(self) -> None:
        # atexit: never raise while the kernel exits.
        with contextlib.suppress(OSError, DockerError, subprocess.SubprocessError):
            remove(LABEL, self.label, echo=False)
