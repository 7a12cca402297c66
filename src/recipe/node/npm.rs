//! npm: package.json and package-lock.json (or npm-shrinkwrap.json) staged alone, `npm ci` with
//! npm's cache mounted, `npm run build` and `npm prune` after the source copy when the project
//! has a build step. npm comes with Node: nothing to install first.

use super::{Project, ToolPart};
use crate::plan::Sharing;
use crate::recipe::cache;

pub const MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    ".npmrc",
];

pub fn part(p: &Project) -> ToolPart {
    // --prefer-offline: packages already in the mounted cache are taken without asking the
    // registry again (the lockfile pins them by integrity hash); missing ones are downloaded.
    let install = if p.has_build {
        "npm ci --prefer-offline"
    } else {
        "npm ci --omit=dev --prefer-offline"
    };
    ToolPart {
        manifests: MANIFESTS.iter().map(|m| m.to_string()).collect(),
        install: install.into(),
        caches: vec![cache("/root/.npm", p.spec, "npm", Sharing::Shared)],
        after_build: Some("npm prune --omit=dev --prefer-offline".into()),
        ..ToolPart::new("npm".into(), "npm")
    }
}
