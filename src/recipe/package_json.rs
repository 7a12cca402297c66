//! Reading `package.json` as npm does. Other Node manifests (`.npmrc`, lockfiles…) get their readers
//! beside this one.

use serde_json::Value;

use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, Location, Position};
use crate::spec::Spec;

/// The root `package.json` as a JSON object; its absence or invalid JSON is an error located in
/// the spec or in package.json. A leading byte-order mark is skipped, as npm skips it.
pub(crate) fn read_package_json(spec: &Spec, ctx: &ContextFiles) -> Result<Value, Diagnostics> {
    let Some(text) = ctx.text("package.json") else {
        return Err(Diagnostic::at(
            &spec.source,
            spec.language.span.clone(),
            "no package.json in the build context",
        )
        .help("node projects need package.json (and package-lock.json) at the root of the build context")
        .into());
    };
    parse("package.json", text)
}

/// Parses a package.json text. Error positions are counted after the byte-order mark, which
/// editors do not show.
pub(crate) fn parse(name: &str, text: &str) -> Result<Value, Diagnostics> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Diagnostic {
            location: Location::File {
                name: name.into(),
                start: Position { line: 1, column: 1 },
                end: Position { line: 1, column: 1 },
            },
            message: format!("{name} must hold a JSON object"),
            help: None,
        }
        .into()),
        Err(e) => {
            let at = Position {
                line: e.line().max(1),
                column: e.column().max(1),
            };
            Err(Diagnostic {
                location: Location::File {
                    name: name.into(),
                    start: at,
                    end: at,
                },
                message: format!("invalid JSON: {e}"),
                help: None,
            }
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(
            parse("package.json", "\u{feff}{\"name\":\"x\"}").unwrap()["name"],
            "x"
        );
        // Only at the start: elsewhere it is not whitespace to JSON.
        assert!(parse("package.json", "{\u{feff}}").is_err());
        assert_eq!(
            parse("package.json", "\u{feff}[]").unwrap_err().to_string(),
            "package.json:1:1: package.json must hold a JSON object"
        );
    }
}
