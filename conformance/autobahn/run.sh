#!/usr/bin/env bash
# Runs Autobahn|Testsuite's fuzzing client (wstest) against wshd's echo
# example, then gates on the results with summarize.py. See README.md.
#
#   conformance/autobahn/run.sh [options]
#
#   --cases LIST          comma-separated case patterns
#                         (default: 1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*)
#   --exclude LIST        comma-separated case patterns to leave out
#   --server-cmd CMD      start this server instead of the echo example; it
#                         must print 'listening on HOST:PORT' on stdout
#                         (env: WSHD_AUTOBAHN_SERVER)
#   --url URL             test an already running server; start nothing
#   --out DIR             reports and logs (default: target/autobahn)
#   --timeout SECONDS     limit for wstest (default: 1200; env: AUTOBAHN_TIMEOUT)
#   --python-echo         serve the Python handler examples/handlers/echo_wsh.py
#                         with the wshd binary instead of the native echo example
#   --via LAYOUT          serve examples/handlers/echo_wsh.py through LAYOUT:
#                         nginx (in front of the wshd binary) or in-apache (wshd
#                         inside Apache through mod_python; the package must be
#                         in $WSHD_APACHE_PYTHONPATH). conformance/proxies/run.sh
#                         --autobahn installs both servers and runs these.
#   --offer-deflate       offer permessage-deflate on every connection, so that
#                         groups 1-10 run with compression negotiated
#                         (wstest_offer_deflate.py)
#   --check-results NAME  also fail if the results differ from results/NAME.json
#   --write-results NAME  write the results to results/NAME.json
#
# Exit status: 0 if the gate passed; 1 if a case failed the gate, the results
# differ from the checked-in ones, the server died or panicked, or wstest did
# not finish; 2 for a usage error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
AUTOBAHN_HOME="${AUTOBAHN_HOME:-$HOME/.cache/wshd-autobahn}"
export AUTOBAHN_HOME

CASES="1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*"
EXCLUDE=""
SERVER_CMD="${WSHD_AUTOBAHN_SERVER:-}"
URL=""
OUT="$ROOT/target/autobahn"
TIMEOUT="${AUTOBAHN_TIMEOUT:-1200}"
START_TIMEOUT="${WSHD_AUTOBAHN_START_TIMEOUT:-30}"
SUMMARY_ARGS=()
OFFER_DEFLATE=0
PYTHON_ECHO=0
VIA=""
VIA_DIR=""
URL_PATH="/"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  exit "${1:-0}"
}
say() { echo "autobahn: $*"; }
die() {
  echo "autobahn: error: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
  --cases | --exclude | --server-cmd | --url | --out | --timeout | --check-results | --write-results | --via)
    [ $# -ge 2 ] || {
      echo "run.sh: $1 needs a value" >&2
      usage 2
    }
    case "$1" in
    --cases) CASES="$2" ;;
    --exclude) EXCLUDE="$2" ;;
    --server-cmd) SERVER_CMD="$2" ;;
    --url) URL="$2" ;;
    --out) OUT="$2" ;;
    --timeout) TIMEOUT="$2" ;;
    --via) VIA="$2" ;;
    --check-results | --write-results) SUMMARY_ARGS+=("$1" "$2") ;;
    esac
    shift 2
    ;;
  --offer-deflate)
    OFFER_DEFLATE=1
    shift
    ;;
  --python-echo)
    PYTHON_ECHO=1
    shift
    ;;
  -h | --help) usage 0 ;;
  *)
    echo "run.sh: unknown argument: $1" >&2
    usage 2
    ;;
  esac
done

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
rm -rf "$OUT/reports"
rm -f "$OUT/spec.json" "$OUT/wstest.log" "$OUT/server.stdout" "$OUT/server.stderr"

"$HERE/install.sh" >"$OUT/install.log" 2>&1 || {
  cat "$OUT/install.log" >&2
  die "could not install wstest"
}
WSTEST=("$AUTOBAHN_HOME/bin/wstest")
if [ "$OFFER_DEFLATE" = 1 ]; then
  # The same interpreter and path as the installed wstest, through the wrapper.
  WSTEST=(env -u PYTHONHOME "PYTHONPATH=$AUTOBAHN_HOME/site" PYTHONWARNINGS=ignore PYTHONDONTWRITEBYTECODE=1
    "$(sed -n "s/^ *exec '\([^']*\)'.*/\1/p" "$AUTOBAHN_HOME/bin/wstest")" "$HERE/wstest_offer_deflate.py")
fi

# --- the server under test -------------------------------------------------
SERVER_PID=""

server_alive() {
  local stat
  [ -n "$SERVER_PID" ] || return 1
  stat="$(cat "/proc/$SERVER_PID/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  case "${stat%% *}" in
  Z | X) return 1 ;;
  esac
}

# The server runs in its own session (setsid), so that a wrapper such as
# 'cargo run' is stopped together with what it started.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do
    server_alive || break
    sleep 0.1
  done
  if server_alive; then
    say "server did not stop on SIGTERM within 5 s; killing it"
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
finish() {
  stop_server
  if [ -n "$VIA_DIR" ]; then
    cp "$VIA_DIR/front/error.log" "$OUT/front-error.log" 2>/dev/null || true
    rm -rf "$VIA_DIR"
  fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_server_logs() {
  local f
  for f in server.stdout server.stderr; do
    if [ -s "$OUT/$f" ]; then
      echo "---- last lines of $OUT/$f ----"
      tail -n 20 "$OUT/$f"
    fi
  done
}

target_dir() {
  (cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
}

# nginx or Apache from a generated configuration (wshd-testkit's wshd-deploy), in a
# directory Apache's worker user can read; its error log is kept in $OUT.
if [ -n "$VIA" ]; then
  case "$VIA" in
  nginx | in-apache) ;;
  *)
    echo "run.sh: --via $VIA: nginx or in-apache" >&2
    usage 2
    ;;
  esac
  [ -z "$URL" ] && [ -z "$SERVER_CMD" ] || die "--via starts its own server: no --url or --server-cmd"
  say "building wshd-deploy and wshd"
  (cd "$ROOT" && cargo build -q -p wshd-testkit --bin wshd-deploy && cargo build -q --release -p wshd) ||
    die "could not build wshd-deploy and wshd"
  TARGET_DIR="$(target_dir)"
  VIA_DIR="$(mktemp -d /tmp/wshd-autobahn-via.XXXXXX)"
  mkdir "$VIA_DIR/handlers"
  cp "$ROOT/examples/handlers/echo_wsh.py" "$VIA_DIR/handlers/"
  chmod -R a+rX "$VIA_DIR"
  SERVER_CMD="'$TARGET_DIR/debug/wshd-deploy' $VIA --dir '$VIA_DIR/front'"
  if [ "$VIA" = in-apache ]; then
    [ -n "${WSHD_APACHE_PYTHONPATH:-}" ] ||
      die "--via in-apache needs WSHD_APACHE_PYTHONPATH: a directory holding wshd's package (conformance/proxies/run.sh makes one)"
    SERVER_CMD+=" --handlers '$VIA_DIR/handlers' --python-path '$WSHD_APACHE_PYTHONPATH'"
  else
    SERVER_CMD+=" -- '$TARGET_DIR/release/wshd' -H 127.0.0.1 -p 0 -w '$VIA_DIR/handlers'"
  fi
  URL_PATH="/echo"
fi

if [ -z "$URL" ] && [ -z "$SERVER_CMD" ] && [ "$PYTHON_ECHO" = 1 ]; then
  say "building wshd (cargo build --release -p wshd)"
  (cd "$ROOT" && cargo build --release -p wshd) || die "could not build wshd"
  TARGET_DIR="$(target_dir)"
  # handler_map.txt aliases / to /echo, the path wstest connects to.
  SERVER_CMD="'$TARGET_DIR/release/wshd' -H 127.0.0.1 -p 0 -w examples/handlers -m examples/handlers/handler_map.txt"
fi

if [ -z "$URL" ]; then
  if [ -z "$SERVER_CMD" ]; then
    say "building the echo example (cargo build --release -p wshd-server --example echo)"
    (cd "$ROOT" && cargo build --release -p wshd-server --example echo) ||
      die "could not build the echo example"
    TARGET_DIR="$(target_dir)"
    ECHO_BIN="$TARGET_DIR/release/examples/echo"
    [ -x "$ECHO_BIN" ] || die "built, but $ECHO_BIN is missing"
    SERVER_CMD="'$ECHO_BIN' --host 127.0.0.1 --port 0"
  fi
  say "starting server: $SERVER_CMD"
  (cd "$ROOT" && exec setsid bash -c "exec $SERVER_CMD") \
    >"$OUT/server.stdout" 2>"$OUT/server.stderr" </dev/null &
  SERVER_PID=$!

  ADDR=""
  for _ in $(seq $((START_TIMEOUT * 10))); do
    ADDR="$(sed -n 's/^listening on \([^ ]*\).*$/\1/p' "$OUT/server.stdout" | head -n 1)"
    [ -n "$ADDR" ] && break
    if ! server_alive; then
      show_server_logs
      die "server exited before it printed 'listening on HOST:PORT'"
    fi
    sleep 0.1
  done
  if [ -z "$ADDR" ]; then
    show_server_logs
    die "server did not print 'listening on HOST:PORT' within ${START_TIMEOUT} s"
  fi
  URL="ws://$ADDR$URL_PATH"
  say "server pid $SERVER_PID is listening on $ADDR"
fi

# --- wstest ----------------------------------------------------------------
python3 - "$OUT" "$URL" "$CASES" "$EXCLUDE" <<'PY'
import json, sys

out, url, cases, exclude = sys.argv[1:]
split = lambda s: [c.strip() for c in s.split(",") if c.strip()]
spec = {
    "options": {"failByDrop": False},
    "outdir": out + "/reports",
    "servers": [{"agent": "wshd", "url": url}],
    "cases": split(cases),
    "exclude-cases": split(exclude),
    "exclude-agent-cases": {},
}
with open(out + "/spec.json", "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
PY

say "running wstest -m fuzzingclient against $URL, cases $CASES${EXCLUDE:+ except $EXCLUDE} (log: $OUT/wstest.log)"
START=$SECONDS
WSTEST_RC=0
(cd "$OUT" && timeout --kill-after=10 "$TIMEOUT" "${WSTEST[@]}" -m fuzzingclient -s spec.json) \
  >"$OUT/wstest.log" 2>&1 || WSTEST_RC=$?
say "wstest finished in $((SECONDS - START)) s (exit status $WSTEST_RC)"

FAILED=0
if [ "$WSTEST_RC" = 124 ] || [ "$WSTEST_RC" = 137 ]; then
  say "FAILED: wstest did not finish within ${TIMEOUT} s"
  FAILED=1
elif [ "$WSTEST_RC" != 0 ]; then
  say "FAILED: wstest exited with status $WSTEST_RC"
  FAILED=1
fi
if [ "$FAILED" = 1 ]; then
  echo "---- last lines of $OUT/wstest.log ----"
  tail -n 20 "$OUT/wstest.log"
fi

# The server must have survived the whole run, without a panic.
if [ -n "$SERVER_PID" ]; then
  if ! server_alive; then
    SERVER_RC=0
    wait "$SERVER_PID" 2>/dev/null || SERVER_RC=$?
    SERVER_PID=""
    say "FAILED: the server died during the run (exit status $SERVER_RC)"
    show_server_logs
    FAILED=1
  else
    stop_server
  fi
  if grep -q "panicked at" "$OUT/server.stderr"; then
    say "FAILED: the server panicked during the run:"
    grep -A 3 "panicked at" "$OUT/server.stderr" | head -n 20
    FAILED=1
  fi
fi

# wstest gives up (and still exits 0) once it cannot connect: pass on how
# many cases it meant to run, so that a short report fails.
PLANNED="$(sed -n 's/^Ok, will run \([0-9][0-9]*\) test cases.*/\1/p' "$OUT/wstest.log" | head -n 1)"
[ -z "$PLANNED" ] || SUMMARY_ARGS+=(--expect-cases "$PLANNED")

if [ -f "$OUT/reports/index.json" ]; then
  say "reports: $OUT/reports/index.html"
  python3 "$HERE/summarize.py" "$OUT/reports/index.json" ${SUMMARY_ARGS[@]+"${SUMMARY_ARGS[@]}"} ||
    FAILED=1
else
  say "FAILED: wstest wrote no $OUT/reports/index.json"
  FAILED=1
fi
exit "$FAILED"
