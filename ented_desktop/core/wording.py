"""Small helpers for sentences shown to the user, shared by the core's messages and the app's."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "photo")`` -> "1 photo", ``count(3, "photo")`` -> "3 photos"."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
