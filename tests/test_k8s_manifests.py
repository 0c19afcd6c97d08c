"""The manifests in k8s/, checked without a cluster.

Each cross-check is run twice: on the real manifests (no problems) and on a deliberately
broken copy (the problem is reported). The second half is what shows a check can fail.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import service
from service.config import ENV_VARS, Settings
from tutorial import kustomize as kz
from tutorial import manifests as km

K8S_DIR = Path(__file__).resolve().parents[1] / "k8s"

# What the image and the service promise (the Dockerfile's EXPOSE and USER, `make image`'s
# tag). Notebook 05 reads the first two from the built image itself.
IMAGE_PORT = "8080/tcp"
IMAGE_USER = "65534:65534"
EXPECTED_IMAGE = f"hello-tornado:{service.__version__}"


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    return km.load_manifests(K8S_DIR)


@pytest.fixture
def broken(manifests) -> list[dict]:
    """A deep copy to break on purpose; the real manifests stay untouched."""
    return copy.deepcopy(manifests)


def hello_pod_spec(docs: list[dict]) -> dict:
    return km.find(docs, "Deployment", "hello")["spec"]["template"]["spec"]


def hello_container(docs: list[dict]) -> dict:
    return hello_pod_spec(docs)["containers"][0]


# ----------------------------------------------------------------------- loading


def _referenced_files(directory: Path) -> set[Path]:
    """Every file a kustomization (and the ones it includes) reads."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    found = {directory / "kustomization.yaml"}
    entries = [*(kustomization.get("resources") or []), *(kustomization.get("components") or [])]
    entries += [patch["path"] for patch in kustomization.get("patches") or []]
    for entry in entries:
        path = directory / entry
        found |= _referenced_files(path) if path.is_dir() else {path}
    return {p.resolve() for p in found}


def test_every_yaml_file_in_k8s_is_used_by_the_kustomization():
    on_disk = {p.resolve() for p in K8S_DIR.rglob("*.yaml")}
    assert on_disk == _referenced_files(K8S_DIR)


def test_the_layers_are_the_components_in_order():
    listed = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())["components"]
    assert kz.layers(K8S_DIR) == [Path(c).name for c in listed]
    assert kz.layers(K8S_DIR)[-1] == "namespace"  # last, so it covers every object
    assert {p.name for p in (K8S_DIR / "components").iterdir()} == set(kz.layers(K8S_DIR))


def test_the_base_is_the_minimum_that_runs():
    base = km.load_manifests(K8S_DIR / "base")
    assert sorted((m["kind"], m["metadata"]["name"]) for m in base) == [
        ("Deployment", "hello"), ("Deployment", "redis"),
        ("Service", "hello"), ("Service", "redis")]
    assert km.find(base, "Deployment", "hello")["spec"]["replicas"] == 3
    assert all("namespace" not in m["metadata"] for m in base)
    pod = hello_pod_spec(base)
    assert set(pod) == {"containers"}
    assert not {"livenessProbe", "resources"} & set(pod["containers"][0])


def test_the_expected_objects_are_there(manifests):
    assert sorted((m["kind"], m["metadata"]["name"]) for m in manifests) == sorted(
        [
            ("Namespace", "hello-microservices"),
            ("Deployment", "redis"),
            ("Service", "redis"),
            ("NetworkPolicy", "redis-allow-hello"),
            ("Deployment", "hello"),
            ("Service", "hello"),
            ("PodDisruptionBudget", "hello"),
            ("HorizontalPodAutoscaler", "hello"),
        ]
    )


LAYER_COUNTS = range(len(kz.layers(K8S_DIR)) + 1)


@pytest.mark.skipif(not km.kubectl_available(), reason="kubectl is not installed")
@pytest.mark.parametrize("count", LAYER_COUNTS)
def test_kubectl_kustomize_renders_what_the_python_loader_renders(count, tmp_path):
    rendered = kz.render_with_kubectl(kz.write_layer(count, tmp_path / "layer"))
    assert kz.by_identity(rendered) == kz.by_identity(kz.render_layer(count, K8S_DIR))


@pytest.mark.skipif(not km.kubectl_available(), reason="kubectl is not installed")
def test_kubectl_kustomize_of_k8s_is_the_last_layer(manifests):
    assert kz.by_identity(km.render_with_kubectl(K8S_DIR)) == kz.by_identity(manifests)
    assert kz.by_identity(kz.render_layer(LAYER_COUNTS[-1])) == kz.by_identity(manifests)


@pytest.mark.parametrize("count", LAYER_COUNTS[1:])
def test_every_layer_changes_the_rendering(count):
    assert kz.render_layer(count) != kz.render_layer(count - 1)


@pytest.mark.parametrize("count", LAYER_COUNTS)
def test_every_layer_validates_strictly(count):
    assert km.validate_manifests(kz.render_layer(count)) == []


@pytest.mark.parametrize(
    ("kustomization", "refused"),
    [
        ("namespace: other\nimages: [{name: a, newTag: b}]\nresources: [a.yaml]\n", "images"),
        ("resources: [a.yaml]\npatches: [{path: a.yaml, target: {kind: Namespace}}]\n", "target"),
        ("resources: [a.yaml]\nconfigMapGenerator: [{name: c}]\n", "configMapGenerator"),
    ],
)
def test_loader_refuses_a_kustomization_it_cannot_render(tmp_path, kustomization, refused):
    (tmp_path / "kustomization.yaml").write_text(kustomization)
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    with pytest.raises(kz.UnsupportedKustomization, match=refused):
        km.load_manifests(tmp_path)


def test_strategic_merge_merges_lists_by_their_key_and_null_deletes():
    target = {"replicas": 3, "containers": [{"name": "a", "image": "x", "env": [
        {"name": "A", "value": "1"}]}, {"name": "b", "image": "y"}], "args": ["1", "2"]}
    patch = {"replicas": None, "args": ["3"], "containers": [
        {"name": "a", "env": [{"name": "B", "value": "2"}]}, {"name": "c", "image": "z"}]}
    assert kz.strategic_merge(target, patch) == {"args": ["3"], "containers": [
        {"name": "a", "image": "x",
         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "b", "image": "y"}, {"name": "c", "image": "z"}]}
    assert target["replicas"] == 3  # the input is left alone


def test_strategic_merge_refuses_directives():
    with pytest.raises(kz.UnsupportedKustomization, match=r"\$patch"):
        kz.strategic_merge({"a": 1}, {"$patch": "delete"})


def test_find_says_what_there_is(manifests):
    with pytest.raises(KeyError, match="Deployment/hello"):
        km.find(manifests, "Deployment", "nope")


# -------------------------------------------------------------------- validation


def test_validated_against_at_least_three_shipped_versions():
    assert len(set(km.VALIDATE_VERSIONS)) >= 3
    assert set(km.VALIDATE_VERSIONS) <= set(km.supported_versions())


def test_manifests_validate_strictly_against_every_version(manifests):
    assert km.validate_manifests(manifests) == []


def test_unknown_field_fails_validation(broken):
    hello_container(broken)["imagePullPolcy"] = "Always"  # misspelt on purpose
    problems = km.validate_manifests(broken)
    assert len(problems) == len(km.VALIDATE_VERSIONS)
    assert all("Deployment/hello" in p and "imagePullPolcy" in p for p in problems)


def test_wrong_type_fails_validation(broken):
    km.find(broken, "Deployment", "hello")["spec"]["replicas"] = "three"
    assert any("spec.replicas" in p for p in km.validate_manifests(broken))


def test_unknown_kind_fails_validation(broken):
    broken.append({"apiVersion": "v1", "kind": "Pdo", "metadata": {"name": "x"}})
    assert any("Pdo" in p for p in km.validate_manifests(broken))


def test_prestop_sleep_is_why_kubernetes_130_is_the_minimum(manifests):
    problems = km.validate_manifests(manifests, ["1.28"])
    assert len(problems) == 1
    assert "Deployment/hello" in problems[0] and "'sleep' was unexpected" in problems[0]


def test_unsupported_version_is_a_problem_not_a_crash(manifests):
    assert "no schemas for Kubernetes 1.19" in km.validate_manifests(manifests, ["1.19"])[0]


# ------------------------------------------------------------------ cross-checks


def test_every_cross_check_passes_on_the_real_manifests(manifests):
    problems = km.offline_problems(
        manifests,
        exposed_port=IMAGE_PORT,
        image_user=IMAGE_USER,
        expected_image=EXPECTED_IMAGE,
        known_env_vars=ENV_VARS,
    )
    assert problems == {name: [] for name in problems}


def test_service_selector_that_matches_no_pod_is_caught(broken):
    km.find(broken, "Service", "hello")["spec"]["selector"]["app.kubernetes.io/name"] = "helo"
    problems = km.check_service_selectors(broken)
    assert len(problems) == 1 and "Service/hello" in problems[0]


def test_deployment_selector_not_matching_its_template_is_caught(broken):
    labels = km.find(broken, "Deployment", "redis")["spec"]["template"]["metadata"]["labels"]
    labels["app.kubernetes.io/name"] = "cache"
    problems = km.check_workload_selectors(broken)
    assert any("Deployment/redis" in p and "own pod template" in p for p in problems)


@pytest.mark.parametrize(
    ("kind", "name", "path"),
    [
        ("PodDisruptionBudget", "hello", ("spec", "selector", "matchLabels")),
        ("NetworkPolicy", "redis-allow-hello", ("spec", "podSelector", "matchLabels")),
        (
            "NetworkPolicy",
            "redis-allow-hello",
            ("spec", "ingress", 0, "from", 0, "podSelector", "matchLabels"),
        ),
    ],
)
def test_other_selector_that_matches_no_pod_is_caught(broken, kind, name, path):
    target = km.find(broken, kind, name)
    for key in path:
        target = target[key]
    target["app.kubernetes.io/name"] = "nobody"
    problems = km.check_workload_selectors(broken)
    assert len(problems) == 1 and f"{kind}/{name}" in problems[0]


def test_autoscaler_target_missing_is_caught(broken):
    km.find(broken, "HorizontalPodAutoscaler", "hello")["spec"]["scaleTargetRef"]["name"] = "hi"
    assert "Deployment/hi" in km.check_workload_selectors(broken)[0]


@pytest.mark.parametrize("target_port", ["web", 8081])
def test_service_target_port_that_no_container_has_is_caught(broken, target_port):
    km.find(broken, "Service", "hello")["spec"]["ports"][0]["targetPort"] = target_port
    problems = km.check_service_ports(broken)
    assert len(problems) == 1 and "Service/hello" in problems[0]


def test_numeric_target_port_that_exists_is_fine(broken):
    km.find(broken, "Service", "hello")["spec"]["ports"][0]["targetPort"] = 8080
    assert km.check_service_ports(broken) == []


@pytest.mark.parametrize("exposed", [8080, "8080", "8080/tcp"])
def test_container_port_accepts_every_way_of_writing_the_exposed_port(manifests, exposed):
    assert km.check_container_port(manifests, exposed) == []


def test_container_port_other_than_the_exposed_one_is_caught(manifests):
    assert "9090" in km.check_container_port(manifests, "9090/tcp")[0]


def test_run_as_root_is_caught(broken):
    hello_pod_spec(broken)["securityContext"]["runAsUser"] = 0
    assert "runAsUser is 0" in km.check_run_as_user(broken, IMAGE_USER)[0]
    assert any("runAsUser is 0" in p for p in km.check_restricted_pod_security(broken))


def test_container_level_user_overrides_the_pod_level_one(broken):
    hello_container(broken)["securityContext"]["runAsUser"] = 1000
    assert "runAsUser is 1000" in km.check_run_as_user(broken, IMAGE_USER)[0]


def test_group_mismatch_is_caught(manifests):
    assert "runAsGroup" in km.check_run_as_user(manifests, "65534:1000")[0]


def test_image_user_given_by_name_is_caught(manifests):
    assert "not numeric" in km.check_run_as_user(manifests, "nobody")[0]


def test_uid_only_image_user_is_accepted(manifests):
    assert km.check_run_as_user(manifests, 65534) == []


def test_wrong_image_tag_is_caught(manifests):
    assert "hello-tornado:9.9.9" in km.check_image(manifests, "hello-tornado:9.9.9")[0]


def test_image_is_the_service_version_and_labelled_with_it(manifests):
    deployment = km.find(manifests, "Deployment", "hello")
    assert hello_container(manifests)["image"] == EXPECTED_IMAGE
    for metadata in (deployment["metadata"], deployment["spec"]["template"]["metadata"]):
        assert metadata["labels"]["app.kubernetes.io/version"] == service.__version__


def test_env_var_the_service_does_not_read_is_caught(broken):
    hello_container(broken)["env"].append({"name": "REDIS_ULR", "value": "redis://x:6379/0"})
    problems = km.check_env_vars(broken, ENV_VARS)
    assert len(problems) == 1 and "REDIS_ULR" in problems[0]


def test_env_from_is_reported_as_uncheckable(broken):
    hello_container(broken)["envFrom"] = [{"configMapRef": {"name": "hello"}}]
    assert "envFrom" in km.check_env_vars(broken, ENV_VARS)[0]


def test_missing_limits_are_caught(broken):
    del hello_container(broken)["resources"]["limits"]["memory"]
    assert km.check_resources(broken) == [
        "Deployment/hello container 'hello': no memory in resources.limits"
    ]


def test_missing_project_label_and_wrong_namespace_are_caught(broken):
    redis_service = km.find(broken, "Service", "redis")
    del redis_service["metadata"]["labels"]["app.kubernetes.io/part-of"]
    redis_service["metadata"]["namespace"] = "default"
    problems = km.check_labels(broken)
    assert len(problems) == 2 and all("Service/redis" in p for p in problems)


# --------------------------------------------------- restricted Pod Security Standard


def _set(path: str, value) -> Callable[[list[dict]], None]:
    """A mutation that sets a dotted path under the hello Deployment's pod spec."""

    def mutate(docs: list[dict]) -> None:
        target: dict = hello_pod_spec(docs)
        *parents, last = path.split(".")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
        target[last] = value

    return mutate


RESTRICTED_VIOLATIONS = {
    "privileged": (_set("containers.0.securityContext.privileged", True), "privileged"),
    "host network": (_set("hostNetwork", True), "hostNetwork"),
    "host PID": (_set("hostPID", True), "hostPID"),
    "host port": (_set("containers.0.ports.0.hostPort", 8080), "hostPort"),
    "hostPath volume": (
        _set("volumes", [{"name": "host", "hostPath": {"path": "/"}}]),
        "hostPath",
    ),
    "privilege escalation": (
        _set("containers.0.securityContext.allowPrivilegeEscalation", True),
        "allowPrivilegeEscalation",
    ),
    "runAsNonRoot false": (
        _set("containers.0.securityContext.runAsNonRoot", False),
        "runAsNonRoot",
    ),
    "runAsNonRoot unset": (_set("securityContext.runAsNonRoot", None), "runAsNonRoot"),
    "seccomp unconfined": (
        _set("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}),
        "seccompProfile",
    ),
    "no seccomp": (_set("securityContext.seccompProfile", None), "seccompProfile"),
    "capabilities kept": (_set("containers.0.securityContext.capabilities", {}), "drop"),
    "capability added": (
        _set("containers.0.securityContext.capabilities.add", ["SYS_ADMIN"]),
        "SYS_ADMIN",
    ),
}


@pytest.mark.parametrize("violation", RESTRICTED_VIOLATIONS)
def test_restricted_pod_security_violation_is_caught(broken, violation):
    mutate, expected = RESTRICTED_VIOLATIONS[violation]
    mutate(broken)
    problems = km.check_restricted_pod_security(broken)
    assert problems, f"{violation} went unnoticed"
    assert all("Deployment/hello" in p for p in problems)
    assert any(expected in p for p in problems)


def test_net_bind_service_is_the_one_capability_allowed(broken):
    _set("containers.0.securityContext.capabilities.add", ["NET_BIND_SERVICE"])(broken)
    assert km.check_restricted_pod_security(broken) == []


def test_namespace_enforces_restricted(manifests):
    labels = km.find(manifests, "Namespace", "hello-microservices")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# ------------------------------------------------------------- the hello workload


def test_probes_hit_the_service_health_endpoints(manifests):
    probes = {p.probe: p for p in km.http_probes(manifests)}
    assert probes["readinessProbe"].path == "/readyz"
    assert probes["livenessProbe"].path == "/healthz"
    assert {p.port for p in probes.values()} == {8080}
    assert km.probe_paths(manifests) == ["/healthz", "/readyz"]


def test_hello_rolls_out_without_losing_capacity(manifests):
    spec = km.find(manifests, "Deployment", "hello")["spec"]
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert hello_container(manifests)["imagePullPolicy"] == "IfNotPresent"


def test_grace_period_covers_prestop_pause_and_drain(manifests):
    pod = hello_pod_spec(manifests)
    pause = hello_container(manifests)["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pause > 0
    assert pod["terminationGracePeriodSeconds"] > pause + Settings().shutdown_timeout


def test_hello_finds_redis_through_its_service(manifests):
    env = {e["name"]: e for e in hello_container(manifests)["env"]}
    assert env["REDIS_URL"]["value"] == "redis://redis:6379/0"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    redis_ports = km.find(manifests, "Service", "redis")["spec"]["ports"]
    assert [p["port"] for p in redis_ports] == [6379]


def test_autoscaler_owns_the_count_and_its_floor_is_the_base_count(manifests):
    hpa = km.find(manifests, "HorizontalPodAutoscaler", "hello")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert "replicas" not in km.find(manifests, "Deployment", "hello")["spec"]
    base = km.load_manifests(K8S_DIR / "base")
    assert hpa["minReplicas"] == km.find(base, "Deployment", "hello")["spec"]["replicas"]
    assert km.check_autoscaled_replicas(manifests) == []


def test_replicas_next_to_an_autoscaler_are_caught(broken):
    km.find(broken, "Deployment", "hello")["spec"]["replicas"] = 3
    problems = km.check_autoscaled_replicas(broken)
    assert len(problems) == 1 and "HorizontalPodAutoscaler/hello" in problems[0]


# Which check each layer is there to satisfy: failing on the layers below, passing from it on.
LAYER_FIXES = {
    "resources": lambda m: km.check_resources(m),
    "security-context": lambda m: km.check_restricted_pod_security(m)
    + km.check_run_as_user(m, IMAGE_USER),
    "autoscaler": lambda m: km.check_autoscaled_replicas(m)
    or ([] if any(x["kind"] == "HorizontalPodAutoscaler" for x in m) else ["no autoscaler"]),
    "namespace": lambda m: km.check_labels(m),
}


@pytest.mark.parametrize("layer", LAYER_FIXES)
def test_each_hardening_check_turns_green_exactly_at_its_layer(layer):
    position = kz.layers(K8S_DIR).index(layer) + 1
    check = LAYER_FIXES[layer]
    assert check(kz.render_layer(position - 1)) != []
    for count in range(position, LAYER_COUNTS[-1] + 1):
        assert check(kz.render_layer(count)) == [], (layer, count)


def test_redis_keeps_its_data_in_an_emptydir(manifests):
    pod = km.find(manifests, "Deployment", "redis")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/data"]]
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


# ----------------------------------------------------------------- label selectors


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({}, True),
        ({"matchLabels": {"a": "1"}}, True),
        ({"matchLabels": {"a": "2"}}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, False),
        ({"matchExpressions": [{"key": "b", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]}, True),
    ],
)
def test_selector_matches(selector, matches):
    assert km.selector_matches(selector, {"a": "1"}) is matches
