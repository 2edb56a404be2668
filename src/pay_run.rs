//! Finance's pay run (issue 18), the shell around `domain::pay_run`: review, approve,
//! reopen and close a period, post manual adjustments, and set the go-live date and
//! four-eyes. API and CLI call the same functions here.
//!
//! Every step reads the period's state and writes its record in one write transaction, so
//! two finance users racing each other see one outcome; approval and close first accrue
//! (as closing always did), so what is approved is what the facts say now.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::accrual::{self, LedgerError};
use crate::domain::field_error::FieldError;
use crate::domain::pay_run::{self as rules, Identity, Refusal, ReviewLine, RunView, Step, StepKind, WorkSpell};
use crate::storage::ledger::{self as store, EntryFilter, NewEntry, Period};
use crate::storage::pay_runs::{self, Adjustment, PayRunSettings};
use crate::storage::{AnyConnection, StorageError, journal, people, write_transaction};

/// Why a pay run step failed.
#[derive(Debug, thiserror::Error)]
pub enum PayRunError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Invalid(#[from] FieldError),
}

impl From<LedgerError> for PayRunError {
    fn from(error: LedgerError) -> PayRunError {
        match error {
            LedgerError::Storage(error) => PayRunError::Storage(error),
        }
    }
}

impl From<diesel::result::Error> for PayRunError {
    fn from(error: diesel::result::Error) -> PayRunError {
        PayRunError::Storage(StorageError::Database(error))
    }
}

/// A period with where its pay run stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeriodRun {
    #[serde(flatten)]
    pub period: Period,
    pub run: RunView,
    /// Entries posted in the period now.
    pub entries: i64,
    /// Whether the organisation requires a second finance user to close.
    pub four_eyes: bool,
    /// Earlier periods still open: this one cannot close before them.
    pub earlier_open: Vec<String>,
}

fn period_run(conn: &mut AnyConnection, id: &str) -> Result<PeriodRun, StorageError> {
    let period = store::get_period(conn, id)?;
    let steps = pay_runs::steps(conn, id)?;
    let entries = pay_runs::entry_count(conn, id)?;
    let run = rules::run_view(!period.is_open(), &steps, entries);
    let four_eyes = pay_runs::settings(conn)?.four_eyes;
    let earlier_open = pay_runs::earlier_open(conn, period.starts_on)?;
    Ok(PeriodRun { period, run, entries, four_eyes, earlier_open })
}

/// Where a period's pay run stands (no accrual).
pub fn status(conn: &mut AnyConnection, id: &str) -> Result<PeriodRun, PayRunError> {
    Ok(period_run(conn, id)?)
}

fn step(kind: StepKind, by: &Identity, reason: &str, entries: i64, at: DateTime<Utc>) -> Step {
    Step { step: kind, by: by.clone(), reason: reason.to_owned(), entries, at }
}

/// Approves a period after posting what it lacks: the approval covers exactly the entries
/// posted now.
pub fn approve(
    conn: &mut AnyConnection,
    id: &str,
    by: &Identity,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<PeriodRun, PayRunError> {
    let reason = rules::check_reason(reason)?;
    accrual::accrue(conn, &by.actor, now)?;
    write_transaction(conn, |conn| {
        let run = period_run(conn, id)?;
        rules::check_approve(id, &run.run)?;
        pay_runs::insert_step(conn, id, &step(StepKind::Approve, by, &reason, run.entries, now))?;
        Ok(period_run(conn, id)?)
    })
}

/// Withdraws an approval (standing or lapsed) before the close, e.g. to add an adjustment.
pub fn reopen(
    conn: &mut AnyConnection,
    id: &str,
    by: &Identity,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<PeriodRun, PayRunError> {
    let reason = rules::check_reason(reason)?;
    write_transaction(conn, |conn| {
        let run = period_run(conn, id)?;
        rules::check_reopen(id, &run.run)?;
        pay_runs::insert_step(conn, id, &step(StepKind::Reopen, by, &reason, run.entries, now))?;
        Ok(period_run(conn, id)?)
    })
}

/// Closes an approved period for good, after posting what it lacks (which lapses the
/// approval if anything was): every earlier period must be closed, and with four-eyes on
/// the closer must not be the approver. Closed periods never change; later changes post
/// to the next open period as adjustments, as before.
pub fn close(
    conn: &mut AnyConnection,
    id: &str,
    by: &Identity,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<PeriodRun, PayRunError> {
    let reason = rules::check_reason(reason)?;
    accrual::accrue(conn, &by.actor, now)?;
    let period = store::get_period(conn, id)?;
    // A period ends at local midnight of its last day everywhere, the latest being UTC−12.
    let ends_everywhere = period.ends_on.and_hms_opt(12, 0, 0).map(|at| at.and_utc()).unwrap_or(now);
    if now < ends_everywhere {
        return Err(Refusal::State(FieldError::new(
            "id",
            format!("pay period `{id}` has not ended everywhere yet; it may close from {ends_everywhere}"),
        ))
        .into());
    }
    write_transaction(conn, |conn| {
        let run = period_run(conn, id)?;
        rules::check_close(id, &run.run, &run.earlier_open, run.four_eyes, by)?;
        if !pay_runs::close_period_row(conn, id, &by.actor, now)? {
            return Err(Refusal::State(FieldError::new("id", format!("pay period `{id}` is already closed"))).into());
        }
        // The row is locked now: a posting that slipped in since the check lapses the approval.
        let entries = pay_runs::entry_count(conn, id)?;
        if entries != run.entries {
            return Err(Refusal::State(FieldError::new(
                "id",
                format!("entries were posted into pay period `{id}` while it was closing; review and approve again"),
            ))
            .into());
        }
        pay_runs::insert_step(conn, id, &step(StepKind::Close, by, &reason, entries, now))?;
        Ok(period_run(conn, id)?)
    })
}

/// A manual adjustment as asked for.
#[derive(Debug, Clone)]
pub struct AdjustmentRequest {
    pub person: String,
    pub period: String,
    pub amount: String,
    pub reason: Option<String>,
    pub earning_code: Option<String>,
}

/// Posts a manual adjustment into an open period: one ledger entry (component and fact
/// kind `manual_adjustment`, in the person's currency) that accrual never reverses.
pub fn adjust(
    conn: &mut AnyConnection,
    request: &AdjustmentRequest,
    by: &Identity,
    now: DateTime<Utc>,
) -> Result<Adjustment, PayRunError> {
    let reason = rules::check_reason(request.reason.as_deref())?;
    if let Some(code) = &request.earning_code {
        rules::check_earning_code(code)?;
    }
    let person = match people::find(conn, &request.person)? {
        Some(person) => person,
        None => return Err(FieldError::new("person", format!("no person `{}`", request.person)).into()),
    };
    let currency: crate::domain::currency::Currency = person
        .currency
        .parse()
        .map_err(|_| StorageError::Unavailable(format!("person `{}` has an unreadable currency", person.id)))?;
    let amount = rules::parse_adjustment_amount(&request.amount, currency)?;
    let amount_minor = currency.to_minor_units(amount).map_err(|error| FieldError::new("amount", error.to_string()))?;
    let scheme = store::scheme(conn)?;
    let span = rules::period_span(scheme, &request.period)
        .ok_or_else(|| FieldError::new("period", format!("`{}` names no {scheme} pay period", request.period)))?;
    write_transaction(conn, |conn| {
        store::ensure_period(conn, &span, now)?;
        let run = period_run(conn, &span.id)?;
        rules::check_adjustable(&span.id, &run.run)?;
        let adjustment_id = uuid::Uuid::now_v7().to_string();
        let run_id = uuid::Uuid::now_v7().to_string();
        let code = request.earning_code.clone();
        let entry = NewEntry {
            id: uuid::Uuid::now_v7().to_string(),
            accrual_run_id: run_id.as_str().into(),
            person: person.id.as_str().into(),
            period: span.id.clone(),
            natural_period: span.id.clone(),
            kind: crate::domain::posting::EntryKind::Line,
            line_key: format!("{}|{adjustment_id}", rules::ADJUSTMENT_KIND),
            revision: 1,
            reverses: None,
            terms: format!(
                "{}|{amount} {}|{}",
                rules::ADJUSTMENT_KIND,
                currency.code(),
                code.as_deref().unwrap_or("-")
            ),
            component: rules::ADJUSTMENT_KIND.into(),
            quantity: Decimal::ONE,
            unit: crate::domain::pay::QuantityUnit::Count.as_str().into(),
            unit_rate: amount,
            multiplier: Decimal::ONE,
            time_class: None,
            day_class: None,
            amount_minor,
            currency: currency.code().into(),
            fact_kind: rules::ADJUSTMENT_KIND.into(),
            fact_id: adjustment_id.clone(),
            page_id: None,
            page_day: None,
            policy_id: rules::ADJUSTMENT_KIND.into(),
            policy_version: 0,
            occurred_at: now,
            explanation: format!("Manual adjustment by {}: {reason}", by.actor),
            posted_at: now,
            posted_by: by.actor.as_str().into(),
        };
        store::insert_run(conn, &run_id, &by.actor, now)?;
        store::insert_entry(conn, &entry)?;
        store::finish_run(conn, &run_id, 1)?;
        let adjustment = Adjustment {
            id: adjustment_id,
            entry_id: entry.id.clone(),
            person: person.id.as_str().into(),
            period: span.id.clone(),
            amount,
            currency: currency.code().into(),
            earning_code: code,
            reason: reason.clone(),
            created_by: by.actor.clone(),
            created_at: now,
        };
        pay_runs::insert_adjustment(conn, &adjustment, amount_minor)?;
        crate::storage::audit::record(
            conn,
            &crate::storage::Stamp::new(by.actor.clone(), now),
            "adjust",
            "pay_period",
            &span.id,
            Some(format!("{} {amount} {} ({}); reason: {reason}", person.id, currency.code(), adjustment.id)),
        )?;
        Ok(adjustment)
    })
}

/// The pay run settings in force.
pub fn settings(conn: &mut AnyConnection) -> Result<PayRunSettings, PayRunError> {
    Ok(pay_runs::settings(conn)?)
}

/// Replaces the settings. Moving the go-live date journals everyone from the earlier of
/// the two dates, so the next accrual posts (or reverses) exactly the lines it moves.
pub fn put_settings(
    conn: &mut AnyConnection,
    wanted: &PayRunSettings,
    stamp: &crate::storage::Stamp,
) -> Result<PayRunSettings, PayRunError> {
    write_transaction(conn, |conn| {
        let before = pay_runs::put_settings(conn, wanted, stamp)?;
        if before.pay_from != wanted.pay_from {
            let from = match (before.pay_from, wanted.pay_from) {
                (Some(a), Some(b)) => rules::pay_from_everywhere(a.min(b)),
                _ => accrual::ledger_epoch(),
            };
            for person in people::list(conn, None)? {
                journal::mark(conn, &person.id, from)?;
            }
        }
        Ok(pay_runs::settings(conn)?)
    })
}

/// How many of `instants` fall before the go-live date everywhere on earth.
pub fn count_before_pay_from(pay_from: Option<NaiveDate>, instants: impl IntoIterator<Item = DateTime<Utc>>) -> u64 {
    let Some(pay_from) = pay_from else { return 0 };
    let cutoff = rules::pay_from_everywhere(pay_from);
    instants.into_iter().filter(|at| *at < cutoff).map(|_| 1).sum()
}

/// A person's total of one component in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReviewTotal {
    pub person: String,
    pub component: String,
    pub currency: String,
    #[schema(value_type = String, example = "135.01")]
    pub amount: Decimal,
    pub entries: usize,
}

/// An entry posted after the period's last payroll export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChangedEntry {
    pub id: String,
    pub person: String,
    pub component: String,
    /// `line` or `reversal`.
    pub kind: crate::domain::posting::EntryKind,
    #[schema(value_type = String)]
    pub amount: Decimal,
    pub currency: String,
    pub natural_period: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub posted_at: DateTime<Utc>,
}

/// What changed since the last payroll export of the period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangesSinceExport {
    /// The last export; absent when the period was never exported (everything is new).
    pub last_export: Option<crate::storage::exports::ExportRecord>,
    /// How many entries were posted after it.
    pub count: usize,
    /// Per currency, their sum.
    #[schema(value_type = Object)]
    pub total_by_currency: BTreeMap<String, Decimal>,
    /// The entries, first [`CHANGES_LISTED_MAX`].
    pub entries: Vec<ChangedEntry>,
}

/// Most changed entries a review lists (the count and totals cover all).
pub const CHANGES_LISTED_MAX: usize = 1_000;

/// Something finance should look at before approving, linked to the ledger lines at issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anomaly {
    /// The person's pay is more than three times their median of earlier periods.
    PayOverTrailingMedian {
        person: String,
        currency: String,
        amount: Decimal,
        median: Decimal,
        trailing_periods: Vec<String>,
        entries: Vec<String>,
    },
    /// The person's pay is above the period cap of a policy that priced it.
    PayOverCap {
        person: String,
        currency: String,
        amount: Decimal,
        cap: Decimal,
        /// The policy versions that priced the person's lines (`id@version`).
        policies: Vec<String>,
        entries: Vec<String>,
    },
    /// A response paid for more than twelve hours.
    LongResponse { person: String, response: String, minutes: Decimal, entries: Vec<String> },
    /// A response claimed but not yet approved: not paid, not in the totals.
    PendingClaim { person: String, response: String, page: String, minutes: i64 },
    /// Work at night left less than eleven consecutive hours of rest before a working day.
    DailyRest {
        person: String,
        /// The working day the rest led into.
        date: NaiveDate,
        #[serde(with = "crate::domain::timestamp::rfc3339")]
        rest_from: DateTime<Utc>,
        #[serde(with = "crate::domain::timestamp::rfc3339")]
        rest_to: DateTime<Utc>,
        longest_rest_minutes: i64,
        /// Compensatory rest owed: eleven hours less the longest rest.
        compensatory_rest_minutes: i64,
        /// Recovery hours the policy already granted for those responses (time off in lieu).
        recovery_hours: Decimal,
        responses: Vec<String>,
        entries: Vec<String>,
    },
}

/// The review of a period before approval.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Review {
    #[serde(flatten)]
    pub run: PeriodRun,
    /// The horizon of the latest accrual run: what the figures are as of.
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ledger_as_of: Option<DateTime<Utc>>,
    /// Per person, component and currency, the entries posted in the period.
    pub totals: Vec<ReviewTotal>,
    #[schema(value_type = Object)]
    pub total_by_currency: BTreeMap<String, Decimal>,
    pub changes_since_export: ChangesSinceExport,
    /// Each with its `kind` and the ledger entries (`entries`) it concerns.
    #[schema(value_type = Vec<Object>)]
    pub anomalies: Vec<Anomaly>,
}

/// The period's review: totals, changes since the last export, anomalies. Reads only.
pub fn review(conn: &mut AnyConnection, id: &str) -> Result<Review, PayRunError> {
    let run = period_run(conn, id)?;
    let entries =
        store::list_entries(conn, &EntryFilter { period: Some(id.to_owned()), limit: i64::MAX, ..Default::default() })?;
    let mut totals: BTreeMap<(String, String, String), (Decimal, usize)> = BTreeMap::new();
    let mut total_by_currency: BTreeMap<String, Decimal> = BTreeMap::new();
    for entry in &entries {
        let (sum, count) =
            totals.entry((entry.person.clone(), entry.component.clone(), entry.currency.clone())).or_default();
        *sum = sum.saturating_add(entry.amount);
        *count += 1;
        let currency_sum = total_by_currency.entry(entry.currency.clone()).or_default();
        *currency_sum = currency_sum.saturating_add(entry.amount);
    }
    let totals = totals
        .into_iter()
        .map(|((person, component, currency), (amount, entries))| ReviewTotal {
            person,
            component,
            currency,
            amount,
            entries,
        })
        .collect();

    // What the last export held is kept entry by entry (`storage::exports`): any entry
    // it did not hold is a change, whatever order concurrent writers committed in.
    let (last_export, changed) = crate::storage::exports::entries_since_last_export(conn, id)?;
    let changed: Vec<&store::Entry> = changed.iter().collect();
    let mut changed_totals: BTreeMap<String, Decimal> = BTreeMap::new();
    for entry in &changed {
        let sum = changed_totals.entry(entry.currency.clone()).or_default();
        *sum = sum.saturating_add(entry.amount);
    }
    let changes_since_export = ChangesSinceExport {
        last_export,
        count: changed.len(),
        total_by_currency: changed_totals,
        entries: changed
            .iter()
            .take(CHANGES_LISTED_MAX)
            .map(|entry| ChangedEntry {
                id: entry.id.clone(),
                person: entry.person.clone(),
                component: entry.component.clone(),
                kind: entry.kind,
                amount: entry.amount,
                currency: entry.currency.clone(),
                natural_period: entry.natural_period.clone(),
                posted_at: entry.posted_at,
            })
            .collect(),
    };

    let lines: Vec<ReviewLine> = entries
        .iter()
        .map(|entry| ReviewLine {
            id: entry.id.clone(),
            person: entry.person.clone(),
            component: entry.component.clone(),
            quantity: entry.quantity,
            unit: entry.unit.clone(),
            amount: entry.amount,
            currency: entry.currency.clone(),
            fact_kind: entry.fact_kind.clone(),
            fact_id: entry.fact_id.clone(),
        })
        .collect();
    let mut anomalies = trailing_anomalies(conn, &run.period, &lines)?;
    anomalies.extend(cap_anomalies(conn, &entries)?);
    anomalies.extend(rules::long_responses(&lines).into_iter().map(|found| Anomaly::LongResponse {
        person: found.person,
        response: found.response,
        minutes: found.minutes,
        entries: found.entries,
    }));
    anomalies.extend(response_anomalies(conn, &run.period, &lines)?);
    let ledger_as_of = journal::horizon(conn)?;
    Ok(Review { run, ledger_as_of, totals, total_by_currency, changes_since_export, anomalies })
}

/// People paid above the period cap of a policy version that priced their lines.
fn cap_anomalies(conn: &mut AnyConnection, entries: &[store::Entry]) -> Result<Vec<Anomaly>, StorageError> {
    // Per person and currency: the pay, its entries, and the policy versions that priced it.
    type PersonPay = (Decimal, Vec<String>, BTreeSet<(String, i32)>);
    let mut by_person: BTreeMap<(&str, &str), PersonPay> = BTreeMap::new();
    for entry in entries {
        let (sum, ids, versions) = by_person.entry((entry.person.as_str(), entry.currency.as_str())).or_default();
        *sum = sum.saturating_add(entry.amount);
        ids.push(entry.id.clone());
        if !rules::is_manual_adjustment(&entry.fact_kind) {
            versions.insert((entry.policy_id.clone(), entry.policy_version));
        }
    }
    let mut histories: BTreeMap<String, Option<crate::domain::policy::PolicyHistory>> = BTreeMap::new();
    let mut found = Vec::new();
    for ((person, currency), (amount, ids, versions)) in by_person {
        let mut caps = Vec::new();
        for (policy, version) in &versions {
            if !histories.contains_key(policy) {
                histories.insert(policy.clone(), crate::storage::policies::history(conn, policy)?);
            }
            let Some(Some(history)) = histories.get(policy) else { continue };
            caps.extend(
                history
                    .versions()
                    .iter()
                    .filter(|known| {
                        i64::from(known.version) == i64::from(*version) && known.currency.code() == currency
                    })
                    .map(|known| known.period_cap),
            );
        }
        let cap = rules::applicable_cap(caps);
        if let Some(cap) = cap.filter(|_| rules::over_cap(amount, cap)) {
            found.push(Anomaly::PayOverCap {
                person: person.to_owned(),
                currency: currency.to_owned(),
                amount,
                cap,
                policies: versions.iter().map(|(policy, version)| format!("{policy}@{version}")).collect(),
                entries: ids,
            });
        }
    }
    Ok(found)
}

fn trailing_anomalies(
    conn: &mut AnyConnection,
    period: &Period,
    lines: &[ReviewLine],
) -> Result<Vec<Anomaly>, StorageError> {
    let earlier: Vec<String> = store::list_periods(conn)?
        .into_iter()
        .filter(|other| other.starts_on < period.starts_on)
        .map(|other| other.id)
        .collect();
    let trailing: Vec<String> = earlier.iter().rev().take(rules::TRAILING_PERIODS).rev().cloned().collect();
    let mut history: BTreeMap<(String, String), Vec<Decimal>> = BTreeMap::new();
    for (person, _, currency, minor) in pay_runs::totals_by_person(conn, &trailing)? {
        let Ok(parsed) = currency.parse::<crate::domain::currency::Currency>() else { continue };
        history.entry((person, currency)).or_default().push(parsed.from_minor_units(minor));
    }
    let mut current: BTreeMap<(String, String), (Decimal, Vec<String>)> = BTreeMap::new();
    for line in lines {
        let (sum, ids) = current.entry((line.person.clone(), line.currency.clone())).or_default();
        *sum = sum.saturating_add(line.amount);
        ids.push(line.id.clone());
    }
    let mut found = Vec::new();
    for ((person, currency), (amount, entries)) in current {
        let earlier_pay = history.get(&(person.clone(), currency.clone())).cloned().unwrap_or_default();
        if let Some(median) = rules::over_trailing_median(amount, &earlier_pay) {
            found.push(Anomaly::PayOverTrailingMedian {
                person,
                currency,
                amount,
                median,
                trailing_periods: trailing.clone(),
                entries,
            });
        }
    }
    Ok(found)
}

/// Pending claims and daily-rest shortfalls: read from the responses of the period's days
/// in the person's own zone.
fn response_anomalies(
    conn: &mut AnyConnection,
    period: &Period,
    lines: &[ReviewLine],
) -> Result<Vec<Anomaly>, StorageError> {
    // The period's days in any zone, and the evening before its first working day.
    let from = period.starts_on.and_hms_opt(0, 0, 0).map(|at| at.and_utc() - chrono::Duration::hours(38));
    let to = period.ends_on.and_hms_opt(12, 0, 0).map(|at| at.and_utc());
    let (Some(from), Some(to)) = (from, to) else { return Ok(Vec::new()) };
    let spells = pay_runs::responses_between(conn, from, to)?;
    let people_ids: BTreeSet<String> = spells.iter().map(|spell| spell.person.clone()).collect();
    let mut found = Vec::new();
    for person_id in people_ids {
        let Some(stored) = people::find(conn, &person_id)? else { continue };
        let Ok(person) = crate::pricing::pay_person(&stored) else { continue };
        let calendar = &person.calendar;
        let mine: Vec<&pay_runs::ResponseSpell> = spells.iter().filter(|spell| spell.person == person_id).collect();
        let in_period = |at: DateTime<Utc>| {
            let date = calendar.local(at).date();
            period.starts_on <= date && date < period.ends_on
        };
        for spell in mine
            .iter()
            .filter(|spell| spell.status == crate::storage::responses::PENDING && in_period(spell.started_at))
        {
            found.push(Anomaly::PendingClaim {
                person: person_id.clone(),
                response: spell.id.clone(),
                page: spell.page_id.clone(),
                minutes: (spell.ended_at - spell.started_at).num_minutes(),
            });
        }
        let work: Vec<WorkSpell> = mine
            .iter()
            .filter(|spell| spell.status == crate::storage::responses::PAID)
            .map(|spell| WorkSpell { id: spell.id.clone(), start: spell.started_at, end: spell.ended_at })
            .collect();
        for window in rules::rest_windows(calendar, period.starts_on, period.ends_on) {
            let Some(shortfall) = rules::rest_shortfall(window, &work) else { continue };
            let responses: BTreeSet<&str> = shortfall.work.iter().map(String::as_str).collect();
            let linked: Vec<&ReviewLine> = lines
                .iter()
                .filter(|line| {
                    line.person == person_id
                        && line.fact_kind == "response"
                        && responses.contains(line.fact_id.as_str())
                })
                .collect();
            let recovery_minutes: Decimal = linked
                .iter()
                .filter(|line| line.component == "recovery")
                .filter_map(|line| match line.unit.as_str() {
                    "hours" => line.quantity.checked_mul(Decimal::from(60)),
                    "minutes" => Some(line.quantity),
                    _ => None,
                })
                .fold(Decimal::ZERO, Decimal::saturating_add);
            found.push(Anomaly::DailyRest {
                person: person_id.clone(),
                date: window.date,
                rest_from: window.from,
                rest_to: window.to,
                longest_rest_minutes: shortfall.longest_rest_minutes,
                compensatory_rest_minutes: shortfall.owed_minutes,
                recovery_hours: (recovery_minutes / Decimal::from(60)).normalize(),
                responses: shortfall.work.clone(),
                entries: linked.iter().map(|line| line.id.clone()).collect(),
            });
        }
    }
    Ok(found)
}
