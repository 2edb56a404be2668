//! A timestamp already in the text diesel writes to SQLite for a `NaiveDateTime`, so the
//! formatting (a tenth of a bulk import's writing thread) can run on another thread.

use chrono::{DateTime, Utc};
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

/// The `%F %T%.f` text of a UTC instant: the format diesel's own `NaiveDateTime` binding
/// uses, so SQLite compares and reads it exactly as it does every other stored time.
#[derive(Debug, Clone, PartialEq, Eq, diesel::expression::AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct SqliteTimestamp(String);

/// diesel's format for `NaiveDateTime` on SQLite (`ENCODE_NAIVE_DATETIME_FORMAT`).
const DIESEL_SQLITE_FORMAT: &str = "%F %T%.f";

/// [`DIESEL_SQLITE_FORMAT`] parsed once: chrono parses a format string on every `format`
/// call (4 % of a posting's writing thread, 11 % of a shift import's, before this).
static DIESEL_SQLITE_ITEMS: std::sync::LazyLock<Vec<chrono::format::Item<'static>>> =
    std::sync::LazyLock::new(|| chrono::format::StrftimeItems::new(DIESEL_SQLITE_FORMAT).collect());

impl SqliteTimestamp {
    pub fn new(at: DateTime<Utc>) -> SqliteTimestamp {
        let naive = crate::domain::timestamp::to_naive(at);
        match spelled_directly(naive) {
            Some(text) => SqliteTimestamp(text),
            None => SqliteTimestamp(naive.format_with_items(DIESEL_SQLITE_ITEMS.iter()).to_string()),
        }
    }
}

/// `%F %T%.f` written digit by digit, for the instants chrono spells plainly: a year of
/// four digits and no leap second (chrono's own formatter was 4 % of a first accrual's
/// posting thread). `%.f` is nothing for whole seconds, else 3, 6 or 9 digits, the
/// fewest that hold the nanoseconds.
fn spelled_directly(naive: chrono::NaiveDateTime) -> Option<String> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(naive.year()).ok().filter(|year| *year <= 9999)?;
    let nanos = naive.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut text = String::with_capacity(29);
    push_number(&mut text, year, 4);
    text.push('-');
    push_number(&mut text, naive.month(), 2);
    text.push('-');
    push_number(&mut text, naive.day(), 2);
    text.push(' ');
    push_number(&mut text, naive.hour(), 2);
    text.push(':');
    push_number(&mut text, naive.minute(), 2);
    text.push(':');
    push_number(&mut text, naive.second(), 2);
    if nanos != 0 {
        text.push('.');
        if nanos.is_multiple_of(1_000_000) {
            push_number(&mut text, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            push_number(&mut text, nanos / 1_000, 6);
        } else {
            push_number(&mut text, nanos, 9);
        }
    }
    Some(text)
}

/// `value`'s last `width` decimal digits, zero-padded.
fn push_number(text: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        text.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
    }
}

impl ToSql<Timestamp, Sqlite> for SqliteTimestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> diesel::serialize::Result {
        out.set_value(self.0.as_str());
        Ok(IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::{Text, Timestamp};

    use super::SqliteTimestamp;

    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        text: String,
    }

    /// The text must be byte for byte what diesel stores for the same instant, or SQLite's
    /// text comparisons would order imported times apart from the others.
    #[test]
    fn the_text_is_what_diesel_stores_for_the_same_instant() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let instants = [
            "2026-03-29T01:00:00Z",
            "2026-03-29T00:59:59.999999Z",
            "1999-12-31T23:59:59.5Z",
            "2026-11-24T01:02:03.123Z",
            "2026-11-24T01:02:03.000001Z",
            "2026-11-24T01:02:03.123456789Z",
            "2026-11-24T01:02:03.120Z",
            "2026-11-24T01:02:03.000000005Z",
            "1970-01-01T00:00:00Z",
            "2099-12-31T23:59:59Z",
            "2016-12-31T23:59:60.5Z",
            "2026-02-28T09:05:07.000100Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
        ];
        for instant in instants {
            let at = chrono::DateTime::parse_from_rfc3339(instant).unwrap().to_utc();
            let by_diesel: Stored = diesel::sql_query("SELECT CAST(? AS TEXT) AS text")
                .bind::<Timestamp, _>(at.naive_utc())
                .get_result(&mut conn)
                .unwrap();
            let ours: Stored = diesel::sql_query("SELECT CAST(? AS TEXT) AS text")
                .bind::<Timestamp, _>(SqliteTimestamp::new(at))
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(ours.text, by_diesel.text, "{instant}");
        }
    }
}
