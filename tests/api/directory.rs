//! People, teams and services: create, read, list, update; money round-trips exactly.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(people_teams_and_services_round_trip);

async fn people_teams_and_services_round_trip(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;

    let team = app.get("/v1/teams/payments").await;
    assert_eq!(team.body["cost_centre"], "CC-4100");
    let renamed = app.patch("/v1/teams/payments", json!({"cost_centre": "CC-4101"})).await;
    assert_eq!(renamed.body["cost_centre"], "CC-4101");
    assert_eq!(renamed.body["name"], "Payments");
    assert_eq!(app.get("/v1/teams").await.body.as_array().unwrap().len(), 1);
    assert_eq!(app.patch("/v1/teams/nobody", json!({"name": "X"})).await.status, 404);

    // Money is exact on both backends, in each currency's minor unit.
    let yen = json!({"id": "kenji", "name": "田中 健二", "email": "kenji@example.com", "payroll_id": "E-3003",
        "team": "payments", "timezone": "Asia/Tokyo", "currency": "JPY", "loaded_hourly_cost": "12000",
        "working_hours": {"mon": "10:00-18:00", "tue": "10:00-18:00"}});
    let created = app.post("/v1/people", yen).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["loaded_hourly_cost"], "12000");
    assert_eq!(created.body["name"], "田中 健二");
    assert_eq!(created.body["working_hours"], json!({"mon": "10:00-18:00", "tue": "10:00-18:00"}));
    let updated =
        app.patch("/v1/people/alice", json!({"loaded_hourly_cost": "999999999.45", "timezone": "Europe/Berlin"})).await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(updated.body["loaded_hourly_cost"], "999999999.45");
    assert_eq!(updated.body["timezone"], "Europe/Berlin");
    assert_eq!(updated.body["currency"], "GBP");
    assert_eq!(app.get("/v1/people/alice").await.body["loaded_hourly_cost"], "999999999.45");
    let cleared = app.patch("/v1/people/alice", json!({"loaded_hourly_cost": null, "team": null})).await;
    assert_eq!(cleared.body["loaded_hourly_cost"], serde_json::Value::Null);
    assert_eq!(cleared.body["team"], serde_json::Value::Null);
    assert_eq!(
        app.patch("/v1/people/alice", json!({"timezone": "Nowhere/Land"})).await.error_field(),
        Some("timezone")
    );
    assert_eq!(app.get("/v1/people?team=payments").await.body.as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/people").await.body.as_array().unwrap().len(), 2);
    assert_eq!(app.get("/v1/people/nobody").await.status, 404);

    let service = app.post("/v1/services", json!({"id": "ledger-db", "name": "Ledger DB"})).await;
    assert_eq!(service.status, 201);
    assert_eq!(service.body["team"], serde_json::Value::Null);
    assert_eq!(app.post("/v1/services", json!({"id": "ledger-db", "name": "Again"})).await.status, 409);
    assert_eq!(app.patch("/v1/services/ledger-db", json!({"team": "payments"})).await.body["team"], "payments");
    assert_eq!(app.patch("/v1/services/ledger-db", json!({"team": "nobody"})).await.error_field(), Some("team"));
    assert_eq!(app.get("/v1/services?team=payments").await.body.as_array().unwrap().len(), 2);
    assert_eq!(app.get("/v1/services/checkout").await.body["name"], "Checkout");
}
