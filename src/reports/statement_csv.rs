//! An engineer's statement as CSV: one row per priced line, with its explanation.

use crate::pricing::Statement;

use super::neutralise_cell;

/// The header row, in order.
pub const COLUMNS: [&str; 17] = [
    "person",
    "occurred_at",
    "component",
    "quantity",
    "unit",
    "unit_rate",
    "multiplier",
    "time_class",
    "day_class",
    "amount",
    "currency",
    "fact_kind",
    "fact_id",
    "page_id",
    "policy_id",
    "policy_version",
    "explanation",
];

/// Writes the statement's lines as RFC 4180 CSV (UTF-8, CRLF line ends).
pub fn write(statement: &Statement) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    for line in &statement.lines {
        let text = |value: &str| neutralise_cell(value).into_owned();
        writer.write_record([
            text(&line.person_id),
            crate::domain::timestamp::format_rfc3339(&line.occurred_at),
            crate::domain::serde_name(&line.component),
            line.quantity.to_string(),
            crate::domain::serde_name(&line.unit),
            line.unit_rate.to_string(),
            line.multiplier.to_string(),
            line.time_class.map(|class| class.as_str().to_owned()).unwrap_or_default(),
            line.day_class.map(|class| class.as_str().to_owned()).unwrap_or_default(),
            line.amount.to_string(),
            line.currency.code().to_owned(),
            crate::domain::serde_name(&line.fact.kind),
            text(&line.fact.id),
            line.page_id.as_deref().map(text).unwrap_or_default(),
            text(&line.policy.id),
            line.policy.version.to_string(),
            text(&line.explanation),
        ])?;
    }
    writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))
}
