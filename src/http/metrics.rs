//! `GET /metrics` and the middleware that counts every request (see `crate::metrics`).
//!
//! On the API's address `/metrics` needs an admin token (its rule is in `http::access`);
//! `metrics_listen` in the configuration opens a second address that serves `/metrics`
//! alone, without a token, for a Prometheus on a private network.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, get, web};

use super::AppState;
use crate::metrics::{CONTENT_TYPE, DatabaseSample, UNMATCHED_ROUTE};
use crate::storage::{StorageError, journal, rollup};

/// How long a scrape waits for a database connection: a busy pool must not make the
/// scrape time out, only report the database figures as stale (`paydown_database_up 0`).
const SCRAPE_CONNECTION_WAIT: Duration = Duration::from_secs(2);

/// The server's figures in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
#[get("/metrics")]
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(collect(&state).await)
}

/// Reads the figures that live in the pool and the database, then renders every series.
pub async fn collect(state: &AppState) -> String {
    state.metrics.set_pool(state.store.pool_sample());
    let store = state.store.clone();
    let sampled = web::block(move || -> Result<DatabaseSample, StorageError> {
        let mut conn = store
            .spare_conn(SCRAPE_CONNECTION_WAIT)
            .ok_or_else(|| StorageError::Unavailable("no free connection".to_owned()))?;
        let (journal_rows, oldest) = journal::backlog(&mut conn)?;
        let rollup_dirty_days = rollup::dirty_day_count(&mut conn)?;
        let accrual_lag = oldest.and_then(|at| (super::now() - at).to_std().ok()).unwrap_or_default();
        Ok(DatabaseSample { journal_rows, accrual_lag, rollup_dirty_days })
    })
    .await;
    let sample = match sampled {
        Ok(Ok(sample)) => Some(sample),
        Ok(Err(error)) => {
            tracing::warn!(error.cause = %error, "metrics: the database figures could not be read");
            None
        }
        Err(error) => {
            tracing::warn!(error.cause = %error, "metrics: the database figures could not be read");
            None
        }
    };
    state.metrics.set_database(sample);
    state.metrics.render()
}

/// Counts each request by method, route pattern and status, with its latency. Wraps the
/// access middleware, so refused requests (401, 403) are counted too.
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    // A client may send any token as a method; only the standard ones become label values.
    let method = match *request.method() {
        Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::PATCH | Method::DELETE | Method::OPTIONS => {
            request.method().as_str().to_owned()
        }
        _ => "other".to_owned(),
    };
    let route = request.request().match_pattern().unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let metrics = request.app_data::<web::Data<AppState>>().map(|state| state.metrics.clone());
    let result = next.call(request).await;
    if let Some(metrics) = metrics {
        let status = match &result {
            Ok(response) => response.status().as_u16(),
            Err(error) => error.as_response_error().status_code().as_u16(),
        };
        metrics.observe_request(&method, &route, status, started.elapsed());
    }
    result
}

/// The app of the `metrics_listen` address: `/metrics` and nothing else, without a token.
pub fn metrics_only_app(
    state: AppState,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .app_data(web::Data::new(state))
        .service(scrape)
        .default_service(web::to(|| async { HttpResponse::NotFound().body("only /metrics is served here\n") }))
}
