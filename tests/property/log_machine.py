"""The lockstep log machine moved to `flyq.testing`; this name is kept for older imports."""

from flyq.testing import LogHarness, LogSettings, make_log_machine

__all__ = ["LogHarness", "LogSettings", "make_log_machine"]
