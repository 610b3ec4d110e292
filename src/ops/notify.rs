//! systemd readiness: `READY=1` sent to `$NOTIFY_SOCKET` once the mount is live, so a
//! `Type=notify` unit (and everything ordered after it) starts only when the directory
//! works.
//!
//! The protocol is one datagram on a Unix socket whose path is in `$NOTIFY_SOCKET`
//! (a leading `@` meaning the abstract namespace); writing it here takes a dozen lines
//! and no dependency, and does nothing when the variable is unset.

use std::os::unix::net::UnixDatagram;

/// Environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";

/// Tell systemd the service is ready; `Ok(false)` when not run under systemd.
pub fn ready(status: &str) -> std::io::Result<bool> {
    send(&format!("READY=1\nSTATUS={status}\nMAINPID={}", std::process::id()))
}

/// Send `state` to `$NOTIFY_SOCKET`; `Ok(false)` when it is unset.
pub fn send(state: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os(NOTIFY_SOCKET_ENV).filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        socket.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        socket.send_to(state.as_bytes(), &path)?;
    }
    Ok(true)
}
