//! The changes file of a period: the ledger entries posted to it since its last payroll export
//! (every entry when it was never exported), so payroll can apply only the difference or see
//! why a re-export differs. One row per entry in posting order, then a net `TOTAL` per currency.
//!
//! The entries are chosen by the storage layer (`storage::exports`); this module only writes
//! them. CSV text is neutralised; in XLSX instants are date-time cells (UTC) and amounts are
//! number cells.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::input::PayrollInput;
use super::neutralise_cell;
use super::payroll::{ExportError, check_ledger_entry, people_by_id, status};
use super::xlsx::XCell;
use crate::domain::currency::Currency;

/// The export the changes are counted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinceExport {
    pub exported_at: DateTime<Utc>,
    pub layout: String,
    pub entries_sha256: String,
}

/// The columns of the changes file.
pub const HEADERS: [&str; 16] = [
    "period",
    "status",
    "since_export_at",
    "entry_id",
    "posted_at",
    "payroll_id",
    "name",
    "component",
    "kind",
    "original_period",
    "occurred_at",
    "quantity",
    "unit",
    "amount",
    "currency",
    "explanation",
];

/// The `entry_id` of the net total rows.
pub const TOTAL: &str = "TOTAL";

/// The sheet name of the XLSX changes file.
pub const SHEET: &str = "changes";

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The file's rows as typed cells, with whether each is a total row.
fn rows(input: &PayrollInput, since: Option<&SinceExport>) -> Result<Vec<(Vec<XCell>, bool)>, ExportError> {
    let people = people_by_id(&input.people);
    let mut checked =
        input.entries.iter().map(|entry| check_ledger_entry(&people, entry)).collect::<Result<Vec<_>, _>>()?;
    checked.sort_by(|a, b| (a.entry.posted_at, &a.entry.id).cmp(&(b.entry.posted_at, &b.entry.id)));
    let period = &input.period;
    let since_cell = || since.map_or(XCell::Empty, |since| XCell::DateTime(since.exported_at));
    let mut totals: BTreeMap<Currency, (Decimal, usize)> = BTreeMap::new();
    let mut rows = Vec::with_capacity(checked.len() + 4);
    for line in &checked {
        let entry = line.entry;
        let total = totals.entry(line.currency).or_default();
        total.0 = total.0.checked_add(entry.amount).ok_or(ExportError::Overflow)?;
        total.1 += 1;
        let mut amount = entry.amount;
        amount.rescale(line.currency.minor_unit_exponent());
        rows.push((
            vec![
                XCell::Text(period.id.clone()),
                XCell::Text(status(period).to_owned()),
                since_cell(),
                XCell::Text(entry.id.clone()),
                XCell::DateTime(entry.posted_at),
                XCell::Text(line.person.payroll_id.clone()),
                XCell::Text(line.person.name.clone()),
                XCell::Text(entry.component.clone()),
                XCell::Text(entry.kind.to_string()),
                XCell::Text(entry.natural_period.clone()),
                XCell::DateTime(entry.occurred_at),
                XCell::Number(entry.quantity.normalize(), entry.quantity.normalize().scale()),
                XCell::Text(entry.unit.clone()),
                XCell::Number(amount, line.currency.minor_unit_exponent()),
                XCell::Text(line.currency.code().to_owned()),
                XCell::Text(entry.explanation.clone()),
            ],
            false,
        ));
    }
    for (currency, (amount, count)) in totals {
        let mut amount = amount;
        amount.rescale(currency.minor_unit_exponent());
        rows.push((
            vec![
                XCell::Text(period.id.clone()),
                XCell::Text(status(period).to_owned()),
                since_cell(),
                XCell::Text(TOTAL.to_owned()),
                XCell::Empty,
                XCell::Empty,
                XCell::Empty,
                XCell::Empty,
                XCell::Empty,
                XCell::Empty,
                XCell::Empty,
                XCell::Number(Decimal::from(count), 0),
                XCell::Text("entries".to_owned()),
                XCell::Number(amount, currency.minor_unit_exponent()),
                XCell::Text(currency.code().to_owned()),
                XCell::Empty,
            ],
            true,
        ));
    }
    Ok(rows)
}

/// The changes as RFC 4180 CSV (UTF-8, CRLF, `,`); instants in RFC 3339 UTC; text neutralised.
pub fn write_csv(input: &PayrollInput, since: Option<&SinceExport>) -> Result<Vec<u8>, ExportError> {
    let write_error = |error: csv::Error| ExportError::Write { format: "CSV", message: error.to_string() };
    let mut out = Vec::new();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(&mut out);
    writer.write_record(HEADERS).map_err(write_error)?;
    for (cells, _) in rows(input, since)? {
        let record: Vec<String> = cells
            .iter()
            .map(|cell| match cell {
                XCell::Text(text) => neutralise_cell(text).into_owned(),
                XCell::Number(value, _) => value.to_string(),
                XCell::Date(date) => date.format("%Y-%m-%d").to_string(),
                XCell::DateTime(instant) => rfc3339(*instant),
                XCell::Empty => String::new(),
            })
            .collect();
        writer.write_record(&record).map_err(write_error)?;
    }
    writer.flush().map_err(|error| ExportError::Write { format: "CSV", message: error.to_string() })?;
    drop(writer);
    Ok(out)
}

/// The changes as an XLSX workbook with one sheet, `changes`.
pub fn write_xlsx(input: &PayrollInput, since: Option<&SinceExport>) -> Result<Vec<u8>, ExportError> {
    let xlsx_error =
        |error: rust_xlsxwriter::XlsxError| ExportError::Write { format: "XLSX", message: error.to_string() };
    let mut workbook = super::xlsx::workbook(input.period.starts_on).map_err(xlsx_error)?;
    super::xlsx::table_sheet(
        &mut workbook,
        SHEET,
        &HEADERS,
        &[9, 12, 20, 38, 20, 12, 30, 11, 9, 9, 20, 9, 8, 14, 8, 60],
        &rows(input, since)?,
    )
    .map_err(xlsx_error)?;
    workbook.save_to_buffer().map_err(xlsx_error)
}

/// The changes file's name, e.g. `changes-2026-10-PROVISIONAL.csv`.
pub fn file_name(input: &PayrollInput, extension: &str) -> String {
    let provisional = if input.period.closed { "" } else { "-PROVISIONAL" };
    let period: String =
        input.period.id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("changes-{period}{provisional}.{extension}")
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    use chrono::TimeZone;

    use super::*;
    use crate::reports::fixture;

    /// Three entries posted after an export: a late callout, its reversal, a JPY response.
    fn changed() -> PayrollInput {
        let mut input = fixture::input(false);
        input.entries = vec![input.entries[1].clone(), input.entries[12].clone(), input.entries[9].clone()];
        for (index, entry) in input.entries.iter_mut().enumerate() {
            entry.posted_at = Utc.with_ymd_and_hms(2026, 10, 20, 9, 0, u32::try_from(index).unwrap()).unwrap();
        }
        input.people[0].name = "=cmd|' /C calc'!A0".into();
        input
    }

    fn since() -> SinceExport {
        SinceExport {
            exported_at: Utc.with_ymd_and_hms(2026, 10, 15, 8, 30, 0).unwrap(),
            layout: "long".into(),
            entries_sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn changes_csv_matches_its_snapshot() {
        let csv = write_csv(&changed(), Some(&since())).unwrap();
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/changes.csv");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &csv).unwrap();
        }
        assert_eq!(String::from_utf8(csv).unwrap(), std::fs::read_to_string(&path).unwrap());
    }

    #[test]
    fn changes_list_entries_in_posting_order_with_net_totals_and_neutralised_text() {
        let text = String::from_utf8(write_csv(&changed(), Some(&since())).unwrap()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|line| !line.is_empty()).collect();
        assert_eq!(lines[0], HEADERS.join(","));
        assert!(lines[1].contains(",e02,") && lines[2].contains(",e13,") && lines[3].contains(",e10,"), "{text}");
        assert!(lines[1].contains(",'=cmd|' /C calc'!A0,"), "{text}");
        assert!(lines.contains(&"2026-10,PROVISIONAL,2026-10-15T08:30:00Z,TOTAL,,,,,,,,2,entries,0.00,EUR,"), "{text}");
        let never = String::from_utf8(write_csv(&changed(), None).unwrap()).unwrap();
        assert!(never.lines().nth(1).unwrap().starts_with("2026-10,PROVISIONAL,,e02,"), "{never}");
        assert_eq!(file_name(&changed(), "csv"), "changes-2026-10-PROVISIONAL.csv");
    }

    #[test]
    fn changes_xlsx_has_date_time_cells_and_text_cells() {
        let bytes = write_xlsx(&changed(), Some(&since())).unwrap();
        let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(workbook.sheet_names(), vec![SHEET.to_owned()]);
        let range = workbook.worksheet_range(SHEET).unwrap();
        let first = range.rows().nth(1).unwrap();
        assert!(matches!(first[4], Data::DateTime(_)), "posted_at: {:?}", first[4]);
        assert!(matches!(first[10], Data::DateTime(_)), "occurred_at: {:?}", first[10]);
        assert_eq!(first[6], Data::String("=cmd|' /C calc'!A0".into()), "a string, never a formula");
        let formulas = workbook.worksheet_formula(SHEET).unwrap();
        assert!(formulas.used_cells().all(|(_, _, formula)| formula.is_empty()));
        let xml = crate::reports::xlsx::testing::part(&bytes, "xl/worksheets/sheet1.xml");
        assert!(xml.contains("state=\"frozen\"") && xml.contains("<autoFilter ref=\"A1:P6\"/>"), "{xml}");
    }
}
