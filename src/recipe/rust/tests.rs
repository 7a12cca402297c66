use bollard_buildkit_proto::pb;

use super::*;
use crate::caps::Caps;
use crate::lower::tests::Ops;
use crate::lower::{Context, LowerInput, lower};
use crate::options::BuildOptions;
use crate::plan::{CopyFrom, Plan, StageFrom, StageName, Step};
use crate::platform::Platform;
use crate::recipe::plan;
use crate::recipe::tests::{context, spec};

const SPEC: &str = include_str!("../../../examples/rust/strata.toml");

/// The example workspace, as the context reader would have read it.
fn example() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "Cargo.toml",
            include_str!("../../../examples/rust/Cargo.toml"),
        ),
        (
            "Cargo.lock",
            include_str!("../../../examples/rust/Cargo.lock"),
        ),
        (
            "crates/greeting/Cargo.toml",
            include_str!("../../../examples/rust/crates/greeting/Cargo.toml"),
        ),
        (
            "crates/greeting/src/lib.rs",
            include_str!("../../../examples/rust/crates/greeting/src/lib.rs"),
        ),
        (
            "crates/server/Cargo.toml",
            include_str!("../../../examples/rust/crates/server/Cargo.toml"),
        ),
        (
            "crates/server/src/main.rs",
            include_str!("../../../examples/rust/crates/server/src/main.rs"),
        ),
    ]
}

/// The example with some files replaced or added.
fn example_with(changes: &[(&'static str, String)]) -> ContextFiles {
    let mut files: Vec<(&str, String)> = example()
        .into_iter()
        .map(|(p, t)| (p, t.to_string()))
        .collect();
    for (path, text) in changes {
        match files.iter_mut().find(|(p, _)| p == path) {
            Some(f) => f.1 = text.clone(),
            None => files.push((path, text.clone())),
        }
    }
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    context(&refs)
}

fn rust_plan(spec_text: &str, ctx: &ContextFiles) -> Plan {
    plan(&spec(spec_text), ctx).unwrap()
}

fn plan_err(spec_text: &str, ctx: &ContextFiles) -> String {
    plan(&spec(spec_text), ctx)
        .expect_err("the plan should be refused")
        .to_string()
}

fn titles(p: &Plan, stage: StageName) -> Vec<String> {
    p.stage(stage)
        .unwrap()
        .steps
        .iter()
        .map(Step::title)
        .collect()
}

fn run_step(p: &Plan, stage: StageName, i: usize) -> &crate::plan::RunStep {
    match &p.stage(stage).unwrap().steps[i] {
        Step::Run(r) => r,
        other => panic!("step {i} of {stage:?} is not a run: {other:?}"),
    }
}

fn generated(p: &Plan) -> Vec<(&str, &str)> {
    p.stage(StageName::Deps)
        .unwrap()
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Write(w) => Some(
                w.files
                    .iter()
                    .map(|f| (f.path.as_str(), std::str::from_utf8(&f.contents).unwrap()))
                    .collect(),
            ),
            _ => None,
        })
        .expect("a skeleton")
}

fn lowered(p: &Plan) -> pb::Definition {
    lowered_for(p, "linux/amd64")
}

fn lowered_for(p: &Plan, platform: &str) -> pb::Definition {
    let s = spec(SPEC);
    lower(&LowerInput {
        plan: p,
        images: &Default::default(),
        options: &BuildOptions::default(),
        platform: &Platform::parse(platform).unwrap(),
        caps: &Caps::current(),
        context: &Context::Local {
            name: "context".into(),
            session: None,
        },
        spec: Some(&s.source),
    })
    .unwrap()
    .definition
}

/// The dependency build's cache, which the deps layer keeps.
fn kept_cache(p: &Plan) -> &crate::plan::LayerCache {
    let steps = &p.stage(StageName::Deps).unwrap().steps;
    let Some(Step::Run(build)) = steps.last() else {
        panic!("the deps stage ends with the dependency build")
    };
    build
        .layer_cache
        .as_ref()
        .expect("the dependency build compiles into a cache the layer keeps")
}

/// What runs in the layer after the dependency build's output is copied there: the dependency
/// build again (nothing to do when the cache was complete), then the stubs' artefacts cleaned.
fn deps_build(p: &Plan) -> String {
    kept_cache(p).then.clone().unwrap()
}

const DEPS_BUILD: &str = "cargo build --release --locked --offline --config /opt/cargo-vendor.toml -p server --bin server";

#[test]
fn the_example_plan() {
    let p = rust_plan(SPEC, &context(&example()));
    assert_eq!(p.language, "rust");
    assert_eq!(p.package_manager, "cargo");
    assert_eq!(
        p.manifests,
        [
            "Cargo.lock",
            "Cargo.toml",
            "crates/greeting/Cargo.toml",
            "crates/server/Cargo.toml"
        ]
    );
    assert_eq!(
        p.stage(StageName::Base).unwrap().from,
        StageFrom::Image(ImageRef::parse("rust:1-slim-bookworm").unwrap())
    );
    assert_eq!(
        titles(&p, StageName::Deps),
        [
            "write dependency skeleton (6 files) to /app",
            "cargo vendor --locked --respect-source-config /opt/cargo-vendor > /opt/cargo-vendor.toml",
            DEPS_BUILD,
        ]
    );
    // The dependencies compile into a target dir on a cache of this package and platform, which
    // the layer then keeps, at the path cargo compiled it at and that the later builds use.
    let kept = kept_cache(&p);
    assert_eq!(kept.cache.target, "/app/target");
    assert_eq!(
        kept.cache.scoped_id("linux/amd64"),
        "strata/cargo-target/server/linux-amd64"
    );
    assert_eq!(kept.cache.sharing, Sharing::Locked);
    assert_eq!(
        deps_build(&p),
        format!(
            "{DEPS_BUILD} && cargo clean --release --offline --config /opt/cargo-vendor.toml -p greeting -p server"
        )
    );
    // Only the download step has the download caches: what the build reads is in the layers.
    let vendor = run_step(&p, StageName::Deps, 1);
    let mounts: Vec<(&str, &str, Sharing)> = vendor
        .caches
        .iter()
        .map(|c| (c.target.as_str(), c.id.as_str(), c.sharing))
        .collect();
    assert_eq!(
        mounts,
        [
            (
                "/usr/local/cargo/registry",
                "strata/cargo-registry",
                Sharing::Locked
            ),
            (
                "/usr/local/cargo/git/db",
                "strata/cargo-git",
                Sharing::Locked
            )
        ]
    );
    assert!(run_step(&p, StageName::Deps, 2).caches.is_empty());
    assert_eq!(
        run_step(&p, StageName::Deps, 2).env,
        [
            ("CARGO_HOME".to_string(), "/usr/local/cargo".to_string()),
            ("CARGO_TARGET_DIR".to_string(), "/app/target".to_string())
        ]
    );

    assert_eq!(
        titles(&p, StageName::Build),
        [
            "copy . to /app".to_string(),
            format!("{DEPS_BUILD} && cp target/release/server /usr/local/bin/server"),
        ]
    );
    assert!(run_step(&p, StageName::Build, 1).caches.is_empty());
    let Step::Copy(source) = &p.stage(StageName::Build).unwrap().steps[0] else {
        panic!("the build starts with the source copy")
    };
    let CopyFrom::Context(sel) = &source.from else {
        panic!("from the context")
    };
    assert!(
        sel.exclude.contains(&"target".to_string()),
        "a host target/ never overwrites the compiled dependencies"
    );

    let runtime = p.stage(StageName::Runtime).unwrap();
    assert_eq!(
        runtime.from,
        StageFrom::Image(ImageRef::parse("debian:bookworm-slim").unwrap())
    );
    assert_eq!(
        titles(&p, StageName::Runtime),
        ["copy /usr/local/bin/server from build"]
    );
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["/usr/local/bin/server".into()])
    );
    assert_eq!(p.image.user, "10001:10001");
    assert_eq!(p.image.ports, ["8080/tcp"]);
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn the_skeleton_holds_manifests_and_stubs_never_source() {
    let p = rust_plan(SPEC, &context(&example()));
    let files = generated(&p);
    let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        paths,
        [
            "Cargo.lock",
            "Cargo.toml",
            "crates/greeting/Cargo.toml",
            "crates/greeting/src/lib.rs",
            "crates/server/Cargo.toml",
            "crates/server/src/main.rs"
        ]
    );
    let text = |path: &str| files.iter().find(|(p, _)| *p == path).unwrap().1;
    assert_eq!(text("crates/server/src/main.rs"), "fn main() {}\n");
    assert_eq!(text("crates/greeting/src/lib.rs"), "");
    let server = text("crates/server/Cargo.toml");
    assert!(server.contains("version = \"0.0.0\""), "{server}");
    assert!(
        !server.contains("[lints") && !server.contains("description ="),
        "{server}"
    );
    let lock = text("Cargo.lock");
    assert!(
        lock.contains("name = \"server\"\nversion = \"0.0.0\"\n")
            && lock.contains("name = \"greeting\"\nversion = \"0.0.0\"\n")
            && lock.contains("name = \"httparse\"\nversion = \"1.10.1\"\n"),
        "{lock}"
    );
}

/// The LLB: the dependency build depends on no context transfer at all here (no cargo config
/// or toolchain file to stage), and no byte of the project's source.
#[test]
fn the_dependency_build_sees_only_the_skeleton() {
    let p = rust_plan(SPEC, &context(&example()));
    let def = lowered(&p);
    let ops = Ops::of(&def);
    let build = ops.find("[deps 3/3] keep");
    assert!(
        ops.local_sources_under(build).is_empty(),
        "no context transfer"
    );
    let main_rs = include_str!("../../../examples/rust/crates/server/src/main.rs");
    for d in ops.closure(build) {
        let bytes = prost::Message::encode_to_vec(&ops.ops[&d]);
        assert!(
            !String::from_utf8_lossy(&bytes).contains("TcpListener"),
            "source text below the dependency build: {}",
            ops.name(&d)
        );
    }
    assert!(main_rs.contains("TcpListener"), "the check above can fail");
    // The real build comes after the source copy, which the whole context feeds.
    let real = ops.find("[build 2/2]");
    assert_eq!(ops.local_sources_under(real).len(), 1);
    assert!(ops.closure(real).contains(build));
}

/// The cache mounts of an exec: (where, id).
fn cache_mounts(ops: &Ops, digest: &str) -> Vec<(String, String)> {
    ops.exec(digest)
        .mounts
        .iter()
        .filter_map(|m| Some((m.dest.clone(), m.cache_opt.as_ref()?.id.clone())))
        .collect()
}

/// The LLB: the dependency build compiles in a cache of this package and platform mounted at the
/// target dir; a second exec mounts the same cache elsewhere and copies it to the target dir,
/// which is no mount there, so the layer holds it; the real build, with no mount, runs on that.
#[test]
fn the_compiled_dependencies_come_from_a_cache_into_the_layer() {
    let p = rust_plan(SPEC, &context(&example()));
    for platform in ["linux/amd64", "linux/arm64"] {
        let def = lowered_for(&p, platform);
        let ops = Ops::of(&def);
        let id = format!("strata/cargo-target/server/{}", platform.replace('/', "-"));
        let build = ops.find("[deps 3/3] cargo build");
        assert_eq!(
            cache_mounts(&ops, build),
            [("/app/target".to_string(), id.clone())]
        );
        let keep = ops.find("[deps 3/3] keep /app/target in the layer");
        assert_eq!(
            cache_mounts(&ops, keep),
            [("/run/strata-layer-cache".to_string(), id)]
        );
        let exec = ops.exec(keep);
        let meta = exec.meta.as_ref().unwrap();
        assert!(
            meta.args.last().unwrap().starts_with(
                "rm -rf /app/target && mkdir -p /app/target && cp -a /run/strata-layer-cache/. /app/target/ && cargo build "
            ),
            "{:?}",
            meta.args
        );
        assert!(
            meta.env
                .contains(&"CARGO_TARGET_DIR=/app/target".to_string()),
            "cargo finds the copy where it compiled it: {:?}",
            meta.env
        );
        let real = ops.find("[build 2/2] cargo build");
        assert!(cache_mounts(&ops, real).is_empty());
        assert!(ops.closure(real).contains(keep));
    }
    // Another package of the same workspace is another project: its own cache.
    let tools = rust_plan(
        "language = \"rust\"\n[rust]\nbin = \"seed\"\n",
        &two_packages_with_binaries(),
    );
    assert_eq!(
        kept_cache(&tools).cache.scoped_id("linux/amd64"),
        "strata/cargo-target/tools/linux-amd64"
    );
    // And the spec's `cache.id` names the cache, as it names the download caches.
    let own = rust_plan(
        "language = \"rust\"\n[cache]\nid = \"team/app\"\n",
        &context(&example()),
    );
    assert_eq!(
        kept_cache(&own).cache.scoped_id("linux/amd64"),
        "team/app/cargo-target/server/linux-amd64"
    );
}

/// The digest of the dependency build's last exec, the copy of its cache into the layer, which
/// the first exec's digest feeds.
fn deps_build_digest(ctx: &ContextFiles) -> String {
    let p = rust_plan(SPEC, ctx);
    let ops = Ops::of(&lowered(&p));
    let keep = ops.find("[deps 3/3] keep /app/target in the layer");
    assert!(
        ops.closure(keep)
            .contains(ops.find("[deps 3/3] cargo build")),
        "the copy runs on the build's result"
    );
    keep.to_string()
}

fn bump(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from} not in {text}");
    text.replacen(from, to, 1)
}

#[test]
fn a_version_bump_keeps_the_dependency_build_and_a_new_dependency_changes_it() {
    let before = deps_build_digest(&context(&example()));
    let server = include_str!("../../../examples/rust/crates/server/Cargo.toml");
    let lock = include_str!("../../../examples/rust/Cargo.lock");
    let bumped = example_with(&[
        (
            "crates/server/Cargo.toml",
            bump(server, "version = \"0.1.0\"", "version = \"0.2.0\""),
        ),
        (
            "Cargo.lock",
            bump(
                lock,
                "name = \"server\"\nversion = \"0.1.0\"",
                "name = \"server\"\nversion = \"0.2.0\"",
            ),
        ),
    ]);
    assert_eq!(deps_build_digest(&bumped), before, "a version bump");
    let edited = example_with(&[
        (
            "crates/server/src/main.rs",
            "fn main() { println!(\"edited\") }\n".into(),
        ),
        (
            "crates/server/Cargo.toml",
            bump(
                server,
                "[lints.rust]\nunsafe_code = \"forbid\"",
                "[lints.rust]\nunsafe_code = \"deny\"",
            ),
        ),
    ]);
    assert_eq!(
        deps_build_digest(&edited),
        before,
        "a source edit and a lint"
    );

    let added = example_with(&[
        (
            "crates/greeting/Cargo.toml",
            bump(
                include_str!("../../../examples/rust/crates/greeting/Cargo.toml"),
                "[dependencies]\n",
                "[dependencies]\nitoa = \"1\"\n",
            ),
        ),
        (
            "Cargo.lock",
            bump(
                lock,
                "name = \"greeting\"\nversion = \"0.1.0\"\n",
                "name = \"greeting\"\nversion = \"0.1.0\"\ndependencies = [\n \"itoa\",\n]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.19\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"3bd1574e617a9a6c1f8f8181bd7e841e1f20e4277607ef28945765188d6284d4\"\n",
            ),
        ),
    ]);
    assert_ne!(deps_build_digest(&added), before, "a new dependency");
    let new_test = example_with(&[("crates/server/tests/api.rs", "#[test] fn t() {}".into())]);
    assert_ne!(
        deps_build_digest(&new_test),
        before,
        "a new target: the skeleton has a stub for it"
    );
}

#[test]
fn the_same_project_lowers_to_the_same_bytes() {
    let a = lowered(&rust_plan(SPEC, &context(&example())));
    let b = lowered(&rust_plan(SPEC, &context(&example())));
    assert_eq!(
        prost::Message::encode_to_vec(&a),
        prost::Message::encode_to_vec(&b)
    );
}

#[test]
fn no_lockfile_is_an_error_that_says_how_to_make_one() {
    let files: Vec<_> = example()
        .into_iter()
        .filter(|(p, _)| *p != "Cargo.lock")
        .collect();
    assert_eq!(
        plan_err(SPEC, &context(&files)),
        "strata.toml:3:12: no Cargo.lock in the build context: the dependency build installs exactly what a lockfile pins (run `cargo generate-lockfile` and commit Cargo.lock (and keep it out of .dockerignore))"
    );
    assert_eq!(
        plan_err("language = \"rust\"\n", &context(&[])),
        "strata.toml:1:12: no Cargo.toml in the build context (rust projects need Cargo.toml (and Cargo.lock) at the root of the build context)"
    );
}

/// The example plus a `tools` package with two binaries.
fn two_packages_with_binaries() -> ContextFiles {
    example_with(&[
        (
            "crates/tools/Cargo.toml",
            "[package]\nname = \"tools\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into(),
        ),
        ("crates/tools/src/bin/migrate.rs", "fn main() {}".into()),
        ("crates/tools/src/bin/seed.rs", "fn main() {}".into()),
    ])
}

#[test]
fn several_binaries_and_none_named_is_an_error_listing_them() {
    assert_eq!(
        plan_err("language = \"rust\"\n", &two_packages_with_binaries()),
        "strata.toml:1:12: several binaries in the workspace and none named: `server` (package server), `migrate` (package tools), `seed` (package tools) (choose one in the spec: `[rust]` then `bin = \"server\"`)"
    );
    assert_eq!(
        plan_err(
            "language = \"rust\"\n[rust]\npackage = \"tools\"\n",
            &two_packages_with_binaries()
        ),
        "strata.toml:3:11: several binaries in package `tools` and none named: `migrate` (package tools), `seed` (package tools) (choose one in the spec: `[rust]` then `bin = \"migrate\"`)"
    );
}

#[test]
fn the_spec_names_the_binary_or_the_package() {
    let ctx = two_packages_with_binaries();
    let p = rust_plan("language = \"rust\"\n[rust]\nbin = \"seed\"\n", &ctx);
    assert_eq!(
        deps_build(&p),
        "cargo build --release --locked --offline --config /opt/cargo-vendor.toml -p tools --bin seed && cargo clean --release --offline --config /opt/cargo-vendor.toml -p greeting -p server -p tools"
    );
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["/usr/local/bin/seed".into()])
    );
    assert!(
        deps_build(&p).ends_with("-p greeting -p server -p tools"),
        "every local package is rebuilt from its source"
    );
    let p = rust_plan("language = \"rust\"\n[rust]\npackage = \"server\"\n", &ctx);
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["/usr/local/bin/server".into()])
    );
    // `default-run` picks among a package's binaries, as `cargo run` does.
    let ctx = example_with(&[
        (
            "crates/tools/Cargo.toml",
            "[package]\nname = \"tools\"\nversion = \"0.1.0\"\ndefault-run = \"seed\"\n".into(),
        ),
        ("crates/tools/src/bin/migrate.rs", "fn main() {}".into()),
        ("crates/tools/src/bin/seed.rs", "fn main() {}".into()),
    ]);
    let p = rust_plan("language = \"rust\"\n[rust]\npackage = \"tools\"\n", &ctx);
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["/usr/local/bin/seed".into()])
    );
}

#[test]
fn a_binary_or_package_that_is_not_there_is_an_error_at_its_name() {
    let ctx = two_packages_with_binaries();
    assert_eq!(
        plan_err("language = \"rust\"\n[rust]\nbin = \"sed\"\n", &ctx),
        "strata.toml:3:7: no binary `sed` in the workspace (did you mean `seed`?)"
    );
    assert_eq!(
        plan_err("language = \"rust\"\n[rust]\nbin = \"api\"\n", &ctx),
        "strata.toml:3:7: no binary `api` in the workspace (the binaries: `server` (package server), `migrate` (package tools), `seed` (package tools))"
    );
    assert_eq!(
        plan_err("language = \"rust\"\n[rust]\npackage = \"tool\"\n", &ctx),
        "strata.toml:3:11: no package `tool` in the workspace (did you mean `tools`?)"
    );
    assert_eq!(
        plan_err(
            "language = \"rust\"\n[rust]\npackage = \"greeting\"\n",
            &ctx
        ),
        "strata.toml:3:11: no binary target in package `greeting`: Strata builds a binary for the image (add src/main.rs or a [[bin]] target, or name the package with one in the spec's [rust] table, e.g. `package = \"server\"`)"
    );
    assert_eq!(
        plan_err(
            "language = \"rust\"\n[rust]\npackage = \"greeting\"\nbin = \"server\"\n",
            &ctx
        ),
        "strata.toml:4:7: no binary `server` in package `greeting` (package `greeting` has no binary target)"
    );
}

#[test]
fn the_rust_table_is_checked() {
    let ctx = context(&example());
    assert_eq!(
        plan_err(
            "language = \"rust\"\n[rust]\nbins = \"server\"\nmusl = \"yes\"\n",
            &ctx
        ),
        "strata.toml:3:1: unknown key `bins` in `[rust]` (did you mean `bin`?)\nstrata.toml:4:8: `rust.musl` must be a boolean, found a string"
    );
    assert_eq!(
        plan_err("language = \"rust\"\n[rust]\nfeatures = [\"x\"]\n", &ctx),
        "strata.toml:3:1: unknown key `features` in `[rust]` (`[rust]` takes bin, package, musl)"
    );
    assert_eq!(
        plan_err("language = \"rust\"\npackage_manager = \"npm\"\n", &ctx),
        "strata.toml:2:19: package manager `npm` is not one for rust (rust projects build with cargo: remove `package_manager` or set it to \"cargo\")"
    );
}

#[test]
fn errors_in_manifests_are_located_in_them() {
    let server = include_str!("../../../examples/rust/crates/server/Cargo.toml");
    let broken = example_with(&[(
        "crates/server/Cargo.toml",
        bump(server, "httparse = \"1\"", "httparse = { version = \"1\""),
    )]);
    let e = plan_err(SPEC, &broken);
    assert_eq!(
        e,
        "crates/server/Cargo.toml:12:1: invalid TOML: missing key for inline table element, expected `,`"
    );
    let outside = example_with(&[(
        "crates/server/Cargo.toml",
        bump(
            server,
            "httparse = \"1\"",
            "shared = { path = \"../../../shared\" }",
        ),
    )]);
    assert_eq!(
        plan_err(SPEC, &outside),
        "crates/server/Cargo.toml:10:19: `shared` is a path dependency on `../../../shared`, outside the build context (BuildKit sends only the build context: move the crate inside it and list it in the root Cargo.toml's `[workspace] members`)"
    );
}

#[test]
fn path_dependencies_inside_the_context_join_the_skeleton() {
    let server = include_str!("../../../examples/rust/crates/server/Cargo.toml");
    let ctx = example_with(&[
        (
            "crates/server/Cargo.toml",
            bump(
                server,
                "httparse = \"1\"",
                "httparse = \"1\"\nvendored = { path = \"../../third_party/vendored\", version = \"2\" }",
            ),
        ),
        (
            "third_party/vendored/Cargo.toml",
            "[package]\nname = \"vendored\"\nversion = \"2.0.0\"\n".into(),
        ),
        ("third_party/vendored/src/lib.rs", "pub fn v() {}".into()),
        (
            "Cargo.lock",
            include_str!("../../../examples/rust/Cargo.lock").replace(
                " \"httparse\",\n]\n",
                " \"httparse\",\n \"vendored\",\n]\n\n[[package]]\nname = \"vendored\"\nversion = \"2.0.0\"\n",
            ),
        ),
    ]);
    let p = rust_plan(SPEC, &ctx);
    let files = generated(&p);
    assert!(files.contains(&("third_party/vendored/src/lib.rs", "")));
    let lock = files.iter().find(|(p, _)| *p == "Cargo.lock").unwrap().1;
    assert!(
        lock.ends_with(
            " \"vendored\",\n]\n\n[[package]]\nname = \"vendored\"\nversion = \"0.0.0\"\n"
        ),
        "{lock}"
    );
    let m = files
        .iter()
        .find(|(p, _)| *p == "third_party/vendored/Cargo.toml")
        .unwrap()
        .1;
    assert!(m.contains("version = \"0.0.0\""), "{m}");
    assert!(
        p.manifests
            .contains(&"third_party/vendored/Cargo.toml".to_string())
    );
    assert!(
        deps_build(&p).ends_with("-p greeting -p server -p vendored"),
        "{}",
        deps_build(&p)
    );
}

#[test]
fn a_local_package_the_lockfile_does_not_have_is_not_cleaned() {
    // An unused `[workspace.dependencies]` path entry: in the skeleton, not in the resolve.
    let root = include_str!("../../../examples/rust/Cargo.toml");
    let ctx = example_with(&[
        (
            "Cargo.toml",
            format!("{root}\n[workspace.dependencies]\nspare = {{ path = \"spare\" }}\n"),
        ),
        ("spare/Cargo.toml", "[package]\nname = \"spare\"\n".into()),
        ("spare/src/lib.rs", String::new()),
    ]);
    let p = rust_plan(SPEC, &ctx);
    assert!(generated(&p).contains(&("spare/src/lib.rs", "")));
    assert!(
        deps_build(&p).ends_with("--config /opt/cargo-vendor.toml -p greeting -p server"),
        "{}",
        deps_build(&p)
    );
}

#[test]
fn a_local_crate_named_like_a_locked_registry_crate_is_cleaned_by_version() {
    let lock = include_str!("../../../examples/rust/Cargo.lock");
    let ctx = example_with(&[(
        "Cargo.lock",
        format!(
            "{lock}\n[[package]]\nname = \"greeting\"\nversion = \"9.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
        ),
    )]);
    let p = rust_plan(SPEC, &ctx);
    assert!(
        deps_build(&p).ends_with("-p greeting@0.1.0 -p server"),
        "{}",
        deps_build(&p)
    );
}

#[test]
fn the_toolchain_file_selects_the_image() {
    let tc = |text: &str| example_with(&[("rust-toolchain.toml", text.to_string())]);
    let p = rust_plan(SPEC, &tc("[toolchain]\nchannel = \"1.86.0\"\n"));
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/rust:1.86.0-slim-bookworm"
    );
    assert!(p.notes.is_empty());
    // It is staged as it is: rustup in the image reads it.
    assert_eq!(
        titles(&p, StageName::Deps)[0],
        "copy rust-toolchain.toml to /app"
    );
    assert!(p.manifests.contains(&"rust-toolchain.toml".to_string()));
    let p = rust_plan(SPEC, &tc("[toolchain]\nchannel = \"nightly-2025-01-01\"\n"));
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/rust:1-slim-bookworm"
    );
    assert_eq!(
        p.notes,
        [
            "rust-toolchain.toml names the toolchain `nightly-2025-01-01`, which no official rust image tag gives: the build uses rust:1-slim-bookworm, whose rustup installs that toolchain on the first cargo call; set `version` or `base` in the spec to choose the image"
        ]
    );
    // The spec's version wins when it is new enough.
    let p = rust_plan(
        "language = \"rust\"\nversion = \"1.87\"\n",
        &tc("[toolchain]\nchannel = \"1.86.0\"\n"),
    );
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/rust:1.87-slim-bookworm"
    );
}

#[test]
fn a_toolchain_newer_than_the_pinned_image_is_an_error() {
    let ctx = example_with(&[(
        "rust-toolchain.toml",
        "[toolchain]\nchannel = \"1.86\"\n".into(),
    )]);
    assert_eq!(
        plan_err("language = \"rust\"\nversion = \"1.85\"\n", &ctx),
        "rust-toolchain.toml:2:11: rust-toolchain.toml asks for Rust 1.86, newer than the Rust 1.85 of rust:1.85-slim-bookworm, which the spec's `version` selects (set `version = \"1.86\"`, or remove `version` to use the image rust-toolchain.toml names)"
    );
    assert_eq!(
        plan_err("language = \"rust\"\nbase = \"rust:1.85.0-slim\"\n", &ctx),
        "rust-toolchain.toml:2:11: rust-toolchain.toml asks for Rust 1.86, newer than the Rust 1.85.0 of the spec's `base` image `rust:1.85.0-slim` (choose a `base` with Rust 1.86 or newer)"
    );
    let legacy = example_with(&[("rust-toolchain", "1.86.0\n".into())]);
    assert!(
        plan_err("language = \"rust\"\nversion = \"1.85\"\n", &legacy)
            .starts_with("rust-toolchain:1:1: rust-toolchain asks for Rust 1.86.0, newer than"),
    );
    // A base image whose Rust Strata cannot tell: a note, not an error.
    let p = rust_plan("language = \"rust\"\nbase = \"local/rust:test\"\n", &ctx);
    assert_eq!(
        p.notes,
        [
            "rust-toolchain.toml asks for Rust 1.86; Strata cannot tell which Rust the spec's `base` image `local/rust:test` has: it needs that release or newer, or rustup to install it"
        ]
    );
    // Old enough is fine.
    rust_plan("language = \"rust\"\nversion = \"1.86\"\n", &ctx);
    rust_plan("language = \"rust\"\nbase = \"rust:1-slim\"\n", &ctx);
}

#[test]
fn cargo_config_is_staged_and_its_build_target_followed() {
    let ctx = example_with(&[(
        ".cargo/config.toml",
        "[build]\ntarget = \"x86_64-unknown-linux-gnu\"\n".into(),
    )]);
    let p = rust_plan(SPEC, &ctx);
    assert_eq!(
        titles(&p, StageName::Deps)[0],
        "copy .cargo/config.toml to /app"
    );
    assert!(
        titles(&p, StageName::Build)[1].ends_with(
            "&& cp target/x86_64-unknown-linux-gnu/release/server /usr/local/bin/server"
        ),
        "{}",
        titles(&p, StageName::Build)[1]
    );
    // The staged config is what the dependency build's transfer holds, and only that.
    let ops = Ops::of(&lowered(&p));
    let sources = ops.local_sources_under(ops.find("[deps 4/4]"));
    assert_eq!(sources.len(), 1);
    assert_eq!(
        sources[0].attrs["local.includepattern"],
        r#"[".cargo/config.toml"]"#
    );
}

#[test]
fn the_spec_manifests_are_staged_too() {
    let ctx = example_with(&[("proto/api.proto", "syntax = \"proto3\";".into())]);
    let p = rust_plan(
        "language = \"rust\"\nmanifests = [\"proto/*.proto\", \"Cargo.lock\"]\n",
        &ctx,
    );
    assert_eq!(
        titles(&p, StageName::Deps)[0],
        "copy proto/api.proto to /app"
    );
    assert!(p.manifests.contains(&"proto/api.proto".to_string()));
    assert_eq!(
        plan_err("language = \"rust\"\nmanifests = [\"proto/*.x\"]\n", &ctx),
        "strata.toml:2:14: manifest pattern `proto/*.x` matches no file in the build context (paths are relative to the build context directory; check the name and that .dockerignore does not exclude it)"
    );
}

#[test]
fn musl_builds_a_static_binary_for_a_static_image() {
    let p = rust_plan(
        "language = \"rust\"\n[rust]\nmusl = true\n",
        &context(&example()),
    );
    let target = "--target \"$(uname -m)-unknown-linux-musl\"";
    let deps = titles(&p, StageName::Deps);
    assert_eq!(
        deps[0],
        "rustup target add \"$(uname -m)-unknown-linux-musl\""
    );
    assert!(
        deps[3].ends_with(&format!("{target} -p server --bin server")),
        "{}",
        deps[3]
    );
    let then = deps_build(&p);
    let (deps_build, clean) = then.split_once(" && ").unwrap();
    assert_eq!(
        deps_build, deps[3],
        "the same build completes the kept copy"
    );
    assert!(clean.contains(target), "{clean}");
    let build = titles(&p, StageName::Build);
    assert!(
        build[1].ends_with(
            "&& cp target/\"$(uname -m)-unknown-linux-musl\"/release/server /usr/local/bin/server"
        ),
        "{}",
        build[1]
    );
    assert_eq!(
        p.stage(StageName::Runtime).unwrap().from,
        StageFrom::Image(ImageRef::parse("gcr.io/distroless/static-debian12").unwrap())
    );
}

#[test]
fn an_install_override_runs_on_the_skeleton_with_the_caches() {
    let p = rust_plan(
        "language = \"rust\"\ninstall = \"cargo build --release --locked --all-targets\"\n",
        &context(&example()),
    );
    let deps = titles(&p, StageName::Deps);
    assert_eq!(
        deps,
        [
            "write dependency skeleton (6 files) to /app",
            "cargo build --release --locked --all-targets"
        ]
    );
    assert_eq!(run_step(&p, StageName::Deps, 1).caches.len(), 2);
    // No vendored sources then: later cargo calls may download, with the caches.
    let build = titles(&p, StageName::Build);
    assert_eq!(build[1], "cargo clean --release -p greeting -p server");
    assert_eq!(
        build[2],
        "cargo build --release --locked -p server --bin server && cp target/release/server /usr/local/bin/server"
    );
    assert_eq!(run_step(&p, StageName::Build, 2).caches.len(), 2);
}

#[test]
fn probing_follows_the_members_then_their_targets() {
    let s = spec(SPEC);
    let recipe = &Rust;
    let first = recipe.probe(&s, &ContextFiles::new(Vec::new()));
    assert_eq!(
        first,
        [
            "Cargo.toml",
            "Cargo.lock",
            ".cargo/config.toml",
            ".cargo/config",
            "rust-toolchain.toml",
            "rust-toolchain"
        ]
    );
    let root_only = context(&[(
        "Cargo.toml",
        include_str!("../../../examples/rust/Cargo.toml"),
    )]);
    let second = recipe.probe(&s, &root_only);
    assert_eq!(second[6..], ["crates/*/Cargo.toml"]);
    let third = recipe.probe(&s, &context(&example()));
    for p in [
        "crates/server/src/main.rs",
        "crates/greeting/src/bin/*.rs",
        "crates/greeting/build.rs",
    ] {
        assert!(third.contains(&p.to_string()), "{p}: {third:?}");
    }
    assert_eq!(
        recipe.files_to_read(
            &s,
            &[
                "Cargo.toml",
                "crates/a/Cargo.toml",
                "crates/a/src/main.rs",
                "Cargo.lock",
                "rust-toolchain"
            ]
        ),
        [
            "Cargo.toml",
            "crates/a/Cargo.toml",
            "Cargo.lock",
            "rust-toolchain"
        ]
    );
}
