"""Benchmarks (not part of the product). ``python bench/<name>.py --help``; see docs/benchmarks.md."""
