//! An independent re-implementation of the path matching BuildKit's file sync applies to `local://`
//! sources (moby/patternmatcher as used by tonistiigi/fsutil), written from their documented and
//! observed behaviour. It is deliberately *not* the frontend's own matcher: tests compare the frontend's
//! output against what a daemon would actually transfer.
//!
//! Semantics: patterns are cleaned like Go's `filepath.Clean` and matched against slash-separated paths
//! relative to the source root; `*` and `?` never match `/`; `**` spans any number of directories; a
//! leading `!` turns a pattern into an exception; later patterns win; a pattern that matches a directory
//! matches everything below it.
//!
//! Known simplifications: a character class `[...]` is parsed with `filepath.Match` rules and may match
//! `/` (as the Go regexp does), but wildcards *inside* a class are taken literally, and an escape such as
//! `\d` means the letter `d` rather than a regexp class.

/// Go's `path.Clean` for slash paths.
pub fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Join` (joins non-empty elements with `/`, then cleans).
pub fn go_join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => go_clean(b),
        (false, true) => go_clean(a),
        (false, false) => go_clean(&format!("{a}/{b}")),
    }
}

/// Go's `path.Dir`.
pub fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => go_clean(&path[..=i]),
        None => ".".into(),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Lit(char),
    /// `*`: any run of characters without `/`.
    Star,
    /// `?`: one character other than `/`.
    Quest,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**` followed by more pattern: the regexp `(.*/)?`.
    DirsOpt,
    /// `**` at the end of a pattern that already had wildcards: the regexp `.*`.
    AnyAll,
}

/// Parses a character class after its `[`, with the rules of Go's `filepath.Match` (which
/// patternmatcher calls to reject malformed patterns). Returns the token and the rest of the input.
fn parse_class(mut rest: &[char]) -> Result<(Token, &[char]), String> {
    let bad = || Err("syntax error in pattern".to_string());
    let mut negated = false;
    if rest.first() == Some(&'^') {
        negated = true;
        rest = &rest[1..];
    }
    let mut ranges = Vec::new();
    loop {
        if rest.first() == Some(&']') && !ranges.is_empty() {
            return Ok((Token::Class { negated, ranges }, &rest[1..]));
        }
        let (lo, r) = class_char(rest)?;
        rest = r;
        let mut hi = lo;
        if rest.first() == Some(&'-') {
            let (h, r) = class_char(&rest[1..])?;
            rest = r;
            hi = h;
            if hi < lo {
                return bad();
            }
        }
        ranges.push((lo, hi));
    }
}

fn class_char(rest: &[char]) -> Result<(char, &[char]), String> {
    match rest {
        [] | ['-', ..] | [']', ..] => Err("syntax error in pattern".into()),
        ['\\'] => Err("syntax error in pattern".into()),
        ['\\', c, r @ ..] => Ok((*c, r)),
        [c, r @ ..] => Ok((*c, r)),
    }
}

/// Whether `toks` match all of `s`, by dynamic programming over (token, position) from the ends
/// backwards: O(tokens × chars), where trying each way a `*` can stop in turn is exponential on
/// patterns like `*a*a*a*a*b`.
fn match_tokens(toks: &[Token], s: &[char]) -> bool {
    // `after[j]`: the tokens after the current one match `s[j..]`; starts as "no tokens left".
    let mut after: Vec<bool> = (0..=s.len()).map(|j| j == s.len()).collect();
    for tok in toks.iter().rev() {
        // `here[j]`: this token and the ones after it match `s[j..]`.
        let mut here = vec![false; s.len() + 1];
        // For `DirsOpt`: some k > j with `s[k-1] == '/'` has `after[k]`.
        let mut dirs_then_rest = false;
        for j in (0..=s.len()).rev() {
            let c = s.get(j);
            here[j] = match tok {
                Token::Lit(l) => c == Some(l) && after[j + 1],
                Token::Quest => c.is_some_and(|c| *c != '/') && after[j + 1],
                Token::Class { negated, ranges } => {
                    c.is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                        && after[j + 1]
                }
                Token::Star => after[j] || (c.is_some_and(|c| *c != '/') && here[j + 1]),
                Token::DirsOpt => {
                    dirs_then_rest |= c == Some(&'/') && after[j + 1];
                    after[j] || dirs_then_rest
                }
                Token::AnyAll => after[j] || (c.is_some() && here[j + 1]),
            };
        }
        after = here;
    }
    after[0]
}

/// Go's `filepath.Match(pattern, name)` (only used on single path elements here).
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut rest = chars.as_slice();
    while let Some((c, r)) = rest.split_first() {
        rest = r;
        match c {
            '*' => toks.push(Token::Star),
            '?' => toks.push(Token::Quest),
            '[' => {
                let (t, r) = parse_class(rest)?;
                toks.push(t);
                rest = r;
            }
            '\\' => match rest.split_first() {
                Some((e, r)) => {
                    toks.push(Token::Lit(*e));
                    rest = r;
                }
                None => return Err("syntax error in pattern".into()),
            },
            c => toks.push(Token::Lit(*c)),
        }
    }
    let name: Vec<char> = name.chars().collect();
    Ok(match_tokens(&toks, &name))
}

#[derive(Clone, Debug)]
enum MatchKind {
    Exact,
    /// Pattern ends in `**` and had no wildcard before it: plain prefix test.
    Prefix(String),
    /// Pattern starts with `**` and has no later wildcard: suffix test.
    Suffix(String),
    Tokens(Vec<Token>),
}

/// One cleaned pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub exclusion: bool,
    pub cleaned: String,
    kind: MatchKind,
}

impl Pattern {
    fn compile(raw: &str) -> Result<Option<Pattern>, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        // Cleaning happens before the `!` is looked at, exactly like patternmatcher.New.
        let mut p = go_clean(trimmed);
        let mut exclusion = false;
        if let Some(rest) = p.strip_prefix('!') {
            if rest.is_empty() {
                return Err("illegal exclusion pattern: \"!\"".into());
            }
            exclusion = true;
            p = rest.to_string();
        }
        glob_match(&p, ".")?;

        #[derive(PartialEq)]
        enum Detected {
            Exact,
            Prefix,
            Suffix,
            Regexp,
        }
        let chars: Vec<char> = p.chars().collect();
        let mut toks = Vec::new();
        let mut detected = Detected::Exact;
        let mut rest = chars.as_slice();
        let mut i = 0;
        while let Some((c, r)) = rest.split_first() {
            rest = r;
            match c {
                '*' if rest.first() == Some(&'*') => {
                    rest = &rest[1..];
                    if rest.first() == Some(&'/') {
                        rest = &rest[1..];
                    }
                    if rest.is_empty() {
                        if detected == Detected::Exact {
                            detected = Detected::Prefix;
                        } else {
                            toks.push(Token::AnyAll);
                            detected = Detected::Regexp;
                        }
                    } else {
                        toks.push(Token::DirsOpt);
                        detected = Detected::Regexp;
                    }
                    if i == 0 {
                        detected = Detected::Suffix;
                    }
                }
                '*' => {
                    toks.push(Token::Star);
                    detected = Detected::Regexp;
                }
                '?' => {
                    toks.push(Token::Quest);
                    detected = Detected::Regexp;
                }
                '\\' => match rest.split_first() {
                    Some((e, r)) => {
                        toks.push(Token::Lit(*e));
                        rest = r;
                        detected = Detected::Regexp;
                    }
                    None => toks.push(Token::Lit('\\')),
                },
                '[' => {
                    let (t, r) = parse_class(rest)?;
                    toks.push(t);
                    rest = r;
                    detected = Detected::Regexp;
                }
                ']' => {
                    toks.push(Token::Lit(']'));
                    detected = Detected::Regexp;
                }
                c => toks.push(Token::Lit(*c)),
            }
            i += 1;
        }
        let kind = match detected {
            Detected::Exact => MatchKind::Exact,
            Detected::Prefix => MatchKind::Prefix(p[..p.len() - 2].to_string()),
            Detected::Suffix => MatchKind::Suffix(p[2..].to_string()),
            Detected::Regexp => MatchKind::Tokens(toks),
        };
        Ok(Some(Pattern {
            exclusion,
            cleaned: p,
            kind,
        }))
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.cleaned,
            MatchKind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            MatchKind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|s| s == path)
            }
            MatchKind::Tokens(toks) => {
                let chars: Vec<char> = path.chars().collect();
                match_tokens(toks, &chars)
            }
        }
    }

    /// The pattern without a trailing `/**` and then `/*` (fsutil's `patternWithoutTrailingGlob`), used
    /// for the "could anything below this directory match" shortcut.
    pub fn without_trailing_glob(&self) -> &str {
        let p = self.cleaned.as_str();
        let p = p.strip_suffix("/**").unwrap_or(p);
        p.strip_suffix("/*").unwrap_or(p)
    }
}

/// Per-pattern "did this pattern match the parent directory" results, carried down a walk.
#[derive(Clone, Debug, Default)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// A compiled pattern list (patternmatcher.PatternMatcher).
#[derive(Clone, Debug)]
pub struct PatternMatcher {
    pub patterns: Vec<Pattern>,
}

impl PatternMatcher {
    /// Compiles a pattern list; errors are those patternmatcher.New would give.
    pub fn new<S: AsRef<str>>(raw: &[S]) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for r in raw {
            if let Some(p) = Pattern::compile(r.as_ref())? {
                patterns.push(p);
            }
        }
        Ok(PatternMatcher { patterns })
    }

    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// `MatchesOrParentMatches`: whether `path` (relative, slash separated) is matched, counting a
    /// match on any of its parent directories.
    pub fn matches(&self, path: &str) -> bool {
        self.matches_using_parent(path, &MatchInfo::default()).0
    }

    /// `MatchesUsingParentResults`: like [`matches`](Self::matches) but reuses the parent directory's
    /// results, as the fsutil walker does.
    pub fn matches_using_parent(&self, path: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let have_parent = !parent.parent_matched.is_empty();
        let mut matched = false;
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut m = have_parent && parent.parent_matched.get(i).copied().unwrap_or(false);
            if !m {
                // An inclusion cannot change an already matched path, nor an exclusion an unmatched one.
                if pattern.exclusion != matched {
                    continue;
                }
                m = pattern.matches(path);
                if !m && !have_parent {
                    let parent_path = go_dir(path);
                    if parent_path != "." {
                        let dirs: Vec<&str> = parent_path.split('/').collect();
                        m = (1..=dirs.len()).any(|n| pattern.matches(&dirs[..n].join("/")));
                    }
                }
            }
            info.parent_matched[i] = m;
            if m {
                matched = !pattern.exclusion;
            }
        }
        (matched, info)
    }
}
