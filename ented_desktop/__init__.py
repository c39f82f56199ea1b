"""ENTED Desktop: reference-based restoration of old family photos."""

__version__ = "0.1.0"
