//! Where requests go: the parsed endpoint (scheme, host, port) and the addressing style
//! that decides whether the bucket travels in the Host (virtual-hosted) or in the path
//! (path style), per the protocol reference §1.2.

use crate::bos::auth::uri_encode;
use crate::bos::{BosError, BosResult};

/// How the bucket is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Addressing {
    /// `http://host/<bucket>/<key>`.
    PathStyle,
    /// `http://<bucket>.host/<key>`.
    VirtualHost,
    /// Virtual-hosted for `*.bcebos.com` hosts, path style for IP addresses, `localhost`
    /// and any other host (how the official SDKs decide).
    #[default]
    Auto,
}

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or address (IPv6 in brackets).
    pub host: String,
    /// Port when not the scheme's default.
    pub port: Option<u16>,
    /// Addressing style after resolving `Auto`.
    pub style: Addressing,
}

/// Where one request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Full URL as sent (path and query already encoded).
    pub url: String,
    /// `Host` header value: host plus `:port` when not the default.
    pub host_header: String,
    /// Decoded path as the server sees it, for signing.
    pub decoded_path: String,
}

impl Endpoint {
    /// Parse `http://host[:port]`, `https://host[:port]` or a bare `host[:port]`
    /// (http, as the official SDKs default).
    pub fn parse(endpoint: &str, addressing: Addressing) -> BosResult<Self> {
        let text = endpoint.trim();
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        let url = reqwest::Url::parse(&with_scheme)
            .map_err(|e| BosError::InvalidArgument(format!("invalid endpoint {endpoint:?}: {e}")))?;
        let scheme = url.scheme().to_string();
        if scheme != "http" && scheme != "https" {
            return Err(BosError::InvalidArgument(format!(
                "endpoint {endpoint:?} must be http:// or https://"
            )));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(BosError::InvalidArgument(format!(
                "endpoint {endpoint:?} must not have a path or query"
            )));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| BosError::InvalidArgument(format!("endpoint {endpoint:?} has no host")))?
            .to_ascii_lowercase();
        let style = match addressing {
            Addressing::Auto if host.ends_with(".bcebos.com") => Addressing::VirtualHost,
            Addressing::Auto => Addressing::PathStyle,
            other => other,
        };
        Ok(Endpoint {
            scheme,
            host,
            port: url.port(),
            style,
        })
    }

    /// The endpoint as a URL prefix, e.g. `http://127.0.0.1:8080`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority(&self.host))
    }

    fn authority(&self, host: &str) -> String {
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// Where a request for `bucket` / `key` with `query` (name, value; empty value =
    /// bare parameter) goes. No bucket = a service-level request (ListBuckets).
    pub fn target(&self, bucket: Option<&str>, key: Option<&str>, query: &[(String, String)]) -> Target {
        let encoded_key = key.map(|k| uri_encode(k, true)).unwrap_or_default();
        let (host, decoded_path, path) = match (bucket, self.style) {
            (None, _) => (self.host.clone(), "/".to_string(), "/".to_string()),
            (Some(b), Addressing::VirtualHost) => {
                // An endpoint that already names the bucket (`b.bj.bcebos.com`) is used as is.
                let host = if self.host.starts_with(&format!("{b}.")) {
                    self.host.clone()
                } else {
                    format!("{b}.{}", self.host)
                };
                let k = key.unwrap_or_default();
                (host, format!("/{k}"), format!("/{encoded_key}"))
            }
            (Some(b), _) => match key {
                Some(k) => (self.host.clone(), format!("/{b}/{k}"), format!("/{b}/{encoded_key}")),
                None => (self.host.clone(), format!("/{b}"), format!("/{b}")),
            },
        };
        let mut url = format!("{}://{}{}", self.scheme, self.authority(&host), path);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(n, v)| format!("{}={}", uri_encode(n, false), uri_encode(v, false)))
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        Target {
            url,
            host_header: self.authority(&host),
            decoded_path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        let e = Endpoint::parse("bj.bcebos.com", Addressing::Auto).expect("parse");
        assert_eq!(
            (e.scheme.as_str(), e.style, e.port),
            ("http", Addressing::VirtualHost, None)
        );
        let t = e.target(Some("bkt"), Some("dir/ü x+y"), &[]);
        assert_eq!(t.url, "http://bkt.bj.bcebos.com/dir/%C3%BC%20x%2By");
        assert_eq!(t.host_header, "bkt.bj.bcebos.com");
        assert_eq!(t.decoded_path, "/dir/ü x+y");

        let e = Endpoint::parse("http://127.0.0.1:8080", Addressing::Auto).expect("parse");
        assert_eq!(e.style, Addressing::PathStyle);
        let q = [
            ("append".to_string(), String::new()),
            ("offset".to_string(), "5".to_string()),
        ];
        let t = e.target(Some("bkt"), Some("a//b"), &q);
        assert_eq!(t.url, "http://127.0.0.1:8080/bkt/a//b?append=&offset=5");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.decoded_path, "/bkt/a//b");
        assert_eq!(e.target(Some("bkt"), None, &[]).decoded_path, "/bkt");
        assert_eq!(e.target(None, None, &[]).url, "http://127.0.0.1:8080/");

        let e = Endpoint::parse("https://bj.bcebos.com:443", Addressing::PathStyle).expect("parse");
        assert_eq!((e.port, e.style), (None, Addressing::PathStyle));
        let e = Endpoint::parse("https://b1.bj.bcebos.com", Addressing::Auto).expect("parse");
        assert_eq!(e.target(Some("b1"), Some("k"), &[]).host_header, "b1.bj.bcebos.com");
        assert!(Endpoint::parse("ftp://x", Addressing::Auto).is_err());
        assert!(Endpoint::parse("http://x/path", Addressing::Auto).is_err());
    }

    #[test]
    fn url_keeps_double_slashes_and_encodings() {
        // What reqwest will send: the URL crate must not normalise our encoded path.
        let e = Endpoint::parse("http://localhost:1", Addressing::Auto).expect("parse");
        for key in ["a//b", "//lead", "dir/ü x+y", "trail/", "...", "x%2Fy", "q?#[]"] {
            let t = e.target(Some("bkt"), Some(key), &[("marker".into(), "a/b c".into())]);
            let url = reqwest::Url::parse(&t.url).expect("url");
            assert_eq!(url.as_str(), t.url, "key {key:?}");
            assert_eq!(url.path(), crate::bos::auth::canonical_uri(&t.decoded_path));
        }
    }
}
