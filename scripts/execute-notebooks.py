"""Re-execute notebooks in place (`make notebooks`), so their committed outputs are current.

A notebook whose prerequisites are missing here (see its metadata "tutorial.requires")
is not executed, with the reason printed: executing it would only store an error.

Every notebook, executed or not, leaves with the kernel metadata JupyterLab writes into a
notebook it opens (`kernelspec` from the kernel `make lab` installs, `language_info` from
that kernel's own reply), in the form JupyterLab saves it under `make lab`
(tutorial.saved_form: without the Python patch version, which differs between learners,
and without execution timestamps).

    .venv/bin/python scripts/execute-notebooks.py [notebooks/0X-....ipynb ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

from tutorial.prereqs import problems
from tutorial.saved_form import without_machine_fields

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"


def kernel_metadata(name: str = KERNEL) -> dict:
    """`kernelspec` and `language_info` exactly as JupyterLab writes them for `name`."""
    spec = KernelSpecManager().get_kernel_spec(name)
    manager, client = start_new_kernel(kernel_name=name)
    try:
        asked = client.kernel_info()
        while (reply := client.get_shell_msg(timeout=60))["parent_header"].get("msg_id") != asked:
            pass
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return {"kernelspec": {"display_name": spec.display_name, "language": spec.language,
                           "name": name},
            "language_info": reply["content"]["language_info"]}


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    metadata = kernel_metadata()
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        missing = problems(*notebook.metadata.get("tutorial", {}).get("requires", []))
        if missing:
            print(f"skip {path.name}: " + "; ".join(missing))
        else:
            began = time.monotonic()
            print(f"executing {path.name} ...", flush=True)
            NotebookClient(notebook, timeout=600, kernel_name=KERNEL,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            print(f"  done in {time.monotonic() - began:.0f} s")
        before = nbformat.writes(notebook)
        notebook.metadata.update(metadata)
        without_machine_fields(notebook)
        if not missing or nbformat.writes(notebook) != before:
            nbformat.write(notebook, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
