//! The record of every payroll export of a period (issue #18, item 5): which ledger entries it
//! held, so that "what was posted to the period since its last export" is exact. The ids are
//! kept, not a watermark: entries are posted by several writers whose clocks and commit order
//! need not agree, so "posted after the export's newest entry" could miss one.
//!
//! Used by the changes file (`paydown export changes`, `GET /v1/reports/changes`) and by the
//! pay run's review ("what changed since the period's last export").

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::schema::{payroll_export_entries, payroll_exports};
use super::{AnyConnection, Stamp, StorageError};
use crate::domain::timestamp::{from_naive, to_naive};

/// Ids inserted per statement (SQLite allows 32,766 bound values; two per row).
const IDS_PER_INSERT: usize = 5_000;

/// One payroll export of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExportRecord {
    pub id: String,
    pub period: String,
    /// The layout exported (`long`, `wide`, a finance layout…).
    pub layout: String,
    /// `csv`, `xlsx` or `json`.
    pub format: String,
    /// How many ledger entries the file held.
    pub entry_count: i64,
    /// SHA-256 (hex) of the entries' ids, sorted and joined by `\n`: two exports with the same
    /// hash held exactly the same entries.
    pub entries_sha256: String,
    pub exported_by: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: DateTime<Utc>,
}

impl ExportRecord {
    /// What the changes file says about the export it counts from.
    pub fn since(&self) -> crate::reports::changes::SinceExport {
        crate::reports::changes::SinceExport {
            exported_at: self.exported_at,
            layout: self.layout.clone(),
            entries_sha256: self.entries_sha256.clone(),
        }
    }
}

/// The SHA-256 of a set of entry ids, as recorded in `ExportRecord::entries_sha256`.
pub fn entries_hash(ids: &[String]) -> String {
    let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    hex::encode(Sha256::digest(sorted.join("\n").as_bytes()))
}

type ExportRow = (String, String, String, String, i64, String, String, NaiveDateTime);

fn from_row(
    (id, period, layout, format, entry_count, entries_sha256, exported_by, exported_at): ExportRow,
) -> ExportRecord {
    ExportRecord {
        id,
        period,
        layout,
        format,
        entry_count,
        entries_sha256,
        exported_by,
        exported_at: from_naive(exported_at),
    }
}

/// Records that a payroll export of `period` held exactly `entry_ids`; audited.
pub fn record_export(
    conn: &mut AnyConnection,
    period: &str,
    layout: &str,
    format: &str,
    entry_ids: &[String],
    stamp: &Stamp,
) -> Result<ExportRecord, StorageError> {
    let mut unique: Vec<&String> = entry_ids.iter().collect::<HashSet<_>>().into_iter().collect();
    unique.sort_unstable();
    let record = ExportRecord {
        id: uuid::Uuid::now_v7().to_string(),
        period: period.to_owned(),
        layout: layout.to_owned(),
        format: format.to_owned(),
        entry_count: i64::try_from(unique.len()).unwrap_or(i64::MAX),
        entries_sha256: entries_hash(entry_ids),
        exported_by: stamp.actor.clone(),
        exported_at: stamp.at,
    };
    super::write_transaction(conn, |conn| {
        diesel::insert_into(payroll_exports::table)
            .values((
                payroll_exports::id.eq(&record.id),
                payroll_exports::period_id.eq(&record.period),
                payroll_exports::layout.eq(&record.layout),
                payroll_exports::format.eq(&record.format),
                payroll_exports::entry_count.eq(record.entry_count),
                payroll_exports::entries_sha256.eq(&record.entries_sha256),
                payroll_exports::exported_by.eq(&record.exported_by),
                payroll_exports::exported_at.eq(to_naive(record.exported_at)),
            ))
            .execute(conn)?;
        for chunk in unique.chunks(IDS_PER_INSERT) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|entry| {
                    (payroll_export_entries::export_id.eq(&record.id), payroll_export_entries::entry_id.eq(*entry))
                })
                .collect();
            // A multi-row insert is written per backend: diesel's `MultiConnection` has no batch insert.
            crate::with_backend!(conn, |c| diesel::insert_into(payroll_export_entries::table)
                .values(&rows)
                .execute(c))?;
        }
        super::audit::record(
            conn,
            stamp,
            "export",
            "pay_period",
            period,
            Some(format!(
                "{} {} entries {} ({})",
                record.layout, record.format, record.entry_count, record.entries_sha256
            )),
        )?;
        Ok::<_, StorageError>(())
    })?;
    Ok(record)
}

/// The latest payroll export of a period, if it was ever exported.
pub fn last_export(conn: &mut AnyConnection, period: &str) -> Result<Option<ExportRecord>, StorageError> {
    let row: Option<ExportRow> = payroll_exports::table
        .filter(payroll_exports::period_id.eq(period))
        .order((payroll_exports::exported_at.desc(), payroll_exports::id.desc()))
        .first(conn)
        .optional()?;
    Ok(row.map(from_row))
}

/// Every payroll export of a period, oldest first.
pub fn list_exports(conn: &mut AnyConnection, period: &str) -> Result<Vec<ExportRecord>, StorageError> {
    let rows: Vec<ExportRow> = payroll_exports::table
        .filter(payroll_exports::period_id.eq(period))
        .order((payroll_exports::exported_at.asc(), payroll_exports::id.asc()))
        .load(conn)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The ids of the entries an export held.
pub fn exported_entry_ids(conn: &mut AnyConnection, export_id: &str) -> Result<HashSet<String>, StorageError> {
    let ids: Vec<String> = payroll_export_entries::table
        .filter(payroll_export_entries::export_id.eq(export_id))
        .select(payroll_export_entries::entry_id)
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

/// The period's entries posted since its last export (every entry when it was never exported),
/// in posting order, with that export. The ledger is append-only, so an entry of the period
/// the export did not hold was posted after it (or while it was being written).
pub fn entries_since_last_export(
    conn: &mut AnyConnection,
    period: &str,
) -> Result<(Option<ExportRecord>, Vec<super::ledger::Entry>), StorageError> {
    super::ledger::get_period(conn, period)?;
    let last = last_export(conn, period)?;
    let exported = match &last {
        Some(record) => exported_entry_ids(conn, &record.id)?,
        None => HashSet::new(),
    };
    let filter = super::ledger::EntryFilter { period: Some(period.to_owned()), limit: i64::MAX, ..Default::default() };
    let entries =
        super::ledger::list_entries(conn, &filter)?.into_iter().filter(|entry| !exported.contains(&entry.id)).collect();
    Ok((last, entries))
}
