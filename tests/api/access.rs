//! Who may call what: every endpoint × every role, with the expected status of each
//! cell written here; scopes (own person, own teams), revoked and expired tokens.

use std::collections::BTreeSet;

use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use paydown::domain::role::Role;

on_both_backends!(
    every_endpoint_answers_each_role_as_written,
    scopes_hold_and_reveal_nothing,
    revoked_and_expired_tokens_get_401,
    answers_name_only_people_in_reach
);

struct Callers {
    engineer: String,
    manager: String,
    finance: String,
    admin: String,
    ingest: String,
}

async fn setup(app: &TestApp) -> (Callers, String) {
    app.seed_basics().await;
    assert_eq!(
        app.post("/v1/teams", json!({"id": "search", "name": "Search", "cost_centre": "CC-4300"})).await.status,
        201
    );
    let bob = json!({"id": "bob", "name": "Bob", "email": "bob@example.com", "payroll_id": "E-2", "team": "search", "timezone": "Asia/Kolkata", "currency": "GBP"});
    assert_eq!(app.post("/v1/people", bob).await.status, 201);
    let policy = json!({"id": "uk", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", policy).await.status, 201);
    let page = json!({"source": "manual", "external_id": "SEED-1", "service": "checkout", "triggered_at": "2026-03-07T02:14:00Z"});
    let page_id = app.post("/v1/pages", page).await.body["id"].as_str().unwrap().to_owned();
    let callers = Callers {
        engineer: app.token(Role::Engineer, Some("alice"), &[]),
        manager: app.token(Role::Manager, None, &["payments"]),
        finance: app.finance_token.clone(),
        admin: app.admin_token.clone(),
        ingest: app.token(Role::Ingest, None, &[]),
    };
    (callers, page_id)
}

async fn every_endpoint_answers_each_role_as_written(backend: Backend) {
    let app = TestApp::new(backend);
    let (callers, page_id) = setup(&app).await;
    let spare_token = app.token(Role::Ingest, None, &[]);
    let spare_id = {
        let mut conn = app.store.conn().unwrap();
        paydown::storage::tokens::list(&mut conn).unwrap().last().unwrap().id.clone()
    };
    drop(spare_token);
    let page = format!("/v1/pages/{page_id}");
    let responses = format!("/v1/pages/{page_id}/responses");
    let revoke = format!("/v1/tokens/{spare_id}/revoke");
    let page_body = json!({"source": "manual", "external_id": "M-1", "service": "checkout", "triggered_at": "2026-03-08T02:00:00Z"});
    let shift_body =
        json!({"person": "alice", "role": "primary", "start": "2026-03-09T09:00:00Z", "end": "2026-03-10T09:00:00Z"});
    let batch_body = json!({"shifts": [{"person": "alice", "role": "backup", "start": "2026-03-11T09:00:00Z", "end": "2026-03-12T09:00:00Z"}]});
    let response_body =
        json!({"person": "alice", "started_at": "2026-03-07T02:14:00Z", "duration_minutes": 40, "actionable": true});
    let statement = "/v1/people/alice/statement?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";

    // Columns: no token, engineer (alice), manager (payments), finance, admin, ingest.
    let matrix: Vec<(&str, &str, Option<Value>, [u16; 6])> = vec![
        ("POST", "/v1/pages", Some(page_body), [401, 403, 403, 403, 201, 200]),
        ("GET", "/v1/pages", None, [401, 200, 200, 200, 200, 403]),
        ("GET", &page, None, [401, 200, 200, 200, 200, 403]),
        ("POST", &responses, Some(response_body), [401, 201, 403, 403, 201, 403]),
        ("GET", &responses, None, [401, 200, 200, 200, 200, 403]),
        ("POST", "/v1/shifts", Some(shift_body), [401, 403, 403, 403, 201, 200]),
        ("POST", "/v1/shifts/batch", Some(batch_body), [401, 403, 403, 403, 200, 200]),
        ("GET", "/v1/shifts?person=alice", None, [401, 200, 200, 200, 200, 403]),
        (
            "POST",
            "/v1/teams",
            Some(json!({"id": "mobile", "name": "Mobile", "cost_centre": "CC-9"})),
            [401, 403, 403, 403, 201, 403],
        ),
        ("GET", "/v1/teams", None, [401, 200, 200, 200, 200, 403]),
        ("GET", "/v1/teams/payments", None, [401, 200, 200, 200, 200, 403]),
        ("PATCH", "/v1/teams/payments", Some(json!({"name": "Payments & Billing"})), [401, 403, 403, 403, 200, 403]),
        (
            "POST",
            "/v1/people",
            Some(
                json!({"id": "carol", "name": "Carol", "email": "c@example.com", "payroll_id": "E-3", "timezone": "UTC"}),
            ),
            [401, 403, 403, 403, 201, 403],
        ),
        ("GET", "/v1/people?team=payments", None, [401, 403, 200, 200, 200, 403]),
        ("GET", "/v1/people/alice", None, [401, 200, 200, 200, 200, 403]),
        ("PATCH", "/v1/people/alice", Some(json!({"name": "Alice T."})), [401, 403, 403, 403, 200, 403]),
        ("GET", "/v1/people/alice/responses", None, [401, 200, 200, 200, 200, 403]),
        (
            "POST",
            "/v1/services",
            Some(json!({"id": "ledger-db", "name": "Ledger DB", "team": "payments"})),
            [401, 403, 403, 403, 201, 403],
        ),
        ("GET", "/v1/services", None, [401, 200, 200, 200, 200, 403]),
        ("GET", "/v1/services/checkout", None, [401, 200, 200, 200, 200, 403]),
        ("PATCH", "/v1/services/checkout", Some(json!({"name": "Checkout API"})), [401, 403, 403, 403, 200, 403]),
        (
            "POST",
            "/v1/policies",
            Some(json!({"id": "uk-2", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"})),
            [401, 403, 403, 403, 201, 403],
        ),
        ("GET", "/v1/policies", None, [401, 200, 200, 200, 200, 403]),
        ("GET", "/v1/policies/uk", None, [401, 200, 200, 200, 200, 403]),
        (
            "POST",
            "/v1/people/alice/policy-assignments",
            Some(json!({"policy": "uk", "effective_from": "2026-01-01"})),
            [401, 403, 403, 403, 201, 403],
        ),
        ("GET", "/v1/people/alice/policy-assignments", None, [401, 200, 200, 200, 200, 403]),
        ("GET", statement, None, [401, 200, 200, 200, 403, 403]),
        ("POST", "/v1/ledger/accrue", Some(json!({})), [401, 403, 403, 200, 403, 403]),
        ("GET", "/v1/ledger?person=alice", None, [401, 200, 200, 200, 403, 403]),
        ("GET", "/v1/ledger/verify", None, [401, 403, 403, 200, 403, 403]),
        ("GET", "/v1/periods", None, [401, 403, 200, 200, 403, 403]),
        ("GET", "/v1/periods/2026-03", None, [401, 403, 403, 200, 403, 403]),
        ("GET", "/v1/periods/2026-03/review", None, [401, 403, 403, 200, 403, 403]),
        ("POST", "/v1/periods/2026-03/approve", Some(json!({"reason": "reviewed"})), [401, 403, 403, 200, 403, 403]),
        ("POST", "/v1/periods/2026-03/reopen", Some(json!({"reason": "one more"})), [401, 403, 403, 200, 403, 403]),
        (
            "POST",
            "/v1/adjustments",
            Some(json!({"person": "alice", "period": "2026-03", "amount": "10.00", "reason": "bonus"})),
            [401, 403, 403, 201, 403, 403],
        ),
        ("POST", "/v1/periods/2026-03/approve", Some(json!({"reason": "again"})), [401, 403, 403, 200, 403, 403]),
        ("POST", "/v1/periods/2026-03/close", Some(json!({"reason": "sent"})), [401, 403, 403, 200, 403, 403]),
        ("GET", "/v1/settings/pay-run", None, [401, 403, 403, 200, 200, 403]),
        ("PUT", "/v1/settings/pay-run", Some(json!({"four_eyes": true})), [401, 403, 403, 403, 200, 403]),
        ("GET", "/v1/audit", None, [401, 403, 403, 200, 200, 403]),
        ("GET", "/v1/settings/cost", None, [401, 403, 200, 200, 200, 403]),
        (
            "PUT",
            "/v1/settings/cost",
            Some(json!({"interruption_overhead_minutes": "20"})),
            [401, 403, 403, 200, 200, 403],
        ),
        ("POST", "/v1/tokens", Some(json!({"name": "reporting", "role": "finance"})), [401, 403, 403, 403, 201, 403]),
        ("GET", "/v1/tokens", None, [401, 403, 403, 403, 200, 403]),
        ("POST", &revoke, Some(json!({})), [401, 403, 403, 403, 200, 403]),
        ("GET", "/healthz", None, [200, 200, 200, 200, 200, 200]),
        ("GET", "/openapi.json", None, [200, 200, 200, 200, 200, 200]),
    ];
    let tokens: [Option<&str>; 6] = [
        None,
        Some(&callers.engineer),
        Some(&callers.manager),
        Some(&callers.finance),
        Some(&callers.admin),
        Some(&callers.ingest),
    ];
    let columns = ["no token", "engineer", "manager", "finance", "admin", "ingest"];
    let mut mismatches = Vec::new();
    for (method, path, body, expected) in &matrix {
        for (column, token) in tokens.iter().enumerate() {
            let reply = app.call_as(method, path, body.clone(), *token).await;
            if reply.status != expected[column] {
                mismatches.push(format!(
                    "{method} {path} as {}: got {} want {} {:?}",
                    columns[column], reply.status, expected[column], reply.body
                ));
            }
            if matches!(reply.status, 401 | 403) {
                assert!(reply.error_code().is_some(), "{method} {path}: errors keep the JSON shape: {:?}", reply.body);
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // Every rule is a documented endpoint and every documented endpoint has a rule.
    let document = app.get("/openapi.json").await.body;
    let mut documented = std::collections::BTreeSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let ruled: std::collections::BTreeSet<String> =
        paydown::http::access::rules().iter().map(|rule| format!("{} {}", rule.method, rule.pattern)).collect();
    let public: std::collections::BTreeSet<String> =
        ["GET /healthz", "GET /readyz"].iter().map(|s| (*s).to_owned()).collect();
    let undocumented: Vec<_> = ruled.difference(&documented).collect();
    let unruled: Vec<_> = documented
        .difference(&ruled)
        .filter(|endpoint| !public.contains(*endpoint) && !endpoint.contains("/v1/webhooks/"))
        .collect();
    assert!(
        undocumented.is_empty() && unruled.is_empty(),
        "undocumented: {undocumented:?}, without a rule: {unruled:?}"
    );
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}

async fn scopes_hold_and_reveal_nothing(backend: Backend) {
    let app = TestApp::new(backend);
    let (callers, page_id) = setup(&app).await;
    let month = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";
    let cases: Vec<(&str, String, Option<Value>, &str, u16)> = vec![
        // An engineer reads only their own pay, and learns nothing about who exists.
        ("GET", format!("/v1/people/bob/statement?{month}"), None, "engineer", 403),
        ("GET", format!("/v1/people/nobody/statement?{month}"), None, "engineer", 403),
        ("GET", "/v1/ledger?person=bob".into(), None, "engineer", 403),
        ("GET", "/v1/ledger".into(), None, "engineer", 403),
        ("GET", "/v1/people/bob".into(), None, "engineer", 403),
        (
            "POST",
            format!("/v1/pages/{page_id}/responses"),
            Some(
                json!({"person": "bob", "started_at": "2026-03-07T02:14:00Z", "duration_minutes": 10, "actionable": true}),
            ),
            "engineer",
            403,
        ),
        // A manager sees their teams only.
        ("GET", format!("/v1/people/bob/statement?{month}"), None, "manager", 403),
        ("GET", format!("/v1/people/nobody/statement?{month}"), None, "manager", 403),
        ("GET", "/v1/people/bob".into(), None, "manager", 403),
        ("GET", "/v1/people?team=search".into(), None, "manager", 403),
        ("GET", "/v1/people".into(), None, "manager", 403),
        ("GET", "/v1/ledger?person=bob".into(), None, "manager", 403),
        // Finance sees everyone; only it learns that nobody does not exist.
        ("GET", format!("/v1/people/bob/statement?{month}"), None, "finance", 200),
        ("GET", format!("/v1/people/nobody/statement?{month}"), None, "finance", 404),
        // Routing answers in the same JSON shape.
        ("GET", "/v1/nothing".into(), None, "finance", 404),
        ("DELETE", "/v1/pages".into(), None, "finance", 405),
    ];
    for (method, path, body, who, expected) in cases {
        let token = match who {
            "engineer" => &callers.engineer,
            "manager" => &callers.manager,
            _ => &callers.finance,
        };
        let reply = app.call_as(method, &path, body, Some(token)).await;
        assert_eq!(reply.status, expected, "{method} {path} as {who}: {:?}", reply.body);
        assert!(reply.status == 200 || reply.error_code().is_some(), "{:?}", reply.body);
    }
    let denied_other = app.call_as("GET", "/v1/people/bob", None, Some(&callers.engineer)).await;
    let denied_nobody = app.call_as("GET", "/v1/people/nobody", None, Some(&callers.engineer)).await;
    assert_eq!(denied_other.body, denied_nobody.body, "a 403 must not say whether the person exists");
}

async fn revoked_and_expired_tokens_get_401(backend: Backend) {
    let app = TestApp::new(backend);
    let (callers, _) = setup(&app).await;
    assert_eq!(app.call_as("GET", "/v1/pages", None, Some(&callers.engineer)).await.status, 200);
    let tokens = app.call_as("GET", "/v1/tokens", None, Some(&callers.admin)).await.body;
    assert!(!tokens.to_string().contains("pdt_"), "a listing never shows a secret");
    let engineer_id = tokens.as_array().unwrap().iter().find(|token| token["role"] == "engineer").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked =
        app.call_as("POST", &format!("/v1/tokens/{engineer_id}/revoke"), Some(json!({})), Some(&callers.admin)).await;
    assert_eq!(revoked.status, 200);
    let refused = app.call_as("GET", "/v1/pages", None, Some(&callers.engineer)).await;
    assert_eq!((refused.status, refused.body["error"]["message"].as_str()), (401, Some("the API token was revoked")));

    {
        let mut conn = app.store.conn().unwrap();
        conn.batch_execute("UPDATE api_tokens SET expires_at = '2020-01-01 00:00:00' WHERE role = 'ingest'").unwrap();
    }
    let expired = app.call_as("POST", "/v1/shifts", Some(json!({})), Some(&callers.ingest)).await;
    assert_eq!((expired.status, expired.body["error"]["message"].as_str()), (401, Some("the API token has expired")));
    assert_eq!(app.call_as("GET", "/v1/pages", None, Some("pdt_forged")).await.status, 401);
    let basic = app
        .send_raw(
            actix_web::test::TestRequest::get()
                .uri("/v1/pages")
                .insert_header(("authorization", "Basic YWRtaW46YWRtaW4=")),
        )
        .await;
    assert_eq!(basic.status, 401);
    let created =
        app.call_as("POST", "/v1/tokens", Some(json!({"name": "eng", "role": "engineer"})), Some(&callers.admin)).await;
    assert_eq!((created.status, created.error_field()), (400, Some("person")));
    let manager = app
        .call_as(
            "POST",
            "/v1/tokens",
            Some(json!({"name": "mgr", "role": "manager", "teams": ["payments"]})),
            Some(&callers.admin),
        )
        .await;
    assert_eq!(manager.status, 201);
    assert!(manager.body["secret"].as_str().unwrap().starts_with("pdt_"));
}

/// Every word of an answer: JSON strings and keys split into words, or an HTML body's words.
fn words_of(body: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) => out.push(text.clone()),
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            Value::Object(map) => map.iter().for_each(|(key, item)| {
                out.push(key.clone());
                walk(item, out);
            }),
            _ => {}
        }
    }
    let mut texts = Vec::new();
    walk(body, &mut texts);
    let mut words = BTreeSet::new();
    for text in texts {
        words.insert(text.clone());
        for word in text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_')) {
            if !word.is_empty() {
                words.insert(word.to_owned());
            }
        }
    }
    words
}

/// Issue 17: allowed answers carry only the people in the caller's reach. On the demo data
/// set (4 teams, 24 people), a payments manager's answers name nobody outside payments and
/// an engineer's nobody but themself, on every list and report endpoint.
async fn answers_name_only_people_in_reach(backend: Backend) {
    let app = TestApp::new(backend);
    paydown::demo::load_if_empty(&app.store, paydown::demo::DEFAULT_SEED).unwrap().expect("the demo loads");
    assert_eq!(app.call_as("POST", "/v1/ledger/accrue", Some(json!({})), Some(&app.finance_token)).await.status, 200);
    let everyone = {
        let mut conn = app.store.conn().unwrap();
        paydown::storage::people::list(&mut conn, None).unwrap()
    };
    let all_pages = app.call_as("GET", "/v1/pages?limit=1000", None, Some(&app.finance_token)).await.body;
    let all_pages = all_pages.as_array().unwrap();
    // A colleague's note on a page alice acknowledged.
    let alices_page =
        all_pages.iter().find(|page| page["acknowledged_by"] == "alice").unwrap()["id"].as_str().unwrap().to_owned();
    let note = json!({"person": "ben", "started_at": "2026-08-20T02:00:00Z", "duration_minutes": 20,
        "notes": "ben's own words", "actionable": true});
    assert_eq!(app.post(&format!("/v1/pages/{alices_page}/responses"), note).await.status, 201);

    let range = "from=2026-08-01T00:00:00Z&to=2026-11-15T00:00:00Z";
    let mut endpoints: Vec<String> = vec![
        "/v1/pages?limit=1000".into(),
        format!("/v1/pages?limit=1000&{range}"),
        "/v1/shifts?limit=1000".into(),
        format!("/v1/shifts?limit=1000&{range}"),
        format!("/v1/reports/health?{range}"),
        format!("/v1/reports/debt?group_by=alert_key&{range}"),
        format!("/v1/reports/debt?group_by=service&{range}"),
        format!("/v1/reports/debt?group_by=team&{range}"),
        format!("/v1/reports/debt?group_by=month&{range}"),
        format!("/dashboard?{range}"),
        format!("/dashboard?{range}&group_by=service"),
        format!("/dashboard?{range}&group_by=month"),
        format!("/?period=2026-09"),
        "/v1/unmatched".into(),
        "/v1/periods".into(),
        "/v1/teams".into(),
        "/v1/services".into(),
        "/v1/policies".into(),
        "/v1/people?team=payments".into(),
        "/v1/people/alice".into(),
        "/v1/people/alice/responses".into(),
        "/v1/people/alice/policy-assignments".into(),
        format!("/v1/people/alice/statement?{range}"),
        "/v1/ledger?person=alice".into(),
        "/v1/audit".into(),
    ];
    // Every page alice or a colleague acknowledged is as good as another: a sample keeps it quick.
    let sample = || all_pages.iter().step_by(8).chain(std::iter::once(&all_pages[0]));
    endpoints.extend(sample().map(|page| format!("/v1/pages/{}", page["id"].as_str().unwrap())));
    endpoints.extend(sample().map(|page| format!("/v1/pages/{}/responses", page["id"].as_str().unwrap())));
    endpoints.push(format!("/v1/pages/{alices_page}/responses"));
    let alerts: std::collections::BTreeSet<&str> =
        all_pages.iter().filter_map(|page| page["alert_key"].as_str()).take(6).collect();
    endpoints.extend(alerts.iter().map(|alert| format!("/dashboard/alerts/{alert}?{range}")));

    let manager = app.token(Role::Manager, None, &["payments"]);
    let engineer = app.token(Role::Engineer, Some("alice"), &[]);
    let callers = [("manager", &manager), ("engineer", &engineer)];
    for (who, token) in callers {
        let in_reach = |person: &paydown::storage::people::Person| match who {
            "manager" => person.team.as_deref() == Some("payments"),
            _ => person.id == "alice",
        };
        let outside: Vec<&paydown::storage::people::Person> =
            everyone.iter().filter(|person| !in_reach(person)).collect();
        assert!(outside.len() >= 17, "{who}");
        let mut answered = 0;
        let mut leaks = Vec::new();
        for path in &endpoints {
            let reply = app.call_as("GET", path, None, Some(token)).await;
            // 303: a page that is another role's (a manager at `/` is sent to the dashboard).
            assert!(matches!(reply.status, 200 | 303 | 403), "{who} GET {path}: {} {:?}", reply.status, reply.body);
            if reply.status != 200 {
                continue;
            }
            answered += 1;
            let words = words_of(&reply.body);
            for person in &outside {
                if words.contains(&person.id) || words.contains(&person.name) {
                    leaks.push(format!("{who} GET {path} names {}", person.id));
                }
            }
        }
        assert!(leaks.is_empty(), "{}", leaks.join("\n"));
        assert!(answered > all_pages.len() / 8, "{who}: the endpoints answer ({answered})");
    }

    // The findings, one by one.
    let health = app.call_as("GET", &format!("/v1/reports/health?{range}"), None, Some(&manager)).await;
    assert_eq!(health.status, 200);
    let loads = health.body["out_of_hours"].as_array().unwrap();
    assert!(!loads.is_empty() && loads.iter().all(|load| load["person"] != "kenji"), "{loads:?}");
    let finance_health =
        app.call_as("GET", &format!("/v1/reports/health?{range}"), None, Some(&app.finance_token)).await;
    assert!(finance_health.body["out_of_hours"].as_array().unwrap().len() > loads.len(), "finance sees everyone");
    for teams in ["rotations", "response_times_by_team"] {
        for row in health.body[teams].as_array().unwrap() {
            let team = row.get("team").or_else(|| row.get("key")).unwrap();
            assert_eq!(team, "payments", "{teams}: {row:?}");
        }
    }
    for (path, field) in [
        ("/v1/shifts?person=dana", "person"),
        ("/v1/pages?acknowledged_by=ben", "acknowledged_by"),
        ("/v1/pages?acknowledged_by=nobody", "acknowledged_by"),
    ] {
        let reply = app.call_as("GET", path, None, Some(&engineer)).await;
        assert_eq!((reply.status, reply.error_field()), (403, Some(field)), "{path}: {:?}", reply.body);
    }
    let manager_sees_ben = app.call_as("GET", "/v1/pages?acknowledged_by=ben", None, Some(&manager)).await;
    assert_eq!(manager_sees_ben.status, 200);
    assert!(!manager_sees_ben.body.as_array().unwrap().is_empty());
    let manager_kenji = app.call_as("GET", "/v1/shifts?person=kenji", None, Some(&manager)).await;
    assert_eq!(manager_kenji.status, 403);
    let notes = app.call_as("GET", &format!("/v1/pages/{alices_page}/responses"), None, Some(&engineer)).await;
    assert!(!notes.body.to_string().contains("ben's own words"), "{:?}", notes.body);
    let notes = app.call_as("GET", &format!("/v1/pages/{alices_page}/responses"), None, Some(&manager)).await;
    assert!(notes.body.to_string().contains("ben's own words"), "ben's manager reads it: {:?}", notes.body);
    let own_shifts = app.call_as("GET", "/v1/shifts?limit=1000", None, Some(&engineer)).await.body;
    let own_shifts = own_shifts.as_array().unwrap();
    assert!(!own_shifts.is_empty() && own_shifts.iter().all(|shift| shift["person"] == "alice"));
}
