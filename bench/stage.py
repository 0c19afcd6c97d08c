"""The set-up under load: every server the run measures, started once, side by side.

    wrk ─> 127.0.0.1:pG ─> Docker's proxy ─> go-hello          ┐ published path
    wrk ─> 127.0.0.1:pS ─> Docker's proxy ─> hello ─ redis     ┘ (`docker run -p`)

    wrk ─> 127.0.0.1:dG  go-hello  (--network host)           ┐ direct path: no proxy,
    wrk ─> 127.0.0.1:dS  hello ─> 127.0.0.1:r redis (host)     │ every server bound to
    wrk ─> 127.0.0.1:b   bare Tornado app, same image          │
    wrk ─> 127.0.0.1:a/u  hello+uvloop, EVENT_LOOP=asyncio/uvloop│ 127.0.0.1 on the host
    wrk ─> go-lb ─> 1, 2 or 3 replicas, 0.25 CPU each          ┘ network

Direct is what the server itself does; published is what `docker run -p` gives a
learner, and adds Docker's userland proxy to every connection. The scaling series puts
one entry point (bench/go-lb, a round-robin reverse proxy) in front of 1, 2 and 3
CPU-limited replicas, and in front of the Go server, which says what the entry point
alone allows. Every container carries the run's label; `close()` stops the entry points.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import BENCH_DIR, BUILD_DIR
from bench.containers import Resources, docker
from bench.cpu import CpuMeter, ProcessMeter
from tutorial.containers import images as base_images
from tutorial.net import free_port, wait_for_http

QUEUE_KEY = "bench:queue"
HOST = "host"  # docker's host network


@dataclass
class Redis:
    container: str
    port: int = 6379

    def cli(self, *args: str) -> str:
        return docker("exec", self.container, "redis-cli", "-p", str(self.port), *args).strip()

    def queue_length(self) -> int:
        """XLEN of the queue stream once it has stopped moving: requests in flight when
        wrk stopped may still be landing. (No worker runs here: nothing is deleted.)"""
        last = int(self.cli("XLEN", QUEUE_KEY))
        for _ in range(20):
            time.sleep(0.2)
            now = int(self.cli("XLEN", QUEUE_KEY))
            if now == last:
                return now
            last = now
        return last


@dataclass
class Target:
    """One thing wrk can load: base URLs (one wrk each), and what to sample meanwhile."""

    bases: list[str]
    redis: Redis | None = None  # where POST /enqueue lands, for the correctness check
    sampled: dict[str, str] = field(default_factory=dict)  # role -> container
    servers: list[str] = field(default_factory=list)  # whose CPU time serves the requests
    cpu: CpuMeter | None = None
    proxy_port: int | None = None  # published: the host port Docker's proxy listens on
    proxy: ProcessMeter | None = None


class Stage:
    def __init__(self, res: Resources, built: dict[str, dict], scale_cpus: float,
                 log: Callable[[str], None], max_replicas: int = 3) -> None:
        self.res, self.log = res, log
        self.targets: dict[str, Target] = {}
        self.entry_points: list[subprocess.Popen] = []
        self._lb_log = None
        service = built["production"]["tag"]

        # Published path: a bridge network of our own, ports on 127.0.0.1 only.
        network = res.network()
        redis_bridge, _ = res.run("redis", base_images()["REDIS_IMAGE"], network=network)
        go, go_port = res.run("go", built["go"]["tag"], publish=8080)
        hello, hello_port = res.run(
            "hello", service, network=network, publish=8080,
            env={"REDIS_URL": f"redis://{redis_bridge}:6379/0", "QUEUE_KEY": QUEUE_KEY})
        self.targets["go_published"] = Target([f"http://127.0.0.1:{go_port}"], servers=[go],
                                              proxy_port=go_port)
        self.targets["service_published"] = Target([f"http://127.0.0.1:{hello_port}"],
                                                   redis=Redis(redis_bridge), servers=[hello],
                                                   proxy_port=hello_port)

        # Direct path: host network, everything bound to 127.0.0.1.
        redis_port = free_port()
        redis_host, _ = res.run(
            "redis-host", base_images()["REDIS_IMAGE"], network=HOST,
            command=["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port),
                     "--protected-mode", "no", "--save", "", "--appendonly", "no"])
        self.redis_host = Redis(redis_host, redis_port)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        go_direct = self._direct("go-direct", built["go"]["tag"], {})
        try:
            wait_for_http(go_direct[1] + "/", timeout=30)
        except (OSError, TimeoutError) as exc:
            raise RuntimeError(
                f"a container on the host network does not answer on {go_direct[1]} ({exc}). "
                "The direct path needs Linux host networking: Docker Engine on Linux, or "
                "Docker Desktop 4.34+ with host networking turned on (Settings > Resources > "
                "Network)") from exc
        self.targets["go_direct"] = Target([go_direct[1]], sampled={"go-hello": go_direct[0]},
                                           servers=[go_direct[0]])
        hello_direct = self._direct("hello-direct", service, {"REDIS_URL": redis_url})
        self.targets["service_direct"] = Target(
            [hello_direct[1]], redis=self.redis_host, servers=[hello_direct[0]],
            sampled={"hello": hello_direct[0], "redis": redis_host})

        # The floor: a bare Tornado app (bench/bare_tornado.py) in the same image.
        bare = self._direct("bare-tornado", service, {},
                            options=["--entrypoint", "/usr/local/bin/python"],
                            command=["-c", (BENCH_DIR / "bare_tornado.py").read_text()])
        self.targets["bare_direct"] = Target([bare[1]], servers=[bare[0]])

        # The event loops: the production image built with uvloop too (bench/variant.py),
        # on each loop in turn (EVENT_LOOP): the loop is the only difference.
        if "error" not in built.get("uvloop", {"error": "not built"}):
            for loop in ("asyncio", "uvloop"):
                name, url = self._direct(f"loop-{loop}", built["uvloop"]["tag"],
                                         {"REDIS_URL": redis_url, "EVENT_LOOP": loop})
                self.targets[loop] = Target([url], redis=self.redis_host, servers=[name])
                self._check_loop(name, loop)

        # Scaling: CPU-limited replicas behind one entry point each time.
        replicas = []
        for i in range(1, max_replicas + 1):
            replicas.append(self._direct(
                f"replica-{i}", service, {"REDIS_URL": redis_url, "POD_NAME": f"replica-{i}"},
                options=["--cpus", str(scale_cpus)]))
        self.targets["lb_go"] = Target([self._entry_point([go_direct[1]])],
                                       servers=[go_direct[0]])
        for n in range(1, max_replicas + 1):
            self.targets[f"scale_{n}"] = Target(
                [self._entry_point([url for _, url in replicas[:n]])],
                servers=[name for name, _ in replicas[:n]],
                sampled={f"replica-{i}": name for i, (name, _) in enumerate(replicas[:n], 1)})

        for target in self.targets.values():
            for base in target.bases:
                wait_for_http(base + "/", timeout=60)
        services = [self.targets[k].bases[0] for k in ("service_published", "service_direct")]
        services += [self.targets[k].bases[0] for k in ("asyncio", "uvloop") if k in self.targets]
        for url in services + [url for _, url in replicas]:
            wait_for_http(url + "/readyz", timeout=60)  # 200 once Redis answers PING
        for target in self.targets.values():
            target.cpu = CpuMeter.of(target.servers)
            if target.proxy_port:
                target.proxy = ProcessMeter.docker_proxy(target.proxy_port)
        log(f"up: Go and the service on both paths, {len(self.targets) - 4} more direct "
            f"targets, {len(self.entry_points)} entry points; replicas limited to "
            f"{scale_cpus} CPU each")

    def _direct(self, what: str, image: str, env: dict[str, str], *,
                options: list[str] | None = None, command: list[str] | None = None
                ) -> tuple[str, str]:
        """A container on the host network, listening on 127.0.0.1:<free port>."""
        port = free_port()
        name, _ = self.res.run(what, image, network=HOST, options=options or [],
                               env={**env, "ADDRESS": "127.0.0.1", "PORT": str(port),
                                    "QUEUE_KEY": QUEUE_KEY},
                               command=command or [])
        return name, f"http://127.0.0.1:{port}"

    def _check_loop(self, name: str, loop: str) -> None:
        """The service names its running loop's module in its start-up line:
        "asyncio.unix_events" or "uvloop"."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = docker("logs", name, check=False)
            if match := re.search(r"event loop (\S+)\)", out):
                if not match.group(1).startswith(loop):
                    raise RuntimeError(f"{name} did not get the {loop} loop:\n{out}")
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} printed no 'event loop' in its start-up line:\n"
                           f"{docker('logs', name, check=False)}")

    def _entry_point(self, backends: list[str]) -> str:
        """Start bench/go-lb on 127.0.0.1:<free port> in front of `backends`."""
        from bench.images import go_binary

        if self._lb_log is None:
            self._lb_log = open(BUILD_DIR / "bench" / "go-lb.log", "w")  # noqa: SIM115
        port = free_port()
        self.entry_points.append(subprocess.Popen(
            [str(go_binary("go-lb")), "-listen", f"127.0.0.1:{port}", *backends],
            stdout=self._lb_log, stderr=subprocess.STDOUT))
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        for proc in self.entry_points:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._lb_log is not None:
            self._lb_log.close()
