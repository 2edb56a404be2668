//! `paydown sync opsgenie`: users, on-call schedules and alerts from Opsgenie's REST API v2
//! (also Jira Service Management Operations' Opsgenie-compatible API).
//!
//! What one run reads, with an API key of an API integration with read access
//! (`Authorization: GenieKey …`):
//!
//! 1. `GET /v2/users` (every page, through `paging.next`): a user whose email (`username`) is
//!    a paydown person's gets an identity mapping `<email>` → that person (the webhook names
//!    an acknowledger by that email); the others are listed as unmatched.
//! 2. `GET /v2/schedules`, then per schedule `GET /v2/schedules/{id}/timeline` in slices of
//!    [`TIMELINE_DAYS_MAX`] days: the periods of the **final** timeline (rotations,
//!    overrides and forwarding resolved by Opsgenie) whose recipient is a user become
//!    primary shifts of source `opsgenie`, keyed by schedule, user, start and end. A synced
//!    shift of the schedule in the window that is no longer in the timeline is deleted.
//! 3. `GET /v2/alerts?query=createdAt >= … AND createdAt < …` (every page, oldest first):
//!    the alerts created in the window. The alert search has no field for "changed since"
//!    (its documented time fields are `createdAt`, `lastOccurredAt` and `snoozedUntil`), so
//!    the alerts created earlier that paydown still holds open are read one by one
//!    (`GET /v2/alerts/{id}`, at most [`OPEN_ALERTS_MAX`]): their acknowledgement or close
//!    is not missed, even when the webhook that said so was. Each alert is read with its
//!    log (`GET /v2/alerts/{id}/logs`, every page) and becomes one delivery of page
//!    `(opsgenie, <alert id>)`, the webhook's key (`ingest::opsgenie_rest`).
//!
//! The window and the cursor work as for PagerDuty (`sync::pagerduty`): a second run asks
//! only for alerts created since the first got to, and for the ones still open.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::client::{ApiClient, ClientError, RetryPolicy};
use super::{PROGRESS_EVERY, ScheduleEntry, SyncError, SyncReport, ToolUser, label, skipped};
use crate::domain::timestamp::format_rfc3339;
use crate::ingest::SourceMapping;
use crate::ingest::opsgenie_rest::{self, Alert, AlertLog, TimelinePeriod, User};
use crate::storage::{Stamp, Store, sync};

/// Opsgenie's public REST endpoint (the EU one is `https://api.eu.opsgenie.com`).
pub const DEFAULT_API_URL: &str = "https://api.opsgenie.com";
/// The environment variable the key may come from.
pub const TOKEN_ENV: &str = "PAYDOWN_OPSGENIE_TOKEN";
/// Records per page asked for (Opsgenie's maximum).
pub const PAGE_LIMIT: u32 = 100;
/// Days of one timeline request.
pub const TIMELINE_DAYS_MAX: i64 = 30;
/// Open pages from before the window read again per run.
pub const OPEN_ALERTS_MAX: i64 = 1_000;

const CURSOR_ALERTS: &str = "alerts";
const CURSOR_SCHEDULES: &str = "schedules";
const SOURCE: &str = opsgenie_rest::SOURCE;

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

/// Reads every page of an Opsgenie list: the first with `offset`/`limit`, the next ones
/// through `paging.next` while the answer gives one. Hands each item of `data` to `each`
/// with its index in the whole list.
fn paginate(
    client: &mut ApiClient,
    path: &str,
    query: &[(&str, String)],
    limit: u32,
    mut each: impl FnMut(usize, &Value),
) -> Result<usize, ClientError> {
    let mut paged: Vec<(&str, String)> = query.to_vec();
    paged.push(("limit", limit.to_string()));
    paged.push(("offset", "0".to_owned()));
    let mut page = client.get(path, &paged)?;
    let mut index = 0;
    loop {
        let items = page["data"].as_array().ok_or_else(|| ClientError::NotJson {
            path: path.to_owned(),
            message: "expected an array `data`".to_owned(),
        })?;
        for item in items {
            each(index, item);
            index += 1;
        }
        match page["paging"]["next"].as_str() {
            Some(next) if !items.is_empty() => page = client.get_link(next)?,
            _ => return Ok(index),
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
    let since = super::window_start(&mut conn, SOURCE, CURSOR_ALERTS, options.since, until)?;
    let schedules_since = super::window_start(&mut conn, SOURCE, CURSOR_SCHEDULES, options.since, until)?;
    super::check_window(since, until)?;
    let mut report = SyncReport { since: Some(since), until: Some(until), ..SyncReport::default() };
    let headers = vec![("Authorization".to_owned(), format!("GenieKey {}", options.token.trim()))];
    let mut client = ApiClient::new(&options.api_url, headers, options.retry);
    let limit = options.page_limit.clamp(1, PAGE_LIMIT);

    // 1. Users → people by email.
    let mut users: Vec<ToolUser> = Vec::new();
    paginate(&mut client, "/v2/users", &[], limit, |index, value| {
        report.fetched("users", 1);
        let at = format!("users[{index}]");
        match opsgenie_rest::read::<User>(value, &at) {
            Ok(user) => users.push(ToolUser {
                identity: opsgenie_rest::person(Some(&user.username), &SourceMapping::default()),
                email: user.username,
                id: user.id,
            }),
            Err(error) => report.skipped.push(skipped(label(&at, value), error.to_string())),
        }
    })?;
    let persons = super::match_people(&mut conn, mapping, &users, &stamp, &mut report)?;
    progress(&report);

    // 2. Schedules' final timelines → shifts.
    let schedules = client.get("/v2/schedules", &[])?;
    let listed = schedules["data"].as_array().cloned().unwrap_or_default();
    for (index, schedule) in listed.iter().enumerate() {
        report.fetched("schedules", 1);
        let Some(schedule_id) = schedule["id"].as_str().map(str::to_owned) else {
            report.skipped.push(skipped(format!("schedules[{index}]"), "schedules[].id: missing"));
            continue;
        };
        let name = schedule["name"].as_str().unwrap_or(&schedule_id).to_owned();
        let path = format!("/v2/schedules/{schedule_id}/timeline");
        let mut entries: Vec<ScheduleEntry> = Vec::new();
        let mut rendered: BTreeSet<String> = BTreeSet::new();
        let mut from = schedules_since;
        let mut missing = false;
        while from < until {
            let to = (from + Duration::days(TIMELINE_DAYS_MAX)).min(until);
            let days = ((to - from).num_seconds() + 86_399) / 86_400;
            let query = [
                ("identifierType", "id".to_owned()),
                ("expand", "base,forwarding,override".to_owned()),
                ("interval", days.to_string()),
                ("intervalUnit", "days".to_owned()),
                ("date", format_rfc3339(&from)),
            ];
            let timeline = match client.get(&path, &query) {
                Ok(timeline) => timeline,
                Err(error @ ClientError::Status { status: 404, .. }) => {
                    report.skipped.push(skipped(path.clone(), error.to_string()));
                    missing = true;
                    break;
                }
                Err(error) => return Err(error.into()),
            };
            let rotations = timeline["data"]["finalTimeline"]["rotations"].as_array().cloned().unwrap_or_default();
            for (rotation_index, rotation) in rotations.iter().enumerate() {
                let periods = rotation["periods"].as_array().cloned().unwrap_or_default();
                for (period_index, value) in periods.iter().enumerate() {
                    let at = format!("{path} finalTimeline.rotations[{rotation_index}].periods[{period_index}]");
                    match opsgenie_rest::read::<TimelinePeriod>(value, &at) {
                        Ok(period) => {
                            // Periods past the window are the next run's (the last request may reach beyond).
                            if period.end <= from || period.start >= to {
                                continue;
                            }
                            let recipient = period.recipient.clone().unwrap_or_default();
                            if recipient.kind.as_deref() != Some("user") {
                                continue;
                            }
                            let external_id = period.external_id(&schedule_id);
                            // A period across two slices comes back in both.
                            if !rendered.insert(external_id.clone()) {
                                continue;
                            }
                            report.fetched("timeline periods", 1);
                            entries.push(ScheduleEntry {
                                at,
                                user_id: recipient.id.unwrap_or_default(),
                                start: period.start,
                                end: period.end,
                                external_id,
                            });
                        }
                        Err(error) => {
                            report.fetched("timeline periods", 1);
                            report.skipped.push(skipped(at, error.to_string()));
                        }
                    }
                }
            }
            from = to;
        }
        if missing {
            continue;
        }
        super::record_schedule(
            &mut conn,
            SOURCE,
            &schedule_id,
            &name,
            &entries,
            &rendered,
            &persons,
            mapping,
            (schedules_since, until),
            &stamp,
            &mut report,
        )?;
        progress(&report);
    }

    // 3. Alerts created in the window and the ones paydown holds open from before, with
    //    their logs → pages.
    let query = [
        ("query", format!("createdAt >= {} AND createdAt < {}", since.timestamp_millis(), until.timestamp_millis())),
        ("sort", "createdAt".to_owned()),
        ("order", "asc".to_owned()),
    ];
    let mut alerts: Vec<(String, Alert)> = Vec::new();
    paginate(&mut client, "/v2/alerts", &query, limit, |index, value| {
        report.fetched("alerts", 1);
        let at = format!("alerts[{index}]");
        match opsgenie_rest::read::<Alert>(value, &at) {
            Ok(alert) => alerts.push((at, alert)),
            Err(error) => report.skipped.push(skipped(label(&at, value), error.to_string())),
        }
        if report.fetched_of("alerts").is_multiple_of(PROGRESS_EVERY) {
            progress(&report);
        }
    })?;
    let listed: BTreeSet<String> = alerts.iter().map(|(_, alert)| alert.id.clone()).collect();
    for id in sync::open_pages(&mut conn, SOURCE, since, OPEN_ALERTS_MAX)? {
        if listed.contains(&id) {
            continue;
        }
        let path = format!("/v2/alerts/{id}");
        match client.get(&path, &[("identifierType", "id".to_owned())]) {
            Ok(value) => {
                report.fetched("alerts", 1);
                match opsgenie_rest::read::<Alert>(&value["data"], &path) {
                    Ok(alert) => alerts.push((path, alert)),
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
    for (done, (at, alert)) in alerts.iter().enumerate() {
        let path = format!("/v2/alerts/{}/logs", alert.id);
        let mut logs: Vec<AlertLog> = Vec::new();
        let query = [("identifierType", "id".to_owned()), ("order", "asc".to_owned())];
        let read = paginate(&mut client, &path, &query, limit, |index, value| {
            report.fetched("alert logs", 1);
            let at = format!("{path} data[{index}]");
            match opsgenie_rest::read::<AlertLog>(value, &at) {
                Ok(log) => logs.push(log),
                Err(error) => report.skipped.push(skipped(at, error.to_string())),
            }
        });
        match read {
            Ok(_) => {}
            Err(error @ ClientError::Status { status: 404, .. }) => {
                report.skipped.push(skipped(path, error.to_string()));
                continue;
            }
            Err(error) => return Err(error.into()),
        }
        let record = format!("{at} ({})", alert.id);
        match opsgenie_rest::alert_delivery(alert, &logs, mapping, at) {
            Ok(synced) => {
                report.reassignments += synced.reassignments as u64;
                report.escalations += synced.escalations as u64;
                batch.push(&mut conn, synced.delivery, &record, &stamp, &mut report)?;
            }
            Err(error) => report.skipped.push(skipped(record, error.to_string())),
        }
        if (done as u64 + 1).is_multiple_of(PROGRESS_EVERY) {
            progress(&report);
        }
    }

    batch.flush(&mut conn, &stamp, &mut report)?;
    let position = format_rfc3339(&until);
    sync::set_cursor(&mut conn, SOURCE, CURSOR_ALERTS, &position, now)?;
    sync::set_cursor(&mut conn, SOURCE, CURSOR_SCHEDULES, &position, now)?;
    report.requests = client.stats.requests;
    report.retries = client.stats.retries;
    report.rate_limited = client.stats.rate_limited;
    report.elapsed = started.elapsed();
    progress(&report);
    Ok(report)
}
