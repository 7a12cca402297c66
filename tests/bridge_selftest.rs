//! Self-test of the fake BuildKit in tests/support/bridge.rs: an in-process tonic client over
//! `tokio::io::duplex`, and real child processes (this test binary re-executed in a child mode).

#[path = "support/bridge.rs"]
mod bridge;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::frontend as gw;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
use bollard_buildkit_proto::pb;
use bollard_buildkit_proto::pb::op::Op as OpOneof;
use bridge::{
    ActionInput, Bridge, CapsProfile, DefinitionBuilder, Graph, HOST_MOUNT, LocalAttrs, OpKind,
    Outcome, ReadKind, Returned, ReturnedRefs, SESSION_ID, TempDir, localfs,
    patterns::PatternMatcher, transferred_paths,
};
use hyper_util::rt::TokioIo;
use tonic::Code;
use tonic::transport::{Channel, Endpoint, Uri};

type Client = LlbBridgeClient<Channel>;

// ---------------------------------------------------------------------------------------------------
// helpers

/// Connects a tonic client to `io`, the way the frontend's stdio connector does.
async fn connect<IO>(io: IO) -> Client
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let slot = Arc::new(Mutex::new(Some(io)));
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let io = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            async move {
                io.map(TokioIo::new).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotConnected, "connection already used")
                })
            }
        }))
        .await
        .expect("connect over duplex");
    LlbBridgeClient::new(channel)
        .max_decoding_message_size(16 << 20)
        .max_encoding_message_size(16 << 20)
}

/// Runs `f` as an in-process frontend against `bridge` and returns the session outcome.
async fn in_process<F, Fut>(bridge: Bridge, f: F) -> Outcome
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let server = tokio::spawn(bridge.serve(server_io));
    let client = connect(client_io).await;
    f(client).await;
    // The client (and with it the connection) is gone once `f` returns.
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server did not finish after the client hung up")
        .expect("server task")
}

fn local_def(name: &str, attrs: &[(&str, &str)]) -> pb::Definition {
    let mut b = DefinitionBuilder::new();
    let src = b.source(&format!("local://{name}"), attrs);
    b.finish(&src, 0)
}

fn solve_req(def: pb::Definition) -> gw::SolveRequest {
    gw::SolveRequest {
        definition: Some(def),
        allow_result_return: true,
        allow_result_array_ref: true,
        ..Default::default()
    }
}

async fn solve(client: &mut Client, def: pb::Definition) -> String {
    let res = client
        .solve(solve_req(def))
        .await
        .expect("solve")
        .into_inner();
    match res.result.and_then(|r| r.result) {
        Some(gw::result::Result::Ref(r)) => r.id,
        other => panic!("unexpected solve result {other:?}"),
    }
}

async fn read(client: &mut Client, id: &str, path: &str) -> Result<Vec<u8>, tonic::Status> {
    client
        .read_file(gw::ReadFileRequest {
            r#ref: id.into(),
            file_path: path.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().data)
}

async fn list(client: &mut Client, id: &str, dir: &str, pattern: &str) -> Vec<String> {
    client
        .read_dir(gw::ReadDirRequest {
            r#ref: id.into(),
            dir_path: dir.into(),
            include_pattern: pattern.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("read_dir {dir:?}: {e}"))
        .into_inner()
        .entries
        .into_iter()
        .map(|s| s.path)
        .collect()
}

/// A build context with the usual suspects.
fn sample_context() -> TempDir {
    let dir = TempDir::new("ctx");
    dir.write("requirements.txt", "flask==3.0\n");
    dir.write("app.py", "print('hi')\n");
    dir.write(".dockerignore", "node_modules\n");
    dir.write("src/x/package.json", "{}\n");
    dir.write("src/x/index.js", "1\n");
    dir.write("src/y/other.txt", "2\n");
    dir.write("node_modules/a/index.js", "3\n");
    dir.write("node_modules/keep.txt", "4\n");
    dir.symlink("requirements.txt", "link");
    dir.symlink("src/x", "xdir");
    dir
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------------
// pattern matching and transferred file sets (the oracle itself)

#[test]
fn pattern_matcher_follows_patternmatcher_semantics() {
    // (patterns, path, matched)
    let cases: &[(&[&str], &str, bool)] = &[
        (&["foo"], "foo", true),
        (&["foo"], "foo/bar/baz", true), // a matched directory matches everything below
        (&["foo"], "foobar", false),
        (&["foo/"], "foo/x", true), // cleaned to "foo"
        (&["./foo"], "foo", true),
        (&["*.py"], "app.py", true),
        (&["*.py"], "src/app.py", false), // '*' does not cross '/', anchored at the root
        (&["*/*.py"], "src/app.py", true),
        (&["**/*.py"], "src/a/app.py", true),
        (&["**/*.py"], "app.py", true),
        (&["src/**"], "src/a/b", true),
        (&["src/**"], "src", false), // prefix "src/" only
        (&["**"], "anything/at/all", true),
        (&["**/node_modules"], "a/b/node_modules/x", true),
        (&["a?c"], "abc", true),
        (&["a?c"], "a/c", false),
        (&["[a-c]x"], "bx", true),
        (&["[^a-c]x"], "bx", false),
        (&["file.txt"], "fileXtxt", false), // '.' is literal
        (&["*", "!src"], "src/a.js", false),
        (&["*", "!src"], "app.py", true),
        (
            &["node_modules", "!node_modules/keep.txt"],
            "node_modules/keep.txt",
            false,
        ),
        (
            &["node_modules", "!node_modules/keep.txt"],
            "node_modules/a/index.js",
            true,
        ),
        (&["!foo", "foo"], "foo", true), // later patterns win
        (&["foo", "!foo"], "foo", false),
        (&["  foo  "], "foo", true), // trimmed
        (&["/foo"], "foo", false), // a leading '/' is kept by Clean and never matches a relative path
    ];
    for (pats, path, want) in cases {
        let m = PatternMatcher::new(pats).unwrap();
        assert_eq!(m.matches(path), *want, "patterns {pats:?} path {path:?}");
    }
    assert!(PatternMatcher::new(&["!"]).is_err());
    assert!(PatternMatcher::new(&["[abc"]).is_err());
}

#[test]
fn pattern_matcher_is_not_exponential() {
    // A gateway test with such a pattern must fail or pass, not hang in the oracle.
    let evil = "*a*a*a*a*a*a*a*a*a*a*a*a*b";
    let name = "a".repeat(60);
    let start = std::time::Instant::now();
    let m = PatternMatcher::new(&[
        evil.to_string(),
        format!("**/{evil}"),
        format!("x/{evil}/**"),
    ])
    .unwrap();
    assert!(!m.matches(&format!("{name}/{name}/x")));
    assert!(m.matches(&format!("{name}/{name}b")));
    assert!(!bridge::patterns::glob_match(evil, &name).unwrap());
    assert!(bridge::patterns::glob_match(evil, &format!("{name}b")).unwrap());
    // Generous for a debug build on a loaded machine; the point is "not exponential".
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn transferred_paths_apply_include_exclude_and_follow() {
    let dir = sample_context();
    let run = |attrs: LocalAttrs| transferred_paths(dir.path(), &attrs).unwrap();

    // Include keeps parents of matched files, and nothing else.
    let got = run(LocalAttrs {
        include_patterns: Some(strings(&["requirements.txt", "src/x/package.json"])),
        ..Default::default()
    });
    assert_eq!(
        got,
        strings(&["requirements.txt", "src", "src/x", "src/x/package.json"])
    );

    // Exclusions with a re-included file inside an excluded directory.
    let got = run(LocalAttrs {
        exclude_patterns: Some(strings(&[
            "node_modules",
            "!node_modules/keep.txt",
            "*.py",
            "src/y",
        ])),
        ..Default::default()
    });
    assert_eq!(
        got,
        strings(&[
            ".dockerignore",
            "link",
            "node_modules",
            "node_modules/keep.txt",
            "requirements.txt",
            "src",
            "src/x",
            "src/x/index.js",
            "src/x/package.json",
            "xdir",
        ])
    );

    // Follow paths add symlink targets (also through a symlinked directory).
    let got = run(LocalAttrs {
        follow_paths: Some(strings(&["link", "xdir/package.json"])),
        ..Default::default()
    });
    assert_eq!(
        got,
        strings(&[
            "link",
            "requirements.txt",
            "src",
            "src/x",
            "src/x/package.json",
            "xdir"
        ])
    );

    // A directory include brings everything below it; wildcard includes walk every directory.
    let got = run(LocalAttrs {
        include_patterns: Some(strings(&["src/x", "**/*.txt"])),
        ..Default::default()
    });
    assert_eq!(
        got,
        strings(&[
            "node_modules",
            "node_modules/keep.txt",
            "requirements.txt",
            "src",
            "src/x",
            "src/x/index.js",
            "src/x/package.json",
            "src/y",
            "src/y/other.txt",
        ])
    );

    // Include and exclude combined: excluded wins.
    let got = run(LocalAttrs {
        include_patterns: Some(strings(&["src"])),
        exclude_patterns: Some(strings(&["**/*.js"])),
        ..Default::default()
    });
    assert_eq!(
        got,
        strings(&[
            "src",
            "src/x",
            "src/x/package.json",
            "src/y",
            "src/y/other.txt"
        ])
    );

    // "." in the follow paths means no filter from them; an include list of only blanks matches nothing.
    let all = run(LocalAttrs::default());
    assert_eq!(
        run(LocalAttrs {
            follow_paths: Some(strings(&["."])),
            ..Default::default()
        }),
        all
    );
    assert!(
        run(LocalAttrs {
            include_patterns: Some(strings(&[" "])),
            ..Default::default()
        })
        .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------------
// environment, Ping

#[test]
fn child_env_matches_the_engines() {
    let b = Bridge::new()
        .opt("filename", "a=b.toml")
        .opt("target", "x")
        .opt("filename", "spec.toml");
    let env: HashMap<String, String> = b.child_env().into_iter().collect();
    assert_eq!(env["BUILDKIT_FRONTEND_OPT_0"], "target=x");
    assert_eq!(env["BUILDKIT_FRONTEND_OPT_1"], "filename=spec.toml");
    assert!(!env.contains_key("BUILDKIT_FRONTEND_OPT_2"));
    assert_eq!(env["BUILDKIT_SESSION_ID"], SESSION_ID);
    assert_eq!(SESSION_ID.len(), 25);
    assert_eq!(env["BUILDKIT_EXPORTEDPRODUCT"], "docker");
    let workers: serde_json::Value = serde_json::from_str(&env["BUILDKIT_WORKERS"]).unwrap();
    assert_eq!(workers[0]["platforms"][0]["architecture"], "amd64");
    assert!(workers[0]["buildkitVersion"].is_object());

    let old: HashMap<String, String> = Bridge::new()
        .caps(CapsProfile::V0_8)
        .child_env()
        .into_iter()
        .collect();
    let workers: serde_json::Value = serde_json::from_str(&old["BUILDKIT_WORKERS"]).unwrap();
    assert_eq!(workers[0]["ID"], "moby");
    assert!(workers[0]["Labels"].is_null());
    assert_eq!(workers[0]["Platforms"][0]["os"], "linux");
    assert!(workers[0].get("platforms").is_none());
}

#[tokio::test]
async fn ping_reports_the_profile_caps() {
    for (profile, n_api, n_llb) in [(CapsProfile::V0_13, 24, 63), (CapsProfile::V0_8, 17, 42)] {
        let out = in_process(Bridge::new().caps(profile), |mut c| async move {
            let pong = c.ping(gw::PingRequest {}).await.unwrap().into_inner();
            assert_eq!(pong.frontend_api_caps.len(), n_api, "{profile:?}");
            assert_eq!(pong.llb_caps.len(), n_llb, "{profile:?}");
            let llb = |id: &str| pong.llb_caps.iter().find(|c| c.id == id).cloned();
            let api = |id: &str| {
                pong.frontend_api_caps
                    .iter()
                    .any(|c| c.id == id && c.enabled)
            };
            match profile {
                CapsProfile::V0_13 => {
                    assert!(
                        !llb("mergeop").unwrap().enabled,
                        "Docker 26 lists mergeop as disabled"
                    );
                    assert!(!llb("diffop").unwrap().enabled);
                    assert!(llb("file.copy.includeexcludepatterns").unwrap().enabled);
                    assert!(api("gateway.warnings") && api("gateway.evaluate"));
                    assert_eq!(pong.workers[0].platforms.len(), 5);
                }
                CapsProfile::V0_8 => {
                    assert!(llb("mergeop").is_none());
                    assert!(llb("file.copy.includeexcludepatterns").is_none());
                    assert!(llb("soruce.http.uidgid").is_some());
                    assert!(!api("gateway.warnings") && !api("gateway.evaluate"));
                    assert_eq!(pong.workers[0].id, "moby");
                }
            }
            assert!(
                pong.llb_caps.windows(2).all(|w| w[0].id < w[1].id),
                "sorted like apicaps"
            );
            assert!(pong.workers[0].platforms.iter().all(|p| p.os == "linux"));
        })
        .await;
        assert_eq!(out.calls.len(), 1);
        assert_eq!(out.calls[0].method, "Ping");
        assert!(out.transport_error.is_none(), "{:?}", out.transport_error);
    }
}

// ---------------------------------------------------------------------------------------------------
// Solve + reads of local sources

#[tokio::test]
async fn local_source_reads_are_filtered() {
    let dir = sample_context();
    let bridge = Bridge::new().local("context", dir.path());
    let out = in_process(bridge, |mut c| async move {
        let include = r#"["requirements.txt","src/x/package.json","link"]"#;
        let id = solve(
            &mut c,
            local_def(
                "context",
                &[
                    ("local.includepattern", include),
                    ("local.session", SESSION_ID),
                ],
            ),
        )
        .await;
        assert_eq!(id, "ref-1");

        assert_eq!(
            list(&mut c, &id, "", "").await,
            strings(&["link", "requirements.txt", "src"])
        );
        assert_eq!(
            list(&mut c, &id, "/", "").await,
            list(&mut c, &id, ".", "").await
        );
        assert_eq!(
            list(&mut c, &id, "src/x", "").await,
            strings(&["package.json"])
        );
        assert_eq!(
            list(&mut c, &id, "", "*.txt").await,
            strings(&["requirements.txt"])
        );
        assert_eq!(
            list(&mut c, &id, "", "src/*/*.json").await,
            strings(&["src"])
        );

        assert_eq!(
            read(&mut c, &id, "requirements.txt").await.unwrap(),
            b"flask==3.0\n"
        );
        assert_eq!(
            read(&mut c, &id, "/src/../requirements.txt").await.unwrap(),
            b"flask==3.0\n"
        );
        // The symlink resolves inside the snapshot.
        assert_eq!(read(&mut c, &id, "link").await.unwrap(), b"flask==3.0\n");
        let ranged = c
            .read_file(gw::ReadFileRequest {
                r#ref: id.clone(),
                file_path: "requirements.txt".into(),
                range: Some(gw::FileRange {
                    offset: 2,
                    length: 3,
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(ranged, b"ask");

        // Files outside the include set do not exist; the error leaks the daemon's host path.
        let err = read(&mut c, &id, "app.py").await.unwrap_err();
        assert_eq!(err.code(), Code::Unknown);
        assert_eq!(
            err.message(),
            format!("open {HOST_MOUNT}/app.py: no such file or directory")
        );
        let err = read(&mut c, &id, "src").await.unwrap_err();
        assert!(
            err.message().ends_with("/src: is a directory"),
            "{}",
            err.message()
        );

        let st = c
            .stat_file(gw::StatFileRequest {
                r#ref: id.clone(),
                path: "src".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .stat
            .unwrap();
        assert_eq!(st.path, "src");
        assert_eq!(st.mode & localfs::MODE_DIR, localfs::MODE_DIR);
        let entries = c
            .read_dir(gw::ReadDirRequest {
                r#ref: id.clone(),
                dir_path: "".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        let link = entries.iter().find(|e| e.path == "link").unwrap();
        assert_eq!(link.mode & localfs::MODE_SYMLINK, localfs::MODE_SYMLINK);
        assert_eq!(link.linkname, "requirements.txt");
        let req = entries
            .iter()
            .find(|e| e.path == "requirements.txt")
            .unwrap();
        assert_eq!((req.size, req.mode & 0o777, req.mode >> 20), (11, 0o644, 0));
        let err = c
            .stat_file(gw::StatFileRequest {
                r#ref: id.clone(),
                path: "app.py".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.message(),
            format!("lstat {HOST_MOUNT}/app.py: no such file or directory")
        );

        // Exclusions, on a second ref of the same local.
        let exclude = r#"["node_modules","!node_modules/keep.txt","*.py"]"#;
        let id2 = solve(
            &mut c,
            local_def("context", &[("local.excludepatterns", exclude)]),
        )
        .await;
        assert_eq!(id2, "ref-2");
        assert_eq!(
            list(&mut c, &id2, "", "").await,
            strings(&[
                ".dockerignore",
                "link",
                "node_modules",
                "requirements.txt",
                "src",
                "xdir"
            ])
        );
        assert_eq!(
            list(&mut c, &id2, "node_modules", "").await,
            strings(&["keep.txt"])
        );
        // A symlinked directory is followed inside the snapshot.
        assert_eq!(read(&mut c, &id2, "xdir/index.js").await.unwrap(), b"1\n");

        // Unknown refs, wrong sessions and unconfigured locals fail like a daemon.
        let err = read(&mut c, "ref-99", "x").await.unwrap_err();
        assert_eq!(err.message(), "no such ref: ref-99");
        let bad_session = solve(&mut c, local_def("context", &[("local.session", "other")])).await;
        let err = read(&mut c, &bad_session, "app.py").await.unwrap_err();
        assert!(
            err.message().contains("no active session for other"),
            "{}",
            err.message()
        );
        let unknown_local = solve(&mut c, local_def("nope", &[])).await;
        let err = read(&mut c, &unknown_local, "x").await.unwrap_err();
        assert!(err.message().contains("\"nope\""), "{}", err.message());
    })
    .await;

    assert_eq!(out.solves.len(), 4);
    let graph = out.solves[0].graph.as_ref().unwrap();
    assert_eq!(
        graph.result().include_patterns(),
        strings(&["requirements.txt", "src/x/package.json", "link"])
    );
    let app = out
        .reads
        .iter()
        .find(|r| r.path == "app.py" && r.kind == ReadKind::ReadFile)
        .unwrap();
    assert!(app.error.as_deref().unwrap().contains("no such file"));
    assert!(out.read_paths().contains(&("ref-1", "requirements.txt")));
    assert!(out.failed_calls().iter().all(|c| c.method != "Solve"));
}

#[tokio::test]
async fn request_paths_instead_of_host_paths_when_asked() {
    let dir = sample_context();
    let bridge = Bridge::new()
        .local("context", dir.path())
        .leak_host_paths(false);
    in_process(bridge, |mut c| async move {
        let id = solve(
            &mut c,
            local_def("context", &[("local.includepattern", r#"["link"]"#)]),
        )
        .await;
        // The symlink was sent but its target was not.
        let err = read(&mut c, &id, "link").await.unwrap_err();
        assert_eq!(err.message(), "open link: no such file or directory");
    })
    .await;
}

#[tokio::test]
async fn reading_non_local_refs_is_unimplemented() {
    let out = in_process(Bridge::new(), |mut c| async move {
        let mut b = DefinitionBuilder::new();
        let img = b.source("docker-image://docker.io/library/alpine:3.20", &[]);
        let id = solve(&mut c, b.finish(&img, 0)).await;
        let err = read(&mut c, &id, "etc/os-release").await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
        assert!(
            err.message().contains("fake bridge cannot read ref-1"),
            "{}",
            err.message()
        );
    })
    .await;
    assert_eq!(out.solves[0].ref_id.as_deref(), Some("ref-1"));
}

/// A configured git repository (its `#ref:dir` subdirectory) and a copy of a local source into it
/// read like the snapshot BuildKit would produce; what BuildKit would not transfer stays out.
#[tokio::test]
async fn git_sources_and_one_copy_between_sources_are_materialised() {
    let repo = TempDir::new("repo");
    repo.write("svc/requirements.txt", "six\n");
    repo.write("other/x.txt", "x\n");
    let lib = sample_context();
    let bridge = Bridge::new()
        .git("git://h/repo.git", repo.path())
        .local("lib", lib.path());
    in_process(bridge, |mut c| async move {
        let mut b = DefinitionBuilder::new();
        let git = b.source(
            "git://h/repo.git#main:svc",
            &[("git.fullurl", "git://h/repo.git")],
        );
        let local = b.source(
            "local://lib",
            &[
                ("local.session", SESSION_ID),
                ("local.excludepatterns", r#"["node_modules"]"#),
            ],
        );
        let copy = b.push(pb::Op {
            inputs: vec![bridge::llb::input(&git, 0), bridge::llb::input(&local, 0)],
            op: Some(OpOneof::File(pb::FileOp {
                actions: vec![pb::FileAction {
                    input: 0,
                    secondary_input: 1,
                    output: 0,
                    action: Some(pb::file_action::Action::Copy(pb::FileActionCopy {
                        src: "/".into(),
                        dest: "/lib/".into(),
                        dir_copy_contents: true,
                        ..Default::default()
                    })),
                }],
            })),
            ..Default::default()
        });
        let id = solve(&mut c, b.finish(&copy, 0)).await;
        assert_eq!(
            read(&mut c, &id, "requirements.txt").await.unwrap(),
            b"six\n"
        );
        assert_eq!(
            read(&mut c, &id, "lib/app.py").await.unwrap(),
            b"print('hi')\n"
        );
        let mut top = list(&mut c, &id, "/", "").await;
        top.sort();
        assert_eq!(top, ["lib", "requirements.txt"]);
        assert!(
            !list(&mut c, &id, "lib", "")
                .await
                .contains(&"node_modules".to_string())
        );
        // An unknown repository fails like a failed fetch.
        let mut b = DefinitionBuilder::new();
        let other = b.source("git://h/nope.git", &[("git.fullurl", "git://h/nope.git")]);
        let id = solve(&mut c, b.finish(&other, 0)).await;
        let err = read(&mut c, &id, "x").await.unwrap_err();
        assert!(
            err.message()
                .contains("failed to fetch remote git://h/nope.git"),
            "{}",
            err.message()
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------------
// Definition checks

fn exec_op(args: &[&str], mounts: Vec<pb::Mount>, inputs: Vec<pb::Input>) -> pb::Op {
    pb::Op {
        inputs,
        op: Some(OpOneof::Exec(pb::ExecOp {
            meta: Some(pb::Meta {
                args: strings(args),
                env: strings(&["PATH=/usr/bin:/bin", "PIP_NO_CACHE_DIR=1"]),
                cwd: "/app".into(),
                user: "1000".into(),
                ..Default::default()
            }),
            mounts,
            ..Default::default()
        })),
        platform: Some(pb::Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn named(name: &str, caps: &[&str]) -> pb::OpMetadata {
    pb::OpMetadata {
        description: [("llb.customname".to_string(), name.to_string())]
            .into_iter()
            .collect(),
        caps: caps.iter().map(|c| (c.to_string(), true)).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn bad_definitions_fail_the_solve() {
    let mut cases: Vec<(CapsProfile, pb::Definition, &str)> = Vec::new();

    let mut b = DefinitionBuilder::new();
    b.push(pb::Op {
        inputs: vec![bridge::llb::input("sha256:0000", 0)],
        op: Some(OpOneof::File(pb::FileOp::default())),
        ..Default::default()
    });
    let missing = b.build();
    cases.push((
        CapsProfile::V0_13,
        missing,
        "invalid missing input digest sha256:0000",
    ));

    let mut b = DefinitionBuilder::new();
    let src = b.source("local://context", &[]);
    b.metadata(&src, named("ctx", &["file.copy.includeexcludepatterns"]));
    let def = b.finish(&src, 0);
    cases.push((
        CapsProfile::V0_8,
        def.clone(),
        "unknown API capability file.copy.includeexcludepatterns",
    ));

    let mut b = DefinitionBuilder::new();
    let src = b.source("local://context", &[]);
    b.metadata(&src, named("ctx", &["mergeop"]));
    cases.push((
        CapsProfile::V0_13,
        b.finish(&src, 0),
        "requested experimental feature mergeop  has been disabled on the build server",
    ));

    let mut b = DefinitionBuilder::new();
    b.push_raw(vec![0xff, 0xff, 0xff]);
    cases.push((
        CapsProfile::V0_13,
        b.build(),
        "failed to parse llb proto op",
    ));

    let mut b = DefinitionBuilder::new();
    b.source("local://context", &[]);
    cases.push((CapsProfile::V0_13, b.build(), "invalid LLB with 1 vertexes"));

    let mut b = DefinitionBuilder::new();
    let src = b.source("local://context", &[]);
    b.push(pb::Op::default());
    let _ = src;
    cases.push((
        CapsProfile::V0_13,
        b.build(),
        "invalid LLB with no inputs on last vertex",
    ));

    let mut b = DefinitionBuilder::new();
    let img = b.source("docker-image://alpine", &[]);
    let exec = b.push(exec_op(
        &["true"],
        vec![pb::Mount {
            input: 0,
            dest: "/tmp".into(),
            output: 0,
            ..Default::default()
        }],
        vec![bridge::llb::input(&img, 0)],
    ));
    cases.push((
        CapsProfile::V0_13,
        b.finish(&exec, 0),
        "invalid exec op with no rootfs",
    ));

    let mut b = DefinitionBuilder::new();
    let src = b.source(
        "local://context",
        &[("local.includepattern", "requirements.txt")],
    );
    cases.push((
        CapsProfile::V0_13,
        b.finish(&src, 0),
        "failed to parse local.includepattern",
    ));

    let mut b = DefinitionBuilder::new();
    let src = b.source("s3://bucket/x", &[]);
    cases.push((CapsProfile::V0_13, b.finish(&src, 0), "unknown schema s3"));

    let mut b = DefinitionBuilder::new();
    let src = b.source("docker-image://Alpine", &[]);
    cases.push((
        CapsProfile::V0_13,
        b.finish(&src, 0),
        "repository name must be lowercase",
    ));

    for (profile, def, want) in cases {
        let out = in_process(Bridge::new().caps(profile), |mut c| async move {
            let err = c.solve(solve_req(def)).await.unwrap_err();
            assert!(
                err.message().contains(want),
                "want {want:?}, got {:?}",
                err.message()
            );
        })
        .await;
        let rec = &out.solves[0];
        assert!(rec.error.as_deref().unwrap().contains(want));
        assert!(rec.ref_id.is_none());
    }

    // The same caps are fine on the profile that has them.
    let out = in_process(Bridge::new(), |mut c| async move {
        let mut b = DefinitionBuilder::new();
        let src = b.source("local://context", &[]);
        b.metadata(
            &src,
            named("ctx", &["file.copy.includeexcludepatterns", "source.local"]),
        );
        solve(&mut c, b.finish(&src, 0)).await;
    })
    .await;
    assert!(out.solves[0].error.is_none());
}

fn copy_with_patterns() -> pb::Definition {
    let mut b = DefinitionBuilder::new();
    let ctx = b.source("local://context", &[]);
    let copy = b.push(pb::Op {
        inputs: vec![bridge::llb::input(&ctx, 0)],
        op: Some(OpOneof::File(pb::FileOp {
            actions: vec![pb::FileAction {
                input: -1,
                secondary_input: 0,
                output: 0,
                action: Some(pb::file_action::Action::Copy(pb::FileActionCopy {
                    src: "/".into(),
                    dest: "/app/".into(),
                    mode: -1,
                    timestamp: -1,
                    include_patterns: strings(&["requirements.txt"]),
                    ..Default::default()
                })),
            }],
        })),
        ..Default::default()
    });
    b.finish(&copy, 0)
}

#[tokio::test]
async fn engine_gaps_are_reported() {
    for (profile, ignored) in [(CapsProfile::V0_8, 1), (CapsProfile::V0_13, 0)] {
        let out = in_process(Bridge::new().caps(profile), |mut c| async move {
            solve(&mut c, copy_with_patterns()).await;
            let mut b = DefinitionBuilder::new();
            let a = b.source("local://a", &[]);
            let z = b.source("local://b", &[]);
            let merge = b.push(pb::Op {
                inputs: vec![bridge::llb::input(&a, 0), bridge::llb::input(&z, 0)],
                op: Some(OpOneof::Merge(pb::MergeOp {
                    inputs: vec![pb::MergeInput { input: 0 }, pb::MergeInput { input: 1 }],
                })),
                ..Default::default()
            });
            let res = c.solve(solve_req(b.finish(&merge, 0))).await;
            assert_eq!(res.is_err(), profile == CapsProfile::V0_8, "{res:?}");
        })
        .await;
        assert_eq!(
            out.solves[0].ignored_by_engine.len(),
            ignored,
            "{profile:?}"
        );
        if ignored > 0 {
            assert!(out.solves[0].ignored_by_engine[0].contains("copy include/exclude patterns"));
            assert!(out.report().contains("ignored by this engine"));
        }
    }
}

#[tokio::test]
async fn empty_definitions_and_frontends() {
    let out = in_process(Bridge::new(), |mut c| async move {
        let res = c.solve(solve_req(pb::Definition::default())).await.unwrap().into_inner();
        match res.result.and_then(|r| r.result) {
            Some(gw::result::Result::Ref(r)) => assert_eq!((r.id.as_str(), r.def), ("", None)),
            other => panic!("{other:?}"),
        }
        // Old-style request: the id also comes back in the legacy field.
        let mut b = DefinitionBuilder::new();
        let src = b.source("local://context", &[]);
        let res = c
            .solve(gw::SolveRequest {
                definition: Some(b.finish(&src, 0)),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(res.r#ref, "ref-1");
        assert!(matches!(res.result.and_then(|r| r.result), Some(gw::result::Result::RefDeprecated(id)) if id == "ref-1"));

        let err = c
            .solve(gw::SolveRequest {
                frontend: "dockerfile.v0".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
        let err = c
            .solve(gw::SolveRequest {
                frontend: "dockerfile.v0".into(),
                definition: Some(local_def("context", &[])),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.message(), "cannot solve with both Definition and Frontend specified");
    })
    .await;
    assert_eq!(out.solves[0].ref_id.as_deref(), Some(""));
    assert!(out.solves[0].graph.is_none());
    assert_eq!(out.solves[2].frontend, "dockerfile.v0");
}

#[tokio::test]
async fn oversized_requests_fail_like_grpc_go() {
    let out = in_process(Bridge::new(), |mut c| async move {
        let mut b = DefinitionBuilder::new();
        let file = b.push(pb::Op {
            op: Some(OpOneof::File(pb::FileOp {
                actions: vec![pb::FileAction {
                    input: -1,
                    secondary_input: -1,
                    output: 0,
                    action: Some(pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                        path: "/big".into(),
                        mode: 0o644,
                        data: vec![b'x'; 5 << 20],
                        timestamp: -1,
                        ..Default::default()
                    })),
                }],
            })),
            ..Default::default()
        });
        let err = c.solve(solve_req(b.finish(&file, 0))).await.unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(
            err.message()
                .starts_with("grpc: received message larger than max ("),
            "{}",
            err.message()
        );
        assert!(
            err.message().ends_with(" vs. 4194304)"),
            "{}",
            err.message()
        );
    })
    .await;
    assert!(out.solves[0].request_bytes > 5 << 20);
    assert!(out.solves[0].error.is_some());
}

// ---------------------------------------------------------------------------------------------------
// ResolveImageConfig, Return, Warn, Evaluate, Inputs

const PY_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#;
const PY_DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

#[tokio::test]
async fn resolve_image_config_answers_configured_images() {
    for profile in [CapsProfile::V0_13, CapsProfile::V0_8] {
        let bridge = Bridge::new()
            .caps(profile)
            .image("python:3.12-slim", Some(PY_DIGEST), PY_CONFIG)
            .image("docker.io/library/alpine", None, "{}");
        let out = in_process(bridge, |mut c| async move {
            for (r, digest) in [
                ("python:3.12-slim", PY_DIGEST),
                ("docker.io/library/python:3.12-slim", PY_DIGEST),
                ("alpine:latest", ""),
                ("alpine", ""),
                (&format!("python@{PY_DIGEST}"), PY_DIGEST),
                (&format!("python:3.12-slim@{PY_DIGEST}"), PY_DIGEST),
            ] {
                let res = c
                    .resolve_image_config(gw::ResolveImageConfigRequest {
                        r#ref: r.into(),
                        platform: Some(pb::Platform {
                            architecture: "amd64".into(),
                            os: "linux".into(),
                            ..Default::default()
                        }),
                        resolve_mode: "default".into(),
                        log_name: format!("[internal] load metadata for {r}"),
                        ..Default::default()
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{r}: {e}"))
                    .into_inner();
                assert_eq!(res.digest, digest, "{r}");
                match profile {
                    CapsProfile::V0_8 => assert_eq!(res.r#ref, ""),
                    CapsProfile::V0_13 => {
                        assert!(res.r#ref.starts_with("docker.io/library/"), "{}", res.r#ref)
                    }
                }
                if r.starts_with("python") {
                    assert_eq!(res.config, PY_CONFIG.as_bytes());
                }
            }
            let err = c
                .resolve_image_config(gw::ResolveImageConfigRequest {
                    r#ref: "python:3.11".into(),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::NotFound);
            assert_eq!(err.message(), "docker.io/library/python:3.11: not found");
            let other_digest = format!("python:3.11@sha256:{}", "2".repeat(64));
            let err = c
                .resolve_image_config(gw::ResolveImageConfigRequest {
                    r#ref: other_digest,
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::NotFound);
            let err = c
                .resolve_image_config(gw::ResolveImageConfigRequest {
                    r#ref: "python:3.12-slim".into(),
                    resolve_mode: "sometimes".into(),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert!(err.message().contains("invalid resolvemode"));
        })
        .await;
        assert_eq!(out.resolves.len(), 9);
        assert_eq!(
            out.resolves[0].log_name,
            "[internal] load metadata for python:3.12-slim"
        );
        assert_eq!(
            out.resolves[0].platform.as_ref().unwrap().architecture,
            "amd64"
        );
    }
    assert_eq!(
        bridge::normalize_image_ref("ghcr.io/me/fe:1").unwrap(),
        "ghcr.io/me/fe:1"
    );
    assert!(bridge::normalize_image_ref("python:").is_err());
    assert_eq!(
        bridge::normalize_image_ref("localhost:5000/x").unwrap(),
        "localhost:5000/x:latest"
    );
    assert_eq!(
        bridge::normalize_image_ref(&format!("alpine@{PY_DIGEST}")).unwrap(),
        format!("docker.io/library/alpine@{PY_DIGEST}")
    );
}

#[tokio::test]
async fn return_is_checked_and_recorded_once() {
    let out = in_process(Bridge::new(), |mut c| async move {
        let id = solve(&mut c, local_def("context", &[])).await;
        let ret = |refs: gw::result::Result, meta: &[(&str, &str)]| gw::ReturnRequest {
            result: Some(gw::Result {
                result: Some(refs),
                metadata: meta
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                    .collect(),
                ..Default::default()
            }),
            error: None,
        };
        let single = |id: &str| {
            gw::result::Result::Ref(gw::Ref {
                id: id.into(),
                def: None,
            })
        };

        let err = c.r#return(ret(single("ref-7"), &[])).await.unwrap_err();
        assert_eq!(err.message(), "return reference ref-7 not found");
        let err = c.r#return(gw::ReturnRequest::default()).await.unwrap_err();
        assert_eq!(err.message(), "gateway return must be either result or err");
        let err = c
            .r#return(gw::ReturnRequest {
                result: None,
                error: Some(bollard_buildkit_proto::google::rpc::Status {
                    code: 0,
                    message: "x".into(),
                    details: vec![],
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(err.message(), "gateway return must be either result or err");

        c.r#return(ret(
            single(&id),
            &[("containerimage.config", "{\"os\":\"linux\"}")],
        ))
        .await
        .unwrap();
        let err = c.r#return(ret(single(""), &[])).await.unwrap_err();
        assert_eq!(err.message(), "gateway result is already set");
    })
    .await;
    let result = out.expect_result();
    assert_eq!(result.refs, ReturnedRefs::Single("ref-1".into()));
    assert_eq!(
        result.metadata_json("containerimage.config").unwrap()["os"],
        "linux"
    );
    assert_eq!(
        out.result_graph().unwrap().result().local_name(),
        Some("context")
    );
    assert!(out.time_to_return.is_some());
    let returns: Vec<_> = out.calls.iter().filter(|c| c.method == "Return").collect();
    assert_eq!(returns.len(), 5);
    assert!(returns[3].error.is_none());

    // An error Return, and a map of refs.
    let out = in_process(Bridge::new(), |mut c| async move {
        c.r#return(gw::ReturnRequest {
            result: None,
            error: Some(bollard_buildkit_proto::google::rpc::Status {
                code: 3,
                message: "spec.toml:5:1: unknown key `workdri`".into(),
                details: vec![],
            }),
        })
        .await
        .unwrap();
    })
    .await;
    assert_eq!(out.expect_error().code, 3);
    assert!(out.result_graph().is_none());

    let out = in_process(Bridge::new(), |mut c| async move {
        let id = solve(&mut c, local_def("context", &[])).await;
        let refs = [("linux/amd64".to_string(), gw::Ref { id, def: None })]
            .into_iter()
            .collect();
        c.r#return(gw::ReturnRequest {
            result: Some(gw::Result {
                result: Some(gw::result::Result::Refs(gw::RefMap { refs })),
                ..Default::default()
            }),
            error: None,
        })
        .await
        .unwrap();
    })
    .await;
    assert_eq!(out.result_graphs().len(), 1);
    assert!(matches!(&out.returned, Some(Returned::Ok(r)) if !r.deprecated_form));
}

#[tokio::test]
async fn warn_evaluate_and_inputs_depend_on_the_profile() {
    let input = local_def("context", &[]);
    for profile in [CapsProfile::V0_13, CapsProfile::V0_8] {
        let bridge = Bridge::new().caps(profile).input("context", input.clone());
        let out = in_process(bridge, |mut c| async move {
            let id = solve(&mut c, local_def("context", &[])).await;
            let warn = c
                .warn(gw::WarnRequest {
                    digest: "sha256:abc".into(),
                    level: 1,
                    short: b"deprecated key".to_vec(),
                    ..Default::default()
                })
                .await;
            let eval = c.evaluate(gw::EvaluateRequest { r#ref: id }).await;
            let meta = c
                .resolve_source_meta(gw::ResolveSourceMetaRequest::default())
                .await;
            let inputs = c.inputs(gw::InputsRequest {}).await.unwrap().into_inner();
            assert_eq!(inputs.definitions.len(), 1);
            assert!(meta.is_err());
            match profile {
                CapsProfile::V0_13 => {
                    warn.unwrap();
                    eval.unwrap();
                    let err = c
                        .evaluate(gw::EvaluateRequest {
                            r#ref: "ref-9".into(),
                        })
                        .await
                        .unwrap_err();
                    assert_eq!(err.message(), "no such ref: ref-9");
                }
                CapsProfile::V0_8 => {
                    let err = warn.unwrap_err();
                    assert_eq!(err.code(), Code::Unimplemented);
                    assert_eq!(
                        err.message(),
                        "unknown method Warn for service moby.buildkit.v1.frontend.LLBBridge"
                    );
                    assert_eq!(eval.unwrap_err().code(), Code::Unimplemented);
                }
            }
        })
        .await;
        let want_warnings = usize::from(profile == CapsProfile::V0_13);
        assert_eq!(out.warnings.len(), want_warnings);
    }
}

// ---------------------------------------------------------------------------------------------------
// Graph helpers

#[test]
fn graph_queries_find_ops_and_their_inputs() {
    let mut b = DefinitionBuilder::new();
    let image = b.push(pb::Op {
        op: Some(OpOneof::Source(pb::SourceOp {
            identifier: "docker-image://docker.io/library/python:3.12-slim".into(),
            attrs: Default::default(),
        })),
        platform: Some(pb::Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let reqs = b.source(
        "local://context",
        &[
            ("local.includepattern", r#"["requirements.txt"]"#),
            ("local.session", SESSION_ID),
        ],
    );
    b.metadata(&reqs, named("[internal] load requirements", &[]));
    let install = b.push_with(
        exec_op(
            &["/bin/sh", "-c", "pip install -r requirements.txt"],
            vec![
                pb::Mount {
                    input: 0,
                    dest: "/".into(),
                    output: 0,
                    ..Default::default()
                },
                pb::Mount {
                    input: 1,
                    dest: "/app".into(),
                    output: -1,
                    readonly: true,
                    ..Default::default()
                },
                pb::Mount {
                    input: -1,
                    dest: "/root/.cache/pip".into(),
                    output: -1,
                    mount_type: pb::MountType::Cache as i32,
                    cache_opt: Some(pb::CacheOpt {
                        id: "pip".into(),
                        sharing: pb::CacheSharingOpt::Locked as i32,
                    }),
                    ..Default::default()
                },
            ],
            vec![bridge::llb::input(&image, 0), bridge::llb::input(&reqs, 0)],
        ),
        Some(named("pip install", &["exec.mount.cache"])),
    );
    let ctx = b.source(
        "local://context",
        &[("local.excludepatterns", r#"["*.pyc"]"#)],
    );
    let copy = b.push_with(
        pb::Op {
            inputs: vec![bridge::llb::input(&install, 0), bridge::llb::input(&ctx, 0)],
            op: Some(OpOneof::File(pb::FileOp {
                actions: vec![pb::FileAction {
                    input: 0,
                    secondary_input: 1,
                    output: 0,
                    action: Some(pb::file_action::Action::Copy(pb::FileActionCopy {
                        src: "/".into(),
                        dest: "/app/".into(),
                        mode: -1,
                        timestamp: -1,
                        ..Default::default()
                    })),
                }],
            })),
            ..Default::default()
        },
        Some(named("copy source", &[])),
    );
    let def = b.finish(&copy, 0);
    let g = Graph::from_definition(&def).unwrap();
    g.check_caps(CapsProfile::V0_8).unwrap();

    assert_eq!(g.result().digest, copy);
    assert_eq!(g.terminal().kind(), OpKind::None);
    assert_eq!(g.nodes().count(), 6);
    let inst = g.find("pip install").unwrap();
    assert_eq!(
        inst.args(),
        ["/bin/sh", "-c", "pip install -r requirements.txt"]
    );
    assert_eq!(
        (inst.cwd(), inst.user(), inst.env_var("PIP_NO_CACHE_DIR")),
        (Some("/app"), Some("1000"), Some("1"))
    );
    let locals = g.locals_under(inst);
    assert_eq!(locals.len(), 1, "{}", g.dump());
    assert_eq!(locals[0].include_patterns(), ["requirements.txt"]);
    assert_eq!(
        g.mount_input(inst, inst.mount("/app").unwrap())
            .unwrap()
            .digest,
        reqs
    );
    assert!(
        g.mount_input(inst, inst.mount("/root/.cache/pip").unwrap())
            .is_none()
    );
    assert_eq!(g.locals().len(), 2);
    assert_eq!(g.sources().len(), 3);
    assert_eq!(g.execs().len(), 1);
    assert_eq!(g.reachable().len(), 5);
    let copy_node = &g.named("copy source")[0];
    assert!(
        matches!(g.action_input(copy_node, 1), ActionInput::Op(n, 0) if n.local_name() == Some("context"))
    );
    assert!(matches!(
        g.action_input(copy_node, 2),
        ActionInput::Action(0)
    ));
    assert!(matches!(
        g.action_input(copy_node, -1),
        ActionInput::Scratch
    ));
    assert!(matches!(
        g.action_input(copy_node, 9),
        ActionInput::Invalid(9)
    ));
    let dump = g.dump();
    assert!(
        dump.contains("exec [\"/bin/sh\", \"-c\", \"pip install -r requirements.txt\"]"),
        "{dump}"
    );
    assert!(dump.contains("copy / -> /app/"), "{dump}");
    assert!(dump.contains("CACHE id=pip sharing=2"), "{dump}");
}

// ---------------------------------------------------------------------------------------------------
// Child processes. The "frontend" is this test binary re-executed in child mode. libtest prints to
// stdout before any test runs, so a shell wrapper moves stdout to fd 3 and points fd 1 at stderr; the
// child speaks HTTP/2 on fd 0 / fd 3.

const CHILD_MODE: &str = "BRIDGE_SELFTEST_CHILD";

fn run_self_as_child(bridge: Bridge, mode: &str) -> Outcome {
    let exe = std::env::current_exe().expect("current_exe");
    let exe = exe.to_str().expect("utf-8 test binary path");
    bridge.env(CHILD_MODE, mode).run(
        Path::new("/bin/sh"),
        &[
            "-c",
            r#"exec "$0" --exact child_frontend --nocapture --test-threads=1 3>&1 1>&2"#,
            exe,
        ],
    )
}

/// Entry point of the child mode; a no-op in a normal test run.
#[test]
fn child_frontend() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let code = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(child_main(&mode)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("child frontend failed: {e}");
                2
            }
        },
        Err(e) => {
            eprintln!("runtime: {e}");
            2
        }
    };
    std::process::exit(code);
}

async fn child_main(mode: &str) -> Result<(), Box<dyn std::error::Error>> {
    // Reopen the pipes (new open file descriptions), so non-blocking mode stays ours.
    let rx = tokio::net::unix::pipe::Receiver::from_file(std::fs::File::open("/proc/self/fd/0")?)?;
    let tx = tokio::net::unix::pipe::Sender::from_file(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/proc/self/fd/3")?,
    )?;
    let mut c = connect(tokio::io::join(rx, tx)).await;

    let pong = c.ping(gw::PingRequest {}).await?.into_inner();
    let mut meta: HashMap<String, Vec<u8>> = HashMap::new();
    for key in [
        "BUILDKIT_FRONTEND_OPT_0",
        "BUILDKIT_SESSION_ID",
        "BUILDKIT_WORKERS",
        "HOME",
    ] {
        meta.insert(
            format!("env.{key}"),
            std::env::var(key).unwrap_or_default().into_bytes(),
        );
    }
    meta.insert(
        "cwd".into(),
        std::env::current_dir()?.display().to_string().into_bytes(),
    );
    meta.insert("caps".into(), pong.llb_caps.len().to_string().into_bytes());
    meta.insert(
        "leaked_env".into(),
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_default()
            .into_bytes(),
    );

    let session = std::env::var("BUILDKIT_SESSION_ID")?;
    let def = local_def(
        "context",
        &[
            ("local.includepattern", r#"["hello.txt"]"#),
            ("local.session", session.as_str()),
        ],
    );
    let id = solve(&mut c, def).await;
    meta.insert("hello".into(), read(&mut c, &id, "hello.txt").await?);
    c.r#return(gw::ReturnRequest {
        result: Some(gw::Result {
            result: Some(gw::result::Result::Ref(gw::Ref { id, def: None })),
            metadata: meta,
            ..Default::default()
        }),
        error: None,
    })
    .await?;
    if mode == "slow-exit" {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

#[test]
fn child_process_round_trip() {
    let dir = TempDir::new("child");
    dir.write("hello.txt", "hello from the context\n");
    dir.write("secret.txt", "not included\n");
    let bridge = Bridge::new()
        .opt("filename", "strata.toml")
        .local("context", dir.path());
    let out = run_self_as_child(bridge, "slow-exit");
    assert!(out.succeeded(), "{}", out.report());
    let r = out.expect_result();
    let meta = |k: &str| r.metadata_str(k).unwrap_or_default();
    assert_eq!(meta("hello"), "hello from the context\n");
    assert_eq!(meta("env.BUILDKIT_FRONTEND_OPT_0"), "filename=strata.toml");
    assert_eq!(meta("env.BUILDKIT_SESSION_ID"), SESSION_ID);
    assert!(meta("env.BUILDKIT_WORKERS").contains("\"buildkitVersion\""));
    assert_eq!(meta("env.HOME"), "/");
    assert_eq!(meta("cwd"), "/");
    assert_eq!(meta("caps"), "63");
    assert_eq!(
        meta("leaked_env"),
        "",
        "the child must not inherit the test's environment"
    );

    assert_eq!(out.calls[0].method, "Ping");
    assert_eq!(out.calls.last().map(|c| c.method), Some("Return"));
    assert!(out.time_to_return.unwrap() < out.wall_time);
    let after = out.exit_after_return.unwrap();
    assert!(after >= Duration::from_millis(300), "{after:?}");
    assert!(after < Duration::from_secs(10), "{after:?}");
    let rss = out.peak_rss_kib.unwrap();
    assert!(rss > 1024 && rss < 1 << 22, "peak RSS {rss} KiB");
    // libtest's chatter went to stderr, which the harness captured.
    assert!(out.stderr.contains("running 1 test"), "{}", out.stderr);
}

#[test]
fn child_that_hangs_is_killed_at_the_timeout() {
    let started = std::time::Instant::now();
    let out = Bridge::new()
        .timeout(Duration::from_millis(300))
        .run(Path::new("/bin/sh"), &["-c", "sleep 30; exit 0"]);
    assert!(out.timed_out, "{}", out.report());
    assert_eq!((out.exit_code, out.signal), (None, Some(9)));
    assert!(out.returned.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the harness waited for the orphaned sleep"
    );
}

#[test]
fn child_exit_status_without_return() {
    let out = Bridge::new().run(Path::new("/bin/sh"), &["-c", "echo oops >&2; exit 3"]);
    assert_eq!(out.exit_code, Some(3), "{}", out.report());
    assert!(!out.timed_out && out.returned.is_none() && out.calls.is_empty());
    // Exiting without ever connecting is not a transport error.
    assert!(out.transport_error.is_none(), "{:?}", out.transport_error);
    assert_eq!(out.stderr, "oops\n");
    assert!(!out.succeeded());
}

#[test]
fn child_writing_text_to_stdout_breaks_the_transport() {
    let out = Bridge::new().run(
        Path::new("/bin/sh"),
        &["-c", "echo 'Hello, world!'; sleep 1"],
    );
    assert!(out.transport_error.is_some(), "{}", out.report());
    assert_eq!(out.exit_code, Some(0));
    assert!(!out.succeeded());
}

#[test]
fn missing_binary_is_a_harness_error() {
    let out = Bridge::new().run(Path::new("/nonexistent/strata"), &[]);
    assert!(
        out.harness_error
            .as_deref()
            .unwrap()
            .contains("cannot spawn"),
        "{out:?}"
    );
    assert!(!out.succeeded());
}
