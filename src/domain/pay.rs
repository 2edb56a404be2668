//! Pricing: facts (pages, responses, shifts) in, priced lines out (PRODUCT.md "Pay rules").
//!
//! Policy:
//! - Pure functions: every input is an argument, nothing reads a clock or a database, so the
//!   same facts and policies always give the same lines in the same order.
//! - Durations are real elapsed seconds between UTC instants (fractions of a second are
//!   dropped first), classified on the person's local clock by [`WorkingCalendar::split`].
//! - Amounts are computed exactly in `Decimal` and rounded once per line, to the currency's
//!   minor unit, half away from zero. Totals are sums of lines, never re-rounded.
//! - A line belongs to a period by one instant (`occurred_at`): the page's `triggered_at` for
//!   callout and escalation, the response's start for response and recovery, the first
//!   covered instant of the local day for hourly and daily standby, the start of local date D
//!   for the night of D. Facts before the period are still needed: they feed escalation.
//!
//! Readings of PRODUCT.md that the rules leave open, fixed here:
//! - A person *responded to* a page when they logged a response on it or acknowledged it;
//!   each such page is one callout (one fee), whoever else worked on it.
//! - A callout whose fee is zero (business hours, by default) gets no line.
//! - Rounding and the minimum apply to each response (each logged stretch of work), and the
//!   seconds they add are paid at the multiplier of the response's start.
//! - A response is priced whole by the policy version in force on its start's local date.
//! - Escalation counts the person's out-of-hours callouts triggered in the last
//!   `window_days` × 24 h up to and including the page (ties on the instant ordered by page
//!   id); the `free_pages + 1`-th and later get an escalation line of fee × (factor − 1).
//! - Recovery hours come from the response's own minutes in the sleep window.
//! - Work is paid once: a person's overlapping works (logged responses, repeated or not, and
//!   default responses, on one page or on several pages at the same moment) are merged into
//!   one stretch covering their union ([`union_of_work`]), priced once (rounding, minimum and
//!   recovery included) on the line of the stretch's earliest work; its explanation names
//!   the works merged into it. Works that only touch stay apart.
//! - Overlapping pages: each page the person responded to is its own callout and earns its
//!   own fee (being called out twice is two interruptions), unless the policy sets
//!   `callout_cooldown_minutes`: then a page triggered less than that many minutes after a
//!   paid callout of the same person earns no fee, no escalation, and does not count
//!   towards escalation (default 0: off). Its response time is still paid, once.
//! - Standby: "the higher rate" between overlapping shifts is the one whose role has the
//!   higher `role_multipliers` entry (rates otherwise depend only on the day); a per-night
//!   night needs one shift to cover it, two shifts handing over at 02:00 do not. Which
//!   shift earns a night (a cut-off on the next day, or a minimum of hours from the shift's
//!   start): [`night`].

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(clippy::float_arithmetic, clippy::as_conversions)]

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::currency::Currency;
use super::policy::{PayPolicy, PolicyHistory, PolicyRef, StandbyMode};
use super::time_class::{DayClass, TimeClass, TimeClassSet, WorkingCalendar};

const SECONDS_PER_HOUR: i64 = 3600;

/// A responder as the engine prices them: the stored person (`storage::people::Person`)
/// reduced to what pay depends on, in one version of their zone and calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payee {
    /// The person's id, matched against `acknowledged_by`, `person_id`.
    pub id: String,
    /// The currency the person is paid in; every policy version must price in it.
    pub currency: Currency,
    /// Zone, working hours, weekend, holidays, sleep window.
    pub calendar: WorkingCalendar,
}

/// One paged event, as far as pay is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageFact {
    /// Page id.
    pub id: String,
    /// When the page fired; decides the callout fee's class.
    pub triggered_at: DateTime<Utc>,
    /// When it was acknowledged, if it was.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was resolved, if it was.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who acknowledged it, if anyone.
    pub acknowledged_by: Option<String>,
}

/// A logged response: someone's work on a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseFact {
    /// Response id.
    pub id: String,
    /// The page worked on.
    pub page_id: String,
    /// Who worked.
    pub person_id: String,
    /// Start of the work.
    pub started_at: DateTime<Utc>,
    /// End of the work.
    pub ended_at: DateTime<Utc>,
    /// Whether the page needed action (reported, not priced).
    pub actionable: bool,
}

/// A shift: a person on call over `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftFact {
    /// Shift id.
    pub id: String,
    /// Who is on call.
    pub person_id: String,
    /// `primary`, `secondary`, `backup`…; may carry a standby rate multiplier.
    pub role: String,
    /// Start of the shift.
    pub start: DateTime<Utc>,
    /// End of the shift (exclusive).
    pub end: DateTime<Utc>,
}

/// Everything known that may bear on one person's pay.
///
/// `responses` may hold every logged response on the pages, by anyone: only the person's own
/// are paid, the others tell whether anyone logged a response at all (if nobody did, the
/// acknowledger's acknowledge → resolve is the default response). Pages and responses from
/// the trailing escalation window before the period should be included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Pages the person acknowledged or responded to (others are ignored).
    pub pages: Vec<PageFact>,
    /// Logged responses on those pages.
    pub responses: Vec<ResponseFact>,
    /// Shifts (other people's are ignored).
    pub shifts: Vec<ShiftFact>,
}

/// What a line pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// The fee for being called out by a page.
    Callout,
    /// The premium on an escalated out-of-hours callout: fee × (factor − 1).
    Escalation,
    /// Time spent responding.
    Response,
    /// Recovery hours (time off in lieu); the amount is always zero.
    Recovery,
    /// Being on call.
    Standby,
    /// A manual adjustment finance posted (a bonus, a deduction, a correction); never
    /// priced by the engine (`domain::pay_run`).
    ManualAdjustment,
}

impl Component {
    /// Every component, in the order rows appear in every report.
    pub const ALL: [Component; 6] = [
        Component::Callout,
        Component::Escalation,
        Component::Response,
        Component::Recovery,
        Component::Standby,
        Component::ManualAdjustment,
    ];

    /// Parses the ledger's name of a component; `None` for anything else.
    pub fn parse(text: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|component| component.as_str() == text)
    }

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Callout => "callout",
            Component::Escalation => "escalation",
            Component::Response => "response",
            Component::Recovery => "recovery",
            Component::Standby => "standby",
            Component::ManualAdjustment => "manual_adjustment",
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit of a line's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantityUnit {
    /// A count of callouts.
    Count,
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Nights of standby.
    Nights,
}

impl QuantityUnit {
    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            QuantityUnit::Count => "count",
            QuantityUnit::Minutes => "minutes",
            QuantityUnit::Hours => "hours",
            QuantityUnit::Nights => "nights",
        }
    }
}

/// Which kind of fact a line prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    /// A page (callout, escalation, and a default response).
    Page,
    /// A logged response.
    Response,
    /// A shift.
    Shift,
}

impl FactKind {
    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Page => "page",
            FactKind::Response => "response",
            FactKind::Shift => "shift",
        }
    }
}

/// The fact a line prices.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FactRef {
    /// The fact's kind.
    pub kind: FactKind,
    /// The fact's id.
    pub id: String,
}

/// One priced line: what, how much, why, and by which policy version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// The person paid.
    pub person_id: String,
    /// What the line pays for.
    pub component: Component,
    /// How much of it (callouts, billable minutes, covered minutes, recovery hours, nights).
    pub quantity: Decimal,
    /// The unit of `quantity`.
    pub unit: QuantityUnit,
    /// The rate applied: a fee, an hourly rate, a daily or nightly standby rate.
    pub unit_rate: Decimal,
    /// The multiplier applied (for a response spanning several classes, the multiplier at its
    /// start; the explanation lists every part).
    pub multiplier: Decimal,
    /// The class that set the rate (callout, escalation, response, recovery).
    pub time_class: Option<TimeClass>,
    /// The class of the day or night (standby).
    pub day_class: Option<DayClass>,
    /// The amount, rounded once to the currency's minor unit; never negative.
    pub amount: Decimal,
    /// The currency of `amount`.
    pub currency: Currency,
    /// The fact priced.
    pub fact: FactRef,
    /// The page the line is paid for (callout, escalation, response, recovery), so that a
    /// page's full cost can be summed; `None` for standby.
    pub page_id: Option<String>,
    /// The policy version that priced it.
    pub policy: PolicyRef,
    /// The instant that places the line in a period.
    pub occurred_at: DateTime<Utc>,
    /// One line of plain language saying how the amount was computed.
    pub explanation: String,
}

/// Why facts could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// No policy version was in force on the local date of a fact.
    #[error("no pay policy version in force on {date} for {kind:?} `{id}`", kind = fact.kind, id = fact.id)]
    NoPolicyInForce {
        /// The local date looked up.
        date: NaiveDate,
        /// The fact being priced.
        fact: FactRef,
    },
    /// A policy version prices in another currency than the person is paid in.
    #[error("policy `{}` v{} prices in {policy_currency}, but the person is paid in {person_currency}", policy.id, policy.version)]
    CurrencyMismatch {
        /// The policy version.
        policy: PolicyRef,
        /// Its currency.
        policy_currency: Currency,
        /// The person's currency.
        person_currency: Currency,
    },
    /// A response or shift ends before it starts.
    #[error("{kind:?} `{id}` ends before it starts", kind = fact.kind, id = fact.id)]
    EndsBeforeStart {
        /// The fact.
        fact: FactRef,
    },
    /// An amount could not be computed within `Decimal`'s range: a rate, multiplier or
    /// duration beyond `domain::limits` (stored before the limits, or given to the engine
    /// directly). Names the person and the fact so the rest can still be priced.
    #[error("the {what} of {kind:?} `{id}` for person `{person}` overflows: a rate, multiplier or duration is out of bounds", kind = fact.kind, id = fact.id)]
    Overflow {
        /// The person priced.
        person: String,
        /// The fact priced.
        fact: FactRef,
        /// What was being computed (`response pay`, `escalation`, `standby`).
        what: &'static str,
    },
}

/// `a × b`, or the overflow error naming the person and the fact.
fn mul(a: Decimal, b: Decimal, overflow: &impl Fn() -> PricingError) -> Result<Decimal, PricingError> {
    a.checked_mul(b).ok_or_else(overflow)
}

/// `a + b`, or the overflow error.
fn add(a: Decimal, b: Decimal, overflow: &impl Fn() -> PricingError) -> Result<Decimal, PricingError> {
    a.checked_add(b).ok_or_else(overflow)
}

/// `a / b` (`b` ≠ 0), or the overflow error.
fn div(a: Decimal, b: Decimal, overflow: &impl Fn() -> PricingError) -> Result<Decimal, PricingError> {
    a.checked_div(b).ok_or_else(overflow)
}

fn overflow_of<'a>(person: &'a Payee, fact: &'a FactRef, what: &'static str) -> impl Fn() -> PricingError + 'a {
    move || PricingError::Overflow { person: person.id.clone(), fact: fact.clone(), what }
}

/// A stretch of work to price as a response: a logged response, or the default
/// acknowledge → resolve of the acknowledger when nobody logged one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    /// The response (or, for a default response, the page) it comes from.
    pub fact: FactRef,
    /// The page worked on.
    pub page_id: String,
    /// Start of the work.
    pub started_at: DateTime<Utc>,
    /// End of the work.
    pub ended_at: DateTime<Utc>,
}

/// Prices everything for `person` over `[from, to)`: callouts, escalation premiums,
/// responses, recovery hours and standby, ordered by `occurred_at`, then component, then
/// fact. `facts` may hold more than the period (and other people's shifts).
pub fn price_period(
    person: &Payee,
    facts: &Facts,
    policies: &PolicyHistory,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PricedLine>, PricingError> {
    let mut lines = price_callouts(person, facts, policies, from, to)?;
    lines.extend(price_responses(person, facts, policies, from, to)?);
    lines.extend(price_standby(person, &facts.shifts, policies, from, to)?);
    sort_lines(&mut lines);
    Ok(lines)
}

/// Sorts lines into the stable order of [`price_period`].
pub fn sort_lines(lines: &mut [PricedLine]) {
    lines.sort_by(|a, b| {
        (a.occurred_at, a.component, &a.fact, &a.explanation).cmp(&(
            b.occurred_at,
            b.component,
            &b.fact,
            &b.explanation,
        ))
    });
}

/// Callout and escalation lines for the pages `person` responded to (logged a response on,
/// or acknowledged) triggered in `[from, to)`.
pub fn price_callouts(
    person: &Payee,
    facts: &Facts,
    policies: &PolicyHistory,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PricedLine>, PricingError> {
    let calendar = &person.calendar;
    let responded: BTreeSet<&str> = facts
        .responses
        .iter()
        .filter(|response| response.person_id == person.id)
        .map(|response| response.page_id.as_str())
        .collect();
    let mut callouts: Vec<&PageFact> = facts
        .pages
        .iter()
        .filter(|page| {
            responded.contains(page.id.as_str()) || page.acknowledged_by.as_deref() == Some(person.id.as_str())
        })
        .collect();
    callouts.sort_by(|a, b| (a.triggered_at, &a.id).cmp(&(b.triggered_at, &b.id)));
    // A page delivered twice is one callout: keep its earliest copy.
    let mut seen = BTreeSet::new();
    callouts.retain(|page| seen.insert(page.id.as_str()));
    // Cooldown: a page within the policy's cooldown after a paid callout is part of that
    // callout: no fee, no escalation, and it does not count towards escalation.
    let cooled = cooled_pages(person, &callouts, policies);
    callouts.retain(|page| !cooled.contains(page.id.as_str()));
    // Out-of-hours callouts in time order: the escalation count runs over these.
    let out_of_hours: Vec<(DateTime<Utc>, &str)> = callouts
        .iter()
        .filter(|page| calendar.classes_at(page.triggered_at).is_out_of_hours())
        .map(|page| (page.triggered_at, page.id.as_str()))
        .collect();

    let mut lines = Vec::new();
    for page in callouts.iter().filter(|page| from <= page.triggered_at && page.triggered_at < to) {
        let fact = FactRef { kind: FactKind::Page, id: page.id.clone() };
        let policy = policy_at(person, policies, page.triggered_at, &fact)?;
        let classes = calendar.classes_at(page.triggered_at);
        let Some((class, fee)) = policy.callout_fee.highest(classes) else {
            continue;
        };
        // A zero fee (business hours by default) is not worth a line: the response line
        // already records the page.
        if fee.is_zero() {
            continue;
        }
        let context = context(calendar, page.triggered_at, classes);
        let line = |component, unit_rate, multiplier, amount, explanation| PricedLine {
            person_id: person.id.clone(),
            component,
            quantity: Decimal::ONE,
            unit: QuantityUnit::Count,
            unit_rate,
            multiplier,
            time_class: Some(class),
            day_class: None,
            amount,
            currency: policy.currency,
            fact: fact.clone(),
            page_id: Some(page.id.clone()),
            policy: policy.reference(),
            occurred_at: page.triggered_at,
            explanation,
        };
        let amount = money(policy.currency, fee);
        lines.push(line(
            Component::Callout,
            fee,
            Decimal::ONE,
            amount,
            format!("{context}: callout {fee} × 1 ({class} fee) = {amount}"),
        ));

        if !classes.is_out_of_hours() {
            continue;
        }
        // Rank of this page among the out-of-hours callouts of the trailing window
        // `(triggered_at − window, triggered_at]`, itself included: 1 for the first.
        let window_start = TimeDelta::try_days(policy.escalation.window_days)
            .and_then(|window| page.triggered_at.checked_sub_signed(window))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let key = (page.triggered_at, page.id.as_str());
        let up_to_page = out_of_hours.partition_point(|entry| *entry <= key);
        let before_window = out_of_hours.partition_point(|(at, _)| *at <= window_start);
        let rank = i64::try_from(up_to_page.saturating_sub(before_window)).unwrap_or(i64::MAX);
        if rank <= policy.escalation.free_pages {
            continue;
        }
        let premium_factor = policy.escalation.factor - Decimal::ONE;
        let amount = money(policy.currency, mul(fee, premium_factor, &overflow_of(person, &fact, "escalation"))?);
        if amount.is_zero() {
            continue;
        }
        lines.push(line(
            Component::Escalation,
            fee,
            premium_factor,
            amount,
            format!(
                "{context}: escalation, out-of-hours page {rank} in {days} days ({free} free): callout {fee} × ({factor} − 1) = {amount}",
                days = policy.escalation.window_days,
                free = policy.escalation.free_pages,
                factor = policy.escalation.factor,
            ),
        ));
    }
    Ok(lines)
}

/// The pages (of `callouts`, in time order) that earn no fee under their policy's
/// `callout_cooldown_minutes`: triggered less than that many minutes after the last paid
/// callout (a non-zero fee) of the person. A page no policy prices is skipped here (pricing
/// it reports the error).
fn cooled_pages<'a>(person: &Payee, callouts: &[&'a PageFact], policies: &PolicyHistory) -> BTreeSet<&'a str> {
    let calendar = &person.calendar;
    let mut cooled = BTreeSet::new();
    let mut last_paid: Option<DateTime<Utc>> = None;
    for page in callouts {
        let Some(policy) = policies.in_force_on(calendar.local(page.triggered_at).date()) else {
            continue;
        };
        let fee = policy.callout_fee.highest(calendar.classes_at(page.triggered_at)).map(|(_, fee)| fee);
        if fee.is_none_or(|fee| fee.is_zero()) {
            continue;
        }
        let cooldown = TimeDelta::try_minutes(policy.callout_cooldown_minutes).unwrap_or(TimeDelta::zero());
        match last_paid {
            Some(paid_at) if cooldown > TimeDelta::zero() && page.triggered_at - paid_at < cooldown => {
                cooled.insert(page.id.as_str());
            }
            _ => last_paid = Some(page.triggered_at),
        }
    }
    cooled
}

/// Response and recovery lines for `person`'s work started in `[from, to)`: their logged
/// responses, and the default response (acknowledge → resolve) of every page they
/// acknowledged on which nobody logged a response.
pub fn price_responses(
    person: &Payee,
    facts: &Facts,
    policies: &PolicyHistory,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PricedLine>, PricingError> {
    let works = works_of(&person.id, facts);
    let mut lines = Vec::new();
    for stretch in union_of_work(works)? {
        if from <= stretch.work.started_at && stretch.work.started_at < to {
            let policy = policy_at(person, policies, stretch.work.started_at, &stretch.work.fact)?;
            lines.extend(price_stretch(person, policy, &stretch.work, &stretch.merged)?);
        }
    }
    Ok(lines)
}

/// `person_id`'s works: their logged responses, and the default response (acknowledge →
/// resolve) of every page they acknowledged on which nobody logged a response. A fact
/// delivered twice is one work.
fn works_of(person_id: &str, facts: &Facts) -> Vec<Work> {
    let logged: BTreeSet<&str> = facts.responses.iter().map(|response| response.page_id.as_str()).collect();
    let own = facts.responses.iter().filter(|response| response.person_id == person_id).map(|response| Work {
        fact: FactRef { kind: FactKind::Response, id: response.id.clone() },
        page_id: response.page_id.clone(),
        started_at: response.started_at,
        ended_at: response.ended_at,
    });
    let defaults = facts
        .pages
        .iter()
        .filter(|page| page.acknowledged_by.as_deref() == Some(person_id) && !logged.contains(page.id.as_str()))
        .filter_map(|page| {
            Some(Work {
                fact: FactRef { kind: FactKind::Page, id: page.id.clone() },
                page_id: page.id.clone(),
                started_at: page.acknowledged_at?,
                ended_at: page.resolved_at?,
            })
        });
    // A fact delivered twice is priced once: keep one copy per id, the same one whatever
    // the input order.
    let mut works: Vec<Work> = own.chain(defaults).collect();
    works.sort_by(|a, b| {
        (&a.fact, a.started_at, a.ended_at, &a.page_id).cmp(&(&b.fact, b.started_at, b.ended_at, &b.page_id))
    });
    works.dedup_by(|a, b| a.fact == b.fact);
    works
}

/// The start of the stretch of `person_id`'s work that runs across `at` (started before
/// it, ends after it), if any. Its line sits at its start, so a change to work at or after
/// `at` can re-price a line before `at`: re-pricing from `at` must start there instead.
pub fn stretch_start_across(
    person_id: &str,
    facts: &Facts,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, PricingError> {
    // A stretch runs across `at` only if one of its works does (works that only touch
    // stay apart): most passes find none and build no stretch.
    let across = |started: DateTime<Utc>, ended: DateTime<Utc>| started < at && at < ended;
    let any_across = facts
        .responses
        .iter()
        .any(|response| response.person_id == person_id && across(response.started_at, response.ended_at))
        || facts.pages.iter().any(|page| {
            page.acknowledged_by.as_deref() == Some(person_id)
                && page.acknowledged_at.zip(page.resolved_at).is_some_and(|(started, ended)| across(started, ended))
        });
    if !any_across {
        return Ok(None);
    }
    Ok(union_of_work(works_of(person_id, facts))?
        .into_iter()
        .find(|stretch| stretch.work.started_at < at && at < stretch.work.ended_at)
        .map(|stretch| stretch.work.started_at))
}

/// One stretch of a person's work: overlapping works merged, led by the earliest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch {
    /// The leading work (its fact and page identify the line), spanning the whole union.
    pub work: Work,
    /// The other works merged into it, in time order.
    pub merged: Vec<FactRef>,
}

/// Work is paid once: a person's works (logged responses and default responses, on one page
/// or on several) that overlap in time are merged into one stretch covering their union,
/// so no second is paid twice. Works that only touch (one ends as the next starts) stay
/// apart. A stretch is led by its earliest work (then the longest, then the lowest fact),
/// whose fact and page the lines carry; rounding, the minimum and recovery apply once per
/// stretch. Fractions of a second are dropped first, as in [`price_work`].
pub fn union_of_work(works: Vec<Work>) -> Result<Vec<Stretch>, PricingError> {
    let mut works: Vec<Work> = works
        .into_iter()
        .map(|work| Work {
            started_at: work.started_at.trunc_subsecs(0),
            ended_at: work.ended_at.trunc_subsecs(0),
            ..work
        })
        .collect();
    if let Some(backwards) = works.iter().find(|work| work.ended_at < work.started_at) {
        return Err(PricingError::EndsBeforeStart { fact: backwards.fact.clone() });
    }
    works.sort_by(|a, b| {
        (a.started_at, std::cmp::Reverse(a.ended_at), &a.fact).cmp(&(
            b.started_at,
            std::cmp::Reverse(b.ended_at),
            &b.fact,
        ))
    });
    let mut stretches: Vec<Stretch> = Vec::new();
    for work in works {
        match stretches.last_mut() {
            Some(last) if work.started_at < last.work.ended_at || work.started_at == last.work.started_at => {
                last.work.ended_at = last.work.ended_at.max(work.ended_at);
                last.merged.push(work.fact);
            }
            _ => stretches.push(Stretch { work, merged: Vec::new() }),
        }
    }
    Ok(stretches)
}

/// The response line, and the recovery line if the work touched the sleep window, for one
/// stretch of work priced by `policy`.
///
/// Each real second is paid at the hourly rate × the highest multiplier of its classes; the
/// elapsed time is rounded up to the increment, raised to the minimum, and the seconds so
/// added are paid at the multiplier of the work's start.
pub fn price_work(person: &Payee, policy: &PayPolicy, work: &Work) -> Result<Vec<PricedLine>, PricingError> {
    price_stretch(person, policy, work, &[])
}

/// [`price_work`] for a stretch that merged other works (named in the explanation).
fn price_stretch(
    person: &Payee,
    policy: &PayPolicy,
    work: &Work,
    merged: &[FactRef],
) -> Result<Vec<PricedLine>, PricingError> {
    let calendar = &person.calendar;
    let (start, end) = (work.started_at.trunc_subsecs(0), work.ended_at.trunc_subsecs(0));
    if end < start {
        return Err(PricingError::EndsBeforeStart { fact: work.fact.clone() });
    }
    let start_classes = calendar.classes_at(start);
    let (start_class, start_multiplier) =
        policy.response_multiplier.highest(start_classes).unwrap_or((TimeClass::Business, Decimal::ONE));

    let overflow = overflow_of(person, &work.fact, "response pay");
    let mut weighted_seconds = Decimal::ZERO;
    let mut night_seconds = 0_i64;
    let mut parts: Vec<(i64, TimeClass, Decimal)> = Vec::new();
    for segment in calendar.split(start, end) {
        let (class, multiplier) =
            policy.response_multiplier.highest(segment.classes).unwrap_or((TimeClass::Business, Decimal::ONE));
        weighted_seconds =
            add(weighted_seconds, mul(multiplier, Decimal::from(segment.seconds()), &overflow)?, &overflow)?;
        if segment.classes.contains(TimeClass::Night) {
            night_seconds += segment.seconds();
        }
        match parts.last_mut() {
            Some(last) if last.1 == class && last.2 == multiplier => last.0 += segment.seconds(),
            _ => parts.push((segment.seconds(), class, multiplier)),
        }
    }

    let elapsed_seconds = (end - start).num_seconds();
    let increment_seconds = policy.rounding_increment_minutes.saturating_mul(60).max(1);
    let rounded_seconds = ceil_to(elapsed_seconds, increment_seconds);
    let billable_seconds = rounded_seconds.max(policy.minimum_billable_minutes.saturating_mul(60));
    let extra_seconds = billable_seconds - elapsed_seconds;
    let rate = policy.response_rate_per_hour;
    let extra_weighted = mul(start_multiplier, Decimal::from(extra_seconds), &overflow)?;
    let exact = div(
        mul(rate, add(weighted_seconds, extra_weighted, &overflow)?, &overflow)?,
        Decimal::from(SECONDS_PER_HOUR),
        &overflow,
    )?;
    let amount = money(policy.currency, exact);

    let context = context(calendar, start, start_classes);
    let span = format!("{}–{}", calendar.local(start).format("%H:%M"), calendar.local(end).format("%H:%M"));
    let what = match work.fact.kind {
        FactKind::Page => "default response (acknowledged → resolved)",
        _ => "response",
    };
    let union = if merged.is_empty() {
        String::new()
    } else {
        let listed: Vec<String> = merged
            .iter()
            .map(|fact| match fact.kind {
                FactKind::Page => format!("default response of page {}", fact.id),
                _ => format!("response {}", fact.id),
            })
            .collect();
        format!(" (paid once with the overlapping {})", listed.join(", "))
    };
    let mixed = parts.len() > 1;
    let pricing = if mixed {
        let listed: Vec<String> = parts
            .iter()
            .map(|(seconds, class, multiplier)| format!("{} {class} × {multiplier}", duration(*seconds)))
            .collect();
        format!(
            "({}) → {} billable at {rate}/h, the {} added × {start_multiplier}",
            listed.join(", "),
            duration(billable_seconds),
            duration(extra_seconds)
        )
    } else {
        format!("→ {} billable at {rate}/h × {start_multiplier}", duration(billable_seconds))
    };
    let billable_minutes = Decimal::from(billable_seconds) / Decimal::from(60);
    let mut lines = vec![PricedLine {
        person_id: person.id.clone(),
        component: Component::Response,
        quantity: billable_minutes.normalize(),
        unit: QuantityUnit::Minutes,
        unit_rate: rate,
        multiplier: start_multiplier,
        time_class: Some(start_class),
        day_class: None,
        amount,
        currency: policy.currency,
        fact: work.fact.clone(),
        page_id: Some(work.page_id.clone()),
        policy: policy.reference(),
        occurred_at: work.started_at,
        explanation: format!("{context}: {what} {span}{union} = {} {pricing} = {amount}", duration(elapsed_seconds)),
    }];

    if policy.recovery.enabled && night_seconds > 0 {
        let hours = (ceil_to(night_seconds, SECONDS_PER_HOUR) / SECONDS_PER_HOUR).max(policy.recovery.minimum_hours);
        lines.push(PricedLine {
            person_id: person.id.clone(),
            component: Component::Recovery,
            quantity: Decimal::from(hours),
            unit: QuantityUnit::Hours,
            unit_rate: Decimal::ZERO,
            multiplier: Decimal::ONE,
            time_class: Some(TimeClass::Night),
            day_class: None,
            amount: money(policy.currency, Decimal::ZERO),
            currency: policy.currency,
            fact: work.fact.clone(),
            page_id: Some(work.page_id.clone()),
            policy: policy.reference(),
            occurred_at: work.started_at,
            explanation: format!(
                "{context}: recovery {hours} h ({} at night, rounded up to whole hours, at least {} h)",
                duration(night_seconds),
                policy.recovery.minimum_hours
            ),
        });
    }
    Ok(lines)
}

/// Standby lines for `person`'s shifts over `[from, to)`: one line per shift and local day
/// (per hour / per day), or per night. Where the person's shifts overlap, each second (or
/// night) is paid once, to the shift whose role pays more (the earlier shift on a tie).
pub fn price_standby(
    person: &Payee,
    shifts: &[ShiftFact],
    policies: &PolicyHistory,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PricedLine>, PricingError> {
    let calendar = &person.calendar;
    let mut own: Vec<ShiftFact> = Vec::new();
    for shift in shifts.iter().filter(|shift| shift.person_id == person.id) {
        let (start, end) = (shift.start.trunc_subsecs(0), shift.end.trunc_subsecs(0));
        if end < start {
            return Err(PricingError::EndsBeforeStart { fact: shift_ref(shift) });
        }
        if end > start {
            own.push(ShiftFact { start, end, ..shift.clone() });
        }
    }
    // A shift delivered twice is one shift; overlapping *different* shifts are resolved
    // per second below.
    own.sort_by(|a, b| (&a.id, a.start, a.end, &a.role).cmp(&(&b.id, b.start, b.end, &b.role)));
    own.dedup_by(|a, b| a.id == b.id);
    own.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    let (Some(first_start), Some(last_end)) =
        (own.iter().map(|shift| shift.start).min(), own.iter().map(|shift| shift.end).max())
    else {
        return Ok(Vec::new());
    };
    if from >= to {
        return Ok(Vec::new());
    }
    let first_day = calendar.local(first_start.max(from)).date();
    let last_day = calendar.local(last_end.min(to)).date();
    let first_day = first_day.pred_opt().unwrap_or(first_day);

    let mut lines = Vec::new();
    for date in first_day.iter_days().take_while(|date| *date <= last_day) {
        let (day_start, day_end) = calendar.day_bounds(date);
        let touching: Vec<&ShiftFact> =
            own.iter().filter(|shift| shift.start < day_end && day_start < shift.end).collect();
        // A night's window may reach into the next day (a minimum-hours rule whose boundary
        // is after midnight): shifts of D and D+1 are its candidates.
        let next_end = date.succ_opt().map(|next| calendar.day_bounds(next).1).unwrap_or(day_end);
        let near: Vec<&ShiftFact> =
            own.iter().filter(|shift| shift.start < next_end && day_start < shift.end).collect();
        let Some(first) = touching.first().or(near.first()) else {
            continue;
        };
        let day_fact = FactRef { kind: FactKind::Shift, id: first.id.clone() };
        let policy = match policy_on(person, policies, date, &day_fact) {
            Ok(policy) => policy,
            // Only a shift of the next day: that day's own pricing reports the missing policy.
            Err(_) if touching.is_empty() => continue,
            Err(error) => return Err(error),
        };
        match policy.standby.mode {
            StandbyMode::PerNight => {
                if from <= day_start && day_start < to {
                    lines.extend(price_night(person, policy, date, &near)?);
                }
            }
            StandbyMode::PerHour | StandbyMode::PerDay => {
                let window = (day_start.max(from), day_end.min(to));
                lines.extend(price_standby_day(person, policy, date, window, &touching)?);
            }
        }
    }
    Ok(lines)
}

/// Hourly or daily standby for local date `date`, within `window` (the day clipped to the
/// period).
fn price_standby_day(
    person: &Payee,
    policy: &PayPolicy,
    date: NaiveDate,
    window: (DateTime<Utc>, DateTime<Utc>),
    shifts: &[&ShiftFact],
) -> Result<Vec<PricedLine>, PricingError> {
    let calendar = &person.calendar;
    let (low, high) = window;
    if low >= high {
        return Ok(Vec::new());
    }
    let (day_start, day_end) = calendar.day_bounds(date);
    let day_seconds = (day_end - day_start).num_seconds();
    let standby = &policy.standby;

    // Cut the day at every shift edge; each piece goes to the best-paying shift covering it.
    let mut edges: Vec<DateTime<Utc>> = vec![low, high];
    for shift in shifts {
        edges.extend([shift.start, shift.end].into_iter().filter(|at| low < *at && *at < high));
    }
    edges.sort_unstable();
    edges.dedup();
    let excluded: Vec<(DateTime<Utc>, DateTime<Utc>)> = if standby.exclude_working_hours {
        calendar
            .split(low, high)
            .into_iter()
            .filter(|segment| segment.classes.contains(TimeClass::Business))
            .map(|segment| (segment.start, segment.end))
            .collect()
    } else {
        Vec::new()
    };
    // shift index → (paid seconds, first paid instant)
    let mut paid: BTreeMap<usize, (i64, DateTime<Utc>)> = BTreeMap::new();
    for pair in edges.windows(2) {
        let &[piece_start, piece_end] = pair else {
            continue;
        };
        let Some(best) = best_shift(standby, shifts, |shift| shift.start <= piece_start && piece_end <= shift.end)
        else {
            continue;
        };
        let overlap_excluded: i64 =
            excluded.iter().map(|(s, e)| (piece_end.min(*e) - piece_start.max(*s)).num_seconds().max(0)).sum();
        let seconds = (piece_end - piece_start).num_seconds() - overlap_excluded;
        if seconds > 0 {
            let entry = paid.entry(best).or_insert((0, piece_start));
            entry.0 += seconds;
        }
    }

    let day_class = calendar.day_class(date);
    let rate = standby.rates.get(day_class);
    let mut lines = Vec::new();
    for (index, (seconds, first_paid)) in paid {
        let Some(shift) = shifts.get(index) else {
            continue;
        };
        let multiplier = standby.role_multiplier(&shift.role);
        let (divisor, per) = match standby.mode {
            StandbyMode::PerDay => (day_seconds, format!("day of {}", duration(day_seconds))),
            _ => (SECONDS_PER_HOUR, "h".to_owned()),
        };
        let fact = shift_ref(shift);
        let overflow = overflow_of(person, &fact, "standby");
        let exact = div(
            mul(mul(rate, multiplier, &overflow)?, Decimal::from(seconds), &overflow)?,
            Decimal::from(divisor.max(1)),
            &overflow,
        )?;
        let amount = money(policy.currency, exact);
        let minutes = (Decimal::from(seconds) / Decimal::from(60)).round_dp(4).normalize();
        let excluding = if standby.exclude_working_hours { ", working hours excluded" } else { "" };
        lines.push(PricedLine {
            person_id: person.id.clone(),
            component: Component::Standby,
            quantity: minutes,
            unit: QuantityUnit::Minutes,
            unit_rate: rate,
            multiplier,
            time_class: None,
            day_class: Some(day_class),
            amount,
            currency: policy.currency,
            fact: shift_ref(shift),
            page_id: None,
            policy: policy.reference(),
            occurred_at: first_paid,
            explanation: format!(
                "{} {} ({}): standby ({}) {} on call{excluding} at {rate}/{per} × {multiplier} = {amount}",
                date.format("%a %Y-%m-%d"),
                calendar.zone.name(),
                day_class.as_str(),
                shift.role,
                duration(seconds),
            ),
        });
    }
    Ok(lines)
}

/// The night of local date `date`: paid once when a shift earns it by the policy's night
/// rule ([`night::NightRule`]).
fn price_night(
    person: &Payee,
    policy: &PayPolicy,
    date: NaiveDate,
    shifts: &[&ShiftFact],
) -> Result<Option<PricedLine>, PricingError> {
    let calendar = &person.calendar;
    let standby = &policy.standby;
    let day_start = calendar.day_start(date);
    let rule = night::NightRule::of(standby);
    let Some(index) = best_shift(standby, shifts, |shift| rule.earns(calendar, date, shift.start, shift.end)) else {
        return Ok(None);
    };
    let Some(shift) = shifts.get(index) else { return Ok(None) };
    let day_class = if calendar.holidays.contains(&date) {
        DayClass::Holiday
    } else if standby.weekend_nights.contains(&date.weekday()) {
        DayClass::Weekend
    } else {
        DayClass::Weekday
    };
    let rate = standby.rates.get(day_class);
    let multiplier = standby.role_multiplier(&shift.role);
    let fact = shift_ref(shift);
    let amount = money(policy.currency, mul(rate, multiplier, &overflow_of(person, &fact, "standby"))?);
    Ok(Some(PricedLine {
        person_id: person.id.clone(),
        component: Component::Standby,
        quantity: Decimal::ONE,
        unit: QuantityUnit::Nights,
        unit_rate: rate,
        multiplier,
        time_class: None,
        day_class: Some(day_class),
        amount,
        currency: policy.currency,
        fact: shift_ref(shift),
        page_id: None,
        policy: policy.reference(),
        occurred_at: day_start,
        explanation: format!(
            "night of {} {} ({} night): standby ({}) on call {} at {rate}/night × {multiplier} = {amount}",
            date.format("%a %Y-%m-%d"),
            calendar.zone.name(),
            day_class.as_str(),
            shift.role,
            rule.describe(date),
        ),
    }))
}

/// Index of the best-paying shift among those `covering`: the highest role multiplier, then
/// the earliest (shifts are sorted by start, then id).
fn best_shift(
    standby: &super::policy::StandbyRule,
    shifts: &[&ShiftFact],
    covering: impl Fn(&ShiftFact) -> bool,
) -> Option<usize> {
    shifts
        .iter()
        .enumerate()
        .filter(|(_, shift)| covering(shift))
        .max_by(|(a_index, a), (b_index, b)| {
            standby.role_multiplier(&a.role).cmp(&standby.role_multiplier(&b.role)).then_with(|| b_index.cmp(a_index))
        })
        .map(|(index, _)| index)
}

fn shift_ref(shift: &ShiftFact) -> FactRef {
    FactRef { kind: FactKind::Shift, id: shift.id.clone() }
}

fn policy_at<'a>(
    person: &Payee,
    policies: &'a PolicyHistory,
    instant: DateTime<Utc>,
    fact: &FactRef,
) -> Result<&'a PayPolicy, PricingError> {
    policy_on(person, policies, person.calendar.local(instant).date(), fact)
}

fn policy_on<'a>(
    person: &Payee,
    policies: &'a PolicyHistory,
    date: NaiveDate,
    fact: &FactRef,
) -> Result<&'a PayPolicy, PricingError> {
    let policy =
        policies.in_force_on(date).ok_or_else(|| PricingError::NoPolicyInForce { date, fact: fact.clone() })?;
    if policy.currency != person.currency {
        return Err(PricingError::CurrencyMismatch {
            policy: policy.reference(),
            policy_currency: policy.currency,
            person_currency: person.currency,
        });
    }
    Ok(policy)
}

/// Rounds once to the minor unit and shows every minor digit (`60.00`, not `60`).
fn money(currency: Currency, exact: Decimal) -> Decimal {
    let mut amount = currency.round(exact);
    amount.rescale(currency.minor_unit_exponent());
    amount
}

/// `value` rounded up to a multiple of `step` (`step` > 0, `value` ≥ 0).
fn ceil_to(value: i64, step: i64) -> i64 {
    let step = step.max(1);
    match (value % step).cmp(&0) {
        Ordering::Greater => value - value % step + step,
        _ => value,
    }
}

/// `51 min`, or `51 min 20 s` when seconds remain.
fn duration(seconds: i64) -> String {
    match seconds % 60 {
        0 => format!("{} min", seconds / 60),
        rest => format!("{} min {rest} s", seconds / 60),
    }
}

/// `Sat 02:14 Europe/London (night, weekend)`.
fn context(calendar: &WorkingCalendar, instant: DateTime<Utc>, classes: TimeClassSet) -> String {
    format!("{} {} ({classes})", calendar.local(instant).format("%a %H:%M"), calendar.zone.name())
}

/// The one-line story of a page from its lines (callout, escalation, response, recovery),
/// e.g. `Sat 02:14 Europe/London (night, weekend): callout 50.00 × 1 (weekend fee) = 50.00 ·
/// response 02:14–03:05 = 51 min → 60 min billable at 30.00/h × 2.0 = 60.00 · recovery 2 h
/// (…)`. The context of the first line leads; each line then gives its own part. `None` when
/// no line is about the page.
pub fn explain_page(lines: &[PricedLine], page_id: &str) -> Option<String> {
    let mut about: Vec<&PricedLine> = lines.iter().filter(|line| line.page_id.as_deref() == Some(page_id)).collect();
    about.sort_by(|a, b| (a.occurred_at, a.component, &a.fact).cmp(&(b.occurred_at, b.component, &b.fact)));
    let (context, _) = about.first()?.explanation.split_once("): ")?;
    let parts: Vec<&str> =
        about.iter().filter_map(|line| line.explanation.split_once("): ").map(|(_, part)| part)).collect();
    Some(format!("{context}): {}", parts.join(" · ")))
}

/// Sum of the amounts of `lines` per currency: totals are sums of lines, never re-rounded,
/// and amounts in different currencies are never added together.
pub fn totals_by_currency(lines: &[PricedLine]) -> BTreeMap<Currency, Decimal> {
    let mut totals = BTreeMap::new();
    for line in lines {
        *totals.entry(line.currency).or_insert(Decimal::ZERO) += line.amount;
    }
    totals
}

pub mod night;

#[cfg(test)]
mod tests;
