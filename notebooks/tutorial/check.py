"""Checks for the "your turn" cells: one sentence back, never a traceback.

    answer = ...                                  # the learner's cell, as committed
    check(answer, your_turn.greeting)             # the check cell right after it
    check(answer, your_turn.greeting, strict=True)  # the folded solution: must be right

A *judge* takes the answer (or what the answer produced, e.g. `docker inspect`'s data)
and returns one sentence saying what is right, or raises `Wrong` with one sentence
saying what is missing. Its docstring's first paragraph is the question, shown while the
placeholder `...` is still there, so the committed notebook runs green untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NOT_ANSWERED = ...  # the placeholder a your-turn cell is committed with


class Wrong(AssertionError):
    """Not right yet; the message is the one sentence that says why."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback: the sentence is all that helps.
        return [str(self)]


def question(judge: Callable[[Any], str]) -> str:
    """The judge's docstring's first paragraph, on one line."""
    return " ".join((judge.__doc__ or "").strip().split("\n\n")[0].split())


def check(answer: Any, judge: Callable[[Any], str], *, strict: bool = False) -> None:
    """Judge `answer` and print the verdict; raise Wrong (no traceback) if it is wrong.

    While `answer` is still the placeholder, print "Not answered yet" and the question
    (on stdout: nothing pink in JupyterLab) -- unless `strict`, as in a solution cell.
    """
    if answer is NOT_ANSWERED:
        if strict:
            raise Wrong(f"Not answered: {question(judge)}")
        print(f"Not answered yet: {question(judge)}")
        return
    print(f"Right: {judge(answer)}")
