#!/usr/bin/env bash
# `ls -l` benchmark: 2,500 files written through a mount with chmod and utimes (so they carry
# user metadata), then the server restarted with --latency-ms (default 20) and a fresh mount:
# time of `ls` (names only), of `ls -l` (cold), and of `ls -l` again (cached), with LIST and
# HEAD requests per listed entry from the server's /_stats. Also checks that ls -l shows the
# modes and times that were set.
# Usage: scripts/bench-ls.sh [--latency-ms N] [--files N]
set -euo pipefail
cd "$(dirname "$0")/.."
LATENCY=20; FILES=2500
while [ $# -gt 0 ]; do
  case "$1" in
    --latency-ms) LATENCY=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
source scripts/bench-lib.sh
bench_setup ls
# per_entry UNITS (stats on stdin): LIST and HEAD requests per listed entry.
per_entry() {
  python3 -c '
import json, sys
units = int(sys.argv[1])
d = json.load(sys.stdin)["requests"]
total = sum(d.values())
lst, head = d.get("ListObjects", 0), d.get("GetObjectMeta", 0)
others = " ".join(f"{k}={v}" for k, v in sorted(d.items()) if v and k not in ("ListObjects", "GetObjectMeta"))
print(f"LIST={lst} ({lst/units:.4f}/entry) HEAD={head} ({head/units:.4f}/entry) total={total} {others}")' "$1"
}

echo "== writing $FILES files with chmod 640 and an mtime (server without latency)"
start_server 0
mount_it
t0=$(secs)
python3 - "$MNT/many" "$FILES" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
for i in range(n):
    p = os.path.join(d, f"f{i:05d}")
    with open(p, "wb") as f:
        f.write(b"x" * (i % 100))
    os.chmod(p, 0o640)
    os.utime(p, (1_500_000_000 + i, 1_500_000_000 + i))
PY
echo "written in $(elapsed $t0 $(secs)) s"
unmount_it
stop_server

echo "== server restarted with --latency-ms $LATENCY, fresh mount"
start_server "$LATENCY"
mount_it
reset; t0=$(secs); n=$(ls "$MNT/many" | wc -l); t1=$(secs)
echo "ls (names only): $n entries in $(elapsed $t0 $t1) s   $(stats | per_entry "$FILES")"
unmount_it; mount_it
reset; t0=$(secs); ls -l --time-style=+%s "$MNT/many" >"$WORK/ls.txt"; t1=$(secs)
echo "ls -l (cold): $(grep -c '^-' "$WORK/ls.txt") files in $(elapsed $t0 $t1) s   $(stats | per_entry "$FILES")"
reset; t0=$(secs); ls -l "$MNT/many" >/dev/null; t1=$(secs)
echo "ls -l (again, within the metadata TTL): $(elapsed $t0 $t1) s   $(stats | per_entry "$FILES")"
python3 - "$WORK/ls.txt" <<'PY'
import sys
bad = 0
for line in open(sys.argv[1]):
    f = line.split()
    if not line.startswith("-"):
        continue
    i = int(f[-1][1:])
    if f[0] != "-rw-r-----" or f[5] != str(1_500_000_000 + i):
        bad += 1
print("ls -l shows the persisted modes and times: " + ("yes" if bad == 0 else f"NO ({bad} entries differ)"))
PY
