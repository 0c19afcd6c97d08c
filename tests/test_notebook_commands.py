"""The commands notebooks 02 to 05 show are the ones a learner types.

Every `$ ...` line in their stored outputs is valid shell, carries no `--label` and no
random 12-hex-digit name; the read-only ones run unchanged from the repository root;
and every fixed name they create is one the session-finish hook (root conftest.py)
removes after a failure.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.prereq import need
from tutorial.prereqs import docker_problem, tool_problem

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["02-multi-stage-image.ipynb", "03-run-the-container.ipynb",
             "04-redis-queue-and-replicas.ipynb", "05-kubernetes-objects.ipynb"]
MEASURE = "07-measure-it.ipynb"  # the benchmark's builds and wrk runs, printed as typed


def shown_commands(name: str) -> list[str]:
    """The `$ ` lines of a notebook's stored stdout."""
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    lines = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                lines += [line[2:] for line in output["text"].splitlines()
                          if line.startswith("$ ")]
    return lines


@pytest.mark.parametrize("name", [*NOTEBOOKS, MEASURE])
def test_shown_commands_are_valid_shell_without_labels_or_random_names(name):
    commands = shown_commands(name)
    assert len(commands) > 10, commands
    for command in commands:
        assert "--label" not in command, command
        assert not re.search(r"[-:][0-9a-f]{12}\b", command), command
        syntax = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True)
        assert syntax.returncode == 0, (command, syntax.stderr)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_read_only_commands_run_unchanged_from_the_repository_root(name):
    """A sample: the `docker ps -a` and `docker image ls` lines, pasted into bash."""
    need("docker", docker_problem())
    sample = [c for c in shown_commands(name)
              if c.startswith(("docker ps -a", "docker image ls"))]
    assert sample, name
    for command in sample:
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, (command, done.stderr)


def test_the_benchmark_go_builds_run_unchanged_from_the_repository_root():
    need("go", tool_problem("go"))
    builds = [c for c in shown_commands(MEASURE) if "go build" in c]
    assert len(builds) == 2, builds
    for command in builds:
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)


def test_the_session_hook_knows_every_fixed_name_the_notebooks_create():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    for name in NOTEBOOKS:
        text = "\n".join(shown_commands(name))
        containers = set(re.findall(r"--name (\S+)", text))
        images = set(re.findall(r"-t (hello-tornado:builder\S*)", text))
        known_containers, known_images = hook.FIXED_NAMES[name]
        assert containers and containers <= set(known_containers), (name, containers)
        assert images <= set(known_images), (name, images)
        networks = set(re.findall(r"docker network create (\S+)", text))
        assert networks <= set(hook.FIXED_NETWORKS.get(name, [])), (name, networks)
        if "docker compose up" in text:  # the project named in compose.yaml
            assert hook.FIXED_PROJECTS.get(name) == "hello-microservices", name
