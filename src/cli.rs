//! The command line: `strata plan DIR` and `strata llb DIR` run the same core as the frontend, on a
//! directory instead of a BuildKit session, with no daemon.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use prost::Message;

use crate::caps::Caps;
use crate::context::ContextFiles;
use crate::diag::{Diagnostic, Diagnostics};
use crate::lower::{self, Context, LowerInput};
use crate::options::{BuildOptions, parse_options};
use crate::pattern::{PatternSet, parse_ignore_file};
use crate::platform::Platform;
use crate::recipe;
use crate::spec;

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "Build container images from a short spec, as a BuildKit frontend"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Subcommand)]
pub enum CliCommand {
    /// Run as a BuildKit gateway frontend (the frontend image's entrypoint).
    Frontend,
    /// Print the build plan for a directory: stages, steps, what keys the install, cache mounts.
    Plan(Target),
    /// Write the LLB definition (a binary pb.Definition) for a directory to stdout.
    Llb(Target),
}

#[derive(Args)]
pub struct Target {
    /// The build context directory.
    pub dir: PathBuf,
    /// The spec file, relative to DIR [default: strata.toml, else Dockerfile].
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Build arguments for `${NAME}` in the spec.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
    /// Stop at this stage: base, deps, build or runtime.
    #[arg(long)]
    pub target: Option<String>,
    /// Target platform [default: linux/amd64].
    #[arg(long)]
    pub platform: Option<String>,
}

pub fn run(command: CliCommand) -> Result<(), Diagnostics> {
    match command {
        CliCommand::Frontend => unreachable!("handled by main"),
        CliCommand::Plan(t) => {
            let prepared = prepare(&t)?;
            print!("{}", prepared.plan.render());
            Ok(())
        }
        CliCommand::Llb(t) => {
            let prepared = prepare(&t)?;
            let images = BTreeMap::new();
            let platform = prepared.platform.clone();
            let lowered = lower::lower(&LowerInput {
                plan: &prepared.plan,
                images: &images,
                options: &prepared.options,
                platform: &platform,
                caps: &Caps::current(),
                context: &Context::Local {
                    name: "context".into(),
                    session: None,
                },
                spec: Some(&prepared.spec.source),
            })?;
            std::io::stdout()
                .write_all(&lowered.definition.encode_to_vec())
                .map_err(|e| Diagnostic::plain(format!("writing to stdout: {e}")))?;
            Ok(())
        }
    }
}

struct Prepared {
    spec: spec::Spec,
    plan: crate::plan::Plan,
    options: BuildOptions,
    platform: Platform,
}

fn prepare(t: &Target) -> Result<Prepared, Diagnostics> {
    let mut opts = BTreeMap::new();
    for a in &t.build_args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| Diagnostic::option("build-arg", format!("`{a}` is not NAME=VALUE")))?;
        opts.insert(format!("build-arg:{k}"), v.to_string());
    }
    if let Some(target) = &t.target {
        opts.insert("target".into(), target.clone());
    }
    if let Some(p) = &t.platform {
        opts.insert("platform".into(), p.clone());
    }
    let options = parse_options(&opts)?;
    let platform = options
        .platform
        .clone()
        .unwrap_or_else(Platform::linux_amd64);

    let file = match &t.file {
        Some(f) => f.clone(),
        None if t.dir.join("strata.toml").is_file() => "strata.toml".into(),
        None => "Dockerfile".into(),
    };
    let spec_path = t.dir.join(&file);
    let text = std::fs::read(&spec_path).map_err(|e| {
        Diagnostic::plain(format!("cannot read the spec {}: {e}", spec_path.display()))
            .help("pass the spec with -f, relative to the directory")
    })?;
    let spec = spec::parse(
        spec::decode(&file, text)?,
        &options.spec_args(&platform, &platform),
    )?;

    let ignore = [format!("{file}.dockerignore"), ".dockerignore".into()]
        .iter()
        .map(|f| t.dir.join(f))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|text| parse_ignore_file(&text))
        .unwrap_or_default();
    let recipe = recipe::recipe_for(spec.language.value);
    let include = PatternSet::new(&recipe.probe(&spec)).map_err(Diagnostic::plain)?;
    let exclude =
        PatternSet::new(&ignore).map_err(|e| Diagnostic::plain(format!(".dockerignore: {e}")))?;
    let mut listed = Vec::new();
    walk(&t.dir, "", &include, &exclude, &mut listed);
    let mut ctx = ContextFiles::new(ignore);
    let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
    for path in recipe.files_to_read(&spec, &refs) {
        if let Ok(bytes) = std::fs::read(t.dir.join(&path)) {
            ctx.add_content(path, bytes);
        }
    }
    for path in listed {
        ctx.add_listed(path);
    }
    let plan = recipe::plan(&spec, &ctx)?;
    Ok(Prepared {
        spec,
        plan,
        options,
        platform,
    })
}

/// Lists the files under `dir` that the include set selects and `.dockerignore` does not exclude,
/// as BuildKit's transfer of a filtered local source would.
fn walk(root: &Path, rel: &str, include: &PatternSet, exclude: &PatternSet, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let excluded = exclude.matches(&path);
        if kind.is_dir() {
            let prune = excluded && !exclude.has_negations();
            if !prune && include.could_match_below(&path) {
                walk(root, &path, include, exclude, out);
            }
        } else if !excluded && include.matches(&path) {
            out.push(path);
        }
    }
}
