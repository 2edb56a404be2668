//! The webhook signature verifiers on any headers, secrets and body: never a panic.
//!
//! The input is split on `\n` into: secret, header 1 (PagerDuty signature / webhook-id /
//! Authorization), webhook-timestamp, webhook-signature, then the body (the rest).
#![no_main]

use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;
use paydown::ingest::signature::{verify_bearer, verify_pagerduty, verify_standard_webhooks};
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(5, |byte| *byte == b'\n');
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (secret, header, timestamp, signatures) = (next(), next(), next(), next());
    let body = data.splitn(5, |byte| *byte == b'\n').nth(4).unwrap_or_default();

    let _ = verify_pagerduty(&[secret.as_bytes(), b"second-secret"], &header, body);
    let _ = verify_pagerduty(&[], &header, body);

    let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    for tolerance in [Duration::seconds(300), Duration::MAX, Duration::MIN] {
        let _ = verify_standard_webhooks(&secret, &header, &timestamp, &signatures, body, now, tolerance);
        let _ = verify_standard_webhooks(
            &secret,
            &header,
            &timestamp,
            &signatures,
            body,
            DateTime::<Utc>::MAX_UTC,
            tolerance,
        );
        let _ = verify_standard_webhooks(
            &secret,
            &header,
            &timestamp,
            &signatures,
            body,
            DateTime::<Utc>::MIN_UTC,
            tolerance,
        );
    }

    let expected: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let _ = verify_bearer(&expected, &header);
});
