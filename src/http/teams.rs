//! `/v1/teams`: teams and their cost centres.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::{AppState, with_conn};
use crate::domain::field_error::FieldError;
use crate::domain::field_error::{require_slug, require_text};
use crate::storage::teams::{self, HourlyCost, NewTeam, Team, TeamChanges};

/// A loaded hourly cost as the API takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HourlyCostInput {
    /// ISO 4217.
    #[schema(example = "GBP")]
    pub currency: String,
    /// A decimal string in `currency`.
    #[schema(example = "80.00")]
    pub amount: String,
}

impl HourlyCostInput {
    pub fn validate(&self, field: &str) -> Result<HourlyCost, FieldError> {
        let currency = self.currency.parse().map_err(|_| {
            FieldError::new(format!("{field}.currency"), format!("unknown currency `{}`", self.currency))
        })?;
        let amount = super::people::parse_money(&format!("{field}.amount"), &self.amount)?;
        if amount.is_sign_negative() {
            return Err(FieldError::new(format!("{field}.amount"), "must not be negative"));
        }
        Ok(HourlyCost { currency, amount })
    }
}

/// A team to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    #[schema(example = "payments")]
    pub id: String,
    #[schema(example = "Payments")]
    pub name: String,
    #[schema(example = "CC-4100")]
    pub cost_centre: String,
    /// The loaded hourly cost of the team's responders who have none of their own.
    pub default_loaded_hourly_cost: Option<HourlyCostInput>,
}

/// Changes to a team; absent fields are kept.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamPatch {
    pub name: Option<String>,
    pub cost_centre: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "super::extract::double_option")]
    #[schema(value_type = Option<HourlyCostInput>)]
    pub default_loaded_hourly_cost: Option<Option<HourlyCostInput>>,
}

#[utoipa::path(post, path = "/v1/teams", tag = "teams", request_body = TeamInput, responses(
    (status = 201, body = Team), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/teams")]
pub async fn create(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(input): JsonBody<TeamInput>,
) -> Result<HttpResponse, ApiError> {
    require_slug("id", &input.id)?;
    require_text("name", &input.name, 200)?;
    require_text("cost_centre", &input.cost_centre, 64)?;
    let default_loaded_hourly_cost = input
        .default_loaded_hourly_cost
        .as_ref()
        .map(|cost| cost.validate("default_loaded_hourly_cost"))
        .transpose()?;
    let team = NewTeam { id: input.id, name: input.name, cost_centre: input.cost_centre, default_loaded_hourly_cost };
    let stamp = actor.stamp();
    let created = with_conn(&state, move |conn| teams::create(conn, &team, &stamp)).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(get, path = "/v1/teams", tag = "teams", responses((status = 200, body = Vec<Team>)))]
#[get("/teams")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all = with_conn(&state, teams::list).await?;
    Ok(HttpResponse::Ok().json(all))
}

#[utoipa::path(get, path = "/v1/teams/{id}", tag = "teams", responses((status = 200, body = Team), (status = 404, body = ErrorBody)))]
#[get("/teams/{id}")]
pub async fn read(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let team = with_conn(&state, move |conn| teams::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(team))
}

#[utoipa::path(patch, path = "/v1/teams/{id}", tag = "teams", request_body = TeamPatch, responses(
    (status = 200, body = Team), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[patch("/teams/{id}")]
pub async fn update(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<TeamPatch>,
) -> Result<HttpResponse, ApiError> {
    if let Some(name) = &input.name {
        require_text("name", name, 200)?;
    }
    if let Some(cost_centre) = &input.cost_centre {
        require_text("cost_centre", cost_centre, 64)?;
    }
    let default_loaded_hourly_cost = match &input.default_loaded_hourly_cost {
        Some(Some(cost)) => Some(Some(cost.validate("default_loaded_hourly_cost")?)),
        Some(None) => Some(None),
        None => None,
    };
    let changes = TeamChanges { name: input.name, cost_centre: input.cost_centre, default_loaded_hourly_cost };
    let id = id.into_inner();
    let stamp = actor.stamp();
    let team = with_conn(&state, move |conn| teams::update(conn, &id, &changes, &stamp)).await?;
    Ok(HttpResponse::Ok().json(team))
}
