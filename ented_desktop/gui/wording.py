"""Small helpers for the sentences the window shows (counting nouns is ented_desktop.core.wording.count)."""

from __future__ import annotations

SHARPNESS_TIP = "Sharpness is a score of the face's fine detail: higher is sharper."


def format_eta(seconds: float | None) -> str:
    """Time left, in words: "42 s left", "2 min 05 s left", "3 h 01 min left"."""
    if seconds is None or seconds < 0:
        return "estimating…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"
