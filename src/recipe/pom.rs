//! A reader of Maven's `pom.xml` for the few elements the Java recipe needs: one linear pass over
//! the text (no recursion, no entity expansion beyond XML's five), keeping the text of leaf
//! elements with their paths and spans. Anything it cannot follow is a located error, never a
//! panic.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diag::{Diagnostic, SourceText};

/// One leaf element's text, e.g. `project/modules/module` = `api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Element names from the root, joined by `/`.
    pub path: String,
    pub text: String,
    /// The text's span in the file (the element's position when it is empty).
    pub span: Range<usize>,
}

/// What the recipe reads of a pom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pom {
    pub artifact_id: Option<String>,
    /// The project's version, else its parent's.
    pub version: Option<String>,
    /// `<parent>`: its artifactId and version (`spring-boot-starter-parent`, `3.3.5`).
    pub parent: Option<(String, String)>,
    /// `jar` when the pom says nothing.
    pub packaging: String,
    pub final_name: Option<String>,
    /// `<modules><module>`, as written, with their spans.
    pub modules: Vec<(String, Range<usize>)>,
    /// `<properties>`.
    pub properties: BTreeMap<String, String>,
    /// The artifactIds of `<build><plugins>` (not `pluginManagement`, which applies nothing).
    pub plugins: Vec<String>,
    /// A `<mainClass>` somewhere in the build's plugin configuration.
    pub main_class: Option<String>,
}

impl Pom {
    pub fn has_plugin(&self, artifact_id: &str) -> bool {
        self.plugins.iter().any(|p| p == artifact_id)
    }

    /// A property's value with `${…}` references to other properties (and to the project's
    /// artifactId and version) replaced, one level at a time, up to a few levels; `None` when
    /// something is left unresolved.
    pub fn resolve(&self, text: &str, parent: Option<&Pom>) -> Option<String> {
        let mut value = text.trim().to_string();
        for _ in 0..4 {
            let Some(start) = value.find("${") else {
                return Some(value);
            };
            let end = start + value[start..].find('}')?;
            let name = &value[start + 2..end];
            let replacement = match name {
                "project.artifactId" | "artifactId" | "pom.artifactId" => self.artifact_id.clone(),
                "project.version" | "version" | "pom.version" => self.version.clone(),
                _ => self
                    .properties
                    .get(name)
                    .or_else(|| parent.and_then(|p| p.properties.get(name)))
                    .cloned(),
            }?;
            value.replace_range(start..=end, replacement.trim());
        }
        (!value.contains("${")).then_some(value)
    }
}

/// Reads a pom. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Pom, Diagnostic> {
    let leaves = leaves(text).map_err(|(offset, message)| {
        Diagnostic::at(&SourceText::new(file, text), offset..offset, message)
            .help("Maven could not read this pom.xml either: fix the XML")
    })?;
    let mut pom = Pom {
        packaging: "jar".into(),
        ..Pom::default()
    };
    let mut parent_version = None;
    let mut parent_artifact = None;
    for leaf in leaves {
        let path = leaf.path.as_str();
        match path {
            "project/artifactId" => pom.artifact_id = Some(leaf.text.trim().to_string()),
            "project/version" => pom.version = Some(leaf.text.trim().to_string()),
            "project/parent/version" => parent_version = Some(leaf.text.trim().to_string()),
            "project/parent/artifactId" => parent_artifact = Some(leaf.text.trim().to_string()),
            "project/packaging" => pom.packaging = leaf.text.trim().to_string(),
            "project/build/finalName" => pom.final_name = Some(leaf.text.trim().to_string()),
            "project/modules/module" => {
                let trimmed = leaf.text.trim();
                let lead = leaf.text.len() - leaf.text.trim_start().len();
                let start = leaf.span.start + lead;
                pom.modules
                    .push((trimmed.to_string(), start..start + trimmed.len()));
            }
            "project/build/plugins/plugin/artifactId" => {
                pom.plugins.push(leaf.text.trim().to_string())
            }
            _ => {
                if let Some(name) = path.strip_prefix("project/properties/") {
                    if !name.contains('/') {
                        pom.properties
                            .insert(name.to_string(), leaf.text.trim().to_string());
                    }
                } else if path.starts_with("project/build/plugins/")
                    && path.ends_with("/mainClass")
                    && pom.main_class.is_none()
                {
                    pom.main_class = Some(leaf.text.trim().to_string());
                }
            }
        }
    }
    if let (Some(a), Some(v)) = (&parent_artifact, &parent_version) {
        pom.parent = Some((a.clone(), v.clone()));
    }
    if pom.version.is_none() {
        pom.version = parent_version;
    }
    Ok(pom)
}

/// Every leaf element's text, in document order; an error is (offset, message).
pub fn leaves(text: &str) -> Result<Vec<Leaf>, (usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    // Open elements: name, where their content starts, whether a child element was seen.
    let mut stack: Vec<(String, usize, bool)> = Vec::new();
    let mut content = String::new();
    let mut i = 0;
    let find = |from: usize, what: &str| text[from..].find(what).map(|n| from + n);
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let next = find(i, "<").unwrap_or(bytes.len());
            if !stack.is_empty() {
                content.push_str(&unescape(&text[i..next]));
            } else if !text[i..next].trim().is_empty() {
                return Err((i, "text outside the root element".into()));
            }
            i = next;
            continue;
        }
        let rest = &text[i..];
        if rest.starts_with("<!--") {
            i = find(i + 4, "-->").ok_or((i, "a comment is never closed".to_string()))? + 3;
        } else if rest.starts_with("<![CDATA[") {
            let end =
                find(i + 9, "]]>").ok_or((i, "a CDATA section is never closed".to_string()))?;
            content.push_str(&text[i + 9..end]);
            i = end + 3;
        } else if rest.starts_with("<?") {
            i = find(i + 2, "?>")
                .ok_or((i, "a processing instruction is never closed".to_string()))?
                + 2;
        } else if rest.starts_with("<!") {
            i = find(i + 2, ">").ok_or((i, "a declaration is never closed".to_string()))? + 1;
        } else if rest.starts_with("</") {
            let end = find(i, ">").ok_or((i, "a closing tag is never ended".to_string()))?;
            let name = text[i + 2..end].trim();
            let Some((open, start, has_children)) = stack.pop() else {
                return Err((i, format!("`</{name}>` closes no element")));
            };
            if open != name {
                return Err((i, format!("`</{name}>` closes `<{open}>`")));
            }
            if !has_children {
                let mut path: Vec<&str> = stack.iter().map(|(n, _, _)| n.as_str()).collect();
                path.push(&open);
                out.push(Leaf {
                    path: path.join("/"),
                    text: std::mem::take(&mut content),
                    span: start..i,
                });
            }
            content.clear();
            i = end + 1;
        } else {
            let end = tag_end(text, i).ok_or((i, "a tag is never ended".to_string()))?;
            let inner = &text[i + 1..end];
            let self_closing = inner.ends_with('/');
            let inner = inner.trim_end_matches('/');
            let name = inner
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default();
            if name.is_empty() {
                return Err((i, "a tag without a name".into()));
            }
            // Namespace prefixes (`<pom:project>`) name the same elements.
            let name = name.rsplit(':').next().unwrap_or(name).to_string();
            if let Some(parent) = stack.last_mut() {
                parent.2 = true;
            }
            content.clear();
            if self_closing {
                let mut path: Vec<&str> = stack.iter().map(|(n, _, _)| n.as_str()).collect();
                path.push(&name);
                out.push(Leaf {
                    path: path.join("/"),
                    text: String::new(),
                    span: i..i,
                });
            } else {
                stack.push((name, end + 1, false));
            }
            i = end + 1;
        }
    }
    if let Some((name, start, _)) = stack.last() {
        return Err((*start, format!("`<{name}>` is never closed")));
    }
    Ok(out)
}

/// The `>` that ends the tag starting at `start`, skipping quoted attribute values.
fn tag_end(text: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (n, c) in text[start..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(start + n),
            (None, '<') if n > 0 => return None,
            _ => {}
        }
    }
    None
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_recipe_needs() {
        let text = r#"<?xml version="1.0"?>
<!-- a comment with <tags> -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent><groupId>g</groupId><artifactId>p</artifactId><version>1.2</version></parent>
  <artifactId>app</artifactId>
  <packaging>pom</packaging>
  <modules>
    <module> api </module>
    <module>cli</module>
  </modules>
  <properties>
    <java.version>17</java.version>
    <maven.compiler.release>${java.version}</maven.compiler.release>
  </properties>
  <build>
    <finalName>${project.artifactId}-x</finalName>
    <pluginManagement><plugins><plugin><artifactId>managed</artifactId></plugin></plugins></pluginManagement>
    <plugins>
      <plugin>
        <artifactId>spring-boot-maven-plugin</artifactId>
        <configuration><mainClass>a.B</mainClass><empty/></configuration>
      </plugin>
    </plugins>
  </build>
</project>
"#;
        let pom = parse("pom.xml", text).unwrap();
        assert_eq!(pom.artifact_id.as_deref(), Some("app"));
        assert_eq!(pom.version.as_deref(), Some("1.2"), "the parent's");
        assert_eq!(pom.packaging, "pom");
        let modules: Vec<&str> = pom.modules.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(modules, ["api", "cli"]);
        assert_eq!(&text[pom.modules[0].1.clone()], "api");
        assert_eq!(pom.plugins, ["spring-boot-maven-plugin"]);
        assert!(pom.has_plugin("spring-boot-maven-plugin") && !pom.has_plugin("managed"));
        assert_eq!(pom.main_class.as_deref(), Some("a.B"));
        assert_eq!(
            pom.resolve(pom.properties["maven.compiler.release"].as_str(), None)
                .as_deref(),
            Some("17")
        );
        assert_eq!(
            pom.resolve(pom.final_name.as_deref().unwrap(), None)
                .as_deref(),
            Some("app-x")
        );
        assert_eq!(pom.resolve("${nope}", None), None);
    }

    #[test]
    fn broken_xml_is_a_located_error() {
        let err = |text: &str| parse("pom.xml", text).unwrap_err().to_string();
        assert_eq!(
            err("<project>\n  <modules>\n  </module>\n</project>\n"),
            "pom.xml:3:3: `</module>` closes `<modules>` (Maven could not read this pom.xml either: fix the XML)"
        );
        assert!(
            err("<project>\n<!-- open\n").starts_with("pom.xml:2:1: a comment is never closed")
        );
        assert!(err("<project>\n  <a>").starts_with("pom.xml:2:6: `<a>` is never closed"));
        assert!(err("<project attr=\"x>").starts_with("pom.xml:1:1: a tag is never ended"));
        // Never a panic, whatever the bytes.
        for text in [
            "<",
            "</",
            "<>",
            "<a",
            "&",
            "<a></b>",
            "<!",
            "<![CDATA[",
            "é<é>",
        ] {
            let _ = parse("pom.xml", text);
        }
    }
}
