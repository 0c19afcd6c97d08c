"""Opening a notebook in JupyterLab leaves `git status` clean, whatever your Python.

JupyterLab writes the kernel's `language_info` into a notebook it opens, with this
machine's Python patch version (3.11.2 here, 3.12.7 elsewhere), and autosave saves it.
git's clean filter (.gitattributes -> scripts/nbstripout.sh, registered by `make venv`)
stores notebooks without that field, so the committed notebooks carry none.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def stored_form(text: str) -> str:
    return subprocess.run(["bash", str(ROOT / "scripts/nbstripout.sh")], input=text,
                          capture_output=True, text=True, check=True, timeout=60).stdout


def as_opened_elsewhere(text: str) -> str:
    """What autosave writes after JupyterLab opened it with another Python."""
    notebook = json.loads(text)
    notebook["metadata"]["language_info"]["version"] = "3.12.7"
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_are_in_the_form_git_stores(path):
    text = path.read_text(encoding="utf-8")
    assert stored_form(text) == text, f"run `bash scripts/nbstripout.sh {path.relative_to(ROOT)}`"
    assert stored_form(as_opened_elsewhere(text)) == text


def test_git_status_stays_clean_when_jupyterlab_writes_another_python_version(tmp_path):
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts/nbstripout.sh", tmp_path / "scripts")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    shutil.copy(ROOT / ".gitattributes", tmp_path)
    notebook = tmp_path / "01.ipynb"
    notebook.write_text(NOTEBOOKS[0].read_text(encoding="utf-8"), encoding="utf-8")
    git("init", "-q")
    # What `make venv` registers (Makefile, target git-filter).
    make = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), "git-filter"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert make.returncode == 0, make.stderr
    git("add", "-A")
    git("commit", "-qm", "notebook")
    notebook.write_text(as_opened_elsewhere(notebook.read_text(encoding="utf-8")),
                        encoding="utf-8")
    assert git("status", "--porcelain") == ""
    # A real change still shows.
    notebook.write_text(notebook.read_text(encoding="utf-8").replace("Hello", "Hallo", 1),
                        encoding="utf-8")
    assert git("status", "--porcelain").split() == ["M", "01.ipynb"]
