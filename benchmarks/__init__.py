"""Storage-engine benchmarks of flyq's partition log; run them with `python -m benchmarks.run`."""
