#!/usr/bin/env bash
# Append benchmark against the local server, through a real mount:
#   - 100 x (open O_APPEND, write one line, close), as a logger that reopens its file;
#   - 1000 x `echo "line $i" >> file` from a shell loop;
#   - one O_APPEND descriptor writing 10,000 lines, then close (coalescing).
# Prints the time and the requests per line of each (from the server's /_stats), and checks
# that each file holds exactly the lines written.
# Usage: scripts/bench-append.sh [--latency-ms N]
set -euo pipefail
cd "$(dirname "$0")/.."
LATENCY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --latency-ms) LATENCY=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cargo build --release --quiet
BIN=$PWD/target/release/bosmount
WORK=$(mktemp -d /tmp/bosmount-bench-append.XXXXXX)
MNT=$WORK/mnt; DATA=$WORK/data; mkdir -p "$MNT" "$DATA"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --data "$DATA" --listen 127.0.0.1:$PORT --bucket bench --latency-ms "$LATENCY" >"$WORK/server.log" 2>&1 &
SERVER=$!
MOUNT_PID=""
cleanup() {
  fusermount3 -u "$MNT" 2>/dev/null || true
  [ -n "$MOUNT_PID" ] && kill "$MOUNT_PID" 2>/dev/null || true
  kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/_stats" >/dev/null && break; sleep 0.1; done
stats() { curl -s "http://127.0.0.1:$PORT/_stats"; }
reset() { curl -s -X DELETE "http://127.0.0.1:$PORT/_stats" >/dev/null; }
# Requests per unit: "total=N (x/line) Op=n (y/line) ..."
per() {
  python3 -c '
import json, sys
units, unit = int(sys.argv[1]), sys.argv[2]
d = json.load(sys.stdin)["requests"]
total = sum(d.values())
parts = [f"{k}={v} ({v/units:.2f}/{unit})" for k, v in sorted(d.items()) if v]
print(f"total={total} ({total/units:.2f}/{unit}); " + ", ".join(parts))' "$1" "$2"
}
secs() { python3 -c "import time; print(time.time())"; }
elapsed() { python3 -c "print(f'{$2-$1:.2f}')"; }

export BCE_ACCESS_KEY_ID=bosmount-local-ak BCE_SECRET_ACCESS_KEY=bosmount-local-secret
"$BIN" mount bench "$MNT" --endpoint "http://127.0.0.1:$PORT" --foreground >"$WORK/mount.log" 2>&1 &
MOUNT_PID=$!
for _ in $(seq 100); do grep -q " $MNT " /proc/mounts && break; sleep 0.1; done
grep -q " $MNT " /proc/mounts || { echo "mount failed:"; cat "$WORK/mount.log"; exit 1; }
echo "server latency: ${LATENCY} ms"

check() { # check FILE PREFIX N: the file holds exactly "PREFIX 1".."PREFIX N"
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = "".join(f"{prefix} {i}\n" for i in range(1, n + 1))
got = open(path).read()
print("content: OK" if got == want else f"content: WRONG ({len(got)} bytes, want {len(want)})")
PY
}

echo "== 100 x (open O_APPEND, write a line, close)"
reset; t0=$(secs)
python3 - "$MNT/reopen.log" <<'PY'
import os, sys
for i in range(1, 101):
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"line {i}\n".encode())
    os.close(fd)
PY
t1=$(secs)
echo "time: $(elapsed $t0 $t1) s ($(python3 -c "print(f'{($t1-$t0)*1000/100:.1f}')") ms/line)"
echo "requests: $(stats | per 100 line)"
check "$MNT/reopen.log" line 100

echo "== 1000 x echo \"line \$i\" >> file"
reset; t0=$(secs)
sh -c "for i in \$(seq 1000); do echo \"line \$i\" >> '$MNT/echo.log'; done"
t1=$(secs)
echo "time: $(elapsed $t0 $t1) s ($(python3 -c "print(f'{($t1-$t0)*1000/1000:.1f}')") ms/line)"
echo "requests: $(stats | per 1000 line)"
check "$MNT/echo.log" line 1000

echo "== one O_APPEND descriptor, 10,000 lines, close"
reset; t0=$(secs)
python3 - "$MNT/stream.log" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(1, 10001):
    os.write(fd, f"line {i}\n".encode())
os.close(fd)
PY
t1=$(secs)
echo "time: $(elapsed $t0 $t1) s"
echo "requests: $(stats | per 10000 line)"
check "$MNT/stream.log" line 10000
