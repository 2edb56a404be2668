//! Issue #18, items 5 and 6: accruals in XLSX, the changes since a period's last export, and
//! exchange rates with a reporting currency for the debt report and the dashboard.

use std::io::Cursor;
use std::process::Command;

use calamine::{Reader, Xlsx, open_workbook_from_rs};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use paydown::domain::role::Role;

on_both_backends!(
    accruals_honour_xlsx_in_the_cli_and_the_api,
    changes_list_what_was_posted_since_the_last_export,
    exchange_rates_are_kept_by_finance_and_bounded,
    debt_is_ranked_in_the_reporting_currency_and_never_mixed,
);

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A GET as finance: (status, content type, extra header value, body).
async fn fetch(app: &TestApp, path: &str, accept: &str) -> (u16, String, Option<String>, Vec<u8>) {
    let request = actix_web::test::TestRequest::get()
        .uri(path)
        .insert_header(("accept", accept.to_owned()))
        .insert_header(("authorization", format!("Bearer {}", app.finance_token)));
    let service =
        actix_web::test::init_service(paydown::http::app(paydown::http::AppState::new(app.store.clone()))).await;
    let response = actix_web::test::call_service(&service, request.to_request()).await;
    let header = |name: &str| response.headers().get(name).map(|value| value.to_str().unwrap().to_owned());
    let content_type = header("content-type").unwrap_or_default();
    let since = header("x-paydown-since-export");
    let status = response.status().as_u16();
    (status, content_type, since, actix_web::test::read_body(response).await.to_vec())
}

fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(args)
        .args(["--database-url", &app.database_url()])
        .output()
        .unwrap()
}

fn sheet_names(bytes: &[u8]) -> Vec<String> {
    let workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("a workbook");
    workbook.sheet_names()
}

/// `paydown export accruals --format xlsx` wrote CSV with exit 0; the API answered CSV to an
/// XLSX `Accept`.
async fn accruals_honour_xlsx_in_the_cli_and_the_api(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    app.post("/v1/ledger/accrue", json!({})).await;

    let dir = std::env::temp_dir().join(format!("paydown-accruals-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("acc.xlsx");
    let output = cli(
        &app,
        &["export", "accruals", "--period", "2026-03", "--format", "xlsx", "--output", path.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let file = std::fs::read(&path).unwrap();
    assert_eq!(&file[..2], b"PK", "an XLSX is a zip, not CSV text");
    assert_eq!(sheet_names(&file), ["accruals"]);
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(file.clone())).unwrap();
    let range = workbook.worksheet_range("accruals").unwrap();
    let total = range.rows().find(|row| row[2] == calamine::Data::String("TOTAL".into())).unwrap();
    assert_eq!(total[5], calamine::Data::Float(135.01), "the control total is a number cell equal to the ledger");
    std::fs::remove_dir_all(&dir).unwrap();

    let (status, content_type, _, by_accept) = fetch(&app, "/v1/reports/accruals?period=2026-03", XLSX).await;
    assert_eq!((status, content_type.as_str()), (200, XLSX));
    assert_eq!(by_accept, file, "the API serves the CLI's bytes");
    let (_, _, _, by_query) = fetch(&app, "/v1/reports/accruals?period=2026-03&format=xlsx", "text/csv").await;
    assert_eq!(by_query, file, "`?format=` overrides `Accept`");
    let (status, content_type, _, csv) = fetch(&app, "/v1/reports/accruals?period=2026-03&format=csv", XLSX).await;
    assert_eq!((status, content_type.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(String::from_utf8(csv).unwrap().starts_with("period,status,cost_centre"));
    let (status, _, _, _) = fetch(&app, "/v1/reports/accruals?period=2026-03&format=pdf", XLSX).await;
    assert_eq!(status, 400);
}

async fn changes_list_what_was_posted_since_the_last_export(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    app.post("/v1/ledger/accrue", json!({})).await;
    let changes_csv = |body: &[u8]| -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
        reader.records().map(|record| record.unwrap().iter().map(str::to_owned).collect()).collect()
    };

    // Never exported: every entry of the period is a change.
    let (status, _, since, before) = fetch(&app, "/v1/reports/changes?period=2026-03", "text/csv").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&before));
    assert_eq!(since, None);
    let rows = changes_csv(&before);
    assert_eq!(rows.iter().filter(|row| row[3] != "TOTAL").count(), 5, "{rows:?}");
    let total = rows.iter().find(|row| row[3] == "TOTAL").unwrap();
    assert_eq!((total[13].as_str(), total[14].as_str()), ("135.01", "GBP"));

    // An export is recorded with exactly the entries it held.
    let (status, _, _, _) = fetch(&app, "/v1/reports/payroll?period=2026-03&layout=long", "text/csv").await;
    assert_eq!(status, 200);
    let record = {
        let mut conn = app.store.conn().unwrap();
        paydown::storage::exports::last_export(&mut conn, "2026-03").unwrap().expect("the export is recorded")
    };
    assert_eq!((record.layout.as_str(), record.format.as_str(), record.entry_count), ("long", "csv", 5));
    assert!(record.exported_by.starts_with("token:"), "the finance token that exported: {record:?}");
    let entry_ids: Vec<String> = app
        .get("/v1/ledger?period=2026-03")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(record.entries_sha256, paydown::storage::exports::entries_hash(&entry_ids));

    let (_, _, since, nothing) = fetch(&app, "/v1/reports/changes?period=2026-03", "text/csv").await;
    assert_eq!(since.as_deref(), Some(record.id.as_str()));
    assert!(changes_csv(&nothing).is_empty(), "nothing changed since: {}", String::from_utf8_lossy(&nothing));

    // A second page in March: only its entries are changes.
    let page = json!({"source": "manual", "external_id": "INC-2", "service": "checkout",
        "triggered_at": "2026-03-14T03:00:00Z", "acknowledged_at": "2026-03-14T03:01:00Z", "acknowledged_by": "alice"});
    assert_eq!(app.post("/v1/pages", page).await.status, 201);
    app.post("/v1/ledger/accrue", json!({})).await;
    let (_, _, _, after) = fetch(&app, "/v1/reports/changes?period=2026-03", "text/csv").await;
    let rows = changes_csv(&after);
    let changed: Vec<&Vec<String>> = rows.iter().filter(|row| row[3] != "TOTAL").collect();
    assert!(!changed.is_empty(), "{rows:?}");
    assert!(changed.iter().all(|row| !entry_ids.contains(&row[3])), "only entries posted after the export: {rows:?}");
    assert!(changed.iter().all(|row| row[2] == record.exported_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));

    // The same in XLSX, from the CLI; and a CLI export resets the count.
    let output = cli(&app, &["export", "changes", "--period", "2026-03", "--format", "xlsx", "--output", "-"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(sheet_names(&output.stdout), ["changes"]);
    let output = cli(&app, &["export", "payroll", "--period", "2026-03", "--format", "xlsx", "--output", "-"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(sheet_names(&output.stdout), ["payroll", "summary", "policies"]);
    let output = cli(&app, &["export", "changes", "--period", "2026-03", "--output", "-"]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 1, "only the header: nothing since");
    let exports = {
        let mut conn = app.store.conn().unwrap();
        paydown::storage::exports::list_exports(&mut conn, "2026-03").unwrap()
    };
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[1].exported_by, "cli");
    assert!(exports[1].entry_count > 5);

    // Finance only; JSON is refused naming the field; an unknown period is 404.
    let manager = app.token(Role::Manager, None, &["payments"]);
    assert_eq!(app.call_as("GET", "/v1/reports/changes?period=2026-03", None, Some(&manager)).await.status, 403);
    let refused =
        app.call_as("GET", "/v1/reports/changes?period=2026-03&format=json", None, Some(&app.finance_token)).await;
    assert_eq!((refused.status, refused.error_field()), (400, Some("format")));
    assert_eq!(fetch(&app, "/v1/reports/changes?period=1999-01", "text/csv").await.0, 404);
}

async fn exchange_rates_are_kept_by_finance_and_bounded(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    let finance = app.finance_token.clone();
    let rate =
        |body: serde_json::Value| async { app.call_as("POST", "/v1/exchange-rates", Some(body), Some(&finance)).await };

    // Without a reporting currency, a rate must say what it converts into.
    let refused = rate(json!({"currency": "INR", "rate": "0.012", "effective_from": "2026-01-01"})).await;
    assert_eq!((refused.status, refused.error_field()), (400, Some("to_currency")));
    let set = app
        .call_as("PUT", "/v1/settings/reporting-currency", Some(json!({"reporting_currency": "USD"})), Some(&finance))
        .await;
    assert_eq!((set.status, set.body["reporting_currency"].as_str()), (200, Some("USD")), "{:?}", set.body);

    let created = rate(json!({"currency": "INR", "rate": "0.012", "effective_from": "2026-01-01"})).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!((created.body["to_currency"].as_str(), created.body["rate"].as_str()), (Some("USD"), Some("0.012")));
    let created =
        rate(json!({"currency": "EUR", "to_currency": "USD", "rate": "1.08", "effective_from": "2026-10-01"})).await;
    assert_eq!(created.status, 201);

    for (body, field) in [
        (json!({"currency": "INR", "rate": "0", "effective_from": "2026-01-01"}), "rate"),
        (json!({"currency": "INR", "rate": "-0.012", "effective_from": "2026-01-01"}), "rate"),
        (json!({"currency": "INR", "rate": "1e-3", "effective_from": "2026-01-01"}), "rate"),
        (json!({"currency": "INR", "rate": "0.0000001", "effective_from": "2026-01-01"}), "rate"),
        (json!({"currency": "INR", "rate": "2000000", "effective_from": "2026-01-01"}), "rate"),
        (json!({"currency": "INR", "rate": "0.01234567891", "effective_from": "2026-01-01"}), "rate"),
        (json!({"currency": "XXX", "rate": "0.012", "effective_from": "2026-01-01"}), "currency"),
        (json!({"currency": "USD", "rate": "1", "effective_from": "2026-01-01"}), "to_currency"),
        (json!({"currency": "INR", "rate": "0.012", "effective_from": "01/01/2026"}), "effective_from"),
        (json!({"currency": "INR", "rate": "0.012", "effective_from": "2200-01-01"}), "effective_from"),
    ] {
        let refused = rate(body.clone()).await;
        assert_eq!((refused.status, refused.error_field()), (400, Some(field)), "{body}: {:?}", refused.body);
    }
    let refused = rate(json!({"currency": "INR", "rate": 0.012, "effective_from": "2026-01-01"})).await;
    assert_eq!(refused.status, 400, "a JSON number is not money: {:?}", refused.body);

    let listed = app.call_as("GET", "/v1/exchange-rates", None, Some(&finance)).await;
    assert_eq!(listed.status, 200);
    let pairs: Vec<(String, String)> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|rate| (rate["currency"].as_str().unwrap().to_owned(), rate["rate"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(pairs, [("INR".to_owned(), "0.012".to_owned()), ("EUR".to_owned(), "1.08".to_owned())]);

    // Finance and admin keep rates; managers read the setting only; engineers nothing.
    let manager = app.token(Role::Manager, None, &["payments"]);
    let engineer = app.token(Role::Engineer, Some("alice"), &[]);
    let body = json!({"currency": "GBP", "rate": "1.27", "effective_from": "2026-01-01"});
    assert_eq!(app.call_as("POST", "/v1/exchange-rates", Some(body.clone()), Some(&manager)).await.status, 403);
    assert_eq!(app.call_as("GET", "/v1/exchange-rates", None, Some(&engineer)).await.status, 403);
    assert_eq!(app.call_as("GET", "/v1/settings/reporting-currency", None, Some(&manager)).await.status, 200);
    assert_eq!(
        app.call_as(
            "PUT",
            "/v1/settings/reporting-currency",
            Some(json!({"reporting_currency": "EUR"})),
            Some(&manager)
        )
        .await
        .status,
        403
    );
    let refused = app
        .call_as("PUT", "/v1/settings/reporting-currency", Some(json!({"reporting_currency": "usd"})), Some(&finance))
        .await;
    assert_eq!((refused.status, refused.error_field()), (400, Some("reporting_currency")));
    assert_eq!(app.call_as("POST", "/v1/exchange-rates", Some(body), Some(&app.admin_token)).await.status, 201);

    // The CLI records and lists the same rates; a bad rate names its flag.
    let output = cli(&app, &["rates", "set", "--currency", "JPY", "--rate", "0.0067", "--from", "2026-06-01"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let output = cli(&app, &["rates", "set", "--currency", "JPY", "--rate", "-1", "--from", "2026-06-01"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--rate"), "{}", String::from_utf8_lossy(&output.stderr));
    let output = cli(&app, &["rates", "list", "--to", "USD"]);
    let listed = String::from_utf8(output.stdout).unwrap();
    assert!(listed.contains("JPY  USD") && listed.contains("0.0067") && listed.contains("INR  USD"), "{listed}");
    let output = cli(&app, &["rates", "reporting-currency"]);
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), "USD");
    // The new routes are in the API document, with their schemas.
    let document = app.get("/openapi.json").await.body;
    for path in ["/v1/exchange-rates", "/v1/settings/reporting-currency", "/v1/reports/changes", "/v1/reports/accruals"]
    {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
    for schema in ["StoredRate", "RateInput", "ReportingSettings", "ReportingInput"] {
        assert!(document["components"]["schemas"][schema].is_object(), "{schema} is in the document");
    }
    let audit = app.call_as("GET", "/v1/audit?entity=exchange_rate", None, Some(&finance)).await;
    assert_eq!(audit.body.as_array().map(Vec::len), Some(4), "{:?}", audit.body);
}

/// Two alerts in two currencies: `index-lag` costs 25,000.00 INR (ravi, 20,000.00 INR an hour,
/// an hour's response plus 15 minutes' interruption), `pod-crashloop` 1,250.00 USD (bob,
/// 1,000.00 USD an hour, the same). By their digits INR ranks first; at 0.012 USD per INR it
/// is 300.00 USD and ranks second.
async fn debt_is_ranked_in_the_reporting_currency_and_never_mixed(backend: Backend) {
    let app = TestApp::new(backend);
    let finance = app.finance_token.clone();
    assert_eq!(
        app.post("/v1/teams", json!({"id": "search", "name": "Search", "cost_centre": "CC-4300"})).await.status,
        201
    );
    assert_eq!(app.post("/v1/services", json!({"id": "index", "name": "Index", "team": "search"})).await.status, 201);
    for (id, currency, cost, zone) in
        [("ravi", "INR", "20000.00", "Asia/Kolkata"), ("bob", "USD", "1000.00", "America/New_York")]
    {
        let person = json!({"id": id, "name": id, "email": format!("{id}@example.com"), "payroll_id": id,
            "team": "search", "timezone": zone, "currency": currency, "loaded_hourly_cost": cost});
        assert_eq!(app.post("/v1/people", person).await.status, 201);
    }
    for (key, person, day) in [("index-lag", "ravi", "10"), ("pod-crashloop", "bob", "12")] {
        let page = json!({"source": "manual", "external_id": key, "service": "index", "alert_key": key,
            "triggered_at": format!("2026-10-{day}T10:00:00Z"), "acknowledged_at": format!("2026-10-{day}T10:00:00Z"),
            "acknowledged_by": person});
        let id = app.post("/v1/pages", page).await.body["id"].as_str().unwrap().to_owned();
        let response = json!({"person": person, "started_at": format!("2026-10-{day}T10:00:00Z"),
            "ended_at": format!("2026-10-{day}T11:00:00Z"), "actionable": true});
        assert_eq!(app.post(&format!("/v1/pages/{id}/responses"), response).await.status, 201);
    }
    let path = "/v1/reports/debt?group_by=alert_key&from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z";
    let report = || async { app.call_as("GET", path, None, Some(&finance)).await.body };
    let keys = |body: &serde_json::Value| -> Vec<(String, bool)> {
        body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|group| (group["key"].as_str().unwrap().to_owned(), group["ranked"].as_bool().unwrap()))
            .collect()
    };

    // No reporting currency: the two are not ranked against each other, and a note says so.
    let body = report().await;
    let totals: Vec<&str> =
        body["groups"].as_array().unwrap().iter().map(|group| group["total"].as_str().unwrap()).collect();
    assert_eq!(totals, ["25000.00", "1250.00"], "{body}");
    assert!(keys(&body).iter().all(|(_, ranked)| !ranked), "{body}");
    assert!(body["reporting"]["notes"][0].as_str().unwrap().contains("no reporting currency"), "{body}");
    assert_eq!(body["reporting"]["total"], serde_json::Value::Null);

    // USD without an INR rate: the INR alert is left out of the ranking and the total.
    let set = app
        .call_as("PUT", "/v1/settings/reporting-currency", Some(json!({"reporting_currency": "USD"})), Some(&finance))
        .await;
    assert_eq!(set.status, 200);
    let body = report().await;
    assert_eq!(keys(&body), [("pod-crashloop".to_owned(), true), ("index-lag".to_owned(), false)], "{body}");
    assert_eq!(body["groups"][1]["reporting"], serde_json::Value::Null);
    assert_eq!(body["reporting"]["total"], "1250.00");
    assert_eq!(body["reporting"]["unconverted"][0]["currency"], "INR");
    assert_eq!(body["reporting"]["unconverted"][0]["total"], "25000.00");
    let note = body["reporting"]["notes"][0].as_str().unwrap();
    assert!(note.contains("INR") && note.contains("left out of the ranking"), "{note}");

    // A rate effective after the range is not used; one in force is, and shown.
    let rate = json!({"currency": "INR", "rate": "0.012", "effective_from": "2026-11-01"});
    assert_eq!(app.call_as("POST", "/v1/exchange-rates", Some(rate), Some(&finance)).await.status, 201);
    assert_eq!(keys(&report().await)[1], ("index-lag".to_owned(), false));
    let rate = json!({"currency": "INR", "rate": "0.012", "effective_from": "2026-01-01"});
    assert_eq!(app.call_as("POST", "/v1/exchange-rates", Some(rate), Some(&finance)).await.status, 201);
    let body = report().await;
    assert_eq!(keys(&body), [("pod-crashloop".to_owned(), true), ("index-lag".to_owned(), true)], "{body}");
    let inr = &body["groups"][1]["reporting"];
    assert_eq!(
        (inr["total"].as_str(), inr["rate"].as_str(), inr["rate_effective_from"].as_str()),
        (Some("300.00"), Some("0.012"), Some("2026-01-01"))
    );
    assert_eq!(body["groups"][1]["total"], "25000.00", "the group keeps its own figure beside the converted one");
    assert_eq!(body["reporting"]["total"], "1550.00");
    assert_eq!(body["reporting"]["rates_used"][0]["rate"], "0.012");
    assert!(body["reporting"]["notes"].as_array().unwrap().is_empty());

    // The CLI's debt report ranks the same way and shows the rate.
    let output = cli(&app, &["report", "debt", "--from", "2026-10-01T00:00:00Z", "--to", "2026-11-01T00:00:00Z"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let ranked = &text[text.find("ranked in USD").expect("a ranking in USD")..];
    let (crashloop, lag) = (ranked.find("pod-crashloop").unwrap(), ranked.find("index-lag").unwrap());
    assert!(crashloop < lag, "{text}");
    assert!(ranked.contains("300.00 USD") && ranked.contains("at 0.012 USD/INR from 2026-01-01"), "{text}");

    // The dashboard's top ten follows the ranking.
    let page =
        app.call_as("GET", "/dashboard?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z", None, Some(&finance)).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("Most expensive alerts (USD)"), "{html}");
}
