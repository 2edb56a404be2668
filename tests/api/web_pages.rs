//! Issue 19: the HTML pages people use. What each role SEES on its page (an engineer their
//! own pages and pay only, a manager their teams only), the forms (anti-forgery value,
//! errors beside the field, 303 after success), sign-in landings and the controls' errors.

use actix_web::test::{self, TestRequest};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use paydown::domain::role::Role;

on_both_backends!(
    an_engineer_sees_and_corrects_only_their_own_work,
    a_manager_sees_only_their_teams,
    finance_runs_the_pay_run_from_its_page
);

/// Status, `Location` header and body text of one request.
async fn exchange(app: &TestApp, request: TestRequest) -> (u16, String, String) {
    let state = paydown::http::AppState::new(app.store.clone());
    let service = test::init_service(paydown::http::app(state)).await;
    let response = test::call_service(&service, request.to_request()).await;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(actix_web::http::header::LOCATION)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&test::read_body(response).await).into_owned();
    (status, location, body)
}

/// A page as a signed-in browser opens it: the token in the session cookie.
fn browse(token: &str, path: &str) -> TestRequest {
    TestRequest::get().uri(path).insert_header(("cookie", format!("paydown_token={token}")))
}

/// A form as a signed-in browser posts it.
fn submit(token: &str, path: &str, form: &str) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header(("cookie", format!("paydown_token={token}")))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form.to_owned())
}

/// The statement's total as the page writes it.
fn total_of(html: &str) -> String {
    let start = html.find("<strong>Total: ").expect("a total") + "<strong>Total: ".len();
    html[start..].split('<').next().unwrap().to_owned()
}

async fn page_id(app: &TestApp, external_id: &str) -> String {
    let found = app.get(&format!("/v1/pages?source=manual&external_id={external_id}")).await.body;
    found[0]["id"].as_str().unwrap().to_owned()
}

async fn an_engineer_sees_and_corrects_only_their_own_work(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    // A colleague on the same team with a page and a response of their own.
    let bob = json!({"id": "bob", "name": "Bob Colleague", "email": "bob@example.com", "payroll_id": "E-1002",
        "team": "payments", "timezone": "Europe/London", "currency": "GBP"});
    assert_eq!(app.post("/v1/people", bob).await.status, 201);
    let assignment = json!({"policy": "uk", "effective_from": "2026-01-01"});
    assert_eq!(app.post("/v1/people/bob/policy-assignments", assignment).await.status, 201);
    let bobs = json!({"source": "manual", "external_id": "INC-2", "service": "checkout", "title": "Bob's queue is stuck",
        "triggered_at": "2026-03-14T03:00:00Z", "acknowledged_at": "2026-03-14T03:05:00Z", "acknowledged_by": "bob",
        "resolved_at": "2026-03-14T03:40:00Z"});
    assert_eq!(app.post("/v1/pages", bobs).await.status, 201);
    let bobs_page = page_id(&app, "INC-2").await;
    let response = json!({"person": "bob", "started_at": "2026-03-14T03:05:00Z", "ended_at": "2026-03-14T03:40:00Z", "actionable": true});
    let bobs_response = app.post(&format!("/v1/pages/{bobs_page}/responses"), response).await;
    assert_eq!(bobs_response.status, 201);
    let bobs_response = bobs_response.body["id"].as_str().unwrap().to_owned();
    // A page alice acknowledged and has not logged yet (GMT: London is on UTC in March before the 29th).
    let open = json!({"source": "manual", "external_id": "INC-3", "service": "checkout", "title": "Card declines spike",
        "triggered_at": "2026-03-21T22:00:00Z", "acknowledged_at": "2026-03-21T22:02:00Z", "acknowledged_by": "alice",
        "resolved_at": "2026-03-21T22:47:00Z"});
    assert_eq!(app.post("/v1/pages", open).await.status, 201);
    let open_page = page_id(&app, "INC-3").await;
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);

    let alice = app.token(Role::Engineer, Some("alice"), &[]);
    let csrf = paydown::http::html::csrf_for(&alice);
    let (status, _, home) = exchange(&app, browse(&alice, "/?period=2026-03")).await;
    assert_eq!(status, 200, "{home}");
    assert!(home.contains("INC-1") && home.contains("INC-3") && home.contains("Card declines spike"), "{home}");
    assert!(!home.contains("INC-2") && !home.contains("Bob") && !home.contains("bob"), "only her own pages: {home}");
    assert!(home.contains("provisional") && home.contains("read from the ledger"), "her statement: {home}");
    let total_before = total_of(&home);
    assert!(total_before.ends_with(" GBP") && total_before != "0 GBP", "{total_before}");
    assert!(home.contains(&format!("name=\"csrf\" value=\"{csrf}\"")));
    // The form starts from acknowledge → resolve, in her zone.
    assert!(home.contains("value=\"2026-03-21T22:02\"") && home.contains("value=\"2026-03-21T22:47\""), "{home}");

    // Without the anti-forgery value, or from another site, nothing is written.
    let respond = format!("/pages/{open_page}/respond");
    let typed = "started_at=2026-03-21T22%3A02&ended_at=2026-03-21T22%3A50&actionable=true&client_id=web%3Atest-1";
    for request in [submit(&alice, &respond, typed), submit(&alice, &respond, &format!("{typed}&csrf=not-the-value"))] {
        let (status, _, body) = exchange(&app, request).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.starts_with("<!doctype html>") && body.contains("nothing was saved"), "{body}");
    }
    // From another site the cookie authenticates nothing at all.
    let cross_site =
        submit(&alice, &respond, &format!("{typed}&csrf={csrf}")).insert_header(("origin", "http://evil.example"));
    assert_eq!(exchange(&app, cross_site).await.0, 401);
    assert_eq!(app.get(&format!("/v1/pages/{open_page}/responses")).await.body, json!([]));

    // A refused form comes back with what was typed and the message beside the field.
    let backwards = format!("csrf={csrf}&started_at=2026-03-21T22%3A02&ended_at=2026-03-21T21%3A00&actionable=true");
    let (status, _, body) = exchange(&app, submit(&alice, &respond, &backwards)).await;
    assert_eq!(status, 400, "{body}");
    let form = format!("log-{open_page}");
    assert!(body.contains(&format!("id=\"{form}-ended_at-error\"")), "{body}");
    assert!(body.contains("must not be before started_at") && body.contains("value=\"2026-03-21T21:00\""), "{body}");
    assert!(body.contains(&format!("aria-describedby=\"{form}-ended_at-error\"")));
    let (status, _, body) = exchange(&app, submit(&alice, &respond, &format!("csrf={csrf}&started_at=soon"))).await;
    assert_eq!(status, 400);
    assert!(body.contains(&format!("id=\"{form}-started_at-error\"")), "{body}");

    // The form logs her response: 303 to her page at the period it belongs to.
    let (status, location, body) = exchange(&app, submit(&alice, &respond, &format!("{typed}&csrf={csrf}"))).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(location, format!("/?done=logged&period=2026-03#page-{open_page}"));
    let logged = app.get(&format!("/v1/pages/{open_page}/responses")).await.body;
    assert_eq!(logged[0]["person"], "alice");
    assert_eq!(
        (logged[0]["started_at"].as_str(), logged[0]["ended_at"].as_str()),
        (Some("2026-03-21T22:02:00Z"), Some("2026-03-21T22:50:00Z"))
    );
    assert_eq!(logged[0]["status"], "paid", "she acknowledged it: paid, not a claim");
    // A second send of the same form (a double click) is the same response.
    let (status, _, _) = exchange(&app, submit(&alice, &respond, &format!("{typed}&csrf={csrf}"))).await;
    assert_eq!(status, 303);
    assert_eq!(app.get(&format!("/v1/pages/{open_page}/responses")).await.body.as_array().unwrap().len(), 1);
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let (_, _, home) = exchange(&app, browse(&alice, "/?period=2026-03&done=logged")).await;
    assert!(home.contains("Your response is logged") && home.contains("2026-03-21 22:02 GMT"), "{home}");
    assert_ne!(total_of(&home), total_before, "the new line is priced into her total");
    assert!(home.contains("<td>response</td>"), "{home}");

    // Withdrawing needs a reason, beside its field; with one it is withdrawn.
    let response_id = logged[0]["id"].as_str().unwrap().to_owned();
    let withdraw = format!("/responses/{response_id}/withdraw");
    let (status, _, body) = exchange(&app, submit(&alice, &withdraw, &format!("csrf={csrf}&reason="))).await;
    assert_eq!(status, 400);
    assert!(
        body.contains(&format!("id=\"withdraw-{response_id}-reason-error\"")) && body.contains("must say why"),
        "{body}"
    );
    let (status, location, _) =
        exchange(&app, submit(&alice, &withdraw, &format!("csrf={csrf}&reason=logged+twice"))).await;
    assert_eq!((status, location.starts_with("/?done=withdrawn")), (303, true));
    assert_eq!(app.get(&format!("/v1/pages/{open_page}/responses")).await.body[0]["status"], "withdrawn");

    // Her colleague's response is not hers to correct, and the answer does not say it exists.
    let amend = format!("/responses/{bobs_response}/amend");
    let change =
        format!("csrf={csrf}&started_at=2026-03-14T03%3A05&ended_at=2026-03-14T05%3A00&actionable=true&reason=mine");
    let (status, _, body) = exchange(&app, submit(&alice, &amend, &change)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(app.get(&format!("/v1/pages/{bobs_page}/responses")).await.body[0]["ended_at"], "2026-03-14T03:40:00Z");

    // Other roles' pages are refused as pages; the cookie still opens no API call.
    for path in ["/dashboard", "/periods", "/dashboard/alerts/x"] {
        let (status, _, body) = exchange(&app, browse(&alice, path)).await;
        assert_eq!(status, 403, "{path}");
        assert!(body.starts_with("<!doctype html>") && body.contains("role=\"alert\""), "{body}");
    }
    assert_eq!(exchange(&app, browse(&alice, "/v1/people/alice")).await.0, 401);
    // Signed out, a page sends the browser to sign in.
    let (status, location, _) = exchange(&app, TestRequest::get().uri("/")).await;
    assert_eq!((status, location.as_str()), (303, "/login"));
}

async fn a_manager_sees_only_their_teams(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let team = json!({"id": "search", "name": "Search", "cost_centre": "CC-4300"});
    assert_eq!(app.post("/v1/teams", team).await.status, 201);
    let sam = json!({"id": "sam", "name": "Sam Searcher", "email": "sam@example.com", "payroll_id": "E-2001",
        "team": "search", "timezone": "Europe/Berlin", "currency": "EUR"});
    assert_eq!(app.post("/v1/people", sam).await.status, 201);
    assert_eq!(app.post("/v1/services", json!({"id": "index", "name": "Index", "team": "search"})).await.status, 201);
    assert_eq!(app.patch("/v1/people/alice", json!({"loaded_hourly_cost": "60.00"})).await.status, 200);
    assert_eq!(app.patch("/v1/people/sam", json!({"loaded_hourly_cost": "90.00"})).await.status, 200);
    for (id, service, alert, person, at) in [
        ("INC-10", "checkout", "checkout-5xx", "alice", "2026-03-10T14:00:00Z"),
        ("INC-11", "checkout", "checkout-5xx", "alice", "2026-03-12T14:00:00Z"),
        ("INC-20", "index", "index-lag", "sam", "2026-03-11T13:00:00Z"),
        ("INC-30", "unknown-svc", "orphan-alert", "alice", "2026-03-13T13:00:00Z"),
    ] {
        let triggered: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
        let page = json!({"source": "manual", "external_id": id, "service": service, "alert_key": alert,
            "triggered_at": at, "acknowledged_at": (triggered + chrono::Duration::minutes(3)).to_rfc3339(),
            "acknowledged_by": person, "resolved_at": (triggered + chrono::Duration::minutes(63)).to_rfc3339()});
        assert_eq!(app.post("/v1/pages", page).await.status, 201);
    }
    let range = "from=2026-03-01&to=2026-04-01";
    let manager = app.token(Role::Manager, None, &["payments"]);

    let (status, _, html) = exchange(&app, browse(&manager, &format!("/dashboard?{range}"))).await;
    assert_eq!(status, 200, "{html}");
    // One sentence and one number: 2 pages × 60 min responder time + 15 min overhead each at 60.00/h.
    assert!(html.contains("<span class=\"figure\">150 GBP</span>"), "{html}");
    assert!(html.contains("alert checkout-5xx cost 150 GBP"), "{html}");
    assert!(html.contains("href=\"/dashboard/alerts/checkout-5xx?from=2026-03-01&amp;to=2026-04-01\""), "{html}");
    for hidden in ["search", "sam", "Sam", "index-lag", "EUR", "orphan-alert", "unknown-svc", "TooSmall"] {
        assert!(!html.contains(hidden), "a payments manager does not see {hidden}");
    }
    assert!(html.contains("<option value=\"payments\">payments</option>"));
    assert!(html.contains("<th scope=\"col\" class=\"n\">Cost</th>"), "numbers' headers align with them");
    assert!(html.contains("too small: on call too often"), "rota verdicts in words");

    // Another team is refused by name; a bad control is a 400 page naming its parameter.
    let (status, _, body) = exchange(&app, browse(&manager, &format!("/dashboard?{range}&team=search"))).await;
    assert_eq!(status, 403);
    assert!(body.contains("<code>team</code>") && !body.contains("sam"), "{body}");
    for (query, field) in
        [("group_by=bogus", "group_by"), ("from=yesterday", "from"), ("from=2026-04-01&to=2026-03-01", "to")]
    {
        let (status, _, body) = exchange(&app, browse(&manager, &format!("/dashboard?{query}"))).await;
        assert_eq!(status, 400, "{query}");
        assert!(
            body.starts_with("<!doctype html>") && body.contains(&format!("<code>{field}</code>")),
            "{query}: {body}"
        );
    }

    // The alert's own page: its cost and who it woke, within reach.
    let (status, _, alert) = exchange(&app, browse(&manager, &format!("/dashboard/alerts/checkout-5xx?{range}"))).await;
    assert_eq!(status, 200);
    assert!(
        alert.contains("150 GBP") && alert.contains("INC-10") && alert.contains("INC-11") && alert.contains(">alice<"),
        "{alert}"
    );
    let (status, _, other) = exchange(&app, browse(&manager, &format!("/dashboard/alerts/index-lag?{range}"))).await;
    assert_eq!(status, 200);
    assert!(!other.contains("INC-20") && !other.contains("sam") && !other.contains("EUR"), "{other}");

    // Finance sees every team, and each currency apart; a team narrows it.
    let (_, _, all) = exchange(&app, browse(&app.finance_token, &format!("/dashboard?{range}"))).await;
    assert!(
        all.contains("<span class=\"figure\">")
            && all.contains("GBP")
            && all.contains("EUR")
            && all.contains("index-lag")
            && all.contains("unknown-svc"),
        "{all}"
    );
    assert!(all.contains("Services nobody owns"));
    let (_, _, search) = exchange(&app, browse(&app.finance_token, &format!("/dashboard?{range}&team=search"))).await;
    assert!(search.contains("index-lag") && !search.contains("checkout-5xx") && !search.contains("GBP"), "{search}");
    let (status, _, _) = exchange(&app, browse(&app.finance_token, &format!("/dashboard?{range}&team=nope"))).await;
    assert_eq!(status, 400);

    // Finance's periods and their files; a manager has no such page.
    let policy = json!({"id": "uk", "version": 1, "effective_from": "2026-01-01", "currency": "GBP"});
    assert_eq!(app.post("/v1/policies", policy).await.status, 201);
    let assignment = json!({"policy": "uk", "effective_from": "2026-01-01"});
    assert_eq!(app.post("/v1/people/alice/policy-assignments", assignment).await.status, 201);
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let (status, _, periods) = exchange(&app, browse(&app.finance_token, "/periods")).await;
    assert_eq!(status, 200);
    assert!(periods.contains("/periods/2026-03/payroll?layout=long&amp;format=csv"), "{periods}");
    let (status, _, file) =
        exchange(&app, browse(&app.finance_token, "/periods/2026-03/payroll?layout=long&format=csv")).await;
    assert_eq!(status, 200);
    assert!(file.contains("E-1001"), "{file}");
    assert_eq!(exchange(&app, browse(&manager, "/periods")).await.0, 403);
    assert_eq!(exchange(&app, browse(&manager, "/periods/2026-03/payroll")).await.0, 403);
    // A manager at `/` goes to the dashboard; `/docs` to the API viewer.
    let (status, location, _) = exchange(&app, browse(&manager, "/")).await;
    assert_eq!((status, location.as_str()), (303, "/dashboard"));
    let (status, location, _) = exchange(&app, TestRequest::get().uri("/docs")).await;
    assert_eq!((status, location.as_str()), (308, "/docs/"));
    let (status, _, css) = exchange(&app, TestRequest::get().uri(paydown::web::STYLESHEET_PATH)).await;
    assert!(status == 200 && css.contains("@media print"));
}

/// Finance's page shows the pay run of the earliest open period (totals, changes since the
/// last export, anomalies) and takes its steps through forms: approve, then close, each with
/// a reason and the anti-forgery value, under the API's rules.
async fn finance_runs_the_pay_run_from_its_page(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    let accrued = app.post("/v1/ledger/accrue", json!({})).await;
    assert_eq!(accrued.status, 200, "{:?}", accrued.body);
    let finance = app.finance_token.clone();
    let csrf = paydown::http::html::csrf_for(&finance);
    let (status, _, page) = exchange(&app, browse(&finance, "/periods")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Pay run of 2026-03"), "{page}");
    assert!(page.contains("Never exported: all"), "{page}");
    assert!(page.contains("Anomalies ("), "{page}");
    assert!(page.contains("name=\"step\" value=\"approve\""), "an open period offers approval: {page}");
    assert!(!page.contains("name=\"step\" value=\"close\""), "an open period cannot close: {page}");
    let ledger_total = app.get("/v1/periods/2026-03/review").await.body["total_by_currency"]["GBP"].clone();
    let shown = paydown::web::money("GBP", ledger_total.as_str().unwrap().parse().unwrap());
    assert!(page.contains(&shown), "the page's total is the review's {shown}: {page}");

    let step = "/periods/2026-03/step";
    // Without the form's anti-forgery value, or from an admin: refused, nothing changes.
    let (status, _, _) = exchange(&app, submit(&finance, step, "step=approve&reason=checked")).await;
    assert_eq!(status, 403);
    let (status, _, _) =
        exchange(&app, submit(&app.admin_token, step, &format!("csrf={csrf}&step=approve&reason=checked"))).await;
    assert_eq!(status, 403);
    // A blank reason is refused, naming it.
    let (status, _, body) = exchange(&app, submit(&finance, step, &format!("csrf={csrf}&step=approve&reason="))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("reason"), "{body}");
    assert_eq!(app.get("/v1/periods/2026-03/review").await.body["run"]["state"], "open");

    let (status, location, _) =
        exchange(&app, submit(&finance, step, &format!("csrf={csrf}&step=approve&reason=checked+the+totals"))).await;
    assert_eq!((status, location.as_str()), (303, "/periods?period=2026-03&done=approve"));
    let (_, _, page) = exchange(&app, browse(&finance, &location)).await;
    assert!(page.contains("Period 2026-03: approved."), "{page}");
    assert!(page.contains("name=\"step\" value=\"close\""), "{page}");
    let (status, location, _) =
        exchange(&app, submit(&finance, step, &format!("csrf={csrf}&step=close&reason=payroll+sent"))).await;
    assert_eq!((status, location.as_str()), (303, "/periods?period=2026-03&done=close"));
    assert_eq!(app.get("/v1/periods/2026-03").await.body["status"], "closed");
    let (_, _, page) = exchange(&app, browse(&finance, &location)).await;
    assert!(page.contains("Period 2026-03: closed for good."), "{page}");
    assert!(!page.contains("name=\"step\""), "a closed period takes no step: {page}");
}
