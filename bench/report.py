"""BENCHMARKS.md and its SVG chart from the results bench/run.py collected.

Medians over repetitions, and ratios taken within each round (server / reference measured
back to back) and then the median over rounds. It only formats; it runs nothing but a few
commands that describe the machine and versions.
"""

import datetime
import html
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

# case -> [(column title, JSON path, format, higher is better)]; the first is the ranking one.
COLUMNS = {
    "echo": [
        ("msgs per server CPU-s", "msgs_per_server_cpu_sec", "{:,.0f}", True),
        ("msgs/s", "msgs_per_sec", "{:,.0f}", True),
        ("payload MB/s", "payload_mb_per_sec_one_way", "{:,.1f}", True),
        ("p50 µs", "latency_us.p50", "{:,.0f}", False),
        ("p99 µs", "latency_us.p99", "{:,.0f}", False),
        ("server CPU %", "server_cpu_pct", "{:.0f}", None),
    ],
    "rate": [
        ("p99 µs", "latency_us.p99", "{:,.0f}", False),
        ("p50 µs", "latency_us.p50", "{:,.0f}", False),
        ("p90 µs", "latency_us.p90", "{:,.0f}", False),
        ("p99.9 µs", "latency_us.p99_9", "{:,.0f}", False),
        ("max µs", "latency_us.max", "{:,.0f}", False),
        ("msgs/s", "msgs_per_sec", "{:,.0f}", True),
        ("send lag p99 µs", "send_lag_us.p99", "{:,.0f}", False),
        ("server CPU %", "server_cpu_pct", "{:.0f}", None),
    ],
    "idle": [
        ("server RSS per conn, B", "server_rss_per_conn.after_echo", "{:,.0f}", False),
        ("anon RSS per conn, B", "server_rss_anon_per_conn.after_echo", "{:,.0f}", False),
        ("kernel slab per conn (both ends), B", "slab_per_conn.after_echo", "{:,.0f}", False),
        ("connections", "connections_opened", "{:,.0f}", None),
        ("opens/s", "opens_per_sec", "{:,.0f}", True),
    ],
    "handshakes": [
        ("handshakes per server CPU-s", "handshakes_per_server_cpu_sec", "{:,.0f}", True),
        ("handshakes/s", "handshakes_per_sec", "{:,.0f}", True),
        ("open p50 µs", "open_latency_us.p50", "{:,.0f}", False),
        ("open p99 µs", "open_latency_us.p99", "{:,.0f}", False),
        ("server CPU %", "server_cpu_pct", "{:.0f}", None),
    ],
    "startup": [
        ("ms from process start to the first 101", "startup_ms", "{:,.0f}", False),
    ],
}
# The ranking metric of the large-message case is bytes, not messages.
LARGE_FIRST = ("payload MB/s", "payload_mb_per_sec_one_way", "{:,.1f}", True)


def get(result, path):
    if path == "server_cpu_pct":
        cpu, window = result.get("server_cpu_secs"), result.get("window_secs")
        return 100 * cpu / window if cpu is not None and window else None
    value = result
    for key in path.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value


def columns(case, mode):
    cols = list(COLUMNS[mode])
    if case == "large":
        cols.remove(LARGE_FIRST)
        cols.insert(0, LARGE_FIRST)
    return cols


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def round_ratio(runs, ref_runs, path):
    """Median over rounds of value / reference value in the same round."""
    by_round = {r["round"]: get(r, path) for r in ref_runs}
    ratios = []
    for r in runs:
        a, b = get(r, path), by_round.get(r["round"])
        if a is not None and b:
            ratios.append(a / b)
    return median(ratios)


def fmt(template, value):
    return "–" if value is None else template.format(value)


def flags(runs):
    notes = []
    failed = sum(1 for r in runs if r.get("exit_code"))
    if failed:
        notes.append(f"{failed} of {len(runs)} runs had errors")
    if any(r.get("client_bound") for r in runs):
        notes.append("client-bound")
    return "; ".join(notes)


def case_table(case, mode, results, servers):
    cols = columns(case, mode)
    ranking = cols[0]
    refs = [s for s in ("wshd", "pywebsocket3") if s in results]
    head = ["server"] + [c[0] for c in cols] + [f"× {s} ({ranking[0]})" for s in refs] + ["notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, runs in results.items():
        row = [servers[name][0]]
        for _, path, template, _ in cols:
            row.append(fmt(template, median(get(r, path) for r in runs)))
        for ref in refs:
            ratio = round_ratio(runs, results[ref], ranking[1]) if name != ref else 1.0
            row.append(fmt("{:.2f}", ratio))
        row.append(flags(runs))
        lines.append("| " + " | ".join(row) + " |")
    better = "higher" if ranking[3] else "lower"
    lines.append("")
    lines.append(f"Ranking figure: **{ranking[0]}** ({better} is better); × columns are the "
                 "median over rounds of the ratio to that server in the same round.")
    return "\n".join(lines)


def python_section(results):
    """echo_wsh.py under wshd (the binary with its embedded CPython, and the wheel inside a
    host interpreter) against pywebsocket3 running the same file."""
    rows = []
    for case, path, what in [("small", "msgs_per_sec", "100 × 20 B, msgs/s"),
                             ("small", "msgs_per_server_cpu_sec", "100 × 20 B, msgs per server CPU-s"),
                             ("large", "payload_mb_per_sec_one_way", "10 × 64 KiB, payload MB/s"),
                             ("idle", "server_rss_per_conn.after_echo", "idle, RSS per connection"),
                             ("handshakes", "handshakes_per_sec", "handshakes/s")]:
        r = results.get(case, {})
        if "pywebsocket3" not in r:
            continue
        cells = []
        for name in ("wshd-python", "wshd-wheel"):
            if name in r:
                value = median(get(x, path) for x in r[name])
                ratio = round_ratio(r[name], r["pywebsocket3"], path)
                cells.append(f"{fmt('{:,.1f}', value)} ({fmt('{:.2f}', ratio)}×)")
            else:
                cells.append("-")
        if cells != ["-", "-"]:
            b = median(get(x, path) for x in r["pywebsocket3"])
            rows.append(f"| {what} | {cells[0]} | {cells[1]} | {fmt('{:,.1f}', b)} |")
    if not rows:
        return ""
    return "\n".join(["## Python handlers: wshd vs pywebsocket3 (same echo_wsh.py)", "",
                      "wshd binary: its embedded CPython. wshd wheel: `pip install .` in a "
                      "CPython venv, `python -m pywebsocket3.standalone`. In brackets: the "
                      "median same-round ratio to pywebsocket3.", "",
                      "| figure | wshd binary | wshd wheel | pywebsocket3 |",
                      "|---|---|---|---|"] + rows + [""])


def chart(results, servers, path):
    """Messages per server CPU-second by server: one panel per small-message case, each
    with its own linear scale (depth 16 reaches ten times depth 1)."""
    series = [(c, t) for c, t in [("small", "100 connections × 20 B, depth 1"),
                                  ("pipelined", "100 connections × 20 B, depth 16")]
              if c in results]
    if not series:
        return False
    colours = {"small": "#3b6ea5", "pipelined": "#e08a2e"}
    left, width, bar = 250, 440, 18
    names = list(next(iter(results.values())))
    height = 40 + len(series) * (30 + len(names) * bar + 20)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 110}" '
           f'height="{height}" font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="22" font-size="14" font-weight="bold">Messages per server '
           'CPU-second, median (higher is better)</text>']
    y = 40
    for case, title in series:
        values = {n: median(get(r, "msgs_per_server_cpu_sec") for r in results[case].get(n, []))
                  for n in names}
        top = max([v for v in values.values() if v] + [1])
        out.append(f'<text x="10" y="{y + 16}" font-weight="bold">{html.escape(title)}</text>')
        y += 30
        for n in names:
            v = values[n]
            w = 0 if not v else max(1, width * v / top)
            label = html.escape(servers[n][0].split(" (")[0])
            out.append(f'<text x="{left - 8}" y="{y + bar - 6}" text-anchor="end">{label}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 4}" '
                       f'fill="{colours[case]}"/>')
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 6}">'
                       f'{"failed" if not v else f"{v:,.0f}"}</text>')
            y += bar
        y += 20
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return True


def capture(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return (f"{cpu}, {os.cpu_count()} CPUs, {int(mem) / 1048576:.1f} GiB RAM, "
            f"Linux {platform.release()}, {capture(['rustc', '--version'])}, "
            f"Python {platform.python_version()}")


def crate_versions(root):
    lock = (root / "bench" / "peers" / "Cargo.lock").read_text()
    found = {}
    for name in ("tokio-tungstenite", "tungstenite", "fastwebsockets", "hyper", "tokio"):
        m = re.search(rf'name = "{name}"\nversion = "([^"]+)"', lock)
        if m:
            found[name] = m.group(1)
    return ", ".join(f"{k} {v}" for k, v in found.items())


def relative(cmd, root):
    home_cache = str(Path.home() / ".cache")
    return cmd.replace(str(root) + "/", "").replace(home_cache, "~/.cache")


def write(args, results, servers, cases, root, started):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    loads = [r["loadavg"] for c in results.values() for runs in c.values() for r in runs]
    argv = " ".join(sys.argv[1:])
    chart_ok = chart(results, servers, args.chart)
    readme = os.path.relpath(root / "bench" / "README.md", args.out.parent)
    md = ["# wshd benchmarks", ""]
    if args.quick:
        md += ["> **Smoke run (`--quick`)**: one short repetition per case. The figures only "
               "show that the tooling works; do not compare servers with them.", ""]
    md += [f"Written by `bench/run.py {argv}` on {now}, commit "
           f"`{capture(['git', '-C', str(root), 'rev-parse', '--short', 'HEAD'])}`, "
           f"{args.repeat} repetition(s) per case, {args.window:g} s window after "
           f"{args.warmup:g} s warm-up. Method and meaning of each figure: "
           f"[bench/README.md]({readme}).", "",
           f"- Machine: {machine()}.",
           f"- Server pinned to CPU {args.server_cpu}, load generator to CPU "
           f"{args.client_cpu} (`taskset`).",
           f"- 1-minute load average before each run: min {min(loads, default=0):.2f}, "
           f"max {max(loads, default=0):.2f} (above ~1.5 the machine was shared; trust the "
           "CPU-normalised figures and ratios over raw rates).",
           f"- Peers: {crate_versions(root)}; Python packages from PyPI: "
           "pywebsocket3 4.0.2, websockets 17.4.", ""]
    if chart_ok:
        rel = os.path.relpath(args.chart, args.out.parent)
        md += [f"![messages per server CPU-second]({rel})", ""]
    for case, runs_by_server in results.items():
        title, mode, _ = cases[case]
        runs_by_server = {s: r for s, r in runs_by_server.items() if r}
        md += [f"## {title}", "", case_table(case, mode, runs_by_server, servers), ""]
    md += [python_section(results)]
    md += ["## Commands", "", "Servers (each started alone, one after another):", ""]
    seen = {}
    for runs_by_server in results.values():
        for name, runs in runs_by_server.items():
            for r in runs:
                if "server_command" in r:
                    seen.setdefault(name, relative(r["server_command"], root))
    md += [f"- {name}: `{cmd}`" for name, cmd in seen.items()]
    md += ["", "Load generator, per case (the server's address and pid filled in; the path is "
           "`/echo` for wshd-python and pywebsocket3, `/` for the others):", ""]
    for case, runs_by_server in results.items():
        cmd = next((r["client_command"] for runs in runs_by_server.values() for r in runs
                    if "client_command" in r), None)
        if cmd:
            md.append(f"- {case}: `{relative(cmd, root)}`")
    md.append("")
    args.out.write_text("\n".join(md))
