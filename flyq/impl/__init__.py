"""The disk implementation: file layer, segments, indexes, partition log, topics."""

from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileHandle, FileLayer, MappedFile, OsFileLayer
from flyq.impl.log import PartitionLog, RecoveryReport, SegmentInfo

__all__ = [
    "FileHandle",
    "FileLayer",
    "LogConfig",
    "MappedFile",
    "OsFileLayer",
    "PartitionLog",
    "RecoveryReport",
    "SegmentInfo",
]
