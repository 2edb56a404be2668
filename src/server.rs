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

/// Builds the server of the `metrics_listen` address: `/metrics` alone, no token, one
/// worker (a scrape every few seconds needs no more).
pub fn build_metrics(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let server = HttpServer::new(move || http::metrics::metrics_only_app(state.clone()))
        .workers(1)
        .shutdown_timeout(SHUTDOWN_GRACE_SECONDS)
        .listen(listener)?
        .run();
    Ok(server)
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
/// Colours only when stderr is a terminal and `NO_COLOR` is unset: logs sent to a file or a
/// journal carry no escape sequences.
pub fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    let result = if std::env::var("PAYDOWN_LOG_FORMAT").is_ok_and(|format| format == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second initialisation (tests) keeps the first subscriber.
    drop(result);
}
