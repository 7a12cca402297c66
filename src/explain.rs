//! Answers to BuildKit's subrequests (`docker buildx build --call outline|targets|check`, and the
//! `describe` list buildx asks first) and Strata's build checks. Pure: from the spec, the context
//! files and the plan to the JSON and text BuildKit's clients print.

use std::collections::BTreeMap;
use std::ops::Range;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, Location, SourceText};
use crate::options::{BuildOptions, Request};
use crate::pattern::PatternSet;
use crate::plan::{Plan, StageFrom, StageName, Step};
use crate::recipe::requirements::{self, Kind, Source};
use crate::spec::Spec;

/// A subrequest's reply: the result metadata BuildKit's clients read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub json: Vec<u8>,
    pub text: String,
    pub version: &'static str,
    /// `frontend.lint` only: buildx exits with it.
    pub status: Option<u8>,
}

impl Answer {
    pub fn metadata(&self) -> BTreeMap<String, Vec<u8>> {
        let mut m = BTreeMap::from([
            ("result.json".to_string(), self.json.clone()),
            ("result.txt".to_string(), self.text.clone().into_bytes()),
            ("version".to_string(), self.version.as_bytes().to_vec()),
        ]);
        if let Some(s) = self.status {
            m.insert("result.statuscode".into(), s.to_string().into_bytes());
        }
        m
    }
}

const VERSION: &str = "1.0.0";

fn answer(value: Value, text: String, status: Option<u8>) -> Answer {
    Answer {
        json: serde_json::to_vec_pretty(&value).unwrap_or_default(),
        text,
        version: VERSION,
        status,
    }
}

fn describe_entry(r: Request) -> Value {
    let (description, opts, metadata): (&str, Vec<(&str, &str)>, Vec<&str>) = match r {
        Request::Outline => (
            "List all parameters the current build target supports",
            vec![("target", "Target build stage")],
            vec!["result.json", "result.txt"],
        ),
        Request::Targets => (
            "List all targets the current build supports",
            vec![],
            vec!["result.json", "result.txt"],
        ),
        Request::Lint => (
            "Lint the build spec with Strata's checks",
            vec![],
            vec!["result.json", "result.txt", "result.statuscode"],
        ),
        Request::Describe => (
            "List available subrequest types",
            vec![],
            vec!["result.json", "result.txt"],
        ),
    };
    json!({
        "name": r.id(),
        "version": VERSION,
        "type": "rpc",
        "description": description,
        "opts": opts.iter().map(|(n, d)| json!({"name": n, "description": d})).collect::<Vec<_>>(),
        "inputs": [],
        "metadata": metadata.iter().map(|n| json!({"name": n, "description": ""})).collect::<Vec<_>>(),
        "refs": [],
    })
}

/// `frontend.subrequests.describe`: what Strata answers.
pub fn describe() -> Answer {
    let list: Vec<Value> = Request::ALL.into_iter().map(describe_entry).collect();
    let mut text = String::from("NAME\tVERSION\tDESCRIPTION\n");
    for r in Request::ALL {
        let d = describe_entry(r);
        text.push_str(&format!(
            "{}\t{VERSION}\t{}\n",
            r.id().trim_start_matches("frontend."),
            d["description"].as_str().unwrap_or_default()
        ));
    }
    answer(Value::Array(list), text, None)
}

/// A location in BuildKit's JSON form (`pb.Location`), 1-based as BuildKit's source ranges are.
fn location(source_index: i32, src: &SourceText, span: std::ops::Range<usize>) -> Value {
    let (s, e) = (src.position(span.start), src.position(span.end));
    json!({
        "sourceIndex": source_index,
        "ranges": [{
            "start": {"line": s.line, "character": s.column},
            "end": {"line": e.line, "character": e.column},
        }],
    })
}

/// A lint source (`pb.SourceInfo`); the spec is TOML, manifests have no language BuildKit knows.
fn source_info(src: &SourceText, spec: &Spec) -> Value {
    let mut info = json!({
        "filename": src.name,
        "data": base64::engine::general_purpose::STANDARD.encode(crate::redact::redact_credentials(&src.text).as_bytes()),
    });
    if src.name == spec.source.name {
        info["language"] = json!("TOML");
    }
    info
}

/// Where the spec writes the key at `path` (`["env", "API_TOKEN"]`), for settings the parsed spec
/// keeps without a position: found by reading the TOML again, so a key in an inline table
/// (`env = { API_TOKEN = "…" }`), a `[env]` table or a dotted key (`env.API_TOKEN`) is found alike.
/// Falls back to the `language` value.
fn key_span(spec: &Spec, path: &[&str]) -> std::ops::Range<usize> {
    let text = &spec.source.text;
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let shift = text.len() - body.len();
    let found = toml::de::DeTable::parse(body).ok().and_then(|root| {
        let mut table = root.get_ref();
        let mut span = None;
        for (depth, name) in path.iter().enumerate() {
            let (key, value) = table.iter().find(|(k, _)| k.get_ref() == *name)?;
            span = Some(key.span());
            if depth + 1 < path.len() {
                match value.get_ref() {
                    toml::de::DeValue::Table(t) => table = t,
                    _ => return None,
                }
            }
        }
        span
    });
    match found {
        Some(span) => span.start + shift..span.end + shift,
        None => spec.language.span.clone(),
    }
}

/// The build arguments the spec refers to, with their defaults, in order of first use.
fn build_args(spec: &Spec) -> Vec<(String, Option<String>, std::ops::Range<usize>)> {
    let text = &spec.source.text;
    let bytes = text.as_bytes();
    let mut out: Vec<(String, Option<String>, std::ops::Range<usize>)> = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' && bytes[i + 1] == b'$' {
            i += 2;
            continue;
        }
        if bytes[i] == b'$' && bytes[i + 1] == b'{' {
            let start = i + 2;
            let len = bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            let name = &text[start..start + len];
            let default = text[start + len..]
                .strip_prefix(":-")
                .and_then(|rest| rest.split('}').next())
                .map(str::to_string);
            if !name.is_empty() && !out.iter().any(|(n, _, _)| n == name) {
                out.push((name.to_string(), default, i..start + len + 1));
            }
            i = start + len;
            continue;
        }
        i += 1;
    }
    out
}

/// `frontend.outline`: the build arguments, secrets, SSH and caches the build uses, and which files
/// key the dependency install.
pub fn outline(spec: &Spec, plan: &Plan, options: &BuildOptions) -> Answer {
    let target = options.target.unwrap_or(StageName::Runtime);
    let args: Vec<Value> = build_args(spec)
        .into_iter()
        .map(|(name, default, span)| {
            let value = options.build_args.get(&name).cloned().or(default);
            let mut a = json!({"name": name, "location": location(0, &spec.source, span)});
            if let Some(v) = value {
                a["value"] = json!(crate::redact::redact_credentials(&v));
            }
            a
        })
        .collect();
    let secrets: Vec<Value> = spec
        .secrets
        .iter()
        .map(|s| json!({"name": s.id, "required": s.required}))
        .collect();
    let mut caches: Vec<String> = Vec::new();
    for step in plan.stages.iter().flat_map(|s| &s.steps) {
        if let Step::Run(r) = step {
            for c in r
                .caches
                .iter()
                .chain(r.layer_cache.as_ref().map(|l| &l.cache))
            {
                let id = c.scoped_id("<platform>");
                if !caches.contains(&id) {
                    caches.push(id);
                }
            }
        }
    }
    let mut description = format!(
        "{} with {}: dependencies keyed by {}",
        plan.language,
        plan.package_manager,
        plan.manifests.join(", ")
    );
    // The one choice a build option makes inside the plan: buildx shows the description.
    for image in plan.tool_images() {
        let name = image.familiar();
        description.push_str(&format!(
            "; --build-context {name}=docker-image://IMAGE copies the tool from IMAGE instead of installing it"
        ));
    }
    let value = json!({
        "name": target.name(),
        "description": description,
        "args": args,
        "secrets": secrets,
        "ssh": [{"name": "default"}],
        "cache": caches.iter().map(|id| json!({"ID": id})).collect::<Vec<_>>(),
        "sources": [base64::engine::general_purpose::STANDARD.encode(crate::redact::redact_credentials(&spec.source.text).as_bytes())],
    });
    let mut text = format!(
        "TARGET:      {}\nDESCRIPTION: {description}\n",
        target.name()
    );
    if !args.is_empty() {
        text.push_str("\nBUILD ARG\tVALUE\n");
        for a in &args {
            text.push_str(&format!(
                "{}\t{}\n",
                a["name"].as_str().unwrap_or_default(),
                a["value"].as_str().unwrap_or_default()
            ));
        }
    }
    if !secrets.is_empty() {
        text.push_str("\nSECRET\tREQUIRED\n");
        for s in &spec.secrets {
            text.push_str(&format!(
                "{}\t{}\n",
                s.id,
                if s.required { "true" } else { "" }
            ));
        }
    }
    text.push_str("\nSSH\tREQUIRED\ndefault\t\n");
    if !caches.is_empty() {
        text.push_str("\nCACHE\n");
        for id in &caches {
            text.push_str(&format!("{id}\n"));
        }
    }
    answer(value, text, None)
}

fn stage_description(stage: StageName, plan: &Plan) -> String {
    match stage {
        StageName::Base => "the build image and system packages".into(),
        StageName::Deps => format!(
            "dependencies installed from {} alone",
            plan.manifests.join(", ")
        ),
        StageName::Build => "the source copied and built".into(),
        StageName::Runtime => "the image to run".into(),
    }
}

/// `frontend.targets`: the stages `--target` can stop at.
pub fn targets(spec: &Spec, plan: &Plan) -> Answer {
    let mut list = Vec::new();
    let mut text = String::from("TARGET\tDESCRIPTION\n");
    for stage in &plan.stages {
        let mut t = json!({
            "name": stage.name.name(),
            "description": stage_description(stage.name, plan),
        });
        if stage.name == StageName::Runtime {
            t["default"] = json!(true);
        }
        if let StageFrom::Image(r) = &stage.from {
            t["base"] = json!(r.to_string());
        }
        let default = if stage.name == StageName::Runtime {
            " (default)"
        } else {
            ""
        };
        text.push_str(&format!(
            "{}{default}\t{}\n",
            stage.name.name(),
            stage_description(stage.name, plan)
        ));
        list.push(t);
    }
    let value = json!({
        "targets": list,
        "sources": [base64::engine::general_purpose::STANDARD.encode(crate::redact::redact_credentials(&spec.source.text).as_bytes())],
    });
    answer(value, text, None)
}

/// A check's finding: the rule, what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub description: &'static str,
    pub detail: String,
    /// The file (the spec, or a manifest) and the span in it.
    pub at: Option<(SourceText, std::ops::Range<usize>)>,
}

/// Every rule Strata checks, with what it means (`# check=skip=<rule>` turns one off).
pub const RULES: &[(&str, &str)] = &[
    (
        "UnfrozenInstall",
        "The dependency install is not pinned by a lockfile, so two builds can install different versions",
    ),
    (
        "SecretInEnv",
        "A credential passed as an environment variable or build argument ends up in the image or its history",
    ),
    (
        "UnpinnedBaseImage",
        "A base image without a tag or digest changes under the build",
    ),
    ("RootUser", "The image runs as root"),
    (
        "ManifestIgnored",
        "A manifest is excluded by .dockerignore, so the install cannot see it",
    ),
];

fn rule(name: &'static str) -> &'static str {
    RULES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, d)| d)
}

/// Which checks run, and whether a finding fails the build: `# check=skip=A,B;error=true` at the
/// top of the spec, or the `BUILDKIT_DOCKERFILE_CHECK` build argument (which wins), as for
/// Dockerfiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    pub skip_all: bool,
    pub skip: Vec<String>,
    pub error: bool,
}

impl CheckConfig {
    pub fn from(spec: &Spec, options: &BuildOptions) -> CheckConfig {
        let directive = spec
            .source
            .text
            .lines()
            .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
            .find_map(|l| {
                let body = l.trim_start().trim_start_matches('#').trim();
                body.strip_prefix("check=").map(str::to_string)
            });
        let value = options
            .build_args
            .get("BUILDKIT_DOCKERFILE_CHECK")
            .cloned()
            .or(directive)
            .unwrap_or_default();
        let mut config = CheckConfig::default();
        for part in value.split(';').map(str::trim) {
            if let Some(list) = part.strip_prefix("skip=") {
                for r in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    if r == "all" {
                        config.skip_all = true;
                    } else {
                        config.skip.push(r.to_string());
                    }
                }
            } else if let Some(v) = part.strip_prefix("error=") {
                config.error = v == "true";
            }
        }
        config
    }

    fn runs(&self, rule: &str) -> bool {
        !self.skip_all && !self.skip.iter().any(|s| s == rule)
    }
}

const LOCKFILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "Pipfile.lock",
    "go.sum",
    "Cargo.lock",
];

const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "AUTH",
];

fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// Runs Strata's checks. `plan` is `None` when planning failed (the checks that need it are left
/// out).
pub fn check(
    spec: &Spec,
    plan: Option<&Plan>,
    ctx: &ContextFiles,
    config: &CheckConfig,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let at_spec = |span| Some((spec.source.clone(), span));
    if let Some(plan) = plan {
        if config.runs("UnfrozenInstall") {
            out.extend(unfrozen(spec, plan, ctx));
        }
    }
    if config.runs("SecretInEnv") {
        let env = spec.env.iter().map(|(k, _)| ("env", k));
        let build_env = spec.build_env.iter().map(|(k, _)| ("build_env", k));
        for (table, key) in env.chain(build_env) {
            if looks_secret(key) {
                out.push(Finding {
                    rule: "SecretInEnv",
                    description: rule("SecretInEnv"),
                    detail: format!(
                        "`{key}` looks like a credential: pass it with `[[secret]]` (`id`, `env = \"{key}\"`) and `--secret id=…`"
                    ),
                    at: at_spec(key_span(spec, &[table, key])),
                });
            }
        }
        for (name, _, span) in build_args(spec) {
            if looks_secret(&name) {
                out.push(Finding {
                    rule: "SecretInEnv",
                    description: rule("SecretInEnv"),
                    detail: format!(
                        "build argument `{name}` looks like a credential: build arguments are recorded in the build's history; use `[[secret]]` and `--secret id={}`",
                        name.to_ascii_lowercase()
                    ),
                    at: at_spec(span),
                });
            }
        }
    }
    if config.runs("UnpinnedBaseImage") {
        for image in [&spec.base, &spec.runtime].into_iter().flatten() {
            let r = &image.value;
            if r.digest.is_none() && r.tag.as_deref().is_none_or(|t| t == "latest") {
                out.push(Finding {
                    rule: "UnpinnedBaseImage",
                    description: rule("UnpinnedBaseImage"),
                    detail: format!(
                        "`{}` has no version tag or digest: name a version (`:3.12-slim`) or pin a digest (`@sha256:…`)",
                        r.familiar()
                    ),
                    at: at_spec(image.span.clone()),
                });
            }
        }
    }
    if config.runs("RootUser") && matches!(spec.user.as_str(), "root" | "0" | "0:0" | "root:root") {
        out.push(Finding {
            rule: "RootUser",
            description: rule("RootUser"),
            detail: format!(
                "`user = \"{}\"`: a process that breaks out of the app owns the container; leave `user` unset for the non-root default",
                spec.user
            ),
            at: at_spec(key_span(spec, &["user"])),
        });
    }
    if config.runs("ManifestIgnored") {
        if let (Some(list), Ok(ignore)) = (&spec.manifests, PatternSet::new(&ctx.ignore)) {
            for m in list {
                if !m.value.contains(['*', '?', '[']) && ignore.matches(&m.value) {
                    out.push(Finding {
                        rule: "ManifestIgnored",
                        description: rule("ManifestIgnored"),
                        detail: format!(
                            "`{}` is excluded by .dockerignore: add `!{}` to .dockerignore",
                            m.value, m.value
                        ),
                        at: at_spec(m.span.clone()),
                    });
                }
            }
        }
    }
    out
}

fn unfrozen(spec: &Spec, plan: &Plan, ctx: &ContextFiles) -> Vec<Finding> {
    let finding = |detail: String, at| Finding {
        rule: "UnfrozenInstall",
        description: rule("UnfrozenInstall"),
        detail,
        at,
    };
    if plan.package_manager == "pip" {
        let mut out = Vec::new();
        for file in plan.manifests.iter().filter(|f| f.ends_with(".txt")) {
            let Some(text) = ctx.text(file) else { continue };
            let source = SourceText::new(file.clone(), text);
            for line in requirements::read(text) {
                if let Kind::Requirement {
                    source: Source::Index,
                    options,
                    ..
                } = &line.kind
                {
                    let pinned =
                        line.text.contains("==") || options.iter().any(|o| o.name == "--hash");
                    if !pinned {
                        out.push(finding(
                            format!(
                                "`{}` is not pinned: write `name==version` (e.g. from `pip freeze`), or use a lockfile-based tool (uv, poetry, pdm)",
                                crate::redact::redact_credentials(&line.text)
                            ),
                            Some((source.clone(), line.span.clone())),
                        ));
                    }
                }
            }
        }
        return out;
    }
    if plan.package_manager == "maven" {
        return unpinned_maven(plan, ctx)
            .into_iter()
            .map(|(detail, at)| finding(detail, Some(at)))
            .collect();
    }
    let locked = plan
        .manifests
        .iter()
        .any(|m| LOCKFILES.contains(&m.rsplit('/').next().unwrap_or(m)))
        // Gradle's dependency locking: gradle.lockfile and its relatives (6+),
        // gradle/dependency-locks/*.lockfile before.
        || (plan.package_manager == "gradle" && plan.manifests.iter().any(|m| m.ends_with(".lockfile")));
    if locked {
        return Vec::new();
    }
    let span = spec
        .install
        .as_ref()
        .map_or(spec.language.span.clone(), |i| i.span.clone());
    let lockfile = if plan.package_manager == "gradle" {
        "enable dependency locking (`dependencyLocking { lockAllConfigurations() }`) and commit the gradle.lockfile files `--write-locks` writes".to_string()
    } else {
        format!("commit the lockfile {} writes", plan.package_manager)
    };
    vec![finding(
        format!(
            "no lockfile among the manifests ({}): {lockfile}",
            plan.manifests.join(", "),
        ),
        Some((spec.source.clone(), span)),
    )]
}

/// Maven has no lockfile: a pom pins a dependency by naming one version, so what is not pinned is
/// a version range, `LATEST` or `RELEASE` (each located at the version). A `-SNAPSHOT` is left
/// alone: it is most often a module of the same build.
fn unpinned_maven(plan: &Plan, ctx: &ContextFiles) -> Vec<(String, (SourceText, Range<usize>))> {
    let mut out = Vec::new();
    for file in plan.manifests.iter().filter(|f| f.ends_with(".xml")) {
        let Some(text) = ctx.text(file) else { continue };
        let Ok(leaves) = crate::recipe::pom::leaves(text) else {
            continue;
        };
        for leaf in leaves {
            let is_dependency = leaf.path.ends_with("/dependencies/dependency/version")
                || leaf.path.ends_with("/plugins/plugin/version");
            let v = leaf.text.trim();
            let unpinned = v.starts_with(['[', '(']) || v == "LATEST" || v == "RELEASE";
            if is_dependency && unpinned {
                out.push((
                    format!("`{v}` is not one version: name the version to build with"),
                    (SourceText::new(file.clone(), text), leaf.span.clone()),
                ));
            }
        }
    }
    out
}

/// `frontend.lint`: the findings, or the error that stops planning, with the files they point into
/// (the spec first; a manifest a finding or the error points into after it, its text from `ctx`).
pub fn lint(
    spec: &Spec,
    ctx: &ContextFiles,
    findings: &[Finding],
    error: Option<&Diagnostics>,
) -> Answer {
    let mut sources: Vec<SourceText> = vec![spec.source.clone()];
    let mut index_of = |src: &SourceText| -> i32 {
        match sources.iter().position(|s| s.name == src.name) {
            Some(i) => i as i32,
            None => {
                sources.push(src.clone());
                (sources.len() - 1) as i32
            }
        }
    };
    let mut warnings = Vec::new();
    let mut text = String::new();
    for f in findings {
        let loc = match &f.at {
            Some((src, span)) => location(index_of(src), src, span.clone()),
            None => json!({"sourceIndex": -1}),
        };
        let place = match &f.at {
            Some((src, span)) => {
                let p = src.position(span.start);
                format!("{}:{}:{}: ", src.name, p.line, p.column)
            }
            None => String::new(),
        };
        // buildx shows every source of a lint result under the name of the file given with `-f`
        // (it maps the frontend's file name back to the local path, and does it for each source),
        // so a finding in a manifest names its file in the text too.
        let detail = match &f.at {
            Some((src, span)) if src.name != spec.source.name => {
                format!(
                    "{}:{}: {}",
                    src.name,
                    src.position(span.start).line,
                    f.detail
                )
            }
            _ => f.detail.clone(),
        };
        warnings.push(json!({
            "ruleName": f.rule,
            "description": f.description,
            "detail": crate::redact::redact_credentials(&detail),
            "location": loc,
        }));
        text.push_str(&format!("WARNING: {}\n{place}{}\n\n", f.rule, f.detail));
    }
    let mut value = json!({ "warnings": warnings });
    if let Some(d) = error.and_then(|d| d.first()) {
        // buildx prints the error with the source its location names, so the index must be a
        // source's: a position in a manifest comes with that manifest's text; an error with no
        // position points at the spec with no range (nothing is quoted).
        let loc = match &d.location {
            Location::File {
                name, start, end, ..
            } => {
                let source = if *name == spec.source.name {
                    Some(spec.source.clone())
                } else {
                    ctx.text(name).map(|t| SourceText::new(name.clone(), t))
                };
                match source {
                    Some(src) => json!({
                        "sourceIndex": index_of(&src),
                        "ranges": [{"start": {"line": start.line, "character": start.column},
                                    "end": {"line": end.line, "character": end.column}}],
                    }),
                    None => json!({"sourceIndex": 0, "ranges": []}),
                }
            }
            _ => json!({"sourceIndex": 0, "ranges": []}),
        };
        value["buildError"] = json!({"message": d.to_string(), "location": loc});
        text.push_str(&format!("ERROR: {d}\n"));
    }
    value["sources"] = Value::Array(sources.iter().map(|s| source_info(s, spec)).collect());
    if warnings.is_empty() && error.is_none() {
        text.push_str("Check complete, no warnings found.\n");
    }
    let status = u8::from(!warnings.is_empty() || error.is_some());
    answer(value, text, Some(status))
}

/// A finding as a diagnostic, for a build that fails on them (`error=true`).
pub fn as_diagnostic(f: &Finding) -> Diagnostic {
    let message = format!("{}: {}", f.rule, f.detail);
    match &f.at {
        Some((src, span)) => Diagnostic::at(src, span.clone(), message),
        None => Diagnostic {
            location: Location::None,
            message,
            help: None,
        },
    }
    .help("checks can be skipped with `# check=skip=<rule>` at the top of the spec")
}
