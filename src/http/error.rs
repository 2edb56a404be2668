//! The one error type of the HTTP layer and its JSON envelope.
//!
//! Every failure a client can cause answers 4xx with
//! `{"error": {"code": "…", "message": "…", "field": "…"}}`; `field` names the input at
//! fault where there is one. A 5xx means paydown or its database failed, never the
//! client; its cause is logged, not sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::field_error::FieldError;
use crate::storage::StorageError;

/// An error as the API reports it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds a client should wait before retrying (a `Retry-After` header), for 503s.
    pub retry_after_seconds: Option<u32>,
}

/// What a client is told to wait when the database is busy with other writers.
pub const BUSY_RETRY_AFTER_SECONDS: u32 = 1;

/// Whether a database error means "busy, try again" rather than a defect: SQLite's lock
/// timeout, PostgreSQL's serialization failures, deadlocks and lock timeouts.
pub fn is_busy(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database is locked")
                || message.contains("database table is locked")
                || message.contains("deadlock detected")
                || message.contains("lock timeout")
                || message.contains("could not obtain lock")
        }
        _ => false,
    }
}

/// The wire shape of an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, and where.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_field`, `not_found`.
    pub code: String,
    /// What was wrong, for a human.
    pub message: String,
    /// The input at fault (`triggered_at`, `shifts[2].end`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), field: None, retry_after_seconds: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// 503: the database is busy; the client should retry after a second.
    pub fn busy() -> ApiError {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the database is busy with other writes; retry after the time in Retry-After",
        );
        error.retry_after_seconds = Some(BUSY_RETRY_AFTER_SECONDS);
        error
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", message).with_field(field)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> ApiError {
        ApiError::invalid(error.field, error.message)
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> ApiError {
        match error {
            StorageError::NotFound { entity, id } => {
                ApiError::not_found(format!("{entity} `{id}` does not exist")).with_field("id")
            }
            StorageError::Invalid(field) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", field.message).with_field(field.field)
            }
            StorageError::Conflict(field) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", field.message).with_field(field.field)
            }
            StorageError::Unavailable(cause) => {
                tracing::error!(error.cause = %cause, "database unavailable");
                let mut error = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; retry later",
                );
                error.retry_after_seconds = Some(BUSY_RETRY_AFTER_SECONDS);
                error
            }
            StorageError::Database(error) if is_busy(&error) => {
                tracing::warn!(error.cause = %error, "database busy; answering 503");
                ApiError::busy()
            }
            error @ (StorageError::Database(_) | StorageError::Migration(_)) => {
                tracing::error!(error.cause = %error, "database error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it was logged",
                )
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after_seconds {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(ErrorBody {
            error: ErrorDetail { code: self.code.to_owned(), message: self.message.clone(), field: self.field.clone() },
        })
    }
}
