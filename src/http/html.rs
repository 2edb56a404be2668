//! The HTML pages' handlers (issue 19): the engineer's own page and its forms, the
//! dashboard and an alert's page, finance's periods and their downloads, the stylesheet.
//! Thin: read within the caller's reach, render with `crate::web`, answer HTML.
//!
//! Sessions: a browser carries its token in the HttpOnly cookie `/login` set (the access
//! middleware accepts it on these paths only). Every form carries an anti-forgery value
//! derived from the session's token ([`Session::csrf`]): a page on another site can neither
//! read it nor compute it, and a form without it is refused with 403 before anything is
//! written. A form answers 303 to the page it came from, so reloading never posts twice;
//! a refused form comes back with what was typed and the message beside the field.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, get, post, web};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;

use super::error::ApiError;
use super::{AppState, with_conn};
use crate::dashboard as figures;
use crate::domain::debt::GroupBy;
use crate::domain::role::{Caller, Role};
use crate::domain::scope::Reach;
use crate::storage::StorageError;
use crate::web::{self as pages, Viewer};

/// How far back the engineer's page lists pages and responses.
const OWN_DAYS: i64 = 365;
/// The most pages the engineer's page lists.
const OWN_PAGES_MAX: i64 = 60;
/// The most responses the engineer's page lists.
const OWN_RESPONSES_MAX: i64 = 500;
/// The most pages an alert's page lists.
const ALERT_PAGES_MAX: i64 = 500;

/// The signed-in caller of a page, with the anti-forgery value of their forms.
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

/// The anti-forgery value of a session: an HMAC of a fixed label keyed by the session's
/// token, so it needs no storage and changes with every sign-in.
pub fn csrf_for(secret: &str) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(b"paydown html form v1");
    hex::encode(mac.finalize().into_bytes())
}

fn session_secret(request: &HttpRequest) -> Option<String> {
    let header = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let bearer = header
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    bearer.or_else(|| request.cookie(super::access::TOKEN_COOKIE).map(|cookie| cookie.value().to_owned()))
}

impl FromRequest for Session {
    type Error = PageError;
    type Future = std::future::Ready<Result<Session, PageError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = request.extensions().get::<Caller>().cloned();
        let secret = session_secret(request);
        std::future::ready(match (caller, secret) {
            (Some(caller), Some(secret)) => Ok(Session { caller, csrf: csrf_for(&secret) }),
            _ => Err(PageError::new(StatusCode::UNAUTHORIZED, "Sign in", "Sign in to open this page.", None, None)),
        })
    }
}

impl Session {
    fn name(&self) -> &str {
        self.caller.person.as_deref().unwrap_or(&self.caller.token_name)
    }

    fn viewer(&self) -> Viewer<'_> {
        Viewer { role: self.caller.role, name: self.name(), csrf: &self.csrf }
    }

    fn owned_viewer(&self) -> Option<OwnedViewer> {
        Some(OwnedViewer { role: self.caller.role, name: self.name().to_owned(), csrf: self.csrf.clone() })
    }

    /// A whole page for this viewer.
    fn page(&self, status: StatusCode, title: &str, current: &str, body: &str) -> HttpResponse {
        html(status, pages::layout(title, Some(&self.viewer()), current, body))
    }

    /// What went wrong, as a page for this viewer.
    fn fail(&self, error: ApiError) -> PageError {
        let title = match error.status {
            StatusCode::BAD_REQUEST => "That request was not understood",
            StatusCode::FORBIDDEN => "Not yours to see",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "That changed meanwhile",
            _ => "Something went wrong",
        };
        PageError::new(error.status, title, &error.message, error.field, self.owned_viewer())
    }

    /// Refuses a form without this session's anti-forgery value or sent from another site.
    fn check_form(&self, request: &HttpRequest, sent: &str) -> Result<(), PageError> {
        let matches =
            !self.csrf.is_empty() && super::dashboard::constant_time_eq(self.csrf.as_bytes(), sent.as_bytes());
        if matches && super::access::same_origin(request) {
            return Ok(());
        }
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Form refused",
            "This form has expired or came from another site, so nothing was saved: reload the page and try again.",
            Some("csrf".to_owned()),
            self.owned_viewer(),
        ))
    }
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

#[derive(Debug, Clone)]
pub struct OwnedViewer {
    role: Role,
    name: String,
    csrf: String,
}

/// A page's failure, answered as an HTML page naming what went wrong.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    title: String,
    message: String,
    field: Option<String>,
    viewer: Option<Box<OwnedViewer>>,
}

impl PageError {
    fn new(
        status: StatusCode,
        title: &str,
        message: &str,
        field: Option<String>,
        viewer: Option<OwnedViewer>,
    ) -> PageError {
        PageError { status, title: title.to_owned(), message: message.to_owned(), field, viewer: viewer.map(Box::new) }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.status, self.message)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let viewer =
            self.viewer.as_ref().map(|viewer| Viewer { role: viewer.role, name: &viewer.name, csrf: &viewer.csrf });
        html(self.status, pages::problem_page(&self.title, viewer.as_ref(), &self.message, self.field.as_deref()))
    }
}

/// The access middleware's refusal of a page, for a browser: not signed in (or the session
/// expired) → the sign-in page; otherwise a page saying why.
pub fn refused_page(request: &HttpRequest, error: &ApiError) -> HttpResponse {
    if error.status == StatusCode::UNAUTHORIZED && request.method() == actix_web::http::Method::GET {
        return see_other("/login");
    }
    let message = match error.status {
        StatusCode::UNAUTHORIZED => "Your session has ended: sign in again.".to_owned(),
        StatusCode::FORBIDDEN => format!("{} Sign in with a token that has this page.", error.message),
        _ => error.message.clone(),
    };
    PageError::new(error.status, "Not available", &message, error.field.clone(), None).error_response()
}

/// The shared stylesheet (public, cached for a day).
#[get("/assets/paydown.css")]
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(pages::STYLESHEET)
}

/// `/docs` is the API viewer's folder: send the browser to it.
#[get("/docs")]
pub async fn docs() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/docs/")).finish()
}

// ---- The engineer's page ----

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    /// The statement's period (`2026-10`); default: the current one.
    pub period: Option<String>,
    /// What the last form did, for its notice.
    pub done: Option<String>,
}

/// `/`: the engineer's own page; other roles are sent to theirs.
#[get("/")]
pub async fn home_page(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<HomeQuery>,
) -> Result<HttpResponse, PageError> {
    if session.caller.role != Role::Engineer {
        return Ok(see_other(pages::landing(session.caller.role).unwrap_or("/login")));
    }
    let query = query.into_inner();
    render_home(&state, &session, query.period, query.done, None, StatusCode::OK).await
}

fn own_person(session: &Session) -> Result<String, PageError> {
    session.caller.person.clone().ok_or_else(|| {
        session.fail(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this engineer token names no person"))
    })
}

/// Reads and renders the engineer's page, with a refused form's problem when there is one.
async fn render_home(
    state: &AppState,
    session: &Session,
    period: Option<String>,
    done: Option<String>,
    problem: Option<pages::home::FormProblem>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let person = own_person(session)?;
    let now = super::now();
    let read = with_conn(state, move |conn| read_home(conn, &person, period, now)).await;
    let mut home = read.map_err(|error| session.fail(error))?;
    home.csrf = session.csrf.clone();
    home.notice = done;
    home.problem = problem;
    let body = pages::home::render(&home);
    Ok(session.page(status, "Your pages and pay", "/", &body))
}

fn read_home(
    conn: &mut crate::storage::AnyConnection,
    person_id: &str,
    period: Option<String>,
    now: DateTime<Utc>,
) -> Result<pages::home::Home, StorageError> {
    use crate::storage::pages::Called;
    use crate::storage::responses::{PAID, PENDING};
    let person = crate::storage::people::get(conn, person_id)?;
    let zone: chrono_tz::Tz = person.timezone.parse().unwrap_or(chrono_tz::UTC);
    let since = now - chrono::Duration::days(OWN_DAYS);
    let mut responses =
        crate::storage::responses::list_for_person(conn, person_id, Some(since), None, OWN_RESPONSES_MAX)?;
    responses.reverse();
    let calendar = crate::pricing::pay_person(&person).ok().map(|pay| pay.calendar);
    let called = crate::storage::pages::called_for(conn, person_id, person.team.as_deref(), since, OWN_PAGES_MAX)?;
    let pages = called
        .into_iter()
        .map(|(page, why)| {
            let classes = calendar.as_ref().map(|calendar| calendar.classes_at(page.triggered_at));
            let response = responses
                .iter()
                .find(|response| response.page_id == page.id && (response.status == PAID || response.status == PENDING))
                .cloned();
            pages::home::CalledPage {
                why: match why {
                    Called::Acknowledged => "acknowledged it",
                    Called::Responded => "responded",
                    Called::OnCall => "were on call",
                },
                night: classes.is_some_and(|classes| classes.contains(crate::domain::time_class::TimeClass::Night)),
                out_of_hours: classes.is_some_and(|classes| classes.is_out_of_hours()),
                response,
                page,
            }
        })
        .collect();
    let scheme = crate::storage::ledger::scheme(conn)?;
    let current = scheme.period_of(now.with_timezone(&zone).date_naive()).id;
    let mut periods: Vec<String> =
        crate::storage::ledger::list_periods(conn)?.into_iter().map(|period| period.id).collect();
    if !periods.contains(&current) {
        periods.push(current.clone());
    }
    periods.sort();
    periods.reverse();
    let selected = period.filter(|period| periods.contains(period)).unwrap_or(current);
    let statement = match crate::accrual::period_statement(conn, person_id, &selected) {
        Ok((statement, _)) => Some(pages::home::StatementView {
            period: statement.period,
            starts_on: statement.starts_on,
            ends_on: statement.ends_on,
            is_final: statement.is_final,
            lines: statement
                .lines
                .into_iter()
                .map(|line| pages::home::StatementRow {
                    occurred_at: line.occurred_at,
                    component: line.component,
                    kind: line.kind,
                    quantity: format!("{} {}", crate::reports::charts::format_value(line.quantity), line.unit),
                    amount: line.amount,
                    currency: line.currency,
                    explanation: line.explanation,
                    natural_period: line.natural_period,
                })
                .collect(),
            totals: statement.total_by_currency,
            pending_claims: statement.pending_claims.len(),
        }),
        Err(StorageError::NotFound { .. }) => None,
        Err(other) => return Err(other),
    };
    let (out_of_hours, night) = figures::person_load(conn, person_id, now)?;
    Ok(pages::home::Home {
        person_id: person.id.clone(),
        person_name: person.name.clone(),
        zone,
        csrf: String::new(),
        notice: None,
        pages,
        responses,
        periods,
        statement,
        out_of_hours,
        night,
        problem: None,
    })
}

/// A response form as a browser sends it; every field optional, so a missing one is named.
#[derive(Debug, Default, Deserialize)]
pub struct ResponseForm {
    #[serde(default)]
    pub csrf: String,
    pub client_id: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub actionable: Option<String>,
    pub notes: Option<String>,
    pub reason: Option<String>,
}

impl ResponseForm {
    fn values(&self) -> BTreeMap<String, String> {
        let mut values = BTreeMap::new();
        for (name, value) in [
            ("client_id", &self.client_id),
            ("started_at", &self.started_at),
            ("ended_at", &self.ended_at),
            ("actionable", &self.actionable),
            ("notes", &self.notes),
            ("reason", &self.reason),
        ] {
            if let Some(value) = value {
                values.insert(name.to_owned(), value.clone());
            }
        }
        values
    }

    /// The typed times read in the person's zone, the answer and the notes, as the API takes them.
    fn response(&self, zone: chrono_tz::Tz) -> Result<super::pages::ResponseInput, ApiError> {
        use crate::domain::local_time::from_form_value;
        let started_at = from_form_value("started_at", zone, self.started_at.as_deref().unwrap_or_default())?;
        let ended_at = from_form_value("ended_at", zone, self.ended_at.as_deref().unwrap_or_default())?;
        let actionable = match self.actionable.as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => return Err(ApiError::invalid("actionable", "answer yes or no")),
        };
        let notes = self.notes.as_deref().map(str::trim).filter(|notes| !notes.is_empty()).map(str::to_owned);
        Ok(super::pages::ResponseInput {
            id: self.client_id.clone().filter(|id| !id.is_empty()),
            person: None,
            started_at,
            ended_at: Some(ended_at),
            duration_minutes: None,
            notes,
            actionable,
        })
    }
}

async fn zone_of(state: &AppState, person: String) -> Result<chrono_tz::Tz, ApiError> {
    let person = with_conn(state, move |conn| crate::storage::people::get(conn, &person)).await?;
    Ok(person.timezone.parse().unwrap_or(chrono_tz::UTC))
}

/// Where a form's success lands: the page of the period the response belongs to, at its page.
async fn after_form(state: &AppState, person: String, at: DateTime<Utc>, done: &str, page_id: &str) -> String {
    let period = with_conn(state, move |conn| -> Result<String, StorageError> {
        let person = crate::storage::people::get(conn, &person)?;
        let zone: chrono_tz::Tz = person.timezone.parse().unwrap_or(chrono_tz::UTC);
        Ok(crate::storage::ledger::scheme(conn)?.period_of(at.with_timezone(&zone).date_naive()).id)
    })
    .await
    .ok();
    let period =
        period.map(|period| format!("&period={}", pages::dashboard::url_component(&period))).unwrap_or_default();
    format!("/?done={done}{period}#page-{}", pages::dashboard::url_component(page_id))
}

/// Re-renders the page with the refused form, its input and the message by the field.
async fn refused_form(
    state: &AppState,
    session: &Session,
    form: String,
    values: BTreeMap<String, String>,
    error: ApiError,
) -> Result<HttpResponse, PageError> {
    let status = if error.status.is_client_error() { error.status } else { StatusCode::BAD_REQUEST };
    if error.status.is_server_error() {
        return Err(session.fail(error));
    }
    let problem = pages::home::FormProblem { form, field: error.field.clone(), message: error.message.clone(), values };
    render_home(state, session, None, None, Some(problem), status).await
}

/// Logs the engineer's response on a page (the form of `/`).
#[post("/pages/{id}/respond")]
pub async fn respond(
    state: web::Data<AppState>,
    session: Session,
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ResponseForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    session.check_form(&request, &form.csrf)?;
    let page_id = id.into_inner();
    let person = own_person(&session)?;
    let form_id = format!("log-{page_id}");
    let zone = zone_of(&state, person.clone()).await.map_err(|error| session.fail(error))?;
    let attempt = async {
        let response = form.response(zone)?.validate(page_id.clone(), Some(&person))?;
        let stamp = super::access::Actor(Some(session.caller.clone())).stamp();
        let started = response.started_at;
        with_conn(&state, move |conn| crate::storage::responses::record(conn, &response, &stamp)).await?;
        Ok::<_, ApiError>(started)
    };
    match attempt.await {
        Ok(started) => {
            state.mark_accrual_due();
            Ok(see_other(&after_form(&state, person, started, "logged", &page_id).await))
        }
        Err(error) => refused_form(&state, &session, form_id, form.values(), error).await,
    }
}

/// The response, when it is the session's person's own (only its author corrects it here).
async fn own_response(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<crate::storage::responses::Response, PageError> {
    let id = id.to_owned();
    let response = with_conn(state, move |conn| crate::storage::responses::get(conn, &id))
        .await
        .map_err(|error| session.fail(error))?;
    if session.caller.person.as_deref() != Some(response.person.as_str()) {
        // The same answer whether or not it exists: ids tell nobody whose work is whose.
        return Err(session.fail(ApiError::not_found("no such response of yours")));
    }
    Ok(response)
}

/// Amends the engineer's response (a new version; the ledger reverses the old one).
#[post("/responses/{id}/amend")]
pub async fn amend(
    state: web::Data<AppState>,
    session: Session,
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ResponseForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    session.check_form(&request, &form.csrf)?;
    let id = id.into_inner();
    let old = own_response(&state, &session, &id).await?;
    let person = old.person.clone();
    let zone = zone_of(&state, person.clone()).await.map_err(|error| session.fail(error))?;
    let attempt = async {
        let reason = form.reason.clone().unwrap_or_default();
        super::pages::check_reason(&reason)?;
        let mut input = form.response(zone)?;
        input.id = None;
        let change = input.validate(old.page_id.clone(), Some(&person))?;
        let started = change.started_at;
        let stamp = super::access::Actor(Some(session.caller.clone())).stamp();
        let id = id.clone();
        with_conn(&state, move |conn| crate::storage::responses::amend(conn, &id, &change, &reason, &stamp)).await?;
        Ok::<_, ApiError>(started)
    };
    match attempt.await {
        Ok(started) => {
            state.mark_accrual_due();
            Ok(see_other(&after_form(&state, person, started, "amended", &old.page_id).await))
        }
        Err(error) => refused_form(&state, &session, format!("amend-{id}"), form.values(), error).await,
    }
}

/// Withdraws the engineer's response (no longer paid; the ledger reverses it).
#[post("/responses/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    session: Session,
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ResponseForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    session.check_form(&request, &form.csrf)?;
    let id = id.into_inner();
    let old = own_response(&state, &session, &id).await?;
    let attempt = async {
        let reason = form.reason.clone().unwrap_or_default();
        super::pages::check_reason(&reason)?;
        let stamp = super::access::Actor(Some(session.caller.clone())).stamp();
        let id = id.clone();
        with_conn(&state, move |conn| crate::storage::responses::withdraw(conn, &id, &reason, &stamp)).await?;
        Ok::<_, ApiError>(())
    };
    match attempt.await {
        Ok(()) => {
            state.mark_accrual_due();
            Ok(see_other(&after_form(&state, old.person.clone(), old.started_at, "withdrawn", &old.page_id).await))
        }
        Err(error) => refused_form(&state, &session, format!("withdraw-{id}"), form.values(), error).await,
    }
}

// ---- The dashboard ----

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    /// Start of the range: a date (`2026-01-01`, midnight UTC) or an RFC 3339 instant.
    pub from: Option<String>,
    /// End of the range (not included), the same way; default: now.
    pub to: Option<String>,
    /// One of the viewer's teams; empty or absent: all of them.
    pub team: Option<String>,
    /// What the cost breakdown is grouped by: `alert_key` (default), `service`, `team`, `month`.
    pub group_by: Option<String>,
}

/// A range bound as a date (midnight UTC) or an RFC 3339 instant, naming `field` on error.
fn range_bound(field: &str, text: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else { return Ok(None) };
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Some(format!("{date}T00:00:00Z")));
    }
    crate::domain::timestamp::parse_rfc3339(text)
        .map(|_| Some(text.to_owned()))
        .map_err(|_| ApiError::invalid(field, "expected a date such as 2026-01-31 or an RFC 3339 time"))
}

/// The controls of a dashboard request, checked; the reach narrowed to the chosen team.
async fn controls(
    state: &AppState,
    session: &Session,
    query: DashboardQuery,
) -> Result<(pages::dashboard::Controls, Reach, Vec<String>), ApiError> {
    let group_by = super::dashboard::parse_group_by(query.group_by.as_deref().filter(|text| !text.is_empty()))?;
    let from = range_bound("from", query.from.as_deref())?;
    let to = range_bound("to", query.to.as_deref())?;
    let (from, to) = super::dashboard::range(from.as_deref(), to.as_deref())?;
    let reach = super::access::reach(state, &session.caller).await?;
    let teams: Vec<String> = match reach.team_list() {
        Some(teams) => teams,
        None => with_conn(state, crate::storage::teams::list).await?.into_iter().map(|team| team.id).collect(),
    };
    let team = query.team.filter(|team| !team.is_empty());
    let reach = match &team {
        None => reach,
        Some(team) if !teams.contains(team) => {
            return Err(match reach {
                Reach::Everyone => ApiError::invalid("team", format!("no team `{team}`")),
                Reach::Within { .. } => {
                    ApiError::new(StatusCode::FORBIDDEN, "forbidden", "that team is not one of yours")
                        .with_field("team")
                }
            });
        }
        Some(team) => {
            let chosen = team.clone();
            let people = with_conn(state, move |conn| crate::storage::people::list(conn, Some(&chosen))).await?;
            Reach::teams([team.clone()], people.into_iter().map(|person| person.id))
        }
    };
    Ok((pages::dashboard::Controls { from, to, team, group_by }, reach, teams))
}

/// `/dashboard`: what on-call cost, for managers (their teams), finance and admins.
#[get("/dashboard")]
pub async fn dashboard(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    let (controls, reach, teams) =
        controls(&state, &session, query.into_inner()).await.map_err(|error| session.fail(error))?;
    let (from, to, group_by) = (controls.from, controls.to, controls.group_by);
    let sees_unowned = reach.is_everyone();
    let read = with_conn(&state, move |conn| -> Result<_, StorageError> {
        let by_team = super::dashboard::debt_for(conn, from, to, GroupBy::Team, &reach)?;
        let by_alert = super::dashboard::debt_for(conn, from, to, GroupBy::AlertKey, &reach)?;
        let breakdown = match group_by {
            GroupBy::Team => None,
            GroupBy::AlertKey => Some(by_alert.clone()),
            other => Some(super::dashboard::debt_for(conn, from, to, other, &reach)?),
        };
        let monthly = figures::monthly_by_team(conn, from, to, reach.team_list().as_deref())?;
        let signals = figures::health_for(conn, from, to, &reach)?;
        Ok((by_team, by_alert, breakdown, monthly, signals))
    })
    .await;
    let (by_team, by_alert, breakdown, monthly, signals) = read.map_err(|error| session.fail(error))?;
    let view = pages::dashboard::Dashboard {
        controls,
        teams,
        by_team: &by_team,
        by_alert: &by_alert,
        breakdown: breakdown.as_ref().unwrap_or(&by_team),
        monthly: &monthly,
        signals: &signals,
        sees_unowned,
    };
    Ok(session.page(StatusCode::OK, "What on-call costs", "/dashboard", &pages::dashboard::render(&view)))
}

/// `/dashboard/alerts/{key}`: one alert's cost, who it woke and its pages, within reach.
#[get("/dashboard/alerts/{key}")]
pub async fn alert(
    state: web::Data<AppState>,
    session: Session,
    key: web::Path<String>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    let alert = key.into_inner();
    let (controls, reach, _) =
        controls(&state, &session, query.into_inner()).await.map_err(|error| session.fail(error))?;
    let (from, to) = (controls.from, controls.to);
    let key = alert.clone();
    let read = with_conn(&state, move |conn| -> Result<_, StorageError> {
        let cost: Vec<_> = super::dashboard::debt_for(conn, from, to, GroupBy::AlertKey, &reach)?
            .groups
            .into_iter()
            .filter(|line| line.group.key == key)
            .collect();
        let filter = crate::storage::pages::PageFilter {
            alert_key: Some(key.clone()),
            triggered_from: Some(from),
            triggered_to: Some(to),
            limit: ALERT_PAGES_MAX,
            ..Default::default()
        };
        let found = crate::storage::pages::list(conn, &filter)?;
        let calendars: BTreeMap<String, crate::domain::time_class::WorkingCalendar> =
            crate::storage::people::list(conn, None)?
                .iter()
                .filter_map(|person| Some((person.id.clone(), crate::pricing::pay_person(person).ok()?.calendar)))
                .collect();
        let pages: Vec<pages::dashboard::AlertPage> = found
            .into_iter()
            .filter(|page| reach.sees_team(page.owning_team.as_deref()))
            .map(|page| {
                let night =
                    page.acknowledged_by.as_ref().and_then(|person| calendars.get(person)).is_some_and(|calendar| {
                        calendar.classes_at(page.triggered_at).contains(crate::domain::time_class::TimeClass::Night)
                    });
                pages::dashboard::AlertPage {
                    minutes_to_resolve: page.resolved_at.map(|at| (at - page.triggered_at).num_minutes()),
                    woke: reach.redact(page.acknowledged_by.clone()),
                    external_id: page.external_id,
                    title: page.title,
                    service: page.service,
                    team: page.owning_team,
                    triggered_at: page.triggered_at,
                    night,
                }
            })
            .collect();
        Ok((cost, pages))
    })
    .await;
    let (cost, found) = read.map_err(|error| session.fail(error))?;
    let body = pages::dashboard::render_alert(&alert, &controls, &cost, &found);
    Ok(session.page(StatusCode::OK, &format!("Alert {alert}"), "/dashboard", &body))
}

// ---- Finance ----

/// `/periods`: the pay periods, their state and their files.
#[get("/periods")]
pub async fn periods_page(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<PeriodsQuery>,
) -> Result<HttpResponse, PageError> {
    let PeriodsQuery { period, done } = query.into_inner();
    let read = with_conn(&state, move |conn| {
        let periods = crate::storage::ledger::list_periods(conn)?;
        // The pay run shown: the one asked for, else the earliest period not yet closed.
        let shown = period.or_else(|| periods.iter().find(|period| period.is_open()).map(|period| period.id.clone()));
        let review = match shown {
            Some(id) => Some(crate::pay_run::review(conn, &id)?),
            None => None,
        };
        Ok::<_, ApiError>((periods, review))
    })
    .await;
    let (periods, review) = read.map_err(|error| session.fail(error))?;
    let done = done.as_deref().and_then(step_done);
    let section = review.as_ref().map(|review| pages::periods::pay_run_section(review, &session.csrf, done));
    Ok(session.page(StatusCode::OK, "Pay periods", "/periods", &pages::periods::render(&periods, section.as_deref())))
}

#[derive(Debug, Deserialize)]
pub struct PeriodsQuery {
    /// The period whose pay run is shown; default: the earliest not yet closed.
    pub period: Option<String>,
    /// The step the last form took, for its notice.
    pub done: Option<String>,
}

/// The notice of a pay run step that went through (only the known words are echoed).
fn step_done(step: &str) -> Option<&'static str> {
    match step {
        "approve" => Some("approved"),
        "reopen" => Some("approval withdrawn"),
        "close" => Some("closed for good"),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
pub struct StepForm {
    #[serde(default)]
    pub csrf: String,
    pub step: String,
    pub reason: Option<String>,
}

/// A pay run step from finance's page: approve, withdraw the approval, or close, each with
/// its reason; the same use cases and rules (order, four-eyes) as the API.
#[post("/periods/{id}/step")]
pub async fn pay_run_step(
    state: web::Data<AppState>,
    session: Session,
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<StepForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    session.check_form(&request, &form.csrf)?;
    let id = id.into_inner();
    let actor = super::access::Actor(Some(session.caller.clone()));
    let (by, at) = (super::periods::identity(&actor), actor.stamp().at);
    let step = form.step.clone();
    let (period, reason) = (id.clone(), form.reason.clone());
    let result = with_conn(&state, move |conn| {
        let reason = reason.as_deref();
        match step.as_str() {
            "approve" => crate::pay_run::approve(conn, &period, &by, reason, at),
            "reopen" => crate::pay_run::reopen(conn, &period, &by, reason, at),
            "close" => crate::pay_run::close(conn, &period, &by, reason, at),
            _ => Err(crate::pay_run::PayRunError::Invalid(crate::domain::field_error::FieldError::new(
                "step",
                "is approve, reopen or close",
            ))),
        }
    })
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/periods?period={}&done={}",
            crate::web::dashboard::url_component(&id),
            crate::web::dashboard::url_component(&form.step)
        ))),
        Err(error) => Err(session.fail(error)),
    }
}

#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    pub layout: Option<String>,
    pub format: Option<String>,
}

/// A period's payroll file, for finance's page (the session cookie authenticates it).
#[get("/periods/{id}/payroll")]
pub async fn payroll(
    state: web::Data<AppState>,
    session: Session,
    request: HttpRequest,
    id: web::Path<String>,
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    let stamp = crate::storage::Stamp::new(session.caller.actor(), super::now());
    super::reports::payroll_file(&state, &request, id.into_inner(), query.layout, query.format, stamp)
        .await
        .map_err(|error| session.fail(error))
}

/// A period's accruals file, for finance's page.
#[get("/periods/{id}/accruals")]
pub async fn accruals(
    state: web::Data<AppState>,
    session: Session,
    request: HttpRequest,
    id: web::Path<String>,
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse, PageError> {
    super::reports::accruals_file(&state, &request, id.into_inner(), query.into_inner().format)
        .await
        .map_err(|error| session.fail(error))
}
