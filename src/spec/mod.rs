//! The Strata spec (the user contract in design/spec.md): types, parsing with positions,
//! validation and build-argument substitution. Knows nothing about LLB or BuildKit.

mod parse;
mod subst;

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diag::{Diagnostic, SourceText};
use crate::reference::ImageRef;

pub use parse::{MAX_NESTING, MAX_SUBSTITUTED_TOTAL, parse};
pub use subst::{
    MAX_DEPTH, MAX_VALUE_LEN, SubstError, Unset, substitute, substitute_bounded,
    substitute_keeping_unset,
};

/// A value with the byte range it came from in the spec, for errors found after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Located<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Located { value, span }
    }
}

/// A value of the language's own table (`[go]`, `[rust]`…), which the spec module keeps as
/// written: each recipe knows and checks its own keys, so a new language needs no change here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    String(String),
    Bool(bool),
    Integer(i64),
    Strings(Vec<String>),
}

impl OptionValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            OptionValue::String(_) => "a string",
            OptionValue::Bool(_) => "a boolean",
            OptionValue::Integer(_) => "an integer",
            OptionValue::Strings(_) => "an array of strings",
        }
    }
}

/// The `[<language>]` table: key (with its span) and value (with its span), in file order.
pub type LanguageOptions = Vec<(Located<String>, Located<OptionValue>)>;

/// The image's start command: shell form runs under `/bin/sh -c`, exec form runs directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

impl Command {
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
            Command::Exec(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretTarget {
    /// Exposed to the step as an environment variable.
    Env(String),
    /// Mounted as a file at this absolute path.
    File(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub id: String,
    pub target: SecretTarget,
    /// When false (the default, as in Dockerfiles) a build without `--secret id=…` goes on without it.
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Packages {
    pub build: Vec<String>,
    pub runtime: Vec<String>,
}

/// A parsed, validated spec. Paths are clean and relative to the context; `workdir` is absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// A recipe's name; `recipe::recipe_for` checks it.
    pub language: Located<String>,
    /// The `[<language>]` table.
    pub language_options: LanguageOptions,
    pub version: Option<Located<String>>,
    pub package_manager: Option<Located<String>>,
    /// Explicit manifest paths or globs; `None` means the recipe's defaults that exist.
    pub manifests: Option<Vec<Located<String>>>,
    /// Source paths copied after the install; `["."]` is the whole context.
    pub app: Vec<Located<String>>,
    pub workdir: String,
    pub install: Option<Located<String>>,
    pub build: Option<Located<String>>,
    pub run: Option<Located<Command>>,
    /// `ExposedPorts` keys, e.g. `80/tcp`.
    pub ports: Vec<String>,
    /// In file order: a value's `${NAME}` refers to the entries before it (and to the base image's
    /// environment), as consecutive Dockerfile `ENV` lines do. Names are unique.
    pub env: Vec<(String, String)>,
    /// In file order, like `env`.
    pub build_env: Vec<(String, String)>,
    pub user: String,
    pub base: Option<Located<ImageRef>>,
    pub runtime: Option<Located<ImageRef>>,
    pub packages: Packages,
    pub labels: BTreeMap<String, String>,
    pub secrets: Vec<Secret>,
    pub cache_id: String,
    /// The spec text, for errors found later (a missing manifest points at its entry).
    pub source: SourceText,
}

/// Decodes a spec file's bytes into its text. The edges read the spec through this, so that a spec
/// saved in another encoding gets an error at its first byte that is not UTF-8, with the fix.
pub fn decode(name: impl Into<String>, bytes: Vec<u8>) -> Result<SourceText, Diagnostic> {
    let name = name.into();
    let error = match String::from_utf8(bytes) {
        Ok(text) => return Ok(SourceText::new(name, text)),
        Err(e) => e,
    };
    let at = error.utf8_error().valid_up_to();
    let bytes = error.into_bytes();
    let help = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        "the file starts with a UTF-16 byte order mark: save it as UTF-8, not UTF-16"
    } else {
        "save the file as UTF-8"
    };
    // Only the valid prefix matters for the position; the rest is never looked at.
    let prefix = SourceText::new(name, String::from_utf8_lossy(&bytes[..at]));
    Err(Diagnostic::at(
        &prefix,
        at..at,
        format!(
            "the spec must be UTF-8 text, but byte 0x{:02X} here is not UTF-8",
            bytes[at]
        ),
    )
    .help(help))
}

pub const DEFAULT_WORKDIR: &str = "/app";
pub const DEFAULT_USER: &str = "10001:10001";
pub const DEFAULT_CACHE_ID: &str = "strata";

#[cfg(test)]
mod tests;
