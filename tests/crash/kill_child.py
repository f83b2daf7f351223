"""The child of tests/crash/test_real_kills.py: appends seeded batches until it is SIGKILLed.

Run as `python tests/crash/kill_child.py DIR SEED` with the repository root on PYTHONPATH. It opens
a `PartitionLog` in DIR through the real file layer, prints `ready`, then appends the seed's
batches one by one, flushing every few and closing and reopening now and then. Each line goes out
(and stdout is flushed) only after the call it reports has returned:

- `appended E`: an append returned and `log_end_offset` is E;
- `durable D`: a flush, a roll or a close returned and `durable_offset` is D;
- `closed E` / `opened E`: a clean close, a reopen.

So every number the parent reads was already accepted by the kernel when the kill came. The
parent imports `kill_plan` and `planned_batch` from here to regenerate what was appended.
"""

from __future__ import annotations

import random
import sys

import attrs

from flyq.impl import LogConfig, PartitionLog
from flyq.records import Record

__all__ = ["FIXED_CLOCK_MS", "MAX_BATCHES", "KillPlan", "kill_plan", "main", "planned_batch"]

FIXED_CLOCK_MS = 1_700_000_000_000
# Far more than any kill delay lets the child append; a child that gets here closes and exits.
MAX_BATCHES = 200_000
# Now and then a batch large enough that its pwrite spans many pages and a kill can cut it short.
LARGE_VALUE_BYTES = (40_000, 160_000)


@attrs.frozen
class KillPlan:
    """Everything a seed decides apart from the batches themselves."""

    seed: int
    config: LogConfig
    flush_every: int
    reopen_every: int
    kill_delay_s: float


def kill_plan(seed: int) -> KillPlan:
    """The seed's log configuration, flush and reopen cadence, and when the parent kills."""
    rng = random.Random(seed)
    config = LogConfig(
        segment_bytes=rng.choice([1_500, 4_000, 16_384, 65_536]),
        index_interval_bytes=rng.choice([1, 100, 700]),
        index_max_bytes=rng.choice([48, 96, 1_024]),
    )
    # Frequent reopens for some seeds, so that kills land inside close and open as well.
    return KillPlan(seed, config, flush_every=rng.randint(1, 6),
                    reopen_every=rng.choice([3, 10, rng.randint(40, 400)]),
                    kill_delay_s=rng.uniform(0.0, 0.3))


def planned_batch(seed: int, index: int) -> list[Record]:
    """Batch number `index` of the seed's stream: a function of (seed, index) alone."""
    rng = random.Random(seed * 1_000_003 + index)
    records = []
    for _ in range(rng.choice([1, 1, 2, 3, 4])):
        if rng.random() < 0.04:
            value = rng.randbytes(rng.randint(*LARGE_VALUE_BYTES))
        else:
            value = rng.randbytes(rng.choice([0, 5, 40, 300]))
        records.append(Record(
            value=rng.choice([value, value, None]),
            key=rng.choice([None, b"", b"k", rng.randbytes(8)]),
            headers=(("h", rng.choice([None, b"v"])),) if rng.random() < 0.3 else (),
            timestamp=rng.choice([0, 5, index, rng.randrange(0, 1 << 40)]),
        ))
    return records


def _fixed_clock() -> int:
    return FIXED_CLOCK_MS


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(arguments: list[str]) -> None:
    """Append the seed's batches to the log in `arguments[0]`, reporting each step on stdout."""
    directory, seed = arguments[0], int(arguments[1])
    plan = kill_plan(seed)
    log = PartitionLog.open(directory, plan.config, clock=_fixed_clock)
    _say("ready")
    durable = log.durable_offset
    for index in range(MAX_BATCHES):
        log.append(planned_batch(seed, index))
        _say(f"appended {log.log_end_offset}")
        if (index + 1) % plan.flush_every == 0:
            log.flush()
        if (index + 1) % plan.reopen_every == 0:
            log.close()
            _say(f"closed {log.log_end_offset}")
            log = PartitionLog.open(directory, plan.config, clock=_fixed_clock)
            _say(f"opened {log.log_end_offset}")
        if log.durable_offset != durable:
            # A flush, a roll or a close made more durable.
            durable = log.durable_offset
            _say(f"durable {durable}")
    log.close()
    _say(f"closed {log.log_end_offset}")


if __name__ == "__main__":
    main(sys.argv[1:])
