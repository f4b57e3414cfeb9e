#!/usr/bin/env bash
# Installs wstest, the client of Autobahn|Testsuite 0.8.2, for run.sh.
#
#   conformance/autobahn/install.sh        # idempotent; about 30 s the first time
#
# Where: ${AUTOBAHN_HOME:-$HOME/.cache/wshd-autobahn}, with the command at
# $AUTOBAHN_HOME/bin/wstest. Nothing is installed into any Python's own
# site-packages.
#
# wstest runs on Python 2.7 only, which Debian 12 no longer ships. The
# interpreter is, in this order:
#   1. $WSHD_PYTHON2, if set;
#   2. a pyenv build, ${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.*;
#   3. python2.7 or python2 on PATH;
#   4. Debian 11 (bullseye)'s python2.7 package, installed with apt (needs root
#      or sudo). Bullseye's archive is added with pin priority 100, so apt
#      takes from it only packages that Debian 12 does not have at all.
# pip 20.3.4, the last pip for Python 2.7, is fetched as a wheel with
# python3's pip and run from that wheel. It installs the pinned packages of
# requirements-py27.txt with --no-deps into $AUTOBAHN_HOME/site.
#
# A completed install leaves a stamp naming the interpreter and a checksum of
# this script and the requirements; a second run with the same stamp only
# checks that wstest starts.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${AUTOBAHN_HOME:-$HOME/.cache/wshd-autobahn}"
REQUIREMENTS="$HERE/requirements-py27.txt"
PIP_VERSION=20.3.4

say() { echo "autobahn-install: $*"; }
die() {
  echo "autobahn-install: error: $*" >&2
  exit 1
}

# Runs "$@" with its output in a log file; on failure shows the end of it.
logged() {
  local log="$1"
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "autobahn-install: command failed: $*" >&2
    echo "---- last lines of $log ----" >&2
    grep -v DEPRECATION "$log" | tail -n 25 >&2 || true
    return 1
  fi
}

[ -r "$REQUIREMENTS" ] || die "missing $REQUIREMENTS"
command -v python3 >/dev/null || die "python3 is needed (to fetch pip for Python 2.7)"

# Prints the interpreter's real path if "$1" is a usable CPython 2.7.
python2_ok() {
  [ -n "$1" ] && [ -x "$1" ] || return 1
  env -u PYTHONHOME -u PYTHONPATH "$1" -c '
import sys
if sys.version_info[:2] != (2, 7):
    sys.exit(1)
import ssl, zlib, ctypes  # pip needs TLS; Twisted and cffi need the others
print(sys.executable)' 2>/dev/null
}

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "need root (or password-less sudo) to run: $*
  Alternatively install any CPython 2.7 yourself (e.g. 'pyenv install 2.7.18')
  and point WSHD_PYTHON2 at it."
  fi
}

# Installs Debian 11's python2.7 (and its headers: wsaccel is compiled).
install_debian_python2() {
  command -v apt-get >/dev/null ||
    die "no Python 2.7 found and no apt-get to install one; set WSHD_PYTHON2"
  say "no Python 2.7 found; installing Debian bullseye's python2.7 with apt"
  as_root tee /etc/apt/sources.list.d/wshd-bullseye.sources >/dev/null <<'SRC'
# Added by wshd conformance/autobahn/install.sh for python2.7 (wstest).
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bullseye-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  as_root tee /etc/apt/preferences.d/wshd-bullseye-low >/dev/null <<'PIN'
# Added by wshd conformance/autobahn/install.sh: bullseye only for packages
# that the installed release does not have (python2.7 and its libraries).
Package: *
Pin: release n=bullseye
Pin-Priority: 100

Package: *
Pin: release n=bullseye-security
Pin-Priority: 100
PIN
  local log
  log="$(mktemp)"
  logged "$log" as_root apt-get update || die "apt-get update failed"
  local pkgs=(python2.7 python2.7-dev)
  command -v gcc >/dev/null || pkgs+=(gcc)
  logged "$log" as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${pkgs[@]}" ||
    die "apt-get install ${pkgs[*]} failed"
  rm -f "$log"
}

find_python2() {
  local c found pyenvs=()
  if [ -n "${WSHD_PYTHON2:-}" ]; then
    python2_ok "$WSHD_PYTHON2" || die "WSHD_PYTHON2=$WSHD_PYTHON2 is not a working CPython 2.7"
    return 0
  fi
  shopt -s nullglob
  pyenvs=("${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7.*/bin/python2.7)
  shopt -u nullglob
  [ "${#pyenvs[@]}" = 0 ] || mapfile -t pyenvs < <(printf '%s\n' "${pyenvs[@]}" | sort -rV)
  for c in "${pyenvs[@]}" "$(command -v python2.7 || true)" "$(command -v python2 || true)" \
    /usr/bin/python2.7; do
    if found="$(python2_ok "$c")"; then
      echo "$found"
      return 0
    fi
  done
  return 1
}

PY2="$(find_python2)" || {
  install_debian_python2
  PY2="$(python2_ok /usr/bin/python2.7)" || die "installed python2.7 but it does not work"
}

# The stamp changes when the interpreter, this script or the pins change.
STAMP="$(printf '%s\n' "$PY2" | cat - "$REQUIREMENTS" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
WSTEST="$PREFIX/bin/wstest"

wstest_works() {
  [ -x "$WSTEST" ] && "$WSTEST" --autobahnversion 2>/dev/null | grep -q "0\.8\.2"
}

# One install at a time (two run.sh started together, say).
mkdir -p "$(dirname "$PREFIX")"
if command -v flock >/dev/null; then
  exec 9>"$PREFIX.lock"
  flock 9
fi

if [ "$(cat "$PREFIX/.stamp" 2>/dev/null)" = "$STAMP" ] && wstest_works; then
  say "wstest (Autobahn|Testsuite 0.8.2) already installed in $PREFIX"
  exit 0
fi

# Refuse to replace a directory that this script did not make.
OWNER_MARK=.made-by-wshd-autobahn-install
if [ -e "$PREFIX" ] && [ ! -e "$PREFIX/$OWNER_MARK" ] && [ -n "$(ls -A "$PREFIX" 2>/dev/null)" ]; then
  die "$PREFIX exists, is not empty and was not made by this script; set AUTOBAHN_HOME elsewhere"
fi

say "installing wstest into $PREFIX with $PY2"
STAGE="$PREFIX.partial"
rm -rf "$STAGE"
mkdir -p "$STAGE/dl" "$STAGE/bin"
touch "$STAGE/$OWNER_MARK"
LOG="$STAGE/install.log"

# pip and its build tools, under the install (for the build of wsaccel).
logged "$LOG" python3 -m pip download --no-deps --only-binary=:all: \
  --disable-pip-version-check -d "$STAGE/dl" "pip==$PIP_VERSION" ||
  die "could not download pip $PIP_VERSION with python3's pip (is python3-pip installed?)"
PIP_WHEEL="$STAGE/dl/pip-$PIP_VERSION-py2.py3-none-any.whl"
[ -f "$PIP_WHEEL" ] || die "pip download did not produce $PIP_WHEEL"

# Settings from the caller's environment that would break --target installs.
PY2ENV=(env -u PYTHONHOME -u PYTHONPATH -u PIP_USER -u PIP_TARGET -u PIP_PREFIX
  -u PIP_REQUIRE_VIRTUALENV -u PIP_NO_DEPS PYTHONWARNINGS=ignore)
PIP_OPTS=(--disable-pip-version-check --no-warn-script-location --no-python-version-warning)

logged "$LOG" "${PY2ENV[@]}" "$PY2" "$PIP_WHEEL/pip" install "${PIP_OPTS[@]}" \
  --target "$STAGE/base" "pip==$PIP_VERSION" setuptools==44.1.1 wheel==0.37.1 ||
  die "could not install pip $PIP_VERSION for $PY2"

logged "$LOG" "${PY2ENV[@]}" PYTHONPATH="$STAGE/base" "$PY2" -m pip install "${PIP_OPTS[@]}" \
  --no-deps --target "$STAGE/site" -r "$REQUIREMENTS" ||
  die "pip could not install $REQUIREMENTS (wsaccel needs gcc and Python 2.7 headers)"

# zope is a namespace package; its .pth hook is not read from a --target
# directory on PYTHONPATH, so make it a plain package.
[ -d "$STAGE/site/zope" ] || die "zope.interface is missing from the install"
touch "$STAGE/site/zope/__init__.py"

cat >"$STAGE/bin/wstest" <<LAUNCHER
#!/bin/sh
# wstest (Autobahn|Testsuite 0.8.2), made by wshd conformance/autobahn/install.sh.
unset PYTHONHOME
PYTHONPATH='$PREFIX/site' PYTHONWARNINGS=ignore PYTHONDONTWRITEBYTECODE=1 \\
  exec '$PY2' '$PREFIX/site/bin/wstest' "\$@"
LAUNCHER
chmod +x "$STAGE/bin/wstest"
rm -rf "$STAGE/dl"

rm -rf "$PREFIX"
mv "$STAGE" "$PREFIX"
wstest_works || die "installed, but '$WSTEST --autobahnversion' fails; see $PREFIX/install.log"
# accelerators: without them wstest is very slow on 9.x (16 MiB messages)
"${PY2ENV[@]}" PYTHONPATH="$PREFIX/site" "$PY2" -c 'import wsaccel, ujson' ||
  die "wsaccel/ujson do not import; see $PREFIX/install.log"
echo "$STAMP" >"$PREFIX/.stamp"
say "installed wstest (Autobahn|Testsuite 0.8.2) in $PREFIX; command: $WSTEST"
