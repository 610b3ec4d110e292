//! AppendObject (protocol §5.7): without `offset` create or replace an Appendable object;
//! with `offset` append when it equals the current length. Appends to one key are
//! serialised; bytes are written in place after the indexed length (any unindexed tail
//! from a crash is cut first), fsynced, then the new length is committed together with the
//! whole-content MD5 state (resumed from the record and extended with the new bytes), so
//! the `Content-MD5` of HEAD/GET always matches the committed length. A failed append cuts
//! the file back, so nothing changes.

use super::object::{commit, get_record};
use super::{receive_new_blob, Ctx};
use crate::bos::types::{ObjectType, StorageClass, MAX_PUT_OBJECT_SIZE};
use crate::server::error::{ApiError, ApiResult};
use crate::server::request::{check_length, stored_meta, validate_key, ExpectedDigests, WriteConditions};
use crate::server::response::{quoted, set};
use crate::server::store::blobs::Target;
use crate::server::store::records::{now_ms, ObjectRecord, Segment};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use md5::{Digest, Md5};
use std::sync::Arc;

fn answer(record: &ObjectRecord) -> Response {
    let b = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "0");
    let b = set(b, "etag", &quoted(&record.etag));
    let b = set(b, "x-bce-next-append-offset", &record.size.to_string());
    let b = set(b, "x-bce-content-crc32", &record.crc32.to_string());
    let b = set(b, "x-bce-object-type", "Appendable");
    b.body(Body::empty()).unwrap_or_default()
}

/// AppendObject.
pub async fn append_object(ctx: &Ctx, bucket: &str, key: &str, body: &mut Option<Body>) -> ApiResult<Response> {
    validate_key(key)?;
    ctx.store.require_bucket(bucket)?;
    let offset = match ctx.param("offset") {
        None | Some("") => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::invalid_argument(format!("offset {v:?} is not a number")))?,
        ),
    };
    let meta = stored_meta(&ctx.headers)?;
    if meta.storage_class == StorageClass::Archive {
        return Err(ApiError::invalid_argument("ARCHIVE objects cannot be appended to."));
    }
    let digests = ExpectedDigests::parse(&ctx.headers)?;
    let conditions = WriteConditions::parse(&ctx.headers);
    check_length(&ctx.headers, MAX_PUT_OBJECT_SIZE)?;
    let _guard = ctx.store.lock_key(bucket, key).await;
    let current = get_record(&ctx.store, bucket, key).await?;
    let Some(offset) = offset else {
        // Create or replace.
        conditions.check(current.as_ref())?;
        let (received, id) = receive_new_blob(ctx, body, MAX_PUT_OBJECT_SIZE, &digests).await?;
        let record = ObjectRecord {
            segments: vec![Segment {
                blob: id.clone(),
                len: received.size,
                inline: false,
            }],
            size: received.size,
            etag: received.md5_hex(),
            modified_ms: now_ms(),
            object_type: ObjectType::Appendable,
            meta,
            content_md5: Some(received.md5_base64()),
            crc32: received.crc32,
            md5_state: received.content_md5_state.clone(),
        };
        let reply = answer(&record);
        if let Some(old) = commit(&ctx.store, bucket, key, record, conditions, vec![id]).await? {
            ctx.store
                .remove_blobs_later(old.file_blobs().map(str::to_string).collect());
        }
        return Ok(reply);
    };
    let current = current.ok_or_else(ApiError::no_such_key)?;
    if current.object_type != ObjectType::Appendable || current.segments.len() != 1 {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ObjectUnappendable",
            "The object is not appendable.",
        ));
    }
    if offset != current.size {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "OffsetIncorrect",
            format!("The offset {offset} does not equal the object length {}.", current.size),
        ));
    }
    let blob = current.segments[0].blob.clone();
    let received = ctx
        .store
        .blobs
        .receive(
            Ctx::take(body),
            Target::Append {
                path: ctx.store.blobs.path(&blob),
                offset,
                resume: current
                    .md5_state
                    .as_deref()
                    .and_then(crate::server::store::md5_state::load)
                    .map(Box::new),
            },
            MAX_PUT_OBJECT_SIZE,
            digests.wants_sha256(),
            &ctx.stats,
            &ctx.store.body_io,
        )
        .await;
    let cut_back = |store: Arc<crate::server::store::Store>, blob: String| async move {
        let _ = store.run(move |s| Ok(s.blobs.truncate(&blob, offset)?)).await;
    };
    let received = match received.and_then(|r| digests.check(&r).map(|_| r)) {
        Ok(r) => r,
        Err(e) => {
            cut_back(Arc::clone(&ctx.store), blob).await;
            return Err(e);
        }
    };
    let new_size = offset + received.size;
    let mut crc = crc32fast::Hasher::new_with_initial_len(current.crc32, current.size);
    crc.combine(&crc32fast::Hasher::new_with_initial_len(received.crc32, received.size));
    let crc32 = crc.finalize();
    let mut h = Md5::new();
    h.update(current.etag.as_bytes());
    h.update(received.md5_hex().as_bytes());
    h.update(new_size.to_string().as_bytes());
    let etag = crate::bos::auth::hex_lower(&h.finalize());
    let reply_etag = etag.clone();
    let (content_md5, md5_state) = (received.content_md5_base64(), received.content_md5_state.clone());
    let (b, k, blob_id) = (bucket.to_string(), key.to_string(), blob.clone());
    let result = ctx
        .store
        .run(move |s| {
            s.index.put_object(&b, &k, |old| match old {
                Some(o)
                    if o.object_type == ObjectType::Appendable
                        && o.size == offset
                        && o.segments.len() == 1
                        && o.segments[0].blob == blob_id =>
                {
                    Ok(ObjectRecord {
                        segments: vec![Segment {
                            blob: blob_id.clone(),
                            len: new_size,
                            inline: false,
                        }],
                        size: new_size,
                        etag,
                        modified_ms: now_ms(),
                        object_type: ObjectType::Appendable,
                        meta: o.meta.clone(),
                        content_md5,
                        crc32,
                        md5_state,
                    })
                }
                _ => Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "OffsetIncorrect",
                    "The object changed during the append.",
                )),
            })
        })
        .await;
    match result {
        Ok(_) => Ok(answer(&ObjectRecord {
            segments: Vec::new(),
            size: new_size,
            etag: reply_etag,
            modified_ms: 0,
            object_type: ObjectType::Appendable,
            meta: Default::default(),
            content_md5: None,
            crc32,
            md5_state: None,
        })),
        Err(e) => {
            cut_back(Arc::clone(&ctx.store), blob).await;
            Err(e)
        }
    }
}
