//! Exchange rates finance keeps for management figures, and the organisation's reporting
//! currency (issue #18, item 6). Rates are append-only: a correction is a new row, and of two
//! rows for one pair and day the one recorded last wins (`domain::currency::rate_on`).
//! Payroll never reads this module.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use super::schema::{exchange_rates, reporting_settings};
use super::{AnyConnection, Stamp, StorageError};
use crate::domain::currency::{Currency, ExchangeRate};
use crate::domain::field_error::FieldError;
use crate::domain::timestamp::{from_naive, to_naive};

/// The reporting settings' only row.
const ORGANISATION: &str = "organisation";

/// Most rates one listing returns.
pub const RATES_LISTED_MAX: i64 = 10_000;

/// A recorded exchange rate, as the API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoredRate {
    pub id: String,
    /// ISO 4217 code converted from.
    #[schema(value_type = String, example = "INR")]
    pub currency: Currency,
    /// ISO 4217 code converted into.
    #[schema(value_type = String, example = "USD")]
    pub to_currency: Currency,
    /// Units of `to_currency` per unit of `currency`, an exact decimal string.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "0.012")]
    pub rate: Decimal,
    /// The first day the rate applies to.
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
    pub recorded_by: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: DateTime<Utc>,
}

impl StoredRate {
    pub fn exchange_rate(&self) -> ExchangeRate {
        ExchangeRate {
            currency: self.currency,
            to: self.to_currency,
            rate: self.rate,
            effective_from: self.effective_from,
        }
    }
}

type RateRow = (String, String, String, String, NaiveDate, String, NaiveDateTime);

fn from_row(
    (id, currency, to_currency, rate, effective_from, recorded_by, recorded_at): RateRow,
) -> Option<StoredRate> {
    Some(StoredRate {
        id,
        currency: currency.parse().ok()?,
        to_currency: to_currency.parse().ok()?,
        rate: rate.parse().ok()?,
        effective_from,
        recorded_by,
        recorded_at: from_naive(recorded_at),
    })
}

/// Records a rate (already checked by `domain::currency::check_rate`); audited.
pub fn record(conn: &mut AnyConnection, rate: &ExchangeRate, stamp: &Stamp) -> Result<StoredRate, StorageError> {
    let stored = StoredRate {
        id: uuid::Uuid::now_v7().to_string(),
        currency: rate.currency,
        to_currency: rate.to,
        rate: rate.rate,
        effective_from: rate.effective_from,
        recorded_by: stamp.actor.clone(),
        recorded_at: stamp.at,
    };
    super::write_transaction(conn, |conn| {
        diesel::insert_into(exchange_rates::table)
            .values((
                exchange_rates::id.eq(&stored.id),
                exchange_rates::currency.eq(stored.currency.code()),
                exchange_rates::to_currency.eq(stored.to_currency.code()),
                exchange_rates::rate.eq(stored.rate.to_string()),
                exchange_rates::effective_from.eq(stored.effective_from),
                exchange_rates::recorded_by.eq(&stored.recorded_by),
                exchange_rates::recorded_at.eq(to_naive(stored.recorded_at)),
            ))
            .execute(conn)?;
        super::audit::record(
            conn,
            stamp,
            "create",
            "exchange_rate",
            &stored.id,
            Some(format!(
                "1 {} = {} {} from {}",
                stored.currency, stored.rate, stored.to_currency, stored.effective_from
            )),
        )?;
        Ok::<_, StorageError>(())
    })?;
    Ok(stored)
}

/// The latest `RATES_LISTED_MAX` recorded rates, optionally only those into `to`, in the order
/// they were recorded.
pub fn list(conn: &mut AnyConnection, to: Option<Currency>) -> Result<Vec<StoredRate>, StorageError> {
    let mut rates = load(conn, to, Some(RATES_LISTED_MAX))?;
    rates.reverse();
    Ok(rates)
}

/// Newest first; every rate when `limit` is `None`.
fn load(conn: &mut AnyConnection, to: Option<Currency>, limit: Option<i64>) -> Result<Vec<StoredRate>, StorageError> {
    let mut query = exchange_rates::table
        .select((
            exchange_rates::id,
            exchange_rates::currency,
            exchange_rates::to_currency,
            exchange_rates::rate,
            exchange_rates::effective_from,
            exchange_rates::recorded_by,
            exchange_rates::recorded_at,
        ))
        .order((exchange_rates::recorded_at.desc(), exchange_rates::id.desc()))
        .into_boxed();
    if let Some(to) = to {
        query = query.filter(exchange_rates::to_currency.eq(to.code()));
    }
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    let rows: Vec<RateRow> = query.load(conn)?;
    Ok(rows.into_iter().filter_map(from_row).collect())
}

/// The organisation's reporting currency, if finance set one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReportingSettings {
    /// ISO 4217 code management figures are converted into; absent until set.
    #[schema(value_type = Option<String>, example = "USD")]
    pub reporting_currency: Option<Currency>,
    pub updated_by: Option<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The reporting settings in force.
pub fn reporting(conn: &mut AnyConnection) -> Result<ReportingSettings, StorageError> {
    let row: Option<(String, String, String, NaiveDateTime)> =
        reporting_settings::table.find(ORGANISATION).first(conn).optional()?;
    Ok(match row {
        None => ReportingSettings { reporting_currency: None, updated_by: None, updated_at: None },
        Some((_, currency, updated_by, updated_at)) => ReportingSettings {
            reporting_currency: currency.parse().ok(),
            updated_by: Some(updated_by),
            updated_at: Some(from_naive(updated_at)),
        },
    })
}

/// Sets the reporting currency; audited.
pub fn set_reporting(
    conn: &mut AnyConnection,
    currency: Currency,
    stamp: &Stamp,
) -> Result<ReportingSettings, StorageError> {
    super::write_transaction(conn, |conn| {
        let now = to_naive(stamp.at);
        let updated = diesel::update(reporting_settings::table.find(ORGANISATION))
            .set((
                reporting_settings::reporting_currency.eq(currency.code()),
                reporting_settings::updated_by.eq(&stamp.actor),
                reporting_settings::updated_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(reporting_settings::table)
                .values((
                    reporting_settings::id.eq(ORGANISATION),
                    reporting_settings::reporting_currency.eq(currency.code()),
                    reporting_settings::updated_by.eq(&stamp.actor),
                    reporting_settings::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(|error| {
                    super::conflict_on_unique(error, "reporting_currency", || {
                        "the reporting currency was set at the same time; retry".to_owned()
                    })
                })?;
        }
        super::audit::record(conn, stamp, "configure", "reporting_settings", ORGANISATION, Some(currency.to_string()))?;
        Ok::<_, StorageError>(())
    })?;
    reporting(conn)
}

/// What management figures convert with: the reporting currency and the rates into it.
#[derive(Debug, Clone, Default)]
pub struct Conversion {
    pub reporting_currency: Option<Currency>,
    pub rates: Vec<ExchangeRate>,
}

/// Reads the reporting currency and the rates into it.
pub fn conversion(conn: &mut AnyConnection) -> Result<Conversion, StorageError> {
    let Some(currency) = reporting(conn)?.reporting_currency else { return Ok(Conversion::default()) };
    // Every rate into the currency (not the listing's cap), oldest first as `rate_on` expects.
    let mut stored = load(conn, Some(currency), None)?;
    stored.reverse();
    let rates = stored.iter().map(StoredRate::exchange_rate).collect();
    Ok(Conversion { reporting_currency: Some(currency), rates })
}

/// Refuses a currency code that is not ISO 4217, naming the field.
pub fn parse_currency(field: &str, text: &str) -> Result<Currency, FieldError> {
    text.parse().map_err(|error: crate::domain::currency::UnknownCurrency| FieldError::new(field, error.to_string()))
}
