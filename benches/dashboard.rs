//! The dashboard over a year of 1,000,000 pages on SQLite (issue #8: within 300 ms).
//!
//! Imports the generated pages of `benches/import.rs`'s CSV (5 services, 97 alert keys,
//! acknowledged by one of 5 people, a page every 31 s from 2025-01-01) with an organisation
//! default loaded cost of 80.00 EUR/h, so every page has a debt; then measures the rollup
//! built from scratch, the direct computation once (what every read did before the rollup),
//! and p50 / max of 20 reads of each figure from the rollup.
//!
//! Run: `cargo bench --bench dashboard` (`PAYDOWN_BENCH_PAGES` to change the page count;
//! `PAYDOWN_BENCH_DB=path.db` keeps the database, and reuses it when it already has pages).

use std::time::{Duration, Instant};

use paydown::domain::debt::GroupBy;
use paydown::ingest::csv_pages::PageCsvFormat;
use paydown::storage::{Stamp, Store};

#[path = "common/generated_pages.rs"]
mod generated_pages;

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    paydown::domain::timestamp::parse_rfc3339(text).unwrap()
}

fn main() {
    let pages: u64 =
        std::env::var("PAYDOWN_BENCH_PAGES").ok().and_then(|value| value.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("paydown-bench-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = std::env::var("PAYDOWN_BENCH_DB").unwrap_or_else(|_| dir.join("dashboard.db").display().to_string());
    let store = Store::open_with_pool_size(&db, 2).unwrap();
    store.migrate().unwrap();
    let mut conn = store.conn().unwrap();
    let existing = paydown::storage::pages::list(
        &mut conn,
        &paydown::storage::pages::PageFilter { limit: 1, ..Default::default() },
    )
    .unwrap();
    if existing.is_empty() {
        let csv = dir.join("pages.csv");
        generated_pages::write_csv(&csv, pages);
        let stamp = Stamp::new("bench", paydown::http::now());
        let reader = std::io::BufReader::new(std::fs::File::open(&csv).unwrap());
        let report =
            paydown::import::import_pages(&store, reader, PageCsvFormat::Generic, &stamp, &mut |_| {}).unwrap();
        println!("dashboard: imported {} pages in {:.1} s", report.rows, report.elapsed.as_secs_f64());
        // The import marks each day it touched for the rollup itself (SQLite drops the
        // per-row trigger for its batches): one page every 31 s from 2025-01-01.
        let marked = paydown::storage::rollup::dirty_days(&mut conn, None).unwrap();
        let spanned = usize::try_from((pages - 1) * 31 / 86_400 + 1).unwrap();
        assert_eq!(marked.len(), spanned, "every imported day is marked for the rollup");
        let cost =
            paydown::storage::teams::HourlyCost { currency: "EUR".parse().unwrap(), amount: "80.00".parse().unwrap() };
        paydown::storage::cost_settings::put(&mut conn, "15".parse().unwrap(), Some(cost), &stamp).unwrap();
    }
    let (from, to) = (at("2025-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z"));

    let started = Instant::now();
    let days = paydown::rollup::rebuild(&mut conn).unwrap();
    println!("dashboard: rollup built from scratch: {days} days in {:.2} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let direct = paydown::dashboard::debt_direct(&mut conn, from, to, GroupBy::Service, None).unwrap();
    println!("dashboard: before (direct): debt by service {:.2} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    paydown::dashboard::health_direct(&mut conn, from, to).unwrap();
    println!("dashboard: before (direct): health {:.2} s", started.elapsed().as_secs_f64());
    let rolled = paydown::dashboard::debt(&mut conn, from, to, GroupBy::Service, None).unwrap();
    assert_eq!(serde_json::to_value(&rolled).unwrap(), serde_json::to_value(&direct).unwrap(), "rollup = direct");

    let measure = |name: &str,
                   conn: &mut paydown::storage::AnyConnection,
                   work: &dyn Fn(&mut paydown::storage::AnyConnection)| {
        let mut times: Vec<Duration> = (0..20)
            .map(|_| {
                let started = Instant::now();
                work(conn);
                started.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "dashboard: after (rollup): {name}: p50 {:.1} ms, max {:.1} ms",
            times[10].as_secs_f64() * 1000.0,
            times[19].as_secs_f64() * 1000.0
        );
    };
    measure("debt by service", &mut conn, &|conn| {
        paydown::dashboard::debt(conn, from, to, GroupBy::Service, None).unwrap();
    });
    measure("debt by alert key", &mut conn, &|conn| {
        paydown::dashboard::debt(conn, from, to, GroupBy::AlertKey, None).unwrap();
    });
    measure("health", &mut conn, &|conn| {
        paydown::dashboard::health(conn, from, to).unwrap();
    });
    measure("monthly by team", &mut conn, &|conn| {
        paydown::dashboard::monthly_by_team(conn, from, to, None).unwrap();
    });
    let (odd_from, odd_to) = (at("2025-01-01T07:30:00Z"), at("2025-12-20T13:45:00Z"));
    measure("debt by alert key, range not at midnight", &mut conn, &|conn| {
        paydown::dashboard::debt(conn, odd_from, odd_to, GroupBy::AlertKey, None).unwrap();
    });
    measure("health, range not at midnight", &mut conn, &|conn| {
        paydown::dashboard::health(conn, odd_from, odd_to).unwrap();
    });
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}
