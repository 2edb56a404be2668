//! The closed vocabularies of ledger entries that reports group by: pay components and
//! quantity units. Parsing them here, once, means a typo in the ledger (`calout`) is an
//! export error instead of a row silently missing from payroll.

use rust_decimal::Decimal;

/// The pay components, as the pay engine names them; `Component::ALL` is report order.
pub use crate::domain::pay::Component;

/// The unit of an entry's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of events (callouts, escalations).
    Count,
    /// Minutes of time.
    Minutes,
    /// Hours of time.
    Hours,
    /// Nights of standby.
    Nights,
}

impl Unit {
    /// Parses the ledger's name of a unit; `None` for anything else.
    pub fn parse(text: &str) -> Option<Unit> {
        match text {
            "count" => Some(Unit::Count),
            "minutes" => Some(Unit::Minutes),
            "hours" => Some(Unit::Hours),
            "nights" => Some(Unit::Nights),
            _ => None,
        }
    }

    /// The quantity in minutes when the unit measures time, so that sums of mixed minutes
    /// and hours are exact and converted to hours once (`None` for counts and nights).
    pub fn minutes(self, quantity: Decimal) -> Option<Decimal> {
        match self {
            Unit::Minutes => Some(quantity),
            Unit::Hours => quantity.checked_mul(Decimal::from(60)),
            Unit::Count | Unit::Nights => None,
        }
    }
}

/// Converts minutes to hours. 90 minutes is exactly 1.5 hours; minutes that are not a
/// terminating fraction of an hour (7 min = 0.11666… h) carry Decimal's 28 significant
/// digits, which is why layouts should round hours with `hours_decimals`.
pub fn minutes_to_hours(minutes: Decimal) -> Decimal {
    (minutes / Decimal::from(60)).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn components_round_trip_their_names() {
        for component in Component::ALL {
            assert_eq!(Component::parse(component.as_str()), Some(component));
        }
        assert_eq!(Component::parse("calout"), None);
    }

    #[test]
    fn minutes_become_exact_hours() {
        assert_eq!(minutes_to_hours(dec!(90)), dec!(1.5));
        assert_eq!(minutes_to_hours(dec!(-45)), dec!(-0.75));
        assert_eq!(Unit::Hours.minutes(dec!(2)), Some(dec!(120)));
        assert_eq!(Unit::Nights.minutes(dec!(2)), None);
    }
}
