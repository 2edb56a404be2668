//! The dashboard's per-day rollup tables (migration 000008): dirty marks, the rows of one
//! day replaced at once, and the range reads (sums done by the database).

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::schema::{
    rollup_bad_nights, rollup_day_versions, rollup_debt, rollup_dirty, rollup_dirty_months, rollup_missing_rates,
    rollup_pages, rollup_people, rollup_response_times, rollup_state,
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

/// How many distinct days wait to be recomputed (the rollup's backlog, for `/metrics`).
pub fn dirty_day_count(conn: &mut AnyConnection) -> Result<i64, StorageError> {
    Ok(rollup_dirty::table.select(diesel::dsl::count(rollup_dirty::day).aggregate_distinct()).first(conn)?)
}

/// Takes the recomputation lock for the rest of the transaction (PostgreSQL; a no-op on
/// SQLite, whose write transaction already excludes every other writer).
pub fn lock(conn: &mut AnyConnection) -> Result<(), StorageError> {
    if let AnyConnection::Postgresql(inner) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ROLLUP_LOCK_KEY})")).execute(inner)?;
    }
    Ok(())
}

/// The marks of one day, claimed or not.
pub fn marks(conn: &mut AnyConnection, day: i64) -> Result<Vec<i64>, StorageError> {
    Ok(rollup_dirty::table.filter(rollup_dirty::day.eq(day)).select(rollup_dirty::seq).load(conn)?)
}

/// Claims the marks of one day and returns them all, to delete once the day is
/// recomputed from facts read after this. Commit before reading the facts: a change that
/// finds a claimed mark then adds its own, and one that found the mark unclaimed was
/// committed before the claim, so the facts read include it (see [`mark_days`]).
pub fn claim_marks(conn: &mut AnyConnection, day: i64) -> Result<Vec<i64>, StorageError> {
    diesel::update(rollup_dirty::table.filter(rollup_dirty::day.eq(day)).filter(rollup_dirty::claimed.eq(false)))
        .set(rollup_dirty::claimed.eq(true))
        .execute(conn)?;
    marks(conn, day)
}

/// Deletes the marks seen that are still there (a mark added meanwhile keeps the day dirty).
pub fn clear_marks(conn: &mut AnyConnection, seen: &[i64]) -> Result<(), StorageError> {
    for chunk in seen.chunks(500) {
        diesel::delete(rollup_dirty::table.filter(rollup_dirty::seq.eq_any(chunk))).execute(conn)?;
    }
    Ok(())
}

/// Which recomputation of the day wrote its rows last (0: none yet).
pub fn day_version(conn: &mut AnyConnection, day: i64) -> Result<i64, StorageError> {
    Ok(rollup_day_versions::table.find(day).select(rollup_day_versions::version).first(conn).optional()?.unwrap_or(0))
}

/// Records that the day's rows were just written by the recomputation after `version`.
pub fn set_day_version(conn: &mut AnyConnection, day: i64, version: i64) -> Result<(), StorageError> {
    diesel::delete(rollup_day_versions::table.find(day)).execute(conn)?;
    diesel::insert_into(rollup_day_versions::table)
        .values((rollup_day_versions::day.eq(day), rollup_day_versions::version.eq(version)))
        .execute(conn)?;
    Ok(())
}

/// Marks these days dirty, in the posting's transaction: a recomputation deletes only the
/// marks it claimed, so a mark it has not claimed keeps the day dirty until a
/// recomputation reads this posting's entries.
///
/// On SQLite a day that already has an unclaimed mark gets no other. Postings are
/// serialised there, and that mark's recomputation claims it after this commits, then
/// reads. Replacing each day's mark instead (a delete and an insert per day) was 4 % of a
/// year's first accrual's posting thread at 1,000,000 pages; appending, before that, left
/// 1,770,138 marks for 359 days, each posting writing a page of the day index per day.
///
/// On PostgreSQL postings run side by side, and may not see each other's marks; marks are
/// appended. (Replacing them there with a `DELETE … FOR UPDATE SKIP LOCKED`, which never
/// waits, was measured: 46,411-47,857 ledger lines/s for a year's first accrual against
/// 54,219-56,439 appending.)
pub fn mark_days(conn: &mut AnyConnection, days: &BTreeSet<i64>) -> Result<(), StorageError> {
    match conn {
        // One statement whatever the number of days, prepared once per connection.
        AnyConnection::Sqlite(c) if !days.is_empty() => {
            use super::sqlite_list::{ListStatement, integers};
            let days = integers(days);
            ListStatement::new(
                "INSERT INTO rollup_dirty (day) SELECT value FROM json_each(",
                &days,
                ") WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty WHERE day = value AND NOT claimed)",
            )
            .execute(c)?;
        }
        AnyConnection::Sqlite(_) => {}
        AnyConnection::Postgresql(c) => {
            let marks: Vec<_> = days.iter().map(|day| rollup_dirty::day.eq(*day)).collect();
            for chunk in marks.chunks(500) {
                diesel::insert_into(rollup_dirty::table).values(chunk).execute(c)?;
            }
        }
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

/// Where a read sums from: day rows in `[from_day, to_day)`, or month rows in
/// `[from_month, to_month)` (`YYYY-MM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Days(i64, i64),
    Months(String, String),
}

impl Source {
    fn table(&self, days: &'static str, months: &'static str) -> (&'static str, &'static str) {
        match self {
            Source::Days(..) => (days, "day"),
            Source::Months(..) => (months, "month"),
        }
    }
}

fn load_sums<T>(conn: &mut AnyConnection, sql: String, source: &Source) -> Result<Vec<T>, StorageError>
where
    T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
{
    let rows = match source {
        Source::Days(from, to) => {
            let query = diesel::sql_query(sql).bind::<BigInt, _>(*from).bind::<BigInt, _>(*to);
            crate::with_backend!(conn, |inner| query.load::<T>(inner))?
        }
        Source::Months(from, to) => {
            let query = diesel::sql_query(sql).bind::<Text, _>(from.clone()).bind::<Text, _>(to.clone());
            crate::with_backend!(conn, |inner| query.load::<T>(inner))?
        }
    };
    Ok(rows)
}

pub fn debt_sums(conn: &mut AnyConnection, source: &Source, column: DebtColumn) -> Result<Vec<DebtSum>, StorageError> {
    let column = match column {
        DebtColumn::AlertKey => "alert_key",
        DebtColumn::Service => "service",
        DebtColumn::Team => "team",
        DebtColumn::Month => "month",
    };
    let (table, range) = source.table("rollup_debt", "rollup_debt_months");
    let (first, second) = placeholders(conn);
    let sql = format!(
        "SELECT {column} AS key, team, currency, {DEBT_SUMS} FROM {table} \
         WHERE {range} >= {first} AND {range} < {second} GROUP BY {column}, team, currency"
    );
    load_sums(conn, sql, source)
}

/// The sums and maxima of a debt row's figures, named as the columns.
const DEBT_SUMS: &str = "CAST(SUM(pages) AS BIGINT) AS pages, CAST(SUM(night_pages) AS BIGINT) AS night_pages, \
    CAST(SUM(out_of_hours_pages) AS BIGINT) AS out_of_hours_pages, \
    CAST(SUM(non_actionable_pages) AS BIGINT) AS non_actionable_pages, \
    CAST(SUM(answered_pages) AS BIGINT) AS answered_pages, CAST(SUM(paid_minor) AS BIGINT) AS paid_minor, \
    CAST(SUM(responder_time_minor) AS BIGINT) AS responder_time_minor, \
    CAST(SUM(interruption_overhead_minor) AS BIGINT) AS interruption_overhead_minor, \
    CAST(SUM(recovery_minor) AS BIGINT) AS recovery_minor, CAST(MAX(paid_scale) AS BIGINT) AS paid_scale, \
    CAST(MAX(responder_time_scale) AS BIGINT) AS responder_time_scale, \
    CAST(MAX(interruption_overhead_scale) AS BIGINT) AS interruption_overhead_scale, \
    CAST(MAX(recovery_scale) AS BIGINT) AS recovery_scale";

const PAGES_SUMS: &str = "CAST(SUM(pages) AS BIGINT) AS pages, \
    CAST(SUM(answered_pages) AS BIGINT) AS answered_pages, \
    CAST(SUM(non_actionable_pages) AS BIGINT) AS non_actionable_pages";

/// Marks a month to re-sum from its days (under the recomputation lock).
pub fn mark_month(conn: &mut AnyConnection, month: &str) -> Result<(), StorageError> {
    let marked: i64 =
        rollup_dirty_months::table.filter(rollup_dirty_months::month.eq(month)).count().get_result(conn)?;
    if marked == 0 {
        diesel::insert_into(rollup_dirty_months::table).values(rollup_dirty_months::month.eq(month)).execute(conn)?;
    }
    Ok(())
}

/// The months marked to re-sum.
pub fn dirty_months(conn: &mut AnyConnection) -> Result<Vec<String>, StorageError> {
    Ok(rollup_dirty_months::table.select(rollup_dirty_months::month).order(rollup_dirty_months::month).load(conn)?)
}

/// Re-sums `month` (its days are `[from_day, to_day)`) from the day rows, and unmarks it.
pub fn resum_month(conn: &mut AnyConnection, month: &str, from_day: i64, to_day: i64) -> Result<(), StorageError> {
    let (first, second, third) = match conn {
        AnyConnection::Sqlite(_) => ("?", "?", "?"),
        AnyConnection::Postgresql(_) => ("$1", "$2", "$3"),
    };
    let debt = format!(
        "INSERT INTO rollup_debt_months (month, team, service, alert_key, currency, pages, night_pages, \
         out_of_hours_pages, non_actionable_pages, answered_pages, paid_minor, responder_time_minor, \
         interruption_overhead_minor, recovery_minor, paid_scale, responder_time_scale, \
         interruption_overhead_scale, recovery_scale) \
         SELECT {first}, team, service, alert_key, currency, {DEBT_SUMS} FROM rollup_debt \
         WHERE day >= {second} AND day < {third} GROUP BY team, service, alert_key, currency"
    );
    let pages = format!(
        "INSERT INTO rollup_pages_months (month, team, service, alert_key, pages, answered_pages, \
         non_actionable_pages) SELECT {first}, team, service, alert_key, {PAGES_SUMS} FROM rollup_pages \
         WHERE day >= {second} AND day < {third} GROUP BY team, service, alert_key"
    );
    for table in ["rollup_debt_months", "rollup_pages_months"] {
        let query = diesel::sql_query(format!("DELETE FROM {table} WHERE month = {first}")).bind::<Text, _>(month);
        crate::with_backend!(&mut *conn, |inner| query.execute(inner))?;
    }
    for sql in [debt, pages] {
        let query = diesel::sql_query(sql).bind::<Text, _>(month).bind::<BigInt, _>(from_day).bind::<BigInt, _>(to_day);
        crate::with_backend!(&mut *conn, |inner| query.execute(inner))?;
    }
    diesel::delete(rollup_dirty_months::table.filter(rollup_dirty_months::month.eq(month))).execute(conn)?;
    Ok(())
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

pub fn pages_sums(conn: &mut AnyConnection, source: &Source) -> Result<Vec<PagesSum>, StorageError> {
    let (table, range) = source.table("rollup_pages", "rollup_pages_months");
    let (first, second) = placeholders(conn);
    let sql = format!(
        "SELECT team, service, alert_key, {PAGES_SUMS} FROM {table} \
         WHERE {range} >= {first} AND {range} < {second} GROUP BY team, service, alert_key"
    );
    load_sums(conn, sql, source)
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
