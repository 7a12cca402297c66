//! The command line: `strata plan DIR` and `strata llb DIR` run the same core as the frontend, on a
//! directory instead of a BuildKit session, with no daemon.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use prost::Message;

use crate::caps::Caps;
use crate::context::{
    ContextSource, Entry, EntryKind, MAX_FILE_BYTES, ignore_patterns, read_context,
};
use crate::diag::{Diagnostic, Diagnostics};
use crate::lower::{self, Context, LowerInput};
use crate::options::{BuildOptions, parse_options};
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
            for note in &prepared.plan.notes {
                eprintln!("note: {note}");
            }
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
    if options.platforms.len() > 1 {
        return Err(Diagnostic::option(
            "platform",
            "`strata plan` and `strata llb` show one platform at a time",
        )
        .help("pass one `--platform`")
        .into());
    }
    let platform = options
        .platforms
        .first()
        .cloned()
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

    let read_optional = |name: &str| std::fs::read(t.dir.join(name)).ok();
    let ignore = ignore_patterns(
        read_optional(&format!("{file}.dockerignore")).as_deref(),
        read_optional(".dockerignore").as_deref(),
    );
    let recipe = recipe::recipe_for(&spec)?;
    let mut source = Directory::new(&t.dir)?;
    let ctx = block_on(read_context(&mut source, &spec, recipe, ignore))??;
    let plan = recipe::plan(&spec, &ctx)?;
    Ok(Prepared {
        spec,
        plan,
        options,
        platform,
    })
}

/// A build context on disk, read as BuildKit would send it: symbolic links are entries of their
/// own, and nothing outside the directory is read.
struct Directory {
    root: PathBuf,
}

impl Directory {
    fn new(dir: &Path) -> Result<Directory, Diagnostic> {
        let root = dir.canonicalize().map_err(|e| {
            Diagnostic::plain(format!("cannot open the directory {}: {e}", dir.display()))
        })?;
        Ok(Directory { root })
    }
}

impl ContextSource for Directory {
    async fn select(&mut self, _include: &[String], _exclude: &[String]) -> Result<(), Diagnostic> {
        Ok(())
    }

    async fn read_dirs(&mut self, dirs: &[String]) -> Result<Vec<Vec<Entry>>, Diagnostic> {
        Ok(dirs
            .iter()
            .map(|dir| {
                let Ok(entries) = std::fs::read_dir(self.root.join(dir)) else {
                    return Vec::new();
                };
                entries
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().into_string().ok()?;
                        let kind = e.file_type().ok()?;
                        let kind = if kind.is_symlink() {
                            let target = std::fs::read_link(e.path()).ok()?;
                            EntryKind::Symlink(target.to_string_lossy().into_owned())
                        } else if kind.is_dir() {
                            EntryKind::Dir
                        } else {
                            EntryKind::File
                        };
                        Some(Entry { name, kind })
                    })
                    .collect()
            })
            .collect())
    }

    async fn read_file(&mut self, path: &str) -> Result<Vec<u8>, Diagnostic> {
        let data = self.read_at_most(path, MAX_FILE_BYTES + 1)?;
        if data.len() > MAX_FILE_BYTES {
            return Err(Diagnostic::plain(format!(
                "`{path}` is larger than {} MiB, too large for a manifest",
                MAX_FILE_BYTES >> 20
            )));
        }
        Ok(data)
    }

    async fn read_head(&mut self, path: &str, limit: usize) -> Result<Vec<u8>, Diagnostic> {
        self.read_at_most(path, limit)
    }
}

impl Directory {
    fn read_at_most(&self, path: &str, limit: usize) -> Result<Vec<u8>, Diagnostic> {
        let failed = |e: std::io::Error| Diagnostic::plain(format!("reading {path}: {e}"));
        // A link inside the context may lead to another that leaves it: check where the chain ends.
        let real = self.root.join(path).canonicalize().map_err(failed)?;
        if !real.starts_with(&self.root) {
            return Err(Diagnostic::plain(format!(
                "`{path}` leads outside the build context through a symbolic link"
            ))
            .help("BuildKit sends only the build context: put the file itself in the context"));
        }
        let file = std::fs::File::open(&real).map_err(failed)?;
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, limit as u64), &mut data)
            .map_err(failed)?;
        Ok(data)
    }
}

/// Runs the context reader's future to completion: the directory source never waits.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Diagnostic> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Diagnostic::plain(format!("cannot start a runtime: {e}")))?;
    Ok(rt.block_on(future))
}
