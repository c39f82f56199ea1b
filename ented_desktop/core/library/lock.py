"""One program at a time per library: an operating-system lock on a file in the library folder.

Opening a library marks its running jobs interrupted and deletes temporary files, which would break the
jobs of a window that has it open already; the lock refuses the second opener instead. The operating
system drops the lock when the process ends, however it ends, so a crash never leaves it stale.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from ented_desktop.core.errors import UserError

LOCK_FILE_NAME = "library.lock"

if sys.platform == "win32":
    import msvcrt

    def _try_lock(f: BinaryIO) -> None:
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # the first byte; raises PermissionError when held

else:
    import fcntl

    def _try_lock(f: BinaryIO) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError when held


class LibraryInUseError(UserError):
    """The library is open in another window or program."""


class LibraryLock:
    """Held from creation until :meth:`release` (or until the process ends)."""

    def __init__(self, directory: Path) -> None:
        try:
            # A file object, not a bare descriptor: a lock forgotten unreleased still goes with the object.
            self._file: BinaryIO | None = open(directory / LOCK_FILE_NAME, "a+b")  # noqa: SIM115
        except OSError as exc:
            raise UserError(f'Cannot open the photo library "{directory}": {exc.strerror or exc}.') from None
        try:
            _try_lock(self._file)
        except (BlockingIOError, PermissionError):
            self.release()
            raise LibraryInUseError(
                f'The photo library "{directory}" is already open in another ENTED Desktop window. '
                "Close that window first, or use the one already open."
            ) from None
        except OSError as exc:
            self.release()
            raise UserError(f'Cannot lock the photo library "{directory}": {exc.strerror or exc}.') from None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the lock
            self._file = None
