//! Pages from CSV files: paydown's generic format and PagerDuty's incident export.
//!
//! Both formats share these rules:
//!
//! - the first line is a header; column names are matched trimmed and case-insensitively,
//!   in any order; a UTF-8 byte-order mark is ignored;
//! - columns the format does not read are ignored, and listed once by
//!   [`CsvRows::unknown_columns`](super::rows::CsvRows::unknown_columns) so the caller can
//!   warn about them; a missing required column makes the whole file a `FileError`;
//! - cells are trimmed; an empty cell means "not given";
//! - every row is checked on its own (by the same rules as the API, `PageState::from_delivery`),
//!   and a bad row yields a `RowError` with its line, the field and why; the rows after
//!   it are still read;
//! - timestamps are RFC 3339 **with an offset** (`2026-10-03T02:14:00Z`,
//!   `2026-10-03T03:14:00+01:00`; a space instead of the `T` is accepted). A local time
//!   without an offset is refused, because which night it was decides the pay.
//!
//! # Generic format (`--format generic`)
//!
//! | column | required | meaning |
//! | --- | --- | --- |
//! | `source` | yes | the system the page came from (`pagerduty`, `opsgenie`, `nagios`, …) |
//! | `external_id` | yes | the page's id in that system; `(source, external_id)` is the idempotency key, so importing the file again changes nothing |
//! | `service` | yes | the service paged for (an unknown service is kept, and listed as unmatched) |
//! | `title` | no | what the page said, at most 1,000 characters |
//! | `alert_key` | no | what repeats: dedup key, fingerprint or alert name |
//! | `lane` | no | `wake` (page a human now) or `later` (working hours) |
//! | `triggered_at` | yes | when the page fired |
//! | `acknowledged_at` | no | when it was first acknowledged; not before `triggered_at` |
//! | `acknowledged_by` | no | who acknowledged: 1 to 128 of `A-Z a-z 0-9 . _ - : @`; needs `acknowledged_at` |
//! | `resolved_at` | no | when it was resolved; not before `triggered_at` |
//!
//! ```text
//! source,external_id,service,title,alert_key,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at
//! nagios,4711,checkout,Disk full on db-7,disk-full-db-7,wake,2026-10-03T02:14:00Z,2026-10-03T02:19:00Z,alice@example.com,2026-10-03T03:01:00Z
//! ```
//!
//! # PagerDuty incidents (`--format pagerduty`)
//!
//! The exact header of PagerDuty's incident CSV export could not be confirmed from a
//! public source, so the columns are the incident fields of PagerDuty's analytics API
//! (`POST /analytics/raw/incidents`, whose field names are snake_case like the export's),
//! and each column also accepts the other names it is known under (`created_on`,
//! `resolved_on`, the REST API's `title` and `incident_key`), listed after the first.
//! The source is always `pagerduty`.
//!
//! | paydown field | PagerDuty column(s) | rule |
//! | --- | --- | --- |
//! | `external_id` | `id`, else `incident_number` | required; the incident id (`PYC0H08`) is preferred because PagerDuty's webhooks carry it too, so an incident imported from history and received by webhook is one page |
//! | `service` | `service_name`, else `service_id` | required |
//! | `title` | `description`, `title`, `summary` | first non-empty |
//! | `alert_key` | `incident_key` | the incident's de-duplication key, where the export has it |
//! | `lane` | `urgency` | `high` → `wake`, `low` → `later` |
//! | `triggered_at` | `created_at`, `created_on` | required |
//! | `acknowledged_at` | `acknowledged_at`, else `created_at` + `seconds_to_first_ack` | |
//! | `acknowledged_by` | first of `acknowledged_user_ids`, `acknowledged_by_user_ids` | the user id (`PRJ4208`), not the name: names have spaces and are not unique; a list cell may be a JSON array (`["PRJ4208","PA02301"]`) or separated by `,` `;` or spaces |
//! | `resolved_at` | `resolved_at`, `resolved_on` | |
//!
//! PagerDuty renders times in the exporting user's time zone and the analytics API may
//! leave the offset off (`2023-05-31T10:05:00`, with `"time_zone": "Etc/UTC"` beside the
//! data). Such times are refused unless the caller names that zone in
//! [`PageCsvFormat::PagerDuty`]'s `time_zone`; a local time that falls in a DST gap or fold
//! is refused rather than guessed.

use std::io::Read;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::rows::{CsvRows, FileError, ImportedPage, Row, RowError, RowMapper};
use crate::domain::field_error::require_text;
use crate::domain::page::{Delivery, KEY_LENGTH_MAX, Lane, PageState};
use crate::domain::timestamp::{parse_rfc3339, truncate_to_micros};

/// The source name of every page read from a PagerDuty export.
pub const PAGERDUTY_SOURCE: &str = "pagerduty";

/// Which CSV layout a pages file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCsvFormat {
    /// paydown's documented CSV (see the module documentation).
    Generic,
    /// PagerDuty's incident export.
    PagerDuty {
        /// The zone to read timestamps without an offset in; `None` refuses them.
        time_zone: Option<Tz>,
    },
}

/// The streaming iterator of page rows; see [`pages_from_csv`].
pub type PageRows<R> = CsvRows<R, PageCsvFormat>;

/// Reads pages from a CSV file, one `Result` per data row, streaming.
///
/// Fails only when the header cannot be read or lacks a required column.
pub fn pages_from_csv<R: Read>(reader: R, format: PageCsvFormat) -> Result<PageRows<R>, FileError> {
    CsvRows::new(reader, format)
}

const GENERIC_REQUIRED: &[&[&str]] = &[&["source"], &["external_id"], &["service"], &["triggered_at"]];
const GENERIC_KNOWN: &[&str] = &[
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

const PD_ID: &[&str] = &["id", "incident_number"];
const PD_SERVICE: &[&str] = &["service_name", "service_id"];
const PD_TITLE: &[&str] = &["description", "title", "summary"];
const PD_CREATED: &[&str] = &["created_at", "created_on"];
const PD_RESOLVED: &[&str] = &["resolved_at", "resolved_on"];
const PD_ACKNOWLEDGED_BY: &[&str] = &["acknowledged_user_ids", "acknowledged_by_user_ids"];
const PD_REQUIRED: &[&[&str]] = &[PD_ID, PD_SERVICE, PD_CREATED];
const PD_KNOWN: &[&str] = &[
    "id",
    "incident_number",
    "service_name",
    "service_id",
    "description",
    "title",
    "summary",
    "incident_key",
    "urgency",
    "created_at",
    "created_on",
    "acknowledged_at",
    "seconds_to_first_ack",
    "acknowledged_user_ids",
    "acknowledged_by_user_ids",
    "resolved_at",
    "resolved_on",
];

impl RowMapper for PageCsvFormat {
    type Item = ImportedPage;

    fn required_columns(&self) -> &'static [&'static [&'static str]] {
        match self {
            PageCsvFormat::Generic => GENERIC_REQUIRED,
            PageCsvFormat::PagerDuty { .. } => PD_REQUIRED,
        }
    }

    fn known_columns(&self) -> &'static [&'static str] {
        match self {
            PageCsvFormat::Generic => GENERIC_KNOWN,
            PageCsvFormat::PagerDuty { .. } => PD_KNOWN,
        }
    }

    fn map_row(&self, row: &Row<'_>) -> Result<ImportedPage, RowError> {
        let page = match self {
            PageCsvFormat::Generic => generic_page(row)?,
            PageCsvFormat::PagerDuty { time_zone } => pagerduty_page(row, *time_zone)?,
        };
        check_page(row, page)
    }
}

/// Checks the page by the same rules as the API, so a file cannot store what a request could not.
fn check_page(row: &Row<'_>, page: ImportedPage) -> Result<ImportedPage, RowError> {
    require_text("source", &page.source, KEY_LENGTH_MAX)
        .and_then(|()| require_text("external_id", &page.external_id, KEY_LENGTH_MAX))
        .and_then(|()| PageState::from_delivery(page.delivery.clone()).map(|_| ()))
        .map_err(|error| row.error(&error.field, error.message))?;
    Ok(page)
}

fn generic_page(row: &Row<'_>) -> Result<ImportedPage, RowError> {
    let lane = row.cell("lane").map(|text| parse_lane(row, text)).transpose()?;
    let triggered_at =
        row.timestamp("triggered_at")?.ok_or_else(|| row.error("triggered_at", "is required and must not be empty"))?;
    Ok(ImportedPage {
        source: row.required("source")?.to_owned(),
        external_id: row.required("external_id")?.to_owned(),
        delivery: Delivery {
            service_key: row.required("service")?.to_owned(),
            title: row.cell("title").map(str::to_owned),
            alert_key: row.cell("alert_key").map(str::to_owned),
            lane,
            triggered_at,
            acknowledged_at: row.timestamp("acknowledged_at")?,
            acknowledged_by: row.cell("acknowledged_by").map(str::to_owned),
            resolved_at: row.timestamp("resolved_at")?,
        },
    })
}

fn parse_lane(row: &Row<'_>, text: &str) -> Result<Lane, RowError> {
    Lane::parse(&text.to_ascii_lowercase())
        .ok_or_else(|| row.error("lane", format!("must be `wake` or `later`, not `{text}`")))
}

fn pagerduty_page(row: &Row<'_>, time_zone: Option<Tz>) -> Result<ImportedPage, RowError> {
    let (_, external_id) =
        row.first_cell(PD_ID).ok_or_else(|| row.error("id", "is required: give `id` or `incident_number`"))?;
    let (_, service) = row
        .first_cell(PD_SERVICE)
        .ok_or_else(|| row.error("service_name", "is required: give `service_name` or `service_id`"))?;
    let (created_column, created) =
        row.first_cell(PD_CREATED).ok_or_else(|| row.error("created_at", "is required and must not be empty"))?;
    let triggered_at = pagerduty_time(row, created_column, created, time_zone)?;
    let acknowledged_at = pagerduty_acknowledged_at(row, triggered_at, time_zone)?;
    let resolved_at =
        row.first_cell(PD_RESOLVED).map(|(column, text)| pagerduty_time(row, column, text, time_zone)).transpose()?;
    let lane = row
        .cell("urgency")
        .map(|urgency| match urgency.to_ascii_lowercase().as_str() {
            "high" => Ok(Lane::Wake),
            "low" => Ok(Lane::Later),
            _ => Err(row.error("urgency", format!("must be `high` or `low`, not `{urgency}`"))),
        })
        .transpose()?;
    Ok(ImportedPage {
        source: PAGERDUTY_SOURCE.to_owned(),
        external_id: external_id.to_owned(),
        delivery: Delivery {
            service_key: service.to_owned(),
            title: row.first_cell(PD_TITLE).map(|(_, title)| title.to_owned()),
            alert_key: row.cell("incident_key").map(str::to_owned),
            lane,
            triggered_at,
            acknowledged_at,
            acknowledged_by: row
                .first_cell(PD_ACKNOWLEDGED_BY)
                .and_then(|(_, list)| first_list_item(list))
                .map(str::to_owned),
            resolved_at,
        },
    })
}

fn pagerduty_acknowledged_at(
    row: &Row<'_>,
    triggered_at: DateTime<Utc>,
    time_zone: Option<Tz>,
) -> Result<Option<DateTime<Utc>>, RowError> {
    if let Some(text) = row.cell("acknowledged_at") {
        return pagerduty_time(row, "acknowledged_at", text, time_zone).map(Some);
    }
    let Some(text) = row.cell("seconds_to_first_ack") else {
        return Ok(None);
    };
    // Whole seconds only: the analytics API reports integers, and pay never needs less.
    let seconds: i64 =
        text.parse().ok().filter(|seconds| (0..=i64::from(i32::MAX)).contains(seconds)).ok_or_else(|| {
            row.error("seconds_to_first_ack", format!("must be a whole number of seconds, not `{text}`"))
        })?;
    Ok(Some(triggered_at + Duration::seconds(seconds)))
}

/// The first item of a list cell: a JSON array, or items separated by `,` `;` or spaces.
fn first_list_item(list: &str) -> Option<&str> {
    list.split([',', ';', ' ', '[', ']', '"']).map(str::trim).find(|item| !item.is_empty())
}

fn pagerduty_time(row: &Row<'_>, column: &str, text: &str, time_zone: Option<Tz>) -> Result<DateTime<Utc>, RowError> {
    let with_offset = parse_rfc3339(text);
    let (Err(message), Some(zone)) = (&with_offset, time_zone) else {
        return with_offset.map_err(|message| row.error(column, message));
    };
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .ok_or_else(|| row.error(column, message.clone()))?;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(instant) => Ok(truncate_to_micros(instant.with_timezone(&Utc))),
        LocalResult::Ambiguous(..) => {
            Err(row.error(column, format!("`{text}` happens twice in {zone} (the clocks went back); give the offset")))
        }
        LocalResult::None => {
            Err(row.error(column, format!("`{text}` does not exist in {zone} (the clocks went forward)")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timestamp::format_rfc3339;
    use proptest::prelude::*;

    const HEADER: &str =
        "source,external_id,service,title,alert_key,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at";

    fn import(text: &str, format: PageCsvFormat) -> Vec<Result<ImportedPage, RowError>> {
        pages_from_csv(text.as_bytes(), format).unwrap().collect()
    }

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    #[test]
    fn a_generic_row_becomes_a_delivery() {
        let text = format!(
            "{HEADER}\nnagios,4711,checkout,\"Disk full, db-7\",disk-full-db-7,wake,2026-10-03T03:14:00+01:00,2026-10-03T02:19:00Z,alice@example.com,2026-10-03T03:01:00Z\n"
        );
        let rows = import(&text, PageCsvFormat::Generic);
        assert_eq!(rows.len(), 1);
        let page = rows[0].as_ref().unwrap();
        assert_eq!(page.source, "nagios");
        assert_eq!(page.external_id, "4711");
        let delivery = &page.delivery;
        assert_eq!(delivery.service_key, "checkout");
        assert_eq!(delivery.title.as_deref(), Some("Disk full, db-7"));
        assert_eq!(delivery.alert_key.as_deref(), Some("disk-full-db-7"));
        assert_eq!(delivery.lane, Some(Lane::Wake));
        assert_eq!(delivery.triggered_at, at("2026-10-03T02:14:00Z"));
        assert_eq!(delivery.acknowledged_at, Some(at("2026-10-03T02:19:00Z")));
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("alice@example.com"));
        assert_eq!(delivery.resolved_at, Some(at("2026-10-03T03:01:00Z")));
    }

    #[test]
    fn header_order_is_free_optional_columns_may_be_absent_and_unknown_ones_are_listed() {
        let text =
            "Triggered_At,service,ticket_url,EXTERNAL_ID,source\n2026-10-03T02:14:00Z,checkout,https://x/1,a1,cli\n";
        let rows = pages_from_csv(text.as_bytes(), PageCsvFormat::Generic).unwrap();
        assert_eq!(rows.unknown_columns(), ["ticket_url"]);
        let pages: Vec<_> = rows.collect();
        let page = pages[0].as_ref().unwrap();
        assert_eq!(page.external_id, "a1");
        assert_eq!(page.delivery.title, None);
        assert_eq!(page.delivery.lane, None);
    }

    #[test]
    fn a_missing_required_column_is_a_file_error() {
        let text = "source,external_id,title\nx,1,t\n";
        let error = pages_from_csv(text.as_bytes(), PageCsvFormat::Generic).err().unwrap();
        assert_eq!(error.line, 1);
        assert!(error.message.contains("service"), "{}", error.message);
        assert!(error.message.contains("triggered_at"), "{}", error.message);
        let empty = pages_from_csv("".as_bytes(), PageCsvFormat::Generic).err().unwrap();
        assert!(empty.message.contains("missing required column"));
        let doubled = format!("{HEADER},source\n");
        let twice = pages_from_csv(doubled.as_bytes(), PageCsvFormat::Generic);
        assert!(twice.err().unwrap().message.contains("`source` twice"));
    }

    #[test]
    fn bad_rows_2_and_5_yield_exactly_those_errors_and_the_good_rows() {
        let text = format!(
            "{HEADER}
x,bad-offset,checkout,,,,2026-10-03T02:14:00,,,
x,good-1,checkout,,,later,2026-10-03T02:14:00Z,,,
x,good-2,checkout,,,,2026-10-03T02:15:00Z,,,
x,bad-lane,checkout,,,urgent,2026-10-03T02:16:00Z,,,
x,good-3,checkout,,,WAKE,2026-10-03T02:17:00Z,,,2026-10-03T02:18:00Z
"
        );
        let rows = import(&text, PageCsvFormat::Generic);
        let errors: Vec<_> = rows.iter().filter_map(|row| row.as_ref().err()).collect();
        assert_eq!(errors.len(), 2);
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "triggered_at"));
        assert!(errors[0].message.contains("offset"));
        assert_eq!((errors[1].line, errors[1].field.as_str()), (5, "lane"));
        let good: Vec<_> =
            rows.iter().filter_map(|row| row.as_ref().ok()).map(|page| page.external_id.as_str()).collect();
        assert_eq!(good, ["good-1", "good-2", "good-3"]);
    }

    #[test]
    fn inconsistent_rows_are_refused_by_the_domain_rules_with_their_field() {
        let text = format!(
            "{HEADER}
x,resolved-early,checkout,,,,2026-10-03T02:14:00Z,,,2026-10-03T02:00:00Z
x,who-without-when,checkout,,,,2026-10-03T02:14:00Z,,alice,
x,bad-person,checkout,,,,2026-10-03T02:14:00Z,2026-10-03T02:15:00Z,Alice Smith,
,no-source,checkout,,,,2026-10-03T02:14:00Z,,,
x,too-few-cells,checkout
"
        );
        let rows = import(&text, PageCsvFormat::Generic);
        let errors: Vec<(u64, String)> =
            rows.into_iter().map(|row| row.err().map(|error| (error.line, error.field)).unwrap()).collect();
        let expected = [(2, "resolved_at"), (3, "acknowledged_at"), (4, "acknowledged_by"), (5, "source"), (6, "row")];
        assert_eq!(errors, expected.map(|(line, field)| (line, field.to_owned())).to_vec());
    }

    #[test]
    fn a_quoted_cell_with_newlines_keeps_the_line_numbers_physical() {
        let text = format!(
            "{HEADER}\nx,1,checkout,\"two\nlines\",,,2026-10-03T02:14:00Z,,,\nx,2,checkout,,,nope,2026-10-03T02:14:00Z,,,\n"
        );
        let rows = import(&text, PageCsvFormat::Generic);
        assert_eq!(rows[0].as_ref().unwrap().delivery.title.as_deref(), Some("two\nlines"));
        assert_eq!(rows[1].as_ref().unwrap_err().line, 4);
    }

    #[test]
    fn an_over_long_cell_is_one_bad_row() {
        let long = "t".repeat(super::super::rows::FIELD_BYTES_MAX + 1);
        let text = format!(
            "{HEADER}\nx,1,checkout,{long},,,2026-10-03T02:14:00Z,,,\nx,2,checkout,,,,2026-10-03T02:14:00Z,,,\n"
        );
        let rows = import(&text, PageCsvFormat::Generic);
        let error = rows[0].as_ref().unwrap_err();
        assert_eq!((error.line, error.field.as_str()), (2, "title"));
        assert!(rows[1].is_ok());
    }

    #[test]
    fn importing_the_same_file_twice_yields_the_same_keys() {
        let text = include_str!("../../tests/samples/datasets/llm_service_incidents_icpe25/incident_stages.csv");
        let generic = llm_incidents_as_generic_csv(text);
        let keys = |csv: &str| -> Vec<(String, String)> {
            import(csv, PageCsvFormat::Generic)
                .into_iter()
                .filter_map(Result::ok)
                .map(|page| (page.source, page.external_id))
                .collect()
        };
        let first = keys(&generic);
        assert_eq!(first, keys(&generic));
        assert_eq!(first.len(), 542);
    }

    /// Turns the ICPE'25 LLM-service incident table (real status-page incidents) into the
    /// generic format: provider as the source, first affected component as the service.
    fn llm_incidents_as_generic_csv(text: &str) -> String {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (id, title, provider, start, close) = (
            column("incident_id"),
            column("Incident_Title"),
            column("provider"),
            column("start_timestamp"),
            column("close_timestamp"),
        );
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(["source", "external_id", "service", "title", "triggered_at", "resolved_at"]).unwrap();
        for record in reader.records() {
            let record = record.unwrap();
            writer
                .write_record([
                    &record[provider],
                    &record[id],
                    &record[provider],
                    &record[title],
                    &record[start],
                    &record[close],
                ])
                .unwrap();
        }
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn real_status_page_incidents_import_with_their_times() {
        let text = include_str!("../../tests/samples/datasets/llm_service_incidents_icpe25/incident_stages.csv");
        let rows = import(&llm_incidents_as_generic_csv(text), PageCsvFormat::Generic);
        assert_eq!(rows.len(), 542);
        let errors: Vec<_> = rows.iter().filter_map(|row| row.as_ref().err()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        // The first data row of the file: Anthropic's "Elevated Errors" of 2024-02-26.
        let first = rows[0].as_ref().unwrap();
        assert_eq!((first.source.as_str(), first.external_id.as_str()), ("anthropic", "qv89mzdjvtrs"));
        assert_eq!(first.delivery.triggered_at, at("2024-02-26T17:09:00Z"));
        assert_eq!(first.delivery.resolved_at, Some(at("2024-02-26T18:21:00Z")));
    }

    /// The analytics sample as a CSV export would carry it.
    fn pagerduty_sample_csv() -> String {
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/samples/pagerduty/rest_api/analytics_raw_incidents.json"))
                .unwrap();
        let columns = [
            "id",
            "incident_number",
            "description",
            "service_id",
            "service_name",
            "urgency",
            "created_at",
            "seconds_to_first_ack",
            "acknowledged_user_ids",
            "resolved_at",
            "escalation_policy_name",
        ];
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(columns).unwrap();
        for incident in json["data"].as_array().unwrap() {
            let cells = columns.map(|column| match &incident[column] {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            });
            writer.write_record(cells).unwrap();
        }
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn a_pagerduty_export_maps_to_pages_and_keeps_the_vendor_data_error() {
        let format = PageCsvFormat::PagerDuty { time_zone: Some(chrono_tz::Etc::UTC) };
        let text = pagerduty_sample_csv();
        let rows = pages_from_csv(text.as_bytes(), format).unwrap();
        assert_eq!(rows.unknown_columns(), ["escalation_policy_name"]);
        let rows: Vec<_> = rows.collect();
        assert_eq!(rows.len(), 2);
        let page = rows[0].as_ref().unwrap();
        assert_eq!((page.source.as_str(), page.external_id.as_str()), ("pagerduty", "PYC0H08"));
        let delivery = &page.delivery;
        assert_eq!(delivery.service_key, "Engineering");
        assert_eq!(delivery.title.as_deref(), Some("The server is on fire!"));
        assert_eq!(delivery.lane, Some(Lane::Later));
        assert_eq!(delivery.triggered_at, at("2023-05-31T10:05:00Z"));
        assert_eq!(delivery.acknowledged_at, Some(at("2023-05-31T10:05:05Z")));
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("PRJ4208"));
        assert_eq!(delivery.resolved_at, Some(at("2023-05-31T10:15:00Z")));
        // The official example's second incident is resolved before it was created.
        let error = rows[1].as_ref().unwrap_err();
        assert_eq!((error.line, error.field.as_str()), (3, "resolved_at"));
    }

    #[test]
    fn pagerduty_times_without_an_offset_need_a_zone() {
        let rows: Vec<_> =
            pages_from_csv(pagerduty_sample_csv().as_bytes(), PageCsvFormat::PagerDuty { time_zone: None })
                .unwrap()
                .collect();
        let error = rows[0].as_ref().unwrap_err();
        assert_eq!((error.line, error.field.as_str()), (2, "created_at"));
        let berlin = PageCsvFormat::PagerDuty { time_zone: Some(chrono_tz::Europe::Berlin) };
        let text = "incident_number,service_id,created_on,resolved_on\n17,PSVC,2026-03-29 01:30:00,2026-03-29T03:30:00\n18,PSVC,2026-03-29 02:30:00,\n19,PSVC,2026-10-25 02:30:00,\n20,PSVC,2026-10-25T02:30:00+01:00,\n";
        let rows: Vec<_> = pages_from_csv(text.as_bytes(), berlin).unwrap().collect();
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.external_id, "17");
        assert_eq!(first.delivery.service_key, "PSVC");
        // 01:30 CET and 03:30 CEST are one real hour apart on the spring-forward night.
        assert_eq!(first.delivery.triggered_at, at("2026-03-29T00:30:00Z"));
        assert_eq!(first.delivery.resolved_at, Some(at("2026-03-29T01:30:00Z")));
        assert!(rows[1].as_ref().unwrap_err().message.contains("does not exist"));
        assert!(rows[2].as_ref().unwrap_err().message.contains("twice"));
        assert_eq!(rows[3].as_ref().unwrap().delivery.triggered_at, at("2026-10-25T01:30:00Z"));
    }

    #[test]
    fn pagerduty_list_cells_and_urgency() {
        assert_eq!(first_list_item("[\"PRJ4208\", \"PA02301\"]"), Some("PRJ4208"));
        assert_eq!(first_list_item("PRJ4208;PA02301"), Some("PRJ4208"));
        assert_eq!(first_list_item(" "), None);
        let text = "id,service_name,created_at,urgency\nP1,web,2026-10-03T02:14:00Z,HIGH\nP2,web,2026-10-03T02:14:00Z,medium\n";
        let rows: Vec<_> =
            pages_from_csv(text.as_bytes(), PageCsvFormat::PagerDuty { time_zone: None }).unwrap().collect();
        assert_eq!(rows[0].as_ref().unwrap().delivery.lane, Some(Lane::Wake));
        assert_eq!(rows[1].as_ref().unwrap_err().field, "urgency");
    }

    fn comparable(page: &ImportedPage) -> (String, String, PageState) {
        (page.source.clone(), page.external_id.clone(), PageState::from_delivery(page.delivery.clone()).unwrap())
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        // Commas, quotes and newlines inside, no surrounding blanks (cells are trimmed).
        "[a-zA-Z0-9][a-zA-Z0-9 ,\"\n.é_-]{0,20}[a-zA-Z0-9]"
    }

    fn key_strategy() -> impl Strategy<Value = String> {
        // Keys (service, alert key) hold no control character (`domain::limits`).
        "[a-zA-Z0-9][a-zA-Z0-9 ,\".é_-]{0,20}[a-zA-Z0-9]"
    }

    fn page_strategy() -> impl Strategy<Value = ImportedPage> {
        let base = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        (
            ("[a-z]{1,8}", "[A-Za-z0-9-]{1,12}", key_strategy()),
            (
                proptest::option::of(text_strategy()),
                proptest::option::of(key_strategy()),
                proptest::option::of(prop_oneof![Just(Lane::Wake), Just(Lane::Later)]),
            ),
            (
                0_i64..100_000_000,
                proptest::option::of((0_i64..100_000, proptest::option::of("[a-z.@]{1,12}"))),
                proptest::option::of(0_i64..100_000),
            ),
        )
            .prop_map(
                move |((source, external_id, service), (title, alert_key, lane), (trigger, ack, resolve))| {
                    let triggered_at = base + Duration::seconds(trigger);
                    ImportedPage {
                        source,
                        external_id,
                        delivery: Delivery {
                            service_key: service,
                            title,
                            alert_key,
                            lane,
                            triggered_at,
                            acknowledged_at: ack.as_ref().map(|(after, _)| triggered_at + Duration::seconds(*after)),
                            acknowledged_by: ack.and_then(|(_, who)| who),
                            resolved_at: resolve.map(|after| triggered_at + Duration::seconds(after)),
                        },
                    }
                },
            )
    }

    fn write_generic(pages: &[ImportedPage], order: &[usize]) -> String {
        let columns: Vec<&str> = order.iter().map(|at| GENERIC_KNOWN[*at]).collect();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&columns).unwrap();
        for page in pages {
            let delivery = &page.delivery;
            let time = |instant: Option<DateTime<Utc>>| instant.map(|at| format_rfc3339(&at)).unwrap_or_default();
            let cells = columns.iter().map(|column| match *column {
                "source" => page.source.clone(),
                "external_id" => page.external_id.clone(),
                "service" => delivery.service_key.clone(),
                "title" => delivery.title.clone().unwrap_or_default(),
                "alert_key" => delivery.alert_key.clone().unwrap_or_default(),
                "lane" => delivery.lane.map(Lane::as_str).unwrap_or_default().to_owned(),
                "triggered_at" => format_rfc3339(&delivery.triggered_at),
                "acknowledged_at" => time(delivery.acknowledged_at),
                "acknowledged_by" => delivery.acknowledged_by.clone().unwrap_or_default(),
                _ => time(delivery.resolved_at),
            });
            writer.write_record(cells).unwrap();
        }
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    proptest! {
        #[test]
        fn any_valid_generic_csv_round_trips_into_the_same_deliveries(
            pages in proptest::collection::vec(page_strategy(), 0..20),
            order in Just((0..GENERIC_KNOWN.len()).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            let text = write_generic(&pages, &order);
            let read: Vec<ImportedPage> = pages_from_csv(text.as_bytes(), PageCsvFormat::Generic)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let expected: Vec<_> = pages.iter().map(comparable).collect();
            let actual: Vec<_> = read.iter().map(comparable).collect();
            prop_assert_eq!(expected, actual);
        }
    }
}
