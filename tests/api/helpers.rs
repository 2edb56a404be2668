//! Test harness: a fresh database per test on each backend, the real app in process,
//! and a real server on a free port for tests that need several clients.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use actix_web::dev::Service;
use actix_web::test;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use paydown::domain::role::Role;
use paydown::http::AppState;
use paydown::storage::Store;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// PostgreSQL server the tests create their databases on.
pub fn postgres_base_url() -> String {
    std::env::var("PAYDOWN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// Checks once per process that the test PostgreSQL answers, and otherwise fails with one
/// message saying what is missing and how to get it (under nextest, the `postgres` setup
/// script of `.config/nextest.toml` says it once before any test runs).
pub fn require_postgres() {
    static REACHABLE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let reachable = REACHABLE.get_or_init(|| {
        PgConnection::establish(&format!("{}/postgres", postgres_base_url()))
            .map(drop)
            .map_err(|error| error.to_string())
    });
    if let Err(error) = reachable {
        panic!(
            "PostgreSQL is needed for this test and does not answer at {} ({}). Start one \
             (`docker compose --profile test up -d test-postgres`, or the distribution's \
             `postgresql` package with trust auth for 127.0.0.1), or set PAYDOWN_TEST_POSTGRES_URL; \
             SQLite tests alone: `cargo nextest run sqlite`. See README, Developing.",
            postgres_base_url(),
            error.trim()
        );
    }
}

/// Fails with one message naming `program` and how to get it when it cannot be run.
pub fn require_program(program: &str, how: &str) {
    let runs = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(runs, "`{program}` is needed and could not be run: {how}");
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    name: String,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        let name = format!("paydown_test_{}", uuid::Uuid::new_v4().simple());
        let url = match backend {
            Backend::Sqlite => std::env::temp_dir().join(format!("{name}.db")).display().to_string(),
            Backend::Postgres => {
                require_postgres();
                let mut admin = PgConnection::establish(&format!("{}/postgres", postgres_base_url()))
                    .expect("connecting to the test PostgreSQL");
                admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
                format!("{}/{name}", postgres_base_url())
            }
        };
        TestDb { url, backend, name }
    }

    pub fn store(&self) -> Store {
        Store::open_with_pool_size(&self.url, 8).expect("open test store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self.backend {
            Backend::Sqlite => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.url));
                }
            }
            Backend::Postgres => {
                if let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", postgres_base_url())) {
                    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
                }
            }
        }
    }
}

/// The real app, in process, on a fresh database, with an admin and a finance token.
pub struct TestApp {
    /// Webhook secrets and mapping the app runs with.
    pub ingest: paydown::ingest::config::IngestConfig,
    pub admin_token: String,
    pub finance_token: String,
    /// Kept so the database lives as long as the app.
    _db: TestDb,
    pub store: Store,
}

/// A response as tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The `field` of an error body.
    pub fn error_field(&self) -> Option<&str> {
        self.body["error"]["field"].as_str()
    }

    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
}

impl TestApp {
    pub fn new(backend: Backend) -> TestApp {
        let db = TestDb::new(backend);
        let store = db.store();
        let admin_token = create_token(&store, Role::Admin, None, &[]);
        let finance_token = create_token(&store, Role::Finance, None, &[]);
        TestApp { ingest: Default::default(), admin_token, finance_token, _db: db, store }
    }

    /// The URL of the app's database, for driving the CLI against it.
    pub fn database_url(&self) -> String {
        self._db.url.clone()
    }

    /// A token of `role` (an engineer's bound to `person`, a manager's to `teams`).
    pub fn token(&self, role: Role, person: Option<&str>, teams: &[&str]) -> String {
        create_token(&self.store, role, person, teams)
    }

    /// The token tests use when they do not say: finance for pay, admin otherwise.
    fn default_token(&self, path: &str) -> &str {
        let pay = path.contains("/statement") || path.starts_with("/v1/ledger") || path.starts_with("/v1/periods");
        if pay { &self.finance_token } else { &self.admin_token }
    }

    /// A request with an explicit bearer token (`None`: no header at all).
    pub async fn call_as(&self, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> Reply {
        let mut request = match method {
            "GET" => test::TestRequest::get(),
            "POST" => test::TestRequest::post(),
            "PATCH" => test::TestRequest::patch(),
            other => test::TestRequest::default().method(other.parse().unwrap()),
        }
        .uri(path);
        if let Some(body) = body {
            request = request.insert_header(("content-type", "application/json")).set_payload(body.to_string());
        }
        if let Some(token) = token {
            request = request.insert_header(("authorization", format!("Bearer {token}")));
        }
        self.send(request).await
    }

    async fn call(&self, request: test::TestRequest, path: &str) -> Reply {
        let token = self.default_token(path).to_owned();
        self.send(request.insert_header(("authorization", format!("Bearer {token}")))).await
    }

    /// A POST with the given headers and no token added (webhooks).
    pub async fn post_with_headers(&self, path: &str, body: &[u8], headers: &[(&str, String)]) -> Reply {
        let mut request = test::TestRequest::post().uri(path).set_payload(body.to_vec());
        for (name, value) in headers {
            request = request.insert_header((*name, value.clone()));
        }
        self.send(request).await
    }

    /// A request exactly as given: no token added.
    pub async fn send_raw(&self, request: test::TestRequest) -> Reply {
        self.send(request).await
    }

    async fn send(&self, request: test::TestRequest) -> Reply {
        let state = AppState::with_ingest(self.store.clone(), self.ingest.clone());
        let app = test::init_service(paydown::http::app(state)).await;
        let response = app.call(request.to_request()).await.expect("service call");
        let status = response.status().as_u16();
        let bytes = test::read_body(response).await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply { status, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(test::TestRequest::get().uri(path), path).await
    }

    pub async fn get_with_accept(&self, path: &str, accept: &str) -> Reply {
        self.call(test::TestRequest::get().uri(path).insert_header(("accept", accept.to_owned())), path).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.post_raw(path, body.to_string().into_bytes()).await
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Reply {
        self.call(
            test::TestRequest::post().uri(path).insert_header(("content-type", "application/json")).set_payload(body),
            path,
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(
            test::TestRequest::put()
                .uri(path)
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string()),
            path,
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(
            test::TestRequest::patch()
                .uri(path)
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string()),
            path,
        )
        .await
    }

    /// The pay run's two steps as the finance token (four-eyes is off by default):
    /// approve, then close. Answers the first refusal, else the close.
    pub async fn approve_and_close(&self, period: &str) -> Reply {
        let approved =
            self.post(&format!("/v1/periods/{period}/approve"), serde_json::json!({"reason": "reviewed"})).await;
        if approved.status != 200 {
            return approved;
        }
        self.post(&format!("/v1/periods/{period}/close"), serde_json::json!({"reason": "payroll sent"})).await
    }

    /// A team `payments`, a person `alice` in Europe/London, and a service `checkout`.
    pub async fn seed_basics(&self) {
        assert_eq!(
            self.post("/v1/teams", serde_json::json!({"id": "payments", "name": "Payments", "cost_centre": "CC-4100"}))
                .await
                .status,
            201
        );
        let alice = serde_json::json!({"id": "alice", "name": "Alice", "email": "alice@example.com",
            "payroll_id": "E-1001", "team": "payments", "timezone": "Europe/London", "currency": "GBP"});
        assert_eq!(self.post("/v1/people", alice).await.status, 201);
        assert_eq!(
            self.post("/v1/services", serde_json::json!({"id": "checkout", "name": "Checkout", "team": "payments"}))
                .await
                .status,
            201
        );
    }
}

/// A real server on a free loopback port, stopped when dropped.
pub struct RunningServer {
    pub address: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    pub fn start(store: Store) -> RunningServer {
        RunningServer::start_on(store, false)
    }

    /// A server with its accrual worker running, as `paydown serve` starts it.
    pub fn start_with_worker(store: Store) -> RunningServer {
        RunningServer::start_on(store, true)
    }

    fn start_on(store: Store, worker: bool) -> RunningServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = if worker {
                    paydown::server::build_with_accrual(AppState::new(store), listener, 4).expect("server")
                } else {
                    paydown::server::build(store, listener, 4).expect("server")
                };
                sender.send(server.handle()).expect("send handle");
                server.await.expect("server run");
            });
        });
        let handle = receiver.recv().expect("server handle");
        RunningServer { address, handle, thread: Some(thread) }
    }

    /// A blocking HTTP/1.1 request on a new connection, as an independent client would.
    pub fn request(&self, method: &str, path: &str, body: &str, token: &str) -> Reply {
        http_request(self.address, method, path, body, Some(token))
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ = std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(true))).join();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the whole answer.
pub fn http_request(address: SocketAddr, method: &str, path: &str, body: &str, token: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(address).expect("connect");
    let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body_text = text.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or_default();
    let body = serde_json::from_str(body_text).unwrap_or(Value::Null);
    Reply { status, body }
}

/// Runs an async test body once per backend, as two named tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[actix_web::test]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// Creates a token directly in storage (as `paydown token create` does).
pub fn create_token(store: &Store, role: Role, person: Option<&str>, teams: &[&str]) -> String {
    let mut conn = store.conn().expect("connection");
    let new = paydown::storage::tokens::NewToken {
        name: format!("test {}", role.as_str()),
        role,
        person: person.map(str::to_owned),
        teams: teams.iter().map(|team| (*team).to_owned()).collect(),
        expires_at: None,
    };
    let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
    paydown::storage::tokens::create(&mut conn, &new, &stamp).expect("create token").1
}

/// Creates the EUR pay policy `policy` (the defaults, from `from`) and, on it, one person
/// per id in Europe/Berlin, written straight to storage: a ledger without the HTTP API.
pub fn people_on_a_policy(
    conn: &mut paydown::storage::AnyConnection,
    policy: &str,
    ids: &[&str],
    from: chrono::NaiveDate,
) {
    let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
    let currency: paydown::domain::currency::Currency = "EUR".parse().unwrap();
    let version = paydown::domain::policy::PayPolicy::with_defaults(policy, 1, from, currency);
    paydown::storage::policies::create_version(conn, &version, &stamp).unwrap();
    for id in ids {
        let person = paydown::storage::people::NewPerson {
            id: (*id).into(),
            name: format!("Person {id}"),
            email: format!("{id}@example.com"),
            payroll_id: format!("E-{}", id.to_uppercase()),
            team: None,
            timezone: "Europe/Berlin".parse().unwrap(),
            currency,
            loaded_hourly_cost: None,
            working_hours: Default::default(),
            holiday_calendar: None,
        };
        paydown::storage::people::create(conn, &person, &stamp).unwrap();
        paydown::storage::policies::assign(conn, id, policy, from, &stamp).unwrap();
    }
}
