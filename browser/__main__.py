"""`python -m browser [NOTEBOOK ...]`: run notebooks in JupyterLab in Chromium, print times.

Without arguments every numbered notebook runs. Screenshots go to build/browser/shots/,
times to build/browser/times.json. Exit status 1 when any notebook has a problem.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from playwright.sync_api import sync_playwright

from browser import chromium, times
from browser.lab import Lab
from browser.notebook import LabNotebook
from browser.workspace import BUILD, make_copy, tutorial_notebooks
from tests.lab import SESSION_ENV


def main(args: list[str]) -> int:
    os.environ.setdefault(SESSION_ENV, uuid.uuid4().hex[:12])  # label what the run starts
    names = [Path(a).name for a in args] or [p.name for p in tutorial_notebooks()]
    lab = Lab(make_copy()).start()
    runs, began = [], time.monotonic()
    try:
        with sync_playwright() as playwright:
            browser = chromium.launch(playwright)
            page = chromium.new_page(browser)
            for name in names:
                print(f"running {name} ...", flush=True)
                run = LabNotebook(page, lab, name, BUILD / "shots").run()
                runs.append(run)
                print(f"  {run.status} in {run.seconds:.0f} s", flush=True)
                for problem in run.problems:
                    print(f"  problem: {problem}", flush=True)
            browser.close()
    finally:
        lab.stop()
    print(times.table(times.record(runs)))
    print(f"browser run: {len(runs)} notebooks in {time.monotonic() - began:.0f} s")
    return 1 if any(run.problems for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
