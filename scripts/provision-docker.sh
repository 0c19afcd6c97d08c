#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
#
# Idempotent: if `docker info` already answers (Docker Desktop, a system
# service, a dockerd started earlier) nothing is touched. Otherwise, on a
# fresh Debian CI machine, install Debian's docker.io and start dockerd in
# the background -- there is no init system to do it for us there.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log_dir="${repo_root}/build"
log_file="${log_dir}/dockerd.log"
wait_seconds="${DOCKER_WAIT_SECONDS:-30}"

say() { printf 'provision-docker: %s\n' "$*"; }
die() { printf 'provision-docker: ERROR: %s\n' "$*" >&2; exit 1; }

# `docker info` can hang on a half-dead socket; never let it block CI.
engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
    say "Docker engine already answers; nothing to do."
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "dockerd is not installed and this is not root: install Docker (https://docs.docker.com/engine/install/) and re-run."
    command -v apt-get >/dev/null 2>&1 || die "dockerd is not installed and apt-get is unavailable: install Docker for your OS and re-run."
    say "installing Debian's docker.io (dockerd was not found) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi
command -v docker >/dev/null 2>&1 || die "the docker client is still missing after installing docker.io."

# A socket that exists but does not answer is left by a dead dockerd; a
# live dockerd that is merely slow is left alone and just waited for.
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
    if engine_answers; then
        say "Docker engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
        exit 0
    fi
    sleep 1
done

if "${started_here}"; then
    tail -n 20 "${log_file}" >&2 || true
    die "dockerd did not answer within ${wait_seconds}s; see ${log_file} (last lines above)."
fi
die "a dockerd process runs but \`docker info\` gets no answer within ${wait_seconds}s (DOCKER_HOST=${DOCKER_HOST:-unset}); check its socket and permissions, or stop it and re-run."
