//! `paydown sync pagerduty` against a local fake of PagerDuty's REST API: an actix-web
//! server on a free loopback port answering in the shapes of the published OpenAPI
//! document (its records are the document's own examples from `tests/samples/pagerduty/
//! rest_api/`, copied with other ids and times), with pagination, a 429 with
//! `Retry-After`, a 500 then success, a malformed record among good ones, and a second
//! incremental run that fetches nothing new.

use std::collections::{BTreeMap, VecDeque};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use paydown::sync::SyncReport;
use paydown::sync::client::RetryPolicy;

on_both_backends!(a_backfill_then_incremental_runs_fold_into_pages_and_shifts, the_cli_says_what_it_fetched);

const KEY: &str = "fake-read-only-key";

fn sample(name: &str) -> Value {
    let path = format!("{}/tests/samples/pagerduty/rest_api/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What the fake answers with one of its faults.
#[derive(Clone, Copy)]
enum Fault {
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 500.
    Broken,
}

/// The fake's data and what it was asked.
#[derive(Default)]
struct FakeState {
    users: Vec<Value>,
    schedules: Vec<Value>,
    /// Schedule id → final rendered entries.
    entries: BTreeMap<String, Vec<Value>>,
    incidents: Vec<Value>,
    log_entries: Vec<Value>,
    /// Path → faults answered, in order, before the real answer.
    faults: BTreeMap<String, VecDeque<Fault>>,
    /// Every request: path and query.
    hits: Vec<(String, BTreeMap<String, String>)>,
}

impl FakeState {
    fn hits_of(&self, path: &str) -> Vec<&BTreeMap<String, String>> {
        self.hits.iter().filter(|(hit, _)| hit == path).map(|(_, query)| query).collect()
    }
}

type Shared = Arc<Mutex<FakeState>>;

fn in_window(value: &Value, field: &str, query: &BTreeMap<String, String>) -> bool {
    let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
    // A malformed record is kept in the list (it is the client's job to report it).
    let Some(when) = value[field].as_str().and_then(|text| DateTime::parse_from_rfc3339(text).ok()) else {
        return true;
    };
    let when = when.with_timezone(&Utc);
    query.get("since").is_none_or(|since| when >= at(since)) && query.get("until").is_none_or(|until| when < at(until))
}

/// One page of a list, as PagerDuty's offset pagination answers it.
fn paged(key: &str, items: Vec<Value>, query: &BTreeMap<String, String>) -> Value {
    let limit: usize = query.get("limit").and_then(|limit| limit.parse().ok()).unwrap_or(25);
    let offset: usize = query.get("offset").and_then(|offset| offset.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(offset).take(limit).cloned().collect();
    json!({key: page, "limit": limit, "offset": offset, "more": offset + limit < items.len(), "total": null})
}

async fn answer(request: HttpRequest, state: web::Data<Shared>) -> HttpResponse {
    let path = request.path().to_owned();
    let query: BTreeMap<String, String> =
        web::Query::<BTreeMap<String, String>>::from_query(request.query_string()).map(|q| q.into_inner()).unwrap();
    let mut state = state.lock().unwrap();
    state.hits.push((path.clone(), query.clone()));
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == format!("Token token={KEY}"));
    if !authorized {
        return HttpResponse::Unauthorized().json(json!({"error": {"message": "Invalid Token", "code": 2002}}));
    }
    if let Some(fault) = state.faults.get_mut(&path).and_then(VecDeque::pop_front) {
        return match fault {
            Fault::RateLimited => HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", "1"))
                .json(json!({"error": {"message": "Rate Limit Exceeded", "code": 2020}})),
            Fault::Broken => HttpResponse::InternalServerError().body("upstream failure"),
        };
    }
    let body = match path.as_str() {
        "/users" => paged("users", state.users.clone(), &query),
        "/schedules" => paged("schedules", state.schedules.clone(), &query),
        "/incidents" => {
            let listed = state.incidents.iter().filter(|incident| in_window(incident, "created_at", &query)).cloned();
            paged("incidents", listed.collect(), &query)
        }
        "/log_entries" => {
            let listed = state.log_entries.iter().filter(|entry| in_window(entry, "created_at", &query)).cloned();
            paged("log_entries", listed.collect(), &query)
        }
        other => {
            if let Some(id) = other.strip_prefix("/incidents/") {
                match state.incidents.iter().find(|incident| incident["id"] == id) {
                    Some(incident) => json!({"incident": incident}),
                    None => return HttpResponse::NotFound().json(json!({"error": {"message": "Not Found"}})),
                }
            } else if let Some(id) = other.strip_prefix("/schedules/") {
                let mut schedule = sample("get_schedule.json");
                schedule["schedule"]["id"] = id.into();
                let entries: Vec<Value> = state.entries.get(id).cloned().unwrap_or_default();
                let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
                let (since, until) = (at(&query["since"]), at(&query["until"]));
                let overlapping: Vec<Value> = entries
                    .into_iter()
                    .filter(|entry| {
                        at(entry["start"].as_str().unwrap()) < until && at(entry["end"].as_str().unwrap()) > since
                    })
                    .collect();
                schedule["schedule"]["final_schedule"]["rendered_schedule_entries"] = Value::Array(overlapping);
                schedule
            } else {
                return HttpResponse::NotFound().json(json!({"error": {"message": "Not Found"}}));
            }
        }
    };
    HttpResponse::Ok().json(body)
}

/// The fake API on a free loopback port, stopped when dropped.
struct FakePagerDuty {
    url: String,
    state: Shared,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakePagerDuty {
    fn start(state: FakeState) -> FakePagerDuty {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Shared = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::new(shared);
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new().app_data(data.clone()).default_service(web::to(answer))
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run();
                sender.send(server.handle()).unwrap();
                server.await.unwrap();
            });
        });
        let handle = receiver.recv().unwrap();
        FakePagerDuty { url, state, handle, thread: Some(thread) }
    }
}

impl Drop for FakePagerDuty {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ = std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false))).join();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn user_ref(id: &str) -> Value {
    json!({"id": id, "type": "user_reference", "summary": id,
        "self": format!("https://api.pagerduty.com/users/{id}")})
}

fn log_entry(id: &str, kind: &str, incident: &str, at: DateTime<Utc>, agent: Value) -> Value {
    let mut entry = sample("list_log_entries.json")["log_entries"][0].clone();
    entry["id"] = id.into();
    entry["type"] = kind.into();
    entry["created_at"] = text(at).into();
    entry["agent"] = agent;
    entry["incident"]["id"] = incident.into();
    entry
}

/// Seven incidents created in the last days before `t0` (one malformed), their log entries,
/// one older incident whose resolve is in the window, the documented users and a schedule.
fn fake_data(t0: DateTime<Utc>) -> FakeState {
    let template = sample("list_incidents.json")["incidents"][0].clone();
    let service = template["service"].clone();
    let mut state =
        FakeState { users: sample("list_users.json")["users"].as_array().unwrap().clone(), ..Default::default() };
    let earline = "PXPGF42"; // 125.greenholt.earline@graham.name: a paydown person
    let kyler = "PAM4FGS"; // no paydown person
    for n in 0..7 {
        let id = format!("PINC{n:03}");
        let created = t0 - Duration::days(6) + Duration::hours(n * 12);
        let mut incident = template.clone();
        incident["id"] = id.clone().into();
        incident["created_at"] = text(created).into();
        incident["title"] = format!("Incident {n}").into();
        incident["status"] = "resolved".into();
        incident["resolved_at"] = text(created + Duration::minutes(40)).into();
        let service_reference = json!({"id": "PIJ90N7", "type": "service_reference"});
        state.log_entries.push(log_entry(&format!("LT{n}"), "trigger_log_entry", &id, created, service_reference));
        if n == 3 {
            // Malformed: a time without an offset.
            incident["created_at"] = "2026-11-28 10:00:00".into();
        } else {
            let (who, ack_after) = if n == 5 { (kyler, 7) } else { (earline, 4) };
            if n == 2 {
                let escalated =
                    log_entry("LE2", "escalate_log_entry", &id, created + Duration::minutes(2), user_ref(who));
                state.log_entries.push(escalated);
            }
            let acked = created + Duration::minutes(ack_after);
            state.log_entries.push(log_entry(&format!("LA{n}"), "acknowledge_log_entry", &id, acked, user_ref(who)));
            let resolved = created + Duration::minutes(40);
            state.log_entries.push(log_entry(&format!("LR{n}"), "resolve_log_entry", &id, resolved, user_ref(who)));
        }
        state.incidents.push(incident);
    }
    // Created before any window read, resolved inside it: found through its log entry.
    let mut old = template.clone();
    old["id"] = "POLD001".into();
    old["created_at"] = text(t0 - Duration::days(40)).into();
    old["resolved_at"] = text(t0 - Duration::days(2)).into();
    old["service"] = service;
    state.log_entries.push(log_entry(
        "LROLD",
        "resolve_log_entry",
        "POLD001",
        t0 - Duration::days(2),
        user_ref(earline),
    ));
    state.incidents.push(old);

    state.schedules = sample("list_schedules.json")["schedules"].as_array().unwrap().clone();
    let schedule_id = state.schedules[0]["id"].as_str().unwrap().to_owned();
    let entry = |days: i64, user: &str| {
        let start = t0 - Duration::days(days);
        json!({"start": text(start), "end": text(start + Duration::hours(12)), "user": user_ref(user)})
    };
    state.entries.insert(schedule_id, vec![entry(5, earline), entry(4, earline), entry(3, kyler), entry(2, earline)]);
    state.faults.insert("/users".into(), VecDeque::from([Fault::RateLimited]));
    state.faults.insert("/incidents".into(), VecDeque::from([Fault::Broken]));
    state
}

fn options(fake: &FakePagerDuty) -> paydown::sync::pagerduty::Options {
    let mut options = paydown::sync::pagerduty::Options::new(KEY);
    options.api_url = fake.url.clone();
    options.page_limit = 3;
    options.retry = RetryPolicy { backoff_base: std::time::Duration::from_millis(10), ..RetryPolicy::default() };
    options
}

fn sync(app: &TestApp, options: &paydown::sync::pagerduty::Options, now: DateTime<Utc>) -> SyncReport {
    let mapping = paydown::ingest::SourceMapping::default();
    paydown::sync::pagerduty::run(&app.store, &mapping, options, now, &mut |_| {}).expect("sync runs")
}

async fn page(app: &TestApp, external_id: &str) -> Value {
    let found = app.get(&format!("/v1/pages?source=pagerduty&external_id={external_id}")).await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    let pages = found.body.as_array().unwrap();
    assert_eq!(pages.len(), 1, "one page for {external_id}: {pages:?}");
    pages[0].clone()
}

async fn a_backfill_then_incremental_runs_fold_into_pages_and_shifts(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let earline = json!({"id": "earline", "name": "Earline Greenholt", "email": "125.Greenholt.Earline@graham.name",
        "payroll_id": "E-2001", "team": "payments", "timezone": "America/Lima", "currency": "USD"});
    assert_eq!(app.post("/v1/people", earline).await.status, 201);
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z").unwrap().with_timezone(&Utc);

    // A webhook delivered the trigger of PINC001 before the sync ran.
    let mut trigger = serde_json::from_str::<Value>(
        &std::fs::read_to_string(format!(
            "{}/tests/samples/pagerduty/webhooks_v3/zulip/escalate_v3.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    trigger["event"]["event_type"] = "incident.triggered".into();
    trigger["event"]["data"]["id"] = "PINC001".into();
    trigger["event"]["data"]["service"]["id"] = "PIJ90N7".into();
    trigger["event"]["data"]["created_at"] = text(t0 - Duration::days(6) + Duration::hours(12)).into();
    trigger["event"]["occurred_at"] = trigger["event"]["data"]["created_at"].clone();
    let bearer = vec![("authorization", format!("Bearer {}", app.admin_token))];
    let delivered = app.post_with_headers("/v1/webhooks/pagerduty", trigger.to_string().as_bytes(), &bearer).await;
    assert_eq!(delivered.status, 202, "{:?}", delivered.body);

    let fake = FakePagerDuty::start(fake_data(t0));
    let mut first = options(&fake);
    first.since = Some(t0 - Duration::days(10));
    let started = std::time::Instant::now();
    let report = sync(&app, &first, t0);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "the 429's Retry-After: 1 was honoured");
    assert_eq!((report.retries, report.rate_limited), (2, 1), "one 429 and one 500, each retried once");
    assert_eq!(report.fetched_of("users"), 2);
    assert_eq!(report.fetched_of("incidents"), 8, "7 listed over 3 pages, 1 read by id");
    assert_eq!(report.fetched_of("log entries"), 21);
    assert_eq!((report.pages.created, report.pages.updated, report.pages.unchanged), (6, 1, 0), "{report:?}");
    assert_eq!((report.shifts.created, report.shifts.updated), (3, 0));
    assert_eq!(report.people_matched, 1);
    assert_eq!(report.unmatched_users, vec!["PAM4FGS <126_dvm_kyler_kuhn@beahan.name>".to_owned()]);
    assert_eq!(report.escalations, 1);
    let skipped: Vec<&str> = report.skipped.iter().map(|skipped| skipped.record.as_str()).collect();
    assert_eq!(skipped.len(), 2, "{:?}", report.skipped);
    assert!(skipped[0].contains("rendered_schedule_entries[2]"), "{skipped:?}");
    assert_eq!(skipped[1], "incidents[3] (PINC003)");
    assert!(report.skipped[1].reason.contains("incidents[3].created_at"), "{:?}", report.skipped[1]);
    {
        let state = fake.state.lock().unwrap();
        let pages: Vec<&str> = state.hits_of("/incidents").iter().map(|query| query["offset"].as_str()).collect();
        assert_eq!(pages, ["0", "0", "3", "6"], "a 500, then three pages of three");
        assert_eq!(state.hits_of("/incidents/POLD001").len(), 1);
    }

    // The webhook's page and the synced incident are one page, acknowledged by the person.
    let folded = page(&app, "PINC001").await;
    assert_eq!(folded["delivery_count"], 2, "{folded}");
    assert_eq!(folded["status"], "resolved");
    assert_eq!(folded["acknowledged_by"], "earline");
    assert_eq!(folded["title"], "Incident 1");
    assert_eq!(page(&app, "POLD001").await["status"], "resolved");
    assert_eq!(page(&app, "PINC005").await["acknowledged_by"], "pagerduty:PAM4FGS");
    let unmatched = app.get("/v1/unmatched").await;
    let people: Vec<&str> =
        unmatched.body["people"].as_array().unwrap().iter().map(|person| person["name"].as_str().unwrap()).collect();
    assert_eq!(people, ["pagerduty:PAM4FGS"], "{:?}", unmatched.body);
    let shifts = app.get("/v1/shifts?person=earline&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z").await;
    assert_eq!(shifts.body.as_array().unwrap().len(), 3, "{:?}", shifts.body);

    // A second run an hour later reads only what changed since the first: nothing.
    let second = sync(&app, &options(&fake), t0 + Duration::hours(1));
    assert_eq!(
        second.fetched_of("incidents") + second.fetched_of("log entries") + second.fetched_of("shift entries"),
        0
    );
    assert_eq!((second.pages.created, second.pages.updated), (0, 0));
    assert_eq!((second.shifts.created, second.shifts.updated), (0, 0));
    {
        let state = fake.state.lock().unwrap();
        let log_queries = state.hits_of("/log_entries");
        assert_eq!(log_queries.last().unwrap()["since"], text(t0), "from where the first run got to");
        assert_eq!(state.hits_of("/incidents").len(), 4, "no incident list on an incremental run");
    }

    // PINC000 is reopened and resolved again later: the next run reads that and updates its page.
    {
        let mut state = fake.state.lock().unwrap();
        let resolved_again = t0 + Duration::hours(2);
        state.incidents[0]["resolved_at"] = text(resolved_again).into();
        let entry = log_entry("LR0b", "resolve_log_entry", "PINC000", resolved_again, user_ref("PXPGF42"));
        state.log_entries.push(entry);
    }
    let third = sync(&app, &options(&fake), t0 + Duration::hours(3));
    assert_eq!((third.fetched_of("log entries"), third.fetched_of("incidents")), (1, 1));
    assert_eq!((third.pages.created, third.pages.updated), (0, 1));
    assert_eq!(page(&app, "PINC000").await["resolved_at"], text(t0 + Duration::hours(2)));

    // Backfilling the same window again changes nothing.
    let again = sync(&app, &first, t0 + Duration::hours(3));
    // (PINC000's delivery now carries both its acknowledgement and its second resolve.)
    assert_eq!((again.pages.created, again.pages.updated, again.pages.unchanged), (0, 1, 6), "{again:?}");
    assert_eq!((again.shifts.created, again.shifts.updated, again.shifts.unchanged), (0, 0, 3));
    assert_eq!(page(&app, "PINC001").await["delivery_count"], 2);

    // An override shortens Earline's entry of four days before: the old shift goes, the new one comes.
    {
        let mut state = fake.state.lock().unwrap();
        let entries = state.entries.values_mut().next().unwrap();
        entries[1]["end"] = text(t0 - Duration::days(4) + Duration::hours(6)).into();
    }
    let overridden = sync(&app, &first, t0 + Duration::hours(3));
    assert_eq!(
        (overridden.shifts.created, overridden.shifts.unchanged, overridden.shifts.removed),
        (1, 2, 1),
        "{overridden:?}"
    );
    let shifts = app.get("/v1/shifts?person=earline&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z").await;
    let ends: Vec<&str> = shifts.body.as_array().unwrap().iter().map(|shift| shift["end"].as_str().unwrap()).collect();
    assert_eq!(ends, ["2026-11-26T00:00:00Z", "2026-11-26T18:00:00Z", "2026-11-29T00:00:00Z"], "{:?}", shifts.body);
}

async fn the_cli_says_what_it_fetched(backend: Backend) {
    let app = TestApp::new(backend);
    let now = Utc::now();
    let mut data = fake_data(now);
    data.faults.clear();
    let fake = FakePagerDuty::start(data);
    let run = |key: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
            .args(["sync", "pagerduty", "--api-url", &fake.url, "--database-url", &app.database_url()])
            .env("PAYDOWN_PAGERDUTY_TOKEN", key)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    };
    let (code, output) = run("wrong-key");
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("HTTP 401") && output.contains("Invalid Token"), "{output}");
    assert!(!output.contains("wrong-key"), "the key is never printed: {output}");
    let (code, output) = run(KEY);
    assert_eq!(code, 3, "skipped records give exit status 3: {output}");
    assert!(output.contains("fetched from "), "{output}");
    assert!(output.contains("2 users, 1 schedules, 4 shift entries, 8 incidents, 21 log entries"), "{output}");
    assert!(output.contains("pages: 7 created, 0 updated, 0 unchanged"), "{output}");
    assert!(output.contains("unmatched user PXPGF42"), "no person yet: {output}");
    assert!(output.contains("skipped incidents[3] (PINC003): incidents[3].created_at"), "{output}");
    let (_, output) = run(KEY);
    assert!(output.contains("pages: 0 created, 0 updated, 0 unchanged"), "{output}");

    // The key and the host may come from the ingest configuration instead.
    let config = std::env::temp_dir().join(format!("paydown-sync-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&config, format!("[sync.pagerduty]\ntoken = \"{KEY}\"\napi_url = \"{}\"\n", fake.url)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(["sync", "pagerduty", "--database-url", &app.database_url()])
        .arg("--ingest-config")
        .arg(&config)
        .env_remove("PAYDOWN_PAGERDUTY_TOKEN")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("pages: 0 created, 0 updated, 0 unchanged"), "{text}");
    let _ = std::fs::remove_file(&config);
    let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(["sync", "pagerduty", "--database-url", &app.database_url()])
        .env_remove("PAYDOWN_PAGERDUTY_TOKEN")
        .env_remove("PAYDOWN_INGEST_CONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("REST API key is needed"), "{output:?}");
}

on_both_backends!(incidentio_webhooks_are_verified_by_their_standard_webhooks_signature);

/// incident.io's webhook: the published Standard Webhooks vector (a test message) verifies
/// through the real endpoint, a signed incident lands as a page, a forged one is refused.
async fn incidentio_webhooks_are_verified_by_their_standard_webhooks_signature(backend: Backend) {
    use base64::Engine;
    use hmac::{Hmac, KeyInit, Mac};
    let vector = |name: &str| {
        std::fs::read(format!(
            "{}/tests/samples/incidentio/standard_webhooks_signature_vector/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let secret = String::from_utf8(vector("secret.txt")).unwrap().trim().to_owned();
    let headers_text = String::from_utf8(vector("headers.txt")).unwrap();
    let headers: Vec<(&str, String)> = headers_text
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name, value.trim().to_owned()))
        .collect();
    let signed_at: i64 = headers.iter().find(|(name, _)| *name == "webhook-timestamp").unwrap().1.parse().unwrap();
    // The vector was signed in 2021: a window reaching back to it lets its real signature through.
    let window = Utc::now().timestamp() - signed_at + 3_600;
    let mut app = TestApp::new(backend);
    app.ingest = paydown::ingest::config::IngestConfig::parse(&format!(
        "replay_window_seconds = {window}\n[sources.incidentio]\nhmac_secrets = [\"{secret}\"]\n"
    ))
    .unwrap();
    let test_message = vector("body.json");
    let accepted = app.post_with_headers("/v1/webhooks/incidentio", &test_message, &headers).await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    assert!(accepted.body["ignored"].as_str().is_some(), "a test message is no incident: {:?}", accepted.body);
    let mut forged = headers.clone();
    forged[2].1 = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".replace('g', "h");
    assert_eq!(app.post_with_headers("/v1/webhooks/incidentio", &test_message, &forged).await.status, 401);
    let unsigned = app.post_with_headers("/v1/webhooks/incidentio", &test_message, &[]).await;
    assert_eq!(unsigned.status, 401);

    // A signed incident, with Svix's own header names.
    let event = "public_incident.incident_status_updated_v2";
    let body = serde_json::to_vec(&json!({"event_type": event, event: {"incident": {
        "id": "01FDAG4SAP5TYPT98WGR2N7W91", "name": "Our database is sad",
        "created_at": "2026-11-21T02:10:00Z", "updated_at": "2026-11-21T03:40:00Z",
        "incident_status": {"name": "Closed", "category": "closed"}, "severity": {"name": "Critical"}}}}))
    .unwrap();
    let now = Utc::now().timestamp();
    let key = base64::engine::general_purpose::STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("msg_2.{now}.").as_bytes());
    mac.update(&body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let svix = vec![
        ("svix-id", "msg_2".to_owned()),
        ("svix-timestamp", now.to_string()),
        ("svix-signature", format!("v1,{signature}")),
    ];
    let delivered = app.post_with_headers("/v1/webhooks/incidentio", &body, &svix).await;
    assert_eq!(delivered.status, 202, "{:?}", delivered.body);
    let pages = app.get("/v1/pages?source=incidentio").await;
    let page = &pages.body[0];
    assert_eq!(page["external_id"], "01FDAG4SAP5TYPT98WGR2N7W91");
    assert_eq!((page["status"].as_str(), page["lane"].as_str()), (Some("resolved"), Some("wake")));
    assert_eq!(page["service"], "incidentio");
    let malformed =
        br#"{"event_type": "public_incident.incident_created_v2", "public_incident.incident_created_v2": {"id": "x"}}"#;
    let bearer = vec![("authorization", format!("Bearer {}", app.admin_token))];
    let refused = app.post_with_headers("/v1/webhooks/incidentio", malformed, &bearer).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_field(), Some("public_incident.incident_created_v2.created_at"));
}

on_both_backends!(a_status_page_timeline_imports_through_its_column_mapping);

/// The issue's finding: `incident_stages.csv` was refused (`missing required column(s)`);
/// with the shipped mapping it imports, and a second import changes nothing.
async fn a_status_page_timeline_imports_through_its_column_mapping(backend: Backend) {
    let app = TestApp::new(backend);
    let root = env!("CARGO_MANIFEST_DIR");
    let file = format!("{root}/tests/samples/datasets/llm_service_incidents_icpe25/incident_stages.csv");
    let mapping = format!("{root}/examples/mappings/incident_stages.toml");
    let import = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
            .args(["import", "pages", &file, "--database-url", &app.database_url()])
            .args(extra)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    };
    let (code, output) = import(&[]);
    assert_ne!(code, 0, "{output}");
    assert!(output.contains("missing required column"), "without a mapping: {output}");
    let (code, output) = import(&["--mapping", &mapping]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("542 rows") && output.contains("542 created") && output.contains("0 rejected"), "{output}");
    let (code, output) = import(&["--mapping", &mapping]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("0 created") && output.contains("542 unchanged"), "{output}");
    let page = app.get("/v1/pages?source=anthropic&external_id=qv89mzdjvtrs").await;
    assert_eq!(page.body[0]["triggered_at"], "2024-02-26T17:09:00Z", "{:?}", page.body);
    assert_eq!(page.body[0]["resolved_at"], "2024-02-26T18:21:00Z");
    assert_eq!(page.body[0]["title"], "Elevated Errors");
}
