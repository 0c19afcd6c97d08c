#!/usr/bin/env bash
# Install Debian packages from trixie (the release after bookworm) on a bookworm machine:
#   bash scripts/trixie-apt.sh PACKAGE...
#
# Only packages that depend on nothing newer than bookworm's libc are asked for this way
# (Docker 26.1, buildx, Compose v2, kubectl 1.32, kind 0.27). The apt source is made from
# this machine's own bookworm source (same mirror and keyring, so no host is named here)
# and pinned at priority 100: nothing else on the machine moves to trixie.
# Idempotent: packages already installed from trixie are skipped. Root only.
set -euo pipefail

sources=/etc/apt/sources.list.d/hello-microservices-trixie.sources
pin=/etc/apt/preferences.d/hello-microservices-trixie

say() { printf 'trixie-apt: %s\n' "$*"; }
die() { printf 'trixie-apt: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (apt-get install)."
(($#)) || die "usage: $0 PACKAGE..."

from_trixie() {
    dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null \
        | grep -q "install ok installed" || return 1
    apt-cache madison "$1" 2>/dev/null | grep trixie | grep -qF " $(dpkg-query -W -f='${Version}' "$1") "
}

missing=()
for pkg in "$@"; do from_trixie "${pkg}" || missing+=("${pkg}"); done
((${#missing[@]})) || exit 0

if [ ! -f "${sources}" ]; then
    uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
          | grep -v security | head -n1 || true)
    [ -n "${uri}" ] || uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "${uri}" ] || die "no Debian bookworm apt source found to derive a trixie source from."
    say "adding an apt source for Debian trixie, pinned at priority 100"
    printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "${uri}" >"${sources}"
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >"${pin}"
fi

say "installing ${missing[*]} from trixie ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# pkg/trixie picks trixie's version even where another source offers a "newer" one (for
# example a cloud SDK's kubectl with an epoch); --allow-downgrades lets it replace that.
apt-get install -y -qq --no-install-recommends --allow-downgrades \
    $(printf '%s/trixie ' "${missing[@]}") >/dev/null
