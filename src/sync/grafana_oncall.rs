//! `paydown sync grafana-oncall`: users, schedules' final shifts and alert groups from
//! Grafana OnCall's HTTP API v1.
//!
//! What one run reads, with an OnCall API key (`Authorization: <key>`), from `--api-url`
//! (the stack's OnCall API URL, e.g. `https://oncall-prod-us-central-0.grafana.net/oncall`;
//! OnCall has no single public host):
//!
//! 1. `GET /api/v1/users/` (every page, through `next`): a user whose email is a paydown
//!    person's gets an identity mapping `<email>` → that person (the webhook names an
//!    acknowledger by that email); the others are listed as unmatched.
//! 2. `GET /api/v1/integrations/`: integration names, which name a page's service as the
//!    webhook does.
//! 3. `GET /api/v1/schedules/`, then per schedule `GET /api/v1/schedules/{id}/final_shifts`
//!    by days (at most [`FINAL_SHIFTS_DAYS_MAX`] a request): the final shifts (rotations,
//!    overrides and swaps resolved by OnCall) become primary shifts of source
//!    `grafana_oncall`, keyed by schedule, user, start and end. A synced shift of the
//!    schedule in those days that OnCall no longer renders is deleted.
//! 4. `GET /api/v1/alert_groups/` (newest first, through `next`) until the first group
//!    created before the window: the groups created in it. The list has no filter on time,
//!    so the groups created earlier that paydown still holds unresolved are read one by one
//!    (`GET /api/v1/alert_groups/{id}`, at most [`OPEN_GROUPS_MAX`]): their acknowledgement
//!    or resolve is not missed. Each group becomes one delivery of page
//!    `(grafana_oncall, <id>)`, the webhook's key (`ingest::grafana_oncall_rest`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::Value;

use super::client::{ApiClient, ClientError, RetryPolicy};
use super::{PROGRESS_EVERY, ScheduleEntry, SyncError, SyncReport, ToolUser, label, skipped};
use crate::domain::timestamp::format_rfc3339;
use crate::ingest::SourceMapping;
use crate::ingest::grafana_oncall_rest::{self, AlertGroup, FinalShift, User};
use crate::ingest::pagerduty_rest::record;
use crate::storage::{Stamp, Store, sync};

/// The environment variable the key may come from.
pub const TOKEN_ENV: &str = "PAYDOWN_GRAFANA_ONCALL_TOKEN";
/// Days of one `final_shifts` request (OnCall refuses more than 365).
pub const FINAL_SHIFTS_DAYS_MAX: i64 = 365;
/// Unresolved pages from before the window read again per run.
pub const OPEN_GROUPS_MAX: i64 = 1_000;

const CURSOR_ALERT_GROUPS: &str = "alert_groups";
const CURSOR_SCHEDULES: &str = "schedules";
const SOURCE: &str = grafana_oncall_rest::SOURCE;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub token: String,
    pub api_url: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub retry: RetryPolicy,
}

impl Options {
    pub fn new(token: impl Into<String>, api_url: impl Into<String>) -> Options {
        Options {
            token: token.into(),
            api_url: api_url.into(),
            since: None,
            until: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// What to do with the next page of a list.
enum Next {
    More,
    Stop,
}

/// Reads the pages of an OnCall list (`results`, `next`) while `each` says more.
fn paginate(
    client: &mut ApiClient,
    path: &str,
    query: &[(&str, String)],
    mut each: impl FnMut(usize, &Value) -> Next,
) -> Result<(), ClientError> {
    let mut page = client.get(path, query)?;
    let mut index = 0;
    loop {
        let items = page["results"].as_array().ok_or_else(|| ClientError::NotJson {
            path: path.to_owned(),
            message: "expected an array `results`".to_owned(),
        })?;
        let mut more = true;
        for item in items {
            if let Next::Stop = each(index, item) {
                more = false;
            }
            index += 1;
        }
        match page["next"].as_str() {
            Some(next) if more && !items.is_empty() => page = client.get_link(next)?,
            _ => return Ok(()),
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
    let since = super::window_start(&mut conn, SOURCE, CURSOR_ALERT_GROUPS, options.since, until)?;
    let schedules_since = super::window_start(&mut conn, SOURCE, CURSOR_SCHEDULES, options.since, until)?;
    super::check_window(since, until)?;
    let mut report = SyncReport { since: Some(since), until: Some(until), ..SyncReport::default() };
    let headers = vec![("Authorization".to_owned(), options.token.trim().to_owned())];
    let mut client = ApiClient::new(&options.api_url, headers, options.retry);

    // 1. Users → people by email.
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    paginate(&mut client, "/api/v1/users/", &[], |index, value| {
        report.fetched("users", 1);
        let at = format!("users[{index}]");
        match record::<User>(value, &at) {
            Ok(user) => {
                users.insert(user.id.clone(), user);
            }
            Err(error) => report.skipped.push(skipped(label(&at, value), error.to_string())),
        }
        Next::More
    })?;
    let tool_users: Vec<ToolUser> = users
        .values()
        .map(|user| ToolUser {
            id: user.id.clone(),
            email: user.email.clone().unwrap_or_default(),
            identity: grafana_oncall_rest::person(&user.id, user.email.as_deref(), None, &SourceMapping::default()),
        })
        .collect();
    let persons = super::match_people(&mut conn, mapping, &tool_users, &stamp, &mut report)?;

    // 2. Integrations: their names are the pages' services.
    let mut integrations: BTreeMap<String, String> = BTreeMap::new();
    paginate(&mut client, "/api/v1/integrations/", &[], |_, value| {
        report.fetched("integrations", 1);
        if let (Some(id), Some(name)) = (value["id"].as_str(), value["name"].as_str()) {
            integrations.insert(id.to_owned(), name.to_owned());
        }
        Next::More
    })?;
    progress(&report);

    // 3. Schedules' final shifts → shifts, by whole days.
    let mut schedules: Vec<(String, String)> = Vec::new();
    paginate(&mut client, "/api/v1/schedules/", &[], |index, value| {
        report.fetched("schedules", 1);
        match value["id"].as_str() {
            Some(id) => schedules.push((id.to_owned(), value["name"].as_str().unwrap_or(id).to_owned())),
            None => report.skipped.push(skipped(format!("schedules[{index}]"), "schedules[].id: missing")),
        }
        Next::More
    })?;
    let first_day = schedules_since.date_naive();
    let last_day = until.date_naive();
    let days_window = (
        first_day.and_time(NaiveTime::MIN).and_utc(),
        (last_day + Duration::days(1)).and_time(NaiveTime::MIN).and_utc(),
    );
    for (schedule_id, name) in &schedules {
        let path = format!("/api/v1/schedules/{schedule_id}/final_shifts");
        let mut entries: Vec<ScheduleEntry> = Vec::new();
        let mut rendered: BTreeSet<String> = BTreeSet::new();
        let mut day = first_day;
        let mut missing = false;
        while day <= last_day {
            let end = (day + Duration::days(FINAL_SHIFTS_DAYS_MAX - 1)).min(last_day);
            let query = [("start_date", day.to_string()), ("end_date", end.to_string())];
            let read = paginate(&mut client, &path, &query, |index, value| {
                let at = format!("{path} results[{index}]");
                match record::<FinalShift>(value, &at) {
                    Ok(shift) => {
                        let external_id = shift.external_id(schedule_id);
                        if rendered.insert(external_id.clone()) {
                            report.fetched("final shifts", 1);
                            entries.push(ScheduleEntry {
                                at,
                                user_id: shift.user_pk.trim().to_owned(),
                                start: shift.shift_start,
                                end: shift.shift_end,
                                external_id,
                            });
                        }
                    }
                    Err(error) => {
                        report.fetched("final shifts", 1);
                        report.skipped.push(skipped(at, error.to_string()));
                    }
                }
                Next::More
            });
            match read {
                Ok(()) => {}
                Err(error @ ClientError::Status { status: 404, .. }) => {
                    report.skipped.push(skipped(path.clone(), error.to_string()));
                    missing = true;
                    break;
                }
                Err(error) => return Err(error.into()),
            }
            day = end + Duration::days(1);
        }
        if missing {
            continue;
        }
        super::record_schedule(
            &mut conn,
            SOURCE,
            schedule_id,
            name,
            &entries,
            &rendered,
            &persons,
            mapping,
            days_window,
            &stamp,
            &mut report,
        )?;
        progress(&report);
    }

    // 4. Alert groups created in the window (the list is newest first), then the ones paydown
    //    still holds open from before it.
    let mut groups: Vec<(String, AlertGroup)> = Vec::new();
    paginate(&mut client, "/api/v1/alert_groups/", &[], |index, value| {
        let at = format!("alert_groups[{index}]");
        match record::<AlertGroup>(value, &at) {
            Ok(group) if group.created_at < since => return Next::Stop,
            Ok(group) if group.created_at >= until => {}
            Ok(group) => {
                report.fetched("alert groups", 1);
                groups.push((at, group));
            }
            Err(error) => {
                report.fetched("alert groups", 1);
                report.skipped.push(skipped(label(&at, value), error.to_string()));
            }
        }
        if report.fetched_of("alert groups").is_multiple_of(PROGRESS_EVERY) {
            progress(&report);
        }
        Next::More
    })?;
    let listed: BTreeSet<String> = groups.iter().map(|(_, group)| group.id.clone()).collect();
    for id in sync::open_pages(&mut conn, SOURCE, since, OPEN_GROUPS_MAX)? {
        if listed.contains(&id) {
            continue;
        }
        let path = format!("/api/v1/alert_groups/{id}");
        match client.get(&path, &[]) {
            Ok(value) => {
                report.fetched("alert groups", 1);
                match record::<AlertGroup>(&value, &path) {
                    Ok(group) => groups.push((path, group)),
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
    for (done, (at, group)) in groups.iter().enumerate() {
        let record = format!("{at} ({})", group.id);
        match grafana_oncall_rest::alert_group_delivery(group, &users, &integrations, mapping, at) {
            Ok(mapped) => batch.push(&mut conn, mapped, &record, &stamp, &mut report)?,
            Err(error) => report.skipped.push(skipped(record, error.to_string())),
        }
        if (done as u64 + 1).is_multiple_of(PROGRESS_EVERY) {
            progress(&report);
        }
    }

    batch.flush(&mut conn, &stamp, &mut report)?;
    let position = format_rfc3339(&until);
    sync::set_cursor(&mut conn, SOURCE, CURSOR_ALERT_GROUPS, &position, now)?;
    sync::set_cursor(&mut conn, SOURCE, CURSOR_SCHEDULES, &position, now)?;
    report.requests = client.stats.requests;
    report.retries = client.stats.retries;
    report.rate_limited = client.stats.rate_limited;
    report.elapsed = started.elapsed();
    progress(&report);
    Ok(report)
}
