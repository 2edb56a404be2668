//! The change-driven ledger (issue #15): every door reaches the ledger through the pay
//! journal, a change re-prices from its date on only, several servers share the journal,
//! statements read the ledger, and background work never turns a request into a 500.

use std::process::Command;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{Backend, RunningServer, TestApp, TestDb, http_request};
use crate::on_both_backends;

on_both_backends!(
    every_door_reaches_the_ledger,
    a_january_change_reprices_a_year_ahead_and_nothing_before,
    a_closed_periods_statement_is_final_and_equals_its_payroll_lines,
    one_person_who_cannot_be_priced_does_not_stop_the_others,
    an_amendment_after_the_close_lands_as_an_adjustment,
    servers_advancing_the_standby_horizon_at_once_never_collide,
    a_pipelined_accrual_posts_what_one_connection_posts,
    a_posting_clears_exactly_the_journal_rows_it_was_priced_for,
    an_import_in_batches_folds_each_persons_journal_rows_on_sqlite,
);

/// How long a test waits for the worker to drain the journal.
const WORKER_WAIT_MAX: Duration = Duration::from_secs(60);

/// Waits until the journal is empty, then returns a verification of the whole ledger.
fn drained_and_verified(store: &paydown::storage::Store) -> paydown::accrual::VerifyReport {
    let started = Instant::now();
    loop {
        let mut conn = store.conn().unwrap();
        let (pending, _) = paydown::storage::journal::backlog(&mut conn).unwrap();
        if pending == 0 {
            let report = paydown::accrual::verify(&mut conn).unwrap();
            if report.is_clean() || started.elapsed() > WORKER_WAIT_MAX {
                return report;
            }
        }
        assert!(started.elapsed() < WORKER_WAIT_MAX, "the worker left {pending} journal rows for a minute");
        drop(conn);
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cli(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(args)
        .args(["--database-url", db_url])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn entries(store: &paydown::storage::Store, person: &str) -> Vec<paydown::storage::ledger::Entry> {
    let mut conn = store.conn().unwrap();
    paydown::storage::ledger::person_entries(&mut conn, person).unwrap()
}

/// Each kind of fact change, through the API of a running server and through the CLI
/// beside it, reaches the ledger with no other write: the worker finds it in the journal.
async fn every_door_reaches_the_ledger(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    let server = RunningServer::start_with_worker(app.store.clone());
    let token = app.admin_token.clone();
    let first = drained_and_verified(&app.store);
    assert!(first.is_clean(), "{backend:?}: {:?}", first.differences);
    let posted = entries(&app.store, "alice").len();
    assert_eq!(posted, 5, "{backend:?}: callout, escalation-free response, recovery, two standby days");

    // A person's zone (API) from a date: re-priced in the new zone from then on.
    let moved = server.request(
        "PATCH",
        "/v1/people/alice",
        r#"{"timezone": "America/New_York", "effective_from": "2026-03-01"}"#,
        &token,
    );
    assert_eq!(moved.status, 200, "{backend:?}: {:?}", moved.body);
    let report = drained_and_verified(&app.store);
    assert!(report.is_clean(), "{backend:?}: after the zone change: {:?}", report.differences);
    assert!(entries(&app.store, "alice").len() > posted, "{backend:?}: the zone change re-posted lines");

    // A new policy version (API): every line from its date on is re-priced.
    let corrected = json!({"id": "uk", "version": 2, "effective_from": "2026-03-01", "currency": "GBP",
        "callout_fee": {"business": "0", "off_hours": "25.00", "night": "80.00", "weekend": "80.00", "holiday": "75.00"}});
    assert_eq!(server.request("POST", "/v1/policies", &corrected.to_string(), &token).status, 201);
    let report = drained_and_verified(&app.store);
    assert!(report.is_clean(), "{backend:?}: after the policy version: {:?}", report.differences);
    let live_policy_2 = entries(&app.store, "alice").iter().any(|entry| entry.policy_version == 2);
    assert!(live_policy_2, "{backend:?}: version 2 priced");

    // A response (API) and a shift (API).
    let page = server.request("GET", "/v1/pages?source=manual&external_id=INC-1", "", &token).body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response =
        json!({"person": "alice", "started_at": "2026-03-20T23:00:00Z", "duration_minutes": 45, "actionable": true});
    assert_eq!(
        server.request("POST", &format!("/v1/pages/{page}/responses"), &response.to_string(), &token).status,
        201
    );
    let shift =
        json!({"person": "alice", "role": "primary", "start": "2026-03-14T09:00:00Z", "end": "2026-03-15T09:00:00Z"});
    assert_eq!(server.request("POST", "/v1/shifts", &shift.to_string(), &token).status, 201);
    let report = drained_and_verified(&app.store);
    assert!(report.is_clean(), "{backend:?}: after a response and a shift: {:?}", report.differences);

    // Pages and shifts imported by the CLI beside the running server.
    let dir = std::env::temp_dir().join(format!("paydown-doors-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let pages_csv = dir.join("pages.csv");
    std::fs::write(
        &pages_csv,
        "source,external_id,service,title,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at\n\
         history,H-1,checkout,Disk full,wake,2026-03-21T01:00:00Z,2026-03-21T01:04:00Z,alice,2026-03-21T01:40:00Z\n\
         history,H-2,checkout,Disk full,wake,2026-03-22T01:00:00Z,2026-03-22T01:03:00Z,alice,2026-03-22T02:10:00Z\n",
    )
    .unwrap();
    let imported = cli(&app.database_url(), &["import", "pages", pages_csv.to_str().unwrap()]);
    assert!(imported.status.success(), "{backend:?}: {}", String::from_utf8_lossy(&imported.stderr));
    let shifts_csv = dir.join("shifts.csv");
    std::fs::write(
        &shifts_csv,
        "person,role,start,end\nalice@example.com,primary,2026-03-28T18:00:00Z,2026-03-29T08:00:00Z\n",
    )
    .unwrap();
    let imported = cli(&app.database_url(), &["import", "shifts", shifts_csv.to_str().unwrap()]);
    assert!(
        imported.status.success(),
        "{backend:?}: {}{}",
        String::from_utf8_lossy(&imported.stdout),
        String::from_utf8_lossy(&imported.stderr)
    );
    let report = drained_and_verified(&app.store);
    assert!(report.is_clean(), "{backend:?}: after the CLI imports: {:?}", report.differences);
    let alice = entries(&app.store, "alice");
    for external_id in ["H-1", "H-2"] {
        let page = server.request("GET", &format!("/v1/pages?source=history&external_id={external_id}"), "", &token);
        let page_id = page.body[0]["id"].as_str().unwrap().to_owned();
        assert!(
            alice
                .iter()
                .any(|entry| entry.component == "callout" && entry.page_id.as_deref() == Some(page_id.as_str())),
            "{backend:?}: the imported page {external_id}'s callout is posted"
        );
    }
    assert!(
        alice
            .iter()
            .any(|entry| entry.component == "standby" && entry.occurred_at.to_rfc3339().starts_with("2026-03-28"))
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(server);
}

/// Out-of-hours pages of alice; `acknowledged` so each is a callout for her.
fn night_page(id: &str, at: &str) -> Value {
    json!({"source": "manual", "external_id": id, "service": "checkout", "triggered_at": at,
        "acknowledged_at": at, "acknowledged_by": "alice"})
}

/// A page added in January changes the escalation of a page eleven months later (the
/// trailing 365 days) and nothing dated before it.
async fn a_january_change_reprices_a_year_ahead_and_nothing_before(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let policy = json!({"id": "uk", "version": 1, "effective_from": "2025-01-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", policy).await.status, 201);
    let assignment = json!({"policy": "uk", "effective_from": "2025-01-01"});
    assert_eq!(app.post("/v1/people/alice/policy-assignments", assignment).await.status, 201);
    for (id, at) in [
        ("EARLY", "2025-12-01T02:00:00Z"),
        ("JAN-20", "2026-01-20T02:00:00Z"),
        ("JAN-25", "2026-01-25T02:00:00Z"),
        ("DEC-30", "2026-12-30T02:00:00Z"),
    ] {
        assert_eq!(app.post("/v1/pages", night_page(id, at)).await.status, 201);
    }
    let first = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let before = entries(&app.store, "alice");
    // Before the change each page is at most the 3rd out-of-hours page of its trailing
    // 365 days (JAN-25: EARLY, JAN-20, itself; DEC-30: JAN-20, JAN-25, itself): all free.
    assert!(!before.iter().any(|entry| entry.component == "escalation"), "{backend:?}: no escalation yet");

    assert_eq!(app.post("/v1/pages", night_page("JAN-05", "2026-01-05T02:00:00Z")).await.status, 201);
    {
        let mut conn = app.store.conn().unwrap();
        let marks = paydown::storage::journal::marks(&mut conn, "alice").unwrap().unwrap();
        assert_eq!(marks.from.to_rfc3339(), "2026-01-05T02:00:00+00:00", "{backend:?}: journaled from the page");
    }
    let second = app.post("/v1/ledger/accrue", json!({})).await;
    let run = second.body["run_id"].as_str().unwrap().to_owned();
    // JAN-05's callout, and escalations of JAN-25 and DEC-30, each now the 4th in its window.
    assert_eq!((second.body["lines_posted"].as_u64(), second.body["reversals_posted"].as_u64()), (Some(3), Some(0)));
    let after = entries(&app.store, "alice");
    let posted: Vec<_> = after.iter().filter(|entry| entry.accrual_run_id == run).collect();
    let january_start = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap();
    assert!(posted.iter().all(|entry| entry.occurred_at >= january_start), "{backend:?}: nothing before the change");
    assert!(
        posted
            .iter()
            .any(|entry| entry.component == "escalation" && entry.occurred_at.to_rfc3339().starts_with("2026-12-30")),
        "{backend:?}: the December page is now the 4th in its window: {posted:?}"
    );
    assert!(
        posted
            .iter()
            .any(|entry| entry.component == "escalation" && entry.occurred_at.to_rfc3339().starts_with("2026-01-25")),
        "{backend:?}: {posted:?}"
    );
    assert!(posted.iter().any(|entry| entry.component == "callout"), "{backend:?}");
    let early: Vec<_> = after.iter().filter(|entry| entry.occurred_at < january_start).collect();
    assert_eq!(early.len(), 1, "{backend:?}: the December 2025 callout stands, never reversed");
    assert!(drained_and_verified(&app.store).is_clean());
    // A pass with nothing changed posts nothing and records no run.
    let idle = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!((idle.body["people"].as_u64(), idle.body["lines_posted"].as_u64()), (Some(0), Some(0)));
}

/// A closed period's statement is read from the ledger, final, and totals exactly the
/// person's lines in the period's payroll file; the next (open) period's statement is
/// provisional and carries the adjustment naming the closed one.
async fn a_closed_periods_statement_is_final_and_equals_its_payroll_lines(backend: Backend) {
    let app = TestApp::new(backend);
    let page_id = crate::ledger::march_facts(&app).await;
    assert_eq!(app.approve_and_close("2026-03").await.status, 200);
    let response =
        json!({"person": "alice", "started_at": "2026-03-07T04:00:00Z", "duration_minutes": 15, "actionable": true});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), response).await.status, 201);
    app.post("/v1/ledger/accrue", json!({})).await;

    let march = app.get("/v1/people/alice/statement?period=2026-03").await;
    assert_eq!(march.status, 200, "{:?}", march.body);
    assert_eq!((march.body["status"].as_str(), march.body["final"].as_bool()), (Some("closed"), Some(true)));
    assert_eq!(march.body["total_by_currency"]["GBP"], "135.01", "{:?}", march.body);
    let (_, ledger_total) = ledger_sum(&app, "person=alice&period=2026-03").await;
    assert_eq!(ledger_total.to_string(), "135.01");
    // The payroll file of the closed period: alice's amounts sum to the statement's total.
    let csv = actix_web::test::TestRequest::get()
        .uri("/v1/reports/payroll?period=2026-03&layout=long")
        .insert_header(("accept", "text/csv"))
        .insert_header(("authorization", format!("Bearer {}", app.finance_token)));
    let csv = app.send_raw(csv).await;
    let payroll_total = payroll_amounts(&csv.body);
    assert_eq!(payroll_total.to_string(), "135.01", "{backend:?}: {:?}", csv.body);
    let html = app.get_with_accept("/v1/people/alice/statement?period=2026-03", "text/html").await;
    let html = html.body.as_str().unwrap().to_owned();
    assert!(!html.contains("PROVISIONAL"), "{backend:?}: a closed period's statement is final");
    assert!(html.contains("135.01"));
    let csv = app.get_with_accept("/v1/people/alice/statement?period=2026-03", "text/csv").await;
    let csv = csv.body.as_str().unwrap().to_owned();
    assert!(csv.contains("FINAL") && csv.contains("total") && csv.contains("135.01"), "{csv}");

    let april = app.get("/v1/people/alice/statement?period=2026-04").await.body;
    assert_eq!((april["status"].as_str(), april["final"].as_bool()), (Some("open"), Some(false)));
    let lines = april["lines"].as_array().unwrap();
    assert!(!lines.is_empty() && lines.iter().all(|line| line["natural_period"] == "2026-03"), "{april:?}");
    assert_eq!(april["total_by_currency"]["GBP"], "30.00");
    let html = app.get_with_accept("/v1/people/alice/statement?period=2026-04", "text/html").await;
    assert!(html.body.as_str().unwrap().contains("PROVISIONAL"));

    let both = app.get("/v1/people/alice/statement?period=2026-04&from=2026-04-01T00:00:00Z").await;
    assert_eq!((both.status, both.error_field()), (400, Some("period")));
    // A period nothing was posted to yet is open and empty; a name of no period is a 404.
    let empty = app.get("/v1/people/alice/statement?period=1999-01").await;
    assert_eq!((empty.status, empty.body["final"].as_bool()), (200, Some(false)), "{:?}", empty.body);
    assert_eq!(empty.body["lines"], json!([]));
    let missing = app.get("/v1/people/alice/statement?period=someday").await;
    assert_eq!(missing.status, 404);
}

async fn ledger_sum(app: &TestApp, query: &str) -> (usize, Decimal) {
    let entries = app.get(&format!("/v1/ledger?{query}")).await.body;
    let entries = entries.as_array().unwrap();
    (entries.len(), entries.iter().map(|entry| entry["amount"].as_str().unwrap().parse::<Decimal>().unwrap()).sum())
}

/// The sum of the `amount` column of a payroll CSV.
fn payroll_amounts(body: &Value) -> Decimal {
    let text = body.as_str().unwrap_or_else(|| panic!("a CSV body: {body:?}"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let amount_column = reader.headers().unwrap().iter().position(|name| name == "amount").unwrap();
    reader
        .records()
        .map(|record| record.unwrap().get(amount_column).unwrap_or_default().to_owned())
        .filter(|amount| !amount.is_empty())
        .map(|amount| amount.parse::<Decimal>().unwrap())
        .sum()
}

/// A person whose stored data the engine refuses is reported unpriced, with the reason
/// kept in the journal; everyone else is priced, and the next change retries them.
async fn one_person_who_cannot_be_priced_does_not_stop_the_others(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    let ben = json!({"id": "ben", "name": "Ben", "email": "ben@example.com", "payroll_id": "E-1002",
        "team": "payments", "timezone": "Europe/London", "currency": "GBP"});
    assert_eq!(app.post("/v1/people", ben).await.status, 201);
    give_an_unreadable_zone(&app, "alice");
    let report = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(report.status, 200, "{backend:?}: {:?}", report.body);
    let unpriced = report.body["unpriced"].as_array().unwrap();
    assert_eq!(unpriced.len(), 1, "{backend:?}: {:?}", report.body);
    assert!(unpriced[0].as_str().unwrap().contains("alice"));
    let mut conn = app.store.conn().unwrap();
    let failed = paydown::storage::journal::unpriced(&mut conn).unwrap();
    assert_eq!(failed.len(), 1, "{backend:?}");
    assert!(!paydown::storage::journal::has_pending(&mut conn).unwrap(), "failed rows wait, the rest is done");
    drop(conn);
    // The next pass does not retry alice until she changes.
    let idle = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(idle.body["unpriced"], json!([]));
    // Mended through the API: the person's change (of all her history) journals her again
    // and she is priced.
    let zone = json!({"timezone": "Europe/London", "effective_from": "1970-01-01"});
    assert_eq!(app.patch("/v1/people/alice", zone).await.status, 200, "{backend:?}");
    let mended = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(mended.body["unpriced"], json!([]), "{backend:?}: {:?}", mended.body);
    assert_eq!(mended.body["lines_posted"], 5, "{backend:?}: {:?}", mended.body);
    assert!(drained_and_verified(&app.store).is_clean());
}

/// Two servers on one PostgreSQL, 10,000 deliveries split between them while both
/// workers run: nothing lost, nothing posted twice, the ledger verifies clean.
#[test]
fn two_servers_share_the_journal_and_never_post_twice() {
    const DELIVERIES: usize = 10_000;
    const CLIENTS: usize = 8;
    let db = TestDb::new(Backend::Postgres);
    let setup = db.store();
    let admin = crate::helpers::create_token(&setup, paydown::domain::role::Role::Admin, None, &[]);
    let one = RunningServer::start_with_worker(db.store());
    let two = RunningServer::start_with_worker(db.store());
    let people = ["alice", "ben", "chidi", "dana"];
    assert_eq!(
        one.request("POST", "/v1/teams", r#"{"id": "payments", "name": "Payments", "cost_centre": "CC-1"}"#, &admin)
            .status,
        201
    );
    assert_eq!(
        one.request(
            "POST",
            "/v1/policies",
            r#"{"id": "uk", "version": 1, "effective_from": "2025-01-01", "currency": "GBP"}"#,
            &admin
        )
        .status,
        201
    );
    for (index, person) in people.iter().enumerate() {
        let body = json!({"id": person, "name": person, "email": format!("{person}@example.com"),
            "payroll_id": format!("E-{index}"), "team": "payments", "timezone": "Europe/London", "currency": "GBP"});
        assert_eq!(one.request("POST", "/v1/people", &body.to_string(), &admin).status, 201);
        let assignment = r#"{"policy": "uk", "effective_from": "2025-01-01"}"#;
        assert_eq!(
            two.request("POST", &format!("/v1/people/{person}/policy-assignments"), assignment, &admin).status,
            201
        );
    }
    let addresses = [one.address, two.address];
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let threads: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let admin = admin.clone();
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                for index in (client..DELIVERIES).step_by(CLIENTS) {
                    let at = start + chrono::Duration::minutes(i64::try_from(index).unwrap() * 47);
                    let person = people[index % people.len()];
                    let page = json!({"source": "load", "external_id": format!("L-{index}"), "service": "checkout",
                        "triggered_at": at.to_rfc3339(), "acknowledged_at": at.to_rfc3339(), "acknowledged_by": person,
                        "resolved_at": (at + chrono::Duration::minutes(20)).to_rfc3339()});
                    let reply =
                        http_request(addresses[index % 2], "POST", "/v1/pages", &page.to_string(), Some(&admin));
                    if reply.status != 201 {
                        failures.push((index, reply.status, reply.body));
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<_> = threads.into_iter().flat_map(|thread| thread.join().unwrap()).collect();
    assert!(failures.is_empty(), "{} deliveries failed, first: {:?}", failures.len(), failures.first());
    let report = drained_and_verified(&setup);
    assert!(report.is_clean(), "{:?}", &report.differences[..report.differences.len().min(5)]);
    let mut conn = setup.conn().unwrap();
    let mut live_keys = std::collections::BTreeSet::new();
    let mut reversed = std::collections::BTreeSet::new();
    let mut all = Vec::new();
    for person in people {
        all.extend(paydown::storage::ledger::person_entries(&mut conn, person).unwrap());
    }
    for entry in &all {
        if let Some(target) = &entry.reverses {
            assert!(reversed.insert(target.clone()), "entry {target} reversed twice");
        }
    }
    for entry in all
        .iter()
        .filter(|entry| entry.kind == paydown::domain::posting::EntryKind::Line && !reversed.contains(&entry.id))
    {
        assert!(live_keys.insert(entry.line_key.clone()), "line {} is live twice", entry.line_key);
    }
    let pages: i64 = {
        use diesel::prelude::*;
        paydown::storage::schema::pages::table.count().get_result(&mut *conn).unwrap()
    };
    assert_eq!(pages, i64::try_from(DELIVERIES).unwrap(), "nothing lost");
    let callouts = all
        .iter()
        .filter(|entry| entry.kind == paydown::domain::posting::EntryKind::Line && entry.component == "callout")
        .count();
    assert!(callouts > DELIVERIES / 2, "most pages are out of hours and earn a callout: {callouts}");
    drop(one);
    drop(two);
}

/// A request that finds SQLite's write lock held past the busy budget answers 503 with
/// `Retry-After`, never 500.
#[actix_web::test]
async fn a_busy_database_answers_503_with_retry_after() {
    let app = TestApp::new(Backend::Sqlite);
    app.seed_basics().await;
    let url = app.database_url();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        use diesel::Connection;
        let mut conn = diesel::SqliteConnection::establish(&url).unwrap();
        conn.batch_execute("PRAGMA busy_timeout = 100; BEGIN IMMEDIATE").unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(7));
        conn.batch_execute("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();
    let server = RunningServer::start(app.store.clone());
    let page = night_page("BUSY-1", "2026-03-07T02:14:00Z");
    let mut stream = std::net::TcpStream::connect(server.address).unwrap();
    let body = page.to_string();
    let request = format!(
        "POST /v1/pages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.admin_token,
        body.len()
    );
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut raw = String::new();
    std::io::Read::read_to_string(&mut stream, &mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 503"), "{raw}");
    assert!(raw.to_ascii_lowercase().contains("retry-after: 1"), "{raw}");
    assert!(raw.contains("\"busy\""), "{raw}");
    holder.join().unwrap();
    // Once the lock is free the same delivery succeeds.
    assert_eq!(server.request("POST", "/v1/pages", &page.to_string(), &app.admin_token).status, 201);
}

/// `/readyz` answers 503 naming the worker when its passes keep failing.
#[test]
fn readyz_says_when_the_worker_keeps_failing() {
    let db = TestDb::new(Backend::Sqlite);
    let store = db.store();
    let server = RunningServer::start_with_worker(store.clone());
    let ready = http_request(server.address, "GET", "/readyz", "", None);
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(ready.body["accrual"]["worker"], true);
    // Break what only the worker's pass reads: the rollup's state table.
    store.conn().unwrap().batch_execute("DROP TABLE rollup_state").unwrap();
    let started = Instant::now();
    let unready = loop {
        let reply = http_request(server.address, "GET", "/readyz", "", None);
        if reply.status == 503 || started.elapsed() > Duration::from_secs(20) {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(unready.status, 503, "{:?}", unready.body);
    let message = unready.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("accrual worker failed"), "{message}");
}

/// An engineer amends a response of a closed period: the closed period does not change;
/// the next open one gets the reversal of the old line and the new line, both naming the
/// closed period, and the ledger verifies clean.
async fn an_amendment_after_the_close_lands_as_an_adjustment(backend: Backend) {
    let app = TestApp::new(backend);
    let page_id = crate::ledger::march_facts(&app).await;
    assert_eq!(app.approve_and_close("2026-03").await.status, 200);
    let (count_at_close, total_at_close) = ledger_sum(&app, "period=2026-03").await;
    let responses = app.get(&format!("/v1/pages/{page_id}/responses")).await.body;
    let response_id = responses[0]["id"].as_str().unwrap().to_owned();
    let alice = app.token(paydown::domain::role::Role::Engineer, Some("alice"), &[]);
    // 51 minutes at night on a Saturday became 81: 90 min × 30.00 × 2.0 = 90.00, was 60.00.
    let change = json!({"started_at": "2026-03-07T02:14:00Z", "duration_minutes": 81, "actionable": true,
        "reason": "I forgot the post-incident checks"});
    let amended = app.call_as("POST", &format!("/v1/responses/{response_id}/amend"), Some(change), Some(&alice)).await;
    assert_eq!(amended.status, 201, "{backend:?}: {:?}", amended.body);
    let accrued = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(accrued.status, 200, "{:?}", accrued.body);
    assert!(accrued.body["adjustments_posted"].as_u64().unwrap() >= 2, "{backend:?}: {:?}", accrued.body);
    assert_eq!(ledger_sum(&app, "period=2026-03").await, (count_at_close, total_at_close), "{backend:?}");
    let april = app.get("/v1/people/alice/statement?period=2026-04").await.body;
    let lines = april["lines"].as_array().unwrap();
    assert!(lines.iter().all(|line| line["natural_period"] == "2026-03"), "{backend:?}: {april:?}");
    assert!(lines.iter().any(|line| line["kind"] == "reversal" && line["amount"] == "-60.00"), "{april:?}");
    assert!(lines.iter().any(|line| line["kind"] == "line" && line["amount"] == "90.00"), "{april:?}");
    assert!(drained_and_verified(&app.store).is_clean(), "{backend:?}");
}

/// CI finding (stop 24): two accruals on one PostgreSQL both found no standby horizon and
/// both inserted it; one failed on `settings_pkey`. Eight writers at once, each with a
/// later horizon than the last, must all succeed and leave the latest one stored.
async fn servers_advancing_the_standby_horizon_at_once_never_collide(backend: Backend) {
    use paydown::storage::{journal, write_transaction};
    let app = TestApp::new(backend);
    let base = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap().to_utc();
    for round in 0..5i64 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let writers: Vec<_> = (0..8i64)
            .map(|writer| {
                let (store, barrier) = (app.store.clone(), barrier.clone());
                let horizon = base + chrono::Duration::minutes(15 * (round * 8 + writer));
                std::thread::spawn(move || {
                    let mut conn = store.conn().unwrap();
                    barrier.wait();
                    write_transaction(&mut conn, |conn| journal::advance_horizon(conn, horizon, horizon))
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap().expect("advancing the horizon never fails on a concurrent writer");
        }
        let mut conn = app.store.conn().unwrap();
        let latest = base + chrono::Duration::minutes(15 * (round * 8 + 7));
        assert_eq!(journal::horizon(&mut conn).unwrap(), Some(latest), "round {round}");
    }
    // Never back: an older horizon is refused and leaves the stored one alone.
    let mut conn = app.store.conn().unwrap();
    assert!(!write_transaction(&mut conn, |conn| journal::advance_horizon(conn, base, base)).unwrap());
    assert_eq!(journal::horizon(&mut conn).unwrap(), Some(base + chrono::Duration::minutes(15 * 39)));
}

/// Finding (2026-12-03): after the first accrual of 1,000,000 pages on PostgreSQL, the
/// journal's 408,220 deleted rows were dead tuples no autovacuum had reached (this
/// machine's server runs none), and every idle pass scanned their 27 MB: 13.7 ms. A run
/// that finishes 10,000 journal rows or more vacuums the journal, which gives its empty
/// pages back.
#[actix_web::test]
async fn a_large_accrual_leaves_no_dead_journal_rows_on_postgres() {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = BigInt)]
        bytes: i64,
    }
    let app = TestApp::new(Backend::Postgres);
    let mut conn = app.store.conn().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap().to_utc();
    paydown::storage::write_transaction(&mut conn, |conn| {
        let marks: Vec<(String, chrono::DateTime<chrono::Utc>)> =
            (0..paydown::accrual::JOURNAL_VACUUM_AFTER_ROWS).map(|n| (format!("gone-{}", n % 7), at)).collect();
        paydown::storage::journal::mark_many(conn, &marks)
    })
    .unwrap();
    let size = |conn: &mut paydown::storage::AnyConnection| -> i64 {
        let paydown::storage::AnyConnection::Postgresql(c) = conn else { unreachable!("a PostgreSQL store") };
        diesel::sql_query("SELECT pg_relation_size('pay_journal') AS bytes").get_result::<Size>(c).unwrap().bytes
    };
    assert!(size(&mut conn) > 100_000, "10,000 journal rows take room");
    let report = paydown::accrual::accrue(&mut conn, "test", paydown::http::now()).unwrap();
    assert_eq!(report.people, 7, "the journal named seven ids that are nobody: cleared");
    assert!(!paydown::storage::journal::has_pending(&mut conn).unwrap());
    assert_eq!(size(&mut conn), 0, "vacuumed: the journal's empty pages given back");
}

/// The people of a pipelined accrual: alice's March (`march_facts`), eight more people
/// with three night pages each and a response on the first, a page acknowledged by an id
/// that is nobody, and one person whose stored zone cannot be read.
async fn people_for_a_pipeline(app: &TestApp) {
    crate::ledger::march_facts(app).await;
    for n in 0..8 {
        let id = format!("p{n}");
        let person = json!({"id": id, "name": format!("P {n}"), "email": format!("{id}@example.com"),
            "payroll_id": format!("E-2{n:03}"), "team": "payments", "timezone": "Europe/London", "currency": "GBP"});
        assert_eq!(app.post("/v1/people", person).await.status, 201);
        let assignment = json!({"policy": "uk", "effective_from": "2026-01-01"});
        assert_eq!(app.post(&format!("/v1/people/{id}/policy-assignments"), assignment).await.status, 201);
        for k in 0..3 {
            let at = format!("2026-03-{:02}T0{}:10:00Z", 2 + n, 1 + k);
            let page = json!({"source": "manual", "external_id": format!("PIPE-{n}-{k}"), "service": "checkout",
                "triggered_at": at, "acknowledged_at": at, "acknowledged_by": id});
            let created = app.post("/v1/pages", page).await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            if k == 0 {
                let page_id = created.body["id"].as_str().unwrap();
                let response = json!({"person": id, "started_at": at, "ended_at": format!("2026-03-{:02}T02:40:00Z", 2 + n),
                    "actionable": true});
                assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), response).await.status, 201);
            }
        }
    }
    let ghost = json!({"source": "manual", "external_id": "PIPE-GHOST", "service": "checkout",
        "triggered_at": "2026-03-20T01:00:00Z", "acknowledged_at": "2026-03-20T01:00:00Z", "acknowledged_by": "ghost"});
    assert_eq!(app.post("/v1/pages", ghost).await.status, 201);
    give_an_unreadable_zone(app, "p7");
}

/// Writes, around the API's checks, a zone paydown cannot read into all of the person's
/// versions (pricing reads the versions; the people row mirrors the latest).
fn give_an_unreadable_zone(app: &TestApp, person: &str) {
    let mut conn = app.store.conn().unwrap();
    let sql = format!("UPDATE person_versions SET timezone = 'Mars/Olympus_Mons' WHERE person_id = '{person}'");
    match &mut *conn {
        paydown::storage::AnyConnection::Sqlite(c) => c.batch_execute(&sql).unwrap(),
        paydown::storage::AnyConnection::Postgresql(c) => c.batch_execute(&sql).unwrap(),
    }
}

/// What a ledger holds, without the ids of facts and entries or the times of the posting.
fn ledger_contents(store: &paydown::storage::Store) -> Vec<(String, String, i32, String, i64, String)> {
    let mut conn = store.conn().unwrap();
    let mut everyone = Vec::new();
    for person in paydown::storage::people::list(&mut conn, None).unwrap() {
        for entry in paydown::storage::ledger::person_entries(&mut conn, &person.id).unwrap() {
            // The key names the fact by its id, which differs between two databases.
            let key: Vec<&str> = entry.line_key.split('|').collect();
            let key = format!("{}|{}|{}|{}", key[0], key[1], key[2], key[4]);
            everyone.push((
                entry.person,
                key,
                entry.revision,
                format!("{:?}", entry.kind),
                entry.amount_minor,
                entry.period,
            ));
        }
    }
    everyone.sort();
    everyone
}

/// The worker and `paydown accrue` price the next people on a second connection while the
/// first posts (`accrual::accrue_pipelined`). It posts exactly what pricing and posting in
/// turn posts, reports the same, handles the person who is nobody and the one who cannot
/// be priced alike, and a later change is posted by a later pipelined pass.
async fn a_pipelined_accrual_posts_what_one_connection_posts(backend: Backend) {
    let in_turn = TestApp::new(backend);
    let pipelined = TestApp::new(backend);
    people_for_a_pipeline(&in_turn).await;
    people_for_a_pipeline(&pipelined).await;
    let now = paydown::http::now();
    let expected = {
        let mut conn = in_turn.store.conn().unwrap();
        paydown::accrual::accrue(&mut conn, "test", now).unwrap()
    };
    let mut people_seen = Vec::new();
    let report = {
        let mut conn = pipelined.store.conn().unwrap();
        let mut reader = pipelined.store.conn().unwrap();
        paydown::accrual::accrue_pipelined(&mut conn, &mut reader, "test", now, &mut |progress| {
            people_seen.push(progress.people_done)
        })
        .unwrap()
    };
    assert!(expected.lines_posted >= 40, "{expected:?}");
    assert_eq!(
        (report.people, report.lines_posted, report.reversals_posted, report.unpriced.len()),
        (expected.people, expected.lines_posted, expected.reversals_posted, expected.unpriced.len()),
        "{backend:?}: {report:?}"
    );
    assert!(report.people >= 10, "alice, p0..p7 and ghost: {report:?}");
    assert!(report.unpriced[0].contains("p7"), "{report:?}");
    assert_eq!(people_seen, (1..=report.people).collect::<Vec<_>>(), "progress after each person, in order");
    assert_eq!(ledger_contents(&pipelined.store), ledger_contents(&in_turn.store));

    // Later pages for two people: a pass re-prices those two only.
    let moved = json!({"source": "manual", "external_id": "PIPE-LATER", "service": "checkout",
        "triggered_at": "2026-03-22T01:10:00Z", "acknowledged_at": "2026-03-22T01:12:00Z", "acknowledged_by": "p3"});
    assert_eq!(pipelined.post("/v1/pages", moved).await.status, 201);
    let extra = json!({"source": "manual", "external_id": "PIPE-EXTRA", "service": "checkout",
        "triggered_at": "2026-03-21T03:00:00Z", "acknowledged_at": "2026-03-21T03:00:00Z", "acknowledged_by": "p5"});
    assert_eq!(pipelined.post("/v1/pages", extra).await.status, 201);
    let later = {
        let mut conn = pipelined.store.conn().unwrap();
        let mut reader = pipelined.store.conn().unwrap();
        paydown::accrual::accrue_pipelined(&mut conn, &mut reader, "test", paydown::http::now(), &mut |_| {}).unwrap()
    };
    assert_eq!(later.people, 2, "{later:?}");
    assert!(later.lines_posted >= 2 && later.reversals_posted == 0, "a callout each at least: {later:?}");
    // p7 mended through the API is priced by the next pass, and then the ledger is right.
    let zone = json!({"timezone": "Europe/London", "effective_from": "1970-01-01"});
    assert_eq!(pipelined.patch("/v1/people/p7", zone).await.status, 200, "{backend:?}");
    let mended = {
        let mut conn = pipelined.store.conn().unwrap();
        let mut reader = pipelined.store.conn().unwrap();
        paydown::accrual::accrue_pipelined(&mut conn, &mut reader, "test", paydown::http::now(), &mut |_| {}).unwrap()
    };
    assert_eq!((mended.people, mended.unpriced.len()), (1, 0), "{mended:?}");
    let verified = drained_and_verified(&pipelined.store);
    assert_eq!(verified.differences, Vec::<String>::new(), "{backend:?}");
}

/// On PostgreSQL a pipelined pass takes each person (the advisory lock) before pricing
/// them: a person another worker holds is skipped and left in the journal, and posted by
/// the pass after the lock is released.
#[actix_web::test]
async fn a_pipelined_accrual_skips_a_person_another_worker_holds() {
    use diesel::prelude::*;
    let app = TestApp::new(Backend::Postgres);
    people_for_a_pipeline(&app).await;
    let mut holder = app.store.conn().unwrap();
    let paydown::storage::AnyConnection::Postgresql(pg) = &mut *holder else { unreachable!("a PostgreSQL store") };
    diesel::sql_query("SELECT pg_advisory_lock(1885436272, hashtext('p4'))").execute(pg).unwrap();
    let first = {
        let mut conn = app.store.conn().unwrap();
        let mut reader = app.store.conn().unwrap();
        paydown::accrual::accrue_pipelined(&mut conn, &mut reader, "test", paydown::http::now(), &mut |_| {}).unwrap()
    };
    assert!(first.people >= 9, "everyone but p4: {first:?}");
    assert!(entries(&app.store, "p4").is_empty());
    assert!(!entries(&app.store, "p3").is_empty());
    {
        let mut conn = app.store.conn().unwrap();
        assert!(paydown::storage::journal::has_pending(&mut conn).unwrap(), "p4 waits in the journal");
    }
    diesel::sql_query("SELECT pg_advisory_unlock(1885436272, hashtext('p4'))").execute(pg).unwrap();
    let second = {
        let mut conn = app.store.conn().unwrap();
        let mut reader = app.store.conn().unwrap();
        paydown::accrual::accrue_pipelined(&mut conn, &mut reader, "test", paydown::http::now(), &mut |_| {}).unwrap()
    };
    assert_eq!(second.people, 1, "{second:?}");
    assert!(!entries(&app.store, "p4").is_empty());
    let mut conn = app.store.conn().unwrap();
    assert!(!paydown::storage::journal::has_pending(&mut conn).unwrap());
    let verified = paydown::accrual::verify(&mut conn).unwrap();
    assert_eq!(verified.differences.len(), 1, "only p7, who cannot be priced: {:?}", verified.differences);
    assert!(verified.differences[0].contains("p7"));
}

/// The posting's check and clear of a person's journal rows (on SQLite a range of the
/// (person, seq) index): a row journaled after the pricing read the marks survives the
/// clear, another person's rows are untouched, and marks of which any row is gone are
/// not all present.
async fn a_posting_clears_exactly_the_journal_rows_it_was_priced_for(backend: Backend) {
    use paydown::storage::journal;
    let app = TestApp::new(backend);
    let mut conn = app.store.conn().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap().to_utc();
    let mark = |conn: &mut paydown::storage::AnyConnection, person: &str| {
        paydown::storage::write_transaction(conn, |conn| journal::mark(conn, person, at)).unwrap();
    };
    mark(&mut conn, "ghost-a");
    mark(&mut conn, "ghost-b");
    mark(&mut conn, "ghost-a");
    let seen = journal::marks(&mut conn, "ghost-a").unwrap().unwrap();
    assert_eq!(seen.seqs.len(), 2, "{backend:?}");
    mark(&mut conn, "ghost-a");
    assert!(journal::all_present(&mut conn, &seen).unwrap(), "{backend:?}: a later row does not hide a missing one");
    journal::clear(&mut conn, &seen).unwrap();
    let left = journal::marks(&mut conn, "ghost-a").unwrap().unwrap();
    assert_eq!(left.seqs.len(), 1, "{backend:?}: the row journaled after the read stays");
    assert!(left.seqs.iter().all(|seq| !seen.seqs.contains(seq)), "{backend:?}");
    assert_eq!(journal::marks(&mut conn, "ghost-b").unwrap().unwrap().seqs.len(), 1, "{backend:?}: not ghost-a's");
    assert!(!journal::all_present(&mut conn, &seen).unwrap(), "{backend:?}: cleared rows are not present");

    // Another worker took one of two rows.
    mark(&mut conn, "ghost-a");
    let both = journal::marks(&mut conn, "ghost-a").unwrap().unwrap();
    assert_eq!(both.seqs.len(), 2, "{backend:?}");
    let first = journal::PersonMarks { seqs: vec![both.seqs[0]], ..both.clone() };
    journal::clear(&mut conn, &first).unwrap();
    assert!(!journal::all_present(&mut conn, &both).unwrap(), "{backend:?}: one of the two is gone");
    assert!(!journal::all_present(&mut conn, &first).unwrap(), "{backend:?}");
    let second = journal::PersonMarks { seqs: vec![both.seqs[1]], ..both.clone() };
    assert!(journal::all_present(&mut conn, &second).unwrap(), "{backend:?}");
}

/// Finding (2026-12-06): an import of a year in batches left one journal row per person
/// per batch (400,000 for 1,000,000 pages), scattered over the table, so the posting that
/// cleared a person rewrote about 80 journal pages. On SQLite each batch now folds the
/// person's rows into one that names the earliest instant and the oldest wait of those it
/// replaces; a worker that read the replaced rows finds them gone and prices again.
/// PostgreSQL appends (its writers run side by side).
async fn an_import_in_batches_folds_each_persons_journal_rows_on_sqlite(backend: Backend) {
    use diesel::prelude::*;
    use paydown::storage::journal;
    use paydown::storage::schema::pay_journal;
    let app = TestApp::new(backend);
    let mut conn = app.store.conn().unwrap();
    let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
    crate::helpers::people_on_a_policy(
        &mut conn,
        "nights",
        &["alice", "bob"],
        chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
    );
    diesel::delete(pay_journal::table).execute(&mut conn).unwrap();
    let earlier = chrono::DateTime::parse_from_rfc3339("2025-11-03T10:00:00Z").unwrap().to_utc();
    paydown::storage::write_transaction(&mut conn, |conn| journal::mark(conn, "alice", earlier)).unwrap();
    let oldest_wait: chrono::NaiveDateTime =
        pay_journal::table.select(pay_journal::recorded_at).first(&mut conn).unwrap();
    let seen_before = journal::marks(&mut conn, "alice").unwrap().unwrap();
    drop(conn);

    // 12,000 pages, three import batches, each with pages acknowledged by alice and by bob.
    let mut csv = String::from(
        "source,external_id,service,alert_key,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at\n",
    );
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T01:00:00Z").unwrap();
    for index in 0..12_000i64 {
        let at = start + chrono::Duration::minutes(31 * index);
        let stamp = |offset: i64| (at + chrono::Duration::minutes(offset)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let who = if index % 2 == 0 { "alice" } else { "bob" };
        csv.push_str(&format!("t,F-{index},payments,a,wake,{},{},{who},{}\n", stamp(0), stamp(3), stamp(20)));
    }
    let report = paydown::import::import_pages(
        &app.store,
        csv.as_bytes(),
        paydown::ingest::csv_pages::PageCsvFormat::Generic,
        &stamp,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.created, 12_000, "{backend:?}: {report:?}");

    let mut conn = app.store.conn().unwrap();
    let alice = journal::marks(&mut conn, "alice").unwrap().unwrap();
    let bob = journal::marks(&mut conn, "bob").unwrap().unwrap();
    assert_eq!(alice.from, earlier, "{backend:?}: the earliest instant of the rows folded");
    assert_eq!(bob.from, (start + chrono::Duration::minutes(31)).to_utc(), "{backend:?}: his first page");
    let waits: Vec<chrono::NaiveDateTime> = pay_journal::table
        .filter(pay_journal::person_id.eq("alice"))
        .select(pay_journal::recorded_at)
        .load(&mut conn)
        .unwrap();
    assert_eq!(waits.iter().min(), Some(&oldest_wait), "{backend:?}: the oldest wait is kept");
    match backend {
        Backend::Sqlite => {
            assert_eq!((alice.seqs.len(), bob.seqs.len()), (1, 1), "{backend:?}: one row per person");
            assert!(!journal::all_present(&mut conn, &seen_before).unwrap(), "a worker that read before prices again");
        }
        Backend::Postgres => {
            assert_eq!((alice.seqs.len(), bob.seqs.len()), (4, 3), "{backend:?}: a row per batch");
            assert!(journal::all_present(&mut conn, &seen_before).unwrap());
        }
    }
    let report = paydown::accrual::accrue(&mut conn, "test", paydown::http::now()).unwrap();
    assert!(report.lines_posted >= 12_000, "{backend:?}: {report:?}");
    let verified = paydown::accrual::verify(&mut conn).unwrap();
    assert!(verified.is_clean(), "{backend:?}: {:?}", verified.differences);
    assert_eq!(verified.journal_pending, 0, "{backend:?}");
}
