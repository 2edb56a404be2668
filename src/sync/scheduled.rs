//! The scheduled sync of `paydown serve`: each tool of the ingest configuration with an
//! `interval_seconds` (`[sync.opsgenie] token_env = "…" interval_seconds = 300`) is synced on
//! a thread of its own, at start and then every interval, incrementally from where the last
//! run got to.
//!
//! It never makes a request fail: it runs outside the HTTP workers, writes through the same
//! short transactions as the CLI, and a run that fails (a wrong key, the tool down, a panic)
//! is recorded and retried at the next interval. Its last run and outcome are in
//! `GET /v1/sync/status` and in `/readyz`'s detail (readiness does not depend on them: a
//! paging tool being down does not make paydown unready).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{RunSpec, SyncReport, Tool};
use crate::ingest::config::IngestConfig;
use crate::storage::Store;

/// What the last run of a scheduled sync did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunSummary {
    /// `ok`, `skipped` (some records were skipped, the rest kept) or `failed`.
    pub outcome: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub finished_at: DateTime<Utc>,
    /// Records read, by kind.
    pub fetched: BTreeMap<String, u64>,
    pub pages_created: u64,
    pub pages_updated: u64,
    pub shifts_created: u64,
    pub shifts_updated: u64,
    pub shifts_removed: u64,
    pub skipped: u64,
    /// Why it failed (never the key).
    pub error: Option<String>,
}

/// One scheduled sync as `GET /v1/sync/status` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobStatus {
    pub tool: Tool,
    pub interval_seconds: u64,
    /// A run is under way now.
    pub running: bool,
    pub runs: u64,
    pub failures: u64,
    pub last_run: Option<RunSummary>,
}

/// The scheduled syncs of this process, shared with the HTTP handlers.
#[derive(Debug, Default)]
pub struct SyncJobs {
    jobs: Mutex<BTreeMap<&'static str, JobStatus>>,
}

impl SyncJobs {
    /// Every scheduled sync, by tool.
    pub fn statuses(&self) -> Vec<JobStatus> {
        self.jobs.lock().map(|jobs| jobs.values().cloned().collect()).unwrap_or_default()
    }

    fn update(&self, tool: Tool, change: impl FnOnce(&mut JobStatus)) {
        if let Ok(mut jobs) = self.jobs.lock()
            && let Some(status) = jobs.get_mut(tool.key())
        {
            change(status);
        }
    }
}

fn summary(started_at: DateTime<Utc>, result: Result<SyncReport, String>) -> RunSummary {
    let finished_at = crate::clock::now();
    match result {
        Ok(report) => RunSummary {
            outcome: if report.skipped.is_empty() { "ok" } else { "skipped" }.to_owned(),
            started_at,
            finished_at,
            fetched: report.fetched.iter().map(|(kind, count)| ((*kind).to_owned(), *count)).collect(),
            pages_created: report.pages.created,
            pages_updated: report.pages.updated,
            shifts_created: report.shifts.created,
            shifts_updated: report.shifts.updated,
            shifts_removed: report.shifts.removed,
            skipped: report.skipped.len() as u64,
            error: None,
        },
        Err(error) => RunSummary {
            outcome: "failed".to_owned(),
            started_at,
            finished_at,
            fetched: BTreeMap::new(),
            pages_created: 0,
            pages_updated: 0,
            shifts_created: 0,
            shifts_updated: 0,
            shifts_removed: 0,
            skipped: 0,
            error: Some(error),
        },
    }
}

/// One run of `tool` as configured now; a missing key or host is a failed run, not a crash.
fn run_once(store: &Store, config: &IngestConfig, tool: Tool) -> Result<SyncReport, String> {
    let settings = config.sync.get(tool.key()).cloned().unwrap_or_default();
    let (token, api_url) = super::credentials(tool, None, None, &settings)?;
    let spec = RunSpec { tool, token, api_url, since: None, until: None, retry: super::client::RetryPolicy::default() };
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::run(store, &config.mapping, &spec, crate::clock::now(), &mut |_| {})
    }));
    match run {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(_) => Err("the sync panicked".to_owned()),
    }
}

/// Starts a thread per tool with an `interval_seconds`; returns how many were started.
pub fn spawn(store: Store, config: Arc<IngestConfig>, jobs: Arc<SyncJobs>) -> usize {
    let mut started = 0;
    for (key, settings) in &config.sync {
        let (Some(tool), Some(interval)) = (Tool::from_key(key), settings.interval_seconds) else { continue };
        if let Ok(mut statuses) = jobs.jobs.lock() {
            statuses.insert(
                tool.key(),
                JobStatus { tool, interval_seconds: interval, running: false, runs: 0, failures: 0, last_run: None },
            );
        }
        let (store, config, jobs) = (store.clone(), config.clone(), jobs.clone());
        let spawned = std::thread::Builder::new().name(format!("sync-{}", tool.key())).spawn(move || {
            loop {
                let started_at = crate::clock::now();
                jobs.update(tool, |status| status.running = true);
                let result = run_once(&store, &config, tool);
                match &result {
                    Ok(report) => tracing::info!(
                        sync.tool = tool.key(),
                        sync.fetched = report.fetched_total(),
                        sync.pages_created = report.pages.created,
                        sync.pages_updated = report.pages.updated,
                        sync.skipped = report.skipped.len(),
                        "scheduled sync ran"
                    ),
                    Err(error) => tracing::warn!(sync.tool = tool.key(), error.cause = %error, "scheduled sync failed"),
                }
                let last = summary(started_at, result);
                jobs.update(tool, |status| {
                    status.running = false;
                    status.runs += 1;
                    if last.outcome == "failed" {
                        status.failures += 1;
                    }
                    status.last_run = Some(last);
                });
                std::thread::sleep(Duration::from_secs(interval));
            }
        });
        match spawned {
            Ok(_) => started += 1,
            Err(error) => {
                tracing::warn!(sync.tool = tool.key(), error.cause = %error, "the scheduled sync could not start")
            }
        }
    }
    started
}
