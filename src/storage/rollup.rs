//! The dashboard's per-day rollup tables (migration 000008): dirty marks, the rows of one
//! day replaced at once, and the range reads (sums done by the database).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::schema::{
    rollup_bad_nights, rollup_debt, rollup_dirty, rollup_missing_rates, rollup_pages, rollup_people,
    rollup_response_times, rollup_state,
};
use super::{AnyConnection, StorageError};

/// The PostgreSQL advisory lock serialising recomputations (SQLite serialises writers).
const ROLLUP_LOCK_KEY: i64 = 0x7061_7964_726f_6c6c;

/// The days (since 1970-01-01) marked dirty, in `[from_day, to_day)`, or all of them.
pub fn dirty_days(conn: &mut AnyConnection, range: Option<(i64, i64)>) -> Result<Vec<i64>, StorageError> {
    let mut query = rollup_dirty::table.select(rollup_dirty::day).distinct().order(rollup_dirty::day).into_boxed();
    if let Some((from, to)) = range {
        query = query.filter(rollup_dirty::day.ge(from)).filter(rollup_dirty::day.lt(to));
    }
    Ok(query.load(conn)?)
}

/// Takes the recomputation lock for the rest of the transaction (PostgreSQL; a no-op on
/// SQLite, whose write transaction already excludes every other writer).
pub fn lock(conn: &mut AnyConnection) -> Result<(), StorageError> {
    if let AnyConnection::Postgresql(inner) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ROLLUP_LOCK_KEY})")).execute(inner)?;
    }
    Ok(())
}

/// The marks of one day, to delete once the day is recomputed from facts read after this.
pub fn marks(conn: &mut AnyConnection, day: i64) -> Result<Vec<i64>, StorageError> {
    Ok(rollup_dirty::table.filter(rollup_dirty::day.eq(day)).select(rollup_dirty::seq).load(conn)?)
}

/// Deletes exactly the marks seen (a mark added meanwhile keeps the day dirty).
pub fn clear_marks(conn: &mut AnyConnection, seen: &[i64]) -> Result<(), StorageError> {
    for chunk in seen.chunks(500) {
        diesel::delete(rollup_dirty::table.filter(rollup_dirty::seq.eq_any(chunk))).execute(conn)?;
    }
    Ok(())
}

/// Marks every day that has pages dirty (after the fingerprint changed), and records it.
pub fn mark_all_days(conn: &mut AnyConnection, fingerprint: &str) -> Result<(), StorageError> {
    let sql = match conn {
        AnyConnection::Sqlite(_) => {
            "INSERT INTO rollup_dirty(day) SELECT DISTINCT CAST(julianday(date(triggered_at)) - 2440587.5 AS INTEGER) FROM pages"
        }
        AnyConnection::Postgresql(_) => {
            "INSERT INTO rollup_dirty(day) SELECT DISTINCT triggered_at::date - DATE '1970-01-01' FROM pages"
        }
    };
    diesel::sql_query(sql).execute(conn)?;
    diesel::delete(rollup_state::table).execute(conn)?;
    diesel::insert_into(rollup_state::table)
        .values((rollup_state::id.eq("rollup"), rollup_state::fingerprint.eq(fingerprint)))
        .execute(conn)?;
    Ok(())
}

/// The fingerprint the rows were computed with.
pub fn fingerprint(conn: &mut AnyConnection) -> Result<Option<String>, StorageError> {
    Ok(rollup_state::table.select(rollup_state::fingerprint).first(conn).optional()?)
}

/// One row of `rollup_debt`.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = rollup_debt)]
pub struct DebtRow {
    pub day: i64,
    pub month: String,
    pub team: Option<String>,
    pub service: String,
    pub alert_key: Option<String>,
    pub currency: String,
    pub pages: i64,
    pub night_pages: i64,
    pub out_of_hours_pages: i64,
    pub non_actionable_pages: i64,
    pub answered_pages: i64,
    pub paid_minor: i64,
    pub responder_time_minor: i64,
    pub interruption_overhead_minor: i64,
    pub recovery_minor: i64,
    pub paid_scale: i64,
    pub responder_time_scale: i64,
    pub interruption_overhead_scale: i64,
    pub recovery_scale: i64,
}

/// One row of `rollup_pages`.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = rollup_pages)]
pub struct PagesRow {
    pub day: i64,
    pub team: Option<String>,
    pub service: String,
    pub alert_key: Option<String>,
    pub pages: i64,
    pub answered_pages: i64,
    pub non_actionable_pages: i64,
}

/// One row of `rollup_people`.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = rollup_people)]
pub struct PeopleRow {
    pub day: i64,
    pub person: String,
    pub pages: i64,
    pub out_of_hours_pages: i64,
    pub night_pages: i64,
}

/// One row of `rollup_response_times`.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = rollup_response_times)]
pub struct TimesRow {
    pub day: i64,
    pub dimension: String,
    pub key: String,
    pub ack: Vec<u8>,
    pub resolve: Vec<u8>,
}

/// Every row of one day.
#[derive(Debug, Clone, Default)]
pub struct DayRows {
    pub debt: Vec<DebtRow>,
    pub pages: Vec<PagesRow>,
    pub people: Vec<PeopleRow>,
    /// (person, night as `YYYY-MM-DD`).
    pub bad_nights: Vec<(String, String)>,
    /// (page team, person).
    pub missing_rates: Vec<(Option<String>, String)>,
    pub times: Vec<TimesRow>,
}

/// Replaces the rows of `day` with `rows`.
pub fn replace_day(conn: &mut AnyConnection, day: i64, rows: &DayRows) -> Result<(), StorageError> {
    diesel::delete(rollup_debt::table.filter(rollup_debt::day.eq(day))).execute(conn)?;
    diesel::delete(rollup_pages::table.filter(rollup_pages::day.eq(day))).execute(conn)?;
    diesel::delete(rollup_people::table.filter(rollup_people::day.eq(day))).execute(conn)?;
    diesel::delete(rollup_bad_nights::table.filter(rollup_bad_nights::day.eq(day))).execute(conn)?;
    diesel::delete(rollup_missing_rates::table.filter(rollup_missing_rates::day.eq(day))).execute(conn)?;
    diesel::delete(rollup_response_times::table.filter(rollup_response_times::day.eq(day))).execute(conn)?;
    // At most 19 columns a row: 500 rows stay under SQLite's bound on variables.
    for chunk in rows.debt.chunks(500) {
        crate::with_backend!(&mut *conn, |inner| diesel::insert_into(rollup_debt::table).values(chunk).execute(inner))?;
    }
    for chunk in rows.pages.chunks(500) {
        crate::with_backend!(&mut *conn, |inner| diesel::insert_into(rollup_pages::table)
            .values(chunk)
            .execute(inner))?;
    }
    for chunk in rows.people.chunks(500) {
        crate::with_backend!(&mut *conn, |inner| diesel::insert_into(rollup_people::table)
            .values(chunk)
            .execute(inner))?;
    }
    for chunk in rows.bad_nights.chunks(500) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(person, night)| {
                (
                    rollup_bad_nights::day.eq(day),
                    rollup_bad_nights::person.eq(person),
                    rollup_bad_nights::night.eq(night),
                )
            })
            .collect();
        crate::with_backend!(&mut *conn, |inner| diesel::insert_into(rollup_bad_nights::table)
            .values(values)
            .execute(inner))?;
    }
    for chunk in rows.missing_rates.chunks(500) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(team, person)| {
                (
                    rollup_missing_rates::day.eq(day),
                    rollup_missing_rates::team.eq(team.as_deref()),
                    rollup_missing_rates::person.eq(person),
                )
            })
            .collect();
        crate::with_backend!(&mut *conn, |inner| diesel::insert_into(rollup_missing_rates::table)
            .values(values)
            .execute(inner))?;
    }
    for chunk in rows.times.chunks(500) {
        crate::with_backend!(&mut *conn, |inner| diesel::insert_into(rollup_response_times::table)
            .values(chunk)
            .execute(inner))?;
    }
    Ok(())
}

/// Debt sums over `[from_day, to_day)`, grouped by one column (`alert_key`, `service`,
/// `team` or `month`), the team and the currency.
#[derive(Debug, Clone, QueryableByName)]
pub struct DebtSum {
    #[diesel(sql_type = Nullable<Text>)]
    pub key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub team: Option<String>,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub pages: i64,
    #[diesel(sql_type = BigInt)]
    pub night_pages: i64,
    #[diesel(sql_type = BigInt)]
    pub out_of_hours_pages: i64,
    #[diesel(sql_type = BigInt)]
    pub non_actionable_pages: i64,
    #[diesel(sql_type = BigInt)]
    pub answered_pages: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub responder_time_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub interruption_overhead_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub recovery_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_scale: i64,
    #[diesel(sql_type = BigInt)]
    pub responder_time_scale: i64,
    #[diesel(sql_type = BigInt)]
    pub interruption_overhead_scale: i64,
    #[diesel(sql_type = BigInt)]
    pub recovery_scale: i64,
}

/// The column a debt read groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebtColumn {
    AlertKey,
    Service,
    Team,
    Month,
}

fn placeholders(conn: &AnyConnection) -> (&'static str, &'static str) {
    match conn {
        AnyConnection::Sqlite(_) => ("?", "?"),
        AnyConnection::Postgresql(_) => ("$1", "$2"),
    }
}

pub fn debt_sums(
    conn: &mut AnyConnection,
    from_day: i64,
    to_day: i64,
    column: DebtColumn,
) -> Result<Vec<DebtSum>, StorageError> {
    let column = match column {
        DebtColumn::AlertKey => "alert_key",
        DebtColumn::Service => "service",
        DebtColumn::Team => "team",
        DebtColumn::Month => "month",
    };
    let (first, second) = placeholders(conn);
    let sum = |name: &str| format!("CAST(SUM({name}) AS BIGINT) AS {name}");
    let max = |name: &str| format!("CAST(MAX({name}) AS BIGINT) AS {name}");
    let sql = format!(
        "SELECT {column} AS key, team, currency, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM rollup_debt \
         WHERE day >= {first} AND day < {second} GROUP BY {column}, team, currency",
        sum("pages"),
        sum("night_pages"),
        sum("out_of_hours_pages"),
        sum("non_actionable_pages"),
        sum("answered_pages"),
        sum("paid_minor"),
        sum("responder_time_minor"),
        sum("interruption_overhead_minor"),
        sum("recovery_minor"),
        max("paid_scale"),
        max("responder_time_scale"),
        max("interruption_overhead_scale"),
        max("recovery_scale"),
    );
    let query = diesel::sql_query(sql).bind::<BigInt, _>(from_day).bind::<BigInt, _>(to_day);
    Ok(crate::with_backend!(conn, |inner| query.load::<DebtSum>(inner))?)
}

/// Page counts over `[from_day, to_day)` per team, service and alert key.
#[derive(Debug, Clone, QueryableByName)]
pub struct PagesSum {
    #[diesel(sql_type = Nullable<Text>)]
    pub team: Option<String>,
    #[diesel(sql_type = Text)]
    pub service: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub alert_key: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub pages: i64,
    #[diesel(sql_type = BigInt)]
    pub answered_pages: i64,
    #[diesel(sql_type = BigInt)]
    pub non_actionable_pages: i64,
}

pub fn pages_sums(conn: &mut AnyConnection, from_day: i64, to_day: i64) -> Result<Vec<PagesSum>, StorageError> {
    let (first, second) = placeholders(conn);
    let sql = format!(
        "SELECT team, service, alert_key, CAST(SUM(pages) AS BIGINT) AS pages, \
         CAST(SUM(answered_pages) AS BIGINT) AS answered_pages, \
         CAST(SUM(non_actionable_pages) AS BIGINT) AS non_actionable_pages FROM rollup_pages \
         WHERE day >= {first} AND day < {second} GROUP BY team, service, alert_key"
    );
    let query = diesel::sql_query(sql).bind::<BigInt, _>(from_day).bind::<BigInt, _>(to_day);
    Ok(crate::with_backend!(conn, |inner| query.load::<PagesSum>(inner))?)
}

/// Pages acknowledged per person over `[from_day, to_day)`.
#[derive(Debug, Clone, QueryableByName)]
pub struct PeopleSum {
    #[diesel(sql_type = Text)]
    pub person: String,
    #[diesel(sql_type = BigInt)]
    pub pages: i64,
    #[diesel(sql_type = BigInt)]
    pub out_of_hours_pages: i64,
    #[diesel(sql_type = BigInt)]
    pub night_pages: i64,
}

pub fn people_sums(conn: &mut AnyConnection, from_day: i64, to_day: i64) -> Result<Vec<PeopleSum>, StorageError> {
    let (first, second) = placeholders(conn);
    let sql = format!(
        "SELECT person, CAST(SUM(pages) AS BIGINT) AS pages, \
         CAST(SUM(out_of_hours_pages) AS BIGINT) AS out_of_hours_pages, \
         CAST(SUM(night_pages) AS BIGINT) AS night_pages FROM rollup_people \
         WHERE day >= {first} AND day < {second} GROUP BY person"
    );
    let query = diesel::sql_query(sql).bind::<BigInt, _>(from_day).bind::<BigInt, _>(to_day);
    Ok(crate::with_backend!(conn, |inner| query.load::<PeopleSum>(inner))?)
}

/// (person, night) pairs over `[from_day, to_day)`.
pub fn bad_nights(conn: &mut AnyConnection, from_day: i64, to_day: i64) -> Result<Vec<(String, String)>, StorageError> {
    Ok(rollup_bad_nights::table
        .filter(rollup_bad_nights::day.ge(from_day))
        .filter(rollup_bad_nights::day.lt(to_day))
        .select((rollup_bad_nights::person, rollup_bad_nights::night))
        .distinct()
        .load(conn)?)
}

/// (page team, person) pairs over `[from_day, to_day)`.
pub fn missing_rates(
    conn: &mut AnyConnection,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<(Option<String>, String)>, StorageError> {
    Ok(rollup_missing_rates::table
        .filter(rollup_missing_rates::day.ge(from_day))
        .filter(rollup_missing_rates::day.lt(to_day))
        .select((rollup_missing_rates::team, rollup_missing_rates::person))
        .distinct()
        .load(conn)?)
}

/// (dimension, key, ack histogram, resolve histogram).
pub type TimesSum = (String, String, Vec<u8>, Vec<u8>);

/// The response-time rows over `[from_day, to_day)`.
pub fn times(conn: &mut AnyConnection, from_day: i64, to_day: i64) -> Result<Vec<TimesSum>, StorageError> {
    Ok(rollup_response_times::table
        .filter(rollup_response_times::day.ge(from_day))
        .filter(rollup_response_times::day.lt(to_day))
        .select((
            rollup_response_times::dimension,
            rollup_response_times::key,
            rollup_response_times::ack,
            rollup_response_times::resolve,
        ))
        .load(conn)?)
}

/// Forgets the fingerprint: the next refresh marks every day dirty.
pub fn forget_fingerprint(conn: &mut AnyConnection) -> Result<(), StorageError> {
    diesel::delete(rollup_state::table).execute(conn)?;
    Ok(())
}
