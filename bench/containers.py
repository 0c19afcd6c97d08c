"""Labelled Docker objects for one benchmark run, and their removal, also after a failure.

A quiet `tutorial.containers.Lab` whose objects carry the run's own label
`hello-microservices/bench=<run id>` (besides the project's), so clean-up never touches
what a notebook or a test running at the same time started.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from tutorial.containers import DockerError, Lab, docker

__all__ = ["DockerError", "Resources", "docker"]


class Resources(Lab):
    """The containers and the network one run creates; `remove_all()` removes them."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:8]
        super().__init__("bench", label=f"hello-microservices/bench={self.run_id}", echo=False)
        self.prefix = f"bench-{self.run_id}"

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def network(self, what: str = "net") -> str:
        name = self.name(what)
        super().network(name)
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
        command: Sequence[str] = (),
    ) -> tuple[str, int | None]:
        """`docker run -d` one labelled container; (its name, its 127.0.0.1 port or None)."""
        name = self.name(what)
        port = self.container(name, image, network=network, env=env, publish=publish,
                              options=options, command=command)
        return name, port

    def remove(self, *names: str) -> None:
        if names:
            docker("rm", "-f", *names, check=False)

    def remove_all(self) -> dict[str, int]:
        """Remove this run's containers, then its networks; never raises. Counts removed."""
        try:
            found = super().remove_all()
            return {kind: len(names) for kind, names in found.items()}
        except (OSError, DockerError):
            return {"containers": -1, "networks": -1}
