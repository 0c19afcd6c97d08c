"""Opening a notebook in JupyterLab leaves `git status` clean, whatever your Python.

JupyterLab writes the kernel's `language_info` into a notebook it opens, with this
machine's Python patch version, and autosave saves it. `make lab` gives the server a
pre-save hook (tutorial.saved_form) that keeps that field out of the file, so the
committed notebooks carry none and a save of an unchanged notebook writes the same bytes.
"""

import copy
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager
from traitlets.config import Config

from tutorial.saved_form import without_machine_fields

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
HOOK = "tutorial.saved_form.pre_save_hook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_machine_fields(path):
    notebook = nbformat.read(path, as_version=4)
    assert without_machine_fields(copy.deepcopy(notebook)) == notebook, \
        f"run `make notebooks NOTEBOOKS=notebooks/{path.name}`"


@pytest.mark.parametrize("path", NOTEBOOKS[:1] + NOTEBOOKS[-1:], ids=lambda p: p.name)
def test_saving_what_jupyterlab_opened_with_another_python_writes_the_same_bytes(tmp_path,
                                                                                  path):
    shutil.copy(path, tmp_path / path.name)
    # As `make lab` configures it: the import string, on ContentsManager.
    config = Config({"ContentsManager": {"pre_save_hook": HOOK}})
    manager = FileContentsManager(root_dir=str(tmp_path), config=config)
    model = manager.get(path.name)
    # What the Lab does on open (another learner's Python), then autosave.
    model["content"]["metadata"]["language_info"]["version"] = "3.12.7"
    manager.save({"type": "notebook", "content": model["content"]}, path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()
    # A real change still reaches the file.
    model["content"]["cells"][0]["source"] += "\nmy note"
    manager.save({"type": "notebook", "content": model["content"]}, path.name)
    assert b"my note" in (tmp_path / path.name).read_bytes()


def test_make_lab_gives_the_server_the_hook():
    plan = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout
    hook = re.search(r"--ContentsManager\.pre_save_hook=(\S+)", plan)
    assert hook and hook.group(1) == HOOK, plan
