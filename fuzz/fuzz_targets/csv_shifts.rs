//! The shifts CSV importer on any file: every row is a shift or a row error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paydown::ingest::csv_shifts::shifts_from_csv;

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = shifts_from_csv(data, "csv:fuzz") {
        for row in rows {
            let _ = row;
        }
    }
});
