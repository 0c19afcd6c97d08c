#!/usr/bin/env bash
# A local Kubernetes cluster for notebook 06, made with kind ("Kubernetes IN Docker").
#
#   bash scripts/kind-cluster.sh          create the cluster (or reuse it) and load the image
#   bash scripts/kind-cluster.sh delete   remove the cluster again
#
# Idempotent: an existing cluster named hello-microservices is reused, and `kind load`
# skips an image the node already has. Needs kind, a running Docker engine, the image
# built by `make image`, and kubectl to apply the manifests afterwards.
#
# Settings (environment variables):
#   CLUSTER_NAME     cluster name                       (default: hello-microservices)
#   IMAGE            image to load into the node        (default: hello-tornado:<version>,
#                                                         version from service/__init__.py)
#   REDIS_IMAGE      also load this image when Docker has it locally, so the node needs no
#                    registry for Redis                 (default: redis:7-alpine)
#   KIND_NODE_IMAGE  node image, to pick the Kubernetes version (default: kind's own);
#                    k8s/hello.yaml needs Kubernetes >= 1.30 (preStop `sleep` handler)
#
# Not run by the tests: the machines this project is developed and tested on have no
# kind, no node images and no registry to fetch them from, so no cluster can start there.
# It is checked with `bash -n` and shellcheck only; notebook 06 is skipped there.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="${CLUSTER_NAME:-hello-microservices}"
context="kind-${cluster}"
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "${repo_root}/service/__init__.py")"
image="${IMAGE:-hello-tornado:${version}}"
redis_image="${REDIS_IMAGE:-redis:7-alpine}"
min_minor=30

say() { printf 'kind-cluster: %s\n' "$*"; }
die() { printf 'kind-cluster: ERROR: %s\n' "$*" >&2; exit 1; }

need_kind() {
    command -v kind >/dev/null 2>&1 && return 0
    die "kind is not installed. Get it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation
  (a single binary: 'brew install kind', 'choco install kind', 'go install sigs.k8s.io/kind@latest',
  or download the release binary for your OS), then re-run this script.
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
command -v docker >/dev/null 2>&1 || die "docker is not installed; kind runs its node as a Docker container (https://docs.docker.com/get-docker/)."
timeout 20 docker info >/dev/null 2>&1 || die "the Docker engine does not answer; start Docker Desktop or the docker service and re-run."
[ -n "${version}" ] || die "could not read __version__ from service/__init__.py."
docker image inspect "${image}" >/dev/null 2>&1 || die "image ${image} not found in Docker; build it first with 'make image'."

if cluster_exists; then
    say "reusing the kind cluster '${cluster}'."
else
    say "creating the kind cluster '${cluster}' (a minute or two the first time) ..."
    create_args=(create cluster --name "${cluster}" --wait 180s)
    if [ -n "${KIND_NODE_IMAGE:-}" ]; then
        create_args+=(--image "${KIND_NODE_IMAGE}")
    fi
    kind "${create_args[@]}"
fi

if command -v kubectl >/dev/null 2>&1; then
    # e.g. v1.33.1 -> 33: the manifests need the preStop sleep handler (on by default >= 1.30).
    kubelet="$(kubectl --context "${context}" get nodes -o jsonpath='{.items[0].status.nodeInfo.kubeletVersion}' || true)"
    minor="$(printf '%s' "${kubelet}" | sed -n 's/^v1\.\([0-9]*\)\..*/\1/p')"
    if [ -n "${minor}" ] && [ "${minor}" -lt "${min_minor}" ]; then
        die "the cluster runs Kubernetes ${kubelet}; k8s/hello.yaml needs 1.${min_minor} or newer. Delete it ('bash scripts/kind-cluster.sh delete') and re-run with a newer kind or KIND_NODE_IMAGE=kindest/node:v1.${min_minor}.x."
    fi
    say "cluster '${cluster}' runs Kubernetes ${kubelet:-(unknown)}."
else
    say "kubectl not found: install it (https://kubernetes.io/docs/tasks/tools/) to apply the manifests."
fi

# No registry involved: copy the image from the local Docker into the node's containerd.
# The Deployment's imagePullPolicy: IfNotPresent then uses this copy.
say "loading ${image} into the cluster ..."
kind load docker-image "${image}" --name "${cluster}"

if docker image inspect "${redis_image}" >/dev/null 2>&1; then
    say "loading ${redis_image} as well (found in local Docker) ..."
    kind load docker-image "${redis_image}" --name "${cluster}"
else
    say "${redis_image} is not in local Docker; the node pulls it from its registry on first use."
fi

cat <<EOF

Cluster '${cluster}' is ready, with ${image} loaded. Next steps:

  kubectl --context ${context} apply -k ${repo_root}/k8s
  kubectl --context ${context} -n hello-microservices rollout status deployment/hello
  kubectl --context ${context} -n hello-microservices get pods -o wide
  kubectl --context ${context} -n hello-microservices port-forward service/hello 8080:80
      (then, in another terminal: curl http://127.0.0.1:8080/)

EOF

if [ "${redis_image}" != "redis:7-alpine" ]; then
    cat <<EOF
  The manifests name redis:7-alpine; to run ${redis_image} instead, after applying:
  kubectl --context ${context} -n hello-microservices set image deployment/redis redis=${redis_image}
EOF
fi

cat <<EOF

Clean up:

  kubectl --context ${context} delete namespace hello-microservices
  bash scripts/kind-cluster.sh delete
EOF
