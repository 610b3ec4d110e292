//! Multipart upload: InitiateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads. Parts
//! are blobs; Complete records the object as the list of its parts' blobs (no copying).

use super::object::{pieces, readable, Readable};
use super::{receive_new_blob, small_body, Ctx};
use crate::bos::types::{ObjectType, MAX_LIST_KEYS, MAX_PART_NUMBER, MAX_PART_SIZE};
use crate::bos::wire::{
    CompleteMultipartRequest, CompleteMultipartResponse, CopyObjectResponse, InitiateMultipartResponse,
    ListMultipartUploadsResponse, ListPartsEntry, ListPartsResponse, Owner, PrefixEntry, UploadEntry,
};
use crate::server::error::{ApiError, ApiResult};
use crate::server::request::{
    check_copy_source, check_length, parse_copy_source, stored_meta, user_meta, validate_key, ExpectedDigests,
    WriteConditions,
};
use crate::server::response::{json, ok, quoted, set};
use crate::server::store::blobs::Received;
use crate::server::store::records::{now_ms, time_of, ObjectRecord, PartRecord, Segment, UploadRecord};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use md5::{Digest, Md5};

fn owner() -> Owner {
    Owner {
        id: "bosmount-local".into(),
        display_name: "bosmount".into(),
    }
}

fn iso(ms: u64) -> String {
    crate::bos::types::format_iso8601(time_of(ms))
}

fn upload_id(ctx: &Ctx) -> ApiResult<String> {
    match ctx.param("uploadId") {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(ApiError::no_such_upload()),
    }
}

fn part_number(ctx: &Ctx) -> ApiResult<u32> {
    let raw = ctx.param("partNumber").unwrap_or("");
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid_argument(format!(
            "partNumber must be between 1 and {MAX_PART_NUMBER}, got {raw:?}"
        ))),
    }
}

/// InitiateMultipartUpload.
pub async fn initiate(ctx: &Ctx, bucket: &str, key: &str) -> ApiResult<Response> {
    validate_key(key)?;
    ctx.store.require_bucket(bucket)?;
    let meta = stored_meta(&ctx.headers)?;
    let id = new_upload_id();
    let record = UploadRecord {
        key: key.to_string(),
        meta,
        initiated_ms: now_ms(),
    };
    let (b, i) = (bucket.to_string(), id.clone());
    ctx.store.run(move |s| s.index.create_upload(&b, &i, &record)).await?;
    Ok(json(
        StatusCode::OK,
        &InitiateMultipartResponse {
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: id,
        },
    ))
}

/// A new upload id: 32 hex digits, the first 12 the initiation time in milliseconds (so
/// ids sort in the order uploads were started), the rest random. Within one process the
/// time part strictly increases, so uploads started in the same millisecond keep their order.
fn new_upload_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_ms();
    let previous = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now.max(last + 1)))
        .unwrap_or(now);
    let stamp = now.max(previous + 1);
    let random: [u8; 10] = rand::random();
    format!("{stamp:012x}{}", crate::bos::auth::hex_lower(&random))
}

async fn require_upload(ctx: &Ctx, bucket: &str, key: &str, id: &str) -> ApiResult<UploadRecord> {
    let (b, k, i) = (bucket.to_string(), key.to_string(), id.to_string());
    ctx.store.run(move |s| s.index.get_upload(&b, &k, &i)).await
}

/// Record a part blob; on failure the blob is removed, on success the replaced part's blob.
async fn record_part(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    id: &str,
    number: u32,
    blob: String,
    received: &Received,
) -> ApiResult<PartRecord> {
    let part = PartRecord {
        blob: blob.clone(),
        size: received.size,
        etag: received.md5_hex(),
        crc32: received.crc32,
        modified_ms: now_ms(),
    };
    let (b, k, i, p) = (bucket.to_string(), key.to_string(), id.to_string(), part.clone());
    match ctx.store.run(move |s| s.index.put_part(&b, &k, &i, number, &p)).await {
        Ok(old) => {
            if let Some(old) = old {
                ctx.store.remove_blobs_later(vec![old.blob]);
            }
            Ok(part)
        }
        Err(e) => {
            ctx.store.remove_blobs_later(vec![blob]);
            Err(e)
        }
    }
}

/// UploadPart.
pub async fn upload_part(ctx: &Ctx, bucket: &str, key: &str, body: &mut Option<Body>) -> ApiResult<Response> {
    validate_key(key)?;
    ctx.store.require_bucket(bucket)?;
    let number = part_number(ctx)?;
    let id = upload_id(ctx)?;
    let digests = ExpectedDigests::parse(&ctx.headers)?;
    check_length(&ctx.headers, MAX_PART_SIZE)?;
    require_upload(ctx, bucket, key, &id).await?;
    let (received, blob) = receive_new_blob(ctx, body, MAX_PART_SIZE, &digests).await?;
    let part = record_part(ctx, bucket, key, &id, number, blob, &received).await?;
    let b = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "0");
    let b = set(b, "etag", &quoted(&part.etag));
    let b = set(b, "x-bce-content-crc32", &part.crc32.to_string());
    Ok(b.body(Body::empty()).unwrap_or_default())
}

/// UploadPartCopy (`x-bce-copy-source-range: bytes=a-b`, inclusive).
pub async fn upload_part_copy(ctx: &Ctx, bucket: &str, key: &str) -> ApiResult<Response> {
    validate_key(key)?;
    ctx.store.require_bucket(bucket)?;
    let number = part_number(ctx)?;
    let id = upload_id(ctx)?;
    let source = ctx
        .header("x-bce-copy-source")
        .ok_or_else(|| ApiError::invalid_argument("x-bce-copy-source is missing"))?;
    let (src_bucket, src_key) = parse_copy_source(&source)?;
    ctx.store.require_bucket(&src_bucket)?;
    require_upload(ctx, bucket, key, &id).await?;
    // The source's blobs stay on disk until the copy is done.
    let Readable {
        record: src,
        pin: _src_pin,
        content: src_content,
    } = readable(&ctx.store, &src_bucket, &src_key).await?;
    check_copy_source(&ctx.headers, &src)?;
    let (start, end) = match ctx.header("x-bce-copy-source-range") {
        None => (0, src.size.saturating_sub(1)),
        Some(v) => {
            let spec = v.strip_prefix("bytes=").unwrap_or(&v);
            let parsed = spec
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
            match parsed {
                Some((a, b)) if a <= b && b < src.size => (a, b),
                _ => {
                    return Err(ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "InvalidRange",
                        format!(
                            "x-bce-copy-source-range {v:?} does not fit the source of {} bytes",
                            src.size
                        ),
                    ))
                }
            }
        }
    };
    let length = if src.size == 0 { 0 } else { end - start + 1 };
    if length > MAX_PART_SIZE {
        return Err(ApiError::entity_too_large());
    }
    let list = pieces(&src, start, end);
    let mut temp = ctx.store.blobs.temp();
    let (blob, received) = ctx
        .store
        .run(move |s| {
            let received = match &src_content {
                Some(content) => {
                    let range = usize::try_from(start).unwrap_or(usize::MAX)
                        ..usize::try_from(start + length).unwrap_or(usize::MAX);
                    let piece = content
                        .get(range)
                        .ok_or_else(|| ApiError::internal("inline content shorter than recorded"))?;
                    s.blobs.write_small(&temp, piece, false)?
                }
                None => s.blobs.copy_into(&list, &temp)?,
            };
            Ok((s.blobs.install(&mut temp)?, received))
        })
        .await?;
    let part = record_part(ctx, bucket, key, &id, number, blob, &received).await?;
    Ok(json(
        StatusCode::OK,
        &CopyObjectResponse {
            last_modified: iso(part.modified_ms),
            e_tag: part.etag,
        },
    ))
}

/// CompleteMultipartUpload.
pub async fn complete(ctx: &Ctx, bucket: &str, key: &str, body: Body) -> ApiResult<Response> {
    validate_key(key)?;
    ctx.store.require_bucket(bucket)?;
    let id = upload_id(ctx)?;
    let bytes = small_body(body, 4 * 1024 * 1024).await?;
    ctx.stats.add_in(bytes.len() as u64);
    let request: CompleteMultipartRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "MalformedJSON", format!("Malformed JSON: {e}")))?;
    if request.parts.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidPart",
            "At least one part must be given.",
        ));
    }
    let extra_meta = user_meta(&ctx.headers)?;
    let expected_crc = ExpectedDigests::parse(&ctx.headers)?.crc32();
    let conditions = WriteConditions::parse(&ctx.headers);
    let min_part = ctx.config.min_part_size;
    let (b, k, i) = (bucket.to_string(), key.to_string(), id.clone());
    let (record, old, unused) = ctx
        .store
        .run(move |s| {
            s.index.complete_upload(&b, &k, &i, |upload, parts, current| {
                conditions.check(current)?;
                let mut previous = 0u32;
                let mut segments = Vec::with_capacity(request.parts.len());
                let mut etags = Md5::new();
                let mut crc = crc32fast::Hasher::new();
                let mut size = 0u64;
                let count = request.parts.len();
                for (i, wanted) in request.parts.iter().enumerate() {
                    if wanted.part_number <= previous {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "InvalidPartOrder",
                            "The list of parts was not in ascending order.",
                        ));
                    }
                    previous = wanted.part_number;
                    let part = parts.get(&wanted.part_number).ok_or_else(|| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "InvalidPart",
                            format!("Part {} has not been uploaded.", wanted.part_number),
                        )
                    })?;
                    if !wanted.e_tag.trim().trim_matches('"').eq_ignore_ascii_case(&part.etag) {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "InvalidPart",
                            format!("The ETag of part {} does not match.", wanted.part_number),
                        ));
                    }
                    if i + 1 < count && part.size < min_part {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "EntityTooSmall",
                            format!(
                                "Part {} is {} bytes; every part but the last must be at least {min_part}.",
                                wanted.part_number, part.size
                            ),
                        ));
                    }
                    etags.update(part.etag.as_bytes());
                    crc.combine(&crc32fast::Hasher::new_with_initial_len(part.crc32, part.size));
                    size += part.size;
                    segments.push(Segment {
                        blob: part.blob.clone(),
                        len: part.size,
                        inline: false,
                    });
                }
                let crc32 = crc.finalize();
                if expected_crc.is_some_and(|c| c != crc32) {
                    return Err(ApiError::bad_digest());
                }
                let etag = if count == 1 {
                    parts[&request.parts[0].part_number].etag.clone()
                } else {
                    format!("-{}", crate::bos::auth::hex_lower(&etags.finalize()))
                };
                let mut meta = upload.meta.clone();
                meta.user_meta.extend(extra_meta);
                if crate::bos::types::user_meta_size(&meta.user_meta) > crate::bos::types::MAX_USER_METADATA_SIZE {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "MetadataTooLarge",
                        "Your metadata headers exceed the maximum allowed metadata size.",
                    ));
                }
                Ok(ObjectRecord {
                    segments,
                    size,
                    etag,
                    modified_ms: now_ms(),
                    object_type: ObjectType::Normal,
                    meta,
                    content_md5: None,
                    crc32,
                    md5_state: None,
                })
            })
        })
        .await?;
    ctx.store.remove_blobs_later(unused);
    if let Some(old) = old {
        ctx.store
            .remove_blobs_later(old.file_blobs().map(str::to_string).collect());
    }
    let host = ctx.header("host").unwrap_or_else(|| "localhost".into());
    let location = format!("http://{host}/{bucket}/{}", crate::bos::auth::uri_encode(key, true));
    let response = json(
        StatusCode::OK,
        &CompleteMultipartResponse {
            location,
            bucket: bucket.to_string(),
            key: key.to_string(),
            e_tag: record.etag.clone(),
        },
    );
    let (mut parts, body) = response.into_parts();
    if let Ok(v) = record.crc32.to_string().parse() {
        parts.headers.insert("x-bce-content-crc32", v);
    }
    if let Ok(v) = quoted(&record.etag).parse() {
        parts.headers.insert(header::ETAG, v);
    }
    Ok(Response::from_parts(parts, body))
}

/// AbortMultipartUpload.
pub async fn abort(ctx: &Ctx, bucket: &str, key: &str) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    let id = upload_id(ctx)?;
    let (b, k) = (bucket.to_string(), key.to_string());
    let blobs = ctx.store.run(move |s| s.index.remove_upload(&b, &k, &id)).await?;
    ctx.store.remove_blobs_later(blobs);
    Ok(ok())
}

fn page_size(ctx: &Ctx, name: &str) -> ApiResult<usize> {
    match ctx.param(name) {
        None | Some("") => Ok(MAX_LIST_KEYS as usize),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok((n as usize).min(MAX_LIST_KEYS as usize)),
            _ => Err(ApiError::invalid_argument(format!("{name} {v:?} is not valid"))),
        },
    }
}

/// ListParts.
pub async fn list_parts(ctx: &Ctx, bucket: &str, key: &str) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    let id = upload_id(ctx)?;
    let max = page_size(ctx, "maxParts")?;
    let marker = match ctx.param("partNumberMarker") {
        None | Some("") => 0,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| ApiError::invalid_argument(format!("partNumberMarker {v:?} is not valid")))?,
    };
    let upload = require_upload(ctx, bucket, key, &id).await?;
    let i = id.clone();
    let parts = ctx.store.run(move |s| s.index.parts(&i)).await?;
    let mut after = parts.range(marker.saturating_add(1)..);
    let chosen: Vec<(u32, PartRecord)> = after.by_ref().take(max).map(|(n, p)| (*n, p.clone())).collect();
    let truncated = after.next().is_some();
    let next = chosen.last().map(|(n, _)| *n).unwrap_or(marker);
    Ok(json(
        StatusCode::OK,
        &ListPartsResponse {
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: id,
            initiated: iso(upload.initiated_ms),
            owner: owner(),
            storage_class: upload.meta.storage_class.as_str().to_string(),
            part_number_marker: marker,
            next_part_number_marker: next,
            max_parts: max as u32,
            is_truncated: truncated,
            parts: chosen
                .into_iter()
                .map(|(n, p)| ListPartsEntry {
                    part_number: n,
                    last_modified: iso(p.modified_ms),
                    e_tag: p.etag,
                    size: p.size,
                })
                .collect(),
        },
    ))
}

/// A ListMultipartUploads answer: BOS's fields plus the S3-style upload id markers that
/// let a page end between two uploads of one key.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadsPage {
    #[serde(flatten)]
    base: ListMultipartUploadsResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_id_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_upload_id_marker: Option<String>,
}

/// ListMultipartUploads. Uploads are ordered by (key, upload id); upload ids start with
/// the initiation time, so the uploads of one key come in the order they were started.
/// `keyMarker` alone lists keys after it; with `uploadIdMarker` it lists that key's
/// uploads after that id, then later keys. A truncated page names where to go on in
/// `nextKeyMarker` (and `nextUploadIdMarker` when it ended on an upload). Clients that
/// only send `keyMarker` (the Python SDK's `list_all_multipart_uploads`) page correctly
/// unless a page boundary falls between uploads of one key.
pub async fn list_uploads(ctx: &Ctx, bucket: &str) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    let max = page_size(ctx, "maxUploads")?;
    let prefix = ctx.param("prefix").unwrap_or("").to_string();
    let delimiter = ctx.param("delimiter").filter(|d| !d.is_empty()).map(str::to_string);
    if delimiter.as_ref().is_some_and(|d| d.chars().count() > 1) {
        return Err(ApiError::invalid_argument("delimiter must be at most one character"));
    }
    let marker = ctx.param("keyMarker").unwrap_or("").to_string();
    let id_marker = ctx
        .param("uploadIdMarker")
        .filter(|m| !m.is_empty() && !marker.is_empty())
        .map(str::to_string);
    let b = bucket.to_string();
    let mut uploads = ctx.store.run(move |s| s.index.uploads(&b)).await?;
    uploads.sort_by(|(ia, a), (ib, b)| (&a.key, ia).cmp(&(&b.key, ib)));
    let after_marker = |key: &str, id: &str| match &id_marker {
        _ if marker.is_empty() => true,
        Some(m) => (key, id) > (marker.as_str(), m.as_str()),
        None => key > marker.as_str(),
    };
    let mut entries = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    // Where the page ended: a key (or common prefix) and, for an upload, its id.
    let mut last: Option<(String, Option<String>)> = None;
    for (id, upload) in uploads {
        if !upload.key.starts_with(&prefix) || !after_marker(&upload.key, &id) {
            continue;
        }
        let common = delimiter.as_ref().and_then(|d| {
            upload.key[prefix.len()..]
                .find(d.as_str())
                .map(|p| upload.key[..prefix.len() + p + d.len()].to_string())
        });
        if let Some(c) = &common {
            if prefixes.last() == Some(c) || (!marker.is_empty() && c.as_str() <= marker.as_str()) {
                continue;
            }
        }
        if entries.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        match common {
            Some(c) => {
                last = Some((c.clone(), None));
                prefixes.push(c);
            }
            None => {
                last = Some((upload.key.clone(), Some(id.clone())));
                entries.push(UploadEntry {
                    key: upload.key,
                    upload_id: id,
                    owner: owner(),
                    initiated: iso(upload.initiated_ms),
                    storage_class: upload.meta.storage_class.as_str().to_string(),
                });
            }
        }
    }
    let (next_key, next_id) = match last {
        Some((key, id)) if truncated => (Some(key), id),
        _ => (None, None),
    };
    Ok(json(
        StatusCode::OK,
        &UploadsPage {
            base: ListMultipartUploadsResponse {
                bucket: bucket.to_string(),
                key_marker: marker,
                next_key_marker: next_key,
                max_uploads: max as u32,
                is_truncated: truncated,
                prefix,
                common_prefixes: delimiter
                    .as_ref()
                    .map(|_| prefixes.into_iter().map(|prefix| PrefixEntry { prefix }).collect()),
                delimiter,
                uploads: entries,
            },
            upload_id_marker: id_marker,
            next_upload_id_marker: next_id,
        },
    ))
}
