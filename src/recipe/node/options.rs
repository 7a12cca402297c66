//! The spec's `[node]` table: the version of each package manager Strata installs (`pnpm`,
//! `yarn`, `bun`). Every mistake is an error at its key or value, all of them at once.

use crate::diag::{Diagnostic, Diagnostics};
use crate::spec::{Located, OptionValue, Spec};

/// The keys `[node]` knows, and what each pins.
pub const KEYS: &[(&str, &str)] = &[
    ("pnpm", "the pnpm version"),
    (
        "yarn",
        "the Yarn version (1.x: classic, 2 and later: Berry)",
    ),
    ("bun", "the Bun version"),
];

/// What `[node]` pins, each with where it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    pub pnpm: Option<Located<String>>,
    pub yarn: Option<Located<String>>,
    pub bun: Option<Located<String>>,
}

impl Pins {
    pub fn get(&self, key: &str) -> Option<&Located<String>> {
        match key {
            "pnpm" => self.pnpm.as_ref(),
            "yarn" => self.yarn.as_ref(),
            "bun" => self.bun.as_ref(),
            _ => None,
        }
    }

    /// Every pin, in the order of [`KEYS`].
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &Located<String>)> {
        KEYS.iter().filter_map(|(k, _)| Some((*k, self.get(k)?)))
    }
}

pub fn pins(spec: &Spec) -> Result<Pins, Diagnostics> {
    let mut pins = Pins::default();
    let mut errors = Vec::new();
    for (key, value) in &spec.language_options {
        let at = |span: std::ops::Range<usize>, message: String| {
            Diagnostic::at(&spec.source, span, message)
        };
        let slot = match key.value.as_str() {
            "pnpm" => &mut pins.pnpm,
            "yarn" => &mut pins.yarn,
            "bun" => &mut pins.bun,
            _ => {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                let takes = KEYS
                    .iter()
                    .map(|(k, what)| format!("`{k}` ({what})"))
                    .collect::<Vec<_>>()
                    .join(", ");
                errors.push(super::super::unknown_option(
                    spec,
                    key,
                    &known,
                    format!("package manager versions: {takes}"),
                ));
                continue;
            }
        };
        let example = example(&key.value);
        match &value.value {
            OptionValue::String(v) if is_exact_version(v) => {
                *slot = Some(Located::new(v.clone(), value.span.clone()));
            }
            OptionValue::String(v) => errors.push(
                at(
                    value.span.clone(),
                    format!(
                        "`[node]` {} = \"{}\" is not an exact version",
                        key.value,
                        crate::redact::redact_credentials(v)
                    ),
                )
                .help(format!(
                    "the step that installs {} is keyed on its version, so name one release, e.g. `{} = \"{example}\"`",
                    key.value, key.value
                )),
            ),
            other => errors.push(
                at(
                    value.span.clone(),
                    format!("`[node]` {} must be a string, not {}", key.value, other.type_name()),
                )
                .help(format!("e.g. `{} = \"{example}\"`", key.value)),
            ),
        }
    }
    if errors.is_empty() {
        Ok(pins)
    } else {
        Err(Diagnostics(errors))
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "pnpm" => super::pnpm::DEFAULT_VERSION,
        "yarn" => super::yarn::DEFAULT_BERRY,
        _ => super::bun::DEFAULT_VERSION,
    }
}

/// `MAJOR.MINOR.PATCH` with an optional pre-release (`4.0.0-rc.1`): one release of the tool.
pub fn is_exact_version(v: &str) -> bool {
    let (core, pre) = match v.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    v.len() <= 64
        && parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
}

/// The major version of an exact version.
pub fn major(v: &str) -> Option<u32> {
    v.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::tests::spec;

    fn err(text: &str) -> String {
        pins(&spec(text)).unwrap_err().to_string()
    }

    #[test]
    fn versions_are_pinned_per_tool() {
        let p = pins(&spec(
            "language = \"node\"\n[node]\npnpm = \"9.15.0\"\nyarn = \"4.0.0-rc.42\"\n",
        ))
        .unwrap();
        assert_eq!(p.pnpm.as_ref().unwrap().value, "9.15.0");
        assert_eq!(p.yarn.as_ref().unwrap().value, "4.0.0-rc.42");
        assert_eq!(p.bun, None);
        assert_eq!(
            p.all().map(|(k, _)| k).collect::<Vec<_>>(),
            ["pnpm", "yarn"]
        );
    }

    #[test]
    fn mistakes_are_located_with_what_to_write() {
        assert_eq!(
            err("language = \"node\"\n[node]\npnmp = \"9.15.0\"\n"),
            "strata.toml:3:1: unknown key `pnmp` in `[node]` (did you mean `pnpm`?)"
        );
        assert_eq!(
            err("language = \"node\"\n[node]\ndeno = \"2.0.0\"\n"),
            "strata.toml:3:1: unknown key `deno` in `[node]` (`[node]` takes package manager versions: `pnpm` (the pnpm version), `yarn` (the Yarn version (1.x: classic, 2 and later: Berry)), `bun` (the Bun version))"
        );
        assert_eq!(
            err("language = \"node\"\n[node]\npnpm = \"^9\"\n"),
            "strata.toml:3:8: `[node]` pnpm = \"^9\" is not an exact version (the step that installs pnpm is keyed on its version, so name one release, e.g. `pnpm = \"9.15.9\"`)"
        );
        assert_eq!(
            err("language = \"node\"\n[node]\nbun = 1\n"),
            "strata.toml:3:7: `[node]` bun must be a string, not an integer (e.g. `bun = \"1.2.23\"`)"
                .replace("1.2.23", super::super::bun::DEFAULT_VERSION)
        );
        // All of them at once, in file order.
        assert_eq!(
            err("language = \"node\"\n[node]\nyarn = \"latest\"\nbnu = \"1.0.0\"\n")
                .lines()
                .count(),
            2
        );
    }

    #[test]
    fn exact_versions() {
        for ok in ["9.15.0", "1.22.22", "4.0.0-rc.1", "0.0.1"] {
            assert!(is_exact_version(ok), "{ok}");
        }
        for bad in [
            "9",
            "9.15",
            "^9.15.0",
            "9.15.x",
            "latest",
            "9.15.0+sha.1",
            "v9.15.0",
            "",
            "9..1",
        ] {
            assert!(!is_exact_version(bad), "{bad}");
        }
        assert_eq!(major("4.18.1"), Some(4));
    }
}
