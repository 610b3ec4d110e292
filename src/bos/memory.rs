//! [`InMemoryBos`]: an in-memory twin of a BOS service implementing [`BosApi`], for tests
//! of everything written against the trait (the filesystem above all).
//!
//! It follows BOS's rules as the protocol reference describes them and answers with the
//! same error codes and HTTP statuses: buckets must exist, keys are ordered by their
//! bytes, Normal versus Appendable objects (the AppendObject table), conditional writes
//! (`x-bce-forbid-overwrite`, `If-None-Match: *`, `If-Match`), multipart part rules
//! checked at Complete, listings with prefix / delimiter / marker / maxKeys, conditional
//! copies. Requests are counted per BOS operation name (as the local server's
//! `GET /_stats` does), failures can be injected ([`Fault`]), and an artificial delay can
//! be added to every request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};

use crate::bos::client::validate;
use crate::bos::types::*;
use crate::bos::{BosApi, BosError, BosResult};

/// Region reported for buckets.
const REGION: &str = "bj";

/// A hook consulted before every request; returning an error fails the request.
pub type RequestHook = Arc<dyn Fn(Operation, &str, &str) -> Option<BosError> + Send + Sync>;

type ErrorMaker = Arc<dyn Fn() -> BosError + Send + Sync>;

/// A failure to inject into requests of one operation.
///
/// `Fault::on(Operation::UploadPart).skip(2)` makes the 3rd UploadPart (counted from the
/// moment it is injected) fail with `500 InternalError`, once.
#[derive(Clone)]
pub struct Fault {
    op: Operation,
    skip: u64,
    times: u64,
    after_applying: bool,
    make: ErrorMaker,
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fault")
            .field("op", &self.op)
            .field("skip", &self.skip)
            .field("times", &self.times)
            .field("after_applying", &self.after_applying)
            .finish()
    }
}

impl Fault {
    /// Fail the next request of `op` once with `500 InternalError`.
    pub fn on(op: Operation) -> Self {
        Fault {
            op,
            skip: 0,
            times: 1,
            after_applying: false,
            make: Arc::new(|| BosError::service(500, "InternalError", "injected failure", "injected")),
        }
    }

    /// Let `n` requests of the operation pass first.
    pub fn skip(mut self, n: u64) -> Self {
        self.skip = n;
        self
    }

    /// Fail `n` consecutive requests (after the skipped ones).
    pub fn times(mut self, n: u64) -> Self {
        self.times = n;
        self
    }

    /// Fail with the error `make` builds.
    pub fn error(mut self, make: impl Fn() -> BosError + Send + Sync + 'static) -> Self {
        self.make = Arc::new(make);
        self
    }

    /// Fail with a service error of this status and code.
    pub fn status(self, status: u16, code: &'static str) -> Self {
        self.error(move || BosError::service(status, code, "injected failure", "injected"))
    }

    /// Carry the request out, then report the failure: the answer was lost after the
    /// request landed (what a timeout can hide).
    pub fn after_applying(mut self) -> Self {
        self.after_applying = true;
        self
    }
}

#[derive(Debug, Clone)]
struct StoredObject {
    data: Bytes,
    meta: ObjectMeta,
}

#[derive(Debug, Clone)]
struct StoredPart {
    data: Bytes,
    etag: String,
    last_modified: SystemTime,
}

#[derive(Debug, Clone)]
struct Upload {
    key: String,
    seq: u64,
    initiated: SystemTime,
    options: PutOptions,
    parts: BTreeMap<u32, StoredPart>,
}

#[derive(Debug, Clone)]
struct Bucket {
    created: SystemTime,
    objects: BTreeMap<String, StoredObject>,
    uploads: BTreeMap<String, Upload>,
}

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<String, Bucket>,
    next_seq: u64,
}

/// An in-memory BOS service. Cheap to share behind an `Arc`.
pub struct InMemoryBos {
    state: Mutex<State>,
    counts: Mutex<BTreeMap<Operation, u64>>,
    faults: Mutex<Vec<Fault>>,
    hook: Mutex<Option<RequestHook>>,
    delay: Mutex<Duration>,
    min_part_size: AtomicU64,
    refuse_appendable_copy: AtomicBool,
    request_ids: AtomicU64,
}

impl std::fmt::Debug for InMemoryBos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryBos")
            .field("min_part_size", &self.min_part_size.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryBos {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the maps half-updated in a way that
    // matters for a test double; keep going with the data.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Now, truncated to whole seconds as HTTP dates carry it.
fn now_seconds() -> SystemTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn md5_hex(data: &[u8]) -> String {
    crate::bos::auth::hex_lower(&md5_of(data))
}

fn md5_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5_of(data))
}

fn trim_etag(e: &str) -> String {
    e.trim().trim_matches('"').to_ascii_lowercase()
}

impl InMemoryBos {
    /// An empty service: no buckets, 5 MiB minimum part size.
    pub fn new() -> Self {
        InMemoryBos {
            state: Mutex::new(State::default()),
            counts: Mutex::new(BTreeMap::new()),
            faults: Mutex::new(Vec::new()),
            hook: Mutex::new(None),
            delay: Mutex::new(Duration::ZERO),
            min_part_size: AtomicU64::new(MIN_PART_SIZE),
            refuse_appendable_copy: AtomicBool::new(false),
            request_ids: AtomicU64::new(0),
        }
    }

    /// A service holding one empty bucket.
    pub fn with_bucket(bucket: &str) -> Self {
        let bos = Self::new();
        bos.create_bucket(bucket);
        bos
    }

    /// Builder form of [`InMemoryBos::set_min_part_size`].
    pub fn with_min_part_size(self, bytes: u64) -> Self {
        self.set_min_part_size(bytes);
        self
    }

    /// Create `bucket` directly (not counted as a request); no-op when it exists.
    pub fn create_bucket(&self, bucket: &str) {
        lock(&self.state)
            .buckets
            .entry(bucket.to_string())
            .or_insert_with(|| Bucket {
                created: now_seconds(),
                objects: BTreeMap::new(),
                uploads: BTreeMap::new(),
            });
    }

    /// Smallest non-last part accepted at CompleteMultipartUpload.
    pub fn set_min_part_size(&self, bytes: u64) {
        self.min_part_size.store(bytes, Ordering::Relaxed);
    }

    /// Refuse CopyObject of an Appendable object to another key (400 NotAllowCopy).
    pub fn set_refuse_appendable_copy(&self, refuse: bool) {
        self.refuse_appendable_copy.store(refuse, Ordering::Relaxed);
    }

    /// Delay every request by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.delay) = delay;
    }

    /// Add a failure to inject. Faults of the same operation apply in the order added.
    pub fn inject(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    /// Remove every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Consult `hook(operation, bucket, key)` before every request; an error it returns
    /// fails the request before it does anything. `None` removes the hook.
    pub fn set_hook(&self, hook: Option<RequestHook>) {
        *lock(&self.hook) = hook;
    }

    /// Requests of `op` received so far (failed ones included).
    pub fn count(&self, op: Operation) -> u64 {
        lock(&self.counts).get(&op).copied().unwrap_or(0)
    }

    /// Every non-zero request counter, keyed by BOS operation name.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.counts)
            .iter()
            .map(|(op, n)| (op.as_str().to_string(), *n))
            .collect()
    }

    /// All requests received so far.
    pub fn total_requests(&self) -> u64 {
        lock(&self.counts).values().sum()
    }

    /// Zero every counter.
    pub fn reset_counts(&self) {
        lock(&self.counts).clear();
    }

    /// The bytes of an object, read without counting a request.
    pub fn object_bytes(&self, bucket: &str, key: &str) -> Option<Bytes> {
        lock(&self.state)
            .buckets
            .get(bucket)
            .and_then(|b| b.objects.get(key))
            .map(|o| o.data.clone())
    }

    /// The keys of a bucket in order, read without counting a request.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        lock(&self.state)
            .buckets
            .get(bucket)
            .map(|b| b.objects.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Multipart uploads in progress in a bucket, read without counting a request.
    pub fn upload_count(&self, bucket: &str) -> usize {
        lock(&self.state)
            .buckets
            .get(bucket)
            .map(|b| b.uploads.len())
            .unwrap_or(0)
    }

    fn request_id(&self) -> String {
        format!("mem-{:08}", self.request_ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn error(&self, status: u16, code: &str, message: &str) -> BosError {
        BosError::service(status, code, message, self.request_id())
    }

    fn no_such_bucket(&self) -> BosError {
        self.error(404, "NoSuchBucket", "The specified bucket does not exist.")
    }

    fn no_such_key(&self) -> BosError {
        self.error(404, "NoSuchKey", "The specified key does not exist.")
    }

    fn no_such_upload(&self) -> BosError {
        self.error(404, "NoSuchUpload", "The specified multipart upload does not exist.")
    }

    fn precondition_failed(&self) -> BosError {
        self.error(
            412,
            "PreconditionFailed",
            "The specified If-Match header doesn't match the ETag header.",
        )
    }

    /// Count the request, wait the artificial delay, and fail it if a fault or the hook
    /// says so. Returns whether a fault must fire after the request is carried out.
    async fn begin(&self, op: Operation, bucket: &str, key: &str) -> BosResult<Option<ErrorMaker>> {
        *lock(&self.counts).entry(op).or_insert(0) += 1;
        let delay = *lock(&self.delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let hook = lock(&self.hook).clone();
        if let Some(hook) = hook {
            if let Some(err) = hook(op, bucket, key) {
                return Err(err);
            }
        }
        let mut faults = lock(&self.faults);
        let Some(index) = faults.iter().position(|f| f.op == op) else {
            return Ok(None);
        };
        let fault = &mut faults[index];
        if fault.skip > 0 {
            fault.skip -= 1;
            return Ok(None);
        }
        let make = fault.make.clone();
        let after = fault.after_applying;
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            faults.remove(index);
        }
        if after {
            Ok(Some(make))
        } else {
            Err(make())
        }
    }

    /// Run one request: count it, apply faults around `work`.
    async fn run<T>(
        &self,
        op: Operation,
        bucket: &str,
        key: &str,
        work: impl FnOnce(&mut State) -> BosResult<T>,
    ) -> BosResult<T> {
        let after = self.begin(op, bucket, key).await?;
        let result = work(&mut lock(&self.state));
        match (result, after) {
            (Ok(_), Some(make)) => Err(make()),
            (result, _) => result,
        }
    }

    fn bucket_mut<'a>(&self, state: &'a mut State, bucket: &str) -> BosResult<&'a mut Bucket> {
        state.buckets.get_mut(bucket).ok_or_else(|| self.no_such_bucket())
    }

    /// Apply the conditions of a write (`x-bce-forbid-overwrite`, `If-None-Match: *`,
    /// `If-Match`) against the current object.
    fn check_write_conditions(&self, existing: Option<&StoredObject>, options: &PutOptions) -> BosResult<()> {
        if existing.is_some() {
            if options.forbid_overwrite {
                return Err(self.error(409, "FileAlreadyExists", "The object already exists."));
            }
            if options.if_none_match_any {
                return Err(self.precondition_failed());
            }
        }
        if let Some(expected) = &options.if_match {
            match existing {
                Some(o) if trim_etag(&o.meta.etag) == trim_etag(expected) => {}
                _ => return Err(self.precondition_failed()),
            }
        }
        Ok(())
    }

    fn check_copy_conditions(&self, source: &ObjectMeta, c: &CopyConditions) -> BosResult<()> {
        let etag = trim_etag(&source.etag);
        let failed = c.if_match.as_deref().is_some_and(|e| trim_etag(e) != etag)
            || c.if_none_match.as_deref().is_some_and(|e| trim_etag(e) == etag)
            || c.if_modified_since.is_some_and(|t| source.last_modified <= t)
            || c.if_unmodified_since.is_some_and(|t| source.last_modified > t);
        if failed {
            Err(self.precondition_failed())
        } else {
            Ok(())
        }
    }

    fn source<'a>(&self, state: &'a State, bucket: &str, key: &str) -> BosResult<&'a StoredObject> {
        let b = state.buckets.get(bucket).ok_or_else(|| self.no_such_bucket())?;
        b.objects.get(key).ok_or_else(|| self.no_such_key())
    }
}

/// Metadata of a new object written with `options`.
fn new_meta(key: &str, data: &[u8], options: &PutOptions, object_type: ObjectType) -> ObjectMeta {
    let mut meta = ObjectMeta::new(key);
    meta.size = data.len() as u64;
    meta.etag = md5_hex(data);
    meta.last_modified = now_seconds();
    apply_options(&mut meta, options);
    meta.object_type = object_type;
    meta.content_md5 = Some(md5_base64(data));
    if object_type == ObjectType::Appendable {
        meta.next_append_offset = Some(meta.size);
    }
    meta
}

/// Content-Type, storage class, user metadata and the cache headers of `options`, as
/// BOS stores them (names lower-case, values trimmed, octet-stream by default).
fn apply_options(meta: &mut ObjectMeta, options: &PutOptions) {
    meta.content_type = Some(
        options
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_string()),
    );
    meta.storage_class = options.storage_class.unwrap_or_default();
    meta.user_meta = options
        .user_meta
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    meta.cache_control = options.cache_control.clone();
    meta.content_disposition = options.content_disposition.clone();
    meta.content_encoding = options.content_encoding.clone();
    meta.expires = options.expires.clone();
}

fn list_entry(o: &StoredObject) -> ListEntry {
    ListEntry {
        key: o.meta.key.clone(),
        size: o.meta.size,
        etag: o.meta.etag.clone(),
        last_modified: o.meta.last_modified,
        storage_class: o.meta.storage_class,
    }
}

/// The common prefix `key` falls under, if any: the prefix up to and including the first
/// delimiter after `prefix`.
fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    rest.find(d).map(|i| &key[..prefix.len() + i + d.len()])
}

/// One item of a listing in key order: an object or a common prefix.
enum Listed<T> {
    Item(T),
    Prefix(String),
}

/// A page's items (each turned by `convert` into its key and what the answer lists) and
/// common prefixes, and the marker a truncated page continues after: its last key or prefix.
fn split_page<T, U>(
    page: Vec<Listed<T>>,
    truncated: bool,
    mut convert: impl FnMut(T) -> (String, U),
) -> (Vec<U>, Vec<String>, Option<String>) {
    let (mut items, mut prefixes, mut last) = (Vec::new(), Vec::new(), None);
    for listed in page {
        match listed {
            Listed::Item(t) => {
                let (key, item) = convert(t);
                last = Some(key);
                items.push(item);
            }
            Listed::Prefix(p) => {
                last = Some(p.clone());
                prefixes.push(p);
            }
        }
    }
    (items, prefixes, if truncated { last } else { None })
}

/// Walk `entries` (key order, all after the marker) the way ListObjects and
/// ListMultipartUploads page: group by common prefix, skip groups at or before the
/// marker, stop after `max` items. Returns the items and whether more follow.
fn page<'a, T: 'a>(
    entries: impl Iterator<Item = (&'a str, T)>,
    prefix: &str,
    delimiter: Option<&str>,
    marker: Option<&str>,
    max: usize,
) -> (Vec<Listed<T>>, bool) {
    let mut out = Vec::new();
    let mut last_prefix: Option<String> = None;
    for (key, item) in entries {
        if !key.starts_with(prefix) {
            // Keys sharing a prefix are contiguous in key order: past them, stop.
            if key > prefix {
                break;
            }
            continue;
        }
        if marker.is_some_and(|m| key <= m) {
            continue;
        }
        let listed = match common_prefix(key, prefix, delimiter) {
            Some(cp) => {
                if last_prefix.as_deref() == Some(cp) || marker.is_some_and(|m| cp <= m) {
                    continue;
                }
                last_prefix = Some(cp.to_string());
                Listed::Prefix(cp.to_string())
            }
            None => Listed::Item(item),
        };
        if out.len() == max {
            return (out, true);
        }
        out.push(listed);
    }
    (out, false)
}

#[async_trait]
impl BosApi for InMemoryBos {
    async fn head_bucket(&self, bucket: &str) -> BosResult<()> {
        validate::bucket(bucket)?;
        self.run(Operation::HeadBucket, bucket, "", |s| {
            self.bucket_mut(s, bucket)?;
            Ok(())
        })
        .await
    }

    async fn put_bucket(&self, bucket: &str) -> BosResult<()> {
        validate::bucket(bucket)?;
        self.run(Operation::PutBucket, bucket, "", |s| {
            if s.buckets.contains_key(bucket) {
                return Err(self.error(
                    409,
                    "BucketAlreadyExists",
                    "The requested bucket name is not available.",
                ));
            }
            s.buckets.insert(
                bucket.to_string(),
                Bucket {
                    created: now_seconds(),
                    objects: BTreeMap::new(),
                    uploads: BTreeMap::new(),
                },
            );
            Ok(())
        })
        .await
    }

    async fn delete_bucket(&self, bucket: &str) -> BosResult<()> {
        validate::bucket(bucket)?;
        self.run(Operation::DeleteBucket, bucket, "", |s| {
            let b = self.bucket_mut(s, bucket)?;
            if !b.objects.is_empty() {
                return Err(self.error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty."));
            }
            s.buckets.remove(bucket);
            Ok(())
        })
        .await
    }

    async fn list_buckets(&self) -> BosResult<Vec<BucketInfo>> {
        self.run(Operation::ListBuckets, "", "", |s| {
            Ok(s.buckets
                .iter()
                .map(|(name, b)| BucketInfo {
                    name: name.clone(),
                    location: REGION.to_string(),
                    creation_date: b.created,
                })
                .collect())
        })
        .await
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Bytes, options: &PutOptions) -> BosResult<PutResult> {
        validate::object(bucket, key)?;
        validate::put_options(options)?;
        validate::body_size("PutObject body", body.len() as u64, MAX_PUT_OBJECT_SIZE)?;
        self.run(Operation::PutObject, bucket, key, |s| {
            let b = self.bucket_mut(s, bucket)?;
            self.check_write_conditions(b.objects.get(key), options)?;
            let meta = new_meta(key, &body, options, ObjectType::Normal);
            let etag = meta.etag.clone();
            b.objects.insert(key.to_string(), StoredObject { data: body, meta });
            Ok(PutResult { etag })
        })
        .await
    }

    async fn get_object(&self, bucket: &str, key: &str, range: Option<ByteRange>) -> BosResult<GetResult> {
        validate::object(bucket, key)?;
        validate::byte_range(range)?;
        self.run(Operation::GetObject, bucket, key, |s| {
            let o = self.source(s, bucket, key)?;
            let size = o.meta.size;
            let body = match range {
                None => o.data.clone(),
                Some(r) if size == 0 => {
                    // BOS answers 400 to any Range on an empty object; a read from 0 is
                    // still a read of the whole (empty) object, as the client makes it.
                    if r.start == 0 {
                        Bytes::new()
                    } else {
                        return Err(self.error(400, "InvalidRange", "The requested range cannot be satisfied."));
                    }
                }
                Some(r) if r.start >= size => {
                    return Err(self.error(416, "InvalidRange", "The requested range cannot be satisfied."))
                }
                Some(r) => {
                    let end = r.end.map_or(size - 1, |e| e.min(size - 1));
                    o.data.slice(r.start as usize..=end as usize)
                }
            };
            Ok(GetResult {
                meta: o.meta.clone(),
                body,
            })
        })
        .await
    }

    async fn head_object(&self, bucket: &str, key: &str) -> BosResult<ObjectMeta> {
        validate::object(bucket, key)?;
        self.run(Operation::GetObjectMeta, bucket, key, |s| {
            Ok(self.source(s, bucket, key)?.meta.clone())
        })
        .await
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> BosResult<()> {
        validate::object(bucket, key)?;
        self.run(Operation::DeleteObject, bucket, key, |s| {
            let b = self.bucket_mut(s, bucket)?;
            b.objects.remove(key).map(|_| ()).ok_or_else(|| self.no_such_key())
        })
        .await
    }

    async fn delete_multiple_objects(&self, bucket: &str, keys: &[String]) -> BosResult<Vec<DeleteFailure>> {
        validate::bucket(bucket)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if keys.len() > MAX_LIST_KEYS as usize {
            return Err(BosError::InvalidArgument(format!(
                "DeleteMultipleObjects takes at most {MAX_LIST_KEYS} keys, not {}",
                keys.len()
            )));
        }
        for key in keys {
            validate::key(key)?;
        }
        self.run(Operation::DeleteMultipleObjects, bucket, "", |s| {
            let b = self.bucket_mut(s, bucket)?;
            Ok(keys
                .iter()
                .filter(|key| b.objects.remove(key.as_str()).is_none())
                .map(|key| DeleteFailure {
                    key: key.clone(),
                    code: "NoSuchKey".to_string(),
                    message: "The specified key does not exist.".to_string(),
                })
                .collect())
        })
        .await
    }

    async fn list_objects(&self, bucket: &str, request: &ListRequest) -> BosResult<ListPage> {
        validate::bucket(bucket)?;
        validate::list_request(request)?;
        self.run(Operation::ListObjects, bucket, "", |s| {
            let b = self.bucket_mut(s, bucket)?;
            let max = request.max_keys.unwrap_or(MAX_LIST_KEYS).min(MAX_LIST_KEYS) as usize;
            let start = match &request.marker {
                Some(m) if m.as_str() > request.prefix.as_str() => m.clone(),
                _ => request.prefix.clone(),
            };
            let entries = b.objects.range(start..).map(|(k, o)| (k.as_str(), o));
            let (items, truncated) = page(
                entries,
                &request.prefix,
                request.delimiter.as_deref(),
                request.marker.as_deref(),
                max,
            );
            let (contents, common_prefixes, next_marker) =
                split_page(items, truncated, |o| (o.meta.key.clone(), list_entry(o)));
            Ok(ListPage {
                contents,
                common_prefixes,
                is_truncated: truncated,
                next_marker,
            })
        })
        .await
    }

    async fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        bucket: &str,
        key: &str,
        options: &CopyOptions,
    ) -> BosResult<CopyResult> {
        validate::object(source_bucket, source_key)?;
        validate::object(bucket, key)?;
        validate::traffic_limit(options.traffic_limit)?;
        if let MetadataDirective::Replace(o) = &options.directive {
            validate::put_options(o)?;
        }
        self.run(Operation::CopyObject, bucket, key, |s| {
            let source = self.source(s, source_bucket, source_key)?.clone();
            self.bucket_mut(s, bucket)?;
            self.check_copy_conditions(&source.meta, &options.conditions)?;
            let same = source_bucket == bucket && source_key == key;
            let appendable = source.meta.object_type == ObjectType::Appendable;
            if appendable && !same && self.refuse_appendable_copy.load(Ordering::Relaxed) {
                return Err(self.error(400, "NotAllowCopy", "Copying an appendable object is not allowed."));
            }
            let mut meta = source.meta.clone();
            meta.key = key.to_string();
            meta.last_modified = now_seconds();
            if let MetadataDirective::Replace(o) = &options.directive {
                apply_options(&mut meta, o);
            }
            meta.storage_class = options.storage_class.unwrap_or_default();
            if !(same && appendable) {
                meta.object_type = ObjectType::Normal;
                meta.next_append_offset = None;
            }
            let result = CopyResult {
                etag: meta.etag.clone(),
                last_modified: meta.last_modified,
            };
            let b = self.bucket_mut(s, bucket)?;
            b.objects.insert(
                key.to_string(),
                StoredObject {
                    data: source.data,
                    meta,
                },
            );
            Ok(result)
        })
        .await
    }

    async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        offset: Option<u64>,
        body: Bytes,
        options: &PutOptions,
    ) -> BosResult<AppendResult> {
        validate::object(bucket, key)?;
        validate::put_options(options)?;
        validate::body_size("AppendObject body", body.len() as u64, MAX_PUT_OBJECT_SIZE)?;
        self.run(Operation::AppendObject, bucket, key, |s| {
            if options.storage_class == Some(StorageClass::Archive) {
                return Err(self.error(400, "InvalidArgument", "ARCHIVE objects cannot be appended to."));
            }
            let b = self.bucket_mut(s, bucket)?;
            let existing = b.objects.get(key);
            let stored = match offset {
                None => {
                    self.check_write_conditions(existing, options)?;
                    let meta = new_meta(key, &body, options, ObjectType::Appendable);
                    StoredObject { data: body, meta }
                }
                Some(n) => {
                    let Some(o) = existing else {
                        return Err(self.no_such_key());
                    };
                    if o.meta.object_type != ObjectType::Appendable {
                        return Err(self.error(403, "ObjectUnappendable", "The object is not appendable."));
                    }
                    if n != o.meta.size {
                        return Err(self.error(409, "OffsetIncorrect", "The offset is not the object's length."));
                    }
                    self.check_write_conditions(
                        Some(o),
                        &PutOptions {
                            if_match: options.if_match.clone(),
                            ..PutOptions::default()
                        },
                    )?;
                    let mut data = BytesMut::with_capacity(o.data.len() + body.len());
                    data.extend_from_slice(&o.data);
                    data.extend_from_slice(&body);
                    let data = data.freeze();
                    let mut meta = o.meta.clone();
                    meta.size = data.len() as u64;
                    meta.etag = md5_hex(&data);
                    meta.content_md5 = Some(md5_base64(&data));
                    meta.next_append_offset = Some(meta.size);
                    meta.last_modified = now_seconds();
                    StoredObject { data, meta }
                }
            };
            let result = AppendResult {
                next_offset: stored.meta.size,
                etag: stored.meta.etag.clone(),
            };
            b.objects.insert(key.to_string(), stored);
            Ok(result)
        })
        .await
    }

    async fn initiate_multipart_upload(&self, bucket: &str, key: &str, options: &PutOptions) -> BosResult<String> {
        validate::object(bucket, key)?;
        validate::put_options(options)?;
        self.run(Operation::InitiateMultipartUpload, bucket, key, |s| {
            s.next_seq += 1;
            let seq = s.next_seq;
            let b = self.bucket_mut(s, bucket)?;
            let id = format!("{:032x}", rand::random::<u128>());
            b.uploads.insert(
                id.clone(),
                Upload {
                    key: key.to_string(),
                    seq,
                    initiated: now_seconds(),
                    options: options.clone(),
                    parts: BTreeMap::new(),
                },
            );
            Ok(id)
        })
        .await
    }

    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> BosResult<String> {
        validate::object(bucket, key)?;
        validate::part_number(part_number)?;
        validate::body_size("part", body.len() as u64, MAX_PART_SIZE)?;
        self.run(Operation::UploadPart, bucket, key, |s| {
            let b = self.bucket_mut(s, bucket)?;
            let upload = b
                .uploads
                .get_mut(upload_id)
                .filter(|u| u.key == key)
                .ok_or_else(|| self.no_such_upload())?;
            let etag = md5_hex(&body);
            upload.parts.insert(
                part_number,
                StoredPart {
                    data: body,
                    etag: etag.clone(),
                    last_modified: now_seconds(),
                },
            );
            Ok(etag)
        })
        .await
    }

    async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source_bucket: &str,
        source_key: &str,
        range: Option<(u64, u64)>,
        conditions: &CopyConditions,
    ) -> BosResult<CopyResult> {
        validate::object(bucket, key)?;
        validate::object(source_bucket, source_key)?;
        validate::part_number(part_number)?;
        validate::copy_range(range)?;
        self.run(Operation::UploadPartCopy, bucket, key, |s| {
            let source = self.source(s, source_bucket, source_key)?;
            self.check_copy_conditions(&source.meta, conditions)?;
            let data = match range {
                None => source.data.clone(),
                Some((first, last)) if last >= source.meta.size => {
                    let _ = first;
                    return Err(self.error(416, "InvalidRange", "The copy source range is outside the object."));
                }
                Some((first, last)) => source.data.slice(first as usize..=last as usize),
            };
            let b = self.bucket_mut(s, bucket)?;
            let upload = b
                .uploads
                .get_mut(upload_id)
                .filter(|u| u.key == key)
                .ok_or_else(|| self.no_such_upload())?;
            let etag = md5_hex(&data);
            let last_modified = now_seconds();
            upload.parts.insert(
                part_number,
                StoredPart {
                    data,
                    etag: etag.clone(),
                    last_modified,
                },
            );
            Ok(CopyResult { etag, last_modified })
        })
        .await
    }

    async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        options: &PutOptions,
    ) -> BosResult<CompleteResult> {
        validate::object(bucket, key)?;
        validate::put_options(options)?;
        if parts.is_empty() {
            return Err(BosError::InvalidArgument(
                "CompleteMultipartUpload needs at least one part".into(),
            ));
        }
        self.run(Operation::CompleteMultipartUpload, bucket, key, |s| {
            let min_part = self.min_part_size.load(Ordering::Relaxed);
            let b = self.bucket_mut(s, bucket)?;
            let upload = b
                .uploads
                .get(upload_id)
                .filter(|u| u.key == key)
                .ok_or_else(|| self.no_such_upload())?;
            if parts.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
                return Err(self.error(400, "InvalidPartOrder", "The list of parts was not in ascending order."));
            }
            let mut chosen = Vec::with_capacity(parts.len());
            for (i, p) in parts.iter().enumerate() {
                let stored = upload
                    .parts
                    .get(&p.part_number)
                    .filter(|sp| sp.etag == trim_etag(&p.e_tag))
                    .ok_or_else(|| {
                        self.error(
                            400,
                            "InvalidPart",
                            "One or more of the specified parts could not be found.",
                        )
                    })?;
                if i + 1 < parts.len() && (stored.data.len() as u64) < min_part {
                    return Err(self.error(400, "EntityTooSmall", "A part is smaller than the minimum allowed."));
                }
                chosen.push(stored);
            }
            self.check_write_conditions(b.objects.get(key), options)?;
            let total: usize = chosen.iter().map(|p| p.data.len()).sum();
            let mut data = BytesMut::with_capacity(total);
            for p in &chosen {
                data.extend_from_slice(&p.data);
            }
            let etag = if chosen.len() == 1 {
                chosen[0].etag.clone()
            } else {
                let joined: String = chosen.iter().map(|p| p.etag.as_str()).collect();
                format!("-{}", md5_hex(joined.as_bytes()))
            };
            let mut init_options = upload.options.clone();
            if !options.user_meta.is_empty() {
                init_options.user_meta = options.user_meta.clone();
            }
            let data = data.freeze();
            let mut meta = new_meta(key, &data, &init_options, ObjectType::Normal);
            meta.etag = etag.clone();
            meta.content_md5 = None;
            b.uploads.remove(upload_id);
            b.objects.insert(key.to_string(), StoredObject { data, meta });
            Ok(CompleteResult {
                etag,
                location: format!("http://{REGION}.bcebos.com/{bucket}/{key}"),
            })
        })
        .await
    }

    async fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> BosResult<()> {
        validate::object(bucket, key)?;
        self.run(Operation::AbortMultipartUpload, bucket, key, |s| {
            let b = self.bucket_mut(s, bucket)?;
            match b.uploads.get(upload_id) {
                Some(u) if u.key == key => {
                    b.uploads.remove(upload_id);
                    Ok(())
                }
                _ => Err(self.no_such_upload()),
            }
        })
        .await
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: Option<u32>,
        max_parts: Option<u32>,
    ) -> BosResult<ListPartsPage> {
        validate::object(bucket, key)?;
        validate::page_size("maxParts", max_parts)?;
        self.run(Operation::ListParts, bucket, key, |s| {
            let b = self.bucket_mut(s, bucket)?;
            let upload = b
                .uploads
                .get(upload_id)
                .filter(|u| u.key == key)
                .ok_or_else(|| self.no_such_upload())?;
            let max = max_parts.unwrap_or(MAX_LIST_KEYS) as usize;
            let marker = part_number_marker.unwrap_or(0);
            let mut after = upload.parts.range(marker.saturating_add(1)..);
            let parts: Vec<PartInfo> = after
                .by_ref()
                .take(max)
                .map(|(n, p)| PartInfo {
                    part_number: *n,
                    etag: p.etag.clone(),
                    size: p.data.len() as u64,
                    last_modified: p.last_modified,
                })
                .collect();
            let is_truncated = after.next().is_some();
            Ok(ListPartsPage {
                next_part_number_marker: parts.last().map_or(marker, |p| p.part_number),
                parts,
                is_truncated,
                storage_class: upload.options.storage_class.unwrap_or_default(),
            })
        })
        .await
    }

    async fn list_multipart_uploads(&self, bucket: &str, request: &ListUploadsRequest) -> BosResult<ListUploadsPage> {
        validate::bucket(bucket)?;
        validate::page_size("maxUploads", request.max_uploads)?;
        validate::delimiter(request.delimiter.as_deref())?;
        self.run(Operation::ListMultipartUploads, bucket, "", |s| {
            let b = self.bucket_mut(s, bucket)?;
            let mut uploads: Vec<(&String, &Upload)> = b.uploads.iter().collect();
            uploads.sort_by(|x, y| (&x.1.key, x.1.seq).cmp(&(&y.1.key, y.1.seq)));
            let max = request.max_uploads.unwrap_or(MAX_LIST_KEYS) as usize;
            let (items, truncated) = page(
                uploads.into_iter().map(|(id, u)| (u.key.as_str(), (id, u))),
                &request.prefix,
                request.delimiter.as_deref(),
                request.key_marker.as_deref(),
                max,
            );
            let (uploads, common_prefixes, next_key_marker) = split_page(items, truncated, |(id, u)| {
                let info = UploadInfo {
                    key: u.key.clone(),
                    upload_id: id.clone(),
                    initiated: u.initiated,
                    storage_class: u.options.storage_class.unwrap_or_default(),
                };
                (u.key.clone(), info)
            });
            Ok(ListUploadsPage {
                uploads,
                common_prefixes,
                is_truncated: truncated,
                next_key_marker,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests;
