#!/usr/bin/env python3
"""Instruction counts of wshd-proto's hot paths under valgrind's callgrind.

Builds bench/callgrind in release, installs valgrind from Debian's packages when it is
missing (apt-get; through sudo when not root), runs every workload (src/main.rs) under
`valgrind --tool=callgrind` counting only the measured loop, and prints instructions
(Ir) per iteration. Counts are deterministic for one binary on one machine type, unlike
wall time on a shared VM. With --baseline FILE it prints the change against an earlier
--json output and, with --max-regression PCT, exits 1 when a workload got slower than
that. Python 3 standard library only; it measures nothing itself.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BINARY = HERE / "target" / "release" / "wshd-bench-callgrind"
# Iterations per workload: enough that per-iteration counts are stable, small enough that
# the whole run stays under a minute under valgrind.
WORKLOADS = {
    "parse-text-20": 2000,
    "parse-text-1k-utf8": 1000,
    "parse-binary-64k": 100,
    "write-binary-20": 2000,
    "write-binary-64k": 100,
    "deflate-300": 500,
    "inflate-300": 500,
}


def ensure_valgrind():
    if shutil.which("valgrind"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("valgrind is missing; installing it from Debian's packages", flush=True)
    subprocess.run(sudo + ["apt-get", "update", "-q"], check=True)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "valgrind"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def count(workload, n, tmp):
    out = Path(tmp) / f"{workload}.callgrind"
    subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                    "--toggle-collect=*measured*", f"--callgrind-out-file={out}",
                    str(BINARY), workload, str(n)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    m = re.search(r"^summary:\s*(\d+)", out.read_text(), re.M)
    if not m:
        sys.exit(f"no summary line in {out}")
    return int(m.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated workloads (default: all)")
    p.add_argument("--json", type=Path, help="also write the counts here")
    p.add_argument("--baseline", type=Path, help="an earlier --json file to compare with")
    p.add_argument("--max-regression", type=float,
                   help="with --baseline: exit 1 if any workload's Ir/iteration grew by "
                        "more than this many percent")
    args = p.parse_args()
    chosen = args.only.split(",") if args.only else list(WORKLOADS)
    for w in chosen:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    started = time.time()
    subprocess.run(["cargo", "build", "--release", "--manifest-path", str(HERE / "Cargo.toml")],
                   check=True)
    ensure_valgrind()
    baseline = json.loads(args.baseline.read_text())["ir_per_iteration"] if args.baseline else {}
    results, worst = {}, 0.0
    print(f"{'workload':22} {'Ir/iteration':>14} {'vs baseline':>12}")
    with tempfile.TemporaryDirectory(prefix="wshd-callgrind-") as tmp:
        for w in chosen:
            n = WORKLOADS[w]
            per = count(w, n, tmp) / n
            results[w] = per
            delta = ""
            if w in baseline:
                change = 100 * (per / baseline[w] - 1)
                worst = max(worst, change)
                delta = f"{change:+.2f} %"
            print(f"{w:22} {per:14,.1f} {delta:>12}", flush=True)
    print(f"({time.time() - started:.0f} s including the build)")
    if args.json:
        args.json.write_text(json.dumps({"ir_per_iteration": results,
                                         "iterations": {w: WORKLOADS[w] for w in chosen}},
                                        indent=1) + "\n")
    if args.max_regression is not None and worst > args.max_regression:
        sys.exit(f"a workload's instruction count grew by {worst:.2f} % "
                 f"(allowed: {args.max_regression} %)")


if __name__ == "__main__":
    main()
