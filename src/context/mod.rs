//! What a recipe may know about the build context: which of the files it asked about exist, and
//! the contents of those it asked to read. The edges fill it (the gateway over BuildKit's
//! ReadDir/ReadFile on a manifests-only local source, the CLI from a directory); recipes only look.

use std::collections::BTreeMap;

use crate::pattern::Pattern;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextFiles {
    /// Listed files (clean relative paths), with their contents when they were read.
    files: BTreeMap<String, Option<Vec<u8>>>,
    /// The `.dockerignore` patterns in effect; every copy from the context excludes them.
    pub ignore: Vec<String>,
}

impl ContextFiles {
    pub fn new(ignore: Vec<String>) -> Self {
        ContextFiles {
            files: BTreeMap::new(),
            ignore,
        }
    }

    pub fn add_listed(&mut self, path: impl Into<String>) {
        self.files.entry(path.into()).or_insert(None);
    }

    pub fn add_content(&mut self, path: impl Into<String>, content: Vec<u8>) {
        self.files.insert(path.into(), Some(content));
    }

    pub fn exists(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The file's contents, if it was read (only its head, when the recipe asked for no more).
    pub fn bytes(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path)?.as_deref()
    }

    /// The file's text, if it was read and is UTF-8.
    pub fn text(&self, path: &str) -> Option<&str> {
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

pub use read::{ContextSource, Entry, EntryKind, MAX_FILE_BYTES, ignore_patterns, read_context};
