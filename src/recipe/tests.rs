use std::collections::BTreeMap;

use super::*;
use crate::diag::SourceText;
use crate::plan::{ContextPurpose, CopyFrom, CopyStep, StageFrom, StageName, Step};
use crate::recipe::python::make_venv;

pub(crate) fn spec(text: &str) -> Spec {
    crate::spec::parse(SourceText::new("strata.toml", text), &BTreeMap::new()).expect("valid spec")
}

/// A context as the edge would fill it: every file listed, every file readable.
pub(crate) fn context(files: &[(&str, &str)]) -> ContextFiles {
    let mut ctx = ContextFiles::new(Vec::new());
    for (path, content) in files {
        ctx.add_content(*path, content.as_bytes().to_vec());
    }
    ctx
}

pub(crate) fn plan_err(spec_text: &str, files: &[(&str, &str)]) -> String {
    plan(&spec(spec_text), &context(files))
        .expect_err("the plan should be refused")
        .to_string()
}

pub(crate) fn run_commands(stage: &crate::plan::Stage) -> Vec<&str> {
    stage
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Run(r) => Some(r.command.as_str()),
            _ => None,
        })
        .collect()
}

const FASTAPI: &str = include_str!("../../examples/fastapi/strata.toml");

#[test]
fn python_install_sees_only_the_manifests() {
    let p = plan(
        &spec(FASTAPI),
        &context(&[("requirements.txt", "fastapi\n")]),
    )
    .unwrap();
    let deps = p.stage(StageName::Deps).unwrap();
    // The virtualenv comes first: it does not depend on the manifests, so it survives their edits.
    let Step::Run(venv) = &deps.steps[0] else {
        panic!("deps starts with the virtualenv")
    };
    assert_eq!(venv.command, make_venv("/opt/venv"));
    assert_eq!(venv.cwd, "/");
    let Step::Copy(copy) = &deps.steps[1] else {
        panic!("deps starts with a copy")
    };
    let CopyFrom::Context(sel) = &copy.from else {
        panic!("from the context")
    };
    assert_eq!(sel.include, ["requirements.txt"]);
    assert_eq!(sel.files, ["requirements.txt"]);
    assert_eq!(copy.dest, "/code");
    let Step::Run(install) = &deps.steps[2] else {
        panic!("then the install")
    };
    assert_eq!(
        install.command,
        "/opt/venv/bin/pip install -r requirements.txt"
    );
    assert_eq!(install.cwd, "/code");
    assert!(!install.command.contains("--no-cache-dir"));
    assert_eq!(install.caches[0].target, "/root/.cache/pip");
    assert_eq!(install.caches[0].id, "strata/pip");
    // The source comes after, and only app/.
    let build = p.stage(StageName::Build).unwrap();
    let Step::Copy(app) = &build.steps[0] else {
        panic!("build starts with the source copy")
    };
    let CopyFrom::Context(sel) = &app.from else {
        panic!()
    };
    assert_eq!(sel.include, ["app"]);
    assert_eq!(
        p.stage(StageName::Runtime).unwrap().from,
        StageFrom::Stage(StageName::Build)
    );
    assert_eq!(p.image.workdir, "/code");
    assert_eq!(p.image.user, "10001:10001");
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/python:3.12-slim"
    );
}

#[test]
fn a_missing_manifest_points_at_its_entry() {
    assert_eq!(
        plan_err(
            "language = \"python\"\nmanifests = [\"requirements.txt\", \"req/*.txt\"]\nrun = \"x\"\n",
            &[("requirements.txt", "")]
        ),
        "strata.toml:2:34: manifest pattern `req/*.txt` matches no file in the build context (paths are relative to the build context directory; check the name and that .dockerignore does not exclude it)"
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\nmanifests = [\"reqs.txt\"]\nrun = \"x\"\n",
            &[("requirements.txt", "")]
        ),
        "strata.toml:2:14: manifest `reqs.txt` does not exist in the build context (paths are relative to the build context directory; check the name and that .dockerignore does not exclude it)"
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\nrun = \"x\"\n",
            &[("poetry.lock", "")]
        ),
        "poetry.lock:1:1: poetry.lock has no pyproject.toml beside it: poetry needs both to install (add pyproject.toml to the build context (check .dockerignore), or remove poetry.lock if the project no longer uses poetry)"
    );
}

#[test]
fn requirement_lines_that_need_more_than_the_manifests_are_refused() {
    let e = plan_err(
        "language = \"python\"\nrun = \"x\"\n",
        &[("requirements.txt", "fastapi\n-r base.txt\n-e .\n")],
    );
    assert_eq!(
        e,
        "requirements.txt:2:1: `-r base.txt` needs base.txt, which is not staged for the install (add \"base.txt\" to `manifests`)\nrequirements.txt:3:1: `-e .` installs local source, which the dependency install does not see (remove the line and install the project after the source copy, e.g. `build = \"pip install --no-deps .\"`)"
    );
    // Staged includes and constraints work; a constraints file is not installed from.
    let p = plan(
        &spec("language = \"python\"\nmanifests = [\"requirements.txt\", \"base.txt\", \"constraints.txt\"]\nrun = \"x\"\n"),
        &context(&[
            ("requirements.txt", "-r base.txt\n-c constraints.txt\nflask # web\n"),
            ("base.txt", "six\n"),
            ("constraints.txt", "six==1.16.0\n"),
        ]),
    )
    .unwrap();
    assert_eq!(
        run_commands(p.stage(StageName::Deps).unwrap()),
        [
            &make_venv("/opt/venv"),
            "/opt/venv/bin/pip install -r base.txt -r requirements.txt"
        ]
    );
}

#[test]
fn vcs_and_url_requirements_are_left_to_pip() {
    // pip clones or downloads these itself: the install needs no source for them.
    let p = plan(
        &spec("language = \"python\"\nrun = \"x\"\n"),
        &context(&[(
            "requirements.txt",
            "-e git+https://user:TOKEN@github.com/org/lib.git#egg=lib\npkg @ git+https://github.com/org/pkg.git@v1\nhttps://files.example/w-1.0-py3-none-any.whl\n",
        )]),
    )
    .unwrap();
    assert_eq!(
        run_commands(p.stage(StageName::Deps).unwrap())[1],
        "/opt/venv/bin/pip install -r requirements.txt"
    );
}

#[test]
fn requirement_errors_never_show_credentials() {
    let e = plan_err(
        "language = \"python\"\nrun = \"x\"\n",
        &[(
            "requirements.txt",
            "--extra-index-url https://user:s3cret@pypi.example/simple -r missing.txt\n-i 'https://user:s3cret@pypi.example/simple\n./lib --config-settings=token=https://t:s3cret@h\n",
        )],
    );
    assert!(!e.contains("s3cret"), "{e}");
    assert_eq!(
        e.lines().next().unwrap(),
        "requirements.txt:1:1: `--extra-index-url https://***@pypi.example/simple -r missing.txt` needs missing.txt, which is not staged for the install (add \"missing.txt\" to `manifests`)"
    );
    assert_eq!(e.lines().count(), 3, "{e}");
}

#[test]
fn a_requirement_file_outside_the_context_is_named_as_such() {
    let e = plan_err(
        "language = \"python\"\nmanifests = [\"req/prod.txt\"]\nrun = \"x\"\n",
        &[(
            "req/prod.txt",
            "-r ../../shared/base.txt\n-c /etc/constraints.txt\n",
        )],
    );
    assert_eq!(
        e,
        "req/prod.txt:1:1: `-r ../../shared/base.txt` needs ../../shared/base.txt, which is outside the build context: BuildKit does not send it (move the file inside the build context and reference it from there)\nreq/prod.txt:2:1: `-c /etc/constraints.txt` needs /etc/constraints.txt, which is outside the build context: BuildKit does not send it (move the file inside the build context and reference it from there)"
    );
}

#[test]
fn continued_requirement_lines_are_read_whole() {
    let staged = "language = \"python\"\nmanifests = [\"requirements.txt\", \"base.txt\", \"constraints.txt\"]\nrun = \"x\"\n";
    let p = plan(
        &spec(staged),
        &context(&[
            (
                "requirements.txt",
                "-r \\\n  base.txt\n-c \\\nconstraints.txt\nrequests\\\n==2.31.0 \\\n    --hash=sha256:aa\n",
            ),
            ("base.txt", "six\n"),
            ("constraints.txt", "six==1.16.0\n"),
        ]),
    )
    .unwrap();
    assert_eq!(
        run_commands(p.stage(StageName::Deps).unwrap())[1],
        "/opt/venv/bin/pip install -r base.txt -r requirements.txt"
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\nrun = \"x\"\n",
            &[("requirements.txt", "six\n-r \\\n  base.txt\n")]
        ),
        "requirements.txt:2:1: `-r   base.txt` needs base.txt, which is not staged for the install (add \"base.txt\" to `manifests`)"
    );
}

#[test]
fn a_requirements_file_with_a_byte_order_mark_is_read_like_pip() {
    assert_eq!(
        plan_err(
            "language = \"python\"\nrun = \"x\"\n",
            &[("requirements.txt", "\u{feff}-r base.txt\n")]
        ),
        "requirements.txt:1:1: `-r base.txt` needs base.txt, which is not staged for the install (add \"base.txt\" to `manifests`)"
    );
}

#[test]
fn no_start_command_without_a_convention_is_an_error() {
    assert_eq!(
        plan_err("language = \"python\"\n", &[("requirements.txt", "six\n")]),
        "strata.toml:1:12: no start command: `run` is not set and no python convention applies (set `run`, e.g. `run = [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"80\"]`, add a Procfile with a `web:` line, or add a main.py)"
    );
    let p = plan(
        &spec("language = \"python\"\n"),
        &context(&[("requirements.txt", ""), ("main.py", "")]),
    )
    .unwrap();
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["python3".into(), "main.py".into()])
    );
}

#[test]
fn python_version_selects_the_default_image() {
    let ctx = context(&[("requirements.txt", ""), (".python-version", "3.11.9\n")]);
    let p = plan(&spec("language = \"python\"\nrun = \"x\"\n"), &ctx).unwrap();
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/python:3.11.9-slim"
    );
    let p = plan(
        &spec("language = \"python\"\nversion = \"3.13\"\nrun = \"x\"\n"),
        &ctx,
    )
    .unwrap();
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/python:3.13-slim"
    );
}

#[test]
fn nvmrc_lts_codenames_select_their_node_version() {
    let node = |nvmrc: &str| {
        plan(
            &spec("language = \"node\"\nrun = \"x\"\n"),
            &context(&[
                ("package.json", "{}"),
                ("package-lock.json", "{}"),
                (".nvmrc", nvmrc),
            ]),
        )
        .unwrap()
    };
    let p = node("lts/iron\n");
    assert_eq!(p.images()[0].to_string(), "docker.io/library/node:20-slim");
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    assert_eq!(
        node("v18.19.0\n").images()[0].to_string(),
        "docker.io/library/node:18.19.0-slim"
    );
    let p = node("lts/nonesuch\n");
    assert_eq!(p.images()[0].to_string(), "docker.io/library/node:22-slim");
    assert_eq!(p.notes.len(), 1);
    assert!(
        p.notes[0].starts_with(".nvmrc says `lts/nonesuch`") && p.notes[0].contains("`version`"),
        "{}",
        p.notes[0]
    );
}

#[test]
fn a_python_version_file_strata_cannot_follow_is_noted() {
    let files = [("requirements.txt", ""), (".python-version", "pypy3.10\n")];
    let p = plan(
        &spec("language = \"python\"\nrun = \"x\"\n"),
        &context(&files),
    )
    .unwrap();
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/python:3.12-slim"
    );
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert!(
        p.notes[0].contains("PyPy")
            && p.notes[0].contains("pypy:3.10-slim")
            && p.notes[0].contains("`version`"),
        "{}",
        p.notes[0]
    );
    assert!(
        p.render()
            .starts_with("note: .python-version says `pypy3.10`"),
        "{}",
        p.render()
    );
    // The spec's choice wins and leaves nothing to note.
    let p = plan(
        &spec("language = \"python\"\nversion = \"3.11\"\nrun = \"x\"\n"),
        &context(&files),
    )
    .unwrap();
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/python:3.11-slim"
    );
    assert!(p.notes.is_empty());
}

#[test]
fn a_separate_runtime_image_receives_the_venv_and_the_app() {
    let p = plan(
        &spec("language = \"python\"\nbase = \"python:3.12\"\nruntime = \"python:3.12-slim\"\nrun = \"x\"\n[packages]\nruntime = [\"libpq5\"]\n"),
        &context(&[("requirements.txt", "")]),
    )
    .unwrap();
    let rt = p.stage(StageName::Runtime).unwrap();
    assert_eq!(
        rt.from,
        StageFrom::Image(crate::reference::ImageRef::parse("python:3.12-slim").unwrap())
    );
    let copies: Vec<String> = rt.steps.iter().map(Step::title).collect();
    assert_eq!(copies.len(), 3);
    assert!(copies[0].contains("apt-get install -y --no-install-recommends libpq5"));
    assert_eq!(copies[1], "copy /opt/venv from build");
    assert_eq!(copies[2], "copy /app from build");
}

const EXPRESS_PACKAGE: &str = include_str!("../../examples/express/package.json");

#[test]
fn node_uses_npm_ci_with_the_lockfile_and_start_script() {
    let p = plan(
        &spec(include_str!("../../examples/express/strata.toml")),
        &context(&[
            ("package.json", EXPRESS_PACKAGE),
            ("package-lock.json", "{}"),
        ]),
    )
    .unwrap();
    assert_eq!(p.manifests, ["package-lock.json", "package.json"]);
    assert_eq!(
        run_commands(p.stage(StageName::Deps).unwrap()),
        ["npm ci --omit=dev --prefer-offline"]
    );
    assert_eq!(
        run_commands(p.stage(StageName::Build).unwrap()),
        Vec::<&str>::new()
    );
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["npm".into(), "start".into()])
    );
    assert_eq!(
        env_value(&p.image.runtime_env, "NODE_ENV"),
        Some("production")
    );
    assert_eq!(p.images()[0].to_string(), "docker.io/library/node:22-slim");
    let Step::Copy(app) = &p.stage(StageName::Build).unwrap().steps[0] else {
        panic!()
    };
    let CopyFrom::Context(sel) = &app.from else {
        panic!()
    };
    assert!(
        sel.exclude.contains(&"node_modules".to_string()),
        "host node_modules must never overwrite the install"
    );
}

#[test]
fn node_build_script_keeps_dev_dependencies_until_after_the_build() {
    let package =
        r#"{"scripts":{"build":"tsc","start":"node dist/index.js"},"engines":{"node":"^20.11"}}"#;
    let p = plan(
        &spec("language = \"node\"\n"),
        &context(&[("package.json", package), ("package-lock.json", "{}")]),
    )
    .unwrap();
    assert_eq!(
        run_commands(p.stage(StageName::Deps).unwrap()),
        ["npm ci --prefer-offline"]
    );
    assert_eq!(
        run_commands(p.stage(StageName::Build).unwrap()),
        ["npm run build", "npm prune --omit=dev --prefer-offline"]
    );
    assert_eq!(p.images()[0].to_string(), "docker.io/library/node:20-slim");
}

#[test]
fn the_language_names_a_registered_recipe() {
    let err = |text: &str| match plan(&spec(text), &context(&[])) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("`{text}` should be refused"),
    };
    assert_eq!(
        err("language = \"ruby\"\n"),
        "strata.toml:1:12: language `ruby` is not supported yet (supported languages: python, node, rust, go, java)"
    );
    assert_eq!(
        err("language = \"cobol\"\n"),
        "strata.toml:1:12: unknown language `cobol` (supported languages: python, node, rust, go, java)"
    );
    assert_eq!(
        err("language = \"pyhton\"\n"),
        "strata.toml:1:12: unknown language `pyhton` (did you mean `python`?)"
    );
}

fn env_value<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_package_json_with_a_byte_order_mark_is_read_like_npm() {
    let p = plan(
        &spec("language = \"node\"\n"),
        &context(&[
            (
                "package.json",
                "\u{feff}{\"scripts\":{\"start\":\"node a.js\"}}",
            ),
            ("package-lock.json", "{}"),
        ]),
    )
    .unwrap();
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["npm".into(), "start".into()])
    );
    // Positions are those an editor shows, which does not count the mark.
    assert_eq!(
        plan_err(
            "language = \"node\"\n",
            &[("package.json", "\u{feff}{\"name\": }")]
        ),
        "package.json:1:10: invalid JSON: expected value at line 1 column 10"
    );
}

#[test]
fn spec_overrides_win_over_conventions() {
    let p = plan(
        &spec("language = \"node\"\ninstall = \"npm install\"\nbuild = \"npm run compile\"\nrun = \"node out.js\"\n[env]\nNODE_ENV = \"staging\"\n[build_env]\nCI = \"1\"\n"),
        &context(&[("package.json", "{}")]),
    )
    .unwrap();
    assert_eq!(
        run_commands(p.stage(StageName::Deps).unwrap()),
        ["npm install"]
    );
    // With a custom install, the recipe's prune (which assumes its own install) is not added.
    assert_eq!(
        run_commands(p.stage(StageName::Build).unwrap()),
        ["npm run compile"]
    );
    assert_eq!(p.image.command, Command::Shell("node out.js".into()));
    assert_eq!(env_value(&p.image.env, "NODE_ENV"), Some("staging"));
    assert_eq!(env_value(&p.image.runtime_env, "NODE_ENV"), None);
    let Step::Run(install) = &p.stage(StageName::Deps).unwrap().steps[1] else {
        panic!()
    };
    assert_eq!(env_value(&install.env, "CI"), Some("1"));
}

#[test]
fn dockerignore_applies_to_every_context_copy() {
    let mut ctx = context(&[("requirements.txt", "")]);
    ctx.ignore = vec!["*.log".into(), ".git".into()];
    let p = plan(&spec(FASTAPI), &ctx).unwrap();
    let copies: Vec<_> = p
        .stages
        .iter()
        .flat_map(|stage| &stage.steps)
        .filter_map(|step| match step {
            Step::Copy(CopyStep {
                from: CopyFrom::Context(sel),
                ..
            }) => Some(sel),
            _ => None,
        })
        .collect();
    // Without this, a plan that copied nothing from the context would pass.
    let purposes: Vec<_> = copies.iter().map(|sel| sel.purpose).collect();
    assert_eq!(purposes, [ContextPurpose::Manifests, ContextPurpose::App]);
    for sel in copies {
        assert!(
            sel.exclude
                .starts_with(&["*.log".to_string(), ".git".to_string()]),
            "{:?} copy excludes {:?}",
            sel.purpose,
            sel.exclude
        );
    }
}

/// The include patterns of a local source op (`local.includepattern`, a JSON list).
pub(crate) fn include_patterns(source: &bollard_buildkit_proto::pb::SourceOp) -> Vec<String> {
    serde_json::from_str(
        source
            .attrs
            .get("local.includepattern")
            .map_or("[]", String::as_str),
    )
    .unwrap()
}

/// What BuildKit keys the step named like `step` on: its op (which covers the ops before it, the
/// local sources' include patterns among them) and the content of the files those patterns
/// transfer from `files`, sorted, each once.
pub(crate) fn step_key(
    p: &crate::plan::Plan,
    step: &str,
    files: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    let ops =
        crate::lower::tests::Ops::of(&super::worked_examples::lowered(p, "linux/amd64").definition);
    let op = ops.find(step).to_string();
    let ctx = context(files);
    let mut transferred: Vec<(String, String)> = ops
        .local_sources_under(&op)
        .into_iter()
        .flat_map(include_patterns)
        .flat_map(|pattern| {
            ctx.matching(&pattern)
                .into_iter()
                .map(|f| (f.to_string(), ctx.text(f).unwrap_or_default().to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    transferred.sort();
    transferred.dedup();
    (op, transferred)
}
