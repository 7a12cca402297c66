//! pip: `requirements*.txt` staged alone and installed with the virtualenv's pip, its download and
//! wheel cache on a cache mount. uv's `uv pip install` mode reads the same files (see `uv.rs`).

use super::super::{Conventions, cache, shell_word};
use super::{Project, Tool, ToolPart, VENV, staged};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::Sharing;

pub(super) const DEFAULT_MANIFESTS: &[&str] = &["requirements.txt"];

/// What a requirements install stages and installs from.
pub(super) struct Requirements {
    pub patterns: Vec<String>,
    pub staged: Vec<String>,
    /// The requirement files, without those only used as constraints (`-c`).
    pub install: Vec<String>,
}

/// The requirement files to install from, checked as pip reads them: `-r`/`-c` files must be
/// staged, local source trees refused. Constraint files are staged but not installed from.
pub(super) fn requirements(p: &Project, tool: Tool) -> Result<Requirements, Diagnostics> {
    let (patterns, manifests) = staged(p, tool, DEFAULT_MANIFESTS, &[])?;
    let requirement_files: Vec<&String> =
        manifests.iter().filter(|f| f.ends_with(".txt")).collect();
    let constraints = super::super::requirements::check_files(
        requirement_files
            .iter()
            .filter_map(|f| Some((f.as_str(), p.ctx.text(f)?))),
        &manifests,
    )
    .map_err(Diagnostics)?;
    let install: Vec<String> = requirement_files
        .iter()
        .filter(|f| !constraints.contains(f.as_str()))
        .map(|f| f.to_string())
        .collect();
    if install.is_empty() {
        return Err(Diagnostic::at(
            &p.spec.source,
            p.manifests_span(),
            "no requirements file among the manifests",
        )
        .help(format!(
            "{} installs from `*.txt` requirement files; list one in `manifests`",
            tool.name()
        ))
        .into());
    }
    Ok(Requirements {
        patterns,
        staged: manifests,
        install,
    })
}

/// `-r <file>` for each file, quoted for the shell.
pub(super) fn requirement_args(files: &[String]) -> String {
    files
        .iter()
        .map(|f| format!(" -r {}", shell_word(f)))
        .collect()
}

pub(super) fn part(p: &Project) -> Result<ToolPart, Diagnostics> {
    let Requirements {
        patterns,
        staged: manifests,
        install,
    } = requirements(p, Tool::Pip)?;
    let command = format!("{VENV}/bin/pip install{}", requirement_args(&install));
    Ok(ToolPart {
        package_manager: "pip".into(),
        manifest_patterns: patterns.clone(),
        manifests: manifests.clone(),
        setup: Vec::new(),
        deps: Conventions::single_install(patterns, manifests, command),
        caches: vec![cache("/root/.cache/pip", p.spec, "pip", Sharing::Shared)],
        build_env: Vec::new(),
        after_source: Vec::new(),
        after_build: None,
        app_exclude: Vec::new(),
        notes: Vec::new(),
    })
}
