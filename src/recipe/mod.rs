//! Recipes: one file per ecosystem saying which manifests to stage, how to install from them alone,
//! which caches to mount, and the build and start conventions. `plan` combines a recipe's
//! conventions with the spec into the language-neutral [`Plan`].

mod node;
mod python;

use std::collections::BTreeMap;

use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{
    CacheMount, ContextPurpose, ContextSelection, CopyFrom, CopyStep, ImageSettings, Plan, RunStep,
    Sharing, Stage, StageFrom, StageName, Step,
};
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

/// Reads a version pin from the first line of a file like `.python-version` or `.nvmrc`.
pub(crate) fn version_file(ctx: &ContextFiles, path: &str) -> Option<String> {
    let line = ctx.text(path)?.lines().next()?.trim();
    let v = line.strip_prefix('v').unwrap_or(line);
    let valid = !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.');
    valid.then(|| v.to_string())
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

/// Plans a build: the recipe's conventions, overridden by the spec, laid out as stages.
pub fn plan(spec: &Spec, ctx: &ContextFiles) -> Result<Plan, Diagnostics> {
    let recipe = recipe_for(spec.language.value);
    let conv = recipe.conventions(spec, ctx)?;

    let command = match (&spec.run, &conv.run) {
        (Some(r), _) => r.value.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(Diagnostic::at(
                &spec.source,
                spec.language.span.clone(),
                format!(
                    "no start command: `run` is not set and no {} convention applies",
                    spec.language.value.name()
                ),
            )
            .help(conv.run_help.clone())
            .into());
        }
    };

    let workdir = spec.workdir.clone();
    let base = spec
        .base
        .as_ref()
        .map_or_else(|| conv.default_image.clone(), |b| b.value.clone());
    let separate_runtime = spec
        .runtime
        .as_ref()
        .map(|r| r.value.clone())
        .filter(|r| *r != base);

    let mut build_env = conv.build_env.clone();
    build_env.extend(spec.build_env.clone());

    let mut stages = Vec::new();

    let mut base_steps = Vec::new();
    if !spec.packages.build.is_empty() {
        base_steps.push(system_packages(spec, &spec.packages.build));
    }
    stages.push(Stage {
        name: StageName::Base,
        from: StageFrom::Image(base),
        steps: base_steps,
    });

    let install = spec
        .install
        .as_ref()
        .map_or_else(|| conv.install.clone(), |i| i.value.clone());
    let install_origin = spec
        .install
        .as_ref()
        .map_or_else(|| spec.language.span.clone(), |i| i.span.clone());
    let mut deps_steps = Vec::new();
    if let Some(prepare) = &conv.prepare {
        deps_steps.push(Step::Run(RunStep {
            command: prepare.clone(),
            cwd: "/".into(),
            env: build_env.clone(),
            caches: Vec::new(),
            secrets: Vec::new(),
            ssh_agent: false,
            origin: Some(spec.language.span.clone()),
        }));
    }
    deps_steps.extend([
        Step::Copy(CopyStep {
            from: CopyFrom::Context(ContextSelection {
                include: conv.manifest_patterns.clone(),
                exclude: ctx.ignore.clone(),
                files: conv.manifests.clone(),
                purpose: ContextPurpose::Manifests,
            }),
            dest: workdir.clone(),
        }),
        Step::Run(RunStep {
            command: install,
            cwd: workdir.clone(),
            env: build_env.clone(),
            caches: conv.caches.clone(),
            secrets: spec.secrets.clone(),
            ssh_agent: true,
            origin: Some(install_origin),
        }),
    ]);
    stages.push(Stage {
        name: StageName::Deps,
        from: StageFrom::Stage(StageName::Base),
        steps: deps_steps,
    });

    let app_include: Vec<String> = spec
        .app
        .iter()
        .map(|a| a.value.clone())
        .filter(|a| a != ".")
        .collect();
    let mut app_exclude = ctx.ignore.clone();
    for e in &conv.app_exclude {
        if !app_exclude.contains(e) {
            app_exclude.push(e.clone());
        }
    }
    let mut build_steps = vec![Step::Copy(CopyStep {
        from: CopyFrom::Context(ContextSelection {
            include: app_include,
            exclude: app_exclude,
            files: Vec::new(),
            purpose: ContextPurpose::App,
        }),
        dest: workdir.clone(),
    })];
    let build = match &spec.build {
        Some(b) => Some((b.value.clone(), b.span.clone())),
        None => conv.build.clone().map(|b| (b, spec.language.span.clone())),
    };
    if let Some((command, origin)) = build {
        build_steps.push(Step::Run(RunStep {
            command,
            cwd: workdir.clone(),
            env: build_env.clone(),
            caches: conv.caches.clone(),
            secrets: Vec::new(),
            ssh_agent: true,
            origin: Some(origin.clone()),
        }));
        if let (Some(after), None) = (&conv.after_build, &spec.install) {
            build_steps.push(Step::Run(RunStep {
                command: after.clone(),
                cwd: workdir.clone(),
                env: build_env.clone(),
                caches: conv.caches.clone(),
                secrets: Vec::new(),
                ssh_agent: true,
                origin: Some(origin),
            }));
        }
    }
    stages.push(Stage {
        name: StageName::Build,
        from: StageFrom::Stage(StageName::Deps),
        steps: build_steps,
    });

    let mut runtime_steps = Vec::new();
    let runtime_from = match separate_runtime {
        Some(image) => {
            if !spec.packages.runtime.is_empty() {
                runtime_steps.push(system_packages(spec, &spec.packages.runtime));
            }
            for path in conv.artifacts.iter().chain(std::iter::once(&workdir)) {
                runtime_steps.push(Step::Copy(CopyStep {
                    from: CopyFrom::Stage {
                        stage: StageName::Build,
                        path: path.clone(),
                    },
                    dest: path.clone(),
                }));
            }
            StageFrom::Image(image)
        }
        None => {
            if !spec.packages.runtime.is_empty() {
                runtime_steps.push(system_packages(spec, &spec.packages.runtime));
            }
            StageFrom::Stage(StageName::Build)
        }
    };
    stages.push(Stage {
        name: StageName::Runtime,
        from: runtime_from,
        steps: runtime_steps,
    });

    let mut env = conv.env.clone();
    env.extend(spec.env.clone());
    let runtime_env = conv
        .runtime_env
        .iter()
        .filter(|(k, _)| !spec.env.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    Ok(Plan {
        language: spec.language.value,
        package_manager: conv.package_manager.to_string(),
        manifests: conv.manifests.clone(),
        stages,
        image: ImageSettings {
            workdir,
            env,
            runtime_env,
            user: spec.user.clone(),
            ports: spec.ports.clone(),
            command,
            labels: spec.labels.clone(),
        },
    })
}

/// System packages with apt (cache-mounted, `sharing=locked` as apt requires) or apk.
fn system_packages(spec: &Spec, packages: &[String]) -> Step {
    let list = packages.join(" ");
    let command = format!(
        "if command -v apt-get >/dev/null 2>&1; then \
rm -f /etc/apt/apt.conf.d/docker-clean && apt-get update && \
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {list}; \
elif command -v apk >/dev/null 2>&1; then apk add --no-cache {list}; \
else echo 'strata: packages need apt-get or apk in the image' >&2; exit 1; fi"
    );
    Step::Run(RunStep {
        command,
        cwd: "/".into(),
        env: BTreeMap::new(),
        caches: vec![
            cache("/var/cache/apt", spec, "apt-cache", Sharing::Locked),
            cache("/var/lib/apt/lists", spec, "apt-lists", Sharing::Locked),
        ],
        secrets: Vec::new(),
        ssh_agent: false,
        origin: None,
    })
}

#[cfg(test)]
pub(crate) mod tests;
