//! The Python tools: detection, each tool's plan (setup, staged files, install, caches,
//! environment, steps after the source copy and after a build) and every refusal.

use bollard_buildkit_proto::pb;

use super::super::tests::{context, spec};
use super::super::{Recipe, plan};
use super::{Python, make_venv};
use crate::caps::Caps;
use crate::lower::tests::Ops;
use crate::lower::{Context, LowerInput, lower};
use crate::options::BuildOptions;
use crate::plan::{CopyFrom, Plan, RunStep, Sharing, StageName, Step, ToolStep};
use crate::platform::Platform;
use crate::spec::Command;

const RUN: &str = "language = \"python\"\nrun = \"x\"\n";

const UV_PYPROJECT: &str = include_str!("../../../examples/uv/pyproject.toml");
const POETRY_PYPROJECT: &str = include_str!("../../../examples/poetry/pyproject.toml");
const PDM_PYPROJECT: &str = include_str!("../../../examples/pdm/pyproject.toml");
const PIPFILE: &str = include_str!("../../../examples/pipenv/Pipfile");
const PIPFILE_LOCK: &str = include_str!("../../../examples/pipenv/Pipfile.lock");

fn plan_of(spec_text: &str, files: &[(&str, &str)]) -> Plan {
    plan(&spec(spec_text), &context(files)).unwrap_or_else(|e| panic!("{e}"))
}

fn plan_err(spec_text: &str, files: &[(&str, &str)]) -> String {
    match plan(&spec(spec_text), &context(files)) {
        Ok(p) => panic!("the plan should be refused:\n{}", p.render()),
        Err(e) => e.to_string(),
    }
}

fn runs(p: &Plan, stage: StageName) -> Vec<&RunStep> {
    p.stage(stage)
        .unwrap()
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Run(r) | Step::Tool(ToolStep { install: r, .. }) => Some(r),
            _ => None,
        })
        .collect()
}

fn commands(p: &Plan, stage: StageName) -> Vec<&str> {
    runs(p, stage).iter().map(|r| r.command.as_str()).collect()
}

/// The deps stage as (kind, text): `run <command>` or `copy <files>` with the include patterns.
fn deps(p: &Plan) -> Vec<String> {
    p.stage(StageName::Deps)
        .unwrap()
        .steps
        .iter()
        .map(|s| match s {
            Step::Run(r) => format!("run {}", r.command),
            Step::Copy(c) => match &c.from {
                CopyFrom::Context(sel) => format!(
                    "copy {} (include {})",
                    sel.files.join(" "),
                    sel.include.join(" ")
                ),
                other => panic!("{other:?}"),
            },
            Step::Write(w) => format!("write {}", w.what),
            Step::Tool(t) => format!(
                "run {} | or copy {} from {} to {}",
                t.install.command,
                t.image.files.join(" "),
                t.image.image,
                t.image.dest
            ),
        })
        .collect()
}

fn env<'a>(r: &'a RunStep, key: &str) -> Option<&'a str> {
    r.env
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The install step: the last run step of the deps stage.
fn install(p: &Plan) -> &RunStep {
    runs(p, StageName::Deps).last().copied().unwrap()
}

fn uv_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("pyproject.toml", UV_PYPROJECT),
        ("uv.lock", "version = 1\n"),
        ("app/main.py", ""),
    ]
}

#[test]
fn uv_installs_from_pyproject_and_uv_lock_alone() {
    let p = plan_of(RUN, &uv_files());
    assert_eq!(p.package_manager, "uv");
    assert_eq!(p.manifests, ["pyproject.toml", "uv.lock"]);
    assert_eq!(
        deps(&p),
        [
            &format!("run {}", make_venv("/opt/venv")),
            &format!(
                "run {} && /opt/strata/uv/bin/pip install uv==0.13.9 | or copy /uv /uvx from ghcr.io/astral-sh/uv:0.13.9 to /opt/strata/uv/bin",
                make_venv("/opt/strata/uv")
            ),
            "copy pyproject.toml uv.lock (include pyproject.toml uv.lock)",
            "run uv sync --locked --no-install-project --no-dev",
        ]
    );
    let setup = runs(&p, StageName::Deps)[1];
    assert_eq!(setup.cwd, "/", "the tool does not depend on the workdir");
    assert!(setup.caches.is_empty());
    let i = install(&p);
    assert_eq!(i.cwd, "/app");
    assert_eq!(i.caches.len(), 1);
    assert_eq!(i.caches[0].target, "/root/.cache/uv");
    assert_eq!(i.caches[0].id, "strata/uv");
    assert_eq!(i.caches[0].sharing, Sharing::Shared);
    for (k, v) in [
        ("UV_PROJECT_ENVIRONMENT", "/opt/venv"),
        ("UV_LINK_MODE", "copy"),
        ("UV_PYTHON_DOWNLOADS", "never"),
        ("UV_COMPILE_BYTECODE", "1"),
        ("UV_CACHE_DIR", "/root/.cache/uv"),
        ("PATH", "/opt/strata/uv/bin:$PATH"),
    ] {
        assert_eq!(env(i, k), Some(v), "{k}");
    }
    // A virtual project (no build system): nothing to install after the source copy.
    assert_eq!(commands(&p, StageName::Build), Vec::<&str>::new());
    // The image knows nothing of the tool.
    assert!(p.image.env.iter().all(|(k, _)| !k.starts_with("UV_")));
    assert_eq!(
        p.image
            .env
            .iter()
            .find(|(k, _)| k == "VIRTUAL_ENV")
            .unwrap()
            .1,
        "/opt/venv"
    );
}

#[test]
fn uv_stages_its_config_and_python_version_when_present() {
    let mut files = uv_files();
    files.extend([
        ("uv.toml", "native-tls = true\n"),
        (".python-version", "3.11\n"),
    ]);
    let p = plan_of(RUN, &files);
    assert_eq!(
        p.manifests,
        [".python-version", "pyproject.toml", "uv.lock", "uv.toml"]
    );
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/python:3.11-slim"
    );
}

#[test]
fn a_uv_package_is_installed_after_the_source_copy() {
    let pyproject = format!(
        "{UV_PYPROJECT}\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n"
    );
    let p = plan_of(
        RUN,
        &[("pyproject.toml", &pyproject), ("uv.lock", "version = 1\n")],
    );
    assert_eq!(
        install(&p).command,
        "uv sync --locked --no-install-project --no-dev"
    );
    assert_eq!(
        commands(&p, StageName::Build),
        ["uv sync --locked --no-dev --no-editable"]
    );
    let after = runs(&p, StageName::Build)[0];
    assert_eq!(after.caches[0].id, "strata/uv", "with uv's cache");
    // `tool.uv.package = false` wins over the build system.
    let virtual_ = pyproject.replace(
        "[dependency-groups]",
        "[tool.uv]\npackage = false\n\n[dependency-groups]",
    );
    let p = plan_of(
        RUN,
        &[("pyproject.toml", &virtual_), ("uv.lock", "version = 1\n")],
    );
    assert_eq!(commands(&p, StageName::Build), Vec::<&str>::new());
}

#[test]
fn with_a_build_step_dev_dependencies_are_installed_then_removed() {
    let build = "language = \"python\"\nrun = \"x\"\nbuild = \"pytest\"\n";
    let p = plan_of(build, &uv_files());
    assert_eq!(install(&p).command, "uv sync --locked --no-install-project");
    assert_eq!(
        commands(&p, StageName::Build),
        ["pytest", "uv sync --locked --no-dev --no-install-project"]
    );

    let p = plan_of(
        build,
        &[("pyproject.toml", POETRY_PYPROJECT), ("poetry.lock", "")],
    );
    assert_eq!(
        install(&p).command,
        "poetry install --no-root --no-directory --compile"
    );
    assert_eq!(
        commands(&p, StageName::Build),
        [
            "poetry install --only-root --compile",
            "pytest",
            "poetry sync --only main --compile"
        ]
    );

    let p = plan_of(
        build,
        &[("pyproject.toml", PDM_PYPROJECT), ("pdm.lock", "")],
    );
    assert_eq!(install(&p).command, "pdm install --check --no-self");
    assert_eq!(
        commands(&p, StageName::Build),
        ["pytest", "pdm sync --prod --only-keep --no-self"]
    );

    // Pipenv: the packages only [dev-packages] brings, read from Pipfile.lock.
    let p = plan_of(
        build,
        &[("Pipfile", PIPFILE), ("Pipfile.lock", PIPFILE_LOCK)],
    );
    assert_eq!(install(&p).command, "pipenv install --deploy --dev");
    assert_eq!(
        commands(&p, StageName::Build),
        [
            "pytest",
            "/opt/venv/bin/pip uninstall -y iniconfig packaging pluggy pygments pytest"
        ]
    );
    // The spec's own install replaces the recipe's, and with it the clean-up that assumes it.
    let p = plan_of(
        "language = \"python\"\nrun = \"x\"\nbuild = \"pytest\"\ninstall = \"uv sync --frozen\"\n",
        &uv_files(),
    );
    assert_eq!(install(&p).command, "uv sync --frozen");
    assert_eq!(commands(&p, StageName::Build), ["pytest"]);
    assert_eq!(
        env(install(&p), "PATH"),
        Some("/opt/strata/uv/bin:$PATH"),
        "the spec's install finds the tool"
    );
}

#[test]
fn uv_as_a_faster_pip_on_requirements_files() {
    // constraints.txt is not a default manifest: the check that `-c` files are staged applies.
    let e = plan_err(
        "language = \"python\"\npackage_manager = \"uv\"\nrun = \"x\"\n",
        &[("requirements.txt", "-c constraints.txt\n")],
    );
    assert!(
        e.starts_with("requirements.txt:1:1: `-c constraints.txt` needs constraints.txt"),
        "{e}"
    );
    let p = plan_of(
        "language = \"python\"\npackage_manager = \"uv\"\nrun = \"x\"\n",
        &[("requirements.txt", "fastapi\n")],
    );
    assert_eq!(
        deps(&p),
        [
            &format!("run {}", make_venv("/opt/venv")),
            &format!(
                "run {} && /opt/strata/uv/bin/pip install uv==0.13.9 | or copy /uv /uvx from ghcr.io/astral-sh/uv:0.13.9 to /opt/strata/uv/bin",
                make_venv("/opt/strata/uv")
            ),
            "copy requirements.txt (include requirements.txt)",
            "run uv pip install -r requirements.txt",
        ]
    );
    assert_eq!(install(&p).caches[0].id, "strata/uv");
    assert_eq!(
        env(install(&p), "VIRTUAL_ENV"),
        None,
        "the image's, inherited"
    );
    assert!(
        p.image
            .env
            .contains(&("VIRTUAL_ENV".into(), "/opt/venv".into()))
    );
}

#[test]
fn poetry_installs_main_dependencies_into_the_virtualenv() {
    let p = plan_of(
        RUN,
        &[
            ("pyproject.toml", POETRY_PYPROJECT),
            ("poetry.lock", ""),
            ("poetry.toml", "[virtualenvs]\nin-project = true\n"),
        ],
    );
    assert_eq!(
        deps(&p),
        [
            &format!("run {}", make_venv("/opt/venv")),
            &format!(
                "run {} && /opt/strata/poetry/bin/pip install poetry==2.5.1",
                make_venv("/opt/strata/poetry")
            ),
            "copy poetry.lock poetry.toml pyproject.toml (include pyproject.toml poetry.lock poetry.toml)",
            "run poetry install --no-root --no-directory --only main --compile",
        ]
    );
    let i = install(&p);
    assert_eq!(i.caches[0].target, "/root/.cache/pypoetry");
    assert_eq!(i.caches[0].id, "strata/poetry");
    assert_eq!(i.caches[0].sharing, Sharing::Locked);
    assert_eq!(env(i, "POETRY_VIRTUALENVS_CREATE"), Some("false"));
    assert_eq!(env(i, "POETRY_CACHE_DIR"), Some("/root/.cache/pypoetry"));
    // The example is a package (`packages = [{ include = "app" }]`): installed after the copy.
    assert_eq!(
        commands(&p, StageName::Build),
        ["poetry install --only-root --compile"]
    );
    let apps = POETRY_PYPROJECT.replace("[tool.poetry]\n", "[tool.poetry]\npackage-mode = false\n");
    let p = plan_of(RUN, &[("pyproject.toml", &apps), ("poetry.lock", "")]);
    assert_eq!(commands(&p, StageName::Build), Vec::<&str>::new());
}

#[test]
fn pipenv_installs_the_lock_with_deploy() {
    let p = plan_of(RUN, &[("Pipfile", PIPFILE), ("Pipfile.lock", PIPFILE_LOCK)]);
    assert_eq!(
        deps(&p),
        [
            &format!("run {}", make_venv("/opt/venv")),
            &format!(
                "run {} && /opt/strata/pipenv/bin/pip install pipenv==2026.10.3",
                make_venv("/opt/strata/pipenv")
            ),
            "copy Pipfile Pipfile.lock (include Pipfile Pipfile.lock)",
            "run pipenv install --deploy",
        ]
    );
    let i = install(&p);
    assert_eq!(i.caches[0].target, "/root/.cache/pipenv");
    assert_eq!(i.caches[0].sharing, Sharing::Shared);
    assert_eq!(env(i, "PIPENV_CACHE_DIR"), Some("/root/.cache/pipenv"));
    assert_eq!(
        env(i, "PIPENV_IGNORE_VIRTUALENVS"),
        None,
        "pipenv must use the active virtualenv"
    );
    assert_eq!(commands(&p, StageName::Build), Vec::<&str>::new());
}

#[test]
fn pdm_checks_the_lockfile_and_installs_production_dependencies() {
    let p = plan_of(RUN, &[("pyproject.toml", PDM_PYPROJECT), ("pdm.lock", "")]);
    assert_eq!(
        deps(&p),
        [
            &format!("run {}", make_venv("/opt/venv")),
            &format!(
                "run {} && /opt/strata/pdm/bin/pip install pdm==2.29.4 'hishel<2'",
                make_venv("/opt/strata/pdm")
            ),
            "copy pdm.lock pyproject.toml (include pyproject.toml pdm.lock)",
            "run pdm install --check --prod --no-self",
        ]
    );
    let i = install(&p);
    assert_eq!(i.caches[0].target, "/root/.cache/pdm");
    assert_eq!(i.caches[0].sharing, Sharing::Locked);
    assert_eq!(env(i, "PDM_CACHE_DIR"), Some("/root/.cache/pdm"));
    assert_eq!(commands(&p, StageName::Build), Vec::<&str>::new());
    let Step::Copy(app) = &p.stage(StageName::Build).unwrap().steps[0] else {
        panic!()
    };
    let CopyFrom::Context(sel) = &app.from else {
        panic!()
    };
    assert_eq!(sel.exclude, [".venv", ".pdm-python", "__pypackages__"]);
    // A distribution is installed after the copy.
    let dist = PDM_PYPROJECT.replace("distribution = false", "distribution = true");
    let p = plan_of(RUN, &[("pyproject.toml", &dist), ("pdm.lock", "")]);
    assert_eq!(
        commands(&p, StageName::Build),
        ["pdm sync --prod --no-editable"]
    );
}

#[test]
fn the_lockfile_chooses_the_tool() {
    let tool = |files: &[(&str, &str)]| plan_of(RUN, files).package_manager;
    assert_eq!(tool(&[("requirements.txt", "")]), "pip");
    assert_eq!(tool(&uv_files()), "uv");
    assert_eq!(
        tool(&[("pyproject.toml", POETRY_PYPROJECT), ("poetry.lock", "")]),
        "poetry"
    );
    assert_eq!(
        tool(&[("Pipfile", PIPFILE), ("Pipfile.lock", PIPFILE_LOCK)]),
        "pipenv"
    );
    assert_eq!(
        tool(&[("pyproject.toml", PDM_PYPROJECT), ("pdm.lock", "")]),
        "pdm"
    );
    // A pyproject.toml for tool settings alone does not take over from requirements.txt.
    assert_eq!(
        tool(&[
            ("requirements.txt", ""),
            (
                "pyproject.toml",
                "[tool.ruff]\nline-length = 100\n[tool.uv]\n"
            )
        ]),
        "pip"
    );
    // A lockfile wins over a requirements.txt (often an export), which is noted.
    let mut files = uv_files();
    files.push(("requirements.txt", ""));
    let p = plan_of(RUN, &files);
    assert_eq!(p.package_manager, "uv");
    assert_eq!(
        p.notes,
        [
            "requirements.txt is not used: uv.lock selects uv; set `package_manager = \"pip\"` to install from requirements.txt instead"
        ]
    );
    // The spec's package_manager wins over every file.
    let p = plan_of(
        "language = \"python\"\npackage_manager = \"pip\"\nrun = \"x\"\n",
        &files,
    );
    assert_eq!(p.package_manager, "pip");
    assert!(p.notes.is_empty());
    // Listed manifests are what the choice is made from.
    let p = plan_of(
        "language = \"python\"\nmanifests = [\"requirements.txt\"]\nrun = \"x\"\n",
        &files,
    );
    assert_eq!(p.package_manager, "pip");
    let p = plan_of(
        "language = \"python\"\npackage_manager = \"uv\"\nmanifests = [\"requirements.txt\"]\nrun = \"x\"\n",
        &files,
    );
    assert_eq!(install(&p).command, "uv pip install -r requirements.txt");
    // A Pipfile without its lockfile does not take over from requirements.txt.
    let p = plan_of(RUN, &[("requirements.txt", ""), ("Pipfile", PIPFILE)]);
    assert_eq!(p.package_manager, "pip");
    assert_eq!(
        p.notes,
        [
            "Pipfile is not used: it has no Pipfile.lock, and pip installs requirements.txt; run `pipenv lock` to install with pipenv"
        ]
    );
}

#[test]
fn a_bare_pyproject_is_sniffed_for_its_tool() {
    assert_eq!(
        plan_err(RUN, &[("pyproject.toml", POETRY_PYPROJECT)]),
        "pyproject.toml:8:7: pyproject.toml has no poetry.lock beside it: without a lockfile the install would resolve the dependencies anew on every build, which is not reproducible (run `poetry lock` and add poetry.lock to the build context)"
    );
    assert_eq!(
        plan_err(
            RUN,
            &[(
                "pyproject.toml",
                "[project]\nname = \"x\"\n\n[tool.uv]\ndev-dependencies = []\n"
            )]
        ),
        "pyproject.toml:4:7: pyproject.toml has no uv.lock beside it: without a lockfile the install would resolve the dependencies anew on every build, which is not reproducible (run `uv lock` and add uv.lock to the build context)"
    );
    assert!(
        plan_err(RUN, &[("pyproject.toml", PDM_PYPROJECT)])
            .starts_with("pyproject.toml:11:7: pyproject.toml has no pdm.lock beside it")
    );
    assert_eq!(
        plan_err(RUN, &[("pyproject.toml", "[project]\nname = \"x\"\n")]),
        "pyproject.toml:1:1: pyproject.toml has no lockfile beside it: Strata installs the dependencies from a lockfile, so that every build installs the same versions (create one with `uv lock` (or `poetry lock`, `pdm lock`) and add it to the build context, or pin the dependencies in requirements.txt)"
    );
    assert_eq!(
        plan_err(RUN, &[("main.py", "")]),
        "strata.toml:1:12: no requirements.txt, pyproject.toml or Pipfile in the build context (add a requirements.txt (pip), or a pyproject.toml with its lockfile (uv, poetry, pdm), or list your requirement files in `manifests`)"
    );
}

#[test]
fn a_manifest_without_its_lockfile_says_how_to_lock() {
    assert_eq!(
        plan_err(RUN, &[("Pipfile", PIPFILE)]),
        "Pipfile:1:1: Pipfile has no Pipfile.lock beside it: without a lockfile the install would resolve the dependencies anew on every build, which is not reproducible (run `pipenv lock` and add Pipfile.lock to the build context)"
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\npackage_manager = \"pdm\"\nrun = \"x\"\n",
            &[("pyproject.toml", "[project]\nname = \"x\"\n")]
        ),
        "strata.toml:2:19: pyproject.toml has no pdm.lock beside it: without a lockfile the install would resolve the dependencies anew on every build, which is not reproducible (run `pdm lock` and add pdm.lock to the build context)"
    );
}

#[test]
fn a_lockfile_without_its_manifest_is_refused() {
    assert_eq!(
        plan_err(RUN, &[("uv.lock", "")]),
        "uv.lock:1:1: uv.lock has no pyproject.toml beside it: uv needs both to install (add pyproject.toml to the build context (check .dockerignore), or remove uv.lock if the project no longer uses uv)"
    );
    assert_eq!(
        plan_err(RUN, &[("Pipfile.lock", PIPFILE_LOCK)]),
        "Pipfile.lock:1:1: Pipfile.lock has no Pipfile beside it: pipenv needs both to install (add Pipfile to the build context (check .dockerignore), or remove Pipfile.lock if the project no longer uses pipenv)"
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\npackage_manager = \"poetry\"\nrun = \"x\"\n",
            &[("requirements.txt", "")]
        ),
        "strata.toml:2:19: package manager `poetry` needs pyproject.toml and poetry.lock, and the build context has neither (add them to the build context (check .dockerignore), or set `package_manager` to the tool the project uses)"
    );
}

#[test]
fn listed_manifests_must_hold_what_the_tool_needs() {
    assert_eq!(
        plan_err(
            "language = \"python\"\npackage_manager = \"uv\"\nmanifests = [\"pyproject.toml\"]\nrun = \"x\"\n",
            &uv_files()
        ),
        "strata.toml:3:14: uv.lock is not among the manifests (uv installs from pyproject.toml and uv.lock: add \"uv.lock\" to `manifests`)"
    );
}

#[test]
fn conflicting_lockfiles_ask_for_a_choice() {
    let mut files = uv_files();
    files.push(("poetry.lock", ""));
    assert_eq!(
        plan_err(RUN, &files),
        "strata.toml:1:12: several package managers' lockfiles: uv.lock, poetry.lock (each would install the dependencies its own way) (choose one with `package_manager`, e.g. `package_manager = \"uv\"` for uv.lock or `package_manager = \"poetry\"` for poetry.lock, and delete the lockfile you no longer use)"
    );
    let p = plan_of(
        "language = \"python\"\npackage_manager = \"uv\"\nrun = \"x\"\n",
        &files,
    );
    assert_eq!(p.package_manager, "uv");
    assert_eq!(
        p.manifests,
        ["pyproject.toml", "uv.lock"],
        "the other tool's lockfile is not staged"
    );
}

#[test]
fn an_unknown_package_manager_suggests_the_closest() {
    assert_eq!(
        plan_err(
            "language = \"python\"\npackage_manager = \"peotry\"\nrun = \"x\"\n",
            &[]
        ),
        "strata.toml:2:19: unknown python package manager `peotry` (did you mean `poetry`?)"
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\npackage_manager = \"conda\"\nrun = \"x\"\n",
            &[]
        ),
        "strata.toml:2:19: unknown python package manager `conda` (supported: pip, uv, poetry, pipenv, pdm)"
    );
}

#[test]
fn the_python_table_pins_the_tool_version() {
    let p = plan_of(
        "language = \"python\"\nrun = \"x\"\n[python]\nuv = \"0.5.11\"\npoetry = \"1.8.5\"\n",
        &uv_files(),
    );
    assert_eq!(
        commands(&p, StageName::Deps)[1],
        &format!(
            "{} && /opt/strata/uv/bin/pip install uv==0.5.11",
            make_venv("/opt/strata/uv")
        )
    );
    assert_eq!(
        p.notes,
        ["`python.poetry` (1.8.5) is not used: this project installs with uv"]
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\nrun = \"x\"\n[python]\nuvv = \"0.5.11\"\npoetry = 2\npdm = \"2.0; rm -rf /\"\nfoo = \"x\"\n",
            &uv_files()
        ),
        [
            "strata.toml:4:1: unknown key `uvv` in `[python]` (did you mean `uv`?)",
            "strata.toml:5:10: `python.poetry` must be a string, not an integer (e.g. `poetry = \"2.5.1\"`)",
            "strata.toml:6:7: `python.pdm` must be a pdm version such as \"2.29.4\", not `2.0; rm -rf /` (Strata runs `pip install pdm==<version>`)",
            "strata.toml:7:1: unknown key `foo` in `[python]` (`[python]` takes the version of the tool Strata installs: uv, poetry, pipenv, pdm)",
        ]
        .join("\n")
    );
}

#[test]
fn uv_workspace_members_must_be_staged() {
    let pyproject = "[project]\nname = \"root\"\nversion = \"0\"\ndependencies = [\"m1\"]\n\n[tool.uv.sources]\nm1 = { workspace = true }\n\n[tool.uv.workspace]\nmembers = [\"packages/*\"]\n";
    let files = [
        ("pyproject.toml", pyproject),
        ("uv.lock", ""),
        ("packages/m1/pyproject.toml", "[project]\nname = \"m1\"\n"),
        ("packages/m1/m1/__init__.py", ""),
    ];
    assert_eq!(
        plan_err(RUN, &files),
        "pyproject.toml:10:12: workspace member `packages/m1`: its pyproject.toml is not staged for the install, which sees only the manifests (list every member's manifest in `manifests`, e.g. `manifests = [\"pyproject.toml\", \"uv.lock\", \"packages/*/pyproject.toml\"]`; the members themselves are installed after the source copy)"
    );
    let p = plan_of(
        "language = \"python\"\nmanifests = [\"pyproject.toml\", \"uv.lock\", \"packages/*/pyproject.toml\"]\nrun = \"x\"\n",
        &files,
    );
    assert_eq!(
        p.manifests,
        ["packages/m1/pyproject.toml", "pyproject.toml", "uv.lock"]
    );
    assert_eq!(
        install(&p).command,
        "uv sync --locked --no-install-local --no-dev"
    );
    assert_eq!(
        commands(&p, StageName::Build),
        ["uv sync --locked --no-dev --no-editable"]
    );
    // Excluded members are not members.
    let excluded = pyproject.replace(
        "members = [\"packages/*\"]",
        "members = [\"packages/*\"]\nexclude = [\"packages/m*\"]",
    );
    let p = plan_of(RUN, &[("pyproject.toml", &excluded), files[1], files[2]]);
    assert_eq!(
        install(&p).command,
        "uv sync --locked --no-install-project --no-dev"
    );
}

#[test]
fn path_dependencies_are_named_with_what_to_stage() {
    let pyproject = "[project]\nname = \"root\"\nversion = \"0\"\ndependencies = [\"lib\", \"up\"]\n\n[tool.uv.sources]\nlib = { path = \"libs/lib\" }\nup = { path = \"../up\" }\n";
    let files = [
        ("pyproject.toml", pyproject),
        ("uv.lock", ""),
        ("libs/lib/pyproject.toml", ""),
    ];
    assert_eq!(
        plan_err(RUN, &files),
        [
            "pyproject.toml:7:16: `lib` is a path dependency on `libs/lib`, whose manifest is not staged for the install, which sees only the manifests (add \"libs/lib/pyproject.toml\" to `manifests` (with pyproject.toml and uv.lock); the package itself is installed after the source copy)",
            "pyproject.toml:8:15: `up` is a path dependency on `../up`, outside the build context: BuildKit does not send it (build from a directory that holds both (e.g. the parent, with `-f`) and list `up`'s pyproject.toml in `manifests`, or publish it to a package index)",
        ]
        .join("\n")
    );
    let staged = "language = \"python\"\nmanifests = [\"pyproject.toml\", \"uv.lock\", \"libs/lib/pyproject.toml\"]\nrun = \"x\"\n";
    let files = [
        (
            "pyproject.toml",
            &pyproject.replace("up = { path = \"../up\" }\n", "")[..],
        ),
        ("uv.lock", ""),
        ("libs/lib/pyproject.toml", ""),
    ];
    assert_eq!(
        install(&plan_of(staged, &files)).command,
        "uv sync --locked --no-install-local --no-dev"
    );

    // Poetry leaves directories out of the install (`--no-directory`) and installs them after the
    // copy, which must include them.
    let poetry = "[project]\nname = \"x\"\n[tool.poetry]\npackage-mode = false\n[tool.poetry.dependencies]\nlib = { path = \"libs/lib\", develop = true }\n";
    let p = plan_of(RUN, &[("pyproject.toml", poetry), ("poetry.lock", "")]);
    assert_eq!(
        commands(&p, StageName::Build),
        ["poetry install --only main --compile"]
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\napp = \"app\"\nrun = \"x\"\n",
            &[("pyproject.toml", poetry), ("poetry.lock", "")]
        ),
        "pyproject.toml:6:16: `lib` is a path dependency on `libs/lib`, which the source copy (`app`) does not include, so Poetry cannot install it after the copy (add \"libs/lib\" to `app`)"
    );
    // PDM and Pipenv install them with everything else: refused, with what to do.
    let pdm = "[project]\nname = \"x\"\ndependencies = [\"lib @ file:///${PROJECT_ROOT}/libs/lib\"]\n[tool.pdm]\n";
    assert_eq!(
        plan_err(RUN, &[("pyproject.toml", pdm), ("pdm.lock", "")]),
        "pyproject.toml:3:17: `lib` is a path dependency on `lib @ file:///${PROJECT_ROOT}/libs/lib`: PDM installs it with the other packages, in the step that sees only the manifests (publish `lib` to a package index, or use uv or Poetry, which install local packages after the source copy)"
    );
    let pipfile = "[packages]\nlib = { path = \"./lib\", editable = true }\n";
    assert!(
        plan_err(RUN, &[("Pipfile", pipfile), ("Pipfile.lock", "{}")])
            .starts_with("Pipfile:2:16: `lib` is a path dependency on `./lib`: Pipenv installs it")
    );
}

#[test]
fn manifests_are_never_trusted() {
    assert_eq!(
        plan_err(
            RUN,
            &[("pyproject.toml", "[project\nname = 1\n"), ("uv.lock", "")]
        ),
        "pyproject.toml:1:9: invalid TOML: unclosed table, expected `]`"
    );
    assert_eq!(
        plan_err(
            RUN,
            &[
                (
                    "pyproject.toml",
                    "[tool.uv]\npackage = \"yes\"\n[tool.uv.workspace]\nmembers = \"a\"\n"
                ),
                ("uv.lock", "")
            ]
        ),
        "pyproject.toml:2:11: `tool.uv.package` must be a boolean, not a string\npyproject.toml:4:11: `tool.uv.workspace.members` must be an array of strings, not a string"
    );
    // A byte-order mark is not counted in columns.
    assert!(
        plan_err(
            RUN,
            &[
                (
                    "pyproject.toml",
                    "\u{feff}[tool.poetry]\npackage-mode = 1\n"
                ),
                ("poetry.lock", "")
            ]
        )
        .starts_with("pyproject.toml:2:16: `tool.poetry.package-mode` must be a boolean"),
    );
    assert_eq!(
        plan_err(
            "language = \"python\"\nbuild = \"x\"\nrun = \"x\"\n",
            &[("Pipfile", PIPFILE), ("Pipfile.lock", "[]")]
        ),
        "Pipfile.lock:1:1: Pipfile.lock must hold a JSON object"
    );
}

#[test]
fn a_procfile_web_line_is_the_start_command() {
    let p = plan_of(
        "language = \"python\"\nport = 8000\n[env]\nPORT = \"8000\"\n",
        &[
            ("requirements.txt", ""),
            ("main.py", ""),
            (
                "Procfile",
                "release: python migrate.py\nweb: gunicorn app:app -b 0.0.0.0:$PORT\n",
            ),
        ],
    );
    assert_eq!(
        p.image.command,
        Command::Shell("gunicorn app:app -b 0.0.0.0:$PORT".into())
    );
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    let p = plan_of(
        "language = \"python\"\n",
        &[
            ("requirements.txt", ""),
            ("Procfile", "web: uvicorn main:app --port $PORT\n"),
        ],
    );
    assert_eq!(
        p.notes,
        [
            "the Procfile's web command uses $PORT, which nothing sets in the image: add `PORT = \"8000\"` (your port) to `env` and `port`"
        ]
    );
    // Without a Procfile, main.py as before; the spec's run wins over both.
    let p = plan_of(
        "language = \"python\"\n",
        &[("requirements.txt", ""), ("main.py", "")],
    );
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["python3".into(), "main.py".into()])
    );
    let p = plan_of(
        RUN,
        &[
            ("requirements.txt", ""),
            ("Procfile", "web: gunicorn app:app\n"),
        ],
    );
    assert_eq!(p.image.command, Command::Shell("x".into()));
}

#[test]
fn a_separate_runtime_receives_the_virtualenv_not_the_tool() {
    let p = plan_of(
        "language = \"python\"\nruntime = \"python:3.12-slim\"\nbase = \"python:3.12\"\nrun = \"x\"\n",
        &uv_files(),
    );
    let titles: Vec<String> = p
        .stage(StageName::Runtime)
        .unwrap()
        .steps
        .iter()
        .map(Step::title)
        .collect();
    assert_eq!(
        titles,
        ["copy /opt/venv from build", "copy /app from build"]
    );
}

#[test]
fn the_recipe_reads_manifests_not_big_lockfiles() {
    let s = spec(RUN);
    let listed = [
        "pyproject.toml",
        "uv.lock",
        "poetry.lock",
        "pdm.lock",
        "Pipfile",
        "Pipfile.lock",
        "requirements.txt",
        "Procfile",
        ".python-version",
    ];
    assert_eq!(
        Python.files_to_read(&s, &listed),
        [
            "pyproject.toml",
            "Pipfile",
            "requirements.txt",
            "Procfile",
            ".python-version"
        ]
    );
    // Pipfile.lock only when a build step needs its dev packages removed after it.
    let with_build = spec("language = \"python\"\nbuild = \"make\"\nrun = \"x\"\n");
    assert!(
        Python
            .files_to_read(&with_build, &listed)
            .contains(&"Pipfile.lock".to_string())
    );
}

#[test]
fn a_second_probing_round_asks_for_members_and_path_dependencies() {
    let s = spec(RUN);
    let first = Python.probe(&s, &context(&[]));
    for f in [
        "requirements.txt",
        "pyproject.toml",
        "uv.lock",
        "poetry.lock",
        "Pipfile",
        "Pipfile.lock",
        "pdm.lock",
        "uv.toml",
        "poetry.toml",
        "pdm.toml",
        ".python-version",
        "Procfile",
    ] {
        assert!(first.contains(&f.to_string()), "{f} in {first:?}");
    }
    let found = context(&[(
        "pyproject.toml",
        "[tool.uv.workspace]\nmembers = [\"packages/*\"]\n[tool.uv.sources]\nlib = { path = \"libs/lib\" }\n",
    )]);
    let second = Python.probe(&s, &found);
    let new: Vec<&String> = second.iter().filter(|p| !first.contains(p)).collect();
    assert_eq!(
        new,
        [
            "packages/*/pyproject.toml",
            "libs/lib/pyproject.toml",
            "libs/lib/setup.py"
        ]
    );
}

/// Lowered: the tool's step depends on no context file; the install's only context input is a
/// transfer whose include patterns are the manifest and the lockfile.
#[test]
fn the_install_transfers_the_manifests_and_nothing_else() {
    let s = spec(RUN);
    let p = plan(&s, &context(&uv_files())).unwrap();
    let lowered = lower(&LowerInput {
        plan: &p,
        images: &Default::default(),
        options: &BuildOptions::default(),
        platform: &Platform::linux_amd64(),
        caps: &Caps::current(),
        context: &Context::Local {
            name: "context".into(),
            session: None,
        },
        spec: Some(&s.source),
    })
    .unwrap();
    let ops = Ops::of(&lowered.definition);
    let tool = ops.find("pip install uv==");
    assert!(ops.local_sources_under(tool).is_empty());
    let install = ops.find("uv sync --locked");
    let sources: Vec<&pb::SourceOp> = ops.local_sources_under(install);
    assert_eq!(sources.len(), 1);
    assert_eq!(
        sources[0].attrs.get("local.includepattern").unwrap(),
        r#"["pyproject.toml","uv.lock"]"#
    );
    assert!(
        ops.closure(install).contains(tool),
        "the install runs on the tool's layer"
    );
}

/// A directory with a `python3` that runs this machine's python3 without its site-packages (so
/// without its pip), plus `pythonpath` when given; and the virtualenv `make_venv` makes with it
/// first on PATH, as the setup step would (`sh -c`).
fn made_venv(name: &str, pythonpath: Option<&std::path::Path>) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!("strata-venv-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let extra = pythonpath.map_or(String::new(), |p| format!("PYTHONPATH={} ", p.display()));
    std::fs::write(
        bin.join("python3"),
        format!("#!/bin/sh\n{extra}exec {real} -S \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("python3"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let venv = root.join("venv");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(make_venv(venv.to_str().unwrap()))
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    venv
}

fn run_in(venv: &std::path::Path, program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(venv.join("bin").join(program))
        .args(args)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env_remove("PYTHONPATH")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// With a pip in the base, the virtualenv gets a copy of that very pip (no ensurepip), which runs
/// from the virtualenv as `pip` and as `python -m pip`.
#[test]
fn a_virtualenv_gets_a_copy_of_the_base_images_pip() {
    // A stand-in for the base's pip, told apart from any real one by what it prints.
    let base = std::env::temp_dir().join(format!("strata-fake-pip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    for (file, text) in [
        ("pip/__init__.py", "__version__ = \"99.1\"\n"),
        (
            "pip/__main__.py",
            "import sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n",
        ),
        ("pip/_internal/__init__.py", ""),
        ("pip/_internal/cli/__init__.py", ""),
        (
            "pip/_internal/cli/main.py",
            "import sys\ndef main():\n    print('stand-in pip', sys.prefix)\n    return 0\n",
        ),
        ("pip-99.1.dist-info/METADATA", "Name: pip\nVersion: 99.1\n"),
    ] {
        let path = base.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let venv = made_venv("copy", Some(&base));
    let prefix = venv.display().to_string();
    for (program, args) in [("pip", &[][..]), ("pip3", &[]), ("python", &["-m", "pip"])] {
        assert_eq!(
            run_in(&venv, program, args).trim(),
            format!("stand-in pip {prefix}")
        );
    }
    let copied = venv
        .join("lib")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        copied
            .join("site-packages/pip-99.1.dist-info/METADATA")
            .is_file()
    );
    std::fs::remove_dir_all(venv.parent().unwrap()).unwrap();
    std::fs::remove_dir_all(&base).unwrap();
}

/// Without a pip in the base, ensurepip: the virtualenv still has a pip of its own.
#[test]
fn a_base_without_pip_gets_a_virtualenv_with_its_own_pip() {
    let venv = made_venv("ensurepip", None);
    let version = run_in(&venv, "python", &["-m", "pip", "--version"]);
    assert!(version.contains(&venv.display().to_string()), "{version}");
    assert!(run_in(&venv, "pip", &["--version"]).contains(&venv.display().to_string()));
    std::fs::remove_dir_all(venv.parent().unwrap()).unwrap();
}
