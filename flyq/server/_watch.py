"""Long-poll wake-ups: a waiting Fetch sleeps until an append to one of its partitions (§6, FETCH-2).

Every append the server makes bumps its partition's counter and wakes the fetches waiting on that
partition. A fetch takes `snapshot(keys)` before it reads; if nothing it read satisfied it, it
awaits `wait(keys, snapshot, timeout)`, which returns at once if a counter moved in between, so an
append that landed while the fetch was reading is never missed. Runs on the event loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

__all__ = ["AppendWatch"]

_Key = tuple[str, int]


class AppendWatch:
    """Per-partition append counters and the futures of fetches waiting on them."""

    def __init__(self) -> None:
        self._counters: dict[_Key, int] = {}
        self._waiters: dict[_Key, set[asyncio.Future[None]]] = {}
        self._closed = False

    def close(self) -> None:
        """Wake every waiting fetch and make later waits return at once (the server stops)."""
        self._closed = True
        for waiting in self._waiters.values():
            for future in waiting:
                if not future.done():
                    future.set_result(None)
        self._waiters.clear()

    def snapshot(self, keys: Iterable[_Key]) -> tuple[int, ...]:
        """The counters of `keys` now."""
        return tuple(self._counters.get(key, 0) for key in keys)

    def appended(self, key: _Key) -> None:
        """Record an append to `key` and wake every fetch waiting on it."""
        self._counters[key] = self._counters.get(key, 0) + 1
        for future in self._waiters.pop(key, ()):
            if not future.done():
                future.set_result(None)

    async def wait(self, keys: tuple[_Key, ...], seen: tuple[int, ...], timeout: float) -> bool:
        """Wait up to `timeout` seconds for an append to one of `keys` after `seen` was taken;
        True if one happened."""
        if self.snapshot(keys) != seen:
            return True
        if timeout <= 0 or self._closed:
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._waiters.setdefault(key, set()).add(future)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
        finally:
            for key in keys:
                waiting = self._waiters.get(key)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._waiters[key]
        return self.snapshot(keys) != seen
