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
    assert_eq!(app.approve_and_close("2026-03").await.status, 200);

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

/// A payroll export written a slice of people at a time (as the API and the CLI stream it)
/// is byte for byte the file written at once, in every shipped layout and every format; the
/// API's streamed XLSX and JSON are those bytes too.
#[actix_web::test]
async fn streamed_payroll_exports_equal_the_whole_file() {
    use paydown::reports::export::{self, Format};
    use paydown::storage::report_input;
    let app = TestApp::new(Backend::Sqlite);
    paydown::demo::load_if_empty(&app.store, paydown::demo::DEFAULT_SEED).unwrap();
    {
        let mut conn = app.store.conn().unwrap();
        paydown::accrual::accrue(&mut conn, "test", paydown::http::now()).unwrap();
    }
    let mut conn = app.store.conn().unwrap();
    let people = report_input::payroll_people(&mut conn, "2026-09").unwrap();
    assert!(people.len() > 10, "{people:?}");
    let whole = report_input::payroll_input(&mut conn, "2026-09").unwrap();
    let mut expected_files = Vec::new();
    for format in [Format::Csv, Format::Xlsx, Format::Json] {
        for layout in export::layout_names() {
            let (_, expected) = export::payroll_file(std::path::Path::new("reports"), layout, format, &whole).unwrap();
            let slices: Vec<Vec<String>> = people.chunks(5).map(<[String]>::to_vec).collect();
            let inputs = slices.iter().map(|slice| {
                report_input::payroll_input_for(&mut conn, "2026-09", Some(slice)).map_err(|error| error.to_string())
            });
            let streamed = export::stream_payroll::<String, _>(
                std::path::Path::new("reports"),
                layout,
                format,
                inputs,
                Vec::new(),
            )
            .unwrap();
            assert!(streamed == expected, "layout {layout}, {format:?}: the streamed file differs");
            if layout == "long" {
                expected_files.push((format, expected));
            }
        }
    }
    drop(conn);
    for (format, expected) in expected_files {
        let accept = format.content_type();
        let (status, disposition, body) = raw(&app, "/v1/reports/payroll?period=2026-09&layout=long", accept).await;
        assert_eq!(status, 200);
        let name = format!("payroll-2026-09-long-PROVISIONAL.{}", format.extension());
        assert!(disposition.contains(&name), "{disposition}");
        assert!(body == expected, "{format:?} over HTTP differs from the file");
    }
    // The JSON is one document: columns and rows line up.
    let (_, json) = export::payroll_file(std::path::Path::new("reports"), "wide", Format::Json, &whole).unwrap();
    let document: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let columns = document["columns"].as_array().unwrap().len();
    let rows = document["rows"].as_array().unwrap();
    assert!(rows.len() > 10 && rows.iter().all(|row| row.as_array().unwrap().len() == columns));
}

/// A layout that can't carry the period's data fails the export whole, in every format:
/// one currency per slice must not hide two in the file, and the CLI leaves no partial file.
#[actix_web::test]
async fn an_unexportable_payroll_fails_whole() {
    use paydown::reports::export::Format;
    use paydown::storage::report_input;
    let app = TestApp::new(Backend::Sqlite);
    paydown::demo::load_if_empty(&app.store, paydown::demo::DEFAULT_SEED).unwrap();
    {
        let mut conn = app.store.conn().unwrap();
        paydown::accrual::accrue(&mut conn, "test", paydown::http::now()).unwrap();
    }
    // The demo pays in several currencies; the long layout without its currency column can't say which.
    let text = paydown::reports::layout::builtin_layouts()
        .into_iter()
        .find(|(name, _)| *name == "long")
        .unwrap()
        .1
        .replace("field = \"currency\"", "field = \"period\"")
        .replace("name = \"long\"", "name = \"no_currency\"");
    let layout = paydown::reports::layout::load_layout(&text).unwrap();
    let mut conn = app.store.conn().unwrap();
    let people = report_input::payroll_people(&mut conn, "2026-09").unwrap();
    for format in [Format::Csv, Format::Xlsx, Format::Json] {
        let mut writer = paydown::reports::payroll::PayrollWriter::new(&layout, format, Vec::new());
        let error = people
            .chunks(1)
            .find_map(|slice| {
                let input = report_input::payroll_input_for(&mut conn, "2026-09", Some(slice)).unwrap();
                writer.write(&input).err()
            })
            .unwrap_or_else(|| panic!("{format:?}: the export was written"));
        assert!(error.to_string().contains("no `currency` column"), "{error}");
    }
    drop(conn);

    let dir = tempdir();
    std::fs::create_dir_all(dir.join("payroll")).unwrap();
    std::fs::write(dir.join("payroll").join("no_currency.toml"), &text).unwrap();
    let output_path = dir.join("out.xlsx");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(["export", "payroll", "--period", "2026-09", "--layout", "no_currency", "--format", "xlsx"])
        .arg("--output")
        .arg(&output_path)
        .args(["--database-url", &app.database_url()])
        .env("PAYDOWN_REPORTS_DIR", &dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no `currency` column"), "{stderr}");
    assert!(!output_path.exists(), "a failed export leaves no partial file");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("paydown-layouts-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
