"""bench/: the parsing and the arithmetic behind the numbers (no Docker, no timing)."""

from __future__ import annotations

import json

import pytest

from bench import memory, runner, summary, wrk

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:40001/enqueue
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.66ms    3.37ms  27.75ms   88.96%
  7467 requests in 2.00s, 1.47MB read
Requests/sec:   3730.98
BENCH_WRK {"requests": 7467, "duration_us": 2000000, "bytes": 1545669, \
"errors": {"connect": 0, "read": 1, "write": 0, "status": 7, "timeout": 2}, \
"latency_us": {"p50": 7840, "p90": 12785, "p99": 21393, "mean": 8664.0, "max": 27753}}
"""


def test_parse_reads_the_report_line():
    result = wrk.parse(WRK_OUTPUT, url="http://x/", connections=32)
    assert result.requests == 7467
    assert result.duration_s == 2.0
    assert result.rps == pytest.approx(3733.5)
    assert result.latency_ms == {"p50": 7.84, "p90": 12.785, "p99": 21.393, "mean": 8.664,
                                 "max": 27.753}
    assert result.non_2xx == 7
    assert result.socket_errors == 3  # read + timeout
    assert result.ok == 7467 - 7
    assert (result.url, result.connections) == ("http://x/", 32)


def test_parse_without_report_line_says_what_is_wrong():
    with pytest.raises(wrk.WrkFailed, match="no BENCH_WRK line"):
        wrk.parse("Running 3s test @ http://127.0.0.1:1/\nunable to connect\n")


def part(requests, seconds, p99, status=0, read=0, connections=10):
    errors = {"connect": 0, "read": read, "write": 0, "status": status, "timeout": 0}
    return wrk.WrkResult(requests, seconds, errors, {"p50": p99 / 2, "p90": p99 * 0.8,
                                                     "p99": p99, "max": p99 * 2},
                         connections=connections)


def test_load_result_sums_rates_and_keeps_worst_percentiles():
    load = wrk.LoadResult([part(1000, 2.0, 10.0), part(900, 3.0, 30.0, status=1),
                           part(600, 2.0, 20.0, read=2, connections=12)])
    assert load.rps == pytest.approx(500 + 300 + 300)
    assert load.requests == 2500
    assert load.ok == 2499
    assert (load.non_2xx, load.socket_errors, load.connections) == (1, 2, 32)
    assert load.latency_ms["p99"] == 30.0
    as_dict = load.to_dict()
    assert as_dict["rps"] == 1100.0 and len(as_dict["wrk"]) == 3
    json.dumps(as_dict)  # goes into bench.json


@pytest.mark.parametrize(("total", "parts", "expected"),
                         [(32, 1, [32]), (32, 3, [11, 11, 10]), (2, 3, [1, 1, 0])])
def test_split_shares_connections(total, parts, expected):
    assert wrk.split(total, parts) == expected
    assert sum(wrk.split(total, parts)) == total


def test_wrk_command_is_bounded():
    argv = wrk.command("http://127.0.0.1:1/", script="post.lua", threads=1, connections=11,
                       duration_s=6)
    assert argv[:5] == ["wrk", "-t1", "-c11", "-d6s", "--timeout=2s"]
    assert argv[-2].endswith("bench/post.lua")
    assert wrk.per_process_threads(2, 3) == 1 and wrk.per_process_threads(2, 1) == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("21.3MiB", round(21.3 * 2**20)), ("512KiB", 512 * 1024), ("1.5GiB", round(1.5 * 2**30)),
    ("980kB", 980_000), ("12MB", 12_000_000), ("0B", 0),
])
def test_parse_size_knows_dockers_units(text, expected):
    assert memory.parse_size(text) == expected


def test_parse_size_rejects_nonsense():
    with pytest.raises(ValueError):
        memory.parse_size("lots")


def test_parse_stats():
    lines = "\n".join(json.dumps(row) for row in [
        {"Name": "bench-1-hello-1", "MemUsage": "24.2MiB / 23.4GiB", "CPUPerc": "21.05%"},
        {"Name": "bench-1-redis", "MemUsage": "5.5MiB / 23.4GiB", "CPUPerc": "--"},
    ])
    stats = memory.parse_stats(lines + "\n")
    assert stats["bench-1-hello-1"] == {"memory_bytes": round(24.2 * 2**20),
                                        "cpu_percent": 21.05}
    assert stats["bench-1-redis"]["cpu_percent"] is None


def load_of(**rps):
    return {key: {"rps": value} for key, value in rps.items()}


def test_ratios_and_verdicts():
    values = summary.ratios(load_of(go_get=20000, get_1=4000, post_1=2000, get_3=6000,
                                    post_3=5400))
    assert values == {"get_vs_go": 0.2, "post_vs_get": 0.5, "post_vs_get_3": 0.9,
                      "get_3_vs_1": 1.5, "post_3_vs_1": 2.7}
    verdicts = {v["ratio"]: v for v in summary.verdicts(values)}
    assert verdicts["get_vs_go"]["met"] is True
    assert verdicts["post_vs_get"]["met"] is False
    assert verdicts["post_vs_get"]["of_target"] == 0.625


def test_ratios_skip_what_was_not_measured():
    values = summary.ratios(load_of(get_1=4000, post_1=3600))
    assert values == {"post_vs_get": 0.9}
    assert [v.get("met") for v in summary.verdicts(values)] == [None, True]


@pytest.mark.parametrize(("in_redis", "ok", "lost"), [
    (1000, True, 0),    # exactly what wrk counted
    (1032, True, 0),    # + one in-flight request per connection: served, not counted
    (1033, False, 0),   # more than that cannot be explained
    (999, False, 1),    # a 2xx that is not in Redis: lost
])
def test_correctness(in_redis, ok, lost):
    load = {"ok": 1000, "non_2xx": 0, "socket_errors": 0, "connections": 32}
    verdict = summary.correctness(load, in_redis)
    assert (verdict["ok"], verdict["lost"]) == (ok, lost)


def test_correctness_fails_on_errors():
    load = {"ok": 1000, "non_2xx": 3, "socket_errors": 0, "connections": 32}
    assert summary.correctness(load, 1000)["ok"] is False


def results_file(tmp_path, **changes):
    data = {"schema": runner.SCHEMA, "created_unix": 1_000_000.0,
            "images": {"production": {"id": "sha256:abc"}}, **changes}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    return path


def test_fresh_results_are_used(tmp_path):
    path = results_file(tmp_path)
    assert runner.reason_stale(path, {"id": "sha256:abc"}, now=1_000_100.0) is None


@pytest.mark.parametrize(("changes", "current", "now", "why"), [
    ({}, {"id": "sha256:abc"}, 1_000_000.0 + 2 * 86400, "h old"),
    ({}, {"id": "sha256:def"}, 1_000_100.0, "another image"),
    ({}, None, 1_000_100.0, "another image"),
    ({"schema": 0}, {"id": "sha256:abc"}, 1_000_100.0, "another format"),
])
def test_stale_results_are_not(tmp_path, changes, current, now, why):
    path = results_file(tmp_path, **changes)
    assert why in runner.reason_stale(path, current, now=now)


def test_missing_results_file(tmp_path):
    assert "does not exist" in runner.reason_stale(tmp_path / "nope.json", None)


def test_table_renders_a_whole_run():
    lat = {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0}
    setup = {"rps": 1000.0, "latency_ms": lat, "socket_errors": 0, "non_2xx": 0}
    results = {
        "mode": "quick", "created": "2026-01-01T00:00:00+00:00", "machine": {"cpus": 2},
        "settings": {"threads": 2, "connections": 32, "duration_s": 3, "rounds": 2,
                     "startup_runs": 5},
        "images": {"production": {"title": "production", "tag": "hello-tornado:latest",
                                  "bytes": 19_400_000},
                   "naive": {"title": "naive", "tag": "hello-tornado:naive", "error": "x"}},
        "startup": {"production": {"median_s": 0.42, "min_s": 0.4, "max_s": 0.5}},
        "load": {key: setup for key in summary.LOAD_SETUPS},
        "correctness": {"post_1": {"accepted_2xx": 10, "in_redis": 10, "lost": 0,
                                   "non_2xx": 0, "socket_errors": 0, "ok": True}},
        "memory": {"hello-1": {"memory_bytes": 24 * 2**20, "cpu_percent": 20.0,
                               "during": "post_3"}},
        "ratios": {"post_vs_get": 1.0},
        "ratios_by_round": {"post_vs_get": [0.9, 1.1]},
        "targets": summary.verdicts({"post_vs_get": 1.0}),
        "elapsed_s": 61.0,
    }
    text = summary.table(results)
    assert "19.4 MB" in text and "not built" in text
    assert "420 ms" in text
    assert "POST /enqueue vs GET /, 1 replica >= 0.80: 1.00 -> met" in text
    assert "(rounds: 0.90-1.10)" in text
    assert "Elapsed: 61 s" in text


def a_round(rps, p99, ok=100, connections=32):
    return {"rps": rps, "requests": ok, "ok": ok, "non_2xx": 0, "socket_errors": 0,
            "connections": connections, "latency_ms": {"p50": p99 / 4, "p99": p99}}


def test_combine_rounds_keeps_medians_and_sums_counts():
    combined = summary.combine_rounds([a_round(1000, 30), a_round(3000, 10),
                                       a_round(1200, 20)])
    assert combined["rps"] == 1200 and combined["rps_rounds"] == [1000, 3000, 1200]
    assert combined["latency_ms"] == {"p50": 5.0, "p99": 20}
    assert (combined["requests"], combined["ok"], combined["connections"]) == (300, 300, 32)


def test_ratios_by_round_pair_rounds_in_order():
    load = {"get_1": {"rps_rounds": [1000, 2000]}, "post_1": {"rps_rounds": [900, 1000]}}
    assert summary.ratios_by_round(load) == {"post_vs_get": [0.9, 0.5]}


def test_combine_checks_fails_if_any_round_failed():
    good = {"accepted_2xx": 10, "in_redis": 10, "lost": 0, "uncounted_in_flight": 0,
            "non_2xx": 0, "socket_errors": 0, "ok": True}
    bad = {**good, "in_redis": 9, "lost": 1, "ok": False}
    combined = summary.combine_checks([good, bad])
    assert combined["ok"] is False and combined["lost"] == 1
    assert combined["accepted_2xx"] == 20 and combined["rounds"] == 2
