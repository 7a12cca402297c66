#!/usr/bin/env python3
"""Edit-rebuild benchmark driver: builds each example app several ways on one daemon, interleaved.

For every repetition, app and variant (variants in a rotated order per repetition, so drift hits
all of them alike) it runs one sequence on a fresh copy of the example:

  prune   `docker builder prune -af` (build cache and cache mounts: cold is really cold)
  cold    first build
  app     app-source edit (a unique comment appended to the app's source), --app-edits times
  dep     dependency edit (one package added to the manifest and lockfile, plus a unique marker)
  noop    rebuild with nothing changed, --noops times

Every edit leaves a content state never built before. Each build is timed as the wall time of the
client command (`--progress=plain`); its log is kept, and whether the install step was CACHED is
recorded and compared with what the phase should give. After the repetitions, --timeline-runs
no-op builds per variant with `--progress=rawjson` give the daemon's own timestamps, which split a
no-op build into client start, frontend container start, frontend work and the build proper.

Writes one raw JSON file (--out); bench/report.py turns it into the summary, table and chart.
Expects DOCKER_HOST etc. from scripts/docker-env.sh, and the images named below to exist.
"""

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"

APPS = {
    "fastapi": {
        "base": "local/strata-python:test",
        "source": "app/main.py",
        "comment": "#",
        "install": "pip install",  # in the install step's progress name, for every variant
    },
    "express": {
        "base": "local/strata-node:test",
        "source": "server.js",
        "comment": "//",
        "install": "npm ci",
    },
}
VARIANTS = ["strata", "naive", "seed", "best", "best-syntax"]
PHASES = ["cold", "app", "dep", "noop"]
PY_DEP = "six==1.16.0"
NPM_DEP = "is-number@7.0.0"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def docker(*args, check=True):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True)


# --------------------------------------------------------------------------------------------
# workspaces and edits


class Workspace:
    """A copy of one example for one variant; edits are applied here."""

    def __init__(self, root, app, variant, frontend):
        self.app, self.variant = app, variant
        self.dir = root / f"{app}-{variant}"
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.copytree(REPO / "examples" / app, self.dir)
        # Same local base for every variant: the spec gets a `base` line (as tests/e2e.rs does),
        # the Dockerfiles get --build-arg BASE. The syntax line names the frontend image built for
        # this run, so other users of local/strata:dev on the daemon do not change what is measured.
        spec = (self.dir / "strata.toml").read_text().split("\n", 1)
        assert spec[0].startswith("# syntax="), "examples start with the syntax line"
        (self.dir / "strata.toml").write_text(
            f"# syntax={frontend}\nbase = \"{APPS[app]['base']}\"\n{spec[1]}"
        )

    def edit_source(self, token):
        a = APPS[self.app]
        with open(self.dir / a["source"], "a") as f:
            f.write(f"{a['comment']} bench edit {token}\n")

    def edit_deps(self, token, npm_dep_dir):
        if self.app == "fastapi":
            with open(self.dir / "requirements.txt", "a") as f:
                f.write(f"{PY_DEP}\n# bench {token}\n")
        else:
            # package.json + package-lock.json with the package added (made once by the host's
            # npm); the description carries the marker (npm ci ignores it).
            shutil.copy(npm_dep_dir / "package-lock.json", self.dir / "package-lock.json")
            pkg = json.loads((npm_dep_dir / "package.json").read_text())
            pkg["description"] = f"{pkg.get('description', '')} (bench {token})"
            (self.dir / "package.json").write_text(json.dumps(pkg, indent=2) + "\n")

    def build_args(self, engine, tag, df_frontend):
        if self.variant == "strata":
            f, extra = self.dir / "strata.toml", []
        else:
            name = "best" if self.variant == "best-syntax" else self.variant
            f = BENCH / "apps" / self.app / f"{name}.Dockerfile"
            extra = ["--build-arg", f"BASE={APPS[self.app]['base']}"]
            if self.variant == "best-syntax":
                # The same Dockerfile as `best`, through the Dockerfile frontend as an image.
                extra += ["--build-arg", f"BUILDKIT_SYNTAX={df_frontend}"]
        cmd = ["buildx", "build"] if engine == "26" else ["build"]
        return cmd + ["-t", tag, "-f", str(f), *extra, str(self.dir)]


def prepare_npm_dep(work):
    """package.json + package-lock.json of the express example with one more package, from the
    host's npm (registry reachable); reused by every dependency edit."""
    out = work / "npm-dep"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copy(REPO / "examples" / "express" / f, out / f)
    subprocess.run(
        ["npm", "install", "--package-lock-only", "--save-exact", "--ignore-scripts",
         "--no-audit", "--no-fund", NPM_DEP],
        cwd=out, check=True, stdout=subprocess.DEVNULL,
    )
    name = NPM_DEP.rsplit("@", 1)[0]
    assert name in json.loads((out / "package.json").read_text())["dependencies"]
    assert f"node_modules/{name}" in json.loads((out / "package-lock.json").read_text())["packages"]
    return out


# --------------------------------------------------------------------------------------------
# builds


def install_cached(log_text, marker):
    """Whether the install vertex (progress name containing `marker`) was CACHED; None if absent."""
    number = None
    for line in log_text.splitlines():
        num, _, rest = line.partition(" ")
        if num.startswith("#") and marker in rest and not rest.startswith(("CACHED", "DONE")):
            number = num
            break
    if number is None:
        return None
    return f"{number} CACHED" in log_text.splitlines()


def expected_cached(variant, phase):
    if phase in ("cold", "dep"):
        return False
    if phase == "app":
        return variant != "naive"
    return True


class Runner:
    def __init__(self, args, logs):
        self.args, self.logs = args, logs
        self.builds = []
        self.npm_dep = None

    def build(self, ws, phase, index, rep, progress="plain"):
        tag = f"strata-bench/{ws.app}:{ws.variant}"
        cmd = ["docker", *ws.build_args(self.args.engine, tag, self.args.df_frontend)]
        cmd.insert(3 if self.args.engine == "26" else 2, f"--progress={progress}")
        path = self.logs / f"rep{rep}" / f"{ws.app}-{ws.variant}-{phase}{index}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        load = os.getloadavg()[0]
        started = time.time()
        t0 = time.perf_counter()
        with open(path, "w") as out:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
        seconds = time.perf_counter() - t0
        text = path.read_text()
        if rc != 0:
            sys.exit(f"build failed ({' '.join(cmd)}); log: {path}\n{text[-3000:]}")
        record = {
            "rep": rep, "app": ws.app, "variant": ws.variant, "phase": phase, "index": index,
            "seconds": seconds, "started": started, "load1": load,
            "log": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
        }
        if progress == "plain" and phase in PHASES:
            cached = install_cached(text, APPS[ws.app]["install"])
            record["install_cached"] = cached
            record["install_as_expected"] = cached == expected_cached(ws.variant, phase)
            if not record["install_as_expected"]:
                log(f"WARNING: {ws.app}/{ws.variant} {phase}: install CACHED={cached}, "
                    f"expected {expected_cached(ws.variant, phase)} (log {path})")
        return record, text

    def sequence(self, rep, app, variant, token):
        ws = Workspace(Path(self.args.work), app, variant, self.args.frontend)
        t0 = time.perf_counter()
        docker("builder", "prune", "-af")
        prune = time.perf_counter() - t0
        steps = [("cold", None)]
        steps += [("app", ws.edit_source)] * self.args.app_edits
        steps += [("dep", lambda t: ws.edit_deps(t, self.npm_dep))]
        steps += [("noop", None)] * self.args.noops
        counts, images = {}, set()
        for phase, edit in steps:
            index = counts.get(phase, 0)
            counts[phase] = index + 1
            if edit:
                edit(f"{token}-{app}-{variant}-{phase}{index}")
            rec, text = self.build(ws, phase, index, rep)
            rec["prune_seconds"] = prune if phase == "cold" else None
            self.builds.append(rec)
            images.update(l.split("sha256:")[1].split()[0] for l in text.splitlines()
                          if "writing image sha256:" in l)
            log(f"rep {rep} {app:8} {variant:12} {phase}{index}: {rec['seconds']:6.2f} s"
                f"  install cached={rec.get('install_cached')}")
        # Keep the disk from filling with superseded images of this sequence (ours only).
        current = docker("image", "inspect", "-f", "{{.Id}}", f"strata-bench/{app}:{variant}",
                         check=False).stdout.strip().removeprefix("sha256:")
        stale = [i for i in images if i != current]
        if stale:
            docker("rmi", *stale, check=False)

    def timeline(self, app, variants, runs):
        """No-op builds with rawjson progress: daemon timestamps for every vertex."""
        wss = {v: Workspace(Path(self.args.work), app, v, self.args.frontend) for v in variants}
        for ws in wss.values():  # warm: the last prune left only one variant cached
            self.build(ws, "warm", 0, "timeline")
        out = []
        for i in range(runs):
            for v in variants[i % len(variants):] + variants[:i % len(variants)]:
                rec, text = self.build(wss[v], "noop", i, "timeline", progress="rawjson")
                rec.update(split_timeline(text, rec["started"], rec["seconds"]))
                out.append(rec)
        return out


def parse_ts(s):
    if not s:
        return None
    day, _, frac = s.rstrip("Z").partition(".")
    base = datetime.datetime.strptime(day, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return base + float("0." + (frac or "0"))


# Vertices a frontend causes before it returns (its loads and image lookups, and the gateway's
# image); everything else belongs to solving the returned result.
FRONTEND_VERTICES = ("[internal] load build definition", "[internal] load .dockerignore",
                     "[internal] load manifest list", "[internal] load metadata",
                     "resolve image config", "docker-image://")
GATEWAY_IMAGE = ("resolve image config for docker-image://", "docker-image://")


def split_timeline(text, started, seconds):
    """Splits a rawjson no-op build into stages (ms), from the daemon's vertex timestamps:
    client    client start to the first vertex (CLI and plugin start, session setup)
    gateway   frontend image resolved to the first vertex after it (the frontend container and
              process start); 0 for the built-in Dockerfile frontend
    frontend  the rest until the first vertex of the returned result (reading the definition,
              the frontend's loads and lookups, Return, the container's exit)
    build     the returned result (all cached) until the export ends
    exit      end of the export to the client's exit"""
    dec, i, vs = json.JSONDecoder(), 0, {}
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:  # a non-JSON line (e.g. a warning)
            i = text.find("\n", i) + 1 or len(text)
            continue
        for v in obj.get("vertexes") or []:
            e = vs.setdefault(v["digest"], {"name": v.get("name", "")})
            for k in ("started", "completed"):
                if v.get(k):
                    e[k] = parse_ts(v[k])
    vs = sorted((v for v in vs.values() if "started" in v), key=lambda v: v["started"])
    if not vs:
        return {"stages_ms": None}
    end = lambda v: v.get("completed", v["started"])  # noqa: E731
    first = vs[0]["started"]
    gateway = 0.0
    image = [v for v in vs if v["name"].startswith(GATEWAY_IMAGE)]
    if image:
        ready = max(end(v) for v in image)
        after = [v for v in vs if v["started"] > ready and not v["name"].startswith(GATEWAY_IMAGE)]
        if after:
            gateway = after[0]["started"] - ready
    result = [v for v in vs if not v["name"].startswith(FRONTEND_VERTICES)]
    result_start = min(v["started"] for v in result) if result else max(end(v) for v in vs)
    done = max(end(v) for v in vs)
    stages = {
        "client": first - started,
        "gateway": gateway,
        "frontend": result_start - first - gateway,
        "build": done - result_start,
    }
    stages = {k: v * 1e3 for k, v in stages.items()}
    stages["exit"] = seconds * 1e3 - sum(stages.values())
    return {"stages_ms": stages}


# --------------------------------------------------------------------------------------------
# metadata


def meta(args):
    def run(*cmd):
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    version = json.loads(run("docker", "version", "--format", "{{json .}}") or "{}")
    server = version.get("Server") or {}
    components = {c["Name"]: c["Version"] for c in server.get("Components") or []}
    bk = None
    for line in (run("docker", "buildx", "inspect") or "").splitlines():
        if line.startswith("BuildKit version:"):
            bk = line.split(":", 1)[1].strip()
    cpu = hypervisor = None
    for line in (run("lscpu") or "").splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("Hypervisor vendor:"):
            hypervisor = line.split(":", 1)[1].strip()
    mem = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    images = {}
    for ref in (args.frontend, args.df_frontend, *(a["base"] for a in APPS.values())):
        images[ref] = json.loads(run("docker", "image", "inspect", "-f",
                                     '{"id":"{{.Id}}","size":{{.Size}}}', ref) or "null")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "engine": args.engine,
        "docker": {
            "client": (version.get("Client") or {}).get("Version"),
            "server": server.get("Version"),
            "containerd": components.get("containerd"),
            "runc": components.get("runc"),
            "buildx": run("docker", "buildx", "version"),
            "buildkit_reported": bk,
        },
        "machine": {
            "cpu": cpu, "cores": os.cpu_count(), "mem_gib": mem,
            "kernel": platform.release(), "hypervisor": hypervisor,
        },
        "git": {
            "commit": run("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
            "dirty": bool(run("git", "-C", str(REPO), "status", "--porcelain", "--", "src",
                              "Cargo.toml", "Cargo.lock")),
        },
        "images": images,
        "config": {
            "reps": args.reps, "app_edits": args.app_edits, "noops": args.noops,
            "timeline_runs": args.timeline_runs, "apps": args.apps, "variants": args.variants,
            "frontend": args.frontend, "dockerfile_frontend": args.df_frontend,
            "py_dep": PY_DEP, "npm_dep": NPM_DEP,
        },
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--engine", default="26", choices=["26", "20"])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--app-edits", type=int, default=2, help="app-source edits per sequence")
    p.add_argument("--noops", type=int, default=3, help="no-op rebuilds per sequence")
    p.add_argument("--timeline-runs", type=int, default=10,
                   help="rawjson no-op builds per variant for the no-op breakdown (0: none)")
    p.add_argument("--apps", default="fastapi,express")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--frontend", default="local/strata:bench")
    p.add_argument("--df-frontend", default="local/dockerfile-frontend:debian")
    p.add_argument("--work", default="/var/tmp/strata/bench/work")
    p.add_argument("--logs", required=True, help="directory for the build logs")
    p.add_argument("--out", required=True, help="raw results (JSON)")
    p.add_argument("--seed", type=int, default=None, help="seed of the per-run token")
    args = p.parse_args()
    if args.engine == "20" and args.timeline_runs:
        log("Docker 20.10's CLI has no rawjson progress: no no-op breakdown on engine 20")
        args.timeline_runs = 0
    args.apps = args.apps.split(",")
    args.variants = args.variants.split(",")
    for v in args.variants:
        assert v in VARIANTS, f"unknown variant {v}"

    work, logs = Path(args.work), Path(args.logs)
    shutil.rmtree(logs, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    runner = Runner(args, logs)
    result = {"meta": meta(args)}
    if "express" in args.apps:
        runner.npm_dep = prepare_npm_dep(work)
    token = f"{int(time.time())}-{random.Random(args.seed).getrandbits(32):08x}"
    started = time.perf_counter()
    for rep in range(args.reps):
        for a, app in enumerate(args.apps):
            k = (rep + a) % len(args.variants)
            for variant in args.variants[k:] + args.variants[:k]:
                runner.sequence(rep, app, variant, f"{token}-r{rep}")
    result["builds"] = runner.builds
    timeline_variants = [v for v in ("strata", "best", "best-syntax") if v in args.variants]
    result["timeline"] = []
    if args.timeline_runs:
        for app in args.apps:
            result["timeline"] += runner.timeline(app, timeline_variants, args.timeline_runs)
    result["meta"]["duration_seconds"] = time.perf_counter() - started
    result["meta"]["load_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.out} ({len(runner.builds)} builds in {result['meta']['duration_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
