//! The fake daemon: an `LlbBridge` implementation that answers like BuildKit's gateway forwarder
//! (frontend/gateway/gateway.go `llbBridgeForwarder`) and records every request.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use bollard_buildkit_proto::moby::buildkit::v1::frontend as gw;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_server::LlbBridge;
use bollard_buildkit_proto::pb;
use prost::Message;
use tonic::{Code, Request, Response, Status};

use super::caps::CapsProfile;
use super::llb::{Graph, Node};
use super::localfs::{LocalAttrs, LocalView};
use super::tempdir::{TempDir, copy_tree};

/// grpc-go's default receive limit, which BuildKit v0.8–v0.13 servers keep.
pub const MAX_RECV: usize = 4 << 20;

/// An image the fake registry knows.
#[derive(Clone, Debug)]
pub struct ImageEntry {
    pub reference: String,
    pub normalized: String,
    pub digest: Option<String>,
    pub config: Vec<u8>,
}

/// Everything the daemon side is configured with.
#[derive(Clone, Debug)]
pub struct Config {
    pub profile: CapsProfile,
    pub session_id: String,
    pub locals: BTreeMap<String, PathBuf>,
    /// `git.fullurl` → a checkout.
    pub gits: BTreeMap<String, PathBuf>,
    pub images: Vec<ImageEntry>,
    pub inputs: HashMap<String, pb::Definition>,
    pub leak_host_paths: bool,
}

/// One Solve request and how the fake answered it.
#[derive(Clone, Debug)]
pub struct SolveRecord {
    /// When it arrived, measured from the start of the session.
    pub at: Duration,
    pub definition: Option<pb::Definition>,
    /// The decoded definition (`None` when it was empty or failed to load).
    pub graph: Option<Graph>,
    pub frontend: String,
    pub frontend_opt: BTreeMap<String, String>,
    /// Names of `frontend_inputs`.
    pub frontend_inputs: Vec<String>,
    pub cache_imports: Vec<gw::CacheOptionsEntry>,
    pub evaluate: bool,
    pub allow_result_return: bool,
    pub allow_result_array_ref: bool,
    /// Wire size of the request.
    pub request_bytes: usize,
    /// The ref id handed out (`Some("")` for an empty definition).
    pub ref_id: Option<String>,
    /// Fields of the definition the emulated engine would silently drop (see `Graph::engine_gaps`).
    pub ignored_by_engine: Vec<String>,
    /// Why the fake failed the Solve. Real daemons load lazily, so many of these would surface only at
    /// ReadFile/Evaluate/export time; failing early makes the test point at the request.
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadKind {
    ReadFile,
    ReadDir,
    StatFile,
}

/// One ReadFile/ReadDir/StatFile request.
#[derive(Clone, Debug)]
pub struct ReadRecord {
    pub kind: ReadKind,
    pub ref_id: String,
    pub path: String,
    /// ReadFile range (offset, length).
    pub range: Option<(i64, i64)>,
    /// ReadDir include pattern.
    pub include_pattern: String,
    pub error: Option<String>,
}

/// Every RPC in arrival order.
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub method: &'static str,
    pub at: Duration,
    pub error: Option<(Code, String)>,
}

/// What the frontend passed to `Return`.
#[derive(Clone, Debug, PartialEq)]
pub enum Returned {
    Ok(ReturnedResult),
    Err(RpcStatus),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReturnedResult {
    pub refs: ReturnedRefs,
    /// True when the deprecated oneof members (`refDeprecated`/`refsDeprecated`) were used.
    pub deprecated_form: bool,
    pub metadata: BTreeMap<String, Vec<u8>>,
    /// Platform keys that carried attestations.
    pub attestations: Vec<String>,
}

impl ReturnedResult {
    /// Metadata value as UTF-8 (lossy).
    pub fn metadata_str(&self, key: &str) -> Option<String> {
        self.metadata
            .get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Metadata value parsed as JSON (e.g. `containerimage.config`).
    pub fn metadata_json(&self, key: &str) -> Option<serde_json::Value> {
        self.metadata
            .get(key)
            .and_then(|v| serde_json::from_slice(v).ok())
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum ReturnedRefs {
    /// The result oneof was not set.
    #[default]
    None,
    Single(String),
    Map(BTreeMap<String, String>),
}

struct RefEntry {
    graph: Graph,
    view: Option<Arc<LocalView>>,
    /// Where a ref that is not a plain local source was materialised (kept while the view lives).
    tree: Option<TempDir>,
}

/// The session log, turned into an `Outcome` at the end.
#[derive(Default)]
pub struct Log {
    pub solves: Vec<SolveRecord>,
    pub resolves: Vec<gw::ResolveImageConfigRequest>,
    pub reads: Vec<ReadRecord>,
    pub warnings: Vec<gw::WarnRequest>,
    pub calls: Vec<CallRecord>,
    pub returned: Option<Returned>,
    pub return_at: Option<Duration>,
    refs: HashMap<String, RefEntry>,
    next_ref: u32,
}

pub struct State {
    pub config: Config,
    pub start: Instant,
    log: Mutex<Log>,
}

impl State {
    pub fn new(config: Config) -> Self {
        State {
            config,
            start: Instant::now(),
            log: Mutex::new(Log::default()),
        }
    }

    /// The log; a panic elsewhere must not hide what was recorded, so poisoning is ignored.
    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn take_log(&self) -> Log {
        std::mem::take(&mut *self.log())
    }
}

/// The tonic service.
#[derive(Clone)]
pub struct FakeDaemon {
    pub state: Arc<State>,
}

fn unknown(msg: impl Into<String>) -> Status {
    Status::new(Code::Unknown, msg.into())
}

/// grpc-go rejects requests above its receive limit before the handler runs.
fn check_size<M: Message>(msg: &M) -> Result<usize, Status> {
    let len = msg.encoded_len();
    if len > MAX_RECV {
        return Err(Status::resource_exhausted(format!(
            "grpc: received message larger than max ({len} vs. {MAX_RECV})"
        )));
    }
    Ok(len)
}

/// Docker's `ParseNormalizedNamed` + `TagNameOnly`: `python:3.12-slim` ->
/// `docker.io/library/python:3.12-slim`, `alpine` -> `docker.io/library/alpine:latest`.
pub fn normalize_image_ref(s: &str) -> Result<String, String> {
    let invalid = || format!("invalid reference format: {s:?}");
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let (algo, hex) = d.split_once(':').ok_or_else(invalid)?;
        if algo != "sha256" || hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid());
        }
    }
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if name.is_empty() || tag.is_some_and(|t| t.is_empty() || t.len() > 128) {
        return Err(invalid());
    }
    let (domain, path) = match name.split_once('/') {
        Some((d, p))
            if d.contains(['.', ':'])
                || d == "localhost"
                || d.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (d.to_string(), p.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "invalid reference format: repository name must be lowercase: {s:?}"
        ));
    }
    if path.split('/').any(|c| {
        c.is_empty()
            || !c
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
    }) {
        return Err(invalid());
    }
    let domain = if domain == "index.docker.io" {
        "docker.io".to_string()
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    let mut out = format!("{domain}/{path}");
    match (tag, digest) {
        (Some(t), _) => out = format!("{out}:{t}"),
        (None, None) => out.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        out = format!("{out}@{d}");
    }
    Ok(out)
}

/// Splits a normalised reference into (repository, tag, digest).
fn split_ref(normalized: &str) -> (&str, Option<&str>, Option<&str>) {
    let (name_tag, digest) = match normalized.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (normalized, None),
    };
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
            digest,
        ),
        None => (name_tag, None, digest),
    }
}

/// Whether a configured image answers a request: same reference as given, same normalised reference,
/// or a pinned request (`name[:tag]@sha256:…`) for the repository whose configured digest it names.
fn image_matches(image: &ImageEntry, raw: &str, normalized: &str) -> bool {
    if image.reference == raw || image.normalized == normalized {
        return true;
    }
    let (repo, tag, digest) = split_ref(normalized);
    let (image_repo, image_tag, _) = split_ref(&image.normalized);
    digest.is_some()
        && digest == image.digest.as_deref()
        && repo == image_repo
        && (tag.is_none() || tag == image_tag)
}

/// Checks what BuildKit checks about a source when it loads an op: a known scheme, parseable local
/// attributes and image references.
fn check_source(profile: CapsProfile, src: &pb::SourceOp) -> Result<(), String> {
    let (scheme, rest) = src
        .identifier
        .split_once("://")
        .ok_or_else(|| format!("failed to parse {}: invalid", src.identifier))?;
    match scheme {
        "local" => {
            if rest.is_empty() {
                return Err(format!("invalid local name in {}", src.identifier));
            }
            LocalAttrs::from_attrs(&src.attrs)?;
        }
        "docker-image" => {
            normalize_image_ref(rest)?;
        }
        "git" | "http" | "https" => {}
        "oci-layout" if profile == CapsProfile::V0_13 => {}
        _ => return Err(format!("unknown schema {scheme}")),
    }
    Ok(())
}

impl FakeDaemon {
    fn elapsed(&self) -> Duration {
        self.state.start.elapsed()
    }

    /// Logs the call and converts the result.
    fn finish<T>(
        &self,
        method: &'static str,
        at: Duration,
        res: Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        let error = res
            .as_ref()
            .err()
            .map(|s| (s.code(), s.message().to_string()));
        self.state
            .log()
            .calls
            .push(CallRecord { method, at, error });
        res.map(Response::new)
    }

    fn solve_inner(
        &self,
        req: &gw::SolveRequest,
        rec: &mut SolveRecord,
    ) -> Result<gw::SolveResponse, Status> {
        let profile = self.state.config.profile;
        let has_def = req.definition.as_ref().is_some_and(|d| !d.def.is_empty());
        if has_def && !req.frontend.is_empty() {
            return Err(unknown(
                "cannot solve with both Definition and Frontend specified",
            ));
        }
        if !req.frontend.is_empty() {
            return Err(Status::unimplemented(format!(
                "fake bridge does not run frontends (Solve with frontend {:?})",
                req.frontend
            )));
        }
        let id = if has_def {
            let def = req.definition.clone().unwrap_or_default();
            let graph = Graph::from_definition(&def).map_err(unknown)?;
            rec.graph = Some(graph.clone());
            graph.check_caps(profile).map_err(unknown)?;
            for node in graph.reachable() {
                if let Some(src) = node.source() {
                    check_source(profile, src).map_err(unknown)?;
                }
            }
            let gaps = graph.engine_gaps(profile);
            rec.ignored_by_engine = gaps.ignored;
            if let Some(first) = gaps.unsupported.first() {
                return Err(unknown(format!(
                    "fake bridge: not supported by this BuildKit: {first}"
                )));
            }
            let mut log = self.state.log();
            log.next_ref += 1;
            let id = format!("ref-{}", log.next_ref);
            log.refs.insert(
                id.clone(),
                RefEntry {
                    graph,
                    view: None,
                    tree: None,
                },
            );
            id
        } else {
            // An empty definition is the scratch result: no ref is registered, the id is empty.
            String::new()
        };
        rec.ref_id = Some(id.clone());
        let def = if has_def {
            req.definition.clone()
        } else {
            None
        };
        let result = if req.allow_result_array_ref {
            gw::result::Result::Ref(gw::Ref {
                id: id.clone(),
                def,
            })
        } else {
            gw::result::Result::RefDeprecated(id.clone())
        };
        Ok(gw::SolveResponse {
            r#ref: if req.allow_result_return {
                String::new()
            } else {
                id
            },
            result: Some(gw::Result {
                result: Some(result),
                ..Default::default()
            }),
        })
    }

    /// The snapshot behind a ref, built on first use (BuildKit evaluates lazily too).
    fn view(&self, ref_id: &str) -> Result<Arc<LocalView>, Status> {
        let config = &self.state.config;
        let mut log = self.state.log();
        let entry = log
            .refs
            .get_mut(ref_id)
            .ok_or_else(|| unknown(format!("no such ref: {ref_id}")))?;
        if let Some(view) = &entry.view {
            return Ok(view.clone());
        }
        let result = entry.graph.result();
        if entry.graph.result_index() != 0 {
            return Err(unknown(format!(
                "invalid output index {} of {}",
                entry.graph.result_index(),
                result.summary()
            )));
        }
        let view = if result.local_name().is_some() {
            self.local_view(result)?
        } else {
            let tree = TempDir::new("fake-snapshot");
            self.materialize(&entry.graph, result, tree.path())
                .map_err(|e| {
                    Status::unimplemented(format!(
                        "fake bridge cannot read {ref_id}: {e}; only local:// and configured git:// \
                         sources and single copies between them are emulated, this one is `{}`",
                        result.summary()
                    ))
                })?;
            let view = LocalView::new(tree.path(), &LocalAttrs::default(), config.leak_host_paths)
                .map_err(unknown)?;
            entry.tree = Some(tree);
            view
        };
        let view = Arc::new(view);
        entry.view = Some(view.clone());
        Ok(view)
    }

    /// What BuildKit transfers of a `local://` source, checked as a daemon checks it.
    fn local_view(&self, node: &Node) -> Result<LocalView, Status> {
        let config = &self.state.config;
        let name = node.local_name().unwrap_or_default();
        let src = node.source().cloned().unwrap_or_default();
        let attrs = LocalAttrs::from_attrs(&src.attrs).map_err(unknown)?;
        if let Some(session) = &attrs.session {
            let sid = &config.session_id;
            if session != sid && !session.ends_with(&format!(":{sid}")) {
                return Err(unknown(format!(
                    "no active session for {session}: context deadline exceeded"
                )));
            }
        }
        let dir = config.locals.get(name).ok_or_else(|| {
            unknown(format!(
                "no access allowed to dir {name:?} (the fake bridge has no local {name:?})"
            ))
        })?;
        LocalView::new(dir, &attrs, config.leak_host_paths).map_err(unknown)
    }

    /// Writes the filesystem `node` produces into `into`: a local source (what its transfer
    /// holds), a git source (the configured checkout, or its `#ref:dir` subdirectory), or a file op
    /// of one copy of `/` from its second input into a directory of its first.
    fn materialize(&self, graph: &Graph, node: &Node, into: &Path) -> Result<(), String> {
        if node.local_name().is_some() {
            let view = self.local_view(node).map_err(|s| s.message().to_string())?;
            return view.materialize(into);
        }
        if let Some(id) = node.identifier().and_then(|i| i.strip_prefix("git://")) {
            let remote = node.attr("git.fullurl").unwrap_or(id);
            let dir = self.state.config.gits.get(remote).ok_or_else(|| {
                format!("failed to fetch remote {remote}: the fake bridge has no such repository")
            })?;
            let subdir = id.split_once('#').and_then(|(_, f)| f.split_once(':'));
            let dir = match subdir {
                Some((_, sub)) if !sub.is_empty() => dir.join(sub),
                _ => dir.clone(),
            };
            copy_tree(&dir, into);
            return Ok(());
        }
        let inputs = graph.inputs(node);
        match (node.file_actions(), inputs.as_slice()) {
            ([action], [onto, from]) if action.input == 0 && action.secondary_input == 1 => {
                let Some(pb::file_action::Action::Copy(copy)) = &action.action else {
                    return Err("a file action other than copy".into());
                };
                if copy.src != "/" || !copy.dir_copy_contents {
                    return Err(format!("a copy of {} (only `/` is emulated)", copy.src));
                }
                self.materialize(graph, onto, into)?;
                let dest = into.join(copy.dest.trim_matches('/'));
                self.materialize(graph, from, &dest)
            }
            _ => Err("an op that is not materialised".into()),
        }
    }

    fn record_read(&self, mut rec: ReadRecord, res: &Result<impl Sized, Status>) {
        rec.error = res.as_ref().err().map(|s| s.message().to_string());
        self.state.log().reads.push(rec);
    }
}

type ExecStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<gw::ExecMessage, Status>> + Send>>;

#[tonic::async_trait]
impl LlbBridge for FakeDaemon {
    async fn resolve_image_config(
        &self,
        request: Request<gw::ResolveImageConfigRequest>,
    ) -> Result<Response<gw::ResolveImageConfigResponse>, Status> {
        let at = self.elapsed();
        let res = (|| {
            let req = request.into_inner();
            check_size(&req)?;
            self.state.log().resolves.push(req.clone());
            if !matches!(req.resolve_mode.as_str(), "" | "default" | "pull" | "local") {
                return Err(unknown(format!(
                    "invalid resolvemode: {}",
                    req.resolve_mode
                )));
            }
            if req.resolver_type != 0 {
                return Err(Status::unimplemented(
                    "fake bridge does not emulate oci-layout resolution",
                ));
            }
            let normalized = normalize_image_ref(&req.r#ref).map_err(Status::invalid_argument)?;
            let image = self
                .state
                .config
                .images
                .iter()
                .find(|i| image_matches(i, &req.r#ref, &normalized))
                .ok_or_else(|| Status::not_found(format!("{normalized}: not found")))?;
            Ok(gw::ResolveImageConfigResponse {
                digest: image.digest.clone().unwrap_or_default(),
                config: image.config.clone(),
                // The field does not exist in v0.8, so a 20.10 daemon never fills it.
                r#ref: match self.state.config.profile {
                    CapsProfile::V0_8 => String::new(),
                    CapsProfile::V0_13 => normalized,
                },
            })
        })();
        self.finish("ResolveImageConfig", at, res)
    }

    async fn resolve_source_meta(
        &self,
        _request: Request<gw::ResolveSourceMetaRequest>,
    ) -> Result<Response<gw::ResolveSourceMetaResponse>, Status> {
        let at = self.elapsed();
        let res = Err(match self.state.config.profile {
            CapsProfile::V0_8 => self
                .state
                .config
                .profile
                .unknown_method("ResolveSourceMeta"),
            CapsProfile::V0_13 => {
                Status::unimplemented("fake bridge does not emulate ResolveSourceMeta")
            }
        });
        self.finish("ResolveSourceMeta", at, res)
    }

    async fn solve(
        &self,
        request: Request<gw::SolveRequest>,
    ) -> Result<Response<gw::SolveResponse>, Status> {
        let at = self.elapsed();
        let req = request.into_inner();
        let request_bytes = req.encoded_len();
        let mut rec = SolveRecord {
            at,
            definition: req.definition.clone(),
            graph: None,
            frontend: req.frontend.clone(),
            frontend_opt: req.frontend_opt.clone().into_iter().collect(),
            frontend_inputs: {
                let mut names: Vec<String> = req.frontend_inputs.keys().cloned().collect();
                names.sort();
                names
            },
            cache_imports: req.cache_imports.clone(),
            evaluate: req.evaluate,
            allow_result_return: req.allow_result_return,
            allow_result_array_ref: req.allow_result_array_ref,
            request_bytes,
            ignored_by_engine: Vec::new(),
            ref_id: None,
            error: None,
        };
        let res = check_size(&req).and_then(|_| self.solve_inner(&req, &mut rec));
        rec.error = res.as_ref().err().map(|s| s.message().to_string());
        self.state.log().solves.push(rec);
        self.finish("Solve", at, res)
    }

    async fn read_file(
        &self,
        request: Request<gw::ReadFileRequest>,
    ) -> Result<Response<gw::ReadFileResponse>, Status> {
        let at = self.elapsed();
        let req = request.into_inner();
        let range = req.range.as_ref().map(|r| (r.offset, r.length));
        let res = check_size(&req)
            .and_then(|_| self.view(&req.r#ref))
            .and_then(|view| view.read_file(&req.file_path, range).map_err(unknown))
            .map(|data| gw::ReadFileResponse { data });
        let rec = ReadRecord {
            kind: ReadKind::ReadFile,
            ref_id: req.r#ref.clone(),
            path: req.file_path.clone(),
            range,
            include_pattern: String::new(),
            error: None,
        };
        self.record_read(rec, &res);
        self.finish("ReadFile", at, res)
    }

    async fn read_dir(
        &self,
        request: Request<gw::ReadDirRequest>,
    ) -> Result<Response<gw::ReadDirResponse>, Status> {
        let at = self.elapsed();
        let req = request.into_inner();
        let res = check_size(&req)
            .and_then(|_| self.view(&req.r#ref))
            .and_then(|view| {
                view.read_dir(&req.dir_path, &req.include_pattern)
                    .map_err(unknown)
            })
            .map(|entries| gw::ReadDirResponse { entries });
        let rec = ReadRecord {
            kind: ReadKind::ReadDir,
            ref_id: req.r#ref.clone(),
            path: req.dir_path.clone(),
            range: None,
            include_pattern: req.include_pattern.clone(),
            error: None,
        };
        self.record_read(rec, &res);
        self.finish("ReadDir", at, res)
    }

    async fn stat_file(
        &self,
        request: Request<gw::StatFileRequest>,
    ) -> Result<Response<gw::StatFileResponse>, Status> {
        let at = self.elapsed();
        let req = request.into_inner();
        let res = check_size(&req)
            .and_then(|_| self.view(&req.r#ref))
            .and_then(|view| view.stat(&req.path).map_err(unknown))
            .map(|stat| gw::StatFileResponse { stat: Some(stat) });
        let rec = ReadRecord {
            kind: ReadKind::StatFile,
            ref_id: req.r#ref.clone(),
            path: req.path.clone(),
            range: None,
            include_pattern: String::new(),
            error: None,
        };
        self.record_read(rec, &res);
        self.finish("StatFile", at, res)
    }

    async fn evaluate(
        &self,
        request: Request<gw::EvaluateRequest>,
    ) -> Result<Response<gw::EvaluateResponse>, Status> {
        let at = self.elapsed();
        let req = request.into_inner();
        let res = match self.state.config.profile {
            CapsProfile::V0_8 => Err(self.state.config.profile.unknown_method("Evaluate")),
            CapsProfile::V0_13 => {
                if self.state.log().refs.contains_key(&req.r#ref) {
                    Ok(gw::EvaluateResponse {})
                } else {
                    Err(unknown(format!("no such ref: {}", req.r#ref)))
                }
            }
        };
        self.finish("Evaluate", at, res)
    }

    async fn ping(
        &self,
        _request: Request<gw::PingRequest>,
    ) -> Result<Response<gw::PongResponse>, Status> {
        let at = self.elapsed();
        let profile = self.state.config.profile;
        let res = Ok(gw::PongResponse {
            frontend_api_caps: profile.frontend_caps(),
            llb_caps: profile.llb_caps(),
            workers: profile.ping_workers(),
        });
        self.finish("Ping", at, res)
    }

    async fn r#return(
        &self,
        request: Request<gw::ReturnRequest>,
    ) -> Result<Response<gw::ReturnResponse>, Status> {
        let at = self.elapsed();
        let req = request.into_inner();
        let res = check_size(&req).and_then(|_| {
            let returned = match (req.result, req.error) {
                (Some(_), Some(_)) => {
                    return Err(Status::invalid_argument(
                        "fake bridge: Return with both result and error set (BuildKit would silently keep the error)",
                    ));
                }
                (None, None) => return Err(unknown("gateway return must be either result or err")),
                (None, Some(err)) if err.code == 0 => {
                    return Err(unknown("gateway return must be either result or err"));
                }
                (None, Some(err)) => Returned::Err(err),
                (Some(result), None) => Returned::Ok(convert_result(result)),
            };
            let mut log = self.state.log();
            if let Returned::Ok(r) = &returned {
                let ids: Vec<&String> = match &r.refs {
                    ReturnedRefs::None => vec![],
                    ReturnedRefs::Single(id) => vec![id],
                    ReturnedRefs::Map(m) => m.values().collect(),
                };
                for id in ids {
                    if !id.is_empty() && !log.refs.contains_key(id) {
                        return Err(unknown(format!("return reference {id} not found")));
                    }
                }
            }
            if log.returned.is_some() {
                return Err(unknown("gateway result is already set"));
            }
            log.returned = Some(returned);
            log.return_at = Some(at);
            Ok(gw::ReturnResponse {})
        });
        self.finish("Return", at, res)
    }

    async fn inputs(
        &self,
        _request: Request<gw::InputsRequest>,
    ) -> Result<Response<gw::InputsResponse>, Status> {
        let at = self.elapsed();
        let res = Ok(gw::InputsResponse {
            definitions: self.state.config.inputs.clone(),
        });
        self.finish("Inputs", at, res)
    }

    async fn new_container(
        &self,
        _request: Request<gw::NewContainerRequest>,
    ) -> Result<Response<gw::NewContainerResponse>, Status> {
        let at = self.elapsed();
        self.finish(
            "NewContainer",
            at,
            Err(Status::unimplemented(
                "fake bridge does not emulate containers",
            )),
        )
    }

    async fn release_container(
        &self,
        _request: Request<gw::ReleaseContainerRequest>,
    ) -> Result<Response<gw::ReleaseContainerResponse>, Status> {
        let at = self.elapsed();
        self.finish(
            "ReleaseContainer",
            at,
            Err(Status::unimplemented(
                "fake bridge does not emulate containers",
            )),
        )
    }

    type ExecProcessStream = ExecStream;

    async fn exec_process(
        &self,
        _request: Request<tonic::Streaming<gw::ExecMessage>>,
    ) -> Result<Response<Self::ExecProcessStream>, Status> {
        let at = self.elapsed();
        self.finish(
            "ExecProcess",
            at,
            Err(Status::unimplemented(
                "fake bridge does not emulate containers",
            )),
        )
    }

    async fn read_file_container(
        &self,
        _request: Request<gw::ReadFileRequest>,
    ) -> Result<Response<gw::ReadFileResponse>, Status> {
        let at = self.elapsed();
        // Added in BuildKit v0.27: unknown to both emulated engines.
        let res = Err(self
            .state
            .config
            .profile
            .unknown_method("ReadFileContainer"));
        self.finish("ReadFileContainer", at, res)
    }

    async fn read_dir_container(
        &self,
        _request: Request<gw::ReadDirRequest>,
    ) -> Result<Response<gw::ReadDirResponse>, Status> {
        let at = self.elapsed();
        let res = Err(self.state.config.profile.unknown_method("ReadDirContainer"));
        self.finish("ReadDirContainer", at, res)
    }

    async fn stat_file_container(
        &self,
        _request: Request<gw::StatFileRequest>,
    ) -> Result<Response<gw::StatFileResponse>, Status> {
        let at = self.elapsed();
        let res = Err(self
            .state
            .config
            .profile
            .unknown_method("StatFileContainer"));
        self.finish("StatFileContainer", at, res)
    }

    async fn warn(
        &self,
        request: Request<gw::WarnRequest>,
    ) -> Result<Response<gw::WarnResponse>, Status> {
        let at = self.elapsed();
        let req = request.into_inner();
        let res = if self
            .state
            .config
            .profile
            .has_frontend_cap("gateway.warnings")
        {
            check_size(&req).map(|_| {
                self.state.log().warnings.push(req);
                gw::WarnResponse {}
            })
        } else {
            // Docker 20.10's LLBBridge service has no Warn method at all.
            Err(self.state.config.profile.unknown_method("Warn"))
        };
        self.finish("Warn", at, res)
    }
}

fn convert_result(result: gw::Result) -> ReturnedResult {
    let (refs, deprecated_form) = match result.result {
        None => (ReturnedRefs::None, false),
        Some(gw::result::Result::Ref(r)) => (ReturnedRefs::Single(r.id), false),
        Some(gw::result::Result::RefDeprecated(id)) => (ReturnedRefs::Single(id), true),
        Some(gw::result::Result::Refs(m)) => (
            ReturnedRefs::Map(m.refs.into_iter().map(|(k, v)| (k, v.id)).collect()),
            false,
        ),
        Some(gw::result::Result::RefsDeprecated(m)) => {
            (ReturnedRefs::Map(m.refs.into_iter().collect()), true)
        }
    };
    let mut attestations: Vec<String> = result.attestations.into_keys().collect();
    attestations.sort();
    ReturnedResult {
        refs,
        deprecated_form,
        metadata: result.metadata.into_iter().collect(),
        attestations,
    }
}
