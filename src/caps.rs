//! The LLB capabilities a daemon reports in `Ping`. Strata targets BuildKit v0.8 (Docker 20.10) as
//! its floor and uses anything newer only when the daemon says it has it.

use std::collections::BTreeSet;

/// Cap IDs from BuildKit's solver/pb/caps.go that change what we emit.
pub const REMOVE_MOUNT_STUBS: &str = "exec.meta.removemountstubs.recursive";
pub const SECRET_ENV: &str = "exec.secretenv";
pub const COPY_PATTERNS: &str = "file.copy.includeexcludepatterns";
/// `git://…#ref:dir` (BuildKit v0.9): a subdirectory of a repository as the source.
pub const GIT_SUBDIR: &str = "source.git.subdir";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    enabled: BTreeSet<String>,
}

impl Caps {
    /// Only caps reported *enabled* count: Docker 26 lists mergeop/diffop as disabled.
    pub fn from_enabled<I: IntoIterator<Item = String>>(ids: I) -> Caps {
        Caps {
            enabled: ids.into_iter().collect(),
        }
    }

    /// What a current daemon offers; used where no daemon is asked (`strata llb`).
    pub fn current() -> Caps {
        Caps::from_enabled([REMOVE_MOUNT_STUBS, SECRET_ENV, COPY_PATTERNS].map(String::from))
    }

    /// The BuildKit v0.8 baseline (Docker 20.10): none of the optional features.
    pub fn baseline() -> Caps {
        Caps::default()
    }

    pub fn has(&self, id: &str) -> bool {
        self.enabled.contains(id)
    }
}
