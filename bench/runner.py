"""One benchmark run, start to finish, and the file it leaves: build/bench.json.

    results = run(FULL)                  # what `python -m bench` does
    results = load_fresh() or run(QUICK)   # what notebook 07 does

What runs where is drawn in bench/stage.py. Every setup is measured `rounds` times,
in turn, in one run; the medians and the ratios between setups are what it reports.

Bounded: every wrk run stops by itself after its duration (and is killed 30 s later if
it does not); every container is removed and every entry point stopped at the end,
also after an error or Ctrl-C.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import BUILD_DIR, images, memory, startup, summary, wrk
from bench.containers import DockerError, Resources, docker
from bench.provision import ensure_tools
from bench.stage import QUEUE_KEY, Stage
from tutorial.containers import LABEL as PART_OF

SCHEMA = 3
RESULTS_FULL = BUILD_DIR / "bench.json"
RESULTS_QUICK = BUILD_DIR / "bench-quick.json"
MAX_AGE_S = 24 * 3600


@dataclass(frozen=True)
class Plan:
    mode: str
    duration_s: int  # of each measured wrk run
    rounds: int  # every setup is measured this many times, in turn; medians are kept
    warmup_s: int  # an unmeasured wrk run before a setup's first round
    threads: int
    connections: int
    startup_runs: int
    scale_cpus: float  # docker run --cpus of each replica in the scaling series
    out: Path


# 0.25 CPU per replica: 3 replicas (0.75) + wrk + the entry point + Redis fit in 2 cores,
# so the replicas, not the machine, are the limit, and adding one adds capacity.
FULL = Plan("full", duration_s=4, rounds=3, warmup_s=1, threads=2, connections=32,
            startup_runs=7, scale_cpus=0.25, out=RESULTS_FULL)
QUICK = Plan("quick", duration_s=2, rounds=2, warmup_s=1, threads=2, connections=32,
             startup_runs=5, scale_cpus=0.25, out=RESULTS_QUICK)


def progress(began: float, stream=None) -> Callable[[str], None]:
    """A log function: `[  12.3 s] message` lines on stdout (JupyterLab shows stderr in
    pink, as if something were wrong; progress is not)."""
    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f} s] {message}", file=stream or sys.stdout,
              flush=True)
    return log


def sample_later(names: dict[str, str], delay: float, into: dict, during: str) -> threading.Thread:
    """`docker stats` of `names` after `delay` s, in a thread (the load keeps running)."""
    def work() -> None:
        time.sleep(delay)
        try:
            by_name = memory.sample(list(names.values()))
        except Exception as exc:  # a failed sample must not lose the whole run
            into["_error"] = str(exc)
            return
        for role, name in names.items():
            if name in by_name:
                into[role] = {**by_name[name], "during": during}
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


# setup -> (target in the stage, path, wrk script, sample memory during its last round)
PHASES = {
    "go_direct": ("go_direct", "/", "report.lua", True),
    "get_direct": ("service_direct", "/", "report.lua", False),
    "post_direct": ("service_direct", "/enqueue", "post.lua", True),
    "bare_get": ("bare_direct", "/", "report.lua", False),
    "go_published": ("go_published", "/", "report.lua", False),
    "get_published": ("service_published", "/", "report.lua", False),
    "post_published": ("service_published", "/enqueue", "post.lua", False),
    "asyncio_get": ("asyncio", "/", "report.lua", False),
    "uvloop_get": ("uvloop", "/", "report.lua", False),
    "asyncio_post": ("asyncio", "/enqueue", "post.lua", False),
    "uvloop_post": ("uvloop", "/enqueue", "post.lua", False),
    "lb_go": ("lb_go", "/", "report.lua", False),
    "scale_1": ("scale_1", "/", "report.lua", False),
    "scale_2": ("scale_2", "/", "report.lua", False),
    "scale_3": ("scale_3", "/", "report.lua", True),
}


def measure_load(stage: Stage, plan: Plan, log: Callable[[str], None]
                 ) -> tuple[dict, dict, dict]:
    """Every setup, `plan.rounds` times over, in turn (PHASES' order, then again).
    Other work on a shared machine comes in bursts; taking each setup's median over
    rounds spread across the whole run keeps one burst from deciding a ratio."""
    phases = {k: p for k, p in PHASES.items() if p[0] in stage.targets}
    rounds: dict[str, list[dict]] = {key: [] for key in phases}
    checks: dict[str, list[dict]] = {key: [] for key, p in phases.items() if p[2] == "post.lua"}
    mem: dict[str, dict] = {}
    options = {"threads": plan.threads, "connections": plan.connections}
    for n in range(1, plan.rounds + 1):
        for key, (target_key, path, script, sample) in phases.items():
            target = stage.targets[target_key]
            urls = [base + path for base in target.bases]
            if n == 1 and plan.warmup_s:  # first connections, first imports, Redis pool
                wrk.run(urls, script=script, duration_s=plan.warmup_s, **options)
            if script == "post.lua":
                time.sleep(0.3)  # let earlier pushes land, then count from an empty queue
                target.redis.cli("DEL", QUEUE_KEY)
            sampler = (sample_later(target.sampled, min(1.0, plan.duration_s / 3), mem, key)
                       if sample and n == plan.rounds and target.sampled else None)
            cpu_before = target.cpu.read_s() if target.cpu else None
            proxy_before = target.proxy.read_s() if target.proxy else None
            result = wrk.run(urls, script=script, duration_s=plan.duration_s,
                             **options).to_dict()
            if cpu_before is not None:
                result.update(summary.cpu_figures(target.cpu.read_s() - cpu_before,
                                                  result["requests"], plan.duration_s))
            if proxy_before is not None and result["requests"]:
                result["proxy_cpu_ms_per_request"] = round(
                    (target.proxy.read_s() - proxy_before) * 1000 / result["requests"], 5)
            if sampler:
                sampler.join(timeout=60)
            rounds[key].append(result)
            line = (f"round {n}/{plan.rounds} {summary.LOAD_SETUPS[key]}: "
                    f"{result['rps']:.0f} req/s, p99 {result['latency_ms']['p99']:.1f} ms")
            if "cpu_ms_per_request" in result:
                line += (f", {result['cpu_ms_per_request'] * 1000:.0f} µs CPU/request, "
                         f"{result['cpu_cores']:.2f} cores")
            if key in checks:
                check = summary.correctness(result, target.redis.queue_length())
                checks[key].append(check)
                line += f"; 2xx {check['accepted_2xx']}, in Redis {check['in_redis']}"
            log(line)
    load = {key: summary.combine_rounds(values) for key, values in rounds.items()}
    correctness = {key: summary.combine_checks(values) for key, values in checks.items()}
    return load, correctness, mem


def machine() -> dict:
    """What the numbers were measured on: they mean little without it."""
    server = docker("version", "--format", "{{.Server.Version}}", check=False).strip()
    info = {"cpus": os.cpu_count(), "docker_server": server, "kernel": platform.release(),
            "arch": platform.machine(), "cpu_model": None, "os": None, "memory_gib": None,
            # other work on the machine while it was measured (1-minute load average)
            "load_avg_1m": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu_model"] = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                                  if line.startswith("model name")), None)
        meminfo = Path("/proc/meminfo").read_text().split()
        info["memory_gib"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1)
        info["os"] = platform.freedesktop_os_release().get("PRETTY_NAME")
    except (OSError, ValueError, IndexError):
        pass  # not Linux (the engine then runs in a VM): the CPU count is still right
    return info


def run(plan: Plan = FULL, log: Callable[[str], None] | None = None,
        write: bool = True) -> dict:
    """Measure everything once; write `plan.out` (JSON) and return the same dict."""
    began = time.perf_counter()
    log = log or progress(began)
    ensure_tools(log)
    built = images.build_all(log)
    res = Resources()
    stage = None
    try:
        started = {"go": built["go"]["tag"], "production": built["production"]["tag"]}
        if "error" not in built["venv"]:
            started["venv"] = built["venv"]["tag"]
        starts = startup.measure(res, started, plan.startup_runs, log)
        stage = Stage(res, built, plan.scale_cpus, log)
        load, correctness, mem = measure_load(stage, plan, log)
    except DockerError as exc:
        if "No such container" in str(exc) or "is not running" in str(exc):
            raise DockerError(
                f"{exc}\nA container of this run disappeared while it was measured: something "
                f"else removed it (`make clean`, or a test session cleaning up everything "
                f"labelled {PART_OF}). Run the benchmark again when nothing else does.") from exc
        raise
    finally:
        if stage is not None:
            stage.close()
        removed = res.remove_all()
        log(f"removed {removed['containers']} containers, {removed['networks']} network; "
            "entry points stopped")
    now = datetime.now(UTC)
    ratio_values = summary.ratios(load)
    production_bytes = built["production"].get("bytes")
    results = {
        "schema": SCHEMA,
        "mode": plan.mode,
        "run_id": res.run_id,
        "created": now.isoformat(timespec="seconds"),
        "created_unix": now.timestamp(),
        "machine": machine(),
        "settings": {k: v for k, v in asdict(plan).items() if k not in ("mode", "out")},
        "images": built,
        "startup": starts,
        "load": load,
        "correctness": correctness,
        "memory": {k: v for k, v in mem.items() if not k.startswith("_")},
        "ratios": ratio_values,
        "ratios_by_round": summary.ratios_by_round(load),
        "startup_vs_go": summary.startup_ratio(starts),
        "targets": summary.verdicts(ratio_values, summary.startup_ratio(starts),
                                    production_bytes),
        "uvloop": summary.uvloop_verdict(ratio_values, load, built["uvloop"]),
        "elapsed_s": round(time.perf_counter() - began, 1),
    }
    if write:
        plan.out.parent.mkdir(parents=True, exist_ok=True)
        plan.out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def load_fresh(paths: tuple[Path, ...] = (RESULTS_FULL, RESULTS_QUICK),
               max_age_s: float = MAX_AGE_S) -> dict | None:
    """The first results file that is younger than `max_age_s` and measured the image
    `hello-tornado:latest` is now; None when there is none (then measure again)."""
    current = images.inspect(images.SPECS[2].tag)
    for path in paths:
        if reason_stale(path, current, max_age_s) is None:
            return json.loads(path.read_text())
    return None


def reason_stale(path: Path, current: dict | None, max_age_s: float = MAX_AGE_S,
                 now: float | None = None) -> str | None:
    """Why the results in `path` cannot be used now, or None when they can."""
    if not path.is_file():
        return f"{path.name} does not exist"
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return f"{path.name} is not valid JSON"
    if data.get("schema") != SCHEMA:
        return f"{path.name} has another format (schema {data.get('schema')})"
    age = (now if now is not None else time.time()) - data.get("created_unix", 0)
    if age > max_age_s:
        return f"{path.name} is {age / 3600:.0f} h old"
    measured = data.get("images", {}).get("production", {}).get("id")
    if current is None or measured != current["id"]:
        return f"{path.name} measured another image than the current hello-tornado:latest"
    return None
