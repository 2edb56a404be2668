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
        // A new currency without a new cost re-expresses the stored cost in the new minor unit.
        let loaded_hourly_cost = changes.loaded_hourly_cost.unwrap_or(current.loaded_hourly_cost);
        let loaded_minor =
            loaded_hourly_cost.map(|amount| to_minor("loaded_hourly_cost", currency, amount)).transpose()?;
        let changeset = PersonChangeset {
            name: changes.name.clone(),
            email: changes.email.clone(),
            payroll_id: changes.payroll_id.clone(),
            team_id: changes.team.clone(),
            timezone: changes.timezone.map(|tz| tz.name().to_owned()),
            currency: changes.currency.map(|currency| currency.code().to_owned()),
            loaded_cost_minor_per_hour: Some(loaded_minor),
            working_hours: changes.working_hours.as_ref().map(working_hours_json),
            holiday_calendar: changes.holiday_calendar.clone(),
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
