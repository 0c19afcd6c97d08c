"""One notebook in the Lab UI, run as a learner runs it: Shift+Enter, cell after cell.

Generic on purpose: the only per-cell rule is the `expect-stderr` tag, the only
per-notebook rule its declared prerequisites ("tutorial": {"requires": [...]}). A notebook
whose prerequisites are missing here must say so in its first code cell, as the reason
alone, and stop cleanly; the run then checks that message and stops that notebook.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import nbformat

from browser.findings import cell_problems, prereq_message_problems, where
from tutorial.prereqs import problems as missing_prerequisites
from tutorial.prereqs import promised
from tutorial.wait import wait_until

# The slowest a single cell may be (image builds on a loaded 2-core machine included).
CELL_BOUND_S = float(os.environ.get("BROWSER_CELL_BOUND", "300"))
OPEN_BOUND_S = 120.0

# The visible notebook's cells, and the state of one of them, read from the DOM.
_STATE = """(i) => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const cells = panel.querySelectorAll('.jp-Notebook .jp-Cell');
  const cell = cells[i];
  const tab = document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
  return {
    count: cells.length,
    active: Array.from(cells).findIndex(c => c.classList.contains('jp-mod-active')),
    prompt: cell ? (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '' : '',
    pink: cell ? Array.from(cell.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
      .map(o => o.innerText) : [],
    plots: cell ? cell.querySelectorAll('.jp-OutputArea-output img, ' +
      '.jp-OutputArea-output[data-mime-type="image/svg+xml"]').length : 0,
    dirty: !!(tab && tab.classList.contains('jp-mod-dirty')),
    dialogs: Array.from(document.querySelectorAll('.jp-Dialog'))
      .map(d => d.innerText.slice(0, 200)),
  };
}"""
# Every cell's prompt and pink output count, for runs the Lab drives itself (Run All).
_ALL = """() => Array.from(document.querySelectorAll(
  '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')).map(c => [
    (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    c.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
      .length])"""
_CELL = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"


@dataclass
class NotebookRun:
    name: str
    open_seconds: float = 0.0
    seconds: float = 0.0  # first Shift+Enter to the last cell's new prompt
    cells: dict[int, float] = field(default_factory=dict)  # code cell index -> seconds
    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # prerequisites missing here
    screenshots: list[Path] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.problems:
            return "failed"
        return "prerequisites missing" if self.missing else "passed"


class LabNotebook:
    """A notebook of the Lab's copy, opened in `page`."""

    def __init__(self, page, lab, name: str, shots: Path) -> None:
        self.page, self.lab, self.name = page, lab, name
        self.path = lab.notebook_dir / name
        self.stem = Path(name).stem
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)
        self.notebook = nbformat.read(self.path, as_version=4)
        self.as_committed = self.path.read_bytes()
        self.total = len(self.notebook.cells)

    def state(self, index: int = 0) -> dict:
        return self.page.evaluate(_STATE, index)

    def shot(self, run: NotebookRun, label: str, element=None) -> None:
        target = self.shots / f"{self.stem}{label}.png"
        (element or self.page).screenshot(path=str(target))
        run.screenshots.append(target)

    # -- opening ---------------------------------------------------------------
    def open(self, run: NotebookRun) -> bool:
        began = time.monotonic()
        # A workspace of its own: a fresh layout with this notebook alone, as on a first
        # `make lab` (the default one would restore the tabs an earlier page had open).
        workspace = f"browser-run-{uuid.uuid4().hex[:8]}"
        self.page.goto(self.lab.url(f"/lab/workspaces/{workspace}/tree/{self.name}"))
        try:
            wait_until(self.opened, OPEN_BOUND_S, "open with an idle kernel", interval=0.5)
        except TimeoutError:
            run.problems.append(f"did not open with an idle kernel within {OPEN_BOUND_S:.0f} s")
            return False
        time.sleep(2)  # the kernel's language_info reaches the notebook's metadata now
        run.open_seconds = time.monotonic() - began
        # JupyterLab writes the kernel's language_info into the notebook it opens (with
        # this machine's Python patch version, which `make lab`'s pre-save hook keeps out
        # of the file). Saved unchanged, anything else it wrote would show in `git status`.
        self.save()
        if self.path.read_bytes() != self.as_committed:
            run.problems.append("opened marked modified: saved unchanged, the file differs "
                                "from the committed one (its kernelspec or language_info; "
                                "run `make notebooks`)")
        state = self.state()
        self.check_dialogs(run, state, "on open")
        self.shot(run, "-open")
        return self.expand_all_code(run)

    def expand_all_code(self, run: NotebookRun) -> bool:
        """View > Expand All Code, as a learner does to see the folded solutions.

        A cell whose source is folded (`jupyter.source_hidden`) runs like any other, but
        its prompt is not in the page while folded: there is no `[n]:` to wait for.
        """
        if not self.page.locator(f"{_CELL} .jp-InputPlaceholder").count():
            return True
        self.page.locator(".lm-MenuBar-item", has_text="View").click()
        self.page.locator(".lm-Menu-item:visible", has_text="Expand All Code").click()
        try:
            wait_until(lambda: not self.page.locator(f"{_CELL} .jp-InputPlaceholder").count(),
                       10, "no folded cell", interval=0.2)
        except TimeoutError:
            run.problems.append("View > Expand All Code left folded cells folded")
            return False
        return True

    def opened(self) -> bool:
        """Every cell is in the page and the kernel is idle."""
        state = self.state()
        return bool(state and state["count"] == self.total and self.kernel_idle())

    def kernel_idle(self) -> bool:
        for session in self.lab.api("/api/sessions").json():
            if session.get("path") == self.name and session.get("kernel"):
                return session["kernel"].get("execution_state") == "idle"
        return False

    def check_dialogs(self, run: NotebookRun, state: dict, when: str) -> None:
        for text in state["dialogs"]:
            run.problems.append(f"a dialog is open {when}: {' '.join(text.split())[:120]}")
            self.page.keyboard.press("Escape")

    # -- running -----------------------------------------------------------------
    def select(self, index: int) -> None:
        """Make cell `index` the active one, in command mode, with the keyboard."""
        self.page.evaluate("""() => document.querySelector(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook').focus()""")
        self.page.keyboard.press("Escape")
        for _ in range(self.total + 1):
            active = self.state(index)["active"]
            if active == index:
                return
            self.page.keyboard.press("ArrowDown" if active < index else "ArrowUp")
        raise RuntimeError(f"could not select {where(index, self.total)}")

    def run(self, bound: float = CELL_BOUND_S) -> NotebookRun:
        run = NotebookRun(self.path.name)
        needs = self.notebook.metadata.get("tutorial", {}).get("requires", [])
        run.missing = missing_prerequisites(*needs)
        for reason in run.missing:
            if reason.split(":", 1)[0] in promised():
                run.problems.append(f"needs what TUTORIAL_REQUIRE promises: {reason}")
        if not self.open(run):
            return run
        self.select(0)
        began, count = time.monotonic(), 0
        prereq_checked = False
        for index, cell in enumerate(self.notebook.cells):
            if self.state(index)["active"] != index:
                self.select(index)
            self.page.keyboard.press("Shift+Enter")
            if cell.cell_type != "code" or not cell.source.strip():
                continue  # JupyterLab sends no empty cell to the kernel
            count += 1
            state = self.wait_for_prompt(index, count, bound, run)
            if state is None:
                break
            if state["plots"]:
                outputs = self.page.locator(_CELL).nth(index).locator(".jp-OutputArea-output")
                plots = outputs.filter(has=self.page.locator("img, svg"))
                for n in range(plots.count()):
                    self.shot(run, f"-cell{index + 1}-plot{n + 1}", plots.nth(n))
            if state["dialogs"]:
                self.check_dialogs(run, state, f"after {where(index, self.total)}")
                break
            if run.missing and not prereq_checked:
                # The first code cell must refuse with the reason alone...
                saved = self.save()[index]
                errors = [o for o in saved.get("outputs", []) if o.output_type == "error"]
                if not errors:
                    run.problems.append(f"{where(index, self.total)}: prerequisites are missing "
                                        f"({'; '.join(run.missing)}) but the cell did not say so")
                    break
                run.problems += cell_problems(saved, index, self.total, prereq_error_ok=True)
                run.problems += prereq_message_problems("\n".join(state["pink"]), run.missing)
                self.shot(run, "-prereq", self.page.locator(_CELL).nth(index))  # the reason
                prereq_checked = True
                continue  # ...and the next code cell must stop cleanly, without an error.
            if state["pink"]:
                saved = self.save()[index]
                run.problems += cell_problems(saved, index, self.total)
                if any(o.output_type == "error" for o in saved.get("outputs", [])):
                    break  # a learner stops at the first error too
            if prereq_checked:
                break
        run.seconds = time.monotonic() - began
        self.check_dialogs(run, self.state(), "at the end")
        self.finish(run)
        return run

    def wait_for_prompt(self, index: int, count: int, bound: float, run: NotebookRun):
        """Wait until the cell's prompt shows its new execution count; None on timeout."""
        expected, began, last = f"[{count}]:", time.monotonic(), [{}]

        def answered() -> dict | None:
            last[0] = state = self.state(index)
            done = state["prompt"] == expected
            return state if done or (state["dialogs"] and "[*]" not in state["prompt"]) else None

        try:
            state = wait_until(answered, bound, f"prompt {expected}", interval=0.2)
        except TimeoutError:
            run.problems.append(f"{where(index, self.total)}: no new prompt within "
                                f"{bound:.0f} s (still {last[0].get('prompt') or 'nothing'})")
            self.shot(run, f"-cell{index + 1}-timeout")
            self.page.keyboard.press("i")  # interrupt: i, i in command mode
            self.page.keyboard.press("i")
            return None
        run.cells[index] = time.monotonic() - began
        return state

    def restart_and_run_all(self, times: int = 2, bound: float = CELL_BOUND_S) -> NotebookRun:
        """Kernel > Restart Kernel and Run All Cells, `times` in a row, each to the end."""
        run = NotebookRun(self.path.name)
        if not self.open(run):
            return run
        codes = [i for i, cell in enumerate(self.notebook.cells)
                 if cell.cell_type == "code" and cell.source.strip()]
        began = time.monotonic()
        for attempt in range(1, times + 1):
            self.page.locator(".lm-MenuBar-item", has_text="Kernel").click()
            self.page.locator(".lm-Menu-item:visible",
                              has_text="Restart Kernel and Run All Cells").click()
            self.page.locator(".jp-Dialog .jp-mod-accept").click()
            time.sleep(1)
            seen, run.cells = [], {}
            while len(run.cells) < len(codes):
                try:  # the next change: a cell done, or a new cell with stderr
                    done, pink = wait_until(partial(self.run_all_moved, codes, run.cells, seen),
                                            bound, "progress", interval=0.5)
                except TimeoutError:
                    run.problems.append(f"Run All #{attempt}: no progress for {bound:.0f} s "
                                        f"after {len(run.cells)} of {len(codes)} code cells")
                    break
                if pink and pink != seen:
                    seen, saved = pink, self.save()
                    found = [p for i in pink for p in cell_problems(saved[i], i, self.total)]
                    if found:
                        run.problems += [f"Run All #{attempt}: {p}" for p in found]
                        break
                run.cells = dict.fromkeys(codes[:done], 0.0)
            run.seconds = time.monotonic() - began
            self.check_dialogs(run, self.state(), f"after Run All #{attempt}")
            if run.problems:
                break
            self.shot(run, f"-run-all-{attempt}")
            began = time.monotonic()
        self.finish(run, label="-run-all")
        return run

    def run_all_moved(self, codes: list[int], done_before: dict, seen: list[int]):
        """(code cells done, code cells with stderr) once either changed, else None."""
        cells = self.page.evaluate(_ALL)
        done = sum(cells[i][0] == f"[{n}]:" for n, i in enumerate(codes, 1))
        pink = [i for i in codes if cells[i][1]]
        return (done, pink) if done > len(done_before) or (pink and pink != seen) else None

    def save(self) -> list:
        """Save the copy from the UI and return its cells as JupyterLab wrote them."""
        before = self.path.stat().st_mtime_ns
        self.page.keyboard.press("Control+s")

        def saved() -> nbformat.NotebookNode | None:
            # The server writes the file in place: wait for a new, complete one.
            if not self.state()["dirty"] and self.path.stat().st_mtime_ns != before:
                try:
                    return nbformat.read(self.path, as_version=4)
                except (ValueError, nbformat.reader.NotJSONError):
                    pass
            return None

        return wait_until(saved, 30, f"JupyterLab saving {self.name}", interval=0.2).cells

    def finish(self, run: NotebookRun, label: str = "") -> None:
        """Screenshots, every cell's outputs checked from the saved file, tab closed."""
        self.shot(run, label)
        self.select(0)
        self.shot(run, f"{label}-top")
        cells = self.save()
        for index, cell in enumerate(cells[: self.total]):
            if index in run.cells:  # cells not run here still show their committed outputs
                for problem in cell_problems(cell, index, self.total,
                                             prereq_error_ok=bool(run.missing)):
                    if problem not in run.problems:
                        run.problems.append(problem)
        # Close the tab the way a learner does, leaving its kernel running: stopping the
        # Lab must still leave nothing behind.
        self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current "
                          ".lm-TabBar-tabCloseIcon").click()
        time.sleep(0.5)
        state = self.page.evaluate("() => document.querySelectorAll('.jp-Dialog').length")
        if state:
            run.problems.append("closing the saved notebook opened a dialog")
            self.page.keyboard.press("Escape")
