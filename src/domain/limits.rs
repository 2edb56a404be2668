//! Limits on every value paydown accepts, as named constants, and the checks that apply them.
//!
//! Policy: a value outside these bounds is refused where it enters (a 400 naming the field),
//! so nothing stored can make pricing, the debt model or a report overflow. The bounds are
//! generous for real use and far from the edges of `Decimal` (about 7.9 × 10²⁸) and `i64`:
//!
//! - the largest amount (a fee, an hourly rate, a standby rate, a loaded hourly cost) is one
//!   billion in the currency's major unit: weak currencies price in the hundreds of thousands
//!   (a VND hourly rate), and 10⁹ × a multiplier of 100 × a week of seconds is still ~10¹⁷;
//! - instants lie in `[1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z]`;
//! - names, titles and keys carry no control characters (NUL breaks PostgreSQL text, the
//!   others break CSV exports and terminals); free text (titles, notes) may hold tab, line
//!   feed and carriage return.
//!
//! Money crosses the wire as a decimal string, through [`parse_decimal`] only: digits with an
//! optional leading `-` and an optional fraction (`"85.50"`). A JSON number, an exponent
//! (`"6.5e1"`) or a sign `+` is refused naming the field.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use super::field_error::FieldError;

/// Largest amount of money accepted anywhere (fees, rates, costs), in major units.
pub const AMOUNT_MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Largest multiplier accepted (response multipliers, role multipliers, escalation factor).
pub const MULTIPLIER_MAX: Decimal = Decimal::from_parts(100, 0, 0, false, 0);
/// Most decimal places of a multiplier or a rate.
pub const DECIMAL_PLACES_MAX: u32 = 6;
/// Longest decimal string accepted, in characters.
pub const DECIMAL_TEXT_LENGTH_MAX: usize = 40;
/// Longest duration of one response, in minutes (a week).
pub const RESPONSE_MINUTES_MAX: i64 = 7 * 24 * 60;
/// Largest rounding increment and minimum billable time of a policy, in minutes (a day).
pub const POLICY_MINUTES_MAX: i64 = 24 * 60;
/// Largest callout cooldown of a policy, in minutes (a day).
pub const COOLDOWN_MINUTES_MAX: i64 = 24 * 60;
/// Most free out-of-hours pages of an escalation rule.
pub const FREE_PAGES_MAX: i64 = 10_000;
/// Longest escalation window, in days (ten years).
pub const WINDOW_DAYS_MAX: i64 = 3_660;
/// Most recovery hours granted at least per response (a week).
pub const RECOVERY_HOURS_MAX: i64 = 168;
/// Most hours a per-night standby rule may require a shift to cover (a day).
pub const NIGHT_MINIMUM_HOURS_MAX: i64 = 24;
/// Largest interruption overhead per responder per page, in minutes (a day).
pub const OVERHEAD_MINUTES_MAX: Decimal = Decimal::from_parts(1_440, 0, 0, false, 0);
/// Longest policy id, shift role name and other short names, in characters.
pub const NAME_LENGTH_MAX: usize = 200;
/// Longest client-chosen response id, in characters.
pub const CLIENT_ID_LENGTH_MAX: usize = 128;
/// Most alerts one Alertmanager body may carry (each is a page delivery).
pub const ALERTS_PER_BODY_MAX: usize = 1_000;
/// First instant accepted: 1970-01-01T00:00:00Z.
pub const INSTANT_MIN_SECONDS: i64 = 0;
/// Last instant accepted: 2100-01-01T00:00:00Z.
pub const INSTANT_MAX_SECONDS: i64 = 4_102_444_800;

/// The earliest instant accepted.
pub fn instant_min() -> DateTime<Utc> {
    Utc.timestamp_opt(INSTANT_MIN_SECONDS, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest instant accepted.
pub fn instant_max() -> DateTime<Utc> {
    Utc.timestamp_opt(INSTANT_MAX_SECONDS, 0).single().unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Refuses an instant outside `[1970-01-01, 2100-01-01]`.
pub fn check_instant(field: &str, instant: DateTime<Utc>) -> Result<(), FieldError> {
    if instant < instant_min() || instant > instant_max() {
        return Err(FieldError::new(
            field,
            format!(
                "{} is outside the accepted window 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z",
                super::timestamp::format_rfc3339(&instant)
            ),
        ));
    }
    Ok(())
}

/// Refuses any control character (names, ids, keys).
pub fn check_no_control(field: &str, text: &str) -> Result<(), FieldError> {
    match text.chars().find(|c| c.is_control()) {
        Some(c) => {
            Err(FieldError::new(field, format!("must not contain control characters (found U+{:04X})", u32::from(c))))
        }
        None => Ok(()),
    }
}

/// Refuses control characters other than tab, line feed and carriage return (titles, notes).
pub fn check_free_text(field: &str, text: &str) -> Result<(), FieldError> {
    match text.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        Some(c) => Err(FieldError::new(
            field,
            format!(
                "must not contain control characters other than tab and line breaks (found U+{:04X})",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// The one parser of decimal strings (money, multipliers, minutes): `-?digits(.digits)?`.
pub fn parse_decimal(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let refuse = || {
        FieldError::new(
            field,
            format!(
                "expected a decimal string such as \"85.50\" (digits, an optional leading -, an optional fraction; no exponent, no +); got `{}`",
                text.chars().take(DECIMAL_TEXT_LENGTH_MAX).collect::<String>()
            ),
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.len() > DECIMAL_TEXT_LENGTH_MAX {
        return Err(refuse());
    }
    let unsigned = trimmed.strip_prefix('-').unwrap_or(trimmed);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|fraction| !digits(fraction)) {
        return Err(refuse());
    }
    Decimal::from_str_exact(trimmed).map_err(|_| refuse())
}

/// Refuses an amount below zero or above [`AMOUNT_MAX`].
pub fn check_amount(field: &str, amount: Decimal) -> Result<(), FieldError> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(FieldError::new(field, format!("{amount} must not be negative")));
    }
    if amount > AMOUNT_MAX {
        return Err(FieldError::new(field, format!("{amount} is more than the largest amount accepted, {AMOUNT_MAX}")));
    }
    Ok(())
}

/// Refuses a multiplier below zero, above [`MULTIPLIER_MAX`] or finer than [`DECIMAL_PLACES_MAX`].
pub fn check_multiplier(field: &str, value: Decimal) -> Result<(), FieldError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(FieldError::new(field, format!("{value} must not be negative")));
    }
    if value > MULTIPLIER_MAX {
        return Err(FieldError::new(
            field,
            format!("{value} is more than the largest multiplier accepted, {MULTIPLIER_MAX}"),
        ));
    }
    if value.normalize().scale() > DECIMAL_PLACES_MAX {
        return Err(FieldError::new(field, format!("{value} has more than {DECIMAL_PLACES_MAX} decimal places")));
    }
    Ok(())
}

/// Refuses an integer outside `[min, max]`.
pub fn check_range(field: &str, value: i64, min: i64, max: i64) -> Result<(), FieldError> {
    if value < min || value > max {
        return Err(FieldError::new(field, format!("{value} must be between {min} and {max}")));
    }
    Ok(())
}

/// serde adapter: a `Decimal` read only from a decimal string through [`parse_decimal`]
/// (a JSON or TOML number is refused), written as a string.
pub mod decimal_string {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = StringOnly::deserialize(deserializer)?.0;
        super::parse_decimal("", &text).map_err(|error| serde::de::Error::custom(error.message))
    }

    /// A string, or an error saying that money is never a number.
    struct StringOnly(String);

    impl<'de> Deserialize<'de> for StringOnly {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl serde::de::Visitor<'_> for Visitor {
                type Value = StringOnly;
                fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                    formatter.write_str("a decimal string such as \"85.50\" (a number is never money)")
                }
                fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<StringOnly, E> {
                    Ok(StringOnly(value.to_owned()))
                }
            }
            deserializer.deserialize_str(Visitor)
        }
    }

    /// The same for the values of a map (`role_multipliers`).
    pub mod map {
        use std::collections::BTreeMap;

        use rust_decimal::Decimal;
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize, Deserialize)]
        #[serde(transparent)]
        struct Value(#[serde(with = "super")] Decimal);

        pub fn serialize<S: Serializer>(map: &BTreeMap<String, Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
            let wrapped: BTreeMap<&String, Value> = map.iter().map(|(key, value)| (key, Value(*value))).collect();
            wrapped.serialize(serializer)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, Decimal>, D::Error> {
            let wrapped = BTreeMap::<String, Value>::deserialize(deserializer)?;
            Ok(wrapped.into_iter().map(|(key, Value(value))| (key, value)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn decimal_strings_only() {
        assert_eq!(parse_decimal("f", "85.50"), Ok(dec!(85.50)));
        assert_eq!(parse_decimal("f", "-1"), Ok(dec!(-1)));
        assert_eq!(parse_decimal("f", " 0.5 "), Ok(dec!(0.5)));
        for bad in ["6.5e1", "+65.00", "", " ", ".5", "5.", "1,5", "NaN", "0x10", "--1", "1e3", "١٢"] {
            let error = parse_decimal("callout_fee.night", bad).unwrap_err();
            assert_eq!(error.field, "callout_fee.night", "{bad}");
        }
        assert!(parse_decimal("f", &"9".repeat(41)).is_err());
        assert!(parse_decimal("f", "79228162514264337593543950336").is_err(), "beyond Decimal");
    }

    #[test]
    fn serde_refuses_numbers() {
        #[derive(serde::Deserialize, Debug)]
        struct Fee {
            #[serde(with = "decimal_string")]
            #[allow(dead_code)]
            fee: Decimal,
        }
        assert!(serde_json::from_str::<Fee>(r#"{"fee": "65.00"}"#).is_ok());
        for bad in [r#"{"fee": 65.0}"#, r#"{"fee": "6.5e1"}"#, r#"{"fee": "+65.00"}"#, r#"{"fee": 65}"#] {
            assert!(serde_json::from_str::<Fee>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_instant_window() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        assert!(check_instant("t", at("1970-01-01T00:00:00Z")).is_ok());
        assert!(check_instant("t", at("2100-01-01T00:00:00Z")).is_ok());
        assert_eq!(check_instant("t", at("1969-12-31T23:59:59Z")).unwrap_err().field, "t");
        assert!(check_instant("t", at("2100-01-01T00:00:01Z")).is_err());
        assert!(check_instant("t", at("0001-01-01T00:00:00Z")).is_err());
        assert!(check_instant("t", at("9999-12-31T23:59:59-01:00")).is_err());
    }

    #[test]
    fn control_characters() {
        assert!(check_no_control("title", "Disk full").is_ok());
        assert_eq!(check_no_control("title", "Disk\0full").unwrap_err().field, "title");
        assert!(check_no_control("id", "a\u{1b}[31m").is_err());
        assert!(check_free_text("notes", "line 1\nline 2\ttab").is_ok());
        assert!(check_free_text("notes", "nul\0").is_err());
        assert!(check_free_text("notes", "del\u{7f}").is_err());
    }

    #[test]
    fn amounts_and_multipliers() {
        assert!(check_amount("a", AMOUNT_MAX).is_ok());
        assert!(check_amount("a", dec!(90000000000000000.00)).is_err());
        assert!(check_amount("a", dec!(-0.01)).is_err());
        assert!(check_multiplier("m", dec!(2.5)).is_ok());
        assert!(check_multiplier("m", dec!(1000000000000000000000000000)).is_err());
        assert!(check_multiplier("m", dec!(1.0000001)).is_err());
    }
}
