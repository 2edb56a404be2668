//! Request extractors that turn every bad input into an `ApiError` naming the field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest request body accepted, in bytes. Batches of shifts are the largest bodies.
pub const BODY_BYTES_MAX: usize = 2 * 1024 * 1024;

/// A JSON body parsed with the path of any failure (`shifts[3].end`).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !is_json(req) {
            return Box::pin(std::future::ready(Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            )
            .with_field("content-type"))));
        }
        let body = read_limited(req, payload);
        Box::pin(async move { parse_json(&body.await?).map(JsonBody) })
    }
}

/// Whether the request says its body is JSON (`application/json`, any parameters). A JSON
/// body is read only then, so a cross-site form or `text/plain` request never becomes one.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// A raw body (for webhooks, whose signature covers the exact bytes), size-limited.
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_limited(req, payload);
        Box::pin(async move { Ok(RawBody(body.await?.freeze())) })
    }
}

/// Reads a request body up to `BODY_BYTES_MAX`, refusing a larger one before reading
/// it when its length is declared.
fn read_limited(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<web::BytesMut, ApiError>> + use<> {
    let declared_length = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        if declared_length.is_some_and(|length| length > BODY_BYTES_MAX) {
            return Err(too_large());
        }
        let Some(_upload) = Upload::start() else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("more than {UPLOADS_MAX} request bodies are arriving at once: try again shortly"),
            ));
        };
        let receive = async move {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|error| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "unreadable_body",
                        format!("the request body could not be read: {error}"),
                    )
                })?;
                if body.len() + chunk.len() > BODY_BYTES_MAX {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        actix_web::rt::time::timeout(std::time::Duration::from_secs(BODY_SECONDS_MAX), receive).await.map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the request body did not arrive within {BODY_SECONDS_MAX} s"),
            )
        })?
    }
}

/// Seconds a request body (at most `BODY_BYTES_MAX`) has to arrive; 408 after. A webhook's
/// signature is checked as soon as its body is in, so a client that trickles a body holds
/// a connection this long at most.
pub const BODY_SECONDS_MAX: u64 = 15;
/// Request bodies being received at once, across the process; more get 503.
pub const UPLOADS_MAX: usize = 256;

static UPLOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One body being received, counted while it lasts.
struct Upload;

impl Upload {
    fn start() -> Option<Upload> {
        use std::sync::atomic::Ordering;
        UPLOADS
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |count| (count < UPLOADS_MAX).then_some(count + 1))
            .ok()
            .map(|_| Upload)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        UPLOADS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {BODY_BYTES_MAX} bytes"),
    )
}

/// Parses JSON, reporting the path of the value at fault.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the request body is empty; expected a JSON object",
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the request body is not valid JSON: {inner}"),
            ),
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let field = field_of(&path, &message);
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", strip_position(&message)).with_field(field)
            }
        }
    })
}

/// The field a serde error is about: its path, or for a missing field (whose path is
/// the object that lacks it) the path joined with the name serde quotes.
fn field_of(path: &str, message: &str) -> String {
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (".", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

/// serde_json appends " at line 1 column 80"; the field already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Distinguishes "absent" (`None`) from "null" (`Some(None)`) in PATCH bodies.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        #[serde(with = "crate::domain::timestamp::rfc3339")]
        at: chrono::DateTime<chrono::Utc>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Batch {
        items: Vec<Item>,
    }

    #[test]
    fn errors_name_the_path() {
        let error = parse_json::<Batch>(
            br#"{"items": [{"name": "a", "at": "2026-10-03T02:14:00Z"}, {"name": "b", "at": "2026-10-03T02:14:00"}]}"#,
        )
        .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("items[1].at"));
        assert!(error.message.contains("offset"), "{}", error.message);
        let error = parse_json::<Item>(br#"{"at": "2026-10-03T02:14:00Z"}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("name"));
        let error = parse_json::<Item>(br#"{"name": "a", "at": "2026-10-03T02:14:00Z", "nmae": 1}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("nmae"));
        let error = parse_json::<Item>(br#"{"name": "a", "#).unwrap_err();
        assert_eq!(error.code, "malformed_json");
        assert_eq!(parse_json::<Item>(b"  ").unwrap_err().code, "malformed_json");
    }
}

#[cfg(test)]
mod upload_tests {
    use super::*;

    #[test]
    fn concurrent_uploads_are_bounded() {
        let held: Vec<Upload> = std::iter::from_fn(Upload::start).take(UPLOADS_MAX + 1).collect();
        assert_eq!(held.len(), UPLOADS_MAX);
        assert!(Upload::start().is_none(), "one more body waits its turn (503)");
        drop(held);
        assert!(Upload::start().is_some());
    }
}
