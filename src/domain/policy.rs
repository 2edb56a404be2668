//! Pay policies: the versioned, effective-dated rules that price pages, responses and shifts.
//!
//! Policy: a `PayPolicy` is a plain value that serialises to JSON and TOML and back without
//! loss; every field has the PRODUCT.md default, so a policy file only states what differs.
//! Deserialising does not make a policy priceable: `validate()` does, and its error names
//! the offending field (`callout_fee.night`) so whoever wrote the file can fix it.
//! Amounts are `Decimal` written as strings (`"50.00"`) so that no float ever touches them.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(clippy::float_arithmetic, clippy::as_conversions)]

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::currency::Currency;
use super::time_class::{DayClass, TimeClass, TimeClassSet};

/// One value per time class: a fee table or a multiplier table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerTimeClass {
    /// Value for `business` minutes.
    #[serde(with = "super::limits::decimal_string")]
    pub business: Decimal,
    /// Value for `off_hours` minutes.
    #[serde(with = "super::limits::decimal_string")]
    pub off_hours: Decimal,
    /// Value for `night` minutes.
    #[serde(with = "super::limits::decimal_string")]
    pub night: Decimal,
    /// Value for `weekend` minutes.
    #[serde(with = "super::limits::decimal_string")]
    pub weekend: Decimal,
    /// Value for `holiday` minutes.
    #[serde(with = "super::limits::decimal_string")]
    pub holiday: Decimal,
}

impl PerTimeClass {
    /// The value for one class.
    pub fn get(&self, class: TimeClass) -> Decimal {
        match class {
            TimeClass::Business => self.business,
            TimeClass::OffHours => self.off_hours,
            TimeClass::Night => self.night,
            TimeClass::Weekend => self.weekend,
            TimeClass::Holiday => self.holiday,
        }
    }

    /// The highest value among `classes` and the class that carries it ("highest wins"
    /// where classes overlap). Ties go to the later class of [`TimeClass::ALL`] (holiday
    /// over weekend over night), so the reported class is deterministic. `None` for an
    /// empty set.
    pub fn highest(&self, classes: TimeClassSet) -> Option<(TimeClass, Decimal)> {
        classes.iter().map(|class| (class, self.get(class))).fold(None, |best, (class, value)| match best {
            Some((_, best_value)) if best_value > value => best,
            _ => Some((class, value)),
        })
    }

    fn entries(&self) -> [(TimeClass, Decimal); 5] {
        TimeClass::ALL.map(|class| (class, self.get(class)))
    }
}

/// One value per day class, for standby rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerDayClass {
    /// Rate on working days.
    #[serde(with = "super::limits::decimal_string")]
    pub weekday: Decimal,
    /// Rate on weekend days.
    #[serde(with = "super::limits::decimal_string")]
    pub weekend: Decimal,
    /// Rate on holidays.
    #[serde(with = "super::limits::decimal_string")]
    pub holiday: Decimal,
}

impl PerDayClass {
    /// The rate for one day class.
    pub fn get(&self, class: DayClass) -> Decimal {
        match class {
            DayClass::Weekday => self.weekday,
            DayClass::Weekend => self.weekend,
            DayClass::Holiday => self.holiday,
        }
    }
}

/// Escalation, the "pain multiplier" (PRODUCT.md rule 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct EscalationRule {
    /// Out-of-hours pages per trailing window that are not escalated. Default 3: being
    /// woken two or three times a year is reasonable, more is not.
    pub free_pages: i64,
    /// Factor applied to the callout fee of every further out-of-hours page. Default 2.
    #[serde(with = "super::limits::decimal_string")]
    pub factor: Decimal,
    /// Length of the trailing window in days. Default 365.
    pub window_days: i64,
}

impl Default for EscalationRule {
    fn default() -> Self {
        EscalationRule { free_pages: 3, factor: Decimal::TWO, window_days: 365 }
    }
}

/// Recovery time (time off in lieu) for responses that touch the sleep window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct RecoveryRule {
    /// Whether recovery hours are granted at all. Default true.
    pub enabled: bool,
    /// Hours granted at least, once a response touches the sleep window. Default 2. The
    /// night minutes worked are rounded up to whole hours and this floor applied.
    pub minimum_hours: i64,
}

impl Default for RecoveryRule {
    fn default() -> Self {
        RecoveryRule { enabled: true, minimum_hours: 2 }
    }
}

/// How standby is paid (PRODUCT.md rule 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StandbyMode {
    /// A rate per hour on call.
    PerHour,
    /// A rate per local day, pro-rated by the minutes of the day covered over its real length.
    PerDay,
    /// A rate per night: night D is paid when one shift runs from D until the cut-off on D+1.
    PerNight,
}

/// Standby pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct StandbyRule {
    /// Per hour, per day or per night. Default per day.
    pub mode: StandbyMode,
    /// Rates by day class, per hour / day / night as `mode` says. Defaults 25.00 weekday,
    /// 50.00 weekend, 75.00 holiday (per day). In per-night mode a night is a weekend night
    /// when its date is in `weekend_nights`, a holiday night when its date is a holiday.
    pub rates: PerDayClass,
    /// Do not pay standby during the person's working hours (per hour / per day). Default false.
    /// A daily rate is still pro-rated over the whole local day, so a weekday with its eight
    /// working hours excluded pays 16/24 of the rate.
    pub exclude_working_hours: bool,
    /// Per night, the cut-off rule (used while `night_minimum_hours` is unset): the local time
    /// on D+1 until which a shift must run. Default 06:00.
    pub night_cutoff: NaiveTime,
    /// Per night, the minimum-hours rule instead of the cut-off: a shift earns the night of D
    /// when it covers at least this many hours (0 to 24) of the window from `night_boundary`
    /// on D to `night_boundary` on D+1, counted from its start. Exact rule:
    /// `domain::pay::night`. Default unset (the cut-off rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub night_minimum_hours: Option<i64>,
    /// Per night, the local time that ends one night's window and starts the next, for
    /// `night_minimum_hours`. Default 00:00.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub night_boundary: Option<NaiveTime>,
    /// Per night: the dates whose night is a weekend night. Default Fri, Sat, Sun.
    pub weekend_nights: Vec<Weekday>,
    /// Rate multiplier per shift role (e.g. `secondary = "0.5"`); roles not listed pay × 1.
    /// Where one person's shifts overlap, the role with the higher multiplier is paid.
    #[serde(with = "super::limits::decimal_string::map")]
    pub role_multipliers: BTreeMap<String, Decimal>,
}

impl StandbyRule {
    /// The multiplier of a shift role (1 when not listed).
    pub fn role_multiplier(&self, role: &str) -> Decimal {
        self.role_multipliers.get(role).copied().unwrap_or(Decimal::ONE)
    }
}

impl Default for StandbyRule {
    fn default() -> Self {
        StandbyRule {
            mode: StandbyMode::PerDay,
            rates: PerDayClass {
                weekday: Decimal::new(2500, 2),
                weekend: Decimal::new(5000, 2),
                holiday: Decimal::new(7500, 2),
            },
            exclude_working_hours: false,
            night_cutoff: NaiveTime::from_hms_opt(6, 0, 0).unwrap_or(NaiveTime::MIN),
            night_minimum_hours: None,
            night_boundary: None,
            weekend_nights: vec![Weekday::Fri, Weekday::Sat, Weekday::Sun],
            role_multipliers: BTreeMap::new(),
        }
    }
}

fn default_callout_fee() -> PerTimeClass {
    PerTimeClass {
        business: Decimal::new(0, 2),
        off_hours: Decimal::new(2500, 2),
        night: Decimal::new(5000, 2),
        weekend: Decimal::new(5000, 2),
        holiday: Decimal::new(7500, 2),
    }
}

fn default_response_rate() -> Decimal {
    Decimal::new(3000, 2)
}

fn default_response_multiplier() -> PerTimeClass {
    PerTimeClass {
        business: Decimal::new(10, 1),
        off_hours: Decimal::new(15, 1),
        night: Decimal::new(20, 1),
        weekend: Decimal::new(20, 1),
        holiday: Decimal::new(20, 1),
    }
}

fn default_increment() -> i64 {
    15
}

fn default_minimum() -> i64 {
    30
}

/// A version of a pay policy. Defaults (PRODUCT.md "Pay rules"):
///
/// - callout fee: business 0.00, off_hours 25.00, night 50.00, weekend 50.00, holiday 75.00;
/// - response rate 30.00 per hour, multipliers business 1.0, off_hours 1.5, night 2.0,
///   weekend 2.0, holiday 2.0;
/// - responses rounded up to 15 min, at least 30 min per callout;
/// - escalation: 3 free out-of-hours pages per trailing 365 days, then the fee × 2;
/// - recovery: night minutes rounded up to whole hours, at least 2 h;
/// - standby per day: weekday 25.00, weekend 50.00, holiday 75.00.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayPolicy {
    /// Stable id of the policy; every version shares it.
    pub id: String,
    /// Version number, starting at 1, increasing with `effective_from`.
    pub version: u32,
    /// First local date (in each person's zone) on which this version applies.
    pub effective_from: NaiveDate,
    /// The currency of every amount in the policy and of the lines it prices.
    pub currency: Currency,
    /// Fee per page responded to, by the class of `triggered_at`; the highest applicable wins.
    #[serde(default = "default_callout_fee")]
    pub callout_fee: PerTimeClass,
    /// Hourly rate for response time.
    #[serde(default = "default_response_rate", with = "super::limits::decimal_string")]
    pub response_rate_per_hour: Decimal,
    /// Multiplier of the hourly rate by the class of each minute; the highest applicable wins.
    #[serde(default = "default_response_multiplier")]
    pub response_multiplier: PerTimeClass,
    /// Response time is rounded up to a multiple of this many minutes.
    #[serde(default = "default_increment")]
    pub rounding_increment_minutes: i64,
    /// Billable minutes at least, per response.
    #[serde(default = "default_minimum")]
    pub minimum_billable_minutes: i64,
    /// Cooldown: a page triggered within this many minutes after a paid callout of the same
    /// person earns no second callout fee (nor escalation). 0 (the default) turns it off.
    #[serde(default)]
    pub callout_cooldown_minutes: i64,
    /// The most one person should be paid under this version in one pay period, all
    /// components, in `currency`. Pricing never cuts pay at it: the pay run's review flags a
    /// person above it for finance (`domain::pay_run`). Absent: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "optional_decimal_string")]
    pub period_cap: Option<Decimal>,
    /// Escalation of out-of-hours callout fees.
    #[serde(default)]
    pub escalation: EscalationRule,
    /// Recovery hours.
    #[serde(default)]
    pub recovery: RecoveryRule,
    /// Standby pay.
    #[serde(default)]
    pub standby: StandbyRule,
}

/// serde adapter: an optional `Decimal` as an optional decimal string (`limits::decimal_string`).
mod optional_decimal_string {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => crate::domain::limits::decimal_string::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    struct Text(#[serde(with = "crate::domain::limits::decimal_string")] Decimal);

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<Text>::deserialize(deserializer)?.map(|text| text.0))
    }
}

/// A policy that cannot be priced, or a set of versions that cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pay policy field `{field}`: {problem}")]
pub struct PolicyError {
    /// Dotted path of the offending field, e.g. `callout_fee.night`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl PolicyError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        PolicyError { field: field.into(), problem: problem.into() }
    }
}

impl PayPolicy {
    /// A policy with every PRODUCT.md default.
    pub fn with_defaults(
        id: impl Into<String>,
        version: u32,
        effective_from: NaiveDate,
        currency: Currency,
    ) -> PayPolicy {
        PayPolicy {
            id: id.into(),
            version,
            effective_from,
            currency,
            callout_fee: default_callout_fee(),
            response_rate_per_hour: default_response_rate(),
            response_multiplier: default_response_multiplier(),
            rounding_increment_minutes: default_increment(),
            minimum_billable_minutes: default_minimum(),
            callout_cooldown_minutes: 0,
            period_cap: None,
            escalation: EscalationRule::default(),
            recovery: RecoveryRule::default(),
            standby: StandbyRule::default(),
        }
    }

    /// Checks that the policy can price anything, every value within `domain::limits`; the
    /// first problem found names its field.
    pub fn validate(&self) -> Result<(), PolicyError> {
        use super::limits::{self, check_amount, check_multiplier, check_range};
        let field_error = |error: super::field_error::FieldError| PolicyError::new(error.field, error.message);
        if self.id.trim().is_empty() {
            return Err(PolicyError::new("id", "must not be empty"));
        }
        if self.id.chars().count() > limits::NAME_LENGTH_MAX {
            return Err(PolicyError::new("id", format!("must be at most {} characters", limits::NAME_LENGTH_MAX)));
        }
        limits::check_no_control("id", &self.id).map_err(field_error)?;
        if self.version == 0 {
            return Err(PolicyError::new("version", "versions start at 1"));
        }
        if i32::try_from(self.version).is_err() {
            return Err(PolicyError::new("version", format!("must be at most {}", i32::MAX)));
        }
        for (class, fee) in self.callout_fee.entries() {
            let field = format!("callout_fee.{class}");
            check_amount(&field, fee).map_err(field_error)?;
            // A fee is paid as is, so it must be expressible in the currency.
            if self.currency.round(fee) != fee {
                return Err(PolicyError::new(field, format!("{fee} has more decimal places than {}", self.currency)));
            }
        }
        if let Some(cap) = self.period_cap {
            check_amount("period_cap", cap).map_err(field_error)?;
            if cap <= Decimal::ZERO || self.currency.round(cap) != cap {
                return Err(PolicyError::new(
                    "period_cap",
                    format!("must be more than 0, in whole minor units of {}", self.currency),
                ));
            }
        }
        check_amount("response_rate_per_hour", self.response_rate_per_hour).map_err(field_error)?;
        if self.response_rate_per_hour.normalize().scale() > limits::DECIMAL_PLACES_MAX {
            return Err(PolicyError::new(
                "response_rate_per_hour",
                format!("has more than {} decimal places", limits::DECIMAL_PLACES_MAX),
            ));
        }
        for (class, multiplier) in self.response_multiplier.entries() {
            check_multiplier(&format!("response_multiplier.{class}"), multiplier).map_err(field_error)?;
        }
        if self.rounding_increment_minutes < 1 {
            return Err(PolicyError::new("rounding_increment_minutes", "must be at least 1 minute"));
        }
        check_range("rounding_increment_minutes", self.rounding_increment_minutes, 1, limits::POLICY_MINUTES_MAX)
            .map_err(field_error)?;
        if self.minimum_billable_minutes < 0 {
            return Err(PolicyError::new("minimum_billable_minutes", "must not be negative"));
        }
        check_range("minimum_billable_minutes", self.minimum_billable_minutes, 0, limits::POLICY_MINUTES_MAX)
            .map_err(field_error)?;
        check_range("callout_cooldown_minutes", self.callout_cooldown_minutes, 0, limits::COOLDOWN_MINUTES_MAX)
            .map_err(field_error)?;
        if self.escalation.free_pages < 0 {
            return Err(PolicyError::new("escalation.free_pages", "must not be negative"));
        }
        check_range("escalation.free_pages", self.escalation.free_pages, 0, limits::FREE_PAGES_MAX)
            .map_err(field_error)?;
        if self.escalation.factor < Decimal::ONE {
            return Err(PolicyError::new(
                "escalation.factor",
                format!("{} must be at least 1", self.escalation.factor),
            ));
        }
        check_multiplier("escalation.factor", self.escalation.factor).map_err(field_error)?;
        if self.escalation.window_days < 1 {
            return Err(PolicyError::new("escalation.window_days", "must be at least 1 day"));
        }
        check_range("escalation.window_days", self.escalation.window_days, 1, limits::WINDOW_DAYS_MAX)
            .map_err(field_error)?;
        if self.recovery.minimum_hours < 0 {
            return Err(PolicyError::new("recovery.minimum_hours", "must not be negative"));
        }
        check_range("recovery.minimum_hours", self.recovery.minimum_hours, 0, limits::RECOVERY_HOURS_MAX)
            .map_err(field_error)?;
        for class in [DayClass::Weekday, DayClass::Weekend, DayClass::Holiday] {
            let field = format!("standby.rates.{}", class.as_str());
            let rate = self.standby.rates.get(class);
            check_amount(&field, rate).map_err(field_error)?;
            if rate.normalize().scale() > limits::DECIMAL_PLACES_MAX {
                return Err(PolicyError::new(
                    field,
                    format!("has more than {} decimal places", limits::DECIMAL_PLACES_MAX),
                ));
            }
        }
        if self.standby.role_multipliers.len() > 16 {
            return Err(PolicyError::new("standby.role_multipliers", "lists at most 16 roles"));
        }
        for (role, multiplier) in &self.standby.role_multipliers {
            let field = format!("standby.role_multipliers.{role}");
            if role.trim().is_empty() || role.chars().count() > limits::NAME_LENGTH_MAX {
                return Err(PolicyError::new(
                    "standby.role_multipliers",
                    format!("a role name has 1 to {} characters", limits::NAME_LENGTH_MAX),
                ));
            }
            limits::check_no_control("standby.role_multipliers", role).map_err(field_error)?;
            check_multiplier(&field, *multiplier).map_err(field_error)?;
        }
        if let Some(hours) = self.standby.night_minimum_hours {
            check_range("standby.night_minimum_hours", hours, 0, limits::NIGHT_MINIMUM_HOURS_MAX)
                .map_err(field_error)?;
        }
        if self.standby.night_boundary.is_some() && self.standby.night_minimum_hours.is_none() {
            return Err(PolicyError::new("standby.night_boundary", "applies only with standby.night_minimum_hours"));
        }
        if self.standby.weekend_nights.len() > 7 {
            return Err(PolicyError::new("standby.weekend_nights", "lists at most the 7 days of the week"));
        }
        Ok(())
    }

    /// `id` and `version`, as recorded on every line this version prices.
    pub fn reference(&self) -> PolicyRef {
        PolicyRef { id: self.id.clone(), version: self.version }
    }
}

/// Which policy version produced an amount.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// The policy id.
    pub id: String,
    /// The version number.
    pub version: u32,
}

/// Every version of one policy, ordered by effective date; each is valid and no two start on
/// the same date, so exactly one version (or none, before the first) is in force on any date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PolicyHistory {
    versions: Vec<PayPolicy>,
}

impl PolicyHistory {
    /// Orders and checks the versions of one policy: all valid, one id, distinct version
    /// numbers and effective dates, version numbers rising with the dates.
    pub fn new(mut versions: Vec<PayPolicy>) -> Result<PolicyHistory, PolicyError> {
        let Some(first) = versions.first() else {
            return Err(PolicyError::new("versions", "a policy needs at least one version"));
        };
        let id = first.id.clone();
        for (index, version) in versions.iter().enumerate() {
            version.validate().map_err(|error| PolicyError {
                field: format!("versions[{index}].{}", error.field),
                problem: error.problem,
            })?;
            if version.id != id {
                return Err(PolicyError::new(
                    format!("versions[{index}].id"),
                    format!("`{}` differs from `{id}`", version.id),
                ));
            }
        }
        versions.sort_by_key(|version| version.effective_from);
        for pair in versions.windows(2) {
            if let [earlier, later] = pair {
                if earlier.effective_from == later.effective_from {
                    return Err(PolicyError::new(
                        "effective_from",
                        format!(
                            "versions {} and {} both start on {}",
                            earlier.version, later.version, later.effective_from
                        ),
                    ));
                }
                if earlier.version >= later.version {
                    return Err(PolicyError::new(
                        "version",
                        format!(
                            "version {} starts on {}, after version {} ({}): versions must rise with their dates",
                            earlier.version, earlier.effective_from, later.version, later.effective_from
                        ),
                    ));
                }
            }
        }
        Ok(PolicyHistory { versions })
    }

    /// Versions taken as they are, unchecked: for tests of what pricing does with a value
    /// beyond the limits (a policy stored before them).
    #[cfg(test)]
    pub(crate) fn unchecked(versions: Vec<PayPolicy>) -> PolicyHistory {
        PolicyHistory { versions }
    }

    /// The versions, oldest first.
    pub fn versions(&self) -> &[PayPolicy] {
        &self.versions
    }

    /// The version in force on local date `date`: the latest one effective on or before it.
    pub fn in_force_on(&self, date: NaiveDate) -> Option<&PayPolicy> {
        self.versions.iter().rev().find(|version| version.effective_from <= date)
    }

    /// The version in force at an instant, for a person living in `zone` (effective dates
    /// are local dates).
    pub fn in_force_at(&self, instant: DateTime<Utc>, zone: Tz) -> Option<&PayPolicy> {
        self.in_force_on(instant.with_timezone(&zone).date_naive())
    }
}

impl<'de> Deserialize<'de> for PolicyHistory {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let versions = Vec::<PayPolicy>::deserialize(deserializer)?;
        PolicyHistory::new(versions).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn eur() -> Currency {
        "EUR".parse().unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn policy() -> PayPolicy {
        PayPolicy::with_defaults("standard", 1, date("2026-01-01"), eur())
    }

    #[test]
    fn defaults_are_those_of_the_product() {
        let policy = policy();
        assert_eq!(policy.callout_fee.night, dec!(50.00));
        assert_eq!(policy.response_rate_per_hour, dec!(30.00));
        assert_eq!(policy.response_multiplier.off_hours, dec!(1.5));
        assert_eq!(policy.rounding_increment_minutes, 15);
        assert_eq!(policy.minimum_billable_minutes, 30);
        assert_eq!(policy.escalation, EscalationRule { free_pages: 3, factor: dec!(2), window_days: 365 });
        assert_eq!(policy.recovery.minimum_hours, 2);
        assert_eq!(policy.standby.night_cutoff, NaiveTime::from_hms_opt(6, 0, 0).unwrap());
        assert_eq!(policy.standby.weekend_nights, vec![Weekday::Fri, Weekday::Sat, Weekday::Sun]);
        assert_eq!(policy.validate(), Ok(()));
    }

    #[test]
    fn highest_value_wins_and_ties_are_deterministic() {
        let fees = policy().callout_fee;
        let night_weekend = TimeClassSet::of(&[TimeClass::Night, TimeClass::Weekend]);
        // night 50.00 = weekend 50.00: the tie goes to weekend, later in TimeClass::ALL.
        assert_eq!(fees.highest(night_weekend), Some((TimeClass::Weekend, dec!(50.00))));
        let holiday_night = TimeClassSet::of(&[TimeClass::Night, TimeClass::Holiday]);
        assert_eq!(fees.highest(holiday_night), Some((TimeClass::Holiday, dec!(75.00))));
        assert_eq!(fees.highest(TimeClassSet::EMPTY), None);
    }

    #[test]
    fn unpriceable_policies_name_their_field() {
        type Break = fn(&mut PayPolicy);
        let table: [(Break, &str); 16] = [
            (|p| p.callout_fee.night = dec!(-1), "callout_fee.night"),
            (|p| p.callout_fee.off_hours = dec!(0.001), "callout_fee.off_hours"),
            (|p| p.response_rate_per_hour = dec!(-30), "response_rate_per_hour"),
            (|p| p.response_multiplier.weekend = dec!(-2), "response_multiplier.weekend"),
            (|p| p.rounding_increment_minutes = 0, "rounding_increment_minutes"),
            (|p| p.minimum_billable_minutes = -1, "minimum_billable_minutes"),
            (|p| p.escalation.factor = dec!(0.5), "escalation.factor"),
            (|p| p.escalation.free_pages = -3, "escalation.free_pages"),
            (|p| p.escalation.window_days = 0, "escalation.window_days"),
            (|p| p.recovery.minimum_hours = -2, "recovery.minimum_hours"),
            (|p| p.standby.rates.holiday = dec!(-75), "standby.rates.holiday"),
            (
                |p| {
                    p.standby.role_multipliers.insert("backup".into(), dec!(-1));
                },
                "standby.role_multipliers.backup",
            ),
            (|p| p.version = 0, "version"),
            (|p| p.standby.night_minimum_hours = Some(-1), "standby.night_minimum_hours"),
            (|p| p.standby.night_minimum_hours = Some(25), "standby.night_minimum_hours"),
            (|p| p.standby.night_boundary = Some(NaiveTime::MIN), "standby.night_boundary"),
        ];
        for (break_it, field) in table {
            let mut broken = policy();
            break_it(&mut broken);
            let error = broken.validate().unwrap_err();
            assert_eq!(error.field, field);
            assert!(error.to_string().contains(field), "{error}");
        }
    }

    #[test]
    fn an_unknown_currency_is_refused_when_read() {
        let json = serde_json::to_string(&policy()).unwrap().replace("\"EUR\"", "\"EUE\"");
        let error = serde_json::from_str::<PayPolicy>(&json).unwrap_err();
        assert!(error.to_string().contains("unknown currency `EUE`"), "{error}");
    }

    #[test]
    fn json_round_trip_is_lossless() {
        let mut policy = policy();
        policy.standby.role_multipliers.insert("secondary".into(), dec!(0.5));
        policy.standby.mode = StandbyMode::PerNight;
        let json = serde_json::to_string_pretty(&policy).unwrap();
        assert!(json.contains("\"night\": \"50.00\""), "amounts are strings: {json}");
        let back: PayPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn toml_round_trip_is_lossless_and_defaults_fill_gaps() {
        let mut policy = policy();
        policy.standby.mode = StandbyMode::PerNight;
        policy.standby.weekend_nights = vec![Weekday::Sat];
        policy.standby.role_multipliers.insert("secondary".into(), dec!(0.5));
        let text = toml::to_string(&policy).unwrap();
        let back: PayPolicy = toml::from_str(&text).unwrap();
        assert_eq!(back, policy);
        policy.standby.night_minimum_hours = Some(6);
        policy.standby.night_boundary = NaiveTime::from_hms_opt(12, 0, 0);
        let back: PayPolicy = toml::from_str(&toml::to_string(&policy).unwrap()).unwrap();
        assert_eq!(back, policy);
        for hours in [0, 24] {
            policy.standby.night_minimum_hours = Some(hours);
            assert_eq!(policy.validate(), Ok(()), "{hours} h");
        }

        let minimal = r#"
            id = "uk-night"
            version = 2
            effective_from = "2026-04-01"
            currency = "GBP"
            rounding_increment_minutes = 30

            [standby]
            mode = "per_night"
            night_cutoff = "07:00:00"
            rates = { weekday = "20.00", weekend = "40.00", holiday = "60.00" }
        "#;
        let parsed: PayPolicy = toml::from_str(minimal).unwrap();
        assert_eq!(parsed.rounding_increment_minutes, 30);
        assert_eq!(parsed.minimum_billable_minutes, 30);
        assert_eq!(parsed.standby.mode, StandbyMode::PerNight);
        assert_eq!(parsed.standby.rates.weekend, dec!(40.00));
        assert_eq!(parsed.standby.weekend_nights.len(), 3);
        assert_eq!(parsed.callout_fee, default_callout_fee());
        assert_eq!(parsed.validate(), Ok(()));
    }

    fn version(number: u32, from: &str) -> PayPolicy {
        PayPolicy::with_defaults("standard", number, date(from), eur())
    }

    #[test]
    fn the_version_in_force_is_the_latest_started() {
        let history = PolicyHistory::new(vec![version(2, "2026-07-01"), version(1, "2026-01-01")]).unwrap();
        assert_eq!(history.in_force_on(date("2025-12-31")), None);
        assert_eq!(history.in_force_on(date("2026-01-01")).map(|p| p.version), Some(1));
        assert_eq!(history.in_force_on(date("2026-06-30")).map(|p| p.version), Some(1));
        assert_eq!(history.in_force_on(date("2026-07-01")).map(|p| p.version), Some(2));
        // 2026-06-30T23:30Z is already 1 July in London (BST).
        let instant = DateTime::parse_from_rfc3339("2026-06-30T23:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(history.in_force_at(instant, chrono_tz::Europe::London).map(|p| p.version), Some(2));
        assert_eq!(history.in_force_at(instant, chrono_tz::UTC).map(|p| p.version), Some(1));
    }

    #[test]
    fn clashing_versions_are_refused() {
        let same_date = PolicyHistory::new(vec![version(1, "2026-01-01"), version(2, "2026-01-01")]);
        assert_eq!(same_date.unwrap_err().field, "effective_from");
        let backwards = PolicyHistory::new(vec![version(2, "2026-01-01"), version(1, "2026-07-01")]);
        assert_eq!(backwards.unwrap_err().field, "version");
        let duplicate = PolicyHistory::new(vec![version(1, "2026-01-01"), version(1, "2026-07-01")]);
        assert_eq!(duplicate.unwrap_err().field, "version");
        let mut other = version(2, "2026-07-01");
        other.id = "other".into();
        assert_eq!(PolicyHistory::new(vec![version(1, "2026-01-01"), other]).unwrap_err().field, "versions[1].id");
        let mut broken = version(2, "2026-07-01");
        broken.rounding_increment_minutes = 0;
        assert_eq!(
            PolicyHistory::new(vec![version(1, "2026-01-01"), broken]).unwrap_err().field,
            "versions[1].rounding_increment_minutes"
        );
        assert_eq!(PolicyHistory::new(vec![]).unwrap_err().field, "versions");
    }

    #[test]
    fn history_reads_from_json_and_is_checked() {
        let json = serde_json::to_string(&vec![version(1, "2026-01-01"), version(2, "2026-01-01")]).unwrap();
        let error = serde_json::from_str::<PolicyHistory>(&json).unwrap_err();
        assert!(error.to_string().contains("effective_from"), "{error}");
        let history = PolicyHistory::new(vec![version(1, "2026-01-01")]).unwrap();
        let back: PolicyHistory = serde_json::from_str(&serde_json::to_string(&history).unwrap()).unwrap();
        assert_eq!(back, history);
    }
}
