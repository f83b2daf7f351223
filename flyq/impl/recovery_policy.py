"""`RecoveryPolicy` lives in `flyq.impl.recovery`; this name stays for existing imports."""

from flyq.impl.recovery import RecoveryPolicy

__all__ = ["RecoveryPolicy"]
