#!/usr/bin/env bash
# Mount benchmark against the local server: 1 GiB write and read through the mount
# (MB/s), peak RSS of the mount process while dd writes a 2 GiB file, 1000 x 4 KiB files
# (files/s), `ls -l` of 5000 objects, and the requests each cost (from the server's /_stats).
# Usage: scripts/bench-mount.sh [--part-size BYTES] [--upload-concurrency N]
set -euo pipefail
cd "$(dirname "$0")/.."
PART_SIZE=$((8 * 1024 * 1024)); CONC=4
while [ $# -gt 0 ]; do
  case "$1" in
    --part-size) PART_SIZE=$2; shift 2 ;;
    --upload-concurrency) CONC=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
source scripts/bench-lib.sh
bench_setup mount
start_server 0
req() { python3 -c 'import json,sys; d=json.load(sys.stdin)["requests"]; print(" ".join(f"{k}={v}" for k,v in sorted(d.items()) if v))'; }

mount_it --part-size "$PART_SIZE" --upload-concurrency "$CONC"

remount() { unmount_it; mount_it --part-size "$PART_SIZE" --upload-concurrency "$CONC"; }
peak_rss() { grep VmHWM "/proc/$MOUNT_PID/status" | awk '{print $2}'; }
rate() { python3 -c "print(f'{$1/($3-$2):.1f}')"; }

echo "== ceiling: 1 GiB to local disk"
t0=$(secs); dd if=/dev/zero of="$WORK/local.bin" bs=1M count=1024 conv=fsync status=none; t1=$(secs)
echo "local disk write: $(rate 1024 $t0 $t1) MiB/s"; rm -f "$WORK/local.bin"

echo "== 1 GiB write through the mount"
head -c $((1024*1024*1024)) /dev/urandom >"$WORK/src.bin"
reset; t0=$(secs); dd if="$WORK/src.bin" of="$MNT/big.bin" bs=1M status=none; t1=$(secs)
echo "write: $(rate 1024 $t0 $t1) MiB/s   requests: $(stats | req)"

echo "== 1 GiB read through the mount"
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
reset; t0=$(secs); dd if="$MNT/big.bin" of=/dev/null bs=1M status=none; t1=$(secs)
echo "read: $(rate 1024 $t0 $t1) MiB/s   requests: $(stats | req)"
cmp "$WORK/src.bin" "$MNT/big.bin" && echo "read back: identical"
rm -f "$WORK/src.bin" "$MNT/big.bin"

echo "== 2 GiB dd on a fresh mount: peak RSS of the mount process"
remount
dd if=/dev/zero of="$MNT/two.bin" bs=1M count=2048 status=none
limit=$(( (PART_SIZE * (CONC + 2) + 64*1024*1024) / 1024 ))
echo "peak RSS: $(( $(peak_rss) / 1024 )) MiB (limit part-size x (concurrency + 2) + 64 MiB = $((limit/1024)) MiB)"
rm -f "$MNT/two.bin"

echo "== 1000 x 4 KiB files"
head -c 4096 /dev/urandom >"$WORK/small"
mkdir "$MNT/small"; reset; t0=$(secs)
for i in $(seq 1000); do cp "$WORK/small" "$MNT/small/f$i"; done; t1=$(secs)
echo "small files: $(rate 1000 $t0 $t1) files/s   requests: $(stats | req)"

echo "== ls -l of 5000 objects"
mkdir "$MNT/many"
python3 - "$MNT/many" <<'PY'
import os, sys
for i in range(5000):
    with open(os.path.join(sys.argv[1], f"f{i:05d}"), "wb") as f:
        f.write(b"x")
PY
remount
reset; t0=$(secs); n=$(ls -l "$MNT/many" | wc -l); t1=$(secs)
echo "ls -l: $n lines in $(python3 -c "print(f'{$t1-$t0:.2f}')") s   requests: $(stats | req)"
