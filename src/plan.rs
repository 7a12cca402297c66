//! The language-neutral build plan: stages of copy and run steps with their mounts, and the image
//! settings. Recipes decide what goes in; `lower` turns it into LLB; `render` prints it for
//! `strata plan`. Nothing here knows which language produced it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use crate::redact::redact_credentials;
use crate::reference::ImageRef;
use crate::spec::{Command, Secret, SecretTarget};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageName {
    Base,
    Deps,
    Build,
    Runtime,
}

impl StageName {
    pub const ALL: [StageName; 4] = [
        StageName::Base,
        StageName::Deps,
        StageName::Build,
        StageName::Runtime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StageName::Base => "base",
            StageName::Deps => "deps",
            StageName::Build => "build",
            StageName::Runtime => "runtime",
        }
    }

    pub fn from_name(s: &str) -> Option<StageName> {
        StageName::ALL.into_iter().find(|n| n.name() == s)
    }
}

/// How concurrent builds share a cache mount (BuildKit's `sharing=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Writers run at the same time: for tools whose cache is safe for that (npm, pip, uv, Go).
    Shared,
    /// A second writer waits: for caches that corrupt under concurrent writers (apt, yarn 1,
    /// cargo's registry, Maven, Gradle).
    Locked,
    /// Each writer gets its own copy.
    Private,
}

impl Sharing {
    pub fn name(self) -> &'static str {
        match self {
            Sharing::Shared => "shared",
            Sharing::Locked => "locked",
            Sharing::Private => "private",
        }
    }
}

/// Whose cache a mount is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheScope {
    /// A download cache, keyed by content: every project and platform may share it.
    Downloads,
    /// A build-output cache (Go's build cache, Rust's `target/`): native artefacts of one project,
    /// so its id also carries the project and the target platform (added when lowering, where
    /// the platform is known).
    BuildOutput { project: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    pub target: String,
    /// The id before scoping: `<cache.id>/<tool>`.
    pub id: String,
    pub sharing: Sharing,
    pub scope: CacheScope,
}

impl CacheMount {
    /// The id BuildKit sees for a build on `platform` (e.g. `linux/amd64`).
    pub fn scoped_id(&self, platform: &str) -> String {
        match &self.scope {
            CacheScope::Downloads => self.id.clone(),
            CacheScope::BuildOutput { project } => {
                format!("{}/{project}/{}", self.id, platform.replace('/', "-"))
            }
        }
    }
}

/// Where a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageFrom {
    /// An image, whose config (Env, WorkingDir…) is resolved and inherited.
    Image(ImageRef),
    /// The filesystem of an earlier stage.
    Stage(StageName),
}

/// What a copy step takes from the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextSelection {
    /// Include patterns relative to the context root; empty means the whole context.
    pub include: Vec<String>,
    /// Exclude patterns (`.dockerignore`, then the recipe's own).
    pub exclude: Vec<String>,
    /// The files known to match, when the edge listed them (the manifests); for display and for
    /// contexts that BuildKit cannot filter for us.
    pub files: Vec<String>,
    /// Names the transfer in progress output and BuildKit's incremental-sync cache.
    pub purpose: ContextPurpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextPurpose {
    /// Dependency inputs: only the files listed in `files` are taken (include patterns on the
    /// transfer where BuildKit honours them, file by file otherwise).
    Manifests,
    App,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFrom {
    /// Paths from the build context, each kept at its relative path under `dest`.
    Context(ContextSelection),
    /// An absolute path from an earlier stage, copied to the same path.
    Stage { stage: StageName, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyStep {
    pub from: CopyFrom,
    /// Absolute destination directory.
    pub dest: String,
}

/// A file the frontend wrote itself (a dependency skeleton, a normalized manifest), from what it
/// read in the context: it reaches the build as an LLB file operation, never as a context copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative to the step's `dest`.
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteStep {
    /// What the files are, for progress output (`dependency skeleton`).
    pub what: String,
    /// Absolute directory the paths are relative to.
    pub dest: String,
    pub files: Vec<GeneratedFile>,
}

/// A path the step leaves in a cache mount (a build output) that the layer must keep: copied out
/// at the end of the same step, since a cache mount is never part of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepFromCache {
    pub from: String,
    pub to: String,
}

/// Where the step after a [`LayerCache`] step mounts that cache to copy it into the layer: a path
/// no recipe compiles into.
pub const LAYER_CACHE_SCRATCH: &str = "/run/strata-layer-cache";

/// A build-output cache whose whole content the layer keeps, at the very path the step compiled
/// into: the step runs with the cache mounted at `cache.target`, so a rebuild recompiles only what
/// changed since any earlier build of the project on this builder; then a second command runs on
/// the step's result with the same cache mounted at [`LAYER_CACHE_SCRATCH`] and copies it, mtimes
/// kept (tools judge freshness by them), to `cache.target`, which is no mount there. So the steps
/// after it and a fresh builder with `--cache-from` find the output in the layers, at the path it
/// was built at (a cargo target dir records absolute paths: it cannot move). `then` runs right
/// after the copy, in the layer (completing what an emptied cache lacks, dropping what the
/// layer must not keep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCache {
    pub cache: CacheMount,
    pub then: Option<String>,
}

impl LayerCache {
    /// What the second command runs: the cache's content, and nothing else, at its target.
    pub fn script(&self) -> String {
        let target = crate::recipe::shell_word(self.cache.target.trim_end_matches('/'));
        let mut script = format!(
            "rm -rf {target} && mkdir -p {target} && cp -a {LAYER_CACHE_SCRATCH}/. {target}/"
        );
        if let Some(then) = &self.then {
            script.push_str(&format!(" && {then}"));
        }
        script
    }

    /// The progress line of the second command.
    pub fn title(&self) -> String {
        redact_credentials(&format!(
            "keep {} in the layer: {}",
            self.cache.target,
            self.script()
        ))
        .into_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStep {
    /// Shell command, run with `/bin/sh -c` as root.
    pub command: String,
    /// Copied out of cache mounts after the command succeeds.
    pub keep: Vec<KeepFromCache>,
    /// A build-output cache the command compiles into, which the layer then keeps.
    pub layer_cache: Option<LayerCache>,
    /// Working directory: the workdir, or `/` for steps that come before anything is copied there.
    pub cwd: String,
    /// Added to the inherited environment for this step only, in order.
    pub env: EnvList,
    pub caches: Vec<CacheMount>,
    pub secrets: Vec<Secret>,
    /// Offers the client's SSH agent (`--ssh default`) to the step when there is one, for
    /// dependencies fetched over SSH (private git repositories).
    pub ssh_agent: bool,
    /// The spec text this step comes from, for error snippets when it fails.
    pub origin: Option<Range<usize>>,
}

impl RunStep {
    /// The command with the copies out of cache mounts appended: what the step runs.
    pub fn script(&self) -> String {
        let mut script = self.command.clone();
        for k in &self.keep {
            let to = crate::recipe::shell_word(&k.to);
            let dir = k.to.rsplit_once('/').map_or("/", |(d, _)| d);
            let dir = if dir.is_empty() { "/" } else { dir };
            script.push_str(&format!(
                " && mkdir -p {} && cp -a {} {to}",
                crate::recipe::shell_word(dir),
                crate::recipe::shell_word(&k.from)
            ));
        }
        script
    }
}

/// A tool's official image, and what of it a setup step can copy instead of installing the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolImage {
    /// The image at the tool's version (`ghcr.io/astral-sh/uv:0.13.9`): the name of the named
    /// context (`--build-context ghcr.io/astral-sh/uv:0.13.9=docker-image://…`) that replaces
    /// the install, as base images are replaced.
    pub image: ImageRef,
    /// Absolute paths of the tool's files in the image, each copied into `dest`.
    pub files: Vec<String>,
    /// Where the install puts the tool's commands (a directory on `PATH`).
    pub dest: String,
    /// Commands that are symbolic links in the image (`bunx` → `bun`), written into `dest` as
    /// scripts running the command given (`bun x`): a copy would follow the link and store the
    /// binary twice. (name, command).
    pub aliases: Vec<(String, String)>,
}

impl ToolImage {
    /// The progress line of the copy that replaces the install, from the image called `from`.
    pub fn title(&self, from: &str) -> String {
        let mut title = format!("copy {} from {from} to {}", self.files.join(" "), self.dest);
        for (name, command) in &self.aliases {
            title.push_str(&format!(", {name} running {command}"));
        }
        title
    }
}

/// A setup step that installs a tool, unless the build is given the tool's official image as a
/// named context: then the tool is copied from that image instead. The recipe declares both;
/// lowering chooses, as only it sees the build's named contexts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolStep {
    pub install: RunStep,
    pub image: ToolImage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Copy(CopyStep),
    Run(RunStep),
    Write(WriteStep),
    Tool(ToolStep),
}

impl Step {
    /// The progress line text (after `[stage i/n] `); also the image history's `created_by`, so
    /// credentials in the command are hidden.
    pub fn title(&self) -> String {
        match self {
            Step::Run(r) | Step::Tool(ToolStep { install: r, .. }) => {
                redact_credentials(&r.script()).into_owned()
            }
            Step::Write(w) => format!("write {} ({} files) to {}", w.what, w.files.len(), w.dest),
            Step::Copy(c) => match &c.from {
                CopyFrom::Context(sel) => {
                    let what = if !sel.files.is_empty() {
                        sel.files.join(" ")
                    } else if sel.include.is_empty() {
                        ".".to_string()
                    } else {
                        sel.include.join(" ")
                    };
                    format!("copy {what} to {}", c.dest)
                }
                CopyFrom::Stage { stage, path } => {
                    format!("copy {path} from {}", stage.name())
                }
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub name: StageName,
    pub from: StageFrom,
    pub steps: Vec<Step>,
}

/// An ordered environment: each value may refer to variables set before it (`$PATH`), as
/// successive Dockerfile `ENV` lines do, so order is meaning.
pub type EnvList = Vec<(String, String)>;

/// What the final image declares, on top of what it inherits from its base image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSettings {
    pub workdir: String,
    /// Set in every step and in the image, in this order: the recipe's, then the spec's.
    pub env: EnvList,
    /// Set in the image only (e.g. `NODE_ENV=production`, which would drop dev dependencies if
    /// it were set during the install).
    pub runtime_env: EnvList,
    pub user: String,
    pub ports: Vec<String>,
    pub command: Command,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub language: &'static str,
    pub package_manager: String,
    /// The files that key the dependency steps.
    pub manifests: Vec<String>,
    pub stages: Vec<Stage>,
    pub image: ImageSettings,
    /// What the user should know but is not an error; `render` prints them first.
    pub notes: Vec<String>,
}

impl Plan {
    pub fn stage(&self, name: StageName) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// Every image the plan starts a stage from, in stage order, without duplicates.
    pub fn images(&self) -> Vec<&ImageRef> {
        let mut out: Vec<&ImageRef> = Vec::new();
        for s in &self.stages {
            if let StageFrom::Image(r) = &s.from {
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
    }

    /// Every official tool image a named context may put in place of a tool's install, in step
    /// order, without duplicates.
    pub fn tool_images(&self) -> Vec<&ImageRef> {
        let mut out: Vec<&ImageRef> = Vec::new();
        for step in self.stages.iter().flat_map(|s| &s.steps) {
            if let Step::Tool(t) = step {
                if !out.contains(&&t.image.image) {
                    out.push(&t.image.image);
                }
            }
        }
        out
    }

    /// The human-readable plan that `strata plan` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(
            out,
            "language {} · package manager {} · install keyed by {}",
            self.language,
            self.package_manager,
            self.manifests.join(", ")
        );
        for stage in &self.stages {
            let from = match &stage.from {
                StageFrom::Image(r) => format!("FROM {r}"),
                StageFrom::Stage(s) => format!("FROM stage {}", s.name()),
            };
            let _ = writeln!(out, "\n[{}] {from}", stage.name.name());
            let n = stage.steps.len();
            for (i, step) in stage.steps.iter().enumerate() {
                let _ = writeln!(out, "  {}/{n} {}", i + 1, step.title());
                match step {
                    Step::Copy(CopyStep {
                        from: CopyFrom::Context(sel),
                        ..
                    }) if !sel.exclude.is_empty() => {
                        let _ = writeln!(out, "      except: {}", sel.exclude.join(", "));
                    }
                    Step::Run(r) | Step::Tool(ToolStep { install: r, .. }) => {
                        if let Step::Tool(t) = step {
                            let _ = writeln!(
                                out,
                                "      or, given --build-context {}=docker-image://IMAGE: {}",
                                t.image.image.familiar(),
                                t.image.title("IMAGE")
                            );
                        }
                        for c in &r.caches {
                            let id = c.scoped_id("<platform>");
                            let sharing = c.sharing.name();
                            let _ = writeln!(out, "      cache {} (id {id}, {sharing})", c.target);
                        }
                        if let Some(l) = &r.layer_cache {
                            let c = &l.cache;
                            let id = c.scoped_id("<platform>");
                            let sharing = c.sharing.name();
                            let _ = writeln!(
                                out,
                                "      cache {} (id {id}, {sharing}), kept in the layer:",
                                c.target
                            );
                            let _ = writeln!(
                                out,
                                "      then, with that cache at {LAYER_CACHE_SCRATCH}: {}",
                                l.script()
                            );
                        }
                        if r.ssh_agent {
                            let _ = writeln!(
                                out,
                                "      ssh agent, if the build is given one (--ssh default)"
                            );
                        }
                        for s in &r.secrets {
                            let _ = match &s.target {
                                SecretTarget::Env(e) => {
                                    writeln!(out, "      secret {} as ${e}", s.id)
                                }
                                SecretTarget::File(f) => {
                                    writeln!(out, "      secret {} at {f}", s.id)
                                }
                            };
                        }
                        if !r.env.is_empty() {
                            let env: Vec<String> =
                                r.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                            let _ = writeln!(out, "      env {}", env.join(" "));
                        }
                    }
                    Step::Write(w) => {
                        for f in &w.files {
                            let _ = writeln!(out, "      {}", f.path);
                        }
                    }
                    _ => {}
                }
            }
        }
        let img = &self.image;
        let _ = writeln!(out, "\n[image]");
        let _ = writeln!(out, "  workdir {}", img.workdir);
        let _ = writeln!(out, "  user {}", img.user);
        if !img.ports.is_empty() {
            let _ = writeln!(out, "  expose {}", img.ports.join(" "));
        }
        let env: Vec<String> = img
            .env
            .iter()
            .chain(&img.runtime_env)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !env.is_empty() {
            let _ = writeln!(out, "  env {}", env.join(" "));
        }
        let _ = writeln!(out, "  cmd {}", render_command(&img.command));
        for (k, v) in &img.labels {
            let _ = writeln!(out, "  label {k}={v}");
        }
        // Env values and labels can hold credentials too (`PIP_INDEX_URL=https://u:TOKEN@…`).
        redact_credentials(&out).into_owned()
    }
}

pub fn render_command(c: &Command) -> String {
    match c {
        Command::Shell(s) => s.clone(),
        Command::Exec(v) => serde_json::to_string(v).unwrap_or_default(),
    }
}
