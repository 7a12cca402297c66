//! Target platforms (`linux/amd64`, `linux/arm/v7`…), parsed and normalised like containerd does,
//! so the IDs we emit match what BuildKit and Docker expect.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn linux_amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    /// Parses `os/arch[/variant]` (or a bare `arch`, meaning linux) and normalises aliases.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [arch] if !arch.is_empty() => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => {
                return Err(format!(
                    "`{s}` is not a platform; expected os/arch[/variant], e.g. linux/amd64"
                ));
            }
        };
        let os = os.to_ascii_lowercase();
        if os.is_empty() || !os.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("`{s}` has an invalid os `{os}`"));
        }
        if os == "macos" {
            return Err(format!("`{s}`: use `darwin` for macOS"));
        }
        let arch = arch.to_ascii_lowercase();
        let variant = variant
            .map(str::to_ascii_lowercase)
            .filter(|v| !v.is_empty());
        let (arch, variant) = normalize_arch(&arch, variant);
        if arch.is_empty() || !arch.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{s}` has an invalid architecture"));
        }
        Ok(Platform {
            os,
            architecture: arch,
            variant,
        })
    }
}

fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    match (arch, variant.as_deref()) {
        ("i386", _) => ("386".into(), None),
        ("x86_64" | "x86-64" | "amd64", Some("v1")) => ("amd64".into(), None),
        ("x86_64" | "x86-64", _) => ("amd64".into(), variant),
        ("aarch64" | "arm64", Some("8" | "v8") | None) => ("arm64".into(), None),
        ("aarch64", _) => ("arm64".into(), variant),
        ("armhf", _) => ("arm".into(), Some("v7".into())),
        ("armel", _) => ("arm".into(), Some("v6".into())),
        ("arm", None | Some("7")) => ("arm".into(), Some("v7".into())),
        ("arm", Some("5" | "6" | "8")) => ("arm".into(), variant.map(|v| format!("v{v}"))),
        _ => (arch.to_string(), variant),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_containerd() {
        let p = |s| Platform::parse(s).unwrap().to_string();
        assert_eq!(p("linux/amd64"), "linux/amd64");
        assert_eq!(p("amd64"), "linux/amd64");
        assert_eq!(p("linux/x86_64"), "linux/amd64");
        assert_eq!(p("linux/arm64/v8"), "linux/arm64");
        assert_eq!(p("linux/aarch64"), "linux/arm64");
        assert_eq!(p("linux/arm"), "linux/arm/v7");
        assert_eq!(p("Linux/AMD64"), "linux/amd64");
    }

    #[test]
    fn rejects_garbage() {
        assert!(Platform::parse("").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
        assert!(Platform::parse("linux/").is_err());
        assert!(Platform::parse("macos/arm64").is_err());
    }
}
