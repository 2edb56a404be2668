//! Pay periods: how dates are cut into the periods payroll closes.
//!
//! A scheme is fixed for a ledger (changing it would move history between periods):
//! monthly (the default), semi-monthly (1st–15th, 16th–end), or bi-weekly from an anchor
//! date. Periods are half-open date ranges `[starts_on, ends_on)`.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

/// How dates are grouped into pay periods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PeriodScheme {
    #[default]
    Monthly,
    SemiMonthly,
    /// Fourteen-day periods, one of which starts on `anchor`.
    BiWeekly {
        anchor: NaiveDate,
    },
}

/// One pay period.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PeriodSpan {
    /// `2026-10` (monthly), `2026-10-H1` / `2026-10-H2` (semi-monthly), `2026-10-05`
    /// (bi-weekly: its first day).
    pub id: String,
    pub starts_on: NaiveDate,
    /// The first day after the period.
    pub ends_on: NaiveDate,
}

fn first_of_month(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN)
}

fn first_of_next_month(date: NaiveDate) -> NaiveDate {
    if date.month() == 12 { first_of_month(date.year() + 1, 1) } else { first_of_month(date.year(), date.month() + 1) }
}

impl PeriodScheme {
    /// The period a date belongs to.
    pub fn period_of(&self, date: NaiveDate) -> PeriodSpan {
        match *self {
            PeriodScheme::Monthly => {
                let starts_on = first_of_month(date.year(), date.month());
                PeriodSpan { id: starts_on.format("%Y-%m").to_string(), starts_on, ends_on: first_of_next_month(date) }
            }
            PeriodScheme::SemiMonthly => {
                let month_start = first_of_month(date.year(), date.month());
                let middle = month_start + Duration::days(15);
                if date < middle {
                    PeriodSpan {
                        id: format!("{}-H1", month_start.format("%Y-%m")),
                        starts_on: month_start,
                        ends_on: middle,
                    }
                } else {
                    PeriodSpan {
                        id: format!("{}-H2", month_start.format("%Y-%m")),
                        starts_on: middle,
                        ends_on: first_of_next_month(date),
                    }
                }
            }
            PeriodScheme::BiWeekly { anchor } => {
                let offset_days = (date - anchor).num_days().rem_euclid(14);
                let starts_on = date - Duration::days(offset_days);
                PeriodSpan {
                    id: starts_on.format("%Y-%m-%d").to_string(),
                    starts_on,
                    ends_on: starts_on + Duration::days(14),
                }
            }
        }
    }

    /// The period named `id` (as [`PeriodSpan::id`] writes it); `None` when no period of
    /// this scheme has that id.
    pub fn span_of(&self, id: &str) -> Option<PeriodSpan> {
        let parse = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        let first_day = id.get(..10).and_then(parse).or_else(|| parse(&format!("{}-01", id.get(..7)?)))?;
        let mut span = self.period_of(first_day);
        // A semi-monthly id names its half: the second half is the period after the first.
        if span.id != id {
            span = self.next(&span);
        }
        (span.id == id).then_some(span)
    }

    /// The period right after `period`.
    pub fn next(&self, period: &PeriodSpan) -> PeriodSpan {
        self.period_of(period.ends_on)
    }
}

impl fmt::Display for PeriodScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodScheme::Monthly => f.write_str("monthly"),
            PeriodScheme::SemiMonthly => f.write_str("semi-monthly"),
            PeriodScheme::BiWeekly { anchor } => write!(f, "biweekly:{anchor}"),
        }
    }
}

impl FromStr for PeriodScheme {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "monthly" => Ok(PeriodScheme::Monthly),
            "semi-monthly" | "semimonthly" => Ok(PeriodScheme::SemiMonthly),
            other => other
                .strip_prefix("biweekly:")
                .and_then(|anchor| NaiveDate::parse_from_str(anchor, "%Y-%m-%d").ok())
                .map(|anchor| PeriodScheme::BiWeekly { anchor })
                .ok_or_else(|| {
                    format!("unknown pay period scheme `{text}`: expected monthly, semi-monthly or biweekly:YYYY-MM-DD")
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn monthly_periods_follow_the_calendar() {
        let october = PeriodScheme::Monthly.period_of(date(2026, 10, 31));
        assert_eq!(
            (october.id.as_str(), october.starts_on, october.ends_on),
            ("2026-10", date(2026, 10, 1), date(2026, 11, 1))
        );
        assert_eq!(PeriodScheme::Monthly.period_of(date(2026, 12, 5)).ends_on, date(2027, 1, 1));
        assert_eq!(PeriodScheme::Monthly.next(&october).id, "2026-11");
    }

    #[test]
    fn semi_monthly_splits_after_the_fifteenth() {
        assert_eq!(PeriodScheme::SemiMonthly.period_of(date(2026, 2, 15)).id, "2026-02-H1");
        let second = PeriodScheme::SemiMonthly.period_of(date(2026, 2, 16));
        assert_eq!((second.id.as_str(), second.ends_on), ("2026-02-H2", date(2026, 3, 1)));
    }

    #[test]
    fn bi_weekly_counts_from_the_anchor_both_ways() {
        let scheme: PeriodScheme = "biweekly:2026-01-05".parse().unwrap();
        assert_eq!(scheme.period_of(date(2026, 1, 18)).id, "2026-01-05");
        assert_eq!(scheme.period_of(date(2026, 1, 19)).id, "2026-01-19");
        assert_eq!(scheme.period_of(date(2025, 12, 22)).id, "2025-12-22");
        assert!("fortnightly".parse::<PeriodScheme>().is_err());
        assert_eq!(scheme.to_string(), "biweekly:2026-01-05");
    }

    #[test]
    fn a_period_is_found_by_its_id() {
        let biweekly: PeriodScheme = "biweekly:2026-01-05".parse().unwrap();
        for (scheme, date) in [
            (PeriodScheme::Monthly, date(2026, 10, 31)),
            (PeriodScheme::SemiMonthly, date(2026, 2, 3)),
            (PeriodScheme::SemiMonthly, date(2026, 2, 28)),
            (biweekly, date(2026, 1, 30)),
        ] {
            let span = scheme.period_of(date);
            assert_eq!(scheme.span_of(&span.id), Some(span));
        }
        assert_eq!(PeriodScheme::Monthly.span_of("2026-13"), None);
        assert_eq!(PeriodScheme::Monthly.span_of("2026-10-H1"), None);
        assert_eq!(biweekly.span_of("2026-01-06"), None);
        assert_eq!(PeriodScheme::SemiMonthly.span_of("2026"), None);
    }

    proptest! {
        #[test]
        fn every_date_is_in_exactly_its_period(days in -3_000_i64..3_000, scheme_index in 0_usize..3) {
            let schemes = [PeriodScheme::Monthly, PeriodScheme::SemiMonthly, PeriodScheme::BiWeekly { anchor: date(2026, 1, 5) }];
            let scheme = schemes[scheme_index];
            let day = date(2026, 6, 1) + Duration::days(days);
            let period = scheme.period_of(day);
            prop_assert!(period.starts_on <= day && day < period.ends_on);
            // Periods tile the calendar: the next one starts where this one ends.
            prop_assert_eq!(scheme.next(&period).starts_on, period.ends_on);
            prop_assert_eq!(scheme.period_of(period.starts_on), period.clone());
        }
    }
}
