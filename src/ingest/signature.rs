//! Webhook authenticity: the tools' own signature schemes, and a hashed bearer token for
//! the tools that cannot sign.
//!
//! - **PagerDuty** signs the raw body with HMAC-SHA256 and sends
//!   `X-PagerDuty-Signature: v1=<hex>`; during a secret rotation the header holds several
//!   comma-separated signatures, and paydown may hold several secrets: any valid pair passes.
//! - **Standard Webhooks** (incident.io, via Svix): HMAC-SHA256 over `{id}.{timestamp}.{body}`,
//!   sent as `webhook-signature: v1,<base64>` (several, space-separated), with
//!   `webhook-id` and `webhook-timestamp`; a timestamp outside the tolerance is a replay.
//! - **Bearer token** (Alertmanager `http_config.authorization`, Grafana OnCall and Opsgenie
//!   custom headers): paydown stores only the SHA-256 of the token and compares hashes.
//!
//! Every comparison is constant-time (`hmac`'s `verify_slice`, `subtle`), the current time is
//! passed in (no clock here), and no error message ever contains a secret or a signature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The header PagerDuty v3 signs deliveries in.
pub const PAGERDUTY_HEADER: &str = "X-PagerDuty-Signature";

/// Why a webhook was refused as unauthentic. Messages say what to fix, never echo a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header the scheme requires is absent or empty.
    #[error("missing {header}: this webhook must be signed; configure the sender's secret")]
    Missing {
        /// The header (or part) that was missing.
        header: &'static str,
    },
    /// A header is present but not in the scheme's format.
    #[error("malformed {header}: {reason}")]
    Malformed {
        /// The header (or configuration) at fault.
        header: &'static str,
        /// What format was expected.
        reason: &'static str,
    },
    /// Well-formed, but no signature matches the body under any configured secret.
    #[error(
        "signature does not match: check that the sender and paydown share the same secret and that the body reaches paydown unmodified"
    )]
    Mismatch,
    /// Authentic, but signed too far from now: refused as a replay.
    #[error(
        "webhook-timestamp is {age_seconds} s away from paydown's time, outside the allowed {tolerance_seconds} s: refused as a replay (check the sender's clock, or resend)"
    )]
    Replay {
        /// How far the signed timestamp is from now, in seconds (absolute).
        age_seconds: i64,
        /// The window allowed either side of now, in seconds.
        tolerance_seconds: i64,
    },
}

/// Verifies `X-PagerDuty-Signature` over the raw body.
///
/// `header` may hold several comma-separated `v1=<hex>` signatures (PagerDuty sends one per
/// active secret during a rotation), and `secrets` may hold several secrets (the old and the
/// new one while paydown's configuration rotates): the webhook passes if any signature matches
/// under any secret. Signatures of other versions are skipped, as PagerDuty asks. With no
/// secret configured nothing can match, so the result is [`SignatureError::Mismatch`].
pub fn verify_pagerduty(secrets: &[&[u8]], header: &str, body: &[u8]) -> Result<(), SignatureError> {
    const HEADER: &str = PAGERDUTY_HEADER;
    if header.trim().is_empty() {
        return Err(SignatureError::Missing { header: HEADER });
    }
    let signatures: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|hex_text| hex::decode(hex_text.trim()).ok())
        .filter(|bytes| bytes.len() == 32)
        .collect();
    if signatures.is_empty() {
        return Err(SignatureError::Malformed {
            header: HEADER,
            reason: "expected one or more comma-separated v1=<64 hex digits>",
        });
    }
    for secret in secrets {
        for signature in &signatures {
            let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
                continue;
            };
            mac.update(body);
            if mac.verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// Verifies a Standard Webhooks signature (as incident.io sends, through Svix).
///
/// - `secret`: `whsec_<base64>` as the sender shows it (the key is the decoded bytes), or,
///   without the prefix, the raw key bytes of the string.
/// - `id`, `timestamp`, `signature_header`: the `webhook-id`, `webhook-timestamp` (Unix
///   seconds) and `webhook-signature` headers; the latter holds space-separated
///   `v1,<base64>` signatures, any one of which may match (other versions are skipped).
/// - `now` and `tolerance`: a timestamp further than `tolerance` from `now`, either way, is
///   a [`SignatureError::Replay`]. The signature is checked first, so a forged message is
///   reported as a mismatch, and "replay" is only said of an authentic message.
pub fn verify_standard_webhooks(
    secret: &str,
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let id = id.trim();
    let timestamp = timestamp.trim();
    if id.is_empty() {
        return Err(SignatureError::Missing { header: "webhook-id" });
    }
    if timestamp.is_empty() {
        return Err(SignatureError::Missing { header: "webhook-timestamp" });
    }
    if signature_header.trim().is_empty() {
        return Err(SignatureError::Missing { header: "webhook-signature" });
    }
    let signed_at: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed {
        header: "webhook-timestamp",
        reason: "expected Unix seconds, e.g. 1614265330",
    })?;
    let key = standard_webhooks_key(secret)?;
    let signatures: Vec<Vec<u8>> = signature_header
        .split_whitespace()
        .filter_map(|part| part.strip_prefix("v1,"))
        .filter_map(|text| STANDARD.decode(text).ok())
        .collect();
    if signatures.is_empty() {
        return Err(SignatureError::Malformed {
            header: "webhook-signature",
            reason: "expected one or more space-separated v1,<base64>",
        });
    }
    let matches = signatures.iter().any(|signature| {
        let Ok(mut mac) = HmacSha256::new_from_slice(&key) else {
            return false;
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    let age_seconds = now.timestamp().saturating_sub(signed_at).saturating_abs();
    let tolerance_seconds = tolerance.num_seconds().saturating_abs();
    if age_seconds > tolerance_seconds {
        return Err(SignatureError::Replay { age_seconds, tolerance_seconds });
    }
    Ok(())
}

fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let secret = secret.trim();
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD.decode(encoded).map_err(|_| SignatureError::Malformed {
            header: "configured secret",
            reason: "a whsec_ secret must be base64 after the prefix; re-copy it from the sender",
        }),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// Verifies a bearer token against the SHA-256 paydown stored for it.
///
/// `header_value` is the `Authorization` header (`Bearer <token>`, scheme case-insensitive)
/// or a custom header holding the bare token. Hashing first means the comparison runs over
/// 32 bytes whatever the token's length, in constant time.
pub fn verify_bearer(expected_token_sha256: &[u8; 32], header_value: &str) -> Result<(), SignatureError> {
    const HEADER: &str = "Authorization";
    let value = header_value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("bearer") {
        return Err(SignatureError::Missing { header: HEADER });
    }
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => {
            return Err(SignatureError::Malformed {
                header: HEADER,
                reason: "expected `Bearer <token>` or the bare token",
            });
        }
        None => value,
    };
    if token.is_empty() {
        return Err(SignatureError::Missing { header: HEADER });
    }
    let presented = Sha256::digest(token.as_bytes());
    if bool::from(presented.as_slice().ct_eq(expected_token_sha256.as_slice())) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const PD_BODY: &[u8] = include_bytes!("../../tests/samples/pagerduty/signature_vector/body.json");
    const PD_SECRET: &str = include_str!("../../tests/samples/pagerduty/signature_vector/secret.txt");
    const PD_VALID: &str = include_str!("../../tests/samples/pagerduty/signature_vector/valid_signature.txt");
    const PD_MISMATCH: &str = include_str!("../../tests/samples/pagerduty/signature_vector/mismatch_signature.txt");
    const SW_BODY: &[u8] =
        include_bytes!("../../tests/samples/incidentio/standard_webhooks_signature_vector/body.json");
    const SW_SECRET: &str =
        include_str!("../../tests/samples/incidentio/standard_webhooks_signature_vector/secret.txt");
    const SW_HEADERS: &str =
        include_str!("../../tests/samples/incidentio/standard_webhooks_signature_vector/headers.txt");

    fn pd_secret() -> &'static [u8] {
        PD_SECRET.trim().as_bytes()
    }

    fn sw_header(name: &str) -> &'static str {
        SW_HEADERS.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')).unwrap().trim()
    }

    fn sw_now(offset_seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_614_265_330 + offset_seconds, 0).unwrap()
    }

    fn sw_verify(body: &[u8], signature: &str, now: DateTime<Utc>) -> Result<(), SignatureError> {
        verify_standard_webhooks(
            SW_SECRET,
            sw_header("webhook-id"),
            sw_header("webhook-timestamp"),
            signature,
            body,
            now,
            Duration::minutes(5),
        )
    }

    #[test]
    fn pagerduty_accepts_the_real_valid_vector() {
        assert_eq!(verify_pagerduty(&[pd_secret()], PD_VALID.trim(), PD_BODY), Ok(()));
    }

    #[test]
    fn pagerduty_refuses_the_real_mismatch_vector() {
        assert_eq!(verify_pagerduty(&[pd_secret()], PD_MISMATCH.trim(), PD_BODY), Err(SignatureError::Mismatch));
    }

    #[test]
    fn pagerduty_refuses_a_tampered_body() {
        let mut body = PD_BODY.to_vec();
        let at = body.len() - 10;
        body[at] ^= 1;
        assert_eq!(verify_pagerduty(&[pd_secret()], PD_VALID.trim(), &body), Err(SignatureError::Mismatch));
    }

    #[test]
    fn pagerduty_rotation_passes_when_only_the_second_signature_is_valid() {
        let header = format!("{}, {}", PD_MISMATCH.trim(), PD_VALID.trim());
        assert_eq!(verify_pagerduty(&[pd_secret()], &header, PD_BODY), Ok(()));
        // Several configured secrets: the old one does not match, the new one does.
        let old: &[u8] = b"the previous secret";
        assert_eq!(verify_pagerduty(&[old, pd_secret()], &header, PD_BODY), Ok(()));
        assert_eq!(verify_pagerduty(&[old], &header, PD_BODY), Err(SignatureError::Mismatch));
        assert_eq!(verify_pagerduty(&[], &header, PD_BODY), Err(SignatureError::Mismatch));
    }

    #[test]
    fn pagerduty_missing_and_malformed_headers_are_told_apart() {
        assert_eq!(
            verify_pagerduty(&[pd_secret()], " ", PD_BODY),
            Err(SignatureError::Missing { header: "X-PagerDuty-Signature" })
        );
        for header in ["sha256=abc", "v1=not-hex", "v1=0c0b"] {
            assert!(
                matches!(verify_pagerduty(&[pd_secret()], header, PD_BODY), Err(SignatureError::Malformed { .. })),
                "{header}"
            );
        }
    }

    #[test]
    fn errors_never_echo_the_secret_or_the_signature() {
        let errors = [
            verify_pagerduty(&[pd_secret()], PD_MISMATCH.trim(), PD_BODY),
            verify_pagerduty(&[pd_secret()], "v1=zz", PD_BODY),
            sw_verify(SW_BODY, sw_header("webhook-signature"), sw_now(3_600)),
        ];
        for error in errors {
            let text = error.unwrap_err().to_string();
            assert!(!text.contains(PD_SECRET.trim()), "{text}");
            assert!(!text.contains(&PD_MISMATCH.trim()[3..]), "{text}");
            assert!(!text.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "{text}");
        }
    }

    #[test]
    fn standard_webhooks_accepts_the_real_vector_near_its_time() {
        let signature = sw_header("webhook-signature");
        assert_eq!(sw_verify(SW_BODY, signature, sw_now(0)), Ok(()));
        assert_eq!(sw_verify(SW_BODY, signature, sw_now(299)), Ok(()));
        assert_eq!(sw_verify(SW_BODY, signature, sw_now(-299)), Ok(()));
    }

    #[test]
    fn standard_webhooks_refuses_a_replay_far_from_its_time() {
        let signature = sw_header("webhook-signature");
        assert_eq!(
            sw_verify(SW_BODY, signature, sw_now(301)),
            Err(SignatureError::Replay { age_seconds: 301, tolerance_seconds: 300 })
        );
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        assert!(matches!(sw_verify(SW_BODY, signature, now), Err(SignatureError::Replay { .. })));
        // A timestamp from the future is as suspicious as one from the past.
        assert!(matches!(sw_verify(SW_BODY, signature, sw_now(-301)), Err(SignatureError::Replay { .. })));
    }

    #[test]
    fn standard_webhooks_refuses_a_tampered_body_or_timestamp() {
        let signature = sw_header("webhook-signature");
        assert_eq!(sw_verify(br#"{"test": 2432232315}"#, signature, sw_now(0)), Err(SignatureError::Mismatch));
        // Moving the timestamp to dodge the replay window breaks the signature.
        assert_eq!(
            verify_standard_webhooks(
                SW_SECRET,
                sw_header("webhook-id"),
                "1614265331",
                signature,
                SW_BODY,
                sw_now(0),
                Duration::minutes(5),
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn standard_webhooks_rotation_passes_when_only_the_second_signature_is_valid() {
        let header =
            format!("v1,Zm9yZ2VkIHNpZ25hdHVyZSBvZiAzMiBieXRlcyEhISE= v1a,ignored {}", sw_header("webhook-signature"));
        assert_eq!(sw_verify(SW_BODY, &header, sw_now(0)), Ok(()));
    }

    #[test]
    fn standard_webhooks_missing_and_malformed_parts() {
        let signature = sw_header("webhook-signature");
        let verify = |id: &str, timestamp: &str, signature: &str| {
            verify_standard_webhooks(SW_SECRET, id, timestamp, signature, SW_BODY, sw_now(0), Duration::minutes(5))
        };
        assert_eq!(verify("", "1614265330", signature), Err(SignatureError::Missing { header: "webhook-id" }));
        assert_eq!(
            verify("msg_p5jXN8AQM9LWM0D4loKWxJek", "", signature),
            Err(SignatureError::Missing { header: "webhook-timestamp" })
        );
        assert!(matches!(
            verify("msg_p5jXN8AQM9LWM0D4loKWxJek", "yesterday", signature),
            Err(SignatureError::Malformed { header: "webhook-timestamp", .. })
        ));
        assert!(matches!(
            verify("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v2,abc"),
            Err(SignatureError::Malformed { header: "webhook-signature", .. })
        ));
    }

    #[test]
    fn standard_webhooks_raw_secret_is_the_key_bytes() {
        let key = b"raw shared secret";
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        mac.update(b"msg_1.1614265330.");
        mac.update(SW_BODY);
        let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(
            verify_standard_webhooks(
                "raw shared secret",
                "msg_1",
                "1614265330",
                &signature,
                SW_BODY,
                sw_now(0),
                Duration::minutes(5),
            ),
            Ok(())
        );
    }

    #[test]
    fn bearer_tokens_are_compared_by_hash() {
        let expected: [u8; 32] = Sha256::digest(b"s3cret-token").into();
        assert_eq!(verify_bearer(&expected, "Bearer s3cret-token"), Ok(()));
        assert_eq!(verify_bearer(&expected, "bearer  s3cret-token "), Ok(()));
        assert_eq!(verify_bearer(&expected, "s3cret-token"), Ok(()));
        assert_eq!(verify_bearer(&expected, "Bearer s3cret-tokeN"), Err(SignatureError::Mismatch));
        assert_eq!(verify_bearer(&expected, ""), Err(SignatureError::Missing { header: "Authorization" }));
        assert_eq!(verify_bearer(&expected, "Bearer "), Err(SignatureError::Missing { header: "Authorization" }));
        assert!(matches!(verify_bearer(&expected, "Basic dXNlcjpwYXNz"), Err(SignatureError::Malformed { .. })));
    }
}
