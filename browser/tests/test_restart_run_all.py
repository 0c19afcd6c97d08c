"""Kernel > Restart Kernel and Run All Cells, twice in a row: a learner's second try works
as well as the first (nothing left over from the first run gets in the way)."""

import pytest

from browser.notebook import LabNotebook
from browser.tests.conftest import SHOTS
from tests.prereq import need
from tutorial.prereqs import problems

NOTEBOOKS = {"01-hello-tornado.ipynb": [], "04-redis-queue-and-replicas.ipynb": ["docker"]}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_restart_and_run_all_twice(lab, page, name):
    for needed in NOTEBOOKS[name]:
        need(needed, next(iter(problems(needed)), None))
    run = LabNotebook(page, lab, name, SHOTS).restart_and_run_all(times=2)
    assert not run.problems, f"{name}, Restart and Run All:\n- " + "\n- ".join(run.problems)
