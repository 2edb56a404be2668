//! Payroll export layouts: data files finance writes, not code.
//!
//! A layout is a TOML file (see `reports/README.md` for every key). It is parsed strictly:
//! an unknown key, an unknown source field or a field that does not belong to the layout's
//! shape is an error that names it, because a misspelt key silently ignored would produce
//! a file payroll imports wrongly. Validation happens once, in `load_layout`, so that
//! exporting with a `Layout` can only fail on the data, never on the layout itself.

use std::fmt;

use chrono::format::{Item, StrftimeItems};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

use super::terms::Component;
use crate::domain::time_class::TimeClass;

/// The shipped layouts, compiled in so exports work with no files on disk.
const BUILTIN: [(&str, &str); 5] = [
    ("long", include_str!("../../reports/payroll/long.toml")),
    ("wide", include_str!("../../reports/payroll/wide.toml")),
    ("adp_like", include_str!("../../reports/payroll/adp_like.toml")),
    ("eu_semicolon", include_str!("../../reports/payroll/eu_semicolon.toml")),
    ("detailed", include_str!("../../reports/payroll/detailed.toml")),
];

/// The shipped layouts as `(name, TOML text)`, in a fixed order.
pub fn builtin_layouts() -> Vec<(&'static str, &'static str)> {
    BUILTIN.to_vec()
}

/// A layout could not be loaded; the message names the TOML key or field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The TOML did not parse or has an unknown or missing key (the toml crate names it).
    #[error("layout is not valid TOML for a payroll layout: {0}")]
    Toml(String),
    /// A key has a value the layout cannot use.
    #[error("`{key}`: {message}")]
    InvalidValue { key: String, message: String },
    /// `columns[i].field` is not one of the documented source fields.
    #[error("`columns[{index}].field`: unknown source field `{field}` (see reports/README.md for the list)")]
    UnknownField { index: usize, field: String },
    /// `columns[i].field` exists, but not for this layout's shape.
    #[error("`columns[{index}].field`: source field `{field}` is not available in a `{shape}` layout")]
    FieldNotInShape { index: usize, field: String, shape: Shape },
}

/// Whether a layout has one row per person × component × currency or one per person × currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// One row per person × component × currency × original period.
    Long,
    /// One row per person × currency, a column per component.
    Wide,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::Long => "long",
            Shape::Wide => "wide",
        })
    }
}

/// Where a column's value comes from. The TOML spelling is in `SourceField::parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceField {
    /// `payroll_id`: the person's payroll id.
    PayrollId,
    /// `person_id`: paydown's person id.
    PersonId,
    /// `name`: the person's name.
    Name,
    /// `email`: the person's email.
    Email,
    /// `team`: the person's team, empty if none.
    Team,
    /// `cost_centre`: the team's cost centre, `UNASSIGNED` if none.
    CostCentre,
    /// `currency`: ISO 4217 code of the row's amounts.
    Currency,
    /// `period`: the period id posted in (e.g. `2026-10`).
    Period,
    /// `period_start`: the first day of the period, in `date_format`.
    PeriodStart,
    /// `period_end`: the last day of the period (inclusive), in `date_format`.
    PeriodEnd,
    /// `status`: `FINAL` for a closed period, `PROVISIONAL` for an open one.
    Status,
    /// `entry_count`: how many ledger entries the row sums.
    EntryCount,
    /// `component` (long): the ledger's component name.
    Component,
    /// `earning_code` (long): the layout's earning code of the component.
    EarningCode,
    /// `hours` (long): hours of time-based entries (empty for counts and nights).
    Hours,
    /// `amount` (long): the money amount (empty for hours components).
    Amount,
    /// `value` (long): hours for an hours component, the amount otherwise.
    Value,
    /// `quantity` (long): the summed raw quantity, in `unit`.
    Quantity,
    /// `unit` (long): the unit of `quantity`.
    Unit,
    /// `adjustment` (long): `Y` when the row is a late correction of an earlier period, else `N`.
    Adjustment,
    /// `original_period` (long): the period the row's work belongs to.
    OriginalPeriod,
    /// `amount:<component>` (wide): the amount of one component.
    ComponentAmount(Component),
    /// `hours:<component>` (wide): the hours of one component.
    ComponentHours(Component),
    /// `total_amount` (wide): the sum of all component amounts.
    TotalAmount,
    /// `adjustment_amount` (wide): the part of `total_amount` that corrects earlier periods.
    AdjustmentAmount,
    /// `class_hours:<class>`: hours of response work that started in that time class
    /// (`business`, `off_hours`, `night`, `weekend`, `holiday`), as the pay engine classed it.
    ClassHours(TimeClass),
    /// `callout_count`: callouts paid, net of reversals.
    CalloutCount,
    /// `pay_date`: the day the period is paid, by the layout's `[pay_date]` rule.
    PayDate,
}

impl SourceField {
    /// Parses a source field name as written in a layout; `None` if unknown.
    pub fn parse(text: &str) -> Option<SourceField> {
        if let Some(component) = text.strip_prefix("amount:") {
            return Component::parse(component).map(SourceField::ComponentAmount);
        }
        if let Some(component) = text.strip_prefix("hours:") {
            return Component::parse(component).map(SourceField::ComponentHours);
        }
        if let Some(class) = text.strip_prefix("class_hours:") {
            return TimeClass::ALL.into_iter().find(|known| known.as_str() == class).map(SourceField::ClassHours);
        }
        Some(match text {
            "payroll_id" => SourceField::PayrollId,
            "person_id" => SourceField::PersonId,
            "name" => SourceField::Name,
            "email" => SourceField::Email,
            "team" => SourceField::Team,
            "cost_centre" => SourceField::CostCentre,
            "currency" => SourceField::Currency,
            "period" => SourceField::Period,
            "period_start" => SourceField::PeriodStart,
            "period_end" => SourceField::PeriodEnd,
            "status" => SourceField::Status,
            "entry_count" => SourceField::EntryCount,
            "component" => SourceField::Component,
            "earning_code" => SourceField::EarningCode,
            "hours" => SourceField::Hours,
            "amount" => SourceField::Amount,
            "value" => SourceField::Value,
            "quantity" => SourceField::Quantity,
            "unit" => SourceField::Unit,
            "adjustment" => SourceField::Adjustment,
            "original_period" => SourceField::OriginalPeriod,
            "total_amount" => SourceField::TotalAmount,
            "adjustment_amount" => SourceField::AdjustmentAmount,
            "callout_count" => SourceField::CalloutCount,
            "pay_date" => SourceField::PayDate,
            _ => return None,
        })
    }

    /// Whether the field has a value in rows of `shape`.
    pub fn fits(self, shape: Shape) -> bool {
        use SourceField::*;
        match self {
            PayrollId | PersonId | Name | Email | Team | CostCentre | Currency | Period | PeriodStart | PeriodEnd
            | Status | EntryCount | ClassHours(_) | CalloutCount | PayDate => true,
            Component | EarningCode | Hours | Amount | Value | Quantity | Unit | Adjustment | OriginalPeriod => {
                shape == Shape::Long
            }
            ComponentAmount(_) | ComponentHours(_) | TotalAmount | AdjustmentAmount => shape == Shape::Wide,
        }
    }
}

/// One output column: its header text and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header text written in the header row.
    pub header: String,
    /// The source of the column's values.
    pub field: SourceField,
}

/// How numbers are written. Money is never rounded here: an amount with more decimals than
/// `amount_decimals` is an export error. Hours are rounded (half away from zero) to
/// `hours_decimals` because minutes do not always divide into hours exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat {
    /// `.` or `,`.
    pub decimal_separator: char,
    /// `None`, or one of `,` `.` ` ` `'`.
    pub thousands_separator: Option<char>,
    /// Decimals of amounts; `None` means the currency's minor unit (2 for EUR, 0 for JPY).
    pub amount_decimals: Option<u32>,
    /// Decimals of hours; `None` means every significant digit.
    pub hours_decimals: Option<u32>,
}

/// A number could not be written without losing money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value} cannot be written with {decimals} decimals without rounding money (layout key `number.amount_decimals`)"
)]
pub struct PrecisionError {
    /// The value that would have been rounded.
    pub value: Decimal,
    /// The decimals the layout allows.
    pub decimals: u32,
}

impl NumberFormat {
    /// Writes an amount with exactly `decimals` decimals, refusing to round it.
    pub fn amount(&self, value: Decimal, decimals: u32) -> Result<String, PrecisionError> {
        if value.round_dp(decimals) != value {
            return Err(PrecisionError { value, decimals });
        }
        let mut fixed = value;
        fixed.rescale(decimals);
        Ok(self.digits(fixed))
    }

    /// Rounds hours half away from zero to `hours_decimals` (and pads to that scale), or keeps
    /// every significant digit when the layout sets none.
    pub fn round_hours(&self, value: Decimal) -> Decimal {
        match self.hours_decimals {
            Some(decimals) => {
                let mut rounded = value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
                rounded.rescale(decimals);
                rounded
            }
            None => value.normalize(),
        }
    }

    /// Writes hours as `round_hours` makes them, with this format's separators.
    pub fn hours(&self, value: Decimal) -> String {
        self.digits(self.round_hours(value))
    }

    /// Writes a decimal with every significant digit and no rounding (raw quantities).
    pub fn hours_exact(&self, value: Decimal) -> String {
        self.digits(value.normalize())
    }

    /// Writes a count (an integer) with the thousands separator.
    pub fn count(&self, value: usize) -> String {
        self.digits(Decimal::from(value))
    }

    /// Writes a decimal that already has the wanted scale with this format's separators.
    fn digits(&self, value: Decimal) -> String {
        let plain = value.to_string();
        let (sign, unsigned) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (integer, fraction) = match unsigned.split_once('.') {
            Some((integer, fraction)) => (integer, Some(fraction)),
            None => (unsigned, None),
        };
        let mut out = String::with_capacity(plain.len() + integer.len() / 3 + 1);
        out.push_str(sign);
        for (position, digit) in integer.chars().enumerate() {
            let remaining = integer.len() - position;
            if position > 0
                && remaining % 3 == 0
                && let Some(separator) = self.thousands_separator
            {
                out.push(separator);
            }
            out.push(digit);
        }
        if let Some(fraction) = fraction {
            out.push(self.decimal_separator);
            out.push_str(fraction);
        }
        out
    }

    /// Whether `text` looks like a number this format writes: an optional leading `-`, then
    /// digits and separators only. Such a cell cannot hold a formula (there is no function
    /// name, operator or reference in it), so it is safe to leave un-neutralised in CSV even
    /// when it starts with `-`.
    pub fn is_plain_number(&self, text: &str) -> bool {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        unsigned.starts_with(|c: char| c.is_ascii_digit())
            && unsigned
                .chars()
                .all(|c| c.is_ascii_digit() || c == self.decimal_separator || Some(c) == self.thousands_separator)
    }

    /// The XLSX number format code showing this format's decimals (Excel applies the reader's
    /// locale separators itself, so the code always uses `,` and `.`).
    pub fn xlsx_code(&self, decimals: Option<u32>) -> String {
        let integer = if self.thousands_separator.is_some() { "#,##0" } else { "0" };
        match decimals {
            Some(0) => integer.to_owned(),
            Some(decimals) => format!("{integer}.{}", "0".repeat(decimals as usize)),
            None => "General".to_owned(),
        }
    }
}

/// When a period is paid, as a layout says (`[pay_date]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayDateRule {
    /// `day_of_month = D`, `months_after_period_end = M` (default 0): day D of the month M
    /// months after the one holding the period's last day; a day the month lacks (31 in
    /// November) is its last day.
    DayOfMonth { day: u32, months_after: u32 },
    /// `days_after_period_end = N`: N days after the period's last day (0: that day).
    DaysAfterEnd(u32),
}

/// Most months or days a pay date may lie after its period's end.
pub const PAY_DATE_MONTHS_AFTER_MAX: u32 = 12;
/// Most days a pay date may lie after its period's end.
pub const PAY_DATE_DAYS_AFTER_MAX: u32 = 366;

impl PayDateRule {
    /// The pay date of a period whose last day is `last_day`; `None` only past the calendar's end.
    pub fn pay_date(self, last_day: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
        use chrono::Datelike;
        match self {
            PayDateRule::DaysAfterEnd(days) => last_day.checked_add_days(chrono::Days::new(u64::from(days))),
            PayDateRule::DayOfMonth { day, months_after } => {
                let first = last_day.with_day(1)?.checked_add_months(chrono::Months::new(months_after))?;
                let next_month = first.checked_add_months(chrono::Months::new(1))?;
                let days_in_month = next_month.pred_opt()?.day();
                first.with_day(day.min(days_in_month))
            }
        }
    }
}

/// A validated payroll layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The layout's name, used in file names (`[a-z0-9_-]+`).
    pub name: String,
    /// What the layout is for, in words.
    pub description: String,
    /// Long or wide.
    pub shape: Shape,
    /// The CSV field delimiter.
    pub delimiter: u8,
    /// Whether the first row holds the column headers.
    pub header: bool,
    /// Whether the CSV starts with a UTF-8 byte order mark (some Excel versions need it).
    pub utf8_bom: bool,
    /// chrono format string for dates.
    pub date_format: String,
    /// How numbers are written.
    pub number: NumberFormat,
    /// The earning code of each component the layout can export.
    pub earning_codes: Vec<(Component, String)>,
    /// Components paid in hours (time off in lieu) rather than money.
    pub hours_components: Vec<Component>,
    /// The columns in order.
    pub columns: Vec<Column>,
    /// When the period is paid, for a `pay_date` column.
    pub pay_date: Option<PayDateRule>,
}

impl Layout {
    /// The earning code of `component`, if the layout has one.
    pub fn earning_code(&self, component: Component) -> Option<&str> {
        self.earning_codes.iter().find(|(known, _)| *known == component).map(|(_, code)| code.as_str())
    }

    /// Whether the layout pays `component` in hours rather than money.
    pub fn is_hours_component(&self, component: Component) -> bool {
        self.hours_components.contains(&component)
    }

    /// Whether any column takes its value from `field`.
    pub fn has_field(&self, field: SourceField) -> bool {
        self.columns.iter().any(|column| column.field == field)
    }
}

// The TOML file as written. `deny_unknown_fields` everywhere: a typo is an error naming the key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutFile {
    name: String,
    description: String,
    shape: Shape,
    delimiter: String,
    header: bool,
    #[serde(default)]
    utf8_bom: bool,
    date_format: String,
    number: NumberFile,
    earning_codes: EarningCodesFile,
    #[serde(default)]
    hours_components: Vec<Component>,
    columns: Vec<ColumnFile>,
    pay_date: Option<PayDateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayDateFile {
    day_of_month: Option<u32>,
    months_after_period_end: Option<u32>,
    days_after_period_end: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberFile {
    decimal_separator: String,
    #[serde(default)]
    thousands_separator: String,
    amount_decimals: Option<u32>,
    hours_decimals: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EarningCodesFile {
    callout: Option<String>,
    escalation: Option<String>,
    response: Option<String>,
    recovery: Option<String>,
    standby: Option<String>,
    manual_adjustment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    header: String,
    field: String,
}

// Limits that keep a layout sane; a payroll file with 28 decimals or 500 columns is a mistake.
const DECIMALS_MAX: u32 = 6;
const COLUMNS_MAX: usize = 200;

fn invalid(key: &str, message: impl Into<String>) -> LayoutError {
    LayoutError::InvalidValue { key: key.to_owned(), message: message.into() }
}

fn single_char(key: &str, text: &str, allowed: &[char]) -> Result<char, LayoutError> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if allowed.contains(&c) => Ok(c),
        _ => Err(invalid(key, format!("must be one of {allowed:?}, got {text:?}"))),
    }
}

/// Whether `format` formats a date without error.
pub(crate) fn date_format_works(format: &str) -> bool {
    use std::fmt::Write as _;
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return false;
    }
    let sample = chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default();
    let mut probe = String::new();
    write!(probe, "{}", sample.format(format)).is_ok()
}

/// Parses and validates a layout from its TOML text.
pub fn load_layout(toml_text: &str) -> Result<Layout, LayoutError> {
    let file: LayoutFile = toml::from_str(toml_text).map_err(|error| LayoutError::Toml(error.to_string()))?;

    let name_ok = !file.name.is_empty()
        && file.name.len() <= 64
        && file.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !name_ok {
        return Err(invalid("name", "must be 1 to 64 characters of a-z, 0-9, _ and -, it becomes part of file names"));
    }

    // Quotes and line breaks would collide with RFC 4180 quoting; a letter or digit would
    // collide with the data.
    let delimiter = single_char("delimiter", &file.delimiter, &[',', ';', '\t', '|'])?;
    let decimal_separator = single_char("number.decimal_separator", &file.number.decimal_separator, &['.', ','])?;
    let thousands_separator = match file.number.thousands_separator.as_str() {
        "" => None,
        text => Some(single_char("number.thousands_separator", text, &[',', '.', ' ', '\''])?),
    };
    if thousands_separator == Some(decimal_separator) {
        return Err(invalid("number.thousands_separator", "must differ from number.decimal_separator"));
    }
    for (key, decimals) in
        [("number.amount_decimals", file.number.amount_decimals), ("number.hours_decimals", file.number.hours_decimals)]
    {
        if decimals.is_some_and(|decimals| decimals > DECIMALS_MAX) {
            return Err(invalid(key, format!("must be at most {DECIMALS_MAX}")));
        }
    }

    // chrono's `to_string` panics when formatting fails (a bad specifier, or a time field such
    // as `%H` on a date), so the format is tried once here on a sample date.
    if file.date_format.is_empty() || !date_format_works(&file.date_format) {
        return Err(invalid(
            "date_format",
            format!("{:?} is not a chrono format string for a date (no time fields)", file.date_format),
        ));
    }

    if file.columns.is_empty() || file.columns.len() > COLUMNS_MAX {
        return Err(invalid("columns", format!("must list 1 to {COLUMNS_MAX} columns")));
    }
    let mut columns = Vec::with_capacity(file.columns.len());
    for (index, column) in file.columns.into_iter().enumerate() {
        let field = SourceField::parse(&column.field)
            .ok_or_else(|| LayoutError::UnknownField { index, field: column.field.clone() })?;
        if !field.fits(file.shape) {
            return Err(LayoutError::FieldNotInShape { index, field: column.field, shape: file.shape });
        }
        columns.push(Column { header: column.header, field });
    }

    let codes = file.earning_codes;
    let mut earning_codes = Vec::new();
    for (component, code) in [
        (Component::Callout, codes.callout),
        (Component::Escalation, codes.escalation),
        (Component::Response, codes.response),
        (Component::Recovery, codes.recovery),
        (Component::Standby, codes.standby),
        (Component::ManualAdjustment, codes.manual_adjustment),
    ] {
        if let Some(code) = code {
            if code.trim().is_empty() {
                return Err(invalid(&format!("earning_codes.{component}"), "must not be empty"));
            }
            earning_codes.push((component, code));
        }
    }

    let pay_date = match file.pay_date {
        None => None,
        Some(PayDateFile { day_of_month: Some(day), months_after_period_end, days_after_period_end: None }) => {
            if !(1..=31).contains(&day) {
                return Err(invalid(
                    "pay_date.day_of_month",
                    "must be 1 to 31 (a day the month lacks is its last day)",
                ));
            }
            let months_after = months_after_period_end.unwrap_or(0);
            if months_after > PAY_DATE_MONTHS_AFTER_MAX {
                return Err(invalid(
                    "pay_date.months_after_period_end",
                    format!("must be at most {PAY_DATE_MONTHS_AFTER_MAX}"),
                ));
            }
            Some(PayDateRule::DayOfMonth { day, months_after })
        }
        Some(PayDateFile { day_of_month: None, months_after_period_end: None, days_after_period_end: Some(days) }) => {
            if days > PAY_DATE_DAYS_AFTER_MAX {
                return Err(invalid(
                    "pay_date.days_after_period_end",
                    format!("must be at most {PAY_DATE_DAYS_AFTER_MAX}"),
                ));
            }
            Some(PayDateRule::DaysAfterEnd(days))
        }
        Some(_) => {
            return Err(invalid(
                "pay_date",
                "set either day_of_month (with an optional months_after_period_end) or days_after_period_end",
            ));
        }
    };
    if pay_date.is_none() && columns.iter().any(|column| column.field == SourceField::PayDate) {
        return Err(invalid("pay_date", "a `pay_date` column needs a [pay_date] rule"));
    }

    let mut hours_components = file.hours_components;
    hours_components.sort();
    hours_components.dedup();

    Ok(Layout {
        name: file.name,
        description: file.description,
        shape: file.shape,
        delimiter: u8::try_from(u32::from(delimiter)).map_err(|_| invalid("delimiter", "must be ASCII"))?,
        header: file.header,
        utf8_bom: file.utf8_bom,
        date_format: file.date_format,
        number: NumberFormat {
            decimal_separator,
            thousands_separator,
            amount_decimals: file.number.amount_decimals,
            hours_decimals: file.number.hours_decimals,
        },
        earning_codes,
        hours_components,
        columns,
        pay_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const MINIMAL: &str = r#"
name = "t"
description = "test"
shape = "long"
delimiter = ","
header = true
date_format = "%Y-%m-%d"
[number]
decimal_separator = "."
[earning_codes]
callout = "C"
[[columns]]
header = "Payroll ID"
field = "payroll_id"
"#;

    #[test]
    fn builtin_layouts_load_and_are_named_as_listed() {
        for (name, text) in builtin_layouts() {
            let layout = load_layout(text).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(layout.name, name);
        }
    }

    #[test]
    fn readme_example_loads() {
        let readme = include_str!("../../reports/README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + readme[start..].find("```").unwrap();
        let layout = load_layout(&readme[start..end]).unwrap();
        assert_eq!(layout.name, "acme_payroll");
    }

    #[test]
    fn minimal_layout_loads() {
        let layout = load_layout(MINIMAL).unwrap();
        assert_eq!(layout.earning_code(Component::Callout), Some("C"));
        assert_eq!(layout.earning_code(Component::Standby), None);
    }

    #[test]
    fn unknown_keys_are_named() {
        let text = MINIMAL.replace("header = true", "header = true\nheadr = false");
        let error = load_layout(&text).unwrap_err().to_string();
        assert!(error.contains("headr"), "{error}");

        let text = MINIMAL.replace("callout = \"C\"", "callout = \"C\"\ncalout = \"D\"");
        let error = load_layout(&text).unwrap_err().to_string();
        assert!(error.contains("calout"), "{error}");

        let text = MINIMAL.replace("decimal_separator = \".\"", "decimal_separator = \".\"\ndecimals = 2");
        let error = load_layout(&text).unwrap_err().to_string();
        assert!(error.contains("decimals"), "{error}");
    }

    #[test]
    fn unknown_source_fields_are_named() {
        let text = MINIMAL.replace("field = \"payroll_id\"", "field = \"payroll_idd\"");
        let error = load_layout(&text).unwrap_err();
        assert_eq!(error, LayoutError::UnknownField { index: 0, field: "payroll_idd".into() });
        assert!(error.to_string().contains("payroll_idd"));

        let text = MINIMAL.replace("field = \"payroll_id\"", "field = \"amount:callout\"");
        let error = load_layout(&text).unwrap_err();
        assert!(matches!(error, LayoutError::FieldNotInShape { .. }), "{error}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (from, to, key) in [
            ("date_format = \"%Y-%m-%d\"", "date_format = \"%Q\"", "date_format"),
            ("date_format = \"%Y-%m-%d\"", "date_format = \"%Y %H:%M\"", "date_format"),
            ("delimiter = \",\"", "delimiter = \"\\\"\"", "delimiter"),
            ("decimal_separator = \".\"", "decimal_separator = \"x\"", "number.decimal_separator"),
            ("name = \"t\"", "name = \"../etc\"", "name"),
            ("callout = \"C\"", "callout = \" \"", "earning_codes.callout"),
        ] {
            let error = load_layout(&MINIMAL.replace(from, to)).unwrap_err().to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
    }

    #[test]
    fn pay_dates_follow_the_rule() {
        let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
        let twenty_fifth = PayDateRule::DayOfMonth { day: 25, months_after: 0 };
        assert_eq!(twenty_fifth.pay_date(day("2026-10-31")), Some(day("2026-10-25")));
        let thirty_first_next = PayDateRule::DayOfMonth { day: 31, months_after: 1 };
        assert_eq!(thirty_first_next.pay_date(day("2026-10-31")), Some(day("2026-11-30")), "November has 30 days");
        assert_eq!(thirty_first_next.pay_date(day("2027-01-31")), Some(day("2027-02-28")));
        assert_eq!(thirty_first_next.pay_date(day("2026-12-31")), Some(day("2027-01-31")), "across the year");
        assert_eq!(PayDateRule::DaysAfterEnd(5).pay_date(day("2026-10-31")), Some(day("2026-11-05")));
        assert_eq!(PayDateRule::DaysAfterEnd(0).pay_date(day("2026-10-31")), Some(day("2026-10-31")));
    }

    #[test]
    fn pay_date_rules_are_checked() {
        let with_column = MINIMAL.replace("field = \"payroll_id\"", "field = \"pay_date\"");
        let error = load_layout(&with_column).unwrap_err().to_string();
        assert!(error.contains("pay_date"), "{error}");
        for (rule, key) in [
            ("[pay_date]\nday_of_month = 0\n", "pay_date.day_of_month"),
            ("[pay_date]\nday_of_month = 25\nmonths_after_period_end = 13\n", "pay_date.months_after_period_end"),
            ("[pay_date]\ndays_after_period_end = 400\n", "pay_date.days_after_period_end"),
            ("[pay_date]\nday_of_month = 25\ndays_after_period_end = 4\n", "pay_date"),
        ] {
            let text = with_column.replace("[number]", &format!("{rule}[number]"));
            let error = load_layout(&text).unwrap_err().to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
        let text = with_column.replace("[number]", "[pay_date]\nday_of_month = 25\n[number]");
        assert_eq!(load_layout(&text).unwrap().pay_date, Some(PayDateRule::DayOfMonth { day: 25, months_after: 0 }));
    }

    #[test]
    fn class_hours_and_callout_counts_parse_in_both_shapes() {
        assert_eq!(SourceField::parse("class_hours:night"), Some(SourceField::ClassHours(TimeClass::Night)));
        assert_eq!(SourceField::parse("class_hours:off_hours"), Some(SourceField::ClassHours(TimeClass::OffHours)));
        assert_eq!(SourceField::parse("class_hours:nights"), None);
        for shape in [Shape::Long, Shape::Wide] {
            assert!(SourceField::ClassHours(TimeClass::Holiday).fits(shape));
            assert!(SourceField::CalloutCount.fits(shape));
            assert!(SourceField::PayDate.fits(shape));
        }
    }

    #[test]
    fn numbers_follow_the_format() {
        let european = NumberFormat {
            decimal_separator: ',',
            thousands_separator: Some('.'),
            amount_decimals: Some(2),
            hours_decimals: Some(2),
        };
        assert_eq!(european.amount(dec!(-1234567.5), 2).unwrap(), "-1.234.567,50");
        assert_eq!(european.amount(dec!(123), 2).unwrap(), "123,00");
        assert!(european.amount(dec!(1.005), 2).is_err(), "money is never rounded");
        assert_eq!(european.hours(dec!(0.116666)), "0,12");
        assert_eq!(european.count(1234), "1.234");
        assert!(european.is_plain_number("-1.234,50"));
        assert!(!european.is_plain_number("-2+3"));
        assert!(!european.is_plain_number("-"));
        let plain = NumberFormat {
            decimal_separator: '.',
            thousands_separator: None,
            amount_decimals: None,
            hours_decimals: None,
        };
        assert_eq!(plain.hours(dec!(1.50)), "1.5");
        assert_eq!(plain.amount(dec!(1200), 0).unwrap(), "1200");
    }
}
