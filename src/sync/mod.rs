//! `paydown sync <tool>`: pull people, schedules and incidents from a paging tool's REST
//! API into paydown, incrementally (`storage::sync` keeps where each run got to).
//!
//! The shell around pure mappers (`ingest::pagerduty_rest`): `client` talks HTTP (retries,
//! rate limits, pagination), the tool's module decides what to ask for, and records go
//! through the same storage paths as webhooks and imports, so a synced incident and a
//! webhook delivery of it are one page. A bad record is reported and skipped; the run goes on.

pub mod client;
pub mod pagerduty;

use std::time::Duration;

use crate::storage::StorageError;
use crate::storage::sync::Synced;

/// Created / updated / unchanged counts of one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Removed: the tool no longer has them (shifts an override replaced).
    pub removed: u64,
}

impl Written {
    pub fn add(&mut self, synced: Synced) {
        match synced {
            Synced::Created => self.created += 1,
            Synced::Updated => self.updated += 1,
            Synced::Unchanged => self.unchanged += 1,
        }
    }
}

/// A record that was read but not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it was: `incidents[12] (PT4KHLK)`, `schedules/PI7DH85 entries[3]`.
    pub record: String,
    pub reason: String,
}

/// What a sync run did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Records read from the API, by kind (`users`, `schedules`, `shift entries`,
    /// `incidents`, `log entries`).
    pub fetched: Vec<(&'static str, u64)>,
    pub pages: Written,
    pub shifts: Written,
    /// Tool users matched to a paydown person by email now (a mapping was added).
    pub people_matched: u64,
    /// Tool users no paydown person has the email of: `id <email>`.
    pub unmatched_users: Vec<String>,
    /// Reassignments and escalations the incidents' logs record.
    pub reassignments: u64,
    pub escalations: u64,
    pub skipped: Vec<Skipped>,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    /// The window read: `[since, until)`.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub elapsed: Duration,
}

impl SyncReport {
    /// Adds `count` records of `kind` to what was fetched.
    pub fn fetched(&mut self, kind: &'static str, count: u64) {
        match self.fetched.iter_mut().find(|(known, _)| *known == kind) {
            Some((_, total)) => *total += count,
            None => self.fetched.push((kind, count)),
        }
    }

    /// Records of `kind` fetched so far.
    pub fn fetched_of(&self, kind: &str) -> u64 {
        self.fetched.iter().find(|(known, _)| *known == kind).map_or(0, |(_, count)| *count)
    }

    /// Every record fetched, all kinds.
    pub fn fetched_total(&self) -> u64 {
        self.fetched.iter().map(|(_, count)| count).sum()
    }
}

/// Why a run stopped (a bad record never stops it: it is skipped and reported).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] client::ClientError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Invalid(String),
}
