//! Bulk import of pages: thousands of rows per transaction, new pages inserted in bulk
//! (SQLite: one prepared single-row INSERT that skips known keys; PostgreSQL: binary
//! COPY), and the same fold as live ingest for pages already known.
//!
//! A new page is one row: it keeps the delivery it was made from on itself
//! (`pages.first_delivery`, see `storage::pages`), usually as "what my columns say", so an
//! imported page costs no `page_deliveries` row and no second copy of its fields.
//!
//! Importing the same file twice changes nothing: a row whose delivery the page already
//! holds is counted as unchanged and not stored again.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;

use super::mappings::Mappings;
use super::pages::FIRST_DELIVERY_IS_THE_PAGE;
use super::schema::{page_deliveries, pages};
use super::sqlite_text::SqliteTimestamp;
use super::{AnyConnection, Stamp, StorageError, write_transaction};
use crate::domain::page::{Lane, PageState};
use crate::domain::timestamp::to_naive;

/// Rows per transaction: large enough to amortise commits (5,000 imports 5 % faster into
/// SQLite than 2,000), small enough to bound memory and to hold SQLite's write lock for
/// about 50 ms at a time, no longer than 2,000 rows held it before.
pub const BATCH_ROWS: usize = 5_000;
/// Keys per `IN (…)` lookup, far under SQLite's 32,766 parameters.
const LOOKUP_KEYS_MAX: usize = 500;

/// One page row to import, with everything a new page needs that does not depend on the
/// database made up front (ids, the delivery payload, SQLite's text of its times), so a
/// caller can do it off the thread that writes.
#[derive(Debug, Clone)]
pub struct PageRow {
    pub source: String,
    pub external_id: String,
    pub state: PageState,
    payload: String,
    page_id: String,
    sqlite_times: PageTimes,
    /// The page's columns would give back `state` exactly: a lane is named (the column
    /// has no "none") and every time is whole microseconds (PostgreSQL's precision).
    columns_hold_state: bool,
}

/// A page's times as SQLite stores them.
#[derive(Debug, Clone)]
struct PageTimes {
    triggered: SqliteTimestamp,
    acknowledged: Option<SqliteTimestamp>,
    resolved: Option<SqliteTimestamp>,
    described: SqliteTimestamp,
}

impl PageRow {
    pub fn new(source: String, external_id: String, state: PageState) -> Result<PageRow, StorageError> {
        let payload = serde_json::to_string(&state).map_err(|error| StorageError::Unavailable(error.to_string()))?;
        let sqlite_times = PageTimes {
            triggered: SqliteTimestamp::new(state.triggered_at),
            acknowledged: state.acknowledged_at.map(SqliteTimestamp::new),
            resolved: state.resolved_at.map(SqliteTimestamp::new),
            described: SqliteTimestamp::new(state.described_at),
        };
        let whole_micros = |at: &chrono::DateTime<chrono::Utc>| chrono::Timelike::nanosecond(at).is_multiple_of(1_000);
        let columns_hold_state = state.lane.is_some()
            && [
                Some(&state.triggered_at),
                state.acknowledged_at.as_ref(),
                state.resolved_at.as_ref(),
                Some(&state.described_at),
            ]
            .into_iter()
            .flatten()
            .all(whole_micros);
        Ok(PageRow {
            source,
            external_id,
            state,
            payload,
            page_id: uuid::Uuid::now_v7().to_string(),
            sqlite_times,
            columns_hold_state,
        })
    }
}

/// A new page: its row, with the service and responder its identity mappings name, and
/// how it keeps the delivery it was made from.
struct NewPage<'a> {
    row: &'a PageRow,
    service_key: &'a str,
    acknowledged_by: Option<&'a str>,
    first_delivery: &'a str,
}

impl<'a> NewPage<'a> {
    fn new(row: &'a PageRow, mappings: &'a Mappings) -> NewPage<'a> {
        let service_key = mappings.service(&row.state.service_key);
        let acknowledged_by = mappings.person(row.state.acknowledged_by.as_deref());
        // A mapped identity on the page is not what the source said: keep the payload.
        let unmapped = service_key == row.state.service_key && acknowledged_by == row.state.acknowledged_by.as_deref();
        let first_delivery =
            if unmapped && row.columns_hold_state { FIRST_DELIVERY_IS_THE_PAGE } else { row.payload.as_str() };
        NewPage { row, service_key, acknowledged_by, first_delivery }
    }
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Tunes the connection for a bulk import. On SQLite: a page cache large enough to keep
/// the indexes being appended to in memory (the pool's is 16 MiB), and a WAL checkpoint on
/// this connection only once the WAL reaches 256 MB instead of 4 MB: the import's
/// checkpoints run on another connection (`checkpoint_after_commits`), and this is the
/// fallback should that one stop. `finish_connection` puts the defaults back.
pub fn prepare_connection(conn: &mut AnyConnection) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Sqlite(c) = conn {
        c.batch_execute("PRAGMA cache_size = -262144; PRAGMA wal_autocheckpoint = 65536;")?;
    }
    Ok(())
}

/// Runs `work` on the connection tuned by [`prepare_connection`], and puts the defaults
/// back afterwards ([`finish_connection`]) even when `work` failed; `work`'s own error wins.
pub fn with_bulk_settings<T, E: From<StorageError>>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    prepare_connection(conn)?;
    let done = work(conn);
    let finished = finish_connection(conn);
    let done = done?;
    finished?;
    Ok(done)
}

/// On SQLite, runs a passive checkpoint each time the importer signals a commit, until it
/// hangs up. A checkpoint copies committed pages from the WAL into the database file and
/// syncs both; on the writing thread that took a fifth of an import (the file's writes
/// and syncs are the disk's time, not the CPU's). Passive checkpoints never block the
/// writer. The WAL only starts over when a transaction begins with all of it copied,
/// which back-to-back batches never do: it grows to the writer's autocheckpoint (256 MB),
/// which then finds all but the last batch already copied, and starts over from there.
/// Stops at its first error: the writer's own autocheckpoint then does all the work.
pub fn checkpoint_after_commits(conn: &mut AnyConnection, commits: &std::sync::mpsc::Receiver<()>) {
    use diesel::connection::SimpleConnection;
    let AnyConnection::Sqlite(c) = conn else {
        return;
    };
    for () in commits {
        if let Err(error) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(%error, "the import's checkpoints stopped; the writer checkpoints from now on");
            return;
        }
    }
}

/// Ends a bulk import: on SQLite, checkpoints what the import left in the WAL and puts
/// the pool's settings back before the connection returns to the pool (once, SQLite's own
/// defaults were put back: a 2 MB cache and statement journals in temporary files, for
/// every later use of that connection).
pub fn finish_connection(conn: &mut AnyConnection) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Sqlite(c) = conn {
        c.batch_execute("PRAGMA wal_checkpoint(PASSIVE); PRAGMA wal_autocheckpoint = 1000;")?;
        c.batch_execute(super::connection::SQLITE_POOL_CACHE)?;
    }
    Ok(())
}

/// Refreshes the planner's statistics of the tables a bulk write (an import, a first
/// accrual) filled.
pub fn refresh_statistics(conn: &mut AnyConnection, tables: &'static str) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    match conn {
        AnyConnection::Postgresql(c) => c.batch_execute(&format!("ANALYZE {tables}"))?,
        // SQLite's planner picks the unique index without statistics.
        AnyConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// The columns of one new page, borrowed from its row, with its times as given.
macro_rules! page_values {
    ($page:expr, $triggered:expr, $acknowledged:expr, $resolved:expr, $described:expr, $now:expr) => {
        (
            pages::id.eq(&$page.row.page_id),
            pages::source.eq(&$page.row.source),
            pages::external_id.eq(&$page.row.external_id),
            pages::service_key.eq($page.service_key),
            pages::title.eq(&$page.row.state.title),
            pages::alert_key.eq(&$page.row.state.alert_key),
            pages::lane.eq($page.row.state.lane.unwrap_or(Lane::Wake).as_str()),
            pages::triggered_at.eq($triggered),
            pages::acknowledged_at.eq($acknowledged),
            pages::acknowledged_by.eq($page.acknowledged_by),
            pages::resolved_at.eq($resolved),
            pages::described_at.eq($described),
            pages::delivery_count.eq(1),
            pages::created_at.eq($now),
            pages::updated_at.eq($now),
            pages::first_delivery.eq(Some($page.first_delivery)),
        )
    };
}

/// Imports one batch in one transaction.
pub fn import_batch(conn: &mut AnyConnection, rows: &[PageRow], stamp: &Stamp) -> Result<BatchOutcome, StorageError> {
    write_transaction(conn, |conn| {
        let now = to_naive(stamp.at);
        let mappings = Mappings::for_states(conn, rows.iter().map(|row| &row.state))?;
        let mut outcome = BatchOutcome::default();
        let known_rows = match conn {
            AnyConnection::Sqlite(_) => insert_new_pages_sqlite(conn, rows, &mappings, stamp, &mut outcome)?,
            AnyConnection::Postgresql(_) => insert_new_pages_postgres(conn, rows, &mappings, stamp, &mut outcome)?,
        };
        // Deliveries already stored for the pages this batch knows, read in one go rather
        // than one query per row: a re-import is mostly these rows.
        let mut delivered = delivered_payloads(conn, known_rows.iter().map(|(_, page_id)| page_id.as_str()))?;
        for (row, page_id) in known_rows {
            if delivered.get(&page_id).is_some_and(|payloads| payloads.contains(&row.payload)) {
                outcome.unchanged += 1;
                continue;
            }
            super::pages::store_delivery(conn, &page_id, now, &row.payload)?;
            super::pages::refold(conn, &page_id, now)?;
            delivered.entry(page_id).or_default().insert(row.payload.clone());
            outcome.updated += 1;
        }
        if outcome.created + outcome.updated > 0 {
            super::audit::record(
                conn,
                stamp,
                "import",
                "pages",
                &format!("batch of {}", rows.len()),
                Some(format!(
                    "{} created, {} updated, {} unchanged",
                    outcome.created, outcome.updated, outcome.unchanged
                )),
            )?;
        }
        Ok(outcome)
    })
}

/// On SQLite, each row is offered as a new page and skipped by the `(source,
/// external_id)` key when its page exists: the unique index answers "is it known?" in the
/// same step as the insert, so only the rows it turns away are looked up. Returns those
/// rows with their pages' ids.
fn insert_new_pages_sqlite<'r>(
    conn: &mut AnyConnection,
    rows: &'r [PageRow],
    mappings: &Mappings,
    stamp: &Stamp,
    outcome: &mut BatchOutcome,
) -> Result<Vec<(&'r PageRow, String)>, StorageError> {
    let mut turned_away: Vec<&PageRow> = Vec::new();
    without_triggers(conn, &PAGE_INSERT_TRIGGERS, |conn| {
        let AnyConnection::Sqlite(c) = &mut *conn else {
            unreachable!("called for SQLite connections only");
        };
        let now = SqliteTimestamp::new(stamp.at);
        let pages: Vec<NewPage> = rows.iter().map(|row| NewPage::new(row, mappings)).collect();
        macro_rules! sqlite_values {
            ($page:expr) => {{
                let times = &$page.row.sqlite_times;
                page_values!(
                    $page,
                    &times.triggered,
                    times.acknowledged.as_ref(),
                    times.resolved.as_ref(),
                    &times.described,
                    &now
                )
            }};
        }
        // `INSERT OR IGNORE`, not `ON CONFLICT … DO NOTHING`: diesel caches the prepared
        // statement by its type, where it would rebuild the SQL text of an `ON CONFLICT`
        // for every row (a sixth of an import). It skips a row for any constraint, not
        // only the key; a skipped row whose key is not found below fails the batch.
        // The days the per-row trigger would have marked.
        let mut days = BTreeSet::new();
        // The pay journal's marks: each acknowledger once, from their earliest page.
        let mut acknowledgers: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        for (row, page) in rows.iter().zip(&pages) {
            if diesel::insert_or_ignore_into(pages::table).values(sqlite_values!(page)).execute(c)? == 1 {
                outcome.created += 1;
                days.insert(crate::rollup::day_of(row.state.triggered_at));
                if let Some(person) = page.acknowledged_by {
                    let from = acknowledgers.entry(person).or_insert(row.state.triggered_at);
                    *from = (*from).min(row.state.triggered_at);
                }
            } else {
                turned_away.push(row);
            }
        }
        let marks: Vec<(String, DateTime<Utc>)> =
            acknowledgers.into_iter().map(|(person, from)| (person.to_owned(), from)).collect();
        super::journal::mark_many(conn, &marks)?;
        super::rollup::mark_days(conn, &days)
    })?;
    let existing = existing_ids(conn, turned_away.iter().copied())?;
    turned_away
        .into_iter()
        .map(|row| {
            let page_id = existing.get(&(row.source.as_str(), row.external_id.as_str())).ok_or_else(|| {
                StorageError::Unavailable(format!("page {}/{} was neither new nor found", row.source, row.external_id))
            })?;
            Ok((row, page_id.clone()))
        })
        .collect()
}

/// On PostgreSQL, the batch's known keys are looked up first and its new pages go in with
/// one binary `COPY FROM`. Returns the rows whose pages exist (stored before, or made
/// earlier in this batch) with their ids.
fn insert_new_pages_postgres<'r>(
    conn: &mut AnyConnection,
    rows: &'r [PageRow],
    mappings: &Mappings,
    stamp: &Stamp,
    outcome: &mut BatchOutcome,
) -> Result<Vec<(&'r PageRow, String)>, StorageError> {
    let existing = existing_ids(conn, rows.iter())?;
    let mut new_pages: Vec<NewPage> = Vec::new();
    let mut created_keys: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    let mut known_rows: Vec<(&PageRow, String)> = Vec::new();
    for row in rows {
        let key = (row.source.as_str(), row.external_id.as_str());
        let known = existing.get(&key).map(String::as_str).or_else(|| created_keys.get(&key).copied());
        if let Some(page_id) = known {
            known_rows.push((row, page_id.to_owned()));
            continue;
        }
        new_pages.push(NewPage::new(row, mappings));
        created_keys.insert(key, &row.page_id);
        outcome.created += 1;
    }
    let now = to_naive(stamp.at);
    let values: Vec<_> = new_pages
        .iter()
        .map(|page| {
            let state = &page.row.state;
            page_values!(
                page,
                to_naive(state.triggered_at),
                state.acknowledged_at.map(to_naive),
                state.resolved_at.map(to_naive),
                to_naive(state.described_at),
                now
            )
        })
        .collect();
    // COPY fires the same triggers as INSERT, and has no parameter limit.
    let AnyConnection::Postgresql(c) = conn else {
        unreachable!("called for PostgreSQL connections only");
    };
    diesel::copy_from(pages::table).from_insertable(values).execute(c)?;
    Ok(known_rows)
}

/// The SQLite triggers that mark a new page's day for the dashboard rollup and its
/// acknowledger in the pay journal.
const PAGE_INSERT_TRIGGERS: [&str; 2] = ["rollup_mark_page_insert", "pay_journal_page_insert"];

/// Runs `insert` with SQLite's per-row insert triggers `names` dropped, and puts them back,
/// from their own stored definitions, before returning. The caller's transaction holds
/// the write lock throughout and DDL is transactional in SQLite, so no other connection
/// ever sees a trigger missing; on failure the rollback restores them. SQLite has no
/// statement-level triggers, and the row-level ones cost a third of an import; `insert`
/// marks its days and its people itself, once each.
pub(super) fn without_triggers<T>(
    conn: &mut AnyConnection,
    names: &[&str],
    insert: impl FnOnce(&mut AnyConnection) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Definition {
        #[diesel(sql_type = Text)]
        sql: String,
    }
    let AnyConnection::Sqlite(c) = &mut *conn else {
        return insert(conn);
    };
    let mut definitions = Vec::new();
    for &name in names {
        let definition = diesel::sql_query("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?")
            .bind::<Text, _>(name)
            .get_result::<Definition>(c)
            .optional()?;
        if let Some(definition) = definition {
            c.batch_execute(&format!("DROP TRIGGER {name}"))?;
            definitions.push(definition.sql);
        }
    }
    let inserted = insert(conn)?;
    if let AnyConnection::Sqlite(c) = conn {
        for sql in definitions {
            c.batch_execute(&sql)?;
        }
    }
    Ok(inserted)
}

/// The payloads of every delivery stored for these pages, by page id, wherever each is
/// kept (a `page_deliveries` row, or the page itself).
fn delivered_payloads<'a>(
    conn: &mut AnyConnection,
    page_ids: impl Iterator<Item = &'a str>,
) -> Result<BTreeMap<String, BTreeSet<String>>, StorageError> {
    let page_ids: Vec<&str> = page_ids.collect::<BTreeSet<_>>().into_iter().collect();
    let mut delivered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for chunk in page_ids.chunks(LOOKUP_KEYS_MAX) {
        let rows: Vec<(String, String)> = page_deliveries::table
            .filter(page_deliveries::page_id.eq_any(chunk))
            .select((page_deliveries::page_id, page_deliveries::payload))
            .load(conn)?;
        let kept_on_pages = super::pages::first_deliveries_kept_on_pages(conn, chunk)?;
        let kept_on_pages = kept_on_pages.into_iter().map(|kept| (kept.page_id, kept.payload));
        for (page_id, payload) in rows.into_iter().chain(kept_on_pages) {
            delivered.entry(page_id).or_default().insert(payload);
        }
    }
    Ok(delivered)
}

fn existing_ids<'a>(
    conn: &mut AnyConnection,
    rows: impl Iterator<Item = &'a PageRow>,
) -> Result<BTreeMap<(&'a str, &'a str), String>, StorageError> {
    // Looked up per source, so the lookup uses the unique index on (source, external_id).
    let mut by_source: BTreeMap<&'a str, BTreeSet<&'a str>> = BTreeMap::new();
    for row in rows {
        by_source.entry(row.source.as_str()).or_default().insert(row.external_id.as_str());
    }
    let mut found = BTreeMap::new();
    for (source, external_ids) in by_source {
        let external_ids: Vec<&str> = external_ids.into_iter().collect();
        for chunk in external_ids.chunks(LOOKUP_KEYS_MAX) {
            let rows: Vec<(String, String)> = pages::table
                .filter(pages::source.eq(source))
                .filter(pages::external_id.eq_any(chunk))
                .select((pages::external_id, pages::id))
                .load(conn)?;
            for (external_id, id) in rows {
                if let Some(external_id) = chunk.iter().find(|known| **known == external_id) {
                    found.insert((source, *external_id), id);
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::{AnyConnection, PAGE_INSERT_TRIGGERS, StorageError, without_triggers, write_transaction};
    use crate::storage::Store;

    fn trigger_count(conn: &mut AnyConnection) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        let AnyConnection::Sqlite(c) = conn else { unreachable!() };
        PAGE_INSERT_TRIGGERS
            .iter()
            .map(|name| {
                diesel::sql_query("SELECT count(*) AS count FROM sqlite_master WHERE type = 'trigger' AND name = ?")
                    .bind::<diesel::sql_types::Text, _>(*name)
                    .get_result::<Count>(c)
                    .unwrap()
                    .count
            })
            .sum()
    }

    /// The triggers are dropped inside the batch's transaction, so a batch that fails gives
    /// them back with its rollback.
    #[test]
    fn a_failed_batch_leaves_the_page_trigger_in_place() {
        let dir = std::env::temp_dir().join(format!("paydown-trigger-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open_with_pool_size(dir.join("t.db").to_str().unwrap(), 1).unwrap();
        store.migrate().unwrap();
        let mut conn = store.conn().unwrap();
        assert_eq!(trigger_count(&mut conn), 2);
        let failed: Result<(), StorageError> = write_transaction(&mut conn, |conn| {
            without_triggers(conn, &PAGE_INSERT_TRIGGERS, |conn| {
                assert_eq!(trigger_count(conn), 0, "dropped while the batch writes");
                Err(StorageError::Unavailable("the batch failed".into()))
            })
        });
        assert!(failed.is_err());
        assert_eq!(trigger_count(&mut conn), 2);
        drop(conn);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
