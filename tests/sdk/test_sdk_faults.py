"""The official SDK against a server that injects retryable faults (`bosmount serve --fail-rate`).

Checks that injected failures are well-formed BOS errors the SDK parses (status, code,
requestId), and that the SDK's retries (it seeks request bodies back and re-signs) end with
correct objects: the server injects a fault before doing anything, so every retry is safe.

bce-python-sdk 0.9.79's BackOffRetryPolicy retries 500 and 503 but not 429
RequestRateLimitExceeded (bos-protocol.md section 8.3), so the retrying client here adds 429,
as an application facing BOS's rate limits would.
"""

import hashlib
import io
import os

import pytest
from baidubce.exception import BceHttpClientError, BceServerError
from baidubce.retry.retry_policy import BackOffRetryPolicy, NoRetryPolicy

from conftest import make_client

INJECTED = {(500, "InternalError"), (503, "ServiceUnavailable"), (429, "RequestRateLimitExceeded")}


class RetryAlsoRateLimited(BackOffRetryPolicy):
    """The SDK's back-off policy, short delays, plus 429 RequestRateLimitExceeded."""

    def __init__(self):
        BackOffRetryPolicy.__init__(self, max_error_retry=12, max_delay_in_millis=80, base_interval_in_millis=5)

    def should_retry(self, error, retries_attempted):
        # HEAD answers carry no body, so a 429 to a HEAD has no code: match the status too.
        if retries_attempted < self.max_error_retry and isinstance(error, BceServerError) \
                and (error.status_code == 429 or error.code == "RequestRateLimitExceeded"):
            return True
        return BackOffRetryPolicy.should_retry(self, error, retries_attempted)


@pytest.fixture(scope="module")
def retrying(faulty_endpoint, server_env):
    return make_client(faulty_endpoint, server_env["BCE_ACCESS_KEY_ID"], server_env["BCE_SECRET_ACCESS_KEY"],
                       retry_policy=RetryAlsoRateLimited())


@pytest.fixture(scope="module")
def no_retry(faulty_endpoint, server_env):
    return make_client(faulty_endpoint, server_env["BCE_ACCESS_KEY_ID"], server_env["BCE_SECRET_ACCESS_KEY"],
                       retry_policy=NoRetryPolicy())


def test_injected_faults_are_bos_errors(no_retry, bucket):
    outcomes = []
    for _ in range(60):
        try:
            no_retry.list_objects(bucket, max_keys=1)
            outcomes.append("ok")
        except BceHttpClientError as e:
            err = e.last_error
            assert isinstance(err, BceServerError), "not a parsed BOS error: %r" % (err,)
            assert (err.status_code, err.code) in INJECTED, (err.status_code, err.code, str(err))
            assert err.request_id
            outcomes.append(err.code)
    assert "ok" in outcomes, "no request got through"
    assert len(set(outcomes) - {"ok"}) >= 2, "expected several kinds of injected faults: %s" % outcomes


def test_retries_end_with_correct_objects(retrying, bucket, prefix, tmp_path):
    blobs = {prefix + "obj%02d" % i: os.urandom(1000 + i * 4099) for i in range(20)}
    for key, data in blobs.items():
        retrying.put_object_from_string(bucket, key, data)
    for key, data in blobs.items():
        assert retrying.get_object_as_string(bucket, key) == data
        assert retrying.get_object_meta_data(bucket, key).metadata.etag == hashlib.md5(data).hexdigest()
    assert [c.key for c in retrying.list_all_objects(bucket, prefix=prefix)] == sorted(blobs)

    log = prefix + "log"
    expected = b""
    offset = None
    for i in range(15):
        line = b"line %d\n" % i
        response = retrying.append_object(bucket, log, io.BytesIO(line), len(line), offset=offset)
        expected += line
        offset = int(response.metadata.bce_next_append_offset)
        assert offset == len(expected)
    assert retrying.get_object_as_string(bucket, log) == expected

    data = os.urandom(2 * 5 * 1024 * 1024 + 777)
    path = tmp_path / "big"
    path.write_bytes(data)
    assert retrying.put_super_object_from_file(bucket, prefix + "big", str(path), chunk_size=5, thread_num=3) is True
    assert hashlib.sha256(retrying.get_object_as_string(bucket, prefix + "big")).digest() == hashlib.sha256(data).digest()

    result = retrying.delete_multiple_objects(bucket, list(blobs) + [log, prefix + "big"])
    assert not result.errors
    assert retrying.list_objects(bucket, prefix=prefix).contents == []
