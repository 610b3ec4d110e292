//! Tests of [`FileReader`] over a scripted BOS double ([`ScriptedBos`]) that records every
//! GET, and over the project's [`InMemoryBos`](crate::bos::memory::InMemoryBos).

// GET ranges are compared as lists of ranges.
#![allow(clippy::single_range_in_vec_init)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::{Rng, SeedableRng};

use super::fetch::Clock;
use super::scripted_bos::ScriptedBos;
use super::{FileReader, ReadConfig, ReadError};
use crate::bos::*;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
const KERNEL_READ: u32 = 128 * 1024;

/// Deterministic bytes that differ at every offset of interest (`salt` makes a second version).
fn pattern(size: u64, salt: u8) -> Bytes {
    (0..size)
        .map(|i| ((i * 131 + i / 251) as u8) ^ salt)
        .collect::<Vec<u8>>()
        .into()
}

fn config() -> Arc<ReadConfig> {
    Arc::new(ReadConfig {
        initial_window: MIB as usize,
        max_window: 16 * MIB as usize,
        request_size: 4 * MIB as usize,
        max_requests_in_flight: 3,
    })
}

fn reader(bos: &Arc<ScriptedBos>, key: &str, config: Arc<ReadConfig>) -> FileReader {
    let size = bos
        .objects
        .lock()
        .expect("lock")
        .get(key)
        .map_or(0, |(d, _)| d.len() as u64);
    FileReader::with_clock(
        bos.clone(),
        "bucket".into(),
        key.into(),
        size,
        "etag-1".into(),
        config,
        frozen_clock(),
    )
}

/// A clock that never moves: requests take no time, so the read-ahead has no measurement
/// and its window only follows the reads, whatever the machine's speed.
fn frozen_clock() -> Clock {
    Clock::from_fn(|| Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_kernel_sized_reads_use_few_growing_requests_and_bounded_memory() {
    let data = pattern(50 * MIB, 0);
    let bos = ScriptedBos::with_object("big", data.clone());
    let config = config();
    let mut reader = reader(&bos, "big", config.clone());
    let mut offset = 0u64;
    let mut reads = 0;
    let mut windows = Vec::new();
    loop {
        let bytes = reader.read(offset, KERNEL_READ).await.expect("read");
        if bytes.is_empty() {
            break;
        }
        let end = offset + bytes.len() as u64;
        assert_eq!(bytes, data.slice(offset as usize..end as usize), "bytes at {offset}");
        assert!(bytes.len() == KERNEL_READ as usize || end == data.len() as u64);
        offset = end;
        reads += 1;
        windows.push(reader.window());
    }
    assert_eq!(offset, data.len() as u64);
    assert_eq!(reads, 400);
    let mut gets = bos.gets();
    // Requests run in parallel and may reach BOS in any order; sorted, they are contiguous
    // and cover the file exactly once: nothing fetched twice or beyond EOF.
    gets.sort_by_key(|r| r.start);
    let mut expected_start = 0;
    for range in &gets {
        assert_eq!(range.start, expected_start, "{gets:?}");
        expected_start = range.end;
    }
    assert_eq!(expected_start, data.len() as u64);
    assert_eq!(reader.bytes_fetched(), data.len() as u64);
    assert!(gets.len() <= 20, "{} GETs for {reads} reads: {gets:?}", gets.len());
    // The window grew from the initial size to the maximum, and requests grew with it.
    assert_eq!(gets[0], 0..u64::from(KERNEL_READ) + MIB);
    assert_eq!(windows.iter().copied().max(), Some(config.max_window as u64));
    assert!(gets.iter().any(|r| r.end - r.start == config.request_size as u64));
    assert!(gets.iter().all(|r| r.end - r.start <= config.request_size as u64));
    // Memory bound, and several requests in flight but never more than allowed (+1 for the
    // bytes a read needs that are not in flight yet).
    let bound = (config.max_window + config.request_size) as u64;
    assert!(
        reader.max_bytes_held() <= bound,
        "held {} > {bound}",
        reader.max_bytes_held()
    );
    assert!(reader.max_bytes_held() >= config.max_window as u64);
    assert!(bos.max_in_flight.load(Ordering::SeqCst) <= config.max_requests_in_flight + 1);
}

#[tokio::test]
async fn several_requests_are_in_flight_at_once() {
    let data = pattern(40 * MIB, 0);
    let bos = ScriptedBos::with_object("big", data.clone());
    *bos.delay.lock().expect("lock") = Some(Duration::from_millis(20));
    let mut reader = reader(&bos, "big", config());
    let mut offset = 0;
    while offset < data.len() as u64 {
        let bytes = reader.read(offset, KERNEL_READ).await.expect("read");
        assert_eq!(bytes, data.slice(offset as usize..offset as usize + bytes.len()));
        offset += bytes.len() as u64;
    }
    assert!(
        bos.max_in_flight.load(Ordering::SeqCst) >= 3,
        "never more than one GET at a time"
    );
}

#[tokio::test]
async fn random_reads_fetch_only_what_is_asked() {
    let data = pattern(50 * MIB, 0);
    let bos = ScriptedBos::with_object("big", data.clone());
    let mut reader = reader(&bos, "big", config());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut asked = 0;
    let mut previous_end = 0;
    for _ in 0..200 {
        let len = rng.random_range(1..=64 * KIB) as u32;
        let offset = loop {
            let o = rng.random_range(1..data.len() as u64);
            if o != previous_end {
                break o;
            }
        };
        let bytes = reader.read(offset, len).await.expect("read");
        let end = (offset + u64::from(len)).min(data.len() as u64);
        assert_eq!(bytes, data.slice(offset as usize..end as usize));
        asked += end - offset;
        previous_end = end;
    }
    assert_eq!(reader.bytes_fetched(), asked);
    assert_eq!(bos.get_count(), 200);
    assert_eq!(reader.bytes_held(), 0);
}

#[tokio::test]
async fn a_seek_drops_read_ahead_and_sequential_reading_restarts_the_window() {
    let data = pattern(50 * MIB, 0);
    let bos = ScriptedBos::with_object("big", data.clone());
    let config = config();
    let mut reader = reader(&bos, "big", config.clone());
    let mut offset = 0;
    while offset < 10 * MIB {
        offset += reader.read(offset, KERNEL_READ).await.expect("read").len() as u64;
    }
    assert_eq!(reader.window(), config.max_window as u64);
    let before = bos.get_count();
    let seek = 30 * MIB + 17;
    let bytes = reader.read(seek, KERNEL_READ).await.expect("read after seek");
    assert_eq!(
        bytes,
        data.slice(seek as usize..(seek + u64::from(KERNEL_READ)) as usize)
    );
    assert_eq!(bos.gets()[before..], [seek..seek + u64::from(KERNEL_READ)]);
    assert_eq!(reader.window(), config.initial_window as u64);
    assert_eq!(reader.bytes_held(), 0);
    // The next read in sequence is fetched exactly (random readers make such pairs); the
    // one after it is sequential again: read-ahead from the initial window.
    let k = u64::from(KERNEL_READ);
    let next = seek + k;
    for at in [next, next + k] {
        let bytes = reader.read(at, KERNEL_READ).await.expect("read");
        assert_eq!(bytes, data.slice(at as usize..(at + k) as usize));
    }
    assert_eq!(bos.gets()[before + 1], next..next + k);
    assert_eq!(bos.gets()[before + 2], next + k..next + 2 * k + MIB);
    assert_eq!(reader.window(), 2 * config.initial_window as u64);
}

#[tokio::test]
async fn small_jumps_inside_held_data_are_served_from_memory() {
    let data = pattern(20 * MIB, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    let mut reader = reader(&bos, "f", config());
    let mut offset = 0;
    while offset < 3 * MIB {
        offset += reader.read(offset, KERNEL_READ).await.expect("read").len() as u64;
    }
    let gets = bos.get_count();
    let fetched = reader.bytes_fetched();
    // A step back into the chunk being read, and a skip forward into read-ahead.
    for jump in [offset - 64 * KIB, offset + 256 * KIB, offset + 100] {
        let bytes = reader.read(jump, KERNEL_READ).await.expect("read");
        assert_eq!(
            bytes,
            data.slice(jump as usize..(jump + u64::from(KERNEL_READ)) as usize)
        );
    }
    assert!(reader.window() > MIB, "the window was reset");
    // No request for the jumps themselves: anything new is read-ahead beyond the held data.
    assert!(bos.gets()[gets..].iter().all(|r| r.start >= offset + MIB));
    assert!(reader.bytes_fetched() >= fetched);
}

#[tokio::test]
async fn a_far_jump_into_held_data_is_served_but_plans_no_more_read_ahead() {
    let data = pattern(40 * MIB, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    let mut reader = reader(&bos, "f", config());
    let mut offset = 0;
    while offset < 3 * MIB {
        offset += reader.read(offset, KERNEL_READ).await.expect("read").len() as u64;
    }
    let (fetch_end, window) = (reader.fetch_end(), reader.window());
    let jump = offset + 6 * MIB;
    assert!(fetch_end > jump + 5 * MIB + u64::from(KERNEL_READ), "not requested yet");
    // Two reads, each far from the one before (as a random reader's), both inside what the
    // read-ahead holds.
    for at in [jump, jump + 5 * MIB] {
        let bytes = reader.read(at, KERNEL_READ).await.expect("read");
        assert_eq!(bytes, data.slice(at as usize..(at + u64::from(KERNEL_READ)) as usize));
    }
    assert_eq!(reader.fetch_end(), fetch_end, "a jump planned read-ahead");
    assert_eq!(reader.window(), window);
}

#[tokio::test]
async fn empty_object_costs_no_request() {
    let bos = ScriptedBos::with_object("empty", Bytes::new());
    let mut reader = reader(&bos, "empty", config());
    assert!(reader.read(0, KERNEL_READ).await.expect("read").is_empty());
    assert!(reader.read(10, KERNEL_READ).await.expect("read").is_empty());
    assert_eq!(bos.get_count(), 0);
    assert_eq!(reader.bytes_fetched(), 0);
}

#[tokio::test]
async fn reads_at_or_past_the_end_are_empty_without_a_request() {
    let data = pattern(1000, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    let mut reader = reader(&bos, "f", config());
    assert!(reader.read(1000, 10).await.expect("read").is_empty());
    assert!(reader.read(5000, 10).await.expect("read").is_empty());
    assert_eq!(bos.get_count(), 0);
    assert_eq!(reader.read(990, 100).await.expect("read"), data.slice(990..));
    assert_eq!(bos.gets(), [990..1000]);
    assert!(reader.read(1000, 10).await.expect("read").is_empty());
    assert!(reader.read(0, 0).await.expect("read").is_empty());
    assert_eq!(bos.get_count(), 1);
}

#[tokio::test]
async fn a_file_smaller_than_the_first_window_is_one_request() {
    let data = pattern(700 * KIB, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    let mut reader = reader(&bos, "f", config());
    let mut out = Vec::new();
    loop {
        let bytes = reader.read(out.len() as u64, KERNEL_READ).await.expect("read");
        if bytes.is_empty() {
            break;
        }
        out.extend_from_slice(&bytes);
    }
    assert_eq!(out, data);
    assert_eq!(bos.gets(), [0..data.len() as u64]);
}

#[tokio::test]
async fn a_changed_object_fails_the_read_instead_of_mixing_versions() {
    let old = pattern(30 * MIB, 0);
    let bos = ScriptedBos::with_object("f", old.clone());
    let mut reader = reader(&bos, "f", config());
    let first = reader.read(0, KERNEL_READ).await.expect("read");
    assert_eq!(first, old.slice(..KERNEL_READ as usize));
    bos.replace("f", pattern(30 * MIB, 0x55), "etag-2");
    let mut offset = u64::from(KERNEL_READ);
    let changed_at = loop {
        match reader.read(offset, KERNEL_READ).await {
            Ok(bytes) => {
                assert!(!bytes.is_empty(), "reached the end without noticing the change");
                assert_eq!(
                    bytes,
                    old.slice(offset as usize..offset as usize + bytes.len()),
                    "mixed versions"
                );
                offset += bytes.len() as u64;
            }
            Err(ReadError::Changed { key }) => {
                assert_eq!(key, "f");
                break offset;
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    };
    assert!(changed_at < 30 * MIB);
    // A seek to elsewhere sees the change too.
    assert!(matches!(
        reader.read(20 * MIB, 10).await,
        Err(ReadError::Changed { .. })
    ));
}

#[tokio::test]
async fn a_failed_request_fails_only_the_read_that_needs_it() {
    let data = pattern(30 * MIB, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    *bos.fail_once_at.lock().expect("lock") = Some(5 * MIB);
    let mut reader = reader(&bos, "f", config());
    let mut offset = 0u64;
    let mut failures = Vec::new();
    while offset < data.len() as u64 {
        match reader.read(offset, KERNEL_READ).await {
            Ok(bytes) => {
                assert_eq!(bytes, data.slice(offset as usize..offset as usize + bytes.len()));
                offset += bytes.len() as u64;
            }
            Err(ReadError::Bos(error)) => {
                assert_eq!(error.code(), Some("InternalError"));
                failures.push(offset);
                assert!(failures.len() == 1, "the retry of the read failed again");
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    let failed = bos.failed.lock().expect("lock").clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failures.len(), 1);
    // The failing read is the first one that needed bytes of the failed request: the one
    // containing its first byte. Every read before it succeeded although the request had
    // already failed in the background.
    let k = u64::from(KERNEL_READ);
    assert_eq!(
        failures[0],
        failed[0].start - failed[0].start % k,
        "failed request {:?}",
        failed[0]
    );
    assert!(
        failed[0].start > 0,
        "the failure should hit read-ahead, not the first request"
    );
}

#[tokio::test]
async fn dropping_the_reader_cancels_its_requests() {
    let data = pattern(30 * MIB, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    *bos.hold_from.lock().expect("lock") = Some(2 * MIB);
    let mut reader = reader(&bos, "f", config());
    let mut offset = 0;
    while offset < MIB + 128 * KIB {
        offset += reader.read(offset, KERNEL_READ).await.expect("read").len() as u64;
    }
    let wait = async {
        while bos.held_started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("read-ahead reached the held range");
    let started = bos.held_started.load(Ordering::SeqCst);
    assert!(bos.in_flight.load(Ordering::SeqCst) >= started);
    drop(reader);
    let wait = async {
        while bos.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("requests cancelled");
    assert!(bos.cancelled.load(Ordering::SeqCst) >= started);
}

#[tokio::test]
async fn a_late_read_just_behind_the_held_data_keeps_the_read_ahead() {
    let data = pattern(20 * MIB, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    let mut reader = reader(&bos, "f", config());
    let k = u64::from(KERNEL_READ);
    // Reads 0..=7 in order, then 9 before 8, as a kernel with several reads in flight may.
    for i in (0..8).chain([9, 8, 10, 11]) {
        let bytes = reader.read(i * k, KERNEL_READ).await.expect("read");
        assert_eq!(bytes, data.slice((i * k) as usize..((i + 1) * k) as usize), "read {i}");
    }
    let gets = bos.gets();
    // Read 9 came from read-ahead; read 8 came from the data kept just behind the reader,
    // so nothing was fetched twice and the read-ahead went on.
    let mut covered = gets.clone();
    covered.sort_by_key(|r| r.start);
    assert!(
        covered.windows(2).all(|w| w[0].end == w[1].start),
        "something was fetched twice: {gets:?}"
    );
    assert!(reader.window() > MIB);
    assert!(reader.bytes_held() > 0);
}

#[tokio::test]
async fn a_cancelled_read_leaves_the_reader_usable_without_refetching() {
    let data = pattern(4 * MIB, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    *bos.delay.lock().expect("lock") = Some(Duration::from_millis(300));
    let mut reader = reader(&bos, "f", config());
    let cancelled = tokio::time::timeout(Duration::from_millis(20), reader.read(0, KERNEL_READ)).await;
    assert!(cancelled.is_err(), "the read should still be waiting");
    let bytes = reader.read(0, KERNEL_READ).await.expect("read after a cancelled one");
    assert_eq!(bytes, data.slice(..KERNEL_READ as usize));
    // The request of the cancelled read went on and served the second (any other GET is
    // read-ahead further on).
    let gets = bos.gets();
    assert_eq!(gets[0], 0..u64::from(KERNEL_READ) + MIB);
    assert!(gets[1..].iter().all(|r| r.start >= gets[0].end), "{gets:?}");
    assert_eq!(bos.cancelled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn set_object_with_the_version_served_keeps_the_read_ahead() {
    let data = pattern(20 * MIB, 0);
    let bos = ScriptedBos::with_object("f", data.clone());
    let mut reader = reader(&bos, "f", config());
    let mut offset = 0;
    while offset < 10 * MIB {
        // As the filesystem does on every read while the file's attributes are cached.
        reader.set_object(data.len() as u64, "\"etag-1\"".into());
        let bytes = reader.read(offset, KERNEL_READ).await.expect("read");
        assert_eq!(bytes, data.slice(offset as usize..offset as usize + bytes.len()));
        offset += bytes.len() as u64;
    }
    assert!(reader.window() > MIB, "the window was reset");
    let mut gets = bos.gets();
    gets.sort_by_key(|r| r.start);
    assert!(
        gets.windows(2).all(|w| w[0].end == w[1].start),
        "fetched twice: {gets:?}"
    );
}

#[tokio::test]
async fn set_object_switches_to_a_newer_version() {
    let old = pattern(2 * MIB, 0);
    let bos = ScriptedBos::with_object("log", old.clone());
    let mut reader = reader(&bos, "log", config());
    assert_eq!(
        reader.read(0, KERNEL_READ).await.expect("read"),
        old.slice(..KERNEL_READ as usize)
    );
    // The object grew (as an append makes it) and got a new ETag.
    let mut grown = old.to_vec();
    grown.extend_from_slice(&pattern(MIB, 0x33));
    bos.replace("log", grown.clone().into(), "etag-2");
    reader.set_object(grown.len() as u64, "etag-2".into());
    let mut out = old.slice(..KERNEL_READ as usize).to_vec();
    loop {
        let bytes = reader.read(out.len() as u64, KERNEL_READ).await.expect("read");
        if bytes.is_empty() {
            break;
        }
        out.extend_from_slice(&bytes);
    }
    assert_eq!(out, grown);
}

#[test]
fn reads_can_run_on_any_worker_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let bos = ScriptedBos::with_object("f", pattern(10, 0));
    let mut reader = reader(&bos, "f", config());
    let future = reader.read(0, 10);
    assert_send(&future);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_mix_of_sequential_reads_jumps_and_seeks_returns_exact_bytes_within_the_memory_bound() {
    let data = pattern(30 * MIB + 12345, 0);
    let size = data.len() as u64;
    let bos = ScriptedBos::with_object("f", data.clone());
    let config = config();
    let bound = (config.max_window + config.request_size) as u64;
    let mut reader = reader(&bos, "f", config);
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut offset = 0u64;
    for step in 0..3000 {
        let len = rng.random_range(1..=256 * KIB) as u32;
        offset = match rng.random_range(0..100) {
            0..70 => offset,
            70..85 => offset.saturating_sub(256 * KIB) + rng.random_range(0..512 * KIB),
            85..98 => rng.random_range(0..size),
            _ => size + rng.random_range(0..10),
        };
        let bytes = reader.read(offset, len).await.expect("read");
        let end = (offset + u64::from(len)).min(size).max(offset);
        let expected = if offset >= size {
            Bytes::new()
        } else {
            data.slice(offset as usize..end as usize)
        };
        assert!(
            bytes == expected,
            "step {step}: read {offset}+{len} returned wrong bytes"
        );
        assert!(
            reader.bytes_held() <= bound,
            "step {step}: holding {}",
            reader.bytes_held()
        );
        offset = if offset >= size { 0 } else { end };
    }
    assert!(reader.max_bytes_held() <= bound);
}

/// The same behaviour over the project's in-memory BOS twin, counted by its own counters.
mod over_in_memory_bos {
    use super::*;
    use crate::bos::memory::{Fault, InMemoryBos};

    async fn bos_with(key: &str, data: Bytes) -> (Arc<InMemoryBos>, String) {
        let bos = Arc::new(InMemoryBos::with_bucket("bucket"));
        let put = bos
            .put_object("bucket", key, data, &PutOptions::default())
            .await
            .expect("put");
        bos.reset_counts();
        (bos, put.etag)
    }

    fn reader_of(bos: &Arc<InMemoryBos>, key: &str, size: u64, etag: String) -> FileReader {
        FileReader::with_clock(
            bos.clone(),
            "bucket".into(),
            key.into(),
            size,
            etag,
            config(),
            frozen_clock(),
        )
    }

    async fn read_all(reader: &mut FileReader) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        loop {
            let bytes = reader.read(out.len() as u64, KERNEL_READ).await?;
            if bytes.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(&bytes);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sequential_read_of_50_mib() {
        let data = pattern(50 * MIB, 9);
        let (bos, etag) = bos_with("dir/big.bin", data.clone()).await;
        let mut reader = reader_of(&bos, "dir/big.bin", data.len() as u64, etag);
        let out = read_all(&mut reader).await.expect("read");
        assert!(out == data, "bytes differ");
        let gets = bos.count(Operation::GetObject);
        assert!((4..=20).contains(&gets), "{gets} GETs for 400 reads");
        assert_eq!(bos.total_requests(), gets);
        assert_eq!(reader.bytes_fetched(), data.len() as u64);
    }

    #[tokio::test]
    async fn empty_object_and_reads_past_the_end_cost_nothing() {
        let (bos, etag) = bos_with("empty", Bytes::new()).await;
        let mut reader = reader_of(&bos, "empty", 0, etag);
        assert!(read_all(&mut reader).await.expect("read").is_empty());
        assert!(reader.read(4096, 10).await.expect("read").is_empty());
        assert_eq!(bos.total_requests(), 0);
    }

    #[tokio::test]
    async fn overwritten_object_is_reported_changed() {
        let data = pattern(3 * MIB, 1);
        let (bos, etag) = bos_with("f", data.clone()).await;
        let mut reader = reader_of(&bos, "f", data.len() as u64, etag);
        bos.put_object("bucket", "f", pattern(3 * MIB, 2), &PutOptions::default())
            .await
            .expect("overwrite");
        assert!(matches!(read_all(&mut reader).await, Err(ReadError::Changed { .. })));
    }

    #[tokio::test]
    async fn an_injected_get_failure_fails_one_read_and_the_retry_succeeds() {
        let data = pattern(20 * MIB, 3);
        let (bos, etag) = bos_with("f", data.clone()).await;
        bos.inject(Fault::on(Operation::GetObject).skip(3));
        let mut reader = reader_of(&bos, "f", data.len() as u64, etag);
        let mut out = Vec::new();
        let mut failures = 0;
        loop {
            match reader.read(out.len() as u64, KERNEL_READ).await {
                Ok(bytes) if bytes.is_empty() => break,
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(ReadError::Bos(error)) => {
                    assert_eq!(error.status(), Some(500));
                    failures += 1;
                }
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert_eq!(failures, 1);
        assert!(out == data, "bytes differ");
    }
}

/// Not a test: `cargo test --lib fs::read::tests::read_ahead_throughput -- --ignored --nocapture`
/// prints the time and requests of a 256 MiB sequential read over a BOS with 20 ms per
/// request, against what one GET per 128 KiB read would cost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn read_ahead_throughput() {
    use crate::bos::memory::InMemoryBos;
    let size = 256 * MIB;
    let bos = Arc::new(InMemoryBos::with_bucket("bucket"));
    let put = bos
        .put_object("bucket", "big", pattern(size, 0), &PutOptions::default())
        .await
        .expect("put");
    bos.reset_counts();
    let latency = Duration::from_millis(20);
    bos.set_delay(latency);
    let config = Arc::new(ReadConfig::default());
    let mut reader = FileReader::new(
        bos.clone(),
        "bucket".into(),
        "big".into(),
        size,
        put.etag,
        config.clone(),
    );
    let started = std::time::Instant::now();
    let mut offset = 0;
    let mut reads = 0u32;
    while offset < size {
        offset += reader.read(offset, KERNEL_READ).await.expect("read").len() as u64;
        reads += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "{} MiB in {:.2?} ({:.0} MiB/s) with {:?} per request: {} GETs for {reads} reads, max held {} MiB \
         (bound {} MiB); one GET per read would take at least {:.2?}",
        size / MIB,
        elapsed,
        size as f64 / MIB as f64 / elapsed.as_secs_f64(),
        latency,
        bos.count(Operation::GetObject),
        reader.max_bytes_held() / MIB,
        (config.max_window + config.request_size) as u64 / MIB,
        latency * reads,
    );
}
