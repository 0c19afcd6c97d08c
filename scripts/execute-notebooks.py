"""Re-execute notebooks in place (`make notebooks`), so their committed outputs are current.

A notebook whose prerequisites are missing here (see its metadata "tutorial.requires")
is left untouched, with the reason printed: executing it would only store an error.

    .venv/bin/python scripts/execute-notebooks.py [notebooks/0X-....ipynb ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tutorial.prereqs import problems

ROOT = Path(__file__).resolve().parents[1]


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        missing = problems(*notebook.metadata.get("tutorial", {}).get("requires", []))
        if missing:
            print(f"skip {path.name}: " + "; ".join(missing))
            continue
        began = time.monotonic()
        print(f"executing {path.name} ...", flush=True)
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        nbformat.write(notebook, path)
        print(f"  done in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
