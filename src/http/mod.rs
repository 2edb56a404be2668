//! The JSON API under `/v1`, health probes and the OpenAPI document.
//!
//! Handlers are thin: parse and validate the input into domain values, run one storage
//! function on a blocking thread, map the result. Routes are registered in `configure`
//! only, so the whole surface of the API reads in one place.

pub mod access;
mod dashboard;
pub mod error;
pub mod extract;
mod health;
pub mod html;
mod ledger;
mod mappings;
pub mod metrics;
pub mod openapi;
mod pages;
mod people;
mod periods;
mod policies;
mod rates;

pub use rates::{RateInput, parse_rate};
mod reports;
mod services;
mod settings;
mod shifts;
mod sync;
mod teams;
mod tokens;
mod webhooks;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

use self::error::ApiError;
use crate::domain::timestamp::parse_rfc3339;
use crate::storage::{AnyConnection, StorageError, Store};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Webhook secrets, the replay window and the identity mapping.
    pub ingest: std::sync::Arc<crate::ingest::config::IngestConfig>,
    /// The accrual worker's health and wake-up signal (running only in `paydown serve`).
    pub worker: std::sync::Arc<crate::worker::Worker>,
    /// What `/metrics` reports.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Where finance's payroll layouts are (`reports_dir` of the configuration).
    pub reports_dir: std::sync::Arc<std::path::Path>,
    /// The scheduled syncs' last runs (running only in `paydown serve`).
    pub sync_jobs: std::sync::Arc<crate::sync::scheduled::SyncJobs>,
}

impl AppState {
    pub fn new(store: Store) -> AppState {
        AppState::with_ingest(store, crate::ingest::config::IngestConfig::default())
    }

    pub fn with_ingest(store: Store, ingest: crate::ingest::config::IngestConfig) -> AppState {
        AppState::assemble(
            store,
            ingest,
            crate::worker::WorkerSettings::default(),
            std::path::Path::new(crate::config::DEFAULT_REPORTS_DIR),
        )
    }

    /// The state of a server started from its configuration.
    pub fn from_config(store: Store, config: &crate::config::Config) -> AppState {
        AppState::assemble(store, config.ingest.clone(), config.worker.settings(), &config.reports_dir)
    }

    fn assemble(
        store: Store,
        ingest: crate::ingest::config::IngestConfig,
        worker: crate::worker::WorkerSettings,
        reports_dir: &std::path::Path,
    ) -> AppState {
        let worker = std::sync::Arc::new(crate::worker::Worker::new(worker));
        AppState {
            store,
            ingest: std::sync::Arc::new(ingest),
            metrics: std::sync::Arc::new(crate::metrics::Metrics::new(worker.clone())),
            worker,
            reports_dir: std::sync::Arc::from(reports_dir),
            sync_jobs: std::sync::Arc::new(crate::sync::scheduled::SyncJobs::default()),
        }
    }

    /// Facts changed through this process: wake the worker now rather than at its next
    /// poll of the journal (the journal itself is written by the database's triggers).
    pub fn mark_accrual_due(&self) {
        self.worker.wake();
    }
}

/// Seconds a client has to send a request's head (line and headers); 408 after.
pub const REQUEST_HEAD_SECONDS_MAX: u64 = 10;
/// Seconds a closing connection is given to shut down cleanly.
pub const DISCONNECT_SECONDS_MAX: u64 = 2;
/// Seconds an idle kept-alive connection stays open.
pub const KEEP_ALIVE_SECONDS: u64 = 30;
/// Connections one worker holds at once (actix's default is 25,000).
pub const CONNECTIONS_PER_WORKER_MAX: usize = 2_048;

/// Default number of items in a list answer, and the most a client may ask for.
pub const LIST_LIMIT_DEFAULT: i64 = 100;
pub const LIST_LIMIT_MAX: i64 = 1_000;

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|error, _| ApiError::invalid("query", format!("bad query string: {error}")).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|error, _| ApiError::invalid("path", format!("bad path: {error}")).into()),
    )
    .service(health::healthz)
    .service(health::readyz)
    .service(metrics::scrape)
    .service(openapi::openapi_json)
    .service(html::docs)
    .service(openapi::swagger_ui())
    .service(html::stylesheet)
    .service(html::home_page)
    .service(html::respond)
    .service(html::amend)
    .service(html::withdraw)
    .service(html::dashboard)
    .service(html::alert)
    .service(html::periods_page)
    .service(html::pay_run_step)
    .service(html::payroll)
    .service(html::accruals)
    .service(dashboard::login_form)
    .service(dashboard::login)
    .service(dashboard::logout)
    .service(
        web::scope("/v1")
            .service(teams::create)
            .service(teams::list)
            .service(teams::read)
            .service(teams::update)
            .service(people::create)
            .service(people::list)
            .service(people::read)
            .service(people::update)
            .service(people::responses)
            .service(people::versions)
            .service(policies::assign)
            .service(policies::assignments)
            .service(policies::statement)
            .service(policies::create)
            .service(policies::list)
            .service(policies::read)
            .service(services::create)
            .service(services::list)
            .service(services::read)
            .service(services::update)
            .service(shifts::create)
            .service(shifts::create_batch)
            .service(shifts::list)
            .service(ledger::accrue)
            .service(ledger::verify)
            .service(ledger::list_entries)
            .service(ledger::list_periods)
            .service(ledger::read_period)
            .service(periods::review)
            .service(periods::approve)
            .service(periods::reopen)
            .service(periods::close)
            .service(periods::adjust)
            .service(periods::read_settings)
            .service(periods::replace_settings)
            .service(ledger::audit)
            .service(pages::record)
            .service(pages::list)
            .service(pages::read)
            .service(pages::record_response)
            .service(pages::responses)
            .service(pages::approve)
            .service(pages::reject)
            .service(pages::amend)
            .service(pages::withdraw)
            .service(tokens::create)
            .service(tokens::list)
            .service(tokens::revoke)
            .service(webhooks::receive)
            .service(mappings::unmatched)
            .service(sync::status)
            .service(mappings::list)
            .service(mappings::create)
            .service(reports::payroll)
            .service(reports::accruals)
            .service(reports::changes)
            .service(rates::list)
            .service(rates::create)
            .service(rates::read_reporting)
            .service(rates::set_reporting)
            .service(dashboard::debt_report)
            .service(dashboard::health_report)
            .service(settings::read)
            .service(settings::replace),
    )
    .default_service(web::to(not_found));
}

async fn not_found(request: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::not_found(format!("no route for {} {}", request.method(), request.path())).error_response()
}

/// Who the audit log records for a write with no caller attached (never the case behind
/// the access middleware; kept for tools that call handlers directly).
pub const API_ACTOR: &str = "api";

/// The whole application: the access middleware in front of every route.
pub fn app(
    state: AppState,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .wrap(actix_web::middleware::from_fn(access::authorize))
        .wrap(actix_web::middleware::from_fn(metrics::record))
        .wrap(tracing_actix_web::TracingLogger::default())
        .app_data(web::Data::new(state))
        .configure(configure)
}

/// Parses a debt `group_by` (for the CLI, which shares the API's words).
pub fn dashboard_group_by(text: Option<&str>) -> Result<crate::domain::debt::GroupBy, ApiError> {
    dashboard::parse_group_by(text)
}

/// The current instant (`clock::now`), for handlers.
pub use crate::clock::now;

/// Runs storage work on a blocking thread with a pooled connection.
pub async fn with_conn<T, E, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: From<StorageError> + Into<ApiError> + Send + 'static,
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
{
    let store = state.store.clone();
    let span = tracing::Span::current();
    web::block(move || {
        let _entered = span.enter();
        let mut conn = store.conn().map_err(E::from)?;
        work(&mut conn)
    })
    .await
    .map_err(|error| {
        tracing::error!(error.cause = %error, "blocking task failed");
        ApiError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it was logged",
        )
    })?
    .map_err(Into::into)
}

/// Parses an optional timestamp query parameter, naming it on error.
pub fn query_instant(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let instant =
        value.map(|text| parse_rfc3339(text).map_err(|message| ApiError::invalid(field, message))).transpose()?;
    if let Some(instant) = instant {
        crate::domain::limits::check_instant(field, instant)?;
    }
    Ok(instant)
}

/// Checks a `limit` query parameter.
pub fn query_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(LIST_LIMIT_DEFAULT),
        Some(limit) if (1..=LIST_LIMIT_MAX).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::invalid("limit", format!("must be between 1 and {LIST_LIMIT_MAX}"))),
    }
}

/// An optional `[from, to)` pair.
pub type InstantRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Checks a `[from, to)` pair of query parameters.
pub fn query_range(from: Option<&str>, to: Option<&str>) -> Result<InstantRange, ApiError> {
    let from = query_instant("from", from)?;
    let to = query_instant("to", to)?;
    if let (Some(from), Some(to)) = (from, to)
        && to <= from
    {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    Ok((from, to))
}
