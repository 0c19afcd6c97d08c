"""One benchmark run, start to finish, and the file it leaves: build/bench.json.

    results = run(FULL)                  # what `python -m bench` does
    results = load_fresh() or run(QUICK)   # what notebook 07 does

The set-up under load, all on this machine, every port on 127.0.0.1 only:

    wrk ──> 127.0.0.1:p0 ──> go-hello                      (the yardstick)
    wrk ──> 127.0.0.1:p1 ──> hello-1 ─┐
    wrk ──> 127.0.0.1:p2 ──> hello-2 ─┼── bench network ──> redis
    wrk ──> 127.0.0.1:p3 ──> hello-3 ─┘

Bounded: every wrk run stops by itself after its duration (and is killed 30 s later if
it does not); every container is removed at the end, also after an error or Ctrl-C.
"""

from __future__ import annotations

import json
import os
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
from tutorial.containers import LABEL as PART_OF
from tutorial.containers import images as base_images
from tutorial.net import wait_for_http

SCHEMA = 2
QUEUE_KEY = "bench:queue"
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
    out: Path


FULL = Plan("full", duration_s=5, rounds=3, warmup_s=1, threads=2, connections=32,
            startup_runs=7, out=RESULTS_FULL)
QUICK = Plan("quick", duration_s=2, rounds=2, warmup_s=1, threads=2, connections=32,
             startup_runs=5, out=RESULTS_QUICK)


def stderr_log(began: float) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f} s] {message}", file=sys.stderr, flush=True)
    return log


class Load:
    """The running set-up: the Go yardstick, Redis, three replicas, their URLs."""

    def __init__(self, res: Resources, built: dict[str, dict], log: Callable[[str], None]):
        self.res, self.log = res, log
        network = res.network()
        self.redis, _ = res.run("redis", base_images()["REDIS_IMAGE"], network=network)
        self.go, go_port = res.run("go", built["go"]["tag"], publish=8080)
        self.replicas: list[tuple[str, int]] = []
        for i in (1, 2, 3):
            self.replicas.append(res.run(
                f"hello-{i}", built["production"]["tag"], network=network, publish=8080,
                env={"REDIS_URL": f"redis://{self.redis}:6379/0", "QUEUE_KEY": QUEUE_KEY,
                     "POD_NAME": f"hello-{i}"}))
        self.go_url = f"http://127.0.0.1:{go_port}"
        self.urls = [f"http://127.0.0.1:{port}" for _, port in self.replicas]
        wait_for_http(self.go_url + "/", timeout=30)
        for url in self.urls:
            wait_for_http(url + "/readyz", timeout=30)  # 200 only once Redis answers PING
        log(f"up: go-hello, redis and 3 replicas on network {network}")

    def redis_cli(self, *args: str) -> str:
        return docker("exec", self.redis, "redis-cli", *args).strip()

    def queue_length(self) -> int:
        """LLEN once it has stopped moving: requests in flight when wrk stopped may still
        be landing."""
        last = int(self.redis_cli("LLEN", QUEUE_KEY))
        for _ in range(20):
            time.sleep(0.2)
            now = int(self.redis_cli("LLEN", QUEUE_KEY))
            if now == last:
                return now
            last = now
        return last

    def names(self) -> dict[str, str]:
        """role -> container name, for `docker stats`."""
        roles = {f"hello-{i}": name for i, (name, _) in enumerate(self.replicas, 1)}
        return {**roles, "redis": self.redis, "go-hello": self.go}


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


def measure_load(res: Resources, built: dict[str, dict], plan: Plan,
                 log: Callable[[str], None]) -> tuple[dict, dict, dict]:
    """Every setup, `plan.rounds` times over, in turn: Go, GET 1, POST 1, GET 3, POST 3,
    then again. Other work on a shared machine comes in bursts; taking each setup's
    median over rounds spread across the whole run keeps one burst from deciding a ratio.
    """
    setup = Load(res, built, log)
    one, three = setup.urls[:1], setup.urls
    phases = {  # key -> (base URLs, path, wrk script, containers to sample under load)
        "go_get": ([setup.go_url], "/", "report.lua", {"go-hello": setup.go}),
        "get_1": (one, "/", "report.lua", {}),
        "post_1": (one, "/enqueue", "post.lua", {}),
        "get_3": (three, "/", "report.lua", {}),
        "post_3": (three, "/enqueue", "post.lua",
                   {k: v for k, v in setup.names().items() if k != "go-hello"}),
    }
    rounds: dict[str, list[dict]] = {key: [] for key in phases}
    checks: dict[str, list[dict]] = {key: [] for key, p in phases.items() if p[2] == "post.lua"}
    mem: dict[str, dict] = {}
    for n in range(1, plan.rounds + 1):
        for key, (bases, path, script, sampled) in phases.items():
            urls = [base + path for base in bases]
            options = {"script": script, "threads": plan.threads,
                       "connections": plan.connections}
            if n == 1 and plan.warmup_s:  # first connections, first imports, Redis pool
                wrk.run(urls, duration_s=plan.warmup_s, **options)
            if script == "post.lua":
                time.sleep(0.3)  # let earlier pushes land, then count from an empty queue
                setup.redis_cli("DEL", QUEUE_KEY)
            last = n == plan.rounds
            sampler = (sample_later(sampled, min(1.0, plan.duration_s / 3), mem, key)
                       if sampled and last else None)
            result = wrk.run(urls, duration_s=plan.duration_s, **options).to_dict()
            if sampler:
                sampler.join(timeout=60)
            rounds[key].append(result)
            line = (f"round {n}/{plan.rounds} {summary.LOAD_SETUPS[key]}: "
                    f"{result['rps']:.0f} req/s, p99 {result['latency_ms']['p99']:.1f} ms")
            if key in checks:
                check = summary.correctness(result, setup.queue_length())
                checks[key].append(check)
                line += f"; 2xx {check['accepted_2xx']}, in Redis {check['in_redis']}"
            log(line)
    load = {key: summary.combine_rounds(values) for key, values in rounds.items()}
    correctness = {key: summary.combine_checks(values) for key, values in checks.items()}
    return load, correctness, mem


def machine() -> dict:
    server = docker("version", "--format", "{{.Server.Version}}", check=False).strip()
    return {"cpus": os.cpu_count(), "docker_server": server}


def run(plan: Plan = FULL, log: Callable[[str], None] | None = None,
        write: bool = True) -> dict:
    """Measure everything once; write `plan.out` (JSON) and return the same dict."""
    began = time.perf_counter()
    log = log or stderr_log(began)
    ensure_tools(log)
    built = images.build_all(log)
    res = Resources()
    try:
        started = {"go": built["go"]["tag"], "production": built["production"]["tag"]}
        if plan.mode == "full" and "error" not in built["venv"]:
            started["venv"] = built["venv"]["tag"]
        starts = startup.measure(res, started, plan.startup_runs, log)
        load, correctness, mem = measure_load(res, built, plan, log)
    except DockerError as exc:
        if "No such container" in str(exc) or "is not running" in str(exc):
            raise DockerError(
                f"{exc}\nA container of this run disappeared while it was measured: something "
                f"else removed it (`make clean`, or a test session cleaning up everything "
                f"labelled {PART_OF}). Run the benchmark again when nothing else does.") from exc
        raise
    finally:
        removed = res.remove_all()
        log(f"removed {removed['containers']} containers, {removed['networks']} network")
    now = datetime.now(UTC)
    ratio_values = summary.ratios(load)
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
        "targets": summary.verdicts(ratio_values),
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
