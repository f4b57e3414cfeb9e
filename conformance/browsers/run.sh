#!/usr/bin/env bash
# Real browsers against wshd: Debian's chromium (driven by playwright-core) and
# firefox-esr (puppeteer-core over WebDriver BiDi), headless, on examples/console.html
# and the example handlers, over ws and wss (a certificate generated for the run).
# Installs what is missing: chromium, firefox-esr, nodejs and npm from Debian (apt-get,
# as root or through password-less sudo), and the two npm packages pinned in
# package-lock.json (npm ci, into conformance/browsers/node_modules). Prints one line
# per check per browser (drive.mjs) and saves the console page after chromium's ws run
# to target/browsers/console.png.
#
#   conformance/browsers/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/target/browsers"

say() { echo "browsers: $*"; }
die() {
  echo "browsers: error: $*" >&2
  exit 1
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v openssl >/dev/null || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (Debian packages)"
  "$ROOT/scripts/apt-install.sh" "${missing[@]}" || die "could not install ${missing[*]}"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "node $(node -v) is too old: the pinned packages need 18 or later"

say "npm ci (playwright-core and puppeteer-core, pinned in package-lock.json)"
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >/dev/null ||
  die "npm ci failed in $HERE"

say "building wshd (cargo build --release -p wshd)"
(cd "$ROOT" && cargo build -q --release -p wshd) || die "could not build wshd"
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
WSHD="$TARGET_DIR/release/wshd"

mkdir -p "$OUT"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null || die "openssl could not make a certificate"

# Starts wshd on the repository (examples/console.html, examples/handlers) with `$@`;
# sets `origin` once it listens. (Not called as `$(start ...)`: in that subshell the pid
# would not reach `pids`, and the servers would outlive this script.)
start() {
  local name="$1" scheme="$2"
  shift 2
  (cd "$ROOT" && exec "$WSHD" -H 127.0.0.1 -p 0 -d . -w examples/handlers "$@") \
    >"$work/$name.out" 2>"$OUT/$name.log" &
  pids+=("$!")
  local addr=""
  for _ in $(seq 300); do
    addr="$(sed -n 's/^listening on //p' "$work/$name.out" | head -n 1)"
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || die "wshd ($name) did not start; see $OUT/$name.log"
  origin="$scheme://$addr"
}
start ws http
http="$origin"
start wss https -t -k "$work/key.pem" -c "$work/cert.pem"
https="$origin"
say "wshd at $http and $https"

status=0
node "$HERE/drive.mjs" "$http" "$https" "$OUT/console.png" || status=$?
if [ "$status" != 0 ]; then
  say "FAILED (server logs: $OUT/ws.log, $OUT/wss.log)"
  exit 1
fi
say "all checks passed in both browsers; the console page: $OUT/console.png"
