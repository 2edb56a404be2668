//! Policies, assignments and statements over the API: figures computed by hand.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(a_statement_prices_pages_responses_and_shifts, policies_are_versioned_and_checked);

async fn a_statement_prices_pages_responses_and_shifts(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    assert_eq!(app.patch("/v1/people/alice", json!({"holiday_calendar": "GB-ENG"})).await.status, 200);
    // PRODUCT.md's defaults: callout night/weekend 50.00, 30.00/h × 2.0 at night, 15-min
    // increments with a 30-min minimum, recovery ≥ 2 h, standby 25.00 per weekday.
    let policy = json!({"id": "uk", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", policy).await.status, 201);
    let assigned =
        app.post("/v1/people/alice/policy-assignments", json!({"policy": "uk", "effective_from": "2026-01-01"})).await;
    assert_eq!(assigned.status, 201, "{:?}", assigned.body);

    // Saturday 3 October, 02:14 in London (BST): night and weekend.
    let page = json!({"source": "manual", "external_id": "INC-1", "service": "checkout",
        "triggered_at": "2026-10-03T02:14:00+01:00", "acknowledged_at": "2026-10-03T02:16:00+01:00", "acknowledged_by": "alice"});
    let page_id = app.post("/v1/pages", page).await.body["id"].as_str().unwrap().to_owned();
    let response = json!({"person": "alice", "started_at": "2026-10-03T02:14:00+01:00", "ended_at": "2026-10-03T03:05:00+01:00", "actionable": true});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), response).await.status, 201);
    // Monday 09:00 to Tuesday 09:00 local on standby.
    let shift = json!({"person": "alice", "role": "primary", "start": "2026-10-05T09:00:00+01:00", "end": "2026-10-06T09:00:00+01:00"});
    assert_eq!(app.post("/v1/shifts", shift).await.status, 201);

    let reply = app.get("/v1/people/alice/statement?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let amounts: Vec<(String, String)> = reply.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| (line["component"].as_str().unwrap().to_owned(), line["amount"].as_str().unwrap().to_owned()))
        .collect();
    // callout: max(night 50, weekend 50) = 50.00
    // response: 51 min → 60 min billable × 30.00/h × 2.0 = 60.00
    // recovery: 51 night minutes → 1 h → at least 2 h, paid as time off (0.00)
    // standby Mon: 25.00 × 900/1440 = 15.625 → 15.63; Tue: 25.00 × 540/1440 = 9.375 → 9.38
    let expected =
        [("callout", "50.00"), ("response", "60.00"), ("recovery", "0.00"), ("standby", "15.63"), ("standby", "9.38")];
    for (component, amount) in expected {
        assert!(
            amounts.contains(&(component.to_owned(), amount.to_owned())),
            "{component} {amount} missing from {amounts:?}"
        );
    }
    assert_eq!(amounts.len(), 5, "{amounts:?}");
    assert_eq!(reply.body["total_by_currency"]["GBP"], "135.01");
    let recovery = reply.body["lines"].as_array().unwrap().iter().find(|line| line["component"] == "recovery").unwrap();
    assert_eq!(recovery["quantity"], "2");
    let callout = reply.body["lines"].as_array().unwrap().iter().find(|line| line["component"] == "callout").unwrap();
    assert_eq!(callout["policy"]["id"], "uk");
    assert_eq!(callout["fact"]["id"], page_id.as_str());
    assert!(callout["explanation"].as_str().unwrap().starts_with("Sat 02:14 Europe/London"), "{callout}");

    let csv = app
        .get_with_accept("/v1/people/alice/statement?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z", "text/csv")
        .await;
    assert_eq!(csv.status, 200);
    let text = csv.body.as_str().unwrap().to_owned();
    let rows: Vec<&str> = text.split("\r\n").filter(|row| !row.is_empty()).collect();
    assert_eq!(rows.len(), 6, "{text}");
    assert!(rows[0].starts_with("person,occurred_at,component,quantity"));
    assert!(
        rows.iter().any(|row| row.contains(",callout,1,count,50.00,1,") && row.contains(",50.00,GBP,page,")),
        "{text}"
    );

    // Someone without a policy gets a statement that says why nothing is priced.
    let bob = json!({"id": "bob", "name": "Bob", "email": "bob@example.com", "payroll_id": "E-2", "timezone": "Europe/London", "currency": "GBP"});
    assert_eq!(app.post("/v1/people", bob).await.status, 201);
    let unpriced = app.get("/v1/people/bob/statement?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z").await;
    assert_eq!(unpriced.status, 200);
    assert!(unpriced.body["unpriced"][0].as_str().unwrap().contains("no pay policy"));
    assert_eq!(app.get("/v1/people/alice/statement?from=2026-10-01T00:00:00Z").await.status, 400);
    assert_eq!(
        app.get("/v1/people/alice/statement?from=2026-10-01T00:00:00Z&to=2026-09-01T00:00:00Z").await.error_field(),
        Some("to")
    );
    assert_eq!(
        app.get("/v1/people/nobody/statement?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z").await.status,
        404
    );
}

async fn policies_are_versioned_and_checked(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let v1 = json!({"id": "uk", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", v1.clone()).await.status, 201);
    let duplicate = app.post("/v1/policies", v1).await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.error_field(), Some("version"));
    let mut v2 = json!({"id": "uk", "version": 2, "effective_from": "2026-07-01", "currency": "GBP"});
    v2["callout_fee"] =
        json!({"business": "0", "off_hours": "30.00", "night": "60.00", "weekend": "60.00", "holiday": "90.00"});
    let created = app.post("/v1/policies", v2).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let history = app.get("/v1/policies/uk").await;
    assert_eq!(history.body["versions"].as_array().unwrap().len(), 2);
    assert_eq!(history.body["versions"][1]["callout_fee"]["night"], "60.00");

    let backwards = json!({"id": "uk", "version": 3, "effective_from": "2026-03-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", backwards).await.status, 400);
    let negative = json!({"id": "bad", "version": 1, "effective_from": "2026-01-01", "currency": "GBP",
        "callout_fee": {"business": "0", "off_hours": "25", "night": "-50", "weekend": "50", "holiday": "75"}});
    let refused = app.post("/v1/policies", negative).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_field(), Some("callout_fee.night"));
    let misspelt =
        json!({"id": "bad", "version": 1, "effective_from": "2026-01-01", "currency": "GBP", "callout_fees": {}});
    assert_eq!(app.post("/v1/policies", misspelt).await.error_field(), Some("callout_fees"));
    let unknown_currency = json!({"id": "bad", "version": 1, "effective_from": "2026-01-01", "currency": "XXX"});
    assert_eq!(app.post("/v1/policies", unknown_currency).await.error_field(), Some("currency"));

    let euro = json!({"id": "eu", "version": 1, "effective_from": "2026-01-01", "currency": "EUR"});
    assert_eq!(app.post("/v1/policies", euro).await.status, 201);
    let mismatch =
        app.post("/v1/people/alice/policy-assignments", json!({"policy": "eu", "effective_from": "2026-01-01"})).await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.error_field(), Some("policy"));
    let unknown = app
        .post("/v1/people/alice/policy-assignments", json!({"policy": "nope", "effective_from": "2026-01-01"}))
        .await;
    assert_eq!(unknown.error_field(), Some("policy"));
    assert_eq!(
        app.post("/v1/people/alice/policy-assignments", json!({"policy": "uk", "effective_from": "2026-01-01"}))
            .await
            .status,
        201
    );
    let twice =
        app.post("/v1/people/alice/policy-assignments", json!({"policy": "uk", "effective_from": "2026-01-01"})).await;
    assert_eq!(twice.status, 409);
    assert_eq!(app.get("/v1/people/alice/policy-assignments").await.body.as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/policies").await.body.as_array().unwrap().len(), 2);
    assert_eq!(
        app.patch("/v1/people/alice", json!({"holiday_calendar": "Narnia"})).await.error_field(),
        Some("holiday_calendar")
    );
}
