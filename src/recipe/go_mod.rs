//! `go.mod` and `go.work`, read line by line as cmd/go's modfile package reads them: `//`
//! comments, `verb args…` lines and `verb ( … )` blocks, double-quoted or back-quoted strings.
//! Only what the Go recipe needs is kept (module path, `go` and `toolchain` lines, requirements,
//! replacements, workspace `use` directories), each with its place in the file; every other
//! directive (`exclude`, `retract`, `godebug`, `tool`…) is skipped, so a newer go.mod still reads.
//!
//! The input is untrusted: one pass over the text, no recursion, no panics; malformed lines that
//! matter become diagnostics at their line and column.

use std::cmp::Ordering;
use std::ops::Range;

use crate::diag::{Diagnostic, Diagnostics, SourceText};

/// Past this many problems in one file the rest are not worth reading.
const MAX_ERRORS: usize = 10;
/// Longer than any real version (`1.22.10rc3`): refused before it is parsed as numbers.
const MAX_VERSION_LEN: usize = 32;

/// A token's text and where it is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub span: Range<usize>,
}

/// A Go release as `go` and `toolchain` lines name it, ordered as cmd/go orders them:
/// `1.21` (the language version) < `1.21rc1` < `1.21.0` < `1.21.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoVersion {
    pub major: u32,
    pub minor: u32,
    /// 0: the language version alone (`1.21`), 1: beta, 2: rc, 3: a release (`1.21.N`).
    kind: u8,
    /// The beta, rc or patch number.
    number: u32,
}

impl GoVersion {
    /// `1.22`, `1.22.3`, `1.22rc1`, `1.22beta2`; `None` for anything else.
    pub fn parse(s: &str) -> Option<GoVersion> {
        if s.is_empty() || s.len() > MAX_VERSION_LEN {
            return None;
        }
        let (major, rest) = s.split_once('.')?;
        let major = number(major)?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let minor = number(&rest[..digits])?;
        let tail = &rest[digits..];
        let (kind, n) = if tail.is_empty() {
            (0, 0)
        } else if let Some(p) = tail.strip_prefix('.') {
            (3, number(p)?)
        } else if let Some(b) = tail.strip_prefix("beta") {
            (1, number(b)?)
        } else if let Some(r) = tail.strip_prefix("rc") {
            (2, number(r)?)
        } else {
            return None;
        };
        Some(GoVersion {
            major,
            minor,
            kind,
            number: n,
        })
    }

    /// `major.minor`: the tag of the official image that floats to the newest patch release.
    pub fn minor_line(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// Whether a toolchain image for `available` runs a module that needs `self`. An image
    /// version without a patch (`1.22`, a floating tag) is the newest release of that line.
    pub fn satisfied_by(&self, available: &GoVersion) -> bool {
        if available.kind == 0 {
            (available.major, available.minor) >= (self.major, self.minor)
        } else {
            available.cmp(self) != Ordering::Less
        }
    }
}

impl std::fmt::Display for GoVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        match self.kind {
            1 => write!(f, "beta{}", self.number),
            2 => write!(f, "rc{}", self.number),
            3 => write!(f, ".{}", self.number),
            _ => Ok(()),
        }
    }
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A `go` or `toolchain` line: the version it asks for and the line as written, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionLine {
    pub version: GoVersion,
    /// `go 1.22.3`, `toolchain go1.23.4`.
    pub text: String,
    /// From the directive to the end of its version.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    pub path: Word,
    pub version: Word,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A directory (`./lib`, `../lib`, `/abs`): its go.mod is read instead of a download.
    Dir(Word),
    Module {
        path: Word,
        version: Word,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    pub old: Word,
    pub new: Target,
    /// The directive as written (`example.com/lib => ../lib`), for messages.
    pub text: String,
}

/// Which file is read: the directives differ (`require` in go.mod, `use` in go.work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Mod,
    Work,
}

/// What the Go recipe needs of a go.mod or go.work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModFile {
    pub module: Option<Word>,
    pub go: Option<VersionLine>,
    pub toolchain: Option<VersionLine>,
    pub requires: Vec<Require>,
    pub replaces: Vec<Replace>,
    /// go.work's `use` directories, as written.
    pub uses: Vec<Word>,
}

impl ModFile {
    /// The newer of the `go` and `toolchain` lines: what the toolchain must be at least.
    pub fn needs(&self) -> Option<&VersionLine> {
        match (&self.go, &self.toolchain) {
            (Some(g), Some(t)) if t.version > g.version => Some(t),
            (Some(g), _) => Some(g),
            (None, t) => t.as_ref(),
        }
    }

    /// Whether `path` is replaced by a directory here (it then needs no download and no go.sum).
    pub fn replaced_by_dir(&self, path: &str) -> bool {
        self.replaces
            .iter()
            .any(|r| r.old.text == path && matches!(r.new, Target::Dir(_)))
    }
}

/// Whether a replacement names a directory rather than a module, as cmd/go decides it.
pub fn is_local_path(s: &str) -> bool {
    s.starts_with("./")
        || s.starts_with("../")
        || s.starts_with('/')
        || s == "."
        || s == ".."
        || s.starts_with(".\\")
        || s.starts_with("..\\")
        || s.as_bytes().get(1) == Some(&b':')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Ident,
    Quoted,
    /// `(`, `)`, `[`, `]`, `{`, `}`, `,`
    Punct,
    Arrow,
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    word: Word,
}

impl Token {
    fn is(&self, punct: &str) -> bool {
        self.kind == TokenKind::Punct && self.word.text == punct
    }

    /// A word a directive takes: an identifier or a string.
    fn is_word(&self) -> bool {
        matches!(self.kind, TokenKind::Ident | TokenKind::Quoted)
    }
}

/// Reads a go.mod (`FileKind::Mod`) or go.work. `name` is the file's path in the context, for
/// diagnostics.
pub fn parse(name: &str, text: &str, kind: FileKind) -> Result<ModFile, Diagnostics> {
    let source = SourceText::new(name, text);
    let mut reader = Reader {
        source: &source,
        kind,
        file: ModFile::default(),
        errors: Vec::new(),
    };
    let mut block: Option<Token> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if reader.errors.len() >= MAX_ERRORS {
            break;
        }
        let tokens = match lex(line, start) {
            Ok(t) => t,
            Err((span, message)) => {
                reader.error(span, message, None);
                continue;
            }
        };
        let Some(first) = tokens.first() else {
            continue;
        };
        if let Some(verb) = &block {
            if first.is(")") {
                if tokens.len() > 1 {
                    reader.error(
                        tokens[1].word.span.clone(),
                        "unexpected text after `)`".into(),
                        None,
                    );
                }
                block = None;
                continue;
            }
            let verb = verb.clone();
            reader.directive(&verb, &tokens, first.word.span.start);
            continue;
        }
        if first.kind != TokenKind::Ident {
            reader.error(
                first.word.span.clone(),
                format!("unexpected `{}`: expected a directive", first.word.text),
                None,
            );
            continue;
        }
        match &tokens[1..] {
            [open] if open.is("(") => block = Some(first.clone()),
            [open, close] if open.is("(") && close.is(")") => {}
            args => reader.directive(first, args, first.word.span.start),
        }
    }
    if let Some(verb) = block {
        reader.error(
            verb.word.span.clone(),
            format!("the `{} (` block is never closed", verb.word.text),
            Some("end it with a line holding only `)`".into()),
        );
    }
    if reader.errors.is_empty() {
        Ok(reader.file)
    } else {
        Err(Diagnostics(reader.errors))
    }
}

struct Reader<'a> {
    source: &'a SourceText,
    kind: FileKind,
    file: ModFile,
    errors: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn error(&mut self, span: Range<usize>, message: String, help: Option<String>) {
        let mut d = Diagnostic::at(self.source, span, message);
        if let Some(h) = help {
            d = d.help(h);
        }
        self.errors.push(d);
    }

    /// One directive: `verb args…` on a line, or `args…` on a line of a `verb (` block; `start` is
    /// where the line's text starts.
    fn directive(&mut self, verb: &Token, args: &[Token], start: usize) {
        let whole = || {
            let end = args.last().map_or(verb.word.span.end, |a| a.word.span.end);
            start..end
        };
        match (verb.word.text.as_str(), self.kind) {
            ("module", FileKind::Mod) => match args {
                [path] if path.is_word() => self.file.module = Some(path.word.clone()),
                _ => self.error(whole(), "expected `module <module path>`".into(), None),
            },
            ("go", _) => match args {
                [v] if v.is_word() => match GoVersion::parse(&v.word.text) {
                    Some(version) => {
                        self.file.go = Some(VersionLine {
                            version,
                            text: format!("go {}", v.word.text),
                            span: whole(),
                        })
                    }
                    None => self.error(
                        v.word.span.clone(),
                        format!("invalid go version `{}`", v.word.text),
                        Some("expected a Go release such as 1.22 or 1.22.3".into()),
                    ),
                },
                _ => self.error(whole(), "expected `go <version>`".into(), None),
            },
            ("toolchain", _) => match args {
                [t] if t.is_word() => {
                    let name = t.word.text.as_str();
                    if name == "default" {
                        return;
                    }
                    // `go1.21.3`, with an optional `-suffix` or `+suffix` (custom builds).
                    let version = name
                        .strip_prefix("go")
                        .map(|v| v.split(['-', '+']).next().unwrap_or(v))
                        .and_then(GoVersion::parse);
                    match version {
                        Some(version) => {
                            self.file.toolchain = Some(VersionLine {
                                version,
                                text: format!("toolchain {name}"),
                                span: whole(),
                            })
                        }
                        None => self.error(
                            t.word.span.clone(),
                            format!("invalid toolchain name `{name}`"),
                            Some("expected go1.N.P, e.g. `toolchain go1.23.4`".into()),
                        ),
                    }
                }
                _ => self.error(whole(), "expected `toolchain go<version>`".into(), None),
            },
            ("require", FileKind::Mod) => match args {
                [path, version] if path.is_word() && version.is_word() => {
                    self.file.requires.push(Require {
                        path: path.word.clone(),
                        version: version.word.clone(),
                    })
                }
                _ => self.error(
                    whole(),
                    format!(
                        "expected `require <module path> <version>`, found `{}`",
                        written(args)
                    ),
                    None,
                ),
            },
            ("replace", _) => self.replace(args, whole()),
            ("use", FileKind::Work) => match args {
                [dir] if dir.is_word() => self.file.uses.push(dir.word.clone()),
                _ => self.error(whole(), "expected `use <directory>`".into(), None),
            },
            // exclude, retract, godebug, tool, ignore, and whatever later Go versions add.
            _ => {}
        }
    }

    fn replace(&mut self, args: &[Token], whole: Range<usize>) {
        let written = written(args);
        // `old [version] => new [version]`: one or two words on each side of the arrow.
        let arrow = args.iter().position(|a| a.kind == TokenKind::Arrow);
        let sides = arrow
            .filter(|&i| (1..=2).contains(&i) && (1..=2).contains(&(args.len() - i - 1)))
            .map(|i| (&args[..i], &args[i + 1..]));
        let Some((old, new)) = sides else {
            self.error(
                whole,
                format!(
                    "expected `replace <module> [<version>] => <replacement>`, found `{written}`"
                ),
                None,
            );
            return;
        };
        if !old.iter().chain(new).all(Token::is_word) {
            self.error(
                whole,
                format!("unexpected punctuation in `replace {written}`"),
                None,
            );
            return;
        }
        let target = match new {
            [dir] if is_local_path(&dir.word.text) => Target::Dir(dir.word.clone()),
            [path, version] => Target::Module {
                path: path.word.clone(),
                version: version.word.clone(),
            },
            [path, ..] => {
                self.error(
                    path.word.span.clone(),
                    format!("replacement `{}` has no version and is not a directory path", path.word.text),
                    Some("a directory starts with ./ or ../; a module needs a version, e.g. `=> example.com/fork v1.2.3`".into()),
                );
                return;
            }
            [] => return,
        };
        self.file.replaces.push(Replace {
            old: old[0].word.clone(),
            new: target,
            text: written,
        });
    }
}

/// The words of a directive as written, for messages.
fn written(args: &[Token]) -> String {
    args.iter()
        .map(|a| a.word.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tokens of one line (`offset`: where it starts in the file), or the first problem.
fn lex(line: &str, offset: usize) -> Result<Vec<Token>, (Range<usize>, String)> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let at = offset + i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            // A byte-order mark is whitespace to us (editors do not show it).
            0xEF if line[i..].starts_with('\u{feff}') => i += 3,
            b'/' if bytes.get(i + 1) == Some(&b'/') => break,
            b'(' | b')' | b'[' | b']' | b'{' | b'}' | b',' => {
                tokens.push(Token {
                    kind: TokenKind::Punct,
                    word: Word {
                        text: (c as char).to_string(),
                        span: at..at + 1,
                    },
                });
                i += 1;
            }
            b'=' if bytes.get(i + 1) == Some(&b'>') => {
                tokens.push(Token {
                    kind: TokenKind::Arrow,
                    word: Word {
                        text: "=>".into(),
                        span: at..at + 2,
                    },
                });
                i += 2;
            }
            b'"' => {
                let mut text = String::new();
                let mut j = i + 1;
                let mut closed = false;
                // Byte-wise, copying runs of ordinary text whole: `"` and `\` are ASCII, so the
                // cuts fall on character boundaries.
                let mut run = j;
                while j < bytes.len() {
                    match bytes[j] {
                        b'"' => {
                            text.push_str(&line[run..j]);
                            closed = true;
                            j += 1;
                            break;
                        }
                        b'\\' => {
                            text.push_str(&line[run..j]);
                            match bytes.get(j + 1) {
                                Some(b'"') => text.push('"'),
                                Some(b'\\') => text.push('\\'),
                                _ => {
                                    return Err((
                                        offset + j..offset + j + 1,
                                        "unsupported escape in a quoted string".into(),
                                    ));
                                }
                            }
                            j += 2;
                            run = j;
                        }
                        b'\n' => break,
                        _ => j += 1,
                    }
                }
                if !closed {
                    return Err((at..at + 1, "unterminated quoted string".into()));
                }
                tokens.push(Token {
                    kind: TokenKind::Quoted,
                    word: Word {
                        text,
                        span: at..offset + j,
                    },
                });
                i = j;
            }
            b'`' => {
                let Some(len) = line[i + 1..].find('`') else {
                    return Err((at..at + 1, "unterminated raw string".into()));
                };
                let end = i + 1 + len;
                tokens.push(Token {
                    kind: TokenKind::Quoted,
                    word: Word {
                        text: line[i + 1..end].to_string(),
                        span: at..offset + end + 1,
                    },
                });
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() {
                    let b = bytes[i];
                    let stop = matches!(
                        b,
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b'('
                            | b')'
                            | b'['
                            | b']'
                            | b'{'
                            | b'}'
                            | b','
                            | b'"'
                            | b'`'
                    ) || (b == b'/' && bytes.get(i + 1) == Some(&b'/'));
                    if stop {
                        break;
                    }
                    // Whole characters: a multi-byte one is never cut.
                    i += line[i..].chars().next().map_or(1, char::len_utf8);
                }
                tokens.push(Token {
                    kind: TokenKind::Ident,
                    word: Word {
                        text: line[start..i].to_string(),
                        span: offset + start..offset + i,
                    },
                });
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(text: &str) -> ModFile {
        parse("go.mod", text, FileKind::Mod).unwrap()
    }

    fn error(text: &str) -> String {
        parse("go.mod", text, FileKind::Mod)
            .unwrap_err()
            .to_string()
    }

    fn v(s: &str) -> GoVersion {
        GoVersion::parse(s).unwrap()
    }

    #[test]
    fn a_go_mod_as_go_mod_tidy_writes_it() {
        let text = "// Service.\nmodule example.com/hello // the module\n\ngo 1.22.3\n\ntoolchain go1.23.4\n\nrequire (\n\tgithub.com/google/uuid v1.6.0\n\tgolang.org/x/net v0.30.0 // indirect\n)\n\nrequire \"example.com/quoted\" `v1.0.0`\n\nreplace example.com/lib => ./lib\nreplace (\n\texample.com/old v1.0.0 => example.com/new v1.1.0\n)\nexclude example.com/bad v0.1.0\nretract [v1.0.0, v1.0.5] // broken\ngodebug default=go1.21\ntool example.com/gen\n";
        let m = module(text);
        assert_eq!(m.module.as_ref().unwrap().text, "example.com/hello");
        let go = m.go.as_ref().unwrap();
        assert_eq!(go.text, "go 1.22.3");
        assert_eq!(&text[go.span.clone()], "go 1.22.3");
        assert_eq!(m.toolchain.as_ref().unwrap().text, "toolchain go1.23.4");
        assert_eq!(m.needs().unwrap().text, "toolchain go1.23.4");
        let reqs: Vec<(&str, &str)> = m
            .requires
            .iter()
            .map(|r| (r.path.text.as_str(), r.version.text.as_str()))
            .collect();
        assert_eq!(
            reqs,
            [
                ("github.com/google/uuid", "v1.6.0"),
                ("golang.org/x/net", "v0.30.0"),
                ("example.com/quoted", "v1.0.0")
            ]
        );
        assert_eq!(
            &text[m.requires[0].path.span.clone()],
            "github.com/google/uuid"
        );
        assert_eq!(m.replaces.len(), 2);
        assert!(m.replaced_by_dir("example.com/lib"));
        assert!(!m.replaced_by_dir("example.com/old"));
        let Target::Dir(dir) = &m.replaces[0].new else {
            panic!()
        };
        assert_eq!(&text[dir.span.clone()], "./lib");
        assert_eq!(m.replaces[0].text, "example.com/lib => ./lib");
    }

    #[test]
    fn a_go_work_lists_its_modules() {
        let w = parse(
            "go.work",
            "go 1.23\n\nuse (\n\t.\n\t./svc/api\n\t\"./svc/with space\"\n)\nuse ./tools\nreplace example.com/x => ../x\n",
            FileKind::Work,
        )
        .unwrap();
        let uses: Vec<&str> = w.uses.iter().map(|u| u.text.as_str()).collect();
        assert_eq!(uses, [".", "./svc/api", "./svc/with space", "./tools"]);
        assert_eq!(w.replaces.len(), 1);
        assert!(w.module.is_none());
    }

    #[test]
    fn versions_order_as_cmd_go_orders_them() {
        assert!(v("1.21") < v("1.21rc1"));
        assert!(v("1.21beta1") < v("1.21rc1"));
        assert!(v("1.21rc2") < v("1.21.0"));
        assert!(v("1.21.0") < v("1.21.10"));
        assert!(v("1.9") < v("1.10"));
        assert_eq!(v("1.22.3").to_string(), "1.22.3");
        assert_eq!(v("1.23rc1").minor_line(), "1.23");
        // A floating image tag is the newest release of its line.
        assert!(v("1.22.9").satisfied_by(&v("1.22")));
        assert!(!v("1.23").satisfied_by(&v("1.22")));
        assert!(!v("1.22.3").satisfied_by(&v("1.22.1")));
        assert!(v("1.22.3").satisfied_by(&v("1.22.3")));
        assert!(v("1.22").satisfied_by(&v("1.22.0")));
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "1.x",
            "1.2.3.4",
            "1.21rc",
            "v1.21",
            "1.21-rc1",
            "99999999999.1",
        ] {
            assert_eq!(GoVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_lines_are_located() {
        assert_eq!(
            error("module x\n\ngo 1.x\n"),
            "go.mod:3:4: invalid go version `1.x` (expected a Go release such as 1.22 or 1.22.3)"
        );
        assert_eq!(
            error("module x\nrequire (\n\tgithub.com/a\n)\n"),
            "go.mod:3:2: expected `require <module path> <version>`, found `github.com/a`"
        );
        assert_eq!(
            error("module x\nrequire (\n\tgithub.com/a v1.0.0\n"),
            "go.mod:2:1: the `require (` block is never closed (end it with a line holding only `)`)"
        );
        assert_eq!(
            error("module \"x\nreplace a => b\n"),
            "go.mod:1:8: unterminated quoted string\ngo.mod:2:14: replacement `b` has no version and is not a directory path (a directory starts with ./ or ../; a module needs a version, e.g. `=> example.com/fork v1.2.3`)"
        );
        assert_eq!(
            error("toolchain 1.22\n"),
            "go.mod:1:11: invalid toolchain name `1.22` (expected go1.N.P, e.g. `toolchain go1.23.4`)"
        );
        assert_eq!(
            error("( x\n"),
            "go.mod:1:1: unexpected `(`: expected a directive"
        );
    }

    #[test]
    fn odd_input_never_panics_and_stays_linear() {
        for text in [
            "",
            "\u{feff}module x\n",
            "module é\"ü\n",
            "replace => =>\n",
            "require (\n)\n)\n",
            "go\n",
            "\"\\",
            "`",
            "module x\r\ngo 1.22\r\n",
            "toolchain go1.22.1-custom+auto\n",
            "toolchain default\n",
        ] {
            let _ = parse("go.mod", text, FileKind::Mod);
            let _ = parse("go.work", text, FileKind::Work);
        }
        assert_eq!(
            module("toolchain go1.22.1-custom\n")
                .toolchain
                .unwrap()
                .version,
            v("1.22.1")
        );
        assert_eq!(module("\u{feff}module x\n").module.unwrap().text, "x");
        // Many errors stop at a bound; a huge file is read in one pass.
        let many = "go 1.x\n".repeat(1000);
        assert_eq!(
            parse("go.mod", &many, FileKind::Mod).unwrap_err().0.len(),
            MAX_ERRORS
        );
        let big = format!(
            "module x\nrequire (\n{})\n",
            "\ta.example/m v1.0.0\n".repeat(50_000)
        );
        let started = std::time::Instant::now();
        assert_eq!(module(&big).requires.len(), 50_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
