//! User-facing diagnostics: an error that points at a file position (or at a build option) and says
//! what was expected and what to do. Every error a user can cause ends up as one of these, so that
//! the CLI and the gateway (which sends it to `docker build` output) print the same text.

use std::fmt;
use std::ops::Range;

/// A position in a text file, 1-based like compilers and editors print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A byte range in a named file whose text we hold (the spec, a manifest).
    File {
        name: String,
        start: Position,
        end: Position,
    },
    /// A build option (`--build-arg`, `--platform`, `target`…), named as the user typed it.
    Option(String),
    /// Nowhere in particular (e.g. a daemon failure).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
    /// What the user can do about it; printed after the message.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn at(source: &SourceText, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            location: source.location(span),
            message: message.into(),
            help: None,
        }
    }

    pub fn option(name: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            location: Location::Option(name.into()),
            message: message.into(),
            help: None,
        }
    }

    pub fn plain(message: impl Into<String>) -> Self {
        Diagnostic {
            location: Location::None,
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File { name, start, .. } => write!(
                f,
                "{name}:{}:{}: {}",
                start.line, start.column, self.message
            )?,
            Location::Option(name) => write!(f, "build option `{name}`: {}", self.message)?,
            Location::None => write!(f, "{}", self.message)?,
        }
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// One or more diagnostics, in source order. This is the error type of the pure core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn first(&self) -> Option<&Diagnostic> {
        self.0.first()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A named text whose byte offsets we turn into line/column positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceText {
    pub name: String,
    pub text: String,
}

impl SourceText {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceText {
            name: name.into(),
            text: text.into(),
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { line, column }
    }

    pub fn location(&self, span: Range<usize>) -> Location {
        Location::File {
            name: self.name.clone(),
            start: self.position(span.start),
            end: self.position(span.end.max(span.start)),
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The known name closest to `unknown`, if it is close enough to be a plausible typo.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (unknown.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (edit_distance(unknown, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: edits plus adjacent transpositions (`buidl` → `build` is 1).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = SourceText::new("s.toml", "a = 1\nbé = \"x\"\n");
        assert_eq!(src.position(0), Position { line: 1, column: 1 });
        assert_eq!(src.position(6), Position { line: 2, column: 1 });
        // 'é' is two bytes but one column.
        assert_eq!(src.position(9), Position { line: 2, column: 3 });
    }

    #[test]
    fn suggests_close_names_only() {
        let known = ["workdir", "manifests", "run"];
        assert_eq!(closest("workdri", known), Some("workdir"));
        assert_eq!(closest("manifest", known), Some("manifests"));
        assert_eq!(closest("entrypoint", known), None);
    }

    #[test]
    fn display_names_file_line_column_and_help() {
        let src = SourceText::new("strata.toml", "x = 1\nworkdri = \"/a\"\n");
        let d =
            Diagnostic::at(&src, 6..13, "unknown key `workdri`").help("did you mean `workdir`?");
        assert_eq!(
            d.to_string(),
            "strata.toml:2:1: unknown key `workdri` (did you mean `workdir`?)"
        );
    }
}
