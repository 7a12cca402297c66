//! Image references, normalised the way Docker does (`python:3.12` →
//! `docker.io/library/python:3.12`), so LLB identifiers and cache keys match the Dockerfile
//! frontend's for the same image.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageRef {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses and normalises a reference; the error says what is wrong with it.
    pub fn parse(input: &str) -> Result<ImageRef, String> {
        if input.is_empty() {
            return Err("an image reference cannot be empty".into());
        }
        if input.chars().any(char::is_whitespace) {
            return Err(format!("`{input}` contains whitespace"));
        }
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(parse_digest(d)?)),
            None => (input, None),
        };
        // A tag follows the last ':' only if that ':' comes after the last '/' (else it is a port).
        let (name, tag) = match name_tag.rfind(':') {
            Some(i) if !name_tag[i..].contains('/') => {
                (&name_tag[..i], Some(name_tag[i + 1..].to_string()))
            }
            _ => (name_tag, None),
        };
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !valid {
                return Err(format!("`{tag}` is not a valid tag in `{input}`"));
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if domain.is_empty()
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(format!(
                "`{domain}` is not a valid registry host in `{input}`"
            ));
        }
        for component in path.split('/') {
            if !valid_path_component(component) {
                return Err(format!(
                    "`{component}` is not a valid repository name component in `{input}` \
                     (use lowercase letters, digits and separators `.`, `_`, `-`)"
                ));
            }
        }
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The reference with `:latest` added when it names neither a tag nor a digest.
    pub fn with_default_tag(mut self) -> ImageRef {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".into());
        }
        self
    }

    /// The short form Docker prints (`python:3.12-slim`, `ghcr.io/org/app:1`): the key of a named
    /// context (`--build-context python:3.12-slim=…`), where a `:latest` tag is left out.
    pub fn familiar(&self) -> String {
        let path = match (self.domain.as_str(), self.path.strip_prefix("library/")) {
            ("docker.io", Some(short)) => short.to_string(),
            ("docker.io", None) => self.path.clone(),
            (domain, _) => format!("{domain}/{}", self.path),
        };
        let mut out = path;
        if let Some(tag) = self.tag.as_deref().filter(|t| *t != "latest") {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// This reference pinned to `digest` (kept alongside the tag, like `name:tag@sha256:…`).
    pub fn pinned(&self, digest: &str) -> ImageRef {
        ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn parse_digest(d: &str) -> Result<String, String> {
    let valid = match d.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        Some((algo, hex)) => {
            !algo.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    };
    if valid {
        Ok(d.to_string())
    } else {
        Err(format!(
            "`{d}` is not a valid digest (expected sha256:<64 hex digits>)"
        ))
    }
}

fn valid_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators: one '.', one or two '_', or any run of '-', always between alphanumerics.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|ch| ch == '-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        ImageRef::parse(s).unwrap().with_default_tag().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(
            norm("python:3.12-slim"),
            "docker.io/library/python:3.12-slim"
        );
        assert_eq!(norm("node"), "docker.io/library/node:latest");
        assert_eq!(norm("local/strata:dev"), "docker.io/local/strata:dev");
        assert_eq!(norm("ghcr.io/a/b"), "ghcr.io/a/b:latest");
        assert_eq!(norm("localhost:5000/x:1"), "localhost:5000/x:1");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            norm(&format!("alpine@{d}")),
            format!("docker.io/library/alpine@{d}")
        );
        assert_eq!(
            ImageRef::parse("python:3.12")
                .unwrap()
                .pinned(&d)
                .to_string(),
            format!("docker.io/library/python:3.12@{d}")
        );
    }

    #[test]
    fn familiar_names_key_named_contexts() {
        let f = |s: &str| ImageRef::parse(s).unwrap().familiar();
        assert_eq!(f("docker.io/library/python:3.12-slim"), "python:3.12-slim");
        assert_eq!(f("node:latest"), "node");
        assert_eq!(f("local/strata-python:test"), "local/strata-python:test");
        assert_eq!(f("ghcr.io/a/b:1"), "ghcr.io/a/b:1");
    }

    #[test]
    fn rejects_bad_references() {
        assert!(ImageRef::parse("Python:3").is_err());
        assert!(ImageRef::parse("python:").is_err());
        assert!(ImageRef::parse("py thon").is_err());
        assert!(ImageRef::parse("python@sha256:abc").is_err());
        assert!(ImageRef::parse("a//b").is_err());
        assert!(ImageRef::parse("-a").is_err());
    }
}
