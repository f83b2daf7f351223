"""The consumer-group offset store: codec, validation, open rules, persistence (spec/groups.md).

Expected bytes are packed here by hand with `struct` and `crc32c`, never by the codec under test.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyq.codec.offsets import (
    MAX_METADATA_BYTES,
    CommittedOffset,
    OffsetKey,
    decode_offsets,
    encode_offsets,
)
from flyq.crash.recording import RecordingFileLayer
from flyq.errors import (
    CorruptOffsetsFile,
    DirectoryLocked,
    FlyQError,
    InvalidArgument,
    InvalidConfig,
    InvalidGroupId,
    InvalidTopicName,
    MissingOffsetsFile,
    OffsetMetadataTooLarge,
    OffsetStoreClosed,
    StorageError,
    UnknownGroup,
)
from flyq.impl.filelayer import FileLock, OsFileLayer
from flyq.impl.groups import CREATED_MARKER, OFFSETS_FILE, OffsetStore
from flyq.model.groups import ModelOffsetStore

# --- strategies -----------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
# TOPIC-2's alphabet; "." and ".." are the two names it refuses outright.
_topics = st.text(st.sampled_from("abcXYZ019._-"), min_size=1, max_size=12).filter(
    lambda name: name not in (".", ".."))
keys = st.tuples(_text, _topics, st.integers(0, (1 << 31) - 1))
values = st.builds(CommittedOffset, st.integers(0, (1 << 63) - 1),
                   st.text(st.characters(exclude_categories=("Cs",)), max_size=20))
offset_maps = st.dictionaries(keys, values, max_size=8)


def _store(tmp_path: Path, **kwargs: object) -> OffsetStore:
    return OffsetStore.open(str(tmp_path / "groups"), **kwargs)  # type: ignore[arg-type]


def _entry(group: bytes, topic: bytes, partition: int, offset: int, metadata: bytes) -> bytes:
    return (struct.pack(">H", len(group)) + group + struct.pack(">H", len(topic)) + topic
            + struct.pack(">iqH", partition, offset, len(metadata)) + metadata)


def _file(entries: list[bytes], *, count: int | None = None, version: int = 1,
          magic: bytes = b"FQGO") -> bytes:
    body = b"".join(entries)
    head = struct.pack(">4sHII", magic, version, len(entries) if count is None else count,
                       len(body)) + body
    return head + struct.pack(">I", crc32c.crc32c(head))


# --- codec (GRP-11) -------------------------------------------------------------------------------


def test_empty_file_layout() -> None:
    """GRP-11, §4.2: an empty store is the 18-byte example of the spec."""
    assert encode_offsets({}) == bytes.fromhex("4651474f 0001 00000000 00000000 ca7f5d42")
    assert encode_offsets({}) == _file([])


def test_one_entry_layout() -> None:
    """GRP-11, §4.2: the one-entry example of the spec, byte for byte."""
    expected = bytes.fromhex("4651474f 0001 00000001 00000016 0002 6731 0001 74 00000000"
                             "0000000000000005 0001 6d ebb0b690")
    assert encode_offsets({("g1", "t", 0): CommittedOffset(5, "m")}) == expected
    assert expected == _file([_entry(b"g1", b"t", 0, 5, b"m")])
    assert decode_offsets(expected) == {("g1", "t", 0): CommittedOffset(5, "m")}


def test_entries_sorted_by_utf8_bytes() -> None:
    """GRP-11: entries are written in (group, topic, partition) order whatever the input order."""
    offsets = {("b", "t", 1): CommittedOffset(1), ("a", "u", 0): CommittedOffset(2),
               ("a", "t", 9): CommittedOffset(3), ("a", "t", 2): CommittedOffset(4)}
    expected = _file([_entry(b"a", b"t", 2, 4, b""), _entry(b"a", b"t", 9, 3, b""),
                      _entry(b"a", b"u", 0, 2, b""), _entry(b"b", b"t", 1, 1, b"")])
    assert encode_offsets(offsets) == expected


@settings(deadline=None)
@given(offset_maps)
def test_round_trip_is_canonical(offsets: dict[OffsetKey, CommittedOffset]) -> None:
    """GRP-11: decode(encode(x)) == x and encode(decode(b)) == b."""
    data = encode_offsets(offsets)
    assert decode_offsets(data) == offsets
    assert encode_offsets(decode_offsets(data)) == data


@pytest.mark.parametrize(
    ("data", "field", "position"),
    [
        (b"", "header", 0),
        (b"FQGO\x00\x01", "header", 0),
        (_file([], magic=b"FQCP"), "magic", 0),
        (_file([], version=2), "version", 4),
        (_file([_entry(b"g", b"t", 0, 1, b"")])[:-1], "entries_length", 10),
        (_file([_entry(b"g", b"t", 0, 1, b"")]) + b"\x00", "entries_length", 10),
        (_file([_entry(b"g", b"t", 0, 1, b"")], count=2), "group length", 34),
        (_file([_entry(b"g", b"t", 0, 1, b"")], count=0), "entries_length", 10),
        (_file([_entry(b"", b"t", 0, 1, b"")]), "group", 14),
        (_file([_entry(b"g", b"", 0, 1, b"")]), "topic", 14),
        (_file([_entry(b"g\xff", b"t", 0, 1, b"")]), "group", 17),
        (_file([_entry(b"g", b"t\xc3", 0, 1, b"")]), "topic", 20),
        (_file([_entry(b"g", b"t", 0, 1, b"\xed\xa0\x80")]), "metadata", 34),
        (_file([_entry(b"g", b"t", -1, 1, b"")]), "partition", 20),
        (_file([_entry(b"g", b"t", 0, -1, b"")]), "committed_offset", 24),
        (_file([_entry(b"g" * 250, b"t", 0, 1, b"")]), "group", 14),
        (_file([_entry(b"g" * 997, b"t", 0, 1, b"")]), "group length", 14),
        (_file([_entry(b"g", b"t", 0, 1, b"m" * (MAX_METADATA_BYTES + 1))]), "metadata length", 32),
        (_file([_entry(b"b", b"t", 0, 1, b""), _entry(b"a", b"t", 0, 1, b"")]), "entry", 34),
        (_file([_entry(b"a", b"t", 0, 1, b""), _entry(b"a", b"t", 0, 2, b"")]), "entry", 34),
    ],
)
def test_decode_rejections(data: bytes, field: str, position: int) -> None:
    """GRP-10, GRP-11, §4.3: each damaged file names its field and byte."""
    with pytest.raises(CorruptOffsetsFile) as caught:
        decode_offsets(data, source="/x/offsets")
    assert (caught.value.field, caught.value.position) == (field, position)
    assert caught.value.source == "/x/offsets"
    assert "/x/offsets" in str(caught.value)


def test_decode_reports_crc() -> None:
    """GRP-10, §4.3: a flipped bit anywhere before the CRC is a CRC mismatch at the CRC's byte."""
    data = bytearray(_file([_entry(b"g", b"t", 0, 1, b"m")]))
    data[20] ^= 1
    with pytest.raises(CorruptOffsetsFile) as caught:
        decode_offsets(bytes(data))
    assert (caught.value.field, caught.value.position) == ("crc", len(data) - 4)


@settings(deadline=None, max_examples=300)
@given(offset_maps, st.data())
def test_decode_never_leaks_other_errors(offsets: dict[OffsetKey, CommittedOffset],
                                         data: st.DataObject) -> None:
    """GRP-11: damaged entries (with a CRC recomputed to match) raise only CorruptOffsetsFile."""
    encoded = bytearray(encode_offsets(offsets))
    body = encoded[14:-4]
    if body:
        for _ in range(data.draw(st.integers(1, 4))):
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    count = data.draw(st.sampled_from([len(offsets), len(offsets) + 1, max(len(offsets) - 1, 0)]))
    head = struct.pack(">4sHII", b"FQGO", 1, count, cut) + bytes(body[:cut])
    damaged = head + struct.pack(">I", crc32c.crc32c(head))
    try:
        decoded = decode_offsets(damaged)
    except CorruptOffsetsFile:
        return
    assert encode_offsets(decoded) == damaged


# --- validation (GRP-2) ---------------------------------------------------------------------------

BAD_COMMITS = [
    (("", "t", 0, 1, ""), InvalidGroupId),
    (("g" * 250, "t", 0, 1, ""), InvalidGroupId),
    ((7, "t", 0, 1, ""), InvalidGroupId),
    (("g\ud800", "t", 0, 1, ""), InvalidGroupId),
    (("g", "", 0, 1, ""), InvalidTopicName),
    (("g", "t" * 250, 0, 1, ""), InvalidTopicName),
    (("g", b"t", 0, 1, ""), InvalidTopicName),
    (("g", "a/b", 0, 1, ""), InvalidTopicName),
    (("g", "..", 0, 1, ""), InvalidTopicName),
    (("g", "\udfff", 0, 1, ""), InvalidTopicName),
    (("g", "t", -1, 1, ""), InvalidArgument),
    (("g", "t", 1 << 31, 1, ""), InvalidArgument),
    (("g", "t", True, 1, ""), InvalidArgument),
    (("g", "t", "0", 1, ""), InvalidArgument),
    (("g", "t", 0, -1, ""), InvalidArgument),
    (("g", "t", 0, 1 << 63, ""), InvalidArgument),
    (("g", "t", 0, False, ""), InvalidArgument),
    (("g", "t", 0, 1.0, ""), InvalidArgument),
    (("g", "t", 0, 1, None), InvalidArgument),
    (("g", "t", 0, 1, "\ud800"), InvalidArgument),
    (("g", "t", 0, 1, "m" * (MAX_METADATA_BYTES + 1)), OffsetMetadataTooLarge),
    (("g", "t", 0, 1, "é" * (MAX_METADATA_BYTES // 2 + 1)), OffsetMetadataTooLarge),
]


@pytest.mark.parametrize(("arguments", "error"), BAD_COMMITS)
def test_bad_commit_refused_without_change(tmp_path: Path, arguments: tuple[object, ...],
                                           error: type[FlyQError]) -> None:
    """GRP-2: a bad argument raises its error in store and model alike, and changes nothing."""
    store = _store(tmp_path)
    model = ModelOffsetStore()
    store.commit("g", "t", 0, 5)
    model.commit("g", "t", 0, 5)
    store.flush()
    model.flush()
    for target in (store, model):
        with pytest.raises(error):
            target.commit(*arguments)  # type: ignore[arg-type]
        assert not target.dirty
        assert target.describe("g") == {("t", 0): CommittedOffset(5)}
    store.close()


def test_limits_are_inclusive(tmp_path: Path) -> None:
    """GRP-2: the largest group id, topic, partition, offset and metadata are accepted and kept."""
    group, topic = "ü" * 249, "t" * 249
    metadata = "m" * MAX_METADATA_BYTES
    with _store(tmp_path) as store:
        store.commit(group, topic, (1 << 31) - 1, (1 << 63) - 1, metadata)
    with _store(tmp_path) as store:
        assert store.fetch(group, topic, (1 << 31) - 1) == CommittedOffset((1 << 63) - 1, metadata)


def test_bad_fetch_describe_delete(tmp_path: Path) -> None:
    """GRP-2, GRP-4: queries validate their arguments too; deleting a group without keys fails."""
    with _store(tmp_path) as store:
        with pytest.raises(InvalidGroupId):
            store.fetch("", "t", 0)
        with pytest.raises(InvalidArgument):
            store.fetch("g", "t", -1)
        with pytest.raises(InvalidGroupId):
            store.describe("")
        with pytest.raises(InvalidGroupId):
            store.delete_group("g" * 250)
        with pytest.raises(UnknownGroup):
            store.delete_group("nobody")
        assert not store.dirty


# --- semantics (GRP-1, GRP-3, GRP-4) --------------------------------------------------------------


def test_commit_fetch_overwrite(tmp_path: Path) -> None:
    """GRP-3: fetch returns the last commit, which may move backwards; unknown keys give None."""
    with _store(tmp_path) as store:
        assert store.fetch("g", "t", 0) is None
        store.commit("g", "t", 0, 10, "first")
        store.commit("g", "t", 0, 3)
        assert store.fetch("g", "t", 0) == CommittedOffset(3, "")
        assert store.fetch("g", "t", 1) is None


def test_two_groups_two_topics_kept_apart_after_restart(tmp_path: Path) -> None:
    """GRP-1: same partition numbers on two topics in two groups are four keys, also reopened."""
    with _store(tmp_path) as store:
        for g, group in enumerate(("alpha", "beta")):
            for t, topic in enumerate(("orders", "payments")):
                for partition in (0, 1):
                    store.commit(group, topic, partition, 100 * g + 10 * t + partition, f"{g}{t}")
    with _store(tmp_path) as store:
        assert store.groups() == ["alpha", "beta"]
        for g, group in enumerate(("alpha", "beta")):
            assert store.describe(group) == {
                (topic, partition): CommittedOffset(100 * g + 10 * t + partition, f"{g}{t}")
                for t, topic in enumerate(("orders", "payments")) for partition in (0, 1)}


def test_groups_describe_delete(tmp_path: Path) -> None:
    """GRP-4: groups() is sorted, describe of an unknown group is empty, delete drops one group."""
    with _store(tmp_path) as store:
        store.commit("b", "t", 0, 1)
        store.commit("a", "t", 0, 2)
        store.commit("a", "u", 3, 4)
        assert store.groups() == ["a", "b"]
        assert store.describe("zzz") == {}
        store.delete_group("a", durable=True)
        assert store.groups() == ["b"]
        assert store.fetch("a", "t", 0) is None
        assert store.fetch("b", "t", 0) == CommittedOffset(1)
    with _store(tmp_path) as store:
        assert store.groups() == ["b"]


def test_delete_offsets_drops_only_the_named_keys(tmp_path: Path) -> None:
    """GRP-14: named keys go, absent ones are skipped, a bad key refuses the whole call, and a
    call removing nothing leaves the store clean."""
    with _store(tmp_path) as store:
        store.commit("a", "t", 0, 1)
        store.commit("a", "t", 1, 2)
        store.commit("b", "t", 0, 3, durable=True)
        with pytest.raises(InvalidArgument):
            store.delete_offsets("a", [("t", 0), ("t", -1)])
        assert store.fetch("a", "t", 0) == CommittedOffset(1)
        store.delete_offsets("a", [("t", 0), ("u", 7)], durable=True)
        assert not store.dirty
        assert store.describe("a") == {("t", 1): CommittedOffset(2)}
        assert store.fetch("b", "t", 0) == CommittedOffset(3)
        store.delete_offsets("a", [("t", 0)])
        assert not store.dirty
    with _store(tmp_path) as store:
        assert store.describe("a") == {("t", 1): CommittedOffset(2)}


# --- persistence (GRP-5..GRP-8, GRP-12, GRP-13) ---------------------------------------------------


def _on_disk(layer: RecordingFileLayer) -> dict[OffsetKey, CommittedOffset]:
    handle = layer.open("/disk/groups/offsets", create=False)
    return decode_offsets(handle.pread(handle.size(), 0))


def test_dirty_and_flush() -> None:
    """GRP-5, GRP-6: commits mark dirty without I/O; flush persists; a clean flush does no I/O."""
    layer = RecordingFileLayer(directories={"/disk"})
    store = OffsetStore.open("/disk/groups", file_layer=layer)
    assert not store.dirty
    before = len(layer.history)
    store.commit("g", "t", 0, 1)
    assert store.dirty
    assert len(layer.history) == before
    assert _on_disk(layer) == {}
    store.flush()
    assert not store.dirty
    assert _on_disk(layer) == {("g", "t", 0): CommittedOffset(1)}
    after = len(layer.history)
    store.flush()
    assert len(layer.history) == after


def test_dirty_since_dates_the_oldest_unflushed_change() -> None:
    """GRP-7: dirty_since_ms is the clock at the first change after a flush, None when clean."""
    now = {"ms": 500}
    layer = RecordingFileLayer(directories={"/disk"})
    store = OffsetStore.open("/disk/groups", file_layer=layer, clock=lambda: now["ms"])
    assert store.dirty_since_ms is None
    store.commit("g", "t", 0, 1)
    now["ms"] = 900
    store.commit("g", "t", 0, 2)
    assert store.dirty_since_ms == 500
    store.flush()
    assert store.dirty_since_ms is None
    store.delete_group("g")
    assert store.dirty_since_ms == 900


def test_durable_commit_is_on_disk_when_it_returns() -> None:
    """GRP-6: a durable commit returns after fsync of the file and of the directory."""
    layer = RecordingFileLayer(directories={"/disk"})
    store = OffsetStore.open("/disk/groups", file_layer=layer)
    before = len(layer.history)
    store.commit("g", "t", 0, 7, durable=True)
    kinds = [op.kind for op in layer.history[before:]]
    assert kinds[-1] == "fsync_dir"
    assert kinds.index("fsync") < kinds.index("rename")
    assert _on_disk(layer) == {("g", "t", 0): CommittedOffset(7)}
    assert not store.dirty


class _KillableLocks(OsFileLayer):
    """The real file layer, remembering held locks so a "kill" can drop them as the kernel would."""

    def __init__(self) -> None:
        self.locks: list[FileLock] = []

    def lock(self, path: str) -> FileLock:
        held = super().lock(path)
        self.locks.append(held)
        return held

    def kill(self) -> None:
        for held in self.locks:
            held.release()


def test_kill_keeps_exactly_the_last_flush(tmp_path: Path) -> None:
    """GRP-12: a store abandoned without close reopens to what the last flush covered."""
    layer = _KillableLocks()
    directory = str(tmp_path / "groups")
    store = OffsetStore.open(directory, file_layer=layer)
    store.commit("g", "t", 0, 1)
    store.flush()
    store.commit("g", "t", 0, 2)
    store.commit("h", "t", 0, 2)
    layer.kill()
    with OffsetStore.open(directory) as reopened:
        assert reopened.describe("g") == {("t", 0): CommittedOffset(1)}
        assert reopened.groups() == ["g"]


def test_close_flushes_and_closes(tmp_path: Path) -> None:
    """GRP-8: close flushes; afterwards every call raises OffsetStoreClosed; close is idempotent."""
    store = _store(tmp_path)
    store.commit("g", "t", 0, 1)
    store.close()
    store.close()
    for call in (lambda: store.commit("g", "t", 0, 2), lambda: store.fetch("g", "t", 0),
                 store.groups, lambda: store.describe("g"), lambda: store.delete_group("g"),
                 store.flush):
        with pytest.raises(OffsetStoreClosed):
            call()
    with _store(tmp_path) as reopened:
        assert reopened.fetch("g", "t", 0) == CommittedOffset(1)


def test_second_owner_refused(tmp_path: Path) -> None:
    """GRP-13: a second open of an open store raises DirectoryLocked; after close it opens."""
    store = _store(tmp_path)
    with pytest.raises(DirectoryLocked):
        _store(tmp_path)
    store.close()
    _store(tmp_path).close()


class _FailingRename(OsFileLayer):
    """Refuses the next `failures` renames, as a full or failing disk would."""

    def __init__(self) -> None:
        self.failures = 0

    def rename(self, source: str, target: str) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageError("rename (injected)", source)
        super().rename(source, target)


def test_failed_flush_stays_dirty_and_retries(tmp_path: Path) -> None:
    """GRP-6: a flush the disk refuses raises StorageError, leaves the store dirty, and the next
    flush writes the snapshot."""
    layer = _FailingRename()
    directory = str(tmp_path / "groups")
    store = OffsetStore.open(directory, file_layer=layer)
    store.commit("g", "t", 0, 1)
    layer.failures = 1
    with pytest.raises(StorageError):
        store.flush()
    assert store.dirty
    store.close()
    with OffsetStore.open(directory) as reopened:
        assert reopened.fetch("g", "t", 0) == CommittedOffset(1)


def test_close_releases_directory_when_flush_fails(tmp_path: Path) -> None:
    """GRP-8: if close's flush raises, the directory is still released and the store closed."""
    layer = _FailingRename()
    store = OffsetStore.open(str(tmp_path / "groups"), file_layer=layer)
    store.commit("g", "t", 0, 1)
    layer.failures = 1
    with pytest.raises(StorageError):
        store.close()
    with pytest.raises(OffsetStoreClosed):
        store.fetch("g", "t", 0)
    with _store(tmp_path) as reopened:
        assert reopened.fetch("g", "t", 0) is None


def _flush_threads() -> int:
    return sum(thread.name.startswith("flyq-offsets-flush") for thread in threading.enumerate())


class _StepSleeper:
    """An injected sleeper the test drives one poll at a time."""

    def __init__(self) -> None:
        self.intervals: list[float] = []
        self._go = threading.Semaphore(0)
        self._asleep = threading.Semaphore(0)
        self._released = False

    def __call__(self, seconds: float) -> None:
        self.intervals.append(seconds)
        if self._released:
            return
        self._asleep.release()
        self._go.acquire()

    def wait_asleep(self) -> None:
        assert self._asleep.acquire(timeout=60), "the auto-flush thread never slept"

    def step(self) -> None:
        """Let one poll run and wait until the thread sleeps again."""
        self._go.release()
        self.wait_asleep()

    def release(self) -> None:
        self._released = True
        self._go.release()


def test_auto_flush_with_injected_clock() -> None:
    """GRP-7: the background thread flushes once the oldest unflushed change is auto_flush_ms old
    by the injected clock, polling every auto_flush_ms / 4; close stops it."""
    now = [1000]
    sleeper = _StepSleeper()
    layer = RecordingFileLayer(directories={"/disk"})
    store = OffsetStore.open("/disk/groups", file_layer=layer, clock=lambda: now[0],
                             auto_flush_ms=100, sleeper=sleeper)
    sleeper.wait_asleep()
    assert sleeper.intervals == [0.025]
    store.commit("g", "t", 0, 1)
    now[0] = 1050
    store.commit("g", "t", 0, 2)  # the oldest change still dates from 1000
    now[0] = 1099
    sleeper.step()
    assert store.dirty
    now[0] = 1100
    sleeper.step()
    assert not store.dirty
    assert _on_disk(layer) == {("g", "t", 0): CommittedOffset(2)}
    store.commit("g", "t", 0, 3)
    now[0] = 1250
    sleeper.step()
    assert _on_disk(layer) == {("g", "t", 0): CommittedOffset(3)}
    sleeper.step()  # nothing to do: a clean store is not written again
    writes = len(layer.history)
    sleeper.step()
    assert len(layer.history) == writes
    assert _flush_threads() == 1
    sleeper.release()
    store.close()
    assert _flush_threads() == 0


def test_auto_flush_setting_validated(tmp_path: Path) -> None:
    """GRP-7: auto_flush_ms must be None or an int >= 1."""
    for bad in (0, -5, 1.5, True):
        with pytest.raises(InvalidConfig):
            _store(tmp_path, auto_flush_ms=bad)
    _store(tmp_path).close()  # the refused opens left the directory unlocked


def test_auto_flush_real_thread_stops_on_close(tmp_path: Path) -> None:
    """GRP-7, GRP-8: with the default sleeper, close wakes and stops the thread, then flushes."""
    store = _store(tmp_path, auto_flush_ms=3_600_000)
    store.commit("g", "t", 0, 9)
    assert _flush_threads() == 1
    store.close()
    assert _flush_threads() == 0
    with _store(tmp_path) as reopened:
        assert reopened.fetch("g", "t", 0) == CommittedOffset(9)


# --- open: never created vs lost (GRP-10) ---------------------------------------------------------


def test_never_created_is_empty_and_creates(tmp_path: Path) -> None:
    """GRP-10, §5.2: a directory without a store opens empty and gets the file and the marker."""
    directory = tmp_path / "a" / "b" / "groups"
    with OffsetStore.open(str(directory)) as store:
        assert store.groups() == []
    assert (directory / OFFSETS_FILE).read_bytes() == encode_offsets({})
    assert (directory / CREATED_MARKER).exists()


def test_missing_file_after_creation(tmp_path: Path) -> None:
    """GRP-10: a created store whose offsets file is gone raises MissingOffsetsFile naming it."""
    with _store(tmp_path) as store:
        store.commit("g", "t", 0, 1)
    path = tmp_path / "groups" / OFFSETS_FILE
    path.unlink()
    with pytest.raises(MissingOffsetsFile) as caught:
        _store(tmp_path)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    with pytest.raises(MissingOffsetsFile):
        _store(tmp_path)  # the failed open released the lock and wrote nothing


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        (lambda data: data[:-1], "entries_length"),
        (lambda data: data[:10], "header"),
        (lambda data: b"", "header"),
        (lambda data: data[:20] + bytes([data[20] ^ 0x40]) + data[21:], "crc"),
        (lambda data: b"PK\x03\x04" + data[4:], "magic"),
    ],
    ids=["truncated-by-one", "truncated-header", "empty", "flipped-bit", "foreign"],
)
def test_corrupt_or_truncated_file(tmp_path: Path, damage: object, field: str) -> None:
    """GRP-10: a damaged offsets file raises CorruptOffsetsFile naming file, field and byte."""
    with _store(tmp_path) as store:
        store.commit("g", "t", 0, 1, "meta")
    path = tmp_path / "groups" / OFFSETS_FILE
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(CorruptOffsetsFile) as caught:
        _store(tmp_path)
    assert caught.value.field == field
    assert caught.value.source == str(path)
    assert f"at byte {caught.value.position}" in str(caught.value)


def test_interrupted_creation_completes(tmp_path: Path) -> None:
    """GRP-10, §5.2: an offsets file without the marker (creation cut short) opens and gets one."""
    directory = tmp_path / "groups"
    directory.mkdir()
    (directory / OFFSETS_FILE).write_bytes(encode_offsets({}))
    with OffsetStore.open(str(directory)) as store:
        assert store.groups() == []
    assert (directory / CREATED_MARKER).exists()


def test_stray_temp_file_removed(tmp_path: Path) -> None:
    """GRP-10, §5.1: a torn offsets.tmp left by a crash is removed and never read."""
    with _store(tmp_path) as store:
        store.commit("g", "t", 0, 1)
    temp = tmp_path / "groups" / (OFFSETS_FILE + ".tmp")
    temp.write_bytes(b"garbage")
    with _store(tmp_path) as store:
        assert store.fetch("g", "t", 0) == CommittedOffset(1)
    assert not temp.exists()
    assert sorted(os.listdir(tmp_path / "groups")) == [".lock", CREATED_MARKER, OFFSETS_FILE]
