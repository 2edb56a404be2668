//! The one place paydown reads the system clock. Use cases and rules take the instant as a
//! parameter (`now`), so tests pass the instants they need; only the adapters at the edge
//! (HTTP handlers, CLI commands, the accrual worker, the scheduled syncs, the demo loader)
//! read the clock, here.

use chrono::{DateTime, Utc};

use crate::domain::timestamp::truncate_to_micros;

/// The current instant, at the precision paydown stores (microseconds: both backends keep
/// that much, so a value read back equals the value written).
pub fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}

/// Milliseconds since the Unix epoch, for the time part of ids (`domain::entry_id`): the
/// moment an id is made, not a business instant.
pub fn unix_millis() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}
