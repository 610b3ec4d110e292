//! Benchmark of the BOS client against the local server (not a timed test).
//!
//! Starts `bosmount serve` in-process over a temp dir (or uses `--endpoint URL`), then:
//! (a) writes one large object as a multipart upload (default 1 GiB, 8 MiB parts, 4 in
//! flight), (b) reads it back with ranged GETs (4 in flight) and checks every byte,
//! (c) writes and reads many small objects (default 1,000 × 4 KiB, 8 in flight), and
//! (d) writes the same large size to local disk with fsync, as the ceiling.
//! Prints MB/s, objects/s and requests per object (from the server's `GET /_stats`).
//!
//! Run with `scripts/bench-client.sh` (release build). Options: `--endpoint URL`,
//! `--bucket NAME`, `--size-mib N`, `--part-mib N`, `--inflight N`, `--small-count N`,
//! `--small-kib N`, `--small-inflight N`, `--dir PATH` (temp dir parent).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use bosmount::bos::client::{BosClient, ClientConfig};
use bosmount::bos::credentials::Credentials;
use bosmount::bos::types::*;
use bosmount::bos::BosApi;

const MIB: usize = 1024 * 1024;

#[derive(Debug)]
struct Options {
    endpoint: Option<String>,
    bucket: String,
    size_mib: usize,
    part_mib: usize,
    inflight: usize,
    small_count: usize,
    small_kib: usize,
    small_inflight: usize,
    dir: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        endpoint: None,
        bucket: "bench".into(),
        size_mib: 1024,
        part_mib: 8,
        inflight: 4,
        small_count: 1000,
        small_kib: 4,
        small_inflight: 8,
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--endpoint" => o.endpoint = Some(value()?),
            "--bucket" => o.bucket = value()?,
            "--size-mib" => o.size_mib = number(value()?)?,
            "--part-mib" => o.part_mib = number(value()?)?,
            "--inflight" => o.inflight = number(value()?)?,
            "--small-count" => o.small_count = number(value()?)?,
            "--small-kib" => o.small_kib = number(value()?)?,
            "--small-inflight" => o.small_inflight = number(value()?)?,
            "--dir" => o.dir = Some(value()?.into()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.part_mib == 0 || o.inflight == 0 || o.small_inflight == 0 {
        return Err("part size and in-flight counts must be positive".into());
    }
    Ok(o)
}

/// The bytes of part `index`: a fixed random block stamped with the index, so every
/// part differs and can be rebuilt for checking without holding the object.
fn part_bytes(block: &Bytes, index: usize, len: usize) -> Bytes {
    let mut b = BytesMut::from(&block[..len]);
    b[..8].copy_from_slice(&(index as u64).to_le_bytes());
    b.freeze()
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// Requests per operation from the server's `GET /_stats` (None when unavailable).
async fn server_requests(endpoint: &str) -> Option<BTreeMap<String, u64>> {
    #[derive(serde::Deserialize)]
    struct Stats {
        requests: BTreeMap<String, u64>,
    }
    let answer = reqwest::get(format!("{endpoint}/_stats")).await.ok()?;
    let body = answer.bytes().await.ok()?;
    serde_json::from_slice::<Stats>(&body).ok().map(|s| s.requests)
}

fn delta(before: &Option<BTreeMap<String, u64>>, after: &Option<BTreeMap<String, u64>>) -> Option<u64> {
    let (b, a) = (before.as_ref()?, after.as_ref()?);
    Some(a.values().sum::<u64>() - b.values().sum::<u64>())
}

fn disk_ceiling(dir: &std::path::Path, block: &Bytes, parts: usize, part: usize) -> std::io::Result<Duration> {
    let path = dir.join("disk-ceiling.bin");
    let started = Instant::now();
    let mut f = std::fs::File::create(&path)?;
    for i in 0..parts {
        f.write_all(&part_bytes(block, i, part))?;
    }
    f.sync_all()?;
    let elapsed = started.elapsed();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let o = parse_args()?;
    let temp = match &o.dir {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };
    let part = o.part_mib * MIB;
    let parts = (o.size_mib * MIB).div_ceil(part);
    let total = parts * part;

    let (endpoint, _server) = match &o.endpoint {
        Some(e) => (e.clone(), None),
        None => {
            let config = bosmount::server::ServerConfig {
                data_dir: temp.path().join("data"),
                buckets: vec![o.bucket.clone()],
                credentials: Some(Credentials::local_default()),
                min_part_size: MIN_PART_SIZE,
                latency: Duration::ZERO,
                fail_rate: 0.0,
                refuse_appendable_copy: false,
                region: "bj".into(),
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let server = bosmount::server::start(config, listener).await?;
            (format!("http://{}", server.addr), Some(server))
        }
    };
    let credentials = Credentials::from_env().unwrap_or_else(Credentials::local_default);
    let client = Arc::new(BosClient::new(ClientConfig::new(endpoint.clone(), credentials))?);
    if client.head_bucket(&o.bucket).await.is_err() {
        client.put_bucket(&o.bucket).await?;
    }
    println!(
        "endpoint {endpoint}, bucket {}, data in {}",
        o.bucket,
        temp.path().display()
    );

    let block = Bytes::from(
        (0..part)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8 ^ (i >> 13) as u8)
            .collect::<Vec<u8>>(),
    );

    // (a) Multipart write.
    let key = "bench/large.bin";
    let before = server_requests(&endpoint).await;
    let started = Instant::now();
    let upload_id = client
        .initiate_multipart_upload(&o.bucket, key, &PutOptions::default())
        .await?;
    let mut completed: Vec<CompletedPart> = stream::iter(0..parts)
        .map(|i| {
            let (c, bucket, id, block) = (client.clone(), o.bucket.clone(), upload_id.clone(), block.clone());
            async move {
                let body = part_bytes(&block, i, part);
                let etag = c.upload_part(&bucket, key, &id, i as u32 + 1, body).await?;
                Ok::<_, bosmount::bos::BosError>(CompletedPart {
                    part_number: i as u32 + 1,
                    e_tag: etag,
                })
            }
        })
        .buffer_unordered(o.inflight)
        .try_collect()
        .await?;
    completed.sort_by_key(|p| p.part_number);
    client
        .complete_multipart_upload(&o.bucket, key, &upload_id, &completed, &PutOptions::default())
        .await?;
    let write_time = started.elapsed();
    let write_requests = delta(&before, &server_requests(&endpoint).await);

    // (b) Ranged reads, checked.
    let before = server_requests(&endpoint).await;
    let started = Instant::now();
    stream::iter(0..parts)
        .map(|i| {
            let (c, bucket, block) = (client.clone(), o.bucket.clone(), block.clone());
            async move {
                let start = (i * part) as u64;
                let range = ByteRange {
                    start,
                    end: Some(start + part as u64 - 1),
                };
                let got = c.get_object(&bucket, key, Some(range)).await?;
                if got.body != part_bytes(&block, i, part) {
                    return Err(format!("part {i} read back differs").into());
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            }
        })
        .buffer_unordered(o.inflight)
        .try_collect::<Vec<()>>()
        .await
        .map_err(|e| e.to_string())?;
    let read_time = started.elapsed();
    let read_requests = delta(&before, &server_requests(&endpoint).await);

    // (c) Small objects.
    let small = o.small_kib * 1024;
    let before = server_requests(&endpoint).await;
    let started = Instant::now();
    stream::iter(0..o.small_count)
        .map(|i| {
            let (c, bucket) = (client.clone(), o.bucket.clone());
            let body = part_bytes(&block, i, small.min(part).max(8));
            async move {
                c.put_object(&bucket, &format!("bench/small/{i:05}"), body, &PutOptions::default())
                    .await
            }
        })
        .buffer_unordered(o.small_inflight)
        .try_collect::<Vec<_>>()
        .await?;
    let small_write_time = started.elapsed();
    let small_write_requests = delta(&before, &server_requests(&endpoint).await);
    let before = server_requests(&endpoint).await;
    let started = Instant::now();
    stream::iter(0..o.small_count)
        .map(|i| {
            let (c, bucket) = (client.clone(), o.bucket.clone());
            async move { c.get_object(&bucket, &format!("bench/small/{i:05}"), None).await }
        })
        .buffer_unordered(o.small_inflight)
        .try_collect::<Vec<_>>()
        .await?;
    let small_read_time = started.elapsed();
    let small_read_requests = delta(&before, &server_requests(&endpoint).await);

    // (d) Local disk ceiling.
    let disk_time = disk_ceiling(temp.path(), &block, parts, part)?;

    let per = |r: Option<u64>, n: usize| {
        r.map_or("n/a (no /_stats)".to_string(), |r| {
            format!("{:.3}", r as f64 / n as f64)
        })
    };
    println!();
    println!(
        "large object: {} MiB in {parts} parts of {} MiB, {} in flight",
        total / MIB,
        o.part_mib,
        o.inflight
    );
    println!(
        "  multipart write : {:8.1} MB/s  ({:.2} s, {} requests)",
        mb_per_s(total, write_time),
        write_time.as_secs_f64(),
        write_requests.map_or("n/a".into(), |r| r.to_string())
    );
    println!(
        "  ranged read     : {:8.1} MB/s  ({:.2} s, {} requests)",
        mb_per_s(total, read_time),
        read_time.as_secs_f64(),
        read_requests.map_or("n/a".into(), |r| r.to_string())
    );
    println!(
        "  local disk+fsync: {:8.1} MB/s  ({:.2} s)  <- ceiling",
        mb_per_s(total, disk_time),
        disk_time.as_secs_f64()
    );
    println!(
        "small objects: {} x {} KiB, {} in flight",
        o.small_count, o.small_kib, o.small_inflight
    );
    println!(
        "  put             : {:8.1} objects/s  ({:.2} s, {} requests/object)",
        o.small_count as f64 / small_write_time.as_secs_f64(),
        small_write_time.as_secs_f64(),
        per(small_write_requests, o.small_count)
    );
    println!(
        "  get             : {:8.1} objects/s  ({:.2} s, {} requests/object)",
        o.small_count as f64 / small_read_time.as_secs_f64(),
        small_read_time.as_secs_f64(),
        per(small_read_requests, o.small_count)
    );
    println!("client request counts (retries included): {:?}", client.counts());
    Ok(())
}
