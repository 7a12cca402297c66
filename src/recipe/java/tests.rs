use bollard_buildkit_proto::pb;

use crate::lower::tests::Ops;
use crate::plan::{CopyFrom, Plan, Sharing, StageFrom, StageName, Step};
use crate::recipe::tests::{context, include_patterns, plan_err, run_commands, spec, step_key};
use crate::recipe::{Recipe, plan, worked_examples};
use crate::spec::Command;

const SPEC: &str = include_str!("../../../examples/java-maven/strata.toml");
const POM: &str = include_str!("../../../examples/java-maven/pom.xml");
const MAIN: &str = include_str!("../../../examples/java-maven/src/main/java/example/Main.java");
const MAIN_PATH: &str = "src/main/java/example/Main.java";
const RESOLVE: &str = "de.qaware.maven:go-offline-maven-plugin:1.2.8:resolve-dependencies";
/// Every Maven call: the settings that declare the download cache, the layer's local repository.
const FLAGS: &str = "-B -ntp -gs /opt/strata/maven-settings.xml -Dmaven.repo.local=/opt/m2";
/// What follows the resolution: the download cache filled from the local repository.
const FILL: &str = "sh /opt/strata/fill-maven-download-cache.sh /opt/m2 /var/cache/strata-maven";

fn example() -> Vec<(&'static str, &'static str)> {
    vec![("pom.xml", POM), (MAIN_PATH, MAIN)]
}

fn java_plan(spec_text: &str, files: &[(&str, &str)]) -> Plan {
    plan(&spec(spec_text), &context(files)).unwrap_or_else(|e| panic!("{e}"))
}

fn runs(plan: &Plan, stage: StageName) -> Vec<String> {
    run_commands(plan.stage(stage).unwrap())
        .into_iter()
        .map(String::from)
        .collect()
}

/// What BuildKit keys the step on: see `step_key`.
fn resolve_key(files: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    step_key(&java_plan(SPEC, files), "go-offline-maven-plugin", files)
}

#[test]
fn the_example_resolves_from_the_pom_and_ships_the_jar_alone() {
    let p = java_plan(SPEC, &example());
    assert_eq!(p.package_manager, "maven");
    assert_eq!(p.manifests, ["pom.xml"]);
    let images: Vec<String> = p.images().iter().map(|i| i.to_string()).collect();
    assert_eq!(
        images,
        [
            "docker.io/library/maven:3-eclipse-temurin-21",
            "docker.io/library/eclipse-temurin:21-jre"
        ],
        "maven.compiler.release picks the JDK and the JRE"
    );
    let deps = p.stage(StageName::Deps).unwrap();
    let Step::Copy(stage) = &deps.steps[0] else {
        panic!("deps starts with the poms")
    };
    let CopyFrom::Context(sel) = &stage.from else {
        panic!()
    };
    assert_eq!(sel.include, ["pom.xml"]);
    let Step::Write(settings) = &deps.steps[1] else {
        panic!("then the settings, outside the workdir")
    };
    assert_eq!(settings.dest, "/opt/strata");
    let Step::Run(resolve) = &deps.steps[2] else {
        panic!("then the resolution")
    };
    assert_eq!(resolve.command, format!("mvn {FLAGS} {RESOLVE} && {FILL}"));
    // The download cache, shared by every project and platform, one writer at a time; the local
    // repository the build reads is in the layer.
    assert_eq!(resolve.caches.len(), 1);
    let cache = &resolve.caches[0];
    assert_eq!(
        (
            cache.target.as_str(),
            cache.sharing,
            cache.scoped_id("linux/arm64")
        ),
        (
            "/var/cache/strata-maven",
            Sharing::Locked,
            "strata/maven".to_string()
        )
    );
    assert_eq!(
        runs(&p, StageName::Build),
        [format!(
            "mvn {FLAGS} -o package -DskipTests && cp target/hello.jar /app/app.jar"
        )]
    );
    let build = p.stage(StageName::Build).unwrap();
    let Step::Copy(source) = &build.steps[0] else {
        panic!()
    };
    let CopyFrom::Context(sel) = &source.from else {
        panic!()
    };
    assert!(sel.exclude.contains(&"**/target".to_string()));

    let runtime = p.stage(StageName::Runtime).unwrap();
    assert_eq!(
        runtime.from,
        StageFrom::Image(crate::reference::ImageRef::parse("eclipse-temurin:21-jre").unwrap())
    );
    let titles: Vec<String> = runtime.steps.iter().map(Step::title).collect();
    assert_eq!(titles, ["copy /app/app.jar from build"]);
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["java".into(), "-jar".into(), "/app/app.jar".into()])
    );
    assert_eq!(p.image.user, "10001:10001");
    assert!(p.image.env.is_empty());
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn the_resolution_depends_on_the_poms_alone_and_the_image_gets_the_jar_alone() {
    let p = java_plan(SPEC, &example());
    let ops = Ops::of(&worked_examples::lowered(&p, "linux/amd64").definition);
    let resolve = ops.find("go-offline-maven-plugin");
    let inputs: Vec<Vec<String>> = ops
        .local_sources_under(resolve)
        .into_iter()
        .map(include_patterns)
        .collect();
    assert_eq!(inputs, [["pom.xml"]]);
    let cache_ids = |exec: &pb::ExecOp| -> Vec<String> {
        exec.mounts
            .iter()
            .filter_map(|m| m.cache_opt.as_ref().map(|c| c.id.clone()))
            .collect()
    };
    assert_eq!(
        cache_ids(ops.exec(resolve)),
        ["strata/maven"],
        "the resolution reads the download cache"
    );
    let build = ops.find("package -DskipTests");
    assert!(ops.closure(build).contains(resolve));
    assert!(
        cache_ids(ops.exec(build)).is_empty(),
        "the offline package reads the layer's local repository alone"
    );
    let result = &ops.ops[&ops.result];
    let Some(pb::op::Op::File(copy)) = &result.op else {
        panic!("the image's last op is the jar's copy")
    };
    let Some(pb::file_action::Action::Copy(c)) = &copy.actions[0].action else {
        panic!()
    };
    assert_eq!(
        (c.src.as_str(), c.dest.as_str()),
        ("/app/app.jar", "/app/app.jar")
    );
    let sources: Vec<&str> = result.inputs.iter().map(|i| ops.name(&i.digest)).collect();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(
        sources[0].contains("FROM docker.io/library/eclipse-temurin:21-jre"),
        "{sources:?}"
    );
    assert!(sources[1].contains("package -DskipTests"), "{sources:?}");
}

#[test]
fn a_source_edit_leaves_the_resolution_key_and_a_dependency_changes_it() {
    let before = resolve_key(&example());
    let edited = MAIN.replace("\"World\"", "\"Edited\"");
    let mut files = example();
    files[1] = (MAIN_PATH, &edited);
    files.push(("src/main/resources/app.properties", "x=1\n"));
    assert_eq!(
        resolve_key(&files),
        before,
        "sources are not resolution inputs"
    );

    let pom = POM.replace("<version>20240303</version>", "<version>20250107</version>");
    assert_ne!(pom, POM);
    let mut files = example();
    files[0] = ("pom.xml", &pom);
    let after = resolve_key(&files);
    assert_eq!(
        after.0, before.0,
        "same op: BuildKit keys it on the content"
    );
    assert_ne!(after, before, "a dependency change re-runs the resolution");
}

const PARENT: &str = r#"<project>
  <groupId>g</groupId><artifactId>parent</artifactId><version>1.0-SNAPSHOT</version>
  <packaging>pom</packaging>
  <properties><java.version>17</java.version></properties>
  <modules>
    <module>lib</module>
    <module>app</module>
  </modules>
</project>
"#;
const LIB: &str = "<project><parent><version>1.0-SNAPSHOT</version></parent><artifactId>lib</artifactId></project>\n";
const APP: &str = r#"<project>
  <parent><groupId>g</groupId><artifactId>parent</artifactId><version>1.0-SNAPSHOT</version></parent>
  <artifactId>app</artifactId>
  <build><plugins><plugin>
    <groupId>org.springframework.boot</groupId><artifactId>spring-boot-maven-plugin</artifactId>
  </plugin></plugins></build>
</project>
"#;

#[test]
fn a_multi_module_build_stages_every_pom_and_builds_the_runnable_module() {
    let files = [
        ("pom.xml", PARENT),
        ("lib/pom.xml", LIB),
        ("app/pom.xml", APP),
        ("app/src/main/java/A.java", "class A {}"),
        ("mvnw", "#!/bin/sh\n"),
        (
            ".mvn/wrapper/maven-wrapper.properties",
            "distributionUrl=x\n",
        ),
        (".mvn/jvm.config", "-Xmx1g\n"),
    ];
    let p = java_plan("language = \"java\"\n", &files);
    assert_eq!(
        p.manifests,
        [
            ".mvn/jvm.config",
            ".mvn/wrapper/maven-wrapper.properties",
            "app/pom.xml",
            "lib/pom.xml",
            "mvnw",
            "pom.xml"
        ]
    );
    let images: Vec<String> = p.images().iter().map(|i| i.to_string()).collect();
    assert_eq!(
        images,
        [
            "docker.io/library/maven:3-eclipse-temurin-17",
            "docker.io/library/eclipse-temurin:17-jre"
        ],
        "the parent's java.version"
    );
    assert_eq!(
        runs(&p, StageName::Deps),
        [format!("sh ./mvnw {FLAGS} {RESOLVE} && {FILL}")]
    );
    assert_eq!(
        runs(&p, StageName::Build),
        [format!(
            "sh ./mvnw {FLAGS} -o package -DskipTests -pl app -am && cp app/target/app-1.0-SNAPSHOT.jar /app/app.jar"
        )]
    );
    let Step::Run(resolve) = &p.stage(StageName::Deps).unwrap().steps[2] else {
        panic!()
    };
    assert!(
        resolve
            .env
            .contains(&("MAVEN_USER_HOME".into(), "/opt/maven-wrapper".into())),
        "the wrapper's Maven lands in the layer"
    );
    assert_eq!(p.notes.len(), 1);
    assert!(p.notes[0].starts_with("app/pom.xml uses spring-boot-maven-plugin"));

    // The probing rounds: the root pom first, then the modules it lists.
    let recipe = super::Java;
    let s = spec("language = \"java\"\n");
    let first = recipe.probe(&s, &context(&[]));
    assert!(
        first.contains(&"pom.xml".to_string()) && !first.iter().any(|p| p.ends_with("/pom.xml")),
        "no module's pom before the root pom is read: {first:?}"
    );
    let second = recipe.probe(&s, &context(&[("pom.xml", PARENT)]));
    assert!(
        second.contains(&"lib/pom.xml".to_string()) && second.contains(&"app/pom.xml".to_string())
    );
}

#[test]
fn a_jar_named_by_a_property_or_nothing_is_found_in_target() {
    let pom = "<project><artifactId>a</artifactId><version>${revision}</version></project>";
    let p = java_plan("language = \"java\"\n", &[("pom.xml", pom)]);
    let build = &runs(&p, StageName::Build)[0];
    assert!(
        build.contains("set -- $(ls target/*.jar | grep -v -e '/original-[^/]*$'")
            && build.ends_with("cp \"$1\" /app/app.jar"),
        "{build}"
    );
    assert!(
        p.notes[0].contains("configures no Main-Class"),
        "{:?}",
        p.notes
    );
    // Another workdir: the jar still goes to /app.
    let p = java_plan(
        "language = \"java\"\nworkdir = \"/srv\"\n",
        &[(
            "pom.xml",
            "<project><artifactId>a</artifactId><version>1</version><build><finalName>${project.artifactId}</finalName></build></project>",
        )],
    );
    assert!(
        runs(&p, StageName::Build)[0]
            .ends_with(" && mkdir -p /app && cp target/a.jar /app/app.jar")
    );
}

#[test]
fn the_version_comes_from_the_spec_or_the_pom() {
    let pom = |props: &str| {
        format!(
            "<project><artifactId>a</artifactId><version>1</version><properties>{props}</properties></project>"
        )
    };
    let images = |spec_text: &str, pom: &str| -> Vec<String> {
        java_plan(spec_text, &[("pom.xml", pom)])
            .images()
            .iter()
            .map(|i| i.to_string())
            .collect()
    };
    let lang = "language = \"java\"\n";
    assert_eq!(
        images(
            lang,
            &pom("<maven.compiler.source>1.8</maven.compiler.source>")
        )[0],
        "docker.io/library/maven:3-eclipse-temurin-8"
    );
    assert_eq!(
        images(
            &format!("{lang}version = \"25\"\n"),
            &pom("<java.version>17</java.version>")
        ),
        [
            "docker.io/library/maven:3-eclipse-temurin-25",
            "docker.io/library/eclipse-temurin:25-jre"
        ]
    );
    let p = java_plan(
        lang,
        &[("pom.xml", &pom("<java.version>${jdk}</java.version>"))],
    );
    assert_eq!(
        p.images()[0].to_string(),
        "docker.io/library/maven:3-eclipse-temurin-21"
    );
    assert!(
        p.notes[0].starts_with("the pom's `java.version` is `${jdk}`"),
        "{:?}",
        p.notes
    );
}

#[test]
fn java_errors_are_located() {
    let lang = "language = \"java\"\n";
    assert_eq!(
        plan_err(lang, &[("src/A.java", "")]),
        "strata.toml:1:12: no pom.xml, settings.gradle or build.gradle in the build context (Java projects build with Maven (pom.xml) or Gradle (settings.gradle[.kts], build.gradle[.kts]): the build's root must be the root of the build context)"
    );
    assert_eq!(
        plan_err(lang, &[("pom.xml", PARENT), ("app/pom.xml", APP)]),
        "pom.xml:6:13: module `lib` has no lib/pom.xml in the build context (Maven reads the pom.xml of every module <modules> lists: check the name and that .dockerignore does not exclude it)"
    );
    let two = APP.replace(
        "<artifactId>app</artifactId>",
        "<artifactId>lib</artifactId>",
    );
    assert_eq!(
        plan_err(
            lang,
            &[
                ("pom.xml", PARENT),
                ("app/pom.xml", APP),
                ("lib/pom.xml", &two)
            ]
        ),
        "strata.toml:1:12: several runnable jars and none named: `lib`, `app` (Strata runs one jar: choose it in the spec with `[java]` and `module = \"lib\"`)"
    );
    let files = [
        ("pom.xml", PARENT),
        ("app/pom.xml", APP),
        ("lib/pom.xml", &two[..]),
    ];
    let p = java_plan(&format!("{lang}[java]\nmodule = \"./lib/\"\n"), &files);
    assert!(
        runs(&p, StageName::Build)[0]
            .contains(" -pl lib -am && cp lib/target/lib-1.0-SNAPSHOT.jar")
    );
    assert_eq!(
        plan_err(&format!("{lang}[java]\nmodule = \"ap\"\n"), &files),
        "strata.toml:3:10: `java.module`: `ap` is not a module of the build (did you mean `app`?)"
    );
    assert_eq!(
        plan_err(&format!("{lang}[java]\nmodule = \".\"\n"), &files),
        "strata.toml:3:10: `java.module`: `.` does not package a jar (modules with a jar: lib, app)"
    );
    assert_eq!(
        plan_err(
            &format!("{lang}[java]\nmodul = \"app\"\nmodule = 1\n"),
            &files
        ),
        "strata.toml:3:1: unknown key `modul` in `[java]` (did you mean `module`?)\nstrata.toml:4:10: `java.module` must be a string, not an integer"
    );
    assert_eq!(
        plan_err(&format!("{lang}package_manager = \"npm\"\n"), &files),
        "strata.toml:2:19: package manager `npm` is not one for java (java projects build with Maven or Gradle: remove `package_manager` or set it to \"maven\" or \"gradle\")"
    );
    assert!(
        plan_err(lang, &[("pom.xml", "<project>\n  <modules>\n</project>\n")])
            .starts_with("pom.xml:3:1: `</project>` closes `<modules>`")
    );
}

#[test]
fn the_unfrozen_check_looks_for_versions_that_are_not_one() {
    let findings = |pom: &str| -> Vec<String> {
        let s = spec(SPEC);
        let ctx = context(&[("pom.xml", pom), (MAIN_PATH, MAIN)]);
        let p = plan(&s, &ctx).unwrap();
        crate::explain::check(&s, Some(&p), &ctx, &Default::default())
            .into_iter()
            .filter(|f| f.rule == "UnfrozenInstall")
            .map(|f| {
                let (src, span) = f.at.unwrap();
                let p = src.position(span.start);
                format!("{}:{}:{}: {}", src.name, p.line, p.column, f.detail)
            })
            .collect()
    };
    assert!(
        findings(POM).is_empty(),
        "every version is pinned: no lockfile needed"
    );
    let ranged = POM.replace(
        "<version>20240303</version>",
        "<version>[20230101,)</version>",
    );
    assert_eq!(
        findings(&ranged),
        ["pom.xml:21:16: `[20230101,)` is not one version: name the version to build with"]
    );
}

fn boot_pom(parent_version: &str) -> String {
    format!(
        r#"<project>
  <parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>{parent_version}</version></parent>
  <artifactId>demo</artifactId><version>0.0.1</version>
  <build><plugins><plugin><artifactId>spring-boot-maven-plugin</artifactId></plugin></plugins></build>
</project>
"#
    )
}

#[test]
fn spring_boot_3_3_and_newer_ships_its_layers() {
    let pom = boot_pom("3.4.1");
    let p = java_plan("language = \"java\"\n", &[("pom.xml", &pom)]);
    assert_eq!(
        runs(&p, StageName::Build),
        [format!(
            "mvn {FLAGS} -o package -DskipTests && cp target/demo-0.0.1.jar /app/app.jar \
&& java -Djarmode=tools -jar /app/app.jar extract --layers --destination /opt/strata-layers \
&& mkdir -p /opt/strata-layers/dependencies /opt/strata-layers/spring-boot-loader /opt/strata-layers/snapshot-dependencies /opt/strata-layers/application"
        )]
    );
    let titles: Vec<String> = p
        .stage(StageName::Runtime)
        .unwrap()
        .steps
        .iter()
        .map(Step::title)
        .collect();
    assert_eq!(
        titles,
        [
            "copy /opt/strata-layers/dependencies from build",
            "copy /opt/strata-layers/spring-boot-loader from build",
            "copy /opt/strata-layers/snapshot-dependencies from build",
            "copy /opt/strata-layers/application from build"
        ],
        "one image layer each, the dependencies first"
    );
    let dests: Vec<&str> = p
        .stage(StageName::Runtime)
        .unwrap()
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Copy(c) => Some(c.dest.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(dests, ["/app"; 4]);
    assert_eq!(
        p.image.command,
        Command::Exec(vec!["java".into(), "-jar".into(), "/app/app.jar".into()]),
        "the application layer's app.jar finds lib/ beside it"
    );
    assert!(p.notes.is_empty(), "{:?}", p.notes);

    // Older Boot: the fat jar, with a note.
    let old = java_plan("language = \"java\"\n", &[("pom.xml", &boot_pom("3.2.5"))]);
    assert!(!runs(&old, StageName::Build)[0].contains("jarmode"));
    assert_eq!(old.stage(StageName::Runtime).unwrap().steps.len(), 1);
    assert!(
        old.notes[0].contains("with Spring Boot 3.2: its fat jar runs as it is"),
        "{:?}",
        old.notes
    );
}

#[test]
fn odd_module_entries_neither_loop_nor_leave_the_context() {
    let root = "<project><artifactId>r</artifactId><version>1</version><packaging>pom</packaging>\n<modules><module>a/</module><module>b/other.xml</module></modules></project>";
    let a = "<project><artifactId>a</artifactId><version>1</version><modules><module>..</module></modules><build><plugins><plugin><artifactId>maven-shade-plugin</artifactId></plugin></plugins></build></project>";
    let b = "<project><artifactId>b</artifactId><version>1</version><packaging>pom</packaging></project>";
    let files = [("pom.xml", root), ("a/pom.xml", a), ("b/other.xml", b)];
    let p = java_plan("language = \"java\"\n", &files);
    assert_eq!(p.manifests, ["a/pom.xml", "b/other.xml", "pom.xml"]);
    assert!(
        runs(&p, StageName::Build)[0].contains(" -pl a -am && cp a/target/a-1.jar /app/app.jar")
    );
    let out = "<project><modules><module>../elsewhere</module></modules></project>";
    assert_eq!(
        plan_err("language = \"java\"\n", &[("pom.xml", out)]),
        "pom.xml:1:27: module `../elsewhere` is outside the build context, which BuildKit does not send (move the module into the build context)"
    );
}

/// The files the deps stage writes outside the workdir, by name.
fn generated(p: &Plan, name: &str) -> String {
    p.stage(StageName::Deps)
        .unwrap()
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Write(w) => w.files.iter().find(|f| f.path == name),
            _ => None,
        })
        .map(|f| String::from_utf8(f.contents.clone()).unwrap())
        .unwrap_or_else(|| panic!("no generated {name}"))
}

#[test]
fn the_settings_put_the_download_cache_first_for_releases_and_plugins() {
    let p = java_plan(SPEC, &example());
    let settings = generated(&p, "maven-settings.xml");
    let deps = p.stage(StageName::Deps).unwrap();
    let mount = deps
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Run(r) => r.caches.first(),
            _ => None,
        })
        .unwrap();
    // The repository Maven reads is the mount the resolution has.
    let url = format!("<url>file://{}</url>", mount.target);
    assert_eq!(settings.matches(&url).count(), 2, "{settings}");
    for tag in ["<repositories>", "<pluginRepositories>"] {
        assert!(settings.contains(tag), "{tag} in {settings}");
    }
    // A profile's repositories are asked before the poms' and Central only when it is active.
    assert!(
        settings.contains("<activeProfile>strata-download-cache</activeProfile>"),
        "{settings}"
    );
    assert_eq!(
        settings
            .matches("<snapshots><enabled>false</enabled></snapshots>")
            .count(),
        2,
        "a snapshot's local files are not laid out as a remote repository's"
    );
    assert_eq!(
        settings
            .matches("<checksumPolicy>fail</checksumPolicy>")
            .count(),
        2,
        "a damaged file in the cache is downloaded again, not used"
    );
}

#[test]
fn the_download_cache_keeps_what_it_has_and_receives_what_was_downloaded() {
    let p = java_plan(SPEC, &example());
    let script = generated(&p, "fill-maven-download-cache.sh");
    let root = std::env::temp_dir().join(format!("strata-maven-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (repo, cache) = (root.join("m2"), root.join("cache"));
    let write = |path: std::path::PathBuf, text: &str| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(root.join("fill.sh"), &script);
    // Downloaded by this resolution: a jar and its pom.
    write(repo.join("org/a/1/a-1.jar"), "downloaded");
    write(
        repo.join("org/a/1/_remote.repositories"),
        "#NOTE: a comment\na-1.jar>central=\na-1.pom>central=\n",
    );
    // Copied from the cache, which already has it.
    write(repo.join("org/b/2/b-2.jar"), "copy");
    write(
        repo.join("org/b/2/_remote.repositories"),
        "b-2.jar>strata-download-cache=\n",
    );
    write(cache.join("org/b/2/b-2.jar"), "cached");

    let run = |cache: &std::path::Path| {
        std::process::Command::new("sh")
            .arg(root.join("fill.sh"))
            .arg(&repo)
            .arg(cache)
            .output()
            .unwrap()
    };
    let out = run(&cache);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout.trim(),
        "strata: Maven resolved 3 files, 1 of them from the download cache"
    );
    let read = |p: &str| std::fs::read_to_string(cache.join(p)).unwrap();
    assert_eq!(
        read("org/a/1/a-1.jar"),
        "downloaded",
        "what was downloaded is kept"
    );
    assert_eq!(
        read("org/b/2/b-2.jar"),
        "cached",
        "what the cache had is left alone"
    );

    // A cache that cannot be written only costs the next build its downloads.
    let not_a_directory = root.join("file");
    write(not_a_directory.clone(), "");
    let out = run(&not_a_directory);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not fill the Maven download cache"),
        "{out:?}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
