"""The pure parts of notebook 06's cluster helpers, tested without a cluster.

Notebook 06 runs every step and every wait with kubectl; what decides *what to do* (which
cluster, how to load an image) and what it reads from kubectl's and redis-cli's output is
checked here on every machine, against output recorded from the real tools.
"""

import json
import shutil
import subprocess

import pytest

from tests.prereq import need
from tests.redis_server import RedisServer, redis_problem
from tutorial import cluster as kc
from tutorial.manifests import K8S_DIR, kustomize
from tutorial.prereqs import tool_problem

kubectl_available = shutil.which("kubectl") is not None


def node(name, labels=None, provider=None):
    """One item of `kubectl get nodes -o json`, the fields detect_flavour reads."""
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"providerID": provider} if provider else {}}


@pytest.mark.parametrize("context, nodes, expected", [
    ("kind-demo", [], ("kind", "demo")),
    ("k3d-dev", [], ("k3d", "dev")),
    ("docker-desktop", [], ("docker-desktop", "docker-desktop")),
    ("my-ctx", [node("docker-desktop")], ("docker-desktop", "docker-desktop")),
    ("minikube", [node("minikube", {"minikube.k8s.io/name": "minikube"})],
     ("minikube", "minikube")),
    ("minikube", [], ("minikube", "minikube")),
    ("renamed", [node("m", {"minikube.k8s.io/name": "p2"})], ("minikube", "p2")),
    ("renamed", [node("lab-control-plane", provider="kind://docker/lab/lab-control-plane")],
     ("kind", "lab")),
    ("gke_prod", [node("n1")], ("unknown", "gke_prod")),
    # Docker Desktop's kind-based cluster: same context, kind's node names and providerID.
    ("docker-desktop", [node("desktop-control-plane", provider="kind://docker/desktop/d"),
                        node("desktop-worker", provider="kind://docker/desktop/w")],
     ("docker-desktop-kind", "desktop")),
    ("docker-desktop", [node("desktop-control-plane")], ("docker-desktop-kind", "desktop")),
    ("docker-desktop", [node("docker-desktop")], ("docker-desktop", "docker-desktop")),
])
def test_detect_flavour(context, nodes, expected):
    assert kc.detect_flavour(context, nodes) == expected


def test_load_image_command_per_flavour():
    assert kc.load_image_command("kind", "demo", "img:1") == [
        "kind", "load", "docker-image", "img:1", "--name", "demo"]
    assert kc.load_image_command("minikube", "p", "img:1")[:3] == ["minikube", "image", "load"]
    assert kc.load_image_command("k3d", "dev", "img:1")[:3] == ["k3d", "image", "import"]
    assert kc.load_image_command("docker-desktop", "docker-desktop", "img:1") is None
    assert kc.load_image_command("docker-desktop-kind", "desktop", "img:1") is None
    with pytest.raises(ValueError, match="push img:1 to a registry"):
        kc.load_image_command("unknown", "x", "img:1")


@pytest.mark.parametrize("flavour, expected", [
    ("kind", [["docker", "exec", "n1", "crictl", "rmi", "img:1"],
              ["docker", "exec", "n2", "crictl", "rmi", "img:1"]]),
    ("k3d", [["docker", "exec", "n1", "crictl", "rmi", "img:1"],
             ["docker", "exec", "n2", "crictl", "rmi", "img:1"]]),
    ("minikube", [["minikube", "image", "rm", "img:1", "--profile", "lab"]]),
    ("docker-desktop", []),
    ("docker-desktop-kind", []),
])
def test_unload_image_commands_per_flavour(flavour, expected):
    assert kc.unload_image_commands(flavour, "lab", ["n1", "n2"], "img:1") == expected


def test_unload_refuses_an_unknown_cluster():
    with pytest.raises(ValueError, match="unknown"):
        kc.unload_image_commands("unknown", "x", [], "img:1")


@pytest.mark.parametrize("image, fields", [
    ("redis:7-alpine", {"newName": "redis", "newTag": "7-alpine"}),
    ("hello-microservices/redis:7-bookworm",
     {"newName": "hello-microservices/redis", "newTag": "7-bookworm"}),
    ("localhost:5000/redis", {"newName": "localhost:5000/redis", "newTag": "latest"}),
    ("redis@sha256:" + "a" * 64, {"newName": "redis", "digest": "sha256:" + "a" * 64}),
])
def test_image_fields_split_a_reference_like_kustomize_edit_set_image(image, fields):
    assert kc.image_fields(image) == fields


def test_overlay_swaps_only_the_redis_image(tmp_path):
    need("kubectl", tool_problem("kubectl"))
    overlay = kc.write_overlay("hello-microservices/redis:7-bookworm", tmp_path / "overlay")
    rendered, hardened = kustomize(overlay), kustomize(K8S_DIR)
    (redis,) = [m for m in rendered if (m["kind"], m["metadata"]["name"]) == ("Deployment",
                                                                             "redis")]
    assert redis["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "hello-microservices/redis:7-bookworm"
    redis["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:7-alpine"
    assert rendered == hardened


# ------------------------------------------------------------ scripts/kind-cluster.sh

SCRIPT = kc.ROOT / "scripts" / "kind-cluster.sh"
STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
case "$(basename "$0") $1 $2" in
  "kind version "*) echo "kind v0.27.0 go1.24.4 linux/amd64" ;;
  "kubectl --context "*) echo "v1.32.2" ;;
esac
exit 0
"""


def run_kind_script(tmp_path, *args, **env):
    """The script with stub kind/docker/kubectl on PATH that log their arguments."""
    import os
    import subprocess

    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir(parents=True)
    for tool in ("kind", "docker", "kubectl"):
        (bin_dir / tool).write_text(STUB.format(log=log))
        (bin_dir / tool).chmod(0o755)
    environ = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", **env}
    done = subprocess.run(["bash", str(SCRIPT), *args], env=environ, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return log.read_text().splitlines(), done.stdout


def test_kind_script_creates_the_pinned_node_and_loads_the_image(tmp_path):
    import service

    calls, output = run_kind_script(tmp_path, REDIS_IMAGE="redis:7-alpine")
    create = next(c for c in calls if c.startswith("kind create cluster"))
    assert create.startswith("kind create cluster --name hello-microservices --image "
                             "kindest/node:v1.32.2@sha256:")
    image = f"hello-tornado:{service.__version__}"
    assert f"kind load docker-image {image} --name hello-microservices" in calls
    assert not any("redis" in c for c in calls if c.startswith("kind load"))  # node pulls it
    assert "apply --server-side -f" in output and "namespace.yaml" in output


def test_kind_script_installs_metrics_server_only_when_asked(tmp_path):
    calls, _ = run_kind_script(tmp_path / "plain", REDIS_IMAGE="redis:7-alpine")
    assert not any("metrics-server" in c for c in calls)
    calls, _ = run_kind_script(tmp_path / "metrics", REDIS_IMAGE="redis:7-alpine",
                               METRICS_SERVER="1")
    context = "kubectl --context kind-hello-microservices"
    assert (f"{context} apply -f https://github.com/kubernetes-sigs/metrics-server/releases/"
            "download/v0.7.2/components.yaml") in calls
    (patch,) = [c for c in calls if " patch deployment metrics-server " in c]
    assert patch.startswith(f"{context} -n kube-system") and "--kubelet-insecure-tls" in patch
    assert (f"{context} -n kube-system rollout status deployment/metrics-server "
            "--timeout=180s") in calls


def test_kind_script_loads_a_local_redis_image(tmp_path):
    calls, _ = run_kind_script(tmp_path, REDIS_IMAGE="hello-microservices/redis:7-bookworm")
    assert ("kind load docker-image hello-microservices/redis:7-bookworm "
            "--name hello-microservices") in calls


def test_kind_script_pins_a_node_image_kubectl_can_talk_to():
    import re
    import subprocess

    pinned = re.search(r'kindest/node:v1\.(\d+)\.\d+@sha256:[0-9a-f]{64}', SCRIPT.read_text())
    assert pinned, "no node image pinned by digest"
    if kubectl_available:  # kubectl supports one minor version of skew either way
        client = subprocess.run(["kubectl", "version", "--client", "-o", "json"],
                                capture_output=True, text=True, timeout=60, check=True)
        import json

        client_minor = int(json.loads(client.stdout)["clientVersion"]["minor"].rstrip("+"))
        assert abs(int(pinned.group(1)) - client_minor) <= 1
    assert int(pinned.group(1)) >= 30  # preStop sleep


def test_kind_script_is_clean_shell():
    import shutil
    import subprocess

    assert subprocess.run(["bash", "-n", str(SCRIPT)], timeout=60).returncode == 0
    if shutil.which("shellcheck"):
        checked = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True,
                                 timeout=60)
        assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize(("reference", "short"), [
    ("docker.io/library/hello-tornado:0.1.0", "hello-tornado:0.1.0"),
    ("docker.io/kindest/kindnetd:v1", "kindest/kindnetd:v1"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
])
def test_node_image_names_are_shortened_like_docker_does(reference, short):
    assert kc.short_image_name(reference) == short


# ------------------------------------------------------------------ kubectl get pods -o json


def pod(name, *, ready=True, image="hello-tornado:0.1.0", waiting=None, restarts=0,
        last_exit=None, deleting=False):
    """One item of `kubectl get pods -o json`, with the fields Kubernetes 1.32 sets."""
    container = {"name": "hello", "image": image, "ready": ready, "restartCount": restarts,
                 "state": {"waiting": {"reason": waiting, "message": "..."}} if waiting
                 else {"running": {"startedAt": "2026-12-06T10:00:00Z"}},
                 "lastState": {"terminated": {"exitCode": last_exit, "reason": "Error"}}
                 if last_exit is not None else {}}
    metadata = {"name": name, "labels": {"app.kubernetes.io/name": "hello"}}
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-06T10:01:00Z"
    return {"metadata": metadata, "spec": {"containers": [{"name": "hello", "image": image}]},
            "status": {"phase": "Running", "podIP": f"10.244.0.{len(name)}",
                       "conditions": [{"type": "Ready", "status": str(ready)}],
                       "containerStatuses": [container]}}


def listing(*items):
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)})


def test_pods_leaves_out_the_terminating_ones_and_reads_what_the_cells_assert():
    crashing = pod("hello-b-2", ready=False, waiting="CrashLoopBackOff", restarts=3, last_exit=2)
    pods = kc.parse_pods(listing(pod("hello-c-3", deleting=True), crashing, pod("hello-a-1")))
    assert [p.name for p in pods] == ["hello-a-1", "hello-b-2"]
    ready, broken = pods
    assert ready.ready and ready.reason is None and ready.last_exit_code is None
    assert ready.ip == pod("hello-a-1")["status"]["podIP"]
    assert not broken.ready and broken.reason == "CrashLoopBackOff"
    assert (broken.restarts, broken.last_exit_code) == (3, 2)


def test_a_pod_not_scheduled_yet_has_no_container_status():
    pending = {"metadata": {"name": "hello-p"}, "spec": {"containers": [{"image": "i:1"}]},
               "status": {"phase": "Pending", "conditions": [
                   {"type": "PodScheduled", "status": "False"}]}}
    (found,) = kc.parse_pods(listing(pending))
    assert (found.ready, found.ip, found.reason, found.restarts) == (False, None, None, 0)


def test_pods_runs_kubectl_get_pods_in_the_namespace(monkeypatch):
    seen = []
    monkeypatch.setattr(kc, "run", lambda argv, quiet: seen.append(argv) or listing())
    assert kc.pods("app.kubernetes.io/name=worker") == []
    assert seen == [["kubectl", "-n", kc.NAMESPACE, "get", "pods", "-l",
                     "app.kubernetes.io/name=worker", "-o", "json"]]


# ------------------------------------------------------------- redis-cli --json, recorded

# What `redis-cli --json` printed (RESP3 maps as JSON objects), recorded with Debian's redis-server
# 7.0.15: three entries added, two delivered to a consumer of `workers`, none acknowledged;
# then all read, acknowledged and deleted (XACK + XDEL), as the service's workers do.
IDS = ["1796573376518-0", "1796573376529-0", "1796573376546-0"]
ENTRIES = [[entry_id, ["message", json.dumps({"id": f"m{n}", "body": f"message {n}",
                                              "served_by": "hello-abc"})]]
           for n, entry_id in enumerate(IDS, 1)]
XRANGE = json.dumps(ENTRIES)
BUSY_STREAM = json.dumps({
    "length": 3, "radix-tree-keys": 1, "radix-tree-nodes": 2, "last-generated-id": IDS[2],
    "max-deleted-entry-id": "0-0", "entries-added": 3, "recorded-first-entry-id": IDS[0],
    "groups": 1, "first-entry": ENTRIES[0], "last-entry": ENTRIES[2]})
BUSY_GROUPS = json.dumps([{"name": "workers", "consumers": 1, "pending": 2,
                           "last-delivered-id": IDS[1], "entries-read": 2, "lag": 1}])
DONE_STREAM = json.dumps({
    "length": 0, "radix-tree-keys": 0, "radix-tree-nodes": 1, "last-generated-id": IDS[2],
    "max-deleted-entry-id": IDS[2], "entries-added": 3, "recorded-first-entry-id": "0-0",
    "groups": 1, "first-entry": None, "last-entry": None})
DONE_GROUPS = json.dumps([{"name": "workers", "consumers": 1, "pending": 0,
                           "last-delivered-id": IDS[2], "entries-read": 3, "lag": 0}])


def test_a_queue_is_drained_only_when_everything_was_delivered_and_acknowledged():
    (busy,), (done,) = json.loads(BUSY_GROUPS), json.loads(DONE_GROUPS)
    assert not kc.queue_drained(json.loads(BUSY_STREAM), busy)
    assert kc.queue_drained(json.loads(DONE_STREAM), done)
    assert not kc.queue_drained(json.loads(DONE_STREAM), {**done, "pending": 1})
    # read, acknowledged, but a newer entry arrived that nobody has read yet
    newer = {**json.loads(DONE_STREAM), "last-generated-id": "1796573376999-0"}
    assert not kc.queue_drained(newer, done)


def test_message_ids_are_read_from_the_envelopes_in_the_stream():
    assert kc.message_ids(XRANGE) == {"m1", "m2", "m3"}
    assert kc.message_ids("[]") == set()


def test_the_recorded_output_is_what_redis_cli_prints_today():
    """Re-record with the installed redis-server and compare the shape."""
    need("redis", redis_problem())
    server = RedisServer().start()
    try:
        def cli(*args):
            done = subprocess.run(["redis-cli", "-p", str(server.port), "--json", *args],
                                  capture_output=True, text=True, timeout=10)
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)

        for number in (1, 2, 3):
            envelope = {"id": f"m{number}", "body": f"message {number}", "served_by": "h"}
            cli("XADD", "hello:queue", "*", "message", json.dumps(envelope))
        cli("XGROUP", "CREATE", "hello:queue", "workers", "0")
        cli("XREADGROUP", "GROUP", "workers", "c1", "COUNT", "2", "STREAMS", "hello:queue", ">")
        assert json.loads(BUSY_STREAM).keys() == cli("XINFO", "STREAM", "hello:queue").keys()
        (group,) = cli("XINFO", "GROUPS", "hello:queue")
        assert group.keys() == json.loads(BUSY_GROUPS)[0].keys()
        assert (group["pending"], group["lag"]) == (2, 1)
        assert kc.message_ids(json.dumps(cli("XRANGE", "hello:queue", "-", "+"))) == {
            "m1", "m2", "m3"}
    finally:
        server.stop()
