"""`python -m bench.readme`: put the last full run's summary into README.md's "Measured".

    make measured   # make bench (build/bench.json), then this: rewrite the section
    python -m bench.readme   # only the rewrite, from the last build/bench.json

Only this target writes the section (tests never do), so README.md changes when
someone decides to publish a new measurement, and says when and on what it was taken.
"""

from __future__ import annotations

import json
import sys

from bench import RESULTS, ROOT, summary

BEGIN = "<!-- measured:begin (make measured) -->"
END = "<!-- measured:end -->"


def replace_section(text: str, body: str) -> str:
    """`text` with what lies between BEGIN and END replaced by `body`."""
    head, found, rest = text.partition(BEGIN)
    if not found or END not in rest:
        raise ValueError(f"README.md has no {BEGIN} ... {END} section")
    return f"{head}{BEGIN}\n{body.strip()}\n{END}{rest.split(END, 1)[1]}"


def main() -> int:
    if not RESULTS.is_file():
        print(f"{RESULTS.relative_to(ROOT)} does not exist: run `make bench` first",
              file=sys.stderr)
        return 2
    results = json.loads(RESULTS.read_text())
    readme = ROOT / "README.md"
    readme.write_text(replace_section(readme.read_text(), summary.markdown(results)))
    print(f"README.md: section Measured now shows the run of {results['created']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
