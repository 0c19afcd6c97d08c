"""Every server the run loads, started once, side by side; all removed at the end.

    wrk ─> 127.0.0.1:pG ─> docker-proxy ─> go-hello                  ┐ published path
    wrk ─> 127.0.0.1:pS ─> docker-proxy ─> hello ─> redis (bridge)   ┘ (`docker run -p`)

    wrk ─> 127.0.0.1:dG  go-hello  (--network host)                  ┐ direct path:
    wrk ─> 127.0.0.1:dS  hello ─> 127.0.0.1:r  redis                  │ every server on
    wrk ─> 127.0.0.1:b   bare Tornado app (bench/bare_tornado.py)    │ the host network,
    wrk ─> go-lb ─> go-hello, or 1, 2, 3 replicas (0.25 CPU each)    ┘ bound to 127.0.0.1

Direct: the server alone; published: what `docker run -p` gives, docker-proxy included.
The entry point in front of the Go server shows what the entry point alone allows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench import BENCH_DIR, cpu
from bench.images import go_binary
from tests.lab import Lab, docker
from tutorial.containers import images
from tutorial.net import free_port, wait_for_http
from tutorial.shell import Background

QUEUE_KEY = "bench:queue"


@dataclass
class Redis:
    container: str
    port: int = 6379

    def cli(self, *args: str) -> str:
        done = docker("exec", self.container, "redis-cli", "-p", str(self.port), *args)
        return done.stdout.strip()

    def settled_length(self) -> int:
        """XLEN once it stops moving: requests in flight when wrk stopped still land (no
        worker runs here, so nothing leaves the stream)."""
        last = -1
        for _ in range(20):
            if (now := int(self.cli("XLEN", QUEUE_KEY))) == last:
                break
            last = now
            time.sleep(0.2)
        return last


@dataclass
class Target:
    url: str
    servers: list[str]  # the containers whose CPU time serves its requests
    ready: str = "/"  # a path that answers 200 once it can serve ("/readyz": Redis too)
    redis: Redis | None = None  # where its POSTs land
    cpu: cpu.Meter | None = None
    proxy: cpu.Meter | None = None  # published path: docker-proxy's CPU


class Servers:
    def __init__(self, lab: Lab, prefix: str) -> None:
        self.lab, self.prefix = lab, prefix
        self.entry_points: list[Background] = []
        self.targets: dict[str, Target] = {}

    def start(self, built: dict[str, dict], scale_cpus: float) -> None:
        """Every server, each ready (`close()` stops the entry points, also after a failure)."""
        go, hello = built["go"]["tag"], built["production"]["tag"]
        redis_image = images()["REDIS_IMAGE"]
        # Published: a bridge network of our own; ports published on 127.0.0.1 only.
        self.lab.network(net := self.name("net"))
        self.lab.container(self.name("redis"), redis_image, network=net)
        t = self.targets
        t["go_published"] = self.published("go", go)
        t["service_published"] = self.published("hello", hello, net, Redis(self.name("redis")))
        # Direct: the host network, every server bound to 127.0.0.1.
        port = free_port()
        self.direct("redis-host", redis_image, command=[
            "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--protected-mode",
            "no", "--save", "", "--appendonly", "no"])
        local, redis_url = Redis(self.name("redis-host"), port), f"redis://127.0.0.1:{port}/0"
        t["go_direct"] = self.direct("go-direct", go)
        try:
            wait_for_http(t["go_direct"].url + "/", timeout=30)
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}: the direct path needs Linux host networking (Docker "
                               "Engine on Linux, Docker Desktop 4.34+ with it on)") from exc
        t["service_direct"] = self.direct("hello-direct", hello, {"REDIS_URL": redis_url},
                                          redis=local)
        t["bare"] = self.direct("bare-tornado", hello, options=[
            "--entrypoint", "/usr/local/bin/python"],
            command=["-c", (BENCH_DIR / "bare_tornado.py").read_text()])
        replicas = [self.direct(f"replica-{i}", hello, {"REDIS_URL": redis_url},
                                options=["--cpus", str(scale_cpus)]) for i in (1, 2, 3)]
        t["lb_go"] = self.entry_point([t["go_direct"]])
        for n in (1, 2, 3):
            t[f"scale_{n}"] = self.entry_point(replicas[:n])
        for target in [*t.values(), *replicas]:
            wait_for_http(target.url + target.ready, timeout=60)
            target.cpu = cpu.containers(target.servers)

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def published(self, what: str, image: str, network: str | None = None,
                  redis: Redis | None = None) -> Target:
        env = {"REDIS_URL": f"redis://{redis.container}:6379/0"} if redis else {}
        port = self.lab.container(self.name(what), image, network=network, publish=8080,
                                  env={**env, "QUEUE_KEY": QUEUE_KEY})
        return Target(f"http://127.0.0.1:{port}", [self.name(what)], "/readyz" if redis else "/",
                      redis, proxy=cpu.docker_proxy(port))

    def direct(self, what: str, image: str, env: dict | None = None,
               redis: Redis | None = None, **options) -> Target:
        """A container on the host network, listening on 127.0.0.1:<a free port>."""
        port = free_port()
        self.lab.container(self.name(what), image, network="host", **options, env={
            **(env or {}), "ADDRESS": "127.0.0.1", "PORT": str(port), "QUEUE_KEY": QUEUE_KEY})
        return Target(f"http://127.0.0.1:{port}", [self.name(what)],
                      "/readyz" if env and "REDIS_URL" in env else "/", redis)

    def entry_point(self, backends: list[Target]) -> Target:
        """bench/go-lb on 127.0.0.1:<a free port>, round robin over `backends`."""
        port = free_port()
        self.entry_points.append(Background([str(go_binary("go-lb")), "-listen",
                                             f"127.0.0.1:{port}", *(b.url for b in backends)],
                                            echo=False))
        return Target(f"http://127.0.0.1:{port}", [s for b in backends for s in b.servers],
                      backends[0].ready)

    def memory(self, into: dict[str, int]) -> None:
        """One `docker stats --no-stream` (about 2 s): memory in use per server."""
        units = {"B": 1, "kB": 1e3, "KiB": 2**10, "MB": 1e6, "MiB": 2**20, "GiB": 2**30}
        names = sorted({name for target in self.targets.values() for name in target.servers})
        for line in docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}",
                           *names).stdout.splitlines():
            name, used = line.split()[:2]
            number = used.rstrip("BKMGikb")
            into[name.removeprefix(self.prefix + "-")] = round(float(number)
                                                               * units[used[len(number):]])

    def close(self) -> None:
        for entry_point in self.entry_points:
            entry_point.stop(timeout=5)
