//! Who may read or reset `/_stats`: clients on this machine (loopback), or anyone who
//! signs the request with the server's credentials. Everyone else gets 403 AccessDenied,
//! so the counters (and their reset) are not open to the network.

use crate::server::auth_check;
use crate::server::error::ApiError;
use crate::server::exposure::is_loopback;
use crate::server::http::parse_query;
use crate::server::ServerConfig;
use axum::http::request::Parts;
use axum::http::StatusCode;
use std::net::SocketAddr;

/// Ok when `peer` may use `/_stats` with this request.
pub fn allow(config: &ServerConfig, peer: SocketAddr, parts: &Parts) -> Result<(), ApiError> {
    if is_loopback(&peer.ip()) {
        return Ok(());
    }
    let Some(credentials) = &config.credentials else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "/_stats answers only clients on this machine.",
        ));
    };
    let query = parse_query(parts.uri.query());
    auth_check::verify(
        credentials,
        parts.method.as_str(),
        parts.uri.path(),
        &query,
        &parts.headers,
        chrono::Utc::now().timestamp(),
    )
}
