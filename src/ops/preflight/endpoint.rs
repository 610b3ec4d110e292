//! The check of endpoint, credentials and bucket before mounting: a signed HeadBucket,
//! sent by hand so its headers can be read, under short timeouts and a few retries.
//!
//! What the answer says:
//! - BOS (and `bosmount serve`) put `x-bce-request-id` on every answer, success or
//!   error; an answer without it comes from something else (a web server, a proxy
//!   page), reported as such instead of as a missing bucket or an EIO later;
//! - 404 is a missing bucket; 403 is followed by one GetBucketLocation, whose JSON error
//!   body (HEAD answers have none) tells an unknown access key (`InvalidAccessKeyId`)
//!   from a wrong secret (`SignatureDoesNotMatch`) and from a key without access;
//! - `x-bosmount-min-part-size`, sent by `bosmount serve`, is the smallest part that
//!   server accepts ([`super::part_size`]).

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;

use crate::bos::client::request::{signed_headers, Call};
use crate::bos::client::{Addressing, Endpoint};
use crate::bos::credentials::Credentials;
use crate::bos::retry::RetryConfig;
use crate::bos::types::Operation;

/// Header `bosmount serve` answers with: its smallest accepted non-last part.
pub const MIN_PART_SIZE_HEADER: &str = "x-bosmount-min-part-size";
const REQUEST_ID_HEADER: &str = "x-bce-request-id";
/// Longest time the whole check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// What the check learnt about a working endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointReport {
    /// The server's smallest accepted part, when it says (only `bosmount serve` does).
    pub min_part_size: Option<u64>,
}

/// Why the endpoint, credentials or bucket cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Unusable endpoint text.
    #[error("invalid endpoint {endpoint}: {message}")]
    Invalid {
        /// The endpoint.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// No connection.
    #[error("cannot reach endpoint {endpoint}: {message}")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// No answer in time.
    #[error("endpoint {0} did not answer within {CHECK_TIMEOUT:?}")]
    Timeout(String),
    /// The answer is not from BOS.
    #[error("{endpoint} does not look like BOS: HTTP {status} without an x-bce-request-id header{server} (check --endpoint)")]
    NotBos {
        /// The endpoint.
        endpoint: String,
        /// The status it answered.
        status: u16,
        /// ", server: NAME" when it said.
        server: String,
    },
    /// The bucket is not there.
    #[error("bucket {bucket} does not exist at {endpoint}")]
    NoSuchBucket {
        /// The endpoint.
        endpoint: String,
        /// The bucket.
        bucket: String,
    },
    /// The access key id is unknown.
    #[error("credentials rejected by {endpoint}: access key id {access_key_id} is unknown there (InvalidAccessKeyId) [request id {request_id}]")]
    UnknownAccessKey {
        /// The endpoint.
        endpoint: String,
        /// The key id.
        access_key_id: String,
        /// BOS request id.
        request_id: String,
    },
    /// The secret does not match the key id.
    #[error("credentials rejected by {endpoint}: the secret access key is wrong for access key id {access_key_id} (SignatureDoesNotMatch) [request id {request_id}]")]
    WrongSecret {
        /// The endpoint.
        endpoint: String,
        /// The key id.
        access_key_id: String,
        /// BOS request id.
        request_id: String,
    },
    /// Another refusal (AccessDenied, expired token, clock skew…).
    #[error("credentials rejected by {endpoint} for bucket {bucket}: {code} {message} [request id {request_id}]")]
    Denied {
        /// The endpoint.
        endpoint: String,
        /// The bucket.
        bucket: String,
        /// BOS error code.
        code: String,
        /// BOS message.
        message: String,
        /// BOS request id.
        request_id: String,
    },
    /// Anything else.
    #[error("bucket check at {endpoint} failed: HTTP {status} {code} [request id {request_id}]")]
    Other {
        /// The endpoint.
        endpoint: String,
        /// The status.
        status: u16,
        /// BOS error code, when there is one.
        code: String,
        /// BOS request id.
        request_id: String,
    },
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: bytes::Bytes,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    fn is_bos(&self) -> bool {
        self.headers.contains_key(REQUEST_ID_HEADER)
    }

    fn request_id(&self) -> String {
        self.header(REQUEST_ID_HEADER).unwrap_or_else(|| "-".into())
    }
}

struct Prober<'a> {
    http: reqwest::Client,
    endpoint: Endpoint,
    shown: &'a str,
    credentials: &'a Credentials,
}

/// Check `endpoint`, `credentials` and `bucket` as described in the module doc.
pub async fn check(endpoint: &str, credentials: &Credentials, bucket: &str) -> Result<EndpointReport, EndpointError> {
    match tokio::time::timeout(CHECK_TIMEOUT, check_inner(endpoint, credentials, bucket)).await {
        Ok(result) => result,
        Err(_) => Err(EndpointError::Timeout(endpoint.to_string())),
    }
}

async fn check_inner(endpoint: &str, credentials: &Credentials, bucket: &str) -> Result<EndpointReport, EndpointError> {
    let invalid = |message: String| EndpointError::Invalid {
        endpoint: endpoint.to_string(),
        message,
    };
    let parsed = Endpoint::parse(endpoint, Addressing::Auto).map_err(|e| invalid(e.to_string()))?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(format!("bosmount/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| invalid(chain(&e)))?;
    let prober = Prober {
        http,
        endpoint: parsed,
        shown: endpoint,
        credentials,
    };
    let head = prober
        .send(Call::new(Operation::HeadBucket, Method::HEAD, Some(bucket), None))
        .await?;
    if !head.is_bos() {
        return Err(prober.not_bos(&head));
    }
    match head.status {
        200..=299 => Ok(EndpointReport {
            min_part_size: head.header(MIN_PART_SIZE_HEADER).and_then(|v| v.parse().ok()),
        }),
        404 => Err(EndpointError::NoSuchBucket {
            endpoint: endpoint.to_string(),
            bucket: bucket.to_string(),
        }),
        403 => {
            let call = Call::new(Operation::GetBucketLocation, Method::GET, Some(bucket), None).query("location", "");
            let located = prober.send(call).await?;
            Err(prober.denied(bucket, &located))
        }
        status => Err(EndpointError::Other {
            endpoint: endpoint.to_string(),
            status,
            code: String::new(),
            request_id: head.request_id(),
        }),
    }
}

impl Prober<'_> {
    /// Send `call`, retrying connection failures and 5xx a few times.
    async fn send(&self, call: Call<'_>) -> Result<Reply, EndpointError> {
        // At least ~1.2 s of waits in all, so a server started just before (`serve &`)
        // has time to listen; still well inside CHECK_TIMEOUT.
        let retry = RetryConfig {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
        };
        let mut attempt = 0;
        loop {
            let result = self.send_once(&call).await;
            let retryable = match &result {
                Ok(reply) => reply.status >= 500 || reply.status == 429,
                Err(EndpointError::Unreachable { .. }) => true,
                Err(_) => false,
            };
            if !retryable || !retry.may_retry(attempt) {
                return result;
            }
            // Half the ceiling always, the other half jittered.
            tokio::time::sleep(retry.delay_ceiling(attempt) / 2 + retry.backoff(attempt) / 2).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, call: &Call<'_>) -> Result<Reply, EndpointError> {
        let target = self.endpoint.target(call.bucket, call.key, &call.query);
        let now = chrono::Utc::now().timestamp();
        let (headers, authorization) =
            signed_headers(call, &target.host_header, &target.decoded_path, self.credentials, now);
        let mut request = self.http.request(call.method.clone(), &target.url);
        for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
            request = request.header(name.as_str(), value.as_str());
        }
        request = request.header("authorization", authorization);
        let unreachable = |e: reqwest::Error| EndpointError::Unreachable {
            endpoint: self.shown.to_string(),
            message: chain(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(unreachable)?;
        Ok(Reply { status, headers, body })
    }

    fn not_bos(&self, reply: &Reply) -> EndpointError {
        EndpointError::NotBos {
            endpoint: self.shown.to_string(),
            status: reply.status,
            server: reply
                .header("server")
                .map(|s| format!(", server: {s}"))
                .unwrap_or_default(),
        }
    }

    fn denied(&self, bucket: &str, reply: &Reply) -> EndpointError {
        if !reply.is_bos() {
            return self.not_bos(reply);
        }
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let field = |name: &str| body.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let code = field("code");
        let request_id = reply.request_id();
        let endpoint = self.shown.to_string();
        let access_key_id = self.credentials.access_key_id.clone();
        match code.as_str() {
            "InvalidAccessKeyId" => EndpointError::UnknownAccessKey {
                endpoint,
                access_key_id,
                request_id,
            },
            "SignatureDoesNotMatch" => EndpointError::WrongSecret {
                endpoint,
                access_key_id,
                request_id,
            },
            _ => EndpointError::Denied {
                endpoint,
                bucket: bucket.to_string(),
                code: if code.is_empty() { "AccessDenied".into() } else { code },
                message: field("message"),
                request_id,
            },
        }
    }
}

/// Error text with its causes.
fn chain(e: &dyn std::error::Error) -> String {
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
