"""The consumer-group offset store on disk (spec/groups.md).

Committed offsets live in memory; `flush()` writes all of them as one snapshot file by atomic
replace (temp file, fsync, rename, directory fsync: spec/format.md §5.2), so a crash leaves the
previous snapshot or the new one, never a mixture (GRP-9). Every file operation goes through the
injected `FileLayer`, and time through the injected clock, so the crash harness and the tests can
stand in for the disk and the clock.

Threads: one lock guards the in-memory offsets, a second serialises writers, so commits go on
while a snapshot is being written. The optional auto-flush thread only ever calls `_flush_if_due`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

from flyq.clock import monotonic_ms
from flyq.codec.offsets import (
    CommittedOffset,
    OffsetKey,
    decode_offsets,
    encode_offsets,
    validate_commit,
    validate_group_id,
    validate_key,
)
from flyq.errors import (
    FlyQError,
    InvalidConfig,
    MissingOffsetsFile,
    OffsetStoreClosed,
    UnknownGroup,
)
from flyq.impl.checkpoint_file import TEMP_SUFFIX, read_whole_file, replace_file
from flyq.impl.filelayer import FileLayer, FileLock, OsFileLayer
from flyq.values import is_int

__all__ = ["CREATED_MARKER", "LOCK_FILE", "OFFSETS_FILE", "OffsetStore"]

OFFSETS_FILE = "offsets"
CREATED_MARKER = "created"
LOCK_FILE = ".lock"

_log = logging.getLogger("flyq.groups")


class OffsetStore:
    """Committed offsets per (group, topic, partition), persisted by `flush` (spec/groups.md)."""

    def __init__(self, directory: str, layer: FileLayer, lock: FileLock,
                 offsets: dict[OffsetKey, CommittedOffset], clock: Callable[[], int],
                 auto_flush_ms: int | None, sleeper: Callable[[float], None] | None) -> None:
        """Use `OffsetStore.open`."""
        self._directory = directory
        self._path = os.path.join(directory, OFFSETS_FILE)
        self._layer = layer
        self._lock = lock
        self._offsets = offsets
        self._clock = clock
        self._auto_flush_ms = auto_flush_ms
        self._state_lock = threading.Lock()  # guards _offsets, _version, _dirty_since_ms, _closed
        self._write_lock = threading.Lock()  # one snapshot write at a time, in version order
        self._version = 0  # changes since open
        self._flushed_version = 0  # the last version a returned flush covered
        self._dirty_since_ms: int | None = None  # clock reading at the oldest unflushed change
        self._closed = False
        self._stopping = threading.Event()
        self._sleep = sleeper if sleeper is not None else self._wait_or_stop
        self._thread: threading.Thread | None = None
        if auto_flush_ms is not None:
            self._thread = threading.Thread(target=self._auto_flush_loop,
                                            name=f"flyq-offsets-flush {directory}", daemon=True)
            self._thread.start()

    # --- open ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: str, *, file_layer: FileLayer | None = None,
             clock: Callable[[], int] | None = None, auto_flush_ms: int | None = None,
             sleeper: Callable[[float], None] | None = None) -> OffsetStore:
        """Open the store in `directory`, creating it if it was never created (GRP-10).

        `clock` returns milliseconds (monotonic by default); `auto_flush_ms` starts a background
        thread that flushes once the oldest unflushed change is that old (GRP-7), polling every
        `auto_flush_ms / 4` by calling `sleeper(seconds)` (default: a wait that `close` cuts
        short). Raises `CorruptOffsetsFile` or `MissingOffsetsFile` rather than start from zero
        a store whose offsets were lost, and `DirectoryLocked` if another owner has it (GRP-13).
        """
        if auto_flush_ms is not None and (
                not is_int(auto_flush_ms)
                or auto_flush_ms < 1):
            raise InvalidConfig("auto_flush_ms", auto_flush_ms, "must be None or an int >= 1")
        layer = file_layer if file_layer is not None else OsFileLayer()
        _make_directory(layer, directory)
        lock = layer.lock(os.path.join(directory, LOCK_FILE))
        try:
            offsets = _load_or_create(layer, directory)
        except BaseException:
            lock.release()
            raise
        return cls(directory, layer, lock, offsets, clock or monotonic_ms, auto_flush_ms,
                   sleeper)

    # --- queries and changes ------------------------------------------------------------------

    @property
    def directory(self) -> str:
        """The store's directory."""
        return self._directory

    @property
    def dirty(self) -> bool:
        """Whether a change happened that no returned flush covered yet (GRP-5)."""
        with self._state_lock:
            return self._version != self._flushed_version

    @property
    def dirty_since_ms(self) -> int | None:
        """Clock reading at the oldest change no returned flush covered yet; None if clean.

        An owner that schedules flushes itself (the Broker) reads this instead of running the
        auto-flush thread (GRP-7).
        """
        with self._state_lock:
            return self._dirty_since_ms

    def _check_open(self) -> None:
        if self._closed:
            raise OffsetStoreClosed(f"the offset store in {self._directory} is closed")

    def _changed(self) -> None:
        """Note one change; the caller holds `_state_lock`."""
        self._version += 1
        if self._dirty_since_ms is None:
            self._dirty_since_ms = self._clock()

    def commit(self, group: str, topic: str, partition: int, offset: int, metadata: str = "", *,
               durable: bool = False) -> None:
        """Set the committed offset of (group, topic, partition) (GRP-3). With `durable`, return
        only once it is on disk (GRP-6); otherwise it is durable after the next flush."""
        key, value = validate_commit(group, topic, partition, offset, metadata)
        with self._state_lock:
            self._check_open()
            self._offsets[key] = value
            self._changed()
        if durable:
            self.flush()

    def fetch(self, group: str, topic: str, partition: int) -> CommittedOffset | None:
        """The committed offset of the key, or None if none was committed (GRP-3)."""
        key = validate_key(group, topic, partition)
        with self._state_lock:
            self._check_open()
            return self._offsets.get(key)

    def groups(self) -> list[str]:
        """Group ids with at least one committed offset, sorted (GRP-4)."""
        with self._state_lock:
            self._check_open()
            return sorted({group for group, _, _ in self._offsets})

    def describe(self, group: str) -> dict[tuple[str, int], CommittedOffset]:
        """(topic, partition) -> committed offset for `group`; empty if it has none (GRP-4)."""
        validate_group_id(group)
        with self._state_lock:
            self._check_open()
            return {(topic, partition): value
                    for (g, topic, partition), value in sorted(self._offsets.items()) if g == group}

    def delete_group(self, group: str, *, durable: bool = False) -> None:
        """Remove every committed offset of `group` (GRP-4); `UnknownGroup` if it has none."""
        validate_group_id(group)
        with self._state_lock:
            self._check_open()
            doomed = [key for key in self._offsets if key[0] == group]
            if not doomed:
                raise UnknownGroup(group)
            for key in doomed:
                del self._offsets[key]
            self._changed()
        if durable:
            self.flush()

    def delete_offsets(self, group: str, partitions: Iterable[tuple[str, int]], *,
                       durable: bool = False) -> None:
        """Remove `group`'s committed offsets of `partitions` (GRP-14); keys without one are
        skipped, and a call that removes nothing changes nothing."""
        doomed = {validate_key(group, topic, partition) for topic, partition in partitions}
        with self._state_lock:
            self._check_open()
            found = [key for key in doomed if key in self._offsets]
            for key in found:
                del self._offsets[key]
            if found:
                self._changed()
        if durable and found:
            self.flush()

    # --- persistence --------------------------------------------------------------------------

    def flush(self) -> None:
        """Return once every change made before the call is on disk (GRP-6). No I/O if clean.

        On a `StorageError` the store stays dirty and the next flush writes a fresh snapshot
        (a new temp file, not a second fsync of pages that failed once).
        """
        with self._write_lock:
            with self._state_lock:
                self._check_open()
                if self._version == self._flushed_version:
                    return
                version = self._version
                data = encode_offsets(self._offsets)
                dirty_since = self._clock()
            self._persist(data)
            with self._state_lock:
                self._flushed_version = version
                # Changes made while writing are still unflushed; date them from the snapshot.
                self._dirty_since_ms = None if self._version == version else dirty_since

    def _persist(self, data: bytes) -> None:
        """Durably replace the offsets file with `data` (spec/groups.md §5)."""
        replace_file(self._layer, self._path, data)

    def _flush_if_due(self) -> None:
        """Flush if the oldest unflushed change is at least `auto_flush_ms` old (GRP-7)."""
        assert self._auto_flush_ms is not None
        with self._state_lock:
            since = self._dirty_since_ms
            due = since is not None and self._clock() - since >= self._auto_flush_ms
        if due:
            self.flush()

    def _wait_or_stop(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _auto_flush_loop(self) -> None:
        assert self._auto_flush_ms is not None
        interval = max(self._auto_flush_ms / 4, 1) / 1000
        while not self._stopping.is_set():
            self._sleep(interval)
            if self._stopping.is_set():
                return
            try:
                self._flush_if_due()
            except OffsetStoreClosed:
                return
            except FlyQError:
                # The store stays dirty; the next tick (or the owner's flush or close) retries and
                # the owner's call raises if the disk still refuses.
                _log.exception("background flush of %s failed", self._path)

    def close(self) -> None:
        """Stop the auto-flush thread, flush, release the directory (GRP-8). Idempotent."""
        if self._closed:
            return
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            self.flush()
        finally:
            with self._state_lock:
                self._closed = True
            self._lock.release()

    def __enter__(self) -> OffsetStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _make_directory(layer: FileLayer, directory: str) -> None:
    """Create `directory` and missing parents, each made durable in its parent (GRP-10)."""
    missing: list[str] = []
    current = os.path.normpath(directory)
    while current not in ("", "/", ".") and not layer.exists(current):
        missing.append(current)
        current = os.path.dirname(current)
    if not missing:
        return
    layer.make_dirs(directory)
    for created in reversed(missing):
        layer.fsync_dir(os.path.dirname(created) or ".")


def _load_or_create(layer: FileLayer, directory: str) -> dict[OffsetKey, CommittedOffset]:
    """The offsets on disk (spec/groups.md §5.2, GRP-10).

    offsets file present: decode it (`CorruptOffsetsFile` if damaged), finishing an interrupted
    creation by writing the marker if it is missing. Only the marker present: the file was lost,
    `MissingOffsetsFile`. Neither: never created, so create an empty store: the empty offsets
    file first, made durable, then the marker, so the marker never exists without the file.
    """
    path = os.path.join(directory, OFFSETS_FILE)
    marker = os.path.join(directory, CREATED_MARKER)
    temp = path + TEMP_SUFFIX
    if layer.exists(temp):
        # A snapshot whose write a crash interrupted; the rename never happened, so it is junk.
        layer.remove(temp)
    data = read_whole_file(layer, path)
    has_marker = layer.exists(marker)
    if data is None:
        if has_marker:
            raise MissingOffsetsFile(path, marker)
        offsets: dict[OffsetKey, CommittedOffset] = {}
        replace_file(layer, path, encode_offsets(offsets))
    else:
        offsets = decode_offsets(data, source=path)
    if not has_marker:
        layer.open(marker, create=True).close()
        layer.fsync_dir(directory)
    return offsets
