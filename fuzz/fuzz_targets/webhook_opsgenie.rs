//! `ingest::opsgenie::map` on any body: JSON parsing and mapping to deliveries never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for mapping in paydown_fuzz::mappings() {
        let _ = paydown::ingest::opsgenie::map(body, &mapping);
    }
});
