use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::pb;
use prost::Message;

use super::*;
use crate::llb::digest_of;
use crate::options::parse_options;
use crate::recipe::{
    self,
    tests::{context, spec},
};

/// The decoded ops of a definition, by digest, and the result digest.
pub(crate) struct Ops {
    pub(crate) ops: BTreeMap<String, pb::Op>,
    meta: BTreeMap<String, pb::OpMetadata>,
    pub(crate) result: String,
}

impl Ops {
    pub(crate) fn of(def: &pb::Definition) -> Ops {
        let mut ops = BTreeMap::new();
        for bytes in &def.def[..def.def.len() - 1] {
            ops.insert(digest_of(bytes), pb::Op::decode(bytes.as_slice()).unwrap());
        }
        let terminal = pb::Op::decode(def.def.last().unwrap().as_slice()).unwrap();
        Ops {
            ops,
            meta: def.metadata.clone(),
            result: terminal.inputs[0].digest.clone(),
        }
    }

    pub(crate) fn name(&self, digest: &str) -> &str {
        self.meta[digest]
            .description
            .get("llb.customname")
            .map_or("", String::as_str)
    }

    pub(crate) fn find(&self, name_part: &str) -> &str {
        self.ops
            .keys()
            .find(|d| self.name(d).contains(name_part))
            .unwrap_or_else(|| panic!("no op named like {name_part:?}"))
    }

    /// Every op `digest` depends on, itself included.
    pub(crate) fn closure(&self, digest: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![digest.to_string()];
        while let Some(d) = stack.pop() {
            if seen.insert(d.clone()) {
                stack.extend(self.ops[&d].inputs.iter().map(|i| i.digest.clone()));
            }
        }
        seen
    }

    pub(crate) fn local_sources_under(&self, digest: &str) -> Vec<&pb::SourceOp> {
        self.closure(digest)
            .iter()
            .filter_map(|d| match &self.ops[d].op {
                Some(pb::op::Op::Source(s)) if s.identifier.starts_with("local://") => Some(s),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn exec(&self, digest: &str) -> &pb::ExecOp {
        match &self.ops[digest].op {
            Some(pb::op::Op::Exec(e)) => e,
            other => panic!("not an exec: {other:?}"),
        }
    }
}

const FASTAPI: &str = include_str!("../../examples/fastapi/strata.toml");

fn base_config() -> ImageConfig {
    ImageConfig::parse(
        br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin","LANG=C.UTF-8"],"Cmd":["python3"],"Entrypoint":["/entry.sh"],"Labels":{"base":"yes"}},"history":[{"created_by":"base layer"}],"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#,
    )
    .unwrap()
}

/// Every image of the plan, resolved to the same digest and config.
fn every_image(
    plan: &Plan,
    digest: Option<String>,
    config: ImageConfig,
) -> BTreeMap<ImageRef, ResolvedImage> {
    plan.images()
        .into_iter()
        .map(|r| {
            let resolved = ResolvedImage {
                replacement: None,
                digest: digest.clone(),
                config: config.clone(),
            };
            (r.clone(), resolved)
        })
        .collect()
}

fn lower_with(
    spec_text: &str,
    files: &[(&str, &str)],
    opts: &[(&str, &str)],
    caps: &Caps,
) -> (Lowered, Plan) {
    let spec = spec(spec_text);
    let plan = recipe::plan(&spec, &context(files)).unwrap();
    let options = parse_options(
        &opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap();
    let images = every_image(&plan, None, base_config());
    let platform = options
        .platforms
        .first()
        .cloned()
        .unwrap_or_else(Platform::linux_amd64);
    let lowered = lower(&LowerInput {
        plan: &plan,
        images: &images,
        options: &options,
        platform: &platform,
        caps,
        context: &Context::Local {
            name: "context".into(),
            session: Some("sess".into()),
        },
        spec: Some(&spec.source),
    })
    .unwrap();
    (lowered, plan)
}

fn fastapi(opts: &[(&str, &str)], caps: &Caps) -> Lowered {
    lower_with(FASTAPI, &[("requirements.txt", "fastapi\n")], opts, caps).0
}

#[test]
fn the_install_step_depends_on_a_manifests_only_context() {
    let ops = Ops::of(&fastapi(&[], &Caps::current()).definition);
    let install = ops.find("pip install");
    assert_eq!(
        ops.name(install),
        "[deps 3/3] /opt/venv/bin/pip install -r requirements.txt"
    );
    let locals = ops.local_sources_under(install);
    assert_eq!(locals.len(), 1, "the install sees one local source");
    assert_eq!(
        locals[0].attrs["local.includepattern"],
        r#"["requirements.txt"]"#
    );
    assert_eq!(locals[0].attrs["local.session"], "sess");
    // The pip cache is mounted, not baked in.
    let exec = ops.exec(install);
    let cache = exec
        .mounts
        .iter()
        .find(|m| m.mount_type == pb::MountType::Cache as i32)
        .unwrap();
    assert_eq!(cache.dest, "/root/.cache/pip");
    assert_eq!(cache.cache_opt.as_ref().unwrap().id, "strata/pip");
    assert_eq!(exec.mounts[0].dest, "/");
    let meta = exec.meta.as_ref().unwrap();
    assert_eq!(meta.cwd, "/code");
    assert!(
        meta.env
            .contains(&"PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin".to_string()),
        "{:?}",
        meta.env
    );
    assert!(
        meta.env
            .contains(&"PIP_DISABLE_PIP_VERSION_CHECK=1".to_string())
    );
}

#[test]
fn install_and_build_steps_are_offered_the_ssh_agent() {
    let ops = Ops::of(&fastapi(&[], &Caps::baseline()).definition);
    let exec = ops.exec(ops.find("pip install"));
    let ssh = exec
        .mounts
        .iter()
        .find(|m| m.mount_type == pb::MountType::Ssh as i32)
        .expect("an ssh mount");
    assert_eq!(ssh.dest, "/run/buildkit/ssh_agent.0");
    assert!(
        ssh.ssh_opt.as_ref().unwrap().optional,
        "builds without --ssh must not fail"
    );
    let env = &exec.meta.as_ref().unwrap().env;
    assert!(env.contains(&"SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0".to_string()));
}

#[test]
fn the_source_is_copied_after_the_install() {
    let ops = Ops::of(&fastapi(&[], &Caps::current()).definition);
    let install = ops.find("pip install");
    // The virtualenv is made before (and without) the manifests: a dependency edit keeps it.
    let venv =
        ops.find("[deps 1/3] py=$(command -v python3) && \"$py\" -m venv --without-pip /opt/venv");
    assert!(ops.local_sources_under(venv).is_empty());
    assert!(ops.closure(install).contains(venv));
    let app_copy = ops.find("[build 1/1] copy app to /code");
    assert_eq!(ops.result, app_copy, "the runtime image is the build stage");
    let under_app = ops.closure(app_copy);
    assert!(under_app.contains(install));
    let app_source = ops.local_sources_under(app_copy);
    let app_attrs: Vec<&BTreeMap<String, String>> = app_source.iter().map(|s| &s.attrs).collect();
    assert!(
        app_attrs
            .iter()
            .any(|a| a["local.includepattern"] == r#"["app"]"#)
    );
    // Editing app/ changes only the app source's content, which the install does not depend on.
    assert!(
        !ops.closure(install)
            .iter()
            .any(|d| ops.name(d) == "[internal] load build context")
    );
}

#[test]
fn lowering_is_deterministic() {
    let a = fastapi(&[], &Caps::current()).definition.encode_to_vec();
    let b = fastapi(&[], &Caps::current()).definition.encode_to_vec();
    assert_eq!(a, b);
}

#[test]
fn target_stops_at_the_stage() {
    let ops = Ops::of(&fastapi(&[("target", "deps")], &Caps::current()).definition);
    assert_eq!(ops.result, ops.find("pip install"));
    assert!(ops.ops.keys().all(|d| !ops.name(d).contains("copy app")));
}

#[test]
fn no_cache_marks_every_op() {
    let lowered = fastapi(&[("no-cache", "")], &Caps::current());
    assert!(lowered.definition.metadata.values().all(|m| m.ignore_cache));
    let lowered = fastapi(&[("no-cache", "build")], &Caps::current());
    let ops = Ops::of(&lowered.definition);
    assert!(ops.meta[ops.find("copy app")].ignore_cache);
    assert!(!ops.meta[ops.find("pip install")].ignore_cache);
}

#[test]
fn newer_llb_features_follow_the_daemon_caps() {
    let spec_text =
        "language = \"python\"\nrun = \"x\"\n[[secret]]\nid = \"pypi\"\nenv = \"PIP_INDEX_URL\"\n";
    let files = [("requirements.txt", "six\n")];
    let (modern, _) = lower_with(spec_text, &files, &[], &Caps::current());
    let ops = Ops::of(&modern.definition);
    let exec = ops.exec(ops.find("pip install"));
    assert!(exec.meta.as_ref().unwrap().remove_mount_stubs_recursive);
    assert_eq!(exec.secretenv[0].name, "PIP_INDEX_URL");

    // BuildKit v0.8: no secret env, no stub removal; the secret arrives as a file instead.
    let (old, _) = lower_with(spec_text, &files, &[], &Caps::baseline());
    let ops = Ops::of(&old.definition);
    let exec = ops.exec(ops.find("pip install"));
    assert!(!exec.meta.as_ref().unwrap().remove_mount_stubs_recursive);
    assert!(exec.secretenv.is_empty());
    let secret = exec
        .mounts
        .iter()
        .find(|m| m.mount_type == pb::MountType::Secret as i32)
        .unwrap();
    assert_eq!(secret.dest, "/run/strata-secrets/pypi");
    assert!(secret.secret_opt.as_ref().unwrap().optional);
    assert!(exec.meta.as_ref().unwrap().args[2].starts_with(
        "if [ -f /run/strata-secrets/pypi ]; then PIP_INDEX_URL=\"$(cat /run/strata-secrets/pypi)\""
    ));
}

#[test]
fn the_image_config_inherits_the_base_and_sets_what_the_spec_says() {
    let lowered = fastapi(
        &[
            ("label:org.example.team", "web"),
            ("platform", "linux/arm64"),
        ],
        &Caps::current(),
    );
    let c = &lowered.image_config;
    assert_eq!((c.os.as_str(), c.architecture.as_str()), ("linux", "arm64"));
    let cfg = &c.config;
    assert_eq!(cfg.working_dir.as_deref(), Some("/code"));
    assert_eq!(cfg.user.as_deref(), Some("10001:10001"));
    assert_eq!(
        cfg.entrypoint, None,
        "the spec's command replaces the base entrypoint"
    );
    assert_eq!(cfg.cmd.as_ref().unwrap()[0], "uvicorn");
    assert!(cfg.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
    let env = cfg.env.as_ref().unwrap();
    assert!(env.contains(&"LANG=C.UTF-8".to_string()), "inherited");
    assert!(env.contains(&"PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin".to_string()));
    assert!(
        !env.iter().any(|e| e.starts_with("PIP_")),
        "build-only env stays out of the image"
    );
    let labels = cfg.labels.as_ref().unwrap();
    assert_eq!(labels["base"], "yes");
    assert_eq!(labels["org.example.team"], "web");
    // Base history is kept and our layers are added after it.
    assert_eq!(c.history[0].created_by.as_deref(), Some("base layer"));
    assert!(c.history.len() > 1);
    assert!(c.rootfs.is_none(), "the exporter writes rootfs");
    // Every exec and image source carries the target platform.
    let ops = Ops::of(&lowered.definition);
    assert_eq!(
        ops.ops[ops.find("pip install")]
            .platform
            .as_ref()
            .unwrap()
            .architecture,
        "arm64"
    );
}

#[test]
fn a_pinned_digest_is_used_when_the_daemon_returns_one() {
    let spec = spec(FASTAPI);
    let plan = recipe::plan(&spec, &context(&[("requirements.txt", "")])).unwrap();
    let digest = format!("sha256:{}", "b".repeat(64));
    let images = every_image(&plan, Some(digest.clone()), ImageConfig::default());
    let lowered = lower(&LowerInput {
        plan: &plan,
        images: &images,
        options: &BuildOptions::default(),
        platform: &Platform::linux_amd64(),
        caps: &Caps::current(),
        context: &Context::Local {
            name: "context".into(),
            session: None,
        },
        spec: None,
    })
    .unwrap();
    let ops = Ops::of(&lowered.definition);
    let from = ops.find("[base] FROM");
    let Some(pb::op::Op::Source(src)) = &ops.ops[from].op else {
        panic!()
    };
    assert_eq!(
        src.identifier,
        format!("docker-image://docker.io/library/python:3.12-slim@{digest}")
    );
    // Without a base config, PATH still gets Docker's default.
    let env = lowered.image_config.config.env.unwrap();
    assert!(
        env.contains(
            &"PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                .to_string()
        )
    );
}

#[test]
fn a_failing_step_points_back_at_the_spec() {
    let lowered = fastapi(&[], &Caps::current());
    let source = lowered.definition.source.as_ref().unwrap();
    assert_eq!(source.infos[0].filename, "strata.toml");
    let ops = Ops::of(&lowered.definition);
    let install = ops.find("pip install");
    let range = source.locations[install].locations[0].ranges[0];
    // The install comes from the recipe for `language = "python"` (line 3 of the example).
    assert_eq!(range.start.unwrap().line, 3);
}

#[test]
fn an_input_context_is_copied_path_by_path() {
    let spec = spec(FASTAPI);
    let plan = recipe::plan(&spec, &context(&[("requirements.txt", "")])).unwrap();
    let mut g = crate::llb::Graph::new();
    let local = g.source(
        "local://context",
        BTreeMap::new(),
        None,
        crate::llb::Vertex::named("input ctx"),
    );
    let input_def = g.definition(&local, Vec::new());
    let images = BTreeMap::new();
    let lowered = lower(&LowerInput {
        plan: &plan,
        images: &images,
        options: &BuildOptions::default(),
        platform: &Platform::linux_amd64(),
        caps: &Caps::baseline(),
        context: &Context::Input(input_def),
        spec: None,
    })
    .unwrap();
    let ops = Ops::of(&lowered.definition);
    let copy = ops.find("[deps 2/3]");
    let Some(pb::op::Op::File(f)) = &ops.ops[copy].op else {
        panic!()
    };
    let Some(pb::file_action::Action::Copy(c)) = &f.actions[0].action else {
        panic!()
    };
    assert_eq!(
        (c.src.as_str(), c.dest.as_str()),
        ("/requirements.txt", "/code/requirements.txt")
    );
    assert!(
        c.exclude_patterns.is_empty(),
        "no patterns on BuildKit v0.8"
    );
}

fn image_env(lowered: &Lowered) -> Vec<String> {
    lowered.image_config.config.env.clone().unwrap_or_default()
}

#[test]
fn a_spec_path_extends_the_recipe_path_in_the_image() {
    let spec = format!("{FASTAPI}\n[env]\nPATH = \"/x:${{PATH}}\"\n");
    let (lowered, _) = lower_with(&spec, &[("requirements.txt", "")], &[], &Caps::current());
    assert!(
        image_env(&lowered)
            .contains(&"PATH=/x:/opt/venv/bin:/usr/local/bin:/usr/bin:/bin".to_string()),
        "the virtualenv stays on PATH, after the spec's own entry: {:?}",
        image_env(&lowered)
    );
}

#[test]
fn env_values_expand_in_file_order() {
    let spec = format!("{FASTAPI}\n[env]\nZ = \"1\"\nA = \"${{Z}}/x\"\n");
    let (lowered, _) = lower_with(&spec, &[("requirements.txt", "")], &[], &Caps::current());
    let env = image_env(&lowered);
    assert!(env.contains(&"A=1/x".to_string()), "{env:?}");
    // Steps see the same environment as the image.
    let ops = Ops::of(&lowered.definition);
    let install = ops.exec(ops.find("pip install"));
    assert!(
        install
            .meta
            .as_ref()
            .unwrap()
            .env
            .contains(&"A=1/x".to_string())
    );
}

#[test]
fn credentials_in_commands_reach_the_step_and_nothing_else() {
    const SECRET: &str = "s3cret";
    let spec_text = "language = \"python\"\nrun = \"x\"\ninstall = \"pip install --index-url https://user:s3cret@pypi.example/simple -r requirements.txt\"\n[build_env]\nPIP_EXTRA_INDEX_URL = \"https://token:s3cret@extra.example/simple\"\n";
    let (lowered, plan) = lower_with(
        spec_text,
        &[("requirements.txt", "six\n")],
        &[],
        &Caps::current(),
    );

    let rendered = plan.render();
    assert!(!rendered.contains(SECRET), "{rendered}");
    assert!(rendered.contains("pip install --index-url https://***@pypi.example/simple"));
    assert!(rendered.contains("PIP_EXTRA_INDEX_URL=https://***@extra.example/simple"));
    for step in plan.stages.iter().flat_map(|s| &s.steps) {
        assert!(!step.title().contains(SECRET), "{}", step.title());
    }
    for h in &lowered.image_config.history {
        let created_by = h.created_by.as_deref().unwrap_or_default();
        assert!(!created_by.contains(SECRET), "{created_by}");
    }
    let ops = Ops::of(&lowered.definition);
    for d in ops.ops.keys() {
        assert!(!ops.name(d).contains(SECRET), "{}", ops.name(d));
    }
    // The spec attached for error snippets shows the line without the secret.
    let source = lowered.definition.source.as_ref().unwrap();
    let data = String::from_utf8(source.infos[0].data.clone()).unwrap();
    assert!(!data.contains(SECRET), "{data}");
    assert_eq!(data.lines().count(), spec_text.lines().count());

    // What runs is the command as written: it must still work.
    let meta = ops.exec(ops.find("pip install")).meta.clone().unwrap();
    assert!(
        meta.args
            .iter()
            .any(|a| a.contains("--index-url https://user:s3cret@pypi.example/simple")),
        "{:?}",
        meta.args
    );
    assert!(
        meta.env
            .contains(&"PIP_EXTRA_INDEX_URL=https://token:s3cret@extra.example/simple".into())
    );
}

#[test]
fn source_date_epoch_is_the_only_time_in_the_config() {
    let with = fastapi(
        &[("build-arg:SOURCE_DATE_EPOCH", "1700000000")],
        &Caps::current(),
    );
    let c = &with.image_config;
    assert_eq!(c.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    let ours: Vec<&History> = c
        .history
        .iter()
        .filter(|h| h.comment.as_deref() == Some("strata.v1"))
        .collect();
    assert!(!ours.is_empty());
    assert!(
        ours.iter()
            .all(|h| h.created.as_deref() == Some("2023-11-14T22:13:20Z"))
    );
    // The steps see it (Python then writes hash-based .pyc files); the image does not.
    let ops = Ops::of(&with.definition);
    for step in ["-m venv --without-pip", "pip install"] {
        let env = &ops.exec(ops.find(step)).meta.as_ref().unwrap().env;
        assert!(
            env.contains(&"SOURCE_DATE_EPOCH=1700000000".to_string()),
            "{step}: {env:?}"
        );
    }
    assert!(
        !image_env(&with)
            .iter()
            .any(|e| e.starts_with("SOURCE_DATE_EPOCH"))
    );
    let without = fastapi(&[], &Caps::current());
    let ops = Ops::of(&without.definition);
    let env = &ops.exec(ops.find("pip install")).meta.as_ref().unwrap().env;
    assert!(!env.iter().any(|e| e.starts_with("SOURCE_DATE_EPOCH")));
    // Without it, no time of ours at all: the same spec gives the same config bytes.
    let a = fastapi(&[], &Caps::current()).image_config.to_json();
    let b = fastapi(&[], &Caps::current()).image_config.to_json();
    assert_eq!(a, b);
    assert!(!String::from_utf8(a).unwrap().contains("\"created\""));
    let err = parse_options(
        &[(
            "build-arg:SOURCE_DATE_EPOCH".to_string(),
            "yesterday".to_string(),
        )]
        .into_iter()
        .collect(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a number of seconds"));
}

#[test]
fn a_build_of_several_platforms_names_each_step_with_its_platform() {
    let one = fastapi(&[("platform", "linux/386")], &Caps::current());
    let several = fastapi(&[("platform", "linux/386,linux/amd64")], &Caps::current());
    let (one_ops, several_ops) = (Ops::of(&one.definition), Ops::of(&several.definition));
    assert_eq!(
        one.definition.def, several.definition.def,
        "names are metadata: the same ops, so the same cache keys"
    );
    let install = several_ops.find("pip install");
    assert_eq!(
        several_ops.name(install),
        "[linux/386 deps 3/3] /opt/venv/bin/pip install -r requirements.txt"
    );
    assert_eq!(
        one_ops.name(install),
        "[deps 3/3] /opt/venv/bin/pip install -r requirements.txt"
    );
    assert!(
        several_ops
            .name(several_ops.find("FROM"))
            .starts_with("[linux/386 base] FROM docker.io/library/python:3.12-slim")
    );
}

const UV: &str = include_str!("../../examples/uv/strata.toml");
const UV_PYPROJECT: &str = include_str!("../../examples/uv/pyproject.toml");
const BUN: &str = include_str!("../../examples/bun/strata.toml");
const BUN_PACKAGE: &str = include_str!("../../examples/bun/package.json");

/// Lowers `spec_text` for `platform` with its base images resolved as the daemon would, and
/// `tools`, (official image, replacement, digest), resolved as the gateway does when a named
/// context replaces a tool's official image.
fn lower_tools(
    spec_text: &str,
    files: &[(&str, &str)],
    tools: &[(&str, &str, Option<&str>)],
    platform: &Platform,
) -> (Lowered, Plan) {
    let spec = spec(spec_text);
    let plan = recipe::plan(&spec, &context(files)).unwrap();
    let mut images = every_image(&plan, None, base_config());
    for (official, replacement, digest) in tools {
        images.insert(
            ImageRef::parse(official).unwrap(),
            ResolvedImage {
                replacement: Some(ImageRef::parse(replacement).unwrap()),
                digest: digest.map(String::from),
                config: ImageConfig::default(),
            },
        );
    }
    let lowered = lower(&LowerInput {
        plan: &plan,
        images: &images,
        options: &BuildOptions::default(),
        platform,
        caps: &Caps::current(),
        context: &Context::Local {
            name: "context".into(),
            session: None,
        },
        spec: Some(&spec.source),
    })
    .unwrap();
    (lowered, plan)
}

fn uv_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("pyproject.toml", UV_PYPROJECT),
        ("uv.lock", "version = 1\n"),
    ]
}

fn file_op(ops: &Ops, digest: &str) -> Vec<pb::file_action::Action> {
    match &ops.ops[digest].op {
        Some(pb::op::Op::File(f)) => f.actions.iter().filter_map(|a| a.action.clone()).collect(),
        other => panic!("not a file op: {other:?}"),
    }
}

fn source_identifiers(ops: &Ops) -> Vec<String> {
    ops.ops
        .values()
        .filter_map(|op| match &op.op {
            Some(pb::op::Op::Source(s)) => Some(s.identifier.clone()),
            _ => None,
        })
        .collect()
}

/// Without a named context for uv's official image, uv comes from PyPI in a step of its own, and
/// the image is never part of the build (it is not reachable where only PyPI is).
#[test]
fn without_its_image_named_the_tool_is_installed_from_its_registry() {
    let (lowered, plan) = lower_tools(UV, &uv_files(), &[], &Platform::linux_amd64());
    assert_eq!(
        plan.tool_images()
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>(),
        ["ghcr.io/astral-sh/uv:0.13.9"]
    );
    let ops = Ops::of(&lowered.definition);
    let tool = ops.find("[deps 2/4]");
    assert!(ops.name(tool).contains("pip install uv==0.13.9"));
    let script = ops.exec(tool).meta.as_ref().unwrap().args.join(" ");
    assert!(script.contains("pip install uv==0.13.9"), "{script}");
    assert!(
        source_identifiers(&ops)
            .iter()
            .all(|s| !s.contains("astral-sh")),
        "{:?}",
        source_identifiers(&ops)
    );
}

/// With `--build-context ghcr.io/astral-sh/uv:0.13.9=docker-image://…`, uv's step copies /uv and
/// /uvx from that image (pinned to its digest) to where the install puts them, runs nothing, and
/// the install (on PATH through /opt/strata/uv/bin) comes after it.
#[test]
fn a_named_tool_image_replaces_the_install_with_a_copy_from_it() {
    let digest = format!("sha256:{}", "d".repeat(64));
    let (lowered, _) = lower_tools(
        UV,
        &uv_files(),
        &[(
            "ghcr.io/astral-sh/uv:0.13.9",
            "mirror.example/astral-sh/uv:0.13.9",
            Some(&digest),
        )],
        &Platform::linux_amd64(),
    );
    let ops = Ops::of(&lowered.definition);
    assert!(
        ops.ops
            .keys()
            .all(|d| !ops.name(d).contains("pip install uv")),
        "no install of uv"
    );
    let copy =
        ops.find("[deps 2/4] copy /uv /uvx from ghcr.io/astral-sh/uv:0.13.9 to /opt/strata/uv/bin");
    let actions = file_op(&ops, copy);
    let copies: Vec<(String, String)> = actions
        .iter()
        .map(|a| match a {
            pb::file_action::Action::Copy(c) => (c.src.clone(), c.dest.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        copies,
        [
            ("/uv".to_string(), "/opt/strata/uv/bin/uv".to_string()),
            ("/uvx".to_string(), "/opt/strata/uv/bin/uvx".to_string())
        ]
    );
    // Its inputs: the layer below (the virtualenv) and the replacement image, pinned.
    let inputs = &ops.ops[copy].inputs;
    assert_eq!(inputs.len(), 2);
    assert!(
        ops.name(&inputs[0].digest)
            .contains("-m venv --without-pip /opt/venv")
    );
    let Some(pb::op::Op::Source(image)) = &ops.ops[&inputs[1].digest].op else {
        panic!("the copy's second input is the image")
    };
    assert_eq!(
        image.identifier,
        format!("docker-image://mirror.example/astral-sh/uv:0.13.9@{digest}")
    );
    assert_eq!(
        ops.ops[&inputs[1].digest]
            .platform
            .as_ref()
            .unwrap()
            .architecture,
        "amd64"
    );
    let install = ops.find("uv sync --locked --no-install-project");
    assert!(ops.closure(install).contains(copy));
    let history: Vec<String> = lowered
        .image_config
        .history
        .iter()
        .filter_map(|h| h.created_by.clone())
        .collect();
    assert!(
        history
            .iter()
            .any(|h| h.contains("copy /uv /uvx from ghcr.io/astral-sh/uv:0.13.9")),
        "{history:?}"
    );
}

/// The copy is keyed on what the image holds: the same image at another digest is another step,
/// and the spec's tool version names another image (the named context is keyed on it).
#[test]
fn the_copy_follows_the_image_content_and_the_pinned_version() {
    let copy_of = |digest: &str, spec_text: &str, official: &str| {
        let (lowered, _) = lower_tools(
            spec_text,
            &uv_files(),
            &[(official, "local/uv:1", Some(digest))],
            &Platform::linux_amd64(),
        );
        let ops = Ops::of(&lowered.definition);
        let copy = ops.find("copy /uv /uvx from").to_string();
        (copy, lowered)
    };
    let a = format!("sha256:{}", "a".repeat(64));
    let b = format!("sha256:{}", "b".repeat(64));
    let (first, _) = copy_of(&a, UV, "ghcr.io/astral-sh/uv:0.13.9");
    let (again, _) = copy_of(&a, UV, "ghcr.io/astral-sh/uv:0.13.9");
    let (other, _) = copy_of(&b, UV, "ghcr.io/astral-sh/uv:0.13.9");
    assert_eq!(first, again, "deterministic");
    assert_ne!(first, other, "another image content, another step");
    let pinned = format!("{UV}\n[python]\nuv = \"0.5.11\"\n");
    let (lowered, _) = lower_tools(
        &pinned,
        &uv_files(),
        &[("ghcr.io/astral-sh/uv:0.13.9", "local/uv:1", Some(&a))],
        &Platform::linux_amd64(),
    );
    let ops = Ops::of(&lowered.definition);
    ops.find("pip install uv==0.5.11");
    let (_, lowered) = copy_of(&a, &pinned, "ghcr.io/astral-sh/uv:0.5.11");
    let ops = Ops::of(&lowered.definition);
    assert!(
        ops.ops
            .keys()
            .all(|d| !ops.name(d).contains("pip install uv")),
        "the named context for 0.5.11 replaces the install of 0.5.11"
    );
}

/// Bun's official image has `bun` at /usr/local/bin and `bunx` as a link to it: bun is copied to
/// /opt/bun/bin, where npm's install puts it, and bunx is a script running `bun x`, not a second
/// copy of the binary. The image is taken for the build's platform.
#[test]
fn bun_from_its_image_keeps_bunx_without_a_second_binary() {
    let arm = Platform::parse("linux/arm64").unwrap();
    let (lowered, _) = lower_tools(
        BUN,
        &[("package.json", BUN_PACKAGE), ("bun.lock", "{}\n")],
        &[("oven/bun:1.4.5", "local/bun:1.4.5", None)],
        &arm,
    );
    let ops = Ops::of(&lowered.definition);
    assert!(
        ops.ops
            .keys()
            .all(|d| !ops.name(d).contains("npm install -g")),
        "no install of bun"
    );
    let copy = ops.find("[deps 1/3] copy /usr/local/bin/bun from oven/bun:1.4.5 to /opt/bun/bin");
    let actions = file_op(&ops, copy);
    assert_eq!(actions.len(), 2, "{actions:?}");
    let pb::file_action::Action::Copy(bun) = &actions[0] else {
        panic!("{actions:?}")
    };
    assert_eq!(
        (bun.src.as_str(), bun.dest.as_str()),
        ("/usr/local/bin/bun", "/opt/bun/bin/bun")
    );
    let pb::file_action::Action::Mkfile(bunx) = &actions[1] else {
        panic!("{actions:?}")
    };
    assert_eq!(bunx.path, "/opt/bun/bin/bunx");
    assert_eq!(bunx.mode, 0o755);
    assert_eq!(
        String::from_utf8_lossy(&bunx.data),
        "#!/bin/sh\nexec /opt/bun/bin/bun x \"$@\"\n"
    );
    let image = &ops.ops[copy].inputs[1].digest;
    assert_eq!(
        ops.ops[image].platform.as_ref().unwrap().architecture,
        "arm64"
    );
}
