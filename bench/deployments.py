#!/usr/bin/env python3
"""What each way of deploying wshd costs: messages per server CPU-second of the Python echo
handler (examples/handlers/echo_wsh.py, 100 connections x 20 B, depth 1) through each path,
beside wshd standalone; writes bench/deployments.md.

Paths: wshd alone; nginx in front of wshd; Apache's mod_proxy_wstunnel and mod_proxy_http
(upgrade=websocket) in front of wshd; wshd inside Apache through mod_python. nginx and
Apache run from generated configurations (wshd-testkit's `wshd-deploy`); they must be
installed (conformance/proxies/run.sh installs Debian's packages).

The server side of a path is every process of its session (wshd-deploy starts wshd and the
proxy under one `setsid`), pinned to one CPU; `wshd-load --server-session` sums their CPU.
Each round runs every path back to back in a rotated order; the report gives medians and
the median of the per-round ratios to wshd alone (bench/README.md explains why). This is a
manual tool, not a test: nothing here passes or fails on a figure.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
DEPLOY = ROOT / "target" / "debug" / "wshd-deploy"
WHEELS = ROOT / "target" / "python-wheel"

PATHS = {
    "standalone": "wshd alone",
    "nginx": "nginx → wshd",
    "apache-wstunnel": "Apache mod_proxy_wstunnel → wshd",
    "apache-http": "Apache mod_proxy_http upgrade=websocket → wshd",
    "in-apache": "wshd inside Apache (mod_python, event MPM)",
}


def sh(cmd, **kw):
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def prepare(tmp):
    """Builds the binaries, and installs wshd's wheel where Apache's worker can read it."""
    sh(["cargo", "build", "--release", "-p", "wshd", "-p", "wshd-loadgen"], cwd=ROOT)
    sh(["cargo", "build", "-p", "wshd-testkit", "--bin", "wshd-deploy"], cwd=ROOT)
    sh([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", ".", "-w", WHEELS],
       cwd=ROOT)
    wheel = max(WHEELS.glob("wshd-*.whl"), key=lambda p: p.stat().st_mtime)
    lib = Path(tmp) / "python"
    sh([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", lib, wheel])
    handlers = Path(tmp) / "handlers"
    handlers.mkdir()
    shutil.copy(ROOT / "examples" / "handlers" / "echo_wsh.py", handlers)
    for d, _, files in os.walk(tmp):
        for name in [d] + [os.path.join(d, f) for f in files]:
            os.chmod(name, os.stat(name).st_mode | 0o055)
    return handlers, lib


def command(path, handlers, lib, front_dir):
    wshd = [RELEASE / "wshd", "-H", "127.0.0.1", "-p", "0", "-w", handlers]
    if path == "standalone":
        return wshd
    if path == "in-apache":
        return [DEPLOY, path, "--dir", front_dir, "--handlers", handlers, "--python-path", lib]
    return [DEPLOY, path, "--dir", front_dir, "--"] + wshd


def run_one(path, args, handlers, lib, tmp):
    """Starts `path` in a session of its own on the server CPU, loads it, stops it."""
    front_dir = Path(tmp) / f"front-{path}"
    shutil.rmtree(front_dir, ignore_errors=True)
    log = Path(tmp) / f"{path}.log"
    cmd = ["taskset", "-c", str(args.server_cpu)] + command(path, handlers, lib, front_dir)
    with open(log, "w") as out:
        server = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=out,
                                  stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"{path} did not start ({line!r}); see {log}")
        url = f"ws://{line.split()[-1]}/echo"
        result = Path(tmp) / "result.json"
        result.unlink(missing_ok=True)
        load = ["taskset", "-c", str(args.client_cpu), RELEASE / "wshd-load", "echo",
                "--url", url, "-c", "100", "-b", "20", "-d", "1",
                "--warmup-secs", str(args.warmup), "-t", str(args.window),
                "--server-pid", str(server.pid), "--server-session", "--json", result]
        done = subprocess.run([str(c) for c in load], capture_output=True, text=True,
                              timeout=300)
        if done.returncode != 0 or not result.exists():
            errors = front_dir / "error.log"
            said = errors.read_text(errors="replace")[-3000:] if errors.exists() else ""
            raise RuntimeError(f"wshd-load failed on {path}: {done.stderr.strip()}\n{said}")
        print(f"  {path:16} {done.stdout.strip().splitlines()[-1]}", flush=True)
        return json.loads(result.read_text())
    finally:
        # The whole session: wshd-deploy, wshd, and the proxy's master and workers.
        try:
            os.killpg(server.pid, 15)
        except ProcessLookupError:
            pass
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        time.sleep(0.5)  # the workers' exit


def report(args, results, started):
    base = "standalone"
    rows = []
    for path, runs in results.items():
        rates = [r["msgs_per_server_cpu_sec"] for r in runs]
        wall = [r["msgs_per_sec"] for r in runs]
        ratios = [r["msgs_per_server_cpu_sec"] / b["msgs_per_server_cpu_sec"]
                  for r, b in zip(runs, results[base])] if base in results else []
        rss = [r["server_rss_end"] / 1048576 for r in runs]
        bound = sum(1 for r in runs if r.get("client_bound"))
        rows.append(
            f"| {PATHS[path]} | {statistics.median(rates):,.0f} | "
            f"{statistics.median(wall):,.0f} | "
            + (f"{statistics.median(ratios):.2f}×" if ratios else "–")
            + f" | {statistics.median(rss):.0f} | {bound}/{len(runs)} |")
    day = time.strftime('%Y-%m-%d', time.gmtime(started))
    text = f"""# What each deployment costs

Written by `bench/deployments.py` on {day} at commit `{args.commit}`: {args.repeat} rounds of
{args.window:g} s windows after {args.warmup:g} s of warm-up, 1-minute load average
{args.loadavg:.2f} before the first. The Python echo handler `examples/handlers/echo_wsh.py`,
100 connections × 20 B binary, depth 1. Server CPU and RSS are those of every process on
the path (wshd, and nginx's or Apache's master and workers), pinned to CPU
{args.server_cpu}; the load generator runs on CPU {args.client_cpu}.

| Path | msgs per server CPU-s (median) | msgs/s (median) | ratio to wshd alone (median of rounds) | server RSS, MiB (median) | client-bound runs |
|---|---|---|---|---|---|
""" + "\n".join(rows) + """

- **Through a proxy**, every message crosses one more process twice (client to proxy to
  wshd, and back), so the proxy's CPU is added to wshd's.
- **Inside Apache**, there is no second hop, but each connection holds one of Apache's
  worker threads for its life, and the Python handler runs in Apache's interpreter.
- During a run the load average climbs far above 2: it counts runnable threads, and
  wshd's Python handlers and Apache both run a thread per connection on one CPU.
- Re-run with `bench/deployments.py` (needs nginx, apache2 and libapache2-mod-python:
  `conformance/proxies/run.sh` installs them).
"""
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", help="comma-separated subset of: " + ", ".join(PATHS))
    p.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--window", type=float, default=5.0, help="measured seconds (default 5)")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds (default 1)")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "deployments.md")
    args = p.parse_args()
    paths = args.paths.split(",") if args.paths else list(PATHS)
    for path in paths:
        if path not in PATHS:
            p.error(f"unknown path {path!r}; choose from {', '.join(PATHS)}")
    os.environ["PATH"] += os.pathsep + "/usr/sbin"
    for program in ["taskset", "nginx", "apache2"]:
        if not shutil.which(program):
            sys.exit(f"{program} is needed (conformance/proxies/run.sh installs nginx and "
                     "apache2)")
    args.commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                 capture_output=True, text=True).stdout.strip()
    started = time.time()
    args.loadavg = os.getloadavg()[0]
    results = {path: [] for path in paths}
    with tempfile.TemporaryDirectory(prefix="wshd-deployments-") as tmp:
        os.chmod(tmp, 0o755)
        handlers, lib = prepare(tmp)
        for r in range(args.repeat):
            print(f"== round {r + 1} of {args.repeat}", flush=True)
            order = paths[r % len(paths):] + paths[:r % len(paths)]
            for path in order:
                results[path].append(run_one(path, args, handlers, lib, tmp))
    report(args, results, started)


if __name__ == "__main__":
    main()
