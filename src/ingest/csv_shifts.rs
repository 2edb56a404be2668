//! Shifts from a CSV file.
//!
//! The header and cell rules are those of the pages CSV (names matched trimmed and
//! case-insensitively in any order, a BOM ignored, unknown columns listed once, an empty
//! cell means "not given", a missing required column is a file error, a bad row is a
//! `RowError` with its line and the rest are still read).
//!
//! | column | required | meaning |
//! | --- | --- | --- |
//! | `person` | yes | who is on call, as your people are keyed: email, name or payroll id; an email is lower-cased, since mailboxes are matched case-insensitively |
//! | `role` | no | `primary` (the default when blank), `secondary` or `backup` |
//! | `start` | yes | RFC 3339 with an offset |
//! | `end` | yes | RFC 3339 with an offset; after `start`, at most 31 days later |
//! | `schedule` | no | the schedule or rota the shift belongs to |
//! | `external_id` | no | the shift's id in your system; when blank, the id is derived from person, role, start and end, so importing the same file again changes nothing |
//!
//! ```text
//! person,role,start,end,schedule,external_id
//! alice@example.com,primary,2026-10-05T09:00:00+02:00,2026-10-12T09:00:00+02:00,payments,
//! bob@example.com,secondary,2026-10-05T09:00:00+02:00,2026-10-12T09:00:00+02:00,payments,rota-42
//! ```
//!
//! The source of every shift is the `source` the caller passes (for example `csv` or
//! `csv:payments-rota`), because a shifts file does not say which system it came from.

use std::io::Read;

use super::rows::{CsvRows, FileError, ImportedShift, Row, RowError, RowMapper};
use crate::domain::field_error::require_text;
use crate::domain::page::KEY_LENGTH_MAX;
use crate::domain::shift::{ShiftRole, check_interval, derived_external_id};

/// Maps shift rows; made by [`shifts_from_csv`].
#[derive(Debug, Clone)]
pub struct ShiftCsv {
    source: String,
}

/// The streaming iterator of shift rows; see [`shifts_from_csv`].
pub type ShiftRows<R> = CsvRows<R, ShiftCsv>;

/// Reads shifts from a CSV file, one `Result` per data row, streaming; every shift gets `source`.
///
/// Fails only when the header cannot be read or lacks a required column.
pub fn shifts_from_csv<R: Read>(reader: R, source: &str) -> Result<ShiftRows<R>, FileError> {
    CsvRows::new(reader, ShiftCsv { source: source.to_owned() })
}

const REQUIRED: &[&[&str]] = &[&["person"], &["start"], &["end"]];
const KNOWN: &[&str] = &["person", "role", "start", "end", "schedule", "external_id"];

/// An email is lower-cased, because every on-call tool matches mailboxes
/// case-insensitively and `Alice@Example.com` is the same person as `alice@example.com`;
/// names and ids are kept as written.
pub fn normalise_person_key(person: &str) -> String {
    let person = person.trim();
    if person.contains('@') { person.to_lowercase() } else { person.to_owned() }
}

impl RowMapper for ShiftCsv {
    type Item = ImportedShift;

    fn required_columns(&self) -> &'static [&'static [&'static str]] {
        REQUIRED
    }

    fn known_columns(&self) -> &'static [&'static str] {
        KNOWN
    }

    fn map_row(&self, row: &Row<'_>) -> Result<ImportedShift, RowError> {
        let person_key = normalise_person_key(row.required("person")?);
        require_text("person", &person_key, KEY_LENGTH_MAX).map_err(|error| row.error(&error.field, error.message))?;
        let role = match row.cell("role") {
            None => ShiftRole::Primary,
            Some(text) => ShiftRole::parse(&text.to_ascii_lowercase()).ok_or_else(|| {
                row.error("role", format!("must be `primary`, `secondary` or `backup`, not `{text}`"))
            })?,
        };
        let start = row.timestamp("start")?.ok_or_else(|| row.error("start", "is required and must not be empty"))?;
        let end = row.timestamp("end")?.ok_or_else(|| row.error("end", "is required and must not be empty"))?;
        check_interval(start, end).map_err(|error| row.error(&error.field, error.message))?;
        let external_id = match row.cell("external_id") {
            Some(id) => id.to_owned(),
            None => derived_external_id(&person_key, role, start, end),
        };
        require_text("external_id", &external_id, KEY_LENGTH_MAX)
            .map_err(|error| row.error(&error.field, error.message))?;
        Ok(ImportedShift {
            person_key,
            role,
            schedule: row.cell("schedule").map(str::to_owned),
            start,
            end,
            source: self.source.clone(),
            external_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timestamp::parse_rfc3339;

    fn import(text: &str) -> Vec<Result<ImportedShift, RowError>> {
        shifts_from_csv(text.as_bytes(), "csv").unwrap().collect()
    }

    #[test]
    fn shift_rows_become_shifts_with_stable_keys() {
        let text = "person,role,start,end,schedule,external_id
Alice@Example.com,,2026-10-05T09:00:00+02:00,2026-10-12T09:00:00+02:00,payments,
bob,Secondary,2026-10-05T07:00:00Z,2026-10-06T07:00:00Z,,rota-42
";
        let rows = import(text);
        let alice = rows[0].as_ref().unwrap();
        assert_eq!(alice.person_key, "alice@example.com");
        assert_eq!(alice.role, ShiftRole::Primary);
        assert_eq!(alice.schedule.as_deref(), Some("payments"));
        assert_eq!(alice.start, parse_rfc3339("2026-10-05T07:00:00Z").unwrap());
        assert_eq!(alice.source, "csv");
        assert_eq!(alice.external_id, "alice@example.com/primary/2026-10-05T07:00:00Z/2026-10-12T07:00:00Z");
        let bob = rows[1].as_ref().unwrap();
        assert_eq!((bob.role, bob.external_id.as_str()), (ShiftRole::Secondary, "rota-42"));
        let again = import(text);
        assert_eq!(rows, again);
    }

    #[test]
    fn bad_shift_rows_name_their_line_and_field() {
        let text = "start,end,person,role
2026-10-05T09:00:00Z,2026-10-05T08:00:00Z,alice,
2026-10-05T09:00:00,2026-10-05T10:00:00Z,alice,
2026-10-05T09:00:00Z,2026-10-05T10:00:00Z,,
2026-10-05T09:00:00Z,2026-10-05T10:00:00Z,alice,oncall
2026-10-05T09:00:00Z,2026-12-05T10:00:00Z,alice,
2026-10-05T09:00:00Z,2026-10-05T10:00:00Z,alice,backup
";
        let rows = import(text);
        let errors: Vec<(u64, &str)> =
            rows.iter().filter_map(|row| row.as_ref().err()).map(|error| (error.line, error.field.as_str())).collect();
        assert_eq!(errors, [(2, "end"), (3, "start"), (4, "person"), (5, "role"), (6, "end")]);
        assert_eq!(rows[5].as_ref().unwrap().role, ShiftRole::Backup);
    }

    #[test]
    fn a_shifts_file_without_end_is_a_file_error() {
        let error = shifts_from_csv("person,start\nalice,2026-10-05T09:00:00Z\n".as_bytes(), "csv").err().unwrap();
        assert!(error.message.contains("end"));
    }
}
