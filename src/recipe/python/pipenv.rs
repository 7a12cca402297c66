//! Pipenv: `pipenv install --deploy` with Pipfile and Pipfile.lock alone (it aborts when the
//! lockfile is out of date), into the active virtualenv (/opt/venv). Pipenv runs pip with its own
//! cache directory, `PIPENV_CACHE_DIR`, which is the cache mount.

use super::super::{DepStep, cache, env_list, shell_word};
use super::{Project, Tool, ToolPart, VENV, install_tool, staged, tool_path};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::Sharing;

/// The Pipenv Strata installs unless `[python] pipenv = "…"` says otherwise.
pub(super) const VERSION: &str = "2026.10.3";
pub(super) const DEFAULT_MANIFESTS: &[&str] = &["Pipfile", "Pipfile.lock"];
const CACHE: &str = "/root/.cache/pipenv";

pub(super) fn part(p: &Project) -> Result<ToolPart, Diagnostics> {
    let (patterns, manifests) = staged(
        p,
        Tool::Pipenv,
        DEFAULT_MANIFESTS,
        &["Pipfile", "Pipfile.lock"],
    )?;
    if let Some(pipfile) = p.pipfile {
        let diags: Vec<Diagnostic> = pipfile
            .path_deps
            .iter()
            .map(|d| super::path_dependency_refused(&pipfile.source, d, "Pipenv"))
            .collect();
        if !diags.is_empty() {
            return Err(Diagnostics(diags));
        }
    }
    let dev = if p.has_build { " --dev" } else { "" };
    let install = format!("pipenv install --deploy{dev}");
    // After a build, the packages only [dev-packages] needs leave the image.
    let after_build = match (p.has_build, p.ctx.text("Pipfile.lock")) {
        (true, Some(lock)) => {
            let dev_only = super::pyproject::pipfile_lock_dev_only(lock)?;
            (!dev_only.is_empty()).then(|| {
                let names: Vec<String> = dev_only.iter().map(|n| shell_word(n)).collect();
                format!("{VENV}/bin/pip uninstall -y {}", names.join(" "))
            })
        }
        _ => None,
    };
    let mut build_env = env_list(&[
        ("PIPENV_CACHE_DIR", CACHE),
        // Into the active virtualenv, without the notice saying so.
        ("PIPENV_VERBOSITY", "-1"),
        ("PIPENV_NOSPIN", "1"),
    ]);
    build_env.push(tool_path(Tool::Pipenv));
    Ok(ToolPart {
        package_manager: "pipenv".into(),
        manifest_patterns: patterns.clone(),
        manifests: manifests.clone(),
        setup: vec![install_tool(Tool::Pipenv, &p.tool_version, &[]).into()],
        deps: vec![
            DepStep::Stage {
                patterns,
                files: manifests,
            },
            DepStep::Install(install),
        ],
        // pip's cache, which is safe for concurrent use.
        caches: vec![cache(CACHE, p.spec, "pipenv", Sharing::Shared)],
        build_env,
        after_source: Vec::new(),
        after_build,
        app_exclude: vec![".venv".into()],
        notes: Vec::new(),
    })
}
