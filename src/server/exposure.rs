//! Refusing to serve beyond loopback with credentials everyone knows: the built-in
//! default keys are public (they are in the README), and `--anonymous` checks nothing, so
//! either on a non-loopback address would open the data directory to the network.

use crate::bos::credentials::Credentials;
use std::net::SocketAddr;

/// Why the server will not listen on this address.
#[derive(Debug, thiserror::Error)]
#[error("refusing to listen on {addr} (not loopback) {why}: set BCE_ACCESS_KEY_ID and BCE_SECRET_ACCESS_KEY to your own keys, or pass --allow-insecure-listen")]
pub struct Exposed {
    addr: SocketAddr,
    why: &'static str,
}

/// Whether `addr` is reachable only from this machine.
pub fn is_loopback(addr: &std::net::IpAddr) -> bool {
    match addr {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Refuse a non-loopback `addr` served with the default credentials or none.
pub fn check(addr: SocketAddr, credentials: Option<&Credentials>) -> Result<(), Exposed> {
    if is_loopback(&addr.ip()) {
        return Ok(());
    }
    let why = match credentials {
        None => "without signature checks (--anonymous)",
        Some(c) if *c == Credentials::local_default() => "with the built-in default credentials",
        Some(_) => return Ok(()),
    };
    Err(Exposed { addr, why })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_always_fine_and_others_need_own_keys() {
        let local: SocketAddr = "127.0.0.1:80".parse().expect("addr");
        let any: SocketAddr = "0.0.0.0:80".parse().expect("addr");
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:80".parse().expect("addr");
        let default = Credentials::local_default();
        assert!(check(local, Some(&default)).is_ok());
        assert!(check(local, None).is_ok());
        assert!(check(mapped, None).is_ok());
        assert!(check(any, Some(&default)).is_err());
        assert!(check(any, None).is_err());
        assert!(check(any, Some(&Credentials::new("mine", "secret"))).is_ok());
        let text = check(any, Some(&default))
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default();
        assert!(text.contains("BCE_ACCESS_KEY_ID") && text.contains("--allow-insecure-listen"));
        assert!(!text.contains('\n'));
    }
}
