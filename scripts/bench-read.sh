#!/usr/bin/env bash
# Read-path benchmark against the local server (`bosmount serve`), at 0 ms and at
# --latency-ms 20 (or the latencies given). For each latency, on a fresh (cold) mount each:
#   direct  the server's 1-stream GET of the 1 GiB object with the mount's client stack
#           (examples/bench_get.rs: one signed GET whose body is consumed as it arrives, the
#           baseline; one BosClient::get_object of the whole body; 8 MiB ranged GETs one at a time)
#   seq     dd bs=1M of the 1 GiB file
#   fio     randread 4 KiB and 1 MiB, 1 job and 4 jobs, O_DIRECT, on the 1 GiB file, with
#           --norandommap (fio's random map turns the end of each pass over the file into
#           sequential runs, which read-ahead then rightly serves)
#   multi   4 readers of 4 different 256 MiB files at once (per-reader and total MiB/s)
#   4 GiB   dd bs=1M of a 4 GiB file: peak RSS of the mount process
# and prints MiB/s, CPU-seconds per GiB read (user+system of the mount process, from
# /proc/PID/stat), GETs per MiB and bytes fetched per byte read (the server's /_stats), and
# the mount's peak RSS (VmHWM). The machine is shared, so each test runs --runs times.
# Usage: scripts/bench-read.sh [--latencies "0 20"] [--runs N] [--fio-secs N]
#        [--bin PATH] (a bosmount binary to measure instead of building this tree's)
#        [--no-big] (skip the 4 GiB read)  [--only "direct seq fio multi big"]
#        [-- MOUNT OPTIONS...] (passed to every mount, e.g. -- --read-ahead 33554432)
set -euo pipefail
cd "$(dirname "$0")/.."
LATENCIES="0 20"; RUNS=2; FIO_SECS=8; OTHER_BIN=""; ONLY="direct seq fio multi big"; MOUNT_OPTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --latencies) LATENCIES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --fio-secs) FIO_SECS=$2; shift 2 ;;
    --bin) OTHER_BIN=$2; shift 2 ;;
    --no-big) ONLY=${ONLY/big/}; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --) shift; MOUNT_OPTS=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v fio >/dev/null || { echo "fio is needed (apt-get install fio)" >&2; exit 2; }
source scripts/bench-lib.sh
bench_setup read
cargo build --release --quiet --example bench_get
GET=$PWD/target/release/examples/bench_get
[ -n "$OTHER_BIN" ] && BIN=$(readlink -f "$OTHER_BIN")
want() { [[ " $ONLY " == *" $1 "* ]]; }
EP="http://127.0.0.1:$PORT"

# CPU ticks (user+system) of a process; ticks per second.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
peak_rss_mib() { awk '/VmHWM/ {printf "%d", $2/1024}' "/proc/$MOUNT_PID/status"; }
cold() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
fresh_mount() { [ -n "$MOUNT_PID" ] && unmount_it; cold; mount_it "${MOUNT_OPTS[@]}"; }
# gets_and_ratio BYTES_READ: "GETs/MiB fetched/read" from the server's counters.
gets_and_ratio() {
  stats | python3 -c '
import json, sys
d = json.load(sys.stdin); n = int(sys.argv[1])
gets = d["requests"].get("GetObject", 0)
out = d["bytes_out"]
print(f"{gets} GETs ({gets / (n / 2**20):.3f}/MiB)  fetched/read {out / n:.3f}")' "$1"
}
# measure LABEL BYTES CMD...: run CMD against the current mount; print MiB/s, CPU-s/GiB,
# requests and bytes fetched per byte read.
measure() {
  local label=$1 bytes=$2; shift 2
  reset; local c0 t0 t1 c1
  c0=$(ticks "$MOUNT_PID"); t0=$(secs)
  "$@"
  t1=$(secs); c1=$(ticks "$MOUNT_PID")
  python3 -c "
b, s, c = $bytes, $t1 - $t0, ($c1 - $c0) / $HZ
print(f'  {\"$label\":<28} {b / 2**20 / s:8.0f} MiB/s  {c / (b / 2**30):5.2f} CPU-s/GiB  ', end='')"
  echo "$(gets_and_ratio "$bytes")"
}

echo "== setup: 1 GiB, 4 x 256 MiB$(want big && echo ', 4 GiB') through a mount (server at 0 ms)"
start_server 0
mount_it
head -c $((1024 * 1024 * 1024)) /dev/urandom >"$MNT/big.bin"
for i in 1 2 3 4; do head -c $((256 * 1024 * 1024)) /dev/urandom >"$MNT/quarter$i.bin"; done
if want big; then dd if=/dev/urandom of="$MNT/huge.bin" bs=16M count=256 status=none; fi
unmount_it
stop_server
GIB=$((1024 * 1024 * 1024))

for lat in $LATENCIES; do
  echo "== latency $lat ms"
  start_server "$lat"
  if want direct; then
    for _ in $(seq "$RUNS"); do
      echo "  direct 1-stream GET (stream) $("$GET" --endpoint "$EP" --key big.bin)"
      echo "  direct 1 GET, body in memory $("$GET" --endpoint "$EP" --key big.bin --mode whole)"
      echo "  direct 8 MiB GETs, 1 stream  $("$GET" --endpoint "$EP" --key big.bin --mode ranged)"
    done
  fi
  if want seq; then
    for _ in $(seq "$RUNS"); do
      fresh_mount
      measure "seq dd bs=1M (cold)" $GIB dd if="$MNT/big.bin" of=/dev/null bs=1M status=none
      echo "    peak RSS $(peak_rss_mib) MiB"
    done
  fi
  if want fio; then
    for bs in 4k 1m; do
      for jobs in 1 4; do
        fresh_mount
        out=$WORK/fio.json
        reset; c0=$(ticks "$MOUNT_PID")
        fio --name=rand --filename="$MNT/big.bin" --rw=randread --bs=$bs --numjobs=$jobs \
          --direct=1 --norandommap --ioengine=psync --time_based --runtime="$FIO_SECS" --group_reporting \
          --output-format=json --output="$out" >/dev/null
        c1=$(ticks "$MOUNT_PID")
        read -r iops mibs bytes < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]["read"]
iops, bw, n = j["iops"], j["bw_bytes"], j["io_bytes"]
print(f"{iops:.0f} {bw / 2**20:.1f} {n}")' "$out")
        printf '  fio randread %-4s %d job(s)   %6s IOPS %7s MiB/s  %5.2f CPU-s/GiB  %s\n' "$bs" "$jobs" \
          "$iops" "$mibs" "$(python3 -c "print(($c1 - $c0) / $HZ / ($bytes / 2**30))")" "$(gets_and_ratio "$bytes")"
      done
    done
  fi
  if want multi; then
    for _ in $(seq "$RUNS"); do
      fresh_mount
      reset; c0=$(ticks "$MOUNT_PID"); t0=$(secs); readers=()
      for i in 1 2 3 4; do
        ( s=$(secs); dd if="$MNT/quarter$i.bin" of=/dev/null bs=1M status=none; e=$(secs)
          python3 -c "print(f'{256 / ($e - $s):.0f}')" >"$WORK/multi$i" ) &
        readers+=($!)
      done
      wait "${readers[@]}"
      t1=$(secs); c1=$(ticks "$MOUNT_PID")
      per_reader=$(cat "$WORK"/multi[1-4] | tr '\n' ' ')
      python3 -c "
s, c = $t1 - $t0, ($c1 - $c0) / $HZ
print(f'  4 readers x 256 MiB           {1024 / s:8.0f} MiB/s total  {c:5.2f} CPU-s/GiB  per reader: $per_reader MiB/s  ', end='')"
      echo "$(gets_and_ratio $GIB)"
    done
  fi
  if want big; then
    fresh_mount
    measure "seq dd bs=1M of 4 GiB (cold)" $((4 * GIB)) dd if="$MNT/huge.bin" of=/dev/null bs=1M status=none
    echo "    peak RSS $(peak_rss_mib) MiB"
  fi
  [ -n "$MOUNT_PID" ] && unmount_it
  stop_server
done
