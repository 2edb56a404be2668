//! The functional core: plain types and pure rules. No database, no HTTP, no clock.
//!
//! Invariant: nothing under `domain` depends on diesel, actix or the system clock;
//! the storage and HTTP layers call into it, never the other way round.

pub mod currency;
pub mod debt;
pub mod entry_id;
pub mod field_error;
pub mod health;
pub mod histogram;
pub mod holidays;
pub mod limits;
pub mod local_time;
pub mod page;
pub mod pay;
pub mod pay_run;
pub mod period;
pub mod person;
pub mod person_version;
pub mod policy;
pub mod posting;
pub mod rng;
pub mod role;
pub mod scope;
pub mod shift;
pub mod time_class;
pub mod timestamp;

/// The serde name of a unit-only enum value (`Component::Callout` → `callout`): the one
/// spelling the API, the ledger and the exports share.
pub fn serde_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}
