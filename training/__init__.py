"""Training, fine-tuning and evaluation of ENTED. No Qt here."""

import ented_desktop  # noqa: F401  (sets the process environment before torch loads)
