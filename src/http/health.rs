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

/// The database answers, and the accrual worker (where this process runs one) is neither
/// failing nor stuck.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()), responses(
    (status = 200, description = "The database answers and the ledger keeps up"),
    (status = 503, description = "The database does not answer, or the accrual worker is failing or stuck", body = super::error::ErrorBody),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let backend = store.backend();
    let unavailable =
        |message: String| ApiError::new(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
    let backlog = web::block(move || {
        let mut conn = store.conn()?;
        crate::storage::journal::backlog(&mut conn)
    })
    .await
    .map_err(|_| unavailable("readiness check failed".to_owned()))?
    .map_err(|error| {
        tracing::warn!(error.cause = %error, "readiness check failed");
        unavailable("the database does not answer".to_owned())
    })?;
    let (pending, oldest) = backlog;
    let oldest_age = oldest.and_then(|at| (super::now() - at).to_std().ok());
    if let Err(problem) = state.worker.health(oldest_age) {
        tracing::warn!(problem = %problem, "not ready");
        return Err(unavailable(problem.to_string()));
    }
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "database": backend.to_string(),
        "accrual": {"worker": state.worker.is_running(), "journal_pending": pending},
        // Detail only: a paging tool being down does not make paydown unready.
        "sync": state.sync_jobs.statuses().iter().map(|job| json!({
            "tool": job.tool,
            "runs": job.runs,
            "failures": job.failures,
            "last_outcome": job.last_run.as_ref().map(|run| run.outcome.clone()),
            "last_finished_at": job.last_run.as_ref().map(|run| crate::domain::timestamp::format_rfc3339(&run.finished_at)),
        })).collect::<Vec<_>>(),
    })))
}
