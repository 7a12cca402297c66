//! Java with Gradle: the build's own files (settings, every project's build script and
//! `gradle.properties`, the version catalogs, the wrapper, `buildSrc/` and included builds in
//! full) staged alone, every resolvable configuration of every project resolved into
//! `GRADLE_USER_HOME` in the deps layer, then the source and an offline build, and the artefact
//! alone on a JRE.
//!
//! Where the artefacts live: as with Maven, Gradle's dependency cache is also what the build reads,
//! so it is an ordinary directory of the deps layer (`GRADLE_USER_HOME=/opt/gradle-home`), keyed on
//! the staged files, and the build runs `--offline`. Its `caches/modules-2` (downloads and their
//! metadata) is resolved into a cache mount of the project (named by `rootProject.name`, per
//! platform, `locked`: Gradle's cross-process locks do not cross containers), which the deps
//! layer then keeps a copy of at the same path (`DepStep::Compile`): a build-script edit downloads
//! only what the cache lacks, and the layer still holds everything the offline build reads. The
//! resolution leaves the checksum of the staged files in the cache; when the copy finds another
//! one (another build of the project used the cache in between), the layer resolves again. Not
//! one mount for every project: this layer, and the cache it is exported to, would carry every
//! other project's artefacts; and not a mount read as a `file://` repository (Maven's download
//! cache): Gradle reads local repositories in place, never copying into its cache, so the layer
//! would lack them. Without `rootProject.name` there is no name to give the cache: the resolution
//! downloads into the layer alone, and a note says so. The wrapper's distributions have a cache
//! mount of their own, shared, named by `distributionUrl`, which the wrapper step copies in
//! instead of downloading again when the wrapper properties change back or another project uses
//! the same Gradle. The resolution is an init script Strata writes: a task in every project that
//! resolves each of its resolvable configurations (Gradle 4.4 and newer read it).

use std::ops::Range;

use super::{BOOT_LAYERS, JAR, LAYERS_DIR};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, SourceText};
use crate::pattern::clean_relative;
use crate::plan::{GeneratedFile, Sharing};
use crate::recipe::{
    Artefact, Conventions, DepStep, Runtime, build_cache, cache, env_list, resolve_manifests,
    shell_word, version_image,
};
use crate::redact::redact_credentials;
use crate::spec::{Command, Located, Spec};

/// Gradle's user home, in the deps layer: the dependency cache and the wrapper's distribution.
pub(super) const USER_HOME: &str = "/opt/gradle-home";
pub(super) const WRAPPER_PROPERTIES: &str = "gradle/wrapper/gradle-wrapper.properties";
/// Gradle's dependency cache, a cache mount of the project that the deps layer keeps a copy of.
const MODULES_CACHE: &str = "/opt/gradle-home/caches/modules-2";
/// What the resolution writes into that cache: the checksum of the staged files it resolved.
const RESOLVED_MARKER: &str = ".strata-resolved";
/// The cache mount the wrapper's distributions are kept in across builds.
const WRAPPER_CACHE: &str = "/var/cache/strata-gradle-wrapper";
/// The init script Strata writes, relative to the workdir.
pub(super) const INIT_SCRIPT: &str = ".strata/resolve-dependencies.gradle";
pub(super) const RESOLVE_TASK: &str = "strataResolveDependencies";
/// Where an `installDist` lands in the build stage; the runtime image receives it as the workdir.
const DIST: &str = "/opt/strata-dist";
const DEFAULT_VERSION: &str = "21";
pub(super) const SETTINGS: &[&str] = &["settings.gradle", "settings.gradle.kts"];
const BUILD_SCRIPTS: &[&str] = &["build.gradle", "build.gradle.kts"];
/// What each included project may have besides its build script.
const PROJECT_FILES: &[&str] = &[
    "gradle.properties",
    "gradle.lockfile",
    "buildscript-gradle.lockfile",
    "gradle/dependency-locks",
];
/// Files at the root that shape the build, whatever the projects.
pub(super) const ROOT_FILES: &[&str] = &[
    "settings.gradle",
    "settings.gradle.kts",
    "build.gradle",
    "build.gradle.kts",
    "gradle.properties",
    // Dependency locking: what the resolution must resolve to.
    "gradle.lockfile",
    "settings-gradle.lockfile",
    "buildscript-gradle.lockfile",
    "gradle/dependency-locks",
    "gradlew",
    "gradle/wrapper",
    // Version catalogs: libs.versions.toml by default, others where settings names them.
    "gradle/*.toml",
    // Code that shapes the build: all of it.
    "buildSrc",
];
const SPRING_BOOT: &str = "org.springframework.boot";

/// Resolves every resolvable configuration of every project. `tasks.create` and `canBeResolved`
/// exist from Gradle 4 to 9; the configurations are resolved when the task runs, in the project
/// that owns them, as Gradle 8+ requires.
const INIT_SCRIPT_TEXT: &str =
    "// Written by Strata: resolves every resolvable configuration of every project, so that the
// build after the source copy runs --offline.
allprojects { p ->
    p.tasks.create('strataResolveDependencies') { t ->
        t.doLast {
            p.configurations.each { c ->
                if (c.canBeResolved) {
                    c.resolve()
                }
            }
        }
    }
}
";

/// A token of a Groovy or Kotlin build file, as far as Strata needs them.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Punct(char),
}

/// Tokens with their byte spans, comments left out.
fn tokens(text: &str) -> Vec<(Token, Range<usize>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
        } else if c == b'"' || c == b'\'' {
            let start = i;
            let triple = b[i..].starts_with(&[c, c, c]);
            let quote: &[u8] = if triple { &[c, c, c] } else { &[c] };
            i += quote.len();
            let body = i;
            while i < b.len() && !b[i..].starts_with(quote) {
                if b[i] == b'\\' {
                    i += 1;
                }
                if !triple && b[i.min(b.len() - 1)] == b'\n' {
                    break;
                }
                i += 1;
            }
            let end = i.min(b.len());
            out.push((Token::Str(text[body..end].to_string()), start..end));
            i = (end + quote.len()).min(b.len());
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            out.push((Token::Word(text[start..i].to_string()), start..i));
        } else {
            out.push((Token::Punct(c as char), i..i + 1));
            i += 1;
        }
    }
    out
}

/// The string arguments of a call at `at` (`include 'a', 'b'`, `include(":a", ":b")`), with spans.
fn string_args(toks: &[(Token, Range<usize>)], mut at: usize) -> Vec<(String, Range<usize>)> {
    let mut args = Vec::new();
    if matches!(toks.get(at), Some((Token::Punct('('), _))) {
        at += 1;
    }
    while let Some((Token::Str(s), span)) = toks.get(at) {
        args.push((s.clone(), span.clone()));
        match toks.get(at + 1) {
            Some((Token::Punct(','), _)) => at += 2,
            _ => break,
        }
    }
    args
}

/// What settings.gradle[.kts] says of the build's shape.
#[derive(Debug, Default)]
pub(super) struct Settings {
    /// Included projects' directories, relative, in the order written.
    pub projects: Vec<String>,
    /// Included builds' directories (`includeBuild`), relative.
    pub included_builds: Vec<String>,
    /// `rootProject.name = "…"`: what names the project's dependency cache.
    pub root_name: Option<String>,
    pub errors: Vec<Diagnostic>,
}

impl Settings {
    pub fn read(name: &str, text: &str) -> Settings {
        let mut s = Settings::default();
        let toks = tokens(text);
        let source = SourceText::new(name, text);
        for (i, (tok, _)) in toks.iter().enumerate() {
            let Token::Word(w) = tok else { continue };
            // `x.include` is some other object's method (`it.include`, a filter).
            if i > 0 && toks[i - 1].0 == Token::Punct('.') {
                continue;
            }
            match w.as_str() {
                "rootProject" => {
                    if let [
                        (Token::Punct('.'), _),
                        (Token::Word(name), _),
                        (Token::Punct('='), _),
                        (Token::Str(value), _),
                        ..,
                    ] = &toks[i + 1..]
                        && name == "name"
                    {
                        s.root_name = Some(value.clone());
                    }
                }
                "include" => {
                    for (path, span) in string_args(&toks, i + 1) {
                        let dir = path.trim_start_matches(':').replace(':', "/");
                        match clean_relative(&dir) {
                            Ok(d) if d != "." => {
                                if !s.projects.contains(&d) {
                                    s.projects.push(d);
                                }
                            }
                            _ => s.errors.push(
                                Diagnostic::at(&source, span, format!("project `{path}` is not a project path Strata can follow"))
                                    .help("name projects as Gradle paths under the root, e.g. `include(\":app\")`"),
                            ),
                        }
                    }
                }
                "includeBuild" => {
                    for (path, span) in string_args(&toks, i + 1) {
                        match clean_relative(path.trim_end_matches('/')) {
                            Ok(d) if d != "." => {
                                if !s.included_builds.contains(&d) {
                                    s.included_builds.push(d);
                                }
                            }
                            _ => s.errors.push(
                                Diagnostic::at(
                                    &source,
                                    span,
                                    format!("included build `{path}` is outside the build context, which BuildKit does not send"),
                                )
                                .help("move the included build into the build context"),
                            ),
                        }
                    }
                }
                _ => {}
            }
        }
        s
    }
}

/// What a project's build script says of what it builds.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Script {
    pub spring_boot: bool,
    /// (major, minor) when the plugin's version is written in the script.
    pub boot_version: Option<(u32, u32)>,
    pub application: bool,
    /// A `Main-Class` manifest attribute: `java -jar` runs the plain jar.
    pub main_class: bool,
    pub java_version: Option<String>,
}

impl Script {
    pub fn read(text: &str) -> Script {
        let toks = tokens(text);
        let mut s = Script::default();
        let word = |i: usize, w: &str| matches!(toks.get(i), Some((Token::Word(x), _)) if x == w);
        let punct =
            |i: usize, c: char| matches!(toks.get(i), Some((Token::Punct(x), _)) if *x == c);
        for (i, (tok, _)) in toks.iter().enumerate() {
            match tok {
                Token::Str(x) if x == SPRING_BOOT => {
                    s.spring_boot = true;
                    // id 'org.springframework.boot' version '3.4.0' / id("…") version "3.4.0"
                    let mut j = i + 1;
                    if punct(j, ')') {
                        j += 1;
                    }
                    if word(j, "version") {
                        if punct(j + 1, '(') {
                            j += 1;
                        }
                        if let Some((Token::Str(v), _)) = toks.get(j + 1) {
                            s.boot_version = s.boot_version.or(major_minor(v));
                        }
                    }
                }
                Token::Str(x)
                    if x.starts_with("org.springframework.boot:spring-boot-gradle-plugin:") =>
                {
                    s.boot_version = s
                        .boot_version
                        .or(major_minor(x.rsplit(':').next().unwrap_or("")));
                }
                Token::Str(x) if x == "application" => s.application = true,
                // `plugins { application }`, `application { mainClass = … }`, `mainClassName = …`
                Token::Word(x)
                    if (x == "application" || x == "mainClassName")
                        && !(i > 0 && punct(i - 1, '.')) =>
                {
                    s.application = true
                }
                Token::Str(x) if x == "Main-Class" => s.main_class = true,
                Token::Word(x)
                    if x == "JavaLanguageVersion"
                        && punct(i + 1, '.')
                        && word(i + 2, "of")
                        && punct(i + 3, '(') =>
                {
                    if let Some((Token::Word(n), _)) = toks.get(i + 4) {
                        if n.bytes().all(|b| b.is_ascii_digit()) {
                            s.java_version.get_or_insert(n.clone());
                        }
                    }
                }
                Token::Word(x) if x.starts_with("VERSION_") => {
                    let v = x.trim_start_matches("VERSION_").trim_start_matches("1_");
                    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                        s.java_version.get_or_insert(v.to_string());
                    }
                }
                _ => {}
            }
        }
        s
    }

    fn runnable(&self) -> bool {
        self.spring_boot || self.application
    }
}

fn major_minor(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.trim().split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The build script of the project in `dir`, if it has one.
fn script_of(ctx: &ContextFiles, dir: &str) -> Option<String> {
    BUILD_SCRIPTS
        .iter()
        .map(|f| {
            if dir == "." {
                f.to_string()
            } else {
                format!("{dir}/{f}")
            }
        })
        .find(|f| ctx.exists(f))
}

/// The settings file and what it says, if there is one.
pub(super) fn settings(ctx: &ContextFiles) -> Option<(String, Settings)> {
    let file = SETTINGS.iter().find(|f| ctx.exists(f))?;
    let text = ctx.text(file).unwrap_or_default();
    Some((file.to_string(), Settings::read(file, text)))
}

/// Every path of the build's files to list, given what the settings say.
pub(super) fn probe(ctx: &ContextFiles) -> Vec<String> {
    let mut out: Vec<String> = ROOT_FILES.iter().map(|s| s.to_string()).collect();
    if let Some((_, s)) = settings(ctx) {
        for d in &s.projects {
            for f in BUILD_SCRIPTS.iter().chain(PROJECT_FILES) {
                out.push(format!("{d}/{f}"));
            }
        }
        out.extend(s.included_builds.iter().cloned());
    }
    out
}

/// Whether the context holds a Gradle build.
pub(super) fn detected(ctx: &ContextFiles) -> bool {
    SETTINGS
        .iter()
        .chain(BUILD_SCRIPTS)
        .chain(&["gradlew"])
        .any(|f| ctx.exists(f))
}

/// The files of the context that show a Gradle build, for messages.
pub(super) fn found_files(ctx: &ContextFiles) -> Vec<&'static str> {
    SETTINGS
        .iter()
        .chain(BUILD_SCRIPTS)
        .chain(&["gradlew"])
        .copied()
        .filter(|f| ctx.exists(f))
        .collect()
}

/// The wrapper's `distributionUrl`, where it is written.
struct Distribution {
    url: String,
    /// `gradle-8.5-bin`: the directory the wrapper unpacks it into under `wrapper/dists`.
    name: String,
    /// `gradle/wrapper/gradle-wrapper.properties:7:1`
    location: String,
    major: Option<String>,
}

fn distribution(text: &str) -> Result<Distribution, Diagnostic> {
    let source = SourceText::new(WRAPPER_PROPERTIES, text);
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("distributionUrl") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix(['=', ':']) else {
            continue;
        };
        // Properties escape `:` as `\:`.
        let url = value.trim().replace("\\:", ":").replace("\\=", "=");
        let at = start + (line.len() - trimmed.len());
        let pos = source.position(at);
        let location = format!("{WRAPPER_PROPERTIES}:{}:{}", pos.line, pos.column);
        let file = url.rsplit('/').next().unwrap_or("").to_string();
        let name = file.strip_suffix(".zip").unwrap_or("").to_string();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        {
            return Err(Diagnostic::at(&source, at..start + line.trim_end().len(), format!(
                "distributionUrl `{}` does not name a Gradle distribution zip",
                redact_credentials(&url)
            ))
            .help("write the URL of a distribution, e.g. `distributionUrl=https\\://services.gradle.org/distributions/gradle-8.10-bin.zip`, or remove gradlew and gradle/wrapper/ to build with the build image's gradle"));
        }
        let major = name
            .strip_prefix("gradle-")
            .and_then(|v| v.split(['.', '-']).next())
            .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
            .map(String::from);
        return Ok(Distribution {
            url,
            name,
            location,
            major,
        });
    }
    Err(Diagnostic::at(&source, 0..0, "no `distributionUrl` in the wrapper properties").help(
        "the wrapper downloads the Gradle that `distributionUrl` names: add it, or remove gradlew and gradle/wrapper/ to build with the build image's gradle",
    ))
}

/// The wrapper step: the distribution from the cache mount if an earlier build left it there, else
/// downloaded; a download that fails ends in an error naming the `distributionUrl` line.
fn wrapper_step(d: &Distribution) -> String {
    let dists = format!("{USER_HOME}/wrapper/dists");
    let cached = format!("{WRAPPER_CACHE}/{}", d.name);
    let message = format!(
        "strata: {}: the Gradle wrapper could not download its distribution {} (distributionUrl): point distributionUrl at a mirror the build can reach, or remove gradlew and gradle/wrapper/ to build with the build image's gradle",
        d.location,
        redact_credentials(&d.url)
    );
    format!(
        "if [ -d {cached} ]; then mkdir -p {dists} && cp -a {cached} {dists}/; fi; \
sh ./gradlew --no-daemon --console=plain --version || {{ ls {dists}/{name}/*/*/bin/gradle >/dev/null 2>&1 || echo {msg} >&2; exit 1; }}; \
[ -d {cached} ] || cp -a {dists}/{name} {cached}",
        name = d.name,
        msg = shell_word(&message),
    )
}

/// The project whose artefact is the app: `[java] module`, else the only project with the
/// application or Spring Boot plugin, else the only project.
fn choose_project<'p>(
    spec: &Spec,
    module: Option<&Located<String>>,
    projects: &'p [(String, Script)],
) -> Result<&'p (String, Script), Diagnostics> {
    let dirs = || {
        projects
            .iter()
            .map(|(d, _)| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(named) = module {
        return projects
            .iter()
            .find(|(d, _)| *d == named.value)
            .ok_or_else(|| {
                Diagnostic::at(
                    &spec.source,
                    named.span.clone(),
                    format!(
                        "`java.module`: `{}` is not a project of the Gradle build",
                        named.value
                    ),
                )
                .help(format!("projects with a build script: {}", dirs()))
                .into()
            });
    }
    let runnable: Vec<&(String, Script)> = projects.iter().filter(|(_, s)| s.runnable()).collect();
    let at_language = |m: String| Diagnostic::at(&spec.source, spec.language.span.clone(), m);
    match (runnable.as_slice(), projects) {
        ([one], _) => Ok(one),
        ([], [one]) => Ok(one),
        ([], _) => Err(at_language(format!(
            "no project applies the application or Spring Boot plugin, and there are several: {}",
            dirs()
        ))
        .help("choose the app in the spec: `[java]` with `module = \"<project directory>\"`")
        .into()),
        (several, _) => Err(at_language(format!(
            "several projects are apps and none is named: {}",
            several
                .iter()
                .map(|(d, _)| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .help(format!(
            "Strata runs one: choose it in the spec with `[java]` and `module = \"{}\"`",
            several[0].0
        ))
        .into()),
    }
}

pub(super) fn conventions(
    spec: &Spec,
    ctx: &ContextFiles,
    module: Option<&Located<String>>,
) -> Result<Conventions, Diagnostics> {
    let mut notes = Vec::new();
    let settings = settings(ctx);
    let mut errors = Vec::new();
    let mut project_dirs = vec![".".to_string()];
    let mut included_builds = Vec::new();
    if let Some((_, s)) = &settings {
        errors.extend(s.errors.iter().cloned());
        project_dirs.extend(s.projects.iter().cloned());
        for b in &s.included_builds {
            if !ctx.paths().any(|p| p.starts_with(&format!("{b}/"))) {
                notes.push(format!(
                    "included build `{b}` has no files in the build context"
                ));
            }
            included_builds.push(b.clone());
        }
    }
    let mut projects: Vec<(String, Script)> = Vec::new();
    for dir in &project_dirs {
        let Some(file) = script_of(ctx, dir) else {
            continue;
        };
        let Some(text) = ctx.text(&file) else {
            errors.push(Diagnostic::plain(format!("{file} is not UTF-8 text")));
            continue;
        };
        projects.push((dir.clone(), Script::read(text)));
    }
    let wrapper_text = ctx
        .exists("gradlew")
        .then(|| ctx.text(WRAPPER_PROPERTIES))
        .flatten();
    let dist = match wrapper_text.map(distribution) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            errors.push(e);
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    if ctx.exists("gradlew") && wrapper_text.is_none() {
        notes.push(format!(
            "gradlew is there but {WRAPPER_PROPERTIES} is not: the build image's gradle builds the project"
        ));
    }
    if projects.is_empty() {
        return Err(Diagnostic::at(
            &spec.source,
            spec.language.span.clone(),
            "the Gradle build has no build script: no build.gradle or build.gradle.kts at the root or in an included project",
        )
        .help("Strata builds the project whose build script applies the application or Spring Boot plugin")
        .into());
    }
    let (dir, script) = choose_project(spec, module, &projects)?;

    let version = spec
        .version
        .as_ref()
        .map(|v| v.value.clone())
        .or_else(|| script.java_version.clone())
        .or_else(|| projects[0].1.java_version.clone())
        .unwrap_or_else(|| DEFAULT_VERSION.to_string());

    // The build's own files, each pattern only if something matches it.
    let mut defaults: Vec<String> = ROOT_FILES.iter().map(|s| s.to_string()).collect();
    for d in project_dirs.iter().skip(1) {
        for f in BUILD_SCRIPTS.iter().chain(PROJECT_FILES) {
            defaults.push(format!("{d}/{f}"));
        }
    }
    defaults.extend(included_builds.iter().cloned());
    let default_refs: Vec<&str> = defaults.iter().map(String::as_str).collect();
    let (patterns, manifests) = resolve_manifests(spec, ctx, &default_refs)?;

    // `sh`: the wrapper is a POSIX script, and a checkout may have lost its executable bit.
    let gradle = if dist.is_some() {
        "sh ./gradlew"
    } else {
        "gradle"
    };
    let flags = "--no-daemon --console=plain";
    let task_prefix = if dir == "." {
        String::new()
    } else {
        format!(":{}:", dir.replace('/', ":"))
    };
    let in_dir = |p: &str| {
        if dir == "." {
            p.to_string()
        } else {
            format!("{dir}/{p}")
        }
    };
    let mkdir = if spec.workdir == "/app" {
        ""
    } else {
        "mkdir -p /app && "
    };
    let layered = script.spring_boot && script.boot_version.is_some_and(|v| v >= (3, 3));
    let (task, copy, artefacts, run) = if script.spring_boot {
        let libs = shell_word(&in_dir("build/libs"));
        let copy = format!(
            "{mkdir}set -- $(ls {libs}/*.jar | grep -v -e '-plain\\.jar$') && [ $# -eq 1 ] || {{ echo \"strata: expected one boot jar in {libs}, found: $*\" >&2; exit 1; }}; cp \"$1\" {JAR}"
        );
        let java_jar = Command::Exec(vec!["java".into(), "-jar".into(), JAR.into()]);
        if layered {
            let dirs: Vec<String> = BOOT_LAYERS
                .iter()
                .map(|l| format!("{LAYERS_DIR}/{l}"))
                .collect();
            let copy = format!(
                "{copy} && java -Djarmode=tools -jar {JAR} extract --layers --destination {LAYERS_DIR} && mkdir -p {}",
                dirs.join(" ")
            );
            let artefacts = dirs
                .into_iter()
                .map(|from| Artefact {
                    from,
                    to: "/app".into(),
                })
                .collect();
            ("bootJar", copy, artefacts, java_jar)
        } else {
            notes.push(format!(
                "{} applies the Spring Boot plugin{}: its jar runs as it is (`java -jar`); Strata splits it into dependency and application layers for Spring Boot 3.3 and newer, when the plugin's version is written in the build script",
                script_of(ctx, dir).unwrap_or_default(),
                script.boot_version.map_or(String::new(), |(a, b)| format!(" {a}.{b}"))
            ));
            (
                "bootJar",
                copy,
                vec![Artefact {
                    from: JAR.into(),
                    to: JAR.into(),
                }],
                java_jar,
            )
        }
    } else if script.application {
        let install = shell_word(&in_dir("build/install"));
        // The distribution's launcher is named after the project; Strata names it `app`, so the
        // image's command does not depend on a name only Gradle knows.
        let copy = format!(
            "set -- {install}/* && [ $# -eq 1 ] && [ -x \"$1/bin/${{1##*/}}\" ] || {{ echo \"strata: expected one distribution with a launcher in {install}, found: $*\" >&2; exit 1; }}; \
rm -rf {DIST} && cp -a \"$1\" {DIST} && mv \"{DIST}/bin/${{1##*/}}\" {DIST}/bin/app && rm -f {DIST}/bin/*.bat"
        );
        (
            "installDist",
            copy,
            vec![Artefact {
                from: DIST.into(),
                to: "/app".into(),
            }],
            Command::Exec(vec!["/app/bin/app".into()]),
        )
    } else {
        if !script.main_class {
            notes.push(format!(
                "{} applies neither the application nor the Spring Boot plugin and sets no Main-Class: `java -jar` may say \"no main manifest attribute\"; set `run` in the spec, or apply one",
                script_of(ctx, dir).unwrap_or_default()
            ));
        }
        let libs = shell_word(&in_dir("build/libs"));
        let copy = format!(
            "{mkdir}set -- $(ls {libs}/*.jar | grep -v -e '-plain\\.jar$' -e '-sources\\.jar$' -e '-javadoc\\.jar$') && [ $# -eq 1 ] || {{ echo \"strata: expected one jar in {libs}, found: $*\" >&2; exit 1; }}; cp \"$1\" {JAR}"
        );
        (
            "jar",
            copy,
            vec![Artefact {
                from: JAR.into(),
                to: JAR.into(),
            }],
            Command::Exec(vec!["java".into(), "-jar".into(), JAR.into()]),
        )
    };
    let mut build = format!("{gradle} {flags}");
    // Offline: the deps layer has every artefact. Left online when the spec's own `install`
    // may not have resolved them.
    if spec.install.is_none() {
        build.push_str(" --offline");
    }
    // Grouped: the copy's own failure message must not follow a failed build.
    build.push_str(&format!(" {task_prefix}{task} && {{ {copy}; }}"));

    let mut deps = Vec::new();
    if let Some(d) = &dist {
        let wrapper_files: Vec<String> = manifests
            .iter()
            .filter(|f| *f == "gradlew" || f.starts_with("gradle/wrapper/"))
            .cloned()
            .collect();
        deps.push(DepStep::Stage {
            patterns: vec!["gradlew".into(), "gradle/wrapper".into()],
            files: wrapper_files,
        });
        deps.push(DepStep::Fetch(wrapper_step(d)));
    }
    deps.push(DepStep::Stage {
        patterns: patterns.clone(),
        files: manifests.clone(),
    });
    deps.push(DepStep::Generate {
        what: "Gradle init script".into(),
        dir: None,
        files: vec![GeneratedFile {
            path: INIT_SCRIPT.into(),
            contents: INIT_SCRIPT_TEXT.as_bytes().to_vec(),
            executable: false,
        }],
    });
    // The resolving task reads the project when it runs, which the configuration cache (on
    // where gradle.properties says so; `unsafe` before Gradle 8) refuses; older Gradle ignores
    // these properties.
    let resolve = format!(
        "{gradle} {flags} -Dorg.gradle.configuration-cache=false -Dorg.gradle.unsafe.configuration-cache=false --init-script {INIT_SCRIPT} {RESOLVE_TASK}"
    );
    match settings.as_ref().and_then(|(_, s)| s.root_name.as_deref()) {
        // The dependency cache of this project, kept across build-script edits: see the module
        // docs. The checksum of the staged files tells the copy whether the cache it received
        // is the one this resolution left (another build of the project may have used it in
        // between); if not, the layer resolves again.
        Some(name) => {
            let checksum = format!(
                "cat -- {} | cksum",
                manifests
                    .iter()
                    .map(|m| shell_word(m))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            deps.push(DepStep::Compile {
                command: format!("{resolve} && {checksum} > {MODULES_CACHE}/{RESOLVED_MARKER}"),
                output: build_cache(MODULES_CACHE, spec, "gradle-modules", name, Sharing::Locked),
                then: Some(format!(
                    "{{ [ \"$({checksum})\" = \"$(cat {MODULES_CACHE}/{RESOLVED_MARKER} 2>/dev/null)\" ] || {{ echo 'strata: the project'\\''s Gradle dependency cache changed after this resolution (another build of it ran in between): resolving again' && {resolve}; }}; }}"
                )),
            });
        }
        None => {
            notes.push(format!(
                "{} sets no rootProject.name: every build-script edit downloads the dependencies again (set it, and Strata keeps the project's Gradle dependency cache across edits)",
                settings.as_ref().map_or("the build (no settings.gradle)", |(f, _)| f.as_str())
            ));
            deps.push(DepStep::Install(resolve));
        }
    }

    let image_version = dist
        .as_ref()
        .and_then(|d| d.major.as_ref())
        .map_or(format!("gradle:jdk{version}"), |m| {
            format!("gradle:{m}-jdk{version}")
        });
    let default_image = version_image(spec, &image_version, "21")?;
    let runtime_image = version_image(spec, &format!("eclipse-temurin:{version}-jre"), "21")?;

    // Host build output must not land on the build's: each project's build/, Gradle's caches.
    let mut app_exclude: Vec<String> = project_dirs
        .iter()
        .chain(std::iter::once(&"buildSrc".to_string()))
        .chain(&included_builds)
        .map(|d| {
            if d == "." {
                "build".into()
            } else {
                format!("{d}/build")
            }
        })
        .collect();
    app_exclude.push("**/.gradle".into());

    Ok(Conventions {
        package_manager: "gradle".into(),
        default_image,
        manifest_patterns: patterns,
        manifests,
        setup: Vec::new(),
        deps,
        caches: if dist.is_some() {
            vec![cache(
                WRAPPER_CACHE,
                spec,
                "gradle-wrapper",
                Sharing::Locked,
            )]
        } else {
            Vec::new()
        },
        env: Vec::new(),
        runtime_env: Vec::new(),
        build_env: env_list(&[("GRADLE_USER_HOME", USER_HOME)]),
        after_source: Vec::new(),
        build: Some(build),
        after_build: None,
        run: Some(run),
        run_help: String::new(),
        runtime: Runtime {
            image: Some(runtime_image),
            artefacts,
            copy_workdir: false,
        },
        app_exclude,
        notes,
    })
}

/// For `crate::fuzzing`: every reader over the same text, then the conventions of a build made of it.
pub(super) fn fuzz(text: &str) {
    let s = Settings::read("settings.gradle", text);
    for e in &s.errors {
        let _ = e.to_string();
    }
    let _ = Script::read(text);
    let _ = distribution(text).map_err(|e| e.to_string());
    let spec = match crate::spec::parse(
        SourceText::new("strata.toml", "language = \"java\"\n"),
        &Default::default(),
    ) {
        Ok(s) => s,
        Err(_) => return,
    };
    let mut ctx = ContextFiles::new(Vec::new());
    for f in [
        "settings.gradle.kts",
        "build.gradle",
        "gradlew",
        WRAPPER_PROPERTIES,
    ] {
        ctx.add_content(f, text.as_bytes().to_vec());
    }
    for d in s.projects.iter().chain(&s.included_builds).take(64) {
        ctx.add_content(format!("{d}/build.gradle"), text.as_bytes().to_vec());
    }
    if let Ok(c) = conventions(&spec, &ctx, None) {
        let _ = c.build;
    }
}

#[cfg(test)]
#[path = "gradle_tests.rs"]
mod tests;
