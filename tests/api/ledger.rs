//! The ledger: idempotent accrual, late facts into open and closed periods, policy
//! corrections, immutability enforced by the database, concurrency, crashes.

use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestDb};
use crate::on_both_backends;

on_both_backends!(
    accrual_posts_once_and_the_ledger_matches_the_statement,
    a_late_response_lands_in_its_open_period,
    a_change_to_a_closed_period_lands_in_the_next_open_one,
    a_policy_correction_reverses_and_reposts,
    the_database_refuses_to_change_entries_or_reopen_periods,
);

const MARCH: &str = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";

/// alice (Europe/London, GBP) on the default UK policy, a Saturday-night page with a
/// 51-minute response, and a Monday–Tuesday standby shift, all in March 2026.
pub(crate) async fn march_facts(app: &TestApp) -> String {
    app.seed_basics().await;
    let policy = json!({"id": "uk", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", policy).await.status, 201);
    let assignment = json!({"policy": "uk", "effective_from": "2026-01-01"});
    assert_eq!(app.post("/v1/people/alice/policy-assignments", assignment).await.status, 201);
    let page = json!({"source": "manual", "external_id": "INC-1", "service": "checkout",
        "triggered_at": "2026-03-07T02:14:00Z", "acknowledged_at": "2026-03-07T02:16:00Z", "acknowledged_by": "alice"});
    let page_id = app.post("/v1/pages", page).await.body["id"].as_str().unwrap().to_owned();
    let response = json!({"person": "alice", "started_at": "2026-03-07T02:14:00Z", "ended_at": "2026-03-07T03:05:00Z", "actionable": true});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), response).await.status, 201);
    let shift =
        json!({"person": "alice", "role": "primary", "start": "2026-03-09T09:00:00Z", "end": "2026-03-10T09:00:00Z"});
    assert_eq!(app.post("/v1/shifts", shift).await.status, 201);
    page_id
}

async fn ledger_total(app: &TestApp, query: &str) -> (usize, rust_decimal::Decimal) {
    let entries = app.get(&format!("/v1/ledger?{query}")).await.body;
    let entries = entries.as_array().unwrap();
    let total =
        entries.iter().map(|entry| entry["amount"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap()).sum();
    (entries.len(), total)
}

async fn accrual_posts_once_and_the_ledger_matches_the_statement(backend: Backend) {
    let app = TestApp::new(backend);
    let page_id = march_facts(&app).await;
    let first = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    // callout 50.00, response 60.00, recovery 2 h (0.00), standby 15.63 + 9.38
    assert_eq!(first.body["lines_posted"], 5);
    assert_eq!(first.body["reversals_posted"], 0);
    let second = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!((second.body["lines_posted"].as_u64(), second.body["reversals_posted"].as_u64()), (Some(0), Some(0)));

    let (count, total) = ledger_total(&app, "person=alice&period=2026-03").await;
    assert_eq!((count, total.to_string().as_str()), (5, "135.01"));
    let statement = app.get(&format!("/v1/people/alice/statement?{MARCH}")).await;
    assert_eq!(statement.body["total_by_currency"]["GBP"], "135.01");

    let entries = app.get("/v1/ledger?person=alice").await.body;
    let callout = entries.as_array().unwrap().iter().find(|entry| entry["component"] == "callout").unwrap();
    assert_eq!(callout["fact_kind"], "page");
    assert_eq!(callout["fact_id"], page_id.as_str());
    assert_eq!((callout["policy_id"].as_str(), callout["policy_version"].as_i64()), (Some("uk"), Some(1)));
    assert_eq!(callout["posted_by"], "token:test finance");
    assert_eq!(callout["natural_period"], "2026-03");
    let verified = app.get("/v1/ledger/verify").await;
    assert_eq!(verified.body["differences"], json!([]), "{:?}", verified.body);
    assert_eq!(app.get("/v1/periods/2026-03").await.body["totals"]["GBP"], "135.01");
}

async fn a_late_response_lands_in_its_open_period(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    app.post("/v1/ledger/accrue", json!({})).await;
    // A second page, logged late, on a weekday evening: 19:00 is off hours (fee 25.00);
    // 20 min → minimum 30 min × 30.00/h × 1.5 = 22.50.
    let page = json!({"source": "manual", "external_id": "INC-2", "service": "checkout",
        "triggered_at": "2026-03-11T19:00:00Z", "acknowledged_at": "2026-03-11T19:02:00Z", "acknowledged_by": "alice"});
    let page_id = app.post("/v1/pages", page).await.body["id"].as_str().unwrap().to_owned();
    let response =
        json!({"person": "alice", "started_at": "2026-03-11T19:02:00Z", "duration_minutes": 20, "actionable": false});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), response).await.status, 201);
    let late = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(
        (late.body["lines_posted"].as_u64(), late.body["reversals_posted"].as_u64()),
        (Some(2), Some(0)),
        "{:?}",
        late.body
    );
    assert_eq!(late.body["adjustments_posted"], 0);
    let (_, total) = ledger_total(&app, "person=alice&period=2026-03").await;
    assert_eq!(total.to_string(), "182.51");
    assert_eq!(app.get("/v1/ledger/verify").await.body["differences"], json!([]));
}

async fn a_change_to_a_closed_period_lands_in_the_next_open_one(backend: Backend) {
    let app = TestApp::new(backend);
    let page_id = march_facts(&app).await;
    let closed = app.approve_and_close("2026-03").await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(closed.body["status"], "closed");
    let (count_at_close, total_at_close) = ledger_total(&app, "period=2026-03").await;
    assert_eq!((count_at_close, total_at_close.to_string().as_str()), (5, "135.01"), "closing accrues first");

    // More work on the March page, logged in April: 15 minutes at night on a Saturday
    // → minimum 30 min × 30.00 × 2.0 = 30.00, plus 2 h recovery.
    let response =
        json!({"person": "alice", "started_at": "2026-03-07T04:00:00Z", "duration_minutes": 15, "actionable": true});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), response).await.status, 201);
    let late = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(late.body["lines_posted"], 2, "{:?}", late.body);
    assert_eq!(late.body["adjustments_posted"], 2);

    // The closed period did not change; the adjustment sits in April and names March.
    assert_eq!(ledger_total(&app, "period=2026-03").await, (count_at_close, total_at_close));
    let april = app.get("/v1/ledger?period=2026-04").await.body;
    let april = april.as_array().unwrap();
    assert_eq!(april.len(), 2);
    assert!(april.iter().all(|entry| entry["natural_period"] == "2026-03"));
    assert!(april.iter().any(|entry| entry["component"] == "response" && entry["amount"] == "30.00"));
    assert_eq!(app.get("/v1/ledger/verify").await.body["differences"], json!([]));

    // The audit log says who did what: the page's source, the API, the accruals, the close.
    let page_history = app.get(&format!("/v1/audit?entity=page&id={page_id}")).await.body;
    assert_eq!(page_history[0]["action"], "create");
    assert_eq!(page_history[0]["actor"], "token:test admin via manual");
    let steps = app.get("/v1/audit?entity=pay_period&id=2026-03").await.body;
    let steps: Vec<(&str, &str)> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|step| (step["action"].as_str().unwrap(), step["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [("approve", "token:test finance"), ("close", "token:test finance")]);
    let responses = app.get("/v1/audit?entity=response").await.body;
    assert_eq!(responses.as_array().unwrap().len(), 2);
    let accruals = app.get("/v1/audit?entity=accrual_run").await.body;
    assert!(accruals.as_array().unwrap().iter().any(|run| run["detail"].as_str().unwrap().starts_with("2 lines")));

    let again = app.post("/v1/periods/2026-03/close", json!({"reason": "again"})).await;
    assert_eq!((again.status, again.error_code()), (409, Some("conflict")));
    let unended = app.post("/v1/periods/2099-01/close", json!({"reason": "early"})).await;
    assert_eq!(unended.status, 404);
}

async fn a_policy_correction_reverses_and_reposts(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    app.post("/v1/ledger/accrue", json!({})).await;
    // Finance corrects the night and weekend fee from 1 March on: 50.00 → 80.00.
    let corrected = json!({"id": "uk", "version": 2, "effective_from": "2026-03-01", "currency": "GBP",
        "callout_fee": {"business": "0", "off_hours": "25.00", "night": "80.00", "weekend": "80.00", "holiday": "75.00"}});
    assert_eq!(app.post("/v1/policies", corrected).await.status, 201);
    let report = app.post("/v1/ledger/accrue", json!({})).await;
    // Every March line is now priced by version 2: each is reversed and reposted, the
    // callout with the new fee.
    let reversals = report.body["reversals_posted"].as_u64().unwrap();
    assert_eq!(report.body["lines_posted"].as_u64(), Some(reversals));
    assert!(reversals >= 1, "{:?}", report.body);
    let (_, total) = ledger_total(&app, "person=alice&period=2026-03").await;
    assert_eq!(total.to_string(), "165.01");
    let entries = app.get("/v1/ledger?person=alice").await.body;
    let entries = entries.as_array().unwrap();
    let reversal = entries.iter().find(|entry| entry["kind"] == "reversal" && entry["component"] == "callout").unwrap();
    let original =
        entries.iter().find(|entry| Some(entry["id"].as_str().unwrap()) == reversal["reverses"].as_str()).unwrap();
    assert_eq!((original["amount"].as_str(), reversal["amount"].as_str()), (Some("50.00"), Some("-50.00")));
    let replacement = entries
        .iter()
        .find(|entry| entry["kind"] == "line" && entry["component"] == "callout" && entry["revision"] == 2)
        .unwrap();
    assert_eq!((replacement["amount"].as_str(), replacement["policy_version"].as_i64()), (Some("80.00"), Some(2)));
    assert_eq!(app.get("/v1/ledger/verify").await.body["differences"], json!([]));
}

async fn the_database_refuses_to_change_entries_or_reopen_periods(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    assert_eq!(app.approve_and_close("2026-03").await.status, 200);
    let mut conn = app.store.conn().unwrap();
    let mut refused = |sql: &str| {
        let result = conn.batch_execute(sql);
        assert!(result.is_err(), "{sql} must be refused");
        result.unwrap_err().to_string()
    };
    assert!(refused("UPDATE ledger_entries SET amount_minor = 1").contains("append-only"));
    assert!(refused("DELETE FROM ledger_entries").contains("append-only"));
    assert!(refused("UPDATE pay_periods SET status = 'open' WHERE id = '2026-03'").contains("closed pay period"));
    let entry = app.get("/v1/ledger?period=2026-03").await.body[0].clone();
    let insert = format!(
        "INSERT INTO ledger_entries SELECT 'forged', accrual_run_id, person_id, period_id, natural_period_id, entry_kind, line_key || 'x', revision, NULL, terms, component, quantity, unit, unit_rate, multiplier, time_class, day_class, amount_minor, currency, fact_kind, fact_id, page_id, policy_id, policy_version, occurred_at, explanation, posted_at, posted_by FROM ledger_entries WHERE id = '{}'",
        entry["id"].as_str().unwrap()
    );
    assert!(refused(&insert).contains("closed"));
    if backend == Backend::Postgres {
        assert!(refused("TRUNCATE ledger_entries").contains("append-only"));
    }
    drop(conn);
    assert_eq!(ledger_total(&app, "period=2026-03").await.0, 5);
}

/// Two accruals at once on one PostgreSQL (two servers) post every line exactly once.
#[actix_web::test]
async fn concurrent_accruals_on_postgres_post_each_line_once() {
    let app = TestApp::new(Backend::Postgres);
    march_facts(&app).await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let store = app.store.clone();
            std::thread::spawn(move || {
                let mut conn = store.conn().unwrap();
                paydown::accrual::accrue(&mut conn, "test", paydown::http::now()).unwrap()
            })
        })
        .collect();
    let posted: usize = runs.into_iter().map(|run| run.join().unwrap().lines_posted).sum();
    assert_eq!(posted, 5);
    assert_eq!(ledger_total(&app, "person=alice").await.0, 5);
    assert_eq!(app.get("/v1/ledger/verify").await.body["differences"], json!([]));
}

/// A posting that holds the period (FOR SHARE) before a close lands inside it, and the
/// close waits; a posting that comes after a close began lands in the next period.
#[actix_web::test]
async fn postings_racing_a_close_never_land_in_a_closed_period() {
    use paydown::domain::period::PeriodScheme;
    use paydown::storage::ledger as store;
    use paydown::storage::write_transaction;

    let app = TestApp::new(Backend::Postgres);
    let now = paydown::http::now();
    let march = PeriodScheme::Monthly.period_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 15).unwrap());
    {
        let mut conn = app.store.conn().unwrap();
        store::ensure_period(&mut conn, &march, now).unwrap();
    }

    // 1. The posting holds March first: the close waits until the posting commits.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let poster = {
        let store = app.store.clone();
        let march = march.clone();
        std::thread::spawn(move || {
            let mut conn = store.conn().unwrap();
            write_transaction(&mut conn, |conn| {
                // As the accrual reads them: the posting's periods at once, then each walked.
                let known = store::periods_for_posting(conn, &[&march], now)?;
                let period = store::posting_period(conn, PeriodScheme::Monthly, &march, &known, now)?;
                locked_tx.send(period.clone()).unwrap();
                release_rx.recv().unwrap();
                Ok::<_, paydown::storage::StorageError>(period)
            })
            .unwrap()
        })
    };
    assert_eq!(locked_rx.recv().unwrap(), "2026-03");
    let closer = {
        let store = app.store.clone();
        std::thread::spawn(move || {
            let mut conn = store.conn().unwrap();
            let closed =
                write_transaction(&mut conn, |conn| store::close_period(conn, "2026-03", "test", now)).unwrap();
            (std::time::Instant::now(), closed)
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    assert!(!closer.is_finished(), "the close must wait for the posting that holds the period");
    let released_at = std::time::Instant::now();
    release_tx.send(()).unwrap();
    assert_eq!(poster.join().unwrap(), "2026-03");
    let (closed_at, closed) = closer.join().unwrap();
    assert!(closed_at >= released_at);
    assert_eq!(closed.status, "closed");

    // 2. A close in flight first: the posting waits for it, then goes to April.
    let april_first = PeriodScheme::Monthly.next(&march);
    let may = PeriodScheme::Monthly.next(&april_first);
    {
        let mut conn = app.store.conn().unwrap();
        store::ensure_period(&mut conn, &april_first, now).unwrap();
    }
    let (closing_tx, closing_rx) = std::sync::mpsc::channel();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let closer = {
        let store = app.store.clone();
        std::thread::spawn(move || {
            let mut conn = store.conn().unwrap();
            write_transaction(&mut conn, |conn| {
                store::close_period(conn, "2026-04", "test", now)?;
                closing_tx.send(()).unwrap();
                commit_rx.recv().unwrap();
                Ok::<_, paydown::storage::StorageError>(())
            })
            .unwrap();
        })
    };
    closing_rx.recv().unwrap();
    let poster = {
        let store = app.store.clone();
        std::thread::spawn(move || {
            let mut conn = store.conn().unwrap();
            write_transaction(&mut conn, |conn| {
                let known = store::periods_for_posting(conn, &[&april_first], now)?;
                store::posting_period(conn, PeriodScheme::Monthly, &april_first, &known, now)
            })
            .unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    assert!(!poster.is_finished(), "the posting must wait for the close in flight");
    commit_tx.send(()).unwrap();
    closer.join().unwrap();
    assert_eq!(poster.join().unwrap(), may.id);
}

/// Runs `paydown accrue` until it stalls (its transaction open) after `entries` entries,
/// then kills it with SIGKILL.
fn accrue_until_stalled(url: &str, entries: usize, backend: Backend) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(["accrue", "--database-url", url])
        .env(paydown::accrual::FAULT_STALL_ENV, entries.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains(&format!("stalled after {entries} entries")), "{backend:?}: {line}");
    child.kill().unwrap();
    child.wait().unwrap();
    if backend == Backend::Postgres {
        wait_until_the_killed_session_is_gone(url);
    }
}

/// PostgreSQL ends a killed client's session only when it notices the closed socket, which
/// under load can come after the test's next accrual: that accrual would then skip the
/// person whose lock the dead session still holds, as it should skip a live worker's.
fn wait_until_the_killed_session_is_gone(url: &str) {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let held: Held = diesel::sql_query(
            "SELECT count(*) AS count FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND (xact_start IS NOT NULL \
             OR EXISTS (SELECT 1 FROM pg_locks WHERE pg_locks.pid = pg_stat_activity.pid AND locktype = 'advisory'))",
        )
        .get_result(&mut conn)
        .unwrap();
        if held.count == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the killed accrual's session is still open after 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `kill -9` in the middle of an accrual loses only the person being posted (their
/// transaction); the journal still names them and everyone not yet priced, the next
/// accrual posts them, and the ledger verifies clean.
#[test]
fn a_crash_mid_accrual_leaves_each_person_all_or_nothing_and_the_journal_replays() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        paydown::demo::load_if_empty(&store, paydown::demo::DEFAULT_SEED).unwrap();
        accrue_until_stalled(&db.url, 150, backend);

        // A demo person's posting is one transaction (fewer than 500 entries) that also
        // clears their journal rows: whoever still has rows in the journal has no entries
        // (the stalled person's transaction died with the process), and the next accrual
        // replays them. (A longer posting is cut into batches; the journal rows go with the
        // last, and the replay posts what the earlier ones did not.)
        let mut conn = store.conn().unwrap();
        let mut waiting = 0;
        for person in paydown::storage::people::list(&mut conn, None).unwrap() {
            if paydown::storage::journal::marks(&mut conn, &person.id).unwrap().is_none() {
                continue;
            }
            waiting += 1;
            let entries = paydown::storage::ledger::person_entries(&mut conn, &person.id).unwrap();
            assert!(
                entries.is_empty(),
                "{backend:?}: {} is still journaled but has {} entries",
                person.id,
                entries.len()
            );
        }
        assert!(waiting > 0, "{backend:?}: the stalled person's rows must still be in the journal");
        let report = paydown::accrual::accrue(&mut conn, "test", paydown::http::now()).unwrap();
        assert!(report.lines_posted > 0, "{backend:?}: {report:?}");
        assert!(paydown::storage::journal::marks(&mut conn, "alice").unwrap().is_none());
        let verified = paydown::accrual::verify(&mut conn).unwrap();
        assert!(verified.is_clean(), "{backend:?}: {:?}", verified.differences);
        assert_eq!(verified.journal_pending, 0, "{backend:?}");
    }
}

/// `paydown verify` exits 0 on a clean ledger and 1, naming each difference, when facts
/// changed after the last accrual.
#[test]
fn verify_exits_non_zero_on_a_difference() {
    let db = TestDb::new(Backend::Sqlite);
    let store = db.store();
    paydown::demo::load_if_empty(&store, paydown::demo::DEFAULT_SEED).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_paydown"))
            .args(args)
            .args(["--database-url", &db.url])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    assert!(run(&["accrue"]).status.success());
    let clean = run(&["verify"]);
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stdout));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("the ledger matches the facts"));

    // A response logged after the last accrual: the ledger lacks its lines.
    let mut conn = store.conn().unwrap();
    let page = paydown::storage::pages::list(
        &mut conn,
        &paydown::storage::pages::PageFilter { acknowledged_by: Some("alice".into()), limit: 1, ..Default::default() },
    )
    .unwrap()
    .remove(0);
    let response = paydown::storage::responses::NewResponse {
        id: None,
        page_id: page.id,
        person: "alice".into(),
        started_at: page.triggered_at,
        ended_at: page.triggered_at + chrono::Duration::minutes(200),
        notes: None,
        actionable: true,
    };
    paydown::storage::responses::record(
        &mut conn,
        &response,
        &paydown::storage::Stamp::new("test", paydown::http::now()),
    )
    .unwrap();
    let dirty = run(&["verify"]);
    assert!(!dirty.status.success());
    assert!(
        String::from_utf8_lossy(&dirty.stdout).contains("DIFFERENCE alice: ledger lacks response"),
        "{}",
        String::from_utf8_lossy(&dirty.stdout)
    );
    assert!(run(&["accrue"]).status.success());
    assert!(run(&["verify"]).status.success());
    let periods = run(&["periods", "list"]);
    assert!(String::from_utf8_lossy(&periods.stdout).contains("2026-10"));
}

/// A person with more entries than one posting transaction takes is posted in batches (500
/// entries on SQLite): a `kill -9` inside the second batch leaves the first posted and the
/// journal rows in place, and the replay posts only what is missing (no line twice, verify
/// clean). PostgreSQL posts a person's year in one transaction: the kill leaves nothing.
#[test]
fn a_crash_between_posting_batches_replays_only_what_is_missing() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
        let mut conn = store.conn().unwrap();
        let from = chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
        crate::helpers::people_on_a_policy(&mut conn, "busy", &["busy"], from);
        // 700 pages at night, each acknowledged and resolved by the one person.
        let mut csv = String::from(
            "source,external_id,service,alert_key,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at\n",
        );
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T01:00:00Z").unwrap();
        for index in 0..700i64 {
            let at = start + chrono::Duration::hours(7 * index);
            let format =
                |offset: i64| (at + chrono::Duration::minutes(offset)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
            csv.push_str(&format!("t,P-{index},checkout,a,wake,{},{},busy,{}\n", format(0), format(3), format(40)));
        }
        paydown::import::import_pages(
            &store,
            csv.as_bytes(),
            paydown::ingest::csv_pages::PageCsvFormat::Generic,
            &stamp,
            &mut |_| {},
        )
        .unwrap();
        drop(conn);

        accrue_until_stalled(&db.url, 600, backend);

        let mut conn = store.conn().unwrap();
        let posted = paydown::storage::ledger::person_entries(&mut conn, "busy").unwrap();
        let first_batch = match backend {
            Backend::Sqlite => 500,
            Backend::Postgres => 0,
        };
        assert_eq!(posted.len(), first_batch, "{backend:?}: the batch the kill interrupted died with the process");
        assert!(paydown::storage::journal::marks(&mut conn, "busy").unwrap().is_some(), "{backend:?}");
        let report = paydown::accrual::accrue(&mut conn, "test", paydown::http::now()).unwrap();
        assert_eq!(report.reversals_posted, 0, "{backend:?}: {report:?}");
        assert!(report.lines_posted > 100, "{backend:?}: {report:?}");
        let all = paydown::storage::ledger::person_entries(&mut conn, "busy").unwrap();
        assert_eq!(all.len(), first_batch + report.lines_posted, "{backend:?}");
        let keys: std::collections::BTreeSet<&str> = all.iter().map(|entry| entry.line_key.as_str()).collect();
        assert_eq!(keys.len(), all.len(), "{backend:?}: a line posted twice");
        let verified = paydown::accrual::verify(&mut conn).unwrap();
        assert!(verified.is_clean(), "{backend:?}: {:?}", verified.differences);
        assert_eq!(verified.journal_pending, 0, "{backend:?}");
    }
}

on_both_backends!(a_later_response_that_joins_work_begun_the_day_before_reprices_its_line);

/// Found by `.ci/crash` (seed 3231902769): a response that overlaps one begun before the
/// person's local midnight is paid as one stretch on the earlier response's line, so the
/// accrual journaled from the later response's day must re-price from the stretch's day.
/// Before the fix the earlier line kept its old minutes and verify found the difference.
async fn a_later_response_that_joins_work_begun_the_day_before_reprices_its_line(backend: Backend) {
    let app = TestApp::new(backend);
    march_facts(&app).await;
    let respond = |external_id: &'static str, from: &'static str, to: &'static str| {
        let app = &app;
        async move {
            let page = json!({"source": "manual", "external_id": external_id, "service": "checkout",
                "triggered_at": from, "acknowledged_at": from, "acknowledged_by": "alice"});
            let page_id = app.post("/v1/pages", page).await.body["id"].as_str().unwrap().to_owned();
            let response = json!({"person": "alice", "started_at": from, "ended_at": to, "actionable": true});
            let posted = app.post(&format!("/v1/pages/{page_id}/responses"), response).await;
            assert_eq!(posted.status, 201, "{:?}", posted.body);
        }
    };
    // London is on UTC in mid-March: 23:00-00:30, then 00:20-02:00 the next local day.
    respond("LATE-1", "2026-03-12T23:00:00Z", "2026-03-13T00:30:00Z").await;
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    respond("LATE-2", "2026-03-13T00:20:00Z", "2026-03-13T02:00:00Z").await;
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    assert_eq!(app.get("/v1/ledger/verify").await.body["differences"], json!([]), "{backend:?}");
    let entries = app.get("/v1/ledger?limit=1000").await.body;
    let live_minutes: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["component"] == "response" && entry["occurred_at"] == "2026-03-12T23:00:00Z")
        .filter_map(|entry| entry["quantity"].as_str())
        .collect();
    // The first line (90 minutes), its reversal, and the stretch of 180 minutes.
    assert_eq!(live_minutes, ["90", "-90", "180"], "{backend:?}: {entries}");
}
