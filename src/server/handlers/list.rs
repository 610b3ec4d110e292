//! ListObjects: prefix, delimiter (at most one character), marker, maxKeys (≤ 1000),
//! `nextMarker` only when truncated, `commonPrefixes` only with a delimiter.

use super::Ctx;
use crate::bos::types::MAX_LIST_KEYS;
use crate::bos::wire::{ListObjectsEntry, ListObjectsResponse, Owner, PrefixEntry};
use crate::server::error::{ApiError, ApiResult};
use crate::server::response::json;
use crate::server::store::index::ListParams;
use crate::server::store::records::time_of;
use axum::http::StatusCode;
use axum::response::Response;

/// ListObjects.
pub async fn list_objects(ctx: &Ctx, bucket: &str) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    let prefix = ctx.param("prefix").unwrap_or("").to_string();
    let delimiter = ctx.param("delimiter").filter(|d| !d.is_empty()).map(str::to_string);
    if delimiter.as_ref().is_some_and(|d| d.chars().count() > 1) {
        return Err(ApiError::invalid_argument("delimiter must be at most one character"));
    }
    let marker = ctx.param("marker").unwrap_or("").to_string();
    let max = match ctx.param("maxKeys") {
        None | Some("") => MAX_LIST_KEYS,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => u32::try_from(n).unwrap_or(MAX_LIST_KEYS).min(MAX_LIST_KEYS),
            _ => return Err(ApiError::invalid_argument(format!("maxKeys {v:?} is not valid"))),
        },
    };
    let (b, p, d, m) = (bucket.to_string(), prefix.clone(), delimiter.clone(), marker.clone());
    let listing = ctx
        .store
        .run(move |s| {
            s.index.list_objects(
                &b,
                ListParams {
                    prefix: &p,
                    delimiter: d.as_deref(),
                    marker: (!m.is_empty()).then_some(m.as_str()),
                    max: max as usize,
                },
            )
        })
        .await?;
    let owner = Owner {
        id: "bosmount-local".into(),
        display_name: "bosmount".into(),
    };
    let answer = ListObjectsResponse {
        name: bucket.to_string(),
        prefix,
        marker,
        max_keys: max,
        is_truncated: listing.truncated,
        next_marker: listing.next_marker,
        contents: listing
            .contents
            .into_iter()
            .map(|(key, r)| ListObjectsEntry {
                key,
                last_modified: crate::bos::types::format_iso8601(time_of(r.modified_ms)),
                e_tag: r.etag,
                size: r.size,
                storage_class: r.meta.storage_class.as_str().to_string(),
                owner: Some(owner.clone()),
            })
            .collect(),
        common_prefixes: delimiter.as_ref().map(|_| {
            listing
                .prefixes
                .into_iter()
                .map(|prefix| PrefixEntry { prefix })
                .collect()
        }),
        delimiter,
    };
    Ok(json(StatusCode::OK, &answer))
}
