"""Docker bits the notebooks share: which images to use, ports, and clean-up by label.

The commands themselves are shown and run with `tutorial.run("docker ...")`, exactly as
a learner would type them; this module only answers questions about the results.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABEL = "app.kubernetes.io/part-of=hello-microservices"
IMAGE = "hello-tornado:latest"
DEFAULT_IMAGES = {"PYTHON_IMAGE": "python:3.11-slim-bookworm", "REDIS_IMAGE": "redis:7-alpine"}


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


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def inspect(name: str) -> dict:
    """`docker inspect NAME` as a dict (container, image or network)."""
    return json.loads(_docker("inspect", name))[0]


def host_port(container: str, port: int = 8080) -> int:
    """The 127.0.0.1 port Docker published for the container's `port`."""
    for line in _docker("port", container, f"{port}/tcp").splitlines():
        address, _, published = line.rpartition(":")
        if address == "127.0.0.1":
            return int(published)
    raise RuntimeError(f"{container} publishes no 127.0.0.1 port for {port}/tcp")


def image_exists(reference: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", reference],
                          capture_output=True).returncode == 0


def leftovers(label: str = LABEL) -> dict[str, list[str]]:
    """Containers and networks carrying `label` (running or not)."""
    return {
        "containers": _docker("ps", "-aq", "--filter", f"label={label}").split(),
        "networks": _docker("network", "ls", "-q", "--filter", f"label={label}").split(),
    }


def cleanup(label: str = LABEL) -> dict[str, int]:
    """Remove every container, then every network, carrying `label`. Idempotent."""
    found = leftovers(label)
    if found["containers"]:
        _docker("rm", "-f", "-v", *found["containers"])
    for network in found["networks"]:
        _docker("network", "rm", network)
    return {kind: len(ids) for kind, ids in found.items()}
