"""Reading input files safely: regular files only, their size checked before a byte is read.

Every file keicast reads from a path it was given (config, register, reference series, articles, adoption
CSVs) goes through :func:`read_bounded`. A path at a device (``/dev/zero`` reads without end and reports size
0), a FIFO (an open blocks until a writer appears) or a sparse multi-gigabyte file would otherwise wedge or
exhaust the process: the file is opened non-blocking, checked with ``fstat`` (regular file, size within the
limit) and read at most one byte past the limit, in case it grows while being read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class InputRefused(OSError):
    """A path that is not a regular file of acceptable size; ``strerror`` says why in plain words."""


def read_bounded(path: Path | str, limit: int, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; raises OSError (InputRefused)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise InputRefused(exc.errno, "a symbolic link, not followed (copy the file itself here)") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, FIFO or socket"
            raise InputRefused(errno.EINVAL, f"{kind}, not a regular file")
        if info.st_size > limit:
            raise InputRefused(errno.EFBIG, f"too large: {info.st_size:,} bytes (limit {limit:,})")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise InputRefused(errno.EFBIG, f"too large: it grew past {limit:,} bytes while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def reason(exc: OSError) -> str:
    """A one-line reason for a failed read, without the path (the caller names the file)."""
    return exc.strerror or str(exc)
