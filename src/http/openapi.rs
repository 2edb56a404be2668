//! The OpenAPI document, generated from the handlers' annotations so it cannot drift,
//! and Swagger UI served from the binary (no CDN: it works offline).

use actix_web::{HttpResponse, get};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::{
    dashboard, error, health, ledger, mappings, pages, people, policies, reports, services, shifts, teams, tokens,
    webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "paydown", description = "On-call cost and pay ledger: pages, responses, shifts, pay and reliability debt."),
    paths(
        health::healthz, health::readyz,
        teams::create, teams::list, teams::read, teams::update,
        people::create, people::list, people::read, people::update, people::responses,
        services::create, services::list, services::read, services::update,
        shifts::create, shifts::create_batch, shifts::list,
        pages::record, pages::list, pages::read, pages::record_response, pages::responses,
        ledger::accrue, ledger::list_entries, ledger::verify, ledger::list_periods, ledger::read_period, ledger::close, ledger::audit, tokens::create, tokens::list, tokens::revoke, webhooks::receive, mappings::unmatched, mappings::list, mappings::create, reports::payroll, reports::accruals, dashboard::debt_report, dashboard::health_report, dashboard::page,
        policies::create, policies::list, policies::read, policies::assign, policies::assignments, policies::statement,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&BearerSecurity),
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
        (name = "reports", description = "Payroll exports (layouts as data) and accruals by cost centre"),
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

/// The OpenAPI 3.1 document.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Swagger UI at `/docs/`, reading `/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json"))
}
