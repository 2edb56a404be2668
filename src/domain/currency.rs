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

/// Smallest exchange rate accepted: one unit is worth at least a millionth of a unit of the
/// reporting currency (1 VND is about 0.00004 USD; nothing real is a million times weaker).
pub const EXCHANGE_RATE_MIN: Decimal = Decimal::from_parts(1, 0, 0, false, 6);
/// Largest exchange rate accepted: one unit is worth at most a million units of the reporting
/// currency (1 KWD is about 80,000 VND).
pub const EXCHANGE_RATE_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// Most decimal places of an exchange rate (central banks publish 4 to 6; 10 leaves room for
/// an inverted rate copied from another source).
pub const EXCHANGE_RATE_DECIMALS_MAX: u32 = 10;

/// An exchange rate finance recorded: from `effective_from` on, one unit of `currency` is worth
/// `rate` units of `to`. Used for management figures only; payroll never converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExchangeRate {
    /// The currency converted from.
    pub currency: Currency,
    /// The currency converted into (the reporting currency).
    pub to: Currency,
    /// Units of `to` per unit of `currency`.
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
    /// The first day the rate applies to.
    pub effective_from: chrono::NaiveDate,
}

/// An exchange rate outside paydown's bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("must be a positive number")]
    NotPositive,
    #[error("must be between {EXCHANGE_RATE_MIN} and {EXCHANGE_RATE_MAX}")]
    OutOfBounds,
    #[error("must have at most {EXCHANGE_RATE_DECIMALS_MAX} decimal places")]
    TooPrecise,
    #[error("a currency converts into itself at 1; no rate is recorded for it")]
    SameCurrency,
}

/// Checks a rate against the named bounds.
pub fn check_rate(currency: Currency, to: Currency, rate: Decimal) -> Result<Decimal, RateError> {
    if currency == to {
        return Err(RateError::SameCurrency);
    }
    if rate <= Decimal::ZERO {
        return Err(RateError::NotPositive);
    }
    if !(EXCHANGE_RATE_MIN..=EXCHANGE_RATE_MAX).contains(&rate) {
        return Err(RateError::OutOfBounds);
    }
    if rate.normalize().scale() > EXCHANGE_RATE_DECIMALS_MAX {
        return Err(RateError::TooPrecise);
    }
    Ok(rate.normalize())
}

/// The rate in force on `on` for `currency` → `to`: the one with the latest `effective_from` on
/// or before `on`; of several with that date, the last in `rates` (callers pass them in the
/// order they were recorded, so a correction wins).
pub fn rate_on(
    rates: &[ExchangeRate],
    currency: Currency,
    to: Currency,
    on: chrono::NaiveDate,
) -> Option<ExchangeRate> {
    rates
        .iter()
        .filter(|rate| rate.currency == currency && rate.to == to && rate.effective_from <= on)
        .fold(None, |best: Option<&ExchangeRate>, rate| match best {
            Some(best) if best.effective_from > rate.effective_from => Some(best),
            _ => Some(rate),
        })
        .copied()
}

/// An amount converted into another currency, with the rate that converted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Converted {
    /// The converted amount, rounded once to `currency`'s minor unit.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The currency converted into.
    pub currency: Currency,
    /// The rate used: units of `currency` per unit of the original currency (1 when unchanged).
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
    /// When that rate took effect; `None` when the amount was already in `currency`.
    pub rate_effective_from: Option<chrono::NaiveDate>,
}

/// Converts `amount` in `from` into `to` with the rate in force on `on`.
///
/// Rounding rule: `amount × rate`, computed exactly, then rounded once to `to`'s minor unit,
/// half away from zero (PRODUCT.md rule 6). A sum is converted as a whole, never line by line,
/// so a converted total is the rounded product of the exact total. `None` when no rate is in
/// force (the figure then stays in its own currency) or the product overflows.
pub fn convert(
    amount: Decimal,
    from: Currency,
    to: Currency,
    rates: &[ExchangeRate],
    on: chrono::NaiveDate,
) -> Option<Converted> {
    if from == to {
        return Some(Converted { amount, currency: to, rate: Decimal::ONE, rate_effective_from: None });
    }
    let rate = rate_on(rates, from, to, on)?;
    let product = amount.checked_mul(rate.rate)?;
    let mut rounded = to.round(product);
    rounded.rescale(to.minor_unit_exponent());
    Some(Converted { amount: rounded, currency: to, rate: rate.rate, rate_effective_from: Some(rate.effective_from) })
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

    fn code(text: &str) -> Currency {
        text.parse().unwrap()
    }

    fn day(text: &str) -> chrono::NaiveDate {
        text.parse().unwrap()
    }

    fn rate(from: &str, to: &str, value: Decimal, effective_from: &str) -> ExchangeRate {
        ExchangeRate { currency: code(from), to: code(to), rate: value, effective_from: day(effective_from) }
    }

    #[test]
    fn conversion_rounds_once_half_away_from_zero_and_shows_the_rate() {
        let rates = [rate("INR", "USD", dec!(0.012), "2026-01-01")];
        let converted = convert(dec!(676282.49), code("INR"), code("USD"), &rates, day("2026-10-31")).unwrap();
        // 676,282.49 × 0.012 = 8,115.38988 → 8,115.39
        assert_eq!(converted.amount.to_string(), "8115.39");
        assert_eq!(converted.rate, dec!(0.012));
        assert_eq!(converted.rate_effective_from, Some(day("2026-01-01")));
        let half = convert(
            dec!(0.125),
            code("EUR"),
            code("USD"),
            &[rate("EUR", "USD", dec!(1), "2026-01-01")],
            day("2026-01-01"),
        );
        assert_eq!(half.unwrap().amount, dec!(0.13));
        let negative = convert(
            dec!(-0.125),
            code("EUR"),
            code("USD"),
            &[rate("EUR", "USD", dec!(1), "2026-01-01")],
            day("2026-01-01"),
        );
        assert_eq!(negative.unwrap().amount, dec!(-0.13));
        let yen = convert(
            dec!(10.00),
            code("USD"),
            code("JPY"),
            &[rate("USD", "JPY", dec!(150.55), "2026-01-01")],
            day("2026-06-01"),
        );
        assert_eq!(yen.unwrap().amount.to_string(), "1506", "JPY has no minor unit");
    }

    #[test]
    fn the_rate_in_force_is_the_latest_effective_on_or_before_the_day() {
        let rates = [
            rate("INR", "USD", dec!(0.012), "2026-01-01"),
            rate("INR", "USD", dec!(0.011), "2026-10-01"),
            rate("INR", "USD", dec!(0.0115), "2026-10-01"),
            rate("INR", "EUR", dec!(0.010), "2025-01-01"),
        ];
        let on = |text| rate_on(&rates, code("INR"), code("USD"), day(text)).map(|rate| rate.rate);
        assert_eq!(on("2025-12-31"), None, "no rate before the first one takes effect");
        assert_eq!(on("2026-09-30"), Some(dec!(0.012)));
        assert_eq!(on("2026-10-01"), Some(dec!(0.0115)), "of two on one day, the one recorded last");
        assert!(convert(dec!(1), code("GBP"), code("USD"), &rates, day("2026-10-01")).is_none());
        let same = convert(dec!(5.00), code("USD"), code("USD"), &[], day("2026-10-01")).unwrap();
        assert_eq!((same.amount, same.rate, same.rate_effective_from), (dec!(5.00), Decimal::ONE, None));
    }

    #[test]
    fn rates_are_bounded() {
        let (inr, usd) = (code("INR"), code("USD"));
        assert_eq!(check_rate(inr, usd, dec!(0.012)), Ok(dec!(0.012)));
        assert_eq!(check_rate(inr, usd, dec!(0)), Err(RateError::NotPositive));
        assert_eq!(check_rate(inr, usd, dec!(-1)), Err(RateError::NotPositive));
        assert_eq!(check_rate(inr, usd, dec!(0.0000009)), Err(RateError::OutOfBounds));
        assert_eq!(check_rate(inr, usd, dec!(1000000.5)), Err(RateError::OutOfBounds));
        assert_eq!(check_rate(inr, usd, dec!(1.00000000001)), Err(RateError::TooPrecise));
        assert_eq!(check_rate(usd, usd, dec!(1)), Err(RateError::SameCurrency));
        assert_eq!(check_rate(inr, usd, EXCHANGE_RATE_MIN), Ok(EXCHANGE_RATE_MIN));
        assert_eq!(check_rate(inr, usd, EXCHANGE_RATE_MAX), Ok(EXCHANGE_RATE_MAX));
    }

    proptest::proptest! {
        /// Any amount within paydown's bounds converts at any accepted rate without overflow,
        /// and the result is within half a minor unit of the exact product.
        #[test]
        fn conversion_is_within_half_a_minor_unit(minor in -100_000_000_000_i64..100_000_000_000_i64, rate_micro in 1_i64..1_000_000_000_000) {
            let value = Decimal::new(rate_micro, 6);
            let rates = [ExchangeRate { currency: code("INR"), to: code("USD"), rate: value, effective_from: day("2026-01-01") }];
            let amount = code("INR").from_minor_units(minor);
            let converted = convert(amount, code("INR"), code("USD"), &rates, day("2026-01-02")).unwrap();
            let error = (converted.amount - amount * value).abs();
            proptest::prop_assert!(error <= dec!(0.005), "{} {}", converted.amount, error);
            proptest::prop_assert_eq!(converted.amount.scale(), 2);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_minor_amount_round_trips(minor in -1_000_000_000_000_i64..1_000_000_000_000_i64) {
            let amount = eur().from_minor_units(minor);
            proptest::prop_assert_eq!(eur().to_minor_units(amount), Ok(minor));
        }
    }
}
