//! Lays a recipe's conventions, overridden by the spec, out as the stages of a [`Plan`]. Nothing
//! here depends on the language: what differs between ecosystems is in their [`Conventions`].

use std::ops::Range;

use super::{Conventions, DepStep, cache, recipe_for};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{
    ContextPurpose, ContextSelection, CopyFrom, CopyStep, EnvList, GeneratedFile, ImageSettings,
    LayerCache, Plan, RunStep, Sharing, Stage, StageFrom, StageName, Step, ToolStep, WriteStep,
};
use crate::reference::ImageRef;
use crate::spec::{Command, Spec};

/// Plans a build: base image (+ system packages), dependencies from the manifests alone, the
/// source and the build step, and the runtime image.
pub fn plan(spec: &Spec, ctx: &ContextFiles) -> Result<Plan, Diagnostics> {
    let recipe = recipe_for(spec)?;
    let conv = recipe.conventions(spec, ctx)?;
    lay_out(spec, &ctx.ignore, recipe.language(), &conv)
}

/// The stages for a recipe's conventions, with the spec's overrides; `ignore` is `.dockerignore`.
pub(super) fn lay_out(
    spec: &Spec,
    ignore: &[String],
    language: &'static str,
    conv: &Conventions,
) -> Result<Plan, Diagnostics> {
    let command = start_command(spec, conv)?;
    let base = spec
        .base
        .as_ref()
        .map_or_else(|| conv.default_image.clone(), |b| b.value.clone());
    let runtime_image = spec
        .runtime
        .as_ref()
        .map(|r| r.value.clone())
        .or_else(|| conv.runtime.image.clone())
        .filter(|r| *r != base);
    let mut build_env = conv.build_env.clone();
    build_env.extend(spec.build_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let steps = Steps {
        spec,
        conv,
        build_env,
        ignore,
    };

    // The recipe's first, then the spec's in file order: `PATH = "/x:${PATH}"` in the spec
    // extends the recipe's PATH instead of replacing it.
    let mut env = conv.env.clone();
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let runtime_env = conv
        .runtime_env
        .iter()
        .filter(|(k, _)| !env.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();

    Ok(Plan {
        language,
        package_manager: conv.package_manager.clone(),
        manifests: conv.manifests.clone(),
        stages: vec![
            Stage {
                name: StageName::Base,
                from: StageFrom::Image(base),
                steps: steps
                    .system_packages(&spec.packages.build)
                    .into_iter()
                    .collect(),
            },
            steps.deps(),
            steps.build(),
            steps.runtime(runtime_image),
        ],
        image: ImageSettings {
            workdir: spec.workdir.clone(),
            env,
            runtime_env,
            user: spec.user.clone(),
            ports: spec.ports.clone(),
            command,
            labels: spec.labels.clone(),
        },
        notes: conv.notes.clone(),
    })
}

fn start_command(spec: &Spec, conv: &Conventions) -> Result<Command, Diagnostics> {
    match (&spec.run, &conv.run) {
        (Some(r), _) => Ok(r.value.clone()),
        (None, Some(c)) => Ok(c.clone()),
        (None, None) => Err(Diagnostic::at(
            &spec.source,
            spec.language.span.clone(),
            format!(
                "no start command: `run` is not set and no {} convention applies",
                spec.language.value
            ),
        )
        .help(conv.run_help.clone())
        .into()),
    }
}

struct Steps<'a> {
    spec: &'a Spec,
    conv: &'a Conventions,
    /// The recipe's build-only environment with the spec's `build_env` after it.
    build_env: EnvList,
    /// `.dockerignore`: every copy from the context excludes it.
    ignore: &'a [String],
}

impl Steps<'_> {
    /// A step the recipe runs in the workdir, pointing back at the spec text it comes from.
    fn step(&self, command: String, origin: Range<usize>) -> RunStep {
        RunStep {
            command,
            keep: Vec::new(),
            layer_cache: None,
            cwd: self.spec.workdir.clone(),
            env: self.build_env.clone(),
            caches: Vec::new(),
            secrets: Vec::new(),
            ssh_agent: false,
            origin: Some(origin),
        }
    }

    /// A step of the project's own (install, build): with the client's SSH agent, and with the
    /// package manager's caches unless the recipe fetches into them in a step of their own.
    fn project_step(&self, command: String, origin: Range<usize>) -> RunStep {
        let fetches = self.spec.install.is_none()
            && self
                .conv
                .deps
                .iter()
                .any(|d| matches!(d, DepStep::Fetch(_)));
        RunStep {
            caches: if fetches {
                Vec::new()
            } else {
                self.conv.caches.clone()
            },
            ssh_agent: true,
            ..self.step(command, origin)
        }
    }

    fn stage_manifests(&self, patterns: &[String], files: &[String]) -> Step {
        Step::Copy(CopyStep {
            from: CopyFrom::Context(ContextSelection {
                include: patterns.to_vec(),
                exclude: self.ignore.to_vec(),
                files: files.to_vec(),
                purpose: ContextPurpose::Manifests,
            }),
            dest: self.spec.workdir.clone(),
        })
    }

    /// Files the recipe generated, written under `dir` or the workdir.
    fn write(&self, what: &str, dir: Option<&String>, files: &[GeneratedFile]) -> Step {
        Step::Write(WriteStep {
            what: what.to_string(),
            dest: dir.unwrap_or(&self.spec.workdir).clone(),
            files: files.to_vec(),
        })
    }

    fn deps(&self) -> Stage {
        let (spec, conv) = (self.spec, self.conv);
        let origin = spec.language.span.clone();
        let mut steps: Vec<Step> = conv
            .setup
            .iter()
            .map(|setup| {
                let install = RunStep {
                    cwd: "/".into(),
                    ..self.step(setup.command.clone(), origin.clone())
                };
                match &setup.image {
                    Some(image) => Step::Tool(ToolStep {
                        install,
                        image: image.clone(),
                    }),
                    None => Step::Run(install),
                }
            })
            .collect();
        let install = |command: String, origin: Range<usize>| RunStep {
            secrets: spec.secrets.clone(),
            ..self.project_step(command, origin)
        };
        match &spec.install {
            // The user's own install runs once, with every staged manifest and every generated
            // file (a skeleton is what an install of the manifests alone runs on).
            Some(own) => {
                let mut staged: Vec<String> = conv
                    .deps
                    .iter()
                    .filter_map(|d| match d {
                        DepStep::Stage { files, .. } => Some(files.iter().cloned()),
                        _ => None,
                    })
                    .flatten()
                    .collect();
                staged.sort();
                staged.dedup();
                if !conv.manifest_patterns.is_empty() {
                    steps.push(self.stage_manifests(&conv.manifest_patterns, &staged));
                }
                for dep in &conv.deps {
                    if let DepStep::Generate { what, dir, files } = dep {
                        steps.push(self.write(what, dir.as_ref(), files));
                    }
                }
                steps.push(Step::Run(install(own.value.clone(), own.span.clone())));
            }
            None => {
                for dep in &conv.deps {
                    steps.push(match dep {
                        DepStep::Stage { patterns, files } => self.stage_manifests(patterns, files),
                        DepStep::Generate { what, dir, files } => {
                            self.write(what, dir.as_ref(), files)
                        }
                        DepStep::Install(command) => {
                            Step::Run(install(command.clone(), origin.clone()))
                        }
                        DepStep::Fetch(command) => Step::Run(RunStep {
                            caches: conv.caches.clone(),
                            ..install(command.clone(), origin.clone())
                        }),
                        DepStep::Compile {
                            command,
                            output,
                            then,
                        } => Step::Run(RunStep {
                            layer_cache: Some(LayerCache {
                                cache: output.clone(),
                                then: then.clone(),
                            }),
                            ..install(command.clone(), origin.clone())
                        }),
                    });
                }
            }
        }
        Stage {
            name: StageName::Deps,
            from: StageFrom::Stage(StageName::Base),
            steps,
        }
    }

    fn build(&self) -> Stage {
        let (spec, conv) = (self.spec, self.conv);
        let include = spec
            .app
            .iter()
            .map(|a| a.value.clone())
            .filter(|a| a != ".")
            .collect();
        let mut exclude = self.ignore.to_vec();
        for e in &conv.app_exclude {
            if !exclude.contains(e) {
                exclude.push(e.clone());
            }
        }
        let mut steps = vec![Step::Copy(CopyStep {
            from: CopyFrom::Context(ContextSelection {
                include,
                exclude,
                files: Vec::new(),
                purpose: ContextPurpose::App,
            }),
            dest: spec.workdir.clone(),
        })];
        for command in &conv.after_source {
            steps.push(Step::Run(
                self.project_step(command.clone(), spec.language.span.clone()),
            ));
        }
        let build = match &spec.build {
            Some(b) => Some((b.value.clone(), b.span.clone())),
            None => conv.build.clone().map(|b| (b, spec.language.span.clone())),
        };
        if let Some((command, origin)) = build {
            steps.push(Step::Run(self.project_step(command, origin.clone())));
            // The recipe's clean-up assumes the recipe's own install.
            if let (Some(after), None) = (&conv.after_build, &spec.install) {
                steps.push(Step::Run(self.project_step(after.clone(), origin)));
            }
        }
        Stage {
            name: StageName::Build,
            from: StageFrom::Stage(StageName::Deps),
            steps,
        }
    }

    /// The build stage itself, or another image that receives what the app needs from it.
    fn runtime(&self, separate: Option<ImageRef>) -> Stage {
        let mut steps: Vec<Step> = self
            .system_packages(&self.spec.packages.runtime)
            .into_iter()
            .collect();
        let from = match separate {
            Some(image) => {
                let runtime = &self.conv.runtime;
                let workdir = &self.spec.workdir;
                let workdir_copy = runtime.copy_workdir.then_some((workdir, workdir));
                let copies = runtime
                    .artefacts
                    .iter()
                    .map(|a| (&a.from, &a.to))
                    .chain(workdir_copy);
                for (from, to) in copies {
                    steps.push(Step::Copy(CopyStep {
                        from: CopyFrom::Stage {
                            stage: StageName::Build,
                            path: from.clone(),
                        },
                        dest: to.clone(),
                    }));
                }
                StageFrom::Image(image)
            }
            None => StageFrom::Stage(StageName::Build),
        };
        Stage {
            name: StageName::Runtime,
            from,
            steps,
        }
    }

    /// System packages with apt (cache-mounted, `sharing=locked` as apt requires) or apk.
    fn system_packages(&self, packages: &[String]) -> Option<Step> {
        if packages.is_empty() {
            return None;
        }
        let list = packages.join(" ");
        let command = format!(
            "if command -v apt-get >/dev/null 2>&1; then \
rm -f /etc/apt/apt.conf.d/docker-clean && apt-get update && \
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {list}; \
elif command -v apk >/dev/null 2>&1; then apk add --no-cache {list}; \
else echo 'strata: packages need apt-get or apk in the image' >&2; exit 1; fi"
        );
        Some(Step::Run(RunStep {
            command,
            keep: Vec::new(),
            layer_cache: None,
            cwd: "/".into(),
            env: Vec::new(),
            caches: vec![
                cache("/var/cache/apt", self.spec, "apt-cache", Sharing::Locked),
                cache(
                    "/var/lib/apt/lists",
                    self.spec,
                    "apt-lists",
                    Sharing::Locked,
                ),
            ],
            secrets: Vec::new(),
            ssh_agent: false,
            origin: None,
        }))
    }
}
