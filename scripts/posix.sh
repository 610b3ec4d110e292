#!/usr/bin/env bash
# POSIX conformance of a real mount: installs the Rust rewrite of pjdfstest (crates.io),
# serves a fresh bucket with `bosmount serve`, mounts it with --allow-other and runs the
# suite's open, mkdir, rmdir, unlink, rename, truncate, ftruncate, symlink, chmod and
# utimensat groups through it, then prints pass counts per group (test cases; each runs
# many assertions and passes only when all of them hold).
#
# Usage: sudo bash scripts/posix.sh [PATTERN...]   (root: the suite switches users)
#   POSIX_LOG=FILE keeps the suite's full output (default: a temp file, path printed).
#   BOSMOUNT_BIN=PATH uses that binary instead of building target/debug/bosmount.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_GROUPS=(open mkdir rmdir unlink rename truncate ftruncate symlink chmod utimensat)
[ "$(id -u)" -eq 0 ] || { echo "posix.sh must run as root (pjdfstest switches users)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "/dev/fuse is missing" >&2; exit 1; }
command -v fusermount3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3; }

PJD=${PJDFSTEST:-$(command -v pjdfstest || true)}
if [ -z "$PJD" ]; then
  echo "== cargo install pjdfstest"
  cargo install pjdfstest --quiet
  PJD=$(command -v pjdfstest || echo "$HOME/.cargo/bin/pjdfstest")
fi
if [ -z "${BOSMOUNT_BIN:-}" ]; then
  cargo build --quiet
  BOSMOUNT_BIN=$PWD/target/debug/bosmount
fi

WORK=$(mktemp -d /tmp/bosmount-posix.XXXXXX)
MNT=$WORK/mnt; DATA=$WORK/data; mkdir -p "$MNT" "$DATA"
# The suite switches to other users: they must reach the mount point.
chmod 755 "$WORK"
LOG=${POSIX_LOG:-$WORK/pjdfstest.log}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SERVER=""; MOUNT_PID=""
cleanup() {
  if grep -q " $MNT " /proc/mounts; then fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" || true; fi
  if [ -n "$MOUNT_PID" ]; then wait "$MOUNT_PID" 2>/dev/null || true; fi
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  [ -n "${POSIX_LOG:-}" ] || cp "$LOG" /tmp/bosmount-posix-last.log 2>/dev/null || true
  cp "$WORK/mount.log" /tmp/bosmount-posix-mount.log 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export BCE_ACCESS_KEY_ID=bosmount-local-ak BCE_SECRET_ACCESS_KEY=bosmount-local-secret

"$BOSMOUNT_BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" --bucket posix >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/_stats" >/dev/null && break; sleep 0.1; done
"$BOSMOUNT_BIN" mount posix "$MNT" --endpoint "http://127.0.0.1:$PORT" --foreground --allow-other \
  >"$WORK/mount.log" 2>&1 &
MOUNT_PID=$!
for _ in $(seq 100); do grep -q " $MNT " /proc/mounts && break; sleep 0.1; done
grep -q " $MNT " /proc/mounts || { echo "mount failed:"; cat "$WORK/mount.log"; exit 1; }
chmod 755 "$MNT"

# Users the suite switches to: two that every Debian has, so nothing is added to the system.
cat >"$WORK/pjdfstest.toml" <<'EOF'
# Linux has utimensat(2) and UTIME_NOW; the suite skips their tests unless told. A rename
# changes the node's ctime (it is a new object, as on most Linux file systems).
[features]
utimensat = {}
utime_now = {}
rename_ctime = {}
[settings]
# Change times come from the object's Last-Modified, one-second granularity.
naptime = 1.01
[dummy_auth]
entries = [["nobody", "nogroup"], ["daemon", "daemon"]]
EOF

PATTERNS=("$@")
[ ${#PATTERNS[@]} -gt 0 ] || PATTERNS=("${SUITE_GROUPS[@]}")
echo "== pjdfstest ${PATTERNS[*]} on $MNT (log: $LOG)"
status=0
NO_COLOR=1 timeout 3600 "$PJD" -c "$WORK/pjdfstest.toml" -p "$MNT" "${PATTERNS[@]}" >"$LOG" 2>&1 || status=$?
[ "$status" -eq 124 ] && echo "pjdfstest timed out" >&2
if ! kill -0 "$MOUNT_PID" 2>/dev/null; then
  echo "the mount process died during the suite:" >&2; tail -20 "$WORK/mount.log" >&2; exit 1
fi

python3 - "$LOG" "${SUITE_GROUPS[@]}" <<'EOF'
import re, sys
log, groups = sys.argv[1], sys.argv[2:]
ansi = re.compile(r"\x1b\[[0-9;]*m")
counts = {g: {"ok": 0, "FAILED": 0, "skipped": 0} for g in groups}
failed = []
for line in open(log, errors="replace"):
    line = ansi.sub("", line).rstrip()
    m = re.match(r"^(\S+)\s+(ok|FAILED|skipped)$", line)
    if not m:
        continue
    name, result = m.groups()
    group = name.split("::")[0]
    if group in counts:
        counts[group][result] += 1
    if result == "FAILED":
        failed.append(name)
print(f"{'group':<10} {'passed':>6} {'failed':>6} {'skipped':>7}  pass rate (of run cases)")
tp = tf = 0
for g in groups:
    c = counts[g]
    run = c["ok"] + c["FAILED"]
    tp += c["ok"]; tf += c["FAILED"]
    rate = f"{100 * c['ok'] / run:5.1f} %" if run else "    -"
    print(f"{g:<10} {c['ok']:>6} {c['FAILED']:>6} {c['skipped']:>7}  {rate}")
run = tp + tf
print(f"{'total':<10} {tp:>6} {tf:>6} {'':>7}  {100 * tp / run:5.1f} %" if run else "total: nothing ran")
if failed:
    print("failed:", " ".join(failed))
EOF
