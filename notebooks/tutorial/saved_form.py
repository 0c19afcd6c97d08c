"""What a saved notebook keeps: everything, outputs included, but what differs from one
machine to the next while the notebook does not change.

JupyterLab writes the kernel's `language_info` into a notebook it opens, with this
machine's Python patch version (3.11.2 on one, 3.12.7 on another), and autosave then
saves it. `make lab` gives Jupyter's server `pre_save_hook` below, so the file on disk
never carries that field (nor nbclient's per-cell execution timestamps) and opening a
notebook leaves `git status` clean. `make notebooks` writes the same form.
"""

from __future__ import annotations

from typing import Any


def without_machine_fields(notebook: Any) -> Any:
    """The notebook (a dict or NotebookNode, changed in place) without those fields."""
    notebook.get("metadata", {}).get("language_info", {}).pop("version", None)
    for cell in notebook.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
    return notebook


def pre_save_hook(model: dict, **_: Any) -> None:
    """jupyter_server's ContentsManager.pre_save_hook: runs on every save from the Lab."""
    if model.get("type") == "notebook" and model.get("content"):
        without_machine_fields(model["content"])
