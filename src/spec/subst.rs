//! `${NAME}` and `${NAME:-default}` substitution from build arguments.

use std::collections::BTreeMap;

#[derive(Debug, PartialEq, Eq)]
pub enum SubstError {
    /// `${NAME}` with no such build argument and no default; offset of the `$` in the input.
    Unset { name: String, offset: usize },
    /// A `${` with no closing `}` or an invalid name inside.
    Malformed { offset: usize },
}

/// Replaces `${NAME}` and `${NAME:-default}`; `$${` is a literal `${`. A `$` not followed by `{` is
/// kept as is, so shell-style text like `$HOME` passes through.
pub fn substitute(input: &str, args: &BTreeMap<String, String>) -> Result<String, SubstError> {
    substitute_with(input, args, false)
}

/// Like [`substitute`], but `${NAME}` with no build argument and no default is kept verbatim
/// (environment values: the name may be an image environment variable such as `PATH`).
pub fn substitute_keeping_unset(
    input: &str,
    args: &BTreeMap<String, String>,
) -> Result<String, SubstError> {
    substitute_with(input, args, true)
}

fn substitute_with(
    input: &str,
    args: &BTreeMap<String, String>,
    keep_unset: bool,
) -> Result<String, SubstError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    let mut consumed = 0;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix("${") {
            // `$${` escapes a literal `${`.
            out.push_str("${");
            consumed += i + 3;
            rest = stripped;
            continue;
        }
        let Some(body_and_rest) = after.strip_prefix('{') else {
            out.push('$');
            consumed += i + 1;
            rest = after;
            continue;
        };
        let offset = consumed + i;
        let Some(close) = body_and_rest.find('}') else {
            return Err(SubstError::Malformed { offset });
        };
        let body = &body_and_rest[..close];
        let (name, default) = match body.find(":-") {
            Some(j) => (&body[..j], Some(&body[j + 2..])),
            None => (body, None),
        };
        if !is_arg_name(name) {
            return Err(SubstError::Malformed { offset });
        }
        // Like the shell's `:-`, an empty value also takes the default.
        let value = match (args.get(name), default) {
            (Some(v), Some(d)) if v.is_empty() => d,
            (Some(v), _) => v.as_str(),
            (None, Some(d)) => d,
            (None, None) if keep_unset => &rest[i..i + 3 + close],
            (None, None) => {
                return Err(SubstError::Unset {
                    name: name.to_string(),
                    offset,
                });
            }
        };
        out.push_str(value);
        consumed += i + 2 + close + 1;
        rest = &body_and_rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_arg_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_values_and_defaults() {
        let a = args(&[("PY", "3.11"), ("EMPTY", "")]);
        assert_eq!(
            substitute("python:${PY}-slim", &a).unwrap(),
            "python:3.11-slim"
        );
        assert_eq!(substitute("${NODE:-22}", &a).unwrap(), "22");
        assert_eq!(substitute("${PY:-3.12}", &a).unwrap(), "3.11");
        assert_eq!(substitute("${EMPTY:-x}", &a).unwrap(), "x");
        assert_eq!(substitute("${EMPTY}", &a).unwrap(), "");
    }

    #[test]
    fn keeping_unset_leaves_environment_references() {
        let a = args(&[("V", "1")]);
        assert_eq!(
            substitute_keeping_unset("/x:${PATH}:${V}", &a).unwrap(),
            "/x:${PATH}:1"
        );
    }

    #[test]
    fn leaves_other_dollars_alone_and_unescapes() {
        let a = args(&[]);
        assert_eq!(substitute("$HOME/x $ y", &a).unwrap(), "$HOME/x $ y");
        assert_eq!(substitute("a $${KEEP} b", &a).unwrap(), "a ${KEEP} b");
    }

    #[test]
    fn reports_unset_and_malformed_with_offsets() {
        let a = args(&[]);
        assert_eq!(
            substitute("ab${MISSING}", &a),
            Err(SubstError::Unset {
                name: "MISSING".into(),
                offset: 2
            })
        );
        assert_eq!(
            substitute("x${OPEN", &a),
            Err(SubstError::Malformed { offset: 1 })
        );
        assert_eq!(
            substitute("${1BAD}", &a),
            Err(SubstError::Malformed { offset: 0 })
        );
    }
}
