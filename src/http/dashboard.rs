//! `/v1/reports/debt`, `/v1/reports/health` (managers and finance; a manager sees the pages
//! of their teams only), and browser sign-in and sign-out. The dashboard page is `http::html`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::{AppState, query_range, with_conn};
use crate::dashboard::{self, DebtOverview};
use crate::domain::debt::GroupBy;
use crate::domain::scope::Reach;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DebtQuery {
    /// `alert_key` (default), `service`, `team` or `month`.
    pub group_by: Option<String>,
    /// Start of the range (RFC 3339); default: 90 days before `to`.
    pub from: Option<String>,
    /// End of the range (RFC 3339); default: now.
    pub to: Option<String>,
}

pub(super) fn range(from: Option<&str>, to: Option<&str>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let (from, to) = query_range(from, to)?;
    let to = to.unwrap_or_else(super::now);
    let from = from.unwrap_or(to - chrono::Duration::days(90));
    if to <= from {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    if to - from > chrono::Duration::days(800) {
        return Err(ApiError::invalid("from", "a range covers at most 800 days"));
    }
    Ok((from, to))
}

pub fn parse_group_by(text: Option<&str>) -> Result<GroupBy, ApiError> {
    match text.unwrap_or("alert_key") {
        "alert_key" => Ok(GroupBy::AlertKey),
        "service" => Ok(GroupBy::Service),
        "team" => Ok(GroupBy::Team),
        "month" => Ok(GroupBy::Month),
        _ => Err(ApiError::invalid("group_by", "expected alert_key, service, team or month")),
    }
}

/// The debt report as a caller of `reach` sees it: pages of the teams in reach, and of the
/// responders without a rate only those in reach.
pub(super) fn debt_for(
    conn: &mut crate::storage::AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: GroupBy,
    reach: &Reach,
) -> Result<DebtOverview, crate::storage::StorageError> {
    let mut overview = dashboard::debt(conn, from, to, group_by, reach.team_list().as_deref())?;
    overview.missing_rates.retain(|person| reach.sees_person(person));
    Ok(overview)
}

/// What each page cost the organisation (PRODUCT.md's reliability debt), grouped.
#[utoipa::path(get, path = "/v1/reports/debt", tag = "reports", params(DebtQuery), responses(
    (status = 200, description = "Groups with totals, parts, counts, trend, annualised figure and summary", body = Object),
    (status = 400, body = ErrorBody)))]
#[get("/reports/debt")]
pub async fn debt_report(
    state: web::Data<AppState>,
    reach: Reach,
    query: web::Query<DebtQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let group_by = parse_group_by(query.group_by.as_deref())?;
    let (from, to) = range(query.from.as_deref(), query.to.as_deref())?;
    let overview = with_conn(&state, move |conn| debt_for(conn, from, to, group_by, &reach)).await?;
    Ok(HttpResponse::Ok().json(overview))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HealthQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The health signals: the out-of-hours bar, nights after bad nights, rotation sizes,
/// un-owned pages, noisy alerts, response-time percentiles.
#[utoipa::path(get, path = "/v1/reports/health", tag = "reports", params(HealthQuery), responses(
    (status = 200, body = Object), (status = 400, body = ErrorBody)))]
#[get("/reports/health")]
pub async fn health_report(
    state: web::Data<AppState>,
    reach: Reach,
    query: web::Query<HealthQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (from, to) = range(query.from.as_deref(), query.to.as_deref())?;
    let overview = with_conn(&state, move |conn| dashboard::health_for(conn, from, to, &reach)).await?;
    Ok(HttpResponse::Ok().json(overview))
}

/// How long a browser session lasts before signing in again.
pub const SESSION_MAX_AGE_SECONDS: i64 = 8 * 60 * 60;
/// The login form's anti-forgery cookie (double submit: the form carries the same value).
pub const CSRF_COOKIE: &str = "paydown_csrf";
/// How long a login form may wait before it is sent.
const CSRF_MAX_AGE_SECONDS: i64 = 60 * 60;

/// Whether the request came over TLS, directly or through a proxy that says so
/// (`Forwarded: proto=https`, `X-Forwarded-Proto: https`).
fn over_tls(request: &HttpRequest) -> bool {
    request.connection_info().scheme() == "https"
}

pub(super) fn cookie<'a>(
    request: &HttpRequest,
    name: &'a str,
    value: String,
    max_age: i64,
    path: &'a str,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .secure(over_tls(request))
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age))
        .finish()
}

/// The sign-in form for browsers: paste a token once, it is kept in an HttpOnly cookie. The
/// form carries an anti-forgery value that must come back with it, in the form and a cookie.
#[get("/login")]
pub async fn login_form(request: HttpRequest) -> HttpResponse {
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie(&request, CSRF_COOKIE, csrf.clone(), CSRF_MAX_AGE_SECONDS, "/login"))
        .body(crate::web::login_page(&csrf, None))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub token: String,
    #[serde(default)]
    pub csrf: String,
}

/// The login form again, with what went wrong, as HTML (a browser shows it).
fn login_refused(request: &HttpRequest, status: StatusCode, problem: &str) -> HttpResponse {
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie(request, CSRF_COOKIE, csrf.clone(), CSRF_MAX_AGE_SECONDS, "/login"))
        .body(crate::web::login_page(&csrf, Some(problem)))
}

/// Checks the form's anti-forgery value and origin, then the token and its role, and keeps
/// the token in a cookie only this site sends back, for the HTML pages only.
#[actix_web::post("/login")]
pub async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let expected = request.cookie(CSRF_COOKIE).map(|cookie| cookie.value().to_owned());
    let csrf_matches = expected
        .is_some_and(|expected| !expected.is_empty() && constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()));
    if !csrf_matches || !super::access::same_origin(&request) {
        return Ok(login_refused(
            &request,
            StatusCode::FORBIDDEN,
            "This sign-in form has expired or came from another site: sign in again.",
        ));
    }
    let secret = form.token.trim().to_owned();
    let now = super::now();
    let check = secret.clone();
    let caller = with_conn(&state, move |conn| crate::storage::tokens::authenticate(conn, &check, now)).await?;
    let caller = match caller {
        Ok(caller) => caller,
        Err(_) => {
            return Ok(login_refused(
                &request,
                StatusCode::UNAUTHORIZED,
                "That token is not valid: check it and try again.",
            ));
        }
    };
    // Each role lands on its own page; a token of a role without pages (ingest) is refused.
    let Some(landing) = crate::web::landing(caller.role) else {
        return Ok(login_refused(
            &request,
            StatusCode::FORBIDDEN,
            "That token is for delivering pages and shifts, which has no pages to open here; sign in with your own token.",
        ));
    };
    let mut used = cookie(&request, CSRF_COOKIE, String::new(), 0, "/login");
    used.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, landing))
        .cookie(cookie(&request, super::access::TOKEN_COOKIE, secret, SESSION_MAX_AGE_SECONDS, "/"))
        .cookie(used)
        .finish())
}

/// Signs a browser out: the session cookie is cleared.
#[actix_web::post("/logout")]
pub async fn logout(request: HttpRequest) -> HttpResponse {
    if !super::access::same_origin(&request) {
        return HttpResponse::Forbidden().content_type("text/plain; charset=utf-8").body("cross-site sign-out refused");
    }
    let mut cleared = cookie(&request, super::access::TOKEN_COOKIE, String::new(), 0, "/");
    cleared.make_removal();
    HttpResponse::SeeOther().insert_header((header::LOCATION, "/login")).cookie(cleared).finish()
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
