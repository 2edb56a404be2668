//! Currencies and exact money amounts.
//!
//! Policy: money is `rust_decimal::Decimal` in computations and integer minor units
//! (`i64`) in storage, because SQLite has no exact decimal type and its `SUM` is
//! floating point. A `Currency` knows its minor-unit exponent (ISO 4217), so the
//! conversion between the two is exact and checked: an amount with more fractional
//! digits than the currency has is refused, never silently rounded.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// ISO 4217 codes paydown accepts, with their minor-unit exponents.
///
/// The list is closed on purpose: a typo such as `EUE` must be an error, not a new currency.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("UYU", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// A currency paydown can price in: an ISO 4217 code with its minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    minor_unit_exponent: u32,
}

/// The code given is not an ISO 4217 currency paydown knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown currency `{0}`: expected an ISO 4217 code such as EUR, GBP or USD")]
pub struct UnknownCurrency(pub String);

/// An amount cannot be expressed exactly in a currency's minor units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MinorUnitsError {
    #[error("{amount} has more than {exponent} decimal places, the minor unit of {currency}")]
    TooPrecise { amount: Decimal, exponent: u32, currency: &'static str },
    #[error("{amount} {currency} is too large to store")]
    Overflow { amount: Decimal, currency: &'static str },
}

impl Currency {
    /// The three-letter ISO 4217 code.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// How many decimal places the currency's minor unit has (2 for EUR, 0 for JPY).
    pub fn minor_unit_exponent(self) -> u32 {
        self.minor_unit_exponent
    }

    /// Rounds an amount once to the minor unit, half away from zero (PRODUCT.md rule 6).
    pub fn round(self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(self.minor_unit_exponent, RoundingStrategy::MidpointAwayFromZero)
    }

    /// Converts an amount to integer minor units, refusing any loss of precision.
    pub fn to_minor_units(self, amount: Decimal) -> Result<i64, MinorUnitsError> {
        let scaled = amount
            .checked_mul(Decimal::from(10_i64.pow(self.minor_unit_exponent)))
            .ok_or(MinorUnitsError::Overflow { amount, currency: self.code })?;
        if scaled.fract() != Decimal::ZERO {
            return Err(MinorUnitsError::TooPrecise {
                amount,
                exponent: self.minor_unit_exponent,
                currency: self.code,
            });
        }
        i64::try_from(scaled).map_err(|_| MinorUnitsError::Overflow { amount, currency: self.code })
    }

    /// Converts integer minor units back to an amount with exactly the currency's scale.
    pub fn from_minor_units(self, minor: i64) -> Decimal {
        Decimal::new(minor, self.minor_unit_exponent)
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|&(code, minor_unit_exponent)| Currency { code, minor_unit_exponent })
            .ok_or_else(|| UnknownCurrency(code.to_owned()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn eur() -> Currency {
        "EUR".parse().unwrap()
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert_eq!("EUE".parse::<Currency>(), Err(UnknownCurrency("EUE".into())));
        assert!("eur".parse::<Currency>().is_err(), "codes are upper case, as ISO 4217 writes them");
    }

    #[test]
    fn minor_units_round_trip_exactly() {
        assert_eq!(eur().to_minor_units(dec!(85.50)), Ok(8550));
        assert_eq!(eur().from_minor_units(8550).to_string(), "85.50");
        let jpy: Currency = "JPY".parse().unwrap();
        assert_eq!(jpy.to_minor_units(dec!(1200)), Ok(1200));
        let bhd: Currency = "BHD".parse().unwrap();
        assert_eq!(bhd.from_minor_units(1005).to_string(), "1.005");
    }

    #[test]
    fn sub_minor_amounts_are_refused_not_rounded() {
        assert!(matches!(eur().to_minor_units(dec!(0.001)), Err(MinorUnitsError::TooPrecise { .. })));
        let jpy: Currency = "JPY".parse().unwrap();
        assert!(jpy.to_minor_units(dec!(0.5)).is_err());
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(eur().round(dec!(0.125)), dec!(0.13));
        assert_eq!(eur().round(dec!(-0.125)), dec!(-0.13));
        assert_eq!(eur().round(dec!(0.124)), dec!(0.12));
    }

    proptest::proptest! {
        #[test]
        fn any_minor_amount_round_trips(minor in -1_000_000_000_000_i64..1_000_000_000_000_i64) {
            let amount = eur().from_minor_units(minor);
            proptest::prop_assert_eq!(eur().to_minor_units(amount), Ok(minor));
        }
    }
}
