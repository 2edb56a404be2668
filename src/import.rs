//! Bulk import from files: pages from CSV (generic or PagerDuty's export), shifts from
//! CSV or iCalendar. Streams rows, imports them in batches, reports every rejected row
//! with its line number and why, and never stops at the first bad row.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

use crate::domain::page::PageState;
use crate::ingest::csv_pages::{PageCsvFormat, pages_from_csv};
use crate::ingest::rows::{FileError, ImportedShift, RowError};
use crate::storage::import::{BATCH_ROWS, BatchOutcome, PageRow, import_batch};
use crate::storage::{AnyConnection, Stamp, StorageError, Store, people, shifts};

/// Why an import stopped as a whole (a bad row never stops it).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {}: {}", .0.line, .0.message)]
    File(FileError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub rows: u64,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<RowError>,
    pub elapsed: Duration,
    /// The organisation's go-live date, when set.
    pub pay_from: Option<chrono::NaiveDate>,
    /// Rows (pages by trigger, shifts by start) before `pay_from` everywhere: kept and
    /// reported, never paid (`domain::pay_run::is_payable`).
    pub before_pay_from: u64,
}

impl ImportReport {
    pub fn rows_per_second(&self) -> u64 {
        let millis = u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX).max(1);
        self.rows.saturating_mul(1_000) / millis
    }

    fn add(&mut self, outcome: BatchOutcome) {
        self.created += outcome.created;
        self.updated += outcome.updated;
        self.unchanged += outcome.unchanged;
    }
}

/// Imports pages from a CSV reader; `progress` is told the number of rows read so far.
pub fn import_pages<R: Read + Send>(
    store: &Store,
    reader: R,
    format: PageCsvFormat,
    stamp: &Stamp,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let rows = pages_from_csv(reader, format).map_err(ImportError::File)?;
    let rows = rows.zip(2..).map(|(row, line)| {
        row.and_then(|page| {
            let state = PageState::from_delivery(page.delivery).map_err(|error| RowError {
                line,
                field: error.field,
                message: error.message,
            })?;
            PageRow::new(page.source, page.external_id, state).map_err(|error| RowError {
                line,
                field: "payload".into(),
                message: error.to_string(),
            })
        })
    });
    let kind = BulkKind {
        tables: "pages, page_deliveries",
        payable_from: |page: &PageRow| page.state.triggered_at,
        write: import_batch,
    };
    let mut report = import_rows(store, rows, kind, progress, stamp)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// What the bulk pipeline needs to know of a kind of row.
struct BulkKind<T> {
    /// The tables a batch writes, whose planner statistics PostgreSQL needs refreshed.
    tables: &'static str,
    /// The instant that decides whether a row is before go-live (`pay_from`).
    payable_from: fn(&T) -> chrono::DateTime<chrono::Utc>,
    /// Writes one batch in one transaction.
    write: fn(&mut AnyConnection, &[T], &Stamp) -> Result<BatchOutcome, StorageError>,
}

/// Imports rows in batches of [`BATCH_ROWS`]: parsing (CSV, timestamps, a payload's JSON,
/// the person's key) runs on its own thread, one batch ahead of the writes, so on two
/// cores reading and writing overlap and memory holds two batches whatever the file's
/// size. On SQLite a third thread checkpoints the WAL on a connection of its own after
/// each batch, so the writer seldom waits for the database file's writes and syncs.
fn import_rows<T: Send>(
    store: &Store,
    rows: impl Iterator<Item = Result<T, RowError>> + Send,
    kind: BulkKind<T>,
    progress: &mut dyn FnMut(u64),
    stamp: &Stamp,
) -> Result<ImportReport, ImportError> {
    let mut conn = store.conn()?;
    // Without a spare connection (a pool of one), the writer checkpoints by itself.
    let mut checkpoint_conn = match store.backend() {
        crate::storage::Backend::Sqlite => store.spare_conn(Duration::from_secs(1)),
        crate::storage::Backend::Postgres => None,
    };
    let pay_from = crate::storage::pay_runs::settings(&mut conn)?.pay_from;
    crate::storage::import::with_bulk_settings(&mut conn, |conn| {
        std::thread::scope(|scope| {
            // Two batches in flight bound the memory whatever the file's size.
            let (sender, receiver) = std::sync::mpsc::sync_channel(2);
            // Written rows go back to be freed where they were allocated: freeing a batch
            // of strings on the writing thread cost it 3 % (glibc returns them across arenas).
            let (written_rows, spent) = std::sync::mpsc::sync_channel(2);
            scope.spawn(move || parse_batches(rows, &sender, &spent));
            // One signal pending at most: a checkpoint covers every commit before it.
            let (committed, commits) = std::sync::mpsc::sync_channel(1);
            if let Some(checkpoint_conn) = checkpoint_conn.as_mut() {
                scope.spawn(move || crate::storage::import::checkpoint_after_commits(checkpoint_conn, &commits));
            }
            let mut report = ImportReport { pay_from, ..ImportReport::default() };
            let batches = Batches { receiver: &receiver, committed: &committed, written_rows: &written_rows };
            // The checkpointer stops when `committed` is dropped, as this returns.
            write_batches(conn, batches, &kind, stamp, &mut report, progress)?;
            Ok(report)
        })
    })
}

/// Rows parsed and ready to write, with the rows rejected among them.
struct ParsedBatch<T> {
    rows: Vec<T>,
    rejected: Vec<RowError>,
    /// Rows read from the file so far, this batch included.
    read: u64,
}

fn parse_batches<T>(
    rows: impl Iterator<Item = Result<T, RowError>>,
    sender: &SyncSender<ParsedBatch<T>>,
    spent: &Receiver<Vec<T>>,
) {
    let mut read: u64 = 0;
    let mut batch = ParsedBatch { rows: Vec::with_capacity(BATCH_ROWS), rejected: Vec::new(), read };
    for row in rows {
        read += 1;
        match row {
            Ok(row) => batch.rows.push(row),
            Err(error) => batch.rejected.push(error),
        }
        if batch.rows.len() == BATCH_ROWS {
            spent.try_iter().for_each(drop);
            batch.read = read;
            let full = std::mem::replace(
                &mut batch,
                ParsedBatch { rows: Vec::with_capacity(BATCH_ROWS), rejected: Vec::new(), read },
            );
            // The writer hung up: it failed, and its error is the import's.
            if sender.send(full).is_err() {
                return;
            }
        }
    }
    batch.read = read;
    let _ = sender.send(batch);
}

/// The writer's ends of the pipeline's channels.
struct Batches<'a, T> {
    receiver: &'a Receiver<ParsedBatch<T>>,
    committed: &'a SyncSender<()>,
    written_rows: &'a SyncSender<Vec<T>>,
}

fn write_batches<T>(
    conn: &mut AnyConnection,
    batches: Batches<'_, T>,
    kind: &BulkKind<T>,
    stamp: &Stamp,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(u64),
) -> Result<(), ImportError> {
    let mut written: u64 = 0;
    for batch in batches.receiver {
        report.rows = batch.read;
        report.rejected.extend(batch.rejected);
        if !batch.rows.is_empty() {
            report.before_pay_from +=
                crate::pay_run::count_before_pay_from(report.pay_from, batch.rows.iter().map(kind.payable_from));
            report.add((kind.write)(conn, &batch.rows, stamp)?);
            // Full: a checkpoint is already due, and it will cover this batch too. Gone:
            // the checkpointer stopped, and the writer's own autocheckpoint takes over.
            let _ = batches.committed.try_send(());
            // Full or gone: they are freed here instead.
            let _ = batches.written_rows.try_send(batch.rows);
            written += 1;
            // A table that grows from empty has no statistics, and PostgreSQL then scans
            // it for every lookup; refreshing them after 1, 2, 4, 8… batches keeps the
            // import linear at a logarithmic cost.
            if written.is_power_of_two() {
                crate::storage::import::refresh_statistics(conn, kind.tables)?;
            }
        }
        progress(report.rows);
    }
    Ok(())
}

/// Records imported shifts, resolving each person by id, email or mapping; a shift for
/// a person paydown does not know is rejected with its line (a shift needs a person).
/// Streams: the rows are read (a CSV file parsed) on the pipeline's own thread.
pub fn import_shifts(
    store: &Store,
    rows: impl Iterator<Item = Result<ImportedShift, RowError>> + Send,
    stamp: &Stamp,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let directory = {
        let mut conn = store.conn()?;
        PersonDirectory::new(&people::list(&mut conn, None)?)
    };
    let rows = rows.zip(2..).map(move |(row, line)| {
        let shift = row?;
        let Some(person) = directory.find(&shift.person_key) else {
            return Err(RowError {
                line,
                field: "person".into(),
                message: format!(
                    "unknown person `{}`: create them, or use their paydown id or email",
                    shift.person_key
                ),
            });
        };
        Ok(shifts::NewShift {
            person: person.to_owned(),
            role: shift.role,
            schedule: shift.schedule,
            start: shift.start,
            end: shift.end,
            source: shift.source,
            external_id: shift.external_id,
        })
    });
    let kind = BulkKind {
        tables: "shifts",
        payable_from: |shift: &shifts::NewShift| shift.start,
        write: shifts::import_batch,
    };
    let mut report = import_rows(store, rows, kind, &mut |_| {}, stamp)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Every key a file may name a person by, lower-cased: an id wins over an email, an
/// email over a name.
struct PersonDirectory {
    ids_by_key: std::collections::HashMap<String, String>,
}

impl PersonDirectory {
    fn new(everyone: &[people::Person]) -> PersonDirectory {
        let mut ids_by_key = std::collections::HashMap::new();
        // Written weakest first, so a stronger key overwrites.
        let keys: [fn(&people::Person) -> &str; 3] = [|p| &p.name, |p| &p.email, |p| &p.id];
        for key_of in keys {
            for person in everyone {
                ids_by_key.insert(key_of(person).to_lowercase(), person.id.clone());
            }
        }
        PersonDirectory { ids_by_key }
    }

    fn find(&self, key: &str) -> Option<&str> {
        // Keys are mostly lower-case already (an email always is): only the others pay
        // for lower-casing.
        self.ids_by_key.get(key).or_else(|| self.ids_by_key.get(&key.to_lowercase())).map(String::as_str)
    }
}
