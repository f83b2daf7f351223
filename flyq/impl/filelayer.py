"""The one narrow interface through which the disk log touches files (spec/recovery.md, section 1).

Every file operation of `flyq.impl` goes through a `FileLayer`, so a fault-injecting layer (the crash
harness) can stand in for the disk without any test-only branch in the log. `OsFileLayer` is the real
one. Paths are plain strings; errors from the OS become `StorageError` with the `OSError` kept as
`__cause__`.

`set_fsync_observer` installs one process-wide callback that the OS layer calls with the seconds each
real fdatasync of a file and fsync of a directory took (the broker's fsync latency histogram,
spec/metrics.md MET-8); unset, the syncs are not timed at all.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import shutil
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from flyq.errors import DirectoryLocked, StorageError

__all__ = [
    "FileHandle",
    "FileLayer",
    "FileLock",
    "ForwardingFileHandle",
    "ForwardingFileLayer",
    "MappedFile",
    "OsFileLayer",
    "make_dirs_durably",
    "set_fsync_observer",
]

# Called (from whichever thread synced) with the seconds one OS fsync took; None: not timed.
_fsync_observer: Callable[[float], None] | None = None


def set_fsync_observer(observer: Callable[[float], None] | None) -> None:
    """Install `observer`, called with the duration in seconds of every real fdatasync and
    directory fsync `OsFileLayer` makes from now on, or remove it (None). One per process: the
    last one installed wins. It must be quick and thread-safe, and must not raise."""
    global _fsync_observer  # noqa: PLW0603 - one hook for every OsFileLayer of the process
    _fsync_observer = observer


def _timed_sync(sync: Callable[[int], None], fd: int) -> None:
    """`sync(fd)`, timed for the observer when one is installed."""
    observer = _fsync_observer
    if observer is None:
        sync(fd)
        return
    started = time.perf_counter()
    sync(fd)
    observer(time.perf_counter() - started)


class FileHandle(Protocol):
    """An open file: positional reads and writes, size changes, fdatasync."""

    @property
    def path(self) -> str:
        """The path the file was opened at."""
        ...

    def size(self) -> int:
        """Current size in bytes."""
        ...

    def pread(self, size: int, position: int) -> bytes:
        """Up to `size` bytes from `position` (fewer at the end of the file)."""
        ...

    def pwrite(self, data: bytes | bytearray | memoryview, position: int) -> None:
        """Write all of `data` at `position`, growing the file if needed."""
        ...

    def pwritev(self, buffers: Sequence[bytes | bytearray | memoryview], position: int) -> None:
        """Write `buffers` back to back at `position`, as one write where the OS allows."""
        ...

    def truncate(self, size: int) -> None:
        """Set the file's size, cutting or zero-extending it."""
        ...

    def fsync(self) -> None:
        """Make the file's data durable (fdatasync)."""
        ...

    def map(self) -> MappedFile:
        """A writable shared memory map of the whole file (its current size, > 0)."""
        ...

    def close(self) -> None:
        """Release the handle; idempotent."""
        ...


class MappedFile(Protocol):
    """A writable memory map of a whole file, as the indexes use it."""

    def __len__(self) -> int: ...

    def read(self, position: int, size: int) -> bytes:
        """`size` bytes at `position`."""
        ...

    def write(self, position: int, data: bytes) -> None:
        """Overwrite bytes at `position` (within the mapped length)."""
        ...

    def flush(self) -> None:
        """Write dirty pages back to the file and wait for them (msync)."""
        ...

    def close(self) -> None:
        """Unmap; idempotent."""
        ...


class FileLayer(Protocol):
    """Directory-level operations plus opening files."""

    def open(self, path: str, *, create: bool) -> FileHandle:
        """Open `path` for reading and writing; create it empty if `create` and it is missing."""
        ...

    def exists(self, path: str) -> bool:
        """Whether a file or directory exists at `path`."""
        ...

    def list_dir(self, path: str) -> list[str]:
        """Names in directory `path`, sorted."""
        ...

    def make_dirs(self, path: str) -> None:
        """Create directory `path` and its parents if missing."""
        ...

    def rename(self, source: str, target: str) -> None:
        """Atomically rename `source` to `target`, replacing it (durable after `fsync_dir`)."""
        ...

    def remove(self, path: str) -> None:
        """Remove file `path` (durable after `fsync_dir`)."""
        ...

    def remove_tree(self, path: str) -> None:
        """Remove directory `path` with everything in it."""
        ...

    def fsync_dir(self, path: str) -> None:
        """Make the directory's entries (creations, renames, removals, sizes) durable."""
        ...

    def lock(self, path: str) -> FileLock:
        """Take an exclusive lock on file `path` (created if missing) for this process, or raise
        `DirectoryLocked` if another holder has it."""
        ...


class FileLock(Protocol):
    """A held exclusive lock."""

    def release(self) -> None:
        """Give the lock up; idempotent."""
        ...


def _fail(operation: str, path: str, exc: OSError) -> StorageError:
    error = StorageError(f"{operation} ({exc.strerror or exc})", path)
    error.__cause__ = exc
    return error


class _OsMappedFile:
    """`MappedFile` over `mmap.mmap`."""

    def __init__(self, path: str, fd: int) -> None:
        self._path = path
        self._map: mmap.mmap | None = mmap.mmap(fd, 0)

    def _live(self) -> mmap.mmap:
        if self._map is None:
            raise StorageError("use of a closed memory map", self._path)
        return self._map

    def __len__(self) -> int:
        return len(self._live())

    def read(self, position: int, size: int) -> bytes:
        return self._live()[position : position + size]

    def write(self, position: int, data: bytes) -> None:
        self._live()[position : position + len(data)] = data

    def flush(self) -> None:
        try:
            self._live().flush()
        except OSError as exc:
            raise _fail("msync", self._path, exc) from exc

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None


class _OsFileHandle:
    """`FileHandle` over a raw file descriptor."""

    def __init__(self, path: str, fd: int) -> None:
        self._path = path
        self._fd: int | None = fd

    @property
    def path(self) -> str:
        return self._path

    def _live(self) -> int:
        if self._fd is None:
            raise StorageError("use of a closed file", self._path)
        return self._fd

    def size(self) -> int:
        try:
            return os.fstat(self._live()).st_size
        except OSError as exc:
            raise _fail("fstat", self._path, exc) from exc

    def pread(self, size: int, position: int) -> bytes:
        try:
            return os.pread(self._live(), size, position)
        except OSError as exc:
            raise _fail("pread", self._path, exc) from exc

    def pwrite(self, data: bytes | bytearray | memoryview, position: int) -> None:
        fd = self._live()
        view = memoryview(data)
        try:
            while view:
                written = os.pwrite(fd, view, position)
                view = view[written:]
                position += written
        except OSError as exc:
            raise _fail("pwrite", self._path, exc) from exc

    def pwritev(self, buffers: Sequence[bytes | bytearray | memoryview], position: int) -> None:
        fd = self._live()
        total = sum(len(buffer) for buffer in buffers)
        try:
            written = os.pwritev(fd, buffers, position)
        except OSError as exc:
            raise _fail("pwritev", self._path, exc) from exc
        if written < total:
            # A short write: finish the rest with plain pwrites.
            self.pwrite(b"".join(bytes(buffer) for buffer in buffers)[written:], position + written)

    def truncate(self, size: int) -> None:
        fd = self._live()
        try:
            old_size = os.fstat(fd).st_size
            os.ftruncate(fd, size)
            if size > old_size:
                # Allocate the blocks now: memory-mapped index pages would otherwise each pay for
                # block allocation on first touch, inside the append path.
                os.posix_fallocate(fd, old_size, size - old_size)
        except OSError as exc:
            raise _fail("ftruncate", self._path, exc) from exc

    def fsync(self) -> None:
        try:
            _timed_sync(os.fdatasync, self._live())
        except OSError as exc:
            raise _fail("fdatasync", self._path, exc) from exc

    def map(self) -> MappedFile:
        try:
            return _OsMappedFile(self._path, self._live())
        except (OSError, ValueError) as exc:
            error = StorageError(f"mmap ({exc})", self._path)
            raise error from exc

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError as exc:
                raise _fail("close", self._path, exc) from exc

    def __del__(self) -> None:
        # Dropped without close(): give the descriptor back, as Python's own file objects do.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _OsFileLock:
    """An `flock` held on an open descriptor; released when the descriptor closes."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __del__(self) -> None:
        # A log dropped without close() must not keep its directory locked for the process's life.
        self.release()


class OsFileLayer:
    """The real file layer: the operating system's files."""

    def lock(self, path: str) -> FileLock:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _fail("open lock file", path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise DirectoryLocked(os.path.dirname(path)) from exc
        except OSError as exc:
            os.close(fd)
            raise _fail("flock", path, exc) from exc
        return _OsFileLock(fd)

    def open(self, path: str, *, create: bool) -> FileHandle:
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        try:
            return _OsFileHandle(path, os.open(path, flags, 0o644))
        except OSError as exc:
            raise _fail("open", path, exc) from exc

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def list_dir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError as exc:
            raise _fail("listdir", path, exc) from exc

    def make_dirs(self, path: str) -> None:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise _fail("makedirs", path, exc) from exc

    def rename(self, source: str, target: str) -> None:
        try:
            os.replace(source, target)
        except OSError as exc:
            raise _fail(f"rename to {target}", source, exc) from exc

    def remove(self, path: str) -> None:
        try:
            os.remove(path)
        except OSError as exc:
            raise _fail("remove", path, exc) from exc

    def remove_tree(self, path: str) -> None:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise _fail("rmtree", path, exc) from exc

    def fsync_dir(self, path: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise _fail("open directory", path, exc) from exc
        try:
            _timed_sync(os.fsync, fd)
        except OSError as exc:
            raise _fail("fsync directory", path, exc) from exc
        finally:
            os.close(fd)


def make_dirs_durably(layer: FileLayer, path: str) -> None:
    """Create directory `path` and its missing parents, and make every created entry durable:
    the parent of each created directory is fsynced, outermost first."""
    created: list[str] = []
    current = os.path.abspath(path)
    while not layer.exists(current):
        created.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    if not created:
        return
    layer.make_dirs(path)
    for directory in reversed(created):
        layer.fsync_dir(os.path.dirname(directory))


class ForwardingFileHandle:
    """A `FileHandle` that passes every call to `inner`. Wrappers that change one operation (a
    failing fsync, a pause after a write) subclass it and override only that one."""

    def __init__(self, inner: FileHandle) -> None:
        self.inner = inner

    @property
    def path(self) -> str:
        """The wrapped handle's path."""
        return self.inner.path

    def size(self) -> int:
        """`inner.size()`."""
        return self.inner.size()

    def pread(self, size: int, position: int) -> bytes:
        """`inner.pread(...)`."""
        return self.inner.pread(size, position)

    def pwrite(self, data: bytes | bytearray | memoryview, position: int) -> None:
        """`inner.pwrite(...)`."""
        self.inner.pwrite(data, position)

    def pwritev(self, buffers: Sequence[bytes | bytearray | memoryview], position: int) -> None:
        """`inner.pwritev(...)`."""
        self.inner.pwritev(buffers, position)

    def truncate(self, size: int) -> None:
        """`inner.truncate(...)`."""
        self.inner.truncate(size)

    def fsync(self) -> None:
        """`inner.fsync()`."""
        self.inner.fsync()

    def map(self) -> MappedFile:
        """`inner.map()`."""
        return self.inner.map()

    def close(self) -> None:
        """`inner.close()`."""
        self.inner.close()


class ForwardingFileLayer:
    """A `FileLayer` that passes every call to `inner`; subclasses override what they change."""

    def __init__(self, inner: FileLayer) -> None:
        self.inner = inner

    def open(self, path: str, *, create: bool) -> FileHandle:
        """`inner.open(...)`."""
        return self.inner.open(path, create=create)

    def exists(self, path: str) -> bool:
        """`inner.exists(...)`."""
        return self.inner.exists(path)

    def list_dir(self, path: str) -> list[str]:
        """`inner.list_dir(...)`."""
        return self.inner.list_dir(path)

    def make_dirs(self, path: str) -> None:
        """`inner.make_dirs(...)`."""
        self.inner.make_dirs(path)

    def rename(self, source: str, target: str) -> None:
        """`inner.rename(...)`."""
        self.inner.rename(source, target)

    def remove(self, path: str) -> None:
        """`inner.remove(...)`."""
        self.inner.remove(path)

    def remove_tree(self, path: str) -> None:
        """`inner.remove_tree(...)`."""
        self.inner.remove_tree(path)

    def fsync_dir(self, path: str) -> None:
        """`inner.fsync_dir(...)`."""
        self.inner.fsync_dir(path)

    def lock(self, path: str) -> FileLock:
        """`inner.lock(...)`."""
        return self.inner.lock(path)
