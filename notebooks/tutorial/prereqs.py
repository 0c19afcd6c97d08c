"""What a notebook needs before its first real step, and what to do when it is missing.

Notebooks call `require(...)` in their first cell, so a learner reads one clear
paragraph instead of a traceback ten cells later. The test suite uses the same checks to
skip a notebook as a whole, with the same sentence as the reason.

In JupyterLab the failure shows only the reason (no traceback), and the notebook stops
cleanly: every later cell of that kernel prints one line saying it was not run, instead
of a `NameError` for what the first real step would have defined. Re-running the
`require(...)` cell once the prerequisite is there (or restarting the kernel) lifts that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import partial


class MissingPrerequisite(RuntimeError):
    """Something this notebook needs is not available; the message says how to get it."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback: the reason is all that helps.
        return [str(self)]


NOT_RUN = ("Not run: prerequisites are missing (see the first code cell). "
           "Fix them, then re-run that cell.")


def _skip_later_cells(lines: list[str]) -> list[str]:
    """IPython input transformer: a later cell prints one line instead of running.

    A cell that calls `require(` runs, so the learner can check again after a fix.
    """
    if any("require(" in line for line in lines):
        return lines
    return [f"print({NOT_RUN!r})\n"]


def _stop_later_cells(stop: bool) -> None:
    """Install or remove the transformer in the running IPython kernel, if any."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    hooks = shell.input_transformers_post
    if _skip_later_cells in hooks and not stop:
        hooks.remove(_skip_later_cells)
    elif _skip_later_cells not in hooks and stop:
        hooks.append(_skip_later_cells)


def docker_problem() -> str | None:
    """None when a Docker engine answers, else what is wrong and how to fix it."""
    if shutil.which("docker") is None:
        return ("the `docker` command is not installed. Install Docker Engine or Docker "
                "Desktop; on Debian/Ubuntu as root: `bash scripts/provision-docker.sh`.")
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True, text=True, timeout=20,
        )
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer `docker info` within 20 s; is it overloaded?"
    if probe.returncode != 0:
        said = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "no output"
        return (f"no Docker engine answers (`docker info` failed: {said}). "
                "Start Docker Desktop, or `sudo systemctl start docker`, or as root "
                "`bash scripts/provision-docker.sh`.")
    return None


def cluster_problem() -> str | None:
    """None when `kubectl` reaches a Kubernetes API server with the current kubeconfig."""
    if shutil.which("kubectl") is None:
        return TOOLS["kubectl"]

    def kubectl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=30)

    if kubectl("config", "current-context").returncode != 0:
        return ("no Kubernetes cluster is configured (`kubectl config current-context` names "
                "none). Create a local one, e.g. `bash scripts/kind-cluster.sh` (kind), "
                "`minikube start`, `k3d cluster create`, or enable Kubernetes in Docker "
                "Desktop; then re-run this notebook.")
    reached = kubectl("get", "--raw", "/version", "--request-timeout=5s")
    if reached.returncode != 0:
        said = (reached.stderr.strip().splitlines() or ["no output"])[-1]
        return (f"the cluster in your kubeconfig does not answer ({said}). Start it (e.g. "
                "`kind get clusters`, `minikube status`) or create one with "
                "`bash scripts/kind-cluster.sh`.")
    return None


# Command-line tools a notebook runs itself: command -> how to get it.
TOOLS = {
    "wrk": "the HTTP load generator `wrk` is not installed. Debian/Ubuntu: "
           "`sudo apt-get install wrk`; macOS: `brew install wrk`; with Docker Desktop "
           "on Windows, install it in your WSL distribution (`sudo apt-get install wrk`).",
    "kubectl": "`kubectl` is not installed (notebook 05 renders the manifests with `kubectl "
               "kustomize`, no cluster needed; notebook 06 runs every step with it). Install it: "
               "https://kubernetes.io/docs/tasks/tools/ (Debian trixie and newer: "
               "`sudo apt-get install kubectl`; macOS: `brew install kubectl`; Docker "
               "Desktop ships one).",
    "go": "the Go toolchain (`go`) is not installed. Debian/Ubuntu: "
          "`sudo apt-get install golang-go`; macOS: `brew install go`; Windows: the "
          "installer from https://go.dev/dl/ or, in WSL, `sudo apt-get install golang-go`.",
}


def tool_problem(command: str) -> str | None:
    return None if shutil.which(command) else TOOLS[command]


CHECKS = {"docker": docker_problem, "cluster": cluster_problem,
          **{command: partial(tool_problem, command) for command in TOOLS}}


def promised() -> set[str]:
    """What TUTORIAL_REQUIRE (comma-separated, set by CI) promises is there: a missing
    one of these must fail a test or notebook instead of skipping it."""
    return {n.strip() for n in os.environ.get("TUTORIAL_REQUIRE", "").split(",") if n.strip()}


def problems(*needs: str) -> list[str]:
    return [f"{need}: {msg}" for need in needs if (msg := CHECKS[need]())]


def require(*needs: str) -> None:
    """Raise MissingPrerequisite naming every missing thing; print a short OK otherwise."""
    found = problems(*needs)
    _stop_later_cells(bool(found))
    if found:
        raise MissingPrerequisite("This notebook cannot run here yet:\n- " + "\n- ".join(found))
    print("Prerequisites OK:", ", ".join(needs) if needs else "none")
