"""The user's application settings: a versioned JSON file in the user data directory.

File history (each ``_migrate_vN`` turns version N into N + 1):

- v0, pre-release builds, no ``version`` key: ``use_gpu`` (bool), ``thumb_size``, ``jpeg_quality``,
  ``export_format``.
- v1: ``device`` replaced ``use_gpu``; ``engine``, ``model_dir`` and ``thumbnail_size`` (renamed from
  ``thumb_size``) appeared. Exported files were always named ``{stem}_restored``.
- v2: ``export_pattern`` names exported files.
- v3: ``export_format`` may be ``"tiff"``. The Export dialog keeps its last choice of format, JPEG
  quality and file name in ``export_format``, ``jpeg_quality`` and ``export_pattern``.
- v4 (current): the last choice of how to restore: ``restore_model`` (an installed model's name, or None for the
  default rule, best for each face), ``restore_fidelity`` (CodeFormer's w) and ``restore_background`` (None,
  ``"clean"`` or ``"enlarge"``).

A file written by a newer version is read as far as this version understands it. Saving over it keeps
its version number and everything in it except the options changed here, so going back to the newer
version loses nothing (not its new options, nor values of known options that only it accepts).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ented_desktop.core import paths
from ented_desktop.core.atomic import write_text_atomic

log = logging.getLogger(__name__)

SETTINGS_VERSION = 4
SETTINGS_FILE_NAME = "settings.json"

DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("torch", "onnx")
EXPORT_FORMATS = ("png", "jpeg", "tiff")
THUMBNAIL_SIZE_RANGE = (64, 1024)
RESTORE_BACKGROUNDS = (None, "clean", "enlarge")
DEFAULT_FIDELITY = 0.5  # CodeFormer's own default weight w
JPEG_QUALITY_RANGE = (1, 100)
EXPORT_PATTERN_FIELDS = ("stem", "album", "date", "version", "model")


@dataclass
class Settings:
    version: int = SETTINGS_VERSION
    device: str = "auto"
    engine: str = "torch"
    model_dir: str | None = None  # None: the default model directory (paths.model_dir())
    thumbnail_size: int = 256
    export_format: str = "png"
    jpeg_quality: int = 95
    export_pattern: str = "{stem}_restored"
    restore_model: str | None = None  # None: the default rule (ENTED, and a 512 px model for large faces)
    restore_fidelity: float = DEFAULT_FIDELITY
    restore_background: str | None = None


def default_settings_path() -> Path:
    return paths.user_data_dir() / SETTINGS_FILE_NAME


def _migrate_v0(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    use_gpu = data.pop("use_gpu", None)
    data["device"] = "auto" if use_gpu is None else ("cuda" if use_gpu else "cpu")
    if "thumb_size" in data:
        data["thumbnail_size"] = data.pop("thumb_size")
    return data


def _migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    # v1 had no choice of name; keep what those users got.
    return {**data, "export_pattern": "{stem}_restored"}


def _migrate_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Nothing to convert: v3 only accepts a new export format. The higher number is what makes a v2 program read
    # the file as a newer one and keep "tiff" when it saves, rather than replace it with its default.
    return dict(data)


def _migrate_v3(data: dict[str, Any]) -> dict[str, Any]:
    # Nothing to convert: v4 only adds options, whose defaults restore as v3 did.
    return dict(data)


# MIGRATIONS[n] turns a version-n dictionary into a version-(n + 1) one.
MIGRATIONS: list[Callable[[dict[str, Any]], dict[str, Any]]] = [_migrate_v0, _migrate_v1, _migrate_v2, _migrate_v3]
assert len(MIGRATIONS) == SETTINGS_VERSION


def export_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot name an exported file, or None when it can."""
    if not pattern.strip():
        return "The export name pattern is empty."
    if "/" in pattern or "\\" in pattern:
        return "The export name pattern must be a file name, not a path."
    try:
        pattern.format(**{name: "x" for name in EXPORT_PATTERN_FIELDS})
    except (KeyError, IndexError, ValueError):
        fields = ", ".join("{" + name + "}" for name in EXPORT_PATTERN_FIELDS)
        return f"The export name pattern may only use the fields {fields}."
    return None


def _checked(name: str, value: Any, default: Any) -> tuple[Any, str | None]:
    """``value`` if it is valid for setting ``name``, else ``default`` and the reason."""
    ok: bool
    if name == "device":
        ok = value in DEVICES
    elif name == "engine":
        ok = value in ENGINES
    elif name == "export_format":
        ok = value in EXPORT_FORMATS
    elif name == "model_dir":
        ok = value is None or (isinstance(value, str) and bool(value.strip()))
    elif name == "thumbnail_size":
        ok = type(value) is int and THUMBNAIL_SIZE_RANGE[0] <= value <= THUMBNAIL_SIZE_RANGE[1]
    elif name == "jpeg_quality":
        ok = type(value) is int and JPEG_QUALITY_RANGE[0] <= value <= JPEG_QUALITY_RANGE[1]
    elif name == "export_pattern":
        ok = isinstance(value, str) and export_pattern_problem(value) is None
    elif name == "restore_model":
        ok = value is None or (isinstance(value, str) and bool(value.strip()))
    elif name == "restore_fidelity":
        ok = type(value) in (int, float) and 0.0 <= value <= 1.0
    elif name == "restore_background":
        ok = value in RESTORE_BACKGROUNDS
    else:
        raise AssertionError(f"no check for setting {name}")
    if ok:
        return value, None
    return default, f"setting {name}={value!r} is not valid; using {default!r}"


def settings_from_dict(data: dict[str, Any]) -> tuple[Settings, list[str]]:
    """Migrate and validate a settings dictionary; invalid values fall back to their defaults."""
    warnings: list[str] = []
    version = data.get("version", 0)
    if type(version) is not int or version < 0:
        warnings.append(f"settings version {version!r} is not valid; reading the file as version 0")
        version = 0
    if version > SETTINGS_VERSION:
        warnings.append(
            f"settings were written by a newer version of the program (v{version}); "
            "options this version does not know are kept but not used"
        )
    for migrate in MIGRATIONS[version:]:
        data = migrate(data)
    defaults = Settings()
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        if field.name == "version" or field.name not in data:
            continue
        values[field.name], problem = _checked(field.name, data[field.name], getattr(defaults, field.name))
        if problem:
            warnings.append(problem)
    return Settings(**values), warnings


def read_settings(path: Path | None = None) -> tuple[Settings, list[str]]:
    """Settings from ``path`` plus the warnings worth showing the user.

    A missing file gives the defaults. A file that is not a settings file (not UTF-8, not a JSON object)
    is renamed to ``<name>.bad`` (kept for the user, out of the way of the next save) and the defaults
    are used. A UTF-8 byte order mark, which some editors add, is allowed.
    """
    path = Path(path) if path is not None else default_settings_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings(), []
    except OSError as exc:
        return Settings(), [f"settings file {path} cannot be read ({exc.strerror}); using the defaults"]
    try:
        data = json.loads(raw.decode("utf-8-sig"))  # UnicodeDecodeError is a ValueError
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        bad = path.with_name(path.name + ".bad")
        try:
            os.replace(path, bad)
            kept = f"kept as {bad}"
        except OSError as move_exc:
            kept = f"could not be renamed ({move_exc.strerror})"
        return Settings(), [f"settings file {path} is damaged ({exc}); {kept}; using the defaults"]
    return settings_from_dict(data)


def load_settings(path: Path | None = None) -> Settings:
    """Like :func:`read_settings`, logging the warnings instead of returning them."""
    settings, warnings = read_settings(path)
    for warning in warnings:
        log.warning(warning)
    return settings


def _newer_file_data(path: Path) -> dict[str, Any] | None:
    """What ``path`` holds when a newer version of the program wrote it, else None."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and type(data.get("version")) is int and data["version"] > SETTINGS_VERSION:
        return data
    return None


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write ``settings`` atomically (temporary file in the same folder, then ``os.replace``); over a
    newer version's file, only the options that differ from what was read from it are replaced."""
    path = Path(path) if path is not None else default_settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dataclasses.asdict(settings)
    data["version"] = SETTINGS_VERSION
    newer = _newer_file_data(path)
    if newer is not None:
        as_read, _ = settings_from_dict(newer)
        changed = {k: v for k, v in data.items() if k != "version" and v != getattr(as_read, k)}
        data = {**newer, **changed}
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
