"""Benchmarks: each `bench/bench_*.py` module exposes `run() -> str`, a markdown section."""
