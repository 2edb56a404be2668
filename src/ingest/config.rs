//! How an organisation's paging tools reach paydown: per-source secrets, the replay
//! window, and the mapping of tool identities to paydown's people and services.
//!
//! Read from a TOML file (`--ingest-config`, `PAYDOWN_INGEST_CONFIG`):
//!
//! ```toml
//! replay_window_seconds = 900          # deliveries older or newer than this are refused
//!
//! [sources.pagerduty]
//! hmac_secrets = ["<webhook subscription secret>"]   # several during a rotation
//!
//! [sources.alertmanager]
//! bearer_sha256 = ["<sha256 hex of the bearer token Alertmanager sends>"]
//!
//! [sources.grafana_oncall]
//! hmac_secrets = ["whsec_…"]          # Standard Webhooks signing
//!
//! [sync.pagerduty]                     # `paydown sync pagerduty` without --token
//! token = "<read-only REST API key>"
//!
//! [sync.opsgenie]                      # also `grafana_oncall` (which needs api_url)
//! token_env = "OPSGENIE_API_KEY"       # the key read from this variable instead
//! interval_seconds = 300               # `paydown serve` syncs every 5 minutes
//!
//! [mapping]                            # see `SourceMapping`
//! people = { "PXPGF42" = "alice", "bob@example.com" = "bob" }
//! services = { "PIJ90N7" = "checkout" }
//! ```
//!
//! HMAC secrets must be kept as they are to compute signatures, so they live in this
//! file (protect it like any credential), never in the database; bearer tokens are
//! given as their SHA-256. A tool may also send a paydown API token of the `ingest`
//! role as `Authorization: Bearer`, which needs no entry here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SourceMapping;
use crate::secret::Secret;

/// Default replay window: PagerDuty and Standard Webhooks senders retry within minutes.
pub const REPLAY_WINDOW_SECONDS_DEFAULT: i64 = 900;

/// The ingest configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    pub replay_window_seconds: i64,
    pub sources: BTreeMap<String, SourceSecrets>,
    pub mapping: SourceMapping,
    /// `paydown sync <tool>` settings per tool (`[sync.pagerduty] token = "…"`).
    pub sync: BTreeMap<String, SyncSettings>,
}

/// What `paydown sync <tool>` may read from the configuration instead of its flags.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// A read-only REST API key (protect this file like any credential).
    pub token: Option<Secret>,
    /// The environment variable holding the key (kept out of this file).
    pub token_env: Option<String>,
    /// Another API host than the tool's public one.
    pub api_url: Option<String>,
    /// When set, `paydown serve` runs this sync in the background every so many seconds.
    pub interval_seconds: Option<u64>,
}

/// The tools `paydown sync` reads, as `[sync.<tool>]` names them.
pub const SYNC_TOOLS: [&str; 3] = ["pagerduty", "opsgenie", "grafana_oncall"];
/// The shortest interval of a scheduled sync: the tools' rate limits are per minute.
pub const SYNC_INTERVAL_SECONDS_MIN: u64 = 60;
/// The longest: a week.
pub const SYNC_INTERVAL_SECONDS_MAX: u64 = 7 * 24 * 3_600;

impl SyncSettings {
    /// The key: `token`, else the variable `token_env` names.
    pub fn key(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|token| token.expose().to_owned())
            .or_else(|| self.token_env.as_ref().and_then(|name| std::env::var(name).ok()))
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            replay_window_seconds: REPLAY_WINDOW_SECONDS_DEFAULT,
            sources: BTreeMap::new(),
            mapping: SourceMapping::default(),
            sync: BTreeMap::new(),
        }
    }
}

/// What authenticates one source's deliveries.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceSecrets {
    /// PagerDuty v3 signing secrets, or Standard Webhooks secrets for other sources.
    pub hmac_secrets: Vec<Secret>,
    /// SHA-256 (hex) of bearer tokens the tool sends.
    pub bearer_sha256: Vec<String>,
}

impl IngestConfig {
    /// Parses the TOML text; an unknown key is an error naming it.
    pub fn parse(text: &str) -> Result<IngestConfig, String> {
        let config: IngestConfig = toml::from_str(text).map_err(|error| error.to_string())?;
        if config.replay_window_seconds <= 0 {
            return Err("replay_window_seconds must be positive".into());
        }
        for (source, secrets) in &config.sources {
            if !super::SOURCES.contains(&source.as_str()) {
                return Err(format!("unknown source `{source}`: expected one of {}", super::SOURCES.join(", ")));
            }
            for hash in &secrets.bearer_sha256 {
                if hex::decode(hash).map(|bytes| bytes.len()) != Ok(32) {
                    return Err(format!("sources.{source}.bearer_sha256: `{hash}` is not a SHA-256 in hex"));
                }
            }
        }
        for (tool, settings) in &config.sync {
            if !SYNC_TOOLS.contains(&tool.as_str()) {
                return Err(format!("unknown sync tool `{tool}`: expected one of {}", SYNC_TOOLS.join(", ")));
            }
            if let Some(seconds) = settings.interval_seconds
                && !(SYNC_INTERVAL_SECONDS_MIN..=SYNC_INTERVAL_SECONDS_MAX).contains(&seconds)
            {
                return Err(format!(
                    "sync.{tool}.interval_seconds: {seconds} is outside {SYNC_INTERVAL_SECONDS_MIN}..={SYNC_INTERVAL_SECONDS_MAX}"
                ));
            }
        }
        Ok(config)
    }

    pub fn secrets(&self, source: &str) -> SourceSecrets {
        self.sources.get(source).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_reads_and_refuses_typos() {
        let config = IngestConfig::parse(
            r#"
replay_window_seconds = 600
[sources.pagerduty]
hmac_secrets = ["a", "b"]
[mapping]
people = { "PXPGF42" = "alice" }
"#,
        )
        .unwrap();
        assert_eq!(config.secrets("pagerduty").hmac_secrets.len(), 2);
        assert_eq!(config.mapping.people.get("PXPGF42").map(String::as_str), Some("alice"));
        assert!(IngestConfig::parse("replay_window = 5").unwrap_err().contains("replay_window"));
        assert!(IngestConfig::parse("[sources.pagerdooty]").unwrap_err().contains("pagerdooty"));
        assert!(IngestConfig::parse("[sources.alertmanager]\nbearer_sha256 = [\"xyz\"]").is_err());
        let config = IngestConfig::parse("[sync.pagerduty]\ntoken = \"k\"").unwrap();
        assert_eq!(config.sync["pagerduty"].token.as_ref().map(Secret::expose), Some("k"));
        assert!(IngestConfig::parse("[sync.pagerdooty]\ntoken = \"k\"").unwrap_err().contains("pagerdooty"));
        assert!(IngestConfig::parse("[sync.pagerduty]\ntokn = \"k\"").unwrap_err().contains("tokn"));
        let config = IngestConfig::parse(
            "[sync.opsgenie]\ntoken_env = \"PAYDOWN_TEST_UNSET_VARIABLE\"\ninterval_seconds = 300\n[sync.grafana_oncall]\ntoken = \"g\"\napi_url = \"http://127.0.0.1:9\"",
        )
        .unwrap();
        assert_eq!(config.sync["opsgenie"].interval_seconds, Some(300));
        assert_eq!(config.sync["opsgenie"].key(), None, "the variable is not set");
        assert_eq!(config.sync["grafana_oncall"].key().as_deref(), Some("g"));
        let too_often = IngestConfig::parse("[sync.opsgenie]\ninterval_seconds = 5").unwrap_err();
        assert!(too_often.contains("sync.opsgenie.interval_seconds"), "{too_often}");
    }
}
