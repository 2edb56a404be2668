//! Probes and the API document.

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(probes_answer_and_the_api_document_is_served);

async fn probes_answer_and_the_api_document_is_served(backend: Backend) {
    let app = TestApp::new(backend);
    assert_eq!(app.get("/healthz").await.status, 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["database"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });

    let document = app.get("/openapi.json").await;
    assert_eq!(document.status, 200);
    for path in [
        "/v1/pages",
        "/v1/pages/{id}",
        "/v1/pages/{id}/responses",
        "/v1/people",
        "/v1/people/{id}",
        "/v1/teams",
        "/v1/services",
        "/v1/shifts",
        "/v1/shifts/batch",
        "/healthz",
        "/readyz",
        "/v1/sync/status",
    ] {
        assert!(document.body["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(
        document.body["components"]["schemas"]["PageInput"]["required"]
            .as_array()
            .unwrap()
            .contains(&"triggered_at".into())
    );

    let docs = app.get("/docs/").await;
    assert_eq!(docs.status, 200);
    let html = docs.body.as_str().unwrap_or_default();
    assert!(html.contains("swagger-ui"), "the docs page must be Swagger UI");
    assert!(!html.contains("https://"), "the docs page must load nothing from the internet");
}
