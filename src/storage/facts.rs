//! Reading the facts one person's pay depends on, as the pay engine's plain types.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{pages, responses, shifts};
use super::{AnyConnection, StorageError};
use crate::domain::pay::{Facts, PageFact, ResponseFact, ShiftFact};
use crate::domain::timestamp::{from_naive, to_naive};

/// Most ids bound in one `IN (…)` list (SQLite's default limit is 32,766 parameters).
const IN_LIST_IDS_MAX: usize = 500;

type PageFactRow = (String, NaiveDateTime, Option<NaiveDateTime>, Option<NaiveDateTime>, Option<String>);
type ResponseFactRow = (String, String, String, NaiveDateTime, NaiveDateTime, bool);
type ShiftFactRow = (String, String, String, NaiveDateTime, NaiveDateTime);

/// Pages the person acknowledged or responded to, triggered in `[from - lookback, to)`,
/// every response logged on them (by anyone: the engine needs to know whether anyone
/// logged one), and the person's shifts overlapping `[from - 1 day, to + 1 day)` (a
/// per-night standby night reaches into the next day).
pub fn for_person(
    conn: &mut AnyConnection,
    person: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    lookback: Duration,
) -> Result<Facts, StorageError> {
    // Two indexed reads, not one `acknowledged_by = ? OR id IN (…)`, which SQLite answers
    // by scanning every page of the range for every person: the pages the person
    // acknowledged, and the pages of their paid responses (a pending or rejected claim is
    // not paid, issue #16).
    let (low, high) = (to_naive(from - lookback), to_naive(to));
    let mut page_rows: Vec<PageFactRow> = pages::table
        .filter(pages::acknowledged_by.eq(person))
        .filter(pages::triggered_at.ge(low))
        .filter(pages::triggered_at.lt(high))
        .select((pages::id, pages::triggered_at, pages::acknowledged_at, pages::resolved_at, pages::acknowledged_by))
        .load(conn)?;
    let responded: Vec<String> = responses::table
        .filter(responses::person_id.eq(person))
        .filter(responses::paid.eq(true))
        .select(responses::page_id)
        .distinct()
        .load(conn)?;
    let acknowledged: std::collections::BTreeSet<String> = page_rows.iter().map(|row| row.0.clone()).collect();
    let others: Vec<&String> = responded.iter().filter(|id| !acknowledged.contains(*id)).collect();
    for chunk in others.chunks(IN_LIST_IDS_MAX) {
        page_rows.extend(
            pages::table
                .filter(pages::id.eq_any(chunk.iter().map(|id| id.as_str())))
                .filter(pages::triggered_at.ge(low))
                .filter(pages::triggered_at.lt(high))
                .select((
                    pages::id,
                    pages::triggered_at,
                    pages::acknowledged_at,
                    pages::resolved_at,
                    pages::acknowledged_by,
                ))
                .load::<PageFactRow>(conn)?,
        );
    }
    page_rows.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let page_facts: Vec<PageFact> = page_rows
        .into_iter()
        .map(|(id, triggered_at, acknowledged_at, resolved_at, acknowledged_by)| PageFact {
            id,
            triggered_at: from_naive(triggered_at),
            acknowledged_at: acknowledged_at.map(from_naive),
            resolved_at: resolved_at.map(from_naive),
            acknowledged_by,
        })
        .collect();
    let mut response_facts = Vec::new();
    let page_ids: Vec<&str> = page_facts.iter().map(|page| page.id.as_str()).collect();
    for chunk in page_ids.chunks(IN_LIST_IDS_MAX) {
        let rows: Vec<ResponseFactRow> = responses::table
            .filter(responses::page_id.eq_any(chunk))
            .filter(responses::paid.eq(true))
            .select((
                responses::id,
                responses::page_id,
                responses::person_id,
                responses::started_at,
                responses::ended_at,
                responses::actionable,
            ))
            .load(conn)?;
        response_facts.extend(rows.into_iter().map(|(id, page_id, person_id, started_at, ended_at, actionable)| {
            ResponseFact {
                id,
                page_id,
                person_id,
                started_at: from_naive(started_at),
                ended_at: from_naive(ended_at),
                actionable,
            }
        }));
    }
    response_facts.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    let shift_rows: Vec<ShiftFactRow> = shifts::table
        .filter(shifts::person_id.eq(person))
        .filter(shifts::end_at.gt(to_naive(from - Duration::days(1))))
        .filter(shifts::start_at.lt(to_naive(to + Duration::days(1))))
        .select((shifts::id, shifts::person_id, shifts::role, shifts::start_at, shifts::end_at))
        .order((shifts::start_at, shifts::id))
        .load(conn)?;
    let shift_facts = shift_rows
        .into_iter()
        .map(|(id, person_id, role, start, end)| ShiftFact {
            id,
            person_id,
            role,
            start: from_naive(start),
            end: from_naive(end),
        })
        .collect();
    Ok(Facts { pages: page_facts, responses: response_facts, shifts: shift_facts })
}
