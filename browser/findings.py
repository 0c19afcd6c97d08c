"""What counts as a problem in a browser run, read from the notebook JupyterLab saved.

The DOM shows errors and stderr alike as pink `application/vnd.jupyter.stderr` output, so
the run saves the notebook (its copy) and reads the output types from the file.
"""

from __future__ import annotations

EXPECT_STDERR = "expect-stderr"  # cell tag: this cell is expected to write to stderr
PREREQ_ERROR = "MissingPrerequisite"


def where(index: int, total: int) -> str:
    """A cell as JupyterLab's status bar names it: `cell 12/30`."""
    return f"cell {index + 1}/{total}"


def first_line(text: str, limit: int = 160) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[:limit] + "…"


def cell_problems(cell, index: int, total: int, prereq_error_ok: bool = False) -> list[str]:
    """Errors and unexpected stderr in one saved code cell's outputs."""
    found = []
    tags = cell.get("metadata", {}).get("tags", [])
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "error":
            if prereq_error_ok and output.get("ename") == PREREQ_ERROR:
                continue
            found.append(f"{where(index, total)}: {output.get('ename')}: "
                         f"{first_line(output.get('evalue', ''))}")
        elif kind == "stream" and output.get("name") == "stderr" and EXPECT_STDERR not in tags:
            found.append(f"{where(index, total)}: stderr (no `{EXPECT_STDERR}` tag): "
                         f"{first_line(output.get('text', ''))}")
    return found


def prereq_message_problems(rendered: str, reasons: list[str]) -> list[str]:
    """The missing-prerequisite output must be the reason alone, as one short paragraph."""
    found = []
    if "Traceback" in rendered or "File \"" in rendered or "----> " in rendered:
        found.append("the missing-prerequisite message shows a traceback")
    for reason in reasons:
        said = " ".join(reason.split())[:40]
        if said not in " ".join(rendered.split()):
            found.append(f"the missing-prerequisite message does not say: {said}…")
    if len(rendered.strip().splitlines()) > 2 + len(reasons) * 3:
        found.append(f"the missing-prerequisite message is {len(rendered.splitlines())} lines long")
    return found
