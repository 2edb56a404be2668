//! `/v1/webhooks/{source}` with the real payloads of the tools, signed, tampered with,
//! replayed, delivered twice and out of order.

use chrono::{Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use paydown::domain::role::Role;
use paydown::ingest::config::IngestConfig;

on_both_backends!(
    pagerduty_signed_deliveries_land_once_in_any_order,
    pagerduty_tampered_replayed_and_unsigned_deliveries_are_refused,
    alertmanager_and_opsgenie_accept_bearer_tokens,
    standard_webhooks_signatures_and_their_replay_window,
    malformed_payloads_name_the_field_in_the_tools_payload,
);

const PD_SECRET: &str = "pagerduty-test-secret";
const OLD_PD_SECRET: &str = "pagerduty-retired-secret";
const GRAFANA_SECRET: &str = "grafana-oncall-test-secret";
const OPSGENIE_TOKEN: &str = "opsgenie-shared-token";

fn app(backend: Backend) -> TestApp {
    let mut app = TestApp::new(backend);
    let opsgenie_hash = paydown::storage::tokens::secret_hash(OPSGENIE_TOKEN);
    app.ingest = IngestConfig::parse(&format!(
        r#"
replay_window_seconds = 600
[sources.pagerduty]
hmac_secrets = ["{OLD_PD_SECRET}", "{PD_SECRET}"]
[sources.grafana_oncall]
hmac_secrets = ["{GRAFANA_SECRET}"]
[sources.opsgenie]
bearer_sha256 = ["{opsgenie_hash}"]
"#
    ))
    .unwrap();
    app
}

fn sample(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/tests/samples/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A PagerDuty sample as delivered now: `occurred_at` moved to `at`, then signed.
fn pagerduty(path: &str, at: chrono::DateTime<Utc>) -> Vec<u8> {
    let mut payload = sample(path);
    payload["event"]["occurred_at"] = Value::String(at.to_rfc3339());
    serde_json::to_vec(&payload).unwrap()
}

async fn post_pagerduty(app: &TestApp, body: &[u8], signature: String) -> crate::helpers::Reply {
    app.post_with_headers(
        "/v1/webhooks/pagerduty",
        body,
        &[("content-type", "application/json".into()), ("x-pagerduty-signature", signature)],
    )
    .await
}

async fn pagerduty_signed_deliveries_land_once_in_any_order(backend: Backend) {
    let app = app(backend);
    let now = Utc::now();
    // One incident: the real trigger capture, and its resolve made from it (the same
    // incident id, resolved five minutes later). The resolve arrives first, then the
    // trigger, then the trigger again.
    let created_at = (now - Duration::minutes(5)).to_rfc3339();
    let mut trigger_payload = sample("pagerduty/webhooks_v3/zulip/triggered_v3.json");
    trigger_payload["event"]["occurred_at"] = Value::String(created_at.clone());
    trigger_payload["event"]["data"]["created_at"] = Value::String(created_at);
    let mut resolve_payload = trigger_payload.clone();
    resolve_payload["event"]["event_type"] = Value::String("incident.resolved".into());
    resolve_payload["event"]["data"]["status"] = Value::String("resolved".into());
    resolve_payload["event"]["occurred_at"] = Value::String(now.to_rfc3339());
    let triggered = serde_json::to_vec(&trigger_payload).unwrap();
    let resolved = serde_json::to_vec(&resolve_payload).unwrap();
    let first = post_pagerduty(&app, &resolved, format!("v1={}", hmac_hex(PD_SECRET, &resolved))).await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    let page_id = first.body["pages"][0].as_str().unwrap().to_owned();
    // During a secret rotation PagerDuty signs with both; only one has to match.
    let rotation =
        format!("v1={},v1={}", hmac_hex("some-other-secret", &triggered), hmac_hex(OLD_PD_SECRET, &triggered));
    let second = post_pagerduty(&app, &triggered, rotation).await;
    assert_eq!(second.status, 202, "{:?}", second.body);
    let again = post_pagerduty(&app, &triggered, format!("v1={}", hmac_hex(PD_SECRET, &triggered))).await;
    assert_eq!(again.body["pages"][0], second.body["pages"][0]);

    let page = app.get(&format!("/v1/pages/{page_id}")).await.body;
    assert_eq!(page["source"], "pagerduty");
    assert_eq!(page["status"], "resolved");
    assert_eq!(page["delivery_count"], 3);
    assert_eq!(second.body["pages"][0], page_id.as_str(), "trigger and resolve are one page");
    let all = app.get("/v1/pages?source=pagerduty").await.body;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let audit = app.get(&format!("/v1/audit?entity=page&id={page_id}")).await.body;
    assert_eq!(audit[0]["actor"], "webhook:pagerduty");
}

async fn pagerduty_tampered_replayed_and_unsigned_deliveries_are_refused(backend: Backend) {
    let app = app(backend);
    let body = pagerduty("pagerduty/webhooks_v3/zulip/triggered_v3.json", Utc::now());
    let signature = format!("v1={}", hmac_hex(PD_SECRET, &body));
    let mut tampered = body.clone();
    let position = tampered.iter().position(|byte| *byte == b'T').unwrap();
    tampered[position] = b'X';
    let refused = post_pagerduty(&app, &tampered, signature.clone()).await;
    assert_eq!((refused.status, refused.error_code()), (401, Some("unauthenticated")), "{:?}", refused.body);
    let wrong_secret = post_pagerduty(&app, &body, format!("v1={}", hmac_hex("guessed", &body))).await;
    assert_eq!(wrong_secret.status, 401);
    // The real capture, signed correctly but from 2021: a replay.
    let old = std::fs::read(format!(
        "{}/tests/samples/pagerduty/webhooks_v3/zulip/triggered_v3.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let replayed = post_pagerduty(&app, &old, format!("v1={}", hmac_hex(PD_SECRET, &old))).await;
    assert_eq!((replayed.status, replayed.error_code()), (401, Some("replayed")), "{:?}", replayed.body);
    let unsigned = app.post_with_headers("/v1/webhooks/pagerduty", &body, &[]).await;
    assert_eq!(unsigned.status, 401);
    // The go-pagerduty vector: its own secret and signature, checked by the same code.
    let vector_body =
        std::fs::read(format!("{}/tests/samples/pagerduty/signature_vector/body.json", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    let vector_secret = std::fs::read_to_string(format!(
        "{}/tests/samples/pagerduty/signature_vector/secret.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(
        hmac_hex(vector_secret.trim(), &vector_body),
        std::fs::read_to_string(format!(
            "{}/tests/samples/pagerduty/signature_vector/valid_signature.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .trim()
        .trim_start_matches("v1=")
    );
    assert!(
        app.get("/v1/pages?source=pagerduty").await.body.as_array().unwrap().is_empty(),
        "nothing refused was recorded"
    );
}

async fn alertmanager_and_opsgenie_accept_bearer_tokens(backend: Backend) {
    let app = app(backend);
    app.seed_basics().await;
    let ingest = app.token(Role::Ingest, None, &[]);
    let engineer = app.token(Role::Engineer, Some("alice"), &[]);
    let body =
        std::fs::read(format!("{}/tests/samples/alertmanager/zulip/alert.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let bearer = |token: &str| {
        vec![("authorization", format!("Bearer {token}")), ("content-type", "application/json".to_owned())]
    };
    assert_eq!(app.post_with_headers("/v1/webhooks/alertmanager", &body, &[]).await.status, 401);
    assert_eq!(app.post_with_headers("/v1/webhooks/alertmanager", &body, &bearer(&engineer)).await.status, 403);
    let accepted = app.post_with_headers("/v1/webhooks/alertmanager", &body, &bearer(&ingest)).await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    assert_eq!(accepted.body["pages"].as_array().unwrap().len(), 2, "one page per alert of the group");
    let again = app.post_with_headers("/v1/webhooks/alertmanager", &body, &bearer(&ingest)).await;
    assert_eq!(again.body["pages"], accepted.body["pages"], "a repeated group changes nothing");
    // Unknown services are kept, as un-owned pages.
    assert_eq!(app.get("/v1/pages?unowned=true").await.body.as_array().unwrap().len(), 2);

    let create =
        std::fs::read(format!("{}/tests/samples/opsgenie/zulip/create.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let close =
        std::fs::read(format!("{}/tests/samples/opsgenie/zulip/close.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let shared = bearer(OPSGENIE_TOKEN);
    assert_eq!(app.post_with_headers("/v1/webhooks/opsgenie", &create, &bearer("not-the-token")).await.status, 401);
    let created = app.post_with_headers("/v1/webhooks/opsgenie", &create, &shared).await;
    assert_eq!(created.status, 202, "{:?}", created.body);
    let closed = app.post_with_headers("/v1/webhooks/opsgenie", &close, &shared).await;
    assert_eq!(closed.status, 202, "{:?}", closed.body);
    let note =
        std::fs::read(format!("{}/tests/samples/opsgenie/zulip/addnote.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let ignored = app.post_with_headers("/v1/webhooks/opsgenie", &note, &shared).await;
    assert_eq!(ignored.status, 202);
    assert!(ignored.body["ignored"].as_str().is_some(), "an ignored event says why: {:?}", ignored.body);
}

async fn standard_webhooks_signatures_and_their_replay_window(backend: Backend) {
    use base64::Engine;
    let app = app(backend);
    let body = std::fs::read(format!(
        "{}/tests/samples/grafana_oncall/docs/outgoing_webhook_resolve_example.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let sign = |timestamp: i64| {
        let mut mac = Hmac::<Sha256>::new_from_slice(GRAFANA_SECRET.as_bytes()).unwrap();
        mac.update(format!("msg_1.{timestamp}.").as_bytes());
        mac.update(&body);
        let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        vec![
            ("webhook-id", "msg_1".to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", format!("v1,{signature}")),
        ]
    };
    let now = Utc::now().timestamp();
    let accepted = app.post_with_headers("/v1/webhooks/grafana-oncall", &body, &sign(now)).await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    assert_eq!(app.get("/v1/pages?source=grafana_oncall").await.body[0]["status"], "resolved");
    let replayed = app.post_with_headers("/v1/webhooks/grafana_oncall", &body, &sign(now - 3_600)).await;
    assert_eq!((replayed.status, replayed.error_code()), (401, Some("replayed")));
    let mut forged = sign(now);
    forged[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    assert_eq!(app.post_with_headers("/v1/webhooks/grafana_oncall", &body, &forged).await.status, 401);
}

async fn malformed_payloads_name_the_field_in_the_tools_payload(backend: Backend) {
    let app = app(backend);
    let ingest = app.token(Role::Ingest, None, &[]);
    let headers = vec![("authorization", format!("Bearer {ingest}"))];
    let mut payload = sample("alertmanager/zulip/alert.json");
    payload["alerts"][1]["startsAt"] = Value::String("2026-10-03 02:14".into());
    let reply =
        app.post_with_headers("/v1/webhooks/alertmanager", &serde_json::to_vec(&payload).unwrap(), &headers).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.error_field(), Some("alerts[1].startsAt"));
    let not_json = app.post_with_headers("/v1/webhooks/alertmanager", b"{\"alerts\": [", &headers).await;
    assert_eq!(not_json.status, 400);
    let unknown = app.post_with_headers("/v1/webhooks/nagios", b"{}", &headers).await;
    assert_eq!((unknown.status, unknown.error_field()), (404, Some("source")));
    assert!(app.get("/v1/pages").await.body.as_array().unwrap().is_empty());
}
