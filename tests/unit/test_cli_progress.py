"""The CLI's progress bar (flyq/cli/_progress.py, spec/client.md CLI-NET-9): drawn only on a
terminal, at most every REDRAW_MS, ended with a newline; silent elsewhere."""

from __future__ import annotations

import io
import sys

import pytest

from flyq.cli._progress import REDRAW_MS, progress


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class FakeClock:
    """Milliseconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def drawings(written: str) -> list[str]:
    """The successive drawings of the bar: what follows each `\\r`, trailing padding dropped."""
    assert written.startswith("\r")
    return [drawing.rstrip() for drawing in written.split("\r")[1:]]


def test_a_bar_with_a_total_is_drawn_throttled_and_ended_with_a_newline() -> None:
    """On a terminal: one drawing at the start, none for advances within REDRAW_MS of the last,
    one after; the end redraws the final count and writes one newline."""
    stream, clock = FakeTerminal(), FakeClock()
    with progress(10, "produce", stream, clock=clock) as bar:
        bar.advance()
        bar.advance(2)
        clock.now += REDRAW_MS - 1
        bar.advance()
        assert len(drawings(stream.getvalue())) == 1
        clock.now += 1
        bar.advance()
        clock.now += 1900
        bar.advance(5)
    written = stream.getvalue()
    assert written.endswith("\n") and written.count("\n") == 1
    first, second, last = drawings(written.removesuffix("\n"))
    assert first == "produce [--------------------] 0/10 0 rec/s 0:00"
    assert second == "produce [##########----------] 5/10 50 rec/s 0:00"
    assert last == "produce [####################] 10/10 5 rec/s 0:02"


def test_a_bar_without_a_total_shows_the_count() -> None:
    """With the total unknown the bar is the count, the rate and the elapsed time; a shorter
    drawing is padded with spaces to wipe the longer one before it."""
    stream, clock = FakeTerminal(), FakeClock()
    with progress(None, "consume", stream, clock=clock) as bar:
        clock.now += 1_000
        bar.advance(1_000_000)
        clock.now += 60_000
        bar.advance(220_000)
    written = stream.getvalue()
    assert drawings(written.removesuffix("\n")) == [
        "consume 0 0 rec/s 0:00", "consume 1000000 1,000,000 rec/s 0:01",
        "consume 1220000 20,000 rec/s 1:01"]
    assert "\rconsume 1220000 20,000 rec/s 1:01   \n" in written


def test_the_line_is_ended_when_the_run_fails() -> None:
    """An error inside the block still ends the bar's line, so `Error:` starts a line."""
    stream = FakeTerminal()
    with pytest.raises(RuntimeError), progress(3, "produce", stream, clock=FakeClock()) as bar:
        bar.advance()
        raise RuntimeError("broker gone")
    assert stream.getvalue().endswith("\n")


def test_a_line_longer_than_the_terminal_is_cut() -> None:
    """A drawing is cut to one column less than the terminal (80 where it cannot be asked), so
    it never wraps."""
    stream = FakeTerminal()
    with progress(None, "produce " + "t" * 100, stream, clock=FakeClock()):
        pass
    [drawing] = drawings(stream.getvalue().removesuffix("\n"))
    assert drawing == "produce " + "t" * 71


def test_nothing_is_written_where_stderr_is_not_a_terminal() -> None:
    """A stream that is not a terminal gets nothing, however many advances; force=False stays
    silent on a terminal and force=True draws on any stream."""
    plain, clock = io.StringIO(), FakeClock()
    with progress(100, "produce", plain, clock=clock) as bar:
        for _ in range(100):
            clock.now += REDRAW_MS
            bar.advance()
    assert plain.getvalue() == ""
    assert bar.count == 100
    terminal = FakeTerminal()
    with progress(1, "produce", terminal, force=False, clock=clock) as bar:
        bar.advance()
    assert terminal.getvalue() == ""
    forced = io.StringIO()
    with progress(1, "produce", forced, force=True, clock=clock) as bar:
        bar.advance()
    assert forced.getvalue().startswith("\r") and forced.getvalue().endswith("\n")


def test_the_default_stream_is_stderr_never_stdout(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a stream the bar goes to sys.stderr (as it is when the bar starts); stdout stays
    empty."""
    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    with progress(2, "consume", clock=FakeClock()) as bar:
        bar.advance(2)
    drawn = sys.stderr.getvalue()  # type: ignore[attr-defined]
    assert drawn.endswith("2/2 0 rec/s 0:00\n")
    assert capsys.readouterr().out == ""
