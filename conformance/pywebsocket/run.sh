#!/usr/bin/env bash
# Runs pywebsocket3 4.0.2's own end-to-end suite (test/test_endtoend.py)
# against wshd, with the example/ handler tree of the same source distribution.
#
#   conformance/pywebsocket/run.sh
#
# Environment:
#   WSHD_BIN                 the server binary (default target/release/wshd,
#                            built with `cargo build --release -p wshd` if absent)
#   WSHD_PYWEBSOCKET_HOME    cache for the sdist and `six`
#                            (default $HOME/.cache/wshd-pywebsocket)
#
# Then serves pywebsocket3's own handler trees (example/ and
# test/testdata/handlers) and checks what loads (load_trees.py).
#
# Exits 0 only when the failing tests are exactly those in expected.txt and
# every handler tree loads as pywebsocket3's test_dispatch.py expects.
# See conformance/pywebsocket/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

VERSION=4.0.2
SIX_VERSION=1.17.0
CACHE="${WSHD_PYWEBSOCKET_HOME:-$HOME/.cache/wshd-pywebsocket}"
SDIST_DIR="$CACHE/sdist"
SRC="$CACHE/pywebsocket3-$VERSION"
SITE="$CACHE/site-six-$SIX_VERSION"
PYTHON="${PYTHON:-python3}"

case "${1:-}" in
-h | --help)
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  exit 0
  ;;
"") ;;
*)
  echo "run.sh: unknown argument: $1 (try --help)" >&2
  exit 2
  ;;
esac

mkdir -p "$CACHE"

# 1. pywebsocket3's source distribution (it has test/ and example/; the wheel
#    has neither). Unpacked once; the marker is written last.
if [ ! -f "$SRC/.wshd-unpacked" ]; then
  echo "run.sh: fetching pywebsocket3==$VERSION (sdist) into $SDIST_DIR"
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: \
    "pywebsocket3==$VERSION" -d "$SDIST_DIR"
  tarball="$SDIST_DIR/pywebsocket3-$VERSION.tar.gz"
  [ -f "$tarball" ] || {
    echo "run.sh: pip did not leave $tarball" >&2
    exit 1
  }
  rm -rf "$SRC"
  tar -xzf "$tarball" -C "$CACHE"
  [ -f "$SRC/test/test_endtoend.py" ] || {
    echo "run.sh: $SRC/test/test_endtoend.py missing after unpacking" >&2
    exit 1
  }
  touch "$SRC/.wshd-unpacked"
fi

# 2. six, which the suite's client side imports, in a private directory.
if [ ! -f "$SITE/.wshd-installed" ]; then
  echo "run.sh: installing six==$SIX_VERSION into $SITE"
  rm -rf "$SITE"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$SITE" "six==$SIX_VERSION"
  touch "$SITE/.wshd-installed"
fi

# 3. The server.
WSHD_BIN="${WSHD_BIN:-$ROOT/target/release/wshd}"
if [ ! -x "$WSHD_BIN" ]; then
  echo "run.sh: building wshd (cargo build --release -p wshd)"
  cargo build --release -p wshd
fi
export WSHD_BIN

# 4. `python` for the CGI test: example/cgi-bin/hi.py starts with
#    `#!/usr/bin/env python`, and a fresh Debian machine has only python3. A
#    private directory with `python` -> $PYTHON goes first on PATH for this run
#    (wshd passes its PATH on to CGI scripts); it is removed on exit.
SHIM="$(mktemp -d "${TMPDIR:-/tmp}/wshd-python-shim.XXXXXX")"
trap 'rm -rf "$SHIM"' EXIT
ln -s "$(command -v "$PYTHON")" "$SHIM/python"

# 5. The suite: the sdist root (pywebsocket3 as the client library, test/) and
#    six on PYTHONPATH for this run only.
echo "run.sh: pywebsocket3 $VERSION test_endtoend against $WSHD_BIN"
PATH="$SHIM:$PATH" PYTHONPATH="$SRC:$SITE${PYTHONPATH:+:$PYTHONPATH}" \
  "$PYTHON" "$HERE/run_endtoend.py" "$SRC" "$HERE/expected.txt"

# 5. pywebsocket3's own handler trees: example/ and test/testdata/handlers load,
#    the broken files of the latter give exactly test_dispatch.py's warnings, and
#    the server still starts and serves every other handler.
"$PYTHON" "$HERE/load_trees.py" "$SRC"
