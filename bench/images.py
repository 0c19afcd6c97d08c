"""The images compared: naive, conventional multi-stage, production, Go yardstick, and
the production image with uvloop added (a variant, to decide on uvloop).

Each is built with the same `docker build` a learner types (cached builds take seconds),
then measured with `docker image inspect`: `.Size` is the bytes of all layers,
uncompressed, as `docker images` shows them (in 10^6-byte MB).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import BENCH_DIR, BUILD_DIR, ROOT, variant
from bench.containers import docker
from tutorial.containers import images as base_images


def go_binary(program: str) -> Path:
    """Where `go build` puts bench/<program>: build/bench/<program>/<program>."""
    return BUILD_DIR / "bench" / program / program


@dataclass(frozen=True)
class ImageSpec:
    key: str
    tag: str
    title: str
    dockerfile: str  # relative to the repo root
    context: str  # relative to the repo root
    python_base: bool = True  # takes --build-arg PYTHON_IMAGE
    required: bool = True  # a failed build fails the run
    # Prepares what the build needs and returns more `docker build` arguments; raises
    # RuntimeError when it cannot (then the image is not built).
    prepare: Callable[[Callable[[str], None]], list[str]] | None = None


SPECS = (
    ImageSpec("naive", "hello-tornado:naive", "naive single-stage",
              "docker/naive.Dockerfile", ".", required=False),
    ImageSpec("venv", "hello-tornado:venv", "multi-stage, venv on slim Python",
              "docker/venv.Dockerfile", ".", required=False),
    ImageSpec("production", "hello-tornado:latest", "production (FROM scratch)",
              "Dockerfile", "."),
    # The production image with uvloop added to its lock (bench/variant.py): measured to
    # decide whether uvloop should be in the lock. Not the image anyone ships.
    ImageSpec("uvloop", "hello-tornado:uvloop", "production + uvloop (a variant)",
              "Dockerfile", ".", required=False, prepare=variant.prepare),
    ImageSpec("go", "hello-go:bench", "Go net/http (FROM scratch)",
              "bench/go-hello/Dockerfile", "build/bench/go-hello", python_base=False),
)


def build_env() -> dict[str, str]:
    """BuildKit when the buildx plugin is there (a learner's Docker), else the classic
    builder: a newer `docker` client without buildx refuses DOCKER_BUILDKIT=1."""
    env = dict(os.environ)
    if "DOCKER_BUILDKIT" not in env:
        has_buildx = subprocess.run(["docker", "buildx", "version"],
                                    capture_output=True).returncode == 0
        env["DOCKER_BUILDKIT"] = "1" if has_buildx else "0"
    return env


def build_go_binary(log: Callable[[str], None], program: str = "go-hello") -> int:
    """`go build` bench/<program> on the host: static (CGO_ENABLED=0), stripped. Its size."""
    out = go_binary(program)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false", "GOPROXY": "off"}
    if "HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(BUILD_DIR / "go-cache")
    argv = ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), "."]
    log(f"$ (cd bench/{program} && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' "
        f"-o ../../build/bench/{program}/{program} .)")
    done = subprocess.run(argv, cwd=BENCH_DIR / program, env=env, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"go build failed ({done.returncode}):\n{done.stderr.strip()}")
    return out.stat().st_size


def inspect(tag: str) -> dict | None:
    """{'id', 'bytes'} of a local image, or None when there is no such image."""
    out = docker("image", "inspect", "--format", "{{.Id}} {{.Size}}", tag, check=False)
    if not out.strip():
        return None
    image_id, size = out.split()
    return {"id": image_id, "bytes": int(size)}


def build(spec: ImageSpec, log: Callable[[str], None], env: dict[str, str]) -> dict:
    """Build one image; its record for bench.json (with 'error' when the build failed)."""
    record = {"tag": spec.tag, "title": spec.title, "dockerfile": spec.dockerfile}
    error = _build(spec, log, env, record)
    if error:
        if spec.required:
            raise RuntimeError(f"cannot build {spec.tag}: {error}")
        log(f"  skipped {spec.tag}: {error.splitlines()[0]}")
        return {**record, "error": error}
    record.update(inspect(spec.tag) or {})
    return record


def _build(spec: ImageSpec, log: Callable[[str], None], env: dict[str, str],
           record: dict) -> str | None:
    """Run `docker build` for `spec` (its time into `record`); what went wrong, or None."""
    if not (ROOT / spec.dockerfile).is_file():
        return f"{spec.dockerfile} does not exist"
    argv = ["docker", "build", "-q", "-f", spec.dockerfile]
    if spec.python_base:
        argv += ["--build-arg", f"PYTHON_IMAGE={base_images()['PYTHON_IMAGE']}"]
    if spec.prepare is not None:
        try:
            argv += spec.prepare(log)
        except RuntimeError as exc:  # e.g. no package index: the rest of the run goes on
            return str(exc)
    argv += ["-t", spec.tag, spec.context]
    log("$ " + " ".join(a if " " not in a else repr(a) for a in argv))
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    record["build_s"] = round(time.perf_counter() - began, 2)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        return f"docker build failed ({done.returncode}):\n{tail}"
    return None


def build_all(log: Callable[[str], None]) -> dict[str, dict]:
    """Build every image in SPECS (the Go binary first); records by key."""
    missing = [p for p in ("build/wheelhouse",) if not (ROOT / p).is_dir()]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} is missing: run `make wheelhouse` "
                           "(and `make base-images` on a machine without a registry) first")
    if shutil.which("go") is None:
        raise RuntimeError("`go` is not installed; bench.provision.ensure_tools() installs it")
    go_bytes = build_go_binary(log)
    build_go_binary(log, "go-lb")
    env = build_env()
    records = {}
    for spec in SPECS:
        records[spec.key] = build(spec, log, env)
    records["go"]["binary_bytes"] = go_bytes
    return records
