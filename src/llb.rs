//! A small typed builder over BuildKit's LLB protobuf types: sources, exec and file ops, digests,
//! and `Definition` marshalling. Ops are content-addressed (`sha256` of their encoded bytes), so
//! identical ops are stored once, and the definition lists only the ops the result depends on,
//! inputs first, in a deterministic order. Knows nothing about recipes or plans.

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::pb;
use prost::Message;
use sha2::{Digest, Sha256};

/// One output of an op: what later ops take as input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub digest: String,
    pub index: i64,
}

/// How an op shows up in progress output and in error snippets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vertex {
    /// The progress line (`llb.customname`).
    pub name: String,
    /// `--no-cache`: recompute even when a cache record exists.
    pub ignore_cache: bool,
    /// 1-based (line, column) ranges in source file 0 (the spec), for error snippets.
    pub location: Option<((i32, i32), (i32, i32))>,
}

impl Vertex {
    pub fn named(name: impl Into<String>) -> Vertex {
        Vertex {
            name: name.into(),
            ..Vertex::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraMount {
    Cache {
        target: String,
        id: String,
        sharing: pb::CacheSharingOpt,
    },
    SecretFile {
        target: String,
        id: String,
        required: bool,
    },
    /// The client's SSH agent socket; skipped when the client forwards none.
    SshAgent { target: String, id: String },
}

/// An exec op: a command over a root filesystem, with cache and secret mounts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exec {
    pub root: Option<State>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub mounts: Vec<ExtraMount>,
    /// Secrets exposed as environment variables (`exec.secretenv`, BuildKit v0.12+).
    pub secret_env: Vec<(String, String, bool)>,
    pub network: i32,
    pub platform: Option<pb::Platform>,
    pub proxy_env: Option<pb::ProxyEnv>,
    pub extra_hosts: Vec<(String, String)>,
    pub hostname: String,
    /// Removes the empty mount-point directories cache mounts leave behind (BuildKit v0.11+).
    pub remove_mount_stubs: bool,
}

struct Node {
    bytes: Vec<u8>,
    inputs: Vec<String>,
    metadata: pb::OpMetadata,
    location: Option<((i32, i32), (i32, i32))>,
}

#[derive(Default)]
pub struct Graph {
    nodes: BTreeMap<String, Node>,
}

pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    fn add(&mut self, op: pb::Op, vertex: Vertex) -> String {
        let bytes = op.encode_to_vec();
        let digest = digest_of(&bytes);
        let inputs = op.inputs.iter().map(|i| i.digest.clone()).collect();
        let mut metadata = pb::OpMetadata {
            ignore_cache: vertex.ignore_cache,
            ..Default::default()
        };
        if !vertex.name.is_empty() {
            metadata
                .description
                .insert("llb.customname".into(), vertex.name);
        }
        self.nodes.entry(digest.clone()).or_insert(Node {
            bytes,
            inputs,
            metadata,
            location: vertex.location,
        });
        digest
    }

    pub fn source(
        &mut self,
        identifier: &str,
        attrs: BTreeMap<String, String>,
        platform: Option<pb::Platform>,
        vertex: Vertex,
    ) -> State {
        let op = pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: identifier.to_string(),
                attrs,
            })),
            platform,
            // Go's LLB always writes (empty) constraints: ops equal to the ones other frontends
            // send are then equal for BuildKit too, and solved once.
            constraints: Some(pb::WorkerConstraints::default()),
            ..Default::default()
        };
        State {
            digest: self.add(op, vertex),
            index: 0,
        }
    }

    pub fn exec(&mut self, exec: Exec, vertex: Vertex) -> State {
        let mut inputs = Vec::new();
        // The root mount first (BuildKit requires a `/` mount; Go's client sorts it first too).
        let root_input = match &exec.root {
            Some(s) => {
                inputs.push(pb::Input {
                    digest: s.digest.clone(),
                    index: s.index,
                });
                0
            }
            None => -1,
        };
        let mut mounts = vec![pb::Mount {
            input: root_input,
            dest: "/".into(),
            output: 0,
            ..Default::default()
        }];
        for m in &exec.mounts {
            mounts.push(match m {
                ExtraMount::Cache {
                    target,
                    id,
                    sharing,
                } => pb::Mount {
                    input: -1,
                    dest: target.clone(),
                    output: -1,
                    mount_type: pb::MountType::Cache as i32,
                    cache_opt: Some(pb::CacheOpt {
                        id: id.clone(),
                        sharing: *sharing as i32,
                    }),
                    ..Default::default()
                },
                ExtraMount::SecretFile {
                    target,
                    id,
                    required,
                } => pb::Mount {
                    input: -1,
                    dest: target.clone(),
                    output: -1,
                    mount_type: pb::MountType::Secret as i32,
                    secret_opt: Some(pb::SecretOpt {
                        id: id.clone(),
                        uid: 0,
                        gid: 0,
                        mode: 0o400,
                        optional: !required,
                    }),
                    ..Default::default()
                },
                ExtraMount::SshAgent { target, id } => pb::Mount {
                    input: -1,
                    dest: target.clone(),
                    output: -1,
                    mount_type: pb::MountType::Ssh as i32,
                    ssh_opt: Some(pb::SshOpt {
                        id: id.clone(),
                        uid: 0,
                        gid: 0,
                        mode: 0o600,
                        optional: true,
                    }),
                    ..Default::default()
                },
            });
        }
        let op = pb::Op {
            inputs,
            op: Some(pb::op::Op::Exec(pb::ExecOp {
                meta: Some(pb::Meta {
                    args: exec.args,
                    env: exec.env,
                    cwd: exec.cwd,
                    user: exec.user,
                    proxy_env: exec.proxy_env,
                    extra_hosts: exec
                        .extra_hosts
                        .into_iter()
                        .map(|(host, ip)| pb::HostIp { host, ip })
                        .collect(),
                    hostname: exec.hostname,
                    remove_mount_stubs_recursive: exec.remove_mount_stubs,
                    ..Default::default()
                }),
                mounts,
                network: exec.network,
                secretenv: exec
                    .secret_env
                    .into_iter()
                    .map(|(id, name, required)| pb::SecretEnv {
                        id,
                        name,
                        optional: !required,
                    })
                    .collect(),
                ..Default::default()
            })),
            platform: exec.platform,
            ..Default::default()
        };
        State {
            digest: self.add(op, vertex),
            index: 0,
        }
    }

    /// Copies `copy.src` of `from` onto `onto` (the result is `onto` plus the copied files).
    pub fn copy(
        &mut self,
        onto: &State,
        from: &State,
        copy: pb::FileActionCopy,
        vertex: Vertex,
    ) -> State {
        let op = pb::Op {
            inputs: vec![
                pb::Input {
                    digest: onto.digest.clone(),
                    index: onto.index,
                },
                pb::Input {
                    digest: from.digest.clone(),
                    index: from.index,
                },
            ],
            op: Some(pb::op::Op::File(pb::FileOp {
                actions: vec![pb::FileAction {
                    input: 0,
                    secondary_input: 1,
                    output: 0,
                    action: Some(pb::file_action::Action::Copy(copy)),
                }],
            })),
            ..Default::default()
        };
        State {
            digest: self.add(op, vertex),
            index: 0,
        }
    }

    /// One file op on `onto`: `copies` out of `from`, then `then` (files to make), each action
    /// acting on the previous one's result.
    pub fn copy_then(
        &mut self,
        onto: &State,
        from: &State,
        copies: Vec<pb::FileActionCopy>,
        then: Vec<pb::file_action::Action>,
        vertex: Vertex,
    ) -> State {
        let actions: Vec<(pb::file_action::Action, i64)> = copies
            .into_iter()
            .map(|c| (pb::file_action::Action::Copy(c), 1))
            .chain(then.into_iter().map(|a| (a, -1)))
            .collect();
        let last = actions.len().saturating_sub(1);
        let actions = actions
            .into_iter()
            .enumerate()
            .map(|(i, (action, secondary_input))| pb::FileAction {
                // The first acts on input 0; each later one on the output before it, which
                // BuildKit numbers after the two inputs.
                input: if i == 0 { 0 } else { i as i64 + 1 },
                secondary_input,
                output: if i == last { 0 } else { -1 },
                action: Some(action),
            })
            .collect();
        let op = pb::Op {
            inputs: [onto, from]
                .into_iter()
                .map(|s| pb::Input {
                    digest: s.digest.clone(),
                    index: s.index,
                })
                .collect(),
            op: Some(pb::op::Op::File(pb::FileOp { actions })),
            ..Default::default()
        };
        State {
            digest: self.add(op, vertex),
            index: 0,
        }
    }

    /// A chain of file actions on `onto`, each acting on the previous one's result.
    pub fn file(
        &mut self,
        onto: &State,
        actions: Vec<pb::file_action::Action>,
        vertex: Vertex,
    ) -> State {
        let actions = actions
            .into_iter()
            .enumerate()
            .map(|(i, action)| pb::FileAction {
                // The first acts on the input; each later one on the output before it (BuildKit
                // numbers those after the inputs).
                input: if i == 0 { 0 } else { i as i64 },
                secondary_input: -1,
                output: -1,
                action: Some(action),
            })
            .collect::<Vec<_>>();
        let last = actions.len().saturating_sub(1);
        let actions = actions
            .into_iter()
            .enumerate()
            .map(|(i, mut a)| {
                if i == last {
                    a.output = 0;
                }
                a
            })
            .collect();
        let op = pb::Op {
            inputs: vec![pb::Input {
                digest: onto.digest.clone(),
                index: onto.index,
            }],
            op: Some(pb::op::Op::File(pb::FileOp { actions })),
            ..Default::default()
        };
        State {
            digest: self.add(op, vertex),
            index: 0,
        }
    }

    /// Adds the ops of a definition made elsewhere (a frontend input) and returns its result, or
    /// `None` when the definition is empty or malformed.
    pub fn import(&mut self, def: &pb::Definition) -> Option<State> {
        let (terminal, ops) = def.def.split_last()?;
        for bytes in ops {
            let op = pb::Op::decode(bytes.as_slice()).ok()?;
            let digest = digest_of(bytes);
            let metadata = def.metadata.get(&digest).cloned().unwrap_or_default();
            self.nodes.entry(digest).or_insert(Node {
                bytes: bytes.clone(),
                inputs: op.inputs.iter().map(|i| i.digest.clone()).collect(),
                metadata,
                location: None,
            });
        }
        let terminal = pb::Op::decode(terminal.as_slice()).ok()?;
        let input = terminal.inputs.first()?;
        self.nodes.contains_key(&input.digest).then(|| State {
            digest: input.digest.clone(),
            index: input.index,
        })
    }

    /// The definition of `result`: every op it depends on (inputs before their users), then the
    /// terminal op BuildKit expects last. `sources[0]` is the file vertex locations refer to.
    pub fn definition(&self, result: &State, sources: Vec<pb::SourceInfo>) -> pb::Definition {
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        self.visit(&result.digest, &mut seen, &mut order);
        let mut def = pb::Definition::default();
        let mut locations = BTreeMap::new();
        let mut remarshalled = BTreeMap::new();
        for digest in &order {
            let node = &self.nodes[*digest];
            def.def.push(node.bytes.clone());
            def.metadata
                .insert((*digest).clone(), node.metadata.clone());
            let oneof_last = oneof_last_digest(&node.bytes, &remarshalled);
            if let (Some(((l1, c1), (l2, c2))), false) = (node.location, sources.is_empty()) {
                let located = pb::Locations {
                    locations: vec![pb::Location {
                        source_index: 0,
                        ranges: vec![pb::Range {
                            start: Some(pb::Position {
                                line: l1,
                                character: c1,
                            }),
                            end: Some(pb::Position {
                                line: l2,
                                character: c2,
                            }),
                        }],
                    }],
                };
                if let Some(other) = oneof_last.as_ref().filter(|d| d != digest) {
                    locations.insert(other.clone(), located.clone());
                }
                locations.insert((*digest).clone(), located);
            }
            if let Some(other) = oneof_last {
                remarshalled.insert((*digest).clone(), other);
            }
        }
        let terminal = pb::Op {
            inputs: vec![pb::Input {
                digest: result.digest.clone(),
                index: result.index,
            }],
            ..Default::default()
        };
        def.def.push(terminal.encode_to_vec());
        if !locations.is_empty() {
            def.source = Some(pb::Source {
                locations,
                infos: sources,
            });
        }
        def
    }

    fn visit<'a>(
        &'a self,
        digest: &'a String,
        seen: &mut BTreeSet<&'a str>,
        order: &mut Vec<&'a String>,
    ) {
        if !seen.insert(digest.as_str()) {
            return;
        }
        if let Some(node) = self.nodes.get(digest) {
            for input in &node.inputs {
                self.visit(input, seen, order);
            }
            order.push(digest);
        }
    }
}

/// The digest BuildKit v0.17 and later give an op of this definition. BuildKit decodes every op
/// and names it by the digest of its own re-encoding, and looks a failed op's spec location up
/// under that name. Up to v0.16 (gogo protobuf) the re-encoding writes fields in number order, as
/// prost does, so the digest is unchanged; since v0.17 (vtprotobuf) it writes the `op` oneof
/// (exec, source, file…) after `platform` and `constraints`, which changes the digest of every
/// op with a platform or constraints, and, through their inputs, of every op above them. The
/// source map lists a location under both names, so every engine finds it. `renamed` maps the
/// inputs' digests to their re-encoded ones. `None` for bytes that do not decode.
fn oneof_last_digest(bytes: &[u8], renamed: &BTreeMap<String, String>) -> Option<String> {
    let mut op = pb::Op::decode(bytes).ok()?;
    for input in &mut op.inputs {
        if let Some(d) = renamed.get(&input.digest) {
            input.digest = d.clone();
        }
    }
    let oneof = pb::Op {
        op: op.op.take(),
        ..Default::default()
    };
    let mut encoded = op.encode_to_vec();
    encoded.extend(oneof.encode_to_vec());
    Some(digest_of(&encoded))
}

/// The largest source file (the spec) attached to a definition's source map or an error's
/// details: BuildKit v0.13 and older refuse gRPC messages over 4 MiB, and the spec rides whole in
/// both. Larger specs still build; their errors lose the snippet, not the location.
pub const MAX_ATTACHED_SOURCE: usize = 1 << 20;

/// The copy options of a Dockerfile `COPY` from a context: follow the source symlink, copy a
/// directory's contents, create the destination, keep modes and timestamps.
pub fn copy_action(src: &str, dest: &str) -> pb::FileActionCopy {
    pb::FileActionCopy {
        src: src.to_string(),
        dest: dest.to_string(),
        mode: -1,
        timestamp: -1,
        follow_symlink: true,
        dir_copy_contents: true,
        create_dest_path: true,
        allow_wildcard: true,
        allow_empty_wildcard: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_lists_dependencies_first_once_and_ends_with_terminal() {
        let mut g = Graph::new();
        let img = g.source(
            "docker-image://docker.io/library/alpine:3",
            BTreeMap::new(),
            None,
            Vertex::named("img"),
        );
        let ctx = g.source(
            "local://context",
            BTreeMap::new(),
            None,
            Vertex::named("ctx"),
        );
        // Adding the same op twice yields the same state.
        let again = g.source(
            "local://context",
            BTreeMap::new(),
            None,
            Vertex::named("ctx"),
        );
        assert_eq!(ctx, again);
        let copied = g.copy(&img, &ctx, copy_action("/", "/app/"), Vertex::named("copy"));
        let unused = g.source(
            "docker-image://docker.io/library/busybox:1",
            BTreeMap::new(),
            None,
            Vertex::default(),
        );
        let def = g.definition(&copied, Vec::new());
        assert_eq!(
            def.def.len(),
            4,
            "img, ctx, copy, terminal; the unused op is left out"
        );
        assert!(!def.metadata.contains_key(&unused.digest));
        let digests: Vec<String> = def.def.iter().map(|b| digest_of(b)).collect();
        assert_eq!(digests[2], copied.digest);
        let terminal = pb::Op::decode(def.def[3].as_slice()).unwrap();
        assert!(terminal.op.is_none());
        assert_eq!(terminal.inputs[0].digest, copied.digest);
        assert_eq!(
            def.metadata[&copied.digest].description["llb.customname"],
            "copy"
        );
    }
}

#[cfg(test)]
mod source_map_tests {
    use super::*;

    /// A spec-located exec on an image with a platform, and its definition.
    fn located_exec() -> (pb::Definition, String) {
        let mut g = Graph::new();
        let platform = pb::Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        };
        let image = g.source(
            "docker-image://docker.io/library/alpine:3",
            BTreeMap::new(),
            Some(platform.clone()),
            Vertex::named("image"),
        );
        let step = g.exec(
            Exec {
                root: Some(image),
                args: vec!["/bin/sh".into(), "-c".into(), "exit 3".into()],
                cwd: "/".into(),
                platform: Some(platform),
                ..Default::default()
            },
            Vertex {
                name: "install".into(),
                location: Some(((5, 1), (5, 20))),
                ..Vertex::default()
            },
        );
        let spec = pb::SourceInfo {
            filename: "strata.toml".into(),
            data: b"spec".to_vec(),
            definition: None,
            language: "TOML".into(),
        };
        let def = g.definition(&step, vec![spec]);
        (def, step.digest)
    }

    /// The digest BuildKit v0.25.2 names the failing exec by: its `pb.Op.Marshal` (vtprotobuf)
    /// applied to each op the way `llbsolver.loadLLB` recomputes digests (inputs first, each
    /// input renamed), run in Go on this very definition. Before Strata listed locations under
    /// it, buildx on Docker 28 printed no spec line for a failed step.
    const BUILDKIT_V0_25_EXEC_DIGEST: &str =
        "sha256:8ff26b854380a1da666f705a544f02ea19100537570e1168f8072c4cf412c23e";

    fn location_of<'a>(def: &'a pb::Definition, digest: &str) -> Option<&'a pb::Locations> {
        def.source.as_ref()?.locations.get(digest)
    }

    #[test]
    fn a_located_step_is_found_under_the_digest_buildkit_v0_17_and_later_give_it() {
        let (def, _) = located_exec();
        let loc = location_of(&def, BUILDKIT_V0_25_EXEC_DIGEST)
            .expect("the exec's location under BuildKit v0.25's digest");
        let range = &loc.locations[0].ranges[0];
        assert_eq!(
            range.start.as_ref().map(|p| (p.line, p.character)),
            Some((5, 1))
        );
        assert_eq!(
            range.end.as_ref().map(|p| (p.line, p.character)),
            Some((5, 20))
        );
    }

    #[test]
    fn a_located_step_is_still_found_under_its_own_digest_for_buildkit_v0_16_and_older() {
        // Up to v0.16 BuildKit re-encodes an op into the bytes Strata wrote: same digest.
        let (def, exec) = located_exec();
        assert!(def.def.iter().any(|op| digest_of(op) == exec));
        assert!(location_of(&def, &exec).is_some());
        // Only located ops are listed: the exec under its two names, nothing else.
        assert_eq!(def.source.as_ref().map(|s| s.locations.len()), Some(2));
    }
}
