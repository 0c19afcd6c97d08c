"""The manifests in k8s/, rendered by `kubectl kustomize` and checked without a cluster.

Each check that could go wrong is also run on a deliberately broken copy, to show it can
fail. Notebook 05 teaches the same things cell by cell; checkov (run by hand, see the
README) is a second opinion on the rendered set.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

import service
from service.config import Settings
from tests.prereq import need
from tutorial import manifests as km
from tutorial.prereqs import tool_problem

K8S_DIR = km.K8S_DIR
IMAGE = f"hello-tornado:{service.__version__}"
PROJECT = "hello-microservices"
RECOMMENDED = {"app.kubernetes.io/instance": PROJECT, "app.kubernetes.io/managed-by": "kustomize"}

@pytest.fixture(autouse=True)
def _kubectl():
    need("kubectl", tool_problem("kubectl"))


def layers() -> list[str]:
    return [Path(c).name for c in
            yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())["components"]]


def render_layer(count: int, directory: Path) -> list[dict]:
    """base + the first `count` components, as notebook 05 renders each step."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(K8S_DIR / "base", directory)],
        "components": [os.path.relpath(K8S_DIR / "components" / name, directory)
                       for name in layers()[:count]]}))
    return km.kustomize(directory)


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    return km.kustomize(K8S_DIR)


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return km.kustomize(K8S_DIR / "base")


@pytest.fixture(scope="module")
def rendered_layers(tmp_path_factory) -> list[list[dict]]:
    root = tmp_path_factory.mktemp("layers")
    return [render_layer(count, root / str(count)) for count in range(len(layers()) + 1)]


@pytest.fixture
def broken(manifests) -> list[dict]:
    """A deep copy to break on purpose; the real manifests stay untouched."""
    return copy.deepcopy(manifests)


def pod_spec(docs: list[dict], name: str) -> dict:
    return km.find(docs, "Deployment", name)["spec"]["template"]["spec"]


def quantity(text: str) -> int:
    """Bytes of a Kubernetes quantity ("256Mi") or a Redis size ("160mb")."""
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", text).groups()
    units = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "kb": 2**10, "mb": 2**20,
             "gb": 2**30}
    return int(number) * units[unit]


# ---------------------------------------------------------------- structure and layers


def _referenced_files(directory: Path) -> set[Path]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    found = {directory / "kustomization.yaml"}
    entries = [*(kustomization.get("resources") or []), *(kustomization.get("components") or [])]
    entries += [patch["path"] for patch in kustomization.get("patches") or []]
    for entry in entries:
        path = directory / entry
        found |= _referenced_files(path) if path.is_dir() else {path}
    return {p.resolve() for p in found}


def test_every_yaml_file_in_k8s_is_used_by_the_kustomization():
    assert {p.resolve() for p in K8S_DIR.rglob("*.yaml")} == _referenced_files(K8S_DIR)


def test_the_layers_are_the_components_in_order():
    assert {p.name for p in (K8S_DIR / "components").iterdir()} == set(layers())
    # The namespace and the labels must come after every layer that adds objects.
    assert layers()[-2:] == ["namespace", "recommended-labels"]


def test_the_base_is_the_minimum_that_runs(base):
    assert sorted(map(km.describe, base)) == [
        "Deployment/hello", "Deployment/redis", "Deployment/worker",
        "Service/hello", "Service/redis"]
    assert all("namespace" not in m["metadata"] for m in base)
    for name in ("hello", "worker", "redis"):
        assert set(pod_spec(base, name)) == {"containers"}


def test_the_full_set(manifests):
    assert sorted(map(km.describe, manifests)) == sorted([
        "Namespace/hello-microservices", "Deployment/hello", "Deployment/worker",
        "Deployment/redis", "Service/hello", "Service/redis", "PodDisruptionBudget/hello",
        "HorizontalPodAutoscaler/hello", "NetworkPolicy/hello", "NetworkPolicy/worker",
        "NetworkPolicy/redis"])


def test_the_last_layer_is_k8s_itself(manifests, rendered_layers):
    assert rendered_layers[-1] == manifests


def test_every_layer_changes_the_rendering_and_validates_strictly(rendered_layers):
    for count, rendered in enumerate(rendered_layers):
        assert km.validate(rendered) == [], count
        if count:
            assert rendered != rendered_layers[count - 1], layers()[count - 1]


# ----------------------------------------------------------------------- validation


def test_strict_validation_catches_a_misspelt_field(broken):
    km.container(broken, "hello")["imagePullPolcy"] = "Always"
    problems = km.validate(broken)
    assert len(problems) == len(km.VALIDATE_VERSIONS)
    assert all("Deployment/hello" in p and "imagePullPolcy" in p for p in problems)


def test_prestop_sleep_is_why_kubernetes_130_is_the_minimum(manifests):
    (problem,) = km.validate(manifests, ["1.28"])
    assert "Deployment/hello" in problem and "'sleep' was unexpected" in problem


def test_a_client_side_dry_run_needs_an_api_server(tmp_path):
    """What notebook 05 says: without a cluster, kubectl can render but not dry-run."""
    empty = tmp_path / "kubeconfig"
    empty.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    done = subprocess.run(["kubectl", "apply", "--dry-run=client", "-k", str(K8S_DIR)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "KUBECONFIG": str(empty)})
    assert done.returncode != 0 and "localhost:8080" in done.stderr


# ---------------------------------------------------------------------- the worker


def test_worker_runs_the_same_image_as_hello_with_its_own_command(manifests):
    worker, hello = km.container(manifests, "worker"), km.container(manifests, "hello")
    assert worker["image"] == hello["image"] == IMAGE
    assert worker["command"] == ["/usr/local/bin/python", "-m", "service.worker"]
    dockerfile = (K8S_DIR.parent / "Dockerfile").read_text()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.*)$", dockerfile, re.M).group(1))
    assert [*entrypoint[:-1], "service.worker"] == worker["command"]  # only the module differs
    env = {e["name"]: e for e in worker["env"]}
    assert env["REDIS_URL"]["value"] == "redis://redis:6379/0"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert worker["ports"] == [{"name": "health", "containerPort": 8081, "protocol": "TCP"}]
    assert ("livenessProbe", "/healthz", 8081) in km.http_probes(manifests, "worker")


def test_nothing_routes_to_the_worker(manifests):
    services = [m for m in manifests if m["kind"] == "Service"]
    assert all("Deployment/worker" not in km.selected_by(manifests, {"matchLabels": s["spec"][
        "selector"]}) for s in services)


# ------------------------------------------------------------------------- Redis


def test_redis_refuses_writes_when_full_well_inside_its_memory_limit(manifests):
    redis = km.container(manifests, "redis")
    args = redis["args"]
    maxmemory = quantity(args[args.index("--maxmemory") + 1])
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    limit = quantity(redis["resources"]["limits"]["memory"])
    assert maxmemory <= 0.7 * limit  # headroom: Redis' own overhead, the fork that saves


def test_redis_is_probed_inside_its_container(manifests):
    redis = km.container(manifests, "redis")
    for probe in ("readinessProbe", "livenessProbe"):
        assert redis[probe]["exec"]["command"] == ["redis-cli", "ping"]
        assert "tcpSocket" not in redis[probe] and "httpGet" not in redis[probe]


def test_redis_runs_as_a_high_uid_and_keeps_its_data_in_an_emptydir(manifests):
    spec = pod_spec(manifests, "redis")
    context = spec["securityContext"]
    assert min(context["runAsUser"], context["runAsGroup"], context["fsGroup"]) >= 10000
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    assert "emptyDir" in {v["name"]: v for v in spec["volumes"]}[mounts["/data"]]


# --------------------------------------------------------------- every container


@pytest.mark.parametrize("name", ["hello", "worker", "redis"])
def test_every_container_requests_and_limits_cpu_memory_and_disk(manifests, name):
    resources = km.container(manifests, name)["resources"]
    for section in ("requests", "limits"):
        assert set(resources[section]) == {"cpu", "memory", "ephemeral-storage"}, section


def test_redis_disk_limit_holds_its_emptydir(manifests):
    spec = pod_spec(manifests, "redis")
    (volume,) = spec["volumes"]
    limit = spec["containers"][0]["resources"]["limits"]["ephemeral-storage"]
    assert quantity(volume["emptyDir"]["sizeLimit"]) < quantity(limit)


def test_the_restricted_rules_hold_for_every_pod(manifests):
    assert km.restricted_problems(manifests) == []
    namespace = km.find(manifests, "Namespace", PROJECT)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def _set(name: str, path: str, value):
    def mutate(docs):
        target = pod_spec(docs, name)
        *parents, last = path.split(".")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
        target[last] = value
    return mutate


VIOLATIONS = {
    "privileged": (_set("worker", "containers.0.securityContext.privileged", True), "privileged"),
    "host network": (_set("hello", "hostNetwork", True), "hostNetwork"),
    "hostPath": (_set("redis", "volumes", [{"name": "h", "hostPath": {"path": "/"}}]), "hostPath"),
    "escalation": (_set("hello", "containers.0.securityContext.allowPrivilegeEscalation", True),
                   "allowPrivilegeEscalation"),
    "root allowed": (_set("redis", "securityContext.runAsNonRoot", None), "runAsNonRoot"),
    "root": (_set("worker", "securityContext.runAsUser", 0), "runAsUser 0"),
    "no seccomp": (_set("hello", "securityContext.seccompProfile", None), "seccompProfile"),
    "capabilities": (_set("worker", "containers.0.securityContext.capabilities", {}), "drop ALL"),
    "added": (_set("hello", "containers.0.securityContext.capabilities.add", ["SYS_ADMIN"]),
              "NET_BIND_SERVICE"),
}


@pytest.mark.parametrize("violation", VIOLATIONS)
def test_a_restricted_violation_is_caught(broken, violation):
    mutate, expected = VIOLATIONS[violation]
    mutate(broken)
    assert any(expected in p for p in km.restricted_problems(broken))


# ------------------------------------------------------------ selectors and labels


def test_every_selector_picks_exactly_one_workload(manifests):
    found = list(km.selectors(manifests))
    assert len(found) == 13  # 2 Services, 3 Deployments, 1 budget, 3 policies + 4 peers
    for where, selector in found:
        assert len(km.selected_by(manifests, selector)) == 1, where


def test_a_selector_with_a_typo_picks_nothing(broken):
    km.find(broken, "Service", "hello")["spec"]["selector"]["app.kubernetes.io/name"] = "helo"
    assert km.selected_by(broken, dict(km.selectors(broken))["Service/hello"]) == []


def test_recommended_labels_on_every_object_and_pod_never_in_a_selector(manifests):
    for m in manifests:
        assert RECOMMENDED.items() <= m["metadata"]["labels"].items(), km.describe(m)
        assert m["metadata"]["labels"]["app.kubernetes.io/part-of"] == PROJECT
        if m["kind"] != "Namespace":
            assert m["metadata"]["namespace"] == PROJECT
    for _, template in km.pod_templates(manifests):
        assert RECOMMENDED.items() <= template["metadata"]["labels"].items()
    assert "app.kubernetes.io/instance" not in json.dumps([s for _, s in km.selectors(manifests)])
    assert "app.kubernetes.io/version" not in json.dumps(manifests)  # it would go stale


@pytest.mark.parametrize(("selector", "matches"), [
    ({}, True),
    ({"matchLabels": {"a": "1"}}, True),
    ({"matchLabels": {"a": "2"}}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, False),
    ({"matchExpressions": [{"key": "b", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]}, True),
])
def test_selector_matches(selector, matches):
    assert km.selector_matches(selector, {"a": "1"}) is matches


# ------------------------------------------------------------------ network policies


def policy(manifests, name) -> dict:
    return km.find(manifests, "NetworkPolicy", name)["spec"]


def test_every_pod_is_selected_by_its_own_network_policy(manifests):
    for name in ("hello", "worker", "redis"):
        spec = policy(manifests, name)
        assert km.selected_by(manifests, spec["podSelector"]) == [f"Deployment/{name}"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]


def test_only_hello_and_worker_reach_redis_and_redis_reaches_nothing(manifests):
    (rule,) = policy(manifests, "redis")["ingress"]
    assert sorted(w for peer in rule["from"] for w in km.selected_by(manifests, peer[
        "podSelector"])) == ["Deployment/hello", "Deployment/worker"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
    assert policy(manifests, "redis")["egress"] == []


@pytest.mark.parametrize(("name", "port"), [("hello", 8080), ("worker", 8081)])
def test_hello_and_worker_call_only_redis_and_dns(manifests, name, port):
    spec = policy(manifests, name)
    (ingress,) = spec["ingress"]
    assert ingress == {"ports": [{"protocol": "TCP", "port": port}]}  # one port, nothing else
    redis, dns = spec["egress"]
    assert km.selected_by(manifests, redis["to"][0]["podSelector"]) == ["Deployment/redis"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


# ------------------------------------------------------------------- hello's layers


def test_probes_hit_the_service_health_endpoints(manifests):
    assert km.http_probes(manifests, "hello") == [
        ("startupProbe", "/healthz", 8080), ("readinessProbe", "/readyz", 8080),
        ("livenessProbe", "/healthz", 8080)]


def test_grace_period_covers_prestop_pause_and_drain(manifests):
    spec = pod_spec(manifests, "hello")
    pause = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["terminationGracePeriodSeconds"] > pause + Settings().shutdown_timeout


def test_rollouts_keep_capacity_and_the_spread_ignores_old_pods(manifests):
    deployment = km.find(manifests, "Deployment", "hello")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    (spread,) = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread["matchLabelKeys"] == ["pod-template-hash"]
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"


def test_the_budget_lets_unhealthy_pods_go(manifests):
    pdb = km.find(manifests, "PodDisruptionBudget", "hello")["spec"]
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow" and pdb["maxUnavailable"] == 1


def test_the_autoscaler_owns_the_count_and_its_floor_is_the_base_count(manifests, base):
    hpa = km.find(manifests, "HorizontalPodAutoscaler", "hello")["spec"]
    assert "replicas" not in km.find(manifests, "Deployment", "hello")["spec"]
    assert hpa["minReplicas"] == km.find(base, "Deployment", "hello")["spec"]["replicas"] == 3


def test_notebook_05_is_skipped_with_a_reason_where_kubectl_is_missing(monkeypatch):
    import nbformat

    from tutorial import prereqs

    notebook = nbformat.read(K8S_DIR.parent / "notebooks" / "05-kubernetes-objects.ipynb", 4)
    assert notebook.metadata["tutorial"]["requires"] == ["docker", "kubectl"]
    assert prereqs.problems("kubectl") == []
    monkeypatch.setattr(prereqs.shutil, "which", lambda command: None)
    (reason,) = prereqs.problems("kubectl")
    assert "kubectl kustomize" in reason and "kubernetes.io/docs/tasks/tools" in reason
