//! Capability profiles: what `Ping` reports and what `BUILDKIT_WORKERS` looks like for the two engines we
//! target. The lists are the `Caps.Init` registrations of BuildKit's `frontend/gateway/pb/caps.go` and
//! `solver/pb/caps.go` at the vendored tags (v0.8.3 for Docker 20.10.24, v0.13.2 for Docker 26.1.5), which
//! is also what research/gateway-interop.md counted on the real engines (17/42 and 24/63).

use bollard_buildkit_proto::moby::buildkit::v1::apicaps::ApiCap;
use bollard_buildkit_proto::moby::buildkit::v1::types::WorkerRecord;
use bollard_buildkit_proto::pb;

/// Which engine the fake daemon impersonates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapsProfile {
    /// Docker 20.10.24, BuildKit v0.8 (+ backports).
    V0_8,
    /// Docker 26.1.5, BuildKit v0.13.2, classic image store.
    V0_13,
}

/// Frontend API caps of v0.8 (17).
const GATEWAY_V0_8: &[&str] = &[
    "solve.base",
    "solve.inlinereturn",
    "resolveimage",
    "resolveimage.resolvemode",
    "readfile",
    "return",
    "returnmap",
    "readdir",
    "statfile",
    "importcaches",
    "proto.refarray",
    "reference.output",
    "frontend.inputs",
    "gateway.solve.metadata",
    "gateway.exec",
    "frontend.caps",
    "gateway.solve.evaluate",
];

/// Frontend API caps added between v0.8 and v0.13 (24 in total).
const GATEWAY_ADDED_V0_13: &[&str] = &[
    "gateway.exec.extrahosts",
    "gateway.exec.secretenv",
    "gateway.exec.signals",
    "gateway.evaluate",
    "gateway.warnings",
    "reference.attestations",
    "source.metaresolver",
];

/// LLB caps of v0.8 (42). Note the real typo `soruce.http.uidgid`.
const LLB_V0_8: &[&str] = &[
    "source.image",
    "source.image.resolvemode",
    "source.local",
    "source.local.unique",
    "source.local.sessionid",
    "source.local.includepatterns",
    "source.local.followpaths",
    "source.local.excludepatterns",
    "source.local.sharedkeyhint",
    "source.git",
    "source.git.keepgitdir",
    "source.git.fullurl",
    "source.git.httpauth",
    "source.git.knownsshhosts",
    "source.git.mountsshsock",
    "source.http",
    "source.http.checksum",
    "source.http.perm",
    "soruce.http.uidgid",
    "source.buildop.llbfilename",
    "exec.meta.base",
    "exec.meta.proxyenv",
    "exec.meta.network",
    "exec.meta.setsdefaultpath",
    "exec.meta.security",
    "exec.meta.security.devices.v1",
    "exec.mount.bind",
    "exec.mount.bind.readwrite-nooutput",
    "exec.mount.cache",
    "exec.mount.cache.sharing",
    "exec.mount.selector",
    "exec.mount.tmpfs",
    "exec.mount.secret",
    "exec.mount.ssh",
    "exec.cgroup",
    "file.base",
    "file.rm.wildcard",
    "constraints",
    "platform",
    "meta.ignorecache",
    "meta.description",
    "meta.exportcache",
];

/// LLB caps added between v0.8 and v0.13.2 (63 registered in total; `exec.meta.removemountstubs.recursive`
/// is declared in v0.13.2's caps.go but never registered, so a real daemon does not report it).
const LLB_ADDED_V0_13: &[&str] = &[
    "source.image.layerlimit",
    "source.local.differ",
    "source.git.subdir",
    "source.ocilayout",
    "exec.meta.cgroup.parent",
    "exec.meta.ulimit",
    "exec.mount.tmpfs.size",
    "exec.mount.cache.content",
    "exec.secretenv",
    "file.rm.nofollowsymlink",
    "file.copy.includeexcludepatterns",
    "cache.gha",
    "cache.s3",
    "cache.azblob",
    "mergeop",
    "diffop",
    "exporter.image.annotations",
    "exporter.image.attestations",
    "exporter.sourcedateepoch",
    "exporter.multiple",
    "source.policy",
];

/// Caps Docker 26 lists but reports as disabled (classic image store: no snapshotter merge/diff).
const DISABLED_V0_13: &[&str] = &["mergeop", "diffop"];

/// Caps registered with `Deprecated: true` (still enabled).
const DEPRECATED: &[&str] = &["solve.inlinereturn"];

impl CapsProfile {
    /// `Pong.frontend_api_caps`, sorted by id like `apicaps.CapList.All()`.
    pub fn frontend_caps(self) -> Vec<ApiCap> {
        let mut ids: Vec<&str> = GATEWAY_V0_8.to_vec();
        if self == CapsProfile::V0_13 {
            ids.extend_from_slice(GATEWAY_ADDED_V0_13);
        }
        to_caps(ids, &[])
    }

    /// `Pong.llb_caps`, sorted by id.
    pub fn llb_caps(self) -> Vec<ApiCap> {
        let mut ids: Vec<&str> = LLB_V0_8.to_vec();
        let mut disabled: &[&str] = &[];
        if self == CapsProfile::V0_13 {
            ids.extend_from_slice(LLB_ADDED_V0_13);
            disabled = DISABLED_V0_13;
        }
        to_caps(ids, disabled)
    }

    /// Whether the profile lists this frontend API cap as enabled.
    pub fn has_frontend_cap(self, id: &str) -> bool {
        self.frontend_caps().iter().any(|c| c.id == id && c.enabled)
    }

    /// Checks an `OpMetadata.caps` key the way `apicaps.CapSet.Supports` does and returns its error text.
    pub fn check_llb_cap(self, id: &str) -> Result<(), String> {
        match self.llb_caps().iter().find(|c| c.id == id) {
            None => Err(format!("unknown API capability {id}")),
            // All LLB caps are registered with Status experimental and no Name, hence the double space.
            Some(c) if !c.enabled => Err(format!(
                "requested experimental feature {id}  has been disabled on the build server"
            )),
            Some(_) => Ok(()),
        }
    }

    /// `Pong.workers`. Only id, labels and platforms are filled, as in the real `Ping` handler.
    pub fn ping_workers(self) -> Vec<WorkerRecord> {
        let mut w = WorkerRecord {
            id: self.worker_id().to_string(),
            platforms: self
                .platforms()
                .iter()
                .map(|(arch, variant)| pb::Platform {
                    architecture: arch.to_string(),
                    os: "linux".into(),
                    variant: variant.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        if self == CapsProfile::V0_13 {
            w.labels
                .insert(HOST_GATEWAY_LABEL.into(), "172.17.0.1".into());
        }
        vec![w]
    }

    /// The `BUILDKIT_WORKERS` value. v0.8's `client.WorkerInfo` had no json tags (Go field names, `null`
    /// for the empty map); v0.10+ uses lower-case keys and adds `buildkitVersion`.
    pub fn workers_env(self) -> String {
        let platforms: Vec<serde_json::Value> = self
            .platforms()
            .iter()
            .map(|(arch, variant)| {
                let mut p = serde_json::json!({"architecture": arch, "os": "linux"});
                if !variant.is_empty() {
                    p["variant"] = serde_json::Value::from(*variant);
                }
                p
            })
            .collect();
        let workers = match self {
            CapsProfile::V0_8 => serde_json::json!([{
                "ID": self.worker_id(),
                "Labels": null,
                "Platforms": platforms,
                "GCPolicy": null,
            }]),
            CapsProfile::V0_13 => serde_json::json!([{
                "id": self.worker_id(),
                "labels": {HOST_GATEWAY_LABEL: "172.17.0.1"},
                "platforms": platforms,
                "gcPolicy": null,
                "buildkitVersion": {
                    "package": "github.com/moby/buildkit",
                    "version": "v0.0.0+unknown-moby",
                    "revision": "",
                },
            }]),
        };
        workers.to_string()
    }

    fn worker_id(self) -> &'static str {
        match self {
            CapsProfile::V0_8 => "moby",
            // Docker 26 reports a random UUID; a fixed one keeps runs reproducible.
            CapsProfile::V0_13 => "0e6f8b56-3c1a-4b8e-9d2f-5a7c1e9b4d30",
        }
    }

    /// (architecture, variant) as the engines reported them on an amd64 host (gateway-interop.md §1).
    fn platforms(self) -> &'static [(&'static str, &'static str)] {
        match self {
            CapsProfile::V0_8 => &[("amd64", ""), ("386", "")],
            CapsProfile::V0_13 => &[
                ("amd64", ""),
                ("amd64", "v2"),
                ("amd64", "v3"),
                ("amd64", "v4"),
                ("386", ""),
            ],
        }
    }

    /// The gRPC error a grpc-go server gives for a method its service description does not have.
    pub fn unknown_method(self, method: &str) -> tonic::Status {
        tonic::Status::unimplemented(format!(
            "unknown method {method} for service moby.buildkit.v1.frontend.LLBBridge"
        ))
    }
}

const HOST_GATEWAY_LABEL: &str = "org.mobyproject.buildkit.worker.moby.host-gateway-ip";

fn to_caps(mut ids: Vec<&str>, disabled: &[&str]) -> Vec<ApiCap> {
    ids.sort_unstable();
    ids.into_iter()
        .map(|id| ApiCap {
            id: id.to_string(),
            enabled: !disabled.contains(&id),
            deprecated: DEPRECATED.contains(&id),
            ..Default::default()
        })
        .collect()
}
