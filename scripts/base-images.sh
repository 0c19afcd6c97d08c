#!/usr/bin/env bash
# Decide which base images this machine builds and runs with, and record the
# choice in build/images.env (KEY=VALUE lines: `source` it from a shell, or
# parse it from Python).
#
# A learner gets the official images (python:3.11-slim-bookworm,
# redis:7-alpine). A machine that cannot reach a registry (CI here) gets
# equivalent images bootstrapped from Debian packages with debootstrap and
# `docker import`, tagged with this project's own names -- never with an
# official name, so nobody mistakes a local build for the real thing.
#
# Usage: scripts/base-images.sh [python] [redis]     (default: both)
# Env:   PYTHON_IMAGE, REDIS_IMAGE override the preferred images;
#        PULL_TIMEOUT (seconds, default 60) bounds each `docker pull`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${repo_root}/build"
env_file="${build_dir}/images.env"
label="app.kubernetes.io/part-of=hello-microservices"
suite="bookworm"
pull_timeout="${PULL_TIMEOUT:-60}"

local_python="hello-microservices/python:3.11-bookworm"
local_redis="hello-microservices/redis:7-bookworm"

say() { printf 'base-images: %s\n' "$*"; }
die() { printf 'base-images: ERROR: %s\n' "$*" >&2; exit 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Prints the image to use on stdout; the reason goes to stderr.
choose() {
    local preferred="$1" local_tag="$2" kind="$3"
    if have_image "${preferred}"; then
        say "${kind}: using ${preferred} (present locally)" >&2
    elif timeout "${pull_timeout}" docker pull -q "${preferred}" >/dev/null 2>&1; then
        say "${kind}: using ${preferred} (pulled)" >&2
    elif have_image "${local_tag}"; then
        say "${kind}: ${preferred} cannot be pulled; using ${local_tag} (bootstrapped earlier)" >&2
        preferred="${local_tag}"
    else
        say "${kind}: ${preferred} cannot be pulled; bootstrapping ${local_tag} from Debian packages" >&2
        "bootstrap_${kind}" >&2
        preferred="${local_tag}"
    fi
    printf '%s\n' "${preferred}"
}

ensure_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return 0
    [ "$(id -u)" -eq 0 ] || die "debootstrap is missing and only root can install it: apt-get install debootstrap"
    say "installing debootstrap ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

# debootstrap a minimal Debian into build/rootfs/<name> and trim what only
# apt needs. minbase = essential packages + apt: no init, no man pages.
debootstrap_rootfs() {
    local name="$1" include="$2"
    local dir="${build_dir}/rootfs/${name}"
    ensure_debootstrap
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root (chroot, device nodes)."
    rm -rf "${dir}"
    mkdir -p "${dir}"
    debootstrap --variant=minbase --include="${include}" "${suite}" "${dir}" \
        >"${build_dir}/debootstrap-${name}.log" 2>&1 \
        || die "debootstrap failed for ${name}; see ${build_dir}/debootstrap-${name}.log"
    rm -rf "${dir}"/var/cache/apt/archives/*.deb "${dir}"/var/lib/apt/lists/* \
           "${dir}"/var/log/* "${dir}"/usr/share/man/*
    # Documentation goes, licences (copyright files) stay.
    find "${dir}/usr/share/doc" -type f ! -name copyright -delete
}

# Turn build/rootfs/<name> into a single-layer image; extra args are
# `--change` instructions (the image config that a Dockerfile would set).
import_rootfs() {
    local name="$1" tag="$2"; shift 2
    local dir="${build_dir}/rootfs/${name}"
    tar -C "${dir}" --numeric-owner -c . \
        | docker import --change "LABEL ${label}" "$@" \
              --message "debootstrap --variant=minbase ${suite}" - "${tag}" >/dev/null
    rm -rf "${dir}"
}

bootstrap_python() {
    local started=${SECONDS}
    # python3-venv brings ensurepip's bundled pip wheel, so the builder stage
    # can make a venv and install from the wheelhouse without any index.
    # Debian bookworm's python3 is 3.11, so the cp311 wheels fit it.
    debootstrap_rootfs python python3,python3-venv,python-is-python3,ca-certificates
    import_rootfs python "${local_python}" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]'
    say "built ${local_python} in $((SECONDS - started))s"
}

bootstrap_redis() {
    local started=${SECONDS}
    debootstrap_rootfs redis redis-server
    # The package creates a `redis` system user; its numeric uid:gid goes
    # into USER because Kubernetes' runAsNonRoot can only verify numbers.
    local ids
    ids="$(awk -F: '$1 == "redis" { print $3 ":" $4 }' "${build_dir}/rootfs/redis/etc/passwd")"
    [ -n "${ids}" ] || die "the redis-server package created no 'redis' user in the rootfs."
    # No config file: redis-server then listens on all interfaces on 6379 and
    # logs to stdout; --protected-mode no lets other containers connect.
    import_rootfs redis "${local_redis}" \
        --change 'EXPOSE 6379' \
        --change "USER ${ids}" \
        --change 'WORKDIR /var/lib/redis' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["redis-server", "--protected-mode", "no"]'
    say "built ${local_redis} in $((SECONDS - started))s"
}

if ! timeout 10 docker info >/dev/null 2>&1; then
    die "no Docker engine answers: run scripts/provision-docker.sh first."
fi
mkdir -p "${build_dir}"

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(python redis)

# A kind not asked for keeps what build/images.env already says.
previous() { sed -n "s/^$1=//p" "${env_file}" 2>/dev/null | tail -n 1; }
python_image="${PYTHON_IMAGE:-python:3.11-slim-bookworm}"
redis_image="${REDIS_IMAGE:-redis:7-alpine}"
[[ " ${wanted[*]} " == *" python "* ]] || python_image="$(previous PYTHON_IMAGE)"
[[ " ${wanted[*]} " == *" redis "* ]] || redis_image="$(previous REDIS_IMAGE)"
python_image="${python_image:-python:3.11-slim-bookworm}"
redis_image="${redis_image:-redis:7-alpine}"
for kind in "${wanted[@]}"; do
    case "${kind}" in
        python) python_image="$(choose "${python_image}" "${local_python}" python)" ;;
        redis)  redis_image="$(choose "${redis_image}" "${local_redis}" redis)" ;;
        *) die "unknown image kind '${kind}' (expected: python, redis)" ;;
    esac
done

# Written atomically so a reader never sees half a file.
printf 'PYTHON_IMAGE=%s\nREDIS_IMAGE=%s\n' "${python_image}" "${redis_image}" >"${env_file}.tmp"
mv "${env_file}.tmp" "${env_file}"
say "wrote ${env_file}:"
sed 's/^/  /' "${env_file}"
