"""Precog's benchmark suite: `precog bench` or `python -m benchmarks` (see runner.py)."""
