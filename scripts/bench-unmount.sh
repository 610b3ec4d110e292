#!/usr/bin/env bash
# Unmount benchmark: N files (default 100) written through a mount, then each chmod'ed,
# then `fusermount3 -u` at once — while every attribute change still waits for its deferred
# store. Prints how long the mount process takes to exit (it stores every pending change,
# many at once, before it does), the requests that cost, and checks after a remount that
# every mode was stored.
# Usage: scripts/bench-unmount.sh [--latency-ms N] [--files N]
set -euo pipefail
cd "$(dirname "$0")/.."
LATENCY=20; FILES=100
while [ $# -gt 0 ]; do
  case "$1" in
    --latency-ms) LATENCY=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
source scripts/bench-lib.sh
bench_setup unmount
start_server "$LATENCY"
mount_it
for i in $(seq "$FILES"); do echo "$i" >"$MNT/f$i"; done
reset
for i in $(seq "$FILES"); do chmod 600 "$MNT/f$i"; done
t0=$(secs)
fusermount3 -u "$MNT"; wait "$MOUNT_PID" || true; MOUNT_PID=""
t1=$(secs)
echo "unmount with $FILES pending attribute changes at --latency-ms $LATENCY: $(elapsed "$t0" "$t1") s"
echo "requests: $(stats | per "$FILES" file)"
mount_it
wrong=$(stat -c '%a' "$MNT"/f* | grep -vc '^600$' || true)
echo "files without mode 600 after a remount: $wrong"
unmount_it
[ "$wrong" = 0 ]
