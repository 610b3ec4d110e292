"""Fixtures of the official-SDK conformance suite.

The suite drives a running `bosmount serve` with Baidu's own Python SDK (bce-python-sdk).
tests/sdk_conformance.rs starts the server and passes where it listens through the environment:

  BOSMOUNT_SDK_ENDPOINT   e.g. http://127.0.0.1:40123 (an IPv4 endpoint: the SDK uses path style)
  BOSMOUNT_SDK_BUCKET     a bucket the server created at start (--bucket)
  BCE_ACCESS_KEY_ID       the access key the server accepts
  BCE_SECRET_ACCESS_KEY   its secret
  BOSMOUNT_SDK_FAULTY_ENDPOINT  a second server (same bucket and keys) started with --fail-rate

A missing variable fails the run: the suite never skips.

By hand, against servers you started (the second one with --fail-rate 0.25):
  scripts/python-venv.sh
  BOSMOUNT_SDK_ENDPOINT=http://127.0.0.1:8080 BOSMOUNT_SDK_FAULTY_ENDPOINT=http://127.0.0.1:8081 \
  BOSMOUNT_SDK_BUCKET=demo BCE_ACCESS_KEY_ID=... BCE_SECRET_ACCESS_KEY=... .venv/bin/python -m pytest -v tests/sdk
"""

import os
import uuid

import pytest
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.retry.retry_policy import NoRetryPolicy
from baidubce.services.bos.bos_client import BosClient

REQUIRED_ENV = ("BOSMOUNT_SDK_ENDPOINT", "BOSMOUNT_SDK_BUCKET", "BCE_ACCESS_KEY_ID", "BCE_SECRET_ACCESS_KEY")


@pytest.fixture(scope="session")
def server_env():
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail("environment variables not set: %s (run through tests/sdk_conformance.rs)" % ", ".join(missing))
    return {name: os.environ[name] for name in REQUIRED_ENV}


def make_client(endpoint, access_key, secret_key, retry_policy=None):
    """A BosClient configured as the SDK documentation shows: BceCredentials + endpoint."""
    config = BceClientConfiguration(
        credentials=BceCredentials(access_key, secret_key),
        endpoint=endpoint,
        retry_policy=retry_policy,
    )
    return BosClient(config)


@pytest.fixture(scope="session")
def default_client(server_env):
    """Configured exactly as the documentation shows (default retry policy)."""
    return make_client(server_env["BOSMOUNT_SDK_ENDPOINT"], server_env["BCE_ACCESS_KEY_ID"], server_env["BCE_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="session")
def client(server_env):
    """Same credentials without retries, so a 5xx from the server fails the test instead of
    being hidden by the SDK's back-off (the SDK retries 500/503 up to three times)."""
    return make_client(
        server_env["BOSMOUNT_SDK_ENDPOINT"],
        server_env["BCE_ACCESS_KEY_ID"],
        server_env["BCE_SECRET_ACCESS_KEY"],
        retry_policy=NoRetryPolicy(),
    )


@pytest.fixture(scope="session")
def bucket(server_env):
    return server_env["BOSMOUNT_SDK_BUCKET"]


@pytest.fixture
def prefix(request):
    """A key prefix unique to one test, so tests never see each other's objects."""
    return "%s-%s/" % (request.node.name.replace("[", "-").replace("]", ""), uuid.uuid4().hex[:8])


@pytest.fixture(scope="session")
def faulty_endpoint(server_env):
    """A second server over its own data, started with --fail-rate: a share of its answers are
    injected 500 InternalError / 503 ServiceUnavailable / 429 RequestRateLimitExceeded."""
    endpoint = os.environ.get("BOSMOUNT_SDK_FAULTY_ENDPOINT")
    if not endpoint:
        pytest.fail("BOSMOUNT_SDK_FAULTY_ENDPOINT not set (run through tests/sdk_conformance.rs)")
    return endpoint
