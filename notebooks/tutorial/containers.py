"""Docker facts the notebooks share: which images to use, how the service runs, and
BuildKit's log read back one line per step.

Notebooks show and run their commands with `tutorial.run("docker ...")`, exactly as a
learner would type them. The quiet docker calls and labelled containers of the tests and
the benchmark are in tests/lab.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABEL = "app.kubernetes.io/part-of=hello-microservices"
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


def image_exists(reference: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", reference],
                          capture_output=True).returncode == 0


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
