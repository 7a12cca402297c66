//! Path patterns with Docker's semantics (moby/patternmatcher, fsutil): used for `.dockerignore`
//! and for the include patterns that select manifests. BuildKit applies these patterns itself when
//! it transfers a local context; we need them only where no daemon does it for us (`strata plan`
//! on a directory, a context given as an LLB input).
//!
//! `*` and `?` do not cross `/`; `**` matches any number of path components; a pattern that matches
//! a directory also matches everything below it; with several patterns, the last match wins and a
//! leading `!` turns a match into a non-match.

/// Cleans a context-relative path like Go's `filepath.Clean` on slash paths, refusing paths that are
/// absolute or climb out of the context.
pub fn clean_relative(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        return Err(format!(
            "`{path}` is absolute; paths are relative to the build context"
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("`{path}` points outside the build context"));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// [`clean_relative`] for a pattern. A `..` after a wildcard is refused rather than cleaned away
/// with it: `**/../x` would become `x`, yet `**` can match no directory at all, so the pattern as
/// written reaches `../x`, outside the context.
pub fn clean_relative_pattern(pattern: &str) -> Result<String, String> {
    let mut after_wildcard = false;
    for part in pattern.split('/') {
        if part == ".." && after_wildcard {
            return Err(format!(
                "`{pattern}` has `..` after a wildcard, so it may point outside the build context"
            ));
        }
        after_wildcard |= has_wildcard(part);
    }
    clean_relative(pattern)
}

/// Whether a path component has an unescaped `*`, `?` or `[`.
fn has_wildcard(part: &str) -> bool {
    let mut chars = part.chars();
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character other than `/`.
    AnyChar,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters, `/` included.
    AnyPath,
    /// `**/`: zero or more whole directories.
    AnyDirs,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    pub negated: bool,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Parses a pattern as written in `.dockerignore` (already trimmed); a leading `!` negates.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let (negated, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let body = body.strip_prefix('/').unwrap_or(body);
        let cleaned = clean_glob(body);
        let tokens = tokenize(&cleaned).map_err(|e| format!("invalid pattern `{text}`: {e}"))?;
        Ok(Pattern {
            text: text.to_string(),
            negated,
            tokens,
        })
    }

    /// Whether the pattern matches exactly this (clean, relative) path.
    pub fn matches(&self, path: &str) -> bool {
        let mut states = States::start(&self.tokens);
        for c in path.chars() {
            if states.is_dead() {
                return false;
            }
            states.step(c);
        }
        states.accepts()
    }

    /// Whether the pattern matches the path or one of its parent directories.
    pub fn matches_or_parent(&self, path: &str) -> bool {
        // One pass: a parent matches when the pattern is complete just before one of the `/`s.
        let mut states = States::start(&self.tokens);
        for c in path.chars() {
            if c == '/' && states.accepts() {
                return true;
            }
            states.step(c);
            if states.is_dead() {
                return false;
            }
        }
        states.accepts()
    }

    /// Whether something below directory `dir` could match (used to prune walks). Conservative:
    /// answers true whenever it cannot rule it out.
    pub fn could_match_below(&self, dir: &str) -> bool {
        let mut states = States::start(&self.tokens);
        for c in dir.chars().chain(['/']) {
            // `dir` itself or one of its parents matches: so does everything below.
            if c == '/' && states.accepts() {
                return true;
            }
            states.step(c);
            if states.is_dead() {
                return false;
            }
        }
        // A partial match is still going after `dir/`: some longer path may complete it.
        true
    }
}

/// An ordered list of patterns where the last matching one decides, as in `.dockerignore`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternSet {
    patterns: Vec<Pattern>,
}

impl PatternSet {
    pub fn new(patterns: &[String]) -> Result<PatternSet, String> {
        let patterns = patterns
            .iter()
            .map(|p| Pattern::parse(p))
            .collect::<Result<_, _>>()?;
        Ok(PatternSet { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn has_negations(&self) -> bool {
        self.patterns.iter().any(|p| p.negated)
    }

    /// Whether the path (or a parent directory of it) is selected by the set.
    pub fn matches(&self, path: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            if p.negated == matched && p.matches_or_parent(path) {
                matched = !p.negated;
            }
        }
        matched
    }

    /// Whether a walk must descend into `dir` to find paths this set selects.
    pub fn could_match_below(&self, dir: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| !p.negated && p.could_match_below(dir))
    }
}

/// Reads a `.dockerignore` file the way Docker does: `#` lines are comments, lines are trimmed,
/// empty lines skipped, a leading `!` kept, paths cleaned and a leading `/` dropped.
pub fn parse_ignore_file(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (bang, body) = match line.strip_prefix('!') {
                Some(rest) => ("!", rest.trim()),
                None => ("", line),
            };
            let body = clean_glob(body);
            let body = body.strip_prefix('/').unwrap_or(&body).to_string();
            format!("{bang}{body}")
        })
        .collect()
}

/// `filepath.Clean` for patterns: collapses `//`, `.` and `dir/..` without refusing anything.
fn clean_glob(p: &str) -> String {
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn tokenize(p: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                if chars.get(i + 2) == Some(&'/') && (i == 0 || chars[i - 1] == '/') {
                    tokens.push(Token::AnyDirs);
                    i += 3;
                } else {
                    tokens.push(Token::AnyPath);
                    i += 2;
                }
            }
            '*' => {
                tokens.push(Token::Star);
                i += 1;
            }
            '?' => {
                tokens.push(Token::AnyChar);
                i += 1;
            }
            '\\' => {
                let c = chars.get(i + 1).ok_or("trailing `\\`")?;
                tokens.push(Token::Literal(*c));
                i += 2;
            }
            '[' => {
                let (token, next) = parse_class(&chars, i + 1)?;
                tokens.push(token);
                i = next;
            }
            c => {
                tokens.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

fn parse_class(chars: &[char], mut i: usize) -> Result<(Token, usize), String> {
    let negated = matches!(chars.get(i), Some('^') | Some('!'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i).ok_or("unclosed `[`")?;
        if c == ']' && !first {
            return Ok((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *chars.get(i).ok_or("unclosed `[`")?
        } else {
            c
        };
        i += 1;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            let hi = chars[i + 1];
            ranges.push((lo, hi));
            i += 2;
        } else {
            ranges.push((lo, lo));
        }
    }
}

fn class_matches(negated: bool, ranges: &[(char, char)], c: char) -> bool {
    c != '/' && (ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != negated)
}

/// The tokens a partial match may be waiting at, as a set. The tokens form an automaton whose only
/// moves without a character go forward (a wildcard matching nothing), so each character is one
/// pass over the set: O(tokens × path) per match, where trying each way a `*` can stop in turn
/// (backtracking) takes exponential time on patterns like `*a*a*a*a*b`.
struct States<'a> {
    tokens: &'a [Token],
    /// `live[i]`: some reading of the characters so far stops before token `i`;
    /// `live[tokens.len()]`: the whole pattern has matched them.
    live: Vec<bool>,
    /// `inside[i]`: token `i` is a `**/` part-way through its directories. Unlike `*`, it cannot stop
    /// there (only right after a `/`), so it needs a state of its own.
    inside: Vec<bool>,
    next_live: Vec<bool>,
    next_inside: Vec<bool>,
}

impl<'a> States<'a> {
    fn start(tokens: &'a [Token]) -> States<'a> {
        let n = tokens.len();
        let mut live = vec![false; n + 1];
        live[0] = true;
        skip_empty_wildcards(tokens, &mut live);
        States {
            tokens,
            live,
            inside: vec![false; n],
            next_live: vec![false; n + 1],
            next_inside: vec![false; n],
        }
    }

    fn step(&mut self, c: char) {
        self.next_live.fill(false);
        self.next_inside.fill(false);
        for (i, token) in self.tokens.iter().enumerate() {
            if self.inside[i] || (self.live[i] && matches!(token, Token::AnyDirs)) {
                self.next_inside[i] = true;
                self.next_live[i + 1] |= c == '/';
            }
            if !self.live[i] {
                continue;
            }
            match token {
                Token::Literal(l) => self.next_live[i + 1] |= *l == c,
                Token::AnyChar => self.next_live[i + 1] |= c != '/',
                Token::Class { negated, ranges } => {
                    self.next_live[i + 1] |= class_matches(*negated, ranges, c);
                }
                // These stay where they are while they consume characters, and can stop anywhere.
                Token::Star => self.next_live[i] |= c != '/',
                Token::AnyPath => self.next_live[i] = true,
                Token::AnyDirs => {}
            }
        }
        skip_empty_wildcards(self.tokens, &mut self.next_live);
        std::mem::swap(&mut self.live, &mut self.next_live);
        std::mem::swap(&mut self.inside, &mut self.next_inside);
    }

    fn accepts(&self) -> bool {
        self.live[self.tokens.len()]
    }

    fn is_dead(&self) -> bool {
        !self.live.contains(&true) && !self.inside.contains(&true)
    }
}

/// Every wildcard may match nothing, so waiting before one is also waiting after it. Those moves
/// only go forward, so one pass in token order reaches them all.
fn skip_empty_wildcards(tokens: &[Token], live: &mut [bool]) {
    for (i, token) in tokens.iter().enumerate() {
        if live[i] && matches!(token, Token::Star | Token::AnyPath | Token::AnyDirs) {
            live[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> PatternSet {
        PatternSet::new(&patterns.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn star_does_not_cross_directories_but_double_star_does() {
        let p = Pattern::parse("*.txt").unwrap();
        assert!(p.matches("a.txt"));
        assert!(!p.matches("d/a.txt"));
        let p = Pattern::parse("**/package.json").unwrap();
        assert!(p.matches("package.json"));
        assert!(p.matches("packages/a/package.json"));
        assert!(!p.matches("packages/a/package.json5"));
        // `**/` stops only after a `/`: what follows matches a whole last component.
        let p = Pattern::parse("**/?").unwrap();
        assert!(p.matches("a/b"));
        assert!(!p.matches("a/ab"));
        let p = Pattern::parse("requirements*.txt").unwrap();
        assert!(p.matches("requirements-dev.txt"));
        assert!(!p.matches("sub/requirements.txt"));
    }

    #[test]
    fn directory_matches_cover_their_contents() {
        let s = set(&["node_modules", "build/"]);
        assert!(s.matches("node_modules/x/index.js"));
        assert!(s.matches("build/out.js"));
        // dockerignore patterns are anchored at the context root, unlike .gitignore.
        assert!(!s.matches("web/node_modules/x.js"));
    }

    #[test]
    fn last_match_wins_and_negation_reincludes() {
        let s = set(&["*.md", "!README.md"]);
        assert!(s.matches("CHANGES.md"));
        assert!(!s.matches("README.md"));
        let s = set(&["!README.md", "*.md"]);
        assert!(s.matches("README.md"));
    }

    #[test]
    fn classes_and_escapes() {
        let p = Pattern::parse("file[0-9].py").unwrap();
        assert!(p.matches("file3.py"));
        assert!(!p.matches("filex.py"));
        let p = Pattern::parse("[!a]*").unwrap();
        assert!(p.matches("b"));
        assert!(!p.matches("abc"));
        let p = Pattern::parse("a\\*b").unwrap();
        assert!(p.matches("a*b"));
        assert!(!p.matches("axb"));
        assert!(Pattern::parse("a[b").is_err());
    }

    #[test]
    fn ignore_file_parsing_follows_docker() {
        let text = "\u{feff}# comment\n  node_modules  \n\n/dist//\n! keep.txt\n./a/../b\n  # not a comment\n";
        assert_eq!(
            parse_ignore_file(text),
            vec!["node_modules", "dist", "!keep.txt", "b", "# not a comment"]
        );
    }

    #[test]
    fn clean_relative_refuses_escapes() {
        assert_eq!(clean_relative("./app/").unwrap(), "app");
        assert_eq!(clean_relative("a/../b").unwrap(), "b");
        assert_eq!(clean_relative(".").unwrap(), ".");
        assert!(clean_relative("../x").is_err());
        assert!(clean_relative("a/../../x").is_err());
        assert!(clean_relative("/etc").is_err());
    }

    #[test]
    fn patterns_refuse_dot_dot_after_a_wildcard() {
        for p in [
            "**/../x",
            "*/../x",
            "src/**/../../x",
            "a/[bc]/../d",
            "**/a/../b",
        ] {
            let e = clean_relative_pattern(p).unwrap_err();
            assert!(e.contains("after a wildcard"), "{p}: {e}");
        }
        assert_eq!(
            clean_relative_pattern("./src/**/*.py").unwrap(),
            "src/**/*.py"
        );
        assert_eq!(clean_relative_pattern("lib/../*.txt").unwrap(), "*.txt");
        // An escaped `*` is a plain name, which `..` can cancel.
        assert_eq!(clean_relative_pattern("a\\*/../b").unwrap(), "b");
        assert!(clean_relative_pattern("../*.txt").is_err());
        assert!(clean_relative_pattern("/x").is_err());
    }

    #[test]
    fn pruning_is_conservative() {
        let s = set(&["packages/*/package.json"]);
        assert!(s.could_match_below("packages"));
        assert!(s.could_match_below("packages/a"));
        assert!(!s.could_match_below("node_modules"));
        assert!(!s.could_match_below("packages/a/src"));
        assert!(set(&["**/package.json"]).could_match_below("deep/er"));
    }

    #[test]
    fn matching_takes_time_proportional_to_pattern_times_path() {
        // Each `*` could stop at any of the 60 `a`s: a backtracking matcher tries them all
        // (minutes), a set-of-states matcher walks the name once (microseconds).
        let evil = "*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let name = "a".repeat(60);
        let dir = format!("{name}/{name}");
        let start = std::time::Instant::now();
        let p = Pattern::parse(evil).unwrap();
        assert!(!p.matches(&name));
        assert!(!p.matches_or_parent(&format!("{dir}/x")));
        assert!(!p.could_match_below(&dir));
        let s = set(&[evil, &format!("**/{evil}"), &format!("!{evil}")]);
        assert!(!s.matches(&format!("{dir}/x")));
        assert!(s.could_match_below(&dir)); // `**/` could still match deeper down
        let p = Pattern::parse(&format!("{evil}/*a*a*a*a*a*a*a*a*a*a*a*a*c")).unwrap();
        assert!(!p.could_match_below(&dir));
        assert!(p.matches(&format!("{name}b/{name}c")));
        // Generous for a debug build on a loaded machine; the point is "not exponential".
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
}
