//! A person's effective-dated versions: zone, working hours, holiday calendar, team, cost
//! centre and loaded cost from a local date on (the rule: `domain::person_version`).
//!
//! The people row holds the latest version's values, so every reader of the current
//! person is unchanged; pricing and the time-true reports read the versions. Only
//! `people::update` writes here, inside its transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use super::schema::{people, person_versions};
use super::{AnyConnection, StorageError};
use crate::domain::currency::Currency;
use crate::domain::field_error::FieldError;
use crate::domain::person_version::EFFECTIVE_FROM_MIN;
use crate::domain::timestamp::{from_naive, to_naive};

/// A person's versioned facts from a local date on (until the next version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PersonVersion {
    pub person: String,
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
    pub timezone: String,
    pub working_hours: BTreeMap<String, String>,
    pub holiday_calendar: Option<String>,
    pub team: Option<String>,
    /// The person's own cost centre; `null`: their team's.
    pub cost_centre: Option<String>,
    /// In the person's currency.
    #[schema(value_type = Option<String>, example = "85.50")]
    pub loaded_hourly_cost: Option<Decimal>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// A version as stored: what the people row mirrors.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = person_versions, treat_none_as_null = true)]
pub(super) struct VersionRow {
    pub person_id: String,
    pub effective_from: NaiveDate,
    pub timezone: String,
    pub working_hours: String,
    pub holiday_calendar: Option<String>,
    pub team_id: Option<String>,
    pub cost_centre: Option<String>,
    pub loaded_cost_minor_per_hour: Option<i64>,
    pub created_at: NaiveDateTime,
}

impl VersionRow {
    fn to_version(&self, currency: Currency) -> Result<PersonVersion, StorageError> {
        let working_hours = serde_json::from_str(&self.working_hours).map_err(|error| {
            StorageError::Unavailable(format!(
                "person `{}` has unreadable working hours from {}: {error}",
                self.person_id, self.effective_from
            ))
        })?;
        Ok(PersonVersion {
            person: self.person_id.clone(),
            effective_from: self.effective_from,
            timezone: self.timezone.clone(),
            working_hours,
            holiday_calendar: self.holiday_calendar.clone(),
            team: self.team_id.clone(),
            cost_centre: self.cost_centre.clone(),
            loaded_hourly_cost: self.loaded_cost_minor_per_hour.map(|minor| currency.from_minor_units(minor)),
            created_at: from_naive(self.created_at),
        })
    }

    /// Whether two versions hold the same facts (dates and stamps aside).
    fn same_facts(&self, other: &VersionRow) -> bool {
        (&self.timezone, &self.working_hours, &self.holiday_calendar, &self.team_id, &self.cost_centre)
            == (&other.timezone, &other.working_hours, &other.holiday_calendar, &other.team_id, &other.cost_centre)
            && self.loaded_cost_minor_per_hour == other.loaded_cost_minor_per_hour
    }
}

/// The versioned part of a change, already in stored form; `None` keeps the value in force.
#[derive(Debug, Clone, Default)]
pub(super) struct VersionChanges {
    pub timezone: Option<String>,
    pub working_hours: Option<String>,
    pub holiday_calendar: Option<Option<String>>,
    pub team_id: Option<Option<String>>,
    pub cost_centre: Option<Option<String>>,
    pub loaded_cost_minor_per_hour: Option<Option<i64>>,
}

impl VersionChanges {
    pub fn is_empty(&self) -> bool {
        self.timezone.is_none()
            && self.working_hours.is_none()
            && self.holiday_calendar.is_none()
            && self.team_id.is_none()
            && self.cost_centre.is_none()
            && self.loaded_cost_minor_per_hour.is_none()
    }
}

fn rows(conn: &mut AnyConnection, person_id: &str) -> Result<Vec<VersionRow>, StorageError> {
    Ok(person_versions::table
        .filter(person_versions::person_id.eq(person_id))
        .order(person_versions::effective_from)
        .load::<VersionRow>(conn)?)
}

/// A person's versions, oldest first (404 when the person does not exist).
pub fn list(conn: &mut AnyConnection, person_id: &str) -> Result<Vec<PersonVersion>, StorageError> {
    let person = super::people::get(conn, person_id)?;
    let currency: Currency = person
        .currency
        .parse()
        .map_err(|_| StorageError::Unavailable(format!("person `{person_id}` has a bad currency")))?;
    rows(conn, person_id)?.iter().map(|row| row.to_version(currency)).collect()
}

/// Every person's versions with their currency, by person: what the time-true reports read.
pub fn all(conn: &mut AnyConnection) -> Result<BTreeMap<String, Vec<PersonVersion>>, StorageError> {
    let found: Vec<(VersionRow, String)> = person_versions::table
        .inner_join(people::table)
        .select((person_versions::all_columns, people::currency))
        .order((person_versions::person_id, person_versions::effective_from))
        .load(conn)?;
    let mut by_person: BTreeMap<String, Vec<PersonVersion>> = BTreeMap::new();
    for (row, currency) in found {
        let currency: Currency = currency
            .parse()
            .map_err(|_| StorageError::Unavailable(format!("person `{}` has a bad currency", row.person_id)))?;
        by_person.entry(row.person_id.clone()).or_default().push(row.to_version(currency)?);
    }
    Ok(by_person)
}

/// The first version of a new person: its values from the beginning of time.
pub(super) fn seed(conn: &mut AnyConnection, mut row: VersionRow) -> Result<(), StorageError> {
    row.effective_from = EFFECTIVE_FROM_MIN;
    diesel::insert_into(person_versions::table).values(&row).execute(conn)?;
    Ok(())
}

/// Applies `changes` from local date `from` on: the version in force on `from` with the
/// changes becomes the version of `from` (replacing one of that date); later versions keep
/// their own values. Returns the latest version, which the people row must mirror.
/// `current` stands in for a person stored before versions existed.
pub(super) fn apply(
    conn: &mut AnyConnection,
    current: VersionRow,
    from: NaiveDate,
    changes: &VersionChanges,
    at: DateTime<Utc>,
) -> Result<VersionRow, StorageError> {
    let person_id = current.person_id.clone();
    let mut stored = rows(conn, &person_id)?;
    if stored.is_empty() {
        seed(conn, current.clone())?;
        stored = rows(conn, &person_id)?;
    }
    let base =
        stored.iter().rev().find(|row| row.effective_from <= from).or(stored.first()).cloned().unwrap_or(current);
    let changed = VersionRow {
        person_id: person_id.clone(),
        effective_from: from,
        timezone: changes.timezone.clone().unwrap_or(base.timezone.clone()),
        working_hours: changes.working_hours.clone().unwrap_or(base.working_hours.clone()),
        holiday_calendar: changes.holiday_calendar.clone().unwrap_or(base.holiday_calendar.clone()),
        team_id: changes.team_id.clone().unwrap_or(base.team_id.clone()),
        cost_centre: changes.cost_centre.clone().unwrap_or(base.cost_centre.clone()),
        loaded_cost_minor_per_hour: changes.loaded_cost_minor_per_hour.unwrap_or(base.loaded_cost_minor_per_hour),
        created_at: to_naive(at),
    };
    // Nothing changes from that date: no version (and no re-pricing).
    if !changed.same_facts(&base) {
        let key = person_versions::table.find((&person_id, from));
        if stored.iter().any(|row| row.effective_from == from) {
            diesel::update(key).set(&changed).execute(conn)?;
        } else {
            diesel::insert_into(person_versions::table).values(&changed).execute(conn)?;
        }
    }
    rows(conn, &person_id)?
        .pop()
        .ok_or_else(|| StorageError::Unavailable(format!("person `{person_id}` has no version")))
}

/// Re-expresses every version's loaded cost in a new currency's minor unit (a change of
/// currency re-prices all of history anyway).
pub(super) fn change_currency(
    conn: &mut AnyConnection,
    person_id: &str,
    old: Currency,
    new: Currency,
) -> Result<(), StorageError> {
    for row in rows(conn, person_id)? {
        let Some(minor) = row.loaded_cost_minor_per_hour else { continue };
        let amount = old.from_minor_units(minor);
        let converted = new.to_minor_units(amount).map_err(|error| {
            StorageError::Invalid(FieldError::new(
                "loaded_hourly_cost",
                format!("the cost from {} does not fit {}: {error}", row.effective_from, new.code()),
            ))
        })?;
        diesel::update(person_versions::table.find((person_id, row.effective_from)))
            .set(person_versions::loaded_cost_minor_per_hour.eq(Some(converted)))
            .execute(conn)?;
    }
    Ok(())
}
