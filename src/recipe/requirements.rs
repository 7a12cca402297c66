//! pip's requirements-file format, read as pip reads it (`pip/_internal/req/req_file.py`): physical
//! lines joined at a trailing `\`, comments (`#` at the start or after whitespace) removed, then
//! each logical line split into a requirement and options (`-r`, `-c`, `-e`, `--index-url`,
//! `--hash`…, long options by any unambiguous prefix, values quoted as in a shell).
//!
//! The Python recipe uses it to find lines that cannot work when the install sees only the
//! manifests: files that are not staged (or lie outside the build context) and local source trees.

use std::collections::BTreeSet;
use std::ops::Range;

use crate::diag::{Diagnostic, SourceText};
use crate::redact::redact_credentials;

/// One logical line of a requirements file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// From its first to its last character in the file: a continued line starts on the first
    /// physical line and the comment is not included.
    pub span: Range<usize>,
    /// The joined text without the comment, trimmed: what pip parses.
    pub text: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Something pip installs: `name==1.0`, `name @ URL`, a URL, a path, or `-e TARGET`, with the
    /// options that apply to it alone (`--hash`…).
    Requirement {
        target: String,
        editable: bool,
        source: Source,
        options: Vec<Opt>,
    },
    /// Options for the whole install or other files to read: `-r FILE`, `--index-url URL`, `--pre`…
    Options(Vec<Opt>),
    /// A line pip would refuse to parse.
    Invalid { problem: String, help: String },
}

/// Where pip takes a requirement from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A name resolved through the package index.
    Index,
    /// A VCS or archive URL that pip fetches itself (`git+https://…`, `name @ https://…/x.whl`).
    Remote,
    /// A directory or archive on disk (`.`, `./pkg`, `dist/x.whl`, `file:…`, `-e ./pkg`).
    Local,
}

/// An option as pip understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// The long name (`--requirement` for `-r`, `--requirem` and `--requirement=`); an option pip does
    /// not document is kept as written, with no value, and the rest of the line is left to pip.
    pub name: String,
    pub value: Option<String>,
}

/// A file another one makes pip read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// `-r FILE`: installed from.
    Requirements,
    /// `-c FILE`: only limits versions.
    Constraints,
}

impl Line {
    /// The files this line makes pip read, as written. Pip follows `-r` and `-c` on option lines
    /// only.
    pub fn references(&self) -> impl Iterator<Item = (Reference, &str)> {
        let opts: &[Opt] = match &self.kind {
            Kind::Options(opts) => opts,
            _ => &[],
        };
        opts.iter().filter_map(|o| {
            let role = match o.name.as_str() {
                "--requirement" => Reference::Requirements,
                "--constraint" => Reference::Constraints,
                _ => return None,
            };
            Some((role, o.value.as_deref()?))
        })
    }
}

/// The logical lines of a requirements file that hold something, in order. A leading byte-order
/// mark is skipped, as pip does; spans are offsets into `text`. Linear in the length of `text`.
pub fn read(text: &str) -> Vec<Line> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut offset = text.len() - body.len();
    let mut lines = Vec::new();
    let mut pending: Option<Joined> = None;
    for raw in body.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let physical = raw.strip_suffix('\n').unwrap_or(raw);
        let physical = physical.strip_suffix('\r').unwrap_or(physical);
        let comment = is_comment_line(physical);
        if physical.ends_with('\\') && !comment {
            // pip strips backslashes from both ends of a continued line and joins with nothing.
            let inner = physical.trim_start_matches('\\');
            let lead = physical.len() - inner.len();
            pending
                .get_or_insert_with(Joined::default)
                .push(inner.trim_end_matches('\\'), start + lead);
            continue;
        }
        let mut joined = pending.take().unwrap_or_default();
        if comment && !joined.text.is_empty() {
            // pip puts a space before a comment that ends a continuation, so it stays a comment.
            joined.push(" ", start);
        }
        joined.push(physical, start);
        lines.extend(joined.finish());
    }
    if let Some(joined) = pending {
        lines.extend(joined.finish());
    }
    lines
}

/// Checks the staged requirement files (path, text) for lines that cannot work when the install
/// sees only the staged manifests. Returns the files referenced only as constraints (`-c`), which
/// are not installed from, or one located error per problem line.
pub(crate) fn check_files<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    staged: &[String],
) -> Result<BTreeSet<String>, Vec<Diagnostic>> {
    let staged: BTreeSet<&str> = staged.iter().map(String::as_str).collect();
    let mut constraints = BTreeSet::new();
    let mut diags = Vec::new();
    for (file, text) in files {
        check_file(file, text, &staged, &mut constraints, &mut diags);
    }
    if diags.is_empty() {
        Ok(constraints)
    } else {
        Err(diags)
    }
}

fn check_file(
    file: &str,
    text: &str,
    staged: &BTreeSet<&str>,
    constraints: &mut BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    // Without the byte-order mark, so columns on the first line are the ones editors show.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = SourceText::new(file, text);
    let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    for line in read(text) {
        let shown = redact_credentials(&line.text);
        let mut error = |message: String, help: String| {
            diags.push(
                Diagnostic::at(&source, line.span.clone(), redact_credentials(&message))
                    .help(redact_credentials(&help)),
            )
        };
        match &line.kind {
            Kind::Invalid { problem, help } => error(format!("`{shown}`: {problem}"), help.clone()),
            Kind::Requirement {
                source: Source::Local,
                ..
            } => error(
                format!("`{shown}` installs local source, which the dependency install does not see"),
                "remove the line and install the project after the source copy, e.g. `build = \"pip install --no-deps .\"`".into(),
            ),
            Kind::Requirement { .. } => {}
            Kind::Options(_) => {
                for (role, path) in line.references() {
                    match resolve(dir, path) {
                        Resolved::Remote => {}
                        Resolved::FileUrl => error(
                            format!("`{shown}` names {path} by a file: URL, which pip reads from the builder's disk"),
                            format!("reference it by its path relative to {file} and stage it in `manifests`"),
                        ),
                        Resolved::Outside => error(
                            format!("`{shown}` needs {path}, which is outside the build context: BuildKit does not send it"),
                            "move the file inside the build context and reference it from there".into(),
                        ),
                        Resolved::Inside(target) => {
                            if !staged.contains(target.as_str()) {
                                error(
                                    format!("`{shown}` needs {target}, which is not staged for the install"),
                                    format!("add \"{target}\" to `manifests`"),
                                );
                            }
                            if role == Reference::Constraints {
                                constraints.insert(target);
                            }
                        }
                    }
                }
            }
        }
    }
}

enum Resolved {
    /// Fetched by pip over HTTP(S).
    Remote,
    FileUrl,
    Outside,
    /// A clean path relative to the build context.
    Inside(String),
}

/// Where a `-r`/`-c` path points: pip joins it with the directory of the file that names it.
fn resolve(dir: &str, path: &str) -> Resolved {
    match url_scheme(path).as_deref() {
        Some("http" | "https") => return Resolved::Remote,
        Some("file") => return Resolved::FileUrl,
        _ => {}
    }
    if path.starts_with('/') {
        return Resolved::Outside;
    }
    let joined = if dir.is_empty() {
        path.to_string()
    } else {
        format!("{dir}/{path}")
    };
    match crate::pattern::clean_relative(&joined) {
        Ok(p) => Resolved::Inside(p),
        Err(_) => Resolved::Outside,
    }
}

/// A logical line being assembled, with where each piece came from in the file.
#[derive(Default)]
struct Joined {
    text: String,
    /// (offset in `text`, offset in the file) where each piece starts.
    pieces: Vec<(usize, usize)>,
}

impl Joined {
    fn push(&mut self, piece: &str, file_offset: usize) {
        self.pieces.push((self.text.len(), file_offset));
        self.text.push_str(piece);
    }

    /// The file offset of byte `at` of `text`.
    fn file_offset(&self, at: usize) -> usize {
        let i = self.pieces.partition_point(|(start, _)| *start <= at);
        let (start, file) = self.pieces[i.saturating_sub(1)];
        file + (at - start)
    }

    fn finish(self) -> Option<Line> {
        let text = match comment_start(&self.text) {
            Some(i) => &self.text[..i],
            None => &self.text,
        };
        let content = text.trim();
        if content.is_empty() {
            return None;
        }
        let begin = text.len() - text.trim_start().len();
        let end = begin + content.len();
        // The last byte of the content maps into the piece holding it, the end just after it.
        let span = self.file_offset(begin)..self.file_offset(end - 1) + 1;
        Some(Line {
            span,
            text: content.to_string(),
            kind: classify(content),
        })
    }
}

/// pip's `COMMENT_RE.match`: the line's first non-space character is `#`.
fn is_comment_line(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// pip's `COMMENT_RE = (^|\s+)#.*$`: a `#` at the start or after whitespace; a `#` inside a word
/// (a URL fragment like `#egg=name`) is not a comment.
fn comment_start(text: &str) -> Option<usize> {
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        if c == '#' && prev_space {
            return Some(i);
        }
        prev_space = c.is_whitespace();
    }
    None
}

fn classify(line: &str) -> Kind {
    // pip's `break_args_options`: the requirement is the space-separated words before the first
    // one that starts with `-`; the rest is options.
    let mut at = 0;
    for word in line.split(' ') {
        if word.starts_with('-') {
            break;
        }
        at += word.len() + 1;
    }
    let at = at.min(line.len());
    let requirement = line[..at].trim();
    let words = match shell_split(&line[at..]) {
        Ok(w) => w,
        Err(problem) => {
            return Kind::Invalid {
                problem: problem.into(),
                help: "close the quote, or escape it with `\\`".into(),
            };
        }
    };
    let mut options = match parse_options(&words) {
        Ok(o) => o,
        Err((problem, help)) => return Kind::Invalid { problem, help },
    };
    if !requirement.is_empty() {
        return Kind::Requirement {
            target: requirement.to_string(),
            editable: false,
            source: requirement_source(requirement),
            options,
        };
    }
    if let Some(i) = options.iter().position(|o| o.name == "--editable") {
        let target = options.remove(i).value.unwrap_or_default();
        return Kind::Requirement {
            source: editable_source(&target),
            target,
            editable: true,
            options,
        };
    }
    Kind::Options(options)
}

struct OptionSpec {
    short: Option<char>,
    long: &'static str,
    takes_value: bool,
}

const fn opt(short: Option<char>, long: &'static str, takes_value: bool) -> OptionSpec {
    OptionSpec {
        short,
        long,
        takes_value,
    }
}

/// pip's `SUPPORTED_OPTIONS` and `SUPPORTED_OPTIONS_REQ`.
const OPTIONS: &[OptionSpec] = &[
    opt(Some('i'), "--index-url", true),
    opt(None, "--extra-index-url", true),
    opt(None, "--no-index", false),
    opt(Some('c'), "--constraint", true),
    opt(Some('r'), "--requirement", true),
    opt(Some('e'), "--editable", true),
    opt(Some('f'), "--find-links", true),
    opt(None, "--no-binary", true),
    opt(None, "--only-binary", true),
    opt(None, "--prefer-binary", false),
    opt(None, "--require-hashes", false),
    opt(None, "--pre", false),
    opt(None, "--trusted-host", true),
    opt(None, "--use-feature", true),
    opt(None, "--global-option", true),
    opt(None, "--hash", true),
    opt(Some('C'), "--config-settings", true),
];

type Problem = (String, String);

/// Options as Python's optparse reads them: `--long VALUE`, `--long=VALUE`, a unique prefix of a
/// long name, `-x VALUE`, `-xVALUE`. Words that are not options are ignored, as pip ignores them.
fn parse_options(words: &[String]) -> Result<Vec<Opt>, Problem> {
    let mut out = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let (spec, inline) = if let Some(long) = word.strip_prefix("--") {
            if long.is_empty() {
                break;
            }
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            match long_option(name)? {
                Some(spec) => (spec, inline),
                None => {
                    // Unknown to us; pip decides. Its value, if any, is not ours to guess.
                    out.push(Opt {
                        name: format!("--{name}"),
                        value: inline,
                    });
                    break;
                }
            }
        } else if let Some(short) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let letter = chars.next().unwrap_or_default();
            let Some(spec) = OPTIONS.iter().find(|o| o.short == Some(letter)) else {
                out.push(Opt {
                    name: format!("-{letter}"),
                    value: None,
                });
                break;
            };
            let rest = chars.as_str();
            if let Some(value) = rest.strip_prefix('=') {
                return Err((
                    format!(
                        "pip reads `-{letter}={value}` as `-{letter}` with the value `={value}`"
                    ),
                    format!("write `-{letter} {value}` or `{}={value}`", spec.long),
                ));
            }
            (spec, (!rest.is_empty()).then(|| rest.to_string()))
        } else {
            continue;
        };
        let value = match (spec.takes_value, inline) {
            (true, Some(v)) => Some(v),
            (true, None) => match words.next() {
                Some(v) => Some(v.clone()),
                None => {
                    return Err((
                        format!("`{}` needs a value", spec.long),
                        format!("write it as `{} VALUE`", spec.long),
                    ));
                }
            },
            (false, Some(_)) => {
                return Err((
                    format!("`{}` takes no value", spec.long),
                    format!("write `{}` alone", spec.long),
                ));
            }
            (false, None) => None,
        };
        out.push(Opt {
            name: spec.long.to_string(),
            value,
        });
    }
    Ok(out)
}

/// The option `--name` abbreviates: itself, or the only one it is a prefix of.
fn long_option(name: &str) -> Result<Option<&'static OptionSpec>, Problem> {
    if let Some(exact) = OPTIONS.iter().find(|o| &o.long[2..] == name) {
        return Ok(Some(exact));
    }
    let matches: Vec<&OptionSpec> = OPTIONS
        .iter()
        .filter(|o| o.long[2..].starts_with(name))
        .collect();
    match matches.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err((
            format!("`--{name}` is ambiguous"),
            format!(
                "write one of {}",
                many.iter()
                    .map(|o| format!("`{}`", o.long))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Python's `shlex.split` (POSIX mode, no comments), which pip applies to the options.
fn shell_split(s: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a quote is not closed"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a quote is not closed"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a quote is not closed"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("a `\\` escapes nothing"),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// pip's `get_url_scheme`, lowercased: what comes before the first `:`.
fn url_scheme(s: &str) -> Option<String> {
    let (scheme, _) = s.split_once(':')?;
    let valid = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// pip's `is_url`: the schemes it fetches, plus the version-control ones.
fn is_url(s: &str) -> Option<Source> {
    let scheme = url_scheme(s)?;
    let vcs = ["git", "hg", "svn", "bzr"];
    let remote = matches!(scheme.as_str(), "http" | "https" | "ftp")
        || vcs.contains(&scheme.as_str())
        || scheme
            .split_once('+')
            .is_some_and(|(v, _)| vcs.contains(&v));
    if scheme == "file" || scheme.ends_with("+file") {
        Some(Source::Local)
    } else if remote {
        Some(Source::Remote)
    } else {
        None
    }
}

fn requirement_source(requirement: &str) -> Source {
    if let Some(source) = is_url(requirement) {
        return source;
    }
    // pip splits an environment marker off at `;` before looking at the name.
    let name = requirement.split(';').next().unwrap_or_default().trim();
    // PEP 508 `name[extras] @ URL`.
    if let Some((name_part, url)) = name.split_once('@') {
        let name_part = name_part.trim();
        if !name_part.is_empty() && !name_part.contains(['/', ':', ' ']) {
            let url = url.trim();
            return match is_url(url) {
                Some(source) => source,
                None if is_local_path(url) => Source::Local,
                None => Source::Remote,
            };
        }
    }
    if is_local_path(name) || is_archive(name) {
        Source::Local
    } else {
        Source::Index
    }
}

/// pip's `parse_editable`: a VCS URL is cloned, anything else is a project directory.
fn editable_source(target: &str) -> Source {
    match is_url(target) {
        Some(Source::Remote) => Source::Remote,
        _ => Source::Local,
    }
}

/// pip's `_looks_like_path`: a path separator, or a leading `.`.
fn is_local_path(word: &str) -> bool {
    word.starts_with('.') || word.contains('/')
}

/// pip's `is_archive_file`: a name ending like a wheel or source archive is a file on disk.
fn is_archive(word: &str) -> bool {
    let word = word.split('[').next().unwrap_or(word).to_ascii_lowercase();
    [
        ".whl",
        ".zip",
        ".tar.gz",
        ".tgz",
        ".tar",
        ".tar.bz2",
        ".tbz",
        ".tar.xz",
        ".txz",
        ".tlz",
        ".tar.lz",
        ".tar.lzma",
    ]
    .iter()
    .any(|ext| word.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(String, Kind)> {
        read(text).into_iter().map(|l| (l.text, l.kind)).collect()
    }

    fn one(text: &str) -> Kind {
        let mut lines = read(text);
        assert_eq!(lines.len(), 1, "{lines:?}");
        lines.remove(0).kind
    }

    fn source(text: &str) -> Source {
        match one(text) {
            Kind::Requirement { source, .. } => source,
            other => panic!("{text:?} is not a requirement: {other:?}"),
        }
    }

    fn options(text: &str) -> Vec<(String, Option<String>)> {
        match one(text) {
            Kind::Options(o) => o.into_iter().map(|o| (o.name, o.value)).collect(),
            other => panic!("{text:?} is not an option line: {other:?}"),
        }
    }

    fn opt(name: &str, value: &str) -> (String, Option<String>) {
        (name.to_string(), Some(value.to_string()))
    }

    #[test]
    fn continuations_are_joined_as_pip_joins_them() {
        let text = "-r \\\nbase.txt\nrequests\\\n==2.31.0 \\\n  --hash=sha256:aa  # pinned\n";
        let lines = read(text);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "-r base.txt");
        assert_eq!(lines[0].span, 0..13);
        assert_eq!(&text[lines[0].span.clone()], "-r \\\nbase.txt");
        assert_eq!(lines[1].text, "requests==2.31.0   --hash=sha256:aa");
        assert_eq!(
            &text[lines[1].span.clone()],
            "requests\\\n==2.31.0 \\\n  --hash=sha256:aa"
        );
        let Kind::Requirement {
            target,
            source,
            options,
            ..
        } = &lines[1].kind
        else {
            panic!("{:?}", lines[1].kind)
        };
        assert_eq!(target, "requests==2.31.0");
        assert_eq!(*source, Source::Index);
        assert_eq!(options[0].value.as_deref(), Some("sha256:aa"));
        // A comment line ends a continuation; a continuation at the end of the file is kept.
        assert_eq!(
            kinds("flask \\\n# a comment \\\nsix \\")
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>(),
            ["flask", "six"]
        );
        // CRLF line ends, and a comment on a continued line swallows the rest, as in pip.
        assert_eq!(read("-r \\\r\nbase.txt\r\nsix\r\n")[0].text, "-r base.txt");
        assert_eq!(read("six # x \\\nflask\n").len(), 1);
    }

    #[test]
    fn comments_need_whitespace_before_the_hash() {
        assert_eq!(
            read("# all\n  # indented\nflask\t# web\ngit+https://h/r.git#egg=r\n")
                .into_iter()
                .map(|l| l.text)
                .collect::<Vec<_>>(),
            ["flask", "git+https://h/r.git#egg=r"]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let lines = read("\u{feff}-r base.txt\n");
        assert_eq!(lines[0].text, "-r base.txt");
        assert_eq!(lines[0].span, 3..14);
    }

    #[test]
    fn referenced_files_in_every_spelling() {
        for line in [
            "-r base.txt",
            "-rbase.txt",
            "--requirement base.txt",
            "--requirement=base.txt",
            "--requirem base.txt",
            "-r 'base.txt'",
        ] {
            let l = &read(line)[0];
            assert_eq!(
                l.references().collect::<Vec<_>>(),
                [(Reference::Requirements, "base.txt")],
                "{line}"
            );
        }
        let l = &read("-c c.txt --pre -i https://x/simple")[0];
        assert_eq!(
            l.references().collect::<Vec<_>>(),
            [(Reference::Constraints, "c.txt")]
        );
        // pip ignores `-r` on a requirement line.
        assert_eq!(read("six -r base.txt")[0].references().count(), 0);
    }

    #[test]
    fn option_lines() {
        assert_eq!(
            options("--index-url https://u:p@h/simple"),
            [opt("--index-url", "https://u:p@h/simple")]
        );
        assert_eq!(
            options("-i https://h/simple --extra-index-url=https://e/simple"),
            [
                opt("--index-url", "https://h/simple"),
                opt("--extra-index-url", "https://e/simple")
            ]
        );
        assert_eq!(options("--pre"), [("--pre".to_string(), None::<String>)]);
        assert_eq!(
            options("--only-binary :all: --trusted-host h -f https://h/wheels"),
            [
                opt("--only-binary", ":all:"),
                opt("--trusted-host", "h"),
                opt("--find-links", "https://h/wheels")
            ]
        );
        assert_eq!(
            options("--some-new-option x -r y"),
            [("--some-new-option".to_string(), None::<String>)]
        );
    }

    #[test]
    fn lines_pip_refuses_are_invalid() {
        for line in [
            "-r",
            "-r=base.txt",
            "--pre=1",
            "--no x",
            "--req x",
            "-r 'base.txt",
        ] {
            assert!(
                matches!(one(line), Kind::Invalid { .. }),
                "{line}: {:?}",
                one(line)
            );
        }
    }

    #[test]
    fn requirements_are_told_apart_by_where_pip_gets_them() {
        for (line, expected) in [
            ("flask", Source::Index),
            ("flask[async]>=2 ; python_version >= \"3.8\"", Source::Index),
            ("requests==2.31.0 --hash=sha256:aa", Source::Index),
            (
                "git+https://github.com/org/repo.git#egg=repo",
                Source::Remote,
            ),
            (
                "git+https://user:TOKEN@github.com/org/repo.git",
                Source::Remote,
            ),
            (
                "pkg @ git+https://github.com/org/repo.git@v1",
                Source::Remote,
            ),
            (
                "pkg@https://files.example/pkg-1.0-py3-none-any.whl",
                Source::Remote,
            ),
            ("https://files.example/pkg-1.0.tar.gz", Source::Remote),
            (
                "-e git+https://user:TOKEN@github.com/org/repo.git#egg=x",
                Source::Remote,
            ),
            (
                "-e git+ssh://git@github.com/org/repo.git#egg=x",
                Source::Remote,
            ),
            (".", Source::Local),
            ("./pkg", Source::Local),
            ("../pkg", Source::Local),
            ("/abs/pkg", Source::Local),
            (".[dev]", Source::Local),
            ("file:///wheels/x.whl", Source::Local),
            ("pkg @ file:///wheels/x.whl", Source::Local),
            ("dist/pkg-1.0-py3-none-any.whl", Source::Local),
            ("pkg-1.0.tar.gz", Source::Local),
            ("git+file:///srv/repo#egg=x", Source::Local),
            ("-e .", Source::Local),
            ("-e ./pkg", Source::Local),
            ("--editable=pkg", Source::Local),
        ] {
            assert_eq!(source(line), expected, "{line}");
        }
    }

    #[test]
    fn reading_is_linear_on_hostile_input() {
        let text = "\\\n".repeat(100_000)
            + &"-r ".repeat(100_000)
            + "\n"
            + &"a #".repeat(100_000)
            + "\n"
            + &"'".repeat(100_001);
        let started = std::time::Instant::now();
        let _ = read(&text);
        assert!(started.elapsed().as_secs() < 5);
    }
}
