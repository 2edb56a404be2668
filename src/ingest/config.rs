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
    /// Another API host than the tool's public one.
    pub api_url: Option<String>,
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
        if let Some(tool) = config.sync.keys().find(|tool| tool.as_str() != "pagerduty") {
            return Err(format!("unknown sync tool `{tool}`: expected pagerduty"));
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
    }
}
