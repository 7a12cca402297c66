//! uv, in two modes. A uv project (pyproject.toml + uv.lock): `uv sync --locked` into /opt/venv
//! (`UV_PROJECT_ENVIRONMENT`), the project itself and other local packages after the source copy.
//! A requirements project with `package_manager = "uv"`: `uv pip install -r …` into the same
//! virtualenv, a faster pip. uv's cache is on a cache mount (shared: uv documents it as safe for
//! concurrent use), with `UV_LINK_MODE=copy` since a cache mount is another filesystem.

use super::super::{Conventions, DepStep, Setup, cache, env_list};
use super::{
    Project, Tool, ToolPart, VENV, install_tool, local_packages, pip, staged, tool_dir, tool_path,
};
use crate::diag::Diagnostics;
use crate::plan::Sharing;

/// The uv Strata installs unless `[python] uv = "…"` says otherwise.
pub(super) const VERSION: &str = "0.13.9";
pub(super) const DEFAULT_MANIFESTS: &[&str] =
    &["pyproject.toml", "uv.lock", "uv.toml", ".python-version"];
const CACHE: &str = "/root/.cache/uv";
/// uv's official image (distroless: nothing but the two binaries, at the root), tagged with
/// uv's version; `--build-context ghcr.io/astral-sh/uv:<version>=docker-image://…` copies uv
/// from it instead of installing it from PyPI.
const IMAGE: &str = "ghcr.io/astral-sh/uv";
const IMAGE_FILES: &[&str] = &["/uv", "/uvx"];

pub(super) fn part(p: &Project) -> Result<ToolPart, Diagnostics> {
    // uv.lock makes it a uv project; without one, requirement files are installed with `uv pip`.
    // Listed manifests say which.
    let (lock, requirement_files) = match &p.spec.manifests {
        Some(_) => {
            let files = super::super::resolve_manifests(p.spec, p.ctx, &[])?.1;
            (
                files.iter().any(|f| f == "uv.lock"),
                files.iter().any(|f| f.ends_with(".txt")),
            )
        }
        None => (p.ctx.exists("uv.lock"), p.ctx.exists("requirements.txt")),
    };
    if !lock && requirement_files {
        requirements(p)
    } else {
        project(p)
    }
}

/// What every uv step shares: its cache, and an environment that keeps it on the image's Python
/// and in /opt/venv.
fn common(p: &Project) -> ToolPart {
    let mut build_env = env_list(&[
        ("UV_CACHE_DIR", CACHE),
        // The cache mount is another filesystem: uv would fall back to copying with a warning.
        ("UV_LINK_MODE", "copy"),
        // The image runs as a user who cannot write __pycache__ into /opt/venv: compile now, as
        // pip does by default.
        ("UV_COMPILE_BYTECODE", "1"),
        // The base image's Python, never a downloaded one that the runtime image would lack.
        ("UV_PYTHON_DOWNLOADS", "never"),
        ("UV_PROJECT_ENVIRONMENT", VENV),
        ("UV_NO_PROGRESS", "1"),
    ]);
    build_env.push(tool_path(Tool::Uv));
    ToolPart {
        package_manager: "uv".into(),
        manifest_patterns: Vec::new(),
        manifests: Vec::new(),
        setup: vec![Setup::tool(
            install_tool(Tool::Uv, &p.tool_version, &[]),
            &format!("{IMAGE}:{}", p.tool_version),
            IMAGE_FILES,
            &format!("{}/bin", tool_dir(Tool::Uv)),
        )],
        deps: Vec::new(),
        caches: vec![cache(CACHE, p.spec, "uv", Sharing::Shared)],
        build_env,
        after_source: Vec::new(),
        after_build: None,
        app_exclude: vec![".venv".into()],
        notes: Vec::new(),
    }
}

/// `uv pip install -r requirements.txt`: pip's reading of the files, uv's speed.
fn requirements(p: &Project) -> Result<ToolPart, Diagnostics> {
    let pip::Requirements {
        patterns,
        staged: manifests,
        install,
    } = pip::requirements(p, Tool::Uv)?;
    let command = format!("uv pip install{}", pip::requirement_args(&install));
    Ok(ToolPart {
        manifest_patterns: patterns.clone(),
        manifests: manifests.clone(),
        deps: Conventions::single_install(patterns, manifests, command),
        ..common(p)
    })
}

/// `uv sync --locked` without the project, then the project after the source copy.
fn project(p: &Project) -> Result<ToolPart, Diagnostics> {
    let (patterns, manifests) = staged(
        p,
        Tool::Uv,
        DEFAULT_MANIFESTS,
        &["pyproject.toml", "uv.lock"],
    )?;
    let py = super::pyproject(p)?;
    let locals = local_packages(
        p,
        Tool::Uv,
        &py.source,
        &py.workspace_members,
        &py.workspace_exclude,
        &py.path_deps,
        &manifests,
    )?;
    // A project with a build system is a package uv installs; `tool.uv.package` says so either way.
    let packaged = py.uv_package.unwrap_or(py.build_system);
    // Without the source, neither the project nor any other local package can be built.
    let skip = if locals.is_empty() {
        "--no-install-project"
    } else {
        "--no-install-local"
    };
    let dev = if p.has_build { "" } else { " --no-dev" };
    let install = format!("uv sync --locked {skip}{dev}");
    let mut after_source = Vec::new();
    // Not editable: /opt/venv is what a separate runtime image receives.
    if packaged || !locals.is_empty() {
        after_source.push(format!("uv sync --locked{dev} --no-editable"));
    }
    let after_build = p.has_build.then(|| {
        if packaged || !locals.is_empty() {
            "uv sync --locked --no-dev --no-editable".to_string()
        } else {
            "uv sync --locked --no-dev --no-install-project".to_string()
        }
    });
    Ok(ToolPart {
        manifest_patterns: patterns.clone(),
        manifests: manifests.clone(),
        deps: vec![
            DepStep::Stage {
                patterns,
                files: manifests,
            },
            DepStep::Install(install),
        ],
        after_source,
        after_build,
        ..common(p)
    })
}
