//! SQLite statements over a list of any length that are still prepared once per
//! connection: the list is bound as one JSON array and read back with `json_each`.
//!
//! diesel prepares `IN (?, ?, …)` and multi-row inserts anew for every length, and never
//! caches `sql_query`. A posting names about a year of days and a year of periods, and
//! spelling them one statement per value was 8 % of a first accrual's posting thread
//! (a year of 1,000,000 pages): the marks of the dashboard's days alone were two
//! statements per day per person.

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{QueryResult, RunQueryDsl};

/// `before` ‖ `?` ‖ `after`, the `?` bound to `list` (a JSON array), typed `T` when read.
/// Cached by its SQL, as any statement without a static query id is.
pub(crate) struct ListStatement<'a, T = ()> {
    before: &'static str,
    list: &'a str,
    after: &'static str,
    row: std::marker::PhantomData<T>,
}

impl<'a> ListStatement<'a> {
    /// A statement that writes (its count of changed rows is what `execute` returns).
    pub(crate) fn new(before: &'static str, list: &'a str, after: &'static str) -> ListStatement<'a> {
        ListStatement { before, list, after, row: std::marker::PhantomData }
    }

    /// The same statement read as rows of SQL type `T`.
    pub(crate) fn returning<T>(self) -> ListStatement<'a, T> {
        ListStatement { before: self.before, list: self.list, after: self.after, row: std::marker::PhantomData }
    }
}

impl<T> QueryId for ListStatement<'_, T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T> QueryFragment<Sqlite> for ListStatement<'_, T> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(self.before);
        out.push_bind_param::<Text, _>(self.list)?;
        out.push_sql(self.after);
        Ok(())
    }
}

impl<T: diesel::sql_types::SqlType> Query for ListStatement<'_, T> {
    type SqlType = T;
}

impl<T> RunQueryDsl<SqliteConnection> for ListStatement<'_, T> {}

/// `[1,2,3]`: integers as a JSON array.
pub(crate) fn integers<'i>(values: impl IntoIterator<Item = &'i i64>) -> String {
    let mut list = String::from("[");
    for (index, value) in values.into_iter().enumerate() {
        if index > 0 {
            list.push(',');
        }
        list.push_str(&value.to_string());
    }
    list.push(']');
    list
}

/// `["a","b"]`: texts as a JSON array, escaped as JSON requires.
pub(crate) fn texts<'t>(values: impl IntoIterator<Item = &'t str>) -> String {
    serde_json::to_string(&values.into_iter().collect::<Vec<&str>>()).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::Connection;
    use diesel::connection::SimpleConnection;

    #[test]
    fn lists_are_json_arrays_sqlite_reads_back() {
        assert_eq!(integers(&[]), "[]");
        assert_eq!(integers(&[-3, 0, 20_089]), "[-3,0,20089]");
        assert_eq!(texts(["2025-01", "a\"b\\c"]), r#"["2025-01","a\"b\\c"]"#);

        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.batch_execute("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)").unwrap();
        let ids = texts(["x", "quote\"d", "unicode é"]);
        let inserted = ListStatement::new("INSERT INTO t (id, n) SELECT value, key FROM json_each(", &ids, ")")
            .execute(&mut conn)
            .unwrap();
        assert_eq!(inserted, 3);
        let read: Vec<(String, String)> = ListStatement::new(
            "SELECT id, CAST(n AS TEXT) FROM t WHERE id IN (SELECT value FROM json_each(",
            &ids,
            ")) ORDER BY n",
        )
        .returning::<(Text, Text)>()
        .load(&mut conn)
        .unwrap();
        assert_eq!(
            read,
            vec![("x".into(), "0".into()), ("quote\"d".into(), "1".into()), ("unicode é".into(), "2".into())]
        );
        let none = texts([]);
        let read: Vec<String> =
            ListStatement::new("SELECT id FROM t WHERE id IN (SELECT value FROM json_each(", &none, "))")
                .returning::<Text>()
                .load(&mut conn)
                .unwrap();
        assert!(read.is_empty());
    }
}
