//! The pay journal: which people's pay became stale, and from when.
//!
//! Rows are written by database triggers on the facts' tables (see the migration
//! `000010_pay_journal`), in the same transaction as the change, whatever process made
//! it. The accrual worker reads a person's rows, re-prices them, and deletes exactly the
//! rows it read (never "up to a sequence number": PostgreSQL may commit sequence numbers
//! out of order). Time passing is a change too: the horizon sweep journals the people
//! whose standby the passing of a local midnight completes.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{pay_journal, settings, shifts};
use super::{AnyConnection, StorageError};
use crate::domain::timestamp::{from_naive, to_naive};

/// Most journal rows bound in one `IN (…)` list.
const SEQS_PER_STATEMENT_MAX: usize = 500;
/// People folded by one statement of [`mark_many`] (two bound values each).
const FOLDED_PEOPLE_PER_STATEMENT_MAX: usize = 500;
/// How far before the old horizon the sweep re-prices: a local day that ended between the
/// two horizons started at most 14 h + 24 h before the old one.
const SWEEP_LOOKBACK_HOURS: i64 = 48;
const HORIZON_KEY: &str = "accrual_horizon";

/// What the journal holds for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonMarks {
    pub person: String,
    /// The exact rows seen: the ones a successful posting deletes.
    pub seqs: Vec<i64>,
    /// The earliest instant any of them names.
    pub from: DateTime<Utc>,
}

/// People with journal rows that have not failed, oldest first, at most `limit`.
pub fn pending_people(conn: &mut AnyConnection, limit: i64) -> Result<Vec<String>, StorageError> {
    let rows: Vec<(String, Option<i64>)> = pay_journal::table
        .filter(pay_journal::problem.is_null())
        .group_by(pay_journal::person_id)
        .select((pay_journal::person_id, diesel::dsl::min(pay_journal::seq)))
        .order(diesel::dsl::min(pay_journal::seq))
        .limit(limit)
        .load(conn)?;
    Ok(rows.into_iter().map(|(person, _)| person).collect())
}

/// Whether anything waits to be priced (a cheap probe: the worker's idle poll).
pub fn has_pending(conn: &mut AnyConnection) -> Result<bool, StorageError> {
    let first: Option<i64> =
        pay_journal::table.filter(pay_journal::problem.is_null()).select(pay_journal::seq).first(conn).optional()?;
    Ok(first.is_some())
}

/// Rows waiting (failed ones included) and the oldest waiting row's time, for `/readyz`.
pub fn backlog(conn: &mut AnyConnection) -> Result<(i64, Option<DateTime<Utc>>), StorageError> {
    let count: i64 = pay_journal::table.filter(pay_journal::problem.is_null()).count().get_result(conn)?;
    let oldest: Option<NaiveDateTime> = pay_journal::table
        .filter(pay_journal::problem.is_null())
        .select(diesel::dsl::min(pay_journal::recorded_at))
        .first(conn)?;
    Ok((count, oldest.map(from_naive)))
}

/// People who could not be priced, with the reason recorded.
pub fn unpriced(conn: &mut AnyConnection) -> Result<Vec<(String, String)>, StorageError> {
    let rows: Vec<(String, Option<String>)> = pay_journal::table
        .filter(pay_journal::problem.is_not_null())
        .select((pay_journal::person_id, pay_journal::problem))
        .distinct()
        .order(pay_journal::person_id)
        .load(conn)?;
    let mut seen = std::collections::BTreeMap::new();
    for (person, problem) in rows {
        seen.entry(person).or_insert_with(|| problem.unwrap_or_default());
    }
    Ok(seen.into_iter().collect())
}

/// Every row of one person (failed ones included: a new change retries them all).
pub fn marks(conn: &mut AnyConnection, person: &str) -> Result<Option<PersonMarks>, StorageError> {
    let rows: Vec<(i64, NaiveDateTime)> = pay_journal::table
        .filter(pay_journal::person_id.eq(person))
        .select((pay_journal::seq, pay_journal::from_at))
        .load(conn)?;
    let Some(from) = rows.iter().map(|(_, from)| *from).min() else {
        return Ok(None);
    };
    Ok(Some(PersonMarks {
        person: person.to_owned(),
        seqs: rows.into_iter().map(|(seq, _)| seq).collect(),
        from: from_naive(from),
    }))
}

/// Whether every row of `marks` is still there: false when another worker priced them.
pub fn all_present(conn: &mut AnyConnection, marks: &PersonMarks) -> Result<bool, StorageError> {
    let present: usize = match (&mut *conn, marks.seqs.iter().max()) {
        (_, None) => 0,
        // SQLite numbers the rows in commit order (one writer; AUTOINCREMENT never reuses
        // a number), so every row of the person up to the newest one seen is one of those
        // seen: counting them is a range of the (person, seq) index, not a look-up per row.
        (AnyConnection::Sqlite(c), Some(newest)) => {
            let count: i64 = pay_journal::table
                .filter(pay_journal::person_id.eq(&marks.person))
                .filter(pay_journal::seq.le(newest))
                .count()
                .get_result(c)?;
            usize::try_from(count).unwrap_or(0)
        }
        // PostgreSQL's sequence numbers may commit out of order: the rows seen, one by one.
        (AnyConnection::Postgresql(c), Some(_)) => {
            let mut present = 0usize;
            for chunk in marks.seqs.chunks(SEQS_PER_STATEMENT_MAX) {
                let count: i64 = pay_journal::table.filter(pay_journal::seq.eq_any(chunk)).count().get_result(c)?;
                present += usize::try_from(count).unwrap_or(0);
            }
            present
        }
    };
    Ok(present == marks.seqs.len())
}

/// Deletes exactly the rows of `marks` (on SQLite, as a range: see [`all_present`]).
pub fn clear(conn: &mut AnyConnection, marks: &PersonMarks) -> Result<(), StorageError> {
    match (&mut *conn, marks.seqs.iter().max()) {
        (_, None) => {}
        (AnyConnection::Sqlite(c), Some(newest)) => {
            diesel::delete(
                pay_journal::table.filter(pay_journal::person_id.eq(&marks.person)).filter(pay_journal::seq.le(newest)),
            )
            .execute(c)?;
        }
        (AnyConnection::Postgresql(c), Some(_)) => {
            for chunk in marks.seqs.chunks(SEQS_PER_STATEMENT_MAX) {
                diesel::delete(pay_journal::table.filter(pay_journal::seq.eq_any(chunk))).execute(c)?;
            }
        }
    }
    Ok(())
}

/// Reclaims the journal's deleted rows on PostgreSQL (`VACUUM`, which must run outside a
/// transaction and blocks no reader or writer); SQLite reuses their pages by itself.
pub fn vacuum(conn: &mut AnyConnection) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Postgresql(c) = conn {
        c.batch_execute("VACUUM (ANALYZE) pay_journal")?;
    }
    Ok(())
}

/// Marks these rows as failed with `problem`: they wait for the person's next change.
pub fn fail(conn: &mut AnyConnection, seqs: &[i64], problem: &str) -> Result<(), StorageError> {
    for chunk in seqs.chunks(SEQS_PER_STATEMENT_MAX) {
        diesel::update(pay_journal::table.filter(pay_journal::seq.eq_any(chunk)))
            .set(pay_journal::problem.eq(Some(problem)))
            .execute(conn)?;
    }
    Ok(())
}

/// Journals a person from `from` (a repair: `paydown accrue --all`).
pub fn mark(conn: &mut AnyConnection, person: &str, from: DateTime<Utc>) -> Result<(), StorageError> {
    diesel::insert_into(pay_journal::table)
        .values((pay_journal::person_id.eq(person), pay_journal::from_at.eq(to_naive(from))))
        .execute(conn)?;
    Ok(())
}

/// Journals many people at once (the importer's batches, which bypass the row triggers).
///
/// On SQLite each person's rows are folded into one: the new row names the earliest
/// instant and the oldest wait of those it replaces. An import of a year in batches used
/// to leave a row per person per batch (400,000 for 1,000,000 pages), scattered over the
/// table, so that the posting that cleared a person rewrote about 80 journal pages. A
/// worker that read the replaced rows finds them gone when it posts and prices the person
/// again ([`all_present`]); SQLite has one writer, so no two imports fold at once.
pub fn mark_many(conn: &mut AnyConnection, marks: &[(String, DateTime<Utc>)]) -> Result<(), StorageError> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    let AnyConnection::Sqlite(c) = conn else {
        for (person, from) in marks {
            mark(conn, person, *from)?;
        }
        return Ok(());
    };
    #[derive(QueryableByName)]
    struct Newest {
        #[diesel(sql_type = BigInt)]
        seq: i64,
    }
    for chunk in marks.chunks(FOLDED_PEOPLE_PER_STATEMENT_MAX) {
        let before: Newest = diesel::sql_query("SELECT COALESCE(MAX(seq), 0) AS seq FROM pay_journal").get_result(c)?;
        let values = vec!["(?, ?)"; chunk.len()].join(", ");
        let mut insert = diesel::sql_query(format!(
            "INSERT INTO pay_journal (person_id, from_at, recorded_at) \
             SELECT v.column1, MIN(v.column2, COALESCE((SELECT MIN(from_at) FROM pay_journal j WHERE j.person_id = v.column1), v.column2)), \
             COALESCE((SELECT MIN(recorded_at) FROM pay_journal j WHERE j.person_id = v.column1), strftime('%Y-%m-%d %H:%M:%f', 'now')) \
             FROM (VALUES {values}) v"
        ))
        .into_boxed();
        for (person, from) in chunk {
            insert = insert.bind::<Text, _>(person.as_str()).bind::<Timestamp, _>(to_naive(*from));
        }
        insert.execute(c)?;
        diesel::sql_query(
            "DELETE FROM pay_journal WHERE seq <= ?1 \
             AND person_id IN (SELECT person_id FROM pay_journal WHERE seq > ?1)",
        )
        .bind::<BigInt, _>(before.seq)
        .execute(c)?;
    }
    Ok(())
}

/// The instant standby has been priced up to (rounded down to a quarter hour: every
/// zone's midnight falls on one), if a sweep ever ran.
pub fn horizon(conn: &mut AnyConnection) -> Result<Option<DateTime<Utc>>, StorageError> {
    Ok(super::setting(conn, HORIZON_KEY)?
        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map(|at| at.with_timezone(&Utc)))
}

/// The horizon for `now`: the last quarter hour at or before it.
pub fn horizon_for(now: DateTime<Utc>) -> DateTime<Utc> {
    const QUARTER_SECONDS: i64 = 15 * 60;
    let seconds = now.timestamp();
    let floored = seconds - seconds.rem_euclid(QUARTER_SECONDS);
    DateTime::<Utc>::from_timestamp(floored, 0).unwrap_or(now)
}

/// Stores `new` as the horizon unless a later one is stored; returns whether it did. One
/// statement, so two servers advancing the horizon at once (both read the same old value)
/// serialise on the row instead of both inserting it. The stored texts are fixed-width
/// RFC 3339 in UTC, so text order is time order.
fn store_horizon_if_later(
    conn: &mut AnyConnection,
    new: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<bool, StorageError> {
    use diesel::query_dsl::methods::FilterDsl;
    use diesel::upsert::excluded;
    let values = (
        settings::key.eq(HORIZON_KEY),
        settings::value.eq(crate::domain::timestamp::format_rfc3339(&new)),
        settings::updated_at.eq(to_naive(at)),
    );
    let stored = crate::with_backend!(conn, |c| diesel::insert_into(settings::table)
        .values(values.clone())
        .on_conflict(settings::key)
        .do_update()
        .set((settings::value.eq(excluded(settings::value)), settings::updated_at.eq(excluded(settings::updated_at))))
        .filter(settings::value.lt(excluded(settings::value)))
        .execute(c))?;
    Ok(stored > 0)
}

/// Moves the horizon to `new` (never back) and journals the people whose standby may have
/// completed a day in between. Returns whether it moved. Runs in the caller's transaction.
pub fn advance_horizon(conn: &mut AnyConnection, new: DateTime<Utc>, at: DateTime<Utc>) -> Result<bool, StorageError> {
    let old = horizon(conn)?;
    if old.is_some_and(|old| old >= new) {
        return Ok(false);
    }
    if !store_horizon_if_later(conn, new, at)? {
        return Ok(false);
    }
    if let Some(old) = old {
        let since = old - Duration::hours(SWEEP_LOOKBACK_HOURS);
        let people: Vec<String> = shifts::table
            .filter(shifts::start_at.gt(to_naive(since - Duration::days(crate::domain::shift::SHIFT_DAYS_MAX))))
            .filter(shifts::start_at.lt(to_naive(new)))
            .filter(shifts::end_at.gt(to_naive(since)))
            .select(shifts::person_id)
            .distinct()
            .load(conn)?;
        for person in people {
            mark(conn, &person, since)?;
        }
    }
    Ok(true)
}
