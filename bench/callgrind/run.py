#!/usr/bin/env python3
"""Instruction counts of wshd-proto's hot paths under valgrind's callgrind.

Builds bench/callgrind in release, installs valgrind from Debian's packages when it is
missing (apt-get; through sudo when not root), runs every workload (src/main.rs) under
`valgrind --tool=callgrind` counting only the measured loop, and prints instructions
(Ir) per iteration. Counts are deterministic for one binary on one machine type, unlike
wall time on a shared VM. With --baseline FILE it prints the change against an earlier
--json output and, with --max-regression PCT, exits 1 when a workload got slower than
that (scripts/test does so against baseline.json). Python 3 standard library only; it
measures nothing itself.
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
# With --baseline: a workload this many percent cheaper gets a note to refresh the baseline
# (it does not fail), so that the gate keeps guarding the new, lower count.
IMPROVEMENT_NOTE_PCT = 5.0


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


def tool_versions():
    """The compiler and valgrind that made the counts: a new rustc alone can move them."""
    def first_line(cmd):
        out = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, check=True).stdout
        return out.strip().splitlines()[0]
    return {"rustc": first_line(["rustc", "-V"]),
            "valgrind": first_line(["valgrind", "--version"])}


def compare(results, baseline, max_regression, refresh_command):
    """Compares Ir/iteration with a baseline's.

    Returns (changes, messages, failed): the change in percent per workload found in the
    baseline, lines to print after the table, and whether max_regression (None: no limit)
    was exceeded or a measured workload has no baseline count.
    """
    changes, messages, failed = {}, [], False
    for w, per in results.items():
        if w in baseline:
            changes[w] = 100 * (per / baseline[w] - 1)
    if max_regression is not None:
        for w, change in changes.items():
            if change > max_regression:
                failed = True
                messages.append(f"REGRESSION: {w} runs {change:.2f} % more instructions than "
                                f"the baseline (allowed: {max_regression:g} %)")
        for w in results:
            if w not in baseline:
                failed = True
                messages.append(f"{w} has no count in the baseline")
    cheaper = [w for w, change in changes.items() if change < -IMPROVEMENT_NOTE_PCT]
    for w in cheaper:
        messages.append(f"note: {w} runs {-changes[w]:.2f} % fewer instructions than the "
                        f"baseline")
    if failed or cheaper:
        messages.append("If the change is intended, refresh the baseline and commit it with a "
                        f"message saying why: {refresh_command}")
    return changes, messages, failed


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated workloads (default: all)")
    p.add_argument("--json", type=Path, help="also write the counts here")
    p.add_argument("--baseline", type=Path, help="an earlier --json file to compare with")
    p.add_argument("--max-regression", type=float,
                   help="with --baseline: exit 1 if any workload's Ir/iteration grew by "
                        "more than this many percent, or has no baseline count")
    args = p.parse_args()
    chosen = args.only.split(",") if args.only else list(WORKLOADS)
    for w in chosen:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    started = time.time()
    # --locked: the counts depend on the compiled code, so build the dependency versions
    # of the committed Cargo.lock, the same on every machine.
    subprocess.run(["cargo", "build", "--release", "--locked",
                    "--manifest-path", str(HERE / "Cargo.toml")], check=True)
    ensure_valgrind()
    tools = tool_versions()
    base = json.loads(args.baseline.read_text()) if args.baseline else {}
    results = {}
    print(f"{'workload':22} {'Ir/iteration':>14} {'vs baseline':>12}")
    with tempfile.TemporaryDirectory(prefix="wshd-callgrind-") as tmp:
        for w in chosen:
            n = WORKLOADS[w]
            results[w] = count(w, n, tmp) / n
            change = 100 * (results[w] / base["ir_per_iteration"][w] - 1) \
                if w in base.get("ir_per_iteration", {}) else None
            delta = "" if change is None else f"{change:+.2f} %"
            print(f"{w:22} {results[w]:14,.1f} {delta:>12}", flush=True)
    print(f"({time.time() - started:.0f} s including the build; {tools['rustc']})")
    if args.json:
        args.json.write_text(json.dumps({"ir_per_iteration": results,
                                         "iterations": {w: WORKLOADS[w] for w in chosen},
                                         **tools}, indent=1) + "\n")
    if not args.baseline:
        return
    for tool, version in tools.items():
        if base.get(tool, version) != version:
            print(f"note: the baseline was counted with {base[tool]}, this run with {version}; "
                  "a new rustc or valgrind alone can move the counts")
    refresh = f"{sys.argv[0]} --json {args.baseline}"
    _, messages, failed = compare(results, base["ir_per_iteration"], args.max_regression,
                                  refresh)
    for line in messages:
        print(line)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
