"""The pure parts of notebook 06's cluster helpers, tested without a cluster.

Everything that needs an API server is exercised only where a cluster exists (notebook
06); what decides *what to do* is checked here on every machine.
"""

from types import SimpleNamespace as NS

import pytest

from tutorial import cluster as kc
from tutorial.manifests import load_manifests


@pytest.mark.parametrize("context, names, labels, providers, expected", [
    ("kind-demo", [], [], [], ("kind", "demo")),
    ("k3d-dev", [], [], [], ("k3d", "dev")),
    ("docker-desktop", [], [], [], ("docker-desktop", "docker-desktop")),
    ("my-ctx", ["docker-desktop"], [], [], ("docker-desktop", "docker-desktop")),
    ("minikube", [], [{"minikube.k8s.io/name": "minikube"}], [], ("minikube", "minikube")),
    ("renamed", [], [{"minikube.k8s.io/name": "p2"}], [], ("minikube", "p2")),
    ("renamed", [], [{}], ["kind://docker/lab/lab-control-plane"], ("kind", "lab")),
    ("gke_prod", ["n1"], [{}], [None], ("unknown", "gke_prod")),
])
def test_detect_flavour(context, names, labels, providers, expected):
    assert kc.detect_flavour(context, names, labels, providers) == expected


def test_load_image_command_per_flavour():
    assert kc.load_image_command("kind", "demo", "img:1") == [
        "kind", "load", "docker-image", "img:1", "--name", "demo"]
    assert kc.load_image_command("minikube", "p", "img:1")[:3] == ["minikube", "image", "load"]
    assert kc.load_image_command("k3d", "dev", "img:1")[:3] == ["k3d", "image", "import"]
    assert kc.load_image_command("docker-desktop", "docker-desktop", "img:1") is None
    with pytest.raises(ValueError, match="push img:1 to a registry"):
        kc.load_image_command("unknown", "x", "img:1")


def test_with_images_replaces_by_container_name_and_leaves_the_input_alone():
    manifests = load_manifests()
    swapped = kc.with_images(manifests, {"redis": "local/redis:7"})
    images = [c["image"] for m in swapped for c in
              m.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])]
    assert "local/redis:7" in images
    assert all(c["image"] != "local/redis:7" for m in manifests for c in
               m.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []))


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
