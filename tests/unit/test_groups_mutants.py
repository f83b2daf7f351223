"""The consumer-group offset store (flyq.impl.groups, spec/groups.md): gaps mutation testing showed.

The defaults of delete_group, the error attributes, and the auto-flush thread's own sleeper,
polling interval and failure log.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from flyq.errors import StorageError, UnknownGroup
from flyq.impl.filelayer import OsFileLayer
from flyq.impl.groups import OffsetStore


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
