"""The production image (Dockerfile): small, non-root, read-only, no shell, stops cleanly.

The image is built once per session with the docker CLI, exactly as a learner would
(`docker build --build-arg PYTHON_IMAGE=... .`), from the base image that
scripts/base-images.sh chose for this machine. Every container and network made here
carries the project label and is removed by a fixture finalizer, also after a failure;
ports are published on 127.0.0.1 only, on a port Docker picks free.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.lab import docker, host_port, label_args
from tests.prereq import need
from tutorial.containers import images
from tutorial.net import fetch, wait_for_http
from tutorial.prereqs import docker_problem

ROOT = Path(__file__).resolve().parents[1]
TAG = "hello-tornado:pytest"
SIZE_BUDGET = 20_000_000  # bytes, as `docker image inspect -f '{{.Size}}'` reports
NOBODY = "65534:65534"
HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--user", NOBODY]


@pytest.fixture(scope="session")
def image() -> str:
    need("docker", docker_problem())
    # Both scripts are idempotent and quick when their results exist (`make test`
    # runs them first); here they make `pytest tests/test_image.py` work on its own.
    if not (ROOT / "build" / "images.env").exists():
        subprocess.run(["bash", "scripts/base-images.sh"], cwd=ROOT, check=True)
    subprocess.run(["bash", "scripts/wheelhouse.sh"], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHON": sys.executable}, stdout=subprocess.DEVNULL)
    built = docker("build", "--build-arg", f"PYTHON_IMAGE={images()['PYTHON_IMAGE']}",
                   "-t", TAG, str(ROOT), timeout=900)
    BUILD_OUTPUT["buildkit"] = built.stdout + built.stderr
    yield TAG
    docker("rmi", TAG, check=False)


BUILD_OUTPUT: dict[str, str] = {}  # what `docker build` printed, by builder


@pytest.fixture
def containers(image):
    """Factory: start a labelled container from the image; all removed afterwards."""
    started: list[str] = []

    def run(*options: str, image_args: tuple[str, ...] = ()) -> str:
        name = f"hm-test-{uuid.uuid4().hex[:10]}"
        started.append(name)  # before `run`: a failed start may still leave a container
        docker("run", "-d", "--name", name, *label_args(), *options, image, *image_args)
        return name

    yield run
    for name in started:
        docker("rm", "-f", "-v", name, check=False)


@pytest.fixture
def network(image):
    name = f"hm-test-{uuid.uuid4().hex[:10]}"
    docker("network", "create", *label_args(), name)
    yield name
    for cid in docker("ps", "-aq", "--filter", f"network={name}").stdout.split():
        docker("rm", "-f", "-v", cid, check=False)
    docker("network", "rm", name, check=False)


def get(url: str, data: bytes | None = None) -> tuple[int, str]:
    reply = fetch(url, "POST" if data is not None else "GET", data,
                  {"Content-Type": "text/plain"} if data is not None else None)
    return reply.status, reply.text


def serve(containers, *options: str) -> tuple[str, str]:
    name = containers("-p", "127.0.0.1::8080", *options)
    url = f"http://127.0.0.1:{host_port(name)}"
    wait_for_http(url + "/healthz", timeout=15)
    return name, url


def logs(container: str) -> tuple[str, str]:
    done = docker("logs", container)
    return done.stdout, done.stderr


def test_image_fits_the_size_budget(image):
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
    assert size <= SIZE_BUDGET, f"{image} is {size:,} bytes; the budget is {SIZE_BUDGET:,}"


def test_image_runs_as_nobody_and_is_labelled(image):
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", image).stdout)
    assert config["User"] == NOBODY
    assert config["Labels"]["app.kubernetes.io/part-of"] == "hello-microservices"
    for key in ("title", "description"):
        assert config["Labels"].get(f"org.opencontainers.image.{key}")
    assert config["ExposedPorts"] == {"8080/tcp": {}}


def test_serves_read_only_without_capabilities(containers):
    name, url = serve(containers, *HARDENED)
    assert get(url + "/") == (200, "Hello World")
    status, body = get(url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    stdout, stderr = logs(name)
    assert stderr == "", f"the service wrote to stderr:\n{stderr}"
    assert "Traceback" not in stdout and "Warning:" not in stdout


def test_has_no_shell(image, containers):
    with pytest.raises(AssertionError, match="/bin/sh"):
        containers("--entrypoint", "/bin/sh", image_args=("-c", "true"))


def test_docker_stop_is_fast_and_clean(containers):
    name, _ = serve(containers, *HARDENED)
    # A 30 s grace period: a service that ignored SIGTERM would be killed after 30 s, so
    # a bound of 10 s tells the two apart without failing a slow, loaded machine.
    started = time.monotonic()
    docker("stop", "-t", "30", name, timeout=60)
    took = time.monotonic() - started
    state = json.loads(docker("inspect", "-f", "{{json .State}}", name).stdout)
    assert state["ExitCode"] == 0, f"exit code {state['ExitCode']} after SIGTERM"
    assert took < 10, f"docker stop took {took:.2f} s: SIGTERM is not handled"
    stdout, stderr = logs(name)
    assert stderr == "", f"stderr is not empty:\n{stderr}"
    assert "shutdown complete" in stdout


def test_enqueues_into_redis_by_service_name(containers, network):
    """The slim image's Redis path: DNS name, connection, hiredis parsing."""
    redis_image = images()["REDIS_IMAGE"]
    redis = f"redis-{uuid.uuid4().hex[:6]}"
    docker("run", "-d", "--name", redis, *label_args(), "--network", network, redis_image)
    name, url = serve(containers, *HARDENED, "--network", network,
                      "-e", f"REDIS_URL=redis://{redis}:6379/0")
    wait_for_http(url + "/readyz", timeout=15)  # Redis may still be starting
    status, body = get(url + "/enqueue", b"hello from the image")
    assert status == 202, body
    queued = docker("exec", redis, "redis-cli", "XRANGE", "hello:queue", "-", "+").stdout
    assert json.loads(body)["id"] in queued
    assert logs(name)[1] == ""


def test_docker_build_uses_buildkit_where_buildx_is_installed(image):
    """What learners have (Docker Desktop, Engine >= 23 with buildx): BuildKit, whose
    steps read `#8 [builder 4/7] RUN ...`, not the legacy builder's `Step 6/16`."""
    buildx = docker("buildx", "version", check=False)
    need("docker", "this docker client has no buildx plugin: `docker build` uses the legacy "
         "builder (install docker-buildx to get BuildKit)" if buildx.returncode else None)
    output = BUILD_OUTPUT["buildkit"]
    assert "legacy builder" not in output and "Step 1/" not in output
    assert "[builder " in output


def test_legacy_builder_builds_the_same_image(image):
    """The Dockerfile stays buildable by the classic builder (DOCKER_BUILDKIT=0), which
    older engines and clients without buildx use; the result is the same image."""
    legacy = f"{TAG}-legacy"
    done = docker("build", "--build-arg", f"PYTHON_IMAGE={images()['PYTHON_IMAGE']}",
                  "-t", legacy, str(ROOT), env={"DOCKER_BUILDKIT": "0"}, timeout=900,
                  check=False)
    try:
        assert done.returncode == 0, f"legacy build failed:\n{done.stdout}{done.stderr}"
        assert "Step 1/" in done.stdout  # it really was the classic builder
        ours, theirs = (json.loads(docker("image", "inspect", ref).stdout)[0]
                        for ref in (image, legacy))
        for key in ("User", "Entrypoint", "Env", "ExposedPorts", "Labels"):
            assert ours["Config"][key] == theirs["Config"][key], key
        assert abs(ours["Size"] - theirs["Size"]) < 0.01 * ours["Size"]
    finally:
        docker("rmi", legacy, check=False)
