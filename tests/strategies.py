"""The shared Hypothesis strategies live in `flyq.testing`; this name is kept for older imports."""

from flyq.testing import (
    batches,
    byte_limits,
    invalid_limits,
    log_states,
    record_limits,
    timestamps,
)

__all__ = ["batches", "byte_limits", "invalid_limits", "log_states", "record_limits", "timestamps"]
