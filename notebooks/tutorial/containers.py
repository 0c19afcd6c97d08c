"""Docker bits the notebooks, tests and the benchmark share: which images to use, ports,
and clean-up by label.

Notebooks show and run their commands with `tutorial.run("docker ...")`, exactly as a
learner would type them; this module otherwise answers questions about the results.
`Lab` is the benchmark's and the tests' own: labelled containers, removed quietly.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tutorial.net import free_port

ROOT = Path(__file__).resolve().parents[2]
LABEL = "app.kubernetes.io/part-of=hello-microservices"
# Set by the test session (root conftest.py) and inherited by notebook kernels: whatever
# a session starts also carries its own label, so its safety net removes only its own.
SESSION_ENV = "HELLO_MICROSERVICES_SESSION"
IMAGE = "hello-tornado:latest"
DEFAULT_IMAGES = {"PYTHON_IMAGE": "python:3.11-slim-bookworm", "REDIS_IMAGE": "redis:7-alpine"}
# How the service's container runs everywhere in the tutorial, written once for
# `docker run`: the same settings as compose.yaml's `x-hardened` block (tests/test_compose.py
# keeps the two equal) and k8s/'s securityContext and resources.
HARDENED = (
    "--user", "65534:65534",            # nobody:nogroup, numeric so it can be verified
    "--read-only",                      # the service writes no file
    "--cap-drop", "ALL",                # it needs no Linux capability
    "--security-opt", "no-new-privileges",  # no setuid escalation
    "--memory", "128m", "--cpus", "1",
)


def session_label() -> str | None:
    session = os.environ.get(SESSION_ENV)
    return f"hello-microservices/session={session}" if session else None


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


def remove(*labels: str) -> dict[str, list[str]]:
    """Quietly remove the containers, then the networks, carrying all `labels`; what
    there was. Idempotent."""
    found = leftovers(*labels)
    if found["containers"]:
        docker("rm", "-f", "-v", *found["containers"], check=False)
    if found["networks"]:
        docker("network", "rm", *found["networks"], check=False)
    return found


class Lab:
    """The containers and networks one owner (a benchmark run) starts, removed together
    by label, also when the process exits.

    Each carries the project label (what `make clean` and the test suite's catch-all
    remove) and the owner's own, so one owner's clean-up never touches what another run
    or test started at the same time.

        lab = Lab("hello-microservices/bench=1a2b3c")
        port = lab.container("bench-1a2b3c-hello", IMAGE, publish=8080)
        ...
        lab.remove_all()
    """

    def __init__(self, label: str) -> None:
        self.label = label
        atexit.register(self._remove_quietly)

    def labels(self) -> list[str]:
        """`--label` options for a `docker run` or `docker network create` of this lab."""
        labels = (LABEL, session_label(), self.label)
        return [arg for label in labels if label for arg in ("--label", label)]

    def network(self, name: str) -> None:
        """`docker network create` a user-defined bridge: containers on it find each
        other by name (Docker's embedded DNS), as pods find a Service by name."""
        docker("network", "create", *self.labels(), name)

    def container(
        self,
        name: str,
        image: str,
        *,
        network: str | None = None,
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
        """`docker rm -f` this lab's containers, then `docker network rm` its networks."""
        return remove(LABEL, self.label)

    def _remove_quietly(self) -> None:
        # atexit: never raise while the kernel exits.
        with contextlib.suppress(OSError, DockerError, subprocess.SubprocessError):
            remove(LABEL, self.label)


# ------------------------------------------------------------------ build logs

# BuildKit's plain progress: "#9 [builder 5/7] RUN pip ...", then "#9 CACHED" or
# "#9 DONE 3.2s"; the lines between are the step's own output.
_STEP = re.compile(r"^#(\d+) (\[(?!internal\]|auth\])[^\]]+\] .*)$")
_STATUS = re.compile(r"^#(\d+) (CACHED|DONE|ERROR)\b")


def build_steps(log: str) -> list[tuple[str, bool]]:
    """(step, taken from the cache?) for each Dockerfile step in a BuildKit plain log,
    in Dockerfile order: `[builder 5/7] RUN ...` and whether BuildKit said CACHED."""
    steps: dict[str, str] = {}
    cached: set[str] = set()
    for line in log.splitlines():
        if match := _STEP.match(line):
            steps.setdefault(match.group(1), " ".join(match.group(2).split()))
        elif (match := _STATUS.match(line)) and match.group(2) == "CACHED":
            cached.add(match.group(1))

    def order(item: tuple[str, str]) -> tuple[int, int, str, int]:
        # "[builder 5/8] ...", "[stage-1 1/1] ..." (an unnamed stage), "[2/5] ..." (the
        # only stage). BuildKit runs steps in parallel, so sort: named stages first (in
        # this project they are builders), then unnamed ones by number, then by step.
        match = re.match(r"\[(?:(\S+) )?(\d+)/\d+\]", item[1])
        stage, step = (match.group(1) or "", int(match.group(2))) if match else ("", 0)
        unnamed = re.fullmatch(r"stage-(\d+)", stage)
        return (1 if unnamed or not stage else 0, int(unnamed.group(1)) if unnamed else 0,
                stage, step)

    ordered = sorted(steps.items(), key=order)
    return [(text, number in cached) for number, text in ordered]


def print_build_steps(log: str, width: int = 96) -> list[tuple[str, bool]]:
    """Print one line per Dockerfile step: `CACHED` where BuildKit reused its result,
    `built` where it ran it, nothing for a FROM (the base image is used as it is)."""
    steps = build_steps(log)
    for text, cached in steps:
        shown = text if len(text) <= width else text[: width - 3] + "..."
        status = "CACHED" if cached else "" if "] FROM " in text else "built"
        print(f"{status:<7}{shown}")
    return steps
