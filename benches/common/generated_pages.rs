//! The generated pages CSV the import and dashboard benches share: one page every 31 s
//! from 2025-01-01, over five services, five people and 97 alert keys.

use std::io::Write;

/// Writes `rows` generated pages as a generic pages CSV.
pub fn write_csv(path: &std::path::Path, rows: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        out,
        "source,external_id,service,title,alert_key,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at"
    )
    .unwrap();
    let services = ["checkout", "ledger-db", "search-api", "k8s-cluster", "kafka"];
    let people = ["alice", "ben", "zoe", "marcus", "dana"];
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().timestamp();
    for row in 0..rows {
        let index = usize::try_from(row % 5).unwrap();
        let triggered = start + i64::try_from(row).unwrap() * 31;
        let at = |offset: i64| {
            chrono::DateTime::from_timestamp(triggered + offset, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        writeln!(
            out,
            "bench,INC-{row},{},Alert {row} on {},alert-{},wake,{},{},{},{}",
            services[index],
            services[index],
            row % 97,
            at(0),
            at(180),
            people[index],
            at(2_400)
        )
        .unwrap();
    }
    // On disk before anything is timed, as an export a user imports would be: otherwise
    // the kernel writes the fresh file back during the import, on the same disk.
    out.into_inner().unwrap().sync_all().unwrap();
}
