"""The notebooks JupyterLab opens in a browser run: copies, never the tracked files.

JupyterLab autosaves what it shows, so it works on build/browser/lab/: the `.ipynb` files
are copied there, everything else in notebooks/ (the `tutorial` helpers, step files) is
symlinked, so imports and repository paths resolve to the real tree exactly as they do
for a learner.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build" / "browser"


def tutorial_notebooks() -> list[Path]:
    """The numbered notebooks of the tutorial, in reading order."""
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def make_copy(where: Path = BUILD / "lab", source: Path = NOTEBOOKS) -> Path:
    """A fresh folder holding copies of source's notebooks and links to the rest."""
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    for entry in sorted(source.iterdir()):
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.suffix == ".ipynb":
            shutil.copy2(entry, where / entry.name)
        else:
            (where / entry.name).symlink_to(entry.resolve())
    return where
