//! The BOS operations: each handler takes the request context and answers or fails with an
//! [`ApiError`]. [`dispatch`] maps a routed [`BosOp`] onto its handler.

mod append;
mod bucket;
mod list;
mod multipart;
mod object;

use crate::server::error::{ApiError, ApiResult};
use crate::server::request::ExpectedDigests;
use crate::server::routes::BosOp;
use crate::server::stats::Stats;
use crate::server::store::blobs::{Received, Target};
use crate::server::store::Store;
use crate::server::ServerConfig;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// Everything a handler may look at.
#[derive(Debug)]
pub struct Ctx {
    /// Server settings.
    pub config: Arc<ServerConfig>,
    /// The store.
    pub store: Arc<Store>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Decoded query.
    pub query: Vec<(String, String)>,
}

impl Ctx {
    /// Query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        crate::server::routes::param(&self.query, name)
    }

    /// Header `name` as trimmed text.
    pub fn header(&self, name: &str) -> Option<String> {
        crate::server::request::header(&self.headers, name)
    }

    /// Take the body (empty if already taken).
    pub fn take(body: &mut Option<Body>) -> Body {
        body.take().unwrap_or_default()
    }
}

/// Read a small JSON request body (at most `limit` bytes).
pub async fn small_body(body: Body, limit: usize) -> ApiResult<bytes::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "MalformedJSON",
            "The request body is too large or could not be read.",
        )
    })
}

/// Receive a request body into a new blob: stream it to a temporary file (at most `limit`
/// bytes, fsynced), check it against the digests the client sent, and install it. Returns
/// what was received and the new blob's id; nothing is left behind on failure.
pub async fn receive_new_blob(
    ctx: &Ctx,
    body: &mut Option<Body>,
    limit: u64,
    digests: &ExpectedDigests,
) -> ApiResult<(Received, String)> {
    let mut temp = ctx.store.blobs.temp();
    let received = ctx
        .store
        .blobs
        .receive(
            Ctx::take(body),
            Target::New(temp.path().to_path_buf()),
            limit,
            digests.wants_sha256(),
            &ctx.stats,
            &ctx.store.body_io,
        )
        .await?;
    digests.check(&received)?;
    let store = Arc::clone(&ctx.store);
    let id = tokio::task::spawn_blocking(move || store.blobs.install(&mut temp)).await??;
    Ok((received, id))
}

/// Run the handler of `op`. The body is taken by handlers that read it. A request carrying
/// `x-bce-traffic-limit` outside BOS's range is refused first, whatever the operation
/// (uploads, downloads, copies alike).
pub async fn dispatch(ctx: &Ctx, op: BosOp, body: &mut Option<Body>) -> ApiResult<Response> {
    crate::server::request::check_traffic_limit(&ctx.headers)?;
    match op {
        BosOp::ListBuckets => bucket::list_buckets(ctx).await,
        BosOp::HeadBucket { bucket } => bucket::head_bucket(ctx, &bucket),
        BosOp::PutBucket { bucket } => bucket::put_bucket(ctx, &bucket).await,
        BosOp::DeleteBucket { bucket } => bucket::delete_bucket(ctx, &bucket).await,
        BosOp::GetBucketLocation { bucket } => bucket::location(ctx, &bucket),
        BosOp::ListObjects { bucket } => list::list_objects(ctx, &bucket).await,
        BosOp::ListMultipartUploads { bucket } => multipart::list_uploads(ctx, &bucket).await,
        BosOp::DeleteMultipleObjects { bucket } => object::delete_multiple(ctx, &bucket, Ctx::take(body)).await,
        BosOp::PutObject { bucket, key } => object::put_object(ctx, &bucket, &key, body).await,
        BosOp::CopyObject { bucket, key } => object::copy_object(ctx, &bucket, &key).await,
        BosOp::GetObject { bucket, key } => object::get_object(ctx, &bucket, &key, false).await,
        BosOp::GetObjectMeta { bucket, key } => object::get_object(ctx, &bucket, &key, true).await,
        BosOp::DeleteObject { bucket, key } => object::delete_object(ctx, &bucket, &key).await,
        BosOp::AppendObject { bucket, key } => append::append_object(ctx, &bucket, &key, body).await,
        BosOp::InitiateMultipartUpload { bucket, key } => multipart::initiate(ctx, &bucket, &key).await,
        BosOp::UploadPart { bucket, key } => multipart::upload_part(ctx, &bucket, &key, body).await,
        BosOp::UploadPartCopy { bucket, key } => multipart::upload_part_copy(ctx, &bucket, &key).await,
        BosOp::CompleteMultipartUpload { bucket, key } => {
            multipart::complete(ctx, &bucket, &key, Ctx::take(body)).await
        }
        BosOp::AbortMultipartUpload { bucket, key } => multipart::abort(ctx, &bucket, &key).await,
        BosOp::ListParts { bucket, key } => multipart::list_parts(ctx, &bucket, &key).await,
        BosOp::Unsupported { reason } => Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", reason)),
    }
}
