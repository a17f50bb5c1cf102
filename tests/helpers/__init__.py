"""Helpers the tests share: running the real commands, and data files in real formats."""
