#!/usr/bin/env bash
# The project's test command: installs what the tests need on a Debian machine (fuse3,
# rsync, attr, a Python venv with the official BOS SDK), then runs lint and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
command -v getfattr >/dev/null 2>&1 || missing+=(attr)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
[ -e /dev/fuse ] || { echo "/dev/fuse is missing: the mount tests need FUSE" >&2; exit 1; }

if [ -f scripts/python-venv.sh ]; then
  bash scripts/python-venv.sh
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --all-targets --locked
