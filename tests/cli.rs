//! The command line: `strata plan` and `strata llb` on a directory, without BuildKit.

use std::path::Path;
use std::process::{Command, Output};

use bollard_buildkit_proto::pb;
use prost::Message;

// Shared with the gateway tests, which use all of it.
#[allow(dead_code)]
#[path = "support/bridge/tempdir.rs"]
mod tempdir;

use tempdir::TempDir;

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("strata runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn plan_shows_what_keys_the_install_and_the_caches() {
    let out = strata(&["plan", "examples/fastapi"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "language python · package manager pip · install keyed by requirements.txt\n"
        ),
        "{text}"
    );
    for expected in [
        "[base] FROM docker.io/library/python:3.12-slim",
        "  1/3 py=$(command -v python3) && \"$py\" -m venv --without-pip /opt/venv && ",
        "  2/3 copy requirements.txt to /code",
        "  3/3 /opt/venv/bin/pip install -r requirements.txt",
        "      cache /root/.cache/pip (id strata/pip, shared)",
        "  1/1 copy app to /code",
        "  cmd [\"uvicorn\",\"app.main:app\",\"--host\",\"0.0.0.0\",\"--port\",\"80\"]",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn plan_shows_the_rust_skeleton_and_the_offline_build() {
    let out = strata(&["plan", "examples/rust"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    for line in [
        "language rust · package manager cargo · install keyed by Cargo.lock, Cargo.toml, crates/greeting/Cargo.toml, crates/server/Cargo.toml\n",
        "  1/3 write dependency skeleton (6 files) to /app\n      Cargo.lock\n      Cargo.toml\n",
        "      crates/server/src/main.rs\n  2/3 cargo vendor --locked --respect-source-config /opt/cargo-vendor > /opt/cargo-vendor.toml\n      cache /usr/local/cargo/registry (id strata/cargo-registry, locked)\n",
        "  3/3 cargo build --release --locked --offline --config /opt/cargo-vendor.toml -p server --bin server\n      cache /app/target (id strata/cargo-target/server/<platform>, locked), kept in the layer:\n      then, with that cache at /run/strata-layer-cache: rm -rf /app/target && mkdir -p /app/target && cp -a /run/strata-layer-cache/. /app/target/ && cargo build --release --locked --offline --config /opt/cargo-vendor.toml -p server --bin server && cargo clean --release --offline --config /opt/cargo-vendor.toml -p greeting -p server\n      ssh agent",
        "[build] FROM stage deps\n  1/2 copy . to /app\n",
        "[runtime] FROM docker.io/library/debian:bookworm-slim\n  1/1 copy /usr/local/bin/server from build\n",
        "  cmd [\"/usr/local/bin/server\"]\n",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
}

#[test]
fn plan_takes_build_args_target_and_platform() {
    let dir = std::env::temp_dir().join(format!("strata-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("requirements.txt"), "six\n").unwrap();
    std::fs::write(
        dir.join("spec.toml"),
        "language = \"python\"\nbase = \"python:${PY}-slim\"\nrun = \"python3 -V\"\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let out = strata(&["plan", d, "-f", "spec.toml", "--build-arg", "PY=3.11"]);
    assert!(
        stdout(&out).contains("FROM docker.io/library/python:3.11-slim"),
        "{}",
        stdout(&out)
    );
    let out = strata(&["plan", d, "-f", "spec.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: spec.toml:2:16: build argument `PY` is not set (pass `--build-arg NAME=value`, or give a default: `${NAME:-value}`)"
    );
    let out = strata(&[
        "plan",
        d,
        "-f",
        "spec.toml",
        "--build-arg",
        "PY=3",
        "--platform",
        "linux/arm64,linux/amd64",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("build option `platform`"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn llb_writes_a_definition_buildkit_can_load() {
    let out = strata(&["llb", "examples/express"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let def = pb::Definition::decode(out.stdout.as_slice()).expect("a pb.Definition on stdout");
    let ops: Vec<pb::Op> = def
        .def
        .iter()
        .map(|b| pb::Op::decode(b.as_slice()).unwrap())
        .collect();
    let terminal = ops.last().unwrap();
    assert!(terminal.op.is_none() && terminal.inputs.len() == 1);
    let names: Vec<&str> = def
        .metadata
        .values()
        .filter_map(|m| m.description.get("llb.customname").map(String::as_str))
        .collect();
    assert!(
        names.contains(&"[deps 2/2] npm ci --omit=dev --prefer-offline"),
        "{names:?}"
    );
    // Same input, same bytes.
    let again = strata(&["llb", "examples/express"]);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn a_missing_directory_or_spec_is_a_clear_error() {
    let out = strata(&["plan", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: cannot read the spec no/such/dir/Dockerfile"),
        "{err}"
    );
    assert!(Path::new(env!("CARGO_BIN_EXE_strata")).exists());
}

#[test]
fn a_spec_that_is_not_utf8_is_located_with_the_fix() {
    let dir = std::env::temp_dir().join(format!("strata-cli-utf16-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "language = \"python\"\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    std::fs::write(dir.join("strata.toml"), utf16).unwrap();
    let out = strata(&["plan", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: strata.toml:1:1: the spec must be UTF-8 text, but byte 0xFF here is not UTF-8 (the file starts with a UTF-16 byte order mark: save it as UTF-8, not UTF-16)"
    );
}

/// The README shows `strata plan examples/fastapi`; it must be what the command prints.
#[test]
fn the_readme_shows_the_real_plan() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("$ strata plan examples/fastapi\n")
        .expect("the README shows the plan");
    let block = &readme[start..];
    let block = &block[block.find('\n').unwrap() + 1..block.find("```").unwrap()];
    let out = strata(&["plan", "examples/fastapi"]);
    assert_eq!(block, stdout(&out), "update the README's plan output");
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The frontend says the same for the same layouts (tests/gateway.rs): one reading path.
#[test]
fn a_manifest_linking_outside_the_context_is_refused_and_one_inside_is_read() {
    let dir = TempDir::example("fastapi");
    let d = dir.path().to_str().unwrap();
    std::fs::remove_file(dir.path().join("requirements.txt")).unwrap();
    dir.symlink("/etc/passwd", "requirements.txt");
    let out = strata(&["plan", d]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("requirements.txt:1:1: `requirements.txt` is a symbolic link to `/etc/passwd`, outside the build context (BuildKit sends only the build context: put the file itself in the context)"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("root:"),
        "the host's file is never read"
    );

    std::fs::remove_file(dir.path().join("requirements.txt")).unwrap();
    dir.write("reqs/base.txt", "./vendored\n");
    dir.symlink("reqs/base.txt", "requirements.txt");
    let out = strata(&["plan", d]);
    assert!(
        stderr(&out).contains("requirements.txt:1:1: `./vendored` installs local source, which the dependency install does not see"),
        "{}",
        stderr(&out)
    );
}

/// Each Node example plans with its package manager, chosen from the real lockfile on disk
/// (read as far as its header) or package.json, with nothing in the spec but the language.
#[test]
fn node_examples_choose_their_package_manager() {
    for (example, chosen, install) in [
        (
            "pnpm",
            "pnpm 9.15.9",
            "pnpm install --frozen-lockfile --prod --prefer-offline",
        ),
        (
            "yarn-classic",
            "yarn 1.22.22",
            "yarn install --frozen-lockfile --non-interactive --prefer-offline --production",
        ),
        ("yarn-berry", "yarn 4.18.1", "yarn install --immutable\n"),
        (
            "bun",
            "bun 1.4.5",
            "bun install --frozen-lockfile --production",
        ),
    ] {
        let out = strata(&["plan", &format!("examples/{example}")]);
        assert!(out.status.success(), "{example}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.starts_with(&format!("language node · package manager {chosen} ·")),
            "{text}"
        );
        assert!(text.contains(install), "{example}: {text}");
    }
}

#[path = "corpus/bad_inputs.rs"]
mod bad_inputs;

/// Every class of bad input (tests/corpus/bad_inputs.rs): `strata llb` exits 1 in time with the
/// exact located message, no panic, and writes no LLB.
#[test]
fn the_bad_input_corpus_gets_located_messages_and_no_output() {
    for case in bad_inputs::cases() {
        let dir = TempDir::new("corpus");
        for (path, content) in &case.files {
            dir.write(path, content);
        }
        for (target, link) in &case.links {
            dir.symlink(target, link);
        }
        let mut args = vec!["llb", dir.path().to_str().unwrap()];
        for a in &case.build_args {
            args.extend(["--build-arg", a]);
        }
        let started = std::time::Instant::now();
        let out = strata(&args);
        let took = started.elapsed();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", case.name);
        assert!(out.stdout.is_empty(), "{}: wrote output", case.name);
        assert_eq!(
            err.trim_end(),
            format!("error: {}", case.message),
            "{}",
            case.name
        );
        assert!(!err.contains("panicked"), "{}: {err}", case.name);
        assert!(took.as_secs() < 10, "{}: took {took:.1?}", case.name);
        if let Some(secret) = case.never_shown {
            assert!(!err.contains(secret), "{}: {err}", case.name);
        }
    }
    // An option is located by its name.
    let dir = TempDir::example("fastapi");
    let out = strata(&["llb", dir.path().to_str().unwrap(), "--build-arg", "NOEQ"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr(&out).trim_end(),
        "error: build option `build-arg`: `NOEQ` is not NAME=VALUE"
    );
}
