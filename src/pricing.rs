//! The pay engine wired to storage: read a person's facts and assigned policies
//! (`storage::facts`) and calendar, price them with the pure engine (`domain::pay`), and
//! total the lines.
//!
//! Nothing here decides an amount: every rule lives in `domain`. This module only
//! chooses which facts and which policy versions the engine sees.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::currency::Currency;
use crate::domain::holidays;
use crate::domain::pay::{self, Component, PricedLine, PricingError, QuantityUnit};
use crate::domain::person::WorkingHours;
use crate::domain::person_version::PayHistory;
use crate::domain::time_class::{LocalWindow, WorkingCalendar};
use crate::storage::facts::{self, AssignedPolicy};
use crate::storage::{AnyConnection, StorageError, people, person_versions};

/// How far before a period pages still matter: escalation counts the trailing 365 days.
pub const ESCALATION_LOOKBACK_DAYS: i64 = 366;
/// Longest range one statement may cover.
pub const STATEMENT_DAYS_MAX: i64 = 370;

/// Why a statement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Pricing(#[from] PricingError),
    #[error("person `{person}` has stored data paydown cannot price: {problem}")]
    Unpriceable { person: String, problem: String },
}

/// One total of a statement: a component in a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentTotal {
    pub component: Component,
    pub unit: QuantityUnit,
    pub quantity: Decimal,
    pub currency: Currency,
    pub amount: Decimal,
}

/// A person's priced lines over `[from, to)` with their totals.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub person: String,
    pub currency: Currency,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    pub from: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    pub to: DateTime<Utc>,
    pub lines: Vec<PricedLine>,
    /// Per component and currency; every total is the sum of its lines.
    pub totals: Vec<ComponentTotal>,
    /// Per currency, the sum of all lines.
    pub total_by_currency: BTreeMap<Currency, Decimal>,
    /// Parts of the range that could not be priced, and why (never silently dropped).
    pub unpriced: Vec<String>,
}

/// The pay engine's view of a stored person as they are now (the latest version).
pub fn pay_person(person: &people::Person) -> Result<pay::Payee, StatementError> {
    engine_person(
        &person.id,
        &person.currency,
        &person.timezone,
        &person.working_hours,
        person.holiday_calendar.as_deref(),
    )
}

/// The pay engine's view of a stored person over time: one engine person per version
/// (`domain::person_version` says which instant each prices).
pub fn pay_history(conn: &mut AnyConnection, person: &people::Person) -> Result<PayHistory, StatementError> {
    let mut versions = Vec::new();
    for version in person_versions::list(conn, &person.id)? {
        let engine = engine_person(
            &person.id,
            &person.currency,
            &version.timezone,
            &version.working_hours,
            version.holiday_calendar.as_deref(),
        )?;
        versions.push((version.effective_from, engine));
    }
    match PayHistory::new(versions) {
        Some(history) => Ok(history),
        None => Ok(PayHistory::single(pay_person(person)?)),
    }
}

fn engine_person(
    id: &str,
    currency: &str,
    timezone: &str,
    working_hours: &BTreeMap<String, String>,
    holiday_calendar: Option<&str>,
) -> Result<pay::Payee, StatementError> {
    let unpriceable = |problem: String| StatementError::Unpriceable { person: id.to_owned(), problem };
    let zone = timezone.parse().map_err(|_| unpriceable(format!("time zone `{timezone}`")))?;
    let currency: Currency = currency.parse().map_err(|_| unpriceable(format!("currency `{currency}`")))?;
    let hours = WorkingHours::parse("working_hours", working_hours).map_err(|error| unpriceable(error.to_string()))?;
    let mut calendar = WorkingCalendar::new(zone);
    for (index, weekday) in
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun]
            .into_iter()
            .enumerate()
    {
        calendar.working_hours[index] = hours.on(weekday).map(|(start, end)| LocalWindow::new(start, end));
    }
    if let Some(name) = holiday_calendar {
        let dates =
            holidays::calendar(name).ok_or_else(|| unpriceable(format!("unknown holiday calendar `{name}`")))?;
        calendar = calendar.with_holidays(dates.iter().copied());
    }
    Ok(pay::Payee { id: id.to_owned(), currency, calendar })
}

/// The latest instant the ledger prices callouts and responses up to: facts are refused
/// beyond the timestamp window, so nothing after it exists.
pub fn ledger_until() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(4_102_444_800, 0).unwrap_or(DateTime::<Utc>::MAX_UTC) // 2100-01-01
}

/// Prices one person's facts over `[from, to)` by the policies assigned to them.
pub fn statement(
    conn: &mut AnyConnection,
    person_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Statement, StatementError> {
    let stored = people::get(conn, person_id)?;
    let history = pay_history(conn, &stored)?;
    let person = history.current();
    let facts = facts::for_person(conn, person_id, from, to, Duration::days(ESCALATION_LOOKBACK_DAYS))?;
    let (mut lines, unpriced) = price_history(conn, &history, &facts, from, to, to)?;
    pay::sort_lines(&mut lines);
    let totals = component_totals(&lines);
    let total_by_currency = pay::totals_by_currency(&lines);
    Ok(Statement {
        person: person_id.to_owned(),
        currency: person.currency,
        from,
        to,
        lines,
        totals,
        total_by_currency,
        unpriced,
    })
}

/// What the ledger should hold for `person` from `from` on, as of `horizon`: every
/// callout and response however late it happens, and standby for the local days that
/// ended by the horizon (a day still running would otherwise re-post its standby at every
/// pass). `from` should be a local midnight of the person's: lines are then exactly the
/// full history's lines that sit at or after the returned `from` (`from`, or the local
/// midnight before a stretch of work that runs across it).
pub fn ledger_lines(
    conn: &mut AnyConnection,
    history: &PayHistory,
    from: DateTime<Utc>,
    horizon: DateTime<Utc>,
) -> Result<LedgerLines, StatementError> {
    let until = ledger_until();
    let person_id = &history.current().id;
    let lookback = Duration::days(ESCALATION_LOOKBACK_DAYS);
    let mut facts = facts::for_person(conn, person_id, from, until, lookback)?;
    // Work that began before `from` and runs across it is priced as one stretch with the
    // work after it, on a line at its start: start at that line's local day, with the
    // facts (and their escalation window) read again from there.
    let mut from = from;
    if let Some(started) = pay::stretch_start_across(person_id, &facts, from)? {
        from = history.day_start_at_or_before(started);
        facts = facts::for_person(conn, person_id, from, until, lookback)?;
    }
    let standby_until = history.day_start_at_or_before(horizon).max(from);
    let (mut lines, _) = price_history(conn, history, &facts, from, until, standby_until)?;
    pay::sort_lines(&mut lines);
    let page_days = facts
        .pages
        .iter()
        .map(|page| (page.id.clone(), crate::domain::timestamp::utc_day(page.triggered_at)))
        .collect();
    Ok(LedgerLines { lines, page_days, from })
}

/// A person's priced lines, with the UTC day each of their pages was triggered on (the
/// day the dashboard's rollup files a page's pay under), read with the same facts.
pub struct LedgerLines {
    pub lines: Vec<PricedLine>,
    /// Where pricing started: the `from` asked for, or earlier when a stretch of work ran
    /// across it. The ledger's entries are compared from here.
    pub from: DateTime<Utc>,
    pub page_days: std::collections::HashMap<String, i64>,
}

/// [`price_assigned`] for each of the person's versions over its own part of `[from, to)`.
fn price_history(
    conn: &mut AnyConnection,
    history: &PayHistory,
    facts: &pay::Facts,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    standby_until: DateTime<Utc>,
) -> Result<(Vec<PricedLine>, Vec<String>), StatementError> {
    let assigned = facts::assigned_policies(conn, &history.current().id)?;
    let mut lines = Vec::new();
    let mut unpriced: Vec<String> = Vec::new();
    for (part_from, part_to, person) in history.within(from, to) {
        let (part_lines, part_unpriced) = price_assigned(person, &assigned, facts, part_from, part_to, standby_until)?;
        lines.extend(part_lines);
        for problem in part_unpriced {
            if !unpriced.contains(&problem) {
                unpriced.push(problem);
            }
        }
    }
    Ok((lines, unpriced))
}

/// Prices `facts` over `[from, to)` segment by segment of the person's policy
/// assignments, standby only up to `standby_until`. Returns the lines and what could not
/// be priced.
fn price_assigned(
    person: &pay::Payee,
    assignments: &[AssignedPolicy],
    facts: &pay::Facts,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    standby_until: DateTime<Utc>,
) -> Result<(Vec<PricedLine>, Vec<String>), StatementError> {
    let person_id = person.id.as_str();
    let mut lines = Vec::new();
    let mut unpriced = Vec::new();
    let starts: Vec<DateTime<Utc>> =
        assignments.iter().map(|assignment| person.calendar.day_start(assignment.effective_from)).collect();
    match starts.first() {
        None => unpriced.push(format!("no pay policy is assigned to `{person_id}`: nothing in the range is priced")),
        Some(first) if *first > from => unpriced.push(format!(
            "no pay policy is assigned to `{person_id}` before {}: facts before then are not priced",
            assignments.first().map(|a| a.effective_from).unwrap_or(NaiveDate::MIN)
        )),
        Some(_) => {}
    }
    for (index, assignment) in assignments.iter().enumerate() {
        let segment_from = starts[index].max(from);
        let segment_to = starts.get(index + 1).copied().unwrap_or(to).min(to);
        if segment_from >= segment_to {
            continue;
        }
        let history = &assignment.history;
        lines.extend(pay::price_callouts(person, facts, history, segment_from, segment_to)?);
        lines.extend(pay::price_responses(person, facts, history, segment_from, segment_to)?);
        let standby_to = segment_to.min(standby_until);
        if segment_from < standby_to {
            lines.extend(pay::price_standby(person, &facts.shifts, history, segment_from, standby_to)?);
        }
    }
    Ok((lines, unpriced))
}

fn component_totals(lines: &[PricedLine]) -> Vec<ComponentTotal> {
    let mut totals: BTreeMap<(Component, Currency, QuantityUnit), ComponentTotal> = BTreeMap::new();
    for line in lines {
        let total = totals.entry((line.component, line.currency, line.unit)).or_insert(ComponentTotal {
            component: line.component,
            unit: line.unit,
            quantity: Decimal::ZERO,
            currency: line.currency,
            amount: Decimal::ZERO,
        });
        total.quantity += line.quantity;
        total.amount += line.amount;
    }
    totals.into_values().collect()
}
