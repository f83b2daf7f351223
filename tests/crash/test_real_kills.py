"""Real SIGKILLs and real torn files, recovered by the real code (spec/crash-model.md, mode `kill`).

The explorer rebuilds post-crash disks in memory; this suite checks the same promises on the
operating system's own files. A child process (tests/crash/kill_child.py) appends seeded batches
through `OsFileLayer` and is killed with SIGKILL at a seeded moment; the parent regenerates the
batches from the seed, reopens the log with the unmodified recovery and checks CM-1..CM-5, CM-7
and CM-10. Then files of a cleanly closed log are cut and overwritten directly (torn tails,
garbage, damaged sealed segments) and recovered the same way.

Every failure names its seed. `FLYQ_KILL_RUNS` (default 30) bounds the number of kills; the
moment a kill lands depends on scheduling, so a replay repeats the plan and the delay, not the
exact instant.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from flyq.codec.record_batch import iter_batch_headers
from flyq.errors import CorruptSegment, FlyQError
from flyq.impl import LogConfig, PartitionLog
from flyq.records import Record, StoredRecord
from tests.crash.kill_child import FIXED_CLOCK_MS, KillPlan, kill_plan, planned_batch

pytestmark = pytest.mark.crash

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("kill_child.py")
KILL_RUNS = int(os.environ.get("FLYQ_KILL_RUNS", "30"))
# Only a hung child is stopped by this; it is not a performance limit.
CHILD_TIMEOUT_S = 120.0
TAIL_SEEDS = (0, 1, 2)
DAMAGES_PER_SEED = 12
# Bytes of a batch not covered by its CRC nor by any framing check: partitionLeaderEpoch
# (spec/format.md §1.1, §1.3). Changing only these leaves a valid batch with the same records.
EPOCH_FIELD = range(12, 16)
RECORDS_START = 61


def _fixed_clock() -> int:
    return FIXED_CLOCK_MS


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A fresh directory, on tmpfs when there is one (only file contents matter here)."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    directory = Path(tempfile.mkdtemp(prefix="flyq-kill-", dir=base))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _stored(batches: list[list[Record]]) -> list[StoredRecord]:
    out: list[StoredRecord] = []
    for batch in batches:
        for record in batch:
            out.append(StoredRecord(len(out), record.timestamp, record.key, record.value,
                                    record.headers))
    return out


def _batches_up_to(seed: int, log_end: int) -> list[list[Record]]:
    """The seed's batches from the first while they start below `log_end`."""
    batches: list[list[Record]] = []
    end = 0
    while end < log_end:
        batch = planned_batch(seed, len(batches))
        batches.append(batch)
        end += len(batch)
    return batches


def _whole_batches_on_disk(directory: Path) -> tuple[int, list[str]]:
    """How many batches the `.log` files hold; problems if any holds other bytes (CM-4)."""
    count, problems = 0, []
    for path in sorted(directory.glob("*.log")):
        try:
            count += sum(1 for _ in iter_batch_headers(path.read_bytes(), verify_crc=True))
        except FlyQError as exc:
            problems.append(f"{path.name} holds bytes that are not whole valid batches: {exc}")
    return count, problems


def _check_recovered(directory: Path, seed: int, config: LogConfig, min_log_end: int
                     ) -> list[str]:
    """Reopen with the real recovery; every way the log breaks CM-1..CM-5, CM-7, CM-10."""
    try:
        return _recovered_problems(directory, seed, config, min_log_end)
    except FlyQError as exc:
        return [f"{type(exc).__name__} raised: {exc}"]


def _recovered_problems(directory: Path, seed: int, config: LogConfig, min_log_end: int
                        ) -> list[str]:
    problems: list[str] = []
    log = PartitionLog.open(str(directory), config, clock=_fixed_clock)
    with log:
        start, end = log.log_start_offset, log.log_end_offset
        batches = _batches_up_to(seed, end)
        planned = _stored(batches)
        if start != 0:
            problems.append(f"log starts at {start}, not 0")
        if len(planned) != end:
            problems.append(f"log ends at {end}, inside planned batch {len(batches) - 1}")
            batches = batches[:-1]
            planned = _stored(batches)
        if end < min_log_end:
            problems.append(f"log ends at {end} but the child had been told {min_log_end}")
        records = log.read(start)
        if records != planned:
            first = next((i for i, (a, b) in enumerate(zip(records, planned, strict=False))
                          if a != b), min(len(records), len(planned)))
            problems.append(f"records differ from the planned ones from offset {first} "
                            f"({len(records)} read, {len(planned)} planned)")
        problems.extend(log.index_mismatches())
        on_disk, stray = _whole_batches_on_disk(directory)
        problems.extend(stray)
        if not stray and on_disk != len(batches):
            problems.append(f"{on_disk} batches on disk, {len(batches)} readable")
        if problems:
            return problems
        following = planned_batch(seed, len(batches))
        if log.append(following).base_offset != end:
            problems.append(f"append after recovery did not start at {end}")
    with PartitionLog.open(str(directory), config, clock=_fixed_clock) as reopened:
        if not reopened.recovery_report.clean:
            problems.append("a clean close after recovery did not reopen cleanly")
        if reopened.read(0) != _stored([*batches, following]):
            problems.append("records after append, close and reopen differ from the plan")
        problems.extend(reopened.index_mismatches())
    return problems


# --- SIGKILL ---------------------------------------------------------------------------------------


@attrs.frozen
class _ChildRun:
    """What the killed child said before it died."""

    returncode: int
    saw_ready: bool
    appended: int
    durable: int
    stderr: str


def _run_and_kill(directory: Path, plan: KillPlan) -> _ChildRun:
    """Start the child, let it run `plan.kill_delay_s` past `ready`, SIGKILL it, read its lines."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    lines: list[bytes] = []
    ready = threading.Event()
    with tempfile.TemporaryFile() as stderr, subprocess.Popen(
        [sys.executable, str(CHILD), str(directory / "log"), str(plan.seed)],
        stdout=subprocess.PIPE, stderr=stderr, env=env,
    ) as child:
        stdout = child.stdout
        assert stdout is not None

        def pump() -> None:
            # Read continuously, so a full pipe never stalls the child before the kill.
            for line in stdout:
                lines.append(line)
                if line == b"ready\n":
                    ready.set()
            ready.set()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        ready.wait(CHILD_TIMEOUT_S)
        if child.poll() is None and ready.is_set():
            time.sleep(plan.kill_delay_s)
        child.kill()
        returncode = child.wait(CHILD_TIMEOUT_S)
        reader.join(CHILD_TIMEOUT_S)
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    appended = durable = 0
    # A line cut short by the kill has no newline and says nothing.
    for line in (raw.decode() for raw in lines if raw.endswith(b"\n")):
        kind, _, value = line.strip().partition(" ")
        if kind == "appended":
            appended = max(appended, int(value))
        elif kind in ("durable", "closed"):
            durable = max(durable, int(value))
    return _ChildRun(returncode, b"ready\n" in lines, appended, durable, errors)


@pytest.mark.parametrize("seed", range(KILL_RUNS), ids=lambda seed: f"seed{seed}")
def test_sigkill_loses_nothing_the_kernel_accepted(seed: int, scratch: Path) -> None:
    """CM-1..CM-5, CM-7, CM-10: after a real SIGKILL, recovery keeps every returned append."""
    plan = kill_plan(seed)
    run = _run_and_kill(scratch, plan)
    replay = (f"seed {seed} (kill {plan.kill_delay_s * 1000:.0f} ms after ready; replay: "
              f"FLYQ_KILL_RUNS={seed + 1} pytest '{Path(__file__).relative_to(REPO_ROOT)}"
              f"::test_sigkill_loses_nothing_the_kernel_accepted[seed{seed}]')")
    assert run.saw_ready, f"{replay}: the child never got ready: {run.stderr}"
    # Killed, or it ran out of batches first, which the check below handles as well.
    assert run.returncode in (-signal.SIGKILL, 0), f"{replay}: the child failed: {run.stderr}"
    problems = _check_recovered(scratch / "log", seed, plan.config,
                                max(run.appended, run.durable))
    assert problems == [], (f"{replay}: the child reported appended {run.appended}, durable "
                            f"{run.durable}; " + "; ".join(problems))


# --- torn tails and garbage in real files ---------------------------------------------------------

TAIL_CONFIG = LogConfig(segment_bytes=4_000, index_interval_bytes=150, index_max_bytes=96)


@attrs.frozen
class _Placed:
    """Where the test saw a batch land: segment file, position and size."""

    segment: str
    position: int
    size: int
    next_offset: int


def _write_closed_log(directory: Path, seed: int) -> list[_Placed]:
    """Append the seed's batches until the active segment holds several; close cleanly.

    Each batch's place is read from the files' sizes as the test appends, not from the log.
    """
    placed: list[_Placed] = []
    offset = 0
    with PartitionLog.open(str(directory), TAIL_CONFIG, clock=_fixed_clock) as log:
        while True:
            batch = planned_batch(seed, len(placed))
            log.append(batch)
            offset += len(batch)
            newest = max(directory.glob("*.log"))
            size = newest.stat().st_size
            previous = placed[-1] if placed else None
            position = previous.position + previous.size if (
                previous is not None and previous.segment == newest.name) else 0
            placed.append(_Placed(newest.name, position, size - position, offset))
            in_active = sum(1 for p in placed if p.segment == newest.name)
            if len(placed) >= 40 and in_active >= 5:
                return placed


@contextlib.contextmanager
def _naming(what: str) -> Iterator[None]:
    """Fail with `what` (which names the seed) if the log raises where no error was expected."""
    try:
        yield
    except FlyQError as exc:
        pytest.fail(f"{what}: {type(exc).__name__}: {exc}")


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    (target / "clean-shutdown").unlink()
    return target


def _survivors(placed: list[_Placed], segment: str, first_bad_position: int) -> list[_Placed]:
    """Batches that lie wholly before `first_bad_position` of `segment` (and all earlier ones)."""
    survivors = []
    for batch in placed:
        if batch.segment == segment and batch.position + batch.size > first_bad_position:
            break
        survivors.append(batch)
    return survivors


def _expect_prefix(directory: Path, seed: int, survivors: list[_Placed], bytes_cut: int,
                   what: str) -> None:
    """The reopened log is exactly the surviving batches, the rest cut (REC-3), indexes rebuilt."""
    end = survivors[-1].next_offset if survivors else 0
    with _naming(what), PartitionLog.open(str(directory), TAIL_CONFIG, clock=_fixed_clock) as log:
        report = log.recovery_report
        assert (log.log_end_offset, report.bytes_truncated) == (end, bytes_cut), what
        assert log.read(0) == _stored(_batches_up_to(seed, end)), what
        assert log.index_mismatches() == [], what
    problems = _check_recovered(directory, seed, TAIL_CONFIG, end)
    assert problems == [], f"{what}: " + "; ".join(problems)


@pytest.mark.parametrize("seed", TAIL_SEEDS, ids=lambda seed: f"seed{seed}")
def test_active_segment_cut_at_random_bytes_keeps_whole_batches(seed: int, scratch: Path) -> None:
    """CM-1, CM-2, CM-5, REC-3: an active `.log` cut anywhere keeps the batches before the cut."""
    placed = _write_closed_log(scratch / "closed", seed)
    active = placed[-1].segment
    size = placed[-1].position + placed[-1].size
    rng = random.Random(seed)
    cuts = sorted({0, size - 1, *(rng.randrange(size) for _ in range(DAMAGES_PER_SEED))})
    for number, cut in enumerate(cuts):
        directory = _copy(scratch / "closed", scratch / f"cut{number}")
        os.truncate(directory / active, cut)
        survivors = _survivors(placed, active, cut)
        kept = max((p.position + p.size for p in survivors if p.segment == active), default=0)
        _expect_prefix(directory, seed, survivors, cut - kept,
                       f"seed {seed}: {active} cut to {cut} of {size} bytes")


@pytest.mark.parametrize("seed", TAIL_SEEDS, ids=lambda seed: f"seed{seed}")
def test_garbage_over_active_segment_keeps_batches_before_it(seed: int, scratch: Path) -> None:
    """CM-1, CM-2, CM-4, CM-5, REC-3: garbage in the active `.log` cuts from the first hit batch."""
    placed = _write_closed_log(scratch / "closed", seed)
    active = placed[-1].segment
    size = placed[-1].position + placed[-1].size
    in_active = [p for p in placed if p.segment == active]
    rng = random.Random(seed)
    for number in range(DAMAGES_PER_SEED):
        start = rng.randrange(size)
        length = rng.choice([1, 4, rng.randint(1, 300)])
        directory = _copy(scratch / "closed", scratch / f"garbage{number}")
        path = directory / active
        data = bytearray(path.read_bytes())
        # Every byte in range changes (XOR with non-zero); past the end it is fresh garbage.
        for position in range(start, start + length):
            if position < size:
                data[position] ^= rng.randint(1, 255)
            else:
                data.append(rng.randrange(256))
        path.write_bytes(bytes(data))
        first_bad = next(
            (p.position for p in in_active
             if any(p.position <= at < p.position + p.size and at - p.position not in EPOCH_FIELD
                    for at in range(start, start + length))),
            size,
        )
        _expect_prefix(directory, seed, _survivors(placed, active, first_bad),
                       len(data) - first_bad,
                       f"seed {seed}: {active} bytes {start}..{start + length - 1} of {size} "
                       "overwritten")


@pytest.mark.parametrize("keep_marker", [True, False], ids=["clean", "unclean"])
@pytest.mark.parametrize("seed", TAIL_SEEDS, ids=lambda seed: f"seed{seed}")
def test_garbage_in_sealed_segment_is_reported_not_served(seed: int, keep_marker: bool,
                                                          scratch: Path) -> None:
    """REC-5, format.md §1.7: a damaged batch below the recovery point reads as CorruptSegment."""
    placed = _write_closed_log(scratch / "closed", seed)
    active = placed[-1].segment
    sealed = [i for i, p in enumerate(placed)
              if p.segment != active and p.size > RECORDS_START]
    rng = random.Random(seed)
    for number in range(DAMAGES_PER_SEED // 2):
        hit = rng.choice(sealed)
        batch = placed[hit]
        start = batch.position + rng.randrange(RECORDS_START, batch.size)
        length = rng.randint(1, batch.position + batch.size - start)
        directory = scratch / f"sealed{number}"
        shutil.copytree(scratch / "closed", directory)
        if not keep_marker:
            (directory / "clean-shutdown").unlink()
        path = directory / batch.segment
        data = bytearray(path.read_bytes())
        for position in range(start, start + length):
            data[position] ^= rng.randint(1, 255)
        path.write_bytes(bytes(data))
        what = f"seed {seed}: {batch.segment} bytes {start}..{start + length - 1} overwritten"
        first_offset = placed[hit - 1].next_offset if hit else 0
        before = _stored(_batches_up_to(seed, first_offset))
        everything = _stored(_batches_up_to(seed, placed[-1].next_offset))
        with _naming(what), PartitionLog.open(str(directory), TAIL_CONFIG,
                                              clock=_fixed_clock) as log:
            report = log.recovery_report
            assert report.clean == keep_marker, what
            assert report.bytes_truncated == 0, what
            with pytest.raises(CorruptSegment) as caught:
                log.read(0)
            assert caught.value.path == str(path), what
            assert batch.position <= caught.value.position < batch.position + batch.size, what
            with pytest.raises(CorruptSegment):
                log.read(first_offset)
            # Everything else still reads exactly as written.
            if first_offset:
                assert log.read(0, max_records=first_offset) == before, what
            after = batch.next_offset
            assert log.read(after) == everything[after:], what
            assert log.index_mismatches() == [], what
