# Helpers shared by the mount benchmarks (scripts/bench-*.sh), sourced after their option
# parsing: `bench_setup NAME` builds the release binary and makes a work directory with a
# mount point and a data directory, removed (with the server and mount) on exit; then
# start_server / stop_server, mount_it / unmount_it, the server's request counters
# (stats, reset, per) and timing (secs, elapsed).

# bench_setup NAME: sets BIN, WORK, MNT, DATA, PORT; SERVER and MOUNT_PID hold the pids.
bench_setup() {
  cargo build --release --quiet
  BIN=$PWD/target/release/bosmount
  WORK=$(mktemp -d "/tmp/bosmount-bench-$1.XXXXXX")
  MNT=$WORK/mnt; DATA=$WORK/data; mkdir -p "$MNT" "$DATA"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  SERVER=""; MOUNT_PID=""
  trap bench_cleanup EXIT
  export BCE_ACCESS_KEY_ID=bosmount-local-ak BCE_SECRET_ACCESS_KEY=bosmount-local-secret
}

bench_cleanup() {
  fusermount3 -u "$MNT" 2>/dev/null || true
  [ -n "$MOUNT_PID" ] && kill "$MOUNT_PID" 2>/dev/null || true
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}

# start_server LATENCY_MS: serve bucket "bench" from $DATA on $PORT, once it answers.
start_server() {
  "$BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" --bucket bench --latency-ms "$1" >>"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/_stats" >/dev/null && break; sleep 0.1; done
}
stop_server() { kill "$SERVER"; wait "$SERVER" || true; SERVER=""; }

# mount_it [MOUNT OPTIONS...]: mount bucket "bench" on $MNT in the background; exits when
# the mount does not appear.
mount_it() {
  "$BIN" mount bench "$MNT" --endpoint "http://127.0.0.1:$PORT" --foreground "$@" >>"$WORK/mount.log" 2>&1 &
  MOUNT_PID=$!
  for _ in $(seq 100); do grep -q " $MNT " /proc/mounts && break; sleep 0.1; done
  grep -q " $MNT " /proc/mounts || { echo "mount failed:"; cat "$WORK/mount.log"; exit 1; }
}
unmount_it() { fusermount3 -u "$MNT"; wait "$MOUNT_PID" || true; MOUNT_PID=""; }

stats() { curl -s "http://127.0.0.1:$PORT/_stats"; }
reset() { curl -s -X DELETE "http://127.0.0.1:$PORT/_stats" >/dev/null; }
# per UNITS UNIT (stats on stdin): "total=N (x/UNIT); Op=n (y/UNIT), ..."
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
