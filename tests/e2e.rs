//! End-to-end tests: real Docker engines build the examples through `# syntax=` with the Strata
//! frontend image, run the images and check what they serve, how the cache behaves, and what users
//! see when a spec is wrong.
//!
//! Three engines run side by side: Docker 28.5 with buildx 0.29 (BuildKit v0.25), Docker 26.1 with
//! buildx 0.13 (BuildKit v0.13) and Docker 20.10 (BuildKit v0.8, `DOCKER_BUILDKIT=1 docker build`).
//! The harness sets each up itself (install, start, base images, frontend image) through the
//! scripts in `scripts/`, and fails loudly if an engine cannot start. No registry is reachable
//! here, so the examples' official base images are replaced by local ones with `base = …` in a
//! copy of the spec.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

#[path = "support/bridge/tempdir.rs"]
#[allow(dead_code)]
mod tempdir;

use tempdir::copy_tree;

/// The CI paths: registry, remote builders, caches across builders, remote contexts, templates.
#[path = "e2e/ci.rs"]
mod ci;

/// The frontend image the tests build and select with `# syntax=`: `STRATA_E2E_FRONTEND` lets
/// several checkouts test on one engine at once without replacing each other's frontend.
fn frontend() -> String {
    std::env::var("STRATA_E2E_FRONTEND").unwrap_or_else(|_| "local/strata:dev".into())
}
const PYTHON_BASE: &str = "local/strata-python:test";
const NODE_BASE: &str = "local/strata-node:test";
/// Stand-ins for the Rust recipe's default images (`scripts/base-images.sh ENGINE rust debian`).
const RUST_BASE: &str = "local/strata-rust:test";
const DEBIAN_BASE: &str = "local/strata-debian:test";
/// Debian trixie's Go 1.24, laid out like the official golang image.
const GO_BASE: &str = "local/strata-go:test";
/// A stand-in for distroless static: no shell, no libc.
const STATIC_BASE: &str = "local/strata-static:test";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Docker 28.5 + buildx 0.29, BuildKit v0.25.
    Docker28,
    /// The same Docker 28.5, a second daemon with the containerd image store: it keeps
    /// multi-platform images and exports OCI archives, which the classic store refuses.
    Docker28c,
    /// Docker 26.1 + buildx 0.13, BuildKit v0.13.
    Docker26,
    /// Docker 20.10, BuildKit v0.8.
    Docker20,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::Docker28 => "28",
            Kind::Docker28c => "28c",
            Kind::Docker26 => "26",
            Kind::Docker20 => "20",
        }
    }
}

struct Engine {
    kind: Kind,
    env: BTreeMap<String, String>,
    /// Held for every build on this engine: one build at a time per engine. When two builds run
    /// at once and share steps (the examples' dependency stages), BuildKit runs those steps once
    /// and may report their progress to only one of the clients; an assertion on the other's log
    /// (`CACHED`, step names) would then fail at random. Seen on Docker 28 with bake and
    /// `--build-context` running side by side.
    builds: Mutex<()>,
    /// Held by a test that needs the engine's build cache to itself for its whole run (one that
    /// prunes it, or asserts what a rebuild finds cached).
    whole: Mutex<()>,
}

/// One setup per engine per test run; setups are serialised (they share apt and cargo).
fn engine(kind: Kind) -> &'static Engine {
    static SETUP: Mutex<()> = Mutex::new(());
    static E28: OnceLock<Engine> = OnceLock::new();
    static E28C: OnceLock<Engine> = OnceLock::new();
    static E26: OnceLock<Engine> = OnceLock::new();
    static E20: OnceLock<Engine> = OnceLock::new();
    let cell = match kind {
        Kind::Docker28 => &E28,
        Kind::Docker28c => &E28C,
        Kind::Docker26 => &E26,
        Kind::Docker20 => &E20,
    };
    cell.get_or_init(|| {
        let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
        let id = kind.id();
        script(&["docker-up.sh", id], &BTreeMap::new());
        let env = engine_env(id);
        // 28c serves the multi-platform and reproducibility tests: python for linux/amd64 and
        // linux/386 in one image (the i386 rootfs is the one debootstrap these tests add).
        // 26 also builds linux/386 alone, from the classic store's one-platform i386 tag.
        let images: &[&str] = match kind {
            Kind::Docker28c => &["busybox", "python+386"],
            Kind::Docker26 => &["busybox", "python", "node", "python+386"],
            _ => &[],
        };
        let mut args = vec!["base-images.sh", id];
        args.extend(images);
        script(&args, &env);
        script(&["frontend-image.sh", &frontend()], &env);
        Engine {
            kind,
            env,
            builds: Mutex::new(()),
            whole: Mutex::new(()),
        }
    })
}

/// The engine, with more of scripts/base-images.sh's flavors made (once per engine and flavor):
/// only the tests of an ecosystem ask for its images, which can cost a debootstrap.
fn engine_with(kind: Kind, flavors: &[&str]) -> &'static Engine {
    static MADE: Mutex<Vec<(Kind, String)>> = Mutex::new(Vec::new());
    let e = engine(kind);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let missing: Vec<&str> = flavors
        .iter()
        .copied()
        .filter(|f| !made.contains(&(kind, f.to_string())))
        .collect();
    if !missing.is_empty() {
        let mut args = vec!["base-images.sh", kind.id()];
        args.extend(&missing);
        script(&args, &e.env);
        made.extend(missing.iter().map(|f| (kind, f.to_string())));
    }
    e
}

fn script(args: &[&str], env: &BTreeMap<String, String>) {
    let started = Instant::now();
    let status = Command::new(repo().join("scripts").join(args[0]))
        .args(&args[1..])
        .envs(env)
        .status()
        .unwrap_or_else(|e| panic!("cannot run scripts/{}: {e}", args[0]));
    assert!(
        status.success(),
        "scripts/{} failed ({status}): the end-to-end tests need a working Docker engine",
        args.join(" ")
    );
    eprintln!(
        "[e2e] scripts/{} took {:.1?}",
        args.join(" "),
        started.elapsed()
    );
}

fn engine_env(id: &str) -> BTreeMap<String, String> {
    let out = Command::new(repo().join("scripts/docker-env.sh"))
        .args([id, "--plain"])
        .output()
        .expect("scripts/docker-env.sh runs");
    assert!(out.status.success(), "docker-env.sh {id} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Engine {
    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .envs(&self.env)
            .output()
            .expect("docker runs")
    }

    /// Builds with the engine's normal client: `docker buildx build` on 28 and 26, the 20.10 CLI's
    /// own BuildKit client on 20. Returns the plain progress output and whether it succeeded.
    fn build(&self, dir: &Path, spec: &str, tag: &str, extra: &[&str]) -> Build {
        let spec_path = dir.join(spec);
        let spec_path = spec_path.to_str().unwrap();
        let dir = dir.to_str().unwrap();
        let mut args: Vec<&str> = match self.kind {
            Kind::Docker28 | Kind::Docker28c | Kind::Docker26 => vec!["buildx", "build"],
            Kind::Docker20 => vec!["build"],
        };
        args.extend(["--progress=plain", "-t", tag, "-f", spec_path]);
        args.extend(extra);
        args.push(dir);
        let _one_at_a_time = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let mut cmd = Command::new("docker");
        cmd.args(&args).envs(&self.env);
        Build::run(cmd)
    }

    fn build_ok(&self, dir: &Path, spec: &str, tag: &str, extra: &[&str]) -> Build {
        let b = self.build(dir, spec, tag, extra);
        assert!(
            b.ok,
            "build of {tag} failed on Docker {}:\n{}",
            self.kind.id(),
            b.log
        );
        b
    }

    fn inspect(&self, image: &str, format: &str) -> String {
        let out = self.docker(&["image", "inspect", "-f", format, image]);
        assert!(
            out.status.success(),
            "inspect {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs the image, waits for it to answer HTTP on `port`, returns the body of `GET /`.
    fn serve(&self, image: &str, port: u16) -> String {
        self.serve_with(&[], image, port)
    }

    /// `serve` with more `docker run` options (`--platform linux/386`).
    fn serve_with(&self, run: &[&str], image: &str, port: u16) -> String {
        let mut args = vec!["run", "-d", "--rm"];
        args.extend(run);
        args.push(image);
        let out = self.docker(&args);
        assert!(
            out.status.success(),
            "docker run {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let _stop = Stop(self, id.clone());
        let ip_out = self.docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &id,
        ]);
        let ip = String::from_utf8_lossy(&ip_out.stdout).trim().to_string();
        assert!(!ip.is_empty(), "container {id} has no IP address");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match http_get(&format!("{ip}:{port}"), "/") {
                Ok(body) => return body,
                Err(e) if Instant::now() > deadline => {
                    let logs = self.docker(&["logs", &id]);
                    panic!(
                        "{image} did not answer on {ip}:{port}: {e}\ncontainer logs:\n{}{}",
                        String::from_utf8_lossy(&logs.stdout),
                        String::from_utf8_lossy(&logs.stderr)
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    fn run_output(&self, image: &str, cmd: &[&str]) -> String {
        self.run_output_with(&[], image, cmd)
    }

    fn run_output_with(&self, run: &[&str], image: &str, cmd: &[&str]) -> String {
        let mut args = vec!["run", "--rm"];
        args.extend(run);
        args.push(image);
        args.extend(cmd);
        let out = self.docker(&args);
        assert!(
            out.status.success(),
            "docker run {image} {cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Engine {
    /// `docker buildx build -f SPEC [how…] DIR` with extra environment, for subrequests
    /// (`--call`, `--print`) whose answer goes to stdout and whose exit code is the point.
    fn buildx(&self, dir: &Path, spec: &str, how: &[&str], env: &[(&str, &str)]) -> Call {
        let spec_path = dir.join(spec);
        let mut args = vec!["buildx", "build", "-f", spec_path.to_str().unwrap()];
        args.extend(how);
        args.push(dir.to_str().unwrap());
        let _one_at_a_time = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let out = Command::new("docker")
            .args(&args)
            .envs(&self.env)
            .envs(env.iter().copied())
            .output()
            .expect("docker runs");
        Call {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: started.elapsed(),
        }
    }
}

struct Call {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

struct Stop<'a>(&'a Engine, String);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let _ = self.0.docker(&["rm", "-f", &self.1]);
    }
}

struct Build {
    ok: bool,
    log: String,
    took: Duration,
}

/// How long one build may take before it is stopped and fails: far above the slowest cold build
/// here (about a minute), so a build only reaches it when something hangs (a package manager
/// waiting forever on a stalled connection), and the run fails with its log instead of holding
/// CI until the job's own limit. `STRATA_E2E_BUILD_LIMIT` (seconds) changes it.
fn build_limit() -> Duration {
    static LIMIT: OnceLock<Duration> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let secs = std::env::var("STRATA_E2E_BUILD_LIMIT").map_or(600, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("STRATA_E2E_BUILD_LIMIT={v}: a number of seconds"))
        });
        Duration::from_secs(secs)
    })
}

impl Build {
    /// Runs a build command to its end, or stops it at [`build_limit`] (the client's exit cancels
    /// the build in BuildKit).
    fn run(mut cmd: Command) -> Build {
        use std::process::Stdio;
        let started = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the build command runs");
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = pipe.read_to_end(&mut text);
                text
            })
        };
        let stdout = drain(Box::new(child.stdout.take().unwrap()));
        let stderr = drain(Box::new(child.stderr.take().unwrap()));
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child
                .try_wait()
                .expect("the build command can be waited for")
            {
                break status;
            }
            if started.elapsed() > build_limit() {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("the stopped build command is reaped");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut log = String::from_utf8_lossy(&stdout.join().unwrap()).into_owned();
        log.push_str(&String::from_utf8_lossy(&stderr.join().unwrap()));
        if timed_out {
            log.push_str(&format!(
                "\n[e2e] the build was stopped after {:?}: a step hung (see its last output above)\n",
                build_limit()
            ));
        }
        Build {
            ok: status.success() && !timed_out,
            log,
            took: started.elapsed(),
        }
    }
}

impl Build {
    /// How many distinct vertices have a progress name containing `name`.
    fn vertices_named(&self, name: &str) -> usize {
        let mut numbers: Vec<&str> = self
            .log
            .lines()
            .filter(|l| l.contains(name))
            .filter_map(|l| l.split(' ').next().filter(|n| n.starts_with('#')))
            .collect();
        numbers.sort();
        numbers.dedup();
        numbers.len()
    }

    /// Whether the vertex whose progress name contains `name` was CACHED, by its `#N` number in
    /// plain progress output. Panics if no such vertex ran: a missing step is a failure too.
    fn cached(&self, name: &str) -> bool {
        let number = self
            .log
            .lines()
            .find_map(|l| {
                let (num, rest) = l.split_once(' ')?;
                (num.starts_with('#') && rest.contains(name)).then(|| num.to_string())
            })
            .unwrap_or_else(|| panic!("no step named like {name:?} in:\n{}", self.log));
        self.log.lines().any(|l| l == format!("{number} CACHED"))
    }

    /// What the vertex whose progress name contains `name` printed while it ran.
    fn output_of(&self, name: &str) -> String {
        let number = self
            .log
            .lines()
            .find_map(|l| {
                let (num, rest) = l.split_once(' ')?;
                (num.starts_with('#') && rest.contains(name)).then(|| num.to_string())
            })
            .unwrap_or_else(|| panic!("no step named like {name:?} in:\n{}", self.log));
        self.log
            .lines()
            .filter(|l| l.split(' ').next() == Some(number.as_str()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The package a line of a build step's plain progress output (`#N 1.234 <text>`) says was
/// compiled: Cargo's `Compiling <crate> v…`, or the bare import path of `go build -v`.
fn compiled_package(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once(' ')?;
    let (time, text) = rest.split_once(' ')?;
    time.parse::<f64>().ok()?;
    match text.split_once("Compiling ") {
        Some((_, c)) => c.split_whitespace().next(),
        None => (!text.is_empty() && !text.contains([' ', ':'])).then_some(text),
    }
}

fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(
        &addr.parse().map_err(std::io::Error::other)?,
        Duration::from_secs(2),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n")?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(format!(
            "unexpected response: {head}"
        )));
    }
    Ok(body.to_string())
}

/// A scratch copy of an example whose spec uses a local base image instead of the official one.
struct Workspace {
    dir: PathBuf,
}

impl Workspace {
    fn example(name: &str, engine: Kind, base: &str) -> Workspace {
        let ws = Workspace::example_as_is(name, engine);
        let spec = ws.read("strata.toml");
        let (first, rest) = spec.split_once('\n').unwrap();
        ws.write(
            "strata.toml",
            &format!("{first}\nbase = \"{base}\"\n{rest}"),
        );
        ws
    }

    /// A scratch copy of an example whose spec selects the frontend under test and nothing else.
    fn example_as_is(name: &str, engine: Kind) -> Workspace {
        let dir = std::env::temp_dir().join(format!(
            "strata-e2e-{name}-{}-{}-{}",
            engine.id(),
            std::process::id(),
            unique()
        ));
        copy_tree(&repo().join("examples").join(name), &dir);
        let ws = Workspace { dir };
        let spec = ws.read("strata.toml");
        let (first, rest) = spec.split_once('\n').unwrap();
        assert!(
            first.starts_with("# syntax="),
            "examples start with the syntax line"
        );
        ws.write("strata.toml", &format!("# syntax={}\n{rest}", frontend()));
        ws
    }

    fn empty(name: &str) -> Workspace {
        let dir = std::env::temp_dir().join(format!(
            "strata-e2e-{name}-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Workspace { dir }
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.join(path)).unwrap()
    }

    fn write(&self, path: &str, content: &str) {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A value no other test run produces (the time and this process).
fn nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{}-{}", t.as_nanos(), std::process::id(), unique())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

const INSTALL_PY: &str = "pip install -r requirements.txt";

fn fastapi(kind: Kind) {
    let e = engine(kind);
    let ws = Workspace::example("fastapi", kind, PYTHON_BASE);
    let tag = format!("strata-e2e/fastapi:{}", kind.id());

    let cold = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert_eq!(e.serve(&tag, 80), r#"{"Hello":"World"}"#);
    if kind != Kind::Docker20 {
        // The spec load is the very step BuildKit's Dockerfile frontend already ran to find the
        // `# syntax=` line, so BuildKit (v0.11+) does it once (v0.8 compares bytes and does it twice).
        assert_eq!(
            cold.vertices_named("load build definition from strata.toml"),
            1,
            "{}",
            cold.log
        );
    }
    assert_eq!(e.inspect(&tag, "{{.Config.User}}"), "10001:10001");
    assert_eq!(e.inspect(&tag, "{{.Config.WorkingDir}}"), "/code");
    assert_eq!(e.run_output(&tag, &["id", "-u"]), "10001");
    assert_eq!(e.run_output(&tag, &["id", "-g"]), "10001");
    assert!(
        e.inspect(&tag, "{{json .Config.ExposedPorts}}")
            .contains("80/tcp")
    );

    // The install step sees the manifests and nothing else.
    let deps_tag = format!("{tag}-deps");
    e.build_ok(&ws.dir, "strata.toml", &deps_tag, &["--target", "deps"]);
    assert_eq!(
        e.run_output(&deps_tag, &["ls", "-A", "/code"]),
        "requirements.txt"
    );
    assert!(
        e.run_output(&deps_tag, &["/opt/venv/bin/pip", "list"])
            .contains("fastapi")
    );

    // Editing the source re-runs no install step.
    // Every edit is a state no earlier run built, so the cache cannot answer for it.
    let nonce = nonce();
    ws.write(
        "app/main.py",
        &format!(
            "{}# edit {nonce}\n",
            ws.read("app/main.py")
                .replace(r#"{"Hello": "World"}"#, r#"{"Hello": "Edited"}"#)
        ),
    );
    let app_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        app_edit.cached(INSTALL_PY),
        "an app edit must not re-run the install:\n{}",
        app_edit.log
    );
    assert!(
        !app_edit.cached("copy app to /code"),
        "the source copy must re-run"
    );
    assert_eq!(e.serve(&tag, 80), r#"{"Hello":"Edited"}"#);

    // Editing the requirements re-runs it.
    ws.write(
        "requirements.txt",
        &format!(
            "{}six==1.16.0  # edit {nonce}\n",
            ws.read("requirements.txt")
        ),
    );
    let req_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        !req_edit.cached(INSTALL_PY),
        "a requirements edit must re-run the install"
    );
    assert!(e.run_output(&tag, &["pip", "list"]).contains("six"));
    eprintln!(
        "[e2e] Docker {} fastapi: first build {:.1?}, app edit {:.1?}, requirements edit {:.1?}",
        kind.id(),
        cold.took,
        app_edit.took,
        req_edit.took
    );
}

/// A Python package manager's example: the FastAPI app of examples/fastapi, managed by the tool.
struct PyTool {
    example: &'static str,
    /// The install step's progress name, or enough of it.
    install: &'static str,
    /// The step that installs the tool itself.
    setup: &'static str,
    /// What the deps stage's workdir holds: the manifests and the lockfile, nothing else.
    staged: &'static str,
    /// The manifest a dependency edit changes. With a lockfile, the edited manifest and lockfile
    /// (six added) are tests/fixtures/dep-edit/<example>/; a requirements file is edited in place.
    manifest: &'static str,
    /// What the tool says when the lockfile no longer matches the manifest; `None`: no lockfile.
    stale: Option<&'static str>,
    /// A step that must run after the source copy (the project installed as a package).
    after_source: Option<&'static str>,
}

const UV: PyTool = PyTool {
    example: "uv",
    install: "uv sync --locked --no-install-project --no-dev",
    setup: "pip install uv==",
    staged: "pyproject.toml\nuv.lock",
    manifest: "pyproject.toml",
    stale: Some("The lockfile at `uv.lock` needs to be updated, but `--locked` was provided."),
    after_source: None,
};

const UV_REQUIREMENTS: PyTool = PyTool {
    example: "uv-requirements",
    install: "uv pip install -r requirements.txt",
    setup: "pip install uv==",
    staged: "requirements.txt",
    manifest: "requirements.txt",
    stale: None,
    after_source: None,
};

const POETRY: PyTool = PyTool {
    example: "poetry",
    install: "poetry install --no-root --no-directory --only main --compile",
    setup: "pip install poetry==",
    staged: "poetry.lock\npyproject.toml",
    manifest: "pyproject.toml",
    stale: Some(
        "pyproject.toml changed significantly since poetry.lock was last generated. Run `poetry lock` to fix the lock file.",
    ),
    after_source: Some("poetry install --only-root --compile"),
};

const PIPENV: PyTool = PyTool {
    example: "pipenv",
    install: "pipenv install --deploy",
    setup: "pip install pipenv==",
    staged: "Pipfile\nPipfile.lock",
    manifest: "Pipfile",
    stale: Some("ERROR:: Aborting deploy"),
    after_source: None,
};

const PDM: PyTool = PyTool {
    example: "pdm",
    install: "pdm install --check --prod --no-self",
    setup: "pip install pdm==",
    staged: "pdm.lock\npyproject.toml",
    manifest: "pyproject.toml",
    stale: Some("Please run `pdm lock` to update the lock file"),
    after_source: None,
};

/// Builds a Python tool's example and checks what the issue asks of every tool: the tool arrives
/// in a step of its own, the install sees only the manifests and installs production
/// dependencies only, the image runs as 10001 and answers GET /, an app edit leaves the install
/// (and the tool) CACHED, a stale lockfile fails with the tool's own message, and a dependency
/// edit (one package added, lockfile updated) re-runs the install but not the tool's setup.
fn python_tool(kind: Kind, t: &PyTool) {
    let e = engine(kind);
    let ws = Workspace::example(t.example, kind, PYTHON_BASE);
    let tag = format!("strata-e2e/{}:{}", t.example, kind.id());

    let cold = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        cold.log.contains(t.setup),
        "the tool's own step:\n{}",
        cold.log
    );
    if let Some(after) = t.after_source {
        assert!(cold.log.contains(after), "{}", cold.log);
    }
    assert_eq!(e.serve(&tag, 80), r#"{"Hello":"World"}"#);
    assert_eq!(e.inspect(&tag, "{{.Config.User}}"), "10001:10001");
    assert_eq!(e.run_output(&tag, &["id", "-u"]), "10001");
    let packages = e.run_output(&tag, &["python", "-m", "pip", "list"]);
    assert!(packages.contains("fastapi"), "{packages}");
    assert!(
        !packages.contains("pytest"),
        "dev dependencies stay out of the image: {packages}"
    );

    let deps_tag = format!("{tag}-deps");
    e.build_ok(&ws.dir, "strata.toml", &deps_tag, &["--target", "deps"]);
    assert_eq!(
        e.run_output(&deps_tag, &["ls", "-A", "/app"]),
        t.staged,
        "the install sees the manifests and nothing else"
    );

    // An app edit: the tool and the install are CACHED.
    let nonce = nonce();
    ws.write(
        "app/main.py",
        &format!(
            "{}# edit {nonce}\n",
            ws.read("app/main.py")
                .replace(r#"{"Hello": "World"}"#, r#"{"Hello": "Edited"}"#)
        ),
    );
    let app_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        app_edit.cached(t.install),
        "an app edit must not re-run the install:\n{}",
        app_edit.log
    );
    assert!(app_edit.cached(t.setup), "{}", app_edit.log);
    assert_eq!(e.serve(&tag, 80), r#"{"Hello":"Edited"}"#);

    let fixtures = repo().join("tests/fixtures/dep-edit").join(t.example);
    let fixture = |name: &str| std::fs::read_to_string(fixtures.join(name)).unwrap();
    // A manifest edit without locking again: the tool refuses the stale lockfile itself.
    if let Some(stale) = t.stale {
        let before = ws.read(t.manifest);
        ws.write(t.manifest, &fixture(t.manifest));
        let b = e.build(&ws.dir, "strata.toml", &tag, &[]);
        assert!(!b.ok, "a stale lockfile must fail the build:\n{}", b.log);
        assert!(b.log.contains(stale), "{}", b.log);
        if t.example == "pipenv" {
            // Pipenv wraps its message at 80 columns.
            assert!(b.log.contains("Your Pipfile.lock"), "{}", b.log);
        }
        ws.write(t.manifest, &before);
    }

    // A dependency edit: six added, the lockfile updated (a comment makes the state new).
    if t.stale.is_some() {
        for entry in std::fs::read_dir(&fixtures).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            ws.write(&name, &fixture(&name));
        }
    } else {
        ws.write(t.manifest, &format!("{}six==1.17.0\n", ws.read(t.manifest)));
    }
    ws.write(
        t.manifest,
        &format!("{}# edit {nonce}\n", ws.read(t.manifest)),
    );
    let dep_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        !dep_edit.cached(t.install),
        "a dependency edit must re-run the install:\n{}",
        dep_edit.log
    );
    assert!(
        dep_edit.cached(t.setup),
        "a dependency edit must not reinstall the tool:\n{}",
        dep_edit.log
    );
    assert!(
        e.run_output(&tag, &["python", "-m", "pip", "list"])
            .contains("six")
    );
    assert_eq!(e.serve(&tag, 80), r#"{"Hello":"Edited"}"#);
    eprintln!(
        "[e2e] Docker {} {}: first build {:.1?}, app edit {:.1?}, dependency edit {:.1?}",
        kind.id(),
        t.example,
        cold.took,
        app_edit.took,
        dep_edit.took
    );
}

/// What users see when a Python project cannot be installed from its manifests alone.
fn python_tool_errors(kind: Kind) {
    let e = engine(kind);
    let ws = Workspace::empty(&format!("py-errors-{}", kind.id()));
    let frontend = frontend();
    // (files in the context, spec lines, expected message)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("uv.lock", "version = 1\n"), ("poetry.lock", "")],
            "",
            "several package managers' lockfiles: uv.lock, poetry.lock",
        ),
        (
            &[("uv.lock", "version = 1\n")],
            "",
            "uv.lock:1:1: uv.lock has no pyproject.toml beside it",
        ),
        (
            &[(
                "pyproject.toml",
                "[project]\nname = \"x\"\n\n[tool.poetry]\n",
            )],
            "",
            "pyproject.toml:4:7: pyproject.toml has no poetry.lock beside it",
        ),
        (
            &[("requirements.txt", "six\n")],
            "package_manager = \"peotry\"\n",
            "strata.toml:3:19: unknown python package manager `peotry` (did you mean `poetry`?)",
        ),
        (
            &[("requirements.txt", "six\n")],
            "[python]\nuvv = \"0.5.11\"\n",
            "strata.toml:4:1: unknown key `uvv` in `[python]` (did you mean `uv`?)",
        ),
    ];
    for (files, extra, expected) in cases {
        let _ = std::fs::remove_dir_all(&ws.dir);
        for (path, content) in *files {
            ws.write(path, content);
        }
        ws.write(
            "strata.toml",
            &format!("# syntax={frontend}\nlanguage = \"python\"\n{extra}run = \"x\"\n"),
        );
        let b = e.build(&ws.dir, "strata.toml", "strata-e2e/error:latest", &[]);
        assert!(!b.ok, "must fail: {files:?}");
        assert!(
            b.log.contains(expected),
            "Docker {}: expected {expected:?} in:\n{}",
            kind.id(),
            b.log
        );
    }
}

#[test]
fn docker28_python_tool_errors() {
    python_tool_errors(Kind::Docker28);
}

#[test]
fn docker26_python_tool_errors() {
    python_tool_errors(Kind::Docker26);
}

#[test]
fn docker20_python_tool_errors() {
    python_tool_errors(Kind::Docker20);
}

#[test]
fn docker28_uv() {
    python_tool(Kind::Docker28, &UV);
}

#[test]
fn docker20_uv() {
    python_tool(Kind::Docker20, &UV);
}

#[test]
fn docker28_uv_requirements() {
    python_tool(Kind::Docker28, &UV_REQUIREMENTS);
}

#[test]
fn docker28_poetry() {
    python_tool(Kind::Docker28, &POETRY);
}

#[test]
fn docker28_pipenv() {
    python_tool(Kind::Docker28, &PIPENV);
}

#[test]
fn docker28_pdm() {
    python_tool(Kind::Docker28, &PDM);
}

fn express(kind: Kind) {
    let e = engine(kind);
    let ws = Workspace::example("express", kind, NODE_BASE);
    let tag = format!("strata-e2e/express:{}", kind.id());
    // Host artefacts: ignored by .dockerignore (node_modules is also never copied over the install).
    ws.write(
        "node_modules/left-over/index.js",
        "module.exports = 'host';\n",
    );
    ws.write("notes.secret", "do not ship\n");
    ws.write(
        ".dockerignore",
        &format!("{}*.secret\n", ws.read(".dockerignore")),
    );
    e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert_eq!(
        e.run_output(&tag, &["sh", "-c", "ls /app/node_modules/left-over /app/notes.secret 2>&1 | wc -l; ls /app/node_modules/express/package.json"]),
        "2\n/app/node_modules/express/package.json",
        "ignored files stay out of the image, the installed modules stay in"
    );
    assert_eq!(e.serve(&tag, 3000), r#"{"Hello":"World"}"#);
    assert_eq!(e.inspect(&tag, "{{.Config.User}}"), "10001:10001");
    assert!(
        e.inspect(&tag, "{{json .Config.Env}}")
            .contains("NODE_ENV=production")
    );

    let deps_tag = format!("{tag}-deps");
    e.build_ok(&ws.dir, "strata.toml", &deps_tag, &["--target", "deps"]);
    assert_eq!(
        e.run_output(&deps_tag, &["sh", "-c", "ls -A /app"]),
        "node_modules\npackage-lock.json\npackage.json"
    );

    ws.write(
        "server.js",
        &format!(
            "{}// edit {}\n",
            ws.read("server.js")
                .replace(r#"Hello: "World""#, r#"Hello: "Edited""#),
            nonce()
        ),
    );
    let app_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        app_edit.cached("npm ci"),
        "an app edit must not re-run npm ci:\n{}",
        app_edit.log
    );
    assert_eq!(e.serve(&tag, 3000), r#"{"Hello":"Edited"}"#);
}

/// A Node package manager's example (examples/<name>) and what its end-to-end test checks.
struct NodeTool {
    example: &'static str,
    /// The file the app edit changes.
    app_file: &'static str,
    /// The tool's own install step: keyed on its version alone, it survives both edits.
    setup: &'static str,
    /// The dependency install step.
    install: &'static str,
    /// `ls -A /app` in the deps stage: the manifests and what the install made.
    deps_listing: &'static str,
    /// Where the installed express is in the image (a shell glob).
    installed: &'static str,
    /// The tool's message when package.json and the lockfile disagree under a frozen install.
    stale: &'static str,
    /// Resolves a dependency inside the image (`%` is the package), as the app would.
    resolve: &'static str,
    /// Spec lines for this machine: Bun reads its own CA store, not the system's, and HTTPS here
    /// goes through an intercepting proxy whose CA only the system bundle holds.
    extra_spec: &'static str,
}

const PNPM: NodeTool = NodeTool {
    example: "pnpm",
    app_file: "server.js",
    setup: "npm install -g --prefix /opt/pnpm",
    install: "pnpm install --frozen-lockfile",
    deps_listing: "node_modules\npackage.json\npnpm-lock.yaml",
    installed: "/app/node_modules/.pnpm/express@4.21.2/node_modules/express/package.json",
    stale: "ERR_PNPM_OUTDATED_LOCKFILE",
    resolve: "node -p \"require.resolve('%')\"",
    extra_spec: "",
};

const YARN_CLASSIC: NodeTool = NodeTool {
    example: "yarn-classic",
    app_file: "server.js",
    setup: "npm install -g --prefix /opt/yarn",
    install: "yarn install --frozen-lockfile",
    deps_listing: "node_modules\npackage.json\nyarn.lock",
    installed: "/app/node_modules/express/package.json",
    stale: "Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`.",
    resolve: "node -p \"require.resolve('%')\"",
    extra_spec: "",
};

const YARN_BERRY: NodeTool = NodeTool {
    example: "yarn-berry",
    app_file: "server.js",
    setup: "npm install -g --prefix /opt/yarn",
    install: "yarn install --immutable",
    // Plug'n'Play: no node_modules; the zips are in the project, not only on the cache mount.
    deps_listing: ".pnp.cjs\n.yarn\npackage.json\nyarn.lock",
    installed: "/app/.yarn/cache/express-npm-4.21.2-*.zip",
    stale: "The lockfile would have been modified by this install, which is explicitly forbidden.",
    resolve: "yarn node -p \"require.resolve('%')\"",
    extra_spec: "",
};

const BUN: NodeTool = NodeTool {
    example: "bun",
    app_file: "server.ts",
    setup: "npm install -g --prefix /opt/bun",
    install: "bun install --frozen-lockfile",
    deps_listing: "bun.lock\nnode_modules\npackage.json",
    installed: "/app/node_modules/express/package.json",
    stale: "lockfile had changes, but lockfile is frozen",
    resolve: "bun -p \"require.resolve('%')\"",
    extra_spec: "build_env = { NODE_EXTRA_CA_CERTS = \"/etc/ssl/certs/ca-certificates.crt\" }\n",
};

/// A Node example per package manager: it builds, runs as non-root and answers GET /; the tool
/// is installed in a step of its own; an app edit leaves both the tool and the install CACHED; a
/// package.json that the lockfile does not match fails with the tool's own message; a dependency
/// edit (one package added, lockfile regenerated by the real tool: tests/fixtures/node-dep-edit)
/// re-runs the install and not the tool's step.
fn node_tool(kind: Kind, tool: &NodeTool) {
    let e = engine(kind);
    let ws = Workspace::example(tool.example, kind, NODE_BASE);
    if !tool.extra_spec.is_empty() {
        let spec = ws.read("strata.toml");
        ws.write(
            "strata.toml",
            &spec.replacen("\n", &format!("\n{}", tool.extra_spec), 1),
        );
    }
    let tag = format!("strata-e2e/{}:{}", tool.example, kind.id());
    // A host install: ignored by .dockerignore, and never copied over the image's anyway.
    ws.write(
        "node_modules/left-over/index.js",
        "module.exports = 'host';\n",
    );

    let cold = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert_eq!(e.serve(&tag, 3000), r#"{"Hello":"World"}"#);
    assert_eq!(e.inspect(&tag, "{{.Config.User}}"), "10001:10001");
    assert_eq!(e.run_output(&tag, &["id", "-u"]), "10001");
    assert_eq!(
        e.run_output(
            &tag,
            &["sh", "-c", "ls /app/node_modules/left-over 2>&1 | wc -l"]
        ),
        "1",
        "the host's node_modules stays out"
    );
    assert!(
        e.inspect(&tag, "{{json .Config.Env}}")
            .contains("NODE_ENV=production")
    );
    // In the image itself, not only on a cache mount (Yarn's Plug'n'Play zips included).
    e.run_output(&tag, &["sh", "-c", &format!("ls -d {}", tool.installed)]);

    let deps_tag = format!("{tag}-deps");
    e.build_ok(&ws.dir, "strata.toml", &deps_tag, &["--target", "deps"]);
    assert_eq!(
        e.run_output(&deps_tag, &["sh", "-c", "ls -A /app"]),
        tool.deps_listing,
        "the install saw the manifests and nothing else"
    );

    let nonce = nonce();
    ws.write(
        tool.app_file,
        &format!(
            "{}// edit {nonce}\n",
            ws.read(tool.app_file)
                .replace(r#"Hello: "World""#, r#"Hello: "Edited""#)
        ),
    );
    let app_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        app_edit.cached(tool.setup) && app_edit.cached(tool.install),
        "an app edit must not re-run the tool's setup or the install:\n{}",
        app_edit.log
    );
    assert_eq!(e.serve(&tag, 3000), r#"{"Hello":"Edited"}"#);

    // The fixture's package.json with the old lockfile: the frozen install refuses it. The spec
    // gets the nonce so that no earlier run's failure is reused.
    let fixtures = repo()
        .join("tests/fixtures/node-dep-edit")
        .join(tool.example);
    let fixture = |name: &str| std::fs::read_to_string(fixtures.join(name)).unwrap();
    let lockfile = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|f| f.unwrap().file_name().into_string().unwrap())
        .find(|f| f != "package.json")
        .unwrap();
    let package = fixture("package.json");
    ws.write(
        "package.json",
        &package.replacen(
            "{",
            &format!("{{\n  \"x-strata-e2e\": \"stale {nonce}\","),
            1,
        ),
    );
    let stale = e.build(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        !stale.ok,
        "a stale lockfile must fail the build:\n{}",
        stale.log
    );
    assert!(
        stale.log.contains(tool.stale),
        "the tool's own message, {:?}, in:\n{}",
        tool.stale,
        stale.log
    );

    // The same edit with its lockfile; the nonce (in a field no lockfile records) makes it a
    // state no earlier run built.
    ws.write(
        "package.json",
        &package.replacen(
            "{",
            &format!("{{\n  \"x-strata-e2e\": \"dependency edit {nonce}\","),
            1,
        ),
    );
    ws.write(&lockfile, &fixture(&lockfile));
    let dep_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        !dep_edit.cached(tool.install),
        "a dependency edit must re-run the install:\n{}",
        dep_edit.log
    );
    assert!(
        dep_edit.cached(tool.setup),
        "a dependency edit must not reinstall the tool:\n{}",
        dep_edit.log
    );
    let resolved = e.run_output(&tag, &["sh", "-c", &tool.resolve.replace('%', "is-number")]);
    assert!(resolved.contains("is-number"), "{resolved}");
    assert_eq!(e.serve(&tag, 3000), r#"{"Hello":"Edited"}"#);
    eprintln!(
        "[e2e] Docker {} {}: first build {:.1?}, app edit {:.1?}, dependency edit {:.1?}",
        kind.id(),
        tool.example,
        cold.took,
        app_edit.took,
        dep_edit.took
    );
}

/// `runtime` names a different image: it receives the workdir (node_modules, or Yarn's
/// Plug'n'Play files and zips) and the tool, which each example's start command runs.
#[test]
fn docker28_node_separate_runtime() {
    node_separate_runtime(Kind::Docker28);
}

#[test]
fn docker26_node_separate_runtime() {
    node_separate_runtime(Kind::Docker26);
}

fn node_separate_runtime(kind: Kind) {
    let e = engine(kind);
    let runtime = "local/strata-node:runtime";
    assert!(e.docker(&["tag", NODE_BASE, runtime]).status.success());
    for (tool, home) in [
        (&PNPM, "/opt/pnpm"),
        (&YARN_CLASSIC, "/opt/yarn"),
        (&YARN_BERRY, "/opt/yarn"),
        (&BUN, "/opt/bun"),
    ] {
        let ws = Workspace::example(tool.example, kind, NODE_BASE);
        let spec = ws.read("strata.toml");
        ws.write(
            "strata.toml",
            &spec.replacen(
                "\n",
                &format!("\n{}runtime = \"{runtime}\"\n", tool.extra_spec),
                1,
            ),
        );
        let tag = format!("strata-e2e/{}-runtime:{}", tool.example, kind.id());
        let b = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
        for copy in [
            format!("[runtime 1/2] copy {home} from build"),
            "[runtime 2/2] copy /app from build".to_string(),
        ] {
            assert!(
                b.log.contains(&copy),
                "{}: no {copy:?} in:\n{}",
                tool.example,
                b.log
            );
        }
        assert_eq!(
            e.serve(&tag, 3000),
            r#"{"Hello":"World"}"#,
            "{}",
            tool.example
        );
    }
}

#[test]
fn docker28_pnpm() {
    node_tool(Kind::Docker28, &PNPM);
}

#[test]
fn docker20_pnpm() {
    node_tool(Kind::Docker20, &PNPM);
}

#[test]
fn docker28_yarn_classic() {
    node_tool(Kind::Docker28, &YARN_CLASSIC);
}

#[test]
fn docker28_yarn_berry() {
    node_tool(Kind::Docker28, &YARN_BERRY);
}

#[test]
fn docker28_bun() {
    node_tool(Kind::Docker28, &BUN);
}

/// A package manager's official image given as a named context, and the local stand-in
/// (scripts/tool-images.sh) that plays it here, where no container registry is reachable.
struct ToolImage {
    example: &'static str,
    /// The example's default image and the local image that replaces it.
    base: (&'static str, &'static str),
    /// `TOOL:VERSION` for scripts/tool-images.sh: the version Strata pins.
    stand_in: &'static str,
    /// The named context's key: the official image at that version.
    official: &'static str,
    /// The progress line of the copy that replaces the install.
    copied: &'static str,
    /// What the install from the registry would show.
    installed: &'static str,
    port: u16,
    /// The tool, run in the image: its version.
    version: &'static [&'static str],
    extra_spec: &'static str,
}

const UV_IMAGE: ToolImage = ToolImage {
    example: "uv",
    base: ("python:3.12-slim", PYTHON_BASE),
    stand_in: "uv:0.13.9",
    official: "ghcr.io/astral-sh/uv:0.13.9",
    copied: "copy /uv /uvx from ghcr.io/astral-sh/uv:0.13.9 to /opt/strata/uv/bin",
    installed: "pip install uv==",
    port: 80,
    version: &["/opt/strata/uv/bin/uv", "--version"],
    extra_spec: "",
};

const BUN_IMAGE: ToolImage = ToolImage {
    example: "bun",
    base: ("node:22-slim", NODE_BASE),
    stand_in: "bun:1.4.5",
    official: "oven/bun:1.4.5",
    copied: "copy /usr/local/bin/bun from oven/bun:1.4.5 to /opt/bun/bin, bunx running /opt/bun/bin/bun x",
    installed: "npm install -g --prefix /opt/bun",
    port: 3000,
    version: &["bunx", "--version"],
    extra_spec: "build_env = { NODE_EXTRA_CA_CERTS = \"/etc/ssl/certs/ca-certificates.crt\" }\n",
};

/// The unmodified example built as a user with a registry (or a mirror of it) would: the base
/// image and the tool's official image replaced through `--build-context`. The tool is copied
/// from the image (its install never runs), runs from where the install would have put it, and
/// the image serves GET /.
fn tool_from_its_image(kind: Kind, t: &ToolImage) {
    let e = engine(kind);
    script(&["tool-images.sh", kind.id(), t.stand_in], &e.env);
    let ws = Workspace::example_as_is(t.example, kind);
    if !t.extra_spec.is_empty() {
        let spec = ws.read("strata.toml");
        ws.write(
            "strata.toml",
            &spec.replacen("\n", &format!("\n{}", t.extra_spec), 1),
        );
    }
    let tag = format!("strata-e2e/{}-tool-image:{}", t.example, kind.id());
    let stand_in = format!("local/strata-{}", t.stand_in);
    let base = format!("{}=docker-image://{}", t.base.0, t.base.1);
    let tool = format!("{}=docker-image://{stand_in}", t.official);
    let b = e.build_ok(
        &ws.dir,
        "strata.toml",
        &tag,
        &["--build-context", &base, "--build-context", &tool],
    );
    assert_eq!(b.vertices_named(t.copied), 1, "{}", b.log);
    assert!(
        b.log
            .contains(&format!("{} from docker.io/{stand_in}", t.official)),
        "the copy's source is the stand-in:\n{}",
        b.log
    );
    assert!(
        !b.log.contains(t.installed),
        "the tool must not be installed from its registry:\n{}",
        b.log
    );
    assert_eq!(e.serve(&tag, t.port), r#"{"Hello":"World"}"#);
    let version = e.run_output(&tag, t.version);
    let pinned = t.stand_in.split_once(':').unwrap().1;
    assert!(version.contains(pinned), "{version}");
    eprintln!(
        "[e2e] Docker {} {} from {}: build {:.1?}",
        kind.id(),
        t.example,
        t.official,
        b.took
    );
}

#[test]
fn docker28_uv_from_its_official_image() {
    tool_from_its_image(Kind::Docker28, &UV_IMAGE);
}

#[test]
fn docker28_bun_from_its_official_image() {
    tool_from_its_image(Kind::Docker28, &BUN_IMAGE);
}

/// `runtime` names a different image: it receives the virtualenv and the app from the build stage.
fn separate_runtime(kind: Kind) {
    let e = engine(kind);
    let runtime = "local/strata-python:runtime";
    let tagged = e.docker(&["tag", PYTHON_BASE, runtime]);
    assert!(tagged.status.success());
    let ws = Workspace::example("fastapi", kind, PYTHON_BASE);
    let spec = ws.read("strata.toml");
    ws.write(
        "strata.toml",
        &spec.replacen("\n", &format!("\nruntime = \"{runtime}\"\n"), 1),
    );
    let tag = format!("strata-e2e/fastapi-runtime:{}", kind.id());
    let b = e.build_ok(&ws.dir, "strata.toml", &tag, &[]);
    assert!(
        b.log.contains("[runtime 1/2] copy /opt/venv from build"),
        "{}",
        b.log
    );
    assert!(
        b.log.contains("[runtime 2/2] copy /code from build"),
        "{}",
        b.log
    );
    assert_eq!(e.serve(&tag, 80), r#"{"Hello":"World"}"#);
}

#[test]
fn docker28_separate_runtime() {
    separate_runtime(Kind::Docker28);
}

#[test]
fn docker26_separate_runtime() {
    separate_runtime(Kind::Docker26);
}

#[test]
fn docker20_separate_runtime() {
    separate_runtime(Kind::Docker20);
}

/// Broken specs: the message a user sees names the file, line and column and says what to do.
fn errors(kind: Kind) {
    let e = engine(kind);
    let ws = Workspace::empty(&format!("errors-{}", kind.id()));
    ws.write("requirements.txt", "six\n");
    ws.write("app/main.py", "print('hi')\n");
    let cases: &[(&str, &str)] = &[
        (
            "language = \"python\"\nworkdri = \"/srv\"\n",
            "strata.toml:3:1: unknown key `workdri` (did you mean `workdir`?)",
        ),
        (
            "language = \"python\"\nport = \"http\"\n",
            "strata.toml:3:8: `port` must be a port number 1-65535",
        ),
        (
            "language = \"python\"\napp = \"../outside\"\n",
            "strata.toml:3:7: `app`: `../outside` points outside the build context",
        ),
        (
            "language = \"python\"\nmanifests = [\"requirements/prod.txt\"]\nrun = \"x\"\n",
            "strata.toml:3:14: manifest `requirements/prod.txt` does not exist in the build context",
        ),
        (
            "language = \"python\"\napp = \"app\"\n",
            "strata.toml:2:12: no start command: `run` is not set and no python convention applies",
        ),
        (
            "language = \"python\"\nbase = \"${BASE}\"\nrun = \"x\"\n",
            "strata.toml:3:9: build argument `BASE` is not set",
        ),
    ];
    for (body, expected) in cases {
        ws.write("strata.toml", &format!("# syntax={}\n{body}", frontend()));
        let b = e.build(&ws.dir, "strata.toml", "strata-e2e/error:latest", &[]);
        assert!(!b.ok, "a broken spec must fail the build:\n{body}");
        assert!(
            b.log.contains(expected),
            "Docker {}: expected {expected:?} in:\n{}",
            kind.id(),
            b.log
        );
    }
    // An unsupported option names the option.
    ws.write(
        "strata.toml",
        &format!(
            "# syntax={}\nlanguage = \"python\"\nrun = \"x\"\n",
            frontend()
        ),
    );
    let b = e.build(
        &ws.dir,
        "strata.toml",
        "strata-e2e/error:latest",
        &["--target", "final"],
    );
    assert!(!b.ok);
    assert!(
        b.log
            .contains("build option `target`: there is no stage `final`"),
        "{}",
        b.log
    );
}

/// The unmodified example, its official base image replaced by a named context, as a user without
/// registry access (or with a mirror) would build it.
fn build_context_replaces_the_base_image(kind: Kind) {
    let e = engine(kind);
    let dir = repo().join("examples/fastapi");
    let replace = format!("python:3.12-slim=docker-image://{PYTHON_BASE}");
    let tag = &format!("strata-e2e/fastapi-context:{}", kind.id());
    let b = e.build_ok(&dir, "strata.toml", tag, &["--build-context", &replace]);
    assert!(
        b.log
            .contains(&format!("[base] FROM docker.io/{PYTHON_BASE}")),
        "{}",
        b.log
    );
    assert_eq!(e.serve(tag, 80), r#"{"Hello":"World"}"#);
}

#[test]
fn docker28_build_context_replaces_the_base_image() {
    build_context_replaces_the_base_image(Kind::Docker28);
}

#[test]
fn docker26_build_context_replaces_the_base_image() {
    build_context_replaces_the_base_image(Kind::Docker26);
}

/// `docker buildx bake` with the examples' bake file builds both through the frontend.
fn bake(kind: Kind) {
    let e = engine(kind);
    let root = Workspace::empty(&format!("bake-{}", kind.id()));
    let examples = root.dir.join("examples");
    let fastapi = Workspace::example("fastapi", kind, PYTHON_BASE);
    let express = Workspace::example("express", kind, NODE_BASE);
    copy_tree(&fastapi.dir, &examples.join("fastapi"));
    copy_tree(&express.dir, &examples.join("express"));
    std::fs::copy(
        repo().join("examples/docker-bake.hcl"),
        examples.join("docker-bake.hcl"),
    )
    .unwrap();
    let out = {
        let _one_at_a_time = e.builds.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("docker")
            .args([
                "buildx",
                "bake",
                "--progress=plain",
                "-f",
                "examples/docker-bake.hcl",
                "--set",
                "*.labels.e2e=bake",
            ])
            .current_dir(&root.dir)
            .envs(&e.env)
            .env("TAG", "e2e")
            .output()
            .expect("docker buildx bake runs")
    };
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "bake failed:\n{log}");
    assert!(
        log.contains("[express deps 2/2] npm ci --omit=dev --prefer-offline"),
        "{log}"
    );
    assert!(log.contains("pip install -r requirements.txt"), "{log}");
    assert_eq!(
        e.serve("strata-examples/fastapi:e2e", 80),
        r#"{"Hello":"World"}"#
    );
    assert_eq!(
        e.serve("strata-examples/express:e2e", 3000),
        r#"{"Hello":"World"}"#
    );
    assert_eq!(
        e.inspect(
            "strata-examples/express:e2e",
            "{{index .Config.Labels \"e2e\"}}"
        ),
        "bake"
    );
    assert_eq!(
        e.inspect(
            "strata-examples/fastapi:e2e",
            "{{index .Config.Labels \"org.opencontainers.image.title\"}}"
        ),
        "strata fastapi example"
    );
}

#[test]
fn docker28_bake() {
    bake(Kind::Docker28);
}

#[test]
fn docker26_bake() {
    bake(Kind::Docker26);
}

/// An ssh-agent on a private socket, stopped on drop.
struct SshAgent {
    child: std::process::Child,
    socket: PathBuf,
}

impl SshAgent {
    fn start(dir: &Path) -> SshAgent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent (Debian's openssh-client) runs");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh-agent did not create {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SshAgent { child, socket }
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[[secret]]` reaches the install step (as an environment variable, natively on BuildKit v0.12+
/// and through a file mount before) and nowhere else; `--ssh default` reaches it too.
fn secrets(kind: Kind) {
    let e = engine(kind);
    let ws = Workspace::empty(&format!("secret-{}", kind.id()));
    ws.write("requirements.txt", "");
    ws.write("token.txt", "sekret");
    ws.write(".dockerignore", "token.txt\n");
    // Secrets do not enter cache keys, so every build gets an install step never run before (a
    // nonce in the command) rather than --no-cache, which would also recompute the virtualenv step
    // other tests share and so disturb their cache checks.
    let frontend = frontend();
    let spec = |nonce: &str| {
        format!(
            "# syntax={frontend}\nlanguage = \"python\"\nbase = \"{PYTHON_BASE}\"\nrun = \"true\"\n\
             install = \"test \\\"$TOKEN\\\" = sekret && test \\\"$(cat /etc/token)\\\" = sekret && test -S \\\"$SSH_AUTH_SOCK\\\" && echo {nonce}\"\n\
             [[secret]]\nid = \"token\"\nenv = \"TOKEN\"\nrequired = true\n\
             [[secret]]\nid = \"token\"\ntarget = \"/etc/token\"\n"
        )
    };
    let src = format!("id=token,src={}", ws.dir.join("token.txt").display());
    let tag = format!("strata-e2e/secret:{}", kind.id());
    let agent = SshAgent::start(&ws.dir);
    let ssh = format!("default={}", agent.socket.display());
    ws.write("strata.toml", &spec(&nonce()));
    e.build_ok(
        &ws.dir,
        "strata.toml",
        &tag,
        &["--secret", &src, "--ssh", &ssh],
    );
    let inside = e.run_output(
        &tag,
        &["sh", "-c", "env; cat /etc/token 2>/dev/null; ls -A /run"],
    );
    assert!(
        !inside.contains("sekret"),
        "the secret leaked into the image: {inside}"
    );
    // A required secret that is not supplied fails the build; so does the check for the agent when
    // no --ssh is given (the optional mount is skipped, the build is not refused).
    ws.write("strata.toml", &spec(&nonce()));
    let b = e.build(&ws.dir, "strata.toml", &tag, &["--ssh", &ssh]);
    assert!(!b.ok, "a missing required secret must fail:\n{}", b.log);
    ws.write("strata.toml", &spec(&nonce()));
    let b = e.build(&ws.dir, "strata.toml", &tag, &["--secret", &src]);
    assert!(!b.ok, "without --ssh there is no agent socket:\n{}", b.log);
    assert!(
        b.log.contains("test -S"),
        "the build ran and failed at the socket check:\n{}",
        b.log
    );
}

#[test]
fn docker28_secrets() {
    secrets(Kind::Docker28);
}

#[test]
fn docker26_secrets() {
    secrets(Kind::Docker26);
}

#[test]
fn docker20_secrets() {
    secrets(Kind::Docker20);
}

#[test]
fn docker28_fastapi() {
    fastapi(Kind::Docker28);
}

#[test]
fn docker26_fastapi() {
    fastapi(Kind::Docker26);
}

#[test]
fn docker20_fastapi() {
    fastapi(Kind::Docker20);
}

#[test]
fn docker28_express() {
    express(Kind::Docker28);
}

#[test]
fn docker26_express() {
    express(Kind::Docker26);
}

#[test]
fn docker20_express() {
    express(Kind::Docker20);
}

#[test]
fn docker28_errors() {
    errors(Kind::Docker28);
}

#[test]
fn docker26_errors() {
    errors(Kind::Docker26);
}

#[test]
fn docker20_errors() {
    errors(Kind::Docker20);
}

/// The Rust images of one engine, made once per test run (after the engine's usual ones).
fn rust_images(kind: Kind) -> &'static Engine {
    engine_with(kind, &["rust", "debian"])
}

/// The Rust recipe's default images replaced by the local stand-ins, as a user with a mirror
/// would replace them.
fn rust_contexts() -> Vec<String> {
    [
        format!("rust:1-slim-bookworm=docker-image://{RUST_BASE}"),
        format!("debian:bookworm-slim=docker-image://{DEBIAN_BASE}"),
    ]
    .into_iter()
    .flat_map(|c| ["--build-context".to_string(), c])
    .collect()
}

const RUST_VENDOR: &str = "[deps 2/3] cargo vendor";
const RUST_DEPS_BUILD: &str = "[deps 3/3] cargo build";
const RUST_DEPS_KEEP: &str = "[deps 3/3] keep /app/target in the layer";
const RUST_BUILD: &str = "[build 2/2] cargo build";

/// The crates a step's output shows cargo compiling.
fn compiled_crates(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter_map(|l| l.split_once("Compiling ").map(|(_, c)| c))
        .filter_map(|c| c.split_whitespace().next())
        .collect()
}

/// The cargo workspace example: the dependencies compile from a skeleton of the manifests, in a
/// target dir on a cache mount that the deps layer then keeps a copy of; an app edit and a
/// version bump compile no dependency, a dependency edit compiles the added crate alone.
fn rust(kind: Kind) {
    let e = rust_images(kind);
    let ws = Workspace::example_as_is("rust", kind);
    // A build-output cache of this run's own, which the first build fills: the dependency edit
    // below must find there what this run compiled, not an added crate an earlier run compiled.
    // A cache id alone does not make the steps run (BuildKit v0.25 leaves cache ids out of the
    // steps' cache keys): a variable of the build steps does.
    let nonce = nonce();
    let spec = ws.read("strata.toml");
    ws.write(
        "strata.toml",
        &format!("{spec}[build_env]\nE2E_RUN = \"{nonce}\"\n[cache]\nid = \"e2e-rust-{nonce}\"\n"),
    );
    let tag = format!("strata-e2e/rust:{}", kind.id());
    let contexts = rust_contexts();
    let images: Vec<&str> = contexts.iter().map(String::as_str).collect();

    let cold = e.build_ok(&ws.dir, "strata.toml", &tag, &images);
    assert!(
        cold.log
            .contains(&format!("[base] FROM docker.io/{RUST_BASE}"))
            && cold
                .log
                .contains(&format!("[runtime] FROM docker.io/{DEBIAN_BASE}")),
        "{}",
        cold.log
    );
    assert!(
        compiled_crates(&cold.output_of(RUST_DEPS_BUILD)).contains(&"httparse"),
        "the dependencies compile in the deps stage:\n{}",
        cold.log
    );
    assert!(
        compiled_crates(&cold.output_of(RUST_DEPS_KEEP)).is_empty(),
        "cargo finds the copy in the layer up to date (mtimes kept):\n{}",
        cold.log
    );
    assert_eq!(e.serve(&tag, 8080), r#"{"Hello":"World"}"#);
    assert_eq!(e.inspect(&tag, "{{.Config.User}}"), "10001:10001");
    assert_eq!(e.run_output(&tag, &["id", "-u"]), "10001");
    assert_eq!(
        e.inspect(&tag, "{{json .Config.Cmd}}"),
        r#"["/usr/local/bin/server"]"#
    );
    assert_eq!(
        e.run_output(
            &tag,
            &[
                "sh",
                "-c",
                "command -v cargo rustc; ls -A /app 2>/dev/null | wc -l"
            ]
        ),
        "0",
        "the image is the binary alone: no toolchain, no source"
    );
    assert_eq!(
        e.run_output(&tag, &["/usr/local/bin/server", "--version"]),
        "0.1.0"
    );

    // The deps stage: the skeleton (manifests, lockfile and stubs, never source), the vendored
    // sources and the compiled dependencies, all in the layers.
    let deps_tag = format!("{tag}-deps");
    let mut deps_args = images.clone();
    deps_args.extend(["--target", "deps"]);
    e.build_ok(&ws.dir, "strata.toml", &deps_tag, &deps_args);
    assert_eq!(
        e.run_output(
            &deps_tag,
            &[
                "sh",
                "-c",
                "cd /app && find . -path ./target -prune -o -type f -print | sort"
            ]
        ),
        "./Cargo.lock\n./Cargo.toml\n./crates/greeting/Cargo.toml\n./crates/greeting/src/lib.rs\n./crates/server/Cargo.toml\n./crates/server/src/main.rs"
    );
    assert_eq!(
        e.run_output(&deps_tag, &["cat", "/app/crates/server/src/main.rs"]),
        "fn main() {}"
    );
    assert_eq!(
        e.run_output(
            &deps_tag,
            &["sh", "-c", "grep -h '^version' /app/crates/*/Cargo.toml; ls /opt/cargo-vendor; ls /app/target/release/deps | grep -c '^libhttparse-.*rlib$'; ls /app/target/release/deps | grep -c -e greeting -e server; true"]
        ),
        "version = \"0.0.0\"\nversion = \"0.0.0\"\nhttparse\n1\n0",
        "masked versions, vendored sources and the compiled dependency are in the layer, the stubs' artefacts are not"
    );

    // An app edit (the library crate's source) compiles no dependency.
    let lib = ws.read("crates/greeting/src/lib.rs");
    ws.write(
        "crates/greeting/src/lib.rs",
        &format!(
            "{}// edit {nonce}\n",
            lib.replace(
                r#"{{"Hello":"{name}"}}"#,
                r#"{{"Hello":"{name}","Edited":true}}"#
            )
        ),
    );
    let app_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &images);
    assert!(
        app_edit.cached(RUST_VENDOR)
            && app_edit.cached(RUST_DEPS_BUILD)
            && app_edit.cached(RUST_DEPS_KEEP),
        "an app edit must not rebuild the dependencies:\n{}",
        app_edit.log
    );
    let rebuilt = app_edit.output_of(RUST_BUILD);
    assert!(
        rebuilt.contains("Compiling greeting") && !rebuilt.contains("Compiling httparse"),
        "the local crates recompile, the dependencies do not:\n{rebuilt}"
    );
    assert_eq!(e.serve(&tag, 8080), r#"{"Hello":"World","Edited":true}"#);

    // A version bump of the app crate (Cargo.toml and Cargo.lock, as cargo writes them) too.
    let version = format!("0.1.1-e2e-{nonce}");
    let bump = |text: String, from: &str, to: &str| {
        assert!(text.contains(from), "{from:?} in {text}");
        text.replacen(from, to, 1)
    };
    let server = ws.read("crates/server/Cargo.toml");
    ws.write(
        "crates/server/Cargo.toml",
        &bump(
            server,
            "version = \"0.1.0\"",
            &format!("version = \"{version}\""),
        ),
    );
    let lock = ws.read("Cargo.lock");
    ws.write(
        "Cargo.lock",
        &bump(
            lock,
            "name = \"server\"\nversion = \"0.1.0\"",
            &format!("name = \"server\"\nversion = \"{version}\""),
        ),
    );
    let version_bump = e.build_ok(&ws.dir, "strata.toml", &tag, &images);
    assert!(
        version_bump.cached("[deps 1/3] write dependency skeleton")
            && version_bump.cached(RUST_DEPS_BUILD),
        "a version bump must not rebuild the dependencies:\n{}",
        version_bump.log
    );
    assert!(!version_bump.cached(RUST_BUILD));
    assert_eq!(
        e.run_output(&tag, &["/usr/local/bin/server", "--version"]),
        version
    );

    // A dependency edit rebuilds them (a crate never added before: its name carries the nonce).
    let dependency = format!("itoa-{nonce}");
    let greeting = ws.read("crates/greeting/Cargo.toml");
    ws.write(
        "crates/greeting/Cargo.toml",
        &bump(
            greeting,
            "[dependencies]\n",
            &format!("[dependencies]\n{dependency} = {{ package = \"itoa\", version = \"1\" }}\n"),
        ),
    );
    let lock = ws.read("Cargo.lock");
    ws.write(
        "Cargo.lock",
        &bump(
            lock,
            "name = \"greeting\"\nversion = \"0.1.0\"\n",
            "name = \"greeting\"\nversion = \"0.1.0\"\ndependencies = [\n \"itoa\",\n]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.19\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"3bd1574e617a9a6c1f8f8181bd7e841e1f20e4277607ef28945765188d6284d4\"\n",
        ),
    );
    let dep_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &images);
    assert!(
        !dep_edit.cached(RUST_DEPS_BUILD),
        "a dependency edit must rebuild the dependencies"
    );
    // Only the added crate and the workspace's stubs compile: the cache held the rest.
    let compiled = compiled_crates(&dep_edit.output_of(RUST_DEPS_BUILD)).join(" ");
    assert!(
        compiled.contains("itoa") && !compiled.contains("httparse"),
        "a dependency edit compiles the added crate, not the unchanged ones: {compiled}\n{}",
        dep_edit.log
    );
    assert!(
        compiled_crates(&dep_edit.output_of(RUST_DEPS_KEEP)).is_empty(),
        "the copy in the layer is complete:\n{}",
        dep_edit.log
    );
    assert!(
        !dep_edit.output_of(RUST_BUILD).contains("Compiling itoa"),
        "the build after the source copy finds it compiled"
    );
    assert_eq!(e.serve(&tag, 8080), r#"{"Hello":"World","Edited":true}"#);
    eprintln!(
        "[e2e] Docker {} rust: first build {:.1?}, app edit {:.1?}, version bump {:.1?}, dependency edit {:.1?}",
        kind.id(),
        cold.took,
        app_edit.took,
        version_bump.took,
        dep_edit.took
    );

    // Mistakes a Rust project can make, as the user sees them.
    let broken = Workspace::example_as_is("rust", kind);
    std::fs::remove_file(broken.dir.join("Cargo.lock")).unwrap();
    let b = e.build(
        &broken.dir,
        "strata.toml",
        "strata-e2e/error:latest",
        &images,
    );
    assert!(!b.ok);
    assert!(
        b.log
            .contains("strata.toml:3:12: no Cargo.lock in the build context")
            && b.log.contains("cargo generate-lockfile"),
        "{}",
        b.log
    );
    let two = Workspace::example_as_is("rust", kind);
    two.write("crates/server/src/bin/admin.rs", "fn main() {}\n");
    let b = e.build(&two.dir, "strata.toml", "strata-e2e/error:latest", &images);
    assert!(!b.ok);
    assert!(
        b.log.contains("strata.toml:3:12: several binaries in the workspace and none named: `admin` (package server), `server` (package server)"),
        "{}",
        b.log
    );
}

#[test]
fn docker28_rust() {
    rust(Kind::Docker28);
}

#[test]
fn docker26_rust() {
    rust(Kind::Docker26);
}

/// The engine, with the Go images made too: only the Go tests ask for them (they cost a trixie
/// debootstrap the first time).
fn go_engine(kind: Kind) -> &'static Engine {
    engine_with(kind, &["go", "static"])
}

/// The official images the Go example's spec implies, replaced by the local ones.
const GO_CONTEXTS: [&str; 4] = [
    "--build-context",
    "golang:1.24=docker-image://local/strata-go:test",
    "--build-context",
    "gcr.io/distroless/static-debian12:nonroot=docker-image://local/strata-static:test",
];

const GO_DOWNLOAD: &str = "go mod download";

/// The uids and gids of the processes of a container started from `image`, as the host sees them
/// (the image has no shell to ask from inside).
fn process_ids(e: &Engine, image: &str) -> String {
    let out = e.docker(&["run", "-d", "--rm", image]);
    assert!(out.status.success(), "docker run {image}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let _stop = Stop(e, id.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // `docker top` needs the pid column in what it asks ps for.
        let top = e.docker(&["top", &id, "-o", "pid,uid,gid"]);
        let text = String::from_utf8_lossy(&top.stdout).to_string();
        if top.status.success() && text.lines().count() > 1 {
            let rows: Vec<String> = text
                .lines()
                .skip(1)
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
                .collect();
            return rows.join("\n");
        }
        assert!(Instant::now() < deadline, "no process in {id}: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The paths `image` has and its base image `base` has not, sorted. Docker creates the
/// WorkingDir (/app) in every container; it is in no layer of the image, so it is left out.
fn files_added(e: &Engine, image: &str, base: &str) -> Vec<String> {
    let base_files = image_files(e, base);
    let mut added: Vec<String> = image_files(e, image)
        .into_iter()
        .filter(|f| !base_files.contains(f) && f != "app")
        .collect();
    added.sort();
    added
}

/// Every path in an image's filesystem, from `docker export` of a container made from it.
fn image_files(e: &Engine, image: &str) -> Vec<String> {
    // A command, since a runtime image may have none (it is never started).
    let out = e.docker(&["create", image, "/none"]);
    assert!(out.status.success(), "docker create {image}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let _remove = Stop(e, id.clone());
    let export = Command::new("sh")
        .arg("-c")
        .arg(format!("docker export {id} | tar -t"))
        .envs(&e.env)
        .output()
        .expect("docker export | tar -t runs");
    assert!(export.status.success());
    let mut files: Vec<String> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    files.sort();
    files
}

fn image_size(e: &Engine, image: &str) -> u64 {
    e.inspect(image, "{{.Size}}").parse().unwrap()
}

/// The Go example, its images replaced by named contexts: modules downloaded into the deps layer
/// from go.mod and go.sum alone, the build offline, the binary alone on a static runtime image.
fn go(kind: Kind) {
    let e = go_engine(kind);
    let ws = Workspace::example_as_is("go", kind);
    let tag = format!("strata-e2e/go:{}", kind.id());

    let cold = e.build_ok(&ws.dir, "strata.toml", &tag, &GO_CONTEXTS);
    assert!(
        cold.log.contains("GOPROXY=off go build"),
        "the build runs with module downloads off:\n{}",
        cold.log
    );
    // The deps stage compiled the standard library's and the module's packages the program
    // imports, with the build's flags: the build step finds them all in the layer's build cache.
    // (The example's main package may be in this engine's build cache mount from an earlier run:
    // then nothing at all is compiled.)
    assert!(
        go_compiled(&cold).iter().all(|p| p == "example.com/hello"),
        "the build compiles the main package alone:\n{}",
        cold.log
    );
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"World"}"#);
    assert_eq!(e.inspect(&tag, "{{.Config.User}}"), "10001:10001");
    assert_eq!(
        e.inspect(&tag, "{{json .Config.Cmd}}"),
        r#"["/usr/local/bin/hello"]"#
    );
    assert_eq!(process_ids(e, &tag), "10001 10001");

    // The image is the runtime image plus the binary: no toolchain, no source, no modules.
    assert_eq!(
        files_added(e, &tag, STATIC_BASE),
        ["usr", "usr/local", "usr/local/bin", "usr/local/bin/hello"],
        "only the binary (and its directories) is added"
    );
    let (size, toolchain, runtime) = (
        image_size(e, &tag),
        image_size(e, GO_BASE),
        image_size(e, STATIC_BASE),
    );
    assert!(size < 20_000_000, "{size} bytes");

    // The download is a layer of its own, keyed by go.mod and go.sum, holding the modules.
    let deps_tag = format!("{tag}-deps");
    e.build_ok(
        &ws.dir,
        "strata.toml",
        &deps_tag,
        &[&GO_CONTEXTS[..], &["--target", "deps"]].concat(),
    );
    assert_eq!(
        e.run_output(&deps_tag, &["ls", "-A", "/app"]),
        "go.mod\ngo.sum"
    );
    assert!(
        e.run_output(&deps_tag, &["ls", "/go/pkg/mod/github.com/google"])
            .contains("uuid@v1.6.0"),
        "the module is in the deps layer, not only in a cache mount"
    );

    // An edit of the source re-runs the build and not the download.
    let nonce = nonce();
    ws.write(
        "main.go",
        &format!(
            "{}// edit {nonce}\n",
            ws.read("main.go").replace(r#""World""#, r#""Edited""#)
        ),
    );
    let app_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &GO_CONTEXTS);
    assert!(
        app_edit.cached(GO_DOWNLOAD),
        "an app edit must not re-run the download:\n{}",
        app_edit.log
    );
    for step in [GO_COMPILE_STD, GO_COMPILE_MODULES] {
        assert!(
            app_edit.cached(step),
            "an app edit that imports nothing new must not compile the dependencies again:\n{}",
            app_edit.log
        );
    }
    assert!(!app_edit.cached(GO_BUILD), "the build re-runs");
    assert_eq!(go_compiled(&app_edit), ["example.com/hello"]);
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Edited"}"#);

    // A dependency edit re-runs it (and the build still needs no network).
    ws.write(
        "go.mod",
        &ws.read("go.mod")
            .replace("uuid v1.6.0", &format!("uuid v1.5.0\n\n// edit {nonce}")),
    );
    ws.write(
        "go.sum",
        "github.com/google/uuid v1.5.0 h1:1p67kYwdtXjb0gL0BPiP1Av9wiZPo5A8z2cWkTZ+eyU=\n\
         github.com/google/uuid v1.5.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\n",
    );
    let dep_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &GO_CONTEXTS);
    assert!(
        !dep_edit.cached(GO_DOWNLOAD),
        "a go.mod/go.sum edit must re-run the download:\n{}",
        dep_edit.log
    );
    assert!(
        !dep_edit.cached(GO_COMPILE_MODULES),
        "and the modules' compile:\n{}",
        dep_edit.log
    );
    assert!(
        dep_edit.cached(GO_COMPILE_STD),
        "not the standard library's:\n{}",
        dep_edit.log
    );
    assert_eq!(go_compiled(&dep_edit), ["example.com/hello"]);
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Edited"}"#);
    eprintln!(
        "[e2e] Docker {} go: first build {:.1?}, app edit {:.1?}, dependency edit {:.1?}; image {:.1} MB (runtime base {:.1} MB, toolchain image {:.1} MB)",
        kind.id(),
        cold.took,
        app_edit.took,
        dep_edit.took,
        size as f64 / 1e6,
        runtime as f64 / 1e6,
        toolchain as f64 / 1e6
    );
}

/// The deps stage's compiles of the imported packages (the standard library's before the
/// manifests are staged, the modules' after the download), and the build step.
const GO_COMPILE_STD: &str = "GOPROXY=off go build -trimpath context";
const GO_COMPILE_MODULES: &str = "GOPROXY=off go build -trimpath -mod=mod";
const GO_BUILD: &str = "GOPROXY=off go build -v";

/// The packages the build step compiled (`go build -v` prints each, and none from the cache).
fn go_compiled(b: &Build) -> Vec<String> {
    b.output_of(GO_BUILD)
        .lines()
        .filter_map(compiled_package)
        .map(String::from)
        .collect()
}

#[test]
fn docker28_go() {
    go(Kind::Docker28);
}

#[test]
fn docker26_go() {
    go(Kind::Docker26);
}

/// Go projects Strata refuses, with the message a user sees through the engine.
fn go_errors(kind: Kind) {
    let e = go_engine(kind);
    let ws = Workspace::example_as_is("go", kind);
    let spec = ws.read("strata.toml");
    let cases: &[(&str, &str, &str)] = &[
        (
            "version = \"1.22\"\n",
            "",
            "go.mod:3:1: `go 1.24` needs Go 1.24 or newer, but the spec's `version = \"1.22\"` is Go 1.22",
        ),
        (
            "",
            "go.sum",
            "go.mod:5:9: go.mod requires github.com/google/uuid v1.6.0 but go.sum is missing (run `go mod tidy`",
        ),
    ];
    for (extra, remove, expected) in cases {
        let case = Workspace::example_as_is("go", kind);
        case.write("strata.toml", &format!("{spec}{extra}"));
        if !remove.is_empty() {
            std::fs::remove_file(case.dir.join(remove)).unwrap();
        }
        let b = e.build(
            &case.dir,
            "strata.toml",
            "strata-e2e/go-error:latest",
            &GO_CONTEXTS,
        );
        assert!(!b.ok, "must fail: {extra} {remove}");
        assert!(
            b.log.contains(expected),
            "Docker {}: expected {expected:?} in:\n{}",
            kind.id(),
            b.log
        );
    }
}

#[test]
fn docker28_go_errors() {
    go_errors(Kind::Docker28);
}

#[test]
fn docker26_go_errors() {
    go_errors(Kind::Docker26);
}

/// The engine, with the Java images made too (OpenJDK 21 and Maven from trixie, and a JRE).
fn java_engine(kind: Kind) -> &'static Engine {
    engine_with(kind, &["java", "jre"])
}

/// Debian trixie's OpenJDK 21 and Maven 3.9, a stand-in for maven:3-eclipse-temurin-21.
const JAVA_BASE: &str = "local/strata-java:test";
/// Debian trixie's OpenJDK 21 JRE, a stand-in for eclipse-temurin:21-jre.
const JRE_BASE: &str = "local/strata-jre:test";
const JAVA_CONTEXTS: [&str; 4] = [
    "--build-context",
    "maven:3-eclipse-temurin-21=docker-image://local/strata-java:test",
    "--build-context",
    "eclipse-temurin:21-jre=docker-image://local/strata-jre:test",
];
const JAVA_RESOLVE: &str = "go-offline-maven-plugin";
const JAVA_PACKAGE: &str = "package -DskipTests";

/// The Maven example: dependencies and plugins resolved from pom.xml alone into the deps layer,
/// an offline package, the jar alone on a JRE, run as a non-root user.
fn java_maven(kind: Kind) {
    let e = java_engine(kind);
    let ws = Workspace::example_as_is("java-maven", kind);
    let tag = format!("strata-e2e/java-maven:{}", kind.id());

    let cold = e.build_ok(&ws.dir, "strata.toml", &tag, &JAVA_CONTEXTS);
    assert!(
        cold.log.contains("-o package -DskipTests"),
        "the package step runs offline:\n{}",
        cold.log
    );
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"World"}"#);
    assert_eq!(e.inspect(&tag, "{{.Config.User}}"), "10001:10001");
    assert_eq!(
        e.inspect(&tag, "{{json .Config.Cmd}}"),
        r#"["java","-jar","/app/app.jar"]"#
    );
    assert_eq!(process_ids(e, &tag), "10001 10001");

    // The image is the JRE plus the jar: no JDK, no Maven, no source, no local repository.
    assert_eq!(
        files_added(e, &tag, JRE_BASE),
        ["app/app.jar"],
        "only the jar is added"
    );
    let (size, toolchain, runtime) = (
        image_size(e, &tag),
        image_size(e, JAVA_BASE),
        image_size(e, JRE_BASE),
    );
    assert!(
        size < runtime + 5_000_000,
        "{size} bytes on a {runtime}-byte JRE"
    );

    // The resolution is a layer of its own, keyed by pom.xml, holding the local repository.
    let deps_tag = format!("{tag}-deps");
    e.build_ok(
        &ws.dir,
        "strata.toml",
        &deps_tag,
        &[&JAVA_CONTEXTS[..], &["--target", "deps"]].concat(),
    );
    assert_eq!(e.run_output(&deps_tag, &["ls", "-A", "/app"]), "pom.xml");
    assert!(
        e.run_output(&deps_tag, &["ls", "/opt/m2/org/json/json"])
            .contains("20240303"),
        "the dependency is in the deps layer"
    );

    // An edit of the source re-runs the package step and not the resolution.
    let nonce = nonce();
    let main = "src/main/java/example/Main.java";
    ws.write(
        main,
        &format!(
            "{}// edit {nonce}\n",
            ws.read(main).replace(r#""World""#, r#""Edited""#)
        ),
    );
    let app_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &JAVA_CONTEXTS);
    assert!(
        app_edit.cached(JAVA_RESOLVE),
        "an app edit must not re-run the resolution:\n{}",
        app_edit.log
    );
    assert!(!app_edit.cached(JAVA_PACKAGE), "the package step re-runs");
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Edited"}"#);

    // A pom edit (another version of the dependency) re-runs it, and the package stays offline.
    ws.write(
        "pom.xml",
        &ws.read("pom.xml").replace(
            "<version>20240303</version>",
            &format!("<version>20231013</version><!-- edit {nonce} -->"),
        ),
    );
    let dep_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &JAVA_CONTEXTS);
    assert!(
        !dep_edit.cached(JAVA_RESOLVE),
        "a pom edit must re-run the resolution:\n{}",
        dep_edit.log
    );
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Edited"}"#);
    // ... and downloads the new version alone: the rest comes from the download cache mount,
    // which the first resolution filled.
    let (resolved, from_cache) = maven_resolved(&dep_edit.log);
    assert!(
        from_cache > 100 && resolved - from_cache <= 4,
        "{resolved} files resolved, {from_cache} from the download cache:\n{}",
        dep_edit.log
    );
    eprintln!(
        "[e2e] Docker {} java-maven: first build {:.1?}, app edit {:.1?}, dependency edit {:.1?} ({} of {resolved} files downloaded); image {:.1} MB (JRE base {:.1} MB, JDK+Maven image {:.1} MB)",
        kind.id(),
        cold.took,
        app_edit.took,
        dep_edit.took,
        resolved - from_cache,
        size as f64 / 1e6,
        runtime as f64 / 1e6,
        toolchain as f64 / 1e6
    );

    // Mistakes a Maven project can make, as the user sees them.
    let broken = Workspace::example_as_is("java-maven", kind);
    broken.write(
        "pom.xml",
        &broken.read("pom.xml").replace(
            "<packaging>jar</packaging>",
            "<packaging>jar</packaging>\n  <modules><module>missing</module></modules>",
        ),
    );
    let b = e.build(
        &broken.dir,
        "strata.toml",
        "strata-e2e/java-error:latest",
        &JAVA_CONTEXTS,
    );
    assert!(!b.ok);
    assert!(
        b.log.contains(
            "pom.xml:11:20: module `missing` has no missing/pom.xml in the build context"
        ),
        "{}",
        b.log
    );
}

/// The resolution's own account: "strata: Maven resolved N files, M of them from the download cache".
fn maven_resolved(log: &str) -> (usize, usize) {
    let line = log
        .lines()
        .find_map(|l| {
            l.split_once("strata: Maven resolved ")
                .map(|(_, rest)| rest)
        })
        .unwrap_or_else(|| panic!("the resolution says what it resolved:\n{log}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn docker28_java_maven() {
    java_maven(Kind::Docker28);
}

#[test]
fn docker26_java_maven() {
    java_maven(Kind::Docker26);
}

/// A Spring Boot 3.4 project (tests/fixtures/java-spring-boot): its jar is extracted into Boot's
/// layers, each an image layer, so an app edit changes only the application layer.
fn java_spring_boot(kind: Kind) {
    let e = java_engine(kind);
    let ws = Workspace::empty("java-spring-boot");
    copy_tree(&repo().join("tests/fixtures/java-spring-boot"), &ws.dir);
    let spec = ws.read("strata.toml");
    let (_, rest) = spec.split_once('\n').unwrap();
    ws.write("strata.toml", &format!("# syntax={}\n{rest}", frontend()));
    let tag = format!("strata-e2e/java-spring-boot:{}", kind.id());

    let cold = e.build_ok(&ws.dir, "strata.toml", &tag, &JAVA_CONTEXTS);
    assert!(cold.log.contains("-Djarmode=tools"), "{}", cold.log);
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Boot"}"#);
    assert_eq!(process_ids(e, &tag), "10001 10001");
    let layers = |image: &str| -> Vec<String> {
        let out = e.docker(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.Size}} {{.CreatedBy}}",
            image,
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("strata-layers"))
            .map(String::from)
            .collect()
    };
    let before = layers(&tag);
    assert_eq!(before.len(), 4, "{before:?}");
    let layer_ids = |image: &str| e.inspect(image, "{{json .RootFS.Layers}}");
    let ids_before: Vec<String> = serde_json_layers(&layer_ids(&tag));

    let app = "src/main/java/demo/App.java";
    ws.write(app, &ws.read(app).replace(r#"\"Boot\""#, r#"\"Edited\""#));
    let edit = e.build_ok(&ws.dir, "strata.toml", &tag, &JAVA_CONTEXTS);
    assert!(edit.cached(JAVA_RESOLVE), "{}", edit.log);
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Edited"}"#);
    let ids_after: Vec<String> = serde_json_layers(&layer_ids(&tag));
    assert_eq!(ids_before.len(), ids_after.len());
    let changed: Vec<usize> = (0..ids_after.len())
        .filter(|i| ids_before[*i] != ids_after[*i])
        .collect();
    assert_eq!(
        changed,
        [ids_after.len() - 1],
        "only the application layer (the last) changes"
    );
    eprintln!(
        "[e2e] Docker {} java-spring-boot: first build {:.1?}, app edit {:.1?}; layers {before:?}",
        kind.id(),
        cold.took,
        edit.took
    );
}

/// The layer digests of `docker inspect -f '{{json .RootFS.Layers}}'`.
fn serde_json_layers(json: &str) -> Vec<String> {
    json.trim_matches(['[', ']'])
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect()
}

#[test]
fn docker28_java_spring_boot() {
    java_spring_boot(Kind::Docker28);
}

#[test]
fn docker26_java_spring_boot() {
    java_spring_boot(Kind::Docker26);
}

/// Debian trixie's OpenJDK 21 and Gradle 4.4.1 (the only Gradle that installs here: Gradle's
/// distributions are on services.gradle.org, which no build here reaches), a stand-in for
/// gradle:<version>-jdk21.
const GRADLE_BASE: &str = "local/strata-gradle:test";
const GRADLE_CONTEXTS: [&str; 6] = [
    "--build-context",
    "gradle:jdk21=docker-image://local/strata-gradle:test",
    "--build-context",
    "gradle:4-jdk21=docker-image://local/strata-gradle:test",
    "--build-context",
    "eclipse-temurin:21-jre=docker-image://local/strata-jre:test",
];
const GRADLE_RESOLVE: &str = "strataResolveDependencies";

/// The Gradle example (Gradle 4.4 syntax, nothing from the network): the build files staged alone,
/// the resolution a layer of its own, an offline installDist, the distribution alone on a JRE, run
/// as a non-root user; then a wrapper whose distribution cannot be downloaded, as the user sees it.
fn java_gradle(kind: Kind) {
    let e = engine_with(kind, &["gradle", "jre"]);
    let ws = Workspace::example_as_is("java-gradle", kind);
    let tag = format!("strata-e2e/java-gradle:{}", kind.id());

    let cold = e.build_ok(&ws.dir, "strata.toml", &tag, &GRADLE_CONTEXTS);
    assert!(
        cold.log.contains("--offline installDist"),
        "the build runs offline:\n{}",
        cold.log
    );
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"World"}"#);
    assert_eq!(e.inspect(&tag, "{{.Config.User}}"), "10001:10001");
    assert_eq!(
        e.inspect(&tag, "{{json .Config.Cmd}}"),
        r#"["/app/bin/app"]"#
    );
    // The launcher is a shell script that ends in `exec java`: caught before that exec, it shows
    // a child (a command substitution) too. Every process runs as 10001.
    let ids = process_ids(e, &tag);
    assert!(ids.lines().all(|l| l == "10001 10001"), "{ids}");

    // The image is the JRE plus the distribution: no JDK, no Gradle, no source, no user home.
    assert_eq!(
        files_added(e, &tag, JRE_BASE),
        ["app/bin", "app/bin/app", "app/lib", "app/lib/hello.jar"],
        "only the distribution"
    );
    let (size, toolchain, runtime) = (
        image_size(e, &tag),
        image_size(e, GRADLE_BASE),
        image_size(e, JRE_BASE),
    );
    assert!(
        size < runtime + 1_000_000,
        "{size} bytes on a {runtime}-byte JRE"
    );

    // The deps stage holds the build files and Strata's init script, no source.
    let deps_tag = format!("{tag}-deps");
    e.build_ok(
        &ws.dir,
        "strata.toml",
        &deps_tag,
        &[&GRADLE_CONTEXTS[..], &["--target", "deps"]].concat(),
    );
    // (.gradle is Gradle's own project cache, which the resolution writes.)
    let listed = e.run_output(&deps_tag, &["ls", "-A", "/app"]);
    let listed: Vec<&str> = listed.lines().filter(|l| *l != ".gradle").collect();
    assert_eq!(listed, [".strata", "build.gradle", "settings.gradle"]);

    // An edit of the source re-runs the build and not the resolution.
    let nonce = nonce();
    let main = "src/main/java/example/Main.java";
    ws.write(
        main,
        &format!(
            "{}// edit {nonce}\n",
            ws.read(main).replace(r#"\"World\""#, r#"\"Edited\""#)
        ),
    );
    let app_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &GRADLE_CONTEXTS);
    assert!(
        app_edit.cached(GRADLE_RESOLVE),
        "an app edit must not re-run the resolution:\n{}",
        app_edit.log
    );
    assert!(!app_edit.cached("installDist"), "the build re-runs");
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Edited"}"#);

    // A build-script edit re-runs it.
    ws.write(
        "build.gradle",
        &format!("{}// edit {nonce}\n", ws.read("build.gradle")),
    );
    let script_edit = e.build_ok(&ws.dir, "strata.toml", &tag, &GRADLE_CONTEXTS);
    assert!(
        !script_edit.cached(GRADLE_RESOLVE),
        "a build-script edit must re-run the resolution:\n{}",
        script_edit.log
    );
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Edited"}"#);

    // The project's dependency cache outlives a build-script edit: a dependency added next to one
    // resolved before downloads alone. (A fresh cache.id: the engine may have this project's
    // cache from an earlier run.)
    let spec = ws.read("strata.toml");
    ws.write(
        "strata.toml",
        &format!(
            "{spec}
[cache]
id = \"e2e-gradle-{nonce}\"
"
        ),
    );
    let script = ws.read("build.gradle");
    let with = |deps: &[&str]| {
        let lines: Vec<String> = deps
            .iter()
            .map(|d| format!("    implementation '{d}'"))
            .collect();
        format!(
            "{script}\nrepositories {{ mavenCentral() }}\ndependencies {{\n{}\n}}\n",
            lines.join("\n")
        )
    };
    const JSON: &str = "org.json:json:20240303";
    const GSON: &str = "com.google.code.gson:gson:2.10.1";
    let files = "/opt/gradle-home/caches/modules-2/files-2.1";
    let downloaded_at = |image: &str, jar: &str| -> u64 {
        let out = e.run_output(image, &["sh", "-c", &format!("stat -c %Y {files}/{jar}")]);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{jar} is in the deps layer: {out}"))
    };
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    ws.write("build.gradle", &with(&[JSON]));
    let first = e.build_ok(
        &ws.dir,
        "strata.toml",
        &deps_tag,
        &[&GRADLE_CONTEXTS[..], &["--target", "deps"]].concat(),
    );
    let json_jar = "org.json/json/20240303/*/json-20240303.jar";
    let json_first = downloaded_at(&deps_tag, json_jar);
    let before_second = now();
    ws.write("build.gradle", &with(&[JSON, GSON]));
    let second = e.build_ok(
        &ws.dir,
        "strata.toml",
        &deps_tag,
        &[&GRADLE_CONTEXTS[..], &["--target", "deps"]].concat(),
    );
    assert!(!second.cached(GRADLE_RESOLVE), "{}", second.log);
    assert_eq!(
        downloaded_at(&deps_tag, json_jar),
        json_first,
        "the dependency resolved before is not downloaded again:\n{}",
        second.log
    );
    assert!(
        downloaded_at(
            &deps_tag,
            "com.google.code.gson/gson/2.10.1/*/gson-2.10.1.jar"
        ) + 1
            >= before_second,
        "the added one is downloaded"
    );
    let full = e.build_ok(&ws.dir, "strata.toml", &tag, &GRADLE_CONTEXTS);
    assert_eq!(e.serve(&tag, 8080).trim(), r#"{"Hello":"Edited"}"#);
    let libs = e.run_output(&tag, &["ls", "/app/lib"]);
    assert!(
        libs.contains("json-20240303.jar") && libs.contains("gson-2.10.1.jar"),
        "the offline build found both in the layer: {libs}\n{}",
        full.log
    );
    eprintln!(
        "[e2e] Docker {} java-gradle: a dependency added {:.1?}, a second one added {:.1?}",
        kind.id(),
        first.took,
        second.took
    );
    eprintln!(
        "[e2e] Docker {} java-gradle: first build {:.1?}, app edit {:.1?}, build-script edit {:.1?}; image {:.1} MB (JRE base {:.1} MB, JDK+Gradle image {:.1} MB)",
        kind.id(),
        cold.took,
        app_edit.took,
        script_edit.took,
        size as f64 / 1e6,
        runtime as f64 / 1e6,
        toolchain as f64 / 1e6
    );

    // A wrapper (the one Gradle 4.4.1 writes) whose distribution is not reachable.
    let wrapped = Workspace::example_as_is("java-gradle", kind);
    copy_tree(&repo().join("tests/fixtures/gradle-wrapper"), &wrapped.dir);
    wrapped.write(
        "gradle/wrapper/gradle-wrapper.properties",
        "distributionBase=GRADLE_USER_HOME\n  distributionUrl=https\\://services.gradle.org/distributions/gradle-4.4.1-bin.zip\ndistributionPath=wrapper/dists\n",
    );
    let b = e.build(
        &wrapped.dir,
        "strata.toml",
        "strata-e2e/java-gradle-error:latest",
        &GRADLE_CONTEXTS,
    );
    assert!(!b.ok);
    assert!(
        b.log.contains("strata: gradle/wrapper/gradle-wrapper.properties:2:3: the Gradle wrapper could not download its distribution https://services.gradle.org/distributions/gradle-4.4.1-bin.zip"),
        "{}",
        b.log
    );
    eprintln!(
        "[e2e] Docker {} java-gradle: unreachable wrapper distribution failed in {:.1?}",
        kind.id(),
        b.took
    );
}

#[test]
fn docker28_java_gradle() {
    java_gradle(Kind::Docker28);
}

// ---------------------------------------------------------------------------------------------
// Subrequests (`--call`), several platforms, reproducible images.

/// A spec with a finding for every rule that applies to it, and the manifest it installs.
fn findings_workspace(kind: Kind) -> Workspace {
    let ws = Workspace::example("fastapi", kind, PYTHON_BASE);
    ws.write(
        "strata.toml",
        &format!(
            "# syntax={}\nlanguage = \"python\"\nbase = \"local/strata-python\"\nmanifests = [\"requirements.txt\"]\n\
             app = \"app\"\nrun = [\"uvicorn\", \"app.main:app\"]\nuser = \"root\"\nenv = {{ MODE = \"prod\", API_TOKEN = \"x\" }}\n",
            frontend()
        ),
    );
    ws.write(
        "requirements.txt",
        "fastapi==0.115.6\nuvicorn==0.34.0\nrequests\n",
    );
    ws
}

/// `docker buildx build --call targets|outline|check` (buildx 0.15 and later): buildx sends the
/// subrequest to the Dockerfile frontend, which forwards it through `# syntax=`; Strata answers
/// with result metadata, which buildx parses and prints its own way, and for `check` exits with
/// the answer's status code.
#[test]
fn docker28_call_targets_outline_and_check() {
    let e = engine(Kind::Docker28);
    let ws = Workspace::example("fastapi", Kind::Docker28, PYTHON_BASE);
    let started = Instant::now();

    let t = e.buildx(&ws.dir, "strata.toml", &["--call", "targets"], &[]);
    assert_eq!(t.code, 0, "{t}");
    for line in [
        "TARGET            DESCRIPTION",
        "base              the build image and system packages",
        "deps              dependencies installed from requirements.txt alone",
        "build             the source copied and built",
        "runtime (default) the image to run",
    ] {
        assert!(
            t.stdout.lines().any(|l| l.trim_end() == line),
            "{line:?} in\n{t}"
        );
    }

    // The arguments the spec uses, with the value this build gives them; secrets; SSH.
    let spec = ws.read("strata.toml");
    ws.write(
        "strata.toml",
        &format!(
            "{spec}env = {{ MODE = \"${{MODE:-prod}}\" }}\n[[secret]]\nid = \"pip_conf\"\ntarget = \"/etc/pip.conf\"\nrequired = true\n"
        ),
    );
    let o = e.buildx(
        &ws.dir,
        "strata.toml",
        &["--call", "outline", "--build-arg", "MODE=dev"],
        &[],
    );
    assert_eq!(o.code, 0, "{o}");
    for line in [
        "TARGET:      runtime",
        "DESCRIPTION: python with pip: dependencies keyed by requirements.txt",
        "BUILD ARG   VALUE   DESCRIPTION",
        "MODE        dev",
        "SECRET     REQUIRED",
        "pip_conf   true",
        "SSH       REQUIRED",
        "default",
    ] {
        assert!(
            o.stdout.lines().any(|l| l.trim_end() == line),
            "{line:?} in\n{o}"
        );
    }

    // The example passes every check: exit code 0.
    ws.write("strata.toml", &spec);
    let clean = e.buildx(&ws.dir, "strata.toml", &["--call", "check"], &[]);
    assert_eq!(clean.code, 0, "{clean}");
    assert!(
        clean.stdout.contains("Check complete, no warnings found."),
        "{clean}"
    );

    // Findings: each rule, its detail and the line it points at; exit code 1 (result.statuscode).
    let bad = findings_workspace(Kind::Docker28);
    let c = e.buildx(&bad.dir, "strata.toml", &["--call", "check"], &[]);
    assert_eq!(c.code, 1, "{c}");
    for part in [
        "Check complete, 4 warnings have been found!",
        "WARNING: UnpinnedBaseImage\n`local/strata-python` has no version tag or digest",
        "strata.toml:3\n",
        ">>> base = \"local/strata-python\"",
        "WARNING: RootUser\n`user = \"root\"`: a process that breaks out of the app owns the container",
        ">>> user = \"root\"",
        "WARNING: SecretInEnv\n`API_TOKEN` looks like a credential",
        ">>> env = { MODE = \"prod\", API_TOKEN = \"x\" }",
        // buildx labels every source with the `-f` file's name, so the detail names the manifest.
        "WARNING: UnfrozenInstall\nrequirements.txt:3: `requests` is not pinned",
        ">>> requests",
    ] {
        assert!(c.stdout.contains(part), "{part:?} in\n{c}");
    }
    // The JSON form carries the same, with each location's source.
    let j = e.buildx(
        &bad.dir,
        "strata.toml",
        &["--call", "check,format=json"],
        &[],
    );
    let json: serde_json::Value = serde_json::from_str(&j.stdout).expect("JSON from --call check");
    let sources = json["sources"].as_array().unwrap();
    for w in json["warnings"].as_array().unwrap() {
        let source = &sources[w["location"]["sourceIndex"].as_u64().unwrap() as usize];
        let expected = if w["ruleName"] == "UnfrozenInstall" {
            "requirements.txt"
        } else {
            "strata.toml"
        };
        assert_eq!(source["filename"], expected, "{w}");
    }

    // Skipped by the directive, or by the build argument; then nothing is found.
    let text = bad.read("strata.toml");
    let (syntax, rest) = text.split_once('\n').unwrap();
    bad.write(
        "strata.toml",
        &format!(
            "{syntax}\n# check=skip=UnpinnedBaseImage,RootUser,SecretInEnv,UnfrozenInstall\n{rest}"
        ),
    );
    let skipped = e.buildx(&bad.dir, "strata.toml", &["--call", "check"], &[]);
    assert_eq!(skipped.code, 0, "{skipped}");
    bad.write("strata.toml", &text);
    let skipped = e.buildx(
        &bad.dir,
        "strata.toml",
        &[
            "--call",
            "check",
            "--build-arg",
            "BUILDKIT_DOCKERFILE_CHECK=skip=all",
        ],
        &[],
    );
    assert_eq!(skipped.code, 0, "{skipped}");
    assert!(skipped.stdout.contains("no warnings found"), "{skipped}");

    // A build shows the findings as warnings and goes on; with error=true they fail it.
    bad.write(
        "strata.toml",
        &text.replace("\"local/strata-python\"", &format!("\"{PYTHON_BASE}\"")),
    );
    let b = e.build_ok(
        &bad.dir,
        "strata.toml",
        "strata-e2e/findings:28",
        &["--target", "base"],
    );
    assert!(
        b.log.contains("RootUser: `user = \"root\"`"),
        "findings are build warnings:\n{}",
        b.log
    );
    bad.write(
        "strata.toml",
        &text.replacen("\n", "\n# check=error=true\n", 1),
    );
    let b = e.build(
        &bad.dir,
        "strata.toml",
        "strata-e2e/findings:28",
        &["--target", "base"],
    );
    assert!(!b.ok, "error=true fails the build:\n{}", b.log);
    assert!(b.log.contains("RootUser: `user = \"root\"`"), "{}", b.log);

    // A spec the plan refuses: the error, quoted from the manifest it is in; exit code 1.
    ws.write("requirements.txt", "fastapi==0.115.6\n-e .\n");
    let refused = e.buildx(&ws.dir, "strata.toml", &["--call", "check"], &[]);
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused
            .stderr
            .contains("ERROR: requirements.txt:2:1: `-e .` installs local source"),
        "{refused}"
    );
    assert!(refused.stderr.contains(">>> -e ."), "{refused}");
    eprintln!(
        "[e2e] Docker 28 --call targets/outline/check: {:.1?} in all",
        started.elapsed()
    );
}

/// buildx 0.13 (Docker 26's) has no `--call`; its experimental `--print` sends the same
/// subrequests. It prints `result.txt` for `lint` and ignores the status code.
#[test]
fn docker26_print_targets_outline_and_lint() {
    let e = engine(Kind::Docker26);
    let ws = findings_workspace(Kind::Docker26);
    let experimental = [("BUILDX_EXPERIMENTAL", "1")];
    let no_call = e.buildx(&ws.dir, "strata.toml", &["--call", "targets"], &[]);
    assert_ne!(no_call.code, 0);
    assert!(no_call.stderr.contains("unknown flag: --call"), "{no_call}");

    let t = e.buildx(
        &ws.dir,
        "strata.toml",
        &["--print", "targets"],
        &experimental,
    );
    assert_eq!(t.code, 0, "{t}");
    assert!(
        t.stdout
            .lines()
            .any(|l| l.trim_end() == "runtime (default) the image to run"),
        "{t}"
    );
    let o = e.buildx(
        &ws.dir,
        "strata.toml",
        &["--print", "outline"],
        &experimental,
    );
    assert_eq!(o.code, 0, "{o}");
    assert!(o.stdout.contains("TARGET:      runtime"), "{o}");
    let l = e.buildx(&ws.dir, "strata.toml", &["--print", "lint"], &experimental);
    assert_eq!(l.code, 0, "buildx 0.13 does not exit with the status:\n{l}");
    for part in [
        "WARNING: RootUser\nstrata.toml:7:1: `user = \"root\"`",
        "WARNING: SecretInEnv\nstrata.toml:8:24: `API_TOKEN` looks like a credential",
        "WARNING: UnfrozenInstall\nrequirements.txt:3:1: `requests` is not pinned",
    ] {
        assert!(l.stdout.contains(part), "{part:?} in\n{l}");
    }
}

/// Subrequests are a frontend-side protocol: Docker 20.10's BuildKit v0.8 forwards them too
/// (here through buildx 0.13's `--print`, the client engine 20's tests have).
#[test]
fn docker20_print_targets() {
    let e = engine(Kind::Docker20);
    let ws = Workspace::example("fastapi", Kind::Docker20, PYTHON_BASE);
    let t = e.buildx(
        &ws.dir,
        "strata.toml",
        &["--print", "targets"],
        &[("BUILDX_EXPERIMENTAL", "1")],
    );
    assert_eq!(t.code, 0, "{t}");
    assert!(
        t.stdout.lines().any(|l| l.trim_end()
            == "deps              dependencies installed from requirements.txt alone"),
        "{t}"
    );
}

impl Engine {
    /// `docker image inspect --platform P` of one platform's image in a multi-platform tag.
    fn inspect_platform(&self, image: &str, platform: &str, format: &str) -> String {
        let out = self.docker(&[
            "image",
            "inspect",
            "--platform",
            platform,
            "-f",
            format,
            image,
        ]);
        assert!(
            out.status.success(),
            "inspect {image} ({platform}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Empties the engine's build cache (cache mounts included): the next build starts from
    /// nothing, as on a fresh builder. Only for an engine these tests have to themselves (28c).
    fn prune_build_cache(&self) {
        assert_eq!(
            self.kind,
            Kind::Docker28c,
            "the other engines' caches are shared"
        );
        let _one_at_a_time = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let out = self.docker(&["buildx", "prune", "-af"]);
        assert!(
            out.status.success(),
            "buildx prune: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `--platform linux/amd64,linux/386` in one build, on the containerd image store (the classic
/// store refuses multi-platform results): each platform resolves its own variant of the local
/// multi-platform base image and gets its own image; both run and serve; their steps have their
/// own cache records (an app edit re-runs neither install), named with their platform.
#[test]
fn docker28c_platforms() {
    let e = engine(Kind::Docker28c);
    let _whole = e.whole.lock().unwrap_or_else(|e| e.into_inner());
    let ws = Workspace::example("fastapi", Kind::Docker28c, PYTHON_BASE);
    let tag = "strata-e2e/fastapi-platforms:28c";
    let both = ["--platform", "linux/amd64,linux/386"];
    let first = e.build_ok(&ws.dir, "strata.toml", tag, &both);
    for platform in ["linux/amd64", "linux/386"] {
        let install =
            format!("[{platform} deps 3/3] /opt/venv/bin/pip install -r requirements.txt");
        assert!(
            first.log.contains(&install),
            "{install:?} in:\n{}",
            first.log
        );
    }

    // (platform, image architecture, dpkg's, pointer bits, ELF class of a compiled wheel's module)
    let expected = [
        ("linux/amd64", "amd64", "amd64", "64", "2"),
        ("linux/386", "386", "i386", "32", "1"),
    ];
    for (platform, arch, dpkg, bits, elf_class) in expected {
        assert_eq!(e.inspect_platform(tag, platform, "{{.Architecture}}"), arch);
        assert_eq!(
            e.inspect_platform(tag, platform, "{{.Config.User}}"),
            "10001:10001"
        );
        let run = ["--platform", platform];
        assert_eq!(e.serve_with(&run, tag, 80), r#"{"Hello":"World"}"#);
        let probe = "import platform, struct, pydantic_core._pydantic_core as m; \
                     print(struct.calcsize('P') * 8, open(m.__file__, 'rb').read(5)[4], platform.machine())";
        let out = e.run_output_with(
            &run,
            tag,
            &[
                "sh",
                "-c",
                &format!("dpkg --print-architecture; python -c \"{probe}\""),
            ],
        );
        // `uname -m` (and so platform.machine()) says x86_64 in both: neither Docker nor BuildKit
        // sets the linux32 personality for linux/386 on an x86_64 kernel. What differs is the
        // userland: dpkg's architecture, the interpreter's pointer size and the ELF class of the
        // wheel pip chose (manylinux i686 against x86_64).
        assert_eq!(
            out,
            format!("{dpkg}\n{bits} {elf_class} x86_64"),
            "{platform}"
        );
    }

    // An app edit: each platform's install is cached, each platform's source copy runs.
    ws.write(
        "app/main.py",
        &format!("{}# edit {}\n", ws.read("app/main.py"), nonce()),
    );
    let edit = e.build_ok(&ws.dir, "strata.toml", tag, &both);
    for platform in ["linux/amd64", "linux/386"] {
        assert!(
            edit.cached(&format!("[{platform} deps 3/3]")),
            "{platform} install re-ran:\n{}",
            edit.log
        );
        assert!(!edit.cached(&format!("[{platform} build 1/1] copy app")));
    }
    // One platform alone afterwards: the same steps, so the same cache records.
    let alone = e.build_ok(
        &ws.dir,
        "strata.toml",
        "strata-e2e/fastapi-386:28c",
        &["--platform", "linux/386"],
    );
    assert!(
        alone.cached("[deps 3/3] /opt/venv/bin/pip install"),
        "{}",
        alone.log
    );
    assert_eq!(
        e.inspect("strata-e2e/fastapi-386:28c", "{{.Architecture}}"),
        "386"
    );
    eprintln!(
        "[e2e] Docker 28c two platforms: first build {:.1?}, app edit {:.1?}, one platform {:.1?}",
        first.took, edit.took, alone.took
    );
}

/// One platform other than the daemon's on the classic image store (Docker 26, BuildKit v0.13):
/// `--platform linux/386` with the base image's i386 variant as a named context. (Docker 20.10
/// does not find a local image of another platform, with any frontend: it asks the registry.)
#[test]
fn docker26_other_platform() {
    let e = engine(Kind::Docker26);
    let dir = repo().join("examples/fastapi");
    let tag = "strata-e2e/fastapi-386:26";
    let b = e.build_ok(
        &dir,
        "strata.toml",
        tag,
        &[
            "--platform",
            "linux/386",
            "--build-context",
            &format!("python:3.12-slim=docker-image://{PYTHON_BASE}-386"),
        ],
    );
    assert!(
        b.log
            .contains(&format!("[base] FROM docker.io/{PYTHON_BASE}-386")),
        "{}",
        b.log
    );
    assert_eq!(e.inspect(tag, "{{.Architecture}}"), "386");
    assert_eq!(e.run_output(tag, &["dpkg", "--print-architecture"]), "i386");
    assert_eq!(e.serve(tag, 80), r#"{"Hello":"World"}"#);
}

/// A file from an OCI archive, by its path inside it.
fn oci_file(archive: &Path, path: &str) -> Vec<u8> {
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(archive)
        .arg(path)
        .output()
        .expect("tar runs");
    assert!(out.status.success(), "{path} in {}", archive.display());
    out.stdout
}

fn oci_json(archive: &Path, digest: &str) -> serde_json::Value {
    let path = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&oci_file(archive, &path)).unwrap()
}

/// The image configs of an OCI archive, by platform (`index.json` → image index → manifests).
fn oci_configs(archive: &Path) -> BTreeMap<String, serde_json::Value> {
    let index: serde_json::Value =
        serde_json::from_slice(&oci_file(archive, "index.json")).unwrap();
    let mut manifests = Vec::new();
    let mut queue: Vec<serde_json::Value> = index["manifests"].as_array().unwrap().clone();
    while let Some(d) = queue.pop() {
        let blob = oci_json(archive, d["digest"].as_str().unwrap());
        match blob["manifests"].as_array() {
            Some(list) => queue.extend(list.iter().cloned()),
            None => manifests.push(blob),
        }
    }
    manifests
        .iter()
        .map(|m| {
            let config = oci_json(archive, m["config"]["digest"].as_str().unwrap());
            let platform = format!(
                "{}/{}",
                config["os"].as_str().unwrap(),
                config["architecture"].as_str().unwrap()
            );
            (platform, config)
        })
        .collect()
}

/// With SOURCE_DATE_EPOCH, two builds of both platforms from an empty build cache (a fresh
/// builder each time: no layer, no cache mount left) give the same bytes: the OCI archives are
/// identical, so are the image index digests. One build takes the build argument, the other
/// the environment variable buildx forwards. Byte-identical layers need the exporter's
/// `rewrite-timestamp=true` (file times newer than the epoch are clamped) and the epoch in the
/// steps' environment, which Strata puts there (Python then writes hash-based .pyc files).
#[test]
fn docker28c_reproducible() {
    let e = engine(Kind::Docker28c);
    let _whole = e.whole.lock().unwrap_or_else(|e| e.into_inner());
    let ws = Workspace::example("fastapi", Kind::Docker28c, PYTHON_BASE);
    let out = Workspace::empty("reproducible-28c");
    let epoch = "1700000000";
    let time = "2023-11-14T22:13:20Z";
    let mut digests = Vec::new();
    let mut took = Vec::new();
    for (i, via_env) in [false, true].into_iter().enumerate() {
        e.prune_build_cache();
        let archive = out.dir.join(format!("image-{i}.tar"));
        let metadata = out.dir.join(format!("metadata-{i}.json"));
        let output = format!("type=oci,dest={},rewrite-timestamp=true", archive.display());
        let arg = format!("SOURCE_DATE_EPOCH={epoch}");
        let mut how = vec![
            "--progress=plain",
            "--platform",
            "linux/amd64,linux/386",
            "--output",
            &output,
            "--metadata-file",
            metadata.to_str().unwrap(),
        ];
        let mut env = vec![];
        if via_env {
            env.push(("SOURCE_DATE_EPOCH", epoch));
        } else {
            how.extend(["--build-arg", &arg]);
        }
        let b = e.buildx(&ws.dir, "strata.toml", &how, &env);
        assert_eq!(b.code, 0, "{b}");
        took.push(b.took);
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&metadata).unwrap()).unwrap();
        digests.push(meta["containerimage.digest"].as_str().unwrap().to_string());
        let configs = oci_configs(&archive);
        assert_eq!(
            configs.keys().collect::<Vec<_>>(),
            ["linux/386", "linux/amd64"]
        );
        for (platform, config) in &configs {
            assert_eq!(config["created"], time, "{platform}");
            for h in config["history"].as_array().unwrap() {
                assert_eq!(h["created"], time, "{platform}: {h}");
            }
            assert!(
                !config["config"]["Env"]
                    .to_string()
                    .contains("SOURCE_DATE_EPOCH"),
                "the steps see the epoch, the image does not"
            );
        }
    }
    assert_eq!(digests[0], digests[1], "the image index digests differ");
    let (a, b) = (
        std::fs::read(out.dir.join("image-0.tar")).unwrap(),
        std::fs::read(out.dir.join("image-1.tar")).unwrap(),
    );
    assert!(a == b, "the OCI archives differ");
    eprintln!(
        "[e2e] Docker 28c reproducible: two cold builds of two platforms, {:.1?} and {:.1?}, index {}",
        took[0], took[1], digests[0]
    );
}

/// Without SOURCE_DATE_EPOCH Strata puts no time in what it returns, so the same build gives the
/// same image config, byte for byte: on a rebuild the exporter fills every `created` from the
/// cached layers' own times, and the config digest is the one of the first build.
#[test]
fn docker28_same_config_twice() {
    let e = engine(Kind::Docker28);
    let ws = Workspace::example("fastapi", Kind::Docker28, PYTHON_BASE);
    let out = Workspace::empty("same-config-28");
    let mut configs = Vec::new();
    for i in 0..2 {
        let metadata = out.dir.join(format!("metadata-{i}.json"));
        e.build_ok(
            &ws.dir,
            "strata.toml",
            "strata-e2e/fastapi-same:28",
            &["--metadata-file", metadata.to_str().unwrap()],
        );
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&metadata).unwrap()).unwrap();
        configs.push(
            meta["containerimage.config.digest"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(configs[0], configs[1]);
    assert_eq!(
        e.inspect("strata-e2e/fastapi-same:28", "{{.Id}}"),
        configs[0]
    );
}

// ---------------------------------------------------------------------------------------------
// Security and reliability (issue 7): secrets never in an image, the rule for a changed secret,
// cancellation, concurrent builds, read-only images. Docker 28 only: they test Strata's and
// BuildKit's behaviour, not the engine's compatibility.

/// Every file of `docker save IMAGE`, and every file of every layer (and nested archive) in it,
/// searched for `needle`: the paths where it was found.
fn image_files_containing(e: &Engine, image: &str, needle: &str) -> Vec<String> {
    let dir = Workspace::empty("save");
    let tar = dir.dir.join("image.tar");
    let out = e.docker(&["save", "-o", tar.to_str().unwrap(), image]);
    assert!(
        out.status.success(),
        "docker save {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = dir.dir.join("x");
    let mut found = Vec::new();
    let mut files = 0;
    let mut queue = vec![(tar, root)];
    while let Some((archive, into)) = queue.pop() {
        std::fs::create_dir_all(&into).unwrap();
        // GNU tar detects gzip and zstd itself; a file that is not an archive is just searched.
        let ok = Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&into)
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            continue;
        }
        let mut stack = vec![into];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let entry = entry.unwrap();
                let ty = entry.file_type().unwrap();
                let path = entry.path();
                if ty.is_dir() {
                    stack.push(path);
                } else if ty.is_file() {
                    files += 1;
                    let bytes = std::fs::read(&path).unwrap_or_default();
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        found.push(path.display().to_string());
                    }
                    let sub = path.with_extension("extracted");
                    queue.push((path, sub));
                } else if ty.is_symlink() {
                    let target = std::fs::read_link(&path).unwrap_or_default();
                    if target.to_string_lossy().contains(needle) {
                        found.push(path.display().to_string());
                    }
                }
            }
        }
    }
    assert!(files > 3, "docker save {image} gave {files} files");
    found
}

/// The image, its config, its history and the build log, searched for the secret value.
fn assert_secret_nowhere(e: &Engine, image: &str, build: &Build, secret: &str) {
    assert!(
        !build.log.contains(secret),
        "the secret is in the progress output:\n{}",
        build.log
    );
    let inspect = e.docker(&["image", "inspect", image]);
    assert!(
        !String::from_utf8_lossy(&inspect.stdout).contains(secret),
        "in the config"
    );
    let history = e.docker(&["history", "--no-trunc", image]);
    assert!(
        !String::from_utf8_lossy(&history.stdout).contains(secret),
        "in the history"
    );
    let found = image_files_containing(e, image, secret);
    assert!(found.is_empty(), "the secret is in {found:?}");
}

/// `[[secret]]` as an environment variable and as a file, a private index URL given as a secret
/// (pip's `PIP_EXTRA_INDEX_URL`) and an `.npmrc` with a token given as a secret: each is used by
/// the install, and its value is nowhere in the image (any layer, config, history) nor in the
/// progress output. A changed secret value does not re-run the install (BuildKit keys steps on
/// their definition, not on secret values); `--no-cache-filter deps` does.
#[test]
fn docker28_secrets_never_in_the_image_and_the_changed_secret_rule() {
    let kind = Kind::Docker28;
    let e = engine(kind);
    let frontend = frontend();
    let secret = format!("s3cr3t-{}", nonce().replace('-', "x"));
    let ws = Workspace::empty("secret-scan");
    ws.write("requirements.txt", "six==1.16.0\n");
    ws.write("app/main.py", "print('hi')\n");
    ws.write(".dockerignore", "secrets/\n");
    ws.write("secrets/token", &secret);
    ws.write(
        "secrets/index",
        &format!("https://user:{secret}@127.0.0.1:9/simple"),
    );
    let run_nonce = nonce();
    ws.write(
        "strata.toml",
        &format!(
            "# syntax={frontend}\nlanguage = \"python\"\nbase = \"{PYTHON_BASE}\"\napp = \"app\"\nrun = \"python3 app/main.py\"\n\
             install = \"test \\\"$TOKEN\\\" = \\\"$(cat /run/secrets/token)\\\" && test -n \\\"$PIP_EXTRA_INDEX_URL\\\" && /opt/venv/bin/pip install --retries 0 -r requirements.txt && echo {run_nonce}\"\n\
             [build_env]\nPIP_TIMEOUT = \"2\"\n\
             [[secret]]\nid = \"token\"\nenv = \"TOKEN\"\nrequired = true\n\
             [[secret]]\nid = \"token\"\nrequired = true\n\
             [[secret]]\nid = \"index\"\nenv = \"PIP_EXTRA_INDEX_URL\"\nrequired = true\n"
        ),
    );
    let token = format!("id=token,src={}", ws.dir.join("secrets/token").display());
    let index = format!("id=index,src={}", ws.dir.join("secrets/index").display());
    let tag = "strata-e2e/secret-scan:28";
    let b = e.build_ok(
        &ws.dir,
        "strata.toml",
        tag,
        &["--secret", &token, "--secret", &index],
    );
    assert!(!b.cached("pip install --retries 0"), "{}", b.log);
    assert!(
        e.run_output(tag, &["/opt/venv/bin/pip", "list"])
            .contains("six")
    );
    assert_secret_nowhere(e, tag, &b, &secret);

    // The rule for a changed secret: same spec and manifests, another value: the install is
    // CACHED (the new value is not used); `--no-cache-filter deps` re-runs it with the new value.
    let changed = format!("{secret}-changed");
    ws.write("secrets/token", &changed);
    let again = e.build_ok(
        &ws.dir,
        "strata.toml",
        tag,
        &["--secret", &token, "--secret", &index],
    );
    assert!(
        again.cached("pip install --retries 0"),
        "a changed secret value alone does not re-run the install:\n{}",
        again.log
    );
    let forced = e.build_ok(
        &ws.dir,
        "strata.toml",
        tag,
        &[
            "--secret",
            &token,
            "--secret",
            &index,
            "--no-cache-filter",
            "deps",
        ],
    );
    assert!(
        !forced.cached("pip install --retries 0"),
        "--no-cache-filter deps re-runs the install:\n{}",
        forced.log
    );
    assert_secret_nowhere(e, tag, &forced, &changed);

    // An .npmrc holding a registry token, passed as a secret file where npm reads it.
    let node = Workspace::example("express", kind, NODE_BASE);
    node.write(".dockerignore", "npmrc\n");
    node.write(
        "npmrc",
        &format!("@private:registry=https://npm.example.invalid/\n//npm.example.invalid/:_authToken={secret}\n"),
    );
    let spec = node.read("strata.toml");
    let npm_nonce = nonce();
    node.write(
        "strata.toml",
        &format!(
            "{spec}\n[[secret]]\nid = \"npmrc\"\ntarget = \"/root/.npmrc\"\nrequired = true\n\n[build_env]\nSTRATA_E2E_NONCE = \"{npm_nonce}\"\n"
        ),
    );
    let npmrc = format!("id=npmrc,src={}", node.dir.join("npmrc").display());
    let tag = "strata-e2e/secret-scan-npm:28";
    let b = e.build_ok(&node.dir, "strata.toml", tag, &["--secret", &npmrc]);
    assert!(b.log.contains("npm ci"), "{}", b.log);
    assert_eq!(e.serve(tag, 3000), r#"{"Hello":"World"}"#);
    assert_secret_nowhere(e, tag, &b, &secret);
}

/// The processes of this machine whose environment holds `needle` (BuildKit passes build
/// arguments to the frontend in its environment; exec steps get the spec's `build_env`).
fn processes_with_env(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if env.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            found.push((pid, cmd));
        }
    }
    found
}

/// A build interrupted (SIGINT to the buildx client) while its install step runs leaves no
/// frontend process and no step process behind, and the next build works; a failing install step
/// names the step and the spec line.
#[test]
fn docker28_a_cancelled_build_leaves_nothing_behind_and_a_failed_step_is_located() {
    let kind = Kind::Docker28;
    let e = engine(kind);
    let frontend = frontend();
    let marker = format!("STRATACANCEL{}", nonce().replace('-', ""));
    let ws = Workspace::empty("cancel");
    ws.write("requirements.txt", "");
    ws.write(
        "strata.toml",
        &format!(
            "# syntax={frontend}\nlanguage = \"python\"\nbase = \"{PYTHON_BASE}\"\nrun = \"true\"\n\
             install = \"echo started; sleep 300\"\n[build_env]\nMARKER = \"{marker}\"\n"
        ),
    );
    let spec = ws.dir.join("strata.toml");
    let mut child = Command::new("docker")
        .args([
            "buildx",
            "build",
            "--progress=plain",
            "-t",
            "strata-e2e/cancel:28",
            "-f",
        ])
        .arg(&spec)
        .args(["--build-arg", &format!("CANCEL_MARKER={marker}")])
        .arg(&ws.dir)
        .envs(&e.env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the install step runs (its processes carry the marker in their environment).
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let running = processes_with_env(&format!("MARKER={marker}"));
        if running.iter().any(|(_, cmd)| cmd.contains("sleep 300")) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before its install step ran"
        );
        assert!(Instant::now() < deadline, "the install step never started");
        std::thread::sleep(Duration::from_millis(300));
    }
    let started = Instant::now();
    // SIGINT, as Ctrl-C in a terminal.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted build fails");
    // Nothing of the build is left: neither the frontend (its environment has the build
    // argument) nor the step's processes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = processes_with_env(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left behind 60 s after the interrupt: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "[e2e] Docker 28: cancelled build cleaned up {:.1?} after SIGINT",
        started.elapsed()
    );

    // The next build works.
    ws.write(
        "strata.toml",
        &format!(
            "# syntax={frontend}\nlanguage = \"python\"\nbase = \"{PYTHON_BASE}\"\nrun = \"true\"\n\
             install = \"echo {marker}-done\"\n"
        ),
    );
    e.build_ok(&ws.dir, "strata.toml", "strata-e2e/cancel:28", &[]);

    // A failing install step: the step's name and the spec line are shown.
    ws.write(
        "strata.toml",
        &format!(
            "# syntax={frontend}\nlanguage = \"python\"\nbase = \"{PYTHON_BASE}\"\nrun = \"true\"\n\
             install = \"echo {marker}; exit 3\"\n"
        ),
    );
    let b = e.build(&ws.dir, "strata.toml", "strata-e2e/cancel:28", &[]);
    assert!(!b.ok);
    assert!(
        b.log.contains(&format!("[deps 3/3] echo {marker}; exit 3")),
        "the step is named:\n{}",
        b.log
    );
    // The spec line, as buildx prints BuildKit's source map for the failed step: BuildKit v0.25
    // names the step by the digest of its own re-encoding, which the source map must list.
    assert!(
        b.log.contains("strata.toml:5\n--------------------\n")
            && b.log
                .contains(&format!("   5 | >>> install = \"echo {marker}; exit 3\"\n")),
        "the spec line is shown:\n{}",
        b.log
    );
    // The step's name is the spec's `install` command as written, and the error ends the log.
    assert!(
        b.log.contains(&format!(
            "ERROR: failed to build: failed to solve: process \"/bin/sh -c echo {marker}; exit 3\" did not complete successfully: exit code: 3"
        )),
        "{}",
        b.log
    );
}

/// A failing install step on the older engines, built with each engine's own client.
fn a_failed_step_on(kind: Kind) -> (Build, String) {
    let e = engine(kind);
    let frontend = frontend();
    let marker = format!("STRATAFAIL{}", nonce().replace('-', ""));
    let ws = Workspace::empty("failed-step");
    ws.write("requirements.txt", "");
    ws.write(
        "strata.toml",
        &format!(
            "# syntax={frontend}\nlanguage = \"python\"\nbase = \"{PYTHON_BASE}\"\nrun = \"true\"\n\
             install = \"echo {marker}; exit 3\"\n"
        ),
    );
    let tag = format!("strata-e2e/failed-step:{}", kind.id());
    let b = e.build(&ws.dir, "strata.toml", &tag, &[]);
    println!("{}", b.log);
    assert!(!b.ok);
    assert!(
        b.log.contains(&format!("echo {marker}; exit 3")) && b.log.contains("exit code: 3"),
        "the step and its exit code are named:\n{}",
        b.log
    );
    (b, marker)
}

/// Docker 26 (buildx 0.13, BuildKit v0.13 re-encodes ops into Strata's own bytes): the spec line.
#[test]
fn docker26_a_failed_step_is_located() {
    let (b, marker) = a_failed_step_on(Kind::Docker26);
    assert!(
        b.log.contains("strata.toml:5\n--------------------\n")
            && b.log
                .contains(&format!("   5 | >>> install = \"echo {marker}; exit 3\"\n")),
        "the spec line is shown:\n{}",
        b.log
    );
}

/// Docker 20.10 (its own CLI's BuildKit client, BuildKit v0.8).
#[test]
fn docker20_a_failed_step_is_named() {
    a_failed_step_on(Kind::Docker20);
}

/// Eight builds of different projects at once on one daemon (four Python, two of them with
/// system packages through the `locked` apt cache mounts; four Node), sharing the download cache
/// mounts: all succeed and each image answers with its own nonce and dependency. Twice.
#[test]
fn docker28_eight_concurrent_builds_share_caches_and_all_succeed() {
    let kind = Kind::Docker28;
    let e = engine(kind);
    for round in 0..2 {
        let started = Instant::now();
        let mut jobs = Vec::new();
        for i in 0..8 {
            let n = nonce();
            let (ws, answer_port, check): (Workspace, u16, Vec<String>) = if i < 4 {
                let ws = Workspace::example("fastapi", kind, PYTHON_BASE);
                let six = ["1.15.0", "1.16.0", "1.17.0", "1.14.0"][i];
                ws.write(
                    "requirements.txt",
                    // The nonce makes each round's install a new one.
                    &format!("{}six=={six}  # {n}\n", ws.read("requirements.txt")),
                );
                ws.write(
                    "app/main.py",
                    &ws.read("app/main.py")
                        .replace(r#"{"Hello": "World"}"#, &format!(r#"{{"Hello": "{n}"}}"#)),
                );
                if i >= 2 {
                    let spec = ws.read("strata.toml");
                    ws.write(
                        "strata.toml",
                        &format!("{spec}\n[packages]\nbuild = [\"file\"]\n"),
                    );
                }
                let check = vec![
                    "/opt/venv/bin/python".into(),
                    "-c".into(),
                    format!("import six; assert six.__version__ == '{six}', six.__version__"),
                ];
                (ws, 80, check)
            } else {
                let ws = Workspace::example("express", kind, NODE_BASE);
                ws.write(
                    "server.js",
                    &ws.read("server.js")
                        .replace("{ Hello: \"World\" }", &format!("{{ Hello: \"{n}\" }}")),
                );
                let spec = ws.read("strata.toml");
                ws.write(
                    "strata.toml",
                    &format!("{spec}\n[build_env]\nSTRATA_E2E_NONCE = \"{n}\"\n"),
                );
                let check = vec!["node".into(), "-e".into(), "require('express')".into()];
                (ws, 3000, check)
            };
            let tag = format!("strata-e2e/concurrent-{i}:28");
            jobs.push((ws, tag, n, answer_port, check));
        }
        // The harness runs one build at a time per engine (Engine::builds); these deliberately
        // run at once, each on its own thread with its own client.
        let results: Vec<(bool, String, Duration)> = std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|(ws, tag, _, _, _)| {
                    s.spawn(move || {
                        let spec = ws.dir.join("strata.toml");
                        let mut cmd = Command::new("docker");
                        cmd.args(["buildx", "build", "--progress=plain", "-t", tag, "-f"])
                            .arg(&spec)
                            .arg(&ws.dir)
                            .envs(&e.env);
                        let b = Build::run(cmd);
                        (b.ok, b.log, b.took)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for ((ok, log, _), (_, tag, _, _, _)) in results.iter().zip(&jobs) {
            assert!(ok, "round {round}: {tag} failed:\n{log}");
        }
        for (_, tag, n, port, check) in &jobs {
            assert_eq!(
                e.serve(tag, *port),
                format!(r#"{{"Hello":"{n}"}}"#),
                "{tag}"
            );
            let args: Vec<&str> = check.iter().map(String::as_str).collect();
            e.run_output(tag, &args);
        }
        eprintln!(
            "[e2e] Docker 28: round {round}: 8 concurrent builds in {:.1?} (slowest {:.1?})",
            started.elapsed(),
            results.iter().map(|r| r.2).max().unwrap()
        );
    }
}

/// Every example's image runs read-only (a tmpfs for /tmp), as its non-root user, with every
/// capability dropped, and answers.
#[test]
fn docker28_every_example_runs_read_only_without_capabilities() {
    let kind = Kind::Docker28;
    let e = rust_images(kind);
    let locked = [
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ];
    for (name, base, port, extra) in [
        ("fastapi", Some(PYTHON_BASE), 80, vec![]),
        ("express", Some(NODE_BASE), 3000, vec![]),
        ("rust", None, 8080, rust_contexts()),
    ] {
        let ws = match base {
            Some(base) => Workspace::example(name, kind, base),
            None => Workspace::example_as_is(name, kind),
        };
        let tag = format!("strata-e2e/readonly-{name}:28");
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        e.build_ok(&ws.dir, "strata.toml", &tag, &extra);
        let user = e.inspect(&tag, "{{.Config.User}}");
        assert_eq!(user, "10001:10001", "{name} runs as its non-root user");
        let body = e.serve_with(&locked, &tag, port);
        assert!(body.contains(r#""Hello":"World""#), "{name}: {body}");
    }
}
