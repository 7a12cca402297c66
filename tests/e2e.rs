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
        self.serve_with(image, port, &[])
    }

    /// `serve` with extra `docker run` options (`--read-only`, `--cap-drop ALL`…).
    fn serve_with(&self, image: &str, port: u16, options: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--rm"];
        args.extend(options);
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

/// The Rust images of one engine, made once per test run (after the engine's usual ones).
fn rust_images(kind: Kind) -> &'static Engine {
    static DONE: OnceLock<()> = OnceLock::new();
    let e = engine(kind);
    DONE.get_or_init(|| script(&["base-images.sh", kind.id(), "rust", "debian"], &e.env));
    e
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
const RUST_BUILD: &str = "[build 3/3] cargo build";

/// The cargo workspace example: the dependencies compile from a skeleton of the manifests in the
/// deps layer; an app edit and a version bump compile no dependency, a dependency edit does.
fn rust(kind: Kind) {
    let e = rust_images(kind);
    let ws = Workspace::example_as_is("rust", kind);
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
            &["sh", "-c", "grep -h '^version' /app/crates/*/Cargo.toml; ls /opt/cargo-vendor; ls /app/target/release/deps | grep -c '^libhttparse-.*rlib$'"]
        ),
        "version = \"0.0.0\"\nversion = \"0.0.0\"\nhttparse\n1",
        "masked versions, vendored sources and the compiled dependency are in the layer"
    );

    // An app edit (the library crate's source) compiles no dependency.
    let nonce = nonce();
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
        app_edit.cached(RUST_VENDOR) && app_edit.cached(RUST_DEPS_BUILD),
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
    assert!(
        dep_edit
            .output_of(RUST_DEPS_BUILD)
            .contains("Compiling itoa"),
        "{}",
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
fn docker26_rust() {
    rust(Kind::Docker26);
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
    // The step's name is the spec's `install` command as written, and the error ends the log.
    // (The LLB carries the step's spec location as a source map, but buildx 0.29 does not print
    // a snippet for a failed exec of a gateway frontend's lazy result: not asserted here.)
    assert!(
        b.log.contains(&format!(
            "ERROR: failed to build: failed to solve: process \"/bin/sh -c echo {marker}; exit 3\" did not complete successfully: exit code: 3"
        )),
        "{}",
        b.log
    );
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
                        let t = Instant::now();
                        let out = Command::new("docker")
                            .args(["buildx", "build", "--progress=plain", "-t", tag, "-f"])
                            .arg(&spec)
                            .arg(&ws.dir)
                            .envs(&e.env)
                            .output()
                            .unwrap();
                        (
                            out.status.success(),
                            String::from_utf8_lossy(&out.stderr).into_owned(),
                            t.elapsed(),
                        )
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
        let body = e.serve_with(&tag, port, &locked);
        assert!(body.contains(r#""Hello":"World""#), "{name}: {body}");
    }
}
