//! The one reader of the facts pay and cost are computed from, as the domain's plain types:
//! pricing, the accrual, the statement preview, the rollup and the dashboard read pages,
//! responses, shifts and policy assignments here and nowhere else, so what a price or a cost
//! sees is decided once.
//!
//! - [`for_person`]: one person's pages, responses and shifts around a range (pricing; the
//!   accrual's hot path: one query per kind of fact, never one per row).
//! - [`assigned_policies`]: a person's policy assignments with each policy's versions.
//! - [`pages_of_range`]: every page triggered in a range, with its responses and the pay the
//!   ledger holds for it (the debt model and the health signals).
//! - [`shifts_of_range`]: everyone's shifts overlapping a range.
//! - [`cost_context`]: what classifies and costs pages (people, owners, team and organisation
//!   costs).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;

use super::schema::{ledger_entries, pages, responses, shifts};
use super::{AnyConnection, StorageError, cost_settings, people, policies, services, teams};
use crate::domain::debt::{RangeFacts, RangePage};
use crate::domain::pay::{Facts, PageFact, ResponseFact, ShiftFact};
use crate::domain::policy::PolicyHistory;
use crate::domain::timestamp::{from_naive, to_naive};

/// Most ids bound in one `IN (…)` list (SQLite's default limit is 32,766 parameters).
const IN_LIST_IDS_MAX: usize = 500;

type PageFactRow = (String, NaiveDateTime, Option<NaiveDateTime>, Option<NaiveDateTime>, Option<String>);
type ResponseFactRow = (String, String, String, NaiveDateTime, NaiveDateTime, bool);
type ShiftFactRow = (String, String, String, NaiveDateTime, NaiveDateTime);

/// Pages the person acknowledged or responded to, triggered in `[from - lookback, to)`,
/// every response logged on them (by anyone: the engine needs to know whether anyone
/// logged one), and the person's shifts overlapping `[from - 1 day, to + 1 day)` (a
/// per-night standby night reaches into the next day).
pub fn for_person(
    conn: &mut AnyConnection,
    person: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    lookback: Duration,
) -> Result<Facts, StorageError> {
    // Two indexed reads, not one `acknowledged_by = ? OR id IN (…)`, which SQLite answers
    // by scanning every page of the range for every person: the pages the person
    // acknowledged, and the pages of their paid responses (a pending or rejected claim is
    // not paid, issue #16).
    let (low, high) = (to_naive(from - lookback), to_naive(to));
    let mut page_rows: Vec<PageFactRow> = pages::table
        .filter(pages::acknowledged_by.eq(person))
        .filter(pages::triggered_at.ge(low))
        .filter(pages::triggered_at.lt(high))
        .select((pages::id, pages::triggered_at, pages::acknowledged_at, pages::resolved_at, pages::acknowledged_by))
        .load(conn)?;
    let responded: Vec<String> = responses::table
        .filter(responses::person_id.eq(person))
        .filter(responses::paid.eq(true))
        .select(responses::page_id)
        .distinct()
        .load(conn)?;
    let acknowledged: std::collections::BTreeSet<String> = page_rows.iter().map(|row| row.0.clone()).collect();
    let others: Vec<&String> = responded.iter().filter(|id| !acknowledged.contains(*id)).collect();
    for chunk in others.chunks(IN_LIST_IDS_MAX) {
        page_rows.extend(
            pages::table
                .filter(pages::id.eq_any(chunk.iter().map(|id| id.as_str())))
                .filter(pages::triggered_at.ge(low))
                .filter(pages::triggered_at.lt(high))
                .select((
                    pages::id,
                    pages::triggered_at,
                    pages::acknowledged_at,
                    pages::resolved_at,
                    pages::acknowledged_by,
                ))
                .load::<PageFactRow>(conn)?,
        );
    }
    page_rows.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let page_facts: Vec<PageFact> = page_rows
        .into_iter()
        .map(|(id, triggered_at, acknowledged_at, resolved_at, acknowledged_by)| PageFact {
            id,
            triggered_at: from_naive(triggered_at),
            acknowledged_at: acknowledged_at.map(from_naive),
            resolved_at: resolved_at.map(from_naive),
            acknowledged_by,
        })
        .collect();
    let mut response_facts = Vec::new();
    let page_ids: Vec<&str> = page_facts.iter().map(|page| page.id.as_str()).collect();
    for chunk in page_ids.chunks(IN_LIST_IDS_MAX) {
        let rows: Vec<ResponseFactRow> = responses::table
            .filter(responses::page_id.eq_any(chunk))
            .filter(responses::paid.eq(true))
            .select((
                responses::id,
                responses::page_id,
                responses::person_id,
                responses::started_at,
                responses::ended_at,
                responses::actionable,
            ))
            .load(conn)?;
        response_facts.extend(rows.into_iter().map(|(id, page_id, person_id, started_at, ended_at, actionable)| {
            ResponseFact {
                id,
                page_id,
                person_id,
                started_at: from_naive(started_at),
                ended_at: from_naive(ended_at),
                actionable,
            }
        }));
    }
    response_facts.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    let shift_rows: Vec<ShiftFactRow> = shifts::table
        .filter(shifts::person_id.eq(person))
        .filter(shifts::end_at.gt(to_naive(from - Duration::days(1))))
        .filter(shifts::start_at.lt(to_naive(to + Duration::days(1))))
        .select((shifts::id, shifts::person_id, shifts::role, shifts::start_at, shifts::end_at))
        .order((shifts::start_at, shifts::id))
        .load(conn)?;
    let shift_facts = shift_rows
        .into_iter()
        .map(|(id, person_id, role, start, end)| ShiftFact {
            id,
            person_id,
            role,
            start: from_naive(start),
            end: from_naive(end),
        })
        .collect();
    Ok(Facts { pages: page_facts, responses: response_facts, shifts: shift_facts })
}

/// A policy assigned to a person from a local date on (until the next assignment), with all
/// its versions.
pub struct AssignedPolicy {
    pub effective_from: NaiveDate,
    pub history: PolicyHistory,
}

/// The person's policy assignments, oldest first, each with its policy's versions (a policy
/// assigned twice is read once).
pub fn assigned_policies(conn: &mut AnyConnection, person: &str) -> Result<Vec<AssignedPolicy>, StorageError> {
    let assignments = policies::assignments(conn, person)?;
    let mut histories: BTreeMap<String, PolicyHistory> = BTreeMap::new();
    let mut out = Vec::with_capacity(assignments.len());
    for assignment in assignments {
        let history = match histories.get(&assignment.policy) {
            Some(history) => history.clone(),
            None => {
                let history = policies::get_history(conn, &assignment.policy)?;
                histories.insert(assignment.policy.clone(), history.clone());
                history
            }
        };
        out.push(AssignedPolicy { effective_from: assignment.effective_from, history });
    }
    Ok(out)
}

/// Most pages (and shifts) one range read returns.
pub const RANGE_PAGES_MAX: i64 = 2_000_000;

type EntryRow = (Option<String>, String, String, String, String, i64);

/// The ledger entries of the pages triggered in `[from, to)`. A page's entries belong to
/// the person who acknowledged it or to people who responded to it (the pages a person is
/// priced for, `for_person`), so they are read per (page, person) pair through
/// `ledger_entries_person_page`: a read that grows with the range, not with the ledger. An
/// entry of someone who no longer acknowledges or responds to the page is not read; the
/// accrual reverses it, and the reversal marks the day for the rollup again.
fn entries_of_pages(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<EntryRow>, StorageError> {
    let (low, high) = (to_naive(from), to_naive(to));
    let columns = (
        ledger_entries::id,
        (
            ledger_entries::page_id,
            ledger_entries::person_id,
            ledger_entries::component,
            ledger_entries::quantity,
            ledger_entries::currency,
            ledger_entries::amount_minor,
        ),
    );
    let acknowledged: Vec<(String, EntryRow)> = ledger_entries::table
        .inner_join(
            pages::table.on(pages::id
                .nullable()
                .eq(ledger_entries::page_id)
                .and(pages::acknowledged_by.eq(ledger_entries::person_id.nullable()))),
        )
        .filter(ledger_entries::page_id.is_not_null())
        .filter(pages::triggered_at.ge(low))
        .filter(pages::triggered_at.lt(high))
        .select(columns)
        .load(conn)?;
    let responded: Vec<(String, EntryRow)> = ledger_entries::table
        .inner_join(
            responses::table.on(responses::page_id
                .nullable()
                .eq(ledger_entries::page_id)
                .and(responses::person_id.eq(ledger_entries::person_id))),
        )
        .inner_join(pages::table.on(pages::id.eq(responses::page_id)))
        .filter(ledger_entries::page_id.is_not_null())
        .filter(pages::triggered_at.ge(low))
        .filter(pages::triggered_at.lt(high))
        .select(columns)
        .load(conn)?;
    // An acknowledger who also responded, or two responses of one person, reach the same
    // entries twice: each counts once.
    let by_id: BTreeMap<String, EntryRow> = acknowledged.into_iter().chain(responded).collect();
    Ok(by_id.into_values().collect())
}

/// The pages triggered in `[from, to)`, every response logged on them, and what the ledger
/// holds for them (pay per person and currency, recovery hours).
pub fn pages_of_range(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<RangeFacts, StorageError> {
    let filter = super::pages::PageFilter {
        triggered_from: Some(from),
        triggered_to: Some(to),
        limit: RANGE_PAGES_MAX,
        ..Default::default()
    };
    let found = super::pages::list(conn, &filter)?;
    let response_rows: Vec<(String, String, NaiveDateTime, NaiveDateTime, bool)> = responses::table
        .inner_join(pages::table)
        .filter(pages::triggered_at.ge(to_naive(from)))
        .filter(pages::triggered_at.lt(to_naive(to)))
        .select((
            responses::page_id,
            responses::person_id,
            responses::started_at,
            responses::ended_at,
            responses::actionable,
        ))
        .load(conn)?;
    let entry_rows = entries_of_pages(conn, from, to)?;
    let mut paid: BTreeMap<(String, String, String), Decimal> = BTreeMap::new();
    let mut recovery: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for (page_id, person, component, quantity, currency_code, amount_minor) in entry_rows {
        let Some(page_id) = page_id else { continue };
        if component == "recovery" {
            *recovery.entry((page_id, person)).or_default() += quantity.parse::<Decimal>().unwrap_or_default();
            continue;
        }
        let Ok(currency) = currency_code.parse::<crate::domain::currency::Currency>() else { continue };
        *paid.entry((page_id, person, currency_code)).or_default() += currency.from_minor_units(amount_minor);
    }
    Ok(RangeFacts {
        pages: found
            .into_iter()
            .map(|page| RangePage {
                id: page.id,
                service: page.service,
                alert_key: page.alert_key,
                lane: page.lane,
                triggered_at: page.triggered_at,
                acknowledged_at: page.acknowledged_at,
                acknowledged_by: page.acknowledged_by,
                resolved_at: page.resolved_at,
            })
            .collect(),
        responses: response_rows
            .into_iter()
            .map(|(page, person, started, ended, actionable)| {
                (page, person, from_naive(started), from_naive(ended), actionable)
            })
            .collect(),
        paid: paid.into_iter().map(|((page, person, currency), amount)| (page, person, currency, amount)).collect(),
        recovery: recovery.into_iter().map(|((page, person), hours)| (page, person, hours)).collect(),
    })
}

/// Everyone's shifts overlapping `[from, to)`.
pub fn shifts_of_range(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<super::shifts::Shift>, StorageError> {
    super::shifts::list(conn, None, Some(from), Some(to), RANGE_PAGES_MAX)
}

/// What classifies and costs pages: people (zones, costs), owners, teams' default costs,
/// the organisation's cost settings.
pub struct CostContext {
    pub people: Vec<people::Person>,
    pub services: Vec<services::Service>,
    /// Teams, for their default loaded hourly cost.
    pub teams: Vec<teams::Team>,
    pub cost_settings: cost_settings::CostSettings,
}

pub fn cost_context(conn: &mut AnyConnection) -> Result<CostContext, StorageError> {
    Ok(CostContext {
        people: people::list(conn, None)?,
        services: services::list(conn, None)?,
        teams: teams::list(conn)?,
        cost_settings: cost_settings::get(conn)?,
    })
}
