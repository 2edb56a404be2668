//! `paydown sync pagerduty`: users, schedules and incidents from PagerDuty's REST API v2.
//!
//! What one run reads, with a read-only REST API key (`Authorization: Token token=…`):
//!
//! 1. `GET /users` (all pages): a user whose email is a paydown person's gets an identity
//!    mapping `pagerduty:<user id>` → that person (re-attributing their pages); the others
//!    are listed as unmatched, and pages they acknowledged stay under `/v1/unmatched`.
//! 2. `GET /schedules`, then per schedule `GET /schedules/{id}?since&until&overflow=true`:
//!    the final rendered entries (layers and overrides resolved by PagerDuty) become
//!    primary shifts of source `pagerduty`, keyed by schedule, user, start and end, so a
//!    re-sync of the same entry changes nothing. An entry of an unmatched user is skipped.
//!    A synced shift of the schedule that overlaps the window but is no longer rendered (an
//!    override replaced or shortened it) is deleted, so it is not paid twice.
//! 3. Incidents: on a first run (or with `--since`), `GET /incidents?since&until` lists
//!    the incidents created in the window (in slices of at most 180 days, PagerDuty's
//!    limit); every run reads `GET /log_entries?since&until`, and an incident a log entry
//!    names that is not listed is read with `GET /incidents/{id}`. Each incident and its
//!    entries become one delivery of page `(pagerduty, <incident id>)`, the webhook's key
//!    (`ingest::pagerduty_rest`), recorded unless the page already keeps the same delivery.
//!
//! The window is `[since, until)`: `--since`, else where the last run got to (the
//! `sync_cursors` row), else 30 days before `until`; `--until` defaults to now. The cursor
//! moves to `until` only when the run completes, so a run that stopped is redone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::client::{ApiClient, ClientError, RetryPolicy};
use super::{Skipped, SyncError, SyncReport};
use crate::domain::shift::{ShiftRole, check_interval};
use crate::domain::timestamp::{format_rfc3339, parse_rfc3339};
use crate::ingest::SourceMapping;
use crate::ingest::pagerduty_rest::{self, Incident, LogEntry, ScheduleEntry, User};
use crate::storage::mappings::{self, MappingKind};
use crate::storage::shifts::NewShift;
use crate::storage::{Stamp, StorageError, Store, people, sync};

/// PagerDuty's public REST endpoint.
pub const DEFAULT_API_URL: &str = "https://api.pagerduty.com";
/// The environment variable the key may come from.
pub const TOKEN_ENV: &str = "PAYDOWN_PAGERDUTY_TOKEN";
/// A first run without `--since` reads this far back.
pub const BACKFILL_DAYS_DEFAULT: i64 = 30;
/// Records per page asked for (PagerDuty's maximum).
pub const PAGE_LIMIT: u32 = 100;
/// The longest window `GET /incidents` accepts.
const INCIDENT_WINDOW_DAYS_MAX: i64 = 180;
/// The window of one `GET /log_entries` query (its offset pagination stops at 10,000).
const LOG_WINDOW_HOURS: i64 = 24;
/// Records between two progress reports.
const PROGRESS_EVERY: u64 = 200;

const CURSOR_INCIDENTS: &str = "incidents";
const CURSOR_SCHEDULES: &str = "schedules";
const SOURCE: &str = pagerduty_rest::SOURCE;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub token: String,
    pub api_url: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub retry: RetryPolicy,
    pub page_limit: u32,
}

impl Options {
    pub fn new(token: impl Into<String>) -> Options {
        Options {
            token: token.into(),
            api_url: DEFAULT_API_URL.to_owned(),
            since: None,
            until: None,
            retry: RetryPolicy::default(),
            page_limit: PAGE_LIMIT,
        }
    }
}

/// Runs one sync at `now`; `progress` is called now and then with the report so far.
pub fn run(
    store: &Store,
    mapping: &SourceMapping,
    options: &Options,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(&SyncReport),
) -> Result<SyncReport, SyncError> {
    let started = std::time::Instant::now();
    let stamp = Stamp::new(format!("sync:{SOURCE}"), now);
    let mut conn = store.conn()?;
    let until = options.until.unwrap_or(now);
    let since_for = |conn: &mut crate::storage::AnyConnection, resource: &str| -> Result<DateTime<Utc>, SyncError> {
        if let Some(since) = options.since {
            return Ok(since);
        }
        match sync::cursor(conn, SOURCE, resource)? {
            Some(position) => parse_rfc3339(&position)
                .map_err(|error| SyncError::Invalid(format!("the stored {resource} cursor is unreadable: {error}"))),
            None => Ok(until - Duration::days(BACKFILL_DAYS_DEFAULT)),
        }
    };
    let since = since_for(&mut conn, CURSOR_INCIDENTS)?;
    let schedules_since = since_for(&mut conn, CURSOR_SCHEDULES)?;
    if since >= until {
        return Err(SyncError::Invalid(format!(
            "nothing to read: since ({}) is not before until ({})",
            format_rfc3339(&since),
            format_rfc3339(&until)
        )));
    }
    let backfill = options.since.is_some() || sync::cursor(&mut conn, SOURCE, CURSOR_INCIDENTS)?.is_none();
    let mut report = SyncReport { since: Some(since), until: Some(until), ..SyncReport::default() };
    let headers = vec![
        ("Authorization".to_owned(), format!("Token token={}", options.token.trim())),
        ("Accept".to_owned(), "application/vnd.pagerduty+json;version=2".to_owned()),
    ];
    let mut client = ApiClient::new(&options.api_url, headers, options.retry);
    let limit = options.page_limit.clamp(1, PAGE_LIMIT);

    // 1. Users → people by email.
    let mut users: Vec<User> = Vec::new();
    client.paginate("/users", &[], "users", limit, |index, value| {
        report.fetched("users", 1);
        match pagerduty_rest::record::<User>(value, &format!("users[{index}]")) {
            Ok(user) => users.push(user),
            Err(error) => report.skipped.push(skipped(format!("users[{index}]"), error.to_string())),
        }
    })?;
    let directory = people::list(&mut conn, None)?;
    let mapped: BTreeSet<String> = mappings::list(&mut conn)?
        .into_iter()
        .filter(|mapping| mapping.kind == MappingKind::Person)
        .map(|mapping| mapping.external)
        .collect();
    // PagerDuty user id → paydown person id.
    let mut persons: BTreeMap<String, String> = BTreeMap::new();
    for user in &users {
        let email = user.email.as_deref().map(str::trim).unwrap_or("");
        let by_email = directory
            .iter()
            .find(|person| !email.is_empty() && person.email.trim().eq_ignore_ascii_case(email))
            .map(|person| person.id.clone());
        let person = mapping.person([user.id.as_str(), email]).or(by_email.clone());
        match person {
            Some(person) => {
                let external = format!("{SOURCE}:{}", user.id.trim());
                if by_email.as_deref() == Some(person.as_str()) && !mapped.contains(&external) {
                    match mappings::create(&mut conn, MappingKind::Person, &external, &person, &stamp) {
                        Ok(_) => report.people_matched += 1,
                        Err(error) => report.skipped.push(skipped(format!("users/{}", user.id), error.to_string())),
                    }
                }
                persons.insert(user.id.clone(), person);
            }
            None => report.unmatched_users.push(format!("{} <{email}>", user.id)),
        }
    }
    progress(&report);

    // 2. Schedules → shifts.
    let mut schedule_ids: Vec<(String, String)> = Vec::new();
    client.paginate("/schedules", &[], "schedules", limit, |index, value| {
        report.fetched("schedules", 1);
        match value["id"].as_str() {
            Some(id) => schedule_ids.push((id.to_owned(), value["name"].as_str().unwrap_or(id).to_owned())),
            None => report.skipped.push(skipped(format!("schedules[{index}]"), "schedules[].id: missing".into())),
        }
    })?;
    for (schedule_id, name) in &schedule_ids {
        let query = [
            ("since", format_rfc3339(&schedules_since)),
            ("until", format_rfc3339(&until)),
            ("time_zone", "UTC".to_owned()),
            ("overflow", "true".to_owned()),
        ];
        let path = format!("/schedules/{schedule_id}");
        let schedule = match client.get(&path, &query) {
            Ok(schedule) => schedule,
            Err(error @ ClientError::Status { status: 404, .. }) => {
                report.skipped.push(skipped(path, error.to_string()));
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let entries =
            schedule["schedule"]["final_schedule"]["rendered_schedule_entries"].as_array().cloned().unwrap_or_default();
        // Every entry PagerDuty renders now, matched or not: a stored shift not among them is stale.
        let mut rendered: BTreeSet<String> = BTreeSet::new();
        for (index, value) in entries.iter().enumerate() {
            report.fetched("shift entries", 1);
            let at = format!("{path} final_schedule.rendered_schedule_entries[{index}]");
            let entry = match pagerduty_rest::record::<ScheduleEntry>(value, &at) {
                Ok(entry) => entry,
                Err(error) => {
                    report.skipped.push(skipped(at, error.to_string()));
                    continue;
                }
            };
            rendered.insert(entry.external_id(schedule_id));
            if let Err(error) = check_interval(entry.start, entry.end) {
                report.skipped.push(skipped(at, format!("{}: {}", error.field, error.message)));
                continue;
            }
            let user_id = entry.user.as_ref().map(|user| user.id.clone()).unwrap_or_default();
            let Some(person) = persons.get(&user_id).cloned().or_else(|| mapping.person([user_id.as_str()])) else {
                report.skipped.push(skipped(
                    at,
                    format!("user `{user_id}` is no paydown person (no person has their email): not a shift yet"),
                ));
                continue;
            };
            let shift = NewShift {
                person,
                role: ShiftRole::Primary,
                schedule: Some(name.clone()),
                start: entry.start,
                end: entry.end,
                source: SOURCE.to_owned(),
                external_id: entry.external_id(schedule_id),
            };
            match sync::record_shift(&mut conn, &shift, &stamp) {
                Ok(synced) => report.shifts.add(synced),
                Err(StorageError::Invalid(error)) => {
                    report.skipped.push(skipped(at, format!("{}: {}", error.field, error.message)));
                }
                Err(error) => return Err(error.into()),
            }
        }
        let prefix = format!("{schedule_id}/");
        report.shifts.removed +=
            sync::retire_shifts(&mut conn, SOURCE, &prefix, schedules_since, until, &rendered, &stamp)?;
        progress(&report);
    }

    // 3. Incidents and their log entries → pages.
    let mut incidents: BTreeMap<String, (String, Incident)> = BTreeMap::new();
    // Ids of listed incidents, malformed ones included (reported once, not read again).
    let mut listed: BTreeSet<String> = BTreeSet::new();
    if backfill {
        let mut from = since;
        while from < until {
            let to = (from + Duration::days(INCIDENT_WINDOW_DAYS_MAX)).min(until);
            let query = [
                ("since", format_rfc3339(&from)),
                ("until", format_rfc3339(&to)),
                ("time_zone", "UTC".to_owned()),
                ("sort_by", "created_at:asc".to_owned()),
            ];
            client.paginate("/incidents", &query, "incidents", limit, |index, value| {
                report.fetched("incidents", 1);
                let at = format!("incidents[{index}]");
                listed.extend(value["id"].as_str().map(str::to_owned));
                match pagerduty_rest::record::<Incident>(value, &at) {
                    Ok(incident) => {
                        incidents.insert(incident.id.clone(), (at, incident));
                    }
                    Err(error) => report.skipped.push(skipped(label(&at, value), error.to_string())),
                }
                if report.fetched_of("incidents").is_multiple_of(PROGRESS_EVERY) {
                    progress(&report);
                }
            })?;
            from = to;
        }
    }
    let mut entries: BTreeMap<String, Vec<LogEntry>> = BTreeMap::new();
    // Read a day at a time: PagerDuty's offset pagination stops at 10,000 records a query.
    let mut from = since;
    while from < until {
        let to = (from + Duration::hours(LOG_WINDOW_HOURS)).min(until);
        let query = [("since", format_rfc3339(&from)), ("until", format_rfc3339(&to)), ("time_zone", "UTC".to_owned())];
        client.paginate("/log_entries", &query, "log_entries", limit, |index, value| {
            report.fetched("log entries", 1);
            let at = format!("log_entries[{index}]");
            match pagerduty_rest::record::<LogEntry>(value, &at) {
                Ok(entry) => entries.entry(entry.incident.id.clone()).or_default().push(entry),
                Err(error) => report.skipped.push(skipped(label(&at, value), error.to_string())),
            }
            if report.fetched_of("log entries").is_multiple_of(PROGRESS_EVERY) {
                progress(&report);
            }
        })?;
        from = to;
    }
    let unlisted: Vec<String> = entries.keys().filter(|id| !listed.contains(*id)).cloned().collect();
    for id in unlisted {
        let path = format!("/incidents/{id}");
        match client.get(&path, &[("time_zone", "UTC".to_owned())]) {
            Ok(value) => {
                report.fetched("incidents", 1);
                match pagerduty_rest::record::<Incident>(&value["incident"], "incident") {
                    Ok(incident) => {
                        incidents.insert(id, (path, incident));
                    }
                    Err(error) => report.skipped.push(skipped(path, error.to_string())),
                }
            }
            Err(error @ ClientError::Status { status: 404, .. }) => {
                report.skipped.push(skipped(path, error.to_string()))
            }
            Err(error) => return Err(error.into()),
        }
    }
    let mut batch = super::PageBatch::default();
    let mut done = 0_u64;
    for (id, (at, incident)) in &incidents {
        let log: Vec<&LogEntry> = entries.get(id).map(|list| list.iter().collect()).unwrap_or_default();
        let synced = match pagerduty_rest::incident_delivery(incident, &log, mapping, at) {
            Ok(synced) => synced,
            Err(error) => {
                report.skipped.push(skipped(format!("{at} ({id})"), error.to_string()));
                continue;
            }
        };
        report.reassignments += synced.reassignments as u64;
        report.escalations += synced.escalations as u64;
        batch.push(&mut conn, synced.delivery, &format!("{at} ({id})"), &stamp, &mut report)?;
        done += 1;
        if done.is_multiple_of(PROGRESS_EVERY) {
            progress(&report);
        }
    }
    batch.flush(&mut conn, &stamp, &mut report)?;

    let position = format_rfc3339(&until);
    sync::set_cursor(&mut conn, SOURCE, CURSOR_INCIDENTS, &position, now)?;
    sync::set_cursor(&mut conn, SOURCE, CURSOR_SCHEDULES, &position, now)?;
    report.requests = client.stats.requests;
    report.retries = client.stats.retries;
    report.rate_limited = client.stats.rate_limited;
    report.elapsed = started.elapsed();
    progress(&report);
    Ok(report)
}

fn skipped(record: String, reason: String) -> Skipped {
    Skipped { record, reason }
}

/// `incidents[3] (PT4KHLK)` when the record has a readable id.
fn label(at: &str, value: &Value) -> String {
    match value["id"].as_str() {
        Some(id) => format!("{at} ({id})"),
        None => at.to_owned(),
    }
}
