//! Instants as paydown accepts, stores and returns them.
//!
//! Input must be RFC 3339 *with* an offset: a local time without one is ambiguous for
//! pay (which night was it?), so it is refused rather than guessed. Instants are kept
//! in UTC with microsecond precision, the finest both PostgreSQL and SQLite keep
//! identically; finer digits are truncated on the way in so that what is read back
//! equals what was stored.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// What a client is told when a timestamp is not RFC 3339 with an offset.
pub const TIMESTAMP_EXPECTED: &str =
    "expected an RFC 3339 timestamp with an offset, e.g. 2026-10-03T02:14:00Z or 2026-10-03T03:14:00+01:00";

/// Parses an RFC 3339 timestamp with an offset and truncates it to microseconds.
pub fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    let parsed = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|error| format!("{TIMESTAMP_EXPECTED} (got `{text}`: {error})"))?;
    Ok(truncate_to_micros(parsed.with_timezone(&Utc)))
}

/// Drops sub-microsecond digits.
pub fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = instant.nanosecond();
    instant.with_nanosecond(nanos - nanos % 1_000).unwrap_or(instant)
}

/// Formats an instant as RFC 3339 in UTC (`Z`), with as many fractional digits as needed.
pub fn format_rfc3339(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The storage representation: a naive UTC date-time.
pub fn to_naive(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.naive_utc()
}

/// Back from storage: the naive value is UTC by construction.
/// The UTC day of an instant (days since 1970-01-01): the dashboard's rollup keeps its
/// sums per such day.
pub fn utc_day(instant: DateTime<Utc>) -> i64 {
    instant.timestamp().div_euclid(86_400)
}

pub fn from_naive(naive: NaiveDateTime) -> DateTime<Utc> {
    naive.and_utc()
}

/// serde adapter for a required timestamp field.
pub mod rfc3339 {
    use super::*;

    pub fn serialize<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_rfc3339(instant))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// serde adapter for an optional timestamp field (`null` or absent means none).
pub mod rfc3339_option {
    use super::*;

    pub fn serialize<S: Serializer>(instant: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => serializer.serialize_str(&format_rfc3339(instant)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => parse_rfc3339(&text).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_required() {
        assert!(parse_rfc3339("2026-10-03T02:14:00").is_err());
        assert!(parse_rfc3339("2026-10-03 02:14").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let instant = parse_rfc3339("2026-10-03T03:14:00+01:00").unwrap();
        assert_eq!(format_rfc3339(&instant), "2026-10-03T02:14:00Z");
    }

    #[test]
    fn precision_is_kept_to_the_microsecond() {
        let instant = parse_rfc3339("2026-10-03T02:14:00.123456789Z").unwrap();
        assert_eq!(format_rfc3339(&instant), "2026-10-03T02:14:00.123456Z");
        let round_trip = from_naive(to_naive(instant));
        assert_eq!(round_trip, instant);
    }
}
