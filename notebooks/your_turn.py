"""The judges of the "your turn" cells in notebooks 01-04 and 07 (see tutorial.check).

Exercise content, not a helper: it lives beside the notebooks, as steps/ does, and holds
the answers (read it after trying).

Each takes the learner's answer, or what their command produced (data read back from
Docker or from a file), and returns one sentence saying what is right, or raises
`Wrong` with one sentence saying what is missing. They do not run anything, so
tests/test_your_turn.py can feed each one a wrong answer without Docker.
"""

from __future__ import annotations

import math
import re

from tutorial.check import Wrong

# ---------------------------------------------------------------- notebook 01


def greeting(answer) -> str:
    """set `greeting` to the text your copy of step 1 should send: any Python expression that
    gives a str.
    """
    if not isinstance(answer, str):
        raise Wrong(f"`greeting` is a {type(answer).__name__}, not a str: put your text in "
                    'quotes, e.g. greeting = "Hello from Ada".')
    if not answer.strip():
        raise Wrong("An empty greeting answers with an empty body: write some text between "
                    "the quotes.")
    if answer == "Hello World":
        raise Wrong("That is step 1's own greeting: change it, so you can tell your copy's "
                    "answer from the original's.")
    return f"your copy will answer {answer!r}."


def sigterm_status(answer) -> str:
    """set `predicted` to the exit status Python will report for step 1 stopped by SIGTERM (a
    number).
    """
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise Wrong("Write a whole number, e.g. predicted = 1.")
    if answer == -15:
        return ("-15: step 1 has no SIGTERM handler, so the signal's default action ends "
                "it, and Python reports minus the signal's number.")
    if answer == 143:
        raise Wrong("143 (128 + 15) is what a shell reports; Python's subprocess reports a "
                    "process ended by a signal as minus the signal's number.")
    if answer == 0:
        raise Wrong("0 would mean the program chose to exit; step 1 has no SIGTERM handler, "
                    "so the signal's default action ends it on the spot.")
    raise Wrong("Not quite: SIGTERM is signal 15, and Python reports a process ended by a "
                "signal as minus the signal's number.")


def route(answer) -> str:
    """set `route` to a regular expression for the paths /hello/<name>, with one group (...)
    that captures the name.
    """
    if not isinstance(answer, str):
        raise Wrong(f"`route` is a {type(answer).__name__}: write the pattern as a string, "
                    'e.g. route = r"/hello/(...)".')
    try:
        # Tornado matches a route against the whole path: it appends `$` if missing.
        pattern = re.compile(answer if answer.endswith("$") else answer + "$")
    except re.error as exc:
        raise Wrong(f"{answer!r} is not a valid regular expression ({exc}).") from None
    found = pattern.match("/hello/Ada")
    if not found or found.groups() != ("Ada",):
        raise Wrong(f"{answer!r} must match /hello/Ada with exactly one group (...) that "
                    "captures Ada.")
    if pattern.match("/hello/"):
        raise Wrong(f"{answer!r} also matches /hello/ with an empty name: ask for at least "
                    "one character, with + instead of *.")
    if pattern.match("/hello/Ada/Lovelace"):
        raise Wrong(f"{answer!r} also matches /hello/Ada/Lovelace: keep / out of the name, "
                    "e.g. with [^/]+.")
    return (f"{answer!r} matches /hello/Ada, captures Ada, and rejects /hello/ and "
            "/hello/Ada/Lovelace.")


# ---------------------------------------------------------------- notebook 02


def venv_size(answer) -> str:
    """set `predicted` to "a", "b" or "c": next to the naive image, the venv image is (a) under
    half its size, (b) within 10 % of it, (c) larger.
    """
    if answer == "b":
        return ("multi-stage left behind only the wheelhouse; both images are mostly the "
                "same base image.")
    if answer == "a":
        raise Wrong("Multi-stage drops only what the final stage does not copy, here the "
                    "wheelhouse: both images still carry the whole base image.")
    if answer == "c":
        raise Wrong("The venv image is the same base image plus the same venv, without the "
                    "wheelhouse, so it cannot be larger.")
    raise Wrong('Answer with one letter: "a", "b" or "c".')


def export(answer) -> str:
    """run the three commands that export hello-tornado:latest's files to
    build/hello-rootfs.tar.
    """
    tar_mb, image_mb = answer["tar_bytes"] / 1e6, answer["image_bytes"] / 1e6
    if abs(tar_mb - image_mb) > 0.02 * image_mb:
        raise Wrong(f"build/hello-rootfs.tar holds {tar_mb:.1f} MB of files but "
                    f"hello-tornado:latest is {image_mb:.1f} MB: export a container created "
                    "from hello-tornado:latest.")
    if answer["container_left"]:
        raise Wrong("The tar is right, but the container hello-export is still there: "
                    "remove it with docker rm hello-export.")
    return (f"{answer['files']} files, {tar_mb:.1f} MB: the image is exactly these files, "
            "and hello-export is gone.")


# ---------------------------------------------------------------- notebook 03


def web_container(answer) -> str:
    """start hello-tornado:latest in the background as hello-web, its port 8080 published on
    127.0.0.1 only.
    """
    image = answer["Config"]["Image"]
    if image not in ("hello-tornado:latest", "hello-tornado"):
        raise Wrong(f"hello-web runs {image}, not hello-tornado:latest: remove it "
                    "(docker rm -f hello-web) and run the right image.")
    if not answer["State"]["Running"]:
        raise Wrong(f"hello-web is {answer['State']['Status']}, not running: remove it "
                    "(docker rm hello-web) and start it again with -d.")
    bindings = (answer["HostConfig"].get("PortBindings") or {}).get("8080/tcp")
    if not bindings:
        raise Wrong("hello-web publishes no port 8080: remove it (docker rm -f hello-web) "
                    "and add -p 127.0.0.1::8080.")
    if any(b.get("HostIp") != "127.0.0.1" for b in bindings):
        raise Wrong("hello-web publishes 8080 on every network interface of this machine: "
                    "remove it and write -p 127.0.0.1::8080, so only this machine connects.")
    return "hello-web runs hello-tornado:latest, port 8080 published on 127.0.0.1 only."


def oom_exit(answer) -> str:
    """set `predicted` to the exit code Docker will report for a container killed for going
    past --memory (a number).
    """
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise Wrong("Write a whole number, e.g. predicted = 1.")
    if answer == 137:
        return "137 = 128 + 9: the kernel's OOM killer ends the process with SIGKILL."
    if answer == 143:
        raise Wrong("143 = 128 + 15 would be SIGTERM, a request to stop; the OOM killer does "
                    "not ask, it sends SIGKILL, signal 9.")
    if answer in (0, 1):
        raise Wrong(f"{answer} would mean Python exited by itself; past the limit the kernel "
                    "kills the process before Python can do anything.")
    raise Wrong("Not quite: a process ended by signal N exits with 128 + N, and the OOM "
                "killer's signal is SIGKILL.")


# ---------------------------------------------------------------- notebook 04


def missing_after_stop(answer) -> str:
    """set `predicted` to how many of the accepted messages (answered 202) will be missing
    from the stream after `docker stop` of one replica in the middle of the load (a number).
    """
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise Wrong("Write a whole number, e.g. predicted = 5.")
    if answer == 0:
        return ("0: a replica answers 202 only once Redis has the message, and on SIGTERM "
                "it finishes the requests in flight before it exits.")
    if answer < 0:
        raise Wrong("A count of missing messages cannot be below 0.")
    raise Wrong(f"{answer} would mean a 202 went out for a message Redis does not have; a "
                "replica answers 202 only once Redis has it, and on SIGTERM it finishes "
                "the requests in flight before it exits.")


def workers_up(answer) -> str:
    """run the one docker compose command that keeps the three hello replicas, adds two
    workers, and returns only once every container is healthy.
    """
    running = {"hello": 0, "worker": 0}
    for container in answer:
        if container["State"] == "running" and container["Service"] in running:
            running[container["Service"]] += 1
    if running["worker"] == 0:
        raise Wrong("No worker runs: add --scale worker=2 to docker compose up -d --wait.")
    if running["hello"] != 3:
        raise Wrong(f"{running['hello']} hello replica(s) run, not 3: `up` applies every "
                    "service's scale, so keep --scale hello=3 next to --scale worker=2.")
    if running["worker"] != 2:
        raise Wrong(f"{running['worker']} worker(s) run, not 2: write --scale worker=2.")
    waiting = [c["Name"] for c in answer if c.get("Health") not in ("healthy", "", None)]
    if waiting:
        raise Wrong(f"{', '.join(waiting)} is not healthy yet: add --wait, so that `up` "
                    "returns only once every healthcheck passes.")
    return "3 hello replicas and 2 workers run, every one of them healthy."


# ---------------------------------------------------------------- notebook 07


def costlier_path(answer) -> str:
    """set `predicted` to "direct" or "published": on which path does the service's GET /
    cost more CPU per request, counting docker-proxy's share?
    """
    if answer == "published":
        return ("every request also crosses docker-proxy, which reads and writes each byte "
                "once more, on top of the service's own work.")
    if answer == "direct":
        raise Wrong("On the direct path the service answers wrk itself; the published path "
                    "adds a process, docker-proxy, that copies every byte of every request.")
    raise Wrong('Answer with "direct" or "published".')


def replicas_for(cpu_us: float, rate: int = 5000, share: float = 0.25):
    """A judge for: how many replicas of `share` CPU serve `rate` GET/s at `cpu_us`."""
    cores = rate * cpu_us / 1e6
    needed = math.ceil(cores / share)

    def replicas(answer) -> str:
        """set `replicas_needed` to how many replicas, each limited to 0.25 CPU, it takes to
        serve 5,000 GET / per second at the CPU cost per request measured on the direct
        path (`load["get_direct"]["cpu_us"]`, in µs).
        """
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise Wrong("Write a whole number of replicas, e.g. replicas_needed = 2.")
        if answer == needed:
            return (f"{rate:,} GET/s x {cpu_us:.0f} µs = {cores:.2f} cores, in "
                    f"{share} CPU slices: {needed} replicas.")
        if answer == math.floor(cores / share):
            raise Wrong(f"{answer} replicas give {answer * share:.2f} cores, short of the "
                        f"{cores:.2f} needed: round up.")
        if answer == math.ceil(cores):
            raise Wrong(f"{cores:.2f} cores is right, but each replica gets only {share} of a "
                        "core: divide by the limit.")
        raise Wrong("Cores needed = requests per second x CPU seconds per request (µs / "
                    "1,000,000); then divide by each replica's 0.25 CPU and round up.")
    return replicas
