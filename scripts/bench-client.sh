#!/usr/bin/env bash
# Benchmark of the BOS client against the local server (see examples/bench_client.rs).
# Builds in release mode, then runs; every argument is passed on, e.g.
#   scripts/bench-client.sh --size-mib 256 --small-count 200
#   scripts/bench-client.sh --endpoint http://127.0.0.1:8080 --bucket mybucket
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example bench_client
exec target/release/examples/bench_client "$@"
