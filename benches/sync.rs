//! A backfill of 100,000 PagerDuty incidents with their log entries (trigger, acknowledge,
//! resolve: 300,000) through `paydown sync pagerduty` from a local fake of the REST API,
//! into SQLite and into PostgreSQL (a fresh database on `PAYDOWN_TEST_POSTGRES_URL`, default
//! postgres://postgres@127.0.0.1:5432). Prints incidents/s **excluding the fake's own time**:
//! the fake serves records rendered to JSON before the run, from memory, over plain HTTP/1.1
//! on loopback, and adds up the time its handler spends between reading a request and
//! having written the answer; that sum is subtracted from the run's time. Target: at least
//! 5,000 incidents/s.
//!
//! Run: `cargo bench --bench sync` (`PAYDOWN_BENCH_INCIDENTS` to change the count).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use paydown::storage::Store;

/// Records rendered once, sorted by time, and what the fake spent answering.
struct Fake {
    /// `created_at` and the incident's JSON.
    incidents: Vec<(DateTime<Utc>, String)>,
    /// `created_at` and the log entry's JSON.
    log_entries: Vec<(DateTime<Utc>, String)>,
    busy_nanos: AtomicU64,
    requests: AtomicU64,
}

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn render(count: u64, since: DateTime<Utc>, until: DateTime<Utc>) -> Fake {
    let step = (until - since).num_milliseconds() / count.max(1) as i64;
    let mut incidents = Vec::with_capacity(count as usize);
    let mut log_entries = Vec::with_capacity(3 * count as usize);
    let user = |id: &str| format!(r#"{{"id":"{id}","type":"user_reference","summary":"Responder {id}"}}"#);
    for n in 0..count {
        let id = format!("PB{n:07}");
        let created = since + Duration::milliseconds(step * n as i64);
        let acknowledged = created + Duration::minutes(3);
        let resolved = created + Duration::minutes(30);
        let responder = format!("PU{:04}", n % 500);
        incidents.push((
            created,
            format!(
                r#"{{"id":"{id}","type":"incident","summary":"[#{n}] Checkout latency","incident_number":{n},"title":"Checkout latency {n}","created_at":"{}","status":"resolved","incident_key":"key-{n}","service":{{"id":"PSVC{:03}","type":"service_reference","summary":"Checkout"}},"assignments":[],"acknowledgements":[],"last_status_change_at":"{}","resolved_at":"{}","urgency":"high","priority":null}}"#,
                text(created),
                n % 40,
                text(resolved),
                text(resolved)
            ),
        ));
        let incident = format!(r#"{{"id":"{id}","type":"incident_reference"}}"#);
        let service = r#"{"id":"PSVC000","type":"service_reference"}"#;
        for (kind, at, agent, suffix) in [
            ("trigger_log_entry", created, service.to_owned(), "T"),
            ("acknowledge_log_entry", acknowledged, user(&responder), "A"),
            ("resolve_log_entry", resolved, user(&responder), "R"),
        ] {
            log_entries.push((
                at,
                format!(
                    r#"{{"id":"L{suffix}{n:07}","type":"{kind}","summary":"{kind}","created_at":"{}","agent":{agent},"channel":{{"type":"web_ui"}},"incident":{incident}}}"#,
                    text(at)
                ),
            ));
        }
    }
    log_entries.sort_by_key(|(at, _)| *at);
    Fake { incidents, log_entries, busy_nanos: AtomicU64::new(0), requests: AtomicU64::new(0) }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One page of `records` in `[since, until)`, as PagerDuty's offset pagination answers.
fn page(key: &str, records: &[(DateTime<Utc>, String)], query: &[(String, String)]) -> String {
    let get = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let instant = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
    let since = get("since").map(instant);
    let until = get("until").map(instant);
    let from = since.map_or(0, |since| records.partition_point(|(at, _)| *at < since));
    let to = until.map_or(records.len(), |until| records.partition_point(|(at, _)| *at < until));
    let limit: usize = get("limit").and_then(|limit| limit.parse().ok()).unwrap_or(25);
    let offset: usize = get("offset").and_then(|offset| offset.parse().ok()).unwrap_or(0);
    let start = (from + offset).min(to);
    let end = (start + limit).min(to);
    let items: Vec<&str> = records[start..end].iter().map(|(_, json)| json.as_str()).collect();
    format!(r#"{{"{key}":[{}],"limit":{limit},"offset":{offset},"more":{},"total":null}}"#, items.join(","), end < to)
}

fn serve_connection(stream: TcpStream, fake: Arc<Fake>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
        }
        let started = Instant::now();
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let query: Vec<(String, String)> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(key), decode(value))
            })
            .collect();
        let body = match path {
            "/users" => r#"{"users":[],"limit":100,"offset":0,"more":false}"#.to_owned(),
            "/schedules" => r#"{"schedules":[],"limit":100,"offset":0,"more":false}"#.to_owned(),
            "/incidents" => page("incidents", &fake.incidents, &query),
            "/log_entries" => page("log_entries", &fake.log_entries, &query),
            other => panic!("the bench's fake does not answer {other}"),
        };
        let head =
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
        if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(body.as_bytes())).is_err() {
            return;
        }
        let _ = writer.flush();
        fake.busy_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        fake.requests.fetch_add(1, Ordering::Relaxed);
    }
}

fn start(fake: Arc<Fake>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_nodelay(true);
            let fake = fake.clone();
            std::thread::spawn(move || serve_connection(stream, fake));
        }
    });
    url
}

fn run(backend: &str, url: &str, api: &str, fake: &Fake, since: DateTime<Utc>, until: DateTime<Utc>) {
    let store = Store::open_with_pool_size(url, 2).unwrap();
    store.migrate().unwrap();
    let mut options = paydown::sync::pagerduty::Options::new("bench-key");
    options.api_url = api.to_owned();
    options.since = Some(since);
    options.until = Some(until);
    let mapping = paydown::ingest::SourceMapping::default();
    let busy_before = fake.busy_nanos.load(Ordering::Relaxed);
    let started = Instant::now();
    let report = paydown::sync::pagerduty::run(&store, &mapping, &options, until, &mut |_| {}).unwrap();
    let total = started.elapsed();
    let in_fake = StdDuration::from_nanos(fake.busy_nanos.load(Ordering::Relaxed) - busy_before);
    let own = total.saturating_sub(in_fake);
    let incidents = report.fetched_of("incidents");
    assert!(report.skipped.is_empty(), "{:?}", &report.skipped[..report.skipped.len().min(5)]);
    println!(
        "sync: {backend}: {incidents} incidents, {} log entries, {} requests in {:.2} s, of which the fake {:.2} s: {} incidents/s excluding the fake ({} incidents/s all told); pages {} created",
        report.fetched_of("log entries"),
        report.requests,
        total.as_secs_f64(),
        in_fake.as_secs_f64(),
        (incidents as f64 / own.as_secs_f64().max(1e-9)) as u64,
        (incidents as f64 / total.as_secs_f64().max(1e-9)) as u64,
        report.pages.created,
    );
    let again_started = Instant::now();
    let busy_before = fake.busy_nanos.load(Ordering::Relaxed);
    let again = paydown::sync::pagerduty::run(&store, &mapping, &options, until, &mut |_| {}).unwrap();
    let own = again_started
        .elapsed()
        .saturating_sub(StdDuration::from_nanos(fake.busy_nanos.load(Ordering::Relaxed) - busy_before));
    println!(
        "sync: {backend}: the same window again: {} incidents/s excluding the fake, {} unchanged, {} created",
        (again.fetched_of("incidents") as f64 / own.as_secs_f64().max(1e-9)) as u64,
        again.pages.unchanged,
        again.pages.created
    );
}

fn main() {
    let count: u64 =
        std::env::var("PAYDOWN_BENCH_INCIDENTS").ok().and_then(|value| value.parse().ok()).unwrap_or(100_000);
    let until = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().with_timezone(&Utc);
    let since = until - Duration::days(100);
    let rendering = Instant::now();
    let fake = Arc::new(render(count, since, until));
    println!(
        "sync: {count} incidents and {} log entries rendered in {:.1} s",
        fake.log_entries.len(),
        rendering.elapsed().as_secs_f64()
    );
    let api = start(fake.clone());
    let dir = std::env::temp_dir().join(format!("paydown-bench-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = dir.join("bench.db");
    run("sqlite", sqlite.to_str().unwrap(), &api, &fake, since, until);

    let base =
        std::env::var("PAYDOWN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("paydown_bench_sync_{}", std::process::id());
    match PgConnection::establish(&format!("{base}/postgres")) {
        Ok(mut admin) => {
            admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            run("postgres", &format!("{base}/{name}"), &api, &fake, since, until);
            admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
        }
        Err(error) => println!("sync: postgres skipped ({error})"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
    println!("sync: the fake answered {} requests", fake.requests.load(Ordering::Relaxed));
}
