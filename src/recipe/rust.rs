//! Rust with cargo. The dependencies compile in the deps stage against a skeleton Strata generates
//! from the manifests (`cargo.rs`: normalized manifests and lockfile, stub sources), never from the
//! source; the source copy then rebuilds only the local crates, offline; the image is the binary
//! alone on a slim runtime.
//!
//! Caches (research §0 rule 1): the build after the source copy reads the dependencies' sources
//! again (cargo opens every locked package, compiled or not), so a registry on a cache mount
//! would have to be mounted there too, and could be empty then. Instead the download cache,
//! `$CARGO_HOME/registry` (and `git/db`), is mounted for one step only, `cargo vendor`, which
//! copies exactly the locked packages' sources out of it into the layer (`/opt/cargo-vendor`) and
//! writes the source-replacement config that points cargo there. Every later cargo call passes
//! that config and `--offline`: the layers hold everything the build needs, whatever the cache
//! holds. The dependencies compile in `target/` on a build-output cache mount of the package and
//! platform, so a dependency edit compiles only what it adds; the deps layer then keeps a copy
//! of it at the same path (`DepStep::Compile`), so the build after the source copy, which runs
//! without the mount, and another machine given `--cache-from` find them compiled.

use super::cargo::{self, Lockfile, Manifest, Workspace, numeric_version};
use super::{
    Artefact, Conventions, DepStep, Recipe, Runtime, Setup, build_cache, cache, env_list,
    resolve_manifests, shell_word,
};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::plan::Sharing;
use crate::reference::ImageRef;
use crate::spec::{Command, Located, OptionValue, Spec};

pub struct Rust;

/// `rust:1-slim-bookworm`: the newest 1.x, built on the Debian release of the runtime image, so
/// the binary finds the glibc it was linked against.
const DEFAULT_VERSION: &str = "1";
const RUNTIME_GLIBC: &str = "debian:bookworm-slim";
const RUNTIME_STATIC: &str = "gcr.io/distroless/static-debian12";
const CARGO_HOME: &str = "/usr/local/cargo";
const VENDOR_DIR: &str = "/opt/cargo-vendor";
const VENDOR_CONFIG: &str = "/opt/cargo-vendor.toml";
const BIN_DIR: &str = "/usr/local/bin";
const MUSL_TARGET: &str = "\"$(uname -m)-unknown-linux-musl\"";

/// What the recipe lists first; member manifests and target files follow once these are read.
const ROOT_FILES: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain.toml",
    "rust-toolchain",
];
/// Staged as they are, when present: cargo's and rustup's configuration.
const STAGED: &[&str] = &[
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain.toml",
    "rust-toolchain",
];
/// The keys of the spec's `[rust]` table.
const OPTIONS: &[&str] = &["bin", "package", "musl"];

#[derive(Debug, Default)]
struct Options {
    bin: Option<Located<String>>,
    package: Option<Located<String>>,
    musl: bool,
}

impl Recipe for Rust {
    fn language(&self) -> &'static str {
        "rust"
    }

    fn probe(&self, spec: &Spec, found: &ContextFiles) -> Vec<String> {
        let mut patterns: Vec<String> = ROOT_FILES.iter().map(|f| f.to_string()).collect();
        if let Some(list) = &spec.manifests {
            patterns.extend(list.iter().map(|m| m.value.clone()));
        }
        patterns.extend(Workspace::discover(found).wanted);
        let mut seen = std::collections::BTreeSet::new();
        patterns.retain(|p| seen.insert(p.clone()));
        patterns
    }

    fn files_to_read(&self, _spec: &Spec, listed: &[&str]) -> Vec<String> {
        listed
            .iter()
            .filter(|f| f.ends_with("/Cargo.toml") || ROOT_FILES.contains(f))
            .map(|f| f.to_string())
            .collect()
    }

    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics> {
        let opts = options(spec)?;
        if let Some(pm) = &spec.package_manager {
            if pm.value != "cargo" {
                return Err(Diagnostic::at(
                    &spec.source,
                    pm.span.clone(),
                    format!("package manager `{}` is not one for rust", pm.value),
                )
                .help("rust projects build with cargo: remove `package_manager` or set it to \"cargo\"")
                .into());
            }
        }
        let at_language = |message: &str| {
            Diagnostic::at(
                &spec.source,
                spec.language.span.clone(),
                message.to_string(),
            )
        };
        if !ctx.exists("Cargo.toml") {
            return Err(at_language("no Cargo.toml in the build context")
                .help("rust projects need Cargo.toml (and Cargo.lock) at the root of the build context")
                .into());
        }
        let ws = Workspace::discover(ctx);
        if !ws.errors.is_empty() {
            return Err(Diagnostics(ws.errors));
        }
        let Some(lock_text) = ctx.text("Cargo.lock") else {
            return Err(at_language("no Cargo.lock in the build context: the dependency build installs exactly what a lockfile pins")
                .help("run `cargo generate-lockfile` and commit Cargo.lock (and keep it out of .dockerignore)")
                .into());
        };
        let lock = Lockfile::parse(lock_text)?;
        let (package, bin) = choose_binary(spec, &opts, &ws, ctx)?;
        let (version, notes) = choose_version(spec, ctx)?;
        let config_target = cargo::config_build_target(ctx)?;

        // The skeleton is generated; cargo's and rustup's configuration and the spec's own
        // `manifests` are staged as they are.
        let skeleton = cargo::skeleton(&ws, &lock, ctx);
        let generated: Vec<&str> = ws
            .manifests
            .iter()
            .map(|m| m.file.as_str())
            .chain(["Cargo.lock"])
            .collect();
        let extra = match spec.manifests {
            Some(_) => resolve_manifests(spec, ctx, &[])?.1,
            None => Vec::new(),
        };
        let mut staged: Vec<String> = STAGED
            .iter()
            .filter(|f| ctx.exists(f))
            .map(|f| f.to_string())
            .chain(extra)
            .filter(|f| !generated.contains(&f.as_str()))
            .collect();
        staged.sort();
        staged.dedup();
        let mut manifests: Vec<String> = generated
            .iter()
            .map(|f| f.to_string())
            .chain(staged.iter().cloned())
            .collect();
        manifests.sort();

        let commands = Commands {
            package: &package,
            bin: &bin,
            musl: opts.musl,
            config_target: config_target.as_deref(),
            vendored: spec.install.is_none(),
            locals: local_specs(&ws, &lock, &package),
        };
        let mut deps = Vec::new();
        if !staged.is_empty() {
            deps.push(DepStep::Stage {
                patterns: staged.clone(),
                files: staged.clone(),
            });
        }
        deps.push(DepStep::Generate {
            what: "dependency skeleton".into(),
            dir: None,
            files: skeleton,
        });
        deps.push(DepStep::Fetch(format!(
            "cargo vendor --locked --respect-source-config {VENDOR_DIR} > {VENDOR_CONFIG}"
        )));
        // The dependencies compile in a target dir on a cache mount of this package and platform,
        // so a dependency edit compiles only the crates it adds or changes; the layer then keeps
        // a copy at the same path (cargo's target dir records absolute paths), for the build
        // after the source copy, which runs without the mount, and for `--cache-from`. After the
        // copy, cargo runs again: nothing to do when the cache was complete, the missing crates
        // when it was emptied (BuildKit prunes cache mounts apart from the layers that used
        // them); then the stubs' artefacts leave the layer (an app edit runs one step after the
        // source copy, not two). The cache keeps them: only these steps ever build there.
        deps.push(DepStep::Compile {
            command: commands.cargo_build(),
            output: build_cache(
                &target_dir(spec),
                spec,
                "cargo-target",
                &package,
                Sharing::Locked,
            ),
            then: Some(format!(
                "{} && {}",
                commands.cargo_build(),
                commands.clean()
            )),
        });

        let image = |r: &str| ImageRef::parse(r).expect("a valid built-in image reference");
        let default_image =
            ImageRef::parse(&format!("rust:{version}-slim-bookworm")).map_err(|e| {
                let span = spec.version.as_ref().map_or(0..0, |v| v.span.clone());
                Diagnostics::from(Diagnostic::at(
                    &spec.source,
                    span,
                    format!("`version`: {e}"),
                ))
            })?;
        let installed = format!("{BIN_DIR}/{bin}");
        Ok(Conventions {
            package_manager: "cargo".into(),
            default_image,
            manifest_patterns: staged,
            manifests,
            setup: opts
                .musl
                .then(|| format!("rustup target add {MUSL_TARGET}"))
                .map(Setup::from)
                .into_iter()
                .collect(),
            deps,
            caches: vec![
                cache(
                    &format!("{CARGO_HOME}/registry"),
                    spec,
                    "cargo-registry",
                    Sharing::Locked,
                ),
                cache(
                    &format!("{CARGO_HOME}/git/db"),
                    spec,
                    "cargo-git",
                    Sharing::Locked,
                ),
            ],
            env: Vec::new(),
            runtime_env: Vec::new(),
            build_env: env_list(&[
                ("CARGO_HOME", CARGO_HOME),
                ("CARGO_TARGET_DIR", &target_dir(spec)),
            ]),
            // A spec's own `install` replaces the step above: its stubs are forgotten after the
            // source copy instead.
            after_source: if spec.install.is_some() {
                vec![commands.clean()]
            } else {
                Vec::new()
            },
            build: Some(commands.build()),
            after_build: None,
            run: Some(Command::Exec(vec![installed.clone()])),
            run_help: String::new(),
            runtime: Runtime {
                image: Some(image(if opts.musl {
                    RUNTIME_STATIC
                } else {
                    RUNTIME_GLIBC
                })),
                artefacts: vec![Artefact {
                    from: installed.clone(),
                    to: installed,
                }],
                copy_workdir: false,
            },
            app_exclude: vec!["target".into()],
            notes,
        })
    }
}

/// Where cargo compiles: in the workdir, where it would without Strata.
fn target_dir(spec: &Spec) -> String {
    format!("{}/target", spec.workdir.trim_end_matches('/'))
}

/// The cargo invocations, built the same way for the dependency build and the real one so both
/// compile the same units.
struct Commands<'a> {
    package: &'a str,
    bin: &'a str,
    musl: bool,
    /// `build.target` from `.cargo/config.toml`.
    config_target: Option<&'a str>,
    /// The recipe's own install ran: `cargo vendor` wrote the config every later call uses.
    vendored: bool,
    /// `-p` specs of every local package.
    locals: Vec<String>,
}

impl Commands<'_> {
    /// `--offline` with the vendored sources, `--target` for musl.
    fn flags(&self) -> String {
        let mut f = String::new();
        if self.vendored {
            f.push_str(&format!(" --offline --config {VENDOR_CONFIG}"));
        }
        if self.musl {
            f.push_str(&format!(" --target {MUSL_TARGET}"));
        }
        f
    }

    fn cargo_build(&self) -> String {
        format!(
            "cargo build --release --locked{} -p {} --bin {}",
            self.flags(),
            shell_word(self.package),
            shell_word(self.bin)
        )
    }

    /// Forgets what the stubs compiled to: the copied sources can be older than those artefacts
    /// (a copy keeps mtimes), and cargo would take the stubs as up to date.
    fn clean(&self) -> String {
        let packages: Vec<String> = self
            .locals
            .iter()
            .map(|p| format!("-p {}", shell_word(p)))
            .collect();
        format!(
            "cargo clean --release{} {}",
            self.flags(),
            packages.join(" ")
        )
    }

    /// The real build, and the binary put where the image runs it from.
    fn build(&self) -> String {
        let dir = match (self.musl, self.config_target) {
            (true, _) => format!("target/{MUSL_TARGET}/release"),
            (false, Some(t)) => format!("target/{}/release", shell_word(t)),
            (false, None) => "target/release".into(),
        };
        let bin = shell_word(self.bin);
        format!("{} && cp {dir}/{bin} {BIN_DIR}/{bin}", self.cargo_build())
    }
}

/// `-p` specs for the local packages the lockfile has (cargo refuses a spec that matches nothing,
/// such as an unused `[workspace.dependencies]` path entry), and the one built: the name, or
/// `name@version` when the lockfile has other packages of that name (a local fork of a crates.io
/// crate), which makes the name ambiguous.
fn local_specs(ws: &Workspace, lock: &Lockfile, built: &str) -> Vec<String> {
    let locked = lock.packages();
    let mut specs: Vec<String> = ws
        .packages()
        .filter_map(Manifest::name)
        .filter_map(|name| {
            let same: Vec<_> = locked.iter().filter(|p| p.name == name).collect();
            match same.iter().find(|p| p.source.is_none()) {
                Some(local) if same.len() > 1 => Some(format!("{name}@{}", local.version)),
                Some(_) => Some(name.to_string()),
                None => (name == built).then(|| name.to_string()),
            }
        })
        .collect();
    specs.sort();
    specs.dedup();
    specs
}

/// The spec's `[rust]` table, checked: unknown keys (with the closest known one) and wrong types
/// are errors at their place in the spec.
fn options(spec: &Spec) -> Result<Options, Diagnostics> {
    let mut opts = Options::default();
    let mut errors = Vec::new();
    for (k, v) in &spec.language_options {
        let wrong = |expected: &str| {
            Diagnostic::at(
                &spec.source,
                v.span.clone(),
                format!(
                    "`rust.{}` must be {expected}, found {}",
                    k.value,
                    v.value.type_name()
                ),
            )
        };
        match (k.value.as_str(), &v.value) {
            ("bin", OptionValue::String(s)) => {
                opts.bin = Some(Located::new(s.clone(), v.span.clone()))
            }
            ("package", OptionValue::String(s)) => {
                opts.package = Some(Located::new(s.clone(), v.span.clone()))
            }
            ("musl", OptionValue::Bool(b)) => opts.musl = *b,
            ("bin" | "package", _) => errors.push(wrong("a string")),
            ("musl", _) => errors.push(wrong("a boolean")),
            (_, _) => errors.push(super::unknown_option(spec, k, OPTIONS, OPTIONS.join(", "))),
        }
    }
    if errors.is_empty() {
        Ok(opts)
    } else {
        Err(Diagnostics(errors))
    }
}

/// `` `a`, `b` `` for messages.
fn quoted(list: &[String]) -> String {
    list.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The package and binary to build: the one the spec names, or the only one there is.
fn choose_binary(
    spec: &Spec,
    opts: &Options,
    ws: &Workspace,
    ctx: &ContextFiles,
) -> Result<(String, String), Diagnostics> {
    let all: Vec<(String, String, Option<String>)> = ws
        .packages()
        .flat_map(|m| {
            let name = m.name().unwrap_or_default().to_string();
            let default_run = m
                .package()
                .and_then(|p| p.get("default-run"))
                .and_then(toml::Value::as_str)
                .map(String::from);
            cargo::binaries(m, ctx)
                .into_iter()
                .map(move |b| (name.clone(), b, default_run.clone()))
        })
        .collect();
    let packages: Vec<String> = ws
        .packages()
        .filter_map(Manifest::name)
        .map(String::from)
        .collect();
    let err = |span: std::ops::Range<usize>, message: String, help: String| {
        Diagnostics::from(Diagnostic::at(&spec.source, span, message).help(help))
    };
    let listing = |bins: &[&(String, String, Option<String>)]| {
        bins.iter()
            .map(|(p, b, _)| format!("`{b}` (package {p})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(p) = &opts.package {
        if !packages.contains(&p.value) {
            let help = match closest(&p.value, packages.iter().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("the workspace's packages: {}", quoted(&packages)),
            };
            return Err(err(
                p.span.clone(),
                format!("no package `{}` in the workspace", p.value),
                help,
            ));
        }
    }
    let in_package: Vec<&(String, String, Option<String>)> = all
        .iter()
        .filter(|(p, _, _)| opts.package.as_ref().is_none_or(|want| *p == want.value))
        .collect();
    let where_ = opts
        .package
        .as_ref()
        .map_or("the workspace".to_string(), |p| {
            format!("package `{}`", p.value)
        });
    if let Some(b) = &opts.bin {
        let matching: Vec<_> = in_package
            .iter()
            .filter(|(_, name, _)| *name == b.value)
            .collect();
        return match matching.as_slice() {
            [(p, name, _)] => Ok((p.clone(), name.clone())),
            [] => {
                let names: Vec<String> = in_package.iter().map(|(_, b, _)| b.clone()).collect();
                let help = match closest(&b.value, names.iter().map(String::as_str)) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None if names.is_empty() => format!("{where_} has no binary target"),
                    None => format!("the binaries: {}", listing(&in_package)),
                };
                Err(err(
                    b.span.clone(),
                    format!("no binary `{}` in {where_}", b.value),
                    help,
                ))
            }
            several => Err(err(
                b.span.clone(),
                format!(
                    "binary `{}` is in several packages: {}",
                    b.value,
                    several
                        .iter()
                        .map(|(p, _, _)| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "choose one with `package` in the spec's [rust] table".into(),
            )),
        };
    }
    let span = opts
        .package
        .as_ref()
        .map_or(spec.language.span.clone(), |p| p.span.clone());
    match in_package.as_slice() {
        [(p, b, _)] => Ok((p.clone(), b.clone())),
        [] => Err(err(
            span,
            format!("no binary target in {where_}: Strata builds a binary for the image"),
            "add src/main.rs or a [[bin]] target, or name the package with one in the spec's [rust] table, e.g. `package = \"server\"`".into(),
        )),
        several => {
            // One package with several binaries and a `default-run`: what `cargo run` picks.
            if let [(p, _, Some(default)), ..] = several {
                if several.iter().all(|(q, _, _)| q == p)
                    && several.iter().any(|(_, b, _)| b == default)
                {
                    return Ok((p.clone(), default.clone()));
                }
            }
            let first = &several[0].1;
            Err(err(
                span,
                format!("several binaries in {where_} and none named: {}", listing(several)),
                format!("choose one in the spec: `[rust]` then `bin = \"{first}\"`"),
            ))
        }
    }
}

/// The version of an official `rust` image's tag (`1.85-slim` → 1.85), when the image is one.
fn rust_image_version(image: &ImageRef) -> Option<Vec<u64>> {
    if image.domain != "docker.io" || image.path != "library/rust" {
        return None;
    }
    let tag = image.tag.as_deref()?;
    numeric_version(tag.split('-').next()?)
}

/// The Rust version for the default image: the spec's `version`, else the toolchain file's numeric
/// channel, else the newest 1.x. A toolchain file asking for more than the spec's pinned `version`
/// or `base` has is an error at the file's channel; one naming no release (`nightly`) is a note.
fn choose_version(spec: &Spec, ctx: &ContextFiles) -> Result<(String, Vec<String>), Diagnostics> {
    let toolchain = cargo::toolchain(ctx)?;
    let mut notes = Vec::new();
    let Some(tc) = toolchain else {
        let version = spec
            .version
            .as_ref()
            .map_or(DEFAULT_VERSION, |v| v.value.as_str());
        return Ok((version.to_string(), notes));
    };
    let wanted = numeric_version(&tc.channel);
    let file = match &tc.location {
        crate::diag::Location::File { name, .. } => name.clone(),
        _ => "rust-toolchain.toml".into(),
    };
    let pinned: Option<(Option<Vec<u64>>, String, String)> = match (&spec.base, &spec.version) {
        (Some(base), _) => Some((
            rust_image_version(&base.value),
            format!("the spec's `base` image `{}`", base.value.familiar()),
            format!("choose a `base` with Rust {} or newer", tc.channel),
        )),
        (None, Some(v)) => Some((
            numeric_version(&v.value),
            format!(
                "rust:{}-slim-bookworm, which the spec's `version` selects",
                v.value
            ),
            format!(
                "set `version = \"{}\"`, or remove `version` to use the image {file} names",
                tc.channel
            ),
        )),
        (None, None) => None,
    };
    match (&wanted, pinned) {
        (Some(w), Some((Some(have), what, help))) if cargo::newer_than(w, &have) => {
            let have: Vec<String> = have.iter().map(u64::to_string).collect();
            return Err(Diagnostic {
                location: tc.location.clone(),
                message: format!(
                    "{file} asks for Rust {}, newer than the Rust {} of {what}",
                    tc.channel,
                    have.join(".")
                ),
                help: Some(help),
            }
            .into());
        }
        (Some(_), Some((None, what, _))) if spec.base.is_some() => notes.push(format!(
            "{file} asks for Rust {}; Strata cannot tell which Rust {what} has: it needs that release or newer, or rustup to install it",
            tc.channel
        )),
        (None, None) if tc.channel != "stable" => notes.push(format!(
            "{file} names the toolchain `{}`, which no official rust image tag gives: the build uses rust:{DEFAULT_VERSION}-slim-bookworm, whose rustup installs that toolchain on the first cargo call; set `version` or `base` in the spec to choose the image",
            tc.channel
        )),
        _ => {}
    }
    let version = match (&spec.version, wanted) {
        (Some(v), _) => v.value.clone(),
        (None, Some(_)) => tc.channel.clone(),
        (None, None) => DEFAULT_VERSION.to_string(),
    };
    Ok((version, notes))
}

#[cfg(test)]
mod tests;
