//! [`BosClient`]: the HTTP implementation of [`crate::bos::BosApi`] over reqwest (rustls).
//!
//! Every operation describes its request as a [`request::Call`] and hands it to one
//! function, `BosClient::send`, which owns the plumbing: the URL in the chosen
//! addressing style, BCE signing with a fresh `x-bce-date` on every attempt, the retry
//! loop ([`crate::bos::retry`]), error decoding and per-operation request counters.
//! AppendObject, which is not idempotent, goes through a guarded retry (see `append`).
//!
//! Submodules: `endpoint` (where requests go), `request` (headers and signing),
//! `response` (decoding answers), `api` (the operations), `append` (safe append
//! retries), [`paging`] (a paginating listing stream over any backend),
//! and [`validate`] (checks made before sending, shared with the in-memory twin).

mod api;
mod append;
pub mod endpoint;
mod observe;
pub mod paging;
pub mod request;
pub mod response;
pub mod validate;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;

pub use endpoint::{Addressing, Endpoint};

use crate::bos::credentials::Credentials;
use crate::bos::retry::RetryConfig;
use crate::bos::types::Operation;
use crate::bos::{BosError, BosResult};
use request::Call;

/// Settings of a [`BosClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host[:port]`, `https://host[:port]`, or a bare host (http).
    pub endpoint: String,
    /// Access keys (and STS token) used to sign every request.
    pub credentials: Credentials,
    /// Virtual-hosted, path style, or decided from the host.
    pub addressing: Addressing,
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest time one attempt of a request may take, body included.
    pub request_timeout: Duration,
    /// Retry policy.
    pub retry: RetryConfig,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Fixed addresses for host names, bypassing DNS (like `curl --resolve`); port 0
    /// means the URL's port. Useful to reach a virtual-hosted endpoint on a given address.
    pub resolve: Vec<(String, std::net::SocketAddr)>,
}

impl ClientConfig {
    /// Defaults for `endpoint` and `credentials`: automatic addressing, 10 s to connect,
    /// 120 s per attempt, 4 attempts.
    pub fn new(endpoint: impl Into<String>, credentials: Credentials) -> Self {
        ClientConfig {
            endpoint: endpoint.into(),
            credentials,
            addressing: Addressing::Auto,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            retry: RetryConfig::default(),
            user_agent: format!("bosmount/{}", env!("CARGO_PKG_VERSION")),
            resolve: Vec::new(),
        }
    }
}

/// An answer with a success status.
#[derive(Debug)]
pub(crate) struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

/// The BOS client. One connection pool, shared by every request; cheap to share
/// behind an `Arc`.
pub struct BosClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    credentials: Credentials,
    retry: RetryConfig,
    request_timeout: Duration,
    counts: Mutex<BTreeMap<Operation, u64>>,
}

impl std::fmt::Debug for BosClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BosClient")
            .field("endpoint", &self.endpoint.base_url())
            .field("style", &self.endpoint.style)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Error text with its causes (e.g. "error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

impl BosClient {
    /// Build a client; fails on an unusable endpoint or TLS setup.
    pub fn new(config: ClientConfig) -> BosResult<Self> {
        let endpoint = Endpoint::parse(&config.endpoint, config.addressing)?;
        let mut builder = reqwest::Client::builder();
        for (name, addr) in &config.resolve {
            builder = builder.resolve(name, *addr);
        }
        let http = builder
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| BosError::InvalidArgument(format!("cannot build the HTTP client: {}", error_chain(&e))))?;
        Ok(BosClient {
            http,
            endpoint,
            credentials: config.credentials,
            retry: config.retry,
            request_timeout: config.request_timeout,
            counts: Mutex::new(BTreeMap::new()),
        })
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// HTTP requests sent for `op` so far, retries included.
    pub fn count(&self, op: Operation) -> u64 {
        self.lock_counts().get(&op).copied().unwrap_or(0)
    }

    /// Every non-zero request counter (retries included), keyed by BOS operation name.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.lock_counts()
            .iter()
            .map(|(op, n)| (op.as_str().to_string(), *n))
            .collect()
    }

    fn lock_counts(&self) -> std::sync::MutexGuard<'_, BTreeMap<Operation, u64>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn transport_error(&self, e: &reqwest::Error) -> BosError {
        if e.is_timeout() {
            BosError::Timeout(self.request_timeout)
        } else {
            BosError::Connect {
                endpoint: self.endpoint.base_url(),
                message: error_chain(e),
            }
        }
    }

    /// Send `call` once: sign it with the current time, send it, read the whole answer.
    /// A non-success status becomes the error it stands for. Every attempt is counted
    /// and logged by `observe`.
    async fn send_once(&self, call: &Call<'_>) -> BosResult<Answer> {
        let started = std::time::Instant::now();
        let result = self.send_attempt(call).await;
        observe::attempt(call, &result, started.elapsed());
        result
    }

    async fn send_attempt(&self, call: &Call<'_>) -> BosResult<Answer> {
        *self.lock_counts().entry(call.op).or_insert(0) += 1;
        let target = self.endpoint.target(call.bucket, call.key, &call.query);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let (headers, authorization) =
            request::signed_headers(call, &target.host_header, &target.decoded_path, &self.credentials, now);
        let mut header_map = HeaderMap::with_capacity(headers.len() + 1);
        for (name, value) in headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain([("authorization", authorization.as_str())])
        {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| BosError::InvalidArgument(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| BosError::InvalidArgument(format!("invalid value for header {name}")))?;
            header_map.append(name, value);
        }
        let mut builder = self.http.request(call.method.clone(), &target.url).headers(header_map);
        if call.method == Method::PUT || call.method == Method::POST || !call.body.is_empty() {
            builder = builder.body(call.body.clone());
        }
        let response = builder.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.transport_error(&e))?;
        if !(200..300).contains(&status) {
            let not_found = if call.query.iter().any(|(n, _)| n == "uploadId") {
                "NoSuchUpload"
            } else if call.key.is_none() {
                "NoSuchBucket"
            } else {
                "NoSuchKey"
            };
            return Err(response::decode_error(status, &headers, &body, not_found));
        }
        if matches!(call.op, Operation::CopyObject | Operation::UploadPartCopy) {
            if let Some(err) = response::error_in_success_body(&headers, &body) {
                return Err(err);
            }
        }
        Ok(Answer { status, headers, body })
    }

    /// Send `call`, retrying what is worth retrying with backoff. Every attempt is
    /// signed afresh. Not for AppendObject (see `append`).
    async fn send(&self, call: &Call<'_>) -> BosResult<Answer> {
        let mut attempt = 0;
        loop {
            match self.send_once(call).await {
                Ok(answer) => return Ok(answer),
                Err(e) if e.is_retryable() && self.retry.may_retry(attempt) => {
                    self.wait_before_retry(call, attempt, &e).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Log a failed attempt (never with credentials) and wait the backoff.
    async fn wait_before_retry(&self, call: &Call<'_>, attempt: u32, error: &BosError) {
        let delay = self.retry.backoff(attempt);
        observe::retry(call);
        log::warn!(
            "{} {}/{}: attempt {} of {} failed ({error}); retrying in {delay:?}",
            call.op,
            call.bucket.unwrap_or(""),
            call.key.unwrap_or(""),
            attempt + 1,
            self.retry.max_attempts
        );
        tokio::time::sleep(delay).await;
    }
}
