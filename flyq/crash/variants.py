"""Deliberately broken recoveries: proof that the harness can fail (spec/crash-model.md, CM-9);
and `FailingFsyncLayer`, the disk fault (a failed fsync) that the explorer and the lockstep machine
inject.

Each variant is switched in through a seam the log already has, a `RecoveryPolicy` or a wrapper
around the file layer, never by editing FlyQ's source. The crash suite asserts the explorer
reports every one of them.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import attrs

from flyq.codec.record_batch import BatchHeader
from flyq.crash.recording import RecordingFileLayer
from flyq.errors import StorageError
from flyq.impl.filelayer import FileHandle, FileLayer, ForwardingFileHandle, ForwardingFileLayer
from flyq.impl.recovery import RecoveryPolicy
from flyq.impl.segment import ScanResult, Segment

__all__ = ["BROKEN_VARIANTS", "BrokenVariant", "FailingFsyncLayer", "NoDirectoryFsync"]


class SkipCrcCheck(RecoveryPolicy):
    """Accepts any batch whose framing parses, whatever its CRC says."""

    def check_batch(self, buffer: bytes, position: int, header: BatchHeader, source: str) -> None:
        return None


class TrustStaleIndex(RecoveryPolicy):
    """Keeps whatever index files the crash left instead of rebuilding them."""

    def rebuild_scanned_indexes(self) -> bool:
        return False

    def trusted_index_problem(self, segment: Segment) -> str | None:
        return None


class TruncateOneByteLate(RecoveryPolicy):
    """Cuts a bad tail one byte after where the valid batches end."""

    def valid_end(self, result: ScanResult, tail: bytes) -> int:
        return result.valid_bytes + min(1, len(tail))


class ZeroTailIsValid(RecoveryPolicy):
    """Treats a zero-filled tail as if it were part of the log."""

    def valid_end(self, result: ScanResult, tail: bytes) -> int:
        if tail and not tail.strip(b"\x00"):
            return result.valid_bytes + len(tail)
        return result.valid_bytes


class KeepEpochCacheUncut(RecoveryPolicy):
    """Restores the epoch cache as checkpointed, entries past the recovered log end included."""

    def cut_epoch_cache(self, entries: list[tuple[int, int]], log_start_offset: int,
                        log_end_offset: int) -> list[tuple[int, int]]:
        return entries


class NoDirectoryFsync(ForwardingFileLayer):
    """A file layer that forgets every directory fsync (e.g. after rolling a segment)."""

    def fsync_dir(self, path: str) -> None:
        return None


@attrs.frozen
class BrokenVariant:
    """A named broken recovery and how to switch it in."""

    name: str
    policy: RecoveryPolicy | None = None
    wrap: Callable[[RecordingFileLayer], FileLayer] | None = None


BROKEN_VARIANTS: tuple[BrokenVariant, ...] = (
    BrokenVariant("skip the CRC check", policy=SkipCrcCheck()),
    BrokenVariant("trust a stale index", policy=TrustStaleIndex()),
    BrokenVariant("truncate one byte too late", policy=TruncateOneByteLate()),
    BrokenVariant("treat a zero-filled tail as valid", policy=ZeroTailIsValid()),
    BrokenVariant("forget directory fsyncs", wrap=NoDirectoryFsync),
    BrokenVariant("forget to truncate the epoch cache", policy=KeepEpochCacheUncut()),
)


class _FailingFsyncHandle(ForwardingFileHandle):
    """A handle whose `fsync` consults its layer before reaching the real one."""

    def __init__(self, inner: FileHandle, layer: FailingFsyncLayer) -> None:
        super().__init__(inner)
        self._layer = layer

    def fsync(self) -> None:
        self._layer.check_fsync(self.inner.path)
        self.inner.fsync()


class FailingFsyncLayer(ForwardingFileLayer):
    """A file layer whose next fdatasync can be told to fail once, as a disk reporting EIO does.

    The failed fsync raises `StorageError` (an `OSError(EIO)` as its cause) and never reaches the
    layer underneath, so on a recording layer it makes nothing durable (spec/crash-model.md §1.1).
    Everything else passes straight through.
    """

    def __init__(self, inner: FileLayer) -> None:
        super().__init__(inner)
        self._armed = False
        self.failures = 0

    def fail_next_fsync(self) -> None:
        """Make the next `FileHandle.fsync` through this layer fail (once)."""
        self._armed = True

    @property
    def armed(self) -> bool:
        """Whether a failure is still waiting for its fsync."""
        return self._armed

    def disarm(self) -> None:
        """Cancel a failure that no fsync took."""
        self._armed = False

    def check_fsync(self, path: str) -> None:
        """Raise the armed failure for an fsync of `path`, if there is one."""
        if self._armed:
            self._armed = False
            self.failures += 1
            cause = OSError(errno.EIO, os.strerror(errno.EIO))
            raise StorageError(f"fdatasync ({cause.strerror})", path) from cause

    def open(self, path: str, *, create: bool) -> FileHandle:
        return _FailingFsyncHandle(self.inner.open(path, create=create), self)
