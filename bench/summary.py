"""What a run means: ratios within the run, the issue's targets, the printed table.

Everything here works on the plain dict that build/bench.json holds, so the notebook can
use it on a loaded file as well as on a fresh run.
"""

from __future__ import annotations

import statistics

# The setups under load, in the order they are measured and shown.
LOAD_SETUPS = {
    "go_get": "Go net/http, GET /",
    "get_1": "service GET /, 1 replica",
    "post_1": "service POST /enqueue, 1 replica",
    "get_3": "service GET /, 3 replicas",
    "post_3": "service POST /enqueue, 3 replicas",
}

# ratio key -> (numerator setup, denominator setup, what it says)
RATIOS = {
    "get_vs_go": ("get_1", "go_get", "GET / vs the Go server"),
    "post_vs_get": ("post_1", "get_1", "POST /enqueue vs GET /, 1 replica"),
    "post_vs_get_3": ("post_3", "get_3", "POST /enqueue vs GET /, 3 replicas"),
    "get_3_vs_1": ("get_3", "get_1", "GET /, 3 replicas vs 1"),
    "post_3_vs_1": ("post_3", "post_1", "POST /enqueue, 3 replicas vs 1"),
}

# The targets: ratio key -> lowest acceptable value.
TARGETS = {"get_vs_go": 0.10, "post_vs_get": 0.80}

MB = 1_000_000  # docker's MB


def ratios(load: dict[str, dict]) -> dict[str, float]:
    out = {}
    for key, (num, den, _) in RATIOS.items():
        if num in load and den in load and load[den]["rps"]:
            out[key] = round(load[num]["rps"] / load[den]["rps"], 3)
    return out


def ratios_by_round(load: dict[str, dict]) -> dict[str, list[float]]:
    """The same ratios, round by round (round i of one setup against round i of the
    other): their spread says how far to trust the medians."""
    out = {}
    for key, (num, den, _) in RATIOS.items():
        a = load.get(num, {}).get("rps_rounds", [])
        b = load.get(den, {}).get("rps_rounds", [])
        if a and len(a) == len(b) and all(b):
            out[key] = [round(x / y, 3) for x, y in zip(a, b, strict=True)]
    return out


def combine_rounds(rounds: list[dict]) -> dict:
    """Several rounds of one setup (each `wrk.LoadResult.to_dict()`) -> the setup's
    figures: median req/s and median of each latency percentile; counts summed."""
    percentiles = [k for k in rounds[0]["latency_ms"] if all(k in r["latency_ms"]
                                                             for r in rounds)]
    return {
        "rps": round(statistics.median(r["rps"] for r in rounds), 1),
        "rps_rounds": [r["rps"] for r in rounds],
        "latency_ms": {k: statistics.median(r["latency_ms"][k] for r in rounds)
                       for k in percentiles},
        **{k: sum(r[k] for r in rounds) for k in ("requests", "ok", "non_2xx",
                                                   "socket_errors")},
        "connections": rounds[0]["connections"],
        "rounds": rounds,
    }


def combine_checks(checks: list[dict]) -> dict:
    """The correctness checks of several rounds: counts summed, ok only if all were."""
    keys = ("accepted_2xx", "in_redis", "lost", "uncounted_in_flight", "non_2xx",
            "socket_errors")
    return {**{k: sum(c[k] for c in checks) for k in keys},
            "ok": all(c["ok"] for c in checks), "rounds": len(checks)}


def verdicts(ratio_values: dict[str, float]) -> list[dict]:
    """One entry per target: its value, whether it is met, and how far off it is."""
    out = []
    for key, target in TARGETS.items():
        value = ratio_values.get(key)
        entry = {"ratio": key, "what": RATIOS[key][2], "target": target, "value": value}
        if value is not None:
            entry["met"] = value >= target
            entry["of_target"] = round(value / target, 3)  # 1.0 = exactly on target
        out.append(entry)
    return out


def correctness(load: dict, in_redis: int) -> dict:
    """Every 2xx wrk counted must be in Redis. Redis may hold a few more: requests still
    in flight when wrk stopped its clock were served but not counted (at most one per
    connection)."""
    accepted = load["ok"]
    return {
        "accepted_2xx": accepted,
        "in_redis": in_redis,
        "lost": max(0, accepted - in_redis),
        "uncounted_in_flight": max(0, in_redis - accepted),
        "non_2xx": load["non_2xx"],
        "socket_errors": load["socket_errors"],
        "ok": (in_redis >= accepted and in_redis - accepted <= load["connections"]
               and load["non_2xx"] == 0 and load["socket_errors"] == 0),
    }


def _mb(n: int | None) -> str:
    return f"{n / MB:8.1f} MB" if n is not None else "       n/a"


def table(results: dict) -> str:
    """The readable report of one run (what `python -m bench` prints)."""
    s = results["settings"]
    lines = [f"hello-microservices benchmark ({results['mode']} run, "
             f"{results['machine']['cpus']} CPUs, {results['created']})", ""]

    lines.append("Image sizes (docker image inspect .Size)")
    for img in results["images"].values():
        size = _mb(img.get("bytes")) if "error" not in img else "  not built"
        lines.append(f"  {img['title']:<36} {img['tag']:<24} {size}")
    lines.append("")

    lines.append(f"Start-up: docker run -> first HTTP 200 on GET / "
                 f"(median of {s['startup_runs']}; min-max)")
    for key, st in results["startup"].items():
        title = results["images"][key]["title"]
        lines.append(f"  {title:<36} {st['median_s'] * 1000:7.0f} ms   "
                     f"({st['min_s'] * 1000:.0f}-{st['max_s'] * 1000:.0f} ms)")
    lines.append("")

    lines.append(f"Load: wrk -t{s['threads']} -c{s['connections']} -d{s['duration_s']}s, "
                 f"median of {s['rounds']} rounds (3 replicas: one wrk per replica in "
                 "parallel, req/s summed, worst replica's percentiles)")
    lines.append(f"  {'setup':<36} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
                 f" {'errors':>7}")
    for key, title in LOAD_SETUPS.items():
        if key not in results["load"]:
            continue
        r = results["load"][key]
        lat = r["latency_ms"]
        errors = r["socket_errors"] + (r["non_2xx"] if key != "go_get" else 0)
        lines.append(f"  {title:<36} {r['rps']:8.0f} {lat['p50']:8.2f} {lat['p90']:8.2f} "
                     f"{lat['p99']:8.2f} {errors:7d}")
    lines.append("")

    lines.append("Ratios (same run; absolute numbers move on a shared machine, ratios less)")
    for key, (_, _, what) in RATIOS.items():
        if key in results["ratios"]:
            spread = results.get("ratios_by_round", {}).get(key)
            spread = f"   (rounds: {min(spread):.2f}-{max(spread):.2f})" if spread else ""
            lines.append(f"  {what:<40} {results['ratios'][key]:6.2f}{spread}")
    for v in results["targets"]:
        if v["value"] is None:
            continue
        state = "met" if v["met"] else f"MISSED: {v['of_target']:.0%} of the target"
        lines.append(f"  target {v['what']} >= {v['target']:.2f}: {v['value']:.2f} -> {state}")
    lines.append("")

    lines.append("POST /enqueue correctness (every 2xx wrk counted is in Redis, LLEN)")
    for key, c in results["correctness"].items():
        lines.append(f"  {LOAD_SETUPS[key]:<36} 2xx {c['accepted_2xx']:>7}  in Redis "
                     f"{c['in_redis']:>7}  lost {c['lost']}  non-2xx {c['non_2xx']}  "
                     f"socket errors {c['socket_errors']}  -> {'OK' if c['ok'] else 'FAILED'}")
    lines.append("")

    lines.append("Memory under load (one docker stats --no-stream while wrk runs)")
    for name, m in results["memory"].items():
        cpu = f"{m['cpu_percent']:4.0f} % CPU" if m.get("cpu_percent") is not None else ""
        lines.append(f"  {name:<10} {m['memory_bytes'] / 2**20:7.1f} MiB  {cpu:>10}   "
                     f"during: {LOAD_SETUPS.get(m.get('during'), '?')}")
    lines.append("")
    lines.append(f"Elapsed: {results['elapsed_s']:.0f} s")
    return "\n".join(lines)
