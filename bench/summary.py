"""What a run means: ratios within the run, the issue's targets, the printed tables.

Everything here works on the plain dict that build/bench.json holds, so the notebook can
use it on a loaded file as well as on a fresh run.
"""

from __future__ import annotations

import statistics

# The setups under load, in the order they are measured and shown.
LOAD_SETUPS = {
    "go_direct": "Go net/http GET /, direct",
    "get_direct": "service GET /, direct",
    "post_direct": "service POST /enqueue, direct",
    "bare_get": "bare Tornado GET /, direct",
    "go_published": "Go net/http GET /, published port",
    "get_published": "service GET /, published port",
    "post_published": "service POST /enqueue, published port",
    "asyncio_get": "service GET /, EVENT_LOOP=asyncio",
    "uvloop_get": "service GET /, EVENT_LOOP=uvloop",
    "asyncio_post": "service POST /enqueue, EVENT_LOOP=asyncio",
    "uvloop_post": "service POST /enqueue, EVENT_LOOP=uvloop",
    "lb_go": "entry point -> Go, GET /",
    "scale_1": "entry point -> 1 replica, GET /",
    "scale_2": "entry point -> 2 replicas, GET /",
    "scale_3": "entry point -> 3 replicas, GET /",
}
SCALE = ("scale_1", "scale_2", "scale_3")

# ratio key -> (numerator setup, denominator setup, what it says)
RATIOS = {
    "get_vs_go": ("get_direct", "go_direct", "GET / vs the Go server, direct"),
    "get_vs_go_published": ("get_published", "go_published",
                            "GET / vs the Go server, published port"),
    "bare_vs_go": ("bare_get", "go_direct", "bare Tornado GET / vs the Go server, direct"),
    "get_vs_bare": ("get_direct", "bare_get", "service GET / vs bare Tornado, direct"),
    "post_vs_get": ("post_direct", "get_direct", "POST /enqueue vs GET /, direct"),
    "post_vs_get_published": ("post_published", "get_published",
                              "POST /enqueue vs GET /, published port"),
    "go_published_vs_direct": ("go_published", "go_direct",
                               "Go GET /: published port vs direct"),
    "get_published_vs_direct": ("get_published", "get_direct",
                                "service GET /: published port vs direct"),
    "uvloop_vs_asyncio_get": ("uvloop_get", "asyncio_get", "uvloop vs asyncio, GET /"),
    "uvloop_vs_asyncio_post": ("uvloop_post", "asyncio_post",
                               "uvloop vs asyncio, POST /enqueue"),
    "scale_2_vs_1": ("scale_2", "scale_1", "GET /, 2 replicas vs 1 (CPU-limited)"),
    "scale_3_vs_1": ("scale_3", "scale_1", "GET /, 3 replicas vs 1 (CPU-limited)"),
    "lb_go_vs_scale_3": ("lb_go", "scale_3", "entry point -> Go vs -> 3 replicas"),
}

# The targets on load ratios: ratio key -> lowest acceptable value.
TARGETS = {"get_vs_go": 0.10, "post_vs_get": 0.80}
STARTUP_TARGET = 1.5  # production image's docker run -> first 200, at most x the Go image's
SIZE_BUDGET = 20_000_000  # bytes, docker's MB
ADOPT_UVLOOP = 1.15  # uvloop is worth a dependency only if it helps this much

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


def startup_ratio(startup: dict[str, dict]) -> float | None:
    """Median start-up of the production image over the Go image's."""
    if "production" in startup and "go" in startup and startup["go"]["median_s"]:
        return round(startup["production"]["median_s"] / startup["go"]["median_s"], 3)
    return None


def cpu_figures(cpu_s: float, requests: int, duration_s: float) -> dict:
    """What a wrk run cost the servers: CPU per request, and how many cores they used."""
    return {"cpu_s": round(cpu_s, 4),
            "cpu_ms_per_request": round(cpu_s * 1000 / requests, 5) if requests else None,
            "cpu_cores": round(cpu_s / duration_s, 3)}


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
        **{k: statistics.median(r[k] for r in rounds)
           for k in ("cpu_ms_per_request", "cpu_cores", "proxy_cpu_ms_per_request")
           if all(r.get(k) is not None for r in rounds)},
        "rounds": rounds,
    }


def combine_checks(checks: list[dict]) -> dict:
    """The correctness checks of several rounds: counts summed, ok only if all were.
    The in-flight surplus is bounded per round (one per connection), so it is also
    kept round by round."""
    keys = ("accepted_2xx", "in_redis", "lost", "uncounted_in_flight", "non_2xx",
            "socket_errors")
    return {**{k: sum(c[k] for c in checks) for k in keys},
            "uncounted_by_round": [c["uncounted_in_flight"] for c in checks],
            "connections": checks[0].get("connections"),
            "ok": all(c["ok"] for c in checks), "rounds": len(checks)}


def verdicts(ratio_values: dict[str, float], startup: float | None = None,
             production_bytes: int | None = None) -> list[dict]:
    """One entry per target: its value, whether it is met, and how far off it is."""
    out = []
    for key, target in TARGETS.items():
        value = ratio_values.get(key)
        entry = {"ratio": key, "what": RATIOS[key][2], "target": target, "value": value,
                 "at_least": True}
        if value is not None:
            entry["met"] = value >= target
            entry["of_target"] = round(value / target, 3)  # 1.0 = exactly on target
        out.append(entry)
    for key, what, value, limit in (
            ("startup_vs_go", "start-up vs the Go image's", startup, STARTUP_TARGET),
            ("image_mb", "production image, MB",
             production_bytes / MB if production_bytes is not None else None,
             SIZE_BUDGET / MB)):
        entry = {"ratio": key, "what": what, "target": limit, "value": value,
                 "at_least": False}
        if value is not None:
            entry["value"] = round(value, 3)
            entry["met"] = value <= limit
            entry["of_target"] = round(value / limit, 3)
        out.append(entry)
    return out


def cpu_gain(load: dict[str, dict], base: str, other: str) -> float | None:
    """How much less CPU a request costs on `other` than on `base` (>1: cheaper)."""
    a = load.get(base, {}).get("cpu_ms_per_request")
    b = load.get(other, {}).get("cpu_ms_per_request")
    return round(a / b, 3) if a and b else None


def uvloop_verdict(ratio_values: dict[str, float], load: dict[str, dict] | None = None,
                   variant: dict | None = None) -> dict:
    """The rule, fixed before measuring: uvloop goes into the image only if it helps GET
    and POST by ADOPT_UVLOOP or more, both in requests per second and in CPU per request
    (the latter barely moves when the machine is busy with other work; the former does),
    and the image with it stays within SIZE_BUDGET. `variant`: that image's record from
    bench/images.py (its size, or why it was not built)."""
    variant = variant or {}
    variant_bytes = variant.get("bytes")
    get, post = (ratio_values.get(k) for k in ("uvloop_vs_asyncio_get",
                                                "uvloop_vs_asyncio_post"))
    if get is None or post is None:
        skipped = variant.get("error", "the uvloop variant did not build").splitlines()[0]
        return {"measured": False, "adopt": False, "why": f"not measured ({skipped})"}
    load = load or {}
    cpu = {m: cpu_gain(load, f"asyncio_{m}", f"uvloop_{m}") for m in ("get", "post")}
    gains = [get, post, *(v for v in cpu.values() if v is not None)]
    helps = min(gains) >= ADOPT_UVLOOP
    fits = variant_bytes is not None and variant_bytes <= SIZE_BUDGET
    why = f"uvloop/asyncio req/s {get:.2f} (GET), {post:.2f} (POST)"
    if None not in cpu.values():
        why += f"; CPU per request {cpu['get']:.2f}x, {cpu['post']:.2f}x less"
    why += (": all at least" if helps else ": not all above") + f" {ADOPT_UVLOOP:.2f}"
    if variant_bytes is None:
        why += "; the image with it: size unknown"
    else:
        why += (f"; the image with it: {variant_bytes / MB:.1f} MB, "
                + ("within" if fits else "over") + f" the {SIZE_BUDGET / MB:.0f} MB budget")
    return {"measured": True, "adopt": helps and fits, "faster": helps, "fits": fits,
            "variant_bytes": variant_bytes, "get": get, "post": post,
            "cpu_gain_get": cpu["get"], "cpu_gain_post": cpu["post"], "why": why}


def correctness(load: dict, in_redis: int) -> dict:
    """Every 2xx wrk counted must be in Redis. Redis may hold a few more: requests still
    in flight when wrk stopped its clock were served but not counted (at most one per
    connection in each round)."""
    accepted = load["ok"]
    return {
        "accepted_2xx": accepted,
        "in_redis": in_redis,
        "lost": max(0, accepted - in_redis),
        "uncounted_in_flight": max(0, in_redis - accepted),
        "connections": load["connections"],
        "non_2xx": load["non_2xx"],
        "socket_errors": load["socket_errors"],
        "ok": (in_redis >= accepted and in_redis - accepted <= load["connections"]
               and load["non_2xx"] == 0 and load["socket_errors"] == 0),
    }


def _uvloop_word(uv: dict) -> str:
    return "adopt" if uv["adopt"] else "not adopted"


def _mb(n: int | None) -> str:
    return f"{n / MB:8.1f} MB" if n is not None else "       n/a"


def _us(r: dict, key: str) -> str:
    return f"{r[key] * 1000:.0f}" if r.get(key) is not None else "-"


def _num(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _errors(key: str, r: dict) -> int:
    return r["socket_errors"] + (r["non_2xx"] if not key.startswith(("go", "lb")) else 0)


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
                 f"median of {s['rounds']} rounds; direct = host network on 127.0.0.1, "
                 f"published = docker run -p; replicas behind the entry point limited to "
                 f"{s['scale_cpus']} CPU each")
    lines.append(f"  {'setup':<40} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
                 f" {'errors':>7} {'CPU µs/req':>11} {'cores':>6} {'proxy µs/req':>13}")
    for key, title in LOAD_SETUPS.items():
        if key not in results["load"]:
            continue
        r = results["load"][key]
        lat = r["latency_ms"]
        lines.append(f"  {title:<40} {r['rps']:8.0f} {lat['p50']:8.2f} {lat['p90']:8.2f} "
                     f"{lat['p99']:8.2f} {_errors(key, r):7d} {_us(r, 'cpu_ms_per_request'):>11}"
                     f" {_num(r.get('cpu_cores')):>6} "
                     f"{_us(r, 'proxy_cpu_ms_per_request'):>13}")
    lines.append("")

    lines.append("Ratios (same run; absolute numbers move on a shared machine, ratios less)")
    for key, (_, _, what) in RATIOS.items():
        if key in results["ratios"]:
            spread = results.get("ratios_by_round", {}).get(key)
            spread = f"   (rounds: {min(spread):.2f}-{max(spread):.2f})" if spread else ""
            lines.append(f"  {what:<44} {results['ratios'][key]:6.2f}{spread}")
    for v in results["targets"]:
        if v["value"] is None:
            continue
        sign = ">=" if v["at_least"] else "<="
        state = "met" if v["met"] else f"MISSED: {v['of_target']:.0%} of the target"
        lines.append(f"  target {v['what']} {sign} {v['target']:.2f}: {v['value']:.2f} "
                     f"-> {state}")
    uv = results.get("uvloop")
    if uv:
        lines.append(f"  uvloop: {uv['why']} -> {_uvloop_word(uv)}")
    lines.append("")

    lines.append("POST /enqueue correctness (every 2xx wrk counted is in Redis, XLEN)")
    for key, c in results["correctness"].items():
        lines.append(f"  {LOAD_SETUPS[key]:<40} 2xx {c['accepted_2xx']:>7}  in Redis "
                     f"{c['in_redis']:>7}  lost {c['lost']}  errors "
                     f"{c['non_2xx'] + c['socket_errors']}  -> {'OK' if c['ok'] else 'FAILED'}")
    lines.append("")

    lines.append("Memory under load (one docker stats --no-stream while wrk runs)")
    for name, m in results["memory"].items():
        cpu = f"{m['cpu_percent']:4.0f} % CPU" if m.get("cpu_percent") is not None else ""
        lines.append(f"  {name:<10} {m['memory_bytes'] / 2**20:7.1f} MiB  {cpu:>10}   "
                     f"during: {LOAD_SETUPS.get(m.get('during'), '?')}")
    lines.append("")
    lines.append(f"Elapsed: {results['elapsed_s']:.0f} s")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    """The summary as Markdown: the load table, the ratios and targets, the machine."""
    m, s = results["machine"], results["settings"]
    out = [f"Measured {results['created']} ({results['mode']} run, {results['elapsed_s']:.0f} s) "
           f"on {m.get('cpu_model') or 'an unnamed CPU'}, {m['cpus']} CPUs, "
           f"{m.get('os') or 'Linux'}, Docker {m.get('docker_server') or '?'}"
           + (f", load average {m['load_avg_1m']} at the end (the benchmark itself makes about 2)"
              if m.get("load_avg_1m") else "")
           + "; "
           f"`wrk -t{s['threads']} -c{s['connections']} -d{s['duration_s']}s`, median of "
           f"{s['rounds']} rounds; replicas limited to {s['scale_cpus']} CPU each.", "",
           "| setup | req/s | p50 ms | p99 ms | errors | CPU µs/request | cores used |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for key, title in LOAD_SETUPS.items():
        if key in results["load"]:
            r = results["load"][key]
            out.append(f"| {title} | {r['rps']:.0f} | {r['latency_ms']['p50']:.2f} | "
                       f"{r['latency_ms']['p99']:.2f} | {_errors(key, r)} | "
                       f"{_us(r, 'cpu_ms_per_request')} | {_num(r.get('cpu_cores'))} |")
    out += ["", "| ratio (same run) | value | rounds |", "|---|---:|---|"]
    for key, (_, _, what) in RATIOS.items():
        if key in results["ratios"]:
            spread = results.get("ratios_by_round", {}).get(key, [])
            out.append(f"| {what} | {results['ratios'][key]:.2f} | "
                       + ", ".join(f"{r:.2f}" for r in spread) + " |")
    out += ["", "| target | value | verdict |", "|---|---:|---|"]
    for v in results["targets"]:
        if v["value"] is not None:
            sign = "≥" if v["at_least"] else "≤"
            out.append(f"| {v['what']} {sign} {v['target']:.2f} | {v['value']:.2f} | "
                       + ("met" if v["met"] else f"missed ({v['of_target']:.0%})") + " |")
    uv = results.get("uvloop")
    if uv and uv.get("measured"):
        out += ["", f"uvloop: {uv['why']} -> {_uvloop_word(uv)}."]
    out.append("")
    out.append("| image | MB | start-up ms (median) |")
    out.append("|---|---:|---:|")
    for key, img in results["images"].items():
        if "bytes" in img:
            st = results["startup"].get(key)
            ms = f"{st['median_s'] * 1000:.0f}" if st else "–"
            out.append(f"| {img['title']} | {img['bytes'] / MB:.1f} | {ms} |")
    return "\n".join(out)
