//! Column mappings: a tool's own CSV export read as paydown's generic pages CSV, without
//! editing the file (`paydown import pages FILE --mapping map.toml`).
//!
//! A mapping is a small TOML file naming, for each paydown field of the generic format
//! (`source`, `external_id`, `service`, `title`, `alert_key`, `lane`, `triggered_at`,
//! `acknowledged_at`, `acknowledged_by`, `resolved_at`), the file's column it is read from,
//! or a constant, and how the file writes its times:
//!
//! ```toml
//! [columns]                 # paydown field = "the file's column" (matched trimmed, case-insensitively)
//! external_id = "incident_id"
//! source = "provider"
//! service = "provider"
//! title = "Incident_Title"
//! triggered_at = "start_timestamp"
//! resolved_at = "close_timestamp"
//!
//! [constants]               # paydown field = "the same value on every row"
//! lane = "later"
//!
//! [times]
//! format = "%Y-%m-%d %H:%M:%S%:z"   # chrono's strftime; default: RFC 3339
//! time_zone = "Europe/Berlin"       # for a format without an offset; default: refused
//! ```
//!
//! The file is rewritten row for row into the generic format, so every rule of the generic
//! importer holds (idempotency by `(source, external_id)`, each bad row reported and the
//! others imported), and a rejected row's line is its data row's line in the original file
//! (when no cell spans lines). A time the format does not read is passed on as written, so
//! the importer refuses that row naming the field.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::timestamp::format_rfc3339;

/// The generic format's fields, in the order the rewritten file has them.
pub const FIELDS: [&str; 10] = [
    "source",
    "external_id",
    "service",
    "title",
    "alert_key",
    "lane",
    "triggered_at",
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
];
const REQUIRED: [&str; 4] = ["source", "external_id", "service", "triggered_at"];
const TIME_FIELDS: [&str; 3] = ["triggered_at", "acknowledged_at", "resolved_at"];

/// A mapping file, as read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    #[serde(default)]
    pub times: Times,
}

/// How the file writes its times.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Times {
    /// chrono `strftime` format; RFC 3339 when absent.
    pub format: Option<String>,
    /// IANA zone for times the format gives without an offset.
    pub time_zone: Option<String>,
}

impl ColumnMapping {
    /// Parses and checks a mapping file: known fields, every required field given once,
    /// a known time zone.
    pub fn parse(text: &str) -> Result<ColumnMapping, String> {
        let mapping: ColumnMapping = toml::from_str(text).map_err(|error| error.to_string())?;
        for (table, fields) in [("columns", &mapping.columns), ("constants", &mapping.constants)] {
            if let Some(unknown) = fields.keys().find(|field| !FIELDS.contains(&field.as_str())) {
                return Err(format!("{table}.{unknown}: not a paydown field; expected one of {}", FIELDS.join(", ")));
            }
        }
        if let Some(both) = mapping.columns.keys().find(|field| mapping.constants.contains_key(*field)) {
            return Err(format!("{both}: given both as a column and as a constant"));
        }
        if let Some(missing) = REQUIRED
            .iter()
            .find(|field| !mapping.columns.contains_key(**field) && !mapping.constants.contains_key(**field))
        {
            return Err(format!("{missing}: required; name its column under [columns] or give it under [constants]"));
        }
        if let Some(zone) = &mapping.times.time_zone {
            zone.parse::<Tz>().map_err(|_| format!("times.time_zone: unknown time zone `{zone}`"))?;
        }
        Ok(mapping)
    }

    /// Reads `reader` (a CSV file with a header) and writes it as a generic pages CSV.
    /// Fails only when the header cannot be read or lacks a mapped column.
    pub fn to_generic<R: Read>(&self, reader: R) -> Result<Vec<u8>, String> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let header = reader.headers().map_err(|error| format!("line 1: {error}"))?.clone();
        let position = |column: &str| {
            let wanted = column.trim().trim_start_matches('\u{feff}');
            header.iter().position(|name| name.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(wanted))
        };
        let mut sources: Vec<Source> = Vec::with_capacity(FIELDS.len());
        for field in FIELDS {
            sources.push(match (self.columns.get(field), self.constants.get(field)) {
                (Some(column), _) => Source::Column(position(column).ok_or_else(|| {
                    format!(
                        "columns.{field}: the file has no column `{column}` (its header: {})",
                        header.iter().collect::<Vec<_>>().join(", ")
                    )
                })?),
                (None, Some(value)) => Source::Constant(value.clone()),
                (None, None) => Source::Empty,
            });
        }
        let zone: Option<Tz> = self.times.time_zone.as_deref().and_then(|zone| zone.parse().ok());
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(FIELDS).map_err(|error| error.to_string())?;
        let mut record = csv::StringRecord::new();
        let mut row: Vec<String> = Vec::with_capacity(FIELDS.len());
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                // A row the CSV reader cannot read is kept as an empty row, so the importer
                // reports it on its line and the line numbers stay aligned.
                Err(_) => record.clear(),
            }
            row.clear();
            for (field, source) in FIELDS.iter().zip(&sources) {
                let value = match source {
                    Source::Column(index) => record.get(*index).unwrap_or("").trim().to_owned(),
                    Source::Constant(value) => value.clone(),
                    Source::Empty => String::new(),
                };
                let value = if TIME_FIELDS.contains(field) && !value.is_empty() {
                    self.time(&value, zone).unwrap_or(value)
                } else {
                    value
                };
                row.push(value);
            }
            writer.write_record(&row).map_err(|error| error.to_string())?;
        }
        writer.into_inner().map_err(|error| error.to_string())
    }

    /// A time as the mapping says it is written, as RFC 3339; `None` when it does not read.
    fn time(&self, text: &str, zone: Option<Tz>) -> Option<String> {
        let format = self.times.format.as_deref()?;
        if let Ok(instant) = DateTime::parse_from_str(text, format) {
            return Some(format_rfc3339(&instant.with_timezone(&Utc)));
        }
        let naive = NaiveDateTime::parse_from_str(text, format).ok()?;
        // A local time in a DST gap or fold is left for the importer to refuse, not guessed.
        let instant = zone?.from_local_datetime(&naive).single()?;
        Some(format_rfc3339(&instant.with_timezone(&Utc)))
    }
}

enum Source {
    Column(usize),
    Constant(String),
    Empty,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::csv_pages::{PageCsvFormat, pages_from_csv};

    const STAGES: &str = include_str!("../../tests/samples/datasets/llm_service_incidents_icpe25/incident_stages.csv");
    const STAGES_MAPPING: &str = include_str!("../../examples/mappings/incident_stages.toml");

    #[test]
    fn the_real_status_page_timeline_imports_with_its_shipped_mapping() {
        let mapping = ColumnMapping::parse(STAGES_MAPPING).unwrap();
        let generic = mapping.to_generic(STAGES.as_bytes()).unwrap();
        let rows: Vec<_> = pages_from_csv(&generic[..], PageCsvFormat::Generic).unwrap().collect();
        assert_eq!(rows.len(), 542);
        let errors: Vec<_> = rows.iter().filter_map(|row| row.as_ref().err()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        let first = rows[0].as_ref().unwrap();
        assert_eq!((first.source.as_str(), first.external_id.as_str()), ("anthropic", "qv89mzdjvtrs"));
        assert_eq!(first.delivery.service_key, "anthropic");
        assert_eq!(first.delivery.title.as_deref(), Some("Elevated Errors"));
        assert_eq!(format_rfc3339(&first.delivery.triggered_at), "2024-02-26T17:09:00Z");
        assert_eq!(first.delivery.resolved_at.map(|at| format_rfc3339(&at)).as_deref(), Some("2024-02-26T18:21:00Z"));
        assert_eq!(first.delivery.lane, Some(crate::domain::page::Lane::Later));
    }

    #[test]
    fn local_times_read_in_the_named_zone_and_bad_ones_are_refused_on_their_line() {
        let mapping = ColumnMapping::parse(
            "[columns]\nexternal_id = \"Ticket\"\nservice = \"Team\"\ntriggered_at = \"Opened\"\n\
             [constants]\nsource = \"helpdesk\"\n[times]\nformat = \"%d.%m.%Y %H:%M\"\ntime_zone = \"Europe/Berlin\"\n",
        )
        .unwrap();
        let file = "Ticket,Team,Opened\nT-1,db,03.10.2026 02:14\nT-2,db,yesterday\nT-3,db,29.03.2026 02:30\n";
        let generic = mapping.to_generic(file.as_bytes()).unwrap();
        let rows: Vec<_> = pages_from_csv(&generic[..], PageCsvFormat::Generic).unwrap().collect();
        let first = rows[0].as_ref().unwrap();
        assert_eq!(format_rfc3339(&first.delivery.triggered_at), "2026-10-03T00:14:00Z");
        let bad = rows[1].as_ref().unwrap_err();
        assert_eq!((bad.line, bad.field.as_str()), (3, "triggered_at"));
        let gap = rows[2].as_ref().unwrap_err();
        assert_eq!((gap.line, gap.field.as_str()), (4, "triggered_at"), "02:30 does not exist that night in Berlin");
    }

    #[test]
    fn a_mapping_names_what_is_wrong_with_it() {
        let error = ColumnMapping::parse("[columns]\nexternal = \"id\"").unwrap_err();
        assert!(error.contains("columns.external"), "{error}");
        let error =
            ColumnMapping::parse("[columns]\nexternal_id = \"id\"\nservice = \"s\"\ntriggered_at = \"t\"").unwrap_err();
        assert!(error.starts_with("source: required"), "{error}");
        let error = ColumnMapping::parse("[colums]").unwrap_err();
        assert!(error.contains("colums"), "{error}");
        let mapping = ColumnMapping::parse(
            "[columns]\nexternal_id = \"id\"\nservice = \"s\"\ntriggered_at = \"t\"\nsource = \"src\"",
        )
        .unwrap();
        let error = mapping.to_generic("id,s,when,src\n1,a,b,c\n".as_bytes()).unwrap_err();
        assert!(error.starts_with("columns.triggered_at: the file has no column `t`"), "{error}");
    }
}
