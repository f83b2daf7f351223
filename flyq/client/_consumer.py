"""`AsyncConsumer` and its synchronous facade `Consumer`: reading assigned partitions
(spec/client.md CLIENT-20..29), or those a classic consumer group gives it (`subscribe`,
CLIENT-30..39; the membership itself is `flyq.client._group`).

Rules of this module:
- Each assigned partition has a `position` (the offset of the next record `poll` hands out) and a
  `fetch_offset` (the offset the next Fetch asks for): records between the two are buffered,
  decoded (`buffer`) or as the fetch answers that brought them (`undecoded`, decoded only when
  the buffer runs dry, so the next Fetch goes out before the last answer is decoded). When a
  partition has neither, the position is the fetch offset, so control records and records
  below the requested offset, which are never buffered, are stepped over.
- A position is `None` until it is resolved: from the group's committed offset, else by the
  `auto_offset_reset` policy. Fetches only ask for partitions with a position.
- `seek*` and `assign` bump a partition's epoch and drop its buffer; a fetch answer is kept only
  for partitions whose epoch and fetch offset are those the fetch was sent with.
- At most one Fetch is in flight, on its own connection (a long poll must not hold up commits
  and ListOffsets, which go over the other); it is started as soon as some partition with a
  position has no decoded records and at most one undecoded answer, so the next records arrive
  while earlier ones are decoded and handed out.
- The assignment is the key set of `_partitions`, changed only by `_set_assignment`: `assign`
  calls it, and so do the group member's hooks (`_revoke_assignment`, `_install_assignment`) on
  every rebalance.
- While subscribed, records are handed out only while the member is `stable`; the revoke hook
  first waits for the commits in flight, so no commit of an old generation outlives it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import time
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, Final, NamedTuple, TypeVar

import attrs

from flyq.client._connection import DEFAULT_TIMEOUT, BrokerConnection, parse_bootstrap
from flyq.client._group import GroupMember, parse_strategies
from flyq.client._security import PLAINTEXT, Security
from flyq.client._sync import LoopThread
from flyq.codec.record_batch import (
    decode_batch_header,
    decode_batch_into,
    whole_batches_length,
)
from flyq.errors import FlyQError, InvalidArgument, error_from_code
from flyq.records import Header

__all__ = ["AsyncConsumer", "Consumer", "ConsumerRecord"]

_FETCH, _LIST_OFFSETS, _OFFSET_COMMIT, _OFFSET_FETCH = 1, 2, 8, 9
_FLYQ_READ_BACKWARD = 30000
_READ_BACKWARD_BYTES = 1024 * 1024
_OFFSET_OUT_OF_RANGE = 1
_LATEST, _EARLIEST = -1, -2
_FETCH_RETRY_S, _FETCH_RETRY_MAX_S = 0.1, 1.0  # backoff after a fetch failed retriably
RESET_POLICIES: Final = ("earliest", "latest", "error")
_POSITIVE: Final = ("max_poll_records", "session_timeout_ms", "heartbeat_interval_ms",
                    "max_poll_interval_ms")
TopicPartition = tuple[str, int]
# on_assign / on_revoke: a function or a coroutine function of the set of partitions.
RebalanceCallback = Callable[[set[TopicPartition]], object]
T = TypeVar("T")


class ConsumerRecord(NamedTuple):
    """One record as a consumer hands it out (a named tuple: one is built per record read,
    and a tuple is built in half the time of a frozen attrs class)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()


@attrs.define
class _Partition:
    """A partition of the assignment (see the module rules)."""

    position: int | None = None
    fetch_offset: int | None = None
    epoch: int = 0
    buffer: deque[ConsumerRecord] = attrs.field(factory=deque)
    # Fetch answers not decoded yet, oldest first: (records bytes, the fetch offset they were
    # asked from).
    undecoded: deque[tuple[memoryview | bytes, int]] = attrs.field(factory=deque)
    # Set by a fetch answer of OFFSET_OUT_OF_RANGE: the position is to be reset by the policy.
    out_of_range: bool = False

    def seek(self, offset: int | None) -> None:
        self.position = self.fetch_offset = offset
        self.epoch += 1
        self.buffer.clear()
        self.undecoded.clear()
        self.out_of_range = False


@attrs.frozen
class _FetchResult:
    """What one Fetch brought: records per partition, the fetch offset after them, errors."""

    sent: dict[TopicPartition, tuple[int, int]]  # partition -> (epoch, fetch offset) sent
    # partition -> (its records bytes, undecoded; the fetch offset after its whole batches)
    records: dict[TopicPartition, tuple[memoryview | bytes, int]]
    errors: dict[TopicPartition, int]


def _by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    topics: dict[str, list[int]] = {}
    for topic, number in partitions:
        topics.setdefault(topic, []).append(number)
    return topics


def _decode_records(topic: str, number: int, data: memoryview | bytes, fetch_offset: int
                    ) -> tuple[list[ConsumerRecord], int]:
    """The records at or after `fetch_offset` in the whole batches of `data` (control batches
    and batches wholly below `fetch_offset` skipped undecoded) and the fetch offset after the
    last whole batch (CLIENT-23)."""
    records: list[ConsumerRecord] = []
    end = whole_batches_length(data)
    position = 0
    next_offset = fetch_offset
    source = f"fetch {topic}-{number}"
    make = functools.partial(ConsumerRecord, topic, number)
    while position < end:
        header = decode_batch_header(data, position, source=source)
        if not header.is_control and header.next_offset > fetch_offset:
            first = len(records)
            decode_batch_into(data, position, header, make, records, source=source)
            if header.base_offset < fetch_offset:
                records[first:] = [record for record in records[first:]
                                   if record.offset >= fetch_offset]
        next_offset = max(next_offset, header.next_offset)
        position += header.size
    return records, next_offset


def _next_fetch_offset(data: memoryview | bytes, fetch_offset: int) -> int:
    """The fetch offset after the whole batches of `data`, from their headers alone (what
    `_decode_records` answers as its second value)."""
    end = whole_batches_length(data)
    position = 0
    next_offset = fetch_offset
    while position < end:
        header = decode_batch_header(data, position)
        next_offset = max(next_offset, header.next_offset)
        position += header.size
    return next_offset


class AsyncConsumer:
    """Reads the partitions given to `assign`, or those its group gives it after `subscribe`;
    `await AsyncConsumer.connect("HOST:PORT", ...)`, then `poll` or `async for`, and `close()`
    (or `async with`)."""

    def __init__(self, connection: BrokerConnection, fetch_connection: BrokerConnection, *,
                 group_id: str | None = None, enable_auto_commit: bool = True,
                 auto_commit_interval_ms: int = 5000, auto_offset_reset: str = "latest",
                 fetch_max_wait_ms: int = 500, fetch_min_bytes: int = 1,
                 fetch_max_bytes: int = 50 * 1024 * 1024,
                 max_partition_fetch_bytes: int = 1024 * 1024, max_poll_records: int = 500,
                 session_timeout_ms: int = 45000, heartbeat_interval_ms: int = 3000,
                 max_poll_interval_ms: int = 300000,
                 partition_assignment_strategy: str | Sequence[str] = "range,roundrobin"
                 ) -> None:
        if auto_offset_reset not in RESET_POLICIES:
            raise InvalidArgument("auto_offset_reset", auto_offset_reset,
                                  " | ".join(RESET_POLICIES))
        for name, value in (("auto_commit_interval_ms", auto_commit_interval_ms),
                            ("fetch_max_wait_ms", fetch_max_wait_ms),
                            ("fetch_min_bytes", fetch_min_bytes),
                            ("fetch_max_bytes", fetch_max_bytes),
                            ("max_partition_fetch_bytes", max_partition_fetch_bytes),
                            ("max_poll_records", max_poll_records),
                            ("session_timeout_ms", session_timeout_ms),
                            ("heartbeat_interval_ms", heartbeat_interval_ms),
                            ("max_poll_interval_ms", max_poll_interval_ms)):
            if not 0 <= value < 1 << 31 or (value < 1 and name in _POSITIVE):
                raise InvalidArgument(name, value,
                                      f"an int32 >= 0 (>= 1: {', '.join(_POSITIVE)})")
        if heartbeat_interval_ms >= session_timeout_ms:
            raise InvalidArgument("heartbeat_interval_ms", heartbeat_interval_ms,
                                  f"less than session_timeout_ms ({session_timeout_ms})")
        if fetch_max_wait_ms >= fetch_connection.timeout * 1000:
            # Else every long poll that finds nothing would time the fetch connection out.
            raise InvalidArgument("fetch_max_wait_ms", fetch_max_wait_ms,
                                  f"less than the request timeout ({fetch_connection.timeout} s)")
        self.connection = connection
        self.fetch_connection = fetch_connection
        self.group_id = group_id
        self.enable_auto_commit = enable_auto_commit and group_id is not None
        self.auto_commit_interval = auto_commit_interval_ms / 1000
        self.auto_offset_reset = auto_offset_reset
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_bytes = fetch_max_bytes
        self.max_partition_fetch_bytes = max_partition_fetch_bytes
        self.max_poll_records = max_poll_records
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.max_poll_interval_ms = max_poll_interval_ms
        self.partition_assignment_strategy = parse_strategies(partition_assignment_strategy)
        # Set by `connect`: where the coordinator may be reached over `connection` (CLIENT-31).
        self.bootstrap_address: tuple[str, int] | None = None
        # Opens a new connection to the bootstrap address (set by `connect`): a connection
        # found broken is replaced before its next use (CLIENT-29a).
        self._reopen: Callable[[], Awaitable[BrokerConnection]] | None = None
        self._control_lock = asyncio.Lock()
        self._fetch_retry_at = 0.0
        self._fetch_failures = 0
        self._member: GroupMember | None = None
        self._assigned_manually = False
        self._on_assign: RebalanceCallback | None = None
        self._on_revoke: RebalanceCallback | None = None
        self._callback_error: Exception | None = None
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._fetch: asyncio.Task[_FetchResult] | None = None
        self._next_auto_commit = time.monotonic() + self.auto_commit_interval
        self._commits: set[asyncio.Task[None]] = set()
        self._rotation = 0
        self._closed = False

    @classmethod
    async def connect(cls, bootstrap: str, *, client_id: str = "flyq-consumer",
                      timeout: float = DEFAULT_TIMEOUT, security: Security = PLAINTEXT,
                      **config: Any) -> AsyncConsumer:
        """Open the two connections to `bootstrap` (HOST:PORT) with `security` (CLIENT-56);
        `config` as `__init__`'s."""
        connection = await BrokerConnection.open(bootstrap, client_id=client_id, timeout=timeout,
                                                 security=security)
        try:
            fetch_connection = await BrokerConnection.open(bootstrap, client_id=client_id,
                                                           timeout=timeout, security=security)
        except BaseException:
            await connection.close()
            raise
        try:
            consumer = cls(connection, fetch_connection, **config)
            consumer.bootstrap_address = parse_bootstrap(bootstrap)
            consumer._reopen = functools.partial(BrokerConnection.open, bootstrap,
                                                 client_id=client_id, timeout=timeout,
                                                 security=security)
            return consumer
        except BaseException:
            await connection.close()
            await fetch_connection.close()
            raise

    # --- assignment and positions ---------------------------------------------------------------

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Read exactly `partitions` from now on (CLIENT-20); positions of partitions kept from
        the previous assignment stay, new ones are resolved on first use. Not while subscribed
        (CLIENT-30)."""
        if self._member is not None:
            raise InvalidArgument("assign", "while subscribed", "unsubscribe() first")
        wanted = list(partitions)
        self._set_assignment(wanted)
        self._assigned_manually = bool(wanted)

    def _set_assignment(self, partitions: Iterable[TopicPartition]) -> None:
        wanted = {(str(topic), int(number)) for topic, number in partitions}
        self._partitions = {tp: self._partitions.get(tp) or _Partition() for tp in sorted(wanted)}

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer reads."""
        return set(self._partitions)

    # --- group membership (CLIENT-30..39) -------------------------------------------------------

    def subscribe(self, topics: Iterable[str], *, on_assign: RebalanceCallback | None = None,
                  on_revoke: RebalanceCallback | None = None) -> None:
        """Join the consumer group `group_id` for `topics` (CLIENT-30): the group's
        rebalances give this consumer its partitions, in a background task. `on_assign` /
        `on_revoke` (functions or coroutine functions) get the set of partitions after each
        assignment / before each revocation. Subscribing again changes the topics (a rejoin if
        they differ) and the callbacks."""
        self._check_open()
        group = self._group()
        names = sorted(set(topics))
        if not names or not all(isinstance(name, str) and name for name in names):
            raise InvalidArgument("topics", names, "one or more topic names")
        if self._assigned_manually:
            raise InvalidArgument("subscribe", "while partitions are assigned",
                                  "unsubscribe() first")
        self._on_assign, self._on_revoke = on_assign, on_revoke
        if self._member is not None:
            self._member.update_topics(names)
            return
        self._member = GroupMember(
            group_id=group, topics=names, strategies=self.partition_assignment_strategy,
            session_timeout_ms=self.session_timeout_ms,
            rebalance_timeout_ms=self.max_poll_interval_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms, bootstrap=self._control,
            bootstrap_address=self.bootstrap_address, revoke=self._revoke_assignment,
            assign=self._install_assignment)
        self._member.start()

    def subscription(self) -> set[str]:
        """The topics subscribed to (empty when not subscribed)."""
        return set() if self._member is None else set(self._member.topics)

    async def unsubscribe(self) -> None:
        """Leave the group (revoking the partitions as on close, CLIENT-38), or drop the
        `assign()`ed partitions; afterwards either `assign` or `subscribe` may be used."""
        if self._member is not None:
            await self._member.stop(commit=True)  # its revoke hook commits as the member
            self._member = None
        self._set_assignment([])
        self._assigned_manually = False

    async def _revoke_assignment(self, commit: bool) -> None:
        """The member's revoke hook (CLIENT-33): commit the positions if `commit` and
        auto-commit is on, call on_revoke, drop the assignment; commits in flight are waited
        for first and last, so none of this generation outlives it."""
        partitions = set(self._partitions)
        await self._wait_for_commits()
        if commit and self.enable_auto_commit and partitions:
            with contextlib.suppress(FlyQError):  # as auto-commit's: nothing to raise it to
                await self.commit()
        if partitions:
            await self._call_back(self._on_revoke, partitions)
        await self._wait_for_commits()
        self._set_assignment([])

    async def _install_assignment(self, partitions: set[TopicPartition]) -> None:
        """The member's assign hook (CLIENT-32): install `partitions`, resolve their positions
        (an error there comes again from `poll`), call on_assign."""
        self._set_assignment(partitions)
        with contextlib.suppress(FlyQError):
            await self._resolve_positions()
        await self._call_back(self._on_assign, set(partitions))

    async def _call_back(self, callback: RebalanceCallback | None,
                         partitions: set[TopicPartition]) -> None:
        if callback is None:
            return
        try:
            result = callback(partitions)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # noqa: BLE001 - the user's error, raised by the next poll
            self._callback_error = self._callback_error or exc

    async def _wait_for_commits(self) -> None:
        if self._commits:
            await asyncio.gather(*self._commits, return_exceptions=True)

    def _raise_group_error(self) -> None:
        error = self._callback_error
        if error is not None:
            self._callback_error = None
            raise error
        if self._member is not None and self._member.error is not None:
            raise self._member.error

    def _partition(self, tp: TopicPartition) -> _Partition:
        state = self._partitions.get((tp[0], tp[1]))
        if state is None:
            raise InvalidArgument("partition", tp, "a partition of the assignment")
        return state

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """The next record of `tp` handed out is the one at `offset` (CLIENT-21)."""
        if offset < 0:
            raise InvalidArgument("offset", offset, ">= 0")
        self._partition(tp).seek(offset)

    async def seek_to_beginning(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Seek to each partition's log start offset (all assigned partitions by default)."""
        await self._seek_to(partitions, _EARLIEST)

    async def seek_to_end(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Seek to each partition's log end offset (all assigned partitions by default)."""
        await self._seek_to(partitions, _LATEST)

    async def seek_to_timestamp(self, tp: TopicPartition, timestamp_ms: int) -> None:
        """Seek to the first record with a timestamp at or after `timestamp_ms`, or to the log end
        offset if there is none (ListOffsets)."""
        if timestamp_ms < 0:
            raise InvalidArgument("timestamp_ms", timestamp_ms, ">= 0")
        await self._seek_to([tp], timestamp_ms)

    async def _seek_to(self, partitions: Iterable[TopicPartition] | None, timestamp: int) -> None:
        wanted = list(self._partitions if partitions is None else partitions)
        for tp in wanted:
            self._partition(tp)
        offsets = await self._list_offsets(wanted, timestamp)
        missing = [tp for tp, offset in offsets.items() if offset < 0]
        if missing:
            offsets.update(await self._list_offsets(missing, _LATEST))
        for tp, offset in offsets.items():
            self._partition(tp).seek(offset)

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record of `tp` that `poll` hands out (resolved first if it is
        not known yet: CLIENT-26)."""
        state = self._partition(tp)
        if state.position is None or state.out_of_range:
            await self._resolve_positions()
        assert state.position is not None  # resolved, or an error was raised
        return state.position

    async def _list_offsets(self, partitions: Iterable[TopicPartition], timestamp: int
                            ) -> dict[TopicPartition, int]:
        wanted = list(partitions)
        if not wanted:
            return {}
        body = (await (await self._control()).request(_LIST_OFFSETS, {
            "replica_id": -1, "isolation_level": 0, "topics": [
                {"name": topic, "partitions": [{"partition_index": n, "timestamp": timestamp}
                                               for n in numbers]}
                for topic, numbers in _by_topic(wanted).items()]}, (1, 7))).body
        offsets = {}
        for topic in body["topics"]:
            for partition in topic["partitions"]:
                where = (topic["name"], partition["partition_index"])
                if partition["error_code"]:
                    raise error_from_code(partition["error_code"],
                                          f"list offsets of {where[0]}-{where[1]}",
                                          topic=where[0], partition=where[1])
                offsets[where] = partition["offset"]
        return offsets

    async def _resolve_positions(self) -> None:
        """Give every partition without a position one: the committed offset (if any and not
        out of range), else `auto_offset_reset` (CLIENT-26, CLIENT-27)."""
        unknown = [tp for tp, state in self._partitions.items()
                   if state.position is None and not state.out_of_range]
        epochs = {tp: self._partitions[tp].epoch for tp in unknown}
        committed = await self._fetch_committed(unknown) if unknown and self.group_id else {}
        for tp, offset in committed.items():
            state = self._partitions.get(tp)
            if state is not None and state.epoch == epochs[tp]:  # a rebalance may have run
                state.seek(offset)
        to_reset = [tp for tp, state in self._partitions.items()
                    if state.position is None or state.out_of_range]
        if not to_reset:
            return
        if self.auto_offset_reset == "error":
            tp = to_reset[0]
            state = self._partitions[tp]
            why = ("fetch offset out of range" if state.out_of_range
                   else "no committed offset" if self.group_id else "no position")
            raise error_from_code(
                _OFFSET_OUT_OF_RANGE,
                f"{tp[0]}-{tp[1]}: {why} and auto_offset_reset is 'error'",
                topic=tp[0], partition=tp[1], offset=state.fetch_offset)
        epochs = {tp: self._partitions[tp].epoch for tp in to_reset}
        offsets = await self._list_offsets(
            to_reset, _EARLIEST if self.auto_offset_reset == "earliest" else _LATEST)
        for tp, offset in offsets.items():
            state_now = self._partitions.get(tp)
            if state_now is not None and state_now.epoch == epochs[tp]:  # not sought meanwhile
                state_now.seek(offset)

    # --- fetching -------------------------------------------------------------------------------

    async def _control(self) -> BrokerConnection:
        """The connection for everything but Fetch, reopened first if it broke."""
        if self.connection.failed and self._reopen is not None and not self._closed:
            async with self._control_lock:  # the group member may ask at the same time
                if self.connection.failed:
                    broken, self.connection = self.connection, await self._reopen()
                    await broken.close()
        return self.connection

    def _start_fetch(self) -> None:
        """Send a Fetch for every partition with a position and nothing buffered, unless one is
        in flight already."""
        if self._fetch is not None or self._closed or time.monotonic() < self._fetch_retry_at:
            return
        sent = {tp: (state.epoch, state.fetch_offset)
                for tp, state in self._partitions.items()
                if state.fetch_offset is not None and not state.buffer
                and len(state.undecoded) <= 1 and not state.out_of_range}
        if sent:
            self._fetch = asyncio.get_running_loop().create_task(self._fetch_records(sent))

    async def _fetch_records(self, sent: dict[TopicPartition, tuple[int, int]]) -> _FetchResult:
        if self.fetch_connection.failed and self._reopen is not None:
            broken, self.fetch_connection = self.fetch_connection, await self._reopen()
            await broken.close()
        body = (await self.fetch_connection.request(_FETCH, {
            "replica_id": -1, "max_wait_ms": self.fetch_max_wait_ms,
            "min_bytes": self.fetch_min_bytes, "max_bytes": self.fetch_max_bytes,
            "isolation_level": 0, "session_id": 0, "session_epoch": -1,
            "topics": [{"topic": topic, "partitions": [
                {"partition": number, "current_leader_epoch": -1,
                 "fetch_offset": sent[(topic, number)][1], "last_fetched_epoch": -1,
                 "log_start_offset": -1, "partition_max_bytes": self.max_partition_fetch_bytes}
                for number in numbers]} for topic, numbers in _by_topic(sent).items()],
            "forgotten_topics_data": [], "rack_id": ""}, (4, 12))).body
        if body["error_code"]:
            raise error_from_code(body["error_code"], "fetch")
        records: dict[TopicPartition, tuple[memoryview | bytes, int]] = {}
        errors: dict[TopicPartition, int] = {}
        for topic in body["responses"]:
            for partition in topic["partitions"]:
                tp = (topic["topic"], partition["partition_index"])
                if tp not in sent:
                    continue
                if partition["error_code"]:
                    errors[tp] = partition["error_code"]
                elif partition["records"]:
                    data = partition["records"]
                    records[tp] = (data, _next_fetch_offset(data, sent[tp][1]))
        return _FetchResult(sent, records, errors)

    def _absorb(self, result: _FetchResult) -> None:
        """Buffer what a finished fetch brought for partitions not sought since it was sent;
        OFFSET_OUT_OF_RANGE marks a partition for reset, any other error is raised (CLIENT-24,
        CLIENT-28) after the other partitions' records are buffered."""
        failure: FlyQError | None = None
        for tp, (epoch, fetch_offset) in result.sent.items():
            state = self._partitions.get(tp)
            if state is None or state.epoch != epoch or state.fetch_offset != fetch_offset:
                continue
            code = result.errors.get(tp)
            if code == _OFFSET_OUT_OF_RANGE:
                state.out_of_range = True
            elif code:
                failure = failure or error_from_code(code, f"fetch from {tp[0]}-{tp[1]}",
                                                     topic=tp[0], partition=tp[1])
            elif tp in result.records:
                data, state.fetch_offset = result.records[tp]
                state.undecoded.append((data, fetch_offset))
        if failure is not None:
            raise failure

    def _take(self, limit: int) -> list[ConsumerRecord]:
        """Up to `limit` buffered records, partitions taken in turn; positions advance past
        them (CLIENT-22)."""
        taken: list[ConsumerRecord] = []
        partitions = list(self._partitions.items())
        if not partitions:
            return taken
        self._rotation = (self._rotation + 1) % len(partitions)
        for tp, state in partitions[self._rotation:] + partitions[:self._rotation]:
            room = limit - len(taken)
            while room > 0 and not state.buffer and state.undecoded:
                # Decoded before it is dropped: a corrupt answer raises from every poll, as
                # it would if fetched again, rather than being stepped over.
                data, fetch_offset = state.undecoded[0]
                state.buffer.extend(_decode_records(tp[0], tp[1], data, fetch_offset)[0])
                state.undecoded.popleft()
            if state.buffer and room > 0:
                if len(state.buffer) <= room:
                    taken.extend(state.buffer)
                    state.buffer.clear()
                else:
                    popleft = state.buffer.popleft
                    taken.extend([popleft() for _ in range(room)])
                state.position = taken[-1].offset + 1
            if not state.buffer and not state.undecoded and state.fetch_offset is not None:
                state.position = state.fetch_offset
        return taken

    async def poll(self, timeout: float = 0.0, max_records: int | None = None
                   ) -> list[ConsumerRecord]:
        """Records of the assigned partitions, in offset order per partition: those buffered (with
        those of a fetch answered meanwhile), else those the next fetch brings within `timeout`
        seconds (else []). Starts the next fetch before returning (CLIENT-22). While subscribed,
        nothing is handed out during a rebalance, and the group's errors and those of the
        callbacks are raised here (CLIENT-36)."""
        self._check_open()
        limit = self.max_poll_records if max_records is None else max(max_records, 1)
        deadline = time.monotonic() + max(timeout, 0.0)
        self._maybe_auto_commit()
        while True:
            if self._member is not None:
                self._member.note_poll()  # a long poll keeps max_poll_interval_ms satisfied
            self._raise_group_error()
            if self._fetch is not None and self._fetch.done():
                task, self._fetch = self._fetch, None
                try:
                    result = task.result()
                except FlyQError as exc:
                    if not exc.retriable or self._reopen is None:
                        raise
                    # The broker is away (restarting, say): fetch again after a backoff,
                    # over a new connection, as Kafka's consumers do; poll itself goes on.
                    self._fetch_failures += 1
                    self._fetch_retry_at = time.monotonic() + min(
                        _FETCH_RETRY_S * 2 ** (self._fetch_failures - 1), _FETCH_RETRY_MAX_S)
                    continue
                self._fetch_failures = 0
                self._absorb(result)
                self._start_fetch()  # before `_take` decodes what this one brought
            if self._readable() and any(state.position is None or state.out_of_range
                                        for state in self._partitions.values()):
                await self._resolve_positions()
            # No await between this check and `_take`: a revocation cannot start in between.
            records = self._take(limit) if self._readable() else []
            self._start_fetch()
            if records:
                return records
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if self._member is not None and not self._member.stable:
                await self._member.wait_stable(remaining)
                continue
            if self._fetch is None:
                await asyncio.sleep(min(remaining, self.fetch_max_wait_ms / 1000))
                continue
            await asyncio.wait({self._fetch}, timeout=remaining)

    def _readable(self) -> bool:
        """Whether records may be handed out: not subscribed, or the member is stable."""
        return self._member is None or self._member.stable

    def __aiter__(self) -> AsyncIterator[ConsumerRecord]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ConsumerRecord]:
        while True:
            for record in await self.poll(self.fetch_max_wait_ms / 1000 + 1, max_records=1):
                yield record

    # --- reading backward (FlyQ's extension, EXT-2..3; CLIENT-42..43) -----------------------

    async def read_backward(self, tp: TopicPartition, from_offset: int | None = None,
                            max_records: int = 500, max_bytes: int = _READ_BACKWARD_BYTES
                            ) -> list[ConsumerRecord]:
        """Up to `max_records` records of `tp`, newest first: from `from_offset` down, or from
        the newest record (FlyqReadBackward, CLIENT-42). `tp` need not be assigned, and
        positions do not move. `max_bytes` bounds each request's payload (the first record of
        each is always answered)."""
        self._check_open()
        if max_records < 1 or max_bytes < 1:
            raise InvalidArgument("max_records/max_bytes", (max_records, max_bytes), ">= 1")
        if from_offset is not None and from_offset < 0:
            raise InvalidArgument("from_offset", from_offset, "an offset >= 0, or None")
        connection = await self._control()
        connection.version_for(_FLYQ_READ_BACKWARD)
        topic, number = tp
        records: list[ConsumerRecord] = []
        start = -1 if from_offset is None else from_offset
        while len(records) < max_records:
            body = (await connection.request(_FLYQ_READ_BACKWARD, {
                "topic": topic, "partition": number, "from_offset": start,
                "max_records": max_records - len(records), "max_bytes": max_bytes},
                (0, 0))).body
            if body["error_code"]:
                raise error_from_code(body["error_code"], body["error_message"]
                                      or f"read backward from {topic}-{number}",
                                      topic=topic, partition=number)
            records.extend(ConsumerRecord(
                topic, number, record["offset"], record["timestamp"], record["key"],
                record["value"], tuple((header["key"], header["value"])
                                       for header in record["headers"]))
                for record in body["records"])
            # EXT-3: fewer records than asked is a limit of the broker's, not the log start,
            # unless the last one answered is at the log start (or none was answered).
            if not body["records"] or records[-1].offset <= body["log_start_offset"]:
                break
            start = records[-1].offset - 1
        return records

    async def tail(self, tp: TopicPartition, n: int) -> list[ConsumerRecord]:
        """The last `n` records of `tp` (fewer if the log holds fewer), oldest first as `poll`
        hands them out (CLIENT-43): `read_backward` from the newest, reversed."""
        if n < 1:
            raise InvalidArgument("n", n, ">= 1")
        return (await self.read_backward(tp, None, n))[::-1]

    # --- commits --------------------------------------------------------------------------------

    def _group(self) -> str:
        if self.group_id is None:
            raise InvalidArgument("group_id", None, "a group id to commit or read commits")
        return self.group_id

    def _consumed(self) -> dict[TopicPartition, int]:
        """Positions of partitions with a position: the offsets after the records handed out."""
        return {tp: state.position for tp, state in self._partitions.items()
                if state.position is not None and not state.out_of_range}

    def _commit_identity(self) -> tuple[int, str]:
        """(generation id, member id) of an OffsetCommit: an `assign()` consumer's (-1, "")
        (CLIENT-25), a group member's own (CLIENT-34)."""
        return (-1, "") if self._member is None else self._member.commit_identity()

    async def _coordinator_connection(self) -> BrokerConnection:
        """Where OffsetCommit and OffsetFetch go: `connection` unless the group's coordinator
        is at another address than the bootstrap one (CLIENT-31)."""
        member = self._member
        if (member is None or member.coordinator is None
                or member.coordinator_address == self.bootstrap_address):
            return await self._control()
        return member.coordinator

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit `offsets`, or the positions of every assigned partition (CLIENT-25), with
        OffsetCommit as an `assign()` consumer commits (generation -1, no member id) or, while
        subscribed, with the member's generation and id (CLIENT-34)."""
        group = self._group()
        wanted = dict(self._consumed() if offsets is None else offsets)
        if wanted:
            await self._commit(group, wanted, self._commit_identity())

    async def _commit(self, group: str, wanted: Mapping[TopicPartition, int],
                      identity: tuple[int, str]) -> None:
        generation_id, member_id = identity
        body = (await (await self._coordinator_connection()).request(_OFFSET_COMMIT, {
            "group_id": group, "generation_id_or_member_epoch": generation_id,
            "member_id": member_id,
            "topics": [{"name": topic, "partitions": [
                {"partition_index": number, "committed_offset": wanted[(topic, number)],
                 "committed_metadata": ""} for number in numbers]}
                for topic, numbers in _by_topic(wanted).items()]}, (2, 8))).body
        for topic in body["topics"]:
            for partition in topic["partitions"]:
                if partition["error_code"]:
                    raise error_from_code(
                        partition["error_code"],
                        f"commit of {group} {topic['name']}-{partition['partition_index']}",
                        group=group, topic=topic["name"], partition=partition["partition_index"])

    def commit_async(self, offsets: Mapping[TopicPartition, int] | None = None,
                     callback: Callable[[FlyQError | None], object] | None = None
                     ) -> asyncio.Task[None]:
        """Start `commit(offsets)` (the offsets, and a member's generation, taken now) and
        return its task; `callback` gets None or the error. `close()` waits for commits in
        flight."""
        wanted = dict(self._consumed() if offsets is None else offsets)
        group = self._group()
        identity: tuple[int, str] | FlyQError
        try:
            identity = self._commit_identity()
        except FlyQError as exc:
            identity = exc

        async def run() -> None:
            try:
                if isinstance(identity, FlyQError):
                    raise identity
                if wanted:
                    await self._commit(group, wanted, identity)
            except FlyQError as exc:
                if callback is None:
                    raise
                callback(exc)
            else:
                if callback is not None:
                    callback(None)

        task = asyncio.get_running_loop().create_task(run())
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)
        return task

    def _maybe_auto_commit(self) -> None:
        if (self.enable_auto_commit and self._readable()
                and time.monotonic() >= self._next_auto_commit):
            self._next_auto_commit = time.monotonic() + self.auto_commit_interval
            if self._consumed():
                # A failed auto-commit is retried at the next interval; nothing to raise it to.
                self.commit_async(callback=lambda error: None)

    async def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset of `tp`, or None (OffsetFetch)."""
        return (await self._fetch_committed([(tp[0], tp[1])])).get((tp[0], tp[1]))

    async def _fetch_committed(self, partitions: Iterable[TopicPartition]
                               ) -> dict[TopicPartition, int]:
        group = self._group()
        body = (await (await self._coordinator_connection()).request(_OFFSET_FETCH, {
            "group_id": group, "topics": [{"name": topic, "partition_indexes": numbers}
                                          for topic, numbers in _by_topic(partitions).items()]},
            (2, 7))).body
        if body["error_code"]:
            raise error_from_code(body["error_code"], f"committed offsets of {group}",
                                  group=group)
        committed = {}
        for topic in body["topics"]:
            for partition in topic["partitions"]:
                where = (topic["name"], partition["partition_index"])
                if partition["error_code"]:
                    raise error_from_code(partition["error_code"],
                                          f"committed offset of {where}", group=group)
                if partition["committed_offset"] >= 0:
                    committed[where] = partition["committed_offset"]
        return committed

    # --- closing --------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidArgument("consumer", "closed", "an open consumer")

    async def close(self, *, commit: bool = True) -> None:
        """Leave the group if subscribed (CLIENT-38), stop fetching, commit positions if
        auto-commit is on (CLIENT-25) and `commit` is true, wait for commits in flight, close
        the connections."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._member is not None:  # revoke (committing first) and leave: CLIENT-38
                await self._member.stop(commit=commit)
                self._member = None
            if self._fetch is not None:
                self._fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, FlyQError):
                    await self._fetch
                self._fetch = None
            if self._commits:
                await asyncio.gather(*self._commits, return_exceptions=True)
            if commit and self.enable_auto_commit:
                await self.commit()
        finally:
            await self.fetch_connection.close()
            await self.connection.close()

    async def __aenter__(self) -> AsyncConsumer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class Consumer:
    """The synchronous facade of `AsyncConsumer`: the same methods, each run on the consumer's
    own event loop thread and waited for. `Consumer("HOST:PORT", group_id=..., ...)`."""

    def __init__(self, bootstrap: str, **config: Any) -> None:
        self._thread = LoopThread("flyq-consumer")
        try:
            self._consumer = self._run(AsyncConsumer.connect(bootstrap, **config))
        except BaseException:
            self._thread.stop()
            raise

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._thread.run(coroutine)

    def _call(self, function: Callable[[], T]) -> T:
        async def call() -> T:
            return function()
        return self._run(call())

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """See `AsyncConsumer.assign`."""
        wanted = list(partitions)
        self._call(lambda: self._consumer.assign(wanted))

    def assignment(self) -> set[TopicPartition]:
        """See `AsyncConsumer.assignment`."""
        return self._call(self._consumer.assignment)

    def subscribe(self, topics: Iterable[str], *, on_assign: RebalanceCallback | None = None,
                  on_revoke: RebalanceCallback | None = None) -> None:
        """See `AsyncConsumer.subscribe`. The callbacks run on the consumer's loop thread, so
        they must not call this facade's methods (that raises `InvalidArgument`)."""
        wanted = list(topics)
        self._call(lambda: self._consumer.subscribe(wanted, on_assign=on_assign,
                                                    on_revoke=on_revoke))

    def subscription(self) -> set[str]:
        """See `AsyncConsumer.subscription`."""
        return self._call(self._consumer.subscription)

    def unsubscribe(self) -> None:
        """See `AsyncConsumer.unsubscribe`."""
        self._run(self._consumer.unsubscribe())

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """See `AsyncConsumer.seek`."""
        self._call(lambda: self._consumer.seek(tp, offset))

    def seek_to_beginning(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """See `AsyncConsumer.seek_to_beginning`."""
        self._run(self._consumer.seek_to_beginning(None if partitions is None
                                                   else list(partitions)))

    def seek_to_end(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """See `AsyncConsumer.seek_to_end`."""
        self._run(self._consumer.seek_to_end(None if partitions is None else list(partitions)))

    def seek_to_timestamp(self, tp: TopicPartition, timestamp_ms: int) -> None:
        """See `AsyncConsumer.seek_to_timestamp`."""
        self._run(self._consumer.seek_to_timestamp(tp, timestamp_ms))

    def position(self, tp: TopicPartition) -> int:
        """See `AsyncConsumer.position`."""
        return self._run(self._consumer.position(tp))

    def poll(self, timeout: float = 0.0, max_records: int | None = None
             ) -> list[ConsumerRecord]:
        """See `AsyncConsumer.poll`."""
        return self._run(self._consumer.poll(timeout, max_records))

    def __iter__(self) -> Iterator[ConsumerRecord]:
        while True:
            yield from self.poll(self._consumer.fetch_max_wait_ms / 1000 + 1, max_records=1)

    def read_backward(self, tp: TopicPartition, from_offset: int | None = None,
                      max_records: int = 500, max_bytes: int = _READ_BACKWARD_BYTES
                      ) -> list[ConsumerRecord]:
        """See `AsyncConsumer.read_backward`."""
        return self._run(self._consumer.read_backward(tp, from_offset, max_records, max_bytes))

    def tail(self, tp: TopicPartition, n: int) -> list[ConsumerRecord]:
        """See `AsyncConsumer.tail`."""
        return self._run(self._consumer.tail(tp, n))

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """See `AsyncConsumer.commit`."""
        self._run(self._consumer.commit(offsets))

    def commit_async(self, offsets: Mapping[TopicPartition, int] | None = None,
                     callback: Callable[[FlyQError | None], object] | None = None
                     ) -> concurrent.futures.Future[None]:
        """See `AsyncConsumer.commit_async`; the callback runs on the consumer's loop thread."""
        async def start() -> Awaitable[None]:
            return self._consumer.commit_async(offsets, callback)
        task = self._run(start())
        return self._thread.submit(_await(task))

    def committed(self, tp: TopicPartition) -> int | None:
        """See `AsyncConsumer.committed`."""
        return self._run(self._consumer.committed(tp))

    def close(self, *, commit: bool = True) -> None:
        """See `AsyncConsumer.close`; then stops the loop thread."""
        if self._thread.closed:
            return
        try:
            self._run(self._consumer.close(commit=commit))
        finally:
            self._thread.stop()

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable
