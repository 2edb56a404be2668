//! `/v1/reports`: payroll exports and accruals by cost centre (finance).
//! `Accept` chooses CSV (the default), XLSX or JSON; `?format=` overrides it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures_util::StreamExt;
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
    /// `csv`, `xlsx` or `json`; overrides `Accept`.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ChangesQuery {
    /// The pay period, e.g. `2026-10`.
    pub period: String,
    /// `csv` or `xlsx`; overrides `Accept`.
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
    actor: super::access::Actor,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<PayrollQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    payroll_file(&state, &request, query.period, query.layout, query.format, actor.stamp()).await
}

/// A period's payroll file (the API's and finance's page's downloads).
pub(super) async fn payroll_file(
    state: &AppState,
    request: &HttpRequest,
    period: String,
    layout: Option<String>,
    format: Option<String>,
    stamp: crate::storage::Stamp,
) -> Result<HttpResponse, ApiError> {
    let format = format_of(request, format.as_deref())?;
    let layout = layout.unwrap_or_else(|| "long".to_owned());
    export::layout(&state.reports_dir, &layout).map_err(|message| ApiError::invalid("layout", message))?;
    stream_payroll(state, layout, period, format, stamp).await
}

/// What finance books: per cost centre, component and currency, with a control total
/// per currency that equals the sum of the period's ledger entries.
#[utoipa::path(get, path = "/v1/reports/accruals", tag = "reports", params(AccrualsQuery), responses(
    (status = 200, description = "CSV, XLSX or JSON, as `Accept` or `?format=` asks"),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/reports/accruals")]
pub async fn accruals(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<AccrualsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    accruals_file(&state, &request, query.period, query.format).await
}

/// A period's accruals file (the API's and finance's page's downloads).
pub(super) async fn accruals_file(
    state: &AppState,
    request: &HttpRequest,
    period: String,
    format: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let format = format_of(request, format.as_deref())?;
    let input = with_conn(state, move |conn| report_input::payroll_input(conn, &period)).await?;
    let (name, bytes) = export::accruals_file(format, &input)
        .map_err(|message| ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "unexportable", message))?;
    Ok(file_response(format, &name, bytes))
}

/// The ledger entries posted to a period since its last payroll export (every entry when it
/// was never exported), one row each with a net total per currency: what payroll must apply
/// on top of the file it already has.
#[utoipa::path(get, path = "/v1/reports/changes", tag = "reports", params(ChangesQuery), responses(
    (status = 200, description = "CSV or XLSX, as `Accept` or `?format=` asks; `X-Paydown-Since-Export` names the export counted from"),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/reports/changes")]
pub async fn changes(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let format = format_of(&request, query.format.as_deref())?;
    if format == Format::Json {
        return Err(ApiError::invalid("format", "the changes file is csv or xlsx"));
    }
    let period = query.period;
    let (last, input) = with_conn(&state, move |conn| report_input::changes_input(conn, &period)).await?;
    let since = last.as_ref().map(crate::storage::exports::ExportRecord::since);
    let (name, bytes) = export::changes_file(format, &input, since.as_ref())
        .map_err(|message| ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "unexportable", message))?;
    let mut response = file_response(format, &name, bytes);
    if let Some(last) = last
        && let Ok(value) = header::HeaderValue::from_str(&last.id)
    {
        response.headers_mut().insert(header::HeaderName::from_static("x-paydown-since-export"), value);
    }
    Ok(response)
}

/// Slices of a streamed export waiting to be sent; a slow client holds the producer back.
const STREAM_CHUNKS_BUFFERED: usize = 4;

/// Why a streamed export stopped.
enum StreamFailure {
    /// The data can't be written in this layout (e.g. a component it has no column for).
    Unexportable(String),
    /// The database failed.
    Storage(crate::storage::StorageError),
    /// Writing failed (the client went away, no room for the temporary file).
    Internal(String),
}

impl From<String> for StreamFailure {
    fn from(message: String) -> Self {
        StreamFailure::Unexportable(message)
    }
}

impl StreamFailure {
    fn describe(&self) -> String {
        match self {
            StreamFailure::Unexportable(message) | StreamFailure::Internal(message) => message.clone(),
            StreamFailure::Storage(error) => error.to_string(),
        }
    }
}

type Chunk = Result<web::Bytes, StreamFailure>;

/// Bytes of a streamed export gathered before they are handed to the client.
const STREAM_CHUNK_BYTES: usize = 64 * 1024;

/// An `io::Write` that hands its bytes to the response body in chunks; a client that went
/// away turns into a write error, which stops the producer.
struct ChunkSender {
    sender: tokio::sync::mpsc::Sender<Chunk>,
    buffer: Vec<u8>,
}

impl std::io::Write for ChunkSender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= STREAM_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = web::Bytes::from(std::mem::take(&mut self.buffer));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// Streams a payroll export in any format: the ledger is read and the file written a slice
/// of people at a time on a blocking thread, so memory stays bounded however large the
/// period (XLSX rows go to a temporary file until the workbook is zipped into the body).
async fn stream_payroll(
    state: &AppState,
    layout: String,
    period: String,
    format: Format,
    stamp: crate::storage::Stamp,
) -> Result<HttpResponse, ApiError> {
    let (people, info) = {
        let period = period.clone();
        with_conn(state, move |conn| -> Result<_, crate::storage::StorageError> {
            let people = report_input::payroll_people(conn, &period)?;
            let info = report_input::payroll_input_for(conn, &period, Some(&[]))?.period;
            Ok((people, info))
        })
        .await?
    };
    let name = export::payroll_file_name(&state.reports_dir, &layout, format, &info)
        .map_err(|message| ApiError::invalid("layout", message))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Chunk>(STREAM_CHUNKS_BUFFERED);
    let store = state.store.clone();
    let reports_dir = state.reports_dir.clone();
    std::thread::spawn(move || {
        let failures = sender.clone();
        let internal = |error: &dyn std::fmt::Display| StreamFailure::Internal(error.to_string());
        let result = (|| -> Result<(), StreamFailure> {
            let mut conn = store.conn().map_err(StreamFailure::Storage)?;
            let mut slices: Vec<Vec<String>> =
                people.chunks(export::STREAM_PEOPLE_PER_CHUNK).map(<[String]>::to_vec).collect();
            if slices.is_empty() {
                slices.push(Vec::new());
            }
            let mut exported: Vec<String> = Vec::new();
            let inputs = slices.iter().map(|slice| {
                let input =
                    report_input::payroll_input_for(&mut conn, &period, Some(slice)).map_err(StreamFailure::Storage)?;
                exported.extend(input.entries.iter().map(|entry| entry.id.clone()));
                Ok::<_, StreamFailure>(input)
            });
            let out = ChunkSender { sender, buffer: Vec::with_capacity(STREAM_CHUNK_BYTES) };
            let mut out = export::stream_payroll(&reports_dir, &layout, format, inputs, out)?;
            std::io::Write::flush(&mut out).map_err(|error| internal(&error))?;
            // Recorded once the whole file was handed over: the changes file counts from it.
            crate::storage::exports::record_export(&mut conn, &period, &layout, format.extension(), &exported, &stamp)
                .map_err(StreamFailure::Storage)?;
            Ok(())
        })();
        if let Err(failure) = result {
            if !matches!(failure, StreamFailure::Unexportable(_)) {
                tracing::error!(error.cause = %failure.describe(), "streamed payroll export failed");
            }
            let _ = failures.blocking_send(Err(failure));
        }
    });
    // The first chunk is awaited before answering: a small export is then whole, and an export
    // the layout can't write is a 422 rather than a cut-off 200.
    let first = match receiver.recv().await {
        Some(Err(StreamFailure::Unexportable(message))) => {
            return Err(ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "unexportable", message));
        }
        Some(Err(StreamFailure::Storage(error))) => return Err(error.into()),
        Some(Err(StreamFailure::Internal(_))) => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred; it was logged",
            ));
        }
        first => first,
    };
    let rest = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    let body = futures_util::stream::iter(first)
        .chain(rest)
        .map(|item| item.map_err(|failure| actix_web::error::ErrorInternalServerError(failure.describe())));
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .streaming(body))
}
