//! Who may call what: every endpoint's rule is in `RULES`, and one middleware enforces
//! them before any handler runs. A path without a rule is not served (deny by default).
//!
//! - Authentication: `Authorization: Bearer pdt_…`; a missing, unknown, revoked or
//!   expired token gets 401 at once.
//! - Roles: a token of a role not listed gets 403.
//! - Scope: an engineer token reaches only its own person, a manager token only the
//!   people of its teams. A person outside the scope gets 403 whether or not it exists,
//!   so a 403/404 difference never tells a caller who exists.
//! - Webhooks authenticate by their tool's signature (see `http::webhooks`), not here.

use std::sync::OnceLock;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Path, ResourceDef, ServiceRequest, ServiceResponse, Url};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use super::AppState;
use super::error::ApiError;
use crate::domain::role::Role::{Admin, Engineer, Finance, Ingest, Manager};
use crate::domain::role::{Caller, Role};
use crate::domain::scope::Reach;
use crate::storage::{Stamp, tokens};

/// How far a role's reach is narrowed on an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The role is enough.
    Any,
    /// `{id}` in the path is a person: engineers only themselves, managers their teams.
    PathPerson,
    /// `?person=` must name a person in reach for engineers and managers (required for them).
    QueryPerson,
    /// `?team=` must name one of a manager's teams (required for managers).
    QueryTeam,
    /// The body names a person; the handler checks it against the caller (`Caller::may_act_for`).
    BodyPerson,
}

/// One endpoint's rule.
pub struct Rule {
    pub method: Method,
    pub pattern: &'static str,
    pub roles: &'static [Role],
    pub scope: Scope,
}

const READERS: &[Role] = &[Engineer, Manager, Finance, Admin];
const PAY_READERS: &[Role] = &[Engineer, Manager, Finance];

macro_rules! rule {
    ($method:ident $pattern:literal => $roles:expr, $scope:ident) => {
        Rule { method: Method::$method, pattern: $pattern, roles: $roles, scope: Scope::$scope }
    };
}

/// Every endpoint under `/v1` and who may call it. Public paths are in `PUBLIC`.
pub fn rules() -> Vec<Rule> {
    vec![
        // Facts: pages, responses, shifts.
        rule!(POST "/v1/pages" => &[Admin, Ingest], Any),
        rule!(GET "/v1/pages" => READERS, Any),
        rule!(GET "/v1/pages/{id}" => READERS, Any),
        rule!(POST "/v1/pages/{id}/responses" => &[Engineer, Admin], BodyPerson),
        rule!(GET "/v1/pages/{id}/responses" => READERS, Any),
        // Claims: a manager of the claimant's team (checked by the handler) or finance.
        rule!(POST "/v1/responses/{id}/approve" => &[Manager, Finance], Any),
        rule!(POST "/v1/responses/{id}/reject" => &[Manager, Finance], Any),
        // Corrections: the author (an engineer token of the response's person, checked by
        // the handler) or finance.
        rule!(POST "/v1/responses/{id}/amend" => &[Engineer, Finance], Any),
        rule!(POST "/v1/responses/{id}/withdraw" => &[Engineer, Finance], Any),
        rule!(POST "/v1/shifts" => &[Admin, Ingest], Any),
        rule!(POST "/v1/shifts/batch" => &[Admin, Ingest], Any),
        rule!(GET "/v1/shifts" => READERS, Any),
        rule!(GET "/v1/unmatched" => &[Manager, Finance, Admin], Any),
        rule!(GET "/v1/sync/status" => &[Finance, Admin], Any),
        rule!(GET "/v1/mappings" => &[Admin], Any),
        rule!(POST "/v1/mappings" => &[Admin], Any),
        // The directory.
        rule!(POST "/v1/people" => &[Admin], Any),
        rule!(GET "/v1/people" => &[Manager, Finance, Admin], QueryTeam),
        rule!(GET "/v1/people/{id}" => READERS, PathPerson),
        rule!(PATCH "/v1/people/{id}" => &[Admin], Any),
        rule!(GET "/v1/people/{id}/responses" => READERS, PathPerson),
        rule!(GET "/v1/people/{id}/versions" => READERS, PathPerson),
        rule!(POST "/v1/teams" => &[Admin], Any),
        rule!(GET "/v1/teams" => READERS, Any),
        rule!(GET "/v1/teams/{id}" => READERS, Any),
        rule!(PATCH "/v1/teams/{id}" => &[Admin], Any),
        rule!(POST "/v1/services" => &[Admin], Any),
        rule!(GET "/v1/services" => READERS, Any),
        rule!(GET "/v1/services/{id}" => READERS, Any),
        rule!(PATCH "/v1/services/{id}" => &[Admin], Any),
        // Pay policies and what people are owed.
        rule!(POST "/v1/policies" => &[Admin], Any),
        rule!(GET "/v1/policies" => READERS, Any),
        rule!(GET "/v1/policies/{id}" => READERS, Any),
        rule!(POST "/v1/people/{id}/policy-assignments" => &[Admin], Any),
        rule!(GET "/v1/people/{id}/policy-assignments" => READERS, PathPerson),
        rule!(GET "/v1/people/{id}/statement" => PAY_READERS, PathPerson),
        // The ledger.
        rule!(POST "/v1/ledger/accrue" => &[Finance], Any),
        rule!(GET "/v1/ledger" => PAY_READERS, QueryPerson),
        rule!(GET "/v1/ledger/verify" => &[Finance], Any),
        rule!(GET "/v1/periods" => &[Manager, Finance], Any),
        rule!(GET "/v1/periods/{id}" => &[Finance], Any),
        // The pay run (issue 18): review, approve, reopen, close; manual adjustments.
        rule!(GET "/v1/periods/{id}/review" => &[Finance], Any),
        rule!(POST "/v1/periods/{id}/approve" => &[Finance], Any),
        rule!(POST "/v1/periods/{id}/reopen" => &[Finance], Any),
        rule!(POST "/v1/periods/{id}/close" => &[Finance], Any),
        rule!(POST "/v1/adjustments" => &[Finance], Any),
        // Go-live and four-eyes: finance reads them; only an admin changes the controls
        // finance works under.
        rule!(GET "/v1/settings/pay-run" => &[Finance, Admin], Any),
        rule!(PUT "/v1/settings/pay-run" => &[Admin], Any),
        rule!(GET "/v1/audit" => &[Finance, Admin], Any),
        // Reports.
        rule!(GET "/v1/reports/payroll" => &[Finance], Any),
        rule!(GET "/v1/reports/accruals" => &[Finance], Any),
        rule!(GET "/v1/reports/changes" => &[Finance], Any),
        rule!(GET "/v1/exchange-rates" => &[Finance, Admin], Any),
        rule!(POST "/v1/exchange-rates" => &[Finance, Admin], Any),
        rule!(GET "/v1/settings/reporting-currency" => &[Manager, Finance, Admin], Any),
        rule!(PUT "/v1/settings/reporting-currency" => &[Finance, Admin], Any),
        rule!(GET "/v1/reports/debt" => &[Manager, Finance], Any),
        rule!(GET "/v1/reports/health" => &[Manager, Finance], Any),
        rule!(GET "/v1/settings/cost" => &[Manager, Finance, Admin], Any),
        rule!(PUT "/v1/settings/cost" => &[Finance, Admin], Any),
        // Tokens.
        rule!(POST "/v1/tokens" => &[Admin], Any),
        rule!(GET "/v1/tokens" => &[Admin], Any),
        rule!(POST "/v1/tokens/{id}/revoke" => &[Admin], Any),
        // Operations: the server's figures name routes and counts, no person; still not
        // public, as they tell an outsider how busy the organisation's paging is. A
        // Prometheus that should hold no admin token scrapes `metrics_listen` instead, a
        // separate address without a token (see `http::metrics`).
        rule!(GET "/metrics" => &[Admin], Any),
    ]
}

/// The HTML pages (`http::web`) and who may open them: the only paths the session cookie
/// authenticates. The JSON API takes the `Authorization` header only, so a page on another
/// site cannot ride a signed-in browser into it. Forms here also carry an anti-forgery value
/// (`http::html::Session::csrf`) and are checked for their origin.
pub fn page_rules() -> Vec<Rule> {
    vec![
        rule!(GET "/" => READERS, Any),
        rule!(POST "/pages/{id}/respond" => &[Engineer], Any),
        rule!(POST "/responses/{id}/amend" => &[Engineer], Any),
        rule!(POST "/responses/{id}/withdraw" => &[Engineer], Any),
        rule!(GET "/dashboard" => &[Manager, Finance, Admin], Any),
        rule!(GET "/dashboard/alerts/{key}" => &[Manager, Finance, Admin], Any),
        rule!(GET "/periods" => &[Finance], Any),
        rule!(POST "/periods/{id}/step" => &[Finance], Any),
        rule!(GET "/periods/{id}/payroll" => &[Finance], Any),
        rule!(GET "/periods/{id}/accruals" => &[Finance], Any),
    ]
}

/// Paths anyone may call: probes, the API document and its viewer, sign-in and the stylesheet.
pub const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    "/docs/{tail}*",
    "/login",
    "/logout",
    crate::web::STYLESHEET_PATH,
];

/// The cookie a browser carries its token in after `/login` (HttpOnly, SameSite=Strict,
/// `Secure` over TLS, expiring).
pub const TOKEN_COOKIE: &str = "paydown_token";

/// Whether a path is one of the HTML pages (`page_rules`).
pub fn is_page(path: &str) -> bool {
    compiled().iter().any(|compiled| compiled.page && compiled.def.is_match(path))
}

/// Whether a request that changes something comes from this site's own pages: its `Origin`
/// (or, without one, its `Referer`), when the browser sends one, names this host.
pub fn same_origin(request: &HttpRequest) -> bool {
    let headers = request.headers();
    let claimed =
        headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|value| value.to_str().ok());
    let Some(claimed) = claimed else { return true };
    let info = request.connection_info();
    let Some((_, rest)) = claimed.split_once("://") else { return false };
    let authority = rest.split('/').next().unwrap_or_default();
    authority.eq_ignore_ascii_case(info.host())
}
/// Webhook paths authenticate by signature in their handlers.
pub const WEBHOOKS: &str = "/v1/webhooks/{source}";

struct CompiledRule {
    rule: Rule,
    def: ResourceDef,
    /// An HTML page's rule: the session cookie may authenticate it.
    page: bool,
}

fn compiled() -> &'static [CompiledRule] {
    static RULES: OnceLock<Vec<CompiledRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let api = rules().into_iter().map(|rule| (rule, false));
        let pages = page_rules().into_iter().map(|rule| (rule, true));
        api.chain(pages).map(|(rule, page)| CompiledRule { def: ResourceDef::new(rule.pattern), rule, page }).collect()
    })
}

fn public() -> &'static [ResourceDef] {
    static PUBLIC_DEFS: OnceLock<Vec<ResourceDef>> = OnceLock::new();
    PUBLIC_DEFS.get_or_init(|| PUBLIC.iter().map(|pattern| ResourceDef::new(*pattern)).collect())
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// The middleware: authenticate, then check the endpoint's rule.
pub async fn authorize(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = request.path().to_owned();
    if public().iter().any(|def| def.is_match(&path)) || ResourceDef::new(WEBHOOKS).is_match(&path) {
        return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
    }
    match check(&request, &path).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.call(request).await.map(ServiceResponse::map_into_boxed_body)
        }
        Err(error) if is_page(&path) => {
            let response = super::html::refused_page(request.request(), &error);
            Ok(request.into_response(response))
        }
        Err(error) => {
            let mut response = error.error_response();
            if error.status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            }
            Ok(request.into_response(response))
        }
    }
}

async fn check(request: &ServiceRequest, path: &str) -> Result<Caller, ApiError> {
    let matching: Vec<&CompiledRule> = compiled().iter().filter(|compiled| compiled.def.is_match(path)).collect();
    if matching.is_empty() {
        return Err(ApiError::not_found(format!("no route for {} {path}", request.method())));
    }
    let Some(found) = matching.iter().find(|compiled| compiled.rule.method == *request.method()) else {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} is not allowed on {path}", request.method()),
        ));
    };
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no state"))?;
    let page = found.page;
    let from_cookie = || {
        let safe = matches!(*request.method(), Method::GET | Method::HEAD);
        (page && (safe || same_origin(request.request())))
            .then(|| request.cookie(TOKEN_COOKIE).map(|cookie| cookie.value().to_owned()))
            .flatten()
    };
    let secret = bearer(request.headers()).or_else(from_cookie).ok_or_else(|| {
        unauthenticated("an API token is required: send `Authorization: Bearer <token>` (browsers: sign in at /login)")
    })?;
    let now = super::now();
    let caller =
        super::with_conn(state, move |conn| tokens::authenticate(conn, &secret, now)).await?.map_err(|rejection| {
            match rejection {
                tokens::Rejection::Unknown => unauthenticated("the API token is not valid"),
                tokens::Rejection::Revoked => unauthenticated("the API token was revoked"),
                tokens::Rejection::Expired => unauthenticated("the API token has expired"),
            }
        })?;
    let rule = &found.rule;
    if !rule.roles.contains(&caller.role) {
        return Err(forbidden(&format!(
            "{} token may not {} {}",
            crate::domain::role::with_article(caller.role),
            request.method(),
            rule.pattern
        )));
    }
    let mut params = Path::new(Url::new(request.uri().clone()));
    found.def.capture_match_info(&mut params);
    let query = web::Query::<std::collections::HashMap<String, String>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    match rule.scope {
        Scope::Any | Scope::BodyPerson => {}
        Scope::PathPerson => require_person_in_reach(state, &caller, params.get("id")).await?,
        Scope::QueryPerson => {
            if matches!(caller.role, Engineer | Manager) {
                let person = query.get("person").map(String::as_str);
                if person.is_none() {
                    return Err(forbidden("name the person: `?person=` is required for this token"));
                }
                require_person_in_reach(state, &caller, person).await?;
            }
        }
        Scope::QueryTeam => {
            if caller.role == Manager {
                match query.get("team") {
                    Some(team) if caller.teams.contains(team) => {}
                    Some(_) => return Err(forbidden("this token may not see that team")),
                    None => return Err(forbidden("name one of your teams: `?team=` is required for this token")),
                }
            }
        }
    }
    Ok(caller)
}

fn bearer(headers: &header::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned()).filter(|token| !token.is_empty())
}

async fn require_person_in_reach(
    state: &web::Data<AppState>,
    caller: &Caller,
    person: Option<&str>,
) -> Result<(), ApiError> {
    let Some(person) = person else { return Ok(()) };
    if reach(state, caller).await?.sees_person(person) { Ok(()) } else { Err(person_denied()) }
}

/// The one answer to a person outside the caller's reach (whether or not they exist).
pub fn person_denied() -> ApiError {
    forbidden("this token may not see that person")
}

/// **The scope rule**, the one every answer carrying people's data passes through
/// (statements, lists, reports, the dashboard): finance and admin see everyone; a manager
/// the people whose team is one of theirs; an engineer themself only.
pub async fn reach(state: &AppState, caller: &Caller) -> Result<Reach, ApiError> {
    match caller.role {
        Finance | Admin | Ingest => Ok(Reach::Everyone),
        Engineer => Ok(Reach::person(caller.person.clone())),
        Manager => {
            let teams = caller.teams.clone();
            let people = super::with_conn(state, move |conn| {
                let mut people = Vec::new();
                for team in &teams {
                    people.extend(crate::storage::people::list(conn, Some(team))?.into_iter().map(|person| person.id));
                }
                Ok::<_, crate::storage::StorageError>(people)
            })
            .await?;
            Ok(Reach::teams(caller.teams.iter().cloned(), people))
        }
    }
}

/// The caller's reach as an extractor: handlers of answers with people's data take it.
/// A request without a caller (public paths) reaches nobody.
impl FromRequest for Reach {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reach, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = request.extensions().get::<Caller>().cloned();
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            match (caller, state) {
                (Some(caller), Some(state)) => reach(&state, &caller).await,
                _ => Ok(Reach::person(None)),
            }
        })
    }
}

impl Caller {
    /// Whether this caller may log or change facts for `person` (engineers: only themselves).
    pub fn may_act_for(&self, person: &str) -> bool {
        self.role != Engineer || self.person.as_deref() == Some(person)
    }
}

/// The caller as an extractor, for handlers that stamp writes or check body scope.
pub struct Actor(pub Option<Caller>);

impl Actor {
    /// The stamp of a write made by this caller now.
    pub fn stamp(&self) -> Stamp {
        let actor = self.0.as_ref().map_or_else(|| super::API_ACTOR.to_owned(), Caller::actor);
        Stamp::new(actor, super::now())
    }
}

impl FromRequest for Actor {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Actor, actix_web::Error>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Actor(request.extensions().get::<Caller>().cloned())))
    }
}
