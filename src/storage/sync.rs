//! What `paydown sync <tool>` keeps besides pages and shifts: where each run got to
//! (`sync_cursors`), and the check that makes a re-sync of an unchanged record store nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::pages::{self, Page, Recorded};
use super::schema::{page_deliveries, pages as pages_table, shifts, sync_cursors};
use super::shifts::NewShift;
use super::{AnyConnection, Stamp, StorageError, write_transaction};
use crate::domain::page::PageState;
use crate::domain::timestamp::{from_naive, to_naive};

/// Where a sync of `source`'s `resource` got to, if it ever ran.
pub fn cursor(conn: &mut AnyConnection, source: &str, resource: &str) -> Result<Option<String>, StorageError> {
    Ok(sync_cursors::table
        .filter(sync_cursors::source.eq(source))
        .filter(sync_cursors::resource.eq(resource))
        .select(sync_cursors::position)
        .first::<String>(conn)
        .optional()?)
}

/// Remembers where a sync got to (replacing what was there).
pub fn set_cursor(
    conn: &mut AnyConnection,
    source: &str,
    resource: &str,
    position: &str,
    at: DateTime<Utc>,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        let updated = diesel::update(
            sync_cursors::table.filter(sync_cursors::source.eq(source)).filter(sync_cursors::resource.eq(resource)),
        )
        .set((sync_cursors::position.eq(position), sync_cursors::updated_at.eq(to_naive(at))))
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(sync_cursors::table)
                .values((
                    sync_cursors::source.eq(source),
                    sync_cursors::resource.eq(resource),
                    sync_cursors::position.eq(position),
                    sync_cursors::updated_at.eq(to_naive(at)),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// What recording a synced record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    Created,
    Updated,
    /// The same record was already kept: nothing written.
    Unchanged,
}

/// Records a page delivery read from a tool's API through the same path as a webhook
/// delivery (`pages::record_delivery`), so both fold into one page; a delivery equal to
/// one the page already keeps is not stored again.
pub fn record_page(
    conn: &mut AnyConnection,
    source: &str,
    external_id: &str,
    delivery: &PageState,
    stamp: &Stamp,
) -> Result<(Synced, Option<Page>), StorageError> {
    let known: Option<(String, Option<String>)> = pages_table::table
        .filter(pages_table::source.eq(source))
        .filter(pages_table::external_id.eq(external_id))
        .select((pages_table::id, pages_table::first_delivery))
        .first(conn)
        .optional()?;
    if let Some((page_id, _)) = &known {
        let kept: Vec<String> = pages::first_deliveries_kept_on_pages(conn, &[page_id.as_str()])?
            .into_iter()
            .map(|kept| kept.payload)
            .chain(
                page_deliveries::table
                    .filter(page_deliveries::page_id.eq(page_id))
                    .select(page_deliveries::payload)
                    .load::<String>(conn)?,
            )
            .collect();
        let already =
            kept.iter().any(|payload| serde_json::from_str::<PageState>(payload).ok().as_ref() == Some(delivery));
        if already {
            return Ok((Synced::Unchanged, None));
        }
    }
    let (page, recorded) = pages::record_delivery(conn, source, external_id, delivery, stamp)?;
    let synced = if recorded == Recorded::Created { Synced::Created } else { Synced::Updated };
    Ok((synced, Some(page)))
}

/// Records one synced shift, idempotent by `(source, external_id)`.
pub fn record_shift(conn: &mut AnyConnection, shift: &NewShift, stamp: &Stamp) -> Result<Synced, StorageError> {
    let stored: Option<(String, Option<String>, chrono::NaiveDateTime, chrono::NaiveDateTime)> = shifts::table
        .filter(shifts::source.eq(&shift.source))
        .filter(shifts::external_id.eq(&shift.external_id))
        .select((shifts::person_id, shifts::schedule, shifts::start_at, shifts::end_at))
        .first(conn)
        .optional()?;
    let existed = stored.is_some();
    if let Some((person, schedule, start, end)) = stored
        && person == shift.person
        && schedule == shift.schedule
        && from_naive(start) == shift.start
        && from_naive(end) == shift.end
    {
        return Ok(Synced::Unchanged);
    }
    super::shifts::record_all(conn, std::slice::from_ref(shift), stamp, None)?;
    Ok(if existed { Synced::Updated } else { Synced::Created })
}

/// Deletes the synced shifts of one schedule (`external_id` starting with `prefix`) that
/// overlap `[since, until)` but are not in `kept`: entries the tool no longer renders
/// (an override replaced or shortened them), which would otherwise be paid twice. The
/// ledger reverses what was posted for them at the next accrual. Returns how many went.
pub fn retire_shifts(
    conn: &mut AnyConnection,
    source: &str,
    prefix: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    kept: &std::collections::BTreeSet<String>,
    stamp: &Stamp,
) -> Result<u64, StorageError> {
    write_transaction(conn, |conn| {
        let stored: Vec<(String, String)> = shifts::table
            .filter(shifts::source.eq(source))
            .filter(shifts::start_at.lt(to_naive(until)))
            .filter(shifts::end_at.gt(to_naive(since)))
            .select((shifts::id, shifts::external_id))
            .load(conn)?;
        let mut retired = 0;
        for (id, external_id) in stored {
            if !external_id.starts_with(prefix) || kept.contains(&external_id) {
                continue;
            }
            diesel::delete(shifts::table.find(&id)).execute(conn)?;
            super::audit::record(
                conn,
                stamp,
                "delete",
                "shift",
                &id,
                Some(format!("{source}/{external_id}: no longer rendered")),
            )?;
            retired += 1;
        }
        Ok(retired)
    })
}

/// The external ids of `source`'s pages triggered before `before` and not resolved yet, at
/// most `limit`, oldest first: what a sync that lists only recent records asks about one by
/// one, so their acknowledgement or resolve is not missed.
pub fn open_pages(
    conn: &mut AnyConnection,
    source: &str,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, StorageError> {
    Ok(pages_table::table
        .filter(pages_table::source.eq(source))
        .filter(pages_table::resolved_at.is_null())
        .filter(pages_table::triggered_at.lt(to_naive(before)))
        .order(pages_table::triggered_at.asc())
        .limit(limit)
        .select(pages_table::external_id)
        .load(conn)?)
}
