//! Walks the TOML document by hand (rather than through serde) so every error can point at the
//! exact key or value, suggest the closest known key, and so that several errors are reported at
//! once, in source order.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeInteger, DeString, DeTable, DeValue};

use super::{
    Command, DEFAULT_CACHE_ID, DEFAULT_USER, DEFAULT_WORKDIR, LanguageOptions, Located, MAX_DEPTH,
    MAX_VALUE_LEN, OptionValue, Packages, Secret, SecretTarget, Spec, SubstError, Unset,
    substitute_bounded,
};
use crate::diag::{Diagnostic, Diagnostics, SourceText, closest};
use crate::pattern::clean_relative_pattern;
use crate::reference::ImageRef;

pub(super) const KEYS: &[&str] = &[
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

/// How deeply arrays, inline tables and dotted keys may nest. A spec needs three levels; the bound
/// is checked before the TOML parser runs, so its depth never depends on the input.
pub const MAX_NESTING: usize = 32;

/// The most text substitution may produce for one spec, all values together (each value is also
/// limited to [`MAX_VALUE_LEN`]).
pub const MAX_SUBSTITUTED_TOTAL: usize = 8 << 20;

/// Parses and validates a spec. `args` are the `--build-arg` values for `${NAME}` substitution.
pub fn parse(source: SourceText, args: &BTreeMap<String, String>) -> Result<Spec, Diagnostics> {
    let text = source.text.strip_prefix('\u{feff}').unwrap_or(&source.text);
    // Keep offsets valid for `source` even when a BOM was skipped.
    let shift = source.text.len() - text.len();
    if let Some(at) = too_deep(text) {
        let at = at + shift;
        return Err(Diagnostic::at(
            &source,
            at..at + 1,
            format!("the spec nests more than {MAX_NESTING} levels deep"),
        )
        .help("a spec needs at most a table of arrays: see the key reference in the Strata README")
        .into());
    }
    let table = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let span = span.start + shift..span.end + shift;
            return Err(toml_error(&source, span, e.message()).into());
        }
    };
    let mut p = Parser {
        src: &source,
        args,
        shift,
        budget: MAX_SUBSTITUTED_TOTAL,
        budget_exceeded: false,
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

fn toml_error(source: &SourceText, span: Range<usize>, message: &str) -> Diagnostic {
    let message = message.trim();
    if message == "duplicate key" {
        // The TOML parser's message does not say which key; its span points at the repetition.
        let key = source.text.get(span.clone()).unwrap_or_default();
        return Diagnostic::at(
            source,
            span,
            format!("duplicate key `{}`", shown(unquote(key))),
        )
        .help("each key may appear only once in a table: remove one, or merge the two");
    }
    Diagnostic::at(source, span, format!("invalid TOML: {message}"))
        .help("the spec is TOML: see the key reference in the Strata README")
}

/// A key as written, without the quotes of a quoted key that has no escapes.
fn unquote(key: &str) -> &str {
    let key = key.trim();
    for q in ['"', '\''] {
        if let Some(inner) = key.strip_prefix(q).and_then(|k| k.strip_suffix(q)) {
            if !inner.contains('\\') {
                return inner;
            }
        }
    }
    key
}

/// User text for a one-line message: control characters escaped, at most 60 characters.
fn shown(s: &str) -> String {
    const MAX: usize = 60;
    let mut out: String = s
        .chars()
        .take(MAX)
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// Where the spec first nests deeper than [`MAX_NESTING`]: `[`/`{` open a level, `]`/`}` close
/// one, and each `.` of a dotted key counts as one, as the TOML parser counts them. Text in strings
/// and comments does not count. One linear pass; malformed TOML is left to the parser.
fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    // Dots since the last token that cannot be part of a key; a float has one, a date none.
    let mut dots = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                i += b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .unwrap_or(b.len() - i);
                continue;
            }
            q @ (b'"' | b'\'') => {
                i = string_end(b, i, q);
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                dots = 0;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                dots = 0;
            }
            b'.' => dots += 1,
            b'\n' | b'=' | b',' => dots = 0,
            _ => {}
        }
        if depth + dots > MAX_NESTING {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The offset after the string whose opening quote `q` is at `start` (or the end of the text).
fn string_end(b: &[u8], start: usize, q: u8) -> usize {
    let escapes = q == b'"';
    if b[start..].starts_with(&[q, q, q]) {
        let mut i = start + 3;
        while i < b.len() {
            if escapes && b[i] == b'\\' {
                i += 2;
            } else if b[i..].starts_with(&[q, q, q]) {
                // Up to two quotes may end the content right before the closing three.
                let run = b[i..].iter().take_while(|&&c| c == q).count();
                return i + run.min(5);
            } else {
                i += 1;
            }
        }
        return b.len();
    }
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if escapes => i += 2,
            c if c == q => return i + 1,
            // A single-line string ends at the line's end even when unterminated.
            b'\n' => return i,
            _ => i += 1,
        }
    }
    b.len()
}

/// Where the character at `decoded` in a string value's decoded text is written in `raw`, the
/// value as written (quotes included): escapes, a multi-line string's first newline and its
/// line-ending backslashes make the two differ.
fn raw_offset(raw: &str, decoded: usize) -> usize {
    let b = raw.as_bytes();
    let (open, escapes, multiline) = if raw.starts_with("\"\"\"") {
        (3, true, true)
    } else if raw.starts_with("'''") {
        (3, false, true)
    } else {
        (1, raw.starts_with('"'), false)
    };
    let mut i = open.min(b.len());
    if multiline {
        if b[i..].starts_with(b"\n") {
            i += 1;
        } else if b[i..].starts_with(b"\r\n") {
            i += 2;
        }
    }
    let mut seen = 0;
    while i < b.len() {
        let (raw_len, decoded_len) = match b[i] {
            b'\\' if escapes => escape_lengths(&raw[i..], multiline),
            _ => {
                let len = raw[i..].chars().next().map_or(1, char::len_utf8);
                (len, len)
            }
        };
        if decoded_len > 0 && seen + decoded_len > decoded {
            break;
        }
        seen += decoded_len;
        i += raw_len;
    }
    i.min(b.len())
}

/// The lengths, as written and decoded, of the escape at the start of `s` (which starts with `\`).
fn escape_lengths(s: &str, multiline: bool) -> (usize, usize) {
    let b = s.as_bytes();
    match b.get(1) {
        // A line-ending backslash: it, the line break and all whitespace after it vanish.
        Some(b' ' | b'\t' | b'\r' | b'\n') if multiline => {
            let len = 1 + b[1..]
                .iter()
                .take_while(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
                .count();
            (len, 0)
        }
        Some(&x @ (b'x' | b'u' | b'U')) => {
            let digits = match x {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = s.get(2..2 + digits).unwrap_or_default();
            let decoded = u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .map_or(3, char::len_utf8);
            (2 + hex.len(), decoded)
        }
        _ => (2, 1),
    }
}

/// A TOML integer's value, whatever its base; `None` beyond `i64`.
fn integer(i: &DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(i.as_str(), i.radix()).ok()
}

/// Go's `filepath.Clean` for an absolute path, as Docker applies to `WORKDIR`: `..` at the root
/// stays at the root.
fn clean_absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The largest uid or gid: 2^32 - 1 is `-1`, "no id", to the kernel.
const MAX_ID: u64 = u32::MAX as u64 - 1;

/// Why `user` is not `name`, `uid`, `name:group` or `uid:gid`, if it is not.
fn user_problem(user: &str) -> Option<String> {
    let (name, group) = match user.split_once(':') {
        Some((n, g)) => (n, Some(g)),
        None => (user, None),
    };
    let part = |what: &str, s: &str| -> Option<String> {
        if s.is_empty() {
            return Some(format!("the {what} is empty"));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<u64>() {
                Ok(n) if n <= MAX_ID => None,
                _ => Some(format!("the {what} id `{s}` is larger than {MAX_ID}")),
            };
        }
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            None
        } else {
            Some(format!(
                "the {what} `{}` is neither a number nor a name (a letter or `_`, then letters, digits, `_`, `.`, `-`)",
                shown(s)
            ))
        }
    };
    part("user", name).or_else(|| group.and_then(|g| part("group", g)))
}

struct Parser<'a> {
    src: &'a SourceText,
    args: &'a BTreeMap<String, String>,
    shift: usize,
    /// What substitution may still produce in this spec (see [`MAX_SUBSTITUTED_TOTAL`]).
    budget: usize,
    budget_exceeded: bool,
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
        // The language's own table (`[go]`) is the recipe's to check.
        let language_name = table.iter().find_map(|(k, v)| match v.get_ref() {
            DeValue::String(s) if k.get_ref().as_ref() == "language" => Some(s.to_string()),
            _ => None,
        });
        let mut language_options = Vec::new();
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            if language_name.as_deref() == Some(name) && !KEYS.contains(&name) {
                language_options = self.language_options(name, value);
            } else if KEYS.contains(&name) {
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
                    .help("add `language = \"python\"`, for example");
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
            .map(|v| self.labels(v))
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
            language_options,
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
        let unset = if keep_unset {
            Unset::Keep
        } else {
            Unset::Error
        };
        let limit = MAX_VALUE_LEN.min(self.budget);
        let e = match substitute_bounded(s, self.args, unset, limit) {
            Ok(out) => {
                self.budget -= out.len();
                return Some(Located::new(out, span));
            }
            Err(e) => e,
        };
        let total_exceeded =
            matches!(e, SubstError::TooLarge { limit, .. } if limit < MAX_VALUE_LEN);
        if total_exceeded {
            // Every later value would exceed it too: the first is the one to report.
            if self.budget_exceeded {
                return None;
            }
            self.budget_exceeded = true;
        }
        let (offset, message, help) = match e {
            SubstError::Unset { name, offset } => (
                offset,
                format!("build argument `{name}` is not set"),
                "pass `--build-arg NAME=value`, or give a default: `${NAME:-value}`".to_string(),
            ),
            SubstError::Malformed { offset } => (
                offset,
                "malformed `${…}`: expected `${NAME}` or `${NAME:-default}`".to_string(),
                "write `$${` for a literal `${`".to_string(),
            ),
            SubstError::TooDeep { offset } => (
                offset,
                format!("`${{…}}` nested more than {MAX_DEPTH} levels deep in defaults"),
                "use fewer levels of `${NAME:-default}` inside defaults".to_string(),
            ),
            SubstError::TooLarge { offset, .. } if total_exceeded => (
                offset,
                format!(
                    "`{key}` makes the spec's values longer than {} MiB in total after substituting build arguments",
                    MAX_SUBSTITUTED_TOTAL >> 20
                ),
                "the values of a spec are limited in total: pass shorter build arguments, or use them fewer times".to_string(),
            ),
            SubstError::TooLarge { offset, .. } => (
                offset,
                format!(
                    "`{key}` is longer than {} MiB after substituting build arguments",
                    MAX_VALUE_LEN >> 20
                ),
                "each value is limited: pass shorter build arguments, or use them fewer times"
                    .to_string(),
            ),
        };
        // Offsets are in the decoded string; the source may spell it with escapes.
        let raw = self.src.text.get(span.clone()).unwrap_or_default();
        let at = span.start + raw_offset(raw, offset);
        let diag = Diagnostic::at(self.src, at..at + 2, message).help(help);
        self.push(diag);
        None
    }

    /// Shell commands are left alone: `${VAR}` in them is for the shell at run time.
    fn command_string(&mut self, key: &str, v: &Value<'_>) -> Option<Located<String>> {
        let s = self.string(key, v, false)?;
        if s.value.trim().is_empty() {
            let d = self
                .error(v.span(), format!("`{key}` cannot be empty"))
                .help(format!(
                    "write the command, or remove `{key}` to use the recipe's default"
                ));
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

    fn language(&mut self, v: &Value<'_>) -> Option<Located<String>> {
        let name = self.string("language", v, true)?;
        if name.value.is_empty() {
            let d = Diagnostic::at(self.src, name.span, "`language` cannot be empty")
                .help("e.g. `language = \"python\"`");
            self.push(d);
            return None;
        }
        Some(name)
    }

    fn language_options(&mut self, language: &str, v: &Value<'_>) -> LanguageOptions {
        let mut out = Vec::new();
        let Some(t) = self.table(language, v) else {
            return out;
        };
        for (k, val) in t.iter() {
            let key = format!("{language}.{}", k.get_ref());
            let value = match val.get_ref() {
                DeValue::String(_) => self
                    .string(&key, val, true)
                    .map(|s| OptionValue::String(s.value)),
                DeValue::Boolean(b) => Some(OptionValue::Bool(*b)),
                DeValue::Integer(i) => match i.as_str().parse::<i64>() {
                    Ok(n) => Some(OptionValue::Integer(n)),
                    Err(_) => {
                        let d = self.error(val.span(), format!("`{key}` is out of range"));
                        self.push(d);
                        None
                    }
                },
                DeValue::Array(_) => self
                    .string_list(&key, val, true)
                    .map(|l| OptionValue::Strings(l.into_iter().map(|s| s.value).collect())),
                _ => {
                    self.wrong_type(&key, val, "a string, boolean, integer or array of strings");
                    None
                }
            };
            if let Some(value) = value {
                out.push((
                    Located::new(k.get_ref().to_string(), self.span(k.span())),
                    Located::new(value, self.span(val.span())),
                ));
            }
        }
        out.sort_by_key(|(k, _)| k.span.start);
        out
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

    /// `manifests` and `app` are include-only lists: a `!` entry would select nothing.
    fn refuse_exclusion(&mut self, key: &str, s: &Located<String>) -> bool {
        if !s.value.starts_with('!') {
            return false;
        }
        let d = Diagnostic::at(
            self.src,
            s.span.clone(),
            format!("`{key}` cannot exclude files: `{}`", s.value),
        )
        .help(format!(
            "{} are include patterns; to exclude files use .dockerignore",
            if key == "app" { "app entries" } else { key }
        ));
        self.push(d);
        true
    }

    fn manifests(&mut self, v: &Value<'_>) -> Vec<Located<String>> {
        let list = match v.get_ref() {
            DeValue::String(_) => self.string("manifests", v, true).map(|s| vec![s]),
            _ => self.string_list("manifests", v, true),
        };
        let list = list.unwrap_or_default();
        let given_empty = list.is_empty() && matches!(v.get_ref(), DeValue::Array(_));
        let mut out: Vec<Located<String>> = Vec::new();
        let mut seen = BTreeSet::new();
        for s in list {
            if self.refuse_exclusion("manifests", &s) {
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
                } else if seen.insert(p.value.clone()) {
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
        let mut seen = BTreeSet::new();
        for s in list.unwrap_or_default() {
            if self.refuse_exclusion("app", &s) {
                continue;
            }
            if let Some(p) = self.relative_path("app", s) {
                if seen.insert(p.value.clone()) {
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
        Some(clean_absolute(&s.value))
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
                if items[0].value.trim().is_empty() {
                    let d = Diagnostic::at(
                        self.src,
                        items[0].span.clone(),
                        "the program in `run` (its first element) cannot be empty",
                    )
                    .help("write the program to start, e.g. `run = [\"node\", \"server.js\"]`");
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
        let mut seen = BTreeSet::new();
        for item in items {
            let port = match item.get_ref() {
                DeValue::Integer(i) => integer(i)
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
                Some(p) if seen.insert(p.clone()) => out.push(p),
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

    /// A table's entries in file order (the parsed table is ordered by name).
    fn entries<'v, 'i>(
        &mut self,
        key: &str,
        v: &'v Value<'i>,
    ) -> Vec<(&'v Spanned<DeString<'i>>, &'v Value<'i>)> {
        let Some(t) = self.table(key, v) else {
            return Vec::new();
        };
        let mut entries: Vec<_> = t.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        entries
    }

    fn env_table(&mut self, key: &str, v: &Value<'_>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (k, val) in self.entries(key, v) {
            let name = k.get_ref();
            if name.is_empty() || name.contains('=') || name.chars().any(char::is_whitespace) {
                let d = self
                    .error(
                        k.span(),
                        format!("`{}` is not a valid environment variable name", shown(name)),
                    )
                    .help("names cannot be empty or contain `=` or spaces");
                self.push(d);
            }
            // Unset `${NAME}` refers to the image environment (`PATH`…) or an entry above, as in
            // Dockerfile ENV: it is expanded when the image's environment is known.
            let field = format!("{key}.{}", shown(name));
            if let Some(s) = self.string_with(&field, val, true, true) {
                out.push((name.to_string(), s.value));
            }
        }
        out
    }

    fn labels(&mut self, v: &Value<'_>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, val) in self.entries("labels", v) {
            let name = k.get_ref();
            if name.is_empty() || name.chars().any(char::is_control) {
                let what = if name.is_empty() {
                    "a label key cannot be empty".to_string()
                } else {
                    format!("label key `{}` contains a control character", shown(name))
                };
                let d = self.error(k.span(), what).help(
                    "label keys are single-line names, like `org.opencontainers.image.source`",
                );
                self.push(d);
                continue;
            }
            let field = format!("labels.{}", shown(name));
            let Some(s) = self.string_with(&field, val, true, false) else {
                continue;
            };
            if let Some(c) = s.value.chars().find(|&c| c.is_control() && c != '\t') {
                let d = Diagnostic::at(
                    self.src,
                    s.span,
                    format!(
                        "the value of label `{}` contains the control character `{}`",
                        shown(name),
                        c.escape_default()
                    ),
                )
                .help("labels are single-line: remove line breaks and control characters; tabs are allowed");
                self.push(d);
                continue;
            }
            out.insert(name.to_string(), s.value);
        }
        out
    }

    fn user(&mut self, v: &Value<'_>) -> Option<String> {
        const HELP: &str =
            "e.g. `user = 10001`, `user = \"10001:10001\"`, `user = \"node\"` or `user = \"root\"`";
        let s = match v.get_ref() {
            DeValue::Integer(i) => match integer(i) {
                Some(n) if u64::try_from(n).is_ok_and(|n| n <= MAX_ID) => {
                    return Some(n.to_string());
                }
                _ => {
                    let d = self
                        .error(
                            v.span(),
                            format!("`user` as a number must be a uid from 0 to {MAX_ID}"),
                        )
                        .help(HELP);
                    self.push(d);
                    return None;
                }
            },
            DeValue::String(_) => self.string("user", v, true)?,
            _ => {
                self.wrong_type("user", v, "a string or an integer");
                return None;
            }
        };
        if let Some(problem) = user_problem(&s.value) {
            let d = Diagnostic::at(
                self.src,
                s.span,
                format!("`user` must be `name`, `uid`, `name:group` or `uid:gid`: {problem}"),
            )
            .help(HELP);
            self.push(d);
            return None;
        }
        Some(s.value)
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
