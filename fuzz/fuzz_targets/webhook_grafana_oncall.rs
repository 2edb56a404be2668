//! `ingest::grafana_oncall::map` on any body: JSON parsing and mapping to deliveries never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for mapping in paydown_fuzz::mappings() {
        let _ = paydown::ingest::grafana_oncall::map(body, &mapping);
    }
});
