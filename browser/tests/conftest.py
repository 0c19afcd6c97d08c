"""One JupyterLab (as `make lab` starts it, on a copy of the notebooks) and one Chromium
for the whole browser run; run times are printed and written to build/browser/times.json."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from browser import chromium, times
from browser.lab import Lab
from browser.workspace import BUILD, make_copy
from tests.lab import leftovers, session_label

SHOTS = BUILD / "shots"
_RUNS = []


@pytest.fixture(scope="session")
def lab():
    """The Lab for the whole run. After the last test that used it, whatever the order:
    stopping it must leave nothing of the run behind, although every notebook's tab was
    closed without shutting its kernel down (a failure here is a teardown error)."""
    started = Lab(make_copy()).start()
    yield started
    started.stop()
    assert started.processes() == [], "processes started by the Lab are still running"
    label = session_label()
    assert label, "the session label is set by the root conftest.py"
    assert leftovers(label) == {"containers": [], "networks": []}


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        launched = chromium.launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    page = chromium.new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def record_run():
    """Keep a notebook run for the times table (cell-by-cell runs only)."""
    return _RUNS.append


def pytest_terminal_summary(terminalreporter):
    if _RUNS:
        terminalreporter.write_sep("-", "browser run times (build/browser/times.json)")
        terminalreporter.write_line(times.table(times.record(_RUNS)))
