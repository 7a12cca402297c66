//! Recipes: one file per ecosystem saying which manifests to stage, how to install from them alone,
//! which caches to mount, and the build and start conventions. `plan` combines a recipe's
//! conventions with the spec into the language-neutral [`Plan`].

mod assemble;
mod cargo;
mod go;
mod go_mod;
mod go_package;
mod java;
mod node;
mod package_json;
pub(crate) mod pom;
mod python;
pub(crate) mod requirements;
mod rust;
mod version;

pub use assemble::plan;

use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::plan::{CacheMount, CacheScope, EnvList, GeneratedFile, Sharing, ToolImage};
use crate::reference::ImageRef;
use crate::spec::{Command, Spec};

/// A dependency step, in the order the deps stage runs them. Each step's layer is keyed by what
/// came before it, so a recipe stages the inputs of each tool invocation just before it (pnpm:
/// the lockfile, `pnpm fetch`, then package.json files, `pnpm install --offline`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepStep {
    /// Copy these context files under the workdir. `patterns` go on the transfer (include
    /// patterns), `files` are what they matched.
    Stage {
        patterns: Vec<String>,
        files: Vec<String>,
    },
    /// Write files the recipe generated from what it read (a skeleton, normalized manifests).
    Generate {
        what: String,
        /// The absolute directory the files' paths are relative to; the workdir when `None`
        /// (a tool's configuration that is not the project's goes elsewhere, so the workdir
        /// holds the project's files alone).
        dir: Option<String>,
        files: Vec<GeneratedFile>,
    },
    /// Run a command with the recipe's caches, the spec's secrets and the SSH agent.
    Install(String),
    /// Run a command that downloads what the lockfile names through the recipe's caches and
    /// leaves in the layer all that later steps read: when a recipe has one, the caches are
    /// mounted there only, and the other steps run without them (cargo, whose build reads the
    /// sources of every locked package, so a cache mount could not be what it reads them from).
    Fetch(String),
    /// Run a command like `Install` that compiles into a build-output cache (`output`, mounted at
    /// its target, per project and platform), whose content the layer then keeps at that same
    /// path (`plan::LayerCache`): a dependency edit recompiles only what changed, and the build
    /// after the source copy and a fresh builder with `--cache-from` find the result in the
    /// layer. `then` runs after the copy, in the layer. A spec's `install` replaces it.
    Compile {
        command: String,
        output: CacheMount,
        then: Option<String>,
    },
}

/// A step run before anything is staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// Run from `/` with the build environment.
    pub command: String,
    /// The tool's official image, when the command installs a tool that has one: a named context
    /// for it replaces the command with a copy from it.
    pub image: Option<ToolImage>,
}

impl Setup {
    /// A tool's install that its official image can replace; a version that makes no valid image
    /// reference (`ImageRef::parse` refuses it) leaves the install alone.
    pub fn tool(command: String, image: &str, files: &[&str], dest: &str) -> Setup {
        let image = ImageRef::parse(image).ok().map(|image| ToolImage {
            image,
            files: files.iter().map(|f| f.to_string()).collect(),
            dest: dest.to_string(),
            aliases: Vec::new(),
        });
        Setup { command, image }
    }
}

impl From<String> for Setup {
    fn from(command: String) -> Setup {
        Setup {
            command,
            image: None,
        }
    }
}

impl From<&str> for Setup {
    fn from(command: &str) -> Setup {
        command.to_string().into()
    }
}

/// Where the image comes from when the recipe proposes its own runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// Absolute path in the build stage.
    pub from: String,
    /// Absolute path in the runtime image.
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// The recipe's runtime image (a static-binary image, a JRE); `None`: the build stage is the
    /// image unless the spec names a `runtime`.
    pub image: Option<ImageRef>,
    /// What a separate runtime image receives from the build stage.
    pub artefacts: Vec<Artefact>,
    /// Whether it also receives the workdir (interpreted languages: the source is the app).
    pub copy_workdir: bool,
}

/// What a recipe says about a project, before the spec's overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conventions {
    pub package_manager: String,
    /// The build image for the spec's (or detected, or default) version.
    pub default_image: ImageRef,
    /// Every file that keys a dependency step, sorted (for `strata plan` and the `install`
    /// override, which runs after all of them are staged).
    pub manifests: Vec<String>,
    /// Include patterns for those files, for the `install` override's single transfer.
    pub manifest_patterns: Vec<String>,
    /// Run before anything is staged, so their layers survive every manifest edit: the tool
    /// itself (keyed only on its version), the virtualenv.
    pub setup: Vec<Setup>,
    /// The dependency steps. The spec's `install` replaces the `Install` ones.
    pub deps: Vec<DepStep>,
    pub caches: Vec<CacheMount>,
    /// Set in every step and in the image, in order.
    pub env: EnvList,
    /// Set in the image only.
    pub runtime_env: EnvList,
    /// Set in setup, dependency and build steps only.
    pub build_env: EnvList,
    /// Always run after the source copy (installing the project itself), build or not.
    pub after_source: Vec<String>,
    /// The project's build step, if the recipe found one.
    pub build: Option<String>,
    /// Runs after a build when the recipe's own install was used (e.g. dropping dev dependencies).
    pub after_build: Option<String>,
    pub run: Option<Command>,
    /// Shown when neither the spec nor the convention gives a start command.
    pub run_help: String,
    pub runtime: Runtime,
    /// Never copied with the source: host artefacts that would overwrite what the install built.
    pub app_exclude: Vec<String>,
    /// What the user should know but is not an error (e.g. a version file Strata cannot follow).
    pub notes: Vec<String>,
}

impl Conventions {
    /// One dependency step: stage the manifests, run the install: the common case.
    pub fn single_install(
        patterns: Vec<String>,
        files: Vec<String>,
        install: String,
    ) -> Vec<DepStep> {
        vec![
            DepStep::Stage { patterns, files },
            DepStep::Install(install),
        ]
    }
}

/// An ecosystem. Implementations are unit structs registered in [`RECIPES`].
pub trait Recipe: Sync {
    /// The spec's `language` value.
    fn language(&self) -> &'static str;
    /// Paths and globs the edge lists in the context, given what earlier rounds found (nothing
    /// in the first round): a workspace's member list decides what to list next. Probing ends
    /// when a round asks for nothing new.
    fn probe(&self, spec: &Spec, found: &ContextFiles) -> Vec<String>;
    /// Which of the listed files the recipe needs to read.
    fn files_to_read(&self, spec: &Spec, listed: &[&str]) -> Vec<String>;
    /// How much of a file to read: `None` (manifests) reads it whole; `Some(n)`, its first `n`
    /// bytes, cut to whole lines, for files of which the recipe needs only the head (a source
    /// file's package clause, a lockfile's header): see [`ContextFiles::head`].
    fn read_limit(&self, _path: &str) -> Option<usize> {
        None
    }
    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics>;
}

/// Every ecosystem Strata builds: adding one is a recipe file and a line here.
const RECIPES: &[&dyn Recipe] = &[
    &python::Python,
    &node::Node,
    &rust::Rust,
    &go::Go,
    &java::Java,
];

/// Named in the spec contract as future languages: recognised so the error can say "not yet".
const PLANNED: &[&str] = &["ruby", "php", "dotnet"];

/// The recipe for the spec's `language`, or a located error naming the supported ones.
pub fn recipe_for(spec: &Spec) -> Result<&'static dyn Recipe, Diagnostic> {
    let name = spec.language.value.as_str();
    if let Some(r) = RECIPES.iter().find(|r| r.language() == name) {
        return Ok(*r);
    }
    let supported: Vec<&str> = RECIPES.iter().map(|r| r.language()).collect();
    let message = if PLANNED.contains(&name) {
        format!("language `{name}` is not supported yet")
    } else {
        format!("unknown language `{name}`")
    };
    let help = match closest(name, supported.iter().copied()) {
        Some(s) if !PLANNED.contains(&name) => format!("did you mean `{s}`?"),
        _ => format!("supported languages: {}", supported.join(", ")),
    };
    Err(Diagnostic::at(&spec.source, spec.language.span.clone(), message).help(help))
}

/// The explicit manifests (each must select at least one file), or the recipe's defaults that exist.
/// Returns (include patterns, files).
pub(crate) fn resolve_manifests(
    spec: &Spec,
    ctx: &ContextFiles,
    defaults: &[&str],
) -> Result<(Vec<String>, Vec<String>), Diagnostics> {
    let mut files: Vec<String> = Vec::new();
    let mut patterns = Vec::new();
    match &spec.manifests {
        Some(list) => {
            let mut diags = Vec::new();
            for m in list {
                let found = ctx.matching(&m.value);
                if found.is_empty() {
                    let what = if m.value.contains(['*', '?', '[']) {
                        format!(
                            "manifest pattern `{}` matches no file in the build context",
                            m.value
                        )
                    } else {
                        format!("manifest `{}` does not exist in the build context", m.value)
                    };
                    diags.push(Diagnostic::at(&spec.source, m.span.clone(), what).help(
                        "paths are relative to the build context directory; check the name and that .dockerignore does not exclude it",
                    ));
                }
                patterns.push(m.value.clone());
                files.extend(found.into_iter().map(String::from));
            }
            if !diags.is_empty() {
                return Err(Diagnostics(diags));
            }
        }
        None => {
            for d in defaults {
                let found = ctx.matching(d);
                if !found.is_empty() {
                    patterns.push(d.to_string());
                    files.extend(found.into_iter().map(String::from));
                }
            }
        }
    }
    files.sort();
    files.dedup();
    Ok((patterns, files))
}

/// What a recipe lists in the context before planning.
pub(crate) struct Probe<'a> {
    /// The manifests used when the spec names none (those that exist are staged).
    pub defaults: &'a [&'a str],
    /// Files the recipe needs to see even when the spec lists its own manifests.
    pub always: &'a [&'a str],
    /// Version pins (`.python-version`, `.nvmrc`…).
    pub version_files: &'a [&'a str],
    /// Files the start convention looks for; only when the whole context is the app.
    pub start_files: &'a [&'a str],
}

impl Probe<'_> {
    pub fn patterns(&self, spec: &Spec) -> Vec<String> {
        let mut p: Vec<String> = match &spec.manifests {
            Some(list) => list.iter().map(|m| m.value.clone()).collect(),
            None => self.defaults.iter().map(|s| s.to_string()).collect(),
        };
        let mut add = |f: &str| {
            if !p.iter().any(|m| m == f) {
                p.push(f.to_string());
            }
        };
        self.always.iter().for_each(|f| add(f));
        self.version_files.iter().for_each(|f| add(f));
        if spec.app.iter().any(|a| a.value == ".") {
            self.start_files.iter().for_each(|f| add(f));
        }
        p
    }
}

/// `<image>:<version>-slim`, the official image for the version; an invalid version is an error at
/// the spec's `version` key.
pub(crate) fn default_image(
    spec: &Spec,
    image: &str,
    version: &str,
) -> Result<ImageRef, Diagnostics> {
    let example = if image.ends_with("node") {
        "22"
    } else {
        "3.12"
    };
    version_image(spec, &format!("{image}:{version}-slim"), example)
}

/// An image reference made from a version (the spec's, or one a recipe read); an invalid one is
/// an error at the spec's `version` key.
pub(crate) fn version_image(
    spec: &Spec,
    reference: &str,
    example: &str,
) -> Result<ImageRef, Diagnostics> {
    ImageRef::parse(reference).map_err(|e| {
        let span = spec.version.as_ref().map_or(0..0, |v| v.span.clone());
        Diagnostics::from(
            Diagnostic::at(&spec.source, span, format!("`version`: {e}")).help(format!(
                "write a version like `{example}`, or name the image with `base`"
            )),
        )
    })
}

/// Quotes a word for `sh -c` when it holds anything but safe characters.
pub(crate) fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '=' | ':' | '@')
        })
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A download cache under the spec's `cache.id`, shared by every project and platform.
pub(crate) fn cache(target: &str, spec: &Spec, name: &str, sharing: Sharing) -> CacheMount {
    CacheMount {
        target: target.to_string(),
        id: format!("{}/{name}", spec.cache_id),
        sharing,
        scope: CacheScope::Downloads,
    }
}

/// A build-output cache of one project (named by the recipe, e.g. its module path, in characters
/// any id takes), separate per target platform.
pub(crate) fn build_cache(
    target: &str,
    spec: &Spec,
    name: &str,
    project: &str,
    sharing: Sharing,
) -> CacheMount {
    let project: String = project
        .chars()
        .take(128)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect();
    CacheMount {
        scope: CacheScope::BuildOutput {
            project: if project.is_empty() {
                "app".into()
            } else {
                project
            },
        },
        ..cache(target, spec, name, sharing)
    }
}

/// An unknown key of the spec's `[<language>]` table: the closest known key, or what the table
/// takes (`table_takes`, e.g. "keys: main, cgo").
pub(crate) fn unknown_option(
    spec: &Spec,
    key: &crate::spec::Located<String>,
    known: &[&str],
    table_takes: String,
) -> Diagnostic {
    let d = Diagnostic::at(
        &spec.source,
        key.span.clone(),
        format!("unknown key `{}` in `[{}]`", key.value, spec.language.value),
    );
    match closest(&key.value, known.iter().copied()) {
        Some(k) => d.help(format!("did you mean `{k}`?")),
        None => d.help(format!("`[{}]` takes {table_takes}", spec.language.value)),
    }
}

/// An ordered environment from literal pairs.
pub(crate) fn env_list(pairs: &[(&str, &str)]) -> EnvList {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod worked_examples;

/// Entry points for `crate::fuzzing` into the readers private to this module.
#[doc(hidden)]
pub fn fuzz_package_json(text: &str) {
    if let Err(e) = package_json::parse("package.json", text) {
        let _ = e.to_string();
    }
}

#[doc(hidden)]
pub fn fuzz_version_files(text: &str) {
    let _ = version::node_pin(".nvmrc", text, "22", "22");
    let _ = version::python_pin(".python-version", text, "3.12");
}

#[doc(hidden)]
pub fn fuzz_cargo_manifest(text: &str) {
    let mut ctx = ContextFiles::new(Vec::new());
    ctx.add_content("Cargo.toml", text.as_bytes().to_vec());
    let ws = cargo::Workspace::discover(&ctx);
    for e in &ws.errors {
        let _ = e.to_string();
    }
    for m in ws.packages() {
        let _ = cargo::emit(&cargo::normalize_manifest(m), "# fuzz\n");
        let _ = cargo::binaries(m, &ctx);
    }
    if let Ok(lock) = cargo::Lockfile::parse("version = 4\n") {
        let _ = cargo::skeleton(&ws, &lock, &ctx);
    }
    let mut ctx = ContextFiles::new(Vec::new());
    ctx.add_content("rust-toolchain.toml", text.as_bytes().to_vec());
    ctx.add_content(".cargo/config.toml", text.as_bytes().to_vec());
    let _ = cargo::toolchain(&ctx);
    let _ = cargo::config_build_target(&ctx);
    let mut ctx = ContextFiles::new(Vec::new());
    ctx.add_content("rust-toolchain", text.as_bytes().to_vec());
    let _ = cargo::toolchain(&ctx);
}

#[doc(hidden)]
pub fn fuzz_node_files(text: &str) {
    node::fuzz_readers(text);
}

#[doc(hidden)]
pub fn fuzz_python_manifests(text: &str) {
    python::fuzz_manifests(text);
}

#[doc(hidden)]
pub fn fuzz_go_source(bytes: &[u8]) {
    let header = go_package::read_header(bytes);
    for import in &header.imports {
        assert!(go_package::is_import_path(import) && import != "C");
    }
}

#[doc(hidden)]
pub fn fuzz_go_mod(text: &str) {
    for (name, kind) in [
        ("go.mod", go_mod::FileKind::Mod),
        ("go.work", go_mod::FileKind::Work),
    ] {
        match go_mod::parse(name, text, kind) {
            Ok(m) => {
                let _ = m.needs();
                for r in &m.replaces {
                    let _ = m.replaced_by_dir(&r.old.text);
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

#[doc(hidden)]
pub fn fuzz_pom(text: &str) {
    match pom::parse("pom.xml", text) {
        Ok(p) => {
            let written = p.properties.values().chain(&p.final_name).chain(&p.version);
            for text in written {
                let _ = p.resolve(text, Some(&p));
            }
            let _ = p.has_plugin("spring-boot-maven-plugin");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

#[doc(hidden)]
pub fn fuzz_cargo_lock(text: &str) {
    match cargo::Lockfile::parse(text) {
        Ok(lock) => {
            let _ = lock.packages();
            let _ = lock.normalized();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

#[doc(hidden)]
pub fn fuzz_gradle(text: &str) {
    java::fuzz_gradle(text);
}
