"""`python -m bench`: measure, write build/bench.json, print the report.

    python -m bench [--quick]     measure (quick: the short run of notebook 07)
    python -m bench --markdown    only print the last full run's report as Markdown

Exit status 0: every POST /enqueue accepted is in Redis, no errors; 1: not so (see the
report); 2: it could not run. Missed targets are facts to act on, not failures.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from bench import RESULTS, runner, summary
from tests.lab import DockerError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short run")
    parser.add_argument("--markdown", action="store_true",
                        help="print build/bench.json's report as Markdown, measure nothing")
    args = parser.parse_args(argv)
    if args.markdown:
        print(summary.table(json.loads(RESULTS.read_text()), markdown=True))
        return 0
    for signum in (signal.SIGTERM, signal.SIGHUP):  # exit, not die: every `finally` runs
        signal.signal(signum, lambda number, _frame: sys.exit(128 + number))
    try:
        results = runner.run(runner.QUICK if args.quick else runner.FULL)
    except (RuntimeError, TimeoutError, DockerError) as exc:  # CommandFailed: a RuntimeError
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 2
    print("\n" + summary.table(results))
    return 0 if all(c["ok"] for c in results["correctness"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
