//! Tests of the write pipelines against the in-memory BOS twin: request counts per operation,
//! bytes stored, memory bound, failure injection, concurrent appenders.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::bos::memory::{Fault, InMemoryBos};
use crate::bos::{BosApi, ObjectMeta, ObjectType, Operation, PutOptions, StorageClass};

const B: &str = "bkt";
const MIB: usize = 1024 * 1024;

fn service(min_part: u64) -> Arc<InMemoryBos> {
    Arc::new(InMemoryBos::with_bucket(B).with_min_part_size(min_part))
}

fn api(bos: &Arc<InMemoryBos>) -> Arc<dyn BosApi> {
    bos.clone()
}

fn config(part_size: usize, concurrency: usize) -> Arc<WriteConfig> {
    Arc::new(WriteConfig {
        part_size,
        upload_concurrency: concurrency,
        ..WriteConfig::default()
    })
}

/// Deterministic, position-dependent bytes (so misplaced parts are caught).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

fn create(bos: &Arc<InMemoryBos>, key: &str, cfg: Arc<WriteConfig>) -> FileWriter {
    FileWriter::create(api(bos), B.into(), key.into(), PutOptions::default(), cfg)
}

async fn put(bos: &Arc<InMemoryBos>, key: &str, data: &[u8]) -> ObjectMeta {
    bos.put_object(B, key, Bytes::copy_from_slice(data), &PutOptions::default())
        .await
        .expect("put");
    let meta = bos.head_object(B, key).await.expect("head");
    bos.reset_counts();
    meta
}

async fn put_appendable(bos: &Arc<InMemoryBos>, key: &str, data: &[u8]) -> ObjectMeta {
    bos.append_object(B, key, None, Bytes::copy_from_slice(data), &PutOptions::default())
        .await
        .expect("append");
    let meta = bos.head_object(B, key).await.expect("head");
    bos.reset_counts();
    meta
}

fn stored(bos: &InMemoryBos, key: &str) -> Vec<u8> {
    bos.object_bytes(B, key).expect("object exists").to_vec()
}

async fn write_all(w: &mut FileWriter, mut offset: u64, data: &[u8], chunk: usize) {
    for piece in data.chunks(chunk) {
        let n = w.write(offset, piece).await.expect("write");
        assert_eq!(n, piece.len());
        offset += n as u64;
    }
}

// ---------------------------------------------------------------------------------------------
// create: PutObject and streaming multipart

#[tokio::test]
async fn small_file_is_exactly_one_put_object() {
    let bos = service(MIB as u64);
    let options = PutOptions {
        content_type: Some("text/plain".into()),
        storage_class: Some(StorageClass::StandardIa),
        ..PutOptions::default()
    };
    let mut w = FileWriter::create(api(&bos), B.into(), "a.txt".into(), options, config(MIB, 4));
    let data = pattern(1024, 1);
    write_all(&mut w, 0, &data, 100).await;
    assert_eq!(w.size(), 1024);
    assert_eq!(bos.total_requests(), 0, "nothing is sent before commit");
    let c = w.commit().await.expect("commit");
    assert_eq!(c.size, 1024);
    assert_eq!(bos.count(Operation::PutObject), 1);
    assert_eq!(bos.total_requests(), 1, "{:?}", bos.counts());
    assert_eq!(stored(&bos, "a.txt"), data);
    let meta = bos.head_object(B, "a.txt").await.expect("head");
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(meta.storage_class, StorageClass::StandardIa);
    assert_eq!(meta.etag, c.etag);
    // Idempotent: a second flush sends nothing.
    bos.reset_counts();
    assert_eq!(w.commit().await.expect("again"), c);
    assert_eq!(bos.total_requests(), 0);
}

#[tokio::test]
async fn empty_file_is_a_zero_byte_put() {
    let bos = service(MIB as u64);
    let mut w = create(&bos, "empty", config(MIB, 4));
    w.commit().await.expect("commit");
    assert_eq!(bos.counts(), [("PutObject".to_string(), 1)].into_iter().collect());
    assert!(stored(&bos, "empty").is_empty());
}

#[tokio::test]
async fn file_of_exactly_one_part_is_still_one_put() {
    let bos = service(MIB as u64);
    let mut w = create(&bos, "one", config(MIB, 4));
    let data = pattern(MIB, 2);
    write_all(&mut w, 0, &data, 64 * 1024).await;
    w.commit().await.expect("commit");
    assert_eq!(bos.total_requests(), 1, "{:?}", bos.counts());
    assert_eq!(stored(&bos, "one"), data);
}

#[tokio::test]
async fn hundred_mib_streams_as_multipart_within_the_memory_bound() {
    let bos = service(MIB as u64);
    // Every request takes a little while, so parts really are in flight together.
    bos.set_delay(Duration::from_millis(20));
    let (part, conc) = (MIB, 4);
    let mut w = create(&bos, "big", config(part, conc));
    let data = pattern(100 * MIB + 12345, 3);
    write_all(&mut w, 0, &data, 128 * 1024).await;
    let c = w.commit().await.expect("commit");
    assert_eq!(c.size, data.len() as u64);
    assert_eq!(bos.count(Operation::InitiateMultipartUpload), 1);
    assert_eq!(bos.count(Operation::UploadPart), 101);
    assert_eq!(bos.count(Operation::CompleteMultipartUpload), 1);
    assert_eq!(bos.count(Operation::PutObject), 0);
    assert_eq!(bos.upload_count(B), 0);
    assert!(stored(&bos, "big") == data, "stored bytes differ");
    let high = w.memory_high_water();
    eprintln!("100 MiB through 1 MiB parts, 4 in flight: memory high water {high} bytes");
    assert!(
        high <= part * (conc + 1),
        "high water {high} exceeds {}",
        part * (conc + 1)
    );
    assert!(
        high > part * 2,
        "high water {high}: parts were never in flight together"
    );
}

#[tokio::test]
async fn out_of_order_writes_in_the_tail_and_sparse_gaps() {
    let bos = service(MIB as u64);
    let mut w = create(&bos, "sparse", config(MIB, 2));
    let mut expect = vec![0u8; 3 * MIB + 500];
    let a = pattern(1000, 4);
    let b = pattern(2000, 5);
    // Backwards inside the first window.
    w.write(5000, &a).await.expect("write a");
    w.write(0, &b).await.expect("write b");
    expect[5000..6000].copy_from_slice(&a);
    expect[..2000].copy_from_slice(&b);
    // Jump over a hole into the third window: windows 1 and 2 are sealed with zeros.
    let c = pattern(500, 6);
    w.write(3 * MIB as u64, &c).await.expect("write c");
    expect[3 * MIB..].copy_from_slice(&c);
    // Below the uploaded boundary: refused, writer still usable.
    match w.write(10, b"late").await {
        Err(WriteError::NonSequential { offset, uploaded }) => {
            assert_eq!(offset, 10);
            assert_eq!(uploaded, 3 * MIB as u64);
        }
        other => panic!("expected NonSequential, got {other:?}"),
    }
    // Still fine inside the tail, also backwards.
    w.write(3 * MIB as u64 + 100, b"XY").await.expect("tail write");
    expect[3 * MIB + 100..3 * MIB + 102].copy_from_slice(b"XY");
    w.commit().await.expect("commit");
    assert!(stored(&bos, "sparse") == expect);
    assert_eq!(bos.count(Operation::UploadPart), 4);
}

#[tokio::test]
async fn failing_third_part_fails_the_writer_and_aborts() {
    let bos = service(MIB as u64);
    bos.inject(Fault::on(Operation::UploadPart).skip(2));
    let mut w = create(&bos, "fail", config(MIB, 2));
    let data = pattern(8 * MIB, 7);
    let mut first_error = None;
    for (i, piece) in data.chunks(256 * 1024).enumerate() {
        if let Err(e) = w.write((i * 256 * 1024) as u64, piece).await {
            first_error = Some(e);
            break;
        }
    }
    let first = match first_error {
        Some(e) => e,
        None => w.commit().await.expect_err("commit must fail"),
    };
    assert!(matches!(first, WriteError::Bos(_)), "{first:?}");
    // Remembered afterwards.
    assert!(matches!(
        w.write(data.len() as u64, b"x").await,
        Err(WriteError::Failed(_))
    ));
    assert!(matches!(w.fsync().await, Err(WriteError::Failed(_))));
    assert!(matches!(w.commit().await, Err(WriteError::Failed(_))));
    assert_eq!(bos.count(Operation::AbortMultipartUpload), 1);
    assert_eq!(bos.count(Operation::CompleteMultipartUpload), 0);
    assert_eq!(bos.upload_count(B), 0);
    assert!(bos.object_bytes(B, "fail").is_none());
}

#[tokio::test]
async fn too_large_is_refused() {
    let bos = service(1);
    let part = 1024;
    let mut w = create(&bos, "huge", config(part, 2));
    let limit = (part * 10_000) as u64;
    match w.write(limit - 1, b"ab").await {
        Err(WriteError::TooLarge { size, limit: l }) => {
            assert_eq!(size, limit + 1);
            assert_eq!(l, limit);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(w.truncate(limit + 1).await, Err(WriteError::TooLarge { .. })));
    assert_eq!(bos.total_requests(), 0);
}

#[tokio::test]
async fn truncate_to_zero_during_multipart_starts_over() {
    let bos = service(MIB as u64);
    let mut w = create(&bos, "t", config(MIB, 2));
    write_all(&mut w, 0, &pattern(3 * MIB, 8), MIB).await;
    assert!(matches!(w.truncate(10).await, Err(WriteError::NonSequential { .. })));
    w.truncate(0).await.expect("truncate 0");
    assert_eq!(bos.count(Operation::AbortMultipartUpload), 1);
    assert_eq!(w.size(), 0);
    w.write(0, b"fresh").await.expect("write");
    // Extending with truncate zero-fills.
    w.truncate(8).await.expect("extend");
    w.commit().await.expect("commit");
    assert_eq!(stored(&bos, "t"), b"fresh\0\0\0");
    assert_eq!(bos.count(Operation::PutObject), 1);
    assert_eq!(bos.upload_count(B), 0);
}

#[tokio::test]
async fn writes_after_a_commit_are_committed_again() {
    let bos = service(MIB as u64);
    // Small: the buffer stays, the next commit puts again.
    let mut w = create(&bos, "s", config(MIB, 2));
    w.write(0, b"hello").await.expect("write");
    w.commit().await.expect("commit 1");
    w.write(5, b" world").await.expect("write after commit");
    let c = w.commit().await.expect("commit 2");
    assert_eq!(c.size, 11);
    assert_eq!(stored(&bos, "s"), b"hello world");
    assert_eq!(bos.count(Operation::PutObject), 2);
    assert_eq!(bos.count(Operation::GetObject), 0);

    // Large: the committed object becomes the base; untouched parts are copied.
    let mut w = create(&bos, "l", config(MIB, 2));
    let mut data = pattern(3 * MIB + 7, 9);
    write_all(&mut w, 0, &data, MIB).await;
    w.commit().await.expect("commit 1");
    bos.reset_counts();
    w.write(data.len() as u64, b"more").await.expect("write after commit");
    data.extend_from_slice(b"more");
    w.commit().await.expect("commit 2");
    assert!(stored(&bos, "l") == data);
    assert_eq!(bos.count(Operation::UploadPartCopy), 3);
    assert_eq!(bos.count(Operation::UploadPart), 1);
}

#[tokio::test]
async fn set_options_apply_at_commit() {
    let bos = service(MIB as u64);
    let mut w = create(&bos, "m", config(MIB, 2));
    w.write(0, b"x").await.expect("write");
    let mut options = PutOptions::default();
    options.user_meta.insert("mode".into(), "644".into());
    w.set_options(options);
    w.commit().await.expect("commit");
    let meta = bos.head_object(B, "m").await.expect("head");
    assert_eq!(meta.user_meta.get("mode").map(String::as_str), Some("644"));
}

// ---------------------------------------------------------------------------------------------
// open_existing

#[tokio::test]
async fn open_existing_small_keeps_old_bytes() {
    let bos = service(MIB as u64);
    let old = pattern(1000, 10);
    let meta = put(&bos, "f", &old).await;
    let cfg = config(MIB, 2);

    // Opened and closed without writing: nothing is sent.
    let mut w = FileWriter::open_existing(
        api(&bos),
        B.into(),
        "f".into(),
        PutOptions::default(),
        cfg.clone(),
        meta,
    )
    .await
    .expect("open");
    let c = w.commit().await.expect("commit");
    assert_eq!(c.size, 1000);
    assert_eq!(bos.total_requests(), 0);

    let meta = bos.head_object(B, "f").await.expect("head");
    bos.reset_counts();
    let mut w = FileWriter::open_existing(api(&bos), B.into(), "f".into(), PutOptions::default(), cfg, meta)
        .await
        .expect("open");
    assert_eq!(w.size(), 1000);
    w.write(10, b"XY").await.expect("patch");
    w.write(1000, b"tail").await.expect("extend");
    w.commit().await.expect("commit");
    let mut expect = old.clone();
    expect[10..12].copy_from_slice(b"XY");
    expect.extend_from_slice(b"tail");
    assert_eq!(stored(&bos, "f"), expect);
    assert_eq!(bos.count(Operation::GetObject), 1);
    assert_eq!(bos.count(Operation::PutObject), 1);
    assert_eq!(bos.total_requests(), 2);
}

#[tokio::test]
async fn open_existing_large_copies_untouched_parts() {
    let bos = service(MIB as u64);
    let old = pattern(5 * MIB + MIB / 2, 11);
    let meta = put(&bos, "big", &old).await;
    let mut w = FileWriter::open_existing(
        api(&bos),
        B.into(),
        "big".into(),
        PutOptions::default(),
        config(MIB, 2),
        meta,
    )
    .await
    .expect("open");
    let mut expect = old.clone();
    // Patch window 2, then append past the old end.
    let patch = pattern(100, 12);
    w.write((2 * MIB + 50) as u64, &patch).await.expect("patch");
    expect[2 * MIB + 50..2 * MIB + 150].copy_from_slice(&patch);
    let tail = pattern(MIB, 13);
    write_all(&mut w, old.len() as u64, &tail, 64 * 1024).await;
    expect.extend_from_slice(&tail);
    w.commit().await.expect("commit");
    assert!(stored(&bos, "big") == expect);
    // Windows 0, 1, 3, 4 copied; 2 and 5 read and uploaded; 6 new.
    assert_eq!(bos.count(Operation::UploadPartCopy), 4);
    assert_eq!(bos.count(Operation::GetObject), 2);
    assert_eq!(bos.count(Operation::UploadPart), 3);
    assert_eq!(bos.count(Operation::PutObject), 0);
}

#[tokio::test]
async fn open_existing_large_failure_keeps_the_old_object() {
    let bos = service(MIB as u64);
    let old = pattern(4 * MIB, 14);
    let meta = put(&bos, "keep", &old).await;
    bos.inject(Fault::on(Operation::CompleteMultipartUpload));
    let mut w = FileWriter::open_existing(
        api(&bos),
        B.into(),
        "keep".into(),
        PutOptions::default(),
        config(MIB, 2),
        meta,
    )
    .await
    .expect("open");
    w.write(old.len() as u64, b"appended").await.expect("write");
    assert!(w.commit().await.is_err());
    assert!(stored(&bos, "keep") == old, "old bytes must stay");
    assert_eq!(bos.upload_count(B), 0);
    assert!(matches!(w.commit().await, Err(WriteError::Failed(_))));
}

#[tokio::test]
async fn open_existing_detects_a_concurrent_change() {
    let bos = service(MIB as u64);
    let meta = put(&bos, "c", b"version one").await;
    let mut w = FileWriter::open_existing(
        api(&bos),
        B.into(),
        "c".into(),
        PutOptions::default(),
        config(MIB, 2),
        meta,
    )
    .await
    .expect("open");
    put(&bos, "c", b"version two!").await;
    assert!(matches!(w.write(0, b"V").await, Err(WriteError::Failed(_))));
    assert_eq!(stored(&bos, "c"), b"version two!");
}

// ---------------------------------------------------------------------------------------------
// append

async fn appender(
    bos: &Arc<InMemoryBos>,
    key: &str,
    cfg: Arc<WriteConfig>,
    existing: Option<ObjectMeta>,
) -> FileWriter {
    FileWriter::append(api(bos), B.into(), key.into(), PutOptions::default(), cfg, existing)
        .await
        .expect("open for append")
}

fn append_config(buffer: usize) -> Arc<WriteConfig> {
    Arc::new(WriteConfig {
        part_size: MIB,
        upload_concurrency: 2,
        append_buffer: buffer,
        append_flush_interval: Duration::from_secs(1),
    })
}

#[tokio::test]
async fn echo_line_to_existing_appendable_is_one_request() {
    let bos = service(MIB as u64);
    let meta = put_appendable(&bos, "log", b"first\n").await;
    let mut w = appender(&bos, "log", append_config(256 * 1024), Some(meta)).await;
    assert!(w.is_append());
    w.write(0, b"second\n").await.expect("write");
    let c = w.commit().await.expect("commit");
    assert_eq!(c.size, 13);
    assert_eq!(bos.counts(), [("AppendObject".to_string(), 1)].into_iter().collect());
    assert_eq!(stored(&bos, "log"), b"first\nsecond\n");
}

#[tokio::test]
async fn append_creates_a_missing_object_even_without_writes() {
    let bos = service(MIB as u64);
    let mut w = appender(&bos, "new.log", append_config(1024), None).await;
    w.commit().await.expect("commit");
    let meta = bos.head_object(B, "new.log").await.expect("created");
    assert_eq!(meta.object_type, ObjectType::Appendable);
    assert_eq!(meta.size, 0);
}

fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} line {i:05}\n")).collect()
}

#[tokio::test]
async fn small_writes_are_coalesced_and_never_split() {
    let bos = service(MIB as u64);
    // Record the object's length before every append: each must be a line boundary.
    let boundaries = Arc::new(Mutex::new(Vec::new()));
    {
        let bos2 = Arc::downgrade(&bos);
        let boundaries = boundaries.clone();
        bos.set_hook(Some(Arc::new(move |op, bucket, key| {
            if op == Operation::AppendObject {
                if let Some(b) = bos2.upgrade() {
                    let len = b.object_bytes(bucket, key).map_or(0, |d| d.len());
                    boundaries
                        .lock()
                        .expect("lock")
                        .push((len, b.object_bytes(bucket, key)));
                }
            }
            None
        })));
    }
    let mut w = appender(&bos, "c.log", append_config(1000), None).await;
    let all = lines("w", 1000);
    for l in &all {
        w.write(0, l.as_bytes()).await.expect("write");
    }
    w.commit().await.expect("commit");
    let expect: String = all.concat();
    assert_eq!(stored(&bos, "c.log"), expect.as_bytes());
    // 1000 lines of 13 bytes in batches of at most 1000 bytes (76 whole lines each): 14 requests.
    let per_batch = 1000 / all[0].len();
    assert_eq!(
        bos.count(Operation::AppendObject) as usize,
        all.len().div_ceil(per_batch)
    );
    for (len, data) in boundaries.lock().expect("lock").iter() {
        if let Some(d) = data {
            assert!(*len == 0 || d[len - 1] == b'\n', "an append started mid-line at {len}");
        }
    }

    // The default 256 KiB buffer: 1000 small writes are one request.
    let bos = service(MIB as u64);
    let mut w = appender(&bos, "d.log", append_config(256 * 1024), None).await;
    for l in &all {
        w.write(0, l.as_bytes()).await.expect("write");
    }
    w.commit().await.expect("commit");
    assert_eq!(bos.count(Operation::AppendObject), 1);
    assert_eq!(stored(&bos, "d.log"), expect.as_bytes());
}

#[tokio::test]
async fn a_write_larger_than_the_buffer_goes_out_whole() {
    let bos = service(MIB as u64);
    let mut w = appender(&bos, "big.log", append_config(100), None).await;
    w.write(0, b"small\n").await.expect("write");
    let big = pattern(1000, 15);
    w.write(0, &big).await.expect("big write");
    // The small one went first on its own, the big one as one request.
    assert_eq!(bos.count(Operation::AppendObject), 2);
    let mut expect = b"small\n".to_vec();
    expect.extend_from_slice(&big);
    assert_eq!(stored(&bos, "big.log"), expect);
}

#[tokio::test]
async fn flush_timer_sends_waiting_bytes_within_the_interval() {
    let bos = service(MIB as u64);
    let interval = Duration::from_millis(200);
    let cfg = Arc::new(WriteConfig {
        append_flush_interval: interval,
        ..WriteConfig::default()
    });
    let mut w = appender(&bos, "t.log", cfg, None).await;
    for round in 1..=2u64 {
        let start = tokio::time::Instant::now();
        w.write(0, b"a line\n").await.expect("write");
        tokio::time::sleep(interval / 2).await;
        assert_eq!(
            bos.count(Operation::AppendObject),
            round - 1,
            "sent before the interval"
        );
        let deadline = start + Duration::from_secs(5);
        while bos.object_bytes(B, "t.log").map_or(0, |d| d.len()) < 7 * round as usize {
            assert!(tokio::time::Instant::now() < deadline, "timer never flushed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let waited = start.elapsed();
        assert!(waited >= interval, "sent after {waited:?}, before the interval");
        assert!(waited < interval * 4, "sent only after {waited:?}");
    }
    assert_eq!(stored(&bos, "t.log"), b"a line\na line\n");
    // Nothing left for commit.
    let before = bos.count(Operation::AppendObject);
    w.commit().await.expect("commit");
    assert_eq!(bos.count(Operation::AppendObject), before);
}

#[tokio::test]
async fn fsync_returns_when_bytes_are_in_bos() {
    let bos = service(MIB as u64);
    let mut w = appender(&bos, "f.log", append_config(256 * 1024), None).await;
    w.write(0, b"durable\n").await.expect("write");
    assert!(bos.object_bytes(B, "f.log").is_none());
    w.fsync().await.expect("fsync");
    assert_eq!(stored(&bos, "f.log"), b"durable\n");
}

#[tokio::test]
async fn offset_incorrect_resends_at_the_new_end() {
    let bos = service(MIB as u64);
    let meta = put_appendable(&bos, "shared.log", b"").await;
    let mut a = appender(&bos, "shared.log", append_config(1024), Some(meta.clone())).await;
    let mut b = appender(&bos, "shared.log", append_config(1024), Some(meta)).await;
    a.write(0, b"from a\n").await.expect("a");
    b.write(0, b"from b\n").await.expect("b");
    a.commit().await.expect("a commit");
    let c = b.commit().await.expect("b commit");
    assert_eq!(stored(&bos, "shared.log"), b"from a\nfrom b\n");
    assert_eq!(c.size, 14);
    assert_eq!(bos.count(Operation::AppendObject), 3);
    assert_eq!(bos.count(Operation::GetObjectMeta), 1);
    // b tracks the end correctly afterwards.
    b.write(0, b"b again\n").await.expect("b");
    b.commit().await.expect("b commit");
    assert_eq!(stored(&bos, "shared.log"), b"from a\nfrom b\nb again\n");
}

/// Every line exactly once and whole.
fn assert_lines(content: &[u8], expected: &[String]) {
    let text = std::str::from_utf8(content).expect("utf8");
    let mut got: Vec<&str> = text.split_inclusive('\n').collect();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got.len(), want.len(), "line count");
    assert!(got == want, "lines differ");
}

#[tokio::test]
async fn two_writers_creating_the_same_missing_file_keep_all_lines() {
    let bos = service(MIB as u64);
    let mut a = appender(&bos, "race.log", append_config(200), None).await;
    let mut b = appender(&bos, "race.log", append_config(200), None).await;
    let la = lines("a", 300);
    let lb = lines("b", 300);
    let wa = async {
        for l in &la {
            a.write(0, l.as_bytes()).await.expect("a write");
            tokio::task::yield_now().await;
        }
        a.commit().await.expect("a commit")
    };
    let wb = async {
        for l in &lb {
            b.write(0, l.as_bytes()).await.expect("b write");
            tokio::task::yield_now().await;
        }
        b.commit().await.expect("b commit")
    };
    tokio::join!(wa, wb);
    let all: Vec<String> = la.iter().chain(lb.iter()).cloned().collect();
    assert_lines(&stored(&bos, "race.log"), &all);
    assert!(bos.count(Operation::GetObjectMeta) >= 1, "a conflict was expected");
}

#[tokio::test]
async fn ambiguous_append_failures_neither_lose_nor_double() {
    let bos = service(MIB as u64);
    let meta = put_appendable(&bos, "amb.log", b"start\n").await;
    let mut w = appender(&bos, "amb.log", append_config(1024), Some(meta)).await;
    // Landed, but the answer was lost.
    bos.inject(Fault::on(Operation::AppendObject).after_applying());
    w.write(0, b"one\n").await.expect("write");
    w.fsync().await.expect("fsync after a lost answer");
    assert_eq!(stored(&bos, "amb.log"), b"start\none\n");
    // Did not land: sent again.
    bos.inject(Fault::on(Operation::AppendObject).error(|| crate::bos::BosError::Timeout(Duration::from_secs(30))));
    w.write(0, b"two\n").await.expect("write");
    w.fsync().await.expect("fsync after a timeout");
    assert_eq!(stored(&bos, "amb.log"), b"start\none\ntwo\n");
    // Creation that landed without an answer.
    bos.inject(Fault::on(Operation::AppendObject).after_applying());
    let mut n = appender(&bos, "amb2.log", append_config(1024), None).await;
    n.write(0, b"x\n").await.expect("write");
    n.commit().await.expect("commit");
    assert_eq!(stored(&bos, "amb2.log"), b"x\n");
}

#[tokio::test]
async fn append_limit_of_five_gib_is_efbig() {
    let bos = service(MIB as u64);
    let limit = crate::bos::MAX_APPENDABLE_OBJECT_SIZE;
    let mut meta = ObjectMeta::new("full.log");
    meta.object_type = ObjectType::Appendable;
    meta.size = limit - 5;
    meta.next_append_offset = Some(limit - 5);
    let mut w = appender(&bos, "full.log", append_config(1024), Some(meta)).await;
    w.write(0, b"1234").await.expect("fits");
    match w.write(0, b"56").await {
        Err(WriteError::TooLarge { size, limit: l }) => {
            assert_eq!(size, limit + 1);
            assert_eq!(l, limit);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(bos.total_requests(), 0);
}

#[tokio::test]
async fn archive_cannot_be_appended() {
    let bos = service(MIB as u64);
    let options = PutOptions {
        storage_class: Some(StorageClass::Archive),
        ..PutOptions::default()
    };
    let r = FileWriter::append(api(&bos), B.into(), "a".into(), options, append_config(1024), None).await;
    assert!(matches!(r, Err(WriteError::NotAppendable(_))));
    let mut meta = ObjectMeta::new("b");
    meta.storage_class = StorageClass::Archive;
    let r = FileWriter::append(
        api(&bos),
        B.into(),
        "b".into(),
        PutOptions::default(),
        append_config(1024),
        Some(meta),
    )
    .await;
    match r {
        Err(WriteError::NotAppendable(msg)) => assert!(msg.contains("ARCHIVE"), "{msg}"),
        other => panic!("expected NotAppendable, got {other:?}"),
    }
    assert_eq!(bos.total_requests(), 0);
}

#[tokio::test]
async fn appending_to_a_small_normal_object_converts_it_keeping_old_bytes() {
    let bos = service(MIB as u64);
    let old = pattern(5000, 16);
    let meta = put(&bos, "n.log", &old).await;
    let mut w = appender(&bos, "n.log", append_config(1024), Some(meta)).await;
    assert_eq!(w.size(), 5000);
    w.write(0, b"new line\n").await.expect("write");
    w.commit().await.expect("commit");
    let mut expect = old.clone();
    expect.extend_from_slice(b"new line\n");
    assert_eq!(stored(&bos, "n.log"), expect);
    let head = bos.head_object(B, "n.log").await.expect("head");
    assert_eq!(head.object_type, ObjectType::Appendable);
    assert_eq!(bos.count(Operation::GetObject), 1);
    assert_eq!(bos.count(Operation::AppendObject), 1);
    // Later appends go straight to the end.
    w.write(0, b"more\n").await.expect("write");
    w.commit().await.expect("commit");
    expect.extend_from_slice(b"more\n");
    assert_eq!(stored(&bos, "n.log"), expect);
    assert_eq!(bos.count(Operation::GetObject), 1);
}

#[tokio::test]
async fn normal_to_appendable_conversion_failing_midway_keeps_old_bytes() {
    let bos = service(MIB as u64);
    let old = pattern(3000, 17);
    let meta = put(&bos, "x.log", &old).await;
    // A refused replacement: the old object must stay as it was.
    bos.inject(Fault::on(Operation::AppendObject).status(400, "InvalidArgument"));
    let mut w = appender(&bos, "x.log", append_config(1024), Some(meta.clone())).await;
    w.write(0, b"lost?\n").await.expect("buffered");
    assert!(w.commit().await.is_err());
    assert_eq!(stored(&bos, "x.log"), old);
    let head = bos.head_object(B, "x.log").await.expect("head");
    assert_eq!(head.object_type, ObjectType::Normal);
    assert!(matches!(w.commit().await, Err(WriteError::Failed(_))));

    // A transient failure before landing: retried, old and new bytes once.
    bos.inject(Fault::on(Operation::AppendObject).status(503, "ServiceUnavailable"));
    let mut w = appender(&bos, "x.log", append_config(1024), Some(meta.clone())).await;
    w.write(0, b"kept\n").await.expect("buffered");
    w.commit().await.expect("commit after retry");
    let mut expect = old.clone();
    expect.extend_from_slice(b"kept\n");
    assert_eq!(stored(&bos, "x.log"), expect);

    // Changed by someone else between open and send: their version is kept and appended to.
    let meta = put(&bos, "y.log", b"v1\n").await;
    let mut w = appender(&bos, "y.log", append_config(1024), Some(meta)).await;
    put(&bos, "y.log", b"v2 longer\n").await;
    w.write(0, b"mine\n").await.expect("buffered");
    w.commit().await.expect("commit");
    assert_eq!(stored(&bos, "y.log"), b"v2 longer\nmine\n");
}

#[tokio::test]
async fn appending_to_a_large_normal_object_uses_multipart_copy() {
    let bos = service(1024);
    let cfg = Arc::new(WriteConfig {
        part_size: 1024,
        upload_concurrency: 2,
        append_buffer: 1024,
        append_flush_interval: Duration::from_secs(1),
    });
    let old = pattern(5000, 18);
    let meta = put(&bos, "large.log", &old).await;
    let mut w = appender(&bos, "large.log", cfg, Some(meta)).await;
    assert!(w.is_append());
    w.write(0, b"line one\n").await.expect("write");
    w.write(3, b"line two\n").await.expect("write (offset ignored)");
    w.commit().await.expect("commit");
    let mut expect = old.clone();
    expect.extend_from_slice(b"line one\nline two\n");
    assert_eq!(stored(&bos, "large.log"), expect);
    assert_eq!(bos.count(Operation::UploadPartCopy), 4);
    assert_eq!(bos.count(Operation::AppendObject), 0);
}

#[tokio::test]
async fn truncating_an_append_handle_to_zero_replaces_the_object() {
    let bos = service(MIB as u64);
    let meta = put_appendable(&bos, "r.log", b"old stuff\n").await;
    let mut w = appender(&bos, "r.log", append_config(1024), Some(meta)).await;
    // Another size than 0 turns it into a stream writer over the object (nothing sent yet).
    w.truncate(3).await.expect("truncate to 3");
    assert_eq!(w.size(), 3);
    assert_eq!(stored(&bos, "r.log"), b"old stuff\n");
    w.truncate(0).await.expect("truncate");
    assert_eq!(w.size(), 0);
    w.write(0, b"fresh\n").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(stored(&bos, "r.log"), b"fresh\n");
}

#[tokio::test]
async fn abort_drops_everything_and_fails_later_calls() {
    let bos = service(MIB as u64);
    let mut w = create(&bos, "ab", config(MIB, 2));
    write_all(&mut w, 0, &pattern(3 * MIB, 19), MIB).await;
    w.abort().await;
    assert_eq!(bos.upload_count(B), 0);
    assert!(matches!(w.commit().await, Err(WriteError::Failed(_))));
    assert!(bos.object_bytes(B, "ab").is_none());

    let mut a = appender(&bos, "ab.log", append_config(1024), None).await;
    a.write(0, b"gone\n").await.expect("write");
    a.abort().await;
    assert!(matches!(a.commit().await, Err(WriteError::Failed(_))));
    assert!(bos.object_bytes(B, "ab.log").is_none());
}

#[tokio::test]
async fn dropping_a_writer_aborts_its_multipart_upload() {
    let bos = service(MIB as u64);
    {
        let mut w = create(&bos, "dropped", config(MIB, 2));
        write_all(&mut w, 0, &pattern(3 * MIB, 20), MIB).await;
        assert_eq!(bos.upload_count(B), 1);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while bos.upload_count(B) != 0 {
        assert!(tokio::time::Instant::now() < deadline, "upload not aborted after drop");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(bos.object_bytes(B, "dropped").is_none());
}

#[tokio::test]
async fn open_existing_appendable_appends_at_the_end_then_rewrites_on_a_seek() {
    let bos = service(MIB as u64);
    let meta = put_appendable(&bos, "p.log", b"a\n").await;
    let mut w = FileWriter::open_existing(
        api(&bos),
        B.into(),
        "p.log".into(),
        PutOptions::default(),
        append_config(1024),
        meta,
    )
    .await
    .expect("open");
    assert!(!w.is_append());
    w.write(2, b"b\n").await.expect("write at end");
    w.write(4, b"c\n").await.expect("write at end");
    w.commit().await.expect("commit");
    assert_eq!(bos.counts(), [("AppendObject".to_string(), 1)].into_iter().collect());
    assert_eq!(stored(&bos, "p.log"), b"a\nb\nc\n");
    // A write elsewhere: nothing is sent then; the buffered bytes and the change are stored
    // together when the rewritten object is committed.
    w.write(6, b"d\n").await.expect("write at end");
    w.write(0, b"X").await.expect("write at 0");
    assert_eq!(stored(&bos, "p.log"), b"a\nb\nc\n");
    let c = w.commit().await.expect("commit");
    assert_eq!(c.size, 8);
    assert_eq!(stored(&bos, "p.log"), b"X\nb\nc\nd\n");
    assert_eq!(bos.count(Operation::AppendObject), 1);
    assert_eq!(bos.count(Operation::GetObject), 1);
    assert_eq!(bos.count(Operation::PutObject), 1);
}

// ---------------------------------------------------------------------------------------------
// Randomised: a stream writer against a plain byte vector.

#[tokio::test]
async fn random_stream_operations_match_a_reference_model() {
    use rand::{Rng, SeedableRng};
    let part = 1024usize;
    let (mut refused, mut parts, mut copies) = (0, 0, 0);
    for seed in 0..40u64 {
        let bos = service(1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let key = format!("r{seed}");
        // Half the runs start from an existing object of random size.
        let mut model: Vec<u8> = Vec::new();
        let mut w = if seed % 2 == 0 {
            create(&bos, &key, config(part, 2))
        } else {
            model = pattern(rng.random_range(0..5 * part), seed);
            let meta = put(&bos, &key, &model).await;
            FileWriter::open_existing(
                api(&bos),
                B.into(),
                key.clone(),
                PutOptions::default(),
                config(part, 2),
                meta,
            )
            .await
            .expect("open")
        };
        for step in 0..60 {
            let size = model.len() as u64;
            match rng.random_range(0..10) {
                0 => {
                    let to = if rng.random_bool(0.3) {
                        0
                    } else {
                        rng.random_range(0..=size + 100)
                    };
                    match w.truncate(to).await {
                        Ok(()) => model.resize(to as usize, 0),
                        Err(WriteError::NonSequential { uploaded, .. }) => {
                            assert!(to < uploaded);
                            refused += 1;
                        }
                        Err(e) => panic!("seed {seed} step {step}: truncate {to}: {e}"),
                    }
                }
                1 => {
                    let c = w.commit().await.expect("commit");
                    assert_eq!(c.size, model.len() as u64);
                    assert!(
                        stored(&bos, &key) == model,
                        "seed {seed} step {step}: committed bytes differ"
                    );
                }
                _ => {
                    // Mostly near the end, sometimes anywhere.
                    let offset = if rng.random_bool(0.8) {
                        size.saturating_sub(rng.random_range(0..300))
                    } else {
                        rng.random_range(0..=size + 2000)
                    };
                    let data = pattern(rng.random_range(1..1500), seed * 1000 + step);
                    match w.write(offset, &data).await {
                        Ok(n) => {
                            assert_eq!(n, data.len());
                            let end = offset as usize + data.len();
                            if model.len() < end {
                                model.resize(end, 0);
                            }
                            model[offset as usize..end].copy_from_slice(&data);
                        }
                        Err(WriteError::NonSequential { uploaded, .. }) => {
                            assert!(offset < uploaded, "seed {seed} step {step}");
                            refused += 1;
                        }
                        Err(e) => panic!("seed {seed} step {step}: write {offset}: {e}"),
                    }
                }
            }
            assert_eq!(w.size(), model.len() as u64, "seed {seed} step {step}: size");
        }
        w.commit().await.expect("final commit");
        assert!(stored(&bos, &key) == model, "seed {seed}: final bytes differ");
        assert_eq!(bos.upload_count(B), 0, "seed {seed}: upload left behind");
        parts += bos.count(Operation::UploadPart);
        copies += bos.count(Operation::UploadPartCopy);
    }
    // The runs did exercise the interesting paths.
    assert!(
        refused > 0 && parts > 0 && copies > 0,
        "refused {refused}, parts {parts}, copies {copies}"
    );
}

#[tokio::test]
async fn concurrent_appenders_with_lost_answers_and_failures_keep_every_line_once() {
    let bos = service(MIB as u64);
    for i in 0..6u64 {
        let fault = Fault::on(Operation::AppendObject).skip(3 + i);
        let fault = match i % 3 {
            0 => fault.after_applying(),
            1 => fault.status(503, "ServiceUnavailable"),
            _ => fault.error(|| crate::bos::BosError::Timeout(Duration::from_secs(30))),
        };
        bos.inject(fault);
    }
    let mut a = appender(&bos, "faulty.log", append_config(100), None).await;
    let mut b = appender(&bos, "faulty.log", append_config(100), None).await;
    let la = lines("a", 200);
    let lb = lines("b", 200);
    let wa = async {
        for l in &la {
            a.write(0, l.as_bytes()).await.expect("a write");
            tokio::task::yield_now().await;
        }
        a.commit().await.expect("a commit")
    };
    let wb = async {
        for l in &lb {
            b.write(0, l.as_bytes()).await.expect("b write");
            tokio::task::yield_now().await;
        }
        b.commit().await.expect("b commit")
    };
    tokio::join!(wa, wb);
    let all: Vec<String> = la.iter().chain(lb.iter()).cloned().collect();
    assert_lines(&stored(&bos, "faulty.log"), &all);
}

#[tokio::test]
async fn reading_through_a_writer() {
    let bos = service(MIB as u64);
    // Stream, new content in the first window.
    let mut w = create(&bos, "rw", config(MIB, 2));
    w.write(0, b"hello world").await.expect("write");
    w.truncate(15).await.expect("extend");
    assert_eq!(&w.read(6, 100).await.expect("read")[..], b"world\0\0\0\0");
    // Stream over an existing object: old bytes are read in.
    let meta = put(&bos, "old", b"0123456789").await;
    let mut w = FileWriter::open_existing(
        api(&bos),
        B.into(),
        "old".into(),
        PutOptions::default(),
        config(MIB, 2),
        meta,
    )
    .await
    .expect("open");
    w.write(2, b"ab").await.expect("write");
    assert_eq!(&w.read(0, 5).await.expect("read")[..], b"01ab4");
    // A large existing object: bytes past the tail window come from the old object.
    let old = pattern(3 * MIB + 100, 22);
    let meta = put(&bos, "large", &old).await;
    let mut w = FileWriter::open_existing(
        api(&bos),
        B.into(),
        "large".into(),
        PutOptions::default(),
        config(MIB, 2),
        meta,
    )
    .await
    .expect("open");
    w.write(MIB as u64 - 2, b"XYZW").await.expect("write across windows");
    let mut expect = old.clone();
    expect[MIB - 2..MIB + 2].copy_from_slice(b"XYZW");
    let got = w.read(MIB as u64, 2 * MIB).await.expect("read");
    assert!(got[..] == expect[MIB..3 * MIB], "read past the tail differs");
    w.truncate(3 * MIB as u64 + 50).await.expect("shrink");
    w.truncate(3 * MIB as u64 + 100).await.expect("grow");
    let got = w.read(3 * MIB as u64, 100).await.expect("read");
    assert_eq!(&got[..50], &old[3 * MIB..3 * MIB + 50]);
    assert!(
        got[50..].iter().all(|&b| b == 0),
        "bytes cut by truncate must read as zeros"
    );
    w.abort().await;
    // Multipart: only the tail is readable.
    let mut w = create(&bos, "mp", config(MIB, 2));
    let data = pattern(2 * MIB + 10, 21);
    write_all(&mut w, 0, &data, MIB).await;
    assert_eq!(&w.read(2 * MIB as u64, 10).await.expect("tail")[..], &data[2 * MIB..]);
    assert!(matches!(w.read(0, 10).await, Err(WriteError::NonSequential { .. })));
    w.abort().await;
    // Append: the object from BOS, then the buffer.
    let meta = put_appendable(&bos, "a.log", b"in bos\n").await;
    let mut a = appender(&bos, "a.log", append_config(1024), Some(meta)).await;
    a.write(0, b"waiting\n").await.expect("write");
    assert_eq!(&a.read(3, 100).await.expect("read")[..], b"bos\nwaiting\n");
    assert_eq!(&a.read(8, 3).await.expect("read")[..], b"ait");
}

#[tokio::test]
async fn truncate_to_zero_of_an_append_handle_survives_a_failed_send() {
    let bos = service(MIB as u64);
    let meta = put_appendable(&bos, "z.log", b"old\n").await;
    let mut w = appender(&bos, "z.log", append_config(1024), Some(meta)).await;
    w.truncate(0).await.expect("truncate");
    // The replacing (empty) append fails before landing: it must be sent again, not taken as
    // done because an Appendable object exists.
    bos.inject(Fault::on(Operation::AppendObject).status(503, "ServiceUnavailable"));
    let c = w.commit().await.expect("commit");
    assert_eq!(c.size, 0);
    assert!(stored(&bos, "z.log").is_empty());
    assert_eq!(bos.count(Operation::AppendObject), 2);
}
