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
        assert_eq!(code, 3);
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
    let ics = format!(
        "{}/../shared/samples/ics/grafana_oncall/calendar_with_recurring_event.ics",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args([
            "import",
            "shifts",
            &ics,
            "--person",
            "alice",
            "--from",
            "2021-01-24T00:00:00Z",
            "--to",
            "2021-01-31T00:00:00Z",
            "--database-url",
            &db_url,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("7 created"), "{text}");
    let again = Command::new(env!("CARGO_BIN_EXE_paydown"))
        .args([
            "import",
            "shifts",
            &ics,
            "--person",
            "alice",
            "--from",
            "2021-01-24T00:00:00Z",
            "--to",
            "2021-01-31T00:00:00Z",
            "--database-url",
            &db_url,
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 created, 0 updated, 7 unchanged"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn app_url(app: &TestApp) -> String {
    app.database_url()
}
