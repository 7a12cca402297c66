//! Python: the dependencies are installed into a virtualenv at /opt/venv (outside the workdir, so
//! the source copy can never clobber it) by the project's own package manager, chosen from its
//! lockfile: pip (requirements files), uv, Poetry, Pipenv or PDM, one file each. This file detects
//! the tool, reads the manifests the choice needs, and adds what every tool shares: the
//! virtualenv, the environment, the image version, the start command, the runtime image and the
//! errors about a project the install cannot see whole.
//!
//! Each tool's file is a pure function from a [`Project`] (the spec, the context, what was read)
//! to its [`ToolPart`]: its manifests, its own installation (a setup step keyed only on its
//! version), its dependency steps, caches and environment, and what runs after the source copy
//! and after a build.

mod pdm;
mod pip;
mod pipenv;
mod poetry;
mod pyproject;
mod uv;

use std::ops::Range;

use pyproject::{PathDep, Pipfile, Pyproject, read_pipfile, read_pyproject};

use super::{Artefact, Conventions, DepStep, Recipe, Runtime, Setup, default_image, env_list};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, SourceText, closest};
use crate::plan::{CacheMount, EnvList};
use crate::spec::{Command, Located, OptionValue, Spec};

pub struct Python;

const DEFAULT_VERSION: &str = "3.12";
const VENV: &str = "/opt/venv";
const START_FILES: &[&str] = &["main.py", "app.py"];
const VERSION_FILES: &[&str] = &[".python-version"];
const PROCFILE: &str = "Procfile";
/// Every file that can choose the tool: listed whatever the spec's `manifests` say.
const DETECTION_FILES: &[&str] = &[
    "requirements.txt",
    "pyproject.toml",
    "uv.lock",
    "poetry.lock",
    "Pipfile",
    "Pipfile.lock",
    "pdm.lock",
];

/// A Python package manager Strata installs dependencies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tool {
    Pip,
    Uv,
    Poetry,
    Pipenv,
    Pdm,
}

impl Tool {
    const ALL: [Tool; 5] = [Tool::Pip, Tool::Uv, Tool::Poetry, Tool::Pipenv, Tool::Pdm];
    /// The tools with a lockfile of their own, in the order their lockfiles choose them.
    const LOCKING: [Tool; 4] = [Tool::Uv, Tool::Poetry, Tool::Pdm, Tool::Pipenv];

    pub(super) fn name(self) -> &'static str {
        match self {
            Tool::Pip => "pip",
            Tool::Uv => "uv",
            Tool::Poetry => "poetry",
            Tool::Pipenv => "pipenv",
            Tool::Pdm => "pdm",
        }
    }

    fn lockfile(self) -> Option<&'static str> {
        match self {
            Tool::Pip => None,
            Tool::Uv => Some("uv.lock"),
            Tool::Poetry => Some("poetry.lock"),
            Tool::Pipenv => Some("Pipfile.lock"),
            Tool::Pdm => Some("pdm.lock"),
        }
    }

    /// The file the lockfile is made from.
    fn manifest(self) -> &'static str {
        match self {
            Tool::Pip => "requirements.txt",
            Tool::Pipenv => "Pipfile",
            _ => "pyproject.toml",
        }
    }

    fn lock_command(self) -> &'static str {
        match self {
            Tool::Pip => "pip freeze > requirements.txt",
            Tool::Uv => "uv lock",
            Tool::Poetry => "poetry lock",
            Tool::Pipenv => "pipenv lock",
            Tool::Pdm => "pdm lock",
        }
    }

    /// The version Strata installs, pinned so a rebuild installs the same tool; `[python]`
    /// overrides it. pip comes with the virtualenv.
    fn pinned_version(self) -> Option<&'static str> {
        match self {
            Tool::Pip => None,
            Tool::Uv => Some(uv::VERSION),
            Tool::Poetry => Some(poetry::VERSION),
            Tool::Pipenv => Some(pipenv::VERSION),
            Tool::Pdm => Some(pdm::VERSION),
        }
    }

    fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// What a tool's conventions are made from.
pub(super) struct Project<'a> {
    pub spec: &'a Spec,
    pub ctx: &'a ContextFiles,
    /// The root pyproject.toml, when the tool reads it.
    pub pyproject: Option<&'a Pyproject>,
    pub pipfile: Option<&'a Pipfile>,
    /// The tool's version: Strata's pin or the spec's `[python]` value.
    pub tool_version: String,
    /// A build step runs after the source copy: dev dependencies are installed for it, and
    /// removed after it.
    pub has_build: bool,
}

impl Project<'_> {
    /// Where a problem with the staged files points: the spec's first `manifests` entry, or
    /// `language` when the defaults are used.
    pub fn manifests_span(&self) -> Range<usize> {
        self.spec
            .manifests
            .as_ref()
            .and_then(|m| m.first())
            .map_or_else(|| self.spec.language.span.clone(), |m| m.span.clone())
    }
}

/// A tool's share of the conventions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ToolPart {
    pub package_manager: String,
    pub manifest_patterns: Vec<String>,
    pub manifests: Vec<String>,
    /// Installing the tool itself, after the virtualenv: keyed only on its version.
    pub setup: Vec<Setup>,
    pub deps: Vec<DepStep>,
    pub caches: Vec<CacheMount>,
    pub build_env: EnvList,
    pub after_source: Vec<String>,
    pub after_build: Option<String>,
    pub app_exclude: Vec<String>,
    pub notes: Vec<String>,
}

impl Recipe for Python {
    fn language(&self) -> &'static str {
        "python"
    }

    fn probe(&self, spec: &Spec, found: &ContextFiles) -> Vec<String> {
        let mut p: Vec<String> = match &spec.manifests {
            Some(list) => list.iter().map(|m| m.value.clone()).collect(),
            None => default_manifests(),
        };
        let mut add = |f: String| {
            if !p.contains(&f) {
                p.push(f);
            }
        };
        DETECTION_FILES.iter().for_each(|f| add(f.to_string()));
        VERSION_FILES.iter().for_each(|f| add(f.to_string()));
        add(PROCFILE.to_string());
        if spec.app.iter().any(|a| a.value == ".") {
            START_FILES.iter().for_each(|f| add(f.to_string()));
        }
        // The next round: the manifests of uv workspace members and local path dependencies, so
        // the recipe can tell whether they are staged.
        if let Some(Ok(pyproject)) = found
            .text("pyproject.toml")
            .map(|t| read_pyproject("pyproject.toml", t))
        {
            for m in &pyproject.workspace_members {
                add(format!("{}/pyproject.toml", m.value.trim_end_matches('/')));
            }
            for d in &pyproject.path_deps {
                if let Some(path) = d.path.as_ref().filter(|p| *p != ".") {
                    add(format!("{path}/pyproject.toml"));
                    add(format!("{path}/setup.py"));
                }
            }
        }
        p
    }

    fn files_to_read(&self, spec: &Spec, listed: &[&str]) -> Vec<String> {
        listed
            .iter()
            .filter(|f| {
                f.ends_with(".txt")
                    || VERSION_FILES.contains(f)
                    || matches!(**f, "pyproject.toml" | "Pipfile" | PROCFILE)
                    // Only to know which dev packages to remove after a build.
                    || (**f == "Pipfile.lock" && spec.build.is_some())
            })
            .map(|f| f.to_string())
            .collect()
    }

    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics> {
        let versions = tool_versions(spec)?;
        let (tool, mut notes) = detect(spec, ctx)?;
        let pyproject = match (tool, ctx.text("pyproject.toml")) {
            (Tool::Uv | Tool::Poetry | Tool::Pdm, Some(text)) => {
                Some(read_pyproject("pyproject.toml", text)?)
            }
            _ => None,
        };
        let pipfile = match (tool, ctx.text("Pipfile")) {
            (Tool::Pipenv, Some(text)) => Some(read_pipfile("Pipfile", text)?),
            _ => None,
        };
        let tool_version = versions
            .iter()
            .find(|(t, _)| *t == tool)
            .map(|(_, v)| v.value.clone())
            .or_else(|| tool.pinned_version().map(String::from))
            .unwrap_or_default();
        for (t, v) in &versions {
            if *t != tool {
                notes.push(format!(
                    "`python.{}` ({}) is not used: this project installs with {}",
                    t.name(),
                    v.value,
                    tool.name()
                ));
            }
        }
        let project = Project {
            spec,
            ctx,
            pyproject: pyproject.as_ref(),
            pipfile: pipfile.as_ref(),
            tool_version,
            has_build: spec.build.is_some(),
        };
        let part = match tool {
            Tool::Pip => pip::part(&project)?,
            Tool::Uv => uv::part(&project)?,
            Tool::Poetry => poetry::part(&project)?,
            Tool::Pipenv => pipenv::part(&project)?,
            Tool::Pdm => pdm::part(&project)?,
        };

        let (version, version_notes) = super::version::choose(
            spec,
            ctx,
            VERSION_FILES,
            DEFAULT_VERSION,
            super::version::python_pin,
        );
        notes.extend(version_notes);
        notes.extend(part.notes);
        let default_image = default_image(spec, "python", &version)?;
        let (run, run_notes) = start_command(spec, ctx);
        notes.extend(run_notes);

        let mut setup: Vec<Setup> = vec![make_venv(VENV).into()];
        setup.extend(part.setup);
        let mut build_env = env_list(&[
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            ("PIP_ROOT_USER_ACTION", "ignore"),
        ]);
        build_env.extend(part.build_env);
        let mut app_exclude = vec![".venv".to_string()];
        for e in part.app_exclude {
            if !app_exclude.contains(&e) {
                app_exclude.push(e);
            }
        }

        Ok(Conventions {
            package_manager: part.package_manager,
            default_image,
            manifest_patterns: part.manifest_patterns,
            manifests: part.manifests,
            setup,
            deps: part.deps,
            caches: part.caches,
            env: env_list(&[
                ("VIRTUAL_ENV", VENV),
                ("PATH", &format!("{VENV}/bin:$PATH")),
                ("PYTHONUNBUFFERED", "1"),
                ("PYTHONDONTWRITEBYTECODE", "1"),
            ]),
            runtime_env: Vec::new(),
            build_env,
            after_source: part.after_source,
            build: None,
            after_build: part.after_build,
            run,
            run_help: "set `run`, e.g. `run = [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"80\"]`, add a Procfile with a `web:` line, or add a main.py".into(),
            runtime: Runtime {
                image: None,
                artefacts: vec![Artefact {
                    from: VENV.into(),
                    to: VENV.into(),
                }],
                copy_workdir: true,
            },
            app_exclude,
            notes,
        })
    }
}

/// Every tool's default manifests, for the first probing round.
fn default_manifests() -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for list in [
        pip::DEFAULT_MANIFESTS,
        uv::DEFAULT_MANIFESTS,
        poetry::DEFAULT_MANIFESTS,
        pipenv::DEFAULT_MANIFESTS,
        pdm::DEFAULT_MANIFESTS,
    ] {
        for f in list {
            if !all.iter().any(|a| a == f) {
                all.push(f.to_string());
            }
        }
    }
    all
}

/// The `[python]` table: the version of each tool Strata installs (`uv = "0.5.11"`). Unknown keys
/// and values that are not versions are errors at their place in the spec.
fn tool_versions(spec: &Spec) -> Result<Vec<(Tool, Located<String>)>, Diagnostics> {
    let known: Vec<&str> = Tool::ALL
        .iter()
        .filter(|t| t.pinned_version().is_some())
        .map(|t| t.name())
        .collect();
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for (key, value) in &spec.language_options {
        let tool = Tool::from_name(&key.value).filter(|t| t.pinned_version().is_some());
        let Some(tool) = tool else {
            let d = super::unknown_option(
                spec,
                key,
                &known,
                format!(
                    "the version of the tool Strata installs: {}",
                    known.join(", ")
                ),
            );
            diags.push(d);
            continue;
        };
        let example = tool.pinned_version().unwrap_or_default();
        match &value.value {
            OptionValue::String(v) if is_version(v) => {
                out.push((tool, Located::new(v.clone(), value.span.clone())))
            }
            OptionValue::String(v) => diags.push(
                Diagnostic::at(
                    &spec.source,
                    value.span.clone(),
                    format!(
                        "`python.{}` must be a {} version such as \"{example}\", not `{}`",
                        key.value,
                        key.value,
                        crate::redact::redact_credentials(v)
                    ),
                )
                .help(format!(
                    "Strata runs `pip install {}==<version>`",
                    key.value
                )),
            ),
            other => diags.push(Diagnostic::at(
                &spec.source,
                value.span.clone(),
                format!(
                    "`python.{}` must be a string, not {} (e.g. `{} = \"{example}\"`)",
                    key.value,
                    other.type_name(),
                    key.value
                ),
            )),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

/// A release as `pip install tool==<version>` takes it (PEP 440 characters, starting with a
/// digit): nothing the shell would read.
fn is_version(v: &str) -> bool {
    v.len() <= 64
        && v.starts_with(|c: char| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-' | '_'))
}

/// The tool: the spec's `package_manager`, else the one lockfile among the candidates, else
/// requirements files (pip), a `Pipfile` (pipenv), or the `[tool.*]` table of a bare
/// pyproject.toml. The candidates are the spec's `manifests` when it lists them, else the
/// context's files. Returns notes on files that were not chosen.
fn detect(spec: &Spec, ctx: &ContextFiles) -> Result<(Tool, Vec<String>), Diagnostics> {
    if let Some(pm) = &spec.package_manager {
        return match Tool::from_name(&pm.value) {
            Some(t) => Ok((t, Vec::new())),
            None => {
                let names: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
                let d = Diagnostic::at(
                    &spec.source,
                    pm.span.clone(),
                    format!("unknown python package manager `{}`", pm.value),
                );
                Err(match closest(&pm.value, names.iter().copied()) {
                    Some(n) => d.help(format!("did you mean `{n}`?")),
                    None => d.help(format!("supported: {}", names.join(", "))),
                }
                .into())
            }
        };
    }
    // Every listed manifest must exist before anything is chosen from them.
    let staged: Option<Vec<String>> = match &spec.manifests {
        Some(_) => Some(super::resolve_manifests(spec, ctx, &[])?.1),
        None => None,
    };
    let has = |f: &str| match &staged {
        Some(s) => s.iter().any(|s| s == f),
        None => ctx.exists(f),
    };
    let requirements = match &staged {
        Some(s) => s.iter().any(|f| f.ends_with(".txt")),
        None => ctx.exists("requirements.txt"),
    };
    let locks: Vec<(Tool, &str)> = Tool::LOCKING
        .iter()
        .filter_map(|t| t.lockfile().filter(|l| has(l)).map(|l| (*t, l)))
        .collect();
    if let [(a, a_lock), (b, b_lock), ..] = locks[..] {
        let files: Vec<&str> = locks.iter().map(|(_, l)| *l).collect();
        return Err(Diagnostic::at(
            &spec.source,
            spec.language.span.clone(),
            format!(
                "several package managers' lockfiles: {} (each would install the dependencies its own way)",
                files.join(", ")
            ),
        )
        .help(format!(
            "choose one with `package_manager`, e.g. `package_manager = \"{}\"` for {a_lock} or `package_manager = \"{}\"` for {b_lock}, and delete the lockfile you no longer use",
            a.name(),
            b.name()
        ))
        .into());
    }
    if let Some((tool, lock)) = locks.first() {
        let mut notes = Vec::new();
        if requirements && staged.is_none() {
            notes.push(format!(
                "requirements.txt is not used: {lock} selects {}; set `package_manager = \"pip\"` to install from requirements.txt instead",
                tool.name()
            ));
        }
        return Ok((*tool, notes));
    }
    if requirements {
        // Without its lockfile a Pipfile cannot be installed frozen: requirements.txt is.
        let notes = if has("Pipfile") && staged.is_none() {
            vec!["Pipfile is not used: it has no Pipfile.lock, and pip installs requirements.txt; run `pipenv lock` to install with pipenv".to_string()]
        } else {
            Vec::new()
        };
        return Ok((Tool::Pip, notes));
    }
    if has("Pipfile") {
        return Ok((Tool::Pipenv, Vec::new()));
    }
    if has("pyproject.toml") {
        let text = ctx.text("pyproject.toml").unwrap_or_default();
        let pyproject = read_pyproject("pyproject.toml", text)?;
        for tool in [Tool::Poetry, Tool::Uv, Tool::Pdm] {
            if pyproject.tool(tool.name()).is_some() {
                return Ok((tool, Vec::new()));
            }
        }
        return Err(Diagnostic::at(
            &pyproject.source,
            0..0,
            "pyproject.toml has no lockfile beside it: Strata installs the dependencies from a lockfile, so that every build installs the same versions",
        )
        .help("create one with `uv lock` (or `poetry lock`, `pdm lock`) and add it to the build context, or pin the dependencies in requirements.txt")
        .into());
    }
    let found = Tool::LOCKING
        .iter()
        .filter_map(|t| t.lockfile())
        .find(|l| ctx.exists(l));
    let d = Diagnostic::at(
        &spec.source,
        match &spec.manifests {
            Some(m) => m.first().map_or(0..0, |m| m.span.clone()),
            None => spec.language.span.clone(),
        },
        if staged.is_some() {
            "no Python manifest among the manifests"
        } else {
            "no requirements.txt, pyproject.toml or Pipfile in the build context"
        },
    );
    Err(match found {
        Some(lock) if staged.is_some() => d.help(format!(
            "the context has {lock}: add it and its manifest to `manifests`"
        )),
        _ => d.help("add a requirements.txt (pip), or a pyproject.toml with its lockfile (uv, poetry, pdm), or list your requirement files in `manifests`"),
    }
    .into())
}

/// The files a tool installs from, `(patterns, files)`: the spec's `manifests`, or those of the
/// tool's `defaults` that exist. Each of `required` must be among them; a missing one is an error
/// saying what to do: create the lockfile, add the manifest, or list the file.
pub(super) fn staged(
    p: &Project,
    tool: Tool,
    defaults: &[&str],
    required: &[&str],
) -> Result<(Vec<String>, Vec<String>), Diagnostics> {
    let (patterns, files) = super::resolve_manifests(p.spec, p.ctx, defaults)?;
    if let Some(pm) = &p.spec.package_manager {
        if !required.is_empty() && required.iter().all(|f| !p.ctx.exists(f)) {
            return Err(Diagnostic::at(
                &p.spec.source,
                pm.span.clone(),
                format!(
                    "package manager `{}` needs {}, and the build context has neither",
                    tool.name(),
                    required.join(" and ")
                ),
            )
            .help("add them to the build context (check .dockerignore), or set `package_manager` to the tool the project uses")
            .into());
        }
    }
    let mut diags = Vec::new();
    for f in required {
        if files.iter().any(|s| s == f) {
            continue;
        }
        let d = if p.ctx.exists(f) {
            Diagnostic::at(
                &p.spec.source,
                p.manifests_span(),
                format!("{f} is not among the manifests"),
            )
            .help(format!(
                "{} installs from {}: add \"{f}\" to `manifests`",
                tool.name(),
                required.join(" and ")
            ))
        } else if Some(*f) == tool.lockfile() {
            missing_lockfile(p, tool)
        } else {
            missing_manifest(tool, f)
        };
        diags.push(d);
    }
    if diags.is_empty() {
        Ok((patterns, files))
    } else {
        Err(Diagnostics(diags))
    }
}

/// The pyproject.toml a staged-manifest check has found in the context.
pub(super) fn pyproject<'a>(p: &Project<'a>) -> Result<&'a Pyproject, Diagnostics> {
    p.pyproject.ok_or_else(|| {
        Diagnostic::at(
            &SourceText::new("pyproject.toml", ""),
            0..0,
            "pyproject.toml is not UTF-8 text",
        )
        .help("save it as UTF-8, as TOML requires")
        .into()
    })
}

/// A manifest without its lockfile: at the spec's `package_manager`, the manifest's `[tool.*]`
/// table, or the manifest itself.
fn missing_lockfile(p: &Project, tool: Tool) -> Diagnostic {
    let lock = tool.lockfile().unwrap_or_default();
    let manifest = tool.manifest();
    let message = format!(
        "{manifest} has no {lock} beside it: without a lockfile the install would resolve the dependencies anew on every build, which is not reproducible"
    );
    let help = format!(
        "run `{}` and add {lock} to the build context",
        tool.lock_command()
    );
    let d = match (&p.spec.package_manager, p.pyproject, p.pipfile) {
        (Some(pm), _, _) => Diagnostic::at(&p.spec.source, pm.span.clone(), message),
        (None, Some(py), _) => {
            let span = py.tool(tool.name()).cloned().unwrap_or(0..0);
            Diagnostic::at(&py.source, span, message)
        }
        (None, None, Some(pf)) => Diagnostic::at(&pf.source, 0..0, message),
        (None, None, None) => Diagnostic::at(&SourceText::new(manifest, ""), 0..0, message),
    };
    d.help(help)
}

/// A lockfile without the manifest it was made from.
fn missing_manifest(tool: Tool, manifest: &str) -> Diagnostic {
    let lock = tool.lockfile().unwrap_or_default();
    Diagnostic::at(
        &SourceText::new(lock, ""),
        0..0,
        format!(
            "{lock} has no {manifest} beside it: {} needs both to install",
            tool.name()
        ),
    )
    .help(format!(
        "add {manifest} to the build context (check .dockerignore), or remove {lock} if the project no longer uses {}",
        tool.name()
    ))
}

/// A local package the install needs the manifest of: a uv workspace member or a path
/// dependency inside the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LocalPackage {
    /// The directory, relative to the context.
    pub dir: String,
}

/// The uv workspace members and path dependencies of a pyproject.toml (or Pipfile): each must be
/// inside the build context, and its manifest staged with the others (the tool reads the
/// metadata of local packages when it checks the lockfile, and installs them after the source
/// copy). Errors name the member or path and what to add to `manifests`.
pub(super) fn local_packages(
    p: &Project,
    tool: Tool,
    source: &SourceText,
    members: &[Located<String>],
    exclude: &[String],
    path_deps: &[PathDep],
    staged: &[String],
) -> Result<Vec<LocalPackage>, Diagnostics> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let is_staged = |dir: &str| {
        ["pyproject.toml", "setup.py"]
            .iter()
            .any(|m| staged.contains(&format!("{dir}/{m}")))
    };
    for m in members {
        let pattern = m.value.trim_end_matches('/');
        let manifest = format!("{pattern}/pyproject.toml");
        let dirs: Vec<String> = p
            .ctx
            .matching(&manifest)
            .into_iter()
            .filter_map(|f| f.strip_suffix("/pyproject.toml").map(String::from))
            .filter(|d| {
                !exclude.iter().any(|e| {
                    crate::pattern::Pattern::parse(e.trim_end_matches('/'))
                        .is_ok_and(|p| p.matches(d))
                })
            })
            .collect();
        let missing: Vec<&String> = dirs.iter().filter(|d| !is_staged(d)).collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|d| format!("`{d}`")).collect();
            let what = names.join(", ");
            diags.push(
                Diagnostic::at(
                    source,
                    m.span.clone(),
                    format!(
                        "workspace member {what}: its pyproject.toml is not staged for the install, which sees only the manifests"
                    ),
                )
                .help(format!(
                    "list every member's manifest in `manifests`, e.g. `manifests = [\"pyproject.toml\", \"{}\", \"{manifest}\"]`; the members themselves are installed after the source copy",
                    tool.lockfile().unwrap_or_default()
                )),
            );
        }
        out.extend(dirs.into_iter().map(|dir| LocalPackage { dir }));
    }
    for d in path_deps {
        let Some(dir) = &d.path else {
            diags.push(
                Diagnostic::at(
                    source,
                    d.span.clone(),
                    format!(
                        "`{}` is a path dependency on `{}`, outside the build context: BuildKit does not send it",
                        d.name,
                        crate::redact::redact_credentials(&d.written)
                    ),
                )
                .help(format!(
                    "build from a directory that holds both (e.g. the parent, with `-f`) and list `{}`'s pyproject.toml in `manifests`, or publish it to a package index",
                    d.name
                )),
            );
            continue;
        };
        if dir == "." {
            continue;
        }
        if !is_staged(dir) {
            diags.push(
                Diagnostic::at(
                    source,
                    d.span.clone(),
                    format!(
                        "`{}` is a path dependency on `{dir}`, whose manifest is not staged for the install, which sees only the manifests",
                        d.name
                    ),
                )
                .help(format!(
                    "add \"{dir}/pyproject.toml\" to `manifests` (with pyproject.toml and {}); the package itself is installed after the source copy",
                    tool.lockfile().unwrap_or_default()
                )),
            );
            continue;
        }
        if !out.iter().any(|l: &LocalPackage| &l.dir == dir) {
            out.push(LocalPackage { dir: dir.clone() });
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

/// A path dependency a tool (`PDM`, `Pipenv`) would install in the step that sees only the
/// manifests, where its source is missing.
pub(super) fn path_dependency_refused(
    source: &SourceText,
    dep: &PathDep,
    tool: &str,
) -> Diagnostic {
    Diagnostic::at(
        source,
        dep.span.clone(),
        format!(
            "`{}` is a path dependency on `{}`: {tool} installs it with the other packages, in the step that sees only the manifests",
            dep.name,
            crate::redact::redact_credentials(&dep.written)
        ),
    )
    .help(format!(
        "publish `{}` to a package index, or use uv or Poetry, which install local packages after the source copy",
        dep.name
    ))
}

/// The tool, installed into a virtualenv of its own under /opt/strata (never the app's), from
/// PyPI with the base image's pip: keyed by nothing but its version.
pub(super) fn install_tool(tool: Tool, version: &str, also: &[&str]) -> String {
    let name = tool.name();
    let dir = tool_dir(tool);
    let mut command = format!(
        "{} && {dir}/bin/pip install {name}=={version}",
        make_venv(&dir)
    );
    for a in also {
        command.push(' ');
        command.push_str(&super::shell_word(a));
    }
    command
}

/// The shell command that creates a virtualenv at `dir` (a path of Strata's, no quoting needed).
///
/// `python3 -m venv` spends about 2 s in ensurepip, unpacking and compiling a copy of pip for
/// every new virtualenv: most of a cold pip build's lead over a Dockerfile that installs into the
/// official image's system site-packages. When the base image has a pip (the official images,
/// Debian's python3-pip), the virtualenv is made without one and the base's pip, compiled already,
/// is copied in with its metadata and scripts (0.2 s): the same pip, `python -m pip` works in the
/// image, and a separate runtime image needs nothing from the build's base. Without one (a Debian
/// python3-venv without python3-pip), ensurepip as before. The base's python3 is looked up first,
/// as the step's PATH puts `dir/bin` before it once the virtualenv exists.
pub(crate) fn make_venv(dir: &str) -> String {
    const COPY_PIP: &str = "import glob, os, shutil, sys, sysconfig, pip; \
d = sys.argv[1]; p = os.path.dirname(pip.__file__); \
s = sysconfig.get_path(\"purelib\", \"posix_prefix\", {\"base\": d, \"platbase\": d}); \
[shutil.copytree(x, os.path.join(s, os.path.basename(x)), symlinks=True) for x in [p] + glob.glob(p + \"-*.dist-info\")]; \
[(open(d + \"/bin/\" + n, \"w\").write(\"#!\" + d + \"/bin/python\\nimport sys\\nfrom pip._internal.cli.main import main\\nsys.exit(main())\\n\"), \
os.chmod(d + \"/bin/\" + n, 0o755)) for n in (\"pip\", \"pip3\", \"pip%d.%d\" % sys.version_info[:2])]";
    format!(
        "py=$(command -v python3) && \"$py\" -m venv --without-pip {dir} && \
{{ \"$py\" -c '{COPY_PIP}' {dir} 2>/dev/null || {dir}/bin/python -m ensurepip --upgrade --default-pip >/dev/null; }}"
    )
}

/// Where the tool's own virtualenv lives.
pub(super) fn tool_dir(tool: Tool) -> String {
    format!("/opt/strata/{}", tool.name())
}

/// The build steps' PATH with the tool's bin directory first.
pub(super) fn tool_path(tool: Tool) -> (String, String) {
    ("PATH".into(), format!("{}/bin:$PATH", tool_dir(tool)))
}

/// The start command: a Procfile's `web:` line (shell form, as Heroku runs it), else `python3
/// main.py` / `app.py` when the whole context is the app. Notes what a Procfile command needs.
fn start_command(spec: &Spec, ctx: &ContextFiles) -> (Option<Command>, Vec<String>) {
    let mut notes = Vec::new();
    if let Some(web) = ctx.text(PROCFILE).and_then(procfile_web) {
        if web.contains("$PORT") || web.contains("${PORT") {
            let set = spec.env.iter().any(|(k, _)| k == "PORT");
            if !set && spec.run.is_none() {
                notes.push(format!(
                    "the Procfile's web command uses $PORT, which nothing sets in the image: add `PORT = \"8000\"` (your port) to `env`{}",
                    if spec.ports.is_empty() { " and `port`" } else { "" }
                ));
            }
        }
        return (Some(Command::Shell(web)), notes);
    }
    let run = START_FILES
        .iter()
        .find(|f| ctx.exists(f))
        .map(|f| Command::Exec(vec!["python3".into(), f.to_string()]));
    (run, notes)
}

/// The `web:` process of a Procfile (`<name>: <command>` lines, as Heroku reads them).
fn procfile_web(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (name, command) = l.split_once(':')?;
        (name.trim() == "web" && !command.trim().is_empty()).then(|| command.trim().to_string())
    })
}

/// Entry point for `crate::fuzzing`: the text as each Python manifest the recipe reads
/// (pyproject.toml, Pipfile, Pipfile.lock, a Procfile), errors rendered with their snippets.
#[doc(hidden)]
pub(super) fn fuzz_manifests(text: &str) {
    match read_pyproject("pyproject.toml", text) {
        Ok(p) => {
            for tool in ["poetry", "uv", "pdm"] {
                let _ = p.tool(tool);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Err(e) = read_pipfile("Pipfile", text) {
        let _ = e.to_string();
    }
    if let Err(e) = pyproject::pipfile_lock_dev_only(text) {
        let _ = e.to_string();
    }
    let _ = procfile_web(text);
}

#[cfg(test)]
mod tests;
