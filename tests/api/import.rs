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

/// Imports a generic pages CSV through the library, as `paydown import pages` does.
fn import_generic(
    store: &paydown::storage::Store,
    csv: &str,
    stamp: &paydown::storage::Stamp,
) -> paydown::import::ImportReport {
    paydown::import::import_pages(
        store,
        csv.as_bytes(),
        paydown::ingest::csv_pages::PageCsvFormat::Generic,
        stamp,
        &mut |_| {},
    )
    .unwrap()
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
        // Two full batches and part of a third, with a bad row in the second and the third.
        let batch = paydown::storage::import::BATCH_ROWS;
        let (rows, bad) = (2 * batch + 500, [batch + 500, 2 * batch + 400]);
        let mut csv = String::from("source,external_id,service,lane,triggered_at\n");
        for row in 0..rows {
            let lane = if bad.contains(&row) { "urgent" } else { "wake" };
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
        let (rows, bad) = (rows as u64, bad.map(|row| row as u64));
        assert_eq!(report.rows, rows + 1, "{backend:?}");
        assert_eq!((report.created as u64, report.updated, report.unchanged), (rows - 2, 1, 0), "{backend:?}");
        let lines: Vec<u64> = report.rejected.iter().map(|error| error.line).collect();
        assert_eq!(lines, bad.map(|row| row + 2), "{backend:?}");
        assert_eq!(seen.last(), Some(&(rows + 1)));
        assert!(seen.len() >= 3, "{backend:?}: progress after each batch: {seen:?}");
        assert!(seen.windows(2).all(|pair| pair[0] <= pair[1]), "{seen:?}");
        let mut conn = store.conn().unwrap();
        let pages = paydown::storage::pages::list(
            &mut conn,
            &paydown::storage::pages::PageFilter { limit: 100_000, ..Default::default() },
        )
        .unwrap();
        assert_eq!(pages.len() as u64, rows - 2);
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
        let report = import_generic(&store, csv, &stamp);
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

/// An imported page is one row: the delivery it was made from stays on the page
/// (`pages.first_delivery`: `''` when the page's own columns say exactly what the source
/// said, else the payload) until something refolds the page. A refold moves it into
/// `page_deliveries` first, so nothing the source said is lost and re-imports still
/// find it.
#[test]
fn an_imported_page_keeps_its_delivery_on_itself_until_a_refold_moves_it() {
    use diesel::prelude::*;
    use paydown::storage::schema::{page_deliveries, pages};
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = db.store();
        let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
        let mut conn = store.conn().unwrap();
        let service = |id: &str| paydown::storage::services::NewService { id: id.into(), name: id.into(), team: None };
        paydown::storage::services::create(&mut conn, &service("checkout"), &stamp).unwrap();
        let map = |conn: &mut paydown::storage::AnyConnection, external: &str| {
            paydown::storage::mappings::create(
                conn,
                paydown::storage::mappings::MappingKind::Service,
                external,
                "checkout",
                &stamp,
            )
            .unwrap()
        };
        map(&mut conn, "chk-legacy");
        let import = |csv: &str| import_generic(&store, csv, &stamp);
        let outcome = |report: paydown::import::ImportReport| (report.created, report.updated, report.unchanged);
        let first = "source,external_id,service,lane,triggered_at,acknowledged_at,acknowledged_by\n\
                     bulk,I-1,checkout,wake,2026-09-01T02:00:00Z,,\n\
                     bulk,I-2,chk-legacy,wake,2026-09-02T02:00:00Z,,\n\
                     bulk,I-3,checkout,,2026-09-03T02:00:00Z,,\n\
                     bulk,I-4,unknown-svc,later,2026-09-04T02:00:00.5Z,2026-09-04T02:01:00Z,alice\n";
        assert_eq!(outcome(import(first)), (4, 0, 0), "{backend:?}");

        let kept = |conn: &mut paydown::storage::AnyConnection, external_id: &str| -> Option<String> {
            pages::table.filter(pages::external_id.eq(external_id)).select(pages::first_delivery).first(conn).unwrap()
        };
        let deliveries = |conn: &mut paydown::storage::AnyConnection, external_id: &str| -> Vec<String> {
            page_deliveries::table
                .inner_join(pages::table)
                .filter(pages::external_id.eq(external_id))
                .select(page_deliveries::payload)
                .load(conn)
                .unwrap()
        };
        assert_eq!(page_deliveries::table.count().get_result::<i64>(&mut conn).unwrap(), 0, "{backend:?}");
        assert_eq!(kept(&mut conn, "I-1").as_deref(), Some(""), "{backend:?}: the columns say it all");
        assert_eq!(kept(&mut conn, "I-4").as_deref(), Some(""), "{backend:?}: unmapped, named lane, whole µs");
        // Mapped on the way in: the page names paydown's service, the payload the source's.
        let legacy = kept(&mut conn, "I-2").unwrap();
        assert!(legacy.contains("\"service_key\":\"chk-legacy\""), "{backend:?}: {legacy}");
        let page = |conn: &mut paydown::storage::AnyConnection, external_id: &str| {
            let filter = paydown::storage::pages::PageFilter {
                external_id: Some(external_id.into()),
                limit: 1,
                ..Default::default()
            };
            paydown::storage::pages::list(conn, &filter).unwrap().remove(0)
        };
        assert_eq!(page(&mut conn, "I-2").service, "checkout", "{backend:?}");
        // No lane: the column would say `wake`, the source said nothing.
        let laneless = kept(&mut conn, "I-3").unwrap();
        assert!(laneless.contains("\"lane\":null"), "{backend:?}: {laneless}");

        assert_eq!(outcome(import(first)), (0, 0, 4), "{backend:?}: the same file again");

        // A mapping refolds I-4: its delivery moves out first, and keeps the source's name.
        map(&mut conn, "unknown-svc");
        assert_eq!(page(&mut conn, "I-4").service, "checkout", "{backend:?}");
        assert_eq!(kept(&mut conn, "I-4"), None, "{backend:?}");
        let moved = deliveries(&mut conn, "I-4");
        assert_eq!(moved.len(), 1, "{backend:?}");
        let moved: paydown::domain::page::PageState = serde_json::from_str(&moved[0]).unwrap();
        assert_eq!(moved.service_key, "unknown-svc", "{backend:?}");
        assert_eq!(moved.acknowledged_by.as_deref(), Some("alice"), "{backend:?}");
        assert_eq!(moved.triggered_at, "2026-09-04T02:00:00.5Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());

        // A second delivery of I-1 folds with the first, which moves into page_deliveries.
        let second = "source,external_id,service,lane,triggered_at,acknowledged_at,acknowledged_by\n\
                      bulk,I-1,checkout,wake,2026-09-01T02:00:00Z,2026-09-01T02:03:00Z,ben\n";
        assert_eq!(outcome(import(second)), (0, 1, 0), "{backend:?}");
        let acknowledged = page(&mut conn, "I-1");
        assert_eq!(acknowledged.delivery_count, 2, "{backend:?}");
        assert_eq!(acknowledged.acknowledged_by.as_deref(), Some("ben"), "{backend:?}");
        assert_eq!(kept(&mut conn, "I-1"), None, "{backend:?}");
        assert_eq!(deliveries(&mut conn, "I-1").len(), 2, "{backend:?}");

        // Every delivery is still found where it now lives: nothing is stored twice.
        assert_eq!(outcome(import(first)), (0, 0, 4), "{backend:?}");
        assert_eq!(outcome(import(second)), (0, 0, 1), "{backend:?}");
        assert_eq!(page_deliveries::table.count().get_result::<i64>(&mut conn).unwrap(), 3, "{backend:?}");
    }
}

/// Going back below the migration that added `pages.first_delivery` turns every delivery
/// kept on a page into a `page_deliveries` row that folds to the same page; and an import
/// through a pool of one connection (no spare one for checkpoints) still imports.
#[test]
fn reverting_the_first_delivery_migration_keeps_every_delivery() {
    use diesel::prelude::*;
    use paydown::storage::schema::page_deliveries;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let store = paydown::storage::Store::open_with_pool_size(&db.url, 1).unwrap();
        let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
        let csv = "source,external_id,service,title,lane,triggered_at,acknowledged_at,acknowledged_by,resolved_at\n\
                   bulk,R-1,checkout,\"Disk \"\"full\"\"\",wake,2026-09-01T02:00:00.25Z,2026-09-01T02:05:00Z,alice,\n\
                   bulk,R-2,search,,,2026-09-02T02:00:00Z,,,2026-09-02T03:00:00Z\n";
        let report = import_generic(&store, csv, &stamp);
        assert_eq!(report.created, 2, "{backend:?}");
        let list = |store: &paydown::storage::Store| {
            let mut conn = store.conn().unwrap();
            let filter = paydown::storage::pages::PageFilter { limit: 10, ..Default::default() };
            paydown::storage::pages::list(&mut conn, &filter).unwrap()
        };
        let before = list(&store);
        // Later migrations are reverted first, down to the one that added first_delivery.
        let mut reverted = store.revert_last_migration().unwrap();
        while !reverted.replace('-', "").starts_with("20261124000009") {
            reverted = store.revert_last_migration().unwrap();
        }
        assert!(reverted.replace('-', "").starts_with("20261124000009"), "{backend:?}: {reverted}");
        let payloads: Vec<String> = {
            let mut conn = store.conn().unwrap();
            page_deliveries::table.select(page_deliveries::payload).load(&mut *conn).unwrap()
        };
        assert_eq!(payloads.len(), 2, "{backend:?}");
        let mut states: Vec<paydown::domain::page::PageState> =
            payloads.iter().map(|payload| serde_json::from_str(payload).unwrap()).collect();
        states.sort_by_key(|state| state.triggered_at);
        assert_eq!(states[0].title.as_deref(), Some("Disk \"full\""), "{backend:?}");
        assert_eq!(states[0].triggered_at, "2026-09-01T02:00:00.25Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
        assert_eq!(states[0].acknowledged_by.as_deref(), Some("alice"), "{backend:?}");
        assert_eq!(states[1].lane, None, "{backend:?}: the payload kept the missing lane");
        assert_eq!(states[1].resolved_at.map(|at| at.to_rfc3339()), Some("2026-09-02T03:00:00+00:00".into()));
        store.migrate().unwrap();
        // A repeat of each delivery refolds its page from the rows the migration wrote:
        // the pages are as they were.
        {
            let mut conn = store.conn().unwrap();
            for (external_id, state) in ["R-1", "R-2"].into_iter().zip(&states) {
                paydown::storage::pages::record_delivery(&mut conn, "bulk", external_id, state, &stamp).unwrap();
            }
        }
        let after = list(&store);
        let comparable = |pages: Vec<paydown::storage::pages::Page>| -> Vec<_> {
            pages
                .into_iter()
                .map(|page| {
                    (
                        page.id,
                        page.service,
                        page.title,
                        page.lane,
                        page.status,
                        page.triggered_at,
                        page.acknowledged_by,
                        page.resolved_at,
                    )
                })
                .collect()
        };
        assert_eq!(comparable(after), comparable(before), "{backend:?}");
    }
}

crate::on_both_backends!(a_shift_import_across_statements_creates_updates_and_skips_each_row_once);

/// Shifts go in multi-row statements of 500: a row that repeats an earlier one of the same
/// file (in the same statement or the next), a changed row and an unchanged one are each
/// counted once, what the file says last is what is stored, and the journal names the
/// person from their earliest new shift.
async fn a_shift_import_across_statements_creates_updates_and_skips_each_row_once(backend: Backend) {
    use chrono::{Duration, TimeZone, Utc};
    use diesel::prelude::*;
    use paydown::domain::shift::ShiftRole;
    use paydown::ingest::rows::ImportedShift;
    use paydown::storage::schema::{pay_journal, shifts};

    let app = TestApp::new(backend);
    app.seed_basics().await;
    let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
    let first_start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let shift = |n: i64, hours: i64| ImportedShift {
        person_key: "alice@example.com".into(),
        role: ShiftRole::Primary,
        schedule: Some("payments".into()),
        start: first_start + Duration::days(n),
        end: first_start + Duration::days(n) + Duration::hours(hours),
        source: "rota".into(),
        external_id: format!("S-{n}"),
    };
    // 1,200 distinct shifts; S-10 repeated in the same statement, S-20 changed in the next one.
    let mut rows: Vec<_> = (0..1_200).map(|n| shift(n, 8)).collect();
    rows.insert(300, shift(10, 8));
    rows.insert(700, shift(20, 12));
    {
        let mut conn = app.store.conn().unwrap();
        diesel::delete(pay_journal::table).execute(&mut conn).unwrap();
    }
    let report = paydown::import::import_shifts(&app.store, rows.clone().into_iter().map(Ok), &stamp).unwrap();
    assert_eq!((report.created, report.updated, report.unchanged), (1_200, 1, 1), "{backend:?}");
    let mut conn = app.store.conn().unwrap();
    let stored: i64 = shifts::table.filter(shifts::person_id.eq("alice")).count().get_result(&mut conn).unwrap();
    assert_eq!(stored, 1_200, "{backend:?}");
    let s20_end: chrono::NaiveDateTime =
        shifts::table.filter(shifts::external_id.eq("S-20")).select(shifts::end_at).first(&mut conn).unwrap();
    assert_eq!(s20_end, (first_start + Duration::days(20) + Duration::hours(12)).naive_utc(), "{backend:?}");
    let journaled: Vec<(String, chrono::NaiveDateTime)> =
        pay_journal::table.select((pay_journal::person_id, pay_journal::from_at)).load(&mut conn).unwrap();
    assert!(journaled.contains(&("alice".to_owned(), first_start.naive_utc())), "{backend:?}: {journaled:?}");

    // Again, the same file: nothing new; the two S-20 rows disagree, so one of them updates.
    let again = paydown::import::import_shifts(&app.store, rows.into_iter().map(Ok), &stamp).unwrap();
    assert_eq!((again.created, again.updated + again.unchanged), (0, 1_202), "{backend:?}");
}

/// Finding (2026-12-03): a bulk import put SQLite's library defaults back on its pooled
/// connection (a 2 MB page cache, statement journals in temporary files), not the pool's,
/// so whatever used that connection next (the accrual worker, a request) ran slower.
#[test]
fn a_bulk_import_gives_its_connection_back_with_the_pools_settings() {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = BigInt)]
        value: i64,
    }
    let db = TestDb::new(Backend::Sqlite);
    let store = db.store();
    let mut conn = store.conn().unwrap();
    use paydown::storage::AnyConnection;
    let read = |conn: &mut AnyConnection, pragma: &str| -> i64 {
        let AnyConnection::Sqlite(c) = conn else { unreachable!("a SQLite store") };
        diesel::sql_query(format!("SELECT {pragma} AS value FROM pragma_{pragma}()"))
            .get_result::<Setting>(c)
            .unwrap()
            .value
    };
    let pool = (read(&mut conn, "cache_size"), read(&mut conn, "temp_store"));
    assert_eq!(pool, (-16_384, 2), "the pool's own: 16 MiB, statement journals in memory");
    paydown::storage::import::prepare_connection(&mut conn).unwrap();
    assert_eq!(read(&mut conn, "cache_size"), -262_144, "the import's own");
    paydown::storage::import::finish_connection(&mut conn).unwrap();
    assert_eq!((read(&mut conn, "cache_size"), read(&mut conn, "temp_store")), pool);
}

crate::on_both_backends!(a_shifts_csv_streams_through_batches_and_names_each_rejected_line);

/// A shifts file is parsed as it is written, a batch of 5,000 rows at a time: a row for an
/// unknown person in a later batch, and a malformed one after it, are rejected with their
/// own line numbers; a person is found by id, by name in any case and by email; a row
/// before go-live is counted.
async fn a_shifts_csv_streams_through_batches_and_names_each_rejected_line(backend: Backend) {
    use chrono::{Duration, TimeZone, Utc};
    use diesel::prelude::*;
    use paydown::storage::schema::shifts;

    let app = TestApp::new(backend);
    app.seed_basics().await;
    let first_start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let keys = ["alice", "ALICE", "Alice@Example.com", "aLiCe"];
    let mut text = String::from("person,role,start,end,external_id\n");
    for n in 0..12_000_i64 {
        // Line n + 2: line 7,002 names nobody, line 11,002 has no end.
        let start = first_start + Duration::hours(n);
        let person = if n == 7_000 { "zed" } else { keys[usize::try_from(n).unwrap() % keys.len()] };
        let end = if n == 11_000 { String::new() } else { (start + Duration::minutes(30)).to_rfc3339() };
        text.push_str(&format!("{person},primary,{},{end},S-{n}\n", start.to_rfc3339()));
    }
    let go_live = app.put("/v1/settings/pay-run", serde_json::json!({"pay_from": "2026-01-07"})).await;
    assert_eq!(go_live.status, 200, "{:?}", go_live.body);
    let stamp = paydown::storage::Stamp::new("test", paydown::http::now());
    let rows = paydown::ingest::csv_shifts::shifts_from_csv(text.as_bytes(), "rota").unwrap();
    let report = paydown::import::import_shifts(&app.store, rows, &stamp).unwrap();
    assert_eq!((report.rows, report.created, report.updated, report.unchanged), (12_000, 11_998, 0, 0), "{backend:?}");
    let rejected: Vec<(u64, &str)> = report.rejected.iter().map(|error| (error.line, error.field.as_str())).collect();
    assert_eq!(rejected, [(7_002, "person"), (11_002, "end")], "{backend:?}");
    // Before 2026-01-07 everywhere (2026-01-06T10:00Z, UTC+14): the 25 starting up to 09:00.
    assert_eq!(report.before_pay_from, 25, "{backend:?}");
    let mut conn = app.store.conn().unwrap();
    let alices: i64 = shifts::table.filter(shifts::person_id.eq("alice")).count().get_result(&mut conn).unwrap();
    assert_eq!(alices, 11_998, "{backend:?}");
}
