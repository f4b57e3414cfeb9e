#!/usr/bin/env python3
"""Gate on an Autobahn|Testsuite fuzzingclient report (reports/index.json).

Prints one line per case that is not OK, a table per case group, and the
closing line 'autobahn: N passed, N failed'. Exits 1 when a case fails the
gate or, with --check-results, when the results differ from the checked-in
file. See README.md for the gate.

A case passes the gate when both its `behavior` and its `behaviorClose` are
OK or INFORMATIONAL, or when allowed.json lists it with the values it
actually had.
"""

import argparse
import collections
import difflib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ACCEPTED = {"OK", "INFORMATIONAL"}
MAX_DIFF_LINES = 200
OUTCOMES = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
GROUPS = {
    "1": "Framing",
    "2": "Ping/Pong",
    "3": "Reserved bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8",
    "7": "Close",
    "9": "Limits/performance",
    "10": "Misc",
    "12": "Deflate payloads",
    "13": "Deflate params",
}


def case_key(case_id):
    """Sort key: numeric, so 1.2 < 1.10 < 10.1."""
    return tuple(int(p) if p.isdigit() else p for p in case_id.split("."))


def load_index(path):
    with open(path) as f:
        index = json.load(f)
    if not isinstance(index, dict) or len(index) != 1:
        agents = ", ".join(sorted(index)) if isinstance(index, dict) else "?"
        sys.exit(f"summarize: expected results for exactly one agent in {path}, got: {agents}")
    (agent, cases), = index.items()
    return agent, cases


def load_allowed(path):
    """allowed.json: {case id: {"behavior"?: ..., "behaviorClose"?: ..., "why": ...}}."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        allowed = json.load(f)
    problems = []
    if not isinstance(allowed, dict):
        sys.exit(f"summarize: {path} must be a JSON object: case id -> entry")
    for case_id, entry in allowed.items():
        if not isinstance(entry, dict):
            problems.append(f"{case_id}: entry must be an object")
            continue
        if not str(entry.get("why", "")).strip():
            problems.append(f"{case_id}: 'why' is missing or empty")
        if "behavior" not in entry and "behaviorClose" not in entry:
            problems.append(f"{case_id}: give 'behavior' and/or 'behaviorClose'")
        unknown = set(entry) - {"behavior", "behaviorClose", "why"}
        if unknown:
            problems.append(f"{case_id}: unknown keys {sorted(unknown)}")
    if problems:
        sys.exit(f"summarize: {path} is malformed:\n  " + "\n  ".join(problems))
    return allowed


def verdict(result, entry):
    """Returns (passes, note) for one case against its allowed.json entry (or None)."""
    behavior, close = result.get("behavior"), result.get("behaviorClose")
    if behavior == "OK" and close == "OK":
        return True, ""
    if entry is None:
        if behavior in ACCEPTED and close in ACCEPTED:
            return True, "accepted: the RFC leaves this open"
        return False, "not in allowed.json"
    want_behavior = entry.get("behavior", "OK")
    want_close = entry.get("behaviorClose", "OK")
    ok_behavior = behavior == want_behavior or (behavior in ACCEPTED and "behavior" not in entry)
    ok_close = close == want_close or (close in ACCEPTED and "behaviorClose" not in entry)
    if ok_behavior and ok_close:
        return True, "allowed: " + entry["why"]
    wanted = ", ".join(f"{k}={entry[k]}" for k in ("behavior", "behaviorClose") if k in entry)
    return False, f"allowed.json allows only {wanted}"


def normalize(cases):
    """The checked-in form: outcome and close code per case, no timings."""
    return {
        case_id: {
            "behavior": r.get("behavior"),
            "behaviorClose": r.get("behaviorClose"),
            "remoteCloseCode": r.get("remoteCloseCode"),
        }
        for case_id, r in cases.items()
    }


def render(results):
    """JSON with one case per line in numeric case order, for readable diffs."""
    lines = [
        f"  {json.dumps(case_id)}: {json.dumps(results[case_id], sort_keys=True)}"
        for case_id in sorted(results, key=case_key)
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def print_table(cases, verdicts):
    groups = collections.OrderedDict()
    for case_id in sorted(cases, key=case_key):
        groups.setdefault(case_id.split(".")[0], []).append(case_id)
    header = (
        f"  {'group':<24}{'cases':>6}{'OK':>6}{'NON-STRICT':>12}{'INFORM.':>9}"
        f"{'UNIMPL.':>9}{'FAILED':>8}{'close!OK':>10}{'gate':>6}"
    )
    print(header)
    totals = collections.Counter()
    for group, ids in groups.items():
        count = collections.Counter(cases[c].get("behavior") for c in ids)
        close_bad = sum(1 for c in ids if cases[c].get("behaviorClose") not in ACCEPTED)
        gate_bad = sum(1 for c in ids if not verdicts[c][0])
        other = len(ids) - sum(count[o] for o in OUTCOMES)
        row = {o: count[o] for o in OUTCOMES}
        row["FAILED"] += other  # anything unexpected counts as failed
        label = f"{group} {GROUPS.get(group, '')}".strip()
        print(
            f"  {label:<24}{len(ids):>6}{row['OK']:>6}{row['NON-STRICT']:>12}"
            f"{row['INFORMATIONAL']:>9}{row['UNIMPLEMENTED']:>9}{row['FAILED']:>8}"
            f"{close_bad:>10}{'ok' if gate_bad == 0 else 'FAIL':>6}"
        )
        totals.update(row)
        totals["cases"] += len(ids)
        totals["close"] += close_bad
        totals["gate"] += gate_bad
    print(
        f"  {'all':<24}{totals['cases']:>6}{totals['OK']:>6}{totals['NON-STRICT']:>12}"
        f"{totals['INFORMATIONAL']:>9}{totals['UNIMPLEMENTED']:>9}{totals['FAILED']:>8}"
        f"{totals['close']:>10}{'ok' if totals['gate'] == 0 else 'FAIL':>6}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("index", help="reports/index.json written by wstest -m fuzzingclient")
    ap.add_argument("--allowed", default=os.path.join(HERE, "allowed.json"),
                    help="allow-list of non-OK cases (default: %(default)s)")
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"),
                    help="where NAME.json results live (default: %(default)s)")
    ap.add_argument("--write-results", metavar="NAME",
                    help="write the normalized results to RESULTS_DIR/NAME.json")
    ap.add_argument("--check-results", metavar="NAME",
                    help="fail if the results differ from RESULTS_DIR/NAME.json")
    ap.add_argument("--expect-cases", type=int, metavar="N",
                    help="fail unless the report has N cases (run.sh passes the count "
                         "wstest announced; wstest stops early when it cannot connect)")
    args = ap.parse_args(argv)

    agent, cases = load_index(args.index)
    allowed = load_allowed(args.allowed)
    if not cases:
        print(f"autobahn: no cases in {args.index}")
        print("autobahn: 0 passed, 1 failed")
        return 1

    verdicts = {c: verdict(cases[c], allowed.get(c)) for c in cases}
    report_dir = os.path.dirname(os.path.abspath(args.index))
    not_ok = [c for c in sorted(cases, key=case_key)
              if (cases[c].get("behavior"), cases[c].get("behaviorClose")) != ("OK", "OK")]
    print(f"autobahn: {len(cases)} cases for agent '{agent}'; {len(not_ok)} not OK")
    for c in not_ok:
        r = cases[c]
        passes, note = verdicts[c]
        report = os.path.join(report_dir, r["reportfile"].replace(".json", ".html")) if r.get("reportfile") else ""
        print(
            f"  {'pass' if passes else 'FAIL'} {c:<9} behavior={r.get('behavior')} "
            f"close={r.get('behaviorClose')} code={r.get('remoteCloseCode')}  ({note})"
            + (f"\n       {report}" if not passes and report else "")
        )
    for c in sorted(set(allowed) & set(cases), key=case_key):
        if (cases[c].get("behavior"), cases[c].get("behaviorClose")) == ("OK", "OK"):
            print(f"  note: {c} is OK now; remove it from allowed.json")
    print_table(cases, verdicts)

    # A case fails if it fails the gate or, with --check-results, if it
    # differs from the checked-in results (or is missing on either side).
    failed_ids = {c for c, (passes, _) in verdicts.items() if not passes}
    results = normalize(cases)

    if args.write_results:
        path = os.path.join(args.results_dir, args.write_results + ".json")
        os.makedirs(args.results_dir, exist_ok=True)
        with open(path, "w") as f:
            f.write(render(results))
        print(f"autobahn: wrote {os.path.relpath(path)}")

    if args.check_results:
        path = os.path.join(args.results_dir, args.check_results + ".json")
        if not os.path.exists(path):
            print(f"autobahn: FAILED: no checked-in results {path}; "
                  f"record them with --write-results {args.check_results}")
            failed_ids.update(results)
        else:
            with open(path) as f:
                expected = json.load(f)
            failed_ids.update(c for c in set(expected) | set(results)
                              if expected.get(c) != results.get(c))
            expected_text = render(expected)
            actual_text = render(results)
            if expected_text != actual_text:
                print(f"autobahn: FAILED: results differ from {os.path.relpath(path)} "
                      f"(- checked in, + this run):")
                diff = difflib.unified_diff(
                    expected_text.splitlines(), actual_text.splitlines(),
                    fromfile=f"{args.check_results}.json (checked in)", tofile="this run",
                    lineterm="", n=0)
                lines = list(diff)
                for line in lines[:MAX_DIFF_LINES]:
                    print("  " + line)
                if len(lines) > MAX_DIFF_LINES:
                    print(f"  ... {len(lines) - MAX_DIFF_LINES} more diff lines")
                print(f"autobahn: if the change is intended, rerun with "
                      f"--write-results {args.check_results} and commit the file")
            else:
                print(f"autobahn: results match {os.path.relpath(path)}")

    missing = 0
    if args.expect_cases is not None and len(cases) < args.expect_cases:
        missing = args.expect_cases - len(cases)
        print(f"autobahn: FAILED: wstest planned {args.expect_cases} cases but reported "
              f"{len(cases)}; it stops when it cannot connect to the server (see wstest.log)")
    failed = len(failed_ids) + missing
    passed = len(set(cases) - failed_ids)
    print(f"autobahn: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
