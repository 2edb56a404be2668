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
        SqliteTimestamp(naive.format_with_items(DIESEL_SQLITE_ITEMS.iter()).to_string())
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
