//! Gateway tests: the real `strata` binary, run as BuildKit runs a frontend (stdio gRPC, options in
//! the environment), against an in-process fake LLBBridge that serves directories as local sources
//! and checks every request the way a daemon would.

#[path = "support/bridge.rs"]
mod bridge;

use std::path::Path;

use bridge::{Bridge, CapsProfile, Outcome, TempDir};

const PYTHON_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","PYTHON_VERSION=3.12.7"],"Cmd":["python3"]},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000001"]}}"#;
const NODE_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin","NODE_VERSION=22.11.0"],"Entrypoint":["docker-entrypoint.sh"],"Cmd":["node"],"OnBuild":null},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000002"]}}"#;
const GOLANG_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GOLANG_VERSION=1.24.9","GOTOOLCHAIN=local","GOPATH=/go"],"WorkingDir":"/go","Cmd":["bash"]},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000003"]}}"#;
const DISTROLESS_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],"User":"65532","WorkingDir":"/home/nonroot"},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000004"]}}"#;

const RUST_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","RUSTUP_HOME=/usr/local/rustup","CARGO_HOME=/usr/local/cargo","RUST_VERSION=1.85.1"],"Cmd":["bash"]},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000003"]}}"#;
const DEBIAN_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["bash"]},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000004"]}}"#;

fn strata() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_strata"))
}

fn example(name: &str) -> TempDir {
    TempDir::example(name)
}

fn bridge_for(dir: &TempDir) -> Bridge {
    Bridge::new()
        .opt("filename", "strata.toml")
        .opt("source", "local/strata:dev")
        .opt("cmdline", "local/strata:dev")
        .local("dockerfile", dir.path())
        .local("context", dir.path())
        .image("python:3.12-slim", None, PYTHON_CONFIG)
        .image("node:22-slim", None, NODE_CONFIG)
        .image("golang:1.24", None, GOLANG_CONFIG)
        .image(
            "gcr.io/distroless/static-debian12:nonroot",
            None,
            DISTROLESS_CONFIG,
        )
}

fn run(b: Bridge) -> Outcome {
    b.run(strata(), &["frontend"])
}

fn ok(b: Bridge) -> Outcome {
    let out = run(b);
    assert!(out.succeeded(), "{}", out.report());
    assert_eq!(out.exit_code, Some(0), "{}", out.report());
    assert!(
        out.transport_error.is_none(),
        "stdout must carry only HTTP/2: {}",
        out.report()
    );
    out
}

/// The error the frontend returned, as the user sees it.
fn error(b: Bridge) -> String {
    let out = run(b);
    assert_eq!(
        out.exit_code,
        Some(0),
        "an error Return is a clean exit: {}",
        out.report()
    );
    let status = out.expect_error();
    assert_eq!(
        status.code, 2,
        "code Unknown keeps buildx from prefixing the message"
    );
    status.message.clone()
}

#[test]
fn fastapi_install_step_sees_only_the_manifests() {
    let dir = example("fastapi");
    let out = ok(bridge_for(&dir));
    let g = out.result_graph().expect("a result graph");
    let install = g.find("pip install").expect("an install step");
    assert_eq!(
        install.name().unwrap(),
        "[deps 3/3] /opt/venv/bin/pip install -r requirements.txt"
    );
    let locals = g.locals_under(install);
    assert_eq!(locals.len(), 1, "{}", g.dump());
    assert_eq!(locals[0].include_patterns(), ["requirements.txt"]);
    assert_eq!(
        bridge::transferred_paths(
            dir.path(),
            &bridge::LocalAttrs::from_attrs(&locals[0].source().unwrap().attrs).unwrap()
        )
        .unwrap(),
        ["requirements.txt"],
        "BuildKit would transfer only the manifest for the install"
    );
    let cache = install
        .mount("/root/.cache/pip")
        .expect("pip's cache is mounted");
    assert_eq!(cache.cache_opt.as_ref().unwrap().id, "strata/pip");
    assert!(
        install
            .env_var("PATH")
            .unwrap()
            .starts_with("/opt/venv/bin:/usr/local/bin")
    );
    assert_eq!(
        install.env_var("LANG"),
        Some("C.UTF-8"),
        "base image env is inherited"
    );

    // The app copy comes after the install, from a source holding app/ only.
    let result = g.result();
    assert_eq!(result.name().unwrap(), "[build 1/1] copy app to /code");
    assert!(g.deps(result).iter().any(|n| n.name() == install.name()));

    let config = out
        .expect_result()
        .metadata_json("containerimage.config")
        .unwrap();
    assert_eq!(config["config"]["User"], "10001:10001");
    assert_eq!(config["config"]["WorkingDir"], "/code");
    assert_eq!(config["config"]["Cmd"][0], "uvicorn");
    assert!(config["config"]["ExposedPorts"]["80/tcp"].is_object());
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");

    let resolve = &out.resolves[0];
    assert_eq!(resolve.r#ref, "docker.io/library/python:3.12-slim");
    assert_eq!(
        resolve.log_name,
        "[internal] load metadata for docker.io/library/python:3.12-slim"
    );
    eprintln!(
        "time to Return: {:?}, peak RSS {:?} KiB",
        out.time_to_return, out.peak_rss_kib
    );
}

#[test]
fn go_downloads_from_go_mod_and_go_sum_and_ships_the_binary_alone() {
    let dir = example("go");
    // A big source file: only its head is read to find the package clause.
    let big = format!(
        "{}\n{}",
        std::fs::read_to_string(dir.path().join("main.go")).unwrap(),
        "// padding\n".repeat(20_000)
    );
    dir.write("main.go", big);
    let out = ok(bridge_for(&dir).caps(CapsProfile::V0_8));
    let g = out.result_graph().unwrap();
    let download = g.find("go mod download").expect("a download step");
    assert_eq!(download.name().unwrap(), "[deps 3/4] go mod download");
    let locals = g.locals_under(download);
    assert_eq!(locals.len(), 1, "{}", g.dump());
    assert_eq!(locals[0].include_patterns(), ["go.mod", "go.sum"]);
    assert!(
        download.mount("/go/pkg/mod").is_none(),
        "the modules land in the layer"
    );
    assert_eq!(download.env_var("GOMODCACHE"), Some("/go/pkg/mod"));
    assert_eq!(download.env_var("GOTOOLCHAIN"), Some("local"), "base env");
    // The imported packages compiled ahead, into a build cache in the layer, which the build
    // copies into its cache mount.
    let std = g
        .find("go build -trimpath context")
        .expect("the standard library's packages");
    assert!(
        std.name().unwrap().starts_with("[deps 1/4] GOCACHE=/go/deps-cache GOPROXY=off go build -trimpath context encoding/json log net/http os os/signal syscall time ||"),
        "{}",
        std.name().unwrap()
    );
    assert!(
        g.locals_under(std).is_empty(),
        "keyed by the base image and its command alone"
    );
    let modules = g
        .find("go build -trimpath -mod=mod")
        .expect("the modules' packages");
    assert!(
        modules.name().unwrap().starts_with("[deps 4/4] GOCACHE=/go/deps-cache GOPROXY=off go build -trimpath -mod=mod github.com/google/uuid ||"),
        "{}",
        modules.name().unwrap()
    );
    let build = g.find("go build -v").unwrap();
    assert!(
        build
            .name()
            .unwrap()
            .starts_with("[build 2/2] cp -Rn /go/deps-cache/. \"$GOCACHE\"/ 2>/dev/null; GOPROXY=off go build -v "),
        "{}",
        build.name().unwrap()
    );
    assert_eq!(
        build
            .mount("/root/.cache/go-build")
            .unwrap()
            .cache_opt
            .as_ref()
            .unwrap()
            .id,
        "strata/go-build/example.com/hello/linux-amd64"
    );
    let main_reads: Vec<_> = out
        .reads
        .iter()
        .filter(|r| r.path.ends_with("main.go"))
        .map(|r| r.range)
        .collect();
    // One ranged read: the head, and one byte more to know whether the file goes on.
    assert_eq!(main_reads, [Some((0, (16 << 10) + 1))]);

    let result = g.result();
    assert_eq!(
        result.name().unwrap(),
        "[runtime 1/1] copy /usr/local/bin/hello from build"
    );
    let config = out
        .expect_result()
        .metadata_json("containerimage.config")
        .unwrap();
    assert_eq!(config["config"]["User"], "10001:10001");
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["/usr/local/bin/hello"])
    );
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
        ]),
        "the runtime image's environment, nothing of the build's"
    );
    assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());
}

#[test]
fn express_builds_on_buildkit_0_8_without_newer_features() {
    let dir = example("express");
    let out = ok(bridge_for(&dir).caps(CapsProfile::V0_8));
    let g = out.result_graph().unwrap();
    g.check_caps(CapsProfile::V0_8).unwrap();
    let gaps = g.engine_gaps(CapsProfile::V0_8);
    assert!(
        gaps.ignored.is_empty() && gaps.unsupported.is_empty(),
        "nothing BuildKit v0.8 would drop or refuse: {:?} {:?}",
        gaps.ignored,
        gaps.unsupported
    );
    let install = g.find("npm ci").unwrap();
    assert!(
        !install
            .exec()
            .unwrap()
            .meta
            .as_ref()
            .unwrap()
            .remove_mount_stubs_recursive
    );
    let locals = g.locals_under(install);
    assert_eq!(
        locals[0].include_patterns(),
        ["package.json", "package-lock.json"],
        "only the defaults that exist"
    );
    assert_eq!(
        locals[0].exclude_patterns(),
        ["node_modules", "npm-debug.log"]
    );
    let config = out
        .expect_result()
        .metadata_json("containerimage.config")
        .unwrap();
    assert!(
        config["config"]["Entrypoint"].is_null(),
        "the base entrypoint is replaced by the spec's command"
    );
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["npm", "start"]));
}

#[test]
fn newer_llb_fields_are_used_only_where_reported() {
    // BuildKit v0.13 declares `exec.meta.removemountstubs.recursive` but does not report it (checked
    // on a real Docker 26.1 too), so the field stays unset there; `exec.secretenv` is reported.
    let dir = example("express");
    dir.write(
        "strata.toml",
        format!(
            "{}\n[[secret]]\nid = \"npm\"\nenv = \"NPM_TOKEN\"\n",
            std::fs::read_to_string(dir.path().join("strata.toml"))
                .unwrap()
                .replace("[env]\nPORT = \"3000\"\n", "")
        ),
    );
    let out = ok(bridge_for(&dir));
    let install = out.result_graph().unwrap().find("npm ci").unwrap();
    let exec = install.exec().unwrap();
    assert!(!exec.meta.as_ref().unwrap().remove_mount_stubs_recursive);
    assert_eq!(exec.secretenv[0].name, "NPM_TOKEN");

    let out = ok(bridge_for(&dir).caps(CapsProfile::V0_8));
    let install = out.result_graph().unwrap().find("npm ci").unwrap();
    let exec = install.exec().unwrap();
    assert!(
        exec.secretenv.is_empty(),
        "no secret env before BuildKit v0.12"
    );
    assert!(install.mount("/run/strata-secrets/npm").is_some());
}

#[test]
fn spec_errors_reach_the_user_with_position_and_snippet() {
    let dir = TempDir::new("bad");
    dir.write(
        "strata.toml",
        "# syntax=local/strata:dev\nlanguage = \"python\"\nworkdri = \"/srv\"\n",
    );
    let out = run(bridge_for(&dir));
    let status = out.expect_error();
    assert_eq!(
        status.message,
        "strata.toml:3:1: unknown key `workdri` (did you mean `workdir`?)"
    );
    let detail = &status.details[0];
    assert_eq!(
        detail.type_url,
        "github.com/moby/buildkit/errdefs.Source+json"
    );
    let v: serde_json::Value = serde_json::from_slice(&detail.value).unwrap();
    assert_eq!(v["ranges"][0]["start"]["line"], 3);
    assert_eq!(v["info"]["filename"], "strata.toml");
}

#[test]
fn a_missing_manifest_is_named_with_its_position() {
    let dir = example("fastapi");
    std::fs::remove_file(dir.path().join("requirements.txt")).unwrap();
    assert_eq!(
        error(bridge_for(&dir)),
        "strata.toml:4:14: manifest `requirements.txt` does not exist in the build context (paths are relative to the build context directory; check the name and that .dockerignore does not exclude it)"
    );
}

#[test]
fn a_manifest_hidden_by_dockerignore_counts_as_missing() {
    let dir = example("fastapi");
    dir.write(".dockerignore", "*.txt\n");
    assert!(error(bridge_for(&dir)).contains("manifest `requirements.txt` does not exist"));
}

#[test]
fn dockerignore_applies_to_the_source_copy_and_the_spec_specific_file_wins() {
    let app_excludes = |out: &Outcome| {
        let g = out.result_graph().unwrap();
        let app = g
            .locals()
            .into_iter()
            .find(|n| n.include_patterns() == ["app"]);
        app.expect("the app source").exclude_patterns()
    };
    let dir = example("fastapi");
    dir.write(".dockerignore", "app/secret.py\n");
    assert_eq!(
        app_excludes(&ok(bridge_for(&dir))),
        ["app/secret.py", ".venv"]
    );

    dir.write("strata.toml.dockerignore", "app/other.py\n");
    assert_eq!(
        app_excludes(&ok(bridge_for(&dir))),
        ["app/other.py", ".venv"]
    );
}

#[test]
fn options_shape_the_build() {
    let dir = example("fastapi");
    dir.write(
        "strata.toml",
        std::fs::read_to_string(dir.path().join("strata.toml"))
            .unwrap()
            .replace("workdir = \"/code\"", "workdir = \"/${DIR:-code}\""),
    );
    let out = ok(bridge_for(&dir)
        .opt("build-arg:DIR", "srv")
        .opt("label:org.opencontainers.image.title", "demo")
        .opt("target", "deps")
        .opt("platform", "linux/amd64")
        .opt("no-cache", ""));
    let g = out.result_graph().unwrap();
    assert!(
        g.result().name().unwrap().contains("pip install"),
        "target deps ends at the install"
    );
    assert!(
        g.reachable()
            .iter()
            .all(|n| n.name().is_none_or(|s| !s.contains("copy app")))
    );
    assert_eq!(g.result().cwd(), Some("/srv"));
    let config = out
        .expect_result()
        .metadata_json("containerimage.config")
        .unwrap();
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.title"],
        "demo"
    );
    assert_eq!(config["config"]["WorkingDir"], "/srv");
    let solve = out.solves.last().unwrap();
    assert!(
        solve
            .definition
            .as_ref()
            .unwrap()
            .metadata
            .values()
            .all(|m| m.ignore_cache)
    );
}

#[test]
fn unsupported_options_are_named() {
    let dir = example("fastapi");
    assert!(
        error(bridge_for(&dir).opt("platform", "linux/amd64,plan9/"))
            .starts_with("build option `platform`: ")
    );
    assert_eq!(
        error(bridge_for(&dir).opt("target", "final")),
        "build option `target`: there is no stage `final` (Strata's stages are base, deps, build, runtime)"
    );
}

#[test]
fn an_unknown_base_image_points_at_the_base_key() {
    let dir = example("fastapi");
    dir.write(
        "strata.toml",
        std::fs::read_to_string(dir.path().join("strata.toml"))
            .unwrap()
            .replace("app = \"app\"", "app = \"app\"\nbase = \"python:9-nope\""),
    );
    let message = error(bridge_for(&dir));
    assert!(
        message
            .starts_with("strata.toml:6:8: cannot resolve image `docker.io/library/python:9-nope`"),
        "{message}"
    );
}

#[test]
fn a_wrong_filename_is_reported_without_host_paths() {
    let dir = example("fastapi");
    let message = error(bridge_for(&dir).opt("filename", "nope.toml"));
    assert_eq!(
        message,
        "build option `filename`: cannot read `nope.toml` from the build definition directory (pass the spec with -f (e.g. `-f strata.toml`))"
    );
}

#[test]
fn a_spec_that_is_not_utf8_is_located_with_the_fix() {
    let dir = example("fastapi");
    dir.write(
        "strata.toml",
        b"language = \"python\"\nversion = \"3\xff\"\n",
    );
    assert_eq!(
        error(bridge_for(&dir)),
        "strata.toml:2:13: the spec must be UTF-8 text, but byte 0xFF here is not UTF-8 (save the file as UTF-8)"
    );
}

#[test]
fn the_frontend_exits_right_after_return() {
    let dir = example("fastapi");
    let out = ok(bridge_for(&dir));
    let after = out.exit_after_return.expect("exited after Return");
    assert!(after.as_millis() < 2000, "exit took {after:?} after Return");
}

#[test]
fn same_spec_and_manifests_give_identical_llb() {
    let dir = example("express");
    let a = ok(bridge_for(&dir));
    let b = ok(bridge_for(&dir));
    let def = |o: &Outcome| {
        prost::Message::encode_to_vec(o.solves.last().unwrap().definition.as_ref().unwrap())
    };
    assert_eq!(def(&a), def(&b));
    // A source edit changes nothing the frontend emits: BuildKit keys the copy on content.
    dir.write("server.js", "// edited\n");
    let c = ok(bridge_for(&dir));
    assert_eq!(def(&a), def(&c));
}

#[test]
fn a_context_given_as_an_input_is_used() {
    let dir = example("fastapi");
    let mut builder = bridge::DefinitionBuilder::new();
    let session = bridge::SESSION_ID;
    let src = builder.source("local://alt", &[("local.session", session)]);
    let def = builder.finish(&src, 0);
    let out = ok(bridge_for(&dir)
        .local("alt", dir.path())
        .input("context", def));
    let g = out.result_graph().unwrap();
    assert!(
        g.locals().iter().any(|n| n.local_name() == Some("alt")),
        "{}",
        g.dump()
    );
    assert!(
        !g.locals().iter().any(|n| n.local_name() == Some("context")),
        "{}",
        g.dump()
    );
    let copy = g.find("[deps 2/3]").unwrap();
    let summary = copy.summary();
    assert!(summary.contains("/requirements.txt"), "{summary}");
}

#[test]
fn a_named_context_replaces_a_base_image() {
    let dir = example("fastapi");
    let digest = format!("sha256:{}", "c".repeat(64));
    let out = ok(bridge_for(&dir)
        .opt(
            "context:python:3.12-slim",
            "docker-image://local/strata-python:test",
        )
        .image("local/strata-python:test", Some(&digest), PYTHON_CONFIG));
    assert_eq!(out.resolves[0].r#ref, "docker.io/local/strata-python:test");
    let g = out.result_graph().unwrap();
    let from = g.find("[base] FROM").unwrap();
    assert_eq!(
        from.identifier().unwrap(),
        format!("docker-image://docker.io/local/strata-python:test@{digest}")
    );
    assert_eq!(
        error(bridge_for(&dir).opt("context:python:3.12-slim", "docker-image://local/missing:1")),
        "build option `context:python:3.12-slim`: cannot resolve image `docker.io/local/missing:1`: docker.io/local/missing:1: not found"
    );
}

/// uv's official image, as a stand-in or mirror serves it: no shell, nothing but the binaries.
const UV_IMAGE_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Cmd":["/uv"]},"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000005"]}}"#;

/// `--call outline` tells which named context would copy the tool instead of installing it (buildx
/// prints the description), and a plan without such a tool says nothing of the kind.
#[test]
fn the_outline_names_the_tool_image_a_named_context_can_give() {
    let description = |name: &str| {
        let dir = example(name);
        let outline = subrequest(&dir, "frontend.outline");
        let json = outline.metadata_json("result.json").unwrap();
        json["description"].as_str().unwrap().to_string()
    };
    let uv = description("uv");
    assert!(
        uv.contains(
            "--build-context ghcr.io/astral-sh/uv:0.13.9=docker-image://IMAGE copies the tool"
        ),
        "{uv}"
    );
    let pip = description("fastapi");
    assert!(!pip.contains("--build-context"), "{pip}");
}

/// `--call outline` lists every cache mount the build uses, the target cache the Rust deps layer
/// keeps a copy of too (it is a cache a user may want to prune).
#[test]
fn the_outline_lists_the_kept_build_output_cache() {
    let dir = example("rust");
    let outline = subrequest(&dir, "frontend.outline");
    let json = outline.metadata_json("result.json").unwrap();
    let ids: Vec<&str> = json["cache"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["ID"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "strata/cargo-registry",
            "strata/cargo-git",
            "strata/cargo-target/server/<platform>"
        ]
    );
}

/// The tool's official image is asked for only when a named context replaces it (no registry but
/// PyPI may be reachable); then uv's step is a copy from the replacement, pinned to the digest
/// the daemon resolved, and nothing installs uv. A per-platform key works as for base images, and
/// a replacement that does not resolve is an error naming the option.
#[test]
fn a_named_context_replaces_a_tools_install_with_a_copy_from_its_image() {
    let dir = example("uv");
    let plain = ok(bridge_for(&dir));
    assert!(
        plain.resolves.iter().all(|r| !r.r#ref.contains("uv")),
        "{:?}",
        plain.resolves
    );
    let g = plain.result_graph().unwrap();
    assert!(g.find("pip install uv==0.13.9").is_some(), "{}", g.dump());

    let digest = format!("sha256:{}", "e".repeat(64));
    for key in [
        "context:ghcr.io/astral-sh/uv:0.13.9",
        "context:ghcr.io/astral-sh/uv:0.13.9::linux/amd64",
    ] {
        let out = ok(bridge_for(&dir)
            .opt(key, "docker-image://local/strata-uv:0.13.9")
            .image("local/strata-uv:0.13.9", Some(&digest), UV_IMAGE_CONFIG));
        assert!(
            out.resolves
                .iter()
                .any(|r| r.r#ref == "docker.io/local/strata-uv:0.13.9"),
            "{key}: {:?}",
            out.resolves
        );
        let g = out.result_graph().unwrap();
        assert!(g.find("pip install uv").is_none(), "{key}: {}", g.dump());
        let copy = g
            .find("[deps 2/4] copy /uv /uvx from ghcr.io/astral-sh/uv:0.13.9 to /opt/strata/uv/bin")
            .unwrap_or_else(|| panic!("{key}: {}", g.dump()));
        let sources: Vec<&str> = g
            .inputs(copy)
            .iter()
            .filter_map(|n| n.identifier())
            .collect();
        assert_eq!(
            sources,
            [format!(
                "docker-image://docker.io/local/strata-uv:0.13.9@{digest}"
            )],
            "{key}"
        );
    }
    // Another platform's key leaves this platform's install alone.
    let other = ok(bridge_for(&dir).opt(
        "context:ghcr.io/astral-sh/uv:0.13.9::linux/arm64",
        "docker-image://local/strata-uv:0.13.9",
    ));
    let g = other.result_graph().unwrap();
    assert!(g.find("pip install uv==0.13.9").is_some(), "{}", g.dump());
    assert_eq!(
        error(bridge_for(&dir).opt(
            "context:ghcr.io/astral-sh/uv:0.13.9",
            "docker-image://local/missing:1"
        )),
        "build option `context:ghcr.io/astral-sh/uv:0.13.9`: cannot resolve image `docker.io/local/missing:1`: docker.io/local/missing:1: not found"
    );
}

#[test]
fn unknown_options_become_warnings_where_the_daemon_shows_them() {
    let dir = example("fastapi");
    let out = ok(bridge_for(&dir).opt("some-future-option", "1"));
    assert_eq!(out.warnings.len(), 1, "{}", out.report());
    let w = &out.warnings[0];
    assert_eq!(
        String::from_utf8_lossy(&w.short),
        "build option `some-future-option` is not known to this Strata version and was ignored"
    );
    let spec_load = out
        .solves
        .iter()
        .filter_map(|s| s.graph.as_ref())
        .map(|g| g.result())
        .find(|n| n.local_name() == Some("dockerfile"))
        .expect("the spec was loaded from the dockerfile local");
    assert_eq!(
        w.digest, spec_load.digest,
        "shown under the vertex that loaded the spec"
    );
    // BuildKit v0.8 has no Warn: nothing is sent, the build goes on.
    let out = ok(bridge_for(&dir)
        .caps(CapsProfile::V0_8)
        .opt("some-future-option", "1"));
    assert!(
        !out.calls.iter().any(|c| c.method == "Warn"),
        "{}",
        out.report()
    );
}

#[test]
fn a_lower_case_dockerfile_is_read_when_dockerfile_is_missing() {
    let dir = example("express");
    std::fs::rename(
        dir.path().join("strata.toml"),
        dir.path().join("dockerfile"),
    )
    .unwrap();
    let out = ok(bridge_for(&dir).opt("filename", "Dockerfile"));
    assert!(out.result_graph().unwrap().find("npm ci").is_some());
}

/// What the CLI says for the same layouts (tests/cli.rs): one reading path, one behaviour.
const LINK_OUTSIDE: &str = "requirements.txt:1:1: `requirements.txt` is a symbolic link to `/etc/passwd`, outside the build context (BuildKit sends only the build context: put the file itself in the context)";
const READ_THROUGH_LINK: &str = "requirements.txt:1:1: `./vendored` installs local source, which the dependency install does not see";

#[test]
fn a_manifest_linking_outside_the_context_is_refused_and_one_inside_is_read() {
    let dir = example("fastapi");
    std::fs::remove_file(dir.path().join("requirements.txt")).unwrap();
    dir.symlink("/etc/passwd", "requirements.txt");
    assert_eq!(error(bridge_for(&dir)), LINK_OUTSIDE);

    let dir = example("fastapi");
    std::fs::remove_file(dir.path().join("requirements.txt")).unwrap();
    dir.write("reqs/base.txt", "./vendored\n");
    dir.symlink("reqs/base.txt", "requirements.txt");
    let message = error(bridge_for(&dir));
    assert!(message.starts_with(READ_THROUGH_LINK), "{message}");
}

#[test]
fn a_spec_of_several_megabytes_builds_under_the_daemon_message_limit() {
    let dir = example("fastapi");
    let spec = std::fs::read_to_string(dir.path().join("strata.toml")).unwrap();
    let comment = format!("# {}\n", "x".repeat(98));
    dir.write("strata.toml", format!("{spec}{}", comment.repeat(50_000)));
    let out = ok(bridge_for(&dir));
    assert!(out.result_graph().is_some());
}

#[test]
fn several_platforms_give_one_image_each() {
    let dir = example("fastapi");
    let out = ok(bridge_for(&dir).opt("platform", "linux/amd64,linux/386"));
    let graphs = out.result_graphs();
    assert_eq!(
        graphs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["linux/386", "linux/amd64"]
    );
    let result = out.expect_result();
    let listed = result
        .metadata_json("refs.platforms")
        .expect("refs.platforms");
    let ids: Vec<&str> = listed["Platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["linux/amd64", "linux/386"]);
    assert_eq!(listed["Platforms"][1]["Platform"]["architecture"], "386");
    for (id, arch) in [("linux/amd64", "amd64"), ("linux/386", "386")] {
        let config = result
            .metadata_json(&format!("containerimage.config/{id}"))
            .unwrap_or_else(|| panic!("no config for {id}"));
        assert_eq!(config["architecture"], arch);
    }
    // Each platform resolved its own base image, and its steps run for it.
    let arches: Vec<&str> = out
        .resolves
        .iter()
        .filter_map(|r| r.platform.as_ref().map(|p| p.architecture.as_str()))
        .collect();
    assert_eq!(arches, ["amd64", "386"]);
    for (id, graph) in &graphs {
        let install = graph.find("pip install").expect("an install step");
        let arch = install.platform().unwrap().architecture.clone();
        assert!(id.ends_with(&arch), "{id} runs on {arch}");
    }
}

fn subrequest(dir: &TempDir, id: &str) -> bridge::ReturnedResult {
    let out = ok(bridge_for(dir).opt("requestid", id));
    let result = out.expect_result().clone();
    assert!(
        matches!(result.refs, bridge::ReturnedRefs::None),
        "a subrequest builds nothing"
    );
    assert!(
        out.solves
            .iter()
            .all(|s| s.graph.as_ref().is_none_or(|g| g.execs().is_empty())),
        "no step is solved for a subrequest"
    );
    result
}

#[test]
fn call_targets_outline_and_describe_are_answered() {
    let dir = example("fastapi");
    let targets = subrequest(&dir, "frontend.targets");
    let json = targets.metadata_json("result.json").unwrap();
    let names: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["base", "deps", "build", "runtime"]);
    assert_eq!(json["targets"][3]["default"], true);
    assert!(
        json["targets"][1]["description"]
            .as_str()
            .unwrap()
            .contains("requirements.txt")
    );
    assert_eq!(targets.metadata_str("version").as_deref(), Some("1.0.0"));

    dir.write(
        "strata.toml",
        "language = \"python\"\nbase = \"python:${PY:-3.12}-slim\"\nrun = \"x\"\n[[secret]]\nid = \"pip\"\nenv = \"PIP_INDEX_URL\"\nrequired = true\n",
    );
    let outline = subrequest(&dir, "frontend.outline");
    let json = outline.metadata_json("result.json").unwrap();
    assert_eq!(json["args"][0]["name"], "PY");
    assert_eq!(json["args"][0]["value"], "3.12");
    assert_eq!(json["args"][0]["location"]["ranges"][0]["start"]["line"], 2);
    assert_eq!(json["secrets"][0]["name"], "pip");
    assert_eq!(json["secrets"][0]["required"], true);
    assert_eq!(json["cache"][0]["ID"], "strata/pip");
    assert!(outline.metadata_str("result.txt").unwrap().contains("PY"));

    let describe = subrequest(&dir, "frontend.subrequests.describe");
    let json = describe.metadata_json("result.json").unwrap();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"frontend.outline") && names.contains(&"frontend.lint"));
}

#[test]
fn call_check_reports_each_rule_with_its_location_and_status() {
    let dir = example("fastapi");
    dir.write("requirements.txt", "fastapi==0.115.0\nuvicorn\n");
    dir.write(
        "strata.toml",
        "language = \"python\"\nmanifests = [\"requirements.txt\"]\nbase = \"python\"\nuser = \"root\"\nrun = \"x\"\n[env]\nAPI_TOKEN = \"abc\"\n",
    );
    let lint = subrequest(&dir, "frontend.lint");
    let json = lint.metadata_json("result.json").unwrap();
    let rules: Vec<&str> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["ruleName"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "UnfrozenInstall",
            "SecretInEnv",
            "UnpinnedBaseImage",
            "RootUser"
        ]
    );
    // `uvicorn` is unpinned: the finding points into requirements.txt, the second source.
    let unfrozen = &json["warnings"][0]["location"];
    assert_eq!(unfrozen["sourceIndex"], 1);
    assert_eq!(unfrozen["ranges"][0]["start"]["line"], 2);
    assert_eq!(json["sources"][1]["filename"], "requirements.txt");
    assert_eq!(
        json["warnings"][3]["location"]["ranges"][0]["start"]["line"],
        4
    );
    assert_eq!(lint.metadata_str("result.statuscode").as_deref(), Some("1"));

    dir.write(
        "strata.toml",
        "# check=skip=UnfrozenInstall,SecretInEnv,UnpinnedBaseImage,RootUser\nlanguage = \"python\"\nbase = \"python\"\nuser = \"root\"\nrun = \"x\"\n",
    );
    let clean = subrequest(&dir, "frontend.lint");
    assert_eq!(
        clean.metadata_json("result.json").unwrap()["warnings"],
        serde_json::json!([])
    );
    assert_eq!(
        clean.metadata_str("result.statuscode").as_deref(),
        Some("0")
    );

    // error=true turns findings into a failed build.
    dir.write(
        "strata.toml",
        "# check=error=true\nlanguage = \"python\"\nuser = \"root\"\nrun = \"x\"\n",
    );
    dir.write("requirements.txt", "fastapi==0.115.0\n");
    assert!(error(bridge_for(&dir)).starts_with("strata.toml:3:1: RootUser: "));
}

/// A cargo workspace: the root manifest names the members, whose manifests are read in the next
/// round and their targets listed in the one after; the dependency build depends on no context
/// transfer, only on the skeleton the frontend wrote; BuildKit v0.8 has all it needs.
#[test]
fn rust_workspace_is_read_in_rounds_and_its_dependencies_built_from_a_skeleton() {
    let dir = example("rust");
    let out = ok(bridge_for(&dir)
        .image("rust:1-slim-bookworm", None, RUST_CONFIG)
        .image("debian:bookworm-slim", None, DEBIAN_CONFIG)
        .caps(CapsProfile::V0_8));
    let g = out.result_graph().unwrap();
    g.check_caps(CapsProfile::V0_8).unwrap();

    let deps = g
        .find("[deps 3/3] cargo build")
        .expect("the dependency build");
    assert!(
        g.locals_under(deps).is_empty(),
        "no context transfer feeds the dependency build: {}",
        g.dump()
    );
    let skeleton = g.find("write dependency skeleton").unwrap();
    let written: Vec<&str> = skeleton
        .file_actions()
        .iter()
        .filter_map(|a| match &a.action {
            Some(bollard_buildkit_proto::pb::file_action::Action::Mkfile(f)) => {
                Some(f.path.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        written,
        [
            "/app/Cargo.lock",
            "/app/Cargo.toml",
            "/app/crates/greeting/Cargo.toml",
            "/app/crates/greeting/src/lib.rs",
            "/app/crates/server/Cargo.toml",
            "/app/crates/server/src/main.rs"
        ]
    );
    let vendor = g.find("cargo vendor").unwrap();
    assert_eq!(
        vendor
            .mount("/usr/local/cargo/registry")
            .and_then(|m| m.cache_opt.as_ref())
            .map(|c| c.id.as_str()),
        Some("strata/cargo-registry")
    );
    assert!(deps.mount("/usr/local/cargo/registry").is_none());

    // Three rounds of reading, each a transfer of what it asks for; never a source file.
    let rounds: Vec<Vec<String>> = out
        .solves
        .iter()
        .filter_map(|s| s.graph.as_ref())
        .filter(|g| g.result().kind() == bridge::OpKind::Source)
        .filter(|g| g.result().local_name() == Some("context"))
        .map(|g| g.result().include_patterns())
        .filter(|p| p != &[".dockerignore"])
        .collect();
    assert_eq!(rounds.len(), 3, "{rounds:?}");
    assert_eq!(rounds[0][0], "Cargo.toml");
    assert!(
        rounds[1].contains(&"crates/*/Cargo.toml".to_string()),
        "{rounds:?}"
    );
    assert!(
        rounds[2].contains(&"crates/server/src/main.rs".to_string()),
        "{rounds:?}"
    );
    let read: Vec<&str> = out.read_paths().into_iter().map(|(_, p)| p).collect();
    assert!(read.contains(&"crates/server/Cargo.toml"), "{read:?}");
    assert!(
        !read.iter().any(|p| p.ends_with(".rs")),
        "source files are listed, never read: {read:?}"
    );

    let config = out
        .expect_result()
        .metadata_json("containerimage.config")
        .unwrap();
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["/usr/local/bin/server"])
    );
    assert_eq!(config["config"]["User"], "10001:10001");
    let resolved: Vec<&str> = out.resolves.iter().map(|r| r.r#ref.as_str()).collect();
    assert_eq!(
        resolved,
        [
            "docker.io/library/rust:1-slim-bookworm",
            "docker.io/library/debian:bookworm-slim"
        ]
    );
}

/// A lockfile is read as far as its header (one ranged ReadFile), never whole: the header says
/// which Yarn wrote it.
#[test]
fn lockfiles_are_read_as_far_as_their_header() {
    let dir = example("yarn-berry");
    let lock = std::fs::read_to_string(dir.path().join("yarn.lock")).unwrap();
    assert!(
        lock.len() > 8192,
        "the example's lockfile is longer than a header"
    );
    let out = ok(bridge_for(&dir));
    let lock_reads: Vec<_> = out.reads.iter().filter(|r| r.path == "yarn.lock").collect();
    assert_eq!(lock_reads.len(), 1, "{:?}", out.reads);
    assert_eq!(lock_reads[0].range, Some((0, 4097)));
    let g = out.result_graph().unwrap();
    let install = g.find("yarn install --immutable").unwrap();
    assert_eq!(
        g.locals_under(install)[0].include_patterns(),
        ["package.json", "yarn.lock"]
    );
    assert!(g.find("npm install -g --prefix /opt/yarn").is_some());
}

/// Locations a real buildx showed wrong: a key in an inline table (found by the spec's line-based
/// search before, which fell back to `language`), and an error in a manifest (pointed into the
/// spec at the manifest's line). buildx also shows every source under the `-f` file's name, so a
/// finding in a manifest names its file in the detail.
#[test]
fn call_check_points_into_the_file_a_finding_or_an_error_is_in() {
    let dir = example("fastapi");
    dir.write("requirements.txt", "fastapi==0.115.0\nuvicorn\n");
    dir.write(
        "strata.toml",
        "language = \"python\"\nrun = \"x\"\nenv = { MODE = \"a\", API_TOKEN = \"abc\" }\nbuild_env.DB_PASSWORD = \"x\"\n",
    );
    let json = subrequest(&dir, "frontend.lint")
        .metadata_json("result.json")
        .unwrap();
    let at = |rule: &str, n: usize| {
        let w: Vec<&serde_json::Value> = json["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["ruleName"] == rule)
            .collect();
        let l = &w[n]["location"];
        (
            l["sourceIndex"].as_i64().unwrap(),
            l["ranges"][0]["start"]["line"].as_i64().unwrap(),
            l["ranges"][0]["start"]["character"].as_i64().unwrap(),
            w[n]["detail"].as_str().unwrap().to_string(),
        )
    };
    let (source, line, column, _) = at("SecretInEnv", 0);
    assert_eq!(
        (source, line, column),
        (0, 3, 21),
        "API_TOKEN in the inline table"
    );
    let (source, line, column, _) = at("SecretInEnv", 1);
    assert_eq!(
        (source, line, column),
        (0, 4, 11),
        "the dotted build_env.DB_PASSWORD"
    );
    let (source, line, _, detail) = at("UnfrozenInstall", 0);
    assert_eq!((source, line), (1, 2));
    assert!(
        detail.starts_with("requirements.txt:2: `uvicorn` is not pinned"),
        "{detail}"
    );
    assert_eq!(json["sources"][0]["language"], "TOML");
    assert!(json["sources"][1].get("language").is_none());

    // An error in a manifest: its location is in that manifest, which is among the sources.
    dir.write("requirements.txt", "fastapi==0.115.0\n-e .\n");
    let json = subrequest(&dir, "frontend.lint")
        .metadata_json("result.json")
        .unwrap();
    let loc = &json["buildError"]["location"];
    let index = loc["sourceIndex"].as_u64().unwrap() as usize;
    assert_eq!(json["sources"][index]["filename"], "requirements.txt");
    assert_eq!(loc["ranges"][0]["start"]["line"], 2);
}

#[path = "corpus/bad_inputs.rs"]
mod bad_inputs;

/// Every class of bad input (tests/corpus/bad_inputs.rs) through the frontend: an error Return
/// with the same message as the command line, a clean exit in time, and no Solve of any exec op
/// (nothing runs, nothing is written).
#[test]
fn the_bad_input_corpus_gets_located_errors_and_runs_nothing() {
    for case in bad_inputs::cases() {
        let dir = TempDir::new("corpus");
        for (path, content) in &case.files {
            dir.write(path, content);
        }
        for (target, link) in &case.links {
            dir.symlink(target, link);
        }
        let mut b = bridge_for(&dir);
        for a in &case.build_args {
            let (k, v) = a.split_once('=').unwrap();
            b = b.opt(&format!("build-arg:{k}"), v);
        }
        let out = run(b);
        assert_eq!(out.exit_code, Some(0), "{}: {}", case.name, out.report());
        assert!(!out.timed_out, "{}", case.name);
        assert!(
            !out.stderr.contains("panicked"),
            "{}: {}",
            case.name,
            out.stderr
        );
        let status = out.expect_error();
        assert_eq!(status.message, case.message, "{}", case.name);
        for solve in &out.solves {
            if let Some(g) = &solve.graph {
                assert!(g.execs().is_empty(), "{}: solved {}", case.name, g.dump());
            }
        }
        if let Some(secret) = case.never_shown {
            assert!(!format!("{status:?}").contains(secret), "{}", case.name);
            assert!(!out.stderr.contains(secret), "{}", case.name);
        }
    }
    // A build option is located by its name.
    let dir = example("fastapi");
    let message = error(bridge_for(&dir).opt("shm-size", "1g"));
    assert!(message.starts_with("build option `shm-size`"), "{message}");
}

/// `strata frontend` whose stdio is not BuildKit's exits non-zero in time with a message on stderr
/// naming the problem: stdin at end of file, and a peer that holds the pipe open but never answers.
#[test]
fn a_frontend_that_cannot_reach_buildkit_exits_with_a_clear_message() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let wait = |mut child: std::process::Child, limit: Duration| {
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                return (status, err, started.elapsed());
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("strata frontend still running after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let expected = "strata: cannot reach BuildKit on stdin/stdout: ";
    let hint = "(`strata frontend` is started by BuildKit for a spec whose first line is `# syntax=<strata image>`; to try a spec by hand, run `strata plan DIR`)";

    // stdin at end of file, stdout nowhere.
    let child = Command::new(strata())
        .arg("frontend")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, err, took) = wait(child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(expected) && err.trim_end().ends_with(hint),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A peer that never answers: stdin a pipe nobody writes to.
    let child = Command::new(strata())
        .arg("frontend")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, err, took) = wait(child, Duration::from_secs(40));
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "{expected}BuildKit did not answer Ping within 15 s"
        )),
        "{err}"
    );
    assert!(took < Duration::from_secs(25), "{took:?}");
}

/// The copies the install step depends on, as `src → dest` (from the first file action of each).
fn copies_under(g: &bridge::Graph, step: &bridge::Node) -> Vec<String> {
    g.deps(step)
        .into_iter()
        .flat_map(|n| n.file_actions().iter())
        .filter_map(|a| match &a.action {
            Some(bollard_buildkit_proto::pb::file_action::Action::Copy(c)) => {
                Some(format!("{} → {}", c.src, c.dest))
            }
            _ => None,
        })
        .collect()
}

const REPO: &str = "git://127.0.0.1:9444/repo.git";

/// `docker build git://…#ref:dir`: buildx sends the URL as the `context` option and syncs no
/// directory; the spec and the context come from the clone, the install still from the manifests
/// alone.
#[test]
fn a_git_context_is_cloned_and_the_install_copies_only_the_manifests() {
    let repo = TempDir::new("repo");
    bridge::copy_tree(TempDir::example("fastapi").path(), &repo.path().join("svc"));
    let out = ok(Bridge::new()
        .opt("filename", "strata.toml")
        .opt("context", &format!("{REPO}#main:svc"))
        .git(REPO, repo.path())
        .image("python:3.12-slim", None, PYTHON_CONFIG));
    let g = out.result_graph().unwrap();
    assert!(
        g.locals().is_empty(),
        "no local directory is used:\n{}",
        g.dump()
    );
    let git = g
        .sources()
        .into_iter()
        .find(|n| n.identifier().is_some_and(|i| i.starts_with("git://")))
        .expect("a git source");
    assert_eq!(
        git.identifier().unwrap(),
        "git://127.0.0.1:9444/repo.git#main:svc"
    );
    assert_eq!(git.attr("git.fullurl"), Some(REPO));
    assert_eq!(git.attr("git.authtokensecret"), Some("GIT_AUTH_TOKEN"));
    assert_eq!(git.attr("git.keepgitdir"), None);
    assert_eq!(
        git.name().unwrap(),
        "[internal] load git source git://127.0.0.1:9444/repo.git#main:svc"
    );
    let install = g.find("pip install").expect("an install step");
    assert_eq!(
        copies_under(g, install),
        ["/requirements.txt → /code/requirements.txt"],
        "{}",
        g.dump()
    );
    // The spec itself was read from the clone.
    assert!(
        out.read_paths().iter().any(|(_, p)| *p == "strata.toml"),
        "{}",
        out.report()
    );
    let config = out
        .expect_result()
        .metadata_json("containerimage.config")
        .unwrap();
    assert_eq!(config["config"]["WorkingDir"], "/code");
}

/// buildx with a remote context and a local `-f`: `dockerfilekey` names the local holding the spec.
#[test]
fn a_git_context_with_a_local_spec_reads_the_spec_locally() {
    let repo = TempDir::example("express");
    let spec_dir = TempDir::new("spec");
    std::fs::rename(
        repo.path().join("strata.toml"),
        spec_dir.path().join("strata.toml"),
    )
    .unwrap();
    let out = ok(Bridge::new()
        .opt("filename", "strata.toml")
        .opt("dockerfilekey", "dockerfile")
        .opt("context", REPO)
        .opt("build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", "1")
        .local("dockerfile", spec_dir.path())
        .git(REPO, repo.path())
        .image("node:22-slim", None, NODE_CONFIG));
    let g = out.result_graph().unwrap();
    let git = g.find("load git source").expect("a git source");
    assert_eq!(git.identifier().unwrap(), "git://127.0.0.1:9444/repo.git");
    assert_eq!(git.attr("git.keepgitdir"), Some("true"));
    let install = g.find("npm ci").expect("an install step");
    let mut copies = copies_under(g, install);
    copies.sort();
    assert_eq!(
        copies,
        [
            "/package-lock.json → /app/package-lock.json",
            "/package.json → /app/package.json"
        ]
    );
    // A subdirectory needs BuildKit v0.9's `source.git.subdir`.
    assert_eq!(
        error(
            Bridge::new()
                .caps(CapsProfile::V0_8)
                .opt("filename", "strata.toml")
                .opt("context", &format!("{REPO}#:svc"))
        ),
        "build option `context`: a subdirectory of a Git context (`:svc`) needs BuildKit v0.9 or later"
    );
}

/// `--build-context shared=../lib`: the directory appears at `shared/` in the build context, so a
/// spec can stage its manifest with the app's and copy its source with the app's; the install sees
/// the two manifests and nothing else.
#[test]
fn a_directory_named_context_appears_under_its_name() {
    let dir = example("fastapi");
    dir.write(
        "strata.toml",
        std::fs::read_to_string(dir.path().join("strata.toml"))
            .unwrap()
            .replace(
                "manifests = [\"requirements.txt\"]\napp = \"app\"",
                "manifests = [\"requirements.txt\", \"shared/requirements.txt\"]\napp = [\"app\", \"shared\"]",
            ),
    );
    let lib = TempDir::new("lib");
    lib.write("requirements.txt", "six==1.16.0\n");
    lib.write("shared_lib/__init__.py", "X = 1\n");
    let out = ok(bridge_for(&dir)
        .opt("context:shared", "local:shared")
        .local("shared", lib.path()));
    let g = out.result_graph().unwrap();
    let shared = g
        .locals()
        .into_iter()
        .find(|n| n.local_name() == Some("shared"))
        .expect("the directory is a local source");
    assert_eq!(shared.attr("local.session"), Some(bridge::SESSION_ID));
    let put = g
        .find("[internal] put build context shared at shared/")
        .unwrap();
    assert_eq!(copies_under(g, put), ["/ → /shared/"]);
    let install = g.find("pip install").expect("an install step");
    assert_eq!(
        install.args().last().unwrap(),
        "/opt/venv/bin/pip install -r requirements.txt -r shared/requirements.txt",
        "{}",
        g.dump()
    );
    let mut copies: Vec<String> = copies_under(g, install)
        .into_iter()
        .filter(|c| !c.starts_with("/ → /shared"))
        .collect();
    copies.sort();
    assert_eq!(
        copies,
        [
            "/requirements.txt → /code/requirements.txt",
            "/shared/requirements.txt → /code/shared/requirements.txt"
        ]
    );
    let app = g.result();
    assert!(
        copies_under(g, app).contains(&"/shared → /code/shared".to_string()),
        "{}",
        g.dump()
    );
    // An image name cannot be given a directory.
    assert_eq!(
        error(bridge_for(&dir).opt("context:python:3.12-slim", "local:py")),
        "build option `context:python:3.12-slim`: a directory cannot replace `python:3.12-slim`: Strata puts a directory named context at `NAME/` in the build context, and `python:3.12-slim` is not a plain directory name (name it like a directory (`--build-context shared=../lib` puts ../lib at `shared/`); an image is replaced with `docker-image://IMAGE`)"
    );
}
