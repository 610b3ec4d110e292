//! `bosmount uploads BUCKET[/PREFIX] [--older-than AGE] [--abort]`: the multipart uploads
//! that were started and never completed or aborted (a mount killed mid-`cp`, another
//! tool's leftovers). They are invisible in the bucket yet their parts are stored and
//! billed. Lists them, paginating ListMultipartUploads, and with `--abort` aborts those
//! older than `--older-than`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::bos::client::{BosClient, ClientConfig};
use crate::bos::credentials::Credentials;
use crate::bos::types::{ListUploadsRequest, UploadInfo};
use crate::bos::BosApi;

/// `bosmount uploads` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct UploadsArgs {
    /// Bucket, optionally with a key prefix: BUCKET or BUCKET/PREFIX.
    pub source: String,
    /// BOS endpoint.
    #[arg(long, env = "BOS_ENDPOINT", default_value = crate::fuse::args::DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Credentials file (`key = value` lines or one `AK:SK` line; mode 0600) [default:
    /// BCE_ACCESS_KEY_ID / BCE_SECRET_ACCESS_KEY].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Only uploads started longer ago than this (e.g. 90s, 30m, 1h, 2d).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: Option<Duration>,
    /// Abort the uploads listed (their parts are deleted).
    #[arg(long)]
    pub abort: bool,
}

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadsError {
    /// Credentials could not be loaded.
    #[error(transparent)]
    Credentials(#[from] crate::bos::credentials::CredentialsError),
    /// The endpoint check failed.
    #[error(transparent)]
    Endpoint(#[from] super::preflight::endpoint::EndpointError),
    /// A BOS request failed.
    #[error("{operation} failed: {source}")]
    Bos {
        /// Which request.
        operation: String,
        /// The error.
        source: crate::bos::BosError,
    },
    /// Some aborts failed (each was reported).
    #[error("{0} upload(s) could not be aborted")]
    AbortsFailed(usize),
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// Run the command, printing to stdout.
pub fn run(args: UploadsArgs) -> Result<(), UploadsError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(UploadsError::Runtime)?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: UploadsArgs) -> Result<(), UploadsError> {
    let (bucket, prefix) = match args.source.split_once('/') {
        Some((b, p)) => (b.to_string(), p.to_string()),
        None => (args.source.clone(), String::new()),
    };
    let credentials = Credentials::load(args.credentials.as_deref())?;
    super::preflight::endpoint::check(&args.endpoint, &credentials, &bucket).await?;
    let client =
        BosClient::new(ClientConfig::new(args.endpoint.clone(), credentials)).map_err(|source| UploadsError::Bos {
            operation: "client setup".into(),
            source,
        })?;
    let uploads = list_all(&client, &bucket, &prefix).await?;
    let now = SystemTime::now();
    let selected: Vec<&UploadInfo> = uploads
        .iter()
        .filter(|u| args.older_than.is_none_or(|min| age(now, u) >= min))
        .collect();
    println!("KEY\tUPLOAD ID\tINITIATED\tAGE");
    for u in &selected {
        println!(
            "{}\t{}\t{}\t{}",
            u.key,
            u.upload_id,
            httpdate::fmt_http_date(u.initiated),
            format_age(age(now, u))
        );
    }
    let qualifier = args
        .older_than
        .map(|d| format!(" older than {}", format_age(d)))
        .unwrap_or_default();
    println!(
        "{} unfinished upload(s){qualifier} in {bucket}/{prefix} ({} in all)",
        selected.len(),
        uploads.len()
    );
    if !args.abort {
        return Ok(());
    }
    let mut failed = 0;
    for u in selected {
        match client.abort_multipart_upload(&bucket, &u.key, &u.upload_id).await {
            Ok(()) => println!("aborted {} {}", u.key, u.upload_id),
            Err(e) if e.is_not_found() => println!("already gone {} {}", u.key, u.upload_id),
            Err(e) => {
                failed += 1;
                eprintln!(
                    "bosmount: AbortMultipartUpload {bucket}/{} ({}) failed: {e}",
                    u.key, u.upload_id
                );
            }
        }
    }
    if failed > 0 {
        return Err(UploadsError::AbortsFailed(failed));
    }
    Ok(())
}

/// Every unfinished upload under `prefix`, following `nextKeyMarker` page after page.
pub async fn list_all(api: &dyn BosApi, bucket: &str, prefix: &str) -> Result<Vec<UploadInfo>, UploadsError> {
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let request = ListUploadsRequest {
            prefix: prefix.to_string(),
            delimiter: None,
            key_marker: marker.clone(),
            max_uploads: None,
        };
        let page = api
            .list_multipart_uploads(bucket, &request)
            .await
            .map_err(|source| UploadsError::Bos {
                operation: format!("ListMultipartUploads {bucket}/{prefix}"),
                source,
            })?;
        let last = page.uploads.last().map(|u| u.key.clone());
        all.extend(page.uploads);
        if !page.is_truncated {
            return Ok(all);
        }
        let next = page.next_key_marker.filter(|m| !m.is_empty()).or(last);
        if next.is_none() || next == marker {
            return Ok(all);
        }
        marker = next;
    }
}

fn age(now: SystemTime, upload: &UploadInfo) -> Duration {
    now.duration_since(upload.initiated).unwrap_or(Duration::ZERO)
}

/// An age: a number with `s`, `m`, `h` or `d` (seconds when bare).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid age {text:?} (e.g. 90s, 30m, 1h, 2d)"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("invalid age unit in {text:?} (s, m, h or d)")),
    };
    n.checked_mul(factor)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("age {text:?} too large"))
}

/// `1d2h`, `3h4m`, `5m6s`, `7s`.
pub fn format_age(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bos::memory::InMemoryBos;
    use crate::bos::types::PutOptions;

    #[test]
    fn ages() {
        assert_eq!(parse_age("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
        assert!(parse_age("1w").is_err());
        assert_eq!(format_age(Duration::from_secs(93_784)), "1d2h");
        assert_eq!(format_age(Duration::from_secs(65)), "1m5s");
    }

    #[tokio::test]
    async fn listing_follows_pages() {
        let bos = InMemoryBos::with_bucket("bkt");
        for n in 0..1005 {
            bos.initiate_multipart_upload("bkt", &format!("dir/k{n:04}"), &PutOptions::default())
                .await
                .expect("initiate");
        }
        bos.initiate_multipart_upload("bkt", "other", &PutOptions::default())
            .await
            .expect("initiate");
        let all = list_all(&bos, "bkt", "dir/").await.expect("list");
        assert_eq!(all.len(), 1005);
        assert!(all.iter().all(|u| u.key.starts_with("dir/")));
    }
}
