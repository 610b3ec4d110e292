//! PutObject, GetObject / GetObjectMeta (HEAD), DeleteObject, DeleteMultipleObjects and
//! CopyObject.

use super::{receive_new_blob, small_body, Ctx};
use crate::bos::types::{ObjectType, MAX_PUT_OBJECT_SIZE};
use crate::bos::wire::{CopyObjectResponse, DeleteErrorEntry, DeleteMultipleRequest, DeleteMultipleResponse};
use crate::server::error::{ApiError, ApiResult};
use crate::server::request::{
    check_copy_source, check_length, content_length, parse_copy_source, parse_http_date, resolve_range, stored_meta,
    validate_key, ExpectedDigests, RangeAsk, WriteConditions,
};
use crate::server::response::{json, object_headers, ok, quoted, set};
use crate::server::store::blobs::{hash_bytes, new_id, Received};
use crate::server::store::records::{now_ms, time_of, ObjectRecord, Segment, StoredMeta};
use crate::server::store::{BlobPin, Store};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// Bodies up to this size are taken into memory and written, fsynced, renamed and
/// committed in one blocking step (memory per request stays bounded by this).
const SMALL_BODY: u64 = 256 * 1024;

/// Bodies up to this size are kept in the index with their record (one fsync per PUT).
const INLINE_MAX: u64 = 64 * 1024;

/// Read a body announced as at most `limit` bytes into memory.
async fn small_body_bytes(ctx: &Ctx, body: &mut Option<Body>, limit: u64) -> ApiResult<bytes::Bytes> {
    let bytes = axum::body::to_bytes(Ctx::take(body), usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                format!("The request body could not be read: {e}"),
            )
        })?;
    ctx.stats.add_in(bytes.len() as u64);
    Ok(bytes)
}

/// The record of a Normal object held in blob `id`.
fn normal_record(id: &str, received: &Received, meta: StoredMeta) -> ObjectRecord {
    ObjectRecord {
        segments: vec![Segment {
            blob: id.to_string(),
            len: received.size,
            inline: false,
        }],
        size: received.size,
        etag: received.md5_hex(),
        modified_ms: now_ms(),
        object_type: ObjectType::Normal,
        meta,
        content_md5: Some(received.md5_base64()),
        crc32: received.crc32,
        md5_state: None,
    }
}

/// PutObject: receive the body to disk (a small one in memory first), check digests and
/// conditions, commit (grouped with concurrent commits, answered once durable).
pub async fn put_object(ctx: &Ctx, bucket: &str, key: &str, body: &mut Option<Body>) -> ApiResult<Response> {
    validate_key(key)?;
    ctx.store.require_bucket(bucket)?;
    let meta = stored_meta(&ctx.headers)?;
    let digests = ExpectedDigests::parse(&ctx.headers)?;
    let conditions = WriteConditions::parse(&ctx.headers);
    check_length(&ctx.headers, MAX_PUT_OBJECT_SIZE)?;
    if conditions.any() {
        // Fail early, before the body is received; checked again atomically at commit.
        let current = get_record(&ctx.store, bucket, key).await?;
        conditions.check(current.as_ref())?;
    }
    let announced = content_length(&ctx.headers);
    let (received, old) = if announced.is_some_and(|n| n <= INLINE_MAX) {
        // Small enough to live in the index: written with its record in one commit.
        let bytes = small_body_bytes(ctx, body, INLINE_MAX).await?;
        let (b, k) = (bucket.to_string(), key.to_string());
        ctx.store
            .run(move |s| {
                let received = hash_bytes(&bytes, digests.wants_sha256());
                digests.check(&received)?;
                let id = new_id();
                let mut record = normal_record(&id, &received, meta);
                record.segments[0].inline = true;
                let old = s.index.put_object_with(&b, &k, Some((&id, &bytes)), |old| {
                    conditions.check(old)?;
                    Ok(record)
                })?;
                Ok((received, old))
            })
            .await?
    } else if announced.is_some_and(|n| n <= SMALL_BODY) {
        let bytes = small_body_bytes(ctx, body, SMALL_BODY).await?;
        let (b, k) = (bucket.to_string(), key.to_string());
        ctx.store
            .run(move |s| {
                let mut temp = s.blobs.temp();
                let received = s.blobs.write_small(&temp, &bytes, digests.wants_sha256())?;
                digests.check(&received)?;
                let id = s.blobs.install(&mut temp)?;
                let record = normal_record(&id, &received, meta);
                match s.index.put_object(&b, &k, |old| {
                    conditions.check(old)?;
                    Ok(record)
                }) {
                    Ok(old) => Ok((received, old)),
                    Err(e) => {
                        s.blobs.remove(&[id]);
                        Err(e)
                    }
                }
            })
            .await?
    } else {
        let (received, id) = receive_new_blob(ctx, body, MAX_PUT_OBJECT_SIZE, &digests).await?;
        let record = normal_record(&id, &received, meta);
        let old = commit(&ctx.store, bucket, key, record, conditions, vec![id]).await?;
        (received, old)
    };
    if let Some(old) = old {
        ctx.store
            .remove_blobs_later(old.file_blobs().map(str::to_string).collect());
    }
    let b = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "0");
    let b = set(b, "etag", &quoted(&received.md5_hex()));
    let b = set(b, "content-md5", &received.md5_base64());
    let b = set(b, "x-bce-content-crc32", &received.crc32.to_string());
    Ok(b.body(Body::empty()).unwrap_or_default())
}

/// The current record of `bucket`/`key`.
pub async fn get_record(store: &Arc<Store>, bucket: &str, key: &str) -> ApiResult<Option<ObjectRecord>> {
    let (b, k) = (bucket.to_string(), key.to_string());
    store.run(move |s| s.index.get_object(&b, &k)).await
}

/// Commit `record` at `bucket`/`key` if `conditions` hold; on failure remove `new_blobs`.
/// Returns the replaced record.
pub async fn commit(
    store: &Arc<Store>,
    bucket: &str,
    key: &str,
    record: ObjectRecord,
    conditions: WriteConditions,
    new_blobs: Vec<String>,
) -> ApiResult<Option<ObjectRecord>> {
    let (b, k) = (bucket.to_string(), key.to_string());
    let result = store
        .run(move |s| {
            s.index.put_object(&b, &k, |old| {
                conditions.check(old)?;
                Ok(record)
            })
        })
        .await;
    if result.is_err() {
        store.remove_blobs_later(new_blobs);
    }
    result
}

/// 304 / 412 per `If-*` headers of a GET or HEAD.
fn check_read_conditions(ctx: &Ctx, record: &ObjectRecord) -> ApiResult<Option<Response>> {
    let etag = record.etag.as_str();
    let modified = time_of(record.modified_ms / 1000 * 1000);
    let matches = |v: &str| {
        v.split(',')
            .any(|t| t.trim().trim_matches('"') == etag || t.trim() == "*")
    };
    if let Some(v) = ctx.header("if-match") {
        if !matches(&v) {
            return Err(ApiError::precondition_failed());
        }
    }
    if let Some(t) = ctx.header("if-unmodified-since").and_then(|v| parse_http_date(&v)) {
        if modified > t {
            return Err(ApiError::precondition_failed());
        }
    }
    let not_modified = match ctx.header("if-none-match") {
        Some(v) => matches(&v),
        None => ctx
            .header("if-modified-since")
            .and_then(|v| parse_http_date(&v))
            .is_some_and(|t| modified <= t),
    };
    if not_modified {
        let b = Response::builder().status(StatusCode::NOT_MODIFIED);
        let b = set(b, "etag", &quoted(etag));
        return Ok(Some(b.body(Body::empty()).unwrap_or_default()));
    }
    Ok(None)
}

/// A position in memory.
fn to_usize(n: u64) -> ApiResult<usize> {
    usize::try_from(n).map_err(|_| ApiError::internal("offset beyond memory"))
}

/// The (blob, offset, length) pieces covering `start..=end` of `record`.
pub fn pieces(record: &ObjectRecord, start: u64, end_inclusive: u64) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    if record.size == 0 {
        return out;
    }
    let end = end_inclusive + 1;
    let mut pos = 0u64;
    for seg in &record.segments {
        let (s, e) = (pos, pos + seg.len);
        pos = e;
        if e <= start || s >= end {
            continue;
        }
        let from = start.max(s);
        let to = end.min(e);
        out.push((seg.blob.clone(), from - s, to - from));
    }
    out
}

/// An object being read: its record, the pin keeping its blob files on disk, and its
/// content when that is inline (read from the same snapshot as the record).
pub struct Readable {
    /// The record.
    pub record: ObjectRecord,
    /// Keeps the blob files until dropped.
    pub pin: BlobPin,
    /// Inline content.
    pub content: Option<Vec<u8>>,
}

/// The current record of `bucket`/`key`, readable until the returned pin is dropped: an
/// inline object comes with its content; otherwise its blob files are pinned, the index is
/// read again, and the pin is kept only if the record still uses the same blobs (else a
/// concurrent replace won and the lookup starts over).
pub async fn readable(store: &Arc<Store>, bucket: &str, key: &str) -> ApiResult<Readable> {
    for _ in 0..8 {
        let (b, k) = (bucket.to_string(), key.to_string());
        let (record, content) = store
            .run(move |s| s.index.get_object_with_content(&b, &k))
            .await?
            .ok_or_else(ApiError::no_such_key)?;
        if content.is_some() {
            let pin = store.pin(std::iter::empty());
            return Ok(Readable { record, pin, content });
        }
        let pin = store.pin(record.file_blobs());
        let again = get_record(store, bucket, key)
            .await?
            .ok_or_else(ApiError::no_such_key)?;
        if again.blobs().eq(record.blobs()) {
            return Ok(Readable {
                record,
                pin,
                content: None,
            });
        }
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "The object keeps changing; please retry.",
    ))
}

/// GetObject (`head` = false) and GetObjectMeta (`head` = true).
pub async fn get_object(ctx: &Ctx, bucket: &str, key: &str, head: bool) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    if head {
        let record = get_record(&ctx.store, bucket, key)
            .await?
            .ok_or_else(ApiError::no_such_key)?;
        if let Some(answer) = check_read_conditions(ctx, &record)? {
            return Ok(answer);
        }
        let b = object_headers(Response::builder(), &record)
            .status(StatusCode::OK)
            .header(header::CONTENT_LENGTH, record.size.to_string())
            .header(header::ACCEPT_RANGES, "bytes");
        return Ok(b.body(Body::empty()).unwrap_or_default());
    }
    // Every blob of the object stays on disk until the body is sent, even if the object is
    // replaced or deleted meanwhile.
    let Readable { record, pin, content } = readable(&ctx.store, bucket, key).await?;
    if let Some(answer) = check_read_conditions(ctx, &record)? {
        return Ok(answer);
    }
    let builder = object_headers(Response::builder(), &record);
    let range = resolve_range(ctx.header("range").as_deref(), record.size)?;
    let (status, start, end, builder) = match range {
        RangeAsk::Whole => (StatusCode::OK, 0, record.size.saturating_sub(1), builder),
        RangeAsk::Part(s, e) => (
            StatusCode::PARTIAL_CONTENT,
            s,
            e,
            builder.header(header::CONTENT_RANGE, format!("bytes {s}-{e}/{}", record.size)),
        ),
    };
    let length = if record.size == 0 { 0 } else { end - start + 1 };
    let b = builder
        .status(status)
        .header(header::CONTENT_LENGTH, length.to_string())
        .header(header::ACCEPT_RANGES, "bytes");
    if let Some(content) = content {
        let slice = if length == 0 {
            Vec::new()
        } else {
            content
                .get(to_usize(start)?..=to_usize(end)?)
                .ok_or_else(|| ApiError::internal("inline content shorter than recorded"))?
                .to_vec()
        };
        // Counted in bytes_out by the HTTP layer (exact-size body).
        return Ok(b.body(Body::from(slice)).unwrap_or_default());
    }
    let list = pieces(&record, start, end);
    let stream = ctx.store.blobs.stream(list, Arc::clone(&ctx.stats), pin).await?;
    Ok(b.body(Body::from_stream(stream)).unwrap_or_default())
}

/// DeleteObject: 404 NoSuchKey when absent.
pub async fn delete_object(ctx: &Ctx, bucket: &str, key: &str) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    let (b, k) = (bucket.to_string(), key.to_string());
    let old = ctx.store.run(move |s| s.index.delete_object(&b, &k)).await?;
    match old {
        Some(old) => {
            ctx.store
                .remove_blobs_later(old.file_blobs().map(str::to_string).collect());
            Ok(ok())
        }
        None => Err(ApiError::no_such_key()),
    }
}

/// DeleteMultipleObjects: empty body when all went, else the failures.
pub async fn delete_multiple(ctx: &Ctx, bucket: &str, body: Body) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    let bytes = small_body(body, 2 * 1024 * 1024 + 1024).await?;
    ctx.stats.add_in(bytes.len() as u64);
    let request: DeleteMultipleRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "MalformedJSON", format!("Malformed JSON: {e}")))?;
    if request.objects.is_empty() || request.objects.len() > 1000 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InappropriateJSON",
            "Between 1 and 1000 keys must be given.",
        ));
    }
    let b = bucket.to_string();
    let (errors, blobs) = ctx
        .store
        .run(move |s| {
            let mut errors = Vec::new();
            let mut blobs = Vec::new();
            for item in request.objects {
                if let Err(e) = validate_key(&item.key) {
                    errors.push(DeleteErrorEntry {
                        key: item.key,
                        code: e.code.to_string(),
                        message: e.message,
                    });
                    continue;
                }
                match s.index.delete_object(&b, &item.key)? {
                    Some(old) => blobs.extend(old.file_blobs().map(str::to_string)),
                    None => errors.push(DeleteErrorEntry {
                        key: item.key,
                        code: "NoSuchKey".into(),
                        message: "The specified key does not exist.".into(),
                    }),
                }
            }
            Ok((errors, blobs))
        })
        .await?;
    ctx.store.remove_blobs_later(blobs);
    if errors.is_empty() {
        Ok(ok())
    } else {
        Ok(json(StatusCode::OK, &DeleteMultipleResponse { errors }))
    }
}

/// CopyObject: same key = metadata update; Normal source = hard-linked blobs; Appendable
/// source = copied content (or 400 NotAllowCopy with `--refuse-appendable-copy`).
pub async fn copy_object(ctx: &Ctx, bucket: &str, key: &str) -> ApiResult<Response> {
    validate_key(key)?;
    ctx.store.require_bucket(bucket)?;
    let source = ctx
        .header("x-bce-copy-source")
        .ok_or_else(|| ApiError::invalid_argument("x-bce-copy-source is missing"))?;
    let (src_bucket, src_key) = parse_copy_source(&source)?;
    ctx.store.require_bucket(&src_bucket)?;
    let conditions = WriteConditions::parse(&ctx.headers);
    let replace = ctx
        .header("x-bce-metadata-directive")
        .is_some_and(|d| d.eq_ignore_ascii_case("replace"));
    let requested = stored_meta(&ctx.headers)?;
    let explicit_class = crate::server::request::storage_class(&ctx.headers)?;
    // The source's blobs stay on disk until the copy is done.
    let Readable {
        record: src,
        pin: _src_pin,
        content: src_content,
    } = readable(&ctx.store, &src_bucket, &src_key).await?;
    check_copy_source(&ctx.headers, &src)?;
    if src.size > MAX_PUT_OBJECT_SIZE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "CopyObject sources are limited to 5 GiB; use UploadPartCopy.",
        ));
    }
    let same = src_bucket == bucket && src_key == key;
    let appendable = src.object_type == ObjectType::Appendable;
    if appendable && !same && ctx.config.refuse_appendable_copy {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "NotAllowCopy",
            "Copying an appendable object to another key is not allowed.",
        ));
    }
    let mut meta = if replace { requested } else { src.meta.clone() };
    if let Some(class) = explicit_class {
        meta.storage_class = class;
    }
    let store = Arc::clone(&ctx.store);
    let mut new_inline = None;
    let (segments, new_blobs, object_type, content_md5, md5_state) = if same {
        (
            src.segments.clone(),
            Vec::new(),
            src.object_type,
            src.content_md5.clone(),
            src.md5_state.clone(),
        )
    } else if let Some(content) = src_content {
        // An inline source: the copy gets its own inline value.
        let id = new_id();
        let segments = vec![Segment {
            blob: id.clone(),
            len: src.size,
            inline: true,
        }];
        new_inline = Some((id, content));
        (segments, Vec::new(), ObjectType::Normal, src.content_md5.clone(), None)
    } else if appendable {
        let mut temp = store.blobs.temp();
        let list = pieces(&src, 0, src.size.saturating_sub(1));
        let (id, _) = store
            .run(move |s| {
                let received = s.blobs.copy_into(&list, &temp)?;
                Ok((s.blobs.install(&mut temp)?, received))
            })
            .await?;
        (
            vec![Segment {
                blob: id.clone(),
                len: src.size,
                inline: false,
            }],
            vec![id],
            ObjectType::Normal,
            src.content_md5.clone(),
            None,
        )
    } else {
        let old_segments = src.segments.clone();
        let segments = store
            .run(move |s| {
                let mut out = Vec::new();
                for seg in &old_segments {
                    match s.blobs.link(&seg.blob) {
                        Ok(id) => out.push(Segment {
                            blob: id,
                            len: seg.len,
                            inline: false,
                        }),
                        Err(e) => {
                            s.blobs
                                .remove(&out.iter().map(|x: &Segment| x.blob.clone()).collect::<Vec<_>>());
                            return Err(ApiError::internal(format!("source changed during copy: {e}")));
                        }
                    }
                }
                Ok(out)
            })
            .await?;
        let ids = segments.iter().map(|s| s.blob.clone()).collect();
        (segments, ids, ObjectType::Normal, src.content_md5.clone(), None)
    };
    let record = ObjectRecord {
        segments,
        size: src.size,
        etag: src.etag.clone(),
        modified_ms: now_ms(),
        object_type,
        meta,
        content_md5,
        crc32: src.crc32,
        md5_state,
    };
    let answer = CopyObjectResponse {
        last_modified: crate::bos::types::format_iso8601(time_of(record.modified_ms)),
        e_tag: record.etag.clone(),
    };
    let src_blobs: Vec<String> = src.blobs().map(str::to_string).collect();
    let old = if same {
        // The blobs are reused: the object must not have changed since it was read.
        let (b, k, expected) = (bucket.to_string(), key.to_string(), src_blobs.clone());
        ctx.store
            .run(move |s| {
                s.index.put_object(&b, &k, |old| {
                    conditions.check(old)?;
                    match old {
                        Some(o) if o.blobs().eq(expected.iter().map(String::as_str)) && o.size == record.size => {
                            Ok(record)
                        }
                        _ => Err(ApiError::precondition_failed()),
                    }
                })
            })
            .await?
    } else if let Some((id, content)) = new_inline {
        let (b, k) = (bucket.to_string(), key.to_string());
        ctx.store
            .run(move |s| {
                s.index.put_object_with(&b, &k, Some((&id, &content)), |old| {
                    conditions.check(old)?;
                    Ok(record)
                })
            })
            .await?
    } else {
        commit(&ctx.store, bucket, key, record, conditions, new_blobs).await?
    };
    if let Some(old) = old {
        // Same-key copies keep their blobs.
        let stale: Vec<String> = old
            .file_blobs()
            .filter(|b| !same || !src_blobs.iter().any(|s| s == b))
            .map(str::to_string)
            .collect();
        ctx.store.remove_blobs_later(stale);
    }
    Ok(json(StatusCode::OK, &answer))
}
