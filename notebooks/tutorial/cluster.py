"""Notebook 06's side of a live cluster: small steps, each one a kubectl command you know.

Everything goes through the official `kubernetes` Python client (pinned in
requirements-dev.txt); the kubectl equivalent of each function is in its docstring.
Two things use the `kubectl` binary itself, through `tutorial.start`, because the
binary does them best and a learner uses it anyway: `kubectl proxy` (HTTP to the
Service) and `kubectl port-forward` (to Redis).

Patches: with this client a dict body is sent as a *strategic merge patch* and a list
as a *JSON patch* (kubernetes/client/rest.py); every call below also names the patch
type explicitly with `_content_type`, so the code says what the API receives.

The manifests are applied with *server-side apply* (the dynamic client's
`server_side_apply`, i.e. `kubectl apply --server-side`): the API server merges and
records which manager owns which field, so re-running the notebook is idempotent.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutorial.containers import LABEL as PART_OF
from tutorial.net import fetch, free_port
from tutorial.shell import Background, run, start

NAMESPACE = "hello-microservices"
HELLO_SELECTOR = "app.kubernetes.io/name=hello,app.kubernetes.io/part-of=hello-microservices"
FIELD_MANAGER = "hello-microservices-tutorial"
REVISION = "deployment.kubernetes.io/revision"
ROOT = Path(__file__).resolve().parents[2]

# Content types of the three patch flavours the API server accepts (plus apply).
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


# ------------------------------------------------------------------- which cluster


@dataclass
class Cluster:
    """The API clients for the current kubeconfig context, and what kind of cluster it is."""

    context: str
    flavour: str  # "kind", "minikube", "k3d", "docker-desktop" or "unknown"
    name: str  # the cluster/profile name the flavour's own CLI expects
    api: Any  # kubernetes.client.ApiClient
    core: Any = field(repr=False, default=None)  # CoreV1Api
    apps: Any = field(repr=False, default=None)  # AppsV1Api
    autoscaling: Any = field(repr=False, default=None)  # AutoscalingV2Api


def detect_flavour(
    context: str, node_names: Iterable[str] = (), node_labels: Iterable[Mapping[str, str]] = (),
    provider_ids: Iterable[str | None] = (),
) -> tuple[str, str]:
    """(flavour, cluster name) from the context name, else from the nodes.

    kind names its contexts `kind-<cluster>` and sets providerID `kind://docker/<cluster>/...`;
    k3d uses `k3d-<cluster>`; minikube labels its nodes `minikube.k8s.io/name=<profile>`;
    Docker Desktop's context and node are both `docker-desktop`.
    """
    node_names, node_labels = list(node_names), list(node_labels)
    if context.startswith("kind-"):
        return "kind", context.removeprefix("kind-")
    if context.startswith("k3d-"):
        return "k3d", context.removeprefix("k3d-")
    if context == "docker-desktop" or "docker-desktop" in node_names:
        return "docker-desktop", "docker-desktop"
    for labels in node_labels:
        if "minikube.k8s.io/name" in labels:
            return "minikube", labels["minikube.k8s.io/name"]
    for provider_id in provider_ids:
        if provider_id and provider_id.startswith("kind://"):
            return "kind", provider_id.split("/")[3]
    if context == "minikube":
        return "minikube", "minikube"
    return "unknown", context


def connect(context: str | None = None) -> Cluster:
    """API clients for `context` (default: the kubeconfig's current one).

    kubectl: `kubectl config current-context`, `kubectl get nodes --show-labels`.
    """
    from kubernetes import client, config

    _, active = config.list_kube_config_contexts()
    context = context or active["name"]
    api = config.new_client_from_config(context=context)
    core = client.CoreV1Api(api)
    nodes = core.list_node(_request_timeout=10).items
    flavour, name = detect_flavour(
        context,
        [n.metadata.name for n in nodes],
        [n.metadata.labels or {} for n in nodes],
        [n.spec.provider_id for n in nodes],
    )
    cluster = Cluster(context, flavour, name, api, core, client.AppsV1Api(api),
                      client.AutoscalingV2Api(api))
    atexit.register(_delete_namespace_quietly, cluster)
    return cluster


def kubectl_problem() -> str | None:
    """None when kubectl is on PATH; notebook 06 uses it for `proxy` and `port-forward`."""
    if shutil.which("kubectl"):
        return None
    return ("`kubectl` is not installed; notebook 06 uses `kubectl proxy` and `kubectl "
            "port-forward`. Install it: https://kubernetes.io/docs/tasks/tools/ "
            "(minikube users: `minikube kubectl --` works too, put it on PATH as kubectl).")


# ------------------------------------------------------------------ images in

def load_image_command(flavour: str, name: str, image: str) -> list[str] | None:
    """The command that copies a local image into the cluster's nodes (None: not needed).

    A local cluster has its own container runtime and image store; it cannot see the
    images `docker build` made, and there is no registry to pull them from. Docker
    Desktop's built-in Kubernetes is the exception: it runs on the same engine.
    """
    commands = {
        "kind": ["kind", "load", "docker-image", image, "--name", name],
        "minikube": ["minikube", "image", "load", image, "--profile", name],
        "k3d": ["k3d", "image", "import", image, "--cluster", name],
        "docker-desktop": None,
    }
    if flavour not in commands:
        raise ValueError(
            f"cannot tell how to load images into this cluster ({flavour}); push {image} to a "
            "registry the cluster can pull from, or use kind, minikube, k3d or Docker Desktop")
    return commands[flavour]


def load_image(cluster: Cluster, image: str) -> None:
    """`kind load docker-image IMAGE` (or the minikube/k3d equivalent), echoed and checked."""
    command = load_image_command(cluster.flavour, cluster.name, image)
    if command is None:
        print(f"{cluster.flavour} shares the Docker engine's images: nothing to load for {image}")
    else:
        run(command)


def build_next_image(base: str, tag: str) -> str:
    """A new image tag that differs from `base` by one label: a 'new release' to roll out.

    Writes build/rollout/Dockerfile (`FROM base` + LABEL) and runs `docker build`. A
    different image id, not just a second tag, so every tool sees a new image.
    """
    context = ROOT / "build" / "rollout"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(
        f"FROM {base}\nLABEL org.opencontainers.image.version=\"{tag.split(':', 1)[1]}\"\n")
    run(["docker", "build", "--label", PART_OF, "-t", tag, str(context)])
    return tag


# ------------------------------------------------------------------ apply


def with_images(manifests: list[dict], images: Mapping[str, str]) -> list[dict]:
    """A copy of `manifests` with container images replaced by container name.

    The same job as kustomize's `images:` (`kustomize edit set image redis=...`): used for
    a Redis image built offline. The files in k8s/ stay untouched.
    """
    import copy

    result = copy.deepcopy(manifests)
    for manifest in result:
        template = manifest.get("spec", {}).get("template", {})
        for container in template.get("spec", {}).get("containers", []):
            if container["name"] in images:
                container["image"] = images[container["name"]]
    return result


def apply(cluster: Cluster, manifests: Iterable[dict]) -> list[str]:
    """Server-side apply every object, in order (the Namespace comes first in k8s/).

    kubectl: `kubectl apply --server-side -k k8s/`. Returns `Kind/name` per object.
    """
    from kubernetes.dynamic import DynamicClient

    dynamic = DynamicClient(cluster.api)
    applied = []
    for manifest in manifests:
        resource = dynamic.resources.get(api_version=manifest["apiVersion"],
                                         kind=manifest["kind"])
        dynamic.server_side_apply(resource, body=manifest,
                                  namespace=manifest["metadata"].get("namespace"),
                                  field_manager=FIELD_MANAGER, force_conflicts=True)
        applied.append(f"{manifest['kind']}/{manifest['metadata']['name']}")
    return applied


# ------------------------------------------------------------------ watching pods


def is_ready(pod: Any) -> bool:
    """The pod's Ready condition is True (what READY 1/1 in `kubectl get pods` shows)."""
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def live_pods(cluster: Cluster, selector: str = HELLO_SELECTOR) -> list[Any]:
    """Pods matching `selector` that are not being deleted.

    kubectl: `kubectl -n hello-microservices get pods -l <selector>` (minus Terminating).
    """
    pods = cluster.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items
    return sorted((p for p in pods if p.metadata.deletion_timestamp is None),
                  key=lambda p: p.metadata.name)


def ready_pod_names(cluster: Cluster, selector: str = HELLO_SELECTOR) -> list[str]:
    return [p.metadata.name for p in live_pods(cluster, selector) if is_ready(p)]


def _progress(total: int, description: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="pod", leave=True)


def _wait(condition: Callable[[], tuple[int, bool]], total: int, description: str,
          timeout: float, explain: Callable[[], str]) -> None:
    """Poll `condition` (-> (progress, done)) twice a second with a progress bar."""
    deadline = time.monotonic() + timeout
    with _progress(total, description) as bar:
        while True:
            count, done = condition()
            bar.n = min(count, total)
            bar.refresh()
            if done:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{description}: not done after {timeout:.0f} s. "
                                   f"{explain()}")
            time.sleep(0.5)


def rollout_state(deployment: Any) -> tuple[int, bool, str]:
    """(updated and available replicas, complete?, why not) — kubectl rollout status's rules.

    Complete means: the controller has seen the latest spec, every replica runs the new
    template, no old replica is left, and all of them are available.
    """
    spec, status = deployment.spec, deployment.status
    wanted = spec.replicas or 0
    if (status.observed_generation or 0) < deployment.metadata.generation:
        return 0, False, "the controller has not seen the new spec yet"
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            raise RuntimeError(f"rollout of {deployment.metadata.name} exceeded its progress "
                               f"deadline: {condition.message}")
    updated, total = status.updated_replicas or 0, status.replicas or 0
    available = status.available_replicas or 0
    if updated < wanted:
        return updated, False, f"{updated} of {wanted} new replicas updated"
    if total > updated:
        return updated, False, f"{total - updated} old replicas pending termination"
    if available < updated:
        return available, False, f"{available} of {updated} updated replicas available"
    return wanted, True, "complete"


def wait_for_rollout(cluster: Cluster, name: str = "hello", timeout: float = 180) -> Any:
    """Block until the Deployment's rollout is complete, with a progress bar.

    kubectl: `kubectl -n hello-microservices rollout status deployment/hello`.
    """
    last: dict[str, Any] = {}

    def condition() -> tuple[int, bool]:
        last["d"] = cluster.apps.read_namespaced_deployment(name, NAMESPACE)
        count, done, last["why"] = rollout_state(last["d"])
        return count, done

    replicas = cluster.apps.read_namespaced_deployment(name, NAMESPACE).spec.replicas or 1
    _wait(condition, replicas, f"rollout {name}", timeout,
          lambda: f"{last.get('why', '')}. Pods: {pod_problems(cluster) or 'no problems seen'}")
    return last["d"]


def wait_for_ready_count(cluster: Cluster, count: int, timeout: float = 120) -> list[str]:
    """Block until exactly `count` hello pods are Ready and none is starting or stopping.

    kubectl: `kubectl -n hello-microservices get pods -l app.kubernetes.io/name=hello -w`.
    """
    def condition() -> tuple[int, bool]:
        pods = cluster.core.list_namespaced_pod(NAMESPACE, label_selector=HELLO_SELECTOR).items
        ready = [p for p in pods if p.metadata.deletion_timestamp is None and is_ready(p)]
        return len(ready), len(ready) == count == len(pods)

    _wait(condition, count, f"{count} ready", timeout, lambda: str(pod_problems(cluster)))
    return ready_pod_names(cluster)


# ------------------------------------------------------------------ changing things


def delete_autoscaler(cluster: Cluster, name: str = "hello") -> bool:
    """kubectl: `kubectl -n hello-microservices delete hpa hello`. False if it was not there."""
    from kubernetes.client.exceptions import ApiException

    try:
        cluster.autoscaling.delete_namespaced_horizontal_pod_autoscaler(name, NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def scale(cluster: Cluster, replicas: int, name: str = "hello") -> None:
    """kubectl: `kubectl -n hello-microservices scale deployment/hello --replicas=N`.

    Like kubectl, a merge patch of the Deployment's `scale` subresource.
    """
    cluster.apps.patch_namespaced_deployment_scale(
        name, NAMESPACE, {"spec": {"replicas": replicas}}, _content_type=MERGE)


def delete_pod(cluster: Cluster, pod: str) -> None:
    """kubectl: `kubectl -n hello-microservices delete pod POD --wait=false`."""
    cluster.core.delete_namespaced_pod(pod, NAMESPACE)


def set_image(cluster: Cluster, image: str, version: str, name: str = "hello") -> None:
    """kubectl: `kubectl -n hello-microservices set image deployment/hello hello=IMAGE`.

    Also sets the pod template's `app.kubernetes.io/version` label, so each pod says which
    release it runs. A strategic merge patch: `containers` is merged by `name`.
    """
    patch = {"spec": {"template": {
        "metadata": {"labels": {"app.kubernetes.io/version": version}},
        "spec": {"containers": [{"name": name, "image": image}]},
    }}}
    cluster.apps.patch_namespaced_deployment(name, NAMESPACE, patch, _content_type=STRATEGIC,
                                             field_manager=FIELD_MANAGER)


def set_env(cluster: Cluster, variable: str, value: str, name: str = "hello") -> None:
    """kubectl: `kubectl -n hello-microservices set env deployment/hello VARIABLE=VALUE`.

    Strategic merge again: `env` is merged by `name`, the other variables stay.
    """
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": name, "env": [{"name": variable, "value": value}]}]}}}}
    cluster.apps.patch_namespaced_deployment(name, NAMESPACE, patch, _content_type=STRATEGIC,
                                             field_manager=FIELD_MANAGER)


@dataclass
class Revision:
    number: int
    replica_set: str
    image: str
    replicas: int


def history(cluster: Cluster, name: str = "hello") -> list[Revision]:
    """The Deployment's revisions, oldest first: one ReplicaSet per pod template.

    kubectl: `kubectl -n hello-microservices rollout history deployment/hello`. The revision
    number is the ReplicaSet's `deployment.kubernetes.io/revision` annotation; only
    ReplicaSets owned by this Deployment (ownerReferences) count.
    """
    deployment = cluster.apps.read_namespaced_deployment(name, NAMESPACE)
    selector = ",".join(f"{k}={v}" for k, v in deployment.spec.selector.match_labels.items())
    revisions = []
    for rs in cluster.apps.list_namespaced_replica_set(NAMESPACE, label_selector=selector).items:
        owners = rs.metadata.owner_references or []
        if not any(o.uid == deployment.metadata.uid for o in owners):
            continue
        revisions.append(Revision(int((rs.metadata.annotations or {}).get(REVISION, 0)),
                                  rs.metadata.name, rs.spec.template.spec.containers[0].image,
                                  rs.status.replicas or 0))
    return sorted(revisions, key=lambda r: r.number)


def undo(cluster: Cluster, name: str = "hello", to_revision: int | None = None) -> Revision:
    """Roll back to the previous revision (or `to_revision`), as kubectl does it.

    kubectl: `kubectl -n hello-microservices rollout undo deployment/hello [--to-revision=N]`.
    apps/v1 has no rollback endpoint; kubectl copies the pod template of that revision's
    ReplicaSet (minus its `pod-template-hash` label) back into the Deployment. We do the
    same with one JSON patch that replaces `/spec/template`; the Deployment controller
    then finds the old ReplicaSet matches and scales it up again (as a new revision).
    """
    revisions = history(cluster, name)
    if len(revisions) < 2 and to_revision is None:
        raise RuntimeError(f"deployment/{name} has no earlier revision to roll back to")
    if to_revision is None:
        target = revisions[-2]
    else:
        target = next((r for r in revisions if r.number == to_revision), None)
        if target is None:
            raise RuntimeError(f"deployment/{name} has no revision {to_revision}; it has "
                               f"{[r.number for r in revisions]}")
    rs = cluster.apps.read_namespaced_replica_set(target.replica_set, NAMESPACE)
    template = cluster.api.sanitize_for_serialization(rs.spec.template)
    template["metadata"]["labels"].pop("pod-template-hash", None)
    cluster.apps.patch_namespaced_deployment(
        name, NAMESPACE, [{"op": "replace", "path": "/spec/template", "value": template}],
        _content_type=JSON_PATCH, field_manager=FIELD_MANAGER)
    return target


def pod_versions(cluster: Cluster) -> dict[str, str]:
    """pod name -> its `app.kubernetes.io/version` label, for the live hello pods."""
    return {p.metadata.name: (p.metadata.labels or {}).get("app.kubernetes.io/version", "?")
            for p in live_pods(cluster)}


# ------------------------------------------------------------------ reaching the service


def proxy() -> tuple[Background, str]:
    """`kubectl proxy` on a free loopback port; returns it and the Service's base URL.

    Requests to `<base>/enqueue` go to the API server's *service proxy*, which sends each
    one to a Ready endpoint of Service `hello` (port `http`) — unlike `kubectl port-forward
    svc/hello`, which picks ONE pod and sticks to it, so it could never show the load spread.
    """
    port = free_port()
    background = start(["kubectl", "proxy", f"--port={port}"])
    background.wait_for_line(r"Starting to serve on 127\.0\.0\.1:\d+", timeout=20)
    base = f"http://127.0.0.1:{port}/api/v1/namespaces/{NAMESPACE}/services/hello:http/proxy"
    return background, base


def port_forward_redis() -> tuple[Background, int]:
    """`kubectl port-forward svc/redis PORT:6379` on loopback; returns it and the port."""
    port = free_port()
    background = start(["kubectl", "-n", NAMESPACE, "port-forward", "svc/redis",
                        f"{port}:6379"])
    background.wait_for_line(r"Forwarding from 127\.0\.0\.1:\d+", timeout=20)
    return background, port


def queued_ids(redis_port: int, key: str = "hello:queue") -> set[str]:
    """The ids of every message in the Redis list (LRANGE key 0 -1)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=10)
    try:
        return {json.loads(item)["id"] for item in client.lrange(key, 0, -1)}
    finally:
        client.close()


@dataclass
class Reply:
    status: int  # 0: no HTTP answer at all (connection refused, reset, timed out)
    id: str | None = None
    served_by: str | None = None
    error: str | None = None


def post_message(base: str, number: int) -> Reply:
    """POST one text message to `<base>/enqueue`; never raises."""
    try:
        reply = fetch(f"{base}/enqueue", method="POST", body=f"message {number}",
                      headers={"Content-Type": "text/plain"}, timeout=10)
    except OSError as exc:
        return Reply(0, error=f"{type(exc).__name__}: {exc}")
    if reply.status == 202:
        body = reply.json()
        return Reply(202, body["id"], body["served_by"])
    return Reply(reply.status, error=reply.text[:200])


def send_messages(base: str, count: int, concurrency: int = 8) -> list[Reply]:
    """`count` POSTs, `concurrency` at a time; bounded in number by construction."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda n: post_message(base, n), range(count)))


class Load:
    """Messages sent in the background until `stop()` (or `max_seconds`, or `max_count`).

    with Load(base) as load:   # e.g. while a rolling update runs
        ...
    load.replies
    """

    def __init__(self, base: str, concurrency: int = 4, max_seconds: float = 300,
                 max_count: int = 20_000) -> None:
        self.base, self.concurrency = base, concurrency
        self.max_seconds, self.max_count = max_seconds, max_count
        self.replies: list[Reply] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _worker(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                number = len(self.replies)
                if number >= self.max_count:
                    return
            reply = post_message(self.base, number)
            with self._lock:
                self.replies.append(reply)

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._worker, daemon=True)
                         for _ in range(self.concurrency)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Reply]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.replies

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ------------------------------------------------------------------ troubleshooting


def pod_problems(cluster: Cluster, selector: str = HELLO_SELECTOR) -> list[dict]:
    """Why pods are not Ready: the STATUS column of `kubectl get pods`, and more.

    kubectl: `kubectl -n hello-microservices get pods -l ...` and `describe pod`.
    """
    problems = []
    for pod in live_pods(cluster, selector):
        for status in pod.status.container_statuses or []:
            waiting = status.state.waiting if status.state else None
            last = status.last_state.terminated if status.last_state else None
            if waiting or not status.ready:
                problems.append({
                    "pod": pod.metadata.name,
                    "reason": waiting.reason if waiting else "NotReady",
                    "message": (waiting.message or "") if waiting else "",
                    "restarts": status.restart_count,
                    "last_exit_code": last.exit_code if last else None,
                })
    return problems


def wait_for_reason(cluster: Cluster, reasons: Iterable[str], timeout: float = 120) -> dict:
    """The first hello pod whose container waits with one of `reasons` (e.g. CrashLoopBackOff)."""
    reasons = set(reasons)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for problem in pod_problems(cluster):
            if problem["reason"] in reasons:
                return problem
        time.sleep(1)
    raise TimeoutError(f"no hello pod reached {sorted(reasons)} within {timeout:.0f} s; "
                       f"seen: {pod_problems(cluster)}")


def events(cluster: Cluster, pod: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the events about `pod`, oldest first.

    kubectl: the Events section of `kubectl -n hello-microservices describe pod POD`, or
    `kubectl -n hello-microservices get events --field-selector involvedObject.name=POD`.
    """
    found = cluster.core.list_namespaced_event(
        NAMESPACE, field_selector=f"involvedObject.name={pod}").items
    found.sort(key=lambda e: e.last_timestamp or e.event_time or e.metadata.creation_timestamp)
    return [(e.type, e.reason, e.message or "") for e in found]


def logs(cluster: Cluster, pod: str, previous: bool = False, tail: int = 20) -> str:
    """kubectl: `kubectl -n hello-microservices logs POD [--previous] --tail=20`.

    `previous=True` reads the last *terminated* container, the one that crashed.
    """
    return cluster.core.read_namespaced_pod_log(pod, NAMESPACE, container="hello",
                                                previous=previous, tail_lines=tail)


# ------------------------------------------------------------------ clean-up


def namespace_exists(cluster: Cluster) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        cluster.core.read_namespace(NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def delete_namespace(cluster: Cluster, timeout: float = 180) -> None:
    """Delete the namespace and everything in it; wait until it is gone.

    kubectl: `kubectl delete namespace hello-microservices` (waits by default).
    """
    from kubernetes.client.exceptions import ApiException

    try:
        cluster.core.delete_namespace(NAMESPACE)
    except ApiException as exc:
        if exc.status != 404:
            raise
    deadline = time.monotonic() + timeout
    while namespace_exists(cluster):
        if time.monotonic() > deadline:
            raise TimeoutError(f"namespace {NAMESPACE} still exists after {timeout:.0f} s")
        time.sleep(1)


def _delete_namespace_quietly(cluster: Cluster) -> None:
    """atexit: when the kernel stops, a namespace a failed notebook left is deleted."""
    with contextlib.suppress(Exception):
        if namespace_exists(cluster):
            cluster.core.delete_namespace(NAMESPACE)


def remove_image(image: str) -> None:
    """`docker image rm IMAGE` when the local engine has it (the rollout's extra tag)."""
    present = run(["docker", "image", "ls", "-q", image], quiet=True).strip()
    if present:
        run(["docker", "image", "rm", image])


def version_of(image: str) -> str:
    """"hello-tornado:0.1.0-2" -> "0.1.0-2"."""
    match = re.fullmatch(r"[^:]+:(.+)", image)
    if not match:
        raise ValueError(f"{image!r} has no tag")
    return match.group(1)
