//! What every XLSX file paydown writes shares, so that Excel opens each one well: dates are
//! date cells (not text), the header row is bold and frozen with a filter on it, columns have
//! widths, text is always a string cell (formula-like text gets Excel's quote prefix, the XLSX
//! form of `neutralise_cell`), amounts are number cells with their decimals as the format, and
//! the document's creation time comes from the data, so the bytes do too.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::neutralise_cell;

/// The number format of date cells: ISO 8601, which no locale misreads.
pub const DATE_FORMAT: &str = "yyyy-mm-dd";
/// Widest column set, in characters.
pub const COLUMN_WIDTH_MAX: usize = 60;

/// A typed cell of a small sheet (summaries, lists), written whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XCell {
    Text(String),
    /// An exact amount shown with `decimals` decimals.
    Number(Decimal, u32),
    Date(NaiveDate),
    /// An instant, shown in UTC to the second.
    DateTime(chrono::DateTime<chrono::Utc>),
    Empty,
}

/// The number format of date-time cells (UTC).
pub const DATE_TIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss";

/// A calendar date as Excel stores it.
pub fn excel_date(date: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    let part = |value: u32| u8::try_from(value).map_err(|_| XlsxError::DateTimeRangeError(date.to_string()));
    let year = u16::try_from(date.year()).map_err(|_| XlsxError::DateTimeRangeError(date.to_string()))?;
    ExcelDateTime::from_ymd(year, part(date.month())?, part(date.day())?)
}

/// A workbook whose creation time is `created_on` at 00:00 UTC (not the clock's), so that the
/// same data gives the same bytes.
pub fn workbook(created_on: NaiveDate) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&excel_date(created_on)?));
    Ok(workbook)
}

/// Writes text as a string cell; text a spreadsheet could run gets the quote prefix.
pub fn write_text(sheet: &mut Worksheet, row: u32, column: u16, text: &str, bold: bool) -> Result<(), XlsxError> {
    if text.is_empty() {
        return Ok(());
    }
    let mut format = Format::new();
    if bold {
        format = format.set_bold();
    }
    if neutralise_cell(text) != text {
        format = format.set_quote_prefix();
    }
    sheet.write_string_with_format(row, column, text, &format)?;
    Ok(())
}

/// The number format code showing `decimals` decimals.
pub fn number_code(decimals: u32) -> String {
    if decimals == 0 { "0".to_owned() } else { format!("0.{}", "0".repeat(decimals as usize)) }
}

/// Writes an exact decimal as a number cell. The f64 Excel stores is parsed from the exact
/// decimal text at this last step only.
pub fn write_number(
    sheet: &mut Worksheet,
    row: u32,
    column: u16,
    value: Decimal,
    code: &str,
    bold: bool,
) -> Result<(), XlsxError> {
    let number: f64 = value.to_string().parse().map_err(|_| XlsxError::ParameterError(value.to_string()))?;
    let mut format = Format::new().set_num_format(code);
    if bold {
        format = format.set_bold();
    }
    sheet.write_number_with_format(row, column, number, &format)?;
    Ok(())
}

/// Writes an instant as a date-time cell (UTC, whole seconds).
pub fn write_date_time(
    sheet: &mut Worksheet,
    row: u32,
    column: u16,
    instant: chrono::DateTime<chrono::Utc>,
) -> Result<(), XlsxError> {
    use chrono::Timelike;
    let time = instant.time();
    let value = excel_date(instant.date_naive())?.and_hms(
        u16::try_from(time.hour()).map_err(|_| XlsxError::DateTimeRangeError(instant.to_string()))?,
        u8::try_from(time.minute()).map_err(|_| XlsxError::DateTimeRangeError(instant.to_string()))?,
        time.second(),
    )?;
    sheet.write_datetime_with_format(row, column, value, &Format::new().set_num_format(DATE_TIME_FORMAT))?;
    Ok(())
}

/// Writes a date cell.
pub fn write_date(sheet: &mut Worksheet, row: u32, column: u16, date: NaiveDate) -> Result<(), XlsxError> {
    sheet.write_datetime_with_format(row, column, excel_date(date)?, &Format::new().set_num_format(DATE_FORMAT))?;
    Ok(())
}

/// Writes the bold header row at row 0, freezes it and sets each column's width to fit its
/// header and `widths` (characters; the larger wins).
pub fn header(sheet: &mut Worksheet, headers: &[&str], widths: &[usize]) -> Result<(), XlsxError> {
    for (index, text) in headers.iter().enumerate() {
        let column = u16::try_from(index).map_err(|_| XlsxError::RowColumnLimitError)?;
        write_text(sheet, 0, column, text, true)?;
        // Room for the filter's drop-down arrow after the header text.
        let fit = (text.chars().count() + 3).max(widths.get(index).copied().unwrap_or(10)).min(COLUMN_WIDTH_MAX);
        sheet.set_column_width(column, u16::try_from(fit).unwrap_or(10))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Puts a filter on the header row over `rows` data rows and `columns` columns.
pub fn filter(sheet: &mut Worksheet, rows: u32, columns: usize) -> Result<(), XlsxError> {
    let last_column = u16::try_from(columns.saturating_sub(1)).map_err(|_| XlsxError::RowColumnLimitError)?;
    sheet.autofilter(0, 0, rows, last_column)?;
    Ok(())
}

/// Writes one row of typed cells; `bold` for total rows.
pub fn write_row(sheet: &mut Worksheet, row: u32, cells: &[XCell], bold: bool) -> Result<(), XlsxError> {
    for (index, cell) in cells.iter().enumerate() {
        let column = u16::try_from(index).map_err(|_| XlsxError::RowColumnLimitError)?;
        match cell {
            XCell::Text(text) => write_text(sheet, row, column, text, bold)?,
            XCell::Number(value, decimals) => write_number(sheet, row, column, *value, &number_code(*decimals), bold)?,
            XCell::Date(date) => write_date(sheet, row, column, *date)?,
            XCell::DateTime(instant) => write_date_time(sheet, row, column, *instant)?,
            XCell::Empty => {}
        }
    }
    Ok(())
}

/// Adds a sheet holding a whole table: header (frozen, filtered, widths) and rows.
pub fn table_sheet(
    workbook: &mut Workbook,
    name: &str,
    headers: &[&str],
    widths: &[usize],
    rows: &[(Vec<XCell>, bool)],
) -> Result<(), XlsxError> {
    let sheet = workbook.add_worksheet().set_name(name)?;
    header(sheet, headers, widths)?;
    let mut next = 1_u32;
    for (cells, bold) in rows {
        write_row(sheet, next, cells, *bold)?;
        next = next.checked_add(1).ok_or(XlsxError::RowColumnLimitError)?;
    }
    filter(sheet, next - 1, headers.len())?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Reading paydown's XLSX back in tests: calamine for the cells, the zip's XML for what
    //! calamine does not show (frozen panes, filters, column widths).

    use std::io::{Cursor, Read};

    /// The XML of one part of the XLSX zip (e.g. `xl/worksheets/sheet1.xml`).
    pub fn part(bytes: &[u8], name: &str) -> String {
        let mut archive = zip_entries(bytes);
        archive.remove(name).unwrap_or_else(|| panic!("no part {name} in the workbook"))
    }

    /// The calendar day of a date cell as calamine reads it (Excel's serial: days since 1899-12-30).
    pub fn day(cell: &calamine::ExcelDateTime) -> chrono::NaiveDate {
        let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("a date");
        let days = cell.as_f64().floor();
        assert!((0.0..3_000_000.0).contains(&days), "a date serial: {days}");
        epoch + chrono::Duration::days(format!("{days}").parse::<i64>().expect("whole days"))
    }

    /// Every text part of a zip.
    fn zip_entries(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("an XLSX is a zip");
        let mut parts = std::collections::BTreeMap::new();
        for index in 0..archive.len() {
            let mut file = archive.by_index(index).expect("a zip entry");
            let name = file.name().expect("a part's name").into_owned();
            let mut text = String::new();
            if file.read_to_string(&mut text).is_ok() {
                parts.insert(name, text);
            }
        }
        parts
    }
}
