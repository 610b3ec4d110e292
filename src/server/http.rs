//! The HTTP side: one handler per request that decodes the path and query, serves
//! `/_stats` (to loopback or signed clients), injects faults, routes, counts, refuses
//! `.`/`..` key segments, verifies the signature, takes an upload slot and puts the idle
//! timeout on the body, dispatches, and adds the headers every BOS answer carries. A
//! request whose body stalled is answered with `Connection: close`; one that found no
//! upload slot has a small body read and dropped (under the same idle timeout) like any
//! refused request, so a client is not cut off mid-send.

use crate::server::auth_check;
use crate::server::error::{ApiError, ApiResult};
use crate::server::faults::Faults;
use crate::server::handlers::{dispatch, Ctx};
use crate::server::limits::{idle_limited, request_timeout, ServeLimits, UploadGate};
use crate::server::response::{add_common_headers, json, new_request_id};
use crate::server::routes::{route, BosOp, RouteInput};
use crate::server::stats::Stats;
use crate::server::store::Store;
use crate::server::ServerConfig;
use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::Arc;

/// Shared state of the server.
#[derive(Debug)]
pub struct AppState {
    /// Settings.
    pub config: Arc<ServerConfig>,
    /// Storage.
    pub store: Arc<Store>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Fault injection.
    pub faults: Faults,
    /// Timeouts and upload limits.
    pub limits: ServeLimits,
    /// Upload slots.
    pub uploads: UploadGate,
}

/// Split a raw query string into decoded (name, value) pairs; `a` and `a=` are the same.
pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Answer one request from `peer`.
pub async fn handle(state: Arc<AppState>, peer: SocketAddr, request: Request) -> Response {
    let request_id = new_request_id();
    let head = request.method() == Method::HEAD;
    let path = request.uri().path().to_string();
    let mut response = if path == "/_stats" || path == "/_stats/reset" {
        let (parts, _) = request.into_parts();
        match crate::server::stats_access::allow(&state.config, peer, &parts) {
            Ok(()) => stats_endpoint(&state, &parts.method, &path),
            Err(e) => e.to_response(&request_id, head),
        }
    } else {
        let _in_flight = state.stats.begin();
        let answer = match serve(&state, request).await {
            Ok(r) => r,
            Err(e) => {
                log::debug!("{request_id}: {e}");
                let mut r = e.to_response(&request_id, head);
                if e.code == "RequestTimeout" {
                    r.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                r
            }
        };
        if !state.config.latency.is_zero() {
            tokio::time::sleep(state.config.latency).await;
        }
        if let Some(n) = answer.body().size_hint().exact() {
            state.stats.add_out(n);
        }
        answer
    };
    add_common_headers(&mut response, &request_id);
    response
        .headers_mut()
        .insert("x-bosmount-min-part-size", state.config.min_part_size.into());
    response
}

fn stats_endpoint(state: &AppState, method: &Method, path: &str) -> Response {
    match (method, path) {
        (&Method::GET, "/_stats") => json(StatusCode::OK, &state.stats.snapshot()),
        (&Method::DELETE, "/_stats") | (&Method::POST, "/_stats/reset") => {
            state.stats.reset();
            json(StatusCode::OK, &state.stats.snapshot())
        }
        _ => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Use GET or DELETE /_stats.",
        )
        .to_response("", method == Method::HEAD),
    }
}

async fn serve(state: &Arc<AppState>, request: Request) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let decoded = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8()
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidURI",
                "The request path is not valid UTF-8.",
            )
        })?
        .into_owned();
    let query = parse_query(parts.uri.query());
    let host = crate::server::request::header(&parts.headers, "host");
    let op = route(
        &RouteInput {
            method: &parts.method,
            path: &decoded,
            query: &query,
            host: host.as_deref(),
            copy_source: crate::server::request::header(&parts.headers, "x-bce-copy-source")
                .is_some_and(|v| !v.is_empty()),
        },
        &|b: &str| state.store.bucket_exists(b),
    );
    state.stats.request(op.name());
    if let Some(fault) = state.faults.pick() {
        return Err(fault);
    }
    let sends_body = has_body(&parts.headers);
    let (body, stalled) = if sends_body {
        let (b, s) = idle_limited(body, state.limits.body_idle_timeout);
        (b, Some(s))
    } else {
        (body, None)
    };
    let mut body = Some(body);
    let result = async {
        require_content_length(&parts.method, &parts.headers)?;
        check_key_segments(&op)?;
        if let Some(credentials) = &state.config.credentials {
            let now = chrono::Utc::now().timestamp();
            auth_check::verify(
                credentials,
                parts.method.as_str(),
                &decoded,
                &query,
                &parts.headers,
                now,
            )?;
        }
        let _slot = if sends_body { Some(state.uploads.enter()?) } else { None };
        let ctx = Ctx {
            config: Arc::clone(&state.config),
            store: Arc::clone(&state.store),
            stats: Arc::clone(&state.stats),
            headers: auth_check::without_empty_bce_headers(&parts.headers),
            query,
        };
        dispatch(&ctx, op, &mut body).await
    }
    .await;
    if stalled.as_ref().is_some_and(|s| s.happened()) {
        return Err(request_timeout());
    }
    if result.is_err() {
        drain_small_body(body.take(), &parts.headers).await;
    }
    result
}

/// Whether the request announces a body (a non-zero `Content-Length`, or chunked).
fn has_body(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key("transfer-encoding") || crate::server::request::content_length(headers).is_some_and(|n| n > 0)
}

/// 400 InvalidURI for a key with a `.` or `..` segment, whatever the operation, as BOS
/// answers (and as the official SDK checks before sending).
fn check_key_segments(op: &BosOp) -> ApiResult<()> {
    match op.key() {
        Some(key) => crate::server::request::check_key_segments(key),
        None => Ok(()),
    }
}

/// 411 MissingContentLength for a PUT or POST whose body comes without `Content-Length`
/// (chunked transfer), as BOS answers; nothing of the body is read (nor `100 Continue`
/// sent). A request without a body needs no `Content-Length`.
fn require_content_length(method: &Method, headers: &axum::http::HeaderMap) -> ApiResult<()> {
    let writes = *method == Method::PUT || *method == Method::POST;
    if writes && headers.contains_key("transfer-encoding") && !headers.contains_key("content-length") {
        return Err(ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
        ));
    }
    Ok(())
}

/// Read and drop a small unread body before answering an error, so the client is not cut
/// off mid-send (unless it waits for `100 Continue`, in which case nothing was sent).
async fn drain_small_body(body: Option<Body>, headers: &axum::http::HeaderMap) {
    const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;
    let Some(body) = body else { return };
    let expects_continue = headers
        .get("expect")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let small = crate::server::request::content_length(headers).is_some_and(|n| n > 0 && n <= DRAIN_LIMIT);
    if small && !expects_continue {
        let _ = axum::body::to_bytes(body, DRAIN_LIMIT as usize).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_forms() {
        let q = parse_query(Some("append&offset=5&prefix=a%2Fb%20c&x="));
        assert_eq!(
            q,
            vec![
                ("append".to_string(), String::new()),
                ("offset".to_string(), "5".to_string()),
                ("prefix".to_string(), "a/b c".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        assert!(parse_query(None).is_empty());
    }
}
