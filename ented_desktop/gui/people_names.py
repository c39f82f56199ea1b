"""People's names as the panel and the name dialog compare them."""

from __future__ import annotations


def clean_name(name: str) -> str:
    """A name as the library saves it: no spaces around it, single spaces inside."""
    return " ".join(name.split())


def same_name(a: str, b: str) -> bool:
    """Whether two names mean one person to the user: equal but for case and spaces. The one rule for the panel
    and the name dialog."""
    return clean_name(a).casefold() == clean_name(b).casefold()
