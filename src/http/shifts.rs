//! `/v1/shifts`: who is on call when.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::{AppState, query_limit, query_range, with_conn};
use crate::domain::field_error::{FieldError, require_slug, require_text};
use crate::domain::shift::{ShiftRole, check_interval, derived_external_id};
use crate::storage::pages::Recorded;
use crate::storage::shifts::{self, NewShift, Shift};

/// Most shifts one batch may carry.
pub const BATCH_SHIFTS_MAX: usize = 5_000;

/// A shift to record. Without `external_id`, the same person, role and times make the
/// same shift, so posting it twice records it once.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftInput {
    #[schema(example = "alice")]
    pub person: String,
    pub role: ShiftRole,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-10-05T09:00:00+01:00")]
    pub start: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-10-12T09:00:00+01:00")]
    pub end: DateTime<Utc>,
    /// The rota this shift belongs to.
    pub schedule: Option<String>,
    /// Where the shift came from; `api` when omitted.
    pub source: Option<String>,
    /// The source's id for the shift: its idempotency key.
    pub external_id: Option<String>,
}

/// Several shifts, recorded all or none.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftBatch {
    pub shifts: Vec<ShiftInput>,
}

/// What a batch recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShiftBatchResult {
    /// Shifts that were new.
    pub created: usize,
    /// Shifts already known (updated where they had changed).
    pub existing: usize,
    pub shifts: Vec<Shift>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ShiftQuery {
    /// Only this person's shifts.
    pub person: Option<String>,
    /// Shifts that end after this instant.
    pub from: Option<String>,
    /// Shifts that start before this instant.
    pub to: Option<String>,
    pub limit: Option<i64>,
}

impl ShiftInput {
    fn validate(self) -> Result<NewShift, FieldError> {
        require_slug("person", &self.person)?;
        check_interval(self.start, self.end)?;
        let source = self.source.unwrap_or_else(|| "api".to_owned());
        require_text("source", &source, 64)?;
        if let Some(schedule) = &self.schedule {
            require_text("schedule", schedule, 256)?;
        }
        let external_id = match self.external_id {
            Some(external_id) => {
                require_text("external_id", &external_id, 256)?;
                external_id
            }
            None => derived_external_id(&self.person, self.role, self.start, self.end),
        };
        Ok(NewShift {
            person: self.person,
            role: self.role,
            schedule: self.schedule,
            start: self.start,
            end: self.end,
            source,
            external_id,
        })
    }
}

#[utoipa::path(post, path = "/v1/shifts", tag = "shifts", request_body = ShiftInput, responses(
    (status = 201, description = "A new shift", body = Shift),
    (status = 200, description = "The shift was already known", body = Shift),
    (status = 400, body = ErrorBody)))]
#[post("/shifts")]
pub async fn create(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(input): JsonBody<ShiftInput>,
) -> Result<HttpResponse, ApiError> {
    let shift = input.validate()?;
    let stamp = actor.stamp();
    let mut recorded = with_conn(&state, move |conn| shifts::record_all(conn, &[shift], &stamp, None)).await?;
    let (shift, how) = recorded.pop().ok_or_else(|| ApiError::invalid("body", "no shift"))?;
    state.mark_accrual_due();
    Ok(match how {
        Recorded::Created => HttpResponse::Created().json(shift),
        Recorded::Existing => HttpResponse::Ok().json(shift),
    })
}

#[utoipa::path(post, path = "/v1/shifts/batch", tag = "shifts", request_body = ShiftBatch, responses(
    (status = 200, body = ShiftBatchResult), (status = 400, body = ErrorBody)))]
#[post("/shifts/batch")]
pub async fn create_batch(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(batch): JsonBody<ShiftBatch>,
) -> Result<HttpResponse, ApiError> {
    if batch.shifts.len() > BATCH_SHIFTS_MAX {
        return Err(ApiError::invalid("shifts", format!("at most {BATCH_SHIFTS_MAX} shifts per batch")));
    }
    let new_shifts = batch
        .shifts
        .into_iter()
        .enumerate()
        .map(|(index, input)| input.validate().map_err(|error| error.within(&format!("shifts[{index}]"))))
        .collect::<Result<Vec<_>, _>>()?;
    let stamp = actor.stamp();
    let recorded = with_conn(&state, move |conn| shifts::record_all(conn, &new_shifts, &stamp, Some("shifts"))).await?;
    state.mark_accrual_due();
    let created = recorded.iter().filter(|(_, how)| *how == Recorded::Created).count();
    Ok(HttpResponse::Ok().json(ShiftBatchResult {
        created,
        existing: recorded.len() - created,
        shifts: recorded.into_iter().map(|(shift, _)| shift).collect(),
    }))
}

#[utoipa::path(get, path = "/v1/shifts", tag = "shifts", params(ShiftQuery), responses(
    (status = 200, body = Vec<Shift>), (status = 400, body = ErrorBody)))]
#[get("/shifts")]
pub async fn list(
    state: web::Data<AppState>,
    reach: crate::domain::scope::Reach,
    query: web::Query<ShiftQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (from, to) = query_range(query.from.as_deref(), query.to.as_deref())?;
    let limit = query_limit(query.limit)?;
    let person = query.person;
    if let Some(person) = &person
        && !reach.sees_person(person)
    {
        return Err(super::access::person_denied().with_field("person"));
    }
    let within = reach.people();
    let found =
        with_conn(&state, move |conn| shifts::list_within(conn, person.as_deref(), within.as_deref(), from, to, limit))
            .await?;
    Ok(HttpResponse::Ok().json(found))
}
