//! `/v1/shifts`: one or a batch, idempotent, listed by person and time range.

use serde_json::json;

use crate::helpers::{Backend, RunningServer, TestApp};
use crate::on_both_backends;

on_both_backends!(
    shifts_are_idempotent_and_listed_by_person_and_range,
    one_shift_delivered_at_once_from_several_clients_is_recorded_once,
);

async fn shifts_are_idempotent_and_listed_by_person_and_range(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    // Across the autumn DST change in London: 7 days plus one hour really elapse.
    let shift = json!({"person": "alice", "role": "primary", "schedule": "payments-weekly",
        "start": "2026-10-19T09:00:00+01:00", "end": "2026-10-26T09:00:00+00:00"});
    let created = app.post("/v1/shifts", shift.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["start"], "2026-10-19T08:00:00Z");
    assert_eq!(created.body["end"], "2026-10-26T09:00:00Z");
    assert_eq!(app.post("/v1/shifts", shift).await.status, 200);

    let batch = json!({"shifts": [
        {"person": "alice", "role": "secondary", "start": "2026-10-26T09:00:00Z", "end": "2026-11-02T09:00:00Z", "source": "ics", "external_id": "evt-1"},
        {"person": "alice", "role": "primary", "start": "2026-11-02T09:00:00Z", "end": "2026-11-09T09:00:00Z", "source": "ics", "external_id": "evt-2"},
    ]});
    let recorded = app.post("/v1/shifts/batch", batch.clone()).await;
    assert_eq!(recorded.status, 200, "{:?}", recorded.body);
    assert_eq!((recorded.body["created"].as_u64(), recorded.body["existing"].as_u64()), (Some(2), Some(0)));
    let again = app.post("/v1/shifts/batch", batch).await;
    assert_eq!((again.body["created"].as_u64(), again.body["existing"].as_u64()), (Some(0), Some(2)));

    // A bad item names its index, and nothing of the batch is recorded.
    let bad = json!({"shifts": [
        {"person": "alice", "role": "backup", "start": "2026-12-01T09:00:00Z", "end": "2026-12-02T09:00:00Z"},
        {"person": "alice", "role": "backup", "start": "2026-12-03T09:00:00Z", "end": "2026-12-02T09:00:00Z"},
    ]});
    let refused = app.post("/v1/shifts/batch", bad).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_field(), Some("shifts[1].end"));
    let unknown = json!({"shifts": [
        {"person": "alice", "role": "backup", "start": "2026-12-01T09:00:00Z", "end": "2026-12-02T09:00:00Z"},
        {"person": "zed", "role": "backup", "start": "2026-12-03T09:00:00Z", "end": "2026-12-04T09:00:00Z"},
    ]});
    let refused = app.post("/v1/shifts/batch", unknown).await;
    assert_eq!(refused.error_field(), Some("shifts[1].person"));
    assert_eq!(app.get("/v1/shifts?person=alice").await.body.as_array().unwrap().len(), 3);

    let overlapping = app.get("/v1/shifts?person=alice&from=2026-10-30T00:00:00Z&to=2026-11-03T00:00:00Z").await;
    let roles: Vec<_> = overlapping.body.as_array().unwrap().iter().map(|shift| shift["role"].clone()).collect();
    assert_eq!(roles, vec![json!("secondary"), json!("primary")]);
    assert!(app.get("/v1/shifts?person=nobody").await.body.as_array().unwrap().is_empty());
}

/// A scheduler retrying while its first delivery is still in flight: the same shift from
/// several connections at once is recorded once, one 201 and the rest 200, never a 5xx
/// (on PostgreSQL every request used to find no row and all but one failed on the
/// `(source, external_id)` key with a 500).
async fn one_shift_delivered_at_once_from_several_clients_is_recorded_once(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let server = RunningServer::start(app.store.clone());
    let clients = 8;
    for day in 1..=5 {
        let shift = json!({"person": "alice", "role": "primary",
            "start": format!("2026-12-0{day}T09:00:00Z"), "end": format!("2026-12-0{}T09:00:00Z", day + 1)});
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients));
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                let (barrier, address, token) = (barrier.clone(), server.address, app.admin_token.clone());
                let body = shift.to_string();
                std::thread::spawn(move || {
                    barrier.wait();
                    crate::helpers::http_request(address, "POST", "/v1/shifts", &body, Some(&token))
                })
            })
            .collect();
        let replies: Vec<_> = threads.into_iter().map(|thread| thread.join().unwrap()).collect();
        let statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
        assert_eq!(statuses.iter().filter(|status| **status == 201).count(), 1, "{replies:?}");
        assert_eq!(statuses.iter().filter(|status| **status == 200).count(), clients - 1, "{replies:?}");
    }
    let listed = server.request(
        "GET",
        "/v1/shifts?person=alice&from=2026-12-01T00:00:00Z&to=2026-12-31T00:00:00Z",
        "",
        &app.admin_token,
    );
    assert_eq!(listed.body.as_array().unwrap().len(), 5, "{:?}", listed.body);
}
