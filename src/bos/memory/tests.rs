//! Unit tests of the in-memory twin: BOS rules, counters and fault injection.

use super::*;

fn opts() -> PutOptions {
    PutOptions::default()
}

fn code(e: &BosError) -> &str {
    e.code().unwrap_or("<not a service error>")
}

#[tokio::test]
async fn objects_need_a_bucket() {
    let bos = InMemoryBos::new();
    let e = bos
        .put_object("b1b", "k", Bytes::from_static(b"x"), &opts())
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(404), "NoSuchBucket"));
    bos.put_bucket("b1b").await.expect("create");
    let e = bos.put_bucket("b1b").await.unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(409), "BucketAlreadyExists"));
    bos.put_object("b1b", "k", Bytes::from_static(b"x"), &opts())
        .await
        .expect("put");
    let e = bos.delete_bucket("b1b").await.unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(409), "BucketNotEmpty"));
    bos.delete_object("b1b", "k").await.expect("delete");
    bos.delete_bucket("b1b").await.expect("delete bucket");
    assert!(bos.head_bucket("b1b").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn put_get_range_head() {
    let bos = InMemoryBos::with_bucket("bkt");
    let mut o = opts();
    o.user_meta.insert("Color".into(), " blue ".into());
    o.content_type = Some("text/plain".into());
    o.storage_class = Some(StorageClass::Cold);
    let put = bos
        .put_object("bkt", "a//b", Bytes::from_static(b"hello world"), &o)
        .await
        .expect("put");
    assert_eq!(put.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    let meta = bos.head_object("bkt", "a//b").await.expect("head");
    assert_eq!(meta.size, 11);
    assert_eq!(meta.user_meta.get("color").map(String::as_str), Some("blue"));
    assert_eq!(meta.storage_class, StorageClass::Cold);
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(meta.object_type, ObjectType::Normal);
    let r = bos
        .get_object(
            "bkt",
            "a//b",
            Some(ByteRange {
                start: 6,
                end: Some(100),
            }),
        )
        .await
        .expect("range");
    assert_eq!(&r.body[..], b"world");
    assert_eq!(r.meta.size, 11);
    let e = bos
        .get_object("bkt", "a//b", Some(ByteRange { start: 11, end: None }))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRange");
    bos.put_object("bkt", "empty", Bytes::new(), &opts())
        .await
        .expect("put empty");
    let r = bos
        .get_object(
            "bkt",
            "empty",
            Some(ByteRange {
                start: 0,
                end: Some(10),
            }),
        )
        .await
        .expect("range of empty");
    assert!(r.body.is_empty());
    assert!(bos.get_object("bkt", "nope", None).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn conditional_writes() {
    let bos = InMemoryBos::with_bucket("bkt");
    let first = bos
        .put_object("bkt", "k", Bytes::from_static(b"1"), &opts())
        .await
        .expect("put");
    let forbid = PutOptions {
        forbid_overwrite: true,
        ..opts()
    };
    let e = bos
        .put_object("bkt", "k", Bytes::from_static(b"2"), &forbid)
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(409), "FileAlreadyExists"));
    let none_match = PutOptions {
        if_none_match_any: true,
        ..opts()
    };
    let e = bos
        .put_object("bkt", "k", Bytes::from_static(b"2"), &none_match)
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(412), "PreconditionFailed"));
    let matching = PutOptions {
        if_match: Some(format!("\"{}\"", first.etag)),
        ..opts()
    };
    bos.put_object("bkt", "k", Bytes::from_static(b"3"), &matching)
        .await
        .expect("if-match holds");
    let e = bos
        .put_object("bkt", "k", Bytes::from_static(b"4"), &matching)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(412));
    assert_eq!(&bos.object_bytes("bkt", "k").expect("object")[..], b"3");
    bos.put_object("bkt", "new", Bytes::from_static(b"n"), &forbid)
        .await
        .expect("absent key");
}

#[tokio::test]
async fn append_table() {
    let bos = InMemoryBos::with_bucket("bkt");
    let e = bos
        .append_object("bkt", "log", Some(0), Bytes::from_static(b"a"), &opts())
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(404), "NoSuchKey"));
    let r = bos
        .append_object("bkt", "log", None, Bytes::from_static(b"abc"), &opts())
        .await
        .expect("create");
    assert_eq!(r.next_offset, 3);
    let r = bos
        .append_object("bkt", "log", Some(3), Bytes::from_static(b"de"), &opts())
        .await
        .expect("append");
    assert_eq!(r.next_offset, 5);
    let e = bos
        .append_object("bkt", "log", Some(3), Bytes::from_static(b"x"), &opts())
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(409), "OffsetIncorrect"));
    let meta = bos.head_object("bkt", "log").await.expect("head");
    assert_eq!(meta.object_type, ObjectType::Appendable);
    assert_eq!(meta.next_append_offset, Some(5));
    assert_eq!(&bos.object_bytes("bkt", "log").expect("log")[..], b"abcde");
    // No offset on an existing object replaces it.
    let r = bos
        .append_object("bkt", "log", None, Bytes::from_static(b"z"), &opts())
        .await
        .expect("replace");
    assert_eq!(r.next_offset, 1);
    bos.put_object("bkt", "normal", Bytes::from_static(b"n"), &opts())
        .await
        .expect("put");
    let e = bos
        .append_object("bkt", "normal", Some(1), Bytes::from_static(b"x"), &opts())
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(403), "ObjectUnappendable"));
    let forbid = PutOptions {
        forbid_overwrite: true,
        ..opts()
    };
    let e = bos
        .append_object("bkt", "log", None, Bytes::from_static(b"x"), &forbid)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "FileAlreadyExists");
    // PutObject over an appendable object makes it Normal.
    bos.put_object("bkt", "log", Bytes::from_static(b"p"), &opts())
        .await
        .expect("put over");
    assert_eq!(
        bos.head_object("bkt", "log").await.expect("head").object_type,
        ObjectType::Normal
    );
}

#[tokio::test]
async fn multipart_rules() {
    let bos = InMemoryBos::with_bucket("bkt").with_min_part_size(4);
    let id = bos
        .initiate_multipart_upload("bkt", "big", &opts())
        .await
        .expect("init");
    let e1 = bos
        .upload_part("bkt", "big", &id, 1, Bytes::from_static(b"1234"))
        .await
        .expect("p1");
    let e2 = bos
        .upload_part("bkt", "big", &id, 2, Bytes::from_static(b"56"))
        .await
        .expect("p2");
    let e3 = bos
        .upload_part("bkt", "big", &id, 3, Bytes::from_static(b"789"))
        .await
        .expect("p3");
    let part = |n, e: &String| CompletedPart {
        part_number: n,
        e_tag: e.clone(),
    };
    let e = bos
        .complete_multipart_upload("bkt", "big", &id, &[part(2, &e2), part(1, &e1)], &opts())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidPartOrder");
    let e = bos
        .complete_multipart_upload("bkt", "big", &id, &[part(1, &e2), part(2, &e2)], &opts())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidPart");
    let e = bos
        .complete_multipart_upload("bkt", "big", &id, &[part(1, &e1), part(2, &e2), part(3, &e3)], &opts())
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(400), "EntityTooSmall"));
    let listed = bos
        .list_parts("bkt", "big", &id, None, Some(2))
        .await
        .expect("list parts");
    assert_eq!(listed.parts.len(), 2);
    assert!(listed.is_truncated);
    let done = bos
        .complete_multipart_upload("bkt", "big", &id, &[part(1, &e1), part(3, &e3)], &opts())
        .await
        .expect("complete skipping part 2");
    assert!(done.etag.starts_with('-'));
    assert_eq!(&bos.object_bytes("bkt", "big").expect("big")[..], b"1234789");
    assert_eq!(bos.upload_count("bkt"), 0);
    let e = bos.abort_multipart_upload("bkt", "big", &id).await.unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(404), "NoSuchUpload"));
}

#[tokio::test]
async fn listing_with_delimiter_pages() {
    let bos = InMemoryBos::with_bucket("bkt");
    for key in ["a/1", "a/2", "b", "c/x/y", "c/z", "d"] {
        bos.put_object("bkt", key, Bytes::new(), &opts()).await.expect("put");
    }
    let mut request = ListRequest {
        delimiter: Some("/".into()),
        max_keys: Some(2),
        ..ListRequest::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = bos.list_objects("bkt", &request).await.expect("list");
        seen.extend(page.common_prefixes.iter().cloned());
        seen.extend(page.contents.iter().map(|e| e.key.clone()));
        if !page.is_truncated {
            break;
        }
        request.marker = page.next_marker;
    }
    seen.sort();
    assert_eq!(seen, ["a/", "b", "c/", "d"]);
    let page = bos
        .list_objects(
            "bkt",
            &ListRequest {
                prefix: "c/".into(),
                delimiter: Some("/".into()),
                ..ListRequest::default()
            },
        )
        .await
        .expect("list c/");
    assert_eq!(page.common_prefixes, ["c/x/"]);
    assert_eq!(
        page.contents.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["c/z"]
    );
    assert!(!page.is_truncated && page.next_marker.is_none());
}

#[tokio::test]
async fn copy_conditions_and_appendable_copy() {
    let bos = InMemoryBos::with_bucket("bkt");
    let put = bos
        .put_object("bkt", "src", Bytes::from_static(b"data"), &opts())
        .await
        .expect("put");
    let mut copy = CopyOptions::default();
    copy.conditions.if_match = Some("0000".into());
    let e = bos.copy_object("bkt", "src", "bkt", "dst", &copy).await.unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(412), "PreconditionFailed"));
    copy.conditions.if_match = Some(put.etag.clone());
    let r = bos.copy_object("bkt", "src", "bkt", "dst", &copy).await.expect("copy");
    assert_eq!(r.etag, put.etag);
    assert_eq!(&bos.object_bytes("bkt", "dst").expect("dst")[..], b"data");
    bos.append_object("bkt", "log", None, Bytes::from_static(b"l"), &opts())
        .await
        .expect("append");
    bos.set_refuse_appendable_copy(true);
    let e = bos
        .copy_object("bkt", "log", "bkt", "log2", &CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotAllowCopy");
}

#[tokio::test]
async fn counts_and_faults() {
    let bos = InMemoryBos::with_bucket("bkt");
    bos.inject(Fault::on(Operation::PutObject).skip(2));
    for i in 0..2 {
        bos.put_object("bkt", &format!("k{i}"), Bytes::new(), &opts())
            .await
            .expect("put");
    }
    let e = bos.put_object("bkt", "k2", Bytes::new(), &opts()).await.unwrap_err();
    assert!(e.is_retryable());
    assert!(
        bos.object_bytes("bkt", "k2").is_none(),
        "a failed request changes nothing"
    );
    bos.put_object("bkt", "k2", Bytes::new(), &opts())
        .await
        .expect("fault used up");
    assert_eq!(bos.count(Operation::PutObject), 4);
    assert_eq!(bos.counts().get("PutObject"), Some(&4));

    bos.inject(
        Fault::on(Operation::AppendObject)
            .after_applying()
            .status(503, "ServiceUnavailable"),
    );
    let e = bos
        .append_object("bkt", "log", None, Bytes::from_static(b"x"), &opts())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(&bos.object_bytes("bkt", "log").expect("landed")[..], b"x");

    bos.set_hook(Some(Arc::new(|op, _, key| {
        (op == Operation::GetObjectMeta && key == "secret").then(|| BosError::service(403, "AccessDenied", "", ""))
    })));
    assert_eq!(bos.head_object("bkt", "secret").await.unwrap_err().status(), Some(403));
    bos.set_hook(None);
    assert!(bos.head_object("bkt", "secret").await.unwrap_err().is_not_found());
    bos.reset_counts();
    assert_eq!(bos.total_requests(), 0);
}

#[tokio::test]
async fn delete_multiple_reports_missing_keys() {
    let bos = InMemoryBos::with_bucket("bkt");
    bos.put_object("bkt", "a", Bytes::new(), &opts()).await.expect("put");
    let failures = bos
        .delete_multiple_objects("bkt", &["a".to_string(), "missing".to_string()])
        .await
        .expect("delete");
    assert_eq!(failures.len(), 1);
    assert_eq!(
        (failures[0].key.as_str(), failures[0].code.as_str()),
        ("missing", "NoSuchKey")
    );
    assert!(bos.keys("bkt").is_empty());
}
