"""linux/arm64: the production image built for arm64 with BuildKit, and run.

Apple Silicon Macs, AWS Graviton and Raspberry Pi run arm64. On an x86_64 machine (this
project's CI) the build and the container run under qemu-user emulation
(scripts/binfmt.sh), so every RUN step, the slimming step's trace and its chrooted
check, and the service itself execute arm64 code. The image is built the way
`make image PLATFORM=linux/arm64` builds it (scripts/platform-image.sh); `make test`
first prepares the arm64 builder base (`make base-images-arm64`: where no registry
answers, a ~7 min debootstrap, once), so here BuildKit's cache makes the build quick
after the first one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path

import pytest

from tests import lab, prereq
from tests.lab import host_port, label_args
from tutorial.net import fetch, wait_for_http
from tutorial.prereqs import docker_problem

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = "linux/arm64"
TAG = "hello-tornado:pytest-arm64"
SIZE_BUDGET = 20_000_000  # bytes, the same budget as the native image
HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]


# Under emulation a container takes longer: twice the usual bound per docker command.
docker = partial(lab.docker, timeout=120)


def arm64_problem() -> str | None:
    """None when this engine can build and run linux/arm64, else why not and what to do."""
    problem = docker_problem()
    if problem:
        return problem
    if docker("buildx", "version", check=False).returncode != 0:
        return ("building for linux/arm64 needs BuildKit's buildx plugin: Docker Desktop, "
                "or the docker-buildx package.")
    platforms = docker("buildx", "inspect", check=False).stdout
    if PLATFORM not in platforms:
        return ("this Docker engine cannot run linux/arm64 binaries: register the qemu-user "
                "emulator once with `sudo bash scripts/binfmt.sh` (Docker Desktop has it).")
    return None


@pytest.fixture(scope="module")
def image() -> str:
    prereq.need("arm64", arm64_problem())
    env = {**os.environ, "PYTHON": sys.executable, "PIP": f"{sys.executable} -m pip"}
    began = time.monotonic()
    build = subprocess.run(["bash", "scripts/platform-image.sh", PLATFORM, TAG], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=2400)
    assert build.returncode == 0, f"the arm64 build failed:\n{build.stdout}{build.stderr}"
    print(f"arm64 image built in {time.monotonic() - began:.0f} s")
    yield TAG
    docker("rmi", TAG, check=False)


@pytest.fixture
def containers(image):
    started: list[str] = []

    def run(*options: str, image_args: tuple[str, ...] = (), detach: bool = True) -> str:
        name = f"hm-arm64-{uuid.uuid4().hex[:10]}"
        started.append(name)
        mode = ["-d"] if detach else []
        return docker("run", *mode, "--name", name, "--platform", PLATFORM, *label_args(),
                      *options, image, *image_args, timeout=180).stdout

    yield run
    for name in started:
        docker("rm", "-f", "-v", name, check=False)


def test_image_config_says_linux_arm64(image):
    config = json.loads(docker("image", "inspect", image).stdout)[0]
    assert (config["Os"], config["Architecture"]) == ("linux", "arm64")
    assert config["Config"]["User"] == "65534:65534"


def test_arm64_image_fits_the_size_budget(image):
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
    assert size <= SIZE_BUDGET, f"{image} is {size:,} bytes; the budget is {SIZE_BUDGET:,}"


def test_runs_arm64_code(containers):
    """The interpreter in the image is an aarch64 binary: the kernel reports the machine
    the process runs as (under qemu-user the emulated one)."""
    machine = containers("--rm", "--entrypoint", "/usr/local/bin/python", *HARDENED,
                         image_args=("-c", "import os; print(os.uname().machine)"),
                         detach=False)
    assert machine.strip() == "aarch64"


def test_answers_hello_world_and_stops_cleanly(containers):
    cid = containers("-p", "127.0.0.1::8080", "--user", "65534:65534", *HARDENED).strip()
    url = f"http://127.0.0.1:{host_port(cid)}"
    wait_for_http(url + "/healthz", timeout=90)  # emulated start-up is several times slower
    reply = fetch(url + "/")
    assert (reply.status, reply.text) == (200, "Hello World")
    docker("stop", cid, timeout=60)
    state = json.loads(docker("inspect", "-f", "{{json .State}}", cid).stdout)
    assert state["ExitCode"] == 0
    logs = docker("logs", cid)
    assert logs.stderr == "" and "shutdown complete" in logs.stdout


def test_make_image_platform_keeps_the_native_tag():
    """The classic image store keeps one platform per tag: an arm64 build must not
    replace the hello-tornado:latest a learner runs."""
    plan = subprocess.run(["make", "-n", "image", "PLATFORM=linux/arm64"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    assert "scripts/platform-image.sh linux/arm64" in plan
    tags = plan.split()
    assert "hello-tornado:latest-arm64" in tags
    assert "hello-tornado:latest" not in tags
