//! Payroll exports, accruals and the HTML statement over the API and the CLI.

use std::process::Command;

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(payroll_exports_are_exact_reproducible_and_safe);

async fn raw(app: &TestApp, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let request = actix_web::test::TestRequest::get()
        .uri(path)
        .insert_header(("accept", accept.to_owned()))
        .insert_header(("authorization", format!("Bearer {}", app.finance_token)));
    let response = actix_web::test::call_service(
        &actix_web::test::init_service(paydown::http::app(paydown::http::AppState::new(app.store.clone()))).await,
        request.to_request(),
    )
    .await;
    let status = response.status().as_u16();
    let disposition = response
        .headers()
        .get("content-disposition")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = actix_web::test::read_body(response).await.to_vec();
    (status, disposition, body)
}

async fn payroll_exports_are_exact_reproducible_and_safe(backend: Backend) {
    let app = TestApp::new(backend);
    crate::ledger::march_facts(&app).await;
    // A name a spreadsheet would run as a formula, with a comma and a quote for good measure.
    let name = "=HYPERLINK(\"http://evil.example\",\"Alice, Jr.\")";
    assert_eq!(app.patch("/v1/people/alice", json!({"name": name})).await.status, 200);
    assert_eq!(app.post("/v1/periods/2026-03/close", json!({})).await.status, 200);

    let (status, disposition, csv) = raw(&app, "/v1/reports/payroll?period=2026-03&layout=long", "text/csv").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&csv));
    assert!(disposition.contains("payroll-2026-03-long.csv"), "{disposition}");
    let text = String::from_utf8(csv.clone()).unwrap();
    assert!(text.contains("'=HYPERLINK"), "the formula is neutralised: {text}");
    // Callout 50.00, response 60.00, standby 15.63 + 9.38 = 25.01 and 2 recovery hours.
    for amount in ["50.00", "60.00", "25.01"] {
        assert!(text.contains(amount), "{amount} missing from {text}");
    }
    let (_, _, again) = raw(&app, "/v1/reports/payroll?period=2026-03&layout=long", "text/csv").await;
    assert_eq!(csv, again, "a closed period exports the same bytes every time");
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let names: Vec<String> = reader
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect::<Vec<_>>().join("|"))
        .collect();
    assert!(names.iter().all(|row| row.contains(&format!("'{name}"))), "the name survives the round trip: {names:?}");

    let (status, disposition, xlsx) = raw(
        &app,
        "/v1/reports/payroll?period=2026-03&layout=wide",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    assert_eq!(status, 200);
    assert!(disposition.ends_with(".xlsx\""), "{disposition}");
    assert_eq!(&xlsx[..2], b"PK", "an XLSX is a zip file");
    let (_, _, json_bytes) = raw(&app, "/v1/reports/payroll?period=2026-03&format=json", "*/*").await;
    assert!(serde_json::from_slice::<serde_json::Value>(&json_bytes).is_ok());

    let (status, _, accruals) = raw(&app, "/v1/reports/accruals?period=2026-03", "text/csv").await;
    assert_eq!(status, 200);
    let accruals = String::from_utf8(accruals).unwrap();
    let total = accruals.lines().find(|line| line.contains("TOTAL")).unwrap_or_default().to_owned();
    assert!(total.contains("135.01"), "the control total equals the ledger: {accruals}");
    assert!(accruals.contains("CC-4100"), "booked to the team's cost centre: {accruals}");

    // An open period is provisional, in the file name and in the file.
    let response =
        json!({"person": "alice", "started_at": "2026-03-07T04:00:00Z", "duration_minutes": 15, "actionable": true});
    let page = app.get("/v1/pages?source=manual&external_id=INC-1").await.body[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post(&format!("/v1/pages/{page}/responses"), response).await.status, 201);
    app.post("/v1/ledger/accrue", json!({})).await;
    let (status, disposition, april) = raw(&app, "/v1/reports/payroll?period=2026-04&layout=long", "text/csv").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&april));
    assert!(disposition.contains("PROVISIONAL"), "{disposition}");
    assert!(String::from_utf8(april).unwrap().contains("PROVISIONAL"));

    let (status, _, _) = raw(&app, "/v1/reports/payroll?period=2026-03&layout=nope", "text/csv").await;
    assert_eq!(status, 400);
    let (status, _, _) = raw(&app, "/v1/reports/payroll?period=1999-01", "text/csv").await;
    assert_eq!(status, 404);

    // The CLI writes the same bytes the API serves.
    let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args([
            "export",
            "payroll",
            "--period",
            "2026-03",
            "--layout",
            "long",
            "--format",
            "csv",
            "--output",
            "-",
            "--database-url",
            &app.database_url(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stdout, csv);

    // The engineer's statement as a printable page, the name escaped.
    let (status, _, html) =
        raw(&app, "/v1/people/alice/statement?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z", "text/html").await;
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("<html") && html.contains("@media print"), "printable HTML");
    assert!(!html.contains("<script") && html.contains("=HYPERLINK(&quot;"), "escaped");
}

/// A payroll CSV written a slice of people at a time (as the API and the CLI stream it)
/// is byte for byte the file written at once, in every shipped layout.
#[actix_web::test]
async fn streamed_payroll_csv_equals_the_whole_file() {
    use paydown::reports::export;
    use paydown::storage::report_input;
    let app = TestApp::new(Backend::Sqlite);
    paydown::demo::load_if_empty(&app.store, paydown::demo::DEFAULT_SEED).unwrap();
    {
        let mut conn = app.store.conn().unwrap();
        paydown::ledger::accrue(&mut conn, "test", paydown::http::now()).unwrap();
    }
    let mut conn = app.store.conn().unwrap();
    let people = report_input::payroll_people(&mut conn, "2026-09").unwrap();
    assert!(people.len() > 10, "{people:?}");
    let whole = report_input::payroll_input(&mut conn, "2026-09").unwrap();
    for layout in export::layout_names() {
        let expected = paydown::reports::payroll::write_csv(&export::layout(layout).unwrap(), &whole).unwrap();
        let mut streamed = Vec::new();
        let slices: Vec<Vec<String>> = people.chunks(5).map(<[String]>::to_vec).collect();
        let inputs = slices.iter().map(|slice| {
            report_input::payroll_input_for(&mut conn, "2026-09", Some(slice)).map_err(|error| error.to_string())
        });
        export::stream_payroll_csv::<String>(layout, inputs, &mut |bytes| {
            streamed.extend(bytes);
            Ok(())
        })
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&streamed), String::from_utf8_lossy(&expected), "layout {layout}");
    }
    drop(conn);
    let expected = paydown::reports::payroll::write_csv(&export::layout("long").unwrap(), &whole).unwrap();
    let (status, disposition, body) = raw(&app, "/v1/reports/payroll?period=2026-09&layout=long", "text/csv").await;
    assert_eq!(status, 200);
    assert!(disposition.contains("payroll-2026-09-long-PROVISIONAL.csv"), "{disposition}");
    assert_eq!(body, expected);
}
