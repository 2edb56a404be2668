//! Bulk import of pages: thousands of rows per transaction, multi-row inserts for new
//! pages, and the same fold as live ingest for pages already known.
//!
//! Importing the same file twice changes nothing: a row whose delivery the page already
//! holds is counted as unchanged and not stored again.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::mappings::Mappings;
use super::schema::{page_deliveries, pages};
use super::{AnyConnection, Stamp, StorageError, write_transaction};
use crate::domain::page::{Lane, PageState};
use crate::domain::timestamp::to_naive;

/// Rows per transaction: large enough to amortise commits, small enough to bound memory.
pub const BATCH_ROWS: usize = 2_000;
/// Rows per multi-row INSERT (16 columns × 500 stays far under SQLite's 32,766 parameters).
const INSERT_ROWS_MAX: usize = 500;

/// One page row to import, with the delivery payload it will be stored (and compared) as.
#[derive(Debug, Clone)]
pub struct PageRow {
    pub source: String,
    pub external_id: String,
    pub state: PageState,
    payload: String,
}

impl PageRow {
    /// Serialises the payload here, so a caller can do it off the thread that writes.
    pub fn new(source: String, external_id: String, state: PageState) -> Result<PageRow, StorageError> {
        let payload = serde_json::to_string(&state).map_err(|error| StorageError::Unavailable(error.to_string()))?;
        Ok(PageRow { source, external_id, state, payload })
    }
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

type NewPage = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    Option<NaiveDateTime>,
    NaiveDateTime,
    i32,
    NaiveDateTime,
    NaiveDateTime,
);

/// Tunes the connection for a bulk import. On SQLite: a page cache large enough to keep
/// the indexes being appended to in memory (the default is 2 MB), and a WAL checkpoint
/// every 64 MB instead of every 4 MB. Each checkpoint copies pages back into the database
/// and syncs it; at the default interval, checkpoints took about 40% of an import.
/// `finish_connection` puts the defaults back.
pub fn prepare_connection(conn: &mut AnyConnection) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Sqlite(c) = conn {
        c.batch_execute("PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16384;")?;
    }
    Ok(())
}

/// Ends a bulk import: on SQLite, checkpoints what the import left in the WAL and puts
/// the connection's defaults back before it returns to the pool.
pub fn finish_connection(conn: &mut AnyConnection) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Sqlite(c) = conn {
        c.batch_execute(
            "PRAGMA wal_checkpoint(PASSIVE); PRAGMA wal_autocheckpoint = 1000; PRAGMA cache_size = -2000; \
             PRAGMA temp_store = DEFAULT;",
        )?;
    }
    Ok(())
}

/// Refreshes the planner's statistics of the tables an import fills.
pub fn refresh_statistics(conn: &mut AnyConnection) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    match conn {
        AnyConnection::Postgresql(c) => c.batch_execute("ANALYZE pages, page_deliveries")?,
        // SQLite's planner picks the unique index without statistics.
        AnyConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// Imports one batch in one transaction.
pub fn import_batch(conn: &mut AnyConnection, rows: &[PageRow], stamp: &Stamp) -> Result<BatchOutcome, StorageError> {
    write_transaction(conn, |conn| {
        let now = to_naive(stamp.at);
        let mappings = Mappings::for_states(conn, rows.iter().map(|row| &row.state))?;
        let existing = existing_ids(conn, rows)?;
        let mut outcome = BatchOutcome::default();
        let mut new_pages: Vec<NewPage> = Vec::new();
        let mut new_deliveries: Vec<(String, String, NaiveDateTime, String)> = Vec::new();
        let mut created_keys: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut known_rows: Vec<(&PageRow, String)> = Vec::new();
        for row in rows {
            let key = (row.source.clone(), row.external_id.clone());
            let known = existing.get(&key).or_else(|| created_keys.get(&key)).cloned();
            if let Some(page_id) = known {
                known_rows.push((row, page_id));
                continue;
            }
            let id = uuid::Uuid::now_v7().to_string();
            let payload = row.payload.clone();
            let state = mappings.apply(&row.state);
            new_pages.push((
                id.clone(),
                row.source.clone(),
                row.external_id.clone(),
                state.service_key.clone(),
                state.title.clone(),
                state.alert_key.clone(),
                state.lane.unwrap_or(Lane::Wake).as_str().to_owned(),
                to_naive(state.triggered_at),
                state.acknowledged_at.map(to_naive),
                state.acknowledged_by.clone(),
                state.resolved_at.map(to_naive),
                to_naive(state.described_at),
                1,
                now,
                now,
            ));
            new_deliveries.push((uuid::Uuid::now_v7().to_string(), id.clone(), now, payload));
            created_keys.insert(key, id);
            outcome.created += 1;
        }
        insert_pages(conn, &new_pages)?;
        insert_deliveries(conn, &new_deliveries)?;
        // Deliveries already stored for the pages this batch knows, read in one go rather
        // than one query per row: a re-import is mostly these rows.
        let mut delivered = delivered_payloads(conn, known_rows.iter().map(|(_, page_id)| page_id.as_str()))?;
        for (row, page_id) in known_rows {
            let key = (page_id, row.payload.clone());
            if delivered.contains(&key) {
                outcome.unchanged += 1;
                continue;
            }
            insert_deliveries(conn, &[(uuid::Uuid::now_v7().to_string(), key.0.clone(), now, key.1.clone())])?;
            super::pages::refold(conn, &key.0, now)?;
            delivered.insert(key);
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

/// The (page id, payload) of every delivery stored for these pages.
fn delivered_payloads<'a>(
    conn: &mut AnyConnection,
    page_ids: impl Iterator<Item = &'a str>,
) -> Result<BTreeSet<(String, String)>, StorageError> {
    let page_ids: Vec<&str> = page_ids.collect::<BTreeSet<_>>().into_iter().collect();
    let mut delivered = BTreeSet::new();
    for chunk in page_ids.chunks(INSERT_ROWS_MAX) {
        let rows: Vec<(String, String)> = page_deliveries::table
            .filter(page_deliveries::page_id.eq_any(chunk))
            .select((page_deliveries::page_id, page_deliveries::payload))
            .load(conn)?;
        delivered.extend(rows);
    }
    Ok(delivered)
}

fn existing_ids(
    conn: &mut AnyConnection,
    rows: &[PageRow],
) -> Result<BTreeMap<(String, String), String>, StorageError> {
    // Looked up per source, so the lookup uses the unique index on (source, external_id).
    let mut by_source: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for row in rows {
        by_source.entry(row.source.as_str()).or_default().insert(row.external_id.as_str());
    }
    let mut found = BTreeMap::new();
    for (source, external_ids) in by_source {
        let external_ids: Vec<&str> = external_ids.into_iter().collect();
        for chunk in external_ids.chunks(INSERT_ROWS_MAX) {
            let rows: Vec<(String, String)> = pages::table
                .filter(pages::source.eq(source))
                .filter(pages::external_id.eq_any(chunk))
                .select((pages::external_id, pages::id))
                .load(conn)?;
            for (external_id, id) in rows {
                found.insert((source.to_owned(), external_id), id);
            }
        }
    }
    Ok(found)
}

/// The columns of one new page, borrowed from its row.
macro_rules! page_values {
    ($row:expr) => {
        (
            pages::id.eq(&$row.0),
            pages::source.eq(&$row.1),
            pages::external_id.eq(&$row.2),
            pages::service_key.eq(&$row.3),
            pages::title.eq(&$row.4),
            pages::alert_key.eq(&$row.5),
            pages::lane.eq(&$row.6),
            pages::triggered_at.eq($row.7),
            pages::acknowledged_at.eq($row.8),
            pages::acknowledged_by.eq(&$row.9),
            pages::resolved_at.eq($row.10),
            pages::described_at.eq($row.11),
            pages::delivery_count.eq($row.12),
            pages::created_at.eq($row.13),
            pages::updated_at.eq($row.14),
        )
    };
}

/// On SQLite, one single-row INSERT prepared once and run per row: a multi-row INSERT
/// is a new statement for diesel each time, and parsing and planning it cost more than
/// SQLite saves on the round trips it does not have. PostgreSQL has those round trips,
/// so it gets multi-row INSERTs.
fn insert_pages(conn: &mut AnyConnection, rows: &[NewPage]) -> Result<(), StorageError> {
    if let AnyConnection::Sqlite(c) = conn {
        for row in rows {
            diesel::insert_into(pages::table).values(page_values!(row)).execute(c)?;
        }
        return Ok(());
    }
    for chunk in rows.chunks(INSERT_ROWS_MAX) {
        let values: Vec<_> = chunk.iter().map(|row| page_values!(row)).collect();
        crate::with_backend!(conn, |c| diesel::insert_into(pages::table).values(&values).execute(c))?;
    }
    Ok(())
}

fn insert_deliveries(
    conn: &mut AnyConnection,
    rows: &[(String, String, NaiveDateTime, String)],
) -> Result<(), StorageError> {
    if let AnyConnection::Sqlite(c) = conn {
        for (id, page_id, received_at, payload) in rows {
            diesel::insert_into(page_deliveries::table)
                .values((
                    page_deliveries::id.eq(id),
                    page_deliveries::page_id.eq(page_id),
                    page_deliveries::received_at.eq(*received_at),
                    page_deliveries::payload.eq(payload),
                ))
                .execute(c)?;
        }
        return Ok(());
    }
    for chunk in rows.chunks(INSERT_ROWS_MAX) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(id, page_id, received_at, payload)| {
                (
                    page_deliveries::id.eq(id),
                    page_deliveries::page_id.eq(page_id),
                    page_deliveries::received_at.eq(*received_at),
                    page_deliveries::payload.eq(payload),
                )
            })
            .collect();
        crate::with_backend!(conn, |c| diesel::insert_into(page_deliveries::table).values(&values).execute(c))?;
    }
    Ok(())
}
