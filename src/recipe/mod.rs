//! Recipes: one file per ecosystem saying which manifests to stage, how to install from them alone,
//! which caches to mount, and the build and start conventions. `plan` combines a recipe's
//! conventions with the spec into the language-neutral [`Plan`].

mod assemble;
mod node;
mod package_json;
mod python;
mod requirements;
mod version;

pub use assemble::plan;

use std::collections::BTreeMap;

use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{CacheMount, Sharing};
use crate::reference::ImageRef;
use crate::spec::{Command, Language, Spec};

/// What a recipe says about a project, before the spec's overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conventions {
    pub package_manager: &'static str,
    /// The image for the spec's (or detected, or default) version.
    pub default_image: ImageRef,
    /// Include patterns for the manifests-only context transfer.
    pub manifest_patterns: Vec<String>,
    /// The files those patterns select, sorted: what keys the install.
    pub manifests: Vec<String>,
    /// Runs before the manifests are copied, so its layer does not depend on them and survives a
    /// dependency edit (e.g. creating the virtualenv).
    pub prepare: Option<String>,
    pub install: String,
    pub caches: Vec<CacheMount>,
    /// Set in every step and in the image.
    pub env: BTreeMap<String, String>,
    /// Set in the image only.
    pub runtime_env: BTreeMap<String, String>,
    /// Set in install and build steps only.
    pub build_env: BTreeMap<String, String>,
    /// The project's build step, if the recipe found one.
    pub build: Option<String>,
    /// Runs after a build when the recipe's own install was used (e.g. dropping dev dependencies).
    pub after_build: Option<String>,
    pub run: Option<Command>,
    /// Shown when neither the spec nor the convention gives a start command.
    pub run_help: String,
    /// Absolute paths outside the workdir that a separate runtime stage must receive.
    pub artifacts: Vec<String>,
    /// Never copied with the source: host artefacts that would overwrite what the install built.
    pub app_exclude: Vec<String>,
    /// What the user should know but is not an error (e.g. a version file Strata cannot follow).
    pub notes: Vec<String>,
}

pub trait Recipe {
    /// Paths and globs the edge must list in the context before planning.
    fn probe(&self, spec: &Spec) -> Vec<String>;
    /// Which of the listed files the recipe needs to read.
    fn files_to_read(&self, spec: &Spec, listed: &[&str]) -> Vec<String>;
    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics>;
}

pub fn recipe_for(language: Language) -> &'static dyn Recipe {
    match language {
        Language::Python => &python::Python,
        Language::Node => &node::Node,
    }
}

/// The explicit manifests (each must select at least one file), or the recipe's defaults that exist.
/// Returns (include patterns, files).
pub(crate) fn resolve_manifests(
    spec: &Spec,
    ctx: &ContextFiles,
    defaults: &[&str],
) -> Result<(Vec<String>, Vec<String>), Diagnostics> {
    let mut files: Vec<String> = Vec::new();
    let mut patterns = Vec::new();
    match &spec.manifests {
        Some(list) => {
            let mut diags = Vec::new();
            for m in list {
                let found = ctx.matching(&m.value);
                if found.is_empty() {
                    let what = if m.value.contains(['*', '?', '[']) {
                        format!(
                            "manifest pattern `{}` matches no file in the build context",
                            m.value
                        )
                    } else {
                        format!("manifest `{}` does not exist in the build context", m.value)
                    };
                    diags.push(Diagnostic::at(&spec.source, m.span.clone(), what).help(
                        "paths are relative to the build context directory; check the name and that .dockerignore does not exclude it",
                    ));
                }
                patterns.push(m.value.clone());
                files.extend(found.into_iter().map(String::from));
            }
            if !diags.is_empty() {
                return Err(Diagnostics(diags));
            }
        }
        None => {
            for d in defaults {
                let found = ctx.matching(d);
                if !found.is_empty() {
                    patterns.push(d.to_string());
                    files.extend(found.into_iter().map(String::from));
                }
            }
        }
    }
    files.sort();
    files.dedup();
    Ok((patterns, files))
}

/// What a recipe lists in the context before planning.
pub(crate) struct Probe<'a> {
    /// The manifests used when the spec names none (those that exist are staged).
    pub defaults: &'a [&'a str],
    /// Files the recipe needs to see even when the spec lists its own manifests.
    pub always: &'a [&'a str],
    /// Version pins (`.python-version`, `.nvmrc`…).
    pub version_files: &'a [&'a str],
    /// Lockfiles of tools without a recipe yet, with the tool's name: seen, so a refusal can say why.
    pub other_tools: &'a [(&'a str, &'a str)],
    /// Files the start convention looks for; only when the whole context is the app.
    pub start_files: &'a [&'a str],
}

impl Probe<'_> {
    pub fn patterns(&self, spec: &Spec) -> Vec<String> {
        let mut p: Vec<String> = match &spec.manifests {
            Some(list) => list.iter().map(|m| m.value.clone()).collect(),
            None => self.defaults.iter().map(|s| s.to_string()).collect(),
        };
        let mut add = |f: &str| {
            if !p.iter().any(|m| m == f) {
                p.push(f.to_string());
            }
        };
        self.always.iter().for_each(|f| add(f));
        self.version_files.iter().for_each(|f| add(f));
        self.other_tools.iter().for_each(|(f, _)| add(f));
        if spec.app.iter().any(|a| a.value == ".") {
            self.start_files.iter().for_each(|f| add(f));
        }
        p
    }

    /// The first lockfile of an unsupported tool found in the context, and the tool.
    pub fn other_tool(&self, ctx: &ContextFiles) -> Option<(&str, &str)> {
        self.other_tools
            .iter()
            .find(|(f, _)| ctx.exists(f))
            .map(|(f, t)| (*f, *t))
    }
}

/// `<image>:<version>-slim`, the official image for the version; an invalid version is an error at
/// the spec's `version` key.
pub(crate) fn default_image(
    spec: &Spec,
    image: &str,
    version: &str,
) -> Result<ImageRef, Diagnostics> {
    ImageRef::parse(&format!("{image}:{version}-slim")).map_err(|e| {
        let span = spec.version.as_ref().map_or(0..0, |v| v.span.clone());
        Diagnostics::from(Diagnostic::at(
            &spec.source,
            span,
            format!("`version`: {e}"),
        ))
    })
}

/// Quotes a word for `sh -c` when it holds anything but safe characters.
pub(crate) fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '=' | ':' | '@')
        })
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub(crate) fn cache(target: &str, spec: &Spec, name: &str, sharing: Sharing) -> CacheMount {
    CacheMount {
        target: target.to_string(),
        id: format!("{}/{name}", spec.cache_id),
        sharing,
    }
}

#[cfg(test)]
pub(crate) mod tests;
