//! The pay run's records (migration `000014_pay_run`): steps, manual adjustments, payroll
//! exports, and the organisation's pay run settings (go-live date, four-eyes) in the
//! `settings` table. Reads and writes only; the rules are `domain::pay_run`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{adjustments, ledger_entries, pay_periods, pay_run_steps, responses};
use super::{AnyConnection, StorageError, put_setting, setting};
use crate::domain::pay_run::{Identity, Step, StepKind};
use crate::domain::timestamp::{from_naive, to_naive};

const PAY_FROM_KEY: &str = "pay_from";
const FOUR_EYES_KEY: &str = "four_eyes";

/// The organisation's pay run settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PayRunSettings {
    /// Go-live: work before this local date is kept and reported but never paid.
    #[schema(value_type = Option<String>, format = Date, example = "2026-09-01")]
    pub pay_from: Option<NaiveDate>,
    /// When on, a period must be closed by another finance user than the one who approved it.
    pub four_eyes: bool,
}

/// The settings in force (no go-live date and four-eyes off until set).
pub fn settings(conn: &mut AnyConnection) -> Result<PayRunSettings, StorageError> {
    let pay_from = match setting(conn, PAY_FROM_KEY)? {
        Some(text) => Some(
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map_err(|_| StorageError::Unavailable(format!("setting `{PAY_FROM_KEY}` is unreadable: `{text}`")))?,
        ),
        None => None,
    };
    let four_eyes = setting(conn, FOUR_EYES_KEY)?.is_some_and(|value| value == "true");
    Ok(PayRunSettings { pay_from, four_eyes })
}

/// Replaces the settings (inside the caller's write transaction). Returns the previous ones.
pub fn put_settings(
    conn: &mut AnyConnection,
    wanted: &PayRunSettings,
    stamp: &super::Stamp,
) -> Result<PayRunSettings, StorageError> {
    let before = settings(conn)?;
    put_setting(conn, PAY_FROM_KEY, wanted.pay_from.map(|date| date.format("%Y-%m-%d").to_string()), stamp.at)?;
    put_setting(conn, FOUR_EYES_KEY, Some(wanted.four_eyes.to_string()), stamp.at)?;
    super::audit::record(
        conn,
        stamp,
        "configure",
        "pay_run_settings",
        "organisation",
        Some(format!(
            "pay_from {} -> {}, four_eyes {} -> {}",
            before.pay_from.map_or_else(|| "none".to_owned(), |date| date.to_string()),
            wanted.pay_from.map_or_else(|| "none".to_owned(), |date| date.to_string()),
            before.four_eyes,
            wanted.four_eyes
        )),
    )?;
    Ok(before)
}

/// How many entries are posted in a period (entries are append-only: an unchanged count
/// means nothing was posted since).
pub fn entry_count(conn: &mut AnyConnection, period: &str) -> Result<i64, StorageError> {
    Ok(ledger_entries::table.filter(ledger_entries::period_id.eq(period)).count().get_result(conn)?)
}

type StepRow = (String, String, String, String, Option<String>, Option<String>, String, i64, NaiveDateTime);

/// A period's steps, in order.
pub fn steps(conn: &mut AnyConnection, period: &str) -> Result<Vec<Step>, StorageError> {
    let rows: Vec<StepRow> =
        pay_run_steps::table.filter(pay_run_steps::period_id.eq(period)).order(pay_run_steps::id).load(conn)?;
    rows.into_iter()
        .map(|(id, _, step, actor, token_id, person, reason, entries, at)| {
            let step = StepKind::parse(&step).ok_or_else(|| {
                StorageError::Unavailable(format!("pay run step `{id}` has an unknown kind `{step}`"))
            })?;
            Ok(Step { step, by: Identity { actor, token_id, person }, reason, entries, at: from_naive(at) })
        })
        .collect()
}

/// Records a step (inside the caller's write transaction) and audits it with its reason.
pub fn insert_step(conn: &mut AnyConnection, period: &str, step: &Step) -> Result<(), StorageError> {
    diesel::insert_into(pay_run_steps::table)
        .values((
            pay_run_steps::id.eq(uuid::Uuid::now_v7().to_string()),
            pay_run_steps::period_id.eq(period),
            pay_run_steps::step.eq(step.step.as_str()),
            pay_run_steps::actor.eq(&step.by.actor),
            pay_run_steps::token_id.eq(&step.by.token_id),
            pay_run_steps::person_id.eq(&step.by.person),
            pay_run_steps::reason.eq(&step.reason),
            pay_run_steps::entries.eq(step.entries),
            pay_run_steps::at.eq(to_naive(step.at)),
        ))
        .execute(conn)?;
    super::audit::record(
        conn,
        &super::Stamp::new(step.by.actor.clone(), step.at),
        step.step.as_str(),
        "pay_period",
        period,
        Some(format!("{} entries; reason: {}", step.entries, step.reason)),
    )
}

/// The periods before `starts_on` that are still open, earliest first.
pub fn earlier_open(conn: &mut AnyConnection, starts_on: NaiveDate) -> Result<Vec<String>, StorageError> {
    Ok(pay_periods::table
        .filter(pay_periods::starts_on.lt(starts_on))
        .filter(pay_periods::status.eq("open"))
        .order(pay_periods::starts_on)
        .select(pay_periods::id)
        .load(conn)?)
}

/// A manual adjustment as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Adjustment {
    pub id: String,
    /// The ledger entry that carries it.
    pub entry_id: String,
    pub person: String,
    pub period: String,
    #[schema(value_type = String, example = "-12.34")]
    pub amount: rust_decimal::Decimal,
    pub currency: String,
    /// The earning code payroll files show for it; absent: the layout's `manual_adjustment` code.
    pub earning_code: Option<String>,
    pub reason: String,
    pub created_by: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// Records an adjustment's own row (its entry is inserted first, in the same transaction).
pub fn insert_adjustment(
    conn: &mut AnyConnection,
    adjustment: &Adjustment,
    amount_minor: i64,
) -> Result<(), StorageError> {
    diesel::insert_into(adjustments::table)
        .values((
            adjustments::id.eq(&adjustment.id),
            adjustments::entry_id.eq(&adjustment.entry_id),
            adjustments::person_id.eq(&adjustment.person),
            adjustments::period_id.eq(&adjustment.period),
            adjustments::amount_minor.eq(amount_minor),
            adjustments::currency.eq(&adjustment.currency),
            adjustments::earning_code.eq(&adjustment.earning_code),
            adjustments::reason.eq(&adjustment.reason),
            adjustments::created_by.eq(&adjustment.created_by),
            adjustments::created_at.eq(to_naive(adjustment.created_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The earning codes adjustments posted in a period carry, by ledger entry id.
pub fn earning_codes(conn: &mut AnyConnection, period: &str) -> Result<BTreeMap<String, String>, StorageError> {
    let rows: Vec<(String, Option<String>)> = adjustments::table
        .filter(adjustments::period_id.eq(period))
        .select((adjustments::entry_id, adjustments::earning_code))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(entry, code)| code.map(|code| (entry, code))).collect())
}

/// Per person, period and currency, the sum of the entries posted in `periods` (minor units).
pub fn totals_by_person(
    conn: &mut AnyConnection,
    periods: &[String],
) -> Result<Vec<(String, String, String, i64)>, StorageError> {
    if periods.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, String, i64)> = ledger_entries::table
        .filter(ledger_entries::period_id.eq_any(periods))
        .select((
            ledger_entries::person_id,
            ledger_entries::period_id,
            ledger_entries::currency,
            ledger_entries::amount_minor,
        ))
        .load(conn)?;
    let mut sums: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for (person, period, currency, minor) in rows {
        let sum = sums.entry((person, period, currency)).or_default();
        *sum = sum.saturating_add(minor);
    }
    Ok(sums.into_iter().map(|((person, period, currency), minor)| (person, period, currency, minor)).collect())
}

/// A response as the review reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSpell {
    pub id: String,
    pub page_id: String,
    pub person: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub status: String,
}

/// Most responses a review reads.
const REVIEW_RESPONSES_MAX: i64 = 100_000;

/// Responses started in `[from, to)`, any status.
pub fn responses_between(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ResponseSpell>, StorageError> {
    let rows: Vec<(String, String, String, NaiveDateTime, NaiveDateTime, String)> = responses::table
        .filter(responses::started_at.ge(to_naive(from)))
        .filter(responses::started_at.lt(to_naive(to)))
        .order((responses::started_at, responses::id))
        .select((
            responses::id,
            responses::page_id,
            responses::person_id,
            responses::started_at,
            responses::ended_at,
            responses::status,
        ))
        .limit(REVIEW_RESPONSES_MAX)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, page_id, person, started, ended, status)| ResponseSpell {
            id,
            page_id,
            person,
            started_at: from_naive(started),
            ended_at: from_naive(ended),
            status,
        })
        .collect())
}

/// Marks an open period closed (inside the caller's write transaction; the step records
/// who and why). On PostgreSQL the UPDATE waits for postings that hold the period's row
/// FOR SHARE, so the entry count read after it is final. Returns whether it was open.
pub fn close_period_row(
    conn: &mut AnyConnection,
    id: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let updated = diesel::update(pay_periods::table.find(id).filter(pay_periods::status.eq("open")))
        .set((
            pay_periods::status.eq("closed"),
            pay_periods::closed_at.eq(Some(to_naive(at))),
            pay_periods::closed_by.eq(Some(actor)),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}
