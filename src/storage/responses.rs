//! Responses: a person's logged work on a page.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::pages::Recorded;
use super::schema::responses;
use super::{AnyConnection, StorageError, write_transaction};
use crate::domain::field_error::FieldError;
use crate::domain::timestamp::{from_naive, to_naive};

/// A response as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Response {
    pub id: String,
    pub page_id: String,
    pub person: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ended_at: DateTime<Utc>,
    /// Real elapsed minutes, rounded down (pay rounding is the pay engine's business).
    pub duration_minutes: i64,
    pub notes: Option<String>,
    pub actionable: bool,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct ResponseRow {
    id: String,
    page_id: String,
    person_id: String,
    started_at: NaiveDateTime,
    ended_at: NaiveDateTime,
    notes: Option<String>,
    actionable: bool,
    created_at: NaiveDateTime,
}

impl From<ResponseRow> for Response {
    fn from(row: ResponseRow) -> Response {
        let started_at = from_naive(row.started_at);
        let ended_at = from_naive(row.ended_at);
        Response {
            id: row.id,
            page_id: row.page_id,
            person: row.person_id,
            started_at,
            ended_at,
            duration_minutes: (ended_at - started_at).num_minutes(),
            notes: row.notes,
            actionable: row.actionable,
            created_at: from_naive(row.created_at),
        }
    }
}

/// A validated response to record. With an `id`, posting it again is idempotent.
#[derive(Debug, Clone)]
pub struct NewResponse {
    pub id: Option<uuid::Uuid>,
    pub page_id: String,
    pub person: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub notes: Option<String>,
    pub actionable: bool,
}

/// Records a response; with a client-chosen `id` already recorded, returns the stored
/// one (the same content) or refuses it (different content).
///
/// Two requests with the same `id` may race (a client retrying while its first attempt
/// is still in flight): on PostgreSQL both can find no row, so the insert is
/// `ON CONFLICT DO NOTHING`, which waits for the other transaction, and the loser then
/// answers as for a repeat. On SQLite the transaction holds the write lock throughout.
pub fn record(
    conn: &mut AnyConnection,
    response: &NewResponse,
    stamp: &super::Stamp,
) -> Result<(Response, Recorded), StorageError> {
    write_transaction(conn, |conn| {
        super::pages::get(conn, &response.page_id)?;
        if super::people::find(conn, &response.person)?.is_none() {
            return Err(StorageError::Invalid(FieldError::new(
                "person",
                format!("unknown person `{}`", response.person),
            )));
        }
        let id = response.id.unwrap_or_else(uuid::Uuid::now_v7).to_string();
        if let Some(existing) = find(conn, &id)? {
            return repeat(existing, response);
        }
        let values = (
            responses::id.eq(&id),
            responses::page_id.eq(&response.page_id),
            responses::person_id.eq(&response.person),
            responses::started_at.eq(to_naive(response.started_at)),
            responses::ended_at.eq(to_naive(response.ended_at)),
            responses::notes.eq(&response.notes),
            responses::actionable.eq(response.actionable),
            responses::created_at.eq(to_naive(stamp.at)),
        );
        let inserted = crate::with_backend!(conn, |c| diesel::insert_into(responses::table)
            .values(values)
            .on_conflict(responses::id)
            .do_nothing()
            .execute(c))?;
        if inserted == 0 {
            // A concurrent request with the same id committed it first.
            return repeat(get(conn, &id)?, response);
        }
        super::audit::record(conn, stamp, "create", "response", &id, Some(format!("page {}", response.page_id)))?;
        Ok((get(conn, &id)?, Recorded::Created))
    })
}

/// A response posted again under a known id: the stored one when the content is the
/// same, a conflict otherwise.
fn repeat(existing: Response, response: &NewResponse) -> Result<(Response, Recorded), StorageError> {
    let same = existing.page_id == response.page_id
        && existing.person == response.person
        && existing.started_at == response.started_at
        && existing.ended_at == response.ended_at
        && existing.notes == response.notes
        && existing.actionable == response.actionable;
    if !same {
        return Err(StorageError::Conflict(FieldError::new(
            "id",
            format!("response `{}` was already recorded with different content", existing.id),
        )));
    }
    Ok((existing, Recorded::Existing))
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<Response>, StorageError> {
    let row = responses::table.find(id).first::<ResponseRow>(conn).optional()?;
    Ok(row.map(Response::from))
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Response, StorageError> {
    find(conn, id)?.ok_or_else(|| StorageError::NotFound { entity: "response", id: id.to_owned() })
}

pub fn list_for_page(conn: &mut AnyConnection, page_id: &str) -> Result<Vec<Response>, StorageError> {
    super::pages::get(conn, page_id)?;
    let rows = responses::table
        .filter(responses::page_id.eq(page_id))
        .order((responses::started_at, responses::id))
        .load::<ResponseRow>(conn)?;
    Ok(rows.into_iter().map(Response::from).collect())
}

/// A person's responses that started in `[from, to)`, earliest first.
pub fn list_for_person(
    conn: &mut AnyConnection,
    person: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<Response>, StorageError> {
    super::people::get(conn, person)?;
    let mut query = responses::table.filter(responses::person_id.eq(person)).into_boxed();
    if let Some(from) = from {
        query = query.filter(responses::started_at.ge(to_naive(from)));
    }
    if let Some(to) = to {
        query = query.filter(responses::started_at.lt(to_naive(to)));
    }
    let rows = query.order((responses::started_at, responses::id)).limit(limit).load::<ResponseRow>(conn)?;
    Ok(rows.into_iter().map(Response::from).collect())
}
