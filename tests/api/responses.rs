//! `/v1/pages/{id}/responses` and `/v1/people/{id}/responses`.

use serde_json::json;

use crate::helpers::{Backend, RunningServer, TestApp};
use crate::on_both_backends;

on_both_backends!(
    responses_are_logged_and_listed_per_page_and_person,
    a_response_with_an_id_is_idempotent,
    one_response_posted_at_once_from_several_clients_is_recorded_once,
);

async fn page_id(app: &TestApp) -> String {
    let page = json!({"source": "manual", "external_id": "INC-7", "service": "checkout", "triggered_at": "2026-10-03T02:14:00Z"});
    app.post("/v1/pages", page).await.body["id"].as_str().unwrap().to_owned()
}

async fn responses_are_logged_and_listed_per_page_and_person(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let id = page_id(&app).await;
    let logged = app
        .post(
            &format!("/v1/pages/{id}/responses"),
            json!({"person": "alice", "started_at": "2026-10-03T02:14:00Z", "ended_at": "2026-10-03T03:05:00Z",
                   "notes": "Rotated logs, freed 40 GB", "actionable": true}),
        )
        .await;
    assert_eq!(logged.status, 201, "{:?}", logged.body);
    assert_eq!(logged.body["duration_minutes"], 51);
    let by_duration = app
        .post(
            &format!("/v1/pages/{id}/responses"),
            json!({"person": "alice", "started_at": "2026-10-03T09:00:00+01:00", "duration_minutes": 20, "actionable": false}),
        )
        .await;
    assert_eq!(by_duration.status, 201);
    assert_eq!(by_duration.body["ended_at"], "2026-10-03T08:20:00Z");

    let per_page = app.get(&format!("/v1/pages/{id}/responses")).await;
    assert_eq!(per_page.body.as_array().unwrap().len(), 2);
    assert_eq!(per_page.body[0]["notes"], "Rotated logs, freed 40 GB");
    let per_person = app.get("/v1/people/alice/responses?from=2026-10-03T00:00:00Z&to=2026-10-03T08:00:00Z").await;
    assert_eq!(per_person.body.as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/people/alice/responses").await.body.as_array().unwrap().len(), 2);
    assert_eq!(app.get("/v1/people/nobody/responses").await.status, 404);
}

async fn a_response_with_an_id_is_idempotent(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let id = page_id(&app).await;
    let body = json!({"id": "0192f3a4-1111-7000-8000-000000000001", "person": "alice",
        "started_at": "2026-10-03T02:14:00Z", "ended_at": "2026-10-03T02:44:00Z", "actionable": true});
    assert_eq!(app.post(&format!("/v1/pages/{id}/responses"), body.clone()).await.status, 201);
    assert_eq!(app.post(&format!("/v1/pages/{id}/responses"), body.clone()).await.status, 200);
    let mut changed = body;
    changed["actionable"] = json!(false);
    let conflict = app.post(&format!("/v1/pages/{id}/responses"), changed).await;
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.error_field(), Some("id"));
    assert_eq!(app.get(&format!("/v1/pages/{id}/responses")).await.body.as_array().unwrap().len(), 1);
}

/// A client retrying while its first attempt is still in flight: the same response (by
/// id) from several connections at once is recorded once, one 201 and the rest 200,
/// never a 5xx (on PostgreSQL every request used to find no row and all but one failed
/// on the primary key with a 500). Found by `.ci/crash`.
async fn one_response_posted_at_once_from_several_clients_is_recorded_once(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let id = page_id(&app).await;
    let server = RunningServer::start(app.store.clone());
    let clients = 8;
    for attempt in 0..5 {
        let body = json!({"id": format!("0192f3a4-2222-7000-8000-00000000000{attempt}"), "person": "alice",
            "started_at": "2026-10-03T02:14:00Z", "ended_at": "2026-10-03T02:44:00Z", "actionable": true});
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients));
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                let (barrier, address, token) = (barrier.clone(), server.address, app.admin_token.clone());
                let (path, body) = (format!("/v1/pages/{id}/responses"), body.to_string());
                std::thread::spawn(move || {
                    barrier.wait();
                    crate::helpers::http_request(address, "POST", &path, &body, Some(&token))
                })
            })
            .collect();
        let replies: Vec<_> = threads.into_iter().map(|thread| thread.join().unwrap()).collect();
        let statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
        assert_eq!(statuses.iter().filter(|status| **status == 201).count(), 1, "{replies:?}");
        assert_eq!(statuses.iter().filter(|status| **status == 200).count(), clients - 1, "{replies:?}");
    }
    let logged = server.request("GET", &format!("/v1/pages/{id}/responses"), "", &app.admin_token);
    assert_eq!(logged.body.as_array().unwrap().len(), 5);
}
