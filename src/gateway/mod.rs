//! The frontend edge: runs under BuildKit, reads the spec and the manifests over the LLBBridge,
//! resolves base images, solves the LLB the core produced and returns it with the image config.
//! Every failure is returned to BuildKit as an error status, so it shows in `docker build`.

mod error;
mod transport;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::frontend as gw;
use bollard_buildkit_proto::pb;
use serde_json::Value;
use tracing::{debug, warn};

use crate::caps::Caps;
use crate::context::{
    ContextFiles, ContextSource, Entry, EntryKind, MAX_FILE_BYTES, ignore_patterns, read_context,
};
use crate::diag::{Diagnostic, Diagnostics, SourceText};
use crate::explain::{self, CheckConfig};
use crate::image::ImageConfig;
use crate::lower::{self, Context, LowerInput, ResolvedImage};
use crate::options::{BuildOptions, GitContext, Request, parse_options};
use crate::platform::Platform;
use crate::recipe;
use crate::reference::ImageRef;
use crate::spec::{self, Spec};

pub use error::{Failure, daemon_error, scrub_host_paths};
use transport::Client;

const OPT_PREFIX: &str = "BUILDKIT_FRONTEND_OPT_";
/// Go's os.FileMode directory bit, as BuildKit's Stat reports it.
const MODE_DIR: u32 = 1 << 31;
/// Go's os.FileMode symbolic-link bit.
const MODE_SYMLINK: u32 = 1 << 27;
/// ReadFile asks for at most this much at a time, well under the message size limit.
const READ_CHUNK: usize = 4 << 20;

/// Entry point of `strata frontend`. Always exits the process: returning from `main` was seen to
/// hang on tokio's blocking stdin reader after `Return`.
pub fn main() -> ! {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(false)
        .init();
    let code = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("strata: cannot start the runtime: {e}");
            1
        }
    };
    std::process::exit(code)
}

/// What BuildKit tells the frontend through its environment.
pub struct FrontendEnv {
    pub opts: BTreeMap<String, String>,
    pub session: Option<String>,
    /// The worker's default platform (`BUILDKIT_WORKERS[0].platforms[0]`).
    pub worker_platform: Option<Platform>,
}

impl FrontendEnv {
    pub fn from_vars(vars: impl Iterator<Item = (String, String)>) -> FrontendEnv {
        let mut opts = BTreeMap::new();
        let mut session = None;
        let mut worker_platform = None;
        for (k, v) in vars {
            if k.starts_with(OPT_PREFIX) {
                let (key, value) = v.split_once('=').unwrap_or((&v, ""));
                opts.insert(key.to_string(), value.to_string());
            } else if k == "BUILDKIT_SESSION_ID" && !v.is_empty() {
                session = Some(v);
            } else if k == "BUILDKIT_WORKERS" {
                worker_platform = default_platform(&v);
            }
        }
        FrontendEnv {
            opts,
            session,
            worker_platform,
        }
    }
}

/// Docker 20.10 writes Go field names (`Platforms`), newer engines lower-case JSON keys.
fn default_platform(workers_json: &str) -> Option<Platform> {
    let workers: Value = serde_json::from_str(workers_json).ok()?;
    let get = |v: &Value, key: &str| -> Option<Value> {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let first = get(workers.as_array()?.first()?, "platforms")?;
    let p = first.as_array()?.first()?.clone();
    let field = |key| get(&p, key).and_then(|v| v.as_str().map(String::from));
    let mut id = format!("{}/{}", field("os")?, field("architecture")?);
    if let Some(variant) = field("variant").filter(|v| !v.is_empty()) {
        id = format!("{id}/{variant}");
    }
    Platform::parse(&id).ok()
}

/// How long the frontend waits for BuildKit to answer `Ping` (and `Inputs`, `Return`), which it
/// answers at once: past this, stdio is not BuildKit's.
const PING_TIMEOUT: Duration = Duration::from_secs(15);

async fn run() -> i32 {
    let env = FrontendEnv::from_vars(std::env::vars());
    let client = match transport::connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("strata: cannot connect to BuildKit over stdio: {e}");
            return 1;
        }
    };
    let mut bridge = Bridge {
        client,
        session: env.session.clone(),
    };
    // Inputs (BuildKit v0.7+, so on every daemon we support) does not need Ping's answer: ask both
    // at once to save a round trip.
    // A failed Ping means nobody is there to Return to (stdio is not BuildKit's, or it is gone):
    // say so on stderr and exit rather than wait on the pipe. Inputs waits no longer than Ping.
    let mut second = bridge.clone();
    let (caps, inputs) = tokio::join!(bridge.ping(), async {
        tokio::time::timeout(PING_TIMEOUT, second.inputs())
            .await
            .unwrap_or_else(|_| Err(Failure::new(Diagnostic::plain("no answer to Inputs"))))
    });
    let caps = match caps {
        Ok(caps) => caps,
        Err(f) => {
            eprintln!(
                "strata: cannot reach BuildKit on stdin/stdout: {} (`strata frontend` is started by \
                 BuildKit for a spec whose first line is `# syntax=<strata image>`; to try a spec \
                 by hand, run `strata plan DIR`)",
                f.diagnostics
            );
            return 1;
        }
    };
    let outcome = match inputs {
        Ok(inputs) => build(&mut bridge, &env, &caps, &inputs).await,
        Err(f) => Err(f),
    };
    let request = match outcome {
        Ok(result) => gw::ReturnRequest {
            result: Some(result),
            error: None,
        },
        Err(failure) => {
            debug!("returning error: {}", failure.diagnostics);
            gw::ReturnRequest {
                result: None,
                error: Some(failure.to_status()),
            }
        }
    };
    match tokio::time::timeout(PING_TIMEOUT, bridge.client.r#return(request)).await {
        Ok(Ok(_)) => 0,
        Ok(Err(e)) => {
            eprintln!("strata: Return failed: {e}");
            1
        }
        Err(_) => {
            eprintln!(
                "strata: BuildKit did not answer Return within {} s",
                PING_TIMEOUT.as_secs()
            );
            1
        }
    }
}

/// What the daemon can do, from `Ping`.
pub struct DaemonCaps {
    pub api: Vec<String>,
    pub llb: Caps,
}

impl DaemonCaps {
    fn has_api(&self, id: &str) -> bool {
        self.api.iter().any(|a| a == id)
    }
}

#[derive(Clone)]
struct Bridge {
    client: Client,
    session: Option<String>,
}

impl Bridge {
    async fn ping(&mut self) -> Result<DaemonCaps, Failure> {
        let pong = tokio::time::timeout(PING_TIMEOUT, self.client.ping(gw::PingRequest {}))
            .await
            .map_err(|_| {
                Failure::new(Diagnostic::plain(format!(
                    "BuildKit did not answer Ping within {} s",
                    PING_TIMEOUT.as_secs()
                )))
            })?
            .map_err(|s| Failure::daemon("Ping", &s))?
            .into_inner();
        let enabled = |caps: Vec<bollard_buildkit_proto::moby::buildkit::v1::apicaps::ApiCap>| {
            caps.into_iter()
                .filter(|c| c.enabled)
                .map(|c| c.id)
                .collect::<Vec<_>>()
        };
        let api = enabled(pong.frontend_api_caps);
        let llb = enabled(pong.llb_caps);
        debug!("daemon API caps: {api:?}; LLB caps: {llb:?}");
        Ok(DaemonCaps {
            api,
            llb: Caps::from_enabled(llb),
        })
    }

    /// LLB states the client passed instead of local directories (`context`, `dockerfile`).
    async fn inputs(&mut self) -> Result<HashMap<String, pb::Definition>, Failure> {
        match self.client.inputs(gw::InputsRequest {}).await {
            Ok(r) => Ok(r.into_inner().definitions),
            // A daemon without the call has no inputs to give.
            Err(s) if s.code() == tonic::Code::Unimplemented => Ok(HashMap::new()),
            Err(s) => Err(Failure::daemon("reading the frontend inputs", &s)),
        }
    }

    async fn solve(
        &mut self,
        definition: pb::Definition,
        cache_imports: &BuildOptions,
    ) -> Result<String, tonic::Status> {
        let request = gw::SolveRequest {
            definition: Some(definition),
            allow_result_return: true,
            allow_result_array_ref: true,
            cache_imports: cache_imports
                .cache_imports
                .iter()
                .map(|c| gw::CacheOptionsEntry {
                    r#type: c.kind.clone(),
                    attrs: c.attrs.clone().into_iter().collect(),
                })
                .collect(),
            ..Default::default()
        };
        let response = self.client.solve(request).await?.into_inner();
        let id = match response.result.and_then(|r| r.result) {
            Some(gw::result::Result::Ref(r)) => r.id,
            Some(gw::result::Result::RefDeprecated(id)) => id,
            _ => response.r#ref,
        };
        Ok(id)
    }

    /// Solves a local source with the given attributes, named as it should show in progress.
    async fn local(
        &mut self,
        name: &str,
        attrs: BTreeMap<String, String>,
        session: Option<&String>,
        title: &str,
    ) -> Result<String, tonic::Status> {
        let (def, _) = self.local_definition(name, attrs, session, title);
        self.solve(def, &BuildOptions::default()).await
    }

    /// The build context as a ref: a local source with these attributes, or the input that
    /// replaces the local directory (which arrives whole; the attributes cannot apply to it).
    async fn context(
        &mut self,
        context: &Context,
        attrs: BTreeMap<String, String>,
        title: &str,
    ) -> Result<String, tonic::Status> {
        match context {
            Context::Local { name, session } => {
                self.local(name, attrs, session.as_ref(), title).await
            }
            Context::Input(def) => self.solve(def.clone(), &BuildOptions::default()).await,
        }
    }

    /// A definition holding one local source, and that source's vertex digest.
    fn local_definition(
        &self,
        name: &str,
        mut attrs: BTreeMap<String, String>,
        session: Option<&String>,
        title: &str,
    ) -> (pb::Definition, String) {
        if let Some(s) = session.or(self.session.as_ref()) {
            attrs.insert("local.session".into(), s.clone());
        }
        let mut graph = crate::llb::Graph::new();
        let state = graph.source(
            &format!("local://{name}"),
            attrs,
            None,
            crate::llb::Vertex::named(title),
        );
        (graph.definition(&state, Vec::new()), state.digest)
    }

    /// A warning under the given vertex in the build output (BuildKit v0.10+ only).
    async fn warn(&mut self, vertex: &str, message: &str) {
        let request = gw::WarnRequest {
            digest: vertex.to_string(),
            level: 1,
            short: message.as_bytes().to_vec(),
            ..Default::default()
        };
        if let Err(e) = self.client.warn(request).await {
            warn!("could not send a warning to BuildKit: {e}");
        }
    }

    async fn read_file(&mut self, reference: &str, path: &str) -> Result<Vec<u8>, tonic::Status> {
        Ok(self
            .client
            .read_file(gw::ReadFileRequest {
                r#ref: reference.to_string(),
                file_path: path.to_string(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .data)
    }
}

/// The build context as BuildKit shows it to the frontend: each `select` is a transfer of the
/// local source filtered to the recipe's patterns (or the input context, whole); listing and
/// reading go through ReadDir/ReadFile on the result.
struct GatewayContext<'a> {
    bridge: &'a mut Bridge,
    context: &'a Context,
    reference: String,
}

impl ContextSource for GatewayContext<'_> {
    async fn select(&mut self, include: &[String], exclude: &[String]) -> Result<(), Diagnostic> {
        let attrs = local_attrs(include, exclude, "strata-probe");
        self.reference = self
            .bridge
            .context(self.context, attrs, "[internal] load manifest list")
            .await
            .map_err(|s| daemon_error("loading the build context", &s))?;
        Ok(())
    }

    async fn read_dirs(&mut self, dirs: &[String]) -> Result<Vec<Vec<Entry>>, Diagnostic> {
        // Concurrently: a workspace with a thousand packages is a thousand ReadDir calls, and each
        // is a round trip to the daemon.
        let mut reads = tokio::task::JoinSet::new();
        for (i, dir) in dirs.iter().enumerate() {
            let mut client = self.bridge.client.clone();
            let request = gw::ReadDirRequest {
                r#ref: self.reference.clone(),
                dir_path: if dir.is_empty() {
                    "/".into()
                } else {
                    dir.clone()
                },
                ..Default::default()
            };
            reads.spawn(async move { (i, client.read_dir(request).await) });
        }
        let mut out = vec![Vec::new(); dirs.len()];
        while let Some(joined) = reads.join_next().await {
            let (i, response) = joined.map_err(|e| Diagnostic::plain(e.to_string()))?;
            let response = response.map_err(|s| daemon_error("listing the build context", &s))?;
            out[i] = response
                .into_inner()
                .entries
                .into_iter()
                .map(|e| {
                    let name = e.path.rsplit('/').next().unwrap_or(&e.path).to_string();
                    let kind = if e.mode & MODE_DIR != 0 {
                        EntryKind::Dir
                    } else if e.mode & MODE_SYMLINK != 0 {
                        EntryKind::Symlink(e.linkname)
                    } else {
                        EntryKind::File
                    };
                    Entry { name, kind }
                })
                .collect();
        }
        Ok(out)
    }

    async fn read_file(&mut self, path: &str) -> Result<Vec<u8>, Diagnostic> {
        let data = self.read_up_to(path, MAX_FILE_BYTES + 1).await?;
        if data.len() > MAX_FILE_BYTES {
            return Err(too_large(path));
        }
        Ok(data)
    }

    async fn read_head(&mut self, path: &str, limit: usize) -> Result<Vec<u8>, Diagnostic> {
        self.read_up_to(path, limit).await
    }
}

impl GatewayContext<'_> {
    /// The first `limit` bytes of a file (all of it when shorter), in ranges: a whole lockfile can
    /// be larger than one gRPC message.
    async fn read_up_to(&mut self, path: &str, limit: usize) -> Result<Vec<u8>, Diagnostic> {
        let failed = |s: tonic::Status| daemon_error(format!("reading {path}"), &s);
        let mut data = Vec::new();
        while data.len() < limit {
            let want = (limit - data.len()).min(READ_CHUNK);
            let chunk = self
                .bridge
                .client
                .read_file(gw::ReadFileRequest {
                    r#ref: self.reference.clone(),
                    file_path: path.to_string(),
                    range: Some(gw::FileRange {
                        offset: data.len() as i64,
                        length: want as i64,
                    }),
                    ..Default::default()
                })
                .await
                .map_err(failed)?
                .into_inner()
                .data;
            let last = chunk.len() < want;
            data.extend_from_slice(&chunk);
            if last {
                break;
            }
        }
        data.truncate(limit);
        Ok(data)
    }
}

fn too_large(path: &str) -> Diagnostic {
    Diagnostic::plain(format!(
        "`{path}` is larger than {} MiB, too large for a manifest",
        MAX_FILE_BYTES >> 20
    ))
    .help("check that the manifest patterns select dependency files only")
}

fn local_attrs(include: &[String], exclude: &[String], hint: &str) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    if !include.is_empty() {
        let list = serde_json::to_string(include).unwrap_or_default();
        attrs.insert("local.includepattern".into(), list.clone());
        attrs.insert("local.followpaths".into(), list);
    }
    if !exclude.is_empty() {
        attrs.insert(
            "local.excludepatterns".into(),
            serde_json::to_string(exclude).unwrap_or_default(),
        );
    }
    attrs.insert("local.sharedkeyhint".into(), hint.into());
    attrs
}

async fn build(
    bridge: &mut Bridge,
    env: &FrontendEnv,
    caps: &DaemonCaps,
    inputs: &HashMap<String, pb::Definition>,
) -> Result<gw::Result, Failure> {
    let options = parse_options(&env.opts)?;
    for key in &options.ignored {
        warn!("ignoring unknown build option `{key}`");
    }
    if options.request == Some(Request::Describe) {
        return Ok(answer(explain::describe()));
    }
    let build_platform = env
        .worker_platform
        .clone()
        .unwrap_or_else(Platform::linux_amd64);
    let platforms = if options.platforms.is_empty() {
        vec![build_platform.clone()]
    } else {
        options.platforms.clone()
    };

    let started = std::time::Instant::now();
    let lap = |what: &str| debug!("{what} done at {:?}", started.elapsed());

    // The context: a local directory BuildKit filters for us, an LLB input, or a Git repository
    // (BuildKit clones it; the spec comes from it too unless `dockerfilekey` says otherwise).
    let git = match (inputs.get("context"), &options.git_context) {
        (None, Some(g)) => Some(git_definition(g, &caps.llb)?),
        _ => None,
    };
    let context = match inputs.get("context").or(git.as_ref()) {
        Some(def) => Context::Input(def.clone()),
        None => Context::Local {
            name: options.context_local.clone(),
            session: options
                .local_sessions
                .get(&options.context_local)
                .or(env.session.as_ref())
                .cloned(),
        },
    };
    let spec_input = inputs
        .get("dockerfile")
        .or(git.as_ref().filter(|_| !options.dockerfile_local_forced));
    // The spec (with `<spec>.dockerignore` beside it) and the context's `.dockerignore` are
    // independent transfers: fetch them at the same time.
    let filename = options.filename.clone();
    let mut second = bridge.clone();
    let (spec_files, context_ignore) = tokio::join!(
        read_spec(bridge, &options, spec_input),
        read_context_file(&mut second, &context, ".dockerignore"),
    );
    lap("reading the spec and .dockerignore");
    let SpecFiles {
        text,
        ignore: spec_ignore,
        vertex: spec_vertex,
    } = spec_files?;
    let warnings = caps.has_api("gateway.warnings");
    if warnings {
        for key in &options.ignored {
            let message =
                format!("build option `{key}` is not known to this Strata version and was ignored");
            bridge.warn(&spec_vertex, &message).await;
        }
    }
    let source = spec::decode(filename.clone(), text).map_err(Failure::new)?;
    // `${TARGETARCH}` and friends make the spec a function of the platform: one spec per platform.
    let parse_for = |platform: &Platform| {
        spec::parse(
            source.clone(),
            &options.spec_args(platform, &build_platform),
        )
        .map_err(|d| Failure::new(d).with_source(&source))
    };
    let spec = parse_for(&platforms[0])?;

    let ignore = match spec_ignore {
        Some(t) => ignore_patterns(Some(&t), None),
        None => ignore_patterns(None, context_ignore?.as_deref()),
    };
    let context = if options.local_contexts.is_empty() {
        context
    } else {
        with_directories(&context, &options, &ignore, env.session.as_ref())?
    };
    let recipe =
        recipe::recipe_for(&spec).map_err(|d| Failure::new(d).with_source(&spec.source))?;
    let mut source_reader = GatewayContext {
        bridge,
        context: &context,
        reference: String::new(),
    };
    // The context is read once: what a recipe lists does not depend on the target platform.
    let ctx = read_context(&mut source_reader, &spec, recipe, ignore)
        .await
        .map_err(|d| Failure::new(d).with_source(&spec.source))?;
    lap("probing the context");
    let planned = recipe::plan(&spec, &ctx);
    let check_config = CheckConfig::from(&spec, &options);
    let findings = explain::check(&spec, planned.as_ref().ok(), &ctx, &check_config);
    match options.request {
        Some(Request::Lint) => {
            return Ok(answer(explain::lint(
                &spec,
                &ctx,
                &findings,
                planned.as_ref().err(),
            )));
        }
        Some(Request::Outline) => {
            let plan = planned.map_err(|d| plan_failure(d, &spec, &ctx))?;
            return Ok(answer(explain::outline(&spec, &plan, &options)));
        }
        Some(Request::Targets) => {
            let plan = planned.map_err(|d| plan_failure(d, &spec, &ctx))?;
            return Ok(answer(explain::targets(&spec, &plan)));
        }
        Some(Request::Describe) | None => {}
    }
    let plan = planned.map_err(|d| plan_failure(d, &spec, &ctx))?;
    if check_config.error && !findings.is_empty() {
        let diagnostics: Vec<Diagnostic> = findings.iter().map(explain::as_diagnostic).collect();
        return Err(Failure::new(Diagnostics(diagnostics)).with_source(&spec.source));
    }
    let mut said: Vec<String> = plan.notes.clone();
    said.extend(findings.iter().map(|f| {
        let place = f.at.as_ref().map_or(String::new(), |(src, span)| {
            let p = src.position(span.start);
            format!("{}:{}:{}: ", src.name, p.line, p.column)
        });
        format!("{place}{}: {}", f.rule, f.detail)
    }));
    for message in &said {
        if warnings {
            bridge.warn(&spec_vertex, message).await;
        } else {
            warn!("{message}");
        }
    }

    let mut built = Vec::new();
    for (i, platform) in platforms.iter().enumerate() {
        let (spec, plan) = if i == 0 {
            (spec.clone(), plan.clone())
        } else {
            let spec = parse_for(platform)?;
            let plan = recipe::plan(&spec, &ctx).map_err(|d| plan_failure(d, &spec, &ctx))?;
            (spec, plan)
        };
        let mut images = BTreeMap::new();
        for image in plan.images() {
            let resolved = resolve_image(bridge, image, platform, &options, &spec).await?;
            images.insert(image.clone(), resolved);
        }
        // A tool's official image only when a named context replaces it: without one the tool is
        // installed from its registry, and the image (often unreachable, as on this project's
        // CI) is never asked for.
        for image in plan.tool_images() {
            let named = options.named_context(&image.familiar(), platform).is_some();
            if named && !images.contains_key(image) {
                let resolved = resolve_image(bridge, image, platform, &options, &spec).await?;
                images.insert(image.clone(), resolved);
            }
        }
        lap("resolving images");
        let lowered = lower::lower(&LowerInput {
            plan: &plan,
            images: &images,
            options: &options,
            platform,
            caps: &caps.llb,
            context: &context,
            spec: Some(&spec.source),
        })?;
        let id = bridge
            .solve(lowered.definition, &options)
            .await
            .map_err(|s| Failure::daemon("solving the build", &s))?;
        lap("solving");
        built.push((platform.clone(), id, lowered.image_config));
    }
    Ok(result(built, options.multi_platform))
}

/// The build's result: one image, or one per platform (`refs`, with `refs.platforms` naming them)
/// when several platforms were asked for or the client wants a list.
fn result(built: Vec<(Platform, String, ImageConfig)>, multi: bool) -> gw::Result {
    let mut metadata = HashMap::new();
    if !multi {
        if let Some((_, id, config)) = built.into_iter().next() {
            metadata.insert("containerimage.config".to_string(), config.to_json());
            return gw::Result {
                result: Some(gw::result::Result::Ref(gw::Ref { id, def: None })),
                metadata,
                ..Default::default()
            };
        }
        return gw::Result::default();
    }
    let mut refs = HashMap::new();
    let mut listed = Vec::new();
    for (platform, id, config) in built {
        let key = platform.to_string();
        metadata.insert(format!("containerimage.config/{key}"), config.to_json());
        let mut p = serde_json::json!({"architecture": platform.architecture, "os": platform.os});
        if let Some(v) = &platform.variant {
            p["variant"] = serde_json::json!(v);
        }
        listed.push(serde_json::json!({"ID": key, "Platform": p}));
        refs.insert(key, gw::Ref { id, def: None });
    }
    metadata.insert(
        "refs.platforms".to_string(),
        serde_json::to_vec(&serde_json::json!({ "Platforms": listed })).unwrap_or_default(),
    );
    gw::Result {
        result: Some(gw::result::Result::Refs(gw::RefMap { refs })),
        metadata,
        ..Default::default()
    }
}

/// A Git repository as the build context, the source op Go's `llb.Git` makes for it (identifier
/// `git://host/path#ref:dir`, the URL git fetches in `git.fullurl`), named in progress output as the
/// Dockerfile frontend names it. `GIT_AUTH_TOKEN`/`GIT_AUTH_HEADER` secrets reach the clone, as for
/// Dockerfiles; over SSH, the agent of `--ssh default` does.
fn git_definition(git: &GitContext, caps: &Caps) -> Result<pb::Definition, Failure> {
    if !git.subdir.is_empty() && !caps.has(crate::caps::GIT_SUBDIR) {
        return Err(Failure::new(Diagnostic::option(
            "context",
            format!(
                "a subdirectory of a Git context (`:{}`) needs BuildKit v0.9 or later",
                git.subdir
            ),
        )));
    }
    let fragment = match (git.reference.as_str(), git.subdir.as_str()) {
        ("", "") => String::new(),
        (reference, "") => format!("#{reference}"),
        (reference, dir) => format!("#{reference}:{dir}"),
    };
    let mut attrs = BTreeMap::from([
        ("git.fullurl".to_string(), git.remote.clone()),
        (
            "git.authtokensecret".to_string(),
            "GIT_AUTH_TOKEN".to_string(),
        ),
        (
            "git.authheadersecret".to_string(),
            "GIT_AUTH_HEADER".to_string(),
        ),
    ]);
    if git.keep_git_dir {
        attrs.insert("git.keepgitdir".into(), "true".into());
    }
    if git.ssh {
        attrs.insert("git.mountsshsock".into(), "default".into());
    }
    let mut graph = crate::llb::Graph::new();
    let state = graph.source(
        &format!("git://{}{fragment}", git.host_path),
        attrs,
        None,
        crate::llb::Vertex::named(format!(
            "[internal] load git source {}",
            crate::redact::redact_credentials(&format!("{}{fragment}", git.remote))
        )),
    );
    Ok(graph.definition(&state, Vec::new()))
}

/// The build context with each directory named context (`--build-context NAME=DIR`) at `NAME/`,
/// as one LLB state the rest of the build takes as it takes an input context: the install still
/// copies only the manifests out of it (BuildKit keys each copy on the content it copies), but the
/// context is transferred whole (less `.dockerignore`) rather than filtered per step.
fn with_directories(
    context: &Context,
    options: &BuildOptions,
    ignore: &[String],
    session: Option<&String>,
) -> Result<Context, Failure> {
    use crate::llb::{Graph, Vertex, copy_action};
    let mut graph = Graph::new();
    let local = |graph: &mut Graph, name: &str, mut attrs: BTreeMap<String, String>, title| {
        if let Some(s) = options.local_sessions.get(name).or(session) {
            attrs.insert("local.session".into(), s.clone());
        }
        graph.source(
            &format!("local://{name}"),
            attrs,
            None,
            Vertex::named(title),
        )
    };
    let mut state = match context {
        Context::Local { name, .. } => local(
            &mut graph,
            name,
            local_attrs(&[], ignore, "context"),
            "[internal] load build context".to_string(),
        ),
        Context::Input(def) => graph.import(def).ok_or_else(|| {
            Failure::new(Diagnostic::plain(
                "the build context given as a frontend input is empty or not valid LLB",
            ))
        })?,
    };
    for (dir, name) in &options.local_contexts {
        let src = local(
            &mut graph,
            name,
            local_attrs(&[], &[], &format!("context-{dir}")),
            format!("[internal] load build context {dir}"),
        );
        state = graph.copy(
            &state,
            &src,
            copy_action("/", &format!("/{dir}/")),
            Vertex::named(format!("[internal] put build context {dir} at {dir}/")),
        );
    }
    Ok(Context::Input(graph.definition(&state, Vec::new())))
}

/// A subrequest's reply: metadata only, no refs.
fn answer(a: explain::Answer) -> gw::Result {
    gw::Result {
        metadata: a.metadata().into_iter().collect(),
        ..Default::default()
    }
}

/// A planning error, with the text of the file it points into (the spec or a manifest).
fn plan_failure(d: Diagnostics, spec: &Spec, ctx: &ContextFiles) -> Failure {
    let file = match d.first().map(|d| &d.location) {
        Some(crate::diag::Location::File { name, .. }) => Some(name.clone()),
        _ => None,
    };
    let source = match file {
        Some(f) if f == spec.source.name => Some(spec.source.clone()),
        Some(f) => ctx.text(&f).map(|t| SourceText::new(f, t)),
        None => None,
    };
    Failure {
        diagnostics: d,
        source,
    }
}

/// The spec file and the optional `<spec>.dockerignore` beside it, from the `dockerfile` local (or
/// the input that replaces it).
async fn read_spec(
    bridge: &mut Bridge,
    options: &BuildOptions,
    input: Option<&pb::Definition>,
) -> Result<SpecFiles, Failure> {
    let filename = &options.filename;
    let (def, vertex) = match input {
        Some(def) => {
            let last = def
                .def
                .last()
                .and_then(|b| <pb::Op as prost::Message>::decode(b.as_slice()).ok());
            let vertex = last.and_then(|op| op.inputs.first().map(|i| i.digest.clone()));
            (def.clone(), vertex.unwrap_or_default())
        }
        None => {
            let mut wanted = vec![filename.clone(), format!("{filename}.dockerignore")];
            wanted.extend(lower_case_dockerfile(filename));
            let session = options.local_sessions.get(&options.dockerfile_local);
            // The same source op the Dockerfile frontend built to read the `# syntax=` line (its
            // attributes, and the empty worker constraints Go writes): BuildKit v0.11+ then
            // transfers the spec once, not twice.
            let attrs = BTreeMap::from([
                (
                    "local.followpaths".to_string(),
                    serde_json::to_string(&wanted).unwrap_or_default(),
                ),
                (
                    "local.sharedkeyhint".to_string(),
                    options.dockerfile_local.clone(),
                ),
                ("local.differ".to_string(), "none".to_string()),
            ]);
            bridge.local_definition(
                &options.dockerfile_local,
                attrs,
                session,
                &format!("[internal] load build definition from {filename}"),
            )
        }
    };
    let spec_ref = bridge
        .solve(def, options)
        .await
        .map_err(|s| Failure::daemon(format!("loading {filename}"), &s))?;
    let mut text = bridge.read_file(&spec_ref, filename).await;
    if let (Err(_), Some(lower)) = (&text, lower_case_dockerfile(filename)) {
        text = bridge.read_file(&spec_ref, &lower).await;
    }
    let text = text.map_err(|_| {
        Failure::new(
            Diagnostic::option(
                "filename",
                format!("cannot read `{filename}` from the build definition directory"),
            )
            .help("pass the spec with -f (e.g. `-f strata.toml`)"),
        )
    })?;
    let ignore = bridge
        .read_file(&spec_ref, &format!("{filename}.dockerignore"))
        .await
        .ok();
    Ok(SpecFiles {
        text,
        ignore,
        vertex,
    })
}

/// Docker reads a lower-case `dockerfile` when `Dockerfile` (the default name) is missing
/// (moby/moby#10858).
fn lower_case_dockerfile(filename: &str) -> Option<String> {
    let dir = filename.strip_suffix("Dockerfile")?;
    (dir.is_empty() || dir.ends_with('/')).then(|| format!("{dir}dockerfile"))
}

struct SpecFiles {
    text: Vec<u8>,
    /// `<spec>.dockerignore`, when there is one.
    ignore: Option<Vec<u8>>,
    /// The vertex that loaded the spec: warnings about the build definition go under it.
    vertex: String,
}

/// A single optional file from the context (`.dockerignore`): `None` when it does not exist.
async fn read_context_file(
    bridge: &mut Bridge,
    context: &Context,
    path: &str,
) -> Result<Option<Vec<u8>>, Failure> {
    let wanted = vec![path.to_string()];
    let attrs = local_attrs(&wanted, &[], &format!("context-{path}"));
    let reference = bridge
        .context(context, attrs, &format!("[internal] load {path}"))
        .await
        .map_err(|s| Failure::daemon(format!("loading {path}"), &s))?;
    Ok(bridge.read_file(&reference, path).await.ok())
}

async fn resolve_image(
    bridge: &mut Bridge,
    image: &ImageRef,
    platform: &Platform,
    options: &BuildOptions,
    spec: &Spec,
) -> Result<ResolvedImage, Failure> {
    let replacement = options.named_context(&image.familiar(), platform).cloned();
    let actual = replacement.clone().unwrap_or_else(|| image.clone());
    let name = actual.clone().with_default_tag().to_string();
    let response = bridge
        .client
        .resolve_image_config(gw::ResolveImageConfigRequest {
            r#ref: name.clone(),
            platform: Some(pb::Platform {
                architecture: platform.architecture.clone(),
                os: platform.os.clone(),
                variant: platform.variant.clone().unwrap_or_default(),
                ..Default::default()
            }),
            resolve_mode: options.resolve_mode.as_str().into(),
            log_name: format!("[internal] load metadata for {name}"),
            session_id: bridge.session.clone().unwrap_or_default(),
            ..Default::default()
        })
        .await
        .map_err(|s| {
            let message = format!(
                "cannot resolve image `{name}`: {}",
                scrub_host_paths(s.message())
            );
            if replacement.is_some() {
                let option = format!("context:{}", image.familiar());
                return Failure::new(Diagnostic::option(option, message));
            }
            // Point at the spec key that named the image; a default image comes from `version` (or
            // the language's default version).
            let from_spec = [&spec.base, &spec.runtime]
                .into_iter()
                .flatten()
                .find(|l| l.value == *image);
            let (span, help) = match from_spec {
                Some(l) => (
                    l.span.clone(),
                    "check the name and tag, and that the image exists locally or in its registry",
                ),
                None => (
                    spec.version
                        .as_ref()
                        .map_or(spec.language.span.clone(), |v| v.span.clone()),
                    "this is the default image for the language and version; set `base` to an image this builder can pull, or replace it with `--build-context`",
                ),
            };
            Failure::new(Diagnostic::at(&spec.source, span, message).help(help))
                .with_source(&spec.source)
        })?
        .into_inner();
    let config = ImageConfig::parse(&response.config)
        .map_err(|e| Failure::new(Diagnostic::plain(format!("image `{name}`: {e}"))))?;
    Ok(ResolvedImage {
        replacement,
        digest: Some(response.digest).filter(|d| !d.is_empty()),
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_options_and_both_worker_formats() {
        let vars = vec![
            ("BUILDKIT_FRONTEND_OPT_0".to_string(), "filename=strata.toml".to_string()),
            ("BUILDKIT_FRONTEND_OPT_1".to_string(), "build-arg:X=a=b".to_string()),
            ("BUILDKIT_SESSION_ID".to_string(), "s1".to_string()),
            (
                "BUILDKIT_WORKERS".to_string(),
                r#"[{"ID":"moby","Labels":null,"Platforms":[{"architecture":"arm64","os":"linux","variant":"v8"}],"GCPolicy":null}]"#.to_string(),
            ),
        ];
        let env = FrontendEnv::from_vars(vars.into_iter());
        assert_eq!(env.opts["filename"], "strata.toml");
        assert_eq!(env.opts["build-arg:X"], "a=b");
        assert_eq!(env.session.as_deref(), Some("s1"));
        assert_eq!(env.worker_platform.unwrap().to_string(), "linux/arm64");
        let modern =
            r#"[{"id":"x","labels":{},"platforms":[{"architecture":"amd64","os":"linux"}]}]"#;
        assert_eq!(default_platform(modern).unwrap().to_string(), "linux/amd64");
    }
}
