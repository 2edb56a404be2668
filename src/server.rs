//! The HTTP server: binds, logs every request, and drains in-flight requests on
//! SIGTERM / SIGINT (actix-web's signal handling) before exiting.

use std::net::TcpListener;

use actix_web::{HttpServer, dev::Server};

use crate::http::{self, AppState};
use crate::storage::Store;

/// Seconds a stopping server waits for in-flight requests to finish.
pub const SHUTDOWN_GRACE_SECONDS: u64 = 30;

/// Builds a server on an already bound listener (port 0 in tests picks a free port).
pub fn build(store: Store, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    build_with_state(AppState::new(store), listener, workers)
}

/// Builds a server and starts the accrual worker (`worker`): the ledger and the
/// dashboard's rollup follow the pay journal, whichever process changed the facts.
pub fn build_with_accrual(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    crate::worker::spawn(state.store.clone(), state.worker.clone());
    build_with_state(state, listener, workers)
}

fn build_with_state(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let server = HttpServer::new(move || http::app(state.clone()))
        .workers(workers)
        .shutdown_timeout(SHUTDOWN_GRACE_SECONDS)
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
