"""The topic-name rule (TOPIC-2): pure, so every layer that takes a topic name checks this one rule.

The partition log's directories, the topic store, the consumer-group offsets file and the Broker all
call `validate_topic_name`; none has a copy. Names the data directory reserves for itself (the
broker config file, the offset store) are refused one level up, by `flyq.broker.layout`.
"""

from __future__ import annotations

import string

from flyq.errors import InvalidTopicName

__all__ = ["MAX_TOPIC_NAME_LENGTH", "validate_topic_name"]

MAX_TOPIC_NAME_LENGTH = 249  # Kafka's limit: leaves room for "-<partition>" in a 255-byte name
_LEGAL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "._-")


def validate_topic_name(name: object) -> str:
    """Return `name` if it is a legal topic name, else raise `InvalidTopicName` naming the rule.

    1..249 characters from ASCII letters, digits, `.`, `_`, `-`, and not `.` or `..`: so a name is
    always exactly one path component.
    """
    if not isinstance(name, str):
        raise InvalidTopicName(repr(name), f"must be a str, got {type(name).__name__}")
    if not name:
        raise InvalidTopicName(name, "must not be empty")
    if name in (".", ".."):
        raise InvalidTopicName(name, "'.' and '..' are not allowed")
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise InvalidTopicName(
            name, f"is {len(name)} characters long, at most {MAX_TOPIC_NAME_LENGTH} are allowed"
        )
    for index, character in enumerate(name):
        if character not in _LEGAL_CHARACTERS:
            raise InvalidTopicName(
                name,
                f"character {character!r} at index {index} is not allowed: use only ASCII "
                "letters, digits, '.', '_' and '-'",
            )
    return name
