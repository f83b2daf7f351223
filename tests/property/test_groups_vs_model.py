"""The disk offset store against its reference model, through the reusable lockstep machine."""

from __future__ import annotations

import os
import shutil
import tempfile

from flyq.impl.filelayer import FileLock, OsFileLayer
from flyq.impl.groups import OffsetStore
from flyq.model.groups import OffsetStoreInterface
from flyq.testing import make_groups_machine


class _KillableFileLayer(OsFileLayer):
    """The real file layer, remembering held locks so a "kill" can release them as the kernel does
    for a dead process (every write it accepted stays in the page cache, and so in the file)."""

    def __init__(self) -> None:
        self.locks: list[FileLock] = []

    def lock(self, path: str) -> FileLock:
        held = super().lock(path)
        self.locks.append(held)
        return held

    def kill(self) -> None:
        for held in self.locks:
            held.release()
        self.locks.clear()


class DiskGroupsHarness:
    """Drives `OffsetStore` in a temporary directory (tmpfs when there is one)."""

    def __init__(self) -> None:
        scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.root = tempfile.mkdtemp(prefix="flyq-groups-prop-", dir=scratch)
        self.directory = os.path.join(self.root, "groups")
        self.layer = _KillableFileLayer()

    def open(self) -> OffsetStoreInterface:
        return OffsetStore.open(self.directory, file_layer=self.layer)

    def close(self, store: OffsetStoreInterface) -> None:
        assert isinstance(store, OffsetStore)
        store.close()

    def kill(self, store: OffsetStoreInterface) -> None:
        self.layer.kill()

    def cleanup(self) -> None:
        self.layer.kill()
        shutil.rmtree(self.root, ignore_errors=True)


TestOffsetStoreAgreesWithModel = make_groups_machine(DiskGroupsHarness).TestCase
TestOffsetStoreAgreesWithModel.__doc__ = (
    "GRP-1..GRP-9, GRP-12: the disk store and the model agree on every step.")
