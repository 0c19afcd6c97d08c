"""Memory (and CPU) per container, from one `docker stats --no-stream`.

`MemUsage` is the container's cgroup memory use as Docker reports it ("21.3MiB /
23.4GiB": used / limit). It is what a Kubernetes `resources.requests.memory` has to
cover, per replica.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from bench.containers import docker

UNITS = {
    "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
}


def parse_size(text: str) -> int:
    """'21.3MiB' -> bytes; Docker mixes binary (MiB) and decimal (MB, kB) units."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", text)
    if not match or match.group(2).upper() not in UNITS:
        raise ValueError(f"not a size: {text!r}")
    return round(float(match.group(1)) * UNITS[match.group(2).upper()])


def parse_percent(text: str) -> float | None:
    text = text.strip().rstrip("%")
    try:
        return float(text)
    except ValueError:
        return None  # "--" for a container that is not running


def parse_stats(output: str) -> dict[str, dict]:
    """`docker stats --no-stream --format '{{json .}}'` lines -> name -> usage."""
    usage = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        used = row["MemUsage"].split("/")[0]
        usage[row["Name"]] = {"memory_bytes": parse_size(used),
                              "cpu_percent": parse_percent(row.get("CPUPerc", ""))}
    return usage


def sample(names: Sequence[str]) -> dict[str, dict]:
    """One `docker stats --no-stream` of `names` (takes about 2 s: CPU% needs 2 readings)."""
    return parse_stats(docker("stats", "--no-stream", "--format", "{{json .}}", *names,
                              timeout=60))
