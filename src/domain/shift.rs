//! Shifts: a person on call from `start` to `end`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::field_error::FieldError;

/// The place a shift has in its rota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShiftRole {
    Primary,
    Secondary,
    Backup,
}

impl ShiftRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ShiftRole::Primary => "primary",
            ShiftRole::Secondary => "secondary",
            ShiftRole::Backup => "backup",
        }
    }

    pub fn parse(text: &str) -> Option<ShiftRole> {
        match text {
            "primary" => Some(ShiftRole::Primary),
            "secondary" => Some(ShiftRole::Secondary),
            "backup" => Some(ShiftRole::Backup),
            _ => None,
        }
    }
}

/// Longest shift accepted: a rota longer than a month is a data error, not a shift.
pub const SHIFT_DAYS_MAX: i64 = 31;

/// Checks a shift's interval: it ends after it starts and lasts at most `SHIFT_DAYS_MAX`.
/// Both ends lie in the window of `domain::limits`.
pub fn check_interval(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), FieldError> {
    super::limits::check_instant("start", start)?;
    super::limits::check_instant("end", end)?;
    if end <= start {
        return Err(FieldError::new("end", "must be after start"));
    }
    if end - start > chrono::Duration::days(SHIFT_DAYS_MAX) {
        return Err(FieldError::new("end", format!("a shift lasts at most {SHIFT_DAYS_MAX} days")));
    }
    Ok(())
}

/// The idempotency key of a shift given without one: the same shift posted twice is one shift.
pub fn derived_external_id(person: &str, role: ShiftRole, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "{person}/{}/{}/{}",
        role.as_str(),
        super::timestamp::format_rfc3339(&start),
        super::timestamp::format_rfc3339(&end)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn intervals_must_be_positive_and_bounded() {
        let start = Utc.with_ymd_and_hms(2026, 10, 5, 9, 0, 0).unwrap();
        assert_eq!(check_interval(start, start).unwrap_err().field, "end");
        assert!(check_interval(start, start + chrono::Duration::days(7)).is_ok());
        assert!(check_interval(start, start + chrono::Duration::days(32)).is_err());
    }
}
