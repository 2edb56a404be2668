//! Accrual and verification: keeping the ledger equal to what the pay engine says.
//!
//! An accrual prices every person's facts up to `as_of` with the policies assigned to
//! them, compares the lines with the live ledger entries (`domain::ledger::changes`),
//! and posts only the difference, all in one transaction: a crash leaves all of an
//! accrual's entries or none. Accruals are serialised (an advisory lock on PostgreSQL,
//! the write lock on SQLite); the unique key `(line_key, revision, entry_kind)` would
//! refuse a double posting even without the lock.
//!
//! Where an entry goes: the period its fact belongs to (the person's local date of
//! `occurred_at`) while that period is open; after it closed, the earliest open period
//! after it, as an adjustment that names the original period (`natural_period`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::ledger::{Change, LiveEntry, changes, line_terms};
use crate::domain::pay::PricedLine;
use crate::domain::period::PeriodScheme;
use crate::pricing::{self, StatementError};
use crate::storage::ledger::{self as store, Entry, NewEntry};
use crate::storage::{AnyConnection, StorageError, people, write_transaction};

/// Fault injection for the crash test: with `PAYDOWN_FAULT_ACCRUAL_STALL_AFTER=N` set,
/// an accrual stops (sleeps for good, its transaction open) after posting N entries, so
/// that a test can kill the process mid-accrual deterministically.
pub const FAULT_STALL_ENV: &str = "PAYDOWN_FAULT_ACCRUAL_STALL_AFTER";

fn stall_if_asked(posted: usize) {
    let Some(limit) = std::env::var(FAULT_STALL_ENV).ok().and_then(|value| value.parse::<usize>().ok()) else {
        return;
    };
    if posted == limit {
        eprintln!("fault injection: accrual stalled after {posted} entries");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// The advisory lock key that serialises accruals of several servers on one PostgreSQL.
const ACCRUAL_LOCK_KEY: i64 = 0x0070_6179_6c65_6467;

/// Why an accrual or a verification failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for LedgerError {
    fn from(error: diesel::result::Error) -> LedgerError {
        LedgerError::Storage(StorageError::Database(error))
    }
}

/// What an accrual did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccrualReport {
    pub run_id: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub as_of: DateTime<Utc>,
    pub people: usize,
    /// New line revisions posted.
    pub lines_posted: usize,
    /// Reversals of lines that changed or no longer hold.
    pub reversals_posted: usize,
    /// Of those entries, how many went into a later period because theirs was closed.
    pub adjustments_posted: usize,
    /// People whose facts could not be priced, and why (their entries are untouched).
    pub unpriced: Vec<String>,
}

fn ledger_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Everything a person is owed for facts up to `as_of`, as priced now.
fn desired_lines(
    conn: &mut AnyConnection,
    person: &str,
    as_of: DateTime<Utc>,
) -> Result<Result<Vec<PricedLine>, String>, StorageError> {
    match pricing::statement(conn, person, ledger_epoch(), as_of) {
        Ok(statement) => Ok(Ok(statement.lines)),
        Err(StatementError::Storage(error)) => Err(error),
        Err(error) => Ok(Err(format!("{person}: {error}"))),
    }
}

fn live_entries(entries: &[Entry]) -> (Vec<LiveEntry>, BTreeMap<String, i32>) {
    let reversed: BTreeSet<&str> = entries.iter().filter_map(|entry| entry.reverses.as_deref()).collect();
    let mut revisions_max: BTreeMap<String, i32> = BTreeMap::new();
    for entry in entries {
        let max = revisions_max.entry(entry.line_key.clone()).or_insert(entry.revision);
        *max = (*max).max(entry.revision);
    }
    let live = entries
        .iter()
        .filter(|entry| entry.kind == "line" && !reversed.contains(entry.id.as_str()))
        .map(|entry| LiveEntry {
            entry_id: entry.id.clone(),
            line_key: entry.line_key.clone(),
            revision: entry.revision,
            terms: entry.terms.clone(),
        })
        .collect();
    (live, revisions_max)
}

/// Posts what the ledger lacks for every person, as of `as_of`.
pub fn accrue(conn: &mut AnyConnection, actor: &str, as_of: DateTime<Utc>) -> Result<AccrualReport, LedgerError> {
    write_transaction(conn, |conn| {
        if let AnyConnection::Postgresql(c) = conn {
            c.batch_execute(&format!("SELECT pg_advisory_xact_lock({ACCRUAL_LOCK_KEY})"))?;
        }
        let scheme = store::scheme(conn)?;
        let run_id = uuid::Uuid::now_v7().to_string();
        store::insert_run(conn, &run_id, actor, as_of)?;
        let mut report = AccrualReport { run_id: run_id.clone(), as_of, ..AccrualReport::default() };
        for person in people::list(conn, None)? {
            report.people += 1;
            let desired = match desired_lines(conn, &person.id, as_of)? {
                Ok(lines) => lines,
                Err(problem) => {
                    report.unpriced.push(problem);
                    continue;
                }
            };
            let pay_person =
                pricing::pay_person(&person).map_err(|error| StorageError::Unavailable(error.to_string()))?;
            let entries = store::person_entries(conn, &person.id)?;
            let (live, revisions_max) = live_entries(&entries);
            let by_id: BTreeMap<&str, &Entry> = entries.iter().map(|entry| (entry.id.as_str(), entry)).collect();
            for change in changes(&desired, &live, &revisions_max) {
                let entry = match change {
                    Change::Post { line_key, revision, line } => {
                        let natural = scheme.period_of(pay_person.calendar.local(line.occurred_at).date());
                        new_line_entry(&run_id, &natural.id, line_key, revision, &line, actor, as_of)?
                    }
                    Change::Reverse { entry } => {
                        let Some(reversed) = by_id.get(entry.entry_id.as_str()) else { continue };
                        reversal_entry(&run_id, reversed, actor, as_of)
                    }
                };
                post(conn, scheme, entry, &pay_person, &mut report, as_of)?;
            }
        }
        store::finish_run(conn, &run_id, report.lines_posted + report.reversals_posted)?;
        crate::storage::audit::record(
            conn,
            &crate::storage::Stamp::new(actor, as_of),
            "accrue",
            "accrual_run",
            &run_id,
            Some(format!(
                "{} lines, {} reversals, {} adjustments",
                report.lines_posted, report.reversals_posted, report.adjustments_posted
            )),
        )?;
        Ok(report)
    })
}

fn post(
    conn: &mut AnyConnection,
    scheme: PeriodScheme,
    mut entry: NewEntry,
    person: &crate::domain::pay::Person,
    report: &mut AccrualReport,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let natural = scheme.period_of(person.calendar.local(entry.occurred_at).date());
    store::ensure_period(conn, &natural, now)?;
    entry.natural_period = natural.id.clone();
    entry.period = store::posting_period(conn, scheme, &natural, now)?;
    if entry.period != natural.id {
        report.adjustments_posted += 1;
    }
    if entry.kind == "line" {
        report.lines_posted += 1;
    } else {
        report.reversals_posted += 1;
    }
    store::insert_entry(conn, &entry)?;
    stall_if_asked(report.lines_posted + report.reversals_posted);
    Ok(())
}

fn new_line_entry(
    run_id: &str,
    natural_period: &str,
    line_key: String,
    revision: i32,
    line: &PricedLine,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<NewEntry, StorageError> {
    let amount_minor = line
        .currency
        .to_minor_units(line.amount)
        .map_err(|error| StorageError::Unavailable(format!("line `{line_key}`: {error}")))?;
    Ok(NewEntry {
        id: uuid::Uuid::now_v7().to_string(),
        accrual_run_id: run_id.to_owned(),
        person: line.person_id.clone(),
        period: natural_period.to_owned(),
        natural_period: natural_period.to_owned(),
        kind: "line",
        terms: line_terms(line),
        line_key,
        revision,
        reverses: None,
        component: crate::domain::serde_name(&line.component),
        quantity: line.quantity,
        unit: crate::domain::serde_name(&line.unit),
        unit_rate: line.unit_rate,
        multiplier: line.multiplier,
        time_class: line.time_class.map(|class| class.as_str().to_owned()),
        day_class: line.day_class.map(|class| class.as_str().to_owned()),
        amount_minor,
        currency: line.currency.code().to_owned(),
        fact_kind: crate::domain::serde_name(&line.fact.kind),
        fact_id: line.fact.id.clone(),
        page_id: line.page_id.clone(),
        policy_id: line.policy.id.clone(),
        policy_version: i32::try_from(line.policy.version).unwrap_or(i32::MAX),
        occurred_at: line.occurred_at,
        explanation: line.explanation.clone(),
        posted_at: now,
        posted_by: actor.to_owned(),
    })
}

fn reversal_entry(run_id: &str, reversed: &Entry, actor: &str, now: DateTime<Utc>) -> NewEntry {
    NewEntry {
        id: uuid::Uuid::now_v7().to_string(),
        accrual_run_id: run_id.to_owned(),
        person: reversed.person.clone(),
        period: reversed.natural_period.clone(),
        natural_period: reversed.natural_period.clone(),
        kind: "reversal",
        line_key: reversed.line_key.clone(),
        revision: reversed.revision,
        reverses: Some(reversed.id.clone()),
        terms: reversed.terms.clone(),
        component: reversed.component.clone(),
        quantity: -reversed.quantity,
        unit: reversed.unit.clone(),
        unit_rate: reversed.unit_rate,
        multiplier: reversed.multiplier,
        time_class: reversed.time_class.clone(),
        day_class: reversed.day_class.clone(),
        amount_minor: -reversed.amount_minor,
        currency: reversed.currency.clone(),
        fact_kind: reversed.fact_kind.clone(),
        fact_id: reversed.fact_id.clone(),
        page_id: reversed.page_id.clone(),
        policy_id: reversed.policy_id.clone(),
        policy_version: reversed.policy_version,
        occurred_at: reversed.occurred_at,
        explanation: format!("reversal of entry {}: {}", reversed.id, reversed.explanation),
        posted_at: now,
        posted_by: actor.to_owned(),
    }
}

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// The instant the ledger was recomputed for: the latest accrual's.
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub as_of: Option<DateTime<Utc>>,
    pub people: usize,
    pub periods: usize,
    pub entries: usize,
    /// Every difference found; empty when the ledger is right.
    pub differences: Vec<String>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Recomputes every period, open and closed, from the facts and the policies in force,
/// and reports every way the ledger differs from it.
pub fn verify(conn: &mut AnyConnection) -> Result<VerifyReport, LedgerError> {
    let as_of = store::last_run_at(conn)?;
    let periods = store::list_periods(conn)?;
    let scheme = store::scheme(conn)?;
    let mut report = VerifyReport { as_of, periods: periods.len(), ..VerifyReport::default() };
    let closed_at: BTreeMap<&str, DateTime<Utc>> =
        periods.iter().filter_map(|period| period.closed_at.map(|at| (period.id.as_str(), at))).collect();
    for person in people::list(conn, None)? {
        report.people += 1;
        let entries = store::person_entries(conn, &person.id)?;
        report.entries += entries.len();
        check_chain(&entries, &closed_at, &mut report.differences);
        let Some(as_of) = as_of else {
            if !entries.is_empty() {
                report.differences.push(format!("{}: entries exist but no accrual run is recorded", person.id));
            }
            continue;
        };
        let desired = match desired_lines(conn, &person.id, as_of)? {
            Ok(lines) => lines,
            Err(problem) => {
                report.differences.push(format!("cannot recompute: {problem}"));
                continue;
            }
        };
        let (live, revisions_max) = live_entries(&entries);
        for change in changes(&desired, &live, &revisions_max) {
            report.differences.push(match change {
                Change::Post { line_key, line, .. } => {
                    format!(
                        "{}: ledger lacks {} {} {} ({line_key})",
                        person.id,
                        crate::domain::serde_name(&line.component),
                        line.amount,
                        line.currency
                    )
                }
                Change::Reverse { entry } => {
                    format!(
                        "{}: ledger holds entry {} ({}) that the facts no longer support",
                        person.id, entry.entry_id, entry.line_key
                    )
                }
            });
        }
        let pay_person = pricing::pay_person(&person).map_err(|error| StorageError::Unavailable(error.to_string()))?;
        compare_period_totals(&person.id, &desired, &entries, scheme, &pay_person, &mut report.differences);
    }
    Ok(report)
}

/// Reversals point at a line of the same identity with the opposite amount, no line is
/// reversed twice, and nothing was posted into a period after it closed.
fn check_chain(entries: &[Entry], closed_at: &BTreeMap<&str, DateTime<Utc>>, differences: &mut Vec<String>) {
    let by_id: BTreeMap<&str, &Entry> = entries.iter().map(|entry| (entry.id.as_str(), entry)).collect();
    let mut reversed = BTreeSet::new();
    for entry in entries {
        if let Some(closed) = closed_at.get(entry.period.as_str())
            && entry.posted_at > *closed
        {
            differences.push(format!("entry {} was posted into {} after it closed", entry.id, entry.period));
        }
        let Some(target) = entry.reverses.as_deref() else { continue };
        match by_id.get(target) {
            Some(original) if original.line_key == entry.line_key && original.amount_minor == -entry.amount_minor => {}
            _ => differences.push(format!("reversal {} does not match the entry it reverses ({target})", entry.id)),
        }
        if !reversed.insert(target) {
            differences.push(format!("entry {target} is reversed more than once"));
        }
    }
}

/// Per person and period (the period a fact belongs to) and currency, the sum of the
/// entries equals the sum of the statement's lines.
fn compare_period_totals(
    person: &str,
    desired: &[PricedLine],
    entries: &[Entry],
    scheme: PeriodScheme,
    pay_person: &crate::domain::pay::Person,
    differences: &mut Vec<String>,
) {
    let mut expected: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for line in desired {
        let period = scheme.period_of(pay_person.calendar.local(line.occurred_at).date()).id;
        *expected.entry((period, line.currency.code().to_owned())).or_default() += line.amount;
    }
    let mut held: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for entry in entries {
        *held.entry((entry.natural_period.clone(), entry.currency.clone())).or_default() += entry.amount;
    }
    let keys: BTreeSet<&(String, String)> = expected.keys().chain(held.keys()).collect();
    for key in keys {
        let want = expected.get(key).copied().unwrap_or_default();
        let have = held.get(key).copied().unwrap_or_default();
        if want != have {
            differences.push(format!(
                "{person}: period {} in {}: statement total {want} but ledger total {have}",
                key.0, key.1
            ));
        }
    }
}

/// Closes a period after posting what it lacks, unless it has not ended yet.
///
/// A period ends at local midnight of its last day everywhere, the latest being UTC−12,
/// so it may close from 12:00 UTC on `ends_on`.
pub fn close_period(
    conn: &mut AnyConnection,
    id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<store::Period, LedgerError> {
    // Post what the period lacks first; this also creates the period's row when its
    // first facts were never accrued.
    accrue(conn, actor, now)?;
    let period = store::get_period(conn, id)?;
    let ends_everywhere = period.ends_on.and_hms_opt(12, 0, 0).map(|at| at.and_utc()).unwrap_or(now);
    if now < ends_everywhere {
        return Err(LedgerError::Storage(StorageError::Conflict(crate::domain::field_error::FieldError::new(
            "id",
            format!("pay period `{id}` has not ended everywhere yet; it may close from {ends_everywhere}"),
        ))));
    }
    Ok(write_transaction(conn, |conn| store::close_period(conn, id, actor, now))?)
}
