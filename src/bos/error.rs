//! Errors of BOS operations: service errors the server answered with (code, HTTP status,
//! request id) versus transport failures, plus the one place that decides which of them
//! are worth retrying and what each means.

use std::time::Duration;

/// What a BOS error means to a caller, decided from HTTP status and code in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// NoSuchKey, NoSuchBucket, NoSuchUpload, 404.
    NotFound,
    /// PreconditionFailed (412), a copy condition or If-Match that did not hold.
    PreconditionFailed,
    /// FileAlreadyExists (forbid-overwrite) or BucketAlreadyExists.
    AlreadyExists,
    /// OffsetIncorrect: an append at a stale offset.
    OffsetIncorrect,
    /// ObjectUnappendable: append with an offset to a Normal object.
    ObjectUnappendable,
    /// NotAllowCopy: copy of an Appendable object refused.
    NotAllowCopy,
    /// AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, RequestExpired…
    AccessDenied,
    /// BadDigest: the body did not match its checksum.
    BadDigest,
    /// EntityTooLarge.
    TooLarge,
    /// BucketNotEmpty, DirNotEmpty.
    NotEmpty,
    /// Other 4xx the caller sent wrong.
    InvalidRequest,
    /// 5xx, RequestRateLimitExceeded, SlowDown: try again later.
    Unavailable,
    /// The request never got a well-formed answer (connection, timeout, body).
    Transport,
}

/// An error of a BOS operation.
#[derive(Debug, thiserror::Error)]
pub enum BosError {
    /// The server answered with an error status.
    #[error("BOS error {code} (HTTP {status}): {message} [request id {request_id}]")]
    Service {
        /// HTTP status.
        status: u16,
        /// BOS error code (synthesised from the status for bodiless answers, e.g. HEAD).
        code: String,
        /// Message from the server.
        message: String,
        /// `x-bce-request-id`.
        request_id: String,
    },
    /// The connection could not be made, or broke.
    #[error("cannot reach {endpoint}: {message}")]
    Connect {
        /// Endpoint that was tried.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// No answer in time.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The answer could not be understood.
    #[error("invalid response from BOS: {0}")]
    InvalidResponse(String),
    /// The caller asked for something BOS cannot do (rejected before sending).
    #[error("invalid request: {0}")]
    InvalidArgument(String),
}

impl BosError {
    /// Build a service error.
    pub fn service(
        status: u16,
        code: impl Into<String>,
        message: impl Into<String>,
        request_id: impl Into<String>,
    ) -> Self {
        BosError::Service {
            status,
            code: code.into(),
            message: message.into(),
            request_id: request_id.into(),
        }
    }

    /// The BOS error code, for service errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            BosError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for service errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            BosError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What the error means.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BosError::Service { status, code, .. } => classify(*status, code),
            BosError::Connect { .. } | BosError::Timeout(_) | BosError::InvalidResponse(_) => ErrorKind::Transport,
            BosError::InvalidArgument(_) => ErrorKind::InvalidRequest,
        }
    }

    /// Whether repeating the same request may succeed: 5xx, throttling, connection
    /// failures and timeouts. Never other 4xx.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Unavailable | ErrorKind::Transport)
            && !matches!(self, BosError::InvalidResponse(_))
    }

    /// Whether the object, bucket or upload does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }
}

/// The code a bodiless error answer (HEAD) stands for.
pub fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "InvalidHTTPRequest",
        403 => "AccessDenied",
        404 => "NoSuchKey",
        409 => "Conflict",
        412 => "PreconditionFailed",
        429 => "RequestRateLimitExceeded",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        _ => "UnknownError",
    }
}

/// Map HTTP status and BOS code to meaning.
pub fn classify(status: u16, code: &str) -> ErrorKind {
    match code {
        "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" => return ErrorKind::NotFound,
        "PreconditionFailed" => return ErrorKind::PreconditionFailed,
        "FileAlreadyExists" | "BucketAlreadyExists" => return ErrorKind::AlreadyExists,
        "OffsetIncorrect" => return ErrorKind::OffsetIncorrect,
        "ObjectUnappendable" => return ErrorKind::ObjectUnappendable,
        "NotAllowCopy" => return ErrorKind::NotAllowCopy,
        "AccessDenied"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "RequestExpired"
        | "InvalidSessionToken"
        | "AccountOverdue"
        | "RequestTimeTooSkewed" => return ErrorKind::AccessDenied,
        "BadDigest" | "InvalidDigest" => return ErrorKind::BadDigest,
        "EntityTooLarge" => return ErrorKind::TooLarge,
        "BucketNotEmpty" | "DirNotEmpty" => return ErrorKind::NotEmpty,
        "RequestRateLimitExceeded" | "SlowDown" | "ServiceUnavailable" | "InternalError" => {
            return ErrorKind::Unavailable
        }
        _ => {}
    }
    match status {
        404 => ErrorKind::NotFound,
        412 => ErrorKind::PreconditionFailed,
        401 | 403 => ErrorKind::AccessDenied,
        429 => ErrorKind::Unavailable,
        s if s >= 500 => ErrorKind::Unavailable,
        _ => ErrorKind::InvalidRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_rules() {
        assert!(BosError::service(500, "InternalError", "", "").is_retryable());
        assert!(BosError::service(503, "ServiceUnavailable", "", "").is_retryable());
        assert!(BosError::service(429, "RequestRateLimitExceeded", "", "").is_retryable());
        assert!(!BosError::service(404, "NoSuchKey", "", "").is_retryable());
        assert!(!BosError::service(409, "OffsetIncorrect", "", "").is_retryable());
        assert!(!BosError::service(403, "SignatureDoesNotMatch", "", "").is_retryable());
        assert!(BosError::Timeout(Duration::from_secs(1)).is_retryable());
    }
}
