//! The head of a Go source file, read as go/build reads it to decide which package a directory
//! holds and what it imports: the build constraints (`//go:build`, or the older `// +build`
//! lines), the package clause, and the import declarations, which come before any other
//! declaration. The Go recipe reads only the first bytes of each file (`HEAD_BYTES`), never the
//! whole source.
//!
//! The input is untrusted: one pass, bounded nesting, no panics. Whatever cannot be read (no
//! package clause in the head) is `None`, a constraint that cannot be parsed does not exclude its
//! file, and imports stop at the first thing that is not one: `go build` will say what is wrong
//! with it. An import missed here costs only time (the build compiles it), never correctness.

/// How much of a `.go` file is read: enough for a licence header and the package clause.
pub const HEAD_BYTES: usize = 16 << 10;
/// Deeper than any real constraint: `((((…` is not evaluated.
const MAX_DEPTH: usize = 32;

/// GOOS values go/build knows (`syslist.go`): a file named `x_windows.go` or constrained by
/// `windows` is not built for Linux.
const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// What the head of a file says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// The package name, when the clause is within what was read.
    pub package: Option<String>,
    /// The `//go:build` expression, if any.
    pub go_build: Option<String>,
    /// `// +build` lines (used only without `//go:build`, as go/build does).
    pub plus_build: Vec<String>,
    /// The import paths the file declares, in order, as far as the head holds them; without cgo's
    /// pseudo-package `C` and without paths `go build` would refuse.
    pub imports: Vec<String>,
}

/// The build this recipe plans for: Linux, the compiler `gc`, cgo on or off, the `[go] tags`.
/// The target architecture is not known when planning, so every architecture tag holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags {
    pub cgo: bool,
    pub extra: Vec<String>,
}

impl Tags {
    fn holds(&self, tag: &str) -> bool {
        match tag {
            "linux" | "unix" | "gc" => true,
            "cgo" => self.cgo,
            _ if KNOWN_OS.contains(&tag) => false,
            _ if KNOWN_ARCH.contains(&tag) => true,
            // Release tags (go1.N): whichever Go builds this has them.
            _ if tag
                .strip_prefix("go1.")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
            {
                true
            }
            _ => self.extra.iter().any(|t| t == tag),
        }
    }

    /// Whether go/build would compile this file in a Linux build: not a test, not hidden, its
    /// name's `_GOOS`/`_GOARCH` suffix and its build constraints satisfied.
    pub fn includes(&self, file_name: &str, header: &Header) -> bool {
        self.includes_name(file_name) && self.includes_header(header)
    }

    /// The file-name rules alone: decided before reading the file.
    pub fn includes_name(&self, file_name: &str) -> bool {
        let Some(stem) = file_name.strip_suffix(".go") else {
            return false;
        };
        if stem.ends_with("_test") || file_name.starts_with(['_', '.']) {
            return false;
        }
        // go/build's goodOSArchFile: only what follows the first `_` counts.
        let Some(i) = stem.find('_') else {
            return true;
        };
        let parts: Vec<&str> = stem[i..].split('_').collect();
        let n = parts.len();
        if n >= 2 && KNOWN_OS.contains(&parts[n - 2]) && KNOWN_ARCH.contains(&parts[n - 1]) {
            return self.holds(parts[n - 2]) && self.holds(parts[n - 1]);
        }
        if KNOWN_OS.contains(&parts[n - 1]) || KNOWN_ARCH.contains(&parts[n - 1]) {
            return self.holds(parts[n - 1]);
        }
        true
    }

    fn includes_header(&self, header: &Header) -> bool {
        if let Some(expr) = &header.go_build {
            return evaluate(expr, &|t| self.holds(t)).unwrap_or(true);
        }
        header.plus_build.iter().all(|line| {
            // Space-separated options, any of which may hold; each a comma-separated AND.
            line.split_whitespace().any(|option| {
                option.split(',').all(|term| match term.strip_prefix('!') {
                    Some(t) => !self.holds(t),
                    None => self.holds(term),
                })
            })
        })
    }
}

/// Reads the head of a Go file up to its package clause.
pub fn read_header(src: &[u8]) -> Header {
    let mut header = Header::default();
    let mut i = if src.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    while i < src.len() {
        match src[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if src.get(i + 1) == Some(&b'/') => {
                let end = src[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(src.len(), |p| i + p);
                let line = String::from_utf8_lossy(&src[i..end]);
                let line = line.trim_end();
                if let Some(expr) = line.strip_prefix("//go:build") {
                    if header.go_build.is_none()
                        && (expr.is_empty() || expr.starts_with([' ', '\t']))
                    {
                        header.go_build = Some(expr.trim().to_string());
                    }
                } else if let Some(rest) = line.strip_prefix("//").map(str::trim_start) {
                    if let Some(expr) = rest.strip_prefix("+build") {
                        if expr.is_empty() || expr.starts_with([' ', '\t']) {
                            header.plus_build.push(expr.trim().to_string());
                        }
                    }
                }
                i = end;
            }
            b'/' if src.get(i + 1) == Some(&b'*') => match find(&src[i + 2..], b"*/") {
                Some(p) => i += 2 + p + 2,
                None => return header,
            },
            _ => {
                if let Some((name, len)) = package_clause(&src[i..]) {
                    header.package = Some(name);
                    header.imports = imports(&src[i + len..]);
                }
                return header;
            }
        }
    }
    header
}

/// `package <name>` at the start of `src` (comments may separate the two words), and its length.
fn package_clause(src: &[u8]) -> Option<(String, usize)> {
    let rest = src.strip_prefix(b"package")?;
    let mut i = 0;
    let mut separated = false;
    loop {
        match rest.get(i)? {
            b' ' | b'\t' => {
                i += 1;
                separated = true;
            }
            b'/' if rest.get(i + 1) == Some(&b'*') => {
                let p = find(&rest[i + 2..], b"*/")?;
                i += 2 + p + 2;
                separated = true;
            }
            _ => break,
        }
    }
    if !separated {
        return None;
    }
    let name: Vec<u8> = rest[i..]
        .iter()
        .copied()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)
        .collect();
    let len = "package".len() + i + name.len();
    let name = String::from_utf8(name).ok()?;
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some((name, len))
}

/// The import declarations at the start of `src` (what follows the package clause): `import "p"`,
/// `import name "p"`, `import . "p"`, `import _ "p"`, and their parenthesised groups, with
/// comments and semicolons anywhere between. Stops at the first other declaration, or at anything
/// malformed or cut off by the head's end.
fn imports(src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let Some(at) = skip_blank(src, i) else {
            return out;
        };
        let Some(rest) = src[at..].strip_prefix(b"import") else {
            return out;
        };
        if rest.first().is_some_and(|&b| is_ident_byte(b)) {
            return out;
        }
        let Some(at) = skip_blank(src, at + "import".len()) else {
            return out;
        };
        if src.get(at) == Some(&b'(') {
            i = at + 1;
            loop {
                let Some(at) = skip_blank(src, i) else {
                    return out;
                };
                if src.get(at) == Some(&b')') {
                    i = at + 1;
                    break;
                }
                match import_spec(src, at) {
                    Some((path, end)) => {
                        out.extend(path);
                        i = end;
                    }
                    None => return out,
                }
            }
        } else {
            match import_spec(src, at) {
                Some((path, end)) => {
                    out.extend(path);
                    i = end;
                }
                None => return out,
            }
        }
    }
}

/// One import spec at `at`: an optional name (an identifier, `.` or `_`), then the path as a
/// string literal. Returns the path when it is one to keep, and where the spec ends; `None` when
/// it is not a spec.
fn import_spec(src: &[u8], at: usize) -> Option<(Option<String>, usize)> {
    let mut i = at;
    if src.get(i) == Some(&b'.') {
        i += 1;
    } else if src.get(i).is_some_and(|b| !b.is_ascii_digit()) {
        while src.get(i).is_some_and(|&b| is_ident_byte(b)) {
            i += 1;
        }
    }
    if i > at {
        i = skip_blank(src, i)?;
    }
    let (quote, raw) = match src.get(i)? {
        b'"' => (b'"', false),
        b'`' => (b'`', true),
        _ => return None,
    };
    let start = i + 1;
    let mut end = start;
    let mut escaped = false;
    loop {
        let b = *src.get(end)?;
        if b == quote {
            break;
        }
        if b == b'\\' && !raw {
            // An escape in an import path is legal but unheard of: skip the spec, keep going.
            escaped = true;
            end += 1;
        } else if b == b'\n' && !raw {
            return None;
        }
        end += 1;
    }
    let path = std::str::from_utf8(&src[start..end])
        .ok()
        .filter(|p| !escaped && *p != "C" && is_import_path(p))
        .map(str::to_string);
    Some((path, end + 1))
}

/// Where the next token starts after `i`: past spaces, newlines, semicolons and comments; `None`
/// at the end or in an unclosed comment.
fn skip_blank(src: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match *src.get(i)? {
            b' ' | b'\t' | b'\r' | b'\n' | b';' => i += 1,
            b'/' if src.get(i + 1) == Some(&b'/') => {
                i += src[i..].iter().position(|&b| b == b'\n')?;
            }
            b'/' if src.get(i + 1) == Some(&b'*') => i += 2 + find(&src[i + 2..], b"*/")? + 2,
            _ => return Some(i),
        }
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// A path `go build` takes (golang.org/x/mod's CheckImportPath, a little stricter): `/`-separated
/// non-empty elements of letters, digits and `-._~+`, none starting or ending with a dot. This
/// also makes every kept path a plain shell word.
pub fn is_import_path(path: &str) -> bool {
    path.len() <= 512
        && path.split('/').all(|e| {
            !e.is_empty()
                && !e.starts_with('.')
                && !e.ends_with('.')
                && e.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+')
                })
        })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Tag(&'a str),
    Not,
    And,
    Or,
    Open,
    Close,
}

/// Evaluates a `//go:build` expression (`linux && (amd64 || arm64) && !cgo`); `None` when it
/// cannot be parsed.
fn evaluate(expr: &str, holds: &dyn Fn(&str) -> bool) -> Option<bool> {
    let mut tokens = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let t = match bytes[i] {
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'!' => Tok::Not,
            b'(' => Tok::Open,
            b')' => Tok::Close,
            b'&' if bytes.get(i + 1) == Some(&b'&') => {
                i += 1;
                Tok::And
            }
            b'|' if bytes.get(i + 1) == Some(&b'|') => {
                i += 1;
                Tok::Or
            }
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                {
                    i += 1;
                }
                tokens.push(Tok::Tag(&expr[start..i]));
                continue;
            }
            _ => return None,
        };
        tokens.push(t);
        i += 1;
    }
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
        holds,
    };
    let value = p.or(0)?;
    (p.at == tokens.len()).then_some(value)
}

struct Parser<'a, 'b> {
    tokens: &'a [Tok<'b>],
    at: usize,
    holds: &'a dyn Fn(&str) -> bool,
}

impl Parser<'_, '_> {
    fn or(&mut self, depth: usize) -> Option<bool> {
        let mut value = self.and(depth)?;
        while self.tokens.get(self.at) == Some(&Tok::Or) {
            self.at += 1;
            value |= self.and(depth)?;
        }
        Some(value)
    }

    fn and(&mut self, depth: usize) -> Option<bool> {
        let mut value = self.not(depth)?;
        while self.tokens.get(self.at) == Some(&Tok::And) {
            self.at += 1;
            value &= self.not(depth)?;
        }
        Some(value)
    }

    fn not(&mut self, depth: usize) -> Option<bool> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.tokens.get(self.at)? {
            Tok::Not => {
                self.at += 1;
                Some(!self.not(depth + 1)?)
            }
            Tok::Open => {
                self.at += 1;
                let v = self.or(depth + 1)?;
                (self.tokens.get(self.at) == Some(&Tok::Close)).then_some(())?;
                self.at += 1;
                Some(v)
            }
            Tok::Tag(t) => {
                self.at += 1;
                Some((self.holds)(t))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> Tags {
        Tags {
            cgo: false,
            extra: vec!["integration".into()],
        }
    }

    fn package(src: &str) -> Option<String> {
        read_header(src.as_bytes()).package
    }

    #[test]
    fn the_package_clause_after_comments() {
        assert_eq!(package("package main\n"), Some("main".into()));
        assert_eq!(
            package(
                "\u{feff}// Copyright 2024.\n/* licence\n   text */\n\n// Package docs.\npackage   server // trailing\n\nimport \"fmt\"\n"
            ),
            Some("server".into())
        );
        assert_eq!(package("package /* odd */ main"), Some("main".into()));
        assert_eq!(package("package mainly"), Some("mainly".into()));
        assert_eq!(package("packagemain\n"), None);
        assert_eq!(package("package\n"), None);
        assert_eq!(package("package 9x\n"), None);
        assert_eq!(package("import \"x\"\npackage main\n"), None);
        assert_eq!(package("/* never closed\npackage main\n"), None);
        assert_eq!(package(""), None);
        // A head cut inside a comment reads as no clause, not as an error.
        assert_eq!(package(&format!("/*{}", "x".repeat(100))), None);
    }

    fn imports(src: &str) -> Vec<String> {
        read_header(src.as_bytes()).imports
    }

    #[test]
    fn imports_single_grouped_named_dot_and_blank() {
        assert_eq!(
            imports(
                "// Package main.\npackage main\n\nimport \"fmt\"\nimport (\n\t\"net/http\" // the server\n\n\tstr \"strings\"\n\t. \"math\"\n\t_ \"embed\"\n\t/* a\n comment */ \"github.com/google/uuid\"\n)\nimport `os`; import x \"example.com/m/v2/internal/x\"\n\nfunc main() {}\nimport \"after/a/func\"\n"
            ),
            [
                "fmt",
                "net/http",
                "strings",
                "math",
                "embed",
                "github.com/google/uuid",
                "os",
                "example.com/m/v2/internal/x"
            ]
        );
        assert_eq!(
            imports("package p; import(\"a\";\"b\");import \"c\""),
            ["a", "b", "c"]
        );
        assert_eq!(imports("package p\nimport ()\nimport \"a\"\n"), ["a"]);
        assert!(imports("package main\n\nfunc main() {}\n").is_empty());
        // `importer` is an identifier, not the keyword.
        assert!(imports("package p\nvar importer = \"x\"\n").is_empty());
    }

    #[test]
    fn imports_leave_out_cgo_and_what_go_build_refuses() {
        assert_eq!(
            imports(
                "package p\n\n/*\n#include <stdio.h>\n*/\nimport \"C\"\nimport (\n\t\"unsafe\"\n\t\"./relative\"\n\t\"a b\"\n\t\"/abs\"\n\t\"a//b\"\n\t\"a/\\u0062\"\n\t\"x;rm -rf\"\n\t\"$(id)\"\n\t\"ok.example/x_y-z~1+2\"\n)\n"
            ),
            ["unsafe", "ok.example/x_y-z~1+2"]
        );
    }

    #[test]
    fn imports_stop_at_what_is_cut_off_or_malformed() {
        // A head that ends inside the group keeps what came before.
        assert_eq!(imports("package p\nimport (\n\t\"a\"\n\t\"b"), ["a"]);
        assert_eq!(imports("package p\nimport (\n\t\"a\"\n/* cut"), ["a"]);
        assert_eq!(imports("package p\nimport \"a\"\n// cut"), ["a"]);
        assert_eq!(
            imports("package p\nimport (\n\t\"a\n\"\n)\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            imports("package p\nimport (\n\t\"a\"\n\t3\n\t\"b\"\n)"),
            ["a"]
        );
        assert_eq!(imports("package p\nimport x y \"a\""), Vec::<String>::new());
        // No package clause: no imports either.
        assert!(imports("import \"a\"\n").is_empty());
        // Long input: linear, no recursion.
        let many = format!("package p\nimport (\n{})\n", "\t\"a/b\"\n".repeat(50_000));
        assert_eq!(imports(&many).len(), 50_000);
    }

    #[test]
    fn build_constraints_decide_whether_a_file_counts() {
        let included = |src: &str| tags().includes("gen.go", &read_header(src.as_bytes()));
        assert!(!included("//go:build ignore\n\npackage main\n"));
        assert!(!included("// +build ignore\n\npackage main\n"));
        assert!(included(
            "//go:build linux && (amd64 || arm64)\npackage main\n"
        ));
        assert!(!included("//go:build windows\npackage main\n"));
        assert!(included("//go:build !windows && !cgo\npackage main\n"));
        assert!(!included("//go:build cgo\npackage main\n"));
        assert!(included("//go:build integration || tools\npackage main\n"));
        assert!(included("//go:build go1.21\npackage main\n"));
        assert!(included("// +build linux,amd64 darwin\n\npackage main\n"));
        assert!(!included(
            "// +build darwin\n// +build linux\n\npackage main\n"
        ));
        // `//go:build` wins over `// +build`.
        assert!(included(
            "//go:build linux\n// +build ignore\n\npackage main\n"
        ));
        // Unparseable or absurdly nested constraints are left to `go build`.
        assert!(included("//go:build linux &&\npackage main\n"));
        let deep = format!(
            "//go:build {}linux{}\npackage main\n",
            "(".repeat(100),
            ")".repeat(100)
        );
        assert!(included(&deep));
        assert!(!included(&format!(
            "//go:build {}windows\npackage main\n",
            "!!".repeat(10)
        )));
        // Not a constraint: `//go:builder`, and constraints after the clause.
        assert!(included("//go:builder ignore\npackage main\n"));
        assert!(included("package main\n//go:build ignore\n"));
    }

    #[test]
    fn file_names_as_go_build_reads_them() {
        let t = tags();
        for name in [
            "main.go",
            "server_linux.go",
            "x_linux_arm64.go",
            "x_amd64.go",
            "linux.go",
            "a_b.go",
            "windows.go",
        ] {
            assert!(t.includes_name(name), "{name}");
        }
        for name in [
            "main_test.go",
            "_main.go",
            ".main.go",
            "x_windows.go",
            "x_darwin_arm64.go",
            "main.c",
            "x_linux_test.go",
        ] {
            assert!(!t.includes_name(name), "{name}");
        }
    }
}
