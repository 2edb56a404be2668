//! `/v1/pages`: idempotent, order-independent, safe under concurrent delivery.

use serde_json::json;

use crate::helpers::{Backend, RunningServer, TestApp};
use crate::on_both_backends;

on_both_backends!(
    redelivery_updates_the_page_and_never_makes_a_second,
    a_resolve_before_its_trigger_ends_resolved,
    concurrent_deliveries_of_one_page_make_exactly_one,
    a_page_for_an_unknown_service_is_kept_as_unowned,
    timestamps_keep_microseconds_and_come_back_in_utc,
);

fn trigger() -> serde_json::Value {
    json!({"source": "manual", "external_id": "INC-1", "service": "checkout", "title": "Disk full on db-7",
           "alert_key": "disk-full-db-7", "lane": "wake", "triggered_at": "2026-10-03T02:14:00Z"})
}

async fn redelivery_updates_the_page_and_never_makes_a_second(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;

    let first = app.post("/v1/pages", trigger()).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["status"], "triggered");
    let id = first.body["id"].as_str().unwrap().to_owned();

    let again = app.post("/v1/pages", trigger()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["id"], id.as_str());

    let mut acknowledged = trigger();
    acknowledged["acknowledged_at"] = json!("2026-10-03T02:20:00Z");
    acknowledged["acknowledged_by"] = json!("alice");
    let ack = app.post("/v1/pages", acknowledged).await;
    assert_eq!(ack.status, 200);
    assert_eq!(ack.body["id"], id.as_str());
    assert_eq!(ack.body["status"], "acknowledged");
    assert_eq!(ack.body["acknowledged_by"], "alice");
    assert_eq!(ack.body["delivery_count"], 3);

    let found = app.get("/v1/pages?source=manual&external_id=INC-1").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body.as_array().unwrap().len(), 1);
    assert_eq!(found.body[0]["id"], id.as_str());
    let read = app.get(&format!("/v1/pages/{id}")).await;
    assert_eq!(read.body["acknowledged_at"], "2026-10-03T02:20:00Z");
    assert_eq!(read.body["owned"], true);
    assert_eq!(read.body["owning_team"], "payments");
}

async fn a_resolve_before_its_trigger_ends_resolved(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let mut resolve = trigger();
    resolve["title"] = serde_json::Value::Null;
    resolve["acknowledged_at"] = json!("2026-10-03T02:20:00Z");
    resolve["acknowledged_by"] = json!("alice");
    resolve["resolved_at"] = json!("2026-10-03T03:05:00Z");

    let first = app.post("/v1/pages", resolve).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.body["status"], "resolved");
    // The trigger arrives late: it must not reopen the page, and its title fills the gap.
    let late_trigger = app.post("/v1/pages", trigger()).await;
    assert_eq!(late_trigger.status, 200);
    assert_eq!(late_trigger.body["status"], "resolved");
    assert_eq!(late_trigger.body["resolved_at"], "2026-10-03T03:05:00Z");
    assert_eq!(late_trigger.body["acknowledged_by"], "alice");
    assert_eq!(late_trigger.body["title"], "Disk full on db-7");
    assert_eq!(late_trigger.body["delivery_count"], 2);
}

async fn concurrent_deliveries_of_one_page_make_exactly_one(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let server = RunningServer::start(app.store.clone());
    let token = app.admin_token.clone();
    let clients = 12;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let barrier = barrier.clone();
            let address = server.address;
            let token = token.clone();
            std::thread::spawn(move || {
                let mut body = trigger();
                body["external_id"] = json!("RACE-1");
                if client % 3 == 1 {
                    body["acknowledged_at"] = json!("2026-10-03T02:20:00Z");
                    body["acknowledged_by"] = json!("alice");
                }
                if client % 3 == 2 {
                    body["resolved_at"] = json!("2026-10-03T03:00:00Z");
                }
                barrier.wait();
                crate::helpers::http_request(address, "POST", "/v1/pages", &body.to_string(), Some(&token))
            })
        })
        .collect();
    let replies: Vec<_> = threads.into_iter().map(|thread| thread.join().unwrap()).collect();
    let created = replies.iter().filter(|reply| reply.status == 201).count();
    let existing = replies.iter().filter(|reply| reply.status == 200).count();
    assert_eq!((created, existing), (1, clients - 1), "{replies:?}");
    let ids: std::collections::BTreeSet<_> = replies.iter().map(|reply| reply.body["id"].to_string()).collect();
    assert_eq!(ids.len(), 1);

    let found = server.request("GET", "/v1/pages?source=manual&external_id=RACE-1", "", &app.admin_token);
    assert_eq!(found.body.as_array().unwrap().len(), 1);
    assert_eq!(found.body[0]["delivery_count"], 12);
    assert_eq!(found.body[0]["status"], "resolved");
    assert_eq!(found.body[0]["acknowledged_by"], "alice");
}

async fn a_page_for_an_unknown_service_is_kept_as_unowned(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let mut page = trigger();
    page["service"] = json!("billing-v1");
    let created = app.post("/v1/pages", page).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["owned"], false);
    assert_eq!(created.body["owning_team"], serde_json::Value::Null);

    let unowned = app.get("/v1/pages?unowned=true").await;
    assert_eq!(unowned.body.as_array().unwrap().len(), 1);

    // A service nobody owns keeps the page un-owned; giving it a team re-attributes it.
    assert_eq!(app.post("/v1/services", json!({"id": "billing-v1", "name": "Billing v1"})).await.status, 201);
    assert_eq!(app.get("/v1/pages?unowned=true").await.body.as_array().unwrap().len(), 1);
    assert_eq!(app.patch("/v1/services/billing-v1", json!({"team": "payments"})).await.status, 200);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/pages/{id}")).await.body["owning_team"], "payments");
    assert!(app.get("/v1/pages?unowned=true").await.body.as_array().unwrap().is_empty());
}

async fn timestamps_keep_microseconds_and_come_back_in_utc(backend: Backend) {
    let app = TestApp::new(backend);
    let mut page = trigger();
    page["triggered_at"] = json!("2026-10-03T03:14:00.123456+01:00");
    page["resolved_at"] = json!("2026-10-03T02:30:00.5Z");
    let created = app.post("/v1/pages", page).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let read = app.get(&format!("/v1/pages/{id}")).await;
    assert_eq!(read.body["triggered_at"], "2026-10-03T02:14:00.123456Z");
    assert_eq!(read.body["resolved_at"], "2026-10-03T02:30:00.500Z");
    let in_range = app.get("/v1/pages?from=2026-10-03T02:14:00.123456Z&to=2026-10-03T02:14:00.123457Z").await;
    assert_eq!(in_range.body.as_array().unwrap().len(), 1);
    let after = app.get("/v1/pages?from=2026-10-03T02:14:00.123457Z").await;
    assert!(after.body.as_array().unwrap().is_empty());
}

on_both_backends!(unknown_acknowledgers_and_services_are_kept_and_mapping_reattributes_them);

async fn unknown_acknowledgers_and_services_are_kept_and_mapping_reattributes_them(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let page = json!({"source": "pagerduty", "external_id": "Q1", "service": "PIJ90N7", "triggered_at": "2026-10-03T02:14:00Z",
        "acknowledged_at": "2026-10-03T02:20:00Z", "acknowledged_by": "pagerduty:PXPGF42"});
    let id = app.post("/v1/pages", page).await.body["id"].as_str().unwrap().to_owned();
    let unmatched = app.get("/v1/unmatched").await.body;
    assert_eq!(unmatched["people"], json!([{"name": "pagerduty:PXPGF42", "pages": 1, "reason": "unknown"}]));
    assert_eq!(unmatched["services"], json!([{"name": "PIJ90N7", "pages": 1, "reason": "unknown"}]));

    let person =
        app.post("/v1/mappings", json!({"kind": "person", "external": "pagerduty:PXPGF42", "target": "alice"})).await;
    assert_eq!((person.status, person.body["pages_reattributed"].as_u64()), (201, Some(1)), "{:?}", person.body);
    let service =
        app.post("/v1/mappings", json!({"kind": "service", "external": "PIJ90N7", "target": "checkout"})).await;
    assert_eq!(service.status, 201);
    let page = app.get(&format!("/v1/pages/{id}")).await.body;
    assert_eq!(
        (page["acknowledged_by"].as_str(), page["service"].as_str(), page["owned"].as_bool()),
        (Some("alice"), Some("checkout"), Some(true))
    );
    let unmatched = app.get("/v1/unmatched").await.body;
    assert_eq!(
        (unmatched["people"].as_array().unwrap().len(), unmatched["services"].as_array().unwrap().len()),
        (0, 0)
    );

    // A later delivery naming the tool's identities folds through the mapping too.
    let resolve = json!({"source": "pagerduty", "external_id": "Q1", "service": "PIJ90N7", "triggered_at": "2026-10-03T02:14:00Z",
        "acknowledged_at": "2026-10-03T02:20:00Z", "acknowledged_by": "pagerduty:PXPGF42", "resolved_at": "2026-10-03T03:00:00Z"});
    let resolved = app.post("/v1/pages", resolve).await.body;
    assert_eq!((resolved["acknowledged_by"].as_str(), resolved["status"].as_str()), (Some("alice"), Some("resolved")));
    let refused =
        app.post("/v1/mappings", json!({"kind": "person", "external": "x@example.com", "target": "nobody"})).await;
    assert_eq!(refused.error_field(), Some("target"));
    let twice =
        app.post("/v1/mappings", json!({"kind": "person", "external": "pagerduty:PXPGF42", "target": "alice"})).await;
    assert_eq!(twice.status, 409);
}
