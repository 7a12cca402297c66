#!/usr/bin/env python3
"""Turns the driver's raw results and the frontend micro-benchmark into the committed results:
<name>.json (raw data + summary + target checks), <name>.md (tables) and <name>.svg (chart).

  report.py --raw RAW.json --frontend FRONTEND.json --out bench/results/<name>

Can be re-run on the same inputs (e.g. after changing the tables) without rebuilding anything.
"""

import argparse
import json
import math
import statistics
from pathlib import Path

VARIANTS = ["strata", "naive", "seed", "best", "best-cachemount", "best-syntax"]
PHASES = ["cold", "app", "dep", "noop"]
PHASE_NAMES = {"cold": "cold", "app": "app-source edit", "dep": "dependency edit", "noop": "no-op"}
VARIANT_NAMES = {
    "strata": "strata",
    "naive": "naive",
    "seed": "seed",
    "best": "best",
    "best-cachemount": "best-cachemount",
    "best-syntax": "best, Dockerfile frontend as `# syntax=` image",
}
COLORS = {"strata": "#d62728", "naive": "#7f7f7f", "seed": "#bcbd22", "best": "#1f77b4",
          "best-cachemount": "#9467bd", "best-syntax": "#17becf"}
STAGES = ["client", "gateway", "frontend", "build", "exit"]


def summarize(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def summary(raw):
    builds = raw["builds"]
    apps = raw["meta"]["config"]["apps"]
    variants = [v for v in VARIANTS if v in raw["meta"]["config"]["variants"]]
    out = {}
    per_app = raw["meta"]["config"].get("app_variants", {})
    apps = [a for a in apps if any(b["app"] == a for b in builds)]
    for app in apps:
        out[app] = {}
        for variant in [v for v in variants if v in per_app.get(app, variants)]:
            out[app][variant] = {}
            for phase in PHASES:
                rows = [b for b in builds
                        if (b["app"], b["variant"], b["phase"]) == (app, variant, phase)]
                if not rows:
                    continue
                s = summarize([b["seconds"] for b in rows])
                s["install_as_expected"] = sum(bool(b.get("install_as_expected")) for b in rows)
                # Per repetition: this variant's median over the best variant's, same repetition.
                per_rep = []
                for rep in sorted({b["rep"] for b in rows}):
                    mine = [b["seconds"] for b in rows if b["rep"] == rep]
                    ref = [b["seconds"] for b in builds if (b["app"], b["variant"], b["phase"],
                                                            b["rep"]) == (app, "best", phase, rep)]
                    if mine and ref:
                        per_rep.append(statistics.median(mine) / statistics.median(ref))
                s["per_rep_ratio_to_best"] = per_rep
                out[app][variant][phase] = s
        best = out[app].get("best", {})
        for variant in out[app]:
            for phase, s in out[app][variant].items():
                if phase in best:
                    s["ratio_to_best"] = s["median"] / best[phase]["median"]
    return out


def timeline_summary(raw):
    out = {}
    for t in raw.get("timeline") or []:
        if not t.get("stages_ms"):
            continue
        d = out.setdefault(t["app"], {}).setdefault(t["variant"], {"total": [], **{
            s: [] for s in STAGES}})
        d["total"].append(t["seconds"] * 1e3)
        for s in STAGES:
            d[s].append(t["stages_ms"][s])
    return {app: {v: {k: statistics.median(x) for k, x in d.items()} | {"n": len(d["total"])}
                  for v, d in vs.items()} for app, vs in out.items()}


def case(frontend, name):
    return next(c for c in frontend["cases"] if c["name"] == name)


def row_targets(raw, summ):
    """The issues' targets, per app (one row each): package managers (issue 8): strata / best ≤ 1.0
    on dependency edits and cold builds, app edit and no-op no slower than best through the
    Dockerfile frontend as a `# syntax=` image; compiled languages (issue 6): app edit and
    dependency edit strata / best ≤ 1.0 (Rust: also against best-cachemount), and an app edit
    that compiles no dependency."""
    kinds = raw["meta"]["config"].get("kinds", {})
    rows = {}
    for app, vs in summ.items():
        checks = []

        def med(v, phase):
            return vs.get(v, {}).get(phase, {}).get("median")

        def limit(phase, ref, at_most, label):
            a, b = med("strata", phase), med(ref, phase)
            if a is None or b is None:
                return
            r = a / b
            checks.append({"target": label, "ratio": r, "limit": at_most, "pass": r <= at_most,
                           "strata": a, "ref": b, "ref_variant": ref, "phase": phase})

        if kinds.get(app) == "compiled":
            for ref in [v for v in ("best", "best-cachemount") if v in vs]:
                limit("app", ref, 1.0, f"app edit strata / {ref} ≤ 1.0")
                limit("dep", ref, 1.0, f"dependency edit strata / {ref} ≤ 1.0")
            compiled = [b for b in raw["builds"] if b["app"] == app and b["phase"] == "app"
                        and b["variant"] == "strata" and "compiled_dependency" in b]
            if compiled:
                bad = sum(b["compiled_dependency"] for b in compiled)
                checks.append({"target": "an app edit compiles no dependency (strata)",
                               "pass": bad == 0, "measured": f"{bad}/{len(compiled)} did"})
        else:
            limit("dep", "best", 1.0, "dependency edit strata / best ≤ 1.0")
            limit("cold", "best", 1.0, "cold strata / best ≤ 1.0")
            limit("app", "best-syntax", 1.0, "app edit strata / best-syntax ≤ 1.0")
            limit("noop", "best-syntax", 1.0, "no-op strata / best-syntax ≤ 1.0")
        rows[app] = checks
    return rows


def targets(summ, frontend, image_size):
    """Each target: what, the measured figures, pass/fail."""
    out = []

    def ratio(app, variant, phase, to="best"):
        s = summ.get(app, {})
        if variant not in s or to not in s or phase not in s[variant]:
            return None
        return s[variant][phase]["median"] / s[to][phase]["median"]

    def ratios(label, variant, phase, limit, at_most=True, to="best", apps=None):
        """A ratio target per app; the margin is the worst app's distance past the limit."""
        got = {a: ratio(a, variant, phase, to) for a in apps or summ}
        got = {a: r for a, r in got.items() if r is not None}
        if not got:
            return
        worst = max(got.values()) if at_most else min(got.values())
        passed = worst <= limit if at_most else worst >= limit
        measured = "; ".join(f"{a} {r:.2f}" for a, r in got.items())
        if not passed:
            measured += f" (worst {abs(worst - limit):.2f} {'over' if at_most else 'under'})"
        out.append({"target": label, "measured": measured, "pass": passed})

    ratios("app-source edit rebuild, naive / strata ≥ 10 on FastAPI", "naive", "app", 10,
           at_most=False, to="strata", apps=["fastapi"])
    if frontend:
        ex = [case(frontend, n) for n in ("fastapi", "express")]
        t = max(c["time_to_return_ms"]["median"] for c in ex)
        rss = max(c["peak_rss_mib"]["max"] for c in ex)
        out.append({"target": "frontend start → Return, examples < 50 ms; peak RSS < 20 MB",
                    "measured": ", ".join(f"{c['name']} {c['time_to_return_ms']['median']:.1f} ms"
                                          f" / {c['peak_rss_mib']['max']:.1f} MiB" for c in ex),
                    "pass": t < 50 and rss * 1.048576 < 20})
        big = [c for c in frontend["cases"] if c["name"].startswith("workspace-")]
        by_n = {c["manifests"]: c["time_to_return_ms"]["median"] for c in big}
        if 1000 in by_n and 100 in by_n:
            # Linear growth: ×10 from 100 to 1000 manifests, a log-log slope of 1.
            slope = math.log(by_n[1000] / by_n[100]) / math.log(10)
            out.append({"target": "frontend with 1000 manifests < 500 ms, growing no worse than "
                                  "linearly",
                        "measured": f"{by_n[1000]:.0f} ms; ×{by_n[1000] / by_n[100]:.1f} from 100 "
                                    f"to 1000 (log-log slope {slope:.2f})",
                        "pass": by_n[1000] < 500 and slope <= 1.1})
    if image_size:
        out.append({"target": "frontend image size < 5 MB",
                    "measured": f"{image_size / 1e6:.2f} MB",
                    "pass": image_size < 5e6})
    return out


# --------------------------------------------------------------------------------------------
# markdown


def fmt_s(s):
    return f"{s['median']:.2f} ({s['min']:.2f}–{s['max']:.2f})"


def step_times(path):
    """The steps of one plain-progress build log: [(name, seconds or None when CACHED)], the
    daemon's own DONE times, in the order the steps started."""
    import re

    names, times, order = {}, {}, []
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    for line in text.splitlines():
        m = re.match(r"#(\d+) (\[.*)", line)
        if m and m.group(1) not in names:
            names[m.group(1)] = m.group(2)[:90]
            order.append(m.group(1))
            continue
        m = re.match(r"#(\d+) (DONE ([\d.]+)s|CACHED)", line)
        if m:
            times[m.group(1)] = float(m.group(3)) if m.group(3) else None
    return [(names[n], times.get(n)) for n in order if n in times and not
            names[n].startswith(("[internal]", "[auth]"))]


def step_breakdown(raw, app, phase, variants):
    """Median per-step times of one phase for some variants (the logs of this run)."""
    L = []
    for v in variants:
        runs = [step_times(Path(__file__).resolve().parent.parent / b["log"])
                if not Path(b["log"]).is_absolute() else step_times(b["log"])
                for b in raw["builds"] if (b["app"], b["variant"], b["phase"]) == (app, v, phase)]
        runs = [r for r in runs if r]
        if not runs:
            continue
        steps = {}
        for r in runs:
            for name, t in r:
                steps.setdefault(name, []).append(t)
        cells = [f"`{n}` **{statistics.median([x or 0 for x in ts]):.1f} s**"
                 for n, ts in steps.items()
                 if not all(x is None for x in ts) and statistics.median([x or 0 for x in ts]) >= 0.2]
        L.append(f"- {v} ({len(runs)} logs): " + ("; ".join(cells) if cells else
                 "no step ran 0.2 s or more (the difference is the build's fixed cost: frontend "
                 "container start, definition, export)"))
    return L


def fmt_med(summ, app, variant, phase):
    x = summ[app].get(variant, {}).get(phase)
    return f"{x['median']:.2f}" if x else "–"


def row_table(raw, summ, rows):
    """One row per app: medians of strata / best / best-syntax (and best-cachemount) per phase,
    and the issue's targets met or missed."""
    cfg = raw["meta"]["config"]
    managers = cfg.get("managers", {})
    L = ["## One row per tool\n",
         "Medians in seconds, **strata / best / best-syntax** (Rust: / best-cachemount too); "
         "targets: package managers strata / best ≤ 1.0 on cold and dependency edit, strata / "
         "best-syntax ≤ 1.0 on app edit and no-op; compiled languages strata / best ≤ 1.0 on app "
         "and dependency edits and no dependency compiled by an app edit.\n",
         "| app | tool | reps | variants | cold | app edit | dependency edit | no-op | targets |",
         "|---|---|---|---|---|---|---|---|---|"]
    for app in summ:
        vs = [v for v in ("strata", "best", "best-syntax", "best-cachemount") if v in summ[app]]
        if not any(summ[app][v] for v in vs):
            continue
        cells = [" / ".join(fmt_med(summ, app, v, ph) for v in vs) for ph in PHASES]
        reps = len({b["rep"] for b in raw["builds"] if b["app"] == app})
        marks = []
        for t in rows.get(app, []):
            if "ratio" in t:
                marks.append(f"{t['target'].split(' ≤')[0]} {t['ratio']:.2f} "
                             f"{'met' if t['pass'] else '**missed**'}")
            else:
                marks.append(f"{t['target']}: {t['measured']} {'met' if t['pass'] else '**missed**'}")
        L.append(f"| {app} | {managers.get(app, '')} | {reps} | {' / '.join(vs)} | "
                 + " | ".join(cells) + " | "
                 + "; ".join(marks) + " |")
    L.append("")
    return L


def size_table(raw):
    sizes = raw.get("image_sizes") or {}
    kinds = raw["meta"]["config"].get("kinds", {})
    images = raw["meta"]["images"]
    apps = [a for a in sizes if kinds.get(a) == "compiled"]
    if not apps:
        return []
    L = ["## Image sizes of the compiled languages\n",
         "MB (`docker image inspect` Size) of the last image each variant built (after the "
         "dependency edit), next to the toolchain image the build runs in and the runtime base "
         "image:\n",
         "| app | strata | best | best-cachemount | toolchain image | runtime base |",
         "|---|---|---|---|---|---|"]
    refs = raw["meta"]["config"].get("images_of", {})
    for app in apps:
        def mb(size):
            return f"{size / 1e6:.1f}" if size else "–"
        tool, run = refs.get(app, {}).get("toolchain"), refs.get(app, {}).get("runtime")
        L.append(f"| {app} | {mb(sizes[app].get('strata'))} | {mb(sizes[app].get('best'))} | "
                 f"{mb(sizes[app].get('best-cachemount'))} | "
                 f"{mb((images.get(tool) or {}).get('size'))} (`{tool}`) | "
                 f"{mb((images.get(run) or {}).get('size'))} (`{run}`) |")
    L.append("")
    return L


def markdown(raw, summ, tl, frontend, targs, rpc=None, rows=None, carried=None):
    m = raw["meta"]
    d, mc, cfg = m["docker"], m["machine"], m["config"]
    variants = [v for v in VARIANTS if v in cfg["variants"]]
    loads = [b["load1"] for b in raw["builds"]]
    L = []
    L.append(f"# Strata benchmark: edit-rebuild loop, Docker {m['engine']}\n")
    L.append(f"- Date: {m['date']}; run took {m['duration_seconds'] / 60:.1f} min"
             f" ({len(raw['builds'])} timed builds)")
    L.append(f"- Daemon: Docker {d['server']} (BuildKit {'v0.13' if m['engine'] == '26' else 'v0.8'}"
             f", reported as `{d['buildkit_reported']}` by Debian's build), containerd "
             f"{d['containerd']}, runc {d['runc']}; client {d['client']}, {d['buildx']}")
    L.append(f"- Machine: {mc['cores']} × {mc['cpu']} vCPU ({mc.get('hypervisor') or 'bare metal'}),"
             f" {mc['mem_gib']} GiB RAM, kernel {mc['kernel']}; 1-min load during the builds "
             f"{min(loads):.2f}–{max(loads):.2f} (median {statistics.median(loads):.2f})")
    L.append(f"- Strata: commit {m['git']['commit']}{' + uncommitted changes' if m['git']['dirty'] else ''};"
             f" frontend image `{cfg['frontend']}` {m['images'][cfg['frontend']]['size'] / 1e6:.2f} MB")
    L.append(f"- Per repetition, app and variant: prune, cold, {cfg['app_edits']} app-source edit(s), "
             f"1 dependency edit (bench/apps/<app>/dep-edit/: {cfg['py_dep']} / {cfg['npm_dep']} "
             f"added; Go another uuid, Rust itoa added, Maven another org.json), "
             f"{cfg['noops']} no-op(s) ({cfg.get('compiled_noops', cfg['noops'])} for compiled "
             f"apps); {cfg['reps']} repetitions ({cfg.get('compiled_reps', cfg['reps'])} for "
             "compiled apps), variants interleaved in a rotated order")
    L.append("- The machine is shared with other helpers' test runs (on this daemon too): the load "
             "above is theirs as much as this run's, and is noise in every figure")
    client = "docker buildx build" if m["engine"] == "26" else "docker build"
    L.append(f"- Times: wall time of `{client} --progress=plain` in seconds, median "
             "(min–max) over all builds of that phase\n")

    if m.get("partial"):
        L.append("**Partial run**: the driver was stopped before the end; the tables hold the "
                 "sequences it finished.\n")
    for f in raw.get("failures") or []:
        L.append(f"- **Build failed**: {f['app']} / {f['variant']}, {f['phase']} of repetition "
                 f"{f['rep']} (the rest of that sequence was skipped; log `{f['log']}`)")
    if raw.get("failures"):
        L.append("")
    if rows is not None:
        L += row_table(raw, summ, rows)
        L += size_table(raw)
        missed = [(app, t) for app, ts in rows.items() for t in ts if not t["pass"] and "phase" in t]
        if missed:
            L.append("### Missed targets, step by step\n")
            L.append("Per-step times (the daemon's DONE times, median over the logs of this run; "
                     "CACHED steps and steps under 0.2 s left out) of the phase that missed, for "
                     "strata and the variant it is compared with:\n")
            for app, t in missed:
                L.append(f"**{app}, {t['target']}**: {t['ratio']:.2f} ({t['strata']:.2f} s vs "
                         f"{t['ref']:.2f} s)\n")
                L += step_breakdown(raw, app, t["phase"], ["strata", t["ref_variant"]])
                L.append("")
    L.append("## Other targets\n")
    if carried and frontend:
        L.append(f"The frontend micro-benchmark figures are carried over from {carried}; the image "
                 "size is this run's.\n")
    L.append("| target | measured | |")
    L.append("|---|---|---|")
    for t in targs:
        L.append(f"| {t['target']} | {t['measured']} | {'pass' if t['pass'] else '**miss**'} |")
    L.append("")

    for app in summ:
        variants = [v for v in VARIANTS if v in summ[app]]
        L.append(f"## {app}\n")
        L.append("| phase | " + " | ".join(VARIANT_NAMES[v] for v in variants) + " |")
        L.append("|---|" + "---|" * len(variants))
        for phase in PHASES:
            cells = [fmt_s(summ[app][v][phase]) if phase in summ[app][v] else "–" for v in variants]
            L.append(f"| {PHASE_NAMES[phase]} | " + " | ".join(cells) + " |")
        L.append("")
        L.append("Ratio to **best** (median over median; range of the per-repetition ratios):\n")
        L.append("| phase | " + " | ".join(VARIANT_NAMES[v] for v in variants) + " |")
        L.append("|---|" + "---|" * len(variants))
        for phase in PHASES:
            cells = []
            for v in variants:
                s = summ[app][v].get(phase)
                if not s or "ratio_to_best" not in s:
                    cells.append("–")
                    continue
                pr = s["per_rep_ratio_to_best"]
                cells.append(f"{s['ratio_to_best']:.2f} ({min(pr):.2f}–{max(pr):.2f})" if pr
                             else f"{s['ratio_to_best']:.2f}")
            L.append(f"| {PHASE_NAMES[phase]} | " + " | ".join(cells) + " |")
        L.append("")
        checks = [f"{v} {sum(summ[app][v][p]['install_as_expected'] for p in PHASES if p in summ[app][v])}/"
                  f"{sum(summ[app][v][p]['n'] for p in PHASES if p in summ[app][v])}" for v in variants]
        L.append("Install step CACHED exactly where the phase says it should be "
                 "(cold and dependency edit: re-run; app edit: cached except naive; no-op: cached): "
                 + ", ".join(checks) + ".\n")

    if tl:
        L.append("## Where a no-op build's time goes\n")
        L.append("Medians in ms over the rawjson no-op builds (daemon timestamps): **client** = CLI "
                 "start to the first vertex; **gateway** = frontend image resolved to the "
                 "frontend's first request (container and process start); **frontend** = reading "
                 "the definition, the frontend's own loads and lookups, Return and container exit; "
                 "**build** = solving the returned (cached) result and exporting; **exit** = "
                 "client exit.\n")
        L.append("| app | variant | runs | total | " + " | ".join(STAGES) + " |")
        L.append("|---|---|---|---|" + "---|" * len(STAGES))
        for app, vs in tl.items():
            for v in ("strata", "best", "best-syntax"):
                if v in vs:
                    r = vs[v]
                    L.append(f"| {app} | {v} | {r['n']} | {r['total']:.0f} | "
                             + " | ".join(f"{r[s]:.0f}" for s in STAGES) + " |")
        L.append("")

    if rpc:
        L.append("## Strata's gateway session on the daemon, call by call\n")
        if carried:
            L.append(f"*Not measured in this run: carried over from {carried}.*\n")
        L.append("From `bench/rpc_profile.py`: the same binary with HTTP/2 frame logging, no-op "
                 "builds; medians in ms. *start* is the frontend image being ready to the first "
                 "request (container and process start, BuildKit's), *session* Ping to the "
                 "answered Return, *teardown* Return to the first vertex of the result (exit and "
                 "container removal). Calls that start together run concurrently.\n")
        med = statistics.median
        for app, runs in rpc.items():
            if not runs:
                continue
            L.append(f"**{app}** ({len(runs)} builds, median total {med(r['total_ms'] for r in runs):.0f}): "
                     f"start {med(r['start_to_ping_ms'] for r in runs):.1f}, "
                     f"session {med(r['ping_to_return_ms'] for r in runs):.1f}, "
                     f"teardown {med(r['return_to_result_ms'] for r in runs):.1f}\n")
            L.append("| # | call | starts at | takes |")
            L.append("|---|---|---|---|")
            for i, c in enumerate(runs[0]["calls"]):
                L.append(f"| {i + 1} | {c['method']} | {med(r['calls'][i]['start_ms'] for r in runs):.1f} "
                         f"| {med(r['calls'][i]['ms'] for r in runs):.1f} |")
            L.append("")

    if frontend:
        L.append("## Frontend without a daemon\n")
        if carried:
            L.append(f"*Not measured in this run: carried over from {carried}.*\n")
        L.append(f"The release binary (`{Path(frontend['binary']['path']).name}`, "
                 f"{frontend['binary']['size_bytes'] / 1e6:.2f} MB static, stripped) run under "
                 f"{frontend['harness']}: spawn to the accepted `Return`, peak RSS of the child.\n")
        L.append("| case | manifests | runs | start → Return, ms: median (min–max) | peak RSS MiB "
                 "(max) | RPCs | of which ReadDir |")
        L.append("|---|---|---|---|---|---|---|")
        for c in frontend["cases"]:
            t, r = c["time_to_return_ms"], c["peak_rss_mib"]
            readdir = c["rpc"]["methods"].get("ReadDir", {}).get("count", 0)
            L.append(f"| {c['name']} | {c['manifests']} | {c['runs']} | {t['median']:.1f} "
                     f"({t['min']:.1f}–{t['max']:.1f}) | {r['median']:.1f} ({r['max']:.1f}) | "
                     f"{c['rpc']['calls']} | {readdir} |")
        L.append("")
    L.append("Build logs of this run: `bench/results/logs/` (not committed).")
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------------------------
# chart


def chart(raw, summ, tl, frontend, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable SVG
    plain = FuncFormatter(lambda y, _: f"{y:g}")
    sparse = FuncFormatter(lambda y, _: f"{y:g}" if f"{y:g}".lstrip("0.")[:1] in ("2", "5") else "")
    short = {"cold": "cold", "app": "app edit", "dep": "dependency\nedit", "noop": "no-op"}

    m = raw["meta"]
    apps = list(summ)
    # One panel per phase: every app's strata / best-syntax / best-cachemount median over best's.
    shown = [v for v in ("strata", "best-syntax", "best-cachemount")
             if any(v in summ[a] for a in apps)]
    fig, axes = plt.subplots(2, 3, figsize=(max(18, 1.1 * len(apps) * 3), 11))
    panels = [axes[0][0], axes[0][1], axes[1][0], axes[1][1]]
    width = 0.8 / len(shown)
    targets = {"cold": 1.0, "app": 1.0, "dep": 1.0, "noop": 1.0}
    for ax, phase in zip(panels, PHASES):
        for i, v in enumerate(shown):
            xs = [k - 0.4 + width * (i + 0.5) for k in range(len(apps))]
            ys = [summ[a].get(v, {}).get(phase, {}).get("ratio_to_best", 0) for a in apps]
            ax.bar(xs, ys, width, color=COLORS[v], label=f"{v} / best")
        best = [summ[a].get("best", {}).get(phase, {}).get("median") for a in apps]
        for k, b in enumerate(best):
            if b:
                ax.text(k, 0.06, f"{b:.2f}s", ha="center", fontsize=7, rotation=90,
                        transform=ax.get_xaxis_transform())
        ax.axhline(targets[phase], color="black", lw=0.8, ls="dashed")
        ax.set_yscale("log")
        ax.set_xticks(range(len(apps)), apps, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("median / best's median")
        ax.set_title(f"{short[phase].replace(chr(10), ' ')}: ratio to best (best's median at the "
                     "bottom)")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(sparse)
        ax.legend(fontsize=8)

    ax = axes[0][2]
    if frontend:
        big = sorted((c for c in frontend["cases"] if c["name"].startswith("workspace-")),
                     key=lambda c: c["manifests"])
        n = [c["manifests"] for c in big]
        t = [c["time_to_return_ms"]["median"] for c in big]
        ax.loglog(n, t, "o-", color=COLORS["strata"], label="start → Return (median)")
        ax.loglog(n, [t[-1] * k / n[-1] for k in n], ":", color="gray", label="linear")
        ax.axhline(500, color="#d62728", ls="dashed", lw=1, label="target 500 ms")
        ax.set_ylim(top=1000)
        examples = ", ".join(f"{c['name']} {c['time_to_return_ms']['median']:.1f} ms / "
                             f"{c['peak_rss_mib']['max']:.1f} MiB" for c in frontend["cases"][:2])
        ax.text(0.98, 0.03, f"examples: {examples}", transform=ax.transAxes, ha="right",
                fontsize=8)
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)
        ax2 = ax.twinx()
        ax2.plot(n, [c["peak_rss_mib"]["max"] for c in big], "s--", color="#9467bd", ms=4,
                 label="peak RSS (MiB)")
        ax2.set_ylabel("peak RSS, MiB")
        ax2.set_ylim(0, max(20, max(c["peak_rss_mib"]["max"] for c in big) * 1.2))
        ax.set_xlabel("package.json files in the context")
        ax.set_ylabel("ms")
        ax.set_title("frontend alone (fake BuildKit): workspace size")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
        ax.grid(which="both", alpha=0.3)
    else:
        ax.axis("off")

    ax = axes[1][2]
    if tl:
        rows = [(app, v) for app in tl for v in ("strata", "best-syntax", "best") if v in tl[app]]
        colors = ["#c7c7c7", "#ff9896", "#d62728", "#1f77b4", "#aec7e8"]
        for y, (app, v) in enumerate(rows):
            left = 0
            for s, c in zip(STAGES, colors):
                w = tl[app][v][s]
                ax.barh(y, w, left=left, color=c, label=s if y == 0 else None)
                left += w
        ax.set_yticks(range(len(rows)), [f"{a} {v}" for a, v in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms (medians)")
        ax.set_title("no-op build: where the time goes")
        ax.legend(fontsize=8, ncol=5, loc="lower center", bbox_to_anchor=(0.5, -0.25))
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.axis("off")

    d = m["docker"]
    fig.suptitle(f"Strata vs hand-written Dockerfiles — Docker {d['server']} "
                 f"(BuildKit {'v0.13' if m['engine'] == '26' else 'v0.8'}), {m['date'][:10]}, "
                 f"{m['machine']['cores']} × {m['machine']['cpu']} vCPU, {m['config']['reps']} reps",
                 fontsize=12)
    fig.tight_layout()
    fig.savefig(path, format=Path(path).suffix[1:], metadata={"Date": None}
                if Path(path).suffix == ".svg" else None)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--raw", required=True)
    p.add_argument("--frontend", help="frontend micro-benchmark JSON (cargo bench --bench frontend)")
    p.add_argument("--rpc", help="bench/rpc_profile.py output (JSON)")
    p.add_argument("--out", required=True, help="output path without extension")
    p.add_argument("--chart", default="svg", choices=["svg", "png"])
    p.add_argument("--carried-from", help="the --frontend and --rpc results are an earlier run's "
                                          "(say which): the markdown says so")
    a = p.parse_args()
    raw = json.loads(Path(a.raw).read_text())
    frontend = json.loads(Path(a.frontend).read_text()) if a.frontend else None
    rpc = json.loads(Path(a.rpc).read_text()) if a.rpc else None
    summ = summary(raw)
    tl = timeline_summary(raw)
    image = (raw["meta"]["images"].get(raw["meta"]["config"]["frontend"]) or {}).get("size")
    targs = targets(summ, frontend, image)
    rows = row_targets(raw, summ)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"meta": raw["meta"], "targets": targs, "row_targets": rows,
              "frontend_and_rpc_carried_from": a.carried_from,
              "image_sizes": raw.get("image_sizes"), "summary": summ, "noop_timeline": tl,
              "frontend": frontend, "rpc_profile": rpc, "builds": raw["builds"],
              "timeline": raw.get("timeline")}
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(raw, summ, tl, frontend, targs, rpc, rows,
                                               a.carried_from))
    chart(raw, summ, tl, frontend, str(out.with_suffix("." + a.chart)))
    for t in targs:
        print(f"{'PASS' if t['pass'] else 'MISS'}  {t['target']}: {t['measured']}")
    for app, checks in rows.items():
        for t in checks:
            got = f"{t['ratio']:.2f} ({t['strata']:.2f} s vs {t['ref']:.2f} s)" if "ratio" in t \
                else t["measured"]
            print(f"{'PASS' if t['pass'] else 'MISS'}  {app}: {t['target']}: {got}")


if __name__ == "__main__":
    main()
