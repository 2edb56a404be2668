//! What an operator relies on (issue 21): `/metrics` and who may read it, the configuration
//! file and its errors, secrets never printed, a CLI that survives `| head`, `--version`,
//! and logs without colour escapes when they go to a file.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paydown::domain::role::Role;
use paydown::http::AppState;

use crate::helpers::{Backend, RunningServer, TestApp, TestDb, create_token};

fn paydown() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paydown"));
    for (_, variable) in paydown::config::ENVIRONMENT {
        command.env_remove(variable);
    }
    command.env_remove("PAYDOWN_CONFIG").env_remove("NO_COLOR").env("RUST_LOG", "info");
    command
}

/// One HTTP/1.1 GET; the status and the body as text.
fn get(address: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// The value of one series (`name{labels}`) in a scrape.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn metrics_count_requests_deliveries_and_the_journal(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let server = RunningServer::start(app.store.clone());
    let admin = app.admin_token.clone();
    let engineer = app.token(Role::Engineer, Some("alice"), &[]);
    let ingest = app.token(Role::Ingest, None, &[]);

    // Who may read it: an admin token; no token is 401, another role 403.
    assert_eq!(get(server.address, "/metrics", None).0, 401);
    assert_eq!(get(server.address, "/metrics", Some(&engineer)).0, 403);

    assert_eq!(get(server.address, "/v1/people/alice", Some(&admin)).0, 200);
    assert_eq!(get(server.address, "/v1/people/alice", Some(&admin)).0, 200);
    assert_eq!(get(server.address, "/v1/people/nobody", Some(&admin)).0, 404);
    assert_eq!(get(server.address, "/v1/teams", None).0, 401);
    assert_eq!(get(server.address, "/no/such/path", Some(&admin)).0, 404);
    let custom = crate::helpers::http_request(server.address, "BREW", "/v1/teams", "", Some(&admin));
    assert_eq!(custom.status, 405);
    let shift =
        r#"{"person": "alice", "role": "primary", "start": "2026-10-05T09:00:00Z", "end": "2026-10-06T09:00:00Z"}"#;
    assert_eq!(server.request("POST", "/v1/shifts", shift, &admin).status, 201);
    let body =
        std::fs::read(format!("{}/tests/samples/alertmanager/zulip/alert.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let body = String::from_utf8(body).unwrap();
    assert_eq!(server.request("POST", "/v1/webhooks/alertmanager", &body, &ingest).status, 202);
    assert_eq!(server.request("POST", "/v1/webhooks/alertmanager", &body, &engineer).status, 403);
    assert_eq!(crate::helpers::http_request(server.address, "POST", "/v1/webhooks/pagerduty", "{}", None).status, 401);
    assert_eq!(server.request("POST", "/v1/webhooks/alertmanager", "{\"version\": 4}", &ingest).status, 400);

    let (status, scrape) = get(server.address, "/metrics", Some(&admin));
    assert_eq!(status, 200, "{scrape}");
    let expect = |series: &str, value: f64| {
        assert_eq!(sample(&scrape, series), Some(value), "{series} in:\n{scrape}");
    };
    // Routes are their patterns, never the raw path (bounded label values).
    expect("paydown_http_requests_total{method=\"GET\",route=\"/v1/people/{id}\",status=\"200\"}", 2.0);
    expect("paydown_http_requests_total{method=\"GET\",route=\"/v1/people/{id}\",status=\"404\"}", 1.0);
    expect("paydown_http_requests_total{method=\"GET\",route=\"/v1/teams\",status=\"401\"}", 1.0);
    expect("paydown_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}", 1.0);
    expect("paydown_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"403\"}", 1.0);
    expect("paydown_http_requests_total{method=\"other\",route=\"/v1/teams\",status=\"405\"}", 1.0);
    expect("paydown_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/people/{id}\"}", 3.0);
    expect("paydown_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/people/{id}\",le=\"+Inf\"}", 3.0);
    assert!(!scrape.contains("/v1/people/alice") && !scrape.contains("nobody"), "{scrape}");
    expect("paydown_webhook_deliveries_total{source=\"alertmanager\",outcome=\"recorded\"}", 1.0);
    expect("paydown_webhook_deliveries_total{source=\"alertmanager\",outcome=\"unauthenticated\"}", 1.0);
    expect("paydown_webhook_deliveries_total{source=\"alertmanager\",outcome=\"invalid\"}", 1.0);
    expect("paydown_webhook_deliveries_total{source=\"pagerduty\",outcome=\"unauthenticated\"}", 1.0);

    // No worker runs in this server: the journal keeps what the shift changed, and the
    // scrape shows the same figures the database holds.
    let (rows, oldest) = {
        let mut conn = app.store.conn().unwrap();
        paydown::storage::journal::backlog(&mut conn).unwrap()
    };
    assert!(rows >= 1, "the shift journals alice");
    expect("paydown_pay_journal_rows", rows as f64);
    let lag = sample(&scrape, "paydown_accrual_lag_seconds").unwrap();
    let age = (paydown::http::now() - oldest.unwrap()).num_milliseconds() as f64 / 1000.0;
    assert!(lag > 0.0 && lag <= age + 0.001, "lag {lag} s, oldest row {age} s old");
    expect("paydown_database_up", 1.0);
    expect("paydown_db_pool_max_connections", 8.0);
    assert!(sample(&scrape, "paydown_db_pool_connections").unwrap() >= 1.0, "{scrape}");
    assert!(sample(&scrape, "paydown_rollup_dirty_days").unwrap() >= 1.0, "the deliveries dirtied their days");
    expect("paydown_worker_running", 0.0);
    expect("paydown_worker_passes_total", 0.0);
    expect("paydown_worker_failures_total", 0.0);
    assert!(scrape.contains("# TYPE paydown_http_request_duration_seconds histogram"), "{scrape}");
}

async fn the_worker_reports_its_passes_and_the_rollup_lag(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let server = RunningServer::start_with_worker(app.store.clone());
    let admin = app.admin_token.clone();
    let shift =
        r#"{"person": "alice", "role": "primary", "start": "2026-10-05T09:00:00Z", "end": "2026-10-06T09:00:00Z"}"#;
    assert_eq!(server.request("POST", "/v1/shifts", shift, &admin).status, 201);
    let started = Instant::now();
    let scrape = loop {
        let (status, scrape) = get(server.address, "/metrics", Some(&admin));
        assert_eq!(status, 200);
        let priced = sample(&scrape, "paydown_pay_journal_rows") == Some(0.0);
        // The rollup refreshes in a thread of its own: its first refresh may end after the
        // accrual's first pass.
        let rolled_up = sample(&scrape, "paydown_rollup_lag_seconds").is_some();
        if priced && rolled_up && sample(&scrape, "paydown_worker_passes_total").is_some_and(|passes| passes >= 1.0) {
            break scrape;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the worker did not catch up:\n{scrape}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(sample(&scrape, "paydown_worker_running"), Some(1.0));
    assert_eq!(sample(&scrape, "paydown_accrual_lag_seconds"), Some(0.0));
    assert_eq!(sample(&scrape, "paydown_worker_failures_total"), Some(0.0));
    let rollup_lag = sample(&scrape, "paydown_rollup_lag_seconds").expect("the rollup was refreshed");
    assert!((0.0..30.0).contains(&rollup_lag), "{rollup_lag}");
}

crate::on_both_backends!(
    metrics_count_requests_deliveries_and_the_journal,
    the_worker_reports_its_passes_and_the_rollup_lag
);

/// `metrics_listen`: `/metrics` without a token on its own address, and nothing else there.
#[test]
fn the_metrics_address_serves_metrics_alone_without_a_token() {
    let db = TestDb::new(Backend::Sqlite);
    let store = db.store();
    let admin = create_token(&store, Role::Admin, None, &[]);
    let state = AppState::new(store);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = paydown::server::build_metrics(state, listener).expect("metrics server");
            sender.send(server.handle()).expect("send handle");
            server.await.expect("metrics server run");
        });
    });
    let handle = receiver.recv().unwrap();
    let (status, scrape) = get(address, "/metrics", None);
    assert_eq!(status, 200, "{scrape}");
    assert_eq!(sample(&scrape, "paydown_database_up"), Some(1.0), "{scrape}");
    assert_eq!(get(address, "/v1/teams", Some(&admin)).0, 404, "the API is not on the metrics address");
    assert_eq!(get(address, "/healthz", None).0, 404);
    std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(true))).join().unwrap();
    thread.join().unwrap();
}

/// The real binary from a configuration file: both addresses answer, logs piped to a file
/// carry no colour escapes, and SIGTERM stops both servers.
#[test]
fn serve_reads_its_configuration_file_and_logs_without_colour() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = std::env::temp_dir().join(format!("paydown-config-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let config = dir.join("paydown.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n[database]\nurl = \"{}\"\npool_size = 4\n[worker]\njournal_poll_ms = 100\n",
            db.url
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("paydown.log")).unwrap();
    let mut child = paydown()
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let metrics: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let started = Instant::now();
    while TcpStream::connect(metrics).is_err() || TcpStream::connect(address).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(address, "/readyz", None).0, 200);
    assert_eq!(get(address, "/metrics", None).0, 401, "on the API's address /metrics needs a token");
    let (status, scrape) = get(metrics, "/metrics", None);
    assert_eq!(status, 200);
    assert_eq!(sample(&scrape, "paydown_db_pool_max_connections"), Some(4.0), "{scrape}");
    assert_eq!(sample(&scrape, "paydown_worker_running"), Some(1.0), "{scrape}");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stopping.elapsed() < Duration::from_secs(35), "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    assert!(stdout.contains(&format!("metrics (no token): http://127.0.0.1:{metrics_port}/metrics")), "{stdout}");
    let logs = std::fs::read_to_string(dir.join("paydown.log")).unwrap();
    assert!(logs.contains("paydown listening"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "escape sequences in a log file: {logs:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configuration_errors_name_the_key_and_stop_the_server() {
    let dir = std::env::temp_dir().join(format!("paydown-config-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cases = [
        ("pool.toml", "[database]\npool_size = 0\n", "database.pool_size: 0 is out of range"),
        ("typo.toml", "lissten = \"127.0.0.1:1\"\n", "lissten: unknown field"),
        ("type.toml", "[worker]\nstuck_after_seconds = \"soon\"\n", "worker.stuck_after_seconds: invalid type"),
        ("ingest.toml", "[ingest.sources.pagerdooty]\n", "ingest: unknown source `pagerdooty`"),
    ];
    for (name, text, expected) in cases {
        let file = write(name, text);
        let checked = paydown().args(["config", "check", &file]).output().unwrap();
        assert_eq!(checked.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&checked.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let served = paydown().args(["serve", "--config", &file]).output().unwrap();
        assert_eq!(served.status.code(), Some(1), "{name}");
        assert!(String::from_utf8_lossy(&served.stderr).contains(expected), "{name}");
    }
    // The environment overrides the file, and is checked the same way.
    let fine = write("fine.toml", "listen = \"127.0.0.1:0\"\n");
    let output = paydown().args(["config", "check", &fine]).env("PAYDOWN_LISTEN", "x").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("listen: invalid socket address \"x\""));
    // And a flag overrides both.
    let output = paydown().args(["serve", "--config", &fine, "--listen", "nowhere"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("listen: invalid socket address \"nowhere\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_check_prints_the_effective_configuration_without_secrets() {
    let dir = std::env::temp_dir().join(format!("paydown-config-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("paydown.toml");
    std::fs::write(
        &file,
        "[database]\nurl = \"postgres://paydown:db-pass-41@db:5432/paydown\"\n[ingest.sources.pagerduty]\nhmac_secrets = [\"hmac-secret-42\"]\n[ingest.sync.pagerduty]\ntoken = \"api-key-43\"\n",
    )
    .unwrap();
    let output = paydown()
        .args(["config", "check", file.to_str().unwrap()])
        .env("PAYDOWN_WORKER_FAILURES_UNREADY", "5")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    for secret in ["db-pass-41", "hmac-secret-42", "api-key-43"] {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("url = \"postgres://paydown:***@db:5432/paydown\""), "{stdout}");
    assert!(stdout.contains("hmac_secrets = [\"[redacted]\"]"), "{stdout}");
    assert!(stdout.contains("token = \"[redacted]\""), "{stdout}");
    assert!(stdout.contains("failures_unready = 5"), "the environment's value is the effective one: {stdout}");
    // The printed configuration is itself a valid configuration file.
    let reprinted = dir.join("printed.toml");
    std::fs::write(&reprinted, stdout.as_bytes()).unwrap();
    let again = paydown().args(["config", "check", reprinted.to_str().unwrap()]).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    // --help never shows the value of DATABASE_URL, which may hold a password.
    let help = paydown().args(["serve", "--help"]).env("DATABASE_URL", "postgres://u:db-pass-44@h/d").output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("db-pass-44"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `paydown report debt | head`: the reader closed the pipe before the command wrote; the
/// command ends quietly with status 0, no panic.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let db = TestDb::new(Backend::Sqlite);
    for args in [vec!["report", "debt"], vec!["periods", "list"], vec!["migrate"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = paydown()
            .args(&args)
            .args(["--database-url", &db.url])
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
    // Except where the output is the only copy: a token's secret that could not be printed
    // is an error saying what to do.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = paydown()
        .args(["token", "create", "--role", "admin", "--name", "lost", "--database-url", &db.url])
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("printing the secret failed") && stderr.contains("revoke token"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn version_and_help_answer() {
    let version = paydown().arg("--version").output().unwrap();
    assert!(version.status.success());
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("paydown {}", env!("CARGO_PKG_VERSION")));
    let help = paydown().args(["import", "shifts", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("End of that window"), "{help}");
    let serve = paydown().args(["serve", "--help"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&serve.stdout).contains("ingest::"));
}
