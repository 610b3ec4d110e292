//! Direct-GET baseline for `scripts/bench-read.sh` (not a timed test): reads one object
//! with the same client stack the mount uses (`BosClient`, reqwest, rustls) and no FUSE in
//! between, so the mount's sequential read can be compared with what one stream of the
//! backend delivers to this process.
//!
//! Modes: `--mode stream` (default) is one signed GET of the whole object whose body is
//! consumed as it arrives (reqwest, the mount's signer and endpoint code), like `curl`;
//! `--mode whole` is one `BosClient::get_object` of the whole object (body collected in
//! memory); `--mode ranged --request-mib N` reads it with `BosClient::get_object` ranged GETs
//! of N MiB one after another (one stream, one request at a time). Prints one line, machine-readable:
//! `mib_s=… cpu_s_per_gib=… bytes=…`, the CPU being this process's user+system time.
//!
//! Usage: `bench_get --endpoint URL --bucket NAME --key KEY [--mode stream|whole|ranged]
//! [--request-mib N] [--runs N]`.
//! Credentials come from `BCE_ACCESS_KEY_ID` / `BCE_SECRET_ACCESS_KEY` (or the local defaults).

use std::time::Instant;

use bosmount::bos::client::request::{self, Call};
use bosmount::bos::client::{Addressing, BosClient, ClientConfig, Endpoint};
use bosmount::bos::credentials::Credentials;
use bosmount::bos::types::ByteRange;
use bosmount::bos::types::Operation;
use bosmount::bos::BosApi;
use reqwest::Method;

const MIB: u64 = 1024 * 1024;

struct Options {
    endpoint: String,
    bucket: String,
    key: String,
    mode: String,
    request_mib: u64,
    runs: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        endpoint: String::new(),
        bucket: "bench".into(),
        key: String::new(),
        mode: "stream".into(),
        request_mib: 8,
        runs: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--endpoint" => o.endpoint = value,
            "--bucket" => o.bucket = value,
            "--key" => o.key = value,
            "--mode" => o.mode = value,
            "--request-mib" => o.request_mib = number(&value)?.max(1),
            "--runs" => o.runs = number(&value)?.max(1) as usize,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.endpoint.is_empty() || o.key.is_empty() {
        return Err("--endpoint and --key are required".into());
    }
    Ok(o)
}

/// One signed GET of the whole object, its body counted and dropped chunk by chunk.
async fn stream_get(o: &Options) -> Result<u64, Box<dyn std::error::Error>> {
    let credentials = Credentials::from_env().unwrap_or_else(Credentials::local_default);
    let endpoint = Endpoint::parse(&o.endpoint, Addressing::Auto)?;
    let call = Call::new(Operation::GetObject, Method::GET, Some(&o.bucket), Some(&o.key));
    let target = endpoint.target(call.bucket, call.key, &call.query);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let (headers, authorization) =
        request::signed_headers(&call, &target.host_header, &target.decoded_path, &credentials, now);
    let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let mut builder = http.get(&target.url).header("authorization", authorization);
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let mut response = builder.send().await?.error_for_status()?;
    let mut read = 0u64;
    while let Some(chunk) = response.chunk().await? {
        read += chunk.len() as u64;
    }
    Ok(read)
}

/// User plus system CPU time of this process, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = parse_args()?;
    let credentials = Credentials::from_env().unwrap_or_else(Credentials::local_default);
    let client = BosClient::new(ClientConfig::new(o.endpoint.clone(), credentials))?;
    let size = client.head_object(&o.bucket, &o.key).await?.size;
    for _ in 0..o.runs {
        let (cpu0, started) = (cpu_seconds(), Instant::now());
        let mut read = 0u64;
        if o.mode == "stream" {
            read += stream_get(&o).await?;
        } else if o.mode == "whole" {
            read += client.get_object(&o.bucket, &o.key, None).await?.body.len() as u64;
        } else {
            while read < size {
                let end = size.min(read + o.request_mib * MIB);
                let range = ByteRange {
                    start: read,
                    end: Some(end - 1),
                };
                read += client.get_object(&o.bucket, &o.key, Some(range)).await?.body.len() as u64;
            }
        }
        let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        let gib = read as f64 / (1024.0 * MIB as f64);
        println!(
            "mib_s={:.0} cpu_s_per_gib={:.2} bytes={read}",
            read as f64 / MIB as f64 / secs,
            cpu / gib
        );
    }
    Ok(())
}
