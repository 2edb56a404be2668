//! `/v1/pages`: paged events from any source, and the responses logged on them.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::{AppState, query_limit, query_range, with_conn};
use crate::domain::field_error::{FieldError, require_slug, require_text};
use crate::domain::limits::{check_free_text, check_instant};
use crate::domain::page::{Delivery, KEY_LENGTH_MAX, Lane, PageState};
use crate::domain::scope::Reach;
use crate::storage::pages::{self, Page, PageFilter, Recorded};
use crate::storage::responses::{self as response_store, NewResponse, Response};

/// Longest response accepted: work logged on one page for more than a week is a typo.
pub const RESPONSE_MINUTES_MAX: i64 = crate::domain::limits::RESPONSE_MINUTES_MAX;
/// Longest response note accepted.
pub const NOTES_LENGTH_MAX: usize = 10_000;

/// One delivery of a page. `(source, external_id)` is its idempotency key: the same
/// key again updates the page's state and never makes a second page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageInput {
    #[schema(example = "manual", max_length = 64)]
    pub source: String,
    #[schema(example = "INC-1", max_length = 256)]
    pub external_id: String,
    /// The service's id; an unknown service is kept and the page marked un-owned.
    #[schema(example = "checkout", max_length = 256)]
    pub service: String,
    #[schema(example = "Disk full on db-7", max_length = 1000)]
    pub title: Option<String>,
    /// What repeats: dedup key, fingerprint or alert name.
    #[schema(example = "disk-full-db-7", max_length = 256)]
    pub alert_key: Option<String>,
    /// `wake` when omitted.
    pub lane: Option<Lane>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-10-03T02:14:00Z")]
    pub triggered_at: DateTime<Utc>,
    #[serde(default, with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The person id of who acknowledged.
    pub acknowledged_by: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub service: Option<String>,
    pub alert_key: Option<String>,
    pub acknowledged_by: Option<String>,
    /// Pages triggered at or after this instant.
    pub from: Option<String>,
    /// Pages triggered before this instant.
    pub to: Option<String>,
    /// `true`: only pages of unknown or un-owned services.
    pub unowned: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A person's work on a page. Give `ended_at` or `duration_minutes`. With an `id`
/// (any string the client makes, up to 128 characters), posting the same response again
/// records it once. `person` defaults to an engineer token's own person. A response by
/// someone who was not called for the page (not its acknowledger, not on call for the
/// owning team at the trigger) is a claim: `status` `pending`, unpaid until approved.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseInput {
    #[schema(max_length = 128, example = "my-tool:4711")]
    pub id: Option<String>,
    #[schema(example = "alice")]
    pub person: Option<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-10-03T02:14:00Z")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-10-03T03:05:00Z")]
    pub ended_at: Option<DateTime<Utc>>,
    #[schema(minimum = 0, maximum = 10080)]
    pub duration_minutes: Option<i64>,
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
    /// Whether the page needed a human to act.
    pub actionable: bool,
}

impl PageInput {
    fn validate(self) -> Result<(String, String, PageState), FieldError> {
        require_text("source", &self.source, 64)?;
        require_text("external_id", &self.external_id, KEY_LENGTH_MAX)?;
        let state = PageState::from_delivery(Delivery {
            service_key: self.service,
            title: self.title,
            alert_key: self.alert_key,
            lane: self.lane,
            triggered_at: self.triggered_at,
            acknowledged_at: self.acknowledged_at,
            acknowledged_by: self.acknowledged_by,
            resolved_at: self.resolved_at,
        })?;
        Ok((self.source, self.external_id, state))
    }
}

impl ResponseInput {
    pub(crate) fn validate(self, page_id: String, caller_person: Option<&str>) -> Result<NewResponse, FieldError> {
        let person = match (self.person, caller_person) {
            (Some(person), _) => person,
            (None, Some(own)) => own.to_owned(),
            (None, None) => {
                return Err(FieldError::new("person", "is required (an engineer token defaults to its own)"));
            }
        };
        require_slug("person", &person)?;
        if let Some(id) = &self.id {
            require_text("id", id, crate::domain::limits::CLIENT_ID_LENGTH_MAX)?;
        }
        check_instant("started_at", self.started_at)?;
        if let Some(ended_at) = self.ended_at {
            check_instant("ended_at", ended_at)?;
        }
        let ended_at = match (self.ended_at, self.duration_minutes) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new("duration_minutes", "give ended_at or duration_minutes, not both"));
            }
            (None, None) => {
                return Err(FieldError::new("ended_at", "is required (or give duration_minutes)"));
            }
            (None, Some(minutes)) if minutes < 0 => {
                return Err(FieldError::new("duration_minutes", "must not be negative"));
            }
            (None, Some(minutes)) if minutes > RESPONSE_MINUTES_MAX => {
                return Err(FieldError::new("duration_minutes", format!("must be at most {RESPONSE_MINUTES_MAX}")));
            }
            (None, Some(minutes)) => {
                let ended_at = self
                    .started_at
                    .checked_add_signed(Duration::minutes(minutes))
                    .ok_or_else(|| FieldError::new("duration_minutes", "ends outside the accepted window"))?;
                check_instant("duration_minutes", ended_at)?;
                ended_at
            }
            (Some(ended_at), None) if ended_at < self.started_at => {
                return Err(FieldError::new("ended_at", "must not be before started_at"));
            }
            (Some(ended_at), None) if ended_at - self.started_at > Duration::minutes(RESPONSE_MINUTES_MAX) => {
                return Err(FieldError::new("ended_at", "a response lasts at most 7 days"));
            }
            (Some(ended_at), None) => ended_at,
        };
        if let Some(notes) = &self.notes
            && notes.chars().count() > NOTES_LENGTH_MAX
        {
            return Err(FieldError::new("notes", format!("must be at most {NOTES_LENGTH_MAX} characters")));
        }
        if let Some(notes) = &self.notes {
            check_free_text("notes", notes)?;
        }
        Ok(NewResponse {
            id: self.id,
            page_id,
            person,
            started_at: self.started_at,
            ended_at,
            notes: self.notes,
            actionable: self.actionable,
        })
    }
}

/// Records a delivery of a page from any source.
#[utoipa::path(post, path = "/v1/pages", tag = "pages", request_body = PageInput, responses(
    (status = 201, description = "A new page", body = Page),
    (status = 200, description = "The key was known: the page as all deliveries make it", body = Page),
    (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
#[post("/pages")]
pub async fn record(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(input): JsonBody<PageInput>,
) -> Result<HttpResponse, ApiError> {
    let (source, external_id, delivery) = input.validate()?;
    // The audit log names the delivering source; with tokens it will name the token too.
    let stamp = actor.stamp();
    let stamp = crate::storage::Stamp::new(format!("{} via {source}", stamp.actor), stamp.at);
    let (page, how) =
        with_conn(&state, move |conn| pages::record_delivery(conn, &source, &external_id, &delivery, &stamp)).await?;
    tracing::info!(page.id = %page.id, page.source = %page.source, page.deliveries = page.delivery_count, "page recorded");
    state.mark_accrual_due();
    Ok(match how {
        Recorded::Created => HttpResponse::Created().json(page),
        Recorded::Existing => HttpResponse::Ok().json(page),
    })
}

/// Lists pages, newest first; `?source=&external_id=` finds one by its key.
#[utoipa::path(get, path = "/v1/pages", tag = "pages", params(PageQuery), responses(
    (status = 200, body = Vec<Page>), (status = 400, body = ErrorBody)))]
#[get("/pages")]
pub async fn list(
    state: web::Data<AppState>,
    reach: Reach,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    if let Some(person) = &query.acknowledged_by
        && !reach.sees_person(person)
    {
        return Err(super::access::person_denied().with_field("acknowledged_by"));
    }
    let (triggered_from, triggered_to) = query_range(query.from.as_deref(), query.to.as_deref())?;
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset", "must not be negative"));
    }
    let filter = PageFilter {
        source: query.source,
        external_id: query.external_id,
        service: query.service,
        alert_key: query.alert_key,
        acknowledged_by: query.acknowledged_by,
        triggered_from,
        triggered_to,
        unowned_only: query.unowned.unwrap_or(false),
        limit: query_limit(query.limit)?,
        offset,
    };
    let found = with_conn(&state, move |conn| pages::list(conn, &filter)).await?;
    Ok(HttpResponse::Ok().json(found.into_iter().map(|page| scoped(page, &reach)).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/v1/pages/{id}", tag = "pages", responses((status = 200, body = Page), (status = 404, body = ErrorBody)))]
#[get("/pages/{id}")]
pub async fn read(state: web::Data<AppState>, reach: Reach, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let page = with_conn(&state, move |conn| pages::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(scoped(page, &reach)))
}

/// A page as a caller sees it: who acknowledged it is named only when in the caller's reach
/// (a page is everyone's to read, and to claim; who answered it is not).
fn scoped(mut page: Page, reach: &Reach) -> Page {
    page.acknowledged_by = reach.redact(page.acknowledged_by);
    page
}

/// Logs a person's work on a page.
#[utoipa::path(post, path = "/v1/pages/{id}/responses", tag = "responses", request_body = ResponseInput, responses(
    (status = 201, body = Response),
    (status = 200, description = "The response (by id) was already recorded", body = Response),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/pages/{id}/responses")]
pub async fn record_response(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<ResponseInput>,
) -> Result<HttpResponse, ApiError> {
    let own = actor.0.as_ref().and_then(|caller| caller.person.clone());
    let response = input.validate(id.into_inner(), own.as_deref())?;
    if let Some(caller) = &actor.0
        && !caller.may_act_for(&response.person)
    {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            "an engineer token logs responses for its own person only",
        ));
    }
    let stamp = actor.stamp();
    let (response, how) = with_conn(&state, move |conn| response_store::record(conn, &response, &stamp)).await?;
    state.mark_accrual_due();
    Ok(match how {
        Recorded::Created => HttpResponse::Created().json(response),
        Recorded::Existing => HttpResponse::Ok().json(response),
    })
}

#[utoipa::path(get, path = "/v1/pages/{id}/responses", tag = "responses", responses(
    (status = 200, body = Vec<Response>), (status = 404, body = ErrorBody)))]
#[get("/pages/{id}/responses")]
pub async fn responses(
    state: web::Data<AppState>,
    reach: Reach,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut found = with_conn(&state, move |conn| response_store::list_for_page(conn, &id)).await?;
    // A colleague's response (their times, their notes) is theirs and their managers'.
    found.retain(|response| reach.sees_person(&response.person));
    Ok(HttpResponse::Ok().json(found))
}

/// Why a claim is approved or rejected.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    #[schema(max_length = 1000, example = "paged by phone by the incident commander")]
    pub reason: String,
}

/// Longest reason for a decision on a claim.
pub const REASON_LENGTH_MAX: usize = 1_000;

async fn decide(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: String,
    input: DecisionInput,
    approved: bool,
) -> Result<HttpResponse, ApiError> {
    // A reason may hold line breaks; other control characters are refused.
    check_reason(&input.reason)?;
    let stamp = actor.stamp();
    let caller = actor.0.clone();
    let decided = with_conn(&state, move |conn| -> Result<_, ApiError> {
        let claim = response_store::get(conn, &id)?;
        // A manager decides for the people of their teams only; finance for anyone.
        if let Some(caller) = &caller
            && caller.role == crate::domain::role::Role::Manager
        {
            let team = crate::storage::people::get(conn, &claim.person)?.team;
            if !team.is_some_and(|team| caller.teams.contains(&team)) {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::FORBIDDEN,
                    "forbidden",
                    "a manager token decides claims of its teams' people only",
                ));
            }
        }
        Ok(response_store::decide(conn, &id, approved, &input.reason, &stamp)?)
    })
    .await?;
    state.mark_accrual_due();
    Ok(HttpResponse::Ok().json(decided))
}

/// Approves a pending claim: the response is paid from now on (the ledger posts it at the
/// next accrual, as an adjustment when its period is closed). Audited with the reason.
#[utoipa::path(post, path = "/v1/responses/{id}/approve", tag = "responses", request_body = DecisionInput, responses(
    (status = 200, body = Response), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "Not a pending claim", body = ErrorBody)))]
#[post("/responses/{id}/approve")]
pub async fn approve(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<DecisionInput>,
) -> Result<HttpResponse, ApiError> {
    decide(actor, state, id.into_inner(), input, true).await
}

/// Rejects a pending claim: never paid. Audited with the reason.
#[utoipa::path(post, path = "/v1/responses/{id}/reject", tag = "responses", request_body = DecisionInput, responses(
    (status = 200, body = Response), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "Not a pending claim", body = ErrorBody)))]
#[post("/responses/{id}/reject")]
pub async fn reject(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<DecisionInput>,
) -> Result<HttpResponse, ApiError> {
    decide(actor, state, id.into_inner(), input, false).await
}

/// A new version of a response: its times, notes and actionable flag, and why it changed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendInput {
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-10-03T02:14:00Z")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<DateTime<Utc>>,
    #[schema(minimum = 0, maximum = 10080)]
    pub duration_minutes: Option<i64>,
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
    pub actionable: bool,
    #[schema(max_length = 1000, example = "I logged the wrong hour")]
    pub reason: String,
}

pub(super) fn check_reason(reason: &str) -> Result<(), ApiError> {
    if reason.trim().is_empty() {
        return Err(ApiError::invalid("reason", "must say why"));
    }
    if reason.chars().count() > REASON_LENGTH_MAX {
        return Err(ApiError::invalid("reason", format!("must be at most {REASON_LENGTH_MAX} characters")));
    }
    Ok(check_free_text("reason", reason)?)
}

/// The response, if the caller may correct it: its author (an engineer token of its
/// person) or finance.
async fn authored(state: &web::Data<AppState>, actor: &super::access::Actor, id: &str) -> Result<Response, ApiError> {
    let id = id.to_owned();
    let response = with_conn(state, move |conn| response_store::get(conn, &id)).await?;
    if let Some(caller) = &actor.0
        && caller.role != crate::domain::role::Role::Finance
        && caller.person.as_deref() != Some(response.person.as_str())
    {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            "a response is corrected by its author or by finance",
        ));
    }
    Ok(response)
}

/// Amends a response: a new version (paid at once when its person was called for the page,
/// else a pending claim); the old one is kept as `superseded`. The ledger reverses the old
/// line and posts the new (an adjustment when the period is closed). Audited with the reason.
#[utoipa::path(post, path = "/v1/responses/{id}/amend", tag = "responses", request_body = AmendInput, responses(
    (status = 201, description = "The new version", body = Response), (status = 400, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, description = "Not the current version", body = ErrorBody)))]
#[post("/responses/{id}/amend")]
pub async fn amend(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<AmendInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    check_reason(&input.reason)?;
    let old = authored(&state, &actor, &id).await?;
    let change = ResponseInput {
        id: None,
        person: Some(old.person.clone()),
        started_at: input.started_at,
        ended_at: input.ended_at,
        duration_minutes: input.duration_minutes,
        notes: input.notes,
        actionable: input.actionable,
    }
    .validate(old.page_id.clone(), None)?;
    let stamp = actor.stamp();
    let reason = input.reason;
    let amended = with_conn(&state, move |conn| response_store::amend(conn, &id, &change, &reason, &stamp)).await?;
    state.mark_accrual_due();
    Ok(HttpResponse::Created().json(amended))
}

/// Withdraws a response: kept as `withdrawn`, no longer paid (the ledger reverses it).
#[utoipa::path(post, path = "/v1/responses/{id}/withdraw", tag = "responses", request_body = DecisionInput, responses(
    (status = 200, body = Response), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "Not the current version", body = ErrorBody)))]
#[post("/responses/{id}/withdraw")]
pub async fn withdraw(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<DecisionInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    check_reason(&input.reason)?;
    authored(&state, &actor, &id).await?;
    let stamp = actor.stamp();
    let withdrawn = with_conn(&state, move |conn| response_store::withdraw(conn, &id, &input.reason, &stamp)).await?;
    state.mark_accrual_due();
    Ok(HttpResponse::Ok().json(withdrawn))
}
