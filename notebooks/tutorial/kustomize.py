"""Render `k8s/` the way `kubectl kustomize` does, in plain Python, for the few features it uses.

`k8s/` is a kustomize base (`k8s/base/`: what runs) plus one *component* per hardening
idea (`k8s/components/*`), listed in order by `k8s/kustomization.yaml`. This module reads
exactly that: `resources` (files, or directories with their own kustomization),
`components`, `patches` given by `path` (strategic merge patches, the target named by the
patch's own kind and name) and `namespace`. Anything else is refused with a message, so
it can never silently render something other than kubectl would; the tests compare
both renderings for every layer.

Why not always call kubectl? A learner may not have it yet, and this way notebook 05 can
show what a patch does to a plain dict. Where kubectl is installed, it is the truth:
`render_with_kubectl`.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Sequence
from os.path import relpath
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]

#: The manifests, next to notebooks/ in the repository.
K8S_DIR = Path(__file__).resolve().parents[2] / "k8s"

#: The kustomization fields this renderer understands; any other field is refused.
SUPPORTED_FIELDS = frozenset(
    {"apiVersion", "kind", "metadata", "resources", "components", "patches", "namespace"}
)

#: Kinds that live outside any namespace (the `namespace:` field leaves them alone).
CLUSTER_SCOPED_KINDS = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
     "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass"}
)

#: Strategic merge: lists under these keys are merged item by item, matched on the given
#: field (`patchMergeKey` in the Kubernetes API types); every other list is replaced whole.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "topologySpreadConstraints": "topologyKey",
}


class UnsupportedKustomization(ValueError):
    """The kustomization uses a feature this renderer does not implement."""


# --------------------------------------------------------------------- strategic merge


def strategic_merge(target: Any, patch: Any) -> Any:
    """`target` with `patch` merged in, as a strategic merge patch does it (a new object).

    Maps merge key by key; `None` in the patch deletes the key; lists named in MERGE_KEYS
    merge their items by that key (new items are appended); other lists and scalars are
    replaced. Directives (`$patch`, `$setElementOrder`, ...) are not supported.
    """
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target)
    for key, value in patch.items():
        if key.startswith("$"):
            raise UnsupportedKustomization(f"patch directive {key!r} is not supported")
        if value is None:
            merged.pop(key, None)
        elif key in MERGE_KEYS and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = _merge_list(merged[key], value, MERGE_KEYS[key])
        else:
            merged[key] = strategic_merge(merged.get(key), value)
    return merged


def _merge_list(items: list, patches: list, merge_key: str) -> list:
    result = copy.deepcopy(items)
    for patch in patches:
        index = next((i for i, item in enumerate(result)
                      if item.get(merge_key) == patch.get(merge_key)), None)
        if index is None:
            result.append(copy.deepcopy(patch))
        else:
            result[index] = strategic_merge(result[index], patch)
    return result


# --------------------------------------------------------------------------- rendering


def _read_kustomization(directory: Path) -> dict[str, Any]:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: `kubectl kustomize {directory}` needs it too")
    kustomization = yaml.safe_load(path.read_text()) or {}
    unsupported = sorted(set(kustomization) - SUPPORTED_FIELDS)
    if unsupported:
        raise UnsupportedKustomization(
            f"{path} uses {', '.join(unsupported)}, which this renderer does not implement; "
            "use render_with_kubectl() to see what kubectl would apply")
    for patch in kustomization.get("patches") or []:
        if set(patch) != {"path"}:
            raise UnsupportedKustomization(
                f"{path}: only patches given by `path` are supported, not {sorted(patch)}")
    return kustomization


def _read_documents(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _identity(manifest: Manifest) -> tuple[str, str]:
    return manifest.get("kind", "?"), (manifest.get("metadata") or {}).get("name", "?")


def _apply_patch(manifests: list[Manifest], patch: Manifest, source: Path) -> None:
    matches = [i for i, m in enumerate(manifests) if _identity(m) == _identity(patch)]
    if len(matches) != 1:
        kind, name = _identity(patch)
        raise ValueError(f"{source}: patch for {kind}/{name} matches {len(matches)} objects")
    manifests[matches[0]] = strategic_merge(manifests[matches[0]], patch)


def _build(directory: Path, accumulated: list[Manifest]) -> list[Manifest]:
    """Render one kustomization (or component) on top of `accumulated`.

    kustomize's order: own resources, then each component in turn (its resources,
    then its patches and namespace over everything so far), then own patches and
    namespace.
    """
    return _build_from(_read_kustomization(directory), directory, accumulated)


def _build_from(kustomization: dict[str, Any], directory: Path,
                accumulated: list[Manifest]) -> list[Manifest]:
    manifests = list(accumulated)
    for entry in kustomization.get("resources") or []:
        path = directory / entry
        if path.is_dir():
            manifests.extend(_build(path, []))
        elif path.is_file():
            manifests.extend(_read_documents(path))
        else:
            raise FileNotFoundError(f"{directory / 'kustomization.yaml'}: resource {entry!r} "
                                    "is neither a file nor a directory (remote bases need kubectl)")
    for entry in kustomization.get("components") or []:
        manifests = _build(directory / entry, manifests)
    for patch in kustomization.get("patches") or []:
        for document in _read_documents(directory / patch["path"]):
            _apply_patch(manifests, document, directory / patch["path"])
    if namespace := kustomization.get("namespace"):
        for manifest in manifests:
            if manifest.get("kind") not in CLUSTER_SCOPED_KINDS:
                manifest.setdefault("metadata", {})["namespace"] = namespace
    return manifests


def render(directory: Path | str = K8S_DIR) -> list[Manifest]:
    """The objects `kubectl kustomize DIRECTORY` prints, as dicts (file order, not kind order)."""
    return copy.deepcopy(_build(Path(directory), []))


# ----------------------------------------------------------------------------- layers


def layers(k8s_dir: Path | str = K8S_DIR) -> list[str]:
    """The hardening components of `k8s_dir/kustomization.yaml`, in order: ["probes", ...]."""
    kustomization = _read_kustomization(Path(k8s_dir))
    return [Path(entry).name for entry in kustomization.get("components") or []]


def layer_kustomization(count: int, k8s_dir: Path | str = K8S_DIR) -> dict[str, Any]:
    """The kustomization of `k8s_dir`, cut after its first `count` components (0: the base)."""
    k8s_dir = Path(k8s_dir)
    kustomization = _read_kustomization(k8s_dir)
    components = list(kustomization.get("components") or [])
    if not 0 <= count <= len(components):
        raise ValueError(f"there are {len(components)} layers; asked for {count}")
    return {**kustomization, "components": components[:count]}


def write_layer(count: int, destination: Path | str, k8s_dir: Path | str = K8S_DIR) -> Path:
    """Write a kustomization for base + the first `count` layers into `destination`.

    Its paths point back into `k8s_dir`, so `kubectl kustomize DESTINATION` renders that
    layer without copying a file (kustomize allows directories outside the root).
    """
    destination, k8s_dir = Path(destination), Path(k8s_dir).resolve()
    destination.mkdir(parents=True, exist_ok=True)
    kustomization = layer_kustomization(count, k8s_dir)
    back = Path(relpath(k8s_dir, destination.resolve()))
    for key in ("resources", "components"):
        kustomization[key] = [str(back / entry) for entry in kustomization.get(key) or []]
    if not kustomization["components"]:
        del kustomization["components"]
    (destination / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return destination


def render_layer(count: int, k8s_dir: Path | str = K8S_DIR) -> list[Manifest]:
    """Base + the first `count` layers, rendered in Python (no file written)."""
    return copy.deepcopy(_build_from(layer_kustomization(count, k8s_dir), Path(k8s_dir), []))


# ---------------------------------------------------------------------------- kubectl


def kubectl_available(kubectl: str = "kubectl") -> bool:
    """True when a kubectl client is on PATH (no cluster needed for `kubectl kustomize`)."""
    return shutil.which(kubectl) is not None


def render_with_kubectl(directory: Path | str = K8S_DIR,
                        kubectl: str = "kubectl") -> list[Manifest]:
    """The objects `kubectl apply -k DIRECTORY` would send, as rendered by `kubectl kustomize`.

    kustomize sorts objects by kind (Namespace first); compare by identity, not by order.
    """
    if not kubectl_available(kubectl):
        raise FileNotFoundError(
            f"{kubectl!r} is not on PATH; install kubectl "
            "(https://kubernetes.io/docs/tasks/tools/) or use render()")
    result = subprocess.run([kubectl, "kustomize", str(directory)],
                            capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed:\n{result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_identity(manifests: Sequence[Manifest]) -> dict[tuple[str, str], Manifest]:
    """{(kind, name): object}, to compare two renderings regardless of their order."""
    return {_identity(m): m for m in manifests}


def as_yaml(manifests: Sequence[Manifest]) -> str:
    """The objects as one YAML stream, ordered by (kind, name) so two renderings line up."""
    ordered = sorted(manifests, key=_identity)
    return "---\n".join(yaml.safe_dump(m, sort_keys=False) for m in ordered)


def diff(before: Sequence[Manifest], after: Sequence[Manifest], context: int = 1) -> str:
    """A unified diff between two renderings: exactly what a layer adds, removes or changes."""
    import difflib

    lines = difflib.unified_diff(as_yaml(before).splitlines(), as_yaml(after).splitlines(),
                                 "before", "after", n=context, lineterm="")
    return "\n".join(list(lines)[2:])  # without the ---/+++ header
