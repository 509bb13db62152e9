"""Fengqiao: a platform for grassroots governance."""

__version__ = "0.1.0"
