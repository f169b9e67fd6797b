"""Measured comparisons, run on demand (`make bench` or `python -m benchmarks [name ...]`)."""
