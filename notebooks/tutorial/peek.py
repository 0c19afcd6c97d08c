"""Look at a running container from inside the Docker engine, with a short-lived helper.

The host's `/proc` shows a container's process only where the engine runs on this
machine's kernel (not on Docker Desktop: containers live in its Linux VM), and its
namespaces and root directory only to root. A helper container started next to it sees
the same `/proc` from inside the engine, wherever `docker run` works: Linux as a user in
the `docker` group, rootless Docker, Docker Desktop on macOS and Windows.

    peek(["cat", "/proc/1/status"], pid="container:hello-proc")
    peek(["cat", f"/proc/{pid}/status"], pid="host")
"""

from __future__ import annotations

from collections.abc import Sequence

from tutorial.containers import images
from tutorial.shell import run

# The image's own USER. Linux shows another process's /proc/<pid>/root and ns/* only to
# the same user (or to one holding CAP_SYS_PTRACE): as that user the helper needs no
# privilege at all.
HELPER_USER = "65534:65534"
# What a helper may share with the engine's host besides the PID namespace, so that its
# own /proc/self/ns/* shows the host's. (No container can join the host's mount
# namespace without privileges.)
HOST_NAMESPACES = ("--network", "host", "--uts", "host", "--ipc", "host")


def helper_image() -> str:
    """The Python base image notebook 02 built from: it has coreutils (cat, find, ...)."""
    return images()["PYTHON_IMAGE"]


def ensure_helper_image() -> str:
    """Pull the helper image if it is not here yet (BuildKit keeps base images in its own
    cache, not in `docker images`); returns its name. Both commands are printed."""
    image = helper_image()
    if not run(["docker", "image", "ls", "-q", image], quiet=True).strip():
        run(["docker", "pull", image])
    return image


def peek(command: Sequence[str], *, pid: str, host_namespaces: bool = False,
         quiet: bool = False, check: bool = True) -> str:
    """`docker run --rm` COMMAND in a helper that shares a PID namespace; its output.

    The command is printed as you would type it. `pid` is `container:NAME` (the
    target's PID namespace: the target is PID 1 there) or `host` (the engine host's: the
    target has its host PID, `docker inspect`'s State.Pid). `host_namespaces` also
    shares the host's network, uts and ipc namespaces, so /proc/self/ns/* shows the
    host's; otherwise the helper has no network. `--rm` removes the helper when done.
    """
    shared = list(HOST_NAMESPACES) if host_namespaces else ["--network", "none"]
    argv = ["docker", "run", "--rm", "--pid", pid, *shared, "--user", HELPER_USER,
            helper_image(), *command]
    return run(argv, quiet=quiet, check=check)


def status_fields(text: str) -> dict[str, list[str]]:
    """`/proc/<pid>/status` as {field: values}, e.g. {"Uid": ["65534", ...], ...}."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.split()
    return fields
