//! How failures reach the user: a `google.rpc.Status` returned to BuildKit, which `docker build`
//! prints. User errors carry BuildKit's `errdefs.Source` detail so buildx shows the spec snippet at
//! the right line (Docker 20.10 shows the message alone).

use base64::Engine as _;
use bollard_buildkit_proto::google::protobuf::Any;
use bollard_buildkit_proto::google::rpc::Status;
use serde_json::json;

use crate::diag::{Diagnostic, Diagnostics, Location, SourceText};
use crate::llb::MAX_ATTACHED_SOURCE;

/// gRPC code Unknown: buildx prints the message as is (other codes add a "Code: " prefix per
/// nesting level).
const CODE_UNKNOWN: i32 = 2;
const SOURCE_DETAIL: &str = "github.com/moby/buildkit/errdefs.Source+json";

/// A daemon call that failed; `what` says what we were doing. The daemon's own message is kept but
/// host paths (Docker 20.10 leaks its mount directories) are cut out.
pub fn daemon_error(what: impl std::fmt::Display, status: &tonic::Status) -> Diagnostic {
    Diagnostic::plain(format!("{what}: {}", scrub_host_paths(status.message())))
}

#[derive(Debug)]
pub struct Failure {
    pub diagnostics: Diagnostics,
    /// The text of the file the first diagnostic points into, when we have it (spec, manifest).
    pub source: Option<SourceText>,
}

impl Failure {
    pub fn new(d: impl Into<Diagnostics>) -> Failure {
        Failure {
            diagnostics: d.into(),
            source: None,
        }
    }

    pub fn with_source(mut self, source: &SourceText) -> Failure {
        self.source = Some(source.clone());
        self
    }

    /// A daemon call that failed; `what` says what we were doing. The daemon's own message is kept
    /// but host paths (Docker 20.10 leaks its mount directories) are cut out.
    pub fn daemon(what: impl std::fmt::Display, status: &tonic::Status) -> Failure {
        Failure::new(daemon_error(what, status))
    }

    pub fn to_status(&self) -> Status {
        let mut details = Vec::new();
        // A spec too large to ride along would push the status over the daemon's message limit.
        let source = self
            .source
            .as_ref()
            .filter(|s| s.text.len() <= MAX_ATTACHED_SOURCE);
        if let Some(src) = source {
            let ranges: Vec<_> = self
                .diagnostics
                .0
                .iter()
                .filter_map(|d| match &d.location {
                    Location::File { name, start, end } if *name == src.name => Some(json!({
                        "start": {"line": start.line, "character": start.column},
                        "end": {"line": end.line, "character": end.column},
                    })),
                    _ => None,
                })
                .collect();
            if !ranges.is_empty() {
                let value = json!({
                    "info": {
                        "filename": src.name,
                        // buildx prints these lines; a token in a URL stays out of the build output.
                        "data": base64::engine::general_purpose::STANDARD
                            .encode(crate::redact::redact_credentials(&src.text).as_bytes()),
                        "language": "TOML",
                    },
                    "ranges": ranges,
                });
                details.push(Any {
                    type_url: SOURCE_DETAIL.into(),
                    value: serde_json::to_vec(&value).unwrap_or_default(),
                });
            }
        }
        Status {
            code: CODE_UNKNOWN,
            message: self.diagnostics.to_string(),
            details,
        }
    }
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Failure {
        Failure::new(d)
    }
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Failure {
        Failure::new(d)
    }
}

/// Replaces absolute paths under the daemon's state directories with `…`, keeping the tail that
/// names the file in the build context.
pub fn scrub_host_paths(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, word) in message.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let trimmed = word.trim_end_matches(':');
        let suffix = &word[trimmed.len()..];
        if trimmed.starts_with('/') && looks_like_daemon_path(trimmed) {
            let tail = trimmed
                .split_once("/buildkit-mount")
                .and_then(|(_, rest)| rest.split_once('/').map(|(_, t)| t))
                .unwrap_or_else(|| trimmed.rsplit('/').next().unwrap_or(""));
            out.push_str(tail);
            out.push_str(suffix);
        } else {
            out.push_str(word);
        }
    }
    out
}

fn looks_like_daemon_path(p: &str) -> bool {
    [
        "/var/lib/docker",
        "/var/lib/buildkit",
        "/tmp/buildkit",
        "buildkit-mount",
        "/var/tmp/",
    ]
    .iter()
    .any(|m| p.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_daemon_paths_but_keeps_the_file_name() {
        assert_eq!(
            scrub_host_paths(
                "open /var/lib/docker/tmp/buildkit-mount123/app/x.txt: no such file or directory"
            ),
            "open app/x.txt: no such file or directory"
        );
        assert_eq!(
            scrub_host_paths("plain message /usr/bin"),
            "plain message /usr/bin"
        );
    }

    #[test]
    fn user_errors_carry_a_json_source_detail() {
        let src = SourceText::new("strata.toml", "# syntax=x\nworkdri = \"/a\"\n");
        let f =
            Failure::new(Diagnostic::at(&src, 11..18, "unknown key `workdri`")).with_source(&src);
        let status = f.to_status();
        assert_eq!(status.code, 2);
        assert_eq!(status.message, "strata.toml:2:1: unknown key `workdri`");
        assert_eq!(status.details[0].type_url, SOURCE_DETAIL);
        let v: serde_json::Value = serde_json::from_slice(&status.details[0].value).unwrap();
        assert_eq!(v["ranges"][0]["start"]["line"], 2);
        assert_eq!(v["info"]["filename"], "strata.toml");
    }

    #[test]
    fn the_spec_snippet_hides_credentials() {
        let src = SourceText::new(
            "strata.toml",
            "install = \"pip install -i https://u:s3cret@pypi.example/simple\"\nworkdri = \"/a\"\n",
        );
        let f =
            Failure::new(Diagnostic::at(&src, 65..72, "unknown key `workdri`")).with_source(&src);
        let status = f.to_status();
        let v: serde_json::Value = serde_json::from_slice(&status.details[0].value).unwrap();
        let data = base64::engine::general_purpose::STANDARD
            .decode(v["info"]["data"].as_str().unwrap())
            .unwrap();
        let data = String::from_utf8(data).unwrap();
        assert!(!data.contains("s3cret"), "{data}");
        assert!(data.contains("https://***@pypi.example/simple"));
        assert_eq!(v["ranges"][0]["start"]["line"], 2);
    }
}
