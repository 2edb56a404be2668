//! One typed configuration for `paydown serve`: a TOML file (`--config paydown.toml`),
//! environment variables over it, and command-line flags over those
//! (flags > environment > file > defaults). `examples/paydown.toml` documents every key.
//!
//! Everything is checked once, at start, and an error names the key at fault
//! (`listen: invalid socket address "x"`), so a server never starts half-configured.
//! Secrets (webhook secrets, API keys, the database password) are `Secret`s or a redacted
//! URL: printing the configuration (`paydown config check`) never shows them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::ingest::config::IngestConfig;
use crate::secret::Secret;
use crate::storage::DatabaseUrl;
use crate::worker::WorkerSettings;

/// Where finance's payroll layouts live by default (`<dir>/payroll/<name>.toml`).
pub const DEFAULT_REPORTS_DIR: &str = "reports";
/// Bounds of every number in the configuration: a typo must not make a server that
/// spins on the database or never notices a stuck worker.
pub const WORKERS_MAX: usize = 1_024;
pub const POOL_SIZE_MAX: u32 = 256;
pub const POOL_WAIT_SECONDS_MAX: u64 = 300;
pub const JOURNAL_POLL_MS_RANGE: (u64, u64) = (10, 60_000);
pub const ROLLUP_INTERVAL_MS_RANGE: (u64, u64) = (100, 3_600_000);
pub const FAILURE_BACKOFF_MS_RANGE: (u64, u64) = (10, 600_000);
pub const FAILURES_UNREADY_MAX: u32 = 1_000;
pub const STUCK_AFTER_SECONDS_RANGE: (u64, u64) = (1, 86_400);

/// Each key that an environment variable sets, and the variable.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("listen", "PAYDOWN_LISTEN"),
    ("metrics_listen", "PAYDOWN_METRICS_LISTEN"),
    ("workers", "PAYDOWN_WORKERS"),
    ("reports_dir", "PAYDOWN_REPORTS_DIR"),
    ("database.url", "DATABASE_URL"),
    ("database.pool_size", "PAYDOWN_DATABASE_POOL_SIZE"),
    ("database.pool_wait_seconds", "PAYDOWN_DATABASE_POOL_WAIT_SECONDS"),
    ("worker.journal_poll_ms", "PAYDOWN_WORKER_JOURNAL_POLL_MS"),
    ("worker.rollup_interval_ms", "PAYDOWN_WORKER_ROLLUP_INTERVAL_MS"),
    ("worker.failure_backoff_ms", "PAYDOWN_WORKER_FAILURE_BACKOFF_MS"),
    ("worker.failures_unready", "PAYDOWN_WORKER_FAILURES_UNREADY"),
    ("worker.stuck_after_seconds", "PAYDOWN_WORKER_STUCK_AFTER_SECONDS"),
    ("ingest_config", "PAYDOWN_INGEST_CONFIG"),
];

/// A configuration that cannot be used, naming the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError { key: key.to_owned(), message: message.into() }
    }
}

/// The effective configuration of a server.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub listen: SocketAddr,
    /// A second address serving only `/metrics`, without a token (see `http::access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// HTTP worker threads; the number of cores when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    pub reports_dir: PathBuf,
    pub database: DatabaseConfig,
    pub worker: WorkerConfig,
    /// Webhook secrets, the replay window, the identity mapping, `paydown sync` settings
    /// (parsed by `ingest::config`).
    pub ingest: IngestConfig,
}

/// The database and its pool.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseConfig {
    /// Printed with its password masked.
    #[serde(serialize_with = "redacted_url")]
    pub url: Secret,
    pub pool_size: u32,
    pub pool_wait_seconds: u64,
}

/// The accrual worker's intervals and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkerConfig {
    pub journal_poll_ms: u64,
    pub rollup_interval_ms: u64,
    pub failure_backoff_ms: u64,
    pub failures_unready: u32,
    pub stuck_after_seconds: u64,
}

impl WorkerConfig {
    pub fn settings(&self) -> WorkerSettings {
        WorkerSettings {
            journal_poll: Duration::from_millis(self.journal_poll_ms),
            rollup_interval: Duration::from_millis(self.rollup_interval_ms),
            failure_backoff: Duration::from_millis(self.failure_backoff_ms),
            failures_unready: self.failures_unready,
            stuck_after: Duration::from_secs(self.stuck_after_seconds),
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let defaults = WorkerSettings::default();
        let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        WorkerConfig {
            journal_poll_ms: millis(defaults.journal_poll),
            rollup_interval_ms: millis(defaults.rollup_interval),
            failure_backoff_ms: millis(defaults.failure_backoff),
            failures_unready: defaults.failures_unready,
            stuck_after_seconds: defaults.stuck_after.as_secs(),
        }
    }
}

fn redacted_url<S: Serializer>(url: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_database_url(url.expose()))
}

/// A database URL with its password masked (or wholly redacted when it does not parse).
pub fn redact_database_url(url: &str) -> String {
    url.parse::<DatabaseUrl>().map_or_else(|_| crate::secret::REDACTED.to_owned(), |url| url.redacted())
}

/// What the flags say; `None` where a flag was not given.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub listen: Option<String>,
    pub metrics_listen: Option<String>,
    pub workers: Option<usize>,
    pub reports_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    /// The separate ingest TOML of earlier versions: replaces the file's `[ingest]` section.
    pub ingest_config: Option<PathBuf>,
}

/// The file's shape: every key optional, an unknown key an error.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    metrics_listen: Option<String>,
    workers: Option<usize>,
    reports_dir: Option<PathBuf>,
    database: FileDatabase,
    worker: FileWorker,
    ingest: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileDatabase {
    url: Option<String>,
    pool_size: Option<u32>,
    pool_wait_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileWorker {
    journal_poll_ms: Option<u64>,
    rollup_interval_ms: Option<u64>,
    failure_backoff_ms: Option<u64>,
    failures_unready: Option<u32>,
    stuck_after_seconds: Option<u64>,
}

/// Where an ingest configuration comes from.
enum IngestSource {
    Section(toml::Table),
    File(PathBuf),
}

impl Config {
    /// Reads `file` (when given), then the environment (`env` looks a variable up), then
    /// the flags, and checks the result.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Flags,
    ) -> Result<Config, ConfigError> {
        let text = file
            .map(|path| {
                std::fs::read_to_string(path)
                    .map_err(|error| ConfigError::new("config", format!("reading {}: {error}", path.display())))
            })
            .transpose()?;
        Config::from_layers(text.as_deref(), env, flags)
    }

    /// As `load`, from the file's text.
    pub fn from_layers(
        text: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Flags,
    ) -> Result<Config, ConfigError> {
        let file: FileConfig = match text {
            Some(text) => parse_file(text)?,
            None => FileConfig::default(),
        };
        let var = |key: &str| {
            ENVIRONMENT
                .iter()
                .find(|(known, _)| *known == key)
                .and_then(|(_, name)| env(name))
                .filter(|value| !value.is_empty())
        };
        let number = |key: &str| -> Result<Option<u64>, ConfigError> {
            var(key)
                .map(|text| {
                    text.trim()
                        .parse::<u64>()
                        .map_err(|_| ConfigError::new(key, format!("`{text}` is not a whole number")))
                })
                .transpose()
        };
        let narrow = |key: &str, value: Option<u64>| -> Result<Option<u32>, ConfigError> {
            value.map(|value| u32::try_from(value).map_err(|_| ConfigError::new(key, "too large"))).transpose()
        };

        let listen_text = flags.listen.clone().or_else(|| var("listen")).or(file.listen);
        let listen = socket_address("listen", listen_text.as_deref().unwrap_or(crate::cli::DEFAULT_LISTEN))?;
        let metrics_listen = flags
            .metrics_listen
            .clone()
            .or_else(|| var("metrics_listen"))
            .or(file.metrics_listen)
            .map(|text| socket_address("metrics_listen", &text))
            .transpose()?;
        if metrics_listen.is_some_and(|metrics| metrics == listen && metrics.port() != 0) {
            return Err(ConfigError::new("metrics_listen", "must differ from listen"));
        }
        let workers = match flags.workers {
            Some(workers) => Some(workers),
            None => number("workers")?
                .map(|value| usize::try_from(value).map_err(|_| ConfigError::new("workers", "too large")))
                .transpose()?
                .or(file.workers),
        };
        if let Some(workers) = workers {
            within("workers", u64::try_from(workers).unwrap_or(u64::MAX), 1, WORKERS_MAX as u64)?;
        }
        let reports_dir = flags
            .reports_dir
            .clone()
            .or_else(|| var("reports_dir").map(PathBuf::from))
            .or(file.reports_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_REPORTS_DIR));
        if reports_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("reports_dir", "must not be empty"));
        }

        let url = flags
            .database_url
            .clone()
            .or_else(|| var("database.url"))
            .or(file.database.url)
            .unwrap_or_else(|| crate::cli::DEFAULT_DATABASE_URL.to_owned());
        url.parse::<DatabaseUrl>().map_err(|message| ConfigError::new("database.url", message))?;
        let pool_size = narrow("database.pool_size", number("database.pool_size")?)?
            .or(file.database.pool_size)
            .unwrap_or(crate::storage::POOL_SIZE_MAX);
        within("database.pool_size", u64::from(pool_size), 1, u64::from(POOL_SIZE_MAX))?;
        let pool_wait_seconds = number("database.pool_wait_seconds")?
            .or(file.database.pool_wait_seconds)
            .unwrap_or(crate::storage::POOL_WAIT_MAX.as_secs());
        within("database.pool_wait_seconds", pool_wait_seconds, 1, POOL_WAIT_SECONDS_MAX)?;

        let defaults = WorkerConfig::default();
        let worker = WorkerConfig {
            journal_poll_ms: number("worker.journal_poll_ms")?
                .or(file.worker.journal_poll_ms)
                .unwrap_or(defaults.journal_poll_ms),
            rollup_interval_ms: number("worker.rollup_interval_ms")?
                .or(file.worker.rollup_interval_ms)
                .unwrap_or(defaults.rollup_interval_ms),
            failure_backoff_ms: number("worker.failure_backoff_ms")?
                .or(file.worker.failure_backoff_ms)
                .unwrap_or(defaults.failure_backoff_ms),
            failures_unready: narrow("worker.failures_unready", number("worker.failures_unready")?)?
                .or(file.worker.failures_unready)
                .unwrap_or(defaults.failures_unready),
            stuck_after_seconds: number("worker.stuck_after_seconds")?
                .or(file.worker.stuck_after_seconds)
                .unwrap_or(defaults.stuck_after_seconds),
        };
        let (poll_min, poll_max) = JOURNAL_POLL_MS_RANGE;
        within("worker.journal_poll_ms", worker.journal_poll_ms, poll_min, poll_max)?;
        let (rollup_min, rollup_max) = ROLLUP_INTERVAL_MS_RANGE;
        within("worker.rollup_interval_ms", worker.rollup_interval_ms, rollup_min, rollup_max)?;
        let (backoff_min, backoff_max) = FAILURE_BACKOFF_MS_RANGE;
        within("worker.failure_backoff_ms", worker.failure_backoff_ms, backoff_min, backoff_max)?;
        within("worker.failures_unready", u64::from(worker.failures_unready), 1, u64::from(FAILURES_UNREADY_MAX))?;
        let (stuck_min, stuck_max) = STUCK_AFTER_SECONDS_RANGE;
        within("worker.stuck_after_seconds", worker.stuck_after_seconds, stuck_min, stuck_max)?;

        let ingest_file = flags.ingest_config.clone().or_else(|| var("ingest_config").map(PathBuf::from));
        let ingest = match (ingest_file, file.ingest) {
            (Some(path), _) => Some(IngestSource::File(path)),
            (None, Some(section)) => Some(IngestSource::Section(section)),
            (None, None) => None,
        };
        let ingest = match ingest {
            None => IngestConfig::default(),
            Some(IngestSource::File(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|error| {
                    ConfigError::new("ingest_config", format!("reading {}: {error}", path.display()))
                })?;
                IngestConfig::parse(&text)
                    .map_err(|message| ConfigError::new("ingest_config", format!("{}: {message}", path.display())))?
            }
            Some(IngestSource::Section(section)) => {
                let text = toml::to_string(&section).map_err(|error| ConfigError::new("ingest", error.to_string()))?;
                IngestConfig::parse(&text).map_err(|message| ConfigError::new("ingest", message))?
            }
        };

        Ok(Config {
            listen,
            metrics_listen,
            workers,
            reports_dir,
            database: DatabaseConfig { url: Secret::new(url), pool_size, pool_wait_seconds },
            worker,
            ingest,
        })
    }

    /// The configuration as TOML, secrets redacted: what `paydown config check` prints.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|error| format!("# the configuration could not be printed: {error}\n"))
    }

    pub fn pool_wait(&self) -> Duration {
        Duration::from_secs(self.database.pool_wait_seconds)
    }
}

/// The reports folder of CLI commands, which read no configuration file:
/// `PAYDOWN_REPORTS_DIR`, else `reports` in the working directory.
pub fn reports_dir_from_environment() -> PathBuf {
    std::env::var_os("PAYDOWN_REPORTS_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_REPORTS_DIR), PathBuf::from)
}

fn socket_address(key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.trim().parse().map_err(|_| {
        ConfigError::new(key, format!("invalid socket address {text:?} (expected HOST:PORT, e.g. 127.0.0.1:8080)"))
    })
}

fn within(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(key, format!("{value} is out of range: {min} to {max}")))
    }
}

/// Reads the file's keys; an error names the key (`database.pool_size: invalid type …`,
/// `lissten: unknown field …`).
fn parse_file(text: &str) -> Result<FileConfig, ConfigError> {
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|error| ConfigError::new("config", error.to_string().trim_end().to_owned()))?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().message().to_owned();
        let unknown = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next());
        // The path names the unknown key itself, or (older serde_path_to_error) its table.
        let key = match (unknown, path.as_str()) {
            (Some(field), ".") => field.to_owned(),
            (Some(field), table) if !table.ends_with(field) => format!("{table}.{field}"),
            _ => path,
        };
        ConfigError { key, message }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_need_no_file() {
        let config = Config::from_layers(None, &no_env, &Flags::default()).unwrap();
        assert_eq!(config.listen.to_string(), crate::cli::DEFAULT_LISTEN);
        assert_eq!(config.reports_dir, PathBuf::from("reports"));
        assert_eq!(config.database.url.expose(), crate::cli::DEFAULT_DATABASE_URL);
        assert_eq!(config.worker.settings(), WorkerSettings::default());
        assert!(config.metrics_listen.is_none());
    }

    #[test]
    fn flags_win_over_the_environment_which_wins_over_the_file() {
        let text = "listen = \"127.0.0.1:7000\"\nreports_dir = \"/srv/file\"\n[database]\npool_size = 4\n[worker]\nstuck_after_seconds = 90\n";
        let env = |name: &str| match name {
            "PAYDOWN_LISTEN" => Some("127.0.0.1:7001".to_owned()),
            "PAYDOWN_REPORTS_DIR" => Some("/srv/env".to_owned()),
            "PAYDOWN_WORKER_STUCK_AFTER_SECONDS" => Some("120".to_owned()),
            _ => None,
        };
        let config = Config::from_layers(Some(text), &env, &Flags::default()).unwrap();
        assert_eq!(config.listen.port(), 7001);
        assert_eq!(config.reports_dir, PathBuf::from("/srv/env"));
        assert_eq!(config.database.pool_size, 4);
        assert_eq!(config.worker.stuck_after_seconds, 120);
        let flags = Flags { listen: Some("127.0.0.1:7002".into()), ..Flags::default() };
        assert_eq!(Config::from_layers(Some(text), &env, &flags).unwrap().listen.port(), 7002);
        assert_eq!(Config::from_layers(Some(text), &no_env, &Flags::default()).unwrap().listen.port(), 7000);
    }

    #[test]
    fn errors_name_the_key() {
        let error = |text: &str| Config::from_layers(Some(text), &no_env, &Flags::default()).unwrap_err().to_string();
        assert!(
            error("listen = \"x\"").starts_with("listen: invalid socket address \"x\""),
            "{}",
            error("listen = \"x\"")
        );
        assert!(error("lissten = \"x\"").starts_with("lissten: unknown field"), "{}", error("lissten = \"x\""));
        assert!(error("[database]\npool_size = 0").starts_with("database.pool_size: 0 is out of range"));
        assert!(error("[database]\nurl = \"mysql://x\"").starts_with("database.url: "));
        assert!(error("[worker]\njournal_poll_ms = 1").starts_with("worker.journal_poll_ms: "));
        assert!(error("[worker]\njournal_poll_ms = \"fast\"").starts_with("worker.journal_poll_ms: invalid type"));
        assert!(error("[database]\npool = 3").starts_with("database.pool: unknown field"));
        assert!(error("[ingest.sources.pagerdooty]").starts_with("ingest: unknown source `pagerdooty`"));
        assert!(error("metrics_listen = \"127.0.0.1:8080\"").starts_with("metrics_listen: must differ"));
        let env = |name: &str| (name == "PAYDOWN_DATABASE_POOL_SIZE").then(|| "many".to_owned());
        let from_env = Config::from_layers(None, &env, &Flags::default()).unwrap_err().to_string();
        assert!(from_env.starts_with("database.pool_size: `many` is not a whole number"), "{from_env}");
    }

    #[test]
    fn printing_the_configuration_never_shows_a_secret() {
        let text = r#"
[database]
url = "postgres://paydown:db-password-1@db:5432/paydown"
[ingest.sources.pagerduty]
hmac_secrets = ["hmac-secret-2"]
[ingest.sync.pagerduty]
token = "api-key-3"
"#;
        let config = Config::from_layers(Some(text), &no_env, &Flags::default()).unwrap();
        assert_eq!(config.ingest.secrets("pagerduty").hmac_secrets[0].expose(), "hmac-secret-2");
        for printed in [config.to_redacted_toml(), format!("{config:?}"), format!("{config:#?}")] {
            for secret in ["db-password-1", "hmac-secret-2", "api-key-3"] {
                assert!(!printed.contains(secret), "{secret} printed in:\n{printed}");
            }
        }
        let printed = config.to_redacted_toml();
        assert!(printed.contains("postgres://paydown:***@db:5432/paydown"), "{printed}");
        assert!(printed.contains(crate::secret::REDACTED), "{printed}");
    }

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let text = include_str!("../examples/paydown.toml");
        let config = Config::from_layers(Some(text), &no_env, &Flags::default()).unwrap();
        assert!(config.metrics_listen.is_some());
        // Every key a variable sets is documented in the example.
        for (key, variable) in ENVIRONMENT {
            let leaf = key.rsplit('.').next().unwrap_or(key);
            assert!(text.contains(leaf), "{key} is not in examples/paydown.toml");
            assert!(text.contains(variable), "{variable} is not in examples/paydown.toml");
        }
    }
}
