//! The inputs of the reports, read from the ledger: everything posted in one period,
//! with the people it pays and their teams' cost centres (those of the period: the
//! person's version in force on its last day).

use diesel::prelude::*;

use super::schema::{people, teams};
use super::{AnyConnection, StorageError, ledger};
use crate::reports::input::{EntryInfo, PayrollInput, PeriodInfo, PersonInfo};

/// id, name, payroll id, email, team, currency, cost centre.
type DirectoryRow = (String, String, String, String, Option<String>, String, Option<String>);

/// The payroll input of a period: its entries (lines, reversals and adjustments posted
/// in it) and the people they pay.
pub fn payroll_input(conn: &mut AnyConnection, period_id: &str) -> Result<PayrollInput, StorageError> {
    payroll_input_for(conn, period_id, None)
}

/// The people paid in a period, in the order payroll files list them (payroll id, id).
pub fn payroll_people(conn: &mut AnyConnection, period_id: &str) -> Result<Vec<String>, StorageError> {
    ledger::get_period(conn, period_id)?;
    let mut paid: Vec<(String, String)> = super::schema::ledger_entries::table
        .inner_join(people::table)
        .filter(super::schema::ledger_entries::period_id.eq(period_id))
        .select((people::payroll_id, people::id))
        .distinct()
        .load(conn)?;
    paid.sort();
    Ok(paid.into_iter().map(|(_, id)| id).collect())
}

/// The payroll input of a period for some people only (`None`: everyone), so that a
/// large export can be read and written a slice of people at a time.
pub fn payroll_input_for(
    conn: &mut AnyConnection,
    period_id: &str,
    only: Option<&[String]>,
) -> Result<PayrollInput, StorageError> {
    let period = ledger::get_period(conn, period_id)?;
    let entries = match only {
        None => ledger::list_entries(
            conn,
            &ledger::EntryFilter { period: Some(period_id.to_owned()), limit: i64::MAX, ..Default::default() },
        )?,
        Some(people) => {
            let mut entries = Vec::new();
            for person in people {
                let filter = ledger::EntryFilter {
                    period: Some(period_id.to_owned()),
                    person: Some(person.clone()),
                    limit: i64::MAX,
                    offset: 0,
                };
                entries.extend(ledger::list_entries(conn, &filter)?);
            }
            entries
        }
    };
    input_from_entries(conn, period, entries)
}

/// A payroll input of `period` holding exactly `entries`, with the people they pay.
pub fn input_from_entries(
    conn: &mut AnyConnection,
    period: ledger::Period,
    entries: Vec<ledger::Entry>,
) -> Result<PayrollInput, StorageError> {
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
    // Team and cost centre of the time: the person's version in force on the period's last day.
    let versions = super::person_versions::all(conn)?;
    let cost_centres: std::collections::BTreeMap<String, String> =
        teams::table.select((teams::id, teams::cost_centre)).load::<(String, String)>(conn)?.into_iter().collect();
    let last_day = period.ends_on.pred_opt().unwrap_or(period.ends_on);
    let earning_codes = super::pay_runs::earning_codes(conn, &period.id)?;
    let people = directory
        .into_iter()
        .filter(|(id, ..)| paid.contains(id.as_str()))
        .map(|(id, name, payroll_id, email, team, currency, cost_centre)| {
            let then = versions.get(&id).and_then(|versions| {
                crate::domain::person_version::in_force_on(versions, last_day, |version| version.effective_from)
            });
            let (team, cost_centre) = match then {
                Some(version) => (
                    version.team.clone(),
                    version
                        .cost_centre
                        .clone()
                        .or_else(|| version.team.as_ref().and_then(|team| cost_centres.get(team).cloned())),
                ),
                None => (team, cost_centre),
            };
            PersonInfo { id, name, payroll_id, email, team, cost_centre, currency }
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
                earning_code: earning_codes.get(&entry.id).cloned(),
                id: entry.id,
                time_class: entry.time_class,
                day_class: entry.day_class,
                posted_at: entry.posted_at,
            })
            .collect(),
    })
}

/// The changes file's input: the period's entries posted since its last payroll export (all
/// of them when it was never exported), and that export.
pub fn changes_input(
    conn: &mut AnyConnection,
    period_id: &str,
) -> Result<(Option<super::exports::ExportRecord>, PayrollInput), StorageError> {
    let period = ledger::get_period(conn, period_id)?;
    let (last, entries) = super::exports::entries_since_last_export(conn, period_id)?;
    Ok((last, input_from_entries(conn, period, entries)?))
}

/// One person as the reports know them, with their team's cost centre now (a statement's
/// header; a payroll file's people are those of the period, [`input_from_entries`]).
pub fn person_info(conn: &mut AnyConnection, id: &str) -> Result<PersonInfo, StorageError> {
    let person = super::people::get(conn, id)?;
    let cost_centre = match &person.team {
        Some(team) => super::teams::find(conn, team)?.map(|team| team.cost_centre),
        None => None,
    };
    Ok(PersonInfo {
        id: person.id,
        name: person.name,
        payroll_id: person.payroll_id,
        email: person.email,
        team: person.team,
        cost_centre,
        currency: person.currency,
    })
}
