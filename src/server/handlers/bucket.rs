//! HeadBucket, PutBucket, DeleteBucket, ListBuckets, GetBucketLocation.

use super::Ctx;
use crate::bos::types::is_valid_bucket_name;
use crate::bos::wire::{BucketEntry, BucketLocationResponse, ListBucketsResponse, Owner};
use crate::server::error::{ApiError, ApiResult};
use crate::server::response::{json, ok};
use crate::server::store::records::{now_ms, time_of, BucketRecord};
use axum::http::StatusCode;
use axum::response::Response;

/// HeadBucket: 200 or 404 (no body either way).
pub fn head_bucket(ctx: &Ctx, bucket: &str) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    Ok(ok())
}

/// PutBucket: 400 InvalidBucketName, 409 BucketAlreadyExists.
pub async fn put_bucket(ctx: &Ctx, bucket: &str) -> ApiResult<Response> {
    if !is_valid_bucket_name(bucket) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        ));
    }
    let name = bucket.to_string();
    let created = ctx
        .store
        .run(move |s| s.index.create_bucket(&name, &BucketRecord { created_ms: now_ms() }))
        .await?;
    if !created {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "BucketAlreadyExists",
            "The requested bucket name is not available.",
        ));
    }
    ctx.store.set_bucket_known(bucket, true);
    Ok(ok())
}

/// DeleteBucket: 404 NoSuchBucket, 409 BucketNotEmpty.
pub async fn delete_bucket(ctx: &Ctx, bucket: &str) -> ApiResult<Response> {
    let name = bucket.to_string();
    let blobs = ctx.store.run(move |s| s.index.delete_bucket(&name)).await?;
    ctx.store.set_bucket_known(bucket, false);
    ctx.store.remove_blobs_later(blobs);
    Ok(ok())
}

/// ListBuckets.
pub async fn list_buckets(ctx: &Ctx) -> ApiResult<Response> {
    let buckets = ctx.store.run(|s| s.index.buckets()).await?;
    let region = ctx.config.region.clone();
    Ok(json(
        StatusCode::OK,
        &ListBucketsResponse {
            owner: Owner {
                id: "bosmount-local".into(),
                display_name: "bosmount".into(),
            },
            buckets: buckets
                .into_iter()
                .map(|(name, record)| BucketEntry {
                    name,
                    location: region.clone(),
                    creation_date: crate::bos::types::format_iso8601(time_of(record.created_ms)),
                })
                .collect(),
        },
    ))
}

/// GetBucketLocation.
pub fn location(ctx: &Ctx, bucket: &str) -> ApiResult<Response> {
    ctx.store.require_bucket(bucket)?;
    Ok(json(
        StatusCode::OK,
        &BucketLocationResponse {
            location_constraint: ctx.config.region.clone(),
        },
    ))
}
