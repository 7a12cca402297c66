use super::{Script, Settings};
use crate::lower::tests::Ops;
use crate::plan::{CopyFrom, Plan, Sharing, StageFrom, StageName, Step};
use crate::recipe::tests::{context, include_patterns, plan_err, run_commands, spec, step_key};
use crate::recipe::{Recipe, plan, worked_examples};
use crate::spec::Command;

const SPEC: &str = include_str!("../../../examples/java-gradle/strata.toml");
const SETTINGS: &str = include_str!("../../../examples/java-gradle/settings.gradle");
const BUILD: &str = include_str!("../../../examples/java-gradle/build.gradle");
const MAIN: &str = include_str!("../../../examples/java-gradle/src/main/java/example/Main.java");
const MAIN_PATH: &str = "src/main/java/example/Main.java";
const RESOLVE: &str = "strataResolveDependencies";
/// The second exec of the resolution: its dependency cache copied into the layer.
const KEEP: &str = "keep /opt/gradle-home/caches/modules-2 in the layer";
const WRAPPER: &str = "#Mon Jan 01 00:00:00 UTC 2024\ndistributionBase=GRADLE_USER_HOME\ndistributionUrl=https\\://services.gradle.org/distributions/gradle-8.10.2-bin.zip\nzipStorePath=wrapper/dists\n";

fn example() -> Vec<(&'static str, &'static str)> {
    vec![
        ("settings.gradle", SETTINGS),
        ("build.gradle", BUILD),
        (MAIN_PATH, MAIN),
    ]
}

fn gradle_plan(spec_text: &str, files: &[(&str, &str)]) -> Plan {
    plan(&spec(spec_text), &context(files)).unwrap_or_else(|e| panic!("{e}"))
}

fn runs(plan: &Plan, stage: StageName) -> Vec<String> {
    run_commands(plan.stage(stage).unwrap())
        .into_iter()
        .map(String::from)
        .collect()
}

fn images(p: &Plan) -> Vec<String> {
    p.images().iter().map(|i| i.to_string()).collect()
}

/// What BuildKit keys the step on: see `step_key`.
/// The deps stage's resolution step.
fn resolution(deps: &crate::plan::Stage) -> &crate::plan::RunStep {
    deps.steps
        .iter()
        .find_map(|s| match s {
            Step::Run(r) if r.command.contains(RESOLVE) => Some(r),
            _ => None,
        })
        .expect("a resolution step")
}

fn resolve_key(files: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    // The copy's digest, which the resolution's feeds.
    step_key(&gradle_plan(SPEC, files), KEEP, files)
}

#[test]
fn the_example_resolves_from_the_build_files_and_ships_the_distribution_alone() {
    let p = gradle_plan(SPEC, &example());
    assert_eq!(p.package_manager, "gradle");
    assert_eq!(p.manifests, ["build.gradle", "settings.gradle"]);
    assert_eq!(
        images(&p),
        [
            "docker.io/library/gradle:jdk21",
            "docker.io/library/eclipse-temurin:21-jre"
        ]
    );
    let deps = p.stage(StageName::Deps).unwrap();
    let titles: Vec<String> = deps.steps.iter().map(Step::title).collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    let Step::Copy(staged) = &deps.steps[0] else {
        panic!("deps starts with the build files")
    };
    let CopyFrom::Context(sel) = &staged.from else {
        panic!()
    };
    assert_eq!(sel.files, ["build.gradle", "settings.gradle"]);
    let Step::Write(init) = &deps.steps[1] else {
        panic!("then Strata's init script")
    };
    let script = String::from_utf8(init.files[0].contents.clone()).unwrap();
    assert!(script.contains("canBeResolved") && script.contains(RESOLVE));
    let Step::Run(resolve) = &deps.steps[2] else {
        panic!("then the resolution")
    };
    let gradle = format!(
        "gradle --no-daemon --console=plain -Dorg.gradle.configuration-cache=false -Dorg.gradle.unsafe.configuration-cache=false --init-script {} {RESOLVE}",
        init.files[0].path
    );
    // The checksum of the files the resolution read, beside what it downloaded.
    let checksum = "cat -- build.gradle settings.gradle | cksum";
    assert_eq!(
        resolve.command,
        format!("{gradle} && {checksum} > /opt/gradle-home/caches/modules-2/.strata-resolved")
    );
    assert!(resolve.caches.is_empty(), "no download cache is mounted");
    // The project's dependency cache, which the layer keeps a copy of; resolved again there
    // when the copy is not what this resolution left.
    let kept = resolve
        .layer_cache
        .as_ref()
        .expect("a kept dependency cache");
    assert_eq!(
        (
            kept.cache.target.as_str(),
            kept.cache.sharing,
            kept.cache.scoped_id("linux/amd64")
        ),
        (
            "/opt/gradle-home/caches/modules-2",
            Sharing::Locked,
            "strata/gradle-modules/hello/linux-amd64".to_string()
        ),
        "named by rootProject.name"
    );
    let then = kept.then.as_deref().unwrap();
    assert!(
        then.starts_with(&format!(
            "{{ [ \"$({checksum})\" = \"$(cat /opt/gradle-home/caches/modules-2/.strata-resolved 2>/dev/null)\" ] || "
        )) && then.contains(&gradle),
        "{then}"
    );
    assert!(
        resolve
            .env
            .contains(&("GRADLE_USER_HOME".into(), "/opt/gradle-home".into())),
        "the image's user home (a VOLUME in some gradle images) is not where they go"
    );
    let build = runs(&p, StageName::Build);
    assert_eq!(build.len(), 1);
    assert!(
        build[0].starts_with("gradle --no-daemon --console=plain --offline installDist && "),
        "{build:?}"
    );
    let runtime = p.stage(StageName::Runtime).unwrap();
    assert_eq!(
        runtime.from,
        StageFrom::Image(crate::reference::ImageRef::parse("eclipse-temurin:21-jre").unwrap())
    );
    assert_eq!(runtime.steps.len(), 1, "the distribution alone");
    assert_eq!(p.image.command, Command::Exec(vec!["/app/bin/app".into()]));
    assert_eq!(p.image.user, "10001:10001");
    let source = p.stage(StageName::Build).unwrap();
    let Step::Copy(copy) = &source.steps[0] else {
        panic!()
    };
    let CopyFrom::Context(sel) = &copy.from else {
        panic!()
    };
    assert!(sel.exclude.contains(&"build".to_string()));
    assert!(sel.exclude.contains(&"**/.gradle".to_string()));
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn the_copy_of_the_distribution_names_the_launcher_app() {
    // Run the build step's copy in a shell over a distribution laid out as installDist lays it.
    let p = gradle_plan(SPEC, &example());
    let build = &runs(&p, StageName::Build)[0];
    let copy = build
        .split_once(" && ")
        .map(|(_, c)| c)
        .unwrap()
        .replace("/opt/strata-dist", "$OUT");
    let dir = std::env::temp_dir().join(format!("strata-gradle-dist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("build/install/hello/bin")).unwrap();
    std::fs::create_dir_all(dir.join("build/install/hello/lib")).unwrap();
    std::fs::write(dir.join("build/install/hello/lib/hello.jar"), "jar").unwrap();
    for f in ["hello", "hello.bat"] {
        std::fs::write(dir.join("build/install/hello/bin").join(f), "#!/bin/sh\n").unwrap();
    }
    std::process::Command::new("chmod")
        .args(["+x", "build/install/hello/bin/hello"])
        .current_dir(&dir)
        .status()
        .unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", &copy])
        .env("OUT", dir.join("out"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.join("out/bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["app"]);
    assert!(dir.join("out/lib/hello.jar").exists());

    // Two distributions: which one is the app is not guessed.
    std::fs::create_dir_all(dir.join("build/install/other/bin")).unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", &copy])
        .env("OUT", dir.join("out2"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected one distribution"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_resolution_depends_on_the_build_files_alone() {
    let p = gradle_plan(SPEC, &example());
    let ops = Ops::of(&worked_examples::lowered(&p, "linux/amd64").definition);
    let resolve = ops.find(RESOLVE);
    let inputs: Vec<Vec<String>> = ops
        .local_sources_under(resolve)
        .into_iter()
        .map(include_patterns)
        .collect();
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    let ctx = context(&example());
    let mut transferred: Vec<&str> = inputs[0].iter().flat_map(|p| ctx.matching(p)).collect();
    transferred.sort();
    assert_eq!(transferred, ["build.gradle", "settings.gradle"]);
    let cache_mounts = |op: &str| -> Vec<(String, String)> {
        ops.exec(op)
            .mounts
            .iter()
            .filter_map(|m| Some((m.dest.clone(), m.cache_opt.as_ref()?.id.clone())))
            .collect()
    };
    let id = "strata/gradle-modules/hello/linux-amd64".to_string();
    assert_eq!(
        cache_mounts(ops.find("[deps 3/3] gradle")),
        [("/opt/gradle-home/caches/modules-2".to_string(), id.clone())],
        "the resolution downloads into the project's dependency cache"
    );
    let keep = ops.find(KEEP);
    assert_eq!(
        cache_mounts(keep),
        [("/run/strata-layer-cache".to_string(), id)],
        "which the next exec copies into the layer"
    );
    let build = ops.find("--offline installDist");
    assert!(
        cache_mounts(build).is_empty(),
        "the build reads the layer alone"
    );
    assert!(ops.closure(build).contains(keep));
}

#[test]
fn a_source_edit_leaves_the_resolution_key_and_a_build_script_edit_changes_it() {
    let before = resolve_key(&example());
    let edited = MAIN.replace("\\\"World\\\"", "\\\"Edited\\\"");
    assert_ne!(edited, MAIN);
    let mut files = example();
    files[2] = (MAIN_PATH, &edited);
    files.push(("src/main/resources/app.properties", "x=1\n"));
    assert_eq!(
        resolve_key(&files),
        before,
        "sources are not resolution inputs"
    );

    let build = format!("{BUILD}\nrepositories {{ mavenCentral() }}\n");
    let mut files = example();
    files[1] = ("build.gradle", &build);
    let after = resolve_key(&files);
    assert_eq!(
        after.0, before.0,
        "same op: BuildKit keys it on the content"
    );
    assert_ne!(after, before, "a build-script edit re-runs the resolution");

    let mut files = example();
    files.push(("gradle.properties", "org.gradle.jvmargs=-Xmx1g\n"));
    assert_ne!(resolve_key(&files), before, "gradle.properties is an input");
}

const ROOT_KTS: &str = "plugins { java }\n";
const MULTI_SETTINGS: &str = r#"// The apps
rootProject.name = "shop"
pluginManagement { includeBuild("build-logic") }
include(":lib", ":services:api")
/* include(":old") */
"#;
const API: &str = r#"plugins {
    id("org.springframework.boot") version "3.4.1"
    java
}
java { toolchain { languageVersion.set(JavaLanguageVersion.of(17)) } }
"#;

fn multi() -> Vec<(&'static str, &'static str)> {
    vec![
        ("settings.gradle.kts", MULTI_SETTINGS),
        ("build.gradle.kts", ROOT_KTS),
        ("lib/build.gradle.kts", "plugins { `java-library` }\n"),
        ("lib/gradle.properties", "x=1\n"),
        ("services/api/build.gradle.kts", API),
        ("services/api/src/main/java/A.java", "class A {}\n"),
        ("buildSrc/build.gradle.kts", "plugins { `kotlin-dsl` }\n"),
        (
            "buildSrc/src/main/kotlin/conventions.gradle.kts",
            "plugins { java }\n",
        ),
        ("build-logic/settings.gradle.kts", "\n"),
        ("build-logic/src/main/kotlin/X.kt", "class X\n"),
        ("gradle/libs.versions.toml", "[versions]\n"),
        ("gradlew", "#!/bin/sh\n"),
        ("gradle/wrapper/gradle-wrapper.properties", WRAPPER),
        ("gradle/wrapper/gradle-wrapper.jar", "jar"),
    ]
}

#[test]
fn a_multi_project_build_stages_every_build_file_and_builds_the_app_project() {
    let p = gradle_plan("language = \"java\"\n", &multi());
    assert_eq!(
        p.manifests,
        [
            "build-logic/settings.gradle.kts",
            "build-logic/src/main/kotlin/X.kt",
            "build.gradle.kts",
            "buildSrc/build.gradle.kts",
            "buildSrc/src/main/kotlin/conventions.gradle.kts",
            "gradle/libs.versions.toml",
            "gradle/wrapper/gradle-wrapper.jar",
            "gradle/wrapper/gradle-wrapper.properties",
            "gradlew",
            "lib/build.gradle.kts",
            "lib/gradle.properties",
            "services/api/build.gradle.kts",
            "settings.gradle.kts",
        ],
        "buildSrc and included builds in full; no project source"
    );
    assert_eq!(
        images(&p),
        [
            "docker.io/library/gradle:8-jdk17",
            "docker.io/library/eclipse-temurin:17-jre"
        ],
        "the wrapper's Gradle major, the app's toolchain"
    );
    let build = &runs(&p, StageName::Build)[0];
    assert!(
        build.starts_with(
            "sh ./gradlew --no-daemon --console=plain --offline :services:api:bootJar && "
        ),
        "{build}"
    );
    assert!(build.contains("services/api/build/libs"), "{build}");
    assert!(
        build.contains("-Djarmode=tools"),
        "Boot 3.4 is split into layers: {build}"
    );
    let runtime = p.stage(StageName::Runtime).unwrap();
    assert_eq!(runtime.steps.len(), 4, "Boot's four layers");

    // The wrapper step comes first, keyed on the wrapper alone, with the locked cache mount.
    let deps = p.stage(StageName::Deps).unwrap();
    let Step::Copy(first) = &deps.steps[0] else {
        panic!()
    };
    let CopyFrom::Context(sel) = &first.from else {
        panic!()
    };
    assert_eq!(
        sel.files,
        [
            "gradle/wrapper/gradle-wrapper.jar",
            "gradle/wrapper/gradle-wrapper.properties",
            "gradlew"
        ]
    );
    let Step::Run(wrapper) = &deps.steps[1] else {
        panic!()
    };
    assert!(wrapper.command.contains("sh ./gradlew"));
    assert_eq!(wrapper.caches.len(), 1);
    assert_eq!(wrapper.caches[0].sharing, Sharing::Locked);
    let resolve = resolution(deps);
    assert!(resolve.caches.is_empty());
    let Step::Run(b) = &p.stage(StageName::Build).unwrap().steps[1] else {
        panic!()
    };
    assert!(b.caches.is_empty(), "the build reads the layer only");
}

#[test]
fn buildsrc_code_is_a_resolution_input() {
    let spec_text = "language = \"java\"\n";
    // The files the resolution is keyed on (`step_key`, on its last exec).
    let key = |files: &[(&str, &str)]| step_key(&gradle_plan(spec_text, files), KEEP, files).1;
    let before = key(&multi());
    let mut files = multi();
    files[5] = ("services/api/src/main/java/A.java", "class A { int x; }\n");
    assert_eq!(key(&files), before, "app source is not an input");
    let mut files = multi();
    files[7] = (
        "buildSrc/src/main/kotlin/conventions.gradle.kts",
        "plugins { java }\ndependencies { }\n",
    );
    assert_ne!(key(&files), before, "buildSrc code is");
}

#[test]
fn a_wrapper_download_that_fails_names_the_distribution_url_line() {
    let mut files = example();
    files.push(("gradlew", "#!/bin/sh\n"));
    files.push(("gradle/wrapper/gradle-wrapper.properties", WRAPPER));
    let p = gradle_plan(SPEC, &files);
    let Step::Run(wrapper) = &p.stage(StageName::Deps).unwrap().steps[1] else {
        panic!()
    };
    // Run it where the wrapper fails as an unreachable server makes it fail.
    let dir = std::env::temp_dir().join(format!("strata-gradle-wrapper-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("gradlew"),
        "echo 'Exception in thread \"main\" java.net.UnknownHostException: services.gradle.org' >&2; exit 1\n",
    )
    .unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", &wrapper.command])
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("UnknownHostException"),
        "the wrapper's own error stays: {stderr}"
    );
    assert!(
        stderr.contains("gradle/wrapper/gradle-wrapper.properties:3:1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("https://services.gradle.org/distributions/gradle-8.10.2-bin.zip"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mirror") && stderr.contains("remove gradlew"),
        "what to do: {stderr}"
    );
}

#[test]
fn mistakes_are_located() {
    let mut files = example();
    files.push(("gradlew", "#!/bin/sh\n"));
    files.push((
        "gradle/wrapper/gradle-wrapper.properties",
        "distributionBase=GRADLE_USER_HOME\n",
    ));
    let e = plan_err(SPEC, &files);
    assert!(
        e.starts_with("gradle/wrapper/gradle-wrapper.properties:1:1: no `distributionUrl`"),
        "{e}"
    );
    assert!(e.contains("remove gradlew"), "{e}");

    let mut files = example();
    files.push(("gradlew", "#!/bin/sh\n"));
    files.push((
        "gradle/wrapper/gradle-wrapper.properties",
        "# mirror\n  distributionUrl=https\\://example.com/gradle/\n",
    ));
    let e = plan_err(SPEC, &files);
    assert!(
        e.starts_with("gradle/wrapper/gradle-wrapper.properties:2:3: distributionUrl `https://example.com/gradle/` does not name"),
        "{e}"
    );

    let files = [
        (
            "settings.gradle",
            "rootProject.name = 'x'\nincludeBuild '../shared'\n",
        ),
        ("build.gradle", BUILD),
    ];
    let e = plan_err(SPEC, &files);
    assert!(
        e.starts_with(
            "settings.gradle:2:14: included build `../shared` is outside the build context"
        ),
        "{e}"
    );

    let e = plan_err(
        "language = \"java\"\npackage_manager = \"gradle\"\n",
        &[("pom.xml", "<project/>")],
    );
    assert!(
        e.starts_with(
            "strata.toml:2:19: `package_manager` is gradle, but the build context has no"
        ),
        "{e}"
    );

    let two_apps = [
        ("settings.gradle", "include 'a', 'b'\n"),
        ("a/build.gradle", "apply plugin: 'application'\n"),
        ("b/build.gradle", "plugins { id 'application' }\n"),
    ];
    let e = plan_err(SPEC, &two_apps);
    assert!(
        e.contains("several projects are apps and none is named: `a`, `b`"),
        "{e}"
    );
    assert!(e.contains("module = \"a\""), "{e}");
    let p = gradle_plan(&format!("{SPEC}[java]\nmodule = \"b\"\n"), &two_apps);
    assert!(runs(&p, StageName::Build)[0].contains(" :b:installDist && "));
    let e = plan_err(&format!("{SPEC}[java]\nmodule = \"c\"\n"), &two_apps);
    assert!(
        e.contains("`java.module`: `c` is not a project of the Gradle build"),
        "{e}"
    );
}

#[test]
fn maven_wins_over_gradle_files_unless_the_spec_says_gradle() {
    let pom = "<project><artifactId>a</artifactId><version>1</version><properties><maven.compiler.release>21</maven.compiler.release></properties><build><plugins><plugin><artifactId>maven-shade-plugin</artifactId></plugin></plugins></build></project>";
    let mut files = example();
    files.push(("pom.xml", pom));
    let p = gradle_plan(SPEC, &files);
    assert_eq!(p.package_manager, "maven");
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("package_manager = \"gradle\"")),
        "{:?}",
        p.notes
    );
    let p = gradle_plan(&format!("{SPEC}package_manager = \"gradle\"\n"), &files);
    assert_eq!(p.package_manager, "gradle");
}

#[test]
fn the_probe_lists_included_projects_once_the_settings_are_read() {
    let s = spec(SPEC);
    let first = super::super::Java.probe(&s, &context(&[]));
    assert!(first.contains(&"settings.gradle.kts".to_string()));
    assert!(first.contains(&"buildSrc".to_string()));
    let second = super::super::Java.probe(&s, &context(&multi()));
    for f in [
        "lib/build.gradle.kts",
        "lib/gradle.properties",
        "services/api/build.gradle",
        "build-logic",
    ] {
        assert!(second.contains(&f.to_string()), "{f}: {second:?}");
    }
    let read = super::super::Java.files_to_read(
        &s,
        &[
            "settings.gradle.kts",
            "lib/build.gradle.kts",
            "buildSrc/src/main/kotlin/conventions.gradle.kts",
            "gradle/wrapper/gradle-wrapper.properties",
            "gradle/wrapper/gradle-wrapper.jar",
        ],
    );
    assert_eq!(
        read,
        [
            "settings.gradle.kts",
            "lib/build.gradle.kts",
            "gradle/wrapper/gradle-wrapper.properties"
        ]
    );
}

#[test]
fn the_readers_follow_groovy_and_kotlin_and_skip_comments() {
    let s = Settings::read(
        "settings.gradle",
        "include ':a', 'b:c'\n// include 'x'\ninclude(\"d\")\nfoo.include 'y'\n",
    );
    assert_eq!(s.projects, ["a", "b/c", "d"]);
    assert!(s.errors.is_empty());

    let groovy = Script::read(
        "plugins {\n  id 'org.springframework.boot' version '3.2.5'\n}\njava { sourceCompatibility = JavaVersion.VERSION_17 }\n",
    );
    assert!(groovy.spring_boot);
    assert_eq!(groovy.boot_version, Some((3, 2)));
    assert_eq!(groovy.java_version.as_deref(), Some("17"));
    let legacy = Script::read(
        "buildscript { dependencies { classpath 'org.springframework.boot:spring-boot-gradle-plugin:2.7.18' } }\napply plugin: 'org.springframework.boot'\nsourceCompatibility = JavaVersion.VERSION_1_8\n",
    );
    assert_eq!(legacy.boot_version, Some((2, 7)));
    assert_eq!(legacy.java_version.as_deref(), Some("8"));
    let kts = Script::read("plugins { application }\napplication { mainClass.set(\"a.Main\") }\n");
    assert!(kts.application && !kts.spring_boot);
    let commented = Script::read(
        "// apply plugin: 'application'\n/* id 'org.springframework.boot' */\nplugins { java }\n",
    );
    assert_eq!(commented, Script::default());
    let jar = Script::read("jar { manifest { attributes 'Main-Class': 'a.Main' } }\n");
    assert!(jar.main_class && !jar.application);
}

#[test]
fn an_old_spring_boot_runs_as_its_fat_jar_with_a_note() {
    let files = [(
        "build.gradle",
        "plugins { id 'org.springframework.boot' version '3.1.0' }\n",
    )];
    let p = gradle_plan(SPEC, &files);
    assert!(runs(&p, StageName::Build)[0].contains("--offline bootJar && "));
    assert!(!runs(&p, StageName::Build)[0].contains("jarmode"));
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["java".into(), "-jar".into(), "/app/app.jar".into()])
    );
    assert!(
        p.notes.iter().any(|n| n.contains("Spring Boot plugin 3.1")),
        "{:?}",
        p.notes
    );
}

#[test]
fn lockfiles_are_resolution_inputs_and_satisfy_the_unfrozen_check() {
    let unfrozen = |files: &[(&str, &str)]| -> Vec<String> {
        let s = spec(SPEC);
        let ctx = context(files);
        let p = plan(&s, &ctx).unwrap();
        crate::explain::check(&s, Some(&p), &ctx, &crate::explain::CheckConfig::default())
            .into_iter()
            .filter(|f| f.rule == "UnfrozenInstall")
            .map(|f| f.detail)
            .collect()
    };
    let found = unfrozen(&example());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("dependencyLocking"), "{found:?}");

    let lock = "# This is a Gradle generated file for dependency locking.\nempty=\n";
    let mut files = example();
    files.push(("gradle.lockfile", lock));
    assert!(unfrozen(&files).is_empty());
    let before = resolve_key(&example());
    assert_ne!(
        resolve_key(&files),
        before,
        "the lockfile keys the resolution"
    );

    let legacy = [
        ("settings.gradle", "include 'app'\n"),
        ("app/build.gradle", "apply plugin: 'application'\n"),
        (
            "app/gradle/dependency-locks/compileClasspath.lockfile",
            "x:y:1\n",
        ),
    ];
    let p = gradle_plan(SPEC, &legacy);
    assert!(
        p.manifests
            .contains(&"app/gradle/dependency-locks/compileClasspath.lockfile".to_string()),
        "{:?}",
        p.manifests
    );
    assert!(unfrozen(&legacy).is_empty());
}

#[test]
fn without_a_root_project_name_the_dependencies_are_resolved_again_and_a_note_says_why() {
    let named = Settings::read(
        "settings.gradle.kts",
        "// the shop\nrootProject.name = \"shop\"\ninclude(\":app\")\n",
    );
    assert_eq!(named.root_name.as_deref(), Some("shop"));
    // Another object's `name`, or a name that is not a string, names nothing.
    for text in [
        "gradle.rootProject.name = 'x'\n",
        "rootProject.name = someVariable\n",
        "rootProject.projectDir = file('x')\n",
        "rootProject.name",
    ] {
        assert_eq!(
            Settings::read("settings.gradle", text).root_name,
            None,
            "{text}"
        );
    }

    let files = [
        ("settings.gradle", "include 'app'\n"),
        ("app/build.gradle", "apply plugin: 'application'\n"),
    ];
    let p = gradle_plan(SPEC, &files);
    let deps = p.stage(StageName::Deps).unwrap();
    let resolve = resolution(deps);
    assert!(resolve.layer_cache.is_none() && resolve.caches.is_empty());
    assert!(
        p.notes.iter().any(|n| n.starts_with(
            "settings.gradle sets no rootProject.name: every build-script edit downloads the dependencies again"
        )),
        "{:?}",
        p.notes
    );
}

/// The copy's check, run in `sh` on a scratch directory standing in for the workdir and the
/// cache, with a stand-in `gradle`: it resolves again only when the cache holds another
/// resolution's checksum.
#[test]
fn the_copy_resolves_again_only_when_the_cache_is_another_resolutions() {
    let p = gradle_plan(SPEC, &example());
    let resolve = p
        .stage(StageName::Deps)
        .unwrap()
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Run(r) => r.layer_cache.as_ref().map(|k| (r.command.clone(), k)),
            _ => None,
        })
        .unwrap();
    let (command, kept) = resolve;
    let root = std::env::temp_dir().join(format!("strata-gradle-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (work, cache, bin) = (root.join("app"), root.join("modules-2"), root.join("bin"));
    for d in [&work, &cache, &bin] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(work.join("build.gradle"), BUILD).unwrap();
    std::fs::write(work.join("settings.gradle"), SETTINGS).unwrap();
    let gradle = bin.join("gradle");
    std::fs::write(&gradle, "#!/bin/sh\necho resolved by gradle\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gradle, std::fs::Permissions::from_mode(0o755)).unwrap();
    let here = |script: &str| script.replace(&kept.cache.target, cache.to_str().unwrap());
    let run = |script: &str| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&work)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let then = here(kept.then.as_deref().unwrap());

    // The resolution leaves its checksum in the cache; the copy finds it and goes on.
    assert_eq!(run(&here(&command)), "resolved by gradle\n");
    assert_eq!(run(&then), "", "the cache is this resolution's");

    // Another build of the project (other build files) used the cache in between.
    std::fs::write(work.join("build.gradle"), format!("{BUILD}// another\n")).unwrap();
    let again = run(&then);
    assert!(
        again.contains("(another build of it ran in between): resolving again")
            && again.ends_with("resolved by gradle\n"),
        "{again}"
    );
    // So does an empty cache (pruned after the resolution).
    std::fs::remove_file(cache.join(".strata-resolved")).unwrap();
    std::fs::write(work.join("build.gradle"), BUILD).unwrap();
    assert!(run(&then).ends_with("resolved by gradle\n"));
    std::fs::remove_dir_all(&root).unwrap();
}
