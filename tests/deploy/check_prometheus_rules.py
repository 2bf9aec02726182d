#!/usr/bin/env python3
"""CTest deploy.prometheus_rules: offline checks of deploy/prometheus/.

  * promtool check rules on mini-forge.rules.yml, promtool test rules on
    every *_test.yml next to it (unit tests with synthetic series), promtool
    check config on the example configurations;
  * every alert has `summary`, `description` and a `runbook` naming a
    section of docs/operations.md that exists;
  * every alert has a unit-test case where it fires and one where it must
    not (exp_alerts empty);
  * every recording rule is used by an alert or the Grafana dashboard.
Prints one PASS/FAIL line per check and exits 1 if any failed. A missing
promtool (Debian package prometheus, scripts/install-deps.sh test) fails.
Standard library + PyYAML only.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "mini-forge.rules.yml"
CONFIGS = [PROM / "prometheus.yml", PROM / "prometheus.compose.yml"]
DASHBOARD = ROOT / "deploy" / "grafana" / "mini-forge.json"
OPERATIONS = ROOT / "docs" / "operations.md"
failed = 0


def report(ok, what, why=""):
    global failed
    print(f"PASS: {what}" if ok else f"FAIL: {what}: {why}")
    failed += not ok


def promtool(*args):
    done = subprocess.run(["promtool", *args], cwd=PROM, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    report(done.returncode == 0, f"promtool {' '.join(args)}",
           done.stdout[-4000:])


def slug(heading):
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def check_annotations(alerts):
    anchors = {slug(h) for h in re.findall(r"^#+ (.*)$",
                                           OPERATIONS.read_text(), re.M)}
    for a in alerts:
        notes = a.get("annotations", {})
        missing = [k for k in ("summary", "description", "runbook")
                   if not notes.get(k)]
        report(not missing, f"{a['alert']} has summary, description, runbook",
               f"missing {missing}")
        runbook = notes.get("runbook", "")
        path, _, anchor = runbook.partition("#")
        report(path == "docs/operations.md" and anchor in anchors,
               f"{a['alert']} runbook {runbook!r} is a docs/operations.md "
               "section", f"no heading with anchor #{anchor} there")


def check_test_cases(alerts):
    cases = {}
    for test_file in sorted(PROM.glob("*_test.yml")):
        for test in yaml.safe_load(test_file.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                fires = bool(case.get("exp_alerts"))
                cases.setdefault(case["alertname"], set()).add(fires)
    for a in alerts:
        seen = cases.get(a["alert"], set())
        report(seen == {True, False},
               f"{a['alert']} is unit-tested firing and not firing",
               f"cases seen: {sorted('fires' if s else 'quiet' for s in seen)}")


def check_records_used(rules):
    users = [r["expr"] for r in rules if "alert" in r]
    users += re.findall(r'"expr": "((?:[^"\\]|\\.)*)"', DASHBOARD.read_text())
    for r in rules:
        if "record" in r:
            used = any(re.search(re.escape(r["record"]) + r"(?![\w:])", u)
                       for u in users)
            report(used, f"recording rule {r['record']} is used",
                   "by no alert and no dashboard panel: remove it")


def main():
    if not shutil.which("promtool"):
        print("FAIL: promtool is not installed: install Debian's prometheus "
              "package (scripts/install-deps.sh test)")
        return 1
    promtool("check", "rules", RULES.name)
    for test_file in sorted(PROM.glob("*_test.yml")):
        promtool("test", "rules", test_file.name)
    for config in CONFIGS:
        promtool("check", "config", config.name)
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"]
             for r in g["rules"]]
    alerts = [r for r in rules if "alert" in r]
    report(len(alerts) >= 10, "the rules define the alerts",
           f"only {len(alerts)}")
    check_annotations(alerts)
    check_test_cases(alerts)
    json.loads(DASHBOARD.read_text())
    check_records_used(rules)
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
