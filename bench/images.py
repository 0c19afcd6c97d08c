"""The images compared: built with the `docker build` a learner types, sized, started.

Size: `docker image inspect`'s `.Size`, all layers uncompressed (10^6-byte MB), as `docker
images` shows it. Start-up: `docker run` to the first HTTP 200 on GET /, what Docker does
plus what the process does before it answers. The Go server is ready a millisecond after
it starts, so its time is Docker's own: the floor any image pays on this machine.
"""

from __future__ import annotations

import http.client
import os
import statistics
import time
from pathlib import Path

from bench import BENCH_DIR, BUILD_DIR, ROOT
from tests.lab import Lab, docker
from tutorial.containers import images
from tutorial.net import fetch
from tutorial.shell import run

# key -> (tag, title, Dockerfile, build context); Go's context is where `go build` puts it.
IMAGES = {
    "naive": ("hello-tornado:naive", "naive single-stage", "docker/naive.Dockerfile", "."),
    "venv": ("hello-tornado:venv", "multi-stage, venv on slim Python",
             "docker/venv.Dockerfile", "."),
    "production": ("hello-tornado:latest", "production (FROM scratch)", "Dockerfile", "."),
    "go": ("hello-go:bench", "Go net/http (FROM scratch)", "bench/go-hello/Dockerfile",
           "build/bench/go-hello"),
}


def go_binary(program: str) -> Path:
    return BUILD_DIR / "bench" / program / program


def go_build(program: str) -> int:
    """bench/<program> as one static (CGO_ENABLED=0), stripped binary; its size."""
    env = {"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false", "GOPROXY": "off"}
    if "HOME" not in os.environ:  # Go keeps its build cache under $HOME
        env["GOCACHE"] = str(BUILD_DIR / "go-cache")
    out = go_binary(program)
    relative = os.path.relpath(out, BENCH_DIR / program)
    run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", relative, "."],
        cwd=BENCH_DIR / program, env=env, quiet=True)
    return out.stat().st_size


def size(tag: str) -> dict:
    image_id, size_bytes = docker("image", "inspect", "--format", "{{.Id}} {{.Size}}",
                                  tag).stdout.split()
    return {"id": image_id, "bytes": int(size_bytes)}


def build_all() -> dict[str, dict]:
    """Build the Go programs, then every image; key -> {tag, title, id, bytes}."""
    if not (ROOT / "build/wheelhouse").is_dir():
        raise RuntimeError("build/wheelhouse is missing: run `make wheelhouse` (and `make "
                           "base-images` on a machine without a registry) first")
    go_bytes = go_build("go-hello")
    go_build("go-lb")
    base = f"PYTHON_IMAGE={images()['PYTHON_IMAGE']}"
    records = {}
    for key, (tag, title, dockerfile, context) in IMAGES.items():
        args = [] if key == "go" else ["--build-arg", base]
        run(["docker", "build", "-q", "-f", dockerfile, *args, "-t", tag, context],
            cwd=ROOT, quiet=True, timeout=900)
        records[key] = {"tag": tag, "title": title, **size(tag)}
    records["go"]["binary_bytes"] = go_bytes
    return records


def first_200(lab: Lab, name: str, image: str, timeout: float = 30.0) -> float:
    """Seconds from `docker run` until GET / answers 200; the container is removed."""
    began = time.perf_counter()
    port = lab.container(name, image, publish=8080)
    try:
        while time.perf_counter() - began < timeout:
            try:
                if fetch(f"http://127.0.0.1:{port}/", timeout=1.0).status == 200:
                    return time.perf_counter() - began
            except (OSError, http.client.HTTPException):
                pass  # not listening yet: Docker's proxy accepts, then drops the connection
            time.sleep(0.002)
        raise TimeoutError(f"{image}: no HTTP 200 within {timeout} s of `docker run`")
    finally:
        docker("rm", "-f", name, check=False)


def startup(lab: Lab, prefix: str, tags: dict[str, str], runs: int) -> dict[str, dict]:
    """`runs` start-ups of each image (key -> tag), interleaved, so that a busy moment of
    the machine hits every image alike; key -> {'runs_s', 'median_s'}."""
    times: dict[str, list[float]] = {key: [] for key in tags}
    for i in range(runs):
        for key, tag in tags.items():
            times[key].append(round(first_200(lab, f"{prefix}-start-{key}-{i}", tag), 4))
    return {key: {"runs_s": values, "median_s": statistics.median(values)}
            for key, values in times.items()}
