"""Checks of plain values that every layer shares: the one home of the integer rule."""

from __future__ import annotations

from typing import TypeGuard

__all__ = ["is_int"]


def is_int(value: object) -> TypeGuard[int]:
    """Whether `value` is an int and not a bool: Python's bool is an int subclass, but never a
    valid offset, count, size, epoch or time in FlyQ."""
    return isinstance(value, int) and not isinstance(value, bool)
