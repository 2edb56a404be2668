//! Services: what pages are about, and the team that owns each.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::services;
use super::{AnyConnection, StorageError, conflict_on_unique};
use crate::domain::timestamp::{from_naive, to_naive};

/// A service as stored. A service without a team is un-owned, and so are its pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Service {
    pub id: String,
    pub name: String,
    /// The owning team; `null` when nobody owns the service.
    pub team: Option<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct ServiceRow {
    id: String,
    name: String,
    team_id: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<ServiceRow> for Service {
    fn from(row: ServiceRow) -> Service {
        Service {
            id: row.id,
            name: row.name,
            team: row.team_id,
            created_at: from_naive(row.created_at),
            updated_at: from_naive(row.updated_at),
        }
    }
}

/// A validated new service.
#[derive(Debug, Clone)]
pub struct NewService {
    pub id: String,
    pub name: String,
    pub team: Option<String>,
}

/// Fields to change; `None` keeps the stored value, `Some(None)` clears the team.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = services)]
pub struct ServiceChanges {
    pub name: Option<String>,
    #[diesel(column_name = team_id)]
    pub team: Option<Option<String>>,
}

pub fn create(conn: &mut AnyConnection, service: &NewService, stamp: &super::Stamp) -> Result<Service, StorageError> {
    super::write_transaction(conn, |conn| {
        let now = stamp.at;
        if let Some(team) = &service.team {
            super::teams::get(conn, team).map_err(|_| unknown_team(team))?;
        }
        diesel::insert_into(services::table)
            .values((
                services::id.eq(&service.id),
                services::name.eq(&service.name),
                services::team_id.eq(&service.team),
                services::created_at.eq(to_naive(now)),
                services::updated_at.eq(to_naive(now)),
            ))
            .execute(conn)
            .map_err(|error| conflict_on_unique(error, "id", || format!("service `{}` already exists", service.id)))?;
        let result = get(conn, &service.id)?;
        super::audit::record(
            conn,
            stamp,
            "create",
            "service",
            &service.id,
            service.team.as_ref().map(|team| format!("team {team}")),
        )?;
        Ok(result)
    })
}

fn unknown_team(team: &str) -> StorageError {
    StorageError::Invalid(crate::domain::field_error::FieldError::new("team", format!("unknown team `{team}`")))
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Service, StorageError> {
    find(conn, id)?.ok_or_else(|| StorageError::NotFound { entity: "service", id: id.to_owned() })
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<Service>, StorageError> {
    let row = services::table.find(id).first::<ServiceRow>(conn).optional()?;
    Ok(row.map(Service::from))
}

pub fn list(conn: &mut AnyConnection, team: Option<&str>) -> Result<Vec<Service>, StorageError> {
    let mut query = services::table.order(services::id).into_boxed();
    if let Some(team) = team {
        query = query.filter(services::team_id.eq(team));
    }
    let rows = query.load::<ServiceRow>(conn)?;
    Ok(rows.into_iter().map(Service::from).collect())
}

pub fn update(
    conn: &mut AnyConnection,
    id: &str,
    changes: &ServiceChanges,
    stamp: &super::Stamp,
) -> Result<Service, StorageError> {
    super::write_transaction(conn, |conn| {
        let now = stamp.at;
        if let Some(Some(team)) = &changes.team {
            super::teams::get(conn, team).map_err(|_| unknown_team(team))?;
        }
        let updated = diesel::update(services::table.find(id))
            .set((changes, services::updated_at.eq(to_naive(now))))
            .execute(conn)?;
        if updated == 0 {
            return Err(StorageError::NotFound { entity: "service", id: id.to_owned() });
        }
        // A page's ownership is read through its service, so re-owning a service
        // re-attributes its pages without rewriting them.
        let result = get(conn, id)?;
        super::audit::record(conn, stamp, "update", "service", id, Some(format!("{changes:?}")))?;
        Ok(result)
    })
}
