//! History-true people (issue #18, item 4): a person's zone, working hours, holiday
//! calendar, team, cost centre and loaded cost change from a local date; pay is re-priced
//! from that date only, and past periods keep the team and cost centre of their time.
//! Per-night standby by a minimum of hours (item 7) through the API.

use paydown::domain::role::Role;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_zone_change_from_a_date_reprices_from_that_date_only,
    a_team_change_leaves_past_periods_under_the_old_team,
    versions_are_listed_within_the_callers_scope,
    a_change_inside_a_closed_period_lands_in_the_next_open_one,
    bad_effective_dates_are_refused_naming_the_field,
    a_night_needs_its_minimum_hours_from_the_shift_start,
    a_reversal_stays_in_the_period_of_the_entry_it_reverses,
);

/// alice (Europe/London, team payments) on policy `uk` from 2026-01-01, with a March night
/// page and shift (`ledger::march_facts`) and an October evening page and shift.
async fn march_and_october(app: &TestApp) {
    crate::ledger::march_facts(app).await;
    let page = json!({"source": "manual", "external_id": "INC-OCT", "service": "checkout",
        "triggered_at": "2026-10-14T20:30:00Z", "acknowledged_at": "2026-10-14T20:31:00Z",
        "acknowledged_by": "alice", "resolved_at": "2026-10-14T21:10:00Z"});
    assert_eq!(app.post("/v1/pages", page).await.status, 201);
    let shift =
        json!({"person": "alice", "role": "primary", "start": "2026-10-17T09:00:00Z", "end": "2026-10-18T09:00:00Z"});
    assert_eq!(app.post("/v1/shifts", shift).await.status, 201);
}

async fn accrue(app: &TestApp) -> Value {
    let run = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    run.body
}

async fn entries(app: &TestApp) -> Vec<Value> {
    app.get("/v1/ledger?person=alice&limit=1000").await.body.as_array().unwrap().clone()
}

async fn assert_verified(app: &TestApp, backend: Backend) {
    let verified = app.get("/v1/ledger/verify").await;
    assert_eq!(verified.body["differences"], json!([]), "{backend:?}: {:?}", verified.body);
}

async fn a_zone_change_from_a_date_reprices_from_that_date_only(backend: Backend) {
    let app = TestApp::new(backend);
    march_and_october(&app).await;
    accrue(&app).await;
    let before = entries(&app).await;
    let october_callout = before
        .iter()
        .find(|entry| entry["component"] == "callout" && entry["natural_period"] == "2026-10")
        .expect("21:30 London is off hours: a callout fee")
        .clone();

    let moved =
        app.patch("/v1/people/alice", json!({"timezone": "America/New_York", "effective_from": "2026-10-01"})).await;
    assert_eq!(moved.status, 200, "{backend:?}: {:?}", moved.body);
    assert_eq!(moved.body["timezone"], "America/New_York", "the people row holds the latest version");
    {
        // The version's trigger journals alice from the day before its date, nothing earlier.
        let mut conn = app.store.conn().unwrap();
        let marks = paydown::storage::journal::marks(&mut conn, "alice").unwrap().unwrap();
        assert_eq!(marks.from.to_rfc3339(), "2026-09-30T00:00:00+00:00", "{backend:?}");
    }
    let run = accrue(&app).await;
    let after = entries(&app).await;
    let new: Vec<&Value> = after.iter().filter(|entry| entry["accrual_run_id"] == run["run_id"]).collect();
    assert!(!new.is_empty(), "{backend:?}: October is re-priced");
    // Nothing before the change moves: no new line or reversal before London's midnight of
    // 1 October (30 Sep 23:00Z), and March's entries stand as posted.
    for entry in &new {
        let at = entry["occurred_at"].as_str().unwrap();
        assert!(at >= "2026-09-30T23:00:00Z", "{backend:?}: {entry}");
        assert_eq!(entry["natural_period"], "2026-10", "{backend:?}: {entry}");
    }
    let march = |entries: &[Value]| -> Vec<Value> {
        entries.iter().filter(|entry| entry["natural_period"] == "2026-03").cloned().collect()
    };
    assert_eq!(march(&after), march(&before), "{backend:?}: March untouched");
    // After it: 16:30 in New York is within working hours: the callout fee is reversed.
    assert!(
        new.iter().any(|entry| entry["kind"] == "reversal" && entry["reverses"] == october_callout["id"]),
        "{backend:?}: {new:?}"
    );
    assert!(
        new.iter().any(|entry| entry["component"] == "standby"
            && entry["explanation"].as_str().unwrap().contains("America/New_York")),
        "{backend:?}: October's standby in New York's days: {new:?}"
    );
    assert_verified(&app, backend).await;
    // An idle pass after it posts nothing.
    let idle = accrue(&app).await;
    assert_eq!((idle["lines_posted"].as_u64(), idle["reversals_posted"].as_u64()), (Some(0), Some(0)));

    // The versions say so.
    let versions = app.get("/v1/people/alice/versions").await;
    assert_eq!(versions.status, 200);
    let listed: Vec<(&str, &str)> = versions
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|version| (version["effective_from"].as_str().unwrap(), version["timezone"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("1970-01-01", "Europe/London"), ("2026-10-01", "America/New_York")]);
    let audit = app.get("/v1/audit?entity=person_version&id=alice@2026-10-01").await;
    assert_eq!(audit.status, 200, "{:?}", audit.body);
    assert_eq!(audit.body.as_array().map(Vec::len), Some(1), "{backend:?}: the change is audited: {:?}", audit.body);

    // A change from a date before a later version changes that stretch only; the people
    // row keeps the latest version.
    let hours = app
        .patch("/v1/people/alice", json!({"working_hours": {"mon": "08:00-16:00"}, "effective_from": "2026-09-01"}))
        .await;
    assert_eq!(hours.status, 200, "{:?}", hours.body);
    assert_eq!(hours.body["timezone"], "America/New_York");
    assert_eq!(
        hours.body["working_hours"],
        json!({"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00", "fri": "09:00-17:00"})
    );
    let versions = app.get("/v1/people/alice/versions").await.body;
    assert_eq!(versions[1]["timezone"], "Europe/London");
    assert_eq!(versions[1]["working_hours"], json!({"mon": "08:00-16:00"}));
    accrue(&app).await;
    assert_verified(&app, backend).await;
    assert_eq!(march(&entries(&app).await), march(&before), "{backend:?}: March still untouched");
}

async fn a_team_change_leaves_past_periods_under_the_old_team(backend: Backend) {
    let app = TestApp::new(backend);
    march_and_october(&app).await;
    let platform = json!({"id": "platform", "name": "Platform", "cost_centre": "CC-5200"});
    assert_eq!(app.post("/v1/teams", platform).await.status, 201);
    let moved = app
        .patch(
            "/v1/people/alice",
            json!({"team": "platform", "loaded_hourly_cost": "90.00", "effective_from": "2026-10-01"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(moved.body["team"], "platform");
    accrue(&app).await;
    assert_verified(&app, backend).await;

    // Pay: March is booked to payments' cost centre, October to platform's.
    let accruals = |period: &'static str| {
        let app = &app;
        async move {
            let path = format!("/v1/reports/accruals?period={period}&format=json");
            let reply = app.call_as("GET", &path, None, Some(&app.finance_token)).await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            reply.body.to_string()
        }
    };
    let march = accruals("2026-03").await;
    assert!(march.contains("CC-4100") && !march.contains("CC-5200"), "{backend:?}: {march}");
    let october = accruals("2026-10").await;
    assert!(october.contains("CC-5200") && !october.contains("CC-4100"), "{backend:?}: {october}");

    // Debt: a page belongs to the team owning its service (checkout: payments), before and
    // after alice's move, as it always did.
    let path = "/v1/reports/debt?group_by=team&from=2026-03-01T00:00:00Z&to=2026-11-01T00:00:00Z&format=json";
    let debt = app.call_as("GET", path, None, Some(&app.finance_token)).await;
    assert_eq!(debt.status, 200, "{:?}", debt.body);
    let text = debt.body.to_string();
    assert!(text.contains("payments") && !text.contains("platform"), "{backend:?}: {text}");

    // The history has both teams and the cost of each time.
    let versions = app.get("/v1/people/alice/versions").await.body;
    assert_eq!((versions[0]["team"].as_str(), versions[0]["loaded_hourly_cost"].as_str()), (Some("payments"), None));
    assert_eq!(
        (versions[1]["team"].as_str(), versions[1]["loaded_hourly_cost"].as_str()),
        (Some("platform"), Some("90.00"))
    );
    // A team change re-prices nothing (pay does not depend on the team).
    let idle = accrue(&app).await;
    assert_eq!((idle["lines_posted"].as_u64(), idle["reversals_posted"].as_u64()), (Some(0), Some(0)));
}

async fn versions_are_listed_within_the_callers_scope(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let bob = json!({"id": "bob", "name": "Bob", "email": "bob@example.com", "payroll_id": "E-1002",
        "timezone": "Europe/Berlin", "currency": "EUR"});
    assert_eq!(app.post("/v1/people", bob).await.status, 201);
    assert_eq!(
        app.post("/v1/teams", json!({"id": "search", "name": "Search", "cost_centre": "CC-1"})).await.status,
        201
    );
    let path = "/v1/people/alice/versions";
    let alice = app.token(Role::Engineer, Some("alice"), &[]);
    let bob = app.token(Role::Engineer, Some("bob"), &[]);
    let payments = app.token(Role::Manager, None, &["payments"]);
    let other = app.token(Role::Manager, None, &["search"]);
    for (token, status) in [(&alice, 200), (&payments, 200), (&app.finance_token, 200), (&bob, 403), (&other, 403)] {
        let reply = app.call_as("GET", path, None, Some(token)).await;
        assert_eq!(reply.status, status, "{backend:?}: {:?}", reply.body);
        if status == 200 {
            assert_eq!(reply.body.as_array().unwrap().len(), 1);
            assert_eq!(reply.body[0]["person"], "alice");
        }
    }
    // Only an admin changes a person.
    let refused = app.call_as("PATCH", "/v1/people/alice", Some(json!({"team": null})), Some(&payments)).await;
    assert_eq!(refused.status, 403);
    assert_eq!(app.get("/v1/people/nobody/versions").await.status, 404);
}

async fn a_change_inside_a_closed_period_lands_in_the_next_open_one(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    let closed = app.approve_and_close("2026-03").await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    let march_total = app.get("/v1/periods/2026-03").await.body["totals"].clone();
    // Moving to Tokyo from 1 March: the 02:14 London page is 11:14 in Tokyo, business hours.
    let moved = app.patch("/v1/people/alice", json!({"timezone": "Asia/Tokyo", "effective_from": "2026-03-01"})).await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let run = accrue(&app).await;
    assert!(run["adjustments_posted"].as_u64().unwrap() > 0, "{backend:?}: {run}");
    let march_after = app.get("/v1/periods/2026-03").await.body["totals"].clone();
    assert_eq!(march_after, march_total, "{backend:?}: a closed period never changes");
    assert_eq!(march_after["GBP"], "135.01");
    let adjustments: Vec<Value> = entries(&app)
        .await
        .into_iter()
        .filter(|entry| entry["natural_period"] == "2026-03" && entry["period"] != "2026-03")
        .collect();
    assert!(!adjustments.is_empty(), "{backend:?}");
    assert!(adjustments.iter().all(|entry| entry["period"] == "2026-04"), "{backend:?}: {adjustments:?}");
    assert_verified(&app, backend).await;
}

async fn bad_effective_dates_are_refused_naming_the_field(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let today = chrono::Utc::now().date_naive();
    for body in [
        json!({"timezone": "Asia/Tokyo", "effective_from": (today + chrono::Days::new(2)).to_string()}),
        json!({"timezone": "Asia/Tokyo", "effective_from": "1969-12-31"}),
        json!({"timezone": "Asia/Tokyo", "effective_from": "2026-13-01"}),
        json!({"timezone": "Asia/Tokyo", "effective_from": 20261001}),
        json!({"name": "Alice B.", "effective_from": "2026-10-01"}),
    ] {
        let reply = app.patch("/v1/people/alice", body.clone()).await;
        assert_eq!(reply.status, 400, "{backend:?}: {body}: {:?}", reply.body);
        assert_eq!(reply.error_field(), Some("effective_from"), "{backend:?}: {body}: {:?}", reply.body);
    }
    let long = "C".repeat(65);
    assert_eq!(app.patch("/v1/people/alice", json!({"cost_centre": long})).await.error_field(), Some("cost_centre"));
    // Without a date, a change is from the person's today.
    let changed = app.patch("/v1/people/alice", json!({"cost_centre": "CC-9"})).await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let versions = app.get("/v1/people/alice/versions").await.body;
    let from = versions[1]["effective_from"].as_str().unwrap();
    let yesterday = (today - chrono::Days::new(1)).to_string();
    assert!(from == today.to_string() || from == yesterday, "{from}");
    assert_eq!(versions[1]["cost_centre"], "CC-9");
    // The same change again adds no version.
    app.patch("/v1/people/alice", json!({"cost_centre": "CC-9"})).await;
    assert_eq!(app.get("/v1/people/alice/versions").await.body.as_array().unwrap().len(), 2);
}

async fn a_night_needs_its_minimum_hours_from_the_shift_start(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let policy = json!({"id": "uk-night", "version": 1, "effective_from": "2026-01-01", "currency": "GBP",
        "standby": {"mode": "per_night", "night_minimum_hours": 6, "night_boundary": "00:00:00",
            "rates": {"weekday": "20.00", "weekend": "40.00", "holiday": "60.00"}}});
    let created = app.post("/v1/policies", policy).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let assignment = json!({"policy": "uk-night", "effective_from": "2026-01-01"});
    assert_eq!(app.post("/v1/people/alice/policy-assignments", assignment).await.status, 201);
    // Mon 12 Jan 18:01–00:00 (5 h 59 min): no night; Tue 13 Jan 17:00–23:30: a night.
    for (start, end) in
        [("2026-01-12T18:01:00Z", "2026-01-13T00:00:00Z"), ("2026-01-13T17:00:00Z", "2026-01-13T23:30:00Z")]
    {
        let shift = json!({"person": "alice", "role": "primary", "start": start, "end": end});
        assert_eq!(app.post("/v1/shifts", shift).await.status, 201);
    }
    let statement = app.get("/v1/people/alice/statement?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z").await;
    assert_eq!(statement.status, 200, "{:?}", statement.body);
    let lines = statement.body["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{backend:?}: {lines:?}");
    assert_eq!(lines[0]["amount"], "20.00");
    assert!(lines[0]["explanation"].as_str().unwrap().contains("at least 6 h between Tue 00:00 and Wed 00:00"));

    // Out of bounds: named.
    for (field, standby) in [
        ("standby.night_minimum_hours", json!({"mode": "per_night", "night_minimum_hours": 25})),
        ("standby.night_minimum_hours", json!({"mode": "per_night", "night_minimum_hours": -1})),
        ("standby.night_boundary", json!({"mode": "per_night", "night_boundary": "12:00:00"})),
    ] {
        let policy = json!({"id": "bad-night", "version": 1, "effective_from": "2026-01-01", "currency": "GBP", "standby": standby});
        let reply = app.post("/v1/policies", policy).await;
        assert_eq!(reply.status, 400, "{backend:?}: {:?}", reply.body);
        assert_eq!(reply.error_field(), Some(field), "{:?}", reply.body);
    }
}

/// A page at 02:00Z on 1 November is November's in London but 31 October's in New York:
/// after a move to New York from October, its old lines are reversed in November (where
/// they were posted) and the new ones land in October; the ledger still verifies.
async fn a_reversal_stays_in_the_period_of_the_entry_it_reverses(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    let page = json!({"source": "manual", "external_id": "INC-EDGE", "service": "checkout",
        "triggered_at": "2026-11-01T02:00:00Z", "acknowledged_at": "2026-11-01T02:01:00Z",
        "acknowledged_by": "alice", "resolved_at": "2026-11-01T02:30:00Z"});
    assert_eq!(app.post("/v1/pages", page).await.status, 201);
    accrue(&app).await;
    let posted: Vec<Value> =
        entries(&app).await.into_iter().filter(|entry| entry["natural_period"] == "2026-11").collect();
    assert!(!posted.is_empty(), "{backend:?}: {:?}", entries(&app).await);
    let moved =
        app.patch("/v1/people/alice", json!({"timezone": "America/New_York", "effective_from": "2026-10-01"})).await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let run = accrue(&app).await;
    let new: Vec<Value> =
        entries(&app).await.into_iter().filter(|entry| entry["accrual_run_id"] == run["run_id"]).collect();
    for reversal in new.iter().filter(|entry| entry["kind"] == "reversal") {
        assert_eq!(reversal["natural_period"], "2026-11", "{backend:?}: {reversal}");
    }
    assert!(
        new.iter().any(|entry| entry["kind"] == "line" && entry["natural_period"] == "2026-10"),
        "{backend:?}: {new:?}"
    );
    assert_verified(&app, backend).await;
}
