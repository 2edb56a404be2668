//! `/v1/ledger` and `/v1/periods`: accrual, entries, verification, periods (the pay run
//! steps, closing included, are `http::periods`).

use actix_web::{HttpResponse, get, post, web};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::{AppState, LIST_LIMIT_MAX, query_limit, with_conn};
use crate::accrual::{self, AccrualReport, LedgerError, VerifyReport};
use crate::storage::StorageError;
use crate::storage::ledger::{self as store, Entry, EntryFilter, Period};

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> ApiError {
        match error {
            LedgerError::Storage(error) => error.into(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LedgerQuery {
    pub person: Option<String>,
    pub period: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A period with the totals of what is posted in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodSummary {
    #[serde(flatten)]
    pub period: Period,
    pub entries: usize,
    /// Per currency, the sum of the entries posted in the period.
    #[schema(value_type = Object)]
    pub totals: std::collections::BTreeMap<String, Decimal>,
}

/// Posts what the ledger lacks, for every person, up to now.
#[utoipa::path(post, path = "/v1/ledger/accrue", tag = "ledger", responses((status = 200, body = AccrualReport)))]
#[post("/ledger/accrue")]
pub async fn accrue(state: web::Data<AppState>, actor: super::access::Actor) -> Result<HttpResponse, ApiError> {
    let stamp = actor.stamp();
    let report = with_conn(&state, move |conn| accrual::accrue(conn, &stamp.actor, stamp.at)).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Entries with their links (fact, policy version, reversed entry, original period).
#[utoipa::path(get, path = "/v1/ledger", tag = "ledger", params(LedgerQuery), responses(
    (status = 200, body = Vec<Entry>), (status = 400, body = ErrorBody)))]
#[get("/ledger")]
pub async fn list_entries(
    state: web::Data<AppState>,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset", "must not be negative"));
    }
    let filter = EntryFilter {
        person: query.person,
        period: query.period,
        limit: query_limit(query.limit.or(Some(LIST_LIMIT_MAX)))?,
        offset,
    };
    let found = with_conn(&state, move |conn| store::list_entries(conn, &filter)).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Recomputes every period from the facts and compares with the ledger.
#[utoipa::path(get, path = "/v1/ledger/verify", tag = "ledger", responses((status = 200, body = VerifyReport)))]
#[get("/ledger/verify")]
pub async fn verify(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let report = with_conn(&state, accrual::verify).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[utoipa::path(get, path = "/v1/periods", tag = "ledger", responses((status = 200, body = Vec<Period>)))]
#[get("/periods")]
pub async fn list_periods(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let found = with_conn(&state, store::list_periods).await?;
    Ok(HttpResponse::Ok().json(found))
}

#[utoipa::path(get, path = "/v1/periods/{id}", tag = "ledger", responses((status = 200, body = PeriodSummary), (status = 404, body = ErrorBody)))]
#[get("/periods/{id}")]
pub async fn read_period(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let summary = with_conn(&state, move |conn| -> Result<_, StorageError> {
        let period = store::get_period(conn, &id)?;
        let entries =
            store::list_entries(conn, &EntryFilter { period: Some(id), limit: i64::MAX, ..EntryFilter::default() })?;
        let mut totals = std::collections::BTreeMap::new();
        for entry in &entries {
            *totals.entry(entry.currency.clone()).or_insert(Decimal::ZERO) += entry.amount;
        }
        Ok(PeriodSummary { period, entries: entries.len(), totals })
    })
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// `page`, `response`, `shift`, `person`, `team`, `service`, `pay_policy`, `pay_period`, `accrual_run`, `ledger`.
    pub entity: Option<String>,
    /// The entity's id.
    pub id: Option<String>,
    pub limit: Option<i64>,
}

/// Who changed what, and when: every change to a fact, every accrual run, every close.
#[utoipa::path(get, path = "/v1/audit", tag = "ledger", params(AuditQuery), responses(
    (status = 200, body = Vec<crate::storage::audit::AuditRecord>), (status = 400, body = ErrorBody)))]
#[get("/audit")]
pub async fn audit(state: web::Data<AppState>, query: web::Query<AuditQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query_limit(query.limit.or(Some(LIST_LIMIT_MAX)))?;
    let found = with_conn(&state, move |conn| {
        crate::storage::audit::list(conn, query.entity.as_deref(), query.id.as_deref(), limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(found))
}
