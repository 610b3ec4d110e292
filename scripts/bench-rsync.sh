#!/usr/bin/env bash
# rsync benchmark against the local server, through a real mount: `rsync -a` of a tree of
# 500 files totalling about 137 MiB (450 small files, 50 of a few MiB, nested directories),
# then the same rsync again (nothing to transfer) on the same mount, and once more after a
# remount. Prints times, files transferred and requests per file (from /_stats), and checks
# the copy with diff -r.
# Usage: scripts/bench-rsync.sh [--latency-ms N]
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
WORK=$(mktemp -d /tmp/bosmount-bench-rsync.XXXXXX)
MNT=$WORK/mnt; DATA=$WORK/data; SRC=$WORK/src; mkdir -p "$MNT" "$DATA" "$SRC"
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
transferred() { grep "Number of regular files transferred" | sed 's/.*: //'; }

echo "== generating the source tree"
python3 - "$SRC" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(137)
dirs = ["", "a", "a/b", "a/b/c", "docs", "docs/img", "logs", "deep/1/2/3"]
total_target = 137 * 1024 * 1024
small = [rng.randint(1, 64 * 1024) for _ in range(450)]
rest = total_target - sum(small)
large = [rest // 50] * 50
large[-1] += rest - sum(large)
sizes = small + large
rng.shuffle(sizes)
for i, size in enumerate(sizes):
    d = os.path.join(root, dirs[i % len(dirs)])
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, f"file{i:03d}.bin")
    with open(p, "wb") as f:
        f.write(os.urandom(size))
    os.chmod(p, [0o644, 0o600, 0o755, 0o640][i % 4])
    t = 1_600_000_000 + i * 3600 + 0.123456
    os.utime(p, (t, t))
os.symlink("../file000.bin", os.path.join(root, "a", "up.lnk"))
os.symlink("nowhere", os.path.join(root, "dangling.lnk"))
print(f"{len(sizes)} files, {sum(sizes) / 1048576:.1f} MiB, 2 symlinks")
PY

export BCE_ACCESS_KEY_ID=bosmount-local-ak BCE_SECRET_ACCESS_KEY=bosmount-local-secret
mount_it() {
  "$BIN" mount bench "$MNT" --endpoint "http://127.0.0.1:$PORT" --foreground >>"$WORK/mount.log" 2>&1 &
  MOUNT_PID=$!
  for _ in $(seq 100); do grep -q " $MNT " /proc/mounts && break; sleep 0.1; done
  grep -q " $MNT " /proc/mounts || { echo "mount failed:"; cat "$WORK/mount.log"; exit 1; }
}
mount_it
echo "server latency: ${LATENCY} ms"

run_rsync() { # label
  reset; local t0 t1 out rc=0
  t0=$(secs)
  out=$(rsync -a --stats "$SRC/" "$MNT/dst/" 2>&1) || rc=$?
  t1=$(secs)
  echo "== $1: $(elapsed $t0 $t1) s, exit $rc, regular files transferred: $(echo "$out" | transferred)"
  echo "requests: $(stats | per 500 file)"
  [ "$rc" -eq 0 ] || { echo "rsync errors (first 5):"; echo "$out" | grep -E '^rsync' | head -5; }
}
run_rsync "first rsync -a (500 files)"
run_rsync "second rsync -a, same mount (no change)"
fusermount3 -u "$MNT"; wait "$MOUNT_PID" || true
mount_it
run_rsync "third rsync -a, after a remount (no change)"
if diff -r --no-dereference "$SRC" "$MNT/dst" >/dev/null; then echo "diff -r: identical"; else echo "diff -r: DIFFERENT"; fi
