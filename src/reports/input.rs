//! The plain input of every report: what the ledger hands over, already selected.
//!
//! These structs carry no behaviour and no database types, so the report code stays pure
//! (bytes out for structs in) and the main crate can fill them from any store. Strings are
//! kept as the ledger stores them (`component`, `kind`, `unit`, `currency`); each report
//! parses them and refuses values it does not know rather than guessing.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The pay period being reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodInfo {
    /// The period id, e.g. `2026-10`.
    pub id: String,
    /// The first day of the period.
    pub starts_on: NaiveDate,
    /// The first day *after* the period (exclusive end).
    pub ends_on: NaiveDate,
    /// A closed period is frozen; an open one is exported as provisional.
    pub closed: bool,
}

/// A person who has entries in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonInfo {
    /// paydown's id of the person; entries refer to it.
    pub id: String,
    /// Display name, as the person wrote it (any script, may contain commas, quotes, newlines).
    pub name: String,
    /// The id payroll knows the person by.
    pub payroll_id: String,
    /// Contact address, shown on the statement.
    pub email: String,
    /// The person's team, if any.
    pub team: Option<String>,
    /// The cost centre of the person's team, if the team has one.
    pub cost_centre: Option<String>,
    /// The person's pay currency (ISO 4217).
    pub currency: String,
}

/// One ledger entry posted in the period: a line or a reversal. An adjustment (a late
/// correction) is an entry whose `natural_period` differs from the period it was posted in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryInfo {
    /// The entry id.
    pub id: String,
    /// The `PersonInfo::id` the entry pays.
    pub person: String,
    /// `callout`, `escalation`, `response`, `recovery`, `standby` or `manual_adjustment`.
    pub component: String,
    pub kind: crate::domain::posting::EntryKind,
    /// Signed quantity in `unit` (negative on a reversal).
    pub quantity: Decimal,
    /// `count`, `minutes`, `hours` or `nights`.
    pub unit: String,
    /// Signed amount in `currency`, already rounded to its minor unit by the pay engine.
    pub amount: Decimal,
    /// ISO 4217 code of `amount`.
    pub currency: String,
    /// The period the work belongs to (differs from the posting period for adjustments).
    pub natural_period: String,
    /// When the paid event happened.
    pub occurred_at: DateTime<Utc>,
    /// The pay engine's explanation line.
    pub explanation: String,
    /// What kind of fact the entry came from (`page`, `response`, `shift`).
    pub fact_kind: String,
    /// The id of that fact.
    pub fact_id: String,
    /// The pay policy that produced the amount.
    pub policy_id: String,
    /// The version of that policy.
    pub policy_version: i32,
    /// A manual adjustment's own earning code, shown instead of the layout's `manual_adjustment` code.
    #[serde(default)]
    pub earning_code: Option<String>,
    /// The person's time class at the work's start (`business`, `off_hours`, `night`,
    /// `weekend`, `holiday`), for callouts, responses and recovery; `None` otherwise.
    #[serde(default)]
    pub time_class: Option<String>,
    /// The day class of a standby day (`weekday`, `weekend`, `holiday`); `None` otherwise.
    #[serde(default)]
    pub day_class: Option<String>,
    /// When the entry was posted to the ledger.
    pub posted_at: DateTime<Utc>,
}

/// Everything a payroll export or an accruals report of one period needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayrollInput {
    /// The period reported.
    pub period: PeriodInfo,
    /// Every person referred to by an entry (others are ignored).
    pub people: Vec<PersonInfo>,
    /// The entries posted in the period, in any order.
    pub entries: Vec<EntryInfo>,
}
