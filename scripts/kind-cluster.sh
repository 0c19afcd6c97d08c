#!/usr/bin/env bash
# A local Kubernetes cluster for notebook 06, made with kind ("Kubernetes IN Docker").
#
#   bash scripts/kind-cluster.sh          create the cluster (or reuse it) and load the images
#   METRICS_SERVER=1 bash scripts/kind-cluster.sh   the same, plus metrics-server
#   bash scripts/kind-cluster.sh delete   remove the cluster again
#
# Idempotent: an existing cluster named hello-microservices is reused, and `kind load`
# skips an image the node already has. Needs kind, a running Docker engine and the image
# built by `make image`; kubectl to apply the manifests afterwards.
#
# kind itself: Debian's `kind` package where the release has one (trixie: 0.27, sid:
# newer): `sudo apt install kind`; run as root on such a system, this script installs it.
# Elsewhere the official release binary, https://kind.sigs.k8s.io/docs/user/quick-start/
# (Homebrew `brew install kind`, Chocolatey `choco install kind`, or the download there).
#
# Written for kind 0.27 and the node image it defaults to, pinned below by digest
# (Kubernetes 1.32.2, the same minor as the tutorial's kubectl 1.32). Another kind
# version may need a node image built for it: see its release notes and set
# KIND_NODE_IMAGE.
#
# Settings (environment variables):
#   CLUSTER_NAME     cluster name                       (default: hello-microservices)
#   IMAGE            image to load into the node        (default: hello-tornado:<version>,
#                                                         version from service/__init__.py)
#   REDIS_IMAGE      Redis image (default: build/images.env, else redis:7-alpine). The
#                    official image is pulled by the node; any other is loaded from Docker.
#   KIND_NODE_IMAGE  node image, i.e. the Kubernetes version (default: pinned below);
#                    k8s/ needs Kubernetes >= 1.30 (preStop `sleep` handler)
#   METRICS_SERVER   1: also install metrics-server (v0.7.2, pinned below) with
#                    --kubelet-insecure-tls, so the HorizontalPodAutoscaler gets CPU
#                    numbers instead of <unknown>. kind ships none; its kubelets serve
#                    self-signed certificates, hence the flag (a local cluster only).
#
# Images and BuildKit: `kind load docker-image` fails with "ctr: content digest ... not
# found" for images that carry BuildKit provenance attestations and live in Docker's
# containerd image store (Docker Desktop's default). `make image` builds without them
# (BUILDX_NO_DEFAULT_ATTESTATIONS=1, the same as --provenance=false). An image you built
# yourself with attestations: rebuild it with `BUILDX_NO_DEFAULT_ATTESTATIONS=1 docker build ...`
# (BuildKit reads the variable; the legacy builder has no attestations to drop).
#
# NetworkPolicy on kind: kind's default network plugin, kindnet, enforces NetworkPolicy
# since kind 0.24. There are open reports (kubernetes-sigs/kind#3875) of kindnet's policy
# enforcement also dropping the kubelet's probes to a pod that a policy selects. k8s/
# avoids the question: Redis is probed with `redis-cli ping` inside its container (an exec
# probe), hello's policy admits port 8080 from anywhere, and the worker's admits its health
# port 8081. If a pod still restarts with "Liveness probe failed" in
# `kubectl -n hello-microservices get events`, delete that pod's policy, e.g.
#   kubectl -n hello-microservices delete networkpolicy worker
#
# Not run by the tests: the machines this project is developed and tested on have kind
# (Debian's 0.27) but no node image and no registry to fetch one from, so no cluster can
# start there. It is checked with `bash -n` and shellcheck only; notebook 06 is skipped.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="${CLUSTER_NAME:-hello-microservices}"
context="kind-${cluster}"
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "${repo_root}/service/__init__.py")"
image="${IMAGE:-hello-tornado:${version}}"
official_redis="redis:7-alpine"
images_env_redis="$(sed -n 's/^REDIS_IMAGE=//p' "${repo_root}/build/images.env" 2>/dev/null | tr -d "'\"" || true)"
redis_image="${REDIS_IMAGE:-${images_env_redis:-${official_redis}}}"
# kind v0.27.0's default node image (its release notes), pinned by digest.
pinned_node_image="kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f"
node_image="${KIND_NODE_IMAGE:-${pinned_node_image}}"
written_for_kind="0.27"
# metrics-server's release manifest, pinned (0.7.x supports Kubernetes 1.19+).
metrics_server_manifest="https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.7.2/components.yaml"
min_minor=30

say() { printf 'kind-cluster: %s\n' "$*"; }
die() { printf 'kind-cluster: ERROR: %s\n' "$*" >&2; exit 1; }

install_kind_from_debian() {
    # Debian's package, when this is a Debian-like system whose release has one.
    [ "$(id -u)" = 0 ] && command -v apt-cache >/dev/null 2>&1 || return 1
    apt-cache policy kind 2>/dev/null | grep -q 'Candidate: [0-9]' || return 1
    say "installing Debian's kind package ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y kind
}

need_kind() {
    command -v kind >/dev/null 2>&1 && return 0
    install_kind_from_debian && command -v kind >/dev/null 2>&1 && return 0
    die "kind is not installed. On Debian trixie or newer: 'sudo apt install kind'.
  Elsewhere get the official release: https://kind.sigs.k8s.io/docs/user/quick-start/#installation
  ('brew install kind', 'choco install kind', or the release binary for your OS), then re-run.
  Other local clusters work too (minikube, k3d, Docker Desktop): see notebook 06."
}

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "${cluster}"; }

case "${1:-up}" in
    up) ;;
    delete)
        need_kind
        if cluster_exists; then
            kind delete cluster --name "${cluster}"
        else
            say "no kind cluster named ${cluster}; nothing to delete."
        fi
        exit 0
        ;;
    *) die "unknown command '$1' (use: up | delete)" ;;
esac

need_kind
kind_version="$(kind version 2>/dev/null | sed -n 's/^kind v\([0-9]*\.[0-9]*\).*/\1/p')"
if [ "${kind_version}" != "${written_for_kind}" ] && [ -z "${KIND_NODE_IMAGE:-}" ]; then
    say "note: this script was written for kind ${written_for_kind}, you have ${kind_version:-an unknown version}; if the node does not start, set KIND_NODE_IMAGE to a node image from your kind's release notes."
fi
command -v docker >/dev/null 2>&1 || die "docker is not installed; kind runs its node as a Docker container (https://docs.docker.com/get-docker/)."
timeout 20 docker info >/dev/null 2>&1 || die "the Docker engine does not answer; start Docker Desktop or the docker service and re-run."
[ -n "${version}" ] || die "could not read __version__ from service/__init__.py."
docker image inspect "${image}" >/dev/null 2>&1 || die "image ${image} not found in Docker; build it first with 'make image'."

if cluster_exists; then
    say "reusing the kind cluster '${cluster}'."
else
    say "creating the kind cluster '${cluster}' with ${node_image%@*} (a minute or two the first time) ..."
    kind create cluster --name "${cluster}" --image "${node_image}" --wait 180s
fi

if command -v kubectl >/dev/null 2>&1; then
    # e.g. v1.32.2 -> 32: the manifests need the preStop sleep handler (on by default >= 1.30).
    kubelet="$(kubectl --context "${context}" get nodes -o jsonpath='{.items[0].status.nodeInfo.kubeletVersion}' || true)"
    minor="$(printf '%s' "${kubelet}" | sed -n 's/^v1\.\([0-9]*\)\..*/\1/p')"
    if [ -n "${minor}" ] && [ "${minor}" -lt "${min_minor}" ]; then
        die "the cluster runs Kubernetes ${kubelet}; k8s/ needs 1.${min_minor} or newer. Delete it ('bash scripts/kind-cluster.sh delete') and re-run with KIND_NODE_IMAGE=kindest/node:v1.${min_minor}.x or newer."
    fi
    say "cluster '${cluster}' runs Kubernetes ${kubelet:-(unknown)}."
else
    say "kubectl not found: install it (https://kubernetes.io/docs/tasks/tools/; Debian trixie: 'apt install kubectl') to apply the manifests."
fi

# No registry involved: copy the image from the local Docker into the node's containerd.
# The Deployment's imagePullPolicy: IfNotPresent then uses this copy.
say "loading ${image} into the cluster ..."
kind load docker-image "${image}" --name "${cluster}"

if [ "${redis_image}" = "${official_redis}" ]; then
    say "${redis_image} is the official image: the node pulls it from its registry on first use."
elif docker image inspect "${redis_image}" >/dev/null 2>&1; then
    say "loading ${redis_image} (a local Redis image) as well ..."
    kind load docker-image "${redis_image}" --name "${cluster}"
else
    die "${redis_image} (REDIS_IMAGE / build/images.env) is not in local Docker; run 'make base-images' or unset REDIS_IMAGE."
fi

if [ "${METRICS_SERVER:-0}" = 1 ]; then
    command -v kubectl >/dev/null 2>&1 || die "METRICS_SERVER=1 needs kubectl (https://kubernetes.io/docs/tasks/tools/)."
    say "installing metrics-server (${metrics_server_manifest##*/download/}) with --kubelet-insecure-tls ..."
    kubectl --context "${context}" apply -f "${metrics_server_manifest}"
    # Idempotent: add the flag only if the Deployment does not have it yet.
    if ! kubectl --context "${context}" -n kube-system get deployment metrics-server \
            -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q kubelet-insecure-tls; then
        kubectl --context "${context}" -n kube-system patch deployment metrics-server --type=json \
            -p '[{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--kubelet-insecure-tls"}]'
    fi
    kubectl --context "${context}" -n kube-system rollout status deployment/metrics-server --timeout=180s
fi

cat <<EOF

Cluster '${cluster}' is ready, with ${image} loaded. Next: notebook 06, or by hand
(the Namespace first, so a server-side dry run of the rest can find it):

  kubectl --context ${context} apply --server-side -f ${repo_root}/k8s/components/namespace/namespace.yaml
  kubectl --context ${context} apply --server-side -k ${repo_root}/k8s
  kubectl --context ${context} -n hello-microservices rollout status deployment/hello
  kubectl --context ${context} -n hello-microservices get pods -o wide
  kubectl --context ${context} -n hello-microservices port-forward service/hello 8080:80
      (then, in another terminal: curl http://127.0.0.1:8080/)
EOF

if [ "${redis_image}" != "${official_redis}" ]; then
    cat <<EOF

  k8s/ names ${official_redis}; to run ${redis_image}, apply through an overlay whose
  kustomization.yaml has  resources: [${repo_root}/k8s]  and
  images: [{name: redis, newName: ${redis_image%:*}, newTag: ${redis_image##*:}}]
  (notebook 06 writes exactly that to build/k8s-06/).
EOF
fi

cat <<EOF

Clean up:

  kubectl --context ${context} delete namespace hello-microservices --wait=true
  bash scripts/kind-cluster.sh delete
EOF
