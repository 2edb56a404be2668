//! Finance's pay run around a period (issue 18), as pure rules: the run's state, what may
//! happen in which state, manual adjustments, the go-live date, and the anomalies a review
//! flags before approval.
//!
//! **States.** A period is *open*, *approved* or *closed*. Each step (approve, reopen,
//! close) is recorded with the period's entry count at that moment. An approval holds only
//! while the period's entries are exactly the ones approved: entries are append-only, so an
//! unchanged count means nothing was posted since. A posting after an approval (a late
//! fact, a repricing) *lapses* it: the period reads as open again, the review says how
//! many entries arrived since, and the period must be approved again before it may close.
//! A payroll administrator then never closes figures nobody has looked at.
//!
//! **Closing** needs a standing approval and every earlier period closed. With four-eyes
//! on, the closer must be another finance user than the approver ([`Identity::same_user`]).
//!
//! **Adjustments** go only into an open period: an approved one is reopened first (which
//! a reason records), so the approval always covers what is closed.
//!
//! **Go-live** ([`is_payable`]): facts before the organisation's `pay_from` date are kept
//! and count in every report, but their priced lines are never posted to payroll.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::currency::Currency;
use super::field_error::FieldError;
use super::limits::{check_free_text, check_no_control, parse_decimal};
use super::pay::PricedLine;
use super::period::{PeriodScheme, PeriodSpan};
use super::time_class::{DayClass, WorkingCalendar};

/// Longest reason given with a pay run step or an adjustment, in characters.
pub const REASON_LENGTH_MAX: usize = 1_000;
/// Largest manual adjustment, either way, in the currency's major unit.
pub const ADJUSTMENT_AMOUNT_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// Longest earning code an adjustment may carry, in characters.
pub const EARNING_CODE_LENGTH_MAX: usize = 32;
/// How many earlier periods a person's pay is compared with.
pub const TRAILING_PERIODS: usize = 6;
/// Fewest earlier periods with pay before a median means anything.
pub const TRAILING_PERIODS_MIN: usize = 3;
/// A person's pay above this many times their trailing median is flagged.
pub const TRAILING_MEDIAN_FACTOR: Decimal = Decimal::from_parts(3, 0, 0, false, 0);
/// A response longer than this (12 hours) is flagged.
pub const LONG_RESPONSE_MINUTES: i64 = 12 * 60;
/// The daily rest the EU Working Time Directive (art. 3) and the UK Working Time
/// Regulations (reg. 10) require: 11 consecutive hours in each 24.
pub const DAILY_REST_MINUTES: i64 = 11 * 60;

/// The `fact_kind` (and component) of a manual adjustment's ledger entry.
pub const ADJUSTMENT_KIND: &str = "manual_adjustment";

/// Whether a ledger entry is a manual adjustment: the accrual never reverses one (it is no
/// priced line), and verification does not expect the pay engine to produce it.
pub fn is_manual_adjustment(fact_kind: &str) -> bool {
    fact_kind == ADJUSTMENT_KIND
}

/// **The go-live rule, the only one.** A priced line is payable when the local date of its
/// instant, in the person's zone, is on or after `pay_from` (always, without a go-live).
/// Standby is priced per local day, so a day is wholly payable or not.
pub fn is_payable(calendar: &WorkingCalendar, occurred_at: DateTime<Utc>, pay_from: Option<NaiveDate>) -> bool {
    is_payable_on(calendar.local(occurred_at).date(), pay_from)
}

/// [`is_payable`] for a line whose local date is known (a person's zone may change over
/// time: the date is read in the zone in force at the instant).
pub fn is_payable_on(local_date: NaiveDate, pay_from: Option<NaiveDate>) -> bool {
    pay_from.is_none_or(|from| local_date >= from)
}

/// Keeps the payable lines of one person; `local_date` gives an instant's date in the
/// person's zone of the time.
pub fn payable_lines(
    lines: Vec<PricedLine>,
    local_date: impl Fn(DateTime<Utc>) -> NaiveDate,
    pay_from: Option<NaiveDate>,
) -> Vec<PricedLine> {
    if pay_from.is_none() {
        return lines;
    }
    lines.into_iter().filter(|line| is_payable_on(local_date(line.occurred_at), pay_from)).collect()
}

/// The first instant of `pay_from` anywhere on earth (UTC+14), for counting imported rows
/// that fall before it without knowing whose they are: a row before this instant is
/// before the go-live date in every zone.
pub fn pay_from_everywhere(pay_from: NaiveDate) -> DateTime<Utc> {
    pay_from.and_hms_opt(0, 0, 0).map(|at| at.and_utc() - Duration::hours(14)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Checks the reason of a step or an adjustment: required, not blank, bounded, no control
/// characters but line breaks and tabs.
pub fn check_reason(reason: Option<&str>) -> Result<String, FieldError> {
    let Some(reason) = reason else {
        return Err(FieldError::new("reason", "is required: say why"));
    };
    if reason.trim().is_empty() {
        return Err(FieldError::new("reason", "must say why"));
    }
    if reason.chars().count() > REASON_LENGTH_MAX {
        return Err(FieldError::new("reason", format!("must be at most {REASON_LENGTH_MAX} characters")));
    }
    check_free_text("reason", reason)?;
    Ok(reason.to_owned())
}

/// Parses an adjustment's amount: a signed decimal string, not zero, at most
/// [`ADJUSTMENT_AMOUNT_MAX`] either way, in whole minor units of `currency`.
pub fn parse_adjustment_amount(text: &str, currency: Currency) -> Result<Decimal, FieldError> {
    let amount = parse_decimal("amount", text)?;
    if amount.is_zero() {
        return Err(FieldError::new("amount", "must not be zero"));
    }
    if amount.abs() > ADJUSTMENT_AMOUNT_MAX {
        return Err(FieldError::new(
            "amount",
            format!("must be between -{ADJUSTMENT_AMOUNT_MAX} and {ADJUSTMENT_AMOUNT_MAX} {}", currency.code()),
        ));
    }
    if currency.to_minor_units(amount).is_err() {
        return Err(FieldError::new(
            "amount",
            format!("{} has at most {} decimal places", currency.code(), currency.minor_unit_exponent()),
        ));
    }
    Ok(amount)
}

/// Checks an adjustment's own earning code: 1 to 32 characters, no control characters.
pub fn check_earning_code(code: &str) -> Result<(), FieldError> {
    if code.trim().is_empty() || code.trim() != code {
        return Err(FieldError::new("earning_code", "must not be blank or padded with spaces"));
    }
    if code.chars().count() > EARNING_CODE_LENGTH_MAX {
        return Err(FieldError::new("earning_code", format!("must be at most {EARNING_CODE_LENGTH_MAX} characters")));
    }
    check_no_control("earning_code", code)
}

/// The period of `scheme` that `id` names, if any (`2026-09`, `2026-09-H2`, `2026-09-07`).
pub fn period_span(scheme: PeriodScheme, id: &str) -> Option<PeriodSpan> {
    let first_day = NaiveDate::parse_from_str(id.get(..10).unwrap_or(id), "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&format!("{}-01", id.get(..7).unwrap_or(id)), "%Y-%m-%d"))
        .ok()?;
    let mut span = scheme.period_of(first_day);
    // A semi-monthly id names its half: walk at most to the month's second half.
    if span.id != id {
        span = scheme.next(&span);
    }
    (span.id == id).then_some(span)
}

/// A step of a pay run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Approve,
    Reopen,
    Close,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Approve => "approve",
            StepKind::Reopen => "reopen",
            StepKind::Close => "close",
        }
    }

    pub fn parse(text: &str) -> Option<StepKind> {
        [StepKind::Approve, StepKind::Reopen, StepKind::Close].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Who took a step: the actor the audit log names, the token, and the person it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Identity {
    pub actor: String,
    pub token_id: Option<String>,
    pub person: Option<String>,
}

impl Identity {
    /// Whether two identities may be one user: the same actor, the same token, or tokens
    /// bound to the same person. Two finance tokens of different names and no person are
    /// two users (issuing tokens is the admin's control).
    pub fn same_user(&self, other: &Identity) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a == b);
        self.actor == other.actor || same(&self.token_id, &other.token_id) || same(&self.person, &other.person)
    }
}

/// One recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Step {
    pub step: StepKind,
    #[serde(flatten)]
    pub by: Identity,
    pub reason: String,
    /// The period's entry count when the step was taken.
    pub entries: i64,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
}

/// Where a pay run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Open,
    Approved,
    Closed,
}

/// A pay run's state with the approval it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub state: RunState,
    /// The latest approval not withdrawn (standing, or lapsed by later postings).
    pub approval: Option<Step>,
    /// True when the latest approval lapsed because entries were posted after it.
    pub approval_lapsed: bool,
    /// Entries posted into the period since that approval.
    pub entries_since_approval: i64,
}

/// The state of a period's pay run from its steps (in order) and its entry count now.
pub fn run_view(period_closed: bool, steps: &[Step], entries_now: i64) -> RunView {
    let approval = match steps.last() {
        Some(step) if step.step == StepKind::Approve => Some(step.clone()),
        Some(step) if step.step == StepKind::Close => {
            steps.iter().rev().find(|step| step.step == StepKind::Approve).cloned()
        }
        _ => None,
    };
    let since = approval.as_ref().map_or(0, |approval| entries_now.saturating_sub(approval.entries));
    if period_closed {
        return RunView { state: RunState::Closed, approval, approval_lapsed: false, entries_since_approval: since };
    }
    let lapsed = approval.as_ref().is_some_and(|approval| approval.entries != entries_now);
    let state = if approval.is_some() && !lapsed { RunState::Approved } else { RunState::Open };
    RunView { state, approval, approval_lapsed: lapsed, entries_since_approval: since }
}

/// Why a step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The period is not in a state that allows the step (409).
    #[error("{0}")]
    State(FieldError),
    /// The caller may not take the step (403).
    #[error("{0}")]
    NotThisUser(String),
}

fn state_refusal(message: String) -> Refusal {
    Refusal::State(FieldError::new("id", message))
}

/// Approval: an open period (a lapsed approval may be renewed).
pub fn check_approve(period: &str, view: &RunView) -> Result<(), Refusal> {
    match view.state {
        RunState::Open => Ok(()),
        RunState::Approved => Err(state_refusal(format!("pay period `{period}` is already approved"))),
        RunState::Closed => Err(state_refusal(format!("pay period `{period}` is closed"))),
    }
}

/// Reopening withdraws an approval, standing or lapsed, before the close.
pub fn check_reopen(period: &str, view: &RunView) -> Result<(), Refusal> {
    match view.state {
        RunState::Closed => {
            Err(state_refusal(format!("pay period `{period}` is closed: a closed period never reopens")))
        }
        _ if view.approval.is_none() => Err(state_refusal(format!("pay period `{period}` is not approved"))),
        _ => Ok(()),
    }
}

/// Closing: a standing approval, every earlier period closed, and with four-eyes on a
/// closer other than the approver.
pub fn check_close(
    period: &str,
    view: &RunView,
    earlier_open: &[String],
    four_eyes: bool,
    closer: &Identity,
) -> Result<(), Refusal> {
    if view.state == RunState::Closed {
        return Err(state_refusal(format!("pay period `{period}` is already closed")));
    }
    if !earlier_open.is_empty() {
        return Err(state_refusal(format!(
            "pay period `{period}` cannot close while an earlier one is open: close {} first",
            earlier_open.join(", ")
        )));
    }
    let Some(approval) = view.approval.as_ref().filter(|_| view.state == RunState::Approved) else {
        return Err(state_refusal(if view.approval_lapsed {
            format!(
                "the approval of pay period `{period}` lapsed: {} entries were posted after it; review and approve again",
                view.entries_since_approval
            )
        } else {
            format!("pay period `{period}` is not approved: approve it first")
        }));
    };
    if four_eyes && approval.by.same_user(closer) {
        return Err(Refusal::NotThisUser(format!(
            "four-eyes is on: pay period `{period}` was approved by {}, and must be closed by another finance user",
            approval.by.actor
        )));
    }
    Ok(())
}

/// Adjustments go into an open period only.
pub fn check_adjustable(period: &str, view: &RunView) -> Result<(), Refusal> {
    match view.state {
        RunState::Open => Ok(()),
        RunState::Approved => Err(Refusal::State(FieldError::new(
            "period",
            format!("pay period `{period}` is approved: reopen it to add an adjustment"),
        ))),
        RunState::Closed => Err(Refusal::State(FieldError::new(
            "period",
            format!("pay period `{period}` is closed: adjust in an open period"),
        ))),
    }
}

/// The median of some amounts (the mean of the middle two for an even count).
pub fn median(values: &[Decimal]) -> Option<Decimal> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        len if len % 2 == 1 => sorted.get(middle).copied(),
        _ => {
            let (low, high) = (*sorted.get(middle - 1)?, *sorted.get(middle)?);
            low.checked_add(high).map(|sum| sum / Decimal::TWO)
        }
    }
}

/// The trailing median a pay exceeds more than [`TRAILING_MEDIAN_FACTOR`]-fold, if it does.
/// `trailing` holds the person's pay in the earlier periods they were paid in (most recent
/// [`TRAILING_PERIODS`]); fewer than [`TRAILING_PERIODS_MIN`] say nothing.
pub fn over_trailing_median(pay: Decimal, trailing: &[Decimal]) -> Option<Decimal> {
    if trailing.len() < TRAILING_PERIODS_MIN {
        return None;
    }
    let median = median(trailing)?;
    (median > Decimal::ZERO && pay > median.checked_mul(TRAILING_MEDIAN_FACTOR)?).then_some(median)
}

/// The cap that applies to a person's pay in a period priced by several policy versions:
/// the lowest one set (a cap is a limit finance wants to hear about), none if none is set.
pub fn applicable_cap(caps: impl IntoIterator<Item = Option<Decimal>>) -> Option<Decimal> {
    caps.into_iter().flatten().min()
}

/// Whether a person's pay exceeds the cap.
pub fn over_cap(pay: Decimal, cap: Option<Decimal>) -> bool {
    cap.is_some_and(|cap| pay > cap)
}

/// A ledger entry as the review reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewLine {
    pub id: String,
    pub person: String,
    pub component: String,
    pub quantity: Decimal,
    pub unit: String,
    pub amount: Decimal,
    pub currency: String,
    pub fact_kind: String,
    pub fact_id: String,
}

fn minutes_of(line: &ReviewLine) -> Option<Decimal> {
    match line.unit.as_str() {
        "minutes" => Some(line.quantity),
        "hours" => line.quantity.checked_mul(Decimal::from(60)),
        _ => None,
    }
}

/// A response paid for more than [`LONG_RESPONSE_MINUTES`], with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongResponse {
    pub person: String,
    pub response: String,
    pub minutes: Decimal,
    pub entries: Vec<String>,
}

/// Responses whose paid minutes (lines net of reversals) exceed twelve hours.
pub fn long_responses(lines: &[ReviewLine]) -> Vec<LongResponse> {
    let mut by_response: BTreeMap<(&str, &str), (Decimal, Vec<String>)> = BTreeMap::new();
    for line in lines.iter().filter(|line| line.fact_kind == "response" && line.component == "response") {
        let Some(minutes) = minutes_of(line) else { continue };
        let (sum, entries) = by_response.entry((line.person.as_str(), line.fact_id.as_str())).or_default();
        *sum = sum.saturating_add(minutes);
        entries.push(line.id.clone());
    }
    by_response
        .into_iter()
        .filter(|(_, (minutes, _))| *minutes > Decimal::from(LONG_RESPONSE_MINUTES))
        .map(|((person, response), (minutes, entries))| LongResponse {
            person: person.to_owned(),
            response: response.to_owned(),
            minutes: minutes.normalize(),
            entries,
        })
        .collect()
}

/// The time between two working days in which the daily rest must fall: from the end of
/// work on the day before (or 24 hours before the next start, when that day is not a
/// working day or ended earlier) to the start of work on `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestWindow {
    /// The working day the rest leads into.
    pub date: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

fn working_window(calendar: &WorkingCalendar, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    use chrono::Datelike;
    if calendar.day_class(date) != DayClass::Weekday {
        return None;
    }
    let hours = calendar.working_hours_on(date.weekday())?;
    if hours.end <= hours.start {
        return None;
    }
    Some((
        calendar.first_instant_at_or_after(date.and_time(hours.start)),
        calendar.first_instant_at_or_after(date.and_time(hours.end)),
    ))
}

/// The rest windows leading into each working day of `[from, to)` (local dates).
pub fn rest_windows(calendar: &WorkingCalendar, from: NaiveDate, to: NaiveDate) -> Vec<RestWindow> {
    let mut windows = Vec::new();
    let mut date = from;
    while date < to {
        if let Some((start, _)) = working_window(calendar, date) {
            let day_before = date.pred_opt().and_then(|before| working_window(calendar, before)).map(|(_, end)| end);
            let earliest = start - Duration::hours(24);
            let from = day_before.map_or(earliest, |end| end.max(earliest));
            windows.push(RestWindow { date, from, to: start });
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    windows
}

/// Work done inside a rest window (a response), with the ledger lines that pay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkSpell {
    pub id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A rest window that work cut below eleven consecutive hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestShortfall {
    pub window: RestWindow,
    /// The longest uninterrupted rest left, in minutes.
    pub longest_rest_minutes: i64,
    /// Compensatory rest owed: eleven hours less the longest rest, in minutes.
    pub owed_minutes: i64,
    /// The spells of work that fell into the window.
    pub work: Vec<String>,
}

/// Whether the work in `window` left eleven consecutive hours of rest; if not, what is owed.
/// A window shorter than eleven hours in itself (working hours set that way) owes only what
/// the work took from it.
pub fn rest_shortfall(window: RestWindow, work: &[WorkSpell]) -> Option<RestShortfall> {
    let mut inside: Vec<(DateTime<Utc>, DateTime<Utc>, &str)> = work
        .iter()
        .filter(|spell| spell.start < window.to && spell.end > window.from)
        .map(|spell| (spell.start.max(window.from), spell.end.min(window.to), spell.id.as_str()))
        .collect();
    if inside.is_empty() {
        return None;
    }
    inside.sort();
    let mut longest = Duration::zero();
    let mut cursor = window.from;
    for (start, end, _) in &inside {
        if *start > cursor {
            longest = longest.max(*start - cursor);
        }
        cursor = cursor.max(*end);
    }
    longest = longest.max(window.to - cursor);
    let required = Duration::minutes(DAILY_REST_MINUTES).min(window.to - window.from);
    if longest >= required {
        return None;
    }
    let mut ids: Vec<String> = inside.iter().map(|(_, _, id)| (*id).to_owned()).collect();
    ids.dedup();
    Some(RestShortfall {
        window,
        longest_rest_minutes: longest.num_minutes(),
        owed_minutes: (required - longest).num_minutes(),
        work: ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn step(kind: StepKind, actor: &str, entries: i64) -> Step {
        Step {
            step: kind,
            by: Identity { actor: actor.into(), token_id: Some(format!("id-{actor}")), person: None },
            reason: "checked".into(),
            entries,
            at: at("2026-12-01T09:00:00Z"),
        }
    }

    fn london() -> WorkingCalendar {
        WorkingCalendar::new(chrono_tz::Europe::London)
    }

    #[test]
    fn an_approval_stands_while_the_entries_are_the_approved_ones() {
        let steps = vec![step(StepKind::Approve, "ann", 5)];
        assert_eq!(run_view(false, &steps, 5).state, RunState::Approved);
        let lapsed = run_view(false, &steps, 7);
        assert_eq!((lapsed.state, lapsed.approval_lapsed, lapsed.entries_since_approval), (RunState::Open, true, 2));
        let reopened = vec![step(StepKind::Approve, "ann", 5), step(StepKind::Reopen, "ann", 5)];
        assert_eq!(
            run_view(false, &reopened, 5),
            RunView { state: RunState::Open, approval: None, approval_lapsed: false, entries_since_approval: 0 }
        );
        assert_eq!(run_view(true, &steps, 5).state, RunState::Closed);
        assert_eq!(run_view(false, &[], 0).state, RunState::Open);
    }

    #[test]
    fn a_close_needs_a_standing_approval_and_earlier_periods_closed() {
        let ben = Identity { actor: "token:ben".into(), token_id: Some("id-ben".into()), person: None };
        let approved = run_view(false, &[step(StepKind::Approve, "token:ann", 5)], 5);
        assert_eq!(check_close("2026-11", &approved, &[], true, &ben), Ok(()));
        let Err(Refusal::State(order)) = check_close("2026-11", &approved, &["2026-10".into()], false, &ben) else {
            panic!("an earlier open period must refuse the close")
        };
        assert!(order.message.contains("close 2026-10 first"), "{order:?}");
        let open = run_view(false, &[], 5);
        assert!(matches!(check_close("2026-11", &open, &[], false, &ben), Err(Refusal::State(_))));
        let lapsed = run_view(false, &[step(StepKind::Approve, "token:ann", 5)], 6);
        let Err(Refusal::State(lapse)) = check_close("2026-11", &lapsed, &[], false, &ben) else { panic!() };
        assert!(lapse.message.contains("1 entries were posted after it"), "{lapse:?}");
    }

    #[test]
    fn four_eyes_refuses_the_approver_as_closer_by_actor_token_or_person() {
        let approved = run_view(false, &[step(StepKind::Approve, "token:ann", 5)], 5);
        let ann = Identity { actor: "token:ann".into(), token_id: Some("id-token:ann".into()), person: None };
        assert!(matches!(check_close("2026-11", &approved, &[], true, &ann), Err(Refusal::NotThisUser(_))));
        assert_eq!(check_close("2026-11", &approved, &[], false, &ann), Ok(()));
        let same_token =
            Identity { actor: "token:renamed".into(), token_id: Some("id-token:ann".into()), person: None };
        assert!(same_token.same_user(&ann));
        let a = Identity { actor: "token:a".into(), token_id: Some("1".into()), person: Some("ann".into()) };
        let b = Identity { actor: "token:b".into(), token_id: Some("2".into()), person: Some("ann".into()) };
        assert!(a.same_user(&b), "two tokens of one person are one user");
        let cli = Identity { actor: "cli".into(), token_id: None, person: None };
        assert!(cli.same_user(&cli.clone()));
        assert!(!cli.same_user(&a));
    }

    #[test]
    fn adjustments_and_approvals_follow_the_state() {
        let approved = run_view(false, &[step(StepKind::Approve, "a", 1)], 1);
        assert!(check_adjustable("2026-09", &approved).is_err());
        assert!(check_approve("2026-09", &approved).is_err());
        assert_eq!(check_reopen("2026-09", &approved), Ok(()));
        let open = run_view(false, &[], 1);
        assert_eq!(check_adjustable("2026-09", &open), Ok(()));
        assert!(check_reopen("2026-09", &open).is_err());
        let closed = run_view(true, &[], 1);
        assert!(check_adjustable("2026-09", &closed).is_err());
        assert!(check_reopen("2026-09", &closed).is_err());
    }

    #[test]
    fn reasons_and_amounts_name_their_field() {
        assert_eq!(check_reason(None).unwrap_err().field, "reason");
        assert_eq!(check_reason(Some("  ")).unwrap_err().field, "reason");
        assert!(check_reason(Some(&"x".repeat(REASON_LENGTH_MAX + 1))).is_err());
        assert_eq!(check_reason(Some("bonus\nfor the outage")).unwrap(), "bonus\nfor the outage");
        let gbp: Currency = "GBP".parse().unwrap();
        assert_eq!(parse_adjustment_amount("-12.34", gbp), Ok(dec!(-12.34)));
        for bad in ["0", "12.345", "1000000.01", "abc", "1e3"] {
            assert_eq!(parse_adjustment_amount(bad, gbp).unwrap_err().field, "amount", "{bad}");
        }
        let jpy: Currency = "JPY".parse().unwrap();
        assert!(parse_adjustment_amount("10.5", jpy).is_err());
        assert!(check_earning_code("BONUS").is_ok());
        assert!(check_earning_code(" B").is_err());
        assert!(check_earning_code(&"C".repeat(EARNING_CODE_LENGTH_MAX + 1)).is_err());
    }

    #[test]
    fn period_ids_name_periods_of_the_scheme() {
        assert_eq!(
            period_span(PeriodScheme::Monthly, "2026-09").map(|span| span.ends_on),
            NaiveDate::from_ymd_opt(2026, 10, 1)
        );
        assert_eq!(
            period_span(PeriodScheme::SemiMonthly, "2026-09-H2").map(|span| span.starts_on),
            NaiveDate::from_ymd_opt(2026, 9, 16)
        );
        assert_eq!(period_span(PeriodScheme::Monthly, "2026-13"), None);
        assert_eq!(period_span(PeriodScheme::Monthly, "2026-09-H2"), None);
    }

    #[test]
    fn go_live_counts_the_persons_local_date() {
        let tokyo = WorkingCalendar::new(chrono_tz::Asia::Tokyo);
        let from = NaiveDate::from_ymd_opt(2026, 9, 1);
        // 2026-08-31T16:00Z is 01:00 on 1 September in Tokyo, still August in London.
        let instant = at("2026-08-31T16:00:00Z");
        assert!(is_payable(&tokyo, instant, from));
        assert!(!is_payable(&london(), instant, from));
        assert!(is_payable(&london(), instant, None));
        assert_eq!(pay_from_everywhere(from.unwrap()), at("2026-08-31T10:00:00Z"));
    }

    #[test]
    fn the_lowest_cap_applies_and_only_more_than_it_is_flagged() {
        assert_eq!(applicable_cap([None, Some(dec!(500)), Some(dec!(300))]), Some(dec!(300)));
        assert_eq!(applicable_cap([None, None]), None);
        assert!(over_cap(dec!(300.01), Some(dec!(300))));
        assert!(!over_cap(dec!(300), Some(dec!(300))));
        assert!(!over_cap(dec!(1000000), None));
    }

    #[test]
    fn the_trailing_median_flags_three_times_and_more() {
        assert_eq!(median(&[dec!(3), dec!(1), dec!(2)]), Some(dec!(2)));
        assert_eq!(median(&[dec!(1), dec!(2), dec!(3), dec!(10)]), Some(dec!(2.5)));
        assert_eq!(median(&[]), None);
        let trailing = [dec!(100), dec!(120), dec!(80)];
        assert_eq!(over_trailing_median(dec!(300.01), &trailing), Some(dec!(100)));
        assert_eq!(over_trailing_median(dec!(300), &trailing), None, "exactly three times is not more");
        assert_eq!(over_trailing_median(dec!(1000), &trailing[..2]), None, "two periods say nothing");
    }

    fn line(id: &str, fact: &str, component: &str, quantity: Decimal, unit: &str) -> ReviewLine {
        ReviewLine {
            id: id.into(),
            person: "alice".into(),
            component: component.into(),
            quantity,
            unit: unit.into(),
            amount: dec!(1),
            currency: "GBP".into(),
            fact_kind: "response".into(),
            fact_id: fact.into(),
        }
    }

    #[test]
    fn long_responses_sum_their_lines_net_of_reversals() {
        let lines = vec![
            line("e1", "r1", "response", dec!(600), "minutes"),
            line("e2", "r1", "response", dec!(2.5), "hours"),
            line("e3", "r2", "response", dec!(800), "minutes"),
            line("e4", "r2", "response", dec!(-800), "minutes"),
            line("e5", "r3", "recovery", dec!(20), "hours"),
        ];
        let found = long_responses(&lines);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].response.as_str(), found[0].minutes), ("r1", dec!(750)));
        assert_eq!(found[0].entries, vec!["e1".to_owned(), "e2".to_owned()]);
    }

    #[test]
    fn a_night_call_that_cuts_the_rest_below_eleven_hours_owes_the_difference() {
        // Tuesday 2026-11-10 in London (GMT): work 09:00–17:00 Monday and Tuesday.
        let windows = rest_windows(
            &london(),
            NaiveDate::from_ymd_opt(2026, 11, 9).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 11).unwrap(),
        );
        let tuesday = windows
            .iter()
            .find(|window| window.date == NaiveDate::from_ymd_opt(2026, 11, 10).unwrap())
            .copied()
            .unwrap();
        assert_eq!((tuesday.from, tuesday.to), (at("2026-11-09T17:00:00Z"), at("2026-11-10T09:00:00Z")));
        // 02:00–03:00: rest 17:00–02:00 (9 h) and 03:00–09:00 (6 h): 2 h owed.
        let call = WorkSpell { id: "r1".into(), start: at("2026-11-10T02:00:00Z"), end: at("2026-11-10T03:00:00Z") };
        let shortfall = rest_shortfall(tuesday, std::slice::from_ref(&call)).unwrap();
        assert_eq!((shortfall.longest_rest_minutes, shortfall.owed_minutes), (540, 120));
        assert_eq!(shortfall.work, vec!["r1".to_owned()]);
        // 20:00–21:00 leaves 21:00–09:00, twelve hours: nothing owed.
        let evening = WorkSpell { id: "r2".into(), start: at("2026-11-09T20:00:00Z"), end: at("2026-11-09T21:00:00Z") };
        assert_eq!(rest_shortfall(tuesday, &[evening]), None);
        assert_eq!(rest_shortfall(tuesday, &[]), None);
    }

    #[test]
    fn rest_windows_follow_local_time_across_dst_and_weekends() {
        // The clocks went forward on Sunday 2026-03-29: Monday's 09:00 is 08:00 UTC. Sunday
        // is no working day, so Monday's window opens 24 h before its start.
        let days = |from: u32, to: u32| {
            rest_windows(
                &london(),
                NaiveDate::from_ymd_opt(2026, 3, from).unwrap(),
                NaiveDate::from_ymd_opt(2026, 4, to).unwrap(),
            )
        };
        let windows = days(28, 1);
        assert_eq!(windows.len(), 2, "Saturday and Sunday lead into no working day");
        assert_eq!((windows[0].from, windows[0].to), (at("2026-03-29T08:00:00Z"), at("2026-03-30T08:00:00Z")));
        // Tuesday's: from Monday 17:00 BST to Tuesday 09:00 BST.
        assert_eq!((windows[1].from, windows[1].to), (at("2026-03-30T16:00:00Z"), at("2026-03-31T08:00:00Z")));
        // A call 02:00–03:00 BST on Tuesday leaves 9 h before and 6 h after: 2 h owed.
        let call = WorkSpell { id: "r".into(), start: at("2026-03-31T01:00:00Z"), end: at("2026-03-31T02:00:00Z") };
        let shortfall = rest_shortfall(windows[1], std::slice::from_ref(&call)).unwrap();
        assert_eq!((shortfall.longest_rest_minutes, shortfall.owed_minutes), (540, 120));
        // The same call on Sunday night leaves Sunday's 17 h before it: the rest was had.
        let sunday = WorkSpell { id: "r".into(), start: at("2026-03-30T01:00:00Z"), end: at("2026-03-30T02:00:00Z") };
        assert_eq!(rest_shortfall(windows[0], &[sunday]), None);
    }
}
