//! Node with npm: package.json and the lockfile staged alone, `npm ci` with npm's cache mounted,
//! `npm run build` after the source copy when the project has a build script.

use serde_json::Value;

use super::package_json::read_package_json;
use super::{
    Conventions, Probe, Recipe, Runtime, cache, default_image, env_list, resolve_manifests,
};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::Sharing;
use crate::spec::{Command, Spec};

pub struct Node;

const DEFAULT_VERSION: &str = "22";
const DEFAULT_MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    ".npmrc",
];
const LOCKFILES: &[&str] = &["package-lock.json", "npm-shrinkwrap.json"];
const VERSION_FILES: &[&str] = &[".nvmrc", ".node-version"];
const START_FILES: &[&str] = &["server.js", "index.js"];
const PROBE: Probe = Probe {
    defaults: DEFAULT_MANIFESTS,
    always: &["package.json"],
    version_files: VERSION_FILES,
    other_tools: &[
        ("pnpm-lock.yaml", "pnpm"),
        ("yarn.lock", "yarn"),
        ("bun.lock", "bun"),
        ("bun.lockb", "bun"),
    ],
    start_files: START_FILES,
};

impl Recipe for Node {
    fn language(&self) -> &'static str {
        "node"
    }

    fn probe(&self, spec: &Spec, _found: &ContextFiles) -> Vec<String> {
        PROBE.patterns(spec)
    }

    fn files_to_read(&self, _spec: &Spec, listed: &[&str]) -> Vec<String> {
        listed
            .iter()
            .filter(|f| **f == "package.json" || VERSION_FILES.contains(f))
            .map(|f| f.to_string())
            .collect()
    }

    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics> {
        let package = read_package_json(spec, ctx)?;
        let explicit_pm = spec.package_manager.as_ref();
        if let Some(pm) = explicit_pm {
            if pm.value != "npm" {
                return Err(Diagnostic::at(
                    &spec.source,
                    pm.span.clone(),
                    format!(
                        "package manager `{}` is not supported for node yet",
                        pm.value
                    ),
                )
                .help("supported: npm (package-lock.json)")
                .into());
            }
        } else if let Some(declared) = package.get("packageManager").and_then(Value::as_str) {
            if !declared.starts_with("npm@") {
                // Corepack accepts a URL here, which can carry a token.
                let declared = crate::redact::redact_credentials(declared);
                let name = declared.split('@').next().unwrap_or(&declared);
                return Err(Diagnostic::at(
                    &spec.source,
                    spec.language.span.clone(),
                    format!("package.json declares packageManager `{declared}`: {name} is not supported yet"),
                )
                .help("supported: npm; set `package_manager = \"npm\"` to use npm anyway")
                .into());
            }
        }

        let (patterns, manifests) = resolve_manifests(spec, ctx, DEFAULT_MANIFESTS)?;
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
            .help(
                "npm needs package.json next to the lockfile; add \"package.json\" to `manifests`",
            )
            .into());
        }
        let has_lock = manifests.iter().any(|m| LOCKFILES.contains(&m.as_str()));
        if !has_lock && spec.install.is_none() {
            let other = PROBE.other_tool(ctx);
            let d = Diagnostic::at(
                &spec.source,
                spec.language.span.clone(),
                "no package-lock.json staged: `npm ci` installs exactly what a lockfile pins",
            );
            let d = match (other, explicit_pm) {
                (Some((file, tool)), None) => d.help(format!(
                    "found {file}: {tool} projects are not supported yet"
                )),
                _ => d.help("run `npm install` and commit package-lock.json, or set `install = \"npm install\"`"),
            };
            return Err(d.into());
        }
        if spec.manifests.is_none() && package.get("workspaces").is_some() {
            return Err(Diagnostic::at(
                &spec.source,
                spec.language.span.clone(),
                "package.json declares workspaces, whose package.json files the install needs",
            )
            .help("list them in `manifests`, e.g. `manifests = [\"package.json\", \"package-lock.json\", \"packages/*/package.json\"]`")
            .into());
        }

        let scripts = package.get("scripts");
        let script = |name: &str| {
            scripts
                .and_then(|s| s.get(name))
                .and_then(Value::as_str)
                .is_some()
        };
        let has_build = script("build") || spec.build.is_some();
        // --prefer-offline: packages already in the mounted cache are taken without asking the
        // registry again (the lockfile pins them by integrity hash); missing ones are downloaded.
        let install = if has_build {
            "npm ci --prefer-offline"
        } else {
            "npm ci --omit=dev --prefer-offline"
        };

        let run = if script("start") {
            Some(Command::Exec(vec!["npm".into(), "start".into()]))
        } else if let Some(main) = package.get("main").and_then(Value::as_str) {
            Some(Command::Exec(vec!["node".into(), main.to_string()]))
        } else {
            START_FILES
                .iter()
                .find(|f| ctx.exists(f))
                .map(|f| Command::Exec(vec!["node".into(), f.to_string()]))
        };

        let fallback = engines_major(&package).unwrap_or_else(|| DEFAULT_VERSION.to_string());
        let (version, notes) = super::version::choose(
            spec,
            ctx,
            VERSION_FILES,
            &fallback,
            |file, text, instead| super::version::node_pin(file, text, DEFAULT_VERSION, instead),
        );
        let default_image = default_image(spec, "node", &version)?;

        Ok(Conventions {
            package_manager: "npm".into(),
            default_image,
            manifest_patterns: patterns.clone(),
            manifests: manifests.clone(),
            setup: Vec::new(),
            deps: Conventions::single_install(patterns, manifests, install.to_string()),
            caches: vec![cache("/root/.npm", spec, "npm", Sharing::Shared)],
            env: Vec::new(),
            runtime_env: env_list(&[("NODE_ENV", "production")]),
            build_env: env_list(&[
                ("npm_config_update_notifier", "false"),
                ("npm_config_fund", "false"),
                ("npm_config_audit", "false"),
            ]),
            after_source: Vec::new(),
            build: script("build").then(|| "npm run build".to_string()),
            after_build: Some("npm prune --omit=dev --prefer-offline".into()),
            run,
            run_help: "set `run`, e.g. `run = [\"node\", \"server.js\"]`, or add a `start` script to package.json".into(),
            runtime: Runtime {
                image: None,
                artefacts: Vec::new(),
                copy_workdir: true,
            },
            app_exclude: vec!["node_modules".into()],
            notes,
        })
    }
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
