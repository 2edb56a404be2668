//! `/v1/webhooks/{source}`: deliveries from paging tools, authenticated by the tool's
//! own scheme rather than by the access middleware (`http::access::WEBHOOKS`).
//!
//! A delivery is accepted when one of these holds, tried in this order:
//! 1. PagerDuty: `X-PagerDuty-Signature` matches an HMAC secret of `sources.pagerduty`
//!    (several during a rotation), and the event's `occurred_at` is within the replay
//!    window;
//! 2. Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) match a
//!    secret of the source, with the timestamp within the replay window;
//! 3. `Authorization: Bearer` carries a paydown API token of the `ingest` or `admin`
//!    role, or a token whose SHA-256 is listed for the source.
//!
//! Every comparison is constant-time. The body is then mapped by the tool's mapper
//! (`ingest::*`) and each page delivery recorded idempotently; an event that changes no
//! page is answered 202 with the reason it was ignored.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{ApiError, ErrorBody};
use super::extract::RawBody;
use super::{AppState, now};
use crate::domain::role::Role;
use crate::ingest::signature::{self, SignatureError};
use crate::ingest::{self, Outcome};
use crate::metrics::DeliveryOutcome;
use crate::storage::{Stamp, pages, tokens};

/// What a webhook delivery did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookResult {
    pub source: String,
    /// The tool's event name(s).
    pub events: Vec<String>,
    /// Pages created or updated, by id.
    pub pages: Vec<String>,
    /// When the event changes no page: why it was ignored.
    pub ignored: Option<String>,
}

fn unauthenticated(message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

fn signature_error(error: SignatureError) -> ApiError {
    match error {
        SignatureError::Replay { .. } => ApiError::new(StatusCode::UNAUTHORIZED, "replayed", error.to_string()),
        other => unauthenticated(other.to_string()),
    }
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|value| value.to_str().ok())
}

/// Who sent the delivery, once authenticated.
async fn authenticate(
    state: &AppState,
    source: &str,
    request: &HttpRequest,
    body: &[u8],
    at: DateTime<Utc>,
) -> Result<String, ApiError> {
    let secrets = state.ingest.secrets(source);
    let window = chrono::Duration::seconds(state.ingest.replay_window_seconds);
    if let Some(signature_header) = header(request, signature::PAGERDUTY_HEADER).filter(|_| source == "pagerduty") {
        let keys: Vec<&[u8]> = secrets.hmac_secrets.iter().map(|secret| secret.expose().as_bytes()).collect();
        if keys.is_empty() {
            return Err(unauthenticated(
                "no PagerDuty signing secret is configured (sources.pagerduty.hmac_secrets)".into(),
            ));
        }
        signature::verify_pagerduty(&keys, signature_header, body).map_err(signature_error)?;
        // PagerDuty v3 signs no timestamp; the signed body's occurred_at bounds replays.
        let occurred_at = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|value| value["event"]["occurred_at"].as_str().map(str::to_owned))
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|instant| instant.with_timezone(&Utc));
        match occurred_at {
            Some(occurred_at) if (at - occurred_at).abs() <= window => {}
            Some(occurred_at) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "replayed",
                    format!(
                        "the event occurred at {occurred_at}, outside the replay window of {} s",
                        window.num_seconds()
                    ),
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    "event.occurred_at",
                    "a signed PagerDuty event must say when it occurred",
                ));
            }
        }
        return Ok(format!("webhook:{source}"));
    }
    // Svix (incident.io's sender) may name the Standard Webhooks headers `svix-*`.
    let standard =
        |name: &str| header(request, &format!("webhook-{name}")).or_else(|| header(request, &format!("svix-{name}")));
    if let (Some(id), Some(timestamp), Some(signatures)) =
        (standard("id"), standard("timestamp"), standard("signature"))
    {
        if secrets.hmac_secrets.is_empty() {
            return Err(unauthenticated(format!(
                "no signing secret is configured for {source} (sources.{source}.hmac_secrets)"
            )));
        }
        let mut last_error = SignatureError::Mismatch;
        for secret in &secrets.hmac_secrets {
            match signature::verify_standard_webhooks(secret.expose(), id, timestamp, signatures, body, at, window) {
                Ok(()) => return Ok(format!("webhook:{source}")),
                Err(error @ SignatureError::Replay { .. }) => return Err(signature_error(error)),
                Err(error) => last_error = error,
            }
        }
        return Err(signature_error(last_error));
    }
    let Some(authorization) = header(request, "authorization") else {
        return Err(unauthenticated(format!(
            "{source} deliveries must be signed or carry `Authorization: Bearer <ingest token>`"
        )));
    };
    for hash in &secrets.bearer_sha256 {
        let mut expected = [0_u8; 32];
        if hex::decode_to_slice(hash, &mut expected).is_ok()
            && signature::verify_bearer(&expected, authorization).is_ok()
        {
            return Ok(format!("webhook:{source}"));
        }
    }
    let secret = authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .ok_or_else(|| unauthenticated("expected `Authorization: Bearer <token>`".into()))?;
    let caller = super::with_conn(state, move |conn| tokens::authenticate(conn, &secret, at))
        .await?
        .map_err(|_| unauthenticated("the bearer token is not valid, revoked or expired".into()))?;
    if !matches!(caller.role, Role::Ingest | Role::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{} token may not deliver pages", crate::domain::role::with_article(caller.role)),
        ));
    }
    Ok(format!("{} via {source}", caller.actor()))
}

/// Receives one webhook delivery from a paging tool.
#[utoipa::path(post, path = "/v1/webhooks/{source}", tag = "webhooks",
    params(("source" = String, Path, description = "pagerduty, alertmanager, opsgenie, grafana_oncall or incidentio")),
    request_body(content = Object, description = "The tool's own webhook payload, unchanged"),
    responses(
        (status = 202, body = WebhookResult),
        (status = 400, description = "The payload is malformed; `field` is the path in the tool's payload", body = ErrorBody),
        (status = 401, description = "Missing or wrong signature, or a replay outside the window", body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(()))]
#[post("/webhooks/{source}")]
pub async fn receive(
    state: web::Data<AppState>,
    request: HttpRequest,
    source: web::Path<String>,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let source = source.into_inner().replace('-', "_");
    let Some(source) = ingest::SOURCES.iter().copied().find(|known| *known == source) else {
        return Err(ApiError::not_found(format!(
            "unknown webhook source `{source}`: expected one of {}",
            ingest::SOURCES.join(", ")
        ))
        .with_field("source"));
    };
    let delivered = deliver(&state, source, &request, &body).await;
    let outcome = match &delivered {
        Ok(result) if result.ignored.is_some() => DeliveryOutcome::Ignored,
        Ok(_) => DeliveryOutcome::Recorded,
        Err(error) if matches!(error.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
            DeliveryOutcome::Unauthenticated
        }
        Err(error) if error.status.is_client_error() => DeliveryOutcome::Invalid,
        Err(_) => DeliveryOutcome::Failed,
    };
    state.metrics.observe_delivery(source, outcome);
    Ok(HttpResponse::Accepted().json(delivered?))
}

/// Authenticates, maps and records one delivery of a known source.
async fn deliver(
    state: &web::Data<AppState>,
    source: &'static str,
    request: &HttpRequest,
    body: &[u8],
) -> Result<WebhookResult, ApiError> {
    let at = now();
    let actor = authenticate(state, source, request, body, at).await?;
    let mapping = state.ingest.mapping.clone();
    let outcome = match source {
        "pagerduty" => ingest::pagerduty::map(body, &mapping),
        "alertmanager" => ingest::alertmanager::map(body, &mapping),
        "opsgenie" => ingest::opsgenie::map(body, &mapping),
        "incidentio" => ingest::incidentio::map(body, &mapping),
        _ => ingest::grafana_oncall::map(body, &mapping),
    }
    .map_err(|error| ApiError::invalid(error.field, error.message))?;
    let deliveries = match outcome {
        Outcome::Ignored { event, reason } => {
            tracing::info!(webhook.source = source, webhook.event = %event, "webhook event ignored: {reason}");
            return Ok(WebhookResult {
                source: source.to_owned(),
                events: vec![event],
                pages: Vec::new(),
                ignored: Some(reason),
            });
        }
        Outcome::Deliveries(deliveries) => deliveries,
    };
    for mapped in &deliveries {
        crate::domain::field_error::require_text(
            "external_id",
            &mapped.external_id,
            crate::domain::page::KEY_LENGTH_MAX,
        )?;
    }
    let stamp = Stamp::new(actor, at);
    let recorded = super::with_conn(state, move |conn| {
        deliveries
            .iter()
            .map(|mapped| {
                let state = crate::domain::page::PageState::from_delivery(mapped.delivery.clone())
                    .map_err(crate::storage::StorageError::Invalid)?;
                let (page, _) = pages::record_delivery(conn, mapped.source, &mapped.external_id, &state, &stamp)?;
                Ok((mapped.event.clone(), page.id))
            })
            .collect::<Result<Vec<_>, crate::storage::StorageError>>()
    })
    .await?;
    state.mark_accrual_due();
    let (events, pages): (Vec<String>, Vec<String>) = recorded.into_iter().unzip();
    Ok(WebhookResult { source: source.to_owned(), events, pages, ignored: None })
}
