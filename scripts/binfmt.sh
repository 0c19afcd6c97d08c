#!/usr/bin/env bash
# Let this machine run linux/arm64 binaries under qemu-user emulation (binfmt_misc),
# so `docker buildx build --platform linux/arm64` and arm64 containers work on x86_64.
#
# Idempotent: an emulator that is already registered is left alone, so a machine that
# has one (Docker Desktop does this itself; or `docker run --privileged tonistiigi/binfmt`)
# is not touched. Otherwise, as root on Debian: install qemu-user-static + binfmt-support
# if missing, mount binfmt_misc if the kernel's file system is not mounted yet (minimal
# machines and CI containers often lack the mount), and enable Debian's registration.
# Debian registers the emulator with the F ("fix binary") flag: the kernel opens it once,
# so it also works inside chroots and containers, where its path does not exist.
set -euo pipefail

entry=/proc/sys/fs/binfmt_misc/qemu-aarch64

say() { printf 'binfmt: %s\n' "$*"; }
die() { printf 'binfmt: ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(uname -m)" = aarch64 ]; then
    say "this machine is arm64 itself: nothing to emulate."
    exit 0
fi
if [ -r "${entry}" ] && grep -qx enabled "${entry}"; then
    say "linux/arm64 emulator already registered ($(sed -n 's/^interpreter //p' "${entry}"))."
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "no arm64 emulator is registered and only root can register one: sudo bash $0"

if [ "$(dpkg-query -W -f='${Status}\n' qemu-user-static binfmt-support 2>/dev/null \
        | grep -c 'install ok installed')" != 2 ]; then
    say "installing qemu-user-static and binfmt-support ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-user-static binfmt-support >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    say "mounting binfmt_misc on /proc/sys/fs/binfmt_misc"
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        || die "cannot mount binfmt_misc (a container without privileges?)."
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64
grep -qx enabled "${entry}" || die "qemu-aarch64 is still not registered; see update-binfmts --display."
say "linux/arm64 emulator registered: $(sed -n 's/^interpreter //p' "${entry}") (flags: $(sed -n 's/^flags: //p' "${entry}"))"
