//! Imports 1,000,000 generated pages from a generic CSV into SQLite and into PostgreSQL
//! (a fresh database on `PAYDOWN_TEST_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432)
//! and prints rows/s. Target: at least 100,000 rows/s into SQLite.
//!
//! Run: `cargo bench --bench import` (`PAYDOWN_BENCH_ROWS` to change the row count).

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use paydown::ingest::csv_pages::PageCsvFormat;
use paydown::storage::{Stamp, Store};

#[path = "common/generated_pages.rs"]
mod generated_pages;

fn main() {
    let rows: u64 = std::env::var("PAYDOWN_BENCH_ROWS").ok().and_then(|value| value.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("paydown-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("pages.csv");
    generated_pages::write_csv(&csv, rows);
    let size_mb = std::fs::metadata(&csv).unwrap().len() / 1_000_000;
    println!("import: {rows} generated pages, {size_mb} MB of CSV");

    let sqlite = dir.join("bench.db");
    run("sqlite", sqlite.to_str().unwrap(), &csv);

    let base =
        std::env::var("PAYDOWN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("paydown_bench_{}", std::process::id());
    match PgConnection::establish(&format!("{base}/postgres")) {
        Ok(mut admin) => {
            admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            run("postgres", &format!("{base}/{name}"), &csv);
            admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
        }
        Err(error) => println!("import: postgres skipped ({error})"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn run(backend: &str, url: &str, csv: &std::path::Path) {
    let store = Store::open_with_pool_size(url, 2).unwrap();
    let stamp = Stamp::new("bench", paydown::http::now());
    let reader = std::io::BufReader::new(std::fs::File::open(csv).unwrap());
    let report = paydown::import::import_pages(&store, reader, PageCsvFormat::Generic, &stamp, &mut |_| {}).unwrap();
    assert!(report.rejected.is_empty());
    println!(
        "import: {backend}: {} rows in {:.2} s = {} rows/s ({} created)",
        report.rows,
        report.elapsed.as_secs_f64(),
        report.rows_per_second(),
        report.created
    );
    let stamp = Stamp::new("bench", paydown::http::now());
    let reader = std::io::BufReader::new(std::fs::File::open(csv).unwrap());
    let again = paydown::import::import_pages(&store, reader, PageCsvFormat::Generic, &stamp, &mut |_| {}).unwrap();
    println!(
        "import: {backend}: the same file again: {} rows/s, {} unchanged, {} created",
        again.rows_per_second(),
        again.unchanged,
        again.created
    );
}
