//! Walks the TOML document by hand (rather than through serde) so every error can point at the
//! exact key or value, suggest the closest known key, and so that several errors are reported at
//! once, in source order.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{
    Command, DEFAULT_CACHE_ID, DEFAULT_USER, DEFAULT_WORKDIR, Language, Located, Packages, Secret,
    SecretTarget, Spec, SubstError, substitute, substitute_keeping_unset,
};
use crate::diag::{Diagnostic, Diagnostics, SourceText, closest};
use crate::pattern::{clean_relative, clean_relative_pattern};
use crate::reference::ImageRef;

const KEYS: &[&str] = &[
    "language",
    "version",
    "package_manager",
    "manifests",
    "app",
    "workdir",
    "install",
    "build",
    "run",
    "port",
    "env",
    "build_env",
    "user",
    "base",
    "runtime",
    "packages",
    "labels",
    "secret",
    "cache",
];

/// Parses and validates a spec. `args` are the `--build-arg` values for `${NAME}` substitution.
pub fn parse(source: SourceText, args: &BTreeMap<String, String>) -> Result<Spec, Diagnostics> {
    let text = source.text.strip_prefix('\u{feff}').unwrap_or(&source.text);
    // Keep offsets valid for `source` even when a BOM was skipped.
    let shift = source.text.len() - text.len();
    let table = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let span = span.start + shift..span.end + shift;
            return Err(Diagnostic::at(&source, span, toml_message(e.message()))
                .help("the spec is TOML: see the key reference in the Strata README")
                .into());
        }
    };
    let mut p = Parser {
        src: &source,
        args,
        shift,
        diags: Vec::new(),
    };
    let spec = p.spec(table.get_ref());
    let mut diags = p.diags;
    match spec {
        Some(spec) if diags.is_empty() => Ok(spec),
        _ => {
            diags.sort_by_key(|d| match &d.location {
                crate::diag::Location::File { start, .. } => (start.line, start.column),
                _ => (0, 0),
            });
            Err(Diagnostics(diags))
        }
    }
}

fn toml_message(m: &str) -> String {
    let m = m.trim();
    format!("invalid TOML: {m}")
}

struct Parser<'a> {
    src: &'a SourceText,
    args: &'a BTreeMap<String, String>,
    shift: usize,
    diags: Vec<Diagnostic>,
}

type Value<'i> = Spanned<DeValue<'i>>;

impl Parser<'_> {
    fn span(&self, s: Range<usize>) -> Range<usize> {
        s.start + self.shift..s.end + self.shift
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.src, self.span(span), message)
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn spec(&mut self, table: &DeTable<'_>) -> Option<Spec> {
        let mut get = BTreeMap::new();
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            if KEYS.contains(&name) {
                get.insert(name.to_string(), value);
            } else {
                let mut d = self.error(key.span(), format!("unknown key `{name}`"));
                d = match closest(name, KEYS.iter().copied()) {
                    Some(k) => d.help(format!("did you mean `{k}`?")),
                    None => d.help(format!("known keys: {}", KEYS.join(", "))),
                };
                self.push(d);
            }
        }

        let language = match get.get("language") {
            Some(v) => self.language(v),
            None => {
                let d = self
                    .error(0..0, "missing key `language`")
                    .help("add `language = \"python\"` or `language = \"node\"`");
                self.push(d);
                None
            }
        };
        let version = get
            .get("version")
            .and_then(|v| self.string("version", v, true));
        let package_manager = get
            .get("package_manager")
            .and_then(|v| self.string("package_manager", v, true));
        let manifests = get.get("manifests").map(|v| self.manifests(v));
        let app = match get.get("app") {
            Some(v) => self.app(v),
            None => vec![Located::new(".".to_string(), 0..0)],
        };
        let workdir = get
            .get("workdir")
            .and_then(|v| self.workdir(v))
            .unwrap_or_else(|| DEFAULT_WORKDIR.to_string());
        let install = get
            .get("install")
            .and_then(|v| self.command_string("install", v));
        let build = get
            .get("build")
            .and_then(|v| self.command_string("build", v));
        let run = get.get("run").and_then(|v| self.run(v));
        let ports = get.get("port").map(|v| self.ports(v)).unwrap_or_default();
        let env = get
            .get("env")
            .map(|v| self.env_table("env", v))
            .unwrap_or_default();
        let build_env = get
            .get("build_env")
            .map(|v| self.env_table("build_env", v))
            .unwrap_or_default();
        let user = get
            .get("user")
            .and_then(|v| self.user(v))
            .unwrap_or_else(|| DEFAULT_USER.to_string());
        let base = get.get("base").and_then(|v| self.image("base", v));
        let runtime = get.get("runtime").and_then(|v| self.image("runtime", v));
        let packages = get
            .get("packages")
            .map(|v| self.packages(v))
            .unwrap_or_default();
        let labels = get
            .get("labels")
            .map(|v| self.string_table("labels", v))
            .unwrap_or_default();
        let secrets = get
            .get("secret")
            .map(|v| self.secrets(v))
            .unwrap_or_default();
        let cache_id = get
            .get("cache")
            .and_then(|v| self.cache(v))
            .unwrap_or_else(|| DEFAULT_CACHE_ID.to_string());

        Some(Spec {
            language: language?,
            version,
            package_manager,
            manifests,
            app,
            workdir,
            install,
            build,
            run,
            ports,
            env,
            build_env,
            user,
            base,
            runtime,
            packages,
            labels,
            secrets,
            cache_id,
            source: self.src.clone(),
        })
    }

    fn wrong_type(&mut self, key: &str, v: &Value<'_>, expected: &str) {
        let found = v.get_ref().type_str();
        let mut d = self.error(
            v.span(),
            format!("`{key}` must be {expected}, found {found}"),
        );
        if matches!(v.get_ref(), DeValue::Integer(_) | DeValue::Float(_)) && expected == "a string"
        {
            d = d.help("put the value in quotes");
        }
        self.push(d);
    }

    /// A string value, with `${ARG}` substitution when `subst` is true.
    fn string(&mut self, key: &str, v: &Value<'_>, subst: bool) -> Option<Located<String>> {
        self.string_with(key, v, subst, false)
    }

    fn string_with(
        &mut self,
        key: &str,
        v: &Value<'_>,
        subst: bool,
        keep_unset: bool,
    ) -> Option<Located<String>> {
        let DeValue::String(s) = v.get_ref() else {
            self.wrong_type(key, v, "a string");
            return None;
        };
        let span = self.span(v.span());
        if !subst {
            return Some(Located::new(s.to_string(), span));
        }
        let result = if keep_unset {
            substitute_keeping_unset(s, self.args)
        } else {
            substitute(s, self.args)
        };
        match result {
            Ok(out) => Some(Located::new(out, span)),
            Err(e) => {
                // +1 skips the opening quote; exact for strings without escapes.
                let (offset, d) = match e {
                    SubstError::Unset { name, offset } => {
                        (offset, format!("build argument `{name}` is not set"))
                    }
                    SubstError::Malformed { offset } => (
                        offset,
                        "malformed `${…}`: expected `${NAME}` or `${NAME:-default}`".to_string(),
                    ),
                };
                let at = v.span().start + 1 + offset;
                let help = match &d {
                    m if m.starts_with("build argument") => {
                        "pass `--build-arg NAME=value`, or give a default: `${NAME:-value}`"
                    }
                    _ => "write `$${` for a literal `${`",
                };
                let diag = self.error(at..at + 2, d).help(help);
                self.push(diag);
                None
            }
        }
    }

    /// Shell commands are left alone: `${VAR}` in them is for the shell at run time.
    fn command_string(&mut self, key: &str, v: &Value<'_>) -> Option<Located<String>> {
        let s = self.string(key, v, false)?;
        if s.value.trim().is_empty() {
            let d = self.error(v.span(), format!("`{key}` cannot be empty"));
            self.push(d);
            return None;
        }
        Some(s)
    }

    fn string_list(
        &mut self,
        key: &str,
        v: &Value<'_>,
        subst: bool,
    ) -> Option<Vec<Located<String>>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            if let Some(s) = self.string(key, item, subst) {
                out.push(s);
            }
        }
        Some(out)
    }

    fn language(&mut self, v: &Value<'_>) -> Option<Located<Language>> {
        let name = self.string("language", v, true)?;
        match Language::from_name(&name.value) {
            Some(l) => Some(Located::new(l, name.span)),
            None => {
                let msg = if Language::PLANNED.contains(&name.value.as_str()) {
                    format!("language `{}` is not supported yet", name.value)
                } else {
                    format!("unknown language `{}`", name.value)
                };
                let d = Diagnostic::at(self.src, name.span, msg).help(format!(
                    "supported languages: {}",
                    Language::SUPPORTED.join(", ")
                ));
                self.push(d);
                None
            }
        }
    }

    fn relative_path(&mut self, key: &str, s: Located<String>) -> Option<Located<String>> {
        if s.value.trim().is_empty() {
            let d = Diagnostic::at(self.src, s.span, format!("`{key}` entries cannot be empty"));
            self.push(d);
            return None;
        }
        match clean_relative_pattern(&s.value) {
            Ok(clean) => Some(Located::new(clean, s.span)),
            Err(e) => {
                let d = Diagnostic::at(self.src, s.span, format!("`{key}`: {e}"))
                    .help("name a path inside the build context, like `requirements.txt` or `app`");
                self.push(d);
                None
            }
        }
    }

    fn manifests(&mut self, v: &Value<'_>) -> Vec<Located<String>> {
        let list = match v.get_ref() {
            DeValue::String(_) => self.string("manifests", v, true).map(|s| vec![s]),
            _ => self.string_list("manifests", v, true),
        };
        let list = list.unwrap_or_default();
        let given_empty = list.is_empty() && matches!(v.get_ref(), DeValue::Array(_));
        let mut out: Vec<Located<String>> = Vec::new();
        for s in list {
            // An include-only list: a `!` entry would be a pattern that selects nothing.
            if s.value.starts_with('!') {
                let d = Diagnostic::at(
                    self.src,
                    s.span,
                    format!("`manifests` cannot exclude files: `{}`", s.value),
                )
                .help("manifests are include patterns; to exclude files use .dockerignore");
                self.push(d);
                continue;
            }
            if let Some(p) = self.relative_path("manifests", s) {
                if p.value == "." {
                    let d = Diagnostic::at(
                        self.src,
                        p.span,
                        "`manifests` cannot name the whole context",
                    )
                    .help("list the dependency files only; the source goes in `app`");
                    self.push(d);
                } else if !out.iter().any(|o| o.value == p.value) {
                    out.push(p);
                }
            }
        }
        if given_empty {
            let d = self
                .error(v.span(), "`manifests` is empty")
                .help("list the dependency files, or remove the key to use the defaults");
            self.push(d);
        }
        out
    }

    fn app(&mut self, v: &Value<'_>) -> Vec<Located<String>> {
        let list = match v.get_ref() {
            DeValue::String(_) => self.string("app", v, true).map(|s| vec![s]),
            DeValue::Array(_) => self.string_list("app", v, true),
            _ => {
                self.wrong_type("app", v, "a string or an array of strings");
                None
            }
        };
        let mut out: Vec<Located<String>> = Vec::new();
        for s in list.unwrap_or_default() {
            if let Some(p) = self.relative_path("app", s) {
                if !out.iter().any(|o| o.value == p.value) {
                    out.push(p);
                }
            }
        }
        // "." already covers everything else.
        if let Some(whole) = out.iter().find(|p| p.value == ".").cloned() {
            out = vec![whole];
        }
        if out.is_empty() {
            out.push(Located::new(".".into(), self.span(v.span())));
        }
        out
    }

    fn workdir(&mut self, v: &Value<'_>) -> Option<String> {
        let s = self.string("workdir", v, true)?;
        if !s.value.starts_with('/') {
            let d = Diagnostic::at(
                self.src,
                s.span,
                format!("`workdir` must be an absolute path, found `{}`", s.value),
            )
            .help(format!("write `/{}`", s.value.trim_start_matches("./")));
            self.push(d);
            return None;
        }
        // Absolute paths cannot escape; `clean_relative` does the rest of the cleaning.
        let clean = clean_relative(s.value.trim_start_matches('/')).unwrap_or_else(|_| ".".into());
        Some(if clean == "." {
            "/".into()
        } else {
            format!("/{clean}")
        })
    }

    fn run(&mut self, v: &Value<'_>) -> Option<Located<Command>> {
        match v.get_ref() {
            DeValue::String(_) => {
                let s = self.command_string("run", v)?;
                Some(Located::new(Command::Shell(s.value), s.span))
            }
            DeValue::Array(_) => {
                let items = self.string_list("run", v, false)?;
                if items.is_empty() {
                    let d = self
                        .error(v.span(), "`run` cannot be an empty array")
                        .help("write the command, e.g. `run = [\"node\", \"server.js\"]`");
                    self.push(d);
                    return None;
                }
                let span = self.span(v.span());
                Some(Located::new(
                    Command::Exec(items.into_iter().map(|s| s.value).collect()),
                    span,
                ))
            }
            _ => {
                self.wrong_type(
                    "run",
                    v,
                    "a string (shell form) or an array of strings (exec form)",
                );
                None
            }
        }
    }

    fn ports(&mut self, v: &Value<'_>) -> Vec<String> {
        let items: Vec<&Value<'_>> = match v.get_ref() {
            DeValue::Array(a) => a.iter().collect(),
            _ => vec![v],
        };
        let mut out = Vec::new();
        for item in items {
            let port = match item.get_ref() {
                DeValue::Integer(i) => i
                    .as_str()
                    .parse::<u32>()
                    .ok()
                    .filter(|p| (1..=65535).contains(p))
                    .map(|p| format!("{p}/tcp")),
                DeValue::String(s) => {
                    let (num, proto) = s.split_once('/').unwrap_or((s, "tcp"));
                    let ok_num = num.parse::<u32>().ok().filter(|p| (1..=65535).contains(p));
                    match (ok_num, proto) {
                        (Some(p), "tcp" | "udp" | "sctp") => Some(format!("{p}/{proto}")),
                        _ => None,
                    }
                }
                _ => None,
            };
            match port {
                Some(p) if !out.contains(&p) => out.push(p),
                Some(_) => {}
                None => {
                    let d = self
                        .error(
                            item.span(),
                            "`port` must be a port number 1-65535 (or \"N/udp\")",
                        )
                        .help("e.g. `port = 8000` or `port = [80, \"53/udp\"]`");
                    self.push(d);
                }
            }
        }
        out
    }

    fn table<'v, 'i>(&mut self, key: &str, v: &'v Value<'i>) -> Option<&'v DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(key, v, "a table");
                None
            }
        }
    }

    fn string_table(&mut self, key: &str, v: &Value<'_>) -> BTreeMap<String, String> {
        self.string_table_with(key, v, false)
    }

    fn string_table_with(
        &mut self,
        key: &str,
        v: &Value<'_>,
        keep_unset: bool,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(t) = self.table(key, v) else {
            return out;
        };
        for (k, val) in t.iter() {
            let name = format!("{key}.{}", k.get_ref());
            if let Some(s) = self.string_with(&name, val, true, keep_unset) {
                out.insert(k.get_ref().to_string(), s.value);
            }
        }
        out
    }

    fn env_table(&mut self, key: &str, v: &Value<'_>) -> BTreeMap<String, String> {
        let Some(t) = self.table(key, v) else {
            return BTreeMap::new();
        };
        for (k, _) in t.iter() {
            let name = k.get_ref();
            if name.is_empty() || name.contains('=') || name.chars().any(char::is_whitespace) {
                let d = self
                    .error(
                        k.span(),
                        format!("`{name}` is not a valid environment variable name"),
                    )
                    .help("names cannot be empty or contain `=` or spaces");
                self.push(d);
            }
        }
        // Unset `${NAME}` in values refers to the image environment (`PATH`…), like Dockerfile ENV.
        self.string_table_with(key, v, true)
    }

    fn user(&mut self, v: &Value<'_>) -> Option<String> {
        let s = match v.get_ref() {
            DeValue::Integer(i) => i.as_str().to_string(),
            _ => self.string("user", v, true)?.value,
        };
        let valid = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if !valid {
            let d = self
                .error(
                    v.span(),
                    format!("`user` must be a user name or uid[:gid], found `{s}`"),
                )
                .help("e.g. `user = \"10001\"`, `user = \"node\"` or `user = \"root\"`");
            self.push(d);
            return None;
        }
        Some(s)
    }

    fn image(&mut self, key: &str, v: &Value<'_>) -> Option<Located<ImageRef>> {
        let s = self.string(key, v, true)?;
        match ImageRef::parse(&s.value) {
            Ok(r) => Some(Located::new(r, s.span)),
            Err(e) => {
                let d = Diagnostic::at(
                    self.src,
                    s.span,
                    format!("`{key}` is not a valid image reference: {e}"),
                )
                .help("e.g. `python:3.12-slim` or `ghcr.io/org/image:tag`");
                self.push(d);
                None
            }
        }
    }

    fn packages(&mut self, v: &Value<'_>) -> Packages {
        let mut out = Packages::default();
        let Some(t) = self.table("packages", v) else {
            return out;
        };
        for (k, val) in t.iter() {
            let which = k.get_ref().as_ref();
            let list = match which {
                "build" => &mut out.build,
                "runtime" => &mut out.runtime,
                other => {
                    let mut d = self.error(k.span(), format!("unknown key `packages.{other}`"));
                    d = match closest(other, ["build", "runtime"]) {
                        Some(s) => d.help(format!("did you mean `packages.{s}`?")),
                        None => d.help("`packages` takes `build` and `runtime`"),
                    };
                    self.push(d);
                    continue;
                }
            };
            let name = format!("packages.{which}");
            let items = self.string_list(&name, val, true).unwrap_or_default();
            for item in items {
                // They end up in an apt-get/apk command line: only package-name characters.
                let valid = !item.value.is_empty()
                    && item.value.chars().all(|c| {
                        c.is_ascii_alphanumeric()
                            || matches!(c, '.' | '+' | '-' | ':' | '=' | '~' | '_')
                    });
                if valid {
                    list.push(item.value);
                } else {
                    let d = Diagnostic::at(
                        self.src,
                        item.span,
                        format!("`{}` is not a valid package name", item.value),
                    )
                    .help("one package per entry, e.g. `[\"libpq5\", \"curl\"]`");
                    self.diags.push(d);
                }
            }
        }
        out
    }

    fn secrets(&mut self, v: &Value<'_>) -> Vec<Secret> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type("secret", v, "an array of tables (`[[secret]]`)");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            let Some(t) = self.table("secret", item) else {
                continue;
            };
            let mut id = None;
            let mut env = None;
            let mut target = None;
            let mut required = false;
            for (k, val) in t.iter() {
                match k.get_ref().as_ref() {
                    "id" => id = self.string("secret.id", val, true),
                    "env" => env = self.string("secret.env", val, true),
                    "target" => target = self.string("secret.target", val, true),
                    "required" => match val.get_ref() {
                        DeValue::Boolean(b) => required = *b,
                        _ => self.wrong_type("secret.required", val, "a boolean"),
                    },
                    other => {
                        let d = self
                            .error(k.span(), format!("unknown key `secret.{other}`"))
                            .help("`[[secret]]` takes `id`, `env` or `target`, and `required`");
                        self.push(d);
                    }
                }
            }
            let Some(id) = id else {
                let d = self
                    .error(item.span(), "`[[secret]]` needs an `id`")
                    .help("the id you pass as `--secret id=…`");
                self.push(d);
                continue;
            };
            let target = match (env, target) {
                (Some(_), Some(t)) => {
                    let d = Diagnostic::at(
                        self.src,
                        t.span,
                        "a secret takes `env` or `target`, not both",
                    );
                    self.push(d);
                    continue;
                }
                (Some(e), None) => SecretTarget::Env(e.value),
                (None, Some(t)) if t.value.starts_with('/') => SecretTarget::File(t.value),
                (None, Some(t)) => {
                    let d = Diagnostic::at(
                        self.src,
                        t.span,
                        "`secret.target` must be an absolute path",
                    )
                    .help("e.g. `target = \"/root/.npmrc\"`");
                    self.push(d);
                    continue;
                }
                (None, None) => SecretTarget::File(format!("/run/secrets/{}", id.value)),
            };
            out.push(Secret {
                id: id.value,
                target,
                required,
            });
        }
        out
    }

    fn cache(&mut self, v: &Value<'_>) -> Option<String> {
        let t = self.table("cache", v)?;
        let mut id = None;
        for (k, val) in t.iter() {
            match k.get_ref().as_ref() {
                "id" => {
                    if let Some(s) = self.string("cache.id", val, true) {
                        let valid = !s.value.is_empty()
                            && s.value.chars().all(|c| {
                                c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
                            });
                        if valid {
                            id = Some(s.value);
                        } else {
                            let d = Diagnostic::at(
                                self.src,
                                s.span,
                                "`cache.id` may contain letters, digits, `-`, `_`, `.` and `/` only",
                            );
                            self.push(d);
                        }
                    }
                }
                other => {
                    let d = self
                        .error(k.span(), format!("unknown key `cache.{other}`"))
                        .help("`cache` takes `id`");
                    self.push(d);
                }
            }
        }
        id
    }
}
