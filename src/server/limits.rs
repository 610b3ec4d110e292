//! What the server grants one client: how long it may take to send request headers (and
//! how long an idle keep-alive connection stays open), how long a request body may stall,
//! how many request bodies may be in flight at once (beyond that: 503 `SlowDown` at once,
//! never a wait), and how many threads write bodies to disk. Also the body wrapper that
//! enforces the idle timeout and the gate that hands out upload slots.

use crate::server::error::ApiError;
use axum::body::Body;
use axum::http::StatusCode;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Limits on slow or numerous clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeLimits {
    /// Time a client has to send a request's headers; an idle keep-alive connection is
    /// closed after the same time. Longer than the HTTP client's pool idle time (60 s) so
    /// the mount never reuses a connection the server is closing.
    pub header_timeout: Duration,
    /// Longest pause while a request body is received; then 400 `RequestTimeout` and the
    /// connection is closed.
    pub body_idle_timeout: Duration,
    /// Request bodies received at once; one more is answered 503 `SlowDown`.
    pub max_uploads: usize,
    /// Threads writing request bodies to disk (apart from the index's threads).
    pub body_io_threads: usize,
}

impl Default for ServeLimits {
    /// 75 s for headers and idle connections, 60 s of body silence, 512 bodies in flight,
    /// 4 body writer threads.
    fn default() -> Self {
        ServeLimits {
            header_timeout: Duration::from_secs(75),
            body_idle_timeout: Duration::from_secs(60),
            max_uploads: 512,
            body_io_threads: 4,
        }
    }
}

/// Hands out the upload slots.
#[derive(Debug, Clone)]
pub struct UploadGate {
    slots: Arc<Semaphore>,
}

impl UploadGate {
    /// A gate with `max` slots.
    pub fn new(max: usize) -> Self {
        UploadGate {
            slots: Arc::new(Semaphore::new(max)),
        }
    }

    /// A slot for one request body, or 503 `SlowDown` when all are taken.
    pub fn enter(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SlowDown",
                "Too many uploads in progress; please reduce your request rate.",
            )
        })
    }
}

/// Set when a body stalled longer than the idle timeout.
#[derive(Debug, Clone, Default)]
pub struct Stalled(Arc<AtomicBool>);

impl Stalled {
    /// Whether the body stalled.
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The error a stalled body ends with.
#[derive(Debug, thiserror::Error)]
#[error("no request body data for {0:?}")]
pub struct BodyIdle(Duration);

/// `body`, ending with an error when no data arrives for `idle` (the flag tells).
pub fn idle_limited(body: Body, idle: Duration) -> (Body, Stalled) {
    let stalled = Stalled::default();
    let flag = stalled.clone();
    let stream = futures_util::stream::unfold(Some(body.into_data_stream()), move |state| {
        let flag = flag.clone();
        async move {
            let mut stream = state?;
            match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(stream))),
                Ok(Some(Err(e))) => Some((Err(axum::BoxError::from(e)), None)),
                Ok(None) => None,
                Err(_) => {
                    flag.0.store(true, Ordering::Relaxed);
                    Some((Err(axum::BoxError::from(BodyIdle(idle))), None))
                }
            }
        }
    });
    (Body::from_stream(stream), stalled)
}

/// 400 `RequestTimeout`, the answer to a stalled body.
pub fn request_timeout() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the timeout period.",
    )
}
