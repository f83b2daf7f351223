"""The offset store under threads: commits landing while a snapshot is written (spec/groups.md GRP-6).

A file layer that stops inside the snapshot's write makes each race happen on purpose rather than
by timing: the test knows the write is in progress, lets the racing commit land, then lets the
write finish. After every durable commit returns, the offsets file is read back independently
(bytes from the OS, decoded by the codec) and must hold it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from flyq.codec.offsets import CommittedOffset, OffsetKey, decode_offsets
from flyq.impl.filelayer import FileHandle, FileLayer, ForwardingFileHandle, OsFileLayer
from flyq.impl.groups import OFFSETS_FILE, OffsetStore

# Long enough never to expire on a loaded machine; only a broken store ever waits this long.
WAIT_SECONDS = 30.0


class _PausingHandle(ForwardingFileHandle):
    """Tells its layer after every write, so an armed layer can stop the writer there."""

    def __init__(self, inner: FileHandle, layer: PausingLayer) -> None:
        super().__init__(inner)
        self._layer = layer

    def pwrite(self, data: bytes | bytearray | memoryview, position: int) -> None:
        self.inner.pwrite(data, position)
        self._layer.after_write(self.inner.path)

    def pwritev(self, buffers: Sequence[bytes | bytearray | memoryview], position: int) -> None:
        self.inner.pwritev(buffers, position)
        self._layer.after_write(self.inner.path)


class PausingLayer(OsFileLayer):
    """The real file layer; when armed, the next write of a snapshot (the temp file) stops right
    after it and waits for `resume`, with `paused` set so the test knows it is there."""

    def __init__(self) -> None:
        self._armed = False
        self.paused = threading.Event()
        self._resume = threading.Event()
        self.snapshots_written = 0

    def pause_next_snapshot(self) -> None:
        self._armed = True
        self.paused.clear()
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def open(self, path: str, *, create: bool) -> FileHandle:
        return _PausingHandle(super().open(path, create=create), self)

    def after_write(self, path: str) -> None:
        if not path.endswith(OFFSETS_FILE + ".tmp"):
            return
        self.snapshots_written += 1
        if self._armed:
            self._armed = False
            self.paused.set()
            assert self._resume.wait(WAIT_SECONDS), "the paused snapshot was never resumed"


def _on_disk(directory: Path) -> dict[OffsetKey, CommittedOffset]:
    """The offsets file as the OS has it, decoded by the codec alone."""
    path = directory / OFFSETS_FILE
    return decode_offsets(path.read_bytes(), source=str(path))


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait for another thread to reach a state it cannot signal (it holds no event of ours)."""
    done = threading.Event()
    for _ in range(int(WAIT_SECONDS * 1000)):
        if condition():
            return
        done.wait(0.001)
    raise AssertionError(f"timed out waiting until {what}")


def _start(target: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the joining thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _join(thread: threading.Thread, errors: list[BaseException]) -> None:
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive(), "a thread is stuck"
    if errors:
        raise errors[0]


def test_durable_commit_landing_during_a_flush_is_written(tmp_path: Path) -> None:
    """GRP-6: a durable commit made while another flush writes its snapshot returns only once
    a snapshot holding it is on disk (the running flush must not count it as flushed)."""
    layer = PausingLayer()
    store = OffsetStore.open(str(tmp_path), file_layer=layer)
    try:
        store.commit("g", "t", 0, 1)
        layer.pause_next_snapshot()
        flusher, flusher_errors = _start(store.flush)
        assert layer.paused.wait(WAIT_SECONDS)
        committer, committer_errors = _start(
            lambda: store.commit("g", "t", 1, 7, "late", durable=True))
        _wait_until(lambda: store.fetch("g", "t", 1) is not None, "the late commit landed")
        layer.resume()
        _join(flusher, flusher_errors)
        _join(committer, committer_errors)
        on_disk = _on_disk(tmp_path)
        assert on_disk.get(("g", "t", 1)) == CommittedOffset(7, "late")
        assert on_disk.get(("g", "t", 0)) == CommittedOffset(1)
        assert not store.dirty
    finally:
        layer.resume()
        store.close()


def test_racing_durable_commits_are_each_on_disk_when_they_return(tmp_path: Path) -> None:
    """GRP-6: durable commits racing each other (one snapshot write held open while the others
    land) each find themselves in the offsets file when their call returns."""
    layer = PausingLayer()
    store = OffsetStore.open(str(tmp_path), file_layer=layer)
    missing: list[str] = []

    def committer(partition: int) -> Callable[[], None]:
        def run() -> None:
            store.commit("g", "t", partition, 100 + partition, durable=True)
            if _on_disk(tmp_path).get(("g", "t", partition)) != CommittedOffset(100 + partition):
                missing.append(f"partition {partition}")
        return run

    try:
        layer.pause_next_snapshot()
        first = _start(committer(0))
        assert layer.paused.wait(WAIT_SECONDS)
        others = [_start(committer(p)) for p in range(1, 6)]
        _wait_until(lambda: all(store.fetch("g", "t", p) is not None for p in range(6)),
                    "every commit landed")
        layer.resume()
        for thread, errors in [first, *others]:
            _join(thread, errors)
        assert missing == []
        assert {k: v.offset for k, v in _on_disk(tmp_path).items()} == {
            ("g", "t", p): 100 + p for p in range(6)}
    finally:
        layer.resume()
        store.close()


class _Ticks:
    """The auto-flush thread's sleeper: each `tick()` lets one poll through."""

    def __init__(self) -> None:
        self._ticks = threading.Semaphore(0)
        self.stopping = False

    def sleep(self, seconds: float) -> None:
        while not self.stopping:
            if self._ticks.acquire(timeout=0.01):
                return

    def tick(self) -> None:
        self._ticks.release()


def test_durable_commit_racing_the_auto_flush_is_written(tmp_path: Path) -> None:
    """GRP-6, GRP-7: a durable commit landing while the auto-flush thread writes a snapshot
    returns only once a snapshot holding it is on disk."""
    layer = PausingLayer()
    now = [0]
    ticks = _Ticks()
    store = OffsetStore.open(str(tmp_path), file_layer=layer, clock=lambda: now[0],
                             auto_flush_ms=100, sleeper=ticks.sleep)
    try:
        store.commit("g", "t", 0, 3)
        now[0] = 100
        layer.pause_next_snapshot()
        ticks.tick()
        assert layer.paused.wait(WAIT_SECONDS), "the auto-flush did not start a snapshot"
        committer, errors = _start(lambda: store.commit("g", "u", 0, 9, durable=True))
        _wait_until(lambda: store.fetch("g", "u", 0) is not None, "the durable commit landed")
        layer.resume()
        _join(committer, errors)
        on_disk = _on_disk(tmp_path)
        assert on_disk.get(("g", "u", 0)) == CommittedOffset(9)
        assert on_disk.get(("g", "t", 0)) == CommittedOffset(3)
    finally:
        layer.resume()
        ticks.stopping = True
        store.close()


def test_pausing_layer_is_the_real_layer(tmp_path: Path) -> None:
    """The wrapper changes no behaviour: a plain store through it persists what it flushed."""
    layer: FileLayer = PausingLayer()
    with OffsetStore.open(str(tmp_path), file_layer=layer) as store:
        store.commit("g", "t", 0, 5, durable=True)
    assert _on_disk(tmp_path) == {("g", "t", 0): CommittedOffset(5)}
    assert os.listdir(tmp_path)
