"""Generation-quality evaluation: `python -m bench.eval` (see docs/generation-quality.md)."""
