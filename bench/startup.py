"""Start-up time: from `docker run` to the first HTTP 200 on GET /, as a client sees it.

That span holds what Docker does (create the container, its namespaces, network and
port mapping) plus what the process does before it can answer (for Python: start the
interpreter, import Tornado and the service, bind). The Go yardstick's process is ready
within a millisecond or two of starting, so its time is Docker's own cost: the floor
any image pays on this machine. The difference is what the image's process adds.
"""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Callable, Sequence

from bench.containers import Resources


def first_200(port: int, began: float, timeout: float = 30.0) -> float:
    """Seconds from `began` (a perf_counter value) until GET / answers 200."""
    deadline = began + timeout
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
        try:
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return time.perf_counter() - began
        except (OSError, http.client.HTTPException):
            pass  # not listening yet: Docker's proxy accepts, then drops the connection
        finally:
            conn.close()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no HTTP 200 on 127.0.0.1:{port} within {timeout} s")
        time.sleep(0.002)


def time_one(res: Resources, what: str, image: str) -> float:
    began = time.perf_counter()
    name, port = res.run(what, image, publish=8080)
    try:
        return first_200(port, began)
    finally:
        res.remove(name)


def measure(res: Resources, images: dict[str, str], runs: int,
            log: Callable[[str], None]) -> dict[str, dict]:
    """`runs` start-ups of each image (key -> tag), interleaved so that a slow moment of
    the machine hits every image alike. Key -> {'runs_s': [...], 'median_s': ...}."""
    times: dict[str, list[float]] = {key: [] for key in images}
    log(f"start-up: docker run -> first 200, {runs} runs each of {', '.join(images)}")
    for i in range(runs):
        for key, tag in images.items():
            times[key].append(round(time_one(res, f"start-{key}-{i}", tag), 4))
    return {key: summarize(values) for key, values in times.items()}


def summarize(values: Sequence[float]) -> dict:
    return {"runs_s": list(values), "median_s": round(statistics.median(values), 4),
            "min_s": min(values), "max_s": max(values)}
