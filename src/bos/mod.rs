//! The BOS client side: the [`BosApi`] trait the filesystem is written against, its
//! HTTP implementation ([`client::BosClient`]), an in-memory twin for tests
//! ([`memory::InMemoryBos`]), and the pieces both share with the local server
//! (signer, wire bodies, value types, errors).

pub mod auth;
pub mod client;
pub mod credentials;
pub mod error;
pub mod memory;
pub mod retry;
pub mod types;
pub mod wire;

use async_trait::async_trait;
use bytes::Bytes;

pub use error::{BosError, ErrorKind};
pub use types::*;

/// Result of a BOS operation.
pub type BosResult<T> = Result<T, BosError>;

/// The BOS operations bosmount uses. Implemented over HTTP by [`client::BosClient`] and
/// in memory by [`memory::InMemoryBos`]; both must behave the same (a shared conformance
/// suite checks it). Bodies are [`Bytes`] so a retry re-sends them from memory.
#[async_trait]
pub trait BosApi: Send + Sync + std::fmt::Debug {
    /// HeadBucket: `Ok` when the bucket exists and is accessible.
    async fn head_bucket(&self, bucket: &str) -> BosResult<()>;
    /// PutBucket: create a bucket.
    async fn put_bucket(&self, bucket: &str) -> BosResult<()>;
    /// DeleteBucket: delete an empty bucket.
    async fn delete_bucket(&self, bucket: &str) -> BosResult<()>;
    /// ListBuckets.
    async fn list_buckets(&self) -> BosResult<Vec<BucketInfo>>;

    /// PutObject: store `body` under `key` (Content-MD5 always sent), replacing any object.
    async fn put_object(&self, bucket: &str, key: &str, body: Bytes, options: &PutOptions) -> BosResult<PutResult>;
    /// GetObject, optionally ranged. A range on an empty object is not sent.
    async fn get_object(&self, bucket: &str, key: &str, range: Option<ByteRange>) -> BosResult<GetResult>;
    /// HeadObject (GetObjectMeta).
    async fn head_object(&self, bucket: &str, key: &str) -> BosResult<ObjectMeta>;
    /// DeleteObject. A missing key is an error of kind NotFound.
    async fn delete_object(&self, bucket: &str, key: &str) -> BosResult<()>;
    /// DeleteMultipleObjects (at most 1000 keys): the keys that could not be deleted.
    async fn delete_multiple_objects(&self, bucket: &str, keys: &[String]) -> BosResult<Vec<DeleteFailure>>;
    /// ListObjects: one page.
    async fn list_objects(&self, bucket: &str, request: &ListRequest) -> BosResult<ListPage>;
    /// CopyObject from `source_bucket/source_key` to `bucket/key`.
    async fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        bucket: &str,
        key: &str,
        options: &CopyOptions,
    ) -> BosResult<CopyResult>;
    /// AppendObject. `offset` = `None` creates (or replaces) an Appendable object;
    /// `Some(n)` appends when `n` equals the current length.
    async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        offset: Option<u64>,
        body: Bytes,
        options: &PutOptions,
    ) -> BosResult<AppendResult>;

    /// InitiateMultipartUpload: the upload id.
    async fn initiate_multipart_upload(&self, bucket: &str, key: &str, options: &PutOptions) -> BosResult<String>;
    /// UploadPart: the part's ETag.
    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> BosResult<String>;
    /// UploadPartCopy of `range` (inclusive, whole object when `None`) of the source.
    #[allow(clippy::too_many_arguments)]
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
    ) -> BosResult<CopyResult>;
    /// CompleteMultipartUpload with parts in ascending order.
    async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        options: &PutOptions,
    ) -> BosResult<CompleteResult>;
    /// AbortMultipartUpload.
    async fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> BosResult<()>;
    /// ListParts: one page after `part_number_marker`.
    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: Option<u32>,
        max_parts: Option<u32>,
    ) -> BosResult<ListPartsPage>;
    /// ListMultipartUploads: one page.
    async fn list_multipart_uploads(&self, bucket: &str, request: &ListUploadsRequest) -> BosResult<ListUploadsPage>;
}

/// Every object and common prefix under `request.prefix`, following `nextMarker` page
/// after page. For listings too large to hold, call [`BosApi::list_objects`] page by page.
pub async fn list_all_objects(api: &dyn BosApi, bucket: &str, request: &ListRequest) -> BosResult<ListPage> {
    let mut all = ListPage::default();
    let mut request = request.clone();
    loop {
        let page = api.list_objects(bucket, &request).await?;
        let last_key = page.contents.last().map(|e| e.key.clone());
        let last_prefix = page.common_prefixes.last().cloned();
        all.contents.extend(page.contents);
        all.common_prefixes.extend(page.common_prefixes);
        if !page.is_truncated {
            return Ok(all);
        }
        let next = page.next_marker.or_else(|| std::cmp::max(last_key, last_prefix));
        match next {
            Some(marker) if Some(&marker) != request.marker.as_ref() => request.marker = Some(marker),
            _ => {
                return Err(BosError::InvalidResponse(
                    "listing is truncated but gives no new marker".into(),
                ))
            }
        }
    }
}
