#!/usr/bin/env bash
# wshd behind nginx and Apache (mod_proxy_wstunnel; mod_proxy_http with
# upgrade=websocket), and inside Apache through mod_python, ws and wss: installs
# Debian's nginx, apache2 and libapache2-mod-python when they are missing (apt-get, as
# root or through password-less sudo; no service is started or enabled), builds wshd's
# wheel and installs it into a directory for mod_python's PythonPath, then runs
# crates/wshd/tests/proxies.rs, which starts each server from a generated configuration
# on a loopback port and prints one line per path with the checks it ran.
#
#   conformance/proxies/run.sh              # install if needed, then test every path
#   conformance/proxies/run.sh --autobahn   # instead: Autobahn|Testsuite groups 1-7, 9,
#                                           # 10, 12, 13 through the Python echo handler
#                                           # inside Apache and behind nginx
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

AUTOBAHN=0
case "${1:-}" in
"") ;;
--autobahn) AUTOBAHN=1 ;;
-h | --help)
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  exit 0
  ;;
*)
  echo "proxies: unknown argument: $1 (try --help)" >&2
  exit 2
  ;;
esac

die() {
  echo "proxies: error: $*" >&2
  exit 1
}

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/sbin/apache2 ] || missing+=(apache2)
[ -e /usr/lib/apache2/modules/mod_python.so ] || missing+=(libapache2-mod-python)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "proxies: installing ${missing[*]} (Debian packages)"
  scripts/apt-install.sh "${missing[@]}" || die "could not install ${missing[*]}"
fi
export PATH="$PATH:/usr/sbin"
echo "proxies: $(nginx -v 2>&1); $(apache2 -v 2>/dev/null | head -n 1)"

# The package mod_python imports: the wheel `pip install .` builds, unpacked where
# Apache's worker user can read it.
wheels="${WSHD_WHEEL_DIR:-$PWD/target/python-wheel}"
python3 -m pip wheel --quiet --no-deps . -w "$wheels"
lib="$(mktemp -d /tmp/wshd-apache-python.XXXXXX)"
trap 'rm -rf "$lib"' EXIT
python3 -m pip install --quiet --no-deps --target "$lib" "$(ls "$wheels"/wshd-*.whl)"
chmod -R a+rX "$lib"
export WSHD_APACHE_PYTHONPATH="$lib"

if [ "$AUTOBAHN" = 1 ]; then
  # Both runs check their results against the ones committed in conformance/autobahn/results.
  cases='1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.*,13.*'
  for via in in-apache nginx; do
    echo "proxies: Autobahn|Testsuite through $via"
    conformance/autobahn/run.sh --via "$via" --cases "$cases" --timeout 2400 \
      --out "target/autobahn-$via" --check-results "$via"
  done
  exit 0
fi

out="$(mktemp)"
status=0
cargo test -q -p wshd --test proxies -- --ignored --test-threads 1 --nocapture >"$out" 2>&1 ||
  status=$?
# One line per path (the quiet harness may put its progress dot in front of one).
grep -oE '(proxy [A-Za-z]+|inside Apache \(mod_python\)) (wss?|[A-Za-z]+ MPM|RequestReadTimeout [^:]*): ok: .*|^test result.*' "$out" || true
if [ "$status" != 0 ]; then
  # What failed (each panic's message), then the end of the output without backtrace
  # frames, which would otherwise push the message out of view.
  echo "---- cargo test: panics ----" >&2
  grep -A3 'panicked at' "$out" >&2 || true
  echo "---- cargo test output (backtrace frames left out) ----" >&2
  grep -vE '(proxy [A-Za-z]+|inside Apache \(mod_python\)) (wss?|[A-Za-z]+ MPM|RequestReadTimeout [^:]*): ok' "$out" |
    grep -vE '^ +([0-9]+: |at )' | tail -n 40 >&2 || true
  rm -f "$out"
  die "proxy tests failed (again: cargo test -p wshd --test proxies -- --ignored --test-threads 1)"
fi
rm -f "$out"
