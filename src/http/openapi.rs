//! The OpenAPI document, generated from the handlers' annotations so it cannot drift,
//! and Swagger UI served from the binary (no CDN: it works offline).

use actix_web::{HttpResponse, get};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::{
    dashboard, error, health, ledger, mappings, metrics, pages, people, periods, policies, rates, reports, services,
    settings, shifts, sync, teams, tokens, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "paydown", description = "On-call cost and pay ledger: pages, responses, shifts, pay and reliability debt."),
    paths(
        health::healthz, health::readyz, metrics::scrape,
        teams::create, teams::list, teams::read, teams::update,
        people::create, people::list, people::read, people::update, people::responses, people::versions,
        services::create, services::list, services::read, services::update,
        shifts::create, shifts::create_batch, shifts::list,
        pages::record, pages::list, pages::read, pages::record_response, pages::responses, pages::approve, pages::reject, pages::amend, pages::withdraw,
        ledger::accrue, ledger::list_entries, ledger::verify, ledger::list_periods, ledger::read_period, ledger::audit,
        periods::review, periods::approve, periods::reopen, periods::close, periods::adjust, periods::read_settings, periods::replace_settings, tokens::create, tokens::list, tokens::revoke, webhooks::receive, mappings::unmatched, mappings::list, mappings::create, sync::status, reports::payroll, reports::accruals, reports::changes, rates::list, rates::create, rates::read_reporting, rates::set_reporting, dashboard::debt_report, dashboard::health_report, settings::read, settings::replace,
        policies::create, policies::list, policies::read, policies::assign, policies::assignments, policies::statement,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&BearerSecurity, &ExtractorAndAccessResponses),
    security(("bearer" = [])),
    tags(
        (name = "pages", description = "Paged events, idempotent by (source, external_id)"),
        (name = "responses", description = "Work logged on pages"),
        (name = "shifts", description = "On-call shifts"),
        (name = "people", description = "Responders"),
        (name = "teams", description = "Teams and cost centres"),
        (name = "services", description = "Services and their owners"),
        (name = "policies", description = "Versioned pay policies and their assignment to people"),
        (name = "statements", description = "Priced lines of a person, with explanations"),
        (name = "ledger", description = "Append-only ledger entries, accrual, verification and pay periods"),
        (name = "reports", description = "Payroll exports (layouts as data), accruals by cost centre, changes since the last export, exchange rates for management figures"),
        (name = "tokens", description = "API tokens and their roles (admin)"),
        (name = "webhooks", description = "Deliveries from PagerDuty, Alertmanager, Opsgenie and Grafana OnCall, authenticated by signature"),
        (name = "health", description = "Probes"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme every `/v1` endpoint requires (`http::access`).
struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (`pdt_…`) from `paydown token create` or `POST /v1/tokens`"))
                    .build(),
            ),
        );
    }
}

/// Documents what answers before any handler runs, on every operation it can happen to,
/// as the usual error envelope:
///
/// - the access middleware (`http::access`), on every operation a rule guards: 401 for a
///   missing, unknown, revoked or expired token, 403 for a role the rule does not list or a
///   person out of the token's scope (written from `access::rules()`, so it follows them);
/// - the extractors: 400 for a query string that does not parse (`field` is `query`) or a
///   body that is not the documented JSON, 413 for a body over `BODY_BYTES_MAX`, 415 for
///   a body not sent as JSON, 408 for a body that arrives too slowly;
/// - the store: 503 with `Retry-After` when the database is busy or unavailable.
struct ExtractorAndAccessResponses;

impl utoipa::Modify for ExtractorAndAccessResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use actix_web::http::Method;
        use utoipa::openapi::path::{Operation, ParameterIn};
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        fn add(operation: &mut Operation, status: &str, description: &str) {
            operation.responses.responses.entry(status.to_owned()).or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
                        .build(),
                )
            });
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in [
                (Method::GET, item.get.as_mut()),
                (Method::POST, item.post.as_mut()),
                (Method::PATCH, item.patch.as_mut()),
                (Method::PUT, item.put.as_mut()),
                (Method::DELETE, item.delete.as_mut()),
            ] {
                let Some(operation) = operation else {
                    continue;
                };
                if super::access::rules().iter().any(|rule| rule.method == method && rule.pattern == path) {
                    add(operation, "401", "No valid API token: missing, unknown, revoked or expired");
                    add(operation, "403", "The token's role may not call this, or the person is out of its scope");
                }
                let has_query = operation.parameters.iter().flatten().any(|parameter| {
                    matches!(parameter, RefOr::T(parameter) if parameter.parameter_in == ParameterIn::Query)
                });
                if has_query {
                    add(operation, "400", "A query parameter is malformed; `field` names it");
                }
                if operation.request_body.is_some() {
                    add(operation, "400", "The body is not the documented JSON; `field` is the path at fault");
                    add(operation, "413", "The body is larger than 2 MiB");
                    add(operation, "415", "The body is not sent as `Content-Type: application/json`");
                    add(operation, "408", "The body did not arrive within its time limit");
                }
                add(operation, "503", "The database is busy or unavailable; retry after `Retry-After` seconds");
            }
        }
    }
}

/// The OpenAPI 3.1 document.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Swagger UI at `/docs/`, reading `/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json"))
}
