//! Paginating streams over any [`BosApi`]: ListObjects page after page, following
//! `nextMarker`, without holding more than one page.

use futures_util::stream::{self, Stream};

use crate::bos::types::{ListPage, ListRequest};
use crate::bos::{BosApi, BosError, BosResult};

/// The pages of a listing, fetched one at a time as the stream is polled. Ends after the
/// first page that is not truncated; fails if a truncated page gives no new marker.
pub fn list_pages<'a>(
    api: &'a dyn BosApi,
    bucket: &'a str,
    request: ListRequest,
) -> impl Stream<Item = BosResult<ListPage>> + Send + 'a {
    stream::try_unfold(Some(request), move |next| async move {
        let Some(request) = next else {
            return Ok(None);
        };
        let page = api.list_objects(bucket, &request).await?;
        let following = if page.is_truncated {
            match &page.next_marker {
                Some(marker) if Some(marker) != request.marker.as_ref() => Some(ListRequest {
                    marker: Some(marker.clone()),
                    ..request
                }),
                _ => {
                    return Err(BosError::InvalidResponse(
                        "listing is truncated but gives no new marker".into(),
                    ))
                }
            }
        } else {
            None
        };
        Ok(Some((page, following)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bos::memory::InMemoryBos;
    use crate::bos::types::{Operation, PutOptions};
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn pages_follow_markers_lazily() {
        let bos = InMemoryBos::with_bucket("bkt");
        for i in 0..25 {
            bos.put_object("bkt", &format!("k{i:02}"), bytes::Bytes::new(), &PutOptions::default())
                .await
                .expect("put");
        }
        let request = ListRequest {
            max_keys: Some(10),
            ..ListRequest::default()
        };
        let pages: Vec<ListPage> = list_pages(&bos, "bkt", request.clone())
            .try_collect()
            .await
            .expect("list");
        assert_eq!(pages.iter().map(|p| p.contents.len()).collect::<Vec<_>>(), [10, 10, 5]);
        assert_eq!(pages[2].contents.last().map(|e| e.key.as_str()), Some("k24"));
        bos.reset_counts();
        let mut first_only = Box::pin(list_pages(&bos, "bkt", request));
        first_only.try_next().await.expect("first page");
        assert_eq!(bos.count(Operation::ListObjects), 1, "pages are fetched on demand");
    }
}
