"""What the window looked like when the program last ended: geometry, album, tab and the folders its file
dialogs last showed.

A JSON file beside the settings, kept apart from them because it is remembered, not chosen: a damaged or odd
file is simply ignored (value by value), never reported to the user.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ented_desktop.core import paths
from ented_desktop.core.atomic import write_text_atomic

log = logging.getLogger(__name__)

VIEW_STATE_FILE_NAME = "view_state.json"


@dataclass
class ViewState:
    geometry: tuple[int, int, int, int] | None = None  # x, y, width, height of the normal (unmaximised) window
    maximized: bool = False
    album_id: int | None = None  # None: all photos
    tab: int = 0
    folders: dict[str, str] = field(default_factory=dict)  # file dialog kind -> the folder it last showed


def default_view_state_path() -> Path:
    return paths.user_data_dir() / VIEW_STATE_FILE_NAME


def _is_int(value: Any) -> bool:
    return type(value) is int


def view_state_from_dict(data: dict[str, Any]) -> ViewState:
    """The valid values of ``data``; the others keep their defaults."""
    state = ViewState()
    geometry = data.get("geometry")
    if (isinstance(geometry, list) and len(geometry) == 4 and all(map(_is_int, geometry))
            and geometry[2] > 0 and geometry[3] > 0):
        state.geometry = (geometry[0], geometry[1], geometry[2], geometry[3])
    if isinstance(data.get("maximized"), bool):
        state.maximized = data["maximized"]
    if _is_int(data.get("album_id")):
        state.album_id = data["album_id"]
    if _is_int(data.get("tab")) and data["tab"] >= 0:
        state.tab = data["tab"]
    folders = data.get("folders")
    if isinstance(folders, dict):
        state.folders = {k: v for k, v in folders.items() if isinstance(k, str) and isinstance(v, str) and v}
    return state


def load_view_state(path: Path | None = None) -> ViewState:
    """The view state in ``path``; the defaults when it is missing or not readable."""
    path = Path(path) if path is not None else default_view_state_path()
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        return ViewState()
    except (OSError, ValueError) as exc:
        log.warning("view state %s not read (%s); using the defaults", path, exc)
        return ViewState()
    return view_state_from_dict(data) if isinstance(data, dict) else ViewState()


def save_view_state(state: ViewState, path: Path | None = None) -> None:
    path = Path(path) if path is not None else default_view_state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(dataclasses.asdict(state), indent=2) + "\n")


def start_folder(folders: dict[str, str], kind: str) -> str:
    """Where a file dialog of ``kind`` opens: the folder it last showed while that still exists, else home."""
    folder = folders.get(kind)
    return folder if folder and Path(folder).is_dir() else str(Path.home())
