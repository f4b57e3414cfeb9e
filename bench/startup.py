#!/usr/bin/env python3
"""Start-up time: from process start to the first 101 on a tree of 30 handler files.

    bench/startup.py                 # 10 rounds each; prints a table, writes target/bench/startup.json
    bench/startup.py --rounds 20 --files 30

bench/run.py runs the same measurement as its `startup` case (in BENCHMARKS.md).

Servers, each started by Popen and measured until a WebSocket handshake to /echo0 gets its
101 (the client retries the connection every 2 ms until the server listens):

* ``wshd-python``: the binary (target/release/wshd), its embedded CPython;
* ``wshd-wheel``: ``python -m pywebsocket3.standalone`` from ``pip install .`` in a venv
  (bench/run.py's cache, WSHD_BENCH_CACHE; built here unless --no-build);
* ``pywebsocket3``: pywebsocket3 4.0.2's ``python -m pywebsocket3.standalone`` (the same
  cache's venv, from PyPI).

The tree: 30 copies of examples/handlers/echo_wsh.py as echo0_wsh.py ... echo29_wsh.py, each
importing what WPT handlers commonly import (json, threading, urllib.parse). Rounds alternate
the servers. Python's bytecode cache is on (a harness's normal state); the first round of
each server warms it, and every round is reported.
"""

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: paths, venvs, builds)

HANDLER = '''import json
import threading
import urllib.parse


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        request.ws_stream.send_message(message, binary=not isinstance(message, str))
'''


def make_tree(directory, files):
    for i in range(files):
        (Path(directory) / f"echo{i}_wsh.py").write_text(HANDLER)


def commands(tree, port):
    py = bench.VENV / "bin" / "python"
    wheel = bench.WHEEL_VENV / "bin" / "python"
    common = ["-H", "127.0.0.1", "-p", str(port), "-w", str(tree)]
    return {
        "wshd-python": [str(bench.ROOT / "target" / "release" / "wshd")] + common,
        "wshd-wheel": [str(wheel), "-m", "pywebsocket3.standalone"] + common,
        "pywebsocket3": [str(py), "-m", "pywebsocket3.standalone"] + common,
    }


def first_101(port, deadline):
    """Seconds until a handshake to /echo0 on `port` is answered with 101."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = ("GET /echo0 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(request)
                head = s.recv(4096)
                if head.startswith(b"HTTP/1.1 101 "):
                    return
                raise RuntimeError("answered %r" % head[:60])
        except (ConnectionRefusedError, ConnectionResetError):
            time.sleep(0.002)
    raise RuntimeError("no 101 before the deadline")


def measure(name, tree, cpu=None):
    """(seconds to the first 101, the command) for one start of `name`; pinned to `cpu`
    with taskset when given."""
    port = bench.free_port()
    cmd = commands(tree, port)[name]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    try:
        first_101(port, started + 30)
        return time.monotonic() - started, cmd
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--files", type=int, default=30, help="handler files in the tree")
    p.add_argument("--servers", default="wshd-python,wshd-wheel,pywebsocket3")
    p.add_argument("--no-build", action="store_true", help="use what is built and installed")
    p.add_argument("--json", type=Path, default=bench.ROOT / "target" / "bench" / "startup.json")
    args = p.parse_args()
    names = args.servers.split(",")
    if not args.no_build:
        bench.sh(["cargo", "build", "--release", "-p", "wshd"], cwd=bench.ROOT)
        if "wshd-wheel" in names:
            bench.install_wheel()
    if "pywebsocket3" in names:
        bench.ensure_venv()
    times = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="wshd-startup-") as tree:
        make_tree(tree, args.files)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                times[name].append(measure(name, tree)[0])
            print("round %d: %s" % (r, ", ".join("%s %.0f ms" % (n, times[n][-1] * 1000)
                                                  for n in names)), flush=True)
    ref = statistics.median(times["pywebsocket3"]) if "pywebsocket3" in times else None
    lines = ["| server | median | min | max | pywebsocket3 / this (median) |",
             "|---|---|---|---|---|"]
    for n in names:
        med = statistics.median(times[n])
        ratio = "%.1f×" % (ref / med) if ref else "-"
        lines.append("| %s | %.0f ms | %.0f ms | %.0f ms | %s |" % (
            n, med * 1000, min(times[n]) * 1000, max(times[n]) * 1000, ratio))
    print("\n".join(lines))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"files": args.files, "rounds": args.rounds,
                                     "seconds": times}, indent=1) + "\n")


if __name__ == "__main__":
    main()
