//! A fake BuildKit for tests and benchmarks: it plays the daemon's side of the LLBBridge gateway API so
//! the real `strata` binary can be run without a daemon.
//!
//! BuildKit starts a gateway frontend with stdin/stdout connected to its gRPC server (HTTP/2 cleartext,
//! prior knowledge; the frontend is the client). [`Bridge::run`] does the same with a child process;
//! [`Bridge::serve`] serves any in-process byte stream (e.g. `tokio::io::duplex`). Both return an
//! [`Outcome`] with everything the frontend asked for and returned.
//!
//! ```ignore
//! #[path = "support/bridge.rs"]
//! mod bridge;
//! use bridge::{Bridge, CapsProfile};
//!
//! let out = Bridge::new()
//!     .opt("filename", "strata.toml")
//!     .local("dockerfile", dir.path())
//!     .local("context", dir.path())
//!     .image("python:3.12-slim", None, PYTHON_CONFIG)
//!     .run(Path::new(env!("CARGO_BIN_EXE_strata")), &[]);
//! let graph = out.result_graph().expect(&out.report());
//! let install = graph.find("pip install").unwrap();
//! let locals: Vec<_> = graph.deps(install).into_iter().filter(|n| n.local_name().is_some()).collect();
//! assert_eq!(locals[0].include_patterns(), ["requirements.txt"]);
//! ```
//!
//! What the fake checks and what it does not emulate is described on [`Bridge`].

// Shared by several test crates and benches, each using a different part of it.
#![allow(dead_code, unused_imports)]

#[path = "bridge/caps.rs"]
mod caps;
#[path = "bridge/daemon.rs"]
mod daemon;
#[path = "bridge/llb.rs"]
pub mod llb;
#[path = "bridge/localfs.rs"]
pub mod localfs;
#[path = "bridge/patterns.rs"]
pub mod patterns;
#[path = "bridge/process.rs"]
mod process;
#[path = "bridge/tempdir.rs"]
mod tempdir;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_server::LlbBridgeServer;
use bollard_buildkit_proto::pb;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::unix::pipe;

pub use bollard_buildkit_proto::moby::buildkit::v1::frontend::{
    ResolveImageConfigRequest, WarnRequest,
};
pub use caps::CapsProfile;
pub use daemon::{
    CallRecord, ImageEntry, MAX_RECV, ReadKind, ReadRecord, Returned, ReturnedRefs, ReturnedResult,
    SolveRecord, normalize_image_ref,
};
pub use llb::{ActionInput, DefinitionBuilder, EngineGaps, Graph, Node, OpKind, digest_of};
pub use localfs::{HOST_MOUNT, LocalAttrs, transferred_paths};
pub use tempdir::{TempDir, copy_tree};

/// The `BUILDKIT_SESSION_ID` every run gets (25 lower-case alphanumerics, like `identity.NewID`).
pub const SESSION_ID: &str = "bridgesessionfake00000001";

/// Default limit for [`Bridge::run`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response the fake sends (BuildKit v0.14+ value; v0.8–v0.13 send without limit).
pub const MAX_SEND: usize = 16 << 20;

/// How long to wait, after the child exited, for its pipes to drain.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Configuration of one fake daemon session.
///
/// Checks (all recorded in the [`Outcome`], failures also returned to the frontend as gRPC errors):
/// - Solve: the Definition loads like BuildKit's loader (ops decode, input digests exist, terminal op,
///   op validation), every `OpMetadata.caps` key is an enabled LLB cap of the profile, source identifiers
///   and `local.*`/image attributes parse. Requests over 4 MiB fail with grpc-go's ResourceExhausted.
/// - Reads: only refs whose result is a configured `local://` source; the file set follows fsutil's
///   include/exclude/follow-path filtering (see [`transferred_paths`]); the `local.session` attr, if set,
///   must be the session id.
/// - ResolveImageConfig: only configured images (matched as given or normalised), NotFound otherwise.
/// - Return: exactly one of result/error, error code != 0, refs from earlier Solves, only once.
/// - Profile gating: Warn/Evaluate/ResolveSourceMeta are unknown methods on V0_8; ops the engine cannot
///   run fail the Solve, fields it would silently drop are listed in `SolveRecord::ignored_by_engine`.
///
/// Materialised for reading: local sources, git sources configured with [`Bridge::git`], and file ops
/// of one copy between those (a directory named context put into the context).
/// Not emulated: running anything else (exec ops, other file ops, images and http sources are never
/// materialised; reading such refs fails with Unimplemented), Solve with `frontend` (nested frontends), containers,
/// ResolveSourceMeta, oci-layout resolution, per-platform image configs, source policies, attestations
/// beyond recording their keys, and lazy error timing (errors a daemon reports at export time are
/// reported at Solve time).
#[derive(Clone, Debug)]
pub struct Bridge {
    profile: CapsProfile,
    opts: Vec<(String, String)>,
    locals: BTreeMap<String, PathBuf>,
    gits: BTreeMap<String, PathBuf>,
    images: Vec<ImageEntry>,
    inputs: HashMap<String, pb::Definition>,
    extra_env: Vec<(String, String)>,
    timeout: Duration,
    leak_host_paths: bool,
}

impl Default for Bridge {
    fn default() -> Self {
        Bridge::new()
    }
}

impl Bridge {
    /// A Docker 26 (BuildKit v0.13) daemon with no opts, locals, images or inputs.
    pub fn new() -> Self {
        Bridge {
            profile: CapsProfile::V0_13,
            opts: Vec::new(),
            locals: BTreeMap::new(),
            gits: BTreeMap::new(),
            images: Vec::new(),
            inputs: HashMap::new(),
            extra_env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            leak_host_paths: true,
        }
    }

    /// Which engine to impersonate (caps, workers, env format, available RPCs).
    pub fn caps(mut self, profile: CapsProfile) -> Self {
        self.profile = profile;
        self
    }

    /// A frontend option (`BUILDKIT_FRONTEND_OPT_<i>=key=value`); setting a key again replaces it.
    pub fn opt(mut self, key: &str, value: &str) -> Self {
        self.opts.retain(|(k, _)| k != key);
        self.opts.push((key.to_string(), value.to_string()));
        self
    }

    /// Serves `local://<name>` from a host directory.
    pub fn local(mut self, name: &str, dir: &Path) -> Self {
        self.locals.insert(name.to_string(), dir.to_path_buf());
        self
    }

    /// Serves `git://` sources whose `git.fullurl` is `remote` from a host directory (a checkout of
    /// any ref; `#ref:dir` selects `dir` in it).
    pub fn git(mut self, remote: &str, dir: &Path) -> Self {
        self.gits.insert(remote.to_string(), dir.to_path_buf());
        self
    }

    /// An image ResolveImageConfig knows. `digest: None` mimics Docker's classic store (local images
    /// resolve with an empty digest). Panics on a malformed reference (a test setup bug).
    pub fn image(mut self, reference: &str, digest: Option<&str>, config_json: &str) -> Self {
        let normalized =
            normalize_image_ref(reference).unwrap_or_else(|e| panic!("Bridge::image: {e}"));
        self.images.push(ImageEntry {
            reference: reference.to_string(),
            normalized,
            digest: digest.map(str::to_string),
            config: config_json.as_bytes().to_vec(),
        });
        self
    }

    /// An entry of the `Inputs()` answer.
    pub fn input(mut self, name: &str, def: pb::Definition) -> Self {
        self.inputs.insert(name.to_string(), def);
        self
    }

    /// Extra environment for the child (e.g. `RUST_LOG`); not something BuildKit would set.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_string(), value.to_string()));
        self
    }

    /// How long [`run`](Self::run) lets the child live before killing it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether read errors name the daemon's host mount path (`open /var/lib/docker/tmp/…/x: no such
    /// file or directory`). On by default, the worst case (Docker 20.10, and ReadDir on every version);
    /// with `false`, ReadFile/StatFile errors name the request path as BuildKit v0.13 does.
    pub fn leak_host_paths(mut self, leak: bool) -> Self {
        self.leak_host_paths = leak;
        self
    }

    /// The environment BuildKit would give the frontend (besides the image's own variables).
    pub fn child_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .opts
            .iter()
            .enumerate()
            .map(|(i, (k, v))| (format!("BUILDKIT_FRONTEND_OPT_{i}"), format!("{k}={v}")))
            .collect();
        env.push(("BUILDKIT_SESSION_ID".into(), SESSION_ID.into()));
        env.push(("BUILDKIT_WORKERS".into(), self.profile.workers_env()));
        env.push(("BUILDKIT_EXPORTEDPRODUCT".into(), "docker".into()));
        env.extend(self.extra_env.iter().cloned());
        env
    }

    fn daemon_config(&self) -> daemon::Config {
        daemon::Config {
            profile: self.profile,
            session_id: SESSION_ID.to_string(),
            locals: self.locals.clone(),
            gits: self.gits.clone(),
            images: self.images.clone(),
            inputs: self.inputs.clone(),
            leak_host_paths: self.leak_host_paths,
        }
    }

    /// Spawns `binary args…` as a frontend, serves it until it exits (or the timeout kills it) and
    /// returns what happened. Must not be called from inside a tokio runtime (use
    /// [`run_async`](Self::run_async) there).
    pub fn run(self, binary: &Path, args: &[&str]) -> Outcome {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(self.run_async(binary, args)),
            Err(e) => Outcome::failed(format!("cannot start a tokio runtime: {e}")),
        }
    }

    /// [`run`](Self::run) for async tests.
    pub async fn run_async(self, binary: &Path, args: &[&str]) -> Outcome {
        let state = Arc::new(daemon::State::new(self.daemon_config()));
        let spawned = match process::spawn(binary, args, &self.child_env()) {
            Ok(s) => s,
            Err(e) => return Outcome::failed(format!("cannot spawn {}: {e}", binary.display())),
        };
        let child = Arc::new(spawned.child);
        let pipes = (|| -> std::io::Result<_> {
            let reader = pipe::Receiver::from_owned_fd(spawned.stdout)?;
            let writer = pipe::Sender::from_owned_fd(spawned.stdin)?;
            let stderr = pipe::Receiver::from_owned_fd(spawned.stderr)?;
            Ok((reader, writer, stderr))
        })();
        let (reader, writer, mut stderr) = match pipes {
            Ok(p) => p,
            Err(e) => {
                child.kill();
                let c = child.clone();
                let _ = tokio::task::spawn_blocking(move || c.wait_blocking()).await;
                return Outcome::failed(format!("cannot set up the child's pipes: {e}"));
            }
        };

        let mut conn = tokio::spawn(serve_connection(
            tokio::io::join(reader, writer),
            state.clone(),
        ));
        let mut stderr_task = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf).await;
            buf
        });
        let mut waiter = {
            let c = child.clone();
            tokio::task::spawn_blocking(move || c.wait_blocking())
        };

        let (exit, timed_out) = match tokio::time::timeout(self.timeout, &mut waiter).await {
            Ok(res) => (res, false),
            Err(_) => {
                child.kill();
                ((&mut waiter).await, true)
            }
        };
        let exit = match exit {
            Ok(Ok(info)) => Some(info),
            _ => None,
        };

        // The child is gone (and its process group killed); its pipes close now. Bound the wait anyway.
        let transport_error = match tokio::time::timeout(DRAIN_GRACE, &mut conn).await {
            Ok(Ok(err)) => err,
            Ok(Err(join)) => Some(format!("connection task failed: {join}")),
            Err(_) => {
                conn.abort();
                Some("connection still open after the child exited".into())
            }
        };
        let stderr = match tokio::time::timeout(DRAIN_GRACE, &mut stderr_task).await {
            Ok(Ok(buf)) => String::from_utf8_lossy(&buf).into_owned(),
            _ => {
                stderr_task.abort();
                String::from("<stderr not drained>")
            }
        };

        let mut out = Outcome::from_state(&state, transport_error);
        out.stderr = stderr;
        out.timed_out = timed_out;
        match exit {
            Some(info) => {
                out.exit_code = info.code;
                out.signal = info.signal;
                out.peak_rss_kib = info.max_rss_kib;
                out.wall_time = info.at.duration_since(state.start);
                if let Some(ret) = out.time_to_return {
                    out.exit_after_return = info.at.duration_since(state.start).checked_sub(ret);
                }
            }
            None => out.harness_error = Some("could not reap the child".into()),
        }
        out
    }

    /// Serves one in-process connection (e.g. one end of `tokio::io::duplex`) until the peer closes it.
    /// Process fields of the outcome stay empty.
    pub async fn serve<IO>(self, io: IO) -> Outcome
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let state = Arc::new(daemon::State::new(self.daemon_config()));
        let err = serve_connection(io, state.clone()).await;
        let mut out = Outcome::from_state(&state, err);
        out.wall_time = state.start.elapsed();
        out
    }
}

/// Serves the LLBBridge service on one HTTP/2 connection; returns the connection error, if any. A peer
/// that closes without sending a single byte (a frontend that exits before connecting) is not an error.
async fn serve_connection<IO>(io: IO, state: Arc<daemon::State>) -> Option<String>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let svc = LlbBridgeServer::new(daemon::FakeDaemon { state })
        // Decode generously; the handlers enforce grpc-go's 4 MiB receive limit with grpc-go's error.
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(MAX_SEND);
    let received = Arc::new(AtomicU64::new(0));
    let io = CountingIo {
        inner: io,
        received: received.clone(),
    };
    let res = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(svc))
        .await;
    match res {
        Ok(()) => None,
        Err(_) if received.load(Ordering::Relaxed) == 0 => None,
        Err(e) => {
            // hyper's Display is terse ("http2 error"); the cause chain says what went wrong.
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                msg.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            Some(msg)
        }
    }
}

/// Counts the bytes read from the frontend.
struct CountingIo<IO> {
    inner: IO,
    received: Arc<AtomicU64>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for CountingIo<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.received.fetch_add(n as u64, Ordering::Relaxed);
        res
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for CountingIo<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Everything that happened in one session.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Exit code (`None` if killed by a signal, not spawned, or in-process).
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stderr: String,
    /// The child outlived the timeout and was killed.
    pub timed_out: bool,
    /// The harness itself failed (spawn error and the like).
    pub harness_error: Option<String>,
    /// The HTTP/2 connection failed (e.g. the frontend wrote something else to stdout).
    pub transport_error: Option<String>,
    pub returned: Option<Returned>,
    pub solves: Vec<SolveRecord>,
    pub resolves: Vec<ResolveImageConfigRequest>,
    pub reads: Vec<ReadRecord>,
    pub warnings: Vec<WarnRequest>,
    /// Every RPC in order, with its error if it failed.
    pub calls: Vec<CallRecord>,
    /// From spawn (or serve start) to the accepted Return.
    pub time_to_return: Option<Duration>,
    /// From the accepted Return to the child's exit.
    pub exit_after_return: Option<Duration>,
    /// From spawn to exit (or to the end of the connection, in-process).
    pub wall_time: Duration,
    /// Peak resident set size of the child (`wait4` `ru_maxrss`).
    pub peak_rss_kib: Option<u64>,
}

impl Outcome {
    fn failed(msg: String) -> Outcome {
        Outcome {
            harness_error: Some(msg),
            ..Default::default()
        }
    }

    fn from_state(state: &daemon::State, transport_error: Option<String>) -> Outcome {
        let log = state.take_log();
        Outcome {
            transport_error,
            returned: log.returned,
            solves: log.solves,
            resolves: log.resolves,
            reads: log.reads,
            warnings: log.warnings,
            calls: log.calls,
            time_to_return: log.return_at,
            ..Default::default()
        }
    }

    /// Exited 0 in time after a Return with a result, and the connection was clean.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
            && !self.timed_out
            && self.harness_error.is_none()
            && self.transport_error.is_none()
            && matches!(self.returned, Some(Returned::Ok(_)))
    }

    /// The returned result; panics with [`report`](Self::report) otherwise.
    #[track_caller]
    pub fn expect_result(&self) -> &ReturnedResult {
        match &self.returned {
            Some(Returned::Ok(r)) => r,
            _ => panic!("expected a successful Return\n{}", self.report()),
        }
    }

    /// The returned error status; panics with [`report`](Self::report) otherwise.
    #[track_caller]
    pub fn expect_error(&self) -> &RpcStatus {
        match &self.returned {
            Some(Returned::Err(s)) => s,
            _ => panic!("expected an error Return\n{}", self.report()),
        }
    }

    /// The Solve that produced a ref id.
    pub fn solve_of(&self, ref_id: &str) -> Option<&SolveRecord> {
        self.solves
            .iter()
            .find(|s| s.ref_id.as_deref() == Some(ref_id))
    }

    /// Graph of the single ref returned (`None` for scratch, maps, errors or no Return).
    pub fn result_graph(&self) -> Option<&Graph> {
        match &self.returned {
            Some(Returned::Ok(ReturnedResult {
                refs: ReturnedRefs::Single(id),
                ..
            })) => self.solve_of(id)?.graph.as_ref(),
            _ => None,
        }
    }

    /// Graphs of a returned refs map, by key (scratch entries omitted).
    pub fn result_graphs(&self) -> BTreeMap<String, &Graph> {
        let mut out = BTreeMap::new();
        if let Some(Returned::Ok(ReturnedResult {
            refs: ReturnedRefs::Map(m),
            ..
        })) = &self.returned
        {
            for (k, id) in m {
                if let Some(g) = self.solve_of(id).and_then(|s| s.graph.as_ref()) {
                    out.insert(k.clone(), g);
                }
            }
        }
        out
    }

    /// `(ref id, path)` of every ReadFile/ReadDir/StatFile, in order.
    pub fn read_paths(&self) -> Vec<(&str, &str)> {
        self.reads
            .iter()
            .map(|r| (r.ref_id.as_str(), r.path.as_str()))
            .collect()
    }

    /// RPCs the fake answered with an error.
    pub fn failed_calls(&self) -> Vec<&CallRecord> {
        self.calls.iter().filter(|c| c.error.is_some()).collect()
    }

    /// A readable summary for assertion messages: status, calls, Return, stderr.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "exit_code={:?} signal={:?} timed_out={} harness_error={:?} transport_error={:?}",
            self.exit_code, self.signal, self.timed_out, self.harness_error, self.transport_error
        );
        let _ = writeln!(
            s,
            "time_to_return={:?} exit_after_return={:?} wall={:?} peak_rss_kib={:?}",
            self.time_to_return, self.exit_after_return, self.wall_time, self.peak_rss_kib
        );
        for c in &self.calls {
            match &c.error {
                None => {
                    let _ = writeln!(s, "  {:>9.3?} {} ok", c.at, c.method);
                }
                Some((code, msg)) => {
                    let _ = writeln!(s, "  {:>9.3?} {} FAILED {:?}: {msg}", c.at, c.method, code);
                }
            }
        }
        for solve in &self.solves {
            for note in &solve.ignored_by_engine {
                let _ = writeln!(
                    s,
                    "  solve {:?}: ignored by this engine: {note}",
                    solve.ref_id
                );
            }
        }
        match &self.returned {
            None => s.push_str("returned: nothing\n"),
            Some(Returned::Err(st)) => {
                let _ = writeln!(
                    s,
                    "returned error: code={} message={:?}",
                    st.code, st.message
                );
            }
            Some(Returned::Ok(r)) => {
                let _ = writeln!(
                    s,
                    "returned refs={:?} metadata keys={:?}",
                    r.refs,
                    r.metadata.keys()
                );
            }
        }
        if let Some(g) = self.result_graph() {
            let _ = write!(s, "result graph:\n{}", g.dump());
        }
        let _ = write!(s, "--- stderr ---\n{}", self.stderr);
        s
    }
}
