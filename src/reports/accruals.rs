//! Accruals by cost centre: what finance books for a period, per cost centre, component and
//! currency, with a control total per currency that reconciles exactly with the ledger.
//!
//! The control total is summed straight from the entries, independently of the per-cost-centre
//! rows, and the report refuses to exist if the two disagree; the `TOTAL` rows let finance
//! check the file itself (their amounts equal the sum of the rows above them of the same
//! currency, and `entry_count` equals the number of ledger entries). No checksum: a control
//! total is what an accountant reconciles, and it needs no new dependency.
//!
//! Amounts are written at the currency's minor unit with `.` and no thousands separator
//! (this file is for finance systems, not a payroll layout). Hours are shown for components
//! measured in time, rounded half away from zero to 2 decimals; they are informational.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use super::input::PayrollInput;
use super::neutralise_cell;
use super::payroll::{ExportError, UNASSIGNED, check_ledger_entry, people_by_id, status};
use super::terms::{Component, minutes_to_hours};
use crate::domain::currency::Currency;

/// The `cost_centre` of the control total rows.
pub const TOTAL: &str = "TOTAL";

/// One accrual: a cost centre's amount for one component in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccrualRow {
    /// The team's cost centre, or `UNASSIGNED`.
    pub cost_centre: String,
    /// The pay component.
    pub component: Component,
    /// ISO 4217 code.
    pub currency: String,
    /// The exact sum of the entries' amounts, at the currency's minor unit.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Hours of time-based entries (2 decimals), `None` when the component is not measured in time.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub hours: Option<Decimal>,
    /// How many ledger entries the row sums.
    pub entry_count: usize,
}

/// The control total of one currency, summed directly from the entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlTotal {
    /// ISO 4217 code.
    pub currency: String,
    /// The sum of every entry's amount in this currency.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// How many entries are in this currency.
    pub entry_count: usize,
}

/// The accruals of one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accruals {
    /// The period id.
    pub period: String,
    /// `FINAL` or `PROVISIONAL`.
    pub status: &'static str,
    /// Rows ordered by cost centre, component, currency.
    pub rows: Vec<AccrualRow>,
    /// One control total per currency, ordered by currency code.
    pub totals: Vec<ControlTotal>,
}

/// The control totals disagree with the rows: a bug, reported rather than exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("accruals do not reconcile in {currency}: rows sum to {rows}, entries to {entries}")]
pub struct ReconciliationError {
    /// ISO 4217 code.
    pub currency: String,
    /// The sum of the rows.
    pub rows: Decimal,
    /// The sum of the entries.
    pub entries: Decimal,
}

/// Accruals could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccrualsError {
    /// An entry is invalid (same checks as the payroll export, without a layout).
    #[error(transparent)]
    Entry(#[from] ExportError),
    /// The totals do not reconcile.
    #[error(transparent)]
    Reconciliation(#[from] ReconciliationError),
}

#[derive(Default)]
struct Sums {
    amount: Decimal,
    minutes: Option<Decimal>,
    entry_count: usize,
}

fn add(sum: Decimal, value: Decimal) -> Result<Decimal, AccrualsError> {
    sum.checked_add(value).ok_or(AccrualsError::Entry(ExportError::Overflow))
}

/// Computes the accruals of a period and checks them against the control totals.
pub fn accruals(input: &PayrollInput) -> Result<Accruals, AccrualsError> {
    let people = people_by_id(&input.people);
    let mut groups: BTreeMap<(&str, Component, Currency), Sums> = BTreeMap::new();
    let mut controls: BTreeMap<Currency, (Decimal, usize)> = BTreeMap::new();
    for entry in &input.entries {
        let checked = check_ledger_entry(&people, entry)?;
        let cost_centre = checked.person.cost_centre.as_deref().unwrap_or(UNASSIGNED);
        let sums = groups.entry((cost_centre, checked.component, checked.currency)).or_default();
        sums.amount = add(sums.amount, entry.amount)?;
        if let Some(minutes) = checked.unit.minutes(entry.quantity) {
            sums.minutes = Some(add(sums.minutes.unwrap_or_default(), minutes)?);
        }
        sums.entry_count += 1;
        let control = controls.entry(checked.currency).or_default();
        control.0 = add(control.0, entry.amount)?;
        control.1 += 1;
    }

    let mut rows = Vec::with_capacity(groups.len());
    let mut row_sums: HashMap<Currency, Decimal> = HashMap::new();
    for ((cost_centre, component, currency), sums) in groups {
        let row_sum = row_sums.entry(currency).or_default();
        *row_sum = add(*row_sum, sums.amount)?;
        rows.push(AccrualRow {
            cost_centre: cost_centre.to_owned(),
            component,
            currency: currency.code().to_owned(),
            amount: at_minor_unit(currency, sums.amount),
            hours: sums.minutes.map(|minutes| {
                let mut hours =
                    minutes_to_hours(minutes).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                hours.rescale(2);
                hours
            }),
            entry_count: sums.entry_count,
        });
    }

    let mut totals = Vec::with_capacity(controls.len());
    for (currency, (amount, entry_count)) in controls {
        let rows_amount = row_sums.get(&currency).copied().unwrap_or_default();
        if rows_amount != amount {
            return Err(ReconciliationError {
                currency: currency.code().to_owned(),
                rows: rows_amount,
                entries: amount,
            }
            .into());
        }
        totals.push(ControlTotal {
            currency: currency.code().to_owned(),
            amount: at_minor_unit(currency, amount),
            entry_count,
        });
    }

    Ok(Accruals { period: input.period.id.clone(), status: status(&input.period), rows, totals })
}

/// Shows an amount with exactly the currency's decimals. Entries were checked to have no
/// finer digits, so this only pads (`5` → `5.00`), it never rounds.
fn at_minor_unit(currency: Currency, amount: Decimal) -> Decimal {
    let mut padded = amount;
    padded.rescale(currency.minor_unit_exponent());
    padded
}

/// The CSV columns, in order.
pub const CSV_HEADERS: [&str; 7] = ["period", "status", "cost_centre", "component", "currency", "amount", "hours"];

/// The accruals as RFC 4180 CSV (UTF-8, CRLF, `,`): a header, one row per accrual, then one
/// `TOTAL` row per currency (component empty) with the entry count in the last column.
pub fn write_csv(input: &PayrollInput) -> Result<Vec<u8>, AccrualsError> {
    let report = accruals(input)?;
    let mut out = Vec::new();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(&mut out);
    let write_error = |error: csv::Error| ExportError::Write { format: "CSV", message: error.to_string() };
    let mut headers = CSV_HEADERS.to_vec();
    headers.push("entry_count");
    writer.write_record(&headers).map_err(write_error)?;
    for row in &report.rows {
        let hours = row.hours.map(|hours| hours.to_string()).unwrap_or_default();
        let record = [
            neutralise_cell(&report.period).into_owned(),
            report.status.to_owned(),
            neutralise_cell(&row.cost_centre).into_owned(),
            row.component.as_str().to_owned(),
            row.currency.clone(),
            row.amount.to_string(),
            hours,
            row.entry_count.to_string(),
        ];
        writer.write_record(&record).map_err(write_error)?;
    }
    for total in &report.totals {
        let record = [
            neutralise_cell(&report.period).into_owned(),
            report.status.to_owned(),
            TOTAL.to_owned(),
            String::new(),
            total.currency.clone(),
            total.amount.to_string(),
            String::new(),
            total.entry_count.to_string(),
        ];
        writer.write_record(&record).map_err(write_error)?;
    }
    writer.flush().map_err(|error| ExportError::Write { format: "CSV", message: error.to_string() })?;
    drop(writer);
    Ok(out)
}

/// The sheet name of the XLSX accruals.
pub const XLSX_SHEET: &str = "accruals";

/// The accruals as an XLSX workbook: one sheet, `accruals`, with the CSV's columns and rows;
/// amounts, hours and counts are number cells, the `TOTAL` rows bold; header frozen and
/// filtered; the creation time is the period's first day, so the bytes depend on the data only.
pub fn write_xlsx(input: &PayrollInput) -> Result<Vec<u8>, AccrualsError> {
    use super::xlsx::XCell;
    let report = accruals(input)?;
    let xlsx_error = |error: rust_xlsxwriter::XlsxError| {
        AccrualsError::Entry(ExportError::Write { format: "XLSX", message: error.to_string() })
    };
    let decimals = |code: &str| code.parse::<Currency>().map_or(2, Currency::minor_unit_exponent);
    let count = |value: usize| XCell::Number(Decimal::from(value), 0);
    let mut rows = Vec::with_capacity(report.rows.len() + report.totals.len());
    for row in &report.rows {
        rows.push((
            vec![
                XCell::Text(report.period.clone()),
                XCell::Text(report.status.to_owned()),
                XCell::Text(row.cost_centre.clone()),
                XCell::Text(row.component.as_str().to_owned()),
                XCell::Text(row.currency.clone()),
                XCell::Number(row.amount, decimals(&row.currency)),
                row.hours.map_or(XCell::Empty, |hours| XCell::Number(hours, 2)),
                count(row.entry_count),
            ],
            false,
        ));
    }
    for total in &report.totals {
        rows.push((
            vec![
                XCell::Text(report.period.clone()),
                XCell::Text(report.status.to_owned()),
                XCell::Text(TOTAL.to_owned()),
                XCell::Empty,
                XCell::Text(total.currency.clone()),
                XCell::Number(total.amount, decimals(&total.currency)),
                XCell::Empty,
                count(total.entry_count),
            ],
            true,
        ));
    }
    let mut headers = CSV_HEADERS.to_vec();
    headers.push("entry_count");
    let mut workbook = super::xlsx::workbook(input.period.starts_on).map_err(xlsx_error)?;
    super::xlsx::table_sheet(&mut workbook, XLSX_SHEET, &headers, &[9, 12, 14, 11, 8, 14, 8, 11], &rows)
        .map_err(xlsx_error)?;
    workbook.save_to_buffer().map_err(xlsx_error)
}

/// The accruals as JSON: `{period, status, rows, totals}`, amounts as exact decimal strings.
pub fn write_json(input: &PayrollInput) -> Result<Vec<u8>, AccrualsError> {
    let report = accruals(input)?;
    let mut out = serde_json::to_vec_pretty(&report)
        .map_err(|error| ExportError::Write { format: "JSON", message: error.to_string() })?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::reports::fixture;

    #[test]
    fn fixture_accruals_match_their_snapshot() {
        let csv = write_csv(&fixture::input(true)).unwrap();
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/accruals.csv");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &csv).unwrap();
        }
        assert_eq!(String::from_utf8(csv).unwrap(), std::fs::read_to_string(&path).unwrap());
    }

    #[test]
    fn control_totals_equal_the_ledger() {
        let input = fixture::input(true);
        let report = accruals(&input).unwrap();
        let eur = report.totals.iter().find(|total| total.currency == "EUR").unwrap();
        let ledger: Decimal =
            input.entries.iter().filter(|entry| entry.currency == "EUR").map(|entry| entry.amount).sum();
        assert_eq!(eur.amount, ledger);
        assert_eq!(eur.entry_count, 12);
        let unassigned = report.rows.iter().find(|row| row.cost_centre == UNASSIGNED).unwrap();
        assert_eq!(unassigned.component, Component::Callout);
        assert_eq!(unassigned.amount, dec!(0.00));
    }

    #[test]
    fn csv_total_rows_close_the_file() {
        let text = String::from_utf8(write_csv(&fixture::input(false)).unwrap()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], "period,status,cost_centre,component,currency,amount,hours,entry_count");
        assert!(lines.contains(&"2026-10,PROVISIONAL,TOTAL,,JPY,11375,,2"), "{text}");
        assert!(lines.contains(&"2026-10,PROVISIONAL,CC-100,response,EUR,72.75,1.62,2"), "{text}");
    }

    /// Issue #18: `--format xlsx` wrote CSV. The XLSX is a workbook whose rows are the CSV's,
    /// with number cells, a frozen and filtered header, and totals equal to the rows' sums.
    #[test]
    fn xlsx_is_a_workbook_with_the_csv_rows() {
        use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
        let input = fixture::input(true);
        let bytes = write_xlsx(&input).unwrap();
        assert!(bytes.starts_with(b"PK"), "a zip, not CSV text");
        let mut workbook: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
        assert_eq!(workbook.sheet_names(), vec![XLSX_SHEET.to_owned()]);
        let range = workbook.worksheet_range(XLSX_SHEET).unwrap();
        let csv_text = String::from_utf8(write_csv(&input).unwrap()).unwrap();
        let csv_rows: Vec<&str> = csv_text.split("\r\n").filter(|line| !line.is_empty()).collect();
        assert_eq!(range.height(), csv_rows.len());
        let mut eur_rows = Decimal::ZERO;
        let mut eur_total = None;
        for row in range.rows().skip(1) {
            let Data::Float(amount) = row[5] else { panic!("amount is a number cell: {row:?}") };
            let amount: Decimal = format!("{amount}").parse().unwrap();
            if row[4] == Data::String("EUR".into()) {
                if row[2] == Data::String(TOTAL.into()) {
                    eur_total = Some(amount);
                } else {
                    eur_rows += amount;
                }
            }
        }
        assert_eq!(eur_total, Some(eur_rows), "the control total is the sum of its rows");
        let sheet = crate::reports::xlsx::testing::part(&bytes, "xl/worksheets/sheet1.xml");
        assert!(
            sheet.contains("<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>"),
            "{sheet}"
        );
        assert!(sheet.contains("<autoFilter ref=\"A1:H"), "{sheet}");
        assert!(sheet.contains("<cols>"), "column widths: {sheet}");
        assert_eq!(write_xlsx(&input).unwrap(), bytes, "the same data gives the same bytes");
    }

    #[test]
    fn json_has_rows_and_totals_as_exact_strings() {
        let json: serde_json::Value = serde_json::from_slice(&write_json(&fixture::input(true)).unwrap()).unwrap();
        assert_eq!(json["status"], "FINAL");
        assert!(json["totals"].as_array().unwrap().iter().any(|total| total["amount"] == "1537.25"));
    }

    #[test]
    fn a_hostile_cost_centre_is_neutralised() {
        let mut input = fixture::input(true);
        input.people[0].cost_centre = Some("=1+1".into());
        let text = String::from_utf8(write_csv(&input).unwrap()).unwrap();
        assert!(text.contains(",'=1+1,"), "{text}");
    }

    fn arbitrary_entry() -> impl Strategy<Value = (usize, usize, usize, i64, i64)> {
        // (person, component, currency, amount in minor units, quantity)
        (0..4_usize, 0..5_usize, 0..3_usize, -10_000_000_i64..10_000_000, -600_i64..600)
    }

    proptest! {
        #[test]
        fn totals_equal_the_sum_of_entries(specs in proptest::collection::vec(arbitrary_entry(), 0..60)) {
            let currencies = ["EUR", "JPY", "BHD"];
            let mut input = fixture::input(true);
            input.people.truncate(4);
            let people: Vec<String> = input.people.iter().map(|person| person.id.clone()).collect();
            input.entries = specs
                .iter()
                .enumerate()
                .map(|(index, &(person, component, currency, minor, quantity))| {
                    let code = currencies[currency];
                    let exponent = code.parse::<Currency>().unwrap().minor_unit_exponent();
                    let component = Component::ALL[component];
                    let unit = if component == Component::Response { "minutes" } else { "count" };
                    fixture::entry(&format!("p{index}"), &people[person], component.as_str(),
                        Decimal::from(quantity), unit, Decimal::new(minor, exponent), code, "2026-10")
                })
                .collect();
            let report = accruals(&input).unwrap();
            for code in currencies {
                let ledger: Decimal = input.entries.iter().filter(|e| e.currency == code).map(|e| e.amount).sum();
                let count = input.entries.iter().filter(|e| e.currency == code).count();
                let total = report.totals.iter().find(|total| total.currency == code);
                let rows: Decimal = report.rows.iter().filter(|row| row.currency == code).map(|row| row.amount).sum();
                match total {
                    Some(total) => {
                        prop_assert_eq!(total.amount, ledger);
                        prop_assert_eq!(total.entry_count, count);
                        prop_assert_eq!(rows, ledger);
                    }
                    None => prop_assert_eq!(count, 0),
                }
            }
        }
    }
}
