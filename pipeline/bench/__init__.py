"""Benchmark helpers (issue 7): the floor script and its runner."""
