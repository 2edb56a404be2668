//! Issue #16's findings, each a regression test on both backends: limits on every value,
//! money only as decimal strings, timestamps in a window, no control characters, a bounded
//! Alertmanager body, and work paid once.

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use paydown::ingest::config::IngestConfig;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    money_is_a_decimal_string_everywhere,
    values_beyond_the_limits_are_refused_naming_the_field,
    instants_outside_the_window_are_refused_at_every_door,
    control_characters_are_refused_naming_the_field,
    a_signed_pagerduty_title_with_a_nul_is_a_400,
    an_alertmanager_body_has_a_bounded_number_of_alerts,
    the_same_work_is_paid_once,
    a_policy_at_its_limits_prices_a_week_long_response,
);

fn policy(overrides: Value) -> Value {
    let mut body = json!({"id": "uk", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"});
    for (key, value) in overrides.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

fn fees(night: Value) -> Value {
    json!({"business": "0", "off_hours": "25.00", "night": night, "weekend": "50.00", "holiday": "75.00"})
}

fn multipliers(night: Value) -> Value {
    json!({"business": "1.0", "off_hours": "1.5", "night": night, "weekend": "2.0", "holiday": "2.0"})
}

async fn assert_refused(app: &TestApp, what: &str, reply: crate::helpers::Reply, field: &str) {
    let _ = app;
    assert_eq!(reply.status, 400, "{what}: {:?}", reply.body);
    assert_eq!(reply.error_field(), Some(field), "{what}: {:?}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.len() > 10, "{what}: the message must say what was wrong: {:?}", reply.body);
}

async fn money_is_a_decimal_string_everywhere(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    // The finding: POST /v1/policies took 65.0, 39.5, "6.5e1" and "+65.00" while people's
    // costs refused floats. One parser now: a decimal string, or a 400 naming the field.
    let cases = [
        ("a fee as a JSON number", policy(json!({"callout_fee": fees(json!(65.0))})), "callout_fee.night"),
        ("a fee with an exponent", policy(json!({"callout_fee": fees(json!("6.5e1"))})), "callout_fee.night"),
        ("a fee with a plus sign", policy(json!({"callout_fee": fees(json!("+65.00"))})), "callout_fee.night"),
        ("a rate as a JSON number", policy(json!({"response_rate_per_hour": 39.5})), "response_rate_per_hour"),
        (
            "a multiplier as a JSON number",
            policy(json!({"response_multiplier": multipliers(json!(2))})),
            "response_multiplier.night",
        ),
        ("a factor as a JSON number", policy(json!({"escalation": {"factor": 2}})), "escalation.factor"),
        (
            "a role multiplier with an exponent",
            policy(json!({"standby": {"role_multipliers": {"secondary": "5e-1"}}})),
            "standby.role_multipliers.secondary",
        ),
    ];
    for (what, body, field) in cases {
        assert_refused(&app, what, app.post("/v1/policies", body).await, field).await;
    }
    for text in ["6.5e1", "+65.00"] {
        let reply = app.patch("/v1/people/alice", json!({"loaded_hourly_cost": text})).await;
        assert_refused(&app, text, reply, "loaded_hourly_cost").await;
    }
    let team = app
        .patch("/v1/teams/payments", json!({"default_loaded_hourly_cost": {"currency": "GBP", "amount": "1e2"}}))
        .await;
    assert_refused(&app, "a team cost with an exponent", team, "default_loaded_hourly_cost.amount").await;
    let settings = app.put("/v1/settings/cost", json!({"interruption_overhead_minutes": "1.5e1"})).await;
    assert_refused(&app, "overhead with an exponent", settings, "interruption_overhead_minutes").await;
    // Decimal strings are taken, and read back as posted.
    let created = app.post("/v1/policies", policy(json!({"callout_fee": fees(json!("65.00"))}))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["versions"][0]["callout_fee"]["night"], "65.00");
    assert_eq!(created.body["versions"][0]["callout_cooldown_minutes"], 0);
}

async fn values_beyond_the_limits_are_refused_naming_the_field(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    // The findings: a night multiplier of 10^27 was accepted (201) and later killed the
    // accrual thread; a loaded hourly cost of 90000000000000000.00 was accepted (200) and
    // broke debt, health and the dashboard for everyone.
    let cases = [
        (
            "a multiplier of 10^27",
            policy(json!({"response_multiplier": multipliers(json!("1000000000000000000000000000"))})),
            "response_multiplier.night",
        ),
        (
            "a multiplier above 100",
            policy(json!({"response_multiplier": multipliers(json!("100.5"))})),
            "response_multiplier.night",
        ),
        (
            "a fee above the largest amount",
            policy(json!({"callout_fee": fees(json!("1000000000.01"))})),
            "callout_fee.night",
        ),
        (
            "a rate above the largest amount",
            policy(json!({"response_rate_per_hour": "90000000000000000.00"})),
            "response_rate_per_hour",
        ),
        (
            "a rounding increment above a day",
            policy(json!({"rounding_increment_minutes": 1441})),
            "rounding_increment_minutes",
        ),
        ("a minimum above a day", policy(json!({"minimum_billable_minutes": 100000})), "minimum_billable_minutes"),
        ("a cooldown above a day", policy(json!({"callout_cooldown_minutes": 1441})), "callout_cooldown_minutes"),
        ("a negative cooldown", policy(json!({"callout_cooldown_minutes": -1})), "callout_cooldown_minutes"),
        (
            "an escalation window of ages",
            policy(json!({"escalation": {"window_days": 9223372036854775807_i64}})),
            "escalation.window_days",
        ),
        ("too many free pages", policy(json!({"escalation": {"free_pages": 10001}})), "escalation.free_pages"),
        ("an escalation factor above 100", policy(json!({"escalation": {"factor": "101"}})), "escalation.factor"),
        ("recovery of a month", policy(json!({"recovery": {"minimum_hours": 720}})), "recovery.minimum_hours"),
        (
            "a standby rate above the largest amount",
            policy(json!({"standby": {"rates": {"weekday": "1000000001", "weekend": "50", "holiday": "75"}}})),
            "standby.rates.weekday",
        ),
        ("a policy id with a NUL", policy(json!({"id": "uk\u{0}"})), "id"),
    ];
    for (what, body, field) in cases {
        assert_refused(&app, what, app.post("/v1/policies", body).await, field).await;
    }
    let cost = app.patch("/v1/people/alice", json!({"loaded_hourly_cost": "90000000000000000.00"})).await;
    assert_refused(&app, "a loaded cost of 9 × 10^16", cost, "loaded_hourly_cost").await;
    let team = app
        .patch(
            "/v1/teams/payments",
            json!({"default_loaded_hourly_cost": {"currency": "GBP", "amount": "90000000000000000.00"}}),
        )
        .await;
    assert_refused(&app, "a team cost of 9 × 10^16", team, "default_loaded_hourly_cost.amount").await;
    let settings = app.put("/v1/settings/cost", json!({"interruption_overhead_minutes": "100000"})).await;
    assert_refused(&app, "an overhead of 100,000 minutes", settings, "interruption_overhead_minutes").await;
    // Debt, health and the dashboard still answer for everyone.
    for path in [
        "/v1/reports/debt?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z",
        "/v1/reports/health?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z",
    ] {
        let reply = app.call_as("GET", path, None, Some(&app.finance_token)).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    }
    // The largest values accepted are accepted.
    let at_limits = policy(json!({
        "callout_fee": fees(json!("1000000000.00")),
        "response_multiplier": multipliers(json!("100")),
        "response_rate_per_hour": "1000000000",
        "escalation": {"factor": "100", "window_days": 3660, "free_pages": 10000},
        "rounding_increment_minutes": 1440, "minimum_billable_minutes": 1440, "callout_cooldown_minutes": 1440,
    }));
    let created = app.post("/v1/policies", at_limits).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
}

fn page(overrides: Value) -> Value {
    let mut body = json!({"source": "manual", "external_id": "INC-1", "service": "checkout", "triggered_at": "2026-10-03T02:14:00Z"});
    for (key, value) in overrides.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

async fn instants_outside_the_window_are_refused_at_every_door(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    // The findings: pages in year 1 and responses in year 9999 were accepted; a response at
    // 9999-12-31T23:50Z for 100 minutes answered 500; an acknowledgement at
    // 9999-12-31T23:59:59-01:00 came back as "+10000-01-01T00:59:59Z".
    let year_one = app.post("/v1/pages", page(json!({"triggered_at": "0001-01-01T00:00:00Z"}))).await;
    assert_refused(&app, "a page in year 1", year_one, "triggered_at").await;
    let before_1970 = app.post("/v1/pages", page(json!({"triggered_at": "1969-12-31T23:59:59Z"}))).await;
    assert_refused(&app, "a page before 1970", before_1970, "triggered_at").await;
    let acknowledged = app
        .post("/v1/pages", page(json!({"acknowledged_at": "9999-12-31T23:59:59-01:00", "acknowledged_by": "alice"})))
        .await;
    assert_refused(&app, "an acknowledgement past 9999", acknowledged, "acknowledged_at").await;
    let resolved = app.post("/v1/pages", page(json!({"resolved_at": "2100-01-01T00:00:01Z"}))).await;
    assert_refused(&app, "a resolve after 2100", resolved, "resolved_at").await;

    let created = app.post("/v1/pages", page(json!({}))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let responses = format!("/v1/pages/{}/responses", created.body["id"].as_str().unwrap());
    let late = app
        .post(&responses, json!({"person": "alice", "started_at": "9999-12-31T23:50:00Z", "duration_minutes": 100, "actionable": true}))
        .await;
    assert_refused(&app, "a response in year 9999 for 100 minutes", late, "started_at").await;
    let over_the_edge = app
        .post(&responses, json!({"person": "alice", "started_at": "2099-12-31T23:50:00Z", "duration_minutes": 100, "actionable": true}))
        .await;
    assert_refused(&app, "a response that ends after 2100", over_the_edge, "duration_minutes").await;
    let ended = app
        .post(&responses, json!({"person": "alice", "started_at": "2099-12-31T23:50:00Z", "ended_at": "2100-01-01T01:00:00Z", "actionable": true}))
        .await;
    assert_refused(&app, "a response ended after 2100", ended, "ended_at").await;

    let shift = app
        .post("/v1/shifts", json!({"person": "alice", "role": "primary", "start": "1960-01-01T00:00:00Z", "end": "1960-01-02T00:00:00Z"}))
        .await;
    assert_refused(&app, "a shift in 1960", shift, "start").await;
    let batch = app
        .post("/v1/shifts/batch", json!({"shifts": [{"person": "alice", "role": "primary", "start": "2099-12-31T12:00:00Z", "end": "2100-01-01T12:00:00Z"}]}))
        .await;
    assert_eq!(batch.status, 400, "{:?}", batch.body);
    assert!(batch.error_field().unwrap_or_default().ends_with("end"), "{:?}", batch.body);

    let query = app.get("/v1/pages?from=0001-01-01T00:00:00Z").await;
    assert_refused(&app, "a query from year 1", query, "from").await;
    let statement = app.get("/v1/people/alice/statement?from=9999-12-01T00:00:00Z&to=9999-12-31T00:00:00Z").await;
    assert_refused(&app, "a statement in year 9999", statement, "from").await;

    // Alertmanager: the same window, naming the tool's field.
    let ingest = app.token(paydown::domain::role::Role::Ingest, None, &[]);
    let body = json!({"version": "4", "status": "firing", "receiver": "r", "alerts": [
        {"status": "firing", "labels": {"alertname": "Old", "service": "checkout"}, "startsAt": "1900-01-01T00:00:00Z", "fingerprint": "abc"}]});
    let reply = app
        .post_with_headers(
            "/v1/webhooks/alertmanager",
            body.to_string().as_bytes(),
            &[("authorization", format!("Bearer {ingest}")), ("content-type", "application/json".into())],
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.error_field(), Some("alerts[0].startsAt"), "{:?}", reply.body);

    // Nothing above made a page beyond the one good one.
    assert_eq!(app.get("/v1/pages").await.body.as_array().unwrap().len(), 1);
}

async fn control_characters_are_refused_naming_the_field(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    // The finding: a NUL in a title was 201 on SQLite and 500 on PostgreSQL.
    let cases = [
        ("/v1/pages", page(json!({"title": "Disk\u{0}full"})), "title"),
        ("/v1/pages", page(json!({"title": "bell\u{7}"})), "title"),
        ("/v1/pages", page(json!({"external_id": "INC\u{0}1"})), "external_id"),
        ("/v1/pages", page(json!({"source": "man\u{0}ual"})), "source"),
        ("/v1/pages", page(json!({"service": "check\u{0}out"})), "service"),
        ("/v1/pages", page(json!({"alert_key": "disk\u{1b}[31m"})), "alert_key"),
        (
            "/v1/people",
            json!({"id": "bob", "name": "Bob\u{0}", "email": "bob@example.com", "payroll_id": "E-2", "timezone": "Europe/London"}),
            "name",
        ),
        ("/v1/teams", json!({"id": "ops", "name": "Ops", "cost_centre": "CC\u{0}1"}), "cost_centre"),
        ("/v1/services", json!({"id": "api", "name": "A\u{0}PI"}), "name"),
        (
            "/v1/shifts",
            json!({"person": "alice", "role": "primary", "start": "2026-10-05T09:00:00Z", "end": "2026-10-06T09:00:00Z", "schedule": "week\u{0}ly"}),
            "schedule",
        ),
    ];
    for (path, body, field) in cases {
        let reply = app.post(path, body.clone()).await;
        assert_refused(&app, &format!("{path} {body}"), reply, field).await;
    }
    // A title may hold line breaks and tabs; notes too, but no NUL.
    let created = app.post("/v1/pages", page(json!({"title": "Disk full\n\tdb-7"}))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let responses = format!("/v1/pages/{}/responses", created.body["id"].as_str().unwrap());
    let notes = app
        .post(&responses, json!({"person": "alice", "started_at": "2026-10-03T02:14:00Z", "duration_minutes": 10, "actionable": true, "notes": "fixed\u{0}"}))
        .await;
    assert_refused(&app, "notes with a NUL", notes, "notes").await;
}

const PD_SECRET: &str = "pagerduty-test-secret";

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

async fn a_signed_pagerduty_title_with_a_nul_is_a_400(backend: Backend) {
    let mut app = TestApp::new(backend);
    app.ingest = IngestConfig::parse(&format!(
        "replay_window_seconds = 600\n[sources.pagerduty]\nhmac_secrets = [\"{PD_SECRET}\"]\n"
    ))
    .unwrap();
    // The finding: through a signed PagerDuty webhook a NUL title was a 500 on PostgreSQL;
    // PagerDuty retries a 5xx, then drops the event. A 400 names the field instead.
    let text = std::fs::read_to_string(format!(
        "{}/tests/samples/pagerduty/webhooks_v3/zulip/triggered_v3.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut payload: Value = serde_json::from_str(&text).unwrap();
    payload["event"]["occurred_at"] = Value::String(Utc::now().to_rfc3339());
    payload["event"]["data"]["title"] = Value::String("Disk\u{0}full".into());
    let body = serde_json::to_vec(&payload).unwrap();
    let signature = format!("v1={}", hmac_hex(PD_SECRET, &body));
    let reply = app
        .post_with_headers(
            "/v1/webhooks/pagerduty",
            &body,
            &[("content-type", "application/json".into()), ("x-pagerduty-signature", signature)],
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.error_field(), Some("event.data.title"), "{:?}", reply.body);
    // An incident id with a NUL: the page's key, refused too.
    payload["event"]["data"]["title"] = Value::String("Disk full".into());
    payload["event"]["data"]["id"] = Value::String("Q1\u{0}".into());
    let body = serde_json::to_vec(&payload).unwrap();
    let signature = format!("v1={}", hmac_hex(PD_SECRET, &body));
    let reply = app
        .post_with_headers(
            "/v1/webhooks/pagerduty",
            &body,
            &[("content-type", "application/json".into()), ("x-pagerduty-signature", signature)],
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.error_field(), Some("external_id"), "{:?}", reply.body);
    assert!(app.get("/v1/pages").await.body.as_array().unwrap().is_empty());
}

async fn an_alertmanager_body_has_a_bounded_number_of_alerts(backend: Backend) {
    let app = TestApp::new(backend);
    // The finding: a body of 10,000 alerts took 41 s on PostgreSQL (one transaction per
    // alert). One body now carries at most ALERTS_PER_BODY_MAX alerts.
    let max = paydown::domain::limits::ALERTS_PER_BODY_MAX;
    let alerts: Vec<Value> = (0..=max)
        .map(|index| {
            json!({"status": "firing", "labels": {"alertname": "Load", "service": "checkout"},
                "startsAt": "2026-10-03T02:14:00Z", "fingerprint": format!("f{index}")})
        })
        .collect();
    let body = json!({"version": "4", "status": "firing", "receiver": "r", "alerts": alerts});
    let ingest = app.token(paydown::domain::role::Role::Ingest, None, &[]);
    let headers = [("authorization", format!("Bearer {ingest}")), ("content-type", "application/json".into())];
    let reply = app.post_with_headers("/v1/webhooks/alertmanager", body.to_string().as_bytes(), &headers).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.error_field(), Some("alerts"), "{:?}", reply.body);
    assert!(reply.body["error"]["message"].as_str().unwrap().contains(&max.to_string()));
    assert!(app.get("/v1/pages").await.body.as_array().unwrap().is_empty());
}

async fn assign_uk(app: &TestApp, overrides: Value) {
    let created = app.post("/v1/policies", policy(overrides)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let assigned =
        app.post("/v1/people/alice/policy-assignments", json!({"policy": "uk", "effective_from": "2026-01-01"})).await;
    assert_eq!(assigned.status, 201, "{:?}", assigned.body);
}

async fn the_same_work_is_paid_once(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    assign_uk(&app, json!({})).await;
    // The finding: one hour posted twice without an id, then a half hour inside it, was paid
    // as 3 response lines, 150 minutes. Wed 14 Oct 2026 10:00–11:00 BST, business hours.
    // alice acknowledged both pages: she was called, her responses are paid as they arrive.
    let created = app.post("/v1/pages", page(json!({"triggered_at": "2026-10-14T09:00:00Z", "acknowledged_at": "2026-10-14T09:00:00Z", "acknowledged_by": "alice"}))).await;
    let responses = format!("/v1/pages/{}/responses", created.body["id"].as_str().unwrap());
    for (start, end) in [
        ("2026-10-14T09:00:00Z", "2026-10-14T10:00:00Z"),
        ("2026-10-14T09:00:00Z", "2026-10-14T10:00:00Z"),
        ("2026-10-14T09:15:00Z", "2026-10-14T09:45:00Z"),
    ] {
        let reply = app
            .post(&responses, json!({"person": "alice", "started_at": start, "ended_at": end, "actionable": true}))
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    // And on another page at the same moment: the same minutes again.
    let other =
        app.post("/v1/pages", page(json!({"external_id": "INC-2", "triggered_at": "2026-10-14T09:05:00Z", "acknowledged_at": "2026-10-14T09:05:00Z", "acknowledged_by": "alice"}))).await;
    let other_responses = format!("/v1/pages/{}/responses", other.body["id"].as_str().unwrap());
    let reply = app
        .post(&other_responses, json!({"person": "alice", "started_at": "2026-10-14T09:05:00Z", "ended_at": "2026-10-14T09:55:00Z", "actionable": true}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let statement = app.get("/v1/people/alice/statement?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z").await;
    assert_eq!(statement.status, 200, "{:?}", statement.body);
    let lines: Vec<&Value> =
        statement.body["lines"].as_array().unwrap().iter().filter(|line| line["component"] == "response").collect();
    assert_eq!(lines.len(), 1, "{:?}", statement.body);
    assert_eq!(lines[0]["quantity"], "60", "{:?}", lines[0]);
    // 60 min × 30.00/h × 1.0 (business) = 30.00
    assert_eq!(lines[0]["amount"], "30.00", "{:?}", lines[0]);
}

async fn a_policy_at_its_limits_prices_a_week_long_response(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    // The finding: a multiplier of 10^27 made pricing panic and kill the accrual thread.
    // Every value at its limit, a week-long response at night: priced, not a panic.
    assign_uk(
        &app,
        json!({
            "callout_fee": fees(json!("1000000000.00")),
            "response_multiplier": multipliers(json!("100")),
            "response_rate_per_hour": "1000000000",
            "escalation": {"factor": "100", "free_pages": 0},
        }),
    )
    .await;
    let created = app
        .post("/v1/pages", page(json!({"triggered_at": "2026-10-03T01:14:00Z", "acknowledged_at": "2026-10-03T01:15:00Z", "acknowledged_by": "alice"})))
        .await;
    let responses = format!("/v1/pages/{}/responses", created.body["id"].as_str().unwrap());
    let reply = app
        .post(&responses, json!({"person": "alice", "started_at": "2026-10-03T01:14:00Z", "duration_minutes": 10080, "actionable": true}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let statement = app.get("/v1/people/alice/statement?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z").await;
    assert_eq!(statement.status, 200, "{:?}", statement.body);
    let accrued = app.call_as("POST", "/v1/ledger/accrue", None, Some(&app.finance_token)).await;
    assert!((200..300).contains(&accrued.status), "{:?}", accrued.body);
}
