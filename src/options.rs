//! The build options BuildKit passes to a frontend (`BUILDKIT_FRONTEND_OPT_*`: `filename`,
//! `target`, `build-arg:*`, `label:*`, `platform`, `no-cache`…), decoded and checked. Pure: the
//! gateway hands in the raw map. An option Strata cannot honour is an error naming it; an option
//! it has never heard of (a newer client) is reported back as a warning, not a failure.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::StageName;
use crate::platform::Platform;
use crate::reference::ImageRef;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolveMode {
    #[default]
    Default,
    Pull,
    Local,
}

impl ResolveMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveMode::Default => "default",
            ResolveMode::Pull => "pull",
            ResolveMode::Local => "local",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NoCache {
    #[default]
    Off,
    All,
    Stages(BTreeSet<StageName>),
}

impl NoCache {
    pub fn applies_to(&self, stage: StageName) -> bool {
        match self {
            NoCache::Off => false,
            NoCache::All => true,
            NoCache::Stages(s) => s.contains(&stage),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    #[default]
    Sandbox,
    Host,
    None,
}

/// One `--cache-from` source, passed on to every Solve (BuildKit's `CacheOptionsEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CacheImport {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Attrs", default)]
    pub attrs: BTreeMap<String, String>,
}

/// A build context that is a Git repository (`docker build <git url>`, sent as the `context`
/// option): BuildKit clones it, and the spec is read from it too unless `dockerfilekey` names a
/// local directory for it (buildx: a remote context with a local `-f`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitContext {
    /// The repository as git fetches it, without the fragment (`git://host/repo.git`,
    /// `https://host/repo.git`, `git@host:repo.git`, `ssh://…`).
    pub remote: String,
    /// The host and path BuildKit names the source by (`host/repo.git`, as Go's `llb.Git` does).
    pub host_path: String,
    /// The branch, tag or commit after `#`; empty: the remote's default branch.
    pub reference: String,
    /// The directory after `#ref:` that is the context; empty: the repository's root.
    pub subdir: String,
    /// `--build-arg BUILDKIT_CONTEXT_KEEP_GIT_DIR=1`: keep `.git` in the context.
    pub keep_git_dir: bool,
    /// Fetched over SSH: the client's agent is offered to the clone (`--ssh default`).
    pub ssh: bool,
}

impl GitContext {
    /// A Git URL as BuildKit's Dockerfile frontend recognises one (`git://`, `ssh://`,
    /// `user@host:path`, `http(s)://….git`, `github.com/…`, each with an optional `#ref[:dir]`);
    /// `None` for anything else. Query parameters (`?ref=…`) are refused: buildx only sends them to
    /// frontends that declare the `gitquerystring` capability, which Strata does not.
    pub fn parse(value: &str) -> Option<Result<GitContext, String>> {
        let (url, fragment) = value.split_once('#').unwrap_or((value, ""));
        let (remote, authority, path, ssh) = if let Some(rest) = url.strip_prefix("github.com/") {
            (format!("https://{url}"), "github.com", rest, false)
        } else if let Some((scheme, rest)) = url.split_once("://") {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let git = match scheme {
                "git" | "ssh" => true,
                "http" | "https" => path.split('?').next().is_some_and(|p| p.ends_with(".git")),
                _ => false,
            };
            if !git {
                return None;
            }
            (url.to_string(), authority, path, scheme == "ssh")
        } else {
            // scp-like `user@host:path`, as git itself takes it.
            let (authority, path) = url.split_once(':')?;
            if !authority.contains('@') || authority.contains('/') || path.starts_with("//") {
                return None;
            }
            (url.to_string(), authority, path, true)
        };
        if remote.contains('?') {
            return Some(Err(
                "query parameters in a Git URL are not supported by Strata yet: use `#REF:DIR`"
                    .into(),
            ));
        }
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() || path.trim_matches('/').is_empty() {
            return Some(Err(format!("`{value}` names no repository")));
        }
        let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
        let subdir = subdir.trim_matches('/');
        if subdir.split('/').any(|c| c == "..") {
            return Some(Err(format!(
                "the context directory `{subdir}` points outside the repository"
            )));
        }
        Some(Ok(GitContext {
            remote,
            host_path: format!("{host}/{}", path.trim_start_matches('/')),
            reference: reference.to_string(),
            subdir: subdir.to_string(),
            keep_git_dir: false,
            ssh,
        }))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// The spec's path inside the `dockerfile` local (`-f`); Docker's default name is `Dockerfile`.
    pub filename: String,
    pub target: Option<StageName>,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// The target platforms (`--platform a,b`), in the order given; empty: the worker's default.
    pub platforms: Vec<Platform>,
    /// Whether the result is a list of images, one per platform (`refs`), even for one platform
    /// (buildx sends `multi-platform` for the image stores that take such lists).
    pub multi_platform: bool,
    /// A `--call` subrequest (`requestid`), answered instead of building.
    pub request: Option<Request>,
    /// `SOURCE_DATE_EPOCH` (a build argument): the time reproducible images carry.
    pub source_date_epoch: Option<u64>,
    pub no_cache: NoCache,
    pub resolve_mode: ResolveMode,
    pub cache_imports: Vec<CacheImport>,
    pub extra_hosts: Vec<(String, String)>,
    pub network: NetworkMode,
    pub hostname: Option<String>,
    /// Names of the local sources holding the spec and the context (`dockerfilekey`, `contextkey`).
    pub dockerfile_local: String,
    pub context_local: String,
    /// `dockerfilekey` was given: the spec comes from that local even when the context is remote.
    pub dockerfile_local_forced: bool,
    /// The context when it is a Git repository instead of a local directory.
    pub git_context: Option<GitContext>,
    /// Named contexts that are directories of the client (`--build-context NAME=DIR`, sent as
    /// `context:NAME=local:LOCAL`): NAME → LOCAL. Each appears at `NAME/` in the build context.
    pub local_contexts: BTreeMap<String, String>,
    /// Named contexts (`--build-context NAME=docker-image://REF`), by name: replacements for the
    /// base images the spec or a recipe names.
    pub named_contexts: BTreeMap<String, ImageRef>,
    /// `NAME::PLATFORM` variants, by (name, normalized platform): they win for that platform.
    pub platform_contexts: BTreeMap<(String, String), ImageRef>,
    /// Per-local session overrides (`local-sessionid:<name>`).
    pub local_sessions: BTreeMap<String, String>,
    /// Options this version does not know; the caller reports them as warnings.
    pub ignored: Vec<String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            filename: "Dockerfile".into(),
            target: None,
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            platforms: Vec::new(),
            multi_platform: false,
            request: None,
            source_date_epoch: None,
            no_cache: NoCache::Off,
            resolve_mode: ResolveMode::Default,
            cache_imports: Vec::new(),
            extra_hosts: Vec::new(),
            network: NetworkMode::Sandbox,
            hostname: None,
            dockerfile_local: "dockerfile".into(),
            context_local: "context".into(),
            dockerfile_local_forced: false,
            git_context: None,
            local_contexts: BTreeMap::new(),
            named_contexts: BTreeMap::new(),
            platform_contexts: BTreeMap::new(),
            local_sessions: BTreeMap::new(),
            ignored: Vec::new(),
        }
    }
}

/// A `--call` subrequest Strata answers (`requestid=frontend.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Describe,
    Outline,
    Targets,
    Lint,
}

impl Request {
    pub const ALL: [Request; 4] = [
        Request::Outline,
        Request::Targets,
        Request::Lint,
        Request::Describe,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Request::Describe => "frontend.subrequests.describe",
            Request::Outline => "frontend.outline",
            Request::Targets => "frontend.targets",
            Request::Lint => "frontend.lint",
        }
    }
}

impl BuildOptions {
    /// The image a named context puts in place of `name` for a build on `platform`.
    pub fn named_context(&self, name: &str, platform: &Platform) -> Option<&ImageRef> {
        self.platform_contexts
            .get(&(name.to_string(), platform.to_string()))
            .or_else(|| self.named_contexts.get(name))
    }

    /// The values `${NAME}` can take in the spec: `--build-arg`s plus the platform arguments
    /// Dockerfiles get automatically (`TARGETARCH`…), which a build arg of the same name overrides.
    pub fn spec_args(&self, target: &Platform, build: &Platform) -> BTreeMap<String, String> {
        let mut args = BTreeMap::new();
        for (prefix, p) in [("TARGET", target), ("BUILD", build)] {
            args.insert(format!("{prefix}PLATFORM"), p.to_string());
            args.insert(format!("{prefix}OS"), p.os.clone());
            args.insert(format!("{prefix}ARCH"), p.architecture.clone());
            args.insert(
                format!("{prefix}VARIANT"),
                p.variant.clone().unwrap_or_default(),
            );
        }
        args.extend(self.build_args.clone());
        args
    }
}

/// Options handled by BuildKit or the client themselves, or that only steer how the request reached
/// us; nothing for a frontend to do.
const PASSIVE: &[&str] = &[
    "source",
    "cmdline",
    "frontend.caps",
    "build-arg:BUILDKIT_SYNTAX",
    "build-arg:BUILDKIT_MULTI_PLATFORM",
    "build-arg:BUILDKIT_INLINE_CACHE",
];
const PASSIVE_PREFIXES: &[&str] = &["attest:", "vcs:", "input-metadata:", "input:"];

pub fn parse_options(opts: &BTreeMap<String, String>) -> Result<BuildOptions, Diagnostics> {
    let mut o = BuildOptions::default();
    let mut diags = Vec::new();
    let mut platform_contexts = Vec::new();
    let unsupported = |key: &str, what: &str| {
        Diagnostic::option(key, format!("{what} is not supported by Strata yet"))
    };
    for (key, value) in opts {
        let key = key.as_str();
        if PASSIVE.contains(&key) || PASSIVE_PREFIXES.iter().any(|p| key.starts_with(p)) {
            continue;
        }
        if let Some(name) = key.strip_prefix("build-arg:") {
            if name == "SOURCE_DATE_EPOCH" && !value.is_empty() {
                match value.trim().parse::<u64>() {
                    Ok(n) => o.source_date_epoch = Some(n),
                    Err(_) => diags.push(
                        Diagnostic::option(key, format!("`{value}` is not a number of seconds"))
                            .help("SOURCE_DATE_EPOCH is seconds since 1970, e.g. `$(git log -1 --format=%ct)`"),
                    ),
                }
            }
            o.build_args.insert(name.to_string(), value.clone());
            continue;
        }
        if let Some(name) = key.strip_prefix("label:") {
            o.labels.insert(name.to_string(), value.clone());
            continue;
        }
        if let Some(name) = key.strip_prefix("local-sessionid:") {
            o.local_sessions.insert(name.to_string(), value.clone());
            continue;
        }
        if let Some(name) = key.strip_prefix("context:") {
            // `NAME::PLATFORM` keys are per-platform variants; the plain key serves every platform.
            if name.contains("::") {
                platform_contexts.push((key.to_string(), value.clone()));
                continue;
            }
            match named_context(key, value) {
                Ok(Named::Image(r)) => {
                    o.named_contexts.insert(name.to_string(), r);
                }
                Ok(Named::Directory(local)) => match directory_name(key, name) {
                    Ok(()) => {
                        o.local_contexts.insert(name.to_string(), local);
                    }
                    Err(d) => diags.push(d),
                },
                Err(d) => diags.push(d),
            }
            continue;
        }
        match key {
            "filename" => {
                if !value.is_empty() {
                    o.filename = value.clone();
                }
            }
            "dockerfilekey" => {
                o.dockerfile_local = value.clone();
                o.dockerfile_local_forced = true;
            }
            "contextkey" => o.context_local = value.clone(),
            "target" if value.is_empty() => {}
            "target" => match StageName::from_name(value) {
                Some(s) => o.target = Some(s),
                None => diags.push(
                    Diagnostic::option(key, format!("there is no stage `{value}`")).help(format!(
                        "Strata's stages are {}",
                        StageName::ALL.map(StageName::name).join(", ")
                    )),
                ),
            },
            "platform" => {
                for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match Platform::parse(item) {
                        Ok(p) if o.platforms.contains(&p) => {}
                        Ok(p) => o.platforms.push(p),
                        Err(e) => diags.push(Diagnostic::option(key, e)),
                    }
                }
            }
            "multi-platform" => o.multi_platform = value == "true",
            "no-cache" => {
                o.no_cache = if value.is_empty() {
                    NoCache::All
                } else {
                    let mut stages = BTreeSet::new();
                    for name in value.split(',').map(str::trim) {
                        match StageName::from_name(name) {
                            Some(s) => {
                                stages.insert(s);
                            }
                            None => diags.push(Diagnostic::option(
                                key,
                                format!("there is no stage `{name}` (stages: base, deps, build, runtime)"),
                            )),
                        }
                    }
                    NoCache::Stages(stages)
                }
            }
            "image-resolve-mode" => {
                o.resolve_mode = match value.as_str() {
                    "" | "default" => ResolveMode::Default,
                    "pull" => ResolveMode::Pull,
                    "local" => ResolveMode::Local,
                    other => {
                        diags.push(Diagnostic::option(
                            key,
                            format!(
                                "unknown resolve mode `{other}` (expected default, pull or local)"
                            ),
                        ));
                        ResolveMode::Default
                    }
                }
            }
            "cache-imports" => {
                if !value.is_empty() {
                    match serde_json::from_str::<Vec<CacheImport>>(value) {
                        Ok(list) => o.cache_imports.extend(list),
                        Err(e) => diags.push(Diagnostic::option(key, format!("invalid JSON: {e}"))),
                    }
                }
            }
            // The legacy form Docker 20.10 sends: a comma list of registry references.
            "cache-from" => {
                for r in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    o.cache_imports.push(CacheImport {
                        kind: "registry".into(),
                        attrs: BTreeMap::from([("ref".to_string(), r.to_string())]),
                    });
                }
            }
            "add-hosts" => {
                for entry in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match entry.split_once(['=', ':']) {
                        Some((host, ip)) if !host.is_empty() && !ip.is_empty() => {
                            o.extra_hosts.push((host.to_string(), ip.to_string()))
                        }
                        _ => {
                            diags.push(Diagnostic::option(key, format!("`{entry}` is not host=ip")))
                        }
                    }
                }
            }
            "force-network-mode" => {
                o.network = match value.as_str() {
                    "" | "sandbox" | "default" => NetworkMode::Sandbox,
                    "host" => NetworkMode::Host,
                    "none" => NetworkMode::None,
                    other => {
                        diags.push(Diagnostic::option(
                            key,
                            format!(
                                "unknown network mode `{other}` (expected sandbox, host or none)"
                            ),
                        ));
                        NetworkMode::Sandbox
                    }
                }
            }
            "hostname" => {
                if !value.is_empty() {
                    o.hostname = Some(value.clone());
                }
            }
            // Always sent by some clients with a neutral value; only a real setting is an error.
            "shm-size" if value.is_empty() || value == "0" => {}
            "ulimit" | "cgroup-parent" if value.is_empty() || value == "[]" => {}
            "shm-size" | "ulimit" | "cgroup-parent" => {
                diags.push(unsupported(key, &format!("`--{key}`")));
            }
            "context" if value.is_empty() => {}
            "context" => match GitContext::parse(value) {
                Some(Ok(git)) => o.git_context = Some(git),
                Some(Err(e)) => diags.push(Diagnostic::option(key, e)),
                None => diags.push(
                    unsupported(key, "a build context from a URL that is not a Git repository")
                        .help("build from a local directory or a Git URL (`https://host/repo.git#ref:dir`, `git@host:repo.git`)"),
                ),
            },
            "contextsubdir" => {
                if !value.is_empty() {
                    diags.push(unsupported(key, "a context subdirectory"));
                }
            }
            "requestid" if value.is_empty() => {}
            "requestid" => match Request::ALL.into_iter().find(|r| r.id() == value) {
                Some(r) => o.request = Some(r),
                // buildx matches this message to fall back to the Dockerfile frontend's answer.
                None => diags.push(
                    Diagnostic::option(key, format!("unsupported request {value}")).help(format!(
                        "Strata answers {}",
                        Request::ALL.map(Request::id).join(", ")
                    )),
                ),
            },
            _ => o.ignored.push(key.to_string()),
        }
    }
    if o.platforms.len() > 1 {
        o.multi_platform = true;
    }
    if let Some(git) = &mut o.git_context {
        // As the Dockerfile frontend reads it: a Go boolean.
        git.keep_git_dir = matches!(
            o.build_args
                .get("BUILDKIT_CONTEXT_KEEP_GIT_DIR")
                .map(String::as_str),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        );
    }
    for (key, value) in platform_contexts {
        let rest = &key["context:".len()..];
        let Some((name, platform)) = rest.split_once("::") else {
            continue;
        };
        let platform = match Platform::parse(platform) {
            Ok(p) => p.to_string(),
            Err(e) => {
                diags.push(Diagnostic::option(&key, e));
                continue;
            }
        };
        match named_context(&key, &value) {
            Ok(Named::Image(r)) => {
                o.platform_contexts.insert((name.to_string(), platform), r);
            }
            Ok(Named::Directory(_)) => diags.push(Diagnostic::option(
                &key,
                "a directory cannot be a per-platform named context",
            )),
            Err(d) => diags.push(d),
        }
    }
    if diags.is_empty() {
        Ok(o)
    } else {
        Err(Diagnostics(diags))
    }
}

/// What a named context stands for.
enum Named {
    /// `docker-image://REF`: the image replacing the one the spec (or a recipe) names.
    Image(ImageRef),
    /// `local:LOCAL`: a directory of the client, synced as the local source `LOCAL`.
    Directory(String),
}

/// A named context's value: an image, or a directory of the client.
fn named_context(key: &str, value: &str) -> Result<Named, Diagnostic> {
    if let Some(local) = value.strip_prefix("local:") {
        return Ok(Named::Directory(local.to_string()));
    }
    let Some(reference) = value.strip_prefix("docker-image://") else {
        let kind = value.split_once("://").map_or(value, |(scheme, _)| scheme);
        return Err(Diagnostic::option(
            key,
            format!("a named context from `{kind}` is not supported: Strata takes images and directories"),
        )
        .help("use `--build-context NAME=docker-image://IMAGE`, where NAME is the image the spec names, or `--build-context NAME=DIR`"));
    };
    ImageRef::parse(reference)
        .map(Named::Image)
        .map_err(|e| Diagnostic::option(key, e))
}

/// A directory named context appears at `NAME/` in the build context, so its name must be one plain
/// directory name (an image name, with its tag or registry, cannot be one).
fn directory_name(key: &str, name: &str) -> Result<(), Diagnostic> {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.starts_with('.');
    if plain {
        return Ok(());
    }
    Err(Diagnostic::option(
        key,
        format!("a directory cannot replace `{name}`: Strata puts a directory named context at `NAME/` in the build context, and `{name}` is not a plain directory name"),
    )
    .help("name it like a directory (`--build-context shared=../lib` puts ../lib at `shared/`); an image is replaced with `docker-image://IMAGE`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn decodes_what_docker_26_and_20_10_send() {
        let o = parse_options(&opts(&[
            ("cmdline", "local/strata:dev"),
            ("source", "local/strata:dev"),
            ("filename", "strata.toml"),
            ("image-resolve-mode", "local"),
            ("build-arg:X", "1"),
            ("label:a", "b"),
            ("no-cache", ""),
            ("platform", "linux/amd64"),
            ("target", "deps"),
            ("add-hosts", ""),
            ("cache-from", ""),
        ]))
        .unwrap();
        assert_eq!(o.filename, "strata.toml");
        assert_eq!(o.resolve_mode, ResolveMode::Local);
        assert_eq!(o.build_args["X"], "1");
        assert_eq!(o.labels["a"], "b");
        assert_eq!(o.no_cache, NoCache::All);
        assert_eq!(o.platforms, [Platform::linux_amd64()]);
        assert_eq!(o.target, Some(StageName::Deps));
        assert!(o.cache_imports.is_empty());
        assert!(o.ignored.is_empty());
    }

    #[test]
    fn cache_imports_from_both_forms() {
        let o = parse_options(&opts(&[
            (
                "cache-imports",
                r#"[{"Type":"registry","Attrs":{"ref":"r/a:cache"}}]"#,
            ),
            ("cache-from", "r/b:cache"),
        ]))
        .unwrap();
        let mut refs: Vec<&str> = o
            .cache_imports
            .iter()
            .map(|c| c.attrs["ref"].as_str())
            .collect();
        refs.sort();
        assert_eq!(refs, ["r/a:cache", "r/b:cache"]);
    }

    #[test]
    fn errors_name_the_option() {
        let cases = [
            (
                ("platform", "linux/amd64,windows/"),
                "build option `platform`: ",
            ),
            (
                ("target", "final"),
                "build option `target`: there is no stage `final`",
            ),
            (
                ("requestid", "frontend.convertllb"),
                "build option `requestid`: unsupported request frontend.convertllb",
            ),
            (
                ("image-resolve-mode", "always"),
                "build option `image-resolve-mode`: unknown resolve mode",
            ),
            (
                ("context:python:3.12-slim", "local:ctx"),
                "build option `context:python:3.12-slim`: a directory cannot replace `python:3.12-slim`",
            ),
            (
                ("context:shared::linux/amd64", "local:shared"),
                "build option `context:shared::linux/amd64`: a directory cannot be a per-platform named context",
            ),
            (
                ("context:lib", "https://example.com/lib.tar.gz"),
                "build option `context:lib`: a named context from `https` is not supported",
            ),
            (
                ("context", "https://example.com/app.tar.gz"),
                "build option `context`: a build context from a URL that is not a Git repository is not supported by Strata yet",
            ),
            (
                ("context", "https://example.com/app.git?ref=main"),
                "build option `context`: query parameters in a Git URL are not supported",
            ),
            (
                ("context", "git://example.com/app.git#main:../up"),
                "build option `context`: the context directory `../up` points outside",
            ),
            (
                ("shm-size", "1024"),
                "build option `shm-size`: `--shm-size` is not supported",
            ),
        ];
        for ((k, v), expected) in cases {
            let err = parse_options(&opts(&[(k, v)])).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{k}={v}: {err}");
        }
    }

    #[test]
    fn named_contexts_replace_images_per_platform() {
        let o = parse_options(&opts(&[
            ("context:python:3.12-slim", "docker-image://local/py:1"),
            (
                "context:node:22-slim::linux/arm64",
                "docker-image://local/node:arm",
            ),
            (
                "context:node:22-slim::linux/amd64",
                "docker-image://local/node:amd",
            ),
            ("platform", "linux/amd64"),
        ]))
        .unwrap();
        let amd = Platform::linux_amd64();
        let arm = Platform::parse("linux/arm64").unwrap();
        let named = |name: &str, p: &Platform| o.named_context(name, p).unwrap().to_string();
        assert_eq!(named("python:3.12-slim", &arm), "docker.io/local/py:1");
        assert_eq!(named("node:22-slim", &amd), "docker.io/local/node:amd");
        assert_eq!(named("node:22-slim", &arm), "docker.io/local/node:arm");
        assert!(o.named_context("ruby:3", &amd).is_none());
    }

    #[test]
    fn git_contexts_in_the_forms_buildkit_takes() {
        let git = |v: &str| GitContext::parse(v).unwrap().unwrap();
        let g = git("git://127.0.0.1:9444/repo.git#main:apps/api");
        assert_eq!(g.remote, "git://127.0.0.1:9444/repo.git");
        assert_eq!(g.host_path, "127.0.0.1:9444/repo.git");
        assert_eq!(
            (g.reference.as_str(), g.subdir.as_str()),
            ("main", "apps/api")
        );
        assert!(!g.ssh);
        let g = git("https://user:token@example.com/org/repo.git");
        assert_eq!(g.remote, "https://user:token@example.com/org/repo.git");
        assert_eq!(g.host_path, "example.com/org/repo.git");
        assert_eq!((g.reference.as_str(), g.subdir.as_str()), ("", ""));
        let g = git("git@github.com:org/repo.git#v1.2");
        assert_eq!(
            (g.host_path.as_str(), g.reference.as_str()),
            ("github.com/org/repo.git", "v1.2")
        );
        assert!(g.ssh);
        let g = git("ssh://git@example.com/org/repo.git#:sub/");
        assert_eq!((g.reference.as_str(), g.subdir.as_str()), ("", "sub"));
        assert!(g.ssh);
        let g = git("github.com/org/repo");
        assert_eq!(g.remote, "https://github.com/org/repo");
        // Not Git: a plain directory name, a tarball URL, a Windows-ish path.
        for other in [
            "app",
            "./app",
            "https://example.com/app.tar.gz",
            "C:/src",
            "/srv/app",
        ] {
            assert!(GitContext::parse(other).is_none(), "{other}");
        }
        let o = parse_options(&opts(&[
            ("context", "git://h/r.git"),
            ("build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", "true"),
        ]))
        .unwrap();
        assert!(o.git_context.unwrap().keep_git_dir);
        assert!(!o.dockerfile_local_forced);
        let forced = parse_options(&opts(&[("dockerfilekey", "dockerfile")])).unwrap();
        assert!(forced.dockerfile_local_forced);
    }

    #[test]
    fn directory_named_contexts_are_kept_by_name() {
        let o = parse_options(&opts(&[
            ("context:shared", "local:shared"),
            ("context:lib-2.x_y", "local:_lib"),
            ("context:python:3.12-slim", "docker-image://local/py:1"),
        ]))
        .unwrap();
        assert_eq!(o.local_contexts["shared"], "shared");
        assert_eq!(o.local_contexts["lib-2.x_y"], "_lib");
        assert_eq!(o.local_contexts.len(), 2);
        assert_eq!(o.named_contexts.len(), 1);
        for bad in ["a/b", "..", ".hidden", "docker.io/x:1"] {
            let key = format!("context:{bad}");
            let err = parse_options(&opts(&[(&key, "local:x")]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("a directory cannot replace"), "{bad}: {err}");
        }
    }

    #[test]
    fn several_platforms_make_a_multi_platform_build() {
        let o =
            parse_options(&opts(&[("platform", "linux/amd64, linux/386,linux/amd64")])).unwrap();
        let ids: Vec<String> = o.platforms.iter().map(Platform::to_string).collect();
        assert_eq!(ids, ["linux/amd64", "linux/386"]);
        assert!(o.multi_platform);
        let one = parse_options(&opts(&[("platform", "linux/386")])).unwrap();
        assert!(!one.multi_platform);
        let asked = parse_options(&opts(&[
            ("platform", "linux/386"),
            ("multi-platform", "true"),
        ]))
        .unwrap();
        assert!(asked.multi_platform);
    }

    #[test]
    fn subrequests_are_recognised() {
        for r in Request::ALL {
            let o = parse_options(&opts(&[("requestid", r.id())])).unwrap();
            assert_eq!(o.request, Some(r));
        }
    }

    #[test]
    fn unknown_options_are_collected_not_fatal() {
        let o = parse_options(&opts(&[("some-future-option", "x")])).unwrap();
        assert_eq!(o.ignored, ["some-future-option"]);
    }
}
