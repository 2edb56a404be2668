//! HTTP load: page deliveries to a real `paydown serve` on loopback, with 20 % exact
//! duplicates and 10 % out of order, on SQLite (a temporary file) and PostgreSQL (a fresh
//! database on `PAYDOWN_TEST_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432;
//! skipped with a message when it does not answer).
//!
//! For each backend: a directory (team, people, services, a pay policy assigned to every
//! person, so that the accrual worker prices the acknowledged pages while the load runs),
//! then a deterministic stream of trigger / acknowledge / resolve deliveries of N pages
//! sent by C keep-alive connections. Prints requests/s, p50/p90/p99/max latency, the
//! status counts and the server's CPU seconds (`/proc/<pid>/stat`) during the load, then
//! checks the end state through the API: exactly N pages, each as its deliveries make it,
//! with as many deliveries as were sent, and N `201 Created`.
//!
//! With `PAYDOWN_LOAD_HISTORY=H` (H > 0) each backend runs three cases, each on a fresh
//! database: `empty` (as above), `history` (H pages spread over 2025, each acknowledged
//! and resolved by the directory's people in turn, imported with `paydown import pages`
//! before the server starts and not yet accrued: the server's worker does the first
//! accrual of the whole year while the load runs) and `accrued` (the same, then
//! `paydown accrue` and `paydown report refresh` before the server starts: the ledger and
//! the dashboard's days both up to date). The directory then holds
//! `PAYDOWN_LOAD_HISTORY_PEOPLE` people (default H / 500, issue 15's 1,000,000 pages for
//! 2,000 people; the load's own five among them). It prints each case's figures and the
//! history cases' throughput as a share of the empty run's (issue 15: ≥ 80 %, 0 non-2xx).
//!
//! `PAYDOWN_LOAD_MODE=latency`: instead, deliveries open-loop at `PAYDOWN_LOAD_RATE` per
//! second for `PAYDOWN_LOAD_SECONDS` against a server whose database holds the (accrued)
//! history; one page in `PAYDOWN_LOAD_SAMPLE_EVERY` is acknowledged out of hours, so it
//! earns pay, and for each of them the bench polls the database on a connection of its
//! own every `PAYDOWN_LOAD_POLL_MS` until its ledger lines exist. Prints the time from the
//! delivery's 2xx answer to its lines being seen (p50/p99/max; issue 15: ≤ 100 ms and
//! ≤ 1 s at 500/s) and how many sample pages were not posted within
//! `PAYDOWN_LOAD_DEADLINE_MS` (must be 0). With 16 connections the sender falls behind
//! 500/s on a loaded machine: use `PAYDOWN_LOAD_CONNECTIONS=32`.
//!
//! Exits non-zero at the end when any run answered non-2xx, ended in a wrong state or
//! left a sample page unposted (every case still runs and prints its figures).
//!
//! Run: `cargo bench --bench load`; to iterate, build once (`cargo bench --bench load
//! --no-run`) and run `target/release/deps/load-<hash>` with the variables. Environment:
//! `PAYDOWN_LOAD_PAGES` (20000), `PAYDOWN_LOAD_CONNECTIONS` (16), `PAYDOWN_LOAD_SEED` (9),
//! `PAYDOWN_LOAD_BACKENDS` (`sqlite,postgres`), `PAYDOWN_LOAD_WORKERS` (server workers,
//! default the number of cores), `RUST_LOG` for the server (default `warn`);
//! `PAYDOWN_LOAD_HISTORY` (0), `PAYDOWN_LOAD_CASES` (`empty,history,accrued` when there is
//! history), `PAYDOWN_LOAD_HISTORY_PEOPLE` (history / 500); `PAYDOWN_LOAD_MODE`
//! (`throughput` or `latency`), `PAYDOWN_LOAD_RATE` (500), `PAYDOWN_LOAD_SECONDS` (20),
//! `PAYDOWN_LOAD_SAMPLE_EVERY` (25), `PAYDOWN_LOAD_POLL_MS` (5), `PAYDOWN_LOAD_DEADLINE_MS`
//! (10000).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// The load's settings, from the environment.
struct Settings {
    connections: usize,
    history: u64,
    /// Everyone in the directory: the load's five people first.
    people: Vec<String>,
    rate: u64,
    seconds: u64,
    sample_every: usize,
    poll: Duration,
    deadline: Duration,
}

/// One database's history before the server starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// Only the directory.
    Empty,
    /// The directory and the imported history, not yet accrued.
    History,
    /// The same, accrued by `paydown accrue`.
    Accrued,
}

impl Case {
    fn parse(name: &str) -> Case {
        match name {
            "empty" => Case::Empty,
            "history" => Case::History,
            "accrued" => Case::Accrued,
            other => panic!("unknown case `{other}` in PAYDOWN_LOAD_CASES: empty, history or accrued"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Case::Empty => "empty",
            Case::History => "history",
            Case::Accrued => "accrued",
        }
    }
}

/// What one throughput run measured.
struct Figures {
    per_second: f64,
    non_2xx: usize,
    /// What was wrong in the end state.
    problems: usize,
}

fn main() {
    let pages: usize = env_or("PAYDOWN_LOAD_PAGES", 20_000);
    let seed: u64 = env_or("PAYDOWN_LOAD_SEED", 9);
    let backends: String = env_or("PAYDOWN_LOAD_BACKENDS", "sqlite,postgres".to_owned());
    let mode: String = env_or("PAYDOWN_LOAD_MODE", "throughput".to_owned());
    let mut settings = Settings {
        connections: env_or("PAYDOWN_LOAD_CONNECTIONS", 16),
        history: env_or("PAYDOWN_LOAD_HISTORY", 0),
        people: Vec::new(),
        rate: env_or("PAYDOWN_LOAD_RATE", 500),
        seconds: env_or("PAYDOWN_LOAD_SECONDS", 20),
        sample_every: env_or("PAYDOWN_LOAD_SAMPLE_EVERY", 25).max(1),
        poll: Duration::from_millis(env_or("PAYDOWN_LOAD_POLL_MS", 5)),
        deadline: Duration::from_millis(env_or("PAYDOWN_LOAD_DEADLINE_MS", 10_000)),
    };
    // The shape: 1,000,000 pages for 2,000 people, 500 pages a person.
    let people: usize = env_or("PAYDOWN_LOAD_HISTORY_PEOPLE", usize::try_from(settings.history / 500).unwrap());
    settings.people = PEOPLE
        .iter()
        .map(|person| (*person).to_owned())
        .chain((PEOPLE.len()..people).map(|index| format!("h-{index}")))
        .collect();
    let default_cases = if settings.history > 0 { "empty,history,accrued" } else { "empty" };
    let cases: Vec<Case> = env_or("PAYDOWN_LOAD_CASES", default_cases.to_owned())
        .split(',')
        .map(|name| Case::parse(name.trim()))
        .collect();
    let latency = match mode.as_str() {
        "throughput" => false,
        "latency" => true,
        other => panic!("unknown PAYDOWN_LOAD_MODE `{other}`: throughput or latency"),
    };
    let stream = Stream::generate(pages, seed);
    if latency {
        println!(
            "load: latency: {} deliveries/s for {} s, one page in {} sampled, {} history pages, {} people, {} connections, poll every {:?}",
            settings.rate,
            settings.seconds,
            settings.sample_every,
            settings.history,
            settings.people.len(),
            settings.connections,
            settings.poll
        );
    } else {
        println!(
            "load: {pages} pages, {} requests ({} originals, {} exact duplicates, {} out of order), {} connections, seed {seed}, {} history pages, {} people",
            stream.requests.len(),
            stream.requests.len() - stream.duplicates,
            stream.duplicates,
            stream.out_of_order,
            settings.connections,
            settings.history,
            settings.people.len()
        );
    }
    println!("load: {}", uptime());
    let dir = std::env::temp_dir().join(format!("paydown-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    if settings.history > 0 {
        write_history(&dir.join("history.csv"), settings.history, &settings.people);
    }
    // Runs that missed a must (a non-2xx answer, a wrong end state, a page never posted).
    let mut failed: Vec<String> = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        let mut figures: Vec<(Case, Figures)> = Vec::new();
        let runs: Vec<Case> = match (latency, settings.history) {
            (true, 0) => vec![Case::Empty],
            (true, _) => vec![Case::Accrued],
            (false, _) => cases.clone(),
        };
        for case in runs {
            let label = if latency { format!("{backend}/latency") } else { format!("{backend}/{}", case.name()) };
            let mut measure = |url: &str| {
                let prepared = prepare(&label, url, case, &dir, &settings);
                if latency {
                    if !run_latency(&label, url, &prepared, &settings) {
                        failed.push(label.clone());
                    }
                    None
                } else {
                    Some(run(&label, url, &prepared, &stream, settings.connections))
                }
            };
            let measured = match backend {
                "sqlite" => {
                    let path = dir.join(format!("load-{}.db", case.name()));
                    let measured = measure(&path.display().to_string());
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                    measured
                }
                "postgres" => {
                    let base = std::env::var("PAYDOWN_TEST_POSTGRES_URL")
                        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
                    let name = format!("paydown_load_{}_{}", std::process::id(), case.name());
                    match PgConnection::establish(&format!("{base}/postgres")) {
                        Ok(mut admin) => {
                            admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
                            let measured = measure(&format!("{base}/{name}"));
                            admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
                            measured
                        }
                        Err(error) => {
                            println!("load: postgres skipped ({error})");
                            break;
                        }
                    }
                }
                other => panic!("unknown backend `{other}` in PAYDOWN_LOAD_BACKENDS: sqlite or postgres"),
            };
            if let Some(measured) = measured {
                if measured.non_2xx > 0 || measured.problems > 0 {
                    failed.push(format!("{backend}/{}", case.name()));
                }
                figures.push((case, measured));
            }
        }
        if let Some((_, empty)) = figures.iter().find(|(case, _)| *case == Case::Empty) {
            for (case, with_history) in figures.iter().filter(|(case, _)| *case != Case::Empty) {
                println!(
                    "load: {backend}: {} vs empty: {:.0} / {:.0} requests/s = {:.0} % (target ≥ 80 %), non-2xx {} (target 0)",
                    case.name(),
                    with_history.per_second,
                    empty.per_second,
                    100.0 * with_history.per_second / empty.per_second,
                    with_history.non_2xx
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(failed.is_empty(), "load: these runs answered non-2xx, ended wrong or left pages unposted: {failed:?}");
}

/// `uptime`'s words: the machine's load, to read the figures by.
fn uptime() -> String {
    Command::new("uptime")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|_| "uptime unknown".to_owned())
}

/// A year of history: `rows` pages spread evenly over 2025, each acknowledged after 3 min
/// and resolved after 40 by the directory's people in turn (`benches/ledger.rs`'s layout).
fn write_history(path: &Path, rows: u64, people: &[String]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "source,external_id,service,alert_key,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at")
        .unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().timestamp();
    let year: i64 = 365 * 24 * 3600;
    let step = year / i64::try_from(rows).unwrap().max(1);
    for row in 0..rows {
        let triggered = start + i64::try_from(row).unwrap() * step;
        let at = |offset: i64| {
            chrono::DateTime::from_timestamp(triggered + offset, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        let row_index = usize::try_from(row).unwrap();
        writeln!(
            out,
            "history,H-{row},{},alert-{},wake,{},{},{},{}",
            SERVICES[row_index % SERVICES.len()],
            row % 97,
            at(0),
            at(180),
            people[row_index % people.len()],
            at(2_400)
        )
        .unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
}

/// Runs `paydown <args> --database-url url`, and returns its wall time.
fn paydown(url: &str, args: &[&str]) -> Duration {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(args)
        .args(["--database-url", url])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run paydown");
    assert!(
        output.status.success(),
        "paydown {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed()
}

/// The directory (through a server that is stopped again), then the case's history, then
/// the server the load runs against.
fn prepare(label: &str, url: &str, case: Case, dir: &Path, settings: &Settings) -> Prepared {
    let history = settings.history;
    let admin = token(url, "admin");
    let ingest = token(url, "ingest");
    {
        let server = Server::start(url);
        setup(&mut Client::new(server.address), &admin, &settings.people);
    }
    if case != Case::Empty {
        let csv = dir.join("history.csv");
        let took = paydown(url, &["import", "pages", &csv.display().to_string()]);
        println!(
            "load: {label}: imported {history} history pages in {:.1} s ({:.0} rows/s)",
            took.as_secs_f64(),
            history as f64 / took.as_secs_f64()
        );
    }
    if case == Case::Accrued {
        let took = paydown(url, &["accrue"]);
        println!("load: {label}: `paydown accrue` of the history took {:.1} s", took.as_secs_f64());
        // The dashboard's days too: `accrued` is a server with its history fully behind it.
        let took = paydown(url, &["report", "refresh"]);
        println!("load: {label}: `paydown report refresh` of the history took {:.1} s", took.as_secs_f64());
    }
    Prepared { server: Server::start(url), admin, ingest }
}

/// A server on a prepared database, and its tokens.
struct Prepared {
    server: Server,
    admin: String,
    ingest: String,
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

    /// The server process's CPU time (user + system) so far, from `/proc/<pid>/stat`: on
    /// a machine shared with other work, what the server spent is what compares.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The fields after the command name (which may hold spaces) start at the state;
        // utime and stime are fields 14 and 15 of the line, at 100 ticks a second.
        let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
        let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
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

/// The directory: the team, the load's five people, `people` in all (the rest named
/// `h-<n>`, there to acknowledge history), the services and one policy for everyone.
fn setup(client: &mut Client, admin: &str, people: &[String]) {
    let mut post = |path: &str, body: Value| {
        let (status, answer) = client.request("POST", path, admin, &body.to_string());
        assert_eq!(status, 201, "POST {path}: {}", String::from_utf8_lossy(&answer));
    };
    post("/v1/teams", json!({"id": "ops", "name": "Operations", "cost_centre": "CC-9000"}));
    for (index, person) in people.iter().enumerate() {
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
    for person in people {
        post(
            &format!("/v1/people/{person}/policy-assignments"),
            json!({"policy": "uk", "effective_from": "2025-01-01"}),
        );
    }
}

fn run(backend: &str, url: &str, prepared: &Prepared, stream: &Stream, connections: usize) -> Figures {
    let Prepared { server, admin, ingest } = prepared;
    let (admin, ingest) = (admin.as_str(), ingest.as_str());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(u16, Duration)>> = Mutex::new(Vec::with_capacity(stream.requests.len()));
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let reconnects = AtomicUsize::new(0);
    let journal = JournalWatch::start(url);
    let cpu_started = server.cpu_seconds();
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
                    let (status, answer) = client.request("POST", "/v1/pages", ingest, body);
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
    let cpu = server.cpu_seconds() - cpu_started;
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
    let per_second = results.len() as f64 / elapsed.as_secs_f64();
    println!(
        "load: {backend}: {} requests in {:.2} s = {per_second:.0} requests/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; statuses {statuses:?}; non-2xx {non_2xx}; reconnects {}; server CPU {cpu:.1} s",
        results.len(),
        elapsed.as_secs_f64(),
        ms(at(50)),
        ms(at(90)),
        ms(at(99)),
        ms(*latencies.last().unwrap()),
        reconnects.into_inner()
    );
    for failure in failures.into_inner().unwrap() {
        println!("load: {backend}: non-2xx answer: {failure}");
    }
    println!("load: {backend}: {}", journal.finish(started));
    println!("load: {backend}: {}", uptime());
    let problems = check_end_state(&mut Client::new(server.address), admin, stream, &statuses);
    if problems.is_empty() {
        println!("load: {backend}: end state checked: {} pages, each as its deliveries make it", stream.expected.len());
    } else {
        for problem in problems.iter().take(20) {
            println!("load: {backend}: WRONG: {problem}");
        }
        println!("load: {backend}: {} problems in the end state (and {non_2xx} non-2xx answers)", problems.len());
    }
    Figures { per_second, non_2xx, problems: problems.len() }
}

/// Watches the pay journal on a connection of its own while the load runs: when the
/// worker first had nothing left to price (the history's first accrual done).
struct JournalWatch {
    stop: std::sync::Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Option<Duration>>,
    store: paydown::storage::Store,
}

impl JournalWatch {
    fn start(url: &str) -> JournalWatch {
        let store = paydown::storage::Store::open_with_pool_size(url, 2).unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let thread = std::thread::spawn({
            let store = store.clone();
            let stop = stop.clone();
            move || {
                let mut conn = store.conn().unwrap();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(false) = paydown::storage::journal::has_pending(&mut conn) {
                        return Some(started.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                None
            }
        });
        JournalWatch { stop, thread, store }
    }

    /// Stops watching; says when the journal emptied, or how much of it was left when
    /// the load ended.
    fn finish(self, load_started: Instant) -> String {
        let load = load_started.elapsed();
        self.stop.store(true, Ordering::Relaxed);
        let emptied = self.thread.join().unwrap();
        match emptied {
            Some(after) => format!("pay journal empty {:.1} s after the load started", after.as_secs_f64()),
            None => {
                let mut conn = self.store.conn().unwrap();
                let (rows, _) = paydown::storage::journal::backlog(&mut conn).unwrap();
                if rows == 0 {
                    return format!(
                        "pay journal emptied within 0.25 s of the load's end ({:.1} s)",
                        load.as_secs_f64()
                    );
                }
                format!(
                    "pay journal still held {rows} rows when the load ended ({:.1} s): the worker had not caught up",
                    load.as_secs_f64()
                )
            }
        }
    }
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

/// Who acknowledged a sample page, and when it was triggered.
type Acknowledger = (&'static str, DateTime<Utc>);

/// One page of the latency mode's stream: `rate` pages from 2026-01-01, 100 a day between
/// 02:00 and 04:45 UTC (out of hours for the directory's London people, so an
/// acknowledged one earns a callout), each in one delivery; a sample page is acknowledged
/// and resolved, the others as `Stream` mixes them (60 % never acknowledged).
fn latency_page(index: usize, sample_every: usize, rng: &mut Rng) -> (String, Option<Acknowledger>) {
    let start = DateTime::parse_from_rfc3339("2026-01-01T02:00:00Z").unwrap().with_timezone(&Utc);
    let day = i64::try_from(index / 100).unwrap();
    let within = i64::try_from(index % 100).unwrap();
    let triggered = start + chrono::Duration::days(day) + chrono::Duration::seconds(within * 100);
    let service = SERVICES[index % SERVICES.len()];
    let sample = index.is_multiple_of(sample_every);
    let person = if sample { PEOPLE[(index / sample_every) % PEOPLE.len()] } else { PEOPLE[index % PEOPLE.len()] };
    let acknowledged = sample || rng.below(10) >= 6;
    let mut body = json!({"source": "rate", "external_id": format!("R-{index}"), "service": service,
        "title": format!("Alert {} on {service}", index % 97), "alert_key": format!("alert-{}", index % 97),
        "triggered_at": rfc3339(triggered), "resolved_at": rfc3339(triggered + chrono::Duration::seconds(600))});
    if acknowledged {
        body["acknowledged_at"] = json!(rfc3339(triggered + chrono::Duration::seconds(90)));
        body["acknowledged_by"] = json!(person);
    }
    (body.to_string(), sample.then_some((person, triggered)))
}

/// A sample page answered 2xx, waiting for its ledger lines.
struct Sample {
    page_id: String,
    person: &'static str,
    triggered_at: DateTime<Utc>,
    answered: Instant,
}

/// Deliveries open-loop at a fixed rate; for the sample pages, the time from the 2xx
/// answer until their ledger lines exist.
/// Returns whether every delivery was answered 2xx and every sample page posted.
fn run_latency(label: &str, url: &str, prepared: &Prepared, settings: &Settings) -> bool {
    let Prepared { server, ingest, .. } = prepared;
    let total = usize::try_from(settings.rate * settings.seconds).unwrap();
    let mut rng = Rng(7);
    let requests: Vec<(String, Option<Acknowledger>)> =
        (0..total).map(|index| latency_page(index, settings.sample_every, &mut rng)).collect();
    let interval = Duration::from_secs_f64(1.0 / settings.rate as f64);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(u16, Duration, Duration)>> = Mutex::new(Vec::with_capacity(total));
    let last_answer: Mutex<Option<Instant>> = Mutex::new(None);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let (samples, waiting) = std::sync::mpsc::channel::<Sample>();
    let store = paydown::storage::Store::open_with_pool_size(url, 1).unwrap();
    let cpu_started = server.cpu_seconds();
    let started = Instant::now();
    let (posted, never_posted, polls) = std::thread::scope(|scope| {
        let store = &store;
        let poller = scope.spawn(move || poll_postings(store, &waiting, settings.poll, settings.deadline));
        for _ in 0..settings.connections {
            let samples = samples.clone();
            scope.spawn(|| {
                let samples = samples;
                let mut client = Client::new(server.address);
                let mut mine = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((body, sample)) = requests.get(index) else { break };
                    let due = started + interval * u32::try_from(index).unwrap();
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let sent = Instant::now();
                    let (status, answer) = client.request("POST", "/v1/pages", ingest, body);
                    let answered = Instant::now();
                    // From when it was due (open loop: a late send counts) and from when it was sent.
                    mine.push((status, answered - due, answered - sent));
                    if !(200..300).contains(&status) {
                        let mut failures = failures.lock().unwrap();
                        if failures.len() < 10 {
                            failures.push(format!("{status} {}", String::from_utf8_lossy(&answer)));
                        }
                    } else if let Some((person, triggered_at)) = sample {
                        let page: Value = serde_json::from_slice(&answer).unwrap();
                        let page_id = page["id"].as_str().expect("the page's id").to_owned();
                        samples.send(Sample { page_id, person, triggered_at: *triggered_at, answered }).unwrap();
                    }
                }
                results.lock().unwrap().extend(mine);
                let mut last = last_answer.lock().unwrap();
                *last = (*last).max(Some(Instant::now()));
            });
        }
        drop(samples);
        poller.join().unwrap()
    });
    // The sending's time, not the wait for the last sample's lines.
    let elapsed = last_answer.into_inner().unwrap().map_or(Duration::ZERO, |last| last - started);
    let cpu = server.cpu_seconds() - cpu_started;
    let results = results.into_inner().unwrap();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _, _) in &results {
        *statuses.entry(*status).or_default() += 1;
    }
    let non_2xx: usize = statuses.iter().filter(|(status, _)| !(200..300).contains(*status)).map(|(_, n)| n).sum();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let percentiles = |mut values: Vec<Duration>| -> String {
        if values.is_empty() {
            return "none".to_owned();
        }
        values.sort();
        let at = |percent: usize| values[(values.len() * percent / 100).min(values.len() - 1)];
        format!("p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms", ms(at(50)), ms(at(99)), ms(*values.last().unwrap()))
    };
    println!(
        "load: {label}: {} deliveries in {:.2} s = {:.0}/s (asked {}/s); answered (from due) {}; (from sent) {}; statuses {statuses:?}; non-2xx {non_2xx}; server CPU {cpu:.1} s",
        results.len(),
        elapsed.as_secs_f64(),
        results.len() as f64 / elapsed.as_secs_f64(),
        settings.rate,
        percentiles(results.iter().map(|(_, from_due, _)| *from_due).collect()),
        percentiles(results.iter().map(|(_, _, from_sent)| *from_sent).collect()),
    );
    for failure in failures.into_inner().unwrap() {
        println!("load: {label}: non-2xx answer: {failure}");
    }
    println!(
        "load: {label}: one page delivered → its ledger lines seen: {} of {} sample pages, {} (targets p50 ≤ 100 ms, p99 ≤ 1 s); never posted within {:?}: {never_posted} (target 0); {polls} polls",
        posted.len(),
        posted.len() + never_posted,
        percentiles(posted.clone()),
        settings.deadline
    );
    println!("load: {label}: {}", uptime());
    non_2xx == 0 && never_posted == 0
}

/// Polls the ledger for the sample pages' lines until every sender hung up and no page
/// waits; returns the latencies, the pages not posted within `deadline`, and the polls.
fn poll_postings(
    store: &paydown::storage::Store,
    waiting: &std::sync::mpsc::Receiver<Sample>,
    poll: Duration,
    deadline: Duration,
) -> (Vec<Duration>, usize, usize) {
    use diesel::prelude::*;
    use paydown::storage::schema::ledger_entries;
    let mut conn = store.conn().unwrap();
    let mut pending: Vec<Sample> = Vec::new();
    let mut posted = Vec::new();
    let mut never_posted = 0;
    let mut polls = 0;
    let mut senders_done = false;
    loop {
        loop {
            match waiting.try_recv() {
                Ok(sample) => pending.push(sample),
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    senders_done = true;
                    break;
                }
            }
        }
        if senders_done && pending.is_empty() {
            return (posted, never_posted, polls);
        }
        polls += 1;
        pending.retain(|sample| {
            // The person's lines from the page's trigger on: the (person_id, occurred_at)
            // index finds them (there is no index on page_id).
            let lines: i64 = ledger_entries::table
                .filter(ledger_entries::person_id.eq(sample.person))
                .filter(ledger_entries::occurred_at.ge(sample.triggered_at.naive_utc()))
                .filter(ledger_entries::page_id.eq(&sample.page_id))
                .count()
                .get_result(&mut *conn)
                .unwrap();
            if lines > 0 {
                posted.push(sample.answered.elapsed());
                return false;
            }
            if sample.answered.elapsed() > deadline {
                never_posted += 1;
                return false;
            }
            true
        });
        std::thread::sleep(poll);
    }
}
