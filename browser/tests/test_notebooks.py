"""Every notebook, opened in JupyterLab and run cell by cell with Shift+Enter.

Fails on: an error output, stderr in a cell not tagged `expect-stderr`, a cell slower
than CELL_BOUND_S, a dialog left open, a notebook marked modified on open. A notebook
whose prerequisites are missing here must show its reason alone and stop cleanly.
"""

import pytest

from browser.notebook import CELL_BOUND_S, LabNotebook
from browser.tests.conftest import SHOTS
from browser.workspace import tutorial_notebooks


@pytest.mark.parametrize("name", [path.name for path in tutorial_notebooks()])
def test_notebook_runs_cell_by_cell_in_jupyterlab(lab, page, record_run, name):
    run = LabNotebook(page, lab, name, SHOTS).run(bound=CELL_BOUND_S)
    record_run(run)
    assert not run.problems, f"{name} in JupyterLab:\n- " + "\n- ".join(run.problems)
    assert run.cells, f"{name}: no code cell ran"
    if run.missing:  # stopped after its first code cell said why, and one more said "not run"
        assert len(run.cells) == 2, run.cells
