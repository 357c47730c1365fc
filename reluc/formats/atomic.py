"""Atomic file output: write to a temporary file beside the target, then rename.

Make and other build tools never see a half-written target, and a failed write leaves an
existing target untouched. A target that is a device or a pipe (``/dev/null``,
``/dev/stdout``) is written into, never replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO, ContextManager


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[BinaryIO]:
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        # a device or a pipe (/dev/null, /dev/stdout, a FIFO): never replace it; write
        # the finished bytes into it
        with spooled(lambda: open(path, "wb")) as tmp:
            yield tmp
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".reluc-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def spooled(open_target: Callable[[], ContextManager[BinaryIO]]) -> Iterator[BinaryIO]:
    """A seekable temporary file to write into; on success its bytes are copied into the
    target that ``open_target()`` opens (only then), on failure nothing reaches it."""
    with tempfile.TemporaryFile() as tmp:
        yield tmp
        tmp.seek(0)
        with open_target() as out:
            shutil.copyfileobj(tmp, out, 1 << 22)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
