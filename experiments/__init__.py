"""Experiments: one script per figure or table (run them as scripts; the library never imports this package)."""
