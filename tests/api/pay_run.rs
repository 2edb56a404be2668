//! Issue 18: finance's pay run. Periods close in order, only once approved (by another
//! finance user with four-eyes on), each step with a reason; the review's totals, changes
//! since the last export and anomalies; manual adjustments; the go-live date.

use std::process::Command;

use paydown::domain::role::Role;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{Backend, RunningServer, TestApp};
use crate::ledger::march_facts;
use crate::on_both_backends;

on_both_backends!(
    periods_close_in_order_once_approved_with_four_eyes,
    an_approval_lapses_when_the_ledger_changes,
    the_review_shows_totals_changes_and_anomalies,
    adjustments_post_once_show_in_files_and_survive_reaccrual,
    history_before_go_live_is_reported_but_never_paid,
    the_worker_never_reverses_an_adjustment,
);

/// A page acknowledged by alice (and a response by her, when `minutes` is given).
async fn alice_page(app: &TestApp, external_id: &str, at: &str, minutes: Option<i64>) -> String {
    let page = json!({"source": "manual", "external_id": external_id, "service": "checkout",
        "triggered_at": at, "acknowledged_at": at, "acknowledged_by": "alice"});
    let reply = app.post("/v1/pages", page).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let page_id = reply.body["id"].as_str().unwrap().to_owned();
    if let Some(minutes) = minutes {
        let response = json!({"person": "alice", "started_at": at, "duration_minutes": minutes, "actionable": true});
        let logged = app.post(&format!("/v1/pages/{page_id}/responses"), response).await;
        assert_eq!(logged.status, 201, "{:?}", logged.body);
    }
    page_id
}

/// A second finance token with a name of its own: another finance user.
async fn second_finance(app: &TestApp) -> String {
    let created = app.post("/v1/tokens", json!({"name": "second finance", "role": "finance"})).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body["secret"].as_str().unwrap().to_owned()
}

async fn step(app: &TestApp, step: &str, period: &str, reason: &str, token: &str) -> crate::helpers::Reply {
    app.call_as("POST", &format!("/v1/periods/{period}/{step}"), Some(json!({"reason": reason})), Some(token)).await
}

async fn finance_post(app: &TestApp, path: &str, body: Value) -> crate::helpers::Reply {
    app.call_as("POST", path, Some(body), Some(&app.finance_token)).await
}

async fn finance_get(app: &TestApp, path: &str) -> crate::helpers::Reply {
    app.call_as("GET", path, None, Some(&app.finance_token)).await
}

fn decimal(value: &Value) -> Decimal {
    value.as_str().unwrap_or_else(|| panic!("a decimal string: {value:?}")).parse().unwrap()
}

async fn periods_close_in_order_once_approved_with_four_eyes(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    alice_page(&app, "APR-1", "2026-04-10T23:00:00Z", None).await;
    alice_page(&app, "MAY-1", "2026-05-12T23:00:00Z", None).await;
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let (first, second) = (app.finance_token.clone(), second_finance(&app).await);

    // The finding: 2026-11 closed while earlier periods were open. Now: 409, naming them.
    assert_eq!(step(&app, "approve", "2026-04", "checked", &first).await.status, 200);
    let out_of_order = step(&app, "close", "2026-04", "sent", &second).await;
    assert_eq!((out_of_order.status, out_of_order.error_field()), (409, Some("id")), "{:?}", out_of_order.body);
    assert!(out_of_order.body["error"]["message"].as_str().unwrap().contains("close 2026-03 first"));
    // Not approved: 409.
    let unapproved = step(&app, "close", "2026-03", "sent", &first).await;
    assert_eq!(unapproved.status, 409);
    assert!(unapproved.body["error"]["message"].as_str().unwrap().contains("not approved"));

    // A reason goes with every step: required, not blank, bounded.
    for body in [json!({}), json!({"reason": "  "}), json!({"reason": "x".repeat(1_001)})] {
        let refused = app.post("/v1/periods/2026-03/approve", body).await;
        assert_eq!((refused.status, refused.error_field()), (400, Some("reason")), "{:?}", refused.body);
    }
    assert_eq!(app.post("/v1/periods/2026-03/close", json!({})).await.error_field(), Some("reason"));
    // Engineers and managers may review nothing and approve nothing.
    let engineer = app.token(Role::Engineer, Some("alice"), &[]);
    let manager = app.token(Role::Manager, None, &["payments"]);
    for token in [&engineer, &manager] {
        assert_eq!(step(&app, "approve", "2026-03", "mine", token).await.status, 403);
        assert_eq!(app.call_as("GET", "/v1/periods/2026-03/review", None, Some(token)).await.status, 403);
    }

    // Four-eyes off: one finance user approves and closes.
    assert_eq!(app.get("/v1/settings/pay-run").await.body, json!({"pay_from": null, "four_eyes": false}));
    let approved = step(&app, "approve", "2026-03", "agreed with team leads", &first).await;
    assert_eq!(
        (approved.body["run"]["state"].as_str(), approved.body["entries"].as_i64()),
        (Some("approved"), Some(5))
    );
    let closed = step(&app, "close", "2026-03", "sent to payroll", &first).await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(
        (closed.body["status"].as_str(), closed.body["run"]["state"].as_str()),
        (Some("closed"), Some("closed"))
    );
    assert_eq!(closed.body["closed_by"], "token:test finance");

    // Four-eyes on (an admin's setting): the approver may not close; another finance user may.
    let on = app.put("/v1/settings/pay-run", json!({"four_eyes": true})).await;
    assert_eq!(on.body, json!({"pay_from": null, "four_eyes": true}));
    let same = step(&app, "close", "2026-04", "sent", &first).await;
    assert_eq!((same.status, same.error_code()), (403, Some("four_eyes")), "{:?}", same.body);
    let other = step(&app, "close", "2026-04", "second pair of eyes", &second).await;
    assert_eq!(
        (other.status, other.body["closed_by"].as_str()),
        (200, Some("token:second finance")),
        "{:?}",
        other.body
    );
    // May: approved by the second user, closed by the first.
    assert_eq!(step(&app, "approve", "2026-05", "checked", &second).await.status, 200);
    assert_eq!(step(&app, "close", "2026-05", "sent", &first).await.status, 200);

    // Every step is audited with its reason.
    let audit = app.get("/v1/audit?entity=pay_period&id=2026-04").await.body;
    let steps: Vec<(&str, &str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["action"].as_str().unwrap(), row["actor"].as_str().unwrap(), row["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("approve", "token:test finance", "1 entries; reason: checked"),
            ("close", "token:second finance", "1 entries; reason: second pair of eyes"),
        ]
    );
    assert_eq!(step(&app, "reopen", "2026-04", "oops", &first).await.status, 409, "a closed period never reopens");
}

async fn an_approval_lapses_when_the_ledger_changes(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    let approved = app.post("/v1/periods/2026-03/approve", json!({"reason": "checked"})).await;
    assert_eq!((approved.status, approved.body["entries"].as_i64()), (200, Some(5)), "closing's accrual runs first");
    // An approved period takes no adjustment: reopen first.
    let adjustment = json!({"person": "alice", "period": "2026-03", "amount": "20.00", "reason": "bonus"});
    let refused = finance_post(&app, "/v1/adjustments", adjustment.clone()).await;
    assert_eq!((refused.status, refused.error_field()), (409, Some("period")), "{:?}", refused.body);

    // A late page lands in March after the approval: the approval lapses.
    alice_page(&app, "LATE-1", "2026-03-11T19:00:00Z", None).await;
    let late = app.post("/v1/ledger/accrue", json!({})).await.body;
    let posted = late["lines_posted"].as_i64().unwrap();
    assert!(posted > 0);
    let review = app.get("/v1/periods/2026-03/review").await.body;
    assert_eq!(
        (review["run"]["state"].as_str(), review["run"]["approval_lapsed"].as_bool()),
        (Some("open"), Some(true))
    );
    assert_eq!(review["run"]["entries_since_approval"].as_i64(), Some(posted));
    let lapsed = app.post("/v1/periods/2026-03/close", json!({"reason": "sent"})).await;
    assert_eq!(lapsed.status, 409);
    assert!(lapsed.body["error"]["message"].as_str().unwrap().contains("lapsed"), "{:?}", lapsed.body);

    // Approve again, reopen to add a bonus, approve, close.
    assert_eq!(app.post("/v1/periods/2026-03/approve", json!({"reason": "re-checked"})).await.status, 200);
    let reopened = app.post("/v1/periods/2026-03/reopen", json!({"reason": "bonus for the outage"})).await;
    assert_eq!(reopened.body["run"]["state"], "open");
    assert_eq!(finance_post(&app, "/v1/adjustments", adjustment).await.status, 201);
    assert_eq!(app.approve_and_close("2026-03").await.status, 200);
}

async fn the_review_shows_totals_changes_and_anomalies(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    // From March, the policy caps a person's pay at 500.00 a period (rates unchanged).
    let capped =
        json!({"id": "uk", "version": 2, "effective_from": "2026-03-01", "currency": "GBP", "period_cap": "500.00"});
    assert_eq!(app.post("/v1/policies", capped.clone()).await.status, 201);
    let mut bad_cap = capped.clone();
    (bad_cap["version"], bad_cap["effective_from"], bad_cap["period_cap"]) =
        (json!(3), json!("2026-06-01"), json!("-1"));
    assert_eq!(app.post("/v1/policies", bad_cap).await.error_field(), Some("period_cap"));
    // Three earlier periods with 40.00 each: alice's trailing median.
    for period in ["2025-12", "2026-01", "2026-02"] {
        let adjustment =
            json!({"person": "alice", "period": period, "amount": "40.00", "reason": "standby paid by hand"});
        assert_eq!(finance_post(&app, "/v1/adjustments", adjustment).await.status, 201);
    }
    // Tuesday 10 March 02:00–03:00 GMT, on call: the rest from Monday 17:00 to Tuesday
    // 09:00 is cut to 9 h then 6 h: 2 h of compensatory rest owed.
    alice_page(&app, "NIGHT-1", "2026-03-10T02:00:00Z", Some(60)).await;
    // Friday 20 March 18:00 for 13 hours: a response over 12 h.
    alice_page(&app, "LONG-1", "2026-03-20T18:00:00Z", Some(780)).await;
    // A page alice was not called for: her response is a claim awaiting approval.
    let claimed = json!({"source": "manual", "external_id": "CLAIM-1", "service": "checkout", "triggered_at": "2026-03-25T12:00:00Z"});
    let claimed_page = app.post("/v1/pages", claimed).await.body["id"].as_str().unwrap().to_owned();
    let claim =
        json!({"person": "alice", "started_at": "2026-03-25T12:00:00Z", "duration_minutes": 30, "actionable": true});
    let claim = app.post(&format!("/v1/pages/{claimed_page}/responses"), claim).await;
    assert_eq!(claim.body["status"], "pending", "{:?}", claim.body);
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);

    let review = app.get("/v1/periods/2026-03/review").await;
    assert_eq!(review.status, 200, "{:?}", review.body);
    let review = review.body;
    // March: the night callout 50.00, the Tuesday night 50.00, the Friday evening 25.00;
    // responses 60.00 + 60.00 + 13 h at 30.00/h × 1.5 = 720.00; standby 15.63 + 9.38.
    let totals: Vec<(&str, &str, u64)> = review["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|total| {
            assert_eq!((total["person"].as_str(), total["currency"].as_str()), (Some("alice"), Some("GBP")));
            (
                total["component"].as_str().unwrap(),
                total["amount"].as_str().unwrap(),
                total["entries"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        totals,
        [("callout", "125.00", 3), ("recovery", "0.00", 3), ("response", "840.00", 3), ("standby", "25.01", 2)]
    );
    assert_eq!(review["total_by_currency"], json!({"GBP": "990.01"}));
    let entries = app.get("/v1/ledger?period=2026-03").await.body;
    let entries = entries.as_array().unwrap();
    let total = decimal(&review["total_by_currency"]["GBP"]);
    assert_eq!(total, entries.iter().map(|entry| decimal(&entry["amount"])).sum::<Decimal>());

    // Never exported: every entry is new.
    let changes = &review["changes_since_export"];
    assert_eq!((changes["last_export"].clone(), changes["count"].as_u64()), (Value::Null, Some(entries.len() as u64)));

    let anomalies = review["anomalies"].as_array().unwrap();
    let of_kind = |kind: &str| anomalies.iter().filter(|anomaly| anomaly["kind"] == kind).cloned().collect::<Vec<_>>();
    let median = of_kind("pay_over_trailing_median");
    assert_eq!(median.len(), 1, "{anomalies:?}");
    assert_eq!((median[0]["median"].as_str(), median[0]["amount"].as_str()), (Some("40.00"), Some("990.01")));
    assert_eq!(median[0]["trailing_periods"], json!(["2025-12", "2026-01", "2026-02"]));
    assert_eq!(median[0]["entries"].as_array().unwrap().len(), entries.len());

    let cap = of_kind("pay_over_cap");
    assert_eq!(cap.len(), 1, "{anomalies:?}");
    assert_eq!(
        (cap[0]["cap"].as_str(), cap[0]["amount"].as_str(), cap[0]["policies"].clone()),
        (Some("500.00"), Some("990.01"), json!(["uk@2"]))
    );
    assert_eq!(cap[0]["entries"].as_array().unwrap().len(), entries.len());

    let long = of_kind("long_response");
    assert_eq!(long.len(), 1, "{anomalies:?}");
    assert_eq!(long[0]["minutes"], "780");
    let long_lines = long[0]["entries"].as_array().unwrap();
    assert!(!long_lines.is_empty());
    assert!(
        long_lines.iter().all(|id| entries.iter().any(|entry| entry["id"] == *id && entry["component"] == "response"))
    );

    let pending = of_kind("pending_claim");
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0]["page"].as_str(), pending[0]["minutes"].as_i64()), (Some(claimed_page.as_str()), Some(30)));

    let rest = of_kind("daily_rest");
    assert_eq!(rest.len(), 1, "{anomalies:?}");
    assert_eq!(
        (rest[0]["date"].as_str(), rest[0]["rest_from"].as_str(), rest[0]["rest_to"].as_str()),
        (Some("2026-03-10"), Some("2026-03-09T17:00:00Z"), Some("2026-03-10T09:00:00Z"))
    );
    assert_eq!(
        (rest[0]["longest_rest_minutes"].as_i64(), rest[0]["compensatory_rest_minutes"].as_i64()),
        (Some(540), Some(120))
    );
    assert_eq!(rest[0]["recovery_hours"], "2");
    let rest_lines = rest[0]["entries"].as_array().unwrap();
    assert_eq!(rest_lines.len(), 2, "the night response's response and recovery lines");
    let recovery: Decimal = entries
        .iter()
        .filter(|entry| rest_lines.contains(&entry["id"]) && entry["component"] == "recovery")
        .map(|entry| decimal(&entry["quantity"]))
        .sum();
    assert_eq!(decimal(&rest[0]["recovery_hours"]), recovery, "recovery hours beside the rest owed");

    // Exported, then a late page: only its lines are new.
    let file = finance_get(&app, "/v1/reports/payroll?period=2026-03&layout=long").await;
    assert_eq!(file.status, 200);
    alice_page(&app, "LATE-2", "2026-03-26T23:00:00Z", None).await;
    let late = app.post("/v1/ledger/accrue", json!({})).await.body;
    let review = app.get("/v1/periods/2026-03/review").await.body;
    let changes = &review["changes_since_export"];
    assert_eq!(changes["last_export"]["layout"], "long");
    assert_eq!(changes["last_export"]["entry_count"].as_u64(), Some(entries.len() as u64));
    assert_eq!(changes["count"].as_i64(), late["lines_posted"].as_i64());
    let new_total: Decimal = changes["entries"].as_array().unwrap().iter().map(|entry| decimal(&entry["amount"])).sum();
    assert_eq!(decimal(&changes["total_by_currency"]["GBP"]), new_total);
    assert_eq!(decimal(&review["total_by_currency"]["GBP"]), total + new_total);
}

async fn adjustments_post_once_show_in_files_and_survive_reaccrual(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let good = json!({"person": "alice", "period": "2026-03", "amount": "-12.34", "reason": "standby overpaid in February", "earning_code": "DED-1"});
    for (field, value, wrong) in [
        ("amount", json!("12.345"), "amount"),
        ("amount", json!("abc"), "amount"),
        ("amount", json!("0"), "amount"),
        ("amount", json!(12.5), "amount"),
        ("amount", json!("1000000.01"), "amount"),
        ("reason", json!(""), "reason"),
        ("person", json!("nobody"), "person"),
        ("period", json!("2026-13"), "period"),
        ("earning_code", json!("X".repeat(33)), "earning_code"),
    ] {
        let mut body = good.clone();
        body[field] = value.clone();
        let refused = finance_post(&app, "/v1/adjustments", body).await;
        assert_eq!(
            (refused.status, refused.error_field()),
            (400, Some(wrong)),
            "{field} = {value}: {:?}",
            refused.body
        );
    }
    let engineer = app.token(Role::Engineer, Some("alice"), &[]);
    assert_eq!(app.call_as("POST", "/v1/adjustments", Some(good.clone()), Some(&engineer)).await.status, 403);

    let created = finance_post(&app, "/v1/adjustments", good).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        (created.body["amount"].as_str(), created.body["currency"].as_str(), created.body["earning_code"].as_str()),
        (Some("-12.34"), Some("GBP"), Some("DED-1"))
    );
    let bonus = json!({"person": "alice", "period": "2026-03", "amount": "100.00", "reason": "outage bonus"});
    assert_eq!(finance_post(&app, "/v1/adjustments", bonus).await.status, 201);

    // In the statement, as lines, and in its total: 135.01 − 12.34 + 100.00.
    let statement = app.get("/v1/people/alice/statement?period=2026-03").await.body;
    let adjustments: Vec<&str> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["component"] == "manual_adjustment")
        .map(|line| line["amount"].as_str().unwrap())
        .collect();
    assert_eq!(adjustments, ["-12.34", "100.00"]);
    assert_eq!(statement["total_by_currency"]["GBP"], "222.67");

    // In the payroll file with their earning codes: their own, else the layout's.
    let csv = finance_get(&app, "/v1/reports/payroll?period=2026-03&layout=long").await.body;
    let csv = csv.as_str().unwrap();
    assert!(csv.contains("E-1001,Alice,DED-1,,-12.34,GBP"), "{csv}");
    assert!(csv.contains("E-1001,Alice,OC-ADJ,,100.00,GBP"), "{csv}");
    let wide = finance_get(&app, "/v1/reports/payroll?period=2026-03&layout=wide").await;
    assert_eq!(wide.status, 200, "{:?}", wide.body);
    assert!(wide.body.as_str().unwrap().contains(",87.66,222.67,"), "{:?}", wide.body);

    // A change to alice's facts re-prices her: the adjustments stay, exactly once each.
    let patched = app
        .patch(
            "/v1/people/alice",
            json!({"working_hours": {"mon": "08:00-16:00", "tue": "08:00-16:00",
        "wed": "08:00-16:00", "thu": "08:00-16:00", "fri": "08:00-16:00"}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let reaccrued = app.post("/v1/ledger/accrue", json!({})).await.body;
    assert!(reaccrued["people"].as_u64().unwrap() >= 1, "{reaccrued:?}");
    let ledger = app.get("/v1/ledger?person=alice").await.body;
    let ledger = ledger.as_array().unwrap();
    let manual: Vec<&Value> = ledger.iter().filter(|entry| entry["fact_kind"] == "manual_adjustment").collect();
    assert_eq!(manual.len(), 2, "{manual:?}");
    assert!(manual.iter().all(|entry| entry["kind"] == "line"));
    let ids: Vec<&Value> = manual.iter().map(|entry| &entry["id"]).collect();
    assert!(ledger.iter().all(|entry| !ids.contains(&&entry["reverses"])), "an adjustment is never reversed");
    let verified = app.get("/v1/ledger/verify").await.body;
    assert_eq!(verified["differences"], json!([]), "{verified:?}");

    // Closed: 409. Approved: 409 (reopen first).
    assert_eq!(app.approve_and_close("2026-03").await.status, 200);
    let late = json!({"person": "alice", "period": "2026-03", "amount": "5.00", "reason": "late"});
    let closed = finance_post(&app, "/v1/adjustments", late).await;
    assert_eq!((closed.status, closed.error_field()), (409, Some("period")), "{:?}", closed.body);
}

async fn history_before_go_live_is_reported_but_never_paid(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let policy = json!({"id": "uk", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", policy).await.status, 201);
    let assignment = json!({"policy": "uk", "effective_from": "2026-01-01"});
    assert_eq!(app.post("/v1/people/alice/policy-assignments", assignment).await.status, 201);
    assert_eq!(app.patch("/v1/people/alice", json!({"loaded_hourly_cost": "60.00"})).await.status, 200);
    for bad in [json!({"pay_from": "15/03/2026"}), json!({"pay_from": "2200-01-01"})] {
        assert_eq!(app.put("/v1/settings/pay-run", bad).await.error_field(), Some("pay_from"));
    }
    let live = app.put("/v1/settings/pay-run", json!({"pay_from": "2026-03-15"})).await;
    assert_eq!(live.body, json!({"pay_from": "2026-03-15", "four_eyes": false}));

    // Last year's history, imported: two pages before the go-live date, one after.
    let file = std::env::temp_dir().join(format!("paydown-history-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        "source,external_id,service,triggered_at,acknowledged_at,acknowledged_by,resolved_at\n\
         manual,H-1,checkout,2026-03-07T02:14:00Z,2026-03-07T02:16:00Z,alice,2026-03-07T02:46:00Z\n\
         manual,H-2,checkout,2026-03-10T02:00:00Z,2026-03-10T02:05:00Z,alice,2026-03-10T02:35:00Z\n\
         manual,H-3,checkout,2026-03-21T02:00:00Z,2026-03-21T02:05:00Z,alice,2026-03-21T02:35:00Z\n",
    )
    .unwrap();
    let url = app.database_url();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_paydown"))
            .args(args)
            .args(["--database-url", &url])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let output = run(&["import", "pages", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains("2 rows fall before pay_from 2026-03-15: kept for reports and health signals, never paid"),
        "{stdout}"
    );

    // Only the page after go-live is paid; the debt report counts all three.
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let ledger = app.get("/v1/ledger?person=alice").await.body;
    let ledger = ledger.as_array().unwrap();
    assert!(!ledger.is_empty());
    assert!(ledger.iter().all(|entry| entry["occurred_at"].as_str().unwrap() >= "2026-03-21"), "{ledger:?}");
    let debt =
        finance_get(&app, "/v1/reports/debt?group_by=service&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z").await;
    let group = &debt.body["groups"][0];
    assert_eq!(group["pages"].as_u64(), Some(3), "{:?}", debt.body);
    // Each page costs 30 minutes of work and 15 of lost focus at 60.00/h; only the one
    // after go-live was paid, exactly what the ledger holds.
    assert_eq!(
        (group["responder_time"].as_str(), group["interruption_overhead"].as_str()),
        (Some("90.00"), Some("45.00"))
    );
    let paid: Decimal = ledger.iter().map(|entry| decimal(&entry["amount"])).sum();
    assert_eq!(decimal(&group["paid"]), paid);
    assert_eq!(app.get("/v1/ledger/verify").await.body["differences"], json!([]));

    // Moving go-live earlier re-prices everyone: the 10 March page is paid now, once.
    assert_eq!(app.put("/v1/settings/pay-run", json!({"pay_from": "2026-03-09"})).await.status, 200);
    let moved = app.post("/v1/ledger/accrue", json!({})).await.body;
    assert!(moved["lines_posted"].as_u64().unwrap() > 0, "{moved:?}");
    let ledger = app.get("/v1/ledger?person=alice").await.body;
    let earliest =
        ledger.as_array().unwrap().iter().map(|entry| entry["occurred_at"].as_str().unwrap().to_owned()).min();
    assert_eq!(earliest.as_deref(), Some("2026-03-10T02:00:00Z"));
    assert_eq!(app.get("/v1/ledger/verify").await.body["differences"], json!([]));

    // The CLI takes the same steps, with a reason each.
    let review = run(&["periods", "review", "2026-03"]);
    let text = String::from_utf8_lossy(&review.stdout);
    assert!(review.status.success(), "{text}");
    assert!(text.contains("pay period 2026-03 (2026-03-01 .. 2026-04-01): open"), "{text}");
    assert!(!run(&["periods", "close", "2026-03"]).status.success(), "a reason is required");
    let unapproved = run(&["periods", "close", "2026-03", "--reason", "sent", "--as", "ann"]);
    assert!(String::from_utf8_lossy(&unapproved.stderr).contains("not approved"));
    assert!(run(&["periods", "approve", "2026-03", "--reason", "checked", "--as", "ann"]).status.success());
    let closed = run(&["periods", "close", "2026-03", "--reason", "sent", "--as", "ann"]);
    assert!(closed.status.success(), "{}", String::from_utf8_lossy(&closed.stderr));
    assert_eq!(app.get("/v1/periods/2026-03").await.body["closed_by"], "cli:ann");
}

/// Waits for the server's own worker to price everything the journal holds.
fn settled(server: &RunningServer, token: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let verified = server.request("GET", "/v1/ledger/verify", "", token).body;
        if verified["journal_pending"] == 0 && verified["entries"].as_u64() > Some(0) {
            return verified;
        }
        assert!(std::time::Instant::now() < deadline, "the worker did not drain the journal: {verified:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

async fn the_worker_never_reverses_an_adjustment(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    let server = RunningServer::start_with_worker(app.store.clone());
    let finance = app.finance_token.clone();
    settled(&server, &finance);
    let body = json!({"person": "alice", "period": "2026-03", "amount": "-12.34", "reason": "overpaid"}).to_string();
    let created = server.request("POST", "/v1/adjustments", &body, &finance);
    assert_eq!(created.status, 201, "{:?}", created.body);
    // alice moves to Paris, for all her history: every line of hers is re-priced in the new
    // zone by the worker (a move from today on would re-price nothing of March).
    let moved = server.request(
        "PATCH",
        "/v1/people/alice",
        &json!({"timezone": "Europe/Paris", "effective_from": "1970-01-01"}).to_string(),
        &app.admin_token,
    );
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let verified = settled(&server, &finance);
    let ledger = server.request("GET", "/v1/ledger?person=alice", "", &finance).body;
    let ledger = ledger.as_array().unwrap();
    assert!(ledger.iter().any(|entry| entry["kind"] == "reversal"), "the move re-priced alice: {ledger:?}");
    let manual: Vec<&Value> = ledger.iter().filter(|entry| entry["fact_kind"] == "manual_adjustment").collect();
    assert_eq!(manual.len(), 1, "{manual:?}");
    assert_eq!((manual[0]["kind"].as_str(), manual[0]["amount"].as_str()), (Some("line"), Some("-12.34")));
    assert!(ledger.iter().all(|entry| entry["reverses"] != manual[0]["id"]), "never reversed");
    assert_eq!(verified["differences"], json!([]), "{verified:?}");
}
