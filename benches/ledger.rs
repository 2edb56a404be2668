//! The change-driven ledger with a year of history behind it (issue #15).
//!
//! Builds a database of `PAYDOWN_BENCH_PEOPLE` people (2,000) on one policy, a year of
//! `PAYDOWN_BENCH_PAGES` pages (1,000,000; one every 31 s from 2025-01-01, each
//! acknowledged and resolved, so each has a callout or a default response) and weekly
//! on-call shifts for every person, through the real importers; then measures:
//! - `paydown import shifts` rows/s;
//! - the first accrual of the whole history: ledger lines/s;
//! - a pass with nothing changed (p50, max of 50);
//! - one new page delivered, then a pass: time until its lines are posted (p50, p99 of 200);
//! - the process's peak memory (VmHWM), and the first accrual's own (the peak reset after
//!   the imports, whose page cache is theirs, not the worker's).
//!
//! Run: `cargo bench --bench ledger` (SQLite), `PAYDOWN_BENCH_BACKEND=postgres` for
//! PostgreSQL at `PAYDOWN_TEST_POSTGRES_URL` (a database `paydown_bench_ledger` is created).
//! `PAYDOWN_BENCH_KEEP=1` keeps the database and the generated files (the path is printed).
//! `PAYDOWN_BENCH_SNAPSHOT=<file>` (SQLite): the database as it stands before the first
//! accrual is saved to that file, or, if the file exists, copied from it instead of being
//! built again (the import figures are then not measured): to compare two builds'
//! accruals of one year without importing it twice.

use std::io::Write;
use std::time::{Duration, Instant};

use paydown::ingest::csv_pages::PageCsvFormat;
use paydown::storage::{Stamp, Store};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn main() {
    let people = env_number("PAYDOWN_BENCH_PEOPLE", 2_000);
    let pages = env_number("PAYDOWN_BENCH_PAGES", 1_000_000);
    let backend = std::env::var("PAYDOWN_BENCH_BACKEND").unwrap_or_else(|_| "sqlite".to_owned());
    let dir = std::env::temp_dir().join(format!("paydown-bench-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = if backend == "postgres" {
        let base = std::env::var("PAYDOWN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let mut admin = diesel::PgConnection::establish(&format!("{base}/postgres")).unwrap();
        admin.batch_execute("DROP DATABASE IF EXISTS paydown_bench_ledger WITH (FORCE)").unwrap();
        admin.batch_execute("CREATE DATABASE paydown_bench_ledger").unwrap();
        format!("{base}/paydown_bench_ledger")
    } else {
        dir.join("ledger.db").display().to_string()
    };
    let snapshot =
        std::env::var_os("PAYDOWN_BENCH_SNAPSHOT").map(std::path::PathBuf::from).filter(|_| backend != "postgres");
    let from_snapshot = snapshot.as_ref().is_some_and(|path| path.exists());
    if let (Some(path), true) = (&snapshot, from_snapshot) {
        std::fs::copy(path, &url).unwrap();
        println!("ledger: the database before the first accrual copied from {}", path.display());
    }
    let store = Store::open_with_pool_size(&url, 4).unwrap();
    let stamp = Stamp::new("bench", paydown::http::now());
    let mut conn = store.conn().unwrap();
    println!("ledger ({backend}): {people} people, {pages} pages");
    if !from_snapshot {
        build_history(&store, &mut conn, &stamp, &dir, people, pages);
    }
    if let (Some(path), false) = (&snapshot, from_snapshot) {
        // The file as the imports left it (not `VACUUM INTO`, which would defragment it):
        // the WAL copied in first, then the file copied byte for byte.
        use diesel::connection::SimpleConnection;
        conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        std::fs::copy(&url, path).unwrap();
        println!("ledger: the database before the first accrual saved to {}", path.display());
    }

    // The first accrual of the whole history.
    reset_peak_memory();
    println!("ledger: memory before the first accrual: {}", resident_memory());
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let mut reader = store.conn().unwrap();
    let first =
        paydown::accrual::accrue_pipelined(&mut conn, &mut reader, "bench", paydown::http::now(), &mut |_| {}).unwrap();
    drop(reader);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_started;
    let posted = f64::from(u32::try_from(first.lines_posted + first.reversals_posted).unwrap_or(u32::MAX));
    println!(
        "ledger: first accrual: {} people, {posted} entries in {elapsed:.1} s = {:.0} lines/s; \
         {cpu:.1} s of CPU = {:.0} lines per CPU second ({} unpriced)",
        first.people,
        posted / elapsed,
        posted / cpu.max(0.001),
        first.unpriced.len()
    );
    println!("ledger: the first accrual's peak memory: {}", peak_memory());

    // A pass with nothing changed.
    let mut idle: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            let report = paydown::accrual::accrue(&mut conn, "bench", paydown::http::now()).unwrap();
            assert_eq!(report.lines_posted + report.reversals_posted, 0);
            started.elapsed()
        })
        .collect();
    idle.sort();
    println!("ledger: a pass with nothing changed: p50 {:?}, max {:?}", idle[idle.len() / 2], idle[idle.len() - 1]);

    // One new page, then the pass that posts it.
    let mut latencies: Vec<Duration> = (0..200u64)
        .map(|index| {
            let person = format!("person-{}", index * 7 % people);
            let at = chrono::DateTime::parse_from_rfc3339("2025-12-20T01:00:00Z").unwrap().with_timezone(&chrono::Utc)
                + chrono::Duration::minutes(i64::try_from(index).unwrap() * 13);
            let delivery = paydown::domain::page::Delivery {
                service_key: "checkout".into(),
                title: Some("live page".into()),
                alert_key: Some("live".into()),
                lane: Some(paydown::domain::page::Lane::Wake),
                triggered_at: at,
                acknowledged_at: Some(at + chrono::Duration::minutes(2)),
                acknowledged_by: Some(person),
                resolved_at: Some(at + chrono::Duration::minutes(30)),
            };
            let state = paydown::domain::page::PageState::from_delivery(delivery).unwrap();
            paydown::storage::pages::record_delivery(&mut conn, "live", &format!("LIVE-{index}"), &state, &stamp)
                .unwrap();
            let started = Instant::now();
            let report = paydown::accrual::accrue(&mut conn, "bench", paydown::http::now()).unwrap();
            assert!(report.lines_posted > 0, "{report:?}");
            started.elapsed()
        })
        .collect();
    latencies.sort();
    println!(
        "ledger: one new page → its lines posted: p50 {:?}, p99 {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
    println!("ledger: peak memory from the first accrual on {}", peak_memory());
    drop(conn);
    drop(store);
    if std::env::var_os("PAYDOWN_BENCH_KEEP").is_some() {
        println!("ledger: kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// People on one policy, a year of pages and a year of weekly shifts, through the importers.
fn build_history(
    store: &Store,
    conn: &mut paydown::storage::Conn,
    stamp: &Stamp,
    dir: &std::path::Path,
    people: u64,
    pages: u64,
) {
    // People and their policy.
    let started = Instant::now();
    let currency: paydown::domain::currency::Currency = "EUR".parse().unwrap();
    let from = chrono::NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
    let policy = paydown::domain::policy::PayPolicy::with_defaults("bench", 1, from, currency);
    paydown::storage::policies::create_version(conn, &policy, stamp).unwrap();
    let zones = ["Europe/London", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"];
    for index in 0..people {
        let id = format!("person-{index}");
        let zone = zones[usize::try_from(index % 5).unwrap()];
        let person = paydown::storage::people::NewPerson {
            id: id.clone(),
            name: format!("Person {index}"),
            email: format!("{id}@example.com"),
            payroll_id: format!("E-{index}"),
            team: None,
            timezone: zone.parse().unwrap(),
            currency,
            loaded_hourly_cost: None,
            working_hours: Default::default(),
            holiday_calendar: None,
        };
        paydown::storage::people::create(conn, &person, stamp).unwrap();
        paydown::storage::policies::assign(conn, &id, "bench", from, stamp).unwrap();
    }
    println!("ledger: {people} people created in {:.1} s", started.elapsed().as_secs_f64());

    // A year of pages through the importer.
    let csv = dir.join("pages.csv");
    write_pages(&csv, pages, people);
    let reader = std::io::BufReader::new(std::fs::File::open(&csv).unwrap());
    let cpu_started = cpu_seconds();
    let report = paydown::import::import_pages(store, reader, PageCsvFormat::Generic, stamp, &mut |_| {}).unwrap();
    println!(
        "ledger: imported {} pages in {:.1} s ({} rows/s; {:.1} s of CPU)",
        report.rows,
        report.elapsed.as_secs_f64(),
        report.rows_per_second(),
        cpu_seconds() - cpu_started
    );

    // A year of weekly shifts: each person one week in every eight (a rota of eight).
    let shifts_csv = dir.join("shifts.csv");
    let shift_rows = write_shifts(&shifts_csv, people);
    let text = std::fs::read_to_string(&shifts_csv).unwrap();
    let rows = paydown::ingest::csv_shifts::shifts_from_csv(text.as_bytes(), "bench").unwrap();
    let cpu_started = cpu_seconds();
    let report = paydown::import::import_shifts(store, rows, stamp).unwrap();
    println!(
        "ledger: import shifts: {shift_rows} rows in {:.2} s = {} rows/s ({} created; {:.2} s of CPU)",
        report.elapsed.as_secs_f64(),
        report.rows_per_second(),
        report.created,
        cpu_seconds() - cpu_started
    );
}

/// One page every 31 s from 2025-01-01, acknowledged after 3 min and resolved after 40
/// by person `k % people`.
fn write_pages(path: &std::path::Path, rows: u64, people: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "source,external_id,service,alert_key,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at")
        .unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().timestamp();
    for row in 0..rows {
        let triggered = start + i64::try_from(row).unwrap() * 31;
        let at = |offset: i64| {
            chrono::DateTime::from_timestamp(triggered + offset, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        writeln!(
            out,
            "bench,INC-{row},checkout,alert-{},wake,{},{},person-{},{}",
            row % 97,
            at(0),
            at(180),
            row % people,
            at(2_400)
        )
        .unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
}

/// Weekly shifts in 2025: person k is on call in the weeks w with w % 8 == k % 8.
fn write_shifts(path: &std::path::Path, people: u64) -> u64 {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "person,role,start,end").unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-06T09:00:00Z").unwrap();
    let mut rows = 0;
    for person in 0..people {
        for week in (person % 8..52).step_by(8) {
            let from = start + chrono::Duration::weeks(i64::try_from(week).unwrap());
            let to = from + chrono::Duration::weeks(1);
            writeln!(out, "person-{person},primary,{},{}", from.to_rfc3339(), to.to_rfc3339()).unwrap();
            rows += 1;
        }
    }
    out.into_inner().unwrap().sync_all().unwrap();
    rows
}

/// The process's CPU time (user + system) so far, from `/proc/self/stat`: on a machine
/// shared with other work, throughput per CPU second is what this code costs.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state; 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

/// Starts the peak (VmHWM) again from the current resident set (`clear_refs`, Linux).
fn reset_peak_memory() {
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("ledger: the peak memory could not be reset ({error}); the figures below include the imports");
    }
}

fn resident_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find(|line| line.starts_with("VmRSS")).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find(|line| line.starts_with("VmHWM")).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}
