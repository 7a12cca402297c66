//! Yarn, both lines.
//!
//! Yarn 1 (classic): installed from the npm registry into /opt/yarn; `yarn install
//! --frozen-lockfile` with its cache on a `locked` cache mount (concurrent writers corrupt it);
//! `--production` unless a build step needs the dev dependencies, after which the same install
//! with `--production` drops them.
//!
//! Yarn 2+ (Berry): the release `.yarnrc.yml`'s `yarnPath` names, staged with the manifests and
//! run through a small `yarn` script, or `@yarnpkg/cli-dist` from the npm registry (Corepack would
//! fetch from repo.yarnpkg.com). `yarn install --immutable` checks the lockfile; production
//! dependencies come from `yarn workspaces focus --all --production`. The global folder (download
//! cache and mirror) is the cache mount; under Plug'n'Play, the default, the packages' zips are
//! what runs, so they go to the project's `.yarn/cache`, in the layer, never only on the mount.

use super::readers::yarnrc;
use super::{Project, ToolPart, npm_install_global, options};
use crate::plan::Sharing;
use crate::recipe::{cache, env_list, shell_word};

pub const DEFAULT_CLASSIC: &str = "1.22.22";
/// Yarn 4: runs on Node 18.12 and later.
pub const DEFAULT_BERRY: &str = "4.18.1";
const HOME: &str = "/opt/yarn";
/// Yarn 1's cache for root on Linux (its "home" is /usr/local/share).
const CLASSIC_CACHE: &str = "/usr/local/share/.cache/yarn";
/// Berry's global folder: its download cache (a mirror when the project cache is local) and
/// metadata.
const BERRY_GLOBAL: &str = "/root/.yarn/berry";

pub const CLASSIC_MANIFESTS: &[&str] = &["package.json", "yarn.lock", ".yarnrc", ".npmrc"];
pub const BERRY_MANIFESTS: &[&str] = &[
    "package.json",
    "yarn.lock",
    ".yarnrc.yml",
    ".yarn/plugins",
    ".yarn/patches",
];
/// What a Berry install writes in the project: never overwritten by the source copy.
const BERRY_OUTPUTS: &[&str] = &[
    ".pnp.cjs",
    ".pnp.loader.mjs",
    ".yarn/cache",
    ".yarn/unplugged",
    ".yarn/install-state.gz",
];

/// The Yarn release that writes a lockfile format (`__metadata.version`), for lockfiles whose
/// project pins no Yarn: a Yarn that writes another format would rewrite the lockfile, which
/// `--immutable` refuses.
pub fn berry_for_format(format: Option<u32>) -> &'static str {
    match format {
        Some(4) => "2.4.2",
        Some(5) => "3.1.1",
        Some(6) => "3.8.7",
        Some(7 | 8) => "4.13.0",
        Some(9) => "4.14.1",
        _ => DEFAULT_BERRY,
    }
}

/// The version in a release's file name (`.yarn/releases/yarn-4.5.0.cjs`), else the file name.
pub fn release_version(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file
        .strip_suffix(".cjs")
        .or_else(|| file.strip_suffix(".js"))
        .unwrap_or(file);
    match stem.strip_prefix("yarn-") {
        Some(v) if options::is_exact_version(v) => v.to_string(),
        _ => file.to_string(),
    }
}

pub fn classic(p: &Project) -> ToolPart {
    let version = p.version();
    let frozen = "yarn install --frozen-lockfile --non-interactive --prefer-offline";
    let install = if p.has_build {
        frozen.to_string()
    } else {
        format!("{frozen} --production")
    };
    let mut part = ToolPart {
        manifests: CLASSIC_MANIFESTS.iter().map(|m| m.to_string()).collect(),
        setup: vec![npm_install_global(HOME, "yarn", version).into()],
        install,
        caches: vec![cache(CLASSIC_CACHE, p.spec, "yarn", Sharing::Locked)],
        env: env_list(&[("PATH", &format!("{HOME}/bin:$PATH"))]),
        // The dev dependencies go; lifecycle scripts already ran.
        after_build: Some(format!("{frozen} --production --ignore-scripts")),
        home: Some(HOME),
        commands: &["yarn", "yarnpkg"],
        ..ToolPart::new(format!("yarn {version}"), "yarn")
    };
    part.build_env.extend(env_list(&[
        ("YARN_CACHE_FOLDER", CLASSIC_CACHE),
        ("YARN_DISABLE_SELF_UPDATE_CHECK", "true"),
    ]));
    part
}

pub fn berry(p: &Project, release: Option<&str>) -> ToolPart {
    let version = p.version();
    let rc = p.ctx.text(".yarnrc.yml").map(yarnrc).unwrap_or_default();
    let linker = rc.get("nodeLinker").map_or("pnp", |s| s.value.as_str());
    let pnp = linker == "pnp";
    let mut notes = Vec::new();

    let (setup, package_manager) = match release {
        Some(path) => {
            let workdir = p.spec.workdir.trim_end_matches('/');
            (
                run_release(&format!("{workdir}/{path}")),
                format!("yarn {version} ({path})"),
            )
        }
        None => (
            npm_install_global(HOME, "@yarnpkg/cli-dist", version),
            format!("yarn {version}"),
        ),
    };
    // `workspaces focus` is built into Yarn 4; Yarn 2 and 3 have it from a plugin.
    let focus = options::major(version).is_none_or(|m| m >= 4)
        || p.ctx
            .exists(".yarn/plugins/@yarnpkg/plugin-workspace-tools.cjs");
    let production = "yarn workspaces focus --all --production";
    let frozen = "yarn install --immutable".to_string();
    let (install, after_build) = if !p.has_dev {
        // Nothing to drop: the frozen install is the production one.
        (frozen, None)
    } else if focus {
        // `focus` does not check the lockfile: a frozen install does first, its packages going to
        // the global cache (the mount), so the layer gets production packages only.
        let install = if p.has_build {
            frozen
        } else {
            format!(
                "YARN_ENABLE_GLOBAL_CACHE=true yarn install --immutable --mode=skip-build && {production}"
            )
        };
        // The project cache then holds the dev dependencies' zips too: emptied, refilled with
        // production packages from the mirror.
        (
            install,
            Some(format!(
                "rm -rf .yarn/cache .yarn/unplugged && {production}"
            )),
        )
    } else {
        notes.push(format!(
            "yarn {version} has no `workspaces focus` without @yarnpkg/plugin-workspace-tools, so the image keeps the dev dependencies (`yarn plugin import workspace-tools` adds it)"
        ));
        (frozen, None)
    };

    let mut env = env_list(&[
        ("PATH", &format!("{HOME}/bin:$PATH")),
        ("YARN_ENABLE_TELEMETRY", "0"),
    ]);
    if pnp {
        env.push(("YARN_ENABLE_GLOBAL_CACHE".into(), "false".into()));
    }
    let mut manifests: Vec<String> = BERRY_MANIFESTS.iter().map(|m| m.to_string()).collect();
    manifests.extend(release.map(str::to_string));
    let mut part = ToolPart {
        manifests,
        setup: vec![setup.into()],
        install,
        caches: vec![cache(BERRY_GLOBAL, p.spec, "yarn-berry", Sharing::Shared)],
        env,
        after_build,
        run_file: if pnp {
            vec!["yarn".into(), "node".into()]
        } else {
            vec!["node".into()]
        },
        home: Some(HOME),
        commands: &["yarn", "yarnpkg"],
        app_exclude: BERRY_OUTPUTS.iter().map(|m| m.to_string()).collect(),
        notes,
        ..ToolPart::new(package_manager, "yarn")
    };
    part.build_env
        .extend(env_list(&[("YARN_GLOBAL_FOLDER", BERRY_GLOBAL)]));
    part
}

/// A `yarn` command that runs the project's committed release, as Yarn itself would.
fn run_release(release: &str) -> String {
    let exec = format!("exec node {} \"$@\"", shell_word(release));
    format!(
        "mkdir -p {HOME}/bin && printf '%s\\n' '#!/bin/sh' {} > {HOME}/bin/yarn && chmod 755 {HOME}/bin/yarn",
        shell_word(&exec)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_file_names() {
        assert_eq!(release_version(".yarn/releases/yarn-4.5.0.cjs"), "4.5.0");
        assert_eq!(
            release_version(".yarn/releases/yarn-3.2.0-rc.1.cjs"),
            "3.2.0-rc.1"
        );
        assert_eq!(release_version("tools/yarn-berry.js"), "yarn-berry.js");
    }

    #[test]
    fn lockfile_formats_name_the_yarn_that_writes_them() {
        assert_eq!(berry_for_format(Some(6)), "3.8.7");
        assert_eq!(berry_for_format(Some(8)), "4.13.0");
        assert_eq!(berry_for_format(Some(10)), DEFAULT_BERRY);
        assert_eq!(berry_for_format(None), DEFAULT_BERRY);
    }

    #[test]
    fn the_release_runs_through_a_script_on_path() {
        assert_eq!(
            run_release("/app/.yarn/releases/yarn-4.5.0.cjs"),
            "mkdir -p /opt/yarn/bin && printf '%s\\n' '#!/bin/sh' 'exec node /app/.yarn/releases/yarn-4.5.0.cjs \"$@\"' > /opt/yarn/bin/yarn && chmod 755 /opt/yarn/bin/yarn"
        );
    }
}
