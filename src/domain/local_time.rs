//! Wall-clock times as a person reads and types them in their own zone: what the HTML
//! forms show (`2026-10-03T02:14`, the value of an `<input type="datetime-local">`) and
//! how what they send back becomes an instant.
//!
//! A form cannot say which of a repeated hour it meant (the hour clocks go back), so the
//! earlier one is taken: it is the one a responder woken in that hour lived first, and the
//! duration field of the same form can make any response exact. A time that does not exist
//! (the hour clocks skip) is refused: there is no instant to take.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::field_error::FieldError;

/// The format of a `datetime-local` input's value, to the minute.
pub const FORM_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// An instant as the value of a `datetime-local` input in `zone` (seconds dropped).
pub fn to_form_value(zone: Tz, instant: DateTime<Utc>) -> String {
    instant.with_timezone(&zone).format(FORM_FORMAT).to_string()
}

/// An instant for people to read in `zone`, with the zone's abbreviation
/// (`2026-10-03 03:14 BST`).
pub fn to_display(zone: Tz, instant: DateTime<Utc>) -> String {
    instant.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// The instant a `datetime-local` value (`YYYY-MM-DDTHH:MM`, seconds allowed) names in
/// `zone`; errors name `field`.
pub fn from_form_value(field: &str, zone: Tz, text: &str) -> Result<DateTime<Utc>, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    let naive = NaiveDateTime::parse_from_str(text, FORM_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| FieldError::new(field, "must be a date and time such as 2026-10-03T02:14"))?;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(local) => Ok(local.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
        LocalResult::None => Err(FieldError::new(
            field,
            format!("{text} does not exist in {zone}: the clocks skipped that hour; give a time after the change"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_form_value_round_trips_in_the_persons_zone() {
        let london: Tz = "Europe/London".parse().unwrap();
        let at = utc("2026-10-03T02:14:00Z");
        assert_eq!(to_form_value(london, at), "2026-10-03T03:14");
        assert_eq!(to_display(london, at), "2026-10-03 03:14 BST");
        assert_eq!(from_form_value("started_at", london, "2026-10-03T03:14").unwrap(), at);
        assert_eq!(from_form_value("started_at", london, "2026-10-03T03:14:00").unwrap(), at);
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        assert_eq!(to_form_value(tokyo, at), "2026-10-03T11:14");
        assert_eq!(from_form_value("x", tokyo, "2026-10-03T11:14").unwrap(), at);
    }

    #[test]
    fn seconds_are_dropped_for_the_form() {
        let zone: Tz = "UTC".parse().unwrap();
        assert_eq!(to_form_value(zone, Utc.with_ymd_and_hms(2026, 1, 1, 23, 59, 59).unwrap()), "2026-01-01T23:59");
    }

    #[test]
    fn the_repeated_hour_is_read_as_its_first_occurrence() {
        // Europe/London went back from BST to GMT at 02:00 BST on 2026-10-25: 01:30 happened twice.
        let london: Tz = "Europe/London".parse().unwrap();
        assert_eq!(from_form_value("ended_at", london, "2026-10-25T01:30").unwrap(), utc("2026-10-25T00:30:00Z"));
        // The second 01:30 (GMT) displays the same wall time; an instant after the change reads back.
        assert_eq!(to_form_value(london, utc("2026-10-25T01:30:00Z")), "2026-10-25T01:30");
        assert_eq!(from_form_value("ended_at", london, "2026-10-25T02:30").unwrap(), utc("2026-10-25T02:30:00Z"));
    }

    #[test]
    fn the_skipped_hour_is_refused_naming_the_field() {
        // Europe/London went forward at 01:00 GMT on 2026-03-29: 01:30 never happened.
        let london: Tz = "Europe/London".parse().unwrap();
        let error = from_form_value("started_at", london, "2026-03-29T01:30").unwrap_err();
        assert_eq!(error.field, "started_at");
        assert!(error.message.contains("skipped"), "{}", error.message);
        assert_eq!(from_form_value("started_at", london, "2026-03-29T02:00").unwrap(), utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn malformed_and_empty_values_name_the_field() {
        let zone: Tz = "UTC".parse().unwrap();
        for text in ["", "  ", "yesterday", "2026-13-01T00:00", "2026-10-03 02:14", "2026-10-03"] {
            let error = from_form_value("ended_at", zone, text).unwrap_err();
            assert_eq!(error.field, "ended_at", "{text}");
        }
    }
}
