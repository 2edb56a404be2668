//! `paydown sync opsgenie` and `paydown sync grafana-oncall` against local fakes of their
//! APIs (actix-web on a free loopback port), answering in the shapes of the published
//! descriptions: Opsgenie's OpenAPI document (`opsgenie/opsgenie-oas`: `data` lists with
//! `paging.next` links, `finalTimeline.rotations[].periods[]`, `X-RateLimit-*` headers) and
//! Grafana OnCall's HTTP API reference (`grafana/oncall` docs: `results` with a `next` URL,
//! alert groups newest first, `final_shifts`). Each with pagination, a 429, a 500 then
//! success, a malformed record among good ones, a second incremental run that fetches
//! nothing new, and a webhook delivery folding with the synced record into one page; then
//! the CLI, and the scheduled sync inside `paydown serve`.

use std::collections::{BTreeMap, VecDeque};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use paydown::sync::client::RetryPolicy;
use paydown::sync::{RunSpec, SyncReport, Tool};

on_both_backends!(
    opsgenie_backfill_then_incremental_runs,
    grafana_oncall_backfill_then_incremental_runs,
    the_cli_syncs_both_tools,
    the_scheduled_sync_runs_inside_serve,
);

const KEY: &str = "fake-read-only-key";

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn t0() -> DateTime<Utc> {
    instant("2026-11-30T12:00:00Z")
}

#[derive(Clone, Copy)]
enum Fault {
    /// 429: `Retry-After: 1` (Grafana OnCall, as Django REST framework throttles), or
    /// Opsgenie's `X-RateLimit-State: THROTTLED` with `X-RateLimit-Period-In-Sec: 1`.
    RateLimited,
    /// 500.
    Broken,
}

/// The fakes' data and what they were asked.
#[derive(Default)]
struct FakeState {
    /// Opsgenie.
    users: Vec<Value>,
    schedules: Vec<Value>,
    /// Schedule id → final timeline periods (Opsgenie) or final shifts (OnCall).
    periods: BTreeMap<String, Vec<Value>>,
    alerts: Vec<Value>,
    /// Alert id → its log.
    logs: BTreeMap<String, Vec<Value>>,
    /// Grafana OnCall.
    integrations: Vec<Value>,
    /// Newest first, as OnCall lists them.
    alert_groups: Vec<Value>,
    /// Path → faults answered, in order, before the real answer.
    faults: BTreeMap<String, VecDeque<Fault>>,
    hits: Vec<(String, BTreeMap<String, String>)>,
}

impl FakeState {
    fn hits_of(&self, path: &str) -> Vec<&BTreeMap<String, String>> {
        self.hits.iter().filter(|(hit, _)| hit == path).map(|(_, query)| query).collect()
    }
}

type Shared = Arc<Mutex<FakeState>>;

fn query_of(request: &HttpRequest) -> BTreeMap<String, String> {
    web::Query::<BTreeMap<String, String>>::from_query(request.query_string()).map(|q| q.into_inner()).unwrap()
}

fn link(request: &HttpRequest, path: &str, query: &[(&str, String)]) -> String {
    let host = request.connection_info().host().to_owned();
    let encoded: Vec<String> = query.iter().map(|(key, value)| format!("{key}={}", urlencoding_lite(value))).collect();
    format!("http://{host}{path}?{}", encoded.join("&"))
}

/// Percent-encodes what a query value may hold here (spaces, `>=`, `<`, `:`, `+`).
fn urlencoding_lite(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// One page of an Opsgenie list (`offset`/`limit`, `paging.next` while more).
fn opsgenie_page(request: &HttpRequest, items: Vec<Value>, query: &BTreeMap<String, String>) -> Value {
    let limit: usize = query.get("limit").and_then(|limit| limit.parse().ok()).unwrap_or(20);
    let offset: usize = query.get("offset").and_then(|offset| offset.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(offset).take(limit).cloned().collect();
    let kept: Vec<(&str, String)> = query
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "offset" | "limit"))
        .map(|(key, value)| (key.as_str(), value.clone()))
        .collect();
    let at = |offset: usize| {
        let mut query = kept.clone();
        query.push(("offset", offset.to_string()));
        query.push(("limit", limit.to_string()));
        link(request, request.path(), &query)
    };
    let mut paging = json!({"first": at(0), "last": at(items.len().saturating_sub(1) / limit.max(1) * limit)});
    if offset + limit < items.len() {
        paging["next"] = at(offset + limit).into();
    }
    json!({"data": page, "paging": paging, "took": 0.012, "requestId": "9ae63dd7-ed00-4c81-86f0-c4ffd33142c9"})
}

/// One page of a Grafana OnCall list (`page`, two items a page, `next` while more).
fn oncall_page(request: &HttpRequest, items: Vec<Value>, query: &BTreeMap<String, String>) -> Value {
    const PAGE_SIZE: usize = 2;
    let number: usize = query.get("page").and_then(|page| page.parse().ok()).unwrap_or(1).max(1);
    let page: Vec<Value> = items.iter().skip((number - 1) * PAGE_SIZE).take(PAGE_SIZE).cloned().collect();
    let kept: Vec<(&str, String)> = query
        .iter()
        .filter(|(key, _)| key.as_str() != "page")
        .map(|(key, value)| (key.as_str(), value.clone()))
        .collect();
    let at = |number: usize| {
        let mut query = kept.clone();
        query.push(("page", number.to_string()));
        link(request, request.path(), &query)
    };
    let next = (number * PAGE_SIZE < items.len()).then(|| at(number + 1));
    let previous = (number > 1).then(|| at(number - 1));
    json!({"count": items.len(), "next": next, "previous": previous, "results": page,
        "current_page_number": number, "page_size": PAGE_SIZE, "total_pages": items.len().div_ceil(PAGE_SIZE)})
}

/// `createdAt >= <ms> AND createdAt < <ms>`: Opsgenie's search query as the sync writes it.
fn alert_matches(alert: &Value, query: &str) -> bool {
    // The malformed record (a number where the API writes a date) is still in its window.
    let millis =
        |field: &str| alert[field].as_str().map(|text| instant(text).timestamp_millis()).or(alert[field].as_i64());
    query.split(" AND ").all(|term| {
        let (field, op, bound) = if let Some((field, bound)) = term.split_once(">=") {
            (field, ">=", bound)
        } else if let Some((field, bound)) = term.split_once('<') {
            (field, "<", bound)
        } else {
            panic!("unexpected query term {term}")
        };
        let bound: i64 = bound.trim().parse().unwrap();
        let Some(value) = millis(field.trim()) else { return true };
        if op == ">=" { value >= bound } else { value < bound }
    })
}

fn overlapping(items: &[Value], start: &str, end: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
    items
        .iter()
        .filter(|item| instant(item[start].as_str().unwrap()) < to && instant(item[end].as_str().unwrap()) > from)
        .cloned()
        .collect()
}

async fn answer(request: HttpRequest, state: web::Data<Shared>) -> HttpResponse {
    let path = request.path().to_owned();
    let query = query_of(&request);
    let mut state = state.lock().unwrap();
    state.hits.push((path.clone(), query.clone()));
    let opsgenie = path.starts_with("/v2/");
    let expected = if opsgenie { format!("GenieKey {KEY}") } else { KEY.to_owned() };
    let authorization = request.headers().get("authorization").and_then(|value| value.to_str().ok());
    if authorization != Some(expected.as_str()) {
        return if opsgenie {
            HttpResponse::Unauthorized()
                .json(json!({"message": "Could not authenticate", "took": 0.0, "requestId": "r"}))
        } else {
            HttpResponse::Unauthorized().json(json!({"detail": "Invalid token."}))
        };
    }
    if let Some(fault) = state.faults.get_mut(&path).and_then(VecDeque::pop_front) {
        return match (fault, opsgenie) {
            (Fault::RateLimited, true) => HttpResponse::TooManyRequests()
                .insert_header(("X-RateLimit-State", "THROTTLED"))
                .insert_header(("X-RateLimit-Reason", "INTEGRATION"))
                .insert_header(("X-RateLimit-Period-In-Sec", "1"))
                .json(json!({"message": "You are making too many requests!", "took": 0.0, "requestId": "r"})),
            (Fault::RateLimited, false) => HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", "1"))
                .json(json!({"detail": "Request was throttled. Expected available in 1 second."})),
            (Fault::Broken, _) => HttpResponse::InternalServerError().body("upstream failure"),
        };
    }
    let not_found = || HttpResponse::NotFound().json(json!({"message": "Not Found", "detail": "Not found."}));
    let body = match path.as_str() {
        "/v2/users" => opsgenie_page(&request, state.users.clone(), &query),
        "/v2/schedules" => json!({"data": state.schedules, "expandable": ["rotation"], "took": 0.01, "requestId": "r"}),
        "/v2/alerts" => {
            let search = query.get("query").cloned().unwrap_or_default();
            let mut found: Vec<Value> =
                state.alerts.iter().filter(|alert| alert_matches(alert, &search)).cloned().collect();
            let created = |alert: &Value| {
                alert["createdAt"].as_str().map(|text| instant(text).timestamp_millis()).or(alert["createdAt"].as_i64())
            };
            found.sort_by_key(created);
            opsgenie_page(&request, found, &query)
        }
        "/api/v1/users/" => oncall_page(&request, state.users.clone(), &query),
        "/api/v1/integrations/" => oncall_page(&request, state.integrations.clone(), &query),
        "/api/v1/schedules/" => oncall_page(&request, state.schedules.clone(), &query),
        "/api/v1/alert_groups/" => oncall_page(&request, state.alert_groups.clone(), &query),
        other => {
            if let Some(rest) = other.strip_prefix("/v2/alerts/") {
                let Some(id) = rest.strip_suffix("/logs") else {
                    return match state.alerts.iter().find(|alert| alert["id"] == rest) {
                        Some(alert) => HttpResponse::Ok().json(json!({"data": alert, "took": 0.003, "requestId": "r"})),
                        None => not_found(),
                    };
                };
                let Some(log) = state.logs.get(id).cloned() else { return not_found() };
                opsgenie_page(&request, log, &query)
            } else if let Some(rest) = other.strip_prefix("/v2/schedules/") {
                let Some(id) = rest.strip_suffix("/timeline") else { return not_found() };
                let Some(schedule) = state.schedules.iter().find(|schedule| schedule["id"] == id).cloned() else {
                    return not_found();
                };
                assert_eq!(query["intervalUnit"], "days");
                let from = instant(&query["date"]);
                let to = from + Duration::days(query["interval"].parse().unwrap());
                let periods = overlapping(&state.periods[id], "startDate", "endDate", from, to);
                let rotation = json!({"id": "rot-1", "name": "Rota", "order": 1.0, "periods": periods});
                json!({"data": {"_parent": {"id": id, "name": schedule["name"], "enabled": true},
                    "startDate": text(from), "endDate": text(to),
                    "finalTimeline": {"rotations": [rotation]},
                    "baseTimeline": {"rotations": []}, "overrideTimeline": {"rotations": []}},
                    "expandable": ["base", "forwarding", "override"], "took": 0.02, "requestId": "r"})
            } else if let Some(rest) = other.strip_prefix("/api/v1/schedules/") {
                let Some(id) = rest.strip_suffix("/final_shifts") else { return not_found() };
                let Some(shifts) = state.periods.get(id).cloned() else { return not_found() };
                let from = instant(&format!("{}T00:00:00Z", query["start_date"]));
                let to = instant(&format!("{}T00:00:00Z", query["end_date"])) + Duration::days(1);
                assert!(to - from <= Duration::days(366), "OnCall refuses more than 365 days");
                let found = overlapping(&shifts, "shift_start", "shift_end", from, to);
                oncall_page(&request, found, &query)
            } else if let Some(id) = other.strip_prefix("/api/v1/alert_groups/") {
                match state.alert_groups.iter().find(|group| group["id"] == id.trim_end_matches('/')) {
                    Some(group) => group.clone(),
                    None => return not_found(),
                }
            } else {
                return not_found();
            }
        }
    };
    HttpResponse::Ok().json(body)
}

/// A fake API on a free loopback port, stopped when dropped.
struct FakeApi {
    url: String,
    state: Shared,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeApi {
    fn start(state: FakeState) -> FakeApi {
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
        FakeApi { url, state, handle, thread: Some(thread) }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ = std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false))).join();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Opsgenie

const FILI: &str = "b3578948-55b3-4acc-9bf1-2ce2db3a1e9e";
const KYLER: &str = "4f2a66d1-8c3e-4b8d-9a0e-7b1f0c2d3e4f";

fn opsgenie_user(id: &str, username: &str, name: &str) -> Value {
    json!({"id": id, "username": username, "fullName": name, "role": {"id": "User", "name": "User"},
        "skypeUsername": "", "timeZone": "Europe/Istanbul", "locale": "en_US", "tags": [],
        "blocked": false, "verified": true, "createdAt": "2017-05-12T08:34:24.000Z"})
}

fn opsgenie_alert(id: &str, created: DateTime<Utc>, closed: Option<DateTime<Utc>>) -> Value {
    json!({"id": id, "tinyId": "1791", "alias": format!("alias-{id}"), "message": format!("Alert {id}"),
        "status": if closed.is_some() { "closed" } else { "open" }, "acknowledged": true, "isSeen": true,
        "tags": [], "snoozed": false, "count": 1, "lastOccurredAt": text(created), "createdAt": text(created),
        "updatedAt": text(closed.unwrap_or(created + Duration::minutes(5))), "source": "Isengard",
        "owner": "", "priority": "P1", "responders": [],
        "integration": {"id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c", "name": "Webhook", "type": "Webhook"},
        "report": {}})
}

fn opsgenie_log(text_: &str, owner: &str, at: DateTime<Utc>) -> Value {
    json!({"log": text_, "type": "alertAction", "owner": owner, "createdAt": text(at),
        "offset": format!("{}_{}", at.timestamp_millis(), at.timestamp_nanos_opt().unwrap())})
}

fn period(user: (&str, &str), start: DateTime<Utc>, hours: i64, kind: &str) -> Value {
    json!({"startDate": text(start), "endDate": text(start + Duration::hours(hours)), "type": kind,
        "recipient": {"id": user.0, "name": user.1, "type": "user"}})
}

/// Five alerts created in the days before `t0` (alert-2 malformed, alert-3 still open), one
/// created long before and closed in the window (found only when paydown holds it open),
/// three users, a schedule.
fn opsgenie_data(t0: DateTime<Utc>) -> FakeState {
    let mut state = FakeState {
        users: vec![
            opsgenie_user(FILI, "Fili@ifountain.com", "Fili"),
            opsgenie_user(KYLER, "kyler@example.com", "Kyler"),
            opsgenie_user("1c1f2b3a-0000-4000-8000-000000000003", "ada@example.com", "Ada"),
        ],
        ..Default::default()
    };
    for n in 0..5 {
        let id = format!("alert-{n}");
        let created = t0 - Duration::days(6) + Duration::hours(n * 12);
        let closed = (n != 3).then(|| created + Duration::minutes(40));
        let mut alert = opsgenie_alert(&id, created, closed);
        if n == 2 {
            alert["createdAt"] = created.timestamp_millis().into();
        }
        let who = if n == 4 { "kyler@example.com" } else { "fili@ifountain.com" };
        let mut log = vec![
            opsgenie_log("Alert created via Webhook", "System", created),
            opsgenie_log(&format!("Sent [email] notification to {who}"), "System", created + Duration::seconds(5)),
            opsgenie_log("Alert acknowledged via Web", who, created + Duration::minutes(4)),
        ];
        if n == 1 {
            log.push(opsgenie_log("Alert is escalated to [ops_escalation]", "System", created + Duration::minutes(2)));
        }
        if let Some(closed) = closed {
            log.push(opsgenie_log("Alert closed via Web", who, closed));
        }
        state.logs.insert(id, log);
        state.alerts.push(alert);
    }
    let old_created = t0 - Duration::days(40);
    state.alerts.push(opsgenie_alert("alert-old", old_created, Some(t0 - Duration::days(2))));
    state.logs.insert(
        "alert-old".into(),
        vec![
            opsgenie_log("Alert created via API", "System", old_created),
            opsgenie_log("Alert closed via API", "fili@ifountain.com", t0 - Duration::days(2)),
        ],
    );
    state.schedules = vec![json!({"id": "d875alp4-9b4e-4219-a803-0c26936d18de", "name": "ops_team_schedule",
        "description": "", "timezone": "Europe/Kirov", "enabled": true,
        "ownerTeam": {"id": "90098alp9-f0e3-41d3-a060-0ea895ace1", "name": "ops_team"}, "rotations": []})];
    let fili = (FILI, "fili@ifountain.com");
    state.periods.insert(
        "d875alp4-9b4e-4219-a803-0c26936d18de".into(),
        vec![
            period(fili, t0 - Duration::days(5), 12, "default"),
            period(fili, t0 - Duration::days(4), 12, "override"),
            period((KYLER, "kyler@example.com"), t0 - Duration::days(3), 12, "default"),
            json!({"startDate": text(t0 - Duration::days(2)), "endDate": text(t0 - Duration::days(2) + Duration::hours(12)),
                "type": "default", "recipient": {"id": "team-1", "name": "ops_team", "type": "team"}}),
        ],
    );
    state.faults.insert("/v2/users".into(), VecDeque::from([Fault::RateLimited]));
    state.faults.insert("/v2/alerts".into(), VecDeque::from([Fault::Broken]));
    state
}

fn spec(tool: Tool, fake: &FakeApi, since: Option<DateTime<Utc>>) -> RunSpec {
    RunSpec {
        tool,
        token: KEY.to_owned(),
        api_url: fake.url.clone(),
        since,
        until: None,
        retry: RetryPolicy { backoff_base: StdDuration::from_millis(10), ..RetryPolicy::default() },
    }
}

fn sync(app: &TestApp, spec: &RunSpec, now: DateTime<Utc>) -> SyncReport {
    let mapping = paydown::ingest::SourceMapping::default();
    if spec.tool == Tool::Opsgenie {
        // Two records a page, to page through users and alerts.
        let mut options = paydown::sync::opsgenie::Options::new(spec.token.clone());
        options.api_url = spec.api_url.clone();
        options.since = spec.since;
        options.retry = spec.retry;
        options.page_limit = 2;
        return paydown::sync::opsgenie::run(&app.store, &mapping, &options, now, &mut |_| {}).expect("sync runs");
    }
    paydown::sync::run(&app.store, &mapping, spec, now, &mut |_| {}).expect("sync runs")
}

async fn page(app: &TestApp, source: &str, external_id: &str) -> Value {
    let found = app.get(&format!("/v1/pages?source={source}&external_id={external_id}")).await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    let pages = found.body.as_array().unwrap();
    assert_eq!(pages.len(), 1, "one page for {external_id}: {pages:?}");
    pages[0].clone()
}

async fn add_person(app: &TestApp, id: &str, email: &str) {
    let person = json!({"id": id, "name": id, "email": email, "payroll_id": format!("E-{id}"),
        "team": "payments", "timezone": "Europe/London", "currency": "GBP"});
    assert_eq!(app.post("/v1/people", person).await.status, 201);
}

async fn opsgenie_backfill_then_incremental_runs(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    add_person(&app, "fili", "fili@ifountain.com").await;
    let t0 = t0();

    // A webhook delivered alert-1's creation before the sync ran.
    let mut create: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/tests/samples/opsgenie/zulip/create.json", env!("CARGO_MANIFEST_DIR")))
            .unwrap(),
    )
    .unwrap();
    let created = t0 - Duration::days(6) + Duration::hours(12);
    create["alert"]["alertId"] = "alert-1".into();
    create["alert"]["createdAt"] = created.timestamp_millis().into();
    create["alert"]["updatedAt"] = created.timestamp_nanos_opt().unwrap().into();
    let bearer = vec![("authorization", format!("Bearer {}", app.admin_token))];
    let delivered = app.post_with_headers("/v1/webhooks/opsgenie", create.to_string().as_bytes(), &bearer).await;
    assert_eq!(delivered.status, 202, "{:?}", delivered.body);

    // And alert-old's, forty days ago; the webhook of its close, two days ago, was missed.
    let old_created = t0 - Duration::days(40);
    create["alert"]["alertId"] = "alert-old".into();
    create["alert"]["createdAt"] = old_created.timestamp_millis().into();
    create["alert"]["updatedAt"] = old_created.timestamp_nanos_opt().unwrap().into();
    let delivered = app.post_with_headers("/v1/webhooks/opsgenie", create.to_string().as_bytes(), &bearer).await;
    assert_eq!(delivered.status, 202, "{:?}", delivered.body);
    assert_eq!(page(&app, "opsgenie", "alert-old").await["status"], "triggered");

    let fake = FakeApi::start(opsgenie_data(t0));
    let first = spec(Tool::Opsgenie, &fake, Some(t0 - Duration::days(10)));
    let started = Instant::now();
    let report = sync(&app, &first, t0);
    assert!(started.elapsed() >= StdDuration::from_secs(1), "X-RateLimit-Period-In-Sec: 1 was honoured");
    assert_eq!((report.retries, report.rate_limited), (2, 1), "one 429 and one 500, each retried once");
    assert_eq!(report.fetched_of("users"), 3);
    assert_eq!(
        report.fetched_of("alerts"),
        6,
        "five created in the window, one older held open, read by id: {report:?}"
    );
    assert_eq!(report.fetched_of("alert logs"), 18, "the malformed alert's log is not read");
    assert_eq!(report.fetched_of("timeline periods"), 3, "user periods only");
    assert_eq!((report.pages.created, report.pages.updated, report.pages.unchanged), (3, 2, 0), "{report:?}");
    assert_eq!((report.shifts.created, report.shifts.updated), (2, 0));
    assert_eq!(report.people_matched, 1);
    assert_eq!(report.unmatched_users.len(), 2, "{:?}", report.unmatched_users);
    assert_eq!(report.escalations, 1);
    let skipped: Vec<&str> = report.skipped.iter().map(|skipped| skipped.record.as_str()).collect();
    assert_eq!(skipped.len(), 2, "{:?}", report.skipped);
    assert!(skipped[0].contains("periods[2]"), "kyler is no person: {skipped:?}");
    assert_eq!(skipped[1], "alerts[2] (alert-2)");
    assert!(report.skipped[1].reason.contains("alerts[2].createdAt"), "{:?}", report.skipped[1]);
    {
        let state = fake.state.lock().unwrap();
        let offsets: Vec<&str> = state.hits_of("/v2/alerts").iter().map(|query| query["offset"].as_str()).collect();
        assert_eq!(offsets, ["0", "0", "2", "4"], "a 500, then three pages of two through paging.next");
        assert_eq!(state.hits_of("/v2/users").len(), 3, "a 429, then two pages");
        assert_eq!(state.hits_of("/v2/alerts/alert-old").len(), 1);
    }

    // The webhook's page and the synced alert are one page, acknowledged by the person.
    let folded = page(&app, "opsgenie", "alert-1").await;
    assert_eq!(folded["delivery_count"], 2, "{folded}");
    assert_eq!(folded["status"], "resolved");
    assert_eq!(folded["acknowledged_by"], "fili");
    assert_eq!(folded["acknowledged_at"], "2026-11-25T00:04:00Z");
    let old = page(&app, "opsgenie", "alert-old").await;
    assert_eq!((old["status"].as_str(), old["delivery_count"].as_i64()), (Some("resolved"), Some(2)), "{old}");
    assert_eq!(page(&app, "opsgenie", "alert-3").await["status"], "acknowledged");
    assert_eq!(page(&app, "opsgenie", "alert-4").await["acknowledged_by"], "kyler@example.com");
    let unmatched = app.get("/v1/unmatched").await;
    let people: Vec<&str> =
        unmatched.body["people"].as_array().unwrap().iter().map(|person| person["name"].as_str().unwrap()).collect();
    assert_eq!(people, ["kyler@example.com"], "{:?}", unmatched.body);
    let shifts = app.get("/v1/shifts?person=fili&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z").await;
    assert_eq!(shifts.body.as_array().unwrap().len(), 2, "{:?}", shifts.body);

    // A second run an hour later asks for what was created since the first (nothing) and
    // for the one alert paydown holds open: nothing new.
    let second = sync(&app, &spec(Tool::Opsgenie, &fake, None), t0 + Duration::hours(1));
    assert_eq!((second.fetched_of("alerts"), second.fetched_of("timeline periods")), (1, 0), "{second:?}");
    assert_eq!((second.pages.created, second.pages.updated, second.pages.unchanged), (0, 0, 1));
    assert_eq!((second.shifts.created, second.shifts.updated), (0, 0));
    {
        let state = fake.state.lock().unwrap();
        let search = &state.hits_of("/v2/alerts").last().unwrap()["query"];
        let window = format!(
            "createdAt >= {} AND createdAt < {}",
            t0.timestamp_millis(),
            (t0 + Duration::hours(1)).timestamp_millis()
        );
        assert_eq!(search, &window);
        assert_eq!(state.hits_of("/v2/alerts/alert-3").len(), 1);
    }

    // alert-3 is closed later: the next run reads it again and resolves its page.
    {
        let mut state = fake.state.lock().unwrap();
        let closed = t0 + Duration::hours(2);
        state.alerts[3]["status"] = "closed".into();
        state.alerts[3]["updatedAt"] = text(closed).into();
        state.logs.get_mut("alert-3").unwrap().push(opsgenie_log("Alert closed via API", "System", closed));
    }
    let third = sync(&app, &spec(Tool::Opsgenie, &fake, None), t0 + Duration::hours(3));
    assert_eq!(third.fetched_of("alerts"), 1);
    assert_eq!((third.pages.created, third.pages.updated), (0, 1));
    assert_eq!(page(&app, "opsgenie", "alert-3").await["resolved_at"], "2026-11-30T14:00:00Z");

    // The same backfill again changes nothing.
    let again = sync(&app, &first, t0 + Duration::hours(3));
    assert_eq!((again.pages.created, again.pages.updated, again.pages.unchanged), (0, 0, 4), "{again:?}");
    assert_eq!((again.shifts.created, again.shifts.unchanged, again.shifts.removed), (0, 2, 0));
}

// ---------------------------------------------------------------------------------------
// Grafana OnCall

fn oncall_group(id: &str, created: DateTime<Utc>, acknowledged: Option<(&str, i64)>, resolved: Option<i64>) -> Value {
    json!({"id": id, "integration_id": "CZ7URAT4V3QF2", "route_id": "RIYGUJXCPFHXY", "alerts_count": 1,
        "state": if resolved.is_some() { "resolved" } else if acknowledged.is_some() { "acknowledged" } else { "firing" },
        "created_at": text(created),
        "resolved_at": resolved.map(|minutes| text(created + Duration::minutes(minutes))),
        "acknowledged_at": acknowledged.map(|(_, minutes)| text(created + Duration::minutes(minutes))),
        "acknowledged_by": acknowledged.map(|(user, _)| user),
        "resolved_by": resolved.map(|_| "UVMX6YI9VY9PV"), "title": format!("Group {id}"),
        "permalinks": {"slack": null, "telegram": null}, "silenced_at": null})
}

fn oncall_shift(user: (&str, &str, &str), start: DateTime<Utc>, hours: i64) -> Value {
    json!({"user_pk": user.0, "user_email": user.1, "user_username": user.2,
        "shift_start": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "shift_end": (start + Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
}

/// Five alert groups created before `t0` (newest first; G2 malformed, G3 acknowledged and
/// still open), one from long before, three users, one integration, a schedule.
fn oncall_data(t0: DateTime<Utc>) -> FakeState {
    let admin = ("UVMX6YI9VY9PV", "admin@localhost", "admin");
    let bob = ("U7S8H84ARFTGN", "bob@example.com", "bob");
    let user = |(id, email, username): (&str, &str, &str)| {
        json!({"id": id, "email": email, "slack": [], "username": username, "role": "admin",
            "timezone": "UTC", "teams": [], "is_phone_number_verified": false})
    };
    let mut state = FakeState {
        users: vec![user(admin), user(bob), user(("U4DNY931HHJS5", "alex@example.com", "alex"))],
        integrations: vec![json!({"id": "CZ7URAT4V3QF2", "name": "Main Integration - Webhook", "team_id": null,
            "link": "https://oncall.example/integrations/v1/webhook/abc/", "type": "webhook",
            "default_route": {"id": "RIYGUJXCPFHXY"}, "templates": {}})],
        ..Default::default()
    };
    for n in (0..5).rev() {
        let id = format!("G{n}");
        let created = t0 - Duration::days(6) + Duration::hours(n * 12);
        let acknowledger = if n == 4 { "U7S8H84ARFTGN" } else { "UVMX6YI9VY9PV" };
        let resolved = (n != 3).then_some(40);
        let mut group = oncall_group(&id, created, Some((acknowledger, 4)), resolved);
        if n == 2 {
            group["created_at"] = "2026-11-25 12:00:00".into();
        }
        state.alert_groups.push(group);
    }
    state.alert_groups.push(oncall_group("GOLD", t0 - Duration::days(40), None, Some(60)));
    state.schedules = vec![json!({"id": "SBM7DV7BKFUYU", "name": "Primary", "type": "web", "team_id": null,
        "time_zone": "UTC", "on_call_now": [], "slack": null})];
    state.periods.insert(
        "SBM7DV7BKFUYU".into(),
        vec![
            oncall_shift(admin, t0 - Duration::days(5), 8),
            oncall_shift(admin, t0 - Duration::days(4), 8),
            oncall_shift(bob, t0 - Duration::days(3), 8),
        ],
    );
    state.faults.insert("/api/v1/alert_groups/".into(), VecDeque::from([Fault::RateLimited]));
    state.faults.insert("/api/v1/users/".into(), VecDeque::from([Fault::Broken]));
    state
}

async fn grafana_oncall_backfill_then_incremental_runs(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    add_person(&app, "ada", "Admin@localhost").await;
    let t0 = t0();

    // A webhook delivered G1's creation (OnCall's documented payload, another id) before the sync.
    let mut created: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/samples/grafana_oncall/docs/outgoing_webhook_resolve_example.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let g1_created = t0 - Duration::days(6) + Duration::hours(12);
    created["event"] = json!({"type": "alert group created", "time": text(g1_created)});
    created["alert_group"]["id"] = "G1".into();
    created["alert_group"]["created_at"] = text(g1_created).into();
    created["alert_group"]["acknowledged_at"] = Value::Null;
    created["alert_group"]["resolved_at"] = Value::Null;
    created.as_object_mut().unwrap().remove("alert_group_acknowledged_by");
    let bearer = vec![("authorization", format!("Bearer {}", app.admin_token))];
    let delivered = app.post_with_headers("/v1/webhooks/grafana_oncall", created.to_string().as_bytes(), &bearer).await;
    assert_eq!(delivered.status, 202, "{:?}", delivered.body);

    let fake = FakeApi::start(oncall_data(t0));
    let first = spec(Tool::GrafanaOncall, &fake, Some(t0 - Duration::days(10)));
    let started = Instant::now();
    let report = sync(&app, &first, t0);
    assert!(started.elapsed() >= StdDuration::from_secs(1), "Retry-After: 1 was honoured");
    assert_eq!((report.retries, report.rate_limited), (2, 1), "one 500 and one 429, each retried once");
    assert_eq!(report.fetched_of("users"), 3);
    assert_eq!(report.fetched_of("alert groups"), 5, "the five in the window; the list stops at the older one");
    assert_eq!(report.fetched_of("final shifts"), 3);
    assert_eq!((report.pages.created, report.pages.updated, report.pages.unchanged), (3, 1, 0), "{report:?}");
    assert_eq!((report.shifts.created, report.shifts.updated), (2, 0));
    assert_eq!(report.people_matched, 1);
    let skipped: Vec<&str> = report.skipped.iter().map(|skipped| skipped.record.as_str()).collect();
    assert_eq!(skipped.len(), 2, "{:?}", report.skipped);
    assert!(skipped[0].contains("final_shifts results[2]"), "bob is no person: {skipped:?}");
    assert_eq!(skipped[1], "alert_groups[2] (G2)");
    assert!(report.skipped[1].reason.contains("alert_groups[2].created_at"), "{:?}", report.skipped[1]);
    {
        let state = fake.state.lock().unwrap();
        let pages: Vec<Option<&str>> =
            state.hits_of("/api/v1/alert_groups/").iter().map(|query| query.get("page").map(String::as_str)).collect();
        assert_eq!(pages, [None, None, Some("2"), Some("3")], "a 429, then pages through `next` to GOLD");
        assert_eq!(state.hits_of("/api/v1/users/").len(), 3, "a 500, then two pages");
        let shifts = state.hits_of("/api/v1/schedules/SBM7DV7BKFUYU/final_shifts");
        assert_eq!((shifts[0]["start_date"].as_str(), shifts[0]["end_date"].as_str()), ("2026-11-20", "2026-11-30"));
    }

    let folded = page(&app, "grafana_oncall", "G1").await;
    assert_eq!(folded["delivery_count"], 2, "{folded}");
    assert_eq!(folded["status"], "resolved");
    assert_eq!(folded["acknowledged_by"], "ada");
    assert_eq!(folded["service"], "Main Integration - Webhook", "named as the webhook names it");
    assert_eq!(page(&app, "grafana_oncall", "G3").await["status"], "acknowledged");
    assert_eq!(page(&app, "grafana_oncall", "G4").await["acknowledged_by"], "bob@example.com");
    let shifts = app.get("/v1/shifts?person=ada&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z").await;
    assert_eq!(shifts.body.as_array().unwrap().len(), 2, "{:?}", shifts.body);

    // A second run: nothing new was created; the one group paydown holds open is asked about.
    let second = sync(&app, &spec(Tool::GrafanaOncall, &fake, None), t0 + Duration::hours(1));
    assert_eq!(second.fetched_of("alert groups"), 1, "G3, still open, read by id: {second:?}");
    assert_eq!((second.pages.created, second.pages.updated, second.pages.unchanged), (0, 0, 1));
    assert_eq!((second.shifts.created, second.shifts.updated, second.shifts.removed), (0, 0, 0));
    {
        let state = fake.state.lock().unwrap();
        assert_eq!(state.hits_of("/api/v1/alert_groups/").len(), 5, "one page: its first group is older");
        assert_eq!(state.hits_of("/api/v1/alert_groups/G3").len(), 1);
    }

    // G3 is resolved later: the next run reads it by id and resolves its page.
    {
        let mut state = fake.state.lock().unwrap();
        let g3 = state.alert_groups.iter_mut().find(|group| group["id"] == "G3").unwrap();
        g3["state"] = "resolved".into();
        g3["resolved_at"] = text(t0 + Duration::hours(2)).into();
    }
    let third = sync(&app, &spec(Tool::GrafanaOncall, &fake, None), t0 + Duration::hours(3));
    assert_eq!((third.pages.created, third.pages.updated), (0, 1), "{third:?}");
    assert_eq!(page(&app, "grafana_oncall", "G3").await["resolved_at"], "2026-11-30T14:00:00Z");
    let fourth = sync(&app, &spec(Tool::GrafanaOncall, &fake, None), t0 + Duration::hours(4));
    assert_eq!(fourth.fetched_of("alert groups"), 0, "nothing open, nothing new");

    // An override shortens Ada's shift of four days before: the old one goes, the new one comes.
    {
        let mut state = fake.state.lock().unwrap();
        let shifts = state.periods.get_mut("SBM7DV7BKFUYU").unwrap();
        shifts[1] = oncall_shift(("UVMX6YI9VY9PV", "admin@localhost", "admin"), t0 - Duration::days(4), 4);
    }
    let again = sync(&app, &first, t0 + Duration::hours(4));
    assert_eq!((again.shifts.created, again.shifts.unchanged, again.shifts.removed), (1, 1, 1), "{again:?}");
    assert_eq!((again.pages.created, again.pages.updated), (0, 0));
}

// ---------------------------------------------------------------------------------------
// The CLI and the scheduled job

fn paydown() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paydown"));
    command.env("RUST_LOG", "warn").env_remove("PAYDOWN_INGEST_CONFIG");
    command
}

async fn the_cli_syncs_both_tools(backend: Backend) {
    let app = TestApp::new(backend);
    let now = Utc::now();
    let mut data = opsgenie_data(now);
    data.faults.clear();
    let opsgenie = FakeApi::start(data);
    let mut data = oncall_data(now);
    data.faults.clear();
    let oncall = FakeApi::start(data);
    let run = |tool: &str, url: &str, env: (&str, &str)| {
        let output = paydown()
            .args(["sync", tool, "--api-url", url, "--database-url", &app.database_url()])
            .env(env.0, env.1)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    };
    let (code, output) = run("opsgenie", &opsgenie.url, ("PAYDOWN_OPSGENIE_TOKEN", "wrong-key"));
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("HTTP 401") && output.contains("Could not authenticate"), "{output}");
    assert!(!output.contains("wrong-key"), "the key is never printed: {output}");
    let (code, output) = run("opsgenie", &opsgenie.url, ("PAYDOWN_OPSGENIE_TOKEN", KEY));
    assert_eq!(code, 3, "skipped records give exit status 3: {output}");
    assert!(output.contains("3 users, 1 schedules, 3 timeline periods, 5 alerts, 16 alert logs"), "{output}");
    assert!(output.contains("pages: 4 created, 0 updated, 0 unchanged"), "{output}");
    assert!(output.contains("skipped alerts[2] (alert-2): alerts[2].createdAt"), "{output}");
    let (_, output) = run("opsgenie", &opsgenie.url, ("PAYDOWN_OPSGENIE_TOKEN", KEY));
    assert!(output.contains("pages: 0 created, 0 updated, 1 unchanged"), "only the open alert is read again: {output}");

    let (code, output) = run("grafana-oncall", &oncall.url, ("PAYDOWN_GRAFANA_ONCALL_TOKEN", KEY));
    assert_eq!(code, 3, "{output}");
    assert!(output.contains("3 users, 1 integrations, 1 schedules, 3 final shifts, 5 alert groups"), "{output}");
    assert!(output.contains("pages: 4 created, 0 updated, 0 unchanged"), "{output}");
    // OnCall has no public host: without --api-url the command says where to give one.
    let output = paydown()
        .args(["sync", "grafana-oncall", "--token", KEY, "--database-url", &app.database_url()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--api-url"), "{output:?}");
}

fn get_json(address: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.get(format!("http://{address}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn the_scheduled_sync_runs_inside_serve(backend: Backend) {
    let app = TestApp::new(backend);
    let now = Utc::now();
    let oncall = FakeApi::start(oncall_data(now));
    let config = std::env::temp_dir().join(format!("paydown-scheduled-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &config,
        format!(
            "[sync.grafana_oncall]\ntoken = \"{KEY}\"\napi_url = \"{}\"\ninterval_seconds = 60\n\
             [sync.opsgenie]\ntoken_env = \"PAYDOWN_TEST_KEY_NOBODY_SET\"\ninterval_seconds = 60\n",
            oncall.url
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    let mut child = paydown()
        .args(["serve", "--listen", &address, "--database-url", &app.database_url(), "--workers", "1"])
        .arg("--ingest-config")
        .arg(&config)
        .env_remove("PAYDOWN_OPSGENIE_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        assert!(started.elapsed() < StdDuration::from_secs(60), "no scheduled run finished in time");
        if std::net::TcpStream::connect(&address).is_ok() {
            let (code, body) = get_json(&address, "/v1/sync/status", Some(&app.admin_token));
            assert_eq!(code, 200, "{body}");
            let done = body.as_array().is_some_and(|jobs| jobs.len() == 2 && jobs.iter().all(|job| job["runs"] == 1));
            if done {
                break body;
            }
        }
        std::thread::sleep(StdDuration::from_millis(100));
    };
    let job = |tool: &str| status.as_array().unwrap().iter().find(|job| job["tool"] == tool).unwrap().clone();
    let oncall_job = job("grafana_oncall");
    assert_eq!(oncall_job["interval_seconds"], 60);
    assert_eq!(oncall_job["last_run"]["outcome"], "skipped", "{oncall_job}");
    assert_eq!(oncall_job["last_run"]["pages_created"], 4, "{oncall_job}");
    assert_eq!(oncall_job["last_run"]["fetched"]["alert groups"], 5);
    let failing = job("opsgenie");
    assert_eq!((failing["failures"].as_u64(), failing["last_run"]["outcome"].as_str()), (Some(1), Some("failed")));
    assert!(failing["last_run"]["error"].as_str().unwrap().contains("token_env"), "{failing}");
    // A failing sync makes nothing else fail: the server is ready and serves what was synced.
    let (code, ready) = get_json(&address, "/readyz", None);
    assert_eq!(code, 200, "{ready}");
    assert_eq!(ready["sync"].as_array().map(Vec::len), Some(2), "{ready}");
    let (code, pages) = get_json(&address, "/v1/pages?source=grafana_oncall", Some(&app.admin_token));
    assert_eq!((code, pages.as_array().map(Vec::len)), (200, Some(4)), "{pages}");
    let (code, _) = get_json(&address, "/v1/sync/status", None);
    assert_eq!(code, 401);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&config);
}
