"""bench/: parsing wrk's report and the arithmetic behind the numbers (no Docker, no timing)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from bench import BENCH_DIR, ROOT, cpu, runner, summary, wrk
from tests.prereq import need

# What wrk 4.1 prints with --latency (a POST run with errors), as a terminal shows it.
REPORT = """\
Running 2s test @ http://127.0.0.1:40001/enqueue
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.66ms    3.37ms   1.02s    88.96%
    Req/Sec     1.88k   123.45     2.00k    70.00%
  Latency Distribution
     50%  784.00us
     75%    9.12ms
     90%   12.79ms
     99%    1.02s
  7467 requests in 2.00s, 1.47MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   3730.98
Transfer/sec:    752.33KB
"""


def test_parse_reads_wrks_own_report():
    result = wrk.parse(REPORT)
    assert result["rps"] == 3730.98 and result["requests"] == 7467
    assert (result["non_2xx"], result["ok"], result["socket_errors"]) == (7, 7460, 3)
    assert result["latency_ms"] == {"p50": 0.784, "p90": 12.79, "p99": 1020.0}


def test_a_clean_report_has_no_errors():
    clean = "\n".join(line for line in REPORT.splitlines()
                      if not line.lstrip().startswith(("Socket", "Non-2xx")))
    result = wrk.parse(clean)
    assert (result["non_2xx"], result["socket_errors"], result["ok"]) == (0, 0, 7467)


def test_parse_says_what_it_got_when_wrk_failed():
    with pytest.raises(ValueError, match="unable to connect"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_wrk_command_is_bounded_and_its_script_exists():
    argv = wrk.command("http://127.0.0.1:1/enqueue", script="post.lua", threads=1,
                       connections=11, duration_s=6)
    assert argv == ["wrk", "-t1", "-c11", "-d6s", "--latency", "--timeout", "2s",
                    "-s", "bench/post.lua", "http://127.0.0.1:1/enqueue"]
    assert (ROOT / argv[-2]).is_file()  # relative to the repository root, where wrk runs
    assert "-s" not in wrk.command("http://127.0.0.1:1/")


def test_setups_and_ratios_name_each_other():
    assert all(n in summary.SETUPS and d in summary.SETUPS for n, d, _ in summary.RATIOS.values())
    assert set(summary.TARGETS) <= set(summary.RATIOS)
    assert set(summary.SCALE) <= set(summary.SETUPS)


def a_load(**rps_rounds):
    return {key: {"rps": sorted(rounds)[len(rounds) // 2], "rps_rounds": rounds}
            for key, rounds in rps_rounds.items()}


def test_ratios_of_medians_and_round_by_round():
    names = {n for pair in summary.RATIOS.values() for n in pair[:2]}
    load = a_load(**{name: [1000.0, 2000.0, 3000.0] for name in names})
    load["post_direct"]["rps_rounds"] = [500.0, 1000.0, 3000.0]
    load["post_direct"]["rps"] = 1000.0
    assert summary.ratios(load)["post_vs_get"] == 0.5
    assert summary.ratios(load, by_round=True)["post_vs_get"] == [0.5, 0.5, 1.0]
    assert summary.ratios(load)["get_vs_go"] == 1.0


def a_round(rps, p99, ok=100, cpu_us=None):
    result = {"rps": rps, "requests": ok, "ok": ok, "non_2xx": 0, "socket_errors": 0,
              "latency_ms": {"p50": p99 / 4, "p99": p99}}
    return result | ({"cpu_us": cpu_us, "cores": 1.0} if cpu_us else {})


def test_combine_rounds_keeps_medians_and_sums_counts():
    combined = summary.combine_rounds([a_round(1000, 30, cpu_us=300), a_round(3000, 10, cpu_us=100),
                                       a_round(1200, 20, cpu_us=200)])
    assert combined["rps"] == 1200 and combined["rps_rounds"] == [1000, 3000, 1200]
    assert combined["latency_ms"] == {"p50": 5.0, "p99": 20}
    assert (combined["requests"], combined["ok"], combined["cpu_us"]) == (300, 300, 200)
    assert "cpu_us" not in summary.combine_rounds([a_round(1000, 30), a_round(900, 20)])


@pytest.mark.parametrize(("in_redis", "ok", "lost"), [
    (1000, True, 0),    # exactly what wrk counted
    (1032, True, 0),    # + one in-flight request per connection: served, not counted
    (1033, False, 0),   # more than that cannot be explained
    (999, False, 1),    # a 2xx that is not in Redis: lost
])
def test_correctness(in_redis, ok, lost):
    verdict = summary.correctness({"ok": 1000, "non_2xx": 0, "socket_errors": 0}, in_redis, 32)
    assert (verdict["ok"], verdict["lost"]) == (ok, lost)


def test_correctness_fails_on_errors_and_in_any_round():
    bad = summary.correctness({"ok": 1000, "non_2xx": 3, "socket_errors": 0}, 1000, 32)
    good = summary.correctness({"ok": 1000, "non_2xx": 0, "socket_errors": 0}, 1010, 32)
    assert bad["ok"] is False and good["ok"] is True
    combined = summary.combine_checks([good, bad])
    assert combined["ok"] is False and combined["in_redis"] == 2010 and combined["rounds"] == 2


def test_cpu_figures():
    assert summary.cpu_figures(0.8, 4000, 4) == {"cpu_us": 200.0, "cores": 0.2}
    assert summary.cpu_figures(0.1, 0, 4)["cpu_us"] is None


def a_run():
    names = {n for pair in summary.RATIOS.values() for n in pair[:2]}
    load = {key: summary.combine_rounds([a_round(1000, 3.0, cpu_us=250),
                                         a_round(1100, 4.0, cpu_us=260)]) for key in names}
    values = summary.ratios(load)
    return {
        "mode": "quick", "created": "2026-01-01T00:00:00+00:00", "elapsed_s": 61.0,
        "machine": {"cpus": 2, "cpu_model": "Test CPU", "docker_server": "26.1.5",
                    "load_avg_1m": 3.5},
        "settings": {"threads": 2, "connections": 32, "duration_s": 2, "rounds": 2,
                     "startup_runs": 5, "scale_cpus": 0.25},
        "images": {"production": {"title": "production", "tag": "hello-tornado:latest",
                                  "bytes": 19_400_000},
                   "naive": {"title": "naive", "tag": "hello-tornado:naive",
                             "bytes": 191_900_000}},
        "startup": {"production": {"median_s": 0.42}},
        "load": load, "ratios": values, "ratios_by_round": summary.ratios(load, by_round=True),
        "targets": {"post_vs_get": True, "get_vs_bare": True},
        "correctness": {"post_direct": {"accepted_2xx": 10, "in_redis": 10, "lost": 0,
                                        "ok": True}},
        "memory": {"replica-1": 24 * 2**20},
    }


def test_report_as_text_and_markdown():
    text = summary.table(a_run())
    assert re.search(r"production +hello-tornado:latest +19\.4 +420\n", text)
    assert re.search(r"naive +hello-tornado:naive +191\.9 +-\n", text)
    assert re.search(r"service GET /, direct +1050 +0\.88 +3\.50 +0 +255 +1\.00 +-\n", text)
    assert re.search(r"POST /enqueue vs GET /, direct +1\.00 +1\.00, 1\.00\n", text)
    assert "Test CPU, 2 CPUs" in text and "load average 3.5" in text
    markdown = summary.table(a_run(), markdown=True)
    assert "| service POST /enqueue, direct | 10 | 10 | 0 | OK |" in markdown
    assert "| replica-1 | 24.0 |" in markdown
    assert markdown.count("|---|") == 5  # one table per section


def results_file(tmp_path, **changes):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"schema": runner.SCHEMA, "created_unix": 1_000_000.0,
                                "images": {"production": {"id": "sha256:abc"}}, **changes}))
    return path


def test_fresh_results_are_used(tmp_path):
    assert runner.fresh(results_file(tmp_path), "sha256:abc", now=1_000_100.0) is not None


@pytest.mark.parametrize(("changes", "image_id", "now"), [
    ({}, "sha256:abc", 1_000_000.0 + 2 * 86400),  # two days old
    ({}, "sha256:def", 1_000_100.0),  # measured another image
    ({"schema": 0}, "sha256:abc", 1_000_100.0),  # another format
])
def test_stale_results_are_not(tmp_path, changes, image_id, now):
    assert runner.fresh(results_file(tmp_path, **changes), image_id, now=now) is None


def test_missing_or_broken_results_file(tmp_path):
    assert runner.fresh(tmp_path / "nope.json", "sha256:abc") is None
    (tmp_path / "bad.json").write_text("{")
    assert runner.fresh(tmp_path / "bad.json", "sha256:abc") is None


def test_counter_file_finds_this_process_cgroup():
    """The CPU counter of the cgroup this very test runs in (any Linux with /proc)."""
    need("linux", None if Path("/proc/self/cgroup").exists() and cpu.CGROUP.is_dir()
         else "no /proc or /sys/fs/cgroup: not Linux")
    path = cpu.counter_file(os.getpid())
    assert path is not None, Path("/proc/self/cgroup").read_text()
    first = cpu.read_ns(path)
    sum(i * i for i in range(200_000))  # burn a little CPU
    assert cpu.read_ns(path) > first


def test_bench_stays_within_its_line_budget():
    """Issue 22: bench/ (Python, Go, Lua, Dockerfile) at most 1,000 lines."""
    files = [p for p in BENCH_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    lines = sum(len(p.read_text().splitlines()) for p in files)
    assert lines <= 1000, f"bench/ has {lines} lines"
