//! History-true people: a person's zone, working hours and holiday calendar (with team, cost
//! centre and loaded cost, which pricing does not read) change from a local date, and each
//! instant is priced by the version in force at it.
//!
//! Policy (the rule, exactly):
//! - A version is effective from a local date D, like a policy assignment. Dates before D
//!   are the previous version's, dates from D on the new one's.
//! - Its first instant is the **earlier** of the two local midnights that start D: the
//!   previous version's and the new version's (they differ when the zone changes). So the
//!   versions tile time with no gap and no overlap: a callout or response is priced by the
//!   version in force at its instant (trigger, start), hourly and daily standby second by
//!   second, and the night of a date by the version whose zone's midnight starts that date.
//!   Every date is then priced once: the night of D−1 in the old zone (it starts at the old
//!   midnight of D−1, before both midnights of D), the night of D and later in the new zone.
//! - A local day cut by a change is paid in parts: when the new zone is west of the old one
//!   (London → New York from D), the new zone's D−1 started before the change: the hours of
//!   it after the change are the new version's, at its day length (a DST day of 23 or 25
//!   hours pro-rates over its own length); the night of that D−1 is the old version's.
//! - Versions on consecutive dates whose midnights would run backwards (zones more than a
//!   day apart) keep their order: a version never starts before the previous one.
//! - Escalation and the cooldown look back at earlier pages through the calendar of the
//!   version pricing the page (an earlier page's out-of-hours class is read in today's zone).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(clippy::float_arithmetic, clippy::as_conversions)]

use chrono::{DateTime, NaiveDate, Utc};

use super::field_error::FieldError;
use super::pay::Payee;

/// The first date a version may be effective from: the date every person's first version
/// has. A change effective from it rewrites all of a person's history.
pub const EFFECTIVE_FROM_MIN: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// Checks the date a change is effective from: not before [`EFFECTIVE_FROM_MIN`], not after
/// `today` (the person's local date now; a version for a future date would leave the
/// people row, which holds the latest version, wrong until then). A date inside a closed
/// period is accepted: the ledger posts the difference into the next open period.
pub fn check_effective_from(field: &str, date: NaiveDate, today: NaiveDate) -> Result<(), FieldError> {
    if date < EFFECTIVE_FROM_MIN {
        return Err(FieldError::new(field, format!("{date} is before {EFFECTIVE_FROM_MIN}")));
    }
    if date > today {
        return Err(FieldError::new(
            field,
            format!("{date} is after today ({today}): changes take effect from today or earlier"),
        ));
    }
    Ok(())
}

/// The version in force on local date `date`: the latest effective on or before it (the
/// earliest when all start later). `versions` are in date order.
pub fn in_force_on<T>(versions: &[T], date: NaiveDate, effective_from: impl Fn(&T) -> NaiveDate) -> Option<&T> {
    let started = versions.partition_point(|version| effective_from(version) <= date);
    versions.get(started.saturating_sub(1))
}

/// A person's pricing versions over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayHistory {
    /// Each version with its first instant, in time order; the first starts at the
    /// beginning of time.
    segments: Vec<(DateTime<Utc>, NaiveDate, Payee)>,
}

impl PayHistory {
    /// One version for all time.
    pub fn single(person: Payee) -> PayHistory {
        PayHistory { segments: vec![(DateTime::<Utc>::MIN_UTC, NaiveDate::MIN, person)] }
    }

    /// The history of versions effective from their dates (any order; `None` when empty).
    /// The earliest version also covers everything before its date.
    pub fn new(mut versions: Vec<(NaiveDate, Payee)>) -> Option<PayHistory> {
        versions.sort_by_key(|(date, _)| *date);
        let mut segments: Vec<(DateTime<Utc>, NaiveDate, Payee)> = Vec::with_capacity(versions.len());
        for (date, person) in versions {
            let start = match segments.last() {
                None => DateTime::<Utc>::MIN_UTC,
                Some((previous_start, _, previous)) => {
                    previous.calendar.day_start(date).min(person.calendar.day_start(date)).max(*previous_start)
                }
            };
            segments.push((start, date, person));
        }
        (!segments.is_empty()).then_some(PayHistory { segments })
    }

    /// The latest version.
    pub fn current(&self) -> &Payee {
        // `new` refuses an empty history, `single` has one version.
        &self.segments[self.segments.len() - 1].2
    }

    fn index_at(&self, instant: DateTime<Utc>) -> usize {
        self.segments.partition_point(|(start, _, _)| *start <= instant).saturating_sub(1)
    }

    /// The version in force at `instant`.
    pub fn at(&self, instant: DateTime<Utc>) -> &Payee {
        &self.segments[self.index_at(instant)].2
    }

    /// The local date of `instant` in the zone of the version in force at it: the date, and
    /// so the pay period, a line occurring then belongs to.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        self.at(instant).calendar.local(instant).date()
    }

    /// The latest instant at or before `instant` that starts a local day of the version in
    /// force there: where re-pricing may start so that every standby day is whole.
    pub fn day_start_at_or_before(&self, instant: DateTime<Utc>) -> DateTime<Utc> {
        let mut at = instant;
        loop {
            let index = self.index_at(at);
            let (segment_start, _, person) = &self.segments[index];
            let start = person.calendar.day_start(person.calendar.local(at).date());
            // A day that began before its version did belongs, up to the change, to the
            // previous version: start at that version's day instead.
            if start >= *segment_start || index == 0 {
                return start.min(at);
            }
            at = start;
        }
    }

    /// The versions over `[from, to)`: `(start, end, version)` clipped to it, in order,
    /// empty ones left out.
    pub fn within(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>, &Payee)> {
        let mut parts = Vec::new();
        for (index, (start, _, person)) in self.segments.iter().enumerate() {
            let end = self.segments.get(index + 1).map(|(next, _, _)| *next).unwrap_or(DateTime::<Utc>::MAX_UTC);
            let (low, high) = ((*start).max(from), end.min(to));
            if low < high {
                parts.push((low, high, person));
            }
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::currency::Currency;
    use crate::domain::pay::{self, Component, Facts, PageFact, ShiftFact};
    use crate::domain::policy::{PayPolicy, PolicyHistory, StandbyMode};
    use crate::domain::time_class::WorkingCalendar;
    use chrono_tz::{America::New_York, Asia::Tokyo, Europe::London, Tz};
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn gbp() -> Currency {
        "GBP".parse().unwrap()
    }

    fn alice(zone: Tz) -> Payee {
        Payee { id: "alice".into(), currency: gbp(), calendar: WorkingCalendar::new(zone) }
    }

    fn moved(to: Tz, on: &str) -> PayHistory {
        PayHistory::new(vec![(EFFECTIVE_FROM_MIN, alice(London)), (date(on), alice(to))]).unwrap()
    }

    fn policy(mode: StandbyMode) -> PolicyHistory {
        let mut policy = PayPolicy::with_defaults("standard", 1, date("2000-01-01"), gbp());
        policy.standby.mode = mode;
        PolicyHistory::new(vec![policy]).unwrap()
    }

    /// What pricing.rs does: each version prices its own part of the range.
    fn price(history: &PayHistory, facts: &Facts, policies: &PolicyHistory) -> Vec<pay::PricedLine> {
        let (from, to) = (utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
        let mut lines = Vec::new();
        for (low, high, person) in history.within(from, to) {
            lines.extend(pay::price_period(person, facts, policies, low, high).unwrap());
        }
        lines
    }

    fn shift(start: &str, end: &str) -> Facts {
        Facts {
            shifts: vec![ShiftFact {
                id: "s1".into(),
                person_id: "alice".into(),
                role: "primary".into(),
                start: utc(start),
                end: utc(end),
            }],
            ..Facts::default()
        }
    }

    #[test]
    fn a_change_starts_at_the_earlier_midnight_of_its_date() {
        // London → New York from Sun 29 Mar 2026 (London's 23-hour day): London's midnight
        // is 00:00Z, New York's (EDT since 8 Mar) 04:00Z: the earlier one.
        let west = moved(New_York, "2026-03-29");
        assert_eq!(west.within(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)[1].0, utc("2026-03-29T00:00:00Z"));
        // London → Tokyo from the same date: Tokyo's midnight is 28 Mar 15:00Z.
        let east = moved(Tokyo, "2026-03-29");
        assert_eq!(east.within(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)[1].0, utc("2026-03-28T15:00:00Z"));
        assert_eq!(east.at(utc("2026-03-28T14:59:59Z")).calendar.zone, London);
        assert_eq!(east.at(utc("2026-03-28T15:00:00Z")).calendar.zone, Tokyo);
        assert_eq!(east.current().calendar.zone, Tokyo);
        // Local dates follow the version in force.
        assert_eq!(west.local_date(utc("2026-03-29T02:00:00Z")), date("2026-03-28")); // 22:00 EDT
        assert_eq!(west.local_date(utc("2026-03-28T23:30:00Z")), date("2026-03-28")); // 23:30 GMT
    }

    #[test]
    fn re_pricing_starts_at_a_whole_day_of_the_version_in_force() {
        let west = moved(New_York, "2026-03-29");
        // 02:00Z on 29 Mar is 22:00 EDT on 28 Mar, whose day began (04:00Z on 28 Mar) in
        // London's time: re-pricing starts at London's midnight of 28 Mar.
        assert_eq!(west.day_start_at_or_before(utc("2026-03-29T02:00:00Z")), utc("2026-03-28T00:00:00Z"));
        // Later on, New York's own midnights.
        assert_eq!(west.day_start_at_or_before(utc("2026-03-30T12:00:00Z")), utc("2026-03-30T04:00:00Z"));
        assert_eq!(west.day_start_at_or_before(utc("2026-01-10T12:00:00Z")), utc("2026-01-10T00:00:00Z"));
        let east = moved(Tokyo, "2026-03-29");
        assert_eq!(east.day_start_at_or_before(utc("2026-03-28T16:00:00Z")), utc("2026-03-28T15:00:00Z"));
    }

    #[test]
    fn every_night_is_paid_once_across_a_change_of_zone() {
        // A shift 25 Mar → 2 Apr: nights of 25 Mar to 1 Apr, eight, wherever alice moves.
        let facts = shift("2026-03-25T12:00:00Z", "2026-04-02T12:00:00Z");
        let policies = policy(StandbyMode::PerNight);
        for history in [moved(New_York, "2026-03-29"), moved(Tokyo, "2026-03-29"), moved(London, "2026-03-29")] {
            let lines = price(&history, &facts, &policies);
            let nights: Vec<String> =
                lines.iter().map(|line| line.explanation.split(' ').take(3).collect::<Vec<_>>().join(" ")).collect();
            assert_eq!(lines.len(), 8, "{nights:?}");
            assert!(nights.iter().any(|night| night == "night of Sat"), "{nights:?}");
        }
        // The night of 28 Mar is London's, of 29 Mar New York's.
        let lines = price(&moved(New_York, "2026-03-29"), &facts, &policies);
        assert!(lines[3].explanation.contains("2026-03-28 Europe/London"), "{}", lines[3].explanation);
        assert!(lines[4].explanation.contains("2026-03-29 America/New_York"), "{}", lines[4].explanation);
    }

    #[test]
    fn every_second_of_hourly_standby_is_paid_once_across_a_change_on_a_dst_day() {
        // 27 Mar 00:00Z → 31 Mar 00:00Z is 96 h; the change to New York from 29 Mar (London's
        // 23-hour day) splits New York's 28 Mar: 04:00Z–00:00Z London's (as part of London's
        // 28 Mar), 00:00Z–04:00Z New York's.
        let facts = shift("2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z");
        let policies = policy(StandbyMode::PerHour);
        let lines = price(&moved(New_York, "2026-03-29"), &facts, &policies);
        let minutes: Decimal = lines.iter().map(|line| line.quantity).sum();
        assert_eq!(minutes, dec!(5760));
        let zones: Vec<&str> =
            lines.iter().map(|line| if line.explanation.contains("New_York") { "NY" } else { "LDN" }).collect();
        assert_eq!(zones, ["LDN", "LDN", "NY", "NY", "NY"]);
        // New York's part of its 28 Mar is 4 h (a Saturday: weekend rate).
        assert_eq!(lines[2].quantity, dec!(240));
        assert!(lines[2].explanation.starts_with("Sat 2026-03-28 America/New_York"), "{}", lines[2].explanation);
    }

    #[test]
    fn a_daily_rate_is_pro_rated_over_each_zones_own_day_length() {
        // Per day: London's Sun 29 Mar lasts 23 h. Alice moves to London from New York on
        // 29 Mar: London's midnight (00:00Z) is earlier than New York's (04:00Z), so all of
        // London's 29 Mar is London's: 23 h of 23 h = one full weekend day (50.00).
        let history =
            PayHistory::new(vec![(EFFECTIVE_FROM_MIN, alice(New_York)), (date("2026-03-29"), alice(London))]).unwrap();
        let facts = shift("2026-03-29T00:00:00Z", "2026-03-29T23:00:00Z");
        let lines = price(&history, &facts, &policy(StandbyMode::PerDay));
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].component, lines[0].amount), (Component::Standby, dec!(50.00)));
        assert!(lines[0].explanation.contains("Europe/London"), "{}", lines[0].explanation);
    }

    #[test]
    fn earlier_facts_keep_their_old_zone() {
        // A page at 23:30Z on Fri 27 Mar: 23:30 in London (night), 19:30 in New York
        // (off hours). Priced before the change in London's zone whatever comes after.
        let facts = Facts {
            pages: vec![PageFact {
                id: "p1".into(),
                triggered_at: utc("2026-03-27T23:30:00Z"),
                acknowledged_at: Some(utc("2026-03-27T23:31:00Z")),
                resolved_at: Some(utc("2026-03-27T23:40:00Z")),
                acknowledged_by: Some("alice".into()),
            }],
            ..Facts::default()
        };
        let policies = policy(StandbyMode::PerDay);
        let before = price(&PayHistory::single(alice(London)), &facts, &policies);
        let after = price(&moved(New_York, "2026-03-29"), &facts, &policies);
        assert_eq!(before, after);
        assert!(after[0].explanation.contains("Europe/London ("), "{}", after[0].explanation);
        // Had the change been from 27 Mar, the page would be New York's.
        let earlier = price(&moved(New_York, "2026-03-27"), &facts, &policies);
        assert!(earlier[0].explanation.contains("America/New_York"), "{}", earlier[0].explanation);
    }

    #[test]
    fn the_version_in_force_is_the_latest_started() {
        let versions = [(date("1970-01-01"), "payments"), (date("2026-10-01"), "platform")];
        let team = |on: &str| in_force_on(&versions, date(on), |(from, _)| *from).map(|(_, team)| *team);
        assert_eq!(team("2026-09-30"), Some("payments"));
        assert_eq!(team("2026-10-01"), Some("platform"));
        assert_eq!(team("1969-01-01"), Some("payments"));
        let none: [(NaiveDate, &str); 0] = [];
        assert_eq!(in_force_on(&none, date("2026-10-01"), |(from, _)| *from), None);
    }

    #[test]
    fn the_effective_date_is_bounded() {
        let today = date("2026-12-03");
        assert!(check_effective_from("effective_from", date("1970-01-01"), today).is_ok());
        assert!(check_effective_from("effective_from", today, today).is_ok());
        let late = check_effective_from("effective_from", date("2026-12-04"), today).unwrap_err();
        assert_eq!(late.field, "effective_from");
        let early = check_effective_from("effective_from", date("1969-12-31"), today).unwrap_err();
        assert!(early.message.contains("1970-01-01"), "{}", early.message);
    }

    #[test]
    fn versions_never_run_backwards() {
        // Tokyo from 1 Apr, then Honolulu from 2 Apr (given out of order): the second change
        // starts at Tokyo's midnight of 2 Apr (1 Apr 15:00Z), the earlier; the parts tile.
        let history = PayHistory::new(vec![
            (date("2026-04-02"), alice(chrono_tz::Pacific::Honolulu)),
            (EFFECTIVE_FROM_MIN, alice(London)),
            (date("2026-04-01"), alice(Tokyo)),
        ])
        .unwrap();
        let parts = history.within(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        assert_eq!(parts.len(), 3);
        assert!(parts.windows(2).all(|pair| pair[0].1 == pair[1].0));
        assert_eq!(parts[2].2.calendar.zone, chrono_tz::Pacific::Honolulu);
        assert!(PayHistory::new(Vec::new()).is_none());
    }
}
