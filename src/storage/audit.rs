//! The audit log: who (a token's name, a source, `cli`, `demo`) changed what, and when.
//! Every storage function that changes a fact writes its row in the same transaction.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::audit_log;
use super::{AnyConnection, StorageError};
use crate::domain::timestamp::{from_naive, to_naive};

/// Who is writing, and when: passed to every storage function that changes facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub actor: String,
    pub at: DateTime<Utc>,
}

impl Stamp {
    pub fn new(actor: impl Into<String>, at: DateTime<Utc>) -> Stamp {
        Stamp { actor: actor.into(), at }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `create`, `update`, `deliver`, `assign`, `accrue`, `close`, `configure`.
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub detail: Option<String>,
}

#[derive(Queryable)]
struct AuditRow {
    id: String,
    at: NaiveDateTime,
    actor: String,
    action: String,
    entity: String,
    entity_id: String,
    detail: Option<String>,
}

/// Records a change.
pub fn record(
    conn: &mut AnyConnection,
    stamp: &Stamp,
    action: &str,
    entity: &str,
    entity_id: &str,
    detail: Option<String>,
) -> Result<(), StorageError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(uuid::Uuid::now_v7().to_string()),
            audit_log::at.eq(to_naive(stamp.at)),
            audit_log::actor.eq(&stamp.actor),
            audit_log::action.eq(action),
            audit_log::entity.eq(entity),
            audit_log::entity_id.eq(entity_id),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)?;
    Ok(())
}

/// Changes to one entity (or to all entities of a kind), oldest first.
pub fn list(
    conn: &mut AnyConnection,
    entity: Option<&str>,
    entity_id: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditRecord>, StorageError> {
    let mut query = audit_log::table.into_boxed();
    if let Some(entity) = entity {
        query = query.filter(audit_log::entity.eq(entity));
    }
    if let Some(entity_id) = entity_id {
        query = query.filter(audit_log::entity_id.eq(entity_id));
    }
    let rows = query.order(audit_log::id).limit(limit).load::<AuditRow>(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| AuditRecord {
            id: row.id,
            at: from_naive(row.at),
            actor: row.actor,
            action: row.action,
            entity: row.entity,
            entity_id: row.entity_id,
            detail: row.detail,
        })
        .collect())
}
