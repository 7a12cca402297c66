//! Cargo's files, read as cargo reads them: the workspace (the root manifest, its members and the
//! path dependencies they reach), the lockfile, the toolchain file and `.cargo/config.toml`; and
//! the dependency skeleton Strata generates from them: every local crate's manifest with its own
//! version masked and `[lints]` dropped, the lockfile with the same versions masked, and a stub
//! source file for every target. Dependencies compile against the skeleton, so an edit of the
//! project's own code, lints, description or version never rebuilds them. Pure functions from
//! text to data.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::{Table, Value};

use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Location, Position, SourceText};
use crate::pattern::clean_relative;
use crate::plan::GeneratedFile;

/// The version every local crate gets in the skeleton's manifests and lockfile.
pub(crate) const MASKED_VERSION: &str = "0.0.0";

/// Where cargo discovers targets by itself, relative to a package's directory: listed so that
/// the skeleton has a stub wherever the project has a target.
const TARGET_PATTERNS: &[&str] = &[
    "src/lib.rs",
    "src/main.rs",
    "src/bin/*.rs",
    "src/bin/*/main.rs",
    "build.rs",
    "examples/*.rs",
    "examples/*/main.rs",
    "tests/*.rs",
    "tests/*/main.rs",
    "benches/*.rs",
    "benches/*/main.rs",
];

/// Tables of dependencies, at the top of a manifest and under `target.<cfg>`.
const DEPENDENCY_TABLES: &[&str] = &[
    "dependencies",
    "dev-dependencies",
    "dev_dependencies",
    "build-dependencies",
    "build_dependencies",
];

/// `[package]` (and `[workspace.package]`) keys that describe the package without changing how
/// anything compiles: dropped from the skeleton, so editing them rebuilds no dependency. (They
/// reach the package's own crates as `CARGO_PKG_*`, and those are built from the real manifest.)
const DESCRIPTIVE_KEYS: &[&str] = &[
    "authors",
    "categories",
    "description",
    "documentation",
    "exclude",
    "homepage",
    "include",
    "keywords",
    "license",
    "license-file",
    "metadata",
    "publish",
    "readme",
    "repository",
];

const STUB_MAIN: &str = "fn main() {}\n";

/// One step of a path into a TOML document, to point an error at the value it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

pub(crate) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// A Cargo.toml (or other TOML file) of the context, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    /// Its path in the context (`crates/app/Cargo.toml`).
    pub file: String,
    /// The directory relative paths in it start from (`crates/app`, `""` for the root).
    pub dir: String,
    text: String,
    pub doc: Table,
}

impl Manifest {
    /// Parses a TOML file; a syntax error is located in the file.
    pub fn parse(file: &str, text: &str) -> Result<Manifest, Diagnostic> {
        let located = |span: Option<Range<usize>>, message: &str| {
            Diagnostic::at(
                &SourceText::new(file, text),
                span.unwrap_or(0..0),
                format!("invalid TOML: {}", message.trim()),
            )
        };
        if let Err(e) = DeTable::parse(text) {
            return Err(located(e.span(), e.message()));
        }
        let doc: Table = toml::from_str(text).map_err(|e| located(e.span(), e.message()))?;
        let dir = file.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        Ok(Manifest {
            file: file.to_string(),
            dir,
            text: text.to_string(),
            doc,
        })
    }

    /// A diagnostic at the value `path` leads to (the file's start if it leads nowhere).
    pub fn error(&self, path: &[Seg], message: impl Into<String>) -> Diagnostic {
        let span = span_of(&self.text, path).unwrap_or(0..0);
        Diagnostic::at(&SourceText::new(&self.file, &self.text), span, message)
    }

    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        rest.iter()
            .try_fold(self.doc.get(*first)?, |v, k| v.as_table()?.get(*k))
    }

    pub fn package(&self) -> Option<&Table> {
        self.doc.get("package")?.as_table()
    }

    /// The package name; `None` for a virtual manifest (a workspace root without `[package]`).
    pub fn name(&self) -> Option<&str> {
        self.package()?.get("name")?.as_str()
    }

    /// A context path for a path written in this manifest, or `Err` when it leaves the context.
    fn resolve(&self, path: &str) -> Result<String, String> {
        if path.starts_with('/') {
            return Err(format!("`{path}` is an absolute path"));
        }
        clean_relative(&join(&self.dir, path))
    }
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() || dir == "." {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `dir/Cargo.toml`, `Cargo.toml` for the root.
fn manifest_in(dir: &str) -> String {
    join(if dir == "." { "" } else { dir }, "Cargo.toml")
}

/// The byte range of the value `path` leads to in a TOML text.
fn span_of(text: &str, path: &[Seg]) -> Option<Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let span = doc.span();
    let root = toml::Spanned::new(span, DeValue::Table(doc.into_inner()));
    let mut at = &root;
    for seg in path {
        at = match seg {
            Seg::Key(k) => at.get_ref().get(k.as_str())?,
            Seg::Index(i) => at.get_ref().get(*i)?,
        };
    }
    Some(at.span())
}

/// A dependency given by path, and where its `path` value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathDep {
    pub name: String,
    pub path: String,
    pub at: Vec<Seg>,
}

/// Every dependency table of a manifest (with its key path): the top-level ones, those under
/// `target.<cfg>`, `workspace.dependencies`, each `patch.<source>`, and `replace`.
fn dependency_tables(doc: &Table) -> Vec<(Vec<Seg>, &Table)> {
    let mut out = Vec::new();
    for t in DEPENDENCY_TABLES {
        if let Some(table) = doc.get(*t).and_then(Value::as_table) {
            out.push((vec![key(t)], table));
        }
    }
    if let Some(targets) = doc.get("target").and_then(Value::as_table) {
        for (cfg, v) in targets {
            for t in DEPENDENCY_TABLES {
                if let Some(table) = v.get(*t).and_then(Value::as_table) {
                    out.push((vec![key("target"), key(cfg), key(t)], table));
                }
            }
        }
    }
    if let Some(table) = doc
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(Value::as_table)
    {
        out.push((vec![key("workspace"), key("dependencies")], table));
    }
    if let Some(patches) = doc.get("patch").and_then(Value::as_table) {
        for (source, v) in patches {
            if let Some(table) = v.as_table() {
                out.push((vec![key("patch"), key(source)], table));
            }
        }
    }
    if let Some(table) = doc.get("replace").and_then(Value::as_table) {
        out.push((vec![key("replace")], table));
    }
    out
}

fn path_deps(doc: &Table) -> Vec<PathDep> {
    let mut out = Vec::new();
    for (at, table) in dependency_tables(doc) {
        for (name, dep) in table {
            if let Some(path) = dep.get("path").and_then(Value::as_str) {
                let mut at = at.clone();
                at.extend([key(name), key("path")]);
                out.push(PathDep {
                    name: name.clone(),
                    path: path.to_string(),
                    at,
                });
            }
        }
    }
    out
}

/// What is known of a cargo workspace from the files read so far.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    /// The root manifest first, then every other local package's, by path: the workspace's
    /// members and the path dependencies they reach (cargo makes those inside the workspace
    /// members too).
    pub manifests: Vec<Manifest>,
    /// Paths and patterns to list next: member and path-dependency manifests, target files.
    pub wanted: Vec<String>,
    /// Problems found; when probing is over these are the user's to fix.
    pub errors: Vec<Diagnostic>,
    /// Every manifest path looked at, read or not, so each is looked at (and reported) once.
    seen: BTreeSet<String>,
}

impl Workspace {
    /// Reads the root `Cargo.toml` and every local package's manifest the context holds.
    pub fn discover(ctx: &ContextFiles) -> Workspace {
        let mut ws = Workspace::default();
        let Some(text) = ctx.text("Cargo.toml") else {
            return ws;
        };
        let root = match Manifest::parse("Cargo.toml", text) {
            Ok(m) => m,
            Err(e) => {
                ws.errors.push(e);
                return ws;
            }
        };
        let mut members: BTreeSet<String> = BTreeSet::new();
        let workspace = root.doc.get("workspace").and_then(Value::as_table);
        let list = |k: &str| {
            workspace
                .and_then(|w| w.get(k))
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Value::as_str).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let excluded: Vec<String> = list("exclude")
            .into_iter()
            .flatten()
            .filter_map(|e| clean_relative(e).ok())
            .collect();
        for (i, member) in list("members").into_iter().enumerate() {
            let at = [key("workspace"), key("members"), Seg::Index(i)];
            let Some(member) = member else { continue };
            let dir = match clean_relative(member) {
                Ok(d) => d,
                Err(_) => {
                    ws.errors.push(
                        root.error(
                            &at,
                            format!("workspace member `{member}` is outside the build context"),
                        )
                        .help("BuildKit sends only the build context: move the crate inside it"),
                    );
                    continue;
                }
            };
            let pattern = manifest_in(&dir);
            let found = ctx.matching(&pattern);
            if found.is_empty() && !dir.contains(['*', '?', '[']) {
                ws.errors.push(
                    root.error(
                        &at,
                        format!(
                            "workspace member `{member}` has no Cargo.toml in the build context"
                        ),
                    )
                    .help("check the path, and that .dockerignore does not exclude it"),
                );
            }
            members.extend(
                found
                    .into_iter()
                    .filter(|f| f.ends_with("Cargo.toml") && *f != "Cargo.toml")
                    .filter(|f| {
                        !excluded
                            .iter()
                            .any(|e| f.starts_with(&format!("{e}/")) || *e == ".")
                    })
                    .map(String::from),
            );
            ws.wanted.push(pattern);
        }
        ws.manifests.push(root);
        for file in members {
            ws.add(ctx, &file, None);
        }
        // Path dependencies, breadth first: each manifest read may name more.
        let mut i = 0;
        while i < ws.manifests.len() {
            let from = ws.manifests[i].clone();
            for dep in path_deps(&from.doc) {
                match from.resolve(&dep.path) {
                    Ok(dir) => {
                        let file = manifest_in(&dir);
                        if !ctx.exists(&file) {
                            ws.wanted.push(file.clone());
                        }
                        ws.add(ctx, &file, Some((&from, &dep)));
                    }
                    Err(_) => ws.errors.push(
                        from.error(
                            &dep.at,
                            format!(
                                "`{}` is a path dependency on `{}`, outside the build context",
                                dep.name, dep.path
                            ),
                        )
                        .help("BuildKit sends only the build context: move the crate inside it and list it in the root Cargo.toml's `[workspace] members`"),
                    ),
                }
            }
            i += 1;
        }
        for m in &ws.manifests {
            if m.package().is_some() {
                ws.wanted
                    .extend(TARGET_PATTERNS.iter().map(|p| join(&m.dir, p)));
            }
        }
        ws.manifests[1..].sort_by(|a, b| a.file.cmp(&b.file));
        ws
    }

    /// Reads `file` into the workspace unless it is there already; `via` is the path dependency
    /// that names it, for the error when it is not in the context.
    fn add(&mut self, ctx: &ContextFiles, file: &str, via: Option<(&Manifest, &PathDep)>) {
        if file == "Cargo.toml" || !self.seen.insert(file.to_string()) {
            return;
        }
        match (ctx.text(file), via) {
            (Some(text), _) => match Manifest::parse(file, text) {
                Ok(m) => self.manifests.push(m),
                Err(e) => self.errors.push(e),
            },
            (None, Some((from, dep))) => self.errors.push(
                from.error(
                    &dep.at,
                    format!(
                        "`{}` is a path dependency on `{}`, but the build context has no {file}",
                        dep.name, dep.path
                    ),
                )
                .help("check the path, and that .dockerignore does not exclude it"),
            ),
            (None, None) => {}
        }
    }

    /// The local packages (manifests with `[package]`), root first.
    pub fn packages(&self) -> impl Iterator<Item = &Manifest> {
        self.manifests.iter().filter(|m| m.package().is_some())
    }
}

/// What kind of target a stub stands for: it decides the stub's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stub {
    Lib,
    Main,
    /// A test or bench with the default harness, which supplies `main`.
    Harnessed,
}

/// The stub sources of a package, by context path: one for every target cargo would find in the
/// real tree (declared with a path, or discovered where cargo looks), and the build script.
fn stubs(m: &Manifest, ctx: &ContextFiles) -> BTreeMap<String, Stub> {
    // Relative to the package; the first kind given for a path wins.
    let mut found: Vec<(String, Stub)> = Vec::new();
    let targets = |k: &str| -> Vec<&Table> {
        match m.doc.get(k) {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_table).collect(),
            Some(Value::Table(t)) => vec![t],
            _ => Vec::new(),
        }
    };
    let declared_path = |t: &Table| t.get("path").and_then(Value::as_str).map(String::from);
    if let Some(p) = targets("lib").first().and_then(|t| declared_path(t)) {
        found.push((p, Stub::Lib));
    }
    if let Some(Value::String(p)) = m.package().and_then(|p| p.get("build")) {
        found.push((p.clone(), Stub::Main));
    }
    for kind in ["bin", "example"] {
        found.extend(
            targets(kind)
                .into_iter()
                .filter_map(declared_path)
                .map(|p| (p, Stub::Main)),
        );
    }
    for (kind, dir) in [("test", "tests"), ("bench", "benches")] {
        for t in targets(kind) {
            let harness = t.get("harness").and_then(Value::as_bool) != Some(false);
            let stub = if harness { Stub::Harnessed } else { Stub::Main };
            // Without a path, cargo looks for `<dir>/<name>.rs`, then `<dir>/<name>/main.rs`.
            let path = declared_path(t).or_else(|| {
                let name = t.get("name")?.as_str()?;
                let nested = format!("{dir}/{name}/main.rs");
                Some(if ctx.exists(&join(&m.dir, &nested)) {
                    nested
                } else {
                    format!("{dir}/{name}.rs")
                })
            });
            found.extend(path.map(|p| (p, stub)));
        }
    }
    let mut out: BTreeMap<String, Stub> = BTreeMap::new();
    for (rel, kind) in found {
        if let Ok(p) = m.resolve(&rel) {
            out.entry(p).or_insert(kind);
        }
    }
    for pattern in TARGET_PATTERNS {
        let kind = match *pattern {
            "src/lib.rs" => Stub::Lib,
            p if p.starts_with("tests/") || p.starts_with("benches/") => Stub::Harnessed,
            _ => Stub::Main,
        };
        for f in ctx.matching(&join(&m.dir, pattern)) {
            out.entry(f.to_string()).or_insert(kind);
        }
    }
    out
}

/// The package's binaries, as cargo names them: each `[[bin]]`, and unless `autobins = false`,
/// `src/main.rs` (named after the package) and each `src/bin/<name>.rs` or `src/bin/<name>/main.rs`.
pub(crate) fn binaries(m: &Manifest, ctx: &ContextFiles) -> Vec<String> {
    let Some(package) = m.name() else {
        return Vec::new();
    };
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut declared_paths: BTreeSet<String> = BTreeSet::new();
    if let Some(Value::Array(bins)) = m.doc.get("bin") {
        for t in bins.iter().filter_map(Value::as_table) {
            let name = t.get("name").and_then(Value::as_str).unwrap_or(package);
            names.insert(name.to_string());
            if let Some(Ok(p)) = t.get("path").and_then(Value::as_str).map(|p| m.resolve(p)) {
                declared_paths.insert(p);
            }
        }
    }
    let autobins = m
        .package()
        .and_then(|p| p.get("autobins"))
        .and_then(Value::as_bool);
    if autobins != Some(false) {
        let main = join(&m.dir, "src/main.rs");
        if ctx.exists(&main) && !declared_paths.contains(&main) {
            names.insert(package.to_string());
        }
        let bin_dir = join(&m.dir, "src/bin/");
        for pattern in ["src/bin/*.rs", "src/bin/*/main.rs"] {
            for f in ctx.matching(&join(&m.dir, pattern)) {
                if declared_paths.contains(f) {
                    continue;
                }
                let rest = &f[bin_dir.len()..];
                let name = rest
                    .strip_suffix("/main.rs")
                    .or_else(|| rest.strip_suffix(".rs"))
                    .unwrap_or(rest);
                names.insert(name.to_string());
            }
        }
    }
    names.into_iter().collect()
}

/// A manifest as the skeleton has it: the package's own version masked (in `[workspace.package]`
/// too, and written out where the manifest leaves it to the default), the version requirements on local crates dropped (they name the masked versions),
/// `[lints]`, `[badges]` and descriptive package keys dropped.
pub(crate) fn normalize_manifest(m: &Manifest) -> Table {
    let mut doc = m.doc.clone();
    doc.remove("lints");
    doc.remove("badges");
    let mask = |package: &mut Table| {
        if package.get("version").is_some_and(Value::is_str) {
            package.insert("version".into(), Value::String(MASKED_VERSION.into()));
        }
        for k in DESCRIPTIVE_KEYS {
            package.remove(*k);
        }
    };
    if let Some(Value::Table(p)) = doc.get_mut("package") {
        mask(p);
        // No version is 0.0.0 to cargo: written out, the two give the same skeleton.
        p.entry("version")
            .or_insert_with(|| Value::String(MASKED_VERSION.into()));
    }
    if let Some(Value::Table(w)) = doc.get_mut("workspace") {
        w.remove("lints");
        w.remove("metadata");
        if let Some(Value::Table(p)) = w.get_mut("package") {
            mask(p);
        }
    }
    // Path dependencies may carry a version requirement for publishing; it would not match the
    // masked version.
    let paths: Vec<Vec<Seg>> = path_deps(&doc).into_iter().map(|d| d.at).collect();
    for at in paths {
        let mut v = doc.get_mut(match &at[0] {
            Seg::Key(k) => k.as_str(),
            Seg::Index(_) => unreachable!("dependency tables are tables"),
        });
        for seg in &at[1..at.len() - 1] {
            v = match (v, seg) {
                (Some(Value::Table(t)), Seg::Key(k)) => t.get_mut(k),
                _ => None,
            };
        }
        if let Some(Value::Table(dep)) = v {
            dep.remove("version");
        }
    }
    doc
}

/// A manifest as text: `[package]`, then `[workspace]`, then the other tables, keys sorted
/// within each: the same table gives the same bytes.
pub(crate) fn emit(doc: &Table, header: &str) -> String {
    let mut rest = doc.clone();
    let mut parts = Vec::new();
    for first in ["package", "workspace"] {
        if let Some(v) = rest.remove(first) {
            parts.push(Table::from_iter([(first.to_string(), v)]));
        }
    }
    parts.push(rest);
    let text: Vec<String> = parts
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| toml::to_string(t).unwrap_or_default())
        .collect();
    format!("{header}{}", text.join("\n"))
}

/// `Cargo.lock`, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Lockfile {
    pub doc: Table,
}

/// One `[[package]]` of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Locked {
    pub name: String,
    pub version: String,
    pub source: Option<String>,
}

impl Lockfile {
    pub fn parse(text: &str) -> Result<Lockfile, Diagnostic> {
        Ok(Lockfile {
            doc: Manifest::parse("Cargo.lock", text)?.doc,
        })
    }

    pub fn packages(&self) -> Vec<Locked> {
        let Some(Value::Array(packages)) = self.doc.get("package") else {
            return Vec::new();
        };
        packages
            .iter()
            .filter_map(|p| {
                Some(Locked {
                    name: p.get("name")?.as_str()?.to_string(),
                    version: p.get("version")?.as_str()?.to_string(),
                    source: p.get("source").and_then(Value::as_str).map(String::from),
                })
            })
            .collect()
    }

    /// The lockfile with every local package (one without a `source`) at the masked version, in
    /// cargo's own layout.
    pub fn normalized(&self) -> String {
        let local: BTreeSet<(String, String)> = self
            .packages()
            .into_iter()
            .filter(|p| p.source.is_none())
            .map(|p| (p.name, p.version))
            .collect();
        let mut doc = self.doc.clone();
        if let Some(Value::Array(packages)) = doc.get_mut("package") {
            for p in packages.iter_mut().filter_map(Value::as_table_mut) {
                if !p.contains_key("source") && p.get("version").is_some_and(Value::is_str) {
                    p.insert("version".into(), Value::String(MASKED_VERSION.into()));
                }
                if let Some(Value::Array(deps)) = p.get_mut("dependencies") {
                    for d in deps.iter_mut() {
                        // `name version`, written when several versions of a name are locked.
                        let masked = match d.as_str().map(|s| s.split(' ').collect::<Vec<_>>()) {
                            Some(parts) if parts.len() == 2 => local
                                .contains(&(parts[0].to_string(), parts[1].to_string()))
                                .then(|| format!("{} {MASKED_VERSION}", parts[0])),
                            _ => None,
                        };
                        if let Some(m) = masked {
                            *d = Value::String(m);
                        }
                    }
                }
            }
        }
        emit_lockfile(&doc)
    }
}

/// A lockfile in the layout cargo writes (`ops::lockfile` in cargo): the header, `version`, each
/// `[[package]]` with its keys in cargo's order, then any other table.
fn emit_lockfile(doc: &Table) -> String {
    let mut out = String::from(
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\n",
    );
    let mut rest = doc.clone();
    if let Some(v) = rest.remove("version") {
        out.push_str(&format!("version = {v}\n\n"));
    }
    if let Some(Value::Array(packages)) = rest.remove("package") {
        for p in packages.iter().filter_map(Value::as_table) {
            out.push_str("[[package]]\n");
            let mut p = p.clone();
            for k in ["name", "version", "source", "checksum"] {
                if let Some(v) = p.remove(k) {
                    out.push_str(&format!("{k} = {v}\n"));
                }
            }
            if let Some(Value::Array(deps)) = p.remove("dependencies") {
                if !deps.is_empty() {
                    out.push_str("dependencies = [\n");
                    for d in &deps {
                        out.push_str(&format!(" {d},\n"));
                    }
                    out.push_str("]\n");
                }
            }
            for (k, v) in &p {
                out.push_str(&format!("{k} = {v}\n"));
            }
            out.push('\n');
        }
    }
    if !rest.is_empty() {
        out.push_str(&toml::to_string(&rest).unwrap_or_default());
    }
    // As cargo writes it (lockfile version 2 and later): no blank line at the end.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The dependency skeleton: the normalized manifests and lockfile, and the stubs, by path.
pub(crate) fn skeleton(ws: &Workspace, lock: &Lockfile, ctx: &ContextFiles) -> Vec<GeneratedFile> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for m in &ws.manifests {
        let header = format!(
            "# {} for the dependency build, generated by Strata: local versions masked, descriptive keys and lint tables left out.\n",
            m.file
        );
        files.insert(m.file.clone(), emit(&normalize_manifest(m), &header));
        if m.package().is_some() {
            for (path, kind) in stubs(m, ctx) {
                let text = match kind {
                    Stub::Lib | Stub::Harnessed => "",
                    Stub::Main => STUB_MAIN,
                };
                files.entry(path).or_insert_with(|| text.to_string());
            }
        }
    }
    files.insert("Cargo.lock".into(), lock.normalized());
    files
        .into_iter()
        .map(|(path, text)| GeneratedFile {
            path,
            contents: text.into_bytes(),
            executable: false,
        })
        .collect()
}

/// The toolchain a `rust-toolchain.toml` or `rust-toolchain` file names, with where it says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Toolchain {
    pub channel: String,
    pub location: Location,
}

/// Reads the toolchain file as rustup does: `rust-toolchain` wins over `rust-toolchain.toml` when
/// both exist; the legacy file is either TOML or a bare channel name.
pub(crate) fn toolchain(ctx: &ContextFiles) -> Result<Option<Toolchain>, Diagnostic> {
    for file in ["rust-toolchain", "rust-toolchain.toml"] {
        let Some(text) = ctx.text(file) else { continue };
        let legacy = file == "rust-toolchain" && !text.contains('[');
        if legacy {
            let Some((line_no, line)) =
                text.lines().enumerate().find(|(_, l)| !l.trim().is_empty())
            else {
                continue;
            };
            let column = line.len() - line.trim_start().len() + 1;
            let start = Position {
                line: line_no + 1,
                column,
            };
            return Ok(Some(Toolchain {
                channel: line.trim().to_string(),
                location: Location::File {
                    name: file.to_string(),
                    start,
                    end: start,
                },
            }));
        }
        let m = Manifest::parse(file, text)?;
        if let Some(channel) = m.get(&["toolchain", "channel"]).and_then(Value::as_str) {
            let location = m.error(&[key("toolchain"), key("channel")], "").location;
            return Ok(Some(Toolchain {
                channel: channel.to_string(),
                location,
            }));
        }
    }
    Ok(None)
}

/// `build.target` of `.cargo/config.toml` (or the legacy `.cargo/config`): the triple cargo builds
/// for when no `--target` is given, which puts the binary under `target/<triple>/`.
pub(crate) fn config_build_target(ctx: &ContextFiles) -> Result<Option<String>, Diagnostic> {
    for file in [".cargo/config.toml", ".cargo/config"] {
        let Some(text) = ctx.text(file) else { continue };
        let m = Manifest::parse(file, text)?;
        return match m.get(&["build", "target"]) {
            None => Ok(None),
            Some(Value::String(t)) => Ok(Some(t.clone())),
            Some(_) => Err(m
                .error(
                    &[key("build"), key("target")],
                    "`build.target` names several targets; Strata builds one binary for the image's platform",
                )
                .help("name one target, or remove `build.target`")),
        };
    }
    Ok(None)
}

/// Splits `1`, `1.85`, `1.85.0` into numbers; anything else (`stable`, `nightly-2024-01-01`) is
/// `None`.
pub(crate) fn numeric_version(s: &str) -> Option<Vec<u64>> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    parts.iter().map(|p| p.parse().ok()).collect()
}

/// Whether the toolchain `wanted` is newer than every release an image of `available` can have:
/// `1.85` covers 1.85.x, `1` every 1.x.
pub(crate) fn newer_than(wanted: &[u64], available: &[u64]) -> bool {
    let n = available.len().min(wanted.len());
    wanted[..n] > available[..n]
}

#[cfg(test)]
mod tests;
