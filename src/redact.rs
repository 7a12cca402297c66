//! Keeps credentials out of what Strata prints and records. A command can carry a token in a URL
//! (`pip install --index-url https://user:TOKEN@host/simple`, `git+https://TOKEN@host/repo`); the
//! command must run as written, but its progress title, the image history, `strata plan` and error
//! messages show it with the URL's userinfo replaced by `***`.

use std::borrow::Cow;

/// What replaces a URL's userinfo.
pub const REDACTED: &str = "***";

/// `text` with the userinfo of every `scheme://user[:password]@host` URL replaced by `***`;
/// everything else is left as it is. Only URLs with a scheme count: `me@example.com` is an address
/// and `git@github.com:org/repo` carries no secret. Linear in the length of `text`.
pub fn redact_credentials(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    // text[..copied] has been dealt with (pushed to `out`, if `out` is in use).
    let mut copied = 0;
    // Where the next search for "://" starts; also the lowest byte a scheme may start at, so each
    // byte is looked at a bounded number of times.
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let sep = from + found;
        let authority = sep + 3;
        let scheme_len = bytes[from..sep]
            .iter()
            .rev()
            .take_while(|b| is_scheme_byte(**b))
            .count();
        let end = text[authority..]
            .find(ends_authority)
            .map_or(text.len(), |i| authority + i);
        from = end;
        if scheme_len == 0 {
            continue;
        }
        // As URL parsers (Python's urllib, git, curl) do: the userinfo ends at the authority's last `@`.
        let Some(at) = text[authority..end].rfind('@').map(|i| authority + i) else {
            continue;
        };
        if at == authority || &text[authority..at] == REDACTED {
            continue;
        }
        out.push_str(&text[copied..authority]);
        out.push_str(REDACTED);
        copied = at;
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// RFC 3986: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

/// The authority ends at the path, query or fragment, and a URL in a command or message ends at
/// whitespace or at the quote or bracket around it.
fn ends_authority(c: char) -> bool {
    c.is_whitespace() || matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>' | '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact_credentials(s).into_owned()
    }

    #[test]
    fn hides_the_userinfo_of_every_url() {
        assert_eq!(
            r(
                "pip install --index-url https://user:s3cret@pypi.example/simple -r requirements.txt"
            ),
            "pip install --index-url https://***@pypi.example/simple -r requirements.txt"
        );
        assert_eq!(
            r("https://ghp_TOKEN@github.com/org/repo"),
            "https://***@github.com/org/repo"
        );
        assert_eq!(
            r("-e git+https://user:TOKEN@github.com/org/repo.git#egg=x"),
            "-e git+https://***@github.com/org/repo.git#egg=x"
        );
        assert_eq!(
            r("pkg @ git+ssh://git:pw@host.example/org/repo"),
            "pkg @ git+ssh://***@host.example/org/repo"
        );
        assert_eq!(
            r("--extra-index-url=https://u:p@a.example/simple -i 'http://t@b.example:8080'"),
            "--extra-index-url=https://***@a.example/simple -i 'http://***@b.example:8080'"
        );
        // Several on a line, and on several lines.
        assert_eq!(
            r("a https://u:1@x b https://u:2@y\nc https://u:3@z"),
            "a https://***@x b https://***@y\nc https://***@z"
        );
    }

    #[test]
    fn a_password_holding_an_at_sign_is_hidden_whole() {
        assert_eq!(r("https://u:p@ss@host/x"), "https://***@host/x");
    }

    #[test]
    fn leaves_everything_else_untouched() {
        for s in [
            "",
            "pip install -r requirements.txt",
            "mail me@example.com",
            "git@github.com:org/repo.git",
            "https://pypi.org/simple",
            "https://registry.npmjs.org/@babel/core",
            "https://host/path?user=a@b",
            "https://host/#frag@x",
            "://user:pw@host",
            "https://@host",
            "https://***@host",
            "ünïcödé https://høst/ü",
        ] {
            assert!(
                matches!(redact_credentials(s), Cow::Borrowed(_)),
                "{s:?} changed"
            );
        }
    }

    #[test]
    fn is_linear_on_hostile_input() {
        // Many schemes, separators and at-signs: each byte is looked at a bounded number of times.
        let hostile = "a://".repeat(200_000) + &"@".repeat(200_000) + &"b".repeat(200_000);
        let started = std::time::Instant::now();
        let _ = redact_credentials(&hostile);
        let _ = redact_credentials(&"https://u:p@h ".repeat(100_000));
        assert!(started.elapsed().as_secs() < 5);
    }
}
