//! Plan → LLB and image config. Applies the build options (target, platform, no-cache, labels,
//! network) and the daemon's capabilities (newer LLB features only where reported); makes no
//! policy decisions of its own.

use std::collections::BTreeMap;

use bollard_buildkit_proto::pb;

use crate::caps::{self, Caps};
use crate::diag::{Diagnostic, SourceText};
use crate::image::{DEFAULT_PATH, Environment, History, ImageConfig, rfc3339};
use crate::llb::{self, Exec, ExtraMount, Graph, State, Vertex};
use crate::options::{BuildOptions, NetworkMode};
use crate::plan::{
    CacheMount, ContextPurpose, ContextSelection, CopyFrom, LAYER_CACHE_SCRATCH, Plan, RunStep,
    Sharing, StageFrom, StageName, Step, ToolImage, ToolStep,
};
use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::spec::{Command, SecretTarget};

const SSH_AGENT: &str = "/run/buildkit/ssh_agent.0";

/// A base image as the daemon resolved it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedImage {
    /// The image to use instead, when a named context (`--build-context`) replaced it.
    pub replacement: Option<ImageRef>,
    /// Pins the image when the daemon returned one (Docker's local image store returns none).
    pub digest: Option<String>,
    pub config: ImageConfig,
}

/// Where the build context comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Context {
    /// A client directory synced by BuildKit (`local://<name>`), filtered by include/exclude
    /// patterns at transfer time, so the install step's transfer holds only the manifests.
    Local {
        name: String,
        session: Option<String>,
    },
    /// An LLB state given as a frontend input (`docker buildx build` with a context that is not a
    /// plain directory); copies pick paths out of it.
    Input(pb::Definition),
}

pub struct LowerInput<'a> {
    pub plan: &'a Plan,
    pub images: &'a BTreeMap<ImageRef, ResolvedImage>,
    pub options: &'a BuildOptions,
    pub platform: &'a Platform,
    pub caps: &'a Caps,
    pub context: &'a Context,
    /// The spec, attached as a source map so a failing step's error shows its spec line.
    pub spec: Option<&'a SourceText>,
}

#[derive(Debug, Clone)]
pub struct Lowered {
    pub definition: pb::Definition,
    pub image_config: ImageConfig,
}

/// A stage as built so far: its filesystem, the environment steps run with, and its image config.
#[derive(Clone)]
struct Built {
    state: State,
    env: Environment,
    config: ImageConfig,
    history: Vec<History>,
}

pub fn lower(input: &LowerInput<'_>) -> Result<Lowered, Diagnostic> {
    let LowerInput {
        plan,
        options,
        platform,
        ..
    } = *input;
    let target = options.target.unwrap_or(StageName::Runtime);
    let pb_platform = pb::Platform {
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut lowerer = Lowerer {
        input,
        graph: Graph::new(),
        pb_platform,
        context_state: None,
        error: None,
    };
    let mut built: BTreeMap<StageName, Built> = BTreeMap::new();
    for stage in &plan.stages {
        let ignore_cache = options.no_cache.applies_to(stage.name);
        let mut current = match &stage.from {
            StageFrom::Image(r) => lowerer.image(stage.name, r, ignore_cache),
            StageFrom::Stage(s) => match built.get(s) {
                Some(b) => b.clone(),
                None => continue,
            },
        };
        let total = stage.steps.len();
        for (i, step) in stage.steps.iter().enumerate() {
            // A tool's official image given as a named context: the tool is copied from it.
            let tool_image = match step {
                Step::Tool(tool) => lowerer.tool_image(stage.name, &tool.image.image, ignore_cache),
                _ => None,
            };
            let title = match (step, &tool_image) {
                (Step::Tool(tool), Some(_)) => tool.image.title(&tool.image.image.familiar()),
                _ => step.title(),
            };
            let prefix = lowerer.platform_prefix();
            let step_name =
                |title: &str| format!("[{prefix}{} {}/{total}] {title}", stage.name.name(), i + 1);
            let mut vertex = Vertex {
                name: step_name(&title),
                ignore_cache,
                location: None,
            };
            // A build-output cache the layer keeps: its copy is a second exec of the same step.
            let mut kept_title = None;
            current.state = match (step, &tool_image) {
                (Step::Tool(tool), Some(image)) => {
                    lowerer.copy_tool(&current.state, image, &tool.image, vertex)
                }
                (Step::Run(run) | Step::Tool(ToolStep { install: run, .. }), _) => {
                    vertex.location = run.origin.as_ref().and_then(|span| {
                        let spec = input.spec?;
                        let (s, e) = (spec.position(span.start), spec.position(span.end));
                        Some((
                            (s.line as i32, s.column as i32),
                            (e.line as i32, e.column as i32),
                        ))
                    });
                    match &run.layer_cache {
                        None => lowerer.run(&current.state, &current.env, run, vertex),
                        Some(kept) => {
                            let compiled =
                                lowerer.run(&current.state, &current.env, run, vertex.clone());
                            let copy = RunStep {
                                command: kept.script(),
                                keep: Vec::new(),
                                layer_cache: None,
                                caches: run
                                    .caches
                                    .iter()
                                    .cloned()
                                    .chain([CacheMount {
                                        target: LAYER_CACHE_SCRATCH.into(),
                                        ..kept.cache.clone()
                                    }])
                                    .collect(),
                                ..run.clone()
                            };
                            let title = kept.title();
                            let vertex = Vertex {
                                name: step_name(&title),
                                ..vertex
                            };
                            kept_title = Some(title);
                            lowerer.run(&compiled, &current.env, &copy, vertex)
                        }
                    }
                }
                (Step::Write(write), _) => lowerer.write(&current.state, write, vertex),
                (Step::Copy(copy), _) => match &copy.from {
                    CopyFrom::Context(sel) => {
                        lowerer.copy_context(&current.state, sel, &copy.dest, vertex)
                    }
                    CopyFrom::Stage { stage: from, path } => {
                        let Some(src) = built.get(from) else { continue };
                        lowerer.graph.copy(
                            &current.state,
                            &src.state,
                            llb::copy_action(path, &copy.dest),
                            vertex,
                        )
                    }
                },
            };
            for title in std::iter::once(title).chain(kept_title) {
                current.history.push(History {
                    created: options.source_date_epoch.map(rfc3339),
                    created_by: Some(format!("strata: {title}")),
                    comment: Some("strata.v1".into()),
                    ..History::default()
                });
            }
        }
        let done = stage.name == target;
        built.insert(stage.name, current);
        if done {
            break;
        }
    }
    if let Some(e) = lowerer.error.take() {
        return Err(e);
    }
    let Some(result) = built
        .get(&target)
        .or_else(|| built.values().last())
        .cloned()
    else {
        return Err(Diagnostic::plain("the plan has no stages"));
    };
    let sources = input
        .spec
        .filter(|s| s.text.len() <= llb::MAX_ATTACHED_SOURCE)
        .map(|s| {
            vec![pb::SourceInfo {
                filename: s.name.clone(),
                // BuildKit prints these lines when a step fails; the exec args keep the credentials.
                data: crate::redact::redact_credentials(&s.text)
                    .into_owned()
                    .into_bytes(),
                definition: None,
                language: "TOML".into(),
            }]
        })
        .unwrap_or_default();
    let definition = lowerer.graph.definition(&result.state, sources);
    let image_config = image_config(input, &result, target);
    Ok(Lowered {
        definition,
        image_config,
    })
}

struct Lowerer<'a, 'b> {
    input: &'b LowerInput<'a>,
    graph: Graph,
    pb_platform: pb::Platform,
    /// The frontend-input context, imported into the graph once.
    context_state: Option<State>,
    error: Option<Diagnostic>,
}

impl Lowerer<'_, '_> {
    /// `linux/386 ` in a build of several platforms, whose steps would otherwise show under the
    /// same names, once per platform (as the Dockerfile frontend does it); empty otherwise. Names
    /// are metadata: the steps' cache keys do not change.
    fn platform_prefix(&self) -> String {
        if self.input.options.multi_platform {
            format!("{} ", self.input.platform)
        } else {
            String::new()
        }
    }

    fn image(&mut self, stage: StageName, reference: &ImageRef, ignore_cache: bool) -> Built {
        let resolved = self
            .input
            .images
            .get(reference)
            .cloned()
            .unwrap_or_default();
        let reference = resolved.replacement.as_ref().unwrap_or(reference);
        let pinned = pinned(reference, &resolved);
        let state = self.graph.source(
            &format!("docker-image://{pinned}"),
            self.image_attrs(),
            Some(self.pb_platform.clone()),
            Vertex {
                name: format!("[{}{}] FROM {pinned}", self.platform_prefix(), stage.name()),
                ignore_cache,
                location: None,
            },
        );
        let mut env =
            Environment::from_list(resolved.config.config.env.as_deref().unwrap_or_default());
        if env.get("PATH").is_none() {
            env.set("PATH", DEFAULT_PATH);
        }
        for (k, v) in &self.input.plan.image.env {
            env.set(k, v);
        }
        let history = resolved.config.history.clone();
        Built {
            state,
            env,
            config: resolved.config,
            history,
        }
    }

    /// An image source's attributes: the build's `image-resolve-mode`, when not the default.
    fn image_attrs(&self) -> BTreeMap<String, String> {
        let mut attrs = BTreeMap::new();
        match self.input.options.resolve_mode {
            crate::options::ResolveMode::Default => {}
            mode => {
                attrs.insert("image.resolvemode".into(), mode.as_str().into());
            }
        }
        attrs
    }

    /// The filesystem of the image a named context gave for a tool's official `image` (the
    /// gateway resolved it, pinned to its digest when the daemon returned one), or `None`: the
    /// tool is installed.
    fn tool_image(
        &mut self,
        stage: StageName,
        image: &ImageRef,
        ignore_cache: bool,
    ) -> Option<State> {
        let resolved = self.input.images.get(image)?;
        let pinned = pinned(resolved.replacement.as_ref()?, resolved);
        let attrs = self.image_attrs();
        Some(self.graph.source(
            &format!("docker-image://{pinned}"),
            attrs,
            Some(self.pb_platform.clone()),
            Vertex {
                name: format!(
                    "[{}{}] {} from {pinned}",
                    self.platform_prefix(),
                    stage.name(),
                    image.familiar()
                ),
                ignore_cache,
                location: None,
            },
        ))
    }

    /// The tool's files copied from its image to where the install puts them, and its aliases
    /// written beside them: one file op, keyed by the image's content and the layer below.
    fn copy_tool(
        &mut self,
        onto: &State,
        image: &State,
        tool: &ToolImage,
        vertex: Vertex,
    ) -> State {
        let dest = tool.dest.trim_end_matches('/');
        let copies = tool
            .files
            .iter()
            .map(|f| {
                let name = f.rsplit('/').next().unwrap_or(f);
                llb::copy_action(f, &format!("{dest}/{name}"))
            })
            .collect();
        let aliases = tool
            .aliases
            .iter()
            .map(|(name, command)| {
                pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                    path: format!("{dest}/{name}"),
                    mode: 0o755,
                    data: format!("#!/bin/sh\nexec {command} \"$@\"\n").into_bytes(),
                    timestamp: -1,
                    ..Default::default()
                })
            })
            .collect();
        self.graph.copy_then(onto, image, copies, aliases, vertex)
    }

    /// The step's command, with its mounts, on `root` in the stage's environment `env`.
    fn run(&mut self, root: &State, env: &Environment, run: &RunStep, vertex: Vertex) -> State {
        let opts = self.input.options;
        let caps = self.input.caps;
        let mut env = env.clone();
        // Reproducible builds: tools read the time to write from SOURCE_DATE_EPOCH, and Python
        // writes hash-based .pyc files while it is set (timestamp-based ones hold the mtime the
        // installer gave each source file: the time of the build). So the steps see it, and
        // their cache keys include it, as their output depends on it; the image does not get it.
        if let Some(epoch) = opts.source_date_epoch {
            env.set("SOURCE_DATE_EPOCH", &epoch.to_string());
        }
        for (k, v) in &run.env {
            env.set(k, v);
        }
        let mut mounts: Vec<ExtraMount> = run
            .caches
            .iter()
            .chain(run.layer_cache.as_ref().map(|l| &l.cache))
            .map(|c| ExtraMount::Cache {
                target: c.target.clone(),
                id: c.scoped_id(&self.input.platform.to_string()),
                sharing: match c.sharing {
                    Sharing::Shared => pb::CacheSharingOpt::Shared,
                    Sharing::Locked => pb::CacheSharingOpt::Locked,
                    Sharing::Private => pb::CacheSharingOpt::Private,
                },
            })
            .collect();
        let mut secret_env = Vec::new();
        let mut prelude = String::new();
        for s in &run.secrets {
            match &s.target {
                SecretTarget::File(path) => mounts.push(ExtraMount::SecretFile {
                    target: path.clone(),
                    id: s.id.clone(),
                    required: s.required,
                }),
                SecretTarget::Env(name) if caps.has(caps::SECRET_ENV) => {
                    secret_env.push((s.id.clone(), name.clone(), s.required))
                }
                // Before BuildKit v0.12: mount the secret as a file and export it for this step only.
                SecretTarget::Env(name) => {
                    let path = format!("/run/strata-secrets/{}", s.id);
                    mounts.push(ExtraMount::SecretFile {
                        target: path.clone(),
                        id: s.id.clone(),
                        required: s.required,
                    });
                    prelude.push_str(&format!(
                        "if [ -f {path} ]; then {name}=\"$(cat {path})\"; export {name}; fi; "
                    ));
                }
            }
        }
        if run.ssh_agent {
            // Where and how Dockerfile `RUN --mount=type=ssh` offers it. Without `--ssh` the mount
            // is skipped and clients find no agent at SSH_AUTH_SOCK, as they would find none unset.
            mounts.push(ExtraMount::SshAgent {
                target: SSH_AGENT.into(),
                id: "default".into(),
            });
            env.set("SSH_AUTH_SOCK", SSH_AGENT);
        }
        let command = format!("{prelude}{}", run.script());
        let exec = Exec {
            root: Some(root.clone()),
            args: Command::Shell(command).argv(),
            env: env.to_list(),
            cwd: run.cwd.clone(),
            user: String::new(),
            mounts,
            secret_env,
            network: match opts.network {
                NetworkMode::Sandbox => pb::NetMode::Unset as i32,
                NetworkMode::Host => pb::NetMode::Host as i32,
                NetworkMode::None => pb::NetMode::None as i32,
            },
            platform: Some(self.pb_platform.clone()),
            proxy_env: proxy_env(&opts.build_args),
            extra_hosts: opts.extra_hosts.clone(),
            hostname: opts.hostname.clone().unwrap_or_default(),
            remove_mount_stubs: caps.has(caps::REMOVE_MOUNT_STUBS),
        };
        self.graph.exec(exec, vertex)
    }

    /// Files the frontend generated, as one file op: a directory for each parent, then each file.
    fn write(&mut self, onto: &State, write: &crate::plan::WriteStep, vertex: Vertex) -> State {
        let dest = write.dest.trim_end_matches('/');
        let mut dirs: Vec<String> = Vec::new();
        for f in &write.files {
            let mut parent = f.path.as_str();
            while let Some((d, _)) = parent.rsplit_once('/') {
                dirs.push(format!("{dest}/{d}"));
                parent = d;
            }
        }
        dirs.sort();
        dirs.dedup();
        let mut actions: Vec<pb::file_action::Action> = Vec::new();
        actions.push(pb::file_action::Action::Mkdir(pb::FileActionMkDir {
            path: if dest.is_empty() {
                "/".into()
            } else {
                dest.to_string()
            },
            mode: 0o755,
            make_parents: true,
            timestamp: -1,
            ..Default::default()
        }));
        for d in dirs {
            actions.push(pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                path: d,
                mode: 0o755,
                make_parents: true,
                timestamp: -1,
                ..Default::default()
            }));
        }
        for f in &write.files {
            actions.push(pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                path: format!("{dest}/{}", f.path),
                mode: if f.executable { 0o755 } else { 0o644 },
                data: f.contents.clone(),
                timestamp: -1,
                ..Default::default()
            }));
        }
        self.graph.file(onto, actions, vertex)
    }

    fn copy_context(
        &mut self,
        onto: &State,
        sel: &ContextSelection,
        dest: &str,
        vertex: Vertex,
    ) -> State {
        let dest_dir = format!("{}/", dest.trim_end_matches('/'));
        match self.input.context {
            Context::Local { name, session } => {
                let mut attrs = BTreeMap::new();
                if !sel.include.is_empty() {
                    attrs.insert("local.includepattern".into(), json(&sel.include));
                }
                if !sel.exclude.is_empty() {
                    attrs.insert("local.excludepatterns".into(), json(&sel.exclude));
                }
                if sel.purpose == ContextPurpose::Manifests {
                    attrs.insert("local.followpaths".into(), json(&sel.include));
                }
                let (hint, title) = match sel.purpose {
                    ContextPurpose::Manifests => {
                        ("strata-manifests", "[internal] load manifests".to_string())
                    }
                    ContextPurpose::App => {
                        ("strata-app", "[internal] load build context".to_string())
                    }
                };
                attrs.insert("local.sharedkeyhint".into(), hint.into());
                if let Some(s) = session {
                    attrs.insert("local.session".into(), s.clone());
                }
                let ignore_cache = vertex.ignore_cache;
                let src = self.graph.source(
                    &format!("local://{name}"),
                    attrs,
                    None,
                    Vertex {
                        name: title,
                        ignore_cache,
                        location: None,
                    },
                );
                self.graph
                    .copy(onto, &src, llb::copy_action("/", &dest_dir), vertex)
            }
            Context::Input(def) => {
                let src = match &self.context_state {
                    Some(s) => s.clone(),
                    None => match self.graph.import(def) {
                        Some(s) => {
                            self.context_state = Some(s.clone());
                            s
                        }
                        None => {
                            self.error = Some(Diagnostic::plain(
                                "the build context given as a frontend input is empty or not valid LLB",
                            ));
                            return onto.clone();
                        }
                    },
                };
                let paths: Vec<String> = match (sel.purpose, sel.include.is_empty()) {
                    (ContextPurpose::Manifests, _) => sel.files.clone(),
                    (ContextPurpose::App, false) => sel.include.clone(),
                    (ContextPurpose::App, true) => vec![".".into()],
                };
                let patterns = self.input.caps.has(caps::COPY_PATTERNS);
                let mut state = onto.clone();
                let n = paths.len();
                for (i, path) in paths.iter().enumerate() {
                    let (src_path, dest_path) = if path == "." {
                        ("/".to_string(), dest_dir.clone())
                    } else {
                        (format!("/{path}"), format!("{dest_dir}{path}"))
                    };
                    let mut copy = llb::copy_action(&src_path, &dest_path);
                    if patterns {
                        copy.exclude_patterns = sel.exclude.clone();
                    }
                    let mut v = vertex.clone();
                    if n > 1 {
                        v.name = format!("{} ({}/{n}: {path})", vertex.name, i + 1);
                    }
                    state = self.graph.copy(&state, &src, copy, v);
                }
                state
            }
        }
    }
}

/// `reference` pinned to the digest the daemon resolved for it, when it returned one and the
/// reference has none of its own.
fn pinned(reference: &ImageRef, resolved: &ResolvedImage) -> ImageRef {
    match &resolved.digest {
        Some(d) if reference.digest.is_none() => reference.pinned(d),
        _ => reference.clone(),
    }
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_default()
}

/// Proxy build args reach RUN steps without entering the cache key, as in Dockerfiles.
fn proxy_env(args: &BTreeMap<String, String>) -> Option<pb::ProxyEnv> {
    let get = |upper: &str| {
        args.get(upper)
            .or_else(|| args.get(&upper.to_ascii_lowercase()))
            .cloned()
            .unwrap_or_default()
    };
    let p = pb::ProxyEnv {
        http_proxy: get("HTTP_PROXY"),
        https_proxy: get("HTTPS_PROXY"),
        ftp_proxy: get("FTP_PROXY"),
        no_proxy: get("NO_PROXY"),
        all_proxy: get("ALL_PROXY"),
    };
    (p != pb::ProxyEnv::default()).then_some(p)
}

fn image_config(input: &LowerInput<'_>, result: &Built, target: StageName) -> ImageConfig {
    let plan = input.plan;
    let platform = input.platform;
    let mut config = result.config.clone();
    // Reproducible builds: with SOURCE_DATE_EPOCH every time the config holds is that time (the
    // exporter clamps layer times to it too); without it the config holds none of ours, and the
    // exporter fills in the build's.
    config.created = input.options.source_date_epoch.map(rfc3339);
    config.architecture = platform.architecture.clone();
    config.os = platform.os.clone();
    config.variant = platform.variant.clone();
    config.rootfs = None;
    config.history = result.history.clone();

    let mut env = result.env.clone();
    let c = &mut config.config;
    c.working_dir = Some(plan.image.workdir.clone());
    let mut labels = c.labels.clone().unwrap_or_default();
    labels.extend(plan.image.labels.clone());
    labels.extend(input.options.labels.clone());
    c.labels = (!labels.is_empty()).then_some(labels);
    if target == StageName::Runtime {
        for (k, v) in &plan.image.runtime_env {
            env.set(k, v);
        }
        c.user = Some(plan.image.user.clone());
        let mut ports = c.exposed_ports.clone().unwrap_or_default();
        for p in &plan.image.ports {
            ports.insert(p.clone(), serde_json::json!({}));
        }
        c.exposed_ports = (!ports.is_empty()).then_some(ports);
        // The spec's command replaces the base image's entrypoint too: `docker run IMAGE sh` should
        // run sh, not `docker-entrypoint.sh sh`.
        c.entrypoint = None;
        c.cmd = Some(plan.image.command.argv());
        c.args_escaped = None;
    }
    c.env = Some(env.to_list());
    config
}

#[cfg(test)]
pub(crate) mod tests;
