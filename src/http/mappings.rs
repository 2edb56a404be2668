//! `/v1/unmatched` and `/v1/mappings`: what the tools name that paydown does not know
//! yet, and mapping it, which re-attributes every page that named it.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;

use super::access::Actor;
use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::{AppState, with_conn};
use crate::storage::mappings::{self, Mapping, MappingKind, Unmatched};

/// Maps a tool's identity to a paydown person or service.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    pub kind: MappingKind,
    /// As the page shows it: `pagerduty:PXPGF42`, `alice@example.com`, a tool's service name.
    #[schema(example = "pagerduty:PXPGF42")]
    pub external: String,
    /// The paydown person or service id.
    #[schema(example = "alice")]
    pub target: String,
}

/// Service names and acknowledger identities that pages carry but paydown cannot attribute.
#[utoipa::path(get, path = "/v1/unmatched", tag = "pages", responses((status = 200, body = Unmatched)))]
#[get("/unmatched")]
pub async fn unmatched(
    state: web::Data<AppState>,
    reach: crate::domain::scope::Reach,
) -> Result<HttpResponse, ApiError> {
    let mut found = with_conn(&state, mappings::unmatched).await?;
    // Identities nobody is mapped to belong to no team: only finance and admin see them.
    found.people.retain(|identity| reach.sees_person(&identity.name));
    Ok(HttpResponse::Ok().json(found))
}

#[utoipa::path(get, path = "/v1/mappings", tag = "pages", responses((status = 200, body = Vec<Mapping>)))]
#[get("/mappings")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let found = with_conn(&state, mappings::list).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Adds a mapping; every page that named the identity is re-attributed at once.
#[utoipa::path(post, path = "/v1/mappings", tag = "pages", request_body = MappingInput, responses(
    (status = 201, body = Mapping), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/mappings")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    JsonBody(input): JsonBody<MappingInput>,
) -> Result<HttpResponse, ApiError> {
    let stamp = actor.stamp();
    let mapping =
        with_conn(&state, move |conn| mappings::create(conn, input.kind, &input.external, &input.target, &stamp))
            .await?;
    state.mark_accrual_due();
    Ok(HttpResponse::Created().json(mapping))
}
