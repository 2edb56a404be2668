//! Types shared by the importers: what an imported row becomes, how a bad row or a bad
//! file is reported, the limits every import obeys, and the streaming CSV reader the CSV
//! formats are built on.
//!
//! Reporting policy: a file that cannot be read as the format at all (no header, a
//! required column missing, a garbled calendar) is a [`FileError`] and nothing is imported.
//! Once the file is readable, every row is judged on its own: a bad row yields one
//! [`RowError`] naming its physical line (the header is line 1), the field at fault and
//! why, and the rows after it are still read.

use std::collections::HashMap;
use std::io::{self, Read};

use chrono::{DateTime, Utc};

use crate::domain::page::Delivery;
use crate::domain::shift::ShiftRole;
use crate::domain::timestamp::parse_rfc3339;

/// Longest cell accepted, in bytes. The longest field paydown keeps is a 1,000-character
/// title (up to 4,000 bytes of UTF-8); anything far beyond that is not a page.
pub const FIELD_BYTES_MAX: usize = 8 * 1024;
/// Longest physical line accepted, in bytes. This bounds the memory one row can take
/// before it is even split into cells: without it, a file with no newline would be read
/// into memory whole.
pub const LINE_BYTES_MAX: usize = 256 * 1024;
/// Most data rows read from one file. Ten times the 1,000,000-row benchmark: a file
/// larger than this is split by the caller, not imported in one go.
pub const ROWS_MAX: u64 = 10_000_000;
/// Most columns a header may have.
pub const COLUMNS_MAX: usize = 256;

/// One rejected row: where it is, which field is at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field}: {message}")]
pub struct RowError {
    /// 1-based physical line in the file where the row starts; the header is line 1.
    pub line: u64,
    /// The column (CSV) or property (iCalendar) at fault, or `row` for the row as a whole.
    pub field: String,
    /// What was wrong, in words the person who made the file can act on.
    pub message: String,
}

impl RowError {
    /// A row error at `line` for `field`.
    pub fn new(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        RowError { line, field: field.into(), message: message.into() }
    }
}

/// The file as a whole cannot be imported: nothing in it was read as rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FileError {
    /// 1-based physical line the problem was found at (1 for header problems).
    pub line: u64,
    /// What was wrong with the file.
    pub message: String,
}

impl FileError {
    /// A file error at `line`.
    pub fn new(line: u64, message: impl Into<String>) -> Self {
        FileError { line, message: message.into() }
    }
}

/// A page delivery read from a file, with its idempotency key.
#[derive(Debug, Clone)]
pub struct ImportedPage {
    /// The system the page came from (`pagerduty`, or the generic CSV's `source` cell).
    pub source: String,
    /// The page's id in that system; `(source, external_id)` is the idempotency key.
    pub external_id: String,
    /// What the row says about the page, already checked by `PageState::from_delivery`.
    pub delivery: Delivery,
}

/// A shift read from a file, with its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedShift {
    /// The person as the file names them: an email (lower-cased), a name or an id.
    pub person_key: String,
    /// Primary, secondary or backup.
    pub role: ShiftRole,
    /// The schedule or rota the shift belongs to, where the file says.
    pub schedule: Option<String>,
    /// When the shift starts.
    pub start: DateTime<Utc>,
    /// When the shift ends; always after `start`, at most `SHIFT_DAYS_MAX` days later.
    pub end: DateTime<Utc>,
    /// The feed or file the shift came from.
    pub source: String,
    /// The shift's id in that source; `(source, external_id)` is the idempotency key.
    pub external_id: String,
}

/// How one CSV format turns a row into a value.
pub trait RowMapper {
    /// What a good row becomes.
    type Item;
    /// Columns the file must have; a missing one is a file-level error. Each entry lists
    /// the names that are accepted for that column, any one of which will do.
    fn required_columns(&self) -> &'static [&'static [&'static str]];
    /// Columns the format reads; any other column is reported once as unknown.
    fn known_columns(&self) -> &'static [&'static str];
    /// Maps one row.
    fn map_row(&self, row: &Row<'_>) -> Result<Self::Item, RowError>;
}

/// Column name → position, from the header.
#[derive(Debug, Clone)]
struct Columns {
    positions: HashMap<String, usize>,
    count: usize,
}

/// One data row of a CSV file, with its line number, read through the header.
pub struct Row<'a> {
    line: u64,
    record: &'a csv::StringRecord,
    columns: &'a Columns,
}

impl Row<'_> {
    /// The 1-based physical line the row starts on.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Whether the header has this column.
    pub fn has_column(&self, column: &str) -> bool {
        self.columns.positions.contains_key(column)
    }

    /// The trimmed cell of `column`; `None` when the column is absent or the cell is blank,
    /// because an empty cell means "not given", never "the empty string".
    pub fn cell(&self, column: &str) -> Option<&str> {
        let position = *self.columns.positions.get(column)?;
        let value = self.record.get(position)?.trim();
        (!value.is_empty()).then_some(value)
    }

    /// The first of `columns` the row has a value for, with the column it came from.
    pub fn first_cell<'c>(&self, columns: &[&'c str]) -> Option<(&'c str, &str)> {
        columns.iter().find_map(|column| self.cell(column).map(|value| (*column, value)))
    }

    /// The cell of a required column, or a row error naming it.
    pub fn required(&self, column: &str) -> Result<&str, RowError> {
        self.cell(column).ok_or_else(|| self.error(column, "is required and must not be empty"))
    }

    /// An RFC 3339 timestamp with an offset, or `None` for a blank cell.
    pub fn timestamp(&self, column: &str) -> Result<Option<DateTime<Utc>>, RowError> {
        self.cell(column).map(|text| parse_rfc3339(text).map_err(|message| self.error(column, message))).transpose()
    }

    /// A row error on this row.
    pub fn error(&self, field: &str, message: impl Into<String>) -> RowError {
        RowError::new(self.line, field, message)
    }
}

/// Streams the rows of a CSV file through a [`RowMapper`], one result per data row.
///
/// Memory stays bounded whatever the file's size: one record is held at a time.
pub struct CsvRows<R: Read, M: RowMapper> {
    reader: csv::Reader<LineLimit<R>>,
    columns: Columns,
    mapper: M,
    record: csv::StringRecord,
    unknown_columns: Vec<String>,
    rows_read: u64,
    finished: bool,
}

impl<R: Read, M: RowMapper> CsvRows<R, M> {
    /// Reads the header and checks it against the format. Column names are matched
    /// trimmed and case-insensitively, in any order; a leading byte-order mark (as Excel
    /// writes) is ignored.
    pub fn new(reader: R, mapper: M) -> Result<Self, FileError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            // Rows with the wrong number of cells are reported by us, per row, with the
            // counts, rather than by the reader as an opaque error.
            .flexible(true)
            .from_reader(LineLimit::new(reader));
        let header =
            reader.headers().map_err(|error| FileError::new(1, format!("cannot read the header: {error}")))?.clone();
        let columns = read_columns(&header)?;
        check_required(&columns, mapper.required_columns())?;
        let mut unknown_columns: Vec<String> = header
            .iter()
            .map(normalise_column)
            .filter(|name| !name.is_empty() && !mapper.known_columns().contains(&name.as_str()))
            .collect();
        unknown_columns.dedup();
        Ok(CsvRows {
            reader,
            columns,
            mapper,
            record: csv::StringRecord::new(),
            unknown_columns,
            rows_read: 0,
            finished: false,
        })
    }

    /// Header columns the format does not read, in file order: reported once as a warning,
    /// never as an error, so an export with extra columns still imports.
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown_columns
    }

    fn map_record(&self, line: u64) -> Result<M::Item, RowError> {
        if self.record.len() != self.columns.count {
            return Err(RowError::new(
                line,
                "row",
                format!("has {} cells but the header has {} columns", self.record.len(), self.columns.count),
            ));
        }
        if let Some((position, _)) = self.record.iter().enumerate().find(|(_, cell)| cell.len() > FIELD_BYTES_MAX) {
            let column =
                self.columns.positions.iter().find(|(_, at)| **at == position).map_or("row", |(name, _)| name.as_str());
            return Err(RowError::new(line, column, format!("is longer than {FIELD_BYTES_MAX} bytes")));
        }
        let row = Row { line, record: &self.record, columns: &self.columns };
        self.mapper.map_row(&row)
    }
}

impl<R: Read, M: RowMapper> Iterator for CsvRows<R, M> {
    type Item = Result<M::Item, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(false) => {
                self.finished = true;
                None
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, csv::Position::line);
                self.rows_read += 1;
                if self.rows_read > ROWS_MAX {
                    // Stop rather than report ten million more errors: the caller splits the file.
                    self.finished = true;
                    return Some(Err(RowError::new(
                        line,
                        "row",
                        format!("the file has more than {ROWS_MAX} rows; this row and the rest were not read"),
                    )));
                }
                Some(self.map_record(line))
            }
            Err(error) => Some(Err(self.read_error(error))),
        }
    }
}

impl<R: Read, M: RowMapper> CsvRows<R, M> {
    fn read_error(&mut self, error: csv::Error) -> RowError {
        let line = error.position().map_or_else(|| self.reader.position().line(), csv::Position::line);
        match error.kind() {
            // A bad UTF-8 row is one bad row; the reader has consumed it and goes on.
            csv::ErrorKind::Utf8 { .. } => RowError::new(line, "row", "is not valid UTF-8"),
            // An I/O error (including an over-long line) leaves the reader in an unknown
            // place in the file, so reading stops here.
            _ => {
                self.finished = true;
                RowError::new(line, "file", format!("reading stopped: {error}"))
            }
        }
    }
}

fn normalise_column(name: &str) -> String {
    name.trim_start_matches('\u{feff}').trim().to_ascii_lowercase()
}

fn read_columns(header: &csv::StringRecord) -> Result<Columns, FileError> {
    if header.len() > COLUMNS_MAX {
        return Err(FileError::new(1, format!("the header has more than {COLUMNS_MAX} columns")));
    }
    let mut positions = HashMap::with_capacity(header.len());
    for (position, name) in header.iter().enumerate() {
        let name = normalise_column(name);
        if name.is_empty() {
            continue;
        }
        if positions.insert(name.clone(), position).is_some() {
            // Two columns of one name: which one holds the value would be a guess.
            return Err(FileError::new(1, format!("the header names column `{name}` twice")));
        }
    }
    Ok(Columns { positions, count: header.len() })
}

fn check_required(columns: &Columns, required: &[&[&str]]) -> Result<(), FileError> {
    let missing: Vec<String> = required
        .iter()
        .filter(|names| !names.iter().any(|name| columns.positions.contains_key(*name)))
        .map(|names| names.join(" or "))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(FileError::new(1, format!("missing required column(s): {}", missing.join(", "))))
    }
}

/// A reader that fails once a physical line exceeds [`LINE_BYTES_MAX`], so one garbage
/// line cannot make the CSV reader buffer an unbounded amount of memory.
struct LineLimit<R> {
    inner: R,
    line_bytes: usize,
}

impl<R> LineLimit<R> {
    fn new(inner: R) -> Self {
        LineLimit { inner, line_bytes: 0 }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        for byte in buffer.iter().take(read) {
            if *byte == b'\n' {
                self.line_bytes = 0;
            } else {
                self.line_bytes += 1;
                if self.line_bytes > LINE_BYTES_MAX {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("a line is longer than {LINE_BYTES_MAX} bytes"),
                    ));
                }
            }
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::csv_shifts::shifts_from_csv;

    #[test]
    fn a_row_that_is_not_utf8_is_one_bad_row() {
        let mut bytes = b"person,start,end\n".to_vec();
        bytes.extend_from_slice(b"al\xffce,2026-10-05T09:00:00Z,2026-10-05T10:00:00Z\n");
        bytes.extend_from_slice(b"bob,2026-10-05T09:00:00Z,2026-10-05T10:00:00Z\n");
        let rows: Vec<_> = shifts_from_csv(bytes.as_slice(), "csv").unwrap().collect();
        assert_eq!(rows.len(), 2);
        let error = rows[0].as_ref().unwrap_err();
        assert_eq!((error.line, error.field.as_str()), (2, "row"));
        assert_eq!(rows[1].as_ref().unwrap().person_key, "bob");
    }

    #[test]
    fn an_endless_line_stops_the_import_with_an_error() {
        let mut text = String::from("person,start,end\nbob,2026-10-05T09:00:00Z,2026-10-05T10:00:00Z\n");
        text.push_str(&"x".repeat(LINE_BYTES_MAX + 10));
        let rows: Vec<_> = shifts_from_csv(text.as_bytes(), "csv").unwrap().collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].is_ok());
        let error = rows[1].as_ref().unwrap_err();
        assert_eq!(error.field, "file");
        assert!(error.message.contains("longer than"), "{}", error.message);
    }
}
