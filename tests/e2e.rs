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

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Docker 28.5 + buildx 0.29, BuildKit v0.25.
    Docker28,
    /// Docker 26.1 + buildx 0.13, BuildKit v0.13.
    Docker26,
    /// Docker 20.10, BuildKit v0.8.
    Docker20,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::Docker28 => "28",
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
}

/// One setup per engine per test run; setups are serialised (they share apt and cargo).
fn engine(kind: Kind) -> &'static Engine {
    static SETUP: Mutex<()> = Mutex::new(());
    static E28: OnceLock<Engine> = OnceLock::new();
    static E26: OnceLock<Engine> = OnceLock::new();
    static E20: OnceLock<Engine> = OnceLock::new();
    let cell = match kind {
        Kind::Docker28 => &E28,
        Kind::Docker26 => &E26,
        Kind::Docker20 => &E20,
    };
    cell.get_or_init(|| {
        let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
        let id = kind.id();
        script(&["docker-up.sh", id], &BTreeMap::new());
        let env = engine_env(id);
        script(&["base-images.sh", id], &env);
        script(&["frontend-image.sh", &frontend()], &env);
        Engine {
            kind,
            env,
            builds: Mutex::new(()),
        }
    })
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
            Kind::Docker28 | Kind::Docker26 => vec!["buildx", "build"],
            Kind::Docker20 => vec!["build"],
        };
        args.extend(["--progress=plain", "-t", tag, "-f", spec_path]);
        args.extend(extra);
        args.push(dir);
        let _one_at_a_time = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let out = self.docker(&args);
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Build {
            ok: out.status.success(),
            log,
            took: started.elapsed(),
        }
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
        let out = self.docker(&["run", "-d", "--rm", image]);
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
        let mut args = vec!["run", "--rm", image];
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
        ws.write(
            "strata.toml",
            &format!("# syntax={}\nbase = \"{base}\"\n{rest}", frontend()),
        );
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
