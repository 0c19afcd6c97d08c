"""Notebook 06's side of a live cluster: the Python client WAITS and CHECKS, kubectl ACTS.

Every change notebook 06 makes is a `kubectl` command shown and run by a cell
(`tutorial.run`), exactly as you would type it. This module only answers questions
about the result with the official `kubernetes` client (pinned in requirements-dev.txt):
which cluster is this, are N pods Ready, is the rollout complete, which images do the
pods run, why is a pod not Ready. Two long-running kubectl commands live here too,
because a cell needs them in the background: `kubectl proxy` and `kubectl port-forward`.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tutorial.net import fetch, free_port
from tutorial.shell import Background, start

NAMESPACE = "hello-microservices"
HELLO_SELECTOR = "app.kubernetes.io/name=hello,app.kubernetes.io/part-of=hello-microservices"
REVISION = "deployment.kubernetes.io/revision"
ROOT = Path(__file__).resolve().parents[2]
#: What notebook 06 writes (its kustomize overlay, the next release's build context).
BUILD_DIRS = {"overlay": ROOT / "build" / "k8s-06", "rollout": ROOT / "build" / "rollout"}
#: docker-desktop: Docker Desktop's kubeadm cluster (shares the engine's images);
#: docker-desktop-kind: its kind-based cluster (Docker Desktop 4.38+, nodes desktop-*).
FLAVOURS = ("kind", "minikube", "k3d", "docker-desktop", "docker-desktop-kind")


# ------------------------------------------------------------------- which cluster


@dataclass
class Cluster:
    """The API clients for the current kubeconfig context, and what kind of cluster it is."""

    context: str
    flavour: str  # one of FLAVOURS, or "unknown"
    name: str  # the cluster/profile name the flavour's own CLI expects
    nodes: list[str]
    api: Any = field(repr=False)  # kubernetes.client.ApiClient
    core: Any = field(repr=False)  # CoreV1Api
    apps: Any = field(repr=False)  # AppsV1Api


def detect_flavour(
    context: str, node_names: Iterable[str] = (), node_labels: Iterable[Mapping[str, str]] = (),
    provider_ids: Iterable[str | None] = (),
) -> tuple[str, str]:
    """(flavour, cluster name) from the context name, else from the nodes.

    kind names its contexts `kind-<cluster>` and sets providerID `kind://docker/<cluster>/...`;
    k3d uses `k3d-<cluster>`; minikube labels its nodes `minikube.k8s.io/name=<profile>`.
    Docker Desktop keeps the context `docker-desktop` for both of its cluster kinds: with
    the kubeadm provisioner its one node is called `docker-desktop` too; with the kind
    provisioner (Docker Desktop 4.38+) the nodes are `desktop-control-plane`,
    `desktop-worker`, ... and carry a `kind://` providerID.
    """
    node_names, node_labels = list(node_names), list(node_labels)
    provider_ids = list(provider_ids)
    kind_based = any(n.startswith("desktop-") for n in node_names) or any(
        (p or "").startswith("kind://") for p in provider_ids)
    if context.startswith("kind-"):
        return "kind", context.removeprefix("kind-")
    if context.startswith("k3d-"):
        return "k3d", context.removeprefix("k3d-")
    if context == "docker-desktop" and kind_based:
        return "docker-desktop-kind", "desktop"
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
    return Cluster(context, flavour, name, [n.metadata.name for n in nodes], api, core,
                   client.AppsV1Api(api))


def server_version(cluster: Cluster) -> tuple[int, int]:
    """(major, minor) of the API server, as `kubectl version` prints it."""
    from kubernetes import client

    info = client.VersionApi(cluster.api).get_code(_request_timeout=10)
    return int(info.major), int(info.minor.rstrip("+"))


def kubectl_problem() -> str | None:
    """None when kubectl is on PATH; notebook 06 runs every step with it."""
    if shutil.which("kubectl"):
        return None
    return ("`kubectl` is not installed; notebook 06 runs every step with it. Install it: "
            "https://kubernetes.io/docs/tasks/tools/ (Debian/Ubuntu: `apt install kubectl` "
            "where packaged; minikube users: `minikube kubectl --` works too).")


class CleanUp:
    """What a notebook must undo, undone in reverse order: every step, even after a failure.

    Each step is registered only once it is needed (an image is unloaded only if this
    notebook loaded it). `run()` runs them all, each in its own try, then raises one
    error naming every step that failed, so a failed `crictl rmi` cannot skip the rest.
    Nothing runs by itself at exit: deleting a namespace is a step you see.
    """

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], object]]] = []

    def add(self, description: str, step: Callable[[], object]) -> None:
        self.steps.append((description, step))

    def run(self) -> list[str]:
        done, failed = [], []
        while self.steps:
            description, step = self.steps.pop()
            try:
                step()
            except Exception as exc:  # every step runs; the failures are raised together
                failed.append(f"{description}: {type(exc).__name__}: {exc}")
            else:
                done.append(description)
        if failed:
            raise CleanUpFailed(failed, done)
        return done


class CleanUpFailed(RuntimeError):
    def __init__(self, failed: list[str], done: list[str]) -> None:
        super().__init__("clean-up steps failed (the others ran):\n- " + "\n- ".join(failed))
        self.failed, self.done = failed, done


# ------------------------------------------------------------------ images in and out


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
        # Docker Desktop's kind-based nodes have their own containerd, like kind's: the
        # notebook checks the node's image list afterwards (images_on_nodes) and says what
        # to do if the image is still not there.
        "docker-desktop-kind": None,
    }
    if flavour not in commands:
        raise ValueError(
            f"cannot tell how to load images into this cluster ({flavour}); push {image} to a "
            "registry the cluster can pull from, or use kind, minikube, k3d or Docker Desktop")
    return commands[flavour]


def unload_image_commands(flavour: str, name: str, nodes: Iterable[str],
                          image: str) -> list[list[str]]:
    """The commands that remove a loaded image from the cluster's nodes again.

    kind and k3d nodes are Docker containers named like the Kubernetes nodes, with
    `crictl` inside; minikube has its own command; Docker Desktop shares the engine's
    images (`docker image rm` is the clean-up there).
    """
    if flavour in ("kind", "k3d"):
        return [["docker", "exec", node, "crictl", "rmi", image] for node in nodes]
    if flavour == "minikube":
        return [["minikube", "image", "rm", image, "--profile", name]]
    if flavour in ("docker-desktop", "docker-desktop-kind"):
        return []
    raise ValueError(f"cannot tell how to remove images from this cluster ({flavour})")


def images_on_nodes(cluster: Cluster) -> set[str]:
    """Every image reference the nodes report having (`kubectl get nodes -o yaml`, images:),
    short form: `docker.io/library/hello-tornado:0.1.0` -> `hello-tornado:0.1.0`."""
    found = set()
    for node in cluster.core.list_node(_request_timeout=10).items:
        for image in node.status.images or []:
            found |= {short_image_name(n) for n in image.names or []}
    return found


def short_image_name(reference: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if reference.startswith(prefix):
            return reference.removeprefix(prefix)
    return reference


def image_missing_advice(flavour: str, image: str) -> str:
    """What to do when a node still lacks `image` after the notebook's loading step."""
    advice = {
        "docker-desktop-kind": (
            "Docker Desktop's kind-based cluster has its own image store. If `kind get "
            f"clusters` lists `desktop`, run `kind load docker-image {image} --name desktop`; "
            "otherwise switch Settings -> Kubernetes to the kubeadm provisioner (it shares "
            "Docker's images), or use `bash scripts/kind-cluster.sh`."),
        "docker-desktop": (
            "Docker Desktop's kubeadm cluster should see Docker's images: is `docker` "
            "talking to Docker Desktop's engine (`docker context show`)?"),
    }
    return (f"no node of this cluster has {image}. " + advice.get(
        flavour, "Load it (see the table above) and re-run this cell."))


def write_next_release(base: str, tag: str, directory: Path = BUILD_DIRS["rollout"]) -> Path:
    """build/rollout/Dockerfile: `FROM base` plus one label, a 'new release' to roll out.

    A different image id, not just a second tag, so every tool sees a new image.
    """
    directory.mkdir(parents=True, exist_ok=True)
    version = tag.split(":", 1)[1]
    (directory / "Dockerfile").write_text(
        f'FROM {base}\nLABEL org.opencontainers.image.version="{version}"\n')
    return directory


def write_overlay(redis_image: str, directory: Path = BUILD_DIRS["overlay"],
                  k8s_dir: Path = ROOT / "k8s") -> Path:
    """build/k8s-06/kustomization.yaml: the full k8s/ set, with Redis' image swapped.

    The same thing `kustomize edit set image redis=...` writes: an `images:` entry that
    rewrites every container image named `redis`. k8s/ itself stays untouched.
    """
    from os.path import relpath

    directory.mkdir(parents=True, exist_ok=True)
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [relpath(k8s_dir.resolve(), directory.resolve())],
        "images": [{"name": "redis", **image_fields(redis_image)}],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    return directory


def image_fields(image: str) -> dict[str, str]:
    """kustomize's `images:` fields for a reference: newName plus newTag or digest."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return {"newName": name, "digest": digest}
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag at all (a ":" only in a registry's host:port)
        return {"newName": image, "newTag": "latest"}
    return {"newName": name, "newTag": tag}


def remove_build_dirs() -> list[str]:
    """Delete what notebook 06 wrote under build/; the names of what was there."""
    removed = []
    for directory in BUILD_DIRS.values():
        if directory.exists():
            shutil.rmtree(directory)
            removed.append(str(directory.relative_to(ROOT)))
    return removed


# ------------------------------------------------------------------ watching pods


def is_ready(pod: Any) -> bool:
    """The pod's Ready condition is True (what READY 1/1 in `kubectl get pods` shows)."""
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def live_pods(cluster: Cluster, selector: str = HELLO_SELECTOR) -> list[Any]:
    """Pods matching `selector` that are not being deleted (kubectl shows those Terminating)."""
    pods = cluster.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items
    return sorted((p for p in pods if p.metadata.deletion_timestamp is None),
                  key=lambda p: p.metadata.name)


def ready_pod_names(cluster: Cluster, selector: str = HELLO_SELECTOR) -> list[str]:
    return [p.metadata.name for p in live_pods(cluster, selector) if is_ready(p)]


def pod_images(cluster: Cluster) -> dict[str, str]:
    """pod name -> the image its hello container runs, for the live hello pods."""
    return {p.metadata.name: p.spec.containers[0].image for p in live_pods(cluster)}


def _wait(condition: Callable[[], tuple[int, bool]], total: int, description: str,
          timeout: float, explain: Callable[[], str]) -> None:
    """Poll `condition` (-> (progress, done)) twice a second with a progress bar (stdout)."""
    import sys

    from tqdm import tqdm

    deadline = time.monotonic() + timeout
    with tqdm(total=total, desc=description, unit="pod", file=sys.stdout) as bar:
        while True:
            count, done = condition()
            bar.n = min(count, total)
            bar.refresh()
            if done:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{description}: not done after {timeout:.0f} s. {explain()}")
            time.sleep(0.5)


def wait_for_ready_count(cluster: Cluster, count: int, timeout: float = 180) -> list[str]:
    """Block until exactly `count` hello pods exist, all Ready (none starting or stopping)."""
    def condition() -> tuple[int, bool]:
        pods = cluster.core.list_namespaced_pod(NAMESPACE, label_selector=HELLO_SELECTOR).items
        ready = [p for p in pods if p.metadata.deletion_timestamp is None and is_ready(p)]
        return len(ready), len(ready) == count == len(pods)

    _wait(condition, count, f"{count} ready", timeout, lambda: str(pod_problems(cluster)))
    return ready_pod_names(cluster)


def rollout_state(deployment: Any) -> tuple[int, bool, str]:
    """(updated and available replicas, complete?, why not) — kubectl rollout status's rules."""
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


def rollout_complete(cluster: Cluster, name: str = "hello") -> bool:
    """What `kubectl rollout status` waited for, checked again through the API."""
    deployment = cluster.apps.read_namespaced_deployment(name, NAMESPACE)
    return rollout_state(deployment)[1]


@dataclass
class Revision:
    number: int
    replica_set: str
    image: str
    replicas: int


def history(cluster: Cluster, name: str = "hello") -> list[Revision]:
    """The Deployment's revisions, oldest first: one ReplicaSet per pod template.

    What `kubectl rollout history` lists. The revision number is the ReplicaSet's
    `deployment.kubernetes.io/revision` annotation; only ReplicaSets owned by this
    Deployment (ownerReferences) count.
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


def container_env(cluster: Cluster, name: str = "hello") -> dict[str, str | None]:
    """The Deployment's container environment: name -> value (None for valueFrom)."""
    deployment = cluster.apps.read_namespaced_deployment(name, NAMESPACE)
    return {e.name: e.value for e in deployment.spec.template.spec.containers[0].env or []}


def autoscaler_exists(cluster: Cluster, name: str = "hello") -> bool:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        client.AutoscalingV2Api(cluster.api).read_namespaced_horizontal_pod_autoscaler(
            name, NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


# ------------------------------------------------------------------ troubleshooting


def pod_problems(cluster: Cluster, selector: str = HELLO_SELECTOR) -> list[dict]:
    """Why pods are not Ready: the STATUS column of `kubectl get pods`, and more."""
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


@dataclass(frozen=True)
class Event:
    """The part of an Event (`kubectl get events`) the waits below read."""

    pod: str  # involvedObject.name
    reason: str  # e.g. Unhealthy, BackOff, Failed
    message: str  # e.g. "Readiness probe failed: HTTP probe failed with statuscode: 404"


def first_probe_failure(not_ready: Iterable[str], events: Iterable[Event],
                        probe: str = "Readiness") -> Event | None:
    """The first `Unhealthy` event of a `probe` failure for one of the NOT-ready pods.

    A new pod is not Ready between its start and its first readiness probe: being
    not-ready is not yet a probe failure, so it never counts on its own. Only the
    kubelet's event says the probe ran and failed — that is what `describe` will show.
    Events of pods that are Ready again (an old failure) do not count either.
    """
    pods = set(not_ready)
    for event in events:
        if (event.pod in pods and event.reason == "Unhealthy"
                and event.message.startswith(f"{probe} probe failed")):
            return event
    return None


def probe_failure_events(cluster: Cluster) -> list[Event]:
    """`kubectl -n hello-microservices get events --field-selector reason=Unhealthy`."""
    events = cluster.core.list_namespaced_event(NAMESPACE, field_selector="reason=Unhealthy")
    return [Event(e.involved_object.name, e.reason, e.message or "") for e in events.items]


def wait_for_probe_failure(cluster: Cluster, probe: str = "Readiness",
                           timeout: float = 180) -> Event:
    """Block until a not-ready hello pod has a `probe` failure event; return that event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        not_ready = [p.metadata.name for p in live_pods(cluster) if not is_ready(p)]
        if found := first_probe_failure(not_ready, probe_failure_events(cluster), probe):
            return found
        time.sleep(1)
    raise TimeoutError(f"no {probe} probe failure of a not-ready hello pod within "
                       f"{timeout:.0f} s; pods: {pod_problems(cluster)}")


def wait_for_reason(cluster: Cluster, reasons: Iterable[str], timeout: float = 180) -> dict:
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


def namespace_exists(cluster: Cluster) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        cluster.core.read_namespace(NAMESPACE, _request_timeout=10)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


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


def port_forward(target: str, remote_port: int, local_port: int | None = None,
                 ) -> tuple[Background, int]:
    """`kubectl -n hello-microservices port-forward TARGET LOCAL:REMOTE` on loopback.

    It tunnels to ONE pod behind `target` (svc/hello picks one and sticks to it) until it
    is stopped: the way to open a Service in your browser, not a load balancer.
    """
    port = local_port or free_port()
    background = start(["kubectl", "-n", NAMESPACE, "port-forward", target,
                        f"{port}:{remote_port}"])
    background.wait_for_line(r"Forwarding from 127\.0\.0\.1:\d+", timeout=20)
    return background, port


def port_forward_redis() -> tuple[Background, int]:
    """`kubectl -n hello-microservices port-forward svc/redis PORT:6379` on loopback."""
    return port_forward("svc/redis", 6379)


def _field_value_pairs(output: str):
    """redis-cli's output without a terminal: one value a line, names and values alternating."""
    lines = output.splitlines()
    return zip(lines[::2], lines[1::2], strict=False)


def redis_replies(output: str) -> list[dict[str, str]]:
    """`redis-cli XINFO GROUPS key` output as one dict per group."""
    groups: list[dict[str, str]] = []
    for name, value in _field_value_pairs(output):
        if name == "name":
            groups.append({})
        if groups:
            groups[-1][name] = value
    return groups


def redis_fields(output: str, stop: str = "first-entry") -> dict[str, str]:
    """`redis-cli XINFO STREAM key` output (one value a line) as a dict, up to `stop`, where
    nested replies (the first and last entries) begin."""
    fields: dict[str, str] = {}
    for name, value in _field_value_pairs(output):
        if name == stop:
            break
        fields[name] = value
    return fields


def queue_drained(stream: Mapping[str, str], group: Mapping[str, str]) -> bool:
    """Nothing waits for the group: every entry the stream ever got was delivered to a
    consumer (last-delivered-id = last-generated-id) and acknowledged (pending 0).

    Unlike `lag`, this holds also when consumers delete the entries they handled.
    """
    return (group["pending"] == "0"
            and group["last-delivered-id"] == stream["last-generated-id"])


def endpoint_addresses(cluster: Cluster, service: str = "hello") -> set[str]:
    """The Ready addresses in the Service's EndpointSlices (what kube-proxy routes to)."""
    from kubernetes import client

    slices = client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice(
        NAMESPACE, label_selector=f"kubernetes.io/service-name={service}")
    return {address for s in slices.items for e in s.endpoints or []
            if e.conditions and e.conditions.ready for address in e.addresses}


def pod_ips(cluster: Cluster, names: Iterable[str]) -> set[str]:
    wanted = set(names)
    return {p.status.pod_ip for p in live_pods(cluster) if p.metadata.name in wanted}


def metrics_api_available(cluster: Cluster) -> bool:
    """Whether the resource metrics API (metrics-server) answers: what an HPA needs."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        service = client.ApiregistrationV1Api(cluster.api).read_api_service(
            "v1beta1.metrics.k8s.io")
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return any(c.type == "Available" and c.status == "True"
               for c in service.status.conditions or [])


def queued_ids(redis_port: int, key: str = "hello:queue") -> set[str]:
    """The ids of every message in the queue stream (XRANGE key - +): what no worker has
    finished yet (workers delete what they acknowledged)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=10,
                         decode_responses=True)
    try:
        return {json.loads(fields["message"])["id"] for _, fields in client.xrange(key)}
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
