//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::AppState;
use super::error::ApiError;

/// The process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, description = "The process is up")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()), responses(
    (status = 200, description = "The database answers"),
    (status = 503, description = "The database does not answer", body = super::error::ErrorBody),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let backend = store.backend();
    web::block(move || store.ping())
        .await
        .map_err(|_| {
            ApiError::new(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable", "readiness check failed")
        })?
        .map_err(|error| {
            tracing::warn!(error.cause = %error, "readiness check failed");
            ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database does not answer",
            )
        })?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": backend.to_string()})))
}
