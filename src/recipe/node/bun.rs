//! Bun: installed from the npm registry (`bun`, whose platform binary comes as an optional
//! dependency) into /opt/bun; package.json and bun.lock (or the older binary bun.lockb) staged;
//! `bun install --frozen-lockfile` with Bun's cache on a cache mount (it copies out of it: hard
//! links cannot cross into the layer). Bun runs the app too, so it goes along to a separate
//! runtime image. After a build, node_modules is installed again, production only, from the warm
//! cache: `bun install --production` over a full install leaves the dev dependencies in place.

use super::{Project, ToolPart, npm_install_global};
use crate::plan::Sharing;
use crate::recipe::{Setup, cache, env_list};

pub const DEFAULT_VERSION: &str = "1.4.5";
const HOME: &str = "/opt/bun";
const CACHE: &str = "/root/.bun/install/cache";
/// Bun's official image (Debian, glibc), tagged with Bun's version: `--build-context
/// oven/bun:<version>=docker-image://…` copies Bun from it instead of installing it from npm.
/// `bunx` is a link to `bun` there.
const IMAGE: &str = "oven/bun";
const IMAGE_BINARY: &str = "/usr/local/bin/bun";

pub const MANIFESTS: &[&str] = &[
    "package.json",
    "bun.lock",
    "bun.lockb",
    "bunfig.toml",
    ".npmrc",
    "patches",
];

pub fn part(p: &Project) -> ToolPart {
    let version = p.version();
    // The package's postinstall moves the platform binary into bin/; npm also fetched the other
    // libc's binary (npm does not tell glibc from musl), which nothing runs.
    let install = format!(
        "{} && rm -rf {HOME}/lib/node_modules/bun/node_modules && {HOME}/bin/bun --version",
        npm_install_global(HOME, "bun", version)
    );
    let mut setup = Setup::tool(
        install,
        &format!("{IMAGE}:{version}"),
        &[IMAGE_BINARY],
        &format!("{HOME}/bin"),
    );
    if let Some(image) = &mut setup.image {
        image
            .aliases
            .push(("bunx".into(), format!("{HOME}/bin/bun x")));
    }
    let frozen = "bun install --frozen-lockfile";
    let install = if p.has_build {
        frozen.to_string()
    } else {
        format!("{frozen} --production")
    };
    let mut part = ToolPart {
        manifests: MANIFESTS.iter().map(|m| m.to_string()).collect(),
        setup: vec![setup],
        install,
        caches: vec![cache(CACHE, p.spec, "bun", Sharing::Shared)],
        env: env_list(&[("PATH", &format!("{HOME}/bin:$PATH"))]),
        after_build: Some(format!("rm -rf node_modules && {frozen} --production")),
        run_file: vec!["bun".into()],
        start_files: &["server.ts", "index.ts", "server.js", "index.js"],
        home: Some(HOME),
        commands: &["bun", "bunx"],
        ..ToolPart::new(format!("bun {version}"), "bun")
    };
    part.start = vec!["bun".into(), "run".into(), "start".into()];
    part.build_env
        .extend(env_list(&[("BUN_INSTALL_CACHE_DIR", CACHE)]));
    part
}
