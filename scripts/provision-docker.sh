#!/usr/bin/env bash
# Make sure a Docker engine with BuildKit (buildx) and Compose v2 answers on this machine.
#
# Idempotent: every step skips what is already there.
# - On Docker Desktop, or any machine where you are not root, nothing is installed: the
#   script only checks that an engine answers and says what is missing.
# - On a Debian bookworm machine as root (this project's CI), it installs the Docker
#   packages of the next Debian release, trixie (engine 26.1, buildx, Compose v2), from
#   an apt source pinned low, so nothing else on the machine moves to trixie; then it
#   starts dockerd in the background when no engine answers (there is no init system).
#   They depend only on libc6 >= 2.34 and run on bookworm; that is far closer to a
#   learner's Docker (Desktop ships 27-29, BuildKit by default) than bookworm's 20.10.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log_dir="${repo_root}/build"
log_file="${log_dir}/dockerd.log"
wait_seconds="${DOCKER_WAIT_SECONDS:-30}"
# The packages a learner-like engine needs; docker-cli is the client that goes with it.
packages=(docker.io docker-cli docker-buildx docker-compose)

say() { printf 'provision-docker: %s\n' "$*"; }
die() { printf 'provision-docker: ERROR: %s\n' "$*" >&2; exit 1; }

# `docker info` can hang on a half-dead socket; never let it block CI.
engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

is_debian_bookworm() {
    [ -r /etc/os-release ] && . /etc/os-release && [ "${VERSION_CODENAME:-}" = bookworm ]
}

install_packages() {
    # An engine still running from bookworm's 20.10 package must not keep the old binary.
    if pgrep -x dockerd >/dev/null 2>&1 && dockerd --version | grep -q ' 20\.'; then
        say "stopping bookworm's dockerd 20.10 before upgrading it"
        pkill -x dockerd; sleep 3
    fi
    bash "${repo_root}/scripts/trixie-apt.sh" "${packages[@]}"
}

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && is_debian_bookworm; then
    install_packages
elif ! command -v docker >/dev/null 2>&1; then
    die "the docker command is missing: install Docker Desktop or Docker Engine (https://docs.docker.com/engine/install/) and re-run."
fi

if engine_answers; then
    say "Docker engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
else
    command -v dockerd >/dev/null 2>&1 || die "no Docker engine answers and dockerd is not installed: start Docker Desktop, or install Docker Engine."
    # A socket that exists but does not answer is left by a dead dockerd; a live dockerd
    # that is merely slow is left alone and just waited for.
    started_here=false
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        [ "$(id -u)" -eq 0 ] || die "dockerd is not running and only root can start it here: start the Docker service (e.g. 'sudo systemctl start docker')."
        mkdir -p "${log_dir}"
        say "starting dockerd in the background (log: ${log_file}) ..."
        # setsid + nohup: dockerd must outlive this script and the caller's shell.
        setsid nohup dockerd >"${log_file}" 2>&1 </dev/null &
        started_here=true
    fi
    for _ in $(seq "${wait_seconds}"); do
        engine_answers && break
        sleep 1
    done
    if ! engine_answers; then
        "${started_here}" && tail -n 20 "${log_file}" >&2
        die "no Docker engine answers within ${wait_seconds}s (DOCKER_HOST=${DOCKER_HOST:-unset}); see ${log_file}."
    fi
    say "Docker engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
fi

# BuildKit through the CLI: what `docker build` uses on Docker Desktop and Engine >= 23.
if docker buildx version >/dev/null 2>&1; then
    say "BuildKit: $(docker buildx version | head -n1)"
else
    say "no buildx plugin: \`docker build\` falls back to the legacy builder (install docker-buildx)."
fi
if docker compose version >/dev/null 2>&1; then
    say "Compose: $(docker compose version --short 2>/dev/null)"
else
    say "no Compose v2 plugin (install docker-compose, or Docker Desktop)."
fi
