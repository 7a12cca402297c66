//! What a daemon's snapshot of a `local://<name>` source contains, and the ReadFile/ReadDir/StatFile
//! answers on it.
//!
//! The file set follows fsutil's filtered walk (`filterFS.Walk`): include patterns (plus the resolved
//! follow paths) select paths, exclude patterns drop them, a directory that does not match itself is
//! still sent when something below it is, and a skipped directory is not descended into when no pattern
//! could match below it. Reads then behave like BuildKit's `cache/util` helpers on the mounted snapshot:
//! paths are resolved inside the root (symlinks included, `..` cannot escape) and errors read like the Go
//! `*os.PathError`s a daemon returns.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bollard_buildkit_proto::fsutil::types::Stat;

use super::patterns::{PatternMatcher, glob_match, go_clean, go_dir, go_join};

/// Where a real daemon would have mounted the snapshot. Error messages contain it, as Docker 20.10's do.
pub const HOST_MOUNT: &str = "/var/lib/docker/tmp/buildkit-mount1770937456";

/// Go `os.FileMode` bits, which is what `fsutil.types.Stat.mode` carries.
pub const MODE_DIR: u32 = 1 << 31;
pub const MODE_SYMLINK: u32 = 1 << 27;
pub const MODE_DEVICE: u32 = 1 << 26;
pub const MODE_NAMED_PIPE: u32 = 1 << 25;
pub const MODE_SOCKET: u32 = 1 << 24;
pub const MODE_SETUID: u32 = 1 << 23;
pub const MODE_SETGID: u32 = 1 << 22;
pub const MODE_CHAR_DEVICE: u32 = 1 << 21;
pub const MODE_STICKY: u32 = 1 << 20;

/// The `local.*` attributes that shape a transfer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalAttrs {
    pub include_patterns: Option<Vec<String>>,
    pub exclude_patterns: Option<Vec<String>>,
    pub follow_paths: Option<Vec<String>>,
    pub session: Option<String>,
}

impl LocalAttrs {
    /// Parses the JSON-array attributes of a `local://` SourceOp.
    pub fn from_attrs(attrs: &BTreeMap<String, String>) -> Result<Self, String> {
        let list = |key: &str| -> Result<Option<Vec<String>>, String> {
            attrs
                .get(key)
                .map(|v| {
                    serde_json::from_str::<Vec<String>>(v)
                        .map_err(|e| format!("failed to parse {key} {v:?}: {e}"))
                })
                .transpose()
        };
        Ok(LocalAttrs {
            include_patterns: list("local.includepattern")?,
            exclude_patterns: list("local.excludepatterns")?,
            follow_paths: list("local.followpaths")?,
            session: attrs.get("local.session").cloned(),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    Symlink,
    Other,
}

/// A directory listing source for the filtered walk: the host directory or an already filtered view.
trait Tree {
    /// Children of `rel` ("" = root) as (name, is_dir), sorted by name like Go's WalkDir.
    fn children(&self, rel: &str) -> Result<Vec<(String, bool)>, String>;
}

struct HostTree<'a>(&'a Path);

impl Tree for HostTree<'_> {
    fn children(&self, rel: &str) -> Result<Vec<(String, bool)>, String> {
        let dir = self.0.join(rel);
        let rd = fs::read_dir(&dir).map_err(|e| format!("open {}: {e}", dir.display()))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| format!("readdir {}: {e}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // DirEntry::file_type does not follow symlinks, like Go's WalkDir.
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            out.push((name, is_dir));
        }
        out.sort();
        Ok(out)
    }
}

/// The filtered walk. Returns the emitted paths relative to `start`, in walk order.
fn filter_walk(
    tree: &dyn Tree,
    start: &str,
    include: Option<&PatternMatcher>,
    exclude: Option<&PatternMatcher>,
) -> Result<Vec<String>, String> {
    const PATTERN_CHARS: &[char] = &['*', '[', ']', '?', '^', '\\'];
    let only_prefix_includes = include.is_none_or(|m| {
        m.patterns
            .iter()
            .all(|p| p.exclusion || !p.without_trailing_glob().contains(PATTERN_CHARS))
    });
    let only_prefix_exclude_exceptions = exclude.is_none_or(|m| {
        m.patterns
            .iter()
            .all(|p| !p.exclusion || !p.without_trailing_glob().contains(PATTERN_CHARS))
    });
    let walker = Walker {
        tree,
        start,
        include,
        exclude,
        only_prefix_includes,
        only_prefix_exclude_exceptions,
    };
    let mut out = Vec::new();
    walker.walk("", &mut Vec::new(), &mut out)?;
    Ok(out)
}

struct ParentDir {
    rel: String,
    include: super::patterns::MatchInfo,
    exclude: super::patterns::MatchInfo,
    emitted: bool,
}

struct Walker<'a> {
    tree: &'a dyn Tree,
    start: &'a str,
    include: Option<&'a PatternMatcher>,
    exclude: Option<&'a PatternMatcher>,
    only_prefix_includes: bool,
    only_prefix_exclude_exceptions: bool,
}

/// Whether any pattern of the given polarity could match something below `dir` (fsutil's shortcut
/// for prefix-only pattern sets).
fn could_match_below(m: &PatternMatcher, dir: &str, exclusions: bool) -> bool {
    let dir_slash = format!("{dir}/");
    m.patterns
        .iter()
        .filter(|p| p.exclusion == exclusions)
        .any(|p| format!("{}/", p.without_trailing_glob()).starts_with(&dir_slash))
}

impl Walker<'_> {
    fn walk(
        &self,
        rel_dir: &str,
        parents: &mut Vec<ParentDir>,
        out: &mut Vec<String>,
    ) -> Result<(), String> {
        let tree_dir = join_rel(self.start, rel_dir);
        for (name, is_dir) in self.tree.children(&tree_dir)? {
            let rel = join_rel(rel_dir, &name);
            let empty = super::patterns::MatchInfo::default();
            let mut skip = false;
            let mut inc_info = empty.clone();
            let mut exc_info = empty.clone();
            if let Some(m) = self.include {
                let parent = parents.last().map_or(&empty, |p| &p.include);
                let (matched, info) = m.matches_using_parent(&rel, parent);
                inc_info = info;
                if !matched {
                    if is_dir && self.only_prefix_includes && !could_match_below(m, &rel, false) {
                        continue;
                    }
                    skip = true;
                }
            }
            if let Some(m) = self.exclude {
                let parent = parents.last().map_or(&empty, |p| &p.exclude);
                let (matched, info) = m.matches_using_parent(&rel, parent);
                exc_info = info;
                if matched {
                    if is_dir
                        && self.only_prefix_exclude_exceptions
                        && (!m.has_exclusions() || !could_match_below(m, &rel, true))
                    {
                        continue;
                    }
                    skip = true;
                }
            }
            if !skip {
                // A path is sent together with every parent directory not sent yet.
                for p in parents.iter_mut().filter(|p| !p.emitted) {
                    out.push(p.rel.clone());
                    p.emitted = true;
                }
                out.push(rel.clone());
            }
            if is_dir {
                parents.push(ParentDir {
                    rel: rel.clone(),
                    include: inc_info,
                    exclude: exc_info,
                    emitted: !skip,
                });
                let res = self.walk(&rel, parents, out);
                parents.pop();
                res?;
            }
        }
        Ok(())
    }
}

fn join_rel(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// fsutil's `dedupePaths`: drops paths below an earlier kept path; a "." anywhere means "no filter".
fn dedupe_paths(input: &[String]) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut last = String::new();
    for s in input {
        if s == "." {
            return None;
        }
        if s.starts_with(&format!("{last}/")) {
            continue;
        }
        out.push(s.clone());
        last = s.clone();
    }
    Some(out)
}

/// fsutil's `FollowLinks`: the follow paths plus the targets of symlinks on their way, as include patterns.
fn follow_links(root: &Path, paths: &[String]) -> Result<Option<Vec<String>>, String> {
    let mut resolved = BTreeSet::new();
    for p in paths {
        append_followed(root, p, &mut resolved, 0)?;
    }
    let sorted: Vec<String> = resolved.into_iter().collect();
    Ok(dedupe_paths(&sorted))
}

fn append_followed(
    root: &Path,
    p: &str,
    resolved: &mut BTreeSet<String>,
    depth: usize,
) -> Result<(), String> {
    if depth > 255 {
        return Err(format!("too many levels of symbolic links following {p}"));
    }
    let mut p = go_join(".", p);
    let mut current = ".".to_string();
    loop {
        let (head, rest) = match p.split_once('/') {
            Some((h, r)) => (h.to_string(), r.to_string()),
            None => (p.clone(), String::new()),
        };
        current = go_join(&current, &head);
        let targets = read_symlink(root, &current, true)?;
        p = rest;
        if (p.is_empty() || targets.is_some()) && resolved.contains(&current) {
            return Ok(());
        }
        if let Some(targets) = targets {
            resolved.insert(current.clone());
            for t in targets {
                append_followed(root, &go_join(&t, &p), resolved, depth + 1)?;
            }
            return Ok(());
        }
        if p.is_empty() {
            resolved.insert(current);
            return Ok(());
        }
    }
}

fn read_symlink(root: &Path, p: &str, allow_wildcard: bool) -> Result<Option<Vec<String>>, String> {
    let base = p.rsplit('/').next().unwrap_or(p);
    if allow_wildcard && contains_wildcards(base) {
        let dir = go_dir(p);
        let Ok(rd) = fs::read_dir(root.join(&dir)) else {
            return Ok(None);
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut out: Option<Vec<String>> = None;
        for name in names {
            if !glob_match(base, &name).unwrap_or(false) {
                continue;
            }
            if let Some(res) = read_symlink(root, &go_join(&dir, &name), false)? {
                out.get_or_insert_with(Vec::new).extend(res);
            }
        }
        return Ok(out);
    }
    if p == "." || p == "/" {
        return Ok(None);
    }
    let host = root.join(p);
    let Ok(md) = fs::symlink_metadata(&host) else {
        return Ok(None);
    };
    if !md.file_type().is_symlink() {
        return Ok(None);
    }
    let link = fs::read_link(&host).map_err(|e| format!("readlink {}: {e}", host.display()))?;
    let link = go_clean(&link.to_string_lossy());
    if link.starts_with('/') {
        Ok(Some(vec![link]))
    } else {
        Ok(Some(vec![go_join("/", &go_join(&go_dir(p), &link))]))
    }
}

fn contains_wildcards(name: &str) -> bool {
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// The paths (relative, slash separated, parents before children) a daemon would receive for a local
/// directory with these attributes. This is the oracle tests can compare a frontend's choices against.
pub fn transferred_paths(root: &Path, attrs: &LocalAttrs) -> Result<Vec<String>, String> {
    let mut include: Option<Vec<String>> = attrs.include_patterns.clone();
    let targets = match &attrs.follow_paths {
        Some(follow) => follow_links(root, follow)?,
        None => None,
    };
    if let Some(targets) = targets {
        let mut all = include.unwrap_or_default();
        all.extend(targets);
        include = dedupe_paths(&all);
    }
    let include = match include {
        Some(list) if !list.is_empty() => Some(
            PatternMatcher::new(&list)
                .map_err(|e| format!("invalid includepatterns: {list:?}: {e}"))?,
        ),
        _ => None,
    };
    let exclude = match &attrs.exclude_patterns {
        Some(list) if !list.is_empty() => Some(
            PatternMatcher::new(list)
                .map_err(|e| format!("invalid excludepatterns: {list:?}: {e}"))?,
        ),
        _ => None,
    };
    filter_walk(&HostTree(root), "", include.as_ref(), exclude.as_ref())
}

/// The snapshot of one local source: the transferred paths, with contents read from the host directory.
#[derive(Debug)]
pub struct LocalView {
    root: PathBuf,
    entries: BTreeMap<String, EntryKind>,
    /// Error messages name the snapshot's host path (Docker 20.10) instead of the request path (v0.13).
    leak_host_paths: bool,
}

/// A failed read: the Go error text a daemon would send (gRPC code Unknown).
pub type ReadError = String;

impl LocalView {
    pub fn new(root: &Path, attrs: &LocalAttrs, leak_host_paths: bool) -> Result<Self, String> {
        let mut entries = BTreeMap::new();
        for rel in transferred_paths(root, attrs)? {
            let md =
                fs::symlink_metadata(root.join(&rel)).map_err(|e| format!("lstat {rel}: {e}"))?;
            let ft = md.file_type();
            let kind = if ft.is_symlink() {
                EntryKind::Symlink
            } else if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            entries.insert(rel, kind);
        }
        Ok(LocalView {
            root: root.to_path_buf(),
            entries,
            leak_host_paths,
        })
    }

    /// Writes what was transferred into `into` (created if missing): files, directories and
    /// symbolic links as they are on the host.
    pub fn materialize(&self, into: &Path) -> Result<(), String> {
        fs::create_dir_all(into).map_err(|e| format!("mkdir {}: {e}", into.display()))?;
        for (rel, kind) in &self.entries {
            let (from, to) = (self.root.join(rel), into.join(rel));
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| format!("mkdir {rel}: {e}"))?;
            }
            let done = match kind {
                EntryKind::Dir => fs::create_dir_all(&to),
                EntryKind::File => fs::copy(&from, &to).map(|_| ()),
                EntryKind::Symlink => {
                    fs::read_link(&from).and_then(|target| std::os::unix::fs::symlink(target, &to))
                }
                EntryKind::Other => Ok(()),
            };
            done.map_err(|e| format!("materialize {rel}: {e}"))?;
        }
        Ok(())
    }

    /// Transferred paths, sorted.
    pub fn paths(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    fn kind(&self, rel: &str) -> Option<EntryKind> {
        if rel.is_empty() {
            Some(EntryKind::Dir)
        } else {
            self.entries.get(rel).copied()
        }
    }

    fn host_path(&self, rel: &str) -> String {
        if rel.is_empty() {
            HOST_MOUNT.to_string()
        } else {
            format!("{HOST_MOUNT}/{rel}")
        }
    }

    /// containerd's `fs.RootPath`: clean the path, resolve symlinks (also the last element) inside the
    /// snapshot, never leaving its root. Missing elements are kept as they are.
    fn resolve(&self, path: &str) -> Result<String, ReadError> {
        let mut queue: std::collections::VecDeque<String> = go_clean(&format!("/{path}"))
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let mut stack: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(c) = queue.pop_front() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            let candidate = join_rel(&stack.join("/"), &c);
            if self.kind(&candidate) == Some(EntryKind::Symlink) {
                links += 1;
                if links > 255 {
                    return Err(format!(
                        "lstat {}: too many levels of symbolic links",
                        self.host_path(&candidate)
                    ));
                }
                let target = fs::read_link(self.root.join(&candidate))
                    .map_err(|e| format!("readlink {}: {e}", self.host_path(&candidate)))?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    stack.clear();
                }
                for (i, part) in target.split('/').filter(|p| !p.is_empty()).enumerate() {
                    queue.insert(i, part.to_string());
                }
            } else {
                stack.push(c);
            }
        }
        Ok(stack.join("/"))
    }

    fn not_found(&self, op: &str, request: &str, resolved: &str, restorable: bool) -> ReadError {
        let shown = if self.leak_host_paths || !restorable {
            self.host_path(resolved)
        } else {
            request.to_string()
        };
        format!("{op} {shown}: no such file or directory")
    }

    /// ReadFile with an optional (offset, length) range (Go `io.NewSectionReader` semantics).
    pub fn read_file(&self, path: &str, range: Option<(i64, i64)>) -> Result<Vec<u8>, ReadError> {
        let rel = self.resolve(path)?;
        match self.kind(&rel) {
            None => return Err(self.not_found("open", path, &rel, true)),
            Some(EntryKind::Dir) => {
                return Err(format!("read {}: is a directory", self.host_path(&rel)));
            }
            _ => {}
        }
        let data = fs::read(self.root.join(&rel))
            .map_err(|e| format!("read {}: {e}", self.host_path(&rel)))?;
        let Some((offset, length)) = range else {
            return Ok(data);
        };
        if offset < 0 {
            return Err(format!("read {}: negative offset", self.host_path(&rel)));
        }
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let len = usize::try_from(length.max(0)).unwrap_or(usize::MAX);
        let end = start.saturating_add(len).min(data.len());
        Ok(data[start..end].to_vec())
    }

    /// StatFile: the Stat of the resolved path, named by its last element.
    pub fn stat(&self, path: &str) -> Result<Stat, ReadError> {
        let rel = self.resolve(path)?;
        if self.kind(&rel).is_none() {
            return Err(self.not_found("lstat", path, &rel, true));
        }
        let name = if rel.is_empty() {
            HOST_MOUNT
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        } else {
            rel.rsplit('/').next().unwrap_or_default().to_string()
        };
        self.stat_entry(&rel, name)
    }

    /// ReadDir: one level below `dir`, optionally filtered by an include pattern that is matched like
    /// fsutil does (relative to `dir`; a directory is listed when something below it matches).
    pub fn read_dir(&self, dir: &str, include_pattern: &str) -> Result<Vec<Stat>, ReadError> {
        let rel = self.resolve(dir)?;
        match self.kind(&rel) {
            None => return Err(self.not_found("stat", dir, &rel, false)),
            Some(EntryKind::Dir) => {}
            Some(_) => return Err(format!("stat {}: not a directory", self.host_path(&rel))),
        }
        let names: Vec<String> = if include_pattern.is_empty() {
            self.children(&rel).into_iter().map(|(n, _)| n).collect()
        } else {
            let m = PatternMatcher::new(&[include_pattern])
                .map_err(|e| format!("invalid includepatterns: [{include_pattern}]: {e}"))?;
            let emitted = filter_walk(&ViewTree(self), &rel, Some(&m), None)?;
            emitted.into_iter().filter(|p| !p.contains('/')).collect()
        };
        names
            .into_iter()
            .map(|n| {
                let child = join_rel(&rel, &n);
                self.stat_entry(&child, n)
            })
            .collect()
    }

    fn children(&self, rel: &str) -> Vec<(String, bool)> {
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        self.entries
            .iter()
            .filter_map(|(p, kind)| {
                let rest = p.strip_prefix(&prefix)?;
                (!rest.is_empty() && !rest.contains('/'))
                    .then(|| (rest.to_string(), *kind == EntryKind::Dir))
            })
            .collect()
    }

    fn stat_entry(&self, rel: &str, name: String) -> Result<Stat, ReadError> {
        let host = self.root.join(rel);
        let md = fs::symlink_metadata(&host)
            .map_err(|e| format!("lstat {}: {e}", self.host_path(rel)))?;
        let mut st = Stat {
            path: name,
            mode: go_file_mode(&md),
            uid: md.uid(),
            gid: md.gid(),
            mod_time: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
            ..Default::default()
        };
        if !md.is_dir() {
            st.size = i64::try_from(md.size()).unwrap_or(i64::MAX);
        }
        if md.file_type().is_symlink() {
            st.linkname = fs::read_link(&host)
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(st)
    }
}

struct ViewTree<'a>(&'a LocalView);

impl Tree for ViewTree<'_> {
    fn children(&self, rel: &str) -> Result<Vec<(String, bool)>, String> {
        Ok(self.0.children(rel))
    }
}

/// Converts a host `st_mode` into Go's `os.FileMode` encoding (fsutil clears the socket bit).
pub fn go_file_mode(md: &fs::Metadata) -> u32 {
    let raw = md.mode();
    let mut mode = raw & 0o777;
    match raw & 0o170000 {
        0o040000 => mode |= MODE_DIR,
        0o120000 => mode |= MODE_SYMLINK,
        0o060000 => mode |= MODE_DEVICE,
        0o020000 => mode |= MODE_DEVICE | MODE_CHAR_DEVICE,
        0o010000 => mode |= MODE_NAMED_PIPE,
        _ => {}
    }
    if raw & 0o4000 != 0 {
        mode |= MODE_SETUID;
    }
    if raw & 0o2000 != 0 {
        mode |= MODE_SETGID;
    }
    if raw & 0o1000 != 0 {
        mode |= MODE_STICKY;
    }
    mode & !MODE_SOCKET
}
