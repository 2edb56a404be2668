//! The accrual worker: a thread of `paydown serve` that keeps the ledger up to date with
//! the facts, and a thread beside it that keeps the dashboard's rollup up to date.
//!
//! It wakes on the pay journal, not on a flag: a cheap probe of the journal every
//! `JOURNAL_POLL_INTERVAL` sees changes made by any process (the CLI, another server); a
//! change made through this server's own handlers wakes it at once. Each pass prices one
//! person at a time in short transactions (`accrual::accrue`), so ingest never waits
//! behind it for long. A pass that fails or panics is logged, counted and retried after
//! `FAILURE_BACKOFF`; `/readyz` reports a failing or stuck worker.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::storage::{Store, journal};

/// How often an idle worker probes the journal.
pub const JOURNAL_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How often the dashboard's rollup is brought up to date when nothing else happens.
pub const ROLLUP_INTERVAL: Duration = Duration::from_secs(1);
/// How long the rollup's thread recomputes dirty days in one go before it looks again (a
/// year of imported days takes tens of seconds; a slice keeps its progress visible).
pub const ROLLUP_SLICE: Duration = Duration::from_millis(200);
/// How long a failed pass waits before the next try.
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(1);
/// Consecutive failed passes after which `/readyz` answers 503.
pub const FAILURES_UNREADY_MIN: u32 = 3;
/// A journal row older than this while no pass succeeded for as long means the worker is stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(30);
/// The worker's intervals and limits (the `[worker]` section of the configuration); the
/// constants above are the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    pub journal_poll: Duration,
    pub rollup_interval: Duration,
    pub failure_backoff: Duration,
    pub failures_unready: u32,
    pub stuck_after: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            journal_poll: JOURNAL_POLL_INTERVAL,
            rollup_interval: ROLLUP_INTERVAL,
            failure_backoff: FAILURE_BACKOFF,
            failures_unready: FAILURES_UNREADY_MIN,
            stuck_after: STUCK_AFTER,
        }
    }
}

/// A person whose posting wrote at least this many entries is bulk work (the first accrual
/// of a year, a re-price of a whole history); a delivered page posts a handful.
pub const BULK_ENTRIES_MIN: usize = 100;
/// This server's handlers changed a fact this recently: requests are arriving.
pub const TRAFFIC_RECENT: Duration = Duration::from_millis(500);
/// While requests arrive, bulk work sleeps three times as long as it worked (posting, and
/// pricing on the second thread of a pipelined pass), so it takes at most a quarter of
/// SQLite's write lock and of the CPU from them (issue 15: ingest with a year being accrued
/// behind it kept 60 % of its throughput, the target is 80 %; with twice as long, 76-82 %
/// and, once the pass priced on a second thread, 78-79 %; with three times, 87 %). A live
/// page's few entries never wait.
pub const BULK_YIELD_RATIO: u32 = 3;

/// The actor the worker's postings are recorded under.
pub const ACTOR: &str = "accrual-worker";

/// What `/readyz` knows of the worker.
#[derive(Debug, Default)]
struct WorkerState {
    running: bool,
    last_success: Option<Instant>,
    /// When a pass last finished a person: a pass over a year of history takes minutes and
    /// is not stuck while people keep being priced.
    last_progress: Option<Instant>,
    consecutive_failures: u32,
    last_error: Option<String>,
    panics: u64,
    passes: u64,
    failures: u64,
    last_rollup: Option<Instant>,
    /// The rollup's thread, counted apart: an accrual pass that succeeds says nothing of it.
    rollup_failures_in_a_row: u32,
    rollup_error: Option<String>,
}

/// The worker's counts since the process started, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    pub running: bool,
    /// Passes that succeeded.
    pub passes: u64,
    /// Passes that failed or panicked.
    pub failures: u64,
    pub panics: u64,
    pub consecutive_failures: u32,
    /// Since the dashboard's rollup was last brought up to date (`None`: not yet).
    pub since_rollup: Option<Duration>,
}

/// The worker's health and its wake-up signal, shared with the HTTP handlers.
#[derive(Debug, Default)]
pub struct Worker {
    state: Mutex<WorkerState>,
    wake: (Mutex<Wake>, Condvar),
    settings: WorkerSettings,
}

/// The wake-up flag, and when a handler last raised it.
#[derive(Debug, Default)]
struct Wake {
    woken: bool,
    last_at: Option<Instant>,
}

/// Why the worker is not healthy, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unhealthy {
    Failing { failures: u32, last_error: String },
    Stuck { oldest_pending_seconds: i64 },
}

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unhealthy::Failing { failures, last_error } => {
                write!(f, "the accrual worker failed {failures} passes in a row: {last_error}")
            }
            Unhealthy::Stuck { oldest_pending_seconds } => write!(
                f,
                "the accrual worker is stuck: a change has waited {oldest_pending_seconds} s and no pass succeeded nor person was priced since"
            ),
        }
    }
}

impl Worker {
    pub fn new(settings: WorkerSettings) -> Worker {
        Worker { settings, ..Worker::default() }
    }

    pub fn settings(&self) -> WorkerSettings {
        self.settings
    }

    /// Wakes the worker now (a fact changed through this process).
    pub fn wake(&self) {
        let (flag, signal) = &self.wake;
        if let Ok(mut wake) = flag.lock() {
            wake.woken = true;
            wake.last_at = Some(Instant::now());
            signal.notify_one();
        }
    }

    fn sleep(&self, timeout: Duration) {
        let (flag, signal) = &self.wake;
        let Ok(wake) = flag.lock() else { return };
        let Ok((mut wake, _)) = signal.wait_timeout_while(wake, timeout, |wake| !wake.woken) else { return };
        wake.woken = false;
    }

    /// Whether this server's handlers changed a fact within `window`.
    fn traffic_within(&self, window: Duration) -> bool {
        let (flag, _) = &self.wake;
        flag.lock().ok().and_then(|wake| wake.last_at).is_some_and(|at| at.elapsed() < window)
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut WorkerState) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut state| f(&mut state))
    }

    /// Whether this process runs the worker.
    pub fn is_running(&self) -> bool {
        self.with_state(|state| state.running).unwrap_or(false)
    }

    /// Failing (several passes in a row) or stuck (the journal has waited long while no
    /// pass succeeded nor any person was priced), given the oldest pending journal row's age.
    pub fn health(&self, oldest_pending: Option<Duration>) -> Result<(), Unhealthy> {
        let verdict = self.with_state(|state| {
            if !state.running {
                return Ok(());
            }
            if state.consecutive_failures >= self.settings.failures_unready {
                return Err(Unhealthy::Failing {
                    failures: state.consecutive_failures,
                    last_error: state.last_error.clone().unwrap_or_default(),
                });
            }
            if state.rollup_failures_in_a_row >= self.settings.failures_unready {
                return Err(Unhealthy::Failing {
                    failures: state.rollup_failures_in_a_row,
                    last_error: state.rollup_error.clone().unwrap_or_default(),
                });
            }
            let since_success = state.last_success.max(state.last_progress).map(|at| at.elapsed());
            match oldest_pending {
                Some(age)
                    if age > self.settings.stuck_after
                        && since_success.is_none_or(|since| since > self.settings.stuck_after) =>
                {
                    Err(Unhealthy::Stuck { oldest_pending_seconds: i64::try_from(age.as_secs()).unwrap_or(i64::MAX) })
                }
                _ => Ok(()),
            }
        });
        verdict.unwrap_or(Ok(()))
    }

    /// Panics caught so far (each one restarted the pass).
    pub fn panics(&self) -> u64 {
        self.with_state(|state| state.panics).unwrap_or(0)
    }

    /// What the worker has done so far.
    pub fn stats(&self) -> WorkerStats {
        self.with_state(|state| WorkerStats {
            running: state.running,
            passes: state.passes,
            failures: state.failures,
            panics: state.panics,
            consecutive_failures: state.consecutive_failures.max(state.rollup_failures_in_a_row),
            since_rollup: state.last_rollup.map(|at| at.elapsed()),
        })
        .unwrap_or(WorkerStats {
            running: false,
            passes: 0,
            failures: 0,
            panics: 0,
            consecutive_failures: 0,
            since_rollup: None,
        })
    }
}

/// Starts the worker's two threads: the accrual, and the dashboard's rollup beside it (a
/// recomputation of dirty days never delays the pricing of a new page).
pub fn spawn(store: Store, worker: Arc<Worker>) {
    worker.with_state(|state| state.running = true);
    let (rollup_store, rollup_worker) = (store.clone(), worker.clone());
    let spawned = std::thread::Builder::new().name("accrual".into()).spawn(move || run(&store, &worker));
    if let Err(error) = spawned {
        tracing::error!(error.cause = %error, "could not start the accrual worker");
    }
    let spawned =
        std::thread::Builder::new().name("rollup".into()).spawn(move || run_rollup(&rollup_store, &rollup_worker));
    if let Err(error) = spawned {
        tracing::error!(error.cause = %error, "could not start the rollup refresh");
    }
}

/// The rollup's thread: recomputes dirty days a slice at a time, at once while some are
/// left, else every `rollup_interval`. A failure is counted and shown by `/readyz` like the
/// accrual's.
fn run_rollup(store: &Store, worker: &Worker) {
    let settings = worker.settings;
    loop {
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut conn = store.conn().map_err(|error| error.to_string())?;
            crate::rollup::refresh_some(&mut conn, ROLLUP_SLICE)
                .map_err(|error| format!("dashboard rollup refresh: {error}"))
        }));
        let next_sleep = match outcome {
            Ok(Ok((days, left))) => {
                if days > 0 {
                    tracing::info!(rollup.days = days, rollup.behind = left, "dashboard rollup refreshed");
                }
                worker.with_state(|state| {
                    state.rollup_failures_in_a_row = 0;
                    state.rollup_error = None;
                    if !left {
                        state.last_rollup = Some(Instant::now());
                    }
                });
                if left {
                    catching_up_pause(started.elapsed(), worker.traffic_within(TRAFFIC_RECENT))
                } else {
                    settings.rollup_interval
                }
            }
            Ok(Err(error)) => {
                tracing::error!(error.cause = %error, "rollup refresh failed; retrying");
                worker.with_state(|state| {
                    state.failures = state.failures.saturating_add(1);
                    state.rollup_failures_in_a_row = state.rollup_failures_in_a_row.saturating_add(1);
                    state.rollup_error = Some(error);
                });
                settings.failure_backoff
            }
            Err(panic) => {
                let message = crate::accrual::panic_message(panic.as_ref());
                tracing::error!(panic = %message, "rollup refresh panicked; restarting it");
                worker.with_state(|state| {
                    state.panics = state.panics.saturating_add(1);
                    state.failures = state.failures.saturating_add(1);
                    state.rollup_failures_in_a_row = state.rollup_failures_in_a_row.saturating_add(1);
                    state.rollup_error = Some(format!("rollup refresh panicked: {message}"));
                });
                settings.failure_backoff
            }
        };
        if !next_sleep.is_zero() {
            std::thread::sleep(next_sleep);
        }
    }
}

fn run(store: &Store, worker: &Worker) {
    let settings = worker.settings;
    loop {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pass(store, worker)));
        let next_sleep = match outcome {
            Ok(Ok(worked)) => {
                let now = Instant::now();
                worker.with_state(|state| {
                    state.last_success = Some(now);
                    state.consecutive_failures = 0;
                    state.last_error = None;
                    state.passes = state.passes.saturating_add(1);
                });
                if worked.accrued { Duration::ZERO } else { settings.journal_poll }
            }
            Ok(Err(error)) => {
                tracing::error!(error.cause = %error, "accrual pass failed; retrying");
                worker.with_state(|state| {
                    state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                    state.failures = state.failures.saturating_add(1);
                    state.last_error = Some(error);
                });
                settings.failure_backoff
            }
            Err(panic) => {
                let message = crate::accrual::panic_message(panic.as_ref());
                tracing::error!(panic = %message, "accrual pass panicked; restarting it");
                worker.with_state(|state| {
                    state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                    state.last_error = Some(format!("panicked: {message}"));
                    state.panics = state.panics.saturating_add(1);
                    state.failures = state.failures.saturating_add(1);
                });
                settings.failure_backoff
            }
        };
        if !next_sleep.is_zero() {
            worker.sleep(next_sleep);
        }
    }
}

/// How long the worker pauses after posting `entries` for one person in `took`: bulk work
/// yields to arriving requests, anything else goes straight on.
fn pause_after(entries: usize, took: Duration, traffic: bool) -> Duration {
    if entries >= BULK_ENTRIES_MIN { catching_up_pause(took, traffic) } else { Duration::ZERO }
}

/// How long bulk work pauses after working for `took`: the accrual's large postings and
/// the rollup's backlog of dirty days (a year of imported days) yield to arriving
/// requests alike; without requests the next piece starts at once.
fn catching_up_pause(took: Duration, traffic: bool) -> Duration {
    if traffic { took.saturating_mul(BULK_YIELD_RATIO) } else { Duration::ZERO }
}

/// What one pass did.
struct Worked {
    accrued: bool,
}

/// How long a pass waits for a new connection to price on before it goes without.
const READER_CONNECTION_WAIT: Duration = Duration::from_millis(5);

/// One pass: accrue when the journal holds work or the standby horizon moved.
fn pass(store: &Store, worker: &Worker) -> Result<Worked, String> {
    let mut conn = store.conn().map_err(|error| error.to_string())?;
    let now = crate::clock::now();
    let horizon_moved =
        journal::horizon(&mut conn).map_err(|error| error.to_string())? < Some(journal::horizon_for(now));
    let pending = journal::has_pending(&mut conn).map_err(|error| error.to_string())?;
    let mut accrued = false;
    if pending || horizon_moved {
        let mut person_started = Instant::now();
        let mut entries_before = 0;
        let mut after_each_person = |progress: crate::accrual::Progress| {
            let entries = progress.entries_posted.saturating_sub(entries_before);
            let worked = person_started.elapsed() + progress.priced_beside;
            let pause = pause_after(entries, worked, worker.traffic_within(TRAFFIC_RECENT));
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
            worker.with_state(|state| state.last_progress = Some(Instant::now()));
            entries_before = progress.entries_posted;
            person_started = Instant::now();
        };
        // A second connection prices the next people while this one posts: an idle one, or,
        // for bulk work, a new one when the pool has room (the pool keeps none warm, so a
        // quiet server's first bulk pass would otherwise go without). Live pages never wait
        // for one, and a pool busy with requests leaves the pass to price and post in turn.
        let bulk = crate::accrual::wants_second_connection(&mut conn).map_err(|error| error.to_string())?;
        let reader = store.idle_conn().or_else(|| if bulk { store.spare_conn(READER_CONNECTION_WAIT) } else { None });
        let report = match reader {
            Some(mut reader) => {
                crate::accrual::accrue_pipelined(&mut conn, &mut reader, ACTOR, now, &mut after_each_person)
            }
            None => crate::accrual::accrue_with_progress(&mut conn, ACTOR, now, &mut after_each_person),
        }
        .map_err(|error| error.to_string())?;
        accrued = report.people > 0;
        if report.lines_posted + report.reversals_posted > 0 || !report.unpriced.is_empty() {
            tracing::info!(
                accrual.run = %report.run_id,
                accrual.people = report.people,
                accrual.lines_posted = report.lines_posted,
                accrual.reversals_posted = report.reversals_posted,
                accrual.adjustments_posted = report.adjustments_posted,
                accrual.unpriced = report.unpriced.len(),
                "accrual posted"
            );
        }
    }
    Ok(Worked { accrued })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_work_yields_to_requests_and_a_live_page_never_waits() {
        let took = Duration::from_millis(40);
        assert_eq!(pause_after(1_500, took, true), Duration::from_millis(120));
        assert_eq!(pause_after(BULK_ENTRIES_MIN, took, true), took * BULK_YIELD_RATIO);
        assert_eq!(pause_after(BULK_ENTRIES_MIN - 1, took, true), Duration::ZERO, "a live page's few lines");
        assert_eq!(pause_after(1_500, took, false), Duration::ZERO, "no requests: full speed");
        assert_eq!(pause_after(usize::MAX, Duration::MAX, true), Duration::MAX, "saturates, never panics");
    }

    #[test]
    fn a_rollup_backlog_yields_to_requests_and_runs_at_once_without_them() {
        let took = Duration::from_millis(200);
        assert_eq!(catching_up_pause(took, true), Duration::from_millis(600));
        assert_eq!(catching_up_pause(took, false), Duration::ZERO);
        assert_eq!(catching_up_pause(Duration::MAX, true), Duration::MAX, "saturates, never panics");
    }

    #[test]
    fn traffic_is_a_handler_waking_the_worker_recently() {
        let worker = Worker::new(WorkerSettings::default());
        assert!(!worker.traffic_within(TRAFFIC_RECENT), "nothing arrived yet");
        worker.wake();
        assert!(worker.traffic_within(TRAFFIC_RECENT));
        assert!(!worker.traffic_within(Duration::ZERO));
    }

    #[test]
    fn a_long_pass_that_keeps_pricing_people_is_not_stuck() {
        let worker = Worker::new(WorkerSettings::default());
        let waited = STUCK_AFTER + Duration::from_secs(1);
        worker.with_state(|state| state.running = true);
        assert!(matches!(worker.health(Some(waited)), Err(Unhealthy::Stuck { .. })), "no pass, no person");
        worker.with_state(|state| state.last_progress = Some(Instant::now()));
        assert_eq!(worker.health(Some(waited)), Ok(()), "a person was priced just now");
        let long_ago = Instant::now().checked_sub(waited);
        worker.with_state(|state| state.last_progress = long_ago);
        if long_ago.is_some() {
            assert!(matches!(worker.health(Some(waited)), Err(Unhealthy::Stuck { .. })), "nothing for too long");
        }
    }
}
