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

# Tags of their own (bench/run.sh makes them from scripts/base-images.sh's): other worktrees'
# base-images.sh re-import local/strata-python:test from their own recipe while a run goes on (seen:
# a python image without pip, mid-run).
PY_BASE = "local/strata-bench-python:test"
NODE_BASE = "local/strata-bench-node:test"
# The official images the compiled languages' specs and best Dockerfiles name, replaced by the
# local stand-ins through named contexts (as tests/e2e.rs does): the same for every variant.
CONTEXTS = {
    "go": {"golang:1.24": "local/strata-go:test",
           "gcr.io/distroless/static-debian12:nonroot": "local/strata-static:test"},
    "rust": {"rust:1-slim-bookworm": "local/strata-rust:test",
             "debian:bookworm-slim": "local/strata-debian:test"},
    "java": {"maven:3-eclipse-temurin-21": "local/strata-java:test",
             "eclipse-temurin:21-jre": "local/strata-jre:test"},
}


def python_app(manager, install, best_install=None, source="app/main.py", manifest="pyproject.toml"):
    return {"kind": "interpreted", "manager": manager, "base": PY_BASE, "source": source,
            "comment": "#", "install": {"strata": install, "best": best_install or install},
            "dep_marker": (manifest, "#")}


def node_app(manager, install, best_install=None, source="server.js", extra_spec=""):
    return {"kind": "interpreted", "manager": manager, "base": NODE_BASE, "source": source,
            "comment": "//", "install": {"strata": install, "best": best_install or install},
            "dep_marker": ("package.json", "json"), "extra_spec": extra_spec}


# Per app: the base image (interpreted: a `base` line in the spec, ARG BASE in the Dockerfiles) or
# the named contexts (compiled), the source file an app edit touches, the progress-name marker of
# the dependency step per variant (best-syntax, naive and seed use best's unless named), where the
# dependency edit's unique marker goes (file, comment syntax), and for Rust the line that shows a
# dependency compiling (an app edit must never show it).
APPS = {
    "fastapi": python_app("pip", "pip install -r requirements.txt", "pip install",
                          manifest="requirements.txt"),
    "uv": python_app("uv", "uv sync --locked --no-install-project"),
    "poetry": python_app("poetry", "--no-root --no-directory"),
    "pipenv": python_app("pipenv", "pipenv install --deploy", "pipenv sync", manifest="Pipfile"),
    "pdm": python_app("pdm", "pdm install --check"),
    "express": node_app("npm", "npm ci"),
    "pnpm": node_app("pnpm", "install --frozen-lockfile", "--frozen-lockfile"),
    "yarn-classic": node_app("yarn 1", "yarn install --frozen-lockfile"),
    "yarn-berry": node_app("yarn 4", "yarn install --immutable"),
    # Bun reads its own CA list; the proxy's CA is in the system bundle (as tests/e2e.rs).
    "bun": node_app("bun", "bun install --frozen-lockfile", source="server.ts",
                    extra_spec='build_env = { NODE_EXTRA_CA_CERTS = "/etc/ssl/certs/ca-certificates.crt" }\n'),
    "go": {"kind": "compiled", "manager": "go", "contexts": CONTEXTS["go"], "source": "main.go",
           "comment": "//", "install": {"strata": "go mod download", "best": "go mod download"},
           "dep_marker": ("go.mod", "//"), "toolchain": "local/strata-go:test",
           "runtime": "local/strata-static:test"},
    "rust": {"kind": "compiled", "manager": "cargo", "contexts": CONTEXTS["rust"],
             "source": "crates/greeting/src/lib.rs", "comment": "//",
             "install": {"strata": "[deps 3/3] cargo build", "best": "cargo chef cook",
                         "best-cachemount": None},
             "dep_marker": ("Cargo.toml", "#"), "compiles_dep": "Compiling httparse",
             "toolchain": "local/strata-rust:test", "runtime": "local/strata-debian:test"},
    "java-maven": {"kind": "compiled", "manager": "maven", "contexts": CONTEXTS["java"],
                   "source": "src/main/java/example/Main.java", "comment": "//",
                   "install": {"strata": "go-offline-maven-plugin",
                               "best": "dependency:go-offline"},
                   "dep_marker": ("pom.xml", "xml"), "toolchain": "local/strata-java:test",
                   "runtime": "local/strata-jre:test"},
}
# naive and seed exist for the first two apps only (the old benchmark's reference points).
VARIANTS = ["strata", "naive", "seed", "best", "best-cachemount", "best-syntax"]
DOCKERFILE_VARIANTS = {"naive", "seed", "best", "best-cachemount"}
PHASES = ["cold", "app", "dep", "noop"]
PY_DEP = "six==1.16.0"
NPM_DEP = "is-number@7.0.0"


def app_variants(app, variants, compiled_syntax=False):
    """The requested variants this app has a Dockerfile for. best-syntax (the fixed cost of a
    gateway frontend, which the app-edit and no-op targets of the package managers compare with)
    only for compiled apps when asked: their targets are against best, and a cold Rust best-syntax
    build compiles cargo-chef once more (minutes)."""
    have = {p.stem for p in (BENCH / "apps" / app).glob("*.Dockerfile")}
    syntax = "best" in have and (compiled_syntax or APPS[app]["kind"] != "compiled")
    return [v for v in variants if v == "strata" or (v == "best-syntax" and syntax)
            or v in have]


def install_marker(app, variant):
    markers = APPS[app]["install"]
    return markers.get(variant, markers["best"]) if variant != "strata" else markers["strata"]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def docker(*args, check=True):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True)


def prune_cache():
    """`docker builder prune -af`. On a daemon shared with running tests the CLI was seen to hang
    after the prune was done (a second prune right after answered at once with 0 B): so it gets a
    deadline, and one more prune after it confirms the cache is empty."""
    for attempt in range(3):
        try:
            subprocess.run(["docker", "builder", "prune", "-af"], check=True, capture_output=True,
                           text=True, timeout=60)
            return
        except subprocess.TimeoutExpired:
            log(f"WARNING: docker builder prune took over 60 s (attempt {attempt + 1}); again")
    sys.exit("docker builder prune does not finish")


# --------------------------------------------------------------------------------------------
# workspaces and edits


class Workspace:
    """A copy of one example for one variant; edits are applied here."""

    def __init__(self, root, app, variant, frontend):
        self.app, self.variant = app, variant
        self.dir = root / f"{app}-{variant}"
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.copytree(REPO / "examples" / app, self.dir)
        # The syntax line names the frontend image built for this run, so other users of
        # local/strata:dev on the daemon do not change what is measured. Interpreted apps get the
        # local base as a `base` line (as tests/e2e.rs does; the Dockerfiles get --build-arg
        # BASE); compiled apps keep their spec and get named contexts (build_args).
        spec = (self.dir / "strata.toml").read_text().split("\n", 1)
        assert spec[0].startswith("# syntax="), "examples start with the syntax line"
        a = APPS[app]
        extra = f"base = \"{a['base']}\"\n" if "base" in a else ""
        extra += a.get("extra_spec", "")
        (self.dir / "strata.toml").write_text(f"# syntax={frontend}\n{extra}{spec[1]}")

    def edit_source(self, token):
        a = APPS[self.app]
        with open(self.dir / a["source"], "a") as f:
            f.write(f"{a['comment']} bench edit {token}\n")

    def edit_deps(self, token):
        """The manifest and lockfile with one package added (bench/apps/<app>/dep-edit/, made by
        the tool itself: bench/apps/make-dep-edits.sh), plus a unique marker the tools ignore."""
        src = BENCH / "apps" / self.app / "dep-edit"
        for f in src.rglob("*"):
            if f.is_file():
                shutil.copy(f, self.dir / f.relative_to(src))
        name, syntax = APPS[self.app]["dep_marker"]
        path = self.dir / name
        if syntax == "json":  # package.json: the description (no tool's frozen install reads it)
            pkg = json.loads(path.read_text())
            pkg["description"] = f"{pkg.get('description', '')} (bench {token})"
            path.write_text(json.dumps(pkg, indent=2) + "\n")
        else:
            line = f"<!-- bench {token} -->" if syntax == "xml" else f"{syntax} bench {token}"
            with open(path, "a") as f:
                f.write(f"\n{line}\n")

    def build_args(self, engine, tag, df_frontend):
        a = APPS[self.app]
        if self.variant == "strata":
            f, extra = self.dir / "strata.toml", []
        else:
            name = "best" if self.variant == "best-syntax" else self.variant
            f = BENCH / "apps" / self.app / f"{name}.Dockerfile"
            extra = ["--build-arg", f"BASE={a['base']}"] if "base" in a else []
            if self.variant == "best-syntax":
                # The same Dockerfile as `best`, through the Dockerfile frontend as an image.
                extra += ["--build-arg", f"BUILDKIT_SYNTAX={df_frontend}"]
        for name, image in a.get("contexts", {}).items():
            extra += ["--build-context", f"{name}=docker-image://{image}"]
        cmd = ["buildx", "build"] if engine == "26" else ["build"]
        return cmd + ["-t", tag, "-f", str(f), *extra, str(self.dir)]


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


class BuildFailed(Exception):
    pass


class Runner:
    def __init__(self, args, logs):
        self.args, self.logs = args, logs
        self.builds = []
        self.image_sizes = {}
        self.failures = []

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
            try:
                # A deadline: a registry connection was seen to stall for minutes (npm through
                # the proxy), and one build must not hold up an hour's run.
                timeout = self.args.build_timeout * (3 if ws.app == "rust" else 1)
                rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        seconds = time.perf_counter() - t0
        text = path.read_text()
        if rc != 0:
            # The rest of this sequence is skipped; the run goes on (a whole run is an hour).
            log(f"ERROR: build failed ({' '.join(cmd)}); log: {path}\n{text[-2000:]}")
            self.failures.append({"rep": rep, "app": ws.app, "variant": ws.variant,
                                  "phase": phase, "log": str(path)})
            raise BuildFailed()
        record = {
            "rep": rep, "app": ws.app, "variant": ws.variant, "phase": phase, "index": index,
            "seconds": seconds, "started": started, "load1": load,
            "log": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
        }
        if progress == "plain" and phase in PHASES:
            marker = install_marker(ws.app, ws.variant)
            if marker is None:  # no dependency step of its own (Rust's cache-mount Dockerfile)
                record["install_cached"] = None
                record["install_as_expected"] = True
            else:
                cached = install_cached(text, marker)
                record["install_cached"] = cached
                record["install_as_expected"] = cached == expected_cached(ws.variant, phase)
                if not record["install_as_expected"]:
                    log(f"WARNING: {ws.app}/{ws.variant} {phase}: install CACHED={cached}, "
                        f"expected {expected_cached(ws.variant, phase)} (log {path})")
            compiles = APPS[ws.app].get("compiles_dep")
            if compiles:
                record["compiled_dependency"] = compiles in text
                if phase == "app" and record["compiled_dependency"]:
                    log(f"WARNING: {ws.app}/{ws.variant} app edit compiled a dependency ({path})")
        return record, text

    def sequence(self, rep, app, variant, token):
        ws = Workspace(Path(self.args.work), app, variant, self.args.frontend)
        t0 = time.perf_counter()
        prune_cache()
        prune = time.perf_counter() - t0
        steps = [("cold", None)]
        steps += [("app", ws.edit_source)] * self.args.app_edits
        steps += [("dep", ws.edit_deps)]
        compiled = APPS[app]["kind"] == "compiled"
        steps += [("noop", None)] * (self.args.compiled_noops if compiled else self.args.noops)
        counts, images = {}, set()
        for phase, edit in steps:
            index = counts.get(phase, 0)
            counts[phase] = index + 1
            if edit:
                edit(f"{token}-{app}-{variant}-{phase}{index}")
            try:
                rec, text = self.build(ws, phase, index, rep)
            except BuildFailed:
                return False
            rec["prune_seconds"] = prune if phase == "cold" else None
            self.builds.append(rec)
            images.update(l.split("sha256:")[1].split()[0] for l in text.splitlines()
                          if "writing image sha256:" in l)
            log(f"rep {rep} {app:8} {variant:12} {phase}{index}: {rec['seconds']:6.2f} s"
                f"  install cached={rec.get('install_cached')}")
        # Keep the disk from filling with superseded images of this sequence (ours only).
        current = docker("image", "inspect", "-f", "{{.Id}}", f"strata-bench/{app}:{variant}",
                         check=False).stdout.strip().removeprefix("sha256:")
        size = docker("image", "inspect", "-f", "{{.Size}}", f"strata-bench/{app}:{variant}",
                      check=False).stdout.strip()
        if size.isdigit():
            self.image_sizes.setdefault(app, {})[variant] = int(size)
        stale = [i for i in images if i != current]
        if stale:
            docker("rmi", *stale, check=False)
        return True

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
    refs = [args.frontend, args.df_frontend]
    for app in args.apps:
        a = APPS[app]
        refs += [a[k] for k in ("base", "toolchain", "runtime") if k in a]
    images = {}
    for ref in dict.fromkeys(refs):
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
            "reps": args.reps, "compiled_reps": args.compiled_reps, "app_edits": args.app_edits,
            "noops": args.noops, "compiled_noops": args.compiled_noops,
            "timeline_apps": args.timeline_apps,
            "managers": {app: APPS[app]["manager"] for app in args.apps},
            "kinds": {app: APPS[app]["kind"] for app in args.apps},
            "app_variants": {app: app_variants(app, args.variants, args.compiled_syntax)
                             for app in args.apps},
            "images_of": {app: {k: APPS[app][k] for k in ("base", "toolchain", "runtime")
                                if k in APPS[app]} for app in args.apps},
            "timeline_runs": args.timeline_runs, "apps": args.apps, "variants": args.variants,
            "frontend": args.frontend, "dockerfile_frontend": args.df_frontend,
            "py_dep": PY_DEP, "npm_dep": NPM_DEP,
            "dep_edits": {app: sorted(str(f.relative_to(BENCH / "apps" / app / "dep-edit"))
                                      for f in (BENCH / "apps" / app / "dep-edit").rglob("*")
                                      if f.is_file()) for app in args.apps},
        },
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--engine", default="26", choices=["26", "20"])
    p.add_argument("--reps", type=int, default=5, help="repetitions of interpreted apps")
    p.add_argument("--compiled-reps", type=int, default=2,
                   help="repetitions of compiled apps (go, rust, java-maven: minutes per cold build)")
    p.add_argument("--app-edits", type=int, default=2, help="app-source edits per sequence")
    p.add_argument("--noops", type=int, default=3, help="no-op rebuilds per sequence")
    p.add_argument("--compiled-noops", type=int, default=2,
                   help="no-op rebuilds per sequence of a compiled app")
    p.add_argument("--timeline-runs", type=int, default=10,
                   help="rawjson no-op builds per variant for the no-op breakdown (0: none)")
    p.add_argument("--timeline-apps", default="fastapi,express",
                   help="apps of the no-op breakdown")
    p.add_argument("--apps", default=",".join(APPS), help=f"subset of {','.join(APPS)}")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--frontend", default="local/strata:bench")
    p.add_argument("--df-frontend", default="local/dockerfile-frontend:debian")
    p.add_argument("--work", default="/var/tmp/strata/bench/work")
    p.add_argument("--logs", required=True, help="directory for the build logs")
    p.add_argument("--out", required=True, help="raw results (JSON)")
    p.add_argument("--seed", type=int, default=None, help="seed of the per-run token")
    p.add_argument("--compiled-syntax", action="store_true",
                   help="best-syntax for go, rust and java-maven too")
    p.add_argument("--build-timeout", type=float, default=300,
                   help="seconds one build may take before it counts as failed (rust: ×3)")
    args = p.parse_args()
    if args.engine == "20" and args.timeline_runs:
        log("Docker 20.10's CLI has no rawjson progress: no no-op breakdown on engine 20")
        args.timeline_runs = 0
    args.apps = args.apps.split(",")
    args.variants = args.variants.split(",")
    args.timeline_apps = [a for a in args.timeline_apps.split(",") if a in args.apps]
    for v in args.variants:
        if v not in VARIANTS:
            p.error(f"--variants: unknown variant {v} (one of {', '.join(VARIANTS)})")
    for a in args.apps:
        if a not in APPS:
            p.error(f"--apps: unknown app {a} (one of {', '.join(APPS)})")
        if not (BENCH / "apps" / a / "dep-edit").is_dir():
            p.error(f"--apps: no bench/apps/{a}/dep-edit/ (run bench/apps/make-dep-edits.sh {a})")

    work, logs = Path(args.work), Path(args.logs)
    shutil.rmtree(logs, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    runner = Runner(args, logs)
    result = {"meta": meta(args)}
    token = f"{int(time.time())}-{random.Random(args.seed).getrandbits(32):08x}"
    started = time.perf_counter()
    for rep in range(max(args.reps, args.compiled_reps)):
        for a, app in enumerate(args.apps):
            compiled = APPS[app]["kind"] == "compiled"
            if rep >= (args.compiled_reps if compiled else args.reps):
                continue
            variants = app_variants(app, args.variants, args.compiled_syntax)
            k = (rep + a) % len(variants)
            for variant in variants[k:] + variants[:k]:
                done = len(runner.builds)
                if not runner.sequence(rep, app, variant, f"{token}-r{rep}"):
                    # Once more from the prune, without the failed sequence's builds (a stalled
                    # registry connection, seen here, is not the variant's doing).
                    del runner.builds[done:]
                    log(f"rep {rep} {app} {variant}: the sequence once more")
                    runner.sequence(rep, app, variant, f"{token}-r{rep}b")
                # What is done so far, so an interrupted run can still be reported.
                partial = {**result, "builds": runner.builds, "image_sizes": runner.image_sizes,
                           "failures": runner.failures, "timeline": []}
                partial["meta"] = {**result["meta"], "duration_seconds":
                                   time.perf_counter() - started, "partial": True}
                Path(args.out).write_text(json.dumps(partial, indent=1) + "\n")
    result["builds"] = runner.builds
    result["failures"] = runner.failures
    result["image_sizes"] = runner.image_sizes
    result["timeline"] = []
    if args.timeline_runs:
        for app in args.timeline_apps:
            timeline_variants = [v for v in ("strata", "best", "best-syntax")
                                 if v in app_variants(app, args.variants, True)]
            try:
                result["timeline"] += runner.timeline(app, timeline_variants, args.timeline_runs)
            except BuildFailed:
                pass
    result["meta"]["duration_seconds"] = time.perf_counter() - started
    result["meta"]["load_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.out} ({len(runner.builds)} builds in {result['meta']['duration_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
