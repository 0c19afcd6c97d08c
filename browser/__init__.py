"""The learner's view, tested: JupyterLab (started as `make lab` starts it) in Debian's
Chromium, driven by Playwright, running every notebook cell by cell with Shift+Enter.

    workspace.py  a copy of notebooks/ under build/ (JupyterLab autosaves; the tree stays clean)
    lab.py        `make lab` on that copy, on a free port, with its own token
    chromium.py   Debian's Chromium through Playwright (it cannot download browsers here)
    notebook.py   open one notebook in the Lab UI, Shift+Enter through it, screenshots
    findings.py   what counts as a problem in a run (errors, stderr, slow cells, dialogs)
    times.py      per-notebook run times: a table and build/browser/times.json

`make test-browser` runs browser/tests/; `python -m browser` runs the notebooks alone.
"""
