//! Who can reach the server: `bosmount serve --listen` on a non-loopback address with the
//! built-in default credentials (or `--anonymous`) refuses to start unless
//! `--allow-insecure-listen` is given, and `/_stats` answers loopback clients, or others
//! only when they sign the request.

mod server_common;

use bosmount::server::ServeLimits;
use server_common::{Req, TestServer};
use std::io::BufRead;
use std::net::IpAddr;
use std::process::{Command, Stdio};

/// Run `bosmount serve` with `args`; returns (exit status if it ended, first stdout
/// line, stderr). A server that started is killed after printing its banner.
fn serve(args: &[&str], env: &[(&str, &str)]) -> (Option<std::process::ExitStatus>, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bosmount"));
    cmd.arg("serve")
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(args)
        .env_remove("BCE_ACCESS_KEY_ID")
        .env_remove("BCE_SECRET_ACCESS_KEY")
        .env_remove("BCE_SESSION_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn bosmount serve");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    let _ = stdout.read_line(&mut first);
    let ended = if first.contains("listening on") {
        let _ = child.kill();
        let _ = child.wait();
        None
    } else {
        Some(child.wait().expect("wait"))
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    (ended, first, stderr)
}

#[test]
fn public_listen_with_default_credentials_is_refused() {
    for extra in [&[][..], &["--anonymous"][..]] {
        let args: Vec<&str> = ["--listen", "0.0.0.0:0"]
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect();
        let (ended, _, stderr) = serve(&args, &[]);
        let status = ended.expect("the server refuses to start");
        assert!(!status.success());
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        assert!(
            lines[0].contains("not loopback")
                && lines[0].contains("BCE_ACCESS_KEY_ID")
                && lines[0].contains("--allow-insecure-listen"),
            "{stderr}"
        );
    }
    // Allowed explicitly, with own keys, or on loopback.
    let (ended, first, _) = serve(&["--listen", "0.0.0.0:0", "--allow-insecure-listen"], &[]);
    assert!(ended.is_none(), "{first}");
    let (ended, first, _) = serve(
        &["--listen", "0.0.0.0:0"],
        &[("BCE_ACCESS_KEY_ID", "own-ak"), ("BCE_SECRET_ACCESS_KEY", "own-secret")],
    );
    assert!(ended.is_none(), "{first}");
    let (ended, first, _) = serve(&["--listen", "127.0.0.1:0"], &[]);
    assert!(ended.is_none(), "{first}");
}

/// An address of this machine other than loopback (none when it has no such interface).
fn non_loopback_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks the route and source address.
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn stats_answer_loopback_or_signed_clients_only() {
    let s = TestServer::start_limited(ServeLimits::default(), "0.0.0.0:0", |_| {}).await;
    Req::new("GET", "/_stats").send(s.addr).await.expect(200);
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback interface: only the loopback half was checked");
        return;
    };
    let remote = std::net::SocketAddr::new(ip, s.addr.port());
    for (method, path) in [("GET", "/_stats"), ("DELETE", "/_stats"), ("POST", "/_stats/reset")] {
        let r = Req::new(method, path).send(remote).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "AccessDenied".to_string()),
            "{method} {path}"
        );
    }
    Req::new("GET", "/_stats")
        .signed(s.creds.clone())
        .send(remote)
        .await
        .expect(200);
    let wrong = bosmount::bos::credentials::Credentials::new("test-ak", "wrong");
    assert_eq!(Req::new("GET", "/_stats").signed(wrong).send(remote).await.status, 403);
}
