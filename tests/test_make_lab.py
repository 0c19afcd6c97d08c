"""`make lab` starts JupyterLab on loopback, protected by a token (run headless here),
with the kernel the committed notebooks name."""

import importlib.util
import re
from pathlib import Path

import nbformat

from tutorial.net import fetch, free_port, wait_for_http
from tutorial.shell import start

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_serves_on_loopback_with_a_token():
    port = free_port()
    # A group of its own: SIGTERM must reach JupyterLab, not only make.
    lab = start(["make", "--no-print-directory", "lab", f"LAB_PORT={port}"], cwd=ROOT,
                echo=False, group=True)
    try:
        api = wait_for_http(f"http://127.0.0.1:{port}/api", timeout=60, status=None)
        assert api.status == 200
        assert "version" in api.json()
        # Without the token the contents API is closed...
        assert fetch(f"http://127.0.0.1:{port}/api/contents").status == 403
    finally:
        lab.stop(timeout=30)
    # ...and the URL it prints carries one.
    assert re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=[0-9a-f]{{16,}}", lab.output), \
        lab.output



def kernel_metadata() -> dict:
    """What JupyterLab writes into a notebook it opens with the kernel `make venv` installs
    (computed by scripts/execute-notebooks.py, which also writes it into every notebook)."""
    spec = importlib.util.spec_from_file_location("execute_notebooks",
                                                  ROOT / "scripts/execute-notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.kernel_metadata()


def test_installed_kernel_has_the_makefile_display_name():
    display = re.search(r"^KERNEL_DISPLAY_NAME := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert kernel_metadata()["kernelspec"]["display_name"] == display.group(1).strip(), \
        "the venv's kernelspec is stale: run `make venv`"


def test_notebooks_carry_the_kernel_metadata_jupyterlab_writes():
    """Otherwise JupyterLab writes other metadata into a notebook it opens, and autosave
    rewrites it. The Python patch version is the exception: it differs between learners'
    machines, so the committed notebooks carry none and `make lab`'s pre-save hook keeps
    the one JupyterLab writes out of the file (see test_saved_form.py)."""
    expected = kernel_metadata()
    del expected["language_info"]["version"]
    notebooks = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert notebooks
    for path in notebooks:
        metadata = nbformat.read(path, as_version=4).metadata
        hint = f"{path.name}: run `make notebooks NOTEBOOKS=notebooks/{path.name}`"
        assert metadata.get("kernelspec") == expected["kernelspec"], hint
        assert metadata.get("language_info") == expected["language_info"], hint
