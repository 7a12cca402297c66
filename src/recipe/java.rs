//! Java with Maven: every module's pom.xml, `.mvn/` and `mvnw` staged alone, all dependencies and
//! plugins resolved into a local repository in the deps layer, then the source and an offline
//! `mvn package`, and the jar alone on a JRE.
//!
//! Where the artefacts live (research/recipes.md §0.1 offers two strategies): Maven's local
//! repository is also what the build reads, so it is an ordinary directory of the deps layer
//! (`-Dmaven.repo.local=/opt/m2`), keyed by the staged files alone: `--cache-to` carries it to a
//! fresh CI runner, and the package step runs with `-o`, so a build that needed anything the layer
//! lacks fails instead of downloading. `dependency:go-offline` misses plugin dependencies (MDEP-82:
//! the offline package then fails on maven-resources-plugin's), so the resolution is qaware's
//! go-offline-maven-plugin, which resolves the plugins with their dependencies and leaves the
//! reactor's own modules out.
//!
//! The download cache shared by every project is a `locked` cache mount that Maven reads as a
//! `file://` repository, declared in global settings Strata writes: repositories from settings are
//! asked before the poms' and Central, so what any earlier resolution downloaded is copied from
//! the mount into the (empty) local repository instead of downloaded again, and what is missing
//! comes from the network as before; after the resolution the local repository is copied into the
//! mount, whose layout is a remote repository's for released artefacts. Mounting the cache as the
//! local repository itself would leave the layer without the artefacts, or with every project's.
//! A damaged file in the mount fails its checksum and is downloaded instead. The package step
//! reads the same settings: Maven accepts an artefact offline only from a repository the build
//! still declares.
//!
//! Gradle builds (`gradle.rs`) are chosen by `package_manager = "gradle"`, or by their files when
//! there is no pom.xml.

use std::collections::BTreeSet;

use super::pom::{self, Pom};
use super::{
    Artefact, Conventions, DepStep, Recipe, Runtime, cache, env_list, resolve_manifests,
    version_image,
};
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics, SourceText, closest};
use crate::pattern::clean_relative;
use crate::plan::{GeneratedFile, Sharing};
use crate::spec::{Command, Located, OptionValue, Spec};

pub struct Java;

/// Java when neither the spec nor the poms name one: the current LTS of the default images.
const DEFAULT_VERSION: &str = "21";
/// The local repository, in the deps layer.
const REPO: &str = "/opt/m2";
/// The download cache mount, a `file://` repository shared by every project.
const DOWNLOAD_CACHE: &str = "/var/cache/strata-maven";
/// Its repository id: what `_remote.repositories` records for the artefacts it gave.
const DOWNLOAD_CACHE_ID: &str = "strata-download-cache";
/// The global settings Strata writes (`-gs`), outside the workdir, which holds the project's files
/// alone.
const SETTINGS_DIR: &str = "/opt/strata";
const SETTINGS_FILE: &str = "maven-settings.xml";
/// Where the Maven wrapper keeps the distribution it downloads (`MAVEN_USER_HOME`): in the layer
/// of the step that first runs it, the dependency resolution.
const WRAPPER_HOME: &str = "/opt/maven-wrapper";
const WRAPPER_PROPERTIES: &str = ".mvn/wrapper/maven-wrapper.properties";
/// Where the build leaves the jar, and where the runtime image receives it.
const JAR: &str = "/app/app.jar";
/// Resolves every dependency and plugin (with the plugins' own dependencies) of the reactor.
const RESOLVE: &str = "de.qaware.maven:go-offline-maven-plugin:1.2.8:resolve-dependencies";
const ROOT_FILES: &[&str] = &["pom.xml", ".mvn", "mvnw"];
/// Properties that say which Java the project compiles for, in the order Strata asks them.
const VERSION_PROPERTIES: &[&str] = &[
    "maven.compiler.release",
    "java.version",
    "maven.compiler.target",
    "maven.compiler.source",
];
/// Plugins whose jar `java -jar` runs: they write a Main-Class (and bundle the dependencies).
const RUNNABLE_PLUGINS: &[&str] = &[
    "spring-boot-maven-plugin",
    "maven-shade-plugin",
    "maven-assembly-plugin",
];
const SPRING_BOOT: &str = "spring-boot-maven-plugin";
/// Where a Spring Boot jar's layers are extracted in the build stage.
const LAYERS_DIR: &str = "/opt/strata-layers";
/// Spring Boot's default layers, in the order the image receives them (least often changed first).
const BOOT_LAYERS: &[&str] = &[
    "dependencies",
    "spring-boot-loader",
    "snapshot-dependencies",
    "application",
];
const KEYS: &[&str] = &["module"];

impl Recipe for Java {
    fn language(&self) -> &'static str {
        "java"
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
        for f in ROOT_FILES {
            add(f.to_string());
        }
        for file in Reactor::read(found).wanted {
            add(file);
        }
        for file in gradle::probe(found) {
            add(file);
        }
        patterns
    }

    fn files_to_read(&self, _spec: &Spec, listed: &[&str]) -> Vec<String> {
        listed
            .iter()
            // Poms (a module may name its pom file, whatever its name), Gradle's settings and
            // build scripts (not buildSrc's code) and the wrapper's properties.
            .filter(|f| {
                (f.ends_with(".xml") && !f.starts_with(".mvn/") && !f.starts_with("buildSrc/"))
                    || ((f.ends_with(".gradle") || f.ends_with(".gradle.kts"))
                        && !f.starts_with("buildSrc/"))
                    || **f == gradle::WRAPPER_PROPERTIES
            })
            .map(|f| f.to_string())
            .collect()
    }

    fn conventions(&self, spec: &Spec, ctx: &ContextFiles) -> Result<Conventions, Diagnostics> {
        let at_language =
            |message: String| Diagnostic::at(&spec.source, spec.language.span.clone(), message);
        let mut use_gradle = None;
        if let Some(pm) = &spec.package_manager {
            match pm.value.as_str() {
                "maven" | "mvn" => use_gradle = Some(false),
                "gradle" => use_gradle = Some(true),
                other => {
                    return Err(Diagnostic::at(
                        &spec.source,
                        pm.span.clone(),
                        format!("package manager `{other}` is not one for java"),
                    )
                    .help("java projects build with Maven or Gradle: remove `package_manager` or set it to \"maven\" or \"gradle\"")
                    .into());
                }
            }
        }
        let opts = Options::read(spec)?;
        let has_pom = ctx.exists("pom.xml");
        let gradle_files = gradle::found_files(ctx);
        match use_gradle {
            Some(true) if gradle_files.is_empty() => {
                let pm = spec
                    .package_manager
                    .as_ref()
                    .map_or(0..0, |p| p.span.clone());
                return Err(Diagnostic::at(
                    &spec.source,
                    pm,
                    "`package_manager` is gradle, but the build context has no settings.gradle[.kts], build.gradle[.kts] or gradlew at its root",
                )
                .help("put the Gradle build's root at the root of the build context, or remove `package_manager`")
                .into());
            }
            Some(true) => return gradle::conventions(spec, ctx, opts.module.as_ref()),
            None if !has_pom && gradle::detected(ctx) => {
                return gradle::conventions(spec, ctx, opts.module.as_ref());
            }
            _ => {}
        }
        if !has_pom {
            return Err(at_language("no pom.xml, settings.gradle or build.gradle in the build context".into())
                .help("Java projects build with Maven (pom.xml) or Gradle (settings.gradle[.kts], build.gradle[.kts]): the build's root must be the root of the build context")
                .into());
        }
        let reactor = Reactor::read(ctx);
        if !reactor.errors.is_empty() {
            return Err(Diagnostics(reactor.errors));
        }
        let module = choose_module(spec, &opts, &reactor)?;
        let root = &reactor.modules[0];
        let (version, mut notes) = java_version(spec, module, root);
        if use_gradle.is_none() && !gradle_files.is_empty() {
            notes.push(format!(
                "pom.xml and {} are both here: building with Maven (set `package_manager = \"gradle\"` to build with Gradle)",
                gradle_files.join(", ")
            ));
        }

        let mut defaults: Vec<&str> = reactor.modules.iter().map(|m| m.file.as_str()).collect();
        defaults.extend([".mvn", "mvnw"]);
        let (patterns, manifests) = resolve_manifests(spec, ctx, &defaults)?;

        let wrapper = ctx.exists("mvnw") && ctx.exists(WRAPPER_PROPERTIES);
        if ctx.exists("mvnw") && !wrapper {
            notes.push(format!(
                "mvnw is there but {WRAPPER_PROPERTIES} is not: the build image's mvn builds the project"
            ));
        }
        // `sh`: the wrapper is a POSIX script, and a checkout may have lost its executable bit.
        let mvn = if wrapper { "sh ./mvnw" } else { "mvn" };
        let flags = format!("-B -ntp -gs {SETTINGS_DIR}/{SETTINGS_FILE} -Dmaven.repo.local={REPO}");
        let mut build = format!("{mvn} {flags}");
        // Offline: the deps layer has every artefact. Left online when the spec's own `install`
        // may not have resolved them.
        if spec.install.is_none() {
            build.push_str(" -o");
        }
        build.push_str(" package -DskipTests");
        if reactor.modules.len() > 1 && module.dir != "." {
            build.push_str(&format!(" -pl {} -am", super::shell_word(&module.dir)));
        }
        build.push_str(" && ");
        build.push_str(&copy_jar(module, root, &spec.workdir));

        let spring_boot = module.pom.has_plugin(SPRING_BOOT);
        let boot = boot_version(module, root);
        // Boot 3.3+ extracts its jar into layers whose application layer holds `app.jar` (a thin
        // jar whose manifest points at `lib/`), so `java -jar /app/app.jar` still starts it.
        let layered = spring_boot && boot.is_some_and(|(major, minor)| (major, minor) >= (3, 3));
        let mut artefacts = vec![Artefact {
            from: JAR.into(),
            to: JAR.into(),
        }];
        if layered {
            build.push_str(&format!(
                " && java -Djarmode=tools -jar {JAR} extract --layers --destination {LAYERS_DIR}"
            ));
            let dirs: Vec<String> = BOOT_LAYERS
                .iter()
                .map(|l| format!("{LAYERS_DIR}/{l}"))
                .collect();
            // A layer with nothing in it (no snapshot dependencies) may not be written at all.
            build.push_str(&format!(" && mkdir -p {}", dirs.join(" ")));
            artefacts = dirs
                .into_iter()
                .map(|from| Artefact {
                    from,
                    to: "/app".into(),
                })
                .collect();
        } else if spring_boot {
            let which = boot.map_or("an unknown Spring Boot version".to_string(), |(a, b)| {
                format!("Spring Boot {a}.{b}")
            });
            notes.push(format!(
                "{} uses spring-boot-maven-plugin with {which}: its fat jar runs as it is (`java -jar`); Strata splits it into dependency and application layers for Spring Boot 3.3 and newer (read from the spring-boot-starter-parent version or the `spring-boot.version` property)",
                module.file
            ));
        } else if !runnable(&module.pom) {
            notes.push(format!(
                "{} configures no Main-Class (no spring-boot, shade or assembly plugin, no <mainClass>): `java -jar` may say \"no main manifest attribute\"; set `run` in the spec, or configure one",
                module.file
            ));
        }

        let default_image =
            version_image(spec, &format!("maven:3-eclipse-temurin-{version}"), "21")?;
        let runtime_image = version_image(spec, &format!("eclipse-temurin:{version}-jre"), "21")?;
        let mut build_env = Vec::new();
        if wrapper {
            build_env = env_list(&[("MAVEN_USER_HOME", WRAPPER_HOME)]);
        }
        Ok(Conventions {
            package_manager: "maven".into(),
            default_image,
            manifest_patterns: patterns.clone(),
            manifests: manifests.clone(),
            setup: Vec::new(),
            deps: vec![
                DepStep::Stage {
                    patterns,
                    files: manifests,
                },
                DepStep::Generate {
                    what: "Maven download cache settings".into(),
                    dir: Some(SETTINGS_DIR.into()),
                    files: vec![
                        GeneratedFile {
                            path: SETTINGS_FILE.into(),
                            contents: settings().into_bytes(),
                            executable: false,
                        },
                        GeneratedFile {
                            path: FILL_DOWNLOAD_CACHE.into(),
                            contents: fill_download_cache_script().into_bytes(),
                            executable: false,
                        },
                    ],
                },
                DepStep::Fetch(format!(
                    "{mvn} {flags} {RESOLVE} && sh {SETTINGS_DIR}/{FILL_DOWNLOAD_CACHE} {REPO} {DOWNLOAD_CACHE}"
                )),
            ],
            caches: vec![cache(DOWNLOAD_CACHE, spec, "maven", Sharing::Locked)],
            env: Vec::new(),
            runtime_env: Vec::new(),
            build_env,
            after_source: Vec::new(),
            build: Some(build),
            after_build: None,
            run: Some(Command::Exec(vec![
                "java".into(),
                "-jar".into(),
                JAR.into(),
            ])),
            run_help: String::new(),
            runtime: Runtime {
                image: Some(runtime_image),
                artefacts,
                copy_workdir: false,
            },
            // Host build output must not land on the build's.
            app_exclude: vec!["**/target".into()],
            notes,
        })
    }
}

/// Global settings that put the download cache before every other repository, for releases only
/// (a snapshot's files in a local repository are not laid out as in a remote one).
fn settings() -> String {
    let repository = |tag: &str| {
        format!(
            "      <{tag}>\n        <id>{DOWNLOAD_CACHE_ID}</id>\n        <url>file://{DOWNLOAD_CACHE}</url>\n        <releases><enabled>true</enabled><checksumPolicy>fail</checksumPolicy></releases>\n        <snapshots><enabled>false</enabled></snapshots>\n      </{tag}>\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- Written by Strata: the download cache shared by every project's Maven builds. -->\n<settings>\n  <profiles>\n    <profile>\n      <id>{DOWNLOAD_CACHE_ID}</id>\n      <repositories>\n{}      </repositories>\n      <pluginRepositories>\n{}      </pluginRepositories>\n    </profile>\n  </profiles>\n  <activeProfiles>\n    <activeProfile>{DOWNLOAD_CACHE_ID}</activeProfile>\n  </activeProfiles>\n</settings>\n",
        repository("repository"),
        repository("pluginRepository")
    )
}

/// Run after the resolution with the local repository and the download cache: copies what the
/// resolution downloaded into the cache (files already there are kept: `--update=none` since
/// coreutils 9.3, `-n` before it and in BusyBox), then says how much came from it. The cache only
/// accelerates: failing to fill it does not fail the build.
const FILL_DOWNLOAD_CACHE: &str = "fill-maven-download-cache.sh";

fn fill_download_cache_script() -> String {
    format!(
        r#"# Written by Strata: see {SETTINGS_FILE}.
repo=$1 cache=$2
cp -R --update=none "$repo/." "$cache/" 2>/dev/null || cp -Rn "$repo/." "$cache/" ||
  echo "strata: could not fill the Maven download cache $cache; the build goes on without it" >&2
find "$repo" -name _remote.repositories -exec cat {{}} + |
  awk -F'>' 'NF == 2 {{ n++; if (index($2, "{DOWNLOAD_CACHE_ID}=") == 1) c++ }}
    END {{ printf "strata: Maven resolved %d files, %d of them from the download cache\n", n, c }}'
"#
    )
}

/// The spec's `[java]` table.
#[derive(Debug, Default)]
struct Options {
    /// The module whose jar is the app: its directory, clean and relative (`.` for the root).
    module: Option<Located<String>>,
}

impl Options {
    fn read(spec: &Spec) -> Result<Options, Diagnostics> {
        let mut opts = Options::default();
        let mut errors = Vec::new();
        let src = &spec.source;
        for (key, value) in &spec.language_options {
            match (key.value.as_str(), &value.value) {
                ("module", OptionValue::String(s)) => match clean_relative(s.trim_end_matches('/')) {
                    Ok(dir) => opts.module = Some(Located::new(dir, value.span.clone())),
                    Err(e) => errors.push(
                        Diagnostic::at(src, value.span.clone(), format!("`java.module`: {e}"))
                            .help("name the module's directory as <modules> lists it, e.g. `module = \"app\"`"),
                    ),
                },
                ("module", other) => errors.push(Diagnostic::at(
                    src,
                    value.span.clone(),
                    format!("`java.module` must be a string, not {}", other.type_name()),
                )),
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
}

/// One pom of the reactor.
#[derive(Debug)]
struct Module {
    /// Its directory, `.` for the root.
    dir: String,
    /// Its pom's path.
    file: String,
    pom: Pom,
}

/// The root pom and every module it lists, recursively, as far as they were read.
#[derive(Debug, Default)]
struct Reactor {
    /// The root first, then the modules in the order the poms list them.
    modules: Vec<Module>,
    /// The poms to list in the context.
    wanted: Vec<String>,
    errors: Vec<Diagnostic>,
}

impl Reactor {
    fn read(ctx: &ContextFiles) -> Reactor {
        let mut r = Reactor::default();
        let mut seen = BTreeSet::new();
        let mut queue = vec![(".".to_string(), "pom.xml".to_string())];
        while let Some((dir, file)) = queue.pop() {
            if !seen.insert(file.clone()) {
                continue;
            }
            let Some(text) = ctx.text(&file) else {
                if ctx.exists(&file) && ctx.bytes(&file).is_some() {
                    r.errors
                        .push(Diagnostic::plain(format!("{file} is not UTF-8 text")));
                }
                continue;
            };
            let pom = match pom::parse(&file, text) {
                Ok(p) => p,
                Err(d) => {
                    r.errors.push(d);
                    continue;
                }
            };
            let mut next = Vec::new();
            for (entry, span) in &pom.modules {
                let at = |message: String| {
                    Diagnostic::at(&SourceText::new(&file, text), span.clone(), message)
                };
                let joined = if dir == "." {
                    entry.clone()
                } else {
                    format!("{dir}/{entry}")
                };
                let Ok(path) = clean_relative(joined.trim_end_matches('/')) else {
                    r.errors.push(
                        at(format!(
                            "module `{entry}` is outside the build context, which BuildKit does not send"
                        ))
                        .help("move the module into the build context"),
                    );
                    continue;
                };
                // A module names its directory, or (rarely) its pom file.
                let (module_dir, module_file) = if path.ends_with(".xml") {
                    let d = path.rsplit_once('/').map_or(".", |(d, _)| d).to_string();
                    (d, path.clone())
                } else if path == "." {
                    // `<module>..</module>` back to the root: read once already.
                    continue;
                } else {
                    (path.clone(), format!("{path}/pom.xml"))
                };
                r.wanted.push(module_file.clone());
                if !ctx.exists(&module_file) {
                    r.errors.push(
                        at(format!("module `{entry}` has no {module_file} in the build context"))
                            .help("Maven reads the pom.xml of every module <modules> lists: check the name and that .dockerignore does not exclude it"),
                    );
                    continue;
                }
                next.push((module_dir, module_file));
            }
            r.modules.push(Module { dir, file, pom });
            // Depth first, in the order written.
            queue.extend(next.into_iter().rev());
        }
        r
    }
}

/// The Spring Boot version (major, minor): the `spring-boot-starter-parent` the module or the
/// root pom inherits, else a `spring-boot.version` property.
fn boot_version(module: &Module, root: &Module) -> Option<(u32, u32)> {
    let poms = [&module.pom, &root.pom];
    let written = poms
        .iter()
        .find_map(|p| match &p.parent {
            Some((a, v)) if a == "spring-boot-starter-parent" => Some(v.clone()),
            _ => None,
        })
        .or_else(|| {
            poms.iter()
                .find_map(|p| p.resolve(p.properties.get("spring-boot.version")?, Some(&root.pom)))
        })?;
    let mut parts = written.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn runnable(pom: &Pom) -> bool {
    pom.main_class.is_some() || RUNNABLE_PLUGINS.iter().any(|p| pom.has_plugin(p))
}

/// The module whose jar is the app: the spec's `[java] module`, else the only runnable jar of
/// the reactor, else its only jar.
fn choose_module<'r>(
    spec: &Spec,
    opts: &Options,
    reactor: &'r Reactor,
) -> Result<&'r Module, Diagnostics> {
    let jars: Vec<&Module> = reactor
        .modules
        .iter()
        .filter(|m| m.pom.packaging == "jar")
        .collect();
    let dirs: Vec<&str> = jars.iter().map(|m| m.dir.as_str()).collect();
    if let Some(named) = &opts.module {
        if let Some(m) = jars.iter().find(|m| m.dir == named.value) {
            return Ok(m);
        }
        let not_jar = reactor.modules.iter().any(|m| m.dir == named.value);
        let d = Diagnostic::at(
            &spec.source,
            named.span.clone(),
            if not_jar {
                format!("`java.module`: `{}` does not package a jar", named.value)
            } else {
                format!(
                    "`java.module`: `{}` is not a module of the build",
                    named.value
                )
            },
        );
        let help = match closest(&named.value, dirs.iter().copied()) {
            Some(s) if !not_jar => format!("did you mean `{s}`?"),
            _ => format!("modules with a jar: {}", dirs.join(", ")),
        };
        return Err(d.help(help).into());
    }
    let at_language =
        |message: String| Diagnostic::at(&spec.source, spec.language.span.clone(), message);
    let runnables: Vec<&Module> = jars.iter().copied().filter(|m| runnable(&m.pom)).collect();
    let list = |ms: &[&Module]| {
        ms.iter()
            .map(|m| format!("`{}`", m.dir))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (runnables.as_slice(), jars.as_slice()) {
        ([one], _) | ([], [one]) => Ok(one),
        ([], []) => Err(at_language(format!(
            "nothing to run: {} packages `{}` and lists no module that packages a jar",
            reactor.modules[0].file, reactor.modules[0].pom.packaging
        ))
        .help("Strata runs a Maven project's jar: build one (packaging jar), or set `build` and `run` in the spec")
        .into()),
        ([], several) => Err(at_language(format!(
            "several jars and none runnable or named: {}",
            list(several)
        ))
        .help(format!(
            "choose the app in the spec: `[java]` with `module = \"{}\"`",
            several[0].dir
        ))
        .into()),
        (several, _) => Err(at_language(format!(
            "several runnable jars and none named: {}",
            list(several)
        ))
        .help(format!(
            "Strata runs one jar: choose it in the spec with `[java]` and `module = \"{}\"`",
            several[0].dir
        ))
        .into()),
    }
}

/// The Java version: the spec's `version`, else the chosen module's or the root pom's compiler
/// properties, else the default; with a note when a property could not be used.
fn java_version(spec: &Spec, module: &Module, root: &Module) -> (String, Vec<String>) {
    if let Some(v) = &spec.version {
        return (v.value.clone(), Vec::new());
    }
    let parent = (module.dir != root.dir).then_some(&root.pom);
    for pom in [Some(&module.pom), parent].into_iter().flatten() {
        for key in VERSION_PROPERTIES {
            let Some(raw) = pom.properties.get(*key) else {
                continue;
            };
            let resolved = pom.resolve(raw, parent);
            let version = resolved
                .as_deref()
                .map(|v| v.strip_prefix("1.").unwrap_or(v));
            return match version {
                Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    (v.to_string(), Vec::new())
                }
                _ => (
                    DEFAULT_VERSION.to_string(),
                    vec![format!(
                        "the pom's `{key}` is `{raw}`, which is not a Java version Strata can read: building with Java {DEFAULT_VERSION} (set `version` in the spec to choose)"
                    )],
                ),
            };
        }
    }
    (DEFAULT_VERSION.to_string(), Vec::new())
}

/// The shell that copies the module's jar to [`JAR`]: its name from `finalName` (or Maven's
/// default, `<artifactId>-<version>`) when the pom says it plainly, else the one jar in target/
/// that is not a side artefact.
fn copy_jar(module: &Module, root: &Module, workdir: &str) -> String {
    let parent = (module.dir != root.dir).then_some(&root.pom);
    let target = if module.dir == "." {
        "target".to_string()
    } else {
        format!("{}/target", module.dir)
    };
    let name = match &module.pom.final_name {
        Some(f) => module.pom.resolve(f, parent),
        None => match (&module.pom.artifact_id, &module.pom.version) {
            (Some(a), Some(v)) => module
                .pom
                .resolve(a, parent)
                .zip(module.pom.resolve(v, parent))
                .map(|(a, v)| format!("{a}-{v}")),
            _ => None,
        },
    };
    let mkdir = if workdir == "/app" {
        ""
    } else {
        "mkdir -p /app && "
    };
    match name {
        Some(n) => format!(
            "{mkdir}cp {} {JAR}",
            super::shell_word(&format!("{target}/{n}.jar"))
        ),
        None => {
            let target = super::shell_word(&target);
            format!(
                "{mkdir}set -- $(ls {target}/*.jar | grep -v -e '/original-[^/]*$' -e '-sources\\.jar$' -e '-javadoc\\.jar$' -e '-tests\\.jar$') && \
[ $# -eq 1 ] || {{ echo \"strata: expected one jar in {target}, found: $*\" >&2; exit 1; }}; cp \"$1\" {JAR}"
            )
        }
    }
}

mod gradle;

#[doc(hidden)]
pub fn fuzz_gradle(text: &str) {
    gradle::fuzz(text);
}

#[cfg(test)]
mod tests;
