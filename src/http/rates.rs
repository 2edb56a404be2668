//! `/v1/exchange-rates` and `/v1/settings/reporting-currency` (finance and admin): the rates
//! management figures are converted with, and the currency they are converted into. Payroll
//! never converts.

use actix_web::{HttpResponse, get, post, put, web};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use super::{AppState, with_conn};
use crate::domain::currency::{self, ExchangeRate};
use crate::domain::field_error::FieldError;
use crate::storage::exchange_rates::{self, ReportingSettings, StoredRate, parse_currency};

/// A rate to record: from `effective_from` on, one `currency` is worth `rate` `to_currency`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateInput {
    /// ISO 4217 code converted from.
    #[schema(example = "INR")]
    pub currency: String,
    /// ISO 4217 code converted into; default: the reporting currency.
    #[schema(example = "USD")]
    pub to_currency: Option<String>,
    /// Units of `to_currency` per unit of `currency`, a decimal string between 0.000001 and
    /// 1000000 with at most 10 decimal places.
    #[schema(example = "0.012")]
    pub rate: String,
    /// The first day the rate applies to (`YYYY-MM-DD`).
    #[schema(example = "2026-10-01")]
    pub effective_from: String,
}

/// Checks a rate's input, naming the field at fault; `reporting` fills an omitted `to_currency`.
pub fn parse_rate(input: &RateInput, reporting: Option<currency::Currency>) -> Result<ExchangeRate, FieldError> {
    let from = parse_currency("currency", &input.currency)?;
    let to = match input.to_currency.as_deref() {
        Some(code) => parse_currency("to_currency", code)?,
        None => {
            reporting.ok_or_else(|| FieldError::new("to_currency", "required while no reporting currency is set"))?
        }
    };
    let rate = crate::domain::limits::parse_decimal("rate", &input.rate)?;
    let rate = currency::check_rate(from, to, rate).map_err(|error| {
        let field = if matches!(error, currency::RateError::SameCurrency) { "to_currency" } else { "rate" };
        FieldError::new(field, error.to_string())
    })?;
    // The same window as every instant paydown accepts (`domain::limits`).
    let (first, last) =
        (crate::domain::limits::instant_min().date_naive(), crate::domain::limits::instant_max().date_naive());
    let effective_from =
        input.effective_from.parse::<chrono::NaiveDate>().ok().filter(|day| (first..last).contains(day)).ok_or_else(
            || FieldError::new("effective_from", format!("expected a date YYYY-MM-DD from {first} to before {last}")),
        )?;
    Ok(ExchangeRate { currency: from, to, rate, effective_from })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RatesQuery {
    /// Only rates into this currency (ISO 4217).
    pub to_currency: Option<String>,
}

/// Every recorded rate, in the order recorded (for one pair and day, the last recorded wins).
#[utoipa::path(get, path = "/v1/exchange-rates", tag = "reports", params(RatesQuery), responses(
    (status = 200, body = Vec<StoredRate>), (status = 400, body = ErrorBody)))]
#[get("/exchange-rates")]
pub async fn list(state: web::Data<AppState>, query: web::Query<RatesQuery>) -> Result<HttpResponse, ApiError> {
    let to = query.to_currency.as_deref().map(|code| parse_currency("to_currency", code)).transpose()?;
    let rates = with_conn(&state, move |conn| exchange_rates::list(conn, to)).await?;
    Ok(HttpResponse::Ok().json(rates))
}

/// Records a rate (append-only: a correction is a new rate for the same day).
#[utoipa::path(post, path = "/v1/exchange-rates", tag = "reports", request_body = RateInput, responses(
    (status = 201, body = StoredRate), (status = 400, body = ErrorBody)))]
#[post("/exchange-rates")]
pub async fn create(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(input): JsonBody<RateInput>,
) -> Result<HttpResponse, ApiError> {
    let stamp = actor.stamp();
    let stored = with_conn(&state, move |conn| -> Result<StoredRate, ApiError> {
        let reporting = exchange_rates::reporting(conn)?.reporting_currency;
        let rate = parse_rate(&input, reporting)?;
        Ok(exchange_rates::record(conn, &rate, &stamp)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(stored))
}

/// The reporting currency to set.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportingInput {
    /// ISO 4217 code management figures (debt report, dashboard) are converted into.
    #[schema(example = "USD")]
    pub reporting_currency: String,
}

#[utoipa::path(get, path = "/v1/settings/reporting-currency", tag = "reports", responses(
    (status = 200, body = ReportingSettings)))]
#[get("/settings/reporting-currency")]
pub async fn read_reporting(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = with_conn(&state, exchange_rates::reporting).await?;
    Ok(HttpResponse::Ok().json(settings))
}

#[utoipa::path(put, path = "/v1/settings/reporting-currency", tag = "reports", request_body = ReportingInput, responses(
    (status = 200, body = ReportingSettings), (status = 400, body = ErrorBody)))]
#[put("/settings/reporting-currency")]
pub async fn set_reporting(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(input): JsonBody<ReportingInput>,
) -> Result<HttpResponse, ApiError> {
    let currency = parse_currency("reporting_currency", &input.reporting_currency)?;
    let stamp = actor.stamp();
    let settings = with_conn(&state, move |conn| exchange_rates::set_reporting(conn, currency, &stamp)).await?;
    Ok(HttpResponse::Ok().json(settings))
}
