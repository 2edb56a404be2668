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
            line.component.as_str().to_owned(),
            line.quantity.to_string(),
            line.unit.as_str().to_owned(),
            line.unit_rate.to_string(),
            line.multiplier.to_string(),
            line.time_class.map(|class| class.as_str().to_owned()).unwrap_or_default(),
            line.day_class.map(|class| class.as_str().to_owned()).unwrap_or_default(),
            line.amount.to_string(),
            line.currency.code().to_owned(),
            line.fact.kind.as_str().to_owned(),
            text(&line.fact.id),
            line.page_id.as_deref().map(text).unwrap_or_default(),
            text(&line.policy.id),
            line.policy.version.to_string(),
            text(&line.explanation),
        ])?;
    }
    writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))
}

/// Columns of a statement read from the ledger (one row per posted entry).
const ENTRY_COLUMNS: [&str; 14] = [
    "period",
    "status",
    "natural_period",
    "kind",
    "occurred_at",
    "component",
    "quantity",
    "unit",
    "amount",
    "currency",
    "fact_kind",
    "fact_id",
    "policy",
    "explanation",
];

/// A ledger statement as CSV: every entry posted to the period, then one total row per
/// currency (`kind` = `total`), so the file sums to what payroll pays.
pub fn write_entries(statement: &crate::accrual::PeriodStatement) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    writer.write_record(ENTRY_COLUMNS)?;
    let status = if statement.is_final { "FINAL" } else { "PROVISIONAL" };
    for line in &statement.lines {
        let text = |value: &str| neutralise_cell(value).into_owned();
        writer.write_record([
            statement.period.clone(),
            status.to_owned(),
            text(&line.natural_period),
            line.kind.to_string(),
            crate::domain::timestamp::format_rfc3339(&line.occurred_at),
            text(&line.component),
            line.quantity.to_string(),
            text(&line.unit),
            line.amount.to_string(),
            text(&line.currency),
            text(&line.fact_kind),
            text(&line.fact_id),
            text(&format!("{}@{}", line.policy_id, line.policy_version)),
            text(&line.explanation),
        ])?;
    }
    for (currency, total) in &statement.total_by_currency {
        writer.write_record([
            statement.period.clone(),
            status.to_owned(),
            String::new(),
            "total".to_owned(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            total.to_string(),
            currency.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ])?;
    }
    writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))
}
