"""Per-notebook run times of a browser run: a table to read, build/browser/times.json to use
(the notebooks' "time to run" headers quote them)."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from browser.notebook import CELL_BOUND_S, NotebookRun
from browser.workspace import BUILD

TIMES = BUILD / "times.json"


def record(runs: list[NotebookRun], target: Path = TIMES) -> dict:
    """Merge these runs into target (runs of other notebooks in the file are kept)."""
    data = json.loads(target.read_text()) if target.exists() else {}
    data.setdefault("notebooks", {})
    data["measured_on"] = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "machine": platform.machine(), "cell_bound_s": CELL_BOUND_S}
    for run in runs:
        slowest = max(run.cells.items(), key=lambda item: item[1], default=(None, 0.0))
        data["notebooks"][run.name] = {
            "status": run.status, "run_seconds": round(run.seconds, 1),
            "open_seconds": round(run.open_seconds, 1), "code_cells_run": len(run.cells),
            "slowest_cell": None if slowest[0] is None else
            {"cell": slowest[0] + 1, "seconds": round(slowest[1], 1)},
            "problems": run.problems,
        }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2) + "\n")
    return data


def table(data: dict) -> str:
    rows = [("notebook", "status", "run s", "open s", "cells", "slowest cell")]
    for name, entry in sorted(data["notebooks"].items()):
        slowest = entry["slowest_cell"]
        rows.append((name, entry["status"], f"{entry['run_seconds']:.0f}",
                     f"{entry['open_seconds']:.0f}", str(entry["code_cells_run"]),
                     f"{slowest['cell']}: {slowest['seconds']:.0f} s" if slowest else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
