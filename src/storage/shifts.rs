//! Shifts: idempotent by `(source, external_id)`; a changed shift is updated in place
//! (facts may be corrected; the ledger, not the facts, keeps history).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::pages::Recorded;
use super::schema::shifts;
use super::sqlite_text::SqliteTimestamp;
use super::{AnyConnection, StorageError, write_transaction};
use crate::domain::field_error::FieldError;
use crate::domain::shift::ShiftRole;
use crate::domain::timestamp::{from_naive, to_naive};

/// A shift as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Shift {
    pub id: String,
    pub person: String,
    pub role: ShiftRole,
    pub schedule: Option<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub start: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub end: DateTime<Utc>,
    pub source: String,
    pub external_id: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct ShiftRow {
    id: String,
    person_id: String,
    role: String,
    schedule: Option<String>,
    start_at: NaiveDateTime,
    end_at: NaiveDateTime,
    source: String,
    external_id: String,
    created_at: NaiveDateTime,
}

impl From<ShiftRow> for Shift {
    fn from(row: ShiftRow) -> Shift {
        Shift {
            id: row.id,
            person: row.person_id,
            role: ShiftRole::parse(&row.role).unwrap_or(ShiftRole::Primary),
            schedule: row.schedule,
            start: from_naive(row.start_at),
            end: from_naive(row.end_at),
            source: row.source,
            external_id: row.external_id,
            created_at: from_naive(row.created_at),
        }
    }
}

/// A validated shift to record.
#[derive(Debug, Clone)]
pub struct NewShift {
    pub person: String,
    pub role: ShiftRole,
    pub schedule: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub source: String,
    pub external_id: String,
}

/// Records shifts in one transaction: all or none. An error names the index of the
/// shift at fault (`shifts[3].person`) when `batch` is true.
pub fn record_all(
    conn: &mut AnyConnection,
    new_shifts: &[NewShift],
    stamp: &super::Stamp,
    field_prefix: Option<&str>,
) -> Result<Vec<(Shift, Recorded)>, StorageError> {
    write_transaction(conn, |conn| {
        let mut recorded = Vec::with_capacity(new_shifts.len());
        for (index, shift) in new_shifts.iter().enumerate() {
            let result = record_one(conn, shift, stamp).map_err(|error| match (error, field_prefix) {
                (StorageError::Invalid(field), Some(prefix)) => {
                    StorageError::Invalid(field.within(&format!("{prefix}[{index}]")))
                }
                (error, _) => error,
            })?;
            recorded.push(result);
        }
        Ok(recorded)
    })
}

/// The SQLite trigger that journals a new shift's person, row by row.
const SHIFT_INSERT_TRIGGERS: [&str; 1] = ["pay_journal_shift_insert"];

/// Records a batch of imported shifts, whose people the caller has resolved, in one write
/// transaction: each is offered as a new row and skipped by the `(source, external_id)`
/// key when it exists (the unique index answers "is it known?" in the same step), and
/// only the rows turned away are looked up and compared. One audit record per batch.
pub fn import_batch(
    conn: &mut AnyConnection,
    new_shifts: &[NewShift],
    stamp: &super::Stamp,
) -> Result<super::import::BatchOutcome, StorageError> {
    write_transaction(conn, |conn| {
        let mut outcome = super::import::BatchOutcome::default();
        let created_at = to_naive(stamp.at);
        let mut turned_away = Vec::new();
        // SQLite's per-row journal trigger is dropped for the batch; the batch journals
        // each person once, from their earliest new shift (PostgreSQL's trigger is
        // per statement already).
        let mut journaled: std::collections::BTreeMap<&str, DateTime<Utc>> = std::collections::BTreeMap::new();
        super::import::without_triggers(conn, &SHIFT_INSERT_TRIGGERS, |conn| {
            let created = insert_new(conn, new_shifts, created_at)?;
            for (shift, was_created) in new_shifts.iter().zip(created) {
                if was_created {
                    outcome.created += 1;
                    let from = journaled.entry(shift.person.as_str()).or_insert(shift.start);
                    *from = (*from).min(shift.start);
                } else {
                    turned_away.push(shift);
                }
            }
            if matches!(conn, AnyConnection::Sqlite(_)) {
                let marks: Vec<(String, DateTime<Utc>)> =
                    journaled.iter().map(|(person, from)| ((*person).to_owned(), *from)).collect();
                super::journal::mark_many(conn, &marks)?;
            }
            Ok(())
        })?;
        for shift in turned_away {
            let existing = by_key(conn, shift)?
                .ok_or_else(|| StorageError::NotFound { entity: "shift", id: shift.external_id.clone() })?;
            let stored = Shift::from(existing);
            if same_shift(&stored, shift) {
                outcome.unchanged += 1;
                continue;
            }
            diesel::update(shifts::table.find(&stored.id))
                .set((
                    shifts::person_id.eq(&shift.person),
                    shifts::role.eq(shift.role.as_str()),
                    shifts::schedule.eq(&shift.schedule),
                    shifts::start_at.eq(to_naive(shift.start)),
                    shifts::end_at.eq(to_naive(shift.end)),
                ))
                .execute(conn)?;
            outcome.updated += 1;
        }
        super::audit::record(
            conn,
            stamp,
            "import",
            "shifts",
            &format!("batch of {}", new_shifts.len()),
            Some(format!("{} created, {} updated, {} unchanged", outcome.created, outcome.updated, outcome.unchanged)),
        )?;
        Ok(outcome)
    })
}

/// The columns of a new shift's row.
#[allow(clippy::type_complexity)]
fn new_row<'a>(
    shift: &'a NewShift,
    id: &'a str,
    created_at: NaiveDateTime,
) -> (
    diesel::dsl::Eq<shifts::id, &'a str>,
    diesel::dsl::Eq<shifts::person_id, &'a str>,
    diesel::dsl::Eq<shifts::role, &'static str>,
    diesel::dsl::Eq<shifts::schedule, Option<&'a str>>,
    diesel::dsl::Eq<shifts::start_at, NaiveDateTime>,
    diesel::dsl::Eq<shifts::end_at, NaiveDateTime>,
    diesel::dsl::Eq<shifts::source, &'a str>,
    diesel::dsl::Eq<shifts::external_id, &'a str>,
    diesel::dsl::Eq<shifts::created_at, NaiveDateTime>,
) {
    (
        shifts::id.eq(id),
        shifts::person_id.eq(shift.person.as_str()),
        shifts::role.eq(shift.role.as_str()),
        shifts::schedule.eq(shift.schedule.as_deref()),
        shifts::start_at.eq(to_naive(shift.start)),
        shifts::end_at.eq(to_naive(shift.end)),
        shifts::source.eq(shift.source.as_str()),
        shifts::external_id.eq(shift.external_id.as_str()),
        shifts::created_at.eq(created_at),
    )
}

/// Rows of shifts per multi-row `INSERT OR IGNORE` on SQLite (9 bound values each).
const SHIFTS_PER_STATEMENT: usize = 100;
/// Rows of shifts per `INSERT … ON CONFLICT DO NOTHING` on PostgreSQL.
const SHIFTS_PER_POSTGRES_STATEMENT: usize = 500;
/// Rows per SQLite statement for what is left of a batch after its statements of
/// [`SHIFTS_PER_STATEMENT`]; the last few go in one row at a time.
const SHIFTS_PER_SHORT_STATEMENT: usize = 10;

/// Offers each shift as a new row; returns, in order, whether each was created (a row whose
/// `(source, external_id)` exists, or repeats an earlier row of the batch, is not). Many
/// rows per statement instead of one per row: a statement's own cost (bind, step, halt,
/// statement journal) was most of a shift's import. SQLite says how many rows went in, and
/// the statement's ids are read back only when some did not; PostgreSQL's
/// `ON CONFLICT DO NOTHING … RETURNING id` names them.
fn insert_new(
    conn: &mut AnyConnection,
    new_shifts: &[NewShift],
    created_at: NaiveDateTime,
) -> Result<Vec<bool>, StorageError> {
    let mut created = Vec::with_capacity(new_shifts.len());
    match conn {
        AnyConnection::Sqlite(c) => {
            let created_at = SqliteTimestamp::new(from_naive(created_at));
            let mut rest = new_shifts;
            offer_sqlite_rows::<SHIFTS_PER_STATEMENT>(c, &mut rest, &created_at, &mut created)?;
            offer_sqlite_rows::<SHIFTS_PER_SHORT_STATEMENT>(c, &mut rest, &created_at, &mut created)?;
            offer_sqlite_rows::<1>(c, &mut rest, &created_at, &mut created)?;
        }
        AnyConnection::Postgresql(c) => {
            for chunk in new_shifts.chunks(SHIFTS_PER_POSTGRES_STATEMENT) {
                let ids: Vec<String> = chunk.iter().map(|_| uuid::Uuid::now_v7().to_string()).collect();
                let rows: Vec<_> = chunk.iter().zip(&ids).map(|(shift, id)| new_row(shift, id, created_at)).collect();
                let kept: std::collections::HashSet<String> = diesel::insert_into(shifts::table)
                    .values(rows)
                    .on_conflict((shifts::source, shifts::external_id))
                    .do_nothing()
                    .returning(shifts::id)
                    .get_results(c)?
                    .into_iter()
                    .collect();
                created.extend(ids.iter().map(|id| kept.contains(id)));
            }
        }
    }
    Ok(created)
}

/// A new shift's row for SQLite, its id drawn and its times already spelled as diesel
/// spells them.
struct SqliteShiftRow<'a> {
    id: String,
    shift: &'a NewShift,
    start: SqliteTimestamp,
    end: SqliteTimestamp,
}

impl<'a> From<&'a NewShift> for SqliteShiftRow<'a> {
    fn from(shift: &'a NewShift) -> SqliteShiftRow<'a> {
        SqliteShiftRow {
            id: uuid::Uuid::now_v7().to_string(),
            shift,
            start: SqliteTimestamp::new(shift.start),
            end: SqliteTimestamp::new(shift.end),
        }
    }
}

/// `INSERT OR IGNORE INTO shifts … VALUES (…), …` of exactly `N` rows: its own type with a
/// static query id per `N`, so diesel prepares it once per connection (a statement built
/// from a vector is parsed anew each time: 7.5 % of an import).
struct InsertShiftRows<'a, const N: usize> {
    rows: &'a [SqliteShiftRow<'a>; N],
    created_at: &'a SqliteTimestamp,
}

impl<const N: usize> diesel::query_builder::QueryId for InsertShiftRows<'_, N> {
    type QueryId = InsertShiftRows<'static, N>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const N: usize> diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for InsertShiftRows<'_, N> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Nullable, Text, Timestamp};
        out.push_sql(
            "INSERT OR IGNORE INTO shifts (id, person_id, role, schedule, start_at, end_at, source, external_id, \
             created_at) VALUES ",
        );
        for (index, row) in self.rows.iter().enumerate() {
            if index > 0 {
                out.push_sql(", ");
            }
            push_values_row!(
                out,
                Text => &row.id,
                Text => &row.shift.person,
                Text => row.shift.role.as_str(),
                Nullable<Text> => &row.shift.schedule,
                Timestamp => &row.start,
                Timestamp => &row.end,
                Text => &row.shift.source,
                Text => &row.shift.external_id,
                Timestamp => self.created_at,
            );
        }
        Ok(())
    }
}

impl<const N: usize> RunQueryDsl<diesel::SqliteConnection> for InsertShiftRows<'_, N> {}

/// Offers the leading shifts of `rest` `N` at a time, while `N` remain, and notes whether
/// each was created.
fn offer_sqlite_rows<const N: usize>(
    conn: &mut diesel::SqliteConnection,
    rest: &mut &[NewShift],
    created_at: &SqliteTimestamp,
    created: &mut Vec<bool>,
) -> Result<(), StorageError> {
    while let Some((offered, tail)) = rest.split_first_chunk::<N>() {
        let rows: [SqliteShiftRow<'_>; N] = std::array::from_fn(|index| SqliteShiftRow::from(&offered[index]));
        let inserted = InsertShiftRows { rows: &rows, created_at }.execute(conn)?;
        if inserted == N {
            created.extend(std::iter::repeat_n(true, N));
        } else {
            let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
            let kept: std::collections::HashSet<String> =
                shifts::table.filter(shifts::id.eq_any(&ids)).select(shifts::id).load(conn)?.into_iter().collect();
            created.extend(rows.iter().map(|row| kept.contains(&row.id)));
        }
        *rest = tail;
    }
    Ok(())
}

fn record_one(
    conn: &mut AnyConnection,
    shift: &NewShift,
    stamp: &super::Stamp,
) -> Result<(Shift, Recorded), StorageError> {
    if super::people::find(conn, &shift.person)?.is_none() {
        return Err(StorageError::Invalid(FieldError::new("person", format!("unknown person `{}`", shift.person))));
    }
    let fields = (
        shifts::person_id.eq(&shift.person),
        shifts::role.eq(shift.role.as_str()),
        shifts::schedule.eq(&shift.schedule),
        shifts::start_at.eq(to_naive(shift.start)),
        shifts::end_at.eq(to_naive(shift.end)),
    );
    let existing = match by_key(conn, shift)? {
        Some(row) => row,
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            let values = (
                shifts::id.eq(&id),
                fields,
                shifts::source.eq(&shift.source),
                shifts::external_id.eq(&shift.external_id),
                shifts::created_at.eq(to_naive(stamp.at)),
            );
            // Two deliveries of one shift may race: on PostgreSQL both can find no row;
            // the loser's insert waits for the winner's commit and then updates as a repeat.
            let inserted = crate::with_backend!(conn, |c| diesel::insert_into(shifts::table)
                .values(values)
                .on_conflict((shifts::source, shifts::external_id))
                .do_nothing()
                .execute(c))?;
            if inserted == 1 {
                super::audit::record(conn, stamp, "create", "shift", &id, None)?;
                return Ok((get(conn, &id)?, Recorded::Created));
            }
            by_key(conn, shift)?
                .ok_or_else(|| StorageError::NotFound { entity: "shift", id: shift.external_id.clone() })?
        }
    };
    let id = existing.id.clone();
    let stored = Shift::from(existing);
    if !same_shift(&stored, shift) {
        diesel::update(shifts::table.find(&id)).set(fields).execute(conn)?;
        super::audit::record(conn, stamp, "update", "shift", &id, Some(format!("{shift:?}")))?;
    }
    Ok((get(conn, &id)?, Recorded::Existing))
}

/// Whether a delivered shift says what the stored one says.
fn same_shift(stored: &Shift, shift: &NewShift) -> bool {
    stored.person == shift.person
        && stored.role == shift.role
        && stored.schedule == shift.schedule
        && stored.start == shift.start
        && stored.end == shift.end
}

fn by_key(conn: &mut AnyConnection, shift: &NewShift) -> Result<Option<ShiftRow>, StorageError> {
    Ok(shifts::table
        .filter(shifts::source.eq(&shift.source))
        .filter(shifts::external_id.eq(&shift.external_id))
        .first::<ShiftRow>(conn)
        .optional()?)
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Shift, StorageError> {
    let row = shifts::table.find(id).first::<ShiftRow>(conn).optional()?;
    row.map(Shift::from).ok_or_else(|| StorageError::NotFound { entity: "shift", id: id.to_owned() })
}

/// Shifts of a person (or everyone) that overlap `[from, to)`, earliest first.
pub fn list(
    conn: &mut AnyConnection,
    person: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<Shift>, StorageError> {
    list_within(conn, person, None, from, to, limit)
}

/// As [`list`], of the people in `within` only (a caller's reach; `None`: everyone).
pub fn list_within(
    conn: &mut AnyConnection,
    person: Option<&str>,
    within: Option<&[String]>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<Shift>, StorageError> {
    let mut query = shifts::table.into_boxed();
    if let Some(person) = person {
        query = query.filter(shifts::person_id.eq(person));
    }
    if let Some(within) = within {
        query = query.filter(shifts::person_id.eq_any(within));
    }
    if let Some(from) = from {
        query = query.filter(shifts::end_at.gt(to_naive(from)));
    }
    if let Some(to) = to {
        query = query.filter(shifts::start_at.lt(to_naive(to)));
    }
    let rows = query.order((shifts::start_at, shifts::id)).limit(limit).load::<ShiftRow>(conn)?;
    Ok(rows.into_iter().map(Shift::from).collect())
}
