"""compose.yaml: the hardening flags written once, loopback-only ports, labels, health gating.

The file is read as YAML (no Docker needed); `docker compose config` then checks that
Compose itself accepts it, where the plugin is installed. Notebook 04 runs it for real.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.lab import SESSION_ENV
from tests.prereq import need
from tutorial.containers import HARDENED
from tutorial.prereqs import docker_problem

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
PART_OF = ("app.kubernetes.io/part-of", "hello-microservices")


def docker_run_flags(argv: tuple[str, ...]) -> dict:
    """HARDENED's `docker run` flags as the compose keys that say the same."""
    keys = {"--user": "user", "--cap-drop": "cap_drop", "--security-opt": "security_opt",
            "--memory": "mem_limit", "--cpus": "cpus"}
    flags: dict = {}
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag == "--read-only":
            flags["read_only"] = True
        elif flag in keys:
            value = args.pop(0)
            key = keys[flag]
            if key in ("cap_drop", "security_opt"):
                flags.setdefault(key, []).append(value)
            else:
                flags[key] = float(value) if key == "cpus" else value
        else:
            raise AssertionError(f"HARDENED has a flag this test does not know: {flag}")
    return flags


def compose_flags(service: dict) -> dict:
    opts = [o.removesuffix(":true") for o in service.get("security_opt", [])]
    return {"user": service.get("user"), "read_only": service.get("read_only"),
            "cap_drop": service.get("cap_drop"), "security_opt": opts,
            "mem_limit": service.get("mem_limit"), "cpus": float(service.get("cpus", 0))}


@pytest.mark.parametrize("name", ["hello", "worker"])
def test_the_service_runs_with_the_same_flags_as_docker_run(name):
    assert compose_flags(SERVICES[name]) == docker_run_flags(HARDENED)


def test_every_published_port_is_on_loopback_only():
    published = [(name, port) for name, svc in SERVICES.items() for port in svc.get("ports", [])]
    assert published, "notebook 04 needs the service and Redis published on 127.0.0.1"
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_the_service_waits_for_a_healthy_redis():
    assert SERVICES["redis"]["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    for name in ("hello", "worker"):
        assert SERVICES[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_everything_compose_creates_carries_the_labels():
    labelled = [*SERVICES.values(), COMPOSE["networks"]["default"]]
    for thing in labelled:
        labels = thing["labels"]
        assert labels[PART_OF[0]] == PART_OF[1]
        assert labels["hello-microservices/session"] == f"${{{SESSION_ENV}:-}}"


def test_the_worker_is_part_of_up_with_a_healthcheck_on_its_healthz():
    worker = SERVICES["worker"]
    assert "profiles" not in worker, "`docker compose up --scale worker=2` must start it"
    assert worker["entrypoint"] == ["/usr/local/bin/python", "-m", "service.worker"]
    assert "ports" not in worker  # nothing to publish: only the healthcheck asks
    check = worker["healthcheck"]["test"]
    assert check[:3] == ["CMD", "/usr/local/bin/python", "-c"]  # no shell, no curl inside
    assert "('127.0.0.1', 8081)" in check[3] and "/healthz" in check[3]
    # The same probe as hello's, on the worker's port.
    assert check[3] == SERVICES["hello"]["healthcheck"]["test"][3].replace("8080", "8081")


def test_redis_is_bounded_and_refuses_rather_than_evicts():
    command = SERVICES["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--maxmemory-policy"] == "noeviction" and options["--maxmemory"]
    assert options["--protected-mode"] == "no"  # reachable from the other containers


def test_compose_accepts_the_file_and_fills_in_the_session_label():
    need("docker", docker_problem())
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    need("docker", "Compose v2 (`docker compose`) is not installed: " + probe.stderr.strip()
         if probe.returncode else None)
    env = {**os.environ, SESSION_ENV: "abc123", "REDIS_IMAGE": "example/redis:test"}
    done = subprocess.run(["docker", "compose", "-p", "hm-config-check", "config",
                           "--format", "json"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    assert config["services"]["redis"]["image"] == "example/redis:test"
    assert config["services"]["hello"]["labels"]["hello-microservices/session"] == "abc123"
    assert config["networks"]["default"]["labels"][PART_OF[0]] == PART_OF[1]
    assert config["services"]["worker"]["healthcheck"]["test"][0] == "CMD"
