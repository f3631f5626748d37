"""Reading a file that sandboxed code could have made or replaced: the server's read-back and the post step.

No symlink is followed, a FIFO or device is refused without blocking, and at most `cap` bytes are read, however
large the file claims or grows to be.
"""

from __future__ import annotations

import errno
import os
import stat


def read_untrusted(dir_fd: int, name: str, cap: int) -> bytes | None:
    """`name` under `dir_fd`, or None if absent. ValueError: a symlink or not a regular file; OverflowError: over
    `cap` bytes."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"{name} is a symlink") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{name} is not a regular file")
        if st.st_size > cap:
            raise OverflowError(name)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise OverflowError(name)
        return b"".join(chunks)
    finally:
        os.close(fd)
