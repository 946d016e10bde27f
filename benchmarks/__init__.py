"""Benchmarks: scripts that print speed and memory figures (the library never imports this package)."""
