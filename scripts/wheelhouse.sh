#!/usr/bin/env bash
# Download the wheels that the IMAGE needs into build/wheelhouse/, on the host.
#
# Why on the host: a `docker build` here (and in an air-gapped shop) cannot
# reach a package index, so the builder stage installs with
# `pip install --no-index --find-links` from this folder. The wheels are for
# the image's platform and Python (Linux, CPython 3.11), not the host's: a
# Mac or a Python 3.12 host still fills the wheelhouse correctly.
#
# service/requirements.txt is a complete lock, so every pinned line is
# fetched regardless of its environment marker (pip would otherwise judge
# `python_full_version < "3.11.3"` against the HOST's Python), with --no-deps,
# and pip checks every file against the lock's --hash lines.
#
# Usage: scripts/wheelhouse.sh                 fill build/wheelhouse/
#        scripts/wheelhouse.sh --print-hashes  print the lock's hash lines for
#                                              x86_64 and aarch64 wheels
# Env:   WHEEL_ARCH (x86_64|aarch64; default: the Docker engine's, else uname -m)
#        WHEELHOUSE (default build/wheelhouse; scripts/platform-image.sh keeps another
#        platform's wheels apart, in build/wheelhouse-<arch>)
#        REQUIREMENTS (default service/requirements.txt: the lock whose wheels to fetch)
#        PIP (default: "python3 -m pip"), PYTHON (default: python3)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="${REQUIREMENTS:-${repo_root}/service/requirements.txt}"
wheelhouse="${WHEELHOUSE:-${repo_root}/build/wheelhouse}"
python="${PYTHON:-python3}"
# PIP may be a command line, e.g. PIP=".venv/bin/python -m pip" (the Makefile's).
read -r -a pip_cmd <<<"${PIP:-${python} -m pip}"

say() { printf 'wheelhouse: %s\n' "$*"; }
die() { printf 'wheelhouse: ERROR: %s\n' "$*" >&2; exit 1; }

[ -f "${requirements}" ] || die "${requirements} not found."

image_arch() {
    local arch="${WHEEL_ARCH:-}"
    if [ -z "${arch}" ]; then
        # The engine's arch is what the image runs on (e.g. a Mac's Linux VM).
        arch="$(timeout 10 docker info --format '{{.Architecture}}' 2>/dev/null || uname -m)"
    fi
    case "${arch}" in
        x86_64|amd64) echo x86_64 ;;
        aarch64|arm64) echo aarch64 ;;
        *) die "unsupported architecture '${arch}' (wheels are locked for x86_64 and aarch64)" ;;
    esac
}

# The lock without environment markers (hashes kept), so pip fetches every line.
unmarked_lock() {
    "${python}" - "${requirements}" <<'EOF'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
for line in text.splitlines():
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith("#"):
        continue
    # "name==1.0 ; marker --hash=..." -> "name==1.0 --hash=..."
    line = re.sub(r";[^-]*(?=--hash|$)", " ", line)
    print(" ".join(line.split()))
EOF
}

# Download for one architecture into $1; pip skips files already there.
download() {
    local dest="$1" arch="$2" lock
    lock="$(mktemp)"
    unmarked_lock >"${lock}"
    # manylinux2014 = glibc 2.17+, which pip also expands to the older
    # manylinux1/2010 tags; Debian bookworm (glibc 2.36) runs all of them.
    "${pip_cmd[@]}" download --quiet --disable-pip-version-check \
        --only-binary=:all: --no-deps --require-hashes \
        --platform "manylinux2014_${arch}" --python-version 3.11 \
        --implementation cp --abi cp311 \
        --dest "${dest}" -r "${lock}" \
        || { rm -f "${lock}"; die "pip download failed (is PyPI reachable from this host?)."; }
    rm -f "${lock}"
}

# True when every pinned name==version already has a wheel for this arch.
complete() {
    local arch="$1"
    unmarked_lock | "${python}" -c '
import os, re, sys
house, arch = sys.argv[1], sys.argv[2]
have = os.listdir(house) if os.path.isdir(house) else []
# Read it all before deciding: an early exit would break the pipe of the writer.
for line in sys.stdin.read().splitlines():
    name, version = re.match(r"([A-Za-z0-9_.-]+)==([^ ;]+)", line).groups()
    stem = re.sub(r"[-_.]+", "_", name).lower() + "-" + version + "-"
    if not any(f.lower().startswith(stem) and f.endswith(".whl")
               and (f.endswith("-none-any.whl") or arch in f) for f in have):
        sys.exit(1)
' "${wheelhouse}" "${arch}"
}

if [ "${1:-}" = "--print-hashes" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "${tmp}"' EXIT
    for arch in x86_64 aarch64; do
        # No --require-hashes here: this is how new hashes are made.
        unmarked_lock | sed 's/ --hash=[^ ]*//g' >"${tmp}/lock.txt"
        "${pip_cmd[@]}" download --quiet --disable-pip-version-check \
            --only-binary=:all: --no-deps --platform "manylinux2014_${arch}" \
            --python-version 3.11 --implementation cp --abi cp311 \
            --dest "${tmp}/wheels" -r "${tmp}/lock.txt"
    done
    for whl in "${tmp}"/wheels/*.whl; do
        printf '%s  --hash=sha256:%s\n' "$(basename "${whl}")" "$(sha256sum "${whl}" | cut -d' ' -f1)"
    done
    exit 0
fi

arch="$(image_arch)"
mkdir -p "${wheelhouse}"
if complete "${arch}"; then
    say "${wheelhouse#"${repo_root}/"}/ already holds every locked wheel for ${arch}; nothing to download."
else
    say "downloading locked wheels for linux/${arch}, CPython 3.11 ..."
    download "${wheelhouse}" "${arch}"
fi
find "${wheelhouse}" -maxdepth 1 -name '*.whl' -printf '  %f\n' | sort
