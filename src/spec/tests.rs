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
    assert_eq!(spec.language.value, Language::Python);
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
fn language_is_required_and_checked() {
    assert_eq!(
        error("app = \".\"\n"),
        "strata.toml:1:1: missing key `language` (add `language = \"python\"` or `language = \"node\"`)"
    );
    assert_eq!(
        error("language = \"go\"\n"),
        "strata.toml:1:12: language `go` is not supported yet (supported languages: python, node)"
    );
    assert_eq!(
        error("language = \"cobol\"\n"),
        "strata.toml:1:12: unknown language `cobol` (supported languages: python, node)"
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
    assert_eq!(spec.env["PATH"], "/x:${PATH}");
    assert_eq!(spec.env["MODE"], "dev");
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
    assert_eq!(spec.language.value, Language::Node);
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
        error("language = \"python\"\nmanifests = \"!*.txt\"\n"),
        "strata.toml:2:13: `manifests` cannot exclude files: `!*.txt` (manifests are include patterns; to exclude files use .dockerignore)"
    );
}
