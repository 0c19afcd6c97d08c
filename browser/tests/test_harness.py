"""The browser run can fail: a deliberately broken copy of a notebook must fail it.

Copies of notebook 01 (no Docker needed) are put next to the Lab's other copies:
- one with a cell that raises, after a cell that writes to stderr *with* the
  `expect-stderr` tag: the run reports exactly the raise, and stops there;
- one with a cell that writes to stderr without the tag: reported;
- one naming another kernel display name: reported as opened modified.
"""

import nbformat
import pytest

from browser.notebook import LabNotebook
from browser.tests.conftest import SHOTS

BASE = "01-hello-tornado.ipynb"


def broken_copy(lab, name: str, cells: list, display_name: str | None = None) -> tuple[str, int]:
    """Write the broken copy; return its name and its number of cells."""
    notebook = nbformat.read(lab.notebook_dir / BASE, as_version=4)
    first_code = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    notebook.cells[first_code + 1:first_code + 1] = cells
    if display_name:
        notebook.metadata.kernelspec.display_name = display_name
    nbformat.write(notebook, lab.notebook_dir / name)
    return name, len(notebook.cells)


def stderr_cell(tagged: bool):
    cell = nbformat.v4.new_code_cell('import sys\nprint("a warning", file=sys.stderr)')
    if tagged:
        cell.metadata["tags"] = ["expect-stderr"]
    return cell


@pytest.fixture
def run_copy(lab, page):
    def run(name, cells, display_name=None):
        broken, total = broken_copy(lab, name, cells, display_name)
        return LabNotebook(page, lab, broken, SHOTS / "harness").run(), total
    return run


def test_a_cell_that_raises_fails_the_run_and_stops_it(run_copy):
    raising = nbformat.v4.new_code_cell('raise RuntimeError("deliberately broken")')
    run, total = run_copy("broken-raises.ipynb", [stderr_cell(tagged=True), raising])
    assert run.status == "failed"
    assert run.problems == [f"cell 4/{total}: RuntimeError: deliberately broken"]
    assert sorted(run.cells) == [1, 2, 3]  # nothing after the raising cell ran


def test_untagged_stderr_fails_the_run(run_copy):
    run, total = run_copy("broken-stderr.ipynb", [stderr_cell(tagged=False),
                                                  nbformat.v4.new_code_cell("0 / 1")])
    assert f"cell 3/{total}: stderr (no `expect-stderr` tag): a warning" in run.problems


def test_a_notebook_that_opens_modified_fails_the_run(run_copy):
    run, _ = run_copy("broken-kernelspec.ipynb", [], display_name="Python 3 (somewhere else)")
    assert run.problems[0].startswith("opened marked modified"), run.problems
