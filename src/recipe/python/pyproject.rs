//! Reading `pyproject.toml` and `Pipfile` (both TOML) for what the Python recipe needs and no
//! more: which tools the project configures, whether it is a package the tool installs, its uv
//! workspace members, and its dependencies on local directories. Nothing in them is trusted: a
//! syntax error or a value of the wrong type is an error located in the file, and everything else
//! is left to the tool that reads the file in the build.
//!
//! Pipfile.lock (JSON) is read only for the dev-only package names, when a build step needs the
//! dev packages removed afterwards; the other lockfiles are never read.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, Diagnostics, SourceText};
use crate::pattern::clean_relative;
use crate::spec::Located;

type Value<'i> = Spanned<DeValue<'i>>;

/// A dependency on a directory: the tool installs it from its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathDep {
    pub name: String,
    /// As written (`../lib`, `file:///${PROJECT_ROOT}/libs/x`).
    pub written: String,
    /// Relative to the context root, cleaned; `None` when it leaves the build context.
    pub path: Option<String>,
    /// The path's value in the file.
    pub span: Range<usize>,
}

/// What the recipe reads in `pyproject.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pyproject {
    pub source: SourceText,
    /// `[tool.poetry]`, `[tool.uv]`, `[tool.pdm]`: the tool's name and its key in the file.
    pub tools: Vec<(&'static str, Range<usize>)>,
    /// A `[build-system]` table: the project is a package to build and install.
    pub build_system: bool,
    /// `tool.poetry.package-mode`.
    pub poetry_package_mode: Option<bool>,
    /// `tool.uv.package`.
    pub uv_package: Option<bool>,
    /// `tool.pdm.distribution`.
    pub pdm_distribution: Option<bool>,
    /// `tool.uv.workspace.members`, as written (globs).
    pub workspace_members: Vec<Located<String>>,
    /// `tool.uv.workspace.exclude`.
    pub workspace_exclude: Vec<String>,
    pub path_deps: Vec<PathDep>,
}

impl Pyproject {
    pub fn tool(&self, name: &str) -> Option<&Range<usize>> {
        self.tools.iter().find(|(t, _)| *t == name).map(|(_, s)| s)
    }
}

/// What the recipe reads in a `Pipfile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipfile {
    pub source: SourceText,
    pub path_deps: Vec<PathDep>,
}

const SNIFFED_TOOLS: &[&str] = &["poetry", "uv", "pdm"];

/// Reads a pyproject.toml. `name` is its path in the context, for locations.
pub fn read_pyproject(name: &str, text: &str) -> Result<Pyproject, Diagnostics> {
    let mut r = Reader::new(name, text);
    let Some(root) = r.parse(text) else {
        return Err(Diagnostics(r.diags));
    };
    let mut out = Pyproject {
        source: r.source.clone(),
        tools: Vec::new(),
        build_system: get(&root, "build-system").is_some(),
        poetry_package_mode: None,
        uv_package: None,
        pdm_distribution: None,
        workspace_members: Vec::new(),
        workspace_exclude: Vec::new(),
        path_deps: Vec::new(),
    };
    if let Some(project) = r.table_at(&root, "project", "project") {
        for (key, deps) in [
            ("dependencies", get(project, "dependencies")),
            (
                "optional-dependencies",
                get(project, "optional-dependencies"),
            ),
        ] {
            if let Some(v) = deps {
                r.pep508_deps(&format!("project.{key}"), v, &mut out.path_deps);
            }
        }
    }
    if let Some(v) = get(&root, "dependency-groups") {
        r.pep508_deps("dependency-groups", v, &mut out.path_deps);
    }
    if let Some((_, tool)) = entry(&root, "tool") {
        let Some(tool) = r.table("tool", tool) else {
            return Err(Diagnostics(r.diags));
        };
        for (key, _) in tool.iter() {
            if let Some(name) = SNIFFED_TOOLS.iter().find(|t| **t == key.get_ref().as_ref()) {
                out.tools.push((name, r.span(key.span())));
            }
        }
        if let Some(poetry) = r.table_at(tool, "poetry", "tool.poetry") {
            out.poetry_package_mode = r.bool_at(poetry, "package-mode", "tool.poetry.package-mode");
            if let Some(v) = get(poetry, "dependencies") {
                r.poetry_deps("tool.poetry.dependencies", v, &mut out.path_deps);
            }
            if let Some(v) = get(poetry, "dev-dependencies") {
                r.poetry_deps("tool.poetry.dev-dependencies", v, &mut out.path_deps);
            }
            if let Some(groups) = r.table_at(poetry, "group", "tool.poetry.group") {
                for (g, group) in groups.iter() {
                    let key = format!("tool.poetry.group.{}", g.get_ref());
                    if let Some(group) = r.table(&key, group) {
                        if let Some(v) = get(group, "dependencies") {
                            r.poetry_deps(&format!("{key}.dependencies"), v, &mut out.path_deps);
                        }
                    }
                }
            }
        }
        if let Some(uv) = r.table_at(tool, "uv", "tool.uv") {
            out.uv_package = r.bool_at(uv, "package", "tool.uv.package");
            if let Some(sources) = r.table_at(uv, "sources", "tool.uv.sources") {
                r.uv_sources(sources, &mut out.path_deps);
            }
            if let Some(ws) = r.table_at(uv, "workspace", "tool.uv.workspace") {
                if let Some(v) = get(ws, "members") {
                    out.workspace_members = r.strings("tool.uv.workspace.members", v);
                }
                if let Some(v) = get(ws, "exclude") {
                    out.workspace_exclude = r
                        .strings("tool.uv.workspace.exclude", v)
                        .into_iter()
                        .map(|l| l.value)
                        .collect();
                }
            }
        }
        if let Some(pdm) = r.table_at(tool, "pdm", "tool.pdm") {
            out.pdm_distribution = r.bool_at(pdm, "distribution", "tool.pdm.distribution");
            if let Some(v) = get(pdm, "dev-dependencies") {
                r.pep508_deps("tool.pdm.dev-dependencies", v, &mut out.path_deps);
            }
        }
    }
    if r.diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(r.diags))
    }
}

/// Reads a Pipfile: its path dependencies (`name = { path = "…" }` in any package category).
pub fn read_pipfile(name: &str, text: &str) -> Result<Pipfile, Diagnostics> {
    let mut r = Reader::new(name, text);
    let Some(root) = r.parse(text) else {
        return Err(Diagnostics(r.diags));
    };
    let mut path_deps = Vec::new();
    for (category, packages) in root.iter() {
        let category = category.get_ref().as_ref();
        // Every table but these is a package category (`packages`, `dev-packages`, custom ones).
        if matches!(category, "source" | "requires" | "pipenv" | "scripts") {
            continue;
        }
        let Some(packages) = r.table(category, packages) else {
            continue;
        };
        for (package, spec) in packages.iter() {
            if let DeValue::Table(t) = spec.get_ref() {
                if let Some(path) = get(t, "path") {
                    let key = format!("{category}.{}.path", package.get_ref());
                    if let Some(p) = r.string(&key, path) {
                        path_deps.push(path_dep(
                            package.get_ref(),
                            &p.value,
                            p.value.as_str(),
                            p.span,
                        ));
                    }
                }
            }
        }
    }
    if r.diags.is_empty() {
        Ok(Pipfile {
            source: r.source,
            path_deps,
        })
    } else {
        Err(Diagnostics(r.diags))
    }
}

/// The packages of Pipfile.lock's `develop` section that `default` does not also hold: what a
/// production environment drops. Sorted.
pub fn pipfile_lock_dev_only(text: &str) -> Result<Vec<String>, Diagnostics> {
    let lock = super::super::package_json::parse("Pipfile.lock", text)?;
    let names = |section: &str| -> Vec<String> {
        lock.get(section)
            .and_then(|s| s.as_object())
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let default = names("default");
    let mut dev: Vec<String> = names("develop")
        .into_iter()
        .filter(|d| !default.contains(d))
        .collect();
    dev.sort();
    Ok(dev)
}

fn entry<'a, 'i>(t: &'a DeTable<'i>, name: &str) -> Option<(Range<usize>, &'a Value<'i>)> {
    t.iter()
        .find(|(k, _)| k.get_ref().as_ref() == name)
        .map(|(k, v)| (k.span(), v))
}

fn get<'a, 'i>(t: &'a DeTable<'i>, name: &str) -> Option<&'a Value<'i>> {
    entry(t, name).map(|(_, v)| v)
}

/// A path dependency from what the file says; `written` may be a `file:` URL.
fn path_dep(name: &str, written: &str, path: &str, span: Range<usize>) -> PathDep {
    let path = path.replace('\\', "/");
    let path = (!path.starts_with('/'))
        .then(|| clean_relative(&path).ok())
        .flatten();
    PathDep {
        name: name.to_string(),
        written: written.to_string(),
        path,
        span,
    }
}

/// The directory a PEP 508 `name @ file:…` requirement points at, relative to the project root
/// (`${PROJECT_ROOT}` is PDM's way to say it), or `None` for anything else.
fn file_url_path(url: &str) -> Option<String> {
    let rest = url.trim().strip_prefix("file:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = rest
        .split(['#', '?', ';'])
        .next()
        .unwrap_or_default()
        .trim();
    for root in ["/${PROJECT_ROOT}", "${PROJECT_ROOT}"] {
        if let Some(r) = rest.strip_prefix(root) {
            let r = r.trim_start_matches('/');
            return Some(if r.is_empty() { ".".into() } else { r.into() });
        }
    }
    Some(rest.to_string())
}

struct Reader {
    source: SourceText,
    /// Bytes skipped before the text the parser saw (a byte-order mark).
    shift: usize,
    diags: Vec<Diagnostic>,
}

impl Reader {
    fn new(name: &str, text: &str) -> Reader {
        let stripped = text.strip_prefix('\u{feff}').unwrap_or(text);
        Reader {
            source: SourceText::new(name, text),
            shift: text.len() - stripped.len(),
            diags: Vec::new(),
        }
    }

    fn span(&self, s: Range<usize>) -> Range<usize> {
        s.start + self.shift..s.end + self.shift
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = Diagnostic::at(&self.source, self.span(span), message);
        self.diags.push(d);
    }

    /// Parses the text after the byte-order mark; a syntax error is recorded.
    fn parse<'i>(&mut self, text: &'i str) -> Option<DeTable<'i>> {
        match DeTable::parse(&text[self.shift..]) {
            Ok(t) => Some(t.into_inner()),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = format!("invalid TOML: {}", e.message().trim());
                self.error(span, message);
                None
            }
        }
    }

    fn wrong_type(&mut self, key: &str, v: &Value<'_>, expected: &str) {
        let found = match v.get_ref() {
            DeValue::String(_) => "a string",
            DeValue::Integer(_) => "an integer",
            DeValue::Float(_) => "a float",
            DeValue::Boolean(_) => "a boolean",
            DeValue::Datetime(_) => "a date-time",
            DeValue::Array(_) => "an array",
            DeValue::Table(_) => "a table",
        };
        self.error(v.span(), format!("`{key}` must be {expected}, not {found}"));
    }

    fn table<'a, 'i>(&mut self, key: &str, v: &'a Value<'i>) -> Option<&'a DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(key, v, "a table");
                None
            }
        }
    }

    fn table_at<'a, 'i>(
        &mut self,
        t: &'a DeTable<'i>,
        name: &str,
        key: &str,
    ) -> Option<&'a DeTable<'i>> {
        get(t, name).and_then(|v| self.table(key, v))
    }

    fn bool_at(&mut self, t: &DeTable<'_>, name: &str, key: &str) -> Option<bool> {
        let v = get(t, name)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, v, "a boolean");
                None
            }
        }
    }

    fn string(&mut self, key: &str, v: &Value<'_>) -> Option<Located<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(Located::new(s.to_string(), self.span(v.span()))),
            _ => {
                self.wrong_type(key, v, "a string");
                None
            }
        }
    }

    fn strings(&mut self, key: &str, v: &Value<'_>) -> Vec<Located<String>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(key, v, "an array of strings");
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.string(key, item))
            .collect()
    }

    /// PEP 508 strings, in an array or in a table of arrays (`optional-dependencies`, groups);
    /// `{ include-group = … }` entries and other shapes are the tool's to judge.
    fn pep508_deps(&mut self, key: &str, v: &Value<'_>, out: &mut Vec<PathDep>) {
        match v.get_ref() {
            DeValue::Array(items) => {
                for item in items {
                    if let DeValue::String(s) = item.get_ref() {
                        let req = s.trim().trim_start_matches("-e ").trim();
                        let Some((name, url)) = req.split_once('@') else {
                            continue;
                        };
                        let name = name
                            .split(['[', ' ', ';'])
                            .next()
                            .unwrap_or_default()
                            .trim();
                        if let Some(path) = file_url_path(url) {
                            out.push(path_dep(name, s, &path, self.span(item.span())));
                        }
                    }
                }
            }
            DeValue::Table(t) => {
                for (group, items) in t.iter() {
                    self.pep508_deps(&format!("{key}.{}", group.get_ref()), items, out);
                }
            }
            _ => self.wrong_type(key, v, "an array of requirement strings"),
        }
    }

    /// `name = "^1.0"`, `name = { path = "…" }` or an array of such tables (one per marker).
    fn poetry_deps(&mut self, key: &str, v: &Value<'_>, out: &mut Vec<PathDep>) {
        let Some(t) = self.table(key, v) else { return };
        for (name, spec) in t.iter() {
            let tables: Vec<&DeTable<'_>> = match spec.get_ref() {
                DeValue::Table(t) => vec![t],
                DeValue::Array(items) => items
                    .iter()
                    .filter_map(|i| match i.get_ref() {
                        DeValue::Table(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for t in tables {
                if let Some(path) = get(t, "path") {
                    let k = format!("{key}.{}.path", name.get_ref());
                    if let Some(p) = self.string(&k, path) {
                        out.push(path_dep(name.get_ref(), &p.value, &p.value, p.span));
                    }
                }
            }
        }
    }

    /// `[tool.uv.sources]`: `name = { path = "…" }` (or an array of them); workspace members
    /// (`{ workspace = true }`) are listed by the workspace instead.
    fn uv_sources(&mut self, sources: &DeTable<'_>, out: &mut Vec<PathDep>) {
        for (name, spec) in sources.iter() {
            let tables: Vec<&DeTable<'_>> = match spec.get_ref() {
                DeValue::Table(t) => vec![t],
                DeValue::Array(items) => items
                    .iter()
                    .filter_map(|i| match i.get_ref() {
                        DeValue::Table(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => {
                    let key = format!("tool.uv.sources.{}", name.get_ref());
                    self.wrong_type(&key, spec, "a table");
                    Vec::new()
                }
            };
            for t in tables {
                if let Some(path) = get(t, "path") {
                    let key = format!("tool.uv.sources.{}.path", name.get_ref());
                    if let Some(p) = self.string(&key, path) {
                        out.push(path_dep(name.get_ref(), &p.value, &p.value, p.span));
                    }
                }
            }
        }
    }
}
