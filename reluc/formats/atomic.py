"""Atomic file output: write to a temporary file beside the target, then rename.

Make and other build tools never see a half-written target, and a failed write leaves an
existing target untouched. A target that is a device or a pipe (``/dev/null``,
``/dev/stdout``) is written into, never replaced.

The temporary file has no name while it is written where the system allows it (Linux's
``O_TMPFILE``): a process killed mid-write leaves nothing behind. Elsewhere it is
``.reluc-<pid>-*.tmp``, and a later write into the same directory removes such files
whose process is gone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO, ContextManager

from reluc.errors import RelucError


class TempFile:
    """A file being written in ``directory``, made visible under a name only by
    :meth:`commit` (atomically replacing that name); :meth:`discard` drops it."""

    def __init__(self, directory: str):
        self.directory = directory
        self.name: str | None = None  # set while the file has a name
        fd = None
        _remove_stale(directory)
        if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o666 & ~_umask())
        if fd is None:
            fd, self.name = tempfile.mkstemp(prefix=f".reluc-{os.getpid()}-", suffix=".tmp",
                                             dir=directory)
            os.chmod(self.name, 0o666 & ~_umask())
        self.file = os.fdopen(fd, "wb")

    def commit(self, path: str) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        if self.name is None:  # give the unnamed file a name, then rename it into place
            self.name = self._link()
        self.file.close()
        try:
            os.replace(self.name, path)
        except BaseException:
            self.discard()
            raise
        self.name = None

    def _link(self) -> str:
        """A name for the unnamed file (linkat through /proc, following the link); if
        the system refuses, a named copy of it."""
        dfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for _ in range(100):
                base = f".reluc-{os.getpid()}-{os.urandom(6).hex()}.tmp"
                try:
                    os.link(f"/proc/self/fd/{self.file.fileno()}", base, dst_dir_fd=dfd,
                            follow_symlinks=True)
                    return os.path.join(self.directory, base)
                except FileExistsError:
                    continue
                except OSError:
                    break
        finally:
            os.close(dfd)
        fd, name = tempfile.mkstemp(prefix=f".reluc-{os.getpid()}-", suffix=".tmp",
                                    dir=self.directory)
        os.chmod(name, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out, open(f"/proc/self/fd/{self.file.fileno()}", "rb") as src:
            shutil.copyfileobj(src, out, 1 << 22)
            out.flush()
            os.fsync(out.fileno())
        return name

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        if self.name is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.name)
            self.name = None


def target_directory(path: str) -> str:
    """The directory a new file at ``path`` goes into; a clear error naming the target
    (not a temporary file) when it cannot be written there."""
    if os.path.isdir(path):
        raise RelucError(f"cannot write '{path}': it is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RelucError(f"cannot write '{path}': no such directory "
                         f"'{os.path.dirname(path) or '.'}'")
    return directory


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[BinaryIO]:
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        # a device or a pipe (/dev/null, /dev/stdout, a FIFO): never replace it; write
        # the finished bytes into it
        with spooled(lambda: open(path, "wb")) as tmp:
            yield tmp
        return
    tmp = TempFile(target_directory(path))
    try:
        yield tmp.file
        tmp.commit(path)
    except BaseException:
        tmp.discard()
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


_STALE = re.compile(r"\.reluc-(\d+)-[^/]*\.tmp")


def _remove_stale(directory: str) -> None:
    """Remove temporary files of reluc processes that no longer run (killed mid-write)."""
    for name in glob.glob(os.path.join(glob.escape(directory), ".reluc-*.tmp")):
        m = _STALE.fullmatch(os.path.basename(name))
        if m and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
