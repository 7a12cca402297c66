//! What a recipe may know about the build context: which of the files it asked about exist, and
//! the contents of those it asked to read. The edges fill it (the gateway over BuildKit's
//! ReadDir/ReadFile on a manifests-only local source, the CLI from a directory); recipes only look.

use std::collections::{BTreeMap, BTreeSet};

use crate::pattern::Pattern;

/// How much of a lockfile a recipe reads when its first lines are all it needs (its header says
/// which tool and format wrote it; the lockfile itself can be megabytes).
pub const HEAD_BYTES: usize = 4096;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextFiles {
    /// Listed files (clean relative paths), with their contents when they were read.
    files: BTreeMap<String, Option<Vec<u8>>>,
    /// Files of which only the first lines were read.
    partial: BTreeSet<String>,
    /// The `.dockerignore` patterns in effect; every copy from the context excludes them.
    pub ignore: Vec<String>,
}

impl ContextFiles {
    pub fn new(ignore: Vec<String>) -> Self {
        ContextFiles {
            files: BTreeMap::new(),
            partial: BTreeSet::new(),
            ignore,
        }
    }

    pub fn add_listed(&mut self, path: impl Into<String>) {
        self.files.entry(path.into()).or_insert(None);
    }

    pub fn add_content(&mut self, path: impl Into<String>, content: Vec<u8>) {
        self.files.insert(path.into(), Some(content));
    }

    /// The start of a file, as a source's `read_head` returned it when asked for `limit + 1`
    /// bytes: up to `limit` bytes make the whole file; more means there is more, and only the
    /// complete lines within the first `limit` bytes are kept.
    pub fn add_head(&mut self, path: impl Into<String>, mut content: Vec<u8>, limit: usize) {
        let path = path.into();
        if content.len() > limit {
            content.truncate(limit);
            let lines = content
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            content.truncate(lines);
            self.partial.insert(path.clone());
        } else {
            self.partial.remove(&path);
        }
        self.files.insert(path, Some(content));
    }

    pub fn exists(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The file's contents as read: all of it, or the whole lines of its head.
    pub fn bytes(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path)?.as_deref()
    }

    /// The file's text, if it was read whole and is UTF-8.
    pub fn text(&self, path: &str) -> Option<&str> {
        if self.partial.contains(path) {
            return None;
        }
        self.head(path)
    }

    /// The file's first lines (all of it when it was read whole), if it was read and is UTF-8.
    pub fn head(&self, path: &str) -> Option<&str> {
        self.files
            .get(path)?
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Listed files the pattern selects (the file itself or a parent directory matches), sorted.
    pub fn matching(&self, pattern: &str) -> Vec<&str> {
        let Ok(p) = Pattern::parse(pattern) else {
            return Vec::new();
        };
        self.paths().filter(|f| p.matches_or_parent(f)).collect()
    }
}

mod read;

#[cfg(test)]
pub(crate) use read::MAX_ROUNDS;
pub use read::{ContextSource, Entry, EntryKind, MAX_FILE_BYTES, ignore_patterns, read_context};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_keeps_whole_lines_and_is_not_the_text() {
        let mut ctx = ContextFiles::new(Vec::new());
        ctx.add_head("short", b"one\ntwo".to_vec(), HEAD_BYTES);
        assert_eq!(
            ctx.text("short"),
            Some("one\ntwo"),
            "a short file is read whole"
        );
        let mut long = b"first line\n".to_vec();
        long.resize(HEAD_BYTES + 1, b'x');
        ctx.add_head("long", long, HEAD_BYTES);
        assert_eq!(ctx.head("long"), Some("first line\n"));
        assert_eq!(ctx.text("long"), None, "the rest was never read");
        // A multi-byte character cut at the limit is not part of a whole line.
        let mut cut = "é\n".repeat(HEAD_BYTES / 3).into_bytes();
        cut.resize(HEAD_BYTES + 1, 0xc3);
        ctx.add_head("cut", cut, HEAD_BYTES);
        assert!(ctx.head("cut").unwrap().ends_with("é\n"));
    }
}
