//! Issue 17: browser sessions. The cookie authenticates the HTML pages only, the JSON API
//! takes the `Authorization` header and JSON bodies sent as `application/json` only, the
//! login form carries an anti-forgery value and is checked for its origin, the cookie is
//! `Secure` over TLS and expires, there is a logout, and `/login` takes the roles with pages.

use actix_web::test::{self, TestRequest};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use paydown::domain::role::Role;

on_both_backends!(the_cookie_cannot_be_ridden, login_is_for_pages_and_forms_only);

/// Status, `Set-Cookie` headers and body text of one request.
async fn exchange(app: &TestApp, request: TestRequest) -> (u16, Vec<String>, String) {
    let state = paydown::http::AppState::new(app.store.clone());
    let service = test::init_service(paydown::http::app(state)).await;
    let response = test::call_service(&service, request.to_request()).await;
    let status = response.status().as_u16();
    let cookies = response
        .headers()
        .get_all(actix_web::http::header::SET_COOKIE)
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let body = String::from_utf8_lossy(&test::read_body(response).await).into_owned();
    (status, cookies, body)
}

fn login(token: &str, csrf: &str) -> TestRequest {
    TestRequest::post()
        .uri("/login")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", format!("paydown_csrf={csrf}")))
        .set_payload(format!("token={token}&csrf={csrf}"))
}

async fn the_cookie_cannot_be_ridden(backend: Backend) {
    let app = TestApp::new(backend);
    let tokens_before = app.call_as("GET", "/v1/tokens", None, Some(&app.admin_token)).await.body;
    // The attack, exactly: a page on another site posts as the signed-in admin.
    let attack = TestRequest::post()
        .uri("/v1/tokens")
        .insert_header(("cookie", format!("paydown_token={}", app.admin_token)))
        .insert_header(("origin", "http://evil.example"))
        .insert_header(("content-type", "text/plain"))
        .set_payload(json!({"name": "backdoor", "role": "admin"}).to_string());
    let (status, _, body) = exchange(&app, attack).await;
    assert_eq!(status, 401, "{body}");
    // The cookie authenticates no API call, same site or not, JSON or not.
    for request in [
        TestRequest::post()
            .uri("/v1/tokens")
            .insert_header(("cookie", format!("paydown_token={}", app.admin_token)))
            .insert_header(("content-type", "application/json"))
            .set_payload(json!({"name": "backdoor", "role": "admin"}).to_string()),
        TestRequest::get().uri("/v1/pages").insert_header(("cookie", format!("paydown_token={}", app.finance_token))),
    ] {
        assert_eq!(exchange(&app, request).await.0, 401);
    }
    // With the header, a body that is not declared JSON is refused before it is read.
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut request = TestRequest::post()
            .uri("/v1/tokens")
            .insert_header(("authorization", format!("Bearer {}", app.admin_token)))
            .set_payload(json!({"name": "backdoor", "role": "admin"}).to_string());
        if let Some(content_type) = content_type {
            request = request.insert_header(("content-type", content_type));
        }
        let reply = app.send_raw(request).await;
        assert_eq!((reply.status, reply.error_code()), (415, Some("unsupported_media_type")), "{content_type:?}");
    }
    let tokens_after = app.call_as("GET", "/v1/tokens", None, Some(&app.admin_token)).await.body;
    assert_eq!(tokens_before, tokens_after, "no token was made");
    // `application/json; charset=utf-8` is JSON.
    let made = app
        .send_raw(
            TestRequest::post()
                .uri("/v1/tokens")
                .insert_header(("authorization", format!("Bearer {}", app.admin_token)))
                .insert_header(("content-type", "application/json; charset=utf-8"))
                .set_payload(json!({"name": "reporting", "role": "finance"}).to_string()),
        )
        .await;
    assert_eq!(made.status, 201);
    // The dashboard, an HTML page, takes the cookie.
    let page =
        TestRequest::get().uri("/dashboard").insert_header(("cookie", format!("paydown_token={}", app.finance_token)));
    assert_eq!(exchange(&app, page).await.0, 200);
}

async fn login_is_for_pages_and_forms_only(backend: Backend) {
    let app = TestApp::new(backend);
    app.seed_basics().await;
    // The form sets its anti-forgery cookie and carries the same value.
    let (status, cookies, form) = exchange(&app, TestRequest::get().uri("/login")).await;
    assert_eq!(status, 200);
    let csrf_cookie = cookies.iter().find(|cookie| cookie.starts_with("paydown_csrf=")).expect("a CSRF cookie");
    let csrf = csrf_cookie.trim_start_matches("paydown_csrf=").split(';').next().unwrap().to_owned();
    assert!(csrf.len() >= 32 && form.contains(&format!("name=\"csrf\" value=\"{csrf}\"")), "{form}");

    // A manager or finance token signs in: HttpOnly, SameSite=Strict, expiring; Secure over TLS.
    let (status, cookies, _) = exchange(&app, login(&app.finance_token, &csrf)).await;
    assert_eq!(status, 303);
    let session = cookies.iter().find(|cookie| cookie.starts_with("paydown_token=pdt_")).unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=28800", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    let proxied = login(&app.finance_token, &csrf).insert_header(("x-forwarded-proto", "https"));
    let (status, cookies, _) = exchange(&app, proxied).await;
    assert_eq!(status, 303);
    assert!(cookies.iter().any(|cookie| cookie.starts_with("paydown_token=pdt_") && cookie.contains("Secure")));
    // Each role lands on its own page.
    let manager = app.token(Role::Manager, None, &["payments"]);
    let engineer = app.token(Role::Engineer, Some("alice"), &[]);
    for (token, landing) in
        [(&manager, "/dashboard"), (&engineer, "/"), (&app.finance_token, "/periods"), (&app.admin_token, "/dashboard")]
    {
        let service = test::init_service(paydown::http::app(paydown::http::AppState::new(app.store.clone()))).await;
        let response = test::call_service(&service, login(token, &csrf).to_request()).await;
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(response.headers().get("location").unwrap(), landing);
    }

    // A token of a role without pages, a wrong token, and forged forms get the form back as HTML.
    let ingest = app.token(Role::Ingest, None, &[]);
    for (token, expected) in [(&ingest, 403), (&"pdt_wrong".to_owned(), 401)] {
        let (status, cookies, body) = exchange(&app, login(token, &csrf)).await;
        assert_eq!(status, expected, "{body}");
        assert!(body.starts_with("<!doctype html>") && body.contains("<form"), "{body}");
        assert!(body.contains("role=\"alert\""), "what went wrong is said in the page: {body}");
        assert!(!cookies.iter().any(|cookie| cookie.starts_with("paydown_token=")), "{cookies:?}");
    }
    let no_csrf = TestRequest::post()
        .uri("/login")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(format!("token={}", app.finance_token));
    let other_csrf = login(&app.finance_token, &csrf).insert_header(("cookie", "paydown_csrf=another"));
    let cross_site = login(&app.finance_token, &csrf).insert_header(("origin", "http://evil.example"));
    for forged in [no_csrf, other_csrf, cross_site] {
        let (status, cookies, body) = exchange(&app, forged).await;
        assert_eq!(status, 403, "{body}");
        assert!(!cookies.iter().any(|cookie| cookie.starts_with("paydown_token=")));
    }
    let same_site = login(&app.finance_token, &csrf).insert_header(("origin", "http://localhost:8080"));
    assert_eq!(exchange(&app, same_site).await.0, 303);

    // Logging out clears the cookie.
    let (status, cookies, _) = exchange(&app, TestRequest::post().uri("/logout")).await;
    assert_eq!(status, 303);
    let cleared = cookies.iter().find(|cookie| cookie.starts_with("paydown_token=")).unwrap();
    assert!(cleared.starts_with("paydown_token=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let cross_site = TestRequest::post().uri("/logout").insert_header(("origin", "http://evil.example"));
    assert_eq!(exchange(&app, cross_site).await.0, 403);
}
