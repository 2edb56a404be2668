//! The dashboard's per-day rollup: what `crate::dashboard` reads instead of every page of a
//! range (issue #8: a year of 1,000,000 pages within 300 ms).
//!
//! - **What a day holds.** For the pages triggered on one UTC day, exactly what the direct
//!   computation (`dashboard::*_direct`) derives from them, summed: debt per (team, service,
//!   alert key, currency) with each page's parts already rounded as `domain::debt` rounds
//!   them (so sums of days are sums of pages, exact, in integer minor units); page counts per
//!   (team, service, alert key); acknowledged pages per person (out of hours, at night);
//!   bad nights per person; responders without a rate; response-time histograms per lane,
//!   team and service (`domain::histogram`: exact for small sets, within 0.8 % otherwise).
//! - **Freshness.** Database triggers mark a day dirty when a page or a response of that
//!   day changes (migration 000008), and the posting marks the days of its lines' pages.
//!   What classifies and costs pages
//!   (people's zones and costs, service owners, team defaults, cost settings) is hashed into
//!   a fingerprint; a different one marks every day dirty. A day is recomputed in one write
//!   transaction (SQLite: the write lock; PostgreSQL: an advisory lock), reading its version
//!   and its marks before its facts, writing only if no other recomputation wrote the day
//!   meanwhile (the version), and deleting only the marks it saw, so a concurrent write is
//!   never lost (migration 000023). The accrual worker refreshes every dirty day; a read refreshes the dirty days of
//!   its range first, so a read never sees a stale day.
//! - **Edges.** A range's partial days (an instant that is not midnight UTC) are computed
//!   directly from their pages and added to the full days' sums.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::domain::currency::Currency;
use crate::domain::debt::{self, CostRates, Costing, DebtPage, RangeModel, model};
use crate::domain::health::{self, LANE_DIMENSION, SERVICE_DIMENSION, TEAM_DIMENSION};
use crate::domain::histogram::Histogram;
use crate::domain::time_class::WorkingCalendar;
use crate::storage::facts::{self, CostContext};
use crate::storage::rollup::{self as rows, DayRows, DebtColumn};
use crate::storage::{AnyConnection, StorageError, write_transaction};

/// Changes when what a day's rows mean changes: every day is recomputed.
const ROLLUP_FORMAT: &str = "rollup-1";

/// The UTC day (days since 1970-01-01) of an instant.
pub fn day_of(at: DateTime<Utc>) -> i64 {
    crate::domain::timestamp::utc_day(at)
}

/// Midnight UTC starting `day`.
pub fn start_of(day: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(day.saturating_mul(86_400), 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The UTC month (`YYYY-MM`) of a day.
fn month_of(day: i64) -> String {
    start_of(day).format("%Y-%m").to_string()
}

/// The first day of a month (`YYYY-MM`) and of the next.
fn month_days(month: &str) -> Option<(i64, i64)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let day = |date: NaiveDate| day_of(date.and_hms_opt(0, 0, 0).map(|at| at.and_utc()).unwrap_or_default());
    Some((day(first), day(next)))
}

/// Whole days `[from_day, to_day)` as sources: the whole months inside from the month rows,
/// the days before and after them from the day rows.
fn sources(from_day: i64, to_day: i64) -> Vec<rows::Source> {
    if from_day >= to_day {
        return Vec::new();
    }
    let first_month = {
        let (start, next) = month_days(&month_of(from_day)).unwrap_or((from_day, from_day));
        if start == from_day { start } else { next }
    };
    let end_month = month_days(&month_of(to_day)).map_or(to_day, |(start, _)| start);
    if first_month >= end_month {
        return vec![rows::Source::Days(from_day, to_day)];
    }
    let mut out = vec![rows::Source::Months(month_of(first_month), month_of(end_month))];
    if from_day < first_month {
        out.push(rows::Source::Days(from_day, first_month));
    }
    if end_month < to_day {
        out.push(rows::Source::Days(end_month, to_day));
    }
    out
}

/// The sums of one debt group: counts, then the four parts in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DebtSums {
    pub pages: i64,
    pub night_pages: i64,
    pub out_of_hours_pages: i64,
    pub non_actionable_pages: i64,
    pub answered_pages: i64,
    pub paid: i64,
    pub responder_time: i64,
    pub interruption_overhead: i64,
    pub recovery: i64,
    /// The largest decimal scale of each part's terms (see [`DebtSums::parts`]).
    pub scales: [i64; 4],
}

impl DebtSums {
    /// The four parts (paid, responder time, interruption overhead, recovery) as `Decimal`s
    /// with the scale the direct computation's sums have: the largest of their terms'.
    pub fn parts(&self, currency: Currency) -> [Decimal; 4] {
        let part = |minor: i64, scale: i64| {
            let mut amount = currency.from_minor_units(minor);
            amount.rescale(u32::try_from(scale).unwrap_or_default().min(currency.minor_unit_exponent()));
            amount
        };
        [
            part(self.paid, self.scales[0]),
            part(self.responder_time, self.scales[1]),
            part(self.interruption_overhead, self.scales[2]),
            part(self.recovery, self.scales[3]),
        ]
    }

    /// Adds `other` to these sums.
    pub fn add(&mut self, other: &DebtSums) {
        self.pages += other.pages;
        self.night_pages += other.night_pages;
        self.out_of_hours_pages += other.out_of_hours_pages;
        self.non_actionable_pages += other.non_actionable_pages;
        self.answered_pages += other.answered_pages;
        self.paid += other.paid;
        self.responder_time += other.responder_time;
        self.interruption_overhead += other.interruption_overhead;
        self.recovery += other.recovery;
        for (mine, theirs) in self.scales.iter_mut().zip(other.scales) {
            *mine = (*mine).max(theirs);
        }
    }
}

/// The key of a day's debt row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DebtKey {
    pub month: String,
    pub team: Option<String>,
    pub service: String,
    pub alert_key: Option<String>,
    pub currency: Currency,
}

/// (team, service, alert key): the key of page counts.
pub type PagesKey = (Option<String>, String, Option<String>);

/// (group key, team, currency): the key of a debt read.
pub type DebtReadKey = (Option<String>, Option<String>, Currency);

/// What a set of pages adds to the rollup (one day's rows, or a partial day at an edge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contribution {
    pub debt: BTreeMap<DebtKey, DebtSums>,
    /// (team, service, alert key) → (pages, answered, non-actionable).
    pub pages: BTreeMap<PagesKey, (i64, i64, i64)>,
    /// Acknowledger → (pages, out of hours, night).
    pub people: BTreeMap<String, (i64, i64, i64)>,
    pub bad_nights: BTreeSet<(String, NaiveDate)>,
    /// (page team, responder) without a loaded cost.
    pub missing_rates: BTreeSet<(Option<String>, String)>,
    /// (dimension, key) → (time to acknowledge, time to resolve), seconds.
    pub times: BTreeMap<(String, String), (Histogram, Histogram)>,
}

fn minor(currency: Currency, amount: Decimal) -> i64 {
    // Parts are rounded to the minor unit by `debt::page_debts`, so this is exact.
    currency.to_minor_units(amount).unwrap_or_default()
}

/// What the pages of `model` contribute, computed as the direct computation computes them.
pub(crate) fn contribution(model: &RangeModel, costing: &Costing) -> Contribution {
    let mut out = Contribution::default();
    let report = debt::page_debts(&model.pages, &model.work, &model.paid, &costing.rates);
    let by_id: BTreeMap<&str, &DebtPage> = model.pages.iter().map(|page| (page.id.as_str(), page)).collect();
    for page_debt in &report.debts {
        let Some(page) = by_id.get(page_debt.page_id.as_str()) else { continue };
        let currency = page_debt.currency;
        let key = DebtKey {
            month: format!("{:04}-{:02}", page.triggered_at.year(), page.triggered_at.month()),
            team: page.team.clone(),
            service: page.service.clone(),
            alert_key: page.alert_key.clone(),
            currency,
        };
        out.debt.entry(key).or_default().add(&DebtSums {
            pages: 1,
            night_pages: i64::from(page.night),
            out_of_hours_pages: i64::from(page.out_of_hours),
            non_actionable_pages: i64::from(page.actionable == Some(false)),
            answered_pages: i64::from(page.actionable.is_some()),
            paid: minor(currency, page_debt.paid),
            responder_time: minor(currency, page_debt.responder_time),
            interruption_overhead: minor(currency, page_debt.interruption_overhead),
            recovery: minor(currency, page_debt.recovery),
            scales: [
                page_debt.paid.scale(),
                page_debt.responder_time.scale(),
                page_debt.interruption_overhead.scale(),
                page_debt.recovery.scale(),
            ]
            .map(i64::from),
        });
    }
    for missing in &report.missing_rates {
        let team = by_id.get(missing.page_id.as_str()).and_then(|page| page.team.clone());
        out.missing_rates.insert((team, missing.person.clone()));
    }
    let utc = WorkingCalendar::new(chrono_tz::UTC);
    for page in &model.pages {
        let counts = out.pages.entry((page.team.clone(), page.service.clone(), page.alert_key.clone())).or_default();
        counts.0 += 1;
        counts.1 += i64::from(page.actionable.is_some());
        counts.2 += i64::from(page.actionable == Some(false));
        if let Some(person) = model.acknowledgers.get(&page.id) {
            let load = out.people.entry(person.clone()).or_default();
            load.0 += 1;
            load.1 += i64::from(page.out_of_hours);
            load.2 += i64::from(page.night);
            if page.night {
                let calendar = costing.calendars.get(person).unwrap_or(&utc);
                if let Some(night) = health::night_of(calendar, page.triggered_at) {
                    out.bad_nights.insert((person.clone(), night));
                }
            }
        }
        let since_trigger = |at: DateTime<Utc>| Some((at - page.triggered_at).num_seconds()).filter(|s| *s >= 0);
        let team = page.team.clone().unwrap_or_else(|| debt::UNOWNED.to_owned());
        for key in
            [(LANE_DIMENSION, page.lane.clone()), (TEAM_DIMENSION, team), (SERVICE_DIMENSION, page.service.clone())]
        {
            let (ack, resolve) = out.times.entry((key.0.to_owned(), key.1)).or_default();
            if let Some(seconds) = page.acknowledged_at.and_then(since_trigger) {
                ack.add(seconds);
            }
            if let Some(seconds) = page.resolved_at.and_then(since_trigger) {
                resolve.add(seconds);
            }
        }
    }
    out
}

impl Contribution {
    fn into_rows(self, day: i64) -> DayRows {
        DayRows {
            debt: self
                .debt
                .into_iter()
                .map(|(key, sums)| rows::DebtRow {
                    day,
                    month: key.month,
                    team: key.team,
                    service: key.service,
                    alert_key: key.alert_key,
                    currency: key.currency.code().to_owned(),
                    pages: sums.pages,
                    night_pages: sums.night_pages,
                    out_of_hours_pages: sums.out_of_hours_pages,
                    non_actionable_pages: sums.non_actionable_pages,
                    answered_pages: sums.answered_pages,
                    paid_minor: sums.paid,
                    responder_time_minor: sums.responder_time,
                    interruption_overhead_minor: sums.interruption_overhead,
                    recovery_minor: sums.recovery,
                    paid_scale: sums.scales[0],
                    responder_time_scale: sums.scales[1],
                    interruption_overhead_scale: sums.scales[2],
                    recovery_scale: sums.scales[3],
                })
                .collect(),
            pages: self
                .pages
                .into_iter()
                .map(|((team, service, alert_key), (pages, answered, non_actionable))| rows::PagesRow {
                    day,
                    team,
                    service,
                    alert_key,
                    pages,
                    answered_pages: answered,
                    non_actionable_pages: non_actionable,
                })
                .collect(),
            people: self
                .people
                .into_iter()
                .map(|(person, (pages, out_of_hours, night))| rows::PeopleRow {
                    day,
                    person,
                    pages,
                    out_of_hours_pages: out_of_hours,
                    night_pages: night,
                })
                .collect(),
            bad_nights: self
                .bad_nights
                .into_iter()
                .map(|(person, night)| (person, night.format("%Y-%m-%d").to_string()))
                .collect(),
            missing_rates: self.missing_rates.into_iter().collect(),
            times: self
                .times
                .into_iter()
                .map(|((dimension, key), (ack, resolve))| rows::TimesRow {
                    day,
                    dimension,
                    key,
                    ack: ack.encode(),
                    resolve: resolve.encode(),
                })
                .collect(),
        }
    }
}

/// A hash of everything besides a day's own facts that its rows depend on.
pub fn fingerprint(context: &CostContext) -> String {
    let mut hasher = Sha256::new();
    hasher.update(ROLLUP_FORMAT);
    for person in &context.people {
        hasher.update(format!(
            "\u{1}{}\u{2}{:?}\u{2}{}\u{2}{}\u{2}{:?}\u{2}{:?}\u{2}{:?}",
            person.id,
            person.team,
            person.timezone,
            person.currency,
            person.loaded_hourly_cost,
            person.working_hours,
            person.holiday_calendar
        ));
    }
    for service in &context.services {
        hasher.update(format!("\u{3}{}\u{2}{:?}", service.id, service.team));
    }
    for team in &context.teams {
        hasher.update(format!("\u{4}{}\u{2}{:?}", team.id, team.default_loaded_hourly_cost));
    }
    hasher.update(format!(
        "\u{5}{}\u{2}{:?}",
        context.cost_settings.interruption_overhead_minutes, context.cost_settings.default_loaded_hourly_cost
    ));
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Recomputes one day from its facts and replaces its rows: [`read_day`] outside the
/// write lock, then [`write_day`] (milliseconds).
fn recompute_day(conn: &mut AnyConnection, costing: &Costing, day: i64) -> Result<(), StorageError> {
    if let Some(read) = read_day(conn, costing, day)? {
        write_day(conn, read)?;
    }
    Ok(())
}

/// One day's rows computed from its facts, with what they were computed after.
pub struct DayRead {
    day: i64,
    version: i64,
    seen: Vec<i64>,
    rows: DayRows,
}

/// Reads a dirty day's version and claims its marks (a short write), then reads its
/// facts and computes its rows; `None` when the day has no marks (another recomputation
/// did it meanwhile).
pub fn read_day(conn: &mut AnyConnection, costing: &Costing, day: i64) -> Result<Option<DayRead>, StorageError> {
    let version = rows::day_version(conn, day)?;
    let seen = write_transaction(conn, |conn| rows::claim_marks(conn, day))?;
    if seen.is_empty() {
        return Ok(None);
    }
    let found = facts::pages_of_range(conn, start_of(day), start_of(day + 1))?;
    let rows = contribution(&model(&found, costing), costing).into_rows(day);
    Ok(Some(DayRead { day, version, seen, rows }))
}

/// Replaces the day's rows with what [`read_day`] computed and deletes the marks it saw,
/// unless another recomputation wrote the day since (its rows are then the newer ones):
/// returns whether it wrote. A change made after the read left a mark of its own, which
/// keeps the day dirty, even when it replaced a mark this read saw.
pub fn write_day(conn: &mut AnyConnection, read: DayRead) -> Result<bool, StorageError> {
    let DayRead { day, version, seen, rows: day_rows } = read;
    write_transaction(conn, |conn| {
        rows::lock(conn)?;
        if rows::day_version(conn, day)? != version {
            return Ok(false);
        }
        rows::replace_day(conn, day, &day_rows)?;
        // Only inequality matters: wrapping keeps the next version different from this one.
        rows::set_day_version(conn, day, version.wrapping_add(1))?;
        rows::mark_month(conn, &month_of(day))?;
        rows::clear_marks(conn, &seen)?;
        Ok(true)
    })
}

/// What classifies and costs pages, from the people, services, teams and cost settings.
pub fn costing_of(context: &CostContext) -> Costing {
    let calendars: BTreeMap<String, WorkingCalendar> = context
        .people
        .iter()
        .filter_map(|person| crate::pricing::pay_person(person).ok().map(|pay| (person.id.clone(), pay.calendar)))
        .collect();
    let owners = context.services.iter().map(|service| (service.id.clone(), service.team.clone())).collect();
    // A responder's loaded cost: their own, else their team's default, else the organisation's.
    let team_defaults: BTreeMap<&str, (Currency, Decimal)> = context
        .teams
        .iter()
        .filter_map(|team| Some((team.id.as_str(), team.default_loaded_hourly_cost?)))
        .map(|(team, cost)| (team, (cost.currency, cost.amount)))
        .collect();
    let own_rate =
        |person: &crate::storage::people::Person| Some((person.currency.parse().ok()?, person.loaded_hourly_cost?));
    let rates = CostRates {
        loaded_hourly_cost: context
            .people
            .iter()
            .filter_map(|person| {
                let team_default = || team_defaults.get(person.team.as_deref()?).copied();
                Some((person.id.clone(), own_rate(person).or_else(team_default)?))
            })
            .collect(),
        default_hourly_cost: context
            .cost_settings
            .default_loaded_hourly_cost
            .map(|cost| (debt::ANY_TEAM.to_owned(), (cost.currency, cost.amount)))
            .into_iter()
            .collect(),
        interruption_overhead_minutes: context.cost_settings.interruption_overhead_minutes,
    };
    Costing { calendars, owners, rates }
}

/// Checks the fingerprint (marking every day dirty when it changed), then recomputes the
/// dirty days in `[from_day, to_day)`, or all of them. Returns the context read and the
/// number of days recomputed.
pub(crate) fn refresh(
    conn: &mut AnyConnection,
    range: Option<(i64, i64)>,
) -> Result<(CostContext, Costing, usize), StorageError> {
    let (context, costing, days, _) = refresh_for(conn, range, None)?;
    Ok((context, costing, days))
}

/// As `refresh`, but stops starting days once `budget` has passed (after one day at
/// least); the last value says whether dirty days are left.
fn refresh_for(
    conn: &mut AnyConnection,
    range: Option<(i64, i64)>,
    budget: Option<std::time::Duration>,
) -> Result<(CostContext, Costing, usize, bool), StorageError> {
    let started = std::time::Instant::now();
    let context = facts::cost_context(conn)?;
    let costing = costing_of(&context);
    let print = fingerprint(&context);
    if rows::fingerprint(conn)?.as_deref() != Some(print.as_str()) {
        write_transaction(conn, |conn| {
            rows::lock(conn)?;
            if rows::fingerprint(conn)?.as_deref() != Some(print.as_str()) {
                rows::mark_all_days(conn, &print)?;
            }
            Ok::<_, StorageError>(())
        })?;
    }
    let days = rows::dirty_days(conn, range)?;
    let mut done = 0;
    for day in &days {
        if done > 0 && budget.is_some_and(|budget| started.elapsed() >= budget) {
            break;
        }
        recompute_day(conn, &costing, *day)?;
        done += 1;
    }
    for month in rows::dirty_months(conn)? {
        let Some((first, next)) = month_days(&month) else { continue };
        write_transaction(conn, |conn| {
            rows::lock(conn)?;
            rows::resum_month(conn, &month, first, next)
        })?;
    }
    Ok((context, costing, done, done < days.len()))
}

/// Recomputes every dirty day (`paydown rollup`).
pub fn refresh_all(conn: &mut AnyConnection) -> Result<usize, StorageError> {
    Ok(refresh(conn, None)?.2)
}

/// Recomputes dirty days for about `budget` (the accrual worker, which must not leave new
/// pages unpriced while a year of imported days is recomputed); returns the days done and
/// whether some are left.
pub fn refresh_some(conn: &mut AnyConnection, budget: std::time::Duration) -> Result<(usize, bool), StorageError> {
    let (_, _, done, left) = refresh_for(conn, None, Some(budget))?;
    Ok((done, left))
}

/// A range cut into whole UTC days and partial days at its edges.
struct Span {
    /// `[from_day, to_day)`, possibly empty.
    days: (i64, i64),
    /// Partial days, computed directly.
    edges: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> Span {
    if to <= from {
        return Span { days: (0, 0), edges: Vec::new() };
    }
    let first_full = if start_of(day_of(from)) == from { day_of(from) } else { day_of(from) + 1 };
    let end_full = day_of(to);
    if first_full >= end_full {
        return Span { days: (0, 0), edges: vec![(from, to)] };
    }
    let mut edges = Vec::new();
    if start_of(first_full) > from {
        edges.push((from, start_of(first_full)));
    }
    if start_of(end_full) < to {
        edges.push((start_of(end_full), to));
    }
    Span { days: (first_full, end_full), edges }
}

/// The rollup of a range, read: the days' sums plus the edges' contributions.
pub struct Reader<'a> {
    conn: &'a mut AnyConnection,
    pub(crate) context: CostContext,
    pub(crate) costing: Costing,
}

impl<'a> Reader<'a> {
    /// Brings the days of every range in `ranges` up to date and returns a reader.
    pub fn new(conn: &'a mut AnyConnection, ranges: &[(DateTime<Utc>, DateTime<Utc>)]) -> Result<Self, StorageError> {
        let from = ranges.iter().map(|range| day_of(range.0)).min().unwrap_or_default();
        let to = ranges.iter().map(|range| day_of(range.1) + 1).max().unwrap_or_default();
        let (context, costing, _) = refresh(conn, Some((from, to)))?;
        Ok(Reader { conn, context, costing })
    }

    /// The connection, for reads beside the rollup.
    pub fn conn(&mut self) -> &mut AnyConnection {
        self.conn
    }

    fn edge(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Contribution, StorageError> {
        let found = facts::pages_of_range(self.conn, from, to)?;
        Ok(contribution(&model(&found, &self.costing), &self.costing))
    }

    /// Debt sums per (group key, team, currency) over `[from, to)`.
    pub fn debt(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        column: DebtColumn,
    ) -> Result<BTreeMap<DebtReadKey, DebtSums>, StorageError> {
        let span = span(from, to);
        let mut out: BTreeMap<DebtReadKey, DebtSums> = BTreeMap::new();
        for source in sources(span.days.0, span.days.1) {
            for row in rows::debt_sums(self.conn, &source, column)? {
                let Ok(currency) = row.currency.parse::<Currency>() else { continue };
                out.entry((row.key, row.team, currency)).or_default().add(&DebtSums {
                    pages: row.pages,
                    night_pages: row.night_pages,
                    out_of_hours_pages: row.out_of_hours_pages,
                    non_actionable_pages: row.non_actionable_pages,
                    answered_pages: row.answered_pages,
                    paid: row.paid_minor,
                    responder_time: row.responder_time_minor,
                    interruption_overhead: row.interruption_overhead_minor,
                    recovery: row.recovery_minor,
                    scales: [
                        row.paid_scale,
                        row.responder_time_scale,
                        row.interruption_overhead_scale,
                        row.recovery_scale,
                    ],
                });
            }
        }
        for (edge_from, edge_to) in span.edges {
            for (key, sums) in self.edge(edge_from, edge_to)?.debt {
                let group = match column {
                    DebtColumn::AlertKey => key.alert_key,
                    DebtColumn::Service => Some(key.service),
                    DebtColumn::Team => key.team.clone(),
                    DebtColumn::Month => Some(key.month),
                };
                out.entry((group, key.team, key.currency)).or_default().add(&sums);
            }
        }
        Ok(out)
    }

    /// Responders without a rate over `[from, to)`, with their pages' team.
    pub fn missing_rates(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeSet<(Option<String>, String)>, StorageError> {
        let span = span(from, to);
        let mut out: BTreeSet<(Option<String>, String)> = BTreeSet::new();
        if span.days.0 < span.days.1 {
            out.extend(rows::missing_rates(self.conn, span.days.0, span.days.1)?);
        }
        for (edge_from, edge_to) in span.edges {
            out.extend(self.edge(edge_from, edge_to)?.missing_rates);
        }
        Ok(out)
    }

    /// Everything but debt over `[from, to)` (people counts: see [`Reader::people`]).
    pub fn signals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Contribution, StorageError> {
        let span = span(from, to);
        let mut out = Contribution::default();
        for source in sources(span.days.0, span.days.1) {
            for row in rows::pages_sums(self.conn, &source)? {
                let counts = out.pages.entry((row.team, row.service, row.alert_key)).or_default();
                counts.0 += row.pages;
                counts.1 += row.answered_pages;
                counts.2 += row.non_actionable_pages;
            }
        }
        if span.days.0 < span.days.1 {
            let (first, last) = span.days;
            for (person, night) in rows::bad_nights(self.conn, first, last)? {
                if let Ok(night) = NaiveDate::parse_from_str(&night, "%Y-%m-%d") {
                    out.bad_nights.insert((person, night));
                }
            }
            for (dimension, key, ack, resolve) in rows::times(self.conn, first, last)? {
                let entry = out.times.entry((dimension, key)).or_default();
                entry.0.merge(&Histogram::decode(&ack).unwrap_or_default());
                entry.1.merge(&Histogram::decode(&resolve).unwrap_or_default());
            }
        }
        for (edge_from, edge_to) in span.edges {
            let edge = self.edge(edge_from, edge_to)?;
            for (key, counts) in edge.pages {
                let entry = out.pages.entry(key).or_default();
                entry.0 += counts.0;
                entry.1 += counts.1;
                entry.2 += counts.2;
            }
            out.bad_nights.extend(edge.bad_nights);
            for (key, (ack, resolve)) in edge.times {
                let entry = out.times.entry(key).or_default();
                entry.0.merge(&ack);
                entry.1.merge(&resolve);
            }
        }
        Ok(out)
    }

    /// Acknowledged pages per person triggered in `(from, to)`: the out-of-hours bar's window,
    /// which excludes its first instant.
    pub fn people(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, (i64, i64, i64)>, StorageError> {
        let span = span(from, to);
        let mut out: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        let mut add = |person: String, counts: (i64, i64, i64), sign: i64| {
            let entry = out.entry(person).or_default();
            entry.0 += sign * counts.0;
            entry.1 += sign * counts.1;
            entry.2 += sign * counts.2;
        };
        if span.days.0 < span.days.1 {
            for row in rows::people_sums(self.conn, span.days.0, span.days.1)? {
                add(row.person, (row.pages, row.out_of_hours_pages, row.night_pages), 1);
            }
        }
        for (edge_from, edge_to) in span.edges {
            for (person, counts) in self.edge(edge_from, edge_to)?.people {
                add(person, counts, 1);
            }
        }
        // Pages at exactly `from` are outside the window's counts, though their acknowledger is
        // still listed (as the direct computation, which reads `[from, to)`, lists them).
        for (person, counts) in self.edge(from, from + Duration::microseconds(1))?.people {
            add(person, (0, counts.1, counts.2), -1);
        }
        out.retain(|_, counts| counts.0 > 0);
        Ok(out)
    }
}

/// Marks every day dirty and recomputes them all (`paydown report refresh --all`): the
/// rollup from scratch. Returns the number of days recomputed.
pub fn rebuild(conn: &mut AnyConnection) -> Result<usize, StorageError> {
    write_transaction(conn, |conn| {
        rows::lock(conn)?;
        rows::forget_fingerprint(conn)
    })?;
    refresh_all(conn)
}
