//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz) and for the test that replays their
//! committed corpora in a normal `cargo test`. Not an API: each function takes arbitrary bytes,
//! runs one reader of untrusted input the way the edges do, and must return without panicking,
//! hanging or allocating without bound, whatever the bytes.
//!
//! Adding a reader is one function here, one line in [`TARGETS`], and one file in
//! `fuzz/fuzz_targets/` (plus its `[[bin]]` in `fuzz/Cargo.toml`) that calls it.

use std::collections::BTreeMap;

use crate::caps::Caps;
use crate::context::{ContextFiles, ignore_patterns};
use crate::lower::{self, Context, LowerInput};
use crate::options::parse_options;
use crate::pattern::{self, Pattern, PatternSet};
use crate::platform::Platform;
use crate::recipe;
use crate::spec;

/// A fuzz target's entry point.
pub type Entry = fn(&[u8]);

/// Every fuzz target: its name (the file `fuzz/fuzz_targets/<name>.rs` and the corpus directory
/// `fuzz/corpus/<name>/`) and its entry point.
pub const TARGETS: &[(&str, Entry)] = &[
    ("spec", spec),
    ("options", options),
    ("patterns", patterns),
    ("requirements", requirements),
    ("package_json", package_json),
    ("version_files", version_files),
    ("cargo_manifest", cargo_manifest),
    ("cargo_lock", cargo_lock),
    ("gradle", gradle),
    ("node_files", node_files),
    ("python_manifests", python_manifests),
    ("go_mod", go_mod),
    ("pom", pom),
    ("pipeline", pipeline),
];

/// Splits fuzz input into NUL-separated parts (lossy UTF-8 where a part must be text).
fn parts(data: &[u8]) -> Vec<&[u8]> {
    data.split(|b| *b == 0).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `NAME=VALUE` lines.
fn pairs(bytes: &[u8]) -> BTreeMap<String, String> {
    text(bytes)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The spec (after the first NUL) with build arguments (`NAME=VALUE` lines before it): decoding,
/// `${ARG}` substitution, parsing, and the error text with its snippet.
pub fn spec(data: &[u8]) {
    let (args, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (pairs(&data[..i]), &data[i + 1..]),
        None => (BTreeMap::new(), data),
    };
    let source = match spec::decode("strata.toml", body.to_vec()) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    match spec::parse(source, &args) {
        Ok(s) => {
            let _ = recipe::recipe_for(&s).map_err(|e| e.to_string());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Build options as BuildKit passes them (`key=value` lines, e.g. `build-arg:A=1`, `platform=…`).
pub fn options(data: &[u8]) {
    let opts = pairs(data);
    match parse_options(&opts) {
        Ok(o) => {
            for p in &o.platforms {
                let _ = o.spec_args(p, p);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// `.dockerignore` text, then (after a NUL) include patterns, then paths, one a line: parsing
/// the ignore file, cleaning and matching every pattern against every path.
pub fn patterns(data: &[u8]) {
    let p = parts(data);
    let ignore_text = p.first().copied().unwrap_or_default();
    let includes = text(p.get(1).copied().unwrap_or_default());
    let paths = text(p.get(2).copied().unwrap_or_default());
    let ignore = ignore_patterns(Some(ignore_text), None);
    let ignore = ignore.into_iter().take(64).collect::<Vec<_>>();
    let includes: Vec<String> = includes.lines().take(64).map(String::from).collect();
    let paths: Vec<&str> = paths.lines().take(64).collect();
    let mut singles = Vec::new();
    for raw in ignore.iter().chain(&includes) {
        let _ = pattern::clean_relative(raw);
        let _ = pattern::clean_relative_pattern(raw);
        if let Ok(p) = Pattern::parse(raw) {
            singles.push(p);
        }
    }
    let sets = [PatternSet::new(&ignore), PatternSet::new(&includes)];
    for path in &paths {
        for p in &singles {
            let _ = p.matches(path);
            let _ = p.matches_or_parent(path);
            let _ = p.could_match_below(path);
        }
        for set in sets.iter().flatten() {
            let _ = set.matches(path);
            let _ = set.could_match_below(path);
            let _ = set.has_negations();
        }
    }
}

/// A requirements file: reading its logical lines and the checks run on staged files.
pub fn requirements(data: &[u8]) {
    let text = text(data);
    for line in recipe::requirements::read(&text) {
        let _ = line.references().count();
    }
    let _ = recipe::requirements::check_files(
        [("requirements.txt", text.as_str())],
        &["requirements.txt".to_string()],
    );
}

/// A package.json.
pub fn package_json(data: &[u8]) {
    recipe::fuzz_package_json(&text(data));
}

/// `.nvmrc`/`.node-version` and `.python-version`.
pub fn version_files(data: &[u8]) {
    recipe::fuzz_version_files(&text(data));
}

/// A Cargo.toml: the workspace discovery that reads it, its normalization for the skeleton,
/// toolchain and cargo config files in the same syntax.
pub fn cargo_manifest(data: &[u8]) {
    recipe::fuzz_cargo_manifest(&text(data));
}

/// A Cargo.lock: its packages and its normalized (version-masked) form.
pub fn cargo_lock(data: &[u8]) {
    recipe::fuzz_cargo_lock(&text(data));
}

/// Gradle's files: the settings and build-script tokenizer, the wrapper properties, and the
/// Java recipe's plan of a build whose settings, build script and wrapper properties are the text.
pub fn gradle(data: &[u8]) {
    recipe::fuzz_gradle(&text(data));
}

/// The small Node files read for the tool and its version: yarn.lock's and pnpm-lock.yaml's
/// first lines, .yarnrc.yml, pnpm-workspace.yaml, a Procfile. (package-lock.json, bun.lock and
/// the Python tools' lockfiles are staged for the package managers, never read by Strata.)
pub fn node_files(data: &[u8]) {
    recipe::fuzz_node_files(&text(data));
}

/// pyproject.toml, Pipfile and Pipfile.lock (the same text as each).
pub fn python_manifests(data: &[u8]) {
    recipe::fuzz_python_manifests(&text(data));
}

/// A go.mod, and the same text as a go.work; the same bytes as the head of a Go source file
/// (build constraints, package clause, imports).
pub fn go_mod(data: &[u8]) {
    recipe::fuzz_go_mod(&text(data));
    recipe::fuzz_go_source(data);
}

/// A pom.xml: the XML reader, the elements the Java recipe takes, property references resolved.
pub fn pom(data: &[u8]) {
    recipe::fuzz_pom(&text(data));
}

/// The whole core, as the edges run it: a spec, then (NUL-separated) file name and content pairs
/// of the context; parse, plan, lower to LLB. Errors are fine; panics are not.
pub fn pipeline(data: &[u8]) {
    let mut p = parts(data).into_iter();
    let Some(spec_bytes) = p.next() else { return };
    let Ok(source) = spec::decode("strata.toml", spec_bytes.to_vec()) else {
        return;
    };
    let platform = Platform::linux_amd64();
    let Ok(options) = parse_options(&BTreeMap::new()) else {
        return;
    };
    let Ok(spec) = spec::parse(source, &options.spec_args(&platform, &platform)) else {
        return;
    };
    let mut ctx = ContextFiles::new(Vec::new());
    ctx.add_listed("strata.toml");
    while let (Some(name), Some(content)) = (p.next(), p.next()) {
        let name = text(name);
        if let Ok(clean) = pattern::clean_relative(&name) {
            ctx.add_content(clean, content.to_vec());
        }
    }
    if recipe::recipe_for(&spec).is_err() {
        return;
    }
    let plan = match recipe::plan(&spec, &ctx) {
        Ok(plan) => plan,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = plan.render();
    let images = BTreeMap::new();
    let _ = lower::lower(&LowerInput {
        plan: &plan,
        images: &images,
        options: &options,
        platform: &platform,
        caps: &Caps::current(),
        context: &Context::Local {
            name: "context".into(),
            session: None,
        },
        spec: Some(&spec.source),
    });
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::TARGETS;

    /// Every committed fuzz corpus input goes through its entry point in a normal `cargo test`, so
    /// a crash found by fuzzing (and kept in the corpus) stays fixed without cargo-fuzz.
    #[test]
    fn every_committed_fuzz_input_runs_without_panic_or_hang() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (name, run) in TARGETS {
            let dir = root.join(name);
            let mut entries: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("fuzz corpus {}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            assert!(!entries.is_empty(), "fuzz/corpus/{name} is empty");
            for path in entries {
                let data = std::fs::read(&path).unwrap();
                let started = Instant::now();
                run(&data);
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "{} took {:.1?}",
                    path.display(),
                    started.elapsed()
                );
            }
        }
    }
}
