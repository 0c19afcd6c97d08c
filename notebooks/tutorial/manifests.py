"""Read the Kubernetes manifests in `k8s/` and check them without a cluster.

Two kinds of checks live here:

* `validate_manifests` checks every object against the official OpenAPI schemas of
  several Kubernetes versions (the `kubernetes-validate` package ships them), strictly:
  a misspelt or unknown field is an error, as it is for `kubectl apply --validate=strict`.
* The `check_*` functions cross-check what a schema cannot see: that a Service's
  selector finds pods, that its target port exists, that the manifest agrees with the
  real image (port, user, tag) and the real service (environment variables), and that
  every pod would be admitted under the *restricted* Pod Security Standard.

Every check takes the loaded manifests (plain dicts, as YAML gives them), changes
nothing, and returns a list of human-readable problems: an empty list means "ok". That
keeps them easy to test, including against deliberately broken copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutorial.kustomize import (  # noqa: F401  (re-exported: notebooks import them from here)
    K8S_DIR,
    Manifest,
    kubectl_available,
    render,
    render_with_kubectl,
)

#: Kubernetes versions whose API schemas the manifests are validated against. 1.30 is the
#: oldest that runs the hardened set as written: `lifecycle.preStop.sleep` (the
#: graceful-rollout layer) is beta and on by default from 1.30 (alpha behind a feature
#: gate in 1.29, GA in 1.34).
VALIDATE_VERSIONS = ("1.30", "1.32", "1.34")

#: Kinds whose objects contain a pod template, and where it is.
_POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


# --------------------------------------------------------------------------- loading


def load_manifests(k8s_dir: Path | str = K8S_DIR) -> list[Manifest]:
    """Every object `kubectl kustomize k8s_dir` renders (the full, hardened set by default).

    Pure Python (tutorial.kustomize), no kubectl needed; it refuses kustomize features it
    does not implement, and the tests check it against `kubectl kustomize` layer by layer.
    """
    return render(k8s_dir)


def describe(manifest: Mapping[str, Any]) -> str:
    """`Kind/name`, the way kubectl names an object in messages."""
    return f"{manifest.get('kind', '?')}/{manifest.get('metadata', {}).get('name', '?')}"


def find(manifests: Iterable[Manifest], kind: str, name: str) -> Manifest:
    """The one object of `kind` called `name`; KeyError listing what there is otherwise."""
    manifests = list(manifests)
    for manifest in manifests:
        if manifest.get("kind") == kind and manifest.get("metadata", {}).get("name") == name:
            return manifest
    present = ", ".join(describe(m) for m in manifests) or "nothing"
    raise KeyError(f"no {kind}/{name} in the manifests (found: {present})")


def pod_templates(manifests: Iterable[Manifest]) -> Iterator[tuple[Manifest, Mapping[str, Any]]]:
    """(owner, pod template) for every workload, and (pod, pod) for bare Pods.

    A pod template is `{metadata: ..., spec: <PodSpec>}`, like a Pod without kind.
    """
    for manifest in manifests:
        kind = manifest.get("kind")
        if kind == "Pod":
            yield manifest, manifest
        elif kind in _POD_TEMPLATE_PATHS:
            template: Any = manifest
            for key in _POD_TEMPLATE_PATHS[kind]:
                template = (template or {}).get(key)
            yield manifest, template or {}


def container(
    manifests: Iterable[Manifest],
    workload: str = "hello",
    name: str = "hello",
    kind: str = "Deployment",
) -> Mapping[str, Any]:
    """The container `name` in the pod template of `kind/workload`."""
    owner = find(manifests, kind, workload)
    for candidate in _pod_spec(_template_of(owner)).get("containers") or []:
        if candidate.get("name") == name:
            return candidate
    raise KeyError(f"{describe(owner)} has no container named {name!r}")


def _template_of(owner: Manifest) -> Mapping[str, Any]:
    return next(template for _, template in pod_templates([owner]))


def _pod_spec(template: Mapping[str, Any]) -> Mapping[str, Any]:
    return template.get("spec") or {}


def _all_containers(pod_spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod_spec.get(key) or []


# ------------------------------------------------------------------------ validation


def validate_manifests(
    manifests: Iterable[Manifest], versions: Sequence[str] = VALIDATE_VERSIONS
) -> list[str]:
    """Problems found by strict schema validation against each Kubernetes version.

    Strict means `additionalProperties: false` everywhere: an unknown or misspelt field
    is a problem, not silently dropped as a lenient `kubectl apply` would. An object of
    a kind the schemas do not know is a problem too. For each object and version the
    first error is reported, with the path to the offending field.
    """
    import kubernetes_validate  # imported here: only this function needs the schemas

    available = supported_versions()
    problems = [
        f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for Kubernetes "
        f"{version}; it has {', '.join(available)}"
        for version in versions
        if _major_minor(version) not in available
    ]
    versions = [version for version in versions if _major_minor(version) in available]
    for manifest in manifests:
        for version in versions:
            where = f"{describe(manifest)} (Kubernetes {version})"
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path) or "<top level>"
                problems.append(f"{where}: {path}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                problems.append(f"{where}: {error.message}")
    return problems


def supported_versions() -> list[str]:
    """Kubernetes versions (major.minor) whose schemas the installed kubernetes-validate ships."""
    from kubernetes_validate.utils import all_versions, major_minor

    return sorted({major_minor(version) for version in all_versions()}, key=_version_key)


def _major_minor(version: str) -> str:
    """ "v1.30.2" -> "1.30"."""
    return ".".join(version.removeprefix("v").split(".")[:2])


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# -------------------------------------------------------------------- label selectors


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector (`matchLabels` + `matchExpressions`) selects `labels`.

    An empty selector selects everything, as in Kubernetes.
    """
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _namespace(manifest: Mapping[str, Any]) -> str | None:
    return (manifest.get("metadata") or {}).get("namespace")


def _templates_selected_by(
    manifests: Iterable[Manifest], selector: Mapping[str, Any], namespace: str | None
) -> list[tuple[Manifest, Mapping[str, Any]]]:
    return [
        (owner, template)
        for owner, template in pod_templates(manifests)
        if _namespace(owner) == namespace
        and selector_matches(selector, (template.get("metadata") or {}).get("labels") or {})
    ]


def _service_selector(service: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Service's selector (plain labels) as a LabelSelector; None when it has none."""
    selector = (service.get("spec") or {}).get("selector")
    return {"matchLabels": selector} if selector else None


# ---------------------------------------------------------------------- cross-checks


def check_service_selectors(manifests: Iterable[Manifest]) -> list[str]:
    """Every Service with a selector selects the pod template of some workload.

    A Service whose selector matches no pod has no endpoints: requests to it hang or
    are refused, and nothing in `kubectl apply` warns about it.
    """
    manifests = list(manifests)
    problems = []
    for service in (m for m in manifests if m.get("kind") == "Service"):
        selector = _service_selector(service)
        if selector is None:
            continue  # selector-less Services get their endpoints some other way
        if not _templates_selected_by(manifests, selector, _namespace(service)):
            problems.append(
                f"{describe(service)}: selector {selector['matchLabels']} matches the pod "
                "labels of no workload in its namespace, so it would have no endpoints"
            )
    return problems


def check_workload_selectors(manifests: Iterable[Manifest]) -> list[str]:
    """Selectors other than a Service's point at pods that exist.

    * a workload's `spec.selector` matches its own pod template (else the API rejects it);
    * a PodDisruptionBudget selects some workload's pods;
    * a NetworkPolicy's `podSelector` and its same-namespace `from`/`to` peers select pods;
    * a HorizontalPodAutoscaler's `scaleTargetRef` names an object in the manifests.
    """
    manifests = list(manifests)
    problems = []
    for owner, template in pod_templates(manifests):
        selector = (owner.get("spec") or {}).get("selector")
        labels = (template.get("metadata") or {}).get("labels") or {}
        if (
            owner.get("kind") != "Pod"
            and selector is not None
            and not selector_matches(selector, labels)
        ):
            problems.append(
                f"{describe(owner)}: spec.selector {selector} does not match its own pod "
                f"template labels {labels}"
            )
    for manifest in manifests:
        kind, namespace, spec = (
            manifest.get("kind"),
            _namespace(manifest),
            manifest.get("spec") or {},
        )
        if kind == "PodDisruptionBudget":
            if not _templates_selected_by(manifests, spec.get("selector") or {}, namespace):
                problems.append(f"{describe(manifest)}: spec.selector matches no workload's pods")
        elif kind == "NetworkPolicy":
            if not _templates_selected_by(manifests, spec.get("podSelector") or {}, namespace):
                problems.append(
                    f"{describe(manifest)}: spec.podSelector matches no workload's pods"
                )
            for direction, peers_key in (("ingress", "from"), ("egress", "to")):
                for rule in spec.get(direction) or []:
                    for peer in rule.get(peers_key) or []:
                        same_namespace = "namespaceSelector" not in peer
                        selector = peer.get("podSelector")
                        if (
                            selector is not None
                            and same_namespace
                            and not _templates_selected_by(manifests, selector, namespace)
                        ):
                            problems.append(
                                f"{describe(manifest)}: {direction} peer podSelector "
                                f"{selector} matches no workload's pods"
                            )
        elif kind == "HorizontalPodAutoscaler":
            target = spec.get("scaleTargetRef") or {}
            if not any(
                m.get("kind") == target.get("kind")
                and (m.get("metadata") or {}).get("name") == target.get("name")
                and _namespace(m) == namespace
                for m in manifests
            ):
                problems.append(
                    f"{describe(manifest)}: scaleTargetRef {target.get('kind')}/"
                    f"{target.get('name')} is not in the manifests"
                )
    return problems


def check_service_ports(manifests: Iterable[Manifest]) -> list[str]:
    """Every Service port's `targetPort` exists on the pods the Service selects.

    A named targetPort must be the name of a containerPort; a number must be one of the
    containerPorts (an unset targetPort means "same as port"). A wrong one gives a Service
    with endpoints that refuse every connection.
    """
    manifests = list(manifests)
    problems = []
    for service in (m for m in manifests if m.get("kind") == "Service"):
        selector = _service_selector(service)
        if selector is None:
            continue
        selected = _templates_selected_by(manifests, selector, _namespace(service))
        if not selected:
            continue  # check_service_selectors reports this one
        for port in (service.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for owner, template in selected:
                container_ports = [
                    p
                    for c in _pod_spec(template).get("containers") or []
                    for p in c.get("ports") or []
                ]
                if isinstance(target, str):
                    found = any(p.get("name") == target for p in container_ports)
                    what = f"no container port named {target!r}"
                else:
                    found = any(p.get("containerPort") == target for p in container_ports)
                    what = f"no container port {target}"
                if not found:
                    names = [(p.get("name"), p.get("containerPort")) for p in container_ports]
                    problems.append(
                        f"{describe(service)} port {port.get('name', port.get('port'))}: "
                        f"{describe(owner)} has {what} (it has {names})"
                    )
    return problems


def _parse_port(port: int | str) -> int:
    """8080, "8080" or Docker's "8080/tcp" -> 8080."""
    return int(str(port).split("/")[0])


def check_container_port(
    manifests: Iterable[Manifest],
    exposed_port: int | str,
    workload: str = "hello",
    container_name: str = "hello",
) -> list[str]:
    """The container declares the port the image EXPOSEs (int, "8080" or "8080/tcp")."""
    ports = [
        p.get("containerPort")
        for p in container(manifests, workload, container_name).get("ports") or []
    ]
    expected = _parse_port(exposed_port)
    if expected not in ports:
        return [
            f"Deployment/{workload} container {container_name!r}: containerPorts {ports} do not "
            f"include {expected}, the port the image exposes"
        ]
    return []


def _effective(template: Mapping[str, Any], ctr: Mapping[str, Any], field: str) -> Any:
    """A securityContext field as the kubelet sees it: the container's, else the pod's."""
    container_value = (ctr.get("securityContext") or {}).get(field)
    if container_value is not None:
        return container_value
    return (_pod_spec(template).get("securityContext") or {}).get(field)


def check_run_as_user(
    manifests: Iterable[Manifest],
    image_user: int | str,
    workload: str = "hello",
    container_name: str = "hello",
) -> list[str]:
    """The manifest runs the container as the image's user (e.g. "65534:65534" or 65534).

    Kubernetes can only prove `runAsNonRoot` for a numeric user, so a user name in the
    image is a problem too. When the image names a group, runAsGroup must match it.
    """
    manifests = list(manifests)
    owner = find(manifests, "Deployment", workload)
    template = _template_of(owner)
    ctr = container(manifests, workload, container_name)
    uid_text, _, gid_text = str(image_user).partition(":")
    where = f"{describe(owner)} container {container_name!r}"
    if not uid_text.isdigit() or (gid_text and not gid_text.isdigit()):
        return [
            f"the image user {image_user!r} is not numeric; Kubernetes can only verify "
            "runAsNonRoot for a numeric uid (use USER 65534:65534 in the Dockerfile)"
        ]
    problems = []
    run_as_user = _effective(template, ctr, "runAsUser")
    if run_as_user != int(uid_text):
        problems.append(f"{where}: runAsUser is {run_as_user}, the image runs as uid {uid_text}")
    if gid_text:
        run_as_group = _effective(template, ctr, "runAsGroup")
        if run_as_group != int(gid_text):
            problems.append(
                f"{where}: runAsGroup is {run_as_group}, the image runs as gid {gid_text}"
            )
    return problems


def check_image(
    manifests: Iterable[Manifest],
    expected_image: str,
    workload: str = "hello",
    container_name: str = "hello",
) -> list[str]:
    """The container runs exactly `expected_image` (e.g. "hello-tornado:0.1.0")."""
    image = container(manifests, workload, container_name).get("image")
    if image != expected_image:
        return [
            f"Deployment/{workload} container {container_name!r}: image is {image!r}, "
            f"expected {expected_image!r}"
        ]
    return []


def check_env_vars(
    manifests: Iterable[Manifest],
    known_vars: Iterable[str],
    workload: str = "hello",
    container_name: str = "hello",
) -> list[str]:
    """Every environment variable set on the container is one the service reads.

    Pass `service.config.ENV_VARS`. A variable nobody reads is almost always a typo
    (`REDIS_UR`), and the service would silently use its default instead. `envFrom`
    cannot be checked offline (the names live in a ConfigMap/Secret), so it is reported.
    """
    known = set(known_vars)
    ctr = container(manifests, workload, container_name)
    where = f"Deployment/{workload} container {container_name!r}"
    problems = [
        f"{where}: sets {env.get('name')!r}, which the service does not read "
        f"(it reads {', '.join(sorted(known))})"
        for env in ctr.get("env") or []
        if env.get("name") not in known
    ]
    if ctr.get("envFrom"):
        problems.append(f"{where}: uses envFrom, whose variable names cannot be checked here")
    return problems


def check_autoscaled_replicas(manifests: Iterable[Manifest]) -> list[str]:
    """A workload an autoscaler scales does not also set `spec.replicas`.

    Both would write the same field: every `kubectl apply` would reset the count the
    autoscaler chose. The Kubernetes docs say to remove `replicas` from the manifest.
    """
    manifests = list(manifests)
    problems = []
    for hpa in (m for m in manifests if m.get("kind") == "HorizontalPodAutoscaler"):
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        for workload in manifests:
            if (
                (workload.get("kind"), (workload.get("metadata") or {}).get("name"))
                == (target.get("kind"), target.get("name"))
                and _namespace(workload) == _namespace(hpa)
                and "replicas" in (workload.get("spec") or {})
            ):
                problems.append(
                    f"{describe(workload)}: sets spec.replicas, but {describe(hpa)} owns the "
                    "count; remove replicas from the manifest"
                )
    return problems


def check_resources(manifests: Iterable[Manifest]) -> list[str]:
    """Every container requests and limits both CPU and memory.

    Requests let the scheduler place pods (and the CPU request is what the
    HorizontalPodAutoscaler's utilization is measured against); limits stop one pod
    from starving its neighbours.
    """
    problems = []
    for owner, template in pod_templates(manifests):
        for ctr in _pod_spec(template).get("containers") or []:
            resources = ctr.get("resources") or {}
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (resources.get(section) or {}):
                        problems.append(
                            f"{describe(owner)} container {ctr.get('name')!r}: "
                            f"no {resource} in resources.{section}"
                        )
    return problems


def check_labels(
    manifests: Iterable[Manifest],
    part_of: str = "hello-microservices",
    namespace: str = "hello-microservices",
) -> list[str]:
    """Every object (and pod template) is labelled part-of=`part_of`; all live in `namespace`.

    One label on everything is what lets `kubectl get all -l app.kubernetes.io/part-of=...`
    find the project's objects, and clean-up remove them.
    """
    problems = []
    for manifest in manifests:
        labels = (manifest.get("metadata") or {}).get("labels") or {}
        if labels.get("app.kubernetes.io/part-of") != part_of:
            problems.append(
                f"{describe(manifest)}: label app.kubernetes.io/part-of is not {part_of!r}"
            )
        if manifest.get("kind") == "Namespace":
            if manifest["metadata"].get("name") != namespace:
                problems.append(f"{describe(manifest)}: expected only the namespace {namespace!r}")
        elif _namespace(manifest) != namespace:
            problems.append(
                f"{describe(manifest)}: namespace is {_namespace(manifest)!r}, "
                f"expected {namespace!r}"
            )
    for owner, template in pod_templates(manifests):
        labels = (template.get("metadata") or {}).get("labels") or {}
        if labels.get("app.kubernetes.io/part-of") != part_of:
            problems.append(
                f"{describe(owner)}: pod template label app.kubernetes.io/part-of "
                f"is not {part_of!r}"
            )
    return problems


# ------------------------------------------------------- restricted Pod Security Standard

#: Volume types the restricted profile allows (everything else, hostPath included, is out).
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def check_restricted_pod_security(manifests: Iterable[Manifest]) -> list[str]:
    """Problems that would make Pod Security Admission reject a pod at level `restricted`.

    Written out from the Pod Security Standards page (kubernetes.io/docs/concepts/
    security/pod-security-standards/), baseline rules included:

    * no hostNetwork / hostPID / hostIPC, no host ports, no Windows HostProcess;
    * no privileged containers, procMount Default only;
    * volumes only of the types in RESTRICTED_VOLUME_TYPES (so no hostPath);
    * runAsNonRoot true (pod-wide, or on every container), runAsUser never 0;
    * allowPrivilegeEscalation false on every container;
    * seccompProfile RuntimeDefault or Localhost (pod-wide, or on every container);
    * capabilities: drop ALL, add nothing but NET_BIND_SERVICE.

    Rules whose allowed values depend on the cluster version (SELinux types, AppArmor
    profiles, safe sysctls) are checked conservatively: setting any of them is reported.
    The real admission check runs in the cluster: the namespace carries the
    `pod-security.kubernetes.io/enforce: restricted` label.
    """
    problems = []
    for owner, template in pod_templates(manifests):
        spec = _pod_spec(template)
        pod_sc = spec.get("securityContext") or {}
        where = describe(owner)

        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                problems.append(f"{where}: {field} must be false or unset")
        if pod_sc.get("sysctls"):
            problems.append(
                f"{where}: securityContext.sysctls set; only the safe set is allowed, check by hand"
            )
        if pod_sc.get("seLinuxOptions"):
            problems.append(
                f"{where}: securityContext.seLinuxOptions set; "
                "custom SELinux options are restricted"
            )
        if (pod_sc.get("appArmorProfile") or {}).get("type") not in (
            None,
            "RuntimeDefault",
            "Localhost",
        ):
            problems.append(
                f"{where}: securityContext.appArmorProfile must be RuntimeDefault or Localhost"
            )
        if pod_sc.get("runAsUser") == 0:
            problems.append(f"{where}: securityContext.runAsUser is 0 (root)")

        for volume in spec.get("volumes") or []:
            types = set(volume) - {"name"}
            if not types <= RESTRICTED_VOLUME_TYPES:
                problems.append(
                    f"{where}: volume {volume.get('name')!r} is of type "
                    f"{', '.join(sorted(types))}; "
                    f"allowed: {', '.join(sorted(RESTRICTED_VOLUME_TYPES))}"
                )

        for ctr in _all_containers(spec):
            sc = ctr.get("securityContext") or {}
            cwhere = f"{where} container {ctr.get('name')!r}"
            if sc.get("privileged"):
                problems.append(f"{cwhere}: privileged must be false or unset")
            if (sc.get("windowsOptions") or {}).get("hostProcess") or (
                pod_sc.get("windowsOptions") or {}
            ).get("hostProcess"):
                problems.append(f"{cwhere}: windowsOptions.hostProcess must be false or unset")
            if sc.get("procMount") not in (None, "Default"):
                problems.append(f"{cwhere}: procMount must be Default")
            if sc.get("seLinuxOptions"):
                problems.append(
                    f"{cwhere}: seLinuxOptions set; custom SELinux options are restricted"
                )
            if (sc.get("appArmorProfile") or {}).get("type") not in (
                None,
                "RuntimeDefault",
                "Localhost",
            ):
                problems.append(f"{cwhere}: appArmorProfile must be RuntimeDefault or Localhost")
            for port in ctr.get("ports") or []:
                if port.get("hostPort"):
                    problems.append(f"{cwhere}: hostPort {port['hostPort']} must be 0 or unset")
            if _effective(template, ctr, "runAsNonRoot") is not True:
                problems.append(
                    f"{cwhere}: runAsNonRoot must be true (on the pod or the container)"
                )
            if sc.get("runAsUser") == 0:
                problems.append(f"{cwhere}: runAsUser is 0 (root)")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cwhere}: allowPrivilegeEscalation must be set to false")
            seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                problems.append(
                    f"{cwhere}: seccompProfile.type must be RuntimeDefault or Localhost "
                    f"(on the pod or the container), is {seccomp!r}"
                )
            capabilities = sc.get("capabilities") or {}
            if "ALL" not in (capabilities.get("drop") or []):
                problems.append(f"{cwhere}: capabilities.drop must include ALL")
            extra = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
            if extra:
                problems.append(
                    f"{cwhere}: capabilities.add may only hold NET_BIND_SERVICE, "
                    f"has {', '.join(sorted(extra))}"
                )
    return problems


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class HttpProbe:
    """One HTTP probe of a container: which probe, and the request the kubelet makes."""

    probe: str  # "startupProbe", "readinessProbe" or "livenessProbe"
    path: str
    port: int  # resolved: a named port is looked up in the container's ports
    scheme: str = "HTTP"


def http_probes(
    manifests: Iterable[Manifest], workload: str = "hello", container_name: str = "hello"
) -> list[HttpProbe]:
    """The container's httpGet probes, with named ports resolved to numbers.

    A notebook can then send the same requests to a real container and check the answers
    before any cluster is involved.
    """
    ctr = container(manifests, workload, container_name)
    named = {p.get("name"): p.get("containerPort") for p in ctr.get("ports") or []}
    probes = []
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        http_get = (ctr.get(kind) or {}).get("httpGet")
        if not http_get:
            continue
        port = http_get.get("port")
        if isinstance(port, str) and not port.isdigit():
            if port not in named:
                raise KeyError(
                    f"{kind} uses port {port!r}, which container {container_name!r} does not name"
                )
            port = named[port]
        probes.append(
            HttpProbe(kind, http_get.get("path", "/"), int(port), http_get.get("scheme", "HTTP"))
        )
    return probes


def probe_paths(
    manifests: Iterable[Manifest], workload: str = "hello", container_name: str = "hello"
) -> list[str]:
    """The distinct HTTP paths the container's probes request, e.g. ["/healthz", "/readyz"]."""
    return sorted({probe.path for probe in http_probes(manifests, workload, container_name)})


# ---------------------------------------------------------------------- all at once


def offline_problems(
    manifests: Sequence[Manifest],
    *,
    exposed_port: int | str,
    image_user: int | str,
    expected_image: str,
    known_env_vars: Iterable[str],
    versions: Sequence[str] = VALIDATE_VERSIONS,
) -> dict[str, list[str]]:
    """Every check above, by name; a notebook asserts that each list is empty."""
    return {
        "schema validation": validate_manifests(manifests, versions),
        "labels and namespace": check_labels(manifests),
        "service selectors": check_service_selectors(manifests),
        "other selectors": check_workload_selectors(manifests),
        "service ports": check_service_ports(manifests),
        "container port = image EXPOSE": check_container_port(manifests, exposed_port),
        "runAsUser = image USER": check_run_as_user(manifests, image_user),
        "image reference": check_image(manifests, expected_image),
        "env vars the service reads": check_env_vars(manifests, known_env_vars),
        "requests and limits": check_resources(manifests),
        "autoscaler owns replicas": check_autoscaled_replicas(manifests),
        "restricted Pod Security Standard": check_restricted_pod_security(manifests),
    }
