#!/usr/bin/env python3
"""Side-by-side benchmark of wshd against peer WebSocket servers; writes BENCHMARKS.md.

Builds everything in release, installs the Python peers into a cache venv, then for every
case and every repetition starts each server in turn pinned to one core (taskset) and runs
the load generator `wshd-load` pinned to the other. Servers are ranked by messages per
server CPU-second and by ratios taken within one round (all servers back to back), since
wall-clock rates on a shared 2-core VM drift. See bench/README.md for the method.

This is a manual tool, not a test: nothing here passes or fails on a figure.
Python 3 standard library only; the report and chart are written by bench/report.py.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402  (bench/report.py)

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
CACHE = Path(os.environ.get("WSHD_BENCH_CACHE", Path.home() / ".cache" / "wshd-bench"))
VENV = CACHE / "venv"
# wshd installed with `pip install .` (the wheel), in a venv of this interpreter: the
# wshd-wheel server runs echo_wsh.py inside that Python, as harnesses do.
WHEEL_VENV = CACHE / "wheel-venv"
# Exact versions, so that runs on different days compare like with like.
PY_PACKAGES = ["pywebsocket3==4.0.2", "six==1.17.0", "websockets==17.4"]
LOADGEN = ROOT / "target" / "release" / "wshd-load"
# A handler tree holding only examples/handlers/echo_wsh.py, served by both wshd and
# pywebsocket3 (the other example handlers import wshd's mod_pywebsocket shim).
HANDLERS = ROOT / "target" / "bench" / "handlers"


def server_table():
    """name -> (label, command builder taking a port, resource path, prints its address)."""
    py = str(VENV / "bin" / "python")
    handlers = str(HANDLERS)
    rel = ROOT / "target" / "release"
    peers = PEERS / "target" / "release"
    return {
        "wshd": ("wshd, native echo (examples/echo)",
                 lambda p: [rel / "examples" / "echo", "-H", "127.0.0.1", "--port", "0",
                            "--threads", "1"], "/", True),
        "wshd-python": ("wshd + echo_wsh.py (examples/handlers)",
                        lambda p: [rel / "wshd", "-H", "127.0.0.1", "-p", "0", "-w", handlers],
                        "/echo", True),
        "wshd-wheel": ("wshd wheel in CPython + echo_wsh.py (python -m pywebsocket3.standalone)",
                       lambda p: [WHEEL_VENV / "bin" / "python", "-m", "pywebsocket3.standalone",
                                  "-H", "127.0.0.1", "-p", "0", "-w", handlers],
                       "/echo", True),
        "tokio-tungstenite": ("tokio-tungstenite (bench/peers)",
                              lambda p: [peers / "tungstenite-echo", "--port", "0",
                                         "--threads", "1"], "/", True),
        "fastwebsockets": ("fastwebsockets (bench/peers)",
                           lambda p: [peers / "fastwebsockets-echo", "--port", "0",
                                      "--threads", "1"], "/", True),
        "pywebsocket3": ("pywebsocket3 4.0.2 standalone + echo_wsh.py",
                         lambda p: [py, "-m", "pywebsocket3.standalone", "-H", "127.0.0.1",
                                    "-p", str(p), "-w", handlers, "--log-level", "warning"],
                         "/echo", False),
        "websockets": ("Python websockets 17.4 (bench/peers/python)",
                       lambda p: [py, PEERS / "python" / "websockets_echo.py", "--port", "0"],
                       "/", True),
    }


PYTHON_SERVERS = {"wshd-python", "wshd-wheel", "pywebsocket3", "websockets"}
THREAD_PER_CONN = {"wshd-python", "wshd-wheel", "pywebsocket3"}


def cases(args):
    """name -> (title, wshd-load mode, its arguments for a given server, metric keys)."""
    w = ["--warmup-secs", str(args.warmup), "-t", str(args.window)]
    # Both Python handler servers run an OS thread per connection: same N for both.
    idle_n = lambda s: str(args.idle_conns_python if s in THREAD_PER_CONN else args.idle_conns)
    return {
        "small": ("100 connections × 20 B, depth 1", "echo",
                  lambda s: ["-c", "100", "-b", "20", "-d", "1"] + w),
        "pipelined": ("100 connections × 20 B, depth 16 (16 frames per write)", "echo",
                      lambda s: ["-c", "100", "-b", "20", "-d", "16"] + w),
        "large": ("10 connections × 64 KiB, depth 1", "echo",
                  lambda s: ["-c", "10", "-b", "65536", "-d", "1"] + w),
        "idle": ("idle connections: memory per connection", "idle",
                 lambda s: ["-c", idle_n(s)]),
        "handshakes": ("handshakes (connect, upgrade, close)", "handshakes",
                       lambda s: ["--concurrency", "32"] + w),
        # The servers of STARTUP_SERVERS only (bench/startup.py has the method).
        "startup": (f"start-up: process start to the first 101, {args.startup_files} handler "
                    "files", "startup", lambda s: []),
        # Not run unless asked for (--cases latency): open loop at a fixed offered rate.
        "latency": (f"open loop: 100 connections × 20 B at {args.rate:g} msgs/s", "rate",
                    lambda s: ["-c", "100", "-b", "20", "-r", str(args.rate)] + w),
    }


DEFAULT_CASES = ["small", "pipelined", "large", "idle", "handshakes", "startup"]
# The servers whose start-up is measured: those that load a handler tree.
STARTUP_SERVERS = {"wshd-python", "wshd-wheel", "pywebsocket3"}


def sh(cmd, **kw):
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def build():
    sh(["cargo", "build", "--release", "-p", "wshd", "-p", "wshd-loadgen"], cwd=ROOT)
    sh(["cargo", "build", "--release", "-p", "wshd-server", "--example", "echo"], cwd=ROOT)
    sh(["cargo", "build", "--release", "--manifest-path", PEERS / "Cargo.toml"], cwd=ROOT)


def install_wheel():
    """`pip install .` of this checkout into WHEEL_VENV (maturin builds the extension)."""
    if not (WHEEL_VENV / "bin" / "python").exists():
        sh([sys.executable, "-m", "venv", WHEEL_VENV])
    sh([WHEEL_VENV / "bin" / "pip", "install", "--disable-pip-version-check", "-q",
        "--force-reinstall", "--no-deps", ROOT])


def ensure_venv():
    """Creates or updates the cache venv with PY_PACKAGES (pip from PyPI)."""
    stamp = VENV / "wshd-bench-packages.txt"
    want = "\n".join(PY_PACKAGES) + "\n"
    if stamp.exists() and stamp.read_text() == want:
        return
    if not (VENV / "bin" / "python").exists():
        sh([sys.executable, "-m", "venv", VENV])
    sh([VENV / "bin" / "pip", "install", "--disable-pip-version-check", "-q"] + PY_PACKAGES)
    stamp.write_text(want)


def prepare_handlers():
    HANDLERS.mkdir(parents=True, exist_ok=True)
    src = ROOT / "examples" / "handlers" / "echo_wsh.py"
    (HANDLERS / "echo_wsh.py").write_bytes(src.read_bytes())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A server started pinned to `cpu`; knows its pid and ws:// URL."""

    def __init__(self, name, cpu, logdir):
        label, build_cmd, path, prints = server_table()[name]
        port = 0 if prints else free_port()
        self.cmd = ["taskset", "-c", str(cpu)] + [str(c) for c in build_cmd(port)]
        # As reported: the free port picked for servers that cannot take port 0 is PORT.
        self.shown = " ".join("PORT" if port and c == str(port) else c for c in self.cmd)
        self.log = Path(logdir) / f"{name}.log"
        out = open(self.log, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=ROOT)
        out.close()
        deadline = time.time() + 30
        addr = None
        while addr is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}; see {self.log}")
            if time.time() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start within 30 s; see {self.log}")
            if prints:
                for line in self.log.read_text(errors="replace").splitlines():
                    if line.startswith("listening on "):
                        addr = line.split()[-1]
            else:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    addr = f"127.0.0.1:{port}"
                except OSError:
                    pass
            time.sleep(0.05)
        self.pid = self.proc.pid
        self.url = f"ws://{addr}{path}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def loadavg():
    return float(Path("/proc/loadavg").read_text().split()[0])


def run_startup(name, args, tmp):
    """One start-up measurement of `name` (bench/startup.py) on its tree in `tmp`."""
    import startup
    tree = Path(tmp) / "startup-tree"
    if not tree.exists():
        tree.mkdir()
        startup.make_tree(tree, args.startup_files)
    load = loadavg()
    seconds, cmd = startup.measure(name, tree, cpu=args.server_cpu)
    print(f"  {name:18} {seconds * 1000:.0f} ms to the first 101", flush=True)
    return {"startup_ms": seconds * 1000, "loadavg": load, "exit_code": 0,
            "server_command": " ".join(str(c) for c in cmd).replace(str(tree), "TREE")}


def run_one(case, name, args, tmp):
    """Starts `name`, runs `case` once against it, stops it; returns the JSON result."""
    title, mode, case_args = cases(args)[case]
    if mode == "startup":
        return run_startup(name, args, tmp)
    server = Running(name, args.server_cpu, tmp)
    out = Path(tmp) / "result.json"
    if out.exists():
        out.unlink()
    cmd = ["taskset", "-c", str(args.client_cpu), LOADGEN, mode, "--url", server.url,
           "--server-pid", str(server.pid), "--json", out] + case_args(name)
    load = loadavg()
    try:
        done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                              timeout=600)
    finally:
        server.stop()
    line = (done.stdout.strip().splitlines() or [""])[-1]
    print(f"  {name:18} {line}", flush=True)
    if done.returncode != 0:
        print("    " + done.stderr.strip().replace("\n", "\n    "), flush=True)
    result = json.loads(out.read_text()) if out.exists() else {"failed": done.stderr.strip()}
    result["exit_code"] = done.returncode
    result["loadavg"] = load
    result["server_command"] = server.shown
    generic = ["ws://127.0.0.1:PORT/" + server.url.split("/", 3)[3] if c == server.url
               else "PID" if c == str(server.pid) else "OUT.json" if c == out
               else str(c) for c in cmd]
    result["client_command"] = " ".join(generic)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 repetition, short windows, few idle connections "
                        "(about a minute once built); writes to target/bench/ by default")
    p.add_argument("--repeat", type=int, help="repetitions per case (default 3, --quick 1)")
    p.add_argument("--cases", help="comma-separated cases (default: " + ",".join(DEFAULT_CASES)
                   + "; also: latency, the open loop at --rate)")
    p.add_argument("--rate", type=float, default=20000,
                   help="offered msgs/s of the latency case (default 20000)")
    p.add_argument("--servers", help="comma-separated subset of: " + ", ".join(server_table()))
    p.add_argument("--window", type=float, help="measured seconds per run (default 5)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per run (default 1)")
    p.add_argument("--idle-conns", type=int, help="idle case connections (default 15000)")
    p.add_argument("--idle-conns-python", type=int,
                   help="idle case connections for wshd-python and pywebsocket3, which run an "
                        "OS thread per connection (pywebsocket3 opens ~200/s; wshd-python "
                        "could not hold 15,000 on a 2-vCPU VM) (default 2000)")
    p.add_argument("--startup-files", type=int, default=30,
                   help="handler files in the start-up case's tree (default 30)")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--no-build", action="store_true", help="use the binaries as built")
    p.add_argument("--out", type=Path, help="report (default BENCHMARKS.md; --quick: "
                                            "target/bench/BENCHMARKS.md)")
    p.add_argument("--chart", type=Path, help="SVG chart (default bench/msgs-per-cpu.svg; "
                                              "--quick: next to --out)")
    args = p.parse_args()
    q = args.quick
    args.repeat = args.repeat or (1 if q else 3)
    args.window = args.window or (1.0 if q else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if q else 1.0)
    args.idle_conns = args.idle_conns or (500 if q else 15000)
    args.idle_conns_python = args.idle_conns_python or (200 if q else 2000)
    out_dir = ROOT / "target" / "bench"
    args.out = args.out or (out_dir / "BENCHMARKS.md" if q else ROOT / "BENCHMARKS.md")
    args.chart = args.chart or (args.out.parent / "msgs-per-cpu.svg" if q
                                else ROOT / "bench" / "msgs-per-cpu.svg")
    all_cases = list(cases(args))
    chosen_cases = args.cases.split(",") if args.cases else DEFAULT_CASES
    chosen_servers = args.servers.split(",") if args.servers else list(server_table())
    for c in chosen_cases:
        if c not in all_cases:
            p.error(f"unknown case {c!r}; choose from {', '.join(all_cases)}")
    for s in chosen_servers:
        if s not in server_table():
            p.error(f"unknown server {s!r}; choose from {', '.join(server_table())}")

    if not shutil.which("taskset"):
        sys.exit("taskset (util-linux) is needed to pin the server and the generator")
    cpus = os.sched_getaffinity(0)
    if args.server_cpu == args.client_cpu or not {args.server_cpu, args.client_cpu} <= cpus:
        sys.exit(f"--server-cpu and --client-cpu must be two different CPUs of {sorted(cpus)}")
    started = time.time()
    if not args.no_build:
        build()
        if "wshd-wheel" in chosen_servers:
            install_wheel()
    if {"pywebsocket3", "websockets"} & set(chosen_servers):
        ensure_venv()
    prepare_handlers()
    missing = [str(b) for b in [LOADGEN] if not b.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run without --no-build")

    # results[case][server] = list of per-round results (None for a failed start)
    results = {c: {s: [] for s in chosen_servers} for c in chosen_cases}
    with tempfile.TemporaryDirectory(prefix="wshd-bench-") as tmp:
        for case in chosen_cases:
            print(f"== {case}: {cases(args)[case][0]}", flush=True)
            for r in range(args.repeat):
                # Rotate the order each round so that drift does not favour one server.
                order = chosen_servers[r % len(chosen_servers):] + \
                    chosen_servers[:r % len(chosen_servers)]
                for name in order:
                    if case == "startup" and name not in STARTUP_SERVERS:
                        continue
                    try:
                        res = run_one(case, name, args, tmp)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        print(f"  {name:18} FAILED: {e}", flush=True)
                        res = {"failed": str(e), "exit_code": -1, "loadavg": loadavg()}
                    res["round"] = r
                    results[case][name].append(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    raw = args.out.with_suffix(".json")
    raw.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                               "results": results}, indent=1) + "\n")
    report.write(args, results, server_table(), cases(args), ROOT, started)
    print(f"wrote {args.out}, {args.chart} and {raw} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
