"""A notebook whose prerequisite is missing is skipped with a reason — or fails when promised.

Notebook 06 needs a live cluster, which no test machine here has. These tests run pytest
on it in a subprocess with a kubeconfig that does not exist, so the outcome is the same on
every machine, and check the two behaviours of notebooks/conftest.py:

* by default the whole notebook is SKIPPED, with a reason that names the missing cluster
  and how to create one — never passed silently;
* with TUTORIAL_REQUIRE=cluster (a CI that promises a cluster) it FAILS instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/06-deploy-to-a-cluster.ipynb"


def run_pytest_on_notebook_06(**env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "KUBECONFIG": "/nonexistent/kubeconfig", **env}
    return subprocess.run(
        [sys.executable, "-m", "pytest", NOTEBOOK, "-rs"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300,
    )


def code_cell_count() -> int:
    notebook = nbformat.read(ROOT / NOTEBOOK, as_version=4)
    return sum(cell.cell_type == "code" for cell in notebook.cells)


def test_notebook_06_declares_that_it_needs_a_cluster():
    notebook = nbformat.read(ROOT / NOTEBOOK, as_version=4)
    assert notebook.metadata["tutorial"]["requires"] == ["docker", "cluster"]
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert 'tutorial.require("docker", "cluster")' in first_code.source


def test_without_a_cluster_notebook_06_is_skipped_with_a_reason():
    result = run_pytest_on_notebook_06(TUTORIAL_REQUIRE="")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    assert re.search(rf"\b{code_cell_count()} skipped\b", summary), summary
    assert "passed" not in summary and "failed" not in summary, summary
    reasons = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert reasons, output
    for line in reasons:
        assert "06-deploy-to-a-cluster.ipynb" in line
        assert "no Kubernetes cluster is configured" in line  # what is missing
        assert "scripts/kind-cluster.sh" in line and "minikube start" in line  # how to get it


def test_a_promised_cluster_that_is_missing_fails_instead_of_skipping():
    result = run_pytest_on_notebook_06(TUTORIAL_REQUIRE="cluster")
    output = result.stdout + result.stderr
    assert result.returncode not in (0, 5), output  # 4: pytest usage error
    assert "needs what TUTORIAL_REQUIRE promises" in output
    assert "no Kubernetes cluster is configured" in output
    assert not re.search(r"\b\d+ (passed|skipped)\b", output), output
