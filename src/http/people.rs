//! `/v1/people`: responders.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, patch, post, web};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::{JsonBody, double_option};
use super::{AppState, query_limit, query_range, with_conn};
use crate::domain::currency::Currency;
use crate::domain::field_error::{FieldError, require_slug, require_text};
use crate::domain::person::{WorkingHours, parse_timezone};
use crate::storage::people::{self, NewPerson, Person, PersonChanges};
use crate::storage::person_versions::{self, PersonVersion};
use crate::storage::responses::{self as response_store, Response};

/// A person to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    #[schema(example = "alice")]
    pub id: String,
    #[schema(example = "Alice Example")]
    pub name: String,
    #[schema(example = "alice@example.com")]
    pub email: String,
    #[schema(example = "E-1001")]
    pub payroll_id: String,
    #[schema(example = "payments")]
    pub team: Option<String>,
    #[schema(example = "Europe/London")]
    pub timezone: String,
    /// ISO 4217; EUR when omitted.
    #[schema(value_type = Option<String>, example = "GBP")]
    pub currency: Option<String>,
    /// Loaded cost per hour, a decimal string in `currency`.
    #[schema(example = "85.50")]
    pub loaded_hourly_cost: Option<String>,
    /// `{"mon": "09:00-17:00", …}`; Monday to Friday 09:00–17:00 when omitted.
    pub working_hours: Option<BTreeMap<String, String>>,
    pub holiday_calendar: Option<String>,
}

/// Changes to a person; absent fields are kept, `null` clears an optional one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub payroll_id: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub team: Option<Option<String>>,
    pub timezone: Option<String>,
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub loaded_hourly_cost: Option<Option<String>>,
    pub working_hours: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub holiday_calendar: Option<Option<String>>,
    /// The person's own cost centre (`null`: their team's). Versioned.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "CC-200")]
    pub cost_centre: Option<Option<String>>,
    /// The local date from which `timezone`, `working_hours`, `holiday_calendar`, `team`,
    /// `cost_centre` and `loaded_hourly_cost` change (default: the person's today; from
    /// 1970-01-01, not after today). Pay is re-priced from that date only; a date in a
    /// closed period posts the difference into the next open period.
    #[schema(value_type = Option<String>, format = Date, example = "2026-10-01")]
    pub effective_from: Option<chrono::NaiveDate>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PeopleQuery {
    /// Only people of this team.
    pub team: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RangeQuery {
    /// Start of the range, RFC 3339 with offset (inclusive).
    pub from: Option<String>,
    /// End of the range, RFC 3339 with offset (exclusive).
    pub to: Option<String>,
    pub limit: Option<i64>,
}

fn parse_currency(code: &str) -> Result<Currency, FieldError> {
    code.parse()
        .map_err(|error: crate::domain::currency::UnknownCurrency| FieldError::new("currency", error.to_string()))
}

/// Money arrives as a decimal string ("85.50"): a JSON number is a float, and a float
/// is never money. The one parser (`domain::limits::parse_decimal`), then the bounds of an
/// amount (not negative, at most `AMOUNT_MAX`).
pub(super) fn parse_money(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let amount = crate::domain::limits::parse_decimal(field, text)?;
    crate::domain::limits::check_amount(field, amount)?;
    Ok(amount)
}

fn check_holiday_calendar(name: &str) -> Result<(), FieldError> {
    match crate::domain::holidays::calendar(name) {
        Some(_) => Ok(()),
        None => Err(FieldError::new(
            "holiday_calendar",
            format!(
                "unknown holiday calendar `{name}`; known: {}",
                crate::domain::holidays::calendar_names().join(", ")
            ),
        )),
    }
}

fn check_email(email: &str) -> Result<(), FieldError> {
    require_text("email", email, 320)?;
    if !email.contains('@') {
        return Err(FieldError::new("email", "must be an email address"));
    }
    Ok(())
}

impl PersonInput {
    fn validate(self) -> Result<NewPerson, FieldError> {
        require_slug("id", &self.id)?;
        require_text("name", &self.name, 200)?;
        check_email(&self.email)?;
        require_text("payroll_id", &self.payroll_id, 64)?;
        let timezone = parse_timezone("timezone", &self.timezone)?;
        if let Some(name) = &self.holiday_calendar {
            check_holiday_calendar(name)?;
        }
        let currency = parse_currency(self.currency.as_deref().unwrap_or("EUR"))?;
        let working_hours = match &self.working_hours {
            Some(map) => WorkingHours::parse("working_hours", map)?,
            None => WorkingHours::default(),
        };
        Ok(NewPerson {
            id: self.id,
            name: self.name,
            email: self.email,
            payroll_id: self.payroll_id,
            team: self.team,
            timezone,
            currency,
            loaded_hourly_cost: self
                .loaded_hourly_cost
                .as_deref()
                .map(|text| parse_money("loaded_hourly_cost", text))
                .transpose()?,
            working_hours,
            holiday_calendar: self.holiday_calendar,
        })
    }
}

impl PersonPatch {
    fn validate(self) -> Result<PersonChanges, FieldError> {
        if let Some(name) = &self.name {
            require_text("name", name, 200)?;
        }
        if let Some(email) = &self.email {
            check_email(email)?;
        }
        if let Some(payroll_id) = &self.payroll_id {
            require_text("payroll_id", payroll_id, 64)?;
        }
        if let Some(Some(name)) = &self.holiday_calendar {
            check_holiday_calendar(name)?;
        }
        if let Some(Some(cost_centre)) = &self.cost_centre {
            require_text("cost_centre", cost_centre, 64)?;
        }
        Ok(PersonChanges {
            cost_centre: self.cost_centre,
            effective_from: self.effective_from,
            timezone: self.timezone.as_deref().map(|name| parse_timezone("timezone", name)).transpose()?,
            currency: self.currency.as_deref().map(parse_currency).transpose()?,
            working_hours: self
                .working_hours
                .as_ref()
                .map(|map| WorkingHours::parse("working_hours", map))
                .transpose()?,
            name: self.name,
            email: self.email,
            payroll_id: self.payroll_id,
            team: self.team,
            loaded_hourly_cost: match &self.loaded_hourly_cost {
                Some(Some(text)) => Some(Some(parse_money("loaded_hourly_cost", text)?)),
                Some(None) => Some(None),
                None => None,
            },
            holiday_calendar: self.holiday_calendar,
        })
    }
}

#[utoipa::path(post, path = "/v1/people", tag = "people", request_body = PersonInput, responses(
    (status = 201, body = Person), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/people")]
pub async fn create(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    JsonBody(input): JsonBody<PersonInput>,
) -> Result<HttpResponse, ApiError> {
    let person = input.validate()?;
    let stamp = actor.stamp();
    let created = with_conn(&state, move |conn| people::create(conn, &person, &stamp)).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(get, path = "/v1/people", tag = "people", params(PeopleQuery), responses((status = 200, body = Vec<Person>)))]
#[get("/people")]
pub async fn list(state: web::Data<AppState>, query: web::Query<PeopleQuery>) -> Result<HttpResponse, ApiError> {
    let team = query.into_inner().team;
    let all = with_conn(&state, move |conn| people::list(conn, team.as_deref())).await?;
    Ok(HttpResponse::Ok().json(all))
}

#[utoipa::path(get, path = "/v1/people/{id}", tag = "people", responses((status = 200, body = Person), (status = 404, body = ErrorBody)))]
#[get("/people/{id}")]
pub async fn read(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let person = with_conn(&state, move |conn| people::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(person))
}

#[utoipa::path(patch, path = "/v1/people/{id}", tag = "people", request_body = PersonPatch, responses(
    (status = 200, body = Person), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[patch("/people/{id}")]
pub async fn update(
    actor: super::access::Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonBody(input): JsonBody<PersonPatch>,
) -> Result<HttpResponse, ApiError> {
    let changes = input.validate()?;
    let id = id.into_inner();
    let stamp = actor.stamp();
    let person = with_conn(&state, move |conn| people::update(conn, &id, &changes, &stamp)).await?;
    Ok(HttpResponse::Ok().json(person))
}

/// A person's versions (zone, working hours, holiday calendar, team, cost centre, loaded
/// cost), each from a local date until the next, oldest first.
#[utoipa::path(get, path = "/v1/people/{id}/versions", tag = "people", responses(
    (status = 200, body = Vec<PersonVersion>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/people/{id}/versions")]
pub async fn versions(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = with_conn(&state, move |conn| person_versions::list(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// A person's logged responses, by start time.
#[utoipa::path(get, path = "/v1/people/{id}/responses", tag = "responses", params(RangeQuery), responses(
    (status = 200, body = Vec<Response>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/people/{id}/responses")]
pub async fn responses(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (from, to) = query_range(query.from.as_deref(), query.to.as_deref())?;
    let limit = query_limit(query.limit)?;
    let id = id.into_inner();
    let found = with_conn(&state, move |conn| response_store::list_for_person(conn, &id, from, to, limit)).await?;
    Ok(HttpResponse::Ok().json(found))
}
