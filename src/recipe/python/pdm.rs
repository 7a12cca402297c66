//! PDM: `pdm install --check --no-self` with pyproject.toml and pdm.lock alone (`--check` fails on
//! a lockfile that no longer matches pyproject.toml instead of locking again), into the active
//! virtualenv (/opt/venv); the project itself after the source copy when it is a distribution.

use super::super::{DepStep, cache, env_list};
use super::{Project, Tool, ToolPart, install_tool, staged, tool_path};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::Sharing;

/// The PDM Strata installs unless `[python] pdm = "…"` says otherwise.
pub(super) const VERSION: &str = "2.29.4";
/// PDM 2.29 requires `hishel>=1.4`, and breaks with hishel 2 (no `SyncSqliteStorage`).
const CONSTRAINTS: &[&str] = &["hishel<2"];
pub(super) const DEFAULT_MANIFESTS: &[&str] = &["pyproject.toml", "pdm.lock", "pdm.toml"];
const CACHE: &str = "/root/.cache/pdm";

pub(super) fn part(p: &Project) -> Result<ToolPart, Diagnostics> {
    let (patterns, manifests) = staged(
        p,
        Tool::Pdm,
        DEFAULT_MANIFESTS,
        &["pyproject.toml", "pdm.lock"],
    )?;
    let py = super::pyproject(p)?;
    let diags: Vec<Diagnostic> = py
        .path_deps
        .iter()
        .filter(|d| d.path.as_deref() != Some("."))
        .map(|d| super::path_dependency_refused(&py.source, d, "PDM"))
        .collect();
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    let packaged = py.pdm_distribution.unwrap_or(py.build_system);
    let prod = if p.has_build { "" } else { " --prod" };
    let install = format!("pdm install --check{prod} --no-self");
    let after_source = if packaged {
        vec![format!("pdm sync{prod} --no-editable")]
    } else {
        Vec::new()
    };
    let after_build = p.has_build.then(|| {
        let this = if packaged {
            "--no-editable"
        } else {
            "--no-self"
        };
        format!("pdm sync --prod --only-keep {this}")
    });
    let mut build_env = env_list(&[
        ("PDM_CACHE_DIR", CACHE),
        ("PDM_CHECK_UPDATE", "false"),
        ("PDM_NON_INTERACTIVE", "1"),
    ]);
    build_env.push(tool_path(Tool::Pdm));
    Ok(ToolPart {
        package_manager: "pdm".into(),
        manifest_patterns: patterns.clone(),
        manifests: manifests.clone(),
        setup: vec![install_tool(Tool::Pdm, &p.tool_version, CONSTRAINTS).into()],
        deps: vec![
            DepStep::Stage {
                patterns,
                files: manifests,
            },
            DepStep::Install(install),
        ],
        // Concurrent PDM installs sharing a cache have failed (pdm-project/pdm#1869): one at a time.
        caches: vec![cache(CACHE, p.spec, "pdm", Sharing::Locked)],
        build_env,
        after_source,
        after_build,
        // A host's interpreter choice and PEP 582 packages must not reach the image.
        app_exclude: vec![
            ".venv".into(),
            ".pdm-python".into(),
            "__pypackages__".into(),
        ],
        notes: Vec::new(),
    })
}
