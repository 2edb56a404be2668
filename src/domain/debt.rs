//! The reliability-debt model of PRODUCT.md: what each page cost the organisation, not only
//! what was paid for it, and the aggregates management reads.
//!
//! Pure functions over plain inputs: the caller loads pages, response work, ledger amounts and
//! cost rates, and classifies each page (night, out of hours) in the responder's zone.
//!
//! Definitions (decisions recorded here so the API, the CLI and the dashboard agree):
//!
//! - The responders of a page are exactly the people with a [`DebtWork`] row for it. Where nobody
//!   logged a response, PRODUCT.md's default response (acknowledge → resolve by the acknowledger)
//!   is the caller's to supply as a `DebtWork`; this module never guesses who was interrupted, so
//!   a page without work carries no interruption overhead.
//! - One interruption overhead per responder per page, however many responses they logged.
//! - A responder's loaded hourly cost is their own rate, else their page team's default, else
//!   the `"*"` default. A responder with none is reported in [`DebtReport::missing_rates`] and
//!   adds nothing to the time parts (never silently priced at a made-up rate). So is a
//!   responder whose cost overflows `Decimal` (a rate stored before `domain::limits`): the
//!   arithmetic is checked, the model never panics; sums of rounded parts saturate.
//! - Each part is rounded once to the currency's minor unit, half away from zero, after summing
//!   its unrounded terms; `total` is the sum of the rounded parts and is never re-rounded.
//! - Amounts in different currencies are never added: a page yields one [`PageDebt`] per
//!   currency among its ledger amounts and its responders' rates. A page with neither yields one
//!   zero debt in the default currency (team default, else `"*"`), so it is still counted in the
//!   page counts; without any default it yields nothing.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::domain::currency::Currency;
use crate::domain::page::Lane;
use crate::domain::time_class::{TimeClass, WorkingCalendar};
use crate::domain::timestamp::{rfc3339, rfc3339_option};

/// PRODUCT.md's default interruption overhead: 15 minutes of lost focus per page per responder.
pub const DEFAULT_INTERRUPTION_OVERHEAD_MINUTES: Decimal = Decimal::from_parts(15, 0, 0, false, 0);

/// The key of the catch-all default hourly cost in [`CostRates::default_hourly_cost`].
pub const ANY_TEAM: &str = "*";

/// The group key of pages without an alert key.
pub const NO_ALERT_KEY: &str = "(no alert key)";

/// The group key of pages of un-owned services (no team).
pub const UNOWNED: &str = "(un-owned)";

/// One page, as the debt model and the health signals need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebtPage {
    /// The page's id.
    pub id: String,
    /// What repeats (dedup key / fingerprint / alert name), if known.
    pub alert_key: Option<String>,
    /// The service paged for.
    pub service: String,
    /// The team owning the service; `None` = un-owned.
    pub team: Option<String>,
    /// When the page was triggered.
    #[serde(with = "rfc3339")]
    pub triggered_at: DateTime<Utc>,
    /// When it was acknowledged, if it was.
    #[serde(with = "rfc3339_option", default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was resolved, if it was.
    #[serde(with = "rfc3339_option", default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// `wake` or `later`.
    pub lane: String,
    /// `true` if any response says actionable, `false` if all say not, `None` if none logged.
    pub actionable: Option<bool>,
    /// Triggered inside the responder's sleep window (classified by the caller).
    pub night: bool,
    /// Triggered in any time class but `business` (classified by the caller).
    pub out_of_hours: bool,
}

/// One person's response work on a page (summed or not: rows of one person are added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebtWork {
    /// The page worked on.
    pub page_id: String,
    /// The responder.
    pub person: String,
    /// Real response minutes.
    pub minutes: Decimal,
    /// Recovery hours granted for this work.
    pub recovery_hours: Decimal,
}

/// What was paid for a page in one currency (callout + response + escalation, from the ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebtPaid {
    /// The page paid for.
    pub page_id: String,
    /// The currency of the amount.
    pub currency: Currency,
    /// The amount paid.
    pub amount: Decimal,
}

/// An organisation's cost rates for the debt model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostRates {
    /// Loaded hourly cost per person.
    pub loaded_hourly_cost: BTreeMap<String, (Currency, Decimal)>,
    /// Default loaded hourly cost per team, with [`ANY_TEAM`] as the catch-all.
    pub default_hourly_cost: BTreeMap<String, (Currency, Decimal)>,
    /// Interruption overhead per responder per page, in minutes.
    pub interruption_overhead_minutes: Decimal,
}

impl Default for CostRates {
    fn default() -> Self {
        CostRates {
            loaded_hourly_cost: BTreeMap::new(),
            default_hourly_cost: BTreeMap::new(),
            interruption_overhead_minutes: DEFAULT_INTERRUPTION_OVERHEAD_MINUTES,
        }
    }
}

impl CostRates {
    /// The loaded hourly cost of `person` on a page of `team`: own rate, team default, `"*"`.
    pub fn rate_for(&self, person: &str, team: Option<&str>) -> Option<(Currency, Decimal)> {
        self.loaded_hourly_cost.get(person).copied().or_else(|| self.default_for(team))
    }

    /// The default rate of `team`, else the catch-all.
    fn default_for(&self, team: Option<&str>) -> Option<(Currency, Decimal)> {
        team.and_then(|team| self.default_hourly_cost.get(team))
            .or_else(|| self.default_hourly_cost.get(ANY_TEAM))
            .copied()
    }
}

/// The reliability-debt cost of one page in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageDebt {
    /// The page.
    pub page_id: String,
    /// The currency of every amount below.
    pub currency: Currency,
    /// Paid for the page (callout, response, escalation).
    pub paid: Decimal,
    /// Responders' loaded cost of their response minutes.
    pub responder_time: Decimal,
    /// Responders' loaded cost of the interruption overhead.
    pub interruption_overhead: Decimal,
    /// Loaded cost of the recovery hours granted.
    pub recovery: Decimal,
    /// The sum of the four parts.
    pub total: Decimal,
}

/// A responder whose loaded cost is unknown, so their time could not be costed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MissingRate {
    /// The page.
    pub page_id: String,
    /// The responder without a rate.
    pub person: String,
}

/// The debts of a set of pages, and the responders that could not be costed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DebtReport {
    /// One entry per page and currency, ordered by page id then currency.
    pub debts: Vec<PageDebt>,
    /// Responders without a loaded cost, ordered by page id then person.
    pub missing_rates: Vec<MissingRate>,
}

/// Unrounded sums of one page's parts in one currency.
#[derive(Default)]
struct RawParts {
    paid: Decimal,
    responder_time: Decimal,
    interruption_overhead: Decimal,
    recovery: Decimal,
}

const MINUTES_PER_HOUR: Decimal = Decimal::from_parts(60, 0, 0, false, 0);

/// One responder's summed response minutes and recovery hours on a page.
type MinutesAndHours = (Decimal, Decimal);

impl RawParts {
    /// Adds one responder's costs with checked arithmetic; `false` (nothing added) when any
    /// term overflows, so the responder is reported as not costed instead of panicking.
    fn add_responder(&mut self, hourly: Decimal, minutes: Decimal, recovery_hours: Decimal, overhead: Decimal) -> bool {
        let terms = (|| {
            let time = hourly.checked_mul(minutes)?.checked_div(MINUTES_PER_HOUR)?;
            let interruption = hourly.checked_mul(overhead)?.checked_div(MINUTES_PER_HOUR)?;
            let recovery = hourly.checked_mul(recovery_hours)?;
            Some((
                self.responder_time.checked_add(time)?,
                self.interruption_overhead.checked_add(interruption)?,
                self.recovery.checked_add(recovery)?,
            ))
        })();
        match terms {
            Some((time, interruption, recovery)) => {
                self.responder_time = time;
                self.interruption_overhead = interruption;
                self.recovery = recovery;
                true
            }
            None => false,
        }
    }
}

/// Computes the debt of every page (see the module documentation for the definitions).
///
/// Work and paid rows for pages not in `pages` are ignored: the caller chose the pages.
pub fn page_debts(pages: &[DebtPage], work: &[DebtWork], paid: &[DebtPaid], rates: &CostRates) -> DebtReport {
    // Per page then person: (minutes, recovery hours), so several rows of one person add up
    // and carry a single overhead.
    let mut work_by_page: BTreeMap<&str, BTreeMap<&str, Option<MinutesAndHours>>> = BTreeMap::new();
    for row in work {
        let entry = work_by_page
            .entry(row.page_id.as_str())
            .or_default()
            .entry(row.person.as_str())
            .or_insert(Some((Decimal::ZERO, Decimal::ZERO)));
        // `None`: the sums overflowed, the responder cannot be costed (reported below).
        *entry = entry.and_then(|(minutes, hours)| {
            Some((minutes.checked_add(row.minutes)?, hours.checked_add(row.recovery_hours)?))
        });
    }
    let mut paid_by_page: BTreeMap<&str, Vec<&DebtPaid>> = BTreeMap::new();
    for row in paid {
        paid_by_page.entry(row.page_id.as_str()).or_default().push(row);
    }

    let mut report = DebtReport::default();
    for page in pages {
        let mut parts: BTreeMap<Currency, RawParts> = BTreeMap::new();
        for row in paid_by_page.get(page.id.as_str()).into_iter().flatten() {
            let part = parts.entry(row.currency).or_default();
            part.paid = part.paid.saturating_add(row.amount);
        }
        for (person, sums) in work_by_page.get(page.id.as_str()).into_iter().flatten() {
            let rate = rates.rate_for(person, page.team.as_deref());
            let costed = match (rate, sums) {
                (Some((currency, hourly)), Some((minutes, recovery_hours))) => {
                    let part = parts.entry(currency).or_default();
                    part.add_responder(hourly, *minutes, *recovery_hours, rates.interruption_overhead_minutes)
                }
                _ => false,
            };
            if !costed {
                report.missing_rates.push(MissingRate { page_id: page.id.clone(), person: (*person).to_owned() });
            }
        }
        if parts.is_empty() {
            // Still count the page (see module docs): a zero debt in the default currency.
            if let Some((currency, _)) = rates.default_for(page.team.as_deref()) {
                parts.insert(currency, RawParts::default());
            }
        }
        for (currency, raw) in parts {
            let paid = currency.round(raw.paid);
            let responder_time = currency.round(raw.responder_time);
            let interruption_overhead = currency.round(raw.interruption_overhead);
            let recovery = currency.round(raw.recovery);
            report.debts.push(PageDebt {
                page_id: page.id.clone(),
                currency,
                paid,
                responder_time,
                interruption_overhead,
                recovery,
                total: paid
                    .saturating_add(responder_time)
                    .saturating_add(interruption_overhead)
                    .saturating_add(recovery),
            });
        }
    }
    report.debts.sort_by(|a, b| (&a.page_id, a.currency).cmp(&(&b.page_id, b.currency)));
    report.missing_rates.sort();
    report
}

/// How pages are grouped in [`aggregate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By alert key ([`NO_ALERT_KEY`] when missing).
    AlertKey,
    /// By service.
    Service,
    /// By owning team ([`UNOWNED`] when missing).
    Team,
    /// By calendar month of `triggered_at` in UTC, as `YYYY-MM`.
    Month,
}

impl GroupBy {
    /// The group key of a page.
    pub fn key_of(self, page: &DebtPage) -> String {
        match self {
            GroupBy::AlertKey => page.alert_key.clone().unwrap_or_else(|| NO_ALERT_KEY.to_owned()),
            GroupBy::Service => page.service.clone(),
            GroupBy::Team => page.team.clone().unwrap_or_else(|| UNOWNED.to_owned()),
            GroupBy::Month => format!("{:04}-{:02}", page.triggered_at.year(), page.triggered_at.month()),
        }
    }

    /// The noun the summary sentence starts with.
    fn noun(self) -> &'static str {
        match self {
            GroupBy::AlertKey => "alert",
            GroupBy::Service => "service",
            GroupBy::Team => "team",
            GroupBy::Month => "month",
        }
    }
}

/// The debt of one group of pages in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebtGroup {
    /// How the group was formed.
    pub group_by: GroupBy,
    /// The group key (alert key, service, team or `YYYY-MM`).
    pub key: String,
    /// The currency of every amount below.
    pub currency: Currency,
    /// Pages with a debt in this currency.
    pub pages: u64,
    /// Of which triggered at night.
    pub night_pages: u64,
    /// Of which triggered out of hours.
    pub out_of_hours_pages: u64,
    /// Of which answered as not actionable (`actionable == Some(false)`).
    pub non_actionable_pages: u64,
    /// Of which with any actionable answer (`actionable.is_some()`): the share's denominator.
    pub answered_pages: u64,
    /// Sum of the page totals.
    pub total: Decimal,
    /// Sum of the paid parts.
    pub paid: Decimal,
    /// Sum of the responder-time parts.
    pub responder_time: Decimal,
    /// Sum of the interruption-overhead parts.
    pub interruption_overhead: Decimal,
    /// Sum of the recovery parts.
    pub recovery: Decimal,
}

/// Sums page debts per group key and currency, sorted by total descending, then key, then
/// currency. Debts of pages not in `pages` are ignored. A page counts once per currency it
/// has a debt in; sums are of already-rounded parts, so they are never re-rounded.
pub fn aggregate(pages: &[DebtPage], debts: &[PageDebt], group_by: GroupBy) -> Vec<DebtGroup> {
    let by_id: BTreeMap<&str, &DebtPage> = pages.iter().map(|page| (page.id.as_str(), page)).collect();
    let mut groups: BTreeMap<(String, Currency), DebtGroup> = BTreeMap::new();
    // Guards the counts against a caller passing the same (page, currency) debt twice split up.
    let mut counted: BTreeSet<(&str, Currency)> = BTreeSet::new();
    for debt in debts {
        let Some(page) = by_id.get(debt.page_id.as_str()) else { continue };
        let key = group_by.key_of(page);
        let group = groups.entry((key.clone(), debt.currency)).or_insert_with(|| DebtGroup {
            group_by,
            key,
            currency: debt.currency,
            pages: 0,
            night_pages: 0,
            out_of_hours_pages: 0,
            non_actionable_pages: 0,
            answered_pages: 0,
            total: Decimal::ZERO,
            paid: Decimal::ZERO,
            responder_time: Decimal::ZERO,
            interruption_overhead: Decimal::ZERO,
            recovery: Decimal::ZERO,
        });
        group.total = group.total.saturating_add(debt.total);
        group.paid = group.paid.saturating_add(debt.paid);
        group.responder_time = group.responder_time.saturating_add(debt.responder_time);
        group.interruption_overhead = group.interruption_overhead.saturating_add(debt.interruption_overhead);
        group.recovery = group.recovery.saturating_add(debt.recovery);
        if counted.insert((page.id.as_str(), debt.currency)) {
            group.pages += 1;
            group.night_pages += u64::from(page.night);
            group.out_of_hours_pages += u64::from(page.out_of_hours);
            group.non_actionable_pages += u64::from(page.actionable == Some(false));
            group.answered_pages += u64::from(page.actionable.is_some());
        }
    }
    let mut out: Vec<DebtGroup> = groups.into_values().collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)).then_with(|| a.currency.cmp(&b.currency)));
    out
}

/// The change of one group's total between two periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trend {
    /// The group key.
    pub key: String,
    /// The currency of the amounts.
    pub currency: Currency,
    /// Total in the current period (zero when absent).
    pub current: Decimal,
    /// Total in the previous period (zero when absent).
    pub previous: Decimal,
    /// `current - previous`.
    pub change: Decimal,
    /// The change as a percentage of `previous`, one decimal, half away from zero; `None` when
    /// `previous` is zero (a change from nothing has no percentage).
    pub change_percent: Option<Decimal>,
}

/// Compares two periods' groups, matched by key and currency; a group present in only one
/// period counts zero in the other. Ordered like [`aggregate`]: current total descending, key.
pub fn trend(current: &[DebtGroup], previous: &[DebtGroup]) -> Vec<Trend> {
    let mut totals: BTreeMap<(String, Currency), (Decimal, Decimal)> = BTreeMap::new();
    for group in current {
        let entry = totals.entry((group.key.clone(), group.currency)).or_default();
        entry.0 = entry.0.saturating_add(group.total);
    }
    for group in previous {
        let entry = totals.entry((group.key.clone(), group.currency)).or_default();
        entry.1 = entry.1.saturating_add(group.total);
    }
    let mut out: Vec<Trend> = totals
        .into_iter()
        .map(|((key, currency), (current, previous))| {
            let change = current.saturating_sub(previous);
            let change_percent = (!previous.is_zero())
                .then(|| change.checked_mul(Decimal::ONE_HUNDRED)?.checked_div(previous))
                .flatten()
                .map(|percent| percent.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero));
            Trend { key, currency, current, previous, change, change_percent }
        })
        .collect();
    out.sort_by(|a, b| {
        b.current.cmp(&a.current).then_with(|| a.key.cmp(&b.key)).then_with(|| a.currency.cmp(&b.currency))
    });
    out
}

/// The yearly figure at the current rate: `total × 365 / days_in_range`, rounded once to the
/// minor unit; `None` for an empty range (no rate to extrapolate).
pub fn annualised(currency: Currency, total: Decimal, days_in_range: u32) -> Option<Decimal> {
    if days_in_range == 0 {
        return None;
    }
    let yearly = total.checked_mul(Decimal::from(365))?.checked_div(Decimal::from(days_in_range))?;
    Some(currency.round(yearly))
}

/// Formats an amount with `,` thousands separators: whole amounts without decimals (`41,200`),
/// others with the currency's minor-unit digits (`41,200.50`). Never rounds further than the
/// minor unit: the sentence must agree with the table beside it.
pub fn format_amount(currency: Currency, amount: Decimal) -> String {
    let rounded = currency.round(amount);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let abs = rounded.abs();
    let whole = abs.trunc();
    let fraction = abs - whole;
    let mut digits = whole.to_string();
    // `trunc` can keep a scale (`41200.00` → `41200`): guard against a trailing fraction.
    if let Some(dot) = digits.find('.') {
        digits.truncate(dot);
    }
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&grouped);
    if !fraction.is_zero() {
        let mut fraction = fraction;
        fraction.rescale(currency.minor_unit_exponent());
        let text = fraction.to_string();
        // `0.50` → `.50`
        out.push_str(text.trim_start_matches('0'));
    }
    out
}

/// The share of non-actionable pages among those with an actionable answer, in whole percent
/// rounded half away from zero; `None` when no page was answered.
pub fn non_actionable_percent(group: &DebtGroup) -> Option<Decimal> {
    if group.answered_pages == 0 {
        return None;
    }
    let share = Decimal::from(group.non_actionable_pages) * Decimal::ONE_HUNDRED / Decimal::from(group.answered_pages);
    Some(share.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
}

/// The sentence a CFO reads (PRODUCT.md), e.g.
/// `alert disk-full-db-7 cost 41,200 EUR this quarter over 87 pages, 61 of them at night, 70% not actionable.`
///
/// The percentage is over pages with an actionable answer (see [`non_actionable_percent`]);
/// when none was answered the sentence says `actionability not logged`.
pub fn summary_sentence(group: &DebtGroup, range_label: &str) -> String {
    let pages = if group.pages == 1 { "page" } else { "pages" };
    let actionable = match non_actionable_percent(group) {
        Some(percent) => format!("{percent}% not actionable"),
        None => "actionability not logged".to_owned(),
    };
    format!(
        "{} {} cost {} {} {} over {} {}, {} of them at night, {}.",
        group.group_by.noun(),
        group.key,
        format_amount(group.currency, group.total),
        group.currency.code(),
        range_label,
        group.pages,
        pages,
        group.night_pages,
        actionable
    )
}

/// A page of a range as stored, before the model gives it a team and a time class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangePage {
    pub id: String,
    pub service: String,
    pub alert_key: Option<String>,
    pub lane: Lane,
    pub triggered_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// (page id, person, started_at, ended_at, actionable).
pub type LoggedResponse = (String, String, DateTime<Utc>, DateTime<Utc>, bool);

/// The facts of the pages triggered in a range: what [`model`] reads.
#[derive(Debug, Default)]
pub struct RangeFacts {
    pub pages: Vec<RangePage>,
    pub responses: Vec<LoggedResponse>,
    /// (page id, person, currency, amount): callout, response and escalation posted.
    pub paid: Vec<(String, String, String, Decimal)>,
    /// (page id, person, hours): recovery hours granted.
    pub recovery: Vec<(String, String, Decimal)>,
}

/// What classifies and costs pages, prepared once per computation rather than per page.
#[derive(Debug, Clone, Default)]
pub struct Costing {
    /// Each person's calendar: a page is classified in its acknowledger's zone, as pay is.
    pub calendars: BTreeMap<String, WorkingCalendar>,
    /// Each service's owning team.
    pub owners: BTreeMap<String, Option<String>>,
    pub rates: CostRates,
}

/// The pages of a range as [`page_debts`] and the health signals take them.
#[derive(Debug, Clone, Default)]
pub struct RangeModel {
    pub pages: Vec<DebtPage>,
    pub work: Vec<DebtWork>,
    pub paid: Vec<DebtPaid>,
    /// Page id → who acknowledged it.
    pub acknowledgers: BTreeMap<String, String>,
}

/// The model of a range's pages. A page nobody acknowledged is classified in UTC. Where nobody
/// logged a response, the acknowledger's acknowledge → resolve stands in for one, as in pay
/// (the module's definitions leave that default to the caller; this is that caller's rule).
pub fn model(facts: &RangeFacts, costing: &Costing) -> RangeModel {
    let utc = WorkingCalendar::new(chrono_tz::UTC);
    let mut actionable: BTreeMap<&str, Option<bool>> = BTreeMap::new();
    let mut work = Vec::new();
    for (page, person, started, ended, was_actionable) in &facts.responses {
        let entry = actionable.entry(page.as_str()).or_insert(Some(false));
        *entry = Some(entry.unwrap_or(false) || *was_actionable);
        work.push(DebtWork {
            page_id: page.clone(),
            person: person.clone(),
            minutes: minutes(*started, *ended),
            recovery_hours: Decimal::ZERO,
        });
    }
    let mut acknowledgers = BTreeMap::new();
    let mut pages = Vec::with_capacity(facts.pages.len());
    for page in &facts.pages {
        let calendar = page.acknowledged_by.as_ref().and_then(|person| costing.calendars.get(person)).unwrap_or(&utc);
        let classes = calendar.classes_at(page.triggered_at);
        if let Some(person) = &page.acknowledged_by {
            acknowledgers.insert(page.id.clone(), person.clone());
            if !actionable.contains_key(page.id.as_str())
                && let (Some(acknowledged), Some(resolved)) = (page.acknowledged_at, page.resolved_at)
            {
                work.push(DebtWork {
                    page_id: page.id.clone(),
                    person: person.clone(),
                    minutes: minutes(acknowledged, resolved),
                    recovery_hours: Decimal::ZERO,
                });
            }
        }
        pages.push(DebtPage {
            id: page.id.clone(),
            alert_key: page.alert_key.clone(),
            service: page.service.clone(),
            team: costing.owners.get(page.service.as_str()).cloned().flatten(),
            triggered_at: page.triggered_at,
            acknowledged_at: page.acknowledged_at,
            resolved_at: page.resolved_at,
            lane: page.lane.as_str().to_owned(),
            actionable: actionable.get(page.id.as_str()).copied().flatten(),
            night: classes.contains(TimeClass::Night),
            out_of_hours: classes.is_out_of_hours(),
        });
    }
    for (page, person, hours) in &facts.recovery {
        match work.iter_mut().find(|item| &item.page_id == page && &item.person == person) {
            Some(item) => item.recovery_hours += *hours,
            None => work.push(DebtWork {
                page_id: page.clone(),
                person: person.clone(),
                minutes: Decimal::ZERO,
                recovery_hours: *hours,
            }),
        }
    }
    let mut paid_by_page: BTreeMap<(String, Currency), Decimal> = BTreeMap::new();
    for (page, _, currency, amount) in &facts.paid {
        if let Ok(currency) = currency.parse::<Currency>() {
            *paid_by_page.entry((page.clone(), currency)).or_default() += *amount;
        }
    }
    RangeModel {
        pages,
        work,
        paid: paid_by_page
            .into_iter()
            .map(|((page_id, currency), amount)| DebtPaid { page_id, currency, amount })
            .collect(),
        acknowledgers,
    }
}

fn minutes(start: DateTime<Utc>, end: DateTime<Utc>) -> Decimal {
    Decimal::from((end - start).num_seconds().max(0)) / Decimal::from(60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn cur(code: &str) -> Currency {
        code.parse().unwrap()
    }

    fn page(id: u32, alert: &str, team: Option<&str>, night: bool, actionable: Option<bool>) -> DebtPage {
        DebtPage {
            id: format!("p{id}"),
            alert_key: Some(alert.to_owned()),
            service: format!("svc-{alert}"),
            team: team.map(str::to_owned),
            triggered_at: Utc.with_ymd_and_hms(2026, 10, 3, 2, 14, 0).unwrap(),
            acknowledged_at: None,
            resolved_at: None,
            lane: "wake".to_owned(),
            actionable,
            night,
            out_of_hours: night,
        }
    }

    fn work(page_id: u32, person: &str, minutes: Decimal, recovery_hours: Decimal) -> DebtWork {
        DebtWork { page_id: format!("p{page_id}"), person: person.to_owned(), minutes, recovery_hours }
    }

    fn paid(page_id: u32, code: &str, amount: Decimal) -> DebtPaid {
        DebtPaid { page_id: format!("p{page_id}"), currency: cur(code), amount }
    }

    fn rates() -> CostRates {
        let mut rates = CostRates::default();
        rates.loaded_hourly_cost.insert("ana".into(), (cur("EUR"), dec!(90)));
        rates.loaded_hourly_cost.insert("bob".into(), (cur("GBP"), dec!(70.50)));
        rates.default_hourly_cost.insert("db".into(), (cur("EUR"), dec!(80)));
        rates.default_hourly_cost.insert(ANY_TEAM.into(), (cur("EUR"), dec!(60)));
        rates
    }

    #[test]
    fn one_responder_hand_computed() {
        // ana, 90 EUR/h, 47 min response, 2 h recovery, 85.50 EUR paid:
        //   responder_time = 90 × 47/60 = 70.50
        //   overhead       = 90 × 15/60 = 22.50
        //   recovery       = 90 × 2     = 180.00
        //   total          = 85.50 + 70.50 + 22.50 + 180 = 358.50
        let report = page_debts(
            &[page(1, "disk", Some("db"), true, Some(true))],
            &[work(1, "ana", dec!(47), dec!(2))],
            &[paid(1, "EUR", dec!(85.50))],
            &rates(),
        );
        assert_eq!(report.missing_rates, vec![]);
        assert_eq!(
            report.debts,
            vec![PageDebt {
                page_id: "p1".into(),
                currency: cur("EUR"),
                paid: dec!(85.50),
                responder_time: dec!(70.50),
                interruption_overhead: dec!(22.50),
                recovery: dec!(180),
                total: dec!(358.50),
            }]
        );
    }

    #[test]
    fn a_cost_beyond_the_limits_is_reported_not_a_panic() {
        // The finding: loaded_hourly_cost 90000000000000000.00 made debt, health and
        // the dashboard answer 500. ana's cost × a week of minutes and a huge recovery
        // overflow: she is reported as not costed; bob on the same page is costed.
        let mut rates = rates();
        rates.loaded_hourly_cost.insert("ana".into(), (cur("EUR"), Decimal::MAX));
        rates.loaded_hourly_cost.insert("bob".into(), (cur("EUR"), dec!(60)));
        let report = page_debts(
            &[page(1, "disk", Some("db"), true, Some(true))],
            &[work(1, "ana", dec!(10080), Decimal::MAX), work(1, "bob", dec!(60), dec!(0))],
            &[paid(1, "EUR", Decimal::MAX), paid(1, "EUR", Decimal::MAX)],
            &rates,
        );
        assert_eq!(report.missing_rates, vec![MissingRate { page_id: "p1".into(), person: "ana".into() }]);
        assert_eq!(report.debts.len(), 1);
        assert_eq!(report.debts[0].responder_time, dec!(60.00));
        let groups = aggregate(&[page(1, "disk", Some("db"), true, Some(true))], &report.debts, GroupBy::Team);
        let _ = trend(&groups, &groups);
    }

    #[test]
    fn parts_are_rounded_once_after_summing() {
        // carl and dora fall back to team db's 80 EUR/h; 7 min each:
        //   responder_time = 80 × 7/60 + 80 × 7/60 = 9.3333… + 9.3333… = 18.6666… → 18.67
        //   (rounding each first would give 9.33 + 9.33 = 18.66)
        //   overhead = 2 × 80 × 15/60 = 40.00; carl's two rows carry one overhead.
        let report = page_debts(
            &[page(2, "disk", Some("db"), false, None)],
            &[work(2, "carl", dec!(3), dec!(0)), work(2, "carl", dec!(4), dec!(0)), work(2, "dora", dec!(7), dec!(0))],
            &[],
            &rates(),
        );
        let debt = &report.debts[0];
        assert_eq!(debt.responder_time, dec!(18.67));
        assert_eq!(debt.interruption_overhead, dec!(40.00));
        assert_eq!(debt.total, dec!(58.67));
    }

    #[test]
    fn several_currencies_are_never_added() {
        // ana EUR 90/h, 20 min: time 30.00, overhead 22.50, total with 10 EUR paid = 62.50
        // bob GBP 70.50/h, 20 min: time 23.50, overhead 17.625 → 17.63, recovery 2 h = 141.00,
        //   total with 25 GBP paid = 25 + 23.50 + 17.63 + 141 = 207.13
        let report = page_debts(
            &[page(3, "api", Some("web"), true, Some(false))],
            &[work(3, "ana", dec!(20), dec!(0)), work(3, "bob", dec!(20), dec!(2))],
            &[paid(3, "EUR", dec!(10)), paid(3, "GBP", dec!(25))],
            &rates(),
        );
        assert_eq!(report.debts.len(), 2);
        let eur = report.debts.iter().find(|d| d.currency == cur("EUR")).unwrap();
        let gbp = report.debts.iter().find(|d| d.currency == cur("GBP")).unwrap();
        assert_eq!((eur.responder_time, eur.interruption_overhead, eur.total), (dec!(30.00), dec!(22.50), dec!(62.50)));
        assert_eq!(
            (gbp.paid, gbp.responder_time, gbp.interruption_overhead, gbp.recovery, gbp.total),
            (dec!(25), dec!(23.50), dec!(17.63), dec!(141.00), dec!(207.13))
        );
    }

    #[test]
    fn missing_rate_is_reported_and_unresponded_page_counts_at_zero() {
        let mut rates = rates();
        rates.default_hourly_cost.remove(ANY_TEAM);
        let report = page_debts(
            &[page(4, "x", Some("web"), false, None), page(5, "y", Some("db"), false, None)],
            &[work(4, "zed", dec!(30), dec!(0))],
            &[],
            &rates,
        );
        assert_eq!(report.missing_rates, vec![MissingRate { page_id: "p4".into(), person: "zed".into() }]);
        // Page 4: nobody costable, no team default for web → no debt at all.
        // Page 5: nobody responded → one zero debt in db's default currency.
        assert_eq!(report.debts.len(), 1);
        assert_eq!((report.debts[0].page_id.as_str(), report.debts[0].total), ("p5", dec!(0)));
    }

    #[test]
    fn aggregate_trend_annualised_and_sentence() {
        let pages = vec![
            page(1, "disk", Some("db"), true, Some(false)),
            page(2, "disk", Some("db"), true, Some(true)),
            page(3, "disk", Some("db"), false, None),
            page(4, "api", None, false, Some(false)),
        ];
        let report = page_debts(
            &pages,
            &[work(1, "ana", dec!(60), dec!(0)), work(2, "ana", dec!(0), dec!(0)), work(4, "ana", dec!(0), dec!(0))],
            &[paid(1, "EUR", dec!(1000)), paid(3, "EUR", dec!(40000))],
            &rates(),
        );
        // Page 1: 1000 + 90 + 22.50 = 1112.50; page 2: 22.50; page 3: 40000; page 4: 22.50.
        let groups = aggregate(&pages, &report.debts, GroupBy::AlertKey);
        assert_eq!(groups.len(), 2);
        let disk = &groups[0];
        assert_eq!((disk.key.as_str(), disk.total), ("disk", dec!(41135.00)));
        assert_eq!((disk.pages, disk.night_pages, disk.non_actionable_pages, disk.answered_pages), (3, 2, 1, 2));
        assert_eq!(
            summary_sentence(disk, "this quarter"),
            "alert disk cost 41,135 EUR this quarter over 3 pages, 2 of them at night, 50% not actionable."
        );
        let teams = aggregate(&pages, &report.debts, GroupBy::Team);
        assert_eq!(teams[1].key, UNOWNED);
        assert_eq!(aggregate(&pages, &report.debts, GroupBy::Month)[0].key, "2026-10");

        let previous = vec![DebtGroup { total: dec!(30000), ..disk.clone() }];
        let trends = trend(&groups, &previous);
        assert_eq!(trends[0].change, dec!(11135.00));
        // 11135 / 30000 = 37.1166…% → 37.1
        assert_eq!(trends[0].change_percent, Some(dec!(37.1)));
        assert_eq!(trends[1].change_percent, None);

        // 41135 × 365 = 15,014,275; / 92 = 163198.6413… → 163198.64
        assert_eq!(annualised(cur("EUR"), disk.total, 92), Some(dec!(163198.64)));
        assert_eq!(annualised(cur("EUR"), disk.total, 0), None);
    }

    #[test]
    fn amounts_and_sentences_format() {
        assert_eq!(format_amount(cur("EUR"), dec!(41200)), "41,200");
        assert_eq!(format_amount(cur("EUR"), dec!(41200.00)), "41,200");
        assert_eq!(format_amount(cur("EUR"), dec!(1234567.5)), "1,234,567.50");
        assert_eq!(format_amount(cur("EUR"), dec!(-999.05)), "-999.05");
        assert_eq!(format_amount(cur("JPY"), dec!(123456)), "123,456");
        assert_eq!(format_amount(cur("EUR"), dec!(0)), "0");
        let group = DebtGroup {
            group_by: GroupBy::AlertKey,
            key: "disk-full-db-7".into(),
            currency: cur("EUR"),
            pages: 87,
            night_pages: 61,
            out_of_hours_pages: 70,
            non_actionable_pages: 61,
            answered_pages: 87,
            total: dec!(41200),
            paid: dec!(0),
            responder_time: dec!(0),
            interruption_overhead: dec!(0),
            recovery: dec!(0),
        };
        // 61 / 87 = 70.11…% → 70%
        assert_eq!(
            summary_sentence(&group, "this quarter"),
            "alert disk-full-db-7 cost 41,200 EUR this quarter over 87 pages, 61 of them at night, 70% not actionable."
        );
        let quiet = DebtGroup { pages: 1, night_pages: 0, answered_pages: 0, non_actionable_pages: 0, ..group };
        assert_eq!(
            summary_sentence(&quiet, "in October"),
            "alert disk-full-db-7 cost 41,200 EUR in October over 1 page, 0 of them at night, actionability not logged."
        );
    }

    #[test]
    fn serde_round_trip() {
        let page = page(9, "k", None, false, None);
        let json = serde_json::to_string(&page).unwrap();
        assert_eq!(serde_json::from_str::<DebtPage>(&json).unwrap(), page);
        assert_eq!(serde_json::to_string(&GroupBy::AlertKey).unwrap(), "\"alert_key\"");
    }

    proptest! {
        #[test]
        fn group_totals_equal_page_debts_per_currency(
            rows in proptest::collection::vec((0_u32..20, 0_usize..3, 0_u32..600, 0_u32..4, 0_i64..100_000, 0_usize..3), 1..40),
        ) {
            let people = ["ana", "bob", "carl"];
            let codes = ["EUR", "GBP", "JPY"];
            let teams = [Some("db"), Some("web"), None];
            let pages: Vec<DebtPage> = (0..20)
                .map(|id: u32| {
                    let index = usize::try_from(id).unwrap() % 3;
                    page(id, ["a", "b", "c"][index], teams[index], id.is_multiple_of(2), None)
                })
                .collect();
            let mut works = Vec::new();
            let mut paids = Vec::new();
            for (page_id, person, minutes, recovery, minor, code) in rows {
                works.push(work(page_id, people[person], Decimal::from(minutes), Decimal::from(recovery)));
                let currency = cur(codes[code]);
                paids.push(DebtPaid { page_id: format!("p{page_id}"), currency, amount: currency.from_minor_units(minor) });
            }
            let report = page_debts(&pages, &works, &paids, &rates());
            for debt in &report.debts {
                prop_assert_eq!(debt.total, debt.paid + debt.responder_time + debt.interruption_overhead + debt.recovery);
            }
            for group_by in [GroupBy::AlertKey, GroupBy::Service, GroupBy::Team, GroupBy::Month] {
                let groups = aggregate(&pages, &report.debts, group_by);
                for code in codes {
                    let currency = cur(code);
                    let from_pages: Decimal = report.debts.iter().filter(|d| d.currency == currency).map(|d| d.total).sum();
                    let from_groups: Decimal = groups.iter().filter(|g| g.currency == currency).map(|g| g.total).sum();
                    prop_assert_eq!(from_pages, from_groups);
                    let page_count = report.debts.iter().filter(|d| d.currency == currency).count();
                    let group_count: u64 = groups.iter().filter(|g| g.currency == currency).map(|g| g.pages).sum();
                    prop_assert_eq!(u64::try_from(page_count).unwrap(), group_count);
                }
                for pair in groups.windows(2) {
                    prop_assert!(pair[0].total >= pair[1].total);
                }
            }
        }
    }
}
