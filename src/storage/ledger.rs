//! Pay periods, accrual runs and ledger entries.
//!
//! Entries are only ever inserted; the database refuses UPDATE and DELETE on them and
//! any insert into a closed period (see the ledger migration), so the rules hold even
//! against code paths that forget them.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use super::schema::{accrual_runs, ledger_entries, pay_periods};
use super::{AnyConnection, StorageError};
use crate::domain::field_error::FieldError;
use crate::domain::period::{PeriodScheme, PeriodSpan};
use crate::domain::posting::EntryKind;
use crate::domain::timestamp::{from_naive, to_naive};

const SCHEME_KEY: &str = "pay_period_scheme";

/// The pay period scheme of this ledger (monthly unless configured).
pub fn scheme(conn: &mut AnyConnection) -> Result<PeriodScheme, StorageError> {
    match super::setting(conn, SCHEME_KEY)? {
        Some(text) => text.parse().map_err(StorageError::Unavailable),
        None => Ok(PeriodScheme::default()),
    }
}

/// Sets the scheme; refused once any period exists, because it would move history.
pub fn set_scheme(conn: &mut AnyConnection, scheme: PeriodScheme, stamp: &super::Stamp) -> Result<(), StorageError> {
    let now = stamp.at;
    super::write_transaction(conn, |conn| {
        let current = self::scheme(conn)?;
        let periods: i64 = pay_periods::table.count().get_result(conn)?;
        if periods > 0 && current != scheme {
            return Err(StorageError::Conflict(FieldError::new(
                "scheme",
                format!("the ledger already has pay periods under the {current} scheme; it cannot change"),
            )));
        }
        super::put_setting(conn, SCHEME_KEY, Some(scheme.to_string()), now)?;
        super::audit::record(conn, stamp, "configure", "ledger", SCHEME_KEY, Some(scheme.to_string()))?;
        Ok(())
    })
}

/// A pay period as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Period {
    pub id: String,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    /// The first day after the period.
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    /// `open` or `closed`.
    pub status: String,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

#[derive(Queryable)]
struct PeriodRow {
    id: String,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    status: String,
    closed_at: Option<NaiveDateTime>,
    closed_by: Option<String>,
    _created_at: NaiveDateTime,
}

impl From<PeriodRow> for Period {
    fn from(row: PeriodRow) -> Period {
        Period {
            id: row.id,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            status: row.status,
            closed_at: row.closed_at.map(from_naive),
            closed_by: row.closed_by,
        }
    }
}

impl Period {
    pub fn is_open(&self) -> bool {
        self.status == "open"
    }
}

/// Creates the period's row (open) unless it exists.
pub fn ensure_period(conn: &mut AnyConnection, span: &PeriodSpan, now: DateTime<Utc>) -> Result<(), StorageError> {
    ensure_periods(conn, &[span], now)
}

/// Creates the rows (open) of the periods that do not exist yet, in one statement.
fn ensure_periods(conn: &mut AnyConnection, spans: &[&PeriodSpan], now: DateTime<Utc>) -> Result<(), StorageError> {
    let created_at = to_naive(now);
    let rows: Vec<_> = spans
        .iter()
        .map(|span| {
            (
                pay_periods::id.eq(&span.id),
                pay_periods::starts_on.eq(span.starts_on),
                pay_periods::ends_on.eq(span.ends_on),
                pay_periods::status.eq("open"),
                pay_periods::created_at.eq(created_at),
            )
        })
        .collect();
    crate::with_backend!(conn, |c| diesel::insert_into(pay_periods::table)
        .values(&rows)
        .on_conflict(pay_periods::id)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// Creates (open) the periods that are missing among `spans` and reads whether each is
/// open, in two statements whatever their number (a posting names about a year of
/// periods). On PostgreSQL the rows are share-locked until the transaction ends, so a
/// concurrent close waits for postings that saw the period open.
pub fn periods_for_posting(
    conn: &mut AnyConnection,
    spans: &[&PeriodSpan],
    now: DateTime<Utc>,
) -> Result<std::collections::BTreeMap<String, bool>, StorageError> {
    if spans.is_empty() {
        return Ok(std::collections::BTreeMap::new());
    }
    let statuses = match conn {
        AnyConnection::Sqlite(_) => sqlite_statuses_creating_missing(conn, spans, now)?,
        AnyConnection::Postgresql(_) => {
            ensure_periods(conn, spans, now)?;
            postgres_shared_statuses(conn, spans)?
        }
    };
    Ok(statuses.into_iter().map(|(id, status)| (id, status == "open")).collect())
}

/// The ids and statuses of those of the spans' periods that exist, share-locked until the
/// transaction ends (PostgreSQL).
fn postgres_shared_statuses(
    conn: &mut AnyConnection,
    spans: &[&PeriodSpan],
) -> Result<Vec<(String, String)>, StorageError> {
    let AnyConnection::Postgresql(conn) = conn else { return Ok(Vec::new()) };
    let ids: Vec<&str> = spans.iter().map(|span| span.id.as_str()).collect();
    Ok(pay_periods::table
        .filter(pay_periods::id.eq_any(&ids))
        .select((pay_periods::id, pay_periods::status))
        .for_share()
        .load(conn)?)
}

/// The writer is alone on SQLite, so the statuses are read first and only the missing
/// periods inserted: after a run's first posting every period exists, and a posting costs
/// one cached read (an insert of a year of periods, parsed anew, was 2.4 % of a first
/// accrual's posting thread).
fn sqlite_statuses_creating_missing(
    conn: &mut AnyConnection,
    spans: &[&PeriodSpan],
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, StorageError> {
    let statuses = sqlite_period_statuses(conn, spans)?;
    let missing: Vec<&PeriodSpan> =
        spans.iter().copied().filter(|span| !statuses.iter().any(|(id, _)| *id == span.id)).collect();
    if missing.is_empty() {
        return Ok(statuses);
    }
    ensure_periods(conn, &missing, now)?;
    sqlite_period_statuses(conn, spans)
}

/// The ids and statuses of those of the spans' periods that exist (SQLite).
fn sqlite_period_statuses(
    conn: &mut AnyConnection,
    spans: &[&PeriodSpan],
) -> Result<Vec<(String, String)>, StorageError> {
    use super::sqlite_list::{ListStatement, texts};
    let AnyConnection::Sqlite(conn) = conn else { return Ok(Vec::new()) };
    let ids = texts(spans.iter().map(|span| span.id.as_str()));
    Ok(ListStatement::new("SELECT id, status FROM pay_periods WHERE id IN (SELECT value FROM json_each(", &ids, "))")
        .returning::<(diesel::sql_types::Text, diesel::sql_types::Text)>()
        .load(conn)?)
}

/// The period a posting for `natural` goes to, by `domain::posting::posting_period`, with
/// each period it considers created (open) when missing and its status read for posting;
/// `known` holds statuses already read in this transaction ([`periods_for_posting`]).
pub fn posting_period(
    conn: &mut AnyConnection,
    scheme: PeriodScheme,
    natural: &PeriodSpan,
    known: &std::collections::BTreeMap<String, bool>,
    now: DateTime<Utc>,
) -> Result<String, StorageError> {
    let found = crate::domain::posting::posting_period(scheme, natural, |span| {
        if let Some(open) = known.get(&span.id) {
            return Ok(*open);
        }
        Ok::<_, StorageError>(periods_for_posting(conn, &[span], now)?.get(&span.id).copied().unwrap_or(false))
    })?;
    found.map(|span| span.id).ok_or_else(|| {
        StorageError::Unavailable(format!(
            "no open pay period within {} periods after {}",
            crate::domain::posting::PERIOD_WALK_MAX,
            natural.id
        ))
    })
}

pub fn get_period(conn: &mut AnyConnection, id: &str) -> Result<Period, StorageError> {
    let row = pay_periods::table.find(id).first::<PeriodRow>(conn).optional()?;
    row.map(Period::from).ok_or_else(|| StorageError::NotFound { entity: "pay period", id: id.to_owned() })
}

pub fn list_periods(conn: &mut AnyConnection) -> Result<Vec<Period>, StorageError> {
    let rows = pay_periods::table.order(pay_periods::starts_on).load::<PeriodRow>(conn)?;
    Ok(rows.into_iter().map(Period::from).collect())
}

/// Closes an open period. Returns the closed period.
pub fn close_period(
    conn: &mut AnyConnection,
    id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Period, StorageError> {
    let updated = diesel::update(pay_periods::table.find(id).filter(pay_periods::status.eq("open")))
        .set((
            pay_periods::status.eq("closed"),
            pay_periods::closed_at.eq(Some(to_naive(now))),
            pay_periods::closed_by.eq(Some(actor)),
        ))
        .execute(conn)?;
    if updated == 0 {
        let period = get_period(conn, id)?;
        return Err(StorageError::Conflict(FieldError::new(
            "id",
            format!("pay period `{}` is already {}", period.id, period.status),
        )));
    }
    super::audit::record(conn, &super::Stamp::new(actor, now), "close", "pay_period", id, None)?;
    get_period(conn, id)
}

/// Starts an accrual run (entries reference it).
pub fn insert_run(conn: &mut AnyConnection, id: &str, actor: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
    diesel::insert_into(accrual_runs::table)
        .values((
            accrual_runs::id.eq(id),
            accrual_runs::actor.eq(actor),
            accrual_runs::started_at.eq(to_naive(now)),
            accrual_runs::entries_posted.eq(0),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn finish_run(conn: &mut AnyConnection, id: &str, entries_posted: usize) -> Result<(), StorageError> {
    diesel::update(accrual_runs::table.find(id))
        .set(accrual_runs::entries_posted.eq(i32::try_from(entries_posted).unwrap_or(i32::MAX)))
        .execute(conn)?;
    Ok(())
}

/// The instant of the latest accrual run that posted, if any: what the ledger is as of.
pub fn last_run_at(conn: &mut AnyConnection) -> Result<Option<DateTime<Utc>>, StorageError> {
    let at: Option<NaiveDateTime> =
        accrual_runs::table.select(diesel::dsl::max(accrual_runs::started_at)).first(conn)?;
    Ok(at.map(from_naive))
}

/// A ledger entry as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: String,
    pub accrual_run_id: String,
    pub person: String,
    /// The period the entry is posted in.
    pub period: String,
    /// The period the priced fact belongs to; differs from `period` for an adjustment
    /// posted after that period closed.
    pub natural_period: String,
    pub kind: EntryKind,
    pub line_key: String,
    pub revision: i32,
    /// For a reversal: the entry it reverses.
    pub reverses: Option<String>,
    pub component: String,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub unit: String,
    #[schema(value_type = String)]
    pub unit_rate: Decimal,
    #[schema(value_type = String)]
    pub multiplier: Decimal,
    pub time_class: Option<String>,
    pub day_class: Option<String>,
    #[schema(value_type = String, example = "60.00")]
    pub amount: Decimal,
    pub currency: String,
    pub fact_kind: String,
    pub fact_id: String,
    pub page_id: Option<String>,
    pub policy_id: String,
    pub policy_version: i32,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: DateTime<Utc>,
    pub explanation: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub posted_at: DateTime<Utc>,
    pub posted_by: String,
    #[serde(skip)]
    pub terms: String,
    #[serde(skip)]
    pub amount_minor: i64,
}

#[derive(Queryable)]
struct EntryRow {
    id: String,
    accrual_run_id: String,
    person_id: String,
    period_id: String,
    natural_period_id: String,
    entry_kind: String,
    line_key: String,
    revision: i32,
    reverses_entry_id: Option<String>,
    terms: String,
    component: String,
    quantity: String,
    unit: String,
    unit_rate: String,
    multiplier: String,
    time_class: Option<String>,
    day_class: Option<String>,
    amount_minor: i64,
    currency: String,
    fact_kind: String,
    fact_id: String,
    page_id: Option<String>,
    policy_id: String,
    policy_version: i32,
    occurred_at: NaiveDateTime,
    explanation: String,
    posted_at: NaiveDateTime,
    posted_by: String,
}

impl TryFrom<EntryRow> for Entry {
    type Error = StorageError;

    fn try_from(row: EntryRow) -> Result<Entry, StorageError> {
        let corrupt =
            |what: &str| StorageError::Unavailable(format!("ledger entry `{}` has an unreadable {what}", row.id));
        let currency: crate::domain::currency::Currency = row.currency.parse().map_err(|_| corrupt("currency"))?;
        let decimal = |text: &str, what: &str| text.parse::<Decimal>().map_err(|_| corrupt(what));
        let kind: EntryKind = row.entry_kind.parse().map_err(|_| corrupt("kind"))?;
        Ok(Entry {
            quantity: decimal(&row.quantity, "quantity")?,
            unit_rate: decimal(&row.unit_rate, "unit rate")?,
            multiplier: decimal(&row.multiplier, "multiplier")?,
            amount: currency.from_minor_units(row.amount_minor),
            id: row.id,
            accrual_run_id: row.accrual_run_id,
            person: row.person_id,
            period: row.period_id,
            natural_period: row.natural_period_id,
            kind,
            line_key: row.line_key,
            revision: row.revision,
            reverses: row.reverses_entry_id,
            component: row.component,
            unit: row.unit,
            time_class: row.time_class,
            day_class: row.day_class,
            currency: row.currency,
            fact_kind: row.fact_kind,
            fact_id: row.fact_id,
            page_id: row.page_id,
            policy_id: row.policy_id,
            policy_version: row.policy_version,
            occurred_at: from_naive(row.occurred_at),
            explanation: row.explanation,
            posted_at: from_naive(row.posted_at),
            posted_by: row.posted_by,
            terms: row.terms,
            amount_minor: row.amount_minor,
        })
    }
}

/// Filters for listing entries.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub person: Option<String>,
    pub period: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Entries in posting order (the ids are time-ordered UUIDv7).
pub fn list_entries(conn: &mut AnyConnection, filter: &EntryFilter) -> Result<Vec<Entry>, StorageError> {
    let mut query = ledger_entries::table.into_boxed();
    if let Some(person) = &filter.person {
        query = query.filter(ledger_entries::person_id.eq(person));
    }
    if let Some(period) = &filter.period {
        query = query.filter(ledger_entries::period_id.eq(period));
    }
    let rows = query.order(ledger_entries::id).limit(filter.limit).offset(filter.offset).load::<EntryRow>(conn)?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// All entries of one person, in posting order.
pub fn person_entries(conn: &mut AnyConnection, person: &str) -> Result<Vec<Entry>, StorageError> {
    let rows = ledger_entries::table
        .filter(ledger_entries::person_id.eq(person))
        .order(ledger_entries::id)
        .load::<EntryRow>(conn)?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// A person's entries placed at or after `from` (reversals sit at their line's instant,
/// so the set holds every revision of each line it touches), in posting order.
pub fn person_entries_since(
    conn: &mut AnyConnection,
    person: &str,
    from: DateTime<Utc>,
) -> Result<Vec<Entry>, StorageError> {
    let rows = ledger_entries::table
        .filter(ledger_entries::person_id.eq(person))
        .filter(ledger_entries::occurred_at.ge(to_naive(from)))
        .order(ledger_entries::id)
        .load::<EntryRow>(conn)?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// An entry to insert. The texts one posting repeats on every entry (run, person, actor,
/// policy) are shared and the names of enums borrowed: a first accrual builds millions.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub id: String,
    pub accrual_run_id: Arc<str>,
    pub person: Arc<str>,
    pub period: String,
    pub natural_period: String,
    pub kind: EntryKind,
    pub line_key: String,
    pub revision: i32,
    pub reverses: Option<String>,
    pub terms: String,
    pub component: Cow<'static, str>,
    pub quantity: Decimal,
    pub unit: Cow<'static, str>,
    pub unit_rate: Decimal,
    pub multiplier: Decimal,
    pub time_class: Option<Cow<'static, str>>,
    pub day_class: Option<Cow<'static, str>>,
    pub amount_minor: i64,
    pub currency: Cow<'static, str>,
    pub fact_kind: Cow<'static, str>,
    pub fact_id: String,
    pub page_id: Option<String>,
    pub policy_id: Arc<str>,
    pub policy_version: i32,
    pub occurred_at: DateTime<Utc>,
    pub explanation: String,
    pub posted_at: DateTime<Utc>,
    pub posted_by: Arc<str>,
    /// The UTC day the entry's page was triggered on, when the poster read it with the
    /// facts (not stored: it marks the dashboard's rollup without a look-up of the page).
    pub page_day: Option<i64>,
}

/// Page ids per `IN (…)` look-up of their days (SQLite's limit on bound parameters is 32,766).
const PAGE_IDS_PER_LOOKUP_MAX: usize = 500;

/// Entries per multi-row insert on SQLite (28 bound values each). The table has a trigger,
/// so every insert statement keeps a statement journal of the pages it changes: one per
/// row was most of a posting's cost.
const ENTRIES_PER_STATEMENT: usize = 32;
/// Entries per insert for what is left of a posting after its statements of
/// [`ENTRIES_PER_STATEMENT`]; the last few go in one row at a time.
const ENTRIES_PER_SHORT_STATEMENT: usize = 8;

/// A ledger row as inserted, borrowing from the entry.
#[derive(Insertable)]
// A `None` is bound as NULL, not replaced by DEFAULT: every row has the same shape, which
// COPY needs.
#[diesel(table_name = ledger_entries, treat_none_as_default_value = false)]
struct EntryInsert<'a> {
    id: &'a str,
    accrual_run_id: &'a str,
    person_id: &'a str,
    period_id: &'a str,
    natural_period_id: &'a str,
    entry_kind: &'a str,
    line_key: &'a str,
    revision: i32,
    reverses_entry_id: Option<&'a str>,
    terms: &'a str,
    component: &'a str,
    quantity: String,
    unit: &'a str,
    unit_rate: String,
    multiplier: String,
    time_class: Option<&'a str>,
    day_class: Option<&'a str>,
    amount_minor: i64,
    currency: &'a str,
    fact_kind: &'a str,
    fact_id: &'a str,
    page_id: Option<&'a str>,
    policy_id: &'a str,
    policy_version: i32,
    occurred_at: NaiveDateTime,
    explanation: &'a str,
    posted_at: NaiveDateTime,
    posted_by: &'a str,
}

impl<'a> From<&'a NewEntry> for EntryInsert<'a> {
    fn from(entry: &'a NewEntry) -> EntryInsert<'a> {
        EntryInsert {
            id: &entry.id,
            accrual_run_id: &entry.accrual_run_id,
            person_id: &entry.person,
            period_id: &entry.period,
            natural_period_id: &entry.natural_period,
            entry_kind: entry.kind.as_str(),
            line_key: &entry.line_key,
            revision: entry.revision,
            reverses_entry_id: entry.reverses.as_deref(),
            terms: &entry.terms,
            component: &entry.component,
            quantity: entry.quantity.to_string(),
            unit: &entry.unit,
            unit_rate: entry.unit_rate.to_string(),
            multiplier: entry.multiplier.to_string(),
            time_class: entry.time_class.as_deref(),
            day_class: entry.day_class.as_deref(),
            amount_minor: entry.amount_minor,
            currency: &entry.currency,
            fact_kind: &entry.fact_kind,
            fact_id: &entry.fact_id,
            page_id: entry.page_id.as_deref(),
            policy_id: &entry.policy_id,
            policy_version: entry.policy_version,
            occurred_at: to_naive(entry.occurred_at),
            explanation: &entry.explanation,
            posted_at: to_naive(entry.posted_at),
            posted_by: &entry.posted_by,
        }
    }
}

/// An entry's row for SQLite, with its timestamps already spelled as diesel spells them.
struct SqliteEntryRow<'a> {
    columns: EntryInsert<'a>,
    occurred_at: super::sqlite_text::SqliteTimestamp,
    posted_at: Cow<'a, super::sqlite_text::SqliteTimestamp>,
}

/// The instant a posting's entries share, spelled once for all of them.
type PostedAt = Option<(DateTime<Utc>, super::sqlite_text::SqliteTimestamp)>;

impl<'a> SqliteEntryRow<'a> {
    fn new(entry: &'a NewEntry, posted: &'a PostedAt) -> SqliteEntryRow<'a> {
        SqliteEntryRow {
            columns: EntryInsert::from(entry),
            occurred_at: super::sqlite_text::SqliteTimestamp::new(entry.occurred_at),
            posted_at: match posted {
                Some((at, text)) if *at == entry.posted_at => Cow::Borrowed(text),
                _ => Cow::Owned(super::sqlite_text::SqliteTimestamp::new(entry.posted_at)),
            },
        }
    }
}

/// `INSERT INTO ledger_entries (…) VALUES (…), …` of exactly `N` rows. Its own type with a
/// static query id per `N`, so diesel caches one statement per length (diesel's batch
/// insert of an array would, but only for rows that own their values).
struct InsertEntryRows<'a, const N: usize> {
    rows: &'a [SqliteEntryRow<'a>; N],
}

impl<const N: usize> diesel::query_builder::QueryId for InsertEntryRows<'_, N> {
    type QueryId = InsertEntryRows<'static, N>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const N: usize> diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for InsertEntryRows<'_, N> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
        out.push_sql(
            "INSERT INTO ledger_entries (id, accrual_run_id, person_id, period_id, natural_period_id, \
             entry_kind, line_key, revision, reverses_entry_id, terms, component, quantity, unit, unit_rate, \
             multiplier, time_class, day_class, amount_minor, currency, fact_kind, fact_id, page_id, policy_id, \
             policy_version, occurred_at, explanation, posted_at, posted_by) VALUES ",
        );
        for (index, SqliteEntryRow { columns: row, occurred_at, posted_at }) in self.rows.iter().enumerate() {
            if index > 0 {
                out.push_sql(", ");
            }
            push_values_row!(
                out,
                Text => &row.id,
                Text => &row.accrual_run_id,
                Text => &row.person_id,
                Text => &row.period_id,
                Text => &row.natural_period_id,
                Text => &row.entry_kind,
                Text => &row.line_key,
                Integer => &row.revision,
                Nullable<Text> => &row.reverses_entry_id,
                Text => &row.terms,
                Text => &row.component,
                Text => &row.quantity,
                Text => &row.unit,
                Text => &row.unit_rate,
                Text => &row.multiplier,
                Nullable<Text> => &row.time_class,
                Nullable<Text> => &row.day_class,
                BigInt => &row.amount_minor,
                Text => &row.currency,
                Text => &row.fact_kind,
                Text => &row.fact_id,
                Nullable<Text> => &row.page_id,
                Text => &row.policy_id,
                Integer => &row.policy_version,
                Timestamp => occurred_at,
                Text => &row.explanation,
                Timestamp => &**posted_at,
                Text => &row.posted_by,
            );
        }
        Ok(())
    }
}

impl<const N: usize> RunQueryDsl<diesel::SqliteConnection> for InsertEntryRows<'_, N> {}

/// Inserts the leading entries of `rest` `N` at a time, while `N` remain.
fn insert_sqlite_rows<const N: usize>(
    conn: &mut diesel::SqliteConnection,
    rest: &mut &[NewEntry],
    posted: &PostedAt,
) -> Result<(), StorageError> {
    while let Some((entries, tail)) = rest.split_first_chunk::<N>() {
        let rows: [SqliteEntryRow<'_>; N] = std::array::from_fn(|index| SqliteEntryRow::new(&entries[index], posted));
        InsertEntryRows { rows: &rows }.execute(conn).map_err(|error| posted_twice(error, entries))?;
        *rest = tail;
    }
    Ok(())
}

pub fn insert_entry(conn: &mut AnyConnection, entry: &NewEntry) -> Result<(), StorageError> {
    insert_entries(conn, std::slice::from_ref(entry))
}

/// Inserts entries: on SQLite one cached single-row statement per entry (measured against
/// 500-row statements, which diesel parses anew each time: 10.8-11.1 s of CPU for a year's
/// first accrual against 12.6-12.9), on PostgreSQL one binary `COPY`. Then marks the dashboard days of the entries' pages once each (the rollup sums pay
/// per page day); this is the only place entries are written, so no row trigger does it.
pub fn insert_entries(conn: &mut AnyConnection, entries: &[NewEntry]) -> Result<(), StorageError> {
    match conn {
        AnyConnection::Sqlite(c) => {
            // Statements of a fixed number of rows: each length is parsed once per
            // connection, not once per posting.
            let mut rest = entries;
            let posted: PostedAt = entries
                .first()
                .map(|entry| (entry.posted_at, super::sqlite_text::SqliteTimestamp::new(entry.posted_at)));
            insert_sqlite_rows::<ENTRIES_PER_STATEMENT>(c, &mut rest, &posted)?;
            insert_sqlite_rows::<ENTRIES_PER_SHORT_STATEMENT>(c, &mut rest, &posted)?;
            insert_sqlite_rows::<1>(c, &mut rest, &posted)?;
        }
        AnyConnection::Postgresql(c) if !entries.is_empty() => {
            let rows: Vec<EntryInsert<'_>> = entries.iter().map(EntryInsert::from).collect();
            diesel::copy_from(ledger_entries::table)
                .from_insertable(rows)
                .execute(c)
                .map_err(|error| posted_twice(error, entries))?;
        }
        AnyConnection::Postgresql(_) => {}
    }
    mark_page_days(conn, entries)
}

/// A unique-key violation on posting: a revision was already posted (a concurrent accrual).
fn posted_twice(error: diesel::result::Error, entries: &[NewEntry]) -> StorageError {
    super::conflict_on_unique(error, "line_key", || match entries {
        [entry] => {
            format!("revision {} of `{}` was already posted (a concurrent accrual?)", entry.revision, entry.line_key)
        }
        _ => format!(
            "a revision of one of {} lines of `{}` was already posted (a concurrent accrual?)",
            entries.len(),
            entries.first().map(|entry| &*entry.person).unwrap_or("")
        ),
    })
}

/// Marks the UTC days of the entries' pages dirty for the dashboard's rollup: the day the
/// poster read with the facts, else the page's, looked up.
fn mark_page_days(conn: &mut AnyConnection, entries: &[NewEntry]) -> Result<(), StorageError> {
    use super::schema::pages;
    let mut days: BTreeSet<i64> = entries.iter().filter_map(|entry| entry.page_day).collect();
    let page_ids: BTreeSet<&str> =
        entries.iter().filter(|entry| entry.page_day.is_none()).filter_map(|entry| entry.page_id.as_deref()).collect();
    let page_ids: Vec<&str> = page_ids.into_iter().collect();
    for chunk in page_ids.chunks(PAGE_IDS_PER_LOOKUP_MAX) {
        let triggered: Vec<NaiveDateTime> =
            pages::table.filter(pages::id.eq_any(chunk)).select(pages::triggered_at).load(conn)?;
        days.extend(triggered.into_iter().map(|at| crate::domain::timestamp::utc_day(from_naive(at))));
    }
    super::rollup::mark_days(conn, &days)
}
