"""A progress bar for long CLI runs, drawn on stderr (spec/client.md CLI-NET-9).

- It is drawn only on a terminal (`stream.isatty()`), unless forced either way; otherwise nothing
  at all is written, so piped and redirected runs see no control characters.
- It never touches stdout: what a command prints as data is the same with or without it.
- One line, redrawn in place with `\\r` at most every `REDRAW_MS`, and once more with the final
  count when the run ends, followed by a newline (also when the run ends with an error, so an
  `Error:` line starts on a line of its own). It is cut to the terminal's width: a line that
  wrapped could not be redrawn in place.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from flyq.clock import monotonic_ms

__all__ = ["REDRAW_MS", "Progress", "progress"]

REDRAW_MS = 100
_BAR_WIDTH = 20
_COLUMNS = 80  # the terminal's width where it cannot be asked


def _elapsed_text(elapsed_ms: int) -> str:
    seconds = elapsed_ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or _COLUMNS
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return _COLUMNS


class Progress:
    """`count` records done out of `total` (None: unknown); `advance` counts and maybe redraws."""

    def __init__(self, total: int | None, label: str, stream: TextIO | None, draw: bool,
                 clock: Callable[[], int]) -> None:
        self.total = total
        self.label = label
        self.count = 0
        self._stream = stream
        self._draw = draw
        self._clock = clock
        self._started_ms = clock()
        self._drawn_ms: int | None = None
        self._drawn_text = ""
        self._columns = _columns(stream) if stream is not None else _COLUMNS
        if draw:
            self._redraw(self._started_ms)

    def advance(self, n: int = 1) -> None:
        """Count `n` more records; redraw if the last drawing is at least `REDRAW_MS` old."""
        self.count += n
        if not self._draw:
            return
        now = self._clock()
        if self._drawn_ms is None or now - self._drawn_ms >= REDRAW_MS:
            self._redraw(now)

    def line(self, now_ms: int) -> str:
        """The bar as it reads at `now_ms`: label, [bar] count/total or count, rate, elapsed."""
        elapsed_ms = max(now_ms - self._started_ms, 0)
        rate = self.count * 1000 / elapsed_ms if elapsed_ms else 0.0
        if self.total is None:
            done = f"{self.count}"
        else:
            filled = _BAR_WIDTH if self.total <= 0 else min(
                _BAR_WIDTH, _BAR_WIDTH * self.count // self.total)
            done = f"[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {self.count}/{self.total}"
        return f"{self.label} {done} {rate:,.0f} rec/s {_elapsed_text(elapsed_ms)}"

    def _redraw(self, now: int) -> None:
        assert self._stream is not None
        text = self.line(now)[:self._columns - 1]
        self._drawn_ms = now
        if text == self._drawn_text:
            return
        # Padding with spaces wipes what is left of a longer previous drawing.
        self._stream.write("\r" + text.ljust(len(self._drawn_text)))
        self._stream.flush()
        self._drawn_text = text

    def finish(self) -> None:
        """Draw the final count and end the line."""
        if not self._draw:
            return
        assert self._stream is not None
        self._redraw(self._clock())
        self._stream.write("\n")
        self._stream.flush()
        self._draw = False


@contextmanager
def progress(total: int | None, label: str, stream: TextIO | None = None, *,
             force: bool | None = None,
             clock: Callable[[], int] = monotonic_ms) -> Iterator[Progress]:
    """A `Progress` of `total` records (None: unknown) drawn on `stream` (sys.stderr by default)
    when it is a terminal; `force=True` draws on any stream, `force=False` on none. `clock`
    gives milliseconds (flyq.clock.monotonic_ms)."""
    target = sys.stderr if stream is None else stream
    draw = target.isatty() if force is None else force
    bar = Progress(total, label, target if draw else None, draw, clock)
    try:
        yield bar
    finally:
        bar.finish()
