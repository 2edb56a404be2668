//! Teams: who owns services and whose cost centre pays.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::teams;
use super::{AnyConnection, StorageError, conflict_on_unique};
use crate::domain::timestamp::{from_naive, to_naive};

/// A team as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    /// The finance code accruals of this team are booked to.
    pub cost_centre: String,
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
}

impl From<TeamRow> for Team {
    fn from(row: TeamRow) -> Team {
        Team {
            id: row.id,
            name: row.name,
            cost_centre: row.cost_centre,
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
}

/// Fields to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = teams)]
pub struct TeamChanges {
    pub name: Option<String>,
    pub cost_centre: Option<String>,
}

pub fn create(conn: &mut AnyConnection, team: &NewTeam, stamp: &super::Stamp) -> Result<Team, StorageError> {
    super::write_transaction(conn, |conn| {
        let now = stamp.at;
        diesel::insert_into(teams::table)
            .values((
                teams::id.eq(&team.id),
                teams::name.eq(&team.name),
                teams::cost_centre.eq(&team.cost_centre),
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
        let updated =
            diesel::update(teams::table.find(id)).set((changes, teams::updated_at.eq(to_naive(now)))).execute(conn)?;
        if updated == 0 {
            return Err(StorageError::NotFound { entity: "team", id: id.to_owned() });
        }
        let result = get(conn, id)?;
        super::audit::record(conn, stamp, "update", "team", id, Some(format!("{changes:?}")))?;
        Ok(result)
    })
}
