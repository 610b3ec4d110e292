//! The server's error type: a BOS error code with its HTTP status and message, turned into
//! the JSON error body `{code, message, requestId}` (no body for HEAD).

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;

/// A BOS error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// BOS error code, e.g. `NoSuchKey`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

/// Result of server operations.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 500 InternalError, logging the cause (never sent to the client in detail).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        log::error!("internal error: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// 400 InvalidArgument.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    /// 404 NoSuchKey.
    pub fn no_such_key() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.")
    }

    /// 404 NoSuchBucket.
    pub fn no_such_bucket() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        )
    }

    /// 404 NoSuchUpload.
    pub fn no_such_upload() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The specified multipart upload does not exist.",
        )
    }

    /// 400 BadDigest.
    pub fn bad_digest() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The Content-MD5 or x-bce-content-sha256 or x-bce-content-crc32 you specified did not match what we received.",
        )
    }

    /// 400 EntityTooLarge.
    pub fn entity_too_large() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed object size.",
        )
    }

    /// 412 PreconditionFailed.
    pub fn precondition_failed() -> Self {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the preconditions you specified did not hold.",
        )
    }

    /// 409 FileAlreadyExists (`x-bce-forbid-overwrite: true` on an existing key).
    pub fn file_already_exists() -> Self {
        ApiError::new(StatusCode::CONFLICT, "FileAlreadyExists", "The object already exists.")
    }

    /// The HTTP answer for this error; `head` = the request was HEAD (no body).
    pub fn to_response(&self, request_id: &str, head: bool) -> Response {
        let builder = Response::builder().status(self.status);
        if head {
            return builder.body(Body::empty()).unwrap_or_default();
        }
        let body = crate::bos::wire::ErrorBody {
            code: self.code.to_string(),
            message: self.message.clone(),
            request_id: request_id.to_string(),
        };
        let text = serde_json::to_vec(&body).unwrap_or_default();
        builder
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::from(text))
            .unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(format!("I/O: {e}"))
    }
}

impl From<redb::Error> for ApiError {
    fn from(e: redb::Error) -> Self {
        ApiError::internal(format!("index: {e}"))
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                ApiError::from(redb::Error::from(e))
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError
);

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::internal(format!("record encoding: {e}"))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("task: {e}"))
    }
}
