//! The BOS operations of [`BosClient`]: each validates its arguments, describes its
//! request as a [`Call`] and decodes the answer. All plumbing lives in
//! [`BosClient::send`].

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Method;

use super::request::Call;
use super::response::{self, header, strip_etag};
use super::{validate, Answer, BosClient};
use crate::bos::types::*;
use crate::bos::wire;
use crate::bos::{BosApi, BosError, BosResult};

fn etag_header(what: &str, answer: &Answer) -> BosResult<String> {
    header(&answer.headers, "etag")
        .map(|e| strip_etag(&e))
        .filter(|e| !e.is_empty())
        .ok_or_else(|| BosError::InvalidResponse(format!("{what}: answer has no ETag")))
}

fn range_header(range: Option<ByteRange>) -> Option<String> {
    match range? {
        ByteRange { start: 0, end: None } => None,
        ByteRange { start, end: Some(end) } => Some(format!("bytes={start}-{end}")),
        ByteRange { start, end: None } => Some(format!("bytes={start}-")),
    }
}

/// Cut `body` to `range` when the server ignored the Range header (a 200 with the
/// whole object).
fn apply_range(body: Bytes, range: ByteRange) -> Bytes {
    let len = body.len() as u64;
    if range.start >= len {
        return Bytes::new();
    }
    let end = range.end.map_or(len, |e| e.saturating_add(1).min(len));
    body.slice(range.start as usize..end as usize)
}

impl BosClient {
    async fn get_with_range(&self, bucket: &str, key: &str, range: Option<ByteRange>) -> BosResult<GetResult> {
        let call = Call::new(Operation::GetObject, Method::GET, Some(bucket), Some(key))
            .header_opt("range", range_header(range));
        let answer = self.send(&call).await?;
        let mut meta = response::object_meta(key, &answer.headers)?;
        let mut body = answer.body;
        if answer.status == 206 {
            meta.size = response::content_range_total(&answer.headers).ok_or_else(|| {
                BosError::InvalidResponse("GetObject: 206 answer without a usable Content-Range".into())
            })?;
        } else {
            meta.size = body.len() as u64;
            if let Some(r) = range {
                body = apply_range(body, r);
            }
        }
        Ok(GetResult { meta, body })
    }
}

#[async_trait]
impl BosApi for BosClient {
    async fn head_bucket(&self, bucket: &str) -> BosResult<()> {
        validate::bucket(bucket)?;
        self.send(&Call::new(Operation::HeadBucket, Method::HEAD, Some(bucket), None))
            .await
            .map(|_| ())
    }

    async fn put_bucket(&self, bucket: &str) -> BosResult<()> {
        validate::bucket(bucket)?;
        self.send(&Call::new(Operation::PutBucket, Method::PUT, Some(bucket), None))
            .await
            .map(|_| ())
    }

    async fn delete_bucket(&self, bucket: &str) -> BosResult<()> {
        validate::bucket(bucket)?;
        self.send(&Call::new(Operation::DeleteBucket, Method::DELETE, Some(bucket), None))
            .await
            .map(|_| ())
    }

    async fn list_buckets(&self) -> BosResult<Vec<BucketInfo>> {
        let answer = self
            .send(&Call::new(Operation::ListBuckets, Method::GET, None, None))
            .await?;
        response::list_buckets(&answer.body)
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Bytes, options: &PutOptions) -> BosResult<PutResult> {
        validate::object(bucket, key)?;
        validate::put_options(options)?;
        validate::body_size("PutObject body", body.len() as u64, MAX_PUT_OBJECT_SIZE)?;
        let call = Call::new(Operation::PutObject, Method::PUT, Some(bucket), Some(key))
            .object_headers(options)
            .write_conditions(options)
            .body_with_md5(body);
        let answer = self.send(&call).await?;
        Ok(PutResult {
            etag: etag_header("PutObject", &answer)?,
        })
    }

    async fn get_object(&self, bucket: &str, key: &str, range: Option<ByteRange>) -> BosResult<GetResult> {
        validate::object(bucket, key)?;
        validate::byte_range(range)?;
        match self.get_with_range(bucket, key, range).await {
            // BOS refuses any Range on an empty object (400, or 416 elsewhere); a read
            // from byte 0 of such an object is a read of the whole, empty, object.
            Err(e)
                if range.is_some_and(|r| r.start == 0)
                    && matches!(e.status(), Some(400 | 416))
                    && matches!(e.code(), Some("InvalidRange" | "InvalidHTTPRequest")) =>
            {
                let mut whole = self.get_with_range(bucket, key, None).await?;
                if let Some(r) = range {
                    whole.body = apply_range(whole.body, r);
                }
                Ok(whole)
            }
            other => other,
        }
    }

    async fn head_object(&self, bucket: &str, key: &str) -> BosResult<ObjectMeta> {
        validate::object(bucket, key)?;
        let answer = self
            .send(&Call::new(
                Operation::GetObjectMeta,
                Method::HEAD,
                Some(bucket),
                Some(key),
            ))
            .await?;
        response::object_meta(key, &answer.headers)
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> BosResult<()> {
        validate::object(bucket, key)?;
        self.send(&Call::new(
            Operation::DeleteObject,
            Method::DELETE,
            Some(bucket),
            Some(key),
        ))
        .await
        .map(|_| ())
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
        let request = wire::DeleteMultipleRequest {
            objects: keys.iter().map(|k| wire::DeleteKey { key: k.clone() }).collect(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| BosError::InvalidArgument(e.to_string()))?;
        let call = Call::new(Operation::DeleteMultipleObjects, Method::POST, Some(bucket), None)
            .query("delete", "")
            .json_body(body);
        let answer = self.send(&call).await?;
        response::delete_failures(&answer.body)
    }

    async fn list_objects(&self, bucket: &str, request: &ListRequest) -> BosResult<ListPage> {
        validate::bucket(bucket)?;
        validate::list_request(request)?;
        let call = Call::new(Operation::ListObjects, Method::GET, Some(bucket), None)
            .query("maxKeys", request.max_keys.unwrap_or(MAX_LIST_KEYS).to_string())
            .query_opt("prefix", Some(request.prefix.as_str()).filter(|p| !p.is_empty()))
            .query_opt("delimiter", request.delimiter.as_deref())
            .query_opt("marker", request.marker.as_deref());
        let answer = self.send(&call).await?;
        response::list_page(&answer.body)
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
        for etag in [&options.conditions.if_match, &options.conditions.if_none_match]
            .into_iter()
            .flatten()
        {
            validate::header_value("copy condition", etag)?;
        }
        let mut call = Call::new(Operation::CopyObject, Method::PUT, Some(bucket), Some(key)).copy_source(
            source_bucket,
            source_key,
            &options.conditions,
        );
        call = match &options.directive {
            MetadataDirective::Copy => call.header("x-bce-metadata-directive", "copy"),
            MetadataDirective::Replace(o) => {
                validate::put_options(o)?;
                call.header("x-bce-metadata-directive", "replace").object_headers(o)
            }
        };
        // A storage class or traffic limit in the copy options wins over the replaced
        // metadata's.
        call.headers
            .retain(|(n, _)| n != "x-bce-storage-class" && n != "x-bce-traffic-limit");
        let call = call
            .header_opt("x-bce-storage-class", options.storage_class.map(|c| c.as_str()))
            .header_opt("x-bce-traffic-limit", options.traffic_limit.map(|l| l.to_string()));
        let answer = self.send(&call).await?;
        response::copy_result(&answer.headers, &answer.body)
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
        self.append_guarded(bucket, key, offset, body, options).await
    }

    async fn initiate_multipart_upload(&self, bucket: &str, key: &str, options: &PutOptions) -> BosResult<String> {
        validate::object(bucket, key)?;
        validate::put_options(options)?;
        let call = Call::new(
            Operation::InitiateMultipartUpload,
            Method::POST,
            Some(bucket),
            Some(key),
        )
        .query("uploads", "")
        .object_headers(options);
        let answer = self.send(&call).await?;
        let r: wire::InitiateMultipartResponse = response::json("InitiateMultipartUpload", &answer.body)?;
        Ok(r.upload_id)
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
        let call = Call::new(Operation::UploadPart, Method::PUT, Some(bucket), Some(key))
            .query("partNumber", part_number.to_string())
            .query("uploadId", upload_id)
            .body_with_crc32(body);
        let answer = self.send(&call).await?;
        etag_header("UploadPart", &answer)
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
        let call = Call::new(Operation::UploadPartCopy, Method::PUT, Some(bucket), Some(key))
            .query("partNumber", part_number.to_string())
            .query("uploadId", upload_id)
            .copy_source(source_bucket, source_key, conditions)
            .header_opt(
                "x-bce-copy-source-range",
                range.map(|(first, last)| format!("bytes={first}-{last}")),
            );
        let answer = self.send(&call).await?;
        response::copy_result(&answer.headers, &answer.body)
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
        let request = wire::CompleteMultipartRequest { parts: parts.to_vec() };
        let body = serde_json::to_vec(&request).map_err(|e| BosError::InvalidArgument(e.to_string()))?;
        let mut call = Call::new(
            Operation::CompleteMultipartUpload,
            Method::POST,
            Some(bucket),
            Some(key),
        )
        .query("uploadId", upload_id)
        .json_body(body)
        .write_conditions(options);
        for (name, value) in &options.user_meta {
            call = call.header(
                &format!("{USER_META_PREFIX}{}", name.to_ascii_lowercase()),
                value.as_str(),
            );
        }
        let answer = self.send(&call).await?;
        let r: wire::CompleteMultipartResponse = response::json("CompleteMultipartUpload", &answer.body)?;
        Ok(CompleteResult {
            etag: strip_etag(&r.e_tag),
            location: r.location,
        })
    }

    async fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> BosResult<()> {
        validate::object(bucket, key)?;
        let call = Call::new(Operation::AbortMultipartUpload, Method::DELETE, Some(bucket), Some(key))
            .query("uploadId", upload_id);
        self.send(&call).await.map(|_| ())
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
        let call = Call::new(Operation::ListParts, Method::GET, Some(bucket), Some(key))
            .query("uploadId", upload_id)
            .query_opt("partNumberMarker", part_number_marker.map(|m| m.to_string()))
            .query_opt("maxParts", max_parts.map(|m| m.to_string()));
        let answer = self.send(&call).await?;
        response::list_parts(&answer.body)
    }

    async fn list_multipart_uploads(&self, bucket: &str, request: &ListUploadsRequest) -> BosResult<ListUploadsPage> {
        validate::bucket(bucket)?;
        validate::page_size("maxUploads", request.max_uploads)?;
        validate::delimiter(request.delimiter.as_deref())?;
        let call = Call::new(Operation::ListMultipartUploads, Method::GET, Some(bucket), None)
            .query("uploads", "")
            .query_opt("prefix", Some(request.prefix.as_str()).filter(|p| !p.is_empty()))
            .query_opt("delimiter", request.delimiter.as_deref())
            .query_opt("keyMarker", request.key_marker.as_deref())
            .query_opt("maxUploads", request.max_uploads.map(|m| m.to_string()));
        let answer = self.send(&call).await?;
        response::list_uploads(&answer.body)
    }
}
