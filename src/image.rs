//! The OCI/Docker image config: what we read from `ResolveImageConfig` (leniently: Docker 20.10
//! writes `null` where newer engines omit keys) and what we emit as `containerimage.config`.
//! Maps are `BTreeMap` so the JSON is byte-for-byte reproducible.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub config: ContainerConfig,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_default")]
    pub diff_ids: Vec<String>,
}

/// The `config` section, Docker's superset of OCI (Healthcheck, Shell, OnBuild…). Keys we do not
/// model are kept in `extra`, so inheriting a base image loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, String> {
        if bytes.is_empty() {
            return Ok(ImageConfig::default());
        }
        serde_json::from_slice(bytes).map_err(|e| format!("unreadable image config: {e}"))
    }

    /// BuildKit treats an image without layers as `scratch`.
    pub fn has_layers(&self) -> bool {
        self.rootfs.as_ref().is_some_and(|r| !r.diff_ids.is_empty())
            || self.history.iter().any(|h| h.empty_layer != Some(true))
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `SOURCE_DATE_EPOCH` (seconds since 1970) as the RFC 3339 UTC time image configs carry.
pub fn rfc3339(epoch: u64) -> String {
    let (days, secs) = (epoch / 86_400, epoch % 86_400);
    // Howard Hinnant's civil-from-days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An ordered environment (`KEY=value` list, the order images keep it in), where setting a key
/// again replaces it in place, and values can refer to earlier ones as `$NAME` or `${NAME}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(String, String)>,
}

impl Environment {
    pub fn from_list(list: &[String]) -> Environment {
        let mut env = Environment::default();
        for entry in list {
            let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
            env.set_raw(k, v.to_string());
        }
        env
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn set_raw(&mut self, key: &str, value: String) {
        match self.vars.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((key.to_string(), value)),
        }
    }

    /// Sets `key`, expanding references to variables already set (Dockerfile `ENV` semantics;
    /// `\$` is a literal dollar; unknown names expand to nothing).
    pub fn set(&mut self, key: &str, value: &str) {
        let expanded = self.expand(value);
        self.set_raw(key, expanded);
    }

    pub fn expand(&self, value: &str) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::with_capacity(value.len());
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' if chars.get(i + 1) == Some(&'$') => {
                    out.push('$');
                    i += 2;
                }
                '$' if chars.get(i + 1) == Some(&'{') => {
                    match chars[i + 2..].iter().position(|c| *c == '}') {
                        Some(len) => {
                            let name: String = chars[i + 2..i + 2 + len].iter().collect();
                            out.push_str(self.get(&name).unwrap_or(""));
                            i += len + 3;
                        }
                        None => {
                            out.push('$');
                            i += 1;
                        }
                    }
                }
                '$' if chars
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') =>
                {
                    let len = chars[i + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                        .count();
                    let name: String = chars[i + 1..i + 1 + len].iter().collect();
                    out.push_str(self.get(&name).unwrap_or(""));
                    i += len + 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }

    pub fn to_list(&self) -> Vec<String> {
        self.vars.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_20_10_configs_with_nulls() {
        let json = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin"],"Cmd":null,"OnBuild":null,"Labels":null,"Healthcheck":{"Test":["NONE"]}},"history":[{"created_by":"x"}],"rootfs":{"type":"layers","diff_ids":["sha256:a"]}}"#;
        let c = ImageConfig::parse(json).unwrap();
        assert_eq!(
            c.config.env.as_deref(),
            Some(&["PATH=/usr/bin".to_string()][..])
        );
        assert!(c.config.cmd.is_none());
        assert!(c.has_layers());
        // Unmodelled keys survive a round trip (Healthcheck) and nulls stay null.
        let out: Value = serde_json::from_slice(&c.to_json()).unwrap();
        assert_eq!(out["config"]["Healthcheck"]["Test"][0], "NONE");
        assert!(out["config"]["OnBuild"].is_null());
    }

    #[test]
    fn epochs_become_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn environment_expands_like_dockerfile_env() {
        let mut env = Environment::from_list(&["PATH=/usr/bin:/bin".into(), "A=1".into()]);
        env.set("PATH", "/opt/venv/bin:$PATH");
        env.set("B", "${A}-x-$MISSING-\\$A");
        env.set("A", "2");
        assert_eq!(
            env.to_list(),
            ["PATH=/opt/venv/bin:/usr/bin:/bin", "A=2", "B=1-x--$A"]
        );
    }
}
