//! HTTP load: page deliveries to a real `paydown serve` on loopback, with 20 % exact
//! duplicates and 10 % out of order, on SQLite (a temporary file) and PostgreSQL (a fresh
//! database on `PAYDOWN_TEST_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432;
//! skipped with a message when it does not answer).
//!
//! For each backend: a directory (team, people, services, a pay policy assigned to every
//! person, so that the accrual worker prices the acknowledged pages while the load runs),
//! then a deterministic stream of trigger / acknowledge / resolve deliveries of N pages
//! sent by C keep-alive connections. Prints requests/s, p50/p90/p99/max latency and the
//! status counts, then checks the end state through the API: exactly N pages, each as
//! its deliveries make it, with as many deliveries as were sent, and N `201 Created`.
//!
//! Run: `cargo bench --bench load`. Environment:
//! `PAYDOWN_LOAD_PAGES` (20000), `PAYDOWN_LOAD_CONNECTIONS` (16), `PAYDOWN_LOAD_SEED` (9),
//! `PAYDOWN_LOAD_BACKENDS` (`sqlite,postgres`), `PAYDOWN_LOAD_WORKERS` (server workers,
//! default the number of cores), `RUST_LOG` for the server (default `warn`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{Value, json};

const PEOPLE: [&str; 5] = ["alice", "ben", "chidi", "dana", "emeka"];
const SERVICES: [&str; 5] = ["checkout", "ledger-db", "search-api", "k8s-cluster", "kafka"];
/// Fraction of all requests that repeat an earlier request byte for byte (1 in 5).
const DUPLICATE_EVERY: usize = 4;
/// Percentage of acknowledge and resolve deliveries sent before their page's trigger:
/// they are 6 in 11 of the originals, the originals 4 in 5 of all requests, so 23 %
/// of them makes 10 % of all requests out of order.
const EARLY_PERCENT: u64 = 23;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn main() {
    let pages: usize = env_or("PAYDOWN_LOAD_PAGES", 20_000);
    let connections: usize = env_or("PAYDOWN_LOAD_CONNECTIONS", 16);
    let seed: u64 = env_or("PAYDOWN_LOAD_SEED", 9);
    let backends: String = env_or("PAYDOWN_LOAD_BACKENDS", "sqlite,postgres".to_owned());
    let stream = Stream::generate(pages, seed);
    println!(
        "load: {pages} pages, {} requests ({} originals, {} exact duplicates, {} out of order), {connections} connections, seed {seed}",
        stream.requests.len(),
        stream.requests.len() - stream.duplicates,
        stream.duplicates,
        stream.out_of_order
    );
    let dir = std::env::temp_dir().join(format!("paydown-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for backend in backends.split(',').map(str::trim) {
        match backend {
            "sqlite" => {
                let url = dir.join("load.db").display().to_string();
                run("sqlite", &url, &stream, connections);
            }
            "postgres" => {
                let base = std::env::var("PAYDOWN_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
                let name = format!("paydown_load_{}", std::process::id());
                match PgConnection::establish(&format!("{base}/postgres")) {
                    Ok(mut admin) => {
                        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
                        run("postgres", &format!("{base}/{name}"), &stream, connections);
                        admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
                    }
                    Err(error) => println!("load: postgres skipped ({error})"),
                }
            }
            other => panic!("unknown backend `{other}` in PAYDOWN_LOAD_BACKENDS: sqlite or postgres"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What one page must look like once every delivery arrived.
#[derive(Debug, Clone)]
struct Expected {
    triggered_at: DateTime<Utc>,
    acknowledged: Option<(DateTime<Utc>, &'static str)>,
    resolved_at: Option<DateTime<Utc>>,
    deliveries: usize,
}

/// The requests to send, in order, and what the pages must end as.
struct Stream {
    /// (external id, JSON body)
    requests: Vec<(usize, String)>,
    expected: Vec<Expected>,
    duplicates: usize,
    out_of_order: usize,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Stream {
    /// Pages one minute apart from 2026-01-01: 20 % only triggered, 40 % triggered and
    /// resolved, 40 % triggered, acknowledged by a person and resolved.
    fn generate(pages: usize, seed: u64) -> Stream {
        let mut rng = Rng(seed);
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        // (sort key in seconds, page, body)
        let mut events: Vec<(i64, usize, String)> = Vec::new();
        let mut expected = Vec::with_capacity(pages);
        let mut out_of_order = 0;
        for page in 0..pages {
            let triggered = start + chrono::Duration::seconds(i64::try_from(page).unwrap() * 61);
            let service = SERVICES[page % SERVICES.len()];
            let person = PEOPLE[(page / 3) % PEOPLE.len()];
            let kind = rng.below(10);
            let acknowledged = (kind >= 6).then(|| (triggered + chrono::Duration::seconds(90), person));
            let resolved = (kind >= 2).then(|| triggered + chrono::Duration::seconds(600 + 60 * (page as i64 % 50)));
            let base = json!({"source": "load", "external_id": format!("L-{page}"), "service": service,
                "title": format!("Alert {} on {service}", page % 97), "alert_key": format!("alert-{}", page % 97),
                "triggered_at": rfc3339(triggered)});
            let mut moments = vec![(triggered, base.clone())];
            if let Some((at, by)) = acknowledged {
                let mut body = base.clone();
                body["acknowledged_at"] = json!(rfc3339(at));
                body["acknowledged_by"] = json!(by);
                moments.push((at, body));
            }
            if let Some(at) = resolved {
                let mut body = base.clone();
                body["resolved_at"] = json!(rfc3339(at));
                if let Some((acked, by)) = acknowledged {
                    body["acknowledged_at"] = json!(rfc3339(acked));
                    body["acknowledged_by"] = json!(by);
                }
                moments.push((at, body));
            }
            expected.push(Expected {
                triggered_at: triggered,
                acknowledged,
                resolved_at: resolved,
                deliveries: moments.len(),
            });
            for (index, (at, body)) in moments.into_iter().enumerate() {
                // A later moment of the page delivered before its trigger.
                let early = index > 0 && rng.below(100) < EARLY_PERCENT;
                let key = if early {
                    out_of_order += 1;
                    triggered.timestamp() - 1 - i64::try_from(rng.below(600)).unwrap()
                } else {
                    at.timestamp()
                };
                events.push((key, page, body.to_string()));
            }
        }
        events.sort_by_key(|(key, page, _)| (*key, *page));
        let mut requests = Vec::with_capacity(events.len() * 5 / 4 + 1);
        let mut duplicates = 0;
        for (index, (_, page, body)) in events.into_iter().enumerate() {
            requests.push((page, body));
            if index % DUPLICATE_EVERY == DUPLICATE_EVERY - 1 {
                // An exact repeat of one of the last 200 requests, sent right after it.
                let back = usize::try_from(rng.below(200)).unwrap().min(requests.len() - 1);
                let repeated = requests[requests.len() - 1 - back].clone();
                expected[repeated.0].deliveries += 1;
                requests.push(repeated);
                duplicates += 1;
            }
        }
        Stream { requests, expected, duplicates, out_of_order }
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Client {
    address: SocketAddr,
    reader: Option<BufReader<TcpStream>>,
    reconnects: usize,
}

impl Client {
    fn new(address: SocketAddr) -> Client {
        Client { address, reader: None, reconnects: 0 }
    }

    /// Sends a request and returns (status, body); reconnects once if the server had
    /// closed an idle connection before the request was read.
    fn request(&mut self, method: &str, path: &str, token: &str, body: &str) -> (u16, Vec<u8>) {
        let message = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.address,
            body.len()
        );
        for attempt in 0..2 {
            if self.reader.is_none() {
                let stream = TcpStream::connect(self.address).expect("connect");
                stream.set_nodelay(true).unwrap();
                self.reader = Some(BufReader::new(stream));
                if attempt > 0 {
                    self.reconnects += 1;
                }
            }
            let reader = self.reader.as_mut().unwrap();
            if reader.get_mut().write_all(message.as_bytes()).is_err() {
                self.reader = None;
                continue;
            }
            match read_response(reader) {
                Some(answer) => return answer,
                None => self.reader = None,
            }
        }
        panic!("{method} {path}: the server closed the connection twice");
    }
}

/// Reads one response; `None` when the connection closed before its status line.
fn read_response(reader: &mut BufReader<TcpStream>) -> Option<(u16, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status: u16 = line.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("status line");
    let mut length = 0;
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').expect("header line");
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().expect("content-length"),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            body.extend_from_slice(&chunk[..size]);
            if size == 0 {
                break;
            }
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).expect("body");
    }
    Some((status, body))
}

/// `paydown serve` on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(url: &str) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_paydown"));
        command
            .args(["serve", "--listen", &address.to_string(), "--database-url", url])
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Ok(workers) = std::env::var("PAYDOWN_LOAD_WORKERS") {
            command.args(["--workers", &workers]);
        }
        let child = command.spawn().expect("start paydown serve");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(address).is_err() {
            assert!(Instant::now() < deadline, "paydown serve did not listen on {address}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server { child, address }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(url: &str, role: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(["token", "create", "--role", role, "--name", &format!("load {role}"), "--database-url", url])
        .env("RUST_LOG", "warn")
        .output()
        .expect("paydown token create");
    assert!(output.status.success(), "paydown token create: {}", String::from_utf8_lossy(&output.stderr));
    // stdout holds the secret alone (the words around it go to stderr).
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .rfind(|line| !line.trim().is_empty())
        .expect("the token's secret")
        .trim()
        .to_owned()
}

fn setup(client: &mut Client, admin: &str) {
    let mut post = |path: &str, body: Value| {
        let (status, answer) = client.request("POST", path, admin, &body.to_string());
        assert_eq!(status, 201, "POST {path}: {}", String::from_utf8_lossy(&answer));
    };
    post("/v1/teams", json!({"id": "ops", "name": "Operations", "cost_centre": "CC-9000"}));
    for (index, person) in PEOPLE.iter().enumerate() {
        post(
            "/v1/people",
            json!({"id": person, "name": person, "email": format!("{person}@example.com"),
                "payroll_id": format!("E-{index}"), "team": "ops", "timezone": "Europe/London", "currency": "GBP"}),
        );
    }
    for service in SERVICES {
        post("/v1/services", json!({"id": service, "name": service, "team": "ops"}));
    }
    post("/v1/policies", json!({"id": "uk", "version": 1, "effective_from": "2025-01-01", "currency": "GBP"}));
    for person in PEOPLE {
        post(
            &format!("/v1/people/{person}/policy-assignments"),
            json!({"policy": "uk", "effective_from": "2025-01-01"}),
        );
    }
}

fn run(backend: &str, url: &str, stream: &Stream, connections: usize) {
    let admin = token(url, "admin");
    let ingest = token(url, "ingest");
    let server = Server::start(url);
    setup(&mut Client::new(server.address), &admin);

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(u16, Duration)>> = Mutex::new(Vec::with_capacity(stream.requests.len()));
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let reconnects = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..connections {
            scope.spawn(|| {
                let mut client = Client::new(server.address);
                let mut mine = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, body)) = stream.requests.get(index) else { break };
                    let sent = Instant::now();
                    let (status, answer) = client.request("POST", "/v1/pages", &ingest, body);
                    mine.push((status, sent.elapsed()));
                    if !(200..300).contains(&status) {
                        let mut failures = failures.lock().unwrap();
                        if failures.len() < 10 {
                            failures.push(format!("{status} {}", String::from_utf8_lossy(&answer)));
                        }
                    }
                }
                reconnects.fetch_add(client.reconnects, Ordering::Relaxed);
                results.lock().unwrap().extend(mine);
            });
        }
    });
    let elapsed = started.elapsed();
    let results = results.into_inner().unwrap();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _) in &results {
        *statuses.entry(*status).or_default() += 1;
    }
    let mut latencies: Vec<Duration> = results.iter().map(|(_, latency)| *latency).collect();
    latencies.sort();
    let at = |percent: usize| latencies[(latencies.len() * percent / 100).min(latencies.len() - 1)];
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let non_2xx: usize = statuses.iter().filter(|(status, _)| !(200..300).contains(*status)).map(|(_, n)| n).sum();
    println!(
        "load: {backend}: {} requests in {:.2} s = {:.0} requests/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; statuses {statuses:?}; non-2xx {non_2xx}; reconnects {}",
        results.len(),
        elapsed.as_secs_f64(),
        results.len() as f64 / elapsed.as_secs_f64(),
        ms(at(50)),
        ms(at(90)),
        ms(at(99)),
        ms(*latencies.last().unwrap()),
        reconnects.into_inner()
    );
    for failure in failures.into_inner().unwrap() {
        println!("load: {backend}: non-2xx answer: {failure}");
    }
    let problems = check_end_state(&mut Client::new(server.address), &admin, stream, &statuses);
    if problems.is_empty() {
        println!("load: {backend}: end state checked: {} pages, each as its deliveries make it", stream.expected.len());
    } else {
        for problem in problems.iter().take(20) {
            println!("load: {backend}: WRONG: {problem}");
        }
        panic!("load: {backend}: {} problems in the end state (and {non_2xx} non-2xx answers)", problems.len());
    }
    assert_eq!(non_2xx, 0, "load: {backend}: every delivery must be answered 2xx");
}

/// Reads every page back and compares it with what its deliveries make.
fn check_end_state(client: &mut Client, admin: &str, stream: &Stream, statuses: &BTreeMap<u16, usize>) -> Vec<String> {
    let mut problems = Vec::new();
    let created = statuses.get(&201).copied().unwrap_or_default();
    if created != stream.expected.len() {
        problems.push(format!("{created} answers were 201 Created for {} pages", stream.expected.len()));
    }
    let mut seen: BTreeMap<usize, Value> = BTreeMap::new();
    let mut offset = 0;
    loop {
        let path = format!("/v1/pages?source=load&limit=1000&offset={offset}");
        let (status, body) = client.request("GET", &path, admin, "");
        assert_eq!(status, 200, "GET {path}");
        let pages: Vec<Value> = serde_json::from_slice(&body).unwrap();
        if pages.is_empty() {
            break;
        }
        offset += pages.len();
        for page in pages {
            let external_id = page["external_id"].as_str().unwrap().to_owned();
            let index: usize = external_id.strip_prefix("L-").and_then(|n| n.parse().ok()).unwrap();
            if seen.insert(index, page).is_some() {
                problems.push(format!("page {external_id} is listed twice"));
            }
        }
    }
    if seen.len() != stream.expected.len() {
        problems.push(format!("{} pages stored for {} delivered", seen.len(), stream.expected.len()));
    }
    for (index, expected) in stream.expected.iter().enumerate() {
        let Some(page) = seen.get(&index) else {
            problems.push(format!("page L-{index} is missing"));
            continue;
        };
        let want_status = match (expected.resolved_at, expected.acknowledged) {
            (Some(_), _) => "resolved",
            (None, Some(_)) => "acknowledged",
            (None, None) => "triggered",
        };
        let want = json!({
            "status": want_status,
            "triggered_at": rfc3339(expected.triggered_at),
            "acknowledged_at": expected.acknowledged.map(|(at, _)| rfc3339(at)),
            "acknowledged_by": expected.acknowledged.map(|(_, by)| by),
            "resolved_at": expected.resolved_at.map(rfc3339),
            "delivery_count": expected.deliveries,
            "owned": true,
        });
        let have = json!({
            "status": page["status"],
            "triggered_at": page["triggered_at"],
            "acknowledged_at": page["acknowledged_at"],
            "acknowledged_by": page["acknowledged_by"],
            "resolved_at": page["resolved_at"],
            "delivery_count": page["delivery_count"],
            "owned": page["owned"],
        });
        if want != have {
            problems.push(format!("page L-{index}: expected {want}, stored {have}"));
        }
    }
    problems
}
