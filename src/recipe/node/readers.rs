//! The Node tools' small files, read as much as the recipe needs and no more: the first lines of
//! `yarn.lock` and `pnpm-lock.yaml` (which tool and format wrote them), the top-level keys of
//! `.yarnrc.yml`, the member list of `pnpm-workspace.yaml`, a Procfile's `web:` line. Pure
//! functions from text to data, in one pass over the lines; anything unexpected reads as
//! "nothing found", never as a panic.

/// What `yarn.lock`'s first lines say about the Yarn that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YarnLock {
    /// `# yarn lockfile v1`: Yarn 1 (classic).
    Classic,
    /// A `__metadata:` block: Yarn 2 or later, with the lockfile format (`version: 8`).
    Berry { format: Option<u32> },
    /// Neither marker before the first entry (or an empty file).
    Unknown,
}

/// Reads the start of a `yarn.lock`: the header comments, then the first entry, which is
/// `__metadata:` in Yarn 2+ lockfiles.
pub fn yarn_lock(head: &str) -> YarnLock {
    let mut lines = head.lines().map(|l| l.trim_end_matches('\r'));
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if comment.trim() == "yarn lockfile v1" {
                return YarnLock::Classic;
            }
            continue;
        }
        if line.trim_end() != "__metadata:" {
            return YarnLock::Unknown;
        }
        let format = lines
            .take_while(|l| l.starts_with([' ', '\t']))
            .find_map(|l| l.trim().strip_prefix("version:"))
            .and_then(|v| unquote(v.trim()).parse().ok());
        return YarnLock::Berry { format };
    }
    YarnLock::Unknown
}

/// The `lockfileVersion` of a `pnpm-lock.yaml` (`9.0`, `6.0`, `5.4`), from its first key.
pub fn pnpm_lock_version(head: &str) -> Option<String> {
    let line = head
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let value = line.strip_prefix("lockfileVersion:")?.trim();
    let value = unquote(value);
    let valid = !value.is_empty()
        && value.len() <= 16
        && value.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    valid.then(|| value.to_string())
}

/// A top-level setting of a YAML file, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub line: usize,
}

/// The top-level `key: value` settings of `.yarnrc.yml` (Yarn's own keys are never nested at the
/// top, and the recipe needs only scalars: `yarnPath`, `nodeLinker`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Yarnrc {
    settings: Vec<(String, Setting)>,
}

impl Yarnrc {
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }
}

pub fn yarnrc(text: &str) -> Yarnrc {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let settings = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with([' ', '\t', '#', '-']))
        .filter_map(|(i, l)| {
            let (key, value) = l.split_once(':')?;
            let key = unquote(key.trim());
            let valid = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric());
            let value = unquote(strip_comment(value).trim()).to_string();
            valid.then(|| (key.to_string(), Setting { value, line: i + 1 }))
        })
        .collect();
    Yarnrc { settings }
}

/// The member globs `pnpm-workspace.yaml` lists under `packages:` (block or flow style), with the
/// line of `packages:`; `None` when it lists none (the file may hold settings only).
pub fn pnpm_workspace_packages(text: &str) -> Option<(usize, Vec<String>)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate();
    let (line, rest) = lines.find_map(|(i, l)| {
        let rest = l.strip_prefix("packages")?.trim_start().strip_prefix(':')?;
        Some((i + 1, strip_comment(rest).trim()))
    })?;
    let members: Vec<String> = if let Some(flow) = rest.strip_prefix('[') {
        flow.trim_end_matches(']')
            .split(',')
            .map(|m| unquote(m.trim()).to_string())
            .filter(|m| !m.is_empty())
            .collect()
    } else {
        lines
            .map(|(_, l)| l)
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .take_while(|l| l.starts_with([' ', '\t', '-']))
            .filter_map(|l| l.trim().strip_prefix('-'))
            .map(|m| unquote(strip_comment(m).trim()).to_string())
            .filter(|m| !m.is_empty())
            .collect()
    };
    (!members.is_empty()).then_some((line, members))
}

/// The command of a Procfile's `web:` process, as Heroku reads it (`<type>: <command>`).
pub fn procfile_web(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (kind, command) = l.split_once(':')?;
        let command = command.trim();
        (kind.trim() == "web" && !command.is_empty()).then(|| command.to_string())
    })
}

/// A YAML comment starts at a `#` after whitespace, outside quotes.
fn strip_comment(value: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in value.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => return &value[..i],
            _ => {}
        }
        previous = c;
    }
    value
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yarn_lockfile_headers() {
        let classic = "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\naccepts@~1.3.8:\n  version \"1.3.8\"\n";
        assert_eq!(yarn_lock(classic), YarnLock::Classic);
        let berry = "# This file is generated by running \"yarn install\" inside your project.\n# Manual changes might be lost - proceed with caution!\n\n__metadata:\n  version: 8\n  cacheKey: 10c0\n\n\"accepts@npm:~1.3.8\":\n";
        assert_eq!(yarn_lock(berry), YarnLock::Berry { format: Some(8) });
        assert_eq!(
            yarn_lock("__metadata:\r\n  cacheKey: 10\r\n  version: \"6\"\r\n"),
            YarnLock::Berry { format: Some(6) }
        );
        assert_eq!(
            yarn_lock("__metadata:\n  version: x\n"),
            YarnLock::Berry { format: None }
        );
        assert_eq!(yarn_lock(""), YarnLock::Unknown);
        assert_eq!(
            yarn_lock("accepts@~1.3.8:\n# yarn lockfile v1\n"),
            YarnLock::Unknown
        );
        // The marker must be the whole comment.
        assert_eq!(
            yarn_lock("# not a yarn lockfile v1 at all\n"),
            YarnLock::Unknown
        );
    }

    #[test]
    fn pnpm_lockfile_versions() {
        assert_eq!(
            pnpm_lock_version("lockfileVersion: '9.0'\n\nsettings:\n").as_deref(),
            Some("9.0")
        );
        assert_eq!(
            pnpm_lock_version("lockfileVersion: 5.4\n").as_deref(),
            Some("5.4")
        );
        assert_eq!(
            pnpm_lock_version("---\nlockfileVersion: '6.0'\n").as_deref(),
            None,
            "a document marker first is not a version"
        );
        assert_eq!(pnpm_lock_version("lockfileVersion: 'nine'\n"), None);
        assert_eq!(pnpm_lock_version(""), None);
    }

    #[test]
    fn yarnrc_top_level_settings() {
        let rc = yarnrc(
            "# comment\nnodeLinker: node-modules\nyarnPath: \".yarn/releases/yarn-4.5.0.cjs\" # pinned\nnpmScopes:\n  acme:\n    npmRegistryServer: x\nplugins:\n  - path: .yarn/plugins/a.cjs\n",
        );
        assert_eq!(rc.get("nodeLinker").unwrap().value, "node-modules");
        let path = rc.get("yarnPath").unwrap();
        assert_eq!(path.value, ".yarn/releases/yarn-4.5.0.cjs");
        assert_eq!(path.line, 3);
        assert_eq!(
            rc.get("npmRegistryServer"),
            None,
            "nested keys are not top-level"
        );
        assert_eq!(rc.get("path"), None);
    }

    #[test]
    fn pnpm_workspace_members() {
        assert_eq!(
            pnpm_workspace_packages(
                "packages:\n  - 'packages/*'\n  # a comment\n  - \"apps/web\" # web\nonlyBuiltDependencies:\n  - esbuild\n"
            ),
            Some((1, vec!["packages/*".to_string(), "apps/web".to_string()]))
        );
        assert_eq!(
            pnpm_workspace_packages("catalog:\n  x: 1\npackages: ['a/*', b]\n"),
            Some((3, vec!["a/*".to_string(), "b".to_string()]))
        );
        assert_eq!(
            pnpm_workspace_packages("onlyBuiltDependencies:\n  - esbuild\n"),
            None,
            "settings only: not a workspace"
        );
        assert_eq!(pnpm_workspace_packages("packages:\n"), None);
    }

    #[test]
    fn procfile_web_process() {
        assert_eq!(
            procfile_web("worker: node worker.js\nweb: node server.js --port $PORT\n").as_deref(),
            Some("node server.js --port $PORT")
        );
        assert_eq!(procfile_web("web:\nworker: x\n"), None);
        assert_eq!(procfile_web(""), None);
    }
}
