"""The manifests in `k8s/` as kubectl renders them, and the few checks notebook 05 reads.

Rendering is `kubectl kustomize` (the kustomize built into kubectl), validation against
the API schemas is the `kubernetes-validate` package; this module only loads their
results into Python and holds what a learner should read: how a label selector picks
pods, and a short version of the *restricted* Pod Security rules that the API server
enforces in a namespace labelled `pod-security.kubernetes.io/enforce: restricted`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "k8s"

#: Kubernetes versions whose API schemas the manifests are validated against. 1.30 is the
#: oldest that runs the hardened set: the preStop `sleep` handler is on by default from 1.30.
VALIDATE_VERSIONS = ("1.30", "1.32", "1.34")


def kustomize(directory: Path | str = K8S_DIR) -> list[Manifest]:
    """The objects `kubectl kustomize DIRECTORY` prints, as dicts (needs kubectl, no cluster)."""
    done = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def describe(manifest: Mapping[str, Any]) -> str:
    """`Kind/name`, the way kubectl names an object in messages."""
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def find(manifests: Iterable[Manifest], kind: str, name: str) -> Manifest:
    """The one object of `kind` called `name`; KeyError listing what there is otherwise."""
    manifests = list(manifests)
    for manifest in manifests:
        if (manifest["kind"], manifest["metadata"]["name"]) == (kind, name):
            return manifest
    raise KeyError(f"no {kind}/{name} (found: {', '.join(map(describe, manifests))})")


def pod_templates(manifests: Iterable[Manifest]) -> Iterator[tuple[Manifest, Manifest]]:
    """(owner, pod template) for every Deployment and bare Pod."""
    for manifest in manifests:
        if manifest["kind"] == "Deployment":
            yield manifest, manifest["spec"]["template"]
        elif manifest["kind"] == "Pod":
            yield manifest, manifest


def container(manifests: Iterable[Manifest], name: str) -> Manifest:
    """The container `name` of the Deployment `name` (hello, worker, redis)."""
    spec = find(manifests, "Deployment", name)["spec"]["template"]["spec"]
    (found,) = [c for c in spec["containers"] if c["name"] == name]
    return found


def validate(manifests: Iterable[Manifest], versions: Sequence[str] = VALIDATE_VERSIONS,
             ) -> list[str]:
    """Problems found by STRICT schema validation (an unknown field is an error), per version."""
    import kubernetes_validate

    problems = []
    for manifest in manifests:
        for version in versions:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path) or "<top level>"
                problems.append(f"{describe(manifest)} (Kubernetes {version}): {path}: "
                                f"{error.message}")
    return problems


# -------------------------------------------------------------------- label selectors


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector picks a pod with these `labels`, by Kubernetes' rules.

    `matchLabels`: every key must have exactly that value. `matchExpressions`: In, NotIn,
    Exists, DoesNotExist. An empty selector selects everything. (A Service's selector is
    a plain map: pass it as `{"matchLabels": service["spec"]["selector"]}`.)
    """
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get(
            "values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def selected_by(manifests: Iterable[Manifest], selector: Mapping[str, Any] | None) -> list[str]:
    """Which workloads' pods a selector picks (same namespace assumed): ["Deployment/hello"]."""
    return [describe(owner) for owner, template in pod_templates(manifests)
            if selector_matches(selector, template["metadata"].get("labels") or {})]


def selectors(manifests: Iterable[Manifest]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every pod selector in the manifests: (where, LabelSelector)."""
    for m in manifests:
        spec, where = m.get("spec") or {}, describe(m)
        if m["kind"] == "Service" and spec.get("selector"):
            yield where, {"matchLabels": spec["selector"]}
        elif m["kind"] in ("Deployment", "PodDisruptionBudget"):
            yield f"{where} spec.selector", spec["selector"]
        elif m["kind"] == "NetworkPolicy":
            yield f"{where} spec.podSelector", spec["podSelector"]
            for direction, peers in (("ingress", "from"), ("egress", "to")):
                for rule in spec.get(direction) or []:
                    for peer in rule.get(peers) or []:
                        if "podSelector" in peer and "namespaceSelector" not in peer:
                            yield f"{where} {direction} peer", peer["podSelector"]


# ------------------------------------------------------- restricted Pod Security Standard


def restricted_problems(manifests: Iterable[Manifest]) -> list[str]:
    """The main rules of the *restricted* Pod Security Standard, for every pod template.

    Not the real thing: the API server's Pod Security Admission enforces the full list
    (kubernetes.io/docs/concepts/security/pod-security-standards/) in a namespace labelled
    `pod-security.kubernetes.io/enforce: restricted`. These are the rules a manifest most
    often breaks, readable in one screen.
    """
    problems = []
    for owner, template in pod_templates(manifests):
        spec = template["spec"]
        pod = spec.get("securityContext") or {}
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                problems.append(f"{describe(owner)}: {field} must be unset")
        for volume in spec.get("volumes") or []:
            if "hostPath" in volume:
                problems.append(f"{describe(owner)}: hostPath volume {volume['name']!r}")
        for c in spec.get("containers") or []:
            own = c.get("securityContext") or {}
            where = f"{describe(owner)} container {c['name']!r}"

            def setting(key: str, own: Mapping[str, Any] = own,
                        pod: Mapping[str, Any] = pod) -> Any:
                return own.get(key, pod.get(key))  # the container's, else the pod's

            if own.get("privileged"):
                problems.append(f"{where}: privileged")
            if setting("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot must be true")
            if setting("runAsUser") == 0:
                problems.append(f"{where}: runAsUser 0 is root")
            if own.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation must be false")
            if (setting("seccompProfile") or {}).get("type") not in ("RuntimeDefault",
                                                                      "Localhost"):
                problems.append(f"{where}: seccompProfile must be RuntimeDefault or Localhost")
            capabilities = own.get("capabilities") or {}
            if "ALL" not in (capabilities.get("drop") or []):
                problems.append(f"{where}: capabilities must drop ALL")
            if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
                problems.append(f"{where}: may add no capability but NET_BIND_SERVICE")
    return problems


# --------------------------------------------------------------------------- probes


def http_probes(manifests: Iterable[Manifest], name: str) -> list[tuple[str, str, int]]:
    """(probe, path, port number) of every httpGet probe of container `name`."""
    c = container(manifests, name)
    ports = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
    found = []
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if get := (c.get(probe) or {}).get("httpGet"):
            found.append((probe, get["path"], ports.get(get["port"], get["port"])))
    return found
