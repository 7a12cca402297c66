//! Lays a recipe's conventions, overridden by the spec, out as the stages of a [`Plan`]. Nothing
//! here depends on the language: what differs between ecosystems is in their [`Conventions`].

use std::collections::BTreeMap;

use super::{Conventions, cache, recipe_for};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{
    ContextPurpose, ContextSelection, CopyFrom, CopyStep, ImageSettings, Plan, RunStep, Sharing,
    Stage, StageFrom, StageName, Step,
};
use crate::reference::ImageRef;
use crate::spec::{Command, Spec};

/// Plans a build: base image (+ system packages), dependencies from the manifests alone, the
/// source and the build step, and the runtime image.
pub fn plan(spec: &Spec, ctx: &ContextFiles) -> Result<Plan, Diagnostics> {
    let conv = recipe_for(spec.language.value).conventions(spec, ctx)?;
    let command = start_command(spec, &conv)?;
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
    let steps = Steps {
        spec,
        conv: &conv,
        build_env,
    };

    let mut env = conv.env.clone();
    env.extend(spec.env.clone());
    let runtime_env = conv
        .runtime_env
        .iter()
        .filter(|(k, _)| !spec.env.iter().any(|(name, _)| name == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    Ok(Plan {
        language: spec.language.value,
        package_manager: conv.package_manager.to_string(),
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
            steps.deps(ctx),
            steps.build(ctx),
            steps.runtime(separate_runtime),
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
                spec.language.value.name()
            ),
        )
        .help(conv.run_help.clone())
        .into()),
    }
}

struct Steps<'a> {
    spec: &'a Spec,
    conv: &'a Conventions,
    /// The recipe's build-only environment with the spec's `build_env` over it.
    build_env: BTreeMap<String, String>,
}

impl Steps<'_> {
    /// A step of the project's own (install, build): in the workdir, with the package manager's
    /// caches and the client's SSH agent, pointing back at the spec text it comes from.
    fn project_step(&self, command: String, origin: std::ops::Range<usize>) -> RunStep {
        RunStep {
            command,
            cwd: self.spec.workdir.clone(),
            env: self.build_env.clone(),
            caches: self.conv.caches.clone(),
            secrets: Vec::new(),
            ssh_agent: true,
            origin: Some(origin),
        }
    }

    fn deps(&self, ctx: &ContextFiles) -> Stage {
        let (spec, conv) = (self.spec, self.conv);
        let mut steps = Vec::new();
        if let Some(prepare) = &conv.prepare {
            steps.push(Step::Run(RunStep {
                command: prepare.clone(),
                cwd: "/".into(),
                env: self.build_env.clone(),
                caches: Vec::new(),
                secrets: Vec::new(),
                ssh_agent: false,
                origin: Some(spec.language.span.clone()),
            }));
        }
        steps.push(Step::Copy(CopyStep {
            from: CopyFrom::Context(ContextSelection {
                include: conv.manifest_patterns.clone(),
                exclude: ctx.ignore.clone(),
                files: conv.manifests.clone(),
                purpose: ContextPurpose::Manifests,
            }),
            dest: spec.workdir.clone(),
        }));
        let (install, origin) = match &spec.install {
            Some(i) => (i.value.clone(), i.span.clone()),
            None => (conv.install.clone(), spec.language.span.clone()),
        };
        steps.push(Step::Run(RunStep {
            secrets: spec.secrets.clone(),
            ..self.project_step(install, origin)
        }));
        Stage {
            name: StageName::Deps,
            from: StageFrom::Stage(StageName::Base),
            steps,
        }
    }

    fn build(&self, ctx: &ContextFiles) -> Stage {
        let (spec, conv) = (self.spec, self.conv);
        let include = spec
            .app
            .iter()
            .map(|a| a.value.clone())
            .filter(|a| a != ".")
            .collect();
        let mut exclude = ctx.ignore.clone();
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
                let workdir = &self.spec.workdir;
                for path in self.conv.artifacts.iter().chain(std::iter::once(workdir)) {
                    steps.push(Step::Copy(CopyStep {
                        from: CopyFrom::Stage {
                            stage: StageName::Build,
                            path: path.clone(),
                        },
                        dest: path.clone(),
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
            cwd: "/".into(),
            env: BTreeMap::new(),
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
