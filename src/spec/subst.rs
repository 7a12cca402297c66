//! `${NAME}` and `${NAME:-default}` substitution from build arguments.

use std::collections::BTreeMap;

/// The longest a single value may become by substitution. Values are versions, paths and image
/// names: this only stops a large build argument used many times from multiplying into a plan
/// (and memory) of gigabytes.
pub const MAX_VALUE_LEN: usize = 1 << 20;

/// How deeply `${A:-${B:-…}}` may nest. Docker's lexer recurses without bound; a bound keeps a
/// hostile spec from exhausting the stack.
pub const MAX_DEPTH: usize = 8;

#[derive(Debug, PartialEq, Eq)]
pub enum SubstError {
    /// `${NAME}` with no such build argument and no default; offset of the `$` in the input.
    Unset { name: String, offset: usize },
    /// A `${` with no closing `}` or an invalid name inside.
    Malformed { offset: usize },
    /// Defaults nested more than [`MAX_DEPTH`] levels; offset of the `$` one level too deep.
    TooDeep { offset: usize },
    /// The value would grow past `limit` bytes; offset of the text or `${…}` that crossed it.
    TooLarge { offset: usize, limit: usize },
}

/// What `${NAME}` becomes when `NAME` is not a build argument and there is no default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    Error,
    /// Kept verbatim (environment values: the name may be an image variable such as `PATH`).
    Keep,
}

/// Replaces `${NAME}` and `${NAME:-default}`; `$${` is a literal `${`. A `$` not followed by `{` is
/// kept as is, so shell-style text like `$HOME` passes through. A default may itself contain
/// `${…}` (`${A:-${B}}`), as in Dockerfiles.
pub fn substitute(input: &str, args: &BTreeMap<String, String>) -> Result<String, SubstError> {
    substitute_bounded(input, args, Unset::Error, MAX_VALUE_LEN)
}

/// Like [`substitute`], but `${NAME}` with no build argument and no default is kept verbatim.
pub fn substitute_keeping_unset(
    input: &str,
    args: &BTreeMap<String, String>,
) -> Result<String, SubstError> {
    substitute_bounded(input, args, Unset::Keep, MAX_VALUE_LEN)
}

/// [`substitute`] with the result limited to `limit` bytes, checked before each piece is appended
/// so that memory never grows past the limit.
pub fn substitute_bounded(
    input: &str,
    args: &BTreeMap<String, String>,
    unset: Unset,
    limit: usize,
) -> Result<String, SubstError> {
    let lexer = Lexer {
        input,
        args,
        unset,
        limit,
    };
    let mut out = String::with_capacity(input.len().min(limit));
    let end = lexer.expand(0, 0, Some(&mut out))?;
    debug_assert_eq!(end, input.len());
    Ok(out)
}

struct Lexer<'a> {
    input: &'a str,
    args: &'a BTreeMap<String, String>,
    unset: Unset,
    limit: usize,
}

impl Lexer<'_> {
    /// Expands from `pos` to the end of the input or, inside a default (`depth > 0`), to the `}`
    /// that closes it; returns where it stopped. With `out` = `None` (a default that is not
    /// taken) the text is only checked: its syntax must be right, but its names need not be set.
    fn expand(
        &self,
        pos: usize,
        depth: usize,
        mut out: Option<&mut String>,
    ) -> Result<usize, SubstError> {
        let bytes = self.input.as_bytes();
        let mut literal = pos;
        let mut i = pos;
        while i < bytes.len() {
            match bytes[i] {
                b'}' if depth > 0 => break,
                b'$' if bytes[i + 1..].starts_with(b"${") => {
                    self.push(out.as_deref_mut(), &self.input[literal..i], literal)?;
                    self.push(out.as_deref_mut(), "${", i)?;
                    i += 3;
                    literal = i;
                }
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    self.push(out.as_deref_mut(), &self.input[literal..i], literal)?;
                    i = self.braced(i, depth, out.as_deref_mut())?;
                    literal = i;
                }
                _ => i += 1,
            }
        }
        self.push(out, &self.input[literal..i], literal)?;
        Ok(i)
    }

    /// Expands the `${…}` whose `$` is at `dollar`; returns the offset after its `}`.
    fn braced(
        &self,
        dollar: usize,
        depth: usize,
        mut out: Option<&mut String>,
    ) -> Result<usize, SubstError> {
        let bytes = self.input.as_bytes();
        let start = dollar + 2;
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
        let name = &self.input[start..end];
        if !is_arg_name(name) {
            return Err(SubstError::Malformed { offset: dollar });
        }
        let value = self.args.get(name);
        if bytes[end..].starts_with(b":-") {
            if depth == MAX_DEPTH {
                return Err(SubstError::TooDeep { offset: dollar });
            }
            // Like the shell's `:-`, an empty value also takes the default.
            let taken = value.is_none_or(|v| v.is_empty());
            if let Some(v) = value.filter(|_| !taken) {
                self.push(out.as_deref_mut(), v, dollar)?;
            }
            let close = self.expand(end + 2, depth + 1, out.filter(|_| taken))?;
            if close == bytes.len() {
                return Err(SubstError::Malformed { offset: dollar });
            }
            return Ok(close + 1);
        }
        if bytes.get(end) != Some(&b'}') {
            return Err(SubstError::Malformed { offset: dollar });
        }
        match (value, self.unset) {
            (Some(v), _) => self.push(out, v, dollar)?,
            (None, _) if out.is_none() => {}
            (None, Unset::Keep) => self.push(out, &self.input[dollar..=end], dollar)?,
            (None, Unset::Error) => {
                return Err(SubstError::Unset {
                    name: name.to_string(),
                    offset: dollar,
                });
            }
        }
        Ok(end + 1)
    }

    fn push(&self, out: Option<&mut String>, s: &str, offset: usize) -> Result<(), SubstError> {
        if let Some(out) = out {
            if out.len() + s.len() > self.limit {
                return Err(SubstError::TooLarge {
                    offset,
                    limit: self.limit,
                });
            }
            out.push_str(s);
        }
        Ok(())
    }
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

    #[test]
    fn defaults_may_contain_expressions() {
        let a = args(&[("B", "b"), ("EMPTY", "")]);
        assert_eq!(substitute("${A:-${B}}", &a).unwrap(), "b");
        assert_eq!(substitute("x${A:-${C:-c}/${B}}y", &a).unwrap(), "xc/by");
        assert_eq!(substitute("${EMPTY:-${B:-z}}", &a).unwrap(), "b");
        // A default that is not taken is checked but not expanded: its names need not be set.
        assert_eq!(substitute("${B:-${UNSET}}", &a).unwrap(), "b");
        assert_eq!(
            substitute("${A:-${UNSET}}", &a),
            Err(SubstError::Unset {
                name: "UNSET".into(),
                offset: 5
            })
        );
        assert_eq!(
            substitute_keeping_unset("${A:-/x:${PATH}}", &a).unwrap(),
            "/x:${PATH}"
        );
        assert_eq!(
            substitute("${B:-${A}", &a),
            Err(SubstError::Malformed { offset: 0 })
        );
        assert_eq!(
            substitute("${B:-${1}}", &a),
            Err(SubstError::Malformed { offset: 5 })
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let a = args(&[]);
        let nested = |depth: usize| {
            let mut s = "x".to_string();
            for _ in 0..depth {
                s = format!("${{A:-{s}}}");
            }
            s
        };
        assert_eq!(substitute(&nested(MAX_DEPTH), &a).unwrap(), "x");
        assert_eq!(
            substitute(&nested(MAX_DEPTH + 1), &a),
            Err(SubstError::TooDeep {
                offset: 5 * MAX_DEPTH
            })
        );
        // Far deeper than any stack would allow if each level recursed.
        let deep = "${A:-".repeat(1_000_000);
        assert!(matches!(
            substitute(&deep, &a),
            Err(SubstError::TooDeep { .. })
        ));
    }

    #[test]
    fn results_are_bounded_while_they_are_built() {
        let a = args(&[("BIG", &"x".repeat(1000))]);
        let ten = "${BIG}".repeat(10);
        assert_eq!(
            substitute_bounded(&ten, &a, Unset::Error, 10_000)
                .unwrap()
                .len(),
            10_000
        );
        assert_eq!(
            substitute_bounded(&format!("{ten}!"), &a, Unset::Error, 10_000),
            Err(SubstError::TooLarge {
                offset: 60,
                limit: 10_000
            })
        );
        assert_eq!(
            substitute_bounded(&ten, &a, Unset::Error, 9_999),
            Err(SubstError::TooLarge {
                offset: 54,
                limit: 9_999
            })
        );
        let many = "${BIG}".repeat(10_000);
        assert!(matches!(
            substitute(&many, &a),
            Err(SubstError::TooLarge {
                limit: MAX_VALUE_LEN,
                ..
            })
        ));
    }
}
