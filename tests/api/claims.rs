//! Issue #16: who is paid for a page without asking. A response by someone who was not
//! called for the page is a claim, pending until a manager of their team or finance decides.

use paydown::domain::role::Role;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_response_nobody_asked_for_is_a_claim_until_approved,
    person_defaults_and_client_ids,
    an_engineer_amends_and_withdraws_their_own_response,
);

async fn setup(app: &TestApp) {
    app.seed_basics().await;
    assert_eq!(
        app.post("/v1/teams", json!({"id": "platform", "name": "Platform", "cost_centre": "CC-1"})).await.status,
        201
    );
    assert_eq!(
        app.post("/v1/services", json!({"id": "ingress", "name": "Ingress", "team": "platform"})).await.status,
        201
    );
    let policy = json!({"id": "uk", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", policy).await.status, 201);
    let assigned =
        app.post("/v1/people/alice/policy-assignments", json!({"policy": "uk", "effective_from": "2026-01-01"})).await;
    assert_eq!(assigned.status, 201, "{:?}", assigned.body);
}

async fn page(app: &TestApp, external_id: &str, service: &str, extra: Value) -> String {
    let mut body = json!({"source": "manual", "external_id": external_id, "service": service, "triggered_at": "2026-11-07T02:00:00Z"});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let reply = app.post("/v1/pages", body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn statement_responses(app: &TestApp) -> Vec<Value> {
    let reply = app.get("/v1/people/alice/statement?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["lines"].as_array().unwrap().iter().filter(|line| line["component"] == "response").cloned().collect()
}

async fn a_response_nobody_asked_for_is_a_claim_until_approved(backend: Backend) {
    let app = TestApp::new(backend);
    setup(&app).await;
    let alice = app.token(Role::Engineer, Some("alice"), &[]);
    // The finding: alice (payments) posted week-long responses to a page of the platform
    // team's ingress she was never paged for: all 201 and paid. Now: a pending claim.
    let ingress = page(&app, "INC-1", "ingress", json!({})).await;
    let body = json!({"started_at": "2026-11-07T02:00:00Z", "duration_minutes": 10080, "actionable": true});
    let claim = app.call_as("POST", &format!("/v1/pages/{ingress}/responses"), Some(body.clone()), Some(&alice)).await;
    assert_eq!(claim.status, 201, "{:?}", claim.body);
    assert_eq!(claim.body["status"], "pending");
    assert_eq!(claim.body["person"], "alice");
    let claim_id = claim.body["id"].as_str().unwrap().to_owned();
    assert!(statement_responses(&app).await.is_empty(), "a pending claim is not paid");
    // Her statement of the period shows it as pending, outside the totals.
    app.post("/v1/ledger/accrue", json!({})).await;
    let november = app.call_as("GET", "/v1/people/alice/statement?period=2026-11", None, Some(&alice)).await;
    assert_eq!(november.status, 200, "{:?}", november.body);
    let pending = november.body["pending_claims"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{:?}", november.body);
    assert_eq!((pending[0]["id"].as_str(), pending[0]["status"].as_str()), (Some(claim_id.as_str()), Some("pending")));
    let lines = november.body["lines"].as_array().unwrap();
    assert!(lines.iter().all(|line| line["component"] != "response"), "{:?}", november.body);

    // A manager of another team may not decide it; an engineer may not either.
    let platform_manager = app.token(Role::Manager, None, &["platform"]);
    let reason = json!({"reason": "asked to help by the incident commander"});
    let refused = app
        .call_as("POST", &format!("/v1/responses/{claim_id}/approve"), Some(reason.clone()), Some(&platform_manager))
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let by_engineer =
        app.call_as("POST", &format!("/v1/responses/{claim_id}/approve"), Some(reason.clone()), Some(&alice)).await;
    assert_eq!(by_engineer.status, 403, "{:?}", by_engineer.body);
    let no_reason = app
        .call_as(
            "POST",
            &format!("/v1/responses/{claim_id}/approve"),
            Some(json!({"reason": " "})),
            Some(&app.finance_token),
        )
        .await;
    assert_eq!((no_reason.status, no_reason.error_field()), (400, Some("reason")), "{:?}", no_reason.body);

    // A manager of alice's team approves: paid from now on, audited with the reason.
    let payments_manager = app.token(Role::Manager, None, &["payments"]);
    let approved = app
        .call_as("POST", &format!("/v1/responses/{claim_id}/approve"), Some(reason.clone()), Some(&payments_manager))
        .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["status"], "paid");
    assert_eq!(approved.body["decision_reason"], "asked to help by the incident commander");
    let lines = statement_responses(&app).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["quantity"], "10080");
    let again = app
        .call_as("POST", &format!("/v1/responses/{claim_id}/reject"), Some(reason.clone()), Some(&app.finance_token))
        .await;
    assert_eq!(again.status, 409, "a decided claim stays decided: {:?}", again.body);
    let audit =
        app.call_as("GET", &format!("/v1/audit?entity=response&id={claim_id}"), None, Some(&app.finance_token)).await;
    let actions: Vec<&str> = audit.body.as_array().unwrap().iter().map(|row| row["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"approve"), "{:?}", audit.body);

    // Finance rejects another claim: never paid.
    let other = page(&app, "INC-2", "ingress", json!({"triggered_at": "2026-11-20T02:00:00Z"})).await;
    let body = json!({"started_at": "2026-11-20T02:00:00Z", "duration_minutes": 60, "actionable": true});
    let claim = app.call_as("POST", &format!("/v1/pages/{other}/responses"), Some(body), Some(&alice)).await;
    assert_eq!(claim.body["status"], "pending");
    let claim_id = claim.body["id"].as_str().unwrap();
    let rejected = app
        .call_as(
            "POST",
            &format!("/v1/responses/{claim_id}/reject"),
            Some(json!({"reason": "not on the rota"})),
            Some(&app.finance_token),
        )
        .await;
    assert_eq!(rejected.status, 200, "{:?}", rejected.body);
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(statement_responses(&app).await.len(), 1);

    // Called people are paid as their responses arrive: the acknowledger, and whoever is on
    // call for the owning team at the trigger.
    let acknowledged = page(
        &app,
        "INC-3",
        "ingress",
        json!({"triggered_at": "2026-11-21T02:00:00Z", "acknowledged_at": "2026-11-21T02:01:00Z", "acknowledged_by": "alice"}),
    )
    .await;
    let body = json!({"started_at": "2026-11-21T02:01:00Z", "duration_minutes": 30, "actionable": true});
    let paid = app.call_as("POST", &format!("/v1/pages/{acknowledged}/responses"), Some(body), Some(&alice)).await;
    assert_eq!(paid.body["status"], "paid", "{:?}", paid.body);
    let shift =
        json!({"person": "alice", "role": "primary", "start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"});
    assert_eq!(app.post("/v1/shifts", shift).await.status, 201);
    let on_call = page(&app, "INC-4", "checkout", json!({"triggered_at": "2026-11-22T03:00:00Z"})).await;
    let body = json!({"started_at": "2026-11-22T03:00:00Z", "duration_minutes": 30, "actionable": true});
    let paid = app.call_as("POST", &format!("/v1/pages/{on_call}/responses"), Some(body.clone()), Some(&alice)).await;
    assert_eq!(paid.body["status"], "paid", "{:?}", paid.body);
    // On call, but for another team's page at that moment: a claim.
    let elsewhere = page(&app, "INC-5", "ingress", json!({"triggered_at": "2026-11-22T03:00:00Z"})).await;
    let claim = app.call_as("POST", &format!("/v1/pages/{elsewhere}/responses"), Some(body), Some(&alice)).await;
    assert_eq!(claim.body["status"], "pending", "{:?}", claim.body);
}

async fn person_defaults_and_client_ids(backend: Backend) {
    let app = TestApp::new(backend);
    setup(&app).await;
    let alice = app.token(Role::Engineer, Some("alice"), &[]);
    let page_id =
        page(&app, "INC-1", "checkout", json!({"acknowledged_at": "2026-11-07T02:01:00Z", "acknowledged_by": "alice"}))
            .await;
    let path = format!("/v1/pages/{page_id}/responses");
    // Any client id up to 128 characters; the same again is the same response.
    let body =
        json!({"id": "my-tool:4711", "started_at": "2026-11-07T02:01:00Z", "duration_minutes": 20, "actionable": true});
    let first = app.call_as("POST", &path, Some(body.clone()), Some(&alice)).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!((first.body["id"].as_str(), first.body["person"].as_str()), (Some("my-tool:4711"), Some("alice")));
    assert_eq!(app.call_as("POST", &path, Some(body), Some(&alice)).await.status, 200);
    let long = json!({"id": "x".repeat(129), "started_at": "2026-11-07T02:01:00Z", "duration_minutes": 20, "actionable": true});
    let refused = app.call_as("POST", &path, Some(long), Some(&alice)).await;
    assert_eq!((refused.status, refused.error_field()), (400, Some("id")), "{:?}", refused.body);
    let nul =
        json!({"id": "a\u{0}b", "started_at": "2026-11-07T02:01:00Z", "duration_minutes": 20, "actionable": true});
    assert_eq!(app.call_as("POST", &path, Some(nul), Some(&alice)).await.error_field(), Some("id"));
    // An admin token has no person of its own: `person` is required.
    let anonymous = json!({"started_at": "2026-11-07T02:01:00Z", "duration_minutes": 20, "actionable": true});
    let reply = app.post(&path, anonymous).await;
    assert_eq!((reply.status, reply.error_field()), (400, Some("person")), "{:?}", reply.body);
}

async fn an_engineer_amends_and_withdraws_their_own_response(backend: Backend) {
    let app = TestApp::new(backend);
    setup(&app).await;
    let bob = json!({"id": "bob", "name": "Bob", "email": "bob@example.com", "payroll_id": "E-2", "team": "payments", "timezone": "Europe/London"});
    assert_eq!(app.post("/v1/people", bob).await.status, 201);
    let alice = app.token(Role::Engineer, Some("alice"), &[]);
    let bob = app.token(Role::Engineer, Some("bob"), &[]);
    let page_id =
        page(&app, "INC-1", "checkout", json!({"acknowledged_at": "2026-11-07T02:01:00Z", "acknowledged_by": "alice"}))
            .await;
    let body = json!({"started_at": "2026-11-07T02:01:00Z", "duration_minutes": 30, "actionable": true});
    let first = app.call_as("POST", &format!("/v1/pages/{page_id}/responses"), Some(body), Some(&alice)).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let first_id = first.body["id"].as_str().unwrap().to_owned();
    let accrued = app.call_as("POST", "/v1/ledger/accrue", None, Some(&app.finance_token)).await;
    assert!((200..300).contains(&accrued.status), "{:?}", accrued.body);

    // Someone else may not correct it.
    let change = json!({"started_at": "2026-11-07T02:01:00Z", "duration_minutes": 90, "actionable": true, "reason": "it took longer"});
    let refused =
        app.call_as("POST", &format!("/v1/responses/{first_id}/amend"), Some(change.clone()), Some(&bob)).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    // Its author amends it: a new version; the old one is kept, superseded.
    let amended =
        app.call_as("POST", &format!("/v1/responses/{first_id}/amend"), Some(change.clone()), Some(&alice)).await;
    assert_eq!(amended.status, 201, "{:?}", amended.body);
    assert_eq!(amended.body["supersedes"], first_id.as_str());
    assert_eq!(amended.body["status"], "paid");
    assert_eq!(amended.body["duration_minutes"], 90);
    let second_id = amended.body["id"].as_str().unwrap().to_owned();
    let versions = app.get(&format!("/v1/pages/{page_id}/responses")).await.body;
    let statuses: Vec<(&str, &str)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert!(statuses.contains(&(first_id.as_str(), "superseded")), "{statuses:?}");
    assert!(statuses.contains(&(second_id.as_str(), "paid")), "{statuses:?}");
    let lines = statement_responses(&app).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["quantity"], "90");
    assert_eq!(lines[0]["fact"]["id"], second_id.as_str(), "{:?}", lines[0]);
    // The ledger reverses the old line and posts the new; it still agrees with the engine.
    let accrued = app.call_as("POST", "/v1/ledger/accrue", None, Some(&app.finance_token)).await;
    assert!((200..300).contains(&accrued.status), "{:?}", accrued.body);
    let verified = app.call_as("GET", "/v1/ledger/verify", None, Some(&app.finance_token)).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    // A superseded version cannot be changed again.
    let stale = app.call_as("POST", &format!("/v1/responses/{first_id}/amend"), Some(change), Some(&alice)).await;
    assert_eq!(stale.status, 409, "{:?}", stale.body);

    // Withdrawn: kept, no longer paid.
    let reason = json!({"reason": "logged on the wrong page"});
    let withdrawn =
        app.call_as("POST", &format!("/v1/responses/{second_id}/withdraw"), Some(reason.clone()), Some(&alice)).await;
    assert_eq!(withdrawn.status, 200, "{:?}", withdrawn.body);
    assert_eq!(withdrawn.body["status"], "withdrawn");
    // Nobody logged a response now: the acknowledger's default response (ack → nothing: the
    // page is not resolved) pays nothing.
    assert!(statement_responses(&app).await.is_empty());
    let again = app.call_as("POST", &format!("/v1/responses/{second_id}/withdraw"), Some(reason), Some(&alice)).await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    let audit =
        app.call_as("GET", &format!("/v1/audit?entity=response&id={first_id}"), None, Some(&app.finance_token)).await;
    assert!(audit.body.as_array().unwrap().iter().any(|row| row["action"] == "amend"), "{:?}", audit.body);
}
