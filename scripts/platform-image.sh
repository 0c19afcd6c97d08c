#!/usr/bin/env bash
# Build the production image for one platform with BuildKit, e.g. linux/arm64 on an
# x86_64 machine (Apple Silicon, Graviton and Raspberry Pi run arm64):
#
#   bash scripts/platform-image.sh linux/arm64 hello-tornado:latest-arm64 [MORE TAGS...]
#   (what `make image PLATFORM=linux/arm64` runs)
#
# A foreign platform runs under qemu-user emulation (scripts/binfmt.sh registers it;
# Docker Desktop has it built in), so the builder stage's RUN steps, the service's
# trace and the slim root filesystem's check all really execute arm64 code -- slowly.
#
# Tags carry the architecture: the classic image store (Docker Engine's default before
# v29) keeps ONE platform per tag, so building hello-tornado:latest for arm64 would
# replace the amd64 image you run. A multi-platform image (one tag, an index of several
# platforms) needs the containerd image store or a registry; see the README.
#
# Env: PIP (default "python3 -m pip"), PULL_TIMEOUT (see base-images.sh).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf 'platform-image: %s\n' "$*"; }
die() { printf 'platform-image: ERROR: %s\n' "$*" >&2; exit 1; }

(($# >= 2)) || die "usage: $0 linux/arm64|linux/amd64 TAG [TAG...]"
platform="$1"; shift
case "${platform}" in
    linux/arm64) arch=arm64 wheel_arch=aarch64 kind=python-arm64 key=PYTHON_IMAGE_ARM64 ;;
    linux/amd64) arch=amd64 wheel_arch=x86_64 kind=python key=PYTHON_IMAGE ;;
    *) die "unsupported platform '${platform}': the wheels are locked for linux/amd64 and linux/arm64." ;;
esac
docker buildx version >/dev/null 2>&1 \
    || die "building for ${platform} needs BuildKit's buildx plugin (Docker Desktop, or the docker-buildx package)."

engine_arch="$(docker info --format '{{.Architecture}}')"
case "${engine_arch}" in x86_64) engine_arch=amd64 ;; aarch64) engine_arch=arm64 ;; esac
if [ "${engine_arch}" != "${arch}" ]; then
    # Docker Desktop emulates by itself; a Linux engine needs binfmt_misc + qemu-user.
    if ! docker buildx inspect 2>/dev/null | grep -q "Platforms:.*${platform}"; then
        bash "${repo_root}/scripts/binfmt.sh"
    fi
fi

bash "${repo_root}/scripts/base-images.sh" "${kind}"
base="$(sed -n "s/^${key}=//p" "${repo_root}/build/images.env" | tail -n 1)"
[ -n "${base}" ] || die "build/images.env names no ${key}."

# The Dockerfile copies build/wheelhouse/, which holds the native platform's wheels
# (notebook 02 lists and checks them). This platform's wheels live apart, in
# build/wheelhouse-<arch>/, and go into a build context of their own: the same files
# .dockerignore lets through, with those wheels as its build/wheelhouse/.
wheels="${repo_root}/build/wheelhouse-${wheel_arch}"
WHEEL_ARCH="${wheel_arch}" WHEELHOUSE="${wheels}" bash "${repo_root}/scripts/wheelhouse.sh" >/dev/null
context="${repo_root}/build/context-${arch}"
rm -rf "${context}"
mkdir -p "${context}/docker" "${context}/build"
cp -a "${repo_root}/service" "${repo_root}/.dockerignore" "${context}/"
cp -a "${repo_root}"/docker/{elf_strip,exercise,slim_rootfs}.py "${context}/docker/"
cp -a "${wheels}" "${context}/build/wheelhouse"

tag_args=()
for tag in "$@"; do tag_args+=(-t "${tag}"); done
say "building ${*} for ${platform} from ${base} ..."
started=${SECONDS}
# --load puts the result into the engine's image store (one platform: fine for the
# classic store). --provenance=false: no attestation manifest beside the image, which
# the classic store cannot hold and `kind load` trips over on containerd stores.
docker buildx build --platform "${platform}" --provenance=false --load \
    --build-arg PYTHON_IMAGE="${base}" "${tag_args[@]}" \
    -f "${repo_root}/Dockerfile" "${context}"
got="$(docker image inspect -f '{{.Os}}/{{.Architecture}} {{.Size}}' "$1")"
[ "${got%% *}" = "${platform}" ] || die "$1 is ${got%% *}, not ${platform}."
say "built ${*}: ${platform}, ${got##* } bytes, in $((SECONDS - started)) s"
