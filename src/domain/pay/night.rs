//! Per-night standby: which shifts earn the night of a local date.
//!
//! Policy (the rule, exactly; `standby.mode = "per_night"`):
//!
//! - **Cut-off** (default, `night_minimum_hours` unset): the night of local date D is earned
//!   by a shift that starts before the end of D and runs until at least `night_cutoff`
//!   (default 06:00) local time on D+1.
//! - **Minimum hours** (`night_minimum_hours = N`, with `night_boundary = B`, default 00:00):
//!   the night of local date D is the window from B on D to B on D+1 (local times; where B
//!   does not exist on a DST day, the first instant after the gap). A shift earns the night
//!   of D when the part of the window it covers, counted from the shift's start (or from
//!   the window's start when the shift began earlier) to its end (or to the window's end),
//!   lasts at least N hours of real elapsed time. A window shorter than N hours (a DST day of
//!   23 hours with N = 24) is earned by a shift covering all of it. N = 0 means any covered
//!   second earns it. With N = 6 and B = 00:00, a shift 18:01–00:00 covers 5 h 59 min of the
//!   night of its date and earns nothing; 17:00–23:30 covers 6 h 30 min and earns it.
//!   A shift crossing B counts on each side separately: 20:00–08:00 covers 4 h of one window
//!   and 8 h of the next, so with N = 6 and B = 00:00 it earns the night of the second date
//!   (a boundary of 12:00 keeps such shifts in one window).
//!
//! Either way one shift must qualify alone (two shifts handing over do not add up), the
//! night is placed at the start of local date D (its period), it is a weekend night when
//! D's weekday is in `weekend_nights` and a holiday night when D is a holiday; rates and
//! role multipliers are as for every standby line.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(clippy::float_arithmetic, clippy::as_conversions)]

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::domain::policy::StandbyRule;
use crate::domain::time_class::WorkingCalendar;

const SECONDS_PER_HOUR: i64 = 3600;

/// How a night is earned, read from a policy's standby rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightRule {
    /// The shift runs until at least this local time on the next day.
    Cutoff(NaiveTime),
    /// The shift covers at least `hours` of the window between two `boundary` times.
    MinimumHours { hours: i64, boundary: NaiveTime },
}

impl NightRule {
    /// The rule a standby policy states.
    pub fn of(standby: &StandbyRule) -> NightRule {
        match standby.night_minimum_hours {
            Some(hours) => {
                NightRule::MinimumHours { hours, boundary: standby.night_boundary.unwrap_or(NaiveTime::MIN) }
            }
            None => NightRule::Cutoff(standby.night_cutoff),
        }
    }

    /// Whether a shift over `[start, end)` earns the night of local date `date` in
    /// `calendar`'s zone. `false` for the last representable date.
    pub fn earns(&self, calendar: &WorkingCalendar, date: NaiveDate, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        let Some(next) = date.succ_opt() else { return false };
        match *self {
            NightRule::Cutoff(cutoff) => {
                let (_, day_end) = calendar.day_bounds(date);
                start < day_end && end >= calendar.first_instant_at_or_after(next.and_time(cutoff))
            }
            NightRule::MinimumHours { hours, boundary } => {
                let (window_start, window_end) = night_window(calendar, date, next, boundary);
                let covered = (end.min(window_end) - start.max(window_start)).num_seconds();
                let needed = hours.saturating_mul(SECONDS_PER_HOUR).min((window_end - window_start).num_seconds());
                covered > 0 && covered >= needed
            }
        }
    }

    /// The phrase saying what the shift did to earn the night, for a line's explanation.
    pub fn describe(&self, date: NaiveDate) -> String {
        let next = date.succ_opt().unwrap_or(date);
        match *self {
            NightRule::Cutoff(cutoff) => format!("until at least {} {}", next.format("%a"), cutoff.format("%H:%M")),
            NightRule::MinimumHours { hours, boundary } => format!(
                "at least {hours} h between {} {} and {} {}",
                date.format("%a"),
                boundary.format("%H:%M"),
                next.format("%a"),
                boundary.format("%H:%M")
            ),
        }
    }
}

/// The window of the night of `date` under a boundary: from `boundary` on `date` to
/// `boundary` on `next`, each the first instant at or after that local time.
fn night_window(
    calendar: &WorkingCalendar,
    date: NaiveDate,
    next: NaiveDate,
    boundary: NaiveTime,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        calendar.first_instant_at_or_after(date.and_time(boundary)),
        calendar.first_instant_at_or_after(next.and_time(boundary)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::London;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn six_from_midnight() -> NightRule {
        NightRule::MinimumHours { hours: 6, boundary: NaiveTime::MIN }
    }

    #[test]
    fn six_hours_from_the_start_before_midnight() {
        let calendar = WorkingCalendar::new(London);
        let rule = six_from_midnight();
        // January: London is UTC+0. (start, end, date asked, earns?)
        let table = [
            ("2026-01-12T18:01:00Z", "2026-01-13T00:00:00Z", "2026-01-12", false), // 5 h 59 min
            ("2026-01-12T17:00:00Z", "2026-01-12T23:30:00Z", "2026-01-12", true),  // 6 h 30 min
            ("2026-01-12T18:00:00Z", "2026-01-13T00:00:00Z", "2026-01-12", true),  // exactly 6 h
            ("2026-01-12T18:00:01Z", "2026-01-13T00:00:00Z", "2026-01-12", false), // 1 s short
            ("2026-01-12T18:01:00Z", "2026-01-13T00:00:00Z", "2026-01-13", false), // ends at the boundary
            // Overnight 20:00–08:00: 4 h before midnight, 8 h after: the next date's night.
            ("2026-01-12T20:00:00Z", "2026-01-13T08:00:00Z", "2026-01-12", false),
            ("2026-01-12T20:00:00Z", "2026-01-13T08:00:00Z", "2026-01-13", true),
            // A week-long shift earns every night inside it.
            ("2026-01-10T09:00:00Z", "2026-01-17T09:00:00Z", "2026-01-12", true),
            // A shift wholly before or after the window earns nothing.
            ("2026-01-11T10:00:00Z", "2026-01-11T23:00:00Z", "2026-01-12", false),
            ("2026-01-13T00:00:00Z", "2026-01-13T07:00:00Z", "2026-01-12", false),
        ];
        for (start, end, asked, expected) in table {
            assert_eq!(
                rule.earns(&calendar, date(asked), utc(start), utc(end)),
                expected,
                "{start}–{end} night of {asked}"
            );
        }
    }

    #[test]
    fn a_noon_boundary_keeps_an_overnight_shift_in_one_night() {
        let calendar = WorkingCalendar::new(London);
        let rule = NightRule::MinimumHours { hours: 6, boundary: time("12:00") };
        let (start, end) = (utc("2026-01-12T20:00:00Z"), utc("2026-01-13T08:00:00Z"));
        assert!(rule.earns(&calendar, date("2026-01-12"), start, end));
        assert!(!rule.earns(&calendar, date("2026-01-13"), start, end));
        assert!(!rule.earns(&calendar, date("2026-01-11"), start, end));
    }

    #[test]
    fn hours_are_real_elapsed_time_on_dst_days() {
        let calendar = WorkingCalendar::new(London);
        // Spring forward: Sun 29 Mar 2026, 01:00 GMT → 02:00 BST; the day lasts 23 h.
        // Sat 28 Mar 22:00 GMT → Sun 29 Mar 04:00 BST is 5 h of real time (22:00Z → 03:00Z),
        // although the local clock shows 6 h.
        let rule = NightRule::MinimumHours { hours: 6, boundary: time("12:00") };
        assert!(!rule.earns(&calendar, date("2026-03-28"), utc("2026-03-28T22:00:00Z"), utc("2026-03-29T03:00:00Z")));
        assert!(rule.earns(&calendar, date("2026-03-28"), utc("2026-03-28T22:00:00Z"), utc("2026-03-29T04:00:00Z")));
        // Fall back: Sun 25 Oct 2026, 02:00 BST → 01:00 GMT; the day lasts 25 h.
        // Sat 24 Oct 23:00 BST (22:00Z) → Sun 25 Oct 03:00 GMT (03:00Z) is 5 h of real time,
        // though the local clock shows 4 h: with N = 5 it earns the night.
        let rule = NightRule::MinimumHours { hours: 5, boundary: time("12:00") };
        assert!(rule.earns(&calendar, date("2026-10-24"), utc("2026-10-24T22:00:00Z"), utc("2026-10-25T03:00:00Z")));
        assert!(!rule.earns(&calendar, date("2026-10-24"), utc("2026-10-24T22:00:01Z"), utc("2026-10-25T03:00:00Z")));
    }

    #[test]
    fn twenty_four_hours_on_a_23_hour_day_is_the_whole_window() {
        let calendar = WorkingCalendar::new(London);
        let rule = NightRule::MinimumHours { hours: 24, boundary: NaiveTime::MIN };
        // Sun 29 Mar 2026 lasts 23 h (00:00Z → 23:00Z): covering it all earns the night.
        assert!(rule.earns(&calendar, date("2026-03-29"), utc("2026-03-29T00:00:00Z"), utc("2026-03-29T23:00:00Z")));
        assert!(!rule.earns(&calendar, date("2026-03-29"), utc("2026-03-29T00:00:01Z"), utc("2026-03-29T23:00:00Z")));
        // Sun 25 Oct 2026 lasts 25 h (Sat 23:00Z → Sun 24:00Z): 24 h of it are enough.
        assert!(rule.earns(&calendar, date("2026-10-25"), utc("2026-10-24T23:00:00Z"), utc("2026-10-25T23:00:00Z")));
        assert!(!rule.earns(&calendar, date("2026-10-25"), utc("2026-10-24T23:00:01Z"), utc("2026-10-25T23:00:00Z")));
    }

    #[test]
    fn a_boundary_in_the_spring_gap_starts_after_the_gap() {
        let calendar = WorkingCalendar::new(London);
        // 01:30 does not exist on Sun 29 Mar 2026: the window of Sat 28 ends at 02:00 BST
        // (01:00Z), 24 h after Sat 01:30 GMT minus the lost half hour: 23 h 30 min long.
        let rule = NightRule::MinimumHours { hours: 24, boundary: time("01:30") };
        assert!(rule.earns(&calendar, date("2026-03-28"), utc("2026-03-28T01:30:00Z"), utc("2026-03-29T01:00:00Z")));
        assert!(!rule.earns(&calendar, date("2026-03-28"), utc("2026-03-28T01:30:00Z"), utc("2026-03-29T00:59:59Z")));
    }

    #[test]
    fn zero_hours_needs_one_covered_second() {
        let calendar = WorkingCalendar::new(London);
        let rule = NightRule::MinimumHours { hours: 0, boundary: NaiveTime::MIN };
        assert!(rule.earns(&calendar, date("2026-01-12"), utc("2026-01-12T23:59:59Z"), utc("2026-01-13T00:00:00Z")));
        assert!(!rule.earns(&calendar, date("2026-01-12"), utc("2026-01-13T00:00:00Z"), utc("2026-01-13T01:00:00Z")));
    }

    #[test]
    fn the_cut_off_rule_is_unchanged() {
        let calendar = WorkingCalendar::new(London);
        let rule = NightRule::Cutoff(time("06:00"));
        assert!(rule.earns(&calendar, date("2026-01-12"), utc("2026-01-12T18:01:00Z"), utc("2026-01-13T06:00:00Z")));
        assert!(!rule.earns(&calendar, date("2026-01-12"), utc("2026-01-12T18:01:00Z"), utc("2026-01-13T05:59:59Z")));
        // With a midnight cut-off, 18:01–00:00 earns a full night (the finding).
        let midnight = NightRule::Cutoff(NaiveTime::MIN);
        assert!(midnight.earns(
            &calendar,
            date("2026-01-12"),
            utc("2026-01-12T18:01:00Z"),
            utc("2026-01-13T00:00:00Z")
        ));
        assert!(!six_from_midnight().earns(
            &calendar,
            date("2026-01-12"),
            utc("2026-01-12T18:01:00Z"),
            utc("2026-01-13T00:00:00Z")
        ));
    }

    #[test]
    fn the_last_date_has_no_night() {
        let calendar = WorkingCalendar::new(London);
        assert!(!six_from_midnight().earns(
            &calendar,
            NaiveDate::MAX,
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC
        ));
    }

    #[test]
    fn explanations_name_the_rule() {
        assert_eq!(six_from_midnight().describe(date("2026-01-12")), "at least 6 h between Mon 00:00 and Tue 00:00");
        assert_eq!(NightRule::Cutoff(time("06:00")).describe(date("2026-01-12")), "until at least Tue 06:00");
    }
}
