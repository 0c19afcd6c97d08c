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
# Usage: scripts/base-images.sh [python] [redis] [python-arm64]
#        (default: python redis; python-arm64 is the builder base for
#        `make image PLATFORM=linux/arm64`)
# Env:   PYTHON_IMAGE, REDIS_IMAGE, PYTHON_IMAGE_ARM64 override the preferred images;
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
# Its own tag, never the amd64 one: the classic image store keeps one platform per tag.
local_python_arm64="hello-microservices/python:3.11-bookworm-arm64"

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
    local name="$1" include="$2" arch="${3:-}"
    local dir="${build_dir}/rootfs/${name}"
    ensure_debootstrap
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root (chroot, device nodes)."
    rm -rf "${dir}"
    mkdir -p "${dir}"
    # A foreign --arch runs its second stage under qemu-user (scripts/binfmt.sh).
    debootstrap --variant=minbase ${arch:+--arch="${arch}"} --include="${include}" "${suite}" "${dir}" \
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

# The same builder base for linux/arm64, debootstrapped under qemu-user emulation
# (about 7 min on x86_64, once: later runs find the image). `docker import
# --platform` records arm64 in the image config (Docker Engine >= 25 honours it), so
# BuildKit accepts it as the base of a linux/arm64 build.
bootstrap_python_arm64() {
    local started=${SECONDS}
    if [ "$(uname -m)" != aarch64 ]; then
        bash "${repo_root}/scripts/binfmt.sh"
    fi
    debootstrap_rootfs python-arm64 python3,python3-venv,python-is-python3,ca-certificates arm64
    import_rootfs python-arm64 "${local_python_arm64}" --platform linux/arm64 \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]'
    local arch
    arch="$(docker image inspect -f '{{.Architecture}}' "${local_python_arm64}")"
    [ "${arch}" = arm64 ] || die "${local_python_arm64} records architecture '${arch}', not arm64: this engine ignores docker import --platform (Docker Engine >= 25 needed)."
    say "built ${local_python_arm64} in $((SECONDS - started))s"
}

# The arm64 builder base. Nothing is pulled into the local store: under the classic
# image store one tag holds one platform, and pulling python:...'s arm64 variant would
# replace the amd64 one. Where the registry answers, BuildKit fetches the arm64 variant
# of the official image itself during the build; offline, a local bootstrap stands in.
choose_python_arm64() {
    local preferred="$1"
    if [ -n "${PYTHON_IMAGE_ARM64:-}" ]; then
        say "python-arm64: using ${preferred} (PYTHON_IMAGE_ARM64)" >&2
    elif have_image "${local_python_arm64}"; then
        say "python-arm64: using ${local_python_arm64} (bootstrapped earlier)" >&2
        preferred="${local_python_arm64}"
    elif timeout "${pull_timeout}" docker buildx imagetools inspect "${preferred}" >/dev/null 2>&1; then
        say "python-arm64: using ${preferred} (the registry answers; BuildKit pulls its arm64 variant)" >&2
    else
        say "python-arm64: ${preferred} cannot be reached; bootstrapping ${local_python_arm64} from Debian packages (arm64, emulated: ~7 min)" >&2
        bootstrap_python_arm64 >&2
        preferred="${local_python_arm64}"
    fi
    printf '%s\n' "${preferred}"
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
# (No build/images.env yet, e.g. in a fresh clone: nothing was chosen before.)
previous() { [ -f "${env_file}" ] || return 0; sed -n "s/^$1=//p" "${env_file}" | tail -n 1; }
python_image="${PYTHON_IMAGE:-python:3.11-slim-bookworm}"
redis_image="${REDIS_IMAGE:-redis:7-alpine}"
[[ " ${wanted[*]} " == *" python "* ]] || python_image="$(previous PYTHON_IMAGE)"
[[ " ${wanted[*]} " == *" redis "* ]] || redis_image="$(previous REDIS_IMAGE)"
python_image="${python_image:-python:3.11-slim-bookworm}"
redis_image="${redis_image:-redis:7-alpine}"
python_arm64_image="${PYTHON_IMAGE_ARM64:-$(previous PYTHON_IMAGE_ARM64)}"
[[ " ${wanted[*]} " == *" python-arm64 "* ]] && python_arm64_image="${PYTHON_IMAGE_ARM64:-python:3.11-slim-bookworm}"
for kind in "${wanted[@]}"; do
    case "${kind}" in
        python) python_image="$(choose "${python_image}" "${local_python}" python)" ;;
        redis)  redis_image="$(choose "${redis_image}" "${local_redis}" redis)" ;;
        python-arm64) python_arm64_image="$(choose_python_arm64 "${python_arm64_image}")" ;;
        *) die "unknown image kind '${kind}' (expected: python, redis, python-arm64)" ;;
    esac
done

# Written atomically so a reader never sees half a file.
{
    printf 'PYTHON_IMAGE=%s\nREDIS_IMAGE=%s\n' "${python_image}" "${redis_image}"
    [ -z "${python_arm64_image}" ] || printf 'PYTHON_IMAGE_ARM64=%s\n' "${python_arm64_image}"
} >"${env_file}.tmp"
mv "${env_file}.tmp" "${env_file}"
say "wrote ${env_file}:"
sed 's/^/  /' "${env_file}"
