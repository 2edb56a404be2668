//! `/v1/settings/cost`: the reliability-debt model's organisation-wide settings.

use actix_web::{HttpResponse, get, put, web};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::teams::HourlyCostInput;
use super::{AppState, with_conn};
use crate::domain::field_error::FieldError;
use crate::storage::cost_settings::{self, CostSettings};

/// The settings to put in force; omitted fields take PRODUCT.md's defaults.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostSettingsInput {
    /// Lost focus per responder per page, in minutes, as a decimal string (default `"15"`).
    #[schema(example = "15")]
    pub interruption_overhead_minutes: Option<String>,
    /// The catch-all loaded hourly cost for responders with no cost of their own or of their team.
    pub default_loaded_hourly_cost: Option<HourlyCostInput>,
}

#[utoipa::path(get, path = "/v1/settings/cost", tag = "reports", responses((status = 200, body = CostSettings)))]
#[get("/settings/cost")]
pub async fn read(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = with_conn(&state, cost_settings::get).await?;
    Ok(HttpResponse::Ok().json(settings))
}

#[utoipa::path(put, path = "/v1/settings/cost", tag = "reports", request_body = CostSettingsInput, responses(
    (status = 200, body = CostSettings), (status = 400, body = ErrorBody)))]
#[put("/settings/cost")]
pub async fn replace(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(input): JsonBody<CostSettingsInput>,
) -> Result<HttpResponse, ApiError> {
    let minutes = match input.interruption_overhead_minutes.as_deref() {
        None => crate::domain::debt::DEFAULT_INTERRUPTION_OVERHEAD_MINUTES,
        Some(text) => {
            let field = "interruption_overhead_minutes";
            let minutes = crate::domain::limits::parse_decimal(field, text)?;
            let max = crate::domain::limits::OVERHEAD_MINUTES_MAX;
            if minutes.is_sign_negative() || minutes > max || minutes.normalize().scale() > 6 {
                return Err(FieldError::new(
                    field,
                    format!("must be between 0 and {max} minutes, at most 6 decimal places"),
                )
                .into());
            }
            minutes
        }
    };
    let default_cost = input
        .default_loaded_hourly_cost
        .as_ref()
        .map(|cost| cost.validate("default_loaded_hourly_cost"))
        .transpose()?;
    let stamp = actor.stamp();
    let settings = with_conn(&state, move |conn| cost_settings::put(conn, minutes, default_cost, &stamp)).await?;
    Ok(HttpResponse::Ok().json(settings))
}
