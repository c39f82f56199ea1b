"""Small helpers for the sentences the window shows."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "photo")`` -> "1 photo", ``count(3, "photo")`` -> "3 photos"."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
