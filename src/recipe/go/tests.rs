use bollard_buildkit_proto::pb;

use crate::context::ContextFiles;
use crate::lower::tests::Ops;
use crate::plan::{CopyFrom, Plan, StageFrom, StageName, Step};
use crate::recipe::tests::{context, include_patterns, plan_err, run_commands, spec, step_key};
use crate::recipe::{Recipe, plan, worked_examples};
use crate::spec::Command;

const SPEC: &str = include_str!("../../../examples/go/strata.toml");
const GO_MOD: &str = include_str!("../../../examples/go/go.mod");
const GO_SUM: &str = include_str!("../../../examples/go/go.sum");
const MAIN_GO: &str = include_str!("../../../examples/go/main.go");

fn example() -> Vec<(&'static str, &'static str)> {
    vec![("go.mod", GO_MOD), ("go.sum", GO_SUM), ("main.go", MAIN_GO)]
}

fn go_plan(spec_text: &str, files: &[(&str, &str)]) -> Plan {
    plan(&spec(spec_text), &context(files)).unwrap_or_else(|e| panic!("{e}"))
}

fn runs(plan: &Plan, stage: StageName) -> Vec<String> {
    run_commands(plan.stage(stage).unwrap())
        .into_iter()
        .map(String::from)
        .collect()
}

fn lowered(plan: &Plan, platform: &str) -> Ops {
    Ops::of(&worked_examples::lowered(plan, platform).definition)
}

/// What BuildKit keys the step on: see `step_key`.
fn download_key(files: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    step_key(&go_plan(SPEC, files), "go mod download", files)
}

#[test]
fn the_example_downloads_from_the_manifests_and_ships_the_binary_alone() {
    let p = go_plan(SPEC, &example());
    assert_eq!(p.package_manager, "go");
    assert_eq!(p.manifests, ["go.mod", "go.sum"]);
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/golang:1.24",
        "the go line picks the toolchain"
    );
    let deps = p.stage(StageName::Deps).unwrap();
    let Step::Run(std) = &deps.steps[0] else {
        panic!("deps starts with the standard library's packages the program imports")
    };
    assert!(
        std.command.starts_with(
            "GOCACHE=/go/deps-cache GOPROXY=off go build -trimpath context encoding/json log net/http os os/signal syscall time ||"
        ),
        "{}",
        std.command
    );
    let Step::Copy(stage) = &deps.steps[1] else {
        panic!("then the manifests")
    };
    let CopyFrom::Context(sel) = &stage.from else {
        panic!()
    };
    assert_eq!(sel.include, ["go.mod", "go.sum"]);
    let Step::Run(download) = &deps.steps[2] else {
        panic!("then the download")
    };
    assert_eq!(download.command, "go mod download");
    assert!(
        download.caches.iter().all(|c| c.target != "/go/pkg/mod"),
        "the module cache is not mounted: the download lands in the layer"
    );
    assert!(
        download
            .env
            .contains(&("GOMODCACHE".to_string(), "/go/pkg/mod".to_string()))
    );
    assert_eq!(
        runs(&p, StageName::Build),
        [
            "cp -Rn /go/deps-cache/. \"$GOCACHE\"/ 2>/dev/null; GOPROXY=off go build -v -trimpath -buildvcs=false '-ldflags=-s -w' -mod=mod -o /usr/local/bin/hello ."
        ],
        "the build cache mount receives what the deps stage compiled (it is empty on a fresh runner)"
    );
    let Step::Run(build) = &p.stage(StageName::Build).unwrap().steps[1] else {
        panic!()
    };
    assert!(build.env.contains(&("CGO_ENABLED".into(), "0".into())));
    assert_eq!(build.caches.len(), 1);
    assert_eq!(build.caches[0].target, "/root/.cache/go-build");
    assert!(
        build
            .env
            .contains(&("GOCACHE".into(), "/root/.cache/go-build".into()))
    );

    let runtime = p.stage(StageName::Runtime).unwrap();
    assert_eq!(
        runtime.from,
        StageFrom::Image(
            crate::reference::ImageRef::parse("gcr.io/distroless/static-debian12:nonroot").unwrap()
        )
    );
    let titles: Vec<String> = runtime.steps.iter().map(Step::title).collect();
    assert_eq!(titles, ["copy /usr/local/bin/hello from build"]);
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["/usr/local/bin/hello".into()])
    );
    assert_eq!(p.image.user, "10001:10001");
    assert!(
        p.image.env.is_empty(),
        "no build settings leak into the image"
    );
}

#[test]
fn the_download_depends_on_go_mod_and_go_sum_alone() {
    let ops = lowered(&go_plan(SPEC, &example()), "linux/amd64");
    let download = ops.find("go mod download");
    let inputs: Vec<Vec<String>> = ops
        .local_sources_under(download)
        .into_iter()
        .map(include_patterns)
        .collect();
    assert_eq!(inputs, [["go.mod", "go.sum"]]);
    let exec = ops.exec(download);
    let cache_targets: Vec<&str> = exec
        .mounts
        .iter()
        .filter(|m| m.cache_opt.is_some())
        .map(|m| m.dest.as_str())
        .collect();
    assert!(!cache_targets.contains(&"/go/pkg/mod"), "{cache_targets:?}");

    // The build runs on the download's result, after the source copy.
    let build = ops.find("go build");
    assert!(ops.closure(build).contains(download));
    // The image: the runtime image and one copy out of the build, nothing else.
    let result = &ops.ops[&ops.result];
    let Some(pb::op::Op::File(copy)) = &result.op else {
        panic!("the image's last op is the binary's copy")
    };
    let Some(pb::file_action::Action::Copy(c)) = &copy.actions[0].action else {
        panic!()
    };
    assert_eq!(c.src, "/usr/local/bin/hello");
    assert_eq!(c.dest, "/usr/local/bin/hello");
    let sources: Vec<&str> = result.inputs.iter().map(|i| ops.name(&i.digest)).collect();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(
        sources[0].contains("FROM gcr.io/distroless/static-debian12:nonroot"),
        "{sources:?}"
    );
    assert!(sources[1].contains("go build"), "{sources:?}");
}

#[test]
fn a_source_edit_leaves_the_download_key_and_a_requirement_changes_it() {
    let before = download_key(&example());
    let edited_main = MAIN_GO.replace("\"World\"", "\"Edited\"");
    let mut files = example();
    files[2] = ("main.go", &edited_main);
    files.push(("internal/x/x.go", "package x\n"));
    assert_eq!(
        download_key(&files),
        before,
        "main.go is not a download input"
    );

    // Even a change of what is built (another main package) leaves the download alone.
    let moved = vec![
        ("go.mod", GO_MOD),
        ("go.sum", GO_SUM),
        ("cmd/server/main.go", MAIN_GO),
    ];
    let moved_plan = go_plan(SPEC, &moved);
    assert!(
        runs(&moved_plan, StageName::Build)[0].ends_with("-o /usr/local/bin/server ./cmd/server")
    );
    assert_eq!(download_key(&moved), before);

    let required = format!("{GO_MOD}require golang.org/x/text v0.21.0\n");
    let mut files = example();
    files[0] = ("go.mod", &required);
    let after = download_key(&files);
    assert_eq!(
        after.0, before.0,
        "same op: BuildKit keys it on the content"
    );
    assert_ne!(after, before, "a new requirement re-runs the download");
    let sum = format!("{GO_SUM}golang.org/x/text v0.21.0 h1:x=\n");
    let mut files = example();
    files[1] = ("go.sum", &sum);
    assert_ne!(download_key(&files), before, "go.sum is an input too");
}

#[test]
fn without_compiling_ahead_the_build_cache_is_a_mount_per_project_and_platform() {
    // The spec's own install replaces every install step: nothing to copy from.
    let installs = format!("{SPEC}install = \"go mod download -x\"\n");
    let p = go_plan(&installs, &example());
    assert_eq!(runs(&p, StageName::Deps), ["go mod download -x"]);
    assert!(
        runs(&p, StageName::Build)[0].starts_with("go build -v -trimpath"),
        "{:?}",
        runs(&p, StageName::Build)
    );
    // The spec's own build: its flags are not known, so nothing is compiled ahead (or copied).
    let own = format!("{SPEC}build = \"go build -o /usr/local/bin/hello .\"\n");
    let p = go_plan(&own, &example());
    assert!(
        !runs(&p, StageName::Deps)
            .iter()
            .any(|r| r.contains("go build")),
        "{:?}",
        runs(&p, StageName::Deps)
    );
    let id = |platform: &str| {
        let ops = lowered(&p, platform);
        let build = ops.exec(ops.find("go build"));
        build
            .mounts
            .iter()
            .find(|m| m.dest == "/root/.cache/go-build")
            .and_then(|m| m.cache_opt.as_ref())
            .map(|c| c.id.clone())
            .unwrap()
    };
    assert_eq!(
        id("linux/amd64"),
        "strata/go-build/example.com/hello/linux-amd64"
    );
    assert_eq!(
        id("linux/arm64"),
        "strata/go-build/example.com/hello/linux-arm64"
    );
    let other = go_plan(
        "language = \"go\"\n[cache]\nid = \"ci\"\n",
        &[
            ("go.mod", "module example.com/other\n\ngo 1.24\n"),
            ("main.go", "package main\n"),
        ],
    );
    let Step::Run(build) = &other.stage(StageName::Build).unwrap().steps[1] else {
        panic!()
    };
    assert_eq!(
        build.caches[0].scoped_id("linux/amd64"),
        "ci/go-build/example.com/other/linux-amd64"
    );
}

#[test]
fn the_main_package_is_found_or_named() {
    let gomod = ("go.mod", "module example.com/tool/v2\n\ngo 1.23\n");
    let build = |spec_text: &str, files: &[(&str, &str)]| {
        let mut all = vec![gomod];
        all.extend_from_slice(files);
        runs(&go_plan(spec_text, &all), StageName::Build)[0].clone()
    };
    let lang = "language = \"go\"\n";
    // The root package, named after the module without its major version.
    assert!(
        build(
            lang,
            &[
                ("main.go", "package main\n"),
                ("cmd/x/main.go", "package main\n")
            ]
        )
        .ends_with("-o /usr/local/bin/tool .")
    );
    // The root is a library: the only command.
    assert!(
        build(
            lang,
            &[
                ("lib.go", "package tool\n"),
                ("cmd/api/main.go", "// Copyright\n\npackage main\n")
            ]
        )
        .ends_with("-o /usr/local/bin/api ./cmd/api")
    );
    // A generator beside the library, tests and other platforms' files do not count.
    assert!(
        build(
            lang,
            &[
                ("gen.go", "//go:build ignore\n\npackage main\n"),
                ("tool.go", "package tool\n"),
                ("main_test.go", "package main\n"),
                ("x_windows.go", "package main\n"),
                ("cmd/api/api.go", "package main\n"),
                ("cmd/lib/lib.go", "package lib\n"),
                ("cmd/old/old.go", "//go:build ignore\npackage main\n"),
            ]
        )
        .ends_with("./cmd/api")
    );
    // Named in the spec, with or without ./
    for main in ["./cmd/worker", "cmd/worker/"] {
        assert!(
            build(
                &format!("{lang}[go]\nmain = \"{main}\"\n"),
                &[
                    ("cmd/api/main.go", "package main\n"),
                    ("cmd/worker/main.go", "package main\n")
                ]
            )
            .ends_with("-o /usr/local/bin/worker ./cmd/worker")
        );
    }
    // A build of the spec's own needs no main package.
    let own = go_plan(
        "language = \"go\"\nbuild = \"go build -o /usr/local/bin/tool ./tools/x\"\n",
        &[gomod, ("lib.go", "package tool\n")],
    );
    assert_eq!(
        runs(&own, StageName::Build),
        ["go build -o /usr/local/bin/tool ./tools/x"]
    );
    assert_eq!(
        own.image.command,
        Command::Exec(vec!["/usr/local/bin/tool".into()])
    );
}

#[test]
fn main_package_errors_are_located_and_list_the_candidates() {
    let gomod = ("go.mod", "module example.com/m\n\ngo 1.23\n");
    assert_eq!(
        plan_err(
            "language = \"go\"\n",
            &[
                gomod,
                ("cmd/b/main.go", "package main\n"),
                ("cmd/a/main.go", "package main\n"),
                ("cmd/c/c.go", "package c\n")
            ]
        ),
        "strata.toml:1:12: several main packages: ./cmd/a, ./cmd/b (Strata builds one binary: choose it in the spec with `[go]` and `main = \"./cmd/a\"`)"
    );
    assert_eq!(
        plan_err("language = \"go\"\n", &[gomod, ("lib.go", "package m\n")]),
        "strata.toml:1:12: no main package: neither the root directory nor a cmd/<name> directory holds `package main` (name the main package's directory in the spec: `[go]` with `main = \"./path/to/it\"`)"
    );
    assert_eq!(
        plan_err(
            "language = \"go\"\n[go]\nmain = \"./cmd/nope\"\n",
            &[gomod, ("main.go", "package main\n")]
        ),
        "strata.toml:3:8: `go.main`: no Go files in `cmd/nope` (name the main package's directory, relative to the build context, e.g. `main = \"./cmd/api\"`)"
    );
    assert_eq!(
        plan_err(
            "language = \"go\"\n[go]\nmain = \"./internal/x\"\n",
            &[gomod, ("internal/x/x.go", "package x\n")]
        ),
        "strata.toml:3:8: `go.main`: `internal/x` holds package `x`, not a main package (name the directory whose files say `package main`)"
    );
    assert_eq!(
        plan_err("language = \"go\"\n[go]\nmain = \"./cmd/...\"\n", &[gomod]),
        "strata.toml:3:8: `go.main`: `./cmd/...` is a pattern; name one directory (Strata builds one binary) (name the main package's directory inside the build context, e.g. `main = \"./cmd/api\"`)"
    );
    assert!(
        plan_err("language = \"go\"\n[go]\nmain = \"../other\"\n", &[gomod])
            .starts_with("strata.toml:3:8: `go.main`: `../other` points outside the build context")
    );
}

#[test]
fn go_table_keys_are_checked() {
    let files = [
        ("go.mod", "module m\n\ngo 1.23\n"),
        ("main.go", "package main\n"),
    ];
    assert_eq!(
        plan_err(
            "language = \"go\"\n[go]\nmian = \"./cmd/api\"\ncgo = \"yes\"\ntags = [\"a b\"]\n",
            &files
        ),
        "strata.toml:3:1: unknown key `mian` in `[go]` (did you mean `main`?)\nstrata.toml:4:7: `go.cgo` must be a boolean, not a string\nstrata.toml:5:8: `go.tags`: `a b` is not a build tag (letters, digits, `_` and `.`)"
    );
    assert_eq!(
        plan_err("language = \"go\"\n[go]\nzzzzzz = 1\n", &files),
        "strata.toml:3:1: unknown key `zzzzzz` in `[go]` (`[go]` takes the keys main, cgo, tags, ldflags)"
    );
    let p = go_plan(
        "language = \"go\"\n[go]\ntags = [\"netgo\", \"osusergo\"]\nldflags = \"-X main.version=1.2 -s\"\n",
        &files,
    );
    assert_eq!(
        runs(&p, StageName::Build)[0],
        "GOPROXY=off go build -v -trimpath -buildvcs=false '-ldflags=-X main.version=1.2 -s' -tags=netgo,osusergo -mod=mod -o /usr/local/bin/m ."
    );
    let p = go_plan("language = \"go\"\n[go]\nldflags = \"\"\n", &files);
    assert!(!runs(&p, StageName::Build)[0].contains("ldflags"));
}

#[test]
fn cgo_links_glibc_and_ships_on_a_glibc_runtime() {
    let p = go_plan(
        "language = \"go\"\n[go]\ncgo = true\n",
        &[
            ("go.mod", "module m\n\ngo 1.23.2\n"),
            ("main.go", "package main\n"),
        ],
    );
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/golang:1.23-bookworm"
    );
    assert_eq!(
        p.images()[1].to_string(),
        "gcr.io/distroless/base-debian12:nonroot"
    );
    let Step::Run(build) = &p.stage(StageName::Build).unwrap().steps[1] else {
        panic!()
    };
    assert!(build.env.contains(&("CGO_ENABLED".into(), "1".into())));
    // A file only cgo builds compile decides the package then.
    let p = go_plan(
        "language = \"go\"\n[go]\ncgo = true\n",
        &[
            ("go.mod", "module m\n"),
            ("lib.go", "package m\n"),
            ("cmd/a/a.go", "//go:build cgo\npackage main\n"),
        ],
    );
    assert!(runs(&p, StageName::Build)[0].ends_with("./cmd/a"));
    assert!(
        plan_err(
            "language = \"go\"\n",
            &[
                ("go.mod", "module m\n"),
                ("lib.go", "package m\n"),
                ("cmd/a/a.go", "//go:build cgo\npackage main\n")
            ],
        )
        .contains("no main package")
    );
}

#[test]
fn the_toolchain_follows_go_mod_unless_the_spec_pins_it() {
    let image = |spec_text: &str, gomod: &str| {
        go_plan(
            spec_text,
            &[("go.mod", gomod), ("main.go", "package main\n")],
        )
        .images()[0]
            .to_string()
    };
    let lang = "language = \"go\"\n";
    assert_eq!(
        image(lang, "module m\n\ngo 1.22.3\n"),
        "docker.io/library/golang:1.22"
    );
    assert_eq!(
        image(lang, "module m\ngo 1.21\ntoolchain go1.23.4\n"),
        "docker.io/library/golang:1.23"
    );
    assert_eq!(image(lang, "module m\n"), "docker.io/library/golang:1.26");
    assert_eq!(
        image(
            &format!("{lang}version = \"1.24\"\n"),
            "module m\ngo 1.22\n"
        ),
        "docker.io/library/golang:1.24"
    );
    assert_eq!(
        image(
            &format!("{lang}version = \"1.22\"\n"),
            "module m\ngo 1.22.5\n"
        ),
        "docker.io/library/golang:1.22"
    );
    assert_eq!(
        image(
            &format!("{lang}base = \"mirror.example/golang:1.23-alpine\"\n"),
            "module m\ngo 1.23.1\n"
        ),
        "mirror.example/golang:1.23-alpine"
    );
    // Images whose Go cannot be read from the name are not checked.
    assert_eq!(
        image(
            &format!("{lang}base = \"local/strata-go:test\"\n"),
            "module m\ngo 1.99\n"
        ),
        "docker.io/local/strata-go:test"
    );
}

#[test]
fn a_go_line_newer_than_the_pinned_toolchain_is_refused_at_the_line() {
    let main = ("main.go", "package main\n");
    assert_eq!(
        plan_err(
            "language = \"go\"\nversion = \"1.22\"\n",
            &[("go.mod", "module m\n\ngo 1.23.1\n"), main]
        ),
        "go.mod:3:1: `go 1.23.1` needs Go 1.23.1 or newer, but the spec's `version = \"1.22\"` is Go 1.22 (golang images run with GOTOOLCHAIN=local and cannot fetch a newer Go: raise `version` to 1.23 or newer, or remove it to follow go.mod)"
    );
    assert_eq!(
        plan_err(
            "language = \"go\"\nbase = \"golang:1.22.1-bookworm\"\n",
            &[("go.mod", "module m\ngo 1.22\ntoolchain go1.22.4\n"), main]
        ),
        "go.mod:3:1: `toolchain go1.22.4` needs Go 1.22.4 or newer, but the spec's `base = \"golang:1.22.1-bookworm\"` is Go 1.22.1 (golang images run with GOTOOLCHAIN=local and cannot fetch a newer Go: raise `base` to 1.22 or newer, or remove it to follow go.mod)"
    );
    // go.work's line counts in a workspace.
    let e = plan_err(
        "language = \"go\"\nversion = \"1.22\"\n",
        &[
            ("go.work", "go 1.24\nuse .\n"),
            ("go.mod", "module m\ngo 1.21\n"),
            main,
        ],
    );
    assert!(
        e.starts_with("go.work:1:1: `go 1.24` needs Go 1.24 or newer"),
        "{e}"
    );
}

#[test]
fn a_go_mod_with_requirements_needs_its_go_sum() {
    let gomod = "module example.com/m\n\ngo 1.23\n\nrequire (\n\texample.com/local v0.0.0\n\tgithub.com/google/uuid v1.6.0\n)\n\nreplace example.com/local => ./local\n";
    let files = [
        ("go.mod", gomod),
        ("local/go.mod", "module example.com/local\n"),
        ("main.go", "package main\n"),
    ];
    assert_eq!(
        plan_err("language = \"go\"\n", &files),
        "go.mod:7:2: go.mod requires github.com/google/uuid v1.6.0 but go.sum is missing (run `go mod tidy`, which creates go.sum with the checksums of every module, and commit it)"
    );
    // Present but not among the spec's manifests.
    let mut with_sum = files.to_vec();
    with_sum.push(("go.sum", ""));
    assert_eq!(
        plan_err(
            "language = \"go\"\nmanifests = [\"go.mod\", \"local/go.mod\"]\n",
            &with_sum
        ),
        "go.mod:7:2: go.mod requires github.com/google/uuid v1.6.0 but go.sum is not staged for the download (add \"go.sum\" to `manifests`)"
    );
    // Only modules replaced by directories: nothing to check a sum of.
    let local_only = "module m\ngo 1.23\nrequire example.com/local v0.0.0\nreplace example.com/local => ./local\n";
    let p = go_plan(
        "language = \"go\"\n",
        &[
            ("go.mod", local_only),
            ("local/go.mod", "module example.com/local\n"),
            ("main.go", "package main\n"),
        ],
    );
    assert_eq!(
        p.manifests,
        ["go.mod", "local/go.mod"],
        "the replacement's go.mod is staged"
    );
    // No requirements, no go.sum needed.
    go_plan(
        "language = \"go\"\n",
        &[("go.mod", "module m\n"), ("main.go", "package main\n")],
    );
}

#[test]
fn a_local_replacement_must_be_staged() {
    let gomod = |target: &str| {
        format!(
            "module m\n\ngo 1.23\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => {target}\n"
        )
    };
    let main = ("main.go", "package main\n");
    let outside = gomod("../lib");
    assert_eq!(
        plan_err("language = \"go\"\n", &[("go.mod", &outside), main]),
        "go.mod:7:28: `replace example.com/lib => ../lib` names a directory outside the build context, which BuildKit does not send (move the module into the build context (e.g. `./lib`) and point the directive there; its go.mod is then staged with the manifests (with `manifests`, list \"<dir>/go.mod\"))"
    );
    assert!(
        plan_err("language = \"go\"\n", &[("go.mod", &gomod("/src/lib")), main])
            .starts_with("go.mod:7:28: `replace example.com/lib => /src/lib` names a directory outside the build context")
    );
    let inside = gomod("./third_party/lib");
    assert_eq!(
        plan_err("language = \"go\"\n", &[("go.mod", &inside), main]),
        "go.mod:7:28: `replace example.com/lib => ./third_party/lib` needs third_party/lib/go.mod, which is not in the build context (`go mod download` reads the go.mod of every module directory: check the path and that .dockerignore does not exclude it)"
    );
    let files = [
        ("go.mod", inside.as_str()),
        ("third_party/lib/go.mod", "module example.com/lib\n"),
        main,
    ];
    assert_eq!(
        plan_err("language = \"go\"\nmanifests = [\"go.mod\"]\n", &files),
        "go.mod:7:28: `replace example.com/lib => ./third_party/lib` needs third_party/lib/go.mod, which is not staged for the download (add \"third_party/lib/go.mod\" to `manifests`)"
    );
    let p = go_plan("language = \"go\"\n", &files);
    assert_eq!(p.manifests, ["go.mod", "third_party/lib/go.mod"]);
}

#[test]
fn a_workspace_stages_every_module_and_builds_in_workspace_mode() {
    let files = [
        ("go.work", "go 1.23\n\nuse (\n\t./svc\n\t./lib\n)\n"),
        ("go.work.sum", ""),
        (
            "svc/go.mod",
            "module example.com/svc\ngo 1.23\nrequire github.com/google/uuid v1.6.0\n",
        ),
        ("svc/go.sum", ""),
        (
            "lib/go.mod",
            "module example.com/lib\ngo 1.22\nreplace example.com/x => ../x\n",
        ),
        ("x/go.mod", "module example.com/x\n"),
        ("svc/main.go", "package main\n"),
        ("lib/lib.go", "package lib\n"),
    ];
    let p = go_plan("language = \"go\"\n[go]\nmain = \"./svc\"\n", &files);
    assert_eq!(
        p.manifests,
        [
            "go.work",
            "go.work.sum",
            "lib/go.mod",
            "svc/go.mod",
            "svc/go.sum",
            "x/go.mod"
        ]
    );
    // The root module in the workspace too: its files are staged once.
    let mut with_root = files.to_vec();
    with_root[0] = ("go.work", "go 1.23\nuse (\n\t.\n\t./svc\n\t./lib\n)\n");
    with_root.push(("go.mod", "module example.com/root\ngo 1.23\n"));
    let p = go_plan("language = \"go\"\n[go]\nmain = \"./svc\"\n", &with_root);
    let Step::Copy(stage) = &p.stage(StageName::Deps).unwrap().steps[0] else {
        panic!()
    };
    let CopyFrom::Context(sel) = &stage.from else {
        panic!()
    };
    assert_eq!(
        sel.include,
        [
            "go.mod",
            "go.work",
            "go.work.sum",
            "svc/go.mod",
            "svc/go.sum",
            "lib/go.mod",
            "x/go.mod"
        ]
    );
    assert_eq!(
        runs(&p, StageName::Build)[0],
        "GOPROXY=off go build -v -trimpath -buildvcs=false '-ldflags=-s -w' -o /usr/local/bin/svc ./svc",
        "-mod=mod is refused in workspace mode"
    );
    assert_eq!(p.images()[0].to_string(), "docker.io/library/golang:1.23");
    assert_eq!(
        plan_err(
            "language = \"go\"\n",
            &[
                ("go.work", "go 1.23\nuse ./missing\n"),
                ("main.go", "package main\n")
            ]
        ),
        "go.work:2:5: `use ./missing` needs missing/go.mod, which is not in the build context (`go mod download` reads the go.mod of every module directory: check the path and that .dockerignore does not exclude it)"
    );
}

#[test]
fn probing_follows_the_workspace_and_reads_only_heads_of_go_files() {
    let s = spec("language = \"go\"\n");
    let mut found = ContextFiles::new(Vec::new());
    let first = super::Go.probe(&s, &found);
    assert_eq!(
        first,
        [
            "go.mod",
            "go.sum",
            "go.work",
            "go.work.sum",
            "vendor/modules.txt",
            "*.go",
            "cmd/*/*.go"
        ]
    );
    found.add_content(
        "go.work",
        b"go 1.23\nuse ./svc\nreplace a => ../outside\n".to_vec(),
    );
    let second = super::Go.probe(&s, &found);
    assert_eq!(&second[first.len()..], ["svc/go.mod", "svc/go.sum"]);
    found.add_content("svc/go.mod", b"module s\nreplace b => ./b\n".to_vec());
    let third = super::Go.probe(&s, &found);
    assert_eq!(&third[second.len()..], ["svc/b/go.mod"]);
    // The spec's main replaces the search.
    let named = spec("language = \"go\"\n[go]\nmain = \"./tools/gen\"\n");
    assert!(
        super::Go
            .probe(&named, &ContextFiles::new(Vec::new()))
            .contains(&"tools/gen/*.go".to_string())
    );

    assert_eq!(super::Go.read_limit("main.go"), Some(super::HEAD_BYTES));
    assert_eq!(super::Go.read_limit("go.mod"), None);
    let mut listed: Vec<String> = (0..100).map(|i| format!("cmd/a/f{i:03}.go")).collect();
    listed.extend(
        [
            "go.mod",
            "go.sum",
            "main_test.go",
            "x_darwin.go",
            "main.go",
            "svc/go.mod",
        ]
        .map(String::from),
    );
    let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
    let read = super::Go.files_to_read(&s, &listed);
    assert_eq!(
        read.iter().filter(|f| f.starts_with("cmd/a/")).count(),
        super::MAX_FILES_PER_DIR
    );
    for f in ["go.mod", "main.go", "svc/go.mod"] {
        assert!(read.contains(&f.to_string()), "{f}");
    }
    for f in ["go.sum", "main_test.go", "x_darwin.go"] {
        assert!(!read.contains(&f.to_string()), "{f}");
    }
}

#[test]
fn a_vendored_project_builds_from_vendor_without_a_download() {
    let p = go_plan(
        SPEC,
        &[
            ("go.mod", GO_MOD),
            ("go.sum", GO_SUM),
            ("vendor/modules.txt", "# github.com/google/uuid v1.6.0\n"),
            ("main.go", MAIN_GO),
        ],
    );
    assert_eq!(runs(&p, StageName::Deps), Vec::<String>::new());
    assert!(runs(&p, StageName::Build)[0].contains(" -mod=vendor "));
    assert!(p.notes[0].contains("vendor/modules.txt"), "{:?}", p.notes);
    // Without go.sum: vendor/ is what the build reads.
    go_plan(
        SPEC,
        &[
            ("go.mod", GO_MOD),
            ("vendor/modules.txt", ""),
            ("main.go", MAIN_GO),
        ],
    );
}

#[test]
fn other_refusals() {
    assert_eq!(
        plan_err("language = \"go\"\n", &[("main.go", "package main\n")]),
        "strata.toml:1:12: no go.mod in the build context (Go projects need go.mod at the root of the build context; `go mod init <module path>` creates it)"
    );
    assert_eq!(
        plan_err("language = \"go\"\npackage_manager = \"dep\"\n", &example()),
        "strata.toml:2:19: package manager `dep` is not supported for go (Go modules are the only one: remove `package_manager` or set it to \"go\")"
    );
    assert_eq!(
        plan_err(
            "language = \"go\"\n",
            &[
                ("go.mod", "module m\ngo one\n"),
                ("main.go", "package main\n")
            ]
        ),
        "go.mod:2:4: invalid go version `one` (expected a Go release such as 1.22 or 1.22.3)"
    );
}

#[test]
fn binary_names() {
    use super::binary_name;
    assert_eq!(binary_name(".", Some("example.com/hello")), "hello");
    assert_eq!(binary_name(".", Some("example.com/tool/v2")), "tool");
    assert_eq!(binary_name(".", Some("gopkg.in/yaml.v3")), "yaml.v3");
    assert_eq!(binary_name(".", Some("v2")), "v2");
    assert_eq!(binary_name(".", None), "app");
    assert_eq!(binary_name("cmd/api", Some("m")), "api");
    assert_eq!(binary_name("cmd/$(x)", Some("m")), "app");
}

/// Reads a context as the edges do (`context::read_context`): probe, list what the patterns match,
/// read what the recipe asks for (heads of Go files), until a round asks for nothing new. Returns
/// what was read and the number of rounds, the last (empty) one included.
fn probed(spec_text: &str, files: &[(&str, &str)]) -> (ContextFiles, usize) {
    let s = spec(spec_text);
    let mut found = ContextFiles::new(Vec::new());
    let mut asked: Vec<String> = Vec::new();
    for round in 1.. {
        let new: Vec<String> = super::Go
            .probe(&s, &found)
            .into_iter()
            .filter(|p| !asked.contains(p))
            .collect();
        if new.is_empty() {
            return (found, round);
        }
        asked.extend(new.iter().cloned());
        let include = crate::pattern::PatternSet::new(&new).unwrap();
        let listed: Vec<&str> = files
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| include.matches(p) && !found.exists(p))
            .collect();
        let to_read = super::Go.files_to_read(&s, &listed);
        for (path, text) in files {
            if listed.contains(path) {
                match super::Go.read_limit(path) {
                    Some(limit) if to_read.contains(&path.to_string()) => {
                        found.add_head(*path, text.as_bytes().to_vec(), limit)
                    }
                    None if to_read.contains(&path.to_string()) => {
                        found.add_content(*path, text.as_bytes().to_vec())
                    }
                    _ => found.add_listed(path.to_string()),
                }
            }
        }
    }
    unreachable!()
}

/// The deps stage's compile-ahead commands: the standard library's, the modules'.
fn compile_ahead(p: &Plan) -> Vec<String> {
    runs(p, StageName::Deps)
        .into_iter()
        .filter(|r| r.contains("go build"))
        .collect()
}

const AHEAD_FAILED: &str = " || echo 'strata: some dependencies could not be compiled ahead (see above); the build step compiles them' >&2";

const APP_MOD: &str = "module example.com/app\n\ngo 1.24\n\nrequire github.com/lib/pq v1.10.9\n\nreplace example.com/lib => ./lib\n";

fn layered_app() -> Vec<(&'static str, &'static str)> {
    vec![
        ("go.mod", APP_MOD),
        ("go.sum", "github.com/lib/pq v1.10.9 h1:x=\n"),
        ("lib/go.mod", "module example.com/lib\n\ngo 1.24\n"),
        (
            "main.go",
            "// Command app.\npackage main\n\nimport (\n\t\"fmt\"\n\tsrv \"example.com/app/internal/server\"\n)\n\nfunc main() { fmt.Println(srv.Run()) }\n",
        ),
        ("main_test.go", "package main\n\nimport \"testing\"\n"),
        (
            "internal/server/server.go",
            "package server\n\nimport (\n\t\"net/http\"\n\t_ \"github.com/lib/pq\"\n\t\"example.com/app/internal/store\"\n)\n\nfunc Run() error { return http.ListenAndServe(\":8080\", nil) }\n",
        ),
        (
            "internal/server/console_windows.go",
            "package server\n\nimport \"golang.org/x/sys/windows\"\n",
        ),
        (
            "internal/server/debug.go",
            "//go:build debug\n\npackage server\n\nimport \"net/http/pprof\"\n",
        ),
        (
            "internal/store/store.go",
            "package store\n\nimport (\n\t\"database/sql\"\n\t\"example.com/lib/text\"\n)\n",
        ),
        (
            "lib/text/text.go",
            "package text\n\n/*\n#include <string.h>\n*/\nimport \"C\"\nimport . \"strings\"\n",
        ),
        // Not imported by the program: never read, its imports never compiled.
        ("tools/gen/gen.go", "package main\n\nimport \"go/ast\"\n"),
    ]
}

#[test]
fn the_deps_stage_compiles_exactly_what_the_program_imports_from_outside() {
    let files = layered_app();
    let (found, rounds) = probed("language = \"go\"\n", &files);
    assert!(rounds <= crate::context::MAX_ROUNDS, "{rounds} rounds");
    assert!(
        !found.exists("tools/gen/gen.go"),
        "a directory the program does not import is not read"
    );
    let p = plan(&spec("language = \"go\"\n"), &found).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        compile_ahead(&p),
        [
            format!(
                "GOCACHE=/go/deps-cache GOPROXY=off go build -trimpath database/sql fmt net/http strings{AHEAD_FAILED}"
            ),
            format!(
                "GOCACHE=/go/deps-cache GOPROXY=off go build -trimpath -mod=mod github.com/lib/pq{AHEAD_FAILED}"
            )
        ],
        "the standard library's and the modules' packages, sorted; not the local ones (the \
         module's, the replaced one's), not cgo's C, not tests', Windows' or another tag's"
    );
    let deps = runs(&p, StageName::Deps);
    assert!(
        deps[0].contains("go build -trimpath database/sql"),
        "the standard library's first, before the manifests are staged: {deps:?}"
    );
    assert_eq!(
        deps[1], "go mod download",
        "the modules' after the download"
    );
    let Step::Run(std) = &p.stage(StageName::Deps).unwrap().steps[0] else {
        panic!()
    };
    assert_eq!(
        std.cwd, "/",
        "outside the module: its manifests are not there yet"
    );
    // The flags that change what the compiler is given follow the build's.
    let tagged = "language = \"go\"\n[go]\ntags = [\"debug\"]\ncgo = true\n";
    let (found, _) = probed(tagged, &files);
    let p = plan(&spec(tagged), &found).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        compile_ahead(&p),
        [
            format!(
                "GOCACHE=/go/deps-cache GOPROXY=off go build -trimpath -tags=debug database/sql fmt net/http net/http/pprof strings{AHEAD_FAILED}"
            ),
            format!(
                "GOCACHE=/go/deps-cache GOPROXY=off go build -trimpath -tags=debug -mod=mod github.com/lib/pq{AHEAD_FAILED}"
            )
        ]
    );
    let Some(Step::Run(step)) = p
        .stage(StageName::Deps)
        .unwrap()
        .steps
        .iter()
        .find(|s| s.title().contains("-tags=debug"))
    else {
        panic!()
    };
    assert!(step.env.contains(&("CGO_ENABLED".into(), "1".into())));
    assert_eq!(
        compile_ahead(&p),
        compile_ahead(&plan(&spec(tagged), &found).unwrap()),
        "deterministic"
    );
}

#[test]
fn a_body_edit_keeps_the_compiled_dependencies_and_a_new_import_recompiles_them() {
    // (std, modules): the keys of the two compile-ahead steps.
    let keys = |files: &[(&str, &str)]| {
        let (found, _) = probed(SPEC, files);
        let p = plan(&spec(SPEC), &found).unwrap_or_else(|e| panic!("{e}"));
        (
            step_key(&p, "go build -trimpath context", files),
            step_key(&p, "go build -trimpath -mod=mod", files),
        )
    };
    let before = keys(&example());
    let edited = MAIN_GO.replace("\"Hello\": \"World\"", "\"Hello\": \"Strata\"");
    assert_ne!(edited, MAIN_GO);
    let mut files = example();
    files[2] = ("main.go", &edited);
    assert_eq!(keys(&files), before, "an app edit leaves both steps cached");
    let imported = MAIN_GO.replace("\"log\"\n", "\"log\"\n\t\"crypto/sha256\"\n");
    assert_ne!(imported, MAIN_GO);
    files[2] = ("main.go", &imported);
    let after = keys(&files);
    assert_ne!(after.0, before.0, "a new import compiles it ahead");
    assert_ne!(after.1, before.1, "(and what follows re-runs)");
    // A dependency edit re-runs the modules' compile, not the standard library's.
    let sum = format!("{GO_SUM}golang.org/x/text v0.21.0 h1:x=\n");
    let mut files = example();
    files[1] = ("go.sum", &sum);
    let after = keys(&files);
    assert_eq!(after.0, before.0, "the standard library stays compiled");
    assert_ne!(after.1, before.1);
}

#[test]
fn local_imports_are_followed_within_the_rounds_the_reader_allows() {
    // A workspace (its modules are known only in the second round) whose main package starts a
    // chain deeper than the limit: each package imports the next and one module package.
    let depth = super::MAX_IMPORT_DEPTH + 3;
    let mut owned: Vec<(String, String)> = vec![
        ("go.work".into(), "go 1.24\nuse ./svc\n".into()),
        ("svc/go.mod".into(), "module m\n\ngo 1.24\n".into()),
        (
            "svc/main.go".into(),
            "package main\n\nimport _ \"m/p1\"\n".into(),
        ),
    ];
    for i in 1..=depth {
        owned.push((
            format!("svc/p{i}/p.go"),
            format!(
                "package p\n\nimport (\n\t_ \"m/p{}\"\n\t_ \"example.org/d{i}\"\n)\n",
                i + 1
            ),
        ));
    }
    let files: Vec<(&str, &str)> = owned
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let spec_text = "language = \"go\"\n[go]\nmain = \"./svc\"\n";
    let (found, rounds) = probed(spec_text, &files);
    assert!(rounds <= crate::context::MAX_ROUNDS, "{rounds} rounds");
    let p = plan(&spec(spec_text), &found).unwrap_or_else(|e| panic!("{e}"));
    let ahead = compile_ahead(&p).join("\n");
    for i in 1..=depth {
        assert_eq!(
            ahead.contains(&format!(" example.org/d{i} ")),
            i <= super::MAX_IMPORT_DEPTH,
            "d{i}: {ahead}"
        );
    }
}
