//! pnpm: installed from the npm registry into /opt/pnpm in a step keyed on its version alone;
//! package.json, pnpm-lock.yaml and pnpm's own files staged; `pnpm install --frozen-lockfile`
//! with the content-addressed store on a cache mount (pnpm copies out of it: hard links cannot
//! cross into the layer); after a build, `pnpm prune --prod`.
//!
//! One install step, not `pnpm fetch` on the lockfile then `pnpm install --offline`: with the
//! store on a cache mount, the fetch step's layer holds nothing (the store is not in it), so a
//! cached fetch step proves nothing about what the mount still holds, and `--offline` would fail
//! on an evicted cache. The single step with `--prefer-offline` reads the warm store and
//! downloads only what is missing.

use super::{Project, ToolPart, npm_install_global};
use crate::plan::Sharing;
use crate::recipe::{cache, env_list};

/// pnpm 9: runs on Node 18.12 and later, and reads and writes lockfile format 9.0 (as pnpm 10
/// does, which stops running dependencies' build scripts unless they are allowed).
pub const DEFAULT_VERSION: &str = "9.15.9";
const HOME: &str = "/opt/pnpm";
/// pnpm's default store for root, `~/.local/share/pnpm/store`: a spec's own `install` finds it
/// without flags.
const STORE: &str = "/root/.local/share/pnpm/store";

pub const MANIFESTS: &[&str] = &[
    "package.json",
    "pnpm-lock.yaml",
    "pnpm-workspace.yaml",
    ".npmrc",
    ".pnpmfile.cjs",
    "patches",
];

/// The last pnpm release that writes a lockfile format, for lockfiles whose project pins no
/// pnpm: another major would rewrite the lockfile, which `--frozen-lockfile` refuses.
pub fn for_lockfile(format: &str) -> Option<&'static str> {
    match format {
        "5.3" => Some("6.35.1"),
        "5.4" => Some("7.33.7"),
        f if f.starts_with("6.") => Some("8.15.9"),
        f if f.starts_with("9.") => Some(DEFAULT_VERSION),
        _ => None,
    }
}

pub fn part(p: &Project) -> ToolPart {
    let version = p.version();
    let install = if p.has_build {
        "pnpm install --frozen-lockfile --prefer-offline"
    } else {
        "pnpm install --frozen-lockfile --prod --prefer-offline"
    };
    ToolPart {
        manifests: MANIFESTS.iter().map(|m| m.to_string()).collect(),
        setup: vec![npm_install_global(HOME, "pnpm", version).into()],
        install: install.into(),
        caches: vec![cache(STORE, p.spec, "pnpm", Sharing::Shared)],
        env: env_list(&[("PATH", &format!("{HOME}/bin:$PATH"))]),
        after_build: Some("pnpm prune --prod".into()),
        home: Some(HOME),
        commands: &["pnpm", "pnpx"],
        ..ToolPart::new(format!("pnpm {version}"), "pnpm")
    }
}
