"""The consumer-group offset store (flyq.impl.groups, spec/groups.md): gaps mutation testing showed.

The defaults of delete_group, the error attributes, relative directories, and the auto-flush
thread: its own sleeper, polling interval, daemon flag, failure log, and how it dates changes made
while a snapshot is written.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flyq.errors import (
    InvalidConfig,
    MissingOffsetsFile,
    OffsetStoreClosed,
    StorageError,
    UnknownGroup,
)
from flyq.impl.filelayer import OsFileLayer
from flyq.impl.groups import CREATED_MARKER, OFFSETS_FILE, OffsetStore


class PollSleeper:
    """An injected sleeper that records each interval and lets the test run one poll at a time."""

    def __init__(self) -> None:
        self.intervals: list[float] = []
        self._go = threading.Semaphore(0)
        self._asleep = threading.Semaphore(0)
        self._released = False

    def __call__(self, seconds: float) -> None:
        self.intervals.append(seconds)
        if not self._released:
            self._asleep.release()
            self._go.acquire()

    def wait_asleep(self) -> None:
        assert self._asleep.acquire(timeout=60), "the auto-flush thread never slept"

    def step(self) -> None:
        self._go.release()
        self.wait_asleep()

    def release(self) -> None:
        self._released = True
        self._go.release()


class FailingRenameLayer(OsFileLayer):
    """The real file layer, whose renames fail while `broken` is set (a disk gone bad)."""

    broken = False

    def rename(self, source: str, target: str) -> None:
        if self.broken:
            raise StorageError("rename", source)
        super().rename(source, target)


def test_delete_group_is_not_durable_by_default(tmp_path: Path) -> None:
    """GRP-4, GRP-6: delete_group without durable changes memory only; the store is dirty."""
    with OffsetStore.open(str(tmp_path)) as store:
        store.commit("g", "t", 0, 5, durable=True)
        store.delete_group("g")
        assert store.dirty
        assert store.groups() == []


def test_unknown_group_names_the_group(tmp_path: Path) -> None:
    """GRP-4: deleting a group without offsets raises UnknownGroup carrying the group id."""
    with OffsetStore.open(str(tmp_path)) as store, pytest.raises(UnknownGroup) as caught:
        store.delete_group("nobody")
    assert caught.value.group == "nobody"
    assert "'nobody'" in str(caught.value)


@pytest.mark.parametrize(("auto_flush_ms", "interval"), [(1, 0.001), (6, 0.0015), (100, 0.025)])
def test_auto_flush_polls_every_quarter_period_at_least_a_millisecond(
    tmp_path: Path, auto_flush_ms: int, interval: float
) -> None:
    """GRP-7: the thread polls every auto_flush_ms / 4 milliseconds, and at least every 1 ms."""
    sleeper = PollSleeper()
    store = OffsetStore.open(str(tmp_path), auto_flush_ms=auto_flush_ms, sleeper=sleeper)
    sleeper.wait_asleep()
    assert sleeper.intervals == [interval]
    sleeper.release()
    store.close()


def test_default_sleeper_lets_the_thread_flush(tmp_path: Path) -> None:
    """GRP-7: with the default sleeper the thread wakes on its own and flushes a due change."""
    now = [0]
    store = OffsetStore.open(str(tmp_path), clock=lambda: now[0], auto_flush_ms=4)
    try:
        store.commit("g", "t", 0, 1)
        now[0] = 10
        deadline = time.monotonic() + 60  # liveness only: the flush is due at the next 1 ms poll
        while store.dirty and time.monotonic() < deadline:
            time.sleep(0.005)
        assert not store.dirty
    finally:
        store.close()


def test_background_flush_failure_is_logged_with_the_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """GRP-7: a failed background flush is logged naming the offsets file; the store stays dirty."""
    now = [0]
    sleeper = PollSleeper()
    layer = FailingRenameLayer()
    store = OffsetStore.open(str(tmp_path), file_layer=layer, clock=lambda: now[0],
                             auto_flush_ms=100, sleeper=sleeper)
    sleeper.wait_asleep()
    store.commit("g", "t", 0, 1)
    now[0] = 100
    layer.broken = True
    with caplog.at_level(logging.ERROR, logger="flyq.groups"):
        sleeper.step()
    assert store.dirty
    (record,) = [r for r in caplog.records if r.name == "flyq.groups"]
    assert str(tmp_path / "offsets") in record.getMessage()
    assert "background flush" in record.getMessage()
    assert isinstance(record.exc_info and record.exc_info[1], StorageError)
    layer.broken = False
    sleeper.release()
    store.close()
    assert not store.dirty


class CommitDuringRenameLayer(OsFileLayer):
    """The real file layer, running `during_rename` once inside the next rename: a change that
    lands while a snapshot is being written."""

    during_rename: Callable[[], None] | None = None

    def rename(self, source: str, target: str) -> None:
        action, self.during_rename = self.during_rename, None
        if action is not None:
            action()
        super().rename(source, target)


def test_changes_during_a_flush_are_dated_from_the_snapshot(tmp_path: Path) -> None:
    """GRP-7: a change made while a snapshot is written is due auto_flush_ms after the snapshot
    was taken; once clean, the next change starts a new period."""
    now = [0]
    sleeper = PollSleeper()
    layer = CommitDuringRenameLayer()
    store = OffsetStore.open(str(tmp_path), file_layer=layer, clock=lambda: now[0],
                             auto_flush_ms=100, sleeper=sleeper)
    sleeper.wait_asleep()
    store.commit("g", "t", 0, 1)
    now[0] = 50
    layer.during_rename = lambda: store.commit("g", "t", 0, 2)
    store.flush()
    assert store.dirty
    now[0] = 149
    sleeper.step()
    assert store.dirty
    now[0] = 150
    sleeper.step()
    assert not store.dirty
    now[0] = 1000
    store.commit("g", "t", 0, 3)
    sleeper.step()
    assert store.dirty
    sleeper.release()
    store.close()


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_auto_flush_setting_names_key_and_value(tmp_path: Path, bad: object) -> None:
    """GRP-7: a bad auto_flush_ms raises InvalidConfig naming the key and the value."""
    with pytest.raises(InvalidConfig) as caught:
        OffsetStore.open(str(tmp_path), auto_flush_ms=bad)  # type: ignore[arg-type]
    assert (caught.value.key, caught.value.value) == ("auto_flush_ms", bad)
    assert str(caught.value).partition(": ")[2] not in ("", "None")


def test_auto_flush_thread_is_a_daemon(tmp_path: Path) -> None:
    """GRP-7: the auto-flush thread never keeps a process alive whose owner forgot close."""
    sleeper = PollSleeper()
    store = OffsetStore.open(str(tmp_path), auto_flush_ms=100, sleeper=sleeper)
    sleeper.wait_asleep()
    (thread,) = [t for t in threading.enumerate() if t.name.startswith("flyq-offsets-flush")]
    assert thread.daemon
    sleeper.release()
    store.close()


def test_closed_store_error_names_the_directory(tmp_path: Path) -> None:
    """GRP-8: using a closed store raises OffsetStoreClosed naming its directory."""
    store = OffsetStore.open(str(tmp_path))
    store.close()
    with pytest.raises(OffsetStoreClosed, match=str(tmp_path)):
        store.groups()


def test_missing_offsets_file_names_the_marker(tmp_path: Path) -> None:
    """GRP-10: MissingOffsetsFile names the lost file and the marker that proves it existed."""
    OffsetStore.open(str(tmp_path)).close()
    (tmp_path / OFFSETS_FILE).unlink()
    with pytest.raises(MissingOffsetsFile) as caught:
        OffsetStore.open(str(tmp_path))
    assert (caught.value.path, caught.value.marker) == (
        str(tmp_path / OFFSETS_FILE), str(tmp_path / CREATED_MARKER))


class DirectoryRecordingLayer(OsFileLayer):
    """The real file layer, recording which directories are fsynced."""

    def __init__(self) -> None:
        self.synced: list[str] = []

    def fsync_dir(self, path: str) -> None:
        self.synced.append(path)
        super().fsync_dir(path)


def test_relative_directory_is_created_durably(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """GRP-10: a store in a new relative directory creates it and fsyncs the working directory."""
    monkeypatch.chdir(tmp_path)
    layer = DirectoryRecordingLayer()
    OffsetStore.open(os.path.join("a", "groups"), file_layer=layer).close()
    assert (tmp_path / "a" / "groups" / OFFSETS_FILE).exists()
    assert layer.synced[:2] == [".", "a"]
