"""Show code from the repository in a notebook, so prose and code can never drift apart.

    show(service.app.make_app)                       # a function, class or module
    show(path="notebooks/steps/s1_hello.py")         # a whole file
    show_diff("notebooks/steps/s1_hello.py", "notebooks/steps/s2_health.py")
    edit_copy("notebooks/steps/s1_hello.py", "build/01/my_hello.py", {"World": "you"})
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
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


def unified_diff(old: str, new: str) -> str:
    """`diff -u old new` for two repository files, as text ("": no difference)."""
    return "".join(difflib.unified_diff(
        (ROOT / old).read_text().splitlines(keepends=True),
        (ROOT / new).read_text().splitlines(keepends=True), fromfile=old, tofile=new))


def show_diff(old: str, new: str) -> None:
    """Display what changed from `old` to `new` (repository files).

    Lines starting with `-` were removed, `+` added; the rest is context.
    """
    print(f"$ diff -u {old} {new}")
    diff = unified_diff(old, new)
    display(Code(diff, language="diff") if diff else "(no difference)")


def edit_copy(source: str, destination: str, replacements: Mapping[str, str]) -> Path:
    """Copy repository file `source` to `destination` with each text in `replacements`
    replaced; return the new file's path. Tracked files stay untouched: write to build/.

    Each text to replace must occur exactly once, so an edit cannot land in the wrong place.
    """
    text = (ROOT / source).read_text()
    for old, new in replacements.items():
        found = text.count(old)
        if found != 1:
            raise ValueError(f"{old!r} occurs {found} times in {source}; "
                             "replace a longer piece of text that occurs exactly once")
        text = text.replace(old, new)
    target = ROOT / destination
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target
