//! Finance's pay run (issue 18): `/v1/periods/{id}/review|approve|reopen|close`,
//! `/v1/adjustments` and `/v1/settings/pay-run`. The rules are `domain::pay_run`; the
//! steps are `crate::pay_run`, shared with the CLI.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::NaiveDate;
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::{AppState, with_conn};
use crate::domain::field_error::FieldError;
use crate::domain::pay_run::{Identity, Refusal};
use crate::pay_run::{self, AdjustmentRequest, PayRunError, PeriodRun, Review};
use crate::storage::pay_runs::{Adjustment, PayRunSettings};

impl From<PayRunError> for ApiError {
    fn from(error: PayRunError) -> ApiError {
        match error {
            PayRunError::Storage(error) => error.into(),
            PayRunError::Invalid(field) => field.into(),
            PayRunError::Refused(Refusal::State(field)) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", field.message).with_field(field.field)
            }
            PayRunError::Refused(Refusal::NotThisUser(message)) => {
                ApiError::new(StatusCode::FORBIDDEN, "four_eyes", message)
            }
        }
    }
}

/// Who is calling, as the four-eyes rule compares callers.
pub(super) fn identity(actor: &super::access::Actor) -> Identity {
    match &actor.0 {
        Some(caller) => {
            Identity { actor: caller.actor(), token_id: Some(caller.token_id.clone()), person: caller.person.clone() }
        }
        None => Identity { actor: super::API_ACTOR.to_owned(), token_id: None, person: None },
    }
}

/// The reason that goes with a pay run step.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepInput {
    /// Why (required, at most 1,000 characters); kept with the step and in the audit log.
    #[schema(example = "Reviewed against the rota; figures agreed with the team leads")]
    pub reason: Option<String>,
}

/// The period's review before approval: totals per person and component, what changed
/// since the last payroll export, and anomalies each linked to its ledger entries (pay
/// over 3× the person's trailing median, a response over 12 h, a claim awaiting approval,
/// night work that left less than 11 h of daily rest, with the compensatory rest owed).
#[utoipa::path(get, path = "/v1/periods/{id}/review", tag = "ledger", responses(
    (status = 200, body = Review), (status = 404, body = ErrorBody)))]
#[get("/periods/{id}/review")]
pub async fn review(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let review = with_conn(&state, move |conn| pay_run::review(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(review))
}

/// Approves the period after posting what it lacks. The approval covers exactly the
/// entries posted now: any later posting lapses it (the period reads as open again).
#[utoipa::path(post, path = "/v1/periods/{id}/approve", tag = "ledger", request_body = StepInput, responses(
    (status = 200, body = PeriodRun), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody)))]
#[post("/periods/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    actor: super::access::Actor,
    id: web::Path<String>,
    JsonBody(input): JsonBody<StepInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, by, at) = (id.into_inner(), identity(&actor), actor.stamp().at);
    let run = with_conn(&state, move |conn| pay_run::approve(conn, &id, &by, input.reason.as_deref(), at)).await?;
    Ok(HttpResponse::Ok().json(run))
}

/// Withdraws the period's approval before the close (to add an adjustment, say).
#[utoipa::path(post, path = "/v1/periods/{id}/reopen", tag = "ledger", request_body = StepInput, responses(
    (status = 200, body = PeriodRun), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody)))]
#[post("/periods/{id}/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    actor: super::access::Actor,
    id: web::Path<String>,
    JsonBody(input): JsonBody<StepInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, by, at) = (id.into_inner(), identity(&actor), actor.stamp().at);
    let run = with_conn(&state, move |conn| pay_run::reopen(conn, &id, &by, input.reason.as_deref(), at)).await?;
    Ok(HttpResponse::Ok().json(run))
}

/// Posts what the period lacks, then freezes it for good. 409 unless the period is
/// approved (and the approval has not lapsed) and every earlier period is closed; with
/// four-eyes on, 403 when the closer is the approver. Later changes land in the next open
/// period as adjustments.
#[utoipa::path(post, path = "/v1/periods/{id}/close", tag = "ledger", request_body = StepInput, responses(
    (status = 200, body = PeriodRun), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/periods/{id}/close")]
pub async fn close(
    state: web::Data<AppState>,
    actor: super::access::Actor,
    id: web::Path<String>,
    JsonBody(input): JsonBody<StepInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, by, at) = (id.into_inner(), identity(&actor), actor.stamp().at);
    let run = with_conn(&state, move |conn| pay_run::close(conn, &id, &by, input.reason.as_deref(), at)).await?;
    Ok(HttpResponse::Ok().json(run))
}

/// A manual adjustment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentInput {
    #[schema(example = "ben")]
    pub person: String,
    /// An open period of the ledger's scheme.
    #[schema(example = "2026-09")]
    pub period: String,
    /// Signed decimal string in the person's currency, at most 1,000,000 either way.
    #[schema(example = "-12.34")]
    pub amount: String,
    /// Why (required, at most 1,000 characters).
    pub reason: Option<String>,
    /// The earning code payroll files show (default: the layout's `manual_adjustment` code).
    pub earning_code: Option<String>,
}

/// Adds a one-off line (bonus, deduction, correction) for a person in an open period: a
/// ledger entry like any other (component `manual_adjustment`), in the payroll files with its
/// earning code and in the person's statement. Accrual never reverses it.
#[utoipa::path(post, path = "/v1/adjustments", tag = "ledger", request_body = AdjustmentInput, responses(
    (status = 201, body = Adjustment), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/adjustments")]
pub async fn adjust(
    state: web::Data<AppState>,
    actor: super::access::Actor,
    JsonBody(input): JsonBody<AdjustmentInput>,
) -> Result<HttpResponse, ApiError> {
    let (by, at) = (identity(&actor), actor.stamp().at);
    let request = AdjustmentRequest {
        person: input.person,
        period: input.period,
        amount: input.amount,
        reason: input.reason,
        earning_code: input.earning_code,
    };
    let adjustment = with_conn(&state, move |conn| pay_run::adjust(conn, &request, &by, at)).await?;
    Ok(HttpResponse::Created().json(adjustment))
}

#[utoipa::path(get, path = "/v1/settings/pay-run", tag = "ledger", responses((status = 200, body = PayRunSettings)))]
#[get("/settings/pay-run")]
pub async fn read_settings(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = with_conn(&state, pay_run::settings).await?;
    Ok(HttpResponse::Ok().json(settings))
}

/// The pay run settings to put in force.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRunSettingsInput {
    /// Go-live date (`YYYY-MM-DD`): work before it (the person's local date) is kept and
    /// reported but never posted to payroll. Absent or null: everything is payable.
    #[schema(example = "2026-09-01")]
    pub pay_from: Option<String>,
    /// Require a second finance user to close a period (default false).
    pub four_eyes: Option<bool>,
}

/// Replaces the pay run settings (admin). Moving `pay_from` re-prices everyone from the
/// earlier of the two dates; lines in closed periods are corrected in the next open one.
#[utoipa::path(put, path = "/v1/settings/pay-run", tag = "ledger", request_body = PayRunSettingsInput, responses(
    (status = 200, body = PayRunSettings), (status = 400, body = ErrorBody)))]
#[put("/settings/pay-run")]
pub async fn replace_settings(
    state: web::Data<AppState>,
    actor: super::access::Actor,
    JsonBody(input): JsonBody<PayRunSettingsInput>,
) -> Result<HttpResponse, ApiError> {
    let pay_from = input
        .pay_from
        .as_deref()
        .map(|text| {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| FieldError::new("pay_from", "must be a date, YYYY-MM-DD"))?;
            crate::domain::limits::check_instant("pay_from", date.and_time(chrono::NaiveTime::MIN).and_utc())?;
            Ok::<_, FieldError>(date)
        })
        .transpose()?;
    let wanted = PayRunSettings { pay_from, four_eyes: input.four_eyes.unwrap_or(false) };
    let stamp = actor.stamp();
    let settings = with_conn(&state, move |conn| pay_run::put_settings(conn, &wanted, &stamp)).await?;
    Ok(HttpResponse::Ok().json(settings))
}
