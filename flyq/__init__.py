"""FlyQ: a Kafka-inspired messaging system whose storage is checked against a reference model."""

__version__ = "0.1.0"
