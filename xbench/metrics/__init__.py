"""Metrics, each a port of a benchmark's official scoring rule."""
