//! Poetry: `poetry install --no-root --no-directory` with pyproject.toml and poetry.lock alone,
//! into the active virtualenv (/opt/venv: `POETRY_VIRTUALENVS_CREATE=false`, never a virtualenv
//! under Poetry's cache directory, which is the cache mount); the project itself and directory
//! dependencies after the source copy. Poetry refuses a lockfile that no longer matches
//! pyproject.toml, so the install is frozen.

use super::super::{DepStep, cache, env_list};
use super::{Project, Tool, ToolPart, install_tool, staged, tool_path};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::Sharing;

/// The Poetry Strata installs unless `[python] poetry = "…"` says otherwise.
pub(super) const VERSION: &str = "2.5.1";
pub(super) const DEFAULT_MANIFESTS: &[&str] = &["pyproject.toml", "poetry.lock", "poetry.toml"];
const CACHE: &str = "/root/.cache/pypoetry";

pub(super) fn part(p: &Project) -> Result<ToolPart, Diagnostics> {
    let (patterns, manifests) = staged(
        p,
        Tool::Poetry,
        DEFAULT_MANIFESTS,
        &["pyproject.toml", "poetry.lock"],
    )?;
    let py = super::pyproject(p)?;
    // `--no-directory` leaves directory dependencies out of the install, so their files are not
    // needed then; they are installed after the source copy, which must hold them.
    let mut diags = Vec::new();
    let mut directories = false;
    for d in &py.path_deps {
        match &d.path {
            None => diags.push(
                Diagnostic::at(
                    &py.source,
                    d.span.clone(),
                    format!(
                        "`{}` is a path dependency on `{}`, outside the build context: BuildKit does not send it",
                        d.name,
                        crate::redact::redact_credentials(&d.written)
                    ),
                )
                .help("build from a directory that holds both (e.g. the parent, with `-f`), or publish it to a package index"),
            ),
            Some(dir) if dir != "." => {
                directories = true;
                let copied = p.spec.app.iter().any(|a| {
                    a.value == "." || *dir == a.value || dir.starts_with(&format!("{}/", a.value))
                });
                if !copied {
                    diags.push(
                        Diagnostic::at(
                            &py.source,
                            d.span.clone(),
                            format!(
                                "`{}` is a path dependency on `{dir}`, which the source copy (`app`) does not include, so Poetry cannot install it after the copy",
                                d.name
                            ),
                        )
                        .help(format!("add \"{dir}\" to `app`")),
                    );
                }
            }
            Some(_) => {}
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }

    let packaged = py.poetry_package_mode.unwrap_or(true);
    let only_main = if p.has_build { "" } else { " --only main" };
    let install = format!("poetry install --no-root --no-directory{only_main} --compile");
    let mut after_source = Vec::new();
    if directories {
        after_source.push(format!("poetry install{only_main} --compile"));
    } else if packaged {
        after_source.push("poetry install --only-root --compile".to_string());
    }
    let no_root = if packaged { "" } else { " --no-root" };
    let after_build = p
        .has_build
        .then(|| format!("poetry sync --only main{no_root} --compile"));

    let mut build_env = env_list(&[
        ("POETRY_CACHE_DIR", CACHE),
        // Into the active virtualenv (VIRTUAL_ENV=/opt/venv), not one of Poetry's own.
        ("POETRY_VIRTUALENVS_CREATE", "false"),
        ("POETRY_NO_INTERACTION", "1"),
    ]);
    build_env.push(tool_path(Tool::Poetry));
    Ok(ToolPart {
        package_manager: "poetry".into(),
        manifest_patterns: patterns.clone(),
        manifests: manifests.clone(),
        setup: vec![install_tool(Tool::Poetry, &p.tool_version, &[]).into()],
        deps: vec![
            DepStep::Stage {
                patterns,
                files: manifests,
            },
            DepStep::Install(install),
        ],
        // Poetry's cache is not safe for concurrent writers (python-poetry/poetry#7370, #11048).
        caches: vec![cache(CACHE, p.spec, "poetry", Sharing::Locked)],
        build_env,
        after_source,
        after_build,
        app_exclude: vec![".venv".into()],
        notes: Vec::new(),
    })
}
