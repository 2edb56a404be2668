//! People: responders, with the facts their pay depends on.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use super::schema::people;
use super::{AnyConnection, StorageError, conflict_on_unique};
use crate::domain::currency::Currency;
use crate::domain::field_error::FieldError;
use crate::domain::person::WorkingHours;
use crate::domain::timestamp::{from_naive, to_naive};

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    pub payroll_id: String,
    pub team: Option<String>,
    /// IANA time zone: local nights, weekends and days are theirs.
    pub timezone: String,
    /// ISO 4217 currency the person is paid in.
    pub currency: String,
    /// Loaded cost per hour for the reliability-debt model, in `currency`.
    #[schema(value_type = Option<String>, example = "85.50")]
    pub loaded_hourly_cost: Option<Decimal>,
    /// Working hours per weekday in local time, e.g. `{"mon": "09:00-17:00"}`.
    pub working_hours: BTreeMap<String, String>,
    pub holiday_calendar: Option<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct PersonRow {
    id: String,
    name: String,
    email: String,
    payroll_id: String,
    team_id: Option<String>,
    timezone: String,
    currency: String,
    loaded_cost_minor_per_hour: Option<i64>,
    working_hours: String,
    holiday_calendar: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<PersonRow> for Person {
    type Error = StorageError;

    fn try_from(row: PersonRow) -> Result<Person, StorageError> {
        let corrupt = |what: String| StorageError::Unavailable(format!("person `{}` has {what}", row.id));
        let currency: Currency = row.currency.parse().map_err(|_| corrupt(format!("currency `{}`", row.currency)))?;
        let working_hours: BTreeMap<String, String> = serde_json::from_str(&row.working_hours)
            .map_err(|error| corrupt(format!("unreadable working hours: {error}")))?;
        Ok(Person {
            loaded_hourly_cost: row.loaded_cost_minor_per_hour.map(|minor| currency.from_minor_units(minor)),
            id: row.id,
            name: row.name,
            email: row.email,
            payroll_id: row.payroll_id,
            team: row.team_id,
            timezone: row.timezone,
            currency: row.currency,
            working_hours,
            holiday_calendar: row.holiday_calendar,
            created_at: from_naive(row.created_at),
            updated_at: from_naive(row.updated_at),
        })
    }
}

/// A validated new person.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub id: String,
    pub name: String,
    pub email: String,
    pub payroll_id: String,
    pub team: Option<String>,
    pub timezone: chrono_tz::Tz,
    pub currency: Currency,
    pub loaded_hourly_cost: Option<Decimal>,
    pub working_hours: WorkingHours,
    pub holiday_calendar: Option<String>,
}

/// Validated changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct PersonChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub payroll_id: Option<String>,
    pub team: Option<Option<String>>,
    pub timezone: Option<chrono_tz::Tz>,
    pub currency: Option<Currency>,
    pub loaded_hourly_cost: Option<Option<Decimal>>,
    pub working_hours: Option<WorkingHours>,
    pub holiday_calendar: Option<Option<String>>,
    /// The person's own cost centre (`Some(None)`: their team's again); versioned only.
    pub cost_centre: Option<Option<String>>,
    /// The local date the zone, hours, calendar, team, cost centre and cost change from;
    /// `None`: the person's today. Checked by `domain::person_version::check_effective_from`.
    pub effective_from: Option<chrono::NaiveDate>,
}

#[derive(AsChangeset)]
#[diesel(table_name = people)]
struct PersonChangeset {
    name: Option<String>,
    email: Option<String>,
    payroll_id: Option<String>,
    team_id: Option<Option<String>>,
    timezone: Option<String>,
    currency: Option<String>,
    loaded_cost_minor_per_hour: Option<Option<i64>>,
    working_hours: Option<String>,
    holiday_calendar: Option<Option<String>>,
    updated_at: NaiveDateTime,
}

pub(super) fn to_minor(field: &str, currency: Currency, amount: Decimal) -> Result<i64, StorageError> {
    if amount.is_sign_negative() {
        return Err(StorageError::Invalid(FieldError::new(field, "must not be negative")));
    }
    currency.to_minor_units(amount).map_err(|error| StorageError::Invalid(FieldError::new(field, error.to_string())))
}

fn working_hours_json(hours: &WorkingHours) -> String {
    serde_json::to_string(&hours.to_map()).unwrap_or_else(|_| "{}".to_owned())
}

fn check_team(conn: &mut AnyConnection, team: &str) -> Result<(), StorageError> {
    match super::teams::find(conn, team)? {
        Some(_) => Ok(()),
        None => Err(StorageError::Invalid(FieldError::new("team", format!("unknown team `{team}`")))),
    }
}

pub fn create(conn: &mut AnyConnection, person: &NewPerson, stamp: &super::Stamp) -> Result<Person, StorageError> {
    super::write_transaction(conn, |conn| {
        let now = stamp.at;
        if find(conn, &person.id)?.is_some() {
            return Err(StorageError::Conflict(FieldError::new(
                "id",
                format!("person `{}` already exists", person.id),
            )));
        }
        if let Some(team) = &person.team {
            check_team(conn, team)?;
        }
        let loaded_minor = person
            .loaded_hourly_cost
            .map(|amount| to_minor("loaded_hourly_cost", person.currency, amount))
            .transpose()?;
        diesel::insert_into(people::table)
            .values((
                people::id.eq(&person.id),
                people::name.eq(&person.name),
                people::email.eq(&person.email),
                people::payroll_id.eq(&person.payroll_id),
                people::team_id.eq(&person.team),
                people::timezone.eq(person.timezone.name()),
                people::currency.eq(person.currency.code()),
                people::loaded_cost_minor_per_hour.eq(loaded_minor),
                people::working_hours.eq(working_hours_json(&person.working_hours)),
                people::holiday_calendar.eq(&person.holiday_calendar),
                people::created_at.eq(to_naive(now)),
                people::updated_at.eq(to_naive(now)),
            ))
            .execute(conn)
            .map_err(|error| {
                conflict_on_unique(error, "payroll_id", || "payroll id is already used by another person".to_owned())
            })?;
        super::person_versions::seed(
            conn,
            super::person_versions::VersionRow {
                person_id: person.id.clone(),
                effective_from: crate::domain::person_version::EFFECTIVE_FROM_MIN,
                timezone: person.timezone.name().to_owned(),
                working_hours: working_hours_json(&person.working_hours),
                holiday_calendar: person.holiday_calendar.clone(),
                team_id: person.team.clone(),
                cost_centre: None,
                loaded_cost_minor_per_hour: loaded_minor,
                created_at: to_naive(now),
            },
        )?;
        let result = get(conn, &person.id)?;
        super::audit::record(conn, stamp, "create", "person", &person.id, None)?;
        Ok(result)
    })
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Person, StorageError> {
    find(conn, id)?.ok_or_else(|| StorageError::NotFound { entity: "person", id: id.to_owned() })
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<Person>, StorageError> {
    people::table.find(id).first::<PersonRow>(conn).optional()?.map(Person::try_from).transpose()
}

pub fn list(conn: &mut AnyConnection, team: Option<&str>) -> Result<Vec<Person>, StorageError> {
    let mut query = people::table.order(people::id).into_boxed();
    if let Some(team) = team {
        query = query.filter(people::team_id.eq(team));
    }
    query.load::<PersonRow>(conn)?.into_iter().map(Person::try_from).collect()
}

pub fn update(
    conn: &mut AnyConnection,
    id: &str,
    changes: &PersonChanges,
    stamp: &super::Stamp,
) -> Result<Person, StorageError> {
    super::write_transaction(conn, |conn| {
        let now = stamp.at;
        let current = get(conn, id)?;
        if let Some(Some(team)) = &changes.team {
            check_team(conn, team)?;
        }
        let currency = match changes.currency {
            Some(currency) => currency,
            None => current
                .currency
                .parse()
                .map_err(|_| StorageError::Unavailable(format!("person `{id}` has a bad currency")))?,
        };
        let latest = apply_version(conn, &current, changes, currency, stamp)?;
        // The row mirrors the latest version: a change from a past date before a later
        // version leaves it as it is.
        let changeset = PersonChangeset {
            name: changes.name.clone(),
            email: changes.email.clone(),
            payroll_id: changes.payroll_id.clone(),
            team_id: Some(latest.team_id),
            timezone: Some(latest.timezone),
            currency: changes.currency.map(|currency| currency.code().to_owned()),
            loaded_cost_minor_per_hour: Some(latest.loaded_cost_minor_per_hour),
            working_hours: Some(latest.working_hours),
            holiday_calendar: Some(latest.holiday_calendar),
            updated_at: to_naive(now),
        };
        diesel::update(people::table.find(id)).set(&changeset).execute(conn).map_err(|error| {
            conflict_on_unique(error, "payroll_id", || "payroll id is already used by another person".to_owned())
        })?;
        let result = get(conn, id)?;
        super::audit::record(conn, stamp, "update", "person", id, Some(format!("{changes:?}")))?;
        Ok(result)
    })
}

/// Writes the versioned part of `changes` (re-expressing every version's cost first when
/// the currency changes) and returns the latest version.
fn apply_version(
    conn: &mut AnyConnection,
    current: &Person,
    changes: &PersonChanges,
    currency: Currency,
    stamp: &super::Stamp,
) -> Result<super::person_versions::VersionRow, StorageError> {
    use super::person_versions::{VersionChanges, VersionRow};
    let old_currency: Currency = current
        .currency
        .parse()
        .map_err(|_| StorageError::Unavailable(format!("person `{}` has a bad currency", current.id)))?;
    let current_minor =
        current.loaded_hourly_cost.map(|amount| to_minor("loaded_hourly_cost", old_currency, amount)).transpose()?;
    let as_stored = VersionRow {
        person_id: current.id.clone(),
        effective_from: crate::domain::person_version::EFFECTIVE_FROM_MIN,
        timezone: current.timezone.clone(),
        working_hours: serde_json::to_string(&current.working_hours).unwrap_or_else(|_| "{}".to_owned()),
        holiday_calendar: current.holiday_calendar.clone(),
        team_id: current.team.clone(),
        cost_centre: None,
        loaded_cost_minor_per_hour: current_minor,
        created_at: to_naive(current.created_at),
    };
    if old_currency != currency {
        // Seeds a person stored before versions existed, then converts.
        super::person_versions::apply(
            conn,
            as_stored.clone(),
            as_stored.effective_from,
            &VersionChanges::default(),
            stamp.at,
        )?;
        super::person_versions::change_currency(conn, &current.id, old_currency, currency)?;
    }
    let versioned = VersionChanges {
        timezone: changes.timezone.map(|tz| tz.name().to_owned()),
        working_hours: changes.working_hours.as_ref().map(working_hours_json),
        holiday_calendar: changes.holiday_calendar.clone(),
        team_id: changes.team.clone(),
        cost_centre: changes.cost_centre.clone(),
        loaded_cost_minor_per_hour: changes
            .loaded_hourly_cost
            .map(|cost| cost.map(|amount| to_minor("loaded_hourly_cost", currency, amount)).transpose())
            .transpose()?,
    };
    if versioned.is_empty() && changes.effective_from.is_some() {
        return Err(StorageError::Invalid(FieldError::new(
            "effective_from",
            "applies only to timezone, working_hours, holiday_calendar, team, cost_centre and loaded_hourly_cost",
        )));
    }
    let zone: chrono_tz::Tz = current.timezone.parse().unwrap_or(chrono_tz::UTC);
    let today = stamp.at.with_timezone(&zone).date_naive();
    let from = changes.effective_from.unwrap_or(today);
    crate::domain::person_version::check_effective_from("effective_from", from, today)
        .map_err(StorageError::Invalid)?;
    let latest = super::person_versions::apply(conn, as_stored, from, &versioned, stamp.at)?;
    if !versioned.is_empty() {
        super::audit::record(conn, stamp, "update", "person_version", &format!("{}@{from}", current.id), None)?;
    }
    Ok(latest)
}
