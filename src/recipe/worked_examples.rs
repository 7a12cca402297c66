//! The Plan's hardest cases, written as a recipe for them would write its conventions, then laid
//! out and lowered: what ARCHITECTURE.md describes on paper, checked. No recipe here is real;
//! each shows one concept the next ecosystems need.

use bollard_buildkit_proto::pb;

use super::tests::spec;
use super::{
    Artefact, Conventions, DepStep, Runtime, assemble::lay_out, build_cache, cache, env_list,
};
use crate::caps::Caps;
use crate::lower::tests::Ops;
use crate::lower::{Context, LowerInput, Lowered, lower};
use crate::options::BuildOptions;
use crate::plan::{
    CopyFrom, GeneratedFile, KeepFromCache, Plan, Sharing, StageFrom, StageName, Step,
};
use crate::platform::Platform;
use crate::reference::ImageRef;

fn image(r: &str) -> ImageRef {
    ImageRef::parse(r).unwrap()
}

fn stage(patterns: &[&str]) -> DepStep {
    let list: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
    DepStep::Stage {
        patterns: list.clone(),
        files: list,
    }
}

/// Conventions with nothing in them but a build image and a start command.
fn bare(package_manager: &str, build_image: &str) -> Conventions {
    Conventions {
        package_manager: package_manager.into(),
        default_image: image(build_image),
        manifests: Vec::new(),
        manifest_patterns: Vec::new(),
        setup: Vec::new(),
        deps: Vec::new(),
        caches: Vec::new(),
        env: Vec::new(),
        runtime_env: Vec::new(),
        build_env: Vec::new(),
        after_source: Vec::new(),
        build: None,
        after_build: None,
        run: Some(crate::spec::Command::Exec(vec!["/app/server".into()])),
        run_help: String::new(),
        runtime: Runtime {
            image: None,
            artefacts: Vec::new(),
            copy_workdir: true,
        },
        app_exclude: Vec::new(),
        notes: Vec::new(),
    }
}

pub(crate) fn lowered(plan: &Plan, platform: &str) -> Lowered {
    let spec = spec("language = \"python\"\n");
    lower(&LowerInput {
        plan,
        images: &Default::default(),
        options: &BuildOptions::default(),
        platform: &Platform::parse(platform).unwrap(),
        caps: &Caps::current(),
        context: &Context::Local {
            name: "context".into(),
            session: None,
        },
        spec: Some(&spec.source),
    })
    .unwrap()
}

fn include_patterns(source: &pb::SourceOp) -> &str {
    source
        .attrs
        .get("local.includepattern")
        .map_or("", String::as_str)
}

/// pnpm: `pnpm fetch` needs only the lockfile, so its layer survives a package.json edit that
/// leaves the lockfile alone; the tool arrives before anything is staged, keyed on its version.
#[test]
fn several_dependency_steps_each_keyed_by_its_own_inputs() {
    let mut conv = bare("pnpm", "node:22-slim");
    conv.setup = vec!["npm install -g pnpm@9.12.0".into()];
    conv.deps = vec![
        stage(&["pnpm-lock.yaml"]),
        DepStep::Install("pnpm fetch --prod".into()),
        stage(&["package.json", "packages/*/package.json"]),
        DepStep::Install("pnpm install --offline --frozen-lockfile --prod".into()),
    ];
    conv.caches = vec![cache(
        "/pnpm/store",
        &spec("language = \"node\"\n"),
        "pnpm",
        Sharing::Shared,
    )];
    let plan = lay_out(&spec("language = \"node\"\n"), &[], "node", &conv).unwrap();
    let ops = Ops::of(&lowered(&plan, "linux/amd64").definition);

    let tool = ops.find("npm install -g pnpm");
    assert!(
        ops.local_sources_under(tool).is_empty(),
        "the tool step depends on no context file"
    );
    let fetch = ops.find("pnpm fetch");
    let fetch_inputs: Vec<&str> = ops
        .local_sources_under(fetch)
        .into_iter()
        .map(include_patterns)
        .collect();
    assert_eq!(fetch_inputs, [r#"["pnpm-lock.yaml"]"#]);
    let install = ops.find("pnpm install --offline");
    let mut install_inputs: Vec<&str> = ops
        .local_sources_under(install)
        .into_iter()
        .map(include_patterns)
        .collect();
    install_inputs.sort();
    assert_eq!(
        install_inputs,
        [
            r#"["package.json","packages/*/package.json"]"#,
            r#"["pnpm-lock.yaml"]"#
        ]
    );
    assert!(
        ops.closure(install).contains(fetch),
        "install runs on fetch's result"
    );
}

/// uv, poetry, composer: the project itself is installed after the source copy whether or not
/// there is a build step, and a spec `build` runs after it.
#[test]
fn steps_after_the_source_copy_run_with_or_without_a_build() {
    let mut conv = bare("uv", "python:3.13-slim");
    conv.after_source = vec!["uv sync --locked --offline --no-dev".into()];
    let without = lay_out(&spec("language = \"python\"\n"), &[], "python", &conv).unwrap();
    let titles = |p: &Plan| -> Vec<String> {
        p.stage(StageName::Build)
            .unwrap()
            .steps
            .iter()
            .map(Step::title)
            .collect()
    };
    assert_eq!(
        titles(&without),
        ["copy . to /app", "uv sync --locked --offline --no-dev"]
    );
    let with = lay_out(
        &spec("language = \"python\"\nbuild = \"python -m compileall .\"\n"),
        &[],
        "python",
        &conv,
    )
    .unwrap();
    assert_eq!(
        titles(&with),
        [
            "copy . to /app",
            "uv sync --locked --offline --no-dev",
            "python -m compileall ."
        ]
    );
}

/// A cargo-chef-style skeleton the frontend generates (normalized manifests, stub sources), written
/// as file ops over a staged file; and a build-output cache per project and platform with the
/// binary copied out of it in the step. (The Rust recipe writes its lockfile into the skeleton
/// too, and compiles into a build-output cache the deps layer keeps: the next example.)
#[test]
fn generated_files_and_per_platform_build_caches() {
    let s = spec("language = \"rust\"\n");
    let mut conv = bare("cargo", "rust:1.85-slim");
    conv.deps = vec![
        stage(&["Cargo.lock"]),
        DepStep::Generate {
            what: "dependency skeleton".into(),
            dir: None,
            files: vec![
                GeneratedFile {
                    path: "Cargo.toml".into(),
                    contents: b"[package]\nname = \"app\"\nversion = \"0.0.0\"\n".to_vec(),
                    executable: false,
                },
                GeneratedFile {
                    path: "src/main.rs".into(),
                    contents: b"fn main() {}\n".to_vec(),
                    executable: false,
                },
            ],
        },
        DepStep::Install("cargo build --release --locked".into()),
    ];
    conv.caches = vec![
        cache(
            "/usr/local/cargo/registry",
            &s,
            "cargo-registry",
            Sharing::Locked,
        ),
        build_cache("/app/target", &s, "cargo-target", "app", Sharing::Locked),
    ];
    conv.build = Some("cargo build --release --locked".into());
    let plan = lay_out(&s, &[], "rust", &conv).unwrap();
    let deps = plan.stage(StageName::Deps).unwrap();
    let Step::Write(skeleton) = &deps.steps[1] else {
        panic!("the skeleton is written after the lockfile is staged")
    };
    assert_eq!(skeleton.dest, "/app");
    assert!(
        plan.render().contains("src/main.rs"),
        "strata plan lists the files it writes"
    );

    let arm = lowered(&plan, "linux/arm64");
    let ops = Ops::of(&arm.definition);
    let write = ops.find("write dependency skeleton");
    let Some(pb::op::Op::File(file)) = &ops.ops[write].op else {
        panic!("the skeleton is a file op")
    };
    let made: Vec<(&str, &[u8])> = file
        .actions
        .iter()
        .filter_map(|a| match &a.action {
            Some(pb::file_action::Action::Mkfile(f)) => Some((f.path.as_str(), &f.data[..])),
            _ => None,
        })
        .collect();
    assert_eq!(made[1], ("/app/src/main.rs", &b"fn main() {}\n"[..]));
    assert_eq!(
        file.actions.last().unwrap().output,
        0,
        "one output, the last"
    );
    assert!(
        ops.local_sources_under(write)
            .iter()
            .all(|s| include_patterns(s) == r#"["Cargo.lock"]"#),
        "nothing but the lockfile is transferred for the dependency build"
    );

    let cache_ids = |lowered: &Lowered| -> Vec<String> {
        let ops = Ops::of(&lowered.definition);
        let build = ops.exec(ops.find("[deps 3/3]"));
        build
            .mounts
            .iter()
            .filter_map(|m| m.cache_opt.as_ref().map(|c| c.id.clone()))
            .collect()
    };
    assert_eq!(
        cache_ids(&arm),
        [
            "strata/cargo-registry",
            "strata/cargo-target/app/linux-arm64"
        ],
        "downloads are shared; build outputs are per project and platform"
    );
    assert_eq!(
        cache_ids(&lowered(&plan, "linux/amd64"))[1],
        "strata/cargo-target/app/linux-amd64"
    );
}

/// Compiled dependencies: a dependency step compiles into a build-output cache (so an edit of the
/// dependencies recompiles only what changed), and the layer keeps the cache's content at the
/// path it was compiled at, copied by a second exec that mounts the same cache elsewhere; the
/// build after the source copy runs without the mount and reads it from the layer, and so does a
/// builder that only has the layers (`--cache-from`).
#[test]
fn a_build_output_cache_whose_content_the_dependency_layer_keeps() {
    let s = spec("language = \"rust\"\n");
    let mut conv = bare("make", "gcc:14");
    conv.deps = vec![
        stage(&["deps.lock"]),
        DepStep::Compile {
            command: "make deps".into(),
            output: build_cache("/app/out", &s, "make-out", "demo", Sharing::Locked),
            then: Some("make deps && rm -rf /app/out/stubs".into()),
        },
    ];
    conv.build = Some("make".into());
    let plan = lay_out(&s, &[], "c", &conv).unwrap();
    let rendered = plan.render();
    assert!(
        rendered.contains("cache /app/out (id strata/make-out/demo/<platform>, locked), kept in the layer")
            && rendered.contains("then, with that cache at /run/strata-layer-cache: rm -rf /app/out && mkdir -p /app/out && cp -a /run/strata-layer-cache/. /app/out/ && make deps && rm -rf /app/out/stubs"),
        "strata plan shows the cache and the copy:\n{rendered}"
    );

    let lowered = lowered(&plan, "linux/arm64");
    let ops = Ops::of(&lowered.definition);
    let compile = ops.find("[deps 2/2] make deps");
    let keep = ops.find("[deps 2/2] keep /app/out in the layer");
    let cache_mounts = |digest: &str| -> Vec<(String, String, i32)> {
        ops.exec(digest)
            .mounts
            .iter()
            .filter_map(|m| {
                let c = m.cache_opt.as_ref()?;
                Some((m.dest.clone(), c.id.clone(), c.sharing))
            })
            .collect()
    };
    let id = "strata/make-out/demo/linux-arm64".to_string();
    let locked = pb::CacheSharingOpt::Locked as i32;
    assert_eq!(
        cache_mounts(compile),
        [("/app/out".into(), id.clone(), locked)]
    );
    assert_eq!(
        cache_mounts(keep),
        [("/run/strata-layer-cache".into(), id, locked)],
        "the same cache, away from the path the layer receives"
    );
    assert!(
        ops.exec(keep).mounts.iter().all(|m| m.dest != "/app/out"),
        "the copy's destination is the layer's own directory"
    );
    assert_eq!(
        ops.ops[keep].inputs[0].digest, compile,
        "the copy runs on the compile's result"
    );
    let args = &ops.exec(keep).meta.as_ref().unwrap().args;
    assert_eq!(
        args.last().unwrap(),
        "rm -rf /app/out && mkdir -p /app/out && cp -a /run/strata-layer-cache/. /app/out/ && make deps && rm -rf /app/out/stubs"
    );

    // The build reads the layer: no mount, on top of the copy.
    let build = ops.find("[build 2/2] make");
    assert!(cache_mounts(build).is_empty());
    assert!(ops.closure(build).contains(keep));
    // One history entry per exec, both named.
    let history: Vec<&str> = lowered
        .image_config
        .history
        .iter()
        .filter_map(|h| h.created_by.as_deref())
        .collect();
    assert!(
        history.contains(&"strata: make deps")
            && history
                .iter()
                .any(|h| h.starts_with("strata: keep /app/out in the layer: ")),
        "{history:?}"
    );
}

#[test]
fn a_result_is_copied_out_of_a_cache_mount_within_the_step() {
    let step = crate::plan::RunStep {
        command: "cargo build --release".into(),
        layer_cache: None,
        keep: vec![KeepFromCache {
            from: "/app/target/release/app".into(),
            to: "/out/app".into(),
        }],
        cwd: "/app".into(),
        env: env_list(&[]),
        caches: Vec::new(),
        secrets: Vec::new(),
        ssh_agent: false,
        origin: None,
    };
    assert_eq!(
        step.script(),
        "cargo build --release && mkdir -p /out && cp -a /app/target/release/app /out/app"
    );
}

/// Go: the image is a static-binary runtime that receives the binary alone, not the toolchain
/// or the source.
#[test]
fn a_runtime_image_that_receives_only_named_artefacts() {
    let mut conv = bare("go", "golang:1.24");
    conv.runtime = Runtime {
        image: Some(image("gcr.io/distroless/static-debian12:nonroot")),
        artefacts: vec![Artefact {
            from: "/out/server".into(),
            to: "/app/server".into(),
        }],
        copy_workdir: false,
    };
    let plan = lay_out(&spec("language = \"go\"\n"), &[], "go", &conv).unwrap();
    let runtime = plan.stage(StageName::Runtime).unwrap();
    assert_eq!(
        runtime.from,
        StageFrom::Image(image("gcr.io/distroless/static-debian12:nonroot"))
    );
    let copies: Vec<(&CopyFrom, &str)> = runtime
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Copy(c) => Some((&c.from, c.dest.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        copies,
        [(
            &CopyFrom::Stage {
                stage: StageName::Build,
                path: "/out/server".into()
            },
            "/app/server"
        )]
    );
    // The spec's `runtime` still wins, and naming the build image keeps one stage.
    let same = lay_out(
        &spec("language = \"go\"\nruntime = \"golang:1.24\"\n"),
        &[],
        "go",
        &conv,
    )
    .unwrap();
    assert_eq!(
        same.stage(StageName::Runtime).unwrap().from,
        StageFrom::Stage(StageName::Build)
    );
}

/// cargo: the build after the source copy reads the sources of every locked package again, so a
/// download cache mounted there could be what it reads them from, and could be empty. The fetch
/// step copies what the build needs out of the caches into the layer; the caches are mounted on
/// that step alone, and every later step runs without them.
#[test]
fn a_fetch_step_is_the_only_one_with_the_download_caches() {
    let s = spec("language = \"rust\"\n");
    let mut conv = bare("cargo", "rust:1-slim-bookworm");
    conv.deps = vec![
        stage(&["Cargo.lock"]),
        DepStep::Fetch("cargo vendor --locked /opt/vendor > /opt/vendor.toml".into()),
        DepStep::Install("cargo build --release --offline --config /opt/vendor.toml".into()),
    ];
    conv.caches = vec![cache(
        "/usr/local/cargo/registry",
        &s,
        "cargo-registry",
        Sharing::Locked,
    )];
    conv.after_source = vec!["cargo clean --release -p app".into()];
    conv.build = Some("cargo build --release --offline --config /opt/vendor.toml".into());
    let plan = lay_out(&s, &[], "rust", &conv).unwrap();
    let ops = Ops::of(&lowered(&plan, "linux/amd64").definition);
    let cache_ids = |name: &str| -> Vec<String> {
        ops.exec(ops.find(name))
            .mounts
            .iter()
            .filter_map(|m| m.cache_opt.as_ref().map(|c| c.id.clone()))
            .collect()
    };
    assert_eq!(cache_ids("cargo vendor"), ["strata/cargo-registry"]);
    for step in ["[deps 3/3]", "[build 2/3]", "[build 3/3]"] {
        assert!(cache_ids(step).is_empty(), "{step} runs without the caches");
    }
    // Without a fetch step, every install and build step has them, as pip and npm need.
    conv.deps[1] = DepStep::Install("cargo fetch --locked".into());
    let plan = lay_out(&s, &[], "rust", &conv).unwrap();
    let ops = Ops::of(&lowered(&plan, "linux/amd64").definition);
    for step in ["[deps 2/3]", "[deps 3/3]", "[build 3/3]"] {
        let mounts = &ops.exec(ops.find(step)).mounts;
        assert!(
            mounts.iter().any(|m| m.cache_opt.is_some()),
            "{step} has the caches"
        );
    }
}

/// The spec's `install` replaces the recipe's install steps, not the files it generated: a
/// skeleton is what an install from the manifests alone runs on.
#[test]
fn an_install_override_keeps_the_generated_files() {
    let mut conv = bare("cargo", "rust:1-slim-bookworm");
    conv.manifest_patterns = vec!["rust-toolchain.toml".into()];
    conv.deps = vec![
        stage(&["rust-toolchain.toml"]),
        DepStep::Generate {
            what: "dependency skeleton".into(),
            dir: None,
            files: vec![GeneratedFile {
                path: "src/main.rs".into(),
                contents: b"fn main() {}\n".to_vec(),
                executable: false,
            }],
        },
        DepStep::Fetch("cargo vendor".into()),
        DepStep::Install("cargo build --release".into()),
    ];
    conv.caches = vec![cache(
        "/usr/local/cargo/registry",
        &spec("language = \"rust\"\n"),
        "cargo-registry",
        Sharing::Locked,
    )];
    let s = spec("language = \"rust\"\ninstall = \"cargo build --release --all-targets\"\n");
    let plan = lay_out(&s, &[], "rust", &conv).unwrap();
    let deps = plan.stage(StageName::Deps).unwrap();
    let titles: Vec<String> = deps.steps.iter().map(Step::title).collect();
    assert_eq!(
        titles,
        [
            "copy rust-toolchain.toml to /app",
            "write dependency skeleton (1 files) to /app",
            "cargo build --release --all-targets"
        ]
    );
    let Step::Run(own) = &deps.steps[2] else {
        panic!("the spec's install")
    };
    assert_eq!(
        own.caches.len(),
        1,
        "the spec's install downloads: it has the caches"
    );
}
