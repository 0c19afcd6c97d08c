"""`python -m bench`: measure, write build/bench.json, print the table (also as Markdown).

Exit status: 0 when the measurements ran and POST /enqueue lost nothing and had no
errors; 1 when they did not (the table says which); 2 when the benchmark could not run.
Missed performance targets are reported, not turned into a failure: they are facts about
the service to act on, not a broken benchmark.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from bench import runner, summary
from bench.containers import DockerError
from bench.provision import ToolMissing


def _exit_on_signal(signum: int, _frame) -> None:
    # Raise instead of dying, so every `finally` runs: wrk killed, containers removed.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="the short run (what notebook 07 does without fresh results)")
    args = parser.parse_args(argv)
    plan = runner.QUICK if args.quick else runner.FULL
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    began = time.perf_counter()
    try:
        results = runner.run(plan, log=runner.progress(began))
    except (ToolMissing, DockerError, RuntimeError, TimeoutError) as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the containers are gone already (finally)
        print("python -m bench: interrupted", file=sys.stderr)
        return 130
    print(summary.table(results))
    print("\nThe same, as Markdown (`make measured` puts it into README.md):\n")
    print(summary.markdown(results))
    print(f"\nwrote {plan.out.relative_to(runner.BUILD_DIR.parent)}; "
          f"wall time {time.perf_counter() - began:.0f} s")
    return 0 if all(c["ok"] for c in results["correctness"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
