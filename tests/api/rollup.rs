//! The dashboard's per-day rollup (`paydown::rollup`): its figures equal the direct
//! computation from every page, a fact changed after a read is in the next read, and
//! recomputing is idempotent.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb};
use crate::on_both_backends;
use paydown::dashboard;
use paydown::domain::debt::GroupBy;
use paydown::storage::AnyConnection;

fn at(text: &str) -> DateTime<Utc> {
    paydown::domain::timestamp::parse_rfc3339(text).unwrap()
}

/// Percentiles from histograms are within 1/128 of the exact value (exact on small sets);
/// everything else is equal.
fn assert_health_matches(rollup: &Value, direct: &Value, context: &str) {
    let mut rollup = rollup.clone();
    let mut direct = direct.clone();
    for field in ["response_times_by_lane", "response_times_by_team", "response_times_by_service"] {
        let got = rollup[field].take();
        let want = direct[field].take();
        let (got, want) = (got.as_array().unwrap(), want.as_array().unwrap());
        assert_eq!(got.len(), want.len(), "{context}: {field}");
        for (got, want) in got.iter().zip(want) {
            assert_eq!(got["key"], want["key"], "{context}: {field}");
            for kind in ["ack", "resolve"] {
                assert_eq!(got[kind]["count"], want[kind]["count"], "{context}: {field} {kind}");
                for p in ["p50", "p90", "p99"] {
                    let (g, w) = (got[kind][p].as_i64(), want[kind][p].as_i64());
                    match (g, w) {
                        (Some(g), Some(w)) => {
                            assert!((g - w).abs() * 128 <= w, "{context}: {field} {kind} {p}: {g} vs {w}")
                        }
                        _ => assert_eq!(g, w, "{context}: {field} {kind} {p}"),
                    }
                }
            }
        }
    }
    assert_eq!(rollup, direct, "{context}");
}

fn assert_rollup_equals_direct(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    teams: Option<&[String]>,
) {
    let context = format!("{from}..{to} teams {teams:?}");
    for group_by in [GroupBy::AlertKey, GroupBy::Service, GroupBy::Team, GroupBy::Month] {
        let rollup = serde_json::to_value(dashboard::debt(conn, from, to, group_by, teams).unwrap()).unwrap();
        let direct = serde_json::to_value(dashboard::debt_direct(conn, from, to, group_by, teams).unwrap()).unwrap();
        assert_eq!(rollup, direct, "{context} {group_by:?}");
    }
    let rollup = format!("{:?}", dashboard::monthly_by_team(conn, from, to, teams).unwrap());
    let direct = format!("{:?}", dashboard::monthly_by_team_direct(conn, from, to, teams).unwrap());
    assert_eq!(rollup, direct, "{context} monthly");
    let rollup = serde_json::to_value(dashboard::health(conn, from, to).unwrap()).unwrap();
    let direct = serde_json::to_value(dashboard::health_direct(conn, from, to).unwrap()).unwrap();
    assert_health_matches(&rollup, &direct, &context);
}

const RANGES: [(&str, &str); 5] = [
    ("2026-07-01T00:00:00Z", "2026-12-01T00:00:00Z"),
    ("2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z"),
    ("2026-08-17T13:37:11Z", "2026-10-09T05:01:00Z"),
    ("2026-09-10T03:00:00Z", "2026-09-10T21:00:00Z"),
    ("2026-10-05T00:00:00Z", "2026-10-19T18:30:00Z"),
];

#[test]
fn the_rollup_equals_the_direct_computation_on_the_demo() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        paydown::demo::load_if_empty(&store, paydown::demo::DEFAULT_SEED).unwrap();
        let mut conn = store.conn().unwrap();
        paydown::accrual::accrue(&mut conn, "test", at("2026-11-20T00:00:00Z")).unwrap();
        let teams: Vec<String> =
            paydown::storage::teams::list(&mut conn).unwrap().into_iter().map(|team| team.id).take(1).collect();
        assert!(!teams.is_empty());
        let pages = dashboard::debt_direct(&mut conn, at(RANGES[0].0), at(RANGES[0].1), GroupBy::Team, None).unwrap();
        assert!(pages.groups.iter().map(|line| line.group.pages).sum::<u64>() > 100, "the demo has pages with debt");
        for (from, to) in RANGES {
            assert_rollup_equals_direct(&mut conn, at(from), at(to), None);
            assert_rollup_equals_direct(&mut conn, at(from), at(to), Some(&teams));
        }
    }
}

#[test]
fn recomputing_the_rollup_is_idempotent() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        paydown::demo::load_if_empty(&store, paydown::demo::DEFAULT_SEED).unwrap();
        let mut conn = store.conn().unwrap();
        paydown::accrual::accrue(&mut conn, "test", at("2026-11-20T00:00:00Z")).unwrap();
        let days = paydown::rollup::refresh_all(&mut conn).unwrap();
        assert!(days > 80, "{backend:?}: every day of the demo's 13 weeks is computed once: {days}");
        assert_eq!(paydown::rollup::refresh_all(&mut conn).unwrap(), 0, "{backend:?}: nothing changed");
        let (from, to) = (at(RANGES[0].0), at(RANGES[0].1));
        let read = |conn: &mut AnyConnection| {
            (
                serde_json::to_value(dashboard::debt(conn, from, to, GroupBy::AlertKey, None).unwrap()).unwrap(),
                serde_json::to_value(dashboard::health(conn, from, to).unwrap()).unwrap(),
                format!("{:?}", dashboard::monthly_by_team(conn, from, to, None).unwrap()),
            )
        };
        let first = read(&mut conn);
        assert_eq!(paydown::rollup::rebuild(&mut conn).unwrap(), days, "{backend:?}");
        assert_eq!(read(&mut conn), first, "{backend:?}: rebuilt from scratch");
        assert_eq!(paydown::rollup::rebuild(&mut conn).unwrap(), days, "{backend:?}");
        assert_eq!(read(&mut conn), first, "{backend:?}: rebuilt again");
        assert_eq!(paydown::rollup::refresh_all(&mut conn).unwrap(), 0, "{backend:?}");
    }
}

/// The worker recomputes a year of dirty days a slice at a time (so new pages are priced
/// between slices): each slice does at least one day and says whether some are left, and
/// the slices together leave the rollup as one refresh of everything does.
#[test]
fn the_rollup_refreshed_in_slices_equals_one_refresh() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        paydown::demo::load_if_empty(&store, paydown::demo::DEFAULT_SEED).unwrap();
        let mut conn = store.conn().unwrap();
        paydown::accrual::accrue(&mut conn, "test", at("2026-11-20T00:00:00Z")).unwrap();
        let mut slices = 0;
        let mut days = 0;
        loop {
            let (done, left) = paydown::rollup::refresh_some(&mut conn, std::time::Duration::ZERO).unwrap();
            assert_eq!(done, 1, "{backend:?}: a spent budget still does one day");
            slices += 1;
            days += done;
            if !left {
                break;
            }
        }
        assert!(days > 80, "{backend:?}: every day of the demo's 13 weeks: {days}");
        assert_eq!(slices, days, "{backend:?}");
        assert_eq!(paydown::storage::rollup::dirty_day_count(&mut conn).unwrap(), 0, "{backend:?}");
        assert_eq!(paydown::rollup::refresh_some(&mut conn, std::time::Duration::ZERO).unwrap(), (0, false));
        assert_eq!(paydown::rollup::refresh_all(&mut conn).unwrap(), 0, "{backend:?}: nothing left");
        let (from, to) = (at(RANGES[0].0), at(RANGES[0].1));
        assert_rollup_equals_direct(&mut conn, from, to, None);
    }
}

on_both_backends!(a_fact_changed_after_a_read_is_in_the_next_read);

async fn a_fact_changed_after_a_read_is_in_the_next_read(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    assert_eq!(app.patch("/v1/people/alice", json!({"loaded_hourly_cost": "60.00"})).await.status, 200);
    app.post("/v1/ledger/accrue", json!({})).await;
    let (from, to) = (at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"));
    let range = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";
    let read = || async {
        let reply = app
            .call_as("GET", &format!("/v1/reports/debt?group_by=service&{range}"), None, Some(&app.finance_token))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let mut conn = app.store.conn().unwrap();
        let direct = dashboard::debt_direct(&mut conn, from, to, GroupBy::Service, None).unwrap();
        assert_eq!(reply.body, serde_json::to_value(direct).unwrap(), "the rollup equals the direct computation");
        let health = serde_json::to_value(dashboard::health(&mut conn, from, to).unwrap()).unwrap();
        let health_direct = serde_json::to_value(dashboard::health_direct(&mut conn, from, to).unwrap()).unwrap();
        assert_eq!(health, health_direct);
        reply.body["groups"][0].clone()
    };
    let first = read().await;
    assert_eq!((first["pages"].as_u64(), first["total"].as_str()), (Some(1), Some("296.00")));

    // A new page, acknowledged by alice at night on another day of the range.
    let page = json!({"source": "manual", "external_id": "INC-2", "service": "checkout",
        "triggered_at": "2026-03-21T23:30:00Z", "acknowledged_at": "2026-03-21T23:40:00Z", "acknowledged_by": "alice",
        "resolved_at": "2026-03-22T00:10:00Z"});
    let created = app.post("/v1/pages", page).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let page_id = created.body["id"].as_str().unwrap().to_owned();
    let second = read().await;
    assert_eq!(second["pages"].as_u64(), Some(2), "the new page is counted");
    assert_ne!(second["responder_time"], first["responder_time"], "its default response (ack → resolve) is costed");

    // A late response on it: logged work replaces the default response.
    let response = json!({"person": "alice", "started_at": "2026-03-21T23:35:00Z", "ended_at": "2026-03-22T01:35:00Z", "actionable": false});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), response).await.status, 201);
    let third = read().await;
    assert_ne!(third["responder_time"], second["responder_time"], "the late response is in");
    assert_eq!(third["non_actionable_pages"].as_u64(), Some(1));

    // Priced: new ledger lines for the page change what was paid.
    app.post("/v1/ledger/accrue", json!({})).await;
    let fourth = read().await;
    assert_ne!(fourth["paid"], third["paid"], "the priced lines are in");

    // Re-priced: a longer response reverses and re-posts its line.
    let longer = json!({"person": "alice", "started_at": "2026-03-07T02:14:00Z", "ended_at": "2026-03-07T04:05:00Z", "actionable": true});
    assert_eq!(app.post(&format!("/v1/pages/{}/responses", first_page(&app).await), longer).await.status, 201);
    app.post("/v1/ledger/accrue", json!({})).await;
    let fifth = read().await;
    assert_ne!(fifth["paid"], fourth["paid"], "the re-priced lines are in");

    // What costs pages changed: alice's loaded cost.
    assert_eq!(app.patch("/v1/people/alice", json!({"loaded_hourly_cost": "90.00"})).await.status, 200);
    let sixth = read().await;
    assert_ne!(sixth["responder_time"], fifth["responder_time"], "the new rate is in");
}

async fn first_page(app: &TestApp) -> String {
    let pages = app.get("/v1/pages?external_id=INC-1").await.body;
    pages
        .as_array()
        .and_then(|pages| pages.first())
        .map_or_else(|| panic!("INC-1: {pages:?}"), |page| page["id"].as_str().unwrap().to_owned())
}

on_both_backends!(a_recomputation_that_raced_a_posting_or_another_recomputation_loses_nothing);

/// A day's recomputation reads the day's version and claims its marks, then reads its
/// facts outside the write lock. A posting that lands meanwhile finds the marks claimed and
/// leaves one of its own, so the day stays dirty after the recomputation writes. A posting
/// that finds an unclaimed mark adds none on SQLite (a year's first accrual re-marked every
/// day per person): that mark's recomputation reads it. Of two recomputations of one day,
/// the one that read first never overwrites the other's rows.
async fn a_recomputation_that_raced_a_posting_or_another_recomputation_loses_nothing(backend: Backend) {
    use paydown::rollup::{costing_of, day_of, read_day, write_day};
    use paydown::storage::facts::cost_context;
    use paydown::storage::rollup::{dirty_days, marks};

    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let (from, to) = (at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"));
    let mut conn = app.store.conn().unwrap();
    assert_rollup_equals_direct(&mut conn, from, to, None);
    let day = day_of(at("2026-03-21T23:30:00Z"));
    assert_eq!(dirty_days(&mut conn, None).unwrap(), Vec::<i64>::new(), "the reads recomputed every day");

    // A new page on that day marks it; a recomputation reads it before it is priced.
    let page = json!({"source": "manual", "external_id": "INC-2", "service": "checkout",
        "triggered_at": "2026-03-21T23:30:00Z", "acknowledged_at": "2026-03-21T23:40:00Z", "acknowledged_by": "alice",
        "resolved_at": "2026-03-22T00:10:00Z"});
    let created = app.post("/v1/pages", page).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let page_id = created.body["id"].as_str().unwrap().to_owned();
    let costing = costing_of(&cost_context(&mut conn).unwrap());
    let before_pricing = read_day(&mut conn, &costing, day).unwrap().expect("the new page marked its day");

    // The recomputation claimed the page's mark, so the posting of its lines marks the day
    // again.
    let page_marks = marks(&mut conn, day).unwrap();
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let pending = marks(&mut conn, day).unwrap();
    assert_eq!(pending.len(), page_marks.len() + 1, "{backend:?}: the posting's mark {pending:?} after {page_marks:?}");
    assert!(pending.iter().max() > page_marks.iter().max(), "{pending:?} after {page_marks:?}");
    assert!(write_day(&mut conn, before_pricing).unwrap(), "no other recomputation wrote the day: it writes");
    assert_eq!(dirty_days(&mut conn, None).unwrap(), vec![day], "the posting's mark keeps the day dirty");
    assert_rollup_equals_direct(&mut conn, from, to, None);
    assert_eq!(dirty_days(&mut conn, None).unwrap(), Vec::<i64>::new());

    // Two recomputations of the day, around a late response: the newer writes first.
    let response = json!({"person": "alice", "started_at": "2026-03-21T23:35:00Z", "ended_at": "2026-03-22T01:35:00Z", "actionable": false});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), response).await.status, 201);
    let older = read_day(&mut conn, &costing, day).unwrap().expect("the response marked the day");
    let longer = json!({"person": "alice", "started_at": "2026-03-21T23:35:00Z", "ended_at": "2026-03-22T03:35:00Z", "actionable": false});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), longer).await.status, 201);
    let newer = read_day(&mut conn, &costing, day).unwrap().expect("the day is still dirty");
    assert!(write_day(&mut conn, newer).unwrap());
    assert!(!write_day(&mut conn, older).unwrap(), "the older read must not overwrite the newer rows");
    assert_eq!(dirty_days(&mut conn, None).unwrap(), Vec::<i64>::new(), "the newer read saw every mark");
    assert_rollup_equals_direct(&mut conn, from, to, None);

    // A change marks the day and nothing claims the mark before the posting: on SQLite the
    // posting adds no mark of its own, and the recomputation that claims the change's mark
    // reads the posted lines.
    let paid_before = paid_on(&mut conn, from, to);
    let shorter = json!({"person": "alice", "started_at": "2026-03-21T23:35:00Z", "ended_at": "2026-03-22T00:35:00Z", "actionable": false});
    assert_eq!(app.post(&format!("/v1/pages/{page_id}/responses"), shorter).await.status, 201);
    let change_marks = marks(&mut conn, day).unwrap();
    assert!(!change_marks.is_empty(), "the response marked its day");
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let after_posting = marks(&mut conn, day).unwrap();
    let expected = match backend {
        Backend::Sqlite => change_marks.clone(),
        Backend::Postgres => {
            assert_eq!(after_posting.len(), change_marks.len() + 1, "PostgreSQL appends: {after_posting:?}");
            after_posting.clone()
        }
    };
    assert_eq!(after_posting, expected, "{backend:?}");
    assert_rollup_equals_direct(&mut conn, from, to, None);
    assert_ne!(paid_on(&mut conn, from, to), paid_before, "the re-priced lines are on the dashboard");
    assert_eq!(dirty_days(&mut conn, None).unwrap(), Vec::<i64>::new());
}

/// What the dashboard's rollup says was paid for the range's pages (service groups).
fn paid_on(conn: &mut paydown::storage::AnyConnection, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    let groups = serde_json::to_value(dashboard::debt(conn, from, to, GroupBy::Service, None).unwrap()).unwrap();
    groups["groups"].as_array().unwrap().iter().map(|group| group["paid"].clone()).collect()
}

/// What the dashboard says was paid for a range's pages is every ledger entry of those
/// pages. It reads them per (page, person) pair of acknowledger and responders, through
/// `ledger_entries_person_page`, where it used to join the whole ledger to the pages (at a
/// year of 1,000,000 pages, 10.0 s to recompute one day on SQLite). On the demo, people
/// respond to pages others acknowledged, and acknowledgers log responses of their own.
#[test]
fn the_dashboard_reads_every_ledger_entry_of_a_ranges_pages() {
    use diesel::prelude::*;
    use paydown::storage::schema::{ledger_entries, pages, responses};
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        paydown::demo::load_if_empty(&store, paydown::demo::DEFAULT_SEED).unwrap();
        let mut conn = store.conn().unwrap();
        // Someone other than the acknowledger works one of 10 September's pages (the
        // demo's responders are all acknowledgers), their claim approved.
        let (page_id, acknowledger, triggered): (String, Option<String>, chrono::NaiveDateTime) = pages::table
            .filter(pages::triggered_at.ge(at("2026-09-10T00:00:00Z").naive_utc()))
            .filter(pages::triggered_at.lt(at("2026-09-11T00:00:00Z").naive_utc()))
            .filter(pages::acknowledged_by.is_not_null())
            .select((pages::id, pages::acknowledged_by, pages::triggered_at))
            .order(pages::triggered_at)
            .first(&mut conn)
            .unwrap();
        let other = paydown::storage::people::list(&mut conn, None)
            .unwrap()
            .into_iter()
            .map(|person| person.id)
            .find(|person| Some(person) != acknowledger.as_ref())
            .unwrap();
        let stamp = paydown::storage::Stamp::new("test", at("2026-11-20T00:00:00Z"));
        let started = DateTime::<Utc>::from_naive_utc_and_offset(triggered, Utc) + chrono::Duration::minutes(5);
        let claim = paydown::storage::responses::NewResponse {
            id: None,
            page_id: page_id.clone(),
            person: other.clone(),
            started_at: started,
            ended_at: started + chrono::Duration::minutes(70),
            notes: None,
            actionable: true,
        };
        let (recorded, _) = paydown::storage::responses::record(&mut conn, &claim, &stamp).unwrap();
        if recorded.status == paydown::storage::responses::PENDING {
            paydown::storage::responses::decide(&mut conn, &recorded.id, true, "worked it", &stamp).unwrap();
        }
        paydown::accrual::accrue(&mut conn, "test", at("2026-11-20T00:00:00Z")).unwrap();
        let pairs: Vec<(String, Option<String>)> = responses::table
            .inner_join(pages::table)
            .select((responses::person_id, pages::acknowledged_by))
            .load(&mut conn)
            .unwrap();
        let own = pairs.iter().filter(|(person, acknowledger)| acknowledger.as_deref() == Some(person)).count();
        assert!(own > 0 && own < pairs.len(), "{backend:?}: {own} of {} responses by the acknowledger", pairs.len());
        for (from, to) in [RANGES[0], RANGES[2], ("2026-09-10T00:00:00Z", "2026-09-11T00:00:00Z")] {
            let (from, to) = (at(from), at(to));
            let read = paydown::storage::facts::pages_of_range(&mut conn, from, to).unwrap();
            let mut paid = read.paid.clone();
            let mut recovery = read.recovery.clone();
            paid.sort();
            recovery.sort();
            let every: Vec<(Option<String>, String, String, String, String, i64)> = ledger_entries::table
                .inner_join(pages::table.on(pages::id.nullable().eq(ledger_entries::page_id)))
                .filter(pages::triggered_at.ge(from.naive_utc()))
                .filter(pages::triggered_at.lt(to.naive_utc()))
                .select((
                    ledger_entries::page_id,
                    ledger_entries::person_id,
                    ledger_entries::component,
                    ledger_entries::quantity,
                    ledger_entries::currency,
                    ledger_entries::amount_minor,
                ))
                .load(&mut conn)
                .unwrap();
            assert!(every.len() > 10, "{backend:?} {from}..{to}: {} entries", every.len());
            let mut expected_paid = std::collections::BTreeMap::new();
            let mut expected_recovery = std::collections::BTreeMap::new();
            for (page, person, component, quantity, currency, amount_minor) in every {
                let page = page.unwrap();
                if component == "recovery" {
                    *expected_recovery.entry((page, person)).or_insert(rust_decimal::Decimal::ZERO) +=
                        quantity.parse::<rust_decimal::Decimal>().unwrap();
                } else {
                    let code: paydown::domain::currency::Currency = currency.parse().unwrap();
                    *expected_paid.entry((page, person, currency)).or_insert(rust_decimal::Decimal::ZERO) +=
                        code.from_minor_units(amount_minor);
                }
            }
            let expected_paid: Vec<_> = expected_paid
                .into_iter()
                .map(|((page, person, currency), sum)| (page, person, currency, sum))
                .collect();
            let expected_recovery: Vec<_> =
                expected_recovery.into_iter().map(|((page, person), hours)| (page, person, hours)).collect();
            assert_eq!(paid, expected_paid, "{backend:?} {from}..{to}");
            if from == at("2026-09-10T00:00:00Z") {
                assert!(
                    paid.iter().any(|(page, person, _, _)| *page == page_id && *person == other),
                    "{backend:?}: the claim's pay is read: {paid:?}"
                );
            }
            assert_eq!(recovery, expected_recovery, "{backend:?} {from}..{to}");
        }
    }
}
