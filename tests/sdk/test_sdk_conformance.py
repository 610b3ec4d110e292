"""Conformance of `bosmount serve` with Baidu's official Python SDK (bce-python-sdk 0.9.79).

Every operation of the SDK page "Upload files" (the product's seed page) is driven through the
real SDK against the local server, and each test checks what the server answered or stored:
contents by hash, metadata read back with HEAD/GET, listings, and the BOS error (HTTP status and
code) the SDK raises. Run by tests/sdk_conformance.rs, which starts the server.

Notes on the SDK that shape these tests (read from its source):
- Errors reach the caller as BceHttpClientError whose last_error is the BceServerError carrying
  status_code and code (the server's JSON error body); HEAD errors have no body, so code is None.
- The SDK retries a 403 once and 500/503 up to three times (default policy); the `client` fixture
  disables the policy retries so a 5xx fails a test instead of being hidden.
- With an IPv4 endpoint the SDK addresses buckets path-style: /<bucket>/<key>.
- put_object_from_string / put_object_from_file / upload_part / append_object send
  x-bce-content-crc32 when no MD5 is given; put_super_object_from_file also sends the combined
  CRC32 of the whole object on CompleteMultipartUpload.
- copy_object sends x-bce-copy-source-if-match only from its `etag` argument: in
  copy_object_user_headers the SDK keeps if-none-match / if-modified-since /
  if-unmodified-since and silently drops if-match (checked below).
"""

import base64
import email.utils
import gzip
import hashlib
import io
import os
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

import pytest
from baidubce import utils
from baidubce.exception import BceHttpClientError, BceServerError
from baidubce.services.bos import storage_class
from baidubce.services.bos.bos_client import BosClient, UploadTaskHandle

from conftest import make_client

MIB = 1024 * 1024
PART = 5 * MIB
ISO_8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# ---------------------------------------------------------------------------------------------
# helpers


def md5_b64(data):
    return base64.standard_b64encode(hashlib.md5(data).digest())


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def as_str(value):
    return value.decode() if isinstance(value, bytes) else value


def head(client, bucket, key):
    return client.get_object_meta_data(bucket, key).metadata


def read_object(client, bucket, key):
    return client.get_object_as_string(bucket, key)


def bos_error(status, code, fn, *args, **kwargs):
    """Call fn, expect the SDK to raise the BOS error (status, code); code None = not checked
    (HEAD answers have no body). Returns the BceServerError."""
    with pytest.raises(BceHttpClientError) as info:
        fn(*args, **kwargs)
    err = info.value.last_error
    assert isinstance(err, BceServerError), "expected a BOS error answer, got %r" % (err,)
    statuses = status if isinstance(status, tuple) else (status,)
    assert err.status_code in statuses, "expected HTTP %s %s, got %s %s (%s)" % (status, code, err.status_code, err.code, err)
    if code is not None:
        assert err.code == code, "expected code %s, got %s (HTTP %s: %s)" % (code, err.code, err.status_code, err)
        assert err.request_id, "error body without requestId"
    return err


def assert_absent(client, bucket, key):
    bos_error(404, None, client.get_object_meta_data, bucket, key)


def write_file(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# ---------------------------------------------------------------------------------------------
# configuration and buckets


def test_sdk_version_and_addressing(default_client, server_env):
    assert version("bce-python-sdk") == "0.9.79"
    config = default_client._merge_config(None, "some-bucket")
    assert config.endpoint == server_env["BOSMOUNT_SDK_ENDPOINT"].encode()
    # An IPv4 endpoint means path-style requests: /<bucket>/<key>.
    assert BosClient._get_path(config, "some-bucket", b"a/b c") == b"/some-bucket/a/b%20c"


def test_buckets(default_client, client, bucket):
    assert default_client.does_bucket_exist(bucket) is True
    new = "sdk-new-" + uuid.uuid4().hex[:12]
    assert default_client.does_bucket_exist(new) is False

    default_client.create_bucket(new)
    assert default_client.does_bucket_exist(new) is True
    listed = default_client.list_buckets()
    names = [b.name for b in listed.buckets]
    assert bucket in names and new in names, names
    for b in listed.buckets:
        assert b.location, "bucket %s without location" % b.name
        assert ISO_8601.match(b.creation_date), b.creation_date
    assert listed.owner is not None and listed.owner.id

    bos_error(409, "BucketAlreadyExists", client.create_bucket, new)
    assert as_str(default_client.get_bucket_location(new))

    # An object copied across buckets keeps the bucket from being deleted.
    client.put_object_from_string(bucket, "cross-bucket-source", "from the first bucket", user_metadata={"m": "1"})
    client.copy_object(bucket, "cross-bucket-source", new, "keep")
    assert read_object(client, new, "keep") == b"from the first bucket"
    assert head(client, new, "keep").bce_meta_m == "1"
    bos_error(409, "BucketNotEmpty", client.delete_bucket, new)
    client.delete_object(new, "keep")
    client.delete_object(bucket, "cross-bucket-source")
    default_client.delete_bucket(new)
    assert default_client.does_bucket_exist(new) is False
    assert new not in [b.name for b in default_client.list_buckets().buckets]
    bos_error(404, "NoSuchBucket", client.list_objects, new)


# ---------------------------------------------------------------------------------------------
# simple upload


def test_put_object_stream_with_length_and_md5(client, bucket, prefix, tmp_path):
    data = os.urandom(300_000)
    key = prefix + "stream.bin"
    with open(write_file(tmp_path, "stream.bin", data), "rb") as fp:
        response = client.put_object(bucket, key, fp, len(data), md5_b64(data))
    assert response.metadata.etag == md5_hex(data)
    meta = head(client, bucket, key)
    assert int(meta.content_length) == len(data)
    assert meta.etag == md5_hex(data)
    assert read_object(client, bucket, key) == data

    # A BytesIO stream, as the seed page describes, replacing the first object.
    data2 = b"second version " * 1000
    client.put_object(bucket, key, io.BytesIO(data2), len(data2), md5_b64(data2))
    assert read_object(client, bucket, key) == data2
    assert head(client, bucket, key).etag == md5_hex(data2)


def test_put_object_from_string(client, bucket, prefix):
    key = prefix + "string.txt"
    text = "hello BOS \u2713 \u4f60\u597d\n"
    response = client.put_object_from_string(bucket, key, text)
    assert response.metadata.etag == md5_hex(text.encode())
    assert read_object(client, bucket, key) == text.encode()

    raw = bytes(range(256)) * 3
    client.put_object_from_string(bucket, key, raw, content_md5=md5_b64(raw))
    assert read_object(client, bucket, key) == raw

    empty = prefix + "empty"
    client.put_object_from_string(bucket, empty, "")
    meta = head(client, bucket, empty)
    assert int(meta.content_length) == 0
    assert meta.etag == md5_hex(b"")
    assert read_object(client, bucket, empty) == b""


def test_put_object_from_file_content_type_and_user_metadata(client, bucket, prefix, tmp_path):
    data = b"name,value\n" * 500
    path = write_file(tmp_path, "table.csv", data)
    key = prefix + "table"
    client.put_object_from_file(
        bucket, key, path, content_type="text/plain", user_metadata={"name": "my-data", "Owner": "Team-A"}
    )
    meta = head(client, bucket, key)
    assert meta.content_type == "text/plain"
    assert meta.bce_meta_name == "my-data"
    # BOS lower-cases user metadata names.
    assert meta.bce_meta_owner == "Team-A"

    got = client.get_object(bucket, key)
    body = got.data.read()
    got.data.close()
    assert body == data
    assert got.metadata.user_metadata == {"name": "my-data", "owner": "Team-A"}
    assert got.metadata.content_type == "text/plain"

    # Without content_type the SDK guesses one from the file name; the server stores what it got.
    # The SDK sends non-ASCII metadata values as raw UTF-8 header bytes.
    client.put_object_from_string(bucket, prefix + "utf8", "x", user_metadata={"city": "\u5317\u4eac", "note": "caf\u00e9"})
    meta = head(client, bucket, prefix + "utf8")
    assert (meta.bce_meta_city, meta.bce_meta_note) == ("\u5317\u4eac", "caf\u00e9")

    json_path = write_file(tmp_path, "doc.json", b'{"a": 1}')
    client.put_object_from_file(bucket, prefix + "doc", json_path)
    assert head(client, bucket, prefix + "doc").content_type == "application/json"
    assert read_object(client, bucket, prefix + "doc") == b'{"a": 1}'


def test_user_headers_echoed_on_head_and_get(client, bucket, prefix, tmp_path):
    payload = gzip.compress(b"compressed log line\n" * 200)
    user_headers = {
        "Cache-Control": "max-age=3600, public",
        "Content-Disposition": 'attachment; filename="report.txt"',
        "Content-Encoding": "gzip",
        "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
    }
    from_string = prefix + "hdr-string"
    from_file = prefix + "hdr-file"
    client.put_object_from_string(bucket, from_string, payload, user_headers=user_headers)
    client.put_object_from_file(bucket, from_file, write_file(tmp_path, "p.gz", payload), user_headers=user_headers)
    for key in (from_string, from_file):
        for meta in (head(client, bucket, key), client.get_object(bucket, key).metadata):
            assert meta.cache_control == user_headers["Cache-Control"], key
            assert meta.content_disposition == user_headers["Content-Disposition"], key
            assert meta.content_encoding == "gzip", key
            assert meta.expires == user_headers["Expires"], key
        # Bytes come back as stored (no transcoding by the server).
        assert gzip.decompress(read_object(client, bucket, key)) == b"compressed log line\n" * 200


@pytest.mark.parametrize(
    "cls", [storage_class.STANDARD, storage_class.STANDARD_IA, storage_class.COLD, storage_class.ARCHIVE]
)
def test_storage_class(client, bucket, prefix, tmp_path, cls):
    name = cls.decode()
    data = ("stored as %s\n" % name).encode() * 100
    k_string = prefix + "string"
    k_file = prefix + "file"
    client.put_object_from_string(bucket, k_string, data, storage_class=cls)
    client.put_object_from_file(bucket, k_file, write_file(tmp_path, "f", data), storage_class=cls)
    for key in (k_string, k_file):
        meta = head(client, bucket, key)
        assert meta.bce_storage_class == name, (key, meta.bce_storage_class)
        assert int(meta.content_length) == len(data)
    listed = client.list_objects(bucket, prefix=prefix)
    assert [(c.key, c.storage_class) for c in listed.contents] == [(k_file, name), (k_string, name)]
    if cls != storage_class.ARCHIVE:
        assert read_object(client, bucket, k_string) == data


def test_get_object_meta_data_and_ranged_get(client, bucket, prefix, tmp_path):
    data = bytes(range(256)) * 40
    key = prefix + "ranged"
    client.put_object_from_string(bucket, key, data)
    meta = head(client, bucket, key)
    assert int(meta.content_length) == len(data)
    assert meta.etag == md5_hex(data)
    assert meta.bce_request_id
    assert email.utils.parsedate_to_datetime(meta.last_modified) is not None
    assert meta.bce_object_type in (None, "Normal")

    assert client.get_object_as_string(bucket, key, range=[10, 99]) == data[10:100]
    assert client.get_object_as_string(bucket, key, range=[len(data) - 5, len(data) - 1]) == data[-5:]
    ranged = client.get_object(bucket, key, range=[0, 0])
    assert ranged.data.read() == data[:1]
    ranged.data.close()
    assert ranged.metadata.content_range == "bytes 0-0/%d" % len(data)
    assert int(ranged.metadata.content_length) == 1

    target = tmp_path / "downloaded"
    client.get_object_to_file(bucket, key, str(target))
    assert target.read_bytes() == data
    client.get_object_to_file(bucket, key, str(target), range=[100, 355])
    assert target.read_bytes() == data[100:356]

    missing = prefix + "missing"
    bos_error(404, "NoSuchKey", client.get_object_as_string, bucket, missing)
    assert_absent(client, bucket, missing)


# ---------------------------------------------------------------------------------------------
# copy


def test_copy_object_with_conditions(client, bucket, prefix):
    src = prefix + "src"
    data = b"copy me\n" * 300
    client.put_object_from_string(bucket, src, data, content_type="text/plain", user_metadata={"stage": "source"})
    etag = head(client, bucket, src).etag
    wrong = "0" * 32

    # if-match with the right ETag, and new user metadata (metadata directive "replace").
    dst = prefix + "dst"
    response = client.copy_object(bucket, src, bucket, dst, etag=etag, user_metadata={"stage": "copied"})
    assert response.etag == md5_hex(data)
    assert ISO_8601.match(response.last_modified), response.last_modified
    meta = head(client, bucket, dst)
    assert meta.bce_meta_stage == "copied"
    assert read_object(client, bucket, dst) == data

    # No metadata given: directive "copy" keeps the source's content type and metadata.
    kept = prefix + "kept"
    client.copy_object(bucket, src, bucket, kept)
    meta = head(client, bucket, kept)
    assert meta.bce_meta_stage == "source"
    assert meta.content_type == "text/plain"

    # if-match with a wrong ETag: 412 and no object.
    failed = prefix + "failed"
    bos_error(412, "PreconditionFailed", client.copy_object, bucket, src, bucket, failed, etag=wrong,
              user_metadata={"stage": "never"})
    assert_absent(client, bucket, failed)

    # The other conditions travel in copy_object_user_headers.
    bos_error(412, "PreconditionFailed", client.copy_object, bucket, src, bucket, failed,
              copy_object_user_headers={"x-bce-copy-source-if-none-match": etag})
    bos_error(412, "PreconditionFailed", client.copy_object, bucket, src, bucket, failed,
              copy_object_user_headers={"x-bce-copy-source-if-unmodified-since": "Thu, 01 Jan 2004 00:00:00 GMT"})
    bos_error(412, "PreconditionFailed", client.copy_object, bucket, src, bucket, failed,
              copy_object_user_headers={"x-bce-copy-source-if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert_absent(client, bucket, failed)

    ok = prefix + "ok"
    client.copy_object(bucket, src, bucket, ok, user_metadata={"stage": "if-none-match"},
                       copy_object_user_headers={"x-bce-copy-source-if-none-match": wrong})
    assert head(client, bucket, ok).bce_meta_stage == "if-none-match"
    client.copy_object(bucket, src, bucket, ok, user_metadata={"stage": "if-modified-since"},
                       copy_object_user_headers={"x-bce-copy-source-if-modified-since": "Thu, 01 Jan 2004 00:00:00 GMT"})
    assert head(client, bucket, ok).bce_meta_stage == "if-modified-since"

    # SDK 0.9.79 drops x-bce-copy-source-if-match from copy_object_user_headers: even a wrong
    # ETag there copies (the server never sees it). The `etag` argument is the way to send it.
    client.copy_object(bucket, src, bucket, ok, user_metadata={"stage": "dropped-if-match"},
                       copy_object_user_headers={"x-bce-copy-source-if-match": wrong})
    assert head(client, bucket, ok).bce_meta_stage == "dropped-if-match"

    # Copy onto itself with new metadata = metadata update, content unchanged.
    client.copy_object(bucket, src, bucket, src, etag=etag, user_metadata={"stage": "updated"})
    assert head(client, bucket, src).bce_meta_stage == "updated"
    assert read_object(client, bucket, src) == data

    bos_error(404, "NoSuchKey", client.copy_object, bucket, prefix + "no-such-source", bucket, prefix + "x")


# ---------------------------------------------------------------------------------------------
# append


def test_append_object_then_append_from_string(client, bucket, prefix):
    key = prefix + "app.log"
    first = b"line 1\n" * 100
    response = client.append_object(
        bucket_name=bucket, key=key, data=io.BytesIO(first), content_md5=md5_b64(first), content_length=len(first)
    )
    next_offset = response.metadata.bce_next_append_offset
    assert next_offset == str(len(first))

    second = "line 2\n"
    response = client.append_object_from_string(
        bucket_name=bucket, key=key, data=second, offset=next_offset, storage_class=storage_class.STANDARD
    )
    total = len(first) + len(second)
    assert response.metadata.bce_next_append_offset == str(total)

    third = b"line 3\n" * 10
    response = client.append_object(bucket, key, io.BytesIO(third), len(third), content_md5=md5_b64(third), offset=total)
    total += len(third)
    assert response.metadata.bce_next_append_offset == str(total)

    expected = first + second.encode() + third
    assert read_object(client, bucket, key) == expected
    meta = head(client, bucket, key)
    assert meta.bce_object_type == "Appendable"
    assert meta.bce_next_append_offset == str(total)
    assert int(meta.content_length) == total

    # A wrong offset: 409 OffsetIncorrect, nothing changed.
    for offset in (0, total - 1, total + 1):
        bos_error(409, "OffsetIncorrect", client.append_object_from_string, bucket, key, "lost", offset=offset)
    assert read_object(client, bucket, key) == expected
    assert head(client, bucket, key).bce_next_append_offset == str(total)


def test_append_rules(client, bucket, prefix):
    normal = prefix + "normal"
    client.put_object_from_string(bucket, normal, "normal object")
    bos_error(403, "ObjectUnappendable", client.append_object_from_string, bucket, normal, "x", offset=13)
    assert read_object(client, bucket, normal) == b"normal object"

    missing = prefix + "missing"
    bos_error(404, "NoSuchKey", client.append_object_from_string, bucket, missing, "x", offset=5)
    assert_absent(client, bucket, missing)

    # Append without offset creates, then replaces; first-append metadata is kept on later appends.
    key = prefix + "log"
    client.append_object_from_string(bucket, key, "aaaa", user_metadata={"writer": "first"})
    client.append_object_from_string(bucket, key, "bbbb", offset=4, user_metadata={"writer": "second"})
    assert read_object(client, bucket, key) == b"aaaabbbb"
    assert head(client, bucket, key).bce_meta_writer == "first"
    client.append_object_from_string(bucket, key, "fresh")
    assert read_object(client, bucket, key) == b"fresh"
    assert head(client, bucket, key).bce_next_append_offset == "5"

    # A bad MD5 on an append: BadDigest, nothing appended.
    bos_error(400, "BadDigest", client.append_object, bucket, key, io.BytesIO(b"zz"), 2,
              content_md5=md5_b64(b"other"), offset=5)
    assert read_object(client, bucket, key) == b"fresh"

    # PutObject over an Appendable object replaces it with a Normal one.
    client.put_object_from_string(bucket, key, "now normal")
    meta = head(client, bucket, key)
    assert meta.bce_object_type in (None, "Normal")
    assert read_object(client, bucket, key) == b"now normal"
    bos_error(403, "ObjectUnappendable", client.append_object_from_string, bucket, key, "x", offset=10)


# ---------------------------------------------------------------------------------------------
# multipart


def upload_parts(client, bucket, key, upload_id, path, part_size=PART, progress_callback=None):
    """The seed page's loop: upload_part_from_file with 5 MiB parts; returns the part list."""
    left_size = os.path.getsize(path)
    offset = 0
    part_number = 1
    part_list = []
    with open(path, "rb") as f:
        content = f.read()
    while left_size > 0:
        size = min(part_size, left_size)
        response = client.upload_part_from_file(
            bucket, key, upload_id, part_number, size, path, offset, progress_callback=progress_callback
        )
        assert response.metadata.etag == md5_hex(content[offset : offset + size]), part_number
        left_size -= size
        offset += size
        part_list.append({"partNumber": part_number, "eTag": response.metadata.etag})
        part_number += 1
    return part_list


def pending_uploads(client, bucket, prefix):
    return {(u.key, u.upload_id) for u in client.list_all_multipart_uploads(bucket, prefix=prefix)}


def test_multipart_upload(client, bucket, prefix, tmp_path):
    data = os.urandom(2 * PART + 123_457)
    path = write_file(tmp_path, "big.bin", data)
    key = prefix + "big.bin"

    init = client.initiate_multipart_upload(bucket, key)
    upload_id = init.upload_id
    assert upload_id and init.key == key and init.bucket == bucket

    progress = []
    part_list = upload_parts(client, bucket, key, upload_id, path, progress_callback=lambda c, t: progress.append((c, t)))
    assert [p["partNumber"] for p in part_list] == [1, 2, 3]
    assert progress[-1] == (123_457, 123_457)

    sizes = [PART, PART, 123_457]
    listed = client.list_parts(bucket, key, upload_id)
    assert listed.upload_id == upload_id
    assert listed.is_truncated is False
    assert [p.part_number for p in listed.parts] == [1, 2, 3]
    assert [p.etag for p in listed.parts] == [p["eTag"] for p in part_list]
    assert [p.size for p in listed.parts] == sizes
    for p in listed.parts:
        assert ISO_8601.match(p.last_modified), p.last_modified

    page = client.list_parts(bucket, key, upload_id, max_parts=2)
    assert [p.part_number for p in page.parts] == [1, 2]
    assert page.is_truncated is True and page.next_part_number_marker == 2
    page = client.list_parts(bucket, key, upload_id, part_number_marker=2)
    assert [p.part_number for p in page.parts] == [3]
    assert [p.part_number for p in client.list_all_parts(bucket, key, upload_id)] == [1, 2, 3]

    assert (key, upload_id) in pending_uploads(client, bucket, prefix)
    listing = client.list_multipart_uploads(bucket, prefix=prefix)
    assert [(u.key, u.upload_id) for u in listing.uploads] == [(key, upload_id)]

    done = client.complete_multipart_upload(bucket, key, upload_id, part_list)
    assert done.etag and done.key == key and done.bucket == bucket
    assert pending_uploads(client, bucket, prefix) == set()

    assert sha256_hex(read_object(client, bucket, key)) == sha256_hex(data)
    meta = head(client, bucket, key)
    assert int(meta.content_length) == len(data)
    assert meta.etag == done.etag
    listed = client.list_objects(bucket, prefix=key).contents
    assert [(c.key, c.size, c.etag) for c in listed] == [(key, len(data), done.etag)]
    bos_error(404, "NoSuchUpload", client.list_parts, bucket, key, upload_id)


def test_multipart_with_user_headers_and_standard_ia(client, bucket, prefix, tmp_path):
    user_headers = {
        "Cache-Control": "no-cache",
        "Content-Disposition": 'inline; filename="video.mp4"',
        "Content-Encoding": "identity",
        "Expires": "Thu, 01 Jan 2037 00:00:00 GMT",
    }
    data = os.urandom(PART + 1000)
    path = write_file(tmp_path, "v.bin", data)

    with_headers = prefix + "with-headers"
    upload_id = client.initiate_multipart_upload(bucket_name=bucket, key=with_headers, user_headers=user_headers).upload_id
    client.complete_multipart_upload(bucket, with_headers, upload_id, upload_parts(client, bucket, with_headers, upload_id, path))
    for meta in (head(client, bucket, with_headers), client.get_object(bucket, with_headers).metadata):
        assert meta.cache_control == "no-cache"
        assert meta.content_disposition == user_headers["Content-Disposition"]
        assert meta.content_encoding == "identity"
        assert meta.expires == user_headers["Expires"]
    assert read_object(client, bucket, with_headers) == data

    ia = prefix + "ia"
    upload_id = client.initiate_multipart_upload(bucket_name=bucket, key=ia, storage_class=storage_class.STANDARD_IA).upload_id
    parts = upload_parts(client, bucket, ia, upload_id, path)
    assert client.list_parts(bucket_name=bucket, key=ia, upload_id=upload_id).storage_class == "STANDARD_IA"
    uploads = [u for u in client.list_all_multipart_uploads(bucket, prefix=ia) if u.upload_id == upload_id]
    assert len(uploads) == 1 and uploads[0].storage_class == "STANDARD_IA"
    client.complete_multipart_upload(bucket, ia, upload_id, parts)
    assert head(client, bucket, ia).bce_storage_class == "STANDARD_IA"
    assert sha256_hex(read_object(client, bucket, ia)) == sha256_hex(data)


def test_list_multipart_uploads_and_abort(client, bucket, prefix, tmp_path):
    path = write_file(tmp_path, "part", b"p" * 1000)
    keys = [prefix + "a", prefix + "b", prefix + "b", prefix + "c/d"]
    ids = [client.initiate_multipart_upload(bucket, k).upload_id for k in keys]
    assert len(set(ids)) == 4
    client.upload_part_from_file(bucket, keys[0], ids[0], 1, 1000, path, 0)

    expected = set(zip(keys, ids))
    assert pending_uploads(client, bucket, prefix) == expected
    listing = client.list_multipart_uploads(bucket, prefix=prefix)
    assert listing.is_truncated is False
    got = [(u.key, u.upload_id) for u in listing.uploads]
    assert sorted(got) == sorted(expected)
    assert [k for k, _ in got] == sorted(k for k, _ in got), "uploads not ordered by key"
    for u in listing.uploads:
        assert ISO_8601.match(u.initiated), u.initiated
    first_page = client.list_multipart_uploads(bucket, prefix=prefix, max_uploads=1)
    assert len(first_page.uploads) == 1 and first_page.is_truncated is True

    # Abort the upload that has a part: it is no longer listed and its parts are gone.
    client.abort_multipart_upload(bucket, keys[0], upload_id=ids[0])
    assert pending_uploads(client, bucket, prefix) == expected - {(keys[0], ids[0])}
    bos_error(404, "NoSuchUpload", client.list_parts, bucket, keys[0], ids[0])
    bos_error(404, "NoSuchUpload", client.upload_part_from_file, bucket, keys[0], ids[0], 2, 1000, path, 0)
    bos_error(404, "NoSuchUpload", client.complete_multipart_upload, bucket, keys[0], ids[0],
              [{"partNumber": 1, "eTag": md5_hex(b"p" * 1000)}])
    bos_error(404, "NoSuchUpload", client.abort_multipart_upload, bucket, keys[0], ids[0])
    assert_absent(client, bucket, keys[0])

    for key, upload_id in zip(keys[1:], ids[1:]):
        client.abort_multipart_upload(bucket, key, upload_id)
    assert pending_uploads(client, bucket, prefix) == set()
    assert client.list_multipart_uploads(bucket, prefix=prefix).uploads == []


def test_complete_multipart_upload_rules(client, bucket, prefix, tmp_path):
    data = os.urandom(PART + 2000)
    path = write_file(tmp_path, "d", data)
    key = prefix + "rules"
    upload_id = client.initiate_multipart_upload(bucket, key).upload_id
    parts = upload_parts(client, bucket, key, upload_id, path)

    bad_etag = [parts[0], {"partNumber": 2, "eTag": "0" * 32}]
    bos_error(400, "InvalidPart", client.complete_multipart_upload, bucket, key, upload_id, bad_etag)
    # Part 3 was never uploaded (part 2 is left out so that no part-size rule applies).
    bos_error(400, "InvalidPart", client.complete_multipart_upload, bucket, key, upload_id,
              [parts[0], {"partNumber": 3, "eTag": parts[1]["eTag"]}])
    # Not strictly ascending (a repeated part number; reversing [1, 2] would also make the small
    # part 2 a non-last part, which is a different error).
    bos_error(400, "InvalidPartOrder", client.complete_multipart_upload, bucket, key, upload_id, [parts[0], parts[0]])
    assert_absent(client, bucket, key)
    # The failed attempts left the upload intact.
    client.complete_multipart_upload(bucket, key, upload_id, parts)
    assert sha256_hex(read_object(client, bucket, key)) == sha256_hex(data)

    # Every part but the last must be at least 5 MiB (checked at Complete only).
    small = prefix + "small"
    upload_id = client.initiate_multipart_upload(bucket, small).upload_id
    small_path = write_file(tmp_path, "s", os.urandom(2 * MIB))
    small_parts = upload_parts(client, bucket, small, upload_id, small_path, part_size=MIB)
    bos_error(400, "EntityTooSmall", client.complete_multipart_upload, bucket, small, upload_id, small_parts)
    assert_absent(client, bucket, small)
    client.abort_multipart_upload(bucket, small, upload_id)


def test_put_super_object_from_file(default_client, client, bucket, prefix, tmp_path):
    # bos-protocol.md section 11: 0.9.79 has put_super_object_from_file; the seed page's
    # put_super_obejct_from_file spelling is the older SDK's name.
    name = "put_super_object_from_file" if hasattr(default_client, "put_super_object_from_file") else "put_super_obejct_from_file"
    assert name == "put_super_object_from_file"
    assert not hasattr(default_client, "put_super_obejct_from_file")
    upload = getattr(default_client, name)

    data = os.urandom(3 * PART + 54_321)
    path = write_file(tmp_path, "super.bin", data)
    key = prefix + "super.bin"
    result = upload(bucket, key, path, chunk_size=5, thread_num=4)
    assert result is True
    assert pending_uploads(client, bucket, prefix) == set()
    meta = head(client, bucket, key)
    assert int(meta.content_length) == len(data)
    assert sha256_hex(read_object(client, bucket, key)) == sha256_hex(data)


# ---------------------------------------------------------------------------------------------
# listing and deleting


def test_list_objects_prefix_delimiter_pagination(client, bucket, prefix):
    names = ["a.txt", "b/1", "b/2", "c/x/1", "d.txt", "e"]
    keys = [prefix + n for n in names]
    for k in keys:
        client.put_object_from_string(bucket, k, "content of " + k)
    # Neighbours that must not show up under the prefix.
    outside = [prefix[:-1] + "-other/x", prefix[:-1]]
    for k in outside:
        client.put_object_from_string(bucket, k, "outside")

    listed = client.list_objects(bucket, prefix=prefix)
    assert [c.key for c in listed.contents] == keys
    assert listed.is_truncated is False
    assert listed.prefix == prefix
    for c in listed.contents:
        assert c.size == len("content of " + c.key)
        assert c.etag == md5_hex(("content of " + c.key).encode())
        assert ISO_8601.match(c.last_modified), c.last_modified
        assert c.storage_class == "STANDARD"

    grouped = client.list_objects(bucket, prefix=prefix, delimiter="/")
    assert [c.key for c in grouped.contents] == [prefix + "a.txt", prefix + "d.txt", prefix + "e"]
    assert [p.prefix for p in grouped.common_prefixes] == [prefix + "b/", prefix + "c/"]
    assert grouped.delimiter == "/"

    inner = client.list_objects(bucket, prefix=prefix + "b/", delimiter="/")
    assert [c.key for c in inner.contents] == [prefix + "b/1", prefix + "b/2"]
    assert not inner.common_prefixes

    # Pagination: max_keys + marker / next_marker.
    seen = []
    marker = None
    pages = 0
    while True:
        page = client.list_objects(bucket, prefix=prefix, max_keys=2, marker=marker)
        pages += 1
        assert len(page.contents) <= 2
        seen += [c.key for c in page.contents]
        if not page.is_truncated:
            break
        assert page.next_marker == page.contents[-1].key
        marker = page.next_marker
        assert pages < 10
    assert seen == keys
    assert pages == 3

    after = client.list_objects(bucket, prefix=prefix, marker=prefix + "b/2")
    assert [c.key for c in after.contents] == keys[3:]
    assert [c.key for c in client.list_all_objects(bucket, prefix=prefix)] == keys


def test_list_all_objects_over_1000_keys(client, bucket, prefix):
    keys = sorted(prefix + "k%05d" % i for i in range(1005))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object_from_string(bucket, k, k[-5:]), keys))

    first = client.list_objects(bucket, prefix=prefix)
    assert len(first.contents) == 1000
    assert first.is_truncated is True
    assert first.next_marker == first.contents[-1].key
    capped = client.list_objects(bucket, prefix=prefix, max_keys=5000)
    assert len(capped.contents) == 1000

    assert [c.key for c in client.list_all_objects(bucket, prefix=prefix)] == keys

    for start in range(0, len(keys), 1000):
        response = client.delete_multiple_objects(bucket, keys[start : start + 1000])
        assert not response.errors
    assert client.list_objects(bucket, prefix=prefix).contents == []


def test_delete_object_and_delete_multiple_objects(client, bucket, prefix):
    k1, k2, k3, k4 = (prefix + n for n in ("one", "two", "three", "four"))
    for k in (k1, k2, k3, k4):
        client.put_object_from_string(bucket, k, k)

    client.delete_object(bucket, k1)
    assert_absent(client, bucket, k1)
    bos_error(404, "NoSuchKey", client.delete_object, bucket, k1)

    response = client.delete_multiple_objects(bucket, [k2, k3])
    assert not response.errors
    assert_absent(client, bucket, k2)
    assert_absent(client, bucket, k3)

    missing = prefix + "never-existed"
    response = client.delete_multiple_objects(bucket, [k4, missing])
    assert [(e.key, e.code) for e in response.errors] == [(missing, "NoSuchKey")]
    assert_absent(client, bucket, k4)
    assert client.list_objects(bucket, prefix=prefix).contents == []


def test_keys_with_special_characters(client, bucket, prefix):
    names = ["a b/c d.txt", "\u00fcn\u00efc\u00f6d\u00e9/\u6587\u4ef6.txt", "plus+equals=amp&pct%25", "tilde~star*(1)", "a/b", "a/b/c", "..x/y"]
    keys = [prefix + n for n in names]
    for k in keys:
        client.put_object_from_string(bucket, k, k)
    for k in keys:
        assert read_object(client, bucket, k) == k.encode(), k
        assert int(head(client, bucket, k).content_length) == len(k.encode())
    listed = [c.key for c in client.list_objects(bucket, prefix=prefix).contents]
    assert listed == sorted(keys, key=lambda k: k.encode())
    copy = prefix + "copy of " + names[1]
    client.copy_object(bucket, keys[1], bucket, copy)
    assert read_object(client, bucket, copy) == keys[1].encode()
    response = client.delete_multiple_objects(bucket, keys + [copy])
    assert not response.errors
    assert client.list_objects(bucket, prefix=prefix).contents == []


# ---------------------------------------------------------------------------------------------
# progress, traffic limit, authentication, integrity


def test_progress_callback(client, bucket, prefix, tmp_path, capsys):
    data = os.urandom(3 * MIB + 17)
    path = write_file(tmp_path, "progress.bin", data)
    calls = []
    with open(path, "rb") as fp:
        client.put_object(bucket, prefix + "p", fp, len(data), md5_b64(data),
                          progress_callback=lambda consumed, total: calls.append((consumed, total)))
    assert calls, "progress callback never called"
    assert calls[-1] == (len(data), len(data))
    assert all(total == len(data) for _, total in calls)
    consumed = [c for c, _ in calls]
    assert consumed == sorted(consumed) and consumed[0] > 0
    assert read_object(client, bucket, prefix + "p") == data

    calls.clear()
    client.append_object_from_string(bucket, prefix + "a", "x" * 20_000, progress_callback=lambda c, t: calls.append((c, t)))
    assert calls[-1] == (20_000, 20_000)

    capsys.readouterr()
    client.put_object_from_file(bucket, prefix + "d", path, progress_callback=utils.default_progress_callback)
    client.put_object_from_string(bucket, prefix + "s", "small", progress_callback=utils.default_progress_callback)
    out = capsys.readouterr().out
    assert out.count("100%[") == 2, out[-300:]
    assert read_object(client, bucket, prefix + "d") == data


def test_traffic_limit(client, bucket, prefix, tmp_path):
    data = b"rate limited " * 100
    client.put_object_from_string(bucket, prefix + "low", data, traffic_limit=819200 * 5)
    client.put_object_from_file(bucket, prefix + "high", write_file(tmp_path, "t", data), traffic_limit=838860800)
    client.append_object_from_string(bucket, prefix + "app", "abc", traffic_limit=819200)
    assert read_object(client, bucket, prefix + "low") == data
    assert read_object(client, bucket, prefix + "high") == data
    assert read_object(client, bucket, prefix + "app") == b"abc"

    for bad in (819199, 838860801, "fast"):
        err = bos_error(400, None, client.put_object_from_string, bucket, prefix + "bad", data, traffic_limit=bad)
        assert err.code, "400 without an error code"
    bos_error(400, None, client.append_object_from_string, bucket, prefix + "bad", "abc", traffic_limit=100)
    assert_absent(client, bucket, prefix + "bad")


def test_wrong_secret_key_is_rejected(client, bucket, prefix, server_env):
    endpoint = server_env["BOSMOUNT_SDK_ENDPOINT"]
    wrong_secret = make_client(endpoint, server_env["BCE_ACCESS_KEY_ID"], server_env["BCE_SECRET_ACCESS_KEY"] + "x")
    key = prefix + "unsigned"
    bos_error(403, "SignatureDoesNotMatch", wrong_secret.put_object_from_string, bucket, key, "data")
    bos_error(403, "SignatureDoesNotMatch", wrong_secret.list_objects, bucket)
    assert_absent(client, bucket, key)

    unknown_key = make_client(endpoint, "no-such-access-key", server_env["BCE_SECRET_ACCESS_KEY"])
    bos_error(403, None, unknown_key.put_object_from_string, bucket, key, "data")
    assert_absent(client, bucket, key)


def test_bad_digest_stores_nothing(client, bucket, prefix, tmp_path):
    data = b"the real bytes" * 100
    key = prefix + "bad-md5"
    bos_error(400, "BadDigest", client.put_object, bucket, key, io.BytesIO(data), len(data), md5_b64(b"other bytes"))
    assert_absent(client, bucket, key)

    # A wrong x-bce-content-crc32 (what the SDK sends when no MD5 is given).
    bos_error(400, "BadDigest", client.put_object_from_string, bucket, key, data, content_crc32="12345")
    assert_absent(client, bucket, key)

    # A wrong x-bce-content-sha256.
    bos_error(400, "BadDigest", client.put_object, bucket, key, io.BytesIO(data), len(data),
              content_sha256=hashlib.sha256(b"other").hexdigest())
    assert_absent(client, bucket, key)
    # The right SHA-256 (and no MD5 / CRC32) is accepted.
    client.put_object(bucket, key + "-sha", io.BytesIO(data), len(data), content_sha256=sha256_hex(data))
    assert read_object(client, bucket, key + "-sha") == data

    # A failed overwrite keeps the old object.
    client.put_object_from_string(bucket, key, "old")
    bos_error(400, "BadDigest", client.put_object, bucket, key, io.BytesIO(data), len(data), md5_b64(b"x"))
    assert read_object(client, bucket, key) == b"old"

    # A part with a bad MD5 is not recorded.
    mp = prefix + "mp"
    upload_id = client.initiate_multipart_upload(bucket, mp).upload_id
    path = write_file(tmp_path, "part", data)
    bos_error(400, "BadDigest", client.upload_part_from_file, bucket, mp, upload_id, 1, len(data), path, 0,
              part_md5=md5_b64(b"nope"))
    assert client.list_parts(bucket, mp, upload_id).parts == []
    client.abort_multipart_upload(bucket, mp, upload_id)


# ---------------------------------------------------------------------------------------------
# the rest of the seed page: cancel of an encapsulated upload, upload_part_copy and the
# traffic-limit examples, fetch; presigned URLs and request expiry


def test_put_super_object_cancel_aborts_the_upload(default_client, client, bucket, prefix, tmp_path):
    data = os.urandom(2 * PART + 10)
    path = write_file(tmp_path, "cancelled.bin", data)
    key = prefix + "cancelled.bin"
    handle = UploadTaskHandle()
    # Cancel from inside the upload (deterministic, unlike the seed page's sleep-then-cancel).
    result = default_client.put_super_object_from_file(
        bucket, key, path, chunk_size=5, thread_num=2, uploadTaskHandle=handle,
        progress_callback=lambda consumed, total: handle.cancel(),
    )
    assert result is False
    assert handle.is_cancel()
    assert pending_uploads(client, bucket, prefix) == set(), "cancelled upload not aborted"
    assert_absent(client, bucket, key)


def test_upload_part_copy_and_traffic_limit_examples(client, bucket, prefix, tmp_path):
    speed = 819200 * 5
    data = os.urandom(PART + 4321)
    path = write_file(tmp_path, "src.bin", data)
    src = prefix + "src"
    client.put_object_from_file(bucket, src, path, traffic_limit=838860800)

    # SuperFile steps with traffic_limit, as on the seed page.
    key = prefix + "parts"
    upload_id = client.initiate_multipart_upload(bucket, key).upload_id
    part_list = []
    offset, number = 0, 1
    while offset < len(data):
        size = min(PART, len(data) - offset)
        response = client.upload_part_from_file(bucket, key, upload_id, number, size, path, offset, traffic_limit=838860800)
        part_list.append({"partNumber": number, "eTag": response.metadata.etag})
        offset += size
        number += 1
    client.complete_multipart_upload(bucket, key, upload_id, part_list)
    assert sha256_hex(read_object(client, bucket, key)) == sha256_hex(data)

    # upload_part_copy: the object rebuilt from ranges of another one.
    copy_key = prefix + "part-copy"
    upload_id = client.initiate_multipart_upload(bucket, copy_key).upload_id
    first = client.upload_part_copy(bucket, src, bucket, copy_key, upload_id, 1, PART, 0, traffic_limit=838860800)
    second = client.upload_part_copy(bucket, src, bucket, copy_key, upload_id, 2, len(data) - PART, PART)
    assert first.etag == md5_hex(data[:PART])
    assert second.etag == md5_hex(data[PART:])
    listed = client.list_parts(bucket, copy_key, upload_id)
    assert [(p.part_number, p.size) for p in listed.parts] == [(1, PART), (2, len(data) - PART)]
    client.complete_multipart_upload(bucket, copy_key, upload_id, [
        {"partNumber": 1, "eTag": first.etag}, {"partNumber": 2, "eTag": second.etag}])
    assert sha256_hex(read_object(client, bucket, copy_key)) == sha256_hex(data)

    # copy_object and append_object with traffic_limit.
    client.copy_object(bucket, src, bucket, prefix + "copied", traffic_limit=speed)
    assert sha256_hex(read_object(client, bucket, prefix + "copied")) == sha256_hex(data)
    small = b"appended with a rate limit"
    client.append_object(bucket, prefix + "appended", io.BytesIO(small), len(small), traffic_limit=speed)
    assert read_object(client, bucket, prefix + "appended") == small
    bos_error(400, None, client.copy_object, bucket, src, bucket, prefix + "never", traffic_limit=1)
    bos_error(400, None, client.upload_part_from_file, bucket, key, upload_id, 1, 10, path, 0, traffic_limit=10 ** 10)
    assert_absent(client, bucket, prefix + "never")


def test_fetch_object_or_clean_refusal(client, bucket, prefix):
    import http.server
    import threading

    body = b"fetched from a URL\n" * 50

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=origin.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d/file.txt" % origin.server_address[1]
        key = prefix + "fetched"
        try:
            client.fetch_object(bucket, key, url)
        except BceHttpClientError as e:
            # The local server may not implement FetchObject; then it must say so as BOS would.
            err = e.last_error
            assert isinstance(err, BceServerError), repr(err)
            assert (err.status_code, err.code) == (501, "NotImplemented"), (err.status_code, err.code, str(err))
            assert_absent(client, bucket, key)
            print("FetchObject: server answers 501 NotImplemented")
        else:
            assert read_object(client, bucket, key) == body
    finally:
        origin.shutdown()
        origin.server_close()


def test_presigned_urls(client, bucket, prefix):
    key = prefix + "shared file.txt"
    data = b"shared through a presigned URL"
    client.put_object_from_string(bucket, key, data)

    url = client.generate_pre_signed_url(bucket, key, expiration_in_seconds=300).decode()
    assert "authorization=" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        assert answer.read() == data

    put_key = prefix + "uploaded"
    put_url = client.generate_pre_signed_url(bucket, put_key, expiration_in_seconds=300, httpmethod=b"PUT").decode()
    request = urllib.request.Request(put_url, data=b"put by URL", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    assert read_object(client, bucket, put_key) == b"put by URL"

    # Signed an hour ago, valid for a minute.
    expired = client.generate_pre_signed_url(bucket, key, timestamp=int(time.time()) - 3600, expiration_in_seconds=60).decode()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(expired, timeout=10)
    assert info.value.code in (400, 403), info.value.code
    assert json.loads(info.value.read())["code"] == "RequestExpired"

    tampered = url.replace(urllib.parse.quote(key.split("/")[-1]), "other.txt")
    assert tampered != url
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(tampered, timeout=10)
    assert info.value.code == 403
    assert json.loads(info.value.read())["code"] == "SignatureDoesNotMatch"


def test_presigned_put_cannot_be_widened_by_unsigned_headers(client, bucket, prefix):
    """A presigned PUT signs only host (the SDK's choice); any x-bce-* header a holder of
    the URL adds is not covered by the signature and must not act: an unsigned
    x-bce-copy-source would turn the upload into a copy of any object."""
    secret = prefix + "secret"
    client.put_object_from_string(bucket, secret, b"private data")
    key = prefix + "drop"
    url = client.generate_pre_signed_url(bucket, key, expiration_in_seconds=300, httpmethod=b"PUT").decode()
    for name, value in (("x-bce-copy-source", "/%s/%s" % (bucket, urllib.parse.quote(secret))),
                        ("x-bce-meta-owner", "mallory"),
                        ("x-bce-storage-class", "COLD")):
        request = urllib.request.Request(url, data=b"payload", method="PUT", headers={name: value})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        assert info.value.code == 403, name
        assert json.loads(info.value.read())["code"] == "SignatureDoesNotMatch", name
    assert_absent(client, bucket, key)
    # Headers the URL was made with are signed (the SDK signs x-bce-* without listing them).
    signed_url = client.generate_pre_signed_url(bucket, key, headers={b"x-bce-meta-owner": b"alice"},
                                                expiration_in_seconds=300, httpmethod=b"PUT").decode()
    request = urllib.request.Request(signed_url, data=b"payload", method="PUT",
                                     headers={"x-bce-meta-owner": "alice"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    meta = client.get_object_meta_data(bucket, key)
    assert meta.metadata.bce_meta_owner == "alice"


def test_presigned_expiration_is_capped_at_seven_days(client, bucket, prefix):
    key = prefix + "week"
    client.put_object_from_string(bucket, key, b"w")
    week = client.generate_pre_signed_url(bucket, key, expiration_in_seconds=7 * 24 * 3600).decode()
    with urllib.request.urlopen(week, timeout=10) as answer:
        assert answer.read() == b"w"
    for seconds in (7 * 24 * 3600 + 1, 10 ** 10):
        url = client.generate_pre_signed_url(bucket, key, expiration_in_seconds=seconds).decode()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=10)
        assert info.value.code == 400, seconds
        assert json.loads(info.value.read())["code"] == "InvalidHTTPAuthHeader", seconds


def test_dot_segments_in_keys(client, bucket, prefix, server_env):
    # The SDK refuses such keys itself ...
    for key in (prefix + "../x", prefix + "./x", prefix + "a/.."):
        with pytest.raises(ValueError):
            client.put_object_from_string(bucket, key, b"x")
    # ... and the server answers 400 InvalidURI to a request that carries one anyway.
    url = "%s/%s/%s../x" % (server_env["BOSMOUNT_SDK_ENDPOINT"], bucket, prefix)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="PUT"), timeout=10)
    assert info.value.code == 400
    assert json.loads(info.value.read())["code"] == "InvalidURI"


def test_expired_signature_is_rejected(client, bucket, prefix, monkeypatch):
    from baidubce.auth import bce_v1_signer

    sign = bce_v1_signer.sign

    def sign_an_hour_ago(credentials, method, path, headers, params, timestamp=0, expiration_in_seconds=1800,
                         headers_to_sign=None):
        return sign(credentials, method, path, headers, params, int(time.time()) - 3600, 60, headers_to_sign)

    monkeypatch.setattr(bce_v1_signer, "sign", sign_an_hour_ago)
    # BOS's status for RequestExpired is not documented (bos-protocol.md section 13): 400 or 403.
    bos_error((400, 403), "RequestExpired", client.put_object_from_string, bucket, prefix + "late", "x")
    monkeypatch.undo()
    assert_absent(client, bucket, prefix + "late")


# ---------------------------------------------------------------------------------------------
# further BOS rules reachable through the SDK (bos-protocol.md sections 5, 6 and 12)


def test_conditional_reads_and_writes(client, bucket, prefix):
    key = prefix + "cond"
    client.put_object_from_string(bucket, key, "v1")
    etag = head(client, bucket, key).etag
    quoted = '"%s"' % etag

    assert client.get_object_as_string(bucket, key, cond_read_write={"If-Match": quoted}) == b"v1"
    bos_error(412, "PreconditionFailed", client.get_object_as_string, bucket, key, cond_read_write={"If-Match": '"%s"' % ("0" * 32)})
    bos_error(304, None, client.get_object_meta_data, bucket, key, cond_read_write={"If-None-Match": quoted})
    bos_error(412, None, client.get_object_meta_data, bucket, key,
              cond_read_write={"If-Unmodified-Since": "Thu, 01 Jan 2004 00:00:00 GMT"})

    # If-None-Match: * creates only when the key is absent.
    bos_error(412, "PreconditionFailed", client.put_object_from_string, bucket, key, "v2", cond_read_write={"If-None-Match": "*"})
    assert read_object(client, bucket, key) == b"v1"
    fresh = prefix + "fresh"
    client.put_object_from_string(bucket, fresh, "created", cond_read_write={"If-None-Match": "*"})
    assert read_object(client, bucket, fresh) == b"created"
    client.put_object_from_string(bucket, key, "v2", cond_read_write={"If-Match": quoted})
    assert read_object(client, bucket, key) == b"v2"


def test_object_rules(client, bucket, prefix):
    # Keys are 1..1023 bytes.
    longest = prefix + "k" * (1023 - len(prefix.encode()))
    client.put_object_from_string(bucket, longest, "long")
    assert read_object(client, bucket, longest) == b"long"
    bos_error(400, None, client.put_object_from_string, bucket, longest + "k", "too long")

    # An unknown storage class is refused; ARCHIVE objects cannot be appended.
    bos_error(400, None, client.put_object_from_string, bucket, prefix + "weird", "x", storage_class=b"WARM")
    assert_absent(client, bucket, prefix + "weird")
    bos_error(400, None, client.append_object_from_string, bucket, prefix + "archived-log", "x",
              storage_class=storage_class.ARCHIVE)
    assert_absent(client, bucket, prefix + "archived-log")

    # A Range on an empty object is a 400.
    client.put_object_from_string(bucket, prefix + "empty", "")
    bos_error(400, None, client.get_object_as_string, bucket, prefix + "empty", range=[0, 0])

    # Copy may change the storage class.
    client.put_object_from_string(bucket, prefix + "hot", "data")
    client.copy_object(bucket, prefix + "hot", bucket, prefix + "cold", storage_class=storage_class.COLD)
    assert head(client, bucket, prefix + "cold").bce_storage_class == "COLD"
    assert read_object(client, bucket, prefix + "cold") == b"data"


def test_download_traffic_limit(client, bucket, prefix):
    # The seed page: a limit outside 819200..838860800 bit/s "will return the error code 400";
    # BOS applies the limit to downloads too (GetObject takes x-bce-traffic-limit).
    client.put_object_from_string(bucket, prefix + "hot", "data")
    got = client.get_object(bucket, prefix + "hot", traffic_limit=838860800)
    assert got.data.read() == b"data"
    got.data.close()
    bos_error(400, None, client.get_object, bucket, prefix + "hot", traffic_limit=5)


def test_head_of_appendable_object_has_whole_content_md5(client, bucket, prefix):
    # bos-protocol.md 5.3 and checklist item 5 (observed on the real service).
    log = prefix + "log"
    client.append_object_from_string(bucket, log, "abc")
    assert head(client, bucket, log).content_md5 == md5_b64(b"abc").decode()
    client.append_object_from_string(bucket, log, "def", offset=3)
    assert head(client, bucket, log).content_md5 == md5_b64(b"abcdef").decode()


def test_complete_with_user_metadata(client, bucket, prefix, tmp_path):
    key = prefix + "meta"
    path = write_file(tmp_path, "m", b"m" * 4096)
    upload_id = client.initiate_multipart_upload(bucket, key, content_type="text/csv").upload_id
    parts = upload_parts(client, bucket, key, upload_id, path)
    client.complete_multipart_upload(bucket, key, upload_id, parts, user_metadata={"origin": "multipart"})
    meta = head(client, bucket, key)
    assert meta.bce_meta_origin == "multipart"
    assert meta.content_type == "text/csv"


def test_delimiter_pagination_and_upload_prefixes(client, bucket, prefix):
    names = ["a/1", "a/2", "b", "c/1", "c/2", "c/3", "d", "e/x/y"]
    for n in names:
        client.put_object_from_string(bucket, prefix + n, n)
    full = client.list_objects(bucket, prefix=prefix, delimiter="/")
    expected_keys = [prefix + n for n in ("b", "d")]
    expected_prefixes = [prefix + n for n in ("a/", "c/", "e/")]
    assert [c.key for c in full.contents] == expected_keys
    assert [p.prefix for p in full.common_prefixes] == expected_prefixes

    # One entry (object or common prefix) per page; the marker must step over a whole prefix.
    keys, prefixes, marker = [], [], None
    for _ in range(20):
        page = client.list_objects(bucket, prefix=prefix, delimiter="/", max_keys=1, marker=marker)
        keys += [c.key for c in page.contents]
        prefixes += [p.prefix for p in (page.common_prefixes or [])]
        assert len(page.contents) + len(page.common_prefixes or []) <= 1
        if not page.is_truncated:
            break
        marker = page.next_marker
    assert keys == expected_keys
    assert prefixes == expected_prefixes

    ids = [client.initiate_multipart_upload(bucket, prefix + n).upload_id for n in ("up/1", "up/2", "top")]
    uploads = client.list_multipart_uploads(bucket, prefix=prefix, delimiter="/")
    assert [u.key for u in uploads.uploads] == [prefix + "top"]
    assert [p.prefix for p in uploads.common_prefixes] == [prefix + "up/"]
    for n, upload_id in zip(("up/1", "up/2", "top"), ids):
        client.abort_multipart_upload(bucket, prefix + n, upload_id)
