//! The health signals of PRODUCT.md: pages per person against the 2–3 per year bar, on call
//! the night after a bad night, rotation size, un-owned pages, noisy alerts, and time to
//! acknowledge and resolve as percentiles.
//!
//! Pure functions: the caller loads pages and shifts and passes the window's end instant
//! (no clock is read here).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::domain::debt::{DebtPage, UNOWNED};
use crate::domain::time_class::{TimeClass, WorkingCalendar};

/// Out-of-hours pages a person may reasonably get per year (PRODUCT.md: "being woken two or
/// three times a year is reasonable, more is not"); more than this is over the bar.
pub const OUT_OF_HOURS_BAR_PER_YEAR: u64 = 3;

/// The default trailing window of [`out_of_hours_per_person`], in days.
pub const DEFAULT_WINDOW_DAYS: u32 = 365;

/// Smallest healthy rotation: 5 people make about one week on call in every five.
pub const ROTATION_MIN: usize = 5;

/// Largest healthy rotation: 8 people make one week in every two months; beyond it people
/// are on call too rarely to stay practised.
pub const ROTATION_MAX: usize = 8;

/// One page as one person received it, classified in that person's zone by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonPage {
    /// The person paged.
    pub person: String,
    /// When the page was triggered.
    pub triggered_at: DateTime<Utc>,
    /// Triggered in any time class but `business`.
    pub out_of_hours: bool,
    /// Triggered inside the person's sleep window.
    pub night: bool,
}

/// A person's out-of-hours load over the trailing window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonLoad {
    /// The person.
    pub person: String,
    /// Out-of-hours pages in the window.
    pub out_of_hours: u64,
    /// Sleep-hour pages in the window.
    pub night: u64,
    /// `out_of_hours > OUT_OF_HOURS_BAR_PER_YEAR`.
    pub over_bar: bool,
}

/// Counts each person's out-of-hours and night pages triggered in `(window_end - window_days,
/// window_end]`, against [`OUT_OF_HOURS_BAR_PER_YEAR`]. People with pages in the input but none
/// in the window are listed with zeros. Sorted by out-of-hours desc, night desc, then person.
///
/// The bar is a yearly figure and is not pro-rated: pass 365 days (the default) for it to mean
/// what PRODUCT.md says.
pub fn out_of_hours_per_person(pages: &[PersonPage], window_end: DateTime<Utc>, window_days: u32) -> Vec<PersonLoad> {
    let window_start = window_end - Duration::days(i64::from(window_days));
    let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for page in pages {
        let entry = counts.entry(page.person.as_str()).or_default();
        if window_start < page.triggered_at && page.triggered_at <= window_end {
            entry.0 += u64::from(page.out_of_hours);
            entry.1 += u64::from(page.night);
        }
    }
    out_of_hours_from_counts(counts.into_iter().map(|(person, counts)| (person.to_owned(), counts)))
}

/// [`out_of_hours_per_person`] from counts already made: (person, (out of hours, night)).
pub fn out_of_hours_from_counts(counts: impl IntoIterator<Item = (String, (u64, u64))>) -> Vec<PersonLoad> {
    let mut out: Vec<PersonLoad> = counts
        .into_iter()
        .map(|(person, (out_of_hours, night))| PersonLoad {
            person,
            out_of_hours,
            night,
            over_bar: out_of_hours > OUT_OF_HOURS_BAR_PER_YEAR,
        })
        .collect();
    out.sort_by(|a, b| {
        b.out_of_hours.cmp(&a.out_of_hours).then_with(|| b.night.cmp(&a.night)).then_with(|| a.person.cmp(&b.person))
    });
    out
}

/// A person's on-call interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// The person on call.
    pub person: String,
    /// Start of the shift.
    pub start: DateTime<Utc>,
    /// End of the shift (exclusive).
    pub end: DateTime<Utc>,
}

/// A night page received by a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightPage {
    /// The person paged.
    pub person: String,
    /// When the page was triggered.
    pub at: DateTime<Utc>,
}

/// A person on call the night after a bad night.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Violation {
    /// The person.
    pub person: String,
    /// The local date the bad night starts on.
    pub bad_night: NaiveDate,
    /// The local date the following night starts on (the day after `bad_night`).
    pub next_night: NaiveDate,
}

/// The local night a local instant belongs to, named by the date the sleep window starts on:
/// with the default 22:00–08:00 window, 01:30 on the 25th belongs to the night of the 24th.
/// `None` when the instant is outside the sleep window.
pub fn night_of(calendar: &WorkingCalendar, at: DateTime<Utc>) -> Option<NaiveDate> {
    if !calendar.classes_at(at).contains(TimeClass::Night) {
        return None;
    }
    let local = calendar.local(at);
    let window = calendar.sleep_window;
    if window.start > window.end && local.time() < window.end { local.date().pred_opt() } else { Some(local.date()) }
}

/// `[start, end)` in UTC of the local night starting on `date` (its real length: a DST night
/// lasts 9 or 11 hours with the default window). The ends are found through the calendar's
/// zone, so a start or end inside a DST gap moves to the jump.
pub fn night_bounds(calendar: &WorkingCalendar, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let window = calendar.sleep_window;
    let end_date = if window.start >= window.end { date.succ_opt().unwrap_or(date) } else { date };
    (
        calendar.first_instant_at_or_after(date.and_time(window.start)),
        calendar.first_instant_at_or_after(end_date.and_time(window.end)),
    )
}

/// The rota rule "never two nights in a row after a bad night".
///
/// - A person's *bad night* is a local night (their calendar's sleep window, default
///   22:00–08:00, named by its start date; see [`night_of`]) in which they got at least one
///   page. Pages given here outside the sleep window are ignored, so the caller may pass all
///   of a person's pages.
/// - A *violation* is that person being on call for any part of the following local night:
///   one of their shifts overlaps [`night_bounds`] of the next date. A shift that simply runs
///   on from the bad night counts: that is exactly what the rule forbids.
///
/// A person without an entry in `calendars` is judged in UTC with the default calendar (the
/// dashboard should rather make sure everyone has a calendar). Sorted by person, then date;
/// one violation per person and bad night.
pub fn on_call_after_bad_night(
    shifts: &[Shift],
    night_pages: &[NightPage],
    calendars: &BTreeMap<String, WorkingCalendar>,
) -> Vec<Violation> {
    violations(shifts, &bad_nights(night_pages, calendars), calendars)
}

/// The (person, local night) pairs on which each person was paged at night.
pub fn bad_nights(
    night_pages: &[NightPage],
    calendars: &BTreeMap<String, WorkingCalendar>,
) -> BTreeSet<(String, NaiveDate)> {
    let utc = WorkingCalendar::new(Tz::UTC);
    let calendar_of = |person: &str| calendars.get(person).unwrap_or(&utc);
    night_pages
        .iter()
        .filter_map(|page| Some((page.person.clone(), night_of(calendar_of(&page.person), page.at)?)))
        .collect()
}

/// The bad nights (from [`bad_nights`]) followed by a night the person was on call.
pub fn violations(
    shifts: &[Shift],
    bad_nights: &BTreeSet<(String, NaiveDate)>,
    calendars: &BTreeMap<String, WorkingCalendar>,
) -> Vec<Violation> {
    let utc = WorkingCalendar::new(Tz::UTC);
    let calendar_of = |person: &str| calendars.get(person).unwrap_or(&utc);
    let mut shifts_of: BTreeMap<&str, Vec<&Shift>> = BTreeMap::new();
    for shift in shifts {
        shifts_of.entry(shift.person.as_str()).or_default().push(shift);
    }
    let mut out = Vec::new();
    for (person, bad_night) in bad_nights {
        let Some(next_night) = bad_night.succ_opt() else { continue };
        let (start, end) = night_bounds(calendar_of(person), next_night);
        let on_call =
            shifts_of.get(person.as_str()).into_iter().flatten().any(|shift| shift.start < end && start < shift.end);
        if on_call {
            out.push(Violation { person: person.clone(), bad_night: *bad_night, next_night });
        }
    }
    out
}

/// How a rotation's size compares with the 5–8 bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationStatus {
    /// Fewer than [`ROTATION_MIN`] people: on call too often.
    TooSmall,
    /// Between [`ROTATION_MIN`] and [`ROTATION_MAX`] inclusive.
    Healthy,
    /// More than [`ROTATION_MAX`]: on call too rarely to stay practised.
    Large,
}

/// One team's rotation size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationHealth {
    /// The team.
    pub team: String,
    /// Distinct members of its rotation.
    pub size: usize,
    /// Against the 5–8 bar.
    pub status: RotationStatus,
}

/// Rotation size per team (distinct member names), in team order.
pub fn rotation_sizes(members: &BTreeMap<String, Vec<String>>) -> Vec<RotationHealth> {
    members
        .iter()
        .map(|(team, people)| {
            let size = people.iter().collect::<BTreeSet<_>>().len();
            let status = if size < ROTATION_MIN {
                RotationStatus::TooSmall
            } else if size > ROTATION_MAX {
                RotationStatus::Large
            } else {
                RotationStatus::Healthy
            };
            RotationHealth { team: team.clone(), size, status }
        })
        .collect()
}

/// p50 / p90 / p99 of a list of durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: i64,
    /// 90th percentile.
    pub p90: i64,
    /// 99th percentile.
    pub p99: i64,
    /// How many durations.
    pub count: usize,
}

/// The nearest-rank percentile of a sorted, non-empty list: the value at rank
/// `ceil(p × n / 100)` (1-based), so it is always one of the observed values, never an
/// interpolation (a manager can find the page it came from).
fn nearest_rank(sorted: &[i64], p: usize) -> i64 {
    let n = sorted.len();
    let rank = (p * n).div_ceil(100).max(1);
    sorted.get(rank - 1).or(sorted.last()).copied().unwrap_or_default()
}

/// Nearest-rank p50 / p90 / p99: the value at 1-based rank `ceil(p × n / 100)` of the sorted
/// list, always an observed value (never interpolated); `None` for an empty list.
pub fn percentiles(durations_seconds: &[i64]) -> Option<Percentiles> {
    if durations_seconds.is_empty() {
        return None;
    }
    let mut sorted = durations_seconds.to_vec();
    sorted.sort_unstable();
    Some(Percentiles {
        p50: nearest_rank(&sorted, 50),
        p90: nearest_rank(&sorted, 90),
        p99: nearest_rank(&sorted, 99),
        count: sorted.len(),
    })
}

/// How pages are grouped for response times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseGroupBy {
    /// By lane (`wake`, `later`).
    Lane,
    /// By owning team ([`UNOWNED`] when missing).
    Team,
    /// By service.
    Service,
}

/// The names response times are kept under by dimension (the rollup stores them), one per
/// [`ResponseGroupBy`].
pub const LANE_DIMENSION: &str = "lane";
pub const TEAM_DIMENSION: &str = "team";
pub const SERVICE_DIMENSION: &str = "service";

/// Time to acknowledge and to resolve for one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseTimes {
    /// The group key.
    pub key: String,
    /// `acknowledged_at - triggered_at`, over acknowledged pages.
    pub ack: Option<Percentiles>,
    /// `resolved_at - triggered_at`, over resolved pages.
    pub resolve: Option<Percentiles>,
}

/// Percentiles of time to acknowledge and to resolve per group, in key order. Pages not (yet)
/// acknowledged or resolved are left out of that figure; a negative duration (a source
/// reporting the acknowledgement before the trigger) is a data error and is left out too,
/// rather than clamped to a misleading zero.
pub fn time_to_ack_and_resolve(pages: &[DebtPage], group_by: ResponseGroupBy) -> Vec<ResponseTimes> {
    let mut groups: BTreeMap<String, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for page in pages {
        let key = match group_by {
            ResponseGroupBy::Lane => page.lane.clone(),
            ResponseGroupBy::Team => page.team.clone().unwrap_or_else(|| UNOWNED.to_owned()),
            ResponseGroupBy::Service => page.service.clone(),
        };
        let entry = groups.entry(key).or_default();
        let since_trigger = |at: DateTime<Utc>| Some((at - page.triggered_at).num_seconds()).filter(|s| *s >= 0);
        entry.0.extend(page.acknowledged_at.and_then(since_trigger));
        entry.1.extend(page.resolved_at.and_then(since_trigger));
    }
    groups
        .into_iter()
        .map(|(key, (ack, resolve))| ResponseTimes { key, ack: percentiles(&ack), resolve: percentiles(&resolve) })
        .collect()
}

/// One alert's noise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoisyAlert {
    /// The alert key.
    pub alert_key: String,
    /// Pages of the alert.
    pub pages: u64,
    /// Pages with an actionable answer (the share's denominator).
    pub answered: u64,
    /// Pages answered as not actionable.
    pub non_actionable: u64,
    /// `non_actionable / answered` in percent, one decimal, half away from zero; `None` when
    /// nobody answered.
    pub non_actionable_share: Option<Decimal>,
}

/// Share of non-actionable pages per alert key (pages without a key are skipped: nothing
/// repeats). Sorted by share desc (unanswered last), then pages desc, then key.
pub fn noisy_alerts(pages: &[DebtPage]) -> Vec<NoisyAlert> {
    let mut counts: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for page in pages {
        let Some(key) = page.alert_key.as_deref() else { continue };
        let entry = counts.entry(key).or_default();
        entry.0 += 1;
        entry.1 += u64::from(page.actionable.is_some());
        entry.2 += u64::from(page.actionable == Some(false));
    }
    noisy_from_counts(counts.into_iter().map(|(key, counts)| (key.to_owned(), counts)))
}

/// [`noisy_alerts`] from counts already made: (alert key, (pages, answered, non-actionable)).
pub fn noisy_from_counts(counts: impl IntoIterator<Item = (String, (u64, u64, u64))>) -> Vec<NoisyAlert> {
    let mut out: Vec<NoisyAlert> = counts
        .into_iter()
        .map(|(alert_key, (pages, answered, non_actionable))| NoisyAlert {
            alert_key,
            pages,
            answered,
            non_actionable,
            non_actionable_share: (answered > 0).then(|| {
                (Decimal::from(non_actionable) * Decimal::ONE_HUNDRED / Decimal::from(answered))
                    .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
            }),
        })
        .collect();
    // `Option`'s order puts `None` first, so the descending sort puts unanswered alerts last.
    out.sort_by(|a, b| {
        b.non_actionable_share
            .cmp(&a.non_actionable_share)
            .then_with(|| b.pages.cmp(&a.pages))
            .then_with(|| a.alert_key.cmp(&b.alert_key))
    });
    out
}

/// Pages of one un-owned service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnownedService {
    /// The service without an owning team.
    pub service: String,
    /// How many pages it raised.
    pub pages: u64,
}

/// Pages for services without an owning team, by pages desc then service.
pub fn unowned_pages(pages: &[DebtPage]) -> Vec<UnownedService> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for page in pages.iter().filter(|page| page.team.is_none()) {
        *counts.entry(page.service.as_str()).or_default() += 1;
    }
    unowned_from_counts(counts.into_iter().map(|(service, pages)| (service.to_owned(), pages)))
}

/// [`unowned_pages`] from counts already made: (service, pages).
pub fn unowned_from_counts(counts: impl IntoIterator<Item = (String, u64)>) -> Vec<UnownedService> {
    let mut out: Vec<UnownedService> =
        counts.into_iter().map(|(service, pages)| UnownedService { service, pages }).collect();
    out.sort_by(|a, b| b.pages.cmp(&a.pages).then_with(|| a.service.cmp(&b.service)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap()
    }

    fn page(id: u32, alert: Option<&str>, team: Option<&str>, lane: &str, actionable: Option<bool>) -> DebtPage {
        DebtPage {
            id: format!("p{id}"),
            alert_key: alert.map(str::to_owned),
            service: "api".into(),
            team: team.map(str::to_owned),
            triggered_at: at(2026, 10, 3, 2, 0),
            acknowledged_at: None,
            resolved_at: None,
            lane: lane.into(),
            actionable,
            night: false,
            out_of_hours: false,
        }
    }

    #[test]
    fn out_of_hours_against_the_bar() {
        let end = at(2026, 11, 1, 0, 0);
        let p = |person: &str, when, ooh, night| PersonPage {
            person: person.into(),
            triggered_at: when,
            out_of_hours: ooh,
            night,
        };
        let pages = vec![
            // ana: 4 out of hours in the window (2 at night) → over the bar.
            p("ana", at(2026, 10, 1, 2, 0), true, true),
            p("ana", at(2026, 9, 1, 2, 0), true, true),
            p("ana", at(2026, 8, 1, 19, 0), true, false),
            p("ana", at(2025, 11, 2, 19, 0), true, false),
            // ...and one exactly 365 days before the end: outside (the window is half-open).
            p("ana", at(2025, 11, 1, 0, 0), true, true),
            // bob: 3, at the bar but not over it; one business-hours page doesn't count.
            p("bob", at(2026, 10, 1, 2, 0), true, true),
            p("bob", at(2026, 10, 2, 2, 0), true, false),
            p("bob", at(2026, 10, 3, 2, 0), true, false),
            p("bob", at(2026, 10, 5, 10, 0), false, false),
            // carl: only before the window → listed with zeros.
            p("carl", at(2024, 1, 1, 2, 0), true, true),
        ];
        let loads = out_of_hours_per_person(&pages, end, DEFAULT_WINDOW_DAYS);
        assert_eq!(
            loads,
            vec![
                PersonLoad { person: "ana".into(), out_of_hours: 4, night: 2, over_bar: true },
                PersonLoad { person: "bob".into(), out_of_hours: 3, night: 1, over_bar: false },
                PersonLoad { person: "carl".into(), out_of_hours: 0, night: 0, over_bar: false },
            ]
        );
    }

    #[test]
    fn bad_night_rule_across_the_autumn_dst_change_in_london() {
        // Clocks go back in London at 02:00 BST on Sunday 25 Oct 2026 (01:00 UTC).
        let london = WorkingCalendar::new(chrono_tz::Europe::London);
        let calendars: BTreeMap<String, WorkingCalendar> =
            [("ana".to_owned(), london.clone()), ("bob".to_owned(), london.clone())].into();
        // ana is paged at 21:30 UTC on the 24th = 22:30 BST: the night of the 24th (a UTC
        // reading would say 21:30, not night at all).
        assert_eq!(night_of(&london, at(2026, 10, 24, 21, 30)), Some(date(2026, 10, 24)));
        // bob is paged at 01:30 UTC on the 25th = 01:30 GMT (after the change): same night.
        assert_eq!(night_of(&london, at(2026, 10, 25, 1, 30)), Some(date(2026, 10, 24)));
        // The night of the 24th runs 22:00 BST (21:00 UTC) to 08:00 GMT (08:00 UTC): 11 hours.
        assert_eq!(night_bounds(&london, date(2026, 10, 24)), (at(2026, 10, 24, 21, 0), at(2026, 10, 25, 8, 0)));
        // The next night starts at 22:00 GMT = 22:00 UTC on the 25th.
        assert_eq!(night_bounds(&london, date(2026, 10, 25)).0, at(2026, 10, 25, 22, 0));

        let pages = vec![
            NightPage { person: "ana".into(), at: at(2026, 10, 24, 21, 30) },
            NightPage { person: "bob".into(), at: at(2026, 10, 25, 1, 30) },
            // 12:00 UTC is daytime: ignored.
            NightPage { person: "carl".into(), at: at(2026, 10, 24, 12, 0) },
        ];
        let shifts = vec![
            // ana's evening shift ends 22:30 UTC on the 25th = 22:30 GMT: 30 min into the next night.
            Shift { person: "ana".into(), start: at(2026, 10, 25, 17, 0), end: at(2026, 10, 25, 22, 30) },
            // bob's ends 22:00 UTC = 22:00 GMT, exactly when the night starts: no overlap. Had
            // the code kept BST (22:00 = 21:00 UTC) it would wrongly flag bob.
            Shift { person: "bob".into(), start: at(2026, 10, 25, 17, 0), end: at(2026, 10, 25, 22, 0) },
            Shift { person: "carl".into(), start: at(2026, 10, 20, 0, 0), end: at(2026, 10, 30, 0, 0) },
        ];
        assert_eq!(
            on_call_after_bad_night(&shifts, &pages, &calendars),
            vec![Violation { person: "ana".into(), bad_night: date(2026, 10, 24), next_night: date(2026, 10, 25) }]
        );
    }

    #[test]
    fn spring_forward_night_is_nine_hours() {
        // 29 Mar 2026: 01:00 GMT jumps to 02:00 BST. Night of the 28th: 22:00 GMT → 08:00 BST.
        let london = WorkingCalendar::new(chrono_tz::Europe::London);
        assert_eq!(night_bounds(&london, date(2026, 3, 28)), (at(2026, 3, 28, 22, 0), at(2026, 3, 29, 7, 0)));
    }

    #[test]
    fn rotation_sizes_against_five_to_eight() {
        let team = |n: usize| (0..n).map(|i| format!("p{i}")).collect::<Vec<_>>();
        let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
        members.insert("a".into(), team(4));
        members.insert("b".into(), team(5));
        members.insert("c".into(), team(8));
        members.insert("d".into(), team(9));
        // Duplicates count once: 4 distinct people.
        members.insert("e".into(), [team(4), team(2)].concat());
        let statuses: Vec<(usize, RotationStatus)> =
            rotation_sizes(&members).into_iter().map(|r| (r.size, r.status)).collect();
        assert_eq!(
            statuses,
            vec![
                (4, RotationStatus::TooSmall),
                (5, RotationStatus::Healthy),
                (8, RotationStatus::Healthy),
                (9, RotationStatus::Large),
                (4, RotationStatus::TooSmall),
            ]
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let hundred: Vec<i64> = (1..=100).rev().collect();
        assert_eq!(percentiles(&hundred), Some(Percentiles { p50: 50, p90: 90, p99: 99, count: 100 }));
        assert_eq!(percentiles(&[]), None);
        assert_eq!(percentiles(&[7]), Some(Percentiles { p50: 7, p90: 7, p99: 7, count: 1 }));
        // n = 10: ranks ceil(5) = 5, ceil(9) = 9, ceil(9.9) = 10.
        let ten: Vec<i64> = (1..=10).map(|i| i * 10).collect();
        assert_eq!(percentiles(&ten), Some(Percentiles { p50: 50, p90: 90, p99: 100, count: 10 }));
        // n = 3: ranks ceil(1.5) = 2, ceil(2.7) = 3, ceil(2.97) = 3.
        assert_eq!(percentiles(&[300, 100, 200]), Some(Percentiles { p50: 200, p90: 300, p99: 300, count: 3 }));
    }

    #[test]
    fn ack_and_resolve_by_lane_and_team() {
        let mut a = page(1, Some("k"), Some("db"), "wake", None);
        a.acknowledged_at = Some(a.triggered_at + Duration::seconds(60));
        a.resolved_at = Some(a.triggered_at + Duration::seconds(600));
        let mut b = page(2, Some("k"), None, "wake", None);
        b.acknowledged_at = Some(b.triggered_at + Duration::seconds(180));
        let mut c = page(3, Some("k"), Some("db"), "later", None);
        // Acknowledged before triggered: a data error, left out.
        c.acknowledged_at = Some(c.triggered_at - Duration::seconds(5));
        let by_lane = time_to_ack_and_resolve(&[a.clone(), b.clone(), c.clone()], ResponseGroupBy::Lane);
        assert_eq!(by_lane.len(), 2);
        assert_eq!((by_lane[0].key.as_str(), by_lane[0].ack, by_lane[0].resolve), ("later", None, None));
        assert_eq!(by_lane[1].ack, Some(Percentiles { p50: 60, p90: 180, p99: 180, count: 2 }));
        assert_eq!(by_lane[1].resolve, Some(Percentiles { p50: 600, p90: 600, p99: 600, count: 1 }));
        let by_team = time_to_ack_and_resolve(&[a, b, c], ResponseGroupBy::Team);
        let keys: Vec<&str> = by_team.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, vec![UNOWNED, "db"]);
    }

    #[test]
    fn noisy_alerts_and_unowned() {
        let pages = vec![
            // flap: 2 of 3 answered not actionable → 66.7%
            page(1, Some("flap"), Some("db"), "wake", Some(false)),
            page(2, Some("flap"), Some("db"), "wake", Some(false)),
            page(3, Some("flap"), Some("db"), "wake", Some(true)),
            // loud: 1 of 1 answered → 100%, 2 pages
            page(4, Some("loud"), None, "wake", Some(false)),
            page(5, Some("loud"), None, "wake", None),
            // quiet: nobody answered → last
            page(6, Some("quiet"), Some("db"), "wake", None),
            page(7, None, None, "wake", Some(false)),
        ];
        let noisy = noisy_alerts(&pages);
        let summary: Vec<(&str, u64, Option<Decimal>)> =
            noisy.iter().map(|n| (n.alert_key.as_str(), n.pages, n.non_actionable_share)).collect();
        assert_eq!(summary, vec![("loud", 2, Some(dec!(100.0))), ("flap", 3, Some(dec!(66.7))), ("quiet", 1, None)]);
        assert_eq!(unowned_pages(&pages), vec![UnownedService { service: "api".into(), pages: 3 }]);
    }
}
