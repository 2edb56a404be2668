//! Teams: who owns services and whose cost centre pays.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::teams;
use super::{AnyConnection, StorageError, conflict_on_unique};
use crate::domain::currency::Currency;
use crate::domain::timestamp::{from_naive, to_naive};

/// A loaded hourly cost: what an hour of someone's time costs the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HourlyCost {
    #[schema(value_type = String, example = "GBP")]
    pub currency: Currency,
    /// A decimal string in `currency`.
    #[schema(value_type = String, example = "80.00")]
    pub amount: rust_decimal::Decimal,
}

impl HourlyCost {
    /// From the stored pair; a currency paydown no longer knows reads as none.
    pub fn from_columns(currency: Option<&str>, minor: Option<i64>) -> Option<HourlyCost> {
        let currency = currency?.parse::<Currency>().ok()?;
        Some(HourlyCost { currency, amount: currency.from_minor_units(minor?) })
    }

    /// The stored pair: currency code and minor units per hour.
    pub fn to_columns(cost: Option<HourlyCost>, field: &str) -> Result<(Option<String>, Option<i64>), StorageError> {
        let Some(cost) = cost else { return Ok((None, None)) };
        let minor = super::people::to_minor(field, cost.currency, cost.amount)?;
        Ok((Some(cost.currency.code().to_owned()), Some(minor)))
    }
}

/// A team as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    /// The finance code accruals of this team are booked to.
    pub cost_centre: String,
    /// The loaded hourly cost of the team's responders who have none of their own, for the
    /// reliability-debt model.
    pub default_loaded_hourly_cost: Option<HourlyCost>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct TeamRow {
    id: String,
    name: String,
    cost_centre: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    default_cost_currency: Option<String>,
    default_cost_minor_per_hour: Option<i64>,
}

impl From<TeamRow> for Team {
    fn from(row: TeamRow) -> Team {
        Team {
            id: row.id,
            name: row.name,
            cost_centre: row.cost_centre,
            default_loaded_hourly_cost: HourlyCost::from_columns(
                row.default_cost_currency.as_deref(),
                row.default_cost_minor_per_hour,
            ),
            created_at: from_naive(row.created_at),
            updated_at: from_naive(row.updated_at),
        }
    }
}

/// A validated new team.
#[derive(Debug, Clone)]
pub struct NewTeam {
    pub id: String,
    pub name: String,
    pub cost_centre: String,
    pub default_loaded_hourly_cost: Option<HourlyCost>,
}

/// Fields to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct TeamChanges {
    pub name: Option<String>,
    pub cost_centre: Option<String>,
    /// `Some(None)` clears the default cost.
    pub default_loaded_hourly_cost: Option<Option<HourlyCost>>,
}

#[derive(AsChangeset)]
#[diesel(table_name = teams)]
struct TeamColumns {
    name: Option<String>,
    cost_centre: Option<String>,
    // `Some(None)` writes NULL.
    #[allow(clippy::option_option)]
    default_cost_currency: Option<Option<String>>,
    #[allow(clippy::option_option)]
    default_cost_minor_per_hour: Option<Option<i64>>,
}

pub fn create(conn: &mut AnyConnection, team: &NewTeam, stamp: &super::Stamp) -> Result<Team, StorageError> {
    super::write_transaction(conn, |conn| {
        let now = stamp.at;
        let (cost_currency, cost_minor) =
            HourlyCost::to_columns(team.default_loaded_hourly_cost, "default_loaded_hourly_cost")?;
        diesel::insert_into(teams::table)
            .values((
                teams::id.eq(&team.id),
                teams::name.eq(&team.name),
                teams::cost_centre.eq(&team.cost_centre),
                teams::default_cost_currency.eq(cost_currency),
                teams::default_cost_minor_per_hour.eq(cost_minor),
                teams::created_at.eq(to_naive(now)),
                teams::updated_at.eq(to_naive(now)),
            ))
            .execute(conn)
            .map_err(|error| conflict_on_unique(error, "id", || format!("team `{}` already exists", team.id)))?;
        let result = get(conn, &team.id)?;
        super::audit::record(conn, stamp, "create", "team", &team.id, None)?;
        Ok(result)
    })
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Team, StorageError> {
    find(conn, id)?.ok_or_else(|| StorageError::NotFound { entity: "team", id: id.to_owned() })
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<Team>, StorageError> {
    let row = teams::table.find(id).first::<TeamRow>(conn).optional()?;
    Ok(row.map(Team::from))
}

pub fn list(conn: &mut AnyConnection) -> Result<Vec<Team>, StorageError> {
    let rows = teams::table.order(teams::id).load::<TeamRow>(conn)?;
    Ok(rows.into_iter().map(Team::from).collect())
}

pub fn update(
    conn: &mut AnyConnection,
    id: &str,
    changes: &TeamChanges,
    stamp: &super::Stamp,
) -> Result<Team, StorageError> {
    super::write_transaction(conn, |conn| {
        let now = stamp.at;
        let (cost_currency, cost_minor) = match changes.default_loaded_hourly_cost {
            Some(cost) => {
                let (currency, minor) = HourlyCost::to_columns(cost, "default_loaded_hourly_cost")?;
                (Some(currency), Some(minor))
            }
            None => (None, None),
        };
        let columns = TeamColumns {
            name: changes.name.clone(),
            cost_centre: changes.cost_centre.clone(),
            default_cost_currency: cost_currency,
            default_cost_minor_per_hour: cost_minor,
        };
        let updated =
            diesel::update(teams::table.find(id)).set((&columns, teams::updated_at.eq(to_naive(now)))).execute(conn)?;
        if updated == 0 {
            return Err(StorageError::NotFound { entity: "team", id: id.to_owned() });
        }
        let result = get(conn, id)?;
        super::audit::record(conn, stamp, "update", "team", id, Some(format!("{changes:?}")))?;
        Ok(result)
    })
}
