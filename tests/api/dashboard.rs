//! The reliability-debt report, the health signals and the dashboard, with figures
//! computed by hand.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use paydown::domain::role::Role;

on_both_backends!(debt_and_health_figures_match_a_hand_computation);

async fn debt_and_health_figures_match_a_hand_computation(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    assert_eq!(app.patch("/v1/people/alice", json!({"loaded_hourly_cost": "60.00"})).await.status, 200);
    app.post("/v1/ledger/accrue", json!({})).await;
    let range = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";

    // One Saturday-night page, a 51-minute response by alice (loaded cost 60.00/h):
    //   paid                    callout 50.00 + response 60.00       = 110.00
    //   responder time          60.00 × 51/60 h                      =  51.00
    //   interruption overhead   60.00 × 15/60 h                      =  15.00
    //   recovery                60.00 × 2 h                          = 120.00
    //   total                                                          296.00 GBP
    let report =
        app.call_as("GET", &format!("/v1/reports/debt?group_by=service&{range}"), None, Some(&app.finance_token)).await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    let group = &report.body["groups"][0];
    assert_eq!(group["key"], "checkout");
    assert_eq!(
        (group["currency"].as_str(), group["pages"].as_u64(), group["night_pages"].as_u64()),
        (Some("GBP"), Some(1), Some(1))
    );
    assert_eq!((group["paid"].as_str(), group["responder_time"].as_str()), (Some("110.00"), Some("51.00")));
    assert_eq!((group["interruption_overhead"].as_str(), group["recovery"].as_str()), (Some("15.00"), Some("120.00")));
    assert_eq!(group["total"], "296.00");
    // The previous 31 days had nothing; at this rate a year costs 296.00 × 365 / 31.
    assert_eq!(group["previous_total"], "0");
    assert_eq!(group["annualised"], "3485.16");
    let sentence = group["summary"].as_str().unwrap();
    assert!(
        sentence.contains("296") && sentence.contains("GBP") && sentence.contains("1 pages")
            || sentence.contains("1 page"),
        "{sentence}"
    );

    let health = app.call_as("GET", &format!("/v1/reports/health?{range}"), None, Some(&app.finance_token)).await;
    assert_eq!(health.status, 200, "{:?}", health.body);
    let alice =
        health.body["out_of_hours"].as_array().unwrap().iter().find(|load| load["person"] == "alice").unwrap().clone();
    assert_eq!(
        (alice["out_of_hours"].as_u64(), alice["night"].as_u64(), alice["over_bar"].as_bool()),
        (Some(1), Some(1), Some(false))
    );
    let wake = health.body["response_times_by_lane"]
        .as_array()
        .unwrap()
        .iter()
        .find(|times| times["key"] == "wake")
        .unwrap()
        .clone();
    assert_eq!(wake["ack"]["p50"], 120, "acknowledged 2 minutes after the trigger");

    // The page: managers and finance; server-drawn charts; engineers are refused.
    let page = app.call_as("GET", &format!("/dashboard?{range}"), None, Some(&app.finance_token)).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("<svg") && html.contains("most expensive alerts") && html.contains("296"), "{html}");
    // The SVG namespace URI is a name, not a fetch: nothing is loaded from anywhere.
    assert!(
        !html.contains("<script")
            && !html.contains("src=\"http")
            && !html.contains("href=\"http")
            && !html.contains("url(http"),
        "works offline, runs nothing"
    );
    let engineer = app.token(Role::Engineer, Some("alice"), &[]);
    assert_eq!(app.call_as("GET", "/dashboard", None, Some(&engineer)).await.status, 403);
    assert_eq!(
        app.post("/v1/teams", json!({"id": "search", "name": "Search", "cost_centre": "CC-4300"})).await.status,
        201
    );
    let manager = app.token(Role::Manager, None, &["search"]);
    let theirs = app.call_as("GET", &format!("/v1/reports/debt?{range}"), None, Some(&manager)).await;
    assert_eq!(theirs.body["groups"], json!([]), "a manager sees only their teams' pages");

    // Browsers sign in once; the token travels in an HttpOnly cookie.
    let form = actix_web::test::TestRequest::post()
        .uri("/login")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", "paydown_csrf=form-value"))
        .set_payload(format!("token={}&csrf=form-value", app.finance_token));
    let signed_in = app.send_raw(form).await;
    assert_eq!(signed_in.status, 303);
    let cookie = actix_web::test::TestRequest::get()
        .uri("/dashboard")
        .insert_header(("cookie", format!("paydown_token={}", app.finance_token)));
    assert_eq!(app.send_raw(cookie).await.status, 200);
    let wrong = actix_web::test::TestRequest::post()
        .uri("/login")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", "paydown_csrf=form-value"))
        .set_payload("token=pdt_wrong&csrf=form-value");
    assert_eq!(app.send_raw(wrong).await.status, 401);
}

/// The dashboard as a browser shows it: rendered by headless Chromium (Debian's package,
/// installed by `.ci/run`), with no network, into a screenshot and a DOM checked for the
/// key elements, at laptop and phone widths.
#[actix_web::test]
async fn the_dashboard_renders_in_headless_chromium() {
    crate::helpers::require_program(
        "chromium",
        "headless Chromium renders the dashboard in this test: install Debian's or Ubuntu's \
         `chromium` package (any build with a `chromium` command on PATH), or leave this test out: \
         cargo nextest run -E 'not test(/chromium/)'",
    );
    let app = TestApp::new(Backend::Sqlite);
    crate::ledger::march_facts(&app).await;
    assert_eq!(app.patch("/v1/people/alice", json!({"loaded_hourly_cost": "60.00"})).await.status, 200);
    app.post("/v1/ledger/accrue", json!({})).await;
    let page = app
        .call_as("GET", "/dashboard?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z", None, Some(&app.finance_token))
        .await;
    let dir = std::env::temp_dir().join(format!("paydown-chromium-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("dashboard.html");
    std::fs::write(&html, page.body.as_str().unwrap()).unwrap();
    let url = format!("file://{}", html.display());
    for (width, height) in [(1280, 1800), (390, 2400)] {
        let shot = dir.join(format!("dashboard-{width}.png"));
        let chromium = |extra: &[String]| {
            std::process::Command::new("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ])
                .arg(format!("--user-data-dir={}", dir.join(format!("profile-{width}")).display()))
                .arg(format!("--window-size={width},{height}"))
                .args(extra)
                .arg(&url)
                .output()
                .expect("chromium must be installed (.ci/run installs Debian's chromium)")
        };
        let screenshot = chromium(&[format!("--screenshot={}", shot.display())]);
        assert!(screenshot.status.success(), "{}", String::from_utf8_lossy(&screenshot.stderr));
        let png = std::fs::read(&shot).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot: {} bytes", png.len());
        let dom = chromium(&["--dump-dom".to_owned()]);
        let dom = String::from_utf8_lossy(&dom.stdout);
        for element in [
            "Cost by team and month",
            "most expensive alerts",
            "out-of-hours bar",
            "Time to acknowledge and resolve",
            "<svg",
        ] {
            assert!(dom.contains(element), "{element} missing from the rendered page at {width}px");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

on_both_backends!(the_cost_model_is_configured_per_team_and_organisation);

/// The loaded cost of a responder without their own comes from their team's default, else
/// the organisation's; the interruption overhead is the organisation's. Figures by hand on
/// the same Saturday-night page as above (paid 110.00, 51 minutes, 2 recovery hours).
async fn the_cost_model_is_configured_per_team_and_organisation(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    app.post("/v1/ledger/accrue", json!({})).await;
    let debt = || async {
        let report = app
            .call_as(
                "GET",
                "/v1/reports/debt?group_by=team&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z",
                None,
                Some(&app.finance_token),
            )
            .await;
        assert_eq!(report.status, 200, "{:?}", report.body);
        let group = &report.body["groups"][0];
        let part = |name: &str| group[name].as_str().unwrap().to_owned();
        (
            [part("responder_time"), part("interruption_overhead"), part("recovery"), part("total")],
            report.body["missing_rates"].clone(),
        )
    };

    // No cost anywhere: only what was paid, and alice is named as uncosted.
    let (parts, missing) = debt().await;
    assert_eq!(parts, ["0", "0", "0", "110.00"].map(String::from), "{parts:?}");
    assert_eq!(missing, json!(["alice"]));

    // Her team's default, 60.00/h: 51.00 time + 15.00 overhead + 120.00 recovery + 110.00 paid.
    let team_cost = json!({"default_loaded_hourly_cost": {"currency": "GBP", "amount": "60.00"}});
    let patched = app.patch("/v1/teams/payments", team_cost).await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["default_loaded_hourly_cost"], json!({"currency": "GBP", "amount": "60.00"}));
    let (parts, missing) = debt().await;
    assert_eq!(parts, ["51.00", "15.00", "120.00", "296.00"].map(String::from), "{parts:?}");
    assert_eq!(missing, json!([]));

    // 30 minutes of overhead for the organisation: 60.00 × 30/60 = 30.00.
    let settings = app.put("/v1/settings/cost", json!({"interruption_overhead_minutes": "30"})).await;
    assert_eq!(settings.status, 200, "{:?}", settings.body);
    assert_eq!(settings.body["interruption_overhead_minutes"], "30");
    let (parts, _) = debt().await;
    assert_eq!(parts, ["51.00", "30.00", "120.00", "311.00"].map(String::from), "{parts:?}");

    // Without the team default, the organisation's catch-all 40.00/h:
    // 40 × 51/60 = 34.00, 40 × 30/60 = 20.00, 40 × 2 = 80.00; with 110.00 paid, 244.00.
    assert_eq!(app.patch("/v1/teams/payments", json!({"default_loaded_hourly_cost": null})).await.status, 200);
    let catch_all = json!({
        "interruption_overhead_minutes": "30",
        "default_loaded_hourly_cost": {"currency": "GBP", "amount": "40.00"}
    });
    assert_eq!(app.put("/v1/settings/cost", catch_all).await.status, 200);
    let (parts, _) = debt().await;
    assert_eq!(parts, ["34.00", "20.00", "80.00", "244.00"].map(String::from), "{parts:?}");
    let read = app.call_as("GET", "/v1/settings/cost", None, Some(&app.finance_token)).await;
    assert_eq!(read.body["default_loaded_hourly_cost"], json!({"currency": "GBP", "amount": "40.00"}));
    assert!(read.body["updated_at"].is_string());

    // Bad settings name the field at fault and change nothing.
    let cases = [
        (json!({"interruption_overhead_minutes": "-5"}), "interruption_overhead_minutes"),
        (json!({"interruption_overhead_minutes": "fifteen"}), "interruption_overhead_minutes"),
        (json!({"interruption_overhead_minutes": 15}), "interruption_overhead_minutes"),
        (json!({"interruption_overhead_minutes": "9999"}), "interruption_overhead_minutes"),
        (
            json!({"default_loaded_hourly_cost": {"currency": "XXX", "amount": "1"}}),
            "default_loaded_hourly_cost.currency",
        ),
        (
            json!({"default_loaded_hourly_cost": {"currency": "GBP", "amount": "-1"}}),
            "default_loaded_hourly_cost.amount",
        ),
        (json!({"default_loaded_hourly_cost": {"currency": "GBP", "amount": "1.005"}}), "default_loaded_hourly_cost"),
        (json!({"overhead": "15"}), "overhead"),
    ];
    for (body, field) in cases {
        let answer = app.put("/v1/settings/cost", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {:?}", answer.body);
        assert_eq!(answer.body["error"]["field"], field, "{body}: {:?}", answer.body);
    }
    let bad_team = app.patch("/v1/teams/payments", json!({"default_loaded_hourly_cost": {"currency": "GBP"}})).await;
    assert_eq!(bad_team.status, 400, "{:?}", bad_team.body);
    let (parts, _) = debt().await;
    assert_eq!(parts, ["34.00", "20.00", "80.00", "244.00"].map(String::from), "unchanged by refused input");
}
