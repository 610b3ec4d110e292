#!/usr/bin/env bash
# Create ./.venv (at the repository root) holding the official BOS Python SDK and pytest,
# used by the SDK conformance test (tests/sdk_conformance.rs, tests/sdk/).
# Idempotent: when the venv already has the pinned versions it returns at once.
set -euo pipefail

SDK_VERSION="0.9.79"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BOSMOUNT_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

have_all() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$SDK_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
assert version("bce-python-sdk") == sys.argv[1]
import pytest  # noqa: F401
import baidubce.services.bos.bos_client  # noqa: F401
PYEOF
}

if have_all; then
    exit 0
fi

# (Re)create the venv when it is missing or broken (e.g. a previous attempt without ensurepip).
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "python-venv: creating $VENV with $("$PY" --version 2>&1)" >&2
    if ! "$PY" -m venv --clear "$VENV"; then
        echo "python-venv: '$PY -m venv' failed; on Debian install python3-venv (apt-get install -y python3-venv)" >&2
        exit 1
    fi
fi

echo "python-venv: installing bce-python-sdk==$SDK_VERSION and pytest from PyPI" >&2
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --retries 2 --timeout 30 \
    "bce-python-sdk==$SDK_VERSION" pytest; then
    echo "python-venv: pip install failed (is PyPI reachable from this machine?)" >&2
    exit 1
fi

if ! have_all; then
    echo "python-venv: installed packages do not import; see pip output above" >&2
    exit 1
fi
echo "python-venv: ready ($VENV)" >&2
