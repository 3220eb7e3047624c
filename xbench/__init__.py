"""xbench: zero-shot cross-lingual transfer benchmarks for multilingual encoders."""

__version__ = "0.1.0"
