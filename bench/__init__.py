"""bench: image sizes, start-up time, requests per second and CPU per request, replicas.

    .venv/bin/python -m bench            # the full run (`make bench`): build/bench.json
    .venv/bin/python -m bench --quick    # the short run notebook 07 falls back to

All in one run, next to a yardstick (a Go `net/http` server): absolute numbers on a
shared 2-core machine move from run to run, ratios within a run much less. Modules:
images (build, sizes, start-up), servers (everything under load, drawn there), wrk,
cpu (CPU per request), runner (one run, build/bench.json), summary (ratios, the
report), burst (`python -m bench.burst`). Processes go through the notebooks' own
tutorial.shell; containers through tests/lab.py, the labelled lab the tests use too.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
BUILD_DIR = ROOT / "build"
RESULTS = BUILD_DIR / "bench.json"
