//! `/v1/tokens`: API tokens (admin only). A secret is returned once, at creation.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::access::Actor;
use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::{AppState, with_conn};
use crate::domain::role::Role;
use crate::storage::tokens::{self, NewToken, Token};

/// A token to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    #[schema(example = "payroll export")]
    pub name: String,
    pub role: Role,
    /// For an engineer token: the person it acts as.
    pub person: Option<String>,
    /// For a manager token: the teams it sees.
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default, with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new token with its secret: shown this once, stored only as a hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub token: Token,
    pub secret: String,
}

#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = TokenInput, responses(
    (status = 201, body = CreatedToken), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
#[post("/tokens")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    JsonBody(input): JsonBody<TokenInput>,
) -> Result<HttpResponse, ApiError> {
    let token = NewToken {
        name: input.name,
        role: input.role,
        person: input.person,
        teams: input.teams,
        expires_at: input.expires_at,
    };
    let stamp = actor.stamp();
    let (token, secret) = with_conn(&state, move |conn| tokens::create(conn, &token, &stamp)).await?;
    Ok(HttpResponse::Created().json(CreatedToken { token, secret }))
}

#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", responses((status = 200, body = Vec<Token>)), security(("bearer" = [])))]
#[get("/tokens")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all = with_conn(&state, tokens::list).await?;
    Ok(HttpResponse::Ok().json(all))
}

/// Revokes a token: it is refused from the next request on.
#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", tag = "tokens", responses(
    (status = 200, body = Token), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
#[post("/tokens/{id}/revoke")]
pub async fn revoke(state: web::Data<AppState>, actor: Actor, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let stamp = actor.stamp();
    let token = with_conn(&state, move |conn| tokens::revoke(conn, &id, &stamp)).await?;
    Ok(HttpResponse::Ok().json(token))
}
