//! The management view: reliability debt and health signals, computed by the pure
//! `domain::debt` and `domain::health` from what `storage::facts` reads.
//!
//! Reads go through the rollup (`crate::rollup`); the `*_direct` twins fold every page of the
//! range through `domain::debt::model` and are the reference the rollup must equal. The
//! dependency goes one way: the rollup never reads the dashboard.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::currency::{self, Currency, ExchangeRate};
use crate::domain::debt::{self, DebtGroup, DebtPage, GroupBy, RangeModel, model};
use crate::domain::health::{self, PersonLoad, ResponseGroupBy, ResponseTimes, RotationHealth, Violation};
use crate::domain::scope::Reach;
use crate::rollup::{DebtSums, Reader, costing_of};
use crate::storage::facts;
use crate::storage::rollup::DebtColumn;
use crate::storage::{AnyConnection, StorageError};

/// A group of the debt report, with its sentence and its change against the previous range.
#[derive(Debug, Clone, Serialize)]
pub struct DebtLine {
    #[serde(flatten)]
    pub group: DebtGroup,
    /// The sentence a CFO reads.
    pub summary: String,
    /// The total at this rate over a year.
    pub annualised: Option<Decimal>,
    /// The total of the previous range of the same length, for the trend.
    pub previous_total: Decimal,
    /// The group's figures in the reporting currency, with the rate used; `None` when no
    /// reporting currency is set or no rate into it is in force for the group's currency.
    pub reporting: Option<ReportingFigure>,
    /// Whether the line takes part in the ranking across currencies (the order of `groups`).
    /// A line without a reporting figure is listed after the ranked ones, in its own currency.
    pub ranked: bool,
}

/// A debt line's figures converted into the reporting currency (`domain::currency::convert`:
/// the exact total times the rate, rounded once to the reporting currency's minor unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportingFigure {
    /// The reporting currency.
    pub currency: Currency,
    /// `total` converted.
    pub total: Decimal,
    /// `previous_total` converted at the same rate, so the trend shows the debt's change and
    /// not the exchange rate's.
    pub previous_total: Decimal,
    /// Units of the reporting currency per unit of the group's currency (1 when the same).
    pub rate: Decimal,
    /// When that rate took effect; `None` when the group is already in the reporting currency.
    pub rate_effective_from: Option<NaiveDate>,
}

/// A rate a report converted with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateUsed {
    pub currency: Currency,
    pub to_currency: Currency,
    pub rate: Decimal,
    pub effective_from: NaiveDate,
}

/// The sum of the debt lines left in their own currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnconvertedTotal {
    pub currency: Currency,
    pub total: Decimal,
    /// How many lines it sums.
    pub groups: usize,
}

/// How a report's figures were brought into one currency, or why some were not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reporting {
    /// The organisation's reporting currency; `None` until finance sets one.
    pub currency: Option<Currency>,
    /// The day whose rates were used: the last day of the range.
    pub rates_on: NaiveDate,
    /// The sum of the ranked lines in the reporting currency (`None` without one). Lines
    /// without a rate are never added to it.
    pub total: Option<Decimal>,
    /// Every rate used, one per converted currency.
    pub rates_used: Vec<RateUsed>,
    /// Per currency left unconverted: the sum of its lines, in that currency.
    pub unconverted: Vec<UnconvertedTotal>,
    /// What a reader must know: currencies without a rate, or no reporting currency.
    pub notes: Vec<String>,
}

/// The debt report of a range.
#[derive(Debug, Clone, Serialize)]
pub struct DebtOverview {
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    pub from: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    pub to: DateTime<Utc>,
    pub group_by: GroupBy,
    pub groups: Vec<DebtLine>,
    /// Responders without a loaded hourly cost: their time is not costed.
    pub missing_rates: Vec<String>,
    /// The figures in the reporting currency: rates used, totals, what was left out and why.
    pub reporting: Reporting,
}

/// The health signals of a range.
#[derive(Debug, Clone, Serialize)]
pub struct HealthOverview {
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    pub from: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    pub to: DateTime<Utc>,
    /// Out-of-hours and sleep-hour pages per person over the trailing year, against the bar.
    pub out_of_hours: Vec<PersonLoad>,
    pub on_call_after_bad_night: Vec<Violation>,
    pub rotations: Vec<RotationHealth>,
    pub unowned: Vec<health::UnownedService>,
    pub noisy_alerts: Vec<health::NoisyAlert>,
    pub response_times_by_lane: Vec<ResponseTimes>,
    pub response_times_by_team: Vec<ResponseTimes>,
    pub response_times_by_service: Vec<ResponseTimes>,
}

/// Each group with its one-sentence summary, annualised figure and previous total.
fn debt_lines(
    groups: Vec<debt::DebtGroup>,
    previous: &[debt::DebtGroup],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DebtLine> {
    let days = u32::try_from((to - from).num_days().max(1)).unwrap_or(u32::MAX);
    let label = range_label(from, to);
    groups
        .into_iter()
        .map(|group| {
            let previous_total = previous
                .iter()
                .find(|old| old.key == group.key && old.currency == group.currency)
                .map_or(Decimal::ZERO, |old| old.total);
            DebtLine {
                summary: debt::summary_sentence(&group, &label),
                annualised: debt::annualised(group.currency, group.total, days),
                previous_total,
                group,
                reporting: None,
                ranked: true,
            }
        })
        .collect()
}

/// The last day a range `[from, to)` covers: the day whose exchange rates convert it.
pub fn rates_day(to: DateTime<Utc>) -> NaiveDate {
    (to - chrono::Duration::microseconds(1)).date_naive()
}

/// Converts the debt lines into the reporting currency and ranks them (pure).
///
/// - With a reporting currency: a line whose currency has a rate in force on `on` (or is the
///   reporting currency) gets its `reporting` figure and is ranked by it, largest first
///   (ties by key, then currency). A line without a rate keeps its own currency, is not
///   ranked (`ranked = false`), comes after the ranked lines (by currency, then its own total)
///   and is summed only with lines of its own currency (`unconverted`), with a note.
/// - Without one: lines of a single currency are ranked as they are; lines in several
///   currencies are ordered within each currency and not ranked against each other, with a note.
pub fn convert_debt_lines(
    mut lines: Vec<DebtLine>,
    reporting_currency: Option<Currency>,
    rates: &[ExchangeRate],
    on: NaiveDate,
) -> (Vec<DebtLine>, Reporting) {
    let by_currency_then_total = |a: &DebtLine, b: &DebtLine| {
        a.group
            .currency
            .cmp(&b.group.currency)
            .then_with(|| b.group.total.cmp(&a.group.total))
            .then_with(|| a.group.key.cmp(&b.group.key))
    };
    let mut reporting = Reporting {
        currency: reporting_currency,
        rates_on: on,
        total: None,
        rates_used: Vec::new(),
        unconverted: Vec::new(),
        notes: Vec::new(),
    };
    let Some(target) = reporting_currency else {
        let currencies: std::collections::BTreeSet<Currency> = lines.iter().map(|line| line.group.currency).collect();
        if currencies.len() > 1 {
            lines.sort_by(by_currency_then_total);
            for line in &mut lines {
                line.ranked = false;
            }
            reporting.notes.push(format!(
                "no reporting currency is set: figures in {} are ordered within their own currency and not ranked or summed across currencies (finance sets one with PUT /v1/settings/reporting-currency or `paydown rates reporting-currency`)",
                currencies.iter().map(|currency| currency.code()).collect::<Vec<_>>().join(", ")
            ));
        }
        for currency in currencies {
            let of_currency: Vec<&DebtLine> = lines.iter().filter(|line| line.group.currency == currency).collect();
            let total = of_currency.iter().try_fold(Decimal::ZERO, |sum, line| sum.checked_add(line.group.total));
            if let Some(total) = total {
                reporting.unconverted.push(UnconvertedTotal { currency, total, groups: of_currency.len() });
            }
        }
        return (lines, reporting);
    };
    let mut used: BTreeMap<Currency, RateUsed> = BTreeMap::new();
    for line in &mut lines {
        let from = line.group.currency;
        let total = currency::convert(line.group.total, from, target, rates, on);
        let previous = currency::convert(line.previous_total, from, target, rates, on);
        if let (Some(total), Some(previous)) = (total, previous) {
            if let Some(effective_from) = total.rate_effective_from {
                used.insert(from, RateUsed { currency: from, to_currency: target, rate: total.rate, effective_from });
            }
            line.reporting = Some(ReportingFigure {
                currency: target,
                total: total.amount,
                previous_total: previous.amount,
                rate: total.rate,
                rate_effective_from: total.rate_effective_from,
            });
            line.ranked = true;
        } else {
            line.reporting = None;
            line.ranked = false;
        }
    }
    lines.sort_by(|a, b| match (&a.reporting, &b.reporting) {
        (Some(x), Some(y)) => y
            .total
            .cmp(&x.total)
            .then_with(|| a.group.key.cmp(&b.group.key))
            .then_with(|| a.group.currency.cmp(&b.group.currency)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => by_currency_then_total(a, b),
    });
    reporting.total = lines
        .iter()
        .filter_map(|line| line.reporting.as_ref())
        .try_fold(Decimal::ZERO, |sum, figure| sum.checked_add(figure.total));
    let mut unconverted: BTreeMap<Currency, UnconvertedTotal> = BTreeMap::new();
    for line in lines.iter().filter(|line| line.reporting.is_none()) {
        let entry = unconverted.entry(line.group.currency).or_insert(UnconvertedTotal {
            currency: line.group.currency,
            total: Decimal::ZERO,
            groups: 0,
        });
        entry.total = entry.total.checked_add(line.group.total).unwrap_or(entry.total);
        entry.groups += 1;
    }
    for missing in unconverted.values() {
        reporting.notes.push(format!(
            "no exchange rate from {} to {target} is in force on {on}: {} group(s) totalling {} {} are shown in {}, left out of the ranking and of the {target} total",
            missing.currency, missing.groups, missing.total, missing.currency, missing.currency
        ));
    }
    reporting.unconverted = unconverted.into_values().collect();
    reporting.rates_used = used.into_values().collect();
    (lines, reporting)
}

fn range_label(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!("from {} to {}", from.format("%Y-%m-%d"), to.format("%Y-%m-%d"))
}

/// The debt report computed directly from every page of the range: the reference the
/// rollup-backed [`debt`] must equal (tests compare them). Slow on large ranges.
pub fn debt_direct(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: GroupBy,
    teams: Option<&[String]>,
) -> Result<DebtOverview, StorageError> {
    let keep = |mut model: RangeModel| {
        if let Some(teams) = teams {
            model.pages.retain(|page| page.team.as_ref().is_some_and(|team| teams.contains(team)));
        }
        model
    };
    let context = facts::cost_context(conn)?;
    let costing = costing_of(&context);
    let current = keep(model(&facts::pages_of_range(conn, from, to)?, &costing));
    let report = debt::page_debts(&current.pages, &current.work, &current.paid, &costing.rates);
    let groups = debt::aggregate(&current.pages, &report.debts, group_by);
    let length = to - from;
    let before = keep(model(&facts::pages_of_range(conn, from - length, from)?, &costing));
    let before_report = debt::page_debts(&before.pages, &before.work, &before.paid, &costing.rates);
    let previous = debt::aggregate(&before.pages, &before_report.debts, group_by);
    let conversion = crate::storage::exchange_rates::conversion(conn)?;
    let (lines, reporting) = convert_debt_lines(
        debt_lines(groups, &previous, from, to),
        conversion.reporting_currency,
        &conversion.rates,
        rates_day(to),
    );
    let mut missing: Vec<String> = report.missing_rates.iter().map(|missing| missing.person.clone()).collect();
    missing.sort();
    missing.dedup();
    Ok(DebtOverview { from, to, group_by, groups: lines, missing_rates: missing, reporting })
}

/// The health signals computed directly from every page: the reference for [`health`].
pub fn health_direct(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HealthOverview, StorageError> {
    let context = facts::cost_context(conn)?;
    let costing = costing_of(&context);
    let found = facts::pages_of_range(conn, from, to)?;
    let year = facts::pages_of_range(conn, to - chrono::Duration::days(365), to)?;
    let current = model(&found, &costing);
    let yearly = model(&year, &costing);
    let found_shifts = facts::shifts_of_range(conn, from, to)?;
    let person_pages: Vec<health::PersonPage> = yearly
        .pages
        .iter()
        .filter_map(|page| {
            let person = yearly.acknowledgers.get(&page.id)?;
            Some(health::PersonPage {
                person: person.clone(),
                triggered_at: page.triggered_at,
                out_of_hours: page.out_of_hours,
                night: page.night,
            })
        })
        .collect();
    let shifts: Vec<health::Shift> = found_shifts
        .iter()
        .map(|shift| health::Shift { person: shift.person.clone(), start: shift.start, end: shift.end })
        .collect();
    let night_pages: Vec<health::NightPage> = current
        .pages
        .iter()
        .filter(|page| page.night)
        .filter_map(|page| {
            Some(health::NightPage { person: current.acknowledgers.get(&page.id)?.clone(), at: page.triggered_at })
        })
        .collect();
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for person in &context.people {
        if let Some(team) = &person.team {
            members.entry(team.clone()).or_default().push(person.id.clone());
        }
    }
    Ok(HealthOverview {
        from,
        to,
        out_of_hours: health::out_of_hours_per_person(&person_pages, to, health::DEFAULT_WINDOW_DAYS),
        on_call_after_bad_night: health::on_call_after_bad_night(&shifts, &night_pages, &costing.calendars),
        rotations: health::rotation_sizes(&members),
        unowned: health::unowned_pages(&current.pages),
        noisy_alerts: health::noisy_alerts(&current.pages),
        response_times_by_lane: health::time_to_ack_and_resolve(&current.pages, ResponseGroupBy::Lane),
        response_times_by_team: health::time_to_ack_and_resolve(&current.pages, ResponseGroupBy::Team),
        response_times_by_service: health::time_to_ack_and_resolve(&current.pages, ResponseGroupBy::Service),
    })
}

/// One currency's debt per team and month, for the stacked chart.
#[derive(Debug, Clone)]
pub struct MonthlyCost {
    pub currency: String,
    /// `YYYY-MM`, every month the range touches.
    pub months: Vec<String>,
    /// One series per team, a total per month.
    pub series: Vec<crate::reports::charts::Series>,
}

/// The monthly chart's figures computed directly from every page: the reference for
/// [`monthly_by_team`].
pub fn monthly_by_team_direct(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    teams: Option<&[String]>,
) -> Result<Vec<MonthlyCost>, StorageError> {
    let costing = costing_of(&facts::cost_context(conn)?);
    let mut current = model(&facts::pages_of_range(conn, from, to)?, &costing);
    if let Some(teams) = teams {
        current.pages.retain(|page| page.team.as_ref().is_some_and(|team| teams.contains(team)));
    }
    let debts = debt::page_debts(&current.pages, &current.work, &current.paid, &costing.rates).debts;
    let months = months_of(from, to);
    let by_team = debt::aggregate(&current.pages, &debts, GroupBy::Team);
    let currencies: std::collections::BTreeSet<Currency> = by_team.iter().map(|group| group.currency).collect();
    let mut result = Vec::new();
    for currency in currencies {
        let mut series = Vec::new();
        for team in by_team.iter().filter(|group| group.currency == currency) {
            let pages: Vec<DebtPage> =
                current.pages.iter().filter(|page| debt::GroupBy::Team.key_of(page) == team.key).cloned().collect();
            let monthly = debt::aggregate(&pages, &debts, GroupBy::Month);
            let values = months
                .iter()
                .map(|month| {
                    monthly
                        .iter()
                        .find(|group| &group.key == month && group.currency == currency)
                        .map_or(Decimal::ZERO, |group| group.total)
                })
                .collect();
            series.push(crate::reports::charts::Series { name: team.key.clone(), values });
        }
        result.push(MonthlyCost { currency: currency.code().to_owned(), months: months.clone(), series });
    }
    Ok(result)
}

/// The monthly chart in the reporting currency, for the dashboard.
#[derive(Debug, Clone)]
pub struct ReportingMonthly {
    /// One chart in the reporting currency: each team's month is converted at the rate in force
    /// on the range's last day (rounded once per team, month and currency), then the team's
    /// converted figures are added. `None` without a reporting currency.
    pub chart: Option<MonthlyCost>,
    /// The rates used, one per converted currency.
    pub rates_used: Vec<RateUsed>,
    /// Currencies left out for want of a rate (their charts stay in their own currency).
    pub notes: Vec<String>,
}

/// Converts the per-currency monthly charts into one in the reporting currency (pure). Teams of
/// a currency without a rate in force on `on` are left out of it, with a note; they are never
/// added to figures of another currency.
pub fn monthly_in_reporting(
    monthly: &[MonthlyCost],
    reporting_currency: Option<Currency>,
    rates: &[ExchangeRate],
    on: NaiveDate,
) -> ReportingMonthly {
    let Some(target) = reporting_currency else {
        return ReportingMonthly { chart: None, rates_used: Vec::new(), notes: Vec::new() };
    };
    let months: Vec<String> = monthly.first().map(|cost| cost.months.clone()).unwrap_or_default();
    let mut teams: BTreeMap<String, Vec<Decimal>> = BTreeMap::new();
    let mut used: BTreeMap<Currency, RateUsed> = BTreeMap::new();
    let mut notes = Vec::new();
    for cost in monthly {
        let Ok(from) = cost.currency.parse::<Currency>() else { continue };
        let Some(probe) = currency::convert(Decimal::ZERO, from, target, rates, on) else {
            notes.push(format!(
                "no exchange rate from {from} to {target} is in force on {on}: the {from} chart is left out of the {target} one"
            ));
            continue;
        };
        if let Some(effective_from) = probe.rate_effective_from {
            used.insert(from, RateUsed { currency: from, to_currency: target, rate: probe.rate, effective_from });
        }
        for series in &cost.series {
            let values = teams.entry(series.name.clone()).or_insert_with(|| vec![Decimal::ZERO; months.len()]);
            for (slot, value) in values.iter_mut().zip(&series.values) {
                let converted = currency::convert(*value, from, target, rates, on).map_or(Decimal::ZERO, |c| c.amount);
                *slot = slot.checked_add(converted).unwrap_or(*slot);
            }
        }
    }
    // Teams ordered as the per-currency charts order them: total descending, then name.
    let mut order: Vec<(String, Vec<Decimal>)> = teams.into_iter().collect();
    order.sort_by(|a, b| {
        let total = |values: &[Decimal]| values.iter().copied().sum::<Decimal>();
        total(&b.1).cmp(&total(&a.1)).then_with(|| a.0.cmp(&b.0))
    });
    let series =
        order.into_iter().map(|(name, values)| crate::reports::charts::Series { name, values }).collect::<Vec<_>>();
    ReportingMonthly {
        chart: Some(MonthlyCost { currency: target.code().to_owned(), months, series }),
        rates_used: used.into_values().collect(),
        notes,
    }
}

/// The monthly chart of `[from, to)` in the reporting currency (see [`monthly_in_reporting`]),
/// from the per-currency charts of [`monthly_by_team`].
pub fn monthly_by_team_in_reporting(
    conn: &mut AnyConnection,
    monthly: &[MonthlyCost],
    to: DateTime<Utc>,
) -> Result<ReportingMonthly, StorageError> {
    let conversion = crate::storage::exchange_rates::conversion(conn)?;
    Ok(monthly_in_reporting(monthly, conversion.reporting_currency, &conversion.rates, rates_day(to)))
}

/// Every `YYYY-MM` the range `[from, to)` touches (the monthly chart's columns).
fn months_of(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut months = Vec::new();
    let mut cursor = from.date_naive().with_day(1).unwrap_or(from.date_naive());
    while cursor < to.date_naive() {
        months.push(cursor.format("%Y-%m").to_string());
        cursor = cursor.checked_add_months(chrono::Months::new(1)).unwrap_or(to.date_naive());
    }
    months
}

fn debt_column(group_by: GroupBy) -> DebtColumn {
    match group_by {
        GroupBy::AlertKey => DebtColumn::AlertKey,
        GroupBy::Service => DebtColumn::Service,
        GroupBy::Team => DebtColumn::Team,
        GroupBy::Month => DebtColumn::Month,
    }
}

/// The debt groups of `[from, to)` from the rollup, as `debt::aggregate` forms and orders them.
fn rollup_groups(
    reader: &mut Reader<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: GroupBy,
    teams: Option<&[String]>,
) -> Result<Vec<DebtGroup>, StorageError> {
    let mut groups: BTreeMap<(String, Currency), DebtSums> = BTreeMap::new();
    for ((key, team, currency), sums) in reader.debt(from, to, debt_column(group_by))? {
        if let Some(teams) = teams
            && !team.as_ref().is_some_and(|team| teams.contains(team))
        {
            continue;
        }
        let key = key.unwrap_or_else(|| {
            match group_by {
                GroupBy::Team => debt::UNOWNED,
                _ => debt::NO_ALERT_KEY,
            }
            .to_owned()
        });
        groups.entry((key, currency)).or_default().add(&sums);
    }
    let count = |value: i64| u64::try_from(value).unwrap_or_default();
    let mut out: Vec<DebtGroup> = groups
        .into_iter()
        .map(|((key, currency), sums)| {
            let [paid, responder_time, interruption_overhead, recovery] = sums.parts(currency);
            DebtGroup {
                group_by,
                key,
                currency,
                pages: count(sums.pages),
                night_pages: count(sums.night_pages),
                out_of_hours_pages: count(sums.out_of_hours_pages),
                non_actionable_pages: count(sums.non_actionable_pages),
                answered_pages: count(sums.answered_pages),
                total: paid + responder_time + interruption_overhead + recovery,
                paid,
                responder_time,
                interruption_overhead,
                recovery,
            }
        })
        .collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)).then_with(|| a.currency.cmp(&b.currency)));
    Ok(out)
}

/// The debt report of `[from, to)`, grouped, with the trend against the range before.
/// `teams`: only pages of these owning teams (a manager's view); `None` for all.
/// Read from the rollup (`crate::rollup`); equal to [`debt_direct`].
pub fn debt(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: GroupBy,
    teams: Option<&[String]>,
) -> Result<DebtOverview, StorageError> {
    let length = to - from;
    let mut reader = Reader::new(conn, &[(from - length, to)])?;
    let groups = rollup_groups(&mut reader, from, to, group_by, teams)?;
    let previous = rollup_groups(&mut reader, from - length, from, group_by, teams)?;
    let conversion = crate::storage::exchange_rates::conversion(reader.conn())?;
    let (lines, reporting) = convert_debt_lines(
        debt_lines(groups, &previous, from, to),
        conversion.reporting_currency,
        &conversion.rates,
        rates_day(to),
    );
    let missing: Vec<String> = reader
        .missing_rates(from, to)?
        .into_iter()
        .filter(|(team, _)| teams.is_none_or(|teams| team.as_ref().is_some_and(|team| teams.contains(team))))
        .map(|(_, person)| person)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(DebtOverview { from, to, group_by, groups: lines, missing_rates: missing, reporting })
}

/// The health signals of `[from, to)`; the out-of-hours bar counts the year up to `to`.
/// Read from the rollup; equal to [`health_direct`] but for percentiles over large sets,
/// which are within 0.8 % (`domain::histogram`).
pub fn health(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HealthOverview, StorageError> {
    health_for(conn, from, to, &Reach::Everyone)
}

/// The health signals of `[from, to)` as a caller of `reach` may see them: people in
/// reach only (the out-of-hours bar, nights after bad nights), the teams in reach (rotations,
/// per-team and per-service times, noisy alerts counted over their pages); what no team owns
/// only for everyone. Times by lane stay the organisation's (they name nobody).
pub fn health_for(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reach: &Reach,
) -> Result<HealthOverview, StorageError> {
    let year_start = to - chrono::Duration::days(i64::from(health::DEFAULT_WINDOW_DAYS));
    let mut reader = Reader::new(conn, &[(from, to), (year_start, to)])?;
    let count = |value: i64| u64::try_from(value).unwrap_or_default();
    let people = reader.people(year_start, to)?;
    let signals = reader.signals(from, to)?;
    let shifts: Vec<health::Shift> = facts::shifts_of_range(reader.conn(), from, to)?
        .iter()
        .map(|shift| health::Shift { person: shift.person.clone(), start: shift.start, end: shift.end })
        .collect();
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for person in &reader.context.people {
        if let Some(team) = &person.team
            && reach.sees_team(Some(team))
        {
            members.entry(team.clone()).or_default().push(person.id.clone());
        }
    }
    let mut noisy: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut unowned: BTreeMap<String, u64> = BTreeMap::new();
    for ((team, service, alert_key), (pages, answered, non_actionable)) in &signals.pages {
        if !reach.sees_team(team.as_deref()) {
            continue;
        }
        if let Some(alert_key) = alert_key {
            let entry = noisy.entry(alert_key.clone()).or_default();
            entry.0 += count(*pages);
            entry.1 += count(*answered);
            entry.2 += count(*non_actionable);
        }
        if team.is_none() {
            *unowned.entry(service.clone()).or_default() += count(*pages);
        }
    }
    let times = |dimension: &str| -> Vec<ResponseTimes> {
        signals
            .times
            .iter()
            .filter(|((kind, _), _)| kind == dimension)
            .filter(|((kind, key), _)| match kind.as_str() {
                health::TEAM_DIMENSION => reach.sees_team(Some(key)),
                health::SERVICE_DIMENSION => {
                    reach.sees_team(reader.costing.owners.get(key.as_str()).and_then(Option::as_deref))
                }
                _ => true,
            })
            .map(|((_, key), (ack, resolve))| ResponseTimes {
                key: key.clone(),
                ack: ack.percentiles(),
                resolve: resolve.percentiles(),
            })
            .collect()
    };
    Ok(HealthOverview {
        from,
        to,
        out_of_hours: health::out_of_hours_from_counts(
            people
                .into_iter()
                .filter(|(person, _)| reach.sees_person(person))
                .map(|(person, (_, out_of_hours, night))| (person, (count(out_of_hours), count(night)))),
        ),
        on_call_after_bad_night: health::violations(&shifts, &signals.bad_nights, &reader.costing.calendars)
            .into_iter()
            .filter(|violation| reach.sees_person(&violation.person))
            .collect(),
        rotations: health::rotation_sizes(&members),
        unowned: health::unowned_from_counts(unowned),
        noisy_alerts: health::noisy_from_counts(noisy),
        response_times_by_lane: times(health::LANE_DIMENSION),
        response_times_by_team: times(health::TEAM_DIMENSION),
        response_times_by_service: times(health::SERVICE_DIMENSION),
    })
}

/// The debt of `[from, to)` per currency, team and month, for the stacked chart. Read from
/// the rollup; equal to [`monthly_by_team_direct`].
pub fn monthly_by_team(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    teams: Option<&[String]>,
) -> Result<Vec<MonthlyCost>, StorageError> {
    let mut reader = Reader::new(conn, &[(from, to)])?;
    let months = months_of(from, to);
    // (team key, currency) → month → total.
    let mut totals: BTreeMap<(String, Currency), BTreeMap<String, Decimal>> = BTreeMap::new();
    for ((month, team, currency), sums) in reader.debt(from, to, DebtColumn::Month)? {
        if let Some(teams) = teams
            && !team.as_ref().is_some_and(|team| teams.contains(team))
        {
            continue;
        }
        let total: Decimal = sums.parts(currency).iter().sum();
        let team = team.unwrap_or_else(|| debt::UNOWNED.to_owned());
        *totals.entry((team, currency)).or_default().entry(month.unwrap_or_default()).or_default() += total;
    }
    // Teams ordered as `debt::aggregate` orders them: total descending, then key.
    let mut order: Vec<(&(String, Currency), Decimal)> =
        totals.iter().map(|(key, by_month)| (key, by_month.values().copied().sum::<Decimal>())).collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.0.cmp(&b.0.0)).then_with(|| a.0.1.cmp(&b.0.1)));
    let currencies: std::collections::BTreeSet<Currency> = totals.keys().map(|(_, currency)| *currency).collect();
    let mut result = Vec::new();
    for currency in currencies {
        let series = order
            .iter()
            .filter(|((_, group_currency), _)| *group_currency == currency)
            .map(|((team, _), _)| crate::reports::charts::Series {
                name: team.clone(),
                values: months
                    .iter()
                    .map(|month| {
                        totals
                            .get(&(team.clone(), currency))
                            .and_then(|by_month| by_month.get(month))
                            .copied()
                            .unwrap_or(Decimal::ZERO)
                    })
                    .collect(),
            })
            .collect();
        result.push(MonthlyCost { currency: currency.code().to_owned(), months: months.clone(), series });
    }
    Ok(result)
}

/// One person's out-of-hours and night pages over the trailing year to `to`, as the
/// dashboard's out-of-hours bar counts them (the engineer's own page shows the same figures
/// their manager sees). Read from the rollup.
pub fn person_load(conn: &mut AnyConnection, person: &str, to: DateTime<Utc>) -> Result<(u64, u64), StorageError> {
    let year_start = to - chrono::Duration::days(i64::from(health::DEFAULT_WINDOW_DAYS));
    let mut reader = Reader::new(conn, &[(year_start, to)])?;
    let count = |value: i64| u64::try_from(value).unwrap_or_default();
    Ok(reader
        .people(year_start, to)?
        .get(person)
        .map_or((0, 0), |(_, out_of_hours, night)| (count(*out_of_hours), count(*night))))
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn line(key: &str, currency: &str, total: Decimal) -> DebtLine {
        DebtLine {
            group: DebtGroup {
                group_by: GroupBy::AlertKey,
                key: key.to_owned(),
                currency: currency.parse().unwrap(),
                pages: 1,
                night_pages: 0,
                out_of_hours_pages: 0,
                non_actionable_pages: 0,
                answered_pages: 0,
                total,
                paid: total,
                responder_time: Decimal::ZERO,
                interruption_overhead: Decimal::ZERO,
                recovery: Decimal::ZERO,
            },
            summary: String::new(),
            annualised: None,
            previous_total: total,
            reporting: None,
            ranked: true,
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn usd() -> Currency {
        "USD".parse().unwrap()
    }

    /// Issue #18's finding: the debt report ranked `index-lag 676,282.49 INR` above
    /// `pod-crashloop 24,302.17 USD`. With a rate of 0.012 the INR alert is 8,115.39 USD.
    fn finding() -> Vec<DebtLine> {
        vec![line("index-lag", "INR", dec!(676282.49)), line("pod-crashloop", "USD", dec!(24302.17))]
    }

    #[test]
    fn the_rate_decides_the_ranking_not_the_digits() {
        let rates = [ExchangeRate {
            currency: "INR".parse().unwrap(),
            to: usd(),
            rate: dec!(0.012),
            effective_from: day("2026-01-01"),
        }];
        let (lines, reporting) = convert_debt_lines(finding(), Some(usd()), &rates, day("2026-10-31"));
        let keys: Vec<&str> = lines.iter().map(|line| line.group.key.as_str()).collect();
        assert_eq!(keys, ["pod-crashloop", "index-lag"]);
        assert!(lines.iter().all(|line| line.ranked));
        let inr = lines[1].reporting.as_ref().unwrap();
        assert_eq!(
            (inr.total, inr.rate, inr.rate_effective_from),
            (dec!(8115.39), dec!(0.012), Some(day("2026-01-01")))
        );
        assert_eq!(lines[0].reporting.as_ref().unwrap().rate, Decimal::ONE, "USD is already USD");
        assert_eq!(reporting.total, Some(dec!(32417.56)), "24,302.17 + 8,115.39");
        assert_eq!(reporting.rates_used.len(), 1);
        assert!(reporting.notes.is_empty(), "{:?}", reporting.notes);
        assert!(reporting.unconverted.is_empty());
    }

    #[test]
    fn without_a_rate_a_figure_is_left_out_of_the_ranking_and_the_total_with_a_note() {
        let (lines, reporting) = convert_debt_lines(finding(), Some(usd()), &[], day("2026-10-31"));
        assert_eq!(lines[0].group.key, "pod-crashloop");
        assert!(lines[0].ranked);
        assert_eq!(lines[1].group.key, "index-lag");
        assert!(!lines[1].ranked && lines[1].reporting.is_none(), "the INR line keeps its own currency");
        assert_eq!(reporting.total, Some(dec!(24302.17)), "never summed with INR");
        assert_eq!(
            reporting.unconverted,
            vec![UnconvertedTotal { currency: "INR".parse().unwrap(), total: dec!(676282.49), groups: 1 }]
        );
        assert_eq!(reporting.notes.len(), 1);
        assert!(
            reporting.notes[0].contains("INR") && reporting.notes[0].contains("2026-10-31"),
            "{}",
            reporting.notes[0]
        );
    }

    #[test]
    fn a_rate_not_yet_in_force_is_not_used() {
        let rates = [ExchangeRate {
            currency: "INR".parse().unwrap(),
            to: usd(),
            rate: dec!(0.012),
            effective_from: day("2026-11-01"),
        }];
        let (lines, reporting) = convert_debt_lines(finding(), Some(usd()), &rates, day("2026-10-31"));
        assert!(!lines[1].ranked);
        assert_eq!(reporting.total, Some(dec!(24302.17)));
    }

    #[test]
    fn without_a_reporting_currency_currencies_are_not_ranked_against_each_other() {
        let (lines, reporting) = convert_debt_lines(finding(), None, &[], day("2026-10-31"));
        assert!(lines.iter().all(|line| !line.ranked && line.reporting.is_none()));
        assert_eq!(reporting.total, None);
        assert_eq!(reporting.unconverted.len(), 2);
        assert_eq!(reporting.notes.len(), 1);
        let (single, reporting) = convert_debt_lines(
            vec![line("a", "USD", dec!(1)), line("b", "USD", dec!(2))],
            None,
            &[],
            day("2026-10-31"),
        );
        assert!(single.iter().all(|line| line.ranked), "one currency ranks as it is");
        assert!(reporting.notes.is_empty());
    }

    #[test]
    fn the_monthly_chart_converts_each_team_and_leaves_out_a_currency_without_a_rate() {
        let months = vec!["2026-09".to_owned(), "2026-10".to_owned()];
        let series = |name: &str, values: [Decimal; 2]| crate::reports::charts::Series {
            name: name.into(),
            values: values.to_vec(),
        };
        let monthly = vec![
            MonthlyCost {
                currency: "INR".into(),
                months: months.clone(),
                series: vec![series("search", [dec!(10000.00), dec!(676282.49)])],
            },
            MonthlyCost {
                currency: "GBP".into(),
                months: months.clone(),
                series: vec![series("search", [dec!(1), dec!(2)])],
            },
            MonthlyCost {
                currency: "USD".into(),
                months: months.clone(),
                series: vec![series("payments", [dec!(24302.17), dec!(0)]), series("search", [dec!(5.00), dec!(0)])],
            },
        ];
        let rates = [ExchangeRate {
            currency: "INR".parse().unwrap(),
            to: usd(),
            rate: dec!(0.012),
            effective_from: day("2026-01-01"),
        }];
        let converted = monthly_in_reporting(&monthly, Some(usd()), &rates, day("2026-10-31"));
        let chart = converted.chart.unwrap();
        assert_eq!(chart.currency, "USD");
        assert_eq!(chart.series[0].name, "payments");
        assert_eq!(chart.series[1].name, "search");
        // 10,000.00 INR → 120.00 USD, plus 5.00 USD; 676,282.49 INR → 8,115.39 USD. GBP has no rate.
        assert_eq!(chart.series[1].values, vec![dec!(125.00), dec!(8115.39)]);
        assert_eq!(converted.rates_used.len(), 1);
        assert_eq!(converted.notes.len(), 1);
        assert!(converted.notes[0].contains("GBP"), "{:?}", converted.notes);
        assert!(monthly_in_reporting(&monthly, None, &rates, day("2026-10-31")).chart.is_none());
    }

    #[test]
    fn the_rates_day_is_the_last_day_the_range_covers() {
        let midnight = "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(rates_day(midnight), day("2026-10-31"));
        assert_eq!(rates_day(midnight + chrono::Duration::hours(1)), day("2026-11-01"));
    }
}
