//! Test helpers for the local server: start it in-process on 127.0.0.1:0 over a temp
//! directory, and speak raw HTTP/1.1 to it (so paths such as `a//b` and `../x` travel
//! exactly as written), signing requests with the crate's BCE signer.

#![allow(dead_code)]

use bosmount::bos::auth::{format_timestamp, sign, uri_encode, SigningInput};
use bosmount::bos::credentials::Credentials;
use bosmount::server::{start_with_limits, RunningServer, ServeLimits, ServerConfig};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server over a temp dir, stopped on drop.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub creds: Credentials,
}

pub fn config(dir: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig::new(dir.join("data"));
    c.buckets = vec!["bkt".to_string()];
    c.credentials = Some(Credentials::new("test-ak", "test-secret"));
    c.min_part_size = 5;
    c
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::start_limited(ServeLimits::default(), "127.0.0.1:0", tune).await
    }

    /// Start with explicit limits, listening on `listen`.
    pub async fn start_limited(limits: ServeLimits, listen: &str, tune: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = config(dir.path());
        tune(&mut cfg);
        let creds = cfg
            .credentials
            .clone()
            .unwrap_or_else(|| Credentials::new("none", "none"));
        let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
        let server = start_with_limits(cfg, limits, listener, None).await.expect("start");
        TestServer {
            addr: server.addr,
            server: Some(server),
            dir,
            creds,
        }
    }

    /// Stop and start again over the same directory (same config tweaks).
    pub async fn restart(&mut self, tune: impl FnOnce(&mut ServerConfig)) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        let mut cfg = config(self.dir.path());
        tune(&mut cfg);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = start_with_limits(cfg, ServeLimits::default(), listener, None)
            .await
            .expect("restart");
        self.addr = server.addr;
        self.server = Some(server);
    }

    pub fn req(&self, method: &str, path: &str) -> Req {
        Req::new(method, path).signed(self.creds.clone())
    }

    pub async fn send(&self, req: Req) -> Resp {
        req.send(self.addr).await
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    pub async fn stats(&self) -> serde_json::Value {
        Req::new("GET", "/_stats").send(self.addr).await.json()
    }
}

/// A request to build and send.
#[derive(Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub creds: Option<Credentials>,
    pub timestamp: Option<i64>,
    pub expiration: u64,
    pub presign: bool,
    pub host: Option<String>,
    /// Explicit signedHeaders (`None` = the default set, printed `//`).
    pub listed: Option<Vec<String>>,
    /// Headers added after signing (not covered by the signature).
    pub unsigned_headers: Vec<(String, String)>,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Self {
        Req {
            method: method.to_string(),
            path: path.to_string(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            creds: None,
            timestamp: None,
            expiration: 1800,
            presign: false,
            host: None,
            listed: None,
            unsigned_headers: Vec::new(),
        }
    }
    /// Sign exactly these header names (and list them).
    pub fn listed(mut self, names: &[&str]) -> Self {
        self.listed = Some(names.iter().map(|n| n.to_string()).collect());
        self
    }
    /// Add a header after signing.
    pub fn unsigned_h(mut self, k: &str, v: &str) -> Self {
        self.unsigned_headers.push((k.to_string(), v.to_string()));
        self
    }
    /// Send to `host` but sign for `signed_host`.
    pub fn host_signed_as(self, host: &str, signed_host: &str) -> Self {
        self.host(signed_host).unsigned_h("x-test-real-host", host)
    }
    pub fn signed(mut self, c: Credentials) -> Self {
        self.creds = Some(c);
        self
    }
    pub fn unsigned(mut self) -> Self {
        self.creds = None;
        self
    }
    pub fn q(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.to_string(), v.to_string()));
        self
    }
    pub fn h(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    pub fn at(mut self, ts: i64, expiration: u64) -> Self {
        self.timestamp = Some(ts);
        self.expiration = expiration;
        self
    }
    pub fn host(mut self, host: &str) -> Self {
        self.host = Some(host.to_string());
        self
    }
    pub fn presigned(mut self) -> Self {
        self.presign = true;
        self
    }

    /// The request head (and the headers list that was signed).
    pub fn head_bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut headers = self.headers.clone();
        headers.push(("host".into(), self.host.clone().unwrap_or_else(|| addr.to_string())));
        let ts = self.timestamp.unwrap_or_else(|| chrono::Utc::now().timestamp());
        if !self.presign {
            // A presigned URL is used as is: no extra signed headers.
            headers.push(("content-length".into(), self.body.len().to_string()));
            headers.push(("x-bce-date".into(), format_timestamp(ts)));
        }
        let mut query = self.query.clone();
        if let Some(c) = &self.creds {
            let to_sign = headers.clone();
            let s = sign(
                &c.access_key_id,
                &c.secret_access_key,
                &SigningInput {
                    method: &self.method,
                    path: &self.path,
                    params: &query,
                    headers: &to_sign,
                    headers_to_sign: self.listed.as_deref(),
                    timestamp: ts,
                    expiration_seconds: self.expiration,
                },
            );
            if self.presign {
                query.push(("authorization".into(), s.authorization));
            } else {
                headers.push(("authorization".into(), s.authorization));
            }
        }
        let mut target = uri_encode(&self.path, true);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        uri_encode(k, false)
                    } else {
                        format!("{}={}", uri_encode(k, false), uri_encode(v, false))
                    }
                })
                .collect();
            target = format!("{target}?{}", q.join("&"));
        }
        headers.extend(self.unsigned_headers.iter().cloned());
        // A host other than the signed one (see `host_signed_as`).
        if let Some(real) = headers
            .iter()
            .find(|(k, _)| k == "x-test-real-host")
            .map(|(_, v)| v.clone())
        {
            headers.retain(|(k, _)| k != "host" && k != "x-test-real-host");
            headers.push(("host".into(), real));
        }
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, target);
        for (k, v) in &headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("connection: close\r\n\r\n");
        out.into_bytes()
    }

    pub async fn send(&self, addr: SocketAddr) -> Resp {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(&self.head_bytes(addr)).await.expect("write head");
        stream.write_all(&self.body).await.expect("write body");
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut raw))
            .await
            .expect("response within 60 s")
            .expect("read");
        Resp::parse(&raw, self.method == "HEAD")
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn parse(mut raw: &[u8], head: bool) -> Resp {
        loop {
            let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of head");
            let head_text = String::from_utf8_lossy(&raw[..end]).into_owned();
            let rest = &raw[end + 4..];
            let mut lines = head_text.split("\r\n");
            let status: u16 = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .expect("status");
            if (100..200).contains(&status) {
                raw = rest;
                continue;
            }
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let chunked = headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
            let body = if head {
                Vec::new()
            } else if chunked {
                let mut out = Vec::new();
                let mut r = rest;
                loop {
                    let e = r.windows(2).position(|w| w == b"\r\n").expect("chunk size");
                    let n = usize::from_str_radix(String::from_utf8_lossy(&r[..e]).trim(), 16).expect("hex");
                    r = &r[e + 2..];
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&r[..n]);
                    r = &r[n + 2..];
                }
                out
            } else {
                rest.to_vec()
            };
            return Resp { status, headers, body };
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Panic with the body unless the status is `want`.
    pub fn expect(self, want: u16) -> Resp {
        assert_eq!(self.status, want, "body: {}", self.text());
        self
    }
}

pub fn md5_b64(data: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    bosmount::bos::auth::hex_lower(&md5::Md5::digest(data))
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
