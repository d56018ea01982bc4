"""Helpers shared by the test suites and the benchmarks (tests never import other tests)."""
