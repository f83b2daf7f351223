"""A file layer that keeps the disk in memory and records every operation (spec/crash-model.md).

`RecordingFileLayer` implements `flyq.impl.FileLayer`. The code under test runs against it exactly
as against the real disk; each operation is appended to `history` as an `Op`, together with the
inode it touched, so `flyq.crash.disk` can later rebuild any disk a crash could have left.
Workloads add `mark` ops (no disk effect) to say what they were told had become durable.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

import attrs

from flyq.errors import DirectoryLocked, StorageError
from flyq.impl.filelayer import FileHandle, FileLock, MappedFile

__all__ = ["Op", "RecordingFileLayer"]

# Operation kinds. Writes and truncates change an inode's bytes; create/rename/remove change a
# directory; fsync/fsync_dir/map_flush make earlier changes durable; mark has no disk effect.
WRITE = "write"
MAP_WRITE = "map_write"
TRUNCATE = "truncate"
FSYNC = "fsync"
MAP_FLUSH = "map_flush"
CREATE = "create"
RENAME = "rename"
REMOVE = "remove"
MKDIR = "mkdir"
FSYNC_DIR = "fsync_dir"
MARK = "mark"


@attrs.frozen
class Op:
    """One recorded operation. `inode` names the file's identity, which survives renames."""

    kind: str
    path: str = ""
    inode: int = -1
    position: int = 0
    data: bytes = b""
    size: int = 0
    target: str = ""
    label: str = ""
    value: int = 0


@attrs.define
class _Inode:
    data: bytearray


class _MemoryMap:
    """A shared map over an inode's bytes; writes are recorded as MAP_WRITE ops."""

    def __init__(self, layer: RecordingFileLayer, path: str, inode: int) -> None:
        self._layer = layer
        self._path = path
        self._inode = inode
        self._length = len(layer.inodes[inode].data)
        self._closed = False

    def _check(self) -> bytearray:
        if self._closed:
            raise StorageError("use of a closed memory map", self._path)
        return self._layer.inodes[self._inode].data

    def __len__(self) -> int:
        self._check()
        return self._length

    def read(self, position: int, size: int) -> bytes:
        data = self._check()
        end = min(position + size, self._length)
        return bytes(data[position:end])

    def write(self, position: int, data: bytes) -> None:
        buffer = self._check()
        if position + len(data) > self._length:
            raise StorageError("write past the end of a memory map", self._path)
        buffer[position : position + len(data)] = data
        self._layer.record(Op(MAP_WRITE, self._path, self._inode, position, bytes(data)))

    def flush(self) -> None:
        self._check()
        self._layer.record(Op(MAP_FLUSH, self._path, self._inode))

    def close(self) -> None:
        self._closed = True


class _MemoryHandle:
    def __init__(self, layer: RecordingFileLayer, path: str, inode: int) -> None:
        self._layer = layer
        self._path = path
        self._inode = inode
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    def _data(self) -> bytearray:
        if self._closed:
            raise StorageError("use of a closed file", self._path)
        return self._layer.inodes[self._inode].data

    def size(self) -> int:
        return len(self._data())

    def pread(self, size: int, position: int) -> bytes:
        return bytes(self._data()[position : position + size])

    def pwrite(self, data: bytes | bytearray | memoryview, position: int) -> None:
        buffer = self._data()
        payload = bytes(data)
        if position > len(buffer):
            buffer.extend(bytes(position - len(buffer)))
        buffer[position : position + len(payload)] = payload
        self._layer.record(Op(WRITE, self._path, self._inode, position, payload))

    def pwritev(self, buffers: Sequence[bytes | bytearray | memoryview], position: int) -> None:
        # One write on the recorded disk: it may tear anywhere, like any other.
        self.pwrite(b"".join(bytes(buffer) for buffer in buffers), position)

    def truncate(self, size: int) -> None:
        buffer = self._data()
        if size < len(buffer):
            del buffer[size:]
        else:
            buffer.extend(bytes(size - len(buffer)))
        self._layer.record(Op(TRUNCATE, self._path, self._inode, size=size))

    def fsync(self) -> None:
        self._data()
        self._layer.record(Op(FSYNC, self._path, self._inode))

    def map(self) -> MappedFile:
        if not self._data():
            raise StorageError("mmap of an empty file", self._path)
        return _MemoryMap(self._layer, self._path, self._inode)

    def close(self) -> None:
        self._closed = True


class _MemoryLock:
    def __init__(self, locks: set[str], path: str) -> None:
        self._locks = locks
        self._path = path

    def release(self) -> None:
        self._locks.discard(self._path)


class RecordingFileLayer:
    """An in-memory disk: what the process sees, plus the history of how it got there.

    `initial` is the durable disk at the start (path -> bytes); directories are implied by paths
    and by `make_dirs`.
    """

    def __init__(self, initial: dict[str, bytes] | None = None,
                 directories: set[str] | None = None) -> None:
        self.inodes: dict[int, _Inode] = {}
        self.entries: dict[str, int] = {}
        self.directories: set[str] = set(directories or ())
        self.history: list[Op] = []
        self.locks: set[str] = set()
        self.initial_entries: dict[str, int] = {}
        self.initial_data: dict[int, bytes] = {}
        self._next_inode = 0
        for path, data in sorted((initial or {}).items()):
            inode = self._new_inode(data)
            self.entries[path] = inode
            self.initial_entries[path] = inode
            self.initial_data[inode] = bytes(data)
            self._add_parents(path)
        self.initial_directories = frozenset(self.directories)

    def _new_inode(self, data: bytes = b"") -> int:
        inode = self._next_inode
        self._next_inode += 1
        self.inodes[inode] = _Inode(bytearray(data))
        return inode

    def _add_parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent and parent not in self.directories:
            self.directories.add(parent)
            parent = posixpath.dirname(parent)

    def record(self, op: Op) -> None:
        """Append an operation to the history."""
        self.history.append(op)

    def mark(self, label: str, value: int) -> None:
        """Note in the history what the workload was just told (e.g. durable up to `value`)."""
        self.history.append(Op(MARK, label=label, value=value))

    # --- FileLayer --------------------------------------------------------------------------------

    def open(self, path: str, *, create: bool) -> FileHandle:
        path = posixpath.normpath(path)
        inode = self.entries.get(path)
        if inode is None:
            if not create:
                raise StorageError("open (no such file)", path)
            if posixpath.dirname(path) not in self.directories:
                raise StorageError("open (no such directory)", path)
            inode = self._new_inode()
            self.entries[path] = inode
            self.record(Op(CREATE, path, inode))
        return _MemoryHandle(self, path, inode)

    def exists(self, path: str) -> bool:
        path = posixpath.normpath(path)
        return path in self.entries or path in self.directories

    def list_dir(self, path: str) -> list[str]:
        path = posixpath.normpath(path)
        if path not in self.directories:
            raise StorageError("listdir (no such directory)", path)
        names = {posixpath.basename(p) for p in self.entries if posixpath.dirname(p) == path}
        names |= {posixpath.basename(d) for d in self.directories if posixpath.dirname(d) == path
                  and d != path}
        return sorted(names)

    def make_dirs(self, path: str) -> None:
        path = posixpath.normpath(path)
        missing = []
        current = path
        while current and current != "/" and current not in self.directories:
            missing.append(current)
            current = posixpath.dirname(current)
        for directory in reversed(missing):
            self.directories.add(directory)
            self.record(Op(MKDIR, directory))

    def rename(self, source: str, target: str) -> None:
        source, target = posixpath.normpath(source), posixpath.normpath(target)
        inode = self.entries.pop(source, None)
        if inode is None:
            raise StorageError("rename (no such file)", source)
        self.entries[target] = inode
        self.record(Op(RENAME, source, inode, target=target))

    def remove(self, path: str) -> None:
        path = posixpath.normpath(path)
        inode = self.entries.pop(path, None)
        if inode is None:
            raise StorageError("remove (no such file)", path)
        self.record(Op(REMOVE, path, inode))

    def remove_tree(self, path: str) -> None:
        path = posixpath.normpath(path)
        for entry in sorted(p for p in self.entries if p.startswith(path + "/")):
            self.remove(entry)
        for directory in sorted((d for d in self.directories
                                 if d == path or d.startswith(path + "/")), reverse=True):
            self.directories.discard(directory)

    def lock(self, path: str) -> FileLock:
        # Locks live in memory only: a crash releases them, as the kernel does for a killed process.
        path = posixpath.normpath(path)
        if path in self.locks:
            raise DirectoryLocked(posixpath.dirname(path))
        self.locks.add(path)
        return _MemoryLock(self.locks, path)

    def fsync_dir(self, path: str) -> None:
        path = posixpath.normpath(path)
        if path not in self.directories:
            raise StorageError("fsync directory (no such directory)", path)
        self.record(Op(FSYNC_DIR, path))
