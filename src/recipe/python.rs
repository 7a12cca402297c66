//! Python with pip: `requirements*.txt` staged alone, installed into a virtualenv at /opt/venv
//! (outside the workdir, so the source copy can never clobber it) with pip's download and wheel
//! cache on a cache mount.

use super::{
    Artefact, Conventions, Probe, Recipe, Runtime, cache, default_image, env_list,
    resolve_manifests, shell_word,
};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::Sharing;
use crate::spec::{Command, Spec};

pub struct Python;

const DEFAULT_VERSION: &str = "3.12";
const VENV: &str = "/opt/venv";
const DEFAULT_MANIFESTS: &[&str] = &["requirements.txt"];
const START_FILES: &[&str] = &["main.py", "app.py"];
const PROBE: Probe = Probe {
    defaults: DEFAULT_MANIFESTS,
    always: &[],
    version_files: &[".python-version"],
    other_tools: &[
        ("uv.lock", "uv"),
        ("poetry.lock", "poetry"),
        ("Pipfile", "pipenv"),
        ("pdm.lock", "pdm"),
    ],
    start_files: START_FILES,
};

impl Recipe for Python {
    fn language(&self) -> &'static str {
        "python"
    }

    fn probe(&self, spec: &Spec, _found: &ContextFiles) -> Vec<String> {
        PROBE.patterns(spec)
    }

    fn files_to_read(&self, _spec: &Spec, listed: &[&str]) -> Vec<String> {
        listed
            .iter()
            .filter(|f| f.ends_with(".txt") || **f == ".python-version")
            .map(|f| f.to_string())
            .collect()
    }

    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics> {
        if let Some(pm) = &spec.package_manager {
            if pm.value != "pip" {
                return Err(Diagnostic::at(
                    &spec.source,
                    pm.span.clone(),
                    format!(
                        "package manager `{}` is not supported for python yet",
                        pm.value
                    ),
                )
                .help("supported: pip (requirements.txt)")
                .into());
            }
        }
        let (patterns, manifests) = resolve_manifests(spec, ctx, DEFAULT_MANIFESTS)?;
        if manifests.is_empty() {
            let other = PROBE.other_tool(ctx);
            let d = Diagnostic::at(
                &spec.source,
                spec.language.span.clone(),
                "no requirements.txt in the build context",
            );
            let d = match other {
                Some((file, tool)) => d.help(format!(
                    "found {file}: {tool} projects are not supported yet; export a requirements.txt (pip) or list your manifests in `manifests`"
                )),
                None => d.help("add a requirements.txt, or list your requirement files in `manifests`"),
            };
            return Err(d.into());
        }

        let requirement_files: Vec<&String> =
            manifests.iter().filter(|f| f.ends_with(".txt")).collect();
        let constraints = super::requirements::check_files(
            requirement_files
                .iter()
                .filter_map(|f| Some((f.as_str(), ctx.text(f)?))),
            &manifests,
        )
        .map_err(Diagnostics)?;
        let mut install = format!("{VENV}/bin/pip install");
        let mut any = false;
        for f in requirement_files
            .iter()
            .filter(|f| !constraints.contains(f.as_str()))
        {
            install.push_str(&format!(" -r {}", shell_word(f)));
            any = true;
        }
        if !any {
            return Err(Diagnostic::at(
                &spec.source,
                spec.manifests
                    .as_ref()
                    .and_then(|m| m.first())
                    .map_or(0..0, |m| m.span.clone()),
                "no requirements file among the manifests",
            )
            .help("pip installs from `*.txt` requirement files; list one in `manifests`")
            .into());
        }

        let (version, notes) = super::version::choose(
            spec,
            ctx,
            &[".python-version"],
            DEFAULT_VERSION,
            super::version::python_pin,
        );
        let default_image = default_image(spec, "python", &version)?;

        let start = START_FILES.iter().find(|f| ctx.exists(f));
        let run = start.map(|f| Command::Exec(vec!["python3".into(), f.to_string()]));

        Ok(Conventions {
            package_manager: "pip".into(),
            default_image,
            manifest_patterns: patterns.clone(),
            manifests: manifests.clone(),
            setup: vec![format!("python3 -m venv {VENV}")],
            deps: Conventions::single_install(patterns, manifests, install),
            caches: vec![cache("/root/.cache/pip", spec, "pip", Sharing::Shared)],
            env: env_list(&[
                ("VIRTUAL_ENV", VENV),
                ("PATH", &format!("{VENV}/bin:$PATH")),
                ("PYTHONUNBUFFERED", "1"),
                ("PYTHONDONTWRITEBYTECODE", "1"),
            ]),
            runtime_env: Vec::new(),
            build_env: env_list(&[
                ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
                ("PIP_ROOT_USER_ACTION", "ignore"),
            ]),
            after_source: Vec::new(),
            build: None,
            after_build: None,
            run,
            run_help: "set `run`, e.g. `run = [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"80\"]`, or add a main.py".into(),
            runtime: Runtime {
                image: None,
                artefacts: vec![Artefact {
                    from: VENV.into(),
                    to: VENV.into(),
                }],
                copy_workdir: true,
            },
            app_exclude: vec![".venv".into()],
            notes,
        })
    }
}
