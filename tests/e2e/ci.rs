//! The CI paths (issue 11), end to end on Docker 28.5's engine: a real registry on a loopback port
//! (Debian's docker-registry) that every build pulls the frontend image from (`# syntax=` naming it
//! there), builds on three builders (the engine's own BuildKit v0.25 through the docker driver, a
//! buildx `docker-container` builder and a standalone buildkitd driven by buildctl, both running
//! BuildKit built here from its Go modules), dependency caches that survive ephemeral builders, Git
//! and directory contexts, the templates of examples/ci run as their CI systems run them, and the
//! frontend image built for linux/amd64 and linux/arm64 by frontend.Dockerfile.
//!
//! `cargo test --test e2e ci::` runs these alone. Builders are fresh where a CI runner would be
//! (each `docker-container` builder and the second buildkitd are removed afterwards, state and
//! all); the standing buildkitd of scripts/buildkitd.sh and the registry stay up between runs, as
//! the engines do.

use super::*;

/// The newest engine; the docker-container builders run on it too.
const ENGINE: Kind = Kind::Docker28;

/// An example of examples/ as these tests build it: on every builder, with its caches exported by
/// one builder and imported by a fresh one. Adding an example here is one entry in [`EXAMPLES`].
struct Example {
    /// Its directory in examples/.
    name: &'static str,
    /// The official images its spec implies, each with the flavor of scripts/base-images.sh that
    /// stands in for it (pushed to the test registry as `strata-<flavor>:test`).
    images: &'static [(&'static str, &'static str)],
    /// A source file an app edit appends a comment to, and how a comment starts in it.
    source: &'static str,
    comment: &'static str,
    /// A piece of the install step's progress name.
    install: &'static str,
    /// The other dependency steps an app edit must not run either: the package manager's own
    /// setup, Cargo's vendoring.
    deps_steps: &'static [&'static str],
    /// For ecosystems whose build step runs offline after the source copy: what proves that the
    /// deps layer held every dependency.
    offline: Option<Offline>,
    /// Lines added to the spec on this machine (see `BUN` in tests/e2e.rs: Bun reads its own CA
    /// store, and HTTPS here goes through an intercepting proxy).
    extra_spec: &'static str,
    /// The port it answers `GET /` on, with `{"Hello":"World"}`.
    port: u16,
}

/// A build step that runs after the source copy with downloads shut off by its own tool
/// (`GOPROXY=off`, `cargo --offline`, `mvn -o`): it fails if the deps layer lacks a dependency.
struct Offline {
    /// A piece of its progress name that holds the tool's offline switch.
    step: &'static str,
    /// Lines in its output that would show a dependency downloaded or compiled.
    foreign: &'static [&'static str],
    /// The packages it may compile (Cargo's `Compiling <crate>`, the import paths `go build -v`
    /// prints), the project's own; it must compile at least one (the edited one).
    compiles_only: &'static [&'static str],
}

const PYTHON: &[(&str, &str)] = &[("python:3.12-slim", "python")];
const NODE: &[(&str, &str)] = &[("node:22-slim", "node")];

/// Every example of examples/, those sharing base images next to each other. The tests that need
/// one example take the first, FastAPI.
#[rustfmt::skip]
const EXAMPLES: &[Example] = &[
    Example { name: "fastapi", images: PYTHON, source: "app/main.py", comment: "#", install: "pip install", deps_steps: &[], offline: None, extra_spec: "", port: 80 },
    Example { name: "uv", images: PYTHON, source: "app/main.py", comment: "#", install: "uv sync --locked", deps_steps: &["pip install uv=="], offline: None, extra_spec: "", port: 80 },
    Example { name: "uv-requirements", images: PYTHON, source: "app/main.py", comment: "#", install: "uv pip install -r", deps_steps: &["pip install uv=="], offline: None, extra_spec: "", port: 80 },
    Example { name: "poetry", images: PYTHON, source: "app/main.py", comment: "#", install: "poetry install --no-root", deps_steps: &["pip install poetry=="], offline: None, extra_spec: "", port: 80 },
    Example { name: "pipenv", images: PYTHON, source: "app/main.py", comment: "#", install: "pipenv install --deploy", deps_steps: &["pip install pipenv=="], offline: None, extra_spec: "", port: 80 },
    Example { name: "pdm", images: PYTHON, source: "app/main.py", comment: "#", install: "pdm install --check", deps_steps: &["pip install pdm=="], offline: None, extra_spec: "", port: 80 },
    Example { name: "express", images: NODE, source: "server.js", comment: "//", install: "npm ci", deps_steps: &[], offline: None, extra_spec: "", port: 3000 },
    Example { name: "pnpm", images: NODE, source: "server.js", comment: "//", install: "pnpm install --frozen-lockfile", deps_steps: &["--prefix /opt/pnpm"], offline: None, extra_spec: "", port: 3000 },
    Example { name: "yarn-classic", images: NODE, source: "server.js", comment: "//", install: "yarn install --frozen-lockfile", deps_steps: &["--prefix /opt/yarn"], offline: None, extra_spec: "", port: 3000 },
    Example { name: "yarn-berry", images: NODE, source: "server.js", comment: "//", install: "yarn install --immutable", deps_steps: &["--prefix /opt/yarn"], offline: None, extra_spec: "", port: 3000 },
    Example { name: "bun", images: NODE, source: "server.ts", comment: "//", install: "bun install --frozen-lockfile", deps_steps: &["--prefix /opt/bun"], offline: None, extra_spec: "build_env = { NODE_EXTRA_CA_CERTS = \"/etc/ssl/certs/ca-certificates.crt\" }\n", port: 3000 },
    Example {
        name: "go",
        images: &[("golang:1.24", "go"), ("gcr.io/distroless/static-debian12:nonroot", "static")],
        source: "main.go", comment: "//", install: "go mod download", deps_steps: &["GOPROXY=off go build -trimpath context", "GOPROXY=off go build -trimpath -mod=mod"],
        offline: Some(Offline { step: "GOPROXY=off go build -v", foreign: &["go: downloading", "go: finding"], compiles_only: &["example.com/hello"] }),
        extra_spec: "", port: 8080,
    },
    Example {
        name: "rust",
        images: &[("rust:1-slim-bookworm", "rust"), ("debian:bookworm-slim", "debian")],
        source: "crates/greeting/src/lib.rs", comment: "//", install: "[deps 3/3] cargo build", deps_steps: &["cargo vendor", "[deps 3/3] keep /app/target"],
        offline: Some(Offline { step: "[build 2/2] cargo build --release --locked --offline", foreign: &["Downloading", "Downloaded", "Updating"], compiles_only: &["greeting", "server"] }),
        extra_spec: "", port: 8080,
    },
    Example {
        name: "java-maven",
        images: &[("maven:3-eclipse-temurin-21", "java"), ("eclipse-temurin:21-jre", "jre")],
        source: "src/main/java/example/Main.java", comment: "//", install: "go-offline-maven-plugin", deps_steps: &[],
        // `-ntp` keeps Maven from printing transfers at all: `-o` (in the step's name) is what
        // fails the build on an artefact the imported layer lacks.
        offline: Some(Offline { step: "-o package -DskipTests", foreign: &[], compiles_only: &[] }),
        extra_spec: "", port: 8080,
    },
    Example {
        name: "java-gradle",
        images: &[("gradle:jdk21", "gradle"), ("eclipse-temurin:21-jre", "jre")],
        source: "src/main/java/example/Main.java", comment: "//", install: "strataResolveDependencies", deps_steps: &[],
        // `--offline` (in the step's name) fails the build on an artefact the imported layer lacks.
        offline: Some(Offline { step: "--offline installDist", foreign: &["Download https://"], compiles_only: &[] }),
        extra_spec: "", port: 8080,
    },
];

/// The examples the other builders and templates build: one per language the GitLab job is shown
/// with (issue 11: everything on the newest builder, a representative subset on the others).
fn representative() -> impl Iterator<Item = &'static Example> {
    EXAMPLES
        .iter()
        .filter(|x| ["fastapi", "express"].contains(&x.name))
}

/// The examples the GitHub Actions round trip builds: all of them, or those named in
/// `STRATA_E2E_EXAMPLES` (comma-separated, e.g. `go,rust`) when working on one ecosystem: the
/// whole round trip takes about 15 minutes.
fn round_trip_examples() -> Vec<&'static Example> {
    let only = std::env::var("STRATA_E2E_EXAMPLES").unwrap_or_default();
    let only: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    assert!(
        only.iter().all(|n| EXAMPLES.iter().any(|x| x.name == *n)),
        "STRATA_E2E_EXAMPLES names examples of EXAMPLES: {only:?}"
    );
    EXAMPLES
        .iter()
        .filter(|x| only.is_empty() || only.contains(&x.name))
        .collect()
}

const HELLO: &str = r#"{"Hello":"World"}"#;

/// The first step of the build stage, the source copy, whatever the language.
const SOURCE_COPY: &str = "[build 1/";

/// What the tests share: the registry, the frontend and base images in it, the standalone
/// buildkitd, the BuildKit image of the `docker-container` builders.
struct Ci {
    /// `localhost:PORT`.
    registry: String,
    /// The frontend image in the registry: every spec's `# syntax=` here.
    frontend: String,
    /// `BUILDKIT_HOST`, `PATH` (with buildctl) and `STRATA_BUILDKIT_VERSION` of the standing
    /// buildkitd.
    buildctl_env: BTreeMap<String, String>,
    /// The BuildKit image the `docker-container` builders run, in the registry.
    buildkit_image: String,
    /// Their buildkitd.toml: the registry speaks plain HTTP.
    builder_config: PathBuf,
}

fn ci() -> &'static Ci {
    static CI: OnceLock<Ci> = OnceLock::new();
    CI.get_or_init(|| {
        let e = engine(ENGINE);
        let started = Instant::now();
        let mut flavors: Vec<&str> = EXAMPLES
            .iter()
            .flat_map(|x| x.images.iter().map(|(_, f)| *f))
            .collect();
        flavors.sort();
        flavors.dedup();
        let mut args = vec!["base-images.sh", ENGINE.id()];
        args.extend(&flavors);
        script(&args, &e.env);
        script(&["registry.sh", "up"], &BTreeMap::new());
        let registry = script_output(&["registry.sh", "addr"], &BTreeMap::new());
        let registry = registry.trim().to_string();
        let tag = frontend()
            .rsplit_once(':')
            .map_or("latest".to_string(), |(_, t)| t.to_string());
        let in_registry = format!("{registry}/strata:{tag}");
        push(e, &frontend(), &in_registry);
        for flavor in &flavors {
            push(
                e,
                &format!("local/strata-{flavor}:test"),
                &format!("{registry}/strata-{flavor}:test"),
            );
        }
        let with_registry = BTreeMap::from([("STRATA_REGISTRY".to_string(), registry.clone())]);
        script(&["buildkitd.sh", "image", ENGINE.id()], &BTreeMap::new());
        script(&["buildkitd.sh", "up"], &with_registry);
        let buildctl_env: BTreeMap<String, String> =
            script_output(&["buildkitd.sh", "env"], &BTreeMap::new())
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let version = buildctl_env["STRATA_BUILDKIT_VERSION"].clone();
        let buildkit_image = format!("{registry}/strata-buildkit:{version}");
        push(
            e,
            &format!("local/strata-buildkit:{version}"),
            &buildkit_image,
        );
        let builder_config = std::env::temp_dir().join(format!(
            "strata-ci-buildkitd-{}.toml",
            std::process::id()
        ));
        std::fs::write(
            &builder_config,
            format!("[registry.\"{registry}\"]\n  http = true\n"),
        )
        .unwrap();
        eprintln!(
            "[e2e ci] registry {registry}, frontend {in_registry}, BuildKit {version}: set up in {:.1?}",
            started.elapsed()
        );
        Ci {
            registry,
            frontend: in_registry,
            buildctl_env,
            buildkit_image,
            builder_config,
        }
    })
}

fn script_output(args: &[&str], env: &BTreeMap<String, String>) -> String {
    let out = Command::new(repo().join("scripts").join(args[0]))
        .args(&args[1..])
        .envs(env)
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "scripts/{} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pushes a local image to the registry under `remote`, then drops the local `remote` tag: builds
/// must pull it from the registry, not find it in the engine's store.
fn push(e: &Engine, local: &str, remote: &str) {
    for args in [
        vec!["tag", local, remote],
        vec!["push", "-q", remote],
        vec!["rmi", remote],
    ] {
        let out = e.docker(&args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn docker_command(e: &Engine, args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(args).envs(&e.env);
    cmd
}

/// Builds on the standing buildkitd (buildctl), one at a time for the reason `Engine::builds`
/// gives. Builds on the engine's own BuildKit take the engine's lock; a `docker-container`
/// builder is a BuildKit of its own, with a lock of its own, so tests on other builders and on
/// the engine run side by side.
static STANDING_BUILDKITD: Mutex<()> = Mutex::new(());

/// Runs one build command under `builder`'s one-build-at-a-time lock and keeps its output.
fn run_build(builder: &Mutex<()>, cmd: Command) -> Build {
    let _one_at_a_time = builder.lock().unwrap_or_else(|e| e.into_inner());
    Build::run(cmd)
}

/// Whether the step whose progress name contains `name` ran its command. BuildKit prints a
/// command's output as `#N <seconds> <line>`; a step taken from a cache prints none: it shows
/// `CACHED`, or, when its layers come from an imported cache, at times only `DONE` after the time
/// their download took. pip and npm always print what they install.
fn ran(b: &Build, name: &str) -> bool {
    let numbers: Vec<&str> = b
        .log
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(n, rest)| n.starts_with('#') && rest.contains(name))
        .map(|(n, _)| n)
        .collect();
    assert!(
        !numbers.is_empty(),
        "no step named like {name:?} in:\n{}",
        b.log
    );
    b.log.lines().any(|l| {
        let mut words = l.splitn(3, ' ');
        let (Some(n), Some(t), Some(_)) = (words.next(), words.next(), words.next()) else {
            return false;
        };
        numbers.contains(&n) && t.parse::<f64>().is_ok()
    })
}

fn assert_ok(b: &Build, what: &str) {
    assert!(b.ok, "{what} failed:\n{}", b.log);
}

/// A build after an app edit, on a fresh builder with only the imported cache: the source copy
/// re-ran, the install and the other dependency steps did not (so nothing was downloaded), and a
/// build step that runs offline found every dependency in the imported deps layer.
fn assert_install_reused(b: &Build, x: &Example, what: &str) {
    assert_ok(b, &format!("{} after an app edit, {what}", x.name));
    assert!(
        b.log.contains("importing cache manifest"),
        "the cache was imported:\n{}",
        b.log
    );
    for step in std::iter::once(x.install).chain(x.deps_steps.iter().copied()) {
        assert!(
            !executed(b, step),
            "{}: an app edit, {what}, must not run {step:?}:\n{}",
            x.name,
            b.log
        );
    }
    assert!(
        !b.cached(SOURCE_COPY),
        "the source copy re-runs:\n{}",
        b.log
    );
    if let Some(offline) = &x.offline {
        assert_offline(b, x, offline, what);
    }
}

/// Whether the step ran its command: it printed output ([`ran`]), or, for a step that prints
/// nothing (`go mod download`), it finished without being CACHED and without a layer of its own
/// coming from the imported cache (BuildKit shows that download as `sha256:` lines of the step).
fn executed(b: &Build, name: &str) -> bool {
    if ran(b, name) {
        return true;
    }
    let lines = b.output_of(name);
    let own: Vec<&str> = lines
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest))
        .collect();
    !own.contains(&"CACHED")
        && !own.iter().any(|l| l.contains("sha256:"))
        && own.iter().any(|l| l.starts_with("DONE"))
}

/// The build step after the source copy ran offline and neither downloaded nor compiled a
/// dependency: had the imported deps layer lacked one, its tool would have failed it.
fn assert_offline(b: &Build, x: &Example, offline: &Offline, what: &str) {
    assert!(
        ran(b, offline.step) || executed(b, offline.step),
        "{}: the build step {:?} runs after an app edit, {what}:\n{}",
        x.name,
        offline.step,
        b.log
    );
    let output = b.output_of(offline.step);
    for foreign in offline.foreign {
        assert!(
            !output.contains(foreign),
            "{}: {foreign:?} after the source copy, {what}:\n{output}",
            x.name
        );
    }
    if !offline.compiles_only.is_empty() {
        let compiled: Vec<&str> = output.lines().filter_map(compiled_package).collect();
        assert!(
            !compiled.is_empty() && compiled.iter().all(|c| offline.compiles_only.contains(c)),
            "{}: only the workspace's crates compile after the source copy, {what}, not {compiled:?}:\n{output}",
            x.name
        );
    }
}

impl Ci {
    /// `examples/<name>` for each example under a fresh root, as a checkout holds them, each spec's
    /// `# syntax=` naming the frontend in the registry.
    fn checkout(&self, tag: &str) -> Workspace {
        let root = Workspace::empty(&format!("ci-{tag}"));
        for x in EXAMPLES {
            let dir = format!("examples/{}", x.name);
            copy_tree(&repo().join(&dir), &root.dir.join(&dir));
            let spec = root.dir.join(&dir).join("strata.toml");
            self.use_frontend(&spec);
            if !x.extra_spec.is_empty() {
                let text = std::fs::read_to_string(&spec).unwrap();
                let text = text.replacen('\n', &format!("\n{}", x.extra_spec), 1);
                std::fs::write(&spec, text).unwrap();
            }
        }
        root
    }

    /// Points a spec's `# syntax=` line at the frontend in the registry.
    fn use_frontend(&self, spec: &Path) {
        let text = std::fs::read_to_string(spec).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        assert!(
            first.starts_with("# syntax="),
            "{} starts with its syntax line",
            spec.display()
        );
        std::fs::write(spec, format!("# syntax={}\n{rest}", self.frontend)).unwrap();
    }

    /// `--build-context` arguments replacing an example's official images with the registry's.
    fn image_contexts(&self, x: &Example) -> Vec<String> {
        x.images
            .iter()
            .flat_map(|(official, flavor)| {
                [
                    "--build-context".to_string(),
                    format!(
                        "{official}=docker-image://{}/strata-{flavor}:test",
                        self.registry
                    ),
                ]
            })
            .collect()
    }

    /// The same as buildctl options.
    fn image_opts(&self, x: &Example) -> String {
        x.images
            .iter()
            .map(|(official, flavor)| {
                format!(
                    "--opt context:{official}=docker-image://{}/strata-{flavor}:test",
                    self.registry
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `buildctl build` of an example's spec on the standing buildkitd, with the frontend from the
    /// registry, pushing `image`; `args` name the context (`--local`s, or `--opt=context=URL`).
    fn buildctl(&self, x: &Example, image: &str, args: &[String]) -> Build {
        let mut cmd = Command::new("buildctl");
        cmd.args([
            "build",
            "--progress=plain",
            "--frontend=gateway.v0",
            &format!("--opt=source={}", self.frontend),
            "--opt=filename=strata.toml",
            &format!("--output=type=image,name={image},push=true"),
        ])
        .args(args)
        .args(self.image_opts(x).split(' '))
        .envs(&self.buildctl_env);
        run_build(&STANDING_BUILDKITD, cmd)
    }
}

/// An app edit: a comment appended to the example's source file (under `dir`), a state no earlier
/// run built (the engine's and buildkitd's caches outlive runs).
fn edit_source(dir: &Path, x: &Example) {
    let path = dir.join(x.source);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}{} edit {}\n", x.comment, nonce())).unwrap();
}

/// Runs an image from the registry on the engine (it pulls it) and checks it answers.
fn serves(e: &Engine, image: &str, port: u16) {
    assert_eq!(e.serve(image, port).trim(), HELLO, "{image}");
    let _ = e.docker(&["rmi", image]);
}

/// A buildx `docker-container` builder on the engine, running the BuildKit image built here (from
/// the registry, as CI runners pull `moby/buildkit`), with host networking to reach the loopback
/// registry. Removed with its state on drop: each one is a fresh CI runner.
struct Builder<'a> {
    e: &'a Engine,
    name: String,
    builds: Mutex<()>,
}

impl<'a> Builder<'a> {
    fn new(e: &'a Engine, purpose: &str) -> Builder<'a> {
        let ci = ci();
        let name = format!("strata-ci-{purpose}-{}-{}", std::process::id(), unique());
        let opts = format!("image={},network=host", ci.buildkit_image);
        let config = ci.builder_config.to_str().unwrap();
        let out = e.docker(&[
            "buildx",
            "create",
            "--name",
            &name,
            "--driver",
            "docker-container",
            "--driver-opt",
            &opts,
            "--buildkitd-config",
            config,
            "--bootstrap",
        ]);
        assert!(
            out.status.success(),
            "docker buildx create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Builder {
            e,
            name,
            builds: Mutex::new(()),
        }
    }

    /// `docker buildx build --builder NAME --progress=plain ARGS`, in `dir`.
    fn build(&self, dir: &Path, args: &[String]) -> Build {
        let mut cmd = docker_command(
            self.e,
            &[
                "buildx",
                "build",
                "--builder",
                &self.name,
                "--progress=plain",
            ],
        );
        // As on a CI runner: buildx's own defaults (a provenance attestation on pushed images).
        cmd.args(args)
            .current_dir(dir)
            .env_remove("BUILDX_NO_DEFAULT_ATTESTATIONS");
        run_build(&self.builds, cmd)
    }
}

impl Drop for Builder<'_> {
    fn drop(&mut self) {
        let _ = self.e.docker(&["buildx", "rm", "-f", &self.name]);
    }
}

/// A second standalone buildkitd with a state directory of its own: a fresh CI runner without
/// Docker. Stopped and deleted on drop.
struct FreshBuildkitd {
    env: BTreeMap<String, String>,
}

impl FreshBuildkitd {
    fn start() -> FreshBuildkitd {
        let ci = ci();
        let state = format!("/var/tmp/strata/ci-buildkitd-{}", std::process::id());
        let mut env = BTreeMap::from([
            ("STRATA_BUILDKITD_STATE".to_string(), state),
            ("STRATA_REGISTRY".to_string(), ci.registry.clone()),
        ]);
        script(&["buildkitd.sh", "up"], &env);
        let host = script_output(&["buildkitd.sh", "env"], &env)
            .lines()
            .find_map(|l| l.strip_prefix("BUILDKIT_HOST=").map(String::from))
            .unwrap();
        env.insert("BUILDKIT_HOST".into(), host);
        FreshBuildkitd { env }
    }
}

impl Drop for FreshBuildkitd {
    fn drop(&mut self) {
        let mut env = self.env.clone();
        env.insert("STRATA_BUILDKITD_PURGE".into(), "1".into());
        let _ = Command::new(repo().join("scripts/buildkitd.sh"))
            .arg("down")
            .envs(&env)
            .status();
    }
}

// ---------------------------------------------------------------------------------------------
// the frontend from a registry, on each builder

/// Docker 28's own BuildKit (the docker driver) pulls the frontend from the registry.
#[test]
fn docker_driver_pulls_the_frontend_from_the_registry() {
    let ci = ci();
    let e = engine(ENGINE);
    let root = ci.checkout("docker-driver");
    let x = &EXAMPLES[0];
    let tag = format!("strata-ci/{}:docker-driver", x.name);
    let dir = root.dir.join("examples").join(x.name);
    let contexts = ci.image_contexts(x);
    let extra: Vec<&str> = contexts.iter().map(String::as_str).collect();
    let b = e.build_ok(&dir, "strata.toml", &tag, &extra);
    assert!(
        b.log.contains(&format!("docker-image://{}", ci.frontend)),
        "{}",
        b.log
    );
    serves(e, &tag, x.port);
}

// ---------------------------------------------------------------------------------------------
// CI templates: GitHub Actions (buildx, docker-container builders) and GitLab (buildctl)

/// The `with:` inputs of each `docker/build-push-action` step of a workflow, in order. Enough YAML
/// for the template: `key: value` lines, one level under `with:`.
fn build_push_steps(workflow: &str) -> Vec<BTreeMap<String, String>> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let lines: Vec<&str> = workflow.lines().collect();
    let mut steps = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains("uses: docker/build-push-action@") {
            continue;
        }
        let with = lines[i + 1..]
            .iter()
            .position(|l| l.trim() == "with:")
            .map(|p| i + 1 + p)
            .expect("build-push-action has `with:`");
        let mut inputs = BTreeMap::new();
        for l in &lines[with + 1..] {
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            if indent(l) <= indent(lines[with]) {
                break;
            }
            let (k, v) = l.trim().split_once(':').expect("key: value");
            let v = v.split(" #").next().unwrap().trim();
            inputs.insert(k.to_string(), v.to_string());
        }
        steps.push(inputs);
    }
    steps
}

/// Where `type=gha` caches go in these tests: GitHub's cache service is, for BuildKit, a store of
/// cache blobs keyed by scope, like a local directory or a registry reference.
#[derive(Clone, Copy)]
enum CacheStore<'a> {
    Local(&'a Path),
    Registry(&'a str),
}

/// A `cache-from`/`cache-to` value of the template (`type=gha,scope=S[,mode=max]`), in a store
/// these tests have. `None` for a local import that has nothing yet (GitHub's cache would miss).
fn cache_arg(value: &str, store: CacheStore, export: bool) -> Option<String> {
    let attrs: BTreeMap<&str, &str> = value.split(',').filter_map(|a| a.split_once('=')).collect();
    assert_eq!(
        attrs.get("type"),
        Some(&"gha"),
        "the template caches with type=gha: {value}"
    );
    let scope = attrs["scope"];
    let mode = attrs
        .get("mode")
        .map(|m| format!(",mode={m}"))
        .unwrap_or_default();
    Some(match (store, export) {
        (CacheStore::Local(dir), true) => {
            format!("type=local,dest={}/{scope}{mode}", dir.display())
        }
        (CacheStore::Local(dir), false) => {
            let src = dir.join(scope);
            if !src.join("index.json").exists() {
                return None;
            }
            format!("type=local,src={}", src.display())
        }
        (CacheStore::Registry(prefix), true) => format!("type=registry,ref={prefix}:{scope}{mode}"),
        (CacheStore::Registry(prefix), false) => format!("type=registry,ref={prefix}:{scope}"),
    })
}

/// `${{ … }}` expressions of the template, replaced; any other is a template change this test must
/// learn about.
fn expand(value: &str, vars: &[(&str, &str)]) -> String {
    let mut out = value.to_string();
    for (name, v) in vars {
        out = out.replace(&format!("${{{{ {name} }}}}"), v);
    }
    assert!(!out.contains("${{"), "unknown expression in {value:?}");
    out
}

/// The `docker buildx build` arguments build-push-action runs for these inputs, with the caches in
/// `stores` (one `--cache-from`/`--cache-to` per store).
fn buildx_args(
    inputs: &BTreeMap<String, String>,
    vars: &[(&str, &str)],
    stores: &[CacheStore],
) -> Vec<String> {
    let mut args = Vec::new();
    let mut context = None;
    for (key, value) in inputs {
        let value = expand(value, vars);
        match key.as_str() {
            "context" => context = Some(value),
            "file" => args.extend(["--file".to_string(), value]),
            "tags" => {
                for t in value.split(',') {
                    args.extend(["--tag".to_string(), t.trim().to_string()]);
                }
            }
            "platforms" => args.extend(["--platform".to_string(), value]),
            "push" => {
                assert_eq!(value, "true");
                args.push("--push".into());
            }
            "cache-from" | "cache-to" => {
                for store in stores {
                    if let Some(a) = cache_arg(&value, *store, key == "cache-to") {
                        args.extend([format!("--{key}"), a]);
                    }
                }
            }
            other => panic!("build-push-action input `{other}` is new to this test"),
        }
    }
    args.push(context.expect("a context"));
    args
}

fn template(name: &str) -> String {
    std::fs::read_to_string(repo().join("examples/ci").join(name)).unwrap()
}

/// The GitHub Actions template's app job, as its runners run it: build-push-action's buildx
/// command on a fresh `docker-container` builder, for every example of examples/ (the template's
/// matrix names two; the job is the same for any), pushing to the registry and exporting the cache
/// with `mode=max` to GitHub's cache service (stood in for by `type=local`) and to a registry (the
/// form in the template's comment) in the same build. Then, after an app edit, each store on a
/// fresh builder of its own: no dependency step runs (no install, no tool setup, no `go mod
/// download`, no compiled or resolved dependency), the offline build steps of Go, Rust and Maven
/// find everything in the imported deps layer, and the pushed image serves.
#[test]
fn github_actions_app_job_reuses_the_install_on_fresh_builders() {
    let ci = ci();
    let e = engine(ENGINE);
    let steps = build_push_steps(&template("github-actions.yml"));
    let app = steps
        .iter()
        .find(|s| s.get("file").is_some_and(|f| f.contains("matrix.example")))
        .expect("an app job building examples/${{ matrix.example }}");
    let run = nonce();
    let root = ci.checkout("gha");
    let caches = Workspace::empty("gha-cache");
    let prefix = format!("{}/strata-ci-{run}", ci.registry);
    let cache_ref = format!("{prefix}/cache");
    let local = CacheStore::Local(&caches.dir);
    let registry = CacheStore::Registry(&cache_ref);
    let args_for = |x: &Example, stores: &[CacheStore]| {
        let vars = [
            ("matrix.example", x.name),
            ("env.IMAGE_PREFIX", prefix.as_str()),
            ("github.sha", run.as_str()),
        ];
        let mut args = ci.image_contexts(x);
        args.extend(buildx_args(app, &vars, stores));
        args
    };
    let image = |x: &Example| format!("{prefix}/{}:{run}", x.name);
    let matrix = template_matrix(&template("github-actions.yml"));
    assert!(
        matrix.iter().all(|m| EXAMPLES.iter().any(|x| x.name == m)),
        "every example of the template's matrix is one of EXAMPLES: {matrix:?}"
    );
    let started = Instant::now();

    // The run before: one runner exports to both stores.
    let examples = round_trip_examples();
    let first = Builder::new(e, "gha-first");
    for &x in &examples {
        let b = first.build(&root.dir, &args_for(x, &[local, registry]));
        assert_ok(&b, &format!("first run of {}", x.name));
        assert!(
            executed(&b, x.install),
            "a fresh builder installs:\n{}",
            b.log
        );
        eprintln!(
            "[e2e ci] GitHub Actions, {} on a fresh builder: {:.1?}",
            x.name, b.took
        );
        // The images of the template's matrix; the compiled languages' serve after the round trip.
        if matrix.iter().any(|m| m == x.name) {
            serves(e, &image(x), x.port);
        }
    }
    drop(first);

    for &x in &examples {
        edit_source(&root.dir.join("examples").join(x.name), x);
    }
    // Each store on a fresh builder of its own. The images of the template's matrix serve after
    // both; the compiled languages' after the last, as their binary is built after the import;
    // the others' images hold the imported layers and the source, and serve in their own
    // tests (docker28_*): running each here again cost 15 s apiece.
    let stores = [("local (type=gha)", local), ("registry", registry)];
    for (i, (what, store)) in stores.into_iter().enumerate() {
        let runner = Builder::new(e, "gha-next");
        for &x in &examples {
            let b = runner.build(&root.dir, &args_for(x, &[store]));
            assert_install_reused(&b, x, &format!("a fresh builder, cache from {what}"));
            eprintln!(
                "[e2e ci] GitHub Actions, {} app edit on a fresh builder, cache from {what}: {:.1?} ({}: {})",
                x.name,
                b.took,
                x.install,
                status(&b, x.install)
            );
            if (i + 1 == stores.len() && x.offline.is_some()) || matrix.iter().any(|m| m == x.name)
            {
                serves(e, &image(x), x.port);
            }
        }
    }
    eprintln!(
        "[e2e ci] GitHub Actions, {} examples: exported, then imported on two fresh builders, in {:.1?}",
        examples.len(),
        started.elapsed()
    );
}

/// How the step whose progress name contains `name` ended (`CACHED`, `DONE 1.2s`), for the log.
fn status(b: &Build, name: &str) -> String {
    b.output_of(name)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest))
        .rfind(|l| *l == "CACHED" || l.starts_with("DONE") || l.starts_with("ERROR"))
        .unwrap_or("no status")
        .to_string()
}

/// The examples the template's app job names in `matrix: example: [...]`.
fn template_matrix(workflow: &str) -> Vec<String> {
    let line = workflow
        .lines()
        .find_map(|l| l.trim().strip_prefix("example: ["))
        .expect("the app job's matrix of examples");
    line.trim_end_matches(']')
        .split(',')
        .map(|x| x.trim().to_string())
        .collect()
}

/// The GitLab template's job: examples/ci/buildctl.sh, pointed at the standing buildkitd and the
/// registry, builds and pushes each example with a registry cache; after an app edit a fresh
/// buildkitd (a new runner) runs the script again and re-runs no install.
#[test]
fn gitlab_job_buildctl_script_reuses_the_install_on_a_fresh_daemon() {
    let ci = ci();
    let e = engine(ENGINE);
    let job = template("gitlab-ci.yml");
    assert!(
        job.contains("- sh examples/ci/buildctl.sh examples/$EXAMPLE"),
        "the GitLab job runs the script:\n{job}"
    );
    let run = nonce();
    let root = ci.checkout("gitlab");
    let script_env = |x: &Example| {
        BTreeMap::from([
            (
                "IMAGE".to_string(),
                format!("{}/strata-ci-{run}/{}:1", ci.registry, x.name),
            ),
            (
                "CACHE".to_string(),
                format!("{}/strata-ci-{run}/{}:buildcache", ci.registry, x.name),
            ),
            ("BUILDCTL_ARGS".to_string(), ci.image_opts(x)),
        ])
    };
    let run_script = |x: &Example, daemon: &BTreeMap<String, String>| {
        let mut cmd = Command::new("sh");
        cmd.arg(repo().join("examples/ci/buildctl.sh"))
            .arg(format!("examples/{}", x.name))
            .current_dir(&root.dir)
            .envs(&ci.buildctl_env)
            .envs(script_env(x))
            .envs(daemon);
        run_build(&STANDING_BUILDKITD, cmd)
    };
    for x in representative() {
        let b = run_script(x, &BTreeMap::new());
        assert_ok(&b, &format!("buildctl.sh {}", x.name));
        eprintln!(
            "[e2e ci] buildctl.sh {} on the standing buildkitd: {:.1?}",
            x.name, b.took
        );
        serves(e, &script_env(x)["IMAGE"], x.port);
    }
    for x in representative() {
        edit_source(&root.dir.join("examples").join(x.name), x);
    }
    let fresh = FreshBuildkitd::start();
    for x in representative() {
        let b = run_script(x, &fresh.env);
        assert_install_reused(&b, x, "a fresh buildkitd, registry cache");
        eprintln!(
            "[e2e ci] buildctl.sh {} app edit on a fresh buildkitd: {:.1?}",
            x.name, b.took
        );
        serves(e, &script_env(x)["IMAGE"], x.port);
    }
}

// ---------------------------------------------------------------------------------------------
// remote contexts

/// A `git daemon` serving the repositories under a directory on a free loopback port; stopped on
/// drop.
struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    fn serve(base: &Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        // git-daemon itself, not `git daemon`: git runs it as a child of its own, which killing
        // `git` would leave running.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git (Debian's git) runs");
        let exec_path = String::from_utf8_lossy(&exec_path.stdout)
            .trim()
            .to_string();
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git-daemon runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "git daemon does not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        GitDaemon { child, port }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=strata", "-c", "user.email=ci@strata.test"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `docker build <git url>`: the example in a subdirectory of a repository served by `git daemon`,
/// built from its URL by Docker 28's BuildKit and by buildctl (no local directory at all). The
/// install sees only the manifest; a commit that edits the app leaves it CACHED.
#[test]
fn a_git_context_installs_from_the_manifests_alone() {
    let ci = ci();
    let e = engine(ENGINE);
    let x = &EXAMPLES[0];
    let ws = Workspace::empty("git");
    let work = ws.dir.join("work");
    copy_tree(&repo().join("examples").join(x.name), &work.join("svc"));
    ci.use_frontend(&work.join("svc/strata.toml"));
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "app"]);
    let served = ws.dir.join("srv");
    std::fs::create_dir_all(&served).unwrap();
    git(&ws.dir, &["clone", "-q", "--bare", "work", "srv/repo.git"]);
    let daemon = GitDaemon::serve(&served);
    let url = format!("git://127.0.0.1:{}/repo.git#main:svc", daemon.port);
    let tag = format!("strata-ci/{}:git", x.name);
    let build = |target: &[&str]| {
        let mut args = vec![
            "buildx",
            "build",
            "--progress=plain",
            "-f",
            "strata.toml",
            "-t",
            &tag,
        ];
        args.extend(target);
        let contexts = ci.image_contexts(x);
        let mut cmd = docker_command(e, &args);
        cmd.args(&contexts).arg(&url);
        run_build(&e.builds, cmd)
    };

    let b = build(&["--target", "deps"]);
    assert_ok(&b, "git context, deps");
    assert!(
        b.log.contains(&format!("[internal] load git source {url}")),
        "{}",
        b.log
    );
    assert_eq!(
        e.run_output(&tag, &["ls", "-A", "/code"]),
        "requirements.txt"
    );
    let b = build(&[]);
    assert_ok(&b, "git context");
    assert_eq!(e.serve(&tag, x.port).trim(), HELLO);

    // A commit that edits the app: the clone changes, the manifest copied out of it does not.
    edit_source(&work.join("svc"), x);
    git(&work, &["commit", "-q", "-am", "edit"]);
    git(
        &work,
        &[
            "push",
            "-q",
            &served.join("repo.git").display().to_string(),
            "main",
        ],
    );
    let b = build(&[]);
    assert_ok(&b, "git context after a commit");
    assert!(
        b.cached(x.install),
        "a commit to the app must not re-run the install:\n{}",
        b.log
    );
    assert!(!b.cached(SOURCE_COPY), "the app copy re-runs:\n{}", b.log);

    // buildctl: the URL as the context option, no local directory at all.
    let image = format!("{}/strata-ci-{}/{}:git", ci.registry, nonce(), x.name);
    let b = ci.buildctl(x, &image, &[format!("--opt=context={url}")]);
    assert_ok(&b, "buildctl with a git context");
    serves(e, &image, x.port);
}

/// `--build-context shared=DIR`: a library outside the app's directory appears at `shared/`; its
/// manifest is staged with the app's, its source copied with the app's. On Docker 28's BuildKit
/// and on buildctl.
#[test]
fn a_directory_context_appears_under_its_name() {
    let ci = ci();
    let e = engine(ENGINE);
    let x = &EXAMPLES[0];
    assert_eq!(x.name, "fastapi", "this test edits the FastAPI example");
    let ws = Workspace::empty("dir-context");
    let app = ws.dir.join("app");
    copy_tree(&repo().join("examples/fastapi"), &app);
    let lib = ws.dir.join("lib");
    ws.write("lib/requirements.txt", "six==1.16.0\n");
    ws.write("lib/greeting.py", "WHO = \"Shared\"\n");
    let spec = ws
        .read("app/strata.toml")
        .replace(
            "manifests = [\"requirements.txt\"]\napp = \"app\"",
            "manifests = [\"requirements.txt\", \"shared/requirements.txt\"]\napp = [\"app\", \"shared\"]",
        );
    ws.write("app/strata.toml", &spec);
    ci.use_frontend(&app.join("strata.toml"));
    ws.write(
        "app/app/main.py",
        &ws.read("app/app/main.py")
            .replace(
                "from fastapi import FastAPI",
                "from fastapi import FastAPI\nfrom shared.greeting import WHO",
            )
            .replace(r#"{"Hello": "World"}"#, r#"{"Hello": WHO}"#),
    );
    let shared = format!("shared={}", lib.display());
    let tag = "strata-ci/fastapi:dir-context";
    let mut extra = vec!["--build-context".to_string(), shared.clone()];
    extra.extend(ci.image_contexts(x));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let deps_tag = format!("{tag}-deps");
    let mut deps = extra.clone();
    deps.extend(["--target", "deps"]);
    e.build_ok(&app, "strata.toml", &deps_tag, &deps);
    assert_eq!(
        e.run_output(&deps_tag, &["sh", "-c", "ls -A /code /code/shared"]),
        "/code:\nrequirements.txt\nshared\n\n/code/shared:\nrequirements.txt"
    );
    assert!(
        e.run_output(&deps_tag, &["/opt/venv/bin/pip", "list"])
            .contains("six")
    );
    e.build_ok(&app, "strata.toml", tag, &extra);
    assert_eq!(e.serve(tag, 80).trim(), r#"{"Hello":"Shared"}"#);

    // buildctl: the directory as one more local, named in the option.
    let image = format!("{}/strata-ci-{}/fastapi:dir-context", ci.registry, nonce());
    let b = ci.buildctl(
        x,
        &image,
        &[
            format!("--local=context={}", app.display()),
            format!("--local=dockerfile={}", app.display()),
            format!("--local=shared={}", lib.display()),
            "--opt=context:shared=local:shared".into(),
        ],
    );
    assert_ok(&b, "buildctl with a directory context");
    assert_eq!(e.serve(&image, 80).trim(), r#"{"Hello":"Shared"}"#);
}

// ---------------------------------------------------------------------------------------------
// the frontend image for every user

/// A stand-in for `rust:1-bookworm` (no registry but the local one is reachable here), made as the
/// official image is made: rustup's minimal profile and gcc (for build scripts) on bookworm.
const RUST_IMAGE: &str = "\
FROM {registry}/strata-python:test
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev curl \\
 && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN curl -fsSL -o /tmp/rustup-init \\
      https://static.rust-lang.org/rustup/dist/x86_64-unknown-linux-gnu/rustup-init \\
 && chmod +x /tmp/rustup-init \\
 && /tmp/rustup-init -y --no-modify-path --profile minimal --default-toolchain stable \\
 && rm /tmp/rustup-init && rustc --version
";

/// The stand-in in the registry, made once per machine (the registry keeps it, named by its recipe).
fn rust_image(ci: &Ci, e: &Engine) -> String {
    let recipe = RUST_IMAGE.replace("{registry}", &ci.registry);
    let hash = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(recipe.as_bytes())[..6]);
    let image = format!("{}/strata-rust:{hash}", ci.registry);
    if e.docker(&["buildx", "imagetools", "inspect", &image])
        .status
        .success()
    {
        return image;
    }
    let ws = Workspace::empty("rust-image");
    ws.write("Dockerfile", &recipe);
    let b = Builder::new(e, "rust-image").build(
        &ws.dir,
        &["--push".into(), "--tag".into(), image.clone(), ".".into()],
    );
    assert_ok(&b, "the rust:1-bookworm stand-in");
    eprintln!(
        "[e2e ci] {image} (rust:1-bookworm stand-in) made in {:.1?}",
        b.took
    );
    image
}

/// The ELF machine of a binary, and whether it is static (no program interpreter).
fn elf_machine(path: &Path) -> (u16, bool) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is an ELF file", path.display());
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36), u16_at(0x38));
    let interp = (0..phnum as usize).any(|i| {
        let o = phoff + i * phentsize as usize;
        u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) == 3
    });
    (u16_at(0x12), !interp)
}

/// The template's frontend job: frontend.Dockerfile for linux/amd64 and linux/arm64 on a fresh
/// builder (GitHub's cache stood in for by a directory that persists between runs, as GitHub's
/// does), pushed as one image index. The amd64 image then works as `# syntax=` on Docker 28; the
/// arm64 binary is a static aarch64 executable that, run under qemu-user (no emulation inside the
/// build: it cross-compiles), plans an example exactly as the amd64 one does.
#[test]
fn frontend_image_for_amd64_and_arm64() {
    let ci = ci();
    let e = engine(ENGINE);
    let rust = rust_image(ci, e);
    let steps = build_push_steps(&template("github-actions.yml"));
    let job = steps
        .iter()
        .find(|s| s.get("file").map(String::as_str) == Some("frontend.Dockerfile"))
        .expect("a job building frontend.Dockerfile");
    assert_eq!(job["platforms"], "linux/amd64,linux/arm64");
    let run = nonce();
    let prefix = format!("{}/strata-ci-{run}", ci.registry);
    let gha = PathBuf::from("/var/tmp/strata/ci-gha-cache");
    std::fs::create_dir_all(&gha).unwrap();
    let replace_rust = [
        "--build-context".to_string(),
        format!("rust:1-bookworm=docker-image://{rust}"),
    ];
    let mut args = replace_rust.to_vec();
    args.extend(buildx_args(
        job,
        &[("env.IMAGE_PREFIX", &prefix)],
        &[CacheStore::Local(&gha)],
    ));
    let builder = Builder::new(e, "frontend");
    let b = builder.build(&repo(), &args);
    assert_ok(&b, "frontend.Dockerfile for two platforms");
    eprintln!(
        "[e2e ci] frontend.Dockerfile, linux/amd64 + linux/arm64: {:.1?}",
        b.took
    );
    let image = format!("{prefix}/strata:1");
    let index = e.docker(&["buildx", "imagetools", "inspect", &image]);
    let index = String::from_utf8_lossy(&index.stdout);
    for platform in ["linux/amd64", "linux/arm64"] {
        assert!(
            index
                .lines()
                .any(|l| l.split_whitespace().eq(["Platform:", platform])),
            "{image} has no {platform} image:\n{index}"
        );
    }

    // The published image is the frontend of a build on Docker 28 (its amd64 image).
    let x = &EXAMPLES[0];
    let root = ci.checkout("frontend-image");
    let spec = root.dir.join("examples").join(x.name).join("strata.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let (_, rest) = text.split_once('\n').unwrap();
    std::fs::write(&spec, format!("# syntax={image}\n{rest}")).unwrap();
    let tag = format!("strata-ci/{}:frontend-image", x.name);
    let contexts = ci.image_contexts(x);
    let extra: Vec<&str> = contexts.iter().map(String::as_str).collect();
    let b = e.build_ok(spec.parent().unwrap(), "strata.toml", &tag, &extra);
    assert!(
        b.log.contains(&format!("docker-image://{image}")),
        "{}",
        b.log
    );
    assert_eq!(e.serve(&tag, x.port).trim(), HELLO);

    // Both binaries, out of the same (now cached) build.
    let out = Workspace::empty("frontend-binaries");
    let mut args = replace_rust.to_vec();
    args.extend([
        "--file".to_string(),
        "frontend.Dockerfile".into(),
        "--platform".into(),
        job["platforms"].clone(),
        "--output".into(),
        format!("type=local,dest={}", out.dir.display()),
        ".".into(),
    ]);
    assert_ok(&builder.build(&repo(), &args), "the binaries");
    let amd64 = out.dir.join("linux_amd64/strata");
    let arm64 = out.dir.join("linux_arm64/strata");
    assert_eq!(elf_machine(&amd64), (62, true), "x86-64, static");
    assert_eq!(elf_machine(&arm64), (183, true), "aarch64, static");
    let qemu = script_output(&["qemu-user.sh", "aarch64"], &BTreeMap::new());
    let example = repo().join("examples").join(x.name);
    let plan = |cmd: &mut Command| {
        let out = cmd.arg("plan").arg(&example).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let native = plan(&mut Command::new(&amd64));
    let emulated = plan(Command::new(qemu.trim()).arg(&arm64));
    assert!(native.contains("[deps]"), "{native}");
    assert_eq!(
        emulated, native,
        "the arm64 frontend plans as the amd64 one does"
    );
}
