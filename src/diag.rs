//! User-facing diagnostics: an error that points at a file position (or at a build option) and says
//! what was expected and what to do. Every error a user can cause ends up as one of these, so that
//! the CLI and the gateway (which sends it to `docker build` output) print the same text.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

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
///
/// `name` and `text` are read-only after construction: positions come from an index of `text`
/// built on the first lookup and shared by every clone, so that reporting thousands of errors in
/// one file costs a binary search each instead of a scan from the start of the file.
#[derive(Clone)]
pub struct SourceText {
    pub name: String,
    pub text: String,
    index: Arc<OnceLock<LineIndex>>,
}

impl SourceText {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceText {
            name: name.into(),
            text: text.into(),
            index: Arc::default(),
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        let index = self.index.get_or_init(|| LineIndex::new(&self.text));
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = index.line_starts.partition_point(|&s| s <= offset);
        let line_start = index.line_starts[line - 1];
        let column =
            index.chars_before(&self.text, offset) - index.chars_before(&self.text, line_start) + 1;
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

// The index is a cache of `text`: equal texts are equal sources whether or not it was built yet.
impl PartialEq for SourceText {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.text == other.text
    }
}

impl Eq for SourceText {}

impl fmt::Debug for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceText")
            .field("name", &self.name)
            .field("text", &self.text)
            .finish_non_exhaustive()
    }
}

/// Characters are counted from checkpoints this many bytes apart, so a column on a line of any
/// length (a one-line inline table with thousands of errors) costs at most one block's scan.
const BLOCK: usize = 256;

struct LineIndex {
    /// Byte offset of the start of each line; the first is 0.
    line_starts: Vec<usize>,
    /// Characters before byte `i * BLOCK`, for every `i * BLOCK <= text.len()`.
    chars_at_block: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        let mut chars_at_block = Vec::with_capacity(text.len() / BLOCK + 1);
        let mut chars = 0;
        for (i, &b) in text.as_bytes().iter().enumerate() {
            if i % BLOCK == 0 {
                chars_at_block.push(chars);
            }
            chars += usize::from(starts_char(b));
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        if text.len() % BLOCK == 0 {
            chars_at_block.push(chars);
        }
        LineIndex {
            line_starts,
            chars_at_block,
        }
    }

    /// Characters in `text[..offset]`; `offset` is at most `text.len()`.
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let block = offset / BLOCK;
        let tail = &text.as_bytes()[block * BLOCK..offset];
        self.chars_at_block[block] + tail.iter().filter(|&&b| starts_char(b)).count()
    }
}

/// Whether a byte begins a UTF-8 character (is not a continuation byte).
fn starts_char(b: u8) -> bool {
    b & 0xC0 != 0x80
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The known name closest to `unknown`, if it is close enough to be a plausible typo.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let unknown: Vec<char> = unknown.chars().collect();
    let limit = (unknown.len() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        let k_chars: Vec<char> = k.chars().collect();
        // The distance is at least the difference in length: skipping those keeps a very long
        // unknown name from costing its length times each known name's.
        if unknown.len().abs_diff(k_chars.len()) > limit {
            continue;
        }
        let d = edit_distance(&unknown, &k_chars);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

/// Optimal string alignment distance: edits plus adjacent transpositions (`buidl` → `build` is 1).
/// Three rows of the table are enough, and keep it cheap for the thousands of unknown keys a
/// mangled spec can have.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
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

    /// The index gives what a scan from the start of the text gives, at every offset: mid-line,
    /// line ends, inside multi-byte characters, across block boundaries and past the end.
    #[test]
    fn indexed_positions_match_a_scan_from_the_start() {
        fn scanned(text: &str, offset: usize) -> Position {
            let before = &text[..floor_char_boundary(text, offset.min(text.len()))];
            Position {
                line: before.matches('\n').count() + 1,
                column: before.rsplit('\n').next().unwrap_or("").chars().count() + 1,
            }
        }
        let long_line = "é€x🦀".repeat(200);
        let texts = [
            String::new(),
            "\n\n".to_string(),
            "a = 1\r\nbé = \"x\"\n".to_string(),
            format!("{long_line}\n{long_line}\nend"),
            "x".repeat(BLOCK * 3),
            format!("{}\n", "é".repeat(BLOCK)),
        ];
        for text in &texts {
            let src = SourceText::new("t", text.as_str());
            for offset in 0..=text.len() + 2 {
                assert_eq!(
                    src.position(offset),
                    scanned(text, offset),
                    "offset {offset} of {text:?}"
                );
            }
            // Clones share the index and compare by content.
            assert_eq!(src.clone(), SourceText::new("t", text.as_str()));
        }
    }

    #[test]
    fn a_very_long_unknown_name_is_compared_quickly() {
        let long = "x".repeat(200_000);
        let started = std::time::Instant::now();
        for _ in 0..20 {
            assert_eq!(closest(&long, ["workdir", "manifests", "run"]), None);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
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
