//! Pages: one row per `(source, external_id)`, whatever the number of deliveries.
//!
//! Each delivery is kept (`page_deliveries`), and the page row is the fold of all of
//! them (`PageState::fold`), recomputed inside the same write transaction that stores
//! the delivery. A page the bulk importer made keeps its first delivery on its own row
//! instead (`pages.first_delivery`, below) until a second delivery or a mapping refolds it. Two deliveries of one page racing each other serialise on the unique
//! key: on PostgreSQL the loser's `INSERT … ON CONFLICT DO NOTHING` waits for the
//! winner's commit and then locks the row (`FOR UPDATE`); on SQLite the whole
//! transaction holds the write lock.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{page_deliveries, pages, services};
use super::{AnyConnection, StorageError, write_transaction};
use crate::domain::page::{Lane, PageState, PageStatus};
use crate::domain::timestamp::{from_naive, to_naive};

/// A page as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub id: String,
    pub source: String,
    pub external_id: String,
    /// The service as the source named it.
    pub service: String,
    /// The team owning the service; `null` when the service is unknown or has no owner.
    pub owning_team: Option<String>,
    /// `false` for pages of unknown or un-owned services: kept, and reported as such.
    pub owned: bool,
    pub title: Option<String>,
    pub alert_key: Option<String>,
    pub lane: Lane,
    #[schema(value_type = String, example = "resolved")]
    pub status: PageStatus,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub triggered_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// How many deliveries (including repeats) made this page.
    pub delivery_count: i32,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// The columns `Page` is read from (`first_delivery` is the storage's own).
#[derive(Queryable, Selectable)]
#[diesel(table_name = pages)]
struct PageColumns {
    id: String,
    source: String,
    external_id: String,
    service_key: String,
    title: Option<String>,
    alert_key: Option<String>,
    lane: String,
    triggered_at: NaiveDateTime,
    acknowledged_at: Option<NaiveDateTime>,
    acknowledged_by: Option<String>,
    resolved_at: Option<NaiveDateTime>,
    described_at: NaiveDateTime,
    delivery_count: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl PageColumns {
    /// What the page's columns say, as one delivery would.
    fn state(&self) -> PageState {
        PageState {
            described_at: from_naive(self.described_at),
            service_key: self.service_key.clone(),
            title: self.title.clone(),
            alert_key: self.alert_key.clone(),
            lane: Some(Lane::parse(&self.lane).unwrap_or(Lane::Wake)),
            triggered_at: from_naive(self.triggered_at),
            acknowledged_at: self.acknowledged_at.map(from_naive),
            acknowledged_by: self.acknowledged_by.clone(),
            resolved_at: self.resolved_at.map(from_naive),
        }
    }
}

fn page_from(row: PageColumns, owning_team: Option<String>) -> Page {
    let state = PageState {
        described_at: from_naive(row.described_at),
        service_key: row.service_key.clone(),
        title: None,
        alert_key: None,
        lane: None,
        triggered_at: from_naive(row.triggered_at),
        acknowledged_at: row.acknowledged_at.map(from_naive),
        acknowledged_by: None,
        resolved_at: row.resolved_at.map(from_naive),
    };
    Page {
        owned: owning_team.is_some(),
        owning_team,
        id: row.id,
        source: row.source,
        external_id: row.external_id,
        service: row.service_key,
        title: row.title,
        alert_key: row.alert_key,
        lane: Lane::parse(&row.lane).unwrap_or(Lane::Wake),
        status: state.status(),
        triggered_at: state.triggered_at,
        acknowledged_at: state.acknowledged_at,
        acknowledged_by: row.acknowledged_by,
        resolved_at: state.resolved_at,
        delivery_count: row.delivery_count,
        created_at: from_naive(row.created_at),
        updated_at: from_naive(row.updated_at),
    }
}

/// Whether a delivery made a new page or folded into a known one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created,
    Existing,
}

/// Records one delivery of a page and returns the page as all deliveries so far make it.
pub fn record_delivery(
    conn: &mut AnyConnection,
    source: &str,
    external_id: &str,
    delivery: &PageState,
    stamp: &super::Stamp,
) -> Result<(Page, Recorded), StorageError> {
    let payload = serde_json::to_string(delivery).map_err(|error| StorageError::Unavailable(error.to_string()))?;
    write_transaction(conn, |conn| {
        // The page row holds paydown's identities; the delivery keeps the tool's.
        let delivery = &super::mappings::Mappings::for_states(conn, [delivery])?.apply(delivery);
        let new_id = uuid::Uuid::now_v7().to_string();
        let now = to_naive(stamp.at);
        let lane = delivery.lane.unwrap_or(Lane::Wake).as_str();
        let values = (
            pages::id.eq(&new_id),
            pages::source.eq(source),
            pages::external_id.eq(external_id),
            pages::service_key.eq(&delivery.service_key),
            pages::title.eq(&delivery.title),
            pages::alert_key.eq(&delivery.alert_key),
            pages::lane.eq(lane),
            pages::triggered_at.eq(to_naive(delivery.triggered_at)),
            pages::acknowledged_at.eq(delivery.acknowledged_at.map(to_naive)),
            pages::acknowledged_by.eq(&delivery.acknowledged_by),
            pages::resolved_at.eq(delivery.resolved_at.map(to_naive)),
            pages::described_at.eq(to_naive(delivery.described_at)),
            pages::delivery_count.eq(1),
            pages::created_at.eq(now),
            pages::updated_at.eq(now),
        );
        let inserted = crate::with_backend!(conn, |c| diesel::insert_into(pages::table)
            .values(values)
            .on_conflict((pages::source, pages::external_id))
            .do_nothing()
            .execute(c))?;
        let (page_id, recorded) = if inserted == 1 {
            (new_id, Recorded::Created)
        } else {
            (lock_page_id(conn, source, external_id)?, Recorded::Existing)
        };
        store_delivery(conn, &page_id, now, &payload)?;
        if recorded == Recorded::Existing {
            refold(conn, &page_id, now)?;
        }
        let action = if recorded == Recorded::Created { "create" } else { "deliver" };
        super::audit::record(conn, stamp, action, "page", &page_id, Some(format!("{source}/{external_id}")))?;
        Ok((get(conn, &page_id)?, recorded))
    })
}

/// Keeps one delivery of a known page, as received.
pub(crate) fn store_delivery(
    conn: &mut AnyConnection,
    page_id: &str,
    received_at: NaiveDateTime,
    payload: &str,
) -> Result<(), StorageError> {
    diesel::insert_into(page_deliveries::table)
        .values((
            page_deliveries::id.eq(uuid::Uuid::now_v7().to_string()),
            page_deliveries::page_id.eq(page_id),
            page_deliveries::received_at.eq(received_at),
            page_deliveries::payload.eq(payload),
        ))
        .execute(conn)?;
    Ok(())
}

/// Finds the id of a page known to exist, locking its row on PostgreSQL.
fn lock_page_id(conn: &mut AnyConnection, source: &str, external_id: &str) -> Result<String, StorageError> {
    let by_key = pages::table.filter(pages::source.eq(source)).filter(pages::external_id.eq(external_id));
    let id = match conn {
        AnyConnection::Postgresql(c) => by_key.select(pages::id).for_update().first::<String>(c)?,
        AnyConnection::Sqlite(c) => by_key.select(pages::id).first::<String>(c)?,
    };
    Ok(id)
}

/// `pages.first_delivery` when the page's one delivery is exactly what its own columns
/// say: the importer then stores no payload at all. `NULL` means every delivery of the
/// page is a `page_deliveries` row; any other text is the first delivery's payload.
pub(crate) const FIRST_DELIVERY_IS_THE_PAGE: &str = "";

/// A first delivery kept on its page: the page's id, the payload, and when it was received
/// (when the page was made).
pub(crate) struct KeptDelivery {
    pub page_id: String,
    pub payload: String,
    pub received_at: NaiveDateTime,
}

/// The first deliveries these pages keep on their own rows, with their payloads.
pub(crate) fn first_deliveries_kept_on_pages(
    conn: &mut AnyConnection,
    page_ids: &[&str],
) -> Result<Vec<KeptDelivery>, StorageError> {
    let rows: Vec<(PageColumns, String)> = pages::table
        .filter(pages::id.eq_any(page_ids))
        .filter(pages::first_delivery.is_not_null())
        .select((PageColumns::as_select(), pages::first_delivery.assume_not_null()))
        .load(conn)?;
    rows.into_iter()
        .map(|(row, kept)| {
            let payload = if kept == FIRST_DELIVERY_IS_THE_PAGE {
                serde_json::to_string(&row.state()).map_err(|error| StorageError::Unavailable(error.to_string()))?
            } else {
                kept
            };
            Ok(KeptDelivery { page_id: row.id, payload, received_at: row.created_at })
        })
        .collect()
}

/// Moves a first delivery kept on the page into `page_deliveries`, received when the page
/// was made, before anything rewrites the columns it may be read from. The clearing
/// update goes first and only the transaction whose update cleared it stores the row: on
/// PostgreSQL two refolds of one page (a mapping and a delivery) may both have read it,
/// and the second one's update waits for the first and then finds nothing to clear.
fn move_first_delivery_to_deliveries(conn: &mut AnyConnection, page_id: &str) -> Result<(), StorageError> {
    for kept in first_deliveries_kept_on_pages(conn, &[page_id])? {
        let cleared = diesel::update(pages::table.find(&kept.page_id).filter(pages::first_delivery.is_not_null()))
            .set(pages::first_delivery.eq(None::<String>))
            .execute(conn)?;
        if cleared == 1 {
            store_delivery(conn, &kept.page_id, kept.received_at, &kept.payload)?;
        }
    }
    Ok(())
}

/// Recomputes a page's row from all its deliveries.
pub(crate) fn refold(conn: &mut AnyConnection, page_id: &str, now: NaiveDateTime) -> Result<(), StorageError> {
    move_first_delivery_to_deliveries(conn, page_id)?;
    let payloads: Vec<String> = page_deliveries::table
        .filter(page_deliveries::page_id.eq(page_id))
        .select(page_deliveries::payload)
        .load(conn)?;
    let deliveries = payloads
        .iter()
        .map(|payload| serde_json::from_str::<PageState>(payload))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| StorageError::Unavailable(format!("page `{page_id}` has an unreadable delivery: {error}")))?;
    let mappings = super::mappings::Mappings::for_states(conn, &deliveries)?;
    let deliveries: Vec<PageState> = deliveries.iter().map(|delivery| mappings.apply(delivery)).collect();
    let Some(state) = PageState::fold(&deliveries) else {
        return Ok(());
    };
    let delivery_count = i32::try_from(deliveries.len()).unwrap_or(i32::MAX);
    diesel::update(pages::table.find(page_id))
        .set((
            pages::service_key.eq(&state.service_key),
            pages::title.eq(&state.title),
            pages::alert_key.eq(&state.alert_key),
            pages::lane.eq(state.lane.unwrap_or(Lane::Wake).as_str()),
            pages::triggered_at.eq(to_naive(state.triggered_at)),
            pages::acknowledged_at.eq(state.acknowledged_at.map(to_naive)),
            pages::acknowledged_by.eq(&state.acknowledged_by),
            pages::resolved_at.eq(state.resolved_at.map(to_naive)),
            pages::described_at.eq(to_naive(state.described_at)),
            pages::delivery_count.eq(delivery_count),
            pages::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

type PageWithTeam = (PageColumns, Option<String>);

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Page, StorageError> {
    find(conn, id)?.ok_or_else(|| StorageError::NotFound { entity: "page", id: id.to_owned() })
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<Page>, StorageError> {
    let row = pages::table
        .left_join(services::table.on(services::id.eq(pages::service_key)))
        .filter(pages::id.eq(id))
        .select((PageColumns::as_select(), services::team_id.nullable()))
        .first::<PageWithTeam>(conn)
        .optional()?;
    Ok(row.map(|(row, team)| page_from(row, team)))
}

/// Filters for listing pages; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct PageFilter {
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub service: Option<String>,
    pub alert_key: Option<String>,
    pub acknowledged_by: Option<String>,
    pub triggered_from: Option<DateTime<Utc>>,
    pub triggered_to: Option<DateTime<Utc>>,
    pub unowned_only: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Pages matching the filter, newest trigger first.
pub fn list(conn: &mut AnyConnection, filter: &PageFilter) -> Result<Vec<Page>, StorageError> {
    let mut query = pages::table
        .left_join(services::table.on(services::id.eq(pages::service_key)))
        .select((PageColumns::as_select(), services::team_id.nullable()))
        .into_boxed();
    if let Some(source) = &filter.source {
        query = query.filter(pages::source.eq(source));
    }
    if let Some(external_id) = &filter.external_id {
        query = query.filter(pages::external_id.eq(external_id));
    }
    if let Some(service) = &filter.service {
        query = query.filter(pages::service_key.eq(service));
    }
    if let Some(alert_key) = &filter.alert_key {
        query = query.filter(pages::alert_key.eq(alert_key));
    }
    if let Some(person) = &filter.acknowledged_by {
        query = query.filter(pages::acknowledged_by.eq(person));
    }
    if let Some(from) = filter.triggered_from {
        query = query.filter(pages::triggered_at.ge(to_naive(from)));
    }
    if let Some(to) = filter.triggered_to {
        query = query.filter(pages::triggered_at.lt(to_naive(to)));
    }
    if filter.unowned_only {
        query = query.filter(services::team_id.is_null());
    }
    let rows = query
        .order((pages::triggered_at.desc(), pages::id.desc()))
        .limit(filter.limit)
        .offset(filter.offset)
        .load::<PageWithTeam>(conn)?;
    Ok(rows.into_iter().map(|(row, team)| page_from(row, team)).collect())
}

/// Why a page is one of a person's (their own page lists it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Called {
    /// They acknowledged it.
    Acknowledged,
    /// They logged a response on it.
    Responded,
    /// They were on call for its team (or it was un-owned) when it triggered.
    OnCall,
}

/// Shifts of a person read per call, the most a year of weekly rotations needs.
const OWN_SHIFTS_MAX: i64 = 400;

/// The pages a person was called for or worked on, triggered at or after `since`, newest
/// first, at most `limit`: those they acknowledged, those they responded to, and those of
/// their team (or no team) triggered while they were on call, as `responses::record`
/// decides who was called.
pub fn called_for(
    conn: &mut AnyConnection,
    person: &str,
    team: Option<&str>,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Page, Called)>, StorageError> {
    let mut found: std::collections::BTreeMap<String, (Page, Called)> = std::collections::BTreeMap::new();
    let acknowledged = list(
        conn,
        &PageFilter {
            acknowledged_by: Some(person.to_owned()),
            triggered_from: Some(since),
            limit,
            ..Default::default()
        },
    )?;
    for page in acknowledged {
        found.insert(page.id.clone(), (page, Called::Acknowledged));
    }
    let responded: Vec<String> = super::schema::responses::table
        .filter(super::schema::responses::person_id.eq(person))
        .filter(super::schema::responses::started_at.ge(to_naive(since)))
        .select(super::schema::responses::page_id)
        .distinct()
        .limit(limit)
        .load(conn)?;
    for id in responded {
        if !found.contains_key(&id)
            && let Some(page) = find(conn, &id)?
        {
            found.insert(id, (page, Called::Responded));
        }
    }
    for shift in super::shifts::list(conn, Some(person), Some(since), None, OWN_SHIFTS_MAX)? {
        let during = list(
            conn,
            &PageFilter {
                triggered_from: Some(shift.start.max(since)),
                triggered_to: Some(shift.end),
                limit,
                ..Default::default()
            },
        )?;
        for page in during {
            let theirs = page.owning_team.is_none() || page.owning_team.as_deref() == team;
            if theirs && !found.contains_key(&page.id) {
                found.insert(page.id.clone(), (page, Called::OnCall));
            }
        }
    }
    let mut pages: Vec<(Page, Called)> = found.into_values().collect();
    pages.sort_by(|a, b| b.0.triggered_at.cmp(&a.0.triggered_at).then_with(|| b.0.id.cmp(&a.0.id)));
    pages.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(pages)
}
