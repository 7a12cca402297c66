//! The one way both edges read a build context: list what the recipe asks about, in rounds,
//! apply `.dockerignore`, resolve symbolic links inside the context, and read the files the recipe
//! needs. The edges only supply a [`ContextSource`] (a directory for the CLI, BuildKit's
//! ReadDir/ReadFile for the frontend), so the two cannot disagree about what a project holds.

use super::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, Location, Position};
use crate::pattern::{PatternSet, clean_relative, parse_ignore_file};
use crate::recipe::Recipe;
use crate::spec::Spec;

/// A recipe that keeps asking for new files after this many rounds is a bug, not a project. (Go
/// follows the local packages the program imports one import level a round, within this.)
pub(crate) const MAX_ROUNDS: usize = 12;
/// Manifests are small; a bigger file is a mistake (a data file matched by a glob).
pub const MAX_FILE_BYTES: usize = 64 << 20;
/// Directories listed per call: the frontend reads them concurrently, one round trip each.
const DIRS_PER_BATCH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link and its target as written.
    Symlink(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
}

/// A build context to list and read. Paths are relative to the context root, `""` being the root.
// The frontend runs on a single-threaded runtime and the CLI blocks on these futures: no `Send`
// bound is needed, so plain `async fn` is the simplest signature.
#[allow(async_fn_in_trait)]
pub trait ContextSource {
    /// Makes at least the files that `include` selects and `exclude` does not available to the
    /// calls below (the frontend: one filtered transfer). A source may show more; the reader
    /// filters.
    async fn select(&mut self, include: &[String], exclude: &[String]) -> Result<(), Diagnostic>;
    /// The entries of each directory, in the order asked.
    async fn read_dirs(&mut self, dirs: &[String]) -> Result<Vec<Vec<Entry>>, Diagnostic>;
    /// A file's contents; a source may refuse files over [`MAX_FILE_BYTES`].
    async fn read_file(&mut self, path: &str) -> Result<Vec<u8>, Diagnostic>;
    /// The first `limit` bytes of a file (all of it when it is shorter). Sources that can read a
    /// range do, so a large file costs no more than its head.
    async fn read_head(&mut self, path: &str, limit: usize) -> Result<Vec<u8>, Diagnostic> {
        let mut data = self.read_file(path).await?;
        data.truncate(limit);
        Ok(data)
    }
}

/// `.dockerignore` patterns in effect: `<spec>.dockerignore` beside the spec wins over the
/// context's `.dockerignore`, as with Dockerfiles. Docker reads them as bytes: invalid UTF-8 is
/// replaced, not fatal.
pub fn ignore_patterns(beside_spec: Option<&[u8]>, in_context: Option<&[u8]>) -> Vec<String> {
    beside_spec
        .or(in_context)
        .map(|bytes| parse_ignore_file(&String::from_utf8_lossy(bytes)))
        .unwrap_or_default()
}

/// Lists and reads what the spec's recipe asks about.
pub async fn read_context<S: ContextSource>(
    source: &mut S,
    spec: &Spec,
    recipe: &dyn Recipe,
    ignore: Vec<String>,
) -> Result<ContextFiles, Diagnostics> {
    let exclude =
        PatternSet::new(&ignore).map_err(|e| Diagnostic::plain(format!(".dockerignore: {e}")))?;
    let mut ctx = ContextFiles::new(ignore.clone());
    let mut asked: Vec<String> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let new: Vec<String> = recipe
            .probe(spec, &ctx)
            .into_iter()
            .filter(|p| !asked.contains(p))
            .collect();
        if new.is_empty() {
            return Ok(ctx);
        }
        asked.extend(new.iter().cloned());
        let include = PatternSet::new(&new).map_err(Diagnostic::plain)?;
        source.select(&new, &ignore).await?;
        let listed = list(source, &include, &exclude).await?;
        let fresh: Vec<&str> = listed
            .iter()
            .map(|(path, _)| path.as_str())
            .filter(|p| !ctx.exists(p))
            .collect();
        let to_read = recipe.files_to_read(spec, &fresh);
        for (path, link) in &listed {
            if let Some(target) = link {
                let resolved = resolve_link(path, target)?;
                if !ctx.exists(path) && to_read.contains(path) {
                    // Read through the link's target: BuildKit sends it along (followpaths) and
                    // the CLI reads the same file.
                    read(source, recipe, &mut ctx, path, &resolved).await?;
                }
            }
        }
        for path in &to_read {
            if !ctx.exists(path) && listed.iter().any(|(p, link)| p == path && link.is_none()) {
                read(source, recipe, &mut ctx, path, path).await?;
            }
        }
        for (path, _) in listed {
            ctx.add_listed(path);
        }
    }
    Err(Diagnostic::plain(format!(
        "the {} recipe asked for new files {MAX_ROUNDS} times while reading the context",
        recipe.language()
    ))
    .help("this is a bug in Strata: please report it with the project layout")
    .into())
}

/// Reads `path` (at `real`, its link target) as much as the recipe needs of it.
async fn read<S: ContextSource>(
    source: &mut S,
    recipe: &dyn Recipe,
    ctx: &mut ContextFiles,
    path: &str,
    real: &str,
) -> Result<(), Diagnostic> {
    match recipe.read_limit(path) {
        // One byte over the limit tells a file that ends there from one that goes on.
        Some(limit) => {
            let head = source.read_head(real, limit + 1).await?;
            ctx.add_head(path, head, limit);
        }
        None => ctx.add_content(path, source.read_file(real).await?),
    }
    Ok(())
}

/// Every file (and symbolic link, with its target) that `include` selects and `exclude` does
/// not, one directory level at a time, skipping directories nothing can match below.
async fn list<S: ContextSource>(
    source: &mut S,
    include: &PatternSet,
    exclude: &PatternSet,
) -> Result<Vec<(String, Option<String>)>, Diagnostic> {
    let mut out = Vec::new();
    let mut level = vec![String::new()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for batch in level.chunks(DIRS_PER_BATCH) {
            let listings = source.read_dirs(batch).await?;
            for (dir, entries) in batch.iter().zip(listings) {
                for entry in entries {
                    let path = if dir.is_empty() {
                        entry.name.clone()
                    } else {
                        format!("{dir}/{}", entry.name)
                    };
                    let excluded = exclude.matches(&path);
                    match entry.kind {
                        EntryKind::Dir => {
                            let pruned = excluded && !exclude.has_negations();
                            if !pruned && include.could_match_below(&path) {
                                next.push(path);
                            }
                        }
                        EntryKind::File if !excluded && include.matches(&path) => {
                            out.push((path, None))
                        }
                        EntryKind::Symlink(target) if !excluded && include.matches(&path) => {
                            out.push((path, Some(target)))
                        }
                        _ => {}
                    }
                }
            }
        }
        next.sort();
        level = next;
    }
    out.sort();
    Ok(out)
}

/// The context path a symbolic link points at, or an error when it leaves the context: BuildKit
/// sends only the context, so the frontend would find nothing there, and the CLI must not read
/// the host's file either.
fn resolve_link(path: &str, target: &str) -> Result<String, Diagnostic> {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let joined = if dir.is_empty() {
        target.to_string()
    } else {
        format!("{dir}/{target}")
    };
    match clean_relative(&joined) {
        Ok(p) if !target.starts_with('/') && p != "." => Ok(p),
        _ => Err(Diagnostic {
            location: Location::File {
                name: path.to_string(),
                start: Position { line: 1, column: 1 },
                end: Position { line: 1, column: 1 },
            },
            message: format!(
                "`{path}` is a symbolic link to `{target}`, outside the build context"
            ),
            help: Some(
                "BuildKit sends only the build context: put the file itself in the context".into(),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::recipe::{Conventions, Recipe};

    /// A context in memory: path → file contents, or `@target` for a symbolic link.
    struct Memory {
        files: BTreeMap<&'static str, &'static str>,
        selections: Vec<Vec<String>>,
    }

    impl Memory {
        fn new(files: &[(&'static str, &'static str)]) -> Memory {
            Memory {
                files: files.iter().copied().collect(),
                selections: Vec::new(),
            }
        }
    }

    impl ContextSource for Memory {
        async fn select(&mut self, include: &[String], _: &[String]) -> Result<(), Diagnostic> {
            self.selections.push(include.to_vec());
            Ok(())
        }

        async fn read_dirs(&mut self, dirs: &[String]) -> Result<Vec<Vec<Entry>>, Diagnostic> {
            Ok(dirs
                .iter()
                .map(|dir| {
                    let prefix = if dir.is_empty() {
                        String::new()
                    } else {
                        format!("{dir}/")
                    };
                    let mut entries: Vec<Entry> = Vec::new();
                    for (path, contents) in &self.files {
                        let Some(rest) = path.strip_prefix(&prefix) else {
                            continue;
                        };
                        let entry = match rest.split_once('/') {
                            Some((d, _)) => Entry {
                                name: d.to_string(),
                                kind: EntryKind::Dir,
                            },
                            None => Entry {
                                name: rest.to_string(),
                                kind: match contents.strip_prefix('@') {
                                    Some(t) => EntryKind::Symlink(t.to_string()),
                                    None => EntryKind::File,
                                },
                            },
                        };
                        if !entries.contains(&entry) {
                            entries.push(entry);
                        }
                    }
                    entries
                })
                .collect())
        }

        async fn read_file(&mut self, path: &str) -> Result<Vec<u8>, Diagnostic> {
            self.files
                .get(path)
                .map(|c| c.as_bytes().to_vec())
                .ok_or_else(|| Diagnostic::plain(format!("no {path}")))
        }
    }

    /// A workspace tool: its root manifest lists member directories, whose manifests are
    /// listed in a second round.
    struct Workspace;

    impl Recipe for Workspace {
        fn language(&self) -> &'static str {
            "workspace"
        }

        fn probe(&self, _: &Spec, found: &ContextFiles) -> Vec<String> {
            let mut patterns = vec!["root.toml".to_string()];
            if let Some(text) = found.text("root.toml") {
                patterns.extend(text.lines().map(|member| format!("{member}/member.toml")));
            }
            patterns
        }

        fn files_to_read(&self, _: &Spec, listed: &[&str]) -> Vec<String> {
            listed.iter().map(|p| p.to_string()).collect()
        }

        fn conventions(&self, _: &Spec, _: &ContextFiles) -> Result<Conventions, Diagnostics> {
            unreachable!("only probing is tested here")
        }
    }

    fn read(source: &mut Memory, ignore: &[&str]) -> Result<ContextFiles, String> {
        let spec = crate::recipe::tests::spec("language = \"workspace\"\n");
        let ignore = ignore.iter().map(|s| s.to_string()).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(read_context(source, &spec, &Workspace, ignore))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_member_list_decides_what_the_next_round_lists() {
        let mut source = Memory::new(&[
            ("root.toml", "crates/a\ncrates/b"),
            ("crates/a/member.toml", "a"),
            ("crates/b/member.toml", "b"),
            ("crates/c/member.toml", "not a member"),
            ("crates/a/src/lib.rs", "source"),
        ]);
        let ctx = read(&mut source, &[]).unwrap();
        let paths: Vec<&str> = ctx.paths().collect();
        assert_eq!(
            paths,
            ["crates/a/member.toml", "crates/b/member.toml", "root.toml"]
        );
        assert_eq!(ctx.text("crates/b/member.toml"), Some("b"));
        assert_eq!(
            source.selections,
            [
                vec!["root.toml".to_string()],
                vec![
                    "crates/a/member.toml".to_string(),
                    "crates/b/member.toml".to_string()
                ]
            ],
            "each round transfers only what is new"
        );
    }

    #[test]
    fn dockerignore_hides_files_from_every_round() {
        let mut source = Memory::new(&[
            ("root.toml", "crates/a\ncrates/b"),
            ("crates/a/member.toml", "a"),
            ("crates/b/member.toml", "b"),
        ]);
        let ctx = read(&mut source, &["crates/b"]).unwrap();
        assert!(!ctx.exists("crates/b/member.toml"));
        assert!(ctx.exists("crates/a/member.toml"));
    }

    #[test]
    fn links_are_read_inside_the_context_and_refused_outside_it() {
        let mut source = Memory::new(&[
            ("root.toml", "@shared/root.toml"),
            ("shared/root.toml", "crates/a"),
            ("crates/a/member.toml", "@../../../etc/passwd"),
        ]);
        assert_eq!(
            read(&mut source, &[]).unwrap_err(),
            "crates/a/member.toml:1:1: `crates/a/member.toml` is a symbolic link to `../../../etc/passwd`, outside the build context (BuildKit sends only the build context: put the file itself in the context)"
        );
        let mut source = Memory::new(&[
            ("root.toml", "@shared/root.toml"),
            ("shared/root.toml", "crates/a"),
            ("crates/a/member.toml", "a"),
        ]);
        let ctx = read(&mut source, &[]).unwrap();
        assert_eq!(
            ctx.text("root.toml"),
            Some("crates/a"),
            "read through the link"
        );
        assert!(ctx.exists("crates/a/member.toml"));
        let mut source = Memory::new(&[("root.toml", "@/etc/hostname")]);
        assert!(
            read(&mut source, &[])
                .unwrap_err()
                .contains("outside the build context")
        );
    }

    /// A recipe that needs only the first bytes of source files (a package clause).
    struct Heads;

    impl Recipe for Heads {
        fn language(&self) -> &'static str {
            "heads"
        }

        fn probe(&self, _: &Spec, _: &ContextFiles) -> Vec<String> {
            vec!["manifest".into(), "*.src".into()]
        }

        fn files_to_read(&self, _: &Spec, listed: &[&str]) -> Vec<String> {
            listed.iter().map(|p| p.to_string()).collect()
        }

        fn read_limit(&self, path: &str) -> Option<usize> {
            path.ends_with(".src").then_some(9)
        }

        fn conventions(&self, _: &Spec, _: &ContextFiles) -> Result<Conventions, Diagnostics> {
            unreachable!("only reading is tested here")
        }
    }

    #[test]
    fn a_read_limit_reads_only_the_head_of_a_file() {
        let mut source = Memory::new(&[
            ("manifest", "the whole manifest"),
            ("a.src", "abc\ndef\nghi and much more"),
            ("b.src", "@a.src"),
            ("c.src", "ab"),
        ]);
        let spec = crate::recipe::tests::spec("language = \"heads\"\n");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ctx = rt
            .block_on(read_context(&mut source, &spec, &Heads, Vec::new()))
            .unwrap();
        assert_eq!(ctx.text("manifest"), Some("the whole manifest"));
        // The whole lines of the first 9 bytes, and never the text: the file goes on.
        assert_eq!(ctx.bytes("a.src"), Some(&b"abc\ndef\n"[..]));
        assert_eq!(ctx.text("a.src"), None);
        assert_eq!(
            ctx.bytes("b.src"),
            Some(&b"abc\ndef\n"[..]),
            "through the link"
        );
        assert_eq!(ctx.text("c.src"), Some("ab"), "a short file is read whole");
    }

    #[test]
    fn the_spec_side_dockerignore_wins() {
        assert_eq!(ignore_patterns(Some(b"a\n"), Some(b"b\n")), ["a"]);
        assert_eq!(ignore_patterns(None, Some(b"b\n\xff")), ["b", "\u{fffd}"]);
        assert!(ignore_patterns(None, None).is_empty());
    }
}
