"""What the permissions of a file the application writes should be."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def has_usual_mode(path: Path) -> bool:
    """The permissions any new file gets (0o666 minus the umask), not a temporary file's 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
