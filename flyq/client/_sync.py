"""`LoopThread`: an asyncio event loop running on its own daemon thread, for the synchronous
facades (spec/client.md: "the same core on its own event-loop thread"). The asyncio core is not
thread-safe, so every call into it is a coroutine run on that loop and waited for."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from flyq.errors import InvalidArgument

__all__ = ["LoopThread"]

_T = TypeVar("_T")


class LoopThread:
    """A started event loop on a daemon thread named `name`; `stop()` ends both (once)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        """Whether `stop()` has run."""
        return self.loop.is_closed()

    def submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Schedule `coroutine` on the loop; its outcome in a `concurrent.futures.Future`."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run `coroutine` on the loop and wait for its result (or raise its exception);
        `InvalidArgument` if called from the loop's own thread (a callback calling back into its
        facade), which would wait for itself forever."""
        try:
            self._refuse_own_thread()
        except InvalidArgument:
            coroutine.close()
            raise
        return self.submit(coroutine).result()

    def _refuse_own_thread(self) -> None:
        if threading.current_thread() is self._thread:
            raise InvalidArgument("a facade method", "called on its own event-loop thread",
                                  "a call from another thread (not from a callback)")

    def stop(self) -> None:
        """Stop the loop, join the thread and close the loop; a second call does nothing."""
        if self.loop.is_closed():
            return
        self._refuse_own_thread()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
