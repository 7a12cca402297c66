//! The bad-input corpus: one case per class of mistake a user makes (issue 7, item 2), with the
//! exact message the user sees. `tests/cli.rs` runs every case through `strata llb` and
//! `tests/gateway.rs` through the frontend against the fake BuildKit: the same message at both
//! edges, a location (file:line:column, or the build option), no panic, no hang, nothing written
//! (no LLB on stdout; no Solve of any exec op).

/// A build context to lay out, and what the user must be told about it.
pub struct Case {
    pub name: &'static str,
    /// Files of the context (the spec is `strata.toml`).
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// Symbolic links `(target, link)` in the context.
    pub links: Vec<(&'static str, &'static str)>,
    /// `--build-arg` values.
    pub build_args: Vec<&'static str>,
    /// The message, exactly as `strata llb` prints it after `error: ` and as the frontend returns it.
    pub message: String,
    /// A string that must appear nowhere in what the user sees (a credential).
    pub never_shown: Option<&'static str>,
}

const PY: &str = "language = \"python\"\n";
const OUTSIDE: &str = "(name a path inside the build context, like `requirements.txt` or `app`)";
const PORT: &str = "`port` must be a port number 1-65535 (or \"N/udp\") (e.g. `port = 8000` or `port = [80, \"53/udp\"]`)";
const NOT_FOUND: &str = "(paths are relative to the build context directory; check the name and that .dockerignore does not exclude it)";

fn case(name: &'static str, files: &[(&'static str, &[u8])], message: &str) -> Case {
    Case {
        name,
        files: files.iter().map(|(p, c)| (*p, c.to_vec())).collect(),
        links: Vec::new(),
        build_args: Vec::new(),
        message: message.to_string(),
        never_shown: None,
    }
}

fn python(name: &'static str, spec: &str, message: &str) -> Case {
    let spec = format!("{PY}{spec}");
    let mut c = case(name, &[("requirements.txt", b"six\n")], message);
    c.files.push(("strata.toml", spec.into_bytes()));
    c
}

pub fn cases() -> Vec<Case> {
    let huge = format!(
        "{PY}{}workdri = \"/x\"\n",
        "# padding padding padding padding padding padding padding\n".repeat(60_000)
    );
    let mut v = vec![
        python(
            "invalid TOML",
            "run = [\"a\",\nport = 80\n",
            "strata.toml:3:6: invalid TOML: unexpected `=` in array, expected value, `]` (the spec is TOML: see the key reference in the Strata README)",
        ),
        python(
            "unknown key",
            "workdri = \"/x\"\n",
            "strata.toml:2:1: unknown key `workdri` (did you mean `workdir`?)",
        ),
        python(
            "wrong type",
            "version = 3.12\n",
            "strata.toml:2:11: `version` must be a string, found float (put the value in quotes)",
        ),
        case(
            "empty spec",
            &[("strata.toml", b"")],
            "strata.toml:1:1: missing key `language` (add `language = \"python\"`, for example)",
        ),
        case(
            "a spec of several MB",
            &[("strata.toml", huge.as_bytes()), ("requirements.txt", b"")],
            "strata.toml:60002:1: unknown key `workdri` (did you mean `workdir`?)",
        ),
        case(
            "binary spec",
            &[(
                "strata.toml",
                &(0..=255u8).cycle().take(1024).collect::<Vec<u8>>(),
            )],
            "strata.toml:2:118: the spec must be UTF-8 text, but byte 0x80 here is not UTF-8 (save the file as UTF-8)",
        ),
        case(
            "non-UTF-8 spec",
            &[(
                "strata.toml",
                b"language = \"python\"\nversion = \"3\xe9\"\n",
            )],
            "strata.toml:2:13: the spec must be UTF-8 text, but byte 0xE9 here is not UTF-8 (save the file as UTF-8)",
        ),
        case(
            "UTF-16 byte order mark",
            &[(
                "strata.toml",
                &[0xFF, 0xFE]
                    .into_iter()
                    .chain(PY.encode_utf16().flat_map(u16::to_le_bytes))
                    .collect::<Vec<u8>>(),
            )],
            "strata.toml:1:1: the spec must be UTF-8 text, but byte 0xFF here is not UTF-8 (the file starts with a UTF-16 byte order mark: save it as UTF-8, not UTF-16)",
        ),
        case(
            "UTF-8 byte order mark: positions as the editor shows them",
            &[
                (
                    "strata.toml",
                    b"\xef\xbb\xbflanguage = \"python\"\nworkdri = \"/x\"\n",
                ),
                ("requirements.txt", b""),
            ],
            "strata.toml:2:1: unknown key `workdri` (did you mean `workdir`?)",
        ),
        case(
            "CRLF line ends",
            &[
                (
                    "strata.toml",
                    b"language = \"python\"\r\nrun = \"true\"\r\nworkdir = \"code\"\r\n",
                ),
                ("requirements.txt", b""),
            ],
            "strata.toml:3:11: `workdir` must be an absolute path, found `code` (write `/code`)",
        ),
        python(
            "a path escaping the context with ../",
            "manifests = [\"../secrets.txt\"]\n",
            &format!(
                "strata.toml:2:14: `manifests`: `../secrets.txt` points outside the build context {OUTSIDE}"
            ),
        ),
        python(
            "an absolute path",
            "app = \"/etc\"\n",
            &format!(
                "strata.toml:2:7: `app`: `/etc` is absolute; paths are relative to the build context {OUTSIDE}"
            ),
        ),
        python(
            "a path escaping the context with **/../",
            "manifests = [\"**/../x\"]\n",
            &format!(
                "strata.toml:2:14: `manifests`: `**/../x` has `..` after a wildcard, so it may point outside the build context {OUTSIDE}"
            ),
        ),
        Case {
            links: vec![("/etc/passwd", "requirements.txt")],
            ..case(
                "a symbolic link in the context pointing outside it",
                &[("strata.toml", b"language = \"python\"\nrun = \"true\"\n")],
                "requirements.txt:1:1: `requirements.txt` is a symbolic link to `/etc/passwd`, outside the build context (BuildKit sends only the build context: put the file itself in the context)",
            )
        },
        python(
            "a glob matching nothing",
            "manifests = [\"*.lock\"]\nrun = \"true\"\n",
            &format!(
                "strata.toml:2:14: manifest pattern `*.lock` matches no file in the build context {NOT_FOUND}"
            ),
        ),
        python(
            "deeply nested TOML",
            &format!("labels = {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
            "strata.toml:2:42: the spec nests more than 32 levels deep (a spec needs at most a table of arrays: see the key reference in the Strata README)",
        ),
        python(
            "an unset ${ARG}",
            "base = \"python:${PY}-slim\"\n",
            "strata.toml:2:16: build argument `PY` is not set (pass `--build-arg NAME=value`, or give a default: `${NAME:-value}`)",
        ),
        python(
            "a self-referencing ${ARG} default, nested without end",
            &format!("version = \"{}3{}\"\n", "${V:-".repeat(9), "}".repeat(9)),
            "strata.toml:2:52: `${…}` nested more than 8 levels deep in defaults (use fewer levels of `${NAME:-default}` inside defaults)",
        ),
        Case {
            build_args: vec!["V=${V}"],
            ..python(
                "a build argument whose value refers to itself (taken as text, not substituted again)",
                "version = \"${V}\"\nrun = \"true\"\n",
                "strata.toml:2:11: `version`: `${V}-slim` is not a valid tag in `python:${V}-slim` (write a version like `3.12`, or name the image with `base`)",
            )
        },
        Case {
            never_shown: Some("s3cr3tT0KEN"),
            ..case(
                "credentials in a requirements --index-url",
                &[
                    ("strata.toml", b"language = \"python\"\nrun = \"true\"\n"),
                    (
                        "requirements.txt",
                        b"-i https://user:s3cr3tT0KEN@pypi.example/simple -r ../x.txt\n",
                    ),
                ],
                "requirements.txt:1:1: `-i https://***@pypi.example/simple -r ../x.txt` needs ../x.txt, which is outside the build context: BuildKit does not send it (move the file inside the build context and reference it from there)",
            )
        },
        case(
            "invalid package.json",
            &[
                ("strata.toml", b"language = \"node\"\nrun = \"node x\"\n"),
                (
                    "package.json",
                    b"{\"name\": \"x\",\n  \"version\": 1,,\n}\n",
                ),
            ],
            "package.json:2:16: invalid JSON: key must be a string at line 2 column 16",
        ),
        case(
            "a lockfile without its manifest (npm)",
            &[
                ("strata.toml", b"language = \"node\"\nrun = \"node x\"\n"),
                ("package-lock.json", b"{}"),
            ],
            "package-lock.json:1:1: package-lock.json is here but package.json is not (a lockfile pins what package.json declares, and npm installs from both: add package.json at the root of the build context (and check that .dockerignore does not exclude it))",
        ),
        case(
            "a lockfile without its manifest (cargo)",
            &[
                ("strata.toml", b"language = \"rust\"\n"),
                ("Cargo.lock", b"version = 4\n"),
            ],
            "strata.toml:1:12: no Cargo.toml in the build context (rust projects need Cargo.toml (and Cargo.lock) at the root of the build context)",
        ),
        python(
            "an out-of-range port",
            "port = 70000\n",
            &format!("strata.toml:2:8: {PORT}"),
        ),
        python(
            "port 0",
            "port = \"0/udp\"\n",
            &format!("strata.toml:2:8: {PORT}"),
        ),
        python(
            "an empty run",
            "run = \"\"\n",
            "strata.toml:2:7: `run` cannot be empty (write the command, or remove `run` to use the recipe's default)",
        ),
        python(
            "an empty run array",
            "run = []\n",
            "strata.toml:2:7: `run` cannot be an empty array (write the command, e.g. `run = [\"node\", \"server.js\"]`)",
        ),
        python(
            "an empty program in run",
            "run = [\"\"]\n",
            "strata.toml:2:8: the program in `run` (its first element) cannot be empty (write the program to start, e.g. `run = [\"node\", \"server.js\"]`)",
        ),
    ];
    for c in &mut v {
        c.files.sort_by_key(|(p, _)| *p);
    }
    v
}
