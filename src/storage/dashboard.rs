//! What the debt model and the health signals read: pages in a range with their
//! responses, the ledger's pay per page, and the people with their zones and costs.
//! The dashboard reads these directly only for the rollup's recomputation, for partial days at
//! a range's edges, and as the reference computation in tests (`crate::rollup`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;

use super::schema::{ledger_entries, responses};
use super::{AnyConnection, StorageError, cost_settings, pages, people, services, shifts, teams};
use crate::domain::debt::{RangeFacts, RangePage};
use crate::domain::timestamp::{from_naive, to_naive};

/// What classifies and costs pages: people (zones, costs), owners, teams' default costs,
/// the organisation's cost settings.
pub struct Context {
    pub people: Vec<people::Person>,
    pub services: Vec<services::Service>,
    /// Teams, for their default loaded hourly cost.
    pub teams: Vec<teams::Team>,
    pub cost_settings: cost_settings::CostSettings,
}

/// Most pages one dashboard computation reads.
pub const DASHBOARD_PAGES_MAX: i64 = 2_000_000;

type EntryRow = (Option<String>, String, String, String, String, i64);

pub fn load_pages(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<RangeFacts, StorageError> {
    let filter = pages::PageFilter {
        triggered_from: Some(from),
        triggered_to: Some(to),
        limit: DASHBOARD_PAGES_MAX,
        ..Default::default()
    };
    let found = pages::list(conn, &filter)?;
    let response_rows: Vec<(String, String, NaiveDateTime, NaiveDateTime, bool)> = responses::table
        .inner_join(super::schema::pages::table)
        .filter(super::schema::pages::triggered_at.ge(to_naive(from)))
        .filter(super::schema::pages::triggered_at.lt(to_naive(to)))
        .select((
            responses::page_id,
            responses::person_id,
            responses::started_at,
            responses::ended_at,
            responses::actionable,
        ))
        .load(conn)?;
    let entry_rows: Vec<EntryRow> = ledger_entries::table
        .inner_join(super::schema::pages::table.on(super::schema::pages::id.nullable().eq(ledger_entries::page_id)))
        .filter(super::schema::pages::triggered_at.ge(to_naive(from)))
        .filter(super::schema::pages::triggered_at.lt(to_naive(to)))
        .select((
            ledger_entries::page_id,
            ledger_entries::person_id,
            ledger_entries::component,
            ledger_entries::quantity,
            ledger_entries::currency,
            ledger_entries::amount_minor,
        ))
        .load(conn)?;
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

pub fn load_context(conn: &mut AnyConnection) -> Result<Context, StorageError> {
    Ok(Context {
        people: people::list(conn, None)?,
        services: services::list(conn, None)?,
        teams: teams::list(conn)?,
        cost_settings: cost_settings::get(conn)?,
    })
}

/// The shifts overlapping `[from, to)`.
pub fn load_shifts(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<shifts::Shift>, StorageError> {
    shifts::list(conn, None, Some(from), Some(to), DASHBOARD_PAGES_MAX)
}
