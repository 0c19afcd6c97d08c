"""Issue 19: the notebooks' helper package is no bigger than the service it teaches."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_lines(folder: str) -> int:
    return sum(len(p.read_text().splitlines()) for p in (ROOT / folder).rglob("*.py"))


def test_tutorial_helpers_are_at_most_the_size_of_the_service():
    helpers, service = python_lines("notebooks/tutorial"), python_lines("service")
    assert helpers <= service, f"notebooks/tutorial/ has {helpers} lines, service/ {service}"
