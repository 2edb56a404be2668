//! `/v1/policies`: versioned pay policies; `/v1/people/{id}/policy-assignments`; and
//! `/v1/people/{id}/statement`, the priced lines of a person.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::{AppState, query_instant, with_conn};
use crate::domain::policy::PayPolicy;
use crate::pricing::{STATEMENT_DAYS_MAX, StatementError};
use crate::statements;
use crate::storage::policies::{self, Assignment};

/// A policy and all its versions, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyVersions {
    pub id: String,
    /// Each version as posted: currency, fees and rates per time class, rounding,
    /// escalation, recovery and standby rules.
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<PayPolicy>,
}

/// Assigns a policy to a person from a local date on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    #[schema(example = "uk-standard")]
    pub policy: String,
    #[schema(value_type = String, format = Date, example = "2026-01-01")]
    pub effective_from: NaiveDate,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StatementQuery {
    /// A pay period id (`2026-09`): the statement read from the ledger, final once the
    /// period is closed. Without it, `from` and `to` give a preview priced now.
    pub period: Option<String>,
    /// Start of the previewed range (inclusive), RFC 3339 with offset.
    pub from: Option<String>,
    /// End of the previewed range (exclusive), RFC 3339 with offset.
    pub to: Option<String>,
}

impl From<StatementError> for ApiError {
    fn from(error: StatementError) -> ApiError {
        match error {
            StatementError::Storage(error) => error.into(),
            StatementError::Pricing(error) => ApiError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "unpriceable",
                format!("the facts cannot be priced: {error}"),
            ),
            error @ StatementError::Unpriceable { .. } => {
                ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "unpriceable", error.to_string())
            }
        }
    }
}

/// Stores a new version of a pay policy (a new id starts at any version).
#[utoipa::path(post, path = "/v1/policies", tag = "policies",
    request_body(content = Object, description = "A PayPolicy: id, version, effective_from, currency, callout_fee, response_rate_per_hour, response_multiplier, rounding_increment_minutes (1–1440), minimum_billable_minutes (0–1440), callout_cooldown_minutes (0–1440, 0 = off), escalation, recovery, standby (mode per_hour/per_day/per_night; per night, night_cutoff, or night_minimum_hours 0–24 with night_boundary, see domain::pay::night). Amounts, rates and multipliers are decimal strings (a JSON number, an exponent or a + is refused naming the field); amounts 0–1000000000, multipliers 0–100 (see domain::limits)"),
    responses((status = 201, body = PolicyVersions), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/policies")]
pub async fn create(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(policy): JsonBody<PayPolicy>,
) -> Result<HttpResponse, ApiError> {
    let stamp = actor.stamp();
    let id = policy.id.clone();
    let history = with_conn(&state, move |conn| policies::create_version(conn, &policy, &stamp)).await?;
    Ok(HttpResponse::Created().json(PolicyVersions { id, versions: history.versions().to_vec() }))
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies", responses((status = 200, body = Vec<PolicyVersions>)))]
#[get("/policies")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all = with_conn(&state, |conn| -> Result<_, crate::storage::StorageError> {
        let ids = policies::list_ids(conn)?;
        ids.into_iter()
            .map(|id| {
                let history = policies::get_history(conn, &id)?;
                Ok(PolicyVersions { id, versions: history.versions().to_vec() })
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(all))
}

#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies", responses((status = 200, body = PolicyVersions), (status = 404, body = ErrorBody)))]
#[get("/policies/{id}")]
pub async fn read(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let history = with_conn(&state, {
        let id = id.clone();
        move |conn| policies::get_history(conn, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(PolicyVersions { id, versions: history.versions().to_vec() }))
}

#[utoipa::path(post, path = "/v1/people/{id}/policy-assignments", tag = "policies", request_body = AssignmentInput, responses(
    (status = 201, body = Assignment), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/people/{id}/policy-assignments")]
pub async fn assign(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<AssignmentInput>,
) -> Result<HttpResponse, ApiError> {
    let person = id.into_inner();
    let stamp = actor.stamp();
    let assignment =
        with_conn(&state, move |conn| policies::assign(conn, &person, &input.policy, input.effective_from, &stamp))
            .await?;
    Ok(HttpResponse::Created().json(assignment))
}

#[utoipa::path(get, path = "/v1/people/{id}/policy-assignments", tag = "policies", responses(
    (status = 200, body = Vec<Assignment>), (status = 404, body = ErrorBody)))]
#[get("/people/{id}/policy-assignments")]
pub async fn assignments(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let person = id.into_inner();
    let found = with_conn(&state, move |conn| {
        crate::storage::people::get(conn, &person)?;
        policies::assignments(conn, &person)
    })
    .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Every priced line of a person over `[from, to)`, with its explanation, and totals per
/// component and currency. `Accept: text/csv` gives the lines as CSV.
#[utoipa::path(get, path = "/v1/people/{id}/statement", tag = "statements", params(StatementQuery), responses(
    (status = 200, description = "JSON statement, or CSV lines with Accept: text/csv", body = Object),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/people/{id}/statement")]
pub async fn statement(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
    query: web::Query<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    if let Some(period) = query.period {
        if query.from.is_some() || query.to.is_some() {
            return Err(ApiError::invalid("period", "give either a period or a from/to range, not both"));
        }
        return period_statement(state, request, id.into_inner(), period).await;
    }
    let from = query_instant("from", query.from.as_deref())?
        .ok_or_else(|| ApiError::invalid("from", "is required (or give a period)"))?;
    let to = query_instant("to", query.to.as_deref())?.ok_or_else(|| ApiError::invalid("to", "is required"))?;
    if to <= from {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    if to - from > chrono::Duration::days(STATEMENT_DAYS_MAX) {
        return Err(ApiError::invalid("to", format!("a statement covers at most {STATEMENT_DAYS_MAX} days")));
    }
    let accept = request.headers().get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    let wants_html = accept.contains("text/html");
    let wants_csv = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"));
    let person = id.into_inner();
    let (statement, person_info) = with_conn(&state, move |conn| statements::preview(conn, &person, from, to)).await?;
    if wants_html {
        let html = crate::reports::statement_html::render(&statements::printable(&statement, person_info));
        return Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html));
    }
    if wants_csv {
        let file_name = format!("statement-{}-{}.csv", statement.person, from.format("%Y%m%d"));
        return csv_attachment(crate::reports::statement_csv::write(&statement), &file_name);
    }
    Ok(HttpResponse::Ok().json(statement))
}

/// The statement of one period, read from the ledger, as JSON, CSV or HTML.
async fn period_statement(
    state: web::Data<AppState>,
    request: HttpRequest,
    person: String,
    period: String,
) -> Result<HttpResponse, ApiError> {
    let accept = request.headers().get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    let (posted, page) = with_conn(&state, move |conn| statements::of_period(conn, &person, &period)).await?;
    if accept.contains("text/html") {
        let html = crate::reports::statement_html::render(&page);
        return Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html));
    }
    if accept.contains("text/csv") {
        let file_name = format!("statement-{}-{}.csv", posted.person, posted.period);
        return csv_attachment(crate::reports::statement_csv::write_entries(&posted), &file_name);
    }
    Ok(HttpResponse::Ok().json(posted))
}

/// A written CSV as a download; a failure to write it is ours, logged, and a 500.
fn csv_attachment(written: Result<Vec<u8>, csv::Error>, file_name: &str) -> Result<HttpResponse, ApiError> {
    let body = written.map_err(|error| {
        tracing::error!(error.cause = %error, "statement CSV failed");
        ApiError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it was logged",
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")))
        .body(body))
}
