"""bench/: the parsing and the arithmetic behind the numbers (no Docker, no timing)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench import cpu, memory, readme, runner, summary, wrk

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
    values = summary.ratios(load_of(go_direct=20000, get_direct=4000, post_direct=2000,
                                    go_published=10000, get_published=3000,
                                    scale_1=1000, scale_2=1900, scale_3=2700))
    assert values == {"get_vs_go": 0.2, "post_vs_get": 0.5, "get_vs_go_published": 0.3,
                      "go_published_vs_direct": 0.5, "get_published_vs_direct": 0.75,
                      "scale_2_vs_1": 1.9, "scale_3_vs_1": 2.7}
    verdicts = {v["ratio"]: v for v in summary.verdicts(values, 1.6, 19_400_000)}
    assert verdicts["get_vs_go"]["met"] is True
    assert verdicts["post_vs_get"]["met"] is False
    assert verdicts["post_vs_get"]["of_target"] == 0.625
    assert verdicts["startup_vs_go"]["met"] is False  # 1.6 > 1.5: at most is the target
    assert verdicts["image_mb"]["met"] is True and verdicts["image_mb"]["value"] == 19.4


def test_ratios_skip_what_was_not_measured():
    values = summary.ratios(load_of(get_direct=4000, post_direct=3600))
    assert values == {"post_vs_get": 0.9}
    assert [v.get("met") for v in summary.verdicts(values)] == [None, True, None, None]


def test_startup_ratio_is_production_over_go():
    startup = {"go": {"median_s": 0.2}, "production": {"median_s": 0.25}}
    assert summary.startup_ratio(startup) == 1.25
    assert summary.startup_ratio({"go": {"median_s": 0.2}}) is None


@pytest.mark.parametrize(("get", "post", "variant_bytes", "adopt"), [
    (1.20, 1.16, 19_900_000, True),
    (1.20, 1.16, 20_100_000, False),  # fast enough, but the image would miss its budget
    (1.20, 1.16, None, False),  # the variant's size is unknown
    (1.30, 1.10, 19_900_000, False), (1.05, 1.02, 19_900_000, False)])
def test_uvloop_is_adopted_only_if_it_helps_both_and_fits(get, post, variant_bytes, adopt):
    ratios = {"uvloop_vs_asyncio_get": get, "uvloop_vs_asyncio_post": post}
    verdict = summary.uvloop_verdict(ratios, variant={"bytes": variant_bytes})
    assert verdict["adopt"] is adopt
    assert verdict["faster"] is (min(get, post) >= summary.ADOPT_UVLOOP)
    if variant_bytes:
        assert f"{variant_bytes / 1e6:.1f} MB, " + ("within" if variant_bytes <= 20e6
                                                      else "over") in verdict["why"]
    unbuilt = summary.uvloop_verdict({}, variant={"error": "pip download failed:\nno index"})
    assert unbuilt["why"] == "not measured (pip download failed:)"
    assert summary.uvloop_verdict({}) == {"measured": False, "adopt": False,
                                               "why": "not measured (the uvloop variant "
                                                      "did not build)"}


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


def a_run():
    lat = {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0}
    setup = {"rps": 1000.0, "latency_ms": lat, "socket_errors": 0, "non_2xx": 0}
    return {
        "mode": "quick", "created": "2026-01-01T00:00:00+00:00", "elapsed_s": 61.0,
        "machine": {"cpus": 2, "cpu_model": "Intel(R) Test CPU", "os": "Debian",
                    "docker_server": "26.1.5", "load_avg_1m": 3.5},
        "settings": {"threads": 2, "connections": 32, "duration_s": 3, "rounds": 2,
                     "startup_runs": 5, "scale_cpus": 0.25},
        "images": {"production": {"title": "production", "tag": "hello-tornado:latest",
                                  "bytes": 19_400_000},
                   "naive": {"title": "naive", "tag": "hello-tornado:naive", "error": "x"}},
        "startup": {"production": {"median_s": 0.42, "min_s": 0.4, "max_s": 0.5}},
        "load": {key: setup for key in summary.LOAD_SETUPS},
        "correctness": {"post_direct": {"accepted_2xx": 10, "in_redis": 10, "lost": 0,
                                        "non_2xx": 0, "socket_errors": 0, "ok": True}},
        "memory": {"hello": {"memory_bytes": 24 * 2**20, "cpu_percent": 20.0,
                             "during": "post_direct"}},
        "ratios": {"post_vs_get": 1.0},
        "ratios_by_round": {"post_vs_get": [0.9, 1.1]},
        "targets": summary.verdicts({"post_vs_get": 1.0}, None, 19_400_000),
        "uvloop": summary.uvloop_verdict({"uvloop_vs_asyncio_get": 1.05,
                                          "uvloop_vs_asyncio_post": 1.1}),
    }


def test_table_renders_a_whole_run():
    text = summary.table(a_run())
    assert "19.4 MB" in text and "not built" in text
    assert "420 ms" in text
    assert "POST /enqueue vs GET /, direct >= 0.80: 1.00 -> met" in text
    assert "production image, MB <= 20.00: 19.40 -> met" in text
    assert "(rounds: 0.90-1.10)" in text
    assert "not all above 1.15; the image with it: size unknown -> not adopted" in text
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
    load = {"get_direct": {"rps_rounds": [1000, 2000]},
            "post_direct": {"rps_rounds": [900, 1000]}}
    assert summary.ratios_by_round(load) == {"post_vs_get": [0.9, 0.5]}


def test_combine_checks_fails_if_any_round_failed():
    good = {"accepted_2xx": 10, "in_redis": 10, "lost": 0, "uncounted_in_flight": 0,
            "non_2xx": 0, "socket_errors": 0, "ok": True, "connections": 32}
    bad = {**good, "in_redis": 9, "lost": 1, "ok": False}
    combined = summary.combine_checks([good, bad])
    assert combined["ok"] is False and combined["lost"] == 1
    assert combined["accepted_2xx"] == 20 and combined["rounds"] == 2


def test_in_flight_surplus_is_bounded_per_round_not_in_total():
    """Three rounds of 32 connections may leave up to 32 extra each: 90 in all is fine."""
    rounds = [summary.correctness({"ok": 1000, "non_2xx": 0, "socket_errors": 0,
                                   "connections": 32}, 1000 + extra) for extra in (30, 32, 28)]
    combined = summary.combine_checks(rounds)
    assert combined["ok"] is True and combined["uncounted_in_flight"] == 90
    assert combined["uncounted_by_round"] == [30, 32, 28]
    assert max(combined["uncounted_by_round"]) <= combined["connections"]


def test_readme_section_is_replaced_between_its_markers():
    text = f"# x\n\n## Measured\n\n{readme.BEGIN}\nold\n{readme.END}\n\n## Next\n"
    new = readme.replace_section(text, "| a | b |\n")
    assert f"{readme.BEGIN}\n| a | b |\n{readme.END}\n\n## Next\n" in new
    assert "old" not in new and new.startswith("# x\n")
    with pytest.raises(ValueError, match="no"):
        readme.replace_section("# no markers\n", "x")


def test_markdown_summary_is_a_table_with_the_machine():
    text = summary.markdown(a_run())
    assert "| service GET /, direct | 1000 | 1.00 | 3.00 | 0 | - | - |" in text
    assert "Intel(R) Test CPU, 2 CPUs" in text and "load average 3.5" in text
    assert "| POST /enqueue vs GET /, direct | 1.00 | 0.90, 1.10 |" in text
    assert "| production | 19.4 | 420 |" in text


def test_uvloop_needs_cpu_gain_too_when_measured():
    ratios = {"uvloop_vs_asyncio_get": 1.3, "uvloop_vs_asyncio_post": 1.2}
    load = {key: {"cpu_ms_per_request": ms} for key, ms in [
        ("asyncio_get", 0.30), ("uvloop_get", 0.29), ("asyncio_post", 0.50), ("uvloop_post", 0.40)]}
    verdict = summary.uvloop_verdict(ratios, load, {"bytes": 19_000_000})
    assert verdict["cpu_gain_get"] == pytest.approx(1.034, abs=0.001)
    assert verdict["cpu_gain_post"] == 1.25
    assert verdict["adopt"] is False  # GET costs about as much CPU on either loop


def test_cpu_figures():
    assert summary.cpu_figures(0.8, 4000, 4) == {"cpu_s": 0.8, "cpu_ms_per_request": 0.2,
                                                 "cpu_cores": 0.2}
    assert summary.cpu_figures(0.1, 0, 4)["cpu_ms_per_request"] is None


def test_counter_file_finds_this_process_cgroup():
    """The CPU counter of the cgroup this very test runs in (any Linux with /proc)."""
    if not (Path("/proc/self/cgroup").exists() and cpu.CGROUP.is_dir()):
        pytest.skip("no /proc or /sys/fs/cgroup: not Linux")
    path = cpu.counter_file(os.getpid())
    assert path is not None, Path("/proc/self/cgroup").read_text()
    first = cpu.read_ns(path)
    sum(i * i for i in range(200_000))  # burn a little CPU
    assert cpu.read_ns(path) > first
