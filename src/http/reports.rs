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
    if format == Format::Csv {
        return stream_csv(&state, layout, period).await;
    }
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

/// Slices of a streamed export waiting to be sent; a slow client holds the producer back.
const STREAM_CHUNKS_BUFFERED: usize = 4;

/// Streams a payroll CSV: the ledger is read and the file written a slice of people at a
/// time on a blocking thread, so memory stays bounded however large the period.
async fn stream_csv(state: &AppState, layout: String, period: String) -> Result<HttpResponse, ApiError> {
    let (people, info) = {
        let period = period.clone();
        with_conn(state, move |conn| -> Result<_, crate::storage::StorageError> {
            let people = report_input::payroll_people(conn, &period)?;
            let info = report_input::payroll_input_for(conn, &period, Some(&[]))?.period;
            Ok((people, info))
        })
        .await?
    };
    let name = export::payroll_csv_name(&layout, &info).map_err(|message| ApiError::invalid("layout", message))?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<web::Bytes, String>>(STREAM_CHUNKS_BUFFERED);
    let store = state.store.clone();
    std::thread::spawn(move || {
        let result = (|| -> Result<(), String> {
            let mut conn = store.conn().map_err(|error| error.to_string())?;
            let mut slices: Vec<Vec<String>> =
                people.chunks(export::STREAM_PEOPLE_PER_CHUNK).map(<[String]>::to_vec).collect();
            if slices.is_empty() {
                slices.push(Vec::new());
            }
            let inputs = slices.iter().map(|slice| {
                report_input::payroll_input_for(&mut conn, &period, Some(slice)).map_err(|error| error.to_string())
            });
            export::stream_payroll_csv(&layout, inputs, &mut |bytes| {
                sender.blocking_send(Ok(web::Bytes::from(bytes))).map_err(|_| "the client went away".to_owned())
            })
        })();
        if let Err(message) = result {
            tracing::error!(error.cause = %message, "streamed payroll export failed");
            let _ = sender.blocking_send(Err(message));
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item.map_err(actix_web::error::ErrorInternalServerError), receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type(Format::Csv.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .streaming(body))
}
