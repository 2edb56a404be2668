//! The organisation's reliability-debt settings: interruption overhead and the catch-all
//! loaded hourly cost. One row, absent until first set (PRODUCT.md's defaults apply).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use super::schema::cost_settings;
use super::teams::HourlyCost;
use super::{AnyConnection, StorageError};
use crate::domain::debt::DEFAULT_INTERRUPTION_OVERHEAD_MINUTES;
use crate::domain::field_error::FieldError;
use crate::domain::timestamp::{from_naive, to_naive};

/// The row's only key.
const ORGANISATION: &str = "organisation";

/// Most interruption overhead one page may carry per responder: a working day.
pub const OVERHEAD_MINUTES_MAX: Decimal = Decimal::from_parts(480, 0, 0, false, 0);

/// The cost model's organisation-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CostSettings {
    /// Lost focus per responder per page, in minutes (a decimal string); PRODUCT.md's default is 15.
    #[schema(value_type = String, example = "15")]
    pub interruption_overhead_minutes: Decimal,
    /// The loaded hourly cost of responders with none of their own whose team has no default either.
    pub default_loaded_hourly_cost: Option<HourlyCost>,
    /// When the settings were last changed; absent while the defaults apply.
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for CostSettings {
    fn default() -> Self {
        CostSettings {
            interruption_overhead_minutes: DEFAULT_INTERRUPTION_OVERHEAD_MINUTES,
            default_loaded_hourly_cost: None,
            updated_at: None,
        }
    }
}

type Row = (String, String, Option<String>, Option<i64>, NaiveDateTime);

/// The settings in force: the stored ones, else the defaults.
pub fn get(conn: &mut AnyConnection) -> Result<CostSettings, StorageError> {
    let row: Option<Row> = cost_settings::table.find(ORGANISATION).first(conn).optional()?;
    let Some((_, minutes, currency, minor, updated_at)) = row else { return Ok(CostSettings::default()) };
    Ok(CostSettings {
        interruption_overhead_minutes: minutes.parse().unwrap_or(DEFAULT_INTERRUPTION_OVERHEAD_MINUTES),
        default_loaded_hourly_cost: HourlyCost::from_columns(currency.as_deref(), minor),
        updated_at: Some(from_naive(updated_at)),
    })
}

/// Replaces the settings.
pub fn put(
    conn: &mut AnyConnection,
    minutes: Decimal,
    default_cost: Option<HourlyCost>,
    stamp: &super::Stamp,
) -> Result<CostSettings, StorageError> {
    if minutes.is_sign_negative() || minutes > OVERHEAD_MINUTES_MAX {
        return Err(StorageError::Invalid(FieldError::new(
            "interruption_overhead_minutes",
            format!("must be between 0 and {OVERHEAD_MINUTES_MAX} minutes"),
        )));
    }
    let (currency, minor) = HourlyCost::to_columns(default_cost, "default_loaded_hourly_cost")?;
    let minutes_text = minutes.normalize().to_string();
    super::write_transaction(conn, |conn| {
        let now = to_naive(stamp.at);
        let updated = diesel::update(cost_settings::table.find(ORGANISATION))
            .set((
                cost_settings::interruption_overhead_minutes.eq(&minutes_text),
                cost_settings::default_cost_currency.eq(&currency),
                cost_settings::default_cost_minor_per_hour.eq(minor),
                cost_settings::updated_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(cost_settings::table)
                .values((
                    cost_settings::id.eq(ORGANISATION),
                    cost_settings::interruption_overhead_minutes.eq(&minutes_text),
                    cost_settings::default_cost_currency.eq(&currency),
                    cost_settings::default_cost_minor_per_hour.eq(minor),
                    cost_settings::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(|error| {
                    super::conflict_on_unique(error, "interruption_overhead_minutes", || {
                        "the settings were changed at the same time; retry".to_owned()
                    })
                })?;
        }
        let result = get(conn)?;
        super::audit::record(conn, stamp, "update", "cost_settings", ORGANISATION, Some(format!("{result:?}")))?;
        Ok(result)
    })
}
