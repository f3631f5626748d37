"""Benchmarks (not timed tests). Results go to bench/results/ (gitignored)."""
