"""Precog's performance suite: `python -m benchmarks` runs every benchmark module."""
