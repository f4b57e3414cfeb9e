#!/usr/bin/env bash
# Builds wshd's wheel the way `pip install .` does, installs it into a virtualenv of each
# CPython from 3.9 to 3.13, and runs the harness tests (this directory) in each: the
# server started the ways WPT, Firefox and Chromium start pywebsocket, and wptserve's
# stash and HTTP/2 WebSocket path on this package.
#
#   crates/python/harness_tests/run.sh [VERSION ...]    # default: 3.9 3.10 3.11 3.12 3.13
#
# Interpreters are found under pyenv ($PYENV_ROOT/versions/X.Y.*) or as pythonX.Y on
# PATH; a missing one is an error, not a skip. wptserve 4.0.3 and h2 come from PyPI
# (wptserve without its dependency on pywebsocket3: this package takes its place).
#
# Environment: WSHD_PY_VENVS (default target/python-venvs), the virtualenvs, kept
# between runs; WSHD_WHEEL_DIR (default target/python-wheel).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
cd "$ROOT"

VERSIONS=("$@")
[ "${#VERSIONS[@]}" -gt 0 ] || VERSIONS=(3.9 3.10 3.11 3.12 3.13)
VENVS="${WSHD_PY_VENVS:-$ROOT/target/python-venvs}"
WHEELS="${WSHD_WHEEL_DIR:-$ROOT/target/python-wheel}"
WPTSERVE=wptserve==4.0.3

say() { echo "harness_tests: $*"; }
die() {
  echo "harness_tests: $*" >&2
  exit 1
}

# The interpreter for version $1: pyenv's newest X.Y.*, else pythonX.Y on PATH.
find_python() {
  local v="$1" c
  for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".* 2>/dev/null | sort -rV); do
    if [ -x "$c/bin/python$v" ]; then
      echo "$c/bin/python$v"
      return
    fi
  done
  command -v "python$v" || true
}

PYTHONS=()
for v in "${VERSIONS[@]}"; do
  py="$(find_python "$v")"
  [ -n "$py" ] || die "CPython $v not found (looked under ${PYENV_ROOT:-$HOME/.pyenv}/versions and for python$v on PATH); install it, e.g. 'pyenv install $v'"
  PYTHONS+=("$py")
done

# 1. The wheel, built by pip through pyproject.toml (maturin), as `pip install .` builds it.
rm -rf "$WHEELS"
say "building the wheel (pip wheel .)"
python3 -m pip wheel --quiet --no-deps . -w "$WHEELS"
wheel=$(ls "$WHEELS"/wshd-*.whl)
say "built $(basename "$wheel")"

# 2. Each interpreter: a virtualenv with the wheel, h2 and wptserve; then the tests.
status=0
for i in "${!VERSIONS[@]}"; do
  v="${VERSIONS[$i]}"
  py="${PYTHONS[$i]}"
  venv="$VENVS/$v"
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv with $py"
    "$py" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$wheel"
  "$venv/bin/python" -m pip install --quiet h2
  "$venv/bin/python" -m pip install --quiet --no-deps "$WPTSERVE"
  say "CPython $("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
  # From a directory without the source packages, so the installed ones are tested.
  if ! (cd "$HERE" && "$venv/bin/python" -m unittest discover -s . -t . 2>&1); then
    say "FAILED on CPython $v"
    status=1
  fi
done
[ "$status" = 0 ] && say "passed on CPython ${VERSIONS[*]}"
exit "$status"
