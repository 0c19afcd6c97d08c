"""Show code from service/ in a notebook, so prose and code can never drift apart."""

from __future__ import annotations

import inspect
from pathlib import Path

from IPython.display import Code, display

ROOT = Path(__file__).resolve().parents[2]


def show(obj=None, *, path: str | None = None) -> None:
    """Display the source of a module, class or function, or of a repository file.

    The header names the file and lines, relative to the repository root.
    """
    if path is not None:
        file = ROOT / path
        source, where = file.read_text(), path
        language = {".py": "python", ".yaml": "yaml", ".yml": "yaml"}.get(file.suffix, "docker")
    else:
        lines, first = inspect.getsourcelines(obj)
        file = Path(inspect.getsourcefile(obj)).resolve()
        source = "".join(lines)
        where = f"{file.relative_to(ROOT)}, line {max(first, 1)}"
        language = "python"
    print(f"# {where}")
    display(Code(source, language=language))
