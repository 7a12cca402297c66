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

VARIANTS = ["strata", "naive", "seed", "best", "best-syntax"]
PHASES = ["cold", "app", "dep", "noop"]
PHASE_NAMES = {"cold": "cold", "app": "app-source edit", "dep": "dependency edit", "noop": "no-op"}
VARIANT_NAMES = {
    "strata": "strata",
    "naive": "naive",
    "seed": "seed",
    "best": "best",
    "best-syntax": "best, Dockerfile frontend as `# syntax=` image",
}
COLORS = {"strata": "#d62728", "naive": "#7f7f7f", "seed": "#bcbd22", "best": "#1f77b4",
          "best-syntax": "#17becf"}
STAGES = ["client", "gateway", "frontend", "build", "exit"]


def summarize(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def summary(raw):
    builds = raw["builds"]
    apps = raw["meta"]["config"]["apps"]
    variants = [v for v in VARIANTS if v in raw["meta"]["config"]["variants"]]
    out = {}
    for app in apps:
        out[app] = {}
        for variant in variants:
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
        for variant in variants:
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

    ratios("app-source edit rebuild, strata / best ≤ 1.3", "strata", "app", 1.3)
    ratios("app-source edit rebuild, naive / strata ≥ 10 on FastAPI", "naive", "app", 10,
           at_most=False, to="strata", apps=["fastapi"])
    ratios("no-op rebuild, strata / best ≤ 1.3", "strata", "noop", 1.3)
    if any(ratio(a, "best-syntax", "noop") for a in summ):
        got = {a: (ratio(a, "strata", "noop"), ratio(a, "best-syntax", "noop")) for a in summ}
        out.append({"target": "no-op rebuild, strata / best below the Dockerfile frontend run as a "
                              "`# syntax=` image",
                    "measured": "; ".join(f"{a} {s:.2f} vs {d:.2f}" for a, (s, d) in got.items()),
                    "pass": all(s < d for s, d in got.values())})
    ratios("dependency edit rebuild, strata / best ≤ 1.0", "strata", "dep", 1.0)
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


def markdown(raw, summ, tl, frontend, targs, rpc=None):
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
             f"1 dependency edit ({cfg['py_dep']} / {cfg['npm_dep']}), {cfg['noops']} no-op(s); "
             f"{cfg['reps']} repetitions, variants interleaved in a rotated order")
    client = "docker buildx build" if m["engine"] == "26" else "docker build"
    L.append(f"- Times: wall time of `{client} --progress=plain` in seconds, median "
             "(min–max) over all builds of that phase\n")

    L.append("## Targets\n")
    L.append("| target | measured | |")
    L.append("|---|---|---|")
    for t in targs:
        L.append(f"| {t['target']} | {t['measured']} | {'pass' if t['pass'] else '**miss**'} |")
    L.append("")

    for app in summ:
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
        checks = [f"{v} {sum(summ[app][v][p]['install_as_expected'] for p in PHASES)}/"
                  f"{sum(summ[app][v][p]['n'] for p in PHASES)}" for v in variants]
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
    variants = [v for v in VARIANTS if v in m["config"]["variants"]]
    fig, axes = plt.subplots(2, len(apps) + 1, figsize=(6 * (len(apps) + 1), 9.5))
    width = 0.8 / len(variants)
    xs = range(len(PHASES))
    for col, app in enumerate(apps):
        ax, axr = axes[0][col], axes[1][col]
        for i, v in enumerate(variants):
            s = [summ[app][v].get(p) for p in PHASES]
            pos = [x - 0.4 + width * (i + 0.5) for x in xs]
            med = [x["median"] if x else 0 for x in s]
            err = [[x["median"] - x["min"] if x else 0 for x in s],
                   [x["max"] - x["median"] if x else 0 for x in s]]
            ax.bar(pos, med, width, yerr=err, capsize=2, color=COLORS[v], label=v)
            axr.bar(pos, [x.get("ratio_to_best", 0) if x else 0 for x in s], width,
                    color=COLORS[v], label=v)
        ax.set_yscale("log")
        ax.set_ylabel("seconds (median, min–max)")
        ax.set_title(f"{app}: rebuild time by phase")
        axr.axhline(1.0, color="black", lw=0.8)
        for phase, target in [("app", 1.3), ("noop", 1.3), ("dep", 1.0)]:
            px = PHASES.index(phase)
            axr.hlines(target, px - 0.45, px + 0.45, colors="#d62728", linestyles="dashed", lw=1.2)
        axr.set_yscale("log")
        axr.set_ylabel("ratio to best (median / median)")
        axr.set_title(f"{app}: ratio to best (dashed: Strata's target)")
        for a in (ax, axr):
            a.set_xticks(list(xs), [short[p] for p in PHASES])
            a.grid(axis="y", which="both", alpha=0.3)
            a.yaxis.set_major_formatter(plain)
            a.yaxis.set_minor_formatter(sparse)
        ax.legend(fontsize=8)

    ax = axes[0][-1]
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

    ax = axes[1][-1]
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
    a = p.parse_args()
    raw = json.loads(Path(a.raw).read_text())
    frontend = json.loads(Path(a.frontend).read_text()) if a.frontend else None
    rpc = json.loads(Path(a.rpc).read_text()) if a.rpc else None
    summ = summary(raw)
    tl = timeline_summary(raw)
    image = (raw["meta"]["images"].get(raw["meta"]["config"]["frontend"]) or {}).get("size")
    targs = targets(summ, frontend, image)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"meta": raw["meta"], "targets": targs, "summary": summ, "noop_timeline": tl,
              "frontend": frontend, "rpc_profile": rpc, "builds": raw["builds"],
              "timeline": raw.get("timeline")}
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(raw, summ, tl, frontend, targs, rpc))
    chart(raw, summ, tl, frontend, str(out.with_suffix("." + a.chart)))
    for t in targs:
        print(f"{'PASS' if t['pass'] else 'MISS'}  {t['target']}: {t['measured']}")


if __name__ == "__main__":
    main()
