//! The pages CSV importer, `--format pagerduty`, on any file, without a time zone (local
//! times refused) and with one that has DST gaps and folds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paydown::ingest::csv_pages::{PageCsvFormat, pages_from_csv};

fuzz_target!(|data: &[u8]| {
    for time_zone in [None, Some(chrono_tz::Europe::Berlin), Some(chrono_tz::Pacific::Kiritimati)] {
        if let Ok(rows) = pages_from_csv(data, PageCsvFormat::PagerDuty { time_zone }) {
            for row in rows {
                let _ = row;
            }
        }
    }
});
