#!/usr/bin/env python3
"""Python connections at the descriptor limit, and recovery when thousands leave at once.

    bench/python_capacity.py                          # wshd-python and pywebsocket3
    bench/python_capacity.py --servers wshd-python --hold 19900 --drop 5000

Both cases serve examples/handlers/echo_wsh.py, one thread per connection, under this
machine's 20,000-descriptor limit per process:

* ``hold``: ``wshd-load idle`` opens N connections (default 19,900), echoes once on each
  and closes them all with 1000. Reported: connections opened, echoes answered, clean
  closes, the server's descriptors and threads with every connection open, and how long
  after the last close its descriptors are back to the idle count (without any Python
  garbage collection being asked for).
* ``drop``: a client process opens D connections (default 5,000) and is then killed, so
  every one of them ends at once; a fresh client then times handshake, echo and close,
  retrying until it succeeds. Reported: the fresh client's time from the kill, and when
  the server's descriptors are back to idle.

Servers are bench/run.py's (``wshd-python``: target/release/wshd; ``pywebsocket3``:
pywebsocket3 4.0.2 from the bench cache venv). Results go to target/bench/capacity.json.
"""

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: paths, venvs, builds, servers)


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def settle(pid, idle, limit):
    """Seconds until `pid` holds at most `idle` descriptors, or None after `limit` s."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if descriptors(pid) <= idle:
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def echo_once(host, port, path, timeout):
    """Handshake, one 5-byte echo and a clean close on a new connection; raises on failure."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.split(b"\r\n")[0].decode())
        mask = os.urandom(4)
        payload = b"hello"
        s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask
                  + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while len(rest) < 2 + len(payload):
            rest += s.recv(4096)
        if rest[:2 + len(payload)] != bytes([0x81, len(payload)]) + payload:
            raise ConnectionError(f"unexpected echo {rest[:16]!r}")
        s.sendall(bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i] for i, b in enumerate(b"\x03\xe8")))


def hold(server, n, out):
    idle = descriptors(server.pid)
    report = out / "hold.json"
    cmd = [bench.LOADGEN, "idle", "--url", server.url, "--connections", str(n),
           "--server-pid", str(server.pid), "--json", report]
    sampler = {"descriptors": 0, "threads": 0}
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, text=True)
    while proc.poll() is None:
        sampler["descriptors"] = max(sampler["descriptors"], descriptors(server.pid))
        sampler["threads"] = max(sampler["threads"], threads(server.pid))
        time.sleep(0.2)
    line = proc.stdout.read().strip().splitlines()
    back = settle(server.pid, idle, 120)
    result = json.loads(report.read_text()) if report.exists() else {}
    return {
        "connections": n,
        "loadgen": line[0] if line else "",
        "opened": result.get("connections_opened"),
        "close_secs": result.get("close_secs"),
        "echo_ok": result.get("echo_ok"),
        "clean_closes": result.get("clean_closes"),
        "peak_descriptors": sampler["descriptors"],
        "peak_threads": sampler["threads"],
        "idle_descriptors": idle,
        "back_to_idle_s": back,
    }


def drop(server, n, out):
    idle = descriptors(server.pid)
    host, port = server.url[len("ws://"):].split("/")[0].split(":")
    path = "/" + server.url[len("ws://"):].split("/", 1)[1]
    cmd = [bench.LOADGEN, "idle", "--url", server.url, "--connections", str(n),
           "--server-pid", str(server.pid), "--hold-secs", "600"]
    holder = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    start = time.monotonic()
    while descriptors(server.pid) < idle + n:
        if time.monotonic() - start > 120 or holder.poll() is not None:
            holder.kill()
            raise RuntimeError(f"only {descriptors(server.pid) - idle} of {n} connections opened")
        time.sleep(0.05)
    time.sleep(1)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    killed = time.monotonic()
    attempts, served = 0, None
    while time.monotonic() - killed < 120:
        attempts += 1
        try:
            echo_once(host, int(port), path, timeout=5)
            served = time.monotonic() - killed
            break
        except OSError:
            time.sleep(0.05)
    settled = settle(server.pid, idle, 120)
    back = None if settled is None else time.monotonic() - killed
    return {"dropped": n, "new_client_served_s": served, "attempts": attempts,
            "back_to_idle_s": back}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--servers", default="wshd-python,pywebsocket3")
    p.add_argument("--hold", type=int, default=19900)
    p.add_argument("--drop", type=int, default=5000)
    p.add_argument("--no-build", action="store_true")
    args = p.parse_args()
    if not args.no_build:
        bench.sh(["cargo", "build", "--release", "-p", "wshd", "-p", "wshd-loadgen"],
                 cwd=bench.ROOT)
    bench.ensure_venv()
    bench.prepare_handlers()
    results = {}
    out = Path(tempfile.mkdtemp(prefix="wshd-capacity-"))
    for name in args.servers.split(","):
        results[name] = {}
        for case in ("hold", "drop"):
            server = bench.Running(name, "0-1", out)
            try:
                if case == "hold":
                    results[name][case] = hold(server, args.hold, out)
                else:
                    results[name][case] = drop(server, args.drop, out)
            except Exception as e:  # a server that cannot hold the load: report it
                results[name][case] = {"error": str(e)}
            finally:
                server.stop()
            print(name, case, json.dumps(results[name][case]), flush=True)
    dest = bench.ROOT / "target" / "bench" / "capacity.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(results, indent=2))
    print(f"written {dest}")


if __name__ == "__main__":
    main()
