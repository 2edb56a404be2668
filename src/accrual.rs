//! Accrual and verification: keeping the ledger equal to what the pay engine says.
//!
//! Accrual follows the pay journal (`storage::journal`): database triggers record, with
//! every change of a fact, whose pay became stale and from when. An accrual takes one
//! person at a time: it reads the person's journal rows, facts and ledger entries from
//! that instant on in one read snapshot, prices them outside any write lock
//! (`pricing::ledger_lines`), compares the lines with the live entries
//! (`domain::posting::changes`), and posts the difference in short write transactions of
//! at most `ENTRIES_PER_POSTING_MAX` entries on SQLite (a person's year at once on
//! PostgreSQL), the last of which deletes exactly the journal rows it read. Its cost is
//! the person's facts
//! after the change, never the whole history; a pass with an empty journal reads one row.
//! Given a second connection (`accrue_pipelined`: the worker, `paydown accrue`), a second
//! thread reads and prices the next people on it while the first connection posts, so a
//! large accrual on two cores takes about the time of its posting alone.
//!
//! Concurrency: on PostgreSQL a person is taken with a session advisory lock that other
//! workers skip (`pg_try_advisory_lock`), so several servers share the journal. Whatever
//! the backend, the posting transaction first checks that every journal row it read is
//! still there (else another worker priced the person meanwhile and this result is
//! dropped), and the unique key `(line_key, revision, entry_kind)` refuses a double
//! posting even so. A crash leaves the person's rows in the journal: they are replayed.
//!
//! A person who cannot be priced (stored data the engine refuses, an arithmetic limit, a
//! panic in the engine) is reported as unpriced, their journal rows keep the reason, and
//! the others go on; the person's next change retries them.
//!
//! Where an entry goes: the period its fact belongs to (the person's local date of
//! `occurred_at`) while that period is open; after it closed, the earliest open period
//! after it, as an adjustment that names the original period (`natural_period`).

use crate::domain::person_version::PayHistory;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::entry_id::EntryIds;
use crate::domain::pay::PricedLine;
use crate::domain::period::{PeriodScheme, PeriodSpan};
use crate::domain::posting::{Change, EntryKind, LiveEntry, changes_in_periods, line_terms};
use crate::pricing::{self, StatementError};
use crate::storage::ledger::{self as store, Entry, NewEntry};
use crate::storage::{AnyConnection, StorageError, journal, people, write_transaction};

/// Fault injection for the crash test: with `PAYDOWN_FAULT_ACCRUAL_STALL_AFTER=N` set,
/// an accrual stops (sleeps for good, its transaction open) after posting N entries, so
/// that a test can kill the process mid-accrual deterministically.
pub const FAULT_STALL_ENV: &str = "PAYDOWN_FAULT_ACCRUAL_STALL_AFTER";

fn stall_if_asked(posted_before: usize, posted: usize) {
    let Some(limit) = std::env::var(FAULT_STALL_ENV).ok().and_then(|value| value.parse::<usize>().ok()) else {
        return;
    };
    if posted_before < limit && limit <= posted {
        eprintln!("fault injection: accrual stalled after {limit} entries ({posted} posted by this pass)");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// The first key of the advisory locks that take a person for pricing on PostgreSQL (the
/// second is the hash of the person's id).
const PERSON_LOCK_NAMESPACE: i32 = 0x7061_7970;
/// People read from the journal per round of a pass.
const PEOPLE_PER_ROUND_MAX: i64 = 256;
/// Entries per posting transaction: a few tens of milliseconds of SQLite's write lock.
const ENTRIES_PER_POSTING_MAX: usize = 500;
/// On PostgreSQL a posting blocks no other writer (it shares its periods' rows, so only a
/// close of one of them waits), so a person's year goes in one transaction: every batch
/// costs its own begin, journal check, periods, marks and commit, each a round trip to
/// the server (a year at 1,000,000 pages: 47,150 lines/s against 31,898 in batches of 500).
const ENTRIES_PER_POSTGRES_POSTING_MAX: usize = 20_000;

/// Why an accrual or a verification failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for LedgerError {
    fn from(error: diesel::result::Error) -> LedgerError {
        LedgerError::Storage(StorageError::Database(error))
    }
}

/// What an accrual did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccrualReport {
    pub run_id: String,
    /// The horizon standby is priced up to (callouts and responses are priced whenever
    /// they happen).
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub as_of: DateTime<Utc>,
    /// People re-priced (named by the journal).
    pub people: usize,
    /// New line revisions posted.
    pub lines_posted: usize,
    /// Reversals of lines that changed or no longer hold.
    pub reversals_posted: usize,
    /// Of those entries, how many went into a later period because theirs was closed.
    pub adjustments_posted: usize,
    /// People whose facts could not be priced, and why (their entries are untouched).
    pub unpriced: Vec<String>,
    /// Journal rows this run deleted or marked failed (each a dead row on PostgreSQL).
    #[serde(skip)]
    #[schema(ignore)]
    pub(crate) journal_rows_done: usize,
}

impl AccrualReport {
    fn entries_posted(&self) -> usize {
        self.lines_posted + self.reversals_posted
    }
}

/// How far an accrual got, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub people_done: usize,
    pub entries_posted: usize,
    /// How long the second thread took to read and price the person just posted (zero
    /// when the posting thread priced them itself): work done beside the posting, which a
    /// caller that paces the accrual counts too.
    pub priced_beside: std::time::Duration,
}

pub(crate) fn ledger_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The instant re-pricing starts for a change at `changed`: the person's local midnight
/// (in the zone of the version in force) at or before it (standby is priced per local day), never before the ledger's epoch.
fn repricing_start(person: &PayHistory, changed: DateTime<Utc>) -> DateTime<Utc> {
    person.day_start_at_or_before(changed.max(ledger_epoch()))
}

/// Each entry's natural period, by entry id.
fn natural_periods(entries: &[Entry]) -> BTreeMap<String, String> {
    entries.iter().map(|entry| (entry.id.clone(), entry.natural_period.clone())).collect()
}

fn live_entries(entries: &[Entry]) -> (Vec<LiveEntry>, BTreeMap<String, i32>) {
    let reversed: BTreeSet<&str> = entries.iter().filter_map(|entry| entry.reverses.as_deref()).collect();
    let mut revisions_max: BTreeMap<String, i32> = BTreeMap::new();
    for entry in entries {
        let max = revisions_max.entry(entry.line_key.clone()).or_insert(entry.revision);
        *max = (*max).max(entry.revision);
    }
    let live = entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::Line && !reversed.contains(entry.id.as_str()))
        // A manual adjustment is no priced line: accrual must never reverse it.
        .filter(|entry| !crate::domain::pay_run::is_manual_adjustment(&entry.fact_kind))
        .map(|entry| LiveEntry {
            entry_id: entry.id.clone(),
            line_key: entry.line_key.clone(),
            revision: entry.revision,
            terms: entry.terms.clone(),
        })
        .collect();
    (live, revisions_max)
}

/// A run that finishes this many journal rows vacuums the journal afterwards.
pub const JOURNAL_VACUUM_AFTER_ROWS: usize = 10_000;
/// A run that posts this many entries refreshes the ledger's planner statistics afterwards
/// (PostgreSQL).
pub const LEDGER_ANALYZE_AFTER_ENTRIES: usize = 100_000;

/// People priced ahead of the posting when a second connection prices (`accrue_pipelined`):
/// enough that the posting never waits for a person of average size, few enough that the
/// prices are fresh and memory stays a few people's facts.
const PEOPLE_PRICED_AHEAD_MAX: usize = 2;

/// A round of fewer people than this (live pages: each names its acknowledger) is priced
/// and posted in turn, without the second thread: starting it would cost more than it saves.
const PIPELINE_PEOPLE_MIN: usize = 4;

/// Whether the journal names enough people for a pass to be worth a second connection
/// ([`accrue_pipelined`]): opening one costs a pass with nothing to do more than the pass.
pub fn wants_second_connection(conn: &mut AnyConnection) -> Result<bool, StorageError> {
    let people = journal::pending_people(conn, i64::try_from(PIPELINE_PEOPLE_MIN).unwrap_or(i64::MAX))?;
    Ok(people.len() >= PIPELINE_PEOPLE_MIN)
}

/// Posts what the ledger lacks for every person the journal names (repeatedly, until it
/// is empty or only holds people another worker is pricing), as of `now`.
pub fn accrue(conn: &mut AnyConnection, actor: &str, now: DateTime<Utc>) -> Result<AccrualReport, LedgerError> {
    accrue_with_progress(conn, actor, now, &mut |_| {})
}

/// As [`accrue`], reporting after each person.
pub fn accrue_with_progress(
    conn: &mut AnyConnection,
    actor: &str,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(Progress),
) -> Result<AccrualReport, LedgerError> {
    accrue_on(conn, None, actor, now, progress)
}

/// As [`accrue_with_progress`], with a second connection for a round of several people.
/// On SQLite `reader` reads and prices the next people in a second thread while `conn`
/// posts: on two cores a large accrual takes the time of its posting, not of its posting
/// plus its pricing. On PostgreSQL both connections price and post, side by side. What is
/// posted is the same.
pub fn accrue_pipelined(
    conn: &mut AnyConnection,
    reader: &mut AnyConnection,
    actor: &str,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(Progress),
) -> Result<AccrualReport, LedgerError> {
    accrue_on(conn, Some(reader), actor, now, progress)
}

fn accrue_on(
    conn: &mut AnyConnection,
    mut reader: Option<&mut AnyConnection>,
    actor: &str,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(Progress),
) -> Result<AccrualReport, LedgerError> {
    let horizon = advance_horizon(conn, now)?;
    // Read once the journal names someone: a pass with nothing to do reads the journal only.
    let mut posting_rules: Option<(PeriodScheme, Option<chrono::NaiveDate>)> = None;
    let run_id = uuid::Uuid::now_v7().to_string();
    let shared_run_id: Arc<str> = Arc::from(run_id.as_str());
    let shared_actor: Arc<str> = Arc::from(actor);
    let entry_ids = EntryIds::new(uuid::Uuid::new_v4().as_u128());
    let mut report = AccrualReport { run_id: run_id.clone(), as_of: horizon, ..AccrualReport::default() };
    let mut run_recorded = false;
    let mut taken_elsewhere = BTreeSet::new();
    loop {
        let people = journal::pending_people(conn, PEOPLE_PER_ROUND_MAX)?;
        let todo: Vec<String> = people.into_iter().filter(|person| !taken_elsewhere.contains(person)).collect();
        if todo.is_empty() {
            break;
        }
        let (scheme, pay_from) = match posting_rules {
            Some(rules) => rules,
            None => *posting_rules.insert((store::scheme(conn)?, crate::storage::pay_runs::settings(conn)?.pay_from)),
        };
        if !run_recorded {
            write_transaction(conn, |conn| store::insert_run(conn, &run_id, actor, now))?;
            run_recorded = true;
        }
        let context = Posting {
            scheme,
            run_id: Arc::clone(&shared_run_id),
            actor: Arc::clone(&shared_actor),
            entry_ids: &entry_ids,
            now,
            horizon,
            pay_from,
        };
        let mut record = |person: String, outcome: PersonOutcome, priced_beside, report: &mut AccrualReport| {
            match outcome {
                PersonOutcome::Done => report.people += 1,
                PersonOutcome::Unpriced(problem) => {
                    report.people += 1;
                    report.unpriced.push(problem);
                }
                PersonOutcome::TakenElsewhere => {
                    taken_elsewhere.insert(person);
                }
            }
            progress(Progress { people_done: report.people, entries_posted: report.entries_posted(), priced_beside });
        };
        match reader.as_deref_mut() {
            Some(reader) if todo.len() >= PIPELINE_PEOPLE_MIN => match conn {
                AnyConnection::Postgresql(_) => {
                    post_round_side_by_side(conn, reader, todo, &context, &mut report, &mut record)?
                }
                AnyConnection::Sqlite(_) => {
                    post_round_pipelined(conn, reader, todo, &context, &mut report, &mut record)?
                }
            },
            _ => {
                for person in todo {
                    let outcome = accrue_person(conn, &person, &context, &mut report)?;
                    record(person, outcome, std::time::Duration::ZERO, &mut report);
                }
            }
        }
    }
    if run_recorded {
        write_transaction(conn, |conn| {
            store::finish_run(conn, &run_id, report.entries_posted())?;
            if report.entries_posted() > 0 || !report.unpriced.is_empty() {
                crate::storage::audit::record(
                    conn,
                    &crate::storage::Stamp::new(actor, now),
                    "accrue",
                    "accrual_run",
                    &run_id,
                    Some(format!(
                        "{} lines, {} reversals, {} adjustments; {} people re-priced, {} unpriced",
                        report.lines_posted,
                        report.reversals_posted,
                        report.adjustments_posted,
                        report.people,
                        report.unpriced.len()
                    )),
                )?;
            }
            Ok::<_, LedgerError>(())
        })?;
    }
    if report.journal_rows_done >= JOURNAL_VACUUM_AFTER_ROWS {
        // After a first accrual or an import the journal's deleted rows are dead tuples on
        // PostgreSQL that every later pass would scan (13.7 ms a pass at 1,000,000 pages)
        // until autovacuum, which a server may run late or not at all. Not in a transaction.
        if let Err(error) = journal::vacuum(conn) {
            tracing::warn!(%error, "could not vacuum the pay journal; idle passes may read its dead rows");
        }
    }
    if report.entries_posted() >= LEDGER_ANALYZE_AFTER_ENTRIES {
        // Until autovacuum gets to it, PostgreSQL plans against a ledger of the size it had
        // before: after a first accrual of 3,063,005 entries it read each dashboard day's
        // entries by scanning the whole ledger (365 days recomputed in 135.7 s, against
        // 32.8 s with statistics). Not in a transaction; blocks no reader or writer.
        if let Err(error) = crate::storage::import::refresh_statistics(conn, "ledger_entries") {
            tracing::warn!(%error, "could not refresh the ledger's statistics; reads may be slow until autovacuum");
        }
    }
    Ok(report)
}

/// Records one person's outcome in the pass's report (and its progress): the person, the
/// outcome, and the time spent pricing them beside the posting.
type RecordOutcome<'r> = dyn FnMut(String, PersonOutcome, std::time::Duration, &mut AccrualReport) + 'r;

/// One round's people on SQLite: `reader` reads and prices them in a second thread, at
/// most [`PEOPLE_PRICED_AHEAD_MAX`] ahead, while `conn` posts them in order. Each person
/// is taken ([`take_person`], which always succeeds on SQLite) before it is priced and
/// released once posted, exactly as [`accrue_person`] does.
fn post_round_pipelined(
    conn: &mut AnyConnection,
    reader: &mut AnyConnection,
    todo: Vec<String>,
    context: &Posting<'_>,
    report: &mut AccrualReport,
    record: &mut RecordOutcome<'_>,
) -> Result<(), LedgerError> {
    use std::sync::mpsc;
    // On SQLite the pricing thread also checkpoints the WAL after each person, so that the
    // posting thread's commits never copy pages into the database file (a third of its
    // time at 1,000,000 pages); its own checkpoints only come back past 256 MB of WAL.
    crate::storage::set_wal_autocheckpoint(conn, crate::storage::WAL_AUTOCHECKPOINT_DEFERRED_PAGES)?;
    let outcome = std::thread::scope(|scope| {
        let (to_price, priced_queue) = mpsc::channel::<String>();
        let (priced_tx, priced) = mpsc::channel::<(Result<Prepared, LedgerError>, std::time::Duration)>();
        let (to_free, spent) = mpsc::channel::<Vec<NewEntry>>();
        scope.spawn(move || {
            let mut checkpointing = true;
            for person in priced_queue {
                // The posted batches come back to be freed on the thread that built them.
                spent.try_iter().for_each(drop);
                let started = std::time::Instant::now();
                let prepared = prepare_person(reader, &person, context);
                if priced_tx.send((prepared, started.elapsed())).is_err() {
                    break;
                }
                if checkpointing && let Err(error) = crate::storage::checkpoint_passive(reader) {
                    tracing::warn!(%error, "the accrual's checkpoints stopped; the posting connection checkpoints");
                    checkpointing = false;
                }
            }
        });
        let mut waiting = todo.into_iter();
        let mut in_flight: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        let result: Result<(), LedgerError> = (|| {
            loop {
                while in_flight.len() < PEOPLE_PRICED_AHEAD_MAX {
                    let Some(person) = waiting.next() else { break };
                    if take_person(conn, &person)? {
                        // The reader ends only when `to_price` is dropped: a send never fails.
                        let _ = to_price.send(person.clone());
                        in_flight.push_back(person);
                    } else {
                        record(person, PersonOutcome::TakenElsewhere, std::time::Duration::ZERO, report);
                    }
                }
                let Some(person) = in_flight.front().cloned() else { return Ok(()) };
                let (prepared, pricing) = priced.recv().map_err(|_| {
                    LedgerError::Storage(StorageError::Unavailable("the pricing thread stopped".to_owned()))
                })?;
                let outcome = prepared.and_then(|prepared| {
                    post_prepared(conn, &person, prepared, context, report, &mut |spent| {
                        // Freed where it was allocated: a glibc free of another thread's
                        // memory was 7 % of the posting thread at 1,000,000 pages.
                        let _ = to_free.send(spent);
                    })
                });
                release_person(conn, &person);
                in_flight.pop_front();
                record(person, outcome?, pricing, report);
            }
        })();
        for person in &in_flight {
            release_person(conn, person);
        }
        drop(to_price);
        result
    });
    let restored = crate::storage::set_wal_autocheckpoint(conn, crate::storage::WAL_AUTOCHECKPOINT_PAGES);
    outcome?;
    Ok(restored?)
}
/// One round's people on PostgreSQL: `conn` and `reader` each take the next person, then
/// read, price and post them, side by side in two threads. There the server's posting
/// (heap, index and WAL inserts) is the larger part of a line's cost, and with one
/// connection posting while the other priced, one core stayed about a third idle. Each
/// person is taken (the advisory lock) on the connection that posts them, exactly as
/// [`accrue_person`] does, so another worker or server still never posts them twice.
/// SQLite has one writer, so it keeps [`post_round_pipelined`].
fn post_round_side_by_side(
    conn: &mut AnyConnection,
    reader: &mut AnyConnection,
    todo: Vec<String>,
    context: &Posting<'_>,
    report: &mut AccrualReport,
    record: &mut RecordOutcome<'_>,
) -> Result<(), LedgerError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    /// One person done by one of the threads, with what it added to the counts.
    struct Done {
        person: String,
        outcome: Result<PersonOutcome, LedgerError>,
        posted: PostedCounts,
        recorded: mpsc::Sender<()>,
    }
    let queue = std::sync::Mutex::new(todo.into_iter());
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (done_tx, done) = mpsc::channel::<Done>();
        for connection in [conn, reader] {
            let (done_tx, queue, failed) = (done_tx.clone(), &queue, &failed);
            scope.spawn(move || {
                // This thread's own counts, so that the crash test's stall still counts
                // the entries of the pass (per thread) and not of one person.
                let mut own = AccrualReport::default();
                let (recorded_tx, recorded) = mpsc::channel::<()>();
                while !failed.load(Ordering::Relaxed) {
                    let next = queue.lock().map(|mut waiting| waiting.next());
                    let Ok(Some(person)) = next else { break };
                    let before = PostedCounts::of(&own);
                    let outcome = accrue_person(connection, &person, context, &mut own);
                    if outcome.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    let posted = PostedCounts::of(&own).since(before);
                    if done_tx.send(Done { person, outcome, posted, recorded: recorded_tx.clone() }).is_err() {
                        break;
                    }
                    // The caller may pace the accrual by sleeping in `record`: the pause
                    // holds the thread that posted, as it holds the only one elsewhere.
                    if recorded.recv().is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut first_error = None;
        for Done { person, outcome, posted, recorded } in done {
            posted.add_to(report);
            match outcome {
                // Priced by the thread that posted: nothing was priced beside the posting.
                Ok(outcome) => record(person, outcome, std::time::Duration::ZERO, report),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
            let _ = recorded.send(());
        }
        first_error.map_or(Ok(()), Err)
    })
}

/// The counts of an [`AccrualReport`] that posting adds to.
#[derive(Debug, Clone, Copy, Default)]
struct PostedCounts {
    lines: usize,
    reversals: usize,
    adjustments: usize,
    journal_rows: usize,
}

impl PostedCounts {
    fn of(report: &AccrualReport) -> PostedCounts {
        PostedCounts {
            lines: report.lines_posted,
            reversals: report.reversals_posted,
            adjustments: report.adjustments_posted,
            journal_rows: report.journal_rows_done,
        }
    }

    /// What was added since `before` (counts only grow within a pass).
    fn since(self, before: PostedCounts) -> PostedCounts {
        PostedCounts {
            lines: self.lines.saturating_sub(before.lines),
            reversals: self.reversals.saturating_sub(before.reversals),
            adjustments: self.adjustments.saturating_sub(before.adjustments),
            journal_rows: self.journal_rows.saturating_sub(before.journal_rows),
        }
    }

    fn add_to(self, report: &mut AccrualReport) {
        report.lines_posted = report.lines_posted.saturating_add(self.lines);
        report.reversals_posted = report.reversals_posted.saturating_add(self.reversals);
        report.adjustments_posted = report.adjustments_posted.saturating_add(self.adjustments);
        report.journal_rows_done = report.journal_rows_done.saturating_add(self.journal_rows);
    }
}

/// Moves the standby horizon to `now`'s quarter hour (journaling the people whose standby
/// that completes) and returns it.
fn advance_horizon(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<DateTime<Utc>, LedgerError> {
    let wanted = journal::horizon_for(now);
    if let Some(stored) = journal::horizon(conn)?
        && stored >= wanted
    {
        return Ok(stored);
    }
    if write_transaction(conn, |conn| journal::advance_horizon(conn, wanted, now))? {
        return Ok(wanted);
    }
    // Another process moved it further meanwhile.
    Ok(journal::horizon(conn)?.unwrap_or(wanted))
}

/// Journals every person from the ledger's epoch: the next accrual re-prices everyone
/// (`paydown accrue --all`, a repair after a change made outside paydown).
pub fn mark_everyone(conn: &mut AnyConnection) -> Result<usize, LedgerError> {
    let everyone = people::list(conn, None)?;
    write_transaction(conn, |conn| {
        for person in &everyone {
            journal::mark(conn, &person.id, ledger_epoch())?;
        }
        Ok::<_, LedgerError>(())
    })?;
    Ok(everyone.len())
}

/// What every posting of one pass shares.
struct Posting<'a> {
    scheme: PeriodScheme,
    /// The run and the actor, shared by every entry the run builds.
    run_id: Arc<str>,
    actor: Arc<str>,
    entry_ids: &'a EntryIds,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
    /// Go-live: lines before it are never posted (`domain::pay_run::is_payable`).
    pay_from: Option<chrono::NaiveDate>,
}

enum PersonOutcome {
    Done,
    Unpriced(String),
    TakenElsewhere,
}

/// What one read snapshot says about a person.
enum Snapshot {
    /// Nothing in the journal any more.
    Empty,
    /// The engine panicked (a defect): the person is reported unpriced, the rest go on.
    Panicked(String),
    /// The journal names someone who is not a person (an unmapped acknowledger).
    NotAPerson(journal::PersonMarks),
    Unpriceable(journal::PersonMarks, String),
    Priced(Box<Priced>),
}

/// A person priced in one snapshot, with what the ledger holds from the same instant on.
struct Priced {
    marks: journal::PersonMarks,
    person: PayHistory,
    desired: Vec<PricedLine>,
    entries: Vec<Entry>,
    page_days: std::collections::HashMap<String, i64>,
}

/// A person ready to post: what the snapshot said, with a priced person's entries to post
/// (built outside any transaction, on the pricing thread when there is one).
enum Prepared {
    Snapshot(Snapshot),
    /// The entries, already cut into the batches each posting transaction takes.
    Postings {
        marks: journal::PersonMarks,
        person: PayHistory,
        batches: Vec<Vec<NewEntry>>,
    },
}

fn accrue_person(
    conn: &mut AnyConnection,
    person_id: &str,
    context: &Posting<'_>,
    report: &mut AccrualReport,
) -> Result<PersonOutcome, LedgerError> {
    if !take_person(conn, person_id)? {
        return Ok(PersonOutcome::TakenElsewhere);
    }
    let outcome = prepare_person(conn, person_id, context)
        .and_then(|prepared| post_prepared(conn, person_id, prepared, context, report, &mut drop));
    release_person(conn, person_id);
    outcome
}

/// Reads and prices the person in one read snapshot, then builds the entries that bring
/// the ledger to the prices: no write lock is held.
fn prepare_person(conn: &mut AnyConnection, person_id: &str, context: &Posting<'_>) -> Result<Prepared, LedgerError> {
    let snapshot = read_snapshot(conn, |conn| person_snapshot(conn, person_id, context.horizon, context.pay_from))?;
    let Snapshot::Priced(priced) = snapshot else {
        return Ok(Prepared::Snapshot(snapshot));
    };
    let Priced { marks, person, desired, entries, page_days } = *priced;
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        postings_for(&person, &desired, &entries, &page_days, context)
    }));
    Ok(match built {
        // A year of one person's history is thousands of entries: they are posted a few
        // hundred per transaction (a line's reversal and new revision together), so that no
        // posting holds SQLite's write lock for long. Cut here, on the pricing side.
        Ok(Ok(postings)) => Prepared::Postings {
            marks,
            person,
            batches: with_ids_in_posting_order(
                crate::domain::posting::batches(
                    postings,
                    match conn {
                        AnyConnection::Sqlite(_) => ENTRIES_PER_POSTING_MAX,
                        AnyConnection::Postgresql(_) => ENTRIES_PER_POSTGRES_POSTING_MAX,
                    },
                    |entry| &entry.line_key,
                    |entry| entry.occurred_at,
                ),
                context,
            ),
        },
        Ok(Err(problem)) => Prepared::Snapshot(Snapshot::Unpriceable(marks, format!("{person_id}: {problem}"))),
        Err(panic) => Prepared::Snapshot(Snapshot::Panicked(format!(
            "building the postings panicked: {}",
            panic_message(panic.as_ref())
        ))),
    })
}

/// Gives the entries their ids in the order they will be posted, so that each insert
/// lands at the end of the id index.
fn with_ids_in_posting_order(mut batches: Vec<Vec<NewEntry>>, context: &Posting<'_>) -> Vec<Vec<NewEntry>> {
    for entry in batches.iter_mut().flatten() {
        entry.id = context.entry_ids.next_id(crate::clock::unix_millis());
    }
    batches
}

/// The entries that turn what the ledger holds (`entries`) into what the engine says
/// (`desired`): new revisions of changed or new lines, reversals of those that no longer
/// hold. Their periods are resolved when they are posted.
fn postings_for(
    person: &PayHistory,
    desired: &[PricedLine],
    entries: &[Entry],
    page_days: &std::collections::HashMap<String, i64>,
    context: &Posting<'_>,
) -> Result<Vec<NewEntry>, StorageError> {
    let (live, revisions_max) = live_entries(entries);
    let by_id: BTreeMap<&str, &Entry> = entries.iter().map(|entry| (entry.id.as_str(), entry)).collect();
    let mut postings = Vec::new();
    let mut texts = EntryTexts::default();
    let posted_for = natural_periods(entries);
    let period_of = |line: &PricedLine| context.scheme.period_of(person.local_date(line.occurred_at)).id;
    for change in changes_in_periods(desired, &live, &revisions_max, period_of, &posted_for) {
        postings.push(match change {
            Change::Post { line_key, revision, line } => {
                let page_day = line.page_id.as_ref().and_then(|page| page_days.get(page).copied());
                new_line_entry(context, &mut texts, line_key, revision, line, page_day)?
            }
            Change::Reverse { entry } => {
                let Some(reversed) = by_id.get(entry.entry_id.as_str()) else { continue };
                reversal_entry(context, &mut texts, reversed)
            }
        });
    }
    Ok(postings)
}

/// Posts what [`prepare_person`] built, in short write transactions that each first check
/// the journal rows it was priced for are all still there. Each batch, once posted, goes
/// to `spent`.
fn post_prepared(
    conn: &mut AnyConnection,
    person_id: &str,
    prepared: Prepared,
    context: &Posting<'_>,
    report: &mut AccrualReport,
    spent: &mut dyn FnMut(Vec<NewEntry>),
) -> Result<PersonOutcome, LedgerError> {
    let (marks, person, batches) = match prepared {
        Prepared::Postings { marks, person, batches } => (marks, person, batches),
        Prepared::Snapshot(Snapshot::Empty) => return Ok(PersonOutcome::Done),
        Prepared::Snapshot(Snapshot::Panicked(problem)) => {
            tracing::error!(person = person_id, problem = %problem, "pricing panicked; others go on");
            return write_transaction(conn, |conn| {
                if let Some(marks) = journal::marks(conn, person_id)? {
                    journal::fail(conn, &marks.seqs, &format!("{person_id}: {problem}"))?;
                    report.journal_rows_done += marks.seqs.len();
                }
                Ok(PersonOutcome::Unpriced(format!("{person_id}: {problem}")))
            });
        }
        Prepared::Snapshot(Snapshot::NotAPerson(marks)) => {
            return write_transaction(conn, |conn| {
                journal::clear(conn, &marks)?;
                report.journal_rows_done += marks.seqs.len();
                Ok(PersonOutcome::Done)
            });
        }
        Prepared::Snapshot(Snapshot::Unpriceable(marks, problem)) => {
            tracing::warn!(person = person_id, problem = %problem, "person cannot be priced; others go on");
            return write_transaction(conn, |conn| {
                if journal::all_present(conn, &marks)? {
                    journal::fail(conn, &marks.seqs, &problem)?;
                    report.journal_rows_done += marks.seqs.len();
                }
                Ok(PersonOutcome::Unpriced(problem))
            });
        }
        Prepared::Snapshot(Snapshot::Priced(_)) => {
            unreachable!("prepare_person turns every priced snapshot into postings")
        }
    };
    // The journal rows go with the last batch; a crash between two leaves them, and the
    // replay posts only what is missing (the diff against what was posted).
    let last = batches.len().saturating_sub(1);
    for (index, mut batch) in batches.into_iter().enumerate() {
        let posted = write_transaction(conn, |conn| {
            // PostgreSQL: the posting's commit does not wait for its WAL to reach the disk
            // (40,316-44,043 lines/s for a year at 100,000 pages, against 32,470-35,227).
            // What a server crash can lose is whole postings together with the journal rows
            // they deleted, so they are priced again; and any commit that waits (a close, an
            // export's record, a fact) flushes the WAL up to itself, these postings included,
            // so nothing durable ever rests on a posting that could still be lost.
            if let AnyConnection::Postgresql(pg) = conn {
                use diesel::connection::SimpleConnection;
                pg.batch_execute("SET LOCAL synchronous_commit = off")?;
            }
            if !journal::all_present(conn, &marks)? {
                return Ok(PersonOutcome::TakenElsewhere);
            }
            post_all(conn, context, &person, &mut batch, report)?;
            if index == last {
                journal::clear(conn, &marks)?;
                report.journal_rows_done += marks.seqs.len();
            }
            Ok(PersonOutcome::Done)
        });
        spent(batch);
        match posted {
            Ok(PersonOutcome::Done) => {}
            Ok(other) => return Ok(other),
            // Another process posted this person's lines between two batches (SQLite has
            // no person lock): its pass clears the journal.
            Err(LedgerError::Storage(StorageError::Conflict(_))) => {
                return Ok(PersonOutcome::TakenElsewhere);
            }
            Err(error) => return Err(error),
        }
    }
    Ok(PersonOutcome::Done)
}
/// Reads what pricing one person needs; the pricing itself happens here too, inside the
/// read snapshot but outside any write lock.
fn person_snapshot(
    conn: &mut AnyConnection,
    person_id: &str,
    horizon: DateTime<Utc>,
    pay_from: Option<chrono::NaiveDate>,
) -> Result<Snapshot, LedgerError> {
    let Some(marks) = journal::marks(conn, person_id)? else {
        return Ok(Snapshot::Empty);
    };
    let stored = match people::find(conn, person_id) {
        Ok(Some(stored)) => stored,
        Ok(None) => return Ok(Snapshot::NotAPerson(marks)),
        // The row is there but unreadable (a value written around the API's checks).
        Err(StorageError::Unavailable(problem)) => return Ok(Snapshot::Unpriceable(marks, problem)),
        Err(error) => return Err(error.into()),
    };
    let person = match pricing::pay_history(conn, &stored) {
        Ok(person) => person,
        Err(StatementError::Storage(StorageError::Unavailable(problem))) => {
            return Ok(Snapshot::Unpriceable(marks, problem));
        }
        Err(StatementError::Storage(error)) => return Err(error.into()),
        Err(error) => return Ok(Snapshot::Unpriceable(marks, error.to_string())),
    };
    let (desired, page_days, from) =
        match pricing::ledger_lines(conn, &person, repricing_start(&person, marks.from), horizon) {
            Ok(priced) => (
                crate::domain::pay_run::payable_lines(priced.lines, |at| person.local_date(at), pay_from),
                priced.page_days,
                priced.from,
            ),
            Err(StatementError::Storage(error)) => return Err(error.into()),
            Err(error) => return Ok(Snapshot::Unpriceable(marks, format!("{person_id}: {error}"))),
        };
    let entries = store::person_entries_since(conn, person_id, from)?;
    Ok(Snapshot::Priced(Box::new(Priced { marks, person, desired, entries, page_days })))
}

/// Runs `work` in a read-only snapshot (SQLite: a deferred transaction, which reads one
/// snapshot of the WAL; PostgreSQL: `REPEATABLE READ`). A panic inside becomes an
/// unpriceable person, not a dead worker.
fn read_snapshot(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<Snapshot, LedgerError>,
) -> Result<Snapshot, LedgerError> {
    match conn {
        AnyConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN DEFERRED")?,
        AnyConnection::Postgresql(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
        }
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn)));
    // Read-only: ending it with a commit or a rollback is the same; a failure to end it
    // breaks the connection, which the pool then discards.
    let _ = <AnyConnection as Connection>::TransactionManager::commit_transaction(conn);
    match result {
        Ok(snapshot) => snapshot,
        Err(panic) => Ok(Snapshot::Panicked(format!("pricing panicked: {}", panic_message(panic.as_ref())))),
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[derive(diesel::QueryableByName)]
struct Taken {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    taken: bool,
}

/// Takes the person for pricing and posting (PostgreSQL: a session advisory lock that
/// other workers skip; false when another worker holds it). On SQLite the write lock
/// serialises postings instead, and this always succeeds.
fn take_person(conn: &mut AnyConnection, person_id: &str) -> Result<bool, LedgerError> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Integer, Text};
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(true);
    };
    let taken = diesel::sql_query("SELECT pg_try_advisory_lock($1, hashtext($2)) AS taken")
        .bind::<Integer, _>(PERSON_LOCK_NAMESPACE)
        .bind::<Text, _>(person_id)
        .get_result::<Taken>(pg)?;
    Ok(taken.taken)
}

/// Releases what [`take_person`] took.
fn release_person(conn: &mut AnyConnection, person_id: &str) {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Integer, Text};
    if let AnyConnection::Postgresql(pg) = conn {
        // A failed unlock leaves the lock with the session; the pool's next use of this
        // connection still holds it, so a broken connection is the only way to lose it.
        let _ = diesel::sql_query("SELECT pg_advisory_unlock($1, hashtext($2)) AS taken")
            .bind::<Integer, _>(PERSON_LOCK_NAMESPACE)
            .bind::<Text, _>(person_id)
            .get_result::<Taken>(pg);
    }
}

/// Resolves each distinct period once, then inserts the entries.
fn post_all(
    conn: &mut AnyConnection,
    context: &Posting<'_>,
    person: &PayHistory,
    postings: &mut [NewEntry],
    report: &mut AccrualReport,
) -> Result<(), StorageError> {
    let mut posting_periods: BTreeMap<String, String> = BTreeMap::new();
    let posted_before = report.entries_posted();
    let naturals: Vec<PeriodSpan> = postings
        .iter()
        .map(|entry| {
            crate::domain::posting::natural_period(
                context.scheme,
                entry.kind,
                &entry.natural_period,
                person.local_date(entry.occurred_at),
            )
        })
        .collect();
    let distinct: BTreeMap<&str, &PeriodSpan> = naturals.iter().map(|span| (span.id.as_str(), span)).collect();
    let known = store::periods_for_posting(conn, &distinct.into_values().collect::<Vec<_>>(), context.now)?;
    for (entry, natural) in postings.iter_mut().zip(naturals) {
        let period = match posting_periods.get(&natural.id) {
            Some(period) => period.clone(),
            None => {
                let period = store::posting_period(conn, context.scheme, &natural, &known, context.now)?;
                posting_periods.insert(natural.id.clone(), period.clone());
                period
            }
        };
        if period != natural.id {
            report.adjustments_posted += 1;
        }
        entry.natural_period = natural.id;
        entry.period = period;
        if entry.kind == EntryKind::Line {
            report.lines_posted += 1;
        } else {
            report.reversals_posted += 1;
        }
    }
    store::insert_entries(conn, postings)?;
    stall_if_asked(posted_before, report.entries_posted());
    Ok(())
}

/// The person's and policies' ids, one allocation each for all of a person's entries.
#[derive(Default)]
struct EntryTexts {
    shared: Vec<Arc<str>>,
}

impl EntryTexts {
    fn shared(&mut self, text: &str) -> Arc<str> {
        if let Some(found) = self.shared.iter().find(|shared| &***shared == text) {
            return Arc::clone(found);
        }
        let shared: Arc<str> = Arc::from(text);
        self.shared.push(Arc::clone(&shared));
        shared
    }
}

fn new_line_entry(
    context: &Posting<'_>,
    texts: &mut EntryTexts,
    line_key: String,
    revision: i32,
    line: &PricedLine,
    page_day: Option<i64>,
) -> Result<NewEntry, StorageError> {
    let amount_minor = line
        .currency
        .to_minor_units(line.amount)
        .map_err(|error| StorageError::Unavailable(format!("line `{line_key}`: {error}")))?;
    let terms = line_terms(line);
    Ok(NewEntry {
        // Given once the postings are in order (`with_ids_in_posting_order`).
        id: String::new(),
        accrual_run_id: Arc::clone(&context.run_id),
        person: texts.shared(&line.person_id),
        // Both are set when the entry is posted (`post_all`).
        period: String::new(),
        natural_period: String::new(),
        kind: EntryKind::Line,
        terms,
        line_key,
        revision,
        reverses: None,
        component: Cow::Borrowed(line.component.as_str()),
        quantity: line.quantity,
        unit: Cow::Borrowed(line.unit.as_str()),
        unit_rate: line.unit_rate,
        multiplier: line.multiplier,
        time_class: line.time_class.map(|class| Cow::Borrowed(class.as_str())),
        day_class: line.day_class.map(|class| Cow::Borrowed(class.as_str())),
        amount_minor,
        currency: Cow::Borrowed(line.currency.code()),
        fact_kind: Cow::Borrowed(line.fact.kind.as_str()),
        fact_id: line.fact.id.clone(),
        page_id: line.page_id.clone(),
        policy_id: texts.shared(&line.policy.id),
        policy_version: i32::try_from(line.policy.version).unwrap_or(i32::MAX),
        occurred_at: line.occurred_at,
        explanation: line.explanation.clone(),
        posted_at: context.now,
        posted_by: Arc::clone(&context.actor),
        page_day,
    })
}

fn reversal_entry(context: &Posting<'_>, texts: &mut EntryTexts, reversed: &Entry) -> NewEntry {
    NewEntry {
        id: String::new(),
        accrual_run_id: Arc::clone(&context.run_id),
        person: texts.shared(&reversed.person),
        period: reversed.natural_period.clone(),
        natural_period: reversed.natural_period.clone(),
        kind: EntryKind::Reversal,
        line_key: reversed.line_key.clone(),
        revision: reversed.revision,
        reverses: Some(reversed.id.clone()),
        terms: reversed.terms.clone(),
        component: Cow::Owned(reversed.component.clone()),
        quantity: -reversed.quantity,
        unit: Cow::Owned(reversed.unit.clone()),
        unit_rate: reversed.unit_rate,
        multiplier: reversed.multiplier,
        time_class: reversed.time_class.clone().map(Cow::Owned),
        day_class: reversed.day_class.clone().map(Cow::Owned),
        amount_minor: -reversed.amount_minor,
        currency: Cow::Owned(reversed.currency.clone()),
        fact_kind: Cow::Owned(reversed.fact_kind.clone()),
        fact_id: reversed.fact_id.clone(),
        page_id: reversed.page_id.clone(),
        policy_id: texts.shared(&reversed.policy_id),
        policy_version: reversed.policy_version,
        occurred_at: reversed.occurred_at,
        explanation: format!("reversal of entry {}: {}", reversed.id, reversed.explanation),
        posted_at: context.now,
        posted_by: Arc::clone(&context.actor),
        page_day: None,
    }
}

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// The horizon standby was last priced up to.
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub as_of: Option<DateTime<Utc>>,
    pub people: usize,
    pub periods: usize,
    pub entries: usize,
    /// Journal rows not yet priced: while there are any, differences are expected.
    pub journal_pending: i64,
    /// Every difference found; empty when the ledger is right.
    pub differences: Vec<String>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Recomputes every period, open and closed, from the facts and the policies in force,
/// and reports every way the ledger differs from it.
pub fn verify(conn: &mut AnyConnection) -> Result<VerifyReport, LedgerError> {
    verify_with_progress(conn, &mut |_, _| {})
}

/// As [`verify`], reporting `(people done, people in all)` after each person.
pub fn verify_with_progress(
    conn: &mut AnyConnection,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<VerifyReport, LedgerError> {
    let as_of = journal::horizon(conn)?;
    let periods = store::list_periods(conn)?;
    let scheme = store::scheme(conn)?;
    let (journal_pending, _) = journal::backlog(conn)?;
    let pay_from = crate::storage::pay_runs::settings(conn)?.pay_from;
    let mut report = VerifyReport { as_of, periods: periods.len(), journal_pending, ..VerifyReport::default() };
    let closed_at: BTreeMap<&str, DateTime<Utc>> =
        periods.iter().filter_map(|period| period.closed_at.map(|at| (period.id.as_str(), at))).collect();
    let everyone = people::list(conn, None)?;
    let people_total = everyone.len();
    for person in everyone {
        report.people += 1;
        progress(report.people, people_total);
        let entries = store::person_entries(conn, &person.id)?;
        report.entries += entries.len();
        check_chain(&entries, &closed_at, &mut report.differences);
        let Some(as_of) = as_of else {
            if !entries.is_empty() {
                report.differences.push(format!("{}: entries exist but no accrual run is recorded", person.id));
            }
            continue;
        };
        let pay_person = match pricing::pay_history(conn, &person) {
            Ok(pay_person) => pay_person,
            Err(StatementError::Storage(error)) => return Err(error.into()),
            Err(problem) => {
                report.differences.push(format!("cannot recompute: {problem}"));
                continue;
            }
        };
        let desired =
            match pricing::ledger_lines(conn, &pay_person, repricing_start(&pay_person, ledger_epoch()), as_of) {
                Ok(priced) => {
                    crate::domain::pay_run::payable_lines(priced.lines, |at| pay_person.local_date(at), pay_from)
                }
                Err(StatementError::Storage(error)) => return Err(error.into()),
                Err(problem) => {
                    report.differences.push(format!("cannot recompute: {}: {problem}", person.id));
                    continue;
                }
            };
        let (live, revisions_max) = live_entries(&entries);
        let posted_for = natural_periods(&entries);
        let period_of = |line: &PricedLine| scheme.period_of(pay_person.local_date(line.occurred_at)).id;
        for change in changes_in_periods(&desired, &live, &revisions_max, period_of, &posted_for) {
            report.differences.push(match change {
                Change::Post { line_key, line, .. } => {
                    format!(
                        "{}: ledger lacks {} {} {} ({line_key})",
                        person.id,
                        line.component.as_str(),
                        line.amount,
                        line.currency
                    )
                }
                Change::Reverse { entry } => {
                    format!(
                        "{}: ledger holds entry {} ({}) that the facts no longer support",
                        person.id, entry.entry_id, entry.line_key
                    )
                }
            });
        }
        compare_period_totals(&person.id, &desired, &entries, scheme, &pay_person, &mut report.differences);
    }
    Ok(report)
}

/// Reversals point at a line of the same identity with the opposite amount, no line is
/// reversed twice, and nothing was posted into a period after it closed.
fn check_chain(entries: &[Entry], closed_at: &BTreeMap<&str, DateTime<Utc>>, differences: &mut Vec<String>) {
    let by_id: BTreeMap<&str, &Entry> = entries.iter().map(|entry| (entry.id.as_str(), entry)).collect();
    let mut reversed = BTreeSet::new();
    for entry in entries {
        if let Some(closed) = closed_at.get(entry.period.as_str())
            && entry.posted_at > *closed
        {
            differences.push(format!("entry {} was posted into {} after it closed", entry.id, entry.period));
        }
        let Some(target) = entry.reverses.as_deref() else { continue };
        match by_id.get(target) {
            Some(original) if original.line_key == entry.line_key && original.amount_minor == -entry.amount_minor => {}
            _ => differences.push(format!("reversal {} does not match the entry it reverses ({target})", entry.id)),
        }
        if !reversed.insert(target) {
            differences.push(format!("entry {target} is reversed more than once"));
        }
    }
}

/// Per person and period (the period a fact belongs to) and currency, the sum of the
/// entries equals the sum of the statement's lines.
fn compare_period_totals(
    person: &str,
    desired: &[PricedLine],
    entries: &[Entry],
    scheme: PeriodScheme,
    pay_person: &PayHistory,
    differences: &mut Vec<String>,
) {
    let mut expected: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for line in desired {
        let period = scheme.period_of(pay_person.local_date(line.occurred_at)).id;
        *expected.entry((period, line.currency.code().to_owned())).or_default() += line.amount;
    }
    let mut held: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for entry in entries.iter().filter(|entry| !crate::domain::pay_run::is_manual_adjustment(&entry.fact_kind)) {
        *held.entry((entry.natural_period.clone(), entry.currency.clone())).or_default() += entry.amount;
    }
    let keys: BTreeSet<&(String, String)> = expected.keys().chain(held.keys()).collect();
    for key in keys {
        let want = expected.get(key).copied().unwrap_or_default();
        let have = held.get(key).copied().unwrap_or_default();
        if want != have {
            differences.push(format!(
                "{person}: period {} in {}: statement total {want} but ledger total {have}",
                key.0, key.1
            ));
        }
    }
}

/// A person's statement read from the ledger: what is posted to one pay period (its own
/// lines, and adjustments naming the period they correct), with the period's status. A
/// closed period's statement is final and equals the person's lines in that period's
/// payroll file; an open one's is provisional.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeriodStatement {
    pub person: String,
    pub period: String,
    #[schema(value_type = String, format = Date)]
    pub starts_on: chrono::NaiveDate,
    /// The first day after the period.
    #[schema(value_type = String, format = Date)]
    pub ends_on: chrono::NaiveDate,
    /// `open` or `closed`.
    pub status: String,
    /// True once the period is closed: these figures never change again.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// The posted entries, in time order (reversals negative; `natural_period` names the
    /// period an adjustment corrects).
    #[schema(value_type = Vec<Object>)]
    pub lines: Vec<crate::reports::input::EntryInfo>,
    /// Per component and currency, sums of the lines.
    #[schema(value_type = Vec<Object>)]
    pub totals: Vec<crate::reports::statement_html::StatementTotal>,
    /// Per currency, the sum of all lines.
    #[schema(value_type = Object)]
    pub total_by_currency: BTreeMap<String, Decimal>,
    /// The person's responses in the period that are claims awaiting a manager of their
    /// team or finance: not paid, and not in the totals, until approved.
    pub pending_claims: Vec<crate::storage::responses::Response>,
}

/// Most pending claims a statement lists.
const STATEMENT_CLAIMS_MAX: i64 = 1_000;

/// The ledger statement of `person` in `period` (both must exist).
pub fn period_statement(
    conn: &mut AnyConnection,
    person: &str,
    period: &str,
) -> Result<(PeriodStatement, crate::reports::statement_html::StatementInput), StorageError> {
    let stored = people::get(conn, person)?;
    let input =
        match crate::storage::report_input::payroll_input_for(conn, period, Some(std::slice::from_ref(&stored.id))) {
            Err(StorageError::NotFound { .. }) => not_yet_posted(store::scheme(conn)?, period)
                .ok_or_else(|| StorageError::NotFound { entity: "pay period", id: period.to_owned() })?,
            other => other?,
        };
    let mut lines: Vec<crate::reports::input::EntryInfo> =
        input.entries.iter().filter(|entry| entry.person == stored.id).cloned().collect();
    lines.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then_with(|| a.id.cmp(&b.id)));
    let html = crate::reports::statement_html::statement_input(&input, &stored.id);
    let shown: Vec<crate::reports::statement_html::StatementLine> =
        html.as_ref().map(|html| html.lines.clone()).unwrap_or_default();
    let totals = crate::reports::statement_html::totals_from_lines(&shown);
    let mut total_by_currency: BTreeMap<String, Decimal> = BTreeMap::new();
    for line in &lines {
        let sum = total_by_currency.entry(line.currency.clone()).or_default();
        *sum = sum.saturating_add(line.amount);
    }
    // The period's days in any zone: from 14 h before its first UTC midnight to 12 h after its last.
    let claims_from = input.period.starts_on.and_hms_opt(0, 0, 0).map(|at| at.and_utc() - chrono::Duration::hours(14));
    let claims_to = input.period.ends_on.and_hms_opt(12, 0, 0).map(|at| at.and_utc());
    let pending_claims: Vec<crate::storage::responses::Response> =
        crate::storage::responses::list_for_person(conn, &stored.id, claims_from, claims_to, STATEMENT_CLAIMS_MAX)?
            .into_iter()
            .filter(|response| response.status == crate::storage::responses::PENDING)
            .filter(|response| {
                let local = person_local_date(&stored, response.started_at);
                local.is_none_or(|date| input.period.starts_on <= date && date < input.period.ends_on)
            })
            .collect();
    let statement = PeriodStatement {
        pending_claims,
        person: stored.id.clone(),
        period: input.period.id.clone(),
        starts_on: input.period.starts_on,
        ends_on: input.period.ends_on,
        status: if input.period.closed { "closed".to_owned() } else { "open".to_owned() },
        is_final: input.period.closed,
        lines,
        totals: totals.clone(),
        total_by_currency,
    };
    let page = match html {
        Some(page) => page,
        None => crate::reports::statement_html::StatementInput {
            person: crate::reports::input::PersonInfo {
                id: stored.id.clone(),
                name: stored.name.clone(),
                payroll_id: stored.payroll_id.clone(),
                email: stored.email.clone(),
                team: stored.team.clone(),
                cost_centre: None,
                currency: stored.currency.clone(),
            },
            from: input.period.starts_on,
            to: input.period.ends_on,
            provisional: !input.period.closed,
            lines: Vec::new(),
            totals,
        },
    };
    Ok((statement, page))
}

/// The person's local date of `instant` (`None` when their stored zone does not parse).
fn person_local_date(person: &people::Person, instant: DateTime<Utc>) -> Option<chrono::NaiveDate> {
    let zone: chrono_tz::Tz = person.timezone.parse().ok()?;
    Some(instant.with_timezone(&zone).date_naive())
}

/// A period of the scheme nothing has been posted to yet (so it has no row): open and
/// empty. `None` when `id` names no period of the scheme.
fn not_yet_posted(scheme: PeriodScheme, id: &str) -> Option<crate::reports::input::PayrollInput> {
    let first_day = chrono::NaiveDate::parse_from_str(id.get(..10).unwrap_or(id), "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(&format!("{}-01", id.get(..7).unwrap_or(id)), "%Y-%m-%d"))
        .ok()?;
    let mut span = scheme.period_of(first_day);
    // A semi-monthly id names its half: walk at most to the month's second half.
    if span.id != id {
        span = scheme.next(&span);
    }
    (span.id == id).then(|| crate::reports::input::PayrollInput {
        period: crate::reports::input::PeriodInfo {
            id: span.id,
            starts_on: span.starts_on,
            ends_on: span.ends_on,
            closed: false,
        },
        people: Vec::new(),
        entries: Vec::new(),
    })
}
