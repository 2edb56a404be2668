//! The functional core: plain types and pure rules. No database, no HTTP, no clock.
//!
//! Invariant: nothing under `domain` depends on diesel, actix or the system clock;
//! the storage and HTTP layers call into it, never the other way round.

pub mod currency;
pub mod field_error;
pub mod page;
pub mod person;
pub mod shift;
pub mod timestamp;
