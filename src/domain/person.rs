//! A responder's identity and the calendar facts pay depends on.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;

use super::field_error::FieldError;

/// Parses an IANA time zone name (`Europe/London`), naming the field when it is unknown.
pub fn parse_timezone(field: &str, name: &str) -> Result<Tz, FieldError> {
    Tz::from_str(name).map_err(|_| {
        FieldError::new(field, format!("unknown time zone `{name}`: expected an IANA name such as Europe/London"))
    })
}

/// Working hours per weekday, in the person's local time. A day absent is not worked.
///
/// Written as `{"mon": "09:00-17:00", …}` so that a person (or finance) can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    days: BTreeMap<u8, (NaiveTime, NaiveTime)>,
}

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

impl Default for WorkingHours {
    /// Monday to Friday, 09:00 to 17:00.
    fn default() -> Self {
        let (start, end) = (hm(9, 0), hm(17, 0));
        let days = (0..5).map(|day| (day, (start, end))).collect();
        WorkingHours { days }
    }
}

fn hm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN)
}

impl WorkingHours {
    /// Parses `{"mon": "09:00-17:00", …}`; `field` prefixes the error path.
    pub fn parse(field: &str, map: &BTreeMap<String, String>) -> Result<WorkingHours, FieldError> {
        let mut days = BTreeMap::new();
        for (name, span) in map {
            let day = DAY_NAMES.iter().position(|(known, _)| known == name).ok_or_else(|| {
                FieldError::new(format!("{field}.{name}"), "unknown day: expected mon, tue, wed, thu, fri, sat or sun")
            })?;
            let parsed = span
                .split_once('-')
                .and_then(|(start, end)| {
                    Some((
                        NaiveTime::parse_from_str(start.trim(), "%H:%M").ok()?,
                        NaiveTime::parse_from_str(end.trim(), "%H:%M").ok()?,
                    ))
                })
                .ok_or_else(|| {
                    FieldError::new(format!("{field}.{name}"), format!("expected HH:MM-HH:MM, got `{span}`"))
                })?;
            if parsed.1 <= parsed.0 {
                return Err(FieldError::new(format!("{field}.{name}"), "end must be after start"));
            }
            days.insert(u8::try_from(day).unwrap_or(0), parsed);
        }
        Ok(WorkingHours { days })
    }

    /// The hours worked on a weekday, if any.
    pub fn on(&self, weekday: Weekday) -> Option<(NaiveTime, NaiveTime)> {
        let index = u8::try_from(weekday.num_days_from_monday()).ok()?;
        self.days.get(&index).copied()
    }

    /// The readable map form, `{"mon": "09:00-17:00", …}`.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.days
            .iter()
            .filter_map(|(day, (start, end))| {
                let (name, _) = DAY_NAMES.get(usize::from(*day))?;
                Some(((*name).to_owned(), format!("{}-{}", start.format("%H:%M"), end.format("%H:%M"))))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_time_zones_name_the_field() {
        assert_eq!(parse_timezone("timezone", "Europe/Lndon").unwrap_err().field, "timezone");
        assert!(parse_timezone("timezone", "America/New_York").is_ok());
    }

    #[test]
    fn working_hours_round_trip() {
        let map: BTreeMap<String, String> =
            [("mon".to_owned(), "08:30-16:30".to_owned()), ("sat".to_owned(), "10:00-14:00".to_owned())].into();
        let hours = WorkingHours::parse("working_hours", &map).unwrap();
        assert_eq!(hours.on(Weekday::Mon), Some((hm(8, 30), hm(16, 30))));
        assert_eq!(hours.on(Weekday::Tue), None);
        assert_eq!(hours.to_map(), map);
        assert_eq!(WorkingHours::default().to_map().len(), 5);
    }

    #[test]
    fn bad_working_hours_name_the_day() {
        let map: BTreeMap<String, String> = [("tue".to_owned(), "17:00-09:00".to_owned())].into();
        assert_eq!(WorkingHours::parse("working_hours", &map).unwrap_err().field, "working_hours.tue");
        let map: BTreeMap<String, String> = [("funday".to_owned(), "09:00-17:00".to_owned())].into();
        assert_eq!(WorkingHours::parse("working_hours", &map).unwrap_err().field, "working_hours.funday");
    }
}
