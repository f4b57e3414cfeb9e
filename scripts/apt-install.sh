#!/usr/bin/env bash
# Installs Debian packages for the project's test scripts: apt-get as root or through
# password-less sudo, quietly, without starting or enabling any service the packages ship
# (a policy-rc.d that refuses them, removed again afterwards). On failure it shows the
# last lines of apt's output and exits 1.
#
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail

die() {
  echo "apt-install: error: $*" >&2
  exit 1
}

[ $# -gt 0 ] || die "name the packages to install"

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "need root (or password-less sudo) to install $*"
  fi
}

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
  as_root chmod 755 "$policy"
  created_policy=1
fi
log="$(mktemp)"
cleanup() {
  rm -f "$log"
  if [ "$created_policy" = 1 ]; then as_root rm -f "$policy"; fi
}
trap cleanup EXIT
if ! { as_root apt-get update -q &&
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@"; } >"$log" 2>&1; then
  tail -n 25 "$log" >&2
  die "apt-get install $* failed"
fi
