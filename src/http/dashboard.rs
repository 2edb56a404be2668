//! `/v1/reports/debt`, `/v1/reports/health` and the `/dashboard` page (managers and
//! finance). A manager sees the pages of their teams only.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::{AppState, query_range, with_conn};
use crate::dashboard::{self, DebtOverview, HealthOverview};
use crate::domain::debt::GroupBy;
use crate::domain::role::Role;
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

fn range(from: Option<&str>, to: Option<&str>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
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
fn debt_for(
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

/// The dashboard: cost by team and month, the most expensive alerts, out-of-hours pages
/// per person against the bar, response-time percentiles. Server-rendered HTML with
/// inline SVG: no script, no network, printable.
#[utoipa::path(get, path = "/dashboard", tag = "reports", params(DebtQuery), responses((status = 200, description = "HTML")))]
#[get("/dashboard")]
pub async fn page(
    state: web::Data<AppState>,
    reach: Reach,
    query: web::Query<DebtQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (from, to) = range(query.from.as_deref(), query.to.as_deref())?;
    let (by_alert, by_month_team, signals) =
        with_conn(&state, move |conn| -> Result<_, crate::storage::StorageError> {
            let by_alert = debt_for(conn, from, to, GroupBy::AlertKey, &reach)?;
            let signals = dashboard::health_for(conn, from, to, &reach)?;
            let months = dashboard::monthly_by_team(conn, from, to, reach.team_list().as_deref())?;
            Ok((by_alert, months, signals))
        })
        .await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(render(&by_alert, &by_month_team, &signals)))
}

fn render(by_alert: &DebtOverview, monthly: &[dashboard::MonthlyCost], signals: &HealthOverview) -> String {
    use crate::reports::charts::{bar_chart, escape, stacked_monthly};
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>paydown: what on-call costs</title><style>\
         body{font-family:system-ui,sans-serif;margin:1rem auto;max-width:70rem;padding:0 1rem;color:#111}\
         h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}\
         svg{width:100%;height:auto;max-width:60rem}table{border-collapse:collapse;width:100%;font-size:.9rem}\
         td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}td.n{text-align:right}\
         .over{color:#a40000;font-weight:bold}.sentence{font-size:1rem;margin:.3rem 0}\
         @media print{body{max-width:none}h2{break-after:avoid}section{break-inside:avoid}}\
         </style></head><body>",
    );
    html.push_str("<form method=\"post\" action=\"/logout\" style=\"float:right\"><button type=\"submit\">Sign out</button></form>");
    html.push_str(&format!(
        "<h1>What on-call costs</h1><p>Pages triggered from {} to {} (UTC).</p>",
        by_alert.from.format("%Y-%m-%d"),
        by_alert.to.format("%Y-%m-%d")
    ));
    html.push_str("<section id=\"cost-by-team\"><h2>Cost by team and month</h2>");
    for cost in monthly {
        html.push_str(&stacked_monthly(
            &format!("Reliability debt in {}", cost.currency),
            &cost.months,
            &cost.series,
            &cost.currency,
        ));
    }
    html.push_str("</section><section id=\"top-alerts\"><h2>The 10 most expensive alerts</h2>");
    // Only ranked lines compete for the top ten: a figure without a rate into the reporting
    // currency is never compared with one in another currency (the notes say which).
    let top: Vec<_> = by_alert.groups.iter().filter(|line| line.ranked).take(10).collect();
    for line in &top {
        html.push_str(&format!("<p class=\"sentence\">{}</p>", escape(&line.summary)));
    }
    if let Some(first) = top.first() {
        let currency = first.reporting.as_ref().map_or(first.group.currency, |figure| figure.currency);
        let bars: Vec<(String, Decimal)> = top
            .iter()
            .filter_map(|line| match &line.reporting {
                Some(figure) => Some((line.group.key.clone(), figure.total)),
                None => (line.group.currency == currency).then(|| (line.group.key.clone(), line.group.total)),
            })
            .collect();
        html.push_str(&bar_chart(&format!("Most expensive alerts ({})", currency.code()), &bars, currency.code()));
    }
    for note in &by_alert.reporting.notes {
        html.push_str(&format!("<p class=\"note\">{}</p>", escape(note)));
    }
    html.push_str(
        "</section><section id=\"out-of-hours\"><h2>Out-of-hours pages per person, last 365 days (bar: 3)</h2>",
    );
    let bars: Vec<(String, Decimal)> =
        signals.out_of_hours.iter().map(|load| (load.person.clone(), Decimal::from(load.out_of_hours))).collect();
    html.push_str(&bar_chart("Out-of-hours pages per person", &bars, "pages"));
    html.push_str("<table><tr><th>person</th><th>out of hours</th><th>at night</th><th>over the bar</th></tr>");
    for load in &signals.out_of_hours {
        let over = if load.over_bar { "<span class=\"over\">yes</span>" } else { "no" };
        html.push_str(&format!(
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{over}</td></tr>",
            escape(&load.person),
            load.out_of_hours,
            load.night
        ));
    }
    html.push_str(
        "</table></section><section id=\"response-times\"><h2>Time to acknowledge and resolve (minutes)</h2>",
    );
    html.push_str("<table><tr><th>lane</th><th>ack p50</th><th>p90</th><th>p99</th><th>resolve p50</th><th>p90</th><th>p99</th></tr>");
    let minutes = |seconds: i64| format!("{}", seconds / 60);
    for times in &signals.response_times_by_lane {
        let cells = |percentiles: &Option<crate::domain::health::Percentiles>| match percentiles {
            Some(p) => format!(
                "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
                minutes(p.p50),
                minutes(p.p90),
                minutes(p.p99)
            ),
            None => "<td></td><td></td><td></td>".to_owned(),
        };
        html.push_str(&format!(
            "<tr><td>{}</td>{}{}</tr>",
            escape(&times.key),
            cells(&times.ack),
            cells(&times.resolve)
        ));
    }
    html.push_str("</table></section>");
    html.push_str(&format!(
        "<section id=\"rotations\"><h2>Rotation size (healthy: 5–8)</h2><p>{}</p></section>",
        signals
            .rotations
            .iter()
            .map(|rotation| format!("{}: {} ({:?})", escape(&rotation.team), rotation.size, rotation.status))
            .collect::<Vec<_>>()
            .join(" · ")
    ));
    html.push_str("</body></html>");
    html
}

/// How long a browser session lasts before signing in again.
pub const SESSION_MAX_AGE_SECONDS: i64 = 8 * 60 * 60;
/// The login form's anti-forgery cookie (double submit: the form carries the same value).
pub const CSRF_COOKIE: &str = "paydown_csrf";
/// How long a login form may wait before it is sent.
const CSRF_MAX_AGE_SECONDS: i64 = 60 * 60;
/// The roles that have pages to open (the dashboard): the only ones `/login` takes.
pub const ROLES_WITH_PAGES: &[Role] = &[Role::Manager, Role::Finance];

/// Whether the request came over TLS, directly or through a proxy that says so
/// (`Forwarded: proto=https`, `X-Forwarded-Proto: https`).
fn over_tls(request: &HttpRequest) -> bool {
    request.connection_info().scheme() == "https"
}

fn cookie<'a>(request: &HttpRequest, name: &'a str, value: String, max_age: i64, path: &'a str) -> Cookie<'a> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .secure(over_tls(request))
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age))
        .finish()
}

fn login_page(csrf: &str, problem: Option<&str>) -> String {
    use crate::reports::charts::escape;
    let problem =
        problem.map(|text| format!("<p role=\"alert\" class=\"problem\">{}</p>", escape(text))).unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>paydown: sign in</title><style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem}}\
         input{{width:100%;font:inherit;padding:.4rem;margin:.5rem 0}}.problem{{color:#a40000;font-weight:bold}}</style></head><body><h1>paydown</h1>{problem}\
         <form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><label for=\"token\">API token (manager or finance)</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required><button type=\"submit\">Open the dashboard</button></form></body></html>",
        escape(csrf)
    )
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
        .body(login_page(&csrf, None))
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
        .body(login_page(&csrf, Some(problem)))
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
    if !ROLES_WITH_PAGES.contains(&caller.role) {
        return Ok(login_refused(
            &request,
            StatusCode::FORBIDDEN,
            "Only manager and finance tokens have pages here; other tokens use the API.",
        ));
    }
    let mut used = cookie(&request, CSRF_COOKIE, String::new(), 0, "/login");
    used.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/dashboard"))
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
