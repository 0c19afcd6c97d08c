"""Session-wide safety net for tests and notebooks alike.

Tests, and notebook 07's benchmark, label every container and network they create. Under pytest
they also carry this session's own label (the session id travels in an environment
variable, which notebook kernels inherit); if anything with it is still there when the
session ends (a crashed kernel, an interrupted cell), it is removed here and reported.

Notebooks 02 to 05 show the commands a learner types, so what they create has fixed
names and no labels (04's Compose project is compose.yaml's `name:`). When this session
ran one of them, whatever of those names is still there at the end is removed too, also
after a failure. Nothing else another
session or a notebook open in JupyterLab started is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

from tests.lab import SESSION_ENV, remove, session_label

# `tutorial`, `steps` and `bench` are not installed (pyproject.toml): pytest finds them
# through its `pythonpath`; the processes tests start (notebook kernels, `python -m
# steps...`) through PYTHONPATH, as under `make`.
_HERE = Path(__file__).resolve().parent
_PATH = os.environ.get("PYTHONPATH", "").split(os.pathsep)
_OURS = [str(_HERE / "notebooks"), str(_HERE)]
os.environ["PYTHONPATH"] = os.pathsep.join(
    [p for p in _OURS if p not in _PATH] + [p for p in _PATH if p])

# notebook -> (containers, images) it creates by name and removes in its own "Clean up"
FIXED_NAMES = {
    "02-multi-stage-image.ipynb": (["hello-export"],
                                   ["hello-tornado:builder", "hello-tornado:builder-edited"]),
    "03-run-the-container.ipynb": (["hello-web", "hello-env", "hello-proc", "hello-oom",
                                    "hello-sleep", "hello-init"], []),
    "04-redis-queue-and-replicas.ipynb": (["hello-redis", "hello-web-1", "hello-web-2",
                                           "hello-web-3"], []),
    "05-kubernetes-objects.ipynb": (["nb05-hello", "nb05-redis"], []),
}
# notebook -> networks it creates by name (removed after its containers)
FIXED_NETWORKS = {"04-redis-queue-and-replicas.ipynb": ["hello-net"],
                  "05-kubernetes-objects.ipynb": ["nb05"]}
# notebook -> the Compose project it brings up (`docker compose -p NAME down -v`)
FIXED_PROJECTS = {"04-redis-queue-and-replicas.ipynb": "hello-microservices"}


def pytest_configure(config):
    os.environ.setdefault(SESSION_ENV, uuid.uuid4().hex[:12])


def remove_fixed_names(ran: set[str]) -> list[str]:
    """`docker rm -f` / `docker image rm` the fixed names of the notebooks that ran,
    where they still exist; the names removed."""
    containers = [n for nb in ran for n in FIXED_NAMES[nb][0]]
    images = [n for nb in ran for n in FIXED_NAMES[nb][1]]
    removed = []
    if containers:
        filters = [arg for name in containers for arg in ("--filter", f"name=^{name}$")]
        found = subprocess.run(["docker", "ps", "-a", *filters, "--format", "{{.Names}}"],
                               capture_output=True, text=True, timeout=60).stdout.split()
        if found:
            subprocess.run(["docker", "rm", "-f", "-v", *found], capture_output=True,
                           timeout=120, check=False)
            removed += found
    for project in {FIXED_PROJECTS[nb] for nb in ran if nb in FIXED_PROJECTS}:
        found = subprocess.run(["docker", "ps", "-aq", "--filter",
                                f"label=com.docker.compose.project={project}"],
                               capture_output=True, text=True, timeout=60).stdout.split()
        if found:  # Compose finds the project by its labels: no compose file needed
            subprocess.run(["docker", "compose", "-p", project, "down", "-v"],
                           capture_output=True, timeout=180, check=False)
            removed.append(f"compose project {project}")
    for network in [n for nb in ran for n in FIXED_NETWORKS.get(nb, [])]:
        if subprocess.run(["docker", "network", "rm", network], capture_output=True,
                          timeout=60).returncode == 0:
            removed.append(network)
    for image in images:
        if subprocess.run(["docker", "image", "rm", image], capture_output=True,
                          timeout=60).returncode == 0:
            removed.append(image)
    return removed


def pytest_sessionfinish(session, exitstatus):
    label = session_label()
    if label is None or shutil.which("docker") is None:
        return
    # nbval items are the notebook's cells; the browser run's are test[NOTEBOOK] under
    # browser/tests (other tests parametrized by a notebook's name run no notebook)
    ran = {notebook for item in session.items for notebook in FIXED_NAMES
           if item.path.name == notebook
           or (f"[{notebook}]" in item.name and item.path.parent.name == "tests"
               and item.path.parent.parent.name == "browser")}
    try:
        found = remove(label)
        fixed = remove_fixed_names(ran)
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return  # no engine answers: nothing can have been left running
    if found["containers"] or found["networks"] or fixed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"removed leftovers of this session: {found}, by name: {fixed}",
                                yellow=True)
