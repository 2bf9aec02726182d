"""Offline checks of deploy/docker and deploy/k8s (run by check_deploy.sh).

Parses every YAML file and checks what keeps a broker/frontend pair working:
one /dev/shm, one uid and one PID namespace per pair, readiness on /healthz,
DB_URL from a Secret, only known configuration keys. Prints one
"PASS: ..." or "FAIL: ..." line per check; the caller counts them.
Usage: check_manifests.py REPO_ROOT
"""

import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(sys.argv[1])
DEPLOY = ROOT / "deploy"


def report(ok, what, why=""):
    print(f"PASS: {what}" if ok else f"FAIL: {what}: {why}")


def load_all(path):
    """All documents of a YAML file, or None after a FAIL line."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except (OSError, yaml.YAMLError) as e:
        report(False, f"{path.relative_to(ROOT)} is well-formed YAML",
               " ".join(str(e).split()))
        return None
    report(True, f"{path.relative_to(ROOT)} is well-formed YAML")
    return docs


def config_keys():
    """The configuration keys documented in README.md (docs/design.md §7)."""
    text = (ROOT / "README.md").read_text()
    keys = set(re.findall(r"^\| `([A-Z_]+)` \| `--", text, re.M))
    report(len(keys) >= 10, "README.md lists the configuration keys",
           f"found only {sorted(keys)} in its '| `KEY` | `--flag`' table")
    return keys


def check_env_keys(where, env, keys):
    unknown = sorted(set(env) - keys)
    report(not unknown, f"{where}: only documented config keys",
           f"unknown {unknown}; allowed: {sorted(keys)}")


def command_of(container):
    return " ".join(container.get("command") or []) + " " + " ".join(
        container.get("args") or [])


# ---------------------------------------------------------------- compose


def check_compose(keys):
    docs = load_all(DEPLOY / "docker" / "compose.yml")
    if docs is None:
        return
    services = docs[0].get("services", {})
    profiles = {p for s in services.values() for p in s.get("profiles", [])}
    report(profiles == {"single", "scaleout", "monitoring"},
           "compose: profiles are 'single', 'scaleout' and 'monitoring'",
           f"found {sorted(profiles)}")
    for profile in ("single", "scaleout"):
        check_profile(profile, {n: s for n, s in services.items()
                                if profile in s.get("profiles", [])}, keys)
    check_monitoring(services)


def mounts(svc):
    """{container path: host path under deploy/docker} of bind mounts."""
    out = {}
    for v in svc.get("volumes", []):
        src, dst = v.split(":")[:2]
        if src.startswith("."):
            out[dst] = (DEPLOY / "docker" / src).resolve()
    return out


def check_monitoring(services):
    """Profile monitoring: Prometheus scrapes every pair's frontend with
    deploy/prometheus's config and rules; Grafana gets the provisioning and
    the dashboard where the provisioning looks for it."""
    where = "compose profile monitoring"
    mon = {n: s for n, s in services.items()
           if "monitoring" in s.get("profiles", [])}
    report(set(mon) == {"prometheus", "grafana"} and all(
        s["profiles"] == ["monitoring"] for s in mon.values()),
           f"{where}: prometheus and grafana, in no other profile",
           f"found {sorted(mon)}")
    if set(mon) != {"prometheus", "grafana"}:
        return
    prom = mounts(mon["prometheus"])
    flag = next((c for c in mon["prometheus"].get("command", [])
                 if c.startswith("--config.file=")), "")
    config = pathlib.PurePosixPath(flag.removeprefix("--config.file="))
    host = prom.get(str(config.parent), pathlib.Path("/nonexistent"))
    report((host / config.name).is_file(),
           f"{where}: prometheus reads a config of deploy/",
           f"{flag!r} is not in a bind mount of an existing file ({prom})")
    if (host / config.name).is_file():
        cfg = yaml.safe_load((host / config.name).read_text())
        rules_ok = all((host / r).is_file() for r in cfg.get("rule_files", []))
        report(rules_ok and cfg.get("rule_files"),
               f"{where}: prometheus loads the rules next to its config",
               f"rule_files {cfg.get('rule_files')} under {host}")
        names = {n for job in cfg.get("scrape_configs", [])
                 for sd in job.get("dns_sd_configs", [])
                 for n in sd.get("names", [])}
        frontends = {n for n, s in services.items()
                     if "forge-frontend" in command_of(s)}
        report(names == frontends,
               f"{where}: prometheus scrapes every pair's frontend",
               f"scrapes {sorted(names)}, frontends {sorted(frontends)}")
    graf = mounts(mon["grafana"])
    prov = graf.get("/etc/grafana/provisioning", pathlib.Path("/nonexistent"))
    report((prov / "datasources").is_dir() and (prov / "dashboards").is_dir(),
           f"{where}: grafana gets deploy/grafana/provisioning",
           f"mounts {graf}")
    dirs = [p["options"]["path"]
            for f in sorted((prov / "dashboards").glob("*.yml"))
            for p in yaml.safe_load(f.read_text()).get("providers", [])]
    dash = [dst for dst, src in graf.items() if src.suffix == ".json"
            and src.is_file() and str(pathlib.PurePosixPath(dst).parent) in dirs]
    report(len(dash) == 1,
           f"{where}: grafana's dashboard provider finds the dashboard",
           f"provider paths {dirs}, mounts {graf}")


def check_profile(profile, services, keys):
    where = f"compose profile {profile}"
    holders = {n for n, s in services.items() if s.get("ipc") == "shareable"}
    brokers = {n: s for n, s in services.items()
               if "forge-broker" in command_of(s)}
    frontends = {n: s for n, s in services.items()
                 if "forge-frontend" in command_of(s)}
    want = 1 if profile == "single" else 2
    report(len(brokers) == want and len(frontends) == want,
           f"{where}: {want} broker(s) and {want} frontend(s)",
           f"brokers {sorted(brokers)}, frontends {sorted(frontends)}")
    # Each pair joins one holder's IPC and PID namespaces; pairs never share.
    pairs = {}
    for name, svc in {**brokers, **frontends}.items():
        ipc, pid = svc.get("ipc", ""), svc.get("pid", "")
        holder = ipc.removeprefix("service:")
        ok = ipc.startswith("service:") and pid == ipc and holder in holders
        report(ok, f"{where}: {name} joins a holder's IPC and PID namespaces",
               f"ipc={ipc!r} pid={pid!r}; want both 'service:<holder>' "
               f"with a holder that has ipc: shareable ({sorted(holders)})")
        pairs.setdefault(holder, []).append(name)
    for holder, members in pairs.items():
        kinds = sorted("broker" if m in brokers else "frontend"
                       for m in members)
        report(kinds == ["broker", "frontend"],
               f"{where}: holder {holder} has one broker and one frontend",
               f"members {sorted(members)}")
    for name, svc in {**brokers, **frontends}.items():
        report("user" not in svc, f"{where}: {name} keeps the image's uid",
               f"user: {svc.get('user')!r} would differ from its peer's")
        check_env_keys(f"{where}: {name}", svc.get("environment") or {}, keys)
    for name, svc in brokers.items():
        url = (svc.get("environment") or {}).get("DB_URL", "")
        if profile == "single":
            mounts = [v.split(":")[1] for v in svc.get("volumes", [])]
            path = url.removeprefix("sqlite:")
            ok = url.startswith("sqlite:") and any(
                path.startswith(m.rstrip("/") + "/") for m in mounts)
            report(ok, f"{where}: {name} keeps SQLite on a volume",
                   f"DB_URL={url!r}, volumes at {mounts}")
        else:
            ok = url.startswith("postgres://") and "@postgres:" in url
            report(ok, f"{where}: {name} uses the postgres service",
                   f"DB_URL={url!r}")
    if profile == "scaleout":
        image = services.get("postgres", {}).get("image", "")
        report(image.startswith("postgres:15"),
               f"{where}: PostgreSQL 15 service", f"image {image!r}")
    ports = [p.split(":")[0] for f in frontends.values()
             for p in f.get("ports", [])]
    report(len(ports) == len(set(ports)) == len(frontends),
           f"{where}: each frontend publishes its own host port",
           f"published {ports}")


# ------------------------------------------------------------- kubernetes


def k8s_objects():
    objs = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in load_all(path) or []:
            objs.setdefault(doc.get("kind"), []).append(doc)
    return objs


def check_k8s(keys, image_uid):
    objs = k8s_objects()
    deps = objs.get("Deployment", [])
    report(len(deps) == 1, "k8s: one Deployment", f"found {len(deps)}")
    if len(deps) != 1:
        return
    pod = deps[0]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod.get("containers", [])}
    broker = next((c for c in containers.values()
                   if "forge-broker" in command_of(c)), None)
    frontend = next((c for c in containers.values()
                     if "forge-frontend" in command_of(c)), None)
    report(broker is not None and frontend is not None,
           "k8s: the pod runs a broker and a frontend container",
           f"containers {sorted(containers)}")
    if broker is None or frontend is None:
        return
    check_pod_sharing(pod, containers, image_uid)
    check_probes(frontend)
    check_db_url(objs, broker, keys)
    for name, c in containers.items():
        res = c.get("resources", {})
        report(bool(res.get("requests")) and bool(res.get("limits")),
               f"k8s: {name} has resource requests and limits", str(res))
    check_service(objs, deps[0], frontend)
    kust = (DEPLOY / "k8s" / "kustomization.yaml")
    listed = (yaml.safe_load(kust.read_text()) or {}).get("resources", [])
    ok = all((DEPLOY / "k8s" / r).is_file() for r in listed) and not any(
        "secret" in r for r in listed)
    report(ok, "k8s: kustomization lists existing files, not the Secret",
           f"resources {listed}")


def check_pod_sharing(pod, containers, image_uid):
    shm = {v["name"] for v in pod.get("volumes", [])
           if (v.get("emptyDir") or {}).get("medium") == "Memory"}
    for name, c in containers.items():
        mounted = {m["name"] for m in c.get("volumeMounts", [])
                   if m.get("mountPath") == "/dev/shm"}
        report(bool(mounted & shm),
               f"k8s: {name} mounts the in-memory emptyDir at /dev/shm",
               f"memory volumes {sorted(shm)}, /dev/shm mounts {mounted}")
    pod_uid = (pod.get("securityContext") or {}).get("runAsUser")
    uids = {(c.get("securityContext") or {}).get("runAsUser", pod_uid)
            for c in containers.values()}
    report(uids == {image_uid},
           "k8s: every container runs as the image's uid",
           f"runAsUser {uids}, image USER {image_uid}")
    report(pod.get("shareProcessNamespace") is True,
           "k8s: shareProcessNamespace (broker liveness is kill(pid, 0))",
           "missing or false")


def check_probes(frontend):
    ready = (frontend.get("readinessProbe") or {}).get("httpGet") or {}
    report(ready.get("path") == "/healthz",
           "k8s: frontend readinessProbe is GET /healthz", str(ready))
    live = frontend.get("livenessProbe") or {}
    on_healthz = (live.get("httpGet") or {}).get("path") == "/healthz"
    ok = bool(live) and (not on_healthz or live.get("failureThreshold", 3)
                         * live.get("periodSeconds", 10) >= 60)
    report(ok, "k8s: frontend liveness does not kill a pod for an empty ring",
           f"livenessProbe {live}")


def check_db_url(objs, broker, keys):
    refs = [e["valueFrom"]["secretKeyRef"] for e in broker.get("env", [])
            if e.get("name") == "DB_URL" and "secretKeyRef" in
            (e.get("valueFrom") or {})]
    report(len(refs) == 1, "k8s: broker DB_URL comes from a Secret",
           f"env {broker.get('env')}")
    secrets = {s["metadata"]["name"]: s for s in objs.get("Secret", [])}
    for ref in refs:
        s = secrets.get(ref.get("name"), {})
        data = {**(s.get("data") or {}), **(s.get("stringData") or {})}
        report(ref.get("key") in data,
               f"k8s: example Secret {ref.get('name')} has key {ref.get('key')}",
               f"secrets {sorted(secrets)}")
    for cm in objs.get("ConfigMap", []):
        data = cm.get("data") or {}
        check_env_keys(f"k8s ConfigMap {cm['metadata']['name']}", data, keys)
        report("DB_URL" not in data, "k8s: no DB_URL in the ConfigMap",
               "it may hold a password: keep it in the Secret")


def check_service(objs, dep, frontend):
    labels = dep["spec"]["template"]["metadata"].get("labels", {})
    ports = {p.get("name") for p in frontend.get("ports", [])} | {
        p.get("containerPort") for p in frontend.get("ports", [])}
    for svc in objs.get("Service", []):
        sel = svc["spec"].get("selector", {})
        report(bool(sel) and sel.items() <= labels.items(),
               f"k8s: Service {svc['metadata']['name']} selects the pods",
               f"selector {sel}, pod labels {labels}")
        targets = [p.get("targetPort") for p in svc["spec"].get("ports", [])]
        report(bool(targets) and all(t in ports for t in targets),
               f"k8s: Service {svc['metadata']['name']} targets the frontend",
               f"targetPort {targets}, frontend ports {ports}")


def check_k8s_fields():
    """No unknown field anywhere, against the API models of Debian's
    python3-kubernetes (optional: SKIP when it is not installed)."""
    try:
        import kubernetes.client.models as models
    except ImportError:
        print("SKIP: k8s strict field check (python3-kubernetes not installed)")
        return
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") == "Kustomization":
                continue
            version = doc["apiVersion"].split("/")[-1]
            typ = version[0].upper() + version[1:] + doc["kind"]
            errors = []
            walk_fields(models, doc, typ, doc["kind"], errors)
            report(not errors and hasattr(models, typ),
                   f"k8s: {path.name} {doc['kind']} has only known fields",
                   "; ".join(errors) or f"no model {typ}")


def walk_fields(models, obj, typ, where, errors):
    if obj is None or typ in ("str", "int", "bool", "float", "object"):
        return
    if m := re.fullmatch(r"list\[(.+)\]", typ):
        for i, item in enumerate(obj):
            walk_fields(models, item, m[1], f"{where}[{i}]", errors)
        return
    if m := re.fullmatch(r"dict\((.+), (.+)\)", typ):
        for key, item in obj.items():
            walk_fields(models, item, m[2], f"{where}.{key}", errors)
        return
    cls = getattr(models, typ, None)
    if cls is None or not isinstance(obj, dict):
        errors.append(f"{where}: not a {typ}")
        return
    attrs = {v: k for k, v in cls.attribute_map.items()}
    for key, item in obj.items():
        if key not in attrs:
            errors.append(f"{where}.{key}: unknown field of {typ}")
        else:
            walk_fields(models, item, cls.openapi_types[attrs[key]],
                        f"{where}.{key}", errors)


# ------------------------------------------------------------- Dockerfile


def check_dockerfile():
    """Returns the numeric uid of the image's USER (or None)."""
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    lines = [l.strip() for l in text.splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    froms = [l for l in lines if l.upper().startswith("FROM ")]
    report(len(froms) >= 2 and all(re.match(r"FROM debian:12(-slim)?\b", f)
                                   for f in froms),
           "Dockerfile: multi-stage on Debian 12", f"FROM lines {froms}")
    for flag in ("-DFORGE_BUILD_TESTS=OFF", "-DFORGE_BUILD_BENCH=OFF",
                 "-DCMAKE_BUILD_TYPE=Release"):
        report(flag in text, f"Dockerfile: cmake {flag}", "missing")
    users = [l.split()[1] for l in lines if l.upper().startswith("USER ")]
    uid = users[-1].split(":")[0] if users else ""
    report(uid.isdigit() and int(uid) != 0,
           "Dockerfile: runs as a numeric non-root USER", f"USER {users}")
    report("EXPOSE 8080" in lines, "Dockerfile: EXPOSE 8080", "missing")
    report(any(l.startswith("CMD") and "forge-frontend" in l for l in lines),
           "Dockerfile: CMD is forge-frontend", "missing")
    return int(uid) if uid.isdigit() else None


def main():
    keys = config_keys()
    uid = check_dockerfile()
    check_compose(keys)
    check_k8s(keys, uid)
    check_k8s_fields()


main()
