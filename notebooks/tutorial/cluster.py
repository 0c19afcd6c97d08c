"""What notebook 06 cannot say in one kubectl command: which local cluster this is, how an
image gets into it, and reading kubectl's JSON.

Every step of notebook 06 is a `kubectl` command shown and run by its cell (`tutorial.run`),
and so is every wait (`kubectl wait`, `kubectl rollout status`). This module only turns
what those commands print into answers a cell can assert.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from os.path import relpath
from pathlib import Path

import yaml

from tutorial.shell import run

NAMESPACE = "hello-microservices"
ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "build" / "k8s-06"  # notebook 06's kustomize overlay
#: docker-desktop: Docker Desktop's kubeadm cluster (shares the engine's images);
#: docker-desktop-kind: its kind-based cluster (Docker Desktop 4.38+, nodes desktop-*).
FLAVOURS = ("kind", "minikube", "k3d", "docker-desktop", "docker-desktop-kind")


def detect_flavour(context: str, nodes: Iterable[Mapping]) -> tuple[str, str]:
    """(flavour, cluster name) from the context name, else from `kubectl get nodes -o json`.

    kind names its contexts `kind-<cluster>` and sets providerID `kind://docker/<cluster>/...`;
    k3d uses `k3d-<cluster>`; minikube labels its nodes `minikube.k8s.io/name=<profile>`.
    Docker Desktop keeps the context `docker-desktop` for both of its cluster kinds; with
    the kind provisioner its nodes are `desktop-control-plane`, ... with a `kind://` providerID.
    """
    nodes = list(nodes)
    names = [n["metadata"]["name"] for n in nodes]
    providers = [n.get("spec", {}).get("providerID") or "" for n in nodes]
    profiles = [n["metadata"].get("labels", {}).get("minikube.k8s.io/name") for n in nodes]
    if context.startswith(("kind-", "k3d-")):
        flavour, _, name = context.partition("-")
        return flavour, name
    if context == "docker-desktop" or "docker-desktop" in names:
        kind_based = any(n.startswith("desktop-") for n in names) or any(
            p.startswith("kind://") for p in providers)
        return ("docker-desktop-kind", "desktop") if kind_based else ("docker-desktop",) * 2
    if profile := next(filter(None, profiles), None):
        return "minikube", profile
    if kind := next((p for p in providers if p.startswith("kind://")), None):
        return "kind", kind.split("/")[3]
    return ("minikube", "minikube") if context == "minikube" else ("unknown", context)


def load_image_command(flavour: str, name: str, image: str) -> list[str] | None:
    """The command that copies a local image into the cluster's nodes (None: not needed).

    A local cluster has its own container runtime and image store; it cannot see the
    images `docker build` made. Docker Desktop's kubeadm cluster runs on the same engine;
    its kind-based one does not, and notebook 06 checks its nodes afterwards.
    """
    if flavour not in FLAVOURS:
        raise ValueError(
            f"cannot tell how to load images into this cluster ({flavour}); push {image} to a "
            "registry the cluster can pull from, or use kind, minikube, k3d or Docker Desktop")
    return {"kind": ["kind", "load", "docker-image", image, "--name", name],
            "minikube": ["minikube", "image", "load", image, "--profile", name],
            "k3d": ["k3d", "image", "import", image, "--cluster", name]}.get(flavour)


def unload_image_commands(flavour: str, name: str, nodes: Iterable[str],
                          image: str) -> list[list[str]]:
    """The commands that remove a loaded image from the cluster's nodes again: kind and k3d
    nodes are Docker containers with `crictl` inside; minikube has its own command."""
    if flavour not in FLAVOURS:
        raise ValueError(f"cannot tell how to remove images from this cluster ({flavour})")
    if flavour in ("kind", "k3d"):
        return [["docker", "exec", node, "crictl", "rmi", image] for node in nodes]
    return [["minikube", "image", "rm", image, "--profile", name]] if flavour == "minikube" else []


def short_image_name(reference: str) -> str:
    """`docker.io/library/hello-tornado:0.1.0` (as a node lists it) -> `hello-tornado:0.1.0`."""
    if reference.startswith("docker.io/"):
        return reference.removeprefix("docker.io/").removeprefix("library/")
    return reference


def image_fields(image: str) -> dict[str, str]:
    """kustomize's `images:` fields for a reference: newName plus newTag or digest."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return {"newName": name, "digest": digest}
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag at all (a ":" only in a registry's host:port)
        return {"newName": image, "newTag": "latest"}
    return {"newName": name, "newTag": tag}


def write_overlay(redis_image: str, directory: Path = OVERLAY) -> Path:
    """build/k8s-06/kustomization.yaml: the full k8s/ set, with Redis' image swapped.

    What `kustomize edit set image redis=...` writes: an `images:` entry that rewrites
    every container image named `redis`. k8s/ itself stays untouched.
    """
    directory.mkdir(parents=True, exist_ok=True)
    overlay = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
               "resources": [relpath(ROOT / "k8s", directory.resolve())],
               "images": [{"name": "redis", **image_fields(redis_image)}]}
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    return directory


@dataclass
class Pod:
    """One line of `kubectl get pods`, as far as notebook 06 asserts on it."""

    name: str
    ready: bool  # READY 1/1: the Ready condition is True
    image: str
    ip: str | None
    reason: str | None  # STATUS when a container waits: ErrImagePull, CrashLoopBackOff, ...
    restarts: int
    last_exit_code: int | None  # of the container's previous run (logs --previous)


def parse_pods(listing: str) -> list[Pod]:
    """`kubectl get pods -o json`, minus the pods being deleted (STATUS Terminating)."""
    pods = []
    for item in json.loads(listing)["items"]:
        if item["metadata"].get("deletionTimestamp"):
            continue
        status = item.get("status", {})
        (container, *_) = status.get("containerStatuses") or [{}]
        last = container.get("lastState", {}).get("terminated") or {}
        pods.append(Pod(
            item["metadata"]["name"],
            any(c["type"] == "Ready" and c["status"] == "True"
                for c in status.get("conditions", [])),
            item["spec"]["containers"][0]["image"], status.get("podIP"),
            container.get("state", {}).get("waiting", {}).get("reason"),
            container.get("restartCount", 0), last.get("exitCode")))
    return sorted(pods, key=lambda pod: pod.name)


def pods(selector: str = "app.kubernetes.io/name=hello") -> list[Pod]:
    """The live pods `kubectl -n hello-microservices get pods -l SELECTOR` lists."""
    return parse_pods(run(["kubectl", "-n", NAMESPACE, "get", "pods", "-l", selector,
                           "-o", "json"], quiet=True))


def queue_drained(stream: Mapping, group: Mapping) -> bool:
    """From `redis-cli --json XINFO STREAM` and one group of `XINFO GROUPS`: every entry the
    stream ever got was delivered to a consumer (last-delivered-id = last-generated-id)
    and acknowledged (pending 0). Unlike `lag`, this holds also when consumers delete
    the entries they handled."""
    return group["pending"] == 0 and group["last-delivered-id"] == stream["last-generated-id"]


def message_ids(xrange: str) -> set[str]:
    """The message ids in `redis-cli --json XRANGE hello:queue - +`: every entry is
    [stream id, ["message", the service's JSON envelope]]."""
    return {json.loads(fields[1])["id"] for _, fields in json.loads(xrange)}
