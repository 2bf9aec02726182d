#!/usr/bin/env python3
"""CTest deploy.prometheus_live: a real Prometheus scrapes a real frontend.

Starts forge-broker and forge-frontend from $FORGE_BIN_DIR (loopback, free
ports, a temporary directory and SQLite store, our own SHM_NAME, namespaces
"default" and "invites"), then Debian's `prometheus` on a free loopback port
with a temporary configuration (scrape and evaluation every second) that
loads deploy/prometheus/mini-forge.rules.yml, and checks through the HTTP
API that:
  1. under load, rate(forge_keys_served_total[...]) is positive and every
     recording rule has a value; ForgeBrokerDown is not firing;
  2. after 4 SIGKILLs of the HTTP worker in one stats slot (each time once
     Prometheus saw its replacement in the same slot), ForgeWorkerRestartLoop
     fires: the replacement takes the freed slot, as the alert assumes;
  3. after SIGKILL of the broker (by pid), ForgeBrokerDown reaches `firing`
     for both namespaces;
  4. every PromQL expression of deploy/grafana/mini-forge.json (panel
     targets and the queries of its variables, with the variables set to
     "all") parses and evaluates to a non-empty result, and every forge_*
     metric named there or in the rules exists in the frontend's /metrics
     (recording-rule names must be defined in the rules file).

The rules are loaded from a test-only copy whose `for:` durations are 1 s:
the real ones are minutes (ForgeBrokerDown: 1 m), which would make this test
wait that long; the expressions and the alert wiring are what this test
proves, the `for:` durations are proven by the promtool unit tests
(deploy.prometheus_rules). Everything started is stopped by pid; the whole
run is bounded (HARD_LIMIT_S). A missing or failing prometheus fails the
test, never skips it. Standard library + PyYAML only.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "mini-forge.rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "mini-forge.json"
BIN = Path(os.environ.get("FORGE_BIN_DIR", ROOT / "build" / "bin"))
HARD_LIMIT_S = 75
WAIT_S = 20  # any single condition
SHM_NAME = f"prom-live-{os.getpid()}"
OTHER_NS = "invites"
# Dashboard variables and Grafana's interval macros, as "all" / a window.
TEMPLATE_VALUES = {"job": ".*", "instance": ".*", "namespace": ".*",
                   "__rate_interval": "1m", "__interval": "1m",
                   "__range": "1h"}


class Failure(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=2.0):
    """(status, body) of a GET; status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def wait_for(what, pred, timeout=WAIT_S):
    """Polls pred() until it returns something true; returns that value."""
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > end:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class Processes:
    """Started programs, stopped by pid (SIGTERM, then SIGKILL)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = {}

    def start(self, name, argv, env):
        out = open(self.tmp / f"{name}.log", "wb")
        base = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR")
                if k in os.environ}
        self.procs[name] = subprocess.Popen(
            argv, env={**base, **env}, cwd=self.tmp, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT)
        out.close()
        return self.procs[name]

    def check_alive(self, name):
        code = self.procs[name].poll()
        if code is not None:
            raise Failure(f"{name} exited with {code}:\n{self.output(name)}")

    def kill(self, name):
        p = self.procs[name]
        os.kill(p.pid, signal.SIGKILL)
        p.wait()  # reaped: kill(pid, 0) in the frontend now fails

    def output(self, name):
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self):
        for name, p in reversed(list(self.procs.items())):
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait()


class Prometheus:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        status, body = http_get(url, timeout=5)
        try:
            doc = json.loads(body)
        except ValueError:
            raise Failure(f"GET {url}: status {status}, not JSON: {body[:300]}")
        if doc.get("status") != "success":
            raise Failure(f"GET {url}: {doc.get('errorType')}: "
                          f"{doc.get('error')}")
        return doc["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def firing(self, alertname):
        alerts = self.api("alerts")["alerts"]
        return [a for a in alerts if a["labels"].get("alertname") == alertname
                and a["state"] == "firing"]


def test_rules(tmp):
    """The rules with every `for:` at 1 s (see the module docstring)."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "1s"
    path = tmp / "rules.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return doc, path


def start_stack(procs, tmp):
    (tmp / "config").mkdir()
    (tmp / "config" / "config.yml").write_text(
        f"namespaces:\n  {OTHER_NS}: {{ key_length: 6, key_order: sequential }}\n")
    port = free_port()
    env = {"SHM_NAME": SHM_NAME, "DB_URL": f"sqlite:{tmp}/forge.db",
           "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "2"}
    for prog in ("forge-broker", "forge-frontend"):
        if not (BIN / prog).exists():
            raise Failure(f"{BIN / prog} is missing: build first "
                          "(FORGE_BIN_DIR names the programs' folder)")
    procs.start("broker", [str(BIN / "forge-broker")], env)
    procs.start("frontend", [str(BIN / "forge-frontend")], env)

    def healthy():
        procs.check_alive("broker")
        procs.check_alive("frontend")
        return http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    wait_for("the frontend's /healthz to answer 200", healthy)
    return port


def start_prometheus(procs, tmp, rules_path, frontend_port):
    exe = "prometheus"
    if not any((Path(d) / exe).exists()
               for d in os.environ.get("PATH", "").split(os.pathsep)):
        raise Failure("prometheus is not installed: install Debian's "
                      "prometheus package (scripts/install-deps.sh test)")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_path)],
        "scrape_configs": [{
            "job_name": "mini-forge",
            "static_configs": [{"targets": [f"127.0.0.1:{frontend_port}"]}],
        }],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    procs.start("prometheus", [
        exe, f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.console.templates=", "--web.console.libraries=",
    ], {})
    prom = Prometheus(port)

    def ready():
        procs.check_alive("prometheus")
        return http_get(f"{prom.base}/-/ready")[0] == 200
    wait_for("prometheus to be ready", ready)
    return prom


class Load(threading.Thread):
    """Takes keys from both namespaces until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.ok = 0

    def run(self):
        urls = [f"http://127.0.0.1:{self.port}/get-keys?count=20",
                f"http://127.0.0.1:{self.port}/get-keys?count=20&ns={OTHER_NS}"]
        while not self.stop.is_set():
            for url in urls:
                if http_get(url)[0] == 200:
                    self.ok += 1
            self.stop.wait(0.01)  # pacing, not synchronisation


def worker_pids(port):
    """{slot: pid} of the live HTTP workers in namespace default."""
    body = http_get(f"http://127.0.0.1:{port}/metrics")[1]
    return {int(slot): int(pid) for slot, pid in re.findall(
        r'^forge_worker_pid\{namespace="default",slot="(\d+)",kind="worker"\} '
        r"(\d+)$", body, re.M)}


def restart_worker_in_loop(prom, port, kills=4):
    """Kills the worker of the lowest slot `kills` times, each time after
    Prometheus scraped its replacement in that slot."""
    slot = min(wait_for("a worker pid in /metrics", lambda: worker_pids(port)))
    for _ in range(kills):
        pid = worker_pids(port)[slot]
        os.kill(pid, signal.SIGKILL)  # a worker of the frontend we started
        new = wait_for(
            f"a new worker in stats slot {slot} after killing pid {pid}",
            lambda: (lambda p: p if p not in (None, pid) else None)(
                worker_pids(port).get(slot)))
        wait_for(f"Prometheus to scrape pid {new} in slot {slot}",
                 lambda: prom.query(
                     f'forge_worker_pid{{namespace="default",slot="{slot}",'
                     f'kind="worker"}} == {new}'))
    return slot


def metric_families(port):
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        raise Failure(f"/metrics answered {status}")
    return set(re.findall(r"^# TYPE (\S+) ", body, re.M))


def names_in(expr):
    """(forge_* metric names, recording-rule names) an expression uses."""
    records = set(re.findall(r"\b[a-z_]+:[a-z0-9_:]*[a-z0-9_]", expr))
    metrics = set(re.findall(r"(?<![\w:])forge_[a-z0-9_]+", expr))
    return metrics, records


def check_names(where, exprs, families, recorded):
    for expr in exprs:
        metrics, records = names_in(expr)
        if missing := metrics - families:
            raise Failure(f"{where}: {expr!r} names {sorted(missing)}, not in "
                          f"the frontend's /metrics")
        if unknown := records - recorded:
            raise Failure(f"{where}: {expr!r} uses {sorted(unknown)}, not a "
                          f"recording rule of {RULES.name}")


def dashboard_queries():
    """Every PromQL expression of the dashboard, variables substituted."""
    dash = json.loads(DASHBOARD.read_text())
    exprs = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("datasource", {}).get("uid") != "${datasource}":
                    raise Failure(f"panel {p.get('title')!r}: target "
                                  f"{t.get('refId')} does not use the "
                                  "$datasource variable")
                exprs.append(t["expr"])
    walk(dash["panels"])
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)",
                             var["query"]["query"])
            if not m:
                raise Failure(f"variable {var['name']}: expected "
                              f"label_values(SELECTOR, LABEL), got {var['query']}")
            exprs.append(m.group(1))

    def substitute(expr):
        out = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                     lambda m: TEMPLATE_VALUES[m.group(1) or m.group(2)], expr)
        return out
    try:
        return [substitute(e) for e in exprs]
    except KeyError as e:
        raise Failure(f"{DASHBOARD.name}: unknown variable {e}")


def run(tmp):
    procs = Processes(tmp)
    load = None
    try:
        rules, rules_path = test_rules(tmp)
        recorded = {r["record"] for g in rules["groups"] for r in g["rules"]
                    if "record" in r}
        frontend_port = start_stack(procs, tmp)
        load = Load(frontend_port)
        load.start()
        prom = start_prometheus(procs, tmp, rules_path, frontend_port)
        t0 = time.monotonic()

        # 1. Keys flow, the recording rules evaluate, the broker is not down.
        served = wait_for(
            "rate(forge_keys_served_total[30s]) > 0 in Prometheus",
            lambda: prom.query('sum by (namespace) '
                               '(rate(forge_keys_served_total[30s])) > 0'))
        log(f"keys/s by namespace: "
            f"{ {s['metric']['namespace']: s['value'][1] for s in served} }")
        for record in sorted(recorded):
            wait_for(f"recording rule {record} to have a value",
                     lambda: prom.query(record))
        log(f"{len(recorded)} recording rules have values "
            f"({time.monotonic() - t0:.1f} s after prometheus was ready)")
        for alert in ("ForgeBrokerDown", "ForgeWorkerRestartLoop"):
            if prom.firing(alert):
                raise Failure(f"{alert} fires on a healthy stack")

        # 2. A worker restarting in a loop.
        t_loop = time.monotonic()
        slot = restart_worker_in_loop(prom, frontend_port)
        wait_for("ForgeWorkerRestartLoop to fire",
                 lambda: prom.firing("ForgeWorkerRestartLoop"))
        log(f"ForgeWorkerRestartLoop firing after 4 kills in slot {slot} "
            f"({time.monotonic() - t_loop:.1f} s)")

        # 3. Broker killed: ForgeBrokerDown fires for each namespace.
        procs.kill("broker")
        t_kill = time.monotonic()
        firing = wait_for(
            "ForgeBrokerDown to fire for both namespaces",
            lambda: (lambda a: a if {x["labels"]["namespace"] for x in a}
                     == {"default", OTHER_NS} else None)(
                         prom.firing("ForgeBrokerDown")))
        log(f"ForgeBrokerDown firing {time.monotonic() - t_kill:.1f} s after "
            f"the kill: {[a['labels']['namespace'] for a in firing]}")
        load.stop.set()
        load.join()

        # 4. The dashboard's queries and every metric name.
        families = metric_families(frontend_port)
        check_names(RULES.name,
                    [r["expr"] for g in rules["groups"] for r in g["rules"]],
                    families, recorded)
        queries = dashboard_queries()
        check_names(DASHBOARD.name, queries, families, recorded)
        for expr in queries:
            if not prom.query(expr):
                raise Failure(f"{DASHBOARD.name}: {expr!r} evaluates to "
                              "nothing against the live stack")
        log(f"{len(queries)} dashboard queries evaluate; "
            f"{load.ok} key requests answered 200")
    except Failure:
        for name in procs.procs:
            print(f"--- {name} output (tail) ---\n{procs.output(name)}")
        raise
    finally:
        signal.alarm(0)  # the stop below must not be cut short
        if load:
            load.stop.set()
            load.join()
        procs.stop_all()


def remove_segments():
    prefix = f"mini-forge.{SHM_NAME}"
    for entry in Path("/dev/shm").iterdir():
        name = entry.name
        if name == prefix or name.startswith((prefix + ".", prefix + "@")):
            entry.unlink(missing_ok=True)


def on_alarm(signum, frame):
    raise Failure(f"hard time limit of {HARD_LIMIT_S} s reached")


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HARD_LIMIT_S)
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="prom-live-") as tmp:
            run(Path(tmp))
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        signal.alarm(0)
        remove_segments()
    print(f"PASS: deploy.prometheus_live in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
