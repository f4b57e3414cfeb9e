#!/usr/bin/env python3
"""The soak: many connections to a native and a Python echo server for a long time, with a
ledger on every connection, a SIGTERM and restart of both servers in the middle, and the
servers' memory and descriptors read at idle, at their peak and at the end.

    python3 bench/soak.py                       # 10,000 connections for 30 minutes
    python3 bench/soak.py --short               # 200 connections for 40 s (CI runs this)

The servers are the native example (`cargo run -p wshd-server --example echo`) and the
`wshd` binary on examples/handlers (echo_wsh.py), both on 127.0.0.1 ports chosen by the
OS and restarted on the same ports. The clients are `wshd-load soak` (its module doc says
what the ledger counts): half the connections on each server, message sizes from 1 B to
1 MiB, permessage-deflate on 30 % of them, 10 % slow readers, random aborts and clean
closes with reconnects. A server shutting down closes its connections with 1001; the
echoes they still owed then are counted apart ("cut by server close"), not as lost.

It fails (exit 1) when the ledger does not balance (anything lost, duplicated, reordered
or corrupted), when a server does not exit 0 on SIGTERM, or when a server's descriptors
at the end differ from its idle count (read before the first client; the restarted process
is the same binary with the same options; both after one warm-up echo), or its threads do,
or when a server's RSS at the end is above twice its idle value plus 32 MiB
(--rss-slack). The servers give freed memory back on their own: wshd with malloc_trim
at most every 10 s once connections have ended (--memory-trim-interval), the native
example through jemalloc's background purging; the end is read --settle seconds after
the last client, long enough for both. Results go to stdout and, with --json, to a file.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sh(cmd):
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def sample(pid):
    """(RSS in KiB, open descriptors, threads) of a process."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


class Server:
    """One server process, restartable on the port it first got."""

    def __init__(self, name, argv, client):
        self.name, self.argv, self.port, self.client = name, argv, 0, client
        self.proc = None
        self.idle = self.peak = self.end = self.after_restart = None
        self.exits = []

    def start(self):
        argv = [a if a != "PORT" else str(self.port) for a in self.argv]
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                self.port = int(line.rsplit(":", 1)[1].split()[0])
                # Keep draining its output (warnings) so the pipe never fills.
                threading.Thread(target=self.drain, args=(self.proc,), daemon=True).start()
                if self.idle is None:
                    # One echo first, so that what starts with the first connection (the
                    # Python handler thread spawner) is part of the idle value.
                    subprocess.run([self.client, "client", "-s", "127.0.0.1", "-p",
                                    str(self.port), "-r", "/echo", "-m", "warm-up"],
                                   check=True, stdout=subprocess.DEVNULL)
                    time.sleep(1.0)
                    # Before the soak's clients: the value the end is compared with.
                    self.idle = self.peak = sample(self.proc.pid)
                else:
                    # Clients reconnect at once: not idle, but shown.
                    time.sleep(1.0)
                    self.after_restart = sample(self.proc.pid)
                return
            print(f"[{self.name}] {line.rstrip()}", flush=True)
        raise SystemExit(f"{self.name} did not start: {argv}")

    def drain(self, proc):
        for line in proc.stdout:
            print(f"[{self.name}] {line.rstrip()}", flush=True)

    def watch(self):
        s = sample(self.proc.pid)
        self.peak = tuple(max(a, b) for a, b in zip(self.peak, s))

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.exits.append(self.proc.wait(timeout=60))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.exits.append("did not exit within 60 s")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--connections", type=int, default=10000)
    p.add_argument("--duration", type=float, default=1800.0, help="seconds")
    p.add_argument("--max-size", type=int, default=1 << 20)
    p.add_argument("--think", type=float, default=3.0,
                   help="mean seconds a connection waits between rounds")
    p.add_argument("--short", action="store_true",
                   help="200 connections for 40 s, debug builds: the CI version")
    p.add_argument("--rss-slack", type=float, default=2.0,
                   help="fail if a server's RSS at the end exceeds this many times its idle "
                   "RSS plus 32 MiB")
    p.add_argument("--settle", type=float, default=30.0,
                   help="seconds after the clients end before the end values are read "
                   "(RSS is also read every 5 s meanwhile)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    profile = "release"
    if args.short:
        args.connections, args.duration, args.think, args.settle = 200, 40.0, 0.5, 15.0
        profile = "debug"
    flag = ["--release"] if profile == "release" else []
    sh(["cargo", "build", *flag, "-p", "wshd", "-p", "wshd-loadgen"])
    sh(["cargo", "build", *flag, "-p", "wshd-server", "--example", "echo"])
    out = ROOT / "target" / profile
    servers = [
        Server("native", [out / "examples" / "echo", "--port", "PORT"], out / "wshd"),
        Server("python", [out / "wshd", "-H", "127.0.0.1", "-p", "PORT",
                          "-w", ROOT / "examples" / "handlers", "--log-level", "warn"],
               out / "wshd"),
    ]
    for s in servers:
        s.start()
        print(f"{s.name}: port {s.port}, idle RSS {s.idle[0]} KiB, {s.idle[1]} fds", flush=True)
    urls = ",".join(f"ws://127.0.0.1:{s.port}/echo" for s in servers)
    ledger_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"wshd-soak-{os.getpid()}.json"
    client = subprocess.Popen([
        out / "wshd-load", "soak", "--urls", urls, "-c", str(args.connections),
        "--duration", str(args.duration), "--ramp", str(min(60.0, args.duration / 4)),
        "--think", str(args.think), "--max-size", str(args.max_size),
        "--json", ledger_path,
    ], cwd=ROOT)
    started = time.time()
    restarted = False
    while client.poll() is None:
        time.sleep(2)
        for s in servers:
            s.watch()
        if not restarted and time.time() - started >= args.duration / 2:
            print(f"{time.time() - started:.0f} s: SIGTERM and restart", flush=True)
            for s in servers:
                s.restart()
            restarted = True
    client_status = client.wait()
    settle = {s.name: [] for s in servers}
    waited = 0.0
    while waited < args.settle:
        step = min(5.0, args.settle - waited)
        time.sleep(step)
        waited += step
        for s in servers:
            settle[s.name].append([round(waited), sample(s.proc.pid)[0]])
    for s in servers:
        s.end = sample(s.proc.pid)
        s.stop()
    ledger = json.loads(ledger_path.read_text())
    failures = []
    if client_status != 0:
        failures.append(f"wshd-load soak exited {client_status}")
    result = {"connections": args.connections, "duration_s": args.duration,
              "ledger": ledger, "servers": {}}
    for s in servers:
        idle_rss, idle_fds, idle_threads = s.idle
        end_rss, end_fds, end_threads = s.end
        result["servers"][s.name] = {
            "idle": dict(zip(["rss_kib", "fds", "threads"], s.idle)),
            "one_second_after_restart": dict(zip(["rss_kib", "fds", "threads"], s.after_restart)),
            "peak": dict(zip(["rss_kib", "fds", "threads"], s.peak)),
            "end": dict(zip(["rss_kib", "fds", "threads"], s.end)),
            "rss_kib_after_the_clients": settle[s.name],
            "exit_statuses": s.exits,
        }
        if any(e != 0 for e in s.exits):
            failures.append(f"{s.name} exited {s.exits} on SIGTERM")
        if end_fds != idle_fds or end_threads != idle_threads:
            failures.append(f"{s.name}: {end_fds} descriptors and {end_threads} threads at "
                            f"the end, {idle_fds} and {idle_threads} idle")
        if end_rss > args.rss_slack * idle_rss + 32 * 1024:
            failures.append(f"{s.name}: RSS {end_rss} KiB at the end, {idle_rss} KiB idle")
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    for f in failures:
        print("FAILED: " + f, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
