//! Go modules: go.mod and go.sum (with go.work, go.work.sum and each workspace module's files, and
//! the go.mod of every local `replace`) staged alone, `go mod download` into the deps layer, then
//! the source and `go build` of the main package with the network shut off for modules, and the
//! binary alone on a distroless image.
//!
//! Where the modules live (research/recipes.md §0.1 offers two strategies): the download runs
//! with no cache mount, so the module cache (`GOMODCACHE=/go/pkg/mod`) is part of the deps layer,
//! keyed by the staged manifests alone. `--cache-to` then carries it to a fresh CI runner, and the
//! build reads it with `GOPROXY=off`: a build that needed anything the layer lacks fails instead of
//! downloading, which proves the layer holds the whole dependency set. Mounting the module cache in
//! both steps instead would keep downloads out of every exported cache, and the build would refetch
//! on each runner.
//!
//! Compiled packages too: which packages the program compiles is known only from its imports, so
//! the recipe reads them (the import declarations at the head of the main package's files, then of
//! the local packages it imports, one import level per probing round) and the deps stage
//! compiles every imported package that is not the project's: `go build` of those packages with
//! the flags of the real build that enter the compiler's action ids (`-trimpath`, `-tags`, `-mod`,
//! and the same environment: `CGO_ENABLED`, the spec's `GOFLAGS`). The standard library's (since
//! Go 1.20 not precompiled: net/http alone is seconds) in a setup step before the manifests are
//! staged, outside the module (the action ids are the same), so a go.mod edit leaves them; the
//! modules' after the download. The lists are in the commands, so an edit that imports nothing
//! new leaves both cached and a new import re-runs them. Splitting matters on a warm daemon: one
//! step after the download made a go.mod edit of the example take 22 s instead of 2 s (Docker 26),
//! recompiling the standard library into the new layer; split, 1.8 s. A package that fails to
//! compile there does not fail the step (it says so in the log): the build compiles whatever the
//! cache lacks, and reports real errors itself.
//!
//! Those compiles write a build cache in the layers (`/go/deps-cache`), so `--cache-to` carries it
//! to the next runner. The build step keeps its build cache mount (`GOCACHE`, per project and
//! target platform, since its entries are native code), for incremental builds of the local
//! packages, and first copies the layer's entries into it without overwriting (`cp -Rn`: entries
//! are named by the hash of their content, so concurrent builds cannot tear them). Measured on the
//! example (88 MB, 1,212 entries): the copy takes 120 ms into an empty mount (a fresh runner) and
//! 14 ms into a full one; the build step then compiles and links the main package in 0.26 s,
//! against 13 s with nothing compiled. The alternative, the build cache in the layers with no
//! mount, saves that copy but recompiles every local package on every build. `go build -v` in the
//! build step lists what it compiles: after an app edit, the project's packages alone. With the
//! spec's own `build` (whose flags the compile ahead cannot know) or `install` (which replaces
//! the install steps), or `vendor/`, nothing is compiled ahead and the build cache is the mount
//! alone.

use std::collections::{BTreeMap, BTreeSet};

use super::go_mod::{self, FileKind, GoVersion, ModFile, Target, VersionLine, Word};
use super::go_package::{self, HEAD_BYTES, Tags};
use super::{
    Artefact, Conventions, DepStep, Recipe, Runtime, Setup, build_cache, env_list,
    resolve_manifests, shell_word, version_image,
};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, SourceText};
use crate::pattern::clean_relative;
use crate::plan::Sharing;
use crate::reference::ImageRef;
use crate::spec::{Command, Located, OptionValue, Spec};

pub struct Go;

/// The image's Go when go.mod names none (it always does since `go mod init` writes the line).
const DEFAULT_VERSION: &str = "1.26";
/// The official golang image's module cache (`GOPATH=/go`), set explicitly so that both steps
/// agree whatever the base image sets.
const GOMODCACHE: &str = "/go/pkg/mod";
const GOCACHE: &str = "/root/.cache/go-build";
/// Where the deps stage compiles the imported packages: a build cache in the layer, which the
/// build step copies into its cache mount (`GOCACHE`).
const DEPS_GOCACHE: &str = "/go/deps-cache";
/// Where the binary is built, and where the runtime image receives it: the same path, so the
/// start command holds whether or not the image is a separate one.
const BIN_DIR: &str = "/usr/local/bin";
const STATIC_RUNTIME: &str = "gcr.io/distroless/static-debian12:nonroot";
/// With cgo the binary links glibc dynamically: distroless base has it (Debian 12's), and the
/// build image is then the Debian 12 variant of golang too, so the glibc versions match.
const GLIBC_RUNTIME: &str = "gcr.io/distroless/base-debian12:nonroot";
const GLIBC_BUILD_SUFFIX: &str = "-bookworm";
const ROOT_FILES: &[&str] = &["go.mod", "go.sum", "go.work", "go.work.sum"];
const VENDOR: &str = "vendor/modules.txt";
/// Source files read per directory: their heads give the directory's package and the imports of
/// every file in it. A package of more files is rare; the imports of the rest are then compiled
/// by the build step instead of ahead.
const MAX_FILES_PER_DIR: usize = 64;
/// Local packages whose imports are followed, from the main package: import edges (each one more
/// probing round, within the context reader's limit) and directories.
const MAX_IMPORT_DEPTH: usize = 8;
const MAX_LOCAL_PACKAGES: usize = 256;
const KEYS: &[&str] = &["main", "cgo", "tags", "ldflags"];
const DEFAULT_LDFLAGS: &str = "-s -w";

impl Recipe for Go {
    fn language(&self) -> &'static str {
        "go"
    }

    fn probe(&self, spec: &Spec, found: &ContextFiles) -> Vec<String> {
        let mut patterns: Vec<String> = Vec::new();
        let mut add = |p: String| {
            if !patterns.contains(&p) {
                patterns.push(p);
            }
        };
        for m in spec.manifests.iter().flatten() {
            add(m.value.clone());
        }
        for f in ROOT_FILES.iter().chain([&VENDOR]) {
            add(f.to_string());
        }
        let opts = Options::read(spec).unwrap_or_default();
        match &opts.main {
            Some(main) => add(go_files_in(&main.value)),
            None => {
                add("*.go".into());
                add("cmd/*/*.go".into());
            }
        }
        let modules = Modules::read(found);
        for d in &modules.dirs {
            if let Ok(dir) = &d.dir {
                add(in_dir(dir, "go.mod"));
                if d.is_use {
                    add(in_dir(dir, "go.sum"));
                }
            }
        }
        // The local packages the main package imports, round by round: their files' imports
        // name the next ones.
        if let Ok(Some(main)) = find_main(spec, found, &opts) {
            for dir in Imports::of(found, &modules, &main, &opts.tags()).local {
                add(go_files_in(&dir));
            }
        }
        patterns
    }

    fn files_to_read(&self, spec: &Spec, listed: &[&str]) -> Vec<String> {
        let tags = Options::read(spec).unwrap_or_default().tags();
        let mut per_dir: BTreeMap<&str, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for f in listed {
            let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
            if name == "go.mod" || *f == "go.work" {
                out.push(f.to_string());
            } else if name.ends_with(".go") && tags.includes_name(name) {
                let n = per_dir.entry(dir).or_default();
                if *n < MAX_FILES_PER_DIR {
                    *n += 1;
                    out.push(f.to_string());
                }
            }
        }
        out
    }

    fn read_limit(&self, path: &str) -> Option<usize> {
        path.ends_with(".go").then_some(HEAD_BYTES)
    }

    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics> {
        if let Some(pm) = &spec.package_manager {
            if pm.value != "go" {
                return Err(Diagnostic::at(
                    &spec.source,
                    pm.span.clone(),
                    format!("package manager `{}` is not supported for go", pm.value),
                )
                .help("Go modules are the only one: remove `package_manager` or set it to \"go\"")
                .into());
            }
        }
        let opts = Options::read(spec)?;
        let modules = Modules::read(ctx);
        if !modules.errors.is_empty() {
            return Err(Diagnostics(modules.errors));
        }
        if modules.mains.is_empty() && modules.work.is_none() {
            return Err(Diagnostic::at(
                &spec.source,
                spec.language.span.clone(),
                "no go.mod in the build context",
            )
            .help("Go projects need go.mod at the root of the build context; `go mod init <module path>` creates it")
            .into());
        }
        let workspace = modules.work.is_some();
        let vendored = ctx.exists(VENDOR);

        let mut defaults: Vec<String> = ROOT_FILES.iter().map(|s| s.to_string()).collect();
        let mut add = |f: String| {
            if !defaults.contains(&f) {
                defaults.push(f);
            }
        };
        for d in &modules.dirs {
            if let Ok(dir) = &d.dir {
                add(in_dir(dir, "go.mod"));
                if d.is_use {
                    add(in_dir(dir, "go.sum"));
                }
            }
        }
        let defaults: Vec<&str> = defaults.iter().map(String::as_str).collect();
        let (patterns, manifests) = resolve_manifests(spec, ctx, &defaults)?;
        let mut problems = Vec::new();
        if !vendored && spec.install.is_none() {
            problems.extend(modules.check_staged(spec, ctx, &manifests));
        }

        // Every problem at once, in this order: staged files, toolchain, main package.
        let image = build_image(spec, ctx, &modules, opts.cgo);
        let main = find_main(spec, ctx, &opts);
        if let Err(d) = &image {
            problems.extend(d.0.iter().cloned());
        }
        if let Err(d) = &main {
            problems.push(d.clone());
        }
        let (Ok(default_image), Ok(main), true) = (image, main, problems.is_empty()) else {
            return Err(Diagnostics(problems));
        };

        let module_path = modules.module_path();
        let name = binary_name(main.as_deref().unwrap_or("."), module_path);
        let binary = format!("{BIN_DIR}/{name}");
        // Only for the recipe's own build, whose flags the compile must repeat for the build to
        // find its results (a spec's `build` may use others), and its own install (the spec's
        // replaces every install step).
        let ahead = match (&main, &spec.build, &spec.install) {
            (Some(main), None, None) if !vendored => {
                let imports = Imports::of(ctx, &modules, main, &opts.tags());
                let (std, modules): (Vec<&String>, Vec<&String>) =
                    imports.external.iter().partition(|p| is_std(p));
                let flags = |in_module: bool| {
                    let mut flags = String::new();
                    if !opts.tags.is_empty() {
                        flags.push_str(&format!(" -tags={}", opts.tags.join(",")));
                    }
                    if in_module && !workspace {
                        flags.push_str(" -mod=mod");
                    }
                    flags
                };
                Some(CompileAhead {
                    std: compile_ahead(&std, &flags(false)),
                    modules: compile_ahead(&modules, &flags(true)),
                })
            }
            _ => None,
        }
        .filter(|a| a.std.is_some() || a.modules.is_some());
        let mut build = String::new();
        if ahead.is_some() {
            // Cache entries are named by their content's hash: adding the layer's to the mount
            // without overwriting is safe with concurrent builds. Some cp versions exit 1 when
            // -n skips a file: the status does not matter, the build compiles what is missing.
            build.push_str(&format!(
                "cp -Rn {DEPS_GOCACHE}/. \"$GOCACHE\"/ 2>/dev/null; "
            ));
        }
        // No module downloads after the source copy: the deps layer has them all (or vendor/ has).
        // Left on when the spec's own `install` may not have downloaded anything.
        if spec.install.is_none() {
            build.push_str("GOPROXY=off ");
        }
        // -v names each package the step compiles: with the dependencies compiled ahead, only
        // the project's own.
        build.push_str("go build -v -trimpath -buildvcs=false");
        let ldflags = opts.ldflags.as_deref().unwrap_or(DEFAULT_LDFLAGS);
        if !ldflags.is_empty() {
            build.push(' ');
            build.push_str(&shell_word(&format!("-ldflags={ldflags}")));
        }
        if !opts.tags.is_empty() {
            build.push_str(&format!(" -tags={}", opts.tags.join(",")));
        }
        if vendored {
            build.push_str(" -mod=vendor");
        } else if !workspace {
            // Lets go complete go.sum lines from the module cache alone (GOPROXY=off leaves it no
            // other source); a workspace accepts only readonly or vendor.
            build.push_str(" -mod=mod");
        }
        let target = match main.as_deref() {
            None | Some(".") => ".".to_string(),
            Some(dir) => format!("./{dir}"),
        };
        build.push_str(&format!(
            " -o {} {}",
            shell_word(&binary),
            shell_word(&target)
        ));

        let mut notes = Vec::new();
        let deps = if vendored {
            notes.push(format!(
                "{VENDOR} is present: the modules come from vendor/ (`go build -mod=vendor`), so there is no download step"
            ));
            Vec::new()
        } else {
            let mut steps = vec![
                DepStep::Stage {
                    patterns: patterns.clone(),
                    files: manifests.clone(),
                },
                DepStep::Install("go mod download".into()),
            ];
            steps.extend(
                ahead
                    .as_ref()
                    .and_then(|a| a.modules.clone())
                    .map(DepStep::Install),
            );
            steps
        };
        let project = module_path.unwrap_or("app");
        let runtime_image = if opts.cgo {
            GLIBC_RUNTIME
        } else {
            STATIC_RUNTIME
        };

        Ok(Conventions {
            package_manager: "go".into(),
            default_image,
            manifest_patterns: patterns,
            manifests,
            // Before the manifests: a dependency edit leaves the standard library compiled.
            setup: ahead
                .as_ref()
                .and_then(|a| a.std.clone())
                .map(Setup::from)
                .into_iter()
                .collect(),
            deps,
            // Not the module cache: the download must land in the layer (see the module docs).
            caches: vec![build_cache(
                GOCACHE,
                spec,
                "go-build",
                project,
                Sharing::Shared,
            )],
            env: Vec::new(),
            runtime_env: Vec::new(),
            build_env: env_list(&[
                ("CGO_ENABLED", if opts.cgo { "1" } else { "0" }),
                ("GOMODCACHE", GOMODCACHE),
                ("GOCACHE", GOCACHE),
            ]),
            after_source: Vec::new(),
            build: Some(build),
            after_build: None,
            run: Some(Command::Exec(vec![binary.clone()])),
            run_help: String::new(),
            runtime: Runtime {
                image: ImageRef::parse(runtime_image).ok(),
                artefacts: vec![Artefact {
                    from: binary.clone(),
                    to: binary,
                }],
                copy_workdir: false,
            },
            app_exclude: Vec::new(),
            notes,
        })
    }
}

/// The spec's `[go]` table.
#[derive(Debug, Default)]
struct Options {
    /// The main package's directory, clean and relative (`.` for the root).
    main: Option<Located<String>>,
    cgo: bool,
    tags: Vec<String>,
    ldflags: Option<String>,
}

impl Options {
    fn read(spec: &Spec) -> Result<Options, Diagnostics> {
        let mut opts = Options::default();
        let mut errors = Vec::new();
        let src = &spec.source;
        for (key, value) in &spec.language_options {
            let wrong = |expected: &str| {
                Diagnostic::at(
                    src,
                    value.span.clone(),
                    format!(
                        "`go.{}` must be {expected}, not {}",
                        key.value,
                        value.value.type_name()
                    ),
                )
            };
            match (key.value.as_str(), &value.value) {
                ("main", OptionValue::String(s)) => match main_dir(s) {
                    Ok(dir) => opts.main = Some(Located::new(dir, value.span.clone())),
                    Err(e) => errors.push(
                        Diagnostic::at(src, value.span.clone(), format!("`go.main`: {e}")).help(
                            "name the main package's directory inside the build context, e.g. `main = \"./cmd/api\"`",
                        ),
                    ),
                },
                ("main", _) => errors.push(wrong("a string")),
                ("cgo", OptionValue::Bool(b)) => opts.cgo = *b,
                ("cgo", _) => errors.push(wrong("a boolean")),
                ("tags", OptionValue::Strings(list)) => {
                    for t in list {
                        let valid = !t.is_empty()
                            && t.chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                        if valid {
                            opts.tags.push(t.clone());
                        } else {
                            errors.push(Diagnostic::at(
                                src,
                                value.span.clone(),
                                format!("`go.tags`: `{t}` is not a build tag (letters, digits, `_` and `.`)"),
                            ));
                        }
                    }
                }
                ("tags", _) => errors.push(wrong("an array of strings")),
                ("ldflags", OptionValue::String(s)) => opts.ldflags = Some(s.clone()),
                ("ldflags", _) => errors.push(wrong("a string")),
                (_, _) => errors.push(super::unknown_option(
                    spec,
                    key,
                    KEYS,
                    format!("the keys {}", KEYS.join(", ")),
                )),
            }
        }
        if errors.is_empty() {
            Ok(opts)
        } else {
            Err(Diagnostics(errors))
        }
    }

    fn tags(&self) -> Tags {
        Tags {
            cgo: self.cgo,
            extra: self.tags.clone(),
        }
    }
}

/// `./cmd/api`, `cmd/api/`, `.` → `cmd/api`, `.`; a pattern or a path leaving the context is refused.
fn main_dir(s: &str) -> Result<String, String> {
    if s.contains(['*', '?', '[']) || s.contains("...") {
        return Err(format!(
            "`{s}` is a pattern; name one directory (Strata builds one binary)"
        ));
    }
    clean_relative(s.trim())
}

/// `dir/name`, or `name` for the root.
fn in_dir(dir: &str, name: &str) -> String {
    if dir == "." || dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The compile-ahead commands: the standard library's packages in a setup step, keyed by the
/// base image and that list alone, and the modules' after the download.
struct CompileAhead {
    std: Option<String>,
    modules: Option<String>,
}

/// `go build` of `packages` into the deps layer's build cache, going on when some fail; `None`
/// for no packages.
fn compile_ahead(packages: &[&String], flags: &str) -> Option<String> {
    if packages.is_empty() {
        return None;
    }
    let mut command = format!("GOCACHE={DEPS_GOCACHE} GOPROXY=off go build -trimpath{flags}");
    for p in packages {
        command.push(' ');
        command.push_str(&shell_word(p));
    }
    command.push_str(&format!(
        " || echo {} >&2",
        shell_word(COMPILE_AHEAD_FAILED)
    ));
    Some(command)
}

/// A standard library package: go/build's rule, no dot in the first path element.
fn is_std(import: &str) -> bool {
    !import.split('/').next().unwrap_or(import).contains('.')
}

/// Printed when compiling ahead failed for some package: the step goes on, as the build compiles
/// whatever is missing from the cache.
const COMPILE_AHEAD_FAILED: &str = "strata: some dependencies could not be compiled ahead (see above); the build step compiles them";

/// What the main package imports, following the local packages it imports to a closure (within
/// `MAX_IMPORT_DEPTH` and `MAX_LOCAL_PACKAGES`): those are the project's, built with the source;
/// the rest (the standard library's and the modules') are what the deps stage compiles ahead.
#[derive(Debug, Default, PartialEq, Eq)]
struct Imports {
    /// Directories of the local packages reached, the main package's excluded, nearest first.
    local: Vec<String>,
    /// Every other import path, sorted.
    external: BTreeSet<String>,
}

impl Imports {
    fn of(ctx: &ContextFiles, modules: &Modules, main: &str, tags: &Tags) -> Imports {
        let local_modules = modules.local_modules();
        let mut files: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for path in ctx.paths() {
            let (dir, name) = path.rsplit_once('/').unwrap_or((".", path));
            if name.ends_with(".go") && tags.includes_name(name) {
                files.entry(dir).or_default().push(path);
            }
        }
        let mut out = Imports::default();
        let mut seen: BTreeSet<String> = BTreeSet::from([main.to_string()]);
        let mut level = vec![main.to_string()];
        for depth in 0..=MAX_IMPORT_DEPTH {
            let mut next = Vec::new();
            for dir in &level {
                for path in files.get(dir.as_str()).into_iter().flatten() {
                    let Some(head) = ctx.bytes(path) else {
                        continue;
                    };
                    let header = go_package::read_header(head);
                    let name = path.rsplit('/').next().unwrap_or(path);
                    if !tags.includes(name, &header) {
                        continue;
                    }
                    for import in header.imports {
                        match local_dir(&local_modules, &import) {
                            None => {
                                out.external.insert(import);
                            }
                            Some(dir) => {
                                if depth < MAX_IMPORT_DEPTH
                                    && seen.len() <= MAX_LOCAL_PACKAGES
                                    && seen.insert(dir.clone())
                                {
                                    next.push(dir);
                                }
                            }
                        }
                    }
                }
            }
            next.sort();
            out.local.extend(next.iter().cloned());
            level = next;
        }
        out
    }
}

/// The directory of a package of a module in the context (the main modules, workspace modules and
/// local replacements), by the longest module path the import path is under.
fn local_dir(modules: &[(&str, &str)], import: &str) -> Option<String> {
    modules
        .iter()
        .filter_map(|(path, dir)| {
            let rest = import.strip_prefix(path)?;
            match rest.strip_prefix('/') {
                Some(rest) => Some((path.len(), in_dir(dir, rest))),
                None if rest.is_empty() => Some((path.len(), dir.to_string())),
                None => None,
            }
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, dir)| dir)
}

/// The probe pattern for a directory's Go files.
fn go_files_in(dir: &str) -> String {
    in_dir(dir, "*.go")
}

/// A directory a go.mod or go.work names: a workspace module or a local replacement, whose go.mod
/// `go mod download` reads.
#[derive(Debug)]
struct DirRef {
    /// The go.mod or go.work that names it.
    file: String,
    /// The directory as written, and where.
    word: Word,
    /// The directive, for messages: `use ./svc`, `replace example.com/lib => ../lib`.
    directive: String,
    /// Relative to the context; `Err` when it is outside (BuildKit never sends it).
    dir: Result<String, ()>,
    /// A workspace module (its go.sum counts too), or a replacement.
    is_use: bool,
    /// For a replacement, the module path it replaces: imports under it are local packages.
    replaces: Option<String>,
}

/// The go.work and go.mod files in effect, as far as the context has been read.
#[derive(Debug, Default)]
struct Modules {
    work: Option<ModFile>,
    /// The main modules: the root module, or each workspace module (directory, go.mod path, file).
    mains: Vec<(String, String, ModFile)>,
    dirs: Vec<DirRef>,
    errors: Vec<Diagnostic>,
}

impl Modules {
    fn read(ctx: &ContextFiles) -> Modules {
        let mut m = Modules::default();
        match m.parse(ctx, "go.work", FileKind::Work) {
            Some(work) => {
                for u in &work.uses {
                    m.dirs.push(DirRef::new(
                        "go.work",
                        "",
                        u,
                        format!("use {}", u.text),
                        true,
                    ));
                }
                m.add_replaces("go.work", "", &work);
                let dirs: Vec<String> = m
                    .dirs
                    .iter()
                    .filter(|d| d.is_use)
                    .filter_map(|d| d.dir.clone().ok())
                    .collect();
                for dir in dirs {
                    let path = in_dir(&dir, "go.mod");
                    if let Some(module) = m.parse(ctx, &path, FileKind::Mod) {
                        m.add_replaces(&path, &dir, &module);
                        m.mains.push((dir, path, module));
                    }
                }
                m.work = Some(work);
            }
            None => {
                if let Some(module) = m.parse(ctx, "go.mod", FileKind::Mod) {
                    m.add_replaces("go.mod", "", &module);
                    m.mains.push((".".into(), "go.mod".into(), module));
                }
            }
        }
        m
    }

    fn parse(&mut self, ctx: &ContextFiles, path: &str, kind: FileKind) -> Option<ModFile> {
        match go_mod::parse(path, ctx.text(path)?, kind) {
            Ok(f) => Some(f),
            Err(d) => {
                self.errors.extend(d.0);
                None
            }
        }
    }

    fn add_replaces(&mut self, file: &str, base: &str, module: &ModFile) {
        for r in &module.replaces {
            if let Target::Dir(dir) = &r.new {
                self.dirs.push(
                    DirRef::new(file, base, dir, format!("replace {}", r.text), false)
                        .replacing(&r.old.text),
                );
            }
        }
    }

    /// (module path, directory) of every module whose source is in the context.
    fn local_modules(&self) -> Vec<(&str, &str)> {
        let mains = self
            .mains
            .iter()
            .filter_map(|(dir, _, m)| m.module.as_ref().map(|w| (w.text.as_str(), dir.as_str())));
        let replaced = self
            .dirs
            .iter()
            .filter_map(|d| Some((d.replaces.as_deref()?, d.dir.as_ref().ok()?.as_str())));
        mains.chain(replaced).collect()
    }

    /// The root module's path, else the first workspace module's.
    fn module_path(&self) -> Option<&str> {
        self.mains
            .iter()
            .find(|(dir, _, _)| dir == ".")
            .or(self.mains.first())
            .and_then(|(_, _, m)| m.module.as_ref())
            .map(|w| w.text.as_str())
    }

    /// What `go mod download` needs that is missing from the staged files: the go.mod of each
    /// directory named by `use` or a local `replace`, and go.sum when there are modules to fetch.
    fn check_staged(&self, spec: &Spec, ctx: &ContextFiles, staged: &[String]) -> Vec<Diagnostic> {
        let explicit = spec.manifests.is_some();
        let mut out = Vec::new();
        let at = |file: &str, word: &Word, message: String| {
            let text = ctx.text(file).unwrap_or_default();
            Diagnostic::at(&SourceText::new(file, text), word.span.clone(), message)
        };
        for d in &self.dirs {
            match &d.dir {
                Err(()) => out.push(
                    at(
                        &d.file,
                        &d.word,
                        format!(
                            "`{}` names a directory outside the build context, which BuildKit does not send",
                            d.directive
                        ),
                    )
                    .help(format!(
                        "move the module into the build context (e.g. `./{}`) and point the directive there; its go.mod is then staged with the manifests (with `manifests`, list \"<dir>/go.mod\")",
                        d.word.text.trim_start_matches(['.', '/'])
                    )),
                ),
                Ok(dir) => {
                    let gomod = in_dir(dir, "go.mod");
                    if !ctx.exists(&gomod) {
                        out.push(
                            at(
                                &d.file,
                                &d.word,
                                format!("`{}` needs {gomod}, which is not in the build context", d.directive),
                            )
                            .help("`go mod download` reads the go.mod of every module directory: check the path and that .dockerignore does not exclude it"),
                        );
                    } else if explicit && !staged.contains(&gomod) {
                        out.push(
                            at(
                                &d.file,
                                &d.word,
                                format!("`{}` needs {gomod}, which is not staged for the download", d.directive),
                            )
                            .help(format!("add \"{gomod}\" to `manifests`")),
                        );
                    }
                }
            }
        }
        let work_sum = self.work.is_some() && staged.iter().any(|f| f == "go.work.sum");
        for (dir, file, module) in &self.mains {
            let replaced = |path: &str| {
                module.replaced_by_dir(path)
                    || self.work.as_ref().is_some_and(|w| w.replaced_by_dir(path))
            };
            let Some(first) = module.requires.iter().find(|r| !replaced(&r.path.text)) else {
                continue;
            };
            let sum = in_dir(dir, "go.sum");
            if staged.contains(&sum) || work_sum {
                continue;
            }
            let message = format!(
                "{file} requires {} {} but {sum} is {}",
                first.path.text,
                first.version.text,
                if ctx.exists(&sum) {
                    "not staged for the download"
                } else {
                    "missing"
                }
            );
            let help = if ctx.exists(&sum) {
                format!("add \"{sum}\" to `manifests`")
            } else {
                format!(
                    "run `go mod tidy`{}, which creates {sum} with the checksums of every module, and commit it",
                    if dir == "." {
                        String::new()
                    } else {
                        format!(" in {dir}")
                    }
                )
            };
            out.push(at(file, &first.path, message).help(help));
        }
        out
    }

    /// The newest `go` or `toolchain` line of the files in effect, and the file it is in.
    fn needs(&self) -> Option<(&str, &VersionLine)> {
        let work = self
            .work
            .as_ref()
            .and_then(|w| Some(("go.work", w.needs()?)));
        work.into_iter()
            .chain(
                self.mains
                    .iter()
                    .filter_map(|(_, file, m)| Some((file.as_str(), m.needs()?))),
            )
            .max_by(|a, b| a.1.version.cmp(&b.1.version))
    }
}

impl DirRef {
    fn new(file: &str, base: &str, word: &Word, directive: String, is_use: bool) -> DirRef {
        let written = word.text.replace('\\', "/");
        let dir = if written.starts_with('/') || written.as_bytes().get(1) == Some(&b':') {
            Err(())
        } else {
            clean_relative(&in_dir(base, &written)).map_err(|_| ())
        };
        DirRef {
            file: file.to_string(),
            word: word.clone(),
            directive,
            dir,
            is_use,
            replaces: None,
        }
    }

    fn replacing(self, module: &str) -> DirRef {
        DirRef {
            replaces: Some(module.to_string()),
            ..self
        }
    }
}

/// The build image: the spec's `base`, else `golang:<version>` for the spec's `version` or the
/// newest `go`/`toolchain` line. A pinned image older than that line is an error at the line: with
/// `GOTOOLCHAIN=local` (the official images) the build would fail asking for a newer Go.
fn build_image(
    spec: &Spec,
    ctx: &ContextFiles,
    modules: &Modules,
    cgo: bool,
) -> Result<ImageRef, Diagnostics> {
    let needs = modules.needs();
    let pinned = match (&spec.base, &spec.version) {
        (Some(base), _) => base_go_version(&base.value)
            .map(|v| (v, format!("`base = \"{}\"`", base.value.familiar()), "base")),
        (None, Some(v)) => GoVersion::parse(&v.value)
            .map(|g| (g, format!("`version = \"{}\"`", v.value), "version")),
        (None, None) => None,
    };
    if let (Some((file, line)), Some((available, said, key))) = (needs, &pinned) {
        if !line.version.satisfied_by(available) {
            let text = ctx.text(file).unwrap_or_default();
            return Err(Diagnostic::at(
                &SourceText::new(file, text),
                line.span.clone(),
                format!(
                    "`{}` needs Go {} or newer, but the spec's {said} is Go {available}",
                    line.text, line.version
                ),
            )
            .help(format!(
                "golang images run with GOTOOLCHAIN=local and cannot fetch a newer Go: raise `{key}` to {} or newer, or remove it to follow go.mod",
                line.version.minor_line()
            ))
            .into());
        }
    }
    let version = match (&spec.version, needs) {
        (Some(v), _) => v.value.clone(),
        (None, Some((_, line))) => line.version.minor_line(),
        (None, None) => DEFAULT_VERSION.to_string(),
    };
    let suffix = if cgo { GLIBC_BUILD_SUFFIX } else { "" };
    version_image(spec, &format!("golang:{version}{suffix}"), "1.24")
}

/// The Go of a `golang:1.22…` base image, read from its tag; `None` for other images or tags
/// that name no version (`latest`, `alpine`).
fn base_go_version(image: &ImageRef) -> Option<GoVersion> {
    if image.path.rsplit('/').next() != Some("golang") {
        return None;
    }
    let tag = image.tag.as_deref()?;
    let version = tag.split('-').next()?;
    GoVersion::parse(version)
}

/// What a directory's Go files declare, as far as their heads were read.
enum DirPackage {
    Main,
    Other(String),
    /// Go files whose package clause was not within the head read.
    Unknown,
    NoFiles,
}

fn dir_package(ctx: &ContextFiles, dir: &str, tags: &Tags) -> DirPackage {
    let prefix = in_dir(dir, "");
    let mut other = None;
    let mut any = false;
    for path in ctx.paths() {
        let Some(name) = path.strip_prefix(prefix.as_str()) else {
            continue;
        };
        if name.contains('/') || !tags.includes_name(name) {
            continue;
        }
        let Some(head) = ctx.bytes(path) else {
            continue;
        };
        let header = go_package::read_header(head);
        if !tags.includes(name, &header) {
            continue;
        }
        any = true;
        match header.package.as_deref() {
            Some("main") => return DirPackage::Main,
            Some(p) => other = Some(p.to_string()),
            None => {}
        }
    }
    match (other, any) {
        (Some(p), _) => DirPackage::Other(p),
        (None, true) => DirPackage::Unknown,
        (None, false) => DirPackage::NoFiles,
    }
}

/// The main package's directory: the spec's `[go] main`, else the root when it is `package main`,
/// else the only `cmd/<name>` that is. `None` when there is none and the spec builds by itself.
fn find_main(
    spec: &Spec,
    ctx: &ContextFiles,
    opts: &Options,
) -> Result<Option<String>, Diagnostic> {
    let tags = opts.tags();
    if let Some(main) = &opts.main {
        return match dir_package(ctx, &main.value, &tags) {
            DirPackage::Main | DirPackage::Unknown => Ok(Some(main.value.clone())),
            DirPackage::NoFiles => Err(Diagnostic::at(
                &spec.source,
                main.span.clone(),
                format!("`go.main`: no Go files in `{}`", main.value),
            )
            .help("name the main package's directory, relative to the build context, e.g. `main = \"./cmd/api\"`")),
            DirPackage::Other(p) => Err(Diagnostic::at(
                &spec.source,
                main.span.clone(),
                format!("`go.main`: `{}` holds package `{p}`, not a main package", main.value),
            )
            .help("name the directory whose files say `package main`")),
        };
    }
    if let DirPackage::Main = dir_package(ctx, ".", &tags) {
        return Ok(Some(".".into()));
    }
    let mut commands: Vec<&str> = ctx
        .paths()
        .filter_map(|p| {
            let rest = p.strip_prefix("cmd/")?;
            let (name, file) = rest.split_once('/')?;
            (!file.contains('/') && file.ends_with(".go")).then_some(name)
        })
        .collect();
    commands.dedup();
    let mains: Vec<String> = commands
        .into_iter()
        .map(|c| format!("cmd/{c}"))
        .filter(|d| matches!(dir_package(ctx, d, &tags), DirPackage::Main))
        .collect();
    match mains.as_slice() {
        [one] => Ok(Some(one.clone())),
        [] if spec.build.is_some() => Ok(None),
        [] => Err(Diagnostic::at(
            &spec.source,
            spec.language.span.clone(),
            "no main package: neither the root directory nor a cmd/<name> directory holds `package main`",
        )
        .help("name the main package's directory in the spec: `[go]` with `main = \"./path/to/it\"`")),
        several => {
            let list: Vec<String> = several.iter().map(|d| format!("./{d}")).collect();
            Err(Diagnostic::at(
                &spec.source,
                spec.language.span.clone(),
                format!("several main packages: {}", list.join(", ")),
            )
            .help(format!(
                "Strata builds one binary: choose it in the spec with `[go]` and `main = \"{}\"`",
                list[0]
            )))
        }
    }
}

/// The binary's name as `go build` would choose it: the main package's directory, or for the root
/// the module path's last element (without a `/vN` major-version suffix); `app` when that is not
/// a plain file name.
fn binary_name(main: &str, module: Option<&str>) -> String {
    let raw = if main == "." {
        module.map_or("app", |m| {
            let mut parts = m.rsplit('/');
            let last = parts.next().unwrap_or(m);
            let major = last.len() > 1
                && last.starts_with('v')
                && last[1..].bytes().all(|b| b.is_ascii_digit());
            match parts.next() {
                Some(parent) if major => parent,
                _ => last,
            }
        })
    } else {
        main.rsplit('/').next().unwrap_or(main)
    };
    let plain = !raw.is_empty()
        && raw.len() <= 64
        && !raw.starts_with(['.', '-'])
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain { raw.to_string() } else { "app".into() }
}

#[cfg(test)]
mod tests;
