//! `/v1/reports`: payroll exports and accruals by cost centre (finance).
//! `Accept` chooses CSV (the default), XLSX or JSON; `?format=` overrides it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::{AppState, with_conn};
use crate::reports::export::{self, Format};
use crate::storage::report_input;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PayrollQuery {
    /// The pay period, e.g. `2026-10`.
    pub period: String,
    /// A layout under `reports/payroll/` or a built-in one (`long`, `wide`, `adp_like`, `eu_semicolon`).
    pub layout: Option<String>,
    /// `csv`, `xlsx` or `json`; overrides `Accept`.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AccrualsQuery {
    pub period: String,
    /// `csv` or `json`; overrides `Accept`.
    pub format: Option<String>,
}

fn format_of(request: &HttpRequest, explicit: Option<&str>) -> Result<Format, ApiError> {
    match explicit {
        Some(text) => Format::parse(text).ok_or_else(|| ApiError::invalid("format", "expected csv, xlsx or json")),
        None => Ok(Format::from_accept(
            request.headers().get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or(""),
        )),
    }
}

fn file_response(format: Format, name: &str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .body(bytes)
}

/// The payroll export of a period in a layout. An open period's file is marked
/// PROVISIONAL (file name and a status column); a closed period's is reproducible byte
/// for byte.
#[utoipa::path(get, path = "/v1/reports/payroll", tag = "reports", params(PayrollQuery), responses(
    (status = 200, description = "The file (CSV, XLSX or JSON)"),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/reports/payroll")]
pub async fn payroll(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<PayrollQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let format = format_of(&request, query.format.as_deref())?;
    let layout = query.layout.unwrap_or_else(|| "long".to_owned());
    export::layout(&layout).map_err(|message| ApiError::invalid("layout", message))?;
    let period = query.period;
    let input = with_conn(&state, move |conn| report_input::payroll_input(conn, &period)).await?;
    let (name, bytes) = export::payroll_file(&layout, format, &input)
        .map_err(|message| ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "unexportable", message))?;
    Ok(file_response(format, &name, bytes))
}

/// What finance books: per cost centre, component and currency, with a control total
/// per currency that equals the sum of the period's ledger entries.
#[utoipa::path(get, path = "/v1/reports/accruals", tag = "reports", params(AccrualsQuery), responses(
    (status = 200, description = "CSV or JSON"), (status = 404, body = ErrorBody)))]
#[get("/reports/accruals")]
pub async fn accruals(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<AccrualsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let format = format_of(&request, query.format.as_deref())?;
    let period = query.period;
    let input = with_conn(&state, move |conn| report_input::payroll_input(conn, &period)).await?;
    let (name, bytes) = export::accruals_file(format, &input)
        .map_err(|message| ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "unexportable", message))?;
    Ok(file_response(if format == Format::Json { Format::Json } else { Format::Csv }, &name, bytes))
}
