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

from tutorial import prereqs

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/06-deploy-to-a-cluster.ipynb"


def run_pytest_on_notebook_06(**env: str) -> subprocess.CompletedProcess:
    return run_pytest_on(NOTEBOOK, KUBECONFIG="/nonexistent/kubeconfig", **env)


def run_pytest_on(notebook: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", notebook, "-rs"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
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


def test_without_wrk_and_go_notebook_07_is_skipped_saying_how_to_get_them(tmp_path):
    """A PATH with neither tool (nor docker): the reason names each and how to install it;
    promised by TUTORIAL_REQUIRE (as CI does), the same absence fails the run."""
    notebook = "notebooks/07-measure-it.ipynb"
    skipped = run_pytest_on(notebook, PATH=str(tmp_path), TUTORIAL_REQUIRE="")
    output = skipped.stdout + skipped.stderr
    assert skipped.returncode == 0, output
    assert "passed" not in output.strip().splitlines()[-1], output
    reasons = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert reasons, output
    for line in reasons:
        assert "wrk: the HTTP load generator `wrk` is not installed" in line
        assert "sudo apt-get install golang-go" in line and "brew install wrk" in line
    failed = run_pytest_on(notebook, PATH=str(tmp_path), TUTORIAL_REQUIRE="wrk,go")
    output = failed.stdout + failed.stderr
    assert failed.returncode not in (0, 5), output
    assert "needs what TUTORIAL_REQUIRE promises" in output and "`go`" in output


def run_in_kernel(client, code: str) -> list[dict]:
    """Execute `code` in the kernel as JupyterLab does; the IOPub outputs it produced."""
    outputs = []

    def keep(msg):
        if msg["msg_type"] in ("stream", "error", "execute_result", "display_data"):
            outputs.append({"type": msg["msg_type"], **msg["content"]})

    client.execute_interactive(code, output_hook=keep, timeout=60)
    return outputs


def test_in_a_kernel_a_missing_prerequisite_is_its_reason_alone_and_later_cells_stop():
    """What a learner sees in JupyterLab: the first cell shows only the reason (IPython
    renders MissingPrerequisite without a traceback); every later cell prints one line
    saying it was not run, instead of a NameError; once the prerequisite is there,
    re-running the `require(...)` cell lets the notebook run again."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        run_in_kernel(client, "from tutorial import prereqs\n"
                              "prereqs.CHECKS['gadget'] = lambda: 'no gadget here; get one'")
        first = run_in_kernel(client, "prereqs.require('gadget')\nnever_defined = 1")
        assert [o["type"] for o in first] == ["error"], first
        assert first[0]["ename"] == "MissingPrerequisite"
        assert first[0]["traceback"] == [
            "This notebook cannot run here yet:\n- gadget: no gadget here; get one"]

        later = run_in_kernel(client, "print(never_defined)")
        assert later == [{"type": "stream", "name": "stdout", "text": prereqs.NOT_RUN + "\n"}]

        # (the learner fixes the problem, then re-runs the cell that calls require)
        again = run_in_kernel(client, "prereqs.CHECKS['gadget'] = lambda: None\n"
                                      "prereqs.require('gadget')")
        assert again == [{"type": "stream", "name": "stdout",
                          "text": "Prerequisites OK: gadget\n"}], again
        assert run_in_kernel(client, "print(2 + 2)")[0]["text"] == "4\n"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
