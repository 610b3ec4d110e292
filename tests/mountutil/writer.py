"""A writer process for mount tests: keeps one file open and does what the test says, one
command per stdin line, one answer per stdout line, so the test (which holds no descriptor
on the mount, and so forks without flushing anything) queries at known points.

Commands: open PATH w|a|r+ | write N BYTE (N bytes of value BYTE, in 64 KiB writes) |
fsync | status (the status attribute through the descriptor) | close | quit.
Answers: "ok [value]" or "err ERRNO message".
"""
import os
import sys

STATUS = "user.bosmount.status"
fd = None
for line in sys.stdin:
    words = line.split()
    try:
        if words[0] == "open":
            flags = {"w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     "r+": os.O_RDWR}[words[2]]
            fd = os.open(words[1], flags, 0o644)
            answer = "ok"
        elif words[0] == "write":
            left, chunk = int(words[1]), bytes([int(words[2])]) * 65536
            while left > 0:
                left -= os.write(fd, chunk[:min(left, len(chunk))])
            answer = "ok"
        elif words[0] == "fsync":
            os.fsync(fd)
            answer = "ok"
        elif words[0] == "status":
            answer = "ok " + os.getxattr(fd, STATUS).decode()
        elif words[0] == "close":
            closing, fd = fd, None
            os.close(closing)
            answer = "ok"
        else:
            break
    except OSError as e:
        answer = "err %d %s" % (e.errno, e.strerror)
    print(answer, flush=True)
