//! Responses: a person's logged work on a page.
//!
//! Claims (issue #16): a response is paid as it arrives when its person was called for the
//! page: they acknowledged it, or they were on call (a shift covering the trigger) for the
//! team owning the page's service (any team for an un-owned page). Anyone else's response is
//! a claim: recorded with status `pending`, not paid (`paid = false`, which is what pricing
//! reads) until a manager of their team or finance approves it (`paid`) or rejects it
//! (`rejected`), with a reason, audited. paydown keeps no list of who was notified, so a
//! notified colleague who neither acknowledged nor was on call files a claim.

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
    /// `paid` (the person was called, or the claim was approved), `pending` (a claim
    /// awaiting a manager of their team or finance) or `rejected`.
    #[schema(example = "paid")]
    pub status: String,
    /// Who approved or rejected the claim, when, and why.
    pub decided_by: Option<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    /// The version this one amends (the old one is kept, `superseded`).
    pub supersedes: Option<String>,
}

/// An amended version, kept but no longer paid.
pub const SUPERSEDED: &str = "superseded";
/// A response withdrawn by its author or finance, kept but not paid.
pub const WITHDRAWN: &str = "withdrawn";

/// A claim paid once approved.
pub const PAID: &str = "paid";
/// A claim awaiting a decision.
pub const PENDING: &str = "pending";
/// A claim refused.
pub const REJECTED: &str = "rejected";

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
    status: String,
    _paid: bool,
    decided_by: Option<String>,
    decided_at: Option<NaiveDateTime>,
    decision_reason: Option<String>,
    supersedes: Option<String>,
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
            status: row.status,
            decided_by: row.decided_by,
            decided_at: row.decided_at.map(from_naive),
            decision_reason: row.decision_reason,
            supersedes: row.supersedes,
        }
    }
}

/// A validated response to record. With an `id`, posting it again is idempotent.
#[derive(Debug, Clone)]
pub struct NewResponse {
    /// A client-chosen id (any string up to `CLIENT_ID_LENGTH_MAX`), else a new UUIDv7.
    pub id: Option<String>,
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
        let page = super::pages::get(conn, &response.page_id)?;
        let Some(person) = super::people::find(conn, &response.person)? else {
            return Err(StorageError::Invalid(FieldError::new(
                "person",
                format!("unknown person `{}`", response.person),
            )));
        };
        let id = response.id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        if let Some(existing) = find(conn, &id)? {
            return repeat(existing, response);
        }
        let called = called_for(conn, &page, &person)?;
        let status = if called { PAID } else { PENDING };
        let values = (
            responses::id.eq(&id),
            responses::page_id.eq(&response.page_id),
            responses::person_id.eq(&response.person),
            responses::started_at.eq(to_naive(response.started_at)),
            responses::ended_at.eq(to_naive(response.ended_at)),
            responses::notes.eq(&response.notes),
            responses::actionable.eq(response.actionable),
            responses::created_at.eq(to_naive(stamp.at)),
            responses::status.eq(status),
            responses::paid.eq(called),
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
        let detail = if called {
            format!("page {}", response.page_id)
        } else {
            format!("page {}; a claim, pending approval ({} was not called for the page)", response.page_id, person.id)
        };
        super::audit::record(conn, stamp, "create", "response", &id, Some(detail))?;
        Ok((get(conn, &id)?, Recorded::Created))
    })
}

/// Whether `person` was called for `page`: its acknowledger, or on call (a shift covering
/// the trigger) while a member of the team owning the page's service (any team for an
/// un-owned page).
fn called_for(
    conn: &mut AnyConnection,
    page: &super::pages::Page,
    person: &super::people::Person,
) -> Result<bool, StorageError> {
    use super::schema::shifts;
    if page.acknowledged_by.as_deref() == Some(person.id.as_str()) {
        return Ok(true);
    }
    if page.owning_team.is_some() && page.owning_team != person.team {
        return Ok(false);
    }
    let at = to_naive(page.triggered_at);
    let on_call: i64 = shifts::table
        .filter(shifts::person_id.eq(&person.id))
        .filter(shifts::start_at.le(at))
        .filter(shifts::end_at.gt(at))
        .count()
        .get_result(conn)?;
    Ok(on_call > 0)
}

/// Approves (`approve = true`) or rejects a pending claim, with a reason, audited. Only a
/// pending claim can be decided (the caller's right to decide is the handler's to check).
pub fn decide(
    conn: &mut AnyConnection,
    id: &str,
    approve: bool,
    reason: &str,
    stamp: &super::Stamp,
) -> Result<Response, StorageError> {
    write_transaction(conn, |conn| {
        let existing = get(conn, id)?;
        if existing.status != PENDING {
            return Err(StorageError::Conflict(FieldError::new(
                "id",
                format!("response `{id}` is `{}`, not a pending claim", existing.status),
            )));
        }
        let status = if approve { PAID } else { REJECTED };
        diesel::update(responses::table.find(id))
            .set((
                responses::status.eq(status),
                responses::paid.eq(approve),
                responses::decided_by.eq(&stamp.actor),
                responses::decided_at.eq(to_naive(stamp.at)),
                responses::decision_reason.eq(reason),
            ))
            .execute(conn)?;
        let action = if approve { "approve" } else { "reject" };
        super::audit::record(conn, stamp, action, "response", id, Some(reason.to_owned()))?;
        get(conn, id)
    })
}

/// Amends a response: a new version (a new row naming the old in `supersedes`, paid as
/// any new response is: at once when its person was called for the page, else a pending
/// claim), and the old row becomes `superseded` and unpaid, kept. Only the current version
/// (paid or pending) can be amended. The ledger reverses the old line and posts the new.
pub fn amend(
    conn: &mut AnyConnection,
    id: &str,
    change: &NewResponse,
    reason: &str,
    stamp: &super::Stamp,
) -> Result<Response, StorageError> {
    write_transaction(conn, |conn| {
        let old = current_version(conn, id)?;
        let page = super::pages::get(conn, &old.page_id)?;
        let person = super::people::get(conn, &old.person)?;
        let new_id = uuid::Uuid::now_v7().to_string();
        let called = called_for(conn, &page, &person)?;
        diesel::update(responses::table.find(id))
            .set((responses::status.eq(SUPERSEDED), responses::paid.eq(false)))
            .execute(conn)?;
        diesel::insert_into(responses::table)
            .values((
                responses::id.eq(&new_id),
                responses::page_id.eq(&old.page_id),
                responses::person_id.eq(&old.person),
                responses::started_at.eq(to_naive(change.started_at)),
                responses::ended_at.eq(to_naive(change.ended_at)),
                responses::notes.eq(&change.notes),
                responses::actionable.eq(change.actionable),
                responses::created_at.eq(to_naive(stamp.at)),
                responses::status.eq(if called { PAID } else { PENDING }),
                responses::paid.eq(called),
                responses::supersedes.eq(id),
            ))
            .execute(conn)?;
        super::audit::record(conn, stamp, "amend", "response", id, Some(format!("superseded by {new_id}: {reason}")))?;
        super::audit::record(conn, stamp, "create", "response", &new_id, Some(format!("amends {id}")))?;
        get(conn, &new_id)
    })
}

/// Withdraws a response (the current version, paid or pending): kept, `withdrawn`, unpaid.
pub fn withdraw(
    conn: &mut AnyConnection,
    id: &str,
    reason: &str,
    stamp: &super::Stamp,
) -> Result<Response, StorageError> {
    write_transaction(conn, |conn| {
        current_version(conn, id)?;
        diesel::update(responses::table.find(id))
            .set((responses::status.eq(WITHDRAWN), responses::paid.eq(false)))
            .execute(conn)?;
        super::audit::record(conn, stamp, "withdraw", "response", id, Some(reason.to_owned()))?;
        get(conn, id)
    })
}

/// The response, refused unless it is the current version (paid or pending).
fn current_version(conn: &mut AnyConnection, id: &str) -> Result<Response, StorageError> {
    let existing = get(conn, id)?;
    if existing.status != PAID && existing.status != PENDING {
        return Err(StorageError::Conflict(FieldError::new(
            "id",
            format!("response `{id}` is `{}`: only the current version can be changed", existing.status),
        )));
    }
    Ok(existing)
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
