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
source scripts/bench-lib.sh
bench_setup append
start_server "$LATENCY"
mount_it
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
