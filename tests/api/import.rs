//! `paydown import`: idempotent, every bad row reported with its line, never stopping.

use std::process::Command;

use crate::helpers::{Backend, TestApp, TestDb};

fn paydown(db: &TestDb, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(args)
        .args(["--database-url", &db.url])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}

#[test]
fn importing_pages_twice_changes_nothing_and_names_bad_lines() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let dir = std::env::temp_dir().join(format!("paydown-import-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pages.csv");
        std::fs::write(
            &file,
            "source,external_id,service,title,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at\n\
             manual,H-1,checkout,\"Disk full, db-7\",wake,2026-09-01T02:00:00Z,2026-09-01T02:05:00Z,alice,2026-09-01T03:00:00Z\n\
             manual,H-2,checkout,Bad lane,urgent,2026-09-02T02:00:00Z,,,\n\
             manual,H-3,search,Latency,later,2026-09-03T10:00:00Z,,,\n\
             manual,H-4,checkout,No offset,wake,2026-09-04 02:00,,,\n\
             manual,H-1,checkout,\"Disk full, db-7\",wake,2026-09-01T02:00:00Z,2026-09-01T02:05:00Z,alice,2026-09-01T03:00:00Z\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let (code, output) = paydown(&db, &["import", "pages", path, "--format", "generic"]);
        assert_eq!(code, 3, "rejected rows give exit status 3: {output}");
        assert!(output.contains("5 rows"), "{output}");
        assert!(output.contains("2 created"), "{output}");
        assert!(output.contains("rejected line 3: lane"), "{output}");
        assert!(output.contains("rejected line 5: triggered_at"), "{output}");
        let (code, again) = paydown(&db, &["import", "pages", path]);
        assert_eq!(code, 3, "{again}");
        assert!(again.contains("0 created, 0 updated, 3 unchanged"), "{again}");

        let store = db.store();
        let mut conn = store.conn().unwrap();
        let pages = paydown::storage::pages::list(
            &mut conn,
            &paydown::storage::pages::PageFilter { limit: 10, ..Default::default() },
        )
        .unwrap();
        assert_eq!(pages.len(), 2);
        let disk = pages.iter().find(|page| page.external_id == "H-1").unwrap();
        assert_eq!((disk.title.as_deref(), disk.delivery_count), (Some("Disk full, db-7"), 1));
        assert_eq!(disk.status, paydown::domain::page::PageStatus::Resolved);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[actix_web::test]
async fn importing_shifts_from_csv_and_ics() {
    let app = TestApp::new(Backend::Sqlite);
    app.seed_basics().await;
    let dir = std::env::temp_dir().join(format!("paydown-shifts-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("rota.csv");
    std::fs::write(&csv, "person,role,start,end,schedule\nALICE@example.com,primary,2026-10-05T09:00:00+01:00,2026-10-12T09:00:00+01:00,payments\nzed,primary,2026-10-05T09:00:00Z,2026-10-06T09:00:00Z,payments\n").unwrap();
    let db_url = app_url(&app);
    let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args(["import", "shifts", csv.to_str().unwrap(), "--database-url", &db_url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("1 created") && text.contains("rejected line 3: person: unknown person `zed`"), "{text}");
    let shifts = app.get("/v1/shifts?person=alice").await.body;
    assert_eq!(shifts[0]["start"], "2026-10-05T08:00:00Z");

    // A real Grafana OnCall feed, for a personal calendar bound to alice.
    let ics =
        format!("{}/tests/samples/ics/grafana_oncall/calendar_with_recurring_event.ics", env!("CARGO_MANIFEST_DIR"));
    let import_ics = || {
        Command::new(env!("CARGO_BIN_EXE_paydown"))
            .args(["import", "shifts", &ics, "--person", "alice"])
            .args(["--from", "2021-01-24T00:00:00Z", "--to", "2021-01-31T00:00:00Z", "--database-url", &db_url])
            .output()
            .unwrap()
    };
    let output = import_ics();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("7 created"), "{text}");
    let again = import_ics();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 created, 0 updated, 7 unchanged"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn app_url(app: &TestApp) -> String {
    app.database_url()
}

/// Serves `body` at `/private/TOKEN/feed.ics` (404 elsewhere) on loopback, one connection
/// at a time, for as long as the test runs.
fn serve_feed(body: String) -> u16 {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                line.clear();
            }
            let (status, content) = if request_line.starts_with("GET /private/TOKEN/feed.ics ") {
                ("200 OK", body.as_str())
            } else {
                ("404 Not Found", "no such feed")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{content}",
                content.len()
            );
        }
    });
    port
}

/// An on-call feed by URL, as PagerDuty, Opsgenie and GoAlert publish them: fetched,
/// imported idempotently under a source that hides the URL's token; a feed that answers
/// 404 is a clear error that names the host only.
#[actix_web::test]
async fn importing_shifts_from_a_feed_url() {
    let app = TestApp::new(Backend::Sqlite);
    app.seed_basics().await;
    let ics = std::fs::read_to_string(format!(
        "{}/tests/samples/ics/grafana_oncall/calendar_with_recurring_event.ics",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let port = serve_feed(ics);
    let db_url = app_url(&app);
    let import = |url: String| {
        Command::new(env!("CARGO_BIN_EXE_paydown"))
            .args(["import", "shifts", &url, "--person", "alice"])
            .args(["--from", "2021-01-24T00:00:00Z", "--to", "2021-01-31T00:00:00Z", "--database-url", &db_url])
            .output()
            .unwrap()
    };
    let feed = format!("http://127.0.0.1:{port}/private/TOKEN/feed.ics");
    let output = import(feed.clone());
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("7 created"), "{text}");
    let again = import(feed);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 created, 0 updated, 7 unchanged"));
    let shifts = app.get("/v1/shifts?person=alice&from=2021-01-24T00:00:00Z&to=2021-01-31T00:00:00Z").await.body;
    let sources: std::collections::BTreeSet<String> =
        shifts.as_array().unwrap().iter().map(|shift| shift["source"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sources.len(), 1, "{shifts}");
    let source = sources.into_iter().next().unwrap();
    assert!(source.starts_with(&format!("ics:127.0.0.1:{port}:")) && !source.contains("TOKEN"), "{source}");

    let missing = import(format!("http://127.0.0.1:{port}/private/OTHER-TOKEN/feed.ics"));
    let stderr = String::from_utf8_lossy(&missing.stderr).into_owned();
    assert!(!missing.status.success());
    assert!(stderr.contains("HTTP 404") && stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!stderr.contains("OTHER-TOKEN"), "the URL's secret is not printed: {stderr}");
}

/// More rows than one batch, parsed on one thread and written on another: every row is
/// counted once, bad rows keep their own line numbers across batch boundaries, and the
/// SQLite connection goes back to the pool with its defaults.
#[test]
fn an_import_of_several_batches_keeps_order_line_numbers_and_connection_defaults() {
    use diesel::RunQueryDsl;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let mut csv = String::from("source,external_id,service,lane,triggered_at\n");
        for row in 0..4_500 {
            let lane = if row == 2_500 || row == 4_400 { "urgent" } else { "wake" };
            csv.push_str(&format!("bulk,B-{row},checkout,{lane},2026-09-01T02:00:00Z\n"));
        }
        // The last row repeats the first with a change: it must fold into it, in file order.
        csv.push_str("bulk,B-0,checkout,later,2026-09-01T02:00:00Z\n");
        let store = db.store();
        let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
        let mut seen = Vec::new();
        let report = paydown::import::import_pages(
            &store,
            csv.as_bytes(),
            paydown::ingest::csv_pages::PageCsvFormat::Generic,
            &stamp,
            &mut |rows| seen.push(rows),
        )
        .unwrap();
        assert_eq!(report.rows, 4_501, "{backend:?}");
        assert_eq!((report.created, report.updated, report.unchanged), (4_498, 1, 0), "{backend:?}");
        let lines: Vec<u64> = report.rejected.iter().map(|error| error.line).collect();
        assert_eq!(lines, [2_502, 4_402], "{backend:?}");
        assert_eq!(seen.last(), Some(&4_501));
        assert!(seen.windows(2).all(|pair| pair[0] <= pair[1]), "{seen:?}");
        let mut conn = store.conn().unwrap();
        let pages = paydown::storage::pages::list(
            &mut conn,
            &paydown::storage::pages::PageFilter { limit: 10_000, ..Default::default() },
        )
        .unwrap();
        assert_eq!(pages.len(), 4_498);
        let first = pages.iter().find(|page| page.external_id == "B-0").unwrap();
        assert_eq!((first.lane, first.delivery_count), (paydown::domain::page::Lane::Later, 2));
        if let paydown::storage::AnyConnection::Sqlite(sqlite) = &mut *conn {
            #[derive(diesel::QueryableByName)]
            struct Setting {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                wal_autocheckpoint: i64,
            }
            let setting: Setting = diesel::sql_query("PRAGMA wal_autocheckpoint").get_result(sqlite).unwrap();
            assert_eq!(setting.wal_autocheckpoint, 1_000);
        }
    }
}

/// On SQLite an import drops the per-row page trigger for each batch and marks the days
/// itself: the imported days must be marked for the dashboard on both backends, the
/// trigger must come back exactly as it was, and a page that arrives afterwards must
/// still mark its day through it.
#[test]
fn an_import_marks_its_days_for_the_dashboard_and_leaves_the_page_trigger_as_it_was() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Definition {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let trigger = |conn: &mut paydown::storage::AnyConnection| match conn {
        paydown::storage::AnyConnection::Sqlite(sqlite) => diesel::sql_query(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'rollup_mark_page_insert'",
        )
        .load::<Definition>(sqlite)
        .unwrap(),
        paydown::storage::AnyConnection::Postgresql(_) => Vec::new(),
    };
    let day = |date: &str| {
        chrono::NaiveDate::parse_from_str(date, "%F")
            .unwrap()
            .signed_duration_since(chrono::DateTime::UNIX_EPOCH.date_naive())
            .num_days()
    };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        let mut conn = store.conn().unwrap();
        let before = trigger(&mut conn);
        assert_eq!(before.len(), usize::from(backend == Backend::Sqlite), "{backend:?}");
        assert_eq!(paydown::storage::rollup::dirty_days(&mut conn, None).unwrap(), Vec::<i64>::new());
        let csv = "source,external_id,service,lane,triggered_at\n\
                   bulk,D-1,checkout,wake,2026-09-01T23:59:59Z\n\
                   bulk,D-2,checkout,wake,2026-09-03T00:00:00Z\n\
                   bulk,D-3,checkout,later,2026-09-03T12:00:00Z\n";
        let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
        let report = paydown::import::import_pages(
            &store,
            csv.as_bytes(),
            paydown::ingest::csv_pages::PageCsvFormat::Generic,
            &stamp,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(report.created, 3, "{backend:?}");
        assert_eq!(
            paydown::storage::rollup::dirty_days(&mut conn, None).unwrap(),
            [day("2026-09-01"), day("2026-09-03")],
            "{backend:?}"
        );
        assert_eq!(trigger(&mut conn), before, "{backend:?}");

        let delivery = paydown::domain::page::PageState {
            described_at: "2026-09-05T08:00:00Z".parse().unwrap(),
            service_key: "checkout".into(),
            title: None,
            alert_key: None,
            lane: None,
            triggered_at: "2026-09-05T08:00:00Z".parse().unwrap(),
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
        };
        paydown::storage::pages::record_delivery(&mut conn, "webhook", "W-1", &delivery, &stamp).unwrap();
        assert_eq!(
            paydown::storage::rollup::dirty_days(&mut conn, None).unwrap(),
            [day("2026-09-01"), day("2026-09-03"), day("2026-09-05")],
            "{backend:?}"
        );
    }
}
