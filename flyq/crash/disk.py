"""Disks a crash could leave, built from a recorded history (spec/crash-model.md).

Given the durable disk at the start and the operations up to a crash point, `crash_states` yields
every disk (or, past a budget, a seeded sample of the disks) that the crash model allows in a mode:

- `kill`: the process dies; the kernel keeps every operation it accepted (SIGKILL).
- `ordered`: the machine dies; the disk holds a prefix of the operations in order, and the
  operation in flight may be torn at any byte, its torn part holding old bytes, zeros or garbage.
- `reorder`: the machine dies; the disk holds what was made durable (fsync, msync, directory
  fsync) plus any subset of the operations since, each unsynced write, truncate and directory
  change independently, memory-mapped pages one page at a time; the operation in flight may tear.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import posixpath
import random
from collections.abc import Iterator, Mapping

import attrs

from flyq.crash.recording import (
    CREATE,
    FSYNC,
    FSYNC_DIR,
    MAP_FLUSH,
    MAP_WRITE,
    MKDIR,
    REMOVE,
    RENAME,
    TRUNCATE,
    WRITE,
    Op,
    RecordingFileLayer,
)

__all__ = ["MODES", "CrashState", "crash_states"]

MODES = ("kill", "ordered", "reorder")
PAGE_SIZE = 4096
TORN_FILLS = ("old", "zeros", "garbage")


@attrs.frozen
class CrashState:
    """One disk a crash could leave: its files, its directories and how it came about."""

    mode: str
    crash_point: int
    choice: str
    files: tuple[tuple[str, bytes], ...]
    directories: frozenset[str]

    def materialise(self, disk_root: str, real_root: str) -> None:
        """Write this disk as real files: `disk_root` on the recorded disk becomes `real_root`."""
        for directory in sorted(self.directories):
            if directory == disk_root or directory.startswith(disk_root + "/"):
                os.makedirs(real_root + directory[len(disk_root):], exist_ok=True)
        for path, data in self.files:
            real = real_root + path[len(disk_root):]
            os.makedirs(os.path.dirname(real), exist_ok=True)
            with open(real, "wb") as handle:
                handle.write(data)

    def digest(self) -> str:
        """Identity of the disk's contents, for deduplication."""
        hasher = hashlib.blake2b(digest_size=16)
        for path, data in self.files:
            hasher.update(path.encode())
            hasher.update(len(data).to_bytes(8, "big"))
            hasher.update(data)
        for directory in sorted(self.directories):
            hasher.update(b"\x00d" + directory.encode())
        return hasher.hexdigest()


def _apply_data(data: bytearray, op: Op) -> None:
    if op.kind in (WRITE, MAP_WRITE):
        end = op.position + len(op.data)
        if len(data) < op.position:
            data.extend(bytes(op.position - len(data)))
        data[op.position : end] = op.data
    elif op.kind == TRUNCATE:
        if op.size < len(data):
            del data[op.size :]
        else:
            data.extend(bytes(op.size - len(data)))


def _apply_entry(entries: dict[str, int], directories: set[str], op: Op) -> None:
    if op.kind == CREATE:
        entries.setdefault(op.path, op.inode)
    elif op.kind == RENAME:
        if entries.get(op.path) == op.inode:
            del entries[op.path]
            entries[op.target] = op.inode
    elif op.kind == REMOVE:
        if entries.get(op.path) == op.inode:
            del entries[op.path]
    elif op.kind == MKDIR:
        directories.add(op.path)


@attrs.define
class _Replay:
    """Volatile and durable state after a prefix of the history."""

    volatile_entries: dict[str, int]
    volatile_data: dict[int, bytearray]
    volatile_directories: set[str]
    durable_entries: dict[str, int]
    durable_data: dict[int, bytes]
    durable_directories: set[str]
    pending_entries: list[Op]
    pending_data: dict[int, list[Op]]

    @classmethod
    def start(cls, layer: RecordingFileLayer) -> _Replay:
        return cls(
            volatile_entries=dict(layer.initial_entries),
            volatile_data={i: bytearray(d) for i, d in layer.initial_data.items()},
            volatile_directories=set(layer.initial_directories),
            durable_entries=dict(layer.initial_entries),
            durable_data=dict(layer.initial_data),
            durable_directories=set(layer.initial_directories),
            pending_entries=[],
            pending_data={},
        )

    def step(self, op: Op) -> None:
        if op.kind in (WRITE, MAP_WRITE, TRUNCATE):
            _apply_data(self.volatile_data.setdefault(op.inode, bytearray()), op)
            self.pending_data.setdefault(op.inode, []).append(op)
        elif op.kind == FSYNC:
            self.durable_data[op.inode] = bytes(self.volatile_data.get(op.inode, b""))
            self.pending_data.pop(op.inode, None)
        elif op.kind == MAP_FLUSH:
            pending = self.pending_data.get(op.inode, [])
            durable = bytearray(self.durable_data.get(op.inode, b""))
            for flushed in (p for p in pending if p.kind == MAP_WRITE):
                _apply_data(durable, flushed)
            self.durable_data[op.inode] = bytes(durable)
            self.pending_data[op.inode] = [p for p in pending if p.kind != MAP_WRITE]
        elif op.kind in (CREATE, RENAME, REMOVE, MKDIR):
            _apply_entry(self.volatile_entries, self.volatile_directories, op)
            self.pending_entries.append(op)
            if op.kind == CREATE:
                self.volatile_data.setdefault(op.inode, bytearray())
        elif op.kind == FSYNC_DIR:
            still_pending = []
            for entry_op in self.pending_entries:
                touched = {posixpath.dirname(entry_op.path), posixpath.dirname(entry_op.target)}
                if op.path in touched:
                    _apply_entry(self.durable_entries, self.durable_directories, entry_op)
                else:
                    still_pending.append(entry_op)
            self.pending_entries = still_pending


def _files(entries: dict[str, int], data: Mapping[int, bytes | bytearray]
           ) -> tuple[tuple[str, bytes], ...]:
    return tuple(sorted((path, bytes(data.get(inode, b""))) for path, inode in entries.items()))


def _torn(op: Op, before: bytes, length: int, fill: str, rng: random.Random) -> Op:
    """`op` with only its first `length` bytes written; the rest old bytes, zeros or garbage."""
    rest = len(op.data) - length
    if fill == "old":
        old = before[op.position + length : op.position + len(op.data)]
        tail = old + bytes(rest - len(old))
    elif fill == "zeros":
        tail = bytes(rest)
    else:
        tail = rng.randbytes(rest)
    return attrs.evolve(op, data=op.data[:length] + tail)


def _torn_variants(op: Op, before: bytes, torn_lengths: int | None, rng: random.Random
                   ) -> Iterator[tuple[str, Op]]:
    if op.kind not in (WRITE, MAP_WRITE) or not op.data:
        return
    lengths = list(range(len(op.data)))
    if torn_lengths is not None and len(lengths) > torn_lengths:
        lengths = sorted({0, len(op.data) - 1, *rng.sample(lengths, torn_lengths)})
    for length in lengths:
        for fill in TORN_FILLS:
            yield f"torn {op.kind} of {op.path} at {length}/{len(op.data)} ({fill})", \
                _torn(op, before, length, fill, rng)


def _units(replay: _Replay) -> list[tuple[str, list[Op]]]:
    """Independently lost or kept pieces of unsynced work: each write, truncate and directory
    change on its own, memory-mapped writes grouped by page."""
    units: list[tuple[str, list[Op]]] = []
    for _, ops in sorted(replay.pending_data.items()):
        pages: dict[int, list[Op]] = {}
        for op in ops:
            if op.kind == MAP_WRITE:
                pages.setdefault(op.position // PAGE_SIZE, []).append(op)
            else:
                units.append((f"{op.kind} {op.path}@{op.position}", [op]))
        for page, page_ops in sorted(pages.items()):
            units.append((f"page {page} of {page_ops[0].path}", page_ops))
    for op in replay.pending_entries:
        units.append((f"{op.kind} {op.path}{' -> ' + op.target if op.target else ''}", [op]))
    return units


def _reorder_state(replay: _Replay, kept: list[Op], in_flight: Op | None
                   ) -> tuple[tuple[tuple[str, bytes], ...], frozenset[str]]:
    entries = dict(replay.durable_entries)
    directories = set(replay.durable_directories)
    data = {inode: bytearray(d) for inode, d in replay.durable_data.items()}
    order = sorted(kept + ([in_flight] if in_flight is not None else []),
                   key=lambda op: op.value)
    for op in order:
        if op.kind in (WRITE, MAP_WRITE, TRUNCATE):
            _apply_data(data.setdefault(op.inode, bytearray()), op)
        else:
            _apply_entry(entries, directories, op)
    # A directory whose own entry did not survive takes everything in it along.
    reachable = {path: inode for path, inode in entries.items()
                 if posixpath.dirname(path) in directories}
    return _files(reachable, data), frozenset(directories)


def crash_states(layer: RecordingFileLayer, crash_point: int, mode: str, *,
                 rng: random.Random, torn_lengths: int | None = None,
                 subset_budget: int = 64) -> Iterator[CrashState]:
    """Disks a crash just before history[crash_point] could leave, in `mode`.

    `torn_lengths` bounds how many torn lengths of the in-flight write are tried (None: every
    byte); `subset_budget` bounds how many subsets of unsynced work `reorder` tries (all of them
    when there are few enough, else a seeded sample plus the extremes).
    """
    if mode not in MODES:
        raise ValueError(f"unknown crash mode {mode!r}; modes are {MODES}")
    history = layer.history
    replay = _Replay.start(layer)
    # Number ops by history position so subsets are applied in the order they happened.
    numbered = [attrs.evolve(op, value=i) if op.kind != "mark" else op
                for i, op in enumerate(history)]
    for op in numbered[:crash_point]:
        replay.step(op)
    in_flight = numbered[crash_point] if crash_point < len(numbered) else None
    if mode in ("kill", "ordered"):
        files = _files(replay.volatile_entries, replay.volatile_data)
        directories = frozenset(replay.volatile_directories)
        yield CrashState(mode, crash_point, "everything before the crash point", files,
                         directories)
        if mode == "ordered" and in_flight is not None:
            before = bytes(replay.volatile_data.get(in_flight.inode, b""))
            for choice, torn in _torn_variants(in_flight, before, torn_lengths, rng):
                data = {i: bytearray(d) for i, d in replay.volatile_data.items()}
                _apply_data(data.setdefault(torn.inode, bytearray()), torn)
                yield CrashState(mode, crash_point, choice,
                                 _files(replay.volatile_entries, data), directories)
        return
    units = _units(replay)
    subsets: list[tuple[int, ...]]
    if len(units) <= 6 and 2 ** len(units) <= subset_budget:
        subsets = [combo for size in range(len(units) + 1)
                   for combo in itertools.combinations(range(len(units)), size)]
    else:
        everything = tuple(range(len(units)))
        chosen = {(), everything}
        chosen.update(tuple(j for j in everything if j != i) for i in everything)
        chosen.update((i,) for i in everything)
        wanted = min(subset_budget + 2 * len(units) + 2, 2 ** len(units))
        while len(chosen) < wanted:
            chosen.add(tuple(i for i in everything if rng.random() < 0.5))
        subsets = sorted(chosen, key=lambda s: (len(s), s))
    for subset in subsets:
        kept = [op for i in subset for op in units[i][1]]
        names = ", ".join(units[i][0] for i in subset) or "nothing"
        files, directories = _reorder_state(replay, kept, None)
        yield CrashState(mode, crash_point, f"kept unsynced: {names}", files, directories)
    if in_flight is not None and in_flight.kind in (WRITE, MAP_WRITE):
        # The in-flight write torn on top of the durable state plus all unsynced work.
        kept = [op for _, ops in units for op in ops]
        before_files, _ = _reorder_state(replay, kept, None)
        by_path = dict(before_files)
        inode_paths = [p for p, i in replay.volatile_entries.items() if i == in_flight.inode]
        old = by_path.get(inode_paths[0], b"") if inode_paths else b""
        for choice, torn in _torn_variants(in_flight, old, torn_lengths, rng):
            files, directories = _reorder_state(replay, kept, torn)
            yield CrashState(mode, crash_point, choice, files, directories)
