//! Bulk import from files: pages from CSV (generic or PagerDuty's export), shifts from
//! CSV or iCalendar. Streams rows, imports them in batches, reports every rejected row
//! with its line number and why, and never stops at the first bad row.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

use crate::domain::page::PageState;
use crate::ingest::csv_pages::{PageCsvFormat, PageRows, pages_from_csv};
use crate::ingest::rows::{FileError, ImportedShift, RowError};
use crate::storage::import::{BATCH_ROWS, BatchOutcome, PageRow, import_batch};
use crate::storage::{Stamp, StorageError, Store, people, shifts};

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
///
/// Parsing (CSV, timestamps, the payload's JSON) runs on its own thread, one batch ahead
/// of the writes, so on two cores reading and writing overlap. On SQLite a third thread
/// checkpoints the WAL on a connection of its own after each batch, so the writer seldom
/// waits for the database file's writes and syncs.
pub fn import_pages<R: Read + Send>(
    store: &Store,
    reader: R,
    format: PageCsvFormat,
    stamp: &Stamp,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let rows = pages_from_csv(reader, format).map_err(ImportError::File)?;
    let mut conn = store.conn()?;
    // Without a spare connection (a pool of one), the writer checkpoints by itself.
    let mut checkpoint_conn = match store.backend() {
        crate::storage::Backend::Sqlite => store.spare_conn(Duration::from_secs(1)),
        crate::storage::Backend::Postgres => None,
    };
    let pay_from = crate::storage::pay_runs::settings(&mut conn)?.pay_from;
    let mut report = crate::storage::import::with_bulk_settings(&mut conn, |conn| {
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
            // The checkpointer stops when `committed` is dropped, as this returns.
            write_batches(conn, &receiver, stamp, pay_from, progress, &committed, &written_rows)
        })
    })?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Rows parsed and ready to write, with the rows rejected among them.
struct ParsedBatch {
    rows: Vec<PageRow>,
    rejected: Vec<RowError>,
    /// Rows read from the file so far, this batch included.
    read: u64,
}

fn parse_batches<R: Read>(rows: PageRows<R>, sender: &SyncSender<ParsedBatch>, spent: &Receiver<Vec<PageRow>>) {
    let mut read: u64 = 0;
    let mut batch = ParsedBatch { rows: Vec::with_capacity(BATCH_ROWS), rejected: Vec::new(), read };
    for row in rows {
        read += 1;
        let line = read + 1;
        let parsed = row.and_then(|page| {
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
        });
        match parsed {
            Ok(page) => batch.rows.push(page),
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

fn write_batches(
    conn: &mut crate::storage::AnyConnection,
    batches: &Receiver<ParsedBatch>,
    stamp: &Stamp,
    pay_from: Option<chrono::NaiveDate>,
    progress: &mut dyn FnMut(u64),
    committed: &SyncSender<()>,
    written_rows: &SyncSender<Vec<PageRow>>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport { pay_from, ..ImportReport::default() };
    let mut written: u64 = 0;
    for batch in batches {
        report.rows = batch.read;
        report.rejected.extend(batch.rejected);
        if !batch.rows.is_empty() {
            report.before_pay_from +=
                crate::pay_run::count_before_pay_from(pay_from, batch.rows.iter().map(|row| row.state.triggered_at));
            report.add(import_batch(conn, &batch.rows, stamp)?);
            // Full: a checkpoint is already due, and it will cover this batch too. Gone:
            // the checkpointer stopped, and the writer's own autocheckpoint takes over.
            let _ = committed.try_send(());
            // Full or gone: they are freed here instead.
            let _ = written_rows.try_send(batch.rows);
            written += 1;
            // A table that grows from empty has no statistics, and PostgreSQL then scans
            // it for every lookup; refreshing them after 1, 2, 4, 8… batches keeps the
            // import linear at a logarithmic cost.
            if written.is_power_of_two() {
                crate::storage::import::refresh_statistics(conn)?;
            }
        }
        progress(report.rows);
    }
    Ok(report)
}

/// Records imported shifts, resolving each person by id, email or mapping; a shift for
/// a person paydown does not know is rejected with its line (a shift needs a person).
pub fn import_shifts(
    store: &Store,
    rows: impl IntoIterator<Item = Result<ImportedShift, RowError>>,
    stamp: &Stamp,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let mut conn = store.conn()?;
    // Every key a file may name a person by, lower-cased, looked up once per row: an id
    // wins over an email, an email over a name (written last, so they overwrite).
    let mut directory: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let everyone = people::list(&mut conn, None)?;
    for key_of in
        [|p: &people::Person| p.name.clone(), |p: &people::Person| p.email.clone(), |p: &people::Person| p.id.clone()]
    {
        for person in &everyone {
            directory.insert(key_of(person).to_lowercase(), person.id.clone());
        }
    }
    let pay_from = crate::storage::pay_runs::settings(&mut conn)?.pay_from;
    let mut report = ImportReport { pay_from, ..ImportReport::default() };
    let mut batch = Vec::new();
    for row in rows {
        report.rows += 1;
        let shift = match row {
            Ok(shift) => shift,
            Err(error) => {
                report.rejected.push(error);
                continue;
            }
        };
        report.before_pay_from += crate::pay_run::count_before_pay_from(pay_from, [shift.start]);
        let Some(person) = directory.get(&shift.person_key.to_lowercase()) else {
            report.rejected.push(RowError {
                line: report.rows + 1,
                field: "person".into(),
                message: format!(
                    "unknown person `{}`: create them, or use their paydown id or email",
                    shift.person_key
                ),
            });
            continue;
        };
        batch.push(shifts::NewShift {
            person: person.clone(),
            role: shift.role,
            schedule: shift.schedule,
            start: shift.start,
            end: shift.end,
            source: shift.source,
            external_id: shift.external_id,
        });
    }
    // As for pages: on SQLite a cache that holds the indexes being appended to, and the
    // WAL checkpointed once at the end, not every 4 MB (each checkpoint syncs the file).
    crate::storage::import::with_bulk_settings(&mut conn, |conn| {
        for chunk in batch.chunks(BATCH_ROWS) {
            let outcome = shifts::import_batch(conn, chunk, stamp)?;
            report.created += outcome.created;
            report.updated += outcome.updated;
            report.unchanged += outcome.unchanged;
        }
        Ok::<_, ImportError>(())
    })?;
    report.elapsed = started.elapsed();
    Ok(report)
}
