//! The pages CSV importer, `--format generic`, on any file: every row is a page or a row error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paydown::ingest::csv_pages::{PageCsvFormat, pages_from_csv};

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = pages_from_csv(data, PageCsvFormat::Generic) {
        let _ = rows.unknown_columns().len();
        for row in rows {
            let _ = row;
        }
    }
});
