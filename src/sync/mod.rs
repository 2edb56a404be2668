//! `paydown sync <tool>`: pull people, schedules and incidents from a paging tool's REST
//! API into paydown, incrementally (`storage::sync` keeps where each run got to).
//!
//! The shell around pure mappers (`ingest::pagerduty_rest`): `client` talks HTTP (retries,
//! rate limits, pagination), the tool's module decides what to ask for, and records go
//! through the same storage paths as webhooks and imports, so a synced incident and a
//! webhook delivery of it are one page. A bad record is reported and skipped; the run goes on.

pub mod client;
pub mod grafana_oncall;
pub mod opsgenie;
pub mod pagerduty;
pub mod scheduled;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::page::PageState;
use crate::domain::shift::{ShiftRole, check_interval};
use crate::domain::timestamp::{format_rfc3339, parse_rfc3339};
use crate::ingest::{MappedDelivery, SourceMapping};
use crate::storage::mappings::{self, MappingKind};
use crate::storage::shifts::NewShift;
use crate::storage::sync::{self as sync_store, Synced};
use crate::storage::{AnyConnection, Stamp, StorageError, people};

/// A first run without `--since` reads this far back.
pub const BACKFILL_DAYS_DEFAULT: i64 = 30;
/// Records between two progress reports.
pub const PROGRESS_EVERY: u64 = 200;

/// Created / updated / unchanged counts of one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Removed: the tool no longer has them (shifts an override replaced).
    pub removed: u64,
}

impl Written {
    pub fn add(&mut self, synced: Synced) {
        match synced {
            Synced::Created => self.created += 1,
            Synced::Updated => self.updated += 1,
            Synced::Unchanged => self.unchanged += 1,
        }
    }
}

/// A record that was read but not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it was: `incidents[12] (PT4KHLK)`, `schedules/PI7DH85 entries[3]`.
    pub record: String,
    pub reason: String,
}

/// What a sync run did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Records read from the API, by kind (`users`, `schedules`, `shift entries`,
    /// `incidents`, `log entries`).
    pub fetched: Vec<(&'static str, u64)>,
    pub pages: Written,
    pub shifts: Written,
    /// Tool users matched to a paydown person by email now (a mapping was added).
    pub people_matched: u64,
    /// Tool users no paydown person has the email of: `id <email>`.
    pub unmatched_users: Vec<String>,
    /// Reassignments and escalations the incidents' logs record.
    pub reassignments: u64,
    pub escalations: u64,
    pub skipped: Vec<Skipped>,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    /// The window read: `[since, until)`.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub elapsed: Duration,
}

impl SyncReport {
    /// Adds `count` records of `kind` to what was fetched.
    pub fn fetched(&mut self, kind: &'static str, count: u64) {
        match self.fetched.iter_mut().find(|(known, _)| *known == kind) {
            Some((_, total)) => *total += count,
            None => self.fetched.push((kind, count)),
        }
    }

    /// Records of `kind` fetched so far.
    pub fn fetched_of(&self, kind: &str) -> u64 {
        self.fetched.iter().find(|(known, _)| *known == kind).map_or(0, |(_, count)| *count)
    }

    /// Every record fetched, all kinds.
    pub fn fetched_total(&self) -> u64 {
        self.fetched.iter().map(|(_, count)| count).sum()
    }
}

/// Why a run stopped (a bad record never stops it: it is skipped and reported).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] client::ClientError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Invalid(String),
}

/// A skipped record.
pub fn skipped(record: impl Into<String>, reason: impl Into<String>) -> Skipped {
    Skipped { record: record.into(), reason: reason.into() }
}

/// The window `[since, until)` a run reads: `--since`, else where the last run got to (the
/// `resource` cursor of `source`), else [`BACKFILL_DAYS_DEFAULT`] days before `until`.
pub fn window_start(
    conn: &mut AnyConnection,
    source: &str,
    resource: &str,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
) -> Result<DateTime<Utc>, SyncError> {
    if let Some(since) = since {
        return Ok(since);
    }
    match sync_store::cursor(conn, source, resource)? {
        Some(position) => parse_rfc3339(&position)
            .map_err(|error| SyncError::Invalid(format!("the stored {resource} cursor is unreadable: {error}"))),
        None => Ok(until - chrono::Duration::days(BACKFILL_DAYS_DEFAULT)),
    }
}

/// Refuses an empty window.
pub fn check_window(since: DateTime<Utc>, until: DateTime<Utc>) -> Result<(), SyncError> {
    if since >= until {
        return Err(SyncError::Invalid(format!(
            "nothing to read: since ({}) is not before until ({})",
            format_rfc3339(&since),
            format_rfc3339(&until)
        )));
    }
    Ok(())
}

/// A tool's user, as far as matching them to a paydown person goes.
#[derive(Debug, Clone)]
pub struct ToolUser {
    pub id: String,
    pub email: String,
    /// The identity the tool's pages name them by (`pagerduty:P123`, `alice@example.com`):
    /// the mapping made when their email matches maps this to the person.
    pub identity: Option<String>,
}

/// Matches a tool's users to paydown people: by the configured mapping, else by email (and
/// then an identity mapping is stored, re-attributing their pages). The others are listed
/// as unmatched in the report. Returns tool user id → person id.
pub fn match_people(
    conn: &mut AnyConnection,
    mapping: &SourceMapping,
    users: &[ToolUser],
    stamp: &Stamp,
    report: &mut SyncReport,
) -> Result<BTreeMap<String, String>, SyncError> {
    let directory = people::list(conn, None)?;
    let mapped: BTreeSet<String> = mappings::list(conn)?
        .into_iter()
        .filter(|mapping| mapping.kind == MappingKind::Person)
        .map(|mapping| mapping.external)
        .collect();
    let mut persons = BTreeMap::new();
    for user in users {
        let email = user.email.trim();
        let by_email = directory
            .iter()
            .find(|person| !email.is_empty() && person.email.trim().eq_ignore_ascii_case(email))
            .map(|person| person.id.clone());
        match mapping.person([user.id.as_str(), email]).or(by_email.clone()) {
            Some(person) => {
                if let Some(identity) = &user.identity
                    && by_email.as_deref() == Some(person.as_str())
                    && identity != &person
                    && !mapped.contains(identity)
                {
                    match mappings::create(conn, MappingKind::Person, identity, &person, stamp) {
                        Ok(_) => report.people_matched += 1,
                        Err(error) => report.skipped.push(skipped(format!("users/{}", user.id), error.to_string())),
                    }
                }
                persons.insert(user.id.clone(), person);
            }
            None => report.unmatched_users.push(format!("{} <{email}>", user.id)),
        }
    }
    Ok(persons)
}

/// One entry of a schedule as the tool renders it finally (overrides included).
#[derive(Debug, Clone)]
pub struct ScheduleEntry {
    /// Where it was read, for a skipped entry's report.
    pub at: String,
    pub user_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The idempotency key (starting with `<schedule id>/`).
    pub external_id: String,
}

/// Records the final entries of one schedule as primary shifts of `source`, idempotent by
/// entry, and deletes the synced shifts of the schedule in `[since, until)` that are no
/// longer rendered (an override replaced them), so they are not paid twice. `rendered` are
/// the keys of every entry read, malformed or unmatched ones included.
#[allow(clippy::too_many_arguments)]
pub fn record_schedule(
    conn: &mut AnyConnection,
    source: &str,
    schedule_id: &str,
    schedule_name: &str,
    entries: &[ScheduleEntry],
    rendered: &BTreeSet<String>,
    persons: &BTreeMap<String, String>,
    mapping: &SourceMapping,
    window: (DateTime<Utc>, DateTime<Utc>),
    stamp: &Stamp,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    for entry in entries {
        if let Err(error) = check_interval(entry.start, entry.end) {
            report.skipped.push(skipped(&entry.at, format!("{}: {}", error.field, error.message)));
            continue;
        }
        let Some(person) = persons.get(&entry.user_id).cloned().or_else(|| mapping.person([entry.user_id.as_str()]))
        else {
            report.skipped.push(skipped(
                &entry.at,
                format!("user `{}` is no paydown person (no person has their email): not a shift yet", entry.user_id),
            ));
            continue;
        };
        let shift = NewShift {
            person,
            role: ShiftRole::Primary,
            schedule: Some(schedule_name.to_owned()),
            start: entry.start,
            end: entry.end,
            source: source.to_owned(),
            external_id: entry.external_id.clone(),
        };
        match sync_store::record_shift(conn, &shift, stamp) {
            Ok(synced) => report.shifts.add(synced),
            Err(StorageError::Invalid(error)) => {
                report.skipped.push(skipped(&entry.at, format!("{}: {}", error.field, error.message)));
            }
            Err(error) => return Err(error.into()),
        }
    }
    let prefix = format!("{schedule_id}/");
    report.shifts.removed += sync_store::retire_shifts(conn, source, &prefix, window.0, window.1, rendered, stamp)?;
    Ok(())
}

/// `alerts[3] (0f2c…)` when the record has a readable id.
pub fn label(at: &str, value: &serde_json::Value) -> String {
    match value["id"].as_str() {
        Some(id) => format!("{at} ({id})"),
        None => at.to_owned(),
    }
}

/// A tool `paydown sync` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Pagerduty,
    Opsgenie,
    GrafanaOncall,
}

impl Tool {
    /// As `[sync.<tool>]` and the pages' source name it.
    pub fn key(self) -> &'static str {
        match self {
            Tool::Pagerduty => "pagerduty",
            Tool::Opsgenie => "opsgenie",
            Tool::GrafanaOncall => "grafana_oncall",
        }
    }

    pub fn from_key(key: &str) -> Option<Tool> {
        [Tool::Pagerduty, Tool::Opsgenie, Tool::GrafanaOncall].into_iter().find(|tool| tool.key() == key)
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Tool::Pagerduty => "PagerDuty",
            Tool::Opsgenie => "Opsgenie",
            Tool::GrafanaOncall => "Grafana OnCall",
        }
    }

    /// The environment variable the key may come from.
    pub fn token_env(self) -> &'static str {
        match self {
            Tool::Pagerduty => pagerduty::TOKEN_ENV,
            Tool::Opsgenie => opsgenie::TOKEN_ENV,
            Tool::GrafanaOncall => grafana_oncall::TOKEN_ENV,
        }
    }

    /// The public API host, where the tool has one.
    pub fn default_api_url(self) -> Option<&'static str> {
        match self {
            Tool::Pagerduty => Some(pagerduty::DEFAULT_API_URL),
            Tool::Opsgenie => Some(opsgenie::DEFAULT_API_URL),
            Tool::GrafanaOncall => None,
        }
    }
}

/// One run of any tool.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub tool: Tool,
    pub token: String,
    pub api_url: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub retry: client::RetryPolicy,
}

/// Runs one sync of `spec.tool` at `now`.
pub fn run(
    store: &crate::storage::Store,
    mapping: &SourceMapping,
    spec: &RunSpec,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(&SyncReport),
) -> Result<SyncReport, SyncError> {
    match spec.tool {
        Tool::Pagerduty => {
            let mut options = pagerduty::Options::new(spec.token.clone());
            options.api_url = spec.api_url.clone();
            options.since = spec.since;
            options.until = spec.until;
            options.retry = spec.retry;
            pagerduty::run(store, mapping, &options, now, progress)
        }
        Tool::Opsgenie => {
            let mut options = opsgenie::Options::new(spec.token.clone());
            options.api_url = spec.api_url.clone();
            options.since = spec.since;
            options.until = spec.until;
            options.retry = spec.retry;
            opsgenie::run(store, mapping, &options, now, progress)
        }
        Tool::GrafanaOncall => {
            let mut options = grafana_oncall::Options::new(spec.token.clone(), spec.api_url.clone());
            options.since = spec.since;
            options.until = spec.until;
            options.retry = spec.retry;
            grafana_oncall::run(store, mapping, &options, now, progress)
        }
    }
}

/// The key and host of `tool` from, in order, the flags, the tool's environment variable
/// and the ingest configuration's `[sync.<tool>]`; `Err` says where to give what is missing.
pub fn credentials(
    tool: Tool,
    token: Option<String>,
    api_url: Option<String>,
    settings: &crate::ingest::config::SyncSettings,
) -> Result<(String, String), String> {
    let token = token
        .or_else(|| std::env::var(tool.token_env()).ok().filter(|key| !key.trim().is_empty()))
        .or_else(|| settings.key())
        .ok_or_else(|| {
            format!(
                "a {} {} key is needed: --token, {} or [sync.{}] token (or token_env) in the ingest configuration",
                tool.display_name(),
                if tool == Tool::GrafanaOncall { "HTTP API" } else { "REST API" },
                tool.token_env(),
                tool.key()
            )
        })?;
    let api_url = api_url
        .or_else(|| settings.api_url.clone())
        .or_else(|| tool.default_api_url().map(str::to_owned))
        .ok_or_else(|| {
            format!(
                "{} has no public API host: --api-url or [sync.{}] api_url (your stack's OnCall API URL)",
                tool.display_name(),
                tool.key()
            )
        })?;
    Ok((token, api_url))
}

/// Synced pages recorded per transaction: a page of API results or a few, written as an
/// import batch (`storage::import::import_batch`: new pages inserted in bulk, known ones
/// folded with their webhook deliveries, a delivery already kept not stored again).
pub const PAGE_BATCH_ROWS: usize = 500;

/// Synced page deliveries waiting to be written, with where each was read.
#[derive(Default)]
pub struct PageBatch {
    rows: Vec<(String, crate::storage::import::PageRow)>,
    /// Batches written so far this run.
    written: u64,
}

impl PageBatch {
    /// Adds a delivery read at `at`; writes the batch once it is full. A delivery the page
    /// rules refuse is skipped and reported.
    pub fn push(
        &mut self,
        conn: &mut AnyConnection,
        mapped: MappedDelivery,
        at: &str,
        stamp: &Stamp,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let state = match PageState::from_delivery(mapped.delivery) {
            Ok(state) => state,
            Err(error) => {
                report.skipped.push(skipped(at, format!("{}: {}", error.field, error.message)));
                return Ok(());
            }
        };
        let row = crate::storage::import::PageRow::new(mapped.source.to_owned(), mapped.external_id, state)?;
        self.rows.push((at.to_owned(), row));
        if self.rows.len() >= PAGE_BATCH_ROWS {
            self.flush(conn, stamp, report)?;
        }
        Ok(())
    }

    /// Writes what is waiting in one transaction. Should the database refuse a record, the
    /// batch is written again one record at a time, so only that one is skipped.
    pub fn flush(&mut self, conn: &mut AnyConnection, stamp: &Stamp, report: &mut SyncReport) -> Result<(), SyncError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let batch: Vec<crate::storage::import::PageRow> = rows.iter().map(|(_, row)| row.clone()).collect();
        match crate::storage::import::import_batch(conn, &batch, stamp) {
            Ok(outcome) => {
                report.pages.created += outcome.created as u64;
                report.pages.updated += outcome.updated as u64;
                report.pages.unchanged += outcome.unchanged as u64;
                // As the importer does: PostgreSQL plans each batch's lookups from its
                // statistics, which a backfill into a new database makes stale at once
                // (1,100 incidents/s without this, the table scanned for every lookup).
                self.written += 1;
                if self.written.is_power_of_two() {
                    crate::storage::import::refresh_statistics(conn, "pages, page_deliveries")?;
                }
                Ok(())
            }
            Err(StorageError::Invalid(_)) => {
                for (at, row) in rows {
                    match sync_store::record_page(conn, &row.source, &row.external_id, &row.state, stamp) {
                        Ok((synced, _)) => report.pages.add(synced),
                        Err(StorageError::Invalid(error)) => {
                            report.skipped.push(skipped(at, format!("{}: {}", error.field, error.message)));
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }
}
