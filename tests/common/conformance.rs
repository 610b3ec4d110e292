//! The conformance suite every [`BosApi`] backend must pass: the in-memory twin and the
//! HTTP client against the local server run the same checks, so the filesystem can be
//! tested against either. Each check takes a [`Target`] holding an empty bucket.
//!
//! Use [`conformance_tests!`] to turn the suite into one `#[tokio::test]` per check.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use bosmount::bos::types::*;
use bosmount::bos::{list_all_objects, BosApi, BosError, ErrorKind};

/// A backend under test with an empty bucket.
pub struct Target {
    /// The backend.
    pub api: Arc<dyn BosApi>,
    /// An existing, empty bucket.
    pub bucket: String,
    /// Smallest non-last multipart part the backend accepts.
    pub min_part: u64,
    /// Whatever must stay alive while the test runs (server, temp dir).
    pub guard: Box<dyn Any + Send>,
}

/// Expand to one `#[tokio::test]` per named check, each on a fresh target from `$make`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let target = $make().await;
                $crate::common::conformance::$name(&target).await;
            }
        )+
    };
}

fn opts() -> PutOptions {
    PutOptions::default()
}

fn kind_of<T: std::fmt::Debug>(r: Result<T, BosError>) -> ErrorKind {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.kind(),
    }
}

fn code_of<T: std::fmt::Debug>(r: Result<T, BosError>) -> (Option<u16>, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (e.status(), e.code().unwrap_or("").to_string()),
    }
}

fn data(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>(),
    )
}

/// PutObject / GetObject (whole and ranged) / HeadObject, metadata, storage class, odd keys.
pub async fn put_get_head(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    let mut o = opts();
    o.content_type = Some("text/plain".into());
    o.storage_class = Some(StorageClass::StandardIa);
    o.user_meta.insert("Mtime".into(), "1700000000".into());
    o.user_meta.insert("mode".into(), "0644".into());
    o.cache_control = Some("no-cache".into());
    o.content_disposition = Some("attachment; filename=\"x.txt\"".into());
    let before = SystemTime::now() - Duration::from_secs(5);
    let put = api
        .put_object(b, "dir/file.txt", Bytes::from_static(b"hello world"), &o)
        .await
        .expect("put");
    assert_eq!(put.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3", "ETag is the content MD5");

    let meta = api.head_object(b, "dir/file.txt").await.expect("head");
    assert_eq!(meta.size, 11);
    assert_eq!(meta.etag, put.etag);
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(meta.storage_class, StorageClass::StandardIa);
    assert_eq!(meta.object_type, ObjectType::Normal);
    assert_eq!(meta.next_append_offset, None);
    assert_eq!(meta.user_meta.get("mtime").map(String::as_str), Some("1700000000"));
    assert_eq!(meta.user_meta.get("mode").map(String::as_str), Some("0644"));
    assert_eq!(meta.user_meta.len(), 2);
    assert_eq!(meta.cache_control.as_deref(), Some("no-cache"));
    assert_eq!(
        meta.content_disposition.as_deref(),
        Some("attachment; filename=\"x.txt\"")
    );
    assert!(meta.last_modified >= before && meta.last_modified <= SystemTime::now() + Duration::from_secs(5));

    let got = api.get_object(b, "dir/file.txt", None).await.expect("get");
    assert_eq!(&got.body[..], b"hello world");
    assert_eq!(got.meta.size, 11);
    assert_eq!(got.meta.etag, put.etag);
    assert_eq!(got.meta.user_meta, meta.user_meta);

    let r = |start, end| Some(ByteRange { start, end });
    let part = api.get_object(b, "dir/file.txt", r(6, Some(10))).await.expect("range");
    assert_eq!(&part.body[..], b"world");
    assert_eq!(part.meta.size, 11, "a ranged GET reports the whole object's size");
    let part = api
        .get_object(b, "dir/file.txt", r(0, Some(0)))
        .await
        .expect("first byte");
    assert_eq!(&part.body[..], b"h");
    let part = api.get_object(b, "dir/file.txt", r(4, None)).await.expect("open range");
    assert_eq!(&part.body[..], b"o world");
    let part = api
        .get_object(b, "dir/file.txt", r(6, Some(1000)))
        .await
        .expect("range past the end");
    assert_eq!(&part.body[..], b"world");

    // Odd keys survive the trip: double slashes, unicode, spaces, plus, reserved chars.
    for key in [
        "a//b",
        "dir/ü x+y",
        "  spaced  ",
        "q?x=1&y#z",
        "per%cent",
        "tilde~*'()!",
        "trail/",
        "中文/文件",
    ] {
        let body = Bytes::from(format!("body of {key}"));
        api.put_object(b, key, body.clone(), &opts())
            .await
            .unwrap_or_else(|e| panic!("put {key:?}: {e}"));
        let got = api
            .get_object(b, key, None)
            .await
            .unwrap_or_else(|e| panic!("get {key:?}: {e}"));
        assert_eq!(got.body, body, "key {key:?}");
        assert_eq!(api.head_object(b, key).await.expect("head").size, body.len() as u64);
    }
    assert!(
        kind_of(api.head_object(b, "a/b").await) == ErrorKind::NotFound,
        "a//b is not a/b"
    );
    let listed = list_all_objects(api, b, &ListRequest::default()).await.expect("list");
    let keys: Vec<&str> = listed.contents.iter().map(|e| e.key.as_str()).collect();
    assert!(keys.contains(&"a//b") && keys.contains(&"dir/ü x+y") && keys.contains(&"中文/文件"));

    // An empty object: whole, and a read from 0 that BOS would refuse as a Range.
    api.put_object(b, "empty", Bytes::new(), &opts())
        .await
        .expect("put empty");
    assert!(api
        .get_object(b, "empty", None)
        .await
        .expect("get empty")
        .body
        .is_empty());
    let e = api
        .get_object(b, "empty", r(0, Some(4095)))
        .await
        .expect("ranged read of empty");
    assert!(e.body.is_empty());
    assert_eq!(e.meta.size, 0);

    // Replacing changes content and metadata.
    api.put_object(b, "dir/file.txt", Bytes::from_static(b"v2"), &opts())
        .await
        .expect("replace");
    let meta = api.head_object(b, "dir/file.txt").await.expect("head");
    assert_eq!((meta.size, meta.user_meta.len()), (2, 0));
    assert_eq!(meta.storage_class, StorageClass::Standard);
}

/// Errors: missing keys, bad ranges, invalid arguments refused before sending.
pub async fn error_kinds(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    assert_eq!(kind_of(api.get_object(b, "missing", None).await), ErrorKind::NotFound);
    assert_eq!(
        code_of(api.get_object(b, "missing", None).await),
        (Some(404), "NoSuchKey".into())
    );
    assert_eq!(kind_of(api.head_object(b, "missing").await), ErrorKind::NotFound);
    assert_eq!(kind_of(api.delete_object(b, "missing").await), ErrorKind::NotFound);
    assert_eq!(
        kind_of(api.get_object("no-such-bucket-x", "k", None).await),
        ErrorKind::NotFound
    );
    api.put_object(b, "k", Bytes::from_static(b"abc"), &opts())
        .await
        .expect("put");
    let past_end = api.get_object(b, "k", Some(ByteRange { start: 3, end: None })).await;
    assert_eq!(kind_of(past_end), ErrorKind::InvalidRequest);

    // Refused before sending.
    let invalid = |r: Result<PutResult, BosError>| matches!(r, Err(BosError::InvalidArgument(_)));
    assert!(invalid(api.put_object(b, "", Bytes::new(), &opts()).await));
    assert!(invalid(
        api.put_object(b, &"k".repeat(1024), Bytes::new(), &opts()).await
    ));
    assert!(invalid(api.put_object(b, "a/../b", Bytes::new(), &opts()).await));
    let mut big_meta = opts();
    big_meta.user_meta.insert("big".into(), "x".repeat(2048));
    assert!(invalid(api.put_object(b, "k2", Bytes::new(), &big_meta).await));
    let slow = PutOptions {
        traffic_limit: Some(1000),
        ..opts()
    };
    assert!(invalid(api.put_object(b, "k2", Bytes::new(), &slow).await));
    let fast_enough = PutOptions {
        traffic_limit: Some(819_200),
        ..opts()
    };
    api.put_object(b, "k2", Bytes::from_static(b"t"), &fast_enough)
        .await
        .expect("traffic limit in range");
    assert!(matches!(
        api.get_object(b, "k", Some(ByteRange { start: 5, end: Some(2) })).await,
        Err(BosError::InvalidArgument(_))
    ));
}

/// `x-bce-forbid-overwrite`, `If-None-Match: *`, `If-Match` on PutObject.
pub async fn conditional_put(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    let forbid = PutOptions {
        forbid_overwrite: true,
        ..opts()
    };
    let first = api
        .put_object(b, "c", Bytes::from_static(b"1"), &forbid)
        .await
        .expect("create");
    assert_eq!(
        code_of(api.put_object(b, "c", Bytes::from_static(b"2"), &forbid).await),
        (Some(409), "FileAlreadyExists".into())
    );
    let none_match = PutOptions {
        if_none_match_any: true,
        ..opts()
    };
    assert_eq!(
        kind_of(api.put_object(b, "c", Bytes::from_static(b"2"), &none_match).await),
        ErrorKind::PreconditionFailed
    );
    api.put_object(b, "c-new", Bytes::from_static(b"n"), &none_match)
        .await
        .expect("absent key");
    let if_match = PutOptions {
        if_match: Some(first.etag.clone()),
        ..opts()
    };
    api.put_object(b, "c", Bytes::from_static(b"3"), &if_match)
        .await
        .expect("matching ETag");
    assert_eq!(
        kind_of(api.put_object(b, "c", Bytes::from_static(b"4"), &if_match).await),
        ErrorKind::PreconditionFailed
    );
    assert_eq!(&api.get_object(b, "c", None).await.expect("get").body[..], b"3");
}

/// ListObjects with prefix, delimiter, marker and maxKeys, over more than 1000 keys.
pub async fn list_pagination(t: &Target) {
    let api = t.api.clone();
    let b = t.bucket.clone();
    let mut keys: Vec<String> = (0..1010).map(|i| format!("p/k{i:04}")).collect();
    for d in 0..5 {
        keys.push(format!("p/sub{d}/x"));
        keys.push(format!("p/sub{d}/y/z"));
    }
    keys.push("p".into());
    keys.push("p0".into());
    keys.push("other/x".into());
    stream::iter(keys.clone())
        .map(|k| {
            let (api, b) = (api.clone(), b.clone());
            async move { api.put_object(&b, &k, Bytes::new(), &PutOptions::default()).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("create keys");

    // One level of p/, in pages of 1000: 1010 keys + 5 prefixes = 2 pages.
    let mut request = ListRequest {
        prefix: "p/".into(),
        delimiter: Some("/".into()),
        ..ListRequest::default()
    };
    let mut pages = 0;
    let mut seen_keys = Vec::new();
    let mut seen_prefixes = Vec::new();
    loop {
        let page = api.list_objects(&b, &request).await.expect("list");
        pages += 1;
        assert!(page.contents.len() + page.common_prefixes.len() <= 1000);
        seen_keys.extend(page.contents.iter().map(|e| e.key.clone()));
        seen_prefixes.extend(page.common_prefixes.iter().cloned());
        if !page.is_truncated {
            assert!(page.next_marker.is_none());
            break;
        }
        request.marker = Some(page.next_marker.expect("truncated page has a next marker"));
        assert!(pages < 5, "listing does not end");
    }
    assert_eq!(pages, 2);
    let expected_keys: Vec<String> = (0..1010).map(|i| format!("p/k{i:04}")).collect();
    assert_eq!(seen_keys, expected_keys, "every key once, in order");
    assert_eq!(seen_prefixes, (0..5).map(|d| format!("p/sub{d}/")).collect::<Vec<_>>());

    // Small pages across prefixes: a prefix is never repeated after it served as marker.
    let all = list_all_objects(
        &*api,
        &b,
        &ListRequest {
            prefix: "p/sub".into(),
            delimiter: Some("/".into()),
            max_keys: Some(2),
            ..ListRequest::default()
        },
    )
    .await
    .expect("list all");
    assert!(all.contents.is_empty());
    assert_eq!(all.common_prefixes.len(), 5);
    assert_eq!(all.common_prefixes.iter().collect::<BTreeSet<_>>().len(), 5);

    // No delimiter: everything under the prefix, byte order.
    let all = list_all_objects(
        &*api,
        &b,
        &ListRequest {
            prefix: "p/sub1".into(),
            ..ListRequest::default()
        },
    )
    .await
    .expect("list flat");
    let flat: Vec<&str> = all.contents.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(flat, ["p/sub1/x", "p/sub1/y/z"]);
    assert!(all.common_prefixes.is_empty());

    // Marker: strictly after.
    let page = api
        .list_objects(
            &b,
            &ListRequest {
                prefix: "p/k".into(),
                marker: Some("p/k1007".into()),
                ..ListRequest::default()
            },
        )
        .await
        .expect("after marker");
    let after: Vec<&str> = page.contents.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(after, ["p/k1008", "p/k1009"]);

    // Root level.
    let root = list_all_objects(
        &*api,
        &b,
        &ListRequest {
            delimiter: Some("/".into()),
            ..ListRequest::default()
        },
    )
    .await
    .expect("root");
    assert_eq!(root.common_prefixes, ["other/", "p/"]);
    let root_keys: Vec<&str> = root.contents.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(root_keys, ["p", "p0"]);
    let entry = &root.contents[0];
    assert_eq!(
        (entry.size, entry.etag.as_str()),
        (0, "d41d8cd98f00b204e9800998ecf8427e")
    );
}

/// CopyObject: conditions, metadata directive, storage class.
pub async fn copy_object(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    let mut o = opts();
    o.user_meta.insert("owner".into(), "alice".into());
    o.content_type = Some("image/png".into());
    let put = api
        .put_object(b, "src/ü x", Bytes::from_static(b"copy me"), &o)
        .await
        .expect("put");

    let mut c = CopyOptions::default();
    c.conditions.if_match = Some("00000000000000000000000000000000".into());
    assert_eq!(
        kind_of(api.copy_object(b, "src/ü x", b, "dst", &c).await),
        ErrorKind::PreconditionFailed
    );
    assert_eq!(
        kind_of(api.head_object(b, "dst").await),
        ErrorKind::NotFound,
        "a failed copy writes nothing"
    );

    c.conditions.if_match = Some(put.etag.clone());
    let copied = api
        .copy_object(b, "src/ü x", b, "dst", &c)
        .await
        .expect("copy if-match");
    assert_eq!(copied.etag, put.etag);
    let meta = api.head_object(b, "dst").await.expect("head dst");
    assert_eq!(meta.user_meta.get("owner").map(String::as_str), Some("alice"));
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_eq!(&api.get_object(b, "dst", None).await.expect("get").body[..], b"copy me");

    let mut none_match = CopyOptions::default();
    none_match.conditions.if_none_match = Some(put.etag.clone());
    assert_eq!(
        kind_of(api.copy_object(b, "src/ü x", b, "dst2", &none_match).await),
        ErrorKind::PreconditionFailed
    );

    // Replace: metadata from the request; copying onto itself updates metadata.
    let mut replaced = opts();
    replaced.user_meta.insert("owner".into(), "bob".into());
    replaced.content_type = Some("text/plain".into());
    let r = CopyOptions {
        directive: MetadataDirective::Replace(replaced),
        storage_class: Some(StorageClass::Cold),
        ..CopyOptions::default()
    };
    api.copy_object(b, "dst", b, "dst", &r)
        .await
        .expect("metadata update in place");
    let meta = api.head_object(b, "dst").await.expect("head");
    assert_eq!(meta.user_meta.get("owner").map(String::as_str), Some("bob"));
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(meta.storage_class, StorageClass::Cold);
    assert_eq!(&api.get_object(b, "dst", None).await.expect("get").body[..], b"copy me");

    assert_eq!(
        kind_of(api.copy_object(b, "nope", b, "dst3", &CopyOptions::default()).await),
        ErrorKind::NotFound
    );
}

/// AppendObject: the table of protocol reference §5.7.
pub async fn append_table(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    let one = |s: &'static str| Bytes::from_static(s.as_bytes());
    assert_eq!(
        code_of(api.append_object(b, "log", Some(0), one("x"), &opts()).await),
        (Some(404), "NoSuchKey".into())
    );
    let mut o = opts();
    o.user_meta.insert("first".into(), "yes".into());
    o.content_type = Some("text/plain".into());
    let r = api
        .append_object(b, "log", None, one("line1\n"), &o)
        .await
        .expect("create");
    assert_eq!(r.next_offset, 6);
    let mut later = opts();
    later.user_meta.insert("first".into(), "no".into());
    let r = api
        .append_object(b, "log", Some(6), one("line2\n"), &later)
        .await
        .expect("append");
    assert_eq!(r.next_offset, 12);
    assert_eq!(
        code_of(api.append_object(b, "log", Some(6), one("dup\n"), &opts()).await),
        (Some(409), "OffsetIncorrect".into())
    );
    assert_eq!(
        kind_of(api.append_object(b, "log", Some(100), one("far\n"), &opts()).await),
        ErrorKind::OffsetIncorrect
    );
    let meta = api.head_object(b, "log").await.expect("head");
    assert_eq!(meta.object_type, ObjectType::Appendable);
    assert_eq!(meta.next_append_offset, Some(12));
    assert_eq!(meta.size, 12);
    assert_eq!(
        meta.user_meta.get("first").map(String::as_str),
        Some("yes"),
        "first append's metadata wins"
    );
    let got = api.get_object(b, "log", None).await.expect("get");
    assert_eq!(&got.body[..], b"line1\nline2\n");
    assert_eq!(got.meta.object_type, ObjectType::Appendable);
    assert_eq!(got.meta.next_append_offset, Some(12));

    // Without an offset an existing object is replaced.
    let r = api
        .append_object(b, "log", None, one("fresh"), &opts())
        .await
        .expect("replace");
    assert_eq!(r.next_offset, 5);
    assert_eq!(&api.get_object(b, "log", None).await.expect("get").body[..], b"fresh");

    // Creation that must not wipe another writer's object.
    let forbid = PutOptions {
        forbid_overwrite: true,
        ..opts()
    };
    assert_eq!(
        kind_of(api.append_object(b, "log", None, one("x"), &forbid).await),
        ErrorKind::AlreadyExists
    );
    api.append_object(b, "log2", None, one("x"), &forbid)
        .await
        .expect("create with forbid-overwrite");

    // Normal objects cannot be appended to with an offset; PutObject over an appendable
    // object makes it Normal.
    api.put_object(b, "normal", one("n"), &opts()).await.expect("put");
    assert_eq!(
        code_of(api.append_object(b, "normal", Some(1), one("x"), &opts()).await),
        (Some(403), "ObjectUnappendable".into())
    );
    api.put_object(b, "log", one("now normal"), &opts())
        .await
        .expect("put over appendable");
    let meta = api.head_object(b, "log").await.expect("head");
    assert_eq!(meta.object_type, ObjectType::Normal);
    assert_eq!(meta.next_append_offset, None);

    // Zero-length create is allowed.
    let r = api
        .append_object(b, "empty-log", None, Bytes::new(), &opts())
        .await
        .expect("empty create");
    assert_eq!(r.next_offset, 0);
    let r = api
        .append_object(b, "empty-log", Some(0), one("a"), &opts())
        .await
        .expect("append to empty");
    assert_eq!(r.next_offset, 1);
}

/// Multipart upload: parts, list_parts, complete with its rules, abort, list uploads.
pub async fn multipart(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    let min = t.min_part as usize;
    let mut o = opts();
    o.content_type = Some("application/x-test".into());
    o.storage_class = Some(StorageClass::StandardIa);
    o.user_meta.insert("origin".into(), "multipart".into());
    let id = api.initiate_multipart_upload(b, "big/obj", &o).await.expect("initiate");
    let p1 = data(min, 1);
    let p2 = data(min + 7, 2);
    let p3 = data(100, 3);
    let e1 = api.upload_part(b, "big/obj", &id, 1, p1.clone()).await.expect("part 1");
    let e3 = api.upload_part(b, "big/obj", &id, 3, p3.clone()).await.expect("part 3");
    let e2 = api.upload_part(b, "big/obj", &id, 2, p2.clone()).await.expect("part 2");
    assert_eq!(e1.len(), 32, "a part ETag is an MD5");

    let first = api
        .list_parts(b, "big/obj", &id, None, Some(2))
        .await
        .expect("list parts");
    assert_eq!(first.parts.iter().map(|p| p.part_number).collect::<Vec<_>>(), [1, 2]);
    assert!(first.is_truncated);
    assert_eq!(first.parts[1].size, p2.len() as u64);
    assert_eq!(first.parts[0].etag, e1);
    assert_eq!(first.storage_class, StorageClass::StandardIa);
    let rest = api
        .list_parts(b, "big/obj", &id, Some(first.next_part_number_marker), None)
        .await
        .expect("list parts 2");
    assert_eq!(rest.parts.iter().map(|p| p.part_number).collect::<Vec<_>>(), [3]);
    assert!(!rest.is_truncated);

    let part = |n, e: &String| CompletedPart {
        part_number: n,
        e_tag: e.clone(),
    };
    assert_eq!(
        code_of(
            api.complete_multipart_upload(b, "big/obj", &id, &[part(2, &e2), part(1, &e1)], &opts())
                .await
        ),
        (Some(400), "InvalidPartOrder".into())
    );
    assert_eq!(
        code_of(
            api.complete_multipart_upload(b, "big/obj", &id, &[part(1, &e1), part(2, &e1)], &opts())
                .await
        ),
        (Some(400), "InvalidPart".into())
    );
    assert_eq!(
        code_of(
            api.complete_multipart_upload(b, "big/obj", &id, &[part(1, &e1), part(4, &e1)], &opts())
                .await
        ),
        (Some(400), "InvalidPart".into())
    );
    // A small part that is not last is refused at Complete.
    let id_small = api
        .initiate_multipart_upload(b, "small/obj", &opts())
        .await
        .expect("initiate small");
    let s1 = api
        .upload_part(b, "small/obj", &id_small, 1, data(10, 9))
        .await
        .expect("small part");
    let s2 = api
        .upload_part(b, "small/obj", &id_small, 2, data(10, 8))
        .await
        .expect("small part 2");
    assert_eq!(
        code_of(
            api.complete_multipart_upload(b, "small/obj", &id_small, &[part(1, &s1), part(2, &s2)], &opts())
                .await
        ),
        (Some(400), "EntityTooSmall".into())
    );
    assert!(kind_of(api.head_object(b, "small/obj").await) == ErrorKind::NotFound);

    // In progress: both uploads are listed.
    let uploads = api
        .list_multipart_uploads(b, &ListUploadsRequest::default())
        .await
        .expect("list uploads");
    let ids: BTreeSet<&str> = uploads.uploads.iter().map(|u| u.upload_id.as_str()).collect();
    assert!(ids.contains(id.as_str()) && ids.contains(id_small.as_str()));
    let grouped = api
        .list_multipart_uploads(
            b,
            &ListUploadsRequest {
                delimiter: Some("/".into()),
                ..ListUploadsRequest::default()
            },
        )
        .await
        .expect("list uploads with delimiter");
    assert_eq!(grouped.common_prefixes, ["big/", "small/"]);
    assert!(grouped.uploads.is_empty());
    let only_small = api
        .list_multipart_uploads(
            b,
            &ListUploadsRequest {
                prefix: "small/".into(),
                ..ListUploadsRequest::default()
            },
        )
        .await
        .expect("list uploads with prefix");
    assert_eq!(only_small.uploads.len(), 1);
    assert_eq!(only_small.uploads[0].key, "small/obj");

    api.abort_multipart_upload(b, "small/obj", &id_small)
        .await
        .expect("abort");
    assert_eq!(
        kind_of(api.upload_part(b, "small/obj", &id_small, 3, data(1, 1)).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind_of(api.abort_multipart_upload(b, "small/obj", &id_small).await),
        ErrorKind::NotFound
    );

    // Non-contiguous ascending parts complete; part 2 is left out.
    let done = api
        .complete_multipart_upload(b, "big/obj", &id, &[part(1, &e1), part(3, &e3)], &opts())
        .await
        .expect("complete");
    assert!(!done.etag.is_empty());
    let got = api.get_object(b, "big/obj", None).await.expect("get");
    let mut expected = p1.to_vec();
    expected.extend_from_slice(&p3);
    assert!(got.body[..] == expected[..], "object = part 1 + part 3");
    let meta = api.head_object(b, "big/obj").await.expect("head");
    assert_eq!(meta.size, expected.len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("application/x-test"));
    assert_eq!(meta.storage_class, StorageClass::StandardIa);
    assert_eq!(meta.user_meta.get("origin").map(String::as_str), Some("multipart"));
    assert_eq!(meta.object_type, ObjectType::Normal);
    let left = api
        .list_multipart_uploads(b, &ListUploadsRequest::default())
        .await
        .expect("list uploads after");
    assert!(left.uploads.is_empty(), "completed and aborted uploads are gone");
    assert_eq!(
        kind_of(api.list_parts(b, "big/obj", &id, None, None).await),
        ErrorKind::NotFound
    );
}

/// UploadPartCopy: a multipart object built from ranges of another.
pub async fn upload_part_copy(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    let min = t.min_part as usize;
    let source = data(min * 2 + 10, 5);
    api.put_object(b, "source", source.clone(), &opts())
        .await
        .expect("put source");
    let id = api
        .initiate_multipart_upload(b, "assembled", &opts())
        .await
        .expect("initiate");
    let c1 = api
        .upload_part_copy(
            b,
            "assembled",
            &id,
            1,
            b,
            "source",
            Some((0, min as u64 - 1)),
            &CopyConditions::default(),
        )
        .await
        .expect("copy part 1");
    let tail = api
        .upload_part(b, "assembled", &id, 2, Bytes::from_static(b"+tail"))
        .await
        .expect("part 2");
    let parts = [
        CompletedPart {
            part_number: 1,
            e_tag: c1.etag.clone(),
        },
        CompletedPart {
            part_number: 2,
            e_tag: tail,
        },
    ];
    api.complete_multipart_upload(b, "assembled", &id, &parts, &opts())
        .await
        .expect("complete");
    let got = api.get_object(b, "assembled", None).await.expect("get");
    let mut expected = source[..min].to_vec();
    expected.extend_from_slice(b"+tail");
    assert!(got.body[..] == expected[..]);
    let bad = CopyConditions {
        if_match: Some("ffffffffffffffffffffffffffffffff".into()),
        ..CopyConditions::default()
    };
    let id2 = api
        .initiate_multipart_upload(b, "assembled2", &opts())
        .await
        .expect("initiate");
    assert_eq!(
        kind_of(
            api.upload_part_copy(b, "assembled2", &id2, 1, b, "source", None, &bad)
                .await
        ),
        ErrorKind::PreconditionFailed
    );
    api.abort_multipart_upload(b, "assembled2", &id2).await.expect("abort");
}

/// DeleteObject and DeleteMultipleObjects with a missing key.
pub async fn deletes(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    for k in ["d/1", "d/2", "d/3"] {
        api.put_object(b, k, Bytes::from_static(b"x"), &opts())
            .await
            .expect("put");
    }
    api.delete_object(b, "d/1").await.expect("delete");
    assert_eq!(kind_of(api.head_object(b, "d/1").await), ErrorKind::NotFound);
    let failures = api
        .delete_multiple_objects(b, &["d/2".into(), "d/missing".into(), "d/3".into()])
        .await
        .expect("delete multiple");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].key, "d/missing");
    assert_eq!(failures[0].code, "NoSuchKey");
    let failures = api.delete_multiple_objects(b, &[]).await.expect("nothing to delete");
    assert!(failures.is_empty());
    let left = list_all_objects(api, b, &ListRequest::default()).await.expect("list");
    assert!(left.contents.is_empty(), "left: {:?}", left.contents);
}

/// Bucket operations.
pub async fn buckets(t: &Target) {
    let api = &*t.api;
    let name = "conformance-extra";
    assert_eq!(kind_of(api.head_bucket(name).await), ErrorKind::NotFound);
    api.put_bucket(name).await.expect("create");
    assert_eq!(kind_of(api.put_bucket(name).await), ErrorKind::AlreadyExists);
    api.head_bucket(name).await.expect("head");
    api.head_bucket(&t.bucket).await.expect("head target bucket");
    let all = api.list_buckets().await.expect("list buckets");
    let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
    assert!(names.contains(&name) && names.contains(&t.bucket.as_str()), "{names:?}");
    assert!(all.iter().all(|b| !b.location.is_empty()));
    api.put_object(name, "k", Bytes::from_static(b"x"), &opts())
        .await
        .expect("put");
    assert_eq!(kind_of(api.delete_bucket(name).await), ErrorKind::NotEmpty);
    api.delete_object(name, "k").await.expect("delete object");
    api.delete_bucket(name).await.expect("delete bucket");
    assert_eq!(kind_of(api.head_bucket(name).await), ErrorKind::NotFound);
    assert_eq!(kind_of(api.delete_bucket(name).await), ErrorKind::NotFound);
    assert!(matches!(
        api.put_bucket("Bad_Name").await,
        Err(BosError::InvalidArgument(_))
    ));
}

/// Smaller rules: ARCHIVE cannot be appended to; ListMultipartUploads pages by key;
/// ListParts on an upload of another key is NotFound.
pub async fn edge_rules(t: &Target) {
    let (api, b) = (&*t.api, t.bucket.as_str());
    let archive = PutOptions {
        storage_class: Some(StorageClass::Archive),
        ..opts()
    };
    assert_eq!(
        kind_of(
            api.append_object(b, "cold-log", None, Bytes::from_static(b"x"), &archive)
                .await
        ),
        ErrorKind::InvalidRequest
    );
    assert_eq!(kind_of(api.head_object(b, "cold-log").await), ErrorKind::NotFound);

    let mut ids = Vec::new();
    for i in 0..5 {
        let key = format!("up/{i}");
        ids.push((
            key.clone(),
            api.initiate_multipart_upload(b, &key, &opts()).await.expect("initiate"),
        ));
    }
    let mut request = ListUploadsRequest {
        max_uploads: Some(2),
        ..ListUploadsRequest::default()
    };
    let mut seen = Vec::new();
    for _ in 0..10 {
        let page = api.list_multipart_uploads(b, &request).await.expect("list uploads");
        assert!(page.uploads.len() <= 2);
        seen.extend(page.uploads.iter().map(|u| u.key.clone()));
        if !page.is_truncated {
            break;
        }
        request.key_marker = Some(page.next_key_marker.expect("truncated page has a marker"));
    }
    assert_eq!(seen, ids.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>());
    assert_eq!(
        kind_of(api.list_parts(b, "up/other", &ids[0].1, None, None).await),
        ErrorKind::NotFound
    );
    for (key, id) in &ids {
        api.abort_multipart_upload(b, key, id).await.expect("abort");
    }
}
