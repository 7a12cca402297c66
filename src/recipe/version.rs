//! Version files (`.nvmrc`, `.node-version`, `.python-version`), read as the version managers that
//! write them read them and mapped to a tag of the official image. Whatever names no such tag
//! (`system`, PyPy, an alias Strata cannot resolve) is not used: the note says what the file asks,
//! what the build uses instead and how to choose.

use crate::context::ContextFiles;
use crate::redact::redact_credentials;
use crate::spec::Spec;

/// What a version file pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionPin {
    /// A version the official image has a tag for (`20`, `20.11.1`, `3.12`).
    Version(String),
    /// Something no official image tag gives; `note` is for the user.
    Unusable { note: String },
}

/// Node LTS lines by codename, as nvm's `lts/<codename>` names them.
const NODE_LTS: &[(&str, &str)] = &[
    ("argon", "4"),
    ("boron", "6"),
    ("carbon", "8"),
    ("dubnium", "10"),
    ("erbium", "12"),
    ("fermium", "14"),
    ("gallium", "16"),
    ("hydrogen", "18"),
    ("iron", "20"),
    ("jod", "22"),
    ("krypton", "24"),
];

/// Longer than any real version: kept out of image tags and notes.
const MAX_VERSION_LEN: usize = 32;

/// Reads an `.nvmrc` or `.node-version`: the first line that holds something, without `#`
/// comments. `default` is the recipe's default (an LTS), which `lts/*`, `node`, `stable` and
/// `latest` select; `instead` is the version the build uses when this file cannot be followed.
/// `None` when the file holds nothing.
pub fn node_pin(file: &str, text: &str, default: &str, instead: &str) -> Option<VersionPin> {
    let value = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .find(|l| !l.is_empty())?;
    let lower = value.to_ascii_lowercase();
    let unusable = |why: &str| VersionPin::Unusable {
        note: format!(
            "{file} says `{}`, {why}; the build uses node:{instead}-slim: set `version` in the spec to choose another",
            shorten(value)
        ),
    };
    if let Some(v) = numeric(strip_v(&lower)) {
        return Some(VersionPin::Version(v.to_string()));
    }
    let pin = match lower.as_str() {
        "lts" | "lts/*" | "node" | "stable" | "latest" => VersionPin::Version(default.to_string()),
        _ => match lower.strip_prefix("lts/") {
            Some(codename) => match NODE_LTS.iter().find(|(name, _)| *name == codename) {
                Some((_, major)) => VersionPin::Version(major.to_string()),
                None => {
                    unusable("which is not a Node.js LTS codename Strata knows (argon to krypton)")
                }
            },
            None => unusable("which Strata cannot map to a Node.js version"),
        },
    };
    Some(pin)
}

/// Reads a `.python-version` as pyenv does: the first word of each line, skipping comments; the
/// first that names a CPython release is used. `instead` is the version the build uses when none
/// does; the note is about the first entry. `None` when the file holds nothing.
pub fn python_pin(file: &str, text: &str, instead: &str) -> Option<VersionPin> {
    let mut entries = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| !w.starts_with('#'))
        .peekable();
    let first = *entries.peek()?;
    if let Some(v) = entries.find_map(|w| numeric(strip_v(w))) {
        return Some(VersionPin::Version(v.to_string()));
    }
    let said = format!("{file} says `{}`", shorten(first));
    let uses = format!("python:{instead}-slim");
    let lower = first.to_ascii_lowercase();
    let note = if let Some(rest) = lower.strip_prefix("pypy") {
        let version: String = rest
            .trim_start_matches('-')
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .take(MAX_VERSION_LEN)
            .collect();
        let version = if version.is_empty() { "3" } else { &version };
        format!(
            "{said}, which is PyPy, not CPython: the build uses CPython ({uses}); set `version` in the spec to choose the CPython version, or `base` to a PyPy image, e.g. `base = \"pypy:{version}-slim\"`"
        )
    } else if let Some(v) = first.strip_suffix(['t', 'T']).and_then(numeric) {
        format!(
            "{said}, a free-threaded CPython build, which has no official python image: the build uses {uses}; set `version` in the spec to choose another (`version = \"{v}\"` is {v} with the GIL)"
        )
    } else if lower == "system" {
        format!(
            "{said}, the machine's own Python: the build uses {uses}; set `version` in the spec to choose another"
        )
    } else {
        format!(
            "{said}, which is not a CPython release such as 3.12: the build uses {uses}; set `version` in the spec to choose another"
        )
    };
    Some(VersionPin::Unusable { note })
}

/// The version for the default image: the spec's `version`, else the first version file that pins
/// a usable one, else `fallback`. Each version file before it that pins something unusable gives
/// a note, unless the spec names its own `base` image, which the version does not select.
pub(crate) fn choose(
    spec: &Spec,
    ctx: &ContextFiles,
    files: &[&str],
    fallback: &str,
    read: impl Fn(&str, &str, &str) -> Option<VersionPin>,
) -> (String, Vec<String>) {
    if let Some(v) = &spec.version {
        return (v.value.clone(), Vec::new());
    }
    let texts: Vec<(&str, &str)> = files
        .iter()
        .filter_map(|f| Some((*f, ctx.text(f)?)))
        .collect();
    let chosen = texts
        .iter()
        .find_map(|(f, t)| match read(f, t, fallback) {
            Some(VersionPin::Version(v)) => Some(v),
            _ => None,
        })
        .unwrap_or_else(|| fallback.to_string());
    let mut notes = Vec::new();
    if spec.base.is_none() {
        for (f, t) in &texts {
            match read(f, t, &chosen) {
                Some(VersionPin::Version(_)) => break,
                Some(VersionPin::Unusable { note }) => notes.push(note),
                None => {}
            }
        }
    }
    (chosen, notes)
}

fn strip_v(s: &str) -> &str {
    match s.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => s,
    }
}

/// `N`, `N.N` or `N.N.N`: the forms the official images tag.
fn numeric(s: &str) -> Option<&str> {
    let parts = s.split('.').count();
    let valid = s.len() <= MAX_VERSION_LEN
        && parts <= 3
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    valid.then_some(s)
}

/// What a note quotes of a file: its start, when the file holds something long. Credentials are
/// hidden first: cut short, a URL would no longer show where they end.
fn shorten(s: &str) -> String {
    let s = redact_credentials(s);
    match s.char_indices().nth(MAX_VERSION_LEN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str) -> Option<VersionPin> {
        node_pin(".nvmrc", text, "22", "22")
    }

    fn v(s: &str) -> Option<VersionPin> {
        Some(VersionPin::Version(s.into()))
    }

    fn note(pin: Option<VersionPin>) -> String {
        match pin {
            Some(VersionPin::Unusable { note }) => note,
            other => panic!("not a note: {other:?}"),
        }
    }

    #[test]
    fn node_versions_and_aliases() {
        assert_eq!(node("v20.11.1\n"), v("20.11.1"));
        assert_eq!(node("20"), v("20"));
        assert_eq!(node("20.11\r\n"), v("20.11"));
        assert_eq!(
            node("# pinned for CI\n\n  lts/iron  # current LTS\n"),
            v("20")
        );
        assert_eq!(node("lts/Hydrogen"), v("18"));
        assert_eq!(node("lts/jod"), v("22"));
        assert_eq!(node("lts/krypton"), v("24"));
        for alias in ["lts/*", "lts", "node", "stable", "latest"] {
            assert_eq!(node(alias), v("22"), "{alias}");
        }
        assert_eq!(node(""), None);
        assert_eq!(node("# nothing\n\n"), None);
    }

    #[test]
    fn node_values_strata_cannot_follow_are_noted() {
        assert_eq!(
            note(node_pin(".nvmrc", "lts/nonesuch", "22", "20")),
            ".nvmrc says `lts/nonesuch`, which is not a Node.js LTS codename Strata knows (argon to krypton); the build uses node:20-slim: set `version` in the spec to choose another"
        );
        for text in ["system", "iojs", ">=20", "20.x", "1.2.3.4"] {
            assert!(
                note(node(text))
                    .starts_with(&format!(".nvmrc says `{text}`, which Strata cannot map")),
                "{text}"
            );
        }
        let long = "9".repeat(100);
        assert!(note(node(&long)).contains(&format!("`{}…`", "9".repeat(32))));
        // Shortening must not cut a URL's `@` off and leave its credentials in view.
        let n = note(node(
            "https://user:s3cret-s3cret-s3cret-s3cret@host.example/x",
        ));
        assert!(!n.contains("s3cret"), "{n}");
        let n = note(python_pin(".python-version", "https://u:s3cret@h", "3.12"));
        assert!(!n.contains("s3cret"), "{n}");
    }

    #[test]
    fn python_versions_as_pyenv_reads_them() {
        let py = |t: &str| python_pin(".python-version", t, "3.12");
        assert_eq!(py("3.12\n"), v("3.12"));
        assert_eq!(py("3.11.9"), v("3.11.9"));
        assert_eq!(py("# comment\n3.10 trailing words\n"), v("3.10"));
        // pyenv takes several versions; the first CPython release is used.
        assert_eq!(py("pypy3.10\n3.11\n"), v("3.11"));
        assert_eq!(py("\n  \n"), None);
    }

    #[test]
    fn python_values_strata_cannot_follow_are_noted() {
        let py = |t: &str| note(python_pin(".python-version", t, "3.12"));
        assert_eq!(
            py("pypy3.10\n"),
            ".python-version says `pypy3.10`, which is PyPy, not CPython: the build uses CPython (python:3.12-slim); set `version` in the spec to choose the CPython version, or `base` to a PyPy image, e.g. `base = \"pypy:3.10-slim\"`"
        );
        assert!(py("pypy-3.9-7.3.16").contains("pypy:3.9-slim"));
        assert!(py("pypy").contains("pypy:3-slim"));
        assert_eq!(
            py("3.13t"),
            ".python-version says `3.13t`, a free-threaded CPython build, which has no official python image: the build uses python:3.12-slim; set `version` in the spec to choose another (`version = \"3.13\"` is 3.13 with the GIL)"
        );
        assert!(py("system").contains("the machine's own Python"));
        for other in ["miniconda3-latest", "3.14.0rc1", "myenv", "graalpy-24.1"] {
            assert!(
                py(other).contains("which is not a CPython release such as 3.12"),
                "{other}"
            );
        }
    }
}
