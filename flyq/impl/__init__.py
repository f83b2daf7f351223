"""The disk implementation: file layer, segments, indexes, partition log, topics."""

from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileHandle, FileLayer, MappedFile, OsFileLayer
from flyq.impl.log import (
    IndexCheck,
    PartitionHealth,
    PartitionLog,
    RecoveryReport,
    RetentionResult,
    SegmentInfo,
)

__all__ = [
    "FileHandle",
    "FileLayer",
    "IndexCheck",
    "LogConfig",
    "MappedFile",
    "OsFileLayer",
    "PartitionHealth",
    "PartitionLog",
    "RecoveryReport",
    "RetentionResult",
    "SegmentInfo",
]
