//! The inputs of the reports, read from the ledger: everything posted in one period,
//! with the people it pays and their teams' cost centres.

use diesel::prelude::*;

use super::schema::{people, teams};
use super::{AnyConnection, StorageError, ledger};
use crate::reports::input::{EntryInfo, PayrollInput, PeriodInfo, PersonInfo};

/// id, name, payroll id, email, team, currency, cost centre.
type DirectoryRow = (String, String, String, String, Option<String>, String, Option<String>);

/// The payroll input of a period: its entries (lines, reversals and adjustments posted
/// in it) and the people they pay.
pub fn payroll_input(conn: &mut AnyConnection, period_id: &str) -> Result<PayrollInput, StorageError> {
    let period = ledger::get_period(conn, period_id)?;
    let entries = ledger::list_entries(
        conn,
        &ledger::EntryFilter { period: Some(period_id.to_owned()), limit: i64::MAX, ..Default::default() },
    )?;
    let directory: Vec<DirectoryRow> = people::table
        .left_join(teams::table)
        .select((
            people::id,
            people::name,
            people::payroll_id,
            people::email,
            people::team_id,
            people::currency,
            teams::cost_centre.nullable(),
        ))
        .order(people::id)
        .load(conn)?;
    let paid: std::collections::BTreeSet<&str> = entries.iter().map(|entry| entry.person.as_str()).collect();
    let people = directory
        .into_iter()
        .filter(|(id, ..)| paid.contains(id.as_str()))
        .map(|(id, name, payroll_id, email, team, currency, cost_centre)| PersonInfo {
            id,
            name,
            payroll_id,
            email,
            team,
            cost_centre,
            currency,
        })
        .collect();
    Ok(PayrollInput {
        period: PeriodInfo {
            id: period.id.clone(),
            starts_on: period.starts_on,
            ends_on: period.ends_on,
            closed: !period.is_open(),
        },
        people,
        entries: entries
            .into_iter()
            .map(|entry| EntryInfo {
                id: entry.id,
                person: entry.person,
                component: entry.component,
                kind: entry.kind,
                quantity: entry.quantity,
                unit: entry.unit,
                amount: entry.amount,
                currency: entry.currency,
                natural_period: entry.natural_period,
                occurred_at: entry.occurred_at,
                explanation: entry.explanation,
                fact_kind: entry.fact_kind,
                fact_id: entry.fact_id,
                policy_id: entry.policy_id,
                policy_version: entry.policy_version,
            })
            .collect(),
    })
}
