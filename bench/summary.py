"""What a run means: the ratios within it, the targets, the printed table and its Markdown.

Everything here works on the plain dict build/bench.json holds, so notebook 07 can use
it on a loaded file as well as on a fresh run.
"""

from __future__ import annotations

import re
import statistics

MB = 1_000_000  # docker's MB
SIZE_BUDGET = 20 * MB  # the production image's

# setup -> (title, target in bench/servers.py, path); the order they are measured in.
SETUPS = {
    "go_direct": ("Go net/http GET /, direct", "go_direct", "/"),
    "get_direct": ("service GET /, direct", "service_direct", "/"),
    "post_direct": ("service POST /enqueue, direct", "service_direct", "/enqueue"),
    "bare_get": ("bare Tornado GET /, direct", "bare", "/"),
    "go_published": ("Go net/http GET /, published port", "go_published", "/"),
    "get_published": ("service GET /, published port", "service_published", "/"),
    "post_published": ("service POST /enqueue, published port", "service_published",
                       "/enqueue"),
    "lb_go": ("entry point -> Go, GET /", "lb_go", "/"),
    **{f"scale_{n}": (f"entry point -> {n} replica{'s' * (n > 1)}, GET /", f"scale_{n}", "/")
       for n in (1, 2, 3)},
}
SCALE = ("scale_1", "scale_2", "scale_3")

# ratio -> (numerator setup, denominator setup, what it says), from "num / den: what"
RATIOS = {name: tuple(re.split(r" / |: ", spec, maxsplit=2)) for name, spec in {
    "get_vs_go": "get_direct / go_direct: GET / vs the Go server, direct",
    "bare_vs_go": "bare_get / go_direct: bare Tornado GET / vs the Go server, direct",
    "get_vs_bare": "get_direct / bare_get: service GET / vs bare Tornado, direct",
    "post_vs_get": "post_direct / get_direct: POST /enqueue vs GET /, direct",
    "go_published_vs_direct": "go_published / go_direct: Go GET /: published vs direct",
    "get_published_vs_direct": "get_published / get_direct: service GET /: published vs direct",
    "scale_2_vs_1": "scale_2 / scale_1: GET /, 2 replicas vs 1 (CPU-limited)",
    "scale_3_vs_1": "scale_3 / scale_1: GET /, 3 replicas vs 1 (CPU-limited)",
}.items()}
# The targets of issue 22: the service near Tornado's own cost per request.
TARGETS = {"get_vs_bare": 0.9, "post_vs_get": 0.7}


def ratios(load: dict[str, dict], by_round: bool = False) -> dict:
    """Each ratio of the setups' median req/s, or round by round."""
    def ratio(a: float, b: float) -> float:
        return round(a / b, 3)

    return {name: [ratio(*pair) for pair in zip(load[num]["rps_rounds"],
                                                 load[den]["rps_rounds"], strict=True)]
            if by_round else ratio(load[num]["rps"], load[den]["rps"])
            for name, (num, den, _) in RATIOS.items()}


def cpu_figures(cpu_s: float, requests: int, duration_s: float) -> dict:
    """What a wrk run cost the servers: CPU per request (µs) and the cores they used."""
    return {"cpu_us": round(cpu_s * 1e6 / requests, 1) if requests else None,
            "cores": round(cpu_s / duration_s, 3)}


def combine_rounds(rounds: list[dict]) -> dict:
    """Several rounds of one setup -> its medians (req/s, latencies, CPU); counts summed."""
    def median(key: str, within: str | None = None) -> float | None:
        values = [(r[within] if within else r).get(key) for r in rounds]
        return statistics.median(values) if None not in values else None

    return {
        "rps": median("rps"), "rps_rounds": [r["rps"] for r in rounds],
        "latency_ms": {p: median(p, "latency_ms") for p in rounds[0]["latency_ms"]},
        **{k: sum(r[k] for r in rounds) for k in ("requests", "ok", "non_2xx",
                                                  "socket_errors")},
        **{k: median(k) for k in ("cpu_us", "cores", "proxy_us") if median(k) is not None},
    }


def correctness(result: dict, in_redis: int, connections: int) -> dict:
    """One round of POSTs: every 2xx wrk counted must be in Redis. Redis may hold a few
    more: requests in flight when wrk stopped its clock were served but not counted (at
    most one per connection)."""
    accepted = result["ok"]
    return {"accepted_2xx": accepted, "in_redis": in_redis,
            "lost": max(0, accepted - in_redis),
            "ok": (accepted <= in_redis <= accepted + connections
                   and result["non_2xx"] == result["socket_errors"] == 0)}


def combine_checks(checks: list[dict]) -> dict:
    """The rounds' checks of one setup: counts summed, ok only if every round was."""
    return {**{k: sum(c[k] for c in checks) for k in ("accepted_2xx", "in_redis", "lost")},
            "ok": all(c["ok"] for c in checks), "rounds": len(checks)}


def grid(header: list[str], rows: list[list], markdown: bool) -> list[str]:
    """Rows as a Markdown table, or as aligned text (first column left, the rest right);
    a blank line after it."""
    rows = [[str(cell) for cell in row] for row in [header, *rows]]
    if markdown:
        lines = [f"| {' | '.join(row)} |" for row in rows]
        return [lines[0], "|---|" + "---:|" * (len(header) - 1), *lines[1:], ""]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  " + " ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                            for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
            for row in rows] + [""]


def _num(value: float | None, form: str = ".0f") -> str:
    return "-" if value is None else format(value, form)


def table(results: dict, markdown: bool = False) -> str:
    """The report of one run: what `python -m bench` prints (and `make measured` writes)."""
    m, s, load = results["machine"], results["settings"], results["load"]
    out = [f"{results['mode']} run of {results['created']} ({results['elapsed_s']:.0f} s) on "
           f"{m['cpu_model'] or 'an unnamed CPU'}, {m['cpus']} CPUs, Docker "
           f"{m['docker_server']}, load average {m['load_avg_1m']} at the end (the "
           f"benchmark itself makes about 2); `wrk -t{s['threads']} -c{s['connections']} "
           f"-d{s['duration_s']}s`, median of {s['rounds']} rounds; replicas limited to "
           f"{s['scale_cpus']} CPU each.", ""]
    startup = {key: st["median_s"] * 1000 for key, st in results["startup"].items()}
    images = [[img["title"], img["tag"], f"{img['bytes'] / MB:.1f}", _num(startup.get(key))]
              for key, img in results["images"].items()]
    out += grid(["image", "tag", "MB", "start-up ms (median)"], images, markdown)
    rows = [[SETUPS[key][0], _num(r["rps"]), _num(r["latency_ms"]["p50"], ".2f"),
             _num(r["latency_ms"]["p99"], ".2f"), r["socket_errors"] + r["non_2xx"],
             _num(r.get("cpu_us")), _num(r.get("cores"), ".2f"), _num(r.get("proxy_us"))]
            for key, r in load.items()]
    out += grid(["setup", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs/request",
                 "cores used", "docker-proxy µs/request"], rows, markdown)
    by_round = results["ratios_by_round"]
    rows = [[RATIOS[key][2], f"{value:.2f}", ", ".join(f"{r:.2f}" for r in by_round[key])]
            for key, value in results["ratios"].items()]
    rows += [[f"target: {RATIOS[key][2]} >= {TARGETS[key]}", f"{results['ratios'][key]:.2f}",
              "met" if met else "missed"] for key, met in results["targets"].items()]
    out += grid(["ratio (same run)", "value", "rounds"], rows, markdown)
    rows = [[SETUPS[key][0], c["accepted_2xx"], c["in_redis"], c["lost"],
             "OK" if c["ok"] else "FAILED"] for key, c in results["correctness"].items()]
    out += grid(["POSTs: every 2xx in Redis?", "2xx", "in Redis", "lost", "verdict"], rows,
                markdown)
    rows = [[name, f"{used / 2**20:.1f}"] for name, used in results["memory"].items()]
    out += grid(["container (memory while 3 replicas are loaded)", "MiB"], rows, markdown)
    return "\n".join(out).rstrip()
