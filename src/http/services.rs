//! `/v1/services`: services and the team that owns each.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::{JsonBody, double_option};
use super::{AppState, with_conn};
use crate::domain::field_error::{require_slug, require_text};
use crate::storage::services::{self, NewService, Service, ServiceChanges};

/// A service to create. Pages name it by `id`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    #[schema(example = "checkout")]
    pub id: String,
    #[schema(example = "Checkout API")]
    pub name: String,
    /// The owning team; omit for a service nobody owns yet.
    #[schema(example = "payments")]
    pub team: Option<String>,
}

/// Changes to a service; absent fields are kept, `"team": null` disowns it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub team: Option<Option<String>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ServiceQuery {
    /// Only services of this team.
    pub team: Option<String>,
}

#[utoipa::path(post, path = "/v1/services", tag = "services", request_body = ServiceInput, responses(
    (status = 201, body = Service), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/services")]
pub async fn create(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(input): JsonBody<ServiceInput>,
) -> Result<HttpResponse, ApiError> {
    require_slug("id", &input.id)?;
    require_text("name", &input.name, 200)?;
    let service = NewService { id: input.id, name: input.name, team: input.team };
    let stamp = actor.stamp();
    let created = with_conn(&state, move |conn| services::create(conn, &service, &stamp)).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(get, path = "/v1/services", tag = "services", params(ServiceQuery), responses((status = 200, body = Vec<Service>)))]
#[get("/services")]
pub async fn list(state: web::Data<AppState>, query: web::Query<ServiceQuery>) -> Result<HttpResponse, ApiError> {
    let team = query.into_inner().team;
    let all = with_conn(&state, move |conn| services::list(conn, team.as_deref())).await?;
    Ok(HttpResponse::Ok().json(all))
}

#[utoipa::path(get, path = "/v1/services/{id}", tag = "services", responses((status = 200, body = Service), (status = 404, body = ErrorBody)))]
#[get("/services/{id}")]
pub async fn read(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let service = with_conn(&state, move |conn| services::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(service))
}

#[utoipa::path(patch, path = "/v1/services/{id}", tag = "services", request_body = ServicePatch, responses(
    (status = 200, body = Service), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[patch("/services/{id}")]
pub async fn update(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<ServicePatch>,
) -> Result<HttpResponse, ApiError> {
    if let Some(name) = &input.name {
        require_text("name", name, 200)?;
    }
    let changes = ServiceChanges { name: input.name, team: input.team };
    let id = id.into_inner();
    let stamp = actor.stamp();
    let service = with_conn(&state, move |conn| services::update(conn, &id, &changes, &stamp)).await?;
    Ok(HttpResponse::Ok().json(service))
}
