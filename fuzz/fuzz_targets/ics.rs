//! The ICS importer on any calendar text, in a three-year window covering the samples.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use paydown::ingest::ics::{IcsOptions, shifts_from_ics};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let options = IcsOptions {
        source: "ics:fuzz".to_owned(),
        from: Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        default_time_zone: chrono_tz::Europe::Berlin,
        person: None,
    };
    let _ = shifts_from_ics(&text, &options);
    let _ = shifts_from_ics(&text, &IcsOptions { person: Some("alice@example.com".to_owned()), ..options });
});
