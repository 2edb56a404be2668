//! `GET /v1/sync/status`: the scheduled syncs of `paydown serve` and their last runs.

use actix_web::{HttpResponse, get, web};

use super::AppState;
use crate::sync::scheduled::JobStatus;

/// The scheduled syncs (`[sync.<tool>] interval_seconds`) and what their last run did; empty
/// when none is configured.
#[utoipa::path(get, path = "/v1/sync/status", tag = "pages", responses((status = 200, body = Vec<JobStatus>)))]
#[get("/sync/status")]
pub async fn status(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.sync_jobs.statuses())
}
