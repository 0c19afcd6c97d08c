"""One benchmark run and the file it leaves: build/bench.json (`load_fresh()` reads it).

Every setup (summary.SETUPS) is measured `rounds` times, in turn: all once, then all
again. Other work on a shared machine comes in bursts; each setup's median over rounds
spread across the run keeps one burst from deciding a ratio. Bounded: wrk stops itself;
every container and entry point is removed at the end, also after an error or Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import BUILD_DIR, RESULTS, images, summary, wrk
from bench.servers import QUEUE_KEY, Servers, Target
from tests.lab import DockerError, Lab, docker
from tutorial.prereqs import problems

SCHEMA = 4
MAX_AGE_S = 24 * 3600


@dataclass(frozen=True)
class Plan:
    mode: str
    duration_s: int  # of each measured wrk run (each setup gets a 1 s warm-up first)
    rounds: int
    startup_runs: int
    out: Path
    threads: int = 2
    connections: int = 32
    scale_cpus: float = 0.25  # 3 replicas + wrk + entry point + Redis fit in 2 cores


FULL = Plan("full", duration_s=4, rounds=3, startup_runs=7, out=RESULTS)
QUICK = Plan("quick", duration_s=2, rounds=2, startup_runs=5, out=BUILD_DIR / "bench-quick.json")


def measure(target: Target, path: str, plan: Plan, warm_up: bool) -> dict:
    """One wrk run on `target` (after a 1 s warm-up, the first time), with the CPU it cost."""
    url, posts = target.url + path, path == "/enqueue"
    options = {"script": "post.lua" if posts else None, "threads": plan.threads,
               "connections": plan.connections, "duration_s": plan.duration_s}
    if warm_up:  # first connections, first imports, the Redis pool
        wrk.load(url, **{**options, "duration_s": 1})
    if posts:
        time.sleep(0.3)  # earlier pushes have landed: count from an empty queue
        target.redis.cli("DEL", QUEUE_KEY)
    before = [meter() if meter else 0.0 for meter in (target.cpu, target.proxy)]
    result = {**wrk.load(url, **options), "command": " ".join(wrk.command(url, **options))}
    if target.cpu:
        result.update(summary.cpu_figures(target.cpu() - before[0], result["requests"],
                                          plan.duration_s))
    if target.proxy and result["requests"]:
        result["proxy_us"] = round((target.proxy() - before[1]) * 1e6 / result["requests"], 1)
    if posts:
        result["check"] = summary.correctness(result, target.redis.settled_length(),
                                              plan.connections)
    return result


def measure_all(servers: Servers, plan: Plan, log: Callable[[str], None]) -> dict:
    rounds: dict[str, list[dict]] = {key: [] for key in summary.SETUPS}
    mem: dict[str, int] = {}
    sampler = threading.Thread(target=servers.memory, args=(mem,))
    for n in range(1, plan.rounds + 1):
        for key, (title, target, path) in summary.SETUPS.items():
            if n == plan.rounds and key == "scale_3":
                sampler.start()  # while the replicas are loaded
            result = measure(servers.targets[target], path, plan, warm_up=n == 1)
            rounds[key].append(result)
            check = result.get("check")
            log(f"round {n}/{plan.rounds} {title}: {result['rps']:.0f} req/s, p99 "
                f"{result['latency_ms']['p99']:.1f} ms, {result.get('cpu_us', '-')} µs CPU/request"
                + (f"; 2xx {check['accepted_2xx']}, in Redis {check['in_redis']}" if check else ""))
    sampler.join(timeout=60)
    return {"load": {key: summary.combine_rounds(r) for key, r in rounds.items()},
            "correctness": {key: summary.combine_checks([r["check"] for r in values])
                            for key, values in rounds.items() if "check" in values[0]},
            "commands": {key: values[-1]["command"] for key, values in rounds.items()},
            "memory": dict(sorted(mem.items()))}


def machine() -> dict:
    """What the numbers were measured on: they mean little without it."""
    cpuinfo = Path("/proc/cpuinfo")
    models = re.findall(r"^model name\s*: (.*)$", cpuinfo.read_text() if cpuinfo.exists()
                        else "", re.M)
    return {"cpus": os.cpu_count(), "cpu_model": models[0] if models else None,
            "docker_server": docker("version", "--format", "{{.Server.Version}}").stdout.strip(),
            "load_avg_1m": round(os.getloadavg()[0], 1)}  # other work while it measured


def run(plan: Plan = FULL) -> dict:
    """Measure everything once; write `plan.out` (JSON) and return the same dict. Progress
    goes to stdout (JupyterLab shows stderr in pink, as if something were wrong)."""
    began = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f} s] {message}", flush=True)

    if missing := problems("docker", "wrk", "go"):
        raise RuntimeError("the benchmark cannot run here:\n- " + "\n- ".join(missing))
    built = images.build_all()
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench-{run_id}"
    lab = Lab(f"hello-microservices/bench={run_id}")
    servers = Servers(lab, prefix)
    try:
        log(f"start-up: docker run -> first 200, {plan.startup_runs} runs of each image")
        starts = images.startup(lab, prefix, {k: built[k]["tag"] for k in
                                               ("go", "production", "venv")}, plan.startup_runs)
        servers.start(built, plan.scale_cpus)
        log(f"up: {len(servers.targets)} targets; replicas limited to {plan.scale_cpus} CPU")
        measured = measure_all(servers, plan, log)
    finally:
        servers.close()
        removed = lab.remove_all()
        log(f"removed {len(removed['containers'])} containers, {len(removed['networks'])} "
            "network; entry points stopped")
    now = datetime.now(UTC)
    ratio_values = summary.ratios(measured["load"])
    results = {
        "schema": SCHEMA, "mode": plan.mode, "run_id": run_id,
        "created": now.isoformat(timespec="seconds"), "created_unix": now.timestamp(),
        "machine": machine(),
        "settings": {k: v for k, v in asdict(plan).items() if k not in ("mode", "out")},
        "images": built, "startup": starts, **measured, "ratios": ratio_values,
        "ratios_by_round": summary.ratios(measured["load"], by_round=True),
        "targets": {k: ratio_values[k] >= low for k, low in summary.TARGETS.items()},
        "elapsed_s": round(time.perf_counter() - began, 1),
    }
    plan.out.parent.mkdir(parents=True, exist_ok=True)
    plan.out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def load_fresh(paths: tuple[Path, ...] = (FULL.out, QUICK.out)) -> dict | None:
    """The first results file younger than a day that measured the image
    hello-tornado:latest is now; None when there is none (then measure again)."""
    try:
        current = images.size(images.IMAGES["production"][0])["id"]
    except DockerError:
        return None
    return next(filter(None, (fresh(path, current) for path in paths)), None)


def fresh(path: Path, image_id: str, now: float | None = None) -> dict | None:
    """The results in `path` if they are of this format, younger than a day and measured
    the image `image_id`; else None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    age = (now or time.time()) - data.get("created_unix", 0)
    measured = data.get("images", {}).get("production", {}).get("id")
    ok = data.get("schema") == SCHEMA and age < MAX_AGE_S and measured == image_id
    return data if ok else None
