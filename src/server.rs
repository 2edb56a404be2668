//! The HTTP server: binds, logs every request, and drains in-flight requests on
//! SIGTERM / SIGINT (actix-web's signal handling) before exiting.

use std::net::TcpListener;

use actix_web::{HttpServer, dev::Server};

use crate::http::{self, AppState};
use crate::storage::Store;

/// Seconds a stopping server waits for in-flight requests to finish.
pub const SHUTDOWN_GRACE_SECONDS: u64 = 30;

/// How often the accrual worker looks for changed facts.
pub const ACCRUAL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Builds a server on an already bound listener (port 0 in tests picks a free port).
pub fn build(store: Store, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    build_with_state(AppState::new(store), listener, workers)
}

/// Builds a server and starts the accrual worker: after facts change, the ledger (and the
/// dashboard's rollup) is brought up to date within `ACCRUAL_INTERVAL` (several servers
/// serialise on a lock).
pub fn build_with_accrual(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    spawn_accrual_worker(state.clone());
    build_with_state(state, listener, workers)
}

fn spawn_accrual_worker(state: AppState) {
    let spawned = std::thread::Builder::new().name("accrual".into()).spawn(move || {
        loop {
            if state.accrual_due.swap(false, std::sync::atomic::Ordering::SeqCst) {
                let result = state
                    .store
                    .conn()
                    .map_err(crate::ledger::LedgerError::from)
                    .and_then(|mut conn| crate::ledger::accrue(&mut conn, "accrual-worker", crate::http::now()));
                match result {
                    Ok(report) => tracing::info!(
                        accrual.run = %report.run_id,
                        accrual.lines_posted = report.lines_posted,
                        accrual.reversals_posted = report.reversals_posted,
                        accrual.adjustments_posted = report.adjustments_posted,
                        "accrual finished"
                    ),
                    Err(error) => {
                        tracing::error!(error.cause = %error, "accrual failed; retrying later");
                        state.mark_accrual_due();
                    }
                }
            }
            // The dashboard's rollup: recompute the days whose facts changed (a read would
            // otherwise do it first), after the accrual so re-priced lines are in.
            match state.store.conn().and_then(|mut conn| crate::rollup::refresh_all(&mut conn)) {
                Ok(0) => {}
                Ok(days) => tracing::info!(rollup.days = days, "dashboard rollup refreshed"),
                Err(error) => tracing::error!(error.cause = %error, "dashboard rollup refresh failed; retrying later"),
            }
            std::thread::sleep(ACCRUAL_INTERVAL);
        }
    });
    if let Err(error) = spawned {
        tracing::error!(error.cause = %error, "could not start the accrual worker");
    }
}

fn build_with_state(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    use std::time::Duration;
    let server = HttpServer::new(move || http::app(state.clone()))
        .workers(workers)
        .shutdown_timeout(SHUTDOWN_GRACE_SECONDS)
        // Slow clients (issue 17): a request's head must arrive in time (408 after), an idle
        // kept-alive connection is closed, a closing one gets a moment to say goodbye, and a
        // worker holds a bounded number of connections. Bodies have their own time limit
        // (`http::extract::BODY_SECONDS_MAX`).
        .client_request_timeout(Duration::from_secs(http::REQUEST_HEAD_SECONDS_MAX))
        .client_disconnect_timeout(Duration::from_secs(http::DISCONNECT_SECONDS_MAX))
        .keep_alive(Duration::from_secs(http::KEEP_ALIVE_SECONDS))
        .max_connections(http::CONNECTIONS_PER_WORKER_MAX)
        .listen(listener)?
        .run();
    Ok(server)
}

/// Logs to stderr; `RUST_LOG` filters (default `info`), `PAYDOWN_LOG_FORMAT=json` for JSON lines.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if std::env::var("PAYDOWN_LOG_FORMAT").is_ok_and(|format| format == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second initialisation (tests) keeps the first subscriber.
    drop(result);
}
