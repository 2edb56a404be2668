//! Both migration folders produce the schema `src/storage/schema.rs` expects, and the
//! same one; down migrations undo their up migrations.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::Text;
use paydown::storage::{AnyConnection, Store, schema};

use crate::helpers::{Backend, TestDb};

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

fn columns(store: &Store) -> Vec<Column> {
    let mut conn = store.conn().unwrap();
    let mut columns = match &mut *conn {
        AnyConnection::Sqlite(conn) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, upper(p.type) AS data_type \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name != '__diesel_schema_migrations'",
        )
        .load::<Column>(conn)
        .unwrap(),
        AnyConnection::Postgresql(conn) => diesel::sql_query(
            "SELECT table_name::text, column_name::text, upper(data_type::text) AS data_type \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name != '__diesel_schema_migrations'",
        )
        .load::<Column>(conn)
        .unwrap(),
    };
    columns.sort();
    columns
}

/// Every table of `schema.rs` can be read through diesel with the types it declares.
fn read_every_table(store: &Store) {
    let mut conn = store.conn().unwrap();
    let conn = &mut *conn;
    schema::teams::table
        .select(schema::teams::all_columns)
        .load::<(String, String, String, chrono::NaiveDateTime, chrono::NaiveDateTime, Option<String>, Option<i64>)>(
            conn,
        )
        .unwrap();
    schema::cost_settings::table
        .select(schema::cost_settings::all_columns)
        .load::<(String, String, Option<String>, Option<i64>, chrono::NaiveDateTime)>(conn)
        .unwrap();
    schema::services::table.select(schema::services::id).load::<String>(conn).unwrap();
    schema::people::table.select(schema::people::loaded_cost_minor_per_hour).load::<Option<i64>>(conn).unwrap();
    schema::shifts::table
        .select((schema::shifts::start_at, schema::shifts::end_at))
        .load::<(chrono::NaiveDateTime, chrono::NaiveDateTime)>(conn)
        .unwrap();
    schema::pages::table
        .select((schema::pages::id, schema::pages::delivery_count, schema::pages::described_at))
        .load::<(String, i32, chrono::NaiveDateTime)>(conn)
        .unwrap();
    schema::page_deliveries::table.select(schema::page_deliveries::payload).load::<String>(conn).unwrap();
    schema::sync_cursors::table.select(schema::sync_cursors::position).load::<String>(conn).unwrap();
    schema::pay_run_steps::table
        .select((schema::pay_run_steps::token_id, schema::pay_run_steps::entries, schema::pay_run_steps::at))
        .load::<(Option<String>, i64, chrono::NaiveDateTime)>(conn)
        .unwrap();
    schema::adjustments::table
        .select((schema::adjustments::amount_minor, schema::adjustments::earning_code))
        .load::<(i64, Option<String>)>(conn)
        .unwrap();
    schema::payroll_exports::table
        .select((schema::payroll_exports::entry_count, schema::payroll_exports::entries_sha256))
        .load::<(i64, String)>(conn)
        .unwrap();
    schema::responses::table.select(schema::responses::actionable).load::<bool>(conn).unwrap();
}

#[test]
fn both_backends_have_the_same_tables_and_columns_and_no_floating_money() {
    let sqlite_db = TestDb::new(Backend::Sqlite);
    let postgres_db = TestDb::new(Backend::Postgres);
    let sqlite = sqlite_db.store();
    let postgres = postgres_db.store();
    read_every_table(&sqlite);
    read_every_table(&postgres);

    let sqlite_columns = columns(&sqlite);
    let postgres_columns = columns(&postgres);
    let names = |columns: &[Column]| -> BTreeSet<(String, String)> {
        columns.iter().map(|column| (column.table_name.clone(), column.column_name.clone())).collect()
    };
    assert_eq!(names(&sqlite_columns), names(&postgres_columns));
    assert!(names(&sqlite_columns).contains(&("pages".into(), "described_at".into())));
    for column in sqlite_columns.iter().chain(&postgres_columns) {
        for float in ["REAL", "FLOAT", "DOUBLE", "NUMERIC"] {
            assert!(!column.data_type.contains(float), "{column:?} must not be floating or inexact");
        }
        if column.column_name.contains("minor") {
            assert_eq!(column.data_type, "BIGINT", "{column:?}: money is integer minor units");
        }
    }
}

#[test]
fn migrations_go_down_and_up_again_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        let before = columns(&store);
        let reverted = store.revert_all_migrations().unwrap();
        assert!(!reverted.is_empty());
        assert!(columns(&store).is_empty(), "{backend:?}: down must drop every table");
        let applied = store.migrate().unwrap();
        assert_eq!(applied.len(), reverted.len());
        assert_eq!(columns(&store), before, "{backend:?}");
    }
}
