//! Frontend micro-benchmark: the real `strata frontend` binary against the in-process fake BuildKit
//! of the gateway tests (tests/support/bridge.rs), no daemon involved. For each case it measures
//! the time from spawn to the accepted `Return` and the child's peak RSS (`wait4` ru_maxrss) over
//! many runs, and one run's RPC breakdown (`Outcome.calls`).
//!
//! Cases: the fastapi and express examples as they are, and a node workspace with N = 1, 10, 100,
//! 1000 `packages/pN/package.json` (plus an `index.js` each) listed by a glob in `manifests`.
//!
//!   cargo bench --bench frontend -- [--runs N] [--sizes 1,10,100,1000] [--out FILE.json]
//!
//! STRATA_BENCH_BIN picks the binary (bench/run.sh passes the static binary that goes into the
//! frontend image); the default is the one cargo builds for this bench.

#[path = "../tests/support/bridge.rs"]
mod bridge;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bridge::{Bridge, Outcome, TempDir};
use serde_json::{Value, json};

// Image configs the fake returns for the default base images (as in tests/gateway.rs).
const PYTHON_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","PYTHON_VERSION=3.12.7"],"Cmd":["python3"]},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000001"]}}"#;
const NODE_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin","NODE_VERSION=22.11.0"],"Entrypoint":["docker-entrypoint.sh"],"Cmd":["node"],"OnBuild":null},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000002"]}}"#;

struct Args {
    runs: usize,
    sizes: Vec<usize>,
    out: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        runs: 30,
        sizes: vec![1, 10, 100, 1000],
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--sizes" => {
                a.sizes = it
                    .next()
                    .expect("--sizes 1,10,...")
                    .split(',')
                    .map(|s| s.parse().expect("--sizes: numbers"))
                    .collect()
            }
            "--out" => a.out = Some(it.next().expect("--out FILE").into()),
            // `cargo bench` passes --bench; filters and other harness flags mean nothing here.
            _ => {}
        }
    }
    a
}

fn binary() -> PathBuf {
    let bin = std::env::var_os("STRATA_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_strata")));
    // The child is spawned with cwd `/`, as BuildKit does.
    std::fs::canonicalize(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
}

fn example(name: &str) -> TempDir {
    TempDir::example(name)
}

/// A workspace-like npm tree: a root package with `workspaces`, its lockfile listing every
/// workspace, and `packages/p1..pN` each with a package.json and an index.js.
fn workspace(n: usize) -> TempDir {
    let dir = TempDir::new(&format!("bench-ws{n}"));
    let names: Vec<String> = (1..=n).map(|i| format!("p{i}")).collect();
    let root = json!({
        "name": "bench-workspace",
        "version": "1.0.0",
        "private": true,
        "workspaces": ["packages/*"],
        "scripts": { "start": "node packages/p1/index.js" },
    });
    dir.write("package.json", serde_json::to_string_pretty(&root).unwrap());
    let mut packages = serde_json::Map::new();
    packages.insert(
        String::new(),
        json!({"name": "bench-workspace", "version": "1.0.0", "workspaces": ["packages/*"]}),
    );
    for name in &names {
        packages.insert(
            format!("node_modules/{name}"),
            json!({"resolved": format!("packages/{name}"), "link": true}),
        );
        packages.insert(
            format!("packages/{name}"),
            json!({"name": name, "version": "1.0.0"}),
        );
        dir.write(
            &format!("packages/{name}/package.json"),
            serde_json::to_string_pretty(&json!({
                "name": name, "version": "1.0.0", "main": "index.js"
            }))
            .unwrap(),
        );
        dir.write(
            &format!("packages/{name}/index.js"),
            format!("module.exports = {name:?};\n"),
        );
    }
    let lock = json!({
        "name": "bench-workspace",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": true,
        "packages": packages,
    });
    dir.write(
        "package-lock.json",
        serde_json::to_string_pretty(&lock).unwrap(),
    );
    dir.write(
        "strata.toml",
        "# syntax=local/strata:dev\nlanguage = \"node\"\n\
         manifests = [\"package.json\", \"package-lock.json\", \"packages/*/package.json\"]\n",
    );
    dir
}

fn bridge_for(dir: &Path) -> Bridge {
    Bridge::new()
        .opt("filename", "strata.toml")
        .opt("source", "local/strata:dev")
        .opt("cmdline", "local/strata:dev")
        .local("dockerfile", dir)
        .local("context", dir)
        .image("python:3.12-slim", None, PYTHON_CONFIG)
        .image("node:22-slim", None, NODE_CONFIG)
        .timeout(Duration::from_secs(60))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn stats(mut v: Vec<f64>) -> Value {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    json!({
        "median": median,
        "min": v[0],
        "max": v[n - 1],
        "p90": v[((n as f64 * 0.9).ceil() as usize).clamp(1, n) - 1],
        "mean": v.iter().sum::<f64>() / n as f64,
        "n": n,
    })
}

/// One run's RPCs: count per method, and time from spawn to the first and past the last of each.
fn rpc_breakdown(out: &Outcome) -> Value {
    let mut by: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
    for c in &out.calls {
        let e = by.entry(c.method).or_insert((0, f64::MAX, 0.0));
        e.0 += 1;
        e.1 = e.1.min(ms(c.at));
        e.2 = e.2.max(ms(c.at));
    }
    let methods: serde_json::Map<String, Value> = by
        .into_iter()
        .map(|(m, (count, first, last))| {
            (
                m.to_string(),
                json!({"count": count, "first_ms": first, "last_ms": last}),
            )
        })
        .collect();
    json!({
        "calls": out.calls.len(),
        "first_call_ms": out.calls.first().map(|c| ms(c.at)),
        "methods": methods,
        "sequence": out.calls.iter().take(40).map(|c| format!("{:.2} {}", ms(c.at), c.method)).collect::<Vec<_>>(),
    })
}

fn measure(bin: &Path, name: &str, dir: &Path, manifests: usize, runs: usize) -> Value {
    let warmup = 3;
    let (mut ttr, mut rss, mut wall, mut exit_after) = (vec![], vec![], vec![], vec![]);
    let mut breakdown = Value::Null;
    for i in 0..warmup + runs {
        let out = bridge_for(dir).run(bin, &["frontend"]);
        assert!(
            out.succeeded(),
            "{name}: the frontend failed\n{}",
            out.report()
        );
        if i < warmup {
            continue;
        }
        ttr.push(ms(out.time_to_return.expect("Return")));
        rss.push(out.peak_rss_kib.expect("peak RSS") as f64 / 1024.0);
        wall.push(ms(out.wall_time));
        exit_after.push(out.exit_after_return.map_or(0.0, ms));
        if i == warmup {
            breakdown = rpc_breakdown(&out);
        }
    }
    let summary = json!({
        "name": name,
        "manifests": manifests,
        "runs": runs,
        "time_to_return_ms": stats(ttr),
        "peak_rss_mib": stats(rss),
        "wall_ms": stats(wall),
        "exit_after_return_ms": stats(exit_after),
        "rpc": breakdown,
    });
    eprintln!(
        "{name:>14}: Return after {:7.2} ms (min {:6.2}, max {:7.2}), peak RSS {:5.2} MiB, {} RPCs",
        summary["time_to_return_ms"]["median"].as_f64().unwrap(),
        summary["time_to_return_ms"]["min"].as_f64().unwrap(),
        summary["time_to_return_ms"]["max"].as_f64().unwrap(),
        summary["peak_rss_mib"]["median"].as_f64().unwrap(),
        summary["rpc"]["calls"],
    );
    summary
}

fn main() {
    let a = args();
    let bin = binary();
    let size = std::fs::metadata(&bin)
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
        .len();
    eprintln!("frontend binary {} ({size} bytes)", bin.display());

    let mut cases = Vec::new();
    for name in ["fastapi", "express"] {
        let dir = example(name);
        cases.push(measure(&bin, name, dir.path(), 1, a.runs));
    }
    for &n in &a.sizes {
        let dir = workspace(n);
        // The big trees take longer per run; fewer runs keep the total bounded.
        let runs = if n >= 1000 {
            a.runs.div_ceil(3)
        } else {
            a.runs
        };
        cases.push(measure(
            &bin,
            &format!("workspace-{n}"),
            dir.path(),
            n,
            runs,
        ));
    }

    let report = json!({
        "binary": { "path": bin.display().to_string(), "size_bytes": size },
        "harness": "tests/support/bridge.rs (in-process fake LLBBridge, caps of BuildKit v0.13)",
        "cases": cases,
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    match a.out {
        Some(p) => std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        None => println!("{text}"),
    }
}
