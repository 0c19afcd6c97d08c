"""Labelled Docker objects for one benchmark run, and their removal, also after a failure.

Every container and network carries the project's label
`app.kubernetes.io/part-of=hello-microservices` (what `make clean` removes) and the run's
own `hello-microservices/bench=<run id>`, so clean-up never touches what a notebook or a
test running at the same time started.
"""

from __future__ import annotations

import atexit
import subprocess
import uuid
from collections.abc import Mapping, Sequence

from tutorial.containers import label_args, leftovers, remove
from tutorial.net import free_port


class DockerError(RuntimeError):
    pass


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """`docker ARGS...`; stdout, or DockerError with what Docker said."""
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DockerError(f"`docker {' '.join(args)}` did not finish within {timeout} s; "
                          "is the Docker engine overloaded?") from None
    if check and done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip() or "no output"
        raise DockerError(f"`docker {' '.join(args)}` failed ({done.returncode}): {said}")
    return done.stdout


class Resources:
    """The containers and the network one run creates; `remove_all()` removes them."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.label = f"hello-microservices/bench={self.run_id}"
        self.prefix = f"bench-{self.run_id}"
        atexit.register(self.remove_all)

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def _labels(self) -> list[str]:
        return [*label_args(), "--label", self.label]

    def network(self, what: str = "net") -> str:
        name = self.name(what)
        docker("network", "create", *self._labels(), name)
        return name

    def run(
        self,
        what: str,
        image: str,
        *,
        network: str | None = None,
        env: Mapping[str, str] | None = None,
        publish: int | None = None,
        options: Sequence[str] = (),
    ) -> tuple[str, int | None]:
        """`docker run -d` one labelled container; (its name, its 127.0.0.1 port or None)."""
        name = self.name(what)
        argv = ["run", "-d", "--name", name, *self._labels()]
        if network:
            argv += ["--network", network]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        port = None
        if publish is not None:
            port = free_port()
            argv += ["-p", f"127.0.0.1:{port}:{publish}"]
        docker(*argv, *options, image)
        return name, port

    def remove(self, *names: str) -> None:
        if names:
            docker("rm", "-f", *names, check=False)

    def leftovers(self) -> dict[str, list[str]]:
        return leftovers(self.label)

    def remove_all(self) -> dict[str, int]:
        """Remove this run's containers, then its networks; never raises. Counts removed."""
        try:
            found = remove(self.label, echo=False)
            return {kind: len(names) for kind, names in found.items()}
        except (OSError, RuntimeError, subprocess.SubprocessError):
            return {"containers": -1, "networks": -1}
