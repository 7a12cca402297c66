use std::collections::BTreeMap;

use super::*;

fn parse_str(text: &str) -> Result<Spec, String> {
    parse_with(text, &[])
}

fn parse_with(text: &str, args: &[(&str, &str)]) -> Result<Spec, String> {
    let args: BTreeMap<String, String> = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(SourceText::new("strata.toml", text), &args).map_err(|e| e.to_string())
}

fn error(text: &str) -> String {
    parse_str(text).expect_err("the spec should be rejected")
}

#[test]
fn the_fastapi_example_parses_with_everything_in_place() {
    let spec = parse_str(include_str!("../../examples/fastapi/strata.toml")).unwrap();
    assert_eq!(spec.language.value, "python");
    assert_eq!(spec.manifests.unwrap()[0].value, "requirements.txt");
    assert_eq!(spec.app[0].value, "app");
    assert_eq!(spec.workdir, "/code");
    assert_eq!(
        spec.run.unwrap().value,
        Command::Exec(
            [
                "uvicorn",
                "app.main:app",
                "--host",
                "0.0.0.0",
                "--port",
                "80"
            ]
            .map(String::from)
            .to_vec()
        )
    );
    assert_eq!(spec.ports, ["80/tcp"]);
    assert_eq!(spec.user, DEFAULT_USER);
}

#[test]
fn defaults_apply_when_keys_are_absent() {
    let spec = parse_str("language = \"node\"\n").unwrap();
    assert_eq!(spec.workdir, "/app");
    assert_eq!(spec.app[0].value, ".");
    assert!(spec.manifests.is_none());
    assert_eq!(spec.cache_id, "strata");
    assert!(spec.run.is_none());
}

#[test]
fn unknown_keys_name_position_and_suggest() {
    assert_eq!(
        error("language = \"python\"\nworkdri = \"/x\"\n"),
        "strata.toml:2:1: unknown key `workdri` (did you mean `workdir`?)"
    );
    assert_eq!(
        error("language = \"python\"\n[packages]\nbuidl = []\n"),
        "strata.toml:3:1: unknown key `packages.buidl` (did you mean `packages.build`?)"
    );
    let e = error("language = \"python\"\nentrypoint = \"x\"\n");
    assert!(
        e.starts_with("strata.toml:2:1: unknown key `entrypoint` (known keys: language,"),
        "{e}"
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    assert_eq!(
        error("language = \"python\"\nmanifests = \"requirements.txt\"\nport = \"eighty\"\n"),
        "strata.toml:3:8: `port` must be a port number 1-65535 (or \"N/udp\") (e.g. `port = 8000` or `port = [80, \"53/udp\"]`)"
    );
    assert_eq!(
        error("language = \"python\"\nversion = 3.12\n"),
        "strata.toml:2:11: `version` must be a string, found float (put the value in quotes)"
    );
    assert_eq!(
        error("language = \"python\"\nenv = [\"A=1\"]\n"),
        "strata.toml:2:7: `env` must be a table, found array"
    );
    assert_eq!(
        error("language = \"python\"\nrun = 5\n"),
        "strata.toml:2:7: `run` must be a string (shell form) or an array of strings (exec form), found integer"
    );
    assert_eq!(
        error("language = \"python\"\nport = 70000\n"),
        "strata.toml:2:8: `port` must be a port number 1-65535 (or \"N/udp\") (e.g. `port = 8000` or `port = [80, \"53/udp\"]`)"
    );
}

#[test]
fn paths_must_stay_inside_the_context() {
    assert_eq!(
        error("language = \"python\"\nmanifests = [\"../secrets.txt\"]\n"),
        "strata.toml:2:14: `manifests`: `../secrets.txt` points outside the build context (name a path inside the build context, like `requirements.txt` or `app`)"
    );
    assert_eq!(
        error("language = \"python\"\napp = \"/etc\"\n"),
        "strata.toml:2:7: `app`: `/etc` is absolute; paths are relative to the build context (name a path inside the build context, like `requirements.txt` or `app`)"
    );
    assert_eq!(
        error("language = \"python\"\napp = [\"src\", \"a/../../b\"]\n"),
        "strata.toml:2:15: `app`: `a/../../b` points outside the build context (name a path inside the build context, like `requirements.txt` or `app`)"
    );
    assert_eq!(
        error("language = \"python\"\nworkdir = \"code\"\n"),
        "strata.toml:2:11: `workdir` must be an absolute path, found `code` (write `/code`)"
    );
    // Inside-the-context paths are cleaned, not refused.
    let spec = parse_str("language = \"python\"\napp = [\"./src/\", \"lib/../pkg\"]\n").unwrap();
    let app: Vec<&str> = spec.app.iter().map(|a| a.value.as_str()).collect();
    assert_eq!(app, ["src", "pkg"]);
}

#[test]
fn language_is_required() {
    assert_eq!(
        error("app = \".\"\n"),
        "strata.toml:1:1: missing key `language` (add `language = \"python\"`, for example)"
    );
    assert_eq!(
        error("language = \"\"\n"),
        "strata.toml:1:12: `language` cannot be empty (e.g. `language = \"python\"`)"
    );
}

#[test]
fn the_language_table_is_kept_for_the_recipe_in_file_order() {
    let spec = parse_str(
        "language = \"go\"\n[go]\nmain = \"./cmd/api\"\ncgo = true\ntags = [\"a\", \"b\"]\nlevel = 3\n",
    )
    .unwrap();
    let keys: Vec<&str> = spec
        .language_options
        .iter()
        .map(|(k, _)| k.value.as_str())
        .collect();
    assert_eq!(keys, ["main", "cgo", "tags", "level"]);
    assert_eq!(
        spec.language_options[0].1.value,
        OptionValue::String("./cmd/api".into())
    );
    assert_eq!(spec.language_options[1].1.value, OptionValue::Bool(true));
    // Another language's table is an unknown key, as before.
    assert_eq!(
        error("language = \"go\"\n[rust]\nbin = \"x\"\n"),
        "strata.toml:2:2: unknown key `rust` (known keys: language, version, package_manager, manifests, app, workdir, install, build, run, port, env, build_env, user, base, runtime, packages, labels, secret, cache)"
    );
}

#[test]
fn toml_syntax_errors_point_at_the_problem() {
    let e = error("# syntax=x\nlanguage = \"python\nrun = 1\n");
    assert!(e.starts_with("strata.toml:2:"), "{e}");
    assert!(e.contains("invalid TOML"), "{e}");
}

#[test]
fn several_errors_are_reported_in_source_order() {
    let e = error("language = \"python\"\nzzz = 1\nworkdir = \"rel\"\naaa = 2\n");
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 3, "{e}");
    assert!(lines[0].starts_with("strata.toml:2:1: unknown key `zzz`"));
    assert!(lines[1].starts_with("strata.toml:3:11: `workdir` must be an absolute path"));
    assert!(lines[2].starts_with("strata.toml:4:1: unknown key `aaa`"));
}

#[test]
fn build_args_substitute_with_defaults() {
    let text = "language = \"python\"\nbase = \"python:${PY:-3.12}-slim\"\nworkdir = \"/${DIR}\"\n";
    let spec = parse_with(text, &[("DIR", "srv")]).unwrap();
    assert_eq!(
        spec.base.unwrap().value.to_string(),
        "docker.io/library/python:3.12-slim"
    );
    assert_eq!(spec.workdir, "/srv");
    let spec = parse_with(text, &[("DIR", "srv"), ("PY", "3.11")]).unwrap();
    assert_eq!(
        spec.base.unwrap().value.to_string(),
        "docker.io/library/python:3.11-slim"
    );
    assert_eq!(
        parse_with(text, &[]).unwrap_err(),
        "strata.toml:3:13: build argument `DIR` is not set (pass `--build-arg NAME=value`, or give a default: `${NAME:-value}`)"
    );
}

#[test]
fn commands_keep_shell_variables_and_env_keeps_image_variables() {
    let text = "language = \"python\"\nrun = \"serve --port ${PORT:-80}\"\n[env]\nPATH = \"/x:${PATH}\"\nMODE = \"${MODE:-dev}\"\n";
    let spec = parse_with(text, &[]).unwrap();
    assert_eq!(
        spec.run.unwrap().value,
        Command::Shell("serve --port ${PORT:-80}".into())
    );
    assert_eq!(
        spec.env,
        [
            ("PATH".to_string(), "/x:${PATH}".to_string()),
            ("MODE".to_string(), "dev".to_string())
        ]
    );
}

#[test]
fn image_references_are_validated() {
    assert_eq!(
        error("language = \"python\"\nbase = \"Python:3\"\n"),
        "strata.toml:2:8: `base` is not a valid image reference: `Python` is not a valid repository name component in `Python:3` (use lowercase letters, digits and separators `.`, `_`, `-`) (e.g. `python:3.12-slim` or `ghcr.io/org/image:tag`)"
    );
}

#[test]
fn secrets_and_packages() {
    let text = "language = \"node\"\n[packages]\nbuild = [\"libpq-dev\"]\nruntime = [\"libpq5\"]\n[[secret]]\nid = \"npmrc\"\ntarget = \"/root/.npmrc\"\n[[secret]]\nid = \"token\"\nenv = \"NPM_TOKEN\"\nrequired = true\n";
    let spec = parse_str(text).unwrap();
    assert_eq!(spec.packages.build, ["libpq-dev"]);
    assert_eq!(spec.packages.runtime, ["libpq5"]);
    assert_eq!(
        spec.secrets[0].target,
        SecretTarget::File("/root/.npmrc".into())
    );
    assert!(!spec.secrets[0].required);
    assert_eq!(
        spec.secrets[1].target,
        SecretTarget::Env("NPM_TOKEN".into())
    );
    assert!(spec.secrets[1].required);
    assert_eq!(
        error("language = \"node\"\n[packages]\nbuild = [\"curl; rm -rf /\"]\n"),
        "strata.toml:3:10: `curl; rm -rf /` is not a valid package name (one package per entry, e.g. `[\"libpq5\", \"curl\"]`)"
    );
    assert_eq!(
        error("language = \"node\"\n[[secret]]\nenv = \"X\"\n"),
        "strata.toml:2:1: `[[secret]]` needs an `id` (the id you pass as `--secret id=…`)"
    );
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let spec = parse_str("\u{feff}# syntax=x\nlanguage = \"node\"\n").unwrap();
    assert_eq!(spec.language.value, "node");
}

/// Mangled specs never panic: every input gets a spec or diagnostics (a cheap, deterministic fuzz).
#[test]
fn mangled_specs_are_errors_not_panics() {
    let seeds = [
        include_str!("../../examples/fastapi/strata.toml"),
        include_str!("../../examples/express/strata.toml"),
        "language = \"node\"\nbase = \"${A:-b}\"\n[[secret]]\nid = \"é\"\n[packages]\nbuild = [\"x\"]\n",
    ];
    let alphabet: Vec<char> = "\"'[]{}=.,#$:-\n\\ é/0a".chars().collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for round in 0..3000 {
        let mut text: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..1 + next(4) {
            let at = next(text.len() + 1);
            match next(3) {
                0 => text.insert(at, alphabet[next(alphabet.len())]),
                1 if at < text.len() => {
                    text.remove(at);
                }
                _ => text.truncate(at),
            }
        }
        let text: String = text.into_iter().collect();
        let args = BTreeMap::from([("A".to_string(), "1".to_string())]);
        if let Ok(spec) = parse(SourceText::new("strata.toml", text.clone()), &args) {
            let ctx = crate::recipe::tests::context(&[
                ("requirements.txt", "-r x\n-e .\n"),
                ("package.json", "{"),
            ]);
            let _ = crate::recipe::plan(&spec, &ctx);
        }
    }
}

/// Every diagnostic points into the file, at a line and column that exist in `text`.
fn assert_located_inside(text: &str, diags: &crate::diag::Diagnostics) {
    use crate::diag::Location;
    let lines: Vec<usize> = text.split('\n').map(|l| l.chars().count()).collect();
    assert!(!diags.0.is_empty());
    for d in &diags.0 {
        let Location::File { name, start, end } = &d.location else {
            panic!("not located in the spec: {d}");
        };
        assert_eq!(name, "strata.toml");
        for p in [start, end] {
            assert!(
                (1..=lines.len()).contains(&p.line)
                    && (1..=lines[p.line - 1] + 1).contains(&p.column),
                "{d}: {p:?} is outside the text"
            );
        }
    }
}

fn time_guard() -> std::time::Duration {
    // Generous: a debug build on a busy machine; the quadratic versions took minutes.
    std::time::Duration::from_secs(5)
}

#[test]
fn twenty_thousand_errors_are_located_in_linear_time() {
    let keys = |sep: &str| {
        (0..20_000)
            .map(|i| format!("k{i} = []"))
            .collect::<Vec<_>>()
            .join(sep)
    };
    let bodies = [
        keys("\n"),
        format!("[packages]\n{}", keys("\n")),
        // All on one line: a column is not found by scanning the line from its start either.
        format!("packages = {{ {} }}", keys(", ")),
    ];
    for body in bodies {
        let text = format!("language = \"python\"\n{body}\n");
        let started = std::time::Instant::now();
        let e = parse(
            SourceText::new("strata.toml", text.as_str()),
            &BTreeMap::new(),
        )
        .expect_err("unknown keys");
        assert!(started.elapsed() < time_guard(), "{:?}", started.elapsed());
        assert_eq!(e.0.len(), 20_000);
        assert_located_inside(&text, &e);
        // The last one is where it is written (ASCII: bytes are columns).
        let at = text.find("k19999 =").unwrap();
        let line_start = text[..at].rfind('\n').unwrap() + 1;
        let line = text[..at].matches('\n').count() + 1;
        let last = e.0.last().unwrap().to_string();
        let expected = format!("strata.toml:{line}:{}: unknown key `", at - line_start + 1);
        assert!(last.starts_with(&expected), "{last}");
    }
}

#[test]
fn long_lists_are_checked_in_linear_time() {
    let list = |f: &dyn Fn(usize) -> String| (1..40_000).map(f).collect::<Vec<_>>().join(", ");
    let text = format!(
        "language = \"python\"\nmanifests = [{}]\napp = [{}]\nport = [{}]\n",
        list(&|i| format!("\"m{i}\"")),
        list(&|i| format!("\"a{i}\"")),
        list(&|i| i.to_string()),
    );
    let started = std::time::Instant::now();
    let spec = parse_str(&text).unwrap();
    assert!(started.elapsed() < time_guard(), "{:?}", started.elapsed());
    assert_eq!(spec.manifests.unwrap().len(), 39_999);
    assert_eq!(spec.app.len(), 39_999);
    assert_eq!(spec.ports.len(), 39_999);
}

#[test]
fn env_keeps_the_order_of_the_file() {
    macro_rules! pairs {
        ($env:expr) => {
            $env.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        };
    }
    let spec = parse_str(
        "language = \"python\"\n[env]\nZ = \"1\"\nA = \"${Z}/x\"\nM = \"m\"\n[build_env]\nY = \"2\"\nB = \"${Y}\"\n",
    )
    .unwrap();
    // Later values refer to earlier ones, as consecutive ENV lines do, so the order is kept.
    assert_eq!(pairs!(spec.env), ["Z=1", "A=${Z}/x", "M=m"]);
    assert_eq!(pairs!(spec.build_env), ["Y=2", "B=${Y}"]);
    let spec = parse_str("language = \"python\"\nenv.Z = \"1\"\nenv.A = \"2\"\n").unwrap();
    assert_eq!(pairs!(spec.env), ["Z=1", "A=2"]);
    let spec = parse_str("language = \"python\"\nenv = { Z = \"1\", A = \"2\" }\n").unwrap();
    assert_eq!(pairs!(spec.env), ["Z=1", "A=2"]);
}

#[test]
fn workdir_is_cleaned_like_docker_does() {
    for (given, clean) in [
        ("/../srv", "/srv"),
        ("/a/../b", "/b"),
        ("/a/./b//c/", "/a/b/c"),
        ("/..", "/"),
        ("/a/../../..", "/"),
    ] {
        let spec = parse_str(&format!("language = \"python\"\nworkdir = \"{given}\"\n")).unwrap();
        assert_eq!(spec.workdir, clean, "{given}");
    }
}

#[test]
fn user_takes_names_and_ids_only() {
    for (given, user) in [
        ("\"app\"", "app"),
        ("\"Node\"", "Node"),
        ("\"_svc.x-1\"", "_svc.x-1"),
        ("\"1000\"", "1000"),
        ("\"1000:1000\"", "1000:1000"),
        ("\"app:staff\"", "app:staff"),
        ("\"10001:staff\"", "10001:staff"),
        ("0", "0"),
        ("4294967294", "4294967294"),
        ("0x10", "16"),
    ] {
        let spec = parse_str(&format!("language = \"python\"\nuser = {given}\n")).unwrap();
        assert_eq!(spec.user, user, "{given}");
    }
    let help =
        "(e.g. `user = 10001`, `user = \"10001:10001\"`, `user = \"node\"` or `user = \"root\"`)";
    for (given, problem) in [
        (
            "-1",
            "`user` as a number must be a uid from 0 to 4294967294".to_string(),
        ),
        (
            "4294967295",
            "`user` as a number must be a uid from 0 to 4294967294".to_string(),
        ),
        (
            "99999999999999999999999",
            "`user` as a number must be a uid from 0 to 4294967294".to_string(),
        ),
        (
            "\"10001:\"",
            "`user` must be `name`, `uid`, `name:group` or `uid:gid`: the group is empty".to_string(),
        ),
        (
            "\":::\"",
            "`user` must be `name`, `uid`, `name:group` or `uid:gid`: the user is empty".to_string(),
        ),
        (
            "\"a:b:c\"",
            "`user` must be `name`, `uid`, `name:group` or `uid:gid`: the group `b:c` is neither a number nor a name (a letter or `_`, then letters, digits, `_`, `.`, `-`)".to_string(),
        ),
        (
            "\"-1\"",
            "`user` must be `name`, `uid`, `name:group` or `uid:gid`: the user `-1` is neither a number nor a name (a letter or `_`, then letters, digits, `_`, `.`, `-`)".to_string(),
        ),
        (
            "\"1:4294967295\"",
            "`user` must be `name`, `uid`, `name:group` or `uid:gid`: the group id `4294967295` is larger than 4294967294".to_string(),
        ),
    ] {
        assert_eq!(
            error(&format!("language = \"python\"\nuser = {given}\n")),
            format!("strata.toml:2:8: {problem} {help}"),
            "{given}"
        );
    }
}

#[test]
fn integers_are_read_in_their_base() {
    let spec = parse_str("language = \"python\"\nport = [0x50, 8_080]\n").unwrap();
    assert_eq!(spec.ports, ["80/tcp", "8080/tcp"]);
}

#[test]
fn the_program_of_an_exec_form_run_cannot_be_empty() {
    assert_eq!(
        error("language = \"python\"\nrun = [\"\", \"x\"]\n"),
        "strata.toml:2:8: the program in `run` (its first element) cannot be empty (write the program to start, e.g. `run = [\"node\", \"server.js\"]`)"
    );
    let spec = parse_str("language = \"python\"\nrun = [\"python3\", \"\"]\n").unwrap();
    assert_eq!(
        spec.run.unwrap().value,
        Command::Exec(vec!["python3".into(), String::new()])
    );
}

#[test]
fn labels_are_single_line() {
    assert_eq!(
        error("language = \"python\"\n[labels]\n\"a\\nb\" = \"x\"\n"),
        "strata.toml:3:1: label key `a\\nb` contains a control character (label keys are single-line names, like `org.opencontainers.image.source`)"
    );
    assert_eq!(
        error("language = \"python\"\n[labels]\n\"\" = \"x\"\n"),
        "strata.toml:3:1: a label key cannot be empty (label keys are single-line names, like `org.opencontainers.image.source`)"
    );
    assert_eq!(
        error("language = \"python\"\nlabels = { a = \"\"\"\nline one\nline two\"\"\" }\n"),
        "strata.toml:2:16: the value of label `a` contains the control character `\\n` (labels are single-line: remove line breaks and control characters; tabs are allowed)"
    );
    let spec = parse_str("language = \"python\"\n[labels]\n\"org.x\" = \"a\\tb\"\n").unwrap();
    assert_eq!(spec.labels["org.x"], "a\tb");
}

#[test]
fn defaults_may_nest_expressions() {
    let text = "language = \"python\"\nbase = \"python:${PY:-${DEFAULT_PY:-3.12}}-slim\"\n";
    let base = |args: &[(&str, &str)]| parse_with(text, args).unwrap().base.unwrap().value;
    assert_eq!(base(&[]).to_string(), "docker.io/library/python:3.12-slim");
    assert_eq!(
        base(&[("DEFAULT_PY", "3.11")]).to_string(),
        "docker.io/library/python:3.11-slim"
    );
    assert_eq!(
        base(&[("PY", "3.10"), ("DEFAULT_PY", "3.11")]).to_string(),
        "docker.io/library/python:3.10-slim"
    );
    assert_eq!(
        error("language = \"python\"\nversion = \"${A:-${B}}\"\n"),
        "strata.toml:2:17: build argument `B` is not set (pass `--build-arg NAME=value`, or give a default: `${NAME:-value}`)"
    );
    let deep = format!("{}x{}", "${A:-".repeat(100_000), "}".repeat(100_000));
    assert_eq!(
        error(&format!("language = \"python\"\nversion = \"{deep}\"\n")),
        "strata.toml:2:52: `${…}` nested more than 8 levels deep in defaults (use fewer levels of `${NAME:-default}` inside defaults)"
    );
}

#[test]
fn a_duplicate_key_is_named() {
    assert_eq!(
        error("language = \"python\"\nversion = \"1\"\nversion = \"2\"\n"),
        "strata.toml:3:1: duplicate key `version` (each key may appear only once in a table: remove one, or merge the two)"
    );
    assert_eq!(
        error("language = \"python\"\n[env]\nA = \"1\"\n[env]\n"),
        "strata.toml:4:2: duplicate key `env` (each key may appear only once in a table: remove one, or merge the two)"
    );
    assert_eq!(
        error("language = \"python\"\nenv = { A = \"1\", 'A' = \"2\" }\n"),
        "strata.toml:2:18: duplicate key `A` (each key may appear only once in a table: remove one, or merge the two)"
    );
}

#[test]
fn a_spec_that_is_not_utf8_is_located_with_the_fix() {
    let e = decode(
        "strata.toml",
        b"language = \"python\"\nversion = \"3\xff\"\n".to_vec(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "strata.toml:2:13: the spec must be UTF-8 text, but byte 0xFF here is not UTF-8 (save the file as UTF-8)"
    );
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "language = \"python\"\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    assert_eq!(
        decode("strata.toml", utf16).unwrap_err().to_string(),
        "strata.toml:1:1: the spec must be UTF-8 text, but byte 0xFF here is not UTF-8 (the file starts with a UTF-16 byte order mark: save it as UTF-8, not UTF-16)"
    );
    // A UTF-8 byte order mark is UTF-8, and parse skips it.
    let source = decode("strata.toml", b"\xef\xbb\xbflanguage = \"node\"\n".to_vec()).unwrap();
    assert_eq!(
        parse(source, &BTreeMap::new()).unwrap().language.value,
        "node"
    );
}

#[test]
fn errors_in_strings_with_escapes_point_at_the_source() {
    let at = |text: &str| {
        error(&format!("language = \"python\"\n{text}"))
            .split(": build argument")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(at("version = \"\\t${MISSING}\"\n"), "strata.toml:2:14");
    assert_eq!(at("version = \"\\u00e9${MISSING}\"\n"), "strata.toml:2:18");
    assert_eq!(
        at("version = \"\\U0001F980\\\\${MISSING}\"\n"),
        "strata.toml:2:24"
    );
    assert_eq!(at("version = '\\t${MISSING}'\n"), "strata.toml:2:14");
    assert_eq!(
        at("version = \"\"\"\n  ${MISSING}\"\"\"\n"),
        "strata.toml:3:3"
    );
    assert_eq!(at("version = '''\r\n\\t${MISSING}'''\n"), "strata.toml:3:3");
    assert_eq!(
        at("version = \"\"\"a \\\n\n    \\t${MISSING}\"\"\"\n"),
        "strata.toml:4:7"
    );
    assert_eq!(at("version = \"\\u0024{MISSING}\"\n"), "strata.toml:2:12");
}

#[test]
fn substituted_values_are_bounded() {
    let big = "x".repeat(100_000);
    let args = [("BIG", big.as_str())];
    assert_eq!(
        parse_with(
            &format!(
                "language = \"python\"\nversion = \"{}\"\n",
                "${BIG}".repeat(11)
            ),
            &args
        )
        .unwrap_err(),
        "strata.toml:2:72: `version` is longer than 1 MiB after substituting build arguments (each value is limited: pass shorter build arguments, or use them fewer times)"
    );
    // Ten values of 1 MB each are 10 MB in total: the ninth crosses the spec's limit.
    let labels: String = (0..10)
        .map(|i| format!("l{i} = \"{}\"\n", "${BIG}".repeat(10)))
        .collect();
    let e = parse_with(&format!("language = \"python\"\n[labels]\n{labels}"), &args).unwrap_err();
    assert_eq!(
        e,
        "strata.toml:11:25: `labels.l8` makes the spec's values longer than 8 MiB in total after substituting build arguments (the values of a spec are limited in total: pass shorter build arguments, or use them fewer times)"
    );
}

#[test]
fn deep_nesting_is_refused_before_the_toml_parser() {
    for (text, at) in [
        (format!("x = {}", "[".repeat(100_000)), "1:37"),
        (format!("x = {}", "{a = ".repeat(100_000)), "1:165"),
        (format!("{} = 1", vec!["a"; 100_000].join(".")), "1:66"),
        (format!("[{}]", vec!["a"; 100_000].join(".")), "1:65"),
    ] {
        let e = error(&text);
        assert_eq!(
            e,
            format!(
                "strata.toml:{at}: the spec nests more than 32 levels deep (a spec needs at most a table of arrays: see the key reference in the Strata README)"
            )
        );
    }
    // Brackets in strings and comments are text.
    let text = format!(
        "language = \"python\"\n# {}\nversion = \"{}\"\nbuild = '''{}'''\ninstall = \"\"\"\\\"\"\"{}\"\"\"\n",
        "[".repeat(100),
        "[".repeat(100),
        "{".repeat(100),
        "[".repeat(100)
    );
    parse_str(&text).unwrap();
}

/// A small deterministic generator for the structural fuzz below (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// Text for inside a basic string: escapes, non-ASCII, and `${…}` nested up to past the limit.
    fn basic(&mut self, pieces: usize) -> String {
        (0..pieces)
            .map(|_| match self.below(4) {
                0 => self
                    .pick(&[
                        "\\t",
                        "\\n",
                        "\\\\",
                        "\\\"",
                        "\\u00e9",
                        "\\U0001F980",
                        "\\x41",
                        "\\e",
                        "\\u0024{A}",
                        "\\r\\n",
                    ])
                    .to_string(),
                1 => self
                    .pick(&["a", "é", "🦀", " ", "/", ":", "-", "}", "{", "$"])
                    .to_string(),
                _ => self.expression(0),
            })
            .collect()
    }

    fn expression(&mut self, depth: usize) -> String {
        match self.below(if depth > 12 { 6 } else { 9 }) {
            0 => "${A}".into(),
            1 => "${UNSET}".into(),
            2 => "${BIG}".into(),
            3 => self
                .pick(&["$${", "$", "${", "${1x}", "${A", "${A:-"])
                .into(),
            4 => "${EMPTY}".into(),
            5 => "plain".into(),
            _ => format!(
                "${{{}:-{}}}",
                self.pick(&["A", "UNSET", "EMPTY", "BIG"]),
                self.expression(depth + 1)
            ),
        }
    }

    /// A value of any shape, nested up to `depth`.
    fn value(&mut self, depth: usize) -> String {
        match self.below(if depth == 0 { 6 } else { 8 }) {
            0 => {
                let pieces = 1 + self.below(6);
                format!("\"{}\"", self.basic(pieces))
            }
            1 => format!("'{}'", self.expression(0)),
            2 => format!(
                "\"\"\"{}{}\\\n  {}\"\"\"",
                self.pick(&["", "\n", "\r\n"]),
                self.basic(3),
                self.basic(3)
            ),
            3 => format!("'''\n{}\r\n'''", self.expression(0)),
            4 => self
                .pick(&[
                    "99999999999999999999999999",
                    "-99999999999999999999",
                    "-1",
                    "0xFFFFFFFFFFFFFFFF",
                    "0o777",
                    "0b1",
                    "4294967295",
                    "1e999",
                    "nan",
                    "true",
                    "1979-05-27",
                ])
                .into(),
            5 => "\"\"".into(),
            6 => {
                let n = self.below(4);
                let items: Vec<String> = (0..n).map(|_| self.value(depth - 1)).collect();
                format!("[{}]", items.join(", "))
            }
            _ => {
                let n = self.below(4);
                let items: Vec<String> = (0..n)
                    .map(|i| format!("k{i} = {}", self.value(depth - 1)))
                    .collect();
                format!("{{ {} }}", items.join(", "))
            }
        }
    }
}

/// One generated spec; `round` chooses its structure.
fn structured_spec(rng: &mut Rng, round: usize) -> String {
    let mut text = String::from("# syntax=x\nlanguage = \"python\"\n");
    // One round in four of each structure is a large one.
    let large = (round / 9) % 4 == 0;
    match round % 9 {
        // Many keys, known and not, with any values (duplicates included).
        0 => {
            let n = if large { 5_000 } else { 1 + rng.below(60) };
            for i in 0..n {
                let key = if rng.below(3) == 0 {
                    format!("key_{i}")
                } else {
                    rng.pick(parse::KEYS).to_string()
                };
                let value = rng.value(2);
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        // A very long string value.
        1 => {
            let pieces = if large { 100_000 } else { 1 + rng.below(200) };
            let key = rng.pick(&["version", "workdir", "base", "app", "user", "install"]);
            let value = rng.basic(pieces);
            text.push_str(&format!("{key} = \"{value}\"\n"));
        }
        // Deep nesting of arrays, inline tables and dotted keys, closed or not.
        2 => {
            let depth = [1, 10, 31, 32, 33, 79, 80, 81, 300, 1_000, 100_000][rng.below(11)];
            let (open, close) = [("[", "]"), ("{a = ", "}"), ("[{b = ", "}]")][rng.below(3)];
            let closing = if rng.below(2) == 0 {
                close.repeat(depth)
            } else {
                String::new()
            };
            match rng.below(3) {
                0 => text.push_str(&format!("port = {}1{closing}\n", open.repeat(depth))),
                1 => text.push_str(&format!("{} = 1\n", vec!["env"; depth].join("."))),
                _ => text.push_str(&format!("[{}]\n", vec!["labels"; depth].join("."))),
            }
        }
        // Tables of strings: env, build_env, labels, packages, secrets.
        3 => {
            for table in ["env", "build_env", "labels"] {
                text.push_str(&format!("[{table}]\n"));
                for i in 0..rng.below(30) {
                    let key = match rng.below(6) {
                        0 if i == 0 => "\"\"".to_string(),
                        1 => format!("\"a\\nb{i}\""),
                        2 => format!("'é{i}\t'"),
                        3 => format!("x.y{i}"),
                        _ => format!("A{i}"),
                    };
                    let value = rng.value(1);
                    text.push_str(&format!("{key} = {value}\n"));
                }
            }
            let (build, id, env) = (rng.value(2), rng.value(1), rng.value(1));
            text.push_str(&format!(
                "[packages]\nbuild = {build}\n[[secret]]\nid = {id}\nenv = {env}\n"
            ));
        }
        // Top-level keys with hostile scalars: huge integers, odd users, workdirs, commands.
        4 => {
            for key in ["port", "user", "workdir", "run", "version"] {
                let value = rng.value(2);
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        // Build arguments used many times, and defaults nested around the limit.
        5 => {
            let values = 1 + rng.below(if large { 100 } else { 2 });
            let uses = 1 + rng.below(12);
            text.push_str("[labels]\n");
            for i in 0..values {
                text.push_str(&format!("l{i} = \"{}\"\n", "${BIG}".repeat(uses)));
            }
            let depth = 1 + rng.below(20);
            let nested = format!("{}x{}", "${UNSET:-".repeat(depth), "}".repeat(depth));
            text.push_str(&format!("[env]\nNESTED = \"{nested}\"\n"));
        }
        // A real spec with CRLF line ends, a byte order mark, NULs or stray characters.
        _ => {
            let seeds = [
                include_str!("../../examples/fastapi/strata.toml"),
                include_str!("../../examples/express/strata.toml"),
            ];
            text = seeds[rng.below(seeds.len())].to_string();
            if rng.below(2) == 0 {
                text = text.replace('\n', "\r\n");
            }
            if rng.below(3) == 0 {
                text.insert(0, '\u{feff}');
            }
            let mut chars: Vec<char> = text.chars().collect();
            for _ in 0..rng.below(4) {
                let at = rng.below(chars.len() + 1);
                let stray = [
                    '\0', '\r', '\n', '"', '\\', '$', '{', '}', '[', '\u{feff}', 'é',
                ];
                chars.insert(at, stray[rng.below(stray.len())]);
            }
            text = chars.into_iter().collect();
        }
    }
    text
}

/// Generated specs of every shape (thousands of keys, long strings, deep nesting, nested
/// defaults, escapes, CRLF, BOM, NUL, invalid UTF-8, huge integers) give a spec or located errors,
/// quickly: never a panic, a hang or a stack overflow.
#[test]
fn structured_specs_are_errors_not_panics_or_hangs() {
    let args = BTreeMap::from([
        ("A".to_string(), "1".to_string()),
        ("EMPTY".to_string(), String::new()),
        ("BIG".to_string(), "x".repeat(100_000)),
    ]);
    let ctx = crate::recipe::tests::context(&[("requirements.txt", "flask\n")]);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..600 {
        let text = structured_spec(&mut rng, round);
        // Every few rounds, through the bytes entry point with bytes that are not UTF-8.
        let mut bytes = text.into_bytes();
        if rng.below(5) == 0 {
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(bytes.len() + 1);
                bytes.insert(at, [0xFF, 0xFE, 0xC3, 0x80, 0xED, 0xF4][rng.below(6)]);
            }
            if rng.below(5) == 0 {
                bytes.splice(0..0, [0xFF, 0xFE]);
            }
        }
        let started = std::time::Instant::now();
        let source = match decode("strata.toml", bytes.clone()) {
            Ok(source) => source,
            Err(d) => {
                assert_located_inside(&String::from_utf8_lossy(&bytes), &d.into());
                continue;
            }
        };
        let text = source.text.clone();
        let result = parse(source, &args);
        assert!(
            started.elapsed() < time_guard(),
            "round {round} took {:?}",
            started.elapsed()
        );
        match result {
            Ok(spec) => {
                let _ = crate::recipe::plan(&spec, &ctx);
            }
            Err(e) => assert_located_inside(&text, &e),
        }
    }
}

#[test]
fn manifests_refuse_exclusions_and_dot_dot_after_a_wildcard() {
    // Cleaning would drop the `..` together with the `**`, selecting `x` without a word.
    assert_eq!(
        error("language = \"python\"\nmanifests = [\"**/../x\"]\n"),
        "strata.toml:2:14: `manifests`: `**/../x` has `..` after a wildcard, so it may point outside the build context (name a path inside the build context, like `requirements.txt` or `app`)"
    );
    assert_eq!(
        error("language = \"python\"\napp = [\"src\", \"src/*/../../etc\"]\n"),
        "strata.toml:2:15: `app`: `src/*/../../etc` has `..` after a wildcard, so it may point outside the build context (name a path inside the build context, like `requirements.txt` or `app`)"
    );
    // A `!` entry used to select nothing, silently.
    assert_eq!(
        error("language = \"python\"\nmanifests = [\"requirements.txt\", \"!requirements.txt\"]\n"),
        "strata.toml:2:34: `manifests` cannot exclude files: `!requirements.txt` (manifests are include patterns; to exclude files use .dockerignore)"
    );
    assert_eq!(
        error("language = \"python\"\napp = [\"src\", \"!src/secret\"]\n"),
        "strata.toml:2:15: `app` cannot exclude files: `!src/secret` (app entries are include patterns; to exclude files use .dockerignore)"
    );
    assert_eq!(
        error("language = \"python\"\nmanifests = \"!*.txt\"\n"),
        "strata.toml:2:13: `manifests` cannot exclude files: `!*.txt` (manifests are include patterns; to exclude files use .dockerignore)"
    );
}
