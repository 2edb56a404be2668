//! Issue 17: least privilege on PostgreSQL. `deploy/postgres/roles.sql` makes an owner role
//! for migrations and an application role; the application role starts paydown (migrations
//! up to date), works, and cannot switch triggers off or touch ledger and audit rows.

use diesel::Connection;
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::helpers::{Backend, TestApp, postgres_base_url};

#[actix_web::test]
async fn the_application_role_cannot_switch_triggers_off_or_touch_the_ledger() {
    let app = TestApp::new(Backend::Postgres);
    crate::ledger::march_facts(&app).await;
    assert_eq!(app.post("/v1/ledger/accrue", json!({})).await.status, 200);
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let (owner, application) = (format!("pd_owner_{suffix}"), format!("pd_app_{suffix}"));
    let script = include_str!("../../deploy/postgres/roles.sql")
        .replace("paydown_owner", &owner)
        .replace("paydown_app", &application);
    {
        let mut conn = app.store.conn().unwrap();
        assert!(paydown::storage::connected_as_superuser(&mut conn).unwrap(), "the tests' postgres is a superuser");
        conn.batch_execute(&script).unwrap();
    }
    let url = app.database_url();
    let base = postgres_base_url();
    let rest = url.strip_prefix(&base).expect("a test database URL");
    let (scheme, host) = base.split_once("://").unwrap();
    let host = host.split_once('@').map_or(host, |(_, host)| host);
    let as_role = |role: &str| format!("{scheme}://{role}@{host}{rest}");

    // The application role starts paydown: migrations are up to date and left alone.
    let store = paydown::storage::Store::open_with_pool_size(&as_role(&application), 2).unwrap();
    assert_eq!(store.migrate().unwrap(), Vec::<String>::new());
    let mut conn = store.conn().unwrap();
    assert!(!paydown::storage::connected_as_superuser(&mut conn).unwrap());
    let pages = paydown::storage::pages::list(
        &mut conn,
        &paydown::storage::pages::PageFilter { limit: 10, ..Default::default() },
    )
    .unwrap();
    assert_eq!(pages.len(), 1);
    drop(conn);
    let refused = |sql: &str| {
        let mut conn = store.conn().unwrap();
        let error = conn.batch_execute(sql).expect_err(sql).to_string();
        assert!(error.contains("permission denied"), "{sql}: {error}");
    };
    refused("SET session_replication_role = replica");
    refused("UPDATE ledger_entries SET amount_minor = 1");
    refused("DELETE FROM ledger_entries");
    refused("TRUNCATE ledger_entries");
    refused("UPDATE audit_log SET actor = 'forged'");
    refused("DELETE FROM audit_log");
    refused("DELETE FROM pay_periods");
    refused("CREATE TABLE sneaky (id TEXT)");
    // The application works as that role: a new page, a response, an accrual, a close.
    {
        let service =
            actix_web::test::init_service(paydown::http::app(paydown::http::AppState::new(store.clone()))).await;
        let call = |method: &str, path: &str, body: serde_json::Value, token: &str| {
            actix_web::test::TestRequest::default()
                .method(method.parse().unwrap())
                .uri(path)
                .insert_header(("authorization", format!("Bearer {token}")))
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string())
                .to_request()
        };
        let page = json!({"source": "manual", "external_id": "APP-1", "service": "checkout",
            "triggered_at": "2026-03-14T03:00:00Z", "acknowledged_at": "2026-03-14T03:05:00Z",
            "acknowledged_by": "alice", "resolved_at": "2026-03-14T03:40:00Z"});
        for (method, path, body, token, expected) in [
            ("POST", "/v1/pages", page, &app.admin_token, 201),
            ("POST", "/v1/ledger/accrue", json!({}), &app.finance_token, 200),
            ("POST", "/v1/periods/2026-03/approve", json!({"reason": "reviewed"}), &app.finance_token, 200),
            ("POST", "/v1/periods/2026-03/close", json!({"reason": "sent"}), &app.finance_token, 200),
        ] {
            let response = actix_web::test::call_service(&service, call(method, path, body, token)).await;
            let status = response.status().as_u16();
            let text = String::from_utf8_lossy(&actix_web::test::read_body(response).await).into_owned();
            assert_eq!(status, expected, "{method} {path} as the application role: {text}");
        }
    }
    // The owner role is no superuser either.
    let mut owner_conn = diesel::PgConnection::establish(&as_role(&owner)).unwrap();
    assert!(owner_conn.batch_execute("SET session_replication_role = replica").is_err());
    drop(owner_conn);
    drop(store);
    let ledger = app.get("/v1/ledger?period=2026-03").await.body;
    assert!(ledger.as_array().unwrap().len() >= 3, "the ledger grew by appending: {ledger:?}");

    drop(app);
    let mut admin = diesel::PgConnection::establish(&format!("{base}/postgres")).unwrap();
    admin.batch_execute(&format!("DROP ROLE IF EXISTS {application}; DROP ROLE IF EXISTS {owner}")).unwrap();
}

#[actix_web::test]
async fn sqlite_has_no_superuser() {
    let app = TestApp::new(Backend::Sqlite);
    let mut conn = app.store.conn().unwrap();
    assert!(!paydown::storage::connected_as_superuser(&mut conn).unwrap());
}
