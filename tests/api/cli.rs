//! The real binary: `migrate`, `serve` with graceful shutdown, and a bad URL.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Backend, TestDb, http_request};

fn paydown() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paydown"));
    command.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    command
}

#[test]
fn migrate_applies_the_migrations_of_each_backend() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let output = paydown().args(["migrate", "--database-url", &db.url]).output().unwrap();
        assert!(output.status.success(), "{backend:?}: {}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("database is up to date"), "{stdout}");
        // Run again: nothing left to apply.
        let again = paydown().args(["migrate", "--database-url", &db.url]).output().unwrap();
        assert!(!String::from_utf8_lossy(&again.stdout).contains("applied"));
    }
}

/// A pool that opened spare connections on a background thread made about one command
/// in six die of SIGSEGV at exit on PostgreSQL: libpq's TLS setup raced OpenSSL's exit
/// handlers. Every run must end with its own exit status, never a signal.
#[test]
fn commands_exit_with_a_status_never_a_signal() {
    use std::os::unix::process::ExitStatusExt;
    let db = TestDb::new(Backend::Postgres);
    for run in 0..30 {
        let output = paydown().args(["migrate", "--database-url", &db.url]).output().unwrap();
        assert_eq!(
            (output.status.code(), output.status.signal()),
            (Some(0), None),
            "run {run}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let output = paydown().args(["migrate", "--database-url", "mysql://localhost/pay"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL scheme"), "{stderr}");
    let output = paydown().args(["migrate", "--database-url", "postgres://nobody@127.0.0.1:1/none"]).output().unwrap();
    assert!(!output.status.success());
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let db = TestDb::new(Backend::Sqlite);
    // The first admin token comes from the CLI; its secret is printed once.
    let created = paydown()
        .args(["token", "create", "--role", "admin", "--name", "first admin", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let stdout = String::from_utf8_lossy(&created.stdout).into_owned();
    // Issue 17: the secret is on a line of its own, and is all standard output holds.
    let secret = stdout.trim_end_matches('\n').to_owned();
    assert!(
        secret.starts_with("pdt_") && secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "{stdout:?}"
    );
    assert!(String::from_utf8_lossy(&created.stderr).contains("store it now"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = paydown()
        .args(["serve", "--listen", &address.to_string(), "--database-url", &format!("sqlite://{}", db.url)])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if std::net::TcpStream::connect(address).is_ok() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http_request(address, "GET", "/readyz", "", None).status, 200);
    let page = r#"{"source": "manual", "external_id": "CLI-1", "service": "checkout", "triggered_at": "2026-10-03T02:14:00Z"}"#;
    assert_eq!(http_request(address, "POST", "/v1/pages", page, None).status, 401);
    assert_eq!(http_request(address, "POST", "/v1/pages", page, Some(&secret)).status, 201);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
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
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(stdout.contains("paydown listening on"), "{stdout}");
    assert!(stdout.contains("paydown stopped"), "{stdout}");
    // What was recorded before the stop is there after it.
    let store = db.store();
    let mut conn = store.conn().unwrap();
    let pages = paydown::storage::pages::list(
        &mut conn,
        &paydown::storage::pages::PageFilter { limit: 10, ..Default::default() },
    )
    .unwrap();
    assert_eq!(pages.len(), 1);
}
