//! Node: package.json and the package manager's lockfile staged alone, the tool's frozen install
//! with its download cache on a cache mount, the build script after the source copy, and
//! production dependencies only in the image.
//!
//! This file is what every tool shares: reading package.json, choosing the tool (the spec's
//! `package_manager`, package.json's `packageManager`, then the lockfiles) and its version, the
//! start command, the runtime image and the errors. Each tool's own part is a pure function from
//! what was read to its share of the conventions, in its file: `npm.rs`, `yarn.rs` (classic and
//! Berry), `pnpm.rs`, `bun.rs`.

mod bun;
mod npm;
mod options;
mod pnpm;
mod readers;
mod yarn;

use std::ops::Range;

use serde_json::Value;

use super::package_json::read_package_json;
use super::{
    Artefact, Conventions, Probe, Recipe, Runtime, Setup, default_image, env_list,
    resolve_manifests,
};
use crate::context::{ContextFiles, HEAD_BYTES};
use crate::diag::{Diagnostic, Diagnostics, Location, Position, SourceText, closest};
use crate::pattern::clean_relative;
use crate::plan::{CacheMount, EnvList};
use crate::redact::redact_credentials;
use crate::spec::{Command, Spec};
use options::Pins;
use readers::YarnLock;

pub struct Node;

const DEFAULT_VERSION: &str = "22";
const VERSION_FILES: &[&str] = &[".nvmrc", ".node-version"];
/// What `node <file>` runs when package.json names no start script and no `main`.
const START_FILES: &[&str] = &["server.js", "index.js"];

/// The package managers `package_manager` and `packageManager` may name.
const TOOL_NAMES: &[&str] = &["npm", "pnpm", "yarn", "bun"];

/// Every tool's lockfiles, in the order lockfile detection tries them (research §10).
const LOCKFILES: &[(&str, &str)] = &[
    ("pnpm-lock.yaml", "pnpm"),
    ("bun.lock", "bun"),
    ("bun.lockb", "bun"),
    ("yarn.lock", "yarn"),
    ("package-lock.json", "npm"),
    ("npm-shrinkwrap.json", "npm"),
];

/// Every file a tool may stage, so the first round lists them all: the tool is known only once
/// package.json and the lockfiles are read.
const ALL_MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    ".npmrc",
    "yarn.lock",
    ".yarnrc",
    ".yarnrc.yml",
    ".yarn/plugins",
    ".yarn/patches",
    "pnpm-lock.yaml",
    "pnpm-workspace.yaml",
    ".pnpmfile.cjs",
    "patches",
    "bun.lock",
    "bun.lockb",
    "bunfig.toml",
];

/// Listed even when the spec names its own manifests: what detection and the errors look at.
const ALWAYS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    ".yarnrc.yml",
    "pnpm-lock.yaml",
    "pnpm-workspace.yaml",
    "bun.lock",
    "bun.lockb",
    "Procfile",
];

const PROBE: Probe = Probe {
    defaults: ALL_MANIFESTS,
    always: ALWAYS,
    version_files: VERSION_FILES,
    start_files: &["server.js", "index.js", "server.ts", "index.ts"],
};

/// Read whole: small files the recipe looks inside.
const READ: &[&str] = &[
    "package.json",
    ".yarnrc.yml",
    "pnpm-workspace.yaml",
    "Procfile",
];
/// Read only as far as their header: lockfiles.
const HEADS: &[&str] = &["yarn.lock", "pnpm-lock.yaml"];

impl Recipe for Node {
    fn language(&self) -> &'static str {
        "node"
    }

    fn probe(&self, spec: &Spec, found: &ContextFiles) -> Vec<String> {
        let mut patterns = PROBE.patterns(spec);
        // Yarn runs the release `.yarnrc.yml` names: it is staged with the manifests.
        if let Some(path) = found
            .text(".yarnrc.yml")
            .and_then(|t| readers::yarnrc(t).get("yarnPath").cloned())
            .and_then(|s| clean_relative(&s.value).ok())
            .filter(|p| p != "." && !patterns.contains(p))
        {
            patterns.push(path);
        }
        patterns
    }

    fn files_to_read(&self, _spec: &Spec, listed: &[&str]) -> Vec<String> {
        listed
            .iter()
            .filter(|f| READ.contains(f) || VERSION_FILES.contains(f) || HEADS.contains(f))
            .map(|f| f.to_string())
            .collect()
    }

    fn read_limit(&self, path: &str) -> Option<usize> {
        HEADS.contains(&path).then_some(HEAD_BYTES)
    }

    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics> {
        let pins = options::pins(spec)?;
        let package = Package::read(spec, ctx)?;
        let detected = detect(spec, &package, ctx, &pins)?;
        let tool = detected.tool;
        let mut notes = detected.notes.clone();
        if spec.manifests.is_none() {
            check_sources(&package, ctx, tool)?;
        }
        let has_build = package.script("build") || spec.build.is_some();
        let has_dev = package
            .json
            .get("devDependencies")
            .and_then(Value::as_object)
            .is_some_and(|d| !d.is_empty())
            || package.json.get("workspaces").is_some();
        let project = Project {
            spec,
            ctx,
            version: detected.version.clone(),
            has_build,
            has_dev,
        };
        let part = match tool {
            Tool::Npm => npm::part(&project),
            Tool::Pnpm => pnpm::part(&project),
            Tool::YarnClassic => yarn::classic(&project),
            Tool::YarnBerry => yarn::berry(&project, detected.yarn_path.as_deref()),
            Tool::Bun => bun::part(&project),
        };
        notes.extend(part.notes.iter().cloned());

        let defaults: Vec<&str> = part.manifests.iter().map(String::as_str).collect();
        let (patterns, manifests) = resolve_manifests(spec, ctx, &defaults)?;
        if !manifests.iter().any(|m| m == "package.json") {
            let span = spec
                .manifests
                .as_ref()
                .and_then(|m| m.first())
                .map_or(0..0, |m| m.span.clone());
            return Err(Diagnostic::at(
                &spec.source,
                span,
                "package.json is not among the manifests",
            )
            .help(format!(
                "{} needs package.json next to the lockfile; add \"package.json\" to `manifests`",
                tool.name()
            ))
            .into());
        }
        let lockfiles = tool.lockfiles();
        if spec.install.is_none() && !manifests.iter().any(|m| lockfiles.contains(&m.as_str())) {
            return Err(no_lockfile(spec, &package, ctx, &detected).into());
        }

        let run = start_command(ctx, &package, &part);
        let command = spec.run.as_ref().map(|r| r.value.clone()).or(run.clone());
        let artefacts = match part.home {
            Some(home) if command.as_ref().is_some_and(|c| uses(c, part.commands)) => {
                vec![Artefact {
                    from: home.into(),
                    to: home.into(),
                }]
            }
            _ => Vec::new(),
        };

        let fallback = engines_major(&package.json).unwrap_or_else(|| DEFAULT_VERSION.to_string());
        let (version, version_notes) = super::version::choose(
            spec,
            ctx,
            VERSION_FILES,
            &fallback,
            |file, text, instead| super::version::node_pin(file, text, DEFAULT_VERSION, instead),
        );
        notes.extend(version_notes);
        let default_image = default_image(spec, "node", &version)?;

        let mut app_exclude = vec!["node_modules".to_string()];
        app_exclude.extend(part.app_exclude.iter().cloned());
        Ok(Conventions {
            package_manager: part.package_manager.clone(),
            default_image,
            manifest_patterns: patterns.clone(),
            manifests: manifests.clone(),
            setup: part.setup.clone(),
            deps: Conventions::single_install(patterns, manifests, part.install.clone()),
            caches: part.caches.clone(),
            env: part.env.clone(),
            runtime_env: env_list(&[("NODE_ENV", "production")]),
            build_env: part.build_env.clone(),
            after_source: Vec::new(),
            build: package.script("build").then(|| part.build.clone()),
            after_build: part.after_build.clone(),
            run,
            run_help: format!(
                "set `run`, e.g. `run = [\"node\", \"server.js\"]`, add a `start` script to package.json (run as `{}`), or a Procfile with a `web:` line",
                part.start.join(" ")
            ),
            runtime: Runtime {
                image: None,
                artefacts,
                copy_workdir: true,
            },
            app_exclude,
            notes,
        })
    }
}

/// A Node package manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tool {
    Npm,
    Pnpm,
    /// Yarn 1.
    YarnClassic,
    /// Yarn 2 and later.
    YarnBerry,
    Bun,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Npm => "npm",
            Tool::Pnpm => "pnpm",
            Tool::YarnClassic | Tool::YarnBerry => "yarn",
            Tool::Bun => "bun",
        }
    }

    /// The lockfiles it installs from, the first being the one it writes.
    pub fn lockfiles(self) -> &'static [&'static str] {
        match self {
            Tool::Npm => &["package-lock.json", "npm-shrinkwrap.json"],
            Tool::Pnpm => &["pnpm-lock.yaml"],
            Tool::YarnClassic | Tool::YarnBerry => &["yarn.lock"],
            Tool::Bun => &["bun.lock", "bun.lockb"],
        }
    }

    /// `yarn` before its flavour is known: classic, until something says Berry.
    fn from_name(name: &str) -> Option<Tool> {
        match name {
            "npm" => Some(Tool::Npm),
            "pnpm" => Some(Tool::Pnpm),
            "yarn" => Some(Tool::YarnClassic),
            "bun" => Some(Tool::Bun),
            _ => None,
        }
    }
}

/// What a tool's part is computed from.
pub(super) struct Project<'a> {
    pub spec: &'a Spec,
    pub ctx: &'a ContextFiles,
    /// The tool's version to install; `None` for npm, which comes with Node.
    pub version: Option<String>,
    /// Whether a build step runs (a `build` script, or the spec's `build`): dev dependencies are
    /// installed for it and dropped after it.
    pub has_build: bool,
    /// Whether there are dev dependencies to leave out (package.json's, or a workspace's members'
    /// that were not read).
    pub has_dev: bool,
}

impl Project<'_> {
    /// The version to install (the tools other than npm always have one).
    pub fn version(&self) -> &str {
        self.version.as_deref().unwrap_or_default()
    }
}

/// One tool's share of the conventions.
pub(super) struct ToolPart {
    /// For `strata plan`: the tool and its version.
    pub package_manager: String,
    /// What is staged when the spec lists no manifests (those that exist).
    pub manifests: Vec<String>,
    /// Installs the tool, keyed only on its version.
    pub setup: Vec<Setup>,
    /// The frozen install: production dependencies only, unless a build step needs the others.
    pub install: String,
    pub caches: Vec<CacheMount>,
    /// Every step and the image (the tool on `PATH`).
    pub env: EnvList,
    pub build_env: EnvList,
    /// Runs the `build` script.
    pub build: String,
    /// After a build: back to production dependencies only.
    pub after_build: Option<String>,
    /// Runs the `start` script.
    pub start: Vec<String>,
    /// Runs a file (`node`, `bun`, `yarn node` under Plug'n'Play).
    pub run_file: Vec<String>,
    /// What it runs when package.json names neither a start script nor `main`.
    pub start_files: &'static [&'static str],
    /// Where the tool is installed: a separate runtime image receives it when the start command
    /// calls one of its `commands`.
    pub home: Option<&'static str>,
    pub commands: &'static [&'static str],
    /// Never copied with the source, besides node_modules: what the install made.
    pub app_exclude: Vec<String>,
    pub notes: Vec<String>,
}

impl ToolPart {
    /// The parts every tool shares: npm's settings for the steps that run npm (the tool's own
    /// install, for the others), the build and start conventions through `runner`.
    fn new(package_manager: String, runner: &str) -> ToolPart {
        ToolPart {
            package_manager,
            manifests: Vec::new(),
            setup: Vec::new(),
            install: String::new(),
            caches: Vec::new(),
            env: Vec::new(),
            build_env: env_list(&[
                ("npm_config_update_notifier", "false"),
                ("npm_config_fund", "false"),
                ("npm_config_audit", "false"),
            ]),
            build: format!("{runner} run build"),
            after_build: None,
            start: vec![runner.to_string(), "start".to_string()],
            run_file: vec!["node".to_string()],
            start_files: START_FILES,
            home: None,
            commands: &[],
            app_exclude: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Installs an npm package's commands into a directory of their own (`<home>/bin`), put first on
/// `PATH`: the registry is all it needs, and a separate runtime image receives one directory.
/// npm's download cache goes in a scratch directory removed in the same step, so the layer holds
/// the tool alone.
fn npm_install_global(home: &str, package: &str, version: &str) -> String {
    format!(
        "npm install -g --prefix {home} --cache /tmp/strata-npm-cache {package}@{version} && rm -rf /tmp/strata-npm-cache"
    )
}

/// Whether a command runs one of `names` (`pnpm start`, `sh -c "exec yarn start"`).
fn uses(command: &Command, names: &[&str]) -> bool {
    let words: Vec<&str> = match command {
        Command::Exec(argv) => argv.iter().flat_map(|a| a.split_whitespace()).collect(),
        Command::Shell(s) => s.split_whitespace().collect(),
    };
    words.iter().any(|w| {
        let w = w.trim_matches(|c| matches!(c, '"' | '\'' | ';' | '(' | ')' | '&' | '|'));
        let base = w.rsplit('/').next().unwrap_or(w);
        names.contains(&base)
    })
}

/// package.json with its text, so errors can point into it.
pub(super) struct Package {
    pub json: Value,
    /// package.json without a byte-order mark, as an editor shows it.
    pub source: SourceText,
}

impl Package {
    fn read(spec: &Spec, ctx: &ContextFiles) -> Result<Package, Diagnostics> {
        if ctx.text("package.json").is_none() {
            if let Some((lockfile, tool)) = LOCKFILES.iter().find(|(f, _)| ctx.exists(f)) {
                return Err(file_error(
                    lockfile,
                    1,
                    format!("{lockfile} is here but package.json is not"),
                )
                .help(format!(
                    "a lockfile pins what package.json declares, and {tool} installs from both: add package.json at the root of the build context (and check that .dockerignore does not exclude it)"
                ))
                .into());
            }
        }
        let json = read_package_json(spec, ctx)?;
        let text = ctx.text("package.json").unwrap_or_default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Ok(Package {
            json,
            source: SourceText::new("package.json", text),
        })
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key)?.as_str()
    }

    pub fn script(&self, name: &str) -> bool {
        self.json
            .get("scripts")
            .and_then(|s| s.get(name))
            .and_then(Value::as_str)
            .is_some()
    }

    /// Where `"key": "value"` is written: the value, or the key when `value` is `None` or written
    /// otherwise (escaped); the start of the file when the key is not found.
    pub fn span(&self, key: &str, value: Option<&str>) -> Range<usize> {
        let text = &self.source.text;
        let quoted_key = format!("\"{key}\"");
        let mut first = None;
        for (i, _) in text.match_indices(&quoted_key) {
            let key_span = i..i + quoted_key.len();
            let Some(after) = text[key_span.end..].trim_start().strip_prefix(':') else {
                continue;
            };
            first.get_or_insert(key_span.clone());
            let Some(value) = value else {
                return key_span;
            };
            let rest = after.trim_start();
            if rest
                .strip_prefix('"')
                .is_some_and(|r| r.strip_prefix(value).is_some_and(|r| r.starts_with('"')))
            {
                let start = text.len() - rest.len();
                return start..start + value.len() + 2;
            }
        }
        first.unwrap_or(0..0)
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.source, span, message)
    }
}

/// An error at the start of a line of a context file the recipe read.
fn file_error(name: &str, line: usize, message: impl Into<String>) -> Diagnostic {
    let at = Position { line, column: 1 };
    Diagnostic {
        location: Location::File {
            name: name.to_string(),
            start: at,
            end: at,
        },
        message: message.into(),
        help: None,
    }
}

/// Why the tool was chosen: errors about its lockfile point there.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ChosenBy {
    /// The spec's `package_manager`.
    Spec,
    /// package.json's `packageManager`.
    Field,
    /// Its lockfile, or `.yarnrc.yml`.
    File,
    /// `engines.<tool>` in package.json.
    Engines,
    /// Nothing else: npm.
    Default,
}

/// A version someone asked for and where: the spec's `[node]` table or package.json.
#[derive(Debug, Clone)]
struct Asked {
    version: String,
    in_spec: bool,
    span: Range<usize>,
}

impl Asked {
    fn error(&self, spec: &Spec, package: &Package, message: impl Into<String>) -> Diagnostic {
        if self.in_spec {
            Diagnostic::at(&spec.source, self.span.clone(), message)
        } else {
            package.error(self.span.clone(), message)
        }
    }

    fn said(&self, tool: &str) -> String {
        if self.in_spec {
            format!("`[node]` {tool} = \"{}\"", self.version)
        } else {
            format!("package.json's packageManager `{tool}@{}`", self.version)
        }
    }
}

#[derive(Debug, Clone)]
struct Detected {
    tool: Tool,
    by: ChosenBy,
    /// The version to install (`None`: npm, the image's).
    version: Option<String>,
    /// Yarn Berry: the release `.yarnrc.yml`'s `yarnPath` names.
    yarn_path: Option<String>,
    notes: Vec<String>,
}

/// package.json's `packageManager`: `name@version[+hash]`, as Corepack reads it.
struct Field {
    name: &'static str,
    version: Option<Asked>,
}

fn package_manager_field(package: &Package) -> Result<Option<Field>, Diagnostics> {
    let Some(raw) = package.json.get("packageManager") else {
        return Ok(None);
    };
    let Some(declared) = raw.as_str() else {
        return Err(package
            .error(
                package.span("packageManager", None),
                "`packageManager` must be a string such as \"pnpm@9.15.9\"",
            )
            .into());
    };
    let span = package.span("packageManager", Some(declared));
    // Corepack accepts a URL here, which can carry a token.
    let shown = redact_credentials(declared);
    let (name, version) = match declared.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (declared, None),
    };
    let Some(name) = TOOL_NAMES.iter().copied().find(|t| *t == name) else {
        let guess = closest(name, TOOL_NAMES.iter().copied());
        let help = match guess {
            Some(g) => format!("did you mean `{g}`?"),
            None => format!("Strata installs with {}", TOOL_NAMES.join(", ")),
        };
        // From the redacted text: `https://user:TOKEN@…` splits at the credentials' `@`.
        let tool = shown.split('@').next().unwrap_or_default();
        return Err(package
            .error(
                span,
                format!("package.json's packageManager `{shown}` names `{tool}`, which is not a Node package manager Strata knows"),
            )
            .help(help)
            .into());
    };
    let version = match version.map(|v| v.split('+').next().unwrap_or(v)) {
        None | Some("") => None,
        Some(v) if options::is_exact_version(v) => Some(Asked {
            version: v.to_string(),
            in_spec: false,
            span: span.clone(),
        }),
        Some(_) => {
            return Err(package
                .error(
                    span,
                    format!("package.json's packageManager `{shown}` is not `{name}@<version>`"),
                )
                .help(format!(
                    "Strata installs {name} from the npm registry by version: write e.g. \"{name}@{}\", or pin it in the spec with `[node] {name} = \"…\"`",
                    default_version(name)
                ))
                .into());
        }
    };
    Ok(Some(Field { name, version }))
}

fn default_version(name: &str) -> &'static str {
    match name {
        "pnpm" => pnpm::DEFAULT_VERSION,
        "yarn" => yarn::DEFAULT_BERRY,
        "bun" => bun::DEFAULT_VERSION,
        _ => "10.9.2",
    }
}

/// Chooses the tool: the spec's `package_manager`, else package.json's `packageManager`, else the
/// lockfiles (two tools' lockfiles are an error), else `engines`, else npm; then its version: the
/// spec's `[node]` pin, else `packageManager`'s version, else what the lockfile's format implies,
/// else Strata's default.
fn detect(
    spec: &Spec,
    package: &Package,
    ctx: &ContextFiles,
    pins: &Pins,
) -> Result<Detected, Diagnostics> {
    let field = package_manager_field(package)?;
    let mut notes = Vec::new();
    let (name, by) = if let Some(pm) = &spec.package_manager {
        let Some(name) = TOOL_NAMES.iter().copied().find(|t| *t == pm.value) else {
            let help = match closest(&pm.value, TOOL_NAMES.iter().copied()) {
                Some(g) => format!("did you mean `{g}`?"),
                None => format!("node package managers: {}", TOOL_NAMES.join(", ")),
            };
            return Err(Diagnostic::at(
                &spec.source,
                pm.span.clone(),
                format!("unknown package manager `{}` for node", pm.value),
            )
            .help(help)
            .into());
        };
        if let Some(f) = field.as_ref().filter(|f| f.name != name) {
            notes.push(format!(
                "package.json's packageManager names {}; the spec's `package_manager` chooses {name}",
                f.name
            ));
        }
        (name, ChosenBy::Spec)
    } else if let Some(f) = &field {
        (f.name, ChosenBy::Field)
    } else {
        from_files(spec, package, ctx)?
    };
    if matches!(by, ChosenBy::Spec | ChosenBy::Field) {
        for (lockfile, tool) in LOCKFILES {
            if *tool != name && ctx.exists(lockfile) {
                let by = if by == ChosenBy::Spec {
                    "the spec's `package_manager`"
                } else {
                    "package.json's packageManager"
                };
                notes.push(format!("{lockfile} is not used: {by} chooses {name}"));
            }
        }
    }

    // The spec's pin wins over packageManager's version; a pin for another tool is a mistake.
    for (key, pin) in pins.all() {
        if key != name {
            return Err(Diagnostic::at(
                &spec.source,
                pin.span.clone(),
                format!("`[node]` pins {key}, but this project installs with {name}"),
            )
            .help(format!(
                "remove the pin, or choose {key} with `package_manager = \"{key}\"`"
            ))
            .into());
        }
    }
    let declared = field.filter(|f| f.name == name).and_then(|f| f.version);
    let pinned = pins.get(name).map(|p| Asked {
        version: p.value.clone(),
        in_spec: true,
        span: p.span.clone(),
    });
    if let (Some(p), Some(d)) = (&pinned, &declared) {
        if p.version != d.version {
            notes.push(format!(
                "{} is overridden by {}",
                d.said(name),
                p.said(name)
            ));
        }
    }
    let asked = pinned.or(declared);

    let mut tool = Tool::from_name(name).unwrap_or(Tool::Npm);
    let mut yarn_path = None;
    if tool == Tool::YarnClassic {
        yarn_path = yarn_release(ctx)?;
        tool = yarn_flavour(spec, package, ctx, asked.as_ref(), yarn_path.is_some())?;
    }
    if let (Some(asked), Some(_)) = (asked.as_ref().filter(|a| a.in_spec), &yarn_path) {
        return Err(asked
            .error(
                spec,
                package,
                "`[node]` yarn pins a version, but .yarnrc.yml's `yarnPath` runs the release committed in the project",
            )
            .help("Yarn always runs its `yarnPath`: remove the pin, or remove `yarnPath` (and the release) to have Strata install the pinned Yarn")
            .into());
    }
    let version = match tool {
        Tool::Npm => {
            if let Some(a) = &asked {
                notes.push(format!(
                    "{} is not installed: the build uses the npm that comes with the node image",
                    a.said("npm")
                ));
            }
            None
        }
        Tool::Pnpm => Some(asked.map(|a| a.version).unwrap_or_else(|| {
            ctx.head("pnpm-lock.yaml")
                .and_then(readers::pnpm_lock_version)
                .and_then(|v| pnpm::for_lockfile(&v))
                .unwrap_or(pnpm::DEFAULT_VERSION)
                .to_string()
        })),
        Tool::YarnClassic => Some(
            asked
                .map(|a| a.version)
                .unwrap_or_else(|| yarn::DEFAULT_CLASSIC.to_string()),
        ),
        Tool::YarnBerry => match (&yarn_path, asked) {
            (Some(path), _) => Some(yarn::release_version(path)),
            (None, Some(a)) => Some(a.version),
            (None, None) => {
                let format = match ctx.head("yarn.lock").map(readers::yarn_lock) {
                    Some(YarnLock::Berry { format }) => format,
                    _ => None,
                };
                Some(yarn::berry_for_format(format).to_string())
            }
        },
        Tool::Bun => Some(
            asked
                .map(|a| a.version)
                .unwrap_or_else(|| bun::DEFAULT_VERSION.to_string()),
        ),
    };
    Ok(Detected {
        tool,
        by,
        version,
        yarn_path,
        notes,
    })
}

/// The tool from the files in the context: one tool's lockfiles, `.yarnrc.yml`, or package.json's
/// `engines`; npm when nothing says.
fn from_files(
    spec: &Spec,
    package: &Package,
    ctx: &ContextFiles,
) -> Result<(&'static str, ChosenBy), Diagnostics> {
    let found: Vec<(&'static str, &'static str)> = LOCKFILES
        .iter()
        .copied()
        .filter(|(f, _)| ctx.exists(f))
        .collect();
    if let Some(&(first, tool)) = found.first() {
        if let Some(&(other, other_tool)) = found.iter().find(|(_, t)| *t != tool) {
            return Err(Diagnostic::at(
                &spec.source,
                spec.language.span.clone(),
                format!(
                    "the build context holds lockfiles of two package managers: {first} ({tool}) and {other} ({other_tool})"
                ),
            )
            .help(format!(
                "delete the one the project does not use, or choose: `\"packageManager\": \"{tool}@{}\"` in package.json, or `package_manager = \"{tool}\"` in the spec",
                default_version(tool)
            ))
            .into());
        }
        return Ok((tool, ChosenBy::File));
    }
    if ctx.exists(".yarnrc.yml") {
        return Ok(("yarn", ChosenBy::File));
    }
    let engines = package.json.get("engines");
    for tool in ["pnpm", "bun", "yarn"] {
        if engines.and_then(|e| e.get(tool)).is_some() {
            return Ok((tool, ChosenBy::Engines));
        }
    }
    Ok(("npm", ChosenBy::Default))
}

/// `.yarnrc.yml`'s `yarnPath`, which must name a file in the build context.
fn yarn_release(ctx: &ContextFiles) -> Result<Option<String>, Diagnostics> {
    let Some(setting) = ctx
        .text(".yarnrc.yml")
        .and_then(|t| readers::yarnrc(t).get("yarnPath").cloned())
    else {
        return Ok(None);
    };
    let path = match clean_relative(&setting.value) {
        Ok(p) if p != "." => p,
        _ => {
            return Err(file_error(
                ".yarnrc.yml",
                setting.line,
                format!("yarnPath `{}` is outside the build context", setting.value),
            )
            .help("BuildKit sends only the build context: commit the Yarn release inside the project (`yarn set version`)")
            .into());
        }
    };
    if !ctx.exists(&path) {
        return Err(file_error(
            ".yarnrc.yml",
            setting.line,
            format!("yarnPath `{}` is not in the build context", setting.value),
        )
        .help("commit the release `yarn set version` wrote, and check that .dockerignore does not exclude it")
        .into());
    }
    Ok(Some(path))
}

/// Yarn 1 or Yarn 2+: the version asked for, else a committed release (always Berry), else
/// yarn.lock's header, else `.yarnrc.yml` (Berry's settings file). A version that contradicts the
/// lockfile is an error: the frozen install would fail on it.
fn yarn_flavour(
    spec: &Spec,
    package: &Package,
    ctx: &ContextFiles,
    asked: Option<&Asked>,
    has_release: bool,
) -> Result<Tool, Diagnostics> {
    let lock = ctx.head("yarn.lock").map(readers::yarn_lock);
    if let Some(a) = asked {
        let classic = options::major(&a.version) == Some(1);
        let contradiction = match lock {
            Some(YarnLock::Berry { .. }) if classic => {
                Some("yarn.lock was written by Yarn 2 or later (it has a `__metadata:` block)")
            }
            Some(YarnLock::Classic) if !classic => {
                Some("yarn.lock was written by Yarn 1 (`# yarn lockfile v1`)")
            }
            _ => None,
        };
        if let Some(what) = contradiction {
            return Err(a
                .error(
                    spec,
                    package,
                    format!("{} asks for Yarn {}, but {what}", a.said("yarn"), a.version),
                )
                .help("pin the Yarn that wrote yarn.lock, or run `yarn install` with the Yarn you pin and commit the lockfile")
                .into());
        }
        return Ok(if classic {
            Tool::YarnClassic
        } else {
            Tool::YarnBerry
        });
    }
    if has_release {
        return Ok(Tool::YarnBerry);
    }
    match lock {
        Some(YarnLock::Classic) => Ok(Tool::YarnClassic),
        Some(YarnLock::Berry { .. }) => Ok(Tool::YarnBerry),
        _ if ctx.exists(".yarnrc.yml") => Ok(Tool::YarnBerry),
        Some(YarnLock::Unknown) => Err(file_error(
            "yarn.lock",
            1,
            "yarn.lock is neither a Yarn 1 lockfile (`# yarn lockfile v1`) nor a Yarn 2+ one (`__metadata:`)",
        )
        .help(format!(
            "say which Yarn wrote it: `\"packageManager\": \"yarn@{}\"` (or \"yarn@{}\") in package.json, or `[node] yarn = \"…\"` in the spec",
            yarn::DEFAULT_BERRY,
            yarn::DEFAULT_CLASSIC
        ))
        .into()),
        None => Ok(Tool::YarnClassic),
    }
}

/// No lockfile is staged: where the tool was chosen, what to run to make one.
fn no_lockfile(
    spec: &Spec,
    package: &Package,
    ctx: &ContextFiles,
    detected: &Detected,
) -> Diagnostic {
    let tool = detected.tool;
    let lockfile = tool.lockfiles()[0];
    let message = format!(
        "no {lockfile} staged: without a lockfile the install resolves versions anew on every build, so it would not be reproducible"
    );
    let d = match (&detected.by, &spec.package_manager) {
        (ChosenBy::Spec, Some(pm)) => Diagnostic::at(&spec.source, pm.span.clone(), message),
        (ChosenBy::Field, _) => package.error(package.span("packageManager", None), message),
        _ => Diagnostic::at(&spec.source, spec.language.span.clone(), message),
    };
    let staged = tool.lockfiles().iter().find(|f| ctx.exists(f));
    match staged {
        Some(f) => d.help(format!("{f} exists: add \"{f}\" to `manifests`")),
        None => d.help(format!(
            "run `{} install` and commit {lockfile}, or set `install = \"{} install\"` to install without one",
            tool.name(),
            tool.name()
        )),
    }
}

/// Workspaces and local-path dependencies need more than the manifests Strata stages by default:
/// each is an error naming what to list in `manifests` instead.
fn check_sources(package: &Package, ctx: &ContextFiles, tool: Tool) -> Result<(), Diagnostics> {
    let mut staged: Vec<String> = vec!["package.json".into()];
    staged.extend(
        tool.lockfiles()
            .iter()
            .filter(|f| ctx.exists(f))
            .map(|f| f.to_string()),
    );
    let suggest = |extra: &[String]| -> String {
        let list: Vec<String> = staged
            .iter()
            .chain(extra)
            .map(|f| format!("\"{f}\""))
            .collect();
        format!("manifests = [{}]", list.join(", "))
    };
    let mut errors = Vec::new();

    let members: Option<Vec<String>> = match package.json.get("workspaces") {
        Some(Value::Array(list)) => Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
        ),
        Some(Value::Object(o)) => Some(
            o.get("packages")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Some(_) => Some(Vec::new()),
        None => None,
    };
    if let Some(members) = members {
        errors.push(workspace_error(
            package.error(package.span("workspaces", None), ""),
            "package.json declares workspaces",
            &members,
            &suggest(&member_manifests(&members)),
        ));
    }
    if tool == Tool::Pnpm {
        if let Some((line, members)) = ctx
            .text("pnpm-workspace.yaml")
            .and_then(readers::pnpm_workspace_packages)
        {
            let mut extra = vec!["pnpm-workspace.yaml".to_string()];
            extra.extend(member_manifests(&members));
            let d = file_error("pnpm-workspace.yaml", line, "");
            errors.push(workspace_error(
                d,
                "pnpm-workspace.yaml lists workspace packages",
                &members,
                &suggest(&extra),
            ));
        }
    }

    for section in ["dependencies", "devDependencies", "optionalDependencies"] {
        let Some(deps) = package.json.get(section).and_then(Value::as_object) else {
            continue;
        };
        for (name, spec_value) in deps {
            let Some(value) = spec_value.as_str() else {
                continue;
            };
            // Each is located by a search of package.json: a bounded number of them.
            if errors.len() >= MAX_SOURCE_ERRORS {
                break;
            }
            if let Some(d) = local_dependency(package, section, name, value, &suggest) {
                errors.push(d);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        errors.sort_by_key(|d| match &d.location {
            Location::File { name, start, .. } => {
                (name != "package.json", start.line, start.column)
            }
            _ => (true, 0, 0),
        });
        Err(Diagnostics(errors))
    }
}

/// Errors `check_sources` reports at most: enough to show the pattern of the mistake.
const MAX_SOURCE_ERRORS: usize = 20;

fn member_manifests(members: &[String]) -> Vec<String> {
    members
        .iter()
        .filter(|m| !m.starts_with('!'))
        .map(|m| format!("{}/package.json", m.trim_end_matches('/')))
        .collect()
}

/// `at` gives the location; the message and help are written here.
fn workspace_error(at: Diagnostic, what: &str, members: &[String], suggestion: &str) -> Diagnostic {
    let list: Vec<String> = members.iter().map(|m| format!("`{m}`")).collect();
    let members = if list.is_empty() {
        String::new()
    } else {
        format!(" ({})", list.join(", "))
    };
    Diagnostic {
        message: format!(
            "{what}{members}: the install needs every member's package.json, which Strata does not stage by default"
        ),
        ..at
    }
    .help(format!(
        "list them in `manifests`, e.g. `{suggestion}`, with any other file a member's install reads"
    ))
}

/// A dependency on local source (`file:`, `link:`, `portal:`, `workspace:`, a path): the
/// install would not find it among the manifests.
fn local_dependency(
    package: &Package,
    section: &str,
    name: &str,
    value: &str,
    suggest: &dyn Fn(&[String]) -> String,
) -> Option<Diagnostic> {
    let path = ["file:", "link:", "portal:"]
        .iter()
        .find_map(|p| value.strip_prefix(p))
        .or_else(|| {
            (value.starts_with("./")
                || value.starts_with("../")
                || value.starts_with('/')
                || value.starts_with("~/"))
            .then_some(value)
        });
    let workspace = value.starts_with("workspace:");
    if path.is_none() && !workspace {
        return None;
    }
    let shown = redact_credentials(value);
    let at = package.span(name, Some(value));
    if workspace {
        return Some(
            package
                .error(
                    at,
                    format!("{section} `{name}` is `{shown}`, a package of this workspace, whose source the dependency install does not see"),
                )
                .help(format!(
                    "list every workspace package's package.json in `manifests`, e.g. `{}`",
                    suggest(&["packages/*/package.json".to_string()])
                )),
        );
    }
    let path = path?;
    let d = package.error(
        at,
        format!(
            "{section} `{name}` is `{shown}`, local source the dependency install does not see"
        ),
    );
    Some(match clean_relative(path) {
        Ok(p) if p != "." && !path.starts_with('~') => d.help(format!(
            "list it in `manifests` with the other manifests, e.g. `{}`",
            suggest(&[p])
        )),
        _ => d.help(format!(
            "`{}` is outside the build context, which is all BuildKit sends: move it into the context (or publish it) and list it in `manifests`",
            redact_credentials(path)
        )),
    })
}

/// The start command: a Procfile's `web:` process, the tool's way of running the `start` script,
/// `main`, or a conventional file.
fn start_command(ctx: &ContextFiles, package: &Package, part: &ToolPart) -> Option<Command> {
    if let Some(web) = ctx.text("Procfile").and_then(readers::procfile_web) {
        return Some(Command::Shell(web));
    }
    if package.script("start") {
        return Some(Command::Exec(part.start.clone()));
    }
    let file = package.str("main").map(str::to_string).or_else(|| {
        part.start_files
            .iter()
            .find(|f| ctx.exists(f))
            .map(|f| f.to_string())
    })?;
    let mut argv = part.run_file.clone();
    argv.push(file);
    Some(Command::Exec(argv))
}

/// The version to use for simple `engines.node` ranges: the major of `22`, `^22.1`, `~20`,
/// `22.x`; for `>=N`, the default when it satisfies the range. Anything else is left to the default.
fn engines_major(package: &Value) -> Option<String> {
    let range = package.get("engines")?.get("node")?.as_str()?.trim();
    let (at_least, rest) = match range.strip_prefix(">=") {
        Some(r) => (true, r.trim()),
        None => (false, range.trim_start_matches(['^', '~', '='])),
    };
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = &rest[major.len()..];
    let simple = tail.is_empty() || tail.starts_with('.') && !tail.contains([' ', '<', '|', '>']);
    if major.is_empty() || !simple {
        return None;
    }
    let default: u32 = DEFAULT_VERSION.parse().ok()?;
    match (at_least, major.parse::<u32>().ok()?) {
        (true, m) if m <= default => Some(DEFAULT_VERSION.to_string()),
        _ => Some(major),
    }
}

/// Entry point for `crate::fuzzing`: the text as every small Node file the recipe reads (the
/// heads of yarn.lock and pnpm-lock.yaml, .yarnrc.yml and the release its `yarnPath` names,
/// pnpm-workspace.yaml, a Procfile).
#[doc(hidden)]
pub(super) fn fuzz_readers(text: &str) {
    let _ = readers::yarn_lock(text);
    if let Some(v) = readers::pnpm_lock_version(text) {
        let _ = pnpm::for_lockfile(&v);
    }
    if let Some(path) = readers::yarnrc(text).get("yarnPath") {
        let _ = yarn::release_version(&path.value);
    }
    let _ = readers::pnpm_workspace_packages(text);
    let _ = readers::procfile_web(text);
}

#[cfg(test)]
mod tests;
