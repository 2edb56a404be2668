//! Built-in public-holiday calendars (`data/holidays/`), compiled into the binary.
//!
//! Holidays are data, not code: a calendar is a name (`GB-ENG`, `US`, `DE-BY`) and a set
//! of dates. The file is parsed once, on first use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::NaiveDate;

const PUBLIC_HOLIDAYS_CSV: &str = include_str!("../../data/holidays/public_holidays_2024_2028.csv");

fn calendars() -> &'static BTreeMap<String, BTreeSet<NaiveDate>> {
    static CALENDARS: OnceLock<BTreeMap<String, BTreeSet<NaiveDate>>> = OnceLock::new();
    CALENDARS.get_or_init(|| {
        let mut calendars: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
        for line in PUBLIC_HOLIDAYS_CSV.lines().skip(1) {
            let mut columns = line.splitn(4, ',');
            let (Some(country), Some(subdivision), Some(date)) = (columns.next(), columns.next(), columns.next())
            else {
                continue;
            };
            let Ok(date) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
                continue;
            };
            let name = if subdivision.is_empty() { country.to_owned() } else { format!("{country}-{subdivision}") };
            calendars.entry(name).or_default().insert(date);
        }
        calendars
    })
}

/// The dates of a built-in calendar, or `None` when no calendar has that name.
pub fn calendar(name: &str) -> Option<&'static BTreeSet<NaiveDate>> {
    calendars().get(name)
}

/// The names of the built-in calendars.
pub fn calendar_names() -> Vec<&'static str> {
    calendars().keys().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn calendars_are_named_by_country_and_subdivision() {
        let names = calendar_names();
        for expected in ["US", "GB-ENG", "GB-SCT", "DE", "DE-BY", "IN", "AU-NSW"] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        assert!(calendar("Narnia").is_none());
    }

    #[test]
    fn known_holidays_are_there() {
        // Christmas Day and Boxing Day 2026 in England; 26 Dec is no holiday in the US.
        let england = calendar("GB-ENG").unwrap();
        assert!(england.contains(&date(2026, 12, 25)) && england.contains(&date(2026, 12, 28)));
        let us = calendar("US").unwrap();
        assert!(us.contains(&date(2026, 7, 3)), "Independence Day 2026 is observed on Friday 3 July");
        assert!(!us.contains(&date(2026, 12, 26)));
        // St Andrew's Day is Scottish, not English.
        assert!(calendar("GB-SCT").unwrap().contains(&date(2026, 11, 30)));
        assert!(!england.contains(&date(2026, 11, 30)));
    }
}
