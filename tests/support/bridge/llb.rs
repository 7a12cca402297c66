//! Decoding and checking LLB `Definition`s the way BuildKit's loader does (solver/llbsolver/vertex.go
//! `loadLLB`, ops/opsutils `Validate`), plus a small query API for test assertions and a builder for
//! hand-made definitions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use bollard_buildkit_proto::pb;
use bollard_buildkit_proto::pb::op::Op as OpKindProto;
use prost::Message;
use sha2::{Digest as _, Sha256};

use super::caps::CapsProfile;

/// `"sha256:" + hex(sha256(bytes))`, the op id BuildKit computes from the exact bytes in `def`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Source,
    Exec,
    File,
    Build,
    Merge,
    Diff,
    /// No `op` oneof: only valid as the terminal op.
    None,
}

/// One decoded op with its metadata.
#[derive(Clone, Debug)]
pub struct Node {
    pub digest: String,
    pub op: pb::Op,
    /// `Definition.metadata[digest]`, or the default when there is none.
    pub metadata: pb::OpMetadata,
    /// Size of the op's bytes in `def`.
    pub encoded_len: usize,
}

impl Node {
    pub fn kind(&self) -> OpKind {
        match &self.op.op {
            Some(OpKindProto::Source(_)) => OpKind::Source,
            Some(OpKindProto::Exec(_)) => OpKind::Exec,
            Some(OpKindProto::File(_)) => OpKind::File,
            Some(OpKindProto::Build(_)) => OpKind::Build,
            Some(OpKindProto::Merge(_)) => OpKind::Merge,
            Some(OpKindProto::Diff(_)) => OpKind::Diff,
            None => OpKind::None,
        }
    }

    /// The progress name (`llb.customname` description).
    pub fn name(&self) -> Option<&str> {
        self.description("llb.customname")
    }

    pub fn description(&self, key: &str) -> Option<&str> {
        self.metadata.description.get(key).map(String::as_str)
    }

    /// Keys of `OpMetadata.caps`.
    pub fn caps(&self) -> Vec<&str> {
        self.metadata.caps.keys().map(String::as_str).collect()
    }

    pub fn input_digests(&self) -> Vec<&str> {
        self.op.inputs.iter().map(|i| i.digest.as_str()).collect()
    }

    pub fn platform(&self) -> Option<&pb::Platform> {
        self.op.platform.as_ref()
    }

    pub fn source(&self) -> Option<&pb::SourceOp> {
        match &self.op.op {
            Some(OpKindProto::Source(s)) => Some(s),
            _ => None,
        }
    }

    /// SourceOp identifier, e.g. `local://context` or `docker-image://docker.io/library/alpine:3.20`.
    pub fn identifier(&self) -> Option<&str> {
        self.source().map(|s| s.identifier.as_str())
    }

    pub fn attr(&self, key: &str) -> Option<&str> {
        self.source()?.attrs.get(key).map(String::as_str)
    }

    /// A JSON-array source attribute such as `local.includepattern`. `Some(Err)` when it is not valid JSON.
    pub fn attr_list(&self, key: &str) -> Option<Result<Vec<String>, String>> {
        self.attr(key).map(|v| {
            serde_json::from_str(v)
                .map_err(|e| format!("{key} is not a JSON string array: {e}: {v}"))
        })
    }

    /// `name` for a `local://name` source.
    pub fn local_name(&self) -> Option<&str> {
        self.identifier()?.strip_prefix("local://")
    }

    /// The reference for a `docker-image://` source.
    pub fn image_ref(&self) -> Option<&str> {
        self.identifier()?.strip_prefix("docker-image://")
    }

    /// `local.includepattern`, empty when absent or invalid.
    pub fn include_patterns(&self) -> Vec<String> {
        self.attr_list("local.includepattern")
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// `local.excludepatterns`, empty when absent or invalid.
    pub fn exclude_patterns(&self) -> Vec<String> {
        self.attr_list("local.excludepatterns")
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// `local.followpaths`, empty when absent or invalid.
    pub fn follow_paths(&self) -> Vec<String> {
        self.attr_list("local.followpaths")
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    pub fn exec(&self) -> Option<&pb::ExecOp> {
        match &self.op.op {
            Some(OpKindProto::Exec(e)) => Some(e),
            _ => None,
        }
    }

    fn meta(&self) -> Option<&pb::Meta> {
        self.exec()?.meta.as_ref()
    }

    /// Exec args (empty for other ops).
    pub fn args(&self) -> &[String] {
        self.meta().map_or(&[], |m| m.args.as_slice())
    }

    /// Exec env as `K=V` strings (empty for other ops).
    pub fn env(&self) -> &[String] {
        self.meta().map_or(&[], |m| m.env.as_slice())
    }

    /// Value of one exec env variable.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env()
            .iter()
            .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }

    pub fn cwd(&self) -> Option<&str> {
        self.meta().map(|m| m.cwd.as_str())
    }

    pub fn user(&self) -> Option<&str> {
        self.meta().map(|m| m.user.as_str())
    }

    pub fn mounts(&self) -> &[pb::Mount] {
        self.exec().map_or(&[], |e| e.mounts.as_slice())
    }

    /// The mount at `dest`.
    pub fn mount(&self, dest: &str) -> Option<&pb::Mount> {
        self.mounts().iter().find(|m| m.dest == dest)
    }

    pub fn file_actions(&self) -> &[pb::FileAction] {
        match &self.op.op {
            Some(OpKindProto::File(f)) => f.actions.as_slice(),
            _ => &[],
        }
    }

    /// One-line summary used by [`Graph::dump`] and in assertion messages.
    pub fn summary(&self) -> String {
        let short = self.digest.get(7..19).unwrap_or(&self.digest);
        let mut s = format!("{short} ");
        match &self.op.op {
            Some(OpKindProto::Source(src)) => {
                let _ = write!(s, "source {}", src.identifier);
                for (k, v) in &src.attrs {
                    let _ = write!(s, " {k}={v}");
                }
            }
            Some(OpKindProto::Exec(e)) => {
                let meta = e.meta.clone().unwrap_or_default();
                let _ = write!(
                    s,
                    "exec {:?} cwd={:?} user={:?} env={:?}",
                    meta.args, meta.cwd, meta.user, meta.env
                );
                for m in &e.mounts {
                    let _ = write!(s, " [{}", m.dest);
                    let _ = write!(s, " in={} out={}", m.input, m.output);
                    if m.mount_type != 0 {
                        let t = pb::MountType::try_from(m.mount_type)
                            .map(|t| t.as_str_name())
                            .unwrap_or("?");
                        let _ = write!(s, " {t}");
                    }
                    if let Some(c) = &m.cache_opt {
                        let _ = write!(s, " id={} sharing={}", c.id, c.sharing);
                    }
                    if !m.selector.is_empty() {
                        let _ = write!(s, " sel={}", m.selector);
                    }
                    if m.readonly {
                        s.push_str(" ro");
                    }
                    s.push(']');
                }
            }
            Some(OpKindProto::File(f)) => {
                s.push_str("file");
                for a in &f.actions {
                    let _ = write!(s, " [{}<-{}/{} ", a.output, a.input, a.secondary_input);
                    match &a.action {
                        Some(pb::file_action::Action::Copy(c)) => {
                            let _ = write!(s, "copy {} -> {}", c.src, c.dest);
                            if !c.include_patterns.is_empty() {
                                let _ = write!(s, " include={:?}", c.include_patterns);
                            }
                            if !c.exclude_patterns.is_empty() {
                                let _ = write!(s, " exclude={:?}", c.exclude_patterns);
                            }
                        }
                        Some(pb::file_action::Action::Mkfile(m)) => {
                            let _ = write!(s, "mkfile {} ({} bytes)", m.path, m.data.len());
                        }
                        Some(pb::file_action::Action::Mkdir(m)) => {
                            let _ = write!(s, "mkdir {}", m.path);
                        }
                        Some(pb::file_action::Action::Rm(r)) => {
                            let _ = write!(s, "rm {}", r.path);
                        }
                        Some(pb::file_action::Action::Symlink(l)) => {
                            let _ = write!(s, "symlink {} -> {}", l.newpath, l.oldpath);
                        }
                        None => s.push_str("(none)"),
                    }
                    s.push(']');
                }
            }
            Some(OpKindProto::Merge(_)) => s.push_str("merge"),
            Some(OpKindProto::Diff(_)) => s.push_str("diff"),
            Some(OpKindProto::Build(_)) => s.push_str("build"),
            None => s.push_str("terminal"),
        }
        let inputs: Vec<String> = self
            .op
            .inputs
            .iter()
            .map(|i| format!("{}:{}", i.digest.get(7..19).unwrap_or(&i.digest), i.index))
            .collect();
        if !inputs.is_empty() {
            let _ = write!(s, " inputs=[{}]", inputs.join(", "));
        }
        if let Some(n) = self.name() {
            let _ = write!(s, " name={n:?}");
        }
        s
    }
}

/// What a FileAction index refers to.
#[derive(Clone, Copy, Debug)]
pub enum ActionInput<'a> {
    /// `-1`.
    Scratch,
    /// An op input, with the output index taken from it.
    Op(&'a Node, i64),
    /// The result of an earlier action of the same FileOp.
    Action(usize),
    /// Out of range.
    Invalid(i64),
}

/// A decoded, loader-checked Definition.
#[derive(Clone, Debug)]
pub struct Graph {
    nodes: BTreeMap<String, Node>,
    /// Distinct digests in the order of `def`.
    order: Vec<String>,
    terminal: String,
}

impl Graph {
    /// Decodes a Definition and applies BuildKit's loader checks: every entry decodes as `pb.Op`, every
    /// input digest names an op of the definition, at least two distinct ops, the last op has inputs, and
    /// every op the result depends on passes `opsutils.Validate`. Stricter than BuildKit: the terminal op
    /// must have exactly one input and no op (BuildKit silently uses `inputs[0]`; Go always emits this).
    pub fn from_definition(def: &pb::Definition) -> Result<Graph, String> {
        if def.def.is_empty() {
            return Err("invalid empty definition".into());
        }
        let mut nodes = BTreeMap::new();
        let mut order = Vec::new();
        let mut last = String::new();
        for bytes in &def.def {
            let op = pb::Op::decode(bytes.as_slice())
                .map_err(|e| format!("failed to parse llb proto op: {e}"))?;
            let digest = digest_of(bytes);
            if !nodes.contains_key(&digest) {
                order.push(digest.clone());
                nodes.insert(
                    digest.clone(),
                    Node {
                        digest: digest.clone(),
                        op,
                        metadata: def.metadata.get(&digest).cloned().unwrap_or_default(),
                        encoded_len: bytes.len(),
                    },
                );
            }
            last = digest;
        }
        for node in nodes.values() {
            for input in &node.op.inputs {
                if !nodes.contains_key(&input.digest) {
                    return Err(format!("invalid missing input digest {}", input.digest));
                }
            }
        }
        if nodes.len() < 2 {
            return Err(format!("invalid LLB with {} vertexes", nodes.len()));
        }
        let graph = Graph {
            nodes,
            order,
            terminal: last,
        };
        let terminal = graph.terminal();
        if terminal.op.inputs.is_empty() {
            return Err("invalid LLB with no inputs on last vertex".into());
        }
        if terminal.op.inputs.len() != 1 || terminal.op.op.is_some() {
            return Err(format!(
                "fake bridge: the last op must be a terminal op with exactly one input and no op \
                 (got {} inputs, kind {:?}); BuildKit would silently use inputs[0]",
                terminal.op.inputs.len(),
                terminal.kind()
            ));
        }
        for node in graph.deps(graph.result()) {
            validate_op(node)?;
        }
        Ok(graph)
    }

    /// Checks every `OpMetadata.caps` key against the profile (apicaps `Supports`). BuildKit checks this
    /// when it loads the definition; a cap it does not know fails the build with these messages.
    pub fn check_caps(&self, profile: CapsProfile) -> Result<(), String> {
        for node in self.nodes() {
            for cap in node.metadata.caps.keys() {
                profile.check_llb_cap(cap)?;
            }
        }
        Ok(())
    }

    /// What the profile's BuildKit would not understand in the ops the result depends on. `ignored`:
    /// proto fields newer than the engine, which a daemon drops without a word (e.g. copy
    /// include/exclude patterns on Docker 20.10); `unsupported`: ops it cannot run at all.
    pub fn engine_gaps(&self, profile: CapsProfile) -> EngineGaps {
        let mut gaps = EngineGaps::default();
        let old = profile == CapsProfile::V0_8;
        for node in self.reachable() {
            let at = node.summary();
            let mut ignored = |what: &str, since: &str| {
                gaps.ignored
                    .push(format!("{what} (BuildKit {since}+) in {at}"))
            };
            match &node.op.op {
                Some(OpKindProto::Merge(_)) | Some(OpKindProto::Diff(_)) if old => {
                    gaps.unsupported
                        .push(format!("MergeOp/DiffOp (BuildKit v0.10+) in {at}"));
                }
                Some(OpKindProto::Exec(e)) => {
                    let meta = e.meta.clone().unwrap_or_default();
                    if !meta.valid_exit_codes.is_empty() {
                        ignored("exec valid_exit_codes", "v0.17");
                    }
                    if !e.cdi_devices.is_empty() {
                        ignored("exec cdi_devices", "v0.20");
                    }
                    if old && !e.secretenv.is_empty() {
                        ignored("exec secretenv", "v0.12");
                    }
                    if old && !meta.ulimit.is_empty() {
                        ignored("exec ulimit", "v0.10");
                    }
                    if old && e.mounts.iter().any(|m| m.content_cache != 0) {
                        ignored("mount content_cache", "v0.13");
                    }
                }
                Some(OpKindProto::File(f)) => {
                    for a in &f.actions {
                        match &a.action {
                            Some(pb::file_action::Action::Copy(c)) => {
                                if old
                                    && (!c.include_patterns.is_empty()
                                        || !c.exclude_patterns.is_empty())
                                {
                                    ignored("copy include/exclude patterns", "v0.9");
                                }
                                if c.always_replace_existing_dest_paths {
                                    ignored("copy always_replace_existing_dest_paths", "v0.14");
                                }
                                if !c.mode_str.is_empty() {
                                    ignored("copy mode_str", "v0.17");
                                }
                                if !c.required_paths.is_empty() {
                                    ignored("copy required_paths", "v0.26");
                                }
                            }
                            Some(pb::file_action::Action::Symlink(_)) => {
                                gaps.unsupported
                                    .push(format!("symlink file action (BuildKit v0.19+) in {at}"));
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        gaps
    }

    pub fn node(&self, digest: &str) -> Option<&Node> {
        self.nodes.get(digest)
    }

    /// All ops in definition order, the terminal op last.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.order.iter().filter_map(|d| self.nodes.get(d))
    }

    pub fn terminal(&self) -> &Node {
        &self.nodes[&self.terminal]
    }

    /// The op whose output is the result (the terminal op's input).
    pub fn result(&self) -> &Node {
        &self.nodes[&self.terminal().op.inputs[0].digest]
    }

    /// Which output of [`result`](Self::result) is the result.
    pub fn result_index(&self) -> i64 {
        self.terminal().op.inputs[0].index
    }

    /// Direct inputs of `node`, in order.
    pub fn inputs(&self, node: &Node) -> Vec<&Node> {
        node.op
            .inputs
            .iter()
            .filter_map(|i| self.nodes.get(&i.digest))
            .collect()
    }

    /// `node` and everything it depends on, in definition order.
    pub fn deps(&self, node: &Node) -> Vec<&Node> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![node.digest.as_str()];
        while let Some(d) = stack.pop() {
            if seen.insert(d.to_string()) {
                if let Some(n) = self.nodes.get(d) {
                    stack.extend(n.op.inputs.iter().map(|i| i.digest.as_str()));
                }
            }
        }
        self.nodes().filter(|n| seen.contains(&n.digest)).collect()
    }

    /// The `local://` sources `node` depends on: what of the client's files it can see.
    pub fn locals_under(&self, node: &Node) -> Vec<&Node> {
        self.deps(node)
            .into_iter()
            .filter(|n| n.local_name().is_some())
            .collect()
    }

    /// Everything the result depends on (the ops BuildKit would actually run), in definition order.
    pub fn reachable(&self) -> Vec<&Node> {
        self.deps(self.result())
    }

    /// Ops whose progress name is exactly `name`.
    pub fn named(&self, name: &str) -> Vec<&Node> {
        self.nodes().filter(|n| n.name() == Some(name)).collect()
    }

    /// The first op whose progress name contains `needle`.
    pub fn find(&self, needle: &str) -> Option<&Node> {
        self.nodes()
            .find(|n| n.name().is_some_and(|name| name.contains(needle)))
    }

    pub fn of_kind(&self, kind: OpKind) -> Vec<&Node> {
        self.nodes().filter(|n| n.kind() == kind).collect()
    }

    pub fn sources(&self) -> Vec<&Node> {
        self.of_kind(OpKind::Source)
    }

    /// `local://` sources.
    pub fn locals(&self) -> Vec<&Node> {
        self.nodes().filter(|n| n.local_name().is_some()).collect()
    }

    pub fn execs(&self) -> Vec<&Node> {
        self.of_kind(OpKind::Exec)
    }

    pub fn file_ops(&self) -> Vec<&Node> {
        self.of_kind(OpKind::File)
    }

    /// The op feeding an exec mount (`None` for input -1 or a bad index).
    pub fn mount_input(&self, node: &Node, mount: &pb::Mount) -> Option<&Node> {
        let i = usize::try_from(mount.input).ok()?;
        self.nodes.get(&node.op.inputs.get(i)?.digest)
    }

    /// Resolves a FileAction `input`/`secondary_input` index of a FileOp.
    pub fn action_input<'a>(&'a self, node: &'a Node, index: i64) -> ActionInput<'a> {
        let n_inputs = node.op.inputs.len() as i64;
        if index == -1 {
            ActionInput::Scratch
        } else if (0..n_inputs).contains(&index) {
            let input = &node.op.inputs[index as usize];
            match self.nodes.get(&input.digest) {
                Some(n) => ActionInput::Op(n, input.index),
                None => ActionInput::Invalid(index),
            }
        } else if index >= n_inputs && ((index - n_inputs) as usize) < node.file_actions().len() {
            ActionInput::Action((index - n_inputs) as usize)
        } else {
            ActionInput::Invalid(index)
        }
    }

    /// A readable listing, one op per line in definition order (handy in assertion messages).
    pub fn dump(&self) -> String {
        let mut s = String::new();
        for n in self.nodes() {
            let _ = writeln!(s, "{}", n.summary());
        }
        s
    }
}

/// See [`Graph::engine_gaps`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineGaps {
    pub ignored: Vec<String>,
    pub unsupported: Vec<String>,
}

/// BuildKit's `opsutils.Validate` for one op.
fn validate_op(node: &Node) -> Result<(), String> {
    match &node.op.op {
        Some(OpKindProto::Exec(e)) => {
            let meta = e.meta.as_ref().ok_or("invalid exec op with no meta")?;
            if meta.args.is_empty() {
                return Err("invalid exec op with no args".into());
            }
            if e.mounts.is_empty() {
                return Err("invalid exec op with no mounts".into());
            }
            if !e.mounts.iter().any(|m| m.dest == "/") {
                return Err("invalid exec op with no rootfs".into());
            }
        }
        Some(OpKindProto::File(f)) if f.actions.is_empty() => {
            return Err("invalid file op with no actions".into());
        }
        _ => {}
    }
    Ok(())
}

/// Builds Definitions by hand for tests (e.g. the harness self-test, or `Bridge::input`).
#[derive(Clone, Debug, Default)]
pub struct DefinitionBuilder {
    def: Vec<Vec<u8>>,
    metadata: BTreeMap<String, pb::OpMetadata>,
}

impl DefinitionBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an op (once per distinct encoding) and returns its digest.
    pub fn push(&mut self, op: pb::Op) -> String {
        self.push_with(op, None)
    }

    /// Adds an op with metadata and returns its digest.
    pub fn push_with(&mut self, op: pb::Op, metadata: Option<pb::OpMetadata>) -> String {
        let bytes = op.encode_to_vec();
        let digest = digest_of(&bytes);
        if !self.def.contains(&bytes) {
            self.def.push(bytes);
        }
        if let Some(m) = metadata {
            self.metadata.insert(digest.clone(), m);
        }
        digest
    }

    /// Adds raw bytes as a `def` entry (to test decoding errors) and returns their digest.
    pub fn push_raw(&mut self, bytes: Vec<u8>) -> String {
        let digest = digest_of(&bytes);
        self.def.push(bytes);
        digest
    }

    /// Adds a SourceOp.
    pub fn source(&mut self, identifier: &str, attrs: &[(&str, &str)]) -> String {
        self.push(pb::Op {
            op: Some(OpKindProto::Source(pb::SourceOp {
                identifier: identifier.into(),
                attrs: attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            })),
            ..Default::default()
        })
    }

    /// Sets the metadata of an op already added.
    pub fn metadata(&mut self, digest: &str, metadata: pb::OpMetadata) {
        self.metadata.insert(digest.to_string(), metadata);
    }

    /// Appends the terminal op pointing at `result`'s output `index` and returns the Definition.
    pub fn finish(mut self, result: &str, index: i64) -> pb::Definition {
        self.push(pb::Op {
            inputs: vec![input(result, index)],
            ..Default::default()
        });
        self.build()
    }

    /// The Definition as it is, without adding a terminal op.
    pub fn build(self) -> pb::Definition {
        pb::Definition {
            def: self.def,
            metadata: self.metadata,
            source: None,
        }
    }
}

pub fn input(digest: &str, index: i64) -> pb::Input {
    pb::Input {
        digest: digest.to_string(),
        index,
    }
}
