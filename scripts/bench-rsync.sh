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
source scripts/bench-lib.sh
bench_setup rsync
SRC=$WORK/src; mkdir -p "$SRC"
start_server "$LATENCY"
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
unmount_it
mount_it
run_rsync "third rsync -a, after a remount (no change)"
if diff -r --no-dereference "$SRC" "$MNT/dst" >/dev/null; then echo "diff -r: identical"; else echo "diff -r: DIFFERENT"; fi
