//! The payroll export of one period, in the shape a `Layout` describes.
//!
//! Determinism: rows are ordered by payroll id (then person id, for two people sharing one),
//! component in `Component::ALL` order, currency, then the period's own work before
//! adjustments of earlier periods (by original period). Nothing in the output depends on
//! the order of the input or on the time of the export, so exporting a closed period twice
//! gives the same bytes.
//!
//! Safety: every text cell goes through `neutralise_cell` in CSV and is a string cell (with
//! Excel's quote prefix when it would have been neutralised) in XLSX. Number cells are
//! written by paydown from a `Decimal` and contain only an optional leading `-`, digits and
//! separators: a spreadsheet reads `-50.00` as the number −50 and there is nothing in it to
//! evaluate, so numbers are not prefixed (a `'` would turn them into text and break the
//! import). As defence in depth, a number cell is written raw only if it still looks like a
//! plain number (`NumberFormat::is_plain_number`); otherwise it is neutralised like text.
//!
//! Provisional periods: an open period's export gets a `status` column (value
//! `PROVISIONAL`) appended when the layout has none, and `PROVISIONAL` in the file name. A
//! column rather than a comment line, because payroll imports reject unknown leading lines
//! in different ways, whereas an unexpected extra column either is ignored or makes the
//! import fail loudly, both of which are safe for a file that must not be paid from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Workbook, XlsxError};

pub use super::export::Format as FileFormat;
use super::input::{EntryInfo, PayrollInput, PeriodInfo, PersonInfo};
use super::layout::{Column, Layout, PrecisionError, Shape, SourceField};
use super::neutralise_cell;
use super::terms::{Component, Unit, minutes_to_hours};
use crate::domain::currency::Currency;
use crate::domain::time_class::TimeClass;

/// The cost centre written for a person whose team has none.
pub const UNASSIGNED: &str = "UNASSIGNED";

/// The `status` value of a closed period.
pub const STATUS_FINAL: &str = "FINAL";
/// The `status` value of an open period.
pub const STATUS_PROVISIONAL: &str = "PROVISIONAL";

/// An export could not be produced from this data with this layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// An entry refers to a person missing from `PayrollInput::people`.
    #[error("entry `{entry}`: person `{person}` is not in the input's people")]
    UnknownPerson { entry: String, person: String },
    /// An entry has a component outside the ledger's vocabulary.
    #[error("entry `{entry}`: unknown component `{component}`")]
    UnknownComponent { entry: String, component: String },
    /// An entry has a unit outside the ledger's vocabulary.
    #[error("entry `{entry}`: unknown unit `{unit}`")]
    UnknownUnit { entry: String, unit: String },
    /// An entry's currency is not an ISO 4217 code paydown knows.
    #[error("entry `{entry}`: unknown currency `{currency}`")]
    UnknownCurrency { entry: String, currency: String },
    /// An entry's amount has more decimals than its currency's minor unit.
    #[error("entry `{entry}`: amount {amount} has more decimals than {currency} allows")]
    AmountTooPrecise { entry: String, amount: Decimal, currency: String },
    /// The period has entries of a component the layout has no earning code for.
    #[error("layout `{layout}` has no `earning_codes.{component}`, but the period has {component} entries")]
    MissingEarningCode { layout: String, component: Component },
    /// A wide layout has no column for a component present in the data.
    #[error("layout `{layout}` has no `{field}` column, but the period has {component} entries")]
    MissingComponentColumn { layout: String, component: Component, field: String },
    /// A component the layout pays in hours has an entry in a unit that is not time.
    #[error("entry `{entry}`: `{component}` is in the layout's `hours_components`, but the entry's unit is `{unit}`")]
    HoursComponentNotTime { entry: String, component: Component, unit: String },
    /// A component the layout pays in hours carries money, which the layout would drop.
    #[error(
        "entry `{entry}`: `{component}` is in the layout's `hours_components`, but the entry carries an amount of {amount}"
    )]
    HoursComponentWithAmount { entry: String, component: Component, amount: Decimal },
    /// The `quantity` column cannot sum entries in different units.
    #[error("column `quantity`: {component} entries of person `{person}` are in several units")]
    MixedUnits { person: String, component: Component },
    /// A number cannot be written with the layout's decimals without rounding money.
    #[error(transparent)]
    Precision(#[from] PrecisionError),
    /// The data has several currencies and the layout has no `currency` column to tell them apart.
    #[error("layout `{layout}` has no `currency` column, but the period has amounts in {currencies}")]
    MissingCurrencyColumn { layout: String, currencies: String },
    /// A sum overflowed `Decimal` (only possible with absurd amounts).
    #[error("a sum overflowed")]
    Overflow,
    /// Writing the file failed (not expected when writing to memory).
    #[error("could not write the {format} file: {message}")]
    Write { format: &'static str, message: String },
}

/// One cell of an export, typed so that each writer knows what is text and what is a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text from the data or the layout; neutralised in CSV, a string cell in XLSX.
    Text(String),
    /// A number: `text` as the layout formats it, `value` the same number exactly (already
    /// at the written scale), `decimals` the scale shown in XLSX (`None`: as many as needed).
    Number { text: String, value: Decimal, decimals: Option<u32> },
    /// A calendar date: `text` as the layout's `date_format` writes it (CSV, JSON), `date` for
    /// the XLSX date cell.
    Date { text: String, date: NaiveDate },
    /// No value.
    Empty,
}

/// The export as typed cells: headers (from the layout, plus `status` when provisional) and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Header texts, one per column; written only if the layout has `header = true`.
    pub headers: Vec<String>,
    /// Data rows in the deterministic order described in the module docs.
    pub rows: Vec<Vec<Cell>>,
}

/// The per-row sums of one group of entries.
#[derive(Default)]
struct Sums {
    amount: Decimal,
    adjustment_amount: Decimal,
    // `None` until a time-based entry is seen, so "no hours" stays distinct from "0 hours".
    minutes: Option<Decimal>,
    quantity: Decimal,
    unit: Option<String>,
    mixed_units: bool,
    entry_count: usize,
    // Response minutes per time class at the work's start, in `TimeClass::ALL` order.
    class_minutes: [Decimal; 5],
    callouts: Decimal,
}

impl Sums {
    fn add(&mut self, entry: &EntryInfo, unit: Unit, adjustment: bool) -> Result<(), ExportError> {
        if entry.component == Component::Response.as_str()
            && let (Some(minutes), Some(class)) = (unit.minutes(entry.quantity), entry.time_class.as_deref())
            && let Some(index) = TimeClass::ALL.iter().position(|known| known.as_str() == class)
        {
            self.class_minutes[index] = self.class_minutes[index].checked_add(minutes).ok_or(ExportError::Overflow)?;
        }
        if entry.component == Component::Callout.as_str() {
            self.callouts = self.callouts.checked_add(entry.quantity).ok_or(ExportError::Overflow)?;
        }
        self.amount = self.amount.checked_add(entry.amount).ok_or(ExportError::Overflow)?;
        if adjustment {
            self.adjustment_amount = self.adjustment_amount.checked_add(entry.amount).ok_or(ExportError::Overflow)?;
        }
        if let Some(minutes) = unit.minutes(entry.quantity) {
            let sum = self.minutes.unwrap_or_default().checked_add(minutes).ok_or(ExportError::Overflow)?;
            self.minutes = Some(sum);
        }
        self.quantity = self.quantity.checked_add(entry.quantity).ok_or(ExportError::Overflow)?;
        match &self.unit {
            None => self.unit = Some(entry.unit.clone()),
            Some(known) if *known != entry.unit => self.mixed_units = true,
            Some(_) => {}
        }
        self.entry_count += 1;
        Ok(())
    }
}

/// Row identity of the long shape; the derived `Ord` is the export's row order.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct LongKey<'a> {
    payroll_id: &'a str,
    person_id: &'a str,
    component: Component,
    currency: Currency,
    adjustment: bool,
    natural_period: &'a str,
    /// A manual adjustment's own earning code (else the layout's).
    earning_code: Option<&'a str>,
}

/// Row identity of the wide shape.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct WideKey<'a> {
    payroll_id: &'a str,
    person_id: &'a str,
    currency: Currency,
}

/// An entry checked against the ledger's vocabularies (no layout involved).
pub(crate) struct LedgerEntry<'a> {
    pub(crate) entry: &'a EntryInfo,
    pub(crate) person: &'a PersonInfo,
    pub(crate) component: Component,
    pub(crate) unit: Unit,
    pub(crate) currency: Currency,
}

/// Indexes people by id for entry checks.
pub(crate) fn people_by_id(people: &[PersonInfo]) -> HashMap<&str, &PersonInfo> {
    people.iter().map(|person| (person.id.as_str(), person)).collect()
}

/// Checks an entry's person, component, unit, currency and amount precision.
pub(crate) fn check_ledger_entry<'a>(
    people: &HashMap<&str, &'a PersonInfo>,
    entry: &'a EntryInfo,
) -> Result<LedgerEntry<'a>, ExportError> {
    let person = people
        .get(entry.person.as_str())
        .copied()
        .ok_or_else(|| ExportError::UnknownPerson { entry: entry.id.clone(), person: entry.person.clone() })?;
    let component = Component::parse(&entry.component)
        .ok_or_else(|| ExportError::UnknownComponent { entry: entry.id.clone(), component: entry.component.clone() })?;
    let unit = Unit::parse(&entry.unit)
        .ok_or_else(|| ExportError::UnknownUnit { entry: entry.id.clone(), unit: entry.unit.clone() })?;
    let currency = Currency::from_str(&entry.currency)
        .map_err(|_| ExportError::UnknownCurrency { entry: entry.id.clone(), currency: entry.currency.clone() })?;
    // The pay engine rounds every line to the minor unit; anything finer is a ledger bug that
    // an export must not hide by rounding.
    currency.to_minor_units(entry.amount).map_err(|_| ExportError::AmountTooPrecise {
        entry: entry.id.clone(),
        amount: entry.amount,
        currency: entry.currency.clone(),
    })?;
    Ok(LedgerEntry { entry, person, component, unit, currency })
}

fn check_entry<'a>(
    layout: &Layout,
    people: &HashMap<&str, &'a PersonInfo>,
    entry: &'a EntryInfo,
) -> Result<LedgerEntry<'a>, ExportError> {
    let checked = check_ledger_entry(people, entry)?;
    let (component, unit) = (checked.component, checked.unit);
    if layout.earning_code(component).is_none() && entry.earning_code.is_none() {
        return Err(ExportError::MissingEarningCode { layout: layout.name.clone(), component });
    }
    if layout.is_hours_component(component) {
        if unit.minutes(entry.quantity).is_none() {
            return Err(ExportError::HoursComponentNotTime {
                entry: entry.id.clone(),
                component,
                unit: entry.unit.clone(),
            });
        }
        if !entry.amount.is_zero() {
            return Err(ExportError::HoursComponentWithAmount {
                entry: entry.id.clone(),
                component,
                amount: entry.amount,
            });
        }
    }
    Ok(checked)
}

fn checked_entries<'a>(layout: &Layout, input: &'a PayrollInput) -> Result<Vec<LedgerEntry<'a>>, ExportError> {
    let people = people_by_id(&input.people);
    let checked: Vec<LedgerEntry<'a>> =
        input.entries.iter().map(|entry| check_entry(layout, &people, entry)).collect::<Result<_, _>>()?;
    // Without a currency column, 8000 JPY and 8000 EUR look the same to payroll.
    let currencies: std::collections::BTreeSet<&str> = checked.iter().map(|entry| entry.currency.code()).collect();
    if currencies.len() > 1 && !layout.has_field(SourceField::Currency) {
        return Err(ExportError::MissingCurrencyColumn {
            layout: layout.name.clone(),
            currencies: currencies.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    Ok(checked)
}

/// The columns actually written: the layout's, plus `status` for a provisional export.
pub fn columns(layout: &Layout, period: &PeriodInfo) -> Vec<Column> {
    let mut columns = layout.columns.clone();
    if !period.closed && !layout.has_field(SourceField::Status) {
        columns.push(Column { header: "status".to_owned(), field: SourceField::Status });
    }
    columns
}

/// What every row of a person shares.
struct RowContext<'a> {
    layout: &'a Layout,
    period: &'a PeriodInfo,
    person: &'a PersonInfo,
    currency: Currency,
}

impl RowContext<'_> {
    fn amount(&self, value: Decimal) -> Result<Cell, ExportError> {
        let decimals = self.layout.number.amount_decimals.unwrap_or(self.currency.minor_unit_exponent());
        let text = self.layout.number.amount(value, decimals)?;
        let mut exact = value;
        exact.rescale(decimals);
        Ok(Cell::Number { text, value: exact, decimals: Some(decimals) })
    }

    fn hours(&self, minutes: Decimal) -> Cell {
        let number = &self.layout.number;
        let value = number.round_hours(minutes_to_hours(minutes));
        Cell::Number { text: number.hours(value), value, decimals: number.hours_decimals }
    }

    fn count(&self, count: usize) -> Cell {
        Cell::Number { text: self.layout.number.count(count), value: Decimal::from(count), decimals: Some(0) }
    }

    fn date(&self, date: NaiveDate) -> Cell {
        use std::fmt::Write as _;
        // `write!` instead of `to_string`, which panics on a format error. `load_layout` tried
        // the format already; should it still fail, ISO 8601 is a readable fallback.
        let mut text = String::new();
        if write!(text, "{}", date.format(&self.layout.date_format)).is_err() {
            text = date.format("%Y-%m-%d").to_string();
        }
        Cell::Date { text, date }
    }

    /// The fields every shape has; `None` for shape-specific ones.
    fn common(&self, field: SourceField, sums: &Sums) -> Option<Cell> {
        let person = self.person;
        let entry_count = sums.entry_count;
        let last_day = self.period.ends_on.pred_opt().unwrap_or(self.period.ends_on);
        Some(match field {
            SourceField::PayrollId => Cell::Text(person.payroll_id.clone()),
            SourceField::PersonId => Cell::Text(person.id.clone()),
            SourceField::Name => Cell::Text(person.name.clone()),
            SourceField::Email => Cell::Text(person.email.clone()),
            SourceField::Team => Cell::Text(person.team.clone().unwrap_or_default()),
            SourceField::CostCentre => Cell::Text(person.cost_centre.clone().unwrap_or_else(|| UNASSIGNED.to_owned())),
            SourceField::Currency => Cell::Text(self.currency.code().to_owned()),
            SourceField::Period => Cell::Text(self.period.id.clone()),
            SourceField::PeriodStart => self.date(self.period.starts_on),
            // `ends_on` is exclusive; payroll systems expect the last day that is included.
            SourceField::PeriodEnd => self.date(last_day),
            SourceField::Status => Cell::Text(status(self.period).to_owned()),
            SourceField::EntryCount => self.count(entry_count),
            SourceField::ClassHours(class) => {
                let index = TimeClass::ALL.iter().position(|known| *known == class).unwrap_or_default();
                self.hours(sums.class_minutes[index])
            }
            SourceField::CalloutCount => {
                let value = sums.callouts.normalize();
                Cell::Number { text: self.layout.number.hours_exact(value), value, decimals: Some(0) }
            }
            // `load_layout` refuses a `pay_date` column without a rule.
            SourceField::PayDate => match self.layout.pay_date.and_then(|rule| rule.pay_date(last_day)) {
                Some(date) => self.date(date),
                None => Cell::Empty,
            },
            _ => return None,
        })
    }
}

/// `FINAL` or `PROVISIONAL`.
pub fn status(period: &PeriodInfo) -> &'static str {
    if period.closed { STATUS_FINAL } else { STATUS_PROVISIONAL }
}

fn long_rows(layout: &Layout, input: &PayrollInput, columns: &[Column]) -> Result<Vec<Vec<Cell>>, ExportError> {
    let mut groups: BTreeMap<LongKey<'_>, (&PersonInfo, Sums)> = BTreeMap::new();
    for checked in checked_entries(layout, input)? {
        let adjustment = checked.entry.natural_period != input.period.id;
        let key = LongKey {
            payroll_id: &checked.person.payroll_id,
            person_id: &checked.person.id,
            component: checked.component,
            currency: checked.currency,
            adjustment,
            natural_period: &checked.entry.natural_period,
            earning_code: checked.entry.earning_code.as_deref(),
        };
        let (_, sums) = groups.entry(key).or_insert_with(|| (checked.person, Sums::default()));
        sums.add(checked.entry, checked.unit, adjustment)?;
    }

    let mut rows = Vec::with_capacity(groups.len());
    for (key, (person, sums)) in groups {
        let context = RowContext { layout, period: &input.period, person, currency: key.currency };
        let hours_component = layout.is_hours_component(key.component);
        let mut row = Vec::with_capacity(columns.len());
        for column in columns {
            if let Some(cell) = context.common(column.field, &sums) {
                row.push(cell);
                continue;
            }
            let hours = || sums.minutes.map_or(Cell::Empty, |minutes| context.hours(minutes));
            row.push(match column.field {
                SourceField::Component => Cell::Text(key.component.as_str().to_owned()),
                SourceField::EarningCode => {
                    Cell::Text(key.earning_code.or(layout.earning_code(key.component)).unwrap_or_default().to_owned())
                }
                SourceField::Hours => hours(),
                SourceField::Amount if hours_component => Cell::Empty,
                SourceField::Amount => context.amount(sums.amount)?,
                SourceField::Value if hours_component => hours(),
                SourceField::Value => context.amount(sums.amount)?,
                SourceField::Quantity if sums.mixed_units => {
                    return Err(ExportError::MixedUnits { person: person.id.clone(), component: key.component });
                }
                SourceField::Quantity => {
                    let value = sums.quantity.normalize();
                    Cell::Number { text: layout.number.hours_exact(value), value, decimals: None }
                }
                SourceField::Unit => Cell::Text(sums.unit.clone().unwrap_or_default()),
                SourceField::Adjustment => Cell::Text(if key.adjustment { "Y" } else { "N" }.to_owned()),
                SourceField::OriginalPeriod => Cell::Text(key.natural_period.to_owned()),
                // Wide-only fields are refused by `load_layout` for a long layout.
                _ => Cell::Empty,
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

fn wide_rows(layout: &Layout, input: &PayrollInput, columns: &[Column]) -> Result<Vec<Vec<Cell>>, ExportError> {
    type PerComponent = BTreeMap<Component, Sums>;
    let mut groups: BTreeMap<WideKey<'_>, (&PersonInfo, Sums, PerComponent)> = BTreeMap::new();
    for checked in checked_entries(layout, input)? {
        let component = checked.component;
        // A component without its column would vanish from the file while still counting in
        // the total: refuse, so the total always equals the sum of the columns.
        let field = if layout.is_hours_component(component) {
            SourceField::ComponentHours(component)
        } else {
            SourceField::ComponentAmount(component)
        };
        if !layout.has_field(field) {
            let prefix = if matches!(field, SourceField::ComponentHours(_)) { "hours" } else { "amount" };
            return Err(ExportError::MissingComponentColumn {
                layout: layout.name.clone(),
                component,
                field: format!("{prefix}:{component}"),
            });
        }
        let adjustment = checked.entry.natural_period != input.period.id;
        let key = WideKey {
            payroll_id: &checked.person.payroll_id,
            person_id: &checked.person.id,
            currency: checked.currency,
        };
        let (_, total, per_component) =
            groups.entry(key).or_insert_with(|| (checked.person, Sums::default(), PerComponent::new()));
        total.add(checked.entry, checked.unit, adjustment)?;
        per_component.entry(component).or_default().add(checked.entry, checked.unit, adjustment)?;
    }

    let mut rows = Vec::with_capacity(groups.len());
    for (key, (person, total, per_component)) in groups {
        let context = RowContext { layout, period: &input.period, person, currency: key.currency };
        let mut row = Vec::with_capacity(columns.len());
        for column in columns {
            if let Some(cell) = context.common(column.field, &total) {
                row.push(cell);
                continue;
            }
            row.push(match column.field {
                SourceField::ComponentAmount(component) => {
                    context.amount(per_component.get(&component).map_or(Decimal::ZERO, |sums| sums.amount))?
                }
                SourceField::ComponentHours(component) => {
                    context.hours(per_component.get(&component).and_then(|sums| sums.minutes).unwrap_or(Decimal::ZERO))
                }
                SourceField::TotalAmount => context.amount(total.amount)?,
                SourceField::AdjustmentAmount => context.amount(total.adjustment_amount)?,
                // Long-only fields are refused by `load_layout` for a wide layout.
                _ => Cell::Empty,
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Builds the export as typed cells.
pub fn table(layout: &Layout, input: &PayrollInput) -> Result<Table, ExportError> {
    let columns = columns(layout, &input.period);
    let rows = match layout.shape {
        Shape::Long => long_rows(layout, input, &columns)?,
        Shape::Wide => wide_rows(layout, input, &columns)?,
    };
    Ok(Table { headers: columns.into_iter().map(|column| column.header).collect(), rows })
}

/// The CSV text of one cell: text neutralised, numbers raw when they are plainly numbers.
fn csv_text<'a>(layout: &Layout, cell: &'a Cell) -> std::borrow::Cow<'a, str> {
    match cell {
        Cell::Text(text) => neutralise_cell(text),
        Cell::Number { text, .. } if layout.number.is_plain_number(text) => std::borrow::Cow::Borrowed(text),
        Cell::Number { text, .. } => neutralise_cell(text),
        Cell::Date { text, .. } => neutralise_cell(text),
        Cell::Empty => std::borrow::Cow::Borrowed(""),
    }
}

fn csv_error(error: impl std::fmt::Display) -> ExportError {
    ExportError::Write { format: "CSV", message: error.to_string() }
}

fn xlsx_error(error: XlsxError) -> ExportError {
    ExportError::Write { format: "XLSX", message: error.to_string() }
}

fn io_error(format: &'static str) -> impl Fn(std::io::Error) -> ExportError {
    move |error| ExportError::Write { format, message: error.to_string() }
}

/// The name of the XLSX export's first sheet: the layout's rows (the detail), as the CSV has them.
pub const XLSX_SHEET: &str = "payroll";
/// The sheet of per-person totals and control totals per currency.
pub const XLSX_SUMMARY_SHEET: &str = "summary";
/// The sheet of the pay policy versions that priced the period's entries.
pub const XLSX_POLICIES_SHEET: &str = "policies";
/// The `payroll_id` of the summary's control total rows.
pub const SUMMARY_TOTAL: &str = "TOTAL";
/// The summary sheet's columns.
pub const SUMMARY_HEADERS: [&str; 7] = ["payroll_id", "name", "currency", "amount", "entry_count", "period", "status"];
/// The policy sheet's columns.
pub const POLICIES_HEADERS: [&str; 3] = ["policy", "version", "entry_count"];

/// A column's width in characters by what it holds (the header's length may widen it).
fn column_width(field: SourceField) -> usize {
    match field {
        SourceField::Name | SourceField::Email => 30,
        SourceField::PeriodStart | SourceField::PeriodEnd | SourceField::PayDate => 12,
        SourceField::Amount
        | SourceField::Value
        | SourceField::ComponentAmount(_)
        | SourceField::TotalAmount
        | SourceField::AdjustmentAmount => 14,
        SourceField::Team | SourceField::CostCentre | SourceField::PersonId => 16,
        _ => 10,
    }
}

/// The export as RFC 4180 CSV: UTF-8 (with a BOM if the layout asks), CRLF line ends,
/// quotes only where needed, the layout's delimiter.
pub fn write_csv(layout: &Layout, input: &PayrollInput) -> Result<Vec<u8>, ExportError> {
    write_whole(layout, FileFormat::Csv, input)
}

/// The export as an XLSX workbook with one sheet named `payroll` (see `PayrollWriter`).
pub fn write_xlsx(layout: &Layout, input: &PayrollInput) -> Result<Vec<u8>, ExportError> {
    write_whole(layout, FileFormat::Xlsx, input)
}

/// The export as JSON (see `PayrollWriter`).
pub fn write_json(layout: &Layout, input: &PayrollInput) -> Result<Vec<u8>, ExportError> {
    write_whole(layout, FileFormat::Json, input)
}

fn write_whole(layout: &Layout, format: FileFormat, input: &PayrollInput) -> Result<Vec<u8>, ExportError> {
    let mut writer = PayrollWriter::new(layout, format, Vec::new());
    writer.write(input)?;
    writer.finish()
}

/// Writes a payroll export one slice of people at a time, so memory is bounded by a slice
/// whatever the size of the period. Slices must come in the order the file lists people
/// (payroll id, then id); the file is then byte for byte what one slice holding everybody
/// gives, and a slice with no entries adds nothing.
///
/// - CSV: RFC 4180, UTF-8 (with a BOM if the layout asks), CRLF line ends, quotes only where
///   needed, the layout's delimiter; every text cell neutralised.
/// - XLSX: one sheet named `payroll`, in the writer's constant-memory mode (rows go to a
///   temporary file as they are written, then into the zip at `finish`). Text is written as
///   string cells, so nothing is evaluated as a formula; a text that `neutralise_cell` would
///   prefix gets Excel's *quote prefix* style instead of a visible `'`, which keeps it text
///   even if someone edits the cell. Numbers are number cells with the layout's decimals as
///   number format; the f64 Excel stores is made by parsing the exact decimal text at the
///   last step (the CSV and JSON keep the exact decimal). The document's creation time is
///   the period's first day at 00:00 UTC, so the bytes depend only on the data.
/// - JSON: `{report, layout, period, status, columns, rows}`, one row per line, each an array
///   aligned with `columns`. Numbers are exact decimal strings with `.` (never JSON floats),
///   text is raw (JSON is not evaluated by spreadsheets), an empty cell is `null`.
pub struct PayrollWriter<'a, W: Write + Send> {
    layout: &'a Layout,
    format: FileFormat,
    out: W,
    started: bool,
    currencies: BTreeSet<Currency>,
    workbook: Option<Workbook>,
    next_row: u32,
    rows_written: usize,
    // XLSX only: the period, the layout sheet's width, and what the summary sheets show.
    period: Option<PeriodInfo>,
    columns_written: usize,
    summary: BTreeMap<(String, String, Currency), (String, Decimal, usize)>,
    controls: BTreeMap<Currency, (Decimal, usize)>,
    policies: BTreeMap<(String, i32), usize>,
}

impl<'a, W: Write + Send> PayrollWriter<'a, W> {
    pub fn new(layout: &'a Layout, format: FileFormat, out: W) -> Self {
        PayrollWriter {
            layout,
            format,
            out,
            started: false,
            currencies: BTreeSet::new(),
            workbook: None,
            next_row: 0,
            rows_written: 0,
            period: None,
            columns_written: 0,
            summary: BTreeMap::new(),
            controls: BTreeMap::new(),
            policies: BTreeMap::new(),
        }
    }

    /// Appends the rows of one slice of people; the first slice also writes the file's start.
    pub fn write(&mut self, input: &PayrollInput) -> Result<(), ExportError> {
        self.check_currencies(input)?;
        let table = table(self.layout, input)?;
        let first = !self.started;
        self.started = true;
        match self.format {
            FileFormat::Csv => self.csv(&table, first),
            FileFormat::Xlsx => {
                self.tally(input)?;
                self.xlsx(&table, first, &input.period)
            }
            FileFormat::Json => self.json(&table, first, &input.period),
        }
    }

    /// Writes the file's end and hands the output back.
    pub fn finish(mut self) -> Result<W, ExportError> {
        if !self.started {
            return Err(ExportError::Write { format: "export", message: "no slice was written".to_owned() });
        }
        match self.format {
            FileFormat::Csv => {}
            FileFormat::Json => {
                let end: &[u8] = if self.rows_written == 0 { b"]\n}\n" } else { b"\n  ]\n}\n" };
                self.out.write_all(end).map_err(io_error("JSON"))?;
            }
            FileFormat::Xlsx => {
                self.xlsx_summary()?;
                if let Some(mut workbook) = self.workbook.take() {
                    workbook.save_to_writer(&mut self.out).map_err(xlsx_error)?;
                }
            }
        }
        self.out.flush().map_err(io_error("export"))?;
        Ok(self.out)
    }

    /// Without a currency column, 8000 JPY and 8000 EUR look the same to payroll: checked
    /// across slices too, since each slice alone may hold one currency.
    fn check_currencies(&mut self, input: &PayrollInput) -> Result<(), ExportError> {
        if self.layout.has_field(SourceField::Currency) {
            return Ok(());
        }
        self.currencies.extend(input.entries.iter().filter_map(|entry| entry.currency.parse::<Currency>().ok()));
        if self.currencies.len() > 1 {
            return Err(ExportError::MissingCurrencyColumn {
                layout: self.layout.name.clone(),
                currencies: self.currencies.iter().map(|currency| currency.code()).collect::<Vec<_>>().join(", "),
            });
        }
        Ok(())
    }

    fn csv(&mut self, table: &Table, first: bool) -> Result<(), ExportError> {
        let layout = self.layout;
        let mut bytes = Vec::new();
        if first && layout.utf8_bom {
            bytes.extend_from_slice("\u{feff}".as_bytes());
        }
        let mut writer = csv::WriterBuilder::new()
            .delimiter(layout.delimiter)
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(&mut bytes);
        if first && layout.header {
            writer
                .write_record(table.headers.iter().map(|header| neutralise_cell(header).into_owned()))
                .map_err(csv_error)?;
        }
        for row in &table.rows {
            writer.write_record(row.iter().map(|cell| csv_text(layout, cell).into_owned())).map_err(csv_error)?;
        }
        writer.flush().map_err(csv_error)?;
        drop(writer);
        self.out.write_all(&bytes).map_err(io_error("CSV"))
    }

    fn xlsx(&mut self, table: &Table, first: bool, period: &PeriodInfo) -> Result<(), ExportError> {
        if first {
            let mut workbook = super::xlsx::workbook(period.starts_on).map_err(xlsx_error)?;
            workbook
                .add_worksheet_with_constant_memory()
                .map_err(xlsx_error)?
                .set_name(XLSX_SHEET)
                .map_err(xlsx_error)?;
            self.workbook = Some(workbook);
            self.period = Some(period.clone());
        }
        let Some(workbook) = self.workbook.as_mut() else {
            return Err(ExportError::Write { format: "XLSX", message: "the workbook is gone".to_owned() });
        };
        let worksheet = workbook.worksheet_from_index(0).map_err(xlsx_error)?;
        if first && self.layout.header {
            let headers: Vec<&str> = table.headers.iter().map(String::as_str).collect();
            let widths: Vec<usize> =
                columns(self.layout, period).iter().map(|column| column_width(column.field)).collect();
            super::xlsx::header(worksheet, &headers, &widths).map_err(xlsx_error)?;
            self.columns_written = headers.len();
            self.next_row += 1;
        }
        for row in &table.rows {
            for (column_index, cell) in row.iter().enumerate() {
                let column = u16::try_from(column_index).map_err(|_| ExportError::Overflow)?;
                let row_index = self.next_row;
                match cell {
                    Cell::Text(text) => super::xlsx::write_text(worksheet, row_index, column, text, false),
                    Cell::Number { value, decimals, .. } => super::xlsx::write_number(
                        worksheet,
                        row_index,
                        column,
                        *value,
                        &self.layout.number.xlsx_code(*decimals),
                        false,
                    ),
                    Cell::Date { date, .. } => super::xlsx::write_date(worksheet, row_index, column, *date),
                    Cell::Empty => Ok(()),
                }
                .map_err(xlsx_error)?;
            }
            self.next_row = self.next_row.checked_add(1).ok_or(ExportError::Overflow)?;
        }
        Ok(())
    }

    /// Adds what the summary and policy sheets need from one slice's entries.
    fn tally(&mut self, input: &PayrollInput) -> Result<(), ExportError> {
        let people = people_by_id(&input.people);
        for entry in &input.entries {
            let checked = check_ledger_entry(&people, entry)?;
            let person = checked.person;
            let line = self
                .summary
                .entry((person.payroll_id.clone(), person.id.clone(), checked.currency))
                .or_insert_with(|| (person.name.clone(), Decimal::ZERO, 0));
            line.1 = line.1.checked_add(entry.amount).ok_or(ExportError::Overflow)?;
            line.2 += 1;
            let control = self.controls.entry(checked.currency).or_default();
            control.0 = control.0.checked_add(entry.amount).ok_or(ExportError::Overflow)?;
            control.1 += 1;
            *self.policies.entry((entry.policy_id.clone(), entry.policy_version)).or_default() += 1;
        }
        Ok(())
    }

    /// The summary sheet (a row per person and currency, then a control total per currency
    /// summed from the entries themselves) and the sheet of policy versions used. The summary
    /// is the sheet Excel opens on; the layout's sheet stays first for imports that read it.
    fn xlsx_summary(&mut self) -> Result<(), ExportError> {
        use super::xlsx::XCell;
        let Some(workbook) = self.workbook.as_mut() else { return Ok(()) };
        let period = self.period.clone().ok_or(ExportError::Overflow)?;
        if self.layout.header && self.columns_written > 0 {
            let sheet = workbook.worksheet_from_index(0).map_err(xlsx_error)?;
            super::xlsx::filter(sheet, self.next_row.saturating_sub(1), self.columns_written).map_err(xlsx_error)?;
        }
        let state = status(&period).to_owned();
        let amount = |currency: Currency, value: Decimal| XCell::Number(value, currency.minor_unit_exponent());
        let mut rows = Vec::with_capacity(self.summary.len() + self.controls.len());
        let mut person_sums: BTreeMap<Currency, Decimal> = BTreeMap::new();
        for ((payroll_id, _, currency), (name, total, entries)) in &self.summary {
            let sum = person_sums.entry(*currency).or_default();
            *sum = sum.checked_add(*total).ok_or(ExportError::Overflow)?;
            rows.push((
                vec![
                    XCell::Text(payroll_id.clone()),
                    XCell::Text(name.clone()),
                    XCell::Text(currency.code().to_owned()),
                    amount(*currency, *total),
                    XCell::Number(Decimal::from(*entries), 0),
                    XCell::Text(period.id.clone()),
                    XCell::Text(state.clone()),
                ],
                false,
            ));
        }
        for (currency, (total, entries)) in &self.controls {
            // The control total is summed from the entries, apart from the per-person rows: if
            // the two ever disagree the file is refused rather than handed to payroll.
            if person_sums.get(currency) != Some(total) {
                return Err(ExportError::Write {
                    format: "XLSX",
                    message: format!("the {currency} control total does not equal the sum of the people's totals"),
                });
            }
            rows.push((
                vec![
                    XCell::Text(SUMMARY_TOTAL.to_owned()),
                    XCell::Empty,
                    XCell::Text(currency.code().to_owned()),
                    amount(*currency, *total),
                    XCell::Number(Decimal::from(*entries), 0),
                    XCell::Text(period.id.clone()),
                    XCell::Text(state.clone()),
                ],
                true,
            ));
        }
        super::xlsx::table_sheet(workbook, XLSX_SUMMARY_SHEET, &SUMMARY_HEADERS, &[12, 30, 8, 14, 11, 9, 12], &rows)
            .map_err(xlsx_error)?;
        let policies: Vec<(Vec<XCell>, bool)> = self
            .policies
            .iter()
            .map(|((policy, version), entries)| {
                (
                    vec![
                        XCell::Text(policy.clone()),
                        XCell::Number(Decimal::from(*version), 0),
                        XCell::Number(Decimal::from(*entries), 0),
                    ],
                    false,
                )
            })
            .collect();
        super::xlsx::table_sheet(workbook, XLSX_POLICIES_SHEET, &POLICIES_HEADERS, &[24, 9, 11], &policies)
            .map_err(xlsx_error)?;
        let summary = workbook.worksheet_from_name(XLSX_SUMMARY_SHEET).map_err(xlsx_error)?;
        summary.set_active(true);
        Ok(())
    }

    fn json(&mut self, table: &Table, first: bool, period: &PeriodInfo) -> Result<(), ExportError> {
        let mut text = String::new();
        if first {
            text.push_str(&format!(
                "{{\n  \"report\": \"payroll\",\n  \"layout\": {},\n  \"period\": {},\n  \"status\": {},\n  \"columns\": {},\n  \"rows\": [",
                to_json(&self.layout.name),
                to_json(&period.id),
                to_json(status(period)),
                to_json(&table.headers),
            ));
        }
        for row in &table.rows {
            let cells: Vec<Option<String>> = row
                .iter()
                .map(|cell| match cell {
                    Cell::Text(text) | Cell::Date { text, .. } => Some(text.clone()),
                    Cell::Number { value, .. } => Some(value.to_string()),
                    Cell::Empty => None,
                })
                .collect();
            text.push_str(if self.rows_written == 0 { "\n    " } else { ",\n    " });
            text.push_str(&to_json(&cells));
            self.rows_written += 1;
        }
        self.out.write_all(text.as_bytes()).map_err(io_error("JSON"))
    }
}

/// A value as compact JSON (plain strings and vectors of them always serialise).
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Keeps a file-name part to `[A-Za-z0-9_-]` so it is safe in a path and in a
/// `Content-Disposition` header whatever the period id holds.
fn file_name_part(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// The export's file name, e.g. `payroll-2026-10-long.csv`, or
/// `payroll-2026-10-long-PROVISIONAL.csv` for an open period.
pub fn file_name(layout: &Layout, period: &PeriodInfo, ext: &str) -> String {
    let provisional = if period.closed { "" } else { "-PROVISIONAL" };
    format!(
        "payroll-{}-{}{provisional}.{}",
        file_name_part(&period.id),
        file_name_part(&layout.name),
        file_name_part(ext)
    )
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::path::PathBuf;

    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    use rust_decimal_macros::dec;

    use super::*;
    use crate::reports::fixture;
    use crate::reports::layout::{builtin_layouts, load_layout};

    fn layout(name: &str) -> Layout {
        let (_, text) = builtin_layouts().into_iter().find(|(known, _)| *known == name).unwrap();
        load_layout(text).unwrap()
    }

    fn snapshot_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("snapshots").join(name)
    }

    /// Compares bytes with a pinned file; `UPDATE_SNAPSHOTS=1` rewrites it (then review the diff).
    fn assert_snapshot(name: &str, actual: &[u8]) {
        let path = snapshot_path(name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read(&path)
            .unwrap_or_else(|_| panic!("no snapshot {}: run with UPDATE_SNAPSHOTS=1 and review it", path.display()));
        assert_eq!(String::from_utf8_lossy(actual), String::from_utf8_lossy(&expected), "{name}");
        assert_eq!(actual, expected.as_slice(), "{name}");
    }

    fn parse_csv(layout: &Layout, bytes: &[u8]) -> Vec<Vec<String>> {
        let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new().delimiter(layout.delimiter).has_headers(false).from_reader(bytes);
        reader.records().map(|record| record.unwrap().iter().map(str::to_owned).collect()).collect()
    }

    /// The records of the CSV exactly as written, header first when the layout has one.
    fn rows(layout: &Layout, input: &PayrollInput) -> Result<Vec<Vec<String>>, ExportError> {
        Ok(parse_csv(layout, &write_csv(layout, input)?))
    }

    #[test]
    fn every_builtin_layout_matches_its_snapshot() {
        for (name, _) in builtin_layouts() {
            let csv = write_csv(&layout(name), &fixture::input(true)).unwrap();
            assert_snapshot(&format!("payroll-{name}.csv"), &csv);
        }
    }

    #[test]
    fn output_does_not_depend_on_input_order() {
        let layout = layout("long");
        let mut input = fixture::input(true);
        let expected = write_csv(&layout, &input).unwrap();
        input.entries.reverse();
        input.people.reverse();
        assert_eq!(write_csv(&layout, &input).unwrap(), expected);
        assert_eq!(write_xlsx(&layout, &input).unwrap(), write_xlsx(&layout, &fixture::input(true)).unwrap());
    }

    #[test]
    fn csv_is_rfc4180_with_crlf() {
        let csv = write_csv(&layout("long"), &fixture::input(true)).unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert!(
            text.starts_with(
                "payroll_id,name,earning_code,hours,amount,currency,period,adjustment,original_period\r\n"
            )
        );
        // The only bare LFs are inside Ann's quoted name, on her two rows (callout, recovery).
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count() + 2);
        assert!(text.contains("\"Ann \"\"Nan\"\" Lee\nNight shift\""));
    }

    #[test]
    fn hard_names_survive_a_csv_round_trip() {
        for (name, _) in builtin_layouts() {
            let layout = layout(name);
            let records = parse_csv(&layout, &write_csv(&layout, &fixture::input(true)).unwrap());
            let names: Vec<&str> = records.iter().map(|record| record[1].as_str()).collect();
            for expected in ["Zoë O'Brien", "田中 健二", "Tomás Ruiz, Jr.", "Ann \"Nan\" Lee\nNight shift"] {
                assert!(names.contains(&expected), "{name}: {expected:?} not in {names:?}");
            }
            assert_eq!(records, rows(&layout, &fixture::input(true)).unwrap(), "{name}");
        }
    }

    #[test]
    fn injection_in_a_name_is_inert_in_csv() {
        let mut input = fixture::input(true);
        let attacks =
            ["=HYPERLINK(\"http://x.test\",\"pay\")", "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "\tinvisible", "-2+3"];
        for attack in attacks {
            input.people[4].name = attack.into();
            let layout = layout("long");
            let records = parse_csv(&layout, &write_csv(&layout, &input).unwrap());
            let cell = &records.iter().find(|record| record[0] == "E-1005").unwrap()[1];
            assert_eq!(cell, &format!("'{attack}"));
        }
    }

    #[test]
    fn negative_numbers_stay_numbers_and_formula_like_numbers_do_not() {
        let long = layout("long");
        let records = rows(&long, &fixture::input(true)).unwrap();
        assert!(records.iter().any(|record| record[4] == "-50.00" && record[7] == "Y"), "{records:?}");
        let number = Cell::Number { text: "-2+3".into(), value: dec!(1), decimals: None };
        assert_eq!(csv_text(&long, &number), "'-2+3");
    }

    fn xlsx_cells(bytes: Vec<u8>) -> (calamine::Range<Data>, calamine::Range<String>) {
        let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
        let values = workbook.worksheet_range(XLSX_SHEET).unwrap();
        let formulas = workbook.worksheet_formula(XLSX_SHEET).unwrap();
        (values, formulas)
    }

    /// Parses a CSV number written with the layout's separators back to a Decimal.
    fn csv_number(layout: &Layout, text: &str) -> Decimal {
        let plain: String = text
            .chars()
            .filter(|c| Some(*c) != layout.number.thousands_separator)
            .map(|c| if c == layout.number.decimal_separator { '.' } else { c })
            .collect();
        plain.parse().unwrap()
    }

    #[test]
    fn xlsx_reads_back_as_the_csv() {
        for (name, _) in builtin_layouts() {
            let layout = layout(name);
            let input = fixture::input(true);
            let records = parse_csv(&layout, &write_csv(&layout, &input).unwrap());
            let (values, formulas) = xlsx_cells(write_xlsx(&layout, &input).unwrap());
            assert!(formulas.used_cells().all(|(_, _, formula)| formula.is_empty()), "{name}: no formulas");
            assert_eq!(values.height(), records.len(), "{name}");
            for (row, record) in records.iter().enumerate() {
                for (column, expected) in record.iter().enumerate() {
                    let position = (u32::try_from(row).unwrap(), u32::try_from(column).unwrap());
                    let actual = values.get_value(position).cloned().unwrap_or(Data::Empty);
                    match actual {
                        // Text is stored raw in XLSX (kept text by the quote prefix style), and neutralised in CSV.
                        Data::String(text) => {
                            assert_eq!(neutralise_cell(&text), expected.as_str(), "{name} {position:?}")
                        }
                        Data::Float(number) => {
                            let decimal: Decimal = format!("{number}").parse().unwrap();
                            assert_eq!(
                                decimal.normalize(),
                                csv_number(&layout, expected).normalize(),
                                "{name} {position:?}"
                            );
                        }
                        Data::Empty => assert_eq!(expected, "", "{name} {position:?}"),
                        // Dates are date cells; the CSV writes them in the layout's date format.
                        Data::DateTime(date) => {
                            let day = crate::reports::xlsx::testing::day(&date);
                            assert_eq!(day.format(&layout.date_format).to_string(), *expected, "{name} {position:?}");
                        }
                        other => panic!("{name} {position:?}: unexpected cell {other:?}"),
                    }
                }
            }
        }
    }

    /// Issue #18: dates were text, and there was no frozen header, filter, widths, summary or
    /// policy sheet.
    #[test]
    fn xlsx_has_date_cells_a_frozen_filtered_header_a_summary_and_the_policies() {
        let layout = layout("detailed");
        let input = fixture::input(true);
        let bytes = write_xlsx(&layout, &input).unwrap();
        let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(workbook.sheet_names(), vec![XLSX_SHEET, XLSX_SUMMARY_SHEET, XLSX_POLICIES_SHEET]);

        let detail = workbook.worksheet_range(XLSX_SHEET).unwrap();
        let column = |header: &str| {
            detail.rows().next().unwrap().iter().position(|cell| cell == &Data::String(header.into())).unwrap()
        };
        for row in detail.rows().skip(1) {
            for (header, expected) in
                [("period_start", "2026-10-01"), ("period_end", "2026-10-31"), ("pay_date", "2026-11-25")]
            {
                let Data::DateTime(date) = &row[column(header)] else { panic!("{header} is a date cell: {row:?}") };
                assert_eq!(crate::reports::xlsx::testing::day(date).to_string(), expected);
            }
        }
        let xml = crate::reports::xlsx::testing::part(&bytes, "xl/worksheets/sheet1.xml");
        assert!(xml.contains("state=\"frozen\""), "{xml}");
        assert!(xml.contains("<autoFilter ref=\"A1:T6\"/>"), "{xml}");
        assert!(xml.contains("<col min=\"2\" max=\"2\" width=\"30"), "{xml}");

        let summary = workbook.worksheet_range(XLSX_SUMMARY_SHEET).unwrap();
        assert_eq!(summary.rows().next().unwrap().len(), SUMMARY_HEADERS.len());
        for code in ["EUR", "GBP", "JPY"] {
            let amount = |row: &[Data]| match &row[3] {
                Data::Float(value) => format!("{value}").parse::<Decimal>().unwrap(),
                other => panic!("amount is a number: {other:?}"),
            };
            let of_currency: Vec<&[Data]> =
                summary.rows().skip(1).filter(|row| row[2] == Data::String(code.into())).collect();
            let (totals, people): (Vec<&[Data]>, Vec<&[Data]>) =
                of_currency.into_iter().partition(|row| row[0] == Data::String(SUMMARY_TOTAL.into()));
            assert_eq!(totals.len(), 1, "{code}: one control total");
            let people_sum: Decimal = people.iter().map(|row| amount(row)).sum();
            let ledger: Decimal =
                input.entries.iter().filter(|entry| entry.currency == code).map(|entry| entry.amount).sum();
            assert_eq!(amount(totals[0]), people_sum, "{code}: the control total is the sum of the lines");
            assert_eq!(people_sum, ledger, "{code}: and of the ledger");
        }
        let summary_xml = crate::reports::xlsx::testing::part(&bytes, "xl/worksheets/sheet2.xml");
        assert!(summary_xml.contains("tabSelected=\"1\""), "Excel opens on the summary: {summary_xml}");

        // A hostile name stays a plain string on every sheet, never a formula.
        for sheet in [XLSX_SHEET, XLSX_SUMMARY_SHEET, XLSX_POLICIES_SHEET] {
            let formulas = workbook.worksheet_formula(sheet).unwrap();
            assert!(formulas.used_cells().all(|(_, _, formula)| formula.is_empty()), "{sheet}");
        }
        assert!(
            summary.rows().any(|row| row[1] == Data::String("=HYPERLINK(\"http://x.test\",\"pay\")".into())),
            "the summary keeps the name as text"
        );
        let styles = crate::reports::xlsx::testing::part(&bytes, "xl/styles.xml");
        assert!(styles.contains("quotePrefix=\"1\""), "formula-like text gets the quote prefix: {styles}");

        let policies = workbook.worksheet_range(XLSX_POLICIES_SHEET).unwrap();
        let rows: Vec<&[Data]> = policies.rows().collect();
        assert_eq!(rows[1][0], Data::String("uk-standard".into()));
        assert_eq!(rows[1][1], Data::Float(3.0));
        assert_eq!(rows[1][2], Data::Float(16.0));
    }

    #[test]
    fn detailed_layout_has_hours_by_class_callouts_and_the_pay_date() {
        let layout = layout("detailed");
        let records = rows(&layout, &fixture::input(true)).unwrap();
        let header = &records[0];
        let zoe = records.iter().find(|record| record[0] == "E-1001").unwrap();
        let cell = |name: &str| zoe[header.iter().position(|known| known == name).unwrap()].as_str();
        // Zoë: 90 response minutes at night, 7 off hours; two callouts and a reversed one.
        assert_eq!(cell("hours_night"), "1.50");
        assert_eq!(cell("hours_off_hours"), "0.12");
        assert_eq!(cell("hours_business"), "0.00");
        assert_eq!(cell("callouts"), "1");
        assert_eq!(cell("pay_date"), "2026-11-25");
        let kenji = records.iter().find(|record| record[0] == "E-1002").unwrap();
        assert_eq!(kenji[header.iter().position(|known| known == "hours_weekend").unwrap()], "0.75");
    }

    #[test]
    fn injection_in_a_name_is_a_string_cell_in_xlsx() {
        let layout = layout("long");
        let mut input = fixture::input(true);
        for attack in
            ["=HYPERLINK(\"http://x.test\",\"pay\")", "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "\tinvisible", "-2+3"]
        {
            input.people[4].name = attack.into();
            let (values, formulas) = xlsx_cells(write_xlsx(&layout, &input).unwrap());
            assert!(formulas.used_cells().all(|(_, _, formula)| formula.is_empty()), "{attack:?}");
            let found = values.rows().any(|row| row[1] == Data::String(attack.into()));
            assert!(found, "{attack:?} is a plain string cell");
        }
    }

    #[test]
    fn xlsx_bytes_are_reproducible() {
        let layout = layout("wide");
        let first = write_xlsx(&layout, &fixture::input(true)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(write_xlsx(&layout, &fixture::input(true)).unwrap(), first);
    }

    #[test]
    fn provisional_exports_say_so_in_name_and_column() {
        let layout = layout("long");
        assert_eq!(file_name(&layout, &fixture::period(true), "csv"), "payroll-2026-10-long.csv");
        assert_eq!(file_name(&layout, &fixture::period(false), "xlsx"), "payroll-2026-10-long-PROVISIONAL.xlsx");
        let mut odd = fixture::period(false);
        odd.id = "../x".into();
        assert_eq!(file_name(&layout, &odd, "csv"), "payroll-___x-long-PROVISIONAL.csv");

        let records = rows(&layout, &fixture::input(false)).unwrap();
        assert_eq!(records[0].last().map(String::as_str), Some("status"));
        assert!(records[1..].iter().all(|record| record.last().map(String::as_str) == Some(STATUS_PROVISIONAL)));
        let closed = rows(&layout, &fixture::input(true)).unwrap();
        assert_eq!(closed[0].len() + 1, records[0].len(), "a final export has no status column");
    }

    #[test]
    fn missing_earning_code_is_named() {
        let text = builtin_layouts()[0].1.replace("escalation = \"OC-ESC\"\n", "");
        let layout = load_layout(&text).unwrap();
        let error = write_csv(&layout, &fixture::input(true)).unwrap_err();
        assert!(matches!(error, ExportError::MissingEarningCode { component: Component::Escalation, .. }));
        assert!(error.to_string().contains("earning_codes.escalation"), "{error}");
    }

    #[test]
    fn wide_layout_refuses_to_drop_a_component() {
        let text = layout_text("wide").replace("field = \"amount:standby\"", "field = \"entry_count\"");
        let error = write_csv(&load_layout(&text).unwrap(), &fixture::input(true)).unwrap_err();
        assert!(error.to_string().contains("amount:standby"), "{error}");
    }

    #[test]
    fn several_currencies_need_a_currency_column() {
        let text = layout_text("long").replace("field = \"currency\"", "field = \"period\"");
        let error = write_csv(&load_layout(&text).unwrap(), &fixture::input(true)).unwrap_err();
        assert!(matches!(error, ExportError::MissingCurrencyColumn { .. }), "{error}");
    }

    fn layout_text(name: &str) -> String {
        builtin_layouts().into_iter().find(|(known, _)| *known == name).unwrap().1.to_owned()
    }

    #[test]
    fn bad_entries_are_refused() {
        let layout = layout("long");
        let mut input = fixture::input(true);
        input.entries[0].amount = dec!(50.001);
        assert!(matches!(write_csv(&layout, &input), Err(ExportError::AmountTooPrecise { .. })));
        let mut input = fixture::input(true);
        input.entries[0].person = "nobody".into();
        assert!(matches!(write_csv(&layout, &input), Err(ExportError::UnknownPerson { .. })));
        let mut input = fixture::input(true);
        input.entries[5].amount = dec!(10.00);
        assert!(matches!(write_csv(&layout, &input), Err(ExportError::HoursComponentWithAmount { .. })));
    }

    #[test]
    fn wide_total_is_the_sum_of_its_columns() {
        let layout = layout("wide");
        let records = rows(&layout, &fixture::input(true)).unwrap();
        for record in &records[1..] {
            let columns: Decimal = record[4..9].iter().map(|cell| cell.parse::<Decimal>().unwrap()).sum();
            assert_eq!(columns, record[9].parse::<Decimal>().unwrap(), "{record:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn long_amounts_sum_to_the_ledger(minors in proptest::collection::vec(-1_000_000_i64..1_000_000, 1..40)) {
            let layout = layout("long");
            let mut input = fixture::input(true);
            let people = ["zoe", "kenji", "tomas", "ann"];
            let components = ["callout", "escalation", "response", "standby"];
            input.entries = minors
                .iter()
                .enumerate()
                .map(|(index, &minor)| {
                    let period = if index % 5 == 0 { "2026-09" } else { "2026-10" };
                    fixture::entry(&format!("p{index}"), people[index % 4], components[index % 4],
                        Decimal::ONE, "count", Decimal::new(minor, 2), "EUR", period)
                })
                .collect();
            let records = rows(&layout, &input).unwrap();
            let exported: Decimal = records[1..].iter().map(|record| record[4].parse::<Decimal>().unwrap()).sum();
            let ledger: Decimal = input.entries.iter().map(|entry| entry.amount).sum();
            proptest::prop_assert_eq!(exported, ledger);
        }
    }

    #[test]
    fn json_keeps_exact_decimals_and_raw_text() {
        let json = write_json(&layout("long"), &fixture::input(false)).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["status"], "PROVISIONAL");
        assert_eq!(value["columns"][0], "payroll_id");
        let rows = value["rows"].as_array().unwrap();
        assert!(rows.iter().any(|row| row[1] == "=HYPERLINK(\"http://x.test\",\"pay\")"));
        assert!(rows.iter().any(|row| row[4] == "1234.50"));
    }
}
