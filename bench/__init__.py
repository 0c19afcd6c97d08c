"""bench: measure the service — image sizes, start-up time, requests per second, replicas.

    .venv/bin/python -m bench            # the full run (`make bench`): build/bench.json + a table
    .venv/bin/python -m bench --quick    # the short run notebook 07 falls back to

Everything is measured in one run on one machine, next to a yardstick we write
ourselves (a Go `net/http` server in `bench/go-hello/`), because absolute numbers on a
shared 2-core machine move from run to run; ratios within a run move much less.

Modules, in the order a run uses them:
    provision   wrk and Go, installed with apt-get when absent
    images      build the four images and the two Go programs, read sizes and ids
    containers  labelled containers and networks, all removed at the end
    startup     `docker run` -> first HTTP 200, median of several runs
    stage       everything under load: both paths, both loops (EVENT_LOOP), replicas behind go-lb
    wrk         run wrk (one process per target URL), parse and combine what it reports
    cpu         CPU time per request, from the containers' cgroups and docker-proxy
    memory      `docker stats --no-stream`, parsed
    summary     ratios, the issue's targets, the printed table and its Markdown
    runner      one whole run, the plans (full, quick), build/bench.json and its freshness
    readme      `make measured`: the last table into README.md
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
BUILD_DIR = ROOT / "build"
RESULTS = BUILD_DIR / "bench.json"
