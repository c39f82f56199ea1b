"""The freedesktop.org desktop entry (``ented-desktop.desktop``) and icon that put ENTED Desktop in the
application menu and in a file manager's "Open with" list for the photo formats it reads.

Written only when asked (``ented-desktop --install-desktop-entry``), into ``$XDG_DATA_HOME/applications`` and
``$XDG_DATA_HOME/icons/hicolor/scalable/apps`` (``~/.local/share`` when ``XDG_DATA_HOME`` is unset, as the XDG
Base Directory specification says); ``--uninstall-desktop-entry`` removes exactly those two files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ented_desktop.core import paths
from ented_desktop.core.atomic import write_bytes_atomic, write_text_atomic
from ented_desktop.core.errors import UserError
from ented_desktop.core.imageio import SUPPORTED_SUFFIXES

ENTRY_NAME = "ented-desktop.desktop"
ICON_NAME = "ented-desktop"
ICON_SOURCE = Path("icons") / "app.svg"  # under resources/
# The MIME type of each suffix core/imageio reads (shared-mime-info's names).
MIME_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg", ".jfif": "image/jpeg",
    ".png": "image/png", ".tif": "image/tiff", ".tiff": "image/tiff", ".webp": "image/webp", ".bmp": "image/bmp",
}
# Characters that make an Exec argument need quotes (Desktop Entry spec, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def data_home() -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset, empty or relative (the spec ignores those)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def entry_path(home: Path | None = None) -> Path:
    return (home or data_home()) / "applications" / ENTRY_NAME


def icon_path(home: Path | None = None) -> Path:
    return (home or data_home()) / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"


def mime_types() -> list[str]:
    """The MIME types of the photo formats the app reads, sorted, each once."""
    missing = sorted(SUPPORTED_SUFFIXES - MIME_TYPES.keys())
    if missing:  # a format added to imageio must be named here too
        raise RuntimeError(f"no MIME type for {', '.join(missing)}")
    return sorted({MIME_TYPES[s] for s in SUPPORTED_SUFFIXES})


def quote_exec_argument(argument: str) -> str:
    """One Exec argument: ``%`` doubled; in double quotes, with ``"``, `` ` ``, ``$`` and ``\\`` escaped, when it
    holds a reserved character; then each backslash doubled again, as Exec is a string whose escapes are read first."""
    text = argument.replace("%", "%%")
    if text and not set(text) & _RESERVED:
        return text
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in text)
    return f'"{quoted}"'.replace("\\", "\\\\")


def launch_command() -> list[str]:
    """How this installation starts the desktop app: the bundle's executable, else the ``ented-desktop``
    script beside the running Python (a venv or pip install), else ``python -m ented_desktop.gui.app``."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    script = Path(sys.executable).parent / ("ented-desktop.exe" if sys.platform == "win32" else "ented-desktop")
    if script.is_file():
        return [str(script.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "ented_desktop.gui.app"]


def entry_text(command: list[str], types: list[str]) -> str:
    """The .desktop file: ``command`` plus ``%F`` (the files or folders given) and the MIME types it opens."""
    exec_line = " ".join(quote_exec_argument(a) for a in command) + " %F"
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        f"Name={paths.APP_NAME}",
        "GenericName=Photo restoration",
        "Comment=Restore old family photos, face by face, with a photo of each person as a reference",
        f"Exec={exec_line}",
        f"Icon={ICON_NAME}",
        "Terminal=false",
        "Categories=Graphics;Photography;",
        f"MimeType={';'.join(types)};",
        "Keywords=photo;restore;face;old;family;",
        "",
    ])


def _refresh_menu_cache(applications: Path) -> None:
    """Let the desktop see a changed MIME association now (a missing tool only delays it to the next login)."""
    tool = shutil.which("update-desktop-database")
    if tool:
        subprocess.run([tool, "-q", str(applications)], check=False, capture_output=True, timeout=60)


def install(home: Path | None = None) -> list[Path]:
    """Write the desktop entry and the icon (replacing older ones); the paths written."""
    entry, icon = entry_path(home), icon_path(home)
    source = paths.resources_dir() / ICON_SOURCE
    try:
        svg = source.read_bytes()
    except OSError as exc:
        raise UserError(f"The application icon {source} cannot be read ({exc.strerror or exc}).") from None
    try:
        icon.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(icon, svg)
        entry.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(entry, entry_text(launch_command(), mime_types()))
    except OSError as exc:
        raise UserError(f"The desktop entry cannot be written to {exc.filename or entry.parent} "
                        f"({exc.strerror or exc}).") from None
    _refresh_menu_cache(entry.parent)
    return [entry, icon]


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove the desktop entry and the icon :func:`install` wrote; the paths removed (none when absent)."""
    removed = []
    for path in (entry_path(home), icon_path(home)):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UserError(f"{path} cannot be removed ({exc.strerror or exc}).") from None
        removed.append(path)
    if removed:
        _refresh_menu_cache(entry_path(home).parent)
    return removed
