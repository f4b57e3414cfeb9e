#!/usr/bin/env python3
"""WPT's own websockets/ tests in headless Chromium, with `wpt serve` unpatched: once with
the pywebsocket its tree vendors, once with wshd's package installed in its place.

    conformance/wpt/run.py --wpt ~/wpt              # both servers, then the comparison
    conformance/wpt/run.py --wpt ~/wpt --servers wshd --filter Close

--wpt is a web-platform-tests checkout of the kind `fetch` brings here (the 2021 snapshot,
whose serve.py imports mod_pywebsocket): the runner needs its tools/, resources/, common/
and websockets/ directories and writes nothing into it except while the wshd run takes
tools/third_party/pywebsocket3 off the path (renamed, and put back afterwards).

How: a virtualenv of --python (default: CPython 3.9, which the 2021 tree supports) gets
wshd's wheel (`pip install .`); `wpt serve` runs in it with a generated config (browser
host localhost, free ports, subdomain check off). With the vendored copy in
place, localpaths.py puts it first and serve.py gets pywebsocket; with it renamed, serve.py
imports the installed mod_pywebsocket, which is wshd. Pages are loaded by driver.mjs
(playwright-core from npm, Debian's chromium). Every page of websockets/ is run: *.html,
*.any.js as .any.html and .any.worker.html, *.worker.js, *.window.js, each with its
variants (META: variant lines and <meta name="variant">).

Results go to target/wpt/<server>.jsonl. Exit status 1 when a subtest that passes with
pywebsocket does not pass with wshd (the list is printed), else 0.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUT = ROOT / "target" / "wpt"
NODE_CACHE = Path(os.environ.get("WSHD_WPT_CACHE", Path.home() / ".cache" / "wshd-wpt"))
STATUS = {0: "PASS", 1: "FAIL", 2: "TIMEOUT", 3: "NOTRUN", 4: "PRECONDITION_FAILED"}
SKIP_DIRS = {"handlers", "resources", "support"}


def say(*a):
    print("wpt:", *a, flush=True)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def default_python():
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(pyenv.glob("3.9.*/bin/python3.9"), reverse=True)
    return str(found[0]) if found else shutil.which("python3.9") or "python3.9"


def variants_of(path):
    """The query variants a test file declares (at least [''])."""
    text = path.read_text(errors="replace")
    found = re.findall(r"^//\s*META:\s*variant=(\S*)", text, re.M)
    found += re.findall(r'<meta\s+name=["\']?variant["\']?\s+content=["\']([^"\']*)["\']',
                        text, re.I)
    return found or [""]


def test_urls(wpt, base, name_filter):
    urls = []
    root = wpt / "websockets"
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(wpt)
        if not path.is_file() or SKIP_DIRS & set(rel.parts[1:-1]):
            continue
        name = path.name
        if name.endswith("-manual.html"):
            continue
        pages = []
        if name.endswith(".any.js"):
            stem = str(rel)[:-len(".js")]
            text = path.read_text(errors="replace")
            globals_ = re.findall(r"^//\s*META:\s*global=(\S*)", text, re.M)
            scopes = set(",".join(globals_ or ["window,dedicatedworker"]).split(","))
            if scopes & {"window", "default"}:
                pages.append(stem + ".html")
            if scopes & {"worker", "dedicatedworker", "default"}:
                pages.append(stem + ".worker.html")
        elif name.endswith(".worker.js") or name.endswith(".window.js"):
            pages.append(str(rel)[:-len(".js")] + ".html")
        elif name.endswith(".html") or name.endswith(".htm"):
            text = path.read_text(errors="replace")
            if "testharness.js" not in text:
                continue
            pages.append(str(rel))
        else:
            continue
        for page in pages:
            for variant in variants_of(path):
                url = "%s/%s%s" % (base, page, variant)
                if name_filter is None or name_filter in url:
                    urls.append(url)
    return urls


def ensure_tools(python):
    venv = OUT / "venv"
    if not (venv / "bin" / "python").exists():
        say("creating", venv, "with", python)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    say("installing wshd's wheel into", venv, "(pip install .)")
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                    "--force-reinstall", "--no-deps", str(ROOT)], check=True)
    if not (NODE_CACHE / "node_modules" / "playwright-core").exists():
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        say("installing playwright-core into", NODE_CACHE)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(NODE_CACHE),
                        "playwright-core@1"], check=True)
    return venv / "bin" / "python"


class Serve:
    """`wpt serve` with the WebSocket server `server` ('pywebsocket' or 'wshd')."""

    def __init__(self, wpt, python, server, log):
        self.vendored = wpt / "tools" / "third_party" / "pywebsocket3"
        self.aside = wpt / "tools" / "third_party" / ".pywebsocket3-set-aside-by-wshd"
        if server == "wshd":
            self.vendored.rename(self.aside)
        http, http2, https, https2, h2 = free_ports(5)
        self.http = http
        config = {"check_subdomains": False, "browser_host": "localhost",
                  "alternate_hosts": {},
                  "ports": {"http": [http, http2], "https": [https, https2],
                            "ws": ["auto"], "wss": ["auto"], "h2": [h2],
                            "quic-transport": [None], "http-private": [],
                            "http-public": [], "https-private": [], "https-public": []}}
        self.config = OUT / ("config-%s.json" % server)
        self.config.write_text(json.dumps(config))
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [str(python), "wpt", "serve", "--config", str(self.config)],
            cwd=wpt, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", http), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("wpt serve did not start; see %s" % log)
                time.sleep(0.5)
        time.sleep(3)  # the ws and wss daemons start after http

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        if self.aside.exists():
            self.aside.rename(self.vendored)


def run_server(wpt, python, server, args):
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / ("serve-%s.log" % server)
    serve = Serve(wpt, python, server, log)
    try:
        urls = test_urls(wpt, "http://localhost:%d" % serve.http, args.filter)
        say("%s: %d pages" % (server, len(urls)))
        out = OUT / ("%s.jsonl" % server)
        with open(out, "w") as f:
            driver = subprocess.run(
                ["node", str(HERE / "driver.mjs"), "--modules", str(NODE_CACHE / "node_modules"),
                 "--chromium", args.chromium, "--jobs", str(args.jobs)],
                input="\n".join(urls), stdout=f, text=True)
        if driver.returncode != 0:
            raise RuntimeError("driver.mjs failed with %d" % driver.returncode)
    finally:
        serve.stop()
    return load(out, serve.http)


def load(path, port):
    """{(page, subtest name): status} with the port taken out of the page URL."""
    results = {}
    for line in path.read_text().splitlines():
        page = json.loads(line)
        url = page["url"].replace(":%d/" % port, ":PORT/")
        results[(url, "(harness)")] = ("OK" if page["status"] == 0 else
                                       "ERROR" if page["status"] == 1 else "TIMEOUT")
        for t in page["tests"]:
            results[(url, t["name"])] = STATUS.get(t["status"], str(t["status"]))
    return results


def summary(name, results):
    pages = {u for u, _ in results}
    subtests = {k: v for k, v in results.items() if k[1] != "(harness)"}
    passed = sum(1 for v in subtests.values() if v == "PASS")
    say("%s: %d pages, %d subtests, %d pass" % (name, len(pages), len(subtests), passed))
    return passed


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wpt", type=Path, required=True, help="a web-platform-tests checkout")
    p.add_argument("--servers", default="pywebsocket,wshd")
    p.add_argument("--python", default=default_python(), help="the Python of `wpt serve`")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--jobs", type=int, default=4, help="pages loaded at once")
    p.add_argument("--filter", help="only pages whose URL contains this")
    args = p.parse_args()
    wpt = args.wpt.resolve()
    if not (wpt / "tools" / "serve" / "serve.py").exists():
        sys.exit("%s is not a web-platform-tests checkout (no tools/serve/serve.py)" % wpt)
    if not (wpt / "tools" / "third_party" / "pywebsocket3").exists():
        sys.exit("%s has no tools/third_party/pywebsocket3 (left aside by an interrupted "
                 "run? rename .pywebsocket3-set-aside-by-wshd back)" % wpt)
    if not Path(args.chromium).exists():
        sys.exit("no Chromium at %s (Debian: apt-get install chromium)" % args.chromium)
    python = ensure_tools(args.python)
    results = {}
    for server in args.servers.split(","):
        results[server] = run_server(wpt, python, server, args)
        summary(server, results[server])
    if {"pywebsocket", "wshd"} <= set(results):
        ref, ours = results["pywebsocket"], results["wshd"]
        lost = sorted(k for k, v in ref.items() if v in ("PASS", "OK") and ours.get(k) != v)
        gained = sorted(k for k, v in ours.items() if v in ("PASS", "OK") and ref.get(k) != v)
        say("passing with pywebsocket but not with wshd: %d" % len(lost))
        for url, name in lost:
            say("  LOST %s | %s: %s" % (url, name, ours.get((url, name), "missing")))
        say("passing with wshd but not with pywebsocket: %d" % len(gained))
        for url, name in gained:
            say("  GAINED %s | %s: %s" % (url, name, ref.get((url, name), "missing")))
        sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
