"""The pure parts of notebook 06's cluster helpers, tested without a cluster.

Everything that needs an API server is exercised only where a cluster exists (notebook
06); what decides *what to do* is checked here on every machine.
"""

import shutil
from types import SimpleNamespace as NS

import pytest

from tests.prereq import need
from tutorial import cluster as kc
from tutorial.manifests import K8S_DIR, kustomize
from tutorial.prereqs import tool_problem

kubectl_available = shutil.which("kubectl") is not None


@pytest.mark.parametrize("context, names, labels, providers, expected", [
    ("kind-demo", [], [], [], ("kind", "demo")),
    ("k3d-dev", [], [], [], ("k3d", "dev")),
    ("docker-desktop", [], [], [], ("docker-desktop", "docker-desktop")),
    ("my-ctx", ["docker-desktop"], [], [], ("docker-desktop", "docker-desktop")),
    ("minikube", [], [{"minikube.k8s.io/name": "minikube"}], [], ("minikube", "minikube")),
    ("renamed", [], [{"minikube.k8s.io/name": "p2"}], [], ("minikube", "p2")),
    ("renamed", [], [{}], ["kind://docker/lab/lab-control-plane"], ("kind", "lab")),
    ("gke_prod", ["n1"], [{}], [None], ("unknown", "gke_prod")),
    # Docker Desktop's kind-based cluster: same context, kind's node names and providerID.
    ("docker-desktop", ["desktop-control-plane", "desktop-worker"], [{}, {}],
     ["kind://docker/desktop/desktop-control-plane", "kind://docker/desktop/desktop-worker"],
     ("docker-desktop-kind", "desktop")),
    ("docker-desktop", ["desktop-control-plane"], [{}], [None], ("docker-desktop-kind", "desktop")),
    ("docker-desktop", ["docker-desktop"], [{}], [None], ("docker-desktop", "docker-desktop")),
])
def test_detect_flavour(context, names, labels, providers, expected):
    assert kc.detect_flavour(context, names, labels, providers) == expected


def test_load_image_command_per_flavour():
    assert kc.load_image_command("kind", "demo", "img:1") == [
        "kind", "load", "docker-image", "img:1", "--name", "demo"]
    assert kc.load_image_command("minikube", "p", "img:1")[:3] == ["minikube", "image", "load"]
    assert kc.load_image_command("k3d", "dev", "img:1")[:3] == ["k3d", "image", "import"]
    assert kc.load_image_command("docker-desktop", "docker-desktop", "img:1") is None
    assert kc.load_image_command("docker-desktop-kind", "desktop", "img:1") is None
    assert "kind load docker-image img:1 --name desktop" in kc.image_missing_advice(
        "docker-desktop-kind", "img:1")
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


def test_next_release_is_the_base_image_plus_one_label(tmp_path):
    context = kc.write_next_release("hello-tornado:0.1.0", "hello-tornado:0.1.0-2", tmp_path)
    assert (context / "Dockerfile").read_text() == (
        'FROM hello-tornado:0.1.0\nLABEL org.opencontainers.image.version="0.1.0-2"\n')


def deployment(generation=2, observed=2, replicas=3, updated=3, total=3, available=3):
    return NS(spec=NS(replicas=replicas), metadata=NS(generation=generation, name="hello"),
              status=NS(observed_generation=observed, conditions=[], updated_replicas=updated,
                        replicas=total, available_replicas=available))


@pytest.mark.parametrize("kwargs, done, why", [
    ({}, True, "complete"),
    ({"observed": 1}, False, "has not seen the new spec"),
    ({"updated": 1}, False, "1 of 3 new replicas updated"),
    ({"total": 4}, False, "1 old replicas pending termination"),
    ({"available": 2}, False, "2 of 3 updated replicas available"),
])
def test_rollout_state_follows_kubectl_rollout_status(kwargs, done, why):
    _, complete, reason = kc.rollout_state(deployment(**kwargs))
    assert complete is done
    assert why in reason


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


# ----------------------------------------------- exercise 2: waiting for a probe failure

FAILED_404 = "Readiness probe failed: HTTP probe failed with statuscode: 404"
# What the cluster shows, poll after poll, after `kubectl patch` points readiness at /nope:
# the new pod runs but is not Ready yet, long before its first probe failed.
RECORDED = [
    # (not-ready pods, events so far)
    (["hello-new-x1"], []),  # just started: not ready, no probe has run
    (["hello-new-x1"], [kc.Event("hello-new-x1", "Scheduled", "assigned")]),
    (["hello-new-x1"], [kc.Event("hello-new-x1", "Started", "Started container hello")]),
    (["hello-new-x1"], [kc.Event("hello-new-x1", "Started", "Started container hello"),
                        kc.Event("hello-new-x1", "Unhealthy", FAILED_404)]),
]


def test_a_running_not_ready_pod_is_no_probe_failure_until_the_kubelet_says_so():
    seen = [kc.first_probe_failure(pods, events) for pods, events in RECORDED]
    assert seen[:3] == [None, None, None]
    assert seen[3] == kc.Event("hello-new-x1", "Unhealthy", FAILED_404)


def test_an_old_failure_of_a_pod_that_is_ready_again_does_not_count():
    old = kc.Event("hello-old-a1", "Unhealthy", FAILED_404)  # e.g. during a Redis outage
    assert kc.first_probe_failure(["hello-new-x1"], [old]) is None


def test_only_the_probe_asked_for_counts():
    liveness = kc.Event("hello-new-x1", "Unhealthy", "Liveness probe failed: timeout")
    assert kc.first_probe_failure(["hello-new-x1"], [liveness], "Readiness") is None
    assert kc.first_probe_failure(["hello-new-x1"], [liveness], "Liveness") == liveness


def test_wait_for_probe_failure_polls_until_the_event(monkeypatch):
    """The live wait, driven by the recorded sequence instead of a cluster."""
    polls = iter(RECORDED)
    current = {}

    def live_pods(cluster, selector=kc.HELLO_SELECTOR):
        pods, _ = current["poll"] = next(polls)
        return [NS(metadata=NS(name=name), status=NS(conditions=[NS(type="Ready",
                                                                    status="False")]))
                for name in pods]

    monkeypatch.setattr(kc, "live_pods", live_pods)
    monkeypatch.setattr(kc, "probe_failure_events", lambda cluster: current["poll"][1])
    monkeypatch.setattr(kc.time, "sleep", lambda seconds: None)
    assert kc.wait_for_probe_failure(None, timeout=60).message == FAILED_404


# ------------------------------------------------------------------------- clean-up


def test_clean_up_runs_every_step_in_reverse_and_reports_the_failed_one():
    ran = []

    def fail():
        ran.append("unload")
        raise RuntimeError("crictl rmi: image not found")

    cleanup = kc.CleanUp()
    cleanup.add("delete the namespace", lambda: ran.append("namespace"))
    cleanup.add("unload hello-tornado:0.1.0", fail)
    cleanup.add("stop kubectl proxy", lambda: ran.append("proxy"))
    with pytest.raises(kc.CleanUpFailed) as failure:
        cleanup.run()
    assert ran == ["proxy", "unload", "namespace"]  # the step after the failure ran too
    assert failure.value.failed == [
        "unload hello-tornado:0.1.0: RuntimeError: crictl rmi: image not found"]
    assert failure.value.done == ["stop kubectl proxy", "delete the namespace"]
    assert "crictl rmi" in str(failure.value)
    assert cleanup.steps == []  # each step runs once


def test_clean_up_without_failures_returns_what_it_did():
    cleanup = kc.CleanUp()
    cleanup.add("a", lambda: None)
    cleanup.add("b", lambda: None)
    assert cleanup.run() == ["b", "a"]


def test_nothing_deletes_the_namespace_at_exit():
    source = (kc.ROOT / "notebooks" / "tutorial" / "cluster.py").read_text()
    assert "atexit" not in source


# What `kubectl exec deploy/redis -- redis-cli XINFO GROUPS hello:queue` prints (no
# terminal: one value a line). Recorded with Debian's redis-server 7.0.15: a stream with a
# group `workers` whose one consumer read three entries and acknowledged them all.
XINFO_GROUPS = """name
workers
consumers
1
pending
0
last-delivered-id
1796563737763-0
entries-read
3
lag
0
"""


def test_xinfo_groups_output_is_read_as_one_dict_per_group():
    (group,) = kc.redis_replies(XINFO_GROUPS)
    assert group["name"] == "workers" and group["consumers"] == "1"
    assert (group["pending"], group["lag"]) == ("0", "0")
    assert kc.redis_replies(XINFO_GROUPS * 2)[1]["entries-read"] == "3"
    assert kc.redis_replies("") == []


# `XINFO STREAM hello:queue` and `XINFO GROUPS hello:queue`, recorded with Debian's
# redis-server 7.0.15: three entries added, two delivered to a consumer, none acknowledged.
BUSY_STREAM = """length
3
radix-tree-keys
1
radix-tree-nodes
2
last-generated-id
1796564352366-0
max-deleted-entry-id
0-0
entries-added
3
recorded-first-entry-id
1796564352284-0
groups
1
first-entry
1796564352284-0
id
m1
last-entry
1796564352366-0
id
m3
"""
BUSY_GROUPS = """name
workers
consumers
1
pending
2
last-delivered-id
1796564352340-0
entries-read
2
lag
1
"""
# The same, when the consumer read both entries, acknowledged and deleted them (XDEL).
DONE_STREAM = """length
0
radix-tree-keys
0
radix-tree-nodes
1
last-generated-id
1796564357063-0
max-deleted-entry-id
1796564357063-0
entries-added
2
recorded-first-entry-id
0-0
groups
1
first-entry

last-entry

"""
DONE_GROUPS = """name
workers
consumers
1
pending
0
last-delivered-id
1796564357063-0
entries-read
2
lag
0
"""


def test_a_queue_is_drained_only_when_everything_was_delivered_and_acknowledged():
    busy = kc.redis_fields(BUSY_STREAM)
    assert busy["last-generated-id"] == "1796564352366-0" and "first-entry" not in busy
    (busy_group,) = kc.redis_replies(BUSY_GROUPS)
    (done_group,) = kc.redis_replies(DONE_GROUPS)
    assert not kc.queue_drained(busy, busy_group)
    assert kc.queue_drained(kc.redis_fields(DONE_STREAM), done_group)
    delivered_not_acked = {**done_group, "pending": "1"}
    assert not kc.queue_drained(kc.redis_fields(DONE_STREAM), delivered_not_acked)
