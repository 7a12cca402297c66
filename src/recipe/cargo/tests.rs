use super::*;
use crate::recipe::tests::context;

fn manifest(file: &str, text: &str) -> Manifest {
    Manifest::parse(file, text).unwrap()
}

fn normalized(text: &str) -> String {
    emit(&normalize_manifest(&manifest("Cargo.toml", text)), "")
}

fn files(generated: &[GeneratedFile]) -> BTreeMap<&str, &str> {
    generated
        .iter()
        .map(|f| (f.path.as_str(), std::str::from_utf8(&f.contents).unwrap()))
        .collect()
}

const APP: &str = r#"[package]
name = "app"
version = "1.4.2"
edition = "2021"
description = "An app"
authors = ["A <a@example.com>"]
license = "MIT"
readme = "README.md"
build = "build/main.rs"

[package.metadata.docs.rs]
all-features = true

[dependencies]
serde = { version = "1.0.200", features = ["derive"] }
lib = { path = "../lib", version = "1.4" }

[target.'cfg(unix)'.dependencies]
unixy = { path = "../unixy", version = "=0.3.0" }

[dev-dependencies]
pretty = "1"

[lints.rust]
missing_docs = "deny"

[badges]
maintenance = { status = "actively-developed" }

[profile.release]
lto = true
"#;

#[test]
fn the_skeleton_manifest_masks_the_version_and_drops_lints_and_descriptions() {
    let out = normalized(APP);
    let doc: Table = toml::from_str(&out).unwrap();
    assert_eq!(doc["package"]["version"].as_str(), Some(MASKED_VERSION));
    assert_eq!(doc["package"]["name"].as_str(), Some("app"));
    assert_eq!(doc["package"]["edition"].as_str(), Some("2021"));
    assert_eq!(
        doc["package"]["build"].as_str(),
        Some("build/main.rs"),
        "what compiles stays"
    );
    for k in ["description", "authors", "license", "readme", "metadata"] {
        assert!(doc["package"].get(k).is_none(), "{k} is dropped");
    }
    assert!(doc.get("lints").is_none());
    assert!(doc.get("badges").is_none());
    assert_eq!(doc["profile"]["release"]["lto"].as_bool(), Some(true));
    // Registry requirements stay; a path dependency's requirement would not match 0.0.0.
    assert_eq!(
        doc["dependencies"]["serde"]["version"].as_str(),
        Some("1.0.200")
    );
    assert_eq!(
        doc["dependencies"]["serde"]["features"][0].as_str(),
        Some("derive")
    );
    assert!(doc["dependencies"]["lib"].get("version").is_none());
    assert_eq!(doc["dependencies"]["lib"]["path"].as_str(), Some("../lib"));
    assert!(
        doc["target"]["cfg(unix)"]["dependencies"]["unixy"]
            .get("version")
            .is_none()
    );
    assert_eq!(doc["dev-dependencies"]["pretty"].as_str(), Some("1"));
}

#[test]
fn the_workspace_package_version_and_lints_are_masked_where_members_inherit_them() {
    let root = r#"[workspace]
members = ["crates/*"]
resolver = "2"

[workspace.package]
version = "2.0.0"
edition = "2021"
repository = "https://example.com/x"

[workspace.lints.clippy]
pedantic = "deny"

[workspace.dependencies]
lib = { path = "crates/lib", version = "2.0.0" }
anyhow = "1"

[workspace.metadata.release]
shared = true
"#;
    let doc: Table = toml::from_str(&normalized(root)).unwrap();
    let w = &doc["workspace"];
    assert_eq!(w["package"]["version"].as_str(), Some(MASKED_VERSION));
    assert_eq!(w["package"]["edition"].as_str(), Some("2021"));
    assert!(w["package"].get("repository").is_none());
    assert!(w.get("lints").is_none() && w.get("metadata").is_none());
    assert!(w["dependencies"]["lib"].get("version").is_none());
    assert_eq!(w["dependencies"]["anyhow"].as_str(), Some("1"));
    assert_eq!(w["members"][0].as_str(), Some("crates/*"));

    let member = "[package]\nname = \"m\"\nversion.workspace = true\nrepository.workspace = true\n\n[lints]\nworkspace = true\n";
    let doc: Table = toml::from_str(&normalized(member)).unwrap();
    assert_eq!(
        doc["package"]["version"]["workspace"].as_bool(),
        Some(true),
        "an inherited version is masked in the workspace"
    );
    assert!(doc["package"].get("repository").is_none());
    assert!(doc.get("lints").is_none());
}

#[test]
fn a_version_bump_or_a_lint_or_a_comment_leaves_the_skeleton_manifest_unchanged() {
    let before = normalized(APP);
    let bumped = APP.replace("version = \"1.4.2\"", "version = \"1.5.0\"");
    let linted = APP.replace(
        "missing_docs = \"deny\"",
        "missing_docs = \"warn\"\nunsafe_code = \"forbid\"",
    );
    let described = APP.replace("An app", "An app that does more");
    let reformatted = APP.replace(
        "serde = { version = \"1.0.200\", features = [\"derive\"] }\n",
        "",
    ) + "\n# serialization\n[dependencies.serde]\nfeatures = [ \"derive\" ]\nversion = \"1.0.200\"\n";
    let unversioned = APP.replace("version = \"1.4.2\"\n", "");
    for (what, text) in [
        ("version bump", bumped),
        ("no version", unversioned),
        ("lint", linted),
        ("description", described),
        ("layout", reformatted),
    ] {
        assert_eq!(normalized(&text), before, "{what}");
    }
    // What the dependencies are does change it.
    let added = APP.replace("pretty = \"1\"", "pretty = \"1\"\nitoa = \"1\"");
    assert_ne!(normalized(&added), before);
    let featured = APP.replace("[\"derive\"]", "[\"derive\", \"rc\"]");
    assert_ne!(normalized(&featured), before);
}

#[test]
fn the_skeleton_manifest_is_valid_toml_in_a_fixed_order() {
    let out = normalized(APP);
    assert_eq!(normalized(APP), out, "same input, same bytes");
    let again = manifest("Cargo.toml", &out);
    assert_eq!(
        emit(&normalize_manifest(&again), ""),
        out,
        "normalizing is idempotent"
    );
    assert!(out.starts_with("[package]\n"), "{out}");
    let package_keys: Vec<&str> = out
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(package_keys, ["build", "edition", "name", "version"]);
    let tables: Vec<&str> = out.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(
        tables,
        [
            "[package]",
            "[dependencies.lib]",
            "[dependencies.serde]",
            "[dev-dependencies]",
            "[profile.release]",
            "[target.\"cfg(unix)\".dependencies.unixy]"
        ]
    );
}

const LOCK: &str = r#"# This file is automatically @generated by Cargo.
# It is not intended for manual editing.
version = 4

[[package]]
name = "app"
version = "1.4.2"
dependencies = [
 "lib",
 "serde 1.0.200",
 "serde 0.9.15",
]

[[package]]
name = "lib"
version = "1.4.2"

[[package]]
name = "serde"
version = "0.9.15"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "34b623917345a631dc9608d5194cc206b3fe6c3554cd1c75b937e55e285254af"

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "ddc6f9cc94d67c0e21aaf7eda3a010fd3af78ebf6e096aa6e2e13c79749cce4f"
dependencies = [
 "serde_derive",
]
"#;

#[test]
fn the_skeleton_lockfile_masks_local_versions_only() {
    let out = Lockfile::parse(LOCK).unwrap().normalized();
    let expected = LOCK
        .replace(
            "name = \"app\"\nversion = \"1.4.2\"",
            "name = \"app\"\nversion = \"0.0.0\"",
        )
        .replace(
            "name = \"lib\"\nversion = \"1.4.2\"",
            "name = \"lib\"\nversion = \"0.0.0\"",
        );
    assert_eq!(out, expected);
    // Cargo's own layout: a lockfile whose local versions are masked already comes out as it went in.
    assert_eq!(Lockfile::parse(&out).unwrap().normalized(), out);
    let bumped = LOCK.replacen("version = \"1.4.2\"", "version = \"1.5.0\"", 1);
    assert_eq!(Lockfile::parse(&bumped).unwrap().normalized(), out);
}

#[test]
fn a_dependency_on_a_local_crate_named_with_its_version_is_masked_too() {
    // When a local crate shares its name with a locked registry crate, cargo writes `name version`.
    let lock = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"1.0.0\"\ndependencies = [\n \"log 0.3.1\",\n \"log 0.4.22\",\n]\n\n[[package]]\nname = \"log\"\nversion = \"0.3.1\"\n\n[[package]]\nname = \"log\"\nversion = \"0.4.22\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
    let out = Lockfile::parse(lock).unwrap().normalized();
    assert!(out.contains(" \"log 0.0.0\",\n \"log 0.4.22\",\n"), "{out}");
    assert!(
        out.contains("name = \"log\"\nversion = \"0.0.0\"\n\n"),
        "{out}"
    );
}

#[test]
fn toml_errors_are_located_in_the_file() {
    let e = Manifest::parse(
        "crates/a/Cargo.toml",
        "[package]\nname = \"a\"\nversion = 1.0.0\n",
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "crates/a/Cargo.toml:3:14: invalid TOML: invalid float, expected nothing"
    );
    let e = Lockfile::parse("version = 4\n[[package]\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("Cargo.lock:2:"), "{e}");
}

const ROOT: &str =
    "[workspace]\nmembers = [\"crates/*\", \"tools/cli\"]\nexclude = [\"crates/old\"]\n";

fn workspace_ctx(extra: &[(&'static str, &'static str)]) -> ContextFiles {
    let mut files = vec![
        ("Cargo.toml", ROOT),
        (
            "crates/app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"1.0.0\"\n[dependencies]\nlib = { path = \"../lib\" }\nshared = { path = \"../../shared\" }\n",
        ),
        ("crates/app/src/main.rs", "fn main() { lib::run() }"),
        ("crates/app/src/bin/admin.rs", "fn main() {}"),
        ("crates/app/src/bin/worker/main.rs", "fn main() {}"),
        ("crates/app/tests/api.rs", "#[test] fn t() {}"),
        ("crates/app/build.rs", "fn main() {}"),
        (
            "crates/lib/Cargo.toml",
            "[package]\nname = \"lib\"\nversion = \"1.0.0\"\n\n[[bench]]\nname = \"speed\"\nharness = false\n\n[[example]]\nname = \"demo\"\npath = \"demo/demo.rs\"\n",
        ),
        ("crates/lib/src/lib.rs", "pub fn run() {}"),
        ("crates/lib/benches/speed.rs", "fn main() {}"),
        ("crates/old/Cargo.toml", "[package]\nname = \"old\"\n"),
        (
            "shared/Cargo.toml",
            "[package]\nname = \"shared\"\nversion = \"0.1.0\"\n[dependencies]\ninner = { path = \"inner\" }\n",
        ),
        ("shared/src/lib.rs", "pub fn s() {}"),
        ("shared/inner/Cargo.toml", "[package]\nname = \"inner\"\n"),
        ("shared/inner/src/lib.rs", ""),
        (
            "tools/cli/Cargo.toml",
            "[package]\nname = \"cli\"\n[[bin]]\nname = \"tool\"\npath = \"main.rs\"\n",
        ),
    ];
    files.extend(extra);
    context(&files)
}

#[test]
fn members_and_the_path_dependencies_they_reach_are_the_local_packages() {
    let ws = Workspace::discover(&workspace_ctx(&[]));
    assert!(ws.errors.is_empty(), "{:?}", ws.errors);
    let files: Vec<&str> = ws.manifests.iter().map(|m| m.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "Cargo.toml",
            "crates/app/Cargo.toml",
            "crates/lib/Cargo.toml",
            "shared/Cargo.toml",
            "shared/inner/Cargo.toml",
            "tools/cli/Cargo.toml"
        ],
        "excluded members are left out; path dependencies are followed"
    );
    // What to list next: member manifests and the target files of each package.
    for p in [
        "crates/*/Cargo.toml",
        "tools/cli/Cargo.toml",
        "crates/app/src/bin/*.rs",
        "shared/inner/src/lib.rs",
        "tools/cli/tests/*.rs",
    ] {
        assert!(ws.wanted.contains(&p.to_string()), "{p}: {:?}", ws.wanted);
    }
    assert!(
        !ws.wanted.iter().any(|w| w == "src/main.rs"),
        "a virtual root has no targets"
    );
    assert!(
        !ws.wanted.iter().any(|w| w == "shared/inner/Cargo.toml"),
        "a path dependency's manifest already listed is not asked for again"
    );
}

#[test]
fn the_first_round_knows_only_the_root() {
    let ctx = context(&[("Cargo.toml", ROOT)]);
    let ws = Workspace::discover(&ctx);
    assert_eq!(ws.wanted, ["crates/*/Cargo.toml", "tools/cli/Cargo.toml"]);
    assert_eq!(ws.errors.len(), 1, "a literal member without a manifest");
    assert_eq!(
        ws.errors[0].to_string(),
        "Cargo.toml:2:24: workspace member `tools/cli` has no Cargo.toml in the build context (check the path, and that .dockerignore does not exclude it)"
    );
}

#[test]
fn path_dependencies_outside_the_context_or_missing_are_located_errors() {
    let ctx = context(&[
        (
            "Cargo.toml",
            "[package]\nname = \"app\"\n\n[dependencies]\nup = { path = \"../up\" }\n\n[dev-dependencies.gone]\npath = \"vendor/gone\"\n\n[build-dependencies]\ngone = { path = \"vendor/gone\" }\n",
        ),
        ("src/main.rs", ""),
    ]);
    let ws = Workspace::discover(&ctx);
    let errors: Vec<String> = ws.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "Cargo.toml:5:15: `up` is a path dependency on `../up`, outside the build context (BuildKit sends only the build context: move the crate inside it and list it in the root Cargo.toml's `[workspace] members`)",
            "Cargo.toml:8:8: `gone` is a path dependency on `vendor/gone`, but the build context has no vendor/gone/Cargo.toml (check the path, and that .dockerignore does not exclude it)"
        ]
    );
    assert!(ws.wanted.contains(&"vendor/gone/Cargo.toml".to_string()));
}

#[test]
fn every_target_gets_a_stub_and_no_source_is_copied() {
    let ctx = workspace_ctx(&[]);
    let ws = Workspace::discover(&ctx);
    let lock = Lockfile::parse("version = 4\n").unwrap();
    let generated = skeleton(&ws, &lock, &ctx);
    let f = files(&generated);
    let paths: Vec<&str> = f.keys().copied().collect();
    assert_eq!(
        paths,
        [
            "Cargo.lock",
            "Cargo.toml",
            "crates/app/Cargo.toml",
            "crates/app/build.rs",
            "crates/app/src/bin/admin.rs",
            "crates/app/src/bin/worker/main.rs",
            "crates/app/src/main.rs",
            "crates/app/tests/api.rs",
            "crates/lib/Cargo.toml",
            "crates/lib/benches/speed.rs",
            "crates/lib/demo/demo.rs",
            "crates/lib/src/lib.rs",
            "shared/Cargo.toml",
            "shared/inner/Cargo.toml",
            "shared/inner/src/lib.rs",
            "shared/src/lib.rs",
            "tools/cli/Cargo.toml",
            "tools/cli/main.rs",
        ]
    );
    assert_eq!(f["crates/app/src/main.rs"], "fn main() {}\n");
    assert_eq!(f["crates/app/build.rs"], "fn main() {}\n");
    assert_eq!(f["crates/lib/src/lib.rs"], "", "a library stub is empty");
    assert_eq!(
        f["crates/app/tests/api.rs"], "",
        "the test harness supplies main"
    );
    assert_eq!(
        f["crates/lib/benches/speed.rs"], "fn main() {}\n",
        "harness = false: the bench has its own main"
    );
    assert_eq!(f["crates/lib/demo/demo.rs"], "fn main() {}\n");
    assert!(
        f["crates/app/Cargo.toml"].contains("version = \"0.0.0\""),
        "{}",
        f["crates/app/Cargo.toml"]
    );
    assert!(
        generated.iter().all(|g| !g.executable),
        "nothing generated is executable"
    );
    let again = skeleton(&Workspace::discover(&ctx), &lock, &ctx);
    assert_eq!(again, generated, "deterministic");
}

#[test]
fn declared_targets_without_a_path_are_stubbed_where_cargo_looks() {
    let ctx = context(&[
        (
            "Cargo.toml",
            "[package]\nname = \"p\"\nbuild = false\n[lib]\npath = \"lib/p.rs\"\n[[test]]\nname = \"it\"\nharness = false\n[[test]]\nname = \"nested\"\n",
        ),
        ("tests/nested/main.rs", ""),
    ]);
    let ws = Workspace::discover(&ctx);
    let f = skeleton(&ws, &Lockfile::parse("").unwrap(), &ctx);
    let f = files(&f);
    assert_eq!(f["lib/p.rs"], "");
    assert_eq!(f["tests/it.rs"], "fn main() {}\n");
    assert_eq!(f["tests/nested/main.rs"], "");
    assert!(!f.contains_key("build.rs"));
}

#[test]
fn binaries_are_named_as_cargo_names_them() {
    let ctx = workspace_ctx(&[]);
    let ws = Workspace::discover(&ctx);
    let bins = |file: &str| binaries(ws.manifests.iter().find(|m| m.file == file).unwrap(), &ctx);
    assert_eq!(bins("crates/app/Cargo.toml"), ["admin", "app", "worker"]);
    assert_eq!(bins("crates/lib/Cargo.toml"), Vec::<String>::new());
    assert_eq!(bins("tools/cli/Cargo.toml"), ["tool"]);
    assert_eq!(
        bins("Cargo.toml"),
        Vec::<String>::new(),
        "a virtual manifest"
    );

    let ctx = context(&[
        (
            "Cargo.toml",
            "[package]\nname = \"p\"\nautobins = false\n[[bin]]\nname = \"only\"\npath = \"src/main.rs\"\n",
        ),
        ("src/main.rs", ""),
        ("src/bin/extra.rs", ""),
    ]);
    let m = manifest("Cargo.toml", ctx.text("Cargo.toml").unwrap());
    assert_eq!(binaries(&m, &ctx), ["only"]);
}

#[test]
fn the_toolchain_file_is_read_as_rustup_reads_it() {
    let tc = toolchain(&context(&[(
        "rust-toolchain.toml",
        "[toolchain]\nchannel = \"1.86.0\"\ncomponents = [\"clippy\"]\n",
    )]))
    .unwrap()
    .unwrap();
    assert_eq!(tc.channel, "1.86.0");
    assert_eq!(
        tc.location,
        Location::File {
            name: "rust-toolchain.toml".into(),
            start: Position {
                line: 2,
                column: 11
            },
            end: Position {
                line: 2,
                column: 19
            },
        }
    );
    // The legacy file wins, and may be a bare channel name.
    let tc = toolchain(&context(&[
        ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.86\"\n"),
        ("rust-toolchain", "\n  nightly-2024-05-01\n"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(tc.channel, "nightly-2024-05-01");
    assert!(matches!(
        tc.location,
        Location::File {
            start: Position { line: 2, column: 3 },
            ..
        }
    ));
    assert_eq!(toolchain(&context(&[])).unwrap(), None);
    assert!(
        toolchain(&context(&[("rust-toolchain.toml", "[toolchain\n")]))
            .unwrap_err()
            .to_string()
            .starts_with("rust-toolchain.toml:1:")
    );
}

#[test]
fn versions_compare_at_the_precision_of_the_image() {
    let v = |s| numeric_version(s).unwrap();
    assert_eq!(numeric_version("1.85.0"), Some(vec![1, 85, 0]));
    assert_eq!(numeric_version("stable"), None);
    assert_eq!(numeric_version("1.85-x86_64-unknown-linux-gnu"), None);
    assert!(newer_than(&v("1.86"), &v("1.85")));
    assert!(newer_than(&v("1.85.1"), &v("1.85.0")));
    assert!(!newer_than(&v("1.85.3"), &v("1.85")), "1.85 covers 1.85.x");
    assert!(!newer_than(&v("1.90"), &v("1")), "1 is the newest 1.x");
    assert!(!newer_than(&v("1.84"), &v("1.85")));
}

#[test]
fn the_build_target_of_cargo_config_is_read() {
    assert_eq!(
        config_build_target(&context(&[(
            ".cargo/config.toml",
            "[build]\ntarget = \"x86_64-unknown-linux-musl\"\n"
        )]))
        .unwrap()
        .as_deref(),
        Some("x86_64-unknown-linux-musl")
    );
    assert_eq!(
        config_build_target(&context(&[(
            ".cargo/config.toml",
            "[net]\noffline = true\n"
        )]))
        .unwrap(),
        None
    );
    assert_eq!(
        config_build_target(&context(&[(
            ".cargo/config.toml",
            "[build]\ntarget = [\"a\", \"b\"]\n"
        )]))
        .unwrap_err()
        .to_string(),
        ".cargo/config.toml:2:10: `build.target` names several targets; Strata builds one binary for the image's platform (name one target, or remove `build.target`)"
    );
}
